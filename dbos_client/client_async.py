"""AsyncDBOSClient: the same calls as DBOSClient, on psycopg's native async connections.

It drives the very operations ``DBOSClient`` drives (``_calls`` and ``_ops``); only the
I/O differs: an ``AsyncConnectionPool``, tenacity's ``AsyncRetrying``, and waits that
suspend the task instead of a thread. Waits are woken by a wait hub on the client's own
loop (``_hub_async``: one listener connection and one shared poller, as two tasks, making
the sync hub's decisions): no thread per call or per wake-up, and a waiting task holds no
connection.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import psycopg

from . import _calls, _ops, _surface
from ._base import NOTHING, OP_ERRORS, ClientBase, HandleBase, OpState
from ._hub_async import AsyncWaiter, AsyncWaitHub
from ._lazy import outbox as _outbox  # loaded on first use
from ._ops import Emit, NeedQueries, Op, Query, Subscribe, Transaction, Wait
from ._pool import AsyncConnectionPool, AsyncDeadlineConnection
from ._retry import is_transient
from ._schema import SchemaInfo
from ._serialization import FormatChoice
from ._sql import Queries
from ._txn import fetch_async
from .errors import DBOSClientError, SchemaError
from .models import EnqueueOptions, WorkflowStatus

logger = logging.getLogger("dbos_client")

R = TypeVar("R")
T = TypeVar("T")

def _frozen(params: Any) -> Any:
    """A hashable twin of statement parameters (dicts and lists nest in list filters)."""
    if isinstance(params, dict):
        return tuple(sorted((k, _frozen(v)) for k, v in params.items()))
    if isinstance(params, (list, tuple)):
        return tuple(_frozen(v) for v in params)
    return params


class AsyncWorkflowHandle(HandleBase[R]):
    """A reference to one workflow, for asyncio code. Creating it does no I/O.

    ``workflow_id`` and ``get_workflow_id()`` are plain; ``get_status()`` and
    ``get_result()`` are coroutines, as on the handles of ``dbos.DBOSClient.enqueue_async``.
    """

    _client: AsyncDBOSClient

    async def get_status(self) -> WorkflowStatus:
        """Read the workflow's current status row. One query; never waits.

        Raises:
            WorkflowNotFoundError: no such workflow.
        """
        return await self._client._run(_calls.get_status(self._client._core, self.workflow_id))

    async def get_result(
        self, *, timeout_seconds: float | None = None, polling_interval_sec: float | None = None
    ) -> R:
        """Wait until the workflow finishes, then return its value or raise its error.

        Suspends the task (no thread, no connection held) until the workflow ends or
        ``timeout_seconds`` pass (None: no limit). Cancelling the task ends the wait at
        once and leaves nothing behind. Otherwise as ``WorkflowHandle.get_result``.
        """
        op = _calls.get_result(self._client._core, self.workflow_id, timeout_seconds, polling_interval_sec)
        return await self._client._run(op)


def _handle(client: AsyncDBOSClient, workflow_id: str) -> AsyncWorkflowHandle[Any]:
    return AsyncWorkflowHandle(client, workflow_id)


def _handles(client: AsyncDBOSClient, workflow_ids: list[str]) -> list[AsyncWorkflowHandle[Any]]:
    return [AsyncWorkflowHandle(client, workflow_id) for workflow_id in workflow_ids]


class AsyncDBOSClient(ClientBase):
    """``DBOSClient`` for asyncio services: every call is a coroutine (``read_stream`` an
    async iterator), running on psycopg's async pool.

    ``async with AsyncDBOSClient(system_database_url=...) as client: await client.get_event(...)``.
    Same arguments, semantics, errors and timeouts as ``DBOSClient``, but for ``lazy``: the
    constructor never does I/O (it cannot await, and a blocking connect would stall the event
    loop it runs on). With ``lazy=False`` (the default), entering ``async with`` connects
    instead, as ``DBOSClient``'s constructor does: one attempt, bounded by the connect timeout
    and as long again for its queries, raising ``DatabaseUnavailableError`` or
    ``ConnectionRejectedError`` (and closing the client) if the database cannot be reached;
    with ``use_listen_notify=True`` it starts the listener too. A client used without
    ``async with``, or with ``lazy=True``, connects on its first call, with the retry policy.
    A client belongs to the event loop it first runs on. Cancelling a task blocked in
    ``get_event``, ``get_result`` or a stream iteration ends its wait at once: its
    registration is removed and no connection stays busy.
    """

    _kind = "AsyncDBOSClient"

    def _init_io(self) -> None:
        self._pool: AsyncConnectionPool | None = None
        self._hub: AsyncWaitHub | None = None
        self._q: Queries | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._detecting: asyncio.Future[Queries] | None = None
        self._batches: dict[Any, asyncio.Future[Any]] = {}

    # -- lifecycle -------------------------------------------------------------------

    async def close(self) -> None:
        """Close the hub, the pool and their threads. Idempotent; takes milliseconds.

        A task still waiting on this client ends with ``DBOSClientError``.
        """
        self._closed = True
        hub, self._hub = self._hub, None
        if hub is not None:
            await hub.close()
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()
        if self._sqlite is not None:
            self._sqlite.close()

    async def destroy(self) -> None:
        """Same as ``close()``."""
        await self.close()

    async def __aenter__(self) -> AsyncDBOSClient:
        """Connect now unless ``lazy=True`` (see the class); bounded, one attempt.

        Raises:
            DatabaseUnavailableError, ConnectionRejectedError: the database cannot be
                reached; the client is closed.
        """
        if not self._lazy:
            await self._connect_on_entry()
        return self

    async def _connect_on_entry(self) -> None:
        # Another task using this client meanwhile would get no retries either: entering is
        # expected before any use, and once the schema is known this returns at once.
        try:
            with self._single_attempt():
                try:
                    await self._queries(self._construction_deadline())
                except SchemaError as exc:
                    # Reachable, but no usable schema yet: the first call says so (see DBOSClient).
                    logger.debug("no usable DBOS schema yet: %s", exc)
                    return
            if self._listen_at_once:
                (await self._get_hub()).start()
        except BaseException:
            await self.close()  # __aexit__ does not run when __aenter__ raises
            raise

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    def _close_from_sync(self) -> None:
        """Best-effort close from synchronous code (``DBOSClient.close`` closing its twin)."""
        self._closed = True
        hub, self._hub = self._hub, None
        if hub is not None:
            hub.close_soon()
        if self._sqlite is not None:
            self._sqlite.close()
        pool, self._pool = self._pool, None
        loop = self._loop
        if pool is None:
            return
        if loop is None or loop.is_closed():
            pool.close_nowait()
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            loop.create_task(pool.close())
        elif loop.is_running():
            asyncio.run_coroutine_threadsafe(pool.close(), loop)
        else:
            pool.close_nowait()

    async def check_connection(self) -> None:
        """Connect (if not yet connected) and check the DBOS schema. Retried within the budget.

        Raises:
            DatabaseUnavailableError: the database cannot be reached.
            SchemaError: the database has no usable DBOS system schema.
        """
        await self._queries(None)

    async def get_schema_info(self) -> SchemaInfo:
        """What the database holds (tables, columns, DBOS generation). Connects on first use."""
        return (await self._queries(None)).info

    # -- the calls -------------------------------------------------------------------

    enqueue = _surface.awaiting(_surface.enqueue, _handle)
    send = _surface.awaiting(_surface.send)
    get_event = _surface.awaiting(_surface.get_event)
    get_all_events = _surface.awaiting(_surface.get_all_events)

    def read_stream(
        self, workflow_id: str, key: str, *, offset: int = 0,
        polling_interval_sec: float | None = None, timeout_seconds: float | None = None, shard_key: str | None = None,
    ) -> AsyncGenerator[Any, None]:
        """``async for value in client.read_stream(workflow_id, key)``: every value, in order, live.

        Ends when the stream is closed or the finished workflow's values are all read;
        ``timeout_seconds`` bounds the wait for each value. Arguments are checked at once.
        See ``DBOSClient.read_stream``.
        """
        op = _calls.read_stream(self._core, workflow_id, key, offset, timeout_seconds, polling_interval_sec, shard_key)
        return self._iterate(op)

    retrieve_workflow = _surface.awaiting(_surface.retrieve_workflow, _handle)
    cancel_workflow = _surface.awaiting(_surface.cancel_workflow)
    cancel_workflows = _surface.awaiting(_surface.cancel_workflows)
    delete_workflow = _surface.awaiting(_surface.delete_workflow)
    delete_workflows = _surface.awaiting(_surface.delete_workflows)
    list_workflows = _surface.awaiting(_surface.list_workflows)
    list_queued_workflows = _surface.awaiting(_surface.list_queued_workflows)
    list_workflow_steps = _surface.awaiting(_surface.list_workflow_steps)
    resume_workflow = _surface.awaiting(_surface.resume_workflow, _handle)

    # -- the operator's surface: queues, fork/rewind, application versions -------------

    register_queue = _surface.awaiting(_surface.register_queue, _surface._bound_queue)
    retrieve_queue = _surface.awaiting(_surface.retrieve_queue, _surface._bound_optional_queue)
    delete_queue = _surface.awaiting(_surface.delete_queue)
    list_queues = _surface.awaiting(_surface.list_queues, _surface._bound_queues)
    fork_workflow = _surface.awaiting(_surface.fork_workflow, _handle)
    rewind_workflow = _surface.awaiting(_surface.rewind_workflow, _handle)
    list_application_versions = _surface.awaiting(_surface.list_application_versions)
    get_latest_application_version = _surface.awaiting(_surface.get_latest_application_version)
    set_latest_application_version = _surface.awaiting(_surface.set_latest_application_version)
    rename_application = _surface.awaiting(_surface.rename_application)

    # -- bulk calls and fan-out waits (ops in _bulk) -----------------------------------

    send_bulk = _surface.awaiting(_surface.send_bulk)
    enqueue_bulk = _surface.awaiting(_surface.enqueue_bulk, _handles)

    async def wait_first(
        self, handles: list[Any], *, polling_interval_sec: float = 1.0, timeout_seconds: float | None = None
    ) -> Any:
        """Suspend until one of the workflows has finished; return its handle (the object given).

        Holds no connection and no thread while it waits: the shared poller checks every
        handle in its one query per tick. See ``DBOSClient.wait_first``.
        """
        by_id = _calls.wait_handles(handles)
        return by_id[await self._run(_calls.wait_first(self._core, list(by_id), timeout_seconds, polling_interval_sec))]

    async def wait_all(
        self, handles: list[Any], *, polling_interval_sec: float = 1.0, timeout_seconds: float | None = None
    ) -> list[Any]:
        """Suspend until every workflow has finished (ours); the handles, in order. See ``DBOSClient.wait_all``."""
        by_id = _calls.wait_handles(handles)
        await self._run(_calls.wait_all(self._core, list(by_id), timeout_seconds, polling_interval_sec))
        return list(by_id.values())

    # -- the transactional outbox: writes in a transaction the caller owns ------------

    async def enqueue_in_transaction(
        self, conn_or_session: Any, options: EnqueueOptions, *args: Any, **kwargs: Any
    ) -> AsyncWorkflowHandle[Any]:
        """``enqueue`` inside the caller's open transaction: the workflow exists exactly
        when the caller commits. ``conn_or_session`` is a psycopg ``AsyncConnection``, a
        SQLAlchemy ``AsyncConnection`` or ``AsyncSession``, or a ``sqlite3.Connection``
        (driven on the caller's thread), on the system database. Otherwise as
        ``DBOSClient.enqueue_in_transaction``.
        """
        make = _outbox.enqueue_in_transaction(self._core, options, args, kwargs)
        workflow_id = await self._run_outbox(make, conn_or_session, "enqueue_in_transaction")
        return AsyncWorkflowHandle(self, workflow_id)

    async def send_in_transaction(
        self, conn_or_session: Any, destination_id: str, message: Any, topic: str | None = None,
        idempotency_key: str | None = None, *, serialization_type: FormatChoice = None,
        send_to_forks: bool = False, shard_key: str | None = None,
    ) -> None:  # fmt: skip
        """``send`` inside the caller's open transaction (an async connection, as
        ``enqueue_in_transaction``). See ``DBOSClient.send_in_transaction``."""
        make = _outbox.send_in_transaction(
            self._core, destination_id, message, topic, idempotency_key, serialization_type, send_to_forks, shard_key
        )
        await self._run_outbox(make, conn_or_session, "send_in_transaction")

    async def send_bulk_in_transaction(
        self, conn_or_session: Any, messages: list[Any], *, serialization_type: FormatChoice = None,
        send_to_forks: bool = False,
    ) -> None:  # fmt: skip
        """Many messages inside the caller's open transaction: all delivered on commit,
        none on rollback. See ``DBOSClient.send_bulk_in_transaction``."""
        make = _outbox.send_bulk_in_transaction(self._core, messages, serialization_type, send_to_forks)
        await self._run_outbox(make, conn_or_session, "send_bulk_in_transaction")

    async def _run_outbox(self, make: Callable[[Queries], Op[T]], conn: Any, call: str) -> T:
        """The schema's statements through our pool, then ``make(q)`` on the caller's connection."""
        from ._txn import check_callers_connection, run_on_callers_connection_async

        self._check_open()
        check_callers_connection(conn, call, asynchronous=True)
        q = await self._queries(None)
        return await run_on_callers_connection_async(conn, make(q), self._config.dialect, call)

    # -- schedules (DBOS 3.4's schedule API; logic in _schedules) -------------------------

    create_schedule = _surface.awaiting(_surface.create_schedule)
    list_schedules = _surface.awaiting(_surface.list_schedules)
    get_schedule = _surface.awaiting(_surface.get_schedule)
    delete_schedule = _surface.awaiting(_surface.delete_schedule)
    pause_schedule = _surface.awaiting(_surface.pause_schedule)
    resume_schedule = _surface.awaiting(_surface.resume_schedule)
    apply_schedules = _surface.awaiting(_surface.apply_schedules)
    backfill_schedule = _surface.awaiting(_surface.backfill_schedule, _handles)
    trigger_schedule = _surface.awaiting(_surface.trigger_schedule, _handle)

    # -- the driver: I/O only; the policy is ClientBase's ------------------------------
    # Two loops rather than DBOSClient's one: an async generator cannot return a value.

    async def _run(self, op: Op[T]) -> T:
        """Drive an operation to its return value."""
        state, outcome = OpState(), NOTHING
        try:
            while True:
                outcome = await self._perform(self._advance(op, outcome), state)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        finally:
            self._finish(op, state)

    async def _iterate(self, op: Op[None]) -> AsyncGenerator[Any, None]:
        """Drive a streaming operation, yielding what it emits."""
        state, outcome = OpState(), NOTHING
        try:
            while True:
                try:
                    action = self._advance(op, outcome)
                except StopIteration:
                    return
                if isinstance(action, Emit):
                    yield action.value
                    outcome = NOTHING
                else:
                    outcome = await self._perform(action, state)
        finally:
            self._finish(op, state)

    async def _perform(self, action: Any, state: OpState) -> tuple[Any, BaseException | None]:
        """Carry out one action; a database error goes back to the op to translate."""
        if isinstance(action, Query):
            try:
                return await self._execute(action), None
            except OP_ERRORS as exc:
                return None, exc
        if isinstance(action, Transaction):
            try:
                return await self._transaction(action), None
            except Exception as exc:  # noqa: BLE001 - rolled back; the op decides what it means
                return None, exc
        if isinstance(action, NeedQueries):
            return await self._queries(action.deadline), None
        hub = await self._get_hub()
        if isinstance(action, Subscribe):
            state.waiter = hub.subscribe(action.check)
        elif isinstance(action, Wait):
            assert isinstance(state.waiter, AsyncWaiter), "an op must Subscribe before it Waits"
            await hub.wait(state.waiter, action.check, action.deadline)
            self._check_still_open_after_wait()
        else:
            raise TypeError(f"unexpected action {action!r}")
        return NOTHING

    async def _queries(self, deadline: float | None) -> Queries:
        """The statements for this database's schema; detects it on first use.

        Every task that asks meanwhile awaits the same detection, so they all resume in one
        loop iteration and their first reads can share round trips (a lock would let them
        through one per iteration). A failed detection is forgotten: the next call retries.
        """
        q = self._q
        if q is not None:
            return q
        detecting = self._detecting
        if detecting is None:
            detecting = self._detecting = asyncio.ensure_future(self._run(_calls.detect_schema(self._core, deadline)))
            detecting.add_done_callback(self._detected)
        return await asyncio.shield(detecting)

    def _detected(self, detecting: asyncio.Future[Queries]) -> None:
        if not detecting.cancelled() and detecting.exception() is None:
            self._q = detecting.result()
        self._detecting = None

    async def _execute(self, query: Query) -> Any:
        """Run one statement; identical reads issued in the same loop iteration share it."""
        if not query.read_only:
            return await self._execute_alone(query)
        key = (query.statement, _frozen(query.params), query.fetch)
        batch = self._batches.get(key)
        if batch is None:
            loop = asyncio.get_running_loop()
            batch = self._batches[key] = loop.create_future()
            # Started at the next iteration, so every task woken by the same notification
            # (they resume in one iteration) joins. Once started, the batch is closed: a
            # later request starts a new one, so no caller gets a read older than its ask.
            loop.call_soon(self._launch, key, query, batch)
        return await asyncio.shield(batch)

    def _launch(self, key: Any, query: Query, batch: asyncio.Future[Any]) -> None:
        del self._batches[key]
        task = asyncio.ensure_future(self._execute_alone(query))

        def settle(done: asyncio.Future[Any]) -> None:
            if batch.done():
                return
            if done.cancelled():
                batch.cancel()
            elif done.exception() is not None:
                batch.set_exception(done.exception())  # type: ignore[arg-type]
                batch.exception()  # marks it retrieved: every joiner may have been cancelled
            else:
                batch.set_result(done.result())

        task.add_done_callback(settle)

    async def _execute_alone(self, query: Query) -> Any:
        """One statement on a pooled async connection; transient failures are retried."""
        return await self._retried(lambda limit: self._execute_once(query, limit), query.deadline)

    async def _transaction(self, action: Transaction) -> Any:
        """A Transaction's body on one connection in one transaction (on SQLite, in a worker
        thread under ``BEGIN IMMEDIATE``); commit, or roll back if it raises. Transient
        failures retry all of it."""
        return await self._retried(lambda limit: self._transaction_once(action, limit), action.deadline)

    async def _retried(self, attempt: Callable[[float | None], Awaitable[T]], deadline: float | None) -> T:
        """``DBOSClient._retried`` for coroutines: once, retried while transient, then translated."""
        limit = self._attempt_limit(deadline, time.monotonic())

        async def call(limit: float | None) -> T:  # tenacity's AsyncRetrying wants a coroutine function
            return await attempt(limit)

        try:
            try:
                return await call(limit)
            except Exception as exc:
                if not self._retries_after(exc):
                    raise
            return await self._retrying(limit, asynchronous=True)(call, limit)  # type: ignore[no-any-return]
        except Exception as exc:
            error = self._translated(exc)
            if error is None:
                raise
            raise error from exc

    async def _run_on_connection(self, op: Op[T], conn: Any) -> T:
        """Drive an ``_ops`` op on a connection the caller owns (psycopg ``AsyncConnection``
        or ``sqlite3.Connection``), inside the caller's transaction: no BEGIN or COMMIT of
        ours, no retry. Resolve the schema first (``await self._queries``): the op may
        yield only Query and Transaction."""
        from ._txn import run_on_connection_async

        return await run_on_connection_async(conn, op)

    async def _execute_once(self, query: Query, limit: float | None) -> Any:
        if self._sqlite is not None:
            # sqlite3 blocks: a worker thread runs the statement, the loop stays free.
            return await self._in_worker_thread(self._sqlite.execute, query, limit)
        async with self._connection(limit) as conn:
            return await fetch_async(conn, query)

    async def _transaction_once(self, action: Transaction, limit: float | None) -> Any:
        if self._sqlite is not None:
            return await self._in_worker_thread(self._sqlite.transaction, action.body, limit)
        async with self._connection(limit) as conn, conn.transaction():
            return await _ops.run_inline_async(action.body(), lambda query: fetch_async(conn, query))

    async def _in_worker_thread(self, fn: Callable[..., T], *args: Any) -> T:
        self._bind_loop()
        return await asyncio.get_running_loop().run_in_executor(None, fn, *args)

    @asynccontextmanager
    async def _connection(self, limit: float | None) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A pooled connection until the block ends, connecting within ``limit`` if need be."""
        pool = await self._get_pool()
        try:
            async with pool.connection(limit) as conn:
                yield conn
        except psycopg.OperationalError as exc:
            if is_transient(exc):
                await pool.discard_idle()  # the other idle connections likely died the same way
            raise

    async def _connect_listener(self) -> psycopg.AsyncConnection[Any]:
        return await psycopg.AsyncConnection.connect(self._config.listener_conninfo, **self._connect_kwargs(None))

    async def _connect(self, deadline: float | None) -> psycopg.AsyncConnection[Any]:
        """A new connection, made by the calling task within ``deadline``."""
        return await AsyncDeadlineConnection.connect(self._config.conninfo, **self._connect_kwargs(deadline))

    def _bind_loop(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif self._loop is not loop:
            raise DBOSClientError("an AsyncDBOSClient belongs to the event loop it first ran on; make one per loop")
        return loop

    async def _get_pool(self) -> AsyncConnectionPool:
        pool = self._pool
        if pool is not None:
            return pool
        self._bind_loop()
        self._check_open()
        if self._pool is None:
            self._pool = AsyncConnectionPool(self._connect, self._pool_size)
        return self._pool

    async def _get_hub(self) -> AsyncWaitHub:
        hub = self._hub
        if hub is not None:
            return hub
        q = await self._queries(None)
        self._bind_loop()
        self._check_open()
        if self._hub is None:
            sqlite = self._sqlite
            changed: Callable[[], Awaitable[bool]] | None = None
            if sqlite is not None:
                # sqlite3 blocks: the poller's gate and query run in a worker thread per tick.
                def run_query(statement: Any, params: Any) -> Awaitable[Any]:
                    return asyncio.to_thread(sqlite.execute, Query(statement, params), None)

                changed = functools.partial(asyncio.to_thread, sqlite.changed)
            else:

                def run_query(statement: Any, params: Any) -> Awaitable[Any]:
                    return self._execute(Query(statement, params))  # the client's own pool, on its loop

            self._hub = AsyncWaitHub(
                connect_listener=self._connect_listener,
                ready_query=q.ready_waits,
                run_query=run_query,
                policy=self._poll_policy,
                app_notifies=q.info.notifications_trigger,
                changed=changed,
            )
        return self._hub


    async def _get_event_outcome(self, workflow_id: str, key: str, timeout_seconds: float = 60) -> _calls.EventOutcome:
        """``get_event`` telling "no value yet" from "never will be" (for the gateway); unknown ids raise at once."""
        return await self._run(_calls.get_event_outcome(self._core, workflow_id, key, timeout_seconds))

    # -- read_stream_offset, workflow attributes, delays, bulk resume --------------------

    read_stream_offset = _surface.awaiting(_surface.read_stream_offset)
    update_workflow_attributes = _surface.awaiting(_surface.update_workflow_attributes)
    set_workflow_delay = _surface.awaiting(_surface.set_workflow_delay)
    resume_workflows = _surface.awaiting(_surface.resume_workflows, _handles)


_surface.adopt(AsyncDBOSClient)
