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

DBOS's helper scripts that a test runs in a subprocess (``tests/client_worker.py``) get the
same database names, and DBOS's ``tests`` package on their path as a development install of
dbos has it (``sitecustomize.py`` beside this file, set up by ``pytest_configure``).

One private attribute is supplied, since DBOS's tests reach into ``dbos.DBOSClient``'s
internals for it: ``client._sys_db.engine``, a SQLAlchemy engine on the client's system
database (the in-transaction tests open the caller's connection or Session on it, and
count rows with it). It is built here, as DBOS builds its own (the placeholder schema
translated, SQLite's writers IMMEDIATE with foreign keys on), and never touches the
client: ours has no SQLAlchemy and no ``_sys_db``.

Exception classes are not touched. DBOS's tests import them from ``dbos._error`` and
often use one name for what the runtime raises (``DBOS.resume_workflow``) and what the
client raises (``client.resume_workflow``): with dbos loaded, each error dbos_client
raises is also dbos's class of the same name (and a database failure SQLAlchemy's), as it
is for a user who swaps only the client's import.
"""

from __future__ import annotations

import inspect
import json
import os
import sys
import uuid
from typing import Any

import dbos
import dbos._client
import dbos._debouncer
import pytest
from upstream_databases import database_names, unique_urls

import dbos_client

SUFFIX = uuid.uuid4().hex[:8]
USER_DB, SYSTEM_DB = database_names(SUFFIX)


def _swap() -> None:
    dbos.DBOSClient = dbos_client.DBOSClient  # type: ignore[misc]
    dbos._client.DBOSClient = dbos_client.DBOSClient  # type: ignore[misc]
    dbos_client.DBOSClient._sys_db = property(_system_database_view)  # type: ignore[attr-defined]
    # A user who swaps DBOSClient swaps DebouncerClient too: dbos's reaches into
    # dbos.DBOSClient's private system database and cannot drive ours. With
    # DBOS_CLIENT_UPSTREAM_DEBOUNCER=dbos the tests get dbos's own (three of them then pass
    # on dbos's code alone: it refuses bad options before it touches the client).
    if os.environ.get("DBOS_CLIENT_UPSTREAM_DEBOUNCER", "ours") == "ours":
        dbos.DebouncerClient = dbos_client.DebouncerClient  # type: ignore[misc]
        dbos._debouncer.DebouncerClient = dbos_client.DebouncerClient  # type: ignore[misc]

class _SystemDatabaseView:
    """What DBOS's tests use of ``DBOSClient._sys_db``: its ``engine``."""

    def __init__(self, url: str, schema: str | None) -> None:
        import sqlalchemy as sa
        from dbos._schemas import SCHEMA_PLACEHOLDER
        from sqlalchemy.pool import NullPool

        sqlite = url.startswith("sqlite")
        # NullPool: no connection outlives the test that opened it.
        engine = sa.create_engine(url, poolclass=NullPool)
        if sqlite:

            @sa.event.listens_for(engine, "connect")
            def _sqlite_like_dbos(dbapi_conn: Any, _record: Any) -> None:
                dbapi_conn.isolation_level = "IMMEDIATE"
                dbapi_conn.execute("PRAGMA busy_timeout=30000")
                dbapi_conn.execute("PRAGMA foreign_keys=ON")

        self.engine = engine.execution_options(
            schema_translate_map={SCHEMA_PLACEHOLDER: None if sqlite else (schema or "dbos")}
        )


def _system_database_view(client: Any) -> _SystemDatabaseView:
    view = client.__dict__.get("_upstream_sys_db")
    if view is None:
        settings = client._settings
        view = _SystemDatabaseView(settings["system_database_url"] or os.environ["DBOS_SYSTEM_DATABASE_URL"],
                                   settings["dbos_system_schema"])  # fmt: skip
        client.__dict__["_upstream_sys_db"] = view
    return view


_swap()


def _unique_urls() -> tuple[str, str]:
    return unique_urls(SUFFIX)


def pytest_configure(config: pytest.Config) -> None:
    # For DBOS's helper scripts this process starts (sitecustomize.py): set now, after this
    # process's own start-up, so only its subprocesses see it.
    os.environ["DBOS_CLIENT_UPSTREAM_CHILD"] = json.dumps({"root": str(config.rootpath), "suffix": SUFFIX})


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
