"""read_stream against streams a real workflow writes."""

from __future__ import annotations

import threading
import time

import pytest
from conftest import QUEUE

from dbos_client import DBOSClient, StreamTimeoutError, WorkflowNotFoundError

pytestmark = pytest.mark.interop

VALUES = [0, "one", None, {"three": [3]}, "ünï ☃"]


def _stream(client: DBOSClient, key: str, values: list, close: bool, delay: float = 0.0) -> str:
    handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "stream_values"}, key, values, close, delay)
    return handle.workflow_id


def test_closed_stream_after_the_fact(client: DBOSClient) -> None:
    wid = _stream(client, "log", VALUES, close=True)
    client.retrieve_workflow(wid).get_result(timeout_seconds=30)
    assert list(client.read_stream(wid, "log")) == VALUES
    assert list(client.read_stream(wid, "log", offset=3)) == VALUES[3:]
    assert list(client.read_stream(wid, "log", offset=99)) == []


def test_unclosed_stream_ends_when_the_workflow_finishes(client: DBOSClient) -> None:
    wid = _stream(client, "log", VALUES, close=False)
    client.retrieve_workflow(wid).get_result(timeout_seconds=30)
    assert list(client.read_stream(wid, "log")) == VALUES


def test_stream_read_live(client: DBOSClient) -> None:
    values = list(range(8))
    wid = _stream(client, "live", values, close=True, delay=0.2)
    seen: list[tuple[float, object]] = []
    for value in client.read_stream(wid, "live", timeout_seconds=30):
        seen.append((time.monotonic(), value))
    assert [v for _, v in seen] == values
    # Values arrived spread out, while the workflow was still writing.
    assert seen[-1][0] - seen[0][0] > 0.8


def test_unclosed_stream_read_live(client: DBOSClient) -> None:
    wid = _stream(client, "open", ["a", "b", "c"], close=False, delay=0.2)
    assert list(client.read_stream(wid, "open", timeout_seconds=30)) == ["a", "b", "c"]


def test_stream_waits_for_a_message(client: DBOSClient) -> None:
    handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "stream_after_message"}, "s", "go", 30)
    reader = client.read_stream(handle.workflow_id, "s", timeout_seconds=30)
    assert next(reader) == "first"
    got: list[object] = []
    t = threading.Thread(target=lambda: got.extend(reader))
    t.start()
    time.sleep(0.3)
    assert got == []
    client.send(handle.workflow_id, {"second": True}, topic="go")
    t.join(30)
    assert got == [{"second": True}]


def test_long_stream_crosses_batches(client: DBOSClient) -> None:
    values = [f"v{i}" for i in range(250)]
    wid = _stream(client, "long", values, close=True)
    assert list(client.read_stream(wid, "long", timeout_seconds=30)) == values


def test_portable_stream(client: DBOSClient) -> None:
    handle = client.enqueue(
        {"queue_name": QUEUE, "workflow_name": "stream_values", "serialization_type": "portable"}, "p", [1, "x", [2]], True, 0.0
    )
    assert list(client.read_stream(handle.workflow_id, "p", timeout_seconds=30)) == [1, "x", [2]]


def test_stream_of_unknown_workflow_fails_fast(client: DBOSClient, uid: str) -> None:
    start = time.monotonic()
    with pytest.raises(WorkflowNotFoundError):
        list(client.read_stream(f"nope-{uid}", "k"))
    assert time.monotonic() - start < 5


def test_stream_per_value_timeout(client: DBOSClient) -> None:
    handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "stream_after_message"}, "s", "never", 30)
    reader = client.read_stream(handle.workflow_id, "s", timeout_seconds=0.5)
    assert next(reader) == "first"
    with pytest.raises(StreamTimeoutError):
        next(reader)
    client.send(handle.workflow_id, "unblock", topic="never")
