"""The transactional outbox: enqueue and send inside a transaction the caller owns. No I/O.

``enqueue_in_transaction``, ``send_in_transaction`` and ``send_bulk_in_transaction``
write with the caller's connection (``_txn`` recognises and unwraps it), so the rows
commit or roll back with the caller's own writes: a workflow is enqueued, or a message
sent, exactly when the caller's business change commits. Nothing here begins, commits,
retries or waits: a failure is the caller's to handle, like any statement of theirs.

Each call validates eagerly and returns a ``make(q)``: the shell first resolves the
schema's ``Queries`` through its own pool, then drives ``make(q)`` on the caller's
connection. A write the database may refuse (a send, whose destination may not exist;
an enqueue with a deduplication id) runs under a SAVEPOINT: the refusal undoes only our
statements and leaves the caller's transaction usable, where Postgres would otherwise
abort it. Other refusals (an id reused under 'reject', a different workflow's id) are
decided after a statement that did not fail and wrote nothing. DBOS 3.4.0 leaves
the caller's Postgres transaction aborted on a deduplication refusal; nothing that works
there fails here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from psycopg import errors as pgerr
from psycopg import sql

from . import _ops
from ._calls import ClientCore
from ._ops import ForeignKeyViolation, Op, Query
from ._options import build_enqueue, check_notify_payload, new_id, no_shard_key, optional_text, require_text
from ._serialization import FormatChoice
from ._sql import NULL_TOPIC, Queries
from .errors import DBOSNonExistentWorkflowError, InvalidArgumentError

T = TypeVar("T")
Make = Callable[[Queries], Op[T]]

#: Our savepoint's name: distinctive, so it never shadows one of the caller's.
SAVEPOINT = "dbos_client_outbox"


def in_savepoint(body: Op[T]) -> Op[T]:
    """Run ``body`` under a SAVEPOINT: all of its writes, or (if it raises) none of them,
    with the caller's transaction still usable."""
    yield Query(f"SAVEPOINT {SAVEPOINT}", fetch="none")
    try:
        result = yield from body
    except Exception:
        yield Query(f"ROLLBACK TO SAVEPOINT {SAVEPOINT}", fetch="none")
        yield Query(f"RELEASE SAVEPOINT {SAVEPOINT}", fetch="none")
        raise
    yield Query(f"RELEASE SAVEPOINT {SAVEPOINT}", fetch="none")
    return result


# -- enqueue --------------------------------------------------------------------------


def enqueue_in_transaction(
    core: ClientCore, options: Mapping[str, Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Make[str]:
    """Validate and serialize now; ``make(q)`` inserts the row on the caller's connection."""
    if isinstance(options, Mapping) and options.get("duplication_policy") == "return-existing":
        # Attaching means looking up the holder after a refused insert, and retrying if it
        # just finished: a loop that cannot run inside a transaction the caller owns.
        raise InvalidArgumentError(
            "duplication_policy 'return-existing' is not supported by enqueue_in_transaction. Use enqueue instead."
        )
    request = build_enqueue(options, args, kwargs, core.codec, core.application_name)

    def make(q: Queries) -> Op[str]:
        write = _ops.enqueue(q, request)
        # Only a taken deduplication id makes the database refuse the insert (a taken
        # workflow id is ON CONFLICT DO NOTHING, then checked): the savepoint's two round
        # trips are paid only when it can.
        outcome = yield from (in_savepoint(write) if request.deduplication_id is not None else write)
        yield from core.warn_if_unknown_queue(q, request.queue_name, outcome.queue_known)
        return outcome.workflow_id

    return make


# -- send -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Message:
    destination_id: str
    topic: str
    text: str
    tag: str
    idempotency_key: str | None


def _fields(message: Any, index: int) -> tuple[Any, Any, Any, Any, Any]:
    """A ``SendMessage`` (ours, DBOS's, or any object with its attributes) or a mapping."""
    names = ("destination_id", "message", "topic", "idempotency_key", "shard_key")
    if isinstance(message, Mapping):
        if "destination_id" not in message or "message" not in message:
            raise InvalidArgumentError(f"messages[{index}] needs a destination_id and a message")
        return tuple(message.get(n) for n in names)  # type: ignore[return-value]
    if not hasattr(message, "destination_id") or not hasattr(message, "message"):
        raise InvalidArgumentError(
            f"messages[{index}] must be a SendMessage (destination_id, message, topic, idempotency_key), "
            f"got {type(message).__name__}"
        )
    return tuple(getattr(message, n, None) for n in names)  # type: ignore[return-value]


def _prepare(core: ClientCore, messages: Any, serialization_type: FormatChoice) -> list[_Message]:
    if isinstance(messages, (str, bytes, Mapping)) or not hasattr(messages, "__iter__"):
        raise InvalidArgumentError(f"messages must be a list of SendMessage, got {type(messages).__name__}")
    tag = core.codec.tag_for(serialization_type)
    prepared: list[_Message] = []
    for index, message in enumerate(messages):
        destination_id, value, topic, key, shard_key = _fields(message, index)
        require_text(destination_id, "destination_id")
        optional_text(topic, "topic")
        optional_text(key, "idempotency_key")
        no_shard_key(shard_key, f"messages[{index}].shard_key")
        stored_topic = topic if topic is not None else NULL_TOPIC
        check_notify_payload(destination_id, stored_topic, "topic")
        prepared.append(_Message(destination_id, stored_topic, core.codec.encode(value, tag, "message"), tag, key))
    keys = [m.idempotency_key for m in prepared if m.idempotency_key]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise InvalidArgumentError(f"send_bulk received duplicate idempotency keys: {', '.join(duplicates)}")
    return prepared


def send_in_transaction(
    core: ClientCore,
    destination_id: Any,
    message: Any,
    topic: Any,
    idempotency_key: Any,
    serialization_type: FormatChoice,
    send_to_forks: Any,
    shard_key: Any,
) -> Make[None]:
    no_shard_key(shard_key)
    # Validated by _prepare: a one-message bulk send is exactly DBOS's send.
    return send_bulk_in_transaction(
        core, [(destination_id, message, topic, idempotency_key)], serialization_type, send_to_forks, single=True
    )


def send_bulk_in_transaction(
    core: ClientCore, messages: Any, serialization_type: FormatChoice, send_to_forks: Any, *, single: bool = False
) -> Make[None]:
    if not isinstance(send_to_forks, bool):
        raise InvalidArgumentError(f"send_to_forks must be True or False, got {type(send_to_forks).__name__}")
    if single:
        (destination_id, value, topic, key), = messages
        messages = [{"destination_id": destination_id, "message": value, "topic": topic, "idempotency_key": key}]
    prepared = _prepare(core, messages, serialization_type)

    def make(q: Queries) -> Op[None]:
        yield from in_savepoint(_send_all(q, prepared, send_to_forks))

    return make


def _send_all(q: Queries, messages: list[_Message], send_to_forks: bool) -> Op[None]:
    """One INSERT per recipient; every destination must exist (on SQLite, checked after
    the writes too, since the caller's connection may not enforce foreign keys: writing
    first keeps a deferred transaction from failing to upgrade its read lock)."""
    forks: dict[str, list[str]] = {}
    if send_to_forks and q.info.has("workflow_status", "forked_from"):
        walk = _fork_walk(q)
        for destination in dict.fromkeys(m.destination_id for m in messages):
            rows = yield Query(walk, (destination,), fetch="all")
            forks[destination] = sorted({r[0] for r in rows} - {destination})
    for m in messages:
        for recipient in (m.destination_id, *forks.get(m.destination_id, ())):
            # The key is scoped to the recipient, as DBOS scopes it.
            message_id = f"{m.idempotency_key}::{recipient}" if m.idempotency_key is not None else new_id()
            params: list[Any] = [recipient, m.topic, m.text, message_id]
            if q.send_has_serialization:
                params.append(m.tag)
            try:
                yield Query(q.send, params, fetch="none")
            except (pgerr.ForeignKeyViolation, ForeignKeyViolation):
                raise DBOSNonExistentWorkflowError("`send` destination", recipient, "send") from None
    if q.sqlite:
        for destination in dict.fromkeys(m.destination_id for m in messages):
            if (yield Query(q.exists, (destination,), fetch="one")) is None:
                raise DBOSNonExistentWorkflowError("`send` destination", destination, "send")


def _fork_walk(q: Queries) -> str:
    """Rows: every workflow recursively forked from %s (cycles stop: UNION drops repeats)."""
    statement = sql.SQL(
        "WITH RECURSIVE forks(id) AS (SELECT workflow_uuid FROM {s}.workflow_status WHERE forked_from = %s"
        " UNION SELECT w.workflow_uuid FROM {s}.workflow_status AS w JOIN forks ON w.forked_from = forks.id)"
        " SELECT id FROM forks"
    ).format(s=sql.Identifier(q.info.schema))
    return q._t.render(statement)
