"""Every statement the client runs, composed once per detected schema. Pure: no I/O.

Each operation is a single statement, so it costs one round trip in autocommit mode
and is atomic without an explicit transaction. Columns a schema lacks are left out.
On SQLite the reads are the same statements; the writes Postgres does with
data-modifying CTEs become short scripts (``_sql_sqlite``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from psycopg import sql

from . import _sql_sqlite as lite
from ._schema import SchemaInfo
from .errors import SchemaError

if TYPE_CHECKING:
    from ._options import ListFilters

NOW_MS = sql.SQL("(extract(epoch FROM now()) * 1000)::bigint")

#: Topic stored for "no topic"; DBOS's recv(None) looks only for this value.
NULL_TOPIC = "__null__topic__"
INTERNAL_QUEUE = "_dbos_internal_queue"
STREAM_BATCH = 100


def _idents(names: list[str]) -> sql.Composed:
    return sql.SQL(", ").join(sql.Identifier(n) for n in names)


def _limit(sqlite: bool) -> sql.Composable:
    """No limit is NULL in Postgres; SQLite refuses NULL and means -1."""
    return sql.SQL("coalesce(%(limit)s, -1)" if sqlite else "%(limit)s")


class Queries:
    """The statements for one schema. Build once per client, after detection."""

    def __init__(self, info: SchemaInfo, dialect: str = "postgresql") -> None:
        self.info = info
        self._dialect = dialect
        sqlite = dialect == "sqlite"
        s = sql.Identifier(info.schema)
        ws_cols = info.columns("workflow_status")
        v3 = info.is_v3
        now_ms = lite.NOW_MS if sqlite else NOW_MS

        def cast(placeholder: str, pg_type: str) -> sql.Composable:
            """A typed placeholder; SQLite's values carry their own types."""
            return sql.SQL(placeholder if sqlite else f"{placeholder}::{pg_type}")

        def ws_has(col: str) -> bool:
            return col in ws_cols

        def opt(table: str, col: str, alias: str) -> sql.Composable:
            """A column if the schema has it, else a typed NULL, so row shapes never vary."""
            if info.has(table, col):
                return sql.SQL("{}.{}").format(sql.Identifier(alias), sql.Identifier(col))
            return sql.SQL("NULL")

        # -- enqueue -------------------------------------------------------------------
        self.enqueue_columns: list[str] = [
            "workflow_uuid", "status", "name", "class_name", "config_name", "queue_name",
            "priority", "recovery_attempts", "deduplication_id", "application_version",
            "workflow_timeout_ms", "authenticated_user", "authenticated_roles",
        ]  # fmt: skip
        for col in ("serialization", "application_name", "queue_partition_key", "creator_xid", "attributes"):
            if ws_has(col):
                self.enqueue_columns.append(col)
        if not v3:
            self.enqueue_columns.append("inputs")
        values = [sql.Placeholder(c) for c in self.enqueue_columns]
        insert_cols = list(self.enqueue_columns)
        if ws_has("delay_until_epoch_ms"):
            insert_cols.append("delay_until_epoch_ms")
            delay = cast("%(delay_ms)s", "bigint")
            values.append(sql.SQL("CASE WHEN {d} IS NULL THEN NULL ELSE {now} + {d} END").format(d=delay, now=now_ms))
        # created_at is the column's default, as the runtime's own inserts leave it. On
        # SQLite that has whole seconds when the runtime's migrations ran on Python < 3.12;
        # stamping milliseconds here would put it after a 2.x runtime's updated_at.
        inputs_cte = sql.SQL("")
        if v3:
            inputs_cte = sql.SQL(
                ", inp AS (INSERT INTO {s}.workflow_input (workflow_uuid, inputs)"
                " SELECT workflow_uuid, %(inputs)s FROM ins ON CONFLICT (workflow_uuid) DO NOTHING)"
            ).format(s=s)
        # The outer SELECT sees the snapshot from before this statement's insert, so `e`
        # is the pre-existing row when the id was taken, and NULL when we inserted.
        queue_known = (
            sql.SQL("EXISTS (SELECT 1 FROM {s}.queues WHERE name = %(queue_name)s)").format(s=s)
            if info.has("queues", "name")
            else sql.SQL("NULL::boolean")
        )
        self.enqueue: Any = sql.SQL(
            "WITH ins AS (INSERT INTO {s}.workflow_status ({cols}) VALUES ({vals})"
            " ON CONFLICT (workflow_uuid) DO NOTHING RETURNING workflow_uuid){inputs_cte}"
            " SELECT (SELECT count(*) FROM ins) > 0 AS inserted, e.name, e.class_name, e.config_name,"
            " e.queue_name, e.status, {creator} AS creator_xid, {queue_known} AS queue_known"
            " FROM (SELECT 1) AS one LEFT JOIN {s}.workflow_status AS e ON e.workflow_uuid = %(workflow_uuid)s"
        ).format(
            s=s, cols=_idents(insert_cols), vals=sql.SQL(", ").join(values), inputs_cte=inputs_cte,
            creator=opt("workflow_status", "creator_xid", "e"), queue_known=queue_known,
        )  # fmt: skip
        self.find_existing = sql.SQL(
            "SELECT name, class_name, config_name, queue_name, status, {creator} FROM {s}.workflow_status AS e"
            " WHERE workflow_uuid = %(workflow_uuid)s"
        ).format(s=s, creator=opt("workflow_status", "creator_xid", "e"))
        if sqlite:
            self.enqueue = lite.enqueue_script(
                insert=lite.render(sql.SQL(
                    "INSERT INTO {s}.workflow_status ({cols}) VALUES ({vals})"
                    " ON CONFLICT (workflow_uuid) DO NOTHING RETURNING workflow_uuid"
                ).format(s=s, cols=_idents(insert_cols), vals=sql.SQL(", ").join(values))),
                insert_inputs=lite.render(sql.SQL(
                    "INSERT INTO {s}.workflow_input (workflow_uuid, inputs) VALUES (%(workflow_uuid)s, %(inputs)s)"
                    " ON CONFLICT (workflow_uuid) DO NOTHING"
                ).format(s=s)) if v3 else None,
                find_existing=lite.render(self.find_existing),
                queue_known=lite.render(sql.SQL("SELECT {}").format(queue_known)) if info.has("queues", "name") else None,
            )  # fmt: skip
        self.find_deduplicated = sql.SQL(
            "SELECT workflow_uuid FROM {s}.workflow_status WHERE queue_name = %s AND deduplication_id = %s"
        ).format(s=s)

        # -- send ----------------------------------------------------------------------
        send_cols = ["destination_uuid", "topic", "message", "message_uuid"]
        if info.has("notifications", "serialization"):
            send_cols.append("serialization")
        self.send_has_serialization = "serialization" in send_cols
        self.send = sql.SQL(
            "INSERT INTO {s}.notifications ({cols}) VALUES ({vals}) ON CONFLICT (message_uuid) DO NOTHING"
        ).format(s=s, cols=_idents(send_cols), vals=sql.SQL(", ").join(sql.Placeholder() * len(send_cols)))

        # -- events --------------------------------------------------------------------
        # The fast path: a value that already exists costs one index lookup, nothing more.
        self.get_event_value = sql.SQL(
            "SELECT e.value, {ser} FROM {s}.workflow_events AS e WHERE e.workflow_uuid = %s AND e.key = %s"
        ).format(s=s, ser=opt("workflow_events", "serialization", "e"))
        self.get_event = sql.SQL(
            "SELECT e.value, {ser}, w.status FROM (SELECT 1) AS one"
            " LEFT JOIN {s}.workflow_events AS e ON e.workflow_uuid = %(id)s AND e.key = %(key)s"
            " LEFT JOIN {s}.workflow_status AS w ON w.workflow_uuid = %(id)s"
        ).format(s=s, ser=opt("workflow_events", "serialization", "e"))
        self.get_all_events = sql.SQL(
            "SELECT e.key, e.value, {ser} FROM {s}.workflow_status AS w"
            " LEFT JOIN {s}.workflow_events AS e ON e.workflow_uuid = w.workflow_uuid"
            " WHERE w.workflow_uuid = %s ORDER BY e.key"
        ).format(s=s, ser=opt("workflow_events", "serialization", "e"))

        # -- streams -------------------------------------------------------------------
        self.has_streams = info.has("streams")
        if self.has_streams:
            self.read_stream = sql.SQL(
                'SELECT w.status, st.value, {ser}, st."offset" FROM {s}.workflow_status AS w'
                " LEFT JOIN {s}.streams AS st ON st.workflow_uuid = w.workflow_uuid AND st.key = %(key)s"
                ' AND st."offset" >= %(offset)s AND st."offset" < %(offset)s + {batch}'
                ' WHERE w.workflow_uuid = %(id)s ORDER BY st."offset"'
            ).format(s=s, ser=opt("streams", "serialization", "st"), batch=sql.Literal(STREAM_BATCH))

        # -- the shared poller: every pending wait of a client in one statement --------
        # `notifiable` says whether what was found is something a NOTIFY announces (a value)
        # rather than something it never does (a finished workflow): only the former is a miss.
        active = sql.SQL("('ENQUEUED', 'PENDING', 'DELAYED')")
        stream_part = sql.SQL("")
        # Postgres reads parallel arrays with unnest; SQLite gets each list as JSON text
        # and pairs the lists up by their index in json_each.
        ev_src = (
            sql.SQL("(SELECT a.value AS w, b.value AS k FROM json_each(%(ew)s) AS a JOIN json_each(%(ek)s) AS b ON b.key = a.key) AS ev")
            if sqlite else sql.SQL("unnest(%(ew)s::text[], %(ek)s::text[]) AS ev(w, k)")
        )  # fmt: skip
        st_src = (
            sql.SQL("(SELECT a.value AS w, b.value AS k, c.value AS o FROM json_each(%(sw)s) AS a"
                    " JOIN json_each(%(sk)s) AS b ON b.key = a.key JOIN json_each(%(so)s) AS c ON c.key = a.key) AS st")
            if sqlite else sql.SQL("unnest(%(sw)s::text[], %(sk)s::text[], %(so)s::int[]) AS st(w, k, o)")
        )  # fmt: skip
        rs_src = sql.SQL("(SELECT value AS w FROM json_each(%(rw)s)) AS rs") if sqlite else sql.SQL("unnest(%(rw)s::text[]) AS rs(w)")
        if self.has_streams:
            stream_part = sql.SQL(
                " UNION ALL SELECT 'stream', st.w, st.k,"
                ' EXISTS (SELECT 1 FROM {s}.streams AS x WHERE x.workflow_uuid = st.w AND x.key = st.k AND x."offset" = st.o) AS notifiable'
                " FROM {st_src}"
                ' WHERE EXISTS (SELECT 1 FROM {s}.streams AS x WHERE x.workflow_uuid = st.w AND x.key = st.k AND x."offset" = st.o)'
                " OR NOT EXISTS (SELECT 1 FROM {s}.workflow_status AS w WHERE w.workflow_uuid = st.w AND w.status IN {active})"
            ).format(s=s, active=active, st_src=st_src)
        self.ready_waits = sql.SQL(
            "SELECT 'event', ev.w, ev.k,"
            " EXISTS (SELECT 1 FROM {s}.workflow_events AS e WHERE e.workflow_uuid = ev.w AND e.key = ev.k) AS notifiable"
            " FROM {ev_src}"
            " WHERE EXISTS (SELECT 1 FROM {s}.workflow_events AS e WHERE e.workflow_uuid = ev.w AND e.key = ev.k)"
            " OR EXISTS (SELECT 1 FROM {s}.workflow_status AS w WHERE w.workflow_uuid = ev.w AND w.status IN ('SUCCESS', 'ERROR'))"
            "{stream_part}"
            " UNION ALL SELECT 'result', rs.w, NULL, false FROM {rs_src}"
            " WHERE NOT EXISTS (SELECT 1 FROM {s}.workflow_status AS w WHERE w.workflow_uuid = rs.w AND w.status IN {active})"
        ).format(s=s, stream_part=stream_part, active=active, ev_src=ev_src, rs_src=rs_src)

        # -- status and result ---------------------------------------------------------
        joins = sql.SQL("")
        if v3:
            joins = sql.SQL(
                " LEFT JOIN {s}.workflow_input AS i ON i.workflow_uuid = w.workflow_uuid"
                " LEFT JOIN {s}.workflow_output AS o ON o.workflow_uuid = w.workflow_uuid"
            ).format(s=s)
        out = sql.SQL("COALESCE(o.output, w.output)") if v3 else sql.SQL("w.output")
        err = sql.SQL("COALESCE(o.error, w.error)") if v3 else sql.SQL("w.error")
        inp = sql.SQL("COALESCE(i.inputs, w.inputs)") if v3 else sql.SQL("w.inputs")
        self.status_fields = [
            "workflow_uuid", "status", "name", "class_name", "config_name", "authenticated_user",
            "assumed_role", "authenticated_roles", "created_at", "updated_at", "queue_name",
            "executor_id", "application_version", "application_id", "recovery_attempts",
            "workflow_timeout_ms", "workflow_deadline_epoch_ms", "deduplication_id", "priority",
            "queue_partition_key", "forked_from", "was_forked_from", "parent_workflow_id",
            "started_at_epoch_ms", "delay_until_epoch_ms", "completed_at", "attributes",
            "schedule_name", "application_name", "serialization",
        ]  # fmt: skip
        self.get_status = sql.SQL("SELECT {fields}, {inp}, {out}, {err} FROM {s}.workflow_status AS w{joins} WHERE w.workflow_uuid = %s").format(
            fields=sql.SQL(", ").join(opt("workflow_status", f, "w") for f in self.status_fields),
            inp=inp, out=out, err=err, s=s, joins=joins,
        )  # fmt: skip
        self.get_result = sql.SQL(
            "SELECT w.status, {out}, {err}, {ser} FROM {s}.workflow_status AS w{joins} WHERE w.workflow_uuid = %s"
        ).format(out=out, err=err, ser=opt("workflow_status", "serialization", "w"), s=s, joins=joins)
        self.exists = sql.SQL("SELECT 1 FROM {s}.workflow_status WHERE workflow_uuid = %s").format(s=s)

        # -- cancel and resume ---------------------------------------------------------
        # 3.x also clears owner_xid, so the running execution's outcome write is refused;
        # 2.x leaves it, and so do we there, to behave exactly like that runtime.
        cancel_sets = [sql.SQL("status = 'CANCELLED'"), sql.SQL("queue_name = NULL"), sql.SQL("deduplication_id = NULL"),
                       sql.SQL("started_at_epoch_ms = NULL"), sql.SQL("updated_at = {}").format(now_ms)]  # fmt: skip
        resume_sets = [sql.SQL("status = 'ENQUEUED'"), sql.SQL("queue_name = COALESCE(%(queue)s, {})").format(sql.Literal(INTERNAL_QUEUE)),
                       sql.SQL("recovery_attempts = 0"), sql.SQL("workflow_deadline_epoch_ms = NULL"),
                       sql.SQL("deduplication_id = NULL"), sql.SQL("started_at_epoch_ms = NULL"),
                       sql.SQL("updated_at = {}").format(now_ms)]  # fmt: skip
        if ws_has("completed_at"):
            cancel_sets.append(sql.SQL("completed_at = {}").format(now_ms))
            resume_sets.append(sql.SQL("completed_at = NULL"))
        if v3 and ws_has("owner_xid"):
            cancel_sets.append(sql.SQL("owner_xid = NULL"))
            resume_sets.append(sql.SQL("owner_xid = NULL"))
        # Bulk and single alike: `missing` names unknown ids, and nothing is changed then.
        children = (
            sql.SQL(" UNION SELECT c.workflow_uuid FROM {s}.workflow_status AS c JOIN target AS t ON c.parent_workflow_id = t.workflow_uuid WHERE %(children)s").format(s=s)
            if ws_has("parent_workflow_id")
            else sql.SQL("")
        )  # fmt: skip
        targets = sql.SQL(
            "WITH RECURSIVE given AS (SELECT unnest(%(ids)s::text[]) AS workflow_uuid),"
            " missing AS (SELECT g.workflow_uuid FROM given AS g WHERE NOT EXISTS"
            " (SELECT 1 FROM {s}.workflow_status AS w WHERE w.workflow_uuid = g.workflow_uuid)),"
            " target(workflow_uuid) AS (SELECT workflow_uuid FROM given{children})"
        ).format(s=s, children=children)
        only_if_all_known = sql.SQL("workflow_uuid IN (SELECT workflow_uuid FROM target) AND NOT EXISTS (SELECT 1 FROM missing)")
        self.cancel: Any = sql.SQL(
            "{targets}, upd AS (UPDATE {s}.workflow_status SET {sets} WHERE {known}"
            " AND status NOT IN ('SUCCESS', 'ERROR') RETURNING 1)"
            " SELECT ARRAY(SELECT workflow_uuid FROM missing), (SELECT count(*) FROM upd)"
        ).format(targets=targets, s=s, sets=sql.SQL(", ").join(cancel_sets), known=only_if_all_known)
        # 3.x keeps inputs, outputs and step outputs without a foreign key: delete them
        # too. In 2.x they cascade from workflow_status (as events, messages, streams do).
        payload_tables = ["workflow_input", "workflow_output", "operation_outputs"] if v3 else []
        deletes = sql.SQL("").join(
            sql.SQL(", d_{n} AS (DELETE FROM {s}.{t} WHERE {known})").format(
                n=sql.SQL(str(i)), s=s, t=sql.Identifier(t), known=only_if_all_known
            )
            for i, t in enumerate(payload_tables)
        )
        self.delete: Any = sql.SQL(
            "{targets}{deletes}, d_ws AS (DELETE FROM {s}.workflow_status WHERE {known} RETURNING 1)"
            " SELECT ARRAY(SELECT workflow_uuid FROM missing), (SELECT count(*) FROM d_ws)"
        ).format(targets=targets, deletes=deletes, s=s, known=only_if_all_known)
        self.list_steps = sql.SQL(
            "SELECT o.function_id, o.function_name, o.output, o.error, o.child_workflow_id, {started}, {completed}, {ser}"
            " FROM {s}.workflow_status AS w LEFT JOIN {s}.operation_outputs AS o ON o.workflow_uuid = w.workflow_uuid"
            " WHERE w.workflow_uuid = %(id)s ORDER BY o.function_id LIMIT {limit} OFFSET %(offset)s"
        ).format(limit=_limit(sqlite),
            s=s, started=opt("operation_outputs", "started_at_epoch_ms", "o"),
            completed=opt("operation_outputs", "completed_at_epoch_ms", "o"), ser=opt("operation_outputs", "serialization", "o"),
        )  # fmt: skip
        self._s = s
        self._opt = opt
        self._inp, self._out, self._err, self._joins = inp, out, err, joins
        self.resume: Any = sql.SQL(
            "WITH upd AS (UPDATE {s}.workflow_status SET {sets} WHERE workflow_uuid = %(id)s"
            " AND status NOT IN ('SUCCESS', 'ERROR') RETURNING 1)"
            " SELECT EXISTS (SELECT 1 FROM {s}.workflow_status WHERE workflow_uuid = %(id)s), (SELECT count(*) FROM upd)"
        ).format(s=s, sets=sql.SQL(", ").join(resume_sets))

        if sqlite:
            self._sqlite_writes(s, cancel_sets, resume_sets, children, payload_tables)

        # Rendered once: psycopg would otherwise compose every statement on every execute,
        # and a plain string also hits psycopg's parsed-query cache.
        for name, value in list(vars(self).items()):
            if not name.startswith("_") and isinstance(value, sql.Composable):
                setattr(self, name, lite.render(value) if sqlite else value.as_string(None))

    def _sqlite_writes(
        self, s: sql.Composable, cancel_sets: list[sql.Composable], resume_sets: list[sql.Composable],
        children: sql.Composable, payload_tables: list[str],
    ) -> None:  # fmt: skip
        """Cancel, delete and resume as SQLite scripts: the same rules, a statement at a time."""
        missing = lite.render(sql.SQL(
            "SELECT g.value FROM json_each(%(ids)s) AS g WHERE NOT EXISTS"
            " (SELECT 1 FROM {s}.workflow_status AS w WHERE w.workflow_uuid = g.value) ORDER BY g.key"
        ).format(s=s))  # fmt: skip
        target = sql.SQL("WITH RECURSIVE target(workflow_uuid) AS (SELECT value FROM json_each(%(ids)s){children}) ").format(
            children=children
        )
        in_target = sql.SQL("workflow_uuid IN (SELECT workflow_uuid FROM target)")
        self.cancel = lite.bulk_script("cancel", missing, [lite.render(sql.SQL(
            "{target}UPDATE {s}.workflow_status SET {sets} WHERE {in_target} AND status NOT IN ('SUCCESS', 'ERROR')"
        ).format(target=target, s=s, sets=sql.SQL(", ").join(cancel_sets), in_target=in_target))])  # fmt: skip
        self.delete = lite.bulk_script("delete", missing, [
            lite.render(sql.SQL("{target}DELETE FROM {s}.{t} WHERE {in_target}").format(
                target=target, s=s, t=sql.Identifier(t), in_target=in_target))
            for t in [*payload_tables, "workflow_status"]
        ])  # fmt: skip
        self.resume = lite.resume_script(
            update=lite.render(sql.SQL(
                "UPDATE {s}.workflow_status SET {sets} WHERE workflow_uuid = %(id)s AND status NOT IN ('SUCCESS', 'ERROR')"
            ).format(s=s, sets=sql.SQL(", ").join(resume_sets))),
            exists=lite.render(sql.SQL("SELECT EXISTS (SELECT 1 FROM {s}.workflow_status WHERE workflow_uuid = %(id)s)").format(s=s)),
        )  # fmt: skip

    def json_param(self, value: Any) -> Any:
        """A JSON document as this database stores it: jsonb in Postgres, text in SQLite."""
        if self._dialect == "sqlite":
            import json

            return None if value is None else json.dumps(value)
        from psycopg.types.json import Jsonb

        return Jsonb(value)


    def list_workflows(self, f: ListFilters) -> tuple[str, dict[str, Any]]:
        """The statement and parameters for one list_workflows call (filters vary per call)."""
        from ._options import LIST_COLUMNS, LIST_TIMES

        sqlite = self._dialect == "sqlite"
        where: list[sql.Composable] = []
        params: dict[str, Any] = {}
        for key, values in f.values.items():
            column = LIST_COLUMNS[key]
            if not self.info.has("workflow_status", column):
                raise SchemaError(f"filter {key!r} needs workflow_status.{column}, which {self.info.describe()} lacks")
            where.append(sql.SQL("w.{} {}%({})s{}").format(
                sql.Identifier(column), sql.SQL("IN (SELECT value FROM json_each(") if sqlite else sql.SQL("= ANY("),
                sql.SQL(key), sql.SQL("))" if sqlite else ")")))  # fmt: skip
            params[key] = list(values)
        for key, ms in f.times.items():
            column, op = LIST_TIMES[key]
            if not self.info.has("workflow_status", column):
                raise SchemaError(f"filter {key!r} needs workflow_status.{column}, which {self.info.describe()} lacks")
            where.append(sql.SQL("w.{} {} %({})s").format(sql.Identifier(column), sql.SQL(op), sql.SQL(key)))
            params[key] = ms
        if f.prefixes:
            # LIKE patterns: the prefixes' own % and _ are literal.
            where.append(
                sql.SQL("EXISTS (SELECT 1 FROM json_each(%(prefixes)s) AS p WHERE w.workflow_uuid LIKE p.value ESCAPE '\\')")
                if sqlite else sql.SQL("w.workflow_uuid LIKE ANY(%(prefixes)s)")
            )  # fmt: skip
            params["prefixes"] = [p.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%" for p in f.prefixes]
        for flag, (column, when_true) in {
            "was_forked_from": ("was_forked_from", "w.was_forked_from"),
            "is_fork": ("forked_from", "w.forked_from IS NOT NULL"),
            "has_parent": ("parent_workflow_id", "w.parent_workflow_id IS NOT NULL"),
        }.items():
            if flag in f.flags:
                if not self.info.has("workflow_status", column):
                    raise SchemaError(f"filter {flag!r} needs workflow_status.{column}, which {self.info.describe()} lacks")
                clause = sql.SQL(when_true)
                where.append(clause if f.flags[flag] else sql.SQL("NOT ({})").format(clause))
        if f.queues_only:
            where.append(sql.SQL("w.queue_name IS NOT NULL"))
            if "status" not in f.values:
                where.append(sql.SQL("w.status IN ('ENQUEUED', 'PENDING', 'DELAYED')"))
        fields = sql.SQL(", ").join(self._opt("workflow_status", c, "w") for c in self.status_fields)
        stmt = sql.SQL(
            "SELECT {fields}, {inp}, {out}, {err} FROM {s}.workflow_status AS w{joins}{where}"
            " ORDER BY w.created_at {order}, w.workflow_uuid {order} LIMIT {limit} OFFSET %(offset)s"
        ).format(limit=_limit(sqlite),
            fields=fields, inp=self._inp if f.load_input else sql.SQL("NULL"),
            out=self._out if f.load_output else sql.SQL("NULL"), err=self._err if f.load_output else sql.SQL("NULL"),
            s=self._s, joins=self._joins, where=sql.SQL(" WHERE ") + sql.SQL(" AND ").join(where) if where else sql.SQL(""),
            order=sql.SQL("DESC" if f.sort_desc else "ASC"),
        )  # fmt: skip
        params["limit"] = f.limit
        params["offset"] = f.offset or 0
        return (lite.render(stmt) if sqlite else stmt.as_string(None)), params
