"""Each public call once, for both shells: validate eagerly, then return the operation. No I/O.

``DBOSClient`` and ``AsyncDBOSClient`` differ only in how they drive what these return
(``self._run(...)`` or ``await self._run(...)``). Validation happens when the function
is called, before anything is sent, so bad input never writes anything. Every operation
first asks the shell for the schema's statements (``NeedQueries``): detecting the schema
is the first call's first round trip, bounded by that call's deadline.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import _bulk, _ops
from ._hub_state import MAX_STREAM_OFFSET
from ._ops import EventOutcome, NeedQueries, Op, Query
from ._options import (
    build_enqueue,
    build_list_filters,
    check_attributes,
    check_id_list,
    check_notify_payload,
    check_timeout,
    no_shard_key,
    optional_text,
    require_text,
)
from ._serialization import Codec, FormatChoice
from ._sql import INTERNAL_QUEUE, NULL_TOPIC, Queries
from ._wait import Deadline
from .errors import InvalidArgumentError, SchemaError
from .models import WorkflowStatus

logger = logging.getLogger("dbos_client")


@dataclass
class ClientCore:
    """What both shells share: settings and the little state that is not I/O."""

    codec: Codec
    schema_name: str
    database: str
    application_name: str | None
    #: "postgresql" or "sqlite": which statements the schema's Queries are written in.
    dialect: str = "postgresql"
    warned_queues: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def warn_if_unknown_queue(self, q: Queries, queue_name: str, known: bool | None) -> Op[None]:
        """Warn, once per queue name, that nothing will run what was just enqueued there.

        The warning names the queues that do exist (one more read, the first time only), so
        a typo is obvious. Run after the write: a failed read costs the warning its list, never
        the enqueue.
        """
        # Only 3.x requires a queues row; 2.x also polls queues declared in code.
        if known is not False or not q.info.is_v3 or queue_name == INTERNAL_QUEUE:
            return
        with self.lock:
            if queue_name in self.warned_queues:
                return
            self.warned_queues.add(queue_name)
        from ._ops_operator import list_queues  # the operator's module imports this one

        try:
            queues = yield from list_queues(q, [self.application_name] if self.application_name else None)
            names = ", ".join(repr(queue.name) for queue in queues) or "none"
        except Exception:  # noqa: BLE001 - the list only decorates the warning
            names = "unknown"
        logger.warning(
            "queue %r is not registered in this system database; its workflows stay ENQUEUED "
            "until an application declares that queue (registered queues: %s)",
            queue_name, names,
        )  # fmt: skip


def _with_queries(deadline: float | None, make: Callable[[Queries], Op[Any]]) -> Op[Any]:
    q = yield NeedQueries(deadline)
    return (yield from make(q))


def detect_schema(core: ClientCore, deadline: float | None) -> Op[Queries]:
    info = yield from _ops.detect_schema(core.schema_name, core.database, deadline, core.dialect)
    return Queries(info, core.dialect)


def deadline_for(timeout_seconds: Any, polling_interval_sec: Any = None, allow_none: bool = True) -> Deadline:
    if polling_interval_sec is not None:
        interval = check_timeout(polling_interval_sec, "polling_interval_sec")
        if interval is None or interval < 0.001:
            raise InvalidArgumentError("polling_interval_sec must be at least 0.001")
    return Deadline(check_timeout(timeout_seconds, allow_none=allow_none))


def enqueue(core: ClientCore, options: Mapping[str, Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Op[str]:
    request = build_enqueue(options, args, kwargs, core.codec, core.application_name)

    def run(q: Queries) -> Generator[Any, Any, str]:
        outcome = yield from _ops.enqueue(q, request)
        yield from core.warn_if_unknown_queue(q, request.queue_name, outcome.queue_known)
        return outcome.workflow_id

    return _with_queries(None, run)


def send(
    core: ClientCore,
    destination_id: Any,
    message: Any,
    topic: Any,
    idempotency_key: Any,
    serialization_type: FormatChoice,
) -> Op[None]:
    require_text(destination_id, "destination_id")
    optional_text(topic, "topic")
    optional_text(idempotency_key, "idempotency_key")
    check_notify_payload(destination_id, topic if topic is not None else NULL_TOPIC, "topic")
    tag = core.codec.tag_for(serialization_type)
    text = core.codec.encode(message, tag, "message")
    return _with_queries(None, lambda q: _ops.send(q, destination_id, text, tag, topic, idempotency_key))


def get_event(core: ClientCore, workflow_id: Any, key: Any, timeout_seconds: Any) -> Op[Any]:
    deadline = _check_event_args(workflow_id, key, timeout_seconds)
    return _with_queries(deadline.at, lambda q: _ops.get_event(q, core.codec, workflow_id, key, deadline))


def get_event_outcome(core: ClientCore, workflow_id: Any, key: Any, timeout_seconds: Any) -> Op[EventOutcome]:
    """``get_event``, telling "no value yet" from "never will be"; an unknown workflow raises at once."""
    deadline = _check_event_args(workflow_id, key, timeout_seconds)
    return _with_queries(deadline.at, lambda q: _ops.get_event_outcome(q, core.codec, workflow_id, key, deadline))


def _check_event_args(workflow_id: Any, key: Any, timeout_seconds: Any) -> Deadline:
    require_text(workflow_id, "workflow_id")
    require_text(key, "key")
    return deadline_for(timeout_seconds, allow_none=False)


def get_all_events(core: ClientCore, workflow_id: Any) -> Op[dict[str, Any]]:
    require_text(workflow_id, "workflow_id")
    return _with_queries(None, lambda q: _ops.get_all_events(q, core.codec, workflow_id))


def read_stream(
    core: ClientCore, workflow_id: Any, key: Any, offset: Any, timeout_seconds: Any, polling_interval_sec: Any,
    shard_key: Any = None,
) -> Op[None]:
    no_shard_key(shard_key)
    require_text(workflow_id, "workflow_id")
    require_text(key, "key")
    # Offsets are 32-bit in the streams table (and in the shared poller's query): no value lies beyond.
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= MAX_STREAM_OFFSET:
        raise InvalidArgumentError(f"offset must be an integer from 0 to {MAX_STREAM_OFFSET}, got {offset!r}")
    deadline = deadline_for(timeout_seconds, polling_interval_sec)

    def run(q: Queries) -> Op[None]:
        if not q.has_streams:
            raise SchemaError(f"{q.info.describe()} has no streams table (streams need DBOS 1.14 or later)")
        return _ops.read_stream(q, core.codec, workflow_id, key, offset, deadline)

    return _with_queries(deadline.at, run)


def ensure_exists(core: ClientCore, workflow_id: Any) -> Op[None]:
    require_text(workflow_id, "workflow_id")
    return _with_queries(None, lambda q: _ops.ensure_exists(q, workflow_id))


def cancel(core: ClientCore, workflow_ids: Any, cancel_children: Any) -> Op[None]:
    ids = check_id_list(workflow_ids)
    return _with_queries(None, lambda q: _ops.cancel(q, ids, bool(cancel_children)))


def delete(core: ClientCore, workflow_ids: Any, delete_children: Any) -> Op[None]:
    ids = check_id_list(workflow_ids)
    return _with_queries(None, lambda q: _ops.delete(q, ids, bool(delete_children)))


def list_workflows(core: ClientCore, filters: Mapping[str, Any], queues_only: bool = False) -> Op[list[WorkflowStatus]]:
    checked = build_list_filters(filters, queues_only=queues_only)
    return _with_queries(None, lambda q: _ops.list_workflows(q, core.codec, checked))


def list_steps(core: ClientCore, workflow_id: Any, load_output: Any, limit: Any, offset: Any) -> Op[list[dict[str, Any]]]:
    require_text(workflow_id, "workflow_id")
    checked = build_list_filters({"limit": limit, "offset": offset})
    return _with_queries(
        None, lambda q: _ops.list_steps(q, core.codec, workflow_id, bool(load_output), checked.limit, checked.offset)
    )


def resume(core: ClientCore, workflow_id: Any, queue_name: Any) -> Op[None]:
    require_text(workflow_id, "workflow_id")
    optional_text(queue_name, "queue_name")
    return _with_queries(None, lambda q: _ops.resume(q, workflow_id, queue_name))


def get_status(core: ClientCore, workflow_id: str) -> Op[WorkflowStatus]:
    return _with_queries(None, lambda q: _ops.get_status(q, core.codec, workflow_id))


def get_result(core: ClientCore, workflow_id: str, timeout_seconds: Any, polling_interval_sec: Any) -> Op[Any]:
    deadline = deadline_for(timeout_seconds, polling_interval_sec)
    return _with_queries(deadline.at, lambda q: _ops.get_result(q, core.codec, workflow_id, deadline))


# -- bulk calls and fan-out waits (ops in ``_bulk``) ---------------------------------------

_MESSAGE_FIELDS = ("destination_id", "message", "topic", "idempotency_key", "shard_key")


def send_bulk(core: ClientCore, messages: Any, serialization_type: FormatChoice, send_to_forks: Any) -> Op[None]:
    """Check and serialize every message before anything is written; then one transaction.

    About 5 us a message here (10,000 in 50 ms): the messages' names go into an error's
    text only when there is an error to report.
    """
    if isinstance(messages, (str, bytes)) or not isinstance(messages, (list, tuple)):
        raise InvalidArgumentError(f"messages must be a list of SendMessage, got {type(messages).__name__}")
    fields = []
    for i, m in enumerate(messages):
        try:
            fields.append((m.destination_id, m.message, m.topic, m.idempotency_key, getattr(m, "shard_key", None)))
        except AttributeError:
            raise InvalidArgumentError(f"messages[{i}] is not a SendMessage (got {type(m).__name__})") from None
    # As DBOS: a key given twice is refused whatever the destinations (nothing is sent).
    keys = [f[3] for f in fields if f[3]]
    if len(keys) != len(set(keys)):
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        raise InvalidArgumentError(f"send_bulk received duplicate idempotency keys: {', '.join(duplicates)}")
    tag = core.codec.tag_for(serialization_type)
    ids = _bulk.message_ids(len(fields))
    prepared = []
    for i, (destination_id, message, topic, key, shard_key) in enumerate(fields):
        if not _plain_text(destination_id) or not (topic is None or _plain_text(topic)) or not (key is None or _plain_text(key)):
            _check_message(i, destination_id, topic, key)  # raises, naming what is wrong
        no_shard_key(shard_key, f"messages[{i}].shard_key")
        if len(destination_id) + len(topic or NULL_TOPIC) > 1000:  # only long ids can reach NOTIFY's limit
            check_notify_payload(destination_id, topic if topic is not None else NULL_TOPIC, f"messages[{i}].topic")
        text = core.codec.encode(message, tag, f"message {i}")
        message_id = f"{key}::{destination_id}" if key is not None else ids[i]
        prepared.append(_bulk.BulkMessage(destination_id, topic, text, tag, key, message_id))
    if not prepared:
        return _nothing()
    return _with_queries(None, lambda q: _bulk.send_bulk(q, prepared, bool(send_to_forks)))


def _plain_text(value: Any) -> bool:
    """The common case of ``require_text``, cheaply: a non-blank string without NUL."""
    return type(value) is str and value.strip() != "" and "\x00" not in value


def _check_message(i: int, destination_id: Any, topic: Any, key: Any) -> None:
    require_text(destination_id, f"messages[{i}].destination_id")
    optional_text(topic, f"messages[{i}].topic")
    optional_text(key, f"messages[{i}].idempotency_key")


def _nothing() -> Op[None]:
    return None
    yield  # an op that does nothing: no round trip for an empty batch


def enqueue_bulk(core: ClientCore, items: Any) -> Op[list[str]]:
    """Check and serialize every workflow before anything is written; then one transaction."""
    if isinstance(items, (str, bytes)) or not isinstance(items, (list, tuple)):
        raise InvalidArgumentError(f"items must be a list of EnqueueItem, got {type(items).__name__}")
    requests = []
    for i, item in enumerate(items):
        if isinstance(item, tuple) and 1 <= len(item) <= 3:
            options, args, kwargs = (*item, (), None)[:3]
        elif hasattr(item, "options"):
            options, args, kwargs = item.options, getattr(item, "args", ()), getattr(item, "kwargs", None)
        else:
            raise InvalidArgumentError(f"items[{i}] must be an EnqueueItem or an (options, args, kwargs) tuple")
        if not isinstance(args, (list, tuple)) or not isinstance(kwargs or {}, dict):
            raise InvalidArgumentError(f"items[{i}]: args must be a tuple and kwargs a dict")
        req = build_enqueue(options, tuple(args), dict(kwargs or {}), core.codec, core.application_name)
        if req.return_existing_on_dedup:
            raise InvalidArgumentError(
                f"items[{i}]: duplication_policy='return-existing' is not supported by enqueue_bulk "
                "(a taken deduplication id refuses the whole batch)"
            )
        requests.append(req)
    ids = [r.workflow_id for r in requests]
    if len(ids) != len(set(ids)):
        duplicates = sorted({w for w in ids if ids.count(w) > 1})
        raise InvalidArgumentError(f"enqueue_bulk received duplicate workflow ids: {', '.join(duplicates)}")
    if not requests:
        return _no_ids()

    def run(q: Queries) -> Generator[Any, Any, list[str]]:
        outcomes = yield from _bulk.enqueue_bulk(q, requests)
        for req, outcome in zip(requests, outcomes, strict=True):
            yield from core.warn_if_unknown_queue(q, req.queue_name, outcome.queue_known)
        return [o.workflow_id for o in outcomes]

    return _with_queries(None, run)


def _no_ids() -> Op[list[str]]:
    return []
    yield


def wait_handles(handles: Any) -> dict[str, Any]:
    """DBOS's checks on ``wait_first``'s handles; the handles by workflow id, in order."""
    if isinstance(handles, (str, bytes)) or not isinstance(handles, (list, tuple)):
        raise InvalidArgumentError(f"handles must be a list of workflow handles, got {type(handles).__name__}")
    if not handles:
        raise InvalidArgumentError("handles must not be empty")
    by_id: dict[str, Any] = {}
    for i, handle in enumerate(handles):
        by_id[require_text(getattr(handle, "workflow_id", None), f"handles[{i}].workflow_id")] = handle
    if len(by_id) != len(handles):
        raise InvalidArgumentError("handles must not contain duplicate workflow IDs")
    return by_id


def wait_first(core: ClientCore, workflow_ids: list[str], timeout_seconds: Any, polling_interval_sec: Any) -> Op[str]:
    deadline = deadline_for(timeout_seconds, polling_interval_sec)
    return _with_queries(deadline.at, lambda q: _bulk.wait_first(q, workflow_ids, deadline))


def wait_all(core: ClientCore, workflow_ids: list[str], timeout_seconds: Any, polling_interval_sec: Any) -> Op[None]:
    deadline = deadline_for(timeout_seconds, polling_interval_sec)
    return _with_queries(deadline.at, lambda q: _bulk.wait_all(q, workflow_ids, deadline))


__all__ = ["ClientCore", "EventOutcome", "NeedQueries", "Query"]


# -- read_stream_offset, update_workflow_attributes, set_workflow_delay, resume_workflows ---


def read_stream_offset(
    core: ClientCore, workflow_id: Any, key: Any, offset: Any, timeout_seconds: Any, polling_interval_sec: Any
) -> Op[Any]:
    require_text(workflow_id, "workflow_id")
    require_text(key, "key")
    # Bounded as read_stream's: an offset past Postgres's int would break the shared poller's query.
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= MAX_STREAM_OFFSET:
        raise InvalidArgumentError(f"offset must be an integer from 0 to {MAX_STREAM_OFFSET}, got {offset!r}")
    deadline = deadline_for(timeout_seconds, polling_interval_sec)

    def run(q: Queries) -> Op[Any]:
        if not q.has_streams:
            raise SchemaError(f"{q.info.describe()} has no streams table (streams need DBOS 1.14 or later)")
        return _ops.read_stream_offset(q, core.codec, workflow_id, key, offset, deadline)

    return _with_queries(deadline.at, run)


def update_attributes(core: ClientCore, workflow_id: Any, attributes: Any, merge: Any) -> Op[None]:
    require_text(workflow_id, "workflow_id")
    checked = check_attributes(attributes)
    if merge and checked is None:
        raise InvalidArgumentError("Cannot merge None into workflow attributes")
    return _with_queries(None, lambda q: _ops.update_attributes(q, workflow_id, checked, bool(merge)))


def set_delay(core: ClientCore, workflow_id: Any, delay_seconds: Any, delay_until_epoch_ms: Any) -> Op[None]:
    """DBOS's rules: exactly one of the two, neither negative."""
    require_text(workflow_id, "workflow_id")
    if delay_until_epoch_ms is not None and delay_seconds is not None:
        raise InvalidArgumentError("Specify either delay_seconds or delay_until_epoch_ms, not both")
    until_ms = delay_ms = None
    if delay_until_epoch_ms is not None:
        if isinstance(delay_until_epoch_ms, bool) or not isinstance(delay_until_epoch_ms, int):
            raise InvalidArgumentError(f"delay_until_epoch_ms must be an integer, got {delay_until_epoch_ms!r}")
        if delay_until_epoch_ms < 0:
            raise InvalidArgumentError("delay_until_epoch_ms must be >= 0")
        until_ms = delay_until_epoch_ms
    elif delay_seconds is not None:
        if not isinstance(delay_seconds, bool) and isinstance(delay_seconds, (int, float)) and delay_seconds < 0:
            raise InvalidArgumentError("delay_seconds must be >= 0")
        seconds = check_timeout(delay_seconds, "delay_seconds")
        delay_ms = int((seconds or 0) * 1000)
    else:
        raise InvalidArgumentError("Must specify either delay_seconds or delay_until_epoch_ms")
    return _with_queries(None, lambda q: _ops.set_delay(q, workflow_id, delay_ms, until_ms))


def resume_many(core: ClientCore, workflow_ids: Any, queue_name: Any) -> Op[None]:
    ids = check_id_list(workflow_ids)
    optional_text(queue_name, "queue_name")
    return _with_queries(None, lambda q: _ops.resume_many(q, ids, queue_name))
