"""DBOS's Queue setters on the queues a client returns: validation, the one transaction each
writes, the binding (kept out of ==, repr and pickle) and the shells' rules. No database."""

from __future__ import annotations

import asyncio
import copy
import pickle
from typing import Any

import pytest
from test_operator_logic import CORE, LITE3, PG3, QUEUE_ROW, TABLES_2X, with_queries
from test_ops import Step, drive

from dbos_client import DBOSException, InvalidArgumentError, QueueNotFoundError, SchemaError
from dbos_client import _calls_operator as calls
from dbos_client import _ops_operator as ops
from dbos_client._ops import NeedQueries, Query, Transaction
from dbos_client._schema import SchemaInfo
from dbos_client._sql import Queries
from dbos_client.models import Queue, bind_queue

#: A 2.20-2.30 schema: queues, without the per-partition columns.
NO_PARTITIONS = Queries(SchemaInfo("dbos", {
    **TABLES_2X,
    "queues": TABLES_2X["queues"] - {"partition_concurrency", "partition_worker_concurrency",
                                     "partition_rate_limit_max", "partition_rate_limit_period_sec", "partition_queue"},
}, True))  # fmt: skip


def set_on(q: Queries, attr: str, value: Any, row: Any = QUEUE_ROW, seen: list[Any] | None = None) -> Queue:
    oq = ops.operator_queries(q)
    body = [Step(Query, row, oq.lock_queue)]
    if row is not None:
        body.append(Step(Query, None))
    result: Queue = drive(calls.set_queue(CORE, "q", attr, value), [Step(NeedQueries, q), Step(Transaction, body=body)], seen)
    return result


# -- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "attr, value, match",
    [
        ("polling_interval_sec", 0, "polling_interval_sec must be positive"),
        ("polling_interval_sec", "1", "polling_interval_sec must be a finite number"),
        ("limiter", {"limit": 5}, "limiter must specify both 'limit' and 'period'"),
        ("partition_limiter", {"period": 1.0}, "partition_limiter must specify both 'limit' and 'period'"),
        ("partition_concurrency", 0, "partition_concurrency must be at least 1"),
        ("partition_worker_concurrency", 0, "partition_worker_concurrency must be at least 1"),
        ("concurrency", True, "concurrency must be an integer"),
        ("worker_concurrency", 2.5, "worker_concurrency must be an integer"),
    ],
)
def test_a_bad_value_is_refused_before_any_io(attr: str, value: Any, match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        calls.set_queue(CORE, "q", attr, value)


# QUEUE_ROW: concurrency 4, worker_concurrency 2, no partition limits.
@pytest.mark.parametrize(
    "current, attr, value, match",
    [
        (Queue("q", 4, 2), "concurrency", 1, "worker_concurrency must be less than or equal to concurrency"),
        (Queue("q", partition_concurrency=3), "concurrency", 2,
         "partition_concurrency must be less than or equal to global_concurrency"),
        (Queue("q", partition_worker_concurrency=3), "concurrency", 2,
         "partition_worker_concurrency must be less than or equal to concurrency"),
        (Queue("q", 4), "worker_concurrency", 5, "worker_concurrency must be less than or equal to concurrency"),
        (Queue("q", partition_worker_concurrency=3), "worker_concurrency", 2,
         "partition_worker_concurrency must be less than or equal to worker_concurrency"),
        (Queue("q", 2), "partition_concurrency", 3,
         "partition_concurrency must be less than or equal to global_concurrency"),
        (Queue("q", partition_worker_concurrency=3), "partition_concurrency", 2,
         "partition_concurrency must be greater than or equal to partition_worker_concurrency"),
        (Queue("q", partition_concurrency=2), "partition_worker_concurrency", 3,
         "partition_worker_concurrency must be less than or equal to partition_concurrency"),
        (Queue("q", worker_concurrency=2), "partition_worker_concurrency", 3,
         "partition_worker_concurrency must be less than or equal to worker_concurrency"),
        (Queue("q", 2), "partition_worker_concurrency", 3,
         "partition_worker_concurrency must be less than or equal to concurrency"),
    ],
)  # fmt: skip
def test_checks_against_the_other_limits_use_dbos_messages(current: Queue, attr: str, value: Any, match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        ops.queue_setting(current, attr, value)


def test_none_clears_a_limit_without_checks() -> None:
    assert ops.queue_setting(Queue("q", 4, 2), "concurrency", None) == {"concurrency": None}


def test_columns_written_per_setting() -> None:
    q = Queue("q", partition_concurrency=2)
    assert ops.queue_setting(q, "limiter", {"limit": 5, "period": 1.5}) == {"rate_limit_max": 5, "rate_limit_period_sec": 1.5}
    assert ops.queue_setting(q, "limiter", None) == {"rate_limit_max": None, "rate_limit_period_sec": None}
    # The legacy partition_queue column follows whether any per-partition limit is left.
    assert ops.queue_setting(q, "partition_limiter", {"limit": 1, "period": 2.0}) == {
        "partition_rate_limit_max": 1, "partition_rate_limit_period_sec": 2.0, "partition_queue": True,
    }  # fmt: skip
    assert ops.queue_setting(q, "partition_concurrency", None) == {"partition_concurrency": None, "partition_queue": False}
    assert ops.queue_setting(q, "partition_worker_concurrency", 1)["partition_queue"] is True


# -- the op ----------------------------------------------------------------------------------


@pytest.mark.parametrize("q", [PG3, LITE3], ids=["postgres", "sqlite"])
def test_a_setter_reads_locks_checks_and_updates_in_one_transaction(q: Queries) -> None:
    seen: list[Any] = []
    queue = set_on(q, "worker_concurrency", 3, seen=seen)
    assert queue == Queue("q", 4, 3, {"limit": 5, "period": 1.5}, polling_interval_sec=0.5)
    lock, update = seen[2], seen[3]
    assert ("FOR UPDATE" in lock.statement) is (q is PG3)
    assert update.statement.startswith("UPDATE") and "worker_concurrency" in update.statement
    assert update.params["name"] == "q" and update.params["worker_concurrency"] == 3
    assert isinstance(update.params["updated_at"], int)


def test_a_setter_checks_the_row_as_stored() -> None:
    with pytest.raises(InvalidArgumentError, match="worker_concurrency must be less than or equal to concurrency"):
        drive(calls.set_queue(CORE, "q", "concurrency", 1), [Step(NeedQueries, PG3), Step(Transaction, body=[
            Step(Query, QUEUE_ROW)])])  # fmt: skip


def test_a_deleted_queue_raises_dbos_message() -> None:
    with pytest.raises(QueueNotFoundError, match="Queue q not found in the database") as info:
        set_on(PG3, "polling_interval_sec", 0.5, row=None)
    assert isinstance(info.value, DBOSException) and isinstance(info.value, LookupError)
    assert info.value.queue_name == "q"


def test_an_old_schema_skips_the_legacy_column_and_refuses_partition_limits() -> None:
    seen: list[Any] = []
    set_on(NO_PARTITIONS, "concurrency", 8, seen=seen)
    assert "partition_queue" not in seen[3].params
    with pytest.raises(SchemaError, match="partition_concurrency"):
        with_queries(calls.set_queue(CORE, "q", "partition_concurrency", 2), NO_PARTITIONS,
                     [Step(Transaction, body=[Step(Query, QUEUE_ROW)])])  # fmt: skip


# -- the binding -----------------------------------------------------------------------------


class SyncShell:
    """Stands in for DBOSClient: drives the op against a script."""

    _kind = "DBOSClient"
    _core = CORE
    password = "s3cret"

    def __init__(self, row: Any = QUEUE_ROW) -> None:
        self.row = row
        self.warned: list[tuple[str, str]] = []

    def _run(self, op: Any) -> Any:
        q = PG3
        body = [Step(Query, self.row)] + ([Step(Query, None)] if self.row is not None else [])
        return drive(op, [Step(NeedQueries, q), Step(Transaction, body=body)])

    def _warn_in_event_loop(self, name: str, twin: str) -> None:
        self.warned.append((name, twin))


class AsyncShell:
    _kind = "AsyncDBOSClient"
    _core = CORE

    def __init__(self, answers: list[Step]) -> None:
        self.answers = answers

    async def _run(self, op: Any) -> Any:
        return drive(op, [Step(NeedQueries, PG3), *self.answers])


def test_a_setter_updates_the_snapshot_from_the_row() -> None:
    shell = SyncShell()
    queue = bind_queue(Queue("q", 1), shell)
    queue.set_limiter({"limit": 9, "period": 3.0})
    # Refreshed, as DBOS's setters refresh: the other fields are the row's.
    assert queue == Queue("q", 4, 2, {"limit": 9, "period": 3.0}, polling_interval_sec=0.5)
    assert shell.warned == [("Queue.set_limiter", "Queue.set_limiter_async")]


def test_the_binding_stays_out_of_eq_repr_and_pickle() -> None:
    queue = bind_queue(Queue("q", 4), SyncShell())
    assert queue == Queue("q", 4) and repr(queue) == repr(Queue("q", 4))
    assert "s3cret" not in repr(queue) and "Shell" not in repr(queue)
    for clone in (pickle.loads(pickle.dumps(queue)), copy.copy(queue), copy.deepcopy(queue)):
        assert clone == queue
        with pytest.raises(InvalidArgumentError, match="not bound to a client"):
            clone.set_concurrency(1)


def test_an_unbound_queue_refuses_setters_and_getters() -> None:
    queue = Queue("q")
    with pytest.raises(InvalidArgumentError, match="not bound to a client"):
        queue.set_polling_interval_sec(1.0)
    with pytest.raises(InvalidArgumentError, match="not bound to a client"):
        asyncio.run(queue.get_concurrency_async())


def test_enqueue_on_a_queue_is_refused() -> None:
    queue = bind_queue(Queue("q"), SyncShell())
    with pytest.raises(DBOSException, match="Use DBOSClient.enqueue instead"):
        queue.enqueue(print, 1)
    with pytest.raises(InvalidArgumentError, match="Use DBOSClient.enqueue instead"):
        asyncio.run(queue.enqueue_async(print, 1))


def test_an_async_clients_queue_has_only_the_async_setters() -> None:
    oq = ops.operator_queries(PG3)
    shell = AsyncShell([Step(Transaction, body=[Step(Query, QUEUE_ROW, oq.lock_queue), Step(Query, None)])])
    queue = bind_queue(Queue("q"), shell)
    with pytest.raises(InvalidArgumentError, match=r"use 'await queue.set_worker_concurrency_async\(...\)'"):
        queue.set_worker_concurrency(1)
    asyncio.run(queue.set_global_concurrency_async(3))
    assert queue.concurrency == 3 and queue.worker_concurrency == 2


def test_get_async_rereads_the_row() -> None:
    queue = bind_queue(Queue("q"), AsyncShell([Step(Query, QUEUE_ROW)]))
    assert asyncio.run(queue.get_worker_concurrency_async()) == 2
    assert queue.limiter == {"limit": 5, "period": 1.5}
    gone = bind_queue(Queue("q"), AsyncShell([Step(Query, None)]))
    with pytest.raises(QueueNotFoundError, match="Queue q not found in the database"):
        asyncio.run(gone.get_limiter_async())


def test_dbos_setter_names_are_all_there() -> None:
    names = ["concurrency", "global_concurrency", "worker_concurrency", "partition_concurrency",
             "partition_worker_concurrency", "limiter", "partition_limiter", "polling_interval_sec"]  # fmt: skip
    for n in names:
        assert callable(getattr(Queue, f"set_{n}"))
        assert asyncio.iscoroutinefunction(getattr(Queue, f"set_{n}_async"))
        assert asyncio.iscoroutinefunction(getattr(Queue, f"get_{n}_async"))
        assert hasattr(Queue("q"), n)
