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

from . import _ops
from ._hub_state import MAX_STREAM_OFFSET
from ._ops import EventOutcome, NeedQueries, Op, Query
from ._options import (
    build_enqueue,
    build_list_filters,
    check_id_list,
    check_notify_payload,
    check_timeout,
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

    def warn_if_unknown_queue(self, q: Queries, queue_name: str, known: bool | None) -> None:
        # Only 3.x requires a queues row; 2.x also polls queues declared in code.
        if known is not False or not q.info.is_v3 or queue_name == INTERNAL_QUEUE:
            return
        with self.lock:
            if queue_name in self.warned_queues:
                return
            self.warned_queues.add(queue_name)
        logger.warning(
            "queue %r is not registered in this system database; its workflows stay ENQUEUED "
            "until an application declares that queue",
            queue_name,
        )


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
        core.warn_if_unknown_queue(q, request.queue_name, outcome.queue_known)
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
    core: ClientCore, workflow_id: Any, key: Any, offset: Any, timeout_seconds: Any, polling_interval_sec: Any
) -> Op[None]:
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


__all__ = ["ClientCore", "EventOutcome", "NeedQueries", "Query"]
