"""The interop scenarios through the async API: AsyncDBOSClient, and DBOSClient's *_async names."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
import pytest
from conftest import ADMIN_URL, QUEUE, UNPOLLED_QUEUE, Runtime

from dbos_client import (
    AsyncDBOSClient,
    DBOSClient,
    DeduplicatedError,
    PortableWorkflowError,
    ResultTimeoutError,
    StreamTimeoutError,
    WorkflowCancelledError,
    WorkflowNotFoundError,
    __version__,
)

pytestmark = pytest.mark.interop


def run(runtime: Runtime, scenario: Callable[[AsyncDBOSClient], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        async with AsyncDBOSClient(system_database_url=runtime.url) as client:
            return await scenario(client)

    return asyncio.run(main())


async def _waiting(client: AsyncDBOSClient, n: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while client._hub is None or sum(1 for w in list(client._hub._waiters) if w.waiting) < n:
        assert time.monotonic() < deadline, f"never {n} waiters"
        await asyncio.sleep(0.02)


def _busy_connections(url: str) -> list[tuple[str, str]]:
    dbname = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        return admin.execute(
            "SELECT application_name, state FROM pg_stat_activity WHERE datname = %s AND application_name LIKE %s"
            " AND state <> 'idle'",
            (dbname, f"dbos_client/{__version__}%"),
        ).fetchall()


def test_enqueue_result_and_status(runtime: Runtime) -> None:
    async def scenario(c: AsyncDBOSClient) -> None:
        handle = await c.enqueue({"queue_name": QUEUE, "workflow_name": "echo"}, 1, "two", k=[3])
        assert await handle.get_result(timeout_seconds=30) == {"args": [1, "two"], "kwargs": {"k": [3]}}
        assert (await handle.get_status()).status == "SUCCESS"
        again = await c.retrieve_workflow(handle.workflow_id)
        assert again.get_workflow_id() == handle.workflow_id

    run(runtime, scenario)


def test_portable_and_errors(runtime: Runtime) -> None:
    async def scenario(c: AsyncDBOSClient) -> None:
        ok = await c.enqueue({"queue_name": QUEUE, "workflow_name": "echo", "serialization_type": "portable"}, (1, 2))
        assert await ok.get_result(timeout_seconds=30) == {"args": [[1, 2]], "kwargs": {}}
        bad = await c.enqueue({"queue_name": QUEUE, "workflow_name": "fail"}, "boom")
        with pytest.raises(ValueError, match="boom"):
            await bad.get_result(timeout_seconds=30)
        portable_bad = await c.enqueue({"queue_name": QUEUE, "workflow_name": "fail", "serialization_type": "portable"}, "x")
        with pytest.raises(PortableWorkflowError):
            await portable_bad.get_result(timeout_seconds=30)

    run(runtime, scenario)


def test_messages_in_order_and_exactly_once(runtime: Runtime) -> None:
    async def scenario(c: AsyncDBOSClient) -> None:
        handle = await c.enqueue({"queue_name": QUEUE, "workflow_name": "recv_n"}, "t", 4, 2)
        for i in range(3):
            await c.send(handle.workflow_id, i, topic="t")
        await c.send(handle.workflow_id, "once", topic="t", idempotency_key="k1")
        await c.send(handle.workflow_id, "once", topic="t", idempotency_key="k1")
        assert await handle.get_result(timeout_seconds=30) == [0, 1, 2, "once"]
        untopical = await c.enqueue({"queue_name": QUEUE, "workflow_name": "recv_n"}, None, 1, 30)
        await c.send(untopical.workflow_id, "no topic")
        assert await untopical.get_result(timeout_seconds=30) == ["no topic"]
        with pytest.raises(WorkflowNotFoundError):
            await c.send("nobody-async", "x")

    run(runtime, scenario)


def test_events(runtime: Runtime) -> None:
    async def scenario(c: AsyncDBOSClient) -> None:
        handle = await c.enqueue({"queue_name": QUEUE, "workflow_name": "event_after_message"}, "k", "t", 30)
        waiting = asyncio.create_task(c.get_event(handle.workflow_id, "k", 30))
        await _waiting(c, 1)
        assert not waiting.done()
        await c.send(handle.workflow_id, {"paid": True}, topic="t")
        assert await waiting == {"paid": True}
        assert await c.get_all_events(handle.workflow_id) == {"k": {"paid": True}}
        assert await c.get_event(handle.workflow_id, "never", 0.2) is None

    run(runtime, scenario)


def test_streams(runtime: Runtime) -> None:
    async def scenario(c: AsyncDBOSClient) -> None:
        live = await c.enqueue({"queue_name": QUEUE, "workflow_name": "stream_values"}, "s", list(range(5)), True, 0.1)
        assert [v async for v in c.read_stream(live.workflow_id, "s", timeout_seconds=30)] == list(range(5))
        assert [v async for v in c.read_stream(live.workflow_id, "s", offset=3)] == [3, 4]
        unclosed = await c.enqueue({"queue_name": QUEUE, "workflow_name": "stream_values"}, "u", ["a"], False, 0.0)
        await unclosed.get_result(timeout_seconds=30)
        assert [v async for v in c.read_stream(unclosed.workflow_id, "u")] == ["a"]
        stuck = await c.enqueue({"queue_name": QUEUE, "workflow_name": "stream_after_message"}, "s", "never", 30)
        reader = c.read_stream(stuck.workflow_id, "s", timeout_seconds=0.3)
        assert await reader.__anext__() == "first"
        with pytest.raises(StreamTimeoutError):
            await reader.__anext__()
        await c.send(stuck.workflow_id, "done", topic="never")
        with pytest.raises(WorkflowNotFoundError):
            [v async for v in c.read_stream("nope-async", "s")]

    run(runtime, scenario)


def test_dedup_cancel_resume(runtime: Runtime, uid: str) -> None:
    async def scenario(c: AsyncDBOSClient) -> None:
        opts = {"queue_name": UNPOLLED_QUEUE, "workflow_name": "echo", "deduplication_id": f"ad-{uid}"}
        first = await c.enqueue(opts, "moved")
        with pytest.raises(DeduplicatedError):
            await c.enqueue(opts)
        await c.cancel_workflow(first.workflow_id)
        with pytest.raises(WorkflowCancelledError):
            await first.get_result(timeout_seconds=5)
        resumed = await c.resume_workflow(first.workflow_id, queue_name=QUEUE)
        assert await resumed.get_result(timeout_seconds=30) == {"args": ["moved"], "kwargs": {}}
        with pytest.raises(ResultTimeoutError):
            await (await c.enqueue({"queue_name": UNPOLLED_QUEUE, "workflow_name": "echo"})).get_result(timeout_seconds=0.2)

    run(runtime, scenario)


@pytest.mark.postgres_only("counts server connections")
def test_ten_thousand_concurrent_waits_with_bounded_connections(runtime: Runtime) -> None:
    n = 10_000

    async def scenario(c: AsyncDBOSClient) -> None:
        handle = await c.enqueue({"queue_name": QUEUE, "workflow_name": "event_after_message"}, "go", "t", 120)
        tasks = [asyncio.create_task(c.get_event(handle.workflow_id, "go", 120)) for _ in range(n)]
        await _waiting(c, n, timeout=120)
        held = await asyncio.to_thread(_count_connections, runtime.url)
        assert held <= 3, f"{held} connections for {n} waits"
        await c.send(handle.workflow_id, "now", topic="t")
        results = await asyncio.gather(*tasks)
        assert results == ["now"] * n
        assert c._hub._waiters == set()

    run(runtime, scenario)


def _count_connections(url: str) -> int:
    dbname = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        row = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND application_name LIKE %s",
            (dbname, f"dbos_client/{__version__}%"),
        ).fetchone()
    return int(row[0])


@pytest.mark.postgres_only("reads pg_stat_activity")
def test_cancelled_waits_leave_nothing_behind(runtime: Runtime) -> None:
    async def scenario(c: AsyncDBOSClient) -> None:
        blocked = await c.enqueue({"queue_name": QUEUE, "workflow_name": "stream_after_message"}, "s", "never", 60)
        reader = c.read_stream(blocked.workflow_id, "s")
        assert await reader.__anext__() == "first"

        async def drain() -> list:
            return [v async for v in reader]

        tasks = [
            asyncio.create_task(c.get_event(blocked.workflow_id, "never", 60)),
            asyncio.create_task(blocked.get_result(timeout_seconds=60)),
            asyncio.create_task(drain()),
        ]
        await _waiting(c, 3)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with pytest.raises(asyncio.CancelledError):
                await task
        assert c._hub._waiters == set() and c._hub._by_payload == {}
        assert await asyncio.to_thread(_busy_connections, runtime.url) == []
        # The client is still fine afterwards.
        await c.send(blocked.workflow_id, "done", topic="never")
        assert await blocked.get_result(timeout_seconds=30) == "ok"

    run(runtime, scenario)


@pytest.mark.postgres_only("reads pg_stat_activity")
def test_cancel_during_a_query_leaves_no_busy_connection(runtime: Runtime) -> None:
    async def scenario(c: AsyncDBOSClient) -> None:
        handle = await c.enqueue({"queue_name": QUEUE, "workflow_name": "set_event_value"}, "k", "x" * 2_000_000)
        await handle.get_result(timeout_seconds=30)
        for delay in (0.0, 0.001, 0.003, 0.01):
            task = asyncio.create_task(c.get_event(handle.workflow_id, "k", 5))
            await asyncio.sleep(delay)
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        assert await c.get_event(handle.workflow_id, "k", 5) == "x" * 2_000_000
        await asyncio.sleep(0.2)
        assert await asyncio.to_thread(_busy_connections, runtime.url) == []

    run(runtime, scenario)


def test_dbos_async_names_on_the_sync_client(runtime: Runtime) -> None:
    client = DBOSClient(system_database_url=runtime.url)

    async def main() -> None:
        handle = await client.enqueue_async({"queue_name": QUEUE, "workflow_name": "event_after_message"}, "k", "t", 30)
        waiting = asyncio.create_task(client.get_event_async(handle.workflow_id, "k", 30))
        await client.send_async(handle.workflow_id, "v", "t", "key-1")
        assert await waiting == "v"
        assert await client.get_all_events_async(handle.workflow_id) == {"k": "v"}
        again = await client.retrieve_workflow_async(handle.workflow_id)
        assert await again.get_result() == "v"
        stream = await client.enqueue_async({"queue_name": QUEUE, "workflow_name": "stream_values"}, "s", [1, 2], True, 0.0)
        assert [v async for v in client.read_stream_async(stream.workflow_id, "s")] == [1, 2]
        slow = await client.enqueue_async({"queue_name": UNPOLLED_QUEUE, "workflow_name": "echo"})
        await client.cancel_workflow_async(slow.workflow_id)
        await client.resume_workflow_async(slow.workflow_id, queue_name=QUEUE)
        assert (await slow.get_result(timeout_seconds=30)) == {"args": [], "kwargs": {}}

    asyncio.run(main())
    asyncio.run(main())  # a second event loop gets its own async twin
    client.close()


def test_blocking_call_in_an_event_loop_warns(runtime: Runtime, caplog: pytest.LogCaptureFixture) -> None:
    client = DBOSClient(system_database_url=runtime.url)

    async def main() -> None:
        handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "echo"})
        client.get_event(handle.workflow_id, "k", 0.1)

    with caplog.at_level(logging.WARNING, logger="dbos_client"):
        asyncio.run(main())
    client.close()
    messages = [r.getMessage() for r in caplog.records]
    assert any("DBOSClient.enqueue blocks the running event loop" in m and "enqueue_async" in m for m in messages)
    assert any("get_event_async" in m for m in messages)
