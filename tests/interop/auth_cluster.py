"""A private cluster where a role logs in with a password (scram-sha-256), optionally over TLS
only, with certificates from a CA that ``make_ca`` creates with ``openssl``.

pg_hba: ``postgres`` is trusted from 127.0.0.1 (the DBOS app and the test's admin
connections); the role ``app`` must give its password, and with ``tls=True`` only on a
``hostssl`` line, so that role cannot connect without TLS at all.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import psycopg
from cluster import PrivateCluster
from psycopg import sql

ROLE = "app"


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, text=True, timeout=60)


def make_ca(directory: Path, name: str) -> Path:
    """A self-signed CA in ``directory``: ``<name>.pem`` and ``<name>.key``. Returns the certificate."""
    directory.mkdir(parents=True, exist_ok=True)
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2", "-subj", f"/CN=dbos-client test {name}",
        cwd=directory,
    )  # fmt: skip
    return directory / f"{name}.pem"


def issue_server_cert(directory: Path, ca: Path, names: str = "DNS:localhost,IP:127.0.0.1") -> tuple[Path, Path]:
    """A server key and certificate (CN localhost, the given subjectAltNames) signed by ``ca``."""
    (directory / "san.cnf").write_text(f"subjectAltName = {names}\n")
    _openssl(
        "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost", cwd=directory,
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", "server.csr", "-CA", str(ca), "-CAkey", str(ca.with_suffix(".key")),
        "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "san.cnf", cwd=directory,
    )  # fmt: skip
    return directory / "server.crt", directory / "server.key"


class AuthCluster(PrivateCluster):
    """``PrivateCluster`` with a password role (and TLS if asked). ``ca`` is the CA that signed the server."""

    def __init__(self, password: str, *, tls: bool = False) -> None:
        super().__init__()
        self.password = password
        self.tls = tls
        self.certs = self.dir / "certs"
        self.ca: Path | None = None
        self._role_made = False

    def init(self) -> AuthCluster:
        super().init()
        conf = ["password_encryption = 'scram-sha-256'"]
        hba = [
            "local all all trust",
            "host all postgres 127.0.0.1/32 trust",
            f"{'hostssl' if self.tls else 'host'} all {ROLE} 127.0.0.1/32 scram-sha-256",
        ]
        if self.tls:
            self.ca = make_ca(self.certs, "ca")
            cert, key = issue_server_cert(self.certs, self.ca)
            if self._as_root:  # the server runs as postgres and insists on owning its key
                for path in (self.certs, cert, key):
                    shutil.chown(path, "postgres")
            key.chmod(0o600)
            conf += ["ssl = on", f"ssl_cert_file = '{cert}'", f"ssl_key_file = '{key}'"]
        with open(self.data / "postgresql.conf", "a") as f:
            f.write("\n".join(conf) + "\n")
        (self.data / "pg_hba.conf").write_text("\n".join(hba) + "\n")
        return self

    def __enter__(self) -> AuthCluster:
        self.init().start()
        return self

    def start(self) -> None:
        super().start()
        if not self._role_made:
            self.set_password(self.password, create=True)
            self._role_made = True

    def set_password(self, password: str, *, create: bool = False) -> None:
        """``CREATE ROLE`` or ``ALTER ROLE ... PASSWORD``: new sessions need the new password."""
        verb = "CREATE" if create else "ALTER"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL(verb + " ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(ROLE), sql.Literal(password))
            )
        self.password = password

    def grant(self, dbname: str) -> None:
        """Let the role use a DBOS system database (once the DBOS app created its schema)."""
        url = self.admin_url.rsplit("/", 1)[0] + f"/{dbname}"
        with psycopg.connect(url, autocommit=True) as conn:
            for statement in (
                "GRANT USAGE ON SCHEMA dbos TO {}",
                "GRANT ALL ON ALL TABLES IN SCHEMA dbos TO {}",
                "GRANT ALL ON ALL SEQUENCES IN SCHEMA dbos TO {}",
            ):
                conn.execute(sql.SQL(statement).format(sql.Identifier(ROLE)))

    def terminate(self, dbname: str) -> int:
        """Cut every session of the role: the next call must open a new connection."""
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = %s AND datname = %s",
                (ROLE, dbname),
            ).fetchone()
        return int(row[0]) if row else 0

    def url(self, dbname: str, *, host: str = "127.0.0.1", password: str | None = None, **params: str) -> str:
        """The role's URL (the password in it only if given), with libpq parameters."""
        auth = ROLE + (f":{password}" if password is not None else "")
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return f"postgresql://{auth}@{host}:{self.port}/{dbname}" + (f"?{query}" if query else "")
