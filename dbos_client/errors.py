"""Everything dbos-client raises on purpose.

    DBOSClientError                        root of the tree
    ├── InvalidArgumentError (ValueError)  bad URL, option or argument; raised before any write
    ├── DatabaseUnavailableError           transient failures outlived the retry budget
    ├── ConnectionRejectedError            the server or the TLS check refused us for good; never retried
    ├── SchemaError                        no usable DBOS system schema (the client never migrates)
    ├── WorkflowNotFoundError (LookupError)
    ├── WorkflowConflictError              enqueue refused
    │   ├── WorkflowIdConflictError        the id is taken by a different workflow
    │   └── DeduplicatedError              the queue's deduplication id is taken
    ├── SerializationError                 a value cannot be encoded, or a stored one decoded
    ├── WorkflowCancelledError             get_result on a cancelled workflow
    ├── MaxRecoveryAttemptsExceededError   get_result on a dead-lettered workflow
    ├── WaitTimeoutError (TimeoutError)
    │   ├── ResultTimeoutError             get_result(timeout_seconds=...) expired
    │   └── StreamTimeoutError             read_stream waited too long for one value
    ├── ScheduleNotFoundError (LookupError) backfill/trigger of an unknown schedule
    └── ScheduleConflictError              schedule name taken, or owned by another application

A workflow that failed is not an error of the client: `get_result` re-raises the
workflow's own exception (or a `PortableWorkflowError` for portable JSON errors).
Messages never contain a password: URLs are redacted before they reach any text.
"""

from __future__ import annotations

from typing import Any

__all__ = [
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
    "ScheduleNotFoundError",
    "ScheduleConflictError",
]


class DBOSClientError(Exception):
    """Base class of every error dbos-client raises on purpose."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        # Structured data (workflow_id, key, ...) for callers; also kept for pickling.
        self._details = details
        for name, value in details.items():
            setattr(self, name, value)

    def __reduce__(self) -> Any:
        return (_rebuild, (type(self), self.message, self._details))

    def __str__(self) -> str:
        return self.message


def _rebuild(cls: type[DBOSClientError], message: str, details: dict[str, Any]) -> DBOSClientError:
    err = cls.__new__(cls)
    DBOSClientError.__init__(err, message, **details)
    return err


class InvalidArgumentError(DBOSClientError, ValueError):
    """An argument, option or URL is invalid. Raised before anything is written."""


class DatabaseUnavailableError(DBOSClientError):
    """The system database could not be reached within the retry budget.

    ``__cause__`` holds the last underlying psycopg error.
    """

    #: The database URL, password masked.
    url: str


class ConnectionRejectedError(DBOSClientError):
    """The database refused the connection for a reason a retry cannot fix.

    A wrong password, an unknown role or database, no ``pg_hba.conf`` entry, or a server
    certificate that does not verify (or names another host). Raised at once, without
    retries; ``__cause__`` holds libpq's error, which never contains the password.
    """

    #: The database URL, password masked.
    url: str


class SchemaError(DBOSClientError):
    """The database holds no DBOS system schema this client can use."""


class WorkflowNotFoundError(DBOSClientError, LookupError):
    """No workflow with this id exists in the system database."""

    workflow_id: str

    def __init__(self, workflow_id: str, action: str = "") -> None:
        what = f" ({action})" if action else ""
        super().__init__(f"No workflow with id {workflow_id!r} exists{what}.", workflow_id=workflow_id)

    def __reduce__(self) -> Any:
        return (_rebuild, (type(self), self.message, self._details))


class WorkflowConflictError(DBOSClientError):
    """An enqueue was refused because of an existing workflow."""


class WorkflowIdConflictError(WorkflowConflictError):
    """The workflow id is already used by a different workflow (or the policy is 'reject')."""

    workflow_id: str


class DeduplicatedError(WorkflowConflictError):
    """Another workflow on the queue already holds this deduplication id."""

    workflow_id: str
    queue_name: str
    deduplication_id: str


class SerializationError(DBOSClientError):
    """A value could not be serialized, or a stored value could not be deserialized."""


class WorkflowCancelledError(DBOSClientError):
    """The awaited workflow was cancelled, so it has no result."""

    workflow_id: str


class MaxRecoveryAttemptsExceededError(DBOSClientError):
    """The awaited workflow was dead-lettered after too many recovery attempts."""

    workflow_id: str


class WaitTimeoutError(DBOSClientError, TimeoutError):
    """A blocking call gave up at its deadline."""


class ResultTimeoutError(WaitTimeoutError):
    """``get_result(timeout_seconds=...)`` expired before the workflow finished."""

    workflow_id: str
    #: The workflow's status when the wait gave up (PENDING, ENQUEUED, ...).
    status: str
    timeout_seconds: float


class StreamTimeoutError(WaitTimeoutError):
    """``read_stream`` waited longer than its per-value timeout for the next value."""

    workflow_id: str
    key: str
    #: The offset of the value that did not come.
    offset: int
    timeout_seconds: float


class ScheduleNotFoundError(DBOSClientError, LookupError):
    """``backfill_schedule`` or ``trigger_schedule`` named a schedule that does not exist."""

    schedule_name: str


class ScheduleConflictError(DBOSClientError):
    """``create_schedule``: the name is taken; or a write names a schedule another application owns."""

    schedule_name: str
