"""The operator's calls (queues, fork/rewind, application versions, rename): eager validation,
the ops driven by a scripted shell, and the statements each schema gets. No database."""

from __future__ import annotations

from typing import Any

import pytest
from test_ops import Step, drive, unique

from dbos_client import _calls_operator as calls
from dbos_client import _ops_operator as ops
from dbos_client import _sql_operator as so
from dbos_client._calls import ClientCore
from dbos_client._ops import NeedQueries, Query, Transaction
from dbos_client._schema import SchemaInfo
from dbos_client._serialization import Codec
from dbos_client._sql import Queries
from dbos_client._sql_common import Target
from dbos_client._sql_sqlite import SCHEMA as MAIN
from dbos_client.errors import (
    ApplicationVersionNotFoundError,
    InvalidArgumentError,
    NameConflictError,
    SchemaError,
    WorkflowIdConflictError,
    WorkflowNotFoundError,
    WorkflowStateError,
)
from dbos_client.models import Queue

WS_2X = frozenset({
    "workflow_uuid", "status", "name", "class_name", "config_name", "authenticated_user", "assumed_role",
    "authenticated_roles", "output", "error", "created_at", "updated_at", "application_version", "application_id",
    "queue_name", "workflow_timeout_ms", "inputs", "queue_partition_key", "forked_from", "was_forked_from",
    "serialization", "attributes", "application_name", "deduplication_id", "started_at_epoch_ms",
    "recovery_attempts", "workflow_deadline_epoch_ms", "owner_xid", "completed_at",
})  # fmt: skip
QUEUES = frozenset(so.QUEUE_FIELDS) | {"queue_id", "priority_enabled", "partition_queue", "created_at", "updated_at"}
TABLES_2X: dict[str, frozenset[str]] = {
    "workflow_status": WS_2X,
    "notifications": frozenset({"destination_uuid", "topic", "message", "message_uuid", "consumed"}),
    "workflow_events": frozenset({"workflow_uuid", "key", "value", "serialization"}),
    "workflow_events_history": frozenset({"workflow_uuid", "key", "value", "function_id", "serialization"}),
    "operation_outputs": frozenset({
        "workflow_uuid", "function_id", "function_name", "output", "error", "child_workflow_id",
        "started_at_epoch_ms", "completed_at_epoch_ms", "serialization", "application_name",
    }),  # fmt: skip
    "streams": frozenset({"workflow_uuid", "key", "value", "offset", "function_id", "serialization"}),
    "queues": QUEUES,
    "application_versions": frozenset(so.VERSION_FIELDS),
    "workflow_schedules": frozenset({"schedule_name", "application_name"}),
}
TABLES_3X = {
    **TABLES_2X,
    "workflow_status": WS_2X | {"creator_xid"},
    "notifications": TABLES_2X["notifications"] | {"consumed_by_function_id"},
    "operation_outputs": TABLES_2X["operation_outputs"] | {"retention_timestamp"},
    "workflow_input": frozenset({"workflow_uuid", "inputs", "retention_timestamp"}),
    "workflow_output": frozenset({"workflow_uuid", "output", "error", "retention_timestamp"}),
}
OLD = {t: c for t, c in TABLES_2X.items() if t not in ("queues", "application_versions")}
PG3 = Queries(SchemaInfo("dbos", TABLES_3X, True))
PG2 = Queries(SchemaInfo("dbos", TABLES_2X, True))
LITE3 = Queries(SchemaInfo(MAIN, TABLES_3X, False), "sqlite")
PG_OLD = Queries(SchemaInfo("dbos", OLD, True))
CORE = ClientCore(Codec(), "dbos", "app", None)
NAMED = ClientCore(Codec(), "dbos", "app", "billing")
QUEUE_ROW = ("q", 4, 2, 5, 1.5, None, None, None, None, 0.5, None)


def with_queries(op: Any, q: Queries, script: list[Step]) -> Any:
    return drive(op, [Step(NeedQueries, q), *script])


# -- validation: before anything is written ---------------------------------------------


def register(**kw: Any) -> Any:
    args: dict[str, Any] = {
        "global_concurrency": None, "partition_concurrency": None, "partition_worker_concurrency": None,
        "partition_limiter": None, "limiter": None, "worker_concurrency": None, "polling_interval_sec": 1.0,
        "on_conflict": "always_update", "application_name": None, "concurrency": None,
    }  # fmt: skip
    name = kw.pop("name", "q")
    args.update(kw)
    return calls.register_queue(CORE, name, **args)


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"name": "_dbos_mine"}, "reserved"),
        ({"name": ""}, "name"),
        ({"concurrency": 1, "global_concurrency": 2}, "set only one"),
        ({"global_concurrency": 1, "worker_concurrency": 2}, "worker_concurrency"),
        ({"partition_concurrency": 0}, "partition_concurrency"),
        ({"partition_concurrency": 1, "partition_worker_concurrency": 2}, "partition_worker_concurrency"),
        ({"global_concurrency": 1, "partition_concurrency": 2}, "partition_concurrency"),
        ({"polling_interval_sec": 0}, "positive"),
        ({"limiter": {"limit": 5}}, "'limit' and 'period'"),
        ({"partition_limiter": {"period": 1.0}}, "'limit' and 'period'"),
        ({"concurrency": "4"}, "concurrency"),
        ({"on_conflict": "update_if_latest_version"}, "clients are not associated"),
        ({"on_conflict": "sometimes"}, "on_conflict"),
    ],
)
def test_register_queue_refuses_bad_settings(kw: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        register(**kw)


def fork(**kw: Any) -> Any:
    args: dict[str, Any] = {
        "application_version": None, "queue_name": None, "queue_partition_key": None, "replacement_children": None,
        "timeout_seconds": None, "shard_key": None, "forked_workflow_id": None,
    }  # fmt: skip
    workflow_id, start_step = kw.pop("workflow_id", "wf"), kw.pop("start_step", 2)
    args.update(kw)
    return calls.fork(CORE, workflow_id, start_step, **args)


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"start_step": "2"}, "start_step"),
        ({"start_step": True}, "start_step"),
        ({"timeout_seconds": 0}, "Timeouts must be positive"),
        ({"shard_key": "k"}, "shard_key"),
        ({"replacement_children": ["a"]}, "replacement_children"),
        ({"workflow_id": ""}, "workflow_id"),
    ],
)
def test_fork_refuses_bad_arguments(kw: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        fork(**kw)


@pytest.mark.parametrize(
    "args, match",
    [
        ((None, "new-app", 10, False), "Nothing to re-own"),
        (("", "new-app", 10, False), "cannot be empty"),
        (("old", "New App", 10, False), "Invalid application name"),
        (("old", "ab", 10, False), "Invalid application name"),
        (("same", "same", 10, False), "already holds that name"),
        (("old", "new-app", 0, False), "batch_size"),
    ],
)
def test_rename_refuses_bad_arguments(args: tuple[Any, ...], match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        calls.rename(CORE, *args)


def test_rewind_and_list_queues_check_arguments() -> None:
    base = {"application_version": None, "queue_name": None, "queue_partition_key": None, "shard_key": None}
    with pytest.raises(InvalidArgumentError, match="start_step must be >= 1"):
        calls.rewind(CORE, "wf", start_step=0, **base)
    with pytest.raises(InvalidArgumentError, match="application_name"):
        calls.list_queues(CORE, 3)


# -- queues -----------------------------------------------------------------------------


def test_register_queue_upserts_and_reads_back_in_one_transaction() -> None:
    op = register(global_concurrency=4, worker_concurrency=2, limiter={"limit": 5, "period": 1.5}, polling_interval_sec=0.5)
    oq = ops.operator_queries(PG3)
    seen: list[Any] = []
    queue = drive(op, [Step(NeedQueries, PG3), Step(Transaction, body=[
        Step(Query, None, oq.queue_owner), Step(Query, None), Step(Query, QUEUE_ROW, oq.get_queue),
    ])], seen)  # fmt: skip
    assert queue == Queue("q", 4, 2, {"limit": 5, "period": 1.5}, polling_interval_sec=0.5)
    upsert = seen[3]
    assert "ON CONFLICT (name) DO UPDATE" in upsert.statement
    assert upsert.params["concurrency"] == 4 and upsert.params["priority_enabled"] is True
    assert upsert.params["application_name"] is None and upsert.params["partition_queue"] is False


def test_register_queue_refuses_another_applications_name() -> None:
    op = calls.register_queue(
        NAMED, "q", global_concurrency=None, partition_concurrency=None, partition_worker_concurrency=None,
        partition_limiter=None, limiter=None, worker_concurrency=None, polling_interval_sec=1.0,
        on_conflict="never_update", application_name=None, concurrency=None,
    )  # fmt: skip
    with pytest.raises(NameConflictError, match="already registered by application 'payroll'"):
        with_queries(op, PG3, [Step(Transaction, body=[Step(Query, ("payroll",))])])


def test_queues_need_the_queues_table() -> None:
    with pytest.raises(SchemaError, match="table queues"):
        with_queries(calls.retrieve_queue(CORE, "q"), PG_OLD, [])


def test_list_queues_scopes_to_the_client_application_by_default() -> None:
    seen: list[Any] = []
    drive(calls.list_queues(NAMED, None), [Step(NeedQueries, PG3), Step(Query, [QUEUE_ROW])], seen)
    assert seen[1].params == {"all": False, "names": ["billing"]}
    seen.clear()
    drive(calls.list_queues(CORE, None), [Step(NeedQueries, PG3), Step(Query, [])], seen)
    assert seen[1].params == {"all": True, "names": []}


# -- fork -------------------------------------------------------------------------------


def test_fork_copies_everything_before_start_step_in_one_transaction() -> None:
    oq = ops.operator_queries(PG3)
    body = [
        Step(Query, [("f",)], oq.fork_status), Step(Query, None, oq.fork_inputs), Step(Query, None, oq.mark_forked),
        Step(Query), Step(Query, None, oq.fork_event_history), Step(Query, None, oq.fork_events),
        Step(Query, None, oq.fork_streams),
    ]  # fmt: skip
    seen: list[Any] = []
    assert drive(fork(forked_workflow_id="f", start_step=3), [Step(NeedQueries, PG3), Step(Transaction, body=body)], seen) == "f"
    params = seen[2].params
    assert (params["id"], params["fork"], params["step"], params["queue"]) == ("wf", "f", 3, "_dbos_internal_queue")


def test_fork_from_step_one_copies_no_steps_and_a_missing_original_raises() -> None:
    oq = ops.operator_queries(PG3)
    body = [Step(Query, [("f",)], oq.fork_status), Step(Query, None, oq.fork_inputs), Step(Query, None, oq.mark_forked)]
    assert with_queries(fork(forked_workflow_id="f", start_step=1), PG3, [Step(Transaction, body=body)]) == "f"
    with pytest.raises(WorkflowNotFoundError, match="fork_workflow"):
        with_queries(fork(start_step=1), PG3, [Step(Transaction, body=[Step(Query, [])])])


def test_fork_onto_a_taken_id_is_a_conflict() -> None:
    with pytest.raises(WorkflowIdConflictError, match="already used"):
        with_queries(fork(forked_workflow_id="f"), PG3, [Step(Transaction, body=[Step(Query, unique("workflow_status_pkey"))])])


def test_fork_on_2x_copies_inputs_into_the_status_row() -> None:
    statement = ops.operator_queries(PG2).fork_status
    assert '"inputs"' in statement and "workflow_input" not in statement
    assert "workflow_input" in ops.operator_queries(PG3).fork_inputs
    assert '"inputs"' not in ops.operator_queries(PG3).fork_status


def test_fork_renames_replaced_children() -> None:
    text = so.fork_steps(Target(PG3.info), 2).as_string(None)
    assert "CASE o.child_workflow_id WHEN %(old_0)s THEN %(new_0)s WHEN %(old_1)s THEN %(new_1)s" in text


# -- rewind -----------------------------------------------------------------------------


def rewind(start_step: int | None = 3) -> Any:
    return calls.rewind(CORE, "wf", start_step=start_step, application_version=None, queue_name=None,
                        queue_partition_key=None, shard_key=None)  # fmt: skip


def test_rewind_runs_dbos_statements_in_one_transaction() -> None:
    oq = ops.operator_queries(LITE3)
    body = [Step(Query, ("SUCCESS",), oq.status_of), *[Step(Query, None, s) for s in oq.rewind_statements],
            Step(Query, [("wf",)], oq.rewind_requeue)]  # fmt: skip
    seen: list[Any] = []
    drive(rewind(), [Step(NeedQueries, LITE3), Step(Transaction, body=body)], seen)
    assert seen[-1].params["status"] == "SUCCESS" and seen[-1].params["step"] == 3


def test_rewind_refuses_an_active_workflow_and_a_status_that_changed() -> None:
    with pytest.raises(WorkflowStateError, match="only a workflow in a terminal state"):
        with_queries(rewind(), PG3, [Step(Transaction, body=[Step(Query, ("PENDING",))])])
    oq = ops.operator_queries(PG3)
    body = [Step(Query, ("ERROR",)), *[Step(Query) for _ in oq.rewind_statements], Step(Query, [])]
    with pytest.raises(WorkflowStateError, match="changed status"):
        with_queries(rewind(), PG3, [Step(Transaction, body=body)])
    with pytest.raises(WorkflowNotFoundError):
        with_queries(rewind(), PG3, [Step(Transaction, body=[Step(Query, None)])])


def test_rewind_needs_a_3x_schema() -> None:
    with pytest.raises(SchemaError, match="rewind_workflow needs a DBOS 3.x"):
        with_queries(rewind(), PG2, [])


# -- application versions and rename ----------------------------------------------------


def test_set_latest_version_resolves_the_owner_then_promotes() -> None:
    seen: list[Any] = []
    op = calls.set_latest_version(CORE, "v2", None)
    drive(op, [Step(NeedQueries, PG3), Step(Transaction, body=[Step(Query, [("billing",)]), Step(Query, [(1,)])])], seen)
    assert seen[-1].params["resolved"] == "billing" and seen[-1].params["name"] == "v2"
    with pytest.raises(NameConflictError, match="set a distinct application_version"):
        with_queries(calls.set_latest_version(NAMED, "v2", None), PG3, [Step(Transaction, body=[Step(Query, [("payroll",)])])])
    with pytest.raises(ApplicationVersionNotFoundError):
        with_queries(calls.set_latest_version(CORE, "v9", None), PG3, [Step(Transaction, body=[Step(Query, [])])])


def test_latest_version_of_an_empty_table_raises() -> None:
    with pytest.raises(ApplicationVersionNotFoundError):
        with_queries(calls.latest_version(CORE), PG3, [Step(Query, None)])
    row = ("id", "v1", 5, 4, None)
    assert with_queries(calls.latest_version(CORE), PG3, [Step(Query, row)])["version_name"] == "v1"


def test_rename_moves_owned_rows_then_batches_finished_ones() -> None:
    script = [
        Step(Transaction, body=[Step(Query, [(1,)]), Step(Query, []), Step(Query, [(1,), (1,)]), Step(Query, [(1,)])]),
        # workflow_status: one full batch, then the rest.
        Step(Transaction, body=[Step(Query, ("wf-2",)), Step(Query, [(1,), (1,)])]),
        Step(Transaction, body=[Step(Query, None), Step(Query, [(1,)])]),
        # operation_outputs: fewer than a batch.
        Step(Transaction, body=[Step(Query, None), Step(Query, [(1,)] * 1)]),
    ]
    counts = with_queries(calls.rename(CORE, "old-app", "new-app", 2, True), PG3, script)
    assert counts == {"queues": 1, "schedules": 0, "versions": 2, "workflows": 4, "steps": 1}


def test_sqlite_statements_have_no_postgres_placeholders_or_casts() -> None:
    for name, text in ops.operator_queries(LITE3).statements().items():
        for statement in text if isinstance(text, tuple) else (text,):
            assert "%(" not in statement and "::" not in statement, name
