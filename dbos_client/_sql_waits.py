"""The shared poller's statement: every pending wait of a client, checked in one read. Pure.

Parameters: ``ew``/``ek`` (event waits' workflow ids and keys), ``sw``/``sk``/``so``
(stream waits' ids, keys and next offsets), ``rw`` (result waits' ids). Rows:
``(kind, workflow_id, key, notifiable)`` for each wait that is ready. ``fw`` (the
workflows of ``wait_first``/``wait_all`` waits) gives a ``'first'`` row for each of
them that exists and has finished. ``notifiable``
says whether what was found is something a NOTIFY announces (a value) rather than
something it never does (a finished workflow): only the former is a missed notification.
"""

from __future__ import annotations

from psycopg import sql

from ._sql_common import Target, status_in
from .models import ACTIVE_STATUSES, FINAL_STATUSES


def _sources(t: Target) -> tuple[sql.Composable, sql.Composable, sql.Composable]:
    """The waits as rows. Postgres reads parallel arrays with unnest; SQLite gets each
    list as JSON text and pairs the lists up by their index in json_each."""
    if t.sqlite:
        return (
            sql.SQL("(SELECT a.value AS w, b.value AS k FROM json_each(%(ew)s) AS a JOIN json_each(%(ek)s) AS b ON b.key = a.key) AS ev"),
            sql.SQL("(SELECT a.value AS w, b.value AS k, c.value AS o FROM json_each(%(sw)s) AS a"
                    " JOIN json_each(%(sk)s) AS b ON b.key = a.key JOIN json_each(%(so)s) AS c ON c.key = a.key) AS st"),
            sql.SQL("(SELECT value AS w FROM json_each(%(rw)s)) AS rs"),
        )  # fmt: skip
    return (
        sql.SQL("unnest(%(ew)s::text[], %(ek)s::text[]) AS ev(w, k)"),
        sql.SQL("unnest(%(sw)s::text[], %(sk)s::text[], %(so)s::int[]) AS st(w, k, o)"),
        sql.SQL("unnest(%(rw)s::text[]) AS rs(w)"),
    )


def ready_waits(t: Target) -> sql.Composed:
    s = t.s
    active = status_in(ACTIVE_STATUSES)
    ev_src, st_src, rs_src = _sources(t)
    stream_part: sql.Composable = sql.SQL("")
    if t.info.has("streams"):
        stream_part = sql.SQL(
            " UNION ALL SELECT 'stream', st.w, st.k,"
            ' EXISTS (SELECT 1 FROM {s}.streams AS x WHERE x.workflow_uuid = st.w AND x.key = st.k AND x."offset" = st.o) AS notifiable'
            " FROM {st_src}"
            ' WHERE EXISTS (SELECT 1 FROM {s}.streams AS x WHERE x.workflow_uuid = st.w AND x.key = st.k AND x."offset" = st.o)'
            " OR NOT EXISTS (SELECT 1 FROM {s}.workflow_status AS w WHERE w.workflow_uuid = st.w AND w.status IN {active})"
        ).format(s=s, active=active, st_src=st_src)
    return sql.SQL(
        "SELECT 'event', ev.w, ev.k,"
        " EXISTS (SELECT 1 FROM {s}.workflow_events AS e WHERE e.workflow_uuid = ev.w AND e.key = ev.k) AS notifiable"
        " FROM {ev_src}"
        " WHERE EXISTS (SELECT 1 FROM {s}.workflow_events AS e WHERE e.workflow_uuid = ev.w AND e.key = ev.k)"
        " OR EXISTS (SELECT 1 FROM {s}.workflow_status AS w WHERE w.workflow_uuid = ev.w AND w.status IN {final})"
        "{stream_part}"
        " UNION ALL SELECT 'result', rs.w, NULL, false FROM {rs_src}"
        " WHERE NOT EXISTS (SELECT 1 FROM {s}.workflow_status AS w WHERE w.workflow_uuid = rs.w AND w.status IN {active})"
        " UNION ALL SELECT 'first', f.workflow_uuid, NULL, false FROM {s}.workflow_status AS f"
        " WHERE f.workflow_uuid IN {fw_src} AND f.status NOT IN {active}"
    ).format(
        s=s, stream_part=stream_part, active=active, final=status_in(FINAL_STATUSES), ev_src=ev_src, rs_src=rs_src,
        fw_src=_first_source(t),
    )


def _first_source(t: Target) -> sql.Composable:
    """The ids of the ``first`` waits, as a list ``IN`` can take (an index lookup each)."""
    if t.sqlite:
        return sql.SQL("(SELECT value FROM json_each(%(fw)s))")
    return sql.SQL("(SELECT unnest(%(fw)s::text[]))")
