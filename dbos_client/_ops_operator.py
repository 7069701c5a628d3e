"""The operator's operations: queues, fork, rewind, application versions, rename. No I/O.

Written as generators like ``_ops``: each yields ``Query`` and ``Transaction`` actions,
and the shells drive them. A write DBOS makes in one transaction is one ``Transaction``
here too, on Postgres and SQLite alike (these calls are rare, so one set of statements
serves both dialects). The database effects are DBOS 3.4's (``SystemDatabase.fork_workflow``,
``rewind_workflow``, ``upsert_queue``, ``update_application_version_timestamp``,
``rename_application``); a column a 2.x schema lacks is left out, and a feature it lacks
is refused with a ``SchemaError`` naming it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Generator
from dataclasses import dataclass, replace
from typing import Any

from psycopg import errors as pgerr

from . import _sql_operator as so
from ._ops import Op, Query, Transaction, UniqueViolation
from ._sql import Queries
from ._sql_common import INTERNAL_QUEUE, Target
from .errors import (
    ApplicationVersionNotFoundError,
    DBOSNonExistentWorkflowError,
    InvalidArgumentError,
    NameConflictError,
    QueueNotFoundError,
    SchemaError,
    WorkflowIdConflictError,
    WorkflowStateError,
)
from .models import ACTIVE_STATUSES, ApplicationRowCounts, Queue, QueueRateLimit, VersionInfo

logger = logging.getLogger("dbos_client")


def operator_queries(q: Queries) -> so.OperatorQueries:
    """The operator's statements for ``q``'s schema, made once and kept beside it."""
    found = q.__dict__.get("_operator_queries")
    if found is None:
        found = q.__dict__["_operator_queries"] = so.OperatorQueries(Target(q.info, q.sqlite))
    assert isinstance(found, so.OperatorQueries)
    return found


def _require(q: Queries, what: str, table: str, column: str | None = None, since: str = "") -> None:
    if not q.info.has(table, column):
        missing = f"column {table}.{column}" if column else f"table {table}"
        raise SchemaError(
            f"{what} needs {missing}, which {q.info.describe()} lacks{f' (added in DBOS {since})' if since else ''}",
            schema=q.info.schema,
        )


# -- queues ---------------------------------------------------------------------------------


def queue_from_row(row: Any) -> Queue:
    f = dict(zip(so.QUEUE_FIELDS, row, strict=True))
    limiter: QueueRateLimit | None = None
    if f["rate_limit_max"] is not None:
        limiter = {"limit": f["rate_limit_max"], "period": f["rate_limit_period_sec"]}
    partition_limiter: QueueRateLimit | None = None
    if f["partition_rate_limit_max"] is not None:
        partition_limiter = {"limit": f["partition_rate_limit_max"], "period": f["partition_rate_limit_period_sec"]}
    return Queue(
        name=f["name"],
        concurrency=f["concurrency"],
        worker_concurrency=f["worker_concurrency"],
        limiter=limiter,
        partition_concurrency=f["partition_concurrency"],
        partition_worker_concurrency=f["partition_worker_concurrency"],
        partition_limiter=partition_limiter,
        polling_interval_sec=f["polling_interval_sec"] if f["polling_interval_sec"] is not None else 1.0,
        application_name=f["application_name"],
    )


def _check_owner(kind: str, name: str, current: str | None, owner: str | None) -> str | None:
    """DBOS's ``_resolve_row_owner``: the owner to write. A nameless writer keeps the row's
    owner; a named one collides with a different name."""
    if current is None:
        return owner
    if owner is None or current == owner:
        return current
    advice = (
        f"set a distinct application_version for {owner!r}"
        if kind == "Application version"
        else f"give {owner!r} a different {kind.lower()} name"
    )
    raise NameConflictError(
        f"{kind} {name!r} is already registered by application {current!r} in this system database. "
        f"{kind} names must be unique across applications sharing a system database. Either {advice}, "
        f"or, if {current!r} was renamed to {owner!r}, re-own its rows first with rename_application",
        name=name, owner=current, application_name=owner,
    )  # fmt: skip


@dataclass(frozen=True)
class QueueSettings:
    """register_queue's checked arguments, as queues columns."""

    name: str
    values: dict[str, Any]
    update_existing: bool
    owner: str | None


def register_queue(q: Queries, s: QueueSettings) -> Op[Queue]:
    """Upsert the queue's row and read it back, in one transaction; log it if it is new."""
    _require(q, "register_queue", "queues", since="2.20")
    oq = operator_queries(q)
    missing = [c for c, v in s.values.items() if v is not None and not q.info.has("queues", c)]
    if missing:
        raise SchemaError(
            f"register_queue: {q.info.describe()} has no queues column(s) {', '.join(missing)} "
            "(per-partition limits need DBOS 2.31 or later)",
            schema=q.info.schema,
        )
    columns = [c for c in ("name", *s.values, "application_name") if q.info.has("queues", c)]
    statement = oq.render(so.upsert_queue(oq.target, columns, s.update_existing))

    def body() -> Generator[Any, Any, tuple[Queue, bool]]:
        before = yield Query(oq.queue_owner, {"name": s.name}, fetch="one")
        owner = _check_owner("Queue", s.name, before[0] if before else None, s.owner)
        params = {"name": s.name, **s.values, "application_name": owner}
        yield Query(statement, {c: params[c] for c in columns}, fetch="none")
        # Read back: the guarded write is silent about why it declined to claim.
        after = yield Query(oq.get_queue, {"name": s.name}, fetch="one")
        _check_owner("Queue", s.name, after[-1], s.owner)
        return queue_from_row(after), before is None

    queue, inserted = yield Transaction(body)
    if inserted:
        logger.info("registered queue %r", queue.name)
    return queue  # type: ignore[no-any-return]


def retrieve_queue(q: Queries, name: str) -> Op[Queue | None]:
    _require(q, "retrieve_queue", "queues", since="2.20")
    row = yield Query(operator_queries(q).get_queue, {"name": name}, fetch="one", read_only=True)
    return None if row is None else queue_from_row(row)


def _over(value: int | None, limit: int | None) -> bool:
    return value is not None and limit is not None and value > limit


def queue_setting(current: Queue, attr: str, value: Any) -> dict[str, Any]:
    """The queues columns that set ``attr`` (a ``Queue`` field) to ``value``, after DBOS's
    setters' checks against the row's other limits (their messages, as InvalidArgumentError)."""
    c = current
    checks: list[tuple[bool, str]] = []
    if attr == "concurrency":
        checks = [
            (_over(c.worker_concurrency, value), "worker_concurrency must be less than or equal to concurrency"),
            (_over(c.partition_concurrency, value),
             "partition_concurrency must be less than or equal to global_concurrency"),
            (_over(c.partition_worker_concurrency, value),
             "partition_worker_concurrency must be less than or equal to concurrency"),
        ]  # fmt: skip
    elif attr == "worker_concurrency":
        checks = [
            (_over(value, c.concurrency), "worker_concurrency must be less than or equal to concurrency"),
            (_over(c.partition_worker_concurrency, value),
             "partition_worker_concurrency must be less than or equal to worker_concurrency"),
        ]  # fmt: skip
    elif attr == "partition_concurrency":
        checks = [
            (_over(value, c.concurrency), "partition_concurrency must be less than or equal to global_concurrency"),
            (_over(c.partition_worker_concurrency, value),
             "partition_concurrency must be greater than or equal to partition_worker_concurrency"),
        ]  # fmt: skip
    elif attr == "partition_worker_concurrency":
        checks = [
            (_over(value, c.partition_concurrency),
             "partition_worker_concurrency must be less than or equal to partition_concurrency"),
            (_over(value, c.worker_concurrency),
             "partition_worker_concurrency must be less than or equal to worker_concurrency"),
            (_over(value, c.concurrency), "partition_worker_concurrency must be less than or equal to concurrency"),
        ]  # fmt: skip
    for failed, message in checks:
        if failed:
            raise InvalidArgumentError(message)
    if attr in ("limiter", "partition_limiter"):
        prefix = "rate_limit" if attr == "limiter" else "partition_rate_limit"
        columns = {f"{prefix}_max": value["limit"] if value else None,
                   f"{prefix}_period_sec": value["period"] if value else None}  # fmt: skip
    else:
        columns = {attr: value}
    if attr.startswith("partition_"):
        # Legacy column other SDKs still read: any per-partition limit makes the queue partitioned.
        after = replace(current, **{attr: value})
        columns["partition_queue"] = any(
            v is not None
            for v in (after.partition_concurrency, after.partition_worker_concurrency, after.partition_limiter)
        )
    return columns


def set_queue(q: Queries, name: str, attr: str, value: Any) -> Op[Queue]:
    """Check and write one setting of the queue in one transaction; the row as written.

    The row is read (locked, on Postgres) first, as DBOS's setters refresh before their
    checks, so the limits checked are the ones the write lands beside.
    """
    _require(q, f"set_{attr}", "queues", since="2.20")
    oq = operator_queries(q)

    def body() -> Generator[Any, Any, Queue]:
        row = yield Query(oq.lock_queue, {"name": name}, fetch="one")
        if row is None:
            raise QueueNotFoundError(f"Queue {name} not found in the database", queue_name=name)
        current = queue_from_row(row)
        columns = queue_setting(current, attr, value)
        absent = [c for c, v in columns.items() if not q.info.has("queues", c) and v not in (None, False)]
        if absent:
            raise SchemaError(
                f"set_{attr}: {q.info.describe()} has no queues column(s) {', '.join(absent)} "
                "(per-partition limits need DBOS 2.31 or later)",
                schema=q.info.schema,
            )
        columns = {c: v for c, v in columns.items() if q.info.has("queues", c)}
        if q.info.has("queues", "updated_at"):
            columns["updated_at"] = int(time.time() * 1000)
        statement = oq.render(so.update_queue(oq.target, list(columns)))
        yield Query(statement, {"name": name, **columns}, fetch="none")
        return replace(current, **{attr: value})

    return (yield Transaction(body))  # type: ignore[no-any-return]


def delete_queue(q: Queries, name: str) -> Op[None]:
    _require(q, "delete_queue", "queues", since="2.20")
    yield Query(operator_queries(q).delete_queue, {"name": name}, fetch="none")


def list_queues(q: Queries, names: list[str] | None) -> Op[list[Queue]]:
    """``names``: the owners whose queues (and the unclaimed ones) to list; None or empty: all."""
    _require(q, "list_queues", "queues", since="2.20")
    params = {"all": not names, "names": names or []}
    rows = yield Query(operator_queries(q).list_queues, params, read_only=True)
    return [queue_from_row(row) for row in rows]


# -- fork -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ForkRequest:
    workflow_id: str
    fork_id: str
    start_step: int
    application_version: str | None
    queue_name: str | None
    queue_partition_key: str | None
    replacement_children: dict[str, str]
    timeout_ms: int | None
    #: The client's application: owns the fork when its original is unclaimed.
    owner: str | None


def fork(q: Queries, r: ForkRequest) -> Op[str]:
    """A new ENQUEUED workflow that replays the original's steps before ``start_step`` and runs
    the rest: status row, inputs, and (from step 2 on) checkpoints, events and streams copied."""
    oq = operator_queries(q)
    t = oq.target
    steps = oq.render(so.fork_steps(t, len(r.replacement_children))) if r.start_step > 1 else None
    params: dict[str, Any] = {
        "id": r.workflow_id, "fork": r.fork_id, "step": r.start_step, "version": r.application_version,
        "queue": r.queue_name if r.queue_name is not None else INTERNAL_QUEUE, "partition": r.queue_partition_key,
        "timeout_ms": r.timeout_ms, "owner": r.owner,
    }  # fmt: skip
    for i, (old, new) in enumerate(r.replacement_children.items()):
        params[f"old_{i}"], params[f"new_{i}"] = old, new

    def body() -> Generator[Any, Any, bool]:
        inserted = yield Query(oq.fork_status, params)
        if not inserted:
            return False
        if t.v3:
            yield Query(oq.fork_inputs, params, fetch="none")
        if t.ws_has("was_forked_from"):
            yield Query(oq.mark_forked, params, fetch="none")
        if steps is not None:
            yield Query(steps, params, fetch="none")
            if q.info.has("workflow_events_history"):
                yield Query(oq.fork_event_history, params, fetch="none")
                yield Query(oq.fork_events, params, fetch="none")
            if q.info.has("streams", "function_id"):
                yield Query(oq.fork_streams, params, fetch="none")
        return True

    try:
        found = yield Transaction(body)
    except (pgerr.UniqueViolation, UniqueViolation):
        raise WorkflowIdConflictError(
            f"cannot fork workflow {r.workflow_id!r} as {r.fork_id!r}: that workflow id is already used",
            workflow_id=r.fork_id,
        ) from None
    if not found:
        raise DBOSNonExistentWorkflowError("target", r.workflow_id, "fork_workflow")
    return r.fork_id


# -- rewind ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RewindRequest:
    workflow_id: str
    start_step: int
    application_version: str | None
    queue_name: str | None
    queue_partition_key: str | None


def rewind(q: Queries, r: RewindRequest) -> Op[None]:
    """Drop a finished workflow's history from ``start_step`` on and re-enqueue it under
    its own id, in one transaction (DBOS's ``SystemDatabase.rewind_workflow``)."""
    if not q.info.is_v3 or not q.info.has("notifications", "consumed_by_function_id"):
        raise SchemaError(
            f"rewind_workflow needs a DBOS 3.x system database (which records the step that consumed "
            f"each message); {q.info.describe()} does not",
            schema=q.info.schema,
        )
    oq = operator_queries(q)
    params: dict[str, Any] = {
        "id": r.workflow_id, "step": r.start_step, "queue": r.queue_name, "partition": r.queue_partition_key,
        "set_version": r.application_version is not None, "version": r.application_version,
    }  # fmt: skip

    def body() -> Generator[Any, Any, None]:
        row = yield Query(oq.status_of, params, fetch="one")
        if row is None:
            raise DBOSNonExistentWorkflowError("target", r.workflow_id, "rewind_workflow")
        status = row[0]
        if status in ACTIVE_STATUSES:
            raise WorkflowStateError(
                f"cannot rewind {r.workflow_id!r} ({status}): only a workflow in a terminal state "
                "can be rewound, so cancel it first",
                workflow_id=r.workflow_id, status=status,
            )  # fmt: skip
        for statement in oq.rewind_statements:
            yield Query(statement, params, fetch="none")
        updated = yield Query(oq.rewind_requeue, {**params, "status": status})
        if len(updated) != 1:
            raise WorkflowStateError(
                f"workflow {r.workflow_id!r} changed status while being rewound; retry the rewind",
                workflow_id=r.workflow_id, status=status,
            )  # fmt: skip

    yield Transaction(body)


# -- application versions -------------------------------------------------------------------


def _version(row: Any) -> VersionInfo:
    version_id, version_name, version_timestamp, created_at, application_name = row
    return VersionInfo(
        version_id=version_id, version_name=version_name, version_timestamp=version_timestamp,
        created_at=created_at, application_name=application_name,
    )  # fmt: skip


def list_versions(q: Queries, owner: str | None) -> Op[list[VersionInfo]]:
    _require(q, "list_application_versions", "application_versions", since="2.14")
    rows = yield Query(operator_queries(q).list_versions, {"owner": owner}, read_only=True)
    return [_version(row) for row in rows]


def latest_version(q: Queries, owner: str | None) -> Op[VersionInfo]:
    _require(q, "get_latest_application_version", "application_versions", since="2.14")
    row = yield Query(operator_queries(q).latest_version, {"owner": owner}, fetch="one", read_only=True)
    if row is None:
        raise ApplicationVersionNotFoundError("no application versions found in this system database")
    return _version(row)


def set_latest_version(q: Queries, name: str, timestamp_ms: int, owner: str | None) -> Op[None]:
    """Promote a version to latest (DBOS's ``update_application_version_timestamp``)."""
    _require(q, "set_latest_application_version", "application_versions", since="2.14")
    oq = operator_queries(q)

    def body() -> Generator[Any, Any, int]:
        rows = yield Query(oq.version_owner, {"name": name})
        if not rows:
            return 0
        # Version names are global; a pre-upgrade unclaimed row and an owned one may share one.
        current = next((r[0] for r in rows if r[0] is not None), None)
        resolved = _check_owner("Application version", name, current, owner)
        updated = yield Query(oq.promote_version, {"name": name, "timestamp": timestamp_ms, "resolved": resolved})
        return len(updated)

    if not (yield Transaction(body)):
        raise ApplicationVersionNotFoundError(f"no application version named {name!r}", version_name=name)


# -- rename ---------------------------------------------------------------------------------


def rename(q: Queries, old: str | None, new: str, batch_size: int | None, adopt: bool) -> Op[ApplicationRowCounts]:
    """Re-own rows (DBOS's ``rename_application``): queues, schedules, versions and unfinished
    workflows in one transaction, then finished workflows and steps in batches of transactions."""
    _require(q, "rename_application", "workflow_status", "application_name", since="2.30")
    oq = operator_queries(q)
    t = oq.target
    params: dict[str, Any] = {"old": old, "new": new, "adopt": adopt}
    owned = [
        (key, table)
        for key, table in (("queues", "queues"), ("schedules", "workflow_schedules"), ("versions", "application_versions"))
        if q.info.has(table, "application_name")
    ]
    moves = {key: oq.render(so.rename_table(t, table)) for key, table in owned}
    in_flight = oq.render(so.rename_table(t, "workflow_status", in_flight_only=True))

    def first() -> Generator[Any, Any, dict[str, int]]:
        counts: dict[str, int] = {}
        for key, statement in moves.items():
            counts[key] = len((yield Query(statement, params)))
        counts["workflows"] = len((yield Query(in_flight, params)))
        return counts

    counts: dict[str, int] = yield Transaction(first)
    terminal = yield from _rename_in_batches(q, "workflow_status", params, batch_size)
    steps = 0
    if q.info.has("operation_outputs", "application_name"):
        steps = yield from _rename_in_batches(q, "operation_outputs", params, batch_size)
    return ApplicationRowCounts(
        queues=counts.get("queues", 0),
        schedules=counts.get("schedules", 0),
        versions=counts.get("versions", 0),
        workflows=counts["workflows"] + terminal,
        steps=steps,
    )


def _rename_in_batches(q: Queries, table: str, params: dict[str, Any], batch_size: int | None) -> Op[int]:
    """Key ranges of ``batch_size`` workflows, one transaction each, so a long history never
    moves in one transaction nor rescans what it moved; a re-run resumes."""
    oq = operator_queries(q)
    t = oq.target
    if batch_size is None:
        whole = oq.render(so.rename_table(t, table))
        rows: list[Any] = yield Transaction(lambda: _one(Query(whole, params)))
        return len(rows)
    size = batch_size
    upper_q = oq.render(so.rename_batch_upper(t, table))
    batch_q = oq.render(so.rename_batch(t, table))
    total = 0
    after: str | None = None
    while True:

        def body(after: str | None = after) -> Generator[Any, Any, tuple[str | None, int]]:
            row = yield Query(upper_q, {**params, "after": after, "skip": size - 1}, fetch="one")
            upper = None if row is None else row[0]
            moved = yield Query(batch_q, {**params, "after": after, "upper": upper})
            return upper, len(moved)

        upper, moved = yield Transaction(body)
        total += int(moved)
        if upper is None:
            return total
        after = upper


def _one(query: Query) -> Generator[Any, Any, Any]:
    return (yield query)
