"""The Transaction action and the caller-owned-connection seam, on real Postgres and SQLite.

No DBOS runtime: a scratch table in a fresh database (or file) is enough, because the ops
here yield only Query and Transaction (no schema detection).
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import ADMIN_URL, _backends
from psycopg import sql
from runtime import create_database, drop_database

from dbos_client import AsyncDBOSClient, DBOSClient
from dbos_client._ops import Query, Transaction, UniqueViolation

INSERT = sql.SQL("INSERT INTO t (x) VALUES (%s)")
COUNT = sql.SQL("SELECT count(*) FROM t")


class Db:
    def __init__(self, backend: str) -> None:
        self.backend = backend
        if backend == "sqlite":
            self._dir = tempfile.mkdtemp(prefix="dbos_client_txn_")
            self.path = str(Path(self._dir) / "t.sqlite")
            self.url = f"sqlite:///{self.path}"
            with sqlite3.connect(self.path) as conn:
                conn.execute("CREATE TABLE t (x INTEGER PRIMARY KEY)")
        else:
            self.url = create_database(ADMIN_URL)
            with psycopg.connect(self.url, autocommit=True) as conn:
                conn.execute("CREATE TABLE t (x int PRIMARY KEY)")

    def rows(self) -> list[int]:
        if self.backend == "sqlite":
            with sqlite3.connect(self.path) as conn:
                return [r[0] for r in conn.execute("SELECT x FROM t ORDER BY x")]
        with psycopg.connect(self.url) as conn:
            return [r[0] for r in conn.execute("SELECT x FROM t ORDER BY x")]

    def connect(self) -> Any:
        if self.backend == "sqlite":
            return sqlite3.connect(self.path, isolation_level=None)
        return psycopg.connect(self.url)


@pytest.fixture(params=_backends())
def db(request: pytest.FixtureRequest) -> Iterator[Db]:
    database = Db(request.param)
    yield database
    if database.backend == "postgres":
        drop_database(database.url, ADMIN_URL)


def writes(first: int, fail: str | None = None) -> Any:
    """An op: one Transaction inserting first and first + 1; what the body raised comes back as text."""

    def body() -> Any:
        yield Query(INSERT, (first,), fetch="none")
        if fail == "raise":
            raise RuntimeError("body failed")
        yield Query(INSERT, (first if fail == "duplicate" else first + 1,), fetch="none")
        return (yield Query(COUNT, fetch="one"))[0]

    def op() -> Any:
        try:
            return (yield Transaction(body))
        except (RuntimeError, psycopg.errors.UniqueViolation, UniqueViolation) as exc:
            return f"rolled back: {type(exc).__name__}"

    return op()


def test_transaction_commits_or_rolls_back_all(db: Db) -> None:
    with DBOSClient(system_database_url=db.url) as client:
        assert client._run(writes(1)) == 2
        assert client._run(writes(5, "raise")) == "rolled back: RuntimeError"
        assert client._run(writes(7, "duplicate")) == "rolled back: UniqueViolation"
    assert db.rows() == [1, 2]


def test_async_transaction_commits_or_rolls_back_all(db: Db) -> None:
    async def main() -> None:
        async with AsyncDBOSClient(system_database_url=db.url) as client:
            assert await client._run(writes(1)) == 2
            assert await client._run(writes(5, "raise")) == "rolled back: RuntimeError"
            assert await client._run(writes(7, "duplicate")) == "rolled back: UniqueViolation"

    asyncio.run(main())
    assert db.rows() == [1, 2]


def test_an_op_on_the_callers_connection_is_in_the_callers_transaction(db: Db) -> None:
    client = DBOSClient(system_database_url=db.url)
    conn = db.connect()
    try:
        if db.backend == "sqlite":
            conn.execute("BEGIN")
        assert client._run_on_connection(writes(1), conn) == 2
        assert db.rows() == []  # nothing committed by us
        conn.rollback()
        assert db.rows() == []
        if db.backend == "sqlite":
            conn.execute("BEGIN")
        client._run_on_connection(writes(3), conn)
        conn.commit()
        assert db.rows() == [3, 4]
    finally:
        conn.close()
        client.close()


def test_an_op_on_the_callers_async_connection(db: Db) -> None:
    async def main() -> None:
        client = AsyncDBOSClient(system_database_url=db.url)
        if db.backend == "sqlite":
            conn = db.connect()
            conn.execute("BEGIN")
            assert await client._run_on_connection(writes(1), conn) == 2
            conn.commit()
            conn.close()
        else:
            async with await psycopg.AsyncConnection.connect(db.url) as aconn:
                assert await client._run_on_connection(writes(1), aconn) == 2
                assert db.rows() == []
                await aconn.commit()
        await client.close()

    asyncio.run(main())
    assert db.rows() == [1, 2]


def test_the_callers_connection_must_be_one_we_know() -> None:
    client = DBOSClient(system_database_url="sqlite:///nowhere.sqlite", lazy=True)
    with pytest.raises(TypeError, match="psycopg Connection or a sqlite3 Connection"):
        client._run_on_connection(writes(1), object())
