"""The statements of the bulk calls and the fan-out waits. Pure.

``send_bulk`` writes every message in one statement: on Postgres an ``INSERT ... SELECT``
from ``unnest`` of one array per column (one round trip, however many messages); SQLite
runs ``send``'s own INSERT with ``executemany`` inside one ``BEGIN IMMEDIATE``.
``wait_first`` and ``wait_all`` read many workflows' statuses in one query. A list
parameter is an array on Postgres and JSON text on SQLite (read with ``json_each``).
"""

from __future__ import annotations

from psycopg import sql

from ._sql_common import Target, idents, status_in
from ._sql_writes import enqueue_columns, send_columns
from .models import ACTIVE_STATUSES


def id_list(t: Target, name: str) -> sql.Composable:
    """The named list parameter as a subquery ``IN`` can take."""
    if t.sqlite:
        return sql.SQL("(SELECT value FROM json_each({}))").format(sql.Placeholder(name))
    return sql.SQL("(SELECT unnest({}::text[]))").format(sql.Placeholder(name))


def pg_send_bulk(t: Target) -> sql.Composed:
    """Postgres: every message in one INSERT. Positional params: one text array per column
    of ``send_columns``, all of the same length."""
    columns = send_columns(t)
    arrays = sql.SQL(", ").join(sql.SQL("%s::text[]") for _ in columns)
    return sql.SQL(
        "INSERT INTO {s}.notifications ({cols}) SELECT * FROM unnest({arrays}) ON CONFLICT (message_uuid) DO NOTHING"
    ).format(s=t.s, cols=idents(columns), arrays=arrays)


def fork_descendants(t: Target) -> sql.Composed | None:
    """Rows (root, descendant): every workflow recursively forked from one of %(ids)s.
    None when the schema records no forks."""
    if not t.ws_has("forked_from"):
        return None
    roots = (
        sql.SQL("SELECT value, value FROM json_each(%(ids)s)")
        if t.sqlite
        else sql.SQL("SELECT r, r FROM unnest(%(ids)s::text[]) AS r")
    )
    return sql.SQL(
        "WITH RECURSIVE f(root, wid) AS ({roots} UNION SELECT f.root, w.workflow_uuid FROM {s}.workflow_status AS w"
        " JOIN f ON w.forked_from = f.wid) SELECT root, wid FROM f WHERE wid <> root ORDER BY root, wid"
    ).format(roots=roots, s=t.s)


def first_finished(t: Target) -> sql.Composed:
    """Row: the id of the workflow of %(ids)s that finished first (no longer PENDING,
    ENQUEUED or DELAYED), or none. Ties go to the smaller id, so the answer is stable."""
    return sql.SQL(
        "SELECT workflow_uuid FROM {s}.workflow_status WHERE workflow_uuid IN {ids} AND status NOT IN {active}"
        " ORDER BY updated_at, workflow_uuid LIMIT 1"
    ).format(s=t.s, ids=id_list(t, "ids"), active=status_in(ACTIVE_STATUSES))


def workflow_states(t: Target) -> sql.Composed:
    """Rows (id, status) of each workflow of %(ids)s that exists."""
    return sql.SQL("SELECT workflow_uuid, status FROM {s}.workflow_status WHERE workflow_uuid IN {ids}").format(
        s=t.s, ids=id_list(t, "ids")
    )


#: The types enqueue's values are read as from JSON; INSERT casts them to the columns' own
#: (bigint to integer is an assignment cast). Every other column is text.
_ENQUEUE_TYPES = {"priority": "bigint", "recovery_attempts": "bigint", "workflow_timeout_ms": "bigint", "attributes": "jsonb"}


def pg_enqueue_bulk_fields(t: Target) -> tuple[str, ...]:
    """The keys of each object of ``pg_enqueue_bulk``'s %(rows)s: the row's columns, then
    ``n`` (its index), ``delay_ms`` and, on 3.x, ``inputs``."""
    columns = enqueue_columns(t)
    return (*columns, "n", "delay_ms", *(() if "inputs" in columns else ("inputs",)))


def pg_enqueue_bulk(t: Target) -> sql.Composed:
    """Postgres: ``pg_enqueue`` for many workflows in one statement. %(rows)s is a JSON array
    of objects (``pg_enqueue_bulk_fields``). Rows, in the given order: n, then what
    ``pg_enqueue`` reports (inserted, the existing row's name, class_name, config_name,
    queue_name, status, creator_xid, queue_known). Existing rows are read from the snapshot
    before the insert, as there."""
    columns = list(enqueue_columns(t))
    defs = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(f), sql.SQL(_ENQUEUE_TYPES.get(f, "bigint" if f in ("n", "delay_ms") else "text")))
        for f in pg_enqueue_bulk_fields(t)
    )
    insert_cols = list(columns)
    values: list[sql.Composable] = [sql.SQL("g.{}").format(sql.Identifier(c)) for c in columns]
    if t.ws_has("delay_until_epoch_ms"):
        insert_cols.append("delay_until_epoch_ms")
        values.append(sql.SQL("CASE WHEN g.delay_ms IS NULL THEN NULL ELSE {now} + g.delay_ms END").format(now=t.now_ms))
    inputs_cte: sql.Composable = sql.SQL("")
    if t.v3:
        inputs_cte = sql.SQL(
            ", inp AS (INSERT INTO {s}.workflow_input (workflow_uuid, inputs) SELECT g.workflow_uuid, g.inputs"
            " FROM g JOIN ins ON ins.workflow_uuid = g.workflow_uuid ON CONFLICT (workflow_uuid) DO NOTHING)"
        ).format(s=t.s)
    queue_known = (
        sql.SQL("EXISTS (SELECT 1 FROM {s}.queues AS qu WHERE qu.name = g.queue_name)").format(s=t.s)
        if t.info.has("queues", "name")
        else sql.SQL("NULL::boolean")
    )
    return sql.SQL(
        "WITH g AS (SELECT * FROM jsonb_to_recordset(%(rows)s::jsonb) AS g({defs})),"
        " ins AS (INSERT INTO {s}.workflow_status ({cols}) SELECT {vals} FROM g ORDER BY g.n"
        " ON CONFLICT (workflow_uuid) DO NOTHING RETURNING workflow_uuid){inputs_cte}"
        " SELECT g.n, ins.workflow_uuid IS NOT NULL AS inserted, e.name, e.class_name, e.config_name, e.queue_name,"
        " e.status, {creator} AS creator_xid, {queue_known} AS queue_known"
        " FROM g LEFT JOIN ins ON ins.workflow_uuid = g.workflow_uuid"
        " LEFT JOIN {s}.workflow_status AS e ON e.workflow_uuid = g.workflow_uuid ORDER BY g.n"
    ).format(
        defs=defs, s=t.s, cols=idents(insert_cols), vals=sql.SQL(", ").join(values), inputs_cte=inputs_cte,
        creator=t.opt("workflow_status", "creator_xid", "e"), queue_known=queue_known,
    )  # fmt: skip
