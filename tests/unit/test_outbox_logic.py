"""The transactional outbox without a server: validation, the savepoint's shape, and how a
caller's connection is recognised (SQLAlchemy's by duck typing: these stand-ins only look
like it, and SQLAlchemy is never imported). Against the real runtime: tests/interop/test_outbox.py.
"""

from __future__ import annotations

import asyncio
import inspect
import sqlite3
from collections.abc import Generator
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from dbos_client import AsyncDBOSClient, DBOSClient, InvalidArgumentError, _outbox, _txn
from dbos_client._calls import ClientCore
from dbos_client._ops import ForeignKeyViolation, Query, UniqueViolation, run_inline
from dbos_client._serialization import Codec

URL = "postgresql://u@127.0.0.1:1/db"  # nothing listens there: any I/O would fail
CALLS = ("enqueue_in_transaction", "send_in_transaction", "send_bulk_in_transaction")


def core() -> ClientCore:
    return ClientCore(codec=Codec(None), schema_name="dbos", database="db", application_name=None)


# -- SQLAlchemy look-alikes: the module and the shape, nothing else --------------------------


class FakeCursor:
    def __init__(self, dbapi: FakeDBAPI) -> None:
        self.dbapi = dbapi

    def execute(self, text: str, params: Any) -> None:
        self.dbapi.executed.append((text, params))
        if self.dbapi.error is not None:
            raise self.dbapi.error

    def fetchall(self) -> list[tuple[Any, ...]]:
        return [(1,)]

    def close(self) -> None:
        pass


class FakeDBAPI:
    """A DBAPI connection of some other driver (psycopg2's shape)."""

    def __init__(self, error: Exception | None = None) -> None:
        self.executed: list[tuple[str, Any]] = []
        self.error = error

    def cursor(self) -> FakeCursor:
        return FakeCursor(self)


class _Pooled:
    def __init__(self, dbapi: Any) -> None:
        self.dbapi_connection = dbapi
        self.driver_connection = dbapi


class Connection:
    def __init__(self, dbapi: Any, in_transaction: bool = False) -> None:
        self._pooled = _Pooled(dbapi)
        self._in_transaction = in_transaction
        self.begun = 0

    @property
    def connection(self) -> _Pooled:
        return self._pooled

    def get_execution_options(self) -> dict[str, Any]:
        return {}

    def in_transaction(self) -> bool:
        return self._in_transaction

    def begin(self) -> None:
        self.begun += 1
        self._in_transaction = True


class Session:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def connection(self) -> Connection:
        self._conn._in_transaction = True  # as Session.connection() autobegins
        return self._conn

    def get_bind(self) -> None:
        return None


class AsyncConnection:
    @property
    def connection(self) -> Any:  # SQLAlchemy's raises when read: never read it
        raise AssertionError("AsyncConnection.connection was read")

    def get_execution_options(self) -> dict[str, Any]:
        return {}

    def in_transaction(self) -> bool:
        return True

    async def run_sync(self, fn: Any) -> Any:
        return fn(Connection(FakeDBAPI(), in_transaction=True))


for _cls, _module in ((Connection, "sqlalchemy.engine.base"), (Session, "sqlalchemy.orm.session"),
                      (AsyncConnection, "sqlalchemy.ext.asyncio.engine")):  # fmt: skip
    _cls.__module__ = _module


class AppSession(Session):
    """An application's own subclass, in its own module: still a SQLAlchemy Session."""


def test_sqlalchemy_is_recognised_by_module_and_shape() -> None:
    conn = Connection(FakeDBAPI())
    assert _txn._is_sa_connection(conn) and not _txn._is_sa_session(conn)
    assert _txn._is_sa_session(Session(conn)) and _txn._is_sa_session(AppSession(conn))
    assert _txn._is_sa_async(AsyncConnection()) and not _txn._is_sa_connection(AsyncConnection())

    class LooksLikeIt:  # the right methods, but not SQLAlchemy's
        def connection(self) -> None: ...
        def get_bind(self) -> None: ...

    assert not _txn._is_sa_session(LooksLikeIt())


@pytest.mark.parametrize("bad", [object(), "postgresql://u@h/db", None, FakeDBAPI()])
def test_anything_else_is_refused_naming_what_was_passed(bad: Any) -> None:
    for asynchronous in (False, True):
        with pytest.raises(InvalidArgumentError, match=rf"got {type(bad).__module__}\.{type(bad).__qualname__}"):
            _txn.check_callers_connection(bad, "send_in_transaction", asynchronous=asynchronous)


def test_each_client_takes_its_own_kind_of_connection() -> None:
    sync_pg = psycopg.Connection.__new__(psycopg.Connection)
    async_pg = psycopg.AsyncConnection.__new__(psycopg.AsyncConnection)
    sa_sync, sa_async = Connection(FakeDBAPI()), AsyncConnection()
    for conn in (sync_pg, sa_sync, Session(sa_sync)):
        _txn.check_callers_connection(conn, "x", asynchronous=False)
        with pytest.raises(InvalidArgumentError, match="a synchronous connection: use DBOSClient"):
            _txn.check_callers_connection(conn, "x", asynchronous=True)
    for conn in (async_pg, sa_async):
        _txn.check_callers_connection(conn, "x", asynchronous=True)
        with pytest.raises(InvalidArgumentError, match="an asynchronous connection: use AsyncDBOSClient"):
            _txn.check_callers_connection(conn, "x", asynchronous=False)
    memory = sqlite3.connect(":memory:")
    _txn.check_callers_connection(memory, "x", asynchronous=False)
    _txn.check_callers_connection(memory, "x", asynchronous=True)  # driven on the caller's thread
    memory.close()


def test_a_sqlalchemy_connection_is_unwrapped_into_a_transaction_it_knows_about() -> None:
    dbapi = FakeDBAPI()
    conn = Connection(dbapi)
    execute = _txn.callers_executor(conn, "postgresql", "x")
    assert conn.begun == 1  # as SQLAlchemy's own execute would autobegin
    assert execute(Query("SELECT %s", (Jsonb({"a": 1}),), fetch="one")) == (1,)
    assert dbapi.executed == [("SELECT %s", ['{"a": 1}'])]  # another driver gets JSON text

    session_conn = Connection(FakeDBAPI())
    _txn.callers_executor(Session(session_conn), "postgresql", "x")
    assert session_conn.begun == 0  # Session.connection() began it


class Psycopg2Error(Exception):
    def __init__(self, pgcode: str, constraint: str) -> None:
        super().__init__(f"{pgcode} on {constraint}")
        self.pgcode = pgcode
        self.diag = type("Diag", (), {"constraint_name": constraint})()


def test_another_drivers_constraint_violations_reach_the_op_as_ours() -> None:
    for code, kind in (("23505", UniqueViolation), ("23503", ForeignKeyViolation)):
        execute = _txn.callers_executor(Connection(FakeDBAPI(Psycopg2Error(code, "uq_x"))), "postgresql", "x")
        with pytest.raises(kind) as info:
            execute(Query("INSERT", fetch="none"))
        assert info.value.constraint_name == "uq_x"
    execute = _txn.callers_executor(Connection(FakeDBAPI(RuntimeError("other"))), "postgresql", "x")
    with pytest.raises(RuntimeError):
        execute(Query("INSERT", fetch="none"))


def test_sqlite_opens_the_transaction_the_caller_would_have_opened() -> None:
    legacy = sqlite3.connect(":memory:")
    assert not legacy.in_transaction
    _txn.callers_executor(legacy, "sqlite", "x")
    assert legacy.in_transaction  # BEGIN IMMEDIATE: the caller's to commit or roll back
    legacy.rollback()
    autocommit = sqlite3.connect(":memory:", isolation_level=None)
    with pytest.raises(InvalidArgumentError, match="autocommit mode with no transaction open"):
        _txn.callers_executor(autocommit, "sqlite", "x")
    autocommit.execute("BEGIN")
    _txn.callers_executor(autocommit, "sqlite", "x")  # a transaction the caller opened: used as it is
    for conn in (legacy, autocommit):
        conn.close()


def test_sqlalchemy_async_connections_run_through_run_sync() -> None:
    def op() -> Generator[Any, Any, Any]:
        return (yield Query("SELECT 1", fetch="one"))

    result = asyncio.run(_txn.run_on_callers_connection_async(AsyncConnection(), op(), "postgresql", "x"))
    assert result == (1,)


# -- the savepoint ---------------------------------------------------------------------


def _statements(op: Any, fail_on: str | None = None) -> tuple[list[str], BaseException | None]:
    seen: list[str] = []

    def execute(query: Query) -> Any:
        seen.append(str(query.statement))
        if fail_on is not None and str(query.statement) == fail_on:
            raise UniqueViolation("taken", "uq_workflow_status_dedup_id")
        return None

    try:
        run_inline(op, execute)
    except Exception as exc:
        return seen, exc
    return seen, None


def test_the_write_runs_under_a_savepoint_released_after_success_and_failure() -> None:
    def body(fail: bool) -> Generator[Any, Any, str]:
        yield Query("WRITE", fetch="none")
        if fail:
            raise ValueError("refused")
        return "done"

    seen, error = _statements(_outbox.in_savepoint(body(False)))
    assert seen == ["SAVEPOINT dbos_client_outbox", "WRITE", "RELEASE SAVEPOINT dbos_client_outbox"]
    assert error is None
    seen, error = _statements(_outbox.in_savepoint(body(True)))
    assert seen == [
        "SAVEPOINT dbos_client_outbox", "WRITE",
        "ROLLBACK TO SAVEPOINT dbos_client_outbox", "RELEASE SAVEPOINT dbos_client_outbox",
    ]  # fmt: skip
    assert isinstance(error, ValueError)


# -- validation, before any I/O ----------------------------------------------------------------


def test_return_existing_is_refused_in_a_transaction() -> None:
    options = {"queue_name": "q", "workflow_name": "w", "deduplication_id": "d", "duplication_policy": "return-existing"}
    with pytest.raises(InvalidArgumentError, match="not supported by enqueue_in_transaction. Use enqueue instead."):
        _outbox.enqueue_in_transaction(core(), options, (), {})


@pytest.mark.parametrize(
    "messages, match",
    [
        ("abc", "messages must be a list"),
        ({"destination_id": "a", "message": 1}, "messages must be a list"),
        ([object()], r"messages\[0\] must be a SendMessage"),
        ([{"destination_id": "a"}], r"messages\[0\] needs a destination_id and a message"),
        ([{"destination_id": "", "message": 1}], "destination_id"),
        ([{"destination_id": "a", "message": 1, "topic": 5}], "topic"),
        ([{"destination_id": "a", "message": 1, "shard_key": "s"}], "shard_key"),
        (
            [{"destination_id": "a", "message": 1, "idempotency_key": "k"},
             {"destination_id": "b", "message": 2, "idempotency_key": "k"}],
            "duplicate idempotency keys: k",
        ),
    ],
)  # fmt: skip
def test_bad_messages_are_refused(messages: Any, match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        _outbox.send_bulk_in_transaction(core(), messages, None, False)


def test_send_options_are_checked() -> None:
    with pytest.raises(InvalidArgumentError, match="shard_key"):
        _outbox.send_in_transaction(core(), "a", 1, None, None, None, False, "shard")
    with pytest.raises(InvalidArgumentError, match="send_to_forks"):
        _outbox.send_in_transaction(core(), "a", 1, None, None, None, "yes", None)
    _outbox.send_bulk_in_transaction(core(), [], None, False)  # nothing to send is fine


def test_the_clients_refuse_a_bad_connection_before_any_io() -> None:
    client = DBOSClient(lazy=True, system_database_url=URL)
    with pytest.raises(InvalidArgumentError, match="got builtins.object"):
        client.enqueue_in_transaction(object(), {"queue_name": "q", "workflow_name": "w"})
    with pytest.raises(InvalidArgumentError, match="got builtins.int"):
        client.send_bulk_in_transaction(1, [])
    assert client._pool is None

    async def main() -> None:
        aclient = AsyncDBOSClient(lazy=True, system_database_url=URL)
        with pytest.raises(InvalidArgumentError, match="synchronous connection"):
            await aclient.send_in_transaction(psycopg.Connection.__new__(psycopg.Connection), "a", 1)
        await aclient.close()

    asyncio.run(main())


@pytest.mark.parametrize("name", CALLS)
def test_both_clients_take_the_same_parameters(name: str) -> None:
    ours = inspect.signature(getattr(DBOSClient, name)).parameters
    theirs = inspect.signature(getattr(AsyncDBOSClient, name)).parameters
    assert [(p.name, p.kind, p.default) for p in ours.values()] == [(p.name, p.kind, p.default) for p in theirs.values()]
    assert inspect.iscoroutinefunction(getattr(AsyncDBOSClient, name))
    assert getattr(DBOSClient, name).__doc__ and getattr(AsyncDBOSClient, name).__doc__


def test_a_savepoint_only_where_the_database_may_refuse_the_write() -> None:
    """An enqueue without a deduplication id cannot be refused by the database (a taken id is
    ON CONFLICT DO NOTHING): one statement, no savepoint. With one, or for a send, a savepoint."""
    from test_ops import PG3

    def statements(make: Any) -> list[str]:
        seen: list[str] = []

        def execute(query: Query) -> Any:
            seen.append(str(query.statement))
            if query.statement is PG3.enqueue:
                return (True, None, None, None, None, None, None, True)
            return None

        run_inline(make(PG3), execute)
        return seen

    options = {"queue_name": "q", "workflow_name": "w"}
    assert statements(_outbox.enqueue_in_transaction(core(), options, (), {})) == [PG3.enqueue]
    deduplicated = statements(_outbox.enqueue_in_transaction(core(), {**options, "deduplication_id": "d"}, (), {}))
    assert deduplicated == ["SAVEPOINT dbos_client_outbox", PG3.enqueue, "RELEASE SAVEPOINT dbos_client_outbox"]
    sent = statements(_outbox.send_in_transaction(core(), "a", 1, None, None, None, False, None))
    assert sent == ["SAVEPOINT dbos_client_outbox", PG3.send, "RELEASE SAVEPOINT dbos_client_outbox"]


class Psycopg2Connection(FakeDBAPI):
    """psycopg2's connection class lives in psycopg2.extensions."""

    def __init__(self, autocommit: bool = False, status: int = 0) -> None:
        super().__init__()
        self.closed = 0
        self.autocommit = autocommit
        self._status = status

    def get_transaction_status(self) -> int:
        return self._status


Psycopg2Connection.__module__ = "psycopg2.extensions"


def test_a_raw_psycopg2_connection_runs_through_its_cursor() -> None:
    conn = Psycopg2Connection()
    _txn.check_callers_connection(conn, "x", asynchronous=False)
    _txn.callers_executor(conn, "postgresql", "x")(Query("SELECT 1", fetch="none"))
    assert conn.executed == [("SELECT 1", None)]
    with pytest.raises(InvalidArgumentError, match="autocommit mode"):
        _txn.callers_executor(Psycopg2Connection(autocommit=True), "postgresql", "x")
    _txn.callers_executor(Psycopg2Connection(autocommit=True, status=2), "postgresql", "x")  # in a transaction
    with pytest.raises(InvalidArgumentError, match="SQLite file"):
        _txn.callers_executor(conn, "sqlite", "x")
