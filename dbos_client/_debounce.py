"""DebouncerClient: debounce a workflow from outside the application, as DBOS 3.4 does.

A debounce of ``key`` for ``period`` seconds coalesces calls: while a debounced run of the
workflow waits (DELAYED) under deduplication id ``<workflow_name>-<key>`` on its queue,
each call pushes its start back to now + period (never past the debounce deadline, now +
``debounce_timeout_sec`` at the first call) and replaces its inputs; so the application
runs it once, with the last call's arguments. When no such run waits, the call enqueues
one: DELAYED by ``period`` (or until the deadline, if sooner), ``is_debounced``, with the
deadline stored on the row. All of this is in the rows, not in a process, so calls from
any number of clients and applications sharing the database coalesce alike; the runtime
(DBOS 3.4, or a late 2.x with debounced workflows) starts the run when its delay passes.

``dbos.DebouncerClient`` reaches into ``dbos.DBOSClient``'s private system database;
this one takes our ``DBOSClient`` (or ``AsyncDBOSClient``) with the same arguments and
rules, and its errors are this package's (``InvalidArgumentError`` with DBOS's messages
for an option a debounce owns, ``DeduplicatedError`` when another workflow holds the key).
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Generator, Mapping
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from . import _ops
from . import _sql_schedules as ss
from ._calls import ClientCore, _with_queries
from ._ops import Op, Query, Transaction
from ._options import build_enqueue, check_timeout, optional_text
from ._sql import Queries
from .errors import DeduplicatedError, InvalidArgumentError
from .models import EnqueueOptions, WorkflowStatusString

if TYPE_CHECKING:
    from .client import DBOSClient, WorkflowHandle
    from .client_async import AsyncDBOSClient, AsyncWorkflowHandle

R = TypeVar("R")

__all__ = ["DebouncerClient"]

#: How many times a call goes round bounce-or-enqueue before giving up; each round
#: means another caller took the key between our two steps (DBOS loops without limit).
MAX_ROUNDS = 100

_CONFLICTS = (
    (lambda o: o.get("deduplication_id") is not None,
     "Cannot debounce a workflow with a deduplication_id set: the debounce key is used as the workflow's deduplication ID."),
    (lambda o: o.get("delay_seconds") is not None,
     "Cannot debounce a workflow with a delay set: the debounce period controls the workflow's delay."),
    (lambda o: o.get("priority") is not None,
     "Cannot debounce a workflow with a priority set: priority is not supported for debounced workflows."),
    (lambda o: o.get("queue_partition_key") is not None,
     "Cannot debounce a workflow with a queue partition key set: partitioned queues do not support "
     "deduplication, which debouncing requires."),
    (lambda o: o.get("duplication_policy") == "return-existing",
     "Cannot debounce a workflow with duplication_policy 'return-existing': a debounce owns the workflow's "
     "deduplication behavior."),
    (lambda o: o.get("workflow_id_reuse_policy") == "reject",
     "Cannot debounce a workflow with workflow_id_reuse_policy 'reject': a debounce owns how its workflow is started."),
)  # fmt: skip


def check_options(options: Mapping[str, Any]) -> None:
    """The options a debounce owns must be unset, as DBOS requires (same messages)."""
    for conflicts, message in _CONFLICTS:
        if conflicts(options):
            raise InvalidArgumentError(message)


@dataclasses.dataclass(frozen=True)
class _Bounce:
    bounced: str | None = None
    holder: str | None = None
    holder_is_debounced: bool = False
    holder_name: str | None = None
    holder_application: str | None = None


def _classify(result: _Bounce, workflow_name: str, target_app: str | None) -> Literal["return", "enqueue", "raise", "retry"]:
    """DBOS's decision after a bounce attempt (``_classify_bounce``)."""
    if result.bounced is not None:
        return "return"
    if result.holder is None:
        return "enqueue"
    if not result.holder_is_debounced or result.holder_name != workflow_name:
        return "raise"
    # A foreign holder never leaves DELAYED on the target's account: retrying would spin.
    if target_app is not None and result.holder_application is not None and result.holder_application != target_app:
        return "raise"
    return "retry"


def _bounce(q: Queries, params: dict[str, Any]) -> Op[_Bounce]:
    """One transaction: extend the waiting run (and replace its inputs), or report who holds the key."""
    rows = yield Query(ss.rendered(q, "bounce", ss.bounce), params, fetch="all")
    if rows:
        workflow_id = rows[0][0]
        if q.info.is_v3:
            yield Query(ss.rendered(q, "bounce_inputs", ss.bounce_inputs), {"id": workflow_id, "inputs": params["inputs"]}, fetch="none")
        return _Bounce(bounced=workflow_id)
    holder = yield Query(ss.rendered(q, "dedup_holder", ss.dedup_holder), params, fetch="one")
    if holder is None:
        return _Bounce()
    return _Bounce(None, holder[0], bool(holder[1]), holder[2], holder[3])


def debounce(
    core: ClientCore,
    workflow_options: Mapping[str, Any],
    queue_name: str | None,
    timeout_sec: float | None,
    application_name: str | None,
    key: Any,
    period: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Op[str]:
    """Validate now; the op bounces or enqueues and returns the debounced workflow's id."""
    if not isinstance(workflow_options, Mapping):
        raise InvalidArgumentError(f"workflow_options must be a dict, got {type(workflow_options).__name__}")
    check_options(workflow_options)
    if not isinstance(key, str):
        raise InvalidArgumentError(f"debounce_key must be a string, got {type(key).__name__}")
    period_sec = check_timeout(period, "debounce_period_sec", allow_none=False)
    assert period_sec is not None
    workflow_name = workflow_options.get("workflow_name")
    queue = queue_name or workflow_options.get("queue_name")
    dedup = f"{workflow_name}-{key}"
    target_app = application_name
    if target_app is None:
        target_app = workflow_options.get("application_name")
    if target_app is None:
        target_app = core.application_name
    base = {**workflow_options, "queue_name": queue, "deduplication_id": dedup, "application_name": target_app}
    # Every check of enqueue's, before the first statement.
    tag = core.codec.tag_for(workflow_options.get("serialization_type"))
    build_enqueue({**base, "delay_seconds": period_sec}, args, kwargs, core.codec, core.application_name)
    inputs = core.codec.encode_args(tuple(args), dict(kwargs), tag)
    assert isinstance(workflow_name, str) and isinstance(queue, str)

    def run(q: Queries) -> Generator[Any, Any, str]:
        ss.require_debounce(q)
        for _ in range(MAX_ROUNDS):
            params = {
                "name": workflow_name, "queue": queue, "dedup": dedup, "inputs": inputs, "serialization": tag,
                "app": target_app, "delay": int(time.time() * 1000 + period_sec * 1000),
            }  # fmt: skip
            result: _Bounce = yield Transaction(functools.partial(_bounce, q, params))
            action = _classify(result, workflow_name, target_app)
            if action == "return":
                assert result.bounced is not None
                return result.bounced
            if action == "raise":
                raise _held(result.holder, queue, dedup)
            if action == "retry":
                continue
            now_ms = int(time.time() * 1000)
            deadline_ms = int(now_ms + timeout_sec * 1000) if timeout_sec else None
            delay = period_sec
            if deadline_ms is not None:
                delay = min(delay, max((deadline_ms - now_ms) / 1000.0, 0.0))
            request = build_enqueue({**base, "delay_seconds": delay}, args, kwargs, core.codec, core.application_name)
            row = {**request.row, "is_debounced": True, "debounce_deadline_epoch_ms": deadline_ms}
            # DELAYED even for no delay (DBOS's delay_seconds=0), so a call right after can still bounce it.
            row["status"] = WorkflowStatusString.DELAYED
            request = dataclasses.replace(request, row=row, delay_ms=int(delay * 1000))
            try:
                outcome: _ops.EnqueueOutcome = yield from _ops.enqueue(q, request)
            except DeduplicatedError:
                continue  # another caller took the key between our bounce and this insert: bounce theirs
            return outcome.workflow_id
        raise _held(None, queue, dedup)

    return _with_queries(None, run)


def _held(holder: str | None, queue: str, dedup: str) -> DeduplicatedError:
    return DeduplicatedError(
        f"workflow {holder!r} already holds deduplication id {dedup!r} on queue {queue!r}; it is not a "
        "debounced run of this workflow for this application, so it cannot be debounced",
        workflow_id=holder, queue_name=queue, deduplication_id=dedup,
    )  # fmt: skip


class DebouncerClient(Generic[R]):
    """Debounce a workflow from outside the application: ``dbos.DebouncerClient``'s API.

        debouncer = DebouncerClient(client, {"workflow_name": "process", "queue_name": "q"},
                                    debounce_timeout_sec=60)
        handle = debouncer.debounce("user-42", 5.0, event)  # runs once, 5 s after the last call

    ``client`` is a ``DBOSClient`` or an ``AsyncDBOSClient``. ``workflow_options`` are
    ``enqueue``'s options, minus those a debounce owns (``deduplication_id``,
    ``delay_seconds``, ``priority``, ``queue_partition_key``, ``duplication_policy``
    'return-existing', ``workflow_id_reuse_policy`` 'reject'). ``queue`` (a name, or
    anything with a ``name``) overrides the options' queue; ``application_name`` the
    application the debounce acts for (then the options', then the client's).
    ``debounce_timeout_sec`` caps how long calls can keep pushing the run back.
    """

    def __init__(
        self,
        client: DBOSClient | AsyncDBOSClient,
        workflow_options: EnqueueOptions,
        *,
        debounce_timeout_sec: float | None = None,
        queue: Any = None,
        application_name: str | None = None,
    ) -> None:
        self.client = client
        self.workflow_options = workflow_options
        check_timeout(debounce_timeout_sec, "debounce_timeout_sec")
        queue_name = queue if queue is None or isinstance(queue, str) else getattr(queue, "name", queue)
        self.queue_name = optional_text(queue_name, "queue")
        self.debounce_timeout_sec = debounce_timeout_sec
        self.application_name = optional_text(application_name, "application_name")

    def _op(self, core: ClientCore, key: str, period: float, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Op[str]:
        return debounce(
            core, self.workflow_options, self.queue_name, self.debounce_timeout_sec, self.application_name,
            key, period, args, kwargs,
        )  # fmt: skip

    def debounce(self, debounce_key: str, debounce_period_sec: float, *args: Any, **kwargs: Any) -> WorkflowHandle[R]:
        """Start the workflow ``debounce_period_sec`` from now, or push back the run already waiting for this key.

        A waiting run takes this call's arguments. Returns the handle of the run that will
        execute. One transaction, plus an enqueue when no run waits. Needs a ``DBOSClient``.

        Raises:
            InvalidArgumentError: an option a debounce owns is set (nothing written).
            DeduplicatedError: another kind of workflow holds the key's deduplication id.
            SchemaError: the database predates debounced workflows.
        """
        from .client import DBOSClient, WorkflowHandle

        client = self.client
        if not isinstance(client, DBOSClient):
            raise TypeError("DebouncerClient.debounce needs a DBOSClient; with an AsyncDBOSClient, await debounce_async")
        client._warn_in_event_loop("DebouncerClient.debounce", "DebouncerClient.debounce_async")
        workflow_id = client._run(self._op(client._core, debounce_key, debounce_period_sec, args, kwargs))
        return WorkflowHandle(client, workflow_id)

    async def debounce_async(
        self, debounce_key: str, debounce_period_sec: float, *args: Any, **kwargs: Any
    ) -> AsyncWorkflowHandle[R]:
        """``debounce`` for asyncio code; with a ``DBOSClient``, on its async twin."""
        from .client import DBOSClient
        from .client_async import AsyncWorkflowHandle

        client = self.client
        target = client._twin() if isinstance(client, DBOSClient) else client
        workflow_id = await target._run(self._op(target._core, debounce_key, debounce_period_sec, args, kwargs))
        return AsyncWorkflowHandle(target, workflow_id)

