"""Interop fixtures: a real DBOS runtime per version and per kind of system database
(Postgres, SQLite file), on a fresh database each.

Set DBOS_CLIENT_TEST_VERSIONS=3.4.0 to run one runtime version only, and
DBOS_CLIENT_TEST_BACKENDS=sqlite (or postgres) for one kind of database; CI runs all four.
A test that is about Postgres itself (LISTEN, connection counts, pg_stat_activity) is
marked ``postgres_only`` and skipped, with that reason, on SQLite.

Every interop test needs Postgres at ADMIN_URL (DBOS_CLIENT_TEST_ADMIN_URL): it is checked
once per session, and when it is unreachable the tests skip, saying why, except under
CI=true, where they fail: CI must never pass by skipping.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
from runtime import VERSIONS, DBOSRuntime, create_database, drop_database, runtime_python

from dbos_client import DBOSClient
from dbos_client._config import redact
from dbos_client._text import first_line

ADMIN_URL = os.environ.get("DBOS_CLIENT_TEST_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


BACKENDS = ("postgres", "sqlite")


@pytest.fixture(scope="session", autouse=True)
def _postgres_reachable() -> None:
    """Skip every interop test, once and with the reason, when Postgres is unreachable (fail under CI=true)."""
    try:
        psycopg.connect(ADMIN_URL, connect_timeout=2).close()
    except psycopg.Error as exc:
        reason = (
            f"Postgres is unreachable at {redact(ADMIN_URL)} ({first_line(exc)}): the interop suite needs it "
            "(start it, or point DBOS_CLIENT_TEST_ADMIN_URL at one)"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; CI=true, so this fails instead of skipping", pytrace=False)
        pytest.skip(reason)


def _versions() -> list[str]:
    wanted = os.environ.get("DBOS_CLIENT_TEST_VERSIONS")
    return [v.strip() for v in wanted.split(",")] if wanted else list(VERSIONS)


def _backends() -> list[str]:
    wanted = os.environ.get("DBOS_CLIENT_TEST_BACKENDS")
    return [b.strip() for b in wanted.split(",")] if wanted else list(BACKENDS)


@dataclass
class Runtime:
    version: str
    url: str
    process: DBOSRuntime
    backend: str = "postgres"

    @property
    def is_v3(self) -> bool:
        return self.version.startswith("3.")

    @property
    def is_sqlite(self) -> bool:
        return self.backend == "sqlite"


class SystemDatabase:
    """A fresh, empty system database of one kind; the DBOS runtime creates its tables."""

    def __init__(self, backend: str) -> None:
        self.backend = backend
        if backend == "sqlite":
            self._dir = tempfile.mkdtemp(prefix="dbos_client_sqlite_")
            self.url = f"sqlite:///{self._dir}/system.sqlite"  # an absolute path: four slashes in all
        else:
            self.url = create_database(ADMIN_URL)

    def drop(self) -> None:
        if self.backend == "sqlite":
            shutil.rmtree(self._dir, ignore_errors=True)
        else:
            drop_database(self.url, ADMIN_URL)


@pytest.fixture(scope="session", params=[(v, b) for b in _backends() for v in _versions()], ids=lambda p: f"{p[0]}-{p[1]}")
def runtime(request: pytest.FixtureRequest) -> Iterator[Runtime]:
    """A real DBOS application (tests/interop/interop_app.py) of one version, on its own database."""
    version, backend = request.param
    database = SystemDatabase(backend)
    proc = DBOSRuntime(runtime_python(version), database.url)
    try:
        proc.start()
        yield Runtime(version, database.url, proc, backend)
    finally:
        proc.stop()
        database.drop()


@pytest.fixture(autouse=True)
def _postgres_only(request: pytest.FixtureRequest) -> None:
    marker = request.node.get_closest_marker("postgres_only")
    if marker is None or "runtime" not in request.fixturenames:
        return
    if request.getfixturevalue("runtime").is_sqlite:
        pytest.skip(f"Postgres only: {marker.args[0] if marker.args else 'about Postgres itself'}")


@pytest.fixture
def client(runtime: Runtime) -> Iterator[DBOSClient]:
    with DBOSClient(system_database_url=runtime.url) as c:
        yield c


@pytest.fixture
def uid() -> str:
    """A short unique suffix, so tests sharing a runtime never collide."""
    return uuid.uuid4().hex[:10]


QUEUE = "interop_q"
#: No application polls this queue: workflows put there stay ENQUEUED.
UNPOLLED_QUEUE = "unpolled_q"


def terminate_backends(url: str, application_name: str) -> int:
    """Kill the server sessions of one client (by connection name) in the database of ``url``."""
    import psycopg

    dbname = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        row = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s AND application_name = %s",
            (dbname, application_name),
        ).fetchone()
    assert row is not None
    return int(row[0])
