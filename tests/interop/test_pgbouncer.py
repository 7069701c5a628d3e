"""The client through a real PgBouncer 1.18, in transaction and in session pooling mode.

A real DBOS 3.4.0 app runs on the database directly (it keeps its own connections); only
the client goes through the pooler, with no setting changed. Every call is repeated more
than five times, psycopg's default prepare threshold: a client that prepared statements
on the server would meet ``DuplicatePreparedStatement`` (or "prepared statement does not
exist") as soon as a repeat landed on another server connection in transaction mode.

LISTEN through a transaction pooler is swallowed. The client notices and polls; with
``listener_database_url`` pointing at Postgres itself, its listener delivers again.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from conftest import ADMIN_URL, QUEUE
from pgbouncer import POOL_MODES, PgBouncer, require_pgbouncer
from psycopg.conninfo import conninfo_to_dict
from runtime import DBOSRuntime, create_database, drop_database, runtime_python

from dbos_client import AsyncDBOSClient, DBOSClient
from dbos_client.models import PollPolicy

pytestmark = pytest.mark.interop

#: More than psycopg's prepare_threshold (5): the sixth run of a statement would prepare it.
ROUNDS = 12
THREADS = 50
#: A poller this slow cannot explain a sub-2-second wake: only the listener can.
SLOW_POLL = PollPolicy(interval_seconds=5, max_interval_seconds=5)


class Setup:
    def __init__(self, direct_url: str, bouncer: PgBouncer) -> None:
        self.direct_url = direct_url
        self.bouncer = bouncer
        self.url = bouncer.url_for(direct_url)  # what the client is given
        self.mode = bouncer.pool_mode


@pytest.fixture(scope="module")
def direct_url() -> Iterator[str]:
    """A fresh database with a real DBOS 3.4.0 app on it, connected directly."""
    require_pgbouncer()
    url = create_database(ADMIN_URL)
    app = DBOSRuntime(runtime_python("3.4.0"), url)
    try:
        app.start()
        yield url
    finally:
        app.stop()
        drop_database(url, ADMIN_URL)


@pytest.fixture(scope="module", params=POOL_MODES)
def bouncer(request: pytest.FixtureRequest) -> Iterator[PgBouncer]:
    require_pgbouncer()
    with PgBouncer(request.param) as b:
        yield b


@pytest.fixture
def setup(direct_url: str, bouncer: PgBouncer) -> Setup:
    return Setup(direct_url, bouncer)


@pytest.fixture
def client(setup: Setup) -> Iterator[DBOSClient]:
    with DBOSClient(system_database_url=setup.url) as c:
        yield c


def _enqueue(client: DBOSClient, workflow: str, *args: Any, **kwargs: Any) -> Any:
    return client.enqueue({"queue_name": QUEUE, "workflow_name": workflow}, *args, **kwargs)


def _messages(direct_url: str, workflow_id: str) -> tuple[int, int]:
    """(messages stored for the workflow, of which not consumed), read on the server directly."""
    with psycopg.connect(direct_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE NOT consumed) FROM dbos.notifications WHERE destination_uuid = %s",
            (workflow_id,),
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def _in_thread(fn: Any, *args: Any) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []

    def target() -> None:
        try:
            out.append(fn(*args))
        except BaseException as exc:
            out.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    return thread, out


# --------------------------------------------------------------------------------------
# The sync client
# --------------------------------------------------------------------------------------


def test_the_pooler_is_in_the_path(setup: Setup, client: DBOSClient) -> None:
    """The client's connections come from PgBouncer, not from Postgres directly."""
    for _ in range(ROUNDS):
        client.get_all_events(_enqueue(client, "set_event_value", "k", 1).workflow_id)
    with psycopg.connect(setup.url, autocommit=True) as conn:
        port = conn.execute("SELECT inet_server_port()").fetchone()[0]  # type: ignore[index]
    assert port == 5432 and conninfo_to_dict(setup.url)["port"] == str(setup.bouncer.port)
    assert setup.bouncer.server_connections(conninfo_to_dict(setup.url)["dbname"]) >= 1


def test_sends_with_and_without_key_arrive_exactly_once(setup: Setup, client: DBOSClient, uid: str) -> None:
    handle = _enqueue(client, "recv_n", "t", ROUNDS + 1, 60)
    for _ in range(ROUNDS):
        client.send(handle.workflow_id, "keyed", topic="t", idempotency_key=f"once-{uid}")
    for i in range(ROUNDS):
        client.send(handle.workflow_id, i, topic="t")
    assert handle.get_result(timeout_seconds=60) == ["keyed", *range(ROUNDS)]
    assert _messages(setup.direct_url, handle.workflow_id) == (ROUNDS + 1, 0)


def test_enqueue_and_get_result_repeatedly(client: DBOSClient) -> None:
    for i in range(ROUNDS):
        handle = _enqueue(client, "echo", i, round=i)
        assert handle.get_result(timeout_seconds=30) == {"args": [i], "kwargs": {"round": i}}
        assert handle.get_status().status == "SUCCESS"
        assert client.retrieve_workflow(handle.workflow_id).get_result() == {"args": [i], "kwargs": {"round": i}}


def test_get_event_is_woken_by_the_workflow(client: DBOSClient) -> None:
    for i in range(ROUNDS // 2):
        handle = _enqueue(client, "event_after_message", "k", "t", 60)
        thread, out = _in_thread(client.get_event, handle.workflow_id, "k", 60)
        time.sleep(0.3)  # blocked by now: the value exists only after the send
        client.send(handle.workflow_id, {"round": i}, topic="t")
        thread.join(60)
        assert out == [{"round": i}]


def test_live_read_stream_of_20_values(client: DBOSClient) -> None:
    handle = _enqueue(client, "stream_values", "s", list(range(20)), True, 0.05)
    assert list(client.read_stream(handle.workflow_id, "s", timeout_seconds=60)) == list(range(20))
    assert handle.get_result(timeout_seconds=30) == 20


def test_get_all_events_and_list_workflows_repeatedly(client: DBOSClient) -> None:
    handle = _enqueue(client, "publish_events", 3, 0)
    assert handle.get_result(timeout_seconds=30) == 3
    for _ in range(ROUNDS):
        assert client.get_all_events(handle.workflow_id) == {"progress": 2, "done": {"count": 3}}
        (status,) = client.list_workflows(workflow_ids=[handle.workflow_id])
        assert status.status == "SUCCESS" and status.output == 3
        assert client.list_workflows(name="publish_events", limit=5, load_input=False, load_output=False)


def test_50_threads_wait_on_results_at_once(client: DBOSClient) -> None:
    handles = [_enqueue(client, "sleep_wf", 0.5) for _ in range(THREADS)]
    waits = [_in_thread(lambda h=h: h.get_result(timeout_seconds=60)) for h in handles]
    for thread, _ in waits:
        thread.join(90)
    assert [out for _, out in waits] == [[0.5]] * THREADS


def test_50_threads_wait_on_events_at_once(client: DBOSClient) -> None:
    handle = _enqueue(client, "publish_keys", "key", THREADS, "go")
    waits = [_in_thread(client.get_event, handle.workflow_id, f"key{i}", 60) for i in range(THREADS)]
    time.sleep(0.5)
    client.send(handle.workflow_id, "go", topic="go")
    for thread, _ in waits:
        thread.join(90)
    assert [out for _, out in waits] == [[i] for i in range(THREADS)]


# --------------------------------------------------------------------------------------
# The async client
# --------------------------------------------------------------------------------------


def test_async_client_through_the_pooler(setup: Setup, uid: str) -> None:
    async def scenario() -> None:
        async with AsyncDBOSClient(system_database_url=setup.url) as c:

            async def enqueue(workflow: str, *args: Any) -> Any:
                return await c.enqueue({"queue_name": QUEUE, "workflow_name": workflow}, *args)

            # Sends, keyed and not: exactly once.
            receiver = await enqueue("recv_n", "t", ROUNDS + 1, 60)
            for _ in range(ROUNDS):
                await c.send(receiver.workflow_id, "keyed", topic="t", idempotency_key=f"async-once-{uid}")
            for i in range(ROUNDS):
                await c.send(receiver.workflow_id, i, topic="t")
            assert await receiver.get_result(timeout_seconds=60) == ["keyed", *range(ROUNDS)]
            assert _messages(setup.direct_url, receiver.workflow_id) == (ROUNDS + 1, 0)

            # Enqueue and get_result, round after round.
            for i in range(ROUNDS):
                handle = await enqueue("echo", i)
                assert await handle.get_result(timeout_seconds=30) == {"args": [i], "kwargs": {}}
                assert (await handle.get_status()).status == "SUCCESS"

            # A get_event woken by the workflow.
            for i in range(ROUNDS // 2):
                handle = await enqueue("event_after_message", "k", "t", 60)
                waiter = asyncio.ensure_future(c.get_event(handle.workflow_id, "k", 60))
                await asyncio.sleep(0.3)
                await c.send(handle.workflow_id, {"round": i}, topic="t")
                assert await asyncio.wait_for(waiter, 60) == {"round": i}

            # A live stream of 20 values.
            streamer = await enqueue("stream_values", "s", list(range(20)), True, 0.05)
            assert [v async for v in c.read_stream(streamer.workflow_id, "s", timeout_seconds=60)] == list(range(20))

            # get_all_events and list_workflows, again and again.
            publisher = await enqueue("publish_events", 3, 0)
            assert await publisher.get_result(timeout_seconds=30) == 3
            for _ in range(ROUNDS):
                assert await c.get_all_events(publisher.workflow_id) == {"progress": 2, "done": {"count": 3}}
                (status,) = await c.list_workflows(workflow_ids=[publisher.workflow_id])
                assert status.output == 3

            # 50 tasks at once: results, then events.
            handles = [await enqueue("sleep_wf", 0.5) for _ in range(THREADS)]
            assert await asyncio.gather(*(h.get_result(timeout_seconds=60) for h in handles)) == [0.5] * THREADS
            keys = await enqueue("publish_keys", "key", THREADS, "go")
            waits = asyncio.gather(*(c.get_event(keys.workflow_id, f"key{i}", 60) for i in range(THREADS)))
            await asyncio.sleep(0.5)
            await c.send(keys.workflow_id, "go", topic="go")
            assert await asyncio.wait_for(waits, 90) == list(range(THREADS))

    asyncio.run(scenario())


def test_sync_clients_async_names_through_the_pooler(client: DBOSClient) -> None:
    async def scenario() -> None:
        for i in range(ROUNDS):
            handle = await client.enqueue_async({"queue_name": QUEUE, "workflow_name": "set_event_value"}, "k", i)
            assert await client.get_event_async(handle.workflow_id, "k", 30) == i
            assert await client.get_all_events_async(handle.workflow_id) == {"k": i}

    asyncio.run(scenario())


# --------------------------------------------------------------------------------------
# listener_database_url: the listener goes around a transaction pooler
# --------------------------------------------------------------------------------------


def _stamped_wake(client: DBOSClient, pause: float = 0.5) -> float:
    """Seconds from the workflow's set_event to get_event's return (the value is stamped)."""
    handle = _enqueue(client, "event_stamped_after_message", "k", "t", 60)
    thread, out = _in_thread(client.get_event, handle.workflow_id, "k", 60)
    time.sleep(pause)
    client.send(handle.workflow_id, "wake", topic="t")
    thread.join(60)
    returned = time.time()
    (value,) = out
    assert isinstance(value, dict) and value["msg"] == "wake", value
    return returned - float(value["at"])


async def _stamped_wake_async(client: AsyncDBOSClient, pause: float = 0.5) -> float:
    """``_stamped_wake`` for AsyncDBOSClient."""
    handle = await client.enqueue({"queue_name": QUEUE, "workflow_name": "event_stamped_after_message"}, "k", "t", 60)
    waiter = asyncio.ensure_future(client.get_event(handle.workflow_id, "k", 60))
    await asyncio.sleep(pause)
    await client.send(handle.workflow_id, "wake", topic="t")
    value = await asyncio.wait_for(waiter, 60)
    return time.time() - float(value["at"])


#: For the tests about one pooling mode only (the module's bouncer fixture, narrowed).
transaction_mode = pytest.mark.parametrize("bouncer", ["transaction"], indirect=True)
session_mode = pytest.mark.parametrize("bouncer", ["session"], indirect=True)


@transaction_mode
def test_listener_url_around_a_transaction_pooler_wakes_fast(setup: Setup) -> None:
    with DBOSClient(system_database_url=setup.url, listener_database_url=setup.direct_url, poll_policy=SLOW_POLL) as c:
        c.get_all_events(_enqueue(c, "set_event_value", "warm", 1).workflow_id)
        wakes = [_stamped_wake(c) for _ in range(3)]
    # The poller ticks every 5 s: three wakes under 2 s each came from the listener.
    assert max(wakes) < 2.0, wakes


@transaction_mode
def test_async_listener_url_around_a_transaction_pooler_wakes_fast(setup: Setup) -> None:

    async def scenario() -> list[float]:
        async with AsyncDBOSClient(
            system_database_url=setup.url, listener_database_url=setup.direct_url, poll_policy=SLOW_POLL
        ) as c:
            return [await _stamped_wake_async(c) for _ in range(3)]

    wakes = asyncio.run(scenario())
    assert max(wakes) < 2.0, wakes


@transaction_mode
def test_without_listener_url_a_transaction_pooler_still_wakes_by_polling(setup: Setup) -> None:
    with DBOSClient(system_database_url=setup.url, poll_policy=SLOW_POLL) as c:
        wake = _stamped_wake(c)
    # LISTEN went through the pooler and was lost; the 5 s poller found the value.
    assert wake < 30, wake


@transaction_mode
def test_a_transaction_pooler_is_not_trusted_to_deliver_notifications(setup: Setup) -> None:
    """The listener's self-test must not pass through a transaction pooler.

    Sent on the listener's own connection, the self-test NOTIFY runs on the server
    connection that PgBouncer lends it for that statement, and Postgres hands the
    notification back in the same reply: the test passed, the client trusted
    notifications and polled at its slow tick, and the application's NOTIFYs never came.
    With a 30 s slow tick, a wake under 2 s shows the client polls at its fast tick.
    """
    with DBOSClient(system_database_url=setup.url, poll_policy=PollPolicy(0.05, 30)) as c:
        wakes = [_stamped_wake(c, pause=3.0) for _ in range(2)]  # the self-test has had its 2 s
    assert max(wakes) < 2.0, wakes


@transaction_mode
def test_async_client_does_not_trust_a_transaction_pooler_either(setup: Setup) -> None:
    """The same for AsyncDBOSClient, whose listener is an asyncio task of its own."""

    async def scenario() -> list[float]:
        async with AsyncDBOSClient(system_database_url=setup.url, poll_policy=PollPolicy(0.05, 30)) as c:
            return [await _stamped_wake_async(c, pause=3.0) for _ in range(2)]  # the self-test has had its 2 s

    wakes = asyncio.run(scenario())
    assert max(wakes) < 2.0, wakes


@transaction_mode
def test_use_listen_notify_false_opens_no_listener_through_the_pooler(setup: Setup) -> None:
    """What the README advises behind a transaction pooler with no listener URL."""
    with DBOSClient(system_database_url=setup.url, use_listen_notify=False) as c:
        handle = _enqueue(c, "event_after_message", "k", "t", 60)
        thread, out = _in_thread(c.get_event, handle.workflow_id, "k", 60)
        time.sleep(0.5)
        c.send(handle.workflow_id, "polled", topic="t")
        thread.join(60)
        assert out == ["polled"]
        names = [row["application_name"] for row in setup.bouncer.admin("SHOW CLIENTS")]
    assert any(name.startswith("dbos_client/") for name in names), names
    assert not any(name.endswith(" listener") for name in names), names


@session_mode
def test_session_pooler_keeps_listen(setup: Setup) -> None:
    with DBOSClient(system_database_url=setup.url, poll_policy=SLOW_POLL) as c:
        c.get_all_events(_enqueue(c, "set_event_value", "warm", 1).workflow_id)
        wakes = [_stamped_wake(c) for _ in range(3)]
    # A session pooler hands the listener one server connection for good: LISTEN works.
    assert max(wakes) < 2.0, wakes
