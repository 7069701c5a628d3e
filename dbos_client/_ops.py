"""The client's operations, each written once as a generator. No I/O here.

An operation yields actions and receives their results:
  * ``Query``: run one statement, send back its rows (the shell retries transient failures);
  * ``Subscribe``: register interest in a ``Check`` *before* the first read, so a
    notification arriving between a read and the wait is not lost;
  * ``Wait``: block until the check may be satisfied (a notification, or the shared
    poller), or the deadline; the op then re-reads, since the table is the truth;
  * ``Emit``: hand one value to the caller (read_stream only).
A database error from a Query is thrown back into the generator, so the operation that
knows what a foreign-key violation means is the one that translates it. Postgres raises
psycopg's classes; the SQLite driver raises the two below in their place.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, Union

from psycopg import errors as pgerr
from psycopg import sql

from ._options import EnqueueRequest, new_id
from ._schema import DETECT, SchemaInfo, migration_version_query, parse_detection
from ._serialization import Codec, is_stream_closed
from ._sql import NULL_TOPIC, Queries
from ._wait import Check, Deadline
from .errors import (
    DeduplicatedError,
    MaxRecoveryAttemptsExceededError,
    ResultTimeoutError,
    SerializationError,
    StreamTimeoutError,
    WorkflowCancelledError,
    WorkflowIdConflictError,
    WorkflowNotFoundError,
)
from .models import ACTIVE_STATUSES, WorkflowStatus

logger = logging.getLogger("dbos_client")

_DEDUP_CONSTRAINTS = ("uq_workflow_status_dedup_id", "uq_workflow_status_queue_name_dedup_id")
_FINAL = frozenset({"SUCCESS", "ERROR"})  # no resume, no fork in place: nothing more will be written


@dataclass(frozen=True)
class Query:
    statement: str | sql.Composable
    params: Any = None
    fetch: Literal["one", "all", "none"] = "all"
    #: The caller's monotonic deadline; retries stop there too.
    deadline: float | None = None
    #: A read that may share one round trip with identical reads issued at the same
    #: moment (the async shell coalesces them). Never set on a write.
    read_only: bool = False


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


Action = Union[Query, Subscribe, Wait, Emit]  # noqa: UP007 - a runtime alias, evaluated on 3.10


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


def detect_schema(schema: str, database: str, deadline: float | None = None, dialect: str = "postgresql") -> Op[SchemaInfo]:
    detect: Any = DETECT
    if dialect == "sqlite":
        from . import _sql_sqlite as lite

        # A SQLite file has no schemas: the tables are the file's own ("main").
        schema, detect = lite.SCHEMA, lite.DETECT
    row = yield Query(detect, {"schema": schema}, fetch="one", deadline=deadline)
    info = parse_detection(schema, database, row[0], row[1], sqlite=dialect == "sqlite")
    version_query = migration_version_query(info)
    if version_query is not None:
        version = yield Query(version_query, fetch="one", deadline=deadline)
        info = SchemaInfo(info.schema, info.tables, info.notifications_trigger, version[0] if version else None)
    return info


@dataclass(frozen=True)
class EnqueueOutcome:
    workflow_id: str
    #: False when a 3.x database has no row for the queue: no application will dequeue it.
    queue_known: bool | None


def enqueue(q: Queries, req: EnqueueRequest) -> Op[EnqueueOutcome]:
    """Insert the workflow row (and its inputs) in one statement; attach or refuse on reuse."""
    info = q.info
    params = {c: req.row[c] for c in q.enqueue_columns}
    params["inputs"] = req.inputs
    params["delay_ms"] = req.delay_ms
    if "attributes" in params:
        params["attributes"] = q.json_param(params["attributes"])
    if req.delay_ms is not None and not info.has("workflow_status", "delay_until_epoch_ms"):
        from .errors import InvalidArgumentError

        raise InvalidArgumentError("delay_seconds needs DBOS 2.16 or later; this database's schema has no DELAYED status")
    # A dedup holder can finish between our failed insert and the lookup; a few rounds settle it.
    for _ in range(5):
        try:
            row = yield Query(q.enqueue, params, fetch="one")
        except (pgerr.UniqueViolation, UniqueViolation) as exc:
            if _constraint_name(exc) not in _DEDUP_CONSTRAINTS:
                raise
            if not req.return_existing_on_dedup:
                raise DeduplicatedError(
                    f"workflow {req.workflow_id!r} was not enqueued: queue {req.queue_name!r} already has a "
                    f"workflow with deduplication id {req.deduplication_id!r}",
                    workflow_id=req.workflow_id, queue_name=req.queue_name, deduplication_id=req.deduplication_id,
                ) from None  # fmt: skip
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
    raise DeduplicatedError(
        f"workflow {req.workflow_id!r} was not enqueued: the deduplication id {req.deduplication_id!r} "
        f"on queue {req.queue_name!r} kept changing hands",
        workflow_id=req.workflow_id, queue_name=req.queue_name, deduplication_id=req.deduplication_id,
    )  # fmt: skip


def _check_reuse(req: EnqueueRequest, name: str, class_name: Any, config_name: Any, queue_name: Any, status: Any) -> None:
    """DBOS's rules for an id that is already taken: same function attaches, else conflict."""
    mismatch = [
        f"{what} {theirs!r} (asked for {ours!r})"
        for what, theirs, ours in (
            ("workflow name", name, req.workflow_name),
            ("class name", class_name, req.class_name),
            ("instance name", config_name, req.instance_name),
        )
        if theirs != ours
    ]
    if mismatch or req.reject_existing_id:
        detail = "; it has " + ", ".join(mismatch) if mismatch else f" (status {status})"
        raise WorkflowIdConflictError(
            f"workflow id {req.workflow_id!r} is already used by another workflow{detail}",
            workflow_id=req.workflow_id,
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
        raise WorkflowNotFoundError(destination_id, "send destination") from None


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
    row = yield Query(q.get_event_value, (workflow_id, key), fetch="one", deadline=deadline.at, read_only=True)
    if row is not None:
        return EventOutcome("value", codec.decode(row[0], row[1], f"value of event {key!r}"))
    # Not there yet: subscribe, then read again before the first wait, so a value
    # published between the two reads is announced to a waiter that already listens.
    check = Check("event", workflow_id, key)
    yield Subscribe(check)
    while True:
        value, tag, status = yield Query(
            q.get_event, {"id": workflow_id, "key": key}, fetch="one", deadline=deadline.at, read_only=True
        )
        if value is not None:
            return EventOutcome("value", codec.decode(value, tag, f"value of event {key!r}"), status)
        if status is None and must_exist:
            raise WorkflowNotFoundError(workflow_id, "get_event")
        if status in _FINAL:
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
        raise WorkflowNotFoundError(workflow_id, "get_all_events")
    return {key: codec.decode(value, tag, f"value of event {key!r}") for key, value, tag in rows if key is not None}


def read_stream(q: Queries, codec: Codec, workflow_id: str, key: str, offset: int, deadline: Deadline) -> Op[None]:
    """Emit every value from ``offset`` on, live, until the close sentinel or a drained finished workflow."""
    yield Subscribe(Check("stream", workflow_id, key))
    drained_once = False
    while True:
        rows = yield Query(
            q.read_stream, {"id": workflow_id, "key": key, "offset": offset}, deadline=deadline.at, read_only=True
        )
        if not rows:
            raise WorkflowNotFoundError(workflow_id, "read_stream")
        status = rows[0][0]
        progressed = False
        for _, value, tag, row_offset in rows:
            if row_offset is None or row_offset != offset:
                break  # only consecutive offsets are safe to hand out
            decoded = codec.decode(value, tag, f"value {row_offset} of stream {key!r}")
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
            raise StreamTimeoutError(
                f"no value arrived on stream {key!r} of workflow {workflow_id!r} within "
                f"{deadline.timeout_seconds} s",
                workflow_id=workflow_id, key=key, offset=offset, timeout_seconds=deadline.timeout_seconds,
            )  # fmt: skip
        yield Wait(Check("stream", workflow_id, key, offset), deadline.at)


def get_result(q: Queries, codec: Codec, workflow_id: str, deadline: Deadline) -> Op[Any]:
    """The workflow's return value, its own exception raised, or a client error for cancel/dead-letter."""
    check = Check("result", workflow_id)
    yield Subscribe(check)
    while True:
        row = yield Query(q.get_result, (workflow_id,), fetch="one", deadline=deadline.at, read_only=True)
        if row is None:
            raise WorkflowNotFoundError(workflow_id, "get_result")
        status, output, error, tag = row
        if status == "SUCCESS":
            return codec.decode(output, tag, "workflow output")
        if status == "ERROR":
            exc = codec.decode_error(error, tag)
            if exc is None:
                raise SerializationError(f"workflow {workflow_id!r} ended in ERROR but recorded no error")
            raise exc
        if status == "CANCELLED":
            raise WorkflowCancelledError(f"workflow {workflow_id!r} was cancelled", workflow_id=workflow_id)
        if status == "MAX_RECOVERY_ATTEMPTS_EXCEEDED":
            raise MaxRecoveryAttemptsExceededError(
                f"workflow {workflow_id!r} exceeded its maximum recovery attempts and was dead-lettered",
                workflow_id=workflow_id,
            )
        if deadline.expired():
            raise ResultTimeoutError(
                f"workflow {workflow_id!r} was still {status} after {deadline.timeout_seconds} s",
                workflow_id=workflow_id, status=status, timeout_seconds=deadline.timeout_seconds,
            )  # fmt: skip
        yield Wait(check, deadline.at)


def get_status(q: Queries, codec: Codec, workflow_id: str) -> Op[WorkflowStatus]:
    row = yield Query(q.get_status, (workflow_id,), fetch="one", read_only=True)
    if row is None:
        raise WorkflowNotFoundError(workflow_id, "get_status")
    return status_from_row(q, codec, row)


def status_from_row(q: Queries, codec: Codec, row: Any) -> WorkflowStatus:
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
        input=_lenient(lambda: codec.decode_args(inputs, tag), inputs, wid, "input"),
        output=_lenient(lambda: codec.decode(output, tag), output, wid, "output"),
        error=_lenient(lambda: codec.decode_error(error, tag), error, wid, "error"),
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


def _lenient(decode: Any, raw: Any, workflow_id: str = "", what: str = "") -> Any:
    """Decode, or keep the stored text: reading a status must not fail on one payload."""
    try:
        return decode()
    except Exception as exc:  # noqa: BLE001 - any decoder's failure keeps the raw text
        if what:
            logger.warning("could not decode the %s of workflow %r, returning the stored text: %s", what, workflow_id, exc)
        return raw


def ensure_exists(q: Queries, workflow_id: str) -> Op[None]:
    row = yield Query(q.exists, (workflow_id,), fetch="one", read_only=True)
    if row is None:
        raise WorkflowNotFoundError(workflow_id, "retrieve_workflow")


def cancel(q: Queries, workflow_ids: list[str], cancel_children: bool) -> Op[None]:
    missing, _ = yield Query(q.cancel, {"ids": workflow_ids, "children": cancel_children}, fetch="one")
    _raise_missing(missing, "cancel")


def delete(q: Queries, workflow_ids: list[str], delete_children: bool) -> Op[None]:
    """Delete workflows (and, with delete_children, their descendants) with everything they stored."""
    missing, _ = yield Query(q.delete, {"ids": workflow_ids, "children": delete_children}, fetch="one")
    _raise_missing(missing, "delete")


def _raise_missing(missing: list[str], action: str) -> None:
    """Unknown ids make the whole statement a no-op; say which ones."""
    if not missing:
        return
    if len(missing) == 1:
        raise WorkflowNotFoundError(missing[0], action)
    raise WorkflowNotFoundError(", ".join(missing), f"{action}; nothing was changed")


def list_workflows(q: Queries, codec: Codec, filters: Any) -> Op[list[WorkflowStatus]]:
    statement, params = q.list_workflows(filters)
    rows = yield Query(statement, params, read_only=True)
    return [status_from_row(q, codec, row) for row in rows]


def list_steps(q: Queries, codec: Codec, workflow_id: str, load_output: bool, limit: Any, offset: Any) -> Op[list[dict[str, Any]]]:
    rows = yield Query(q.list_steps, {"id": workflow_id, "limit": limit, "offset": offset or 0}, read_only=True)
    if not rows:
        raise WorkflowNotFoundError(workflow_id, "list_workflow_steps")
    steps = []
    for function_id, name, output, error, child, started, completed, tag in rows:
        if function_id is None:
            continue  # the workflow exists but has run no step yet
        steps.append({
            "function_id": function_id,
            "function_name": name,
            "output": _lenient(lambda o=output, t=tag: codec.decode(o, t), output, workflow_id, "step output") if load_output else None,
            "error": _lenient(lambda e=error, t=tag: codec.decode_error(e, t), error, workflow_id, "step error") if load_output else None,
            "child_workflow_id": child,
            "started_at_epoch_ms": started,
            "completed_at_epoch_ms": completed,
        })  # fmt: skip
    return steps


def resume(q: Queries, workflow_id: str, queue_name: str | None) -> Op[None]:
    found, _ = yield Query(q.resume, {"id": workflow_id, "queue": queue_name}, fetch="one")
    if not found:
        raise WorkflowNotFoundError(workflow_id, "resume_workflow")
