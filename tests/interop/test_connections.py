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
    assert threading.active_count() == threads_before  # construction does no I/O and starts nothing
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
    client = DBOSClient(system_database_url=url, retry_policy=RetryPolicy(budget_seconds=1.5))
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
    client = DBOSClient(system_database_url="postgresql://postgres@127.0.0.1:1/nowhere")  # default 30 s budget
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
    with DBOSClient(system_database_url=_refused_url(), retry_connection_errors=False) as client:
        for name, call in _three_calls(client).items():
            start = time.monotonic()
            with pytest.raises(DatabaseUnavailableError, match="refused"):
                call()
            elapsed = time.monotonic() - start
            assert elapsed < 2, f"{name} took {elapsed:.2f}s"


def test_no_retries_means_a_refused_connection_fails_at_once_async() -> None:
    from dbos_client import AsyncDBOSClient

    async def main() -> None:
        async with AsyncDBOSClient(system_database_url=_refused_url(), retry_connection_errors=False) as client:
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
    from dbos_client import AsyncDBOSClient

    with DBOSClient(system_database_url=runtime.url) as setup:
        target = setup.enqueue({"queue_name": UNPOLLED_QUEUE, "workflow_name": "echo"}).workflow_id

    async def main() -> list[object]:
        async with AsyncDBOSClient(system_database_url=runtime.url, system_database_pool_size=2) as client:
            await client.check_connection()
            waits = [client.get_event(target, f"never-{i}", 1.0) for i in range(100)]
            return list(await asyncio.gather(*waits, return_exceptions=True))

    assert asyncio.run(main()) == [None] * 100
