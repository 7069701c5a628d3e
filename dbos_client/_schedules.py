"""Schedules: each call once for both shells (validate, then return an op). No I/O.

The rows are DBOS 3.4's ``workflow_schedules`` rows, written as ``dbos.DBOSClient``
writes them, so the application's scheduler (which polls that table about once a
second at startup, then every few seconds) starts firing a new schedule by itself. A
run it fires, or one ``trigger_schedule`` or ``backfill_schedule`` enqueues here, is
the same row: workflow id ``sched-<name>-<ISO time>`` (``sched-<name>-trigger-<ISO
time>`` for a trigger), inputs ``(scheduled_at, context)``, on the schedule's queue (or
DBOS's internal queue), owned by the schedule's application and pinned to that
application's latest version. Bad input raises ``InvalidArgumentError`` with DBOS's
message before anything is written (a cron expression is checked by ``_cron``, not
croniter).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Generator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from psycopg import errors as pgerr

from . import _cron, _ops
from . import _sql_schedules as ss
from ._calls import ClientCore, _with_queries
from ._ops import Op, Query, Transaction, UniqueViolation
from ._options import build_enqueue, new_id, optional_text, require_text
from ._sql import INTERNAL_QUEUE, Queries
from .errors import (
    InvalidArgumentError,
    ScheduleConflictError,
    ScheduleNotFoundError,
    SchemaError,
    WorkflowIdConflictError,
)
from .models import WorkflowSchedule

logger = logging.getLogger("dbos_client")

_SHARD_KEY = "Scheduling under a shard key requires a sharded system database, which dbos-client does not support"


# -- validation ----------------------------------------------------------------------------------


def check_cron(schedule: Any) -> str:
    if not isinstance(schedule, str) or not _cron.is_valid(schedule):
        raise InvalidArgumentError(f"Invalid cron schedule: '{schedule}'")
    return schedule


def check_timezone(name: Any) -> str | None:
    if name is None:
        return None
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(name)
    except Exception:  # noqa: BLE001 - any failure means DBOS could not use it either
        raise InvalidArgumentError(f"Invalid timezone: '{name}'") from None
    return str(name)


def _filter(value: Any, what: str) -> list[str] | None:
    """One value or a list of them (DBOS's filters), as a list; None: no filter."""
    if value is None:
        return None
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, (list, tuple)) or not all(isinstance(v, str) for v in values):
        raise InvalidArgumentError(f"{what} must be a string or a list of strings")
    return list(values)


def _row(core: ClientCore, entry: Mapping[str, Any], listed: bool = False) -> dict[str, Any]:
    """A validated schedule row, context serialized, owner not yet resolved.

    ``listed``: an ``apply_schedules`` entry, where, as in DBOS, only a missing
    ``application_name`` means the client's own (an explicit None leaves it unclaimed).
    """
    name = require_text(entry["schedule_name"], "schedule_name")
    workflow_name = require_text(entry["workflow_name"], "workflow_name")
    cron = check_cron(entry["schedule"])
    cron_timezone = check_timezone(entry.get("cron_timezone"))
    if entry.get("shard_key") is not None:
        raise InvalidArgumentError(_SHARD_KEY)
    backfill = entry.get("automatic_backfill", False)
    if not isinstance(backfill, bool):
        raise InvalidArgumentError(f"automatic_backfill must be a bool, got {type(backfill).__name__}")
    given = "application_name" in entry if listed else entry.get("application_name") is not None
    application_name = optional_text(entry["application_name"], "application_name") if given else core.application_name
    return {
        "schedule_id": new_id(),
        "schedule_name": name,
        "workflow_name": workflow_name,
        "workflow_class_name": optional_text(entry.get("workflow_class_name"), "workflow_class_name"),
        "schedule": cron,
        "status": "ACTIVE",
        "context": core.codec.encode(entry.get("context"), core.codec.default_tag, "schedule context"),
        "last_fired_at": None,
        "automatic_backfill": backfill,
        "cron_timezone": cron_timezone,
        "queue_name": optional_text(entry.get("queue_name"), "queue_name"),
        "application_name": application_name,
    }


def _check_columns(q: Queries, row: Mapping[str, Any]) -> None:
    """A setting the schema has no column for cannot be stored: refuse it rather than drop it."""
    ss.require_schedules(q)
    defaults = {"automatic_backfill": False}
    for column in ("automatic_backfill", "cron_timezone", "queue_name"):
        if row[column] != defaults.get(column) and not ss.has_column(q, column):
            raise SchemaError(f"{q.info.describe()} has no workflow_schedules.{column} column: {column} needs a newer DBOS")


# -- calls ---------------------------------------------------------------------------------------


def create_schedule(core: ClientCore, entry: Mapping[str, Any]) -> Op[None]:
    row = _row(core, entry)

    def run(q: Queries) -> Op[None]:
        _check_columns(q, row)
        yield Transaction(lambda: _create(q, row))

    return _with_queries(None, run)


def apply_schedules(core: ClientCore, schedules: Any) -> Op[None]:
    if not isinstance(schedules, (list, tuple)):
        raise InvalidArgumentError(f"schedules must be a list, got {type(schedules).__name__}")
    rows = []
    for i, entry in enumerate(schedules):
        if not isinstance(entry, Mapping):
            raise InvalidArgumentError(f"Schedule entry {i} must be a dict")
        for required in ("schedule_name", "workflow_name", "schedule"):
            if required not in entry:
                raise InvalidArgumentError(f"Schedule entry {i} is missing required field '{required}'")
        rows.append(_row(core, entry, listed=True))

    def run(q: Queries) -> Op[None]:
        for row in rows:
            _check_columns(q, row)
        yield Transaction(lambda: _upsert_all(q, rows))

    return _with_queries(None, run)


def list_schedules(core: ClientCore, status: Any, workflow_name: Any, schedule_name_prefix: Any, application_name: Any) -> Op[list[WorkflowSchedule]]:
    statuses = _filter(status, "status")
    names = _filter(workflow_name, "workflow_name")
    prefixes = _filter(schedule_name_prefix, "schedule_name_prefix")
    apps = _filter(application_name, "application_name")
    # DBOS's default scope: this client's application plus unclaimed schedules (all, without a name).
    if apps is None and core.application_name:
        apps = [core.application_name]

    def run(q: Queries) -> Op[list[WorkflowSchedule]]:
        ss.require_schedules(q)
        statement, params = ss.list_schedules(ss.target(q), statuses, names, prefixes, apps)
        rows = yield Query(statement, params, read_only=True)
        return [_schedule(core, row) for row in rows]

    return _with_queries(None, run)


def get_schedule(core: ClientCore, name: Any) -> Op[WorkflowSchedule | None]:
    require_text(name, "name")

    def run(q: Queries) -> Op[WorkflowSchedule | None]:
        row = yield from _read(q, name)
        return None if row is None else _schedule(core, row)

    return _with_queries(None, run)


def delete_schedule(core: ClientCore, name: Any) -> Op[None]:
    require_text(name, "name")

    def run(q: Queries) -> Op[None]:
        ss.require_schedules(q)
        yield Query(ss.rendered(q, "delete_schedule", ss.delete_schedule), {"name": name}, fetch="none")

    return _with_queries(None, run)


def set_schedule_status(core: ClientCore, name: Any, status: str) -> Op[None]:
    """Pause ("PAUSED") or resume ("ACTIVE"); an unknown name changes nothing, as in DBOS."""
    require_text(name, "name")

    def run(q: Queries) -> Op[None]:
        ss.require_schedules(q)
        statement = ss.rendered(q, "set_schedule_status", ss.set_schedule_status)
        yield Query(statement, {"name": name, "status": status}, fetch="none")

    return _with_queries(None, run)


def backfill_schedule(core: ClientCore, schedule_name: Any, start: Any, end: Any) -> Op[list[str]]:
    """Enqueue every run the schedule would have made after ``start`` and before ``end``."""
    require_text(schedule_name, "schedule_name")
    for value, what in ((start, "start"), (end, "end")):
        if not isinstance(value, datetime):
            raise InvalidArgumentError(f"{what} must be a datetime, got {type(value).__name__}")
    start = start if start.tzinfo is not None else start.replace(tzinfo=timezone.utc)
    end = end if end.tzinfo is not None else end.replace(tzinfo=timezone.utc)

    def run(q: Queries) -> Op[list[str]]:
        row = yield from _read(q, schedule_name)
        if row is None:
            raise ScheduleNotFoundError(f"Schedule '{schedule_name}' does not exist", schedule_name=schedule_name)
        schedule = _schedule(core, row, lenient=False)
        from zoneinfo import ZoneInfo

        tz = ZoneInfo(schedule.cron_timezone) if schedule.cron_timezone else timezone.utc
        cron = _cron.parse(schedule.schedule)
        ids: list[str] = []
        at = start.astimezone(tz)
        while True:
            at = _cron.next_after(cron, at)
            if at >= end:
                return ids
            workflow_id = f"sched-{schedule_name}-{at.isoformat()}"
            exists = yield Query(q.exists, (workflow_id,), fetch="one")
            if exists is None:
                yield from _enqueue_run(core, q, schedule, workflow_id, at)
            ids.append(workflow_id)

    return _with_queries(None, run)


def trigger_schedule(core: ClientCore, schedule_name: Any) -> Op[str]:
    """Enqueue one run of the schedule now; returns its workflow id."""
    require_text(schedule_name, "schedule_name")

    def run(q: Queries) -> Op[str]:
        row = yield from _read(q, schedule_name)
        if row is None:
            raise ScheduleNotFoundError(f"Schedule '{schedule_name}' does not exist", schedule_name=schedule_name)
        schedule = _schedule(core, row, lenient=False)
        now = datetime.now(timezone.utc)
        workflow_id = f"sched-{schedule_name}-trigger-{now.isoformat()}"
        yield from _enqueue_run(core, q, schedule, workflow_id, now)
        return workflow_id

    return _with_queries(None, run)


# -- ops -----------------------------------------------------------------------------------------


def _read(q: Queries, name: str) -> Generator[Any, Any, Any]:
    ss.require_schedules(q)
    row = yield Query(ss.rendered(q, "get_schedule", ss.get_schedule), {"name": name}, fetch="one", read_only=True)
    return row


def _schedule(core: ClientCore, row: Sequence[Any], lenient: bool = True) -> WorkflowSchedule:
    f = dict(zip(ss.COLUMNS, row, strict=True))
    text = f["context"]
    try:
        context = core.codec.decode(text, core.codec.default_tag, "schedule context")
    except Exception as exc:
        if not lenient:
            raise
        logger.warning("the context of schedule %r could not be decoded, returning its stored text: %s", f["schedule_name"], exc)
        context = text
    f["context"] = context
    f["automatic_backfill"] = bool(f["automatic_backfill"])
    return WorkflowSchedule(**f)


def _resolve_owner(q: Queries, name: str, owner: str | None) -> Generator[Any, Any, str | None]:
    """DBOS's rule: a nameless writer keeps the row's owner; a named one collides only with another name."""
    row = yield Query(ss.rendered(q, "schedule_owner", ss.schedule_owner), {"schedule_name": name}, fetch="one")
    if row is None or row[0] is None:
        return owner
    current: str = row[0]
    if owner is None or current == owner:
        return current
    raise ScheduleConflictError(
        f"Schedule '{name}' is already registered by application '{current}' in this system database. "
        "Schedule names must be unique across applications sharing a system database. Either give "
        f"'{owner}' a different schedule name, or, if '{current}' was renamed to '{owner}', re-own its "
        "rows first with dbos rename-application",
        schedule_name=name,
    )


def _params(q: Queries, row: Mapping[str, Any], owner: str | None) -> dict[str, Any]:
    params = {c: row[c] for c in ss.write_columns(ss.target(q))}
    if "application_name" in params:
        params["application_name"] = owner
    return params


def _create(q: Queries, row: Mapping[str, Any]) -> Op[None]:
    owner = yield from _resolve_owner(q, row["schedule_name"], row["application_name"])
    try:
        yield Query(ss.rendered(q, "insert_schedule", ss.insert_schedule), _params(q, row, owner), fetch="none")
    except (pgerr.UniqueViolation, UniqueViolation):
        name = row["schedule_name"]
        raise ScheduleConflictError(f"Schedule '{name}' already exists", schedule_name=name) from None


def _upsert_all(q: Queries, rows: Sequence[Mapping[str, Any]]) -> Op[None]:
    for row in rows:
        owner = yield from _resolve_owner(q, row["schedule_name"], row["application_name"])
        yield Query(ss.rendered(q, "upsert_schedule", ss.upsert_schedule), _params(q, row, owner), fetch="none")
        # Read back: the upsert claims only an unclaimed row, silently.
        yield from _resolve_owner(q, row["schedule_name"], row["application_name"])


def _enqueue_run(core: ClientCore, q: Queries, schedule: WorkflowSchedule, workflow_id: str, at: datetime) -> Op[None]:
    """Enqueue one run as DBOS's scheduler does: on the owner's latest version, args (at, context)."""
    owner = schedule.application_name if schedule.application_name is not None else core.application_name
    version = None
    statement = ss.latest_version(ss.target(q))
    if statement is not None:
        found = yield Query(ss.rendered(q, "latest_version", lambda t: statement), {"app": owner}, fetch="one")
        version = found[0] if found else None
    options = {
        "workflow_name": schedule.workflow_name,
        "queue_name": schedule.queue_name or INTERNAL_QUEUE,
        "workflow_id": workflow_id,
        "class_name": schedule.workflow_class_name,
        "app_version": version,
        "application_name": owner,
    }
    request = build_enqueue(options, (at, schedule.context), {}, core.codec, owner)
    request = dataclasses.replace(request, row={**request.row, "schedule_name": schedule.schedule_name})
    try:
        yield from _ops.enqueue(q, request)
    except WorkflowIdConflictError:
        # Already there under another workflow name (the schedule was redefined): DBOS skips it too.
        logger.info("scheduled run %r already exists; not enqueued again", workflow_id)
