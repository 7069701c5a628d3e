"""The statements that write: enqueue, send, cancel, delete, resume. Pure.

Postgres does each write in one statement (a data-modifying CTE: one round trip, atomic
in autocommit mode). SQLite has no data-modifying CTEs: there the op (``_ops``) runs the
``sqlite_*`` steps below in one ``Transaction``. Builders named ``pg_*`` or ``sqlite_*``
serve one dialect; the others serve both.
"""

from __future__ import annotations

import json
from typing import Any

from psycopg import sql

from ._sql_common import INTERNAL_QUEUE, Target, idents, status_in
from ._sql_reads import queue_known
from .models import FINAL_STATUSES, WorkflowStatusString

# -- enqueue ------------------------------------------------------------------------------


def enqueue_columns(t: Target) -> tuple[str, ...]:
    """The workflow_status columns enqueue fills from ``EnqueueRequest.row`` (named parameters)."""
    columns = [
        "workflow_uuid", "status", "name", "class_name", "config_name", "queue_name",
        "priority", "recovery_attempts", "deduplication_id", "application_version",
        "workflow_timeout_ms", "authenticated_user", "authenticated_roles",
    ]  # fmt: skip
    columns += [c for c in ("serialization", "application_name", "queue_partition_key", "creator_xid", "attributes") if t.ws_has(c)]
    # Set by scheduled and debounced enqueues (_schedules, _debounce); plain ones write their defaults.
    columns += [c for c in ("schedule_name", "is_debounced", "debounce_deadline_epoch_ms") if t.ws_has(c)]
    if not t.v3:
        columns.append("inputs")
    return tuple(columns)


def _insert_status(t: Target) -> sql.Composed:
    """The status row, unless the id is taken. Params: enqueue_columns, and delay_ms."""
    columns = list(enqueue_columns(t))
    values: list[sql.Composable] = [sql.Placeholder(c) for c in columns]
    if t.ws_has("delay_until_epoch_ms"):
        columns.append("delay_until_epoch_ms")
        delay = t.cast("%(delay_ms)s", "bigint")
        values.append(sql.SQL("CASE WHEN {d} IS NULL THEN NULL ELSE {now} + {d} END").format(d=delay, now=t.now_ms))
    # created_at is the column's default, as the runtime's own inserts leave it. On
    # SQLite that has whole seconds when the runtime's migrations ran on Python < 3.12;
    # stamping milliseconds here would put it after a 2.x runtime's updated_at.
    return sql.SQL(
        "INSERT INTO {s}.workflow_status ({cols}) VALUES ({vals}) ON CONFLICT (workflow_uuid) DO NOTHING RETURNING workflow_uuid"
    ).format(s=t.s, cols=idents(columns), vals=sql.SQL(", ").join(values))


def pg_enqueue(t: Target) -> sql.Composed:
    """Insert the row (and its 3.x inputs) in one statement. Row: inserted, the existing
    row's name, class_name, config_name, queue_name, status, creator_xid (NULL when we
    inserted, or when the id was taken after this statement's snapshot), queue_known."""
    inputs_cte: sql.Composable = sql.SQL("")
    if t.v3:
        inputs_cte = sql.SQL(
            ", inp AS (INSERT INTO {s}.workflow_input (workflow_uuid, inputs)"
            " SELECT workflow_uuid, %(inputs)s FROM ins ON CONFLICT (workflow_uuid) DO NOTHING)"
        ).format(s=t.s)
    # The outer SELECT sees the snapshot from before this statement's insert, so `e`
    # is the pre-existing row when the id was taken, and NULL when we inserted.
    return sql.SQL(
        "WITH ins AS ({insert}){inputs_cte}"
        " SELECT (SELECT count(*) FROM ins) > 0 AS inserted, e.name, e.class_name, e.config_name,"
        " e.queue_name, e.status, {creator} AS creator_xid, {queue_known} AS queue_known"
        " FROM (SELECT 1) AS one LEFT JOIN {s}.workflow_status AS e ON e.workflow_uuid = %(workflow_uuid)s"
    ).format(
        insert=_insert_status(t), inputs_cte=inputs_cte, s=t.s,
        creator=t.opt("workflow_status", "creator_xid", "e"), queue_known=queue_known(t),
    )  # fmt: skip


def sqlite_enqueue_insert(t: Target) -> sql.Composed:
    """Rows: the new id, or none when it was taken."""
    return _insert_status(t)


def sqlite_enqueue_inputs(t: Target) -> sql.Composed | None:
    """3.x only: the inputs, in their own table."""
    if not t.v3:
        return None
    return sql.SQL(
        "INSERT INTO {s}.workflow_input (workflow_uuid, inputs) VALUES (%(workflow_uuid)s, %(inputs)s)"
        " ON CONFLICT (workflow_uuid) DO NOTHING"
    ).format(s=t.s)


def sqlite_queue_known(t: Target) -> sql.Composed | None:
    """Row: whether the queues table names %(queue_name)s; None without a queues table."""
    if not t.info.has("queues", "name"):
        return None
    return sql.SQL("SELECT {}").format(queue_known(t))


# -- send ---------------------------------------------------------------------------------


def send_columns(t: Target) -> tuple[str, ...]:
    """The positional parameters of ``send``."""
    columns = ("destination_uuid", "topic", "message", "message_uuid")
    return (*columns, "serialization") if t.info.has("notifications", "serialization") else columns


def send(t: Target) -> sql.Composed:
    columns = send_columns(t)
    return sql.SQL("INSERT INTO {s}.notifications ({cols}) VALUES ({vals}) ON CONFLICT (message_uuid) DO NOTHING").format(
        s=t.s, cols=idents(columns), vals=sql.SQL(", ").join(sql.Placeholder() * len(columns))
    )


# -- cancel, delete, resume ---------------------------------------------------------------

_S = WorkflowStatusString


def _cancel_sets(t: Target) -> list[sql.Composable]:
    sets: list[sql.Composable] = [
        sql.SQL("status = {}").format(sql.Literal(_S.CANCELLED)), sql.SQL("queue_name = NULL"),
        sql.SQL("deduplication_id = NULL"), sql.SQL("started_at_epoch_ms = NULL"), sql.SQL("updated_at = {}").format(t.now_ms),
    ]  # fmt: skip
    if t.ws_has("completed_at"):
        sets.append(sql.SQL("completed_at = {}").format(t.now_ms))
    # 3.x also clears owner_xid, so the running execution's outcome write is refused;
    # 2.x leaves it, and so do we there, to behave exactly like that runtime.
    if t.v3 and t.ws_has("owner_xid"):
        sets.append(sql.SQL("owner_xid = NULL"))
    return sets


def _resume_sets(t: Target) -> list[sql.Composable]:
    sets: list[sql.Composable] = [
        sql.SQL("status = {}").format(sql.Literal(_S.ENQUEUED)),
        sql.SQL("queue_name = COALESCE(%(queue)s, {})").format(sql.Literal(INTERNAL_QUEUE)),
        sql.SQL("recovery_attempts = 0"), sql.SQL("workflow_deadline_epoch_ms = NULL"),
        sql.SQL("deduplication_id = NULL"), sql.SQL("started_at_epoch_ms = NULL"), sql.SQL("updated_at = {}").format(t.now_ms),
    ]  # fmt: skip
    if t.ws_has("completed_at"):
        sets.append(sql.SQL("completed_at = NULL"))
    if t.v3 and t.ws_has("owner_xid"):
        sets.append(sql.SQL("owner_xid = NULL"))
    return sets


def _not_final() -> sql.Composed:
    return sql.SQL("status NOT IN {}").format(status_in(FINAL_STATUSES))


def _children(t: Target) -> sql.Composable:
    """With %(children)s, the recursive part of ``target``: every descendant."""
    if not t.ws_has("parent_workflow_id"):
        return sql.SQL("")
    return sql.SQL(
        " UNION SELECT c.workflow_uuid FROM {s}.workflow_status AS c JOIN target AS t"
        " ON c.parent_workflow_id = t.workflow_uuid WHERE %(children)s"
    ).format(s=t.s)


def payload_tables(t: Target) -> tuple[str, ...]:
    """What delete removes besides workflow_status. 3.x keeps inputs, outputs and step
    outputs without a foreign key; in 2.x they cascade from workflow_status (as events,
    messages and streams do)."""
    return ("workflow_input", "workflow_output", "operation_outputs") if t.v3 else ()


# Postgres: bulk and single alike, one statement; `missing` names unknown ids, and then
# nothing is changed. Params: %(ids)s (a list), %(children)s. Row: missing ids, count.


def _pg_targets(t: Target) -> sql.Composed:
    return sql.SQL(
        "WITH RECURSIVE given AS (SELECT unnest(%(ids)s::text[]) AS workflow_uuid),"
        " missing AS (SELECT g.workflow_uuid FROM given AS g WHERE NOT EXISTS"
        " (SELECT 1 FROM {s}.workflow_status AS w WHERE w.workflow_uuid = g.workflow_uuid)),"
        " target(workflow_uuid) AS (SELECT workflow_uuid FROM given{children})"
    ).format(s=t.s, children=_children(t))


_ONLY_IF_ALL_KNOWN = sql.SQL(
    "workflow_uuid IN (SELECT workflow_uuid FROM target) AND NOT EXISTS (SELECT 1 FROM missing)"
)


def pg_cancel(t: Target) -> sql.Composed:
    return sql.SQL(
        "{targets}, upd AS (UPDATE {s}.workflow_status SET {sets} WHERE {known} AND {not_final} RETURNING 1)"
        " SELECT ARRAY(SELECT workflow_uuid FROM missing), (SELECT count(*) FROM upd)"
    ).format(
        targets=_pg_targets(t), s=t.s, sets=sql.SQL(", ").join(_cancel_sets(t)), known=_ONLY_IF_ALL_KNOWN,
        not_final=_not_final(),
    )  # fmt: skip


def pg_delete(t: Target) -> sql.Composed:
    deletes = sql.SQL("").join(
        sql.SQL(", d_{n} AS (DELETE FROM {s}.{t} WHERE {known})").format(
            n=sql.SQL(str(i)), s=t.s, t=sql.Identifier(table), known=_ONLY_IF_ALL_KNOWN
        )
        for i, table in enumerate(payload_tables(t))
    )
    return sql.SQL(
        "{targets}{deletes}, d_ws AS (DELETE FROM {s}.workflow_status WHERE {known} RETURNING 1)"
        " SELECT ARRAY(SELECT workflow_uuid FROM missing), (SELECT count(*) FROM d_ws)"
    ).format(targets=_pg_targets(t), deletes=deletes, s=t.s, known=_ONLY_IF_ALL_KNOWN)


def pg_resume(t: Target) -> sql.Composed:
    """Params %(id)s, %(queue)s. Row: whether the workflow exists, rows updated."""
    return sql.SQL(
        "WITH upd AS (UPDATE {s}.workflow_status SET {sets} WHERE workflow_uuid = %(id)s AND {not_final} RETURNING 1)"
        " SELECT EXISTS (SELECT 1 FROM {s}.workflow_status WHERE workflow_uuid = %(id)s), (SELECT count(*) FROM upd)"
    ).format(s=t.s, sets=sql.SQL(", ").join(_resume_sets(t)), not_final=_not_final())


# SQLite: the same rules, a statement at a time, in one transaction the op opens.


def sqlite_missing(t: Target) -> sql.Composed:
    """Rows: each id of %(ids)s (JSON text) that names no workflow, in the given order."""
    return sql.SQL(
        "SELECT g.value FROM json_each(%(ids)s) AS g WHERE NOT EXISTS"
        " (SELECT 1 FROM {s}.workflow_status AS w WHERE w.workflow_uuid = g.value) ORDER BY g.key"
    ).format(s=t.s)


def _sqlite_target(t: Target) -> sql.Composed:
    return sql.SQL("WITH RECURSIVE target(workflow_uuid) AS (SELECT value FROM json_each(%(ids)s){children}) ").format(
        children=_children(t)
    )


_IN_TARGET = sql.SQL("workflow_uuid IN (SELECT workflow_uuid FROM target)")


def sqlite_cancel(t: Target) -> sql.Composed:
    return sql.SQL("{target}UPDATE {s}.workflow_status SET {sets} WHERE {in_target} AND {not_final}").format(
        target=_sqlite_target(t), s=t.s, sets=sql.SQL(", ").join(_cancel_sets(t)), in_target=_IN_TARGET,
        not_final=_not_final(),
    )  # fmt: skip


def sqlite_delete(t: Target) -> tuple[sql.Composed, ...]:
    """One DELETE per table, workflow_status last."""
    return tuple(
        sql.SQL("{target}DELETE FROM {s}.{t} WHERE {in_target}").format(
            target=_sqlite_target(t), s=t.s, t=sql.Identifier(table), in_target=_IN_TARGET
        )
        for table in (*payload_tables(t), "workflow_status")
    )


def sqlite_resume(t: Target) -> sql.Composed:
    return sql.SQL("UPDATE {s}.workflow_status SET {sets} WHERE workflow_uuid = %(id)s AND {not_final}").format(
        s=t.s, sets=sql.SQL(", ").join(_resume_sets(t)), not_final=_not_final()
    )


def sqlite_resume_exists(t: Target) -> sql.Composed:
    return sql.SQL("SELECT EXISTS (SELECT 1 FROM {s}.workflow_status WHERE workflow_uuid = %(id)s)").format(s=t.s)


# -- update_workflow_attributes, set_workflow_delay, resume_workflows ---------------------

#: Key-value pairs per SQLite json_set call (its argument count is bounded); more nest.
SQLITE_JSON_SET_PAIRS = 50


def _need(t: Target, column: str, call: str) -> None:
    if not t.ws_has(column):
        from .errors import SchemaError

        raise SchemaError(f"{call} needs workflow_status.{column}, which {t.info.describe()} lacks")


def update_attributes(
    t: Target, attributes: dict[str, Any] | None, merge: bool
) -> tuple[sql.Composed, dict[str, Any]]:
    """Params %(id)s and the value; rows: one per updated workflow (none: no such workflow).

    As DBOS: a replace stores the JSON document (None is JSON null); a merge sets the given
    top-level keys on the stored object (anything else stored counts as ``{}``), atomically:
    jsonb ``||`` in Postgres, ``json_set`` in SQLite (minified text, as DBOS's json_set leaves it).
    """
    _need(t, "attributes", "update_workflow_attributes")
    params: dict[str, Any] = {}
    value: sql.Composable
    if not merge:
        value = sql.SQL("%(attributes)s") if t.sqlite else sql.SQL("%(attributes)s::jsonb")
        params["attributes"] = json.dumps(attributes)
    elif not t.sqlite:
        value = sql.SQL(
            "(CASE WHEN jsonb_typeof(attributes) = 'object' THEN attributes ELSE '{}'::jsonb END) || %(attributes)s::jsonb"
        )
        params["attributes"] = json.dumps(attributes)
    else:
        value = sql.SQL("(CASE WHEN json_type(attributes) = 'object' THEN attributes ELSE '{}' END)")
        pairs = list((attributes or {}).items())
        for start in range(0, len(pairs), SQLITE_JSON_SET_PAIRS):
            args: list[sql.Composable] = [value]
            for i, (key, item) in enumerate(pairs[start : start + SQLITE_JSON_SET_PAIRS], start):
                args.append(sql.SQL("%(k{})s, json(%(v{})s)").format(sql.SQL(str(i)), sql.SQL(str(i))))
                params[f"k{i}"] = f"$.{json.dumps(key)}"
                params[f"v{i}"] = json.dumps(item)
            value = sql.SQL("json_set({})").format(sql.SQL(", ").join(args))
    statement = sql.SQL(
        "UPDATE {s}.workflow_status SET attributes = {value}, updated_at = {now} WHERE workflow_uuid = %(id)s RETURNING 1"
    ).format(s=t.s, value=value, now=t.now_ms)
    return statement, params


def _delay_sets(t: Target) -> sql.Composed:
    return sql.SQL("delay_until_epoch_ms = COALESCE({until}, {now} + {delay}), updated_at = {now}").format(
        until=t.cast("%(until_ms)s", "bigint"), delay=t.cast("%(delay_ms)s", "bigint"), now=t.now_ms
    )


def _delayed_only() -> sql.Composed:
    return sql.SQL("status = {}").format(sql.Literal(_S.DELAYED))


def pg_set_delay(t: Target) -> sql.Composed:
    """Params %(id)s, %(until_ms)s or %(delay_ms)s (from the database's clock). Row: exists, rows updated."""
    _need(t, "delay_until_epoch_ms", "set_workflow_delay")
    return sql.SQL(
        "WITH upd AS (UPDATE {s}.workflow_status SET {sets} WHERE workflow_uuid = %(id)s AND {delayed} RETURNING 1)"
        " SELECT EXISTS (SELECT 1 FROM {s}.workflow_status WHERE workflow_uuid = %(id)s), (SELECT count(*) FROM upd)"
    ).format(s=t.s, sets=_delay_sets(t), delayed=_delayed_only())


def sqlite_set_delay(t: Target) -> sql.Composed:
    _need(t, "delay_until_epoch_ms", "set_workflow_delay")
    return sql.SQL("UPDATE {s}.workflow_status SET {sets} WHERE workflow_uuid = %(id)s AND {delayed}").format(
        s=t.s, sets=_delay_sets(t), delayed=_delayed_only()
    )


def pg_resume_many(t: Target) -> sql.Composed:
    """Params %(ids)s, %(queue)s. Row: missing ids (then nothing changed), rows updated."""
    return sql.SQL(
        "WITH given AS (SELECT unnest(%(ids)s::text[]) AS workflow_uuid),"
        " missing AS (SELECT g.workflow_uuid FROM given AS g WHERE NOT EXISTS"
        " (SELECT 1 FROM {s}.workflow_status AS w WHERE w.workflow_uuid = g.workflow_uuid)),"
        " upd AS (UPDATE {s}.workflow_status SET {sets} WHERE workflow_uuid IN (SELECT workflow_uuid FROM given)"
        " AND NOT EXISTS (SELECT 1 FROM missing) AND {not_final} RETURNING 1)"
        " SELECT ARRAY(SELECT workflow_uuid FROM missing), (SELECT count(*) FROM upd)"
    ).format(s=t.s, sets=sql.SQL(", ").join(_resume_sets(t)), not_final=_not_final())


def sqlite_resume_many(t: Target) -> sql.Composed:
    """After ``sqlite_missing`` found every id: resume them. Params %(ids)s (JSON text), %(queue)s."""
    return sql.SQL(
        "UPDATE {s}.workflow_status SET {sets} WHERE workflow_uuid IN (SELECT value FROM json_each(%(ids)s)) AND {not_final}"
    ).format(s=t.s, sets=sql.SQL(", ").join(_resume_sets(t)), not_final=_not_final())
