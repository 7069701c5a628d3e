"""The transactional outbox: enqueue_in_transaction, send_in_transaction, send_bulk_in_transaction.

Proved against the real runtime: a workflow recv()s only what was sent in a transaction
that committed; a workflow enqueued in a transaction runs once it commits, never if it
rolls back. The caller's own write (a row in its table) commits or rolls back with ours,
and a refusal (deduplication, a missing destination) leaves the caller's transaction usable.
Each caller's connection kind: psycopg, sqlite3, SQLAlchemy Connection and Session, and the
async ones (psycopg AsyncConnection, SQLAlchemy AsyncConnection and AsyncSession).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from conftest import QUEUE, UNPOLLED_QUEUE, Runtime

from dbos_client import (
    AsyncDBOSClient,
    DBOSClient,
    DeduplicatedError,
    InvalidArgumentError,
    WorkflowIdConflictError,
    WorkflowNotFoundError,
)

pytestmark = pytest.mark.interop


def _sqlite_path(runtime: Runtime) -> str:
    return runtime.url[len("sqlite:///") :]


@contextmanager
def caller(runtime: Runtime) -> Iterator[Any]:
    """The caller's own connection (psycopg or sqlite3), with an ``orders`` table of its own."""
    if runtime.is_sqlite:
        conn: Any = sqlite3.connect(_sqlite_path(runtime), timeout=30)
    else:
        conn = psycopg.connect(runtime.url)
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS outbox_orders (id TEXT PRIMARY KEY)")
        conn.commit()
        yield conn
    finally:
        conn.close()


def orders(runtime: Runtime, order_id: str) -> int:
    with caller(runtime) as conn:
        p = "?" if runtime.is_sqlite else "%s"
        return int(conn.execute(f"SELECT count(*) FROM outbox_orders WHERE id = {p}", (order_id,)).fetchone()[0])


def place_order(runtime: Runtime, conn: Any, order_id: str) -> None:
    p = "?" if runtime.is_sqlite else "%s"
    conn.execute(f"INSERT INTO outbox_orders (id) VALUES ({p})", (order_id,))


def receiver(client: DBOSClient, topic: str, n: int = 1, timeout: float = 30) -> Any:
    return client.enqueue({"queue_name": QUEUE, "workflow_name": "recv_n"}, topic, n, timeout)


# -- send_in_transaction ------------------------------------------------------------------


def test_a_message_sent_in_a_committed_transaction_is_received(client: DBOSClient, runtime: Runtime, uid: str) -> None:
    handle = receiver(client, "t")
    with caller(runtime) as conn:
        place_order(runtime, conn, f"o-{uid}")
        client.send_in_transaction(conn, handle.workflow_id, {"order": uid}, "t")
        assert orders(runtime, f"o-{uid}") == 0  # nothing visible before the commit
        conn.commit()
    assert handle.get_result(timeout_seconds=30) == [{"order": uid}]
    assert orders(runtime, f"o-{uid}") == 1


def test_a_message_sent_in_a_rolled_back_transaction_never_arrives(client: DBOSClient, runtime: Runtime, uid: str) -> None:
    handle = receiver(client, "t")
    with caller(runtime) as conn:
        place_order(runtime, conn, f"o-{uid}")
        client.send_in_transaction(conn, handle.workflow_id, "rolled back", "t")
        conn.rollback()
    # Had the rolled-back message arrived, the workflow would have received it first.
    client.send(handle.workflow_id, "after", "t")
    assert handle.get_result(timeout_seconds=30) == ["after"]
    assert orders(runtime, f"o-{uid}") == 0


def test_an_idempotent_send_in_transaction_is_delivered_once(client: DBOSClient, runtime: Runtime) -> None:
    handle = receiver(client, "t", 2, timeout=2)
    with caller(runtime) as conn:
        client.send_in_transaction(conn, handle.workflow_id, "once", "t", "key-1")
        client.send_in_transaction(conn, handle.workflow_id, "once", "t", "key-1")
        conn.commit()
    assert handle.get_result(timeout_seconds=30) == ["once", None]


def test_a_missing_destination_leaves_the_callers_transaction_usable(
    client: DBOSClient, runtime: Runtime, uid: str
) -> None:
    handle = receiver(client, "t")
    with caller(runtime) as conn:
        place_order(runtime, conn, f"o-{uid}")
        with pytest.raises(WorkflowNotFoundError) as info:
            client.send_in_transaction(conn, f"nobody-{uid}", "lost", "t")
        assert info.value.workflow_id == f"nobody-{uid}"
        client.send_in_transaction(conn, handle.workflow_id, "still sent", "t")
        conn.commit()
    assert handle.get_result(timeout_seconds=30) == ["still sent"]
    assert orders(runtime, f"o-{uid}") == 1


def test_send_bulk_in_transaction_is_all_or_nothing(client: DBOSClient, runtime: Runtime, uid: str) -> None:
    a, b = receiver(client, "t"), receiver(client, "t")
    with caller(runtime) as conn:
        with pytest.raises(WorkflowNotFoundError):
            client.send_bulk_in_transaction(
                conn,
                [
                    {"destination_id": a.workflow_id, "message": "lost-a", "topic": "t"},
                    {"destination_id": f"nobody-{uid}", "message": "lost", "topic": "t"},
                ],
            )
        client.send_bulk_in_transaction(
            conn,
            [
                {"destination_id": a.workflow_id, "message": "to a", "topic": "t"},
                {"destination_id": b.workflow_id, "message": "to b", "topic": "t"},
            ],
        )
        conn.commit()
    # The refused batch's first message was undone with it.
    assert a.get_result(timeout_seconds=30) == ["to a"]
    assert b.get_result(timeout_seconds=30) == ["to b"]


def test_send_bulk_in_transaction_takes_dbos_send_message(client: DBOSClient, runtime: Runtime) -> None:
    from dbos._sys_db import SendMessage  # the runtime's own class: any object of that shape is accepted

    handle = receiver(client, "t", 2)
    with caller(runtime) as conn:
        client.send_bulk_in_transaction(
            conn, [SendMessage(handle.workflow_id, 1, "t"), SendMessage(handle.workflow_id, 2, "t")]
        )
        conn.commit()
    assert handle.get_result(timeout_seconds=30) == [1, 2]


# -- enqueue_in_transaction ---------------------------------------------------------------


def test_a_workflow_enqueued_in_a_transaction_runs_after_the_commit(
    client: DBOSClient, runtime: Runtime, uid: str
) -> None:
    with caller(runtime) as conn:
        place_order(runtime, conn, f"o-{uid}")
        handle = client.enqueue_in_transaction(conn, {"queue_name": QUEUE, "workflow_name": "echo"}, uid, k=1)
        with pytest.raises(WorkflowNotFoundError):
            client.retrieve_workflow(handle.workflow_id)  # invisible until the commit
        conn.commit()
    assert handle.get_result(timeout_seconds=30) == {"args": [uid], "kwargs": {"k": 1}}
    assert orders(runtime, f"o-{uid}") == 1


def test_a_workflow_enqueued_in_a_rolled_back_transaction_never_exists(
    client: DBOSClient, runtime: Runtime, uid: str
) -> None:
    options = {"queue_name": QUEUE, "workflow_name": "echo", "workflow_id": f"wf-{uid}"}
    with caller(runtime) as conn:
        client.enqueue_in_transaction(conn, options, "rolled back")
        conn.rollback()
    with pytest.raises(WorkflowNotFoundError):
        client.retrieve_workflow(f"wf-{uid}")
    # The id was never taken: a later enqueue runs with its own arguments.
    assert client.enqueue(options, "later").get_result(timeout_seconds=30) == {"args": ["later"], "kwargs": {}}


def test_enqueue_and_send_in_one_transaction(client: DBOSClient, runtime: Runtime, uid: str) -> None:
    with caller(runtime) as conn:
        handle = client.enqueue_in_transaction(conn, {"queue_name": QUEUE, "workflow_name": "recv_n"}, "t", 1, 30)
        client.send_in_transaction(conn, handle.workflow_id, f"hello {uid}", "t")
        conn.commit()
    assert handle.get_result(timeout_seconds=30) == [f"hello {uid}"]


def test_a_deduplicated_enqueue_leaves_the_callers_transaction_usable(
    client: DBOSClient, runtime: Runtime, uid: str
) -> None:
    options = {"queue_name": UNPOLLED_QUEUE, "workflow_name": "echo", "deduplication_id": f"d-{uid}"}
    first = client.enqueue(options, "first")
    with caller(runtime) as conn:
        place_order(runtime, conn, f"o-{uid}")
        with pytest.raises(DeduplicatedError):
            client.enqueue_in_transaction(conn, {**options, "workflow_id": f"second-{uid}"}, "second")
        conn.commit()
    assert orders(runtime, f"o-{uid}") == 1
    with pytest.raises(WorkflowNotFoundError):
        client.retrieve_workflow(f"second-{uid}")
    assert [w.workflow_id for w in client.list_workflows(workflow_ids=[first.workflow_id])] == [first.workflow_id]


def test_a_reused_id_is_refused_under_reject(client: DBOSClient, runtime: Runtime, uid: str) -> None:
    options = {"queue_name": QUEUE, "workflow_name": "echo", "workflow_id": f"wf-{uid}"}
    assert client.enqueue(options, 1).get_result(timeout_seconds=30) == {"args": [1], "kwargs": {}}
    with caller(runtime) as conn:
        # return-existing (the default) attaches, as enqueue does ...
        assert client.enqueue_in_transaction(conn, options, 2).workflow_id == f"wf-{uid}"
        # ... 'reject' refuses, and the transaction goes on.
        with pytest.raises(WorkflowIdConflictError):
            client.enqueue_in_transaction(conn, {**options, "workflow_id_reuse_policy": "reject"}, 3)
        place_order(runtime, conn, f"o-{uid}")
        conn.commit()
    assert orders(runtime, f"o-{uid}") == 1


def test_return_existing_deduplication_is_refused_in_a_transaction(client: DBOSClient, runtime: Runtime) -> None:
    options = {"queue_name": QUEUE, "workflow_name": "echo", "deduplication_id": "d", "duplication_policy": "return-existing"}
    with caller(runtime) as conn, pytest.raises(InvalidArgumentError, match="not supported by enqueue_in_transaction"):
        client.enqueue_in_transaction(conn, options)


def test_the_callers_connection_must_hold_a_transaction(client: DBOSClient, runtime: Runtime) -> None:
    handle = receiver(client, "t", 1, timeout=1)
    if runtime.is_sqlite:
        conn: Any = sqlite3.connect(_sqlite_path(runtime), isolation_level=None)
    else:
        conn = psycopg.connect(runtime.url, autocommit=True)
    try:
        with pytest.raises(InvalidArgumentError, match="autocommit"):
            client.send_in_transaction(conn, handle.workflow_id, "x", "t")
    finally:
        conn.close()
    with pytest.raises(InvalidArgumentError, match="got builtins.object"):
        client.send_in_transaction(object(), handle.workflow_id, "x", "t")
    assert handle.get_result(timeout_seconds=30) == [None]


# -- SQLAlchemy's Connection and Session, recognised without importing SQLAlchemy ----------


def _sa_url(runtime: Runtime, asynchronous: bool = False) -> str:
    if runtime.is_sqlite:
        return runtime.url if not asynchronous else runtime.url.replace("sqlite://", "sqlite+aiosqlite://", 1)
    return runtime.url.replace("postgresql://", "postgresql+psycopg://", 1)


def test_sqlalchemy_connection_and_session(client: DBOSClient, runtime: Runtime, uid: str) -> None:
    sa = pytest.importorskip("sqlalchemy")
    from sqlalchemy.orm import Session

    engine = sa.create_engine(_sa_url(runtime))
    try:
        a, b = receiver(client, "t"), receiver(client, "t")
        with engine.connect() as conn:
            with conn.begin():
                client.send_in_transaction(conn, a.workflow_id, "via connection", "t")
            rolled_back = conn.begin()
            client.enqueue_in_transaction(conn, {"queue_name": QUEUE, "workflow_name": "echo", "workflow_id": f"rb-{uid}"})
            rolled_back.rollback()
        with Session(engine) as session, session.begin():
            session.execute(sa.text("SELECT 1"))  # the session's connection exists before ours
            client.send_in_transaction(session, b.workflow_id, "via session", "t")
            enqueued = client.enqueue_in_transaction(session, {"queue_name": QUEUE, "workflow_name": "echo"}, uid)
    finally:
        engine.dispose()
    assert a.get_result(timeout_seconds=30) == ["via connection"]
    assert b.get_result(timeout_seconds=30) == ["via session"]
    assert enqueued.get_result(timeout_seconds=30) == {"args": [uid], "kwargs": {}}
    with pytest.raises(WorkflowNotFoundError):
        client.retrieve_workflow(f"rb-{uid}")


# -- AsyncDBOSClient ----------------------------------------------------------------------


def test_async_outbox_on_the_callers_connection(runtime: Runtime, uid: str) -> None:
    async def main() -> None:
        async with AsyncDBOSClient(system_database_url=runtime.url) as client:
            recv = await client.enqueue({"queue_name": QUEUE, "workflow_name": "recv_n"}, "t", 1, 30)
            if runtime.is_sqlite:
                conn: Any = sqlite3.connect(_sqlite_path(runtime), timeout=30)
                await client.enqueue_in_transaction(conn, {"queue_name": QUEUE, "workflow_name": "echo", "workflow_id": f"rb-{uid}"})
                await client.send_in_transaction(conn, recv.workflow_id, "rolled back", "t")
                conn.rollback()
                await client.send_bulk_in_transaction(conn, [{"destination_id": recv.workflow_id, "message": "committed", "topic": "t"}])
                handle = await client.enqueue_in_transaction(conn, {"queue_name": QUEUE, "workflow_name": "echo"}, uid)
                conn.commit()
                conn.close()
            else:
                async with await psycopg.AsyncConnection.connect(runtime.url) as aconn:
                    await client.enqueue_in_transaction(aconn, {"queue_name": QUEUE, "workflow_name": "echo", "workflow_id": f"rb-{uid}"})
                    await client.send_in_transaction(aconn, recv.workflow_id, "rolled back", "t")
                    await aconn.rollback()
                    await client.send_bulk_in_transaction(aconn, [{"destination_id": recv.workflow_id, "message": "committed", "topic": "t"}])
                    handle = await client.enqueue_in_transaction(aconn, {"queue_name": QUEUE, "workflow_name": "echo"}, uid)
                    await aconn.commit()
            with pytest.raises(WorkflowNotFoundError):
                await client.retrieve_workflow(f"rb-{uid}")
            assert await recv.get_result(timeout_seconds=30) == ["committed"]
            assert await handle.get_result(timeout_seconds=30) == {"args": [uid], "kwargs": {}}

    asyncio.run(main())


@pytest.mark.postgres_only("SQLAlchemy's async SQLite driver (aiosqlite) is not installed here")
def test_async_outbox_on_sqlalchemy_async_connection_and_session(runtime: Runtime, uid: str) -> None:
    pytest.importorskip("sqlalchemy")
    from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

    async def main() -> None:
        engine = create_async_engine(_sa_url(runtime, asynchronous=True))
        try:
            async with AsyncDBOSClient(system_database_url=runtime.url) as client:
                recv = await client.enqueue({"queue_name": QUEUE, "workflow_name": "recv_n"}, "t", 2, 30)
                async with engine.connect() as conn:
                    async with conn.begin():
                        await client.send_in_transaction(conn, recv.workflow_id, "via connection", "t")
                    trans = await conn.begin()
                    await client.send_in_transaction(conn, recv.workflow_id, "rolled back", "t")
                    await trans.rollback()
                async with AsyncSession(engine) as session, session.begin():
                    await client.send_in_transaction(session, recv.workflow_id, "via session", "t")
                    handle = await client.enqueue_in_transaction(session, {"queue_name": QUEUE, "workflow_name": "echo"}, uid)
                assert await recv.get_result(timeout_seconds=30) == ["via connection", "via session"]
                assert await handle.get_result(timeout_seconds=30) == {"args": [uid], "kwargs": {}}
        finally:
            await engine.dispose()

    asyncio.run(main())


# -- send_to_forks, and drop-in parameters ---------------------------------------------------


def test_send_to_forks_reaches_every_fork_of_the_destination(client: DBOSClient, runtime: Runtime, uid: str) -> None:
    if not runtime.is_v3:
        pytest.skip("forks made by dbos 3.4.0's own client, which needs a 3.x database")
    import dbos

    handle = receiver(client, "t")
    forker = dbos.DBOSClient(system_database_url=runtime.url)  # the runtime's own client makes the forks
    try:
        fork = forker.fork_workflow(handle.workflow_id, 1)
        fork_of_fork = forker.fork_workflow(fork.get_workflow_id(), 1)
    finally:
        forker.destroy()
    other = receiver(client, "t", 1, timeout=2)
    with caller(runtime) as conn:
        client.send_in_transaction(conn, handle.workflow_id, f"all {uid}", "t", send_to_forks=True)
        client.send_in_transaction(conn, other.workflow_id, "only me", "t", "k", send_to_forks=True)
        conn.commit()
    for wid in (handle.workflow_id, fork.get_workflow_id(), fork_of_fork.get_workflow_id()):
        assert client.retrieve_workflow(wid).get_result(timeout_seconds=30) == [f"all {uid}"]
    assert other.get_result(timeout_seconds=30) == ["only me"]


@pytest.mark.parametrize("name", ["enqueue_in_transaction", "send_in_transaction", "send_bulk_in_transaction"])
def test_same_parameters_as_dbos_client(name: str) -> None:
    import inspect

    import dbos

    theirs = inspect.signature(getattr(dbos.DBOSClient, name)).parameters
    ours = inspect.signature(getattr(DBOSClient, name)).parameters
    assert [(p.name, p.kind) for p in ours.values()] == [(p.name, p.kind) for p in theirs.values()]
    for p in theirs.values():
        if p.name != "serialization_type":  # DBOS's default is its DEFAULT format; ours None means the same
            assert ours[p.name].default == p.default, p.name


def test_the_callers_row_factory_does_not_matter(client: DBOSClient, runtime: Runtime, uid: str) -> None:
    if runtime.is_sqlite:
        conn: Any = sqlite3.connect(_sqlite_path(runtime), timeout=30)
        conn.row_factory = lambda cursor, row: {d[0]: v for d, v in zip(cursor.description, row, strict=True)}
    else:
        from psycopg.rows import dict_row

        conn = psycopg.connect(runtime.url, row_factory=dict_row)
    try:
        handle = client.enqueue_in_transaction(conn, {"queue_name": QUEUE, "workflow_name": "echo"}, uid)
        # An existing id takes the path that reads the row back.
        again = client.enqueue_in_transaction(conn, {"queue_name": QUEUE, "workflow_name": "echo", "workflow_id": handle.workflow_id})
        with pytest.raises(WorkflowIdConflictError):
            client.enqueue_in_transaction(conn, {"queue_name": QUEUE, "workflow_name": "fail", "workflow_id": handle.workflow_id})
        conn.commit()
    finally:
        conn.close()
    assert again.workflow_id == handle.workflow_id
    assert handle.get_result(timeout_seconds=30) == {"args": [uid], "kwargs": {}}


@pytest.mark.postgres_only("psycopg2 is a Postgres driver")
def test_psycopg2_raw_and_through_sqlalchemy(client: DBOSClient, runtime: Runtime, uid: str) -> None:
    """Another driver runs the same statements through its cursor (not installed in the dev venv:
    put psycopg2-binary on PYTHONPATH to run this)."""
    psycopg2 = pytest.importorskip("psycopg2")
    sa = pytest.importorskip("sqlalchemy")
    handle = receiver(client, "t", 2)
    raw = psycopg2.connect(runtime.url)
    try:
        client.send_in_transaction(raw, handle.workflow_id, "raw", "t")
        with pytest.raises(WorkflowNotFoundError):
            client.send_in_transaction(raw, f"nobody-{uid}", "lost", "t")
        enqueued = client.enqueue_in_transaction(raw, {"queue_name": QUEUE, "workflow_name": "echo", "attributes": {"a": 1}}, uid)
        raw.commit()
    finally:
        raw.close()
    engine = sa.create_engine(runtime.url.replace("postgresql://", "postgresql+psycopg2://", 1))
    try:
        with engine.begin() as conn:
            client.send_in_transaction(conn, handle.workflow_id, "via sqlalchemy", "t")
    finally:
        engine.dispose()
    assert handle.get_result(timeout_seconds=30) == ["raw", "via sqlalchemy"]
    assert enqueued.get_result(timeout_seconds=30) == {"args": [uid], "kwargs": {}}
