"""The wait machinery against a real runtime: listener outages, many keys, no LISTEN, no NOTIFY.

None of these tests is timed: latency is measured by benchmarks/bench.py, not asserted here.
"""

from __future__ import annotations

import asyncio
import threading
import time

import psycopg
import pytest
from conftest import ADMIN_URL, QUEUE, Runtime, _versions, terminate_backends
from runtime import DBOSRuntime, create_database, drop_database, runtime_python

from dbos_client import (
    AsyncDBOSClient,
    DBOSClient,
    DBOSClientError,
    InvalidArgumentError,
    ResultTimeoutError,
    StreamTimeoutError,
    __version__,
)

pytestmark = pytest.mark.interop
LISTENER = f"dbos_client/{__version__} listener"


def _until(predicate, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition never became true"
        time.sleep(0.02)


def _blocked_get_event(client: DBOSClient, wid: str, key: str, timeout: float = 60) -> tuple[threading.Thread, list]:
    out: list = []
    thread = threading.Thread(target=lambda: out.append(client.get_event(wid, key, timeout)))
    thread.start()
    return thread, out


def _waiting(client: DBOSClient) -> int:
    hub = client._hub
    return 0 if hub is None else sum(1 for w in list(hub._waiters) if w.waiting)


@pytest.mark.postgres_only("LISTEN/NOTIFY")
def test_value_published_while_the_listener_is_down_is_delivered(runtime: Runtime, client: DBOSClient) -> None:
    handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "event_after_message"}, "k", "t", 60)
    thread, out = _blocked_get_event(client, handle.workflow_id, "k")
    _until(lambda: client._hub is not None and client._hub._listening and _waiting(client) == 1)
    assert terminate_backends(runtime.url, LISTENER) == 1
    client.send(handle.workflow_id, "published during the outage", topic="t")
    thread.join(60)
    assert out == ["published during the outage"]
    _until(lambda: client._hub._listening)  # and the listener came back by itself


@pytest.mark.postgres_only("LISTEN/NOTIFY")
def test_async_listener_outage_is_survived_on_the_loop(runtime: Runtime) -> None:
    """AsyncDBOSClient's listener task reconnects by itself, and what was published meanwhile arrives."""

    async def scenario() -> None:
        async with AsyncDBOSClient(system_database_url=runtime.url) as client:
            handle = await client.enqueue({"queue_name": QUEUE, "workflow_name": "event_after_message"}, "k", "t", 60)
            task = asyncio.create_task(client.get_event(handle.workflow_id, "k", 60))
            while not (client._hub is not None and client._hub.trusted and any(w.waiting for w in client._hub._waiters)):
                await asyncio.sleep(0.02)
            assert await asyncio.to_thread(terminate_backends, runtime.url, LISTENER) == 1
            await client.send(handle.workflow_id, "published during the outage", topic="t")
            assert await asyncio.wait_for(task, 60) == "published during the outage"
            deadline = time.monotonic() + 30
            while not client._hub._listening:  # and the listener came back by itself
                assert time.monotonic() < deadline, "the listener never came back"
                await asyncio.sleep(0.02)

    asyncio.run(scenario())


def test_a_reader_beyond_int4_offsets_does_not_break_polling_for_the_others(runtime: Runtime) -> None:
    """The poller sends stream offsets as int[]: one reader at the last int4 offset must not fail
    it for all, and one past it is refused before it reaches the shared query (issue 16)."""
    with DBOSClient(system_database_url=runtime.url, use_listen_notify=False) as client:
        handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "event_after_message"}, "k", "t", 60)
        with pytest.raises(InvalidArgumentError, match="offset must be an integer from 0 to 2147483647"):
            next(iter(client.read_stream(handle.workflow_id, "s", offset=2**31)))
        far: list = []
        reader = threading.Thread(target=lambda: far.extend(client.read_stream(handle.workflow_id, "s", offset=2**31 - 1)))
        reader.start()
        thread, out = _blocked_get_event(client, handle.workflow_id, "k")
        _until(lambda: _waiting(client) == 2)
        client.send(handle.workflow_id, "found by polling", topic="t")
        thread.join(30)
        assert out == ["found by polling"]
        reader.join(30)  # the workflow ended: the far reader's stream is over
        assert not reader.is_alive() and far == []


def test_waits_on_500_different_keys_all_complete(client: DBOSClient) -> None:
    n = 500
    handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "publish_keys"}, "key", n, "go")
    results: list = []
    lock = threading.Lock()

    def wait(i: int) -> None:
        value = client.get_event(handle.workflow_id, f"key{i}", 120)
        with lock:
            results.append(value)

    threads = [threading.Thread(target=wait, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    _until(lambda: _waiting(client) == n, timeout=60)
    client.send(handle.workflow_id, "go", topic="go")
    for t in threads:
        t.join(120)
    assert sorted(results) == list(range(n))
    assert client._hub._waiters == set()


@pytest.mark.postgres_only("LISTEN/NOTIFY")
def test_client_whose_listener_cannot_listen_still_returns_values(runtime: Runtime, uid: str) -> None:
    """A role limited to one connection: the pool gets it, the listener never connects."""
    role = f"limited_{uid}"
    with psycopg.connect(runtime.url, autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{role}" LOGIN CONNECTION LIMIT 1')
        admin.execute(f'GRANT USAGE ON SCHEMA dbos TO "{role}"')
        admin.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA dbos TO "{role}"')
    try:
        url = runtime.url.replace("postgresql://postgres@", f"postgresql://{role}@")
        with DBOSClient(system_database_url=url, system_database_pool_size=1) as client:
            handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "event_after_message"}, "k", "t", 60)
            thread, out = _blocked_get_event(client, handle.workflow_id, "k")
            _until(lambda: _waiting(client) == 1)
            client.send(handle.workflow_id, "found by polling", topic="t")
            thread.join(60)
            assert out == ["found by polling"]
            assert not client._hub._listening and not client._hub.trusted
            assert list(client.read_stream(
                client.enqueue({"queue_name": QUEUE, "workflow_name": "stream_values"}, "s", [1, 2], True, 0.1).workflow_id, "s"
            )) == [1, 2]  # fmt: skip
    finally:
        with psycopg.connect(runtime.url, autocommit=True) as admin:
            admin.execute(f'DROP OWNED BY "{role}"')
            admin.execute(f'DROP ROLE "{role}"')


@pytest.mark.parametrize("version", _versions())
def test_runtime_without_listen_notify(version: str) -> None:
    """No trigger, no NOTIFY: the client notices, and its shared poller wakes every wait."""
    url = create_database(ADMIN_URL)
    app = DBOSRuntime(runtime_python(version), url, env={"INTEROP_LISTEN_NOTIFY": "0"})
    try:
        app.start()
        with DBOSClient(system_database_url=url) as client:
            assert client.schema_info.notifications_trigger is False
            handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "event_after_message"}, "k", "t", 60)
            thread, out = _blocked_get_event(client, handle.workflow_id, "k")
            _until(lambda: _waiting(client) == 1)
            client.send(handle.workflow_id, "polled", topic="t")
            thread.join(60)
            assert out == ["polled"]
            assert not client._hub.trusted
            stream = client.enqueue({"queue_name": QUEUE, "workflow_name": "stream_values"}, "s", ["a", "b", "c"], True, 0.1)
            assert list(client.read_stream(stream.workflow_id, "s", timeout_seconds=30)) == ["a", "b", "c"]
    finally:
        app.stop()
        drop_database(url, ADMIN_URL)


def test_no_waiter_outlives_its_call(client: DBOSClient, uid: str) -> None:
    sleeper = client.enqueue({"queue_name": QUEUE, "workflow_name": "stream_after_message"}, "s", "never", 30)
    assert client.get_event(sleeper.workflow_id, "nothing", timeout_seconds=0.2) is None
    with pytest.raises(ResultTimeoutError):
        sleeper.get_result(timeout_seconds=0.2)
    reader = client.read_stream(sleeper.workflow_id, "s")
    assert next(reader) == "first"
    reader.close()  # abandoned mid-stream
    with pytest.raises(StreamTimeoutError):
        list(client.read_stream(sleeper.workflow_id, "s", offset=1, timeout_seconds=0.2))
    assert client._hub._waiters == set() and client._hub._by_payload == {}
    client.send(sleeper.workflow_id, "done", topic="never")


def test_closing_the_client_ends_its_waits(runtime: Runtime) -> None:
    client = DBOSClient(system_database_url=runtime.url)
    handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "event_after_message"}, "k", "t", 60)
    errors: list = []

    def wait() -> None:
        try:
            client.get_event(handle.workflow_id, "k", 60)
        except DBOSClientError as exc:
            errors.append(exc)

    thread = threading.Thread(target=wait)
    thread.start()
    _until(lambda: _waiting(client) == 1)
    client.close()
    thread.join(10)
    assert not thread.is_alive() and "closed" in str(errors[0])
    assert not any(t.name.startswith("dbos_client-") for t in threading.enumerate())
