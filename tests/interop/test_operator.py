"""The operator's surface against a real runtime: fork and rewind re-run in the runtime,
a registered queue is polled by it, and it honours the latest application version."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from typing import Any

import psycopg
import pytest
from conftest import QUEUE, UNPOLLED_QUEUE, Runtime

from dbos_client import (
    ApplicationVersionNotFoundError,
    AsyncDBOSClient,
    DBOSClient,
    InvalidArgumentError,
    NameConflictError,
    Queue,
    QueueNotFoundError,
    SchemaError,
    WorkflowIdConflictError,
    WorkflowNotFoundError,
    WorkflowStateError,
)

pytestmark = pytest.mark.interop


def _run(client: DBOSClient, name: str, *args: Any) -> tuple[str, Any]:
    handle = client.enqueue({"queue_name": QUEUE, "workflow_name": name}, *args)
    return handle.workflow_id, handle.get_result(timeout_seconds=60)


def test_fork_replays_the_steps_before_start_step(client: DBOSClient, uid: str) -> None:
    original_id, original = _run(client, "stamped_steps", 3)
    fork = client.fork_workflow(original_id, 3, forked_workflow_id=f"fork-{uid}")
    assert fork.workflow_id == f"fork-{uid}"
    forked = fork.get_result(timeout_seconds=60)
    # Steps 1 and 2 replay their recorded stamps; step 3 really runs again.
    assert forked[:2] == original[:2] and forked[2] != original[2]
    status = fork.get_status()
    assert status.forked_from == original_id and status.input == {"args": (3,), "kwargs": {}}
    assert client.retrieve_workflow(original_id).get_status().was_forked_from
    assert [s["output"] for s in client.list_workflow_steps(fork.workflow_id)] == forked
    # From step 1 nothing is copied: every step runs again.
    again = client.fork_workflow(original_id, 1).get_result(timeout_seconds=60)
    assert all(a != b for a, b in zip(again, original, strict=True))
    with pytest.raises(WorkflowIdConflictError):
        client.fork_workflow(original_id, 2, forked_workflow_id=f"fork-{uid}")
    with pytest.raises(WorkflowNotFoundError):
        client.fork_workflow(f"nope-{uid}", 1)


def test_fork_copies_events_published_before_start_step(client: DBOSClient) -> None:
    original_id, (first, second) = _run(client, "stamped_events")
    fork = client.fork_workflow(original_id, 3, queue_name=QUEUE)
    new_first, new_second = fork.get_result(timeout_seconds=60)
    assert new_first == first and new_second != second
    # "first" was published by step 2, which the fork never re-ran: it was copied.
    assert client.get_all_events(fork.workflow_id) == {"first": first, "second": new_second}
    assert fork.get_status().queue_name == QUEUE


def test_fork_on_an_unpolled_version_waits(client: DBOSClient) -> None:
    original_id, _ = _run(client, "stamped_steps", 1)
    fork = client.fork_workflow(original_id, 1, application_version="no-such-version", timeout_seconds=30)
    time.sleep(1.5)
    status = fork.get_status()
    assert (status.status, status.app_version, status.workflow_timeout_ms) == ("ENQUEUED", "no-such-version", 30000)
    client.cancel_workflow(fork.workflow_id)


def test_rewind_reruns_from_start_step(client: DBOSClient, runtime: Runtime) -> None:
    workflow_id, (first, second) = _run(client, "stamped_events")
    if not runtime.is_v3:
        with pytest.raises(SchemaError, match="rewind_workflow needs a DBOS 3.x"):
            client.rewind_workflow(workflow_id)
        return
    handle = client.rewind_workflow(workflow_id, start_step=3)
    assert handle.workflow_id == workflow_id
    new_first, new_second = handle.get_result(timeout_seconds=60)
    assert new_first == first and new_second != second
    assert client.get_all_events(workflow_id) == {"first": first, "second": new_second}
    # Default start_step is 1: everything runs again.
    again = client.rewind_workflow(workflow_id).get_result(timeout_seconds=60)
    assert again[0] != first
    with pytest.raises(WorkflowNotFoundError):
        client.rewind_workflow("nope-rewind")
    with pytest.raises(InvalidArgumentError, match="start_step"):
        client.rewind_workflow(workflow_id, start_step=0)


def test_rewind_refuses_an_active_workflow(client: DBOSClient, runtime: Runtime) -> None:
    if not runtime.is_v3:
        pytest.skip("rewind needs a 3.x schema")
    pending = client.enqueue({"queue_name": UNPOLLED_QUEUE, "workflow_name": "stamped_steps"}, 1)
    with pytest.raises(WorkflowStateError, match="ENQUEUED"):
        client.rewind_workflow(pending.workflow_id)
    client.cancel_workflow(pending.workflow_id)
    # A cancelled workflow is terminal: it can be rewound, onto a queue the runtime polls.
    handle = client.rewind_workflow(pending.workflow_id, queue_name=QUEUE)
    assert len(handle.get_result(timeout_seconds=60)) == 1


def test_registered_queue_is_polled_by_the_runtime(client: DBOSClient, uid: str) -> None:
    name = f"opq-{uid}"
    assert client.retrieve_queue(name) is None
    queue = client.register_queue(name, global_concurrency=4, worker_concurrency=2, polling_interval_sec=0.1,
                                  limiter={"limit": 50, "period": 1.5})  # fmt: skip
    assert queue == Queue(name, concurrency=4, worker_concurrency=2, limiter={"limit": 50, "period": 1.5},
                          polling_interval_sec=0.1)  # fmt: skip
    assert queue.global_concurrency == 4 and queue.database_backed_queue
    assert client.retrieve_queue(name) == queue
    assert name in {q.name for q in client.list_queues()}
    handle = client.enqueue({"queue_name": name, "workflow_name": "echo"}, 7)
    assert handle.get_result(timeout_seconds=60) == {"args": [7], "kwargs": {}}
    # never_update leaves the row; the default overwrites it.
    assert client.register_queue(name, concurrency=1, on_conflict="never_update").concurrency == 4
    assert client.register_queue(name, concurrency=9).concurrency == 9
    with pytest.raises(InvalidArgumentError, match="update_if_latest_version"):
        client.register_queue(name, on_conflict="update_if_latest_version")
    client.delete_queue(name)
    assert client.retrieve_queue(name) is None
    client.delete_queue(name)  # a no-op


def test_queue_ownership(client: DBOSClient, runtime: Runtime, uid: str) -> None:
    owned = client.register_queue(f"own-{uid}", application_name="interop", polling_interval_sec=0.1)
    assert owned.application_name == "interop"
    assert f"own-{uid}" in {q.name for q in client.list_queues(application_name="interop")}
    assert f"own-{uid}" not in {q.name for q in client.list_queues(application_name="someone-else")}
    with pytest.raises(NameConflictError, match="already registered by application 'interop'"):
        client.register_queue(f"own-{uid}", application_name="someone-else")
    # The owner polls it.
    handle = client.enqueue({"queue_name": f"own-{uid}", "workflow_name": "echo"}, 1)
    assert handle.get_result(timeout_seconds=60) == {"args": [1], "kwargs": {}}
    client.delete_queue(f"own-{uid}")


def test_queue_setters_write_through_to_the_runtime(client: DBOSClient, uid: str) -> None:
    name = f"setq-{uid}"
    # Concurrency 0: the runtime polls the queue but starts nothing from it.
    queue = client.register_queue(name, concurrency=0, worker_concurrency=0, polling_interval_sec=0.1)
    handle = client.enqueue({"queue_name": name, "workflow_name": "echo"}, 5)
    time.sleep(1.5)
    assert handle.get_status().status == "ENQUEUED"
    queue.set_worker_concurrency(None)
    queue.set_global_concurrency(None)
    assert handle.get_result(timeout_seconds=60) == {"args": [5], "kwargs": {}}
    queue.set_concurrency(8)
    queue.set_worker_concurrency(2)
    queue.set_limiter({"limit": 10, "period": 2.0})
    queue.set_polling_interval_sec(0.2)
    expected = Queue(name, concurrency=8, worker_concurrency=2, limiter={"limit": 10, "period": 2.0},
                     polling_interval_sec=0.2)  # fmt: skip
    assert queue == expected and client.retrieve_queue(name) == expected
    assert [q for q in client.list_queues() if q.name == name] == [expected]
    # Checked against the row's other limits, as stored (another handle changed them).
    other = client.retrieve_queue(name)
    assert other is not None
    other.set_worker_concurrency(1)
    with pytest.raises(InvalidArgumentError, match="worker_concurrency must be less than or equal to concurrency"):
        queue.set_concurrency(0)
    queue.set_concurrency(1)
    assert queue.worker_concurrency == 1 and client.retrieve_queue(name) == queue  # refreshed from the row
    with pytest.raises(InvalidArgumentError, match="polling_interval_sec must be positive"):
        queue.set_polling_interval_sec(0)
    with pytest.raises(InvalidArgumentError, match="Use DBOSClient.enqueue"):
        queue.enqueue(print, 1)
    client.delete_queue(name)
    with pytest.raises(QueueNotFoundError, match=f"Queue {name} not found in the database"):
        queue.set_concurrency(3)


def test_queue_partition_setters(client: DBOSClient, uid: str) -> None:
    queue = client.register_queue(f"setp-{uid}", polling_interval_sec=0.1)
    queue.set_partition_concurrency(2)
    queue.set_partition_worker_concurrency(1)
    queue.set_partition_limiter({"limit": 2, "period": 1.0})
    with pytest.raises(InvalidArgumentError, match="must be less than or equal to partition_concurrency"):
        queue.set_partition_worker_concurrency(3)
    with pytest.raises(InvalidArgumentError, match="partition_concurrency must be less than or equal to global"):
        queue.set_global_concurrency(1)
    fresh = client.retrieve_queue(queue.name)
    assert fresh == queue
    assert (fresh.partition_concurrency, fresh.partition_worker_concurrency, fresh.partition_limiter) == (
        2, 1, {"limit": 2, "period": 1.0},
    )  # fmt: skip
    queue.set_partition_limiter(None)
    queue.set_partition_worker_concurrency(None)
    queue.set_partition_concurrency(None)
    assert client.retrieve_queue(queue.name) == Queue(queue.name, polling_interval_sec=0.1)
    client.delete_queue(queue.name)


def test_queue_setters_async(runtime: Runtime, client: DBOSClient, uid: str) -> None:
    async def main() -> None:
        async with AsyncDBOSClient(system_database_url=runtime.url) as aclient:
            queue = await aclient.register_queue(f"asq-{uid}", concurrency=0, polling_interval_sec=0.1)
            handle = await aclient.enqueue({"queue_name": queue.name, "workflow_name": "echo"}, 3)
            await asyncio.sleep(1.5)
            assert (await handle.get_status()).status == "ENQUEUED"
            await queue.set_global_concurrency_async(None)
            assert await handle.get_result(timeout_seconds=60) == {"args": [3], "kwargs": {}}
            await queue.set_concurrency_async(8)
            with pytest.raises(InvalidArgumentError, match="use 'await queue.set_concurrency_async"):
                queue.set_concurrency(9)
            listed = [q for q in await aclient.list_queues() if q.name == queue.name]
            assert listed == [queue] and queue.concurrency == 8
            client.retrieve_queue(queue.name).set_worker_concurrency(4)  # type: ignore[union-attr]
            assert await queue.get_worker_concurrency_async() == 4 and queue.worker_concurrency == 4
            await aclient.delete_queue(queue.name)
            with pytest.raises(QueueNotFoundError):
                await queue.get_concurrency_async()
        # DBOSClient's async twins: their queues are the sync client's, with both kinds of setter.
        twin_queue = await client.register_queue_async(f"atq-{uid}", polling_interval_sec=2.5)
        await twin_queue.set_polling_interval_sec_async(0.1)
        twin_queue.set_concurrency(5)
        again = await client.retrieve_queue_async(twin_queue.name)
        assert again == twin_queue and await again.get_polling_interval_sec_async() == 0.1
        handle = await client.enqueue_async({"queue_name": twin_queue.name, "workflow_name": "echo"}, 4)
        assert await handle.get_result(timeout_seconds=60) == {"args": [4], "kwargs": {}}
        await client.delete_queue_async(twin_queue.name)

    asyncio.run(main())


def _insert_version(runtime: Runtime, name: str, timestamp: int, owner: str | None) -> None:
    row = (f"id-{name}", name, timestamp, timestamp, owner)
    if runtime.is_sqlite:
        with sqlite3.connect(runtime.url.removeprefix("sqlite:///")) as conn:
            conn.execute(
                "INSERT INTO application_versions (version_id, version_name, version_timestamp, created_at,"
                " application_name) VALUES (?, ?, ?, ?, ?)",
                row,
            )
    else:
        with psycopg.connect(runtime.url) as conn:
            conn.execute(
                "INSERT INTO dbos.application_versions (version_id, version_name, version_timestamp, created_at,"
                " application_name) VALUES (%s, %s, %s, %s, %s)",
                row,
            )


def test_runtime_honours_the_latest_application_version(client: DBOSClient, runtime: Runtime, uid: str) -> None:
    workflow_id, _ = _run(client, "stamped_steps", 1)
    own = client.retrieve_workflow(workflow_id).get_status().app_version
    assert own is not None
    assert client.get_latest_application_version()["version_name"] == own
    # An older deploy of the same application, as if it had registered itself long ago.
    peer = f"peer-{uid}"
    _insert_version(runtime, peer, 1, "interop")
    versions = client.list_application_versions()
    assert [v["version_name"] for v in versions][0] == own and peer in {v["version_name"] for v in versions}
    try:
        client.set_latest_application_version(peer)
        latest = client.get_latest_application_version()
        assert (latest["version_name"], latest["created_at"], latest["application_name"]) == (peer, 1, "interop")
        # The runtime no longer runs the latest version: it leaves unversioned work alone...
        waiting = client.enqueue({"queue_name": QUEUE, "workflow_name": "stamped_steps"}, 1)
        time.sleep(2.0)
        assert waiting.get_status().status == "ENQUEUED"
    finally:
        client.set_latest_application_version(own)
    # ...until its own version is the latest again.
    assert len(waiting.get_result(timeout_seconds=60)) == 1
    with pytest.raises(NameConflictError):
        client.set_latest_application_version(own, application_name="someone-else")
    with pytest.raises(ApplicationVersionNotFoundError):
        client.set_latest_application_version(f"nope-{uid}")


def test_rename_application_moves_queues_and_workflows(client: DBOSClient, uid: str) -> None:
    old, new = f"old-{uid}", f"new-{uid}"
    client.register_queue(f"rq-{uid}", application_name=old)
    ids = [
        client.enqueue({"queue_name": UNPOLLED_QUEUE, "workflow_name": "echo", "application_name": old}).workflow_id
        for _ in range(3)
    ]
    client.cancel_workflow(ids[0])  # a terminal row, moved by the batches
    counts = client.rename_application(old, new, batch_size=1)
    assert counts == {"queues": 1, "schedules": 0, "versions": 0, "workflows": 3, "steps": 0}
    assert {s.application_name for s in client.list_workflows(workflow_ids=ids)} == {new}
    assert client.retrieve_queue(f"rq-{uid}") == Queue(f"rq-{uid}", application_name=new)
    assert client.rename_application(old, new) == {"queues": 0, "schedules": 0, "versions": 0, "workflows": 0, "steps": 0}
    with pytest.raises(InvalidArgumentError, match="Nothing to re-own"):
        client.rename_application(None, new)
    client.cancel_workflows(ids[1:])
    client.delete_queue(f"rq-{uid}")


def test_async_operator_calls(runtime: Runtime, uid: str) -> None:
    async def main() -> None:
        async with AsyncDBOSClient(system_database_url=runtime.url) as client:
            queue = await client.register_queue(f"aq-{uid}", polling_interval_sec=0.1)
            assert await client.retrieve_queue(queue.name) == queue
            handle = await client.enqueue({"queue_name": queue.name, "workflow_name": "stamped_steps"}, 2)
            original = await handle.get_result(timeout_seconds=60)
            fork = await client.fork_workflow(handle.workflow_id, 2)
            forked = await fork.get_result(timeout_seconds=60)
            assert forked[0] == original[0] and forked[1] != original[1]
            if runtime.is_v3:
                rewound = await client.rewind_workflow(handle.workflow_id, start_step=2)
                assert (await rewound.get_result(timeout_seconds=60))[0] == original[0]
            assert (await client.get_latest_application_version())["version_name"]
            assert await client.list_application_versions()
            await client.delete_queue(queue.name)
            assert queue.name not in {q.name for q in await client.list_queues()}

    asyncio.run(main())


def test_sync_client_async_twins(client: DBOSClient, runtime: Runtime, uid: str) -> None:
    async def main() -> None:
        queue = await client.register_queue_async(f"tq-{uid}", polling_interval_sec=0.1)
        handle = await client.enqueue_async({"queue_name": queue.name, "workflow_name": "stamped_steps"}, 1)
        await handle.get_result(timeout_seconds=60)
        fork = await client.fork_workflow_async(handle.workflow_id, 1)
        assert len(await fork.get_result(timeout_seconds=60)) == 1
        assert await client.retrieve_queue_async(queue.name) == queue
        await client.delete_queue_async(queue.name)

    asyncio.run(main())


# -- the same rows as DBOS's own client writes (3.4.0) ------------------------------------

_VOLATILE = {
    "created_at", "updated_at", "started_at_epoch_ms", "completed_at_epoch_ms", "retention_timestamp", "creator_xid",
    "completed_at", "created_at_epoch_ms",
}  # fmt: skip
_TABLES = (
    ("workflow_status", "workflow_uuid"), ("workflow_input", "workflow_uuid"), ("workflow_output", "workflow_uuid"),
    ("operation_outputs", "workflow_uuid"), ("workflow_events", "workflow_uuid"),
    ("workflow_events_history", "workflow_uuid"), ("streams", "workflow_uuid"), ("notifications", "destination_uuid"),
)  # fmt: skip


def _rows(runtime: Runtime, workflow_id: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row the workflow has in each table, its own id replaced and volatile columns left out."""
    found: dict[str, list[tuple[Any, ...]]] = {}
    conn: Any = (
        sqlite3.connect(runtime.url.removeprefix("sqlite:///")) if runtime.is_sqlite else psycopg.connect(runtime.url)
    )
    try:
        for table, column in _TABLES:
            prefix = "" if runtime.is_sqlite else "dbos."
            mark = "?" if runtime.is_sqlite else "%s"
            cur = conn.execute(f"SELECT * FROM {prefix}{table} WHERE {column} = {mark}", (workflow_id,))
            names = [d[0] for d in cur.description]
            found[table] = sorted(
                (tuple((n, "ID" if v == workflow_id else v) for n, v in zip(names, row, strict=True) if n not in _VOLATILE)
                 for row in cur.fetchall()),
                key=repr,
            )  # fmt: skip
    finally:
        conn.close()
    return found


def _diff(mine: dict[str, list[Any]], reference: dict[str, list[Any]]) -> list[Any]:
    """What differs, table by table: row counts, else (table, column, ours, DBOS's)."""
    found: list[Any] = []
    for table, rows in reference.items():
        if len(mine[table]) != len(rows):
            found.append((table, "rows", mine[table], rows))
            continue
        for ours, theirs in zip(mine[table], rows, strict=True):
            found += [(table, a[0], a[1], b[1]) for a, b in zip(ours, theirs, strict=True) if a != b]
    return found


def test_fork_and_rewind_write_what_dbos_writes(client: DBOSClient, runtime: Runtime) -> None:
    if not runtime.is_v3:
        pytest.skip("dbos.DBOSClient 3.4.0 refuses a 2.x schema")
    import dbos

    theirs = dbos.DBOSClient(system_database_url=runtime.url)
    try:
        # publish_events(2, 0): events at steps 1-3 (progress, progress, done).
        original_id, _ = _run(client, "publish_events", 2, 0)
        options: dict[str, Any] = {"queue_name": UNPOLLED_QUEUE, "application_version": "v", "timeout_seconds": 30}
        ours_fork = client.fork_workflow(original_id, 3, **options)
        dbos_fork = theirs.fork_workflow(original_id, 3, **options)
        mine, reference = _rows(runtime, ours_fork.workflow_id), _rows(runtime, dbos_fork.workflow_id)
        assert mine["operation_outputs"] and mine["workflow_events"]
        assert not _diff(mine, reference)
        # stream_values: values at steps 1-2, the close sentinel at step 3, which a rewind removes.
        a, _ = _run(client, "stream_values", "s", [1, 2], True, 0)
        b, _ = _run(client, "stream_values", "s", [1, 2], True, 0)
        assert not _diff(_rows(runtime, a), _rows(runtime, b)) and len(_rows(runtime, a)["streams"]) == 3
        client.rewind_workflow(a, start_step=2, queue_name=UNPOLLED_QUEUE)
        theirs.rewind_workflow(b, start_step=2, queue_name=UNPOLLED_QUEUE)
        assert len(_rows(runtime, a)["streams"]) == 2
        assert not _diff(_rows(runtime, a), _rows(runtime, b))
        a, _ = _run(client, "publish_events", 2, 0)
        b, _ = _run(client, "publish_events", 2, 0)
        options = {"queue_name": UNPOLLED_QUEUE, "application_version": "v", "queue_partition_key": "p"}
        client.rewind_workflow(a, start_step=2, **options)
        theirs.rewind_workflow(b, start_step=2, **options)
        rewound = _rows(runtime, a)
        assert [dict(r)["key"] for r in rewound["workflow_events"]] == ["progress"]
        assert not _diff(rewound, _rows(runtime, b))
        assert dict(rewound["workflow_status"][0])["status"] == "ENQUEUED"
        client.cancel_workflows([a, b, ours_fork.workflow_id, dbos_fork.workflow_id])
    finally:
        theirs.destroy()
