"""get_event / get_all_events against events a real workflow publishes."""

from __future__ import annotations

import threading
import time

import pytest
from conftest import QUEUE

from dbos_client import DBOSClient, InvalidArgumentError, WorkflowNotFoundError

pytestmark = pytest.mark.interop


def test_get_event_blocks_until_published(client: DBOSClient) -> None:
    handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "event_after_message"}, "payment_id", "pay", 30)
    results: list[object] = []
    waiter = threading.Thread(target=lambda: results.append(client.get_event(handle.workflow_id, "payment_id", 30)))
    waiter.start()
    time.sleep(0.5)
    assert waiter.is_alive()  # still blocked: nothing published yet
    client.send(handle.workflow_id, "pi_123", topic="pay")
    waiter.join(30)
    assert results == ["pi_123"]


def test_get_event_times_out_with_none(client: DBOSClient) -> None:
    handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "event_after_message"}, "k", "t", 30)
    start = time.monotonic()
    assert client.get_event(handle.workflow_id, "k", timeout_seconds=0.5) is None
    assert 0.5 <= time.monotonic() - start < 10
    client.send(handle.workflow_id, "done", topic="t")


def test_get_event_latest_value_and_all_events(client: DBOSClient) -> None:
    handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "publish_events"}, 3, 0.0)
    assert handle.get_result(timeout_seconds=30) == 3
    assert client.get_event(handle.workflow_id, "progress", 1) == 2
    assert client.get_event(handle.workflow_id, "done", 1) == {"count": 3}
    assert client.get_all_events(handle.workflow_id) == {"progress": 2, "done": {"count": 3}}


def test_get_event_returns_at_once_for_a_finished_workflow(client: DBOSClient) -> None:
    handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "echo"})
    handle.get_result(timeout_seconds=30)
    start = time.monotonic()
    assert client.get_event(handle.workflow_id, "never-set", timeout_seconds=30) is None
    assert time.monotonic() - start < 5


def test_get_event_on_unknown_workflow_waits_like_dbos(client: DBOSClient, uid: str) -> None:
    # A workflow may be started later by someone else: like DBOS, wait, then None.
    assert client.get_event(f"later-{uid}", "k", timeout_seconds=0.2) is None


def test_all_events_of_unknown_workflow(client: DBOSClient, uid: str) -> None:
    with pytest.raises(WorkflowNotFoundError):
        client.get_all_events(f"nope-{uid}")


def test_all_events_empty(client: DBOSClient) -> None:
    handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "echo"})
    handle.get_result(timeout_seconds=30)
    assert client.get_all_events(handle.workflow_id) == {}


def test_portable_events(client: DBOSClient) -> None:
    handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "set_event_value", "serialization_type": "portable"}, "k", {"a": [1, "ü"]})
    handle.get_result(timeout_seconds=30)
    assert client.get_event(handle.workflow_id, "k", 1) == {"a": [1, "ü"]}


def test_multi_megabyte_event(client: DBOSClient) -> None:
    value = {"blob": "x" * (4 * 1024 * 1024), "text": "日本語 ☃"}
    handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "set_event_value"}, "big", value)
    assert client.get_event(handle.workflow_id, "big", 30) == value


def test_hundred_threads_waiting_at_once(client: DBOSClient) -> None:
    handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "event_after_message"}, "go", "start", 60)
    results: list[object] = []
    lock = threading.Lock()

    def wait() -> None:
        value = client.get_event(handle.workflow_id, "go", 60)
        with lock:
            results.append(value)

    threads = [threading.Thread(target=wait) for _ in range(100)]
    for t in threads:
        t.start()
    time.sleep(1)
    client.send(handle.workflow_id, "now", topic="start")
    for t in threads:
        t.join(60)
    assert results == ["now"] * 100


def test_bad_event_input(client: DBOSClient) -> None:
    with pytest.raises(InvalidArgumentError, match="timeout_seconds"):
        client.get_event("wf", "k", timeout_seconds=-1)
    with pytest.raises(InvalidArgumentError, match="key"):
        client.get_event("wf", "")
