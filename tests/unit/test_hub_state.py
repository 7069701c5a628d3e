"""The wait hub's decisions (HubState), on a fake clock; and the async hub's wake-ups, without a database."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import psycopg
import pytest

from dbos_client import PollPolicy
from dbos_client._hub_async import AsyncWaitHub
from dbos_client._hub_state import (
    DISTRUST_SECONDS,
    MAX_STREAM_OFFSET,
    SELFTEST_SECONDS,
    Backoff,
    HubState,
    Registration,
)
from dbos_client._wait import EVENTS_CHANNEL, Check

FAST, SLOW = 0.05, 1.0


class FakeWaiter(Registration):
    __slots__ = ("_woken",)

    def __init__(self, check: Check) -> None:
        super().__init__(check)
        self._woken = False

    def woken(self) -> bool:
        return self._woken

    def wake(self) -> None:
        self._woken = True

    def clear(self) -> None:
        self._woken = False


def _state(app_notifies: bool = True, use_notifications: bool = True) -> HubState[FakeWaiter]:
    policy = PollPolicy(interval_seconds=FAST, max_interval_seconds=SLOW, use_notifications=use_notifications)
    return HubState(policy, app_notifies, rand=lambda: 0.0)


def _trusted_state(now: float) -> HubState[FakeWaiter]:
    state = _state()
    state.listener_up(now)
    state.selftest_arrived()
    assert state.trusted(now)
    return state


def _waiting(state: HubState[FakeWaiter], *checks: Check) -> list[FakeWaiter]:
    waiters = []
    for check in checks:
        w = FakeWaiter(check)
        state.add(w)
        state.begin_wait(w, check)
        waiters.append(w)
    return waiters


# -- trust ---------------------------------------------------------------------------


def test_trust_needs_listening_and_the_selftest() -> None:
    state = _state()
    assert not state.trusted(10.0)
    state.listener_up(10.0)
    assert not state.trusted(10.0)  # LISTEN alone proves nothing (a pooler accepts it)
    state.selftest_arrived()
    assert state.trusted(10.0)
    state.listener_down()
    assert not state.trusted(10.0)
    state.listener_up(20.0)
    assert not state.trusted(20.0)  # a new connection needs its own self-test


def test_no_trust_without_the_trigger_or_with_notifications_off() -> None:
    for state in (_state(app_notifies=False), _state(use_notifications=False)):
        state.listener_up(0.0)
        state.selftest_arrived()
        assert not state.trusted(0.0)


def test_selftest_overdue_is_reported_once_per_connection() -> None:
    state = _state()
    state.listener_up(0.0)
    assert not state.selftest_overdue(SELFTEST_SECONDS)
    assert state.selftest_overdue(SELFTEST_SECONDS + 0.1)
    assert not state.selftest_overdue(SELFTEST_SECONDS + 5)
    state.listener_down()
    state.listener_up(100.0)
    state.selftest_arrived()
    assert not state.selftest_overdue(200.0)


def test_a_value_found_first_by_polling_distrusts_after_the_grace_then_trust_returns() -> None:
    state = _trusted_state(0.0)
    (w,) = _waiting(state, Check("event", "wf", "k"))
    wake, suspects = state.sort_ready([("event", "wf", "k", True)], state.waiting(), 1.0)
    assert wake == [] and suspects == [w]  # the listener gets a grace period first
    assert state.settle_suspects(suspects, 1.25) == 1
    assert not state.trusted(1.25)
    assert state.interval(1.25) == FAST
    assert not state.trusted(1.25 + DISTRUST_SECONDS - 0.01)
    assert state.trusted(1.25 + DISTRUST_SECONDS)  # the distrust expires
    assert state.interval(1.25 + DISTRUST_SECONDS) == SLOW


def test_a_suspect_the_listener_woke_in_time_is_no_miss() -> None:
    state = _trusted_state(0.0)
    (w,) = _waiting(state, Check("event", "wf", "k"))
    _, suspects = state.sort_ready([("event", "wf", "k", True)], state.waiting(), 1.0)
    w.wake()  # the notification arrived during the grace
    assert state.settle_suspects(suspects, 1.25) == 0 and state.trusted(1.25)


def test_what_polling_finds_is_woken_at_once_when_not_a_suspect() -> None:
    state = _state()  # not trusted: nothing to suspect, the poller is the wake-up
    a, b, r = _waiting(state, Check("event", "wf", "a"), Check("event", "wf", "b"), Check("result", "wf"))
    wake, suspects = state.sort_ready([("event", "wf", "a", True), ("result", "wf", None, False)], state.waiting(), 0.0)
    assert set(wake) == {a, r} and suspects == []
    trusted = _trusted_state(0.0)
    (e,) = _waiting(trusted, Check("event", "done", "k"))
    # Found because the workflow finished (not notifiable): never a missed notification.
    wake, suspects = trusted.sort_ready([("event", "done", "k", False)], trusted.waiting(), 0.0)
    assert wake == [e] and suspects == []


# -- the poller ----------------------------------------------------------------------


def test_interval_is_fast_unless_trusted_and_only_notified_waits() -> None:
    state = _state()
    _waiting(state, Check("event", "wf", "k"))
    assert state.interval(0.0) == FAST
    state.listener_up(0.0)
    state.selftest_arrived()
    assert state.interval(0.0) == SLOW
    (r,) = _waiting(state, Check("result", "wf"))  # completions are never notified
    assert state.interval(0.0) == FAST
    state.end_wait(r)
    assert state.interval(0.0) == SLOW
    state.begin_wait(r, r.check)
    state.remove(r)  # a cancelled wait leaves nothing that keeps the poller fast
    assert state.interval(0.0) == SLOW and state.someone_waits()


def test_poll_delay_counts_from_the_last_tick() -> None:
    state = _trusted_state(0.0)
    _waiting(state, Check("event", "wf", "k"))
    assert state.poll_delay(5.0) <= 0  # never ticked: due now
    state.ticked(5.0)
    assert state.poll_delay(5.25) == pytest.approx(SLOW - 0.25)
    state.distrust(5.5)
    assert state.poll_delay(5.5) < 0  # fast now, and overdue


def test_begin_wait_says_when_only_polling_can_end_the_wait() -> None:
    state = _state()
    w, r = FakeWaiter(Check("event", "wf", "k")), FakeWaiter(Check("result", "wf"))
    state.add(w)
    state.add(r)
    assert state.begin_wait(w, w.check) is False
    assert state.begin_wait(r, r.check) is True
    assert set(state.waiting()) == {w, r}
    w.wake()
    state.end_wait(w)
    assert state.waiting() == [r] and not w.woken() and not w.waiting
    state.remove(r)
    state.remove(w)
    assert state.waiting() == [] and state.waiters == set()


def test_poll_params_ask_once_per_distinct_check() -> None:
    state = _state()
    _waiting(
        state,
        *[Check("event", "wf", "k")] * 3,
        Check("event", "wf", "other"),
        *[Check("stream", "wf", "s", 4)] * 2,
        Check("stream", "wf", "s", 5),
        *[Check("result", "wf")] * 2,
    )
    params = state.poll_params(state.waiting())
    assert sorted(zip(params["ew"], params["ek"], strict=True)) == [("wf", "k"), ("wf", "other")]
    assert sorted(zip(params["sw"], params["sk"], params["so"], strict=True)) == [("wf", "s", 4), ("wf", "s", 5)]
    assert params["rw"] == ["wf"]


def test_an_offset_beyond_int4_never_reaches_the_shared_query() -> None:
    """One reader at offset 2**31 must not make the poller's ``%(so)s::int[]`` fail for all."""
    state = _state()
    ok, huge, negative = _waiting(
        state,
        Check("stream", "a", "s", MAX_STREAM_OFFSET),
        Check("stream", "b", "s", MAX_STREAM_OFFSET + 1),
        Check("stream", "c", "s", -1),
    )
    params = state.poll_params(state.waiting())
    assert params["so"] == [MAX_STREAM_OFFSET] and params["sw"] == ["a"]
    assert all(-(2**31) <= o <= MAX_STREAM_OFFSET for o in params["so"])
    # No value can exist there: the wait is asked for as the workflow ending, on its own.
    assert sorted(params["rw"]) == ["b", "c"]
    wake, _ = state.sort_ready([("result", "b", None, False)], state.waiting(), 0.0)
    assert wake == [huge]
    wake, _ = state.sort_ready([("stream", "a", "s", True)], state.waiting(), 0.0)
    assert wake == [ok]


def test_notifications_reach_exactly_the_waiters_concerned() -> None:
    state = _state()
    a, a2, b = (FakeWaiter(Check("event", "wf", k)) for k in ("a", "a", "b"))
    for w in (a, a2, b):
        state.add(w)
    assert set(state.concerned(EVENTS_CHANNEL, "wf::a")) == {a, a2}
    state.remove(a)
    state.remove(a2)
    assert state.concerned(EVENTS_CHANNEL, "wf::a") == [] and list(state.by_payload) == [(EVENTS_CHANNEL, "wf::b")]


# -- the listener's back-off ---------------------------------------------------------


def test_backoff_doubles_to_its_cap_with_jitter_and_resets() -> None:
    no_jitter = Backoff(rand=lambda: 0.0)
    assert [round(no_jitter.next_delay(), 3) for _ in range(8)] == [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0]
    no_jitter.reset()
    assert no_jitter.next_delay() == pytest.approx(0.1)
    full_jitter = Backoff(rand=lambda: 1.0)
    assert [round(full_jitter.next_delay(), 3) for _ in range(3)] == [0.15, 0.3, 0.6]


def test_a_working_listener_resets_the_backoff() -> None:
    state = _state()
    for _ in range(5):
        state.backoff.next_delay()
    state.listener_up(0.0)
    assert state.backoff.next_delay() == pytest.approx(0.1)


# -- the async driver, without a database -------------------------------------------


def _async_hub(rows: list[Any], policy: PollPolicy | None = None) -> tuple[AsyncWaitHub, list[Any]]:
    queries: list[Any] = []

    async def run_query(statement: Any, params: Any) -> Any:
        queries.append(params)
        return rows

    async def no_listener() -> psycopg.AsyncConnection[Any]:
        raise AssertionError("no listener in this test")

    hub = AsyncWaitHub(
        connect_listener=no_listener, ready_query="ready", run_query=run_query,
        policy=policy or PollPolicy(interval_seconds=0.01, max_interval_seconds=0.01, use_notifications=False),
        app_notifies=False,
    )  # fmt: skip
    return hub, queries


def test_async_hub_notification_wakes_the_task_directly() -> None:
    async def main() -> None:
        hub, _ = _async_hub([], PollPolicy(interval_seconds=30, max_interval_seconds=30, use_notifications=False))
        w = hub.subscribe(Check("event", "wf", "k"))
        other = hub.subscribe(Check("event", "wf", "x"))
        task = asyncio.ensure_future(hub.wait(w, w.check, None))
        await asyncio.sleep(0.01)
        assert not task.done() and w.waiting
        hub._dispatch(EVENTS_CHANNEL, "wf::k")
        await asyncio.wait_for(task, 1)
        assert not w.waiting and not w.woken() and not other.woken()
        hub.unsubscribe(w)
        hub.unsubscribe(other)
        assert hub._waiters == set() and hub._by_payload == {}
        await hub.close()

    asyncio.run(main())


def test_async_hub_poller_wakes_a_result_wait_and_deadlines_end_waits() -> None:
    async def main() -> None:
        hub, queries = _async_hub([("result", "wf", None, False)])
        r = hub.subscribe(Check("result", "wf"))
        await asyncio.wait_for(hub.wait(r, r.check, None), 2)
        assert queries and queries[0]["rw"] == ["wf"]
        e = hub.subscribe(Check("event", "other", "k"))
        started = time.monotonic()
        await hub.wait(e, e.check, time.monotonic() + 0.05)
        assert 0.04 <= time.monotonic() - started < 1
        await hub.close()

    asyncio.run(main())


def test_async_hub_close_wakes_every_waiter_and_stops_its_tasks() -> None:
    async def main() -> None:
        hub, _ = _async_hub([])
        w = hub.subscribe(Check("event", "wf", "k"))
        task = asyncio.ensure_future(hub.wait(w, w.check, None))
        await asyncio.sleep(0.02)
        tasks = list(hub._tasks)
        await hub.close()
        await asyncio.wait_for(task, 1)
        assert all(t.done() for t in tasks)

    asyncio.run(main())


def test_async_hub_cancelled_wait_leaves_no_waiting_registration() -> None:
    async def main() -> None:
        hub, _ = _async_hub([])
        w = hub.subscribe(Check("event", "wf", "k"))
        task = asyncio.ensure_future(hub.wait(w, w.check, None))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not w.waiting and hub._state.waiting() == []
        await hub.close()

    asyncio.run(main())
