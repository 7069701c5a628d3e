"""send_bulk, enqueue_bulk, wait_first and wait_all without a database: checks, ops, poller state.

The ops run against the scripted shell of test_ops (``drive``); the fan-out waits' poller
parameters and wake-ups against HubState on its own.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from psycopg import errors as pgerr
from test_hub_state import _state, _waiting
from test_ops import CODEC, LITE3, PG2, PG3, TAG, FakeClock, Step, drive, enc, unique

from dbos_client import EnqueueItem, SendMessage, _bulk, _calls
from dbos_client._calls import ClientCore
from dbos_client._ops import ForeignKeyViolation, Query, Subscribe, Transaction, Wait
from dbos_client._options import build_enqueue
from dbos_client._sql import NULL_TOPIC
from dbos_client._wait import Check, Deadline
from dbos_client.errors import (
    DeduplicatedError,
    InvalidArgumentError,
    SerializationError,
    WaitTimeoutError,
    WorkflowIdConflictError,
    WorkflowNotFoundError,
)

CORE = ClientCore(codec=CODEC, schema_name="dbos", database="db", application_name=None)


def prepared(*messages: SendMessage) -> list[_bulk.BulkMessage]:
    """What the call hands the op: run the call's checks, take the op's argument back out."""
    op = _calls.send_bulk(CORE, list(messages), None, False)
    op.send(None)  # NeedQueries
    inner = op.send(PG3)  # the op's first action: its statement's params carry the batch
    op.close()
    assert isinstance(inner, Query)
    return inner.params  # type: ignore[no-any-return]


# -- send_bulk: the checks, before anything is written ------------------------------------


@pytest.mark.parametrize(
    "messages, match",
    [
        ("not a list", "must be a list"),
        ([object()], r"messages\[0\] is not a SendMessage"),
        ([SendMessage("a", 1), SendMessage("", 2)], r"messages\[1\].destination_id must not be empty"),
        ([SendMessage("a", 1, topic=3)], r"messages\[0\].topic must be a string"),  # type: ignore[arg-type]
        ([SendMessage("a\x00", 1)], "NUL"),
        ([SendMessage("a", 1, idempotency_key="k"), SendMessage("b", 2, idempotency_key="k")], "duplicate idempotency keys: k"),
        ([SendMessage("a", 1, shard_key="s")], "shard key"),
        ([SendMessage("a", 1, topic="t" * 9000)], "NOTIFY"),
    ],
)
def test_send_bulk_refuses_bad_messages_at_once(messages: Any, match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        _calls.send_bulk(CORE, messages, None, False)


def test_send_bulk_unserializable_message_is_refused_at_once() -> None:
    with pytest.raises(SerializationError, match="message 1"):
        _calls.send_bulk(CORE, [SendMessage("a", 1), SendMessage("b", lambda: None)], None, False)


def test_an_empty_batch_does_nothing() -> None:
    drive(_calls.send_bulk(CORE, [], None, False), [])


def test_any_object_with_the_fields_is_a_message() -> None:
    class Theirs:  # dbos.SendMessage has the same attributes
        def __init__(self) -> None:
            self.destination_id, self.message, self.topic, self.idempotency_key, self.shard_key = "wf", 7, None, "k", None

    columns = prepared(Theirs())  # type: ignore[arg-type]
    assert columns == [["wf"], [NULL_TOPIC], [enc(7)], ["k::wf"], [TAG]]


def test_message_ids_are_distinct_uuid4s() -> None:
    ids = _bulk.message_ids(10_000)
    assert len(set(ids)) == 10_000
    assert all(uuid.UUID(i).version == 4 and str(uuid.UUID(i)) == i for i in ids[:100] + ids[-100:])
    assert not set(ids) & set(_bulk.message_ids(10_000))


# -- send_bulk: the op ----------------------------------------------------------------------


def test_send_bulk_on_postgres_is_one_statement_of_arrays() -> None:
    batch = [SendMessage("a", 1, "t"), SendMessage("b", 2, None, "key"), SendMessage("a", 3, "t")]
    columns = prepared(*batch)
    assert columns[0] == ["a", "b", "a"]
    assert columns[1] == ["t", NULL_TOPIC, "t"]
    assert columns[2] == [enc(1), enc(2), enc(3)]
    assert columns[3][1] == "key::b" and len(set(columns[3])) == 3
    assert columns[4] == [TAG] * 3
    assert "unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[])" in PG3.send_bulk
    assert PG2.send_bulk.count("%s::text[]") == 4  # 2.x: no serialization column


def test_send_bulk_on_sqlite_is_executemany_in_one_transaction() -> None:
    msgs = [_bulk.BulkMessage("a", None, "x", TAG, None, "id-1"), _bulk.BulkMessage("b", "t", "y", TAG, None, "id-2")]
    seen: list[Any] = []
    drive(_bulk.send_bulk(LITE3, msgs, False), [Step(Transaction, body=[Step(Query, statement=LITE3.send)])], seen)
    insert = seen[1]
    assert insert.many and insert.fetch == "none"
    assert insert.params == [["a", NULL_TOPIC, "x", "id-1", TAG], ["b", "t", "y", "id-2", TAG]]


@pytest.mark.parametrize("error", [pgerr.ForeignKeyViolation(), ForeignKeyViolation("FOREIGN KEY constraint failed")])
def test_an_unknown_destination_is_named_and_nothing_is_sent(error: Exception) -> None:
    msgs = [_bulk.BulkMessage(d, None, "x", TAG, None, f"id-{d}") for d in ("b", "gone", "a", "lost")]
    with pytest.raises(WorkflowNotFoundError) as info:
        drive(_bulk.send_bulk(PG3, msgs, False), [
            Step(Query, error, statement=PG3.send_bulk),
            Step(Query, [("a",), ("b",)], statement=PG3.workflow_states),
        ])  # fmt: skip
    assert info.value.workflow_id == "gone, lost"
    assert "no message was sent" in str(info.value)


def test_send_to_forks_copies_each_message_to_every_descendant() -> None:
    msgs = [_bulk.BulkMessage("root", "t", "x", TAG, None, str(uuid.uuid4())), _bulk.BulkMessage("root", "t", "y", TAG, "k", "k::root")]
    seen: list[Any] = []
    drive(_bulk.send_bulk(PG3, msgs, True), [
        Step(Transaction, body=[
            Step(Query, [("root", "fork1"), ("root", "fork2")], statement=PG3.fork_descendants),
            Step(Query, statement=PG3.send_bulk),
        ]),
    ], seen)  # fmt: skip
    assert seen[1].params == {"ids": ["root"]}
    dests, _, texts, ids, _ = seen[2].params
    assert dests == ["root", "fork1", "fork2", "root", "fork1", "fork2"]
    assert texts == ["x"] * 3 + ["y"] * 3
    assert ids[3:] == ["k::root", "k::fork1", "k::fork2"]  # DBOS scopes a key per recipient
    assert len(set(ids[:3])) == 3
    # A retry computes the very same ids, so ON CONFLICT DO NOTHING makes it a no-op.
    assert ids[1] == msgs[0].id_for("fork1")


# -- enqueue_bulk ---------------------------------------------------------------------------


OPTS = {"queue_name": "q", "workflow_name": "wf"}


def test_enqueue_bulk_checks_every_item_first() -> None:
    with pytest.raises(InvalidArgumentError, match="list of EnqueueItem"):
        _calls.enqueue_bulk(CORE, {"a": 1})
    with pytest.raises(InvalidArgumentError, match=r"items\[1\]"):
        _calls.enqueue_bulk(CORE, [EnqueueItem(OPTS), 5])
    with pytest.raises(InvalidArgumentError, match="duplicate workflow ids: same"):
        _calls.enqueue_bulk(CORE, [({**OPTS, "workflow_id": "same"},), EnqueueItem({**OPTS, "workflow_id": "same"})])
    with pytest.raises(InvalidArgumentError, match="return-existing"):
        _calls.enqueue_bulk(CORE, [EnqueueItem({**OPTS, "deduplication_id": "d", "duplication_policy": "return-existing"})])
    with pytest.raises(InvalidArgumentError, match="queue_name"):
        _calls.enqueue_bulk(CORE, [EnqueueItem({"workflow_name": "wf"})])  # type: ignore[typeddict-item]
    assert drive(_calls.enqueue_bulk(CORE, []), []) == []


def _reqs(n: int) -> list[Any]:
    return [build_enqueue({**OPTS, "workflow_id": f"w{i}"}, (i,), {}, CODEC, None) for i in range(n)]


def test_enqueue_bulk_on_postgres_is_one_statement() -> None:
    reqs = _reqs(3)
    seen: list[Any] = []
    inserted = [(n, True, None, None, None, None, None, None, True) for n in range(3)]
    outcomes = drive(_bulk.enqueue_bulk(PG3, reqs), [Step(Transaction, body=[Step(Query, inserted, statement=PG3.enqueue_bulk)])], seen)
    assert [o.workflow_id for o in outcomes] == ["w0", "w1", "w2"]
    rows = seen[1].params["rows"].obj
    assert [(r["workflow_uuid"], r["n"]) for r in rows] == [("w0", 0), ("w1", 1), ("w2", 2)]
    assert set(rows[0]) == set(PG3.enqueue_bulk_fields) and rows[0]["inputs"] == reqs[0].inputs
    assert "inputs" in PG2.enqueue_bulk_fields and "workflow_input" not in PG2.enqueue_bulk


def test_enqueue_bulk_conflict_rolls_back_the_batch() -> None:
    reqs = _reqs(2)
    inserted = (0, True, None, None, None, None, None, None, True)
    taken = (1, False, "other_wf", None, None, "q", "SUCCESS", "someone", True)
    with pytest.raises(WorkflowIdConflictError):
        drive(_bulk.enqueue_bulk(PG3, reqs), [Step(Transaction, body=[Step(Query, [inserted, taken])])])
    # The same function under the id attaches, as enqueue does.
    same = (1, False, "wf", None, None, "q", "ENQUEUED", "someone", True)
    assert len(drive(_bulk.enqueue_bulk(PG3, reqs), [Step(Transaction, body=[Step(Query, [inserted, same])])])) == 2


def test_enqueue_bulk_on_sqlite_runs_enqueues_steps_for_each() -> None:
    reqs = _reqs(2)
    body = []
    for _ in reqs:
        body += [Step(Query, [("w",)], statement=LITE3.sqlite_enqueue_insert), Step(Query, statement=LITE3.sqlite_enqueue_inputs),
                 Step(Query, (1,), statement=LITE3.sqlite_queue_known)]  # fmt: skip
    assert len(drive(_bulk.enqueue_bulk(LITE3, reqs), [Step(Transaction, body=body)])) == 2


def test_enqueue_bulk_deduplication_names_the_workflow() -> None:
    reqs = [build_enqueue({**OPTS, "workflow_id": "w", "deduplication_id": "d"}, (), {}, CODEC, None), *_reqs(1)]
    with pytest.raises(DeduplicatedError) as info:
        drive(_bulk.enqueue_bulk(LITE3, reqs), [Step(Transaction, body=[Step(Query, unique())])])
    assert (info.value.workflow_id, info.value.deduplication_id) == ("w", "d")


# -- wait_first, wait_all ----------------------------------------------------------------------


def test_wait_handles_checks_as_dbos() -> None:
    class H:
        def __init__(self, wid: Any) -> None:
            self.workflow_id = wid

    with pytest.raises(ValueError, match="handles must not be empty"):
        _calls.wait_handles([])
    with pytest.raises(ValueError, match="handles must not contain duplicate workflow IDs"):
        _calls.wait_handles([H("a"), H("a")])
    with pytest.raises(InvalidArgumentError, match=r"handles\[1\].workflow_id"):
        _calls.wait_handles([H("a"), H(None)])
    a, b = H("a"), H("b")
    assert _calls.wait_handles((a, b)) == {"a": a, "b": b}
    with pytest.raises(InvalidArgumentError, match="polling_interval_sec"):
        _calls.wait_first(CORE, ["a"], None, 0)


def test_wait_first_reads_once_then_waits_on_one_check_for_all() -> None:
    ids = [f"w{i}" for i in range(1000)]
    seen: list[Any] = []
    found = drive(_bulk.wait_first(PG3, ids, Deadline(None)), [
        Step(Query, None, statement=PG3.first_finished), Step(Subscribe), Step(Wait),
        Step(Query, None), Step(Wait), Step(Query, ("w7",)),
    ], seen)  # fmt: skip
    assert found == "w7"
    assert seen[0].params == {"ids": ids} and seen[0].read_only
    assert seen[1].check == seen[2].check == Check("first", "w0", workflow_ids=tuple(ids))


def test_wait_first_already_finished_never_starts_the_hub() -> None:
    assert drive(_bulk.wait_first(LITE3, ["a"], Deadline(None)), [Step(Query, ("a",))]) == "a"


def test_wait_first_times_out() -> None:
    clock = FakeClock()
    deadline = Deadline(2.0, clock)
    op = _bulk.wait_first(PG3, ["a", "b"], deadline)
    assert isinstance(op.send(None), Query)
    assert isinstance(op.send(None), Subscribe)
    assert isinstance(op.send(None), Wait)
    clock.now += 3
    assert isinstance(op.send(None), Query)
    with pytest.raises(WaitTimeoutError) as info:
        op.send(None)
    assert info.value.workflow_ids == ["a", "b"]


def test_wait_all_narrows_to_the_running_ones() -> None:
    seen: list[Any] = []
    drive(_bulk.wait_all(PG3, ["a", "b", "c"], Deadline(None)), [
        Step(Query, [("a", "SUCCESS"), ("b", "PENDING"), ("c", "ENQUEUED")], statement=PG3.workflow_states),
        Step(Subscribe), Step(Wait),
        Step(Query, [("b", "CANCELLED"), ("c", "PENDING")]), Step(Wait),
        Step(Query, [("c", "ERROR")]),
    ], seen)  # fmt: skip
    assert seen[2].check.workflow_ids == ("b", "c")
    assert seen[3].params == {"ids": ["b", "c"]}
    assert seen[4].check.workflow_ids == ("c",)


def test_wait_all_refuses_an_unknown_workflow() -> None:
    with pytest.raises(WorkflowNotFoundError, match="'nope'"):
        drive(_bulk.wait_all(PG3, ["a", "nope"], Deadline(None)), [Step(Query, [("a", "PENDING")])])


# -- the shared poller: a thousand handles are one entry of one query ------------------------


def test_first_checks_go_into_one_parameter_of_the_shared_query() -> None:
    state = _state()
    many = Check("first", "w0", workflow_ids=tuple(f"w{i}" for i in range(1000)))
    other = Check("first", "x", workflow_ids=("x", "w1"))
    _waiting(state, many, many, other, Check("result", "r"))
    params = state.poll_params(state.waiting())
    assert len(params["fw"]) == 1001 and params["fw"] == sorted(params["fw"])
    assert params["rw"] == ["r"]


def test_a_first_waiter_wakes_when_any_of_its_workflows_finished() -> None:
    state = _state()
    a, b = _waiting(state, Check("first", "a", workflow_ids=("a", "b")), Check("first", "c", workflow_ids=("c",)))
    wake, suspects = state.sort_ready([("first", "b", None, False)], state.waiting(), 0.0)
    assert wake == [a] and suspects == []
    wake, _ = state.sort_ready([("result", "c", None, False)], state.waiting(), 0.0)
    assert wake == []  # a result row (finished or missing) is not a 'first' row


def test_the_shared_query_asks_for_first_rows_in_both_dialects() -> None:
    assert "'first'" in PG3.ready_waits and "%(fw)s::text[]" in PG3.ready_waits
    assert "'first'" in LITE3.ready_waits and "json_each(:fw)" in LITE3.ready_waits
    assert "json_each(:ids)" in LITE3.first_finished and "LIMIT 1" in LITE3.first_finished
    assert PG2.fork_descendants is not None and "RECURSIVE" in PG2.fork_descendants
