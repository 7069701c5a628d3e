"""send: messages a real workflow receives with DBOS.recv."""

from __future__ import annotations

import pytest
from conftest import QUEUE

from dbos_client import DBOSClient, InvalidArgumentError, SerializationError, WorkflowNotFoundError

pytestmark = pytest.mark.interop


def _receiver(client: DBOSClient, topic: str | None, n: int, timeout: float = 30) -> object:
    return client.enqueue({"queue_name": QUEUE, "workflow_name": "recv_n"}, topic, n, timeout)


def test_messages_with_topic_arrive_in_order(client: DBOSClient) -> None:
    handle = _receiver(client, "orders", 3)
    for i in range(3):
        client.send(handle.workflow_id, {"n": i}, topic="orders")
    assert handle.get_result(timeout_seconds=30) == [{"n": 0}, {"n": 1}, {"n": 2}]


def test_message_without_topic(client: DBOSClient) -> None:
    handle = _receiver(client, None, 2)
    client.send(handle.workflow_id, "first")
    client.send(handle.workflow_id, ("second", 2))
    assert handle.get_result(timeout_seconds=30) == ["first", ("second", 2)]


def test_topics_do_not_mix(client: DBOSClient) -> None:
    handle = _receiver(client, "a", 1, timeout=3)
    client.send(handle.workflow_id, "for b", topic="b")
    client.send(handle.workflow_id, "for a", topic="a")
    assert handle.get_result(timeout_seconds=30) == ["for a"]


def test_idempotent_send_is_delivered_once(client: DBOSClient) -> None:
    handle = _receiver(client, "t", 2, timeout=2)
    for _ in range(3):
        client.send(handle.workflow_id, "once", topic="t", idempotency_key="evt-123")
    assert handle.get_result(timeout_seconds=30) == ["once", None]


def test_portable_message(client: DBOSClient) -> None:
    handle = _receiver(client, "t", 1)
    client.send(handle.workflow_id, {"when": "now", "n": [1, 2]}, topic="t", serialization_type="portable")
    assert handle.get_result(timeout_seconds=30) == [{"when": "now", "n": [1, 2]}]


def test_multi_megabyte_unicode_message(client: DBOSClient) -> None:
    payload = "ünïcødé ☃ 𝄞 " * 300_000  # about 5 MB of UTF-8
    handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "event_after_message"}, "got", "big", 30)
    client.send(handle.workflow_id, payload, topic="big")
    assert client.get_event(handle.workflow_id, "got", 30) == payload


def test_send_to_unknown_workflow(client: DBOSClient, uid: str) -> None:
    with pytest.raises(WorkflowNotFoundError) as info:
        client.send(f"nobody-{uid}", "hello")
    assert info.value.workflow_id == f"nobody-{uid}"


def test_bad_send_input(client: DBOSClient) -> None:
    handle = _receiver(client, "t", 1, timeout=1)
    with pytest.raises(InvalidArgumentError, match="destination_id"):
        client.send("", "x")
    with pytest.raises(InvalidArgumentError, match="topic"):
        client.send(handle.workflow_id, "x", topic="t" * 9000)
    with pytest.raises(SerializationError):
        client.send(handle.workflow_id, lambda: None, topic="t")
    # None of the refused sends reached the workflow.
    assert handle.get_result(timeout_seconds=30) == [None]


def test_a_retried_send_without_key_is_delivered_once(client: DBOSClient) -> None:
    """The shell retries the very same Query after a lost commit: its message id was fixed before."""
    from dbos_client import _ops

    handle = _receiver(client, "t", 2, timeout=2)
    op = _ops.send(client._queries(None), handle.workflow_id, client._core.codec.encode("hi", "py_pickle"), "py_pickle", "t", None)
    query = next(op)
    client._execute(query)
    client._execute(query)  # what a retry after "connection lost during COMMIT" does
    assert handle.get_result(timeout_seconds=30) == ["hi", None]
