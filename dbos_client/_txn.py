"""Running ops on one psycopg connection: a ``Transaction``'s body, or an op on the caller's.

The shells get a pooled connection, open the transaction and retry; these only run
statements on the connection they are given. ``_sqlite`` has the same for sqlite3.
An op run on a caller's connection is an ``_ops`` op (``Query`` and ``Transaction``
actions only): the shell resolves the schema's ``Queries`` first.
"""

from __future__ import annotations

import sys
from typing import Any, TypeVar

import psycopg

from ._ops import Op, Query, run_inline, run_inline_async

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
