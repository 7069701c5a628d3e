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
from typing_extensions import ParamSpec

from . import _calls, _ops, _surface
from ._base import NOTHING, OP_ERRORS, ClientBase, HandleBase, OpState
from ._hub import Waiter, WaitHub
from ._lazy import outbox as _outbox  # loaded on first use
from ._ops import Emit, NeedQueries, Op, Query, Subscribe, Transaction, Wait
from ._pool import ConnectionPool, DeadlineConnection
from ._retry import is_transient
from ._schema import SchemaInfo
from ._serialization import FormatChoice
from ._sql import Queries
from ._txn import fetch
from .client_async import AsyncDBOSClient
from .errors import SchemaError
from .models import EnqueueOptions, WorkflowStatus

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


def _handle(client: DBOSClient, workflow_id: str) -> WorkflowHandle[Any]:
    return WorkflowHandle(client, workflow_id)


def _handles(client: DBOSClient, workflow_ids: list[str]) -> list[WorkflowHandle[Any]]:
    return [WorkflowHandle(client, workflow_id) for workflow_id in workflow_ids]


def _on_twin(
    method: Callable[Concatenate[AsyncDBOSClient, P], T], rebind: Callable[[Any, Any], Any] | None = None
) -> Callable[Concatenate[DBOSClient, P], T]:
    """DBOS's ``x_async`` name on DBOSClient: ``AsyncDBOSClient.x``, run on the client's async twin.

    Written once, in AsyncDBOSClient; the alias takes its signature, docstring and types.
    ``rebind(client, result)`` binds the queues it returns to this client rather than the
    twin, so their sync setters work as on the ones ``register_queue`` returns.
    """
    if inspect.iscoroutinefunction(method):

        async def on_twin_async(self: DBOSClient, /, *args: P.args, **kwargs: P.kwargs) -> Any:
            result = await method(self._twin(), *args, **kwargs)
            return result if rebind is None else rebind(self, result)

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
        system_database_engine: DBOS's keyword: a SQLAlchemy ``Engine`` on the system
            database. Its URL replaces ``system_database_url``; the client opens its own
            connections to that database (SQLAlchemy is not needed, nor imported), so the
            URL must carry the credentials (``connect_args`` and ``creator`` are not used).
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
    check_connection_async = _on_twin(AsyncDBOSClient.check_connection)

    def get_schema_info(self) -> SchemaInfo:
        """What the database holds (tables, columns, DBOS generation). Connects on first use,
        then no I/O. The same method as ``AsyncDBOSClient.get_schema_info``."""
        return self._queries(None).info

    @property
    def schema_info(self) -> SchemaInfo:
        """``get_schema_info()`` as a property."""
        return self.get_schema_info()

    # -- the calls -------------------------------------------------------------------
    # Each call is written once, in ``_surface``; ``_surface.blocking`` makes it a method
    # that runs on the calling thread. After it comes DBOS's ``<name>_async``, where DBOS has
    # one: AsyncDBOSClient's method, run on this client's async twin (see ``_twin``).

    enqueue = _surface.blocking(_surface.enqueue, _handle)
    enqueue_async = _on_twin(AsyncDBOSClient.enqueue)
    send = _surface.blocking(_surface.send)
    send_async = _on_twin(AsyncDBOSClient.send)
    get_event = _surface.blocking(_surface.get_event)
    get_event_async = _on_twin(AsyncDBOSClient.get_event)
    get_all_events = _surface.blocking(_surface.get_all_events)
    get_all_events_async = _on_twin(AsyncDBOSClient.get_all_events)

    def read_stream(
        self, workflow_id: str, key: str, *, offset: int = 0,
        polling_interval_sec: float | None = None, timeout_seconds: float | None = None, shard_key: str | None = None,
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
            _calls.read_stream(self._core, workflow_id, key, offset, timeout_seconds, polling_interval_sec, shard_key)
        )
    read_stream_async = _on_twin(AsyncDBOSClient.read_stream)

    retrieve_workflow = _surface.blocking(_surface.retrieve_workflow, _handle)
    retrieve_workflow_async = _on_twin(AsyncDBOSClient.retrieve_workflow)
    cancel_workflow = _surface.blocking(_surface.cancel_workflow)
    cancel_workflow_async = _on_twin(AsyncDBOSClient.cancel_workflow)
    cancel_workflows = _surface.blocking(_surface.cancel_workflows)
    cancel_workflows_async = _on_twin(AsyncDBOSClient.cancel_workflows)
    delete_workflow = _surface.blocking(_surface.delete_workflow)
    delete_workflow_async = _on_twin(AsyncDBOSClient.delete_workflow)
    delete_workflows = _surface.blocking(_surface.delete_workflows)
    delete_workflows_async = _on_twin(AsyncDBOSClient.delete_workflows)
    list_workflows = _surface.blocking(_surface.list_workflows)
    list_workflows_async = _on_twin(AsyncDBOSClient.list_workflows)
    list_queued_workflows = _surface.blocking(_surface.list_queued_workflows)
    list_queued_workflows_async = _on_twin(AsyncDBOSClient.list_queued_workflows)
    list_workflow_steps = _surface.blocking(_surface.list_workflow_steps)
    list_workflow_steps_async = _on_twin(AsyncDBOSClient.list_workflow_steps)
    resume_workflow = _surface.blocking(_surface.resume_workflow, _handle)
    resume_workflow_async = _on_twin(AsyncDBOSClient.resume_workflow)

    # -- the operator's surface: queues, fork/rewind, application versions -------------

    register_queue = _surface.blocking(_surface.register_queue, _surface._bound_queue)
    register_queue_async = _on_twin(AsyncDBOSClient.register_queue, _surface._bound_queue)
    retrieve_queue = _surface.blocking(_surface.retrieve_queue, _surface._bound_optional_queue)
    retrieve_queue_async = _on_twin(AsyncDBOSClient.retrieve_queue, _surface._bound_optional_queue)
    delete_queue = _surface.blocking(_surface.delete_queue)
    delete_queue_async = _on_twin(AsyncDBOSClient.delete_queue)
    list_queues = _surface.blocking(_surface.list_queues, _surface._bound_queues)
    list_queues_async = _on_twin(AsyncDBOSClient.list_queues, _surface._bound_queues)
    fork_workflow = _surface.blocking(_surface.fork_workflow, _handle)
    fork_workflow_async = _on_twin(AsyncDBOSClient.fork_workflow)
    rewind_workflow = _surface.blocking(_surface.rewind_workflow, _handle)
    rewind_workflow_async = _on_twin(AsyncDBOSClient.rewind_workflow)
    list_application_versions = _surface.blocking(_surface.list_application_versions)
    list_application_versions_async = _on_twin(AsyncDBOSClient.list_application_versions)
    get_latest_application_version = _surface.blocking(_surface.get_latest_application_version)
    get_latest_application_version_async = _on_twin(AsyncDBOSClient.get_latest_application_version)
    set_latest_application_version = _surface.blocking(_surface.set_latest_application_version)
    set_latest_application_version_async = _on_twin(AsyncDBOSClient.set_latest_application_version)
    rename_application = _surface.blocking(_surface.rename_application)
    rename_application_async = _on_twin(AsyncDBOSClient.rename_application)

    # -- bulk calls and fan-out waits (ops in _bulk) -----------------------------------

    send_bulk = _surface.blocking(_surface.send_bulk)
    send_bulk_async = _on_twin(AsyncDBOSClient.send_bulk)
    enqueue_bulk = _surface.blocking(_surface.enqueue_bulk, _handles)
    enqueue_bulk_async = _on_twin(AsyncDBOSClient.enqueue_bulk)

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
    wait_first_async = _on_twin(AsyncDBOSClient.wait_first)

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
    wait_all_async = _on_twin(AsyncDBOSClient.wait_all)

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

    create_schedule = _surface.blocking(_surface.create_schedule)
    create_schedule_async = _on_twin(AsyncDBOSClient.create_schedule)
    list_schedules = _surface.blocking(_surface.list_schedules)
    list_schedules_async = _on_twin(AsyncDBOSClient.list_schedules)
    get_schedule = _surface.blocking(_surface.get_schedule)
    get_schedule_async = _on_twin(AsyncDBOSClient.get_schedule)
    delete_schedule = _surface.blocking(_surface.delete_schedule)
    delete_schedule_async = _on_twin(AsyncDBOSClient.delete_schedule)
    pause_schedule = _surface.blocking(_surface.pause_schedule)
    resume_schedule = _surface.blocking(_surface.resume_schedule)
    apply_schedules = _surface.blocking(_surface.apply_schedules)
    apply_schedules_async = _on_twin(AsyncDBOSClient.apply_schedules)
    backfill_schedule = _surface.blocking(_surface.backfill_schedule, _handles)
    trigger_schedule = _surface.blocking(_surface.trigger_schedule, _handle)

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

    # -- the driver: I/O only; the policy is ClientBase's ------------------------------

    def _warn_in_event_loop(self, name: str, twin: str | None = None) -> None:
        """A blocking call inside a running event loop stalls every task on it: say so, once.

        ``twin`` names what to use instead: by default DBOS's ``<name>_async``, or
        ``AsyncDBOSClient.<name>`` where DBOS has no such alias.
        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        if twin is None:
            twin = f"{name}_async" if hasattr(type(self), f"{name}_async") else f"AsyncDBOSClient.{name}"
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

    read_stream_offset = _surface.blocking(_surface.read_stream_offset)
    read_stream_offset_async = _on_twin(AsyncDBOSClient.read_stream_offset)
    update_workflow_attributes = _surface.blocking(_surface.update_workflow_attributes)
    update_workflow_attributes_async = _on_twin(AsyncDBOSClient.update_workflow_attributes)
    set_workflow_delay = _surface.blocking(_surface.set_workflow_delay)
    set_workflow_delay_async = _on_twin(AsyncDBOSClient.set_workflow_delay)
    resume_workflows = _surface.blocking(_surface.resume_workflows, _handles)
    resume_workflows_async = _on_twin(AsyncDBOSClient.resume_workflows)


_surface.adopt(DBOSClient)
