"""The client's operations, each written once as a generator. No I/O here.

An operation yields actions and receives their results:
  * ``Query``: run one statement, send back its rows (the shell retries transient failures);
  * ``Transaction``: run a body (an op of ``Query`` actions) on one connection in one
    transaction, send back what it returns (the shell commits, or rolls back if it
    raises, and retries the whole transaction on a transient failure);
  * ``Subscribe``: register interest in a ``Check`` *before* the first read, so a
    notification arriving between a read and the wait is not lost;
  * ``Wait``: block until the check may be satisfied (a notification, or the shared
    poller), or the deadline; the op then re-reads, since the table is the truth;
  * ``Emit``: hand one value to the caller (read_stream only).
A database error from a Query is thrown back into the generator, so the operation that
knows what a foreign-key violation means is the one that translates it. Postgres raises
psycopg's classes; the SQLite driver raises the two below in their place.

Where the dialects differ (a Postgres write is one statement, SQLite's is a few in a
transaction) the op decides, from ``q.sqlite``; the logic stays here for both.
``run_inline`` drives a transaction's body, or a whole op on a connection the caller
owns (inside the caller's transaction: no BEGIN or COMMIT of ours).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, TypeVar, Union

from psycopg import errors as pgerr
from psycopg import sql

from ._options import EnqueueRequest, new_id
from ._schema import DETECT, SchemaInfo, migration_version_query, parse_detection
from ._serialization import Codec, is_stream_closed
from ._sql import NULL_TOPIC, Queries
from ._superjson import report_notes
from ._wait import Check, Deadline
from .errors import (
    DBOSAwaitedWorkflowCancelledError,
    DBOSAwaitedWorkflowMaxRecoveryAttemptsExceeded,
    DBOSConflictingWorkflowError,
    DBOSNonExistentWorkflowError,
    DBOSQueueDeduplicatedError,
    DBOSStreamTimeoutError,
    DBOSWorkflowIDInUseError,
    ResultTimeoutError,
    SerializationError,
)
from .models import ACTIVE_STATUSES, FINAL_STATUSES, WorkflowStatus, WorkflowStatusString

logger = logging.getLogger("dbos_client")

_DEDUP_CONSTRAINTS = ("uq_workflow_status_dedup_id", "uq_workflow_status_queue_name_dedup_id")
_S = WorkflowStatusString


@dataclass(frozen=True)
class Query:
    statement: str | sql.SQL | sql.Composed
    params: Any = None
    fetch: Literal["one", "all", "none"] = "all"
    #: The caller's monotonic deadline; retries stop there too.
    deadline: float | None = None
    #: A read that may share one round trip with identical reads issued at the same
    #: moment (the async shell coalesces them). Never set on a write.
    read_only: bool = False
    #: SQLite only (its driver's ``executemany``): ``params`` is a list of parameter sets, the
    #: statement runs once per set, and the reply is a list with one ``fetch`` result per set.
    #: Only inside a ``Transaction``. Postgres statements take arrays instead (``_sql_bulk``).
    many: bool = False


@dataclass(frozen=True)
class Transaction:
    """Run ``body()`` on one connection, in one transaction; send back what it returns.

    The body is an op that yields only ``Query`` (a nested ``Transaction`` runs inline).
    The shell commits when the body returns and rolls back if it raises; whatever it
    raised is then thrown into the op that yielded this. A transient failure retries the
    whole transaction, so ``body`` is a factory: each attempt starts a fresh generator.
    Postgres: a transaction on one pooled connection; SQLite: ``BEGIN IMMEDIATE`` (the
    write lock first, so two writers never deadlock upgrading a read lock). On a
    connection the caller owns, the body runs inside the caller's transaction.
    """

    body: Callable[[], Generator[Any, Any, Any]]
    #: The caller's monotonic deadline; retries stop there too.
    deadline: float | None = None


@dataclass(frozen=True)
class Subscribe:
    check: Check


@dataclass(frozen=True)
class Wait:
    check: Check
    #: Monotonic time at which to give up waiting (None: no limit).
    deadline: float | None


@dataclass(frozen=True)
class Emit:
    value: Any


@dataclass(frozen=True)
class NeedQueries:
    """Ask the shell for the schema's statements, detecting the schema if needed (``_calls``)."""

    deadline: float | None = None


Action = Union[Query, Transaction, Subscribe, Wait, Emit, NeedQueries]  # noqa: UP007 - a runtime alias, evaluated on 3.10


class ConstraintViolation(Exception):
    """A constraint refused a write on SQLite (psycopg raises its own classes on Postgres)."""

    def __init__(self, message: str, constraint_name: str | None = None) -> None:
        super().__init__(message)
        self.constraint_name = constraint_name


class ForeignKeyViolation(ConstraintViolation):
    pass


class UniqueViolation(ConstraintViolation):
    pass


def _constraint_name(exc: Exception) -> str | None:
    if isinstance(exc, ConstraintViolation):
        return exc.constraint_name
    return getattr(getattr(exc, "diag", None), "constraint_name", None)


T = TypeVar("T")
Op = Generator[Action, Any, T]

#: What a Query may raise that the op, not the shell, gets to translate.
DB_ERRORS: tuple[type[Exception], ...] = (pgerr.Error, ConstraintViolation)


#: What ``_inline`` is sent back for a Query: its rows, or the error its execution raised.
Outcome = tuple[Any, Exception | None]


def _inline(op: Generator[Any, Any, T]) -> Generator[Query, Outcome, T]:
    """``op`` with its Transactions' bodies run inline: yields each Query, is sent its outcome.

    A database error is thrown back into the op; so is whatever a nested body raised.
    Any other error of a Query leaves through here, as if the Query had raised it.
    """
    reply: Any = None
    error: BaseException | None = None
    while True:
        try:
            action = op.throw(error) if error is not None else op.send(reply)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        reply, error = None, None
        if isinstance(action, Query):
            reply, error = yield action
            if error is not None and not isinstance(error, DB_ERRORS):
                raise error
        elif isinstance(action, Transaction):
            try:
                reply = yield from _inline(action.body())
            except Exception as exc:  # noqa: BLE001 - thrown into the op, as the shells do
                error = exc
        else:
            op.close()
            raise TypeError(f"{type(action).__name__} cannot run on a single connection inside a transaction")


def run_inline(op: Generator[Any, Any, T], execute: Callable[[Query], Any]) -> T:
    """Drive ``op`` on one connection: each Query through ``execute``, a Transaction's body
    inline (the connection is already in a transaction). Nothing else may be yielded.

    The body of a Transaction, and a whole op on a connection the caller owns, run here.
    A database error is thrown back into the op; so is whatever a nested body raised.
    """
    steps = _inline(op)
    outcome: Outcome | None = None
    while True:
        try:
            query = steps.send(outcome)  # type: ignore[arg-type]  # None starts it
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        try:
            outcome = (execute(query), None)
        except Exception as exc:  # noqa: BLE001 - _inline throws it into the op or raises it
            outcome = (None, exc)


async def run_inline_async(op: Generator[Any, Any, T], execute: Callable[[Query], Awaitable[Any]]) -> T:
    """``run_inline`` for an asynchronous connection."""
    steps = _inline(op)
    outcome: Outcome | None = None
    while True:
        try:
            query = steps.send(outcome)  # type: ignore[arg-type]  # None starts it
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        try:
            outcome = (await execute(query), None)
        except Exception as exc:  # noqa: BLE001 - _inline throws it into the op or raises it
            outcome = (None, exc)


def detect_schema(schema: str, database: str, deadline: float | None = None, dialect: str = "postgresql") -> Op[SchemaInfo]:
    if dialect == "sqlite":
        from . import _sql_sqlite as lite

        # A SQLite file has no schemas: the tables are the file's own ("main"), and no
        # trigger announces anything.
        schema = lite.SCHEMA
        rows = yield Query(lite.DETECT, fetch="all", deadline=deadline)
        row: Any = (lite.detected_tables(rows), False)
    else:
        row = yield Query(DETECT, {"schema": schema}, fetch="one", deadline=deadline)
    info = parse_detection(schema, database, row[0], row[1], sqlite=dialect == "sqlite")
    version_query = migration_version_query(info)
    if version_query is not None:
        version = yield Query(version_query, fetch="one", deadline=deadline)
        info = SchemaInfo(info.schema, info.tables, info.notifications_trigger, version[0] if version else None)
    return info


class _EnqueueRow(NamedTuple):
    """What enqueue's write reports (one statement's row on Postgres)."""

    inserted: bool
    #: The row that already had the id (NULL when we inserted, or when Postgres's
    #: snapshot predates a concurrent insert).
    name: str | None
    class_name: str | None
    config_name: str | None
    queue_name: str | None
    status: str | None
    creator_xid: str | None
    #: Whether a 3.x queues table names the queue (None without such a table).
    queue_known: bool | None


@dataclass(frozen=True)
class EnqueueOutcome:
    workflow_id: str
    #: False when a 3.x database has no row for the queue: no application will dequeue it.
    queue_known: bool | None


def enqueue(q: Queries, req: EnqueueRequest) -> Op[EnqueueOutcome]:
    """Insert the workflow row and its inputs atomically; attach or refuse on reuse.

    Postgres: one statement. SQLite: a few, in one transaction (``_sqlite_enqueue``).
    """
    info = q.info
    params = {c: req.row[c] for c in q.enqueue_columns}
    params["inputs"] = req.inputs
    params["delay_ms"] = req.delay_ms
    if "attributes" in params:
        params["attributes"] = q.json_param(params["attributes"])
    elif req.row.get("attributes") is not None:
        from .errors import SchemaError

        raise SchemaError(
            f"attributes (and otel_context) need workflow_status.attributes, which {info.describe()} lacks "
            "(a DBOS release before workflow attributes); nothing was enqueued"
        )
    if req.delay_ms is not None and not info.has("workflow_status", "delay_until_epoch_ms"):
        from .errors import InvalidArgumentError

        raise InvalidArgumentError("delay_seconds needs DBOS 2.16 or later; this database's schema has no DELAYED status")
    # A dedup holder can finish between our failed insert and the lookup; a few rounds settle it.
    for _ in range(5):
        try:
            if q.sqlite:
                row = yield Transaction(lambda: _sqlite_enqueue(q, params))
            else:
                row = _EnqueueRow(*(yield Query(q.enqueue, params, fetch="one")))
        except (pgerr.UniqueViolation, UniqueViolation) as exc:
            if _constraint_name(exc) not in _DEDUP_CONSTRAINTS:
                raise
            if not req.return_existing_on_dedup:
                raise DBOSQueueDeduplicatedError(req.workflow_id, req.queue_name, req.deduplication_id or "") from None
            holder = yield Query(q.find_deduplicated, (req.queue_name, req.deduplication_id), fetch="one")
            if holder is not None:
                return EnqueueOutcome(holder[0], None)
            continue
        inserted, name, class_name, config_name, queue_name, status, creator_xid, queue_known = row
        if inserted:
            return EnqueueOutcome(req.workflow_id, queue_known)
        if name is None:
            # Taken by a row committed after this statement's snapshot: look at it now.
            existing = yield Query(q.find_existing, {"workflow_uuid": req.workflow_id}, fetch="one")
            if existing is None:
                continue
            name, class_name, config_name, queue_name, status, creator_xid = existing
        if creator_xid is not None and creator_xid == req.row["creator_xid"]:
            return EnqueueOutcome(req.workflow_id, queue_known)  # our own earlier, retried attempt
        _check_reuse(req, name, class_name, config_name, queue_name, status)
        return EnqueueOutcome(req.workflow_id, queue_known)
    raise DBOSQueueDeduplicatedError(
        req.workflow_id, req.queue_name, req.deduplication_id or "", "the deduplication id kept changing hands"
    )


def _sqlite_enqueue(q: Queries, params: dict[str, Any]) -> Op[_EnqueueRow]:
    """The body of SQLite's enqueue transaction: what Postgres's one statement does and reports."""
    inserted = bool((yield Query(q.sqlite_enqueue_insert, params)))
    if inserted and q.sqlite_enqueue_inputs is not None:
        yield Query(q.sqlite_enqueue_inputs, params, fetch="none")
    # As in Postgres, where the outer SELECT sees the row only when it was already there.
    existing = None if inserted else (yield Query(q.find_existing, params, fetch="one"))
    known = None
    if q.sqlite_queue_known is not None:
        known = bool((yield Query(q.sqlite_queue_known, params, fetch="one"))[0])
    return _EnqueueRow._make((inserted, *(existing or (None,) * 6), known))


def _check_reuse(req: EnqueueRequest, name: str, class_name: Any, config_name: Any, queue_name: Any, status: Any) -> None:
    """DBOS's rules for an id that is already taken: same function attaches, else conflict (DBOS's wording)."""
    if req.reject_existing_id:
        raise DBOSWorkflowIDInUseError(req.workflow_id, status, name)
    for what, theirs, ours in (
        ("function", name, req.workflow_name),
        ("class", class_name, req.class_name),
        ("config", config_name, req.instance_name),
    ):
        if theirs != ours:
            raise DBOSConflictingWorkflowError(
                req.workflow_id,
                f"Workflow already exists with a different {what} name: {theirs}, but the provided {what} name is: {ours}",
            )
    if queue_name != req.queue_name:
        logger.warning(
            "workflow %r already exists on queue %r; it was not moved to queue %r",
            req.workflow_id, queue_name, req.queue_name,
        )  # fmt: skip


def send(q: Queries, destination_id: str, text: str, tag: str, topic: str | None, idempotency_key: str | None) -> Op[None]:
    # The id is fixed before the first attempt, so a retry after a lost commit is a no-op.
    message_id = f"{idempotency_key}::{destination_id}" if idempotency_key is not None else new_id()
    params: list[Any] = [destination_id, topic if topic is not None else NULL_TOPIC, text, message_id]
    if q.send_has_serialization:
        params.append(tag)
    try:
        yield Query(q.send, params, fetch="none")
    except (pgerr.ForeignKeyViolation, ForeignKeyViolation):
        raise DBOSNonExistentWorkflowError("`send` destination", destination_id, "send destination") from None


@dataclass(frozen=True)
class EventOutcome:
    """What waiting for an event found: its value, or why there is none.

    ``kind`` is ``"value"`` (``value`` holds it, and may be None: a published None is a value),
    ``"not_yet"`` (the deadline passed while the workflow could still publish it) or ``"never"``
    (the workflow has ended without publishing it). ``status`` is the workflow's status at the
    last read (None when the value was found by the first read, or no such workflow exists).
    """

    kind: Literal["value", "not_yet", "never"]
    value: Any = None
    status: str | None = None


def get_event_outcome(
    q: Queries, codec: Codec, workflow_id: str, key: str, deadline: Deadline, must_exist: bool = True
) -> Op[EventOutcome]:
    """Wait for the event until the deadline, or until the workflow has finished without it.

    ``must_exist``: an unknown workflow raises WorkflowNotFoundError at once; otherwise it is
    waited for (DBOS's ``get_event`` waits too: the workflow may be enqueued later). A workflow
    that is CANCELLED or dead-lettered may still be resumed: it is waited for until the deadline,
    then counts as "never".
    """
    notes: list[str] = []
    row = yield Query(q.get_event_value, (workflow_id, key), fetch="one", deadline=deadline.at, read_only=True)
    if row is not None:
        value = codec.decode(row[0], row[1], f"value of event {key!r}", notes)
        report_notes(notes, "get_event", workflow_id)
        return EventOutcome("value", value)
    # Not there yet: subscribe, then read again before the first wait, so a value
    # published between the two reads is announced to a waiter that already listens.
    check = Check("event", workflow_id, key)
    yield Subscribe(check)
    while True:
        value, tag, status = yield Query(
            q.get_event, {"id": workflow_id, "key": key}, fetch="one", deadline=deadline.at, read_only=True
        )
        if value is not None:
            decoded = codec.decode(value, tag, f"value of event {key!r}", notes)
            report_notes(notes, "get_event", workflow_id)
            return EventOutcome("value", decoded, status)
        if status is None and must_exist:
            raise DBOSNonExistentWorkflowError("target", workflow_id, "get_event")
        if status in FINAL_STATUSES:
            return EventOutcome("never", status=status)
        if deadline.expired():
            ended = status is not None and status not in ACTIVE_STATUSES
            return EventOutcome("never" if ended else "not_yet", status=status)
        yield Wait(check, deadline.at)


def get_event(q: Queries, codec: Codec, workflow_id: str, key: str, deadline: Deadline) -> Op[Any]:
    """The event's latest value; None at the deadline, or at once if the workflow has finished without it."""
    outcome = yield from get_event_outcome(q, codec, workflow_id, key, deadline, must_exist=False)
    return outcome.value


def get_all_events(q: Queries, codec: Codec, workflow_id: str) -> Op[dict[str, Any]]:
    rows = yield Query(q.get_all_events, (workflow_id,), read_only=True)
    if not rows:
        raise DBOSNonExistentWorkflowError("target", workflow_id, "get_all_events")
    notes: list[str] = []
    events = {key: codec.decode(value, tag, f"value of event {key!r}", notes) for key, value, tag in rows if key is not None}
    report_notes(notes, "get_all_events", workflow_id)
    return events


def read_stream(q: Queries, codec: Codec, workflow_id: str, key: str, offset: int, deadline: Deadline) -> Op[None]:
    """Emit every value from ``offset`` on, live, until the close sentinel or a drained finished workflow."""
    yield Subscribe(Check("stream", workflow_id, key))
    drained_once = False
    notes: list[str] = []
    warned = False
    while True:
        rows = yield Query(
            q.read_stream, {"id": workflow_id, "key": key, "offset": offset}, deadline=deadline.at, read_only=True
        )
        if not rows:
            raise DBOSNonExistentWorkflowError("target", workflow_id, "read_stream")
        status = rows[0][0]
        progressed = False
        for _, value, tag, row_offset in rows:
            if row_offset is None or row_offset != offset:
                break  # only consecutive offsets are safe to hand out
            decoded = codec.decode(value, tag, f"value {row_offset} of stream {key!r}", notes)
            if notes and not warned:  # one warning per read, however long the stream
                warned = True
                report_notes(notes, f"read_stream({key!r})", workflow_id)
            notes.clear()
            if is_stream_closed(decoded):
                return None
            yield Emit(decoded)
            offset += 1
            progressed = True
        if progressed:
            # The timeout is per value, and a writer that just wrote may write again soon.
            deadline.restart()
            drained_once = False
            continue
        if status not in ACTIVE_STATUSES:
            # Cancel and timeouts change the status while the writer may still be
            # finishing: re-read once before calling the stream ended.
            if drained_once:
                return None
            drained_once = True
            continue
        if deadline.expired():
            raise DBOSStreamTimeoutError(workflow_id, key, deadline.timeout_seconds, offset)
        yield Wait(Check("stream", workflow_id, key, offset), deadline.at)


def get_result(q: Queries, codec: Codec, workflow_id: str, deadline: Deadline) -> Op[Any]:
    """The workflow's return value, its own exception raised, or a client error for cancel/dead-letter."""
    check = Check("result", workflow_id)
    yield Subscribe(check)
    while True:
        row = yield Query(q.get_result, (workflow_id,), fetch="one", deadline=deadline.at, read_only=True)
        if row is None:
            raise DBOSNonExistentWorkflowError("target", workflow_id, "get_result")
        status, output, error, tag = row
        if status == _S.SUCCESS:
            notes: list[str] = []
            result = codec.decode(output, tag, "workflow output", notes)
            report_notes(notes, "get_result", workflow_id)
            return result
        if status == _S.ERROR:
            exc = codec.decode_error(error, tag)
            if exc is None:
                raise SerializationError(f"workflow {workflow_id!r} ended in ERROR but recorded no error")
            raise exc
        if status == _S.CANCELLED:
            raise DBOSAwaitedWorkflowCancelledError(workflow_id)
        if status == _S.MAX_RECOVERY_ATTEMPTS_EXCEEDED:
            raise DBOSAwaitedWorkflowMaxRecoveryAttemptsExceeded(workflow_id)
        if deadline.expired():
            raise ResultTimeoutError(
                f"workflow {workflow_id!r} was still {status} after {deadline.timeout_seconds} s",
                workflow_id=workflow_id, status=status, timeout_seconds=deadline.timeout_seconds,
            )  # fmt: skip
        yield Wait(check, deadline.at)


def get_status(q: Queries, codec: Codec, workflow_id: str) -> Op[WorkflowStatus]:
    row = yield Query(q.get_status, (workflow_id,), fetch="one", read_only=True)
    if row is None:
        raise DBOSNonExistentWorkflowError("target", workflow_id, "get_status")
    notes: list[str] = []
    status = status_from_row(q, codec, row, notes)
    report_notes(notes, "get_workflow_status", workflow_id)
    return status


def status_from_row(q: Queries, codec: Codec, row: Any, notes: list[str] | None = None) -> WorkflowStatus:
    """``notes``: what decoding lost or could not decode, for one warning per call (None: log each)."""
    f = dict(zip(q.status_fields, row[: len(q.status_fields)], strict=True))
    inputs, output, error = row[len(q.status_fields):]  # fmt: skip
    tag = f["serialization"]
    wid = f["workflow_uuid"]
    roles = f["authenticated_roles"]
    attributes = f["attributes"]
    if isinstance(attributes, str):  # SQLite keeps JSON as text
        attributes = _lenient(lambda: json.loads(attributes), None)
    return WorkflowStatus(
        workflow_id=wid,
        status=f["status"],
        name=f["name"],
        class_name=f["class_name"],
        config_name=f["config_name"],
        authenticated_user=f["authenticated_user"],
        assumed_role=f["assumed_role"],
        authenticated_roles=_lenient(lambda: json.loads(roles), roles) if roles else None,
        input=_lenient(lambda: codec.decode_args(inputs, tag, notes), inputs, wid, "input", notes),
        output=_lenient(lambda: codec.decode(output, tag, notes=notes), output, wid, "output", notes),
        error=_lenient(lambda: codec.decode_error(error, tag, notes), error, wid, "error", notes),
        created_at=f["created_at"],
        updated_at=f["updated_at"],
        queue_name=f["queue_name"],
        executor_id=f["executor_id"],
        app_version=f["application_version"],
        app_id=f["application_id"],
        recovery_attempts=f["recovery_attempts"],
        workflow_timeout_ms=f["workflow_timeout_ms"],
        workflow_deadline_epoch_ms=f["workflow_deadline_epoch_ms"],
        deduplication_id=f["deduplication_id"],
        priority=f["priority"],
        queue_partition_key=f["queue_partition_key"],
        forked_from=f["forked_from"],
        was_forked_from=bool(f["was_forked_from"]),
        parent_workflow_id=f["parent_workflow_id"],
        dequeued_at=f["started_at_epoch_ms"],
        delay_until_epoch_ms=f["delay_until_epoch_ms"],
        completed_at=f["completed_at"],
        attributes=attributes if isinstance(attributes, dict) else None,
        schedule_name=f["schedule_name"],
        application_name=f["application_name"],
        serialization=tag,
    )


def _lenient(decode: Any, raw: Any, workflow_id: str = "", what: str = "", notes: list[str] | None = None) -> Any:
    """Decode, or keep the stored text: reading a status must not fail on one payload.

    A failure is appended to ``notes`` when given (the call logs them as one warning), else logged.
    """
    try:
        return decode()
    except Exception as exc:  # noqa: BLE001 - any decoder's failure keeps the raw text
        if what and notes is not None:
            notes.append(f"the {what} of workflow {workflow_id!r} kept as stored text ({exc})")
        elif what:
            logger.warning("could not decode the %s of workflow %r, returning the stored text: %s", what, workflow_id, exc)
        return raw


def ensure_exists(q: Queries, workflow_id: str) -> Op[None]:
    row = yield Query(q.exists, (workflow_id,), fetch="one", read_only=True)
    if row is None:
        raise DBOSNonExistentWorkflowError("target", workflow_id, "retrieve_workflow")


def cancel(q: Queries, workflow_ids: list[str], cancel_children: bool) -> Op[None]:
    """Cancel workflows (and, with cancel_children, their descendants); unknown ids change nothing."""
    params = {"ids": workflow_ids, "children": cancel_children}
    if q.sqlite:
        missing = yield Transaction(lambda: _sqlite_bulk(q, params, (q.sqlite_cancel,)))
    else:
        missing, _ = yield Query(q.cancel, params, fetch="one")
    _raise_missing(missing, "cancel")


def delete(q: Queries, workflow_ids: list[str], delete_children: bool) -> Op[None]:
    """Delete workflows (and, with delete_children, their descendants) with everything they stored."""
    params = {"ids": workflow_ids, "children": delete_children}
    if q.sqlite:
        missing = yield Transaction(lambda: _sqlite_bulk(q, params, q.sqlite_delete))
    else:
        missing, _ = yield Query(q.delete, params, fetch="one")
    _raise_missing(missing, "delete")


def _sqlite_bulk(q: Queries, params: dict[str, Any], statements: tuple[str, ...]) -> Op[list[str]]:
    """The body of SQLite's cancel or delete: unknown ids change nothing and are named, else every statement runs."""
    missing = [row[0] for row in (yield Query(q.sqlite_missing, params))]
    if not missing:
        for statement in statements:
            yield Query(statement, params, fetch="none")
    return missing


def _raise_missing(missing: list[str], action: str) -> None:
    """Unknown ids make the whole statement a no-op; say which ones."""
    if not missing:
        return
    if len(missing) == 1:
        raise DBOSNonExistentWorkflowError("target", missing[0], action)
    raise DBOSNonExistentWorkflowError("target", ", ".join(missing), f"{action}; nothing was changed")


def list_workflows(q: Queries, codec: Codec, filters: Any) -> Op[list[WorkflowStatus]]:
    statement, params = q.list_workflows(filters)
    rows = yield Query(statement, params, read_only=True)
    notes: list[str] = []
    statuses = [status_from_row(q, codec, row, notes) for row in rows]
    report_notes(notes, "list_workflows")
    return statuses


def list_steps(q: Queries, codec: Codec, workflow_id: str, load_output: bool, limit: Any, offset: Any) -> Op[list[dict[str, Any]]]:
    rows = yield Query(q.list_steps, {"id": workflow_id, "limit": limit, "offset": offset or 0}, read_only=True)
    if not rows:
        raise DBOSNonExistentWorkflowError("target", workflow_id, "list_workflow_steps")
    steps = []
    notes: list[str] = []
    for function_id, name, output, error, child, started, completed, tag in rows:
        if function_id is None:
            continue  # the workflow exists but has run no step yet
        steps.append({
            "function_id": function_id,
            "function_name": name,
            "output": _lenient(lambda o=output, t=tag: codec.decode(o, t, notes=notes), output, workflow_id, "step output", notes) if load_output else None,
            "error": _lenient(lambda e=error, t=tag: codec.decode_error(e, t, notes), error, workflow_id, "step error", notes) if load_output else None,
            "child_workflow_id": child,
            "started_at_epoch_ms": started,
            "completed_at_epoch_ms": completed,
        })  # fmt: skip
    report_notes(notes, "list_workflow_steps", workflow_id)
    return steps


def resume(q: Queries, workflow_id: str, queue_name: str | None) -> Op[None]:
    """Re-enqueue a workflow that has not finished for good (SUCCESS and ERROR are left as they are)."""
    params = {"id": workflow_id, "queue": queue_name}
    if q.sqlite:
        found = yield Transaction(lambda: _sqlite_resume(q, params))
    else:
        found, _ = yield Query(q.resume, params, fetch="one")
    if not found:
        raise DBOSNonExistentWorkflowError("target", workflow_id, "resume_workflow")


def _sqlite_resume(q: Queries, params: dict[str, Any]) -> Op[bool]:
    """The body of SQLite's resume: update, then say whether the workflow exists."""
    yield Query(q.sqlite_resume, params, fetch="none")
    row = yield Query(q.sqlite_resume_exists, params, fetch="one")
    return bool(row[0])


# -- read_stream_offset, update_workflow_attributes, set_workflow_delay, resume_workflows ---


def read_stream_offset(q: Queries, codec: Codec, workflow_id: str, key: str, offset: int, deadline: Deadline) -> Op[Any]:
    """The one value at ``offset``, waiting for it as ``read_stream`` waits for each value.

    ``read_stream`` from ``offset``, stopped at its first value. A stream that ends (closed, or
    its workflow finished) before reaching the offset raises StreamTimeoutError at once, as
    DBOS's ``read_stream_offset`` does: no value will ever arrive there.
    """
    inner = read_stream(q, codec, workflow_id, key, offset, deadline)
    reply: Any = None
    error: Exception | None = None
    try:
        while True:
            try:
                action = inner.throw(error) if error is not None else inner.send(reply)
            except StopIteration:
                # DBOS's message too: it raises this for an ended stream as for a timeout.
                raise DBOSStreamTimeoutError(
                    workflow_id, key, deadline.timeout_seconds, offset, reason=f"the stream ended before offset {offset}"
                ) from None
            if isinstance(action, Emit):
                return action.value
            reply, error = None, None
            try:
                reply = yield action
            except Exception as exc:  # noqa: BLE001 - the inner op translates, as it would on its own
                error = exc
    finally:
        inner.close()


def update_attributes(q: Queries, workflow_id: str, attributes: dict[str, Any] | None, merge: bool) -> Op[None]:
    """Replace the workflow's attributes (None: JSON null, as DBOS), or merge top-level keys into them."""
    statement, params = q.update_attributes(workflow_id, attributes, merge)
    rows = yield Query(statement, params)
    if not rows:
        raise DBOSNonExistentWorkflowError("target", workflow_id, "update_workflow_attributes")


def set_delay(q: Queries, workflow_id: str, delay_ms: int | None, until_ms: int | None) -> Op[None]:
    """Move a DELAYED workflow's release time; a workflow in any other status is left as it is."""
    params = {"id": workflow_id, "delay_ms": delay_ms, "until_ms": until_ms}
    if q.sqlite:
        found = yield Transaction(lambda: _sqlite_update_then_exists(q, q.sqlite_set_delay, params))
    else:
        found, _ = yield Query(q.set_delay, params, fetch="one")
    if not found:
        raise DBOSNonExistentWorkflowError("target", workflow_id, "set_workflow_delay")


def _sqlite_update_then_exists(q: Queries, statement: str, params: dict[str, Any]) -> Op[bool]:
    yield Query(statement, params, fetch="none")
    row = yield Query(q.sqlite_resume_exists, params, fetch="one")
    return bool(row[0])


def resume_many(q: Queries, workflow_ids: list[str], queue_name: str | None) -> Op[None]:
    """Resume several workflows at once; an unknown id resumes none (as DBOS's ``resume_workflows``)."""
    params = {"ids": workflow_ids, "queue": queue_name}
    if q.sqlite:
        missing = yield Transaction(lambda: _sqlite_bulk(q, params, (q.sqlite_resume_many,)))
    else:
        missing, _ = yield Query(q.resume_many, params, fetch="one")
    _raise_missing(missing, "resume_workflows")
