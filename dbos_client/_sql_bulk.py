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
from ._sql_writes import send_columns
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
