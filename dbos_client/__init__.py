"""dbos-client: talk to DBOS workflows from outside the application, straight through its system database.

    from dbos_client import DBOSClient

    with DBOSClient(system_database_url="postgresql://...") as client:
        handle = client.enqueue({"queue_name": "orders", "workflow_name": "checkout"}, order_id)
        client.send(handle.workflow_id, {"status": "paid"}, topic="payment")
        print(client.get_event(handle.workflow_id, "payment_id", timeout_seconds=30))
"""

from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

from ._serialization import (
    DefaultSerializer,
    PortableJSONSerializer,
    PortableWorkflowError,
    Serializer,
    WorkflowSerializationFormat,
)
from ._version import __version__
from .client import DBOSClient, WorkflowHandle
from .errors import (
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
    QueueNotFoundError,
    ResultTimeoutError,
    ScheduleConflictError,
    ScheduleNotFoundError,
    SchemaError,
    SerializationError,
    StreamTimeoutError,
    WaitTimeoutError,
    WorkflowCancelledError,
    WorkflowConflictError,
    WorkflowIdConflictError,
    WorkflowNotFoundError,
)
from .models import (
    ClientScheduleInput,
    EnqueueItem,
    EnqueueOptions,
    ListWorkflowsFilters,
    PollPolicy,
    RetryPolicy,
    SendMessage,
    WorkflowSchedule,
    WorkflowStatus,
    WorkflowStatusString,
)

# isort: split
# The operator's surface (queues, fork/rewind, application versions).
from .errors import ApplicationVersionNotFoundError, NameConflictError, WorkflowStateError
from .models import ApplicationRowCounts, Queue, QueueRateLimit, VersionInfo

if _TYPE_CHECKING:
    from ._debounce import DebouncerClient
    from .client_async import AsyncDBOSClient, AsyncWorkflowHandle

#: Public names loaded on first access (PEP 562), and their modules: a sync script does not pay
#: for asyncio code, nor for the debouncer's (schedules, cron) unless it uses them.
_LAZY = {"AsyncDBOSClient": "client_async", "AsyncWorkflowHandle": "client_async", "DebouncerClient": "_debounce"}


def __getattr__(name: str) -> _Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'dbos_client' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "__version__",
    "DBOSClient",
    "WorkflowHandle",
    "AsyncDBOSClient",
    "AsyncWorkflowHandle",
    "EnqueueOptions",
    "ListWorkflowsFilters",
    "WorkflowStatus",
    "WorkflowStatusString",
    "RetryPolicy",
    "PollPolicy",
    "Serializer",
    "DefaultSerializer",
    "PortableJSONSerializer",
    "PortableWorkflowError",
    "WorkflowSerializationFormat",
    "DBOSClientError",
    "InvalidArgumentError",
    "DatabaseUnavailableError",
    "ConnectionRejectedError",
    "SchemaError",
    "WorkflowNotFoundError",
    "WorkflowConflictError",
    "WorkflowIdConflictError",
    "DeduplicatedError",
    "SerializationError",
    "WorkflowCancelledError",
    "MaxRecoveryAttemptsExceededError",
    "WaitTimeoutError",
    "ResultTimeoutError",
    "StreamTimeoutError",
    "Queue",
    "QueueRateLimit",
    "VersionInfo",
    "ApplicationRowCounts",
    "WorkflowStateError",
    "NameConflictError",
    "ApplicationVersionNotFoundError",
    "SendMessage",
    "EnqueueItem",

    # dbos.DBOSClient's names for the same errors (see dbos_client.errors)
    "DBOSException",
    "DBOSNonExistentWorkflowError",
    "DBOSConflictingWorkflowError",
    "DBOSWorkflowIDInUseError",
    "DBOSQueueDeduplicatedError",
    "DBOSAwaitedWorkflowCancelledError",
    "DBOSAwaitedWorkflowMaxRecoveryAttemptsExceeded",
    "DBOSStreamTimeoutError",
    "DBOSQueryTimeoutError",
    "DebouncerClient",
    "WorkflowSchedule",
    "ClientScheduleInput",
    "ScheduleNotFoundError",
    "QueueNotFoundError",
    "ScheduleConflictError",
]
