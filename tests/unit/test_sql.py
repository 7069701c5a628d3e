"""Queries rendered for hand-made 3.x-like and 2.x-like schemas, and schema detection errors."""

from __future__ import annotations

import pytest
from psycopg import sql

from dbos_client import SchemaError
from dbos_client._schema import SchemaInfo, migration_version_query, parse_detection
from dbos_client._sql import INTERNAL_QUEUE, NULL_TOPIC, STREAM_BATCH, Queries

WS_2X = frozenset(
    {
        "workflow_uuid", "status", "name", "authenticated_user", "assumed_role", "authenticated_roles",
        "request", "output", "error", "executor_id", "created_at", "updated_at", "application_version",
        "application_id", "class_name", "config_name", "recovery_attempts", "queue_name",
        "workflow_timeout_ms", "workflow_deadline_epoch_ms", "inputs", "started_at_epoch_ms",
        "deduplication_id", "priority", "queue_partition_key", "forked_from",
    }
)  # fmt: skip
WS_3X = WS_2X | {
    "serialization", "application_name", "creator_xid", "owner_xid", "attributes", "parent_workflow_id",
    "delay_until_epoch_ms", "completed_at", "was_forked_from", "schedule_name",
}  # fmt: skip

TABLES_2X = {
    "workflow_status": WS_2X,
    "notifications": frozenset({"destination_uuid", "topic", "message", "created_at_epoch_ms", "message_uuid"}),
    "workflow_events": frozenset({"workflow_uuid", "key", "value"}),
    "operation_outputs": frozenset({"workflow_uuid", "function_id", "output", "error"}),
    "streams": frozenset({"workflow_uuid", "key", "value", "offset"}),
}
TABLES_3X = {
    **TABLES_2X,
    "workflow_status": WS_3X,
    "notifications": TABLES_2X["notifications"] | {"serialization"},
    "workflow_events": TABLES_2X["workflow_events"] | {"serialization"},
    "streams": TABLES_2X["streams"] | {"serialization"},
    "workflow_input": frozenset({"workflow_uuid", "inputs"}),
    "workflow_output": frozenset({"workflow_uuid", "output", "error"}),
    "queues": frozenset({"name"}),
    "dbos_migrations": frozenset({"version"}),
}

SCHEMA = "My-Schema"


def info(tables: dict, schema: str = SCHEMA) -> SchemaInfo:
    return SchemaInfo(schema=schema, tables=tables, notifications_trigger=True)


def render(stmt: object) -> str:
    # Queries renders each statement to a string once, on first use; the one-off
    # detection statements stay composable.
    return stmt.as_string(None) if isinstance(stmt, sql.Composable) else str(stmt)


@pytest.fixture(params=["3.x", "2.x"])
def queries(request: pytest.FixtureRequest) -> Queries:
    return Queries(info(TABLES_3X if request.param == "3.x" else TABLES_2X))


Q3 = Queries(info(TABLES_3X))
Q2 = Queries(info(TABLES_2X))


def statements(q: Queries) -> dict[str, str]:
    return q.statements()


def test_schema_info_generation() -> None:
    assert Q3.info.is_v3 and Q3.info.generation == "3.x"
    assert not Q2.info.is_v3 and Q2.info.generation == "2.x or older"
    assert "3.x" in Q3.info.describe() and repr(SCHEMA) in Q3.info.describe()
    assert Q3.info.has("workflow_status", "owner_xid")
    assert not Q2.info.has("workflow_status", "owner_xid")
    assert Q2.info.columns("no_such_table") == frozenset()


def test_every_statement_renders_with_the_schema_quoted(queries: Queries) -> None:
    stmts = statements(queries)
    assert {"enqueue", "send", "get_event_value", "get_event", "get_all_events", "read_stream", "get_status",
            "get_result", "cancel", "resume", "ready_waits"} <= set(stmts)  # fmt: skip
    # Every statement is pre-rendered; only the private fragments of the per-call
    # list_workflows builder stay composable.
    assert not any(isinstance(v, sql.Composable) for k, v in vars(queries).items() if not k.startswith("_"))
    for name, stmt in stmts.items():
        text = render(stmt)
        assert f'"{SCHEMA}".' in text, name
        assert f" {SCHEMA}." not in text, name


def test_identifier_quotes_are_escaped() -> None:
    q = Queries(info(TABLES_3X, schema='we"ird'))
    assert '"we""ird".workflow_status' in render(q.get_result)


def test_offset_is_quoted(queries: Queries) -> None:
    text = render(queries.read_stream)
    assert '"offset"' in text
    assert "st.offset" not in text
    assert str(STREAM_BATCH) in text


def test_workflow_input_insert_only_for_3x() -> None:
    assert f'"{SCHEMA}".workflow_input' in render(Q3.enqueue)
    assert "INSERT INTO" in render(Q3.enqueue).split("workflow_input")[0]
    assert "workflow_input" not in render(Q2.enqueue)
    assert "inputs" not in Q3.enqueue_columns
    assert "inputs" in Q2.enqueue_columns


def test_status_reads_inputs_and_outputs_from_their_tables_only_for_3x() -> None:
    assert "workflow_output" in render(Q3.get_status) and "workflow_output" in render(Q3.get_result)
    assert "workflow_input" not in render(Q2.get_status) and "workflow_output" not in render(Q2.get_result)


def test_owner_xid_is_cleared_only_for_3x() -> None:
    assert "owner_xid = NULL" in render(Q3.cancel)
    assert "owner_xid = NULL" in render(Q3.resume)
    assert "owner_xid" not in render(Q2.cancel)
    assert "owner_xid" not in render(Q2.resume)


def test_owner_xid_needs_both_3x_and_the_column() -> None:
    tables = {**TABLES_3X, "workflow_status": WS_3X - {"owner_xid"}}
    assert "owner_xid" not in render(Queries(info(tables)).cancel)
    tables = {**TABLES_2X, "workflow_status": WS_2X | {"owner_xid"}}  # a 2.x layout that has the column
    assert "owner_xid" not in render(Queries(info(tables)).cancel)


def test_optional_enqueue_columns_follow_the_schema() -> None:
    for col in ("serialization", "application_name", "creator_xid", "attributes"):
        assert col in Q3.enqueue_columns
        assert col not in Q2.enqueue_columns
    assert "delay_until_epoch_ms" in render(Q3.enqueue)
    assert "delay_until_epoch_ms" not in render(Q2.enqueue)


def test_missing_columns_read_as_null_so_row_shapes_never_vary() -> None:
    assert Q2.status_fields == Q3.status_fields
    text2 = render(Q2.get_status)
    assert "w.serialization" not in text2
    assert "NULL" in text2
    for f in ("serialization", "application_name", "completed_at", "parent_workflow_id"):
        assert f'"w"."{f}"' in render(Q3.get_status)
        assert f'"w"."{f}"' not in text2


def test_send_serialization_column_follows_the_schema() -> None:
    assert Q3.send_has_serialization
    assert not Q2.send_has_serialization
    assert "serialization" in render(Q3.send)
    assert "serialization" not in render(Q2.send)
    assert render(Q3.send).count("%s") == 5
    assert render(Q2.send).count("%s") == 4


def test_queue_known_check_only_with_a_queues_table() -> None:
    assert f'"{SCHEMA}".queues' in render(Q3.enqueue)
    assert "NULL::boolean" in render(Q2.enqueue)


def test_resume_defaults_to_the_internal_queue() -> None:
    assert f"'{INTERNAL_QUEUE}'" in render(Q3.resume)


def test_cancel_children_only_with_parent_column() -> None:
    assert "parent_workflow_id" in render(Q3.cancel)
    assert "parent_workflow_id" not in render(Q2.cancel)


def test_no_streams_table() -> None:
    tables = {k: v for k, v in TABLES_2X.items() if k != "streams"}
    q = Queries(info(tables))
    assert not q.has_streams
    assert not hasattr(q, "read_stream")


def test_constants() -> None:
    assert NULL_TOPIC == "__null__topic__"
    assert INTERNAL_QUEUE == "_dbos_internal_queue"


def test_migration_version_query() -> None:
    q = migration_version_query(info(TABLES_3X))
    assert q is not None
    assert render(q) == f'SELECT max(version) FROM "{SCHEMA}".dbos_migrations'
    assert migration_version_query(info(TABLES_2X)) is None


# -- parse_detection --------------------------------------------------------------------


def as_json(tables: dict) -> dict:
    return {name: sorted(cols) for name, cols in tables.items()}


def test_parse_detection_ok() -> None:
    parsed = parse_detection("dbos", "appdb", as_json(TABLES_3X), True)
    assert parsed.is_v3
    assert parsed.notifications_trigger is True
    assert parsed.columns("workflow_status") == WS_3X
    assert parse_detection("dbos", "appdb", as_json(TABLES_2X), False).notifications_trigger is False


@pytest.mark.parametrize("tables_json", [{}, None])
def test_parse_detection_empty(tables_json: object) -> None:
    with pytest.raises(SchemaError) as info_:
        parse_detection("dbos", "appdb", tables_json, False)
    message = str(info_.value)
    assert "'appdb'" in message
    assert "'dbos'" in message
    assert "never creates or migrates" in message
    assert info_.value.schema == "dbos"


@pytest.mark.parametrize("missing", ["workflow_status", "notifications", "workflow_events"])
def test_parse_detection_missing_tables(missing: str) -> None:
    tables = {k: v for k, v in as_json(TABLES_2X).items() if k != missing}
    with pytest.raises(SchemaError) as info_:
        parse_detection("dbos", "appdb", tables, True)
    assert missing in str(info_.value)
    assert "'appdb'" in str(info_.value)


def test_parse_detection_lists_every_missing_table() -> None:
    with pytest.raises(SchemaError, match="workflow_status, notifications, workflow_events"):
        parse_detection("dbos", "appdb", {"unrelated": ["x"]}, False)


def test_parse_detection_refuses_sharded_schemas() -> None:
    tables = as_json({**TABLES_3X, "workflow_status": WS_3X | {"shard_key"}})
    with pytest.raises(SchemaError, match="sharded"):
        parse_detection("dbos", "appdb", tables, True)


# -- SQLite ---------------------------------------------------------------------------


def test_sqlite_statements_use_no_postgres_only_syntax(queries: Queries) -> None:
    from dbos_client._sql_sqlite import SCHEMA as MAIN

    q = Queries(info(dict(queries.info.tables), schema=MAIN), "sqlite")
    for name in ("enqueue", "cancel", "delete", "resume"):
        # No data-modifying CTEs in SQLite: the op runs the sqlite_* statements in a Transaction.
        assert not hasattr(q, name), name
        assert any(k.startswith(f"sqlite_{name}") for k in statements(q)), name
    for name, text in statements(q).items():
        for postgres_only in ("unnest", "ANY(", "::", "now()", "%s", "%("):
            assert postgres_only not in text, (name, postgres_only)
        assert '"main".' in text, name
    listed, params = q.list_workflows(_filters(status=["SUCCESS"], workflow_id_prefix="a_%"))
    assert "json_each(:status)" in listed and "ESCAPE '\\'" in listed and "coalesce(:limit, -1)" in listed
    assert params["prefixes"] == ["a\\_\\%%"]


def _filters(**given: object) -> object:
    from dbos_client._options import build_list_filters

    return build_list_filters(given)


def test_sqlite_render_and_bind() -> None:
    from dbos_client._sql_sqlite import bind, render

    assert render("a = %s AND b = %(name)s AND c LIKE 'x%%'") == "a = ? AND b = :name AND c LIKE 'x%'"
    assert bind({"ids": ["a", "b"], "n": 1}) == {"ids": '["a", "b"]', "n": 1}
    assert bind(("w", ["k"])) == ["w", '["k"]']
    assert bind(None) == ()
