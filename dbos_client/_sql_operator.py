"""The operator's statements: queues, fork, rewind, application versions, rename. Pure.

Each builder is a function of a ``Target`` (schema and dialect), shared by Postgres and
SQLite; columns a schema lacks are left out of writes and read as NULL. The ops in
``_ops_operator`` run the writes that take several statements in one ``Transaction``,
as DBOS does. ``OperatorQueries`` renders the fixed statements once per detected schema.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

from psycopg import sql

from ._sql_common import INTERNAL_QUEUE, Target, idents, status_in
from .models import WorkflowStatusString

#: The queues columns a ``Queue`` is built from, in this order.
QUEUE_FIELDS: tuple[str, ...] = (
    "name", "concurrency", "worker_concurrency", "rate_limit_max", "rate_limit_period_sec",
    "partition_concurrency", "partition_worker_concurrency", "partition_rate_limit_max",
    "partition_rate_limit_period_sec", "polling_interval_sec", "application_name",
)  # fmt: skip
#: The application_versions columns of a ``VersionInfo``, in this order.
VERSION_FIELDS: tuple[str, ...] = ("version_id", "version_name", "version_timestamp", "created_at", "application_name")
#: What a rename moves in its first transaction: a half-owned application would dequeue
#: work whose version row it can no longer see.
RENAME_ATOMIC_STATUSES = (WorkflowStatusString.PENDING, WorkflowStatusString.ENQUEUED, WorkflowStatusString.DELAYED)
#: The close sentinel as DBOS stores it (portable JSON of "__DBOS_STREAM_CLOSED__").
STREAM_CLOSED_VALUE = '"__DBOS_STREAM_CLOSED__"'
PORTABLE_JSON = "portable_json"


def _cols(t: Target, table: str, alias: str, names: Sequence[str]) -> sql.Composed:
    return sql.SQL(", ").join(t.opt(table, n, alias) for n in names)


def _in_list(t: Target, column: sql.Composable, param: str) -> sql.Composed:
    """``column`` is one of the list parameter ``param`` (JSON text on SQLite)."""
    if t.sqlite:
        return sql.SQL("{} IN (SELECT value FROM json_each(%({})s))").format(column, sql.SQL(param))
    return sql.SQL("{} = ANY(%({})s::text[])").format(column, sql.SQL(param))


def _now(t: Target) -> sql.Composable:
    return t.now_ms


# -- queues ---------------------------------------------------------------------------------


def get_queue(t: Target) -> sql.Composed:
    """Params %(name)s. Row: QUEUE_FIELDS."""
    return sql.SQL("SELECT {cols} FROM {s}.queues AS q WHERE q.name = %(name)s").format(
        cols=_cols(t, "queues", "q", QUEUE_FIELDS), s=t.s
    )


def list_queues(t: Target) -> sql.Composed:
    """Params %(all)s (no owner filter), %(names)s: the owners, whose unclaimed rows match too. Rows: QUEUE_FIELDS."""
    where: sql.Composable = sql.SQL("TRUE")
    if t.info.has("queues", "application_name"):
        where = sql.SQL("(%(all)s OR q.application_name IS NULL OR {})").format(
            _in_list(t, sql.SQL("q.application_name"), "names")
        )
    return sql.SQL("SELECT {cols} FROM {s}.queues AS q WHERE {where} ORDER BY q.created_at, q.name").format(
        cols=_cols(t, "queues", "q", QUEUE_FIELDS), s=t.s, where=where
    )


def queue_owner(t: Target) -> sql.Composed:
    """Params %(name)s. Row: the queue's application_name (no row: no such queue)."""
    return sql.SQL("SELECT {owner} FROM {s}.queues AS q WHERE q.name = %(name)s").format(
        owner=t.opt("queues", "application_name", "q"), s=t.s
    )


def upsert_queue(t: Target, columns: Sequence[str], update_existing: bool) -> sql.Composed:
    """Insert a queues row from the named params ``columns``; on a taken name update it
    (claiming only an unclaimed row) or leave it, as DBOS's ``upsert_queue``."""
    values = sql.SQL(", ").join(sql.Placeholder(c) for c in columns)
    if update_existing:
        sets: list[sql.Composable] = [
            sql.SQL("{c} = excluded.{c}").format(c=sql.Identifier(c))
            for c in columns
            if c not in ("name", "application_name")
        ]
        if "application_name" in columns:
            # A registration landing between our ownership check and this write keeps its name.
            sets.append(sql.SQL("application_name = coalesce(cur.application_name, excluded.application_name)"))
        action: sql.Composable = sql.SQL("DO UPDATE SET {}").format(sql.SQL(", ").join(sets))
    else:
        action = sql.SQL("DO NOTHING")
    return sql.SQL("INSERT INTO {s}.queues AS cur ({cols}) VALUES ({values}) ON CONFLICT (name) {action}").format(
        s=t.s, cols=idents(columns), values=values, action=action
    )


def lock_queue(t: Target) -> sql.Composed:
    """``get_queue``, locking the row on Postgres so a setter checks the limits it writes beside
    (SQLite's write transaction already excludes other writers)."""
    return get_queue(t) if t.sqlite else sql.SQL("{} FOR UPDATE").format(get_queue(t))


def update_queue(t: Target, columns: Sequence[str]) -> sql.Composed:
    """Params %(name)s and the named params ``columns``: a setter's partial update (DBOS's ``update_queue``)."""
    sets = sql.SQL(", ").join(sql.SQL("{} = {}").format(sql.Identifier(c), sql.Placeholder(c)) for c in columns)
    return sql.SQL("UPDATE {s}.queues SET {sets} WHERE name = %(name)s").format(s=t.s, sets=sets)


def delete_queue(t: Target) -> sql.Composed:
    return sql.SQL("DELETE FROM {s}.queues WHERE name = %(name)s").format(s=t.s)


# -- fork -----------------------------------------------------------------------------------

#: workflow_status columns a fork copies from its original, when the schema has them.
_FORK_COPIED = (
    "name", "class_name", "config_name", "application_id", "authenticated_user",
    "authenticated_roles", "assumed_role", "serialization", "attributes",
)  # fmt: skip


def fork_status(t: Target) -> sql.Composed:
    """Params %(id)s, %(fork)s, %(version)s, %(queue)s, %(partition)s, %(timeout_ms)s, %(owner)s.
    Insert the fork's ENQUEUED status row from its original's; rows: the fork's id (none: no original)."""
    cols: list[str] = ["workflow_uuid", "status", "application_version", "queue_name", "workflow_timeout_ms"]
    exprs: list[sql.Composable] = [
        sql.SQL("%(fork)s"), sql.Literal(WorkflowStatusString.ENQUEUED), t.cast("%(version)s", "text"),
        t.cast("%(queue)s", "text"), t.cast("%(timeout_ms)s", "bigint"),
    ]  # fmt: skip
    for column in _FORK_COPIED:
        if t.ws_has(column):
            cols.append(column)
            expr = sql.SQL("w.{}").format(sql.Identifier(column))
            # DBOS's SQLAlchemy JSON column stores a missing value as the JSON text 'null' in SQLite.
            exprs.append(sql.SQL("coalesce({}, 'null')").format(expr) if column == "attributes" and t.sqlite else expr)
    optional: list[tuple[str, sql.Composable]] = [
        ("queue_partition_key", t.cast("%(partition)s", "text")),
        ("forked_from", sql.SQL("w.workflow_uuid")),
        # The fork runs on its original's application; an unclaimed one is claimed, as dequeue does.
        ("application_name", sql.SQL("coalesce(w.application_name, {})").format(t.cast("%(owner)s", "text"))),
    ]
    if not t.v3:
        optional.append(("inputs", sql.SQL("w.inputs")))  # 3.x keeps them in workflow_input
    for column, value in optional:
        if t.ws_has(column):
            cols.append(column)
            exprs.append(value)
    return sql.SQL(
        "INSERT INTO {s}.workflow_status ({cols}) SELECT {exprs} FROM {s}.workflow_status AS w"
        " WHERE w.workflow_uuid = %(id)s RETURNING workflow_uuid"
    ).format(s=t.s, cols=idents(cols), exprs=sql.SQL(", ").join(exprs))


def fork_inputs(t: Target) -> sql.Composed:
    """3.x: the fork's workflow_input row, a copy of its original's inputs. Params %(id)s, %(fork)s."""
    return sql.SQL(
        "INSERT INTO {s}.workflow_input (workflow_uuid, inputs) SELECT %(fork)s, coalesce(i.inputs, w.inputs)"
        " FROM {s}.workflow_status AS w LEFT JOIN {s}.workflow_input AS i ON i.workflow_uuid = w.workflow_uuid"
        " WHERE w.workflow_uuid = %(id)s"
    ).format(s=t.s)


def mark_forked(t: Target) -> sql.Composed:
    return sql.SQL("UPDATE {s}.workflow_status SET was_forked_from = TRUE WHERE workflow_uuid = %(id)s").format(s=t.s)


def fork_steps(t: Target, replacements: int = 0) -> sql.Composed:
    """Copy the original's step checkpoints before %(step)s to the fork, owned as the fork is.
    ``replacements`` pairs of params %(old_i)s / %(new_i)s rename child workflow ids."""
    child: sql.Composable = sql.SQL("o.child_workflow_id")
    if replacements:
        whens = sql.SQL(" ").join(
            sql.SQL("WHEN {} THEN {}").format(sql.Placeholder(f"old_{i}"), sql.Placeholder(f"new_{i}"))
            for i in range(replacements)
        )
        child = sql.SQL("CASE o.child_workflow_id {} ELSE o.child_workflow_id END").format(whens)
    cols = ["workflow_uuid", "function_id", "function_name", "output", "error", "child_workflow_id"]
    exprs: list[sql.Composable] = [
        sql.SQL("%(fork)s"), sql.SQL("o.function_id"), sql.SQL("o.function_name"), sql.SQL("o.output"),
        sql.SQL("o.error"), child,
    ]  # fmt: skip
    oo = t.info.columns("operation_outputs")
    for column in ("serialization", "started_at_epoch_ms", "completed_at_epoch_ms"):
        if column in oo:
            cols.append(column)
            exprs.append(sql.SQL("o.{}").format(sql.Identifier(column)))
    if "application_name" in oo:
        cols.append("application_name")
        exprs.append(
            sql.SQL("(SELECT f.{} FROM {s}.workflow_status AS f WHERE f.workflow_uuid = %(fork)s)").format(
                sql.Identifier("application_name") if t.ws_has("application_name") else sql.SQL("NULL"), s=t.s
            )
        )
    if "retention_timestamp" in oo:
        cols.append("retention_timestamp")
        exprs.append(_now(t))
    return sql.SQL(
        "INSERT INTO {s}.operation_outputs ({cols}) SELECT {exprs} FROM {s}.operation_outputs AS o"
        " WHERE o.workflow_uuid = %(id)s AND o.function_id < %(step)s"
    ).format(s=t.s, cols=idents(cols), exprs=sql.SQL(", ").join(exprs))


def _serialization(t: Target, table: str, alias: str) -> sql.Composable:
    return t.opt(table, "serialization", alias)


def _and_serialization(present: bool, alias: str = "") -> sql.Composable:
    """``, serialization`` (``, alias.serialization``) where the tables copied have that column, else nothing."""
    if not present:
        return sql.SQL("")
    return sql.SQL(f", {alias}.serialization" if alias else ", serialization")


def fork_event_history(t: Target) -> sql.Composed:
    ser = t.info.has("workflow_events_history", "serialization")
    return sql.SQL(
        "INSERT INTO {s}.workflow_events_history (workflow_uuid, function_id, key, value{ser_col})"
        " SELECT %(fork)s, h.function_id, h.key, h.value{ser} FROM {s}.workflow_events_history AS h"
        " WHERE h.workflow_uuid = %(id)s AND h.function_id < %(step)s"
    ).format(s=t.s, ser_col=_and_serialization(ser), ser=_and_serialization(ser, "h"))


def _latest_events(t: Target, cut: sql.Composable, extra: sql.Composable) -> sql.Composed:
    """Each key's last value published before the cut: rows workflow_uuid-less (key, value[, serialization])."""
    ser = t.info.has("workflow_events_history", "serialization")
    return sql.SQL(
        "SELECT key, value{ser} FROM (SELECT h.key, h.value{hser}, row_number() OVER"
        " (PARTITION BY h.key ORDER BY h.function_id DESC) AS rn FROM {s}.workflow_events_history AS h"
        " WHERE h.workflow_uuid = %(id)s AND h.function_id < {cut}{extra}) AS ranked WHERE rn = 1"
    ).format(s=t.s, cut=cut, extra=extra, ser=_and_serialization(ser), hser=_and_serialization(ser, "h"))


def _set_latest_events(t: Target, owner: str, extra: sql.Composable) -> sql.Composed:
    """Workflow %(owner)s's events become each key's latest value before the start step (``extra``: which keys)."""
    ser = t.info.has("workflow_events", "serialization") and t.info.has("workflow_events_history", "serialization")
    return sql.SQL(
        "INSERT INTO {s}.workflow_events (workflow_uuid, key, value{ser_col}) SELECT {owner}, key, value{ser_col}"
        " FROM ({latest}) AS l"
    ).format(
        s=t.s, owner=sql.SQL(f"%({owner})s"), ser_col=_and_serialization(ser),
        latest=_latest_events(t, sql.SQL("%(step)s"), extra),
    )  # fmt: skip


def fork_events(t: Target) -> sql.Composed:
    """The fork's current events: each key's latest value before the start step."""
    return _set_latest_events(t, "fork", sql.SQL(""))


def fork_streams(t: Target) -> sql.Composed:
    ser = t.info.has("streams", "serialization")
    return sql.SQL(
        'INSERT INTO {s}.streams (workflow_uuid, function_id, key, value{ser_col}, "offset")'
        ' SELECT %(fork)s, x.function_id, x.key, x.value{ser}, x."offset" FROM {s}.streams AS x'
        " WHERE x.workflow_uuid = %(id)s AND x.function_id < %(step)s"
    ).format(s=t.s, ser_col=_and_serialization(ser), ser=_and_serialization(ser, "x"))


# -- rewind ---------------------------------------------------------------------------------


def status_of(t: Target) -> sql.Composed:
    return sql.SQL("SELECT status FROM {s}.workflow_status WHERE workflow_uuid = %(id)s").format(s=t.s)


def _published_past_cut(t: Target, key: sql.Composable) -> sql.Composed:
    return sql.SQL(
        "EXISTS (SELECT 1 FROM {s}.workflow_events_history AS d WHERE d.workflow_uuid = %(id)s"
        " AND d.key = {key} AND d.function_id >= %(step)s)"
    ).format(s=t.s, key=key)


def rewind_statements(t: Target) -> tuple[sql.Composed, ...]:
    """DBOS's rewind, in its order, every one with params %(id)s and %(step)s (run in one transaction):
    events published past the cut are unpublished (the last earlier value is restored), close
    sentinels past it removed, later steps and event history dropped, messages the discarded run
    consumed (or that wait unconsumed) deleted, and the recorded output deleted."""
    return (
        sql.SQL("DELETE FROM {s}.workflow_events WHERE workflow_uuid = %(id)s AND {past}").format(
            s=t.s, past=_published_past_cut(t, sql.SQL("{}.workflow_events.key").format(t.s))
        ),
        _set_latest_events(t, "id", sql.SQL(" AND {}").format(_published_past_cut(t, sql.SQL("h.key")))),
        sql.SQL(
            "DELETE FROM {s}.streams WHERE workflow_uuid = %(id)s AND function_id >= %(step)s"
            " AND value = {closed} AND serialization = {portable}"
        ).format(s=t.s, closed=sql.Literal(STREAM_CLOSED_VALUE), portable=sql.Literal(PORTABLE_JSON)),
        sql.SQL("DELETE FROM {s}.operation_outputs WHERE workflow_uuid = %(id)s AND function_id >= %(step)s").format(
            s=t.s
        ),
        sql.SQL(
            "DELETE FROM {s}.workflow_events_history WHERE workflow_uuid = %(id)s AND function_id >= %(step)s"
        ).format(s=t.s),
        sql.SQL(
            "DELETE FROM {s}.notifications WHERE destination_uuid = %(id)s"
            " AND (consumed_by_function_id >= %(step)s OR consumed = FALSE)"
        ).format(s=t.s),
        sql.SQL("DELETE FROM {s}.workflow_output WHERE workflow_uuid = %(id)s").format(s=t.s),
    )


def rewind_requeue(t: Target) -> sql.Composed:
    """Params %(id)s, %(status)s (as read), %(queue)s, %(partition)s, %(set_version)s, %(version)s.
    Re-enqueue the rewound workflow, unless its status changed meanwhile; rows: its id if updated."""
    sets = [
        sql.SQL("status = {}").format(sql.Literal(WorkflowStatusString.ENQUEUED)),
        sql.SQL("owner_xid = NULL"),
        sql.SQL("application_version = CASE WHEN %(set_version)s THEN {} ELSE application_version END").format(
            t.cast("%(version)s", "text")
        ),
        sql.SQL("queue_name = coalesce({}, {})").format(t.cast("%(queue)s", "text"), sql.Literal(INTERNAL_QUEUE)),
        sql.SQL("queue_partition_key = {}").format(t.cast("%(partition)s", "text")),
        sql.SQL("recovery_attempts = 0"),
        sql.SQL("workflow_deadline_epoch_ms = NULL"),
        sql.SQL("deduplication_id = NULL"),
        sql.SQL("started_at_epoch_ms = NULL"),
        sql.SQL("updated_at = {}").format(_now(t)),
        sql.SQL("completed_at = NULL"),
        sql.SQL("output = NULL"),
        sql.SQL("error = NULL"),
    ]
    return sql.SQL(
        "UPDATE {s}.workflow_status SET {sets} WHERE workflow_uuid = %(id)s AND status = %(status)s"
        " RETURNING workflow_uuid"
    ).format(s=t.s, sets=sql.SQL(", ").join(sets))


# -- application versions -------------------------------------------------------------------


def list_versions(t: Target) -> sql.Composed:
    """Params %(owner)s: the client's application (NULL: every application's). Rows: VERSION_FIELDS, newest first."""
    return sql.SQL(
        "SELECT {cols} FROM {s}.application_versions AS v WHERE {scope} ORDER BY v.version_timestamp DESC"
    ).format(cols=_cols(t, "application_versions", "v", VERSION_FIELDS), s=t.s, scope=_version_scope(t))


def _version_scope(t: Target) -> sql.Composable:
    if not t.info.has("application_versions", "application_name"):
        return sql.SQL("TRUE")
    return sql.SQL("({} IS NULL OR v.application_name IS NULL OR v.application_name = %(owner)s)").format(
        t.cast("%(owner)s", "text")
    )


def latest_version(t: Target) -> sql.Composed:
    """Params %(owner)s. Row: VERSION_FIELDS of the newest version the owner sees (its own and unclaimed ones)."""
    return sql.SQL(
        "SELECT {cols} FROM {s}.application_versions AS v WHERE {scope} ORDER BY v.version_timestamp DESC LIMIT 1"
    ).format(cols=_cols(t, "application_versions", "v", VERSION_FIELDS), s=t.s, scope=_version_scope(t))


def version_owner(t: Target) -> sql.Composed:
    """Params %(name)s. Rows: the owner of each row with that version name."""
    return sql.SQL("SELECT {owner} FROM {s}.application_versions AS v WHERE v.version_name = %(name)s").format(
        owner=t.opt("application_versions", "application_name", "v"), s=t.s
    )


def promote_version(t: Target) -> sql.Composed:
    """Params %(name)s, %(timestamp)s, %(resolved)s. Retime the row the writer resolved to
    (and an unclaimed one, which it claims). Rows: one per row updated."""
    if not t.info.has("application_versions", "application_name"):
        return sql.SQL(
            "UPDATE {s}.application_versions SET version_timestamp = %(timestamp)s WHERE version_name = %(name)s"
            " RETURNING 1"
        ).format(s=t.s)
    return sql.SQL(
        "UPDATE {s}.application_versions SET version_timestamp = %(timestamp)s, application_name = {resolved}"
        " WHERE version_name = %(name)s AND (application_name IS NULL OR application_name = {resolved}) RETURNING 1"
    ).format(s=t.s, resolved=t.cast("%(resolved)s", "text"))


# -- rename ---------------------------------------------------------------------------------


def _rename_source(t: Target, alias: str = "") -> sql.Composed:
    """Rows a rename moves: %(old)s's (unless NULL), and unclaimed ones when %(adopt)s."""
    col = sql.SQL(f"{alias}application_name")
    return sql.SQL("(({col} = {old}) OR (%(adopt)s AND {col} IS NULL))").format(col=col, old=t.cast("%(old)s", "text"))


def rename_table(t: Target, table: str, in_flight_only: bool = False) -> sql.Composed:
    """Params %(old)s, %(new)s, %(adopt)s. Re-own a table's matching rows; rows: one per row moved."""
    extra: sql.Composable = sql.SQL("")
    if in_flight_only:
        extra = sql.SQL(" AND status IN {}").format(status_in(RENAME_ATOMIC_STATUSES))
    return sql.SQL("UPDATE {s}.{table} SET application_name = %(new)s WHERE {source}{extra} RETURNING 1").format(
        s=t.s, table=sql.Identifier(table), source=_rename_source(t), extra=extra
    )


def rename_batch_upper(t: Target, table: str) -> sql.Composed:
    """Params %(old)s, %(adopt)s, %(after)s (NULL: from the start), %(skip)s. Row: the key that
    closes this batch (none: fewer than a batch remain)."""
    return sql.SQL(
        "SELECT DISTINCT workflow_uuid FROM {s}.{table} WHERE {source}"
        " AND ({after} IS NULL OR workflow_uuid > {after}) ORDER BY workflow_uuid LIMIT 1 OFFSET %(skip)s"
    ).format(s=t.s, table=sql.Identifier(table), source=_rename_source(t), after=t.cast("%(after)s", "text"))


def rename_batch(t: Target, table: str) -> sql.Composed:
    """Params %(old)s, %(new)s, %(adopt)s, %(after)s, %(upper)s (NULL: no bound: the final batch,
    which drops the lower bound too, so rows that appeared below it still move). Rows: one per row moved."""
    return sql.SQL(
        "UPDATE {s}.{table} SET application_name = %(new)s WHERE {source} AND ({upper} IS NULL"
        " OR (({after} IS NULL OR workflow_uuid > {after}) AND workflow_uuid <= {upper})) RETURNING 1"
    ).format(
        s=t.s, table=sql.Identifier(table), source=_rename_source(t), after=t.cast("%(after)s", "text"),
        upper=t.cast("%(upper)s", "text"),
    )  # fmt: skip


class OperatorQueries:
    """The operator's fixed statements for one schema and dialect, rendered on first use."""

    def __init__(self, t: Target) -> None:
        self._t = t
        self.info = t.info
        self.sqlite = t.sqlite

    def render(self, statement: sql.Composable) -> str:
        return self._t.render(statement)

    @property
    def target(self) -> Target:
        return self._t

    @cached_property
    def get_queue(self) -> str:
        return self.render(get_queue(self._t))

    @cached_property
    def list_queues(self) -> str:
        return self.render(list_queues(self._t))

    @cached_property
    def queue_owner(self) -> str:
        return self.render(queue_owner(self._t))

    @cached_property
    def lock_queue(self) -> str:
        return self.render(lock_queue(self._t))

    @cached_property
    def delete_queue(self) -> str:
        return self.render(delete_queue(self._t))

    @cached_property
    def fork_status(self) -> str:
        return self.render(fork_status(self._t))

    @cached_property
    def fork_inputs(self) -> str:
        return self.render(fork_inputs(self._t))

    @cached_property
    def mark_forked(self) -> str:
        return self.render(mark_forked(self._t))

    @cached_property
    def fork_event_history(self) -> str:
        return self.render(fork_event_history(self._t))

    @cached_property
    def fork_events(self) -> str:
        return self.render(fork_events(self._t))

    @cached_property
    def fork_streams(self) -> str:
        return self.render(fork_streams(self._t))

    @cached_property
    def status_of(self) -> str:
        return self.render(status_of(self._t))

    @cached_property
    def rewind_statements(self) -> tuple[str, ...]:
        return tuple(self.render(s) for s in rewind_statements(self._t))

    @cached_property
    def rewind_requeue(self) -> str:
        return self.render(rewind_requeue(self._t))

    @cached_property
    def list_versions(self) -> str:
        return self.render(list_versions(self._t))

    @cached_property
    def latest_version(self) -> str:
        return self.render(latest_version(self._t))

    @cached_property
    def version_owner(self) -> str:
        return self.render(version_owner(self._t))

    @cached_property
    def promote_version(self) -> str:
        return self.render(promote_version(self._t))

    def statements(self) -> dict[str, Any]:
        """Every fixed statement, by name (for tests and debugging)."""
        names = [n for n, v in vars(type(self)).items() if isinstance(v, cached_property)]
        return {n: getattr(self, n) for n in names}
