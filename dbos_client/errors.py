"""Everything dbos-client raises on purpose.

    DBOSClientError                        root of the tree
    ├── DBOSException                      what dbos.DBOSClient signals with dbos's DBOSException
    │   ├── InvalidArgumentError (ValueError)  bad URL, option or argument; raised before any write
    │   ├── WorkflowNotFoundError (LookupError)
    │   │   └── DBOSNonExistentWorkflowError
    │   ├── WorkflowConflictError          enqueue refused
    │   │   ├── WorkflowIdConflictError    the id is taken by a different workflow
    │   │   │   ├── DBOSConflictingWorkflowError   ... by another function
    │   │   │   └── DBOSWorkflowIDInUseError       ... and workflow_id_reuse_policy is 'reject'
    │   │   └── DeduplicatedError          the queue's deduplication id is taken
    │   │       └── DBOSQueueDeduplicatedError
    │   ├── WorkflowCancelledError         get_result on a cancelled workflow
    │   │   └── DBOSAwaitedWorkflowCancelledError
    │   ├── MaxRecoveryAttemptsExceededError   get_result on a dead-lettered workflow
    │   │   └── DBOSAwaitedWorkflowMaxRecoveryAttemptsExceeded
    │   ├── ScheduleNotFoundError (LookupError)  backfill/trigger of an unknown schedule
    │   ├── QueueNotFoundError (LookupError)  a Queue's setter or getter on a deleted queue
    │   ├── ScheduleConflictError          schedule name taken, or owned by another application
    │   └── DBOSQueryTimeoutError          never raised here (no statement timeout is set)
    ├── DatabaseUnavailableError           transient failures outlived the retry budget
    ├── ConnectionRejectedError            the server or the TLS check refused us for good; never retried
    ├── SchemaError                        no usable DBOS system schema (the client never migrates)
    ├── SerializationError (TypeError)     a value cannot be encoded, or a stored one decoded
    └── WaitTimeoutError (TimeoutError)
        ├── ResultTimeoutError             get_result(timeout_seconds=...) expired
        └── StreamTimeoutError (also a DBOSException)  read_stream waited too long for one value
            └── DBOSStreamTimeoutError

The ``DBOS*`` names are those ``dbos.DBOSClient`` 3.4 raises (from ``dbos._error``), with
the same constructor arguments, attributes, ``dbos_error_code`` and message text, so
changing ``from dbos import X`` to ``from dbos_client import X`` still catches what it
caught. The client always raises the most specific class, so the older names
(``WorkflowNotFoundError``...) catch it too. Where DBOS raises a builtin, ours is that
builtin as well: a value whose serializer is not available is a ``TypeError``, as in DBOS.
The driver's errors (DBOS lets SQLAlchemy's through) are ``DatabaseUnavailableError``,
``ConnectionRejectedError`` and ``SchemaError``, which are not ``DBOSException``s either.

In a process that has already imported dbos (or SQLAlchemy), each error is also dbos's
class for the same condition (or SQLAlchemy's: ``OperationalError`` for a database that
is unreachable or refuses us, ``ProgrammingError`` for a missing schema), so code written
for ``dbos.DBOSClient`` keeps catching it with ``except dbos._error.DBOSNonExistentWorkflowError``
or ``except sqlalchemy.exc.DBAPIError``. ``type(err)`` is then a subclass of ours made for
that purpose, with the same name; ``isinstance`` is the test to use. Neither is ever imported
here.

A workflow that failed is not an error of the client: `get_result` re-raises the
workflow's own exception (or a `PortableWorkflowError` for portable JSON errors).
Messages never contain a password: URLs are redacted before they reach any text.
"""

from __future__ import annotations

import sys
from typing import Any, TypeVar

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
    "DBOSException",
    "DBOSNonExistentWorkflowError",
    "DBOSConflictingWorkflowError",
    "DBOSWorkflowIDInUseError",
    "DBOSQueueDeduplicatedError",
    "DBOSAwaitedWorkflowCancelledError",
    "DBOSAwaitedWorkflowMaxRecoveryAttemptsExceeded",
    "DBOSStreamTimeoutError",
    "DBOSQueryTimeoutError",
    "ScheduleNotFoundError",
    "QueueNotFoundError",
    "ScheduleConflictError",
]


E = TypeVar("E", bound="DBOSClientError")


class DBOSClientError(Exception):
    """Base class of every error dbos-client raises on purpose."""

    def __new__(cls: type[E], *args: Any, **kwargs: Any) -> E:
        # Where the caller's process has loaded dbos or SQLAlchemy, the error is also
        # their class for the same condition (see ``_compat_class``). The arguments are
        # for ``__init__``: none go to the builtin ``__new__`` (OSError's would parse them).
        target = _compat_class(cls)
        self: E = super().__new__(target)
        if target is not cls:
            for name, factory in target._compat_instance_defaults:  # type: ignore[attr-defined]
                setattr(self, name, factory())
        return self

    def __init__(self, message: str, **details: Any) -> None:
        # Not super(): in a class composed with dbos's (``_compat_class``) the next
        # ``__init__`` in the MRO may be dbos's, whose arguments differ.
        Exception.__init__(self, message)
        self.message = message
        # Structured data (workflow_id, key, ...) for callers; also kept for pickling.
        self._details = details
        for name, value in details.items():
            setattr(self, name, value)

    def __reduce__(self) -> Any:
        # Our own class, never the composed one (which no module names): unpickling
        # composes again, as raising it would in the receiving process.
        return (_rebuild, (_plain_class(type(self)), self.message, self._details))

    def __str__(self) -> str:
        return self.message


def _rebuild(cls: type[DBOSClientError], message: str, details: dict[str, Any]) -> DBOSClientError:
    err = cls.__new__(cls)
    DBOSClientError.__init__(err, message, **details)
    return err


class DBOSException(DBOSClientError):
    """Named after dbos's base class: what ``dbos.DBOSClient`` signals with a ``DBOSException``.

    Invalid arguments, unknown workflows, refused enqueues, cancelled or dead-lettered
    awaited workflows and stream timeouts are ``DBOSException``s, as in DBOS. Database
    failures (SQLAlchemy errors in DBOS) and serialization failures (``TypeError``) are not.
    """

    #: DBOS's ``DBOSErrorCode`` value for this kind of error (None for a plain DBOSException).
    dbos_error_code: int | None = None

    def __str__(self) -> str:
        # DBOS's format for its named errors ("DBOS Error 5: Non-existent target workflow ID: ...");
        # ``message`` is the bare text, as in DBOS. Ours without a code read as their message.
        code = self.dbos_error_code
        return f"DBOS Error {code}: {self.message}" if code else self.message


class InvalidArgumentError(DBOSException, ValueError):
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


class WorkflowNotFoundError(DBOSException, LookupError):
    """No workflow with this id exists in the system database."""

    workflow_id: str

    def __init__(self, workflow_id: str, action: str = "") -> None:
        what = f" ({action})" if action else ""
        super().__init__(f"No workflow with id {workflow_id!r} exists{what}.", workflow_id=workflow_id)


class WorkflowConflictError(DBOSException):
    """An enqueue was refused because of an existing workflow."""


class WorkflowIdConflictError(WorkflowConflictError):
    """The workflow id is already used by a different workflow (or the policy is 'reject')."""

    workflow_id: str


class DeduplicatedError(WorkflowConflictError):
    """Another workflow on the queue already holds this deduplication id."""

    workflow_id: str
    queue_name: str
    deduplication_id: str


class SerializationError(DBOSClientError, TypeError):
    """A value could not be serialized, or a stored value could not be deserialized.

    A ``TypeError``, as DBOS raises for a value whose serializer is not available.
    """


class WorkflowCancelledError(DBOSException):
    """The awaited workflow was cancelled, so it has no result."""

    workflow_id: str


class MaxRecoveryAttemptsExceededError(DBOSException):
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


class StreamTimeoutError(WaitTimeoutError, DBOSException):
    """``read_stream`` waited longer than its per-value timeout for the next value."""

    workflow_id: str
    key: str
    #: The offset of the value that did not come.
    offset: int
    timeout_seconds: float


# -- the operator's surface (queues, fork/rewind, application versions) ----------------------


class WorkflowStateError(WorkflowConflictError):
    """The workflow's status forbids the change: ``rewind_workflow`` on a workflow that is
    still ENQUEUED, PENDING or DELAYED (cancel it first), or whose status changed meanwhile."""

    workflow_id: str
    status: str


class NameConflictError(DBOSException):
    """A queue or application version name is already owned by another application.

    Names are global in a system database; ``rename_application`` re-owns rows."""

    name: str
    #: The application that owns the name.
    owner: str


class ApplicationVersionNotFoundError(DBOSClientError, LookupError):
    """No application version (with this name) is registered in the system database."""


__all__ += ["WorkflowStateError", "NameConflictError", "ApplicationVersionNotFoundError"]

# -- dbos.DBOSClient's names (dbos._error), each under our class for the same condition --------


class DBOSNonExistentWorkflowError(WorkflowNotFoundError):
    """No workflow with this id (DBOS's name). ``destination`` is ``"target"`` or ``"`send` destination"``."""

    dbos_error_code = 5
    destination: str
    destination_id: str

    def __init__(self, destination: str, destination_id: str, action: str = "") -> None:
        detail = f" ({action}: no workflow with id {destination_id!r} exists)" if action else ""
        DBOSClientError.__init__(
            self,
            f"Non-existent {destination} workflow ID: {destination_id}{detail}",
            destination=destination, destination_id=destination_id, workflow_id=destination_id,
        )  # fmt: skip


class DBOSConflictingWorkflowError(WorkflowIdConflictError):
    """The workflow id is taken by a workflow of another function, class or instance (DBOS's name)."""

    dbos_error_code = 9
    #: What differs, DBOS's ``detail``.
    detail: str | None

    def __init__(self, workflow_id: str, message: str | None = None) -> None:
        DBOSClientError.__init__(
            self,
            f"Conflicting workflow invocation with the same ID ({workflow_id}): {message}",
            workflow_id=workflow_id, detail=message,
        )  # fmt: skip


class DBOSWorkflowIDInUseError(WorkflowIdConflictError):
    """``workflow_id_reuse_policy='reject'`` and the id is taken (DBOS's name)."""

    dbos_error_code = 27
    workflow_status: str
    workflow_name: str

    def __init__(self, workflow_id: str, workflow_status: str, workflow_name: str) -> None:
        DBOSClientError.__init__(
            self,
            f"Workflow ID {workflow_id} is already in use by workflow {workflow_name} with status {workflow_status}.",
            workflow_id=workflow_id, workflow_status=workflow_status, workflow_name=workflow_name,
        )  # fmt: skip


class DBOSQueueDeduplicatedError(DeduplicatedError):
    """Another workflow on the queue holds this deduplication id (DBOS's name)."""

    dbos_error_code = 12

    def __init__(self, workflow_id: str, queue_name: str, deduplication_id: str, detail: str = "") -> None:
        DBOSClientError.__init__(
            self,
            f"Workflow {workflow_id} was deduplicated due to an existing workflow in queue {queue_name} "
            f"with deduplication ID {deduplication_id}." + (f" ({detail})" if detail else ""),
            workflow_id=workflow_id, queue_name=queue_name, deduplication_id=deduplication_id,
        )  # fmt: skip


class DBOSAwaitedWorkflowCancelledError(WorkflowCancelledError):
    """``get_result`` on a cancelled workflow (DBOS's name)."""

    dbos_error_code = 13

    def __init__(self, workflow_id: str) -> None:
        DBOSClientError.__init__(self, f"Awaited workflow {workflow_id} was cancelled", workflow_id=workflow_id)


class DBOSAwaitedWorkflowMaxRecoveryAttemptsExceeded(MaxRecoveryAttemptsExceededError):
    """``get_result`` on a dead-lettered workflow (DBOS's name)."""

    dbos_error_code = 14

    def __init__(self, workflow_id: str) -> None:
        DBOSClientError.__init__(
            self, f"Awaited workflow {workflow_id} exceeded its maximum recovery attempts", workflow_id=workflow_id
        )


class DBOSStreamTimeoutError(StreamTimeoutError):
    """No value arrived on a stream within ``timeout_seconds`` (DBOS's name)."""

    dbos_error_code = 16

    def __init__(
        self, workflow_id: str, key: str, timeout_seconds: float | None = None, offset: int | None = None,
        reason: str | None = None,
    ) -> None:  # fmt: skip
        # ``reason``: why no value will come, when it is not the timeout (the stream ended first).
        within = f": {reason}" if reason else f" within {timeout_seconds} seconds" if timeout_seconds is not None else ""
        DBOSClientError.__init__(
            self,
            f"No value arrived on stream {key} of workflow {workflow_id}{within}",
            workflow_id=workflow_id, key=key, timeout_seconds=timeout_seconds, offset=offset,
        )  # fmt: skip


class DBOSQueryTimeoutError(DBOSException):
    """DBOS's error for an observability query that outlived its statement timeout.

    Never raised by this client, which sets no statement timeout
    (``observability_query_timeout_sec`` is accepted and changes nothing); exported so
    code written against ``dbos.DBOSClient`` imports unchanged.
    """

    dbos_error_code = 26
    timeout_seconds: float

    def __init__(self, timeout_seconds: float) -> None:
        DBOSClientError.__init__(
            self,
            f"This query was cancelled after exceeding its {timeout_seconds:g}s statement timeout.",
            timeout_seconds=timeout_seconds,
        )

class ScheduleNotFoundError(DBOSException, LookupError):
    """``backfill_schedule`` or ``trigger_schedule`` named a schedule that does not exist."""

    schedule_name: str


class QueueNotFoundError(DBOSException, LookupError):
    """A client-bound ``Queue``'s setter or ``get_*_async`` found no row of that name (deleted)."""

    queue_name: str


class ScheduleConflictError(DBOSException):
    """``create_schedule``: the name is taken; or a write names a schedule another application owns."""

    schedule_name: str


# -- the same error under dbos's and SQLAlchemy's names --------------------------------------
#
# Code written for dbos.DBOSClient catches its errors by dbos's classes (``except
# dbos.DBOSNonExistentWorkflowError``) and its database failures by SQLAlchemy's (``except
# sqlalchemy.exc.DBAPIError``). A program that swaps only the client's import keeps those
# lines, often in code that also catches what the DBOS runtime raises, so no single name
# could serve both. We never import dbos or SQLAlchemy; but when the process already has
# ``dbos._error`` or ``sqlalchemy.exc`` loaded, each error we make is an instance of a class
# derived from ours and theirs: ours first in the MRO (our attributes, ``__str__`` without
# passwords, the builtin bases), theirs after, their ``__init__`` never called.

_DBOS = "dbos._error"
_SQLALCHEMY = "sqlalchemy.exc"


def _dbos(name: str) -> tuple[str, str]:
    return (_DBOS, name)


#: Per class of ours, the classes dbos.DBOSClient 3.4 raises for the same condition, as
#: (module, name). A class without an entry takes its nearest base's. DBOS lets SQLAlchemy's
#: errors through: a connection that fails or is refused is an ``OperationalError``, a
#: missing table or column a ``ProgrammingError`` (Postgres's UndefinedTable), a fork onto
#: a taken id an ``IntegrityError``. Where DBOS raises a plain ``DBOSException`` (bad
#: arguments, name conflicts, no application version) the base entry says so.
_FOREIGN: dict[type[DBOSClientError], tuple[tuple[str, str], ...]] = {
    DBOSException: (_dbos("DBOSException"),),
    ApplicationVersionNotFoundError: (_dbos("DBOSException"),),
    WorkflowIdConflictError: (_dbos("DBOSException"), (_SQLALCHEMY, "IntegrityError")),
    DatabaseUnavailableError: ((_SQLALCHEMY, "OperationalError"),),
    ConnectionRejectedError: ((_SQLALCHEMY, "OperationalError"),),
    SchemaError: ((_SQLALCHEMY, "ProgrammingError"),),
    **{
        cls: (_dbos(cls.__name__),)
        for cls in (
            DBOSNonExistentWorkflowError, DBOSConflictingWorkflowError, DBOSWorkflowIDInUseError,
            DBOSQueueDeduplicatedError, DBOSAwaitedWorkflowCancelledError,
            DBOSAwaitedWorkflowMaxRecoveryAttemptsExceeded, DBOSStreamTimeoutError, DBOSQueryTimeoutError,
        )
    },
}  # fmt: skip

#: ``_FOREIGN`` resolved along each class's MRO, filled on first use.
_SPECS: dict[type, tuple[tuple[str, str], ...]] = {}
#: (our class, their classes...) -> the composed class.
_COMPOSED: dict[tuple[type, ...], type] = {}


def _compat_class(cls: type[E]) -> type[E]:
    """``cls``, or the class composed from it and the foreign classes already loaded.

    One dict lookup and a ``sys.modules`` lookup per foreign name on each construction;
    the composed classes are cached.
    """
    specs = _SPECS.get(cls)
    if specs is None:
        specs = _SPECS[cls] = next((_FOREIGN[base] for base in cls.__mro__ if base in _FOREIGN), ())
    if not specs:
        return cls
    bases: list[type] = []
    for module_name, name in specs:
        module = sys.modules.get(module_name)
        if module is None:
            continue
        # getattr, not import: a module still initializing may not define it yet.
        foreign = getattr(module, name, None)
        if isinstance(foreign, type) and issubclass(foreign, BaseException) and not issubclass(cls, foreign):
            bases.append(foreign)
    if not bases:
        return cls
    key = (cls, *bases)
    composed = _COMPOSED.get(key)
    if composed is None:
        composed = _COMPOSED.setdefault(key, _compose(cls, tuple(bases)))
    return composed


def _compose(cls: type, bases: tuple[type, ...]) -> type:
    namespace: dict[str, Any] = {
        "__module__": cls.__module__,
        "__qualname__": cls.__qualname__,
        "__doc__": cls.__doc__,
        "_compat_plain": cls,
        "_compat_instance_defaults": (),
    }
    if not hasattr(cls, "dbos_error_code"):
        namespace["dbos_error_code"] = None  # every dbos DBOSException has one
    if any(base.__module__.startswith("sqlalchemy") for base in bases):
        # SQLAlchemy's StatementError sets these in the __init__ we skip; statement and
        # params stay None (no SQLAlchemy statement ran), and ``orig`` is the driver's
        # error this one was raised from.
        namespace.update(orig=property(_driver_error, _set_driver_error), hide_parameters=False)
        namespace["_compat_instance_defaults"] = (("detail", list),)
    try:
        return type(cls.__name__, (cls, *bases), namespace)
    except TypeError:
        return cls  # a layout or metaclass that cannot combine: raise ours alone, as without them


def _plain_class(cls: type[E]) -> type[E]:
    plain: type[E] = vars(cls).get("_compat_plain", cls)
    return plain


def _driver_error(self: BaseException) -> BaseException | None:
    explicit: BaseException | None = self.__dict__.get("orig")
    if explicit is not None:
        return explicit
    # ``raise ... from exc``; or ``from None`` inside the handler, which leaves the context.
    return self.__cause__ if self.__cause__ is not None else self.__context__


def _set_driver_error(self: BaseException, value: BaseException | None) -> None:
    self.__dict__["orig"] = value
