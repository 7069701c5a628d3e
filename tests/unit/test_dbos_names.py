"""dbos.DBOSClient's exception names: in our tree, under our class for the same condition.

Changing ``from dbos import X`` to ``from dbos_client import X`` must still catch what the
client raises. tests/interop/test_error_names.py compares these with dbos._error itself.
"""

from __future__ import annotations

import copy
import pickle
from typing import Any

import pytest

import dbos_client
from dbos_client import errors
from dbos_client.errors import (
    ConnectionRejectedError,
    DatabaseUnavailableError,
    DBOSAwaitedWorkflowCancelledError,
    DBOSAwaitedWorkflowMaxRecoveryAttemptsExceeded,
    DBOSClientError,
    DBOSConflictingWorkflowError,
    DBOSException,
    DBOSNonExistentWorkflowError,
    DBOSQueryTimeoutError,
    DBOSQueueDeduplicatedError,
    DBOSStreamTimeoutError,
    DBOSWorkflowIDInUseError,
    DeduplicatedError,
    InvalidArgumentError,
    MaxRecoveryAttemptsExceededError,
    ResultTimeoutError,
    SchemaError,
    SerializationError,
    StreamTimeoutError,
    WaitTimeoutError,
    WorkflowCancelledError,
    WorkflowConflictError,
    WorkflowIdConflictError,
    WorkflowNotFoundError,
)

#: Each DBOS name, built as DBOS builds it, with the message and attributes DBOS gives it.
EXAMPLES: list[tuple[type[DBOSException], tuple[Any, ...], str, dict[str, object]]] = [
    (
        DBOSNonExistentWorkflowError,
        ("target", "wf-1"),
        "Non-existent target workflow ID: wf-1",
        {"destination": "target", "destination_id": "wf-1", "workflow_id": "wf-1", "dbos_error_code": 5},
    ),
    (
        DBOSConflictingWorkflowError,
        ("wf-1", "another function"),
        "Conflicting workflow invocation with the same ID (wf-1): another function",
        {"workflow_id": "wf-1", "detail": "another function", "dbos_error_code": 9},
    ),
    (
        DBOSWorkflowIDInUseError,
        ("wf-1", "PENDING", "checkout"),
        "Workflow ID wf-1 is already in use by workflow checkout with status PENDING.",
        {"workflow_id": "wf-1", "workflow_status": "PENDING", "workflow_name": "checkout", "dbos_error_code": 27},
    ),
    (
        DBOSQueueDeduplicatedError,
        ("wf-1", "orders", "d-1"),
        "Workflow wf-1 was deduplicated due to an existing workflow in queue orders with deduplication ID d-1.",
        {"workflow_id": "wf-1", "queue_name": "orders", "deduplication_id": "d-1", "dbos_error_code": 12},
    ),
    (
        DBOSAwaitedWorkflowCancelledError,
        ("wf-1",),
        "Awaited workflow wf-1 was cancelled",
        {"workflow_id": "wf-1", "dbos_error_code": 13},
    ),
    (
        DBOSAwaitedWorkflowMaxRecoveryAttemptsExceeded,
        ("wf-1",),
        "Awaited workflow wf-1 exceeded its maximum recovery attempts",
        {"workflow_id": "wf-1", "dbos_error_code": 14},
    ),
    (
        DBOSStreamTimeoutError,
        ("wf-1", "progress", 2.5),
        "No value arrived on stream progress of workflow wf-1 within 2.5 seconds",
        {"workflow_id": "wf-1", "key": "progress", "timeout_seconds": 2.5, "offset": None, "dbos_error_code": 16},
    ),
    (
        DBOSQueryTimeoutError,
        (30.0,),
        "This query was cancelled after exceeding its 30s statement timeout.",
        {"timeout_seconds": 30.0, "dbos_error_code": 26},
    ),
]


def _ids(value: Any) -> str:
    return value.__name__ if isinstance(value, type) else ""


DBOS_NAMES = [cls for cls, _, _, _ in EXAMPLES]


def test_every_dbos_name_has_an_example() -> None:
    named = {name for name in errors.__all__ if name.startswith("DBOS") and name not in ("DBOSClientError", "DBOSException")}
    assert named == {cls.__name__ for cls in DBOS_NAMES}


@pytest.mark.parametrize("cls", [DBOSException, *DBOS_NAMES], ids=lambda c: c.__name__)
def test_exported_from_the_package_and_in_our_tree(cls: type) -> None:
    assert getattr(dbos_client, cls.__name__) is cls
    assert cls.__name__ in dbos_client.__all__
    assert issubclass(cls, DBOSException) and issubclass(cls, DBOSClientError)


@pytest.mark.parametrize(
    "cls, ours",
    [
        (DBOSNonExistentWorkflowError, WorkflowNotFoundError),
        (DBOSNonExistentWorkflowError, LookupError),
        (DBOSConflictingWorkflowError, WorkflowIdConflictError),
        (DBOSWorkflowIDInUseError, WorkflowIdConflictError),
        (DBOSQueueDeduplicatedError, DeduplicatedError),
        (DBOSQueueDeduplicatedError, WorkflowConflictError),
        (DBOSAwaitedWorkflowCancelledError, WorkflowCancelledError),
        (DBOSAwaitedWorkflowMaxRecoveryAttemptsExceeded, MaxRecoveryAttemptsExceededError),
        (DBOSStreamTimeoutError, StreamTimeoutError),
        (DBOSStreamTimeoutError, WaitTimeoutError),
        (DBOSStreamTimeoutError, TimeoutError),
    ],
)
def test_each_dbos_name_is_under_our_class_for_the_same_condition(cls: type, ours: type) -> None:
    assert issubclass(cls, ours)


@pytest.mark.parametrize(
    "cls",
    [InvalidArgumentError, WorkflowNotFoundError, WorkflowConflictError, WorkflowIdConflictError, DeduplicatedError,
     WorkflowCancelledError, MaxRecoveryAttemptsExceededError, StreamTimeoutError],
    ids=lambda c: c.__name__,
)  # fmt: skip
def test_what_dbos_signals_with_dbos_exception_is_one(cls: type) -> None:
    # dbos.DBOSClient raises DBOSException for bad options, unknown ids, refused enqueues...
    assert issubclass(cls, DBOSException)


@pytest.mark.parametrize(
    "cls", [DatabaseUnavailableError, ConnectionRejectedError, SchemaError, SerializationError, ResultTimeoutError],
    ids=lambda c: c.__name__,
)  # fmt: skip
def test_what_dbos_signals_otherwise_is_not_a_dbos_exception(cls: type) -> None:
    # The driver's errors (SQLAlchemy's in DBOS), TypeError for serialization, no result timeout in DBOS.
    assert not issubclass(cls, DBOSException)
    assert issubclass(cls, DBOSClientError)


def test_the_builtins_dbos_raises_are_kept() -> None:
    # DBOS raises TypeError("Serialization X is not available") and ValueError for bad arguments.
    assert issubclass(SerializationError, TypeError)
    assert issubclass(InvalidArgumentError, ValueError)
    with pytest.raises(TypeError):
        raise SerializationError("Serialization custom_json is not available")


def test_catching_by_the_dbos_name_catches_what_the_client_raises() -> None:
    with pytest.raises(DBOSException):
        raise InvalidArgumentError("Invalid priority -1")
    with pytest.raises(WorkflowNotFoundError):
        raise DBOSNonExistentWorkflowError("target", "wf-1")
    with pytest.raises(DBOSNonExistentWorkflowError) as caught:
        raise DBOSNonExistentWorkflowError("`send` destination", "wf-2", "send destination")
    assert caught.value.destination == "`send` destination" and caught.value.workflow_id == "wf-2"


@pytest.mark.parametrize("cls, args, message, attributes", EXAMPLES, ids=_ids)
def test_message_and_attributes_are_dbos_s(
    cls: type[DBOSException], args: tuple[Any, ...], message: str, attributes: dict[str, object]
) -> None:
    err = cls(*args)
    assert err.message == message
    assert str(err) == f"DBOS Error {err.dbos_error_code}: {message}"  # DBOS's format
    assert err.args == (message,)
    for name, value in attributes.items():
        assert getattr(err, name) == value, name


def test_the_client_s_context_follows_dbos_s_message() -> None:
    err = DBOSNonExistentWorkflowError("target", "wf-1", "resume_workflow")
    assert str(err).startswith("DBOS Error 5: Non-existent target workflow ID: wf-1 (")
    assert "resume_workflow" in str(err) and "'wf-1'" in str(err)
    dedup = DBOSQueueDeduplicatedError("w", "q", "d", "the deduplication id kept changing hands")
    assert dedup.message.startswith("Workflow w was deduplicated") and "kept changing hands" in str(dedup)
    stream = DBOSStreamTimeoutError("w", "k", None, 3)
    assert stream.message == "No value arrived on stream k of workflow w" and stream.offset == 3


def test_plain_dbos_exception_has_no_code() -> None:
    err = DBOSException("something")
    assert err.dbos_error_code is None and str(err) == "something"
    assert str(InvalidArgumentError("priority must be ...")) == "priority must be ..."  # ours keep their text


@pytest.mark.parametrize("cls, args, message, attributes", EXAMPLES, ids=_ids)
@pytest.mark.parametrize("protocol", [0, pickle.HIGHEST_PROTOCOL])
def test_pickle_and_copy_keep_class_message_and_attributes(
    cls: type[DBOSException], args: tuple[Any, ...], message: str, attributes: dict[str, object], protocol: int
) -> None:
    err = cls(*args)
    for dup in (pickle.loads(pickle.dumps(err, protocol=protocol)), copy.copy(err), copy.deepcopy(err)):
        assert type(dup) is type(err)
        assert dup.message == message and str(dup) == str(err)
        for name, value in attributes.items():
            assert getattr(dup, name) == value, name
