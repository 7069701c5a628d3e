"""Shared fixtures. Interop fixtures start a real DBOS runtime per version on a fresh database.

Set DBOS_CLIENT_TEST_VERSIONS=3.4.0 to run one runtime only (both by default; CI runs both).
"""

from __future__ import annotations

import os
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

sys.path.insert(0, str(Path(__file__).parent / "interop"))

from runtime import VERSIONS, DBOSRuntime, create_database, drop_database, runtime_python  # noqa: E402

from dbos_client import DBOSClient  # noqa: E402

ADMIN_URL = os.environ.get("DBOS_CLIENT_TEST_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _versions() -> list[str]:
    wanted = os.environ.get("DBOS_CLIENT_TEST_VERSIONS")
    return [v.strip() for v in wanted.split(",")] if wanted else list(VERSIONS)


@dataclass
class Runtime:
    version: str
    url: str
    process: DBOSRuntime

    @property
    def is_v3(self) -> bool:
        return self.version.startswith("3.")


@pytest.fixture(scope="session", params=_versions())
def runtime(request: pytest.FixtureRequest) -> Iterator[Runtime]:
    """A real DBOS application (tests/interop/interop_app.py) of one version, on its own database."""
    version = request.param
    url = create_database(ADMIN_URL)
    proc = DBOSRuntime(runtime_python(version), url)
    try:
        proc.start()
        yield Runtime(version, url, proc)
    finally:
        proc.stop()
        drop_database(url, ADMIN_URL)


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
    return int(row[0])
