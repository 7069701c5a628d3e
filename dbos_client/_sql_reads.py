"""The statements that only read: events, streams, status and result, lists. Pure.

Each is shared by Postgres and SQLite (SQLite reads list parameters as JSON text with
``json_each`` where Postgres uses arrays; ``list_workflows`` says so where it differs).
Columns a schema lacks read as NULL, so a statement's row shape never varies.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from psycopg import sql

from ._sql_common import STREAM_BATCH, Target, status_in
from .errors import SchemaError
from .models import ACTIVE_STATUSES

if TYPE_CHECKING:
    from ._options import ListFilters

#: The columns of ``get_status`` and ``list_workflows`` rows, before inputs, output, error.
STATUS_FIELDS: tuple[str, ...] = (
    "workflow_uuid", "status", "name", "class_name", "config_name", "authenticated_user",
    "assumed_role", "authenticated_roles", "created_at", "updated_at", "queue_name",
    "executor_id", "application_version", "application_id", "recovery_attempts",
    "workflow_timeout_ms", "workflow_deadline_epoch_ms", "deduplication_id", "priority",
    "queue_partition_key", "forked_from", "was_forked_from", "parent_workflow_id",
    "started_at_epoch_ms", "delay_until_epoch_ms", "completed_at", "attributes",
    "schedule_name", "application_name", "serialization",
)  # fmt: skip


# -- enqueue's look-ups -------------------------------------------------------------------


def find_existing(t: Target) -> sql.Composed:
    """Row: name, class_name, config_name, queue_name, status, creator_xid."""
    return sql.SQL(
        "SELECT name, class_name, config_name, queue_name, status, {creator} FROM {s}.workflow_status AS e"
        " WHERE workflow_uuid = %(workflow_uuid)s"
    ).format(s=t.s, creator=t.opt("workflow_status", "creator_xid", "e"))


def find_deduplicated(t: Target) -> sql.Composed:
    """Params (queue_name, deduplication_id); row: workflow_uuid."""
    return sql.SQL(
        "SELECT workflow_uuid FROM {s}.workflow_status WHERE queue_name = %s AND deduplication_id = %s"
    ).format(s=t.s)


def queue_known(t: Target) -> sql.Composable:
    """True if the queues table (3.x) names %(queue_name)s; NULL when there is no such table."""
    if not t.info.has("queues", "name"):
        return sql.SQL("NULL::boolean")
    return sql.SQL("EXISTS (SELECT 1 FROM {s}.queues WHERE name = %(queue_name)s)").format(s=t.s)


def exists(t: Target) -> sql.Composed:
    return sql.SQL("SELECT 1 FROM {s}.workflow_status WHERE workflow_uuid = %s").format(s=t.s)


# -- events and streams -------------------------------------------------------------------


def get_event_value(t: Target) -> sql.Composed:
    """The fast path: a value that already exists costs one index lookup. Row: value, serialization."""
    return sql.SQL(
        "SELECT e.value, {ser} FROM {s}.workflow_events AS e WHERE e.workflow_uuid = %s AND e.key = %s"
    ).format(s=t.s, ser=t.opt("workflow_events", "serialization", "e"))


def get_event(t: Target) -> sql.Composed:
    """Always one row: value, serialization, and the workflow's status (all NULL if unknown)."""
    return sql.SQL(
        "SELECT e.value, {ser}, w.status FROM (SELECT 1) AS one"
        " LEFT JOIN {s}.workflow_events AS e ON e.workflow_uuid = %(id)s AND e.key = %(key)s"
        " LEFT JOIN {s}.workflow_status AS w ON w.workflow_uuid = %(id)s"
    ).format(s=t.s, ser=t.opt("workflow_events", "serialization", "e"))


def get_all_events(t: Target) -> sql.Composed:
    """Rows: key, value, serialization; one row of NULLs for a workflow without events, none if unknown."""
    return sql.SQL(
        "SELECT e.key, e.value, {ser} FROM {s}.workflow_status AS w"
        " LEFT JOIN {s}.workflow_events AS e ON e.workflow_uuid = w.workflow_uuid"
        " WHERE w.workflow_uuid = %s ORDER BY e.key"
    ).format(s=t.s, ser=t.opt("workflow_events", "serialization", "e"))


def read_stream(t: Target) -> sql.Composed:
    """Rows: status, value, serialization, offset; up to STREAM_BATCH values from %(offset)s."""
    return sql.SQL(
        'SELECT w.status, st.value, {ser}, st."offset" FROM {s}.workflow_status AS w'
        " LEFT JOIN {s}.streams AS st ON st.workflow_uuid = w.workflow_uuid AND st.key = %(key)s"
        ' AND st."offset" >= %(offset)s AND st."offset" < %(offset)s + {batch}'
        ' WHERE w.workflow_uuid = %(id)s ORDER BY st."offset"'
    ).format(s=t.s, ser=t.opt("streams", "serialization", "st"), batch=sql.Literal(STREAM_BATCH))


# -- status, result, steps ----------------------------------------------------------------


def _payload_joins(t: Target) -> sql.Composable:
    if not t.v3:
        return sql.SQL("")
    return sql.SQL(
        " LEFT JOIN {s}.workflow_input AS i ON i.workflow_uuid = w.workflow_uuid"
        " LEFT JOIN {s}.workflow_output AS o ON o.workflow_uuid = w.workflow_uuid"
    ).format(s=t.s)


def _inputs(t: Target) -> sql.Composable:
    return sql.SQL("COALESCE(i.inputs, w.inputs)" if t.v3 else "w.inputs")


def _output(t: Target) -> sql.Composable:
    return sql.SQL("COALESCE(o.output, w.output)" if t.v3 else "w.output")


def _error(t: Target) -> sql.Composable:
    return sql.SQL("COALESCE(o.error, w.error)" if t.v3 else "w.error")


def _status_fields(t: Target) -> sql.Composable:
    return sql.SQL(", ").join(t.opt("workflow_status", f, "w") for f in STATUS_FIELDS)


def get_status(t: Target) -> sql.Composed:
    """Row: STATUS_FIELDS, inputs, output, error."""
    return sql.SQL(
        "SELECT {fields}, {inp}, {out}, {err} FROM {s}.workflow_status AS w{joins} WHERE w.workflow_uuid = %s"
    ).format(fields=_status_fields(t), inp=_inputs(t), out=_output(t), err=_error(t), s=t.s, joins=_payload_joins(t))


def get_result(t: Target) -> sql.Composed:
    """Row: status, output, error, serialization."""
    return sql.SQL(
        "SELECT w.status, {out}, {err}, {ser} FROM {s}.workflow_status AS w{joins} WHERE w.workflow_uuid = %s"
    ).format(
        out=_output(t), err=_error(t), ser=t.opt("workflow_status", "serialization", "w"), s=t.s, joins=_payload_joins(t)
    )


def list_steps(t: Target) -> sql.Composed:
    """Rows: function_id, name, output, error, child, started, completed, serialization (one NULL row: no step)."""
    return sql.SQL(
        "SELECT o.function_id, o.function_name, o.output, o.error, o.child_workflow_id, {started}, {completed}, {ser}"
        " FROM {s}.workflow_status AS w LEFT JOIN {s}.operation_outputs AS o ON o.workflow_uuid = w.workflow_uuid"
        " WHERE w.workflow_uuid = %(id)s ORDER BY o.function_id LIMIT {limit} OFFSET %(offset)s"
    ).format(
        limit=t.limit, s=t.s, started=t.opt("operation_outputs", "started_at_epoch_ms", "o"),
        completed=t.opt("operation_outputs", "completed_at_epoch_ms", "o"), ser=t.opt("operation_outputs", "serialization", "o"),
    )  # fmt: skip


def list_workflows(t: Target, f: ListFilters) -> tuple[sql.Composed, dict[str, Any]]:
    """The statement and parameters for one list_workflows call (filters vary per call). Rows as get_status."""
    from ._options import LIST_COLUMNS, LIST_TIMES

    where: list[sql.Composable] = []
    params: dict[str, Any] = {}

    def need(key: str, column: str) -> None:
        if not t.ws_has(column):
            raise SchemaError(f"filter {key!r} needs workflow_status.{column}, which {t.info.describe()} lacks")

    for key, values in f.values.items():
        column = LIST_COLUMNS[key]
        need(key, column)
        # Postgres compares with an array; SQLite reads the list as JSON text.
        where.append(sql.SQL("w.{} {}%({})s{}").format(
            sql.Identifier(column), sql.SQL("IN (SELECT value FROM json_each(") if t.sqlite else sql.SQL("= ANY("),
            sql.SQL(key), sql.SQL("))" if t.sqlite else ")")))  # fmt: skip
        params[key] = list(values)
    for key, ms in f.times.items():
        column, op = LIST_TIMES[key]
        need(key, column)
        where.append(sql.SQL("w.{} {} %({})s").format(sql.Identifier(column), sql.SQL(op), sql.SQL(key)))
        params[key] = ms
    if f.prefixes:
        # LIKE patterns: the prefixes' own % and _ are literal.
        where.append(
            sql.SQL("EXISTS (SELECT 1 FROM json_each(%(prefixes)s) AS p WHERE w.workflow_uuid LIKE p.value ESCAPE '\\')")
            if t.sqlite else sql.SQL("w.workflow_uuid LIKE ANY(%(prefixes)s)")
        )  # fmt: skip
        params["prefixes"] = [p.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%" for p in f.prefixes]
    for flag, (column, when_true) in {
        "was_forked_from": ("was_forked_from", "w.was_forked_from"),
        "is_fork": ("forked_from", "w.forked_from IS NOT NULL"),
        "has_parent": ("parent_workflow_id", "w.parent_workflow_id IS NOT NULL"),
    }.items():
        if flag in f.flags:
            need(flag, column)
            clause = sql.SQL(when_true)
            where.append(clause if f.flags[flag] else sql.SQL("NOT ({})").format(clause))
    if f.attributes:
        if t.sqlite:
            # As DBOS: SQLite's JSON functions cannot reproduce jsonb containment faithfully.
            from .errors import InvalidArgumentError

            raise InvalidArgumentError(
                "Filtering workflows by attributes is not supported on SQLite. "
                "Use a Postgres system database to filter by attributes."
            )
        need("attributes", "attributes")
        where.append(sql.SQL("w.attributes @> %(attributes)s::jsonb"))
        params["attributes"] = json.dumps(f.attributes)
    if f.queues_only:
        where.append(sql.SQL("w.queue_name IS NOT NULL"))
        if "status" not in f.values:
            where.append(sql.SQL("w.status IN {}").format(status_in(ACTIVE_STATUSES)))
    stmt = sql.SQL(
        "SELECT {fields}, {inp}, {out}, {err} FROM {s}.workflow_status AS w{joins}{where}"
        " ORDER BY w.created_at {order}, w.workflow_uuid {order} LIMIT {limit} OFFSET %(offset)s"
    ).format(limit=t.limit,
        fields=_status_fields(t), inp=_inputs(t) if f.load_input else sql.SQL("NULL"),
        out=_output(t) if f.load_output else sql.SQL("NULL"), err=_error(t) if f.load_output else sql.SQL("NULL"),
        s=t.s, joins=_payload_joins(t), where=sql.SQL(" WHERE ") + sql.SQL(" AND ").join(where) if where else sql.SQL(""),
        order=sql.SQL("DESC" if f.sort_desc else "ASC"),
    )  # fmt: skip
    params["limit"] = f.limit
    params["offset"] = f.offset or 0
    return stmt, params
