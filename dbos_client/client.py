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
from typing import Any, Concatenate, TypeVar

import psycopg
from typing_extensions import ParamSpec, Unpack

from . import _calls, _ops
from ._base import NOTHING, OP_ERRORS, ClientBase, HandleBase, OpState
from ._hub import Waiter, WaitHub
from ._ops import Emit, NeedQueries, Op, Query, Subscribe, Transaction, Wait
from ._pool import ConnectionPool, DeadlineConnection
from ._retry import is_transient
from ._schema import SchemaInfo
from ._serialization import FormatChoice
from ._sql import Queries
from ._txn import fetch
from .client_async import AsyncDBOSClient
from .models import EnqueueOptions, ListWorkflowsFilters, WorkflowStatus

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

    Construction does no I/O. The first call opens a small psycopg connection pool and
    reads which DBOS schema version the database holds (the client never migrates); the
    first wait starts the client's wait hub (one listener connection, two threads).
    ``close()`` (or leaving a ``with`` block) closes all of it. Thread-safe: one client
    can serve many threads. For asyncio code, use ``AsyncDBOSClient``, or the ``*_async``
    methods here (DBOS's names), which run on an ``AsyncDBOSClient`` made on first use.

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
        poll_policy: how waiting calls are woken (see ``PollPolicy``).
        retry_connection_errors: DBOS's switch; False means a single attempt per call.
        use_listen_notify: listen for notifications (the default here; DBOS's default is
            False). False: the shared poller alone wakes waits.
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
        lazy: accepted for compatibility; this client always connects lazily.

    Raises:
        InvalidArgumentError: a bad URL or option. Nothing is connected yet.
    """

    def _init_io(self) -> None:
        self._pool_lock = threading.Lock()
        self._schema_lock = threading.Lock()
        self._pool: ConnectionPool | None = None
        self._hub: WaitHub | None = None
        self._q: Queries | None = None
        self._async_twin: AsyncDBOSClient | None = None
        self._warned_in_loop: set[str] = set()

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
                are required. ``serialization_type='portable'`` writes portable JSON.
            *args, **kwargs: the workflow's arguments.

        Raises:
            InvalidArgumentError: a bad option.
            SerializationError: an argument the chosen format cannot serialize.
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
            SerializationError: a message the chosen format cannot serialize.
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
