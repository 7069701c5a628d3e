"""DBOSClient: the public synchronous API, and the I/O that only it does.

The calls are built in ``_calls`` and their logic lives in ``_ops`` as generators; this
module drives them on threads: it runs each ``Query`` on a pooled connection (retrying
transient failures), waits on the client's wait hub, and hands each ``Emit`` on.
``AsyncDBOSClient`` (client_async.py) drives the very same operations with asyncio.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import threading
import time
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, Concatenate, Literal, TypeVar

import psycopg
from typing_extensions import ParamSpec, Unpack

from . import _calls, _ops
from ._base import NOTHING, OP_ERRORS, ClientBase, HandleBase, OpState
from ._hub import Waiter, WaitHub
from ._lazy import LazyModule
from ._ops import Emit, NeedQueries, Op, Query, Subscribe, Transaction, Wait
from ._pool import ConnectionPool, DeadlineConnection
from ._retry import is_transient
from ._schema import SchemaInfo
from ._serialization import FormatChoice
from ._sql import Queries
from ._txn import fetch
from .client_async import AsyncDBOSClient
from .errors import SchemaError
from .models import (
    ApplicationRowCounts,
    ClientScheduleInput,
    EnqueueItem,
    EnqueueOptions,
    ListWorkflowsFilters,
    Queue,
    QueueRateLimit,
    SendMessage,
    VersionInfo,
    WorkflowSchedule,
    WorkflowStatus,
)

if TYPE_CHECKING:
    from . import _calls_operator, _outbox, _schedules
else:  # loaded on first use (see _lazy)
    _calls_operator = LazyModule("dbos_client._calls_operator")
    _outbox = LazyModule("dbos_client._outbox")
    _schedules = LazyModule("dbos_client._schedules")

logger = logging.getLogger("dbos_client")

R = TypeVar("R")
T = TypeVar("T")


class WorkflowHandle(HandleBase[R]):
    """A reference to one workflow. Creating it does no I/O; each method is one call.

    Same surface as the handles ``dbos.DBOSClient`` returns: ``workflow_id``,
    ``get_workflow_id()``, ``get_status()`` and ``get_result()``.
    """

    _client: DBOSClient

    def get_status(self) -> WorkflowStatus:
        """Read the workflow's current status row. One query; never waits.

        Raises:
            WorkflowNotFoundError: no such workflow.
        """
        self._client._warn_in_event_loop("get_status", "AsyncWorkflowHandle.get_status")
        return self._client._run(_calls.get_status(self._client._core, self.workflow_id))

    def get_result(self, *, timeout_seconds: float | None = None, polling_interval_sec: float | None = None) -> R:
        """Block until the workflow finishes, then return its value or raise its error.

        Blocks until the workflow reaches SUCCESS, ERROR, CANCELLED or
        MAX_RECOVERY_ATTEMPTS_EXCEEDED, or until ``timeout_seconds`` pass (None: no limit,
        as in DBOS). DBOS sends no notification on completion, so the client's shared
        poller notices it, within ``PollPolicy.interval_seconds`` (50 ms by default).
        ``polling_interval_sec`` is DBOS's keyword: accepted and checked, but the shared
        poller's schedule applies.

        Raises:
            The workflow's own exception (or ``PortableWorkflowError``) if it ended in ERROR.
            WorkflowCancelledError / MaxRecoveryAttemptsExceededError: no result will come.
            ResultTimeoutError: ``timeout_seconds`` passed first.
            WorkflowNotFoundError: no such workflow (raised at once, not after a timeout).
        """
        self._client._warn_in_event_loop("get_result", "AsyncWorkflowHandle.get_result")
        op = _calls.get_result(self._client._core, self.workflow_id, timeout_seconds, polling_interval_sec)
        return self._client._run(op)  # type: ignore[no-any-return]


P = ParamSpec("P")


def _on_twin(method: Callable[Concatenate[AsyncDBOSClient, P], T]) -> Callable[Concatenate[DBOSClient, P], T]:
    """DBOS's ``x_async`` name on DBOSClient: ``AsyncDBOSClient.x``, run on the client's async twin.

    Written once, in AsyncDBOSClient; the alias takes its signature, docstring and types.
    """
    if inspect.iscoroutinefunction(method):

        async def on_twin_async(self: DBOSClient, /, *args: P.args, **kwargs: P.kwargs) -> Any:
            return await method(self._twin(), *args, **kwargs)

        return functools.wraps(method)(on_twin_async)  # type: ignore[return-value]

    def on_twin(self: DBOSClient, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return method(self._twin(), *args, **kwargs)

    return functools.wraps(method)(on_twin)


class DBOSClient(ClientBase):
    """Talk to the workflows of a DBOS application through its system database.

    The constructor connects (unless ``lazy=True``), as ``dbos.DBOSClient`` does: one attempt,
    no retries, bounded by the connect timeout (10 s unless the URL says ``connect_timeout``)
    and as long again for its two queries. That connection stays in the client's small psycopg
    pool, and the DBOS schema version read on it serves every later call (the client never
    migrates). The first wait starts the client's wait hub (one listener connection, two
    threads). ``close()`` (or leaving a ``with`` block) closes all of it. Thread-safe: one
    client can serve many threads. For asyncio code, use ``AsyncDBOSClient``, or the
    ``*_async`` methods here (DBOS's names), which run on an ``AsyncDBOSClient`` made on first use.

    Args:
        system_database_url: ``postgresql://user:password@host:port/database`` (the
            ``postgresql+psycopg://`` form DBOS accepts works too), or
            ``sqlite:///path/to/app.sqlite`` for an application on a SQLite file (read
            with the standard library's sqlite3; no listener there, the shared poller
            wakes waits). Defaults to the ``DBOS_SYSTEM_DATABASE_URL`` environment variable.
        dbos_system_schema: the schema of the DBOS tables, as the application set it
            (ignored for SQLite, whose tables have no schema).
        serializer: the application's custom serializer, if it uses one (any object
            with ``serialize``, ``deserialize`` and ``name``). Defaults to pickle, as DBOS.
        application_name: the DBOS application name written on enqueued workflows, so
            only that application runs them. Not the Postgres connection name.
        system_database_pool_size: the most pooled connections (default 2). Waiting calls
            hold none while they wait; on the first wait, one more, dedicated connection
            listens for notifications. For SQLite: the idle connections kept open.
        retry_policy: how transient database failures are retried (see ``RetryPolicy``).
            Not applied to the constructor's check, which is one attempt, as DBOS's.
        poll_policy: how waiting calls are woken (see ``PollPolicy``).
        retry_connection_errors: DBOS's switch; False means a single attempt per call.
        lazy: False (the default, as DBOS): connect in the constructor and raise if the
            database cannot be reached. True: no I/O until the first call, which connects
            with the retry policy; ``check_connection()`` checks on demand.
        use_listen_notify: None (the default here): listen for notifications, with a
            listener that connects on the first wait. True (DBOS's meaning): the listener
            starts in the constructor, so it cannot be combined with ``lazy=True``. False
            (DBOS's default): no listener; the shared poller alone wakes waits.
        listener_database_url: where the listener connects instead, e.g. straight to
            Postgres when ``system_database_url`` goes through a transaction pooler, which
            cannot carry LISTEN. Same database, same credentials rules.
        password_provider: a callable returning the current password, called for every
            new connection (rotating tokens, IAM auth). Its exceptions are not retried.
        prepare_threshold: psycopg's setting of that name: after how many executions a
            statement is prepared on the server. None (the default) never prepares, which
            is what a transaction-mode pooler (PgBouncer before 1.21, or without
            ``max_prepared_statements``) needs. On a direct connection, 5 (psycopg's
            default) makes repeated calls cheaper to plan: enqueue is the one that gains.

    Raises:
        InvalidArgumentError: a bad URL or option, or ``lazy=True`` with
            ``use_listen_notify=True``. Nothing is connected.
        DatabaseUnavailableError: (not lazy) the database cannot be reached.
        ConnectionRejectedError: (not lazy) the server refused the connection: wrong
            password, unknown role or database, TLS. Nothing stays open after either.
            A database that is reachable but holds no DBOS schema yet is not refused here
            (DBOS's constructor checks only the connection): the first call says so.
    """

    def _init_io(self) -> None:
        self._pool_lock = threading.Lock()
        self._schema_lock = threading.Lock()
        self._pool: ConnectionPool | None = None
        self._hub: WaitHub | None = None
        self._q: Queries | None = None
        self._async_twin: AsyncDBOSClient | None = None
        self._warned_in_loop: set[str] = set()

    def _connect_at_construction(self) -> None:
        try:
            with self._single_attempt():
                try:
                    self._queries(self._construction_deadline())
                except SchemaError as exc:
                    # Connected, but no usable schema (not yet migrated, or a typo in the schema
                    # name): dbos.DBOSClient's constructor does not look, so the first call says it.
                    logger.debug("no usable DBOS schema yet: %s", exc)
                    return
            if self._listen_at_once:
                self._get_hub().start()
        except BaseException:
            self.close()  # the caller gets no client to close: leave no pool, file or thread
            raise

    # -- lifecycle -------------------------------------------------------------------

    def close(self) -> None:
        """Close the hub, the connection pool and their threads. Idempotent; takes milliseconds.

        A call still waiting in another thread ends with ``DBOSClientError``.
        """
        with self._pool_lock:
            self._closed = True
            hub, self._hub = self._hub, None
            twin, self._async_twin = self._async_twin, None
        if hub is not None:
            hub.close()  # may still use the pool, to wake its listener
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()
        if self._sqlite is not None:
            self._sqlite.close()
        if twin is not None:
            twin._close_from_sync()

    def destroy(self) -> None:
        """Same as ``close()``; the name ``dbos.DBOSClient`` uses."""
        self.close()

    def __enter__(self) -> DBOSClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def check_connection(self) -> None:
        """Connect (if not yet connected) and check the DBOS schema. Retried within the budget.

        Raises:
            DatabaseUnavailableError: the database cannot be reached.
            SchemaError: the database has no usable DBOS system schema.
        """
        self._queries(None)

    def get_schema_info(self) -> SchemaInfo:
        """What the database holds (tables, columns, DBOS generation). Connects on first use,
        then no I/O. The same method as ``AsyncDBOSClient.get_schema_info``."""
        return self._queries(None).info

    @property
    def schema_info(self) -> SchemaInfo:
        """``get_schema_info()`` as a property."""
        return self.get_schema_info()

    # -- the calls -------------------------------------------------------------------

    def enqueue(self, options: EnqueueOptions, *args: Any, **kwargs: Any) -> WorkflowHandle[Any]:
        """Start a workflow by name on a queue; returns at once with its handle.

        One statement (the status row and its inputs together). Everything is validated
        and serialized first, so bad input writes nothing. An existing workflow id with
        the same function is attached to, not re-run (DBOS's 'return-existing');
        ``workflow_id_reuse_policy='reject'`` refuses it instead.

        Args:
            options: DBOS's ``EnqueueOptions`` keys; ``workflow_name`` and ``queue_name``
                are required. ``serialization_type='portable'`` writes portable JSON, which
                every DBOS runtime reads (a TypeScript app's included); NaN and Infinity,
                which JSON cannot express, are refused. ``reject_keyword_args=True`` (this
                client's own key) refuses keyword arguments.
            *args, **kwargs: the workflow's arguments. In portable JSON keyword arguments
                are written as ``namedArgs``: a Python runtime passes them, but the DBOS
                TypeScript runtime reads only ``positionalArgs`` and silently drops them.
                Pass a TypeScript workflow's arguments positionally (or set
                ``reject_keyword_args``).

        Raises:
            InvalidArgumentError: a bad option; keyword arguments with ``reject_keyword_args``.
            SerializationError: an argument the chosen format cannot serialize (NaN or
                Infinity in portable JSON, named by its place: ``args[0]['x']``).
            WorkflowIdConflictError: the id belongs to a different workflow.
            DeduplicatedError: the queue already has this deduplication id.
        """
        self._warn_in_event_loop("enqueue", "enqueue_async")
        return WorkflowHandle(self, self._run(_calls.enqueue(self._core, options, args, kwargs)))

    def send(
        self, destination_id: str, message: Any, topic: str | None = None, idempotency_key: str | None = None,
        *, serialization_type: FormatChoice = None,
    ) -> None:
        """Send a message to a workflow, which receives it with ``DBOS.recv(topic)``. Never blocks.

        One INSERT. Messages queue per topic on the receiver, in send order. With an
        ``idempotency_key`` the message is delivered exactly once however often it is
        sent (the key is scoped to the destination).

        Raises:
            WorkflowNotFoundError: no workflow has ``destination_id``.
            InvalidArgumentError: a bad id, topic or key.
            SerializationError: a message the chosen format cannot serialize (in portable
                JSON: NaN or Infinity anywhere in it), before anything is written.
        """
        self._warn_in_event_loop("send", "send_async")
        self._run(_calls.send(self._core, destination_id, message, topic, idempotency_key, serialization_type))

    def get_event(self, workflow_id: str, key: str, timeout_seconds: float = 60) -> Any:
        """Wait for the workflow to publish ``key`` and return its latest value.

        Blocks until the key has a value, or ``timeout_seconds`` pass (then returns None,
        as DBOS does). Returns None at once if the workflow has already finished (SUCCESS
        or ERROR) without publishing the key, since it never can. A value that exists
        costs one query; a wait is woken by the hub in milliseconds.

        Raises:
            InvalidArgumentError: a bad id or key, or a negative timeout.
        """
        self._warn_in_event_loop("get_event", "get_event_async")
        return self._run(_calls.get_event(self._core, workflow_id, key, timeout_seconds))

    def get_all_events(self, workflow_id: str) -> dict[str, Any]:
        """Every event key of the workflow with its latest value. One query; never blocks.

        Raises:
            WorkflowNotFoundError: no such workflow.
        """
        self._warn_in_event_loop("get_all_events", "get_all_events_async")
        return self._run(_calls.get_all_events(self._core, workflow_id))

    def read_stream(
        self, workflow_id: str, key: str, *, offset: int = 0,
        polling_interval_sec: float | None = None, timeout_seconds: float | None = None,
    ) -> Generator[Any, None, None]:
        """Yield every value of the workflow's stream ``key``, in order, live.

        Starts at ``offset`` (0: the beginning) and ends when the stream is closed, or when
        the workflow has finished and everything it wrote has been read. Between values it
        blocks until a notification or the shared poller says the next value is there;
        ``timeout_seconds`` bounds the wait for each value (None: no limit).
        ``polling_interval_sec`` is DBOS's keyword: accepted and checked, but unused.
        Values are read in batches of up to 100 per query. Arguments are checked at once.

        Raises:
            InvalidArgumentError: ``offset`` outside 0 to 2**31-1 (streams' offsets are 32-bit).
            WorkflowNotFoundError: no such workflow (at once, not after a timeout).
            StreamTimeoutError: no next value within ``timeout_seconds``.
        """
        self._warn_in_event_loop("read_stream", "read_stream_async")
        return self._iterate(
            _calls.read_stream(self._core, workflow_id, key, offset, timeout_seconds, polling_interval_sec)
        )

    def retrieve_workflow(self, workflow_id: str) -> WorkflowHandle[Any]:
        """A handle to an existing workflow. One query, to check that it exists.

        Raises:
            WorkflowNotFoundError: no such workflow.
        """
        self._warn_in_event_loop("retrieve_workflow", "retrieve_workflow_async")
        self._run(_calls.ensure_exists(self._core, workflow_id))
        return WorkflowHandle(self, workflow_id)

    def cancel_workflow(self, workflow_id: str, *, cancel_children: bool = False) -> None:
        """Cancel a workflow (and, with ``cancel_children``, its descendants). One statement.

        A queued workflow leaves its queue; a running one stops at its next step. A
        workflow that already finished (SUCCESS or ERROR) is left as it is.

        Raises:
            WorkflowNotFoundError: no such workflow (DBOS silently ignores this).
        """
        self._warn_in_event_loop("cancel_workflow", "cancel_workflow_async")
        self._run(_calls.cancel(self._core, [workflow_id], cancel_children))

    def cancel_workflows(self, workflow_ids: list[str], *, cancel_children: bool = False) -> None:
        """Cancel several workflows in one statement; see ``cancel_workflow``.

        Raises:
            WorkflowNotFoundError: an id is unknown; then none is cancelled.
        """
        self._warn_in_event_loop("cancel_workflows", "cancel_workflows_async")
        self._run(_calls.cancel(self._core, workflow_ids, cancel_children))

    def delete_workflow(self, workflow_id: str, *, delete_children: bool = False) -> None:
        """Delete a workflow and everything it stored (inputs, outputs, steps, events,
        messages, streams); with ``delete_children``, its descendants too. One statement.

        Raises:
            WorkflowNotFoundError: no such workflow.
        """
        self._warn_in_event_loop("delete_workflow", "delete_workflow_async")
        self._run(_calls.delete(self._core, [workflow_id], delete_children))

    def delete_workflows(self, workflow_ids: list[str], *, delete_children: bool = False) -> None:
        """Delete several workflows in one statement; see ``delete_workflow``.

        Raises:
            WorkflowNotFoundError: an id is unknown; then none is deleted.
        """
        self._warn_in_event_loop("delete_workflows", "delete_workflows_async")
        self._run(_calls.delete(self._core, workflow_ids, delete_children))

    def list_workflows(self, **filters: Unpack[ListWorkflowsFilters]) -> list[WorkflowStatus]:
        """Workflows matching the filters, oldest first (``sort_desc=True``: newest). One query.

        The filters are ``dbos.DBOSClient.list_workflows``'s (see ``ListWorkflowsFilters``);
        ``load_input`` and ``load_output`` (default True) fetch and decode the payloads.

        Raises:
            InvalidArgumentError: an unknown or unsupported filter, or a bad value.
        """
        self._warn_in_event_loop("list_workflows", "list_workflows_async")
        return self._run(_calls.list_workflows(self._core, filters))

    def list_queued_workflows(self, **filters: Unpack[ListWorkflowsFilters]) -> list[WorkflowStatus]:
        """Workflows on a queue that have not finished (ENQUEUED, PENDING or DELAYED, unless
        ``status`` says otherwise). Same filters as ``list_workflows``. One query."""
        self._warn_in_event_loop("list_queued_workflows", "list_queued_workflows_async")
        return self._run(_calls.list_workflows(self._core, filters, queues_only=True))

    def list_workflow_steps(
        self, workflow_id: str, *, load_output: bool = True, limit: int | None = None, offset: int | None = None
    ) -> list[dict[str, Any]]:
        """The workflow's recorded steps in order: dicts with ``function_id``, ``function_name``,
        ``output``, ``error``, ``child_workflow_id``, ``started_at_epoch_ms`` and
        ``completed_at_epoch_ms``, as DBOS's ``StepInfo``. One query.

        Raises:
            WorkflowNotFoundError: no such workflow.
        """
        self._warn_in_event_loop("list_workflow_steps", "list_workflow_steps_async")
        return self._run(_calls.list_steps(self._core, workflow_id, load_output, limit, offset))

    def resume_workflow(self, workflow_id: str, *, queue_name: str | None = None) -> WorkflowHandle[Any]:
        """Re-enqueue a cancelled or failed-over workflow so it runs again from its last step.

        One statement. It goes on ``queue_name``, or DBOS's internal queue, which every
        application polls. A finished workflow (SUCCESS or ERROR) is left as it is.

        Raises:
            WorkflowNotFoundError: no such workflow.
        """
        self._warn_in_event_loop("resume_workflow", "resume_workflow_async")
        self._run(_calls.resume(self._core, workflow_id, queue_name))
        return WorkflowHandle(self, workflow_id)

    # -- the operator's surface: queues, fork/rewind, application versions -------------

    def register_queue(
        self, name: str, *, global_concurrency: int | None = None, partition_concurrency: int | None = None,
        partition_worker_concurrency: int | None = None, partition_limiter: QueueRateLimit | None = None,
        limiter: QueueRateLimit | None = None, worker_concurrency: int | None = None,
        polling_interval_sec: float = 1.0,
        on_conflict: Literal["always_update", "never_update", "update_if_latest_version"] = "always_update",
        application_name: str | None = None, concurrency: int | None = None,
    ) -> Queue:
        """Create or update a queue's row, so the owning application polls it. One transaction.

        The application notices a new queue within about a second and then polls it every
        ``polling_interval_sec``. ``on_conflict``: ``"always_update"`` (default) overwrites an
        existing queue's limits, ``"never_update"`` leaves them. ``application_name`` (default:
        the client's) owns the queue; None registers it unclaimed, polled by every application.
        ``concurrency`` is DBOS's deprecated name for ``global_concurrency``. Returns the row as
        stored (a snapshot).

        Raises:
            InvalidArgumentError: inconsistent limits, a reserved name, or
                ``on_conflict='update_if_latest_version'`` (clients have no version).
            NameConflictError: another application owns a queue of that name.
            SchemaError: the database has no queues table (DBOS before 2.20).
        """
        self._warn_in_event_loop("register_queue", "register_queue_async")
        op = _calls_operator.register_queue(
            self._core, name, global_concurrency=global_concurrency, partition_concurrency=partition_concurrency,
            partition_worker_concurrency=partition_worker_concurrency, partition_limiter=partition_limiter,
            limiter=limiter, worker_concurrency=worker_concurrency, polling_interval_sec=polling_interval_sec,
            on_conflict=on_conflict, application_name=application_name, concurrency=concurrency,
        )  # fmt: skip
        return self._run(op)

    def retrieve_queue(self, name: str) -> Queue | None:
        """The queue's current settings, or None if no such queue. One query; never blocks."""
        self._warn_in_event_loop("retrieve_queue", "retrieve_queue_async")
        return self._run(_calls_operator.retrieve_queue(self._core, name))

    def delete_queue(self, name: str) -> None:
        """Delete the queue's row (no-op if absent). One statement.

        Its pending workflows stay ENQUEUED, and run only if the queue is registered again.
        """
        self._warn_in_event_loop("delete_queue", "delete_queue_async")
        self._run(_calls_operator.delete_queue(self._core, name))

    def list_queues(self, *, application_name: str | list[str] | None = None) -> list[Queue]:
        """Registered queues: those of ``application_name`` (default: the client's; every queue for a
        client without one) plus the unclaimed ones, which every application polls. One query."""
        self._warn_in_event_loop("list_queues", "list_queues_async")
        return self._run(_calls_operator.list_queues(self._core, application_name))

    def fork_workflow(
        self, workflow_id: str, start_step: int, *, application_version: str | None = None,
        queue_name: str | None = None, queue_partition_key: str | None = None,
        replacement_children: dict[str, str] | None = None, timeout_seconds: float | None = None,
        shard_key: str | None = None, forked_workflow_id: str | None = None,
    ) -> WorkflowHandle[Any]:
        """Start a copy of a workflow that replays the original's steps before ``start_step``
        (their recorded outputs, events and stream values are copied) and runs the rest.

        One transaction; returns at once with the fork's handle. The fork is ENQUEUED on
        ``queue_name`` (default: DBOS's internal queue, which every application polls), with
        the original's inputs and owner; ``application_version`` pins the version that may run
        it (default: the latest). ``replacement_children`` maps a child workflow id recorded
        by a copied step to another id. The fork's id is ``forked_workflow_id`` (this client's
        addition), else that of an enclosing ``dbos.SetWorkflowID`` block if the process uses
        DBOS, else a new UUID.

        Raises:
            WorkflowNotFoundError: no such workflow (nothing is written).
            WorkflowIdConflictError: ``forked_workflow_id`` is already used.
            InvalidArgumentError: a bad argument; ``shard_key`` is not supported.
        """
        self._warn_in_event_loop("fork_workflow", "fork_workflow_async")
        op = _calls_operator.fork(
            self._core, workflow_id, start_step, application_version=application_version, queue_name=queue_name,
            queue_partition_key=queue_partition_key, replacement_children=replacement_children,
            timeout_seconds=timeout_seconds, shard_key=shard_key, forked_workflow_id=forked_workflow_id,
        )  # fmt: skip
        return WorkflowHandle(self, self._run(op))

    def rewind_workflow(
        self, workflow_id: str, *, start_step: int | None = None, application_version: str | None = None,
        queue_name: str | None = None, queue_partition_key: str | None = None, shard_key: str | None = None,
    ) -> WorkflowHandle[Any]:
        """Re-run a finished workflow from ``start_step`` (default 1), under its own id.

        One transaction, as DBOS: the steps from ``start_step`` on and their event history are
        dropped, events they published revert to the last earlier value, messages they
        consumed (and unconsumed ones) are deleted, a close sentinel they wrote is removed, and
        the workflow is ENQUEUED again on ``queue_name`` (default: DBOS's internal queue).
        Returns at once. Needs a DBOS 3.x system database.

        Raises:
            WorkflowNotFoundError: no such workflow.
            WorkflowStateError: the workflow is still ENQUEUED, PENDING or DELAYED.
            SchemaError: a 2.x system database.
        """
        self._warn_in_event_loop("rewind_workflow", "rewind_workflow_async")
        op = _calls_operator.rewind(
            self._core, workflow_id, start_step=start_step, application_version=application_version,
            queue_name=queue_name, queue_partition_key=queue_partition_key, shard_key=shard_key,
        )  # fmt: skip
        self._run(op)
        return WorkflowHandle(self, workflow_id)

    def list_application_versions(self) -> list[VersionInfo]:
        """Registered application versions, newest first: the client's application's and the
        unclaimed ones (all of them for a client without an application name). One query."""
        self._warn_in_event_loop("list_application_versions", "list_application_versions_async")
        return self._run(_calls_operator.list_versions(self._core))

    def get_latest_application_version(self) -> VersionInfo:
        """The newest application version the client's application sees: the one whose
        workflows without a version its queues run. One query.

        Raises:
            ApplicationVersionNotFoundError: no version is registered.
        """
        self._warn_in_event_loop("get_latest_application_version", "get_latest_application_version_async")
        return self._run(_calls_operator.latest_version(self._core))

    def set_latest_application_version(self, version_name: str, *, application_name: str | None = None) -> None:
        """Make a version the latest, by stamping it with this machine's current time. One transaction.

        ``application_name`` (default: the client's) acts as that application: promoting a
        version another application registered raises; an unclaimed one is claimed.

        Raises:
            ApplicationVersionNotFoundError: no version has this name (DBOS ignores this).
            NameConflictError: the version belongs to another application.
        """
        self._warn_in_event_loop("set_latest_application_version", "set_latest_application_version_async")
        self._run(_calls_operator.set_latest_version(self._core, version_name, application_name))

    def rename_application(
        self, old_name: str | None, new_name: str, *, batch_size: int | None = 10_000, adopt_unclaimed_rows: bool = False
    ) -> ApplicationRowCounts:
        """Give ``new_name`` the rows ``old_name`` owns, the unclaimed rows (``adopt_unclaimed_rows``), or both.

        Do not run it while the application runs. Queues, schedules, versions and unfinished
        workflows move in one transaction; finished workflows and steps then move
        ``batch_size`` workflows per transaction (None: all at once). A re-run resumes.

        Returns:
            The number of rows moved, by table.

        Raises:
            InvalidArgumentError: nothing to move, an invalid new name, or a bad batch size.
        """
        self._warn_in_event_loop("rename_application", "rename_application_async")
        return self._run(_calls_operator.rename(self._core, old_name, new_name, batch_size, adopt_unclaimed_rows))

    # -- bulk calls and fan-out waits (ops in _bulk) -----------------------------------

    def send_bulk(
        self, messages: list[SendMessage], *, serialization_type: FormatChoice = None, send_to_forks: bool = False
    ) -> None:
        """Send many messages in one transaction: all of them are delivered, or none.

        ``dbos.DBOSClient.send_bulk``: each message is a ``SendMessage`` (ours or DBOS's:
        ``destination_id``, ``message``, ``topic``, ``idempotency_key``). An idempotency key is
        scoped to its destination, as in ``send``. With ``send_to_forks``, every message also
        goes to each workflow recursively forked from its destination (found in the same
        transaction). Never waits. Every message is checked and serialized first; then
        Postgres takes them all in one INSERT (one round trip for any count), SQLite in one
        ``BEGIN IMMEDIATE`` transaction. An empty list does nothing.

        Raises:
            WorkflowNotFoundError: a destination does not exist (named); nothing was sent.
            InvalidArgumentError: a bad message, an idempotency key given twice, a shard key.
            SerializationError: a message the chosen format cannot serialize.
        """
        self._warn_in_event_loop("send_bulk", "send_bulk_async")
        self._run(_calls.send_bulk(self._core, messages, serialization_type, send_to_forks))

    def enqueue_bulk(self, items: list[EnqueueItem]) -> list[WorkflowHandle[Any]]:
        """Enqueue many workflows in one transaction (this client's extension); their handles, in order.

        Each item is ``EnqueueItem(options, args, kwargs)`` (or that tuple): what ``enqueue``
        takes. All are checked and serialized before anything is written; then the inserts
        run pipelined in one transaction (Postgres: one round trip per batch, not per
        workflow; SQLite: one ``BEGIN IMMEDIATE``). Either every workflow is enqueued, or
        none. An id that exists with the same function is attached to, as in ``enqueue``.

        Raises:
            InvalidArgumentError: a bad item or option, the same workflow id twice, or
                ``duplication_policy='return-existing'`` (not supported in a batch).
            WorkflowIdConflictError: an id belongs to a different workflow; nothing enqueued.
            DeduplicatedError: a deduplication id is taken on its queue; nothing enqueued.
            SerializationError: an argument the chosen format cannot serialize.
        """
        self._warn_in_event_loop("enqueue_bulk", "enqueue_bulk_async")
        return [WorkflowHandle(self, wid) for wid in self._run(_calls.enqueue_bulk(self._core, items))]

    def wait_first(
        self, handles: list[WorkflowHandle[Any]], *, polling_interval_sec: float = 1.0,
        timeout_seconds: float | None = None,
    ) -> WorkflowHandle[Any]:
        """Block until one of the workflows has finished; return its handle (the object given).

        ``dbos.DBOSClient.wait_first``: finished means no longer PENDING, ENQUEUED or
        DELAYED (CANCELLED counts); if several have, the earliest to finish is returned. An
        id with no workflow never finishes. One read, then the client's shared poller checks
        every handle in its one query per tick (``PollPolicy.interval_seconds``), however
        many handles and waiting calls there are. ``polling_interval_sec`` is DBOS's:
        accepted and checked, the shared poller's schedule applies. ``timeout_seconds``
        (ours; None: no limit, as DBOS) bounds the wait.

        Raises:
            InvalidArgumentError (a ValueError): no handles, or the same workflow twice.
            WaitTimeoutError: ``timeout_seconds`` passed first.
        """
        self._warn_in_event_loop("wait_first", "wait_first_async")
        by_id = _calls.wait_handles(handles)
        return by_id[self._run(_calls.wait_first(self._core, list(by_id), timeout_seconds, polling_interval_sec))]  # type: ignore[no-any-return]

    def wait_all(
        self, handles: list[WorkflowHandle[Any]], *, polling_interval_sec: float = 1.0,
        timeout_seconds: float | None = None,
    ) -> list[WorkflowHandle[Any]]:
        """Block until every workflow has finished (this client's extension); the handles, in order.

        Finished as in ``wait_first``. Same cost: one read, then the shared poller's one
        query per tick for all of them; each wake-up (one of them finished) re-reads only
        those still running. Then ``get_result()`` on each handle returns at once.

        Raises:
            InvalidArgumentError (a ValueError): no handles, or the same workflow twice.
            WorkflowNotFoundError: a handle's workflow does not exist.
            WaitTimeoutError: ``timeout_seconds`` passed first (``workflow_ids``: those still running).
        """
        self._warn_in_event_loop("wait_all", "wait_all_async")
        by_id = _calls.wait_handles(handles)
        self._run(_calls.wait_all(self._core, list(by_id), timeout_seconds, polling_interval_sec))
        return list(by_id.values())

    # -- the transactional outbox: writes in a transaction the caller owns ------------

    def enqueue_in_transaction(
        self, conn_or_session: Any, options: EnqueueOptions, *args: Any, **kwargs: Any
    ) -> WorkflowHandle[Any]:
        """``enqueue`` inside the caller's open transaction on the system database.

        The workflow exists exactly when the caller commits: invisible to everyone
        (the runtime included) until then, gone on rollback. The handle is usable once
        the transaction commits. ``conn_or_session`` is a psycopg ``Connection``, a
        ``sqlite3.Connection``, or a SQLAlchemy ``Connection`` or ``Session``, on the
        system database; it is used as it is (no BEGIN or COMMIT of ours, no retry) and
        blocks as long as the caller's statements do (a row lock held by another
        transaction). The first call of a client also reads the schema through its own pool.

        Raises what ``enqueue`` raises; after a refusal (``DeduplicatedError``, undone
        under a savepoint, or ``WorkflowIdConflictError``, which wrote nothing) the
        caller's transaction stays usable. ``InvalidArgumentError``: the connection is
        not one of those, or ``duplication_policy='return-existing'`` (use ``enqueue``).
        One statement on Postgres (three with a deduplication id: the savepoint's).
        """
        make = _outbox.enqueue_in_transaction(self._core, options, args, kwargs)
        workflow_id = self._run_outbox(make, conn_or_session, "enqueue_in_transaction")
        return WorkflowHandle(self, workflow_id)

    def send_in_transaction(
        self, conn_or_session: Any, destination_id: str, message: Any, topic: str | None = None,
        idempotency_key: str | None = None, *, serialization_type: FormatChoice = None,
        send_to_forks: bool = False, shard_key: str | None = None,
    ) -> None:  # fmt: skip
        """``send`` inside the caller's open transaction: the workflow can receive the
        message once the caller commits, never if it rolls back. Same connections and
        blocking as ``enqueue_in_transaction``.

        ``send_to_forks`` also delivers it to every workflow recursively forked from the
        destination. ``shard_key`` must be None (no sharded databases here).

        Raises:
            WorkflowNotFoundError: no workflow has ``destination_id`` (the caller's
                transaction stays usable).
            InvalidArgumentError: a bad argument or connection.
            SerializationError: a message the chosen format cannot serialize.
        """
        make = _outbox.send_in_transaction(
            self._core, destination_id, message, topic, idempotency_key, serialization_type, send_to_forks, shard_key
        )
        self._run_outbox(make, conn_or_session, "send_in_transaction")

    def send_bulk_in_transaction(
        self, conn_or_session: Any, messages: list[Any], *, serialization_type: FormatChoice = None,
        send_to_forks: bool = False,
    ) -> None:  # fmt: skip
        """Send many messages inside the caller's open transaction: all of them are
        delivered when it commits, none if it rolls back (or if one destination does not
        exist). ``messages``: ``SendMessage`` objects (DBOS's or any object with
        ``destination_id``, ``message``, ``topic``, ``idempotency_key``) or dicts of those
        keys. One statement per recipient; same connections as ``enqueue_in_transaction``.

        Raises:
            WorkflowNotFoundError: a destination does not exist.
            InvalidArgumentError: a bad message, duplicate idempotency keys, a bad connection.
        """
        make = _outbox.send_bulk_in_transaction(self._core, messages, serialization_type, send_to_forks)
        self._run_outbox(make, conn_or_session, "send_bulk_in_transaction")

    def _run_outbox(self, make: Callable[[Queries], Op[T]], conn: Any, call: str) -> T:
        """The schema's statements through our pool, then ``make(q)`` on the caller's connection."""
        from ._txn import check_callers_connection, run_on_callers_connection

        self._check_open()
        check_callers_connection(conn, call, asynchronous=False)
        return run_on_callers_connection(conn, make(self._queries(None)), self._config.dialect, call)

    # -- schedules (DBOS 3.4's schedule API; logic in _schedules) -------------------------

    def create_schedule(
        self,
        *,
        schedule_name: str,
        workflow_name: str,
        schedule: str,
        context: Any = None,
        workflow_class_name: str | None = None,
        automatic_backfill: bool = False,
        cron_timezone: str | None = None,
        queue_name: str | None = None,
        application_name: str | None = None,
        shard_key: str | None = None,
    ) -> None:
        """Create a cron schedule that the application fires: it enqueues ``workflow_name``
        with ``(scheduled_at, context)`` at each time ``schedule`` names.

        ``schedule`` has 5 fields, or 6 with seconds first (checked as croniter does, in
        ``_cron``), evaluated in ``cron_timezone`` (IANA name; UTC by default). The row is
        DBOS's own: a running application picks it up within its schedule polling
        interval. ``queue_name`` None runs it on DBOS's internal queue;
        ``automatic_backfill`` makes the application enqueue the runs it missed while down.
        ``application_name`` (default: the client's) owns it; left unset on a nameless
        client, every application sharing the database runs it. One transaction.

        Raises:
            InvalidArgumentError: "Invalid cron schedule" / "Invalid timezone", before any write.
            ScheduleConflictError: the name is taken, or belongs to another application.
            SchemaError: the database has no schedules table (or no column for a setting).
        """
        self._warn_in_event_loop("create_schedule", "create_schedule_async")
        entry = {
            "schedule_name": schedule_name, "workflow_name": workflow_name, "schedule": schedule, "context": context,
            "workflow_class_name": workflow_class_name, "automatic_backfill": automatic_backfill,
            "cron_timezone": cron_timezone, "queue_name": queue_name, "application_name": application_name,
            "shard_key": shard_key,
        }  # fmt: skip
        self._run(_schedules.create_schedule(self._core, entry))

    def list_schedules(
        self,
        *,
        status: str | list[str] | None = None,
        workflow_name: str | list[str] | None = None,
        schedule_name_prefix: str | list[str] | None = None,
        application_name: str | list[str] | None = None,
    ) -> list[WorkflowSchedule]:
        """Schedules matching every filter given (each a value or a list of values). One query.

        ``application_name`` defaults, as in DBOS, to the client's application (plus
        unclaimed schedules); a client without one lists every application's.
        """
        self._warn_in_event_loop("list_schedules", "list_schedules_async")
        return self._run(_schedules.list_schedules(self._core, status, workflow_name, schedule_name_prefix, application_name))

    def get_schedule(self, name: str) -> WorkflowSchedule | None:
        """The schedule of that name, or None. One query."""
        self._warn_in_event_loop("get_schedule", "get_schedule_async")
        return self._run(_schedules.get_schedule(self._core, name))

    def delete_schedule(self, name: str) -> None:
        """Delete the schedule of that name; an unknown name is a no-op. One statement.

        Runs already enqueued are not touched; the application stops firing it within its
        schedule polling interval.
        """
        self._warn_in_event_loop("delete_schedule", "delete_schedule_async")
        self._run(_schedules.delete_schedule(self._core, name))

    def pause_schedule(self, name: str) -> None:
        """Pause a schedule: the application stops firing it (within its polling interval). One statement."""
        self._warn_in_event_loop("pause_schedule", "AsyncDBOSClient.pause_schedule")
        self._run(_schedules.set_schedule_status(self._core, name, "PAUSED"))

    def resume_schedule(self, name: str) -> None:
        """Resume a paused schedule. One statement."""
        self._warn_in_event_loop("resume_schedule", "AsyncDBOSClient.resume_schedule")
        self._run(_schedules.set_schedule_status(self._core, name, "ACTIVE"))

    def apply_schedules(self, schedules: list[ClientScheduleInput]) -> None:
        """Create or replace several schedules atomically (one transaction).

        Each entry needs ``schedule_name``, ``workflow_name`` and ``schedule``; the rest are
        ``create_schedule``'s options. A replaced schedule keeps its id, status and last
        firing time, as in DBOS.

        Raises:
            InvalidArgumentError: a missing field, bad cron or time zone; nothing is written.
            ScheduleConflictError: a name belongs to another application; nothing is written.
        """
        self._warn_in_event_loop("apply_schedules", "apply_schedules_async")
        self._run(_schedules.apply_schedules(self._core, schedules))

    def backfill_schedule(self, schedule_name: str, start: datetime, end: datetime) -> list[WorkflowHandle[None]]:
        """Enqueue every run the schedule would have made after ``start`` and before ``end``.

        Each run has the workflow id the application's scheduler gives it, so a time that
        already ran (or was backfilled) is not enqueued twice; its handle is returned all
        the same. A naive datetime is UTC. A few statements per run.

        Raises:
            ScheduleNotFoundError: no such schedule.
        """
        self._warn_in_event_loop("backfill_schedule", "AsyncDBOSClient.backfill_schedule")
        ids = self._run(_schedules.backfill_schedule(self._core, schedule_name, start, end))
        return [WorkflowHandle(self, workflow_id) for workflow_id in ids]

    def trigger_schedule(self, schedule_name: str) -> WorkflowHandle[None]:
        """Enqueue one run of the schedule now (id ``sched-<name>-trigger-<time>``).

        Raises:
            ScheduleNotFoundError: no such schedule.
        """
        self._warn_in_event_loop("trigger_schedule", "AsyncDBOSClient.trigger_schedule")
        workflow_id = self._run(_schedules.trigger_schedule(self._core, schedule_name))
        return WorkflowHandle(self, workflow_id)

    # -- DBOS's *_async names, on an AsyncDBOSClient made on first use -----------------

    def _twin(self) -> AsyncDBOSClient:
        """The async client behind the ``*_async`` methods: same settings, one per event loop.

        An async pool belongs to one loop; a script that calls ``asyncio.run`` twice gets a
        fresh twin the second time, and the first one is closed.
        """
        loop = asyncio.get_running_loop()
        with self._pool_lock:
            self._check_open()
            stale = None
            twin = self._async_twin
            if twin is not None and twin._loop is not None and twin._loop is not loop:
                stale, twin = twin, None
            if twin is None:
                twin = self._async_twin = AsyncDBOSClient(**self._settings)
        if stale is not None:
            stale._close_from_sync()
        return twin

    # Each is AsyncDBOSClient's method, run on the twin: signature and docs follow it.
    enqueue_async = _on_twin(AsyncDBOSClient.enqueue)
    send_async = _on_twin(AsyncDBOSClient.send)
    get_event_async = _on_twin(AsyncDBOSClient.get_event)
    get_all_events_async = _on_twin(AsyncDBOSClient.get_all_events)
    read_stream_async = _on_twin(AsyncDBOSClient.read_stream)
    retrieve_workflow_async = _on_twin(AsyncDBOSClient.retrieve_workflow)
    cancel_workflow_async = _on_twin(AsyncDBOSClient.cancel_workflow)
    cancel_workflows_async = _on_twin(AsyncDBOSClient.cancel_workflows)
    resume_workflow_async = _on_twin(AsyncDBOSClient.resume_workflow)
    delete_workflow_async = _on_twin(AsyncDBOSClient.delete_workflow)
    delete_workflows_async = _on_twin(AsyncDBOSClient.delete_workflows)
    list_workflows_async = _on_twin(AsyncDBOSClient.list_workflows)
    list_queued_workflows_async = _on_twin(AsyncDBOSClient.list_queued_workflows)
    list_workflow_steps_async = _on_twin(AsyncDBOSClient.list_workflow_steps)
    check_connection_async = _on_twin(AsyncDBOSClient.check_connection)
    register_queue_async = _on_twin(AsyncDBOSClient.register_queue)
    retrieve_queue_async = _on_twin(AsyncDBOSClient.retrieve_queue)
    delete_queue_async = _on_twin(AsyncDBOSClient.delete_queue)
    list_queues_async = _on_twin(AsyncDBOSClient.list_queues)
    fork_workflow_async = _on_twin(AsyncDBOSClient.fork_workflow)
    rewind_workflow_async = _on_twin(AsyncDBOSClient.rewind_workflow)
    list_application_versions_async = _on_twin(AsyncDBOSClient.list_application_versions)
    get_latest_application_version_async = _on_twin(AsyncDBOSClient.get_latest_application_version)
    set_latest_application_version_async = _on_twin(AsyncDBOSClient.set_latest_application_version)
    rename_application_async = _on_twin(AsyncDBOSClient.rename_application)

    send_bulk_async = _on_twin(AsyncDBOSClient.send_bulk)
    enqueue_bulk_async = _on_twin(AsyncDBOSClient.enqueue_bulk)
    wait_first_async = _on_twin(AsyncDBOSClient.wait_first)
    wait_all_async = _on_twin(AsyncDBOSClient.wait_all)

    create_schedule_async = _on_twin(AsyncDBOSClient.create_schedule)
    list_schedules_async = _on_twin(AsyncDBOSClient.list_schedules)
    get_schedule_async = _on_twin(AsyncDBOSClient.get_schedule)
    delete_schedule_async = _on_twin(AsyncDBOSClient.delete_schedule)
    apply_schedules_async = _on_twin(AsyncDBOSClient.apply_schedules)

    # -- the driver: I/O only; the policy is ClientBase's ------------------------------

    def _warn_in_event_loop(self, name: str, twin: str) -> None:
        """A blocking call inside a running event loop stalls every task on it: say so, once."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        if name not in self._warned_in_loop:
            self._warned_in_loop.add(name)
            logger.warning(
                "DBOSClient.%s blocks the running event loop; use %s (or AsyncDBOSClient) in async code", name, twin
            )

    def _queries(self, deadline: float | None) -> Queries:
        """The statements for this database's schema; detects it on first use, within ``deadline``."""
        q = self._q
        if q is not None:
            return q
        with self._schema_lock:
            if self._q is None:
                self._q = self._run(_calls.detect_schema(self._core, deadline))
            return self._q

    def _run(self, op: Op[T]) -> T:
        """Drive an operation to its return value."""
        driver = self._drive(op)
        try:
            next(driver)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        driver.close()
        raise AssertionError("only read_stream emits values")

    def _iterate(self, op: Op[None]) -> Generator[Any, None, None]:
        """Drive a streaming operation, yielding what it emits."""
        yield from self._drive(op)

    def _drive(self, op: Op[T]) -> Generator[Any, None, T]:
        """Yield what the op emits and return what it returns; the one driver loop."""
        state, outcome = OpState(), NOTHING
        try:
            while True:
                action = self._advance(op, outcome)
                if isinstance(action, Emit):
                    yield action.value
                    outcome = NOTHING
                else:
                    outcome = self._perform(action, state)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        finally:
            self._finish(op, state)

    def _perform(self, action: Any, state: OpState) -> tuple[Any, BaseException | None]:
        """Carry out one action; a database error goes back to the op to translate."""
        if isinstance(action, Query):
            try:
                return self._execute(action), None
            except OP_ERRORS as exc:
                return None, exc
        if isinstance(action, Transaction):
            try:
                return self._transaction(action), None
            except Exception as exc:  # noqa: BLE001 - rolled back; the op decides what it means
                return None, exc
        if isinstance(action, NeedQueries):
            return self._queries(action.deadline), None
        if isinstance(action, Subscribe):
            state.waiter = self._get_hub().subscribe(action.check)
        elif isinstance(action, Wait):
            assert isinstance(state.waiter, Waiter), "an op must Subscribe before it Waits"
            self._get_hub().wait(state.waiter, action.check, action.deadline)
            self._check_still_open_after_wait()
        else:
            raise TypeError(f"unexpected action {action!r}")
        return NOTHING

    def _execute(self, query: Query) -> Any:
        """One statement on a pooled connection; transient failures are retried."""
        return self._retried(lambda limit: self._execute_once(query, limit), query.deadline)

    def _transaction(self, action: Transaction) -> Any:
        """A Transaction's body on one connection in one transaction (``BEGIN IMMEDIATE`` on
        SQLite); commit, or roll back if it raises. Transient failures retry all of it."""
        return self._retried(lambda limit: self._transaction_once(action, limit), action.deadline)

    def _retried(self, attempt: Callable[[float | None], T], deadline: float | None) -> T:
        """Run ``attempt`` once; retry it while the failure is transient, within ``deadline``
        and the retry budget; then raise what ``ClientBase._translated`` says the caller sees."""
        limit = self._attempt_limit(deadline, time.monotonic())
        try:
            try:
                return attempt(limit)
            except Exception as exc:
                if not self._retries_after(exc):
                    raise
            return self._retrying(limit)(attempt, limit)  # type: ignore[no-any-return]
        except Exception as exc:
            error = self._translated(exc)
            if error is None:
                raise
            raise error from exc

    def _run_on_connection(self, op: Op[T], conn: Any) -> T:
        """Drive an ``_ops`` op on a connection the caller owns (psycopg ``Connection`` or
        ``sqlite3.Connection``), inside the caller's transaction: no BEGIN or COMMIT of
        ours, no retry. Resolve the schema first (``self._queries``): the op may yield
        only Query and Transaction."""
        from ._txn import run_on_connection

        return run_on_connection(conn, op)

    def _execute_once(self, query: Query, limit: float | None) -> Any:
        if self._sqlite is not None:
            return self._sqlite.execute(query, limit)
        with self._connection(limit) as conn:
            return fetch(conn, query)

    def _transaction_once(self, action: Transaction, limit: float | None) -> Any:
        if self._sqlite is not None:
            return self._sqlite.transaction(action.body, limit)
        with self._connection(limit) as conn, conn.transaction():
            return _ops.run_inline(action.body(), lambda query: fetch(conn, query))

    @contextmanager
    def _connection(self, limit: float | None) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection until the block ends, connecting within ``limit`` if need be."""
        pool = self._get_pool()
        try:
            with pool.connection(limit) as conn:
                yield conn
        except psycopg.OperationalError as exc:
            if is_transient(exc):
                # Other idle connections likely died the same way (server restart):
                # drop them now rather than spend one retry on each.
                pool.discard_idle()
            raise

    def _connect(self, deadline: float | None) -> psycopg.Connection[Any]:
        """A new connection, made in the calling thread within ``deadline``."""
        return DeadlineConnection.connect(self._config.conninfo, **self._connect_kwargs(deadline))

    def _connect_listener(self) -> psycopg.Connection[Any]:
        return psycopg.Connection.connect(self._config.listener_conninfo, **self._connect_kwargs(None))

    def _get_pool(self) -> ConnectionPool:
        pool = self._pool
        if pool is not None:
            return pool
        with self._pool_lock:
            self._check_open()
            if self._pool is None:
                self._pool = ConnectionPool(self._connect, self._pool_size)
            return self._pool

    def _get_hub(self) -> WaitHub:
        hub = self._hub
        if hub is not None:
            return hub
        q = self._queries(None)
        with self._pool_lock:
            self._check_open()
            if self._hub is None:
                self._hub = WaitHub(
                    connect_listener=self._connect_listener,
                    ready_query=q.ready_waits,
                    run_query=lambda statement, params: self._execute(Query(statement, params)),
                    notify=self._notify_once,
                    policy=self._poll_policy,
                    app_notifies=q.info.notifications_trigger,
                    changed=self._sqlite.changed if self._sqlite is not None else None,
                )
            return self._hub

    def _notify_once(self, channel: str) -> None:
        """Best effort, one attempt, short wait: used only to wake our own listener."""
        pool = self._pool
        if pool is None:
            return
        try:
            with pool.connection(time.monotonic() + 1.0) as conn:
                conn.execute("SELECT pg_notify(%s, 'stop')", (channel,))
        except Exception:
            logger.debug("could not wake the notification listener", exc_info=True)

    def _get_event_outcome(self, workflow_id: str, key: str, timeout_seconds: float = 60) -> _calls.EventOutcome:
        """``get_event`` telling "no value yet" from "never will be" (for the CLI); unknown ids raise at once."""
        return self._run(_calls.get_event_outcome(self._core, workflow_id, key, timeout_seconds))

    # -- read_stream_offset, workflow attributes, delays, bulk resume --------------------

    def read_stream_offset(
        self, workflow_id: str, key: str, offset: int, *,
        polling_interval_sec: float | None = None, timeout_seconds: float | None = None,
    ) -> Any:
        """The one value at ``offset`` of the workflow's stream ``key``, waiting for it to be written.

        Returns at once if the value is there; otherwise blocks (holding no connection) until
        the workflow writes it, or ``timeout_seconds`` pass (None, the default: no limit).
        ``polling_interval_sec`` is DBOS's keyword: checked, but the shared poller's schedule applies.

        Raises:
            StreamTimeoutError: the timeout passed, or the stream ended (closed, or its workflow
                finished) before reaching ``offset``: then at once, since no value will come.
            WorkflowNotFoundError: no such workflow.
        """
        self._warn_in_event_loop("read_stream_offset", "read_stream_offset_async")
        op = _calls.read_stream_offset(self._core, workflow_id, key, offset, timeout_seconds, polling_interval_sec)
        return self._run(op)

    def update_workflow_attributes(
        self, workflow_id: str, attributes: dict[str, Any] | None, *, merge: bool = False
    ) -> None:
        """Replace the custom attributes of a workflow (None clears them); with ``merge=True``,
        set the given top-level keys on them instead, atomically. One statement; never waits.

        Raises:
            InvalidArgumentError: attributes not a JSON-serializable dict, or ``merge`` with None.
            WorkflowNotFoundError: no such workflow (DBOS silently ignores this).
            SchemaError: the schema has no attributes column (a DBOS release before them).
        """
        self._warn_in_event_loop("update_workflow_attributes", "update_workflow_attributes_async")
        self._run(_calls.update_attributes(self._core, workflow_id, attributes, merge))

    def set_workflow_delay(
        self, workflow_id: str, *, delay_seconds: float | None = None, delay_until_epoch_ms: int | None = None
    ) -> None:
        """Move the release time of a DELAYED workflow: ``delay_seconds`` from now (the database's
        clock) or at ``delay_until_epoch_ms``; exactly one of them. A workflow in any other status
        is left as it is. One statement; never waits.

        Raises:
            InvalidArgumentError: both or neither given, or a negative value.
            WorkflowNotFoundError: no such workflow (DBOS silently ignores this).
            SchemaError: the schema has no DELAYED status (DBOS before 2.16).
        """
        self._warn_in_event_loop("set_workflow_delay", "set_workflow_delay_async")
        self._run(_calls.set_delay(self._core, workflow_id, delay_seconds, delay_until_epoch_ms))

    def resume_workflows(self, workflow_ids: list[str], *, queue_name: str | None = None) -> list[WorkflowHandle[Any]]:
        """Resume several workflows in one statement; see ``resume_workflow``.

        Raises:
            WorkflowNotFoundError: an id is unknown; then none is resumed.
        """
        self._warn_in_event_loop("resume_workflows", "resume_workflows_async")
        self._run(_calls.resume_many(self._core, workflow_ids, queue_name))
        return [WorkflowHandle(self, workflow_id) for workflow_id in workflow_ids]

    read_stream_offset_async = _on_twin(AsyncDBOSClient.read_stream_offset)
    update_workflow_attributes_async = _on_twin(AsyncDBOSClient.update_workflow_attributes)
    set_workflow_delay_async = _on_twin(AsyncDBOSClient.set_workflow_delay)
    resume_workflows_async = _on_twin(AsyncDBOSClient.resume_workflows)
