"""Deadline, Check and PollPolicy (pure), and the hub's routing of notifications to waiters."""

from __future__ import annotations

import threading
from typing import Any

import psycopg
import pytest

from dbos_client import InvalidArgumentError, PollPolicy
from dbos_client._hub import WaitHub
from dbos_client._wait import EVENTS_CHANNEL, STREAMS_CHANNEL, Check, Deadline


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_deadline_counts_down_on_its_clock() -> None:
    clock = FakeClock()
    d = Deadline(2.0, clock)
    assert d.at == 102.0 and d.remaining() == 2.0 and not d.expired()
    clock.now = 101.5
    assert d.remaining() == pytest.approx(0.5)
    clock.now = 103.0
    assert d.remaining() == 0.0 and d.expired()


def test_deadline_restart_is_per_value() -> None:
    clock = FakeClock()
    d = Deadline(1.0, clock)
    clock.now = 100.9
    d.restart()
    clock.now = 101.5
    assert not d.expired() and d.remaining() == pytest.approx(0.4)


def test_no_deadline() -> None:
    d = Deadline(None, FakeClock())
    assert d.at is None and d.remaining() is None and not d.expired()


def test_zero_timeout_is_expired_at_once() -> None:
    assert Deadline(0.0, FakeClock()).expired()


@pytest.mark.parametrize(
    "check, channel, payload",
    [
        (Check("event", "wf", "k"), EVENTS_CHANNEL, "wf::k"),
        (Check("stream", "wf", "log", 3), STREAMS_CHANNEL, "wf::log"),
        (Check("result", "wf"), None, None),
    ],
)
def test_check_channels_and_payloads(check: Check, channel: str | None, payload: str | None) -> None:
    assert (check.channel, check.payload, check.notified) == (channel, payload, channel is not None)


def test_poll_policy_defaults_and_validation() -> None:
    p = PollPolicy()
    assert (p.interval_seconds, p.max_interval_seconds, p.use_notifications) == (0.05, 1.0, True)
    for bad in ({"interval_seconds": 0}, {"interval_seconds": 2.0, "max_interval_seconds": 1.0}):
        with pytest.raises(InvalidArgumentError):
            PollPolicy(**bad)


def _no_listener() -> psycopg.Connection[Any]:
    raise AssertionError("the listener should not start in this test")


def _hub() -> WaitHub:
    # No query ever runs here: nothing waits long enough for the poller to tick.
    def no_queries(statement: object, params: object) -> list:
        raise AssertionError("the poller should not run in this test")

    return WaitHub(
        connect_listener=_no_listener, ready_query=None, run_query=no_queries, notify=lambda channel: None,
        policy=PollPolicy(interval_seconds=30, max_interval_seconds=30, use_notifications=False), app_notifies=False,
    )  # fmt: skip


def test_a_notification_wakes_exactly_the_waiters_concerned() -> None:
    hub = _hub()
    a = hub.subscribe(Check("event", "wf", "a"))
    a2 = hub.subscribe(Check("event", "wf", "a"))
    b = hub.subscribe(Check("event", "wf", "b"))
    s = hub.subscribe(Check("stream", "wf", "a"))
    hub._dispatch(EVENTS_CHANNEL, "wf::a")
    assert a.event.is_set() and a2.event.is_set()
    assert not b.event.is_set() and not s.event.is_set()
    hub.close()


def test_a_notification_before_the_wait_is_not_lost() -> None:
    """Subscribed before the read: a notification during the read makes the wait return at once."""
    hub = _hub()
    w = hub.subscribe(Check("event", "wf", "k"))
    hub._dispatch(EVENTS_CHANNEL, "wf::k")  # arrives while the op is reading
    done = threading.Event()
    threading.Thread(target=lambda: (hub.wait(w, w.check, None), done.set()), daemon=True).start()
    assert done.wait(5)
    assert not w.event.is_set()  # cleared, so the next wait needs a new wake-up
    hub.close()


def test_unsubscribe_forgets_the_waiter() -> None:
    hub = _hub()
    w = hub.subscribe(Check("event", "wf", "k"))
    hub.unsubscribe(w)
    assert hub._waiters == set() and hub._by_payload == {}
    hub._dispatch(EVENTS_CHANNEL, "wf::k")
    assert not w.event.is_set()
    hub.close()


def test_close_wakes_every_waiter() -> None:
    hub = _hub()
    w = hub.subscribe(Check("result", "wf"))
    done = threading.Event()
    threading.Thread(target=lambda: (hub.wait(w, w.check, None), done.set()), daemon=True).start()
    hub.close()
    assert done.wait(5)
