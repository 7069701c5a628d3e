"""read_stream_offset, workflow attributes, otel_context, set_workflow_delay, resume_workflows:
validation (DBOS's rules and messages), the statements, and the ops. No database."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from test_ops import CODEC, LITE2, LITE3, PG2, PG3, TAG, Step, drive, enc, stream_rows
from test_options import build, with_

from dbos_client import _calls, _ops
from dbos_client._calls import ClientCore
from dbos_client._ops import Emit, Query, Subscribe, Transaction, Wait
from dbos_client._options import build_list_filters
from dbos_client._otel import OTEL_CARRIER_ATTRIBUTE, attributes_with_otel_context
from dbos_client._serialization import STREAM_CLOSED_SENTINEL, Codec
from dbos_client._wait import Deadline
from dbos_client.errors import InvalidArgumentError, SchemaError, StreamTimeoutError, WorkflowNotFoundError
from dbos_client.models import WorkflowStatusString as S

CORE = ClientCore(codec=Codec(), schema_name="dbos", database="db", application_name=None)

TRACE_ID = 0x0AF7651916CD43DD8448EB211C80319C
SPAN_ID = 0xB7AD6B7169203331


def span_context(trace_id: int = TRACE_ID, span_id: int = SPAN_ID, state: Any = None) -> Any:
    """An OpenTelemetry Context whose current span is valid (no SDK needed)."""
    from opentelemetry import trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    ctx = SpanContext(trace_id, span_id, is_remote=False, trace_flags=TraceFlags(1), trace_state=state)
    return trace.set_span_in_context(NonRecordingSpan(ctx))


# -- otel_context ---------------------------------------------------------------------------


def test_otel_context_stores_the_w3c_traceparent_beside_the_attributes() -> None:
    req = build(with_(attributes={"customer": "acme"}, otel_context=span_context()))
    assert req.row["attributes"] == {
        "customer": "acme",
        OTEL_CARRIER_ATTRIBUTE: {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
    }


def test_otel_context_carries_tracestate_but_never_baggage() -> None:
    from opentelemetry import baggage
    from opentelemetry.trace import TraceState

    ctx = baggage.set_baggage("user", "secret", span_context(state=TraceState([("vendor", "x")])))
    carrier = build(with_(otel_context=ctx)).row["attributes"][OTEL_CARRIER_ATTRIBUTE]
    assert carrier == {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "tracestate": "vendor=x"}


def test_otel_context_without_a_valid_span_records_nothing() -> None:
    from opentelemetry import context as otel

    assert build(with_(otel_context=otel.Context())).row["attributes"] is None
    assert build(with_(otel_context=otel.get_current(), attributes={"a": 1})).row["attributes"] == {"a": 1}


def test_the_carrier_wins_over_a_hand_written_one() -> None:
    attributes = {OTEL_CARRIER_ATTRIBUTE: {"traceparent": "forged"}, "k": "v"}
    merged = attributes_with_otel_context(attributes, span_context())
    assert merged is not None and merged["k"] == "v"
    assert merged[OTEL_CARRIER_ATTRIBUTE]["traceparent"].startswith("00-0af76519")
    assert attributes[OTEL_CARRIER_ATTRIBUTE] == {"traceparent": "forged"}  # the caller's dict is not changed


@pytest.mark.parametrize("bad", [{"traceparent": "00-abc"}, "00-abc", 42], ids=repr)
def test_otel_context_must_be_a_context(bad: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="otel_context must be an opentelemetry.context.Context"):
        build(with_(otel_context=bad))


def test_otel_context_without_opentelemetry_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("opentelemetry", "opentelemetry.context", "opentelemetry.trace.propagation.tracecontext"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(InvalidArgumentError, match=r"dbos-client\[otel\]"):
        build(with_(otel_context=object()))
    assert build(with_(attributes={"a": 1})).row["attributes"] == {"a": 1}  # no otel_context: no import


def test_the_package_never_imports_opentelemetry_unless_asked() -> None:
    code = (
        "import sys, dbos_client\n"
        "from dbos_client._options import build_enqueue\n"
        "from dbos_client._serialization import Codec\n"
        "build_enqueue({'workflow_name': 'w', 'queue_name': 'q', 'attributes': {'a': 1}}, (), {}, Codec(), None)\n"
        "assert not any(m.startswith('opentelemetry') for m in sys.modules), 'imported opentelemetry'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- enqueue: DBOS's messages ---------------------------------------------------------------


@pytest.mark.parametrize(
    "options, message",
    [
        (with_(workflow_id_reuse_policy="bogus"), "Invalid workflow_id_reuse_policy bogus. Must be either 'return-existing' or 'reject'."),
        (with_(duplication_policy="bogus"), "Invalid duplication_policy bogus. Must be either 'reject' or 'return-existing'."),
        (with_(duplication_policy="return-existing"), "duplication_policy 'return-existing' requires a deduplication_id."),
        (with_(attributes=[1]), "Attributes must be a dict."),
        (with_(attributes={"t": object()}), "Attributes must be JSON-serializable"),
    ],
)  # fmt: skip
def test_policy_and_attribute_errors_say_what_dbos_says(options: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        build(options)
    assert message in str(caught.value)


def test_policies_and_auth_reach_the_request() -> None:
    req = build(with_(
        workflow_id_reuse_policy="reject", deduplication_id="d", duplication_policy="return-existing",
        authenticated_user="alice", authenticated_roles=["admin", "ops"],
    ))  # fmt: skip
    assert req.reject_existing_id and req.return_existing_on_dedup
    assert req.row["authenticated_user"] == "alice"
    assert req.row["authenticated_roles"] == json.dumps(["admin", "ops"])  # as DBOS: json.dumps of the list
    assert build(with_(authenticated_roles=[])).row["authenticated_roles"] is None  # as DBOS: empty is NULL
    plain = build()
    assert not plain.reject_existing_id and not plain.return_existing_on_dedup


def test_attributes_need_the_column_on_old_schemas() -> None:
    with pytest.raises(SchemaError, match="workflow_status.attributes"):
        drive(_ops.enqueue(PG2, build(with_(attributes={"a": 1}))), [])
    with pytest.raises(SchemaError, match="otel_context"):
        drive(_ops.enqueue(LITE2, build(with_(otel_context=span_context()))), [])


# -- list_workflows(attributes=...) -----------------------------------------------------------


def test_attributes_filter_is_jsonb_containment_on_postgres() -> None:
    statement, params = PG3.list_workflows(build_list_filters({"attributes": {"n": 2, "tags": ["a"]}}))
    assert "w.attributes @> %(attributes)s::jsonb" in statement
    assert json.loads(params["attributes"]) == {"n": 2, "tags": ["a"]}
    statement, params = PG3.list_workflows(build_list_filters({"attributes": {}}))  # as DBOS: empty filters nothing
    assert "attributes @>" not in statement and "attributes" not in params


def test_attributes_filter_is_refused_where_dbos_refuses_it() -> None:
    with pytest.raises(InvalidArgumentError, match="not supported on SQLite"):
        LITE3.list_workflows(build_list_filters({"attributes": {"n": 2}}))
    with pytest.raises(SchemaError, match="attributes"):
        PG2.list_workflows(build_list_filters({"attributes": {"n": 2}}))
    with pytest.raises(InvalidArgumentError, match="must be a dict"):
        build_list_filters({"attributes": "n=2"})


# -- update_workflow_attributes -----------------------------------------------------------------


def test_update_attributes_validation() -> None:
    with pytest.raises(InvalidArgumentError, match="Cannot merge None into workflow attributes"):
        _calls.update_attributes(CORE, "w", None, True)
    with pytest.raises(InvalidArgumentError, match="must be a dict"):
        _calls.update_attributes(CORE, "w", ["a"], False)
    with pytest.raises(InvalidArgumentError, match="JSON-serializable"):
        _calls.update_attributes(CORE, "w", {"a": {1, 2}}, False)
    with pytest.raises(InvalidArgumentError, match="workflow_id"):
        _calls.update_attributes(CORE, "", {"a": 1}, False)


def test_update_attributes_statements() -> None:
    text, params = PG3.update_attributes("w", None, False)
    assert "SET attributes = %(attributes)s::jsonb" in text and params == {"attributes": "null", "id": "w"}
    text, params = PG3.update_attributes("w", {"count": 1}, True)
    assert "jsonb_typeof(attributes) = 'object'" in text and "|| %(attributes)s::jsonb" in text
    text, params = LITE3.update_attributes("w", {"count": 1, 'we"ird': [1]}, True)
    assert text.count("json_set(") == 1 and "json(:v0)" in text and "json(:v1)" in text
    assert params == {"k0": '$."count"', "v0": "1", "k1": '$."we\\"ird"', "v1": "[1]", "id": "w"}
    many = {f"k{i}": i for i in range(120)}
    text, params = LITE3.update_attributes("w", many, True)
    assert text.count("json_set(") == 3 and len(params) == 241  # 50 pairs per json_set, nested
    with pytest.raises(SchemaError, match="update_workflow_attributes"):
        PG2.update_attributes("w", {"a": 1}, False)


def test_update_attributes_op_names_an_unknown_workflow() -> None:
    assert drive(_ops.update_attributes(PG3, "w", {"a": 1}, False), [Step(Query, [(1,)])]) is None
    with pytest.raises(WorkflowNotFoundError, match="update_workflow_attributes"):
        drive(_ops.update_attributes(LITE3, "w", {"a": 1}, True), [Step(Query, [])])


def test_sqlite_merge_matches_dbos_on_a_real_sqlite() -> None:
    import sqlite3

    conn = sqlite3.connect(":memory:")
    conn.execute('CREATE TABLE "main".workflow_status (workflow_uuid TEXT, attributes TEXT, updated_at INTEGER)')
    conn.execute("INSERT INTO workflow_status VALUES ('w', '{\"source\": \"updated\"}', 0), ('n', 'null', 0)")
    for wid in ("w", "n"):
        text, params = LITE3.update_attributes(wid, {"count": 1, "nested": {"x": [1, None]}}, True)
        assert conn.execute(text, params).fetchall() == [(1,)]
    rows = dict(conn.execute("SELECT workflow_uuid, attributes FROM workflow_status").fetchall())
    # What DBOS's json_set leaves: minified text, existing keys kept, a non-object replaced by {}.
    assert rows == {"w": '{"source":"updated","count":1,"nested":{"x":[1,null]}}', "n": '{"count":1,"nested":{"x":[1,null]}}'}


# -- set_workflow_delay -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "delay_seconds, until, message",
    [
        (1, 5, "Specify either delay_seconds or delay_until_epoch_ms, not both"),
        (None, None, "Must specify either delay_seconds or delay_until_epoch_ms"),
        (-1, None, "delay_seconds must be >= 0"),
        (None, -1, "delay_until_epoch_ms must be >= 0"),
        ("soon", None, "delay_seconds"),
        (None, 1.5, "delay_until_epoch_ms must be an integer"),
    ],
)
def test_set_delay_validation(delay_seconds: Any, until: Any, message: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        _calls.set_delay(CORE, "w", delay_seconds, until)
    assert message in str(caught.value)


def test_set_delay_touches_only_delayed_workflows() -> None:
    assert "status = 'DELAYED'" in PG3.set_delay and "COALESCE(%(until_ms)s::bigint" in PG3.set_delay
    assert "status = 'DELAYED'" in LITE3.sqlite_set_delay
    seen: list[Any] = []
    drive(_ops.set_delay(PG3, "w", 2500, None), [Step(Query, (True, 0), PG3.set_delay)], seen)
    assert seen[0].params == {"id": "w", "delay_ms": 2500, "until_ms": None}
    with pytest.raises(WorkflowNotFoundError, match="set_workflow_delay"):
        drive(_ops.set_delay(LITE3, "w", None, 5), [Step(Transaction, body=[Step(Query), Step(Query, (0,))])])


def test_set_delay_needs_a_delayed_status() -> None:
    old = type(PG3)(type(PG3.info)(PG3.info.schema, {**PG3.info.tables, "workflow_status": PG2.info.columns("workflow_status")}, True))
    with pytest.raises(SchemaError, match="delay_until_epoch_ms"):
        old.set_delay  # noqa: B018


# -- resume_workflows ---------------------------------------------------------------------------


def test_resume_many_is_all_or_nothing() -> None:
    assert "NOT EXISTS (SELECT 1 FROM missing)" in PG3.resume_many
    assert drive(_ops.resume_many(PG3, ["a", "b"], None), [Step(Query, ([], 2), PG3.resume_many)]) is None
    with pytest.raises(WorkflowNotFoundError, match="b"):
        drive(_ops.resume_many(PG3, ["a", "b"], "q"), [Step(Query, (["b"], 0))])
    body = [Step(Query, [], LITE3.sqlite_missing), Step(Query, None, LITE3.sqlite_resume_many)]
    assert drive(_ops.resume_many(LITE3, ["a"], None), [Step(Transaction, body=body)]) is None
    with pytest.raises(InvalidArgumentError, match="workflow_ids"):
        _calls.resume_many(CORE, "a", None)


# -- read_stream_offset ---------------------------------------------------------------------------


def offset_op(offset: int, deadline: Deadline | None = None) -> Any:
    return _ops.read_stream_offset(PG3, CODEC, "w1", "k", offset, deadline or Deadline(None))


def test_read_stream_offset_returns_the_one_value() -> None:
    script = [Step(Subscribe), Step(Query, [(S.PENDING, enc("v1"), TAG, 1), (S.PENDING, enc("v2"), TAG, 2)])]
    seen: list[Any] = []
    assert drive(offset_op(1), script, seen) == "v1"
    assert seen[1].params["offset"] == 1
    assert not any(isinstance(a, Emit) for a in seen)


def test_read_stream_offset_waits_for_the_value() -> None:
    script = [Step(Subscribe), Step(Query, stream_rows(S.PENDING, [])), Step(Wait), Step(Query, stream_rows(S.PENDING, ["x"], 3))]
    assert drive(offset_op(3), script) == "x"


def test_read_stream_offset_past_the_end_of_a_finished_stream_raises_at_once() -> None:
    closed = [Step(Subscribe), Step(Query, stream_rows(S.PENDING, [STREAM_CLOSED_SENTINEL], 2))]
    with pytest.raises(StreamTimeoutError, match="ended before offset 2") as caught:
        drive(offset_op(2, Deadline(30)), closed)
    assert caught.value.offset == 2  # type: ignore[attr-defined]
    finished = [Step(Subscribe), Step(Query, stream_rows(S.SUCCESS, [])), Step(Query, stream_rows(S.SUCCESS, []))]
    with pytest.raises(StreamTimeoutError):
        drive(offset_op(5), finished)


def test_read_stream_offset_validation() -> None:
    with pytest.raises(InvalidArgumentError, match="offset"):
        _calls.read_stream_offset(CORE, "w", "k", -1, None, None)
    with pytest.raises(InvalidArgumentError, match="timeout_seconds"):
        _calls.read_stream_offset(CORE, "w", "k", 0, -1, None)
    with pytest.raises(InvalidArgumentError, match="polling_interval_sec"):
        _calls.read_stream_offset(CORE, "w", "k", 0, None, 0)


# -- the public surface -------------------------------------------------------------------------

NEW_CALLS = ("read_stream_offset", "update_workflow_attributes", "set_workflow_delay", "resume_workflows")


@pytest.mark.parametrize("name", NEW_CALLS)
def test_every_new_call_is_on_both_clients_with_dbos_async_twin(name: str) -> None:
    import inspect

    from dbos_client import AsyncDBOSClient, DBOSClient

    assert not inspect.iscoroutinefunction(getattr(DBOSClient, name))
    assert inspect.iscoroutinefunction(getattr(DBOSClient, f"{name}_async"))
    assert inspect.iscoroutinefunction(getattr(AsyncDBOSClient, name))
    assert inspect.iscoroutinefunction(DBOSClient.check_connection_async)
    ours = inspect.signature(getattr(DBOSClient, name)).parameters
    twin = inspect.signature(getattr(DBOSClient, f"{name}_async")).parameters
    assert list(ours) == list(twin)
