"""Handles, status, results, cancel and resume against a real runtime."""

from __future__ import annotations

import time

import pytest
from conftest import QUEUE, UNPOLLED_QUEUE

from dbos_client import (
    DBOSClient,
    ResultTimeoutError,
    SerializationError,
    WorkflowCancelledError,
    WorkflowNotFoundError,
)

pytestmark = pytest.mark.interop


def _wait_for_status(client: DBOSClient, wid: str, status: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while client.retrieve_workflow(wid).get_status().status != status:
        assert time.monotonic() < deadline, f"{wid} never became {status}"
        time.sleep(0.05)


def test_error_is_reraised(client: DBOSClient) -> None:
    handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "fail"}, "boom")
    with pytest.raises(ValueError, match="boom"):
        handle.get_result(timeout_seconds=30)
    status = handle.get_status()
    assert status.status == "ERROR" and isinstance(status.error, ValueError)


def test_error_of_a_class_the_client_cannot_import(client: DBOSClient) -> None:
    handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "fail_custom"}, "custom boom")
    with pytest.raises(SerializationError, match="workflow error"):
        handle.get_result(timeout_seconds=30)
    # Reading the status still works: the undecodable error is left as its stored text.
    assert handle.get_status().status == "ERROR"


def test_retrieve_and_status(client: DBOSClient) -> None:
    handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "echo"}, 7)
    same = client.retrieve_workflow(handle.workflow_id)
    assert same.get_result(timeout_seconds=30) == {"args": [7], "kwargs": {}}
    status = same.get_status()
    assert status.workflow_id == handle.workflow_id
    assert status.output == {"args": [7], "kwargs": {}}
    assert status.executor_id is not None and status.recovery_attempts == 1
    assert status.created_at is not None and status.updated_at >= status.created_at
    assert not status.is_active


def test_unknown_workflow_fails_fast(client: DBOSClient, uid: str) -> None:
    with pytest.raises(WorkflowNotFoundError):
        client.retrieve_workflow(f"nope-{uid}")
    from dbos_client import WorkflowHandle

    ghost = WorkflowHandle(client, f"nope-{uid}")
    start = time.monotonic()
    with pytest.raises(WorkflowNotFoundError):
        ghost.get_result()
    with pytest.raises(WorkflowNotFoundError):
        ghost.get_status()
    assert time.monotonic() - start < 5


def test_get_result_timeout(client: DBOSClient) -> None:
    handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "sleep_wf"}, 3)
    start = time.monotonic()
    with pytest.raises(ResultTimeoutError):
        handle.get_result(timeout_seconds=0.5)
    assert time.monotonic() - start < 5
    assert handle.get_result(timeout_seconds=30, polling_interval_sec=0.1) == 3


def test_cancel_queued_workflow(client: DBOSClient) -> None:
    handle = client.enqueue({"queue_name": UNPOLLED_QUEUE, "workflow_name": "echo"})
    client.cancel_workflow(handle.workflow_id)
    status = handle.get_status()
    assert status.status == "CANCELLED" and status.queue_name is None
    with pytest.raises(WorkflowCancelledError):
        handle.get_result(timeout_seconds=5)


def test_cancel_running_then_resume(client: DBOSClient) -> None:
    handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "sleep_wf"}, 2)
    _wait_for_status(client, handle.workflow_id, "PENDING")
    client.cancel_workflow(handle.workflow_id)
    with pytest.raises(WorkflowCancelledError):
        handle.get_result(timeout_seconds=30)
    resumed = client.resume_workflow(handle.workflow_id)
    assert resumed.get_result(timeout_seconds=60) == 2


def test_cancel_children(client: DBOSClient) -> None:
    # Cancelling a finished workflow is a no-op, and cancel_children on a childless one is harmless.
    handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "echo"})
    handle.get_result(timeout_seconds=30)
    client.cancel_workflow(handle.workflow_id, cancel_children=True)
    assert handle.get_status().status == "SUCCESS"


def test_resume_onto_a_queue(client: DBOSClient) -> None:
    handle = client.enqueue({"queue_name": UNPOLLED_QUEUE, "workflow_name": "echo"}, "moved")
    client.cancel_workflow(handle.workflow_id)
    client.resume_workflow(handle.workflow_id, queue_name=QUEUE)
    assert handle.get_result(timeout_seconds=30) == {"args": ["moved"], "kwargs": {}}


def test_cancel_and_resume_unknown(client: DBOSClient, uid: str) -> None:
    with pytest.raises(WorkflowNotFoundError):
        client.cancel_workflow(f"nope-{uid}")
    with pytest.raises(WorkflowNotFoundError):
        client.resume_workflow(f"nope-{uid}")
