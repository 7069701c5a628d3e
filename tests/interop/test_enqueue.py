"""enqueue against a real DBOS runtime: what we write, the runtime runs."""

from __future__ import annotations

import logging
import time

import pytest
from conftest import QUEUE, UNPOLLED_QUEUE

from dbos_client import (
    DBOSClient,
    DeduplicatedError,
    InvalidArgumentError,
    PortableWorkflowError,
    WorkflowIdConflictError,
    WorkflowNotFoundError,
    WorkflowSerializationFormat,
)

pytestmark = pytest.mark.interop


def test_enqueue_runs_with_args_and_kwargs(client: DBOSClient) -> None:
    handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "echo"}, 1, "two", three=[3])
    assert handle.get_result(timeout_seconds=30) == {"args": [1, "two"], "kwargs": {"three": [3]}}
    status = handle.get_status()
    assert status.status == "SUCCESS"
    assert status.name == "echo"
    assert status.queue_name == QUEUE
    assert status.input == {"args": (1, "two"), "kwargs": {"three": [3]}}
    assert status.serialization == "py_pickle"


def test_enqueue_with_given_id_and_options(client: DBOSClient, uid: str) -> None:
    wid = f"opts-{uid}"
    handle = client.enqueue(
        {"queue_name": QUEUE, "workflow_name": "echo", "workflow_id": wid, "priority": 5,
         "workflow_timeout": 60, "authenticated_user": "alice", "authenticated_roles": ["admin"]},
        "x",
    )  # fmt: skip
    assert handle.workflow_id == wid and handle.get_workflow_id() == wid
    assert handle.get_result(timeout_seconds=30) == {"args": ["x"], "kwargs": {}}
    status = handle.get_status()
    assert (status.priority, status.workflow_timeout_ms) == (5, 60_000)
    assert (status.authenticated_user, status.authenticated_roles) == ("alice", ["admin"])


def test_portable_json_workflow(client: DBOSClient) -> None:
    handle = client.enqueue(
        {"queue_name": QUEUE, "workflow_name": "echo", "serialization_type": WorkflowSerializationFormat.PORTABLE},
        (1, 2), "é☃", when={"k": None},
    )  # fmt: skip
    # A portable workflow writes its output as portable JSON too: the tuple comes back a list.
    assert handle.get_result(timeout_seconds=30) == {"args": [[1, 2], "é☃"], "kwargs": {"when": {"k": None}}}
    assert handle.get_status().serialization == "portable_json"


def test_portable_error_is_reraised(client: DBOSClient) -> None:
    handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "fail", "serialization_type": "portable"}, "boom")
    with pytest.raises(PortableWorkflowError) as info:
        handle.get_result(timeout_seconds=30)
    assert (info.value.name, info.value.message) == ("ValueError", "boom")


def test_class_and_instance_workflows(client: DBOSClient) -> None:
    inst = client.enqueue(
        {"queue_name": QUEUE, "workflow_name": "Greeter.greet", "class_name": "Greeter", "instance_name": "greeter-1"}, "bob"
    )
    static = client.enqueue({"queue_name": QUEUE, "workflow_name": "Greeter.shout"}, "bob")
    cls = client.enqueue({"queue_name": QUEUE, "workflow_name": "Greeter.describe", "class_name": "Greeter"}, "bob")
    assert inst.get_result(timeout_seconds=30) == "hello bob from greeter-1"
    assert static.get_result(timeout_seconds=30) == "BOB!"
    assert cls.get_result(timeout_seconds=30) == "Greeter describes bob"


def test_delayed_workflow_waits_then_runs(client: DBOSClient) -> None:
    handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "echo", "delay_seconds": 1.5}, "later")
    assert handle.get_status().status == "DELAYED"
    assert handle.get_result(timeout_seconds=30) == {"args": ["later"], "kwargs": {}}
    status = handle.get_status()
    assert status.dequeued_at is not None and status.created_at is not None
    assert status.dequeued_at - status.created_at >= 1000


def test_workflow_timeout_cancels(client: DBOSClient) -> None:
    handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "sleep_wf", "workflow_timeout": 1}, 30)
    from dbos_client import WorkflowCancelledError

    with pytest.raises(WorkflowCancelledError):
        handle.get_result(timeout_seconds=30)


def test_same_id_same_workflow_attaches(client: DBOSClient, uid: str) -> None:
    opts = {"queue_name": QUEUE, "workflow_name": "echo", "workflow_id": f"same-{uid}"}
    first = client.enqueue(opts, 1)
    assert first.get_result(timeout_seconds=30) == {"args": [1], "kwargs": {}}
    again = client.enqueue(opts, 2)  # attaches; nothing re-runs
    assert again.get_result(timeout_seconds=5) == {"args": [1], "kwargs": {}}


def test_same_id_other_workflow_conflicts(client: DBOSClient, uid: str) -> None:
    client.enqueue({"queue_name": UNPOLLED_QUEUE, "workflow_name": "echo", "workflow_id": f"c-{uid}"})
    with pytest.raises(WorkflowIdConflictError, match="echo"):
        client.enqueue({"queue_name": UNPOLLED_QUEUE, "workflow_name": "fail", "workflow_id": f"c-{uid}"})
    with pytest.raises(WorkflowIdConflictError):
        client.enqueue({"queue_name": UNPOLLED_QUEUE, "workflow_name": "echo", "workflow_id": f"c-{uid}",
                        "workflow_id_reuse_policy": "reject"})  # fmt: skip


def test_deduplication(client: DBOSClient, uid: str) -> None:
    opts = {"queue_name": UNPOLLED_QUEUE, "workflow_name": "echo", "deduplication_id": f"d-{uid}"}
    first = client.enqueue(opts)
    with pytest.raises(DeduplicatedError) as info:
        client.enqueue(opts)
    assert info.value.deduplication_id == f"d-{uid}"
    holder = client.enqueue({**opts, "duplication_policy": "return-existing"})
    assert holder.workflow_id == first.workflow_id
    # Once the holder is cancelled the id is released and can be used again.
    client.cancel_workflow(first.workflow_id)
    assert client.enqueue(opts).workflow_id != first.workflow_id


def test_dedup_on_a_running_queue(client: DBOSClient, uid: str) -> None:
    opts = {"queue_name": QUEUE, "workflow_name": "sleep_wf", "deduplication_id": f"r-{uid}"}
    running = client.enqueue(opts, 2)
    with pytest.raises(DeduplicatedError):
        client.enqueue(opts, 2)
    assert running.get_result(timeout_seconds=30) == 2
    # Completion releases the deduplication id.
    assert client.enqueue(opts, 0).get_result(timeout_seconds=30) == 0


def test_bad_input_writes_nothing(client: DBOSClient, uid: str) -> None:
    wid = f"bad-{uid}"
    with pytest.raises(InvalidArgumentError, match="unknown enqueue option"):
        client.enqueue({"queue_name": QUEUE, "workflow_name": "echo", "workflow_id": wid, "colour": "red"})
    with pytest.raises(InvalidArgumentError, match="workflow_name"):
        client.enqueue({"queue_name": QUEUE, "workflow_name": " ", "workflow_id": wid})
    with pytest.raises(InvalidArgumentError, match="workflow_timeout"):
        client.enqueue({"queue_name": QUEUE, "workflow_name": "echo", "workflow_id": wid, "workflow_timeout": -1})
    from dbos_client import SerializationError

    with pytest.raises(SerializationError):
        client.enqueue({"queue_name": QUEUE, "workflow_name": "echo", "workflow_id": wid}, lambda: 1)
    with pytest.raises(SerializationError):
        client.enqueue({"queue_name": QUEUE, "workflow_name": "echo", "workflow_id": wid, "serialization_type": "portable"}, object())
    with pytest.raises(WorkflowNotFoundError):
        client.retrieve_workflow(wid)


def test_unregistered_queue_warns_on_3x(runtime, client: DBOSClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="dbos_client"):
        client.enqueue({"queue_name": "no_such_queue", "workflow_name": "echo"})
        client.enqueue({"queue_name": QUEUE, "workflow_name": "echo"})
    warned = [r for r in caplog.records if "no_such_queue" in r.getMessage()]
    if runtime.is_v3:
        assert len(warned) == 1 and "not registered" in warned[0].getMessage()
        # The warning names the queues that do exist, so a typo shows (issue 14)...
        assert "registered queues: " in warned[0].getMessage() and repr(QUEUE) in warned[0].getMessage()
        # ...and enqueuing onto a registered queue warns about nothing.
        assert not any(r.getMessage().startswith(f"queue {QUEUE!r}") for r in caplog.records)
    else:
        assert warned == []  # 2.x polls queues declared in code; there is nothing to warn about


def test_application_name_restricts_who_runs_it(runtime, uid: str) -> None:
    if runtime.version < "2.30":
        pytest.skip("application_name exists from DBOS 2.30")
    with DBOSClient(system_database_url=runtime.url, application_name="someone-else") as other:
        handle = other.enqueue({"queue_name": QUEUE, "workflow_name": "echo"}, 1)
        time.sleep(1.5)
        assert handle.get_status().status == "ENQUEUED"
        assert handle.get_status().application_name == "someone-else"
        other.cancel_workflow(handle.workflow_id)
    with DBOSClient(system_database_url=runtime.url, application_name="interop") as mine:
        assert mine.enqueue({"queue_name": QUEUE, "workflow_name": "echo"}, 2).get_result(timeout_seconds=30) == {
            "args": [2], "kwargs": {}}  # fmt: skip


def test_a_retried_enqueue_recognizes_its_own_row(runtime, client: DBOSClient, uid: str) -> None:
    """Re-running the same request (a retry after a lost commit) returns the workflow, not a conflict."""
    from dbos_client import _ops
    from dbos_client._options import build_enqueue

    opts = {"queue_name": UNPOLLED_QUEUE, "workflow_name": "echo", "workflow_id": f"retry-{uid}"}
    request = build_enqueue(opts, (1,), {}, client._core.codec, None)
    first = client._run(_ops.enqueue(client._queries(None), request))
    again = client._run(_ops.enqueue(client._queries(None), request))
    assert first.workflow_id == again.workflow_id == f"retry-{uid}"
    if runtime.is_v3:
        # 3.2+ stores a creator token, so even under 'reject' a retry knows the row is its own,
        # while a different request for the same id is refused.
        strict = {**opts, "workflow_id": f"retry2-{uid}", "workflow_id_reuse_policy": "reject"}
        request = build_enqueue(strict, (1,), {}, client._core.codec, None)
        assert client._run(_ops.enqueue(client._queries(None), request)).workflow_id == f"retry2-{uid}"
        assert client._run(_ops.enqueue(client._queries(None), request)).workflow_id == f"retry2-{uid}"
        other = build_enqueue(strict, (1,), {}, client._core.codec, None)
        with pytest.raises(WorkflowIdConflictError):
            client._run(_ops.enqueue(client._queries(None), other))
