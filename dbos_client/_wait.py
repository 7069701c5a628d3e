"""What a waiting call waits for, and until when. Pure: never sleeps, never queries.

Each blocking call (get_event, read_stream, get_result) owns one ``Deadline`` and names
what would end its wait with a ``Check``. The shell's wait hub turns those into wake-ups:
a notification on the check's channel, or the shared poller finding the check satisfied.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

EVENTS_CHANNEL = "dbos_workflow_events_channel"
STREAMS_CHANNEL = "dbos_streams_channel"
NOTIFICATIONS_CHANNEL = "dbos_notifications_channel"
CHANNELS = (EVENTS_CHANNEL, STREAMS_CHANNEL, NOTIFICATIONS_CHANNEL)


@dataclass(frozen=True)
class Check:
    """A condition the shared poller can test for many waiters in one query.

    * ``event``: the key has a value, or the workflow finished (it never will then);
    * ``stream``: a value exists at ``offset``, or the workflow is no longer active;
    * ``result``: the workflow is no longer active (completion is never notified);
    * ``first``: one of ``workflow_ids`` exists and is no longer active (``wait_first``,
      ``wait_all``; never notified). A workflow that does not exist never satisfies it.
    """

    kind: Literal["event", "stream", "result", "first"]
    workflow_id: str
    key: str | None = None
    offset: int | None = None
    workflow_ids: tuple[str, ...] = ()

    @property
    def channel(self) -> str | None:
        return {"event": EVENTS_CHANNEL, "stream": STREAMS_CHANNEL}.get(self.kind)

    @property
    def payload(self) -> str | None:
        """The NOTIFY payload that concerns this check: ``workflow_id::key``."""
        return None if self.key is None else f"{self.workflow_id}::{self.key}"

    @property
    def notified(self) -> bool:
        """Whether a notification can announce it (results never are)."""
        return self.channel is not None


class Deadline:
    """A deadline on a monotonic clock; None means no limit."""

    def __init__(self, timeout_seconds: float | None, clock: Callable[[], float] = time.monotonic) -> None:
        self.timeout_seconds = timeout_seconds
        self._clock = clock
        self.restart()

    def restart(self) -> None:
        """Start the timeout afresh (read_stream's timeout is per value)."""
        self.at: float | None = None if self.timeout_seconds is None else self._clock() + self.timeout_seconds

    def remaining(self) -> float | None:
        """Seconds left (never negative), or None for no deadline."""
        if self.at is None:
            return None
        return max(0.0, self.at - self._clock())

    def expired(self) -> bool:
        remaining = self.remaining()
        return remaining is not None and remaining <= 0
