"""dbos-client: talk to DBOS workflows from outside the application, straight through its system database.

    from dbos_client import DBOSClient

    with DBOSClient(system_database_url="postgresql://...") as client:
        handle = client.enqueue({"queue_name": "orders", "workflow_name": "checkout"}, order_id)
        client.send(handle.workflow_id, {"status": "paid"}, topic="payment")
        print(client.get_event(handle.workflow_id, "payment_id", timeout_seconds=30))
"""

from ._serialization import (
    DefaultSerializer,
    PortableJSONSerializer,
    PortableWorkflowError,
    Serializer,
    WorkflowSerializationFormat,
)
from ._version import __version__
from .client import DBOSClient, WorkflowHandle
from .client_async import AsyncDBOSClient, AsyncWorkflowHandle
from .errors import (
    DatabaseUnavailableError,
    DBOSClientError,
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
from .models import EnqueueOptions, ListWorkflowsFilters, PollPolicy, RetryPolicy, WorkflowStatus, WorkflowStatusString

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
]
