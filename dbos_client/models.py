"""Public data shapes: enqueue options, workflow status, and the client's policies."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Literal

from typing_extensions import NotRequired, Required, TypedDict

from ._serialization import WorkflowSerializationFormat
from .errors import InvalidArgumentError, QueueNotFoundError

__all__ = [
    "EnqueueOptions",
    "ListWorkflowsFilters",
    "WorkflowStatus",
    "WorkflowStatusString",
    "RetryPolicy",
    "PollPolicy",
    "ACTIVE_STATUSES",
    "FINAL_STATUSES",
    "ALL_STATUSES",
    "SendMessage",
    "EnqueueItem",
    "WorkflowSchedule",
    "ClientScheduleInput",
]


class EnqueueOptions(TypedDict, total=False):
    """Options of ``enqueue``: the keys of ``dbos.EnqueueOptions`` (3.4).

    Only ``workflow_name`` and ``queue_name`` are required. Unknown keys are refused.
    ``otel_context`` is an OpenTelemetry ``Context`` (needs the ``otel`` extra): its W3C
    trace context is stored in the attributes, as DBOS does, so the workflow joins that trace.
    ``shard_key`` is a DBOS key this client does not support: refused with an error rather
    than silently ignored.
    """

    workflow_name: Required[str]
    queue_name: Required[str]
    workflow_id: NotRequired[str]
    workflow_id_reuse_policy: NotRequired[Literal["return-existing", "reject"]]
    app_version: NotRequired[str]
    workflow_timeout: NotRequired[float]
    delay_seconds: NotRequired[float]
    deduplication_id: NotRequired[str]
    duplication_policy: NotRequired[Literal["reject", "return-existing"]]
    priority: NotRequired[int]
    queue_partition_key: NotRequired[str]
    authenticated_user: NotRequired[str]
    authenticated_roles: NotRequired[list[str]]
    serialization_type: NotRequired[WorkflowSerializationFormat | str | None]
    class_name: NotRequired[str]
    instance_name: NotRequired[str]
    attributes: NotRequired[dict[str, Any]]
    application_name: NotRequired[str | None]
    otel_context: NotRequired[Any]
    shard_key: NotRequired[str]
    #: dbos-client's own: True refuses keyword arguments (InvalidArgumentError, before any write).
    #: Portable JSON writes them as ``namedArgs``, which the DBOS TypeScript runtime drops.
    reject_keyword_args: NotRequired[bool]


class ListWorkflowsFilters(TypedDict, total=False):
    """The keyword filters of ``list_workflows``: those of ``dbos.DBOSClient.list_workflows`` (3.4).

    A value or a list of values matches any of them. Times are ISO 8601 strings (as DBOS
    takes them), datetimes or epoch milliseconds. ``attributes`` matches workflows
    whose attributes contain every given key-value pair (Postgres only, as in DBOS).
    ``shard_key`` and ``parent_shard_key`` are refused with an error rather than ignored;
    unknown keys too.
    """

    workflow_ids: list[str]
    status: str | list[str]
    start_time: Any
    end_time: Any
    completed_after: Any
    completed_before: Any
    dequeued_after: Any
    dequeued_before: Any
    name: str | list[str]
    app_version: str | list[str]
    forked_from: str | list[str]
    parent_workflow_id: str | list[str]
    user: str | list[str]
    queue_name: str | list[str]
    limit: int | None
    offset: int | None
    sort_desc: bool
    workflow_id_prefix: str | list[str]
    load_input: bool
    load_output: bool
    executor_id: str | list[str]
    queues_only: bool
    was_forked_from: bool | None
    is_fork: bool | None
    has_parent: bool | None
    attributes: dict[str, Any] | None
    schedule_name: str | list[str]
    application_name: str | list[str]
    shard_key: str | list[str]
    parent_shard_key: str | list[str]


class WorkflowStatusString:
    """The values of ``workflow_status.status``: declared here once.

    Every status the client writes, compares or puts into SQL comes from here (and from
    the sets below); ``_sql_common.status_in`` renders a set into a statement.
    """

    PENDING = "PENDING"
    ENQUEUED = "ENQUEUED"
    DELAYED = "DELAYED"
    SUCCESS = "SUCCESS"
    ERROR = "ERROR"
    CANCELLED = "CANCELLED"
    MAX_RECOVERY_ATTEMPTS_EXCEEDED = "MAX_RECOVERY_ATTEMPTS_EXCEEDED"


_S = WorkflowStatusString
#: Every status DBOS writes.
ALL_STATUSES = frozenset(value for name, value in vars(WorkflowStatusString).items() if name.isupper())
#: A workflow in one of these may still run, publish and write.
ACTIVE_STATUSES = frozenset({_S.PENDING, _S.ENQUEUED, _S.DELAYED})
#: Finished for good: no resume, no fork in place, nothing more will be written. (A
#: CANCELLED or dead-lettered workflow is not active, but can still be resumed.)
FINAL_STATUSES = frozenset({_S.SUCCESS, _S.ERROR})


@dataclass
class WorkflowStatus:
    """A workflow's row, with the field names of ``dbos.WorkflowStatus``.

    Times are Unix epoch milliseconds. ``input``, ``output`` and ``error`` are decoded;
    a value this client cannot decode (say, a pickled class it cannot import) is left as
    its stored text, as DBOS does, so reading a status never fails on a payload.
    Columns the database's schema version lacks read as None.
    """

    workflow_id: str
    status: str
    name: str
    class_name: str | None = None
    config_name: str | None = None
    authenticated_user: str | None = None
    assumed_role: str | None = None
    authenticated_roles: list[str] | None = None
    input: dict[str, Any] | None = None
    output: Any = None
    error: BaseException | None = None
    created_at: int | None = None
    updated_at: int | None = None
    queue_name: str | None = None
    executor_id: str | None = None
    app_version: str | None = None
    app_id: str | None = None
    recovery_attempts: int | None = None
    workflow_timeout_ms: int | None = None
    workflow_deadline_epoch_ms: int | None = None
    deduplication_id: str | None = None
    priority: int | None = None
    queue_partition_key: str | None = None
    forked_from: str | None = None
    was_forked_from: bool = False
    parent_workflow_id: str | None = None
    dequeued_at: int | None = None
    delay_until_epoch_ms: int | None = None
    completed_at: int | None = None
    attributes: dict[str, Any] | None = None
    schedule_name: str | None = None
    application_name: str | None = None
    serialization: str | None = field(default=None, repr=False)

    @property
    def is_active(self) -> bool:
        """True while the workflow is ENQUEUED, PENDING or DELAYED."""
        return self.status in ACTIVE_STATUSES


@dataclass(frozen=True)
class RetryPolicy:
    """How transient database failures are retried.

    A failure is transient when the connection was lost or refused, the server is shutting
    down or out of connections, or the transaction hit a serialization failure or deadlock.
    Statement timeouts and cancellations are never retried. A waiting call also stops
    retrying at its own deadline. When retries run out, ``DatabaseUnavailableError``.
    """

    max_attempts: int | None = 8
    """Attempts per statement, the first included. None: no limit (then budget_seconds bounds it)."""
    initial_seconds: float = 0.05
    """First back-off delay; doubles after each failure."""
    max_seconds: float = 2.0
    """Cap on one back-off delay."""
    jitter_seconds: float = 0.05
    """Random extra added to each delay, so many clients do not retry in lockstep."""
    budget_seconds: float | None = 30.0
    """Total time spent on one statement, retries included. None: no limit."""

    def __post_init__(self) -> None:
        from .errors import InvalidArgumentError

        if self.max_attempts is not None and self.max_attempts < 1:
            raise InvalidArgumentError("RetryPolicy.max_attempts must be at least 1 or None")
        for name in ("initial_seconds", "max_seconds", "jitter_seconds"):
            if getattr(self, name) < 0:
                raise InvalidArgumentError(f"RetryPolicy.{name} must not be negative")
        if self.budget_seconds is not None and self.budget_seconds <= 0:
            raise InvalidArgumentError("RetryPolicy.budget_seconds must be positive or None")


@dataclass(frozen=True)
class PollPolicy:
    """How a client's waiting calls are woken.

    All waits of one client share one listener connection (LISTEN/NOTIFY) and one poller,
    which re-checks every pending wait in a single query per tick, however many there are.
    The poller ticks every ``interval_seconds`` unless notifications are known to work
    (the listener is connected, its self-test notification arrived, and no notification
    has been missed lately); then it ticks every ``max_interval_seconds`` as a safety net.
    Waits on results always get the fast tick: DBOS never notifies a completion.
    """

    interval_seconds: float = 0.05
    """Poller tick while notifications are absent or not trusted."""
    max_interval_seconds: float = 1.0
    """Poller tick while notifications are known to work."""
    use_notifications: bool = True
    """Listen for NOTIFY at all. False: the poller alone wakes waits (at interval_seconds)."""

    def __post_init__(self) -> None:
        from .errors import InvalidArgumentError

        if not 0 < self.interval_seconds <= self.max_interval_seconds:
            raise InvalidArgumentError("PollPolicy needs 0 < interval_seconds <= max_interval_seconds")


# -- the operator's surface: queues, application versions, rename -----------------------------


class QueueRateLimit(TypedDict):
    """At most ``limit`` workflows of the queue start within any ``period`` seconds (DBOS's shape)."""

    limit: int
    period: float


@dataclass(frozen=True)
class Queue:
    """A queue's row in the system database, as ``register_queue``/``retrieve_queue``/``list_queues`` return it.

    The fields ``dbos.Queue`` exposes, read once: a snapshot (DBOS's Queue re-reads the
    row on each property access). ``None`` means no limit. A queue a client returned is
    bound to it, and has DBOS's setters: ``set_global_concurrency(8)`` checks the value
    as DBOS does (``InvalidArgumentError``, DBOS's message), writes the row in one
    transaction and updates this snapshot; ``get_global_concurrency_async()`` and the other
    ``get_*_async`` re-read it. On a queue from ``AsyncDBOSClient`` only the ``*_async``
    ones work. The binding is not part of ``==``, ``repr`` or a pickle: an unpickled or
    hand-made Queue is a plain snapshot, and its setters raise.
    """

    name: str
    concurrency: int | None = None
    """The most workflows of this queue running at once across all executors."""
    worker_concurrency: int | None = None
    """The most running at once on one executor."""
    limiter: QueueRateLimit | None = None
    partition_concurrency: int | None = None
    partition_worker_concurrency: int | None = None
    partition_limiter: QueueRateLimit | None = None
    polling_interval_sec: float = 1.0
    """How often the application's workers poll this queue."""
    application_name: str | None = None
    """The application that owns (and polls) the queue; None: unclaimed, polled by every application."""

    @property
    def global_concurrency(self) -> int | None:
        """``concurrency``, under DBOS 3's name for it."""
        return self.concurrency

    @property
    def database_backed_queue(self) -> bool:
        """Always True: every queue a client sees is a row of the queues table."""
        return True

    # -- the binding to the client that returned it (not a field: not in ==, repr, pickle) --

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_client", None)
        return state

    def _bound(self) -> Any:
        client = self.__dict__.get("_client")
        if client is None:
            raise InvalidArgumentError(
                f"Queue {self.name!r} is a snapshot not bound to a client (made by hand, copied or unpickled): "
                "get it from a client's register_queue, retrieve_queue or list_queues to change it"
            )
        return client

    def _sync_client(self, method: str) -> Any:
        client = self._bound()
        if client._kind == "AsyncDBOSClient":
            raise InvalidArgumentError(
                f"Queue {self.name!r} came from an AsyncDBOSClient, whose calls run on its event loop: "
                f"use 'await queue.{method}_async(...)'"
            )
        return client

    async def _run_async(self, make: Any) -> Any:
        client = self._bound()
        # DBOSClient's *_async calls run on its AsyncDBOSClient twin, as its own do.
        runner = client if client._kind == "AsyncDBOSClient" else client._twin()
        return await runner._run(make(runner._core))

    def _refresh(self, latest: Queue) -> None:
        for f in fields(self):
            object.__setattr__(self, f.name, getattr(latest, f.name))

    def _set(self, attr: str, value: Any, method: str) -> None:
        from ._calls_operator import set_queue

        client = self._sync_client(method)
        client._warn_in_event_loop(f"Queue.{method}", f"Queue.{method}_async")
        self._refresh(client._run(set_queue(client._core, self.name, attr, value)))

    async def _set_async(self, attr: str, value: Any) -> None:
        from ._calls_operator import set_queue

        self._refresh(await self._run_async(lambda core: set_queue(core, self.name, attr, value)))

    async def _reread_async(self) -> None:
        from ._calls_operator import retrieve_queue

        latest = await self._run_async(lambda core: retrieve_queue(core, self.name))
        if latest is None:
            raise QueueNotFoundError(f"Queue {self.name} not found in the database", queue_name=self.name)
        self._refresh(latest)

    # DBOS's setters. Each: one transaction (read the row, locked on Postgres; check the value
    # against its other limits; UPDATE), blocking the calling thread (the *_async ones: the
    # awaiting task) for those round trips, with the client's retries on a lost connection.
    # A deleted queue raises QueueNotFoundError.

    def set_concurrency(self, value: int | None) -> None:
        """Deprecated in DBOS for ``set_global_concurrency``; the same."""
        self._set("concurrency", value, "set_concurrency")

    async def set_concurrency_async(self, value: int | None) -> None:
        await self._set_async("concurrency", value)

    def set_global_concurrency(self, value: int | None) -> None:
        """The most workflows of this queue running at once across all executors (None: no limit)."""
        self._set("concurrency", value, "set_global_concurrency")

    async def set_global_concurrency_async(self, value: int | None) -> None:
        await self._set_async("concurrency", value)

    def set_worker_concurrency(self, value: int | None) -> None:
        """The most running at once on one executor; at most the global concurrency."""
        self._set("worker_concurrency", value, "set_worker_concurrency")

    async def set_worker_concurrency_async(self, value: int | None) -> None:
        await self._set_async("worker_concurrency", value)

    def set_partition_concurrency(self, value: int | None) -> None:
        """The most running at once per partition key (at least 1)."""
        self._set("partition_concurrency", value, "set_partition_concurrency")

    async def set_partition_concurrency_async(self, value: int | None) -> None:
        await self._set_async("partition_concurrency", value)

    def set_partition_worker_concurrency(self, value: int | None) -> None:
        """The most running at once per partition key on one executor (at least 1)."""
        self._set("partition_worker_concurrency", value, "set_partition_worker_concurrency")

    async def set_partition_worker_concurrency_async(self, value: int | None) -> None:
        await self._set_async("partition_worker_concurrency", value)

    def set_limiter(self, value: QueueRateLimit | None) -> None:
        """At most ``limit`` starts per ``period`` seconds (None: no rate limit)."""
        self._set("limiter", value, "set_limiter")

    async def set_limiter_async(self, value: QueueRateLimit | None) -> None:
        await self._set_async("limiter", value)

    def set_partition_limiter(self, value: QueueRateLimit | None) -> None:
        """The rate limit per partition key (None: none)."""
        self._set("partition_limiter", value, "set_partition_limiter")

    async def set_partition_limiter_async(self, value: QueueRateLimit | None) -> None:
        await self._set_async("partition_limiter", value)

    def set_polling_interval_sec(self, value: float) -> None:
        """How often the application's workers poll the queue (positive); they see it on their next poll."""
        self._set("polling_interval_sec", value, "set_polling_interval_sec")

    async def set_polling_interval_sec_async(self, value: float) -> None:
        await self._set_async("polling_interval_sec", value)

    # DBOS's async getters: one query re-reads the row (into this snapshot); the sync
    # attributes above stay the snapshot, since reading them cannot block here.

    async def get_concurrency_async(self) -> int | None:
        await self._reread_async()
        return self.concurrency

    async def get_global_concurrency_async(self) -> int | None:
        await self._reread_async()
        return self.concurrency

    async def get_worker_concurrency_async(self) -> int | None:
        await self._reread_async()
        return self.worker_concurrency

    async def get_partition_concurrency_async(self) -> int | None:
        await self._reread_async()
        return self.partition_concurrency

    async def get_partition_worker_concurrency_async(self) -> int | None:
        await self._reread_async()
        return self.partition_worker_concurrency

    async def get_limiter_async(self) -> QueueRateLimit | None:
        await self._reread_async()
        return self.limiter

    async def get_partition_limiter_async(self) -> QueueRateLimit | None:
        await self._reread_async()
        return self.partition_limiter

    async def get_polling_interval_sec_async(self) -> float:
        await self._reread_async()
        return self.polling_interval_sec

    def enqueue(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        """Refused, as on DBOS's client-bound Queue: use the client's ``enqueue``."""
        raise InvalidArgumentError(
            f"Cannot enqueue on queue {self.name} from a client-bound Queue object. Use DBOSClient.enqueue instead."
        )

    async def enqueue_async(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        """Refused, as on DBOS's client-bound Queue: use the client's ``enqueue``."""
        self.enqueue(func, *args, **kwargs)


def bind_queue(queue: Queue, client: Any) -> Queue:
    """Bind ``queue`` to the client that read it, for its setters (not a field: see Queue)."""
    object.__setattr__(queue, "_client", client)
    return queue


class VersionInfo(TypedDict):
    """One registered application version (DBOS's ``VersionInfo``); times in epoch ms."""

    version_id: str
    version_name: str
    version_timestamp: int
    created_at: int
    application_name: str | None


class ApplicationRowCounts(TypedDict):
    """Rows ``rename_application`` moved, by table (DBOS's ``ApplicationRowCounts``)."""

    queues: int
    schedules: int
    versions: int
    workflows: int
    steps: int


__all__ += ["Queue", "QueueRateLimit", "VersionInfo", "ApplicationRowCounts"]

@dataclass
class SendMessage:
    """One message of ``send_bulk``: the fields, order and defaults of ``dbos.SendMessage``.

    ``send_bulk`` takes these, ``dbos.SendMessage`` objects, or anything with the same
    attributes. ``shard_key`` exists for compatibility: this client talks to unsharded
    system databases only, so a message that sets it is refused.
    """

    destination_id: str
    message: Any
    topic: str | None = None
    idempotency_key: str | None = None
    shard_key: str | None = None


@dataclass
class EnqueueItem:
    """One workflow of ``enqueue_bulk`` (this client's extension): ``enqueue``'s arguments.

    ``enqueue_bulk([EnqueueItem(options, (arg1, arg2), {"kw": 3}), ...])`` is
    ``enqueue(options, arg1, arg2, kw=3)`` for each, in one transaction.
    """

    options: EnqueueOptions
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

# -- schedules (DBOS 3.4's WorkflowSchedule and ClientScheduleInput) ---------------------


@dataclass
class WorkflowSchedule:
    """One row of DBOS's ``workflow_schedules`` table: the fields of ``dbos.WorkflowSchedule``.

    DBOS's is a TypedDict; this is a dataclass that also reads like one (``s["status"]``,
    ``s.get("queue_name")``, ``"status" in s``, ``dict(s)``), so code written for
    ``dbos.DBOSClient`` keeps working. ``context`` is decoded with the client's
    serializer; a context it cannot decode is left as its stored text, as DBOS does.
    ``last_fired_at`` is the ISO 8601 time the application last fired it.
    ``shard_key`` is always None (sharded system databases are not supported).
    """

    schedule_id: str
    schedule_name: str
    workflow_name: str
    workflow_class_name: str | None
    schedule: str
    status: str
    context: Any
    last_fired_at: str | None = None
    automatic_backfill: bool = False
    cron_timezone: str | None = None
    queue_name: str | None = None
    application_name: str | None = None
    shard_key: str | None = None

    def __getitem__(self, key: str) -> Any:
        if key not in self.__dataclass_fields__:
            raise KeyError(key)
        return getattr(self, key)

    def __setitem__(self, key: str, value: Any) -> None:
        if key not in self.__dataclass_fields__:
            raise KeyError(key)
        setattr(self, key, value)

    def __contains__(self, key: object) -> bool:
        return key in self.__dataclass_fields__

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key) if key in self.__dataclass_fields__ else default

    def keys(self) -> list[str]:
        return list(self.__dataclass_fields__)


class ClientScheduleInput(TypedDict, total=False):
    """One entry of ``apply_schedules``: the keys of ``dbos.ClientScheduleInput`` (3.4).

    ``schedule_name``, ``workflow_name`` and ``schedule`` (a cron expression) are required.
    ``application_name`` unset means the client's own; ``shard_key`` must stay None.
    """

    schedule_name: str
    workflow_name: str
    workflow_class_name: str | None
    schedule: str
    context: Any
    automatic_backfill: bool
    cron_timezone: str | None
    queue_name: str | None
    application_name: str | None
    shard_key: str | None
