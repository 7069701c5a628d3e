"""One place per client that wakes every waiting call: a LISTEN connection and a shared poller.

* The listener holds one dedicated autocommit connection that LISTENs on the DBOS channels
  and wakes exactly the waiters whose ``workflow_id::key`` was notified.
* The poller re-checks every waiting call in one query per tick, so the database load does
  not grow with the number of waiters. It is the only way a result wait ever ends (DBOS
  never notifies a completion), and the safety net for lost notifications.

A notification is a hint and the table is the truth: a woken waiter always re-reads. So a
lost or spurious notification costs latency, never correctness. The hub decides on its
own whether notifications can be trusted (see ``trusted``), rather than being told.
Started on a client's first wait; a client that never waits never starts its threads.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import sql

from ._options import new_id
from ._text import first_line
from ._wait import CHANNELS, Check
from .models import PollPolicy

logger = logging.getLogger("dbos_client")

#: After the poller finds a value the listener should have announced, poll fast this long.
_DISTRUST_SECONDS = 60.0
#: How long a notification may lag its commit (DBOS coalesces NOTIFYs for 10 ms) before
#: a value the poller found first counts as a missed notification.
_NOTIFY_GRACE_SECONDS = 0.25
_SELFTEST_SECONDS = 2.0
#: How long the listener blocks in notifies(); close() wakes it at once with a NOTIFY.
_LISTEN_POLL_SECONDS = 2.0


class Waiter:
    """One waiting call's registration. ``wake()`` may be called from any thread."""

    __slots__ = ("check", "event", "waiting")

    def __init__(self, check: Check) -> None:
        self.check = check
        self.event = threading.Event()
        self.waiting = False

    def wake(self) -> None:
        self.event.set()

    def clear(self) -> None:
        self.event.clear()


class AsyncWaiter(Waiter):
    """A waiter on an event loop: woken from the hub's threads through the loop itself.

    ``event`` (a threading.Event) still records the wake-up, so the poller can tell a
    woken waiter from one that was not, exactly as for thread waiters.
    """

    __slots__ = ("loop", "aevent")

    def __init__(self, check: Check, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(check)
        self.loop = loop
        self.aevent = asyncio.Event()

    def wake(self) -> None:
        self.event.set()
        try:
            self.loop.call_soon_threadsafe(self.aevent.set)
        except RuntimeError:
            pass  # the loop is closed: nobody is waiting on it any more

    def clear(self) -> None:
        self.event.clear()
        self.aevent.clear()


class WaitHub:
    def __init__(
        self,
        *,
        connect_listener: Callable[[], psycopg.Connection[Any]],
        ready_query: Any,
        run_query: Callable[[Any, Any], Any],
        notify: Callable[[str], None] | None,
        policy: PollPolicy,
        app_notifies: bool,
        changed: Callable[[], bool] | None = None,
    ) -> None:
        self._connect_listener = connect_listener
        self._ready_query = ready_query
        self._run_query = run_query
        self._notify = notify
        self._policy = policy
        #: Where the database can tell cheaply whether anything was committed since the
        #: last tick (SQLite's data_version), the poller skips its query when nothing was.
        self._changed = changed
        # Without the notifications trigger the database was created with
        # use_listen_notify=False, and the application publishes no NOTIFY at all.
        self._app_notifies = app_notifies and policy.use_notifications
        self._lock = threading.Lock()
        self._waiters: set[Waiter] = set()
        self._by_payload: dict[tuple[str, str], set[Waiter]] = defaultdict(set)
        self._someone_waits = threading.Event()
        self._retick = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._listening = False
        self._selftest_channel = f"dbos_client_selftest_{new_id().replace('-', '')[:12]}"
        self._selftest_ok = False
        self._distrust_until = 0.0
        self._listener_conn: psycopg.Connection[Any] | None = None

    # -- waiters ---------------------------------------------------------------------

    def subscribe(self, check: Check, loop: asyncio.AbstractEventLoop | None = None) -> Waiter:
        """Register before the first read, so no notification can slip between read and wait."""
        waiter = Waiter(check) if loop is None else AsyncWaiter(check, loop)
        with self._lock:
            self._start_threads()
            self._waiters.add(waiter)
            if check.channel is not None and check.payload is not None:
                self._by_payload[(check.channel, check.payload)].add(waiter)
        return waiter

    def unsubscribe(self, waiter: Waiter) -> None:
        with self._lock:
            self._waiters.discard(waiter)
            check = waiter.check
            if check.channel is not None and check.payload is not None:
                key = (check.channel, check.payload)
                bucket = self._by_payload.get(key)
                if bucket is not None:
                    bucket.discard(waiter)
                    if not bucket:
                        del self._by_payload[key]

    def _begin_wait(self, waiter: Waiter, check: Check) -> None:
        waiter.check = check  # same channel and payload as subscribed; a stream's offset moves
        waiter.waiting = True
        self._someone_waits.set()
        if not check.notified:
            self._retick.set()  # only polling ends this wait: make sure the fast tick applies

    def _end_wait(self, waiter: Waiter) -> None:
        waiter.waiting = False
        # Cleared before the op re-reads: a notification arriving during that read sets
        # it again and the next wait returns at once.
        waiter.clear()

    def wait(self, waiter: Waiter, check: Check, deadline: float | None) -> None:
        """Block the thread until woken or the deadline; then clear, so the next wake is a new one."""
        self._begin_wait(waiter, check)
        try:
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            waiter.event.wait(timeout)
        finally:
            self._end_wait(waiter)

    async def async_wait(self, waiter: AsyncWaiter, check: Check, deadline: float | None) -> None:
        """The same for a task: suspends it, holding no thread and no connection."""
        self._begin_wait(waiter, check)
        try:
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                await asyncio.wait_for(waiter.aevent.wait(), timeout)
            except asyncio.TimeoutError:
                pass
        finally:
            self._end_wait(waiter)

    @property
    def listener_channel(self) -> str | None:
        """The channel that wakes the listener at once, while it listens (for async close)."""
        return self._selftest_channel if self._listening else None

    def _wake_all(self) -> None:
        with self._lock:
            waiters = list(self._waiters)
        for waiter in waiters:
            waiter.wake()

    # -- trust -----------------------------------------------------------------------

    @property
    def trusted(self) -> bool:
        """Notifications are known to arrive: listening, self-test passed, no recent miss."""
        return self._app_notifies and self._listening and self._selftest_ok and time.monotonic() >= self._distrust_until

    def _distrust(self, why: str) -> None:
        if self.trusted:
            logger.info("notifications missed (%s); polling every %.3f s for a while", why, self._policy.interval_seconds)
        self._distrust_until = time.monotonic() + _DISTRUST_SECONDS
        self._retick.set()

    # -- threads ---------------------------------------------------------------------

    def _start_threads(self) -> None:
        if self._threads or self._stop.is_set():
            return
        targets = [self._poll_loop]
        if self._policy.use_notifications:
            targets.append(self._listen_loop)
        for target in targets:
            thread = threading.Thread(target=target, name=f"dbos_client-{target.__name__.strip('_')}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def close(self) -> None:
        """Stop both threads; every waiter is woken so it can notice the client closing."""
        self._stop.set()
        self._someone_waits.set()
        self._retick.set()
        self._wake_all()
        if self._listening and self._notify is not None:
            self._notify(self._selftest_channel)  # ends the listener's blocking wait now
        for thread in self._threads:
            thread.join(5)
        self._threads.clear()

    # -- the poller ------------------------------------------------------------------

    def _poll_loop(self) -> None:
        last_tick = 0.0
        while not self._stop.is_set():
            self._someone_waits.wait()
            if self._stop.is_set():
                return
            with self._lock:
                waiting = [w for w in self._waiters if w.waiting]
            if not waiting:
                self._someone_waits.clear()
                # Re-check after clearing: a waiter may have started in between.
                with self._lock:
                    if any(w.waiting for w in self._waiters):
                        self._someone_waits.set()
                continue
            fast = not self.trusted or any(not w.check.notified for w in waiting)
            interval = self._policy.interval_seconds if fast else self._policy.max_interval_seconds
            remaining = last_tick + interval - time.monotonic()
            if remaining > 0:
                # Interruptible: a result wait arriving, or lost trust, shortens the interval.
                self._retick.wait(remaining)
                self._retick.clear()
                continue
            last_tick = time.monotonic()
            try:
                self._poll_once()
            except Exception:
                logger.warning("the shared poller's check failed; retrying next tick", exc_info=True)

    def _poll_once(self) -> None:
        # Asked before the waiters are listed: a commit after this answer is seen next
        # tick, and every waiter listed below has read after subscribing, so nothing
        # committed before this answer can be one it has not seen.
        if self._changed is not None and not self._changed():
            return
        with self._lock:
            waiting = [w for w in self._waiters if w.waiting]
        if not waiting:
            return
        params: dict[str, list[Any]] = {k: [] for k in ("ew", "ek", "sw", "sk", "so", "rw")}
        # Many waiters may wait for the same thing (a broadcast event): ask once per check.
        for c in {w.check for w in waiting}:
            if c.kind == "event":
                params["ew"].append(c.workflow_id)
                params["ek"].append(c.key)
            elif c.kind == "stream" and c.offset is not None:
                params["sw"].append(c.workflow_id)
                params["sk"].append(c.key)
                params["so"].append(c.offset)
            elif c.kind == "result":
                params["rw"].append(c.workflow_id)
        rows = self._run_query(self._ready_query, params)
        ready = {(kind, wid, key): notifiable for kind, wid, key, notifiable in rows}
        suspects = []
        for w in waiting:
            c = w.check
            notifiable = ready.get((c.kind, c.workflow_id, c.key))
            if notifiable is None:
                continue
            if notifiable and self.trusted and not w.event.is_set():
                suspects.append(w)  # the listener should announce this; give it a moment
            else:
                w.wake()
        if suspects:
            self._stop.wait(_NOTIFY_GRACE_SECONDS)
            missed = [w for w in suspects if not w.event.is_set() and w.waiting]
            if missed:
                self._distrust(f"{len(missed)} value(s) found by polling first")
            for w in suspects:
                w.wake()

    # -- the listener ----------------------------------------------------------------

    def _listen_loop(self) -> None:
        backoff = 0.1
        while not self._stop.is_set():
            try:
                self._listen_once()
                backoff = 0.1
            except Exception as exc:  # noqa: BLE001 - reconnect whatever went wrong
                if self._stop.is_set():
                    return
                logger.warning("notification listener disconnected (%s); reconnecting in %.1f s", first_line(exc), backoff)
            finally:
                self._listening = False
                self._selftest_ok = False
                conn, self._listener_conn = self._listener_conn, None
                if conn is not None:
                    conn.close()
            self._stop.wait(backoff + random.uniform(0, backoff / 2))
            backoff = min(backoff * 2, 5.0)

    def _listen_once(self) -> None:
        conn = self._connect_listener()
        self._listener_conn = conn
        for channel in (*CHANNELS, self._selftest_channel):
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        self._listening = True
        # Notifications sent while we were not listening are lost: everyone re-reads now.
        self._wake_all()
        # A pooler in transaction mode accepts LISTEN and then delivers nothing: check.
        # The NOTIFY goes through the client's pool, not this connection: through such a
        # pooler, a NOTIFY sent here runs on the server connection that holds our LISTEN
        # for that one statement, and comes straight back in its reply, so the test
        # would pass while the application's notifications never arrive.
        try:
            self._run_query("SELECT pg_notify(%s, 'selftest')", (self._selftest_channel,))
        except Exception:  # no self-test: notifications stay untrusted, waits poll
            logger.debug("could not send the listener's self-test notification", exc_info=True)
        selftest_deadline = time.monotonic() + _SELFTEST_SECONDS
        warned = False
        while not self._stop.is_set():
            for note in conn.notifies(timeout=_LISTEN_POLL_SECONDS):
                if self._stop.is_set():
                    break
                if note.channel == self._selftest_channel:
                    self._selftest_ok = True
                    continue
                self._dispatch(note.channel, note.payload)
            if not self._selftest_ok and not warned and time.monotonic() > selftest_deadline:
                warned = True
                logger.warning("LISTEN/NOTIFY does not deliver on this connection (a pooler?); waits rely on polling")

    def _dispatch(self, channel: str, payload: str) -> None:
        with self._lock:
            waiters = list(self._by_payload.get((channel, payload), ()))
        for waiter in waiters:
            waiter.wake()
