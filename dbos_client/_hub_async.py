"""AsyncDBOSClient's wait hub: a listener task and a poller task on the client's own loop.

The same hub as DBOSClient's (``_hub``), with the same decisions (``HubState``), driven
natively by asyncio: the listener is a task iterating ``AsyncConnection.notifies()``, the
poller a task that runs the shared query through the client's own async path. A waiting
task awaits a future of its own, which the listener or the poller resolves directly:
no thread, and no hop between threads, per wake-up. Everything here runs on one loop, so
nothing is locked.

SQLite has no NOTIFY: there is no listener, and the poller runs its ``PRAGMA
data_version`` gate and its query in a worker thread per tick (the shell's callables).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
from psycopg import sql

from ._hub import selftest_channel
from ._hub_state import NOTIFY_GRACE_SECONDS, HubState, HubView, Registration
from ._wait import CHANNELS, Check
from .models import PollPolicy

logger = logging.getLogger("dbos_client")

#: How long one notifies() round lasts before the listener checks its self-test.
_LISTEN_POLL_SECONDS = 2.0
#: The poller gives up on one tick's query after this (the next tick tries again).
_POLL_QUERY_TIMEOUT = 10.0
#: How long close() waits for the tasks to finish after cancelling them.
_CLOSE_TIMEOUT = 5.0


class AsyncWaiter(Registration):
    """A waiting task's registration. Woken on the hub's loop only."""

    __slots__ = ("_woken", "_future")

    def __init__(self, check: Check) -> None:
        super().__init__(check)
        self._woken = False
        self._future: asyncio.Future[None] | None = None

    def woken(self) -> bool:
        return self._woken

    def wake(self) -> None:
        self._woken = True
        future = self._future
        if future is not None and not future.done():
            future.set_result(None)

    def clear(self) -> None:
        self._woken = False


def _time_out(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class AsyncWaitHub(HubView[AsyncWaiter]):
    def __init__(
        self,
        *,
        connect_listener: Callable[[], Awaitable[psycopg.AsyncConnection[Any]]],
        ready_query: Any,
        run_query: Callable[[Any, Any], Awaitable[Any]],
        policy: PollPolicy,
        app_notifies: bool,
        changed: Callable[[], Awaitable[bool]] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._connect_listener = connect_listener
        self._ready_query = ready_query
        self._run_query = run_query
        self._policy = policy
        #: SQLite's data_version gate: the poller skips its query when nothing was committed.
        self._changed = changed
        self._clock = clock
        self._state: HubState[AsyncWaiter] = HubState(policy, app_notifies)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._someone_waits = asyncio.Event()
        self._retick = asyncio.Event()
        self._stopped = False
        self._selftest_channel = selftest_channel()
        self._listener_conn: psycopg.AsyncConnection[Any] | None = None

    # -- waiters ---------------------------------------------------------------------

    def subscribe(self, check: Check) -> AsyncWaiter:
        """Register before the first read (from a task on the hub's loop)."""
        waiter = AsyncWaiter(check)
        self._start_tasks()
        self._state.add(waiter)
        return waiter

    def unsubscribe(self, waiter: Registration) -> None:
        self._state.remove(waiter)

    async def wait(self, waiter: AsyncWaiter, check: Check, deadline: float | None) -> None:
        """Suspend the task until woken or the deadline, holding no thread and no connection."""
        if self._state.begin_wait(waiter, check):
            self._retick.set()  # only polling ends this wait: make sure the fast tick applies
        self._someone_waits.set()
        try:
            if waiter.woken() or self._stopped:
                return
            loop = asyncio.get_running_loop()
            future: asyncio.Future[None] = loop.create_future()
            waiter._future = future
            timer = None
            if deadline is not None:
                timer = loop.call_later(max(0.0, deadline - self._clock()), _time_out, future)
            try:
                await future
            finally:
                waiter._future = None
                if timer is not None:
                    timer.cancel()
        finally:
            self._state.end_wait(waiter)

    def _wake_all(self) -> None:
        for waiter in list(self._state.waiters):
            waiter.wake()

    def _dispatch(self, channel: str, payload: str) -> None:
        for waiter in self._state.concerned(channel, payload):
            waiter.wake()

    # -- tasks -----------------------------------------------------------------------

    def start(self) -> None:
        """Start the tasks now instead of on the first wait (``use_listen_notify=True``)."""
        self._start_tasks()

    def _start_tasks(self) -> None:
        if self._tasks or self._stopped:
            return
        loop = self._loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._poll_loop(), name="dbos_client-poll_loop"))
        if self._policy.use_notifications:
            self._tasks.append(loop.create_task(self._listen_loop(), name="dbos_client-listen_loop"))

    def _shutdown(self) -> list[asyncio.Task[None]]:
        """On the hub's loop: stop, wake every waiter (to notice the close), cancel the tasks."""
        self._stopped = True
        self._wake_all()
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        return tasks

    async def close(self) -> None:
        """Stop both tasks and close the listener's connection. Idempotent."""
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is None or running is not self._loop:
            self.close_soon()
            return
        tasks = self._shutdown()
        if tasks:
            await asyncio.wait(tasks, timeout=_CLOSE_TIMEOUT)

    def close_soon(self) -> None:
        """Stop from any thread or loop (``DBOSClient.close`` closing its async twin)."""
        self._stopped = True
        loop = self._loop
        if loop is None or loop.is_closed():
            return  # never started, or its loop is gone and cancelled the tasks as it closed
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._shutdown()
            return
        try:
            loop.call_soon_threadsafe(self._shutdown)
        except RuntimeError:
            pass  # closed in between

    # -- the poller ------------------------------------------------------------------

    async def _poll_loop(self) -> None:
        while not self._stopped:
            if not self._state.someone_waits():
                self._someone_waits.clear()
                await self._someone_waits.wait()
                continue
            now = self._clock()
            delay = self._state.poll_delay(now)
            if delay > 0:
                # Interruptible: a result wait arriving, or lost trust, shortens the interval.
                self._retick.clear()
                try:
                    await asyncio.wait_for(self._retick.wait(), delay)
                except asyncio.TimeoutError:
                    pass
                continue
            self._state.ticked(now)
            try:
                await self._poll_once()
            except Exception:
                logger.warning("the shared poller's check failed; retrying next tick", exc_info=True)

    async def _poll_once(self) -> None:
        # Asked before the waiters are listed (see WaitHub._poll_once).
        if self._changed is not None and not await self._changed():
            return
        waiting = self._state.waiting()
        if not waiting:
            return
        params = self._state.poll_params(waiting)
        rows = await asyncio.wait_for(self._run_query(self._ready_query, params), _POLL_QUERY_TIMEOUT)
        wake, suspects = self._state.sort_ready(rows, waiting, self._clock())
        for w in wake:
            w.wake()
        if suspects:
            await asyncio.sleep(NOTIFY_GRACE_SECONDS)
            now = self._clock()
            was_trusted = self._state.trusted(now)
            missed = self._state.settle_suspects(suspects, now)
            if missed:
                if was_trusted:
                    logger.info(
                        "notifications missed (%d value(s) found by polling first); polling every %.3f s for a while",
                        missed, self._policy.interval_seconds,
                    )  # fmt: skip
                self._retick.set()
            for w in suspects:
                w.wake()

    # -- the listener ----------------------------------------------------------------

    async def _listen_loop(self) -> None:
        while not self._stopped:
            try:
                await self._listen_once()
                return  # only returns once stopped
            except Exception as exc:  # noqa: BLE001 - reconnect whatever went wrong
                if self._stopped:
                    return
                delay = self._state.backoff.next_delay()
                first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                logger.warning("notification listener disconnected (%s); reconnecting in %.1f s", first_line, delay)
            finally:
                self._state.listener_down()
                conn, self._listener_conn = self._listener_conn, None
                if conn is not None:
                    try:
                        await conn.close()
                    except Exception:
                        logger.debug("closing the listener connection failed", exc_info=True)
            await asyncio.sleep(delay)

    async def _listen_once(self) -> None:
        conn = await self._connect_listener()
        self._listener_conn = conn
        for channel in (*CHANNELS, self._selftest_channel):
            await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        self._state.listener_up(self._clock())
        # Notifications sent while we were not listening are lost: everyone re-reads now.
        self._wake_all()
        # A pooler in transaction mode accepts LISTEN and then delivers nothing: check.
        # Through the client's pool, not this connection (see WaitHub._listen_once).
        try:
            await self._run_query("SELECT pg_notify(%s, 'selftest')", (self._selftest_channel,))
        except Exception:  # no self-test: notifications stay untrusted, waits poll
            logger.debug("could not send the listener's self-test notification", exc_info=True)
        while not self._stopped:
            async for note in conn.notifies(timeout=_LISTEN_POLL_SECONDS):
                if note.channel == self._selftest_channel:
                    self._state.selftest_arrived()
                    continue
                self._dispatch(note.channel, note.payload)
            if self._state.selftest_overdue(self._clock()):
                logger.warning("LISTEN/NOTIFY does not deliver on this connection (a pooler?); waits rely on polling")
