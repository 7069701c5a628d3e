"""Running ops on one psycopg connection: a ``Transaction``'s body, or an op on the caller's.

The shells get a pooled connection, open the transaction and retry; these only run
statements on the connection they are given. ``_sqlite`` has the same for sqlite3.
An op run on a caller's connection is an ``_ops`` op (``Query`` and ``Transaction``
actions only): the shell resolves the schema's ``Queries`` first.
"""

from __future__ import annotations

import inspect
import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.rows import tuple_row
from psycopg.sql import Composable
from psycopg.types.json import Jsonb

from ._ops import DB_ERRORS, ForeignKeyViolation, Op, Query, UniqueViolation, run_inline, run_inline_async
from .errors import InvalidArgumentError

T = TypeVar("T")


def fetch(conn: psycopg.Connection[Any], query: Query) -> Any:
    """One Query on ``conn``, its rows as ``query.fetch`` asks."""
    cur = conn.execute(query.statement, query.params)
    if query.fetch == "one":
        return cur.fetchone()
    if query.fetch == "all":
        return cur.fetchall()
    return None


async def fetch_async(conn: psycopg.AsyncConnection[Any], query: Query) -> Any:
    cur = await conn.execute(query.statement, query.params)
    if query.fetch == "one":
        return await cur.fetchone()
    if query.fetch == "all":
        return await cur.fetchall()
    return None


def _is_sqlite(conn: Any) -> bool:
    sqlite3 = sys.modules.get("sqlite3")  # a caller holding a sqlite3 connection has imported it
    return sqlite3 is not None and isinstance(conn, sqlite3.Connection)


def run_on_connection(conn: Any, op: Op[T]) -> T:
    """Drive ``op`` on a connection the caller owns (psycopg or sqlite3), inside the
    caller's transaction: no BEGIN or COMMIT of ours, and no retry (a failed statement
    is the caller's to handle; on Postgres it aborts the caller's transaction)."""
    if _is_sqlite(conn):
        from ._sqlite import run_on_connection as run_on_sqlite

        return run_on_sqlite(conn, op)
    if not isinstance(conn, psycopg.Connection):
        raise TypeError(f"expected a psycopg Connection or a sqlite3 Connection, got {type(conn).__name__}")
    return run_inline(op, lambda query: fetch(conn, query))


async def run_on_connection_async(conn: Any, op: Op[T]) -> T:
    """``run_on_connection`` for a psycopg ``AsyncConnection``; a sqlite3 connection is
    driven synchronously, on the caller's thread, as sqlite3 requires."""
    if _is_sqlite(conn):
        return run_on_connection(conn, op)
    if not isinstance(conn, psycopg.AsyncConnection):
        raise TypeError(f"expected a psycopg AsyncConnection or a sqlite3 Connection, got {type(conn).__name__}")
    return await run_inline_async(op, lambda query: fetch_async(conn, query))


# -- a caller's connection, whatever its kind ------------------------------------------
#
# The public ``*_in_transaction`` calls take what the caller writes with: a psycopg
# connection, a sqlite3 connection, or (a drop-in for ``dbos.DBOSClient``) a SQLAlchemy
# ``Connection`` or ``Session``. SQLAlchemy is never imported: its objects are
# recognised by their module and shape, and unwrapped to the DBAPI connection they hold,
# which is then used directly, in the transaction SQLAlchemy opened on it. A DBAPI
# connection of another driver (psycopg2; SQLAlchemy's adapters of async drivers under
# ``run_sync``) runs the same statements through its cursor.


def describe(conn: Any) -> str:
    """``module.Class`` of what the caller passed, for error messages (never its repr:
    a connection's repr may hold its DSN)."""
    kind = type(conn)
    return f"{kind.__module__}.{kind.__qualname__}"


def _from_sqlalchemy(obj: Any) -> bool:
    """One of SQLAlchemy's classes, or a subclass of one (an application's own Session)."""
    return any(kind.__module__.split(".", 1)[0] == "sqlalchemy" for kind in type(obj).__mro__)


def _method(obj: Any, name: str) -> bool:
    """Whether ``obj``'s class has a method ``name``, read without running any property
    (SQLAlchemy's ``AsyncConnection.connection`` raises when read)."""
    return callable(inspect.getattr_static(type(obj), name, None))


def _is_sa_async(obj: Any) -> bool:
    """SQLAlchemy's ``AsyncConnection`` or ``AsyncSession``."""
    return _from_sqlalchemy(obj) and _method(obj, "run_sync")


def _is_sa_session(obj: Any) -> bool:
    return _from_sqlalchemy(obj) and not _is_sa_async(obj) and _method(obj, "connection") and _method(obj, "get_bind")


def _is_sa_connection(obj: Any) -> bool:
    return (
        _from_sqlalchemy(obj) and not _is_sa_async(obj)
        and _method(obj, "get_execution_options") and _method(obj, "in_transaction")
    )  # fmt: skip


def _is_psycopg2(obj: Any) -> bool:
    """A psycopg2 connection (its class lives in ``psycopg2.extensions``, or a subclass)."""
    return any(kind.__module__.split(".", 1)[0] == "psycopg2" for kind in type(obj).__mro__) and _method(obj, "cursor")


def _psycopg2_ready(conn: Any, call: str) -> None:
    if conn.closed:
        raise InvalidArgumentError(f"{call}: the connection ({describe(conn)}) is closed")
    if conn.autocommit and conn.get_transaction_status() == 0:  # TRANSACTION_STATUS_IDLE
        raise InvalidArgumentError(
            f"{call}: the connection is in autocommit mode with no transaction open, so the write would "
            "commit at once; open one first"
        )


def _expected(call: str, asynchronous: bool) -> str:
    if asynchronous:
        return (
            f"{call} takes a psycopg AsyncConnection, a sqlite3 Connection, or a SQLAlchemy "
            "AsyncConnection or AsyncSession on the DBOS system database"
        )
    return (
        f"{call} takes a psycopg (or psycopg2) Connection, a sqlite3 Connection, or a SQLAlchemy "
        "Connection or Session on the DBOS system database"
    )


def _bad(conn: Any, call: str, asynchronous: bool, hint: str = "") -> InvalidArgumentError:
    return InvalidArgumentError(f"{_expected(call, asynchronous)}; got {describe(conn)}{hint}")


def _psycopg_ready(conn: Any, call: str) -> None:
    """The caller's psycopg connection must be in (or about to open) a transaction."""
    if conn.closed:
        raise InvalidArgumentError(f"{call}: the connection ({describe(conn)}) is closed")
    if conn.autocommit and conn.info.transaction_status == TransactionStatus.IDLE:
        raise InvalidArgumentError(
            f"{call}: the connection is in autocommit mode with no transaction open, so the write would "
            "commit at once; open one first (with conn.transaction(): ...)"
        )


def _sqlite_ready(conn: Any, call: str) -> None:
    """Open the transaction a legacy-mode sqlite3 connection would open before its first
    write, so it is the caller's to commit or roll back; refuse an autocommit connection
    with no transaction open. ``BEGIN IMMEDIATE`` (unless it asks for EXCLUSIVE): the write
    lock first, as our own driver takes it, since a deferred transaction that reads before
    it writes fails at once with "database is locked" when another writer holds the lock."""
    if conn.in_transaction:
        return
    autocommit = getattr(conn, "autocommit", -1)  # Python 3.12+; -1 is LEGACY_TRANSACTION_CONTROL
    if autocommit is True or (autocommit is not False and conn.isolation_level is None):
        raise InvalidArgumentError(
            f"{call}: the sqlite3 connection is in autocommit mode with no transaction open, so the write "
            "would commit at once; run BEGIN on it first"
        )
    exclusive = str(conn.isolation_level).upper() == "EXCLUSIVE"
    conn.execute("BEGIN EXCLUSIVE" if exclusive else "BEGIN IMMEDIATE")


def _sqlite_executor(conn: Any) -> Callable[[Query], Any]:
    from ._sqlite import run_statement

    wrapped = _CursorConnection(conn)
    return lambda query: run_statement(wrapped, query, "the caller's SQLite connection")  # type: ignore[arg-type]


class _CursorConnection:
    """A DBAPI connection (sqlite3's, or another driver's), shaped as ``_sqlite.run_statement``
    uses one: each statement on a fresh cursor that returns plain tuples, whatever row
    factory the caller set on its connection."""

    def __init__(self, dbapi: Any) -> None:
        self._dbapi = dbapi

    def execute(self, text: str, params: Any) -> Any:
        cur = self._dbapi.cursor()
        if hasattr(cur, "row_factory"):
            cur.row_factory = None
        cur.execute(text, params)
        return cur


def _fetch_tuples(conn: psycopg.Connection[Any], query: Query) -> Any:
    """``fetch`` on the caller's connection: tuples, whatever its row factory."""
    with conn.cursor(row_factory=tuple_row) as cur:
        cur.execute(query.statement, query.params)
        if query.fetch == "one":
            return cur.fetchone()
        return cur.fetchall() if query.fetch == "all" else None


async def _fetch_tuples_async(conn: psycopg.AsyncConnection[Any], query: Query) -> Any:
    async with conn.cursor(row_factory=tuple_row) as cur:
        await cur.execute(query.statement, query.params)
        if query.fetch == "one":
            return await cur.fetchone()
        return await cur.fetchall() if query.fetch == "all" else None


def _generic_pg_param(value: Any) -> Any:
    # Jsonb is psycopg 3's; another driver gets the JSON text, which Postgres casts.
    if isinstance(value, Jsonb):
        return json.dumps(value.obj)
    return value


def _generic_pg_executor(dbapi: Any) -> Callable[[Query], Any]:
    """Statements on a Postgres DBAPI connection of another driver (``format`` and
    ``pyformat`` placeholders, as psycopg 3's): constraint violations translated as the
    ops expect them, other errors are the driver's own."""

    def execute(query: Query) -> Any:
        statement = query.statement
        text = statement.as_string(None) if isinstance(statement, Composable) else statement
        params = query.params
        if isinstance(params, dict):
            params = {k: _generic_pg_param(v) for k, v in params.items()}
        elif params is not None:
            params = [_generic_pg_param(v) for v in params]
        cur = dbapi.cursor()
        try:
            cur.execute(text, params)
            if query.fetch == "none":
                return None
            rows = cur.fetchall()
        except DB_ERRORS:
            raise
        except Exception as exc:
            code = getattr(exc, "pgcode", None) or getattr(exc, "sqlstate", None)
            name = getattr(getattr(exc, "diag", None), "constraint_name", None)
            if code == "23505":
                raise UniqueViolation(str(exc), name) from exc
            if code == "23503":
                raise ForeignKeyViolation(str(exc), name) from exc
            raise
        finally:
            cur.close()
        if query.fetch == "one":
            return rows[0] if rows else None
        return rows

    return execute


def _sa_dbapi(conn: Any) -> Any:
    """The DBAPI connection under a SQLAlchemy Connection or Session, inside a transaction
    SQLAlchemy knows about (as its own ``execute`` would begin one), so the caller's
    commit or rollback covers our statements."""
    if _is_sa_session(conn):
        conn = conn.connection()  # begins the session's transaction if it has none
    if not conn.in_transaction():
        conn.begin()
    return conn.connection.dbapi_connection


def check_callers_connection(conn: Any, call: str, *, asynchronous: bool) -> None:
    """Refuse, before any I/O, what no ``*_in_transaction`` call of this shell can use."""
    if _is_sqlite(conn):
        return
    is_async = isinstance(conn, psycopg.AsyncConnection) or _is_sa_async(conn)
    is_sync = (
        isinstance(conn, psycopg.Connection) or _is_psycopg2(conn) or _is_sa_session(conn) or _is_sa_connection(conn)
    )
    if asynchronous and is_sync and not is_async:
        raise _bad(conn, call, True, " (a synchronous connection: use DBOSClient)")
    if not asynchronous and is_async:
        raise _bad(conn, call, False, " (an asynchronous connection: use AsyncDBOSClient, or SQLAlchemy's run_sync)")
    if not (is_async or is_sync):
        raise _bad(conn, call, asynchronous)


def callers_executor(conn: Any, dialect: str, call: str) -> Callable[[Query], Any]:
    """How to run one Query on the caller's (synchronous) connection, in its transaction;
    ``InvalidArgumentError`` naming what was passed if it is not one we can use."""
    if _is_sqlite(conn):
        _sqlite_ready(conn, call)
        return _sqlite_executor(conn)
    if isinstance(conn, psycopg.Connection):
        _psycopg_ready(conn, call)
        return lambda query: _fetch_tuples(conn, query)
    if _is_psycopg2(conn):
        if dialect == "sqlite":
            raise _bad(conn, call, False, " (this client's system database is a SQLite file)")
        _psycopg2_ready(conn, call)
        return _generic_pg_executor(conn)
    check_callers_connection(conn, call, asynchronous=False)
    dbapi = _sa_dbapi(conn)
    if _is_sqlite(dbapi):
        _sqlite_ready(dbapi, call)
        return _sqlite_executor(dbapi)
    if isinstance(dbapi, psycopg.Connection):
        return lambda query: _fetch_tuples(dbapi, query)
    if dialect == "sqlite":
        return _sqlite_executor(dbapi)
    return _generic_pg_executor(dbapi)


def run_on_callers_connection(conn: Any, op: Op[T], dialect: str, call: str) -> T:
    """Drive ``op`` on whatever connection the caller passed (see ``callers_executor``)."""
    try:
        execute = callers_executor(conn, dialect, call)
    except BaseException:
        op.close()
        raise
    return run_inline(op, execute)


async def run_on_callers_connection_async(conn: Any, op: Op[T], dialect: str, call: str) -> T:
    """``run_on_callers_connection`` for the asynchronous client: a psycopg AsyncConnection,
    a SQLAlchemy AsyncConnection or AsyncSession (run through its ``run_sync``), or a
    sqlite3 connection (driven on the caller's thread, as sqlite3 requires)."""
    if isinstance(conn, psycopg.AsyncConnection):
        try:
            _psycopg_ready(conn, call)
        except BaseException:
            op.close()
            raise
        return await run_inline_async(op, lambda query: _fetch_tuples_async(conn, query))
    if _is_sqlite(conn):
        return run_on_callers_connection(conn, op, dialect, call)
    if _is_sa_async(conn):
        result: T = await conn.run_sync(lambda sync: run_on_callers_connection(sync, op, dialect, call))
        return result
    op.close()
    check_callers_connection(conn, call, asynchronous=True)
    raise _bad(conn, call, True)  # unreachable: every kind it accepts is handled above
