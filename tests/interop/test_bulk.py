"""send_bulk, enqueue_bulk, wait_first and wait_all against a real DBOS runtime (sync and async).

What the runtime does is the proof: workflows recv() what send_bulk wrote, the runtime
dequeues and runs what enqueue_bulk wrote, and wait_first / wait_all return when the
runtime's workflows finish. The fan-out tests count the statements the client itself
runs while 1,000 handles wait: one shared poller query per tick, not one per handle.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from conftest import QUEUE, UNPOLLED_QUEUE, Runtime

from dbos_client import (
    AsyncDBOSClient,
    DBOSClient,
    DeduplicatedError,
    EnqueueItem,
    InvalidArgumentError,
    PollPolicy,
    SendMessage,
    WaitTimeoutError,
    WorkflowIdConflictError,
    WorkflowNotFoundError,
)

pytestmark = pytest.mark.interop


def _receiver(client: DBOSClient, topic: str | None, n: int, timeout: float = 30) -> Any:
    return client.enqueue({"queue_name": QUEUE, "workflow_name": "recv_n"}, topic, n, timeout)


def _parked(client: DBOSClient, n: int, uid: str) -> list[Any]:
    """n workflows on a queue no application polls: they stay ENQUEUED."""
    items = [EnqueueItem({"queue_name": UNPOLLED_QUEUE, "workflow_name": "echo", "workflow_id": f"p-{uid}-{i}"}, (i,)) for i in range(n)]
    return client.enqueue_bulk(items)


# -- send_bulk --------------------------------------------------------------------------


def test_send_bulk_reaches_every_receiver_in_order(client: DBOSClient) -> None:
    a, b = _receiver(client, "t", 3), _receiver(client, None, 2)
    client.send_bulk([
        SendMessage(a.workflow_id, {"n": 0}, "t"),
        SendMessage(b.workflow_id, "b0"),
        SendMessage(a.workflow_id, {"n": 1}, "t"),
        SendMessage(b.workflow_id, ("b1", 1)),
        SendMessage(a.workflow_id, {"n": 2}, "t"),
    ])  # fmt: skip
    assert a.get_result(timeout_seconds=30) == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert b.get_result(timeout_seconds=30) == ["b0", ("b1", 1)]


def test_send_bulk_takes_dbos_send_message_and_portable_json(client: DBOSClient) -> None:
    dbos = pytest.importorskip("dbos")
    a = _receiver(client, "t", 2)
    client.send_bulk([dbos.SendMessage(a.workflow_id, {"x": 1}, "t"), SendMessage(a.workflow_id, [2], "t")],
                     serialization_type="portable")  # fmt: skip
    assert a.get_result(timeout_seconds=30) == [{"x": 1}, [2]]


def test_send_bulk_to_an_unknown_workflow_sends_nothing(client: DBOSClient, uid: str) -> None:
    a = _receiver(client, "t", 1, timeout=2)
    with pytest.raises(WorkflowNotFoundError) as info:
        client.send_bulk([SendMessage(a.workflow_id, "never", "t"), SendMessage(f"nobody-{uid}", "x", "t")])
    assert info.value.workflow_id == f"nobody-{uid}"  # only the unknown one is named
    assert a.get_result(timeout_seconds=30) == [None]


def test_send_bulk_idempotency_keys(client: DBOSClient) -> None:
    a, b = _receiver(client, "t", 3, timeout=2), _receiver(client, "t", 2, timeout=2)
    batch = [SendMessage(a.workflow_id, "k1", "t", "key-1"), SendMessage(b.workflow_id, "k1", "t", "key-2"),
             SendMessage(a.workflow_id, "k2", "t", "key-3")]  # fmt: skip
    client.send_bulk(batch)
    client.send_bulk(batch)  # the same keys: delivered once
    with pytest.raises(InvalidArgumentError, match="duplicate idempotency keys: dup"):
        client.send_bulk([SendMessage(a.workflow_id, "x", "t", "dup"), SendMessage(b.workflow_id, "y", "t", "dup")])
    assert a.get_result(timeout_seconds=30) == ["k1", "k2", None]
    assert b.get_result(timeout_seconds=30) == ["k1", None]


def test_send_bulk_refuses_bad_input_before_writing(client: DBOSClient) -> None:
    a = _receiver(client, "t", 1, timeout=2)
    with pytest.raises(InvalidArgumentError, match=r"messages\[1\].destination_id"):
        client.send_bulk([SendMessage(a.workflow_id, "x", "t"), SendMessage("", "y")])
    with pytest.raises(InvalidArgumentError, match="shard"):
        client.send_bulk([SendMessage(a.workflow_id, "x", "t", shard_key="s")])
    client.send_bulk([])  # nothing to do
    assert a.get_result(timeout_seconds=30) == [None]


def test_send_bulk_to_forks(runtime: Runtime, client: DBOSClient) -> None:
    if not runtime.is_v3:
        pytest.skip("forks made with dbos 3.4's own client")
    dbos = pytest.importorskip("dbos")
    a = _receiver(client, "t", 1, timeout=60)
    theirs = dbos.DBOSClient(system_database_url=runtime.url)
    try:
        fork = theirs.fork_workflow(a.workflow_id, 1)  # re-runs the recv
        deadline = time.monotonic() + 30
        while client.retrieve_workflow(fork.workflow_id).get_status().status != "PENDING":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        client.send_bulk([SendMessage(a.workflow_id, "to all", "t")], send_to_forks=True)
        assert a.get_result(timeout_seconds=30) == ["to all"]
        assert client.retrieve_workflow(fork.workflow_id).get_result(timeout_seconds=30) == ["to all"]
    finally:
        theirs.destroy()


def test_send_to_forks(runtime: Runtime, client: DBOSClient) -> None:
    """send(send_to_forks=True), DBOS's keyword on send: the destination and its forks get it."""
    if not runtime.is_v3:
        pytest.skip("forks need a 3.x system database")
    a = _receiver(client, "t", 1, timeout=60)
    fork = client.fork_workflow(a.workflow_id, 1)  # re-runs the recv
    deadline = time.monotonic() + 30
    while fork.get_status().status != "PENDING":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    client.send(a.workflow_id, "to all", "t", send_to_forks=True)
    assert a.get_result(timeout_seconds=30) == ["to all"]
    assert fork.get_result(timeout_seconds=30) == ["to all"]


def test_send_bulk_async(runtime: Runtime, client: DBOSClient) -> None:
    a, b = _receiver(client, "t", 1), _receiver(client, "t", 1)

    async def main() -> None:
        async with AsyncDBOSClient(system_database_url=runtime.url) as ac:
            await ac.send_bulk([SendMessage(a.workflow_id, "async", "t")])
            with pytest.raises(WorkflowNotFoundError):
                await ac.send_bulk([SendMessage("nobody-at-all", "x", "t")])
        await client.send_bulk_async([SendMessage(b.workflow_id, "twin", "t")])

    asyncio.run(main())
    assert a.get_result(timeout_seconds=30) == ["async"]
    assert b.get_result(timeout_seconds=30) == ["twin"]


# -- enqueue_bulk -----------------------------------------------------------------------


def test_enqueue_bulk_runs_every_workflow(client: DBOSClient) -> None:
    items = [EnqueueItem({"queue_name": QUEUE, "workflow_name": "echo"}, (i,), {"k": i}) for i in range(20)]
    handles = client.enqueue_bulk(items)
    assert len({h.workflow_id for h in handles}) == 20
    for i, h in enumerate(handles):
        assert h.get_result(timeout_seconds=30) == {"args": [i], "kwargs": {"k": i}}


def test_enqueue_bulk_is_all_or_nothing(client: DBOSClient, uid: str) -> None:
    taken = client.enqueue({"queue_name": QUEUE, "workflow_name": "echo", "workflow_id": f"taken-{uid}"}, 0)
    taken.get_result(timeout_seconds=30)
    opts = {"queue_name": QUEUE, "workflow_name": "echo"}
    with pytest.raises(WorkflowIdConflictError):
        client.enqueue_bulk([
            EnqueueItem({**opts, "workflow_id": f"new-{uid}"}, (1,)),
            ({**opts, "workflow_name": "fail", "workflow_id": f"taken-{uid}"}, ("x",)),
        ])  # fmt: skip
    with pytest.raises(WorkflowNotFoundError):
        client.retrieve_workflow(f"new-{uid}")
    # The same function under a taken id attaches, as enqueue does.
    handles = client.enqueue_bulk([({**opts, "workflow_id": f"taken-{uid}"}, (0,)), ({**opts, "workflow_id": f"new-{uid}"}, (1,))])
    assert [h.get_result(timeout_seconds=30) for h in handles] == [{"args": [0], "kwargs": {}}, {"args": [1], "kwargs": {}}]


def test_enqueue_bulk_deduplication_refuses_the_batch(client: DBOSClient, uid: str) -> None:
    opts = {"queue_name": UNPOLLED_QUEUE, "workflow_name": "echo"}
    client.enqueue({**opts, "deduplication_id": f"d-{uid}"}, 0)
    with pytest.raises(DeduplicatedError) as info:
        client.enqueue_bulk([({**opts, "workflow_id": f"ok-{uid}"}, (1,)),
                             ({**opts, "workflow_id": f"dup-{uid}", "deduplication_id": f"d-{uid}"}, (2,))])  # fmt: skip
    assert info.value.deduplication_id == f"d-{uid}"
    for wid in (f"ok-{uid}", f"dup-{uid}"):
        with pytest.raises(WorkflowNotFoundError):
            client.retrieve_workflow(wid)
    with pytest.raises(InvalidArgumentError, match="duplicate workflow ids"):
        client.enqueue_bulk([({**opts, "workflow_id": "same"}, ()), ({**opts, "workflow_id": "same"}, ())])


def test_enqueue_bulk_async(runtime: Runtime) -> None:
    async def main() -> list[Any]:
        async with AsyncDBOSClient(system_database_url=runtime.url) as ac:
            handles = await ac.enqueue_bulk([EnqueueItem({"queue_name": QUEUE, "workflow_name": "echo"}, (i,)) for i in range(5)])
            return [await h.get_result(timeout_seconds=30) for h in handles]

    assert asyncio.run(main()) == [{"args": [i], "kwargs": {}} for i in range(5)]


# -- wait_first, wait_all ---------------------------------------------------------------


def _sleeper(client: DBOSClient, seconds: float) -> Any:
    return client.enqueue({"queue_name": QUEUE, "workflow_name": "sleep_wf"}, seconds)


def test_wait_first_returns_the_first_to_finish(client: DBOSClient) -> None:
    slow, fast = _sleeper(client, 3), _sleeper(client, 0)
    started = time.monotonic()
    assert client.wait_first([slow, fast], polling_interval_sec=0.01) is fast
    assert time.monotonic() - started < 2.5
    assert fast.get_result() == 0
    assert client.wait_first([slow, fast]) is fast  # already finished: one read
    assert client.wait_all([slow, fast]) == [slow, fast]
    assert slow.get_status().status == "SUCCESS"


def test_wait_first_checks_and_times_out(client: DBOSClient, uid: str) -> None:
    parked = _parked(client, 2, uid)
    with pytest.raises(ValueError, match="must not be empty"):
        client.wait_first([])
    with pytest.raises(ValueError, match="duplicate workflow IDs"):
        client.wait_first([parked[0], parked[0]])
    with pytest.raises(WaitTimeoutError):
        client.wait_first(parked, timeout_seconds=0.3)
    with pytest.raises(WaitTimeoutError) as info:
        client.wait_all(parked, timeout_seconds=0.2)
    assert sorted(info.value.workflow_ids) == sorted(h.workflow_id for h in parked)
    client.cancel_workflow(parked[1].workflow_id)
    assert client.wait_first(parked, timeout_seconds=10) is parked[1]  # CANCELLED counts as finished
    with pytest.raises(WorkflowNotFoundError):
        client.wait_all([parked[1], type(parked[1])(client, f"nobody-{uid}")])


def _count_statements(client: Any, attribute: str) -> list[Any]:
    """Record every statement the client runs from now on (the ops' and the poller's)."""
    seen: list[Any] = []
    original = getattr(client, attribute)

    def counting(query: Any, *args: Any) -> Any:
        seen.append(query)
        return original(query, *args)

    setattr(client, attribute, counting)
    return seen


def test_a_thousand_handles_cost_one_poller_query_per_tick(runtime: Runtime, uid: str) -> None:
    with DBOSClient(system_database_url=runtime.url, poll_policy=PollPolicy(interval_seconds=0.05)) as client:
        handles = [*_parked(client, 1000, uid), _sleeper(client, 1.5)]
        seen = _count_statements(client, "_execute")
        started = time.monotonic()
        assert client.wait_first(handles) is handles[-1]
        elapsed = time.monotonic() - started
        polls = [q for q in seen if q.statement == client._q.ready_waits]
        ticks = elapsed / 0.05
        assert polls and all(len(q.params["fw"]) == 1001 for q in polls)
        # One poller query per tick (at most), plus the op's first read and its re-read on wake-up.
        others = [q.statement[:40] for q in seen if q not in polls and "pg_notify" not in str(q.statement)]
        assert len(polls) <= ticks + 2 and len(others) <= 3, (others, len(polls), ticks)
        client.cancel_workflows([h.workflow_id for h in handles[:-1]])


def test_a_thousand_handles_async(runtime: Runtime, uid: str) -> None:
    with DBOSClient(system_database_url=runtime.url) as sync_client:
        handles = [*_parked(sync_client, 1000, uid), _sleeper(sync_client, 1.0)]

    async def main() -> None:
        policy = PollPolicy(interval_seconds=0.05)
        async with AsyncDBOSClient(system_database_url=runtime.url, poll_policy=policy) as ac:
            mine = [await ac.retrieve_workflow(h.workflow_id) for h in (handles[0], handles[-1])]
            mine = [mine[0], *[type(mine[0])(ac, h.workflow_id) for h in handles[1:-1]], mine[1]]
            # SQLite's async poller runs its query on the driver, in a worker thread.
            seen = _count_statements(ac._sqlite, "execute") if runtime.is_sqlite else _count_statements(ac, "_execute")
            started = time.monotonic()
            assert await ac.wait_first(mine) is mine[-1]
            elapsed = time.monotonic() - started
            polls = [q for q in seen if q.statement == ac._q.ready_waits]
            others = [q.statement[:40] for q in seen if q not in polls and "pg_notify" not in str(q.statement)]
            assert polls and len(polls) <= elapsed / 0.05 + 2 and len(others) <= 3, (others, len(polls))
            assert await ac.wait_all([mine[-1]]) == [mine[-1]]
            await ac.cancel_workflows([h.workflow_id for h in mine[:-1]])
            assert await ac.wait_all(mine, timeout_seconds=10) == mine

    asyncio.run(main())


def test_wait_first_async_on_dbos_client(client: DBOSClient) -> None:
    slow, fast = _sleeper(client, 3), _sleeper(client, 0)

    async def main() -> None:
        a_slow = await client.retrieve_workflow_async(slow.workflow_id)
        a_fast = await client.retrieve_workflow_async(fast.workflow_id)
        assert await client.wait_first_async([a_slow, a_fast]) is a_fast
        assert await a_fast.get_result() == 0
        assert await client.wait_all_async([a_slow, a_fast], timeout_seconds=30) == [a_slow, a_fast]

    asyncio.run(main())


def test_a_cancelled_wait_first_async_leaves_nothing_behind(runtime: Runtime, uid: str) -> None:
    with DBOSClient(system_database_url=runtime.url) as sync_client:
        parked = _parked(sync_client, 3, uid)

    async def main() -> None:
        async with AsyncDBOSClient(system_database_url=runtime.url) as ac:
            handles = [await ac.retrieve_workflow(h.workflow_id) for h in parked]
            task = asyncio.create_task(ac.wait_first(handles, polling_interval_sec=0.01))
            deadline = time.monotonic() + 10
            while ac._hub is None or not any(w.waiting for w in list(ac._hub._waiters)):
                assert time.monotonic() < deadline
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert not ac._hub._waiters  # unsubscribed: the poller asks for none of them
            assert (await asyncio.wait_for(handles[0].get_status(), 2)).status == "ENQUEUED"
            await ac.cancel_workflows([h.workflow_id for h in handles])
            assert await ac.wait_first(handles, timeout_seconds=10) in handles

    asyncio.run(main())
