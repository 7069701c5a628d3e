"""When a waiting call looks again, and when it gives up. Pure: never sleeps, never queries.

Every blocking call (get_event, read_stream, get_result) owns one ``Poll``. The shells
turn its delays into sleeps (or, later, into waits a notification can cut short).
"""

from __future__ import annotations

import time
from typing import Callable, Optional

from .models import PollPolicy


class Poll:
    """A deadline on a monotonic clock plus a growing re-check interval."""

    def __init__(
        self,
        timeout_seconds: Optional[float],
        policy: PollPolicy = PollPolicy(),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.timeout_seconds = timeout_seconds
        self.policy = policy
        self._clock = clock
        self.restart()

    def restart(self) -> None:
        """Start a fresh deadline and interval (read_stream's timeout is per value)."""
        self.deadline: Optional[float] = (
            None if self.timeout_seconds is None else self._clock() + self.timeout_seconds
        )
        self._interval = self.policy.interval_seconds

    def reset_interval(self) -> None:
        """Progress was made: check again soon, without moving the deadline."""
        self._interval = self.policy.interval_seconds

    def remaining(self) -> Optional[float]:
        """Seconds left before the deadline (never negative), or None for no deadline."""
        if self.deadline is None:
            return None
        return max(0.0, self.deadline - self._clock())

    def expired(self) -> bool:
        remaining = self.remaining()
        return remaining is not None and remaining <= 0

    def next_delay(self) -> Optional[float]:
        """Seconds to wait before the next check, or None once the deadline has passed.

        Grows from ``interval_seconds`` by ``backoff`` up to ``max_interval_seconds``, and
        is trimmed so the last check happens exactly at the deadline.
        """
        remaining = self.remaining()
        if remaining is not None and remaining <= 0:
            return None
        delay = self._interval
        self._interval = min(self._interval * self.policy.backoff, self.policy.max_interval_seconds)
        return delay if remaining is None else min(delay, remaining)
