"""A pytest plugin for DBOS's own test suite: every ``DBOSClient`` it makes is ours
(and, opted in, every ``DebouncerClient``, which drives a client).

Loaded with ``-p swap_client`` by ``tests/upstream/run.py``, before DBOS's conftest and
test modules are imported, so their ``from dbos import DBOSClient`` binds
``dbos_client.DBOSClient``. Nothing else of DBOS's tests changes: not an assertion, not
a fixture. Two things are adapted to this machine, not to the client:

* the Postgres databases get unique names (DBOS's conftest hard-codes ``dbostestpy``),
  so a run never touches another run's or anyone else's database, and are dropped after;
* only the client tests run: those that use the ``client`` fixture or name
  ``DBOSClient`` in their source.
"""

from __future__ import annotations

import inspect
import os
import sys
import uuid
from typing import Any

import dbos
import dbos._client
import dbos._debouncer
import pytest

import dbos_client

SUFFIX = uuid.uuid4().hex[:8]
USER_DB = f"dbostestpy_{SUFFIX}"
SYSTEM_DB = f"dbostestpy_{SUFFIX}_dbos_sys"


def _swap() -> None:
    dbos.DBOSClient = dbos_client.DBOSClient  # type: ignore[misc]
    dbos._client.DBOSClient = dbos_client.DBOSClient  # type: ignore[misc]
    # dbos.DebouncerClient reaches into dbos.DBOSClient's private system database. With
    # DBOS_CLIENT_UPSTREAM_DEBOUNCER=ours, a test debouncing from a client gets ours (same
    # constructor, our error classes). Opt-in: three of DBOS's tests pass with DBOS's own
    # DebouncerClient only because it refuses bad options (as DBOSException) before it
    # touches the client; ours refuses them as InvalidArgumentError.
    if os.environ.get("DBOS_CLIENT_UPSTREAM_DEBOUNCER") == "ours":
        dbos.DebouncerClient = dbos_client.DebouncerClient  # type: ignore[misc]
        dbos._debouncer.DebouncerClient = dbos_client.DebouncerClient  # type: ignore[misc]


_swap()


def _unique_urls() -> tuple[str, str]:
    password = os.environ.get("PGPASSWORD", "dbos")
    return (
        f"postgresql://postgres:{password}@localhost:5432/{USER_DB}",
        f"postgresql+psycopg://postgres:{password}@localhost:5432/{SYSTEM_DB}",
    )


def pytest_plugin_registered(plugin: Any) -> None:
    # DBOS's conftest reads its URLs through this one function, at fixture time.
    if getattr(plugin, "__name__", "").endswith("conftest") and hasattr(plugin, "postgres_urls"):
        plugin.postgres_urls = _unique_urls


def _is_client_test(item: pytest.Item) -> bool:
    if "client" in getattr(item, "fixturenames", ()):
        return True
    function = getattr(item, "function", None)
    try:
        return function is not None and "DBOSClient" in inspect.getsource(function)
    except (OSError, TypeError):
        return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    kept = [item for item in items if _is_client_test(item)]
    dropped = [item for item in items if not _is_client_test(item)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    items[:] = kept


_exit_status = 0


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    global _exit_status
    _exit_status = int(exitstatus)


def pytest_unconfigure(config: pytest.Config) -> None:
    _drop_databases()
    # Some of DBOS's tests leave workflow threads blocked (non-daemon executor workers),
    # and the interpreter would wait for them forever: the report is written, so leave.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_exit_status)


def _drop_databases() -> None:
    import psycopg
    from psycopg import sql

    admin = os.environ.get("DBOS_CLIENT_TEST_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    try:
        with psycopg.connect(admin, autocommit=True) as conn:
            for name in (USER_DB, SYSTEM_DB):
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    except psycopg.Error:
        pass  # no Postgres (a SQLite-only run): nothing was created there
