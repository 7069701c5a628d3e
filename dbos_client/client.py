"""DBOSClient: the public synchronous API, and the only code here that does I/O.

The operations themselves live in ``_ops`` as generators; this module drives them: it
runs each ``Query`` on a pooled connection (retrying transient failures), sleeps on each
``Wait``, and hands each ``Emit`` to the caller.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from typing import TYPE_CHECKING, Any, Generator, Generic, Iterator, Optional, TypeVar

import psycopg
from psycopg import errors as pgerr

from . import _ops
from ._config import DatabaseConfig, resolve
from ._hub import WaitHub, Waiter
from ._ops import Emit, Op, Query, Subscribe, Wait
from ._options import build_enqueue, check_notify_payload, check_timeout, optional_text, require_text
from ._retry import is_transient, retrying
from ._schema import SchemaInfo
from ._serialization import Codec, FormatChoice
from ._sql import INTERNAL_QUEUE, Queries
from ._wait import Deadline
from .errors import DatabaseUnavailableError, DBOSClientError, InvalidArgumentError, SchemaError
from .models import EnqueueOptions, PollPolicy, RetryPolicy, WorkflowStatus

if TYPE_CHECKING:
    from psycopg_pool import ConnectionPool

logger = logging.getLogger("dbos_client")

R = TypeVar("R")
T = TypeVar("T")

#: Waits share one poller and one listener, so even many concurrent waits need few
#: connections: 2 in the pool plus the listener's is the most an idle client holds.
DEFAULT_POOL_SIZE = 2
#: Longest a single attempt waits for a pooled connection; retries add to it, within budget.
_MAX_CONNECT_WAIT = 10.0
#: Even a call whose deadline has just passed gets this long for its final check.
_MIN_CONNECT_WAIT = 0.5


class WorkflowHandle(Generic[R]):
    """A reference to one workflow. Creating it does no I/O; each method is one call.

    Same surface as the handles ``dbos.DBOSClient`` returns: ``workflow_id``,
    ``get_workflow_id()``, ``get_status()`` and ``get_result()``.
    """

    def __init__(self, client: "DBOSClient", workflow_id: str) -> None:
        self._client = client
        self.workflow_id = workflow_id

    def get_workflow_id(self) -> str:
        """The workflow's id. No I/O."""
        return self.workflow_id

    def get_status(self) -> WorkflowStatus:
        """Read the workflow's current status row. One query; never waits.

        Raises:
            WorkflowNotFoundError: no such workflow.
        """
        return self._client._run(_ops.get_status(self._client._queries(), self._client._codec, self.workflow_id))

    def get_result(self, *, timeout_seconds: Optional[float] = None, polling_interval_sec: Optional[float] = None) -> R:
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
        deadline = self._client._deadline(check_timeout(timeout_seconds), polling_interval_sec)
        q = self._client._queries(deadline.at)
        return self._client._run(_ops.get_result(q, self._client._codec, self.workflow_id, deadline))

    def __repr__(self) -> str:
        return f"WorkflowHandle({self.workflow_id!r})"


class DBOSClient:
    """Talk to the workflows of a DBOS application through its system database.

    Construction does no I/O. The first call opens a small psycopg connection pool and
    reads which DBOS schema version the database holds (the client never migrates);
    ``close()`` (or leaving a ``with`` block) closes the pool and its threads.
    Thread-safe: one client can serve many threads.

    Args:
        system_database_url: ``postgresql://user:password@host:port/database`` (the
            ``postgresql+psycopg://`` form DBOS accepts works too). Defaults to the
            ``DBOS_SYSTEM_DATABASE_URL`` environment variable.
        dbos_system_schema: the schema of the DBOS tables, as the application set it.
        serializer: the application's custom serializer, if it uses one (any object
            with ``serialize``, ``deserialize`` and ``name``). Defaults to pickle, as DBOS.
        application_name: the DBOS application name written on enqueued workflows, so
            only that application runs them. Not the Postgres connection name.
        system_database_pool_size: the most pooled connections (default 2). Waiting calls
            hold none while they wait; on the first wait, one more, dedicated connection
            listens for notifications.
        retry_policy: how transient database failures are retried (see ``RetryPolicy``).
        poll_policy: how waiting calls are woken (see ``PollPolicy``).
        retry_connection_errors: DBOS's switch; False means a single attempt per call.
        use_listen_notify: listen for notifications (the default here; DBOS's default is
            False). False: the shared poller alone wakes waits.
        lazy: accepted for compatibility; this client always connects lazily.

    Raises:
        InvalidArgumentError: a bad URL or option. Nothing is connected yet.
    """

    def __init__(
        self,
        *,
        system_database_url: Optional[str] = None,
        dbos_system_schema: Optional[str] = "dbos",
        serializer: Optional[Any] = None,
        application_name: Optional[str] = None,
        system_database_pool_size: Optional[int] = None,
        retry_policy: Optional[RetryPolicy] = None,
        poll_policy: Optional[PollPolicy] = None,
        retry_connection_errors: bool = True,
        lazy: bool = True,
        use_listen_notify: bool = True,
        **unsupported: Any,
    ) -> None:
        if unsupported:
            names = ", ".join(sorted(unsupported))
            raise InvalidArgumentError(f"DBOSClient does not support the argument(s): {names}")
        self._config: DatabaseConfig = resolve(system_database_url)
        self._schema_name = require_text(dbos_system_schema or "dbos", "dbos_system_schema")
        self._codec = Codec(serializer)
        self._application_name = optional_text(application_name, "application_name")
        pool_size = DEFAULT_POOL_SIZE if system_database_pool_size is None else system_database_pool_size
        if isinstance(pool_size, bool) or not isinstance(pool_size, int) or pool_size < 1:
            raise InvalidArgumentError("system_database_pool_size must be a positive integer")
        self._pool_size = pool_size
        policy = retry_policy or RetryPolicy()
        self._retry_policy = policy if retry_connection_errors else RetryPolicy(
            max_attempts=1, budget_seconds=policy.budget_seconds
        )
        policy_for_waits = poll_policy or PollPolicy()
        if not use_listen_notify:
            policy_for_waits = dataclasses.replace(policy_for_waits, use_notifications=False)
        self._poll_policy = policy_for_waits
        self._pool_lock = threading.Lock()
        self._schema_lock = threading.Lock()
        self._pool: Optional["ConnectionPool[Any]"] = None
        self._hub: Optional[WaitHub] = None
        self._q: Optional[Queries] = None
        self._closed = False
        self._warned_queues: set[str] = set()
        self._last_connect_error: Optional[BaseException] = None

    # -- lifecycle -------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection pool and stop its threads. Idempotent; blocks up to 5 s."""
        with self._pool_lock:
            self._closed = True
            hub, self._hub = self._hub, None
        if hub is not None:
            hub.close()  # may still use the pool, to wake its listener
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    def destroy(self) -> None:
        """Same as ``close()``; the name ``dbos.DBOSClient`` uses."""
        self.close()

    def __enter__(self) -> "DBOSClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"DBOSClient(url={self._config.display_url!r}, schema={self._schema_name!r})"

    def check_connection(self) -> None:
        """Connect (if not yet connected) and check the DBOS schema. Retried within the budget.

        Raises:
            DatabaseUnavailableError: the database cannot be reached.
            SchemaError: the database has no usable DBOS system schema.
        """
        self._queries()

    @property
    def schema_info(self) -> SchemaInfo:
        """What the database holds (tables, columns, DBOS generation). Connects on first use."""
        return self._queries().info

    # -- enqueue ---------------------------------------------------------------------

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
        request = build_enqueue(options, args, kwargs, self._codec, self._application_name)
        q = self._queries()
        outcome = self._run(_ops.enqueue(q, request))
        self._warn_if_unknown_queue(q, request.queue_name, outcome.queue_known)
        return WorkflowHandle(self, outcome.workflow_id)

    def _warn_if_unknown_queue(self, q: Queries, queue_name: str, known: Optional[bool]) -> None:
        # Only 3.x requires a queues row; 2.x also polls queues declared in code.
        if known is not False or not q.info.is_v3 or queue_name == INTERNAL_QUEUE or queue_name in self._warned_queues:
            return
        self._warned_queues.add(queue_name)
        logger.warning(
            "queue %r is not registered in this system database; its workflows stay ENQUEUED "
            "until an application declares that queue",
            queue_name,
        )

    # -- messages --------------------------------------------------------------------

    def send(
        self,
        destination_id: str,
        message: Any,
        topic: Optional[str] = None,
        idempotency_key: Optional[str] = None,
        *,
        serialization_type: FormatChoice = None,
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
        require_text(destination_id, "destination_id")
        optional_text(topic, "topic")
        optional_text(idempotency_key, "idempotency_key")
        check_notify_payload(destination_id, topic or "__null__topic__", "topic")
        tag = self._codec.tag_for(serialization_type)
        text = self._codec.encode(message, tag, "message")
        self._run(_ops.send(self._queries(), destination_id, text, tag, topic, idempotency_key))

    # -- events ----------------------------------------------------------------------

    def get_event(self, workflow_id: str, key: str, timeout_seconds: float = 60) -> Any:
        """Wait for the workflow to publish ``key`` and return its latest value.

        Blocks until the key has a value, or ``timeout_seconds`` pass (then returns None,
        as DBOS does). Returns None at once if the workflow has already finished (SUCCESS
        or ERROR) without publishing the key, since it never can. A value that exists
        costs one query.

        Raises:
            InvalidArgumentError: a bad id or key, or a negative timeout.
        """
        require_text(workflow_id, "workflow_id")
        require_text(key, "key")
        deadline = self._deadline(check_timeout(timeout_seconds, allow_none=False))
        return self._run(_ops.get_event(self._queries(deadline.at), self._codec, workflow_id, key, deadline))

    def get_all_events(self, workflow_id: str) -> dict[str, Any]:
        """Every event key of the workflow with its latest value. One query; never blocks.

        Raises:
            WorkflowNotFoundError: no such workflow.
        """
        require_text(workflow_id, "workflow_id")
        return self._run(_ops.get_all_events(self._queries(), self._codec, workflow_id))

    # -- streams ---------------------------------------------------------------------

    def read_stream(
        self,
        workflow_id: str,
        key: str,
        *,
        offset: int = 0,
        polling_interval_sec: Optional[float] = None,
        timeout_seconds: Optional[float] = None,
    ) -> Iterator[Any]:
        """Yield every value of the workflow's stream ``key``, in order, live.

        Starts at ``offset`` (0: the beginning) and ends when the stream is closed, or when
        the workflow has finished and everything it wrote has been read. Between values it
        blocks until a notification or the shared poller says the next value is there;
        ``timeout_seconds`` bounds the wait for each value (None: no limit).
        ``polling_interval_sec`` is DBOS's keyword: accepted and checked, but unused.
        Values are read in batches of up to 100 per query.

        Raises:
            WorkflowNotFoundError: no such workflow (at once, not after a timeout).
            StreamTimeoutError: no next value within ``timeout_seconds``.
        """
        require_text(workflow_id, "workflow_id")
        require_text(key, "key")
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise InvalidArgumentError(f"offset must be a non-negative integer, got {offset!r}")
        deadline = self._deadline(check_timeout(timeout_seconds), polling_interval_sec)
        return self._stream(workflow_id, key, offset, deadline)

    def _stream(self, workflow_id: str, key: str, offset: int, deadline: Deadline) -> Iterator[Any]:
        q = self._queries(deadline.at)
        if not q.has_streams:
            raise SchemaError(f"{q.info.describe()} has no streams table (streams need DBOS 1.14 or later)")
        yield from self._iterate(_ops.read_stream(q, self._codec, workflow_id, key, offset, deadline))

    # -- workflows -------------------------------------------------------------------

    def retrieve_workflow(self, workflow_id: str) -> WorkflowHandle[Any]:
        """A handle to an existing workflow. One query, to check that it exists.

        Raises:
            WorkflowNotFoundError: no such workflow.
        """
        require_text(workflow_id, "workflow_id")
        self._run(_ops.ensure_exists(self._queries(), workflow_id))
        return WorkflowHandle(self, workflow_id)

    def cancel_workflow(self, workflow_id: str, *, cancel_children: bool = False) -> None:
        """Cancel a workflow (and, with ``cancel_children``, its descendants). One statement.

        A queued workflow leaves its queue; a running one stops at its next step. A
        workflow that already finished (SUCCESS or ERROR) is left as it is.

        Raises:
            WorkflowNotFoundError: no such workflow (DBOS silently ignores this).
        """
        require_text(workflow_id, "workflow_id")
        self._run(_ops.cancel(self._queries(), workflow_id, bool(cancel_children)))

    def resume_workflow(self, workflow_id: str, *, queue_name: Optional[str] = None) -> WorkflowHandle[Any]:
        """Re-enqueue a cancelled or failed-over workflow so it runs again from its last step.

        One statement. It goes on ``queue_name``, or DBOS's internal queue, which every
        application polls. A finished workflow (SUCCESS or ERROR) is left as it is.

        Raises:
            WorkflowNotFoundError: no such workflow.
        """
        require_text(workflow_id, "workflow_id")
        optional_text(queue_name, "queue_name")
        self._run(_ops.resume(self._queries(), workflow_id, queue_name))
        return WorkflowHandle(self, workflow_id)

    # -- the driver --------------------------------------------------------------------

    def _deadline(self, timeout: Optional[float], polling_interval_sec: Optional[float] = None) -> Deadline:
        if polling_interval_sec is not None:
            interval = check_timeout(polling_interval_sec, "polling_interval_sec")
            if interval is None or interval < 0.001:
                raise InvalidArgumentError("polling_interval_sec must be at least 0.001")
        return Deadline(timeout)

    def _queries(self, deadline: Optional[float] = None) -> Queries:
        """The statements for this database's schema; detects it on first use, within ``deadline``."""
        q = self._q
        if q is not None:
            return q
        with self._schema_lock:
            if self._q is None:
                info = self._run(_ops.detect_schema(self._schema_name, self._config.database, deadline))
                self._q = Queries(info)
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

    def _iterate(self, op: Op[None]) -> Iterator[Any]:
        """Drive a streaming operation, yielding what it emits."""
        yield from self._drive(op)

    def _drive(self, op: Op[T]) -> Generator[Any, None, T]:
        """Yield what the op emits and return what it returns; the one driver loop."""
        state = _OpState()
        try:
            reply, error = None, None
            while True:
                try:
                    action = op.throw(error) if error is not None else op.send(reply)
                except StopIteration as stop:
                    return stop.value  # type: ignore[no-any-return]
                if isinstance(action, Emit):
                    reply, error = None, None
                    yield action.value
                else:
                    reply, error = self._perform(action, state)
        finally:
            op.close()
            self._release(state)

    def _perform(self, action: Any, state: "_OpState") -> tuple[Any, Optional[BaseException]]:
        """Carry out one action; a psycopg error goes back to the op to translate."""
        if isinstance(action, Query):
            try:
                return self._execute(action), None
            except psycopg.Error as exc:
                return None, exc
        if isinstance(action, Subscribe):
            state.waiter = self._get_hub().subscribe(action.check)
            return None, None
        if isinstance(action, Wait):
            assert state.waiter is not None, "an op must Subscribe before it Waits"
            self._get_hub().wait(state.waiter, action.check, action.deadline)
            if self._closed:
                raise DBOSClientError("this DBOSClient was closed while the call was waiting")
            return None, None
        raise TypeError(f"unexpected action {action!r}")

    def _release(self, state: "_OpState") -> None:
        if state.waiter is not None and self._hub is not None:
            self._hub.unsubscribe(state.waiter)

    def _get_hub(self) -> WaitHub:
        hub = self._hub
        if hub is not None:
            return hub
        q = self._queries()
        with self._pool_lock:
            if self._closed:
                raise DBOSClientError("this DBOSClient is closed")
            if self._hub is None:
                self._hub = WaitHub(
                    listener_conninfo=self._config.listener_conninfo,
                    ready_query=q.ready_waits,
                    run_query=lambda statement, params: self._execute(Query(statement, params)),
                    notify=self._notify_once,
                    policy=self._poll_policy,
                    app_notifies=q.info.notifications_trigger,
                )
            return self._hub

    def _execute(self, query: Query) -> Any:
        """One statement on a pooled connection, retried on transient failures."""
        policy = self._retry_policy
        # No single attempt may outlast the caller's deadline or the whole retry budget.
        limit = query.deadline
        if policy.budget_seconds is not None:
            budget_end = time.monotonic() + policy.budget_seconds
            limit = budget_end if limit is None else min(limit, budget_end)
        try:
            try:
                return self._execute_once(query, limit)
            except Exception as exc:
                if not is_transient(exc) or policy.max_attempts == 1:
                    raise
                logger.warning("system database call failed (%s); retrying", _first_line(exc))
            return retrying(policy, deadline=query.deadline, attempts_made=1)(self._execute_once, query, limit)
        except (pgerr.UndefinedTable, pgerr.InvalidSchemaName, pgerr.UndefinedColumn) as exc:
            raise SchemaError(
                f"the DBOS schema {self._schema_name!r} changed under this client ({exc.diag.message_primary})"
            ) from exc
        except Exception as exc:
            if not is_transient(exc):
                raise
            reason = exc
            if type(exc).__name__ == "PoolTimeout" and self._last_connect_error is not None:
                reason = self._last_connect_error  # why the pool had no connection to give
            raise DatabaseUnavailableError(
                f"the system database at {self._config.display_url} is unreachable: {_first_line(reason)}",
                url=self._config.display_url,
            ) from exc

    def _execute_once(self, query: Query, limit: Optional[float]) -> Any:
        wait = _MAX_CONNECT_WAIT
        if limit is not None:
            wait = min(wait, max(_MIN_CONNECT_WAIT, limit - time.monotonic()))
        pool = self._get_pool()
        try:
            with pool.connection(timeout=wait) as conn:
                cur = conn.execute(query.statement, query.params)
                if query.fetch == "one":
                    return cur.fetchone()
                if query.fetch == "all":
                    return cur.fetchall()
                return None
        except psycopg.OperationalError as exc:
            if is_transient(exc):
                # Other idle connections likely died the same way (server restart):
                # drop them now rather than spend one retry on each.
                pool.check()
            raise

    def _notify_once(self, channel: str) -> None:
        """Best effort, one attempt, short wait: used only to wake our own listener."""
        pool = self._pool
        if pool is None:
            return
        try:
            with pool.connection(timeout=1.0) as conn:
                conn.execute("SELECT pg_notify(%s, 'stop')", (channel,))
        except Exception:  # noqa: BLE001 - the listener then stops at its next timeout
            logger.debug("could not wake the notification listener", exc_info=True)

    def _record_connect_error(self, exc: Optional[BaseException]) -> None:
        self._last_connect_error = exc

    def _get_pool(self) -> "ConnectionPool[Any]":
        pool = self._pool
        if pool is not None:
            return pool
        with self._pool_lock:
            if self._closed:
                raise DBOSClientError("this DBOSClient is closed")
            if self._pool is None:
                from psycopg_pool import ConnectionPool  # imported with the first call, not the package

                # min_size=0: the first call opens the first connection itself. A
                # min_size of 1 would race it with a background connect: two for one send.
                pool = ConnectionPool(
                    self._config.conninfo,
                    min_size=0,
                    max_size=self._pool_size,
                    open=False,
                    name="dbos_client",
                    kwargs={"autocommit": True},
                    connection_class=_recording_connection_class(self._record_connect_error),
                    num_workers=2,
                )
                pool.open(wait=False)
                self._pool = pool
            return self._pool


def _recording_connection_class(record: Any) -> type[psycopg.Connection[Any]]:
    """A Connection class that reports why connecting failed (or None once it works).

    The pool connects in its own threads and a caller only sees PoolTimeout; this keeps
    the real reason ("connection refused", "password authentication failed") for the
    DatabaseUnavailableError message.
    """

    class RecordingConnection(psycopg.Connection[Any]):
        @classmethod
        def connect(cls, *args: Any, **kwargs: Any) -> Any:
            try:
                conn = super().connect(*args, **kwargs)
            except psycopg.Error as exc:
                record(exc)
                raise
            record(None)
            return conn

    return RecordingConnection


class _OpState:
    """What one running operation holds in the shell: at most one waiter registration."""

    __slots__ = ("waiter",)

    def __init__(self) -> None:
        self.waiter: Optional[Waiter] = None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
