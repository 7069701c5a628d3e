"""Every op of ``_ops``, driven by a scripted shell: rows and errors from a list. No database.

``drive`` answers each action the op yields with the next step of a script, asserting the
action's type (and, where given, its statement). A ``Transaction`` step carries its own
script for the body; what the body raises is thrown back into the op, as the shells do.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from psycopg import errors as pgerr

from dbos_client import _ops
from dbos_client._ops import Emit, Query, Subscribe, Transaction, Wait
from dbos_client._options import build_enqueue, build_list_filters
from dbos_client._schema import SchemaInfo
from dbos_client._serialization import Codec
from dbos_client._sql import NULL_TOPIC, Queries
from dbos_client._sql_sqlite import SCHEMA as MAIN
from dbos_client._wait import Check, Deadline
from dbos_client.errors import (
    DeduplicatedError,
    InvalidArgumentError,
    MaxRecoveryAttemptsExceededError,
    ResultTimeoutError,
    SchemaError,
    SerializationError,
    StreamTimeoutError,
    WorkflowCancelledError,
    WorkflowIdConflictError,
    WorkflowNotFoundError,
)
from dbos_client.models import FINAL_STATUSES
from dbos_client.models import WorkflowStatusString as S

# -- schemas ----------------------------------------------------------------------------

WS_2X = frozenset({
    "workflow_uuid", "status", "name", "authenticated_user", "assumed_role", "authenticated_roles", "output", "error",
    "executor_id", "created_at", "updated_at", "application_version", "application_id", "class_name", "config_name",
    "recovery_attempts", "queue_name", "workflow_timeout_ms", "workflow_deadline_epoch_ms", "inputs",
    "started_at_epoch_ms", "deduplication_id", "priority", "queue_partition_key", "forked_from",
})  # fmt: skip
WS_3X = WS_2X | {
    "serialization", "application_name", "creator_xid", "owner_xid", "attributes", "parent_workflow_id",
    "delay_until_epoch_ms", "completed_at", "was_forked_from", "schedule_name",
}  # fmt: skip
TABLES_2X = {
    "workflow_status": WS_2X,
    "notifications": frozenset({"destination_uuid", "topic", "message", "message_uuid"}),
    "workflow_events": frozenset({"workflow_uuid", "key", "value"}),
    "operation_outputs": frozenset({"workflow_uuid", "function_id", "output", "error"}),
    "streams": frozenset({"workflow_uuid", "key", "value", "offset"}),
}
TABLES_3X = {
    **TABLES_2X,
    "workflow_status": WS_3X,
    "notifications": TABLES_2X["notifications"] | {"serialization"},
    "workflow_input": frozenset({"workflow_uuid", "inputs"}),
    "workflow_output": frozenset({"workflow_uuid", "output", "error"}),
    "queues": frozenset({"name"}),
}

PG3 = Queries(SchemaInfo("dbos", TABLES_3X, True))
PG2 = Queries(SchemaInfo("dbos", TABLES_2X, True))
LITE3 = Queries(SchemaInfo(MAIN, TABLES_3X, False), "sqlite")
LITE2 = Queries(SchemaInfo(MAIN, TABLES_2X, False), "sqlite")
CODEC = Codec()
TAG = CODEC.default_tag


def enc(value: Any) -> str:
    return CODEC.encode(value, TAG)


# -- the scripted shell -----------------------------------------------------------------


@dataclass
class Step:
    """One expected action and its answer: rows to send back, or an exception to throw in."""

    kind: type
    answer: Any = None
    #: The statement a Query must run (a Queries attribute's text), if checked.
    statement: str | None = None
    #: For a Transaction: the body's own script.
    body: list[Step] = field(default_factory=list)


def drive(op: Any, script: list[Step], seen: list[Any] | None = None, emitted: list[Any] | None = None) -> Any:
    """Run ``op`` against ``script``; every step must be used, in order."""
    seen = [] if seen is None else seen
    steps = iter(script)
    reply: Any = None
    error: BaseException | None = None
    while True:
        try:
            action = op.throw(error) if error is not None else op.send(reply)
        except StopIteration as stop:
            left = list(steps)
            assert not left, f"the op ended with steps unused: {left}"
            return stop.value
        seen.append(action)
        step = next(steps, None)
        assert step is not None, f"unexpected extra action {action!r}"
        assert isinstance(action, step.kind), f"expected {step.kind.__name__}, got {action!r}"
        reply, error = None, None
        if isinstance(action, Query) and step.statement is not None:
            assert action.statement == step.statement
        if isinstance(action, Transaction):
            try:
                reply = drive(action.body(), step.body, seen)
            except Exception as exc:  # thrown into the op, as the shells do
                error = exc
            continue
        if isinstance(action, Emit) and emitted is not None:
            emitted.append(action.value)
        if isinstance(step.answer, BaseException):
            error = step.answer
        else:
            reply = step.answer


def unique(constraint: str | None = "uq_workflow_status_dedup_id") -> _ops.UniqueViolation:
    return _ops.UniqueViolation("UNIQUE constraint failed", constraint)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- detect_schema ------------------------------------------------------------------------


def test_detect_schema_postgres_reads_tables_then_the_migration_version() -> None:
    tables = {"workflow_status": ["workflow_uuid"], "notifications": ["message"], "workflow_events": ["key"],
              "dbos_migrations": ["version"]}  # fmt: skip
    info = drive(_ops.detect_schema("dbos", "app"), [Step(Query, (tables, True)), Step(Query, (7,))])
    assert info.schema == "dbos" and info.notifications_trigger and info.migration_version == 7


def test_detect_schema_sqlite_builds_tables_from_column_rows() -> None:
    rows = [("workflow_status", "workflow_uuid"), ("workflow_status", "status"), ("notifications", "message"),
            ("workflow_events", "key")]  # fmt: skip
    info = drive(_ops.detect_schema("ignored", "app.sqlite", dialect="sqlite"), [Step(Query, rows)])
    assert info.schema == MAIN and not info.notifications_trigger
    assert info.columns("workflow_status") == {"workflow_uuid", "status"}


def test_detect_schema_refuses_an_empty_file() -> None:
    with pytest.raises(SchemaError, match="no DBOS system database"):
        drive(_ops.detect_schema("x", "app.sqlite", dialect="sqlite"), [Step(Query, [])])


# -- enqueue ------------------------------------------------------------------------------


def request(**options: Any) -> Any:
    return build_enqueue({"workflow_name": "wf", "queue_name": "q", "workflow_id": "w1", **options}, (1,), {}, CODEC, None)


def pg_row(inserted: bool, name: Any = None, creator: Any = None, queue_known: Any = True, queue: Any = "q") -> tuple:
    return (inserted, name, None, None, queue if name else None, S.ENQUEUED if name else None, creator, queue_known)


def test_enqueue_postgres_inserts_in_one_statement() -> None:
    seen: list[Any] = []
    out = drive(_ops.enqueue(PG3, request()), [Step(Query, pg_row(True), PG3.enqueue)], seen)
    assert out == _ops.EnqueueOutcome("w1", True)
    params = seen[0].params
    assert params["workflow_uuid"] == "w1" and params["status"] == S.ENQUEUED and params["delay_ms"] is None


def test_enqueue_attaches_to_the_same_function_and_to_its_own_retry() -> None:
    req = request()
    assert drive(_ops.enqueue(PG3, req), [Step(Query, pg_row(False, "wf"))]).workflow_id == "w1"
    # Our own earlier attempt (same creator_xid) is ours even with reject.
    req = request(workflow_id_reuse_policy="reject")
    assert drive(_ops.enqueue(PG3, req), [Step(Query, pg_row(False, "wf", req.row["creator_xid"]))]).workflow_id == "w1"


def test_enqueue_refuses_another_function_or_reject() -> None:
    with pytest.raises(WorkflowIdConflictError, match="different function name: other, but the provided function name is: wf"):
        drive(_ops.enqueue(PG3, request()), [Step(Query, pg_row(False, "other"))])
    with pytest.raises(WorkflowIdConflictError, match="status ENQUEUED"):
        drive(_ops.enqueue(PG3, request(workflow_id_reuse_policy="reject")), [Step(Query, pg_row(False, "wf", "x"))])


def test_enqueue_other_queue_warns(caplog: pytest.LogCaptureFixture) -> None:
    drive(_ops.enqueue(PG3, request()), [Step(Query, pg_row(False, "wf", queue="elsewhere"))])
    assert "was not moved" in caplog.text


def test_enqueue_looks_again_when_the_id_was_taken_after_the_snapshot() -> None:
    script = [Step(Query, pg_row(False)), Step(Query, ("wf", None, None, "q", S.PENDING, None), PG3.find_existing)]
    assert drive(_ops.enqueue(PG3, request()), script).workflow_id == "w1"
    # ... and tries again if it vanished in between.
    script = [Step(Query, pg_row(False)), Step(Query, None), Step(Query, pg_row(True))]
    assert drive(_ops.enqueue(PG3, request()), script).workflow_id == "w1"


def test_enqueue_dedup_violation_raises_deduplicated() -> None:
    with pytest.raises(DeduplicatedError) as caught:
        drive(_ops.enqueue(PG3, request(deduplication_id="d")), [Step(Query, unique())])
    assert caught.value.deduplication_id == "d"  # type: ignore[attr-defined]


def test_enqueue_dedup_return_existing_answers_the_holder() -> None:
    req = request(deduplication_id="d", duplication_policy="return-existing")
    seen: list[Any] = []
    script = [Step(Query, unique("uq_workflow_status_queue_name_dedup_id")), Step(Query, ("holder",), PG3.find_deduplicated)]
    assert drive(_ops.enqueue(PG3, req), script, seen) == _ops.EnqueueOutcome("holder", None)
    assert seen[1].params == ("q", "d")
    # The holder finished in between: insert again, then it works.
    script = [Step(Query, unique()), Step(Query, None), Step(Query, pg_row(True))]
    assert drive(_ops.enqueue(PG3, req), script).workflow_id == "w1"


def test_enqueue_dedup_that_keeps_changing_hands_gives_up() -> None:
    req = request(deduplication_id="d", duplication_policy="return-existing")
    with pytest.raises(DeduplicatedError, match="kept changing hands"):
        drive(_ops.enqueue(PG3, req), [Step(Query, unique()), Step(Query, None)] * 5)


def test_enqueue_other_unique_violations_pass_through() -> None:
    with pytest.raises(_ops.UniqueViolation):
        drive(_ops.enqueue(PG3, request()), [Step(Query, unique(None))])
    exc = pgerr.UniqueViolation("duplicate key")  # psycopg's own class, no server needed
    with pytest.raises(pgerr.UniqueViolation):
        drive(_ops.enqueue(PG3, request()), [Step(Query, exc)])


def test_enqueue_delay_needs_the_column() -> None:
    with pytest.raises(InvalidArgumentError, match="DELAYED"):
        drive(_ops.enqueue(PG2, request(delay_seconds=1)), [])
    seen: list[Any] = []
    drive(_ops.enqueue(PG3, request(delay_seconds=1.5)), [Step(Query, pg_row(True))], seen)
    assert seen[0].params["delay_ms"] == 1500 and seen[0].params["status"] == S.DELAYED


def test_enqueue_sqlite_is_a_transaction_of_insert_inputs_and_queue_check() -> None:
    seen: list[Any] = []
    body = [
        Step(Query, [("w1",)], LITE3.sqlite_enqueue_insert),
        Step(Query, None, LITE3.sqlite_enqueue_inputs),
        Step(Query, (0,), LITE3.sqlite_queue_known),
    ]
    assert drive(_ops.enqueue(LITE3, request()), [Step(Transaction, body=body)], seen) == _ops.EnqueueOutcome("w1", False)
    assert [a.fetch for a in seen[1:]] == ["all", "none", "one"]
    assert isinstance(seen[2].params["inputs"], str) and seen[1].params["attributes"] == "null"  # JSON text on SQLite; no attributes is JSON null, as DBOS stores it


def test_enqueue_sqlite_existing_row_and_2x() -> None:
    body = [Step(Query, [], LITE2.sqlite_enqueue_insert), Step(Query, ("other", None, None, "q", S.SUCCESS, None), LITE2.find_existing)]
    with pytest.raises(WorkflowIdConflictError):
        drive(_ops.enqueue(LITE2, request()), [Step(Transaction, body=body)])
    body = [Step(Query, [], LITE2.sqlite_enqueue_insert), Step(Query, ("wf", None, None, "q", S.SUCCESS, None))]
    assert drive(_ops.enqueue(LITE2, request()), [Step(Transaction, body=body)]) == _ops.EnqueueOutcome("w1", None)


def test_enqueue_sqlite_dedup_violation_rolls_back_and_looks_outside() -> None:
    req = request(deduplication_id="d", duplication_policy="return-existing")
    script = [Step(Transaction, body=[Step(Query, unique())]), Step(Query, ("holder",), LITE3.find_deduplicated)]
    assert drive(_ops.enqueue(LITE3, req), script).workflow_id == "holder"
    with pytest.raises(DeduplicatedError):
        drive(_ops.enqueue(LITE3, request(deduplication_id="d")), [Step(Transaction, body=[Step(Query, unique())])])


# -- send ---------------------------------------------------------------------------------


def test_send_params_follow_the_schema() -> None:
    seen: list[Any] = []
    drive(_ops.send(PG3, "w1", "text", TAG, None, "k"), [Step(Query, None, PG3.send)], seen)
    assert seen[0].params == ["w1", NULL_TOPIC, "text", "k::w1", TAG] and seen[0].fetch == "none"
    drive(_ops.send(PG2, "w1", "text", TAG, "t", None), [Step(Query, None)], seen)
    assert len(seen[1].params) == 4 and seen[1].params[1] == "t"


@pytest.mark.parametrize("violation", [pgerr.ForeignKeyViolation("fk"), _ops.ForeignKeyViolation("FOREIGN KEY constraint failed")])
def test_send_to_an_unknown_workflow(violation: Exception) -> None:
    with pytest.raises(WorkflowNotFoundError, match="send destination"):
        drive(_ops.send(PG3, "nope", "text", TAG, None, None), [Step(Query, violation)])


# -- get_event ----------------------------------------------------------------------------


def test_get_event_value_at_once() -> None:
    assert drive(_ops.get_event(PG3, CODEC, "w1", "k", Deadline(5)), [Step(Query, (enc(41), TAG), PG3.get_event_value)]) == 41


def test_get_event_subscribes_before_the_second_read_then_waits() -> None:
    clock = FakeClock()
    seen: list[Any] = []
    script = [
        Step(Query, None), Step(Subscribe), Step(Query, (None, None, S.PENDING), PG3.get_event), Step(Wait),
        Step(Query, (enc("v"), TAG, S.PENDING)),
    ]  # fmt: skip
    assert drive(_ops.get_event(PG3, CODEC, "w1", "k", Deadline(5, clock)), script, seen) == "v"
    assert seen[1].check == Check("event", "w1", "k") and seen[3].deadline == 1005.0
    assert all(a.read_only for a in seen if isinstance(a, Query))


@pytest.mark.parametrize("status", sorted(FINAL_STATUSES))
def test_get_event_none_once_the_workflow_is_final(status: str) -> None:
    script = [Step(Query, None), Step(Subscribe), Step(Query, (None, None, status))]
    assert drive(_ops.get_event(PG3, CODEC, "w1", "k", Deadline(5)), script) is None


def test_get_event_none_at_the_deadline() -> None:
    clock = FakeClock()
    op = _ops.get_event(PG3, CODEC, "w1", "k", Deadline(5, clock))
    assert isinstance(next(op), Query)
    assert isinstance(op.send(None), Subscribe)
    assert isinstance(op.send(None), Query)
    assert isinstance(op.send((None, None, S.PENDING)), Wait)
    clock.now += 6  # the wait ended at the deadline
    assert isinstance(op.send(None), Query)
    with pytest.raises(StopIteration) as stop:
        op.send((None, None, S.PENDING))
    assert stop.value.value is None


def test_get_all_events() -> None:
    rows = [("a", enc(1), TAG), ("b", enc([2]), TAG)]
    assert drive(_ops.get_all_events(PG3, CODEC, "w1"), [Step(Query, rows, PG3.get_all_events)]) == {"a": 1, "b": [2]}
    assert drive(_ops.get_all_events(PG3, CODEC, "w1"), [Step(Query, [(None, None, None)])]) == {}
    with pytest.raises(WorkflowNotFoundError):
        drive(_ops.get_all_events(PG3, CODEC, "nope"), [Step(Query, [])])


# -- read_stream --------------------------------------------------------------------------


def stream_rows(status: str, values: list[Any], first: int = 0) -> list[tuple[Any, ...]]:
    if not values:
        return [(status, None, None, None)]
    return [(status, enc(v), TAG, first + i) for i, v in enumerate(values)]


def test_read_stream_emits_in_order_until_closed() -> None:
    from dbos_client._serialization import STREAM_CLOSED_SENTINEL as closed

    emitted: list[Any] = []
    seen: list[Any] = []
    script = [
        Step(Subscribe),
        Step(Query, stream_rows(S.PENDING, ["a", "b"]), PG3.read_stream), Step(Emit), Step(Emit),
        Step(Query, stream_rows(S.PENDING, [])), Step(Wait),
        Step(Query, stream_rows(S.PENDING, ["c", closed], first=2)), Step(Emit),
    ]  # fmt: skip
    assert drive(_ops.read_stream(PG3, CODEC, "w1", "k", 0, Deadline(None)), script, seen, emitted) is None
    assert emitted == ["a", "b", "c"]
    assert seen[5].check == Check("stream", "w1", "k", 2)


def test_read_stream_stops_at_a_gap() -> None:
    emitted: list[Any] = []
    rows = [(S.PENDING, enc("a"), TAG, 0), (S.PENDING, enc("c"), TAG, 2)]
    script = [Step(Subscribe), Step(Query, rows), Step(Emit), Step(Query, stream_rows(S.SUCCESS, [])),
              Step(Query, stream_rows(S.SUCCESS, []))]  # fmt: skip
    drive(_ops.read_stream(PG3, CODEC, "w1", "k", 0, Deadline(None)), script, emitted=emitted)
    assert emitted == ["a"]


def test_read_stream_drains_a_finished_workflow_with_one_more_read() -> None:
    emitted: list[Any] = []
    script = [
        Step(Subscribe), Step(Query, stream_rows(S.CANCELLED, [])),
        Step(Query, stream_rows(S.CANCELLED, ["late"])), Step(Emit),  # the writer was still finishing
        Step(Query, stream_rows(S.CANCELLED, [], first=1)), Step(Query, stream_rows(S.CANCELLED, [], first=1)),
    ]  # fmt: skip
    drive(_ops.read_stream(PG3, CODEC, "w1", "k", 0, Deadline(None)), script, emitted=emitted)
    assert emitted == ["late"]


def test_read_stream_timeout_and_unknown_workflow() -> None:
    clock = FakeClock()
    deadline = Deadline(0, clock)
    with pytest.raises(StreamTimeoutError) as caught:
        drive(_ops.read_stream(PG3, CODEC, "w1", "k", 3, deadline), [Step(Subscribe), Step(Query, stream_rows(S.PENDING, []))])
    assert caught.value.offset == 3  # type: ignore[attr-defined]
    with pytest.raises(WorkflowNotFoundError, match="read_stream"):
        drive(_ops.read_stream(PG3, CODEC, "nope", "k", 0, Deadline(None)), [Step(Subscribe), Step(Query, [])])


# -- get_result, get_status ---------------------------------------------------------------


def result_row(status: str, output: Any = None, error: Any = None) -> tuple[Any, ...]:
    return (status, None if output is None else enc(output), None if error is None else enc(error), TAG)


def test_get_result_success_and_error() -> None:
    script = [Step(Subscribe), Step(Query, result_row(S.SUCCESS, {"x": 1}), PG3.get_result)]
    assert drive(_ops.get_result(PG3, CODEC, "w1", Deadline(None)), script) == {"x": 1}
    with pytest.raises(KeyError, match="boom"):
        drive(_ops.get_result(PG3, CODEC, "w1", Deadline(None)), [Step(Subscribe), Step(Query, result_row(S.ERROR, error=KeyError("boom")))])
    with pytest.raises(SerializationError, match="recorded no error"):
        drive(_ops.get_result(PG3, CODEC, "w1", Deadline(None)), [Step(Subscribe), Step(Query, result_row(S.ERROR))])


@pytest.mark.parametrize(
    ("status", "error"),
    [(S.CANCELLED, WorkflowCancelledError), (S.MAX_RECOVERY_ATTEMPTS_EXCEEDED, MaxRecoveryAttemptsExceededError)],
)
def test_get_result_no_result_will_come(status: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        drive(_ops.get_result(PG3, CODEC, "w1", Deadline(None)), [Step(Subscribe), Step(Query, result_row(status))])


@pytest.mark.parametrize("status", [S.PENDING, S.ENQUEUED, S.DELAYED])
def test_get_result_waits_while_active_then_times_out(status: str) -> None:
    seen: list[Any] = []
    script = [Step(Subscribe), Step(Query, result_row(status)), Step(Wait), Step(Query, result_row(S.SUCCESS, 7))]
    assert drive(_ops.get_result(PG3, CODEC, "w1", Deadline(5)), script, seen) == 7
    assert seen[2].check == Check("result", "w1")
    with pytest.raises(ResultTimeoutError, match=f"still {status}"):
        drive(_ops.get_result(PG3, CODEC, "w1", Deadline(0)), [Step(Subscribe), Step(Query, result_row(status))])


def test_get_result_unknown_workflow() -> None:
    with pytest.raises(WorkflowNotFoundError):
        drive(_ops.get_result(PG3, CODEC, "nope", Deadline(None)), [Step(Subscribe), Step(Query, None)])


def status_row(q: Queries, **values: Any) -> tuple[Any, ...]:
    base = dict.fromkeys(q.status_fields)
    base.update(workflow_uuid="w1", status=S.SUCCESS, name="wf", serialization=TAG, was_forked_from=0)
    base.update(values)
    return (*base.values(), CODEC.encode_args((1,), {"a": 2}, TAG), enc("out"), None)


def test_get_status_decodes_the_row() -> None:
    row = status_row(PG3, authenticated_roles='["admin"]', attributes='{"k": 1}', started_at_epoch_ms=5)
    status = drive(_ops.get_status(PG3, CODEC, "w1"), [Step(Query, row, PG3.get_status)])
    assert (status.workflow_id, status.status, status.output, status.dequeued_at) == ("w1", S.SUCCESS, "out", 5)
    assert status.input == {"args": (1,), "kwargs": {"a": 2}}
    assert status.authenticated_roles == ["admin"] and status.attributes == {"k": 1} and status.was_forked_from is False
    with pytest.raises(WorkflowNotFoundError):
        drive(_ops.get_status(PG3, CODEC, "nope"), [Step(Query, None)])


def test_get_status_keeps_what_it_cannot_decode() -> None:
    row = list(status_row(PG3))
    row[-2] = "not pickle"
    assert drive(_ops.get_status(PG3, CODEC, "w1"), [Step(Query, tuple(row))]).output == "not pickle"


def test_ensure_exists() -> None:
    drive(_ops.ensure_exists(PG3, "w1"), [Step(Query, (1,), PG3.exists)])
    with pytest.raises(WorkflowNotFoundError):
        drive(_ops.ensure_exists(PG3, "nope"), [Step(Query, None)])


# -- lists --------------------------------------------------------------------------------


def test_list_workflows_decodes_each_row() -> None:
    filters = build_list_filters({"status": [S.ENQUEUED], "limit": 2})
    seen: list[Any] = []
    rows = [status_row(PG3, workflow_uuid="a"), status_row(PG3, workflow_uuid="b", status=S.ENQUEUED)]
    listed = drive(_ops.list_workflows(PG3, CODEC, filters), [Step(Query, rows)], seen)
    assert [(w.workflow_id, w.status) for w in listed] == [("a", S.SUCCESS), ("b", S.ENQUEUED)]
    assert seen[0].params["status"] == [S.ENQUEUED] and seen[0].params["limit"] == 2 and seen[0].read_only


def test_list_steps_decodes_and_skips_the_null_row() -> None:
    rows = [(1, "step", enc(3), None, None, 10, 11, TAG), (2, "bad", None, enc(ValueError("x")), "child", None, None, TAG)]
    steps = drive(_ops.list_steps(PG3, CODEC, "w1", True, None, None), [Step(Query, rows, PG3.list_steps)])
    assert steps[0] == {"function_id": 1, "function_name": "step", "output": 3, "error": None, "child_workflow_id": None,
                        "started_at_epoch_ms": 10, "completed_at_epoch_ms": 11}  # fmt: skip
    assert isinstance(steps[1]["error"], ValueError) and steps[1]["child_workflow_id"] == "child"
    assert drive(_ops.list_steps(PG3, CODEC, "w1", False, 5, 1), [Step(Query, rows)])[0]["output"] is None
    assert drive(_ops.list_steps(PG3, CODEC, "w1", True, None, None), [Step(Query, [(None,) * 8])]) == []
    with pytest.raises(WorkflowNotFoundError):
        drive(_ops.list_steps(PG3, CODEC, "nope", True, None, None), [Step(Query, [])])


# -- cancel, delete, resume ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["cancel", "delete"])
def test_bulk_write_postgres_one_statement(name: str) -> None:
    op: Callable[..., Any] = getattr(_ops, name)
    seen: list[Any] = []
    drive(op(PG3, ["a", "b"], True), [Step(Query, ([], 2), getattr(PG3, name))], seen)
    assert seen[0].params == {"ids": ["a", "b"], "children": True}
    with pytest.raises(WorkflowNotFoundError, match="'x'"):
        drive(op(PG3, ["a", "x"], False), [Step(Query, (["x"], 0))])
    with pytest.raises(WorkflowNotFoundError, match="x, y.*nothing was changed"):
        drive(op(PG3, ["x", "y"], False), [Step(Query, (["x", "y"], 0))])


def test_cancel_sqlite_checks_then_updates_in_one_transaction() -> None:
    body = [Step(Query, [], LITE3.sqlite_missing), Step(Query, None, LITE3.sqlite_cancel)]
    drive(_ops.cancel(LITE3, ["a"], False), [Step(Transaction, body=body)])
    # Unknown ids: nothing is written, and they are named.
    with pytest.raises(WorkflowNotFoundError, match="'x'"):
        drive(_ops.cancel(LITE3, ["a", "x"], False), [Step(Transaction, body=[Step(Query, [("x",)])])])


def test_delete_sqlite_deletes_payloads_then_the_status_row() -> None:
    body = [Step(Query, [], LITE3.sqlite_missing)] + [Step(Query, None, s) for s in LITE3.sqlite_delete]
    drive(_ops.delete(LITE3, ["a"], True), [Step(Transaction, body=body)])
    assert len(LITE3.sqlite_delete) == 4 and "workflow_status" in LITE3.sqlite_delete[-1]
    assert len(LITE2.sqlite_delete) == 1  # 2.x: the payloads cascade
    with pytest.raises(WorkflowNotFoundError, match="nothing was changed"):
        drive(_ops.delete(LITE2, ["x", "y"], False), [Step(Transaction, body=[Step(Query, [("x",), ("y",)])])])


def test_a_failing_transaction_body_is_thrown_into_the_op() -> None:
    busy = sqlite3.OperationalError("database is locked")
    with pytest.raises(sqlite3.OperationalError):
        drive(_ops.cancel(LITE3, ["a"], False), [Step(Transaction, body=[Step(Query, []), Step(Query, busy)])])


def test_resume_both_dialects() -> None:
    seen: list[Any] = []
    drive(_ops.resume(PG3, "w1", None), [Step(Query, (True, 1), PG3.resume)], seen)
    assert seen[0].params == {"id": "w1", "queue": None}
    drive(_ops.resume(PG3, "w1", "q"), [Step(Query, (True, 0))])  # finished: left as it is, no error
    with pytest.raises(WorkflowNotFoundError, match="resume_workflow"):
        drive(_ops.resume(PG3, "nope", None), [Step(Query, (False, 0))])
    body = [Step(Query, None, LITE3.sqlite_resume), Step(Query, (1,), LITE3.sqlite_resume_exists)]
    drive(_ops.resume(LITE3, "w1", None), [Step(Transaction, body=body)])
    with pytest.raises(WorkflowNotFoundError):
        drive(_ops.resume(LITE3, "nope", None), [Step(Transaction, body=[Step(Query, None), Step(Query, (0,))])])


# -- run_inline: the one-connection driver ------------------------------------------------


def test_run_inline_throws_database_errors_back_and_runs_nested_transactions() -> None:
    calls: list[Query] = []

    def execute(query: Query) -> Any:
        calls.append(query)
        if query.statement == "bad":
            raise _ops.ForeignKeyViolation("fk")
        return [(len(calls),)]

    def body() -> Any:
        try:
            yield Query("bad")
        except _ops.ForeignKeyViolation:
            pass
        inner = yield Transaction(lambda: (yield Query("inner")))
        return inner

    assert _ops.run_inline(body(), execute) == [(2,)]
    assert [q.statement for q in calls] == ["bad", "inner"]


def test_run_inline_refuses_waits() -> None:
    with pytest.raises(TypeError, match="Subscribe"):
        _ops.run_inline(_ops.get_result(PG3, CODEC, "w1", Deadline(None)), lambda q: None)


def test_run_inline_async() -> None:
    import asyncio

    async def execute(query: Query) -> Any:
        return (True, 1)

    asyncio.run(_ops.run_inline_async(_ops.resume(PG3, "w1", None), execute))


def test_run_inline_routes_other_errors_as_before() -> None:
    # A non-database error of a Query leaves the op it was yielded from untouched; a nested
    # body's failure (that error, or a refused action) is thrown into the enclosing op.
    seen: list[str] = []

    def execute(query: Query) -> Any:
        if query.statement == "boom":
            raise KeyError("boom")
        return "rows"

    def inner() -> Any:
        try:
            yield Query("boom")
        except KeyError:
            seen.append("inner caught it")  # never: only database errors are thrown back
        return "inner done"

    def refused() -> Any:
        yield Wait(None, None)  # type: ignore[arg-type]

    def outer() -> Any:
        for body in (inner, refused):
            try:
                yield Transaction(body)
            except (KeyError, TypeError) as exc:
                seen.append(type(exc).__name__)
        return (yield Query("after"))

    assert _ops.run_inline(outer(), execute) == "rows"
    assert seen == ["KeyError", "TypeError"]
    with pytest.raises(KeyError):
        _ops.run_inline(inner(), execute)

    import asyncio

    async def execute_async(query: Query) -> Any:
        return execute(query)

    seen.clear()
    assert asyncio.run(_ops.run_inline_async(outer(), execute_async)) == "rows"
    assert seen == ["KeyError", "TypeError"]
    with pytest.raises(KeyError):
        asyncio.run(_ops.run_inline_async(inner(), execute_async))
