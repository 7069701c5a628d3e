"""The wait hub's decisions, without its I/O: pure state that is told the time.

Both wait hubs (``_hub.WaitHub``, threads, for DBOSClient; ``_hub_async.AsyncWaitHub``,
tasks, for AsyncDBOSClient) keep their waiters and make every decision here:

* the registry: every subscribed waiter, indexed by the NOTIFY payload that concerns it,
  and the set of those blocked in a wait right now;
* the shared poller: when its next tick is due (fast while notifications are not trusted
  or a result is awaited, slow otherwise), its parameters (one entry per distinct check),
  and what its rows mean (wake now, or a "suspect" the listener should have announced);
* trust in notifications: listening, the self-test notification received, and no
  notification missed within the last ``DISTRUST_SECONDS``;
* the listener's reconnect back-off, with jitter.

Nothing here sleeps, queries, starts a thread or reads a clock: every decision that
depends on time takes ``now`` (a monotonic time), and the jitter comes from ``rand``.
The drivers hold the locks, the threads or tasks, and the clock.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar, cast

from ._wait import Check
from .models import PollPolicy

#: After the poller finds a value the listener should have announced, poll fast this long.
DISTRUST_SECONDS = 60.0
#: How long a notification may lag its commit (DBOS coalesces NOTIFYs for 10 ms) before
#: a value the poller found first counts as a missed notification.
NOTIFY_GRACE_SECONDS = 0.25
#: How long after LISTEN the self-test notification may take before a warning.
SELFTEST_SECONDS = 2.0
#: The listener's first reconnect delay, and the most it grows to (before jitter).
BACKOFF_FIRST_SECONDS = 0.1
BACKOFF_MAX_SECONDS = 5.0
#: Stream offsets go to Postgres as ``%(so)s::int[]``: one larger value would fail the
#: shared query for every waiter. No stream holds a value at such an offset.
MAX_STREAM_OFFSET = 2**31 - 1

PARAM_NAMES = ("ew", "ek", "sw", "sk", "so", "rw", "fw")


class Registration:
    """One waiting call's registration; each driver says how it is woken."""

    __slots__ = ("check", "waiting")

    def __init__(self, check: Check) -> None:
        self.check = check
        #: Blocked in a wait right now (only those are polled for).
        self.waiting = False

    def woken(self) -> bool:
        """Whether a wake-up arrived since the last ``clear()``."""
        raise NotImplementedError

    def wake(self) -> None:
        raise NotImplementedError

    def clear(self) -> None:
        raise NotImplementedError


W = TypeVar("W", bound=Registration)


def offset_in_range(offset: int) -> bool:
    return 0 <= offset <= MAX_STREAM_OFFSET


def row_key(check: Check) -> tuple[str, str, str | None]:
    """The (kind, workflow_id, key) of the poller's row that answers this check.

    A stream offset out of the query's range is asked for as a result wait instead: no
    value can exist there, so only the workflow ending can satisfy it.
    """
    if check.kind == "stream" and check.offset is not None and not offset_in_range(check.offset):
        return ("result", check.workflow_id, None)
    return (check.kind, check.workflow_id, check.key)


class Backoff:
    """The listener's reconnect delays: 0.1 s doubling to 5 s, plus up to half again of jitter."""

    def __init__(
        self,
        rand: Callable[[], float] = random.random,
        first: float = BACKOFF_FIRST_SECONDS,
        cap: float = BACKOFF_MAX_SECONDS,
    ) -> None:
        self._rand = rand
        self._first = first
        self._cap = cap
        self._current = first

    def next_delay(self) -> float:
        """The delay before the next attempt; the one after grows."""
        delay = self._current + self._rand() * self._current / 2
        self._current = min(self._current * 2, self._cap)
        return delay

    def reset(self) -> None:
        """A connection worked: the next failure starts over from the first delay."""
        self._current = self._first


class HubState(Generic[W]):
    """Everything a wait hub knows and decides. Not thread-safe: the sync driver locks."""

    def __init__(self, policy: PollPolicy, app_notifies: bool, rand: Callable[[], float] = random.random) -> None:
        self.policy = policy
        # Without the notifications trigger the database was created with
        # use_listen_notify=False, and the application publishes no NOTIFY at all.
        self.app_notifies = app_notifies and policy.use_notifications
        self.waiters: set[W] = set()
        self.by_payload: dict[tuple[str, str], set[W]] = {}
        self._waiting: set[W] = set()
        #: The waiting ones only polling can end (results): while any waits, poll fast.
        self._polled_only: set[W] = set()
        self.listening = False
        self.selftest_ok = False
        self.distrust_until = 0.0
        self._selftest_deadline: float | None = None
        self._selftest_warned = False
        self._last_tick: float | None = None
        self.backoff = Backoff(rand)

    # -- the registry ----------------------------------------------------------------

    def add(self, waiter: W) -> None:
        self.waiters.add(waiter)
        check = waiter.check
        if check.channel is not None and check.payload is not None:
            self.by_payload.setdefault((check.channel, check.payload), set()).add(waiter)

    def remove(self, registration: Registration) -> None:
        waiter = cast(W, registration)  # discarding what was never added is a no-op
        self.waiters.discard(waiter)
        self._waiting.discard(waiter)
        self._polled_only.discard(waiter)
        check = waiter.check
        if check.channel is not None and check.payload is not None:
            key = (check.channel, check.payload)
            bucket = self.by_payload.get(key)
            if bucket is not None:
                bucket.discard(waiter)
                if not bucket:
                    del self.by_payload[key]

    def begin_wait(self, waiter: W, check: Check) -> bool:
        """The waiter blocks now. True if only polling can end this wait (re-tick fast)."""
        waiter.check = check  # same channel and payload as subscribed; a stream's offset moves
        waiter.waiting = True
        polled_only = not check.notified
        if waiter in self.waiters:
            self._waiting.add(waiter)
            if polled_only:
                self._polled_only.add(waiter)
        return polled_only

    def end_wait(self, waiter: W) -> None:
        waiter.waiting = False
        self._waiting.discard(waiter)
        self._polled_only.discard(waiter)
        # Cleared before the op re-reads: a notification arriving during that read sets
        # it again and the next wait returns at once.
        waiter.clear()

    def waiting(self) -> list[W]:
        return list(self._waiting)

    def someone_waits(self) -> bool:
        return bool(self._waiting)

    def concerned(self, channel: str, payload: str) -> list[W]:
        """The waiters a notification on ``channel`` with ``payload`` wakes."""
        return list(self.by_payload.get((channel, payload), ()))

    # -- trust -----------------------------------------------------------------------

    def trusted(self, now: float) -> bool:
        """Notifications are known to arrive: listening, self-test passed, no recent miss."""
        return self.app_notifies and self.listening and self.selftest_ok and now >= self.distrust_until

    def distrust(self, now: float) -> bool:
        """A notification was missed: poll fast for a while. True if it was trusted until now."""
        was = self.trusted(now)
        self.distrust_until = now + DISTRUST_SECONDS
        return was

    def listener_up(self, now: float) -> None:
        """LISTEN succeeded; the self-test notification is on its way."""
        self.listening = True
        self.selftest_ok = False
        self._selftest_deadline = now + SELFTEST_SECONDS
        self._selftest_warned = False
        self.backoff.reset()

    def selftest_arrived(self) -> None:
        self.selftest_ok = True

    def selftest_overdue(self, now: float) -> bool:
        """True once per connection, when the self-test has not arrived in time (a pooler?)."""
        deadline = self._selftest_deadline
        if self.selftest_ok or self._selftest_warned or deadline is None or now <= deadline:
            return False
        self._selftest_warned = True
        return True

    def listener_down(self) -> None:
        self.listening = False
        self.selftest_ok = False
        self._selftest_deadline = None

    # -- the poller ------------------------------------------------------------------

    def interval(self, now: float) -> float:
        """Fast unless notifications are trusted and every wait is one they announce."""
        fast = not self.trusted(now) or bool(self._polled_only)
        return self.policy.interval_seconds if fast else self.policy.max_interval_seconds

    def poll_delay(self, now: float) -> float:
        """Seconds until the next tick is due (zero or less: now)."""
        if self._last_tick is None:
            return 0.0
        return self._last_tick + self.interval(now) - now

    def ticked(self, now: float) -> None:
        self._last_tick = now

    def poll_params(self, waiting: Iterable[W]) -> dict[str, list[Any]]:
        """The shared query's parameters: one entry per distinct check, offsets in range."""
        params: dict[str, list[Any]] = {k: [] for k in PARAM_NAMES}
        results: set[str] = set()
        firsts: set[str] = set()
        # Many waiters may wait for the same thing (a broadcast event): ask once per check.
        for c in {w.check for w in waiting}:
            if c.kind == "event":
                params["ew"].append(c.workflow_id)
                params["ek"].append(c.key)
            elif c.kind == "stream" and c.offset is not None:
                if offset_in_range(c.offset):
                    params["sw"].append(c.workflow_id)
                    params["sk"].append(c.key)
                    params["so"].append(c.offset)
                else:
                    results.add(c.workflow_id)  # see row_key
            elif c.kind == "result":
                results.add(c.workflow_id)
            elif c.kind == "first":
                firsts.update(c.workflow_ids)  # a thousand handles are still one query
        params["rw"] = sorted(results)
        params["fw"] = sorted(firsts)
        return params

    def sort_ready(self, rows: Iterable[Any], waiting: Iterable[W], now: float) -> tuple[list[W], list[W]]:
        """The poller's rows, as (waiters to wake now, suspects).

        A suspect's value is one a notification announces, found while notifications are
        trusted and before its notification arrived: the driver gives the listener
        ``NOTIFY_GRACE_SECONDS``, then settles it (``settle_suspects``).
        """
        ready = {(kind, wid, key): notifiable for kind, wid, key, notifiable in rows}
        if not ready:
            return [], []
        trusted = self.trusted(now)
        wake: list[W] = []
        suspects: list[W] = []
        for w in waiting:
            if w.check.kind == "first":
                if any(("first", wid, None) in ready for wid in w.check.workflow_ids):
                    wake.append(w)
                continue
            notifiable = ready.get(row_key(w.check))
            if notifiable is None:
                continue
            if notifiable and trusted and not w.woken():
                suspects.append(w)  # the listener should announce this; give it a moment
            else:
                wake.append(w)
        return wake, suspects

    def settle_suspects(self, suspects: Iterable[W], now: float) -> int:
        """After the grace: how many suspects no notification woke. Any such miss distrusts."""
        missed = sum(1 for w in suspects if not w.woken() and w.waiting)
        if missed:
            self.distrust(now)
        return missed


class HubView(Generic[W]):
    """What both drivers show the shells and the tests: read-only views of their state."""

    _state: HubState[W]
    _clock: Callable[[], float]

    @property
    def _waiters(self) -> set[W]:
        return self._state.waiters

    @property
    def _by_payload(self) -> dict[tuple[str, str], set[W]]:
        return self._state.by_payload

    @property
    def _listening(self) -> bool:
        return self._state.listening

    @property
    def trusted(self) -> bool:
        """Notifications are known to arrive: listening, self-test passed, no recent miss."""
        return self._state.trusted(self._clock())
