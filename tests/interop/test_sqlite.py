"""What only a SQLite system database has: a file that may be missing or foreign, and locks.

The scenarios every database shares run on SQLite through the parametrized suite
(conftest's ``runtime`` fixture); these are the ones that have no Postgres counterpart.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from conftest import QUEUE, Runtime

from dbos_client import AsyncDBOSClient, DatabaseUnavailableError, DBOSClient, SchemaError

pytestmark = pytest.mark.interop


def _sqlite_runtime(runtime: Runtime) -> Path:
    if not runtime.is_sqlite:
        pytest.skip("SQLite only: file locks")
    return Path(runtime.url.removeprefix("sqlite:///"))


def test_a_missing_file_is_an_error_and_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.sqlite"
    with DBOSClient(system_database_url=f"sqlite:///{path}") as client:
        with pytest.raises(SchemaError, match="no SQLite system database .* start the DBOS application first"):
            client.send("wf", "hello")
    assert not path.exists()


def test_a_file_without_dbos_tables(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE workflow_events (x)")
    with DBOSClient(system_database_url=f"sqlite:///{path}") as client:
        with pytest.raises(SchemaError, match="holds no DBOS system database"):
            client.get_all_events("wf")


def test_a_file_that_is_not_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a database " * 100)
    with DBOSClient(system_database_url=f"sqlite:///{path}") as client:
        with pytest.raises(SchemaError, match="not a usable SQLite database"):
            client.get_all_events("wf")


def _hold_lock(path: Path, mode: str, seconds: float, held: threading.Event) -> threading.Thread:
    def hold() -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute(f"BEGIN {mode}")
        held.set()
        time.sleep(seconds)
        conn.execute("COMMIT")
        conn.close()

    thread = threading.Thread(target=hold)
    thread.start()
    return thread


def test_a_write_waits_out_another_writers_lock(runtime: Runtime, client: DBOSClient) -> None:
    """The application writes under BEGIN IMMEDIATE; a send meeting that lock waits, then lands."""
    path = _sqlite_runtime(runtime)
    handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "recv_n"}, "lock", 1, 30)
    held = threading.Event()
    locker = _hold_lock(path, "IMMEDIATE", 1.0, held)
    held.wait(5)
    start = time.monotonic()
    client.send(handle.workflow_id, "through the lock", topic="lock")
    waited = time.monotonic() - start
    locker.join()
    assert waited > 0.5  # it really met the lock
    assert handle.get_result(timeout_seconds=30) == ["through the lock"]


def test_a_held_lock_cannot_stretch_a_wait_past_its_timeout(runtime: Runtime, client: DBOSClient) -> None:
    """Even readers are locked out by an EXCLUSIVE lock: the call ends at its own timeout, clearly."""
    path = _sqlite_runtime(runtime)
    handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "set_event_value"}, "k", 1)
    assert client.get_event(handle.workflow_id, "k", 30) == 1
    held = threading.Event()
    locker = _hold_lock(path, "EXCLUSIVE", 4.0, held)
    held.wait(5)
    start = time.monotonic()
    with pytest.raises(DatabaseUnavailableError, match="locked"):
        client.get_event(handle.workflow_id, "other", timeout_seconds=1)
    elapsed = time.monotonic() - start
    locker.join()
    assert elapsed < 2.5
    assert client.get_event(handle.workflow_id, "k", 1) == 1  # and all is well once it is released


def test_many_async_waits_on_a_sqlite_file(runtime: Runtime) -> None:
    """A thousand tasks wait on one event; the poller's one query per commit wakes them all."""
    _sqlite_runtime(runtime)

    async def main() -> list[object]:
        async with AsyncDBOSClient(system_database_url=runtime.url) as client:
            handle = await client.enqueue({"queue_name": QUEUE, "workflow_name": "event_after_message"}, "go", "t", 30)
            waits = asyncio.gather(*(client.get_event(handle.workflow_id, "go", 30) for _ in range(1000)))
            await asyncio.sleep(0.5)
            await client.send(handle.workflow_id, "yes", topic="t")
            return await waits

    assert asyncio.run(main()) == ["yes"] * 1000


def test_concurrent_writers_on_one_file(runtime: Runtime, client: DBOSClient) -> None:
    """Eight threads send while the application consumes: every message lands exactly once."""
    _sqlite_runtime(runtime)
    handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "recv_n"}, "many", 200, 60)
    errors: list[BaseException] = []

    def send_batch(t: int) -> None:
        try:
            for i in range(25):
                client.send(handle.workflow_id, t * 100 + i, topic="many")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=send_batch, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    received = handle.get_result(timeout_seconds=120)
    assert sorted(received) == sorted(t * 100 + i for t in range(8) for i in range(25))
