"""DBOSClient's wait hub: one listener thread and one poller thread wake every waiting call.

* The listener holds one dedicated autocommit connection that LISTENs on the DBOS channels
  and wakes exactly the waiters whose ``workflow_id::key`` was notified.
* The poller re-checks every waiting call in one query per tick, so the database load does
  not grow with the number of waiters. It is the only way a result wait ever ends (DBOS
  never notifies a completion), and the safety net for lost notifications.

A notification is a hint and the table is the truth: a woken waiter always re-reads. So a
lost or spurious notification costs latency, never correctness. Every decision (what is
due, whether notifications are trusted, the reconnect back-off) is ``HubState``'s; this
driver adds the threads, the lock and the clock. Started on a client's first wait; a
client that never waits never starts its threads. AsyncDBOSClient has its own driver,
on its event loop (``_hub_async``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import sql

from ._hub_state import NOTIFY_GRACE_SECONDS, HubState, HubView, Registration
from ._options import new_id
from ._text import first_line
from ._wait import CHANNELS, Check
from .models import PollPolicy

logger = logging.getLogger("dbos_client")

#: How long the listener blocks in notifies(); close() wakes it at once with a NOTIFY.
_LISTEN_POLL_SECONDS = 2.0


class Waiter(Registration):
    """One waiting call's registration. ``wake()`` may be called from any thread."""

    __slots__ = ("event",)

    def __init__(self, check: Check) -> None:
        super().__init__(check)
        self.event = threading.Event()

    def woken(self) -> bool:
        return self.event.is_set()

    def wake(self) -> None:
        self.event.set()

    def clear(self) -> None:
        self.event.clear()


def selftest_channel() -> str:
    return f"dbos_client_selftest_{new_id().replace('-', '')[:12]}"


class WaitHub(HubView[Waiter]):
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
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._connect_listener = connect_listener
        self._ready_query = ready_query
        self._run_query = run_query
        self._notify = notify
        self._policy = policy
        #: Where the database can tell cheaply whether anything was committed since the
        #: last tick (SQLite's data_version), the poller skips its query when nothing was.
        self._changed = changed
        self._clock = clock
        self._state: HubState[Waiter] = HubState(policy, app_notifies)
        self._lock = threading.Lock()
        self._someone_waits = threading.Event()
        self._retick = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._selftest_channel = selftest_channel()
        self._listener_conn: psycopg.Connection[Any] | None = None

    # -- waiters ---------------------------------------------------------------------

    def subscribe(self, check: Check) -> Waiter:
        """Register before the first read, so no notification can slip between read and wait."""
        waiter = Waiter(check)
        with self._lock:
            self._start_threads()
            self._state.add(waiter)
        return waiter

    def unsubscribe(self, waiter: Registration) -> None:
        with self._lock:
            self._state.remove(waiter)

    def wait(self, waiter: Waiter, check: Check, deadline: float | None) -> None:
        """Block the thread until woken or the deadline; then clear, so the next wake is a new one."""
        with self._lock:
            polled_only = self._state.begin_wait(waiter, check)
            self._someone_waits.set()
        if polled_only:
            self._retick.set()  # only polling ends this wait: make sure the fast tick applies
        try:
            timeout = None if deadline is None else max(0.0, deadline - self._clock())
            waiter.event.wait(timeout)
        finally:
            with self._lock:
                self._state.end_wait(waiter)

    def _wake_all(self) -> None:
        with self._lock:
            waiters = list(self._state.waiters)
        for waiter in waiters:
            waiter.wake()

    def _dispatch(self, channel: str, payload: str) -> None:
        with self._lock:
            waiters = self._state.concerned(channel, payload)
        for waiter in waiters:
            waiter.wake()

    # -- threads ---------------------------------------------------------------------

    def start(self) -> None:
        """Start the threads now instead of on the first wait (``use_listen_notify=True``, as
        dbos.DBOSClient, whose listener runs from the constructor on). Returns at once: the
        listener connects in its own thread."""
        with self._lock:
            self._start_threads()

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
        if self._state.listening and self._notify is not None:
            self._notify(self._selftest_channel)  # ends the listener's blocking wait now
        for thread in self._threads:
            thread.join(5)
        self._threads.clear()

    # -- the poller ------------------------------------------------------------------

    def _poll_loop(self) -> None:
        while not self._stop.is_set():
            self._someone_waits.wait()
            if self._stop.is_set():
                return
            now = self._clock()
            with self._lock:
                if not self._state.someone_waits():
                    # Under the lock: a wait starting now sets it again after this.
                    self._someone_waits.clear()
                    continue
            delay = self._state.poll_delay(now)
            if delay > 0:
                # Interruptible: a result wait arriving, or lost trust, shortens the interval.
                self._retick.wait(delay)
                self._retick.clear()
                continue
            self._state.ticked(now)
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
            waiting = self._state.waiting()
        if not waiting:
            return
        rows = self._run_query(self._ready_query, self._state.poll_params(waiting))
        wake, suspects = self._state.sort_ready(rows, waiting, self._clock())
        for w in wake:
            w.wake()
        if suspects:
            self._stop.wait(NOTIFY_GRACE_SECONDS)
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

    def _listen_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen_once()
                return  # only returns once stopped
            except Exception as exc:  # noqa: BLE001 - reconnect whatever went wrong
                if self._stop.is_set():
                    return
                delay = self._state.backoff.next_delay()
                logger.warning("notification listener disconnected (%s); reconnecting in %.1f s", first_line(exc), delay)
            finally:
                self._state.listener_down()
                conn, self._listener_conn = self._listener_conn, None
                if conn is not None:
                    conn.close()
            self._stop.wait(delay)

    def _listen_once(self) -> None:
        conn = self._connect_listener()
        self._listener_conn = conn
        for channel in (*CHANNELS, self._selftest_channel):
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        self._state.listener_up(self._clock())
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
        while not self._stop.is_set():
            for note in conn.notifies(timeout=_LISTEN_POLL_SECONDS):
                if self._stop.is_set():
                    break
                if note.channel == self._selftest_channel:
                    self._state.selftest_arrived()
                    continue
                self._dispatch(note.channel, note.payload)
            if self._state.selftest_overdue(self._clock()):
                logger.warning("LISTEN/NOTIFY does not deliver on this connection (a pooler?); waits rely on polling")
