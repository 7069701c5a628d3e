"""A real PgBouncer on a free 127.0.0.1 port, in front of the shared Postgres on 127.0.0.1:5432.

``PgBouncer(pool_mode="transaction")`` (or ``"session"``) writes its own ini and auth file
into a temp dir, starts ``pgbouncer`` in the foreground and waits until it answers;
``stop()`` shuts it down and removes the dir. ``url_for(direct_url)`` turns a URL of the
real server into the same URL through the pooler. Stdlib + psycopg only, like runtime.py,
so a benchmark can import it too.

PgBouncer refuses to run as root, so as root it runs as the ``postgres`` user (the same
pattern as cluster.py). ``make pgbouncer`` installs it (Debian's package); a test module
calls ``require_pgbouncer()``, which skips when it is missing, except under CI
(``CI=true``), where a missing pgbouncer is a failure, never a silent skip.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from servers import free_port

POOL_MODES = ("transaction", "session")
#: Enough client connections for 50 threads, several client processes and their listeners.
MAX_CLIENT_CONN = 1000
#: Server connections per (database, user) pair. The shared server allows 100 in all.
DEFAULT_POOL_SIZE = 10


def pgbouncer_binary() -> str | None:
    found = shutil.which("pgbouncer")
    if found:
        return found
    for candidate in ("/usr/sbin/pgbouncer", "/usr/local/sbin/pgbouncer", "/usr/local/bin/pgbouncer"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def require_pgbouncer() -> str:
    """The pgbouncer binary; skip (or, with CI=true, fail) when it is not installed."""
    import pytest

    binary = pgbouncer_binary()
    if binary is None:
        reason = "pgbouncer is not installed (run `make pgbouncer`, or apt-get install pgbouncer)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; CI must run the PgBouncer tests, not skip them", pytrace=False)
        pytest.skip(reason)
    return binary


class PgBouncer:
    """One PgBouncer process, its own temp dir, ini and auth file."""

    def __init__(
        self,
        pool_mode: str = "transaction",
        *,
        server_host: str = "127.0.0.1",
        server_port: int = 5432,
        default_pool_size: int = DEFAULT_POOL_SIZE,
        max_client_conn: int = MAX_CLIENT_CONN,
        binary: str | None = None,
    ) -> None:
        if pool_mode not in POOL_MODES:
            raise ValueError(f"pool_mode must be one of {POOL_MODES}, not {pool_mode!r}")
        self.pool_mode = pool_mode
        self.server_host = server_host
        self.server_port = server_port
        self.default_pool_size = default_pool_size
        self.max_client_conn = max_client_conn
        self.binary = binary or pgbouncer_binary()
        if self.binary is None:
            raise RuntimeError("pgbouncer not found: run `make pgbouncer` (apt-get install pgbouncer)")
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix=f"dbos_client_pgbouncer_{pool_mode}_"))
        self.proc: subprocess.Popen[bytes] | None = None
        self._as_root = os.geteuid() == 0

    @property
    def ini_path(self) -> Path:
        return self.dir / "pgbouncer.ini"

    @property
    def log_path(self) -> Path:
        return self.dir / "pgbouncer.log"

    def url_for(self, direct_url: str) -> str:
        """The same database and user, through this PgBouncer."""
        params = conninfo_to_dict(direct_url)
        user = str(params.get("user", "postgres"))
        password = params.get("password")
        auth = user + (f":{password}" if password else "")
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{params['dbname']}"

    def _write_config(self) -> None:
        (self.dir / "userlist.txt").write_text('"postgres" ""\n')
        self.ini_path.write_text(
            "\n".join(
                [
                    "[databases]",
                    # Any database name, on the real server (the tests create databases as they go).
                    f"* = host={self.server_host} port={self.server_port}",
                    "",
                    "[pgbouncer]",
                    "listen_addr = 127.0.0.1",
                    f"listen_port = {self.port}",
                    "unix_socket_dir =",
                    f"pool_mode = {self.pool_mode}",
                    "auth_type = trust",
                    f"auth_file = {self.dir / 'userlist.txt'}",
                    "admin_users = postgres",
                    "stats_users = postgres",
                    f"max_client_conn = {self.max_client_conn}",
                    f"default_pool_size = {self.default_pool_size}",
                    # Startup parameters some drivers send that PgBouncer does not track
                    # (psycopg sends none of them; JDBC and SQLAlchemy dialects may).
                    "ignore_startup_parameters = extra_float_digits,options",
                    f"logfile = {self.log_path}",
                    f"pidfile = {self.dir / 'pgbouncer.pid'}",
                    "log_connections = 0",
                    "log_disconnections = 0",
                    "",
                ]
            )
        )
        if self._as_root:
            for path in (self.dir, *self.dir.iterdir()):
                shutil.chown(path, "postgres", "postgres")

    def start(self, timeout: float = 15) -> PgBouncer:
        if self.proc is not None:
            raise RuntimeError("pgbouncer already started")
        self._write_config()
        extra: dict[str, Any] = {"user": "postgres", "group": "postgres", "extra_groups": []} if self._as_root else {}
        self.proc = subprocess.Popen(
            [str(self.binary), str(self.ini_path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            cwd=self.dir,
            start_new_session=True,  # a Ctrl-C of the test run does not reach it first
            **extra,
        )
        deadline = time.monotonic() + timeout
        probe = f"postgresql://postgres@127.0.0.1:{self.port}/postgres?connect_timeout=2"
        while True:
            code = self.proc.poll()
            if code is not None:
                raise RuntimeError(f"pgbouncer exited with code {code}:\n{self.log_tail()}")
            try:
                with psycopg.connect(probe, autocommit=True) as conn:
                    conn.execute("SELECT 1")
                return self
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise TimeoutError(f"pgbouncer not answering after {timeout}s:\n{self.log_tail()}") from None
                time.sleep(0.05)

    def admin(self, command: str) -> list[dict[str, Any]]:
        """Run an admin console command (SHOW POOLS, SHOW SERVERS, ...) and return its rows."""
        url = f"postgresql://postgres@127.0.0.1:{self.port}/pgbouncer"
        # The console speaks only the simple query protocol, which ClientCursor uses.
        with psycopg.connect(url, autocommit=True, cursor_factory=psycopg.ClientCursor) as conn:
            cur = conn.execute(command)
            names = [d.name for d in cur.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def server_connections(self, database: str | None = None) -> int:
        """Server connections PgBouncer holds open (active, idle, used, tested, login)."""
        return sum(1 for row in self.admin("SHOW SERVERS") if database is None or row["database"] == database)

    def stop(self, grace: float = 10) -> int | None:
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            # 1.18: SIGTERM is an immediate shutdown. SIGINT (safe shutdown) would wait for
            # every session-mode client to let go of its server connection.
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return proc.returncode

    def destroy(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""

    def __enter__(self) -> PgBouncer:
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.destroy()
