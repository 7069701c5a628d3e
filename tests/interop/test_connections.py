"""Connections, threads, retries and failures, against real servers."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from cluster import PrivateCluster
from conftest import ADMIN_URL, QUEUE, UNPOLLED_QUEUE, terminate_backends
from runtime import DBOSRuntime, create_database, drop_database, runtime_python

from dbos_client import (
    AsyncDBOSClient,
    ConnectionRejectedError,
    DatabaseUnavailableError,
    DBOSClient,
    RetryPolicy,
    SchemaError,
    __version__,
)

pytestmark = pytest.mark.interop
APP_NAME = f"dbos_client/{__version__}"


def _our_connections(url: str) -> int:
    dbname = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND application_name = %s", (dbname, APP_NAME)
        ).fetchone()
    return int(row[0])


def _eventually(predicate, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


@pytest.mark.postgres_only("counts server connections")
def test_one_send_costs_one_connection_and_leaves_no_thread(runtime) -> None:
    with DBOSClient(system_database_url=runtime.url) as setup:
        target = setup.enqueue({"queue_name": UNPOLLED_QUEUE, "workflow_name": "echo"}).workflow_id
    assert _eventually(lambda: _our_connections(runtime.url) == 0)
    threads_before = threading.active_count()
    client = DBOSClient(system_database_url=runtime.url)
    assert threading.active_count() == threads_before  # construction connects, but starts no thread
    client.send(target, "hello")
    assert _our_connections(runtime.url) == 1
    client.close()
    assert threading.active_count() == threads_before
    assert _eventually(lambda: _our_connections(runtime.url) == 0)


def test_short_lived_script_exits_cleanly(runtime) -> None:
    with DBOSClient(system_database_url=runtime.url) as setup:
        target = setup.enqueue({"queue_name": UNPOLLED_QUEUE, "workflow_name": "echo"}).workflow_id
    # No close() and no `with`: the script must still exit promptly.
    script = f"from dbos_client import DBOSClient\nDBOSClient(system_database_url={runtime.url!r}).send({target!r}, 'cron')\n"
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - start < 10


@pytest.mark.postgres_only("counts server connections")
def test_connections_identify_themselves(runtime, client: DBOSClient) -> None:
    client.check_connection()
    assert _our_connections(runtime.url) >= 1
    assert client.schema_info.is_v3 == runtime.is_v3


@pytest.mark.postgres_only("counts server connections")
def test_concurrent_use_is_bounded_by_the_pool(runtime) -> None:
    with DBOSClient(system_database_url=runtime.url, system_database_pool_size=3) as client:
        handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "set_event_value"}, "k", "v")
        handle.get_result(timeout_seconds=30)
        errors: list[BaseException] = []

        def hammer() -> None:
            try:
                for _ in range(20):
                    assert client.get_event(handle.workflow_id, "k", 5) == "v"
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=hammer) for _ in range(20)]
        for t in threads:
            t.start()
        peak = 0
        while any(t.is_alive() for t in threads):
            peak = max(peak, _our_connections(runtime.url))
        for t in threads:
            t.join()
        assert errors == []
        assert peak <= 3


@pytest.mark.postgres_only("terminates server sessions")
def test_lost_connections_are_replaced(runtime, client: DBOSClient) -> None:
    handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "set_event_value"}, "k", 1)
    assert client.get_event(handle.workflow_id, "k", 30) == 1
    assert terminate_backends(runtime.url, APP_NAME) >= 1
    # The pooled connection is dead; the call is retried on a fresh one, invisibly.
    assert client.get_event(handle.workflow_id, "k", 30) == 1


def test_unreachable_database_gives_one_clear_error(caplog: pytest.LogCaptureFixture) -> None:
    url = "postgresql://someone:s3cret-pw@127.0.0.1:1/nowhere"
    client = DBOSClient(system_database_url=url, retry_policy=RetryPolicy(budget_seconds=1.5), lazy=True)
    assert "s3cret" not in repr(client)
    start = time.monotonic()
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(DatabaseUnavailableError) as info:
            client.send("wf", "hello")
    elapsed = time.monotonic() - start
    client.close()
    assert elapsed < 15
    assert "unreachable" in str(info.value) and "127.0.0.1" in str(info.value)
    assert "s3cret" not in str(info.value) and "s3cret" not in repr(info.value)
    assert not any("s3cret" in r.getMessage() for r in caplog.records)


def test_waiting_call_retries_only_until_its_own_timeout() -> None:
    client = DBOSClient(system_database_url="postgresql://postgres@127.0.0.1:1/nowhere", lazy=True)  # 30 s budget
    start = time.monotonic()
    with pytest.raises(DatabaseUnavailableError):
        client.get_event("wf", "k", timeout_seconds=1)
    client.close()
    assert time.monotonic() - start < 6


def test_database_without_dbos_schema() -> None:
    url = create_database(ADMIN_URL)
    try:
        with DBOSClient(system_database_url=url) as client:
            with pytest.raises(SchemaError, match="never creates or migrates"):
                client.send("wf", "x")
    finally:
        drop_database(url, ADMIN_URL)


@pytest.mark.postgres_only("SQLite files have no schemas")
def test_wrong_schema_name(runtime) -> None:
    with DBOSClient(system_database_url=runtime.url, dbos_system_schema="not_dbos") as client:
        with pytest.raises(SchemaError, match="not_dbos"):
            client.get_all_events("wf")


def test_survives_a_server_restart() -> None:
    """Stop the server mid-wait, bring it back: the waiting call finishes as if nothing happened."""
    with PrivateCluster() as cluster:
        url = create_database(cluster.admin_url)
        app = DBOSRuntime(runtime_python("3.4.0"), url)
        app.start()
        try:
            with DBOSClient(system_database_url=url) as client:
                handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "event_after_message"}, "k", "t", 120)
                results: list[object] = []
                waiter = threading.Thread(target=lambda: results.append(client.get_event(handle.workflow_id, "k", 90)))
                waiter.start()
                time.sleep(0.5)
                cluster.stop()
                time.sleep(2)
                cluster.start()
                # The app's own connections recover on their own; ours are retried.
                client.send(handle.workflow_id, "after restart", topic="t")
                waiter.join(90)
                assert results == ["after restart"]
        finally:
            app.stop()


def test_the_retry_budget_counts_the_first_attempt() -> None:
    """budget_seconds bounds the whole call, first attempt included (found overrun: 24 s for 12)."""
    client = DBOSClient(
        system_database_url="postgresql://postgres@127.0.0.1:1/nowhere",
        retry_policy=RetryPolicy(max_attempts=None, budget_seconds=4),
        lazy=True,
    )
    start = time.monotonic()
    with pytest.raises(DatabaseUnavailableError):
        client.retrieve_workflow("wf")
    client.close()
    assert time.monotonic() - start < 6.5


def _refused_url() -> str:
    """A port where nothing listens: every connection is refused at once."""
    from servers import free_port

    return f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere"


def _three_calls(client: Any) -> dict[str, Callable[[], Any]]:
    """An enqueue, a send and a get_event of ``client`` (sync or async: the call returns the awaitable)."""
    return {
        "enqueue": lambda: client.enqueue({"queue_name": QUEUE, "workflow_name": "echo"}, 1),
        "send": lambda: client.send("wf", "hello", topic="t", idempotency_key="once"),
        "get_event": lambda: client.get_event("wf", "k", timeout_seconds=30),
    }


def test_no_retries_means_a_refused_connection_fails_at_once() -> None:
    """retry_connection_errors=False: one attempt, no wait for the pool (found: enqueue took 10 s)."""
    with DBOSClient(system_database_url=_refused_url(), retry_connection_errors=False, lazy=True) as client:
        for name, call in _three_calls(client).items():
            start = time.monotonic()
            with pytest.raises(DatabaseUnavailableError, match="refused"):
                call()
            elapsed = time.monotonic() - start
            assert elapsed < 2, f"{name} took {elapsed:.2f}s"


def test_no_retries_means_a_refused_connection_fails_at_once_async() -> None:
    async def main() -> None:
        async with AsyncDBOSClient(system_database_url=_refused_url(), retry_connection_errors=False, lazy=True) as client:
            for name, call in _three_calls(client).items():
                start = time.monotonic()
                with pytest.raises(DatabaseUnavailableError, match="refused"):
                    await asyncio.wait_for(call(), 15)
                elapsed = time.monotonic() - start
                assert elapsed < 2, f"{name} took {elapsed:.2f}s"

    asyncio.run(main())


def _prepared_statements(client: DBOSClient) -> int:
    """How many statements the client's own pooled connection has prepared on the server."""
    with client._connection(None) as conn:
        return int(conn.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()[0])


@pytest.mark.postgres_only("server-side prepared statements are a Postgres feature")
def test_statements_are_prepared_only_when_asked(runtime) -> None:
    with DBOSClient(system_database_url=runtime.url) as setup:
        target = setup.enqueue({"queue_name": UNPOLLED_QUEUE, "workflow_name": "echo"}).workflow_id
    with DBOSClient(system_database_url=runtime.url, system_database_pool_size=1) as default:
        for _ in range(8):
            default.get_all_events(target)
        assert _prepared_statements(default) == 0  # safe behind a transaction pooler
    with DBOSClient(system_database_url=runtime.url, system_database_pool_size=1, prepare_threshold=2) as prepared:
        for _ in range(8):
            prepared.get_all_events(target)
        assert _prepared_statements(prepared) >= 1


def test_a_hundred_waits_timing_out_together_all_return_none(runtime) -> None:
    """Their final reads all come due at once and queue for two connections: each must still
    get one (the pool's wait has the statements' floor), not a DatabaseUnavailableError."""
    with DBOSClient(system_database_url=runtime.url) as setup:
        target = setup.enqueue({"queue_name": UNPOLLED_QUEUE, "workflow_name": "echo"}).workflow_id
    results: list[object] = []
    with DBOSClient(system_database_url=runtime.url, system_database_pool_size=2) as client:
        client.check_connection()

        def wait(i: int) -> None:
            try:
                results.append(client.get_event(target, f"never-{i}", 1.0))
            except Exception as exc:  # recorded, so one failure shows them all
                results.append(exc)

        threads = [threading.Thread(target=wait, args=(i,)) for i in range(100)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    assert results == [None] * 100


def test_a_hundred_async_waits_timing_out_together_all_return_none(runtime) -> None:
    with DBOSClient(system_database_url=runtime.url) as setup:
        target = setup.enqueue({"queue_name": UNPOLLED_QUEUE, "workflow_name": "echo"}).workflow_id

    async def main() -> list[object]:
        async with AsyncDBOSClient(system_database_url=runtime.url, system_database_pool_size=2) as client:
            await client.check_connection()
            waits = [client.get_event(target, f"never-{i}", 1.0) for i in range(100)]
            return list(await asyncio.gather(*waits, return_exceptions=True))

    assert asyncio.run(main()) == [None] * 100


# -- lazy=False (the default, as dbos.DBOSClient 3.4): the constructor connects -----------------


def test_the_constructor_fails_at_once_on_an_unreachable_database(caplog: pytest.LogCaptureFixture) -> None:
    """One attempt, as DBOS's constructor: no retries, even with an unbounded retry policy."""
    url = _refused_url().replace("postgres@", "someone:s3cret-pw@")
    threads_before = threading.active_count()
    caplog.set_level(logging.DEBUG)
    unbounded = RetryPolicy(max_attempts=None, budget_seconds=None)
    start = time.monotonic()
    with pytest.raises(DatabaseUnavailableError) as info:
        DBOSClient(system_database_url=url, retry_policy=unbounded)
    assert time.monotonic() - start < 2
    assert "unreachable" in str(info.value) and "someone:***@127.0.0.1" in str(info.value)
    assert "s3cret" not in str(info.value) and not any("s3cret" in r.getMessage() for r in caplog.records)
    assert not any("retrying" in r.getMessage() for r in caplog.records)
    assert threading.active_count() == threads_before  # nothing left running


def test_the_constructor_is_bounded_by_the_connect_timeout() -> None:
    """A server that takes the TCP connection and never answers: connect_timeout bounds the check."""
    import socket

    with socket.socket() as mute:
        mute.bind(("127.0.0.1", 0))
        mute.listen(8)  # the kernel completes handshakes; nobody ever answers the startup packet
        port = mute.getsockname()[1]
        url = f"postgresql://postgres@127.0.0.1:{port}/db?connect_timeout=2"
        start = time.monotonic()
        with pytest.raises(DatabaseUnavailableError):
            DBOSClient(system_database_url=url, retry_policy=RetryPolicy(max_attempts=None, budget_seconds=None))
        assert 1.5 < time.monotonic() - start < 6


def test_the_constructor_refuses_an_unknown_database_by_name() -> None:
    from runtime import _with_dbname

    url = _with_dbname(ADMIN_URL, "dbos_client_no_such_database")
    start = time.monotonic()
    with pytest.raises(ConnectionRejectedError, match='database "dbos_client_no_such_database" does not exist'):
        DBOSClient(system_database_url=url)
    assert time.monotonic() - start < 2


def test_a_lazy_client_defers_connecting() -> None:
    client = DBOSClient(system_database_url=_refused_url(), lazy=True, retry_connection_errors=False)
    try:
        with pytest.raises(DatabaseUnavailableError):
            client.check_connection()
    finally:
        client.close()


def test_a_database_without_the_schema_yet_is_for_the_first_call_to_report() -> None:
    """DBOS's constructor checks only the connection: a database the application has not
    migrated yet constructs, and the first call says what is missing."""
    url = create_database(ADMIN_URL)
    try:
        client = DBOSClient(system_database_url=url)
        try:
            with pytest.raises(SchemaError, match="never creates or migrates"):
                client.check_connection()
        finally:
            client.close()
    finally:
        drop_database(url, ADMIN_URL)


@pytest.mark.postgres_only("counts server connections")
def test_the_constructors_connection_serves_the_first_call(runtime) -> None:
    with DBOSClient(system_database_url=runtime.url) as setup:
        target = setup.enqueue({"queue_name": UNPOLLED_QUEUE, "workflow_name": "echo"}).workflow_id
    assert _eventually(lambda: _our_connections(runtime.url) == 0)
    client = DBOSClient(system_database_url=runtime.url)
    try:
        assert _our_connections(runtime.url) == 1  # connected, and kept in the pool
        assert client._q is not None  # the schema was read on it: the first call reads nothing more
        client.send(target, "hello")
        assert _our_connections(runtime.url) == 1
    finally:
        client.close()


@pytest.mark.postgres_only("LISTEN/NOTIFY")
def test_use_listen_notify_true_starts_the_listener_in_the_constructor(runtime) -> None:
    client = DBOSClient(system_database_url=runtime.url, use_listen_notify=True)
    try:
        hub = client._hub
        assert hub is not None and len(hub._threads) == 2  # the listener and the poller, before any wait
        assert _eventually(lambda: hub._state.listening)
    finally:
        client.close()
    assert hub._threads == []


def test_async_with_connects_unless_lazy() -> None:
    url = _refused_url()

    async def main() -> None:
        client = AsyncDBOSClient(system_database_url=url)  # no I/O in the constructor: it cannot await
        start = time.monotonic()
        with pytest.raises(DatabaseUnavailableError):
            async with client:
                pass
        assert time.monotonic() - start < 2
        assert client._closed and client._pool is None  # closed: __aexit__ does not run after a failed entry
        async with AsyncDBOSClient(system_database_url=url, lazy=True, retry_connection_errors=False) as lazy:
            with pytest.raises(DatabaseUnavailableError):
                await lazy.check_connection()

    asyncio.run(main())


def test_async_with_keeps_the_connection_it_checked(runtime) -> None:
    async def main() -> None:
        async with AsyncDBOSClient(system_database_url=runtime.url) as client:
            assert client._q is not None
            assert (await client.get_schema_info()).is_v3 == runtime.is_v3

    asyncio.run(main())
