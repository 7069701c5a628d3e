"""The statements of schedules and debouncing, for both dialects. Pure: no I/O.

Schedules live in DBOS's ``workflow_schedules`` table (DBOS 2.x added it; later
migrations added ``last_fired_at``, ``automatic_backfill``, ``cron_timezone``,
``queue_name`` and ``application_name``): the rows are written exactly as
``dbos.DBOSClient`` writes them, so the application's scheduler picks them up. A
debounce extends a DELAYED, ``is_debounced`` workflow in ``workflow_status`` (and its
inputs) as DBOS's ``debounce_delayed_workflow`` does. Every statement here serves
Postgres and SQLite alike (rendered by ``Target.render``); the ops in ``_schedules``
and ``_debounce`` run the multi-statement writes in one ``Transaction``.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from typing import Any

from psycopg import sql

from ._sql import Queries
from ._sql_common import Target, idents
from .errors import SchemaError
from .models import WorkflowStatusString

TABLE = "workflow_schedules"
#: Every column of a schedule row, in the order reads return them (missing ones read NULL).
COLUMNS = (
    "schedule_id", "schedule_name", "workflow_name", "workflow_class_name", "schedule", "status", "context",
    "last_fired_at", "automatic_backfill", "cron_timezone", "queue_name", "application_name",
)  # fmt: skip
#: The columns DBOS's first schedules table had: every other one may be missing.
_BASE = COLUMNS[:7]

_cache: weakref.WeakKeyDictionary[Queries, dict[str, str]] = weakref.WeakKeyDictionary()


def target(q: Queries) -> Target:
    return Target(q.info, q.sqlite)


def rendered(q: Queries, name: str, build: Callable[[Target], sql.Composable]) -> str:
    """A fixed statement, built and rendered once per ``Queries``."""
    statements = _cache.setdefault(q, {})
    text = statements.get(name)
    if text is None:
        t = target(q)
        text = statements[name] = t.render(build(t))
    return text


def require_schedules(q: Queries) -> None:
    if not q.info.has(TABLE):
        raise SchemaError(
            f"{q.info.describe()} has no workflow_schedules table: schedules need a system database "
            "migrated by a DBOS version with dynamic schedules (2.x late releases, 3.x)"
        )


def require_debounce(q: Queries) -> None:
    if not (q.info.has("workflow_status", "is_debounced") and q.info.has("workflow_status", "debounce_deadline_epoch_ms")):
        raise SchemaError(
            f"{q.info.describe()} has no is_debounced column in workflow_status: debouncing needs a system "
            "database migrated by a DBOS version with debounced workflows"
        )


def has_column(q: Queries, column: str) -> bool:
    return q.info.has(TABLE, column)


# -- schedules ---------------------------------------------------------------------------------


def _select(t: Target) -> sql.Composed:
    cols = sql.SQL(", ").join(t.opt(TABLE, c, "w") for c in COLUMNS)
    return sql.SQL("SELECT {cols} FROM {s}.workflow_schedules AS w").format(cols=cols, s=t.s)


def get_schedule(t: Target) -> sql.Composed:
    """Row: the schedule named %(name)s."""
    return sql.SQL("{select} WHERE w.schedule_name = %(name)s").format(select=_select(t))


def list_schedules(
    t: Target,
    status: Sequence[str] | None,
    workflow_name: Sequence[str] | None,
    prefixes: Sequence[str] | None,
    application_name: Sequence[str] | None,
) -> tuple[str, dict[str, Any]]:
    """The statement and parameters of one list_schedules call; each filter is a list or None."""
    where: list[sql.Composable] = []
    params: dict[str, Any] = {}

    def one_of(column: str, name: str, values: Sequence[str]) -> sql.Composable:
        marks = []
        for i, value in enumerate(values):
            params[f"{name}_{i}"] = value
            marks.append(sql.Placeholder(f"{name}_{i}"))
        return sql.SQL("w.{} IN ({})").format(sql.Identifier(column), sql.SQL(", ").join(marks))

    if status is not None:
        where.append(one_of("status", "status", status) if status else sql.SQL("FALSE"))
    if workflow_name is not None:
        where.append(one_of("workflow_name", "wf", workflow_name) if workflow_name else sql.SQL("FALSE"))
    if prefixes is not None:
        tests: list[sql.Composable] = []
        for i, prefix in enumerate(prefixes):
            params[f"prefix_{i}"] = prefix
            tests.append(sql.SQL("substr(w.schedule_name, 1, length({p})) = {p}").format(p=sql.Placeholder(f"prefix_{i}")))
        where.append(sql.SQL("({})").format(sql.SQL(" OR ").join(tests)) if tests else sql.SQL("FALSE"))
    if application_name and t.info.has(TABLE, "application_name"):
        # Owned by one of these applications, or unclaimed (every application's), as DBOS scopes it.
        where.append(sql.SQL("({} OR w.application_name IS NULL)").format(one_of("application_name", "app", application_name)))
    statement: sql.Composable = _select(t)
    if where:
        statement = sql.SQL("{} WHERE {}").format(statement, sql.SQL(" AND ").join(where))
    statement = sql.SQL("{} ORDER BY w.schedule_name").format(statement)
    return t.render(statement), params


def schedule_owner(t: Target) -> sql.Composed:
    """Row: the application owning the schedule %(schedule_name)s (NULL: unclaimed or no such column)."""
    owner = t.opt(TABLE, "application_name", "w")
    return sql.SQL("SELECT {owner} FROM {s}.workflow_schedules AS w WHERE w.schedule_name = %(schedule_name)s").format(
        owner=owner, s=t.s
    )


def write_columns(t: Target) -> tuple[str, ...]:
    """The columns a create or an upsert writes: the schema's own."""
    return tuple(c for c in COLUMNS if c in _BASE or t.info.has(TABLE, c))


def insert_schedule(t: Target) -> sql.Composed:
    """Params: write_columns. Fails with a unique violation when the name is taken."""
    columns = write_columns(t)
    return sql.SQL("INSERT INTO {s}.workflow_schedules ({cols}) VALUES ({vals})").format(
        s=t.s, cols=idents(columns), vals=sql.SQL(", ").join(sql.Placeholder(c) for c in columns)
    )


#: What an upsert leaves as it was: the row's identity, lifecycle and runtime state.
_KEPT = ("schedule_id", "schedule_name", "status", "last_fired_at")


def upsert_schedule(t: Target) -> sql.Composed:
    """Insert, or replace the definition of the schedule of that name (DBOS's upsert_schedule).

    Keeps schedule_id, status and last_fired_at; claims only an unclaimed row.
    """
    columns = write_columns(t)
    sets: list[sql.Composable] = []
    for c in columns:
        if c in _KEPT:
            continue
        if c == "application_name":
            sets.append(sql.SQL("application_name = COALESCE(w.application_name, excluded.application_name)"))
        else:
            sets.append(sql.SQL("{c} = excluded.{c}").format(c=sql.Identifier(c)))
    return sql.SQL(
        "INSERT INTO {s}.workflow_schedules AS w ({cols}) VALUES ({vals}) ON CONFLICT (schedule_name) DO UPDATE SET {sets}"
    ).format(
        s=t.s, cols=idents(columns), vals=sql.SQL(", ").join(sql.Placeholder(c) for c in columns),
        sets=sql.SQL(", ").join(sets),
    )  # fmt: skip


def set_schedule_status(t: Target) -> sql.Composed:
    return sql.SQL("UPDATE {s}.workflow_schedules SET status = %(status)s WHERE schedule_name = %(name)s").format(s=t.s)


def delete_schedule(t: Target) -> sql.Composed:
    return sql.SQL("DELETE FROM {s}.workflow_schedules WHERE schedule_name = %(name)s").format(s=t.s)


def latest_version(t: Target) -> sql.Composed | None:
    """Row: the newest application version %(app)s can see (its own and unclaimed ones; all when NULL).

    None without an application_versions table (then scheduled runs carry no version).
    """
    if not t.info.has("application_versions", "version_name"):
        return None
    where: sql.Composable = sql.SQL("")
    if t.info.has("application_versions", "application_name"):
        where = sql.SQL(" WHERE {app} IS NULL OR v.application_name = {app} OR v.application_name IS NULL").format(
            app=t.cast("%(app)s", "text")
        )
    return sql.SQL(
        "SELECT v.version_name FROM {s}.application_versions AS v{where} ORDER BY v.version_timestamp DESC LIMIT 1"
    ).format(s=t.s, where=where)


# -- debounce ----------------------------------------------------------------------------------


def bounce(t: Target) -> sql.Composed:
    """Extend the debounced DELAYED holder of (%(queue)s, %(dedup)s) running %(name)s for %(app)s.

    The new delay %(delay)s is capped at the row's debounce deadline; the row is claimed
    for %(app)s if unclaimed. 2.x keeps inputs in the row, 3.x in workflow_input
    (``bounce_inputs``). Rows: the extended workflow's id, or none.
    """
    app = t.cast("%(app)s", "text")
    sets: list[sql.Composable] = [
        sql.SQL(
            "delay_until_epoch_ms = CASE WHEN debounce_deadline_epoch_ms IS NOT NULL"
            " AND debounce_deadline_epoch_ms < {d} THEN debounce_deadline_epoch_ms ELSE {d} END"
        ).format(d=t.cast("%(delay)s", "bigint")),
        sql.SQL("updated_at = {}").format(t.now_ms),
    ]
    if t.ws_has("serialization"):
        sets.append(sql.SQL("serialization = %(serialization)s"))
    if not t.v3:
        sets.append(sql.SQL("inputs = %(inputs)s"))
    owned: sql.Composable = sql.SQL("")
    if t.ws_has("application_name"):
        sets.append(sql.SQL("application_name = COALESCE(application_name, {app})").format(app=app))
        owned = sql.SQL(" AND ({app} IS NULL OR application_name = {app} OR application_name IS NULL)").format(app=app)
    return sql.SQL(
        "UPDATE {s}.workflow_status SET {sets} WHERE name = %(name)s AND queue_name = %(queue)s"
        " AND deduplication_id = %(dedup)s AND status = {delayed} AND is_debounced{owned} RETURNING workflow_uuid"
    ).format(
        s=t.s, sets=sql.SQL(", ").join(sets), delayed=sql.Literal(WorkflowStatusString.DELAYED), owned=owned
    )  # fmt: skip


def bounce_inputs(t: Target) -> sql.Composed:
    """3.x: replace the extended workflow's inputs (%(id)s, %(inputs)s)."""
    return sql.SQL(
        "INSERT INTO {s}.workflow_input (workflow_uuid, inputs) VALUES (%(id)s, %(inputs)s)"
        " ON CONFLICT (workflow_uuid) DO UPDATE SET inputs = excluded.inputs"
    ).format(s=t.s)


def dedup_holder(t: Target) -> sql.Composed:
    """Row: the workflow holding (%(queue)s, %(dedup)s): id, is_debounced, name, application_name."""
    return sql.SQL(
        "SELECT w.workflow_uuid, w.is_debounced, w.name, {app} FROM {s}.workflow_status AS w"
        " WHERE w.queue_name = %(queue)s AND w.deduplication_id = %(dedup)s"
    ).format(s=t.s, app=t.opt("workflow_status", "application_name", "w"))
