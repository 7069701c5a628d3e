"""Poll: the delay schedule of waiting calls, driven by a fake monotonic clock."""

from __future__ import annotations

import pytest

from dbos_client import InvalidArgumentError, PollPolicy
from dbos_client._wait import Poll


class FakeClock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# Powers of two, so every sum below is exact in binary floating point.
POLICY = PollPolicy(interval_seconds=0.125, max_interval_seconds=1.0, backoff=2.0)


def drain(poll: Poll, clock: FakeClock, limit: int = 100) -> list[float]:
    """Sleep (on the fake clock) for every delay until the poll gives up."""
    delays = []
    for _ in range(limit):
        delay = poll.next_delay()
        if delay is None:
            return delays
        delays.append(delay)
        clock.advance(delay)
    raise AssertionError(f"poll never gave up: {delays}")


def test_schedule_grows_by_backoff_to_cap_and_trims_last_delay_to_deadline() -> None:
    clock = FakeClock()
    poll = Poll(3.0, POLICY, clock=clock)
    assert poll.deadline == 103.0
    delays = drain(poll, clock)
    # 0.125, 0.25, 0.5, 1.0 (cap), 1.0 (cap) -> 2.875 elapsed; the last one is trimmed to 0.125.
    assert delays == [0.125, 0.25, 0.5, 1.0, 1.0, 0.125]
    assert clock.now == poll.deadline
    assert poll.next_delay() is None
    assert poll.expired()
    assert poll.remaining() == 0.0


def test_first_delay_is_the_interval() -> None:
    clock = FakeClock()
    poll = Poll(10.0, POLICY, clock=clock)
    assert poll.next_delay() == 0.125


def test_delays_never_exceed_the_cap() -> None:
    clock = FakeClock()
    poll = Poll(1000.0, PollPolicy(interval_seconds=0.01, max_interval_seconds=0.5, backoff=1.5), clock=clock)
    delays = drain(poll, clock, limit=5000)
    assert max(delays) == 0.5
    assert delays[0] == 0.01
    # Non-decreasing until the final, trimmed delay.
    assert delays[:-1] == sorted(delays[:-1])
    assert sum(delays) == pytest.approx(1000.0)


def test_backoff_of_one_keeps_a_constant_interval() -> None:
    clock = FakeClock()
    poll = Poll(1.0, PollPolicy(interval_seconds=0.25, max_interval_seconds=0.25, backoff=1.0), clock=clock)
    assert drain(poll, clock) == [0.25, 0.25, 0.25, 0.25]


def test_delay_is_trimmed_to_the_remaining_time_even_when_the_clock_moved_on_its_own() -> None:
    clock = FakeClock()
    poll = Poll(1.0, POLICY, clock=clock)
    clock.advance(0.9375)  # a slow query ate most of the budget
    assert poll.next_delay() == 0.0625


def test_none_after_the_deadline() -> None:
    clock = FakeClock()
    poll = Poll(1.0, POLICY, clock=clock)
    clock.advance(5.0)
    assert poll.next_delay() is None
    assert poll.next_delay() is None
    assert poll.remaining() == 0.0  # never negative
    assert poll.expired()


def test_zero_timeout_is_expired_at_once() -> None:
    clock = FakeClock()
    poll = Poll(0.0, POLICY, clock=clock)
    assert poll.expired()
    assert poll.next_delay() is None


def test_remaining_counts_down() -> None:
    clock = FakeClock()
    poll = Poll(2.0, POLICY, clock=clock)
    assert poll.remaining() == 2.0
    assert not poll.expired()
    clock.advance(0.5)
    assert poll.remaining() == 1.5
    clock.advance(1.5)
    assert poll.remaining() == 0.0
    assert poll.expired()


def test_restart_gives_a_fresh_deadline_and_interval() -> None:
    clock = FakeClock()
    poll = Poll(1.0, POLICY, clock=clock)
    assert drain(poll, clock) == [0.125, 0.25, 0.5, 0.125]
    assert poll.next_delay() is None
    poll.restart()
    assert poll.deadline == clock.now + 1.0
    assert poll.remaining() == 1.0
    assert drain(poll, clock) == [0.125, 0.25, 0.5, 0.125]


def test_reset_interval_keeps_the_deadline() -> None:
    clock = FakeClock()
    poll = Poll(10.0, POLICY, clock=clock)
    deadline = poll.deadline
    for _ in range(4):
        clock.advance(poll.next_delay() or 0)
    assert poll.next_delay() == 1.0  # at the cap by now
    poll.reset_interval()
    assert poll.deadline == deadline
    assert poll.next_delay() == 0.125
    assert poll.next_delay() == 0.25


def test_no_deadline_never_gives_up() -> None:
    clock = FakeClock()
    poll = Poll(None, POLICY, clock=clock)
    assert poll.deadline is None
    assert poll.remaining() is None
    assert not poll.expired()
    delays = []
    for _ in range(50):
        delay = poll.next_delay()
        assert delay is not None
        delays.append(delay)
        clock.advance(1e6)  # however long it has been
    assert delays[:5] == [0.125, 0.25, 0.5, 1.0, 1.0]
    assert set(delays[3:]) == {1.0}
    assert not poll.expired()
    poll.restart()
    assert poll.deadline is None
    assert poll.next_delay() == 0.125


def test_default_policy_and_clock() -> None:
    poll = Poll(5.0)
    assert poll.policy == PollPolicy()
    assert poll.next_delay() == PollPolicy().interval_seconds
    remaining = poll.remaining()
    assert remaining is not None and 0 < remaining <= 5.0


# -- PollPolicy validation ------------------------------------------------------------


def test_poll_policy_defaults() -> None:
    policy = PollPolicy()
    assert 0 < policy.interval_seconds <= policy.max_interval_seconds
    assert policy.backoff >= 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"interval_seconds": 0},
        {"interval_seconds": -0.1},
        {"interval_seconds": 1.0, "max_interval_seconds": 0.5},
        {"max_interval_seconds": 0.001, "interval_seconds": 0.01},
    ],
)
def test_poll_policy_rejects_bad_intervals(kwargs: dict) -> None:
    with pytest.raises(InvalidArgumentError, match="interval_seconds"):
        PollPolicy(**kwargs)


@pytest.mark.parametrize("backoff", [0.0, 0.5, 0.999, -2.0])
def test_poll_policy_rejects_shrinking_backoff(backoff: float) -> None:
    with pytest.raises(InvalidArgumentError, match="backoff"):
        PollPolicy(backoff=backoff)


def test_poll_policy_accepts_equal_interval_and_cap() -> None:
    policy = PollPolicy(interval_seconds=0.2, max_interval_seconds=0.2, backoff=1)
    assert policy.interval_seconds == policy.max_interval_seconds


def test_poll_policy_is_frozen() -> None:
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        PollPolicy().backoff = 3  # type: ignore[misc]
