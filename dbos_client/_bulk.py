"""The bulk calls and the fan-out waits, as ops (generators, no I/O), for both shells.

* ``send_bulk``: every message in one transaction. Postgres: one ``INSERT ... SELECT FROM
  unnest(...)`` (one round trip whatever the count); SQLite: ``executemany`` under one
  ``BEGIN IMMEDIATE``. With ``send_to_forks``, the forks are looked up in the same
  transaction. A destination that does not exist refuses the whole batch, by name.
* ``enqueue_bulk`` (this client's extension): Postgres, one statement for every workflow
  (``enqueue``'s, reading the rows from one JSON array: one plan, one round trip); SQLite,
  ``enqueue``'s steps for each in one ``BEGIN IMMEDIATE``. Any refusal rolls back all.
* ``wait_first`` / ``wait_all``: one read of every handle's status, then one ``first``
  ``Check`` naming all of them, so the shared poller asks for the lot in its one query
  per tick, however many handles (``_hub_state.HubState.poll_params``).

Every message id is fixed before the first attempt, so a retry after a lost commit
inserts nothing twice (``ON CONFLICT (message_uuid) DO NOTHING``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, NamedTuple

from psycopg import errors as pgerr

from ._ops import (
    _DEDUP_CONSTRAINTS,
    EnqueueOutcome,
    ForeignKeyViolation,
    Op,
    Query,
    Subscribe,
    Transaction,
    UniqueViolation,
    Wait,
    _check_reuse,
    _constraint_name,
    _EnqueueRow,
    _sqlite_enqueue,
)
from ._options import EnqueueRequest, new_id
from ._sql import NULL_TOPIC, Queries
from ._wait import Check, Deadline
from .errors import (
    DBOSNonExistentWorkflowError,
    DBOSQueueDeduplicatedError,
    DeduplicatedError,
    InvalidArgumentError,
    WaitTimeoutError,
)
from .models import ACTIVE_STATUSES


class BulkMessage(NamedTuple):
    """One validated, serialized message of ``send_bulk``."""

    destination_id: str
    topic: str | None
    text: str
    tag: str
    idempotency_key: str | None
    #: The row's message_uuid at its own destination: ``key::destination`` or a fresh id.
    message_id: str

    def id_for(self, destination_id: str) -> str:
        """The message_uuid of its copy for a fork: deterministic, so a retry adds nothing."""
        if self.idempotency_key is not None:
            return f"{self.idempotency_key}::{destination_id}"  # DBOS's scoping of a key
        return str(uuid.uuid5(uuid.UUID(self.message_id), destination_id))


def message_ids(n: int) -> list[str]:
    """n distinct random uuid4 strings, cheaply: one random uuid4, its low bits XOR-ed with
    the index (the version and variant bits stay as they are). Unique within the batch,
    and as unlikely to meet another's as any uuid4 (122 random bits, 62 of them varied)."""
    base = uuid.UUID(new_id()).int
    return [str(uuid.UUID(int=base ^ i)) for i in range(n)]


# -- send_bulk ----------------------------------------------------------------------------


def send_bulk(q: Queries, messages: Sequence[BulkMessage], send_to_forks: bool) -> Op[None]:
    """Insert every message (and, with ``send_to_forks``, a copy for each fork) atomically."""
    rows = [(m.destination_id, m, m.message_id) for m in messages]
    forks = send_to_forks and q.fork_descendants is not None
    try:
        if forks:
            yield Transaction(lambda: _send_with_forks(q, messages))
        elif q.sqlite:
            yield Transaction(lambda: _insert(q, rows))
        else:
            yield from _insert(q, rows)  # one statement: atomic on its own
    except (pgerr.ForeignKeyViolation, ForeignKeyViolation):
        destinations = sorted({m.destination_id for m in messages})
        found = yield Query(q.workflow_states, {"ids": destinations}, read_only=True)
        known = {row[0] for row in found}
        missing = [d for d in destinations if d not in known] or destinations
        raise DBOSNonExistentWorkflowError("`send` destination", ", ".join(missing), "send_bulk; no message was sent") from None


def _send_with_forks(q: Queries, messages: Sequence[BulkMessage]) -> Op[None]:
    """The body of a send to forks: find them, then insert, in one transaction."""
    assert q.fork_descendants is not None
    roots = sorted({m.destination_id for m in messages})
    found = yield Query(q.fork_descendants, {"ids": roots})
    descendants: dict[str, list[str]] = {}
    for root, fork in found:
        descendants.setdefault(root, []).append(fork)
    rows = []
    for m in messages:
        rows.append((m.destination_id, m, m.message_id))
        rows.extend((fork, m, m.id_for(fork)) for fork in descendants.get(m.destination_id, ()))
    yield from _insert(q, rows)


def _insert(q: Queries, rows: Sequence[tuple[str, BulkMessage, str]]) -> Op[None]:
    """One statement: Postgres from arrays; SQLite ``send`` with executemany (in the caller's transaction)."""
    if not rows:
        return
    with_tag = q.send_has_serialization
    if q.sqlite:
        params = [
            [dest, m.topic if m.topic is not None else NULL_TOPIC, m.text, mid, *((m.tag,) if with_tag else ())]
            for dest, m, mid in rows
        ]
        yield Query(q.send_bulk, params, fetch="none", many=True)
        return
    columns: list[list[Any]] = [
        [dest for dest, _, _ in rows],
        [m.topic if m.topic is not None else NULL_TOPIC for _, m, _ in rows],
        [m.text for _, m, _ in rows],
        [mid for _, _, mid in rows],
    ]
    if with_tag:
        columns.append([m.tag for _, m, _ in rows])
    yield Query(q.send_bulk, columns, fetch="none")


# -- enqueue_bulk -------------------------------------------------------------------------


def enqueue_bulk(q: Queries, requests: Sequence[EnqueueRequest]) -> Op[list[EnqueueOutcome]]:
    """Enqueue every workflow in one transaction: all of them, or (on any refusal) none."""
    if any(r.delay_ms is not None for r in requests) and not q.info.has("workflow_status", "delay_until_epoch_ms"):
        raise InvalidArgumentError("delay_seconds needs DBOS 2.16 or later; this database's schema has no DELAYED status")
    params_list = []
    for req in requests:
        params = {c: req.row[c] for c in q.enqueue_columns}
        params["inputs"] = req.inputs
        params["delay_ms"] = req.delay_ms
        if q.sqlite and "attributes" in params:
            params["attributes"] = q.json_param(params["attributes"])
        params_list.append(params)
    try:
        outcomes: list[EnqueueOutcome] = yield Transaction(lambda: _enqueue_all(q, requests, params_list))
    except (pgerr.UniqueViolation, UniqueViolation) as exc:
        if _constraint_name(exc) not in _DEDUP_CONSTRAINTS:
            raise
        raise _deduplicated(exc, requests) from None
    return outcomes


def _deduplicated(exc: Exception, requests: Sequence[EnqueueRequest]) -> DeduplicatedError:
    """Name the workflow whose deduplication id was taken when Postgres says which (SQLite does not)."""
    detail = getattr(getattr(exc, "diag", None), "message_detail", None) or ""
    candidates = [r for r in requests if r.deduplication_id is not None]
    culprit = next((r for r in candidates if f"=({r.queue_name}, {r.deduplication_id})" in detail), None)
    if culprit is None and len(candidates) == 1:
        culprit = candidates[0]
    if culprit is not None:
        return DBOSQueueDeduplicatedError(
            culprit.workflow_id, culprit.queue_name, culprit.deduplication_id or "", "enqueue_bulk: no workflow was enqueued"
        )
    taken = ", ".join(f"{r.deduplication_id!r} on {r.queue_name!r}" for r in candidates)
    return DeduplicatedError(
        f"no workflow was enqueued: one of the batch's deduplication ids is taken on its queue ({taken})",
        workflow_id=None, queue_name=None, deduplication_id=None,
    )


def _enqueue_all(q: Queries, requests: Sequence[EnqueueRequest], params_list: list[dict[str, Any]]) -> Op[list[EnqueueOutcome]]:
    """The body: every insert (pipelined on Postgres), then DBOS's rules for each id already taken."""
    if q.sqlite:
        rows = []
        for params in params_list:
            rows.append((yield from _sqlite_enqueue(q, params)))
    else:
        # One JSON array of every row: one statement, planned once, whatever the count.
        fields = q.enqueue_bulk_fields
        objects = [{f: p.get(f) for f in fields} | {"n": n} for n, p in enumerate(params_list)]
        found = yield Query(q.enqueue_bulk, {"rows": q.json_param(objects)})
        rows = [_EnqueueRow(*row[1:]) for row in found]
    outcomes = []
    for req, row in zip(requests, rows, strict=True):
        if not row.inserted:
            existing: tuple[Any, ...] = (
                row.name, row.class_name, row.config_name, row.queue_name, row.status, row.creator_xid,
            )  # fmt: skip
            if row.name is None:
                # Taken by a row committed after that statement's snapshot: look at it now.
                again = yield Query(q.find_existing, {"workflow_uuid": req.workflow_id}, fetch="one")
                if again is None:  # gone again: a concurrent delete; refuse rather than guess
                    raise DBOSNonExistentWorkflowError("target", req.workflow_id, "enqueue_bulk; nothing was enqueued")
                existing = tuple(again)
            name, class_name, config_name, queue_name, status, creator_xid = existing
            if creator_xid is None or creator_xid != req.row["creator_xid"]:
                _check_reuse(req, name, class_name, config_name, queue_name, status)
        outcomes.append(EnqueueOutcome(req.workflow_id, row.queue_known))
    return outcomes


# -- wait_first, wait_all -----------------------------------------------------------------


def wait_first(q: Queries, workflow_ids: list[str], deadline: Deadline) -> Op[str]:
    """The id of a workflow of ``workflow_ids`` that has finished (the earliest, if several).

    As DBOS: finished means no longer PENDING, ENQUEUED or DELAYED (so CANCELLED counts),
    and an id with no workflow never finishes. One read; then the shared poller checks all
    of them in its one query per tick, and each wake-up costs one more read.
    """
    check = Check("first", workflow_ids[0], workflow_ids=tuple(workflow_ids))
    subscribed = False
    while True:
        row = yield Query(q.first_finished, {"ids": workflow_ids}, fetch="one", deadline=deadline.at, read_only=True)
        if row is not None:
            return str(row[0])
        if deadline.expired():
            raise WaitTimeoutError(
                f"none of the {len(workflow_ids)} workflows finished within {deadline.timeout_seconds} s",
                workflow_ids=workflow_ids, timeout_seconds=deadline.timeout_seconds,
            )  # fmt: skip
        if not subscribed:  # only polling ends this wait: nothing to miss between read and subscribe
            yield Subscribe(check)
            subscribed = True
        yield Wait(check, deadline.at)


def wait_all(q: Queries, workflow_ids: list[str], deadline: Deadline) -> Op[None]:
    """Return once every workflow of ``workflow_ids`` has finished (as ``wait_first`` means it).

    Each read narrows the wait to the workflows still running, so the poller's rows wake
    it only when one of those finishes. An id with no workflow raises at once.
    """
    remaining = list(workflow_ids)
    subscribed = False
    while True:
        rows = yield Query(q.workflow_states, {"ids": remaining}, deadline=deadline.at, read_only=True)
        status = dict(rows)
        missing = [w for w in remaining if w not in status]
        if missing:
            raise DBOSNonExistentWorkflowError("target", ", ".join(missing), "wait_all")
        remaining = [w for w in remaining if status[w] in ACTIVE_STATUSES]
        if not remaining:
            return None
        if deadline.expired():
            raise WaitTimeoutError(
                f"{len(remaining)} of the {len(workflow_ids)} workflows had not finished after "
                f"{deadline.timeout_seconds} s",
                workflow_ids=remaining, timeout_seconds=deadline.timeout_seconds,
            )  # fmt: skip
        check = Check("first", remaining[0], workflow_ids=tuple(remaining))
        if not subscribed:
            yield Subscribe(check)
            subscribed = True
        yield Wait(check, deadline.at)
