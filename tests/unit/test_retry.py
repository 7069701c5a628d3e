"""Which failures are retried, and how: is_transient and the tenacity policy from retrying()."""

from __future__ import annotations

import logging
from collections.abc import Callable

import psycopg
import psycopg.errors as pgerr
import pytest

from dbos_client import InvalidArgumentError, RetryPolicy
from dbos_client._pool import PoolTimeout
from dbos_client._retry import is_transient, retrying

# -- is_transient ---------------------------------------------------------------------

TRANSIENT = [
    pytest.param(psycopg.OperationalError("server closed the connection unexpectedly"), id="bare-OperationalError"),
    pytest.param(pgerr.AdminShutdown("x"), id="AdminShutdown-57P01"),
    pytest.param(pgerr.CrashShutdown("x"), id="CrashShutdown-57P02"),
    pytest.param(pgerr.CannotConnectNow("x"), id="CannotConnectNow-57P03"),
    pytest.param(pgerr.ConnectionException("x"), id="ConnectionException-08000"),
    pytest.param(pgerr.InsufficientResources("x"), id="InsufficientResources-53000"),
    pytest.param(pgerr.SerializationFailure("x"), id="SerializationFailure-40001"),
    pytest.param(pgerr.DeadlockDetected("x"), id="DeadlockDetected-40P01"),
    pytest.param(pgerr.IdleInTransactionSessionTimeout("x"), id="IdleInTransactionSessionTimeout-25P03"),
    pytest.param(PoolTimeout("couldn't get a connection after 10.00 sec"), id="PoolTimeout"),
]

# psycopg's error classes are flat: 53300 TooManyConnections is not a Python subclass of
# 53000 InsufficientResources, nor 08006 ConnectionFailure of 08000 ConnectionException,
# so an isinstance check against the class-level exceptions misses them.
_FLAT_CLASSES = "bug: is_transient checks isinstance(InsufficientResources/ConnectionException), but psycopg's " \
    "SQLSTATE subclasses (53300, 08006, ...) do not inherit from them, so they are classified as permanent"
TRANSIENT_MISSED = [
    pytest.param(pgerr.TooManyConnections("sorry, too many clients already"), id="TooManyConnections-53300"),
    pytest.param(pgerr.ConnectionFailure("x"), id="ConnectionFailure-08006"),
    pytest.param(pgerr.SqlclientUnableToEstablishSqlconnection("x"), id="UnableToEstablish-08001"),
    pytest.param(pgerr.OutOfMemory("x"), id="OutOfMemory-53200"),
]

PERMANENT = [
    pytest.param(pgerr.QueryCanceled("canceling statement due to statement timeout"), id="QueryCanceled-57014"),
    pytest.param(pgerr.UniqueViolation("x"), id="UniqueViolation-23505"),
    pytest.param(pgerr.ForeignKeyViolation("x"), id="ForeignKeyViolation-23503"),
    pytest.param(pgerr.UndefinedTable("x"), id="UndefinedTable-42P01"),
    pytest.param(pgerr.LockNotAvailable("x"), id="LockNotAvailable-55P03"),
    pytest.param(psycopg.InterfaceError("x"), id="InterfaceError"),
    pytest.param(psycopg.DatabaseError("x"), id="DatabaseError"),
    pytest.param(ValueError("x"), id="ValueError"),
    pytest.param(TimeoutError("x"), id="TimeoutError"),
    pytest.param(KeyboardInterrupt(), id="KeyboardInterrupt"),
]


@pytest.mark.parametrize("exc", TRANSIENT)
def test_transient(exc: BaseException) -> None:
    assert is_transient(exc) is True


@pytest.mark.parametrize("exc", TRANSIENT_MISSED)
def test_transient_sqlstate_subclasses(exc: BaseException) -> None:
    assert is_transient(exc) is True


@pytest.mark.parametrize("exc", PERMANENT)
def test_not_transient(exc: BaseException) -> None:
    assert is_transient(exc) is False


def test_query_canceled_is_never_transient_even_though_it_is_an_operational_error() -> None:
    exc = pgerr.QueryCanceled("x")
    assert isinstance(exc, psycopg.OperationalError)
    assert exc.sqlstate == "57014"
    assert is_transient(exc) is False


def test_classification_does_not_depend_on_message_text() -> None:
    assert is_transient(pgerr.UniqueViolation("server closed the connection unexpectedly")) is False
    assert is_transient(psycopg.OperationalError("duplicate key value violates unique constraint")) is True


# -- retrying() -----------------------------------------------------------------------


class FakeTime:
    """A monotonic clock that only moves when the retry loop sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Flaky:
    """Raises the given exceptions in order, then returns 'ok'."""

    def __init__(self, *errors: BaseException, clock: Callable[[], float] = lambda: 0.0) -> None:
        self.errors = list(errors)
        self.calls: list[float] = []
        self.clock = clock

    def __call__(self) -> str:
        self.calls.append(self.clock())
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def transient(n: int = 0) -> psycopg.OperationalError:
    return psycopg.OperationalError(f"connection lost {n}")


def policy(**kwargs: object) -> RetryPolicy:
    base: dict = {"max_attempts": None, "initial_seconds": 0.1, "max_seconds": 10.0, "jitter_seconds": 0.0, "budget_seconds": None}
    base.update(kwargs)
    return RetryPolicy(**base)


def test_success_needs_no_sleep() -> None:
    t = FakeTime()
    fn = Flaky()
    assert retrying(policy(max_attempts=3), sleep=t.sleep, clock=t.clock)(fn) == "ok"
    assert len(fn.calls) == 1
    assert t.sleeps == []


def test_retries_transient_errors_with_exponential_delays() -> None:
    t = FakeTime()
    fn = Flaky(*(transient(i) for i in range(4)))
    result = retrying(policy(max_attempts=10), sleep=t.sleep, clock=t.clock)(fn)
    assert result == "ok"
    assert len(fn.calls) == 5
    assert t.sleeps == pytest.approx([0.1, 0.2, 0.4, 0.8])


def test_delays_are_capped_at_max_seconds() -> None:
    t = FakeTime()
    fn = Flaky(*(transient(i) for i in range(7)))
    retrying(policy(max_attempts=10, initial_seconds=0.5, max_seconds=2.0), sleep=t.sleep, clock=t.clock)(fn)
    assert t.sleeps == pytest.approx([0.5, 1.0, 2.0, 2.0, 2.0, 2.0, 2.0])


def test_jitter_stays_within_jitter_seconds() -> None:
    t = FakeTime()
    fn = Flaky(*(transient(i) for i in range(6)))
    retrying(policy(max_attempts=10, initial_seconds=0.1, max_seconds=1.0, jitter_seconds=0.05), sleep=t.sleep, clock=t.clock)(fn)
    bases = [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    assert len(t.sleeps) == len(bases)
    for base, slept in zip(bases, t.sleeps, strict=True):
        assert base <= slept <= base + 0.05 + 1e-12


def test_jitter_is_random() -> None:
    sleeps = set()
    for _ in range(5):
        t = FakeTime()
        retrying(policy(max_attempts=3, jitter_seconds=1.0), sleep=t.sleep, clock=t.clock)(Flaky(transient(), transient()))
        sleeps.update(t.sleeps)
    assert len(sleeps) > 1


def test_stops_after_max_attempts_and_reraises_the_last_exception() -> None:
    t = FakeTime()
    errors = [transient(i) for i in range(5)]
    fn = Flaky(*errors)
    with pytest.raises(psycopg.OperationalError) as info:
        retrying(policy(max_attempts=3), sleep=t.sleep, clock=t.clock)(fn)
    assert info.value is errors[2]  # the exception itself, not a tenacity RetryError
    assert len(fn.calls) == 3
    assert len(t.sleeps) == 2


def test_single_attempt_policy_never_sleeps() -> None:
    t = FakeTime()
    fn = Flaky(transient())
    with pytest.raises(psycopg.OperationalError):
        retrying(policy(max_attempts=1), sleep=t.sleep, clock=t.clock)(fn)
    assert len(fn.calls) == 1
    assert t.sleeps == []


def test_stops_at_the_deadline() -> None:
    t = FakeTime()
    errors = [transient(i) for i in range(100)]
    fn = Flaky(*errors, clock=t.clock)
    with pytest.raises(psycopg.OperationalError) as info:
        retrying(policy(), deadline=0.35, sleep=t.sleep, clock=t.clock)(fn)
    # Attempts at 0.0, 0.1, 0.3 fail before the deadline; the next back-off (0.4) is cut to
    # the 0.05 s left, so the last attempt runs exactly at the deadline, never after it.
    assert fn.calls == pytest.approx([0.0, 0.1, 0.3, 0.35])
    assert info.value is errors[3]
    assert t.sleeps == pytest.approx([0.1, 0.2, 0.05])


def test_a_passed_deadline_allows_exactly_one_attempt() -> None:
    t = FakeTime()
    t.now = 5.0
    fn = Flaky(transient(), clock=t.clock)
    with pytest.raises(psycopg.OperationalError):
        retrying(policy(max_attempts=10), deadline=1.0, sleep=t.sleep, clock=t.clock)(fn)
    assert len(fn.calls) == 1
    assert t.sleeps == []


def test_deadline_and_max_attempts_whichever_comes_first() -> None:
    t = FakeTime()
    fn = Flaky(*(transient(i) for i in range(100)), clock=t.clock)
    with pytest.raises(psycopg.OperationalError):
        retrying(policy(max_attempts=2), deadline=1000.0, sleep=t.sleep, clock=t.clock)(fn)
    assert len(fn.calls) == 2


@pytest.mark.parametrize(
    "exc",
    [pgerr.UniqueViolation("dup"), pgerr.QueryCanceled("statement timeout"), ValueError("bad"), pgerr.ForeignKeyViolation("fk")],
    ids=lambda e: type(e).__name__,
)
def test_never_retries_a_non_transient_error(exc: BaseException) -> None:
    t = FakeTime()
    fn = Flaky(exc)
    with pytest.raises(type(exc)) as info:
        retrying(policy(max_attempts=10), sleep=t.sleep, clock=t.clock)(fn)
    assert info.value is exc
    assert len(fn.calls) == 1
    assert t.sleeps == []


def test_a_permanent_error_after_transient_ones_stops_the_retries() -> None:
    t = FakeTime()
    permanent = pgerr.UniqueViolation("dup")
    fn = Flaky(transient(), permanent, transient())
    with pytest.raises(pgerr.UniqueViolation) as info:
        retrying(policy(max_attempts=10), sleep=t.sleep, clock=t.clock)(fn)
    assert info.value is permanent
    assert len(fn.calls) == 2


def test_each_retry_is_logged_as_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    t = FakeTime()
    with caplog.at_level(logging.WARNING, logger="dbos_client"):
        retrying(policy(max_attempts=5), sleep=t.sleep, clock=t.clock)(Flaky(transient(1), transient(2)))
    messages = [r.getMessage() for r in caplog.records if r.name == "dbos_client"]
    assert len(messages) == 2
    assert "OperationalError" in messages[0] and "connection lost 1" in messages[0]


def test_default_policy_uses_real_time_but_a_fake_sleep() -> None:
    t = FakeTime()
    fn = Flaky(transient(), transient())
    assert retrying(RetryPolicy(), sleep=t.sleep)(fn) == "ok"
    assert len(t.sleeps) == 2
    assert RetryPolicy().initial_seconds <= t.sleeps[0] <= RetryPolicy().initial_seconds + RetryPolicy().jitter_seconds


# -- RetryPolicy validation -----------------------------------------------------------


def test_retry_policy_defaults_are_bounded() -> None:
    p = RetryPolicy()
    assert p.max_attempts is not None and p.max_attempts >= 1
    assert p.budget_seconds is not None and p.budget_seconds > 0
    assert 0 <= p.initial_seconds <= p.max_seconds


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"max_attempts": 0}, "max_attempts"),
        ({"max_attempts": -1}, "max_attempts"),
        ({"initial_seconds": -0.1}, "initial_seconds"),
        ({"max_seconds": -1}, "max_seconds"),
        ({"jitter_seconds": -0.01}, "jitter_seconds"),
        ({"budget_seconds": 0}, "budget_seconds"),
        ({"budget_seconds": -5}, "budget_seconds"),
    ],
)
def test_retry_policy_rejects(kwargs: dict, name: str) -> None:
    with pytest.raises(InvalidArgumentError, match=name):
        RetryPolicy(**kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [{"max_attempts": None}, {"budget_seconds": None}, {"max_attempts": 1}, {"jitter_seconds": 0, "initial_seconds": 0}],
)
def test_retry_policy_accepts(kwargs: dict) -> None:
    RetryPolicy(**kwargs)
