"""Which database failures are worth retrying, and the one tenacity policy that retries them.

The predicate is pure and classifies by exception class and SQLSTATE (SQLite: its
error code), never by message text where a code exists. The builder is used only by the shells, around one whole statement, and only after
a first attempt failed: tenacity is imported on that path, not at
``import dbos_client``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import psycopg

from ._text import first_line
from .models import RetryPolicy

if TYPE_CHECKING:
    from tenacity import AsyncRetrying, Retrying

logger = logging.getLogger("dbos_client")

# psycopg's specific classes do not subclass their SQLSTATE class's (TooManyConnections
# is not an InsufficientResources), so whole classes are matched by SQLSTATE prefix.
_TRANSIENT_SQLSTATE_CLASSES = ("08", "53")  # connection exceptions; insufficient resources
_TRANSIENT_SQLSTATES = frozenset(
    {
        "57P01",  # admin_shutdown
        "57P02",  # crash_shutdown
        "57P03",  # cannot_connect_now
        "40001",  # serialization_failure
        "40P01",  # deadlock_detected
        "25P03",  # idle_in_transaction_session_timeout
    }
)


#: SQLSTATEs of a refused login (invalid authorization, invalid password, unknown database).
_REJECTED_SQLSTATES = frozenset({"28000", "28P01", "3D000"})
#: libpq reports a failed connection attempt as text with no SQLSTATE, so these are
#: matched in its message: each is a refusal that the next attempt would meet again.
_REJECTED_MESSAGES = (
    "password authentication failed",
    "authentication failed for user",
    "no password supplied",
    "no pg_hba.conf entry",
    "certificate verify failed",
    "does not match host name",
    "root certificate file",
    "server does not support ssl",
    "tlsv1 alert",
    "sslv3 alert",
    "no such database",  # PgBouncer's wording
    "no such user",  # PgBouncer's wording
)


_UNKNOWN_NAME = re.compile(r'(role|database) "[^"]*" does not exist')


def is_rejected(exc: BaseException) -> bool:
    """True when the server (or our TLS check) refused the connection for good."""
    if not isinstance(exc, psycopg.OperationalError):
        return False
    if exc.sqlstate is not None:
        return exc.sqlstate in _REJECTED_SQLSTATES
    message = str(exc).lower()
    return any(pattern in message for pattern in _REJECTED_MESSAGES) or bool(_UNKNOWN_NAME.search(message))


def is_transient(exc: BaseException) -> bool:
    """True for failures that a fresh attempt on a fresh connection may not hit again."""
    from ._pool import PoolTimeout

    if isinstance(exc, PoolTimeout):
        return True  # every connection stayed busy until the deadline
    if is_rejected(exc):
        return False
    if type(exc).__module__ == "sqlite3":
        from ._sqlite import is_busy  # only a SQLite client ever raises these

        return is_busy(exc)
    if not isinstance(exc, psycopg.Error):
        return False
    sqlstate = exc.sqlstate
    if sqlstate is None:
        # "connection failed", "the connection is closed", "server closed the connection
        # unexpectedly" all arrive as a bare OperationalError with no SQLSTATE.
        return isinstance(exc, psycopg.OperationalError)
    # 57014 (a statement timeout or a cancel) is a decision, not an accident: never re-run it.
    return sqlstate in _TRANSIENT_SQLSTATES or sqlstate[:2] in _TRANSIENT_SQLSTATE_CLASSES


def retrying(
    policy: RetryPolicy,
    *,
    deadline: float | None = None,
    attempts_made: int = 0,
    sleep: Callable[[float], Any] | None = None,
    clock: Callable[[], float] = time.monotonic,
    asynchronous: bool = False,
) -> Retrying | AsyncRetrying:
    """A tenacity ``Retrying`` for one statement, bounded by the policy and by ``deadline``.

    ``attempts_made`` counts attempts already spent outside it (the shells try once
    without tenacity, so a statement that succeeds costs no retry machinery at all).
    ``asynchronous`` builds the same policy as an ``AsyncRetrying`` for the async shell.
    """
    from tenacity import (
        AsyncRetrying,
        Retrying,
        retry_if_exception,
        stop_after_attempt,
        stop_after_delay,
        stop_never,
        wait_exponential,
        wait_random,
    )
    from tenacity.stop import stop_base
    from tenacity.wait import wait_base

    class stop_at_deadline(stop_base):
        """Stop once the caller's monotonic deadline has passed."""

        def __call__(self, retry_state: Any) -> bool:
            return clock() >= deadline  # type: ignore[operator]

    class wait_within_deadline(wait_base):
        """Never sleep past the caller's deadline: the last attempt happens at it, not after."""

        def __init__(self, inner: wait_base) -> None:
            self.inner = inner

        def __call__(self, retry_state: Any) -> float:
            return max(0.0, min(self.inner(retry_state), deadline - clock()))  # type: ignore[operator]

    stop: stop_base = stop_never
    if policy.max_attempts is not None:
        stop = stop | stop_after_attempt(max(1, policy.max_attempts - attempts_made))
    if policy.budget_seconds is not None:
        stop = stop | stop_after_delay(policy.budget_seconds)
    if deadline is not None:
        stop = stop | stop_at_deadline()
    wait: wait_base = wait_exponential(multiplier=policy.initial_seconds, max=policy.max_seconds) + wait_random(
        0, policy.jitter_seconds
    )
    if deadline is not None:
        wait = wait_within_deadline(wait)
    options: dict[str, Any] = dict(
        retry=retry_if_exception(is_transient), wait=wait, stop=stop, before_sleep=_log_retry, reraise=True
    )
    if asynchronous:
        return AsyncRetrying(sleep=sleep or asyncio.sleep, **options)
    return Retrying(sleep=sleep or time.sleep, **options)


def _log_retry(retry_state: object) -> None:
    outcome = getattr(retry_state, "outcome", None)
    exc = outcome.exception() if outcome is not None else None
    logger.warning(
        "system database call failed (%s: %s); retry %d",
        type(exc).__name__,
        first_line(exc) if exc is not None else "",
        getattr(retry_state, "attempt_number", 0),
    )
