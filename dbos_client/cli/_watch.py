"""The terminal UI of ``watch``: a workflow's status and events, redrawn in place.

Rendering is pure (``render_block``, ``progress_fraction``) so it is tested without a terminal.
``TerminalView`` redraws a block at a terminal; ``PlainView`` prints one line per change for
logs and pipes. ``StreamFollower`` reads a stream in a thread so the status loop never waits.
"""

from __future__ import annotations

import math
import os
import queue
import threading
import time
from typing import Any, TextIO

from ..client import DBOSClient
from ..models import WorkflowStatus
from ._output import compact


def progress_fraction(value: Any) -> float | None:
    """How far along an event value says the work is, in [0, 1]; None if it is no progress.

    A float in [0, 1] is a fraction; any other number in [0, 100] a percentage (so an
    int 1 is 1%, a float 1.0 is 100%); ``{"done": x, "total": y}`` and ``[done, total]``
    are counts. Booleans are not numbers here.
    """

    def number(x: Any) -> bool:
        return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)

    if number(value):
        if isinstance(value, float) and 0 <= value <= 1:
            return float(value)
        return value / 100 if 0 <= value <= 100 else None
    if isinstance(value, dict) and "done" in value and "total" in value:
        done, total = value["done"], value["total"]
    elif isinstance(value, (list, tuple)) and len(value) == 2:
        done, total = value
    else:
        return None
    if not (number(done) and number(total)) or total <= 0 or done < 0:
        return None
    return min(float(done / total), 1.0)


def render_progress_bar(fraction: float, width: int = 20) -> str:
    """``[#####---------------]  25%``."""
    fraction = min(max(fraction, 0.0), 1.0)
    filled = int(fraction * width + 1e-9)  # floor; the epsilon keeps 0.3 * 10 from being 2
    return f"[{'#' * filled}{'-' * (width - filled)}] {fraction * 100:3.0f}%"


_STATUS_COLORS = {"SUCCESS": "32", "ERROR": "31", "CANCELLED": "33", "MAX_RECOVERY_ATTEMPTS_EXCEEDED": "31"}


def render_block(
    status: WorkflowStatus, events: dict[str, Any], width: int, now_ms: float, color: bool = False
) -> list[str]:
    """The redrawn part of the terminal view: a header line, then one line per event.

    Every line is clipped to ``width`` so that none wraps: the redraw moves the cursor
    up by the number of lines it printed, and a wrapped line would break that count.
    """
    # How long it has run: until now while active, until its last update once it ended.
    end_ms = now_ms if status.is_active or not status.updated_at else status.updated_at
    elapsed = f"  {max(0.0, (end_ms - status.created_at) / 1000):.1f}s" if status.created_at else ""
    # Status first: it is what matters when the terminal is narrow.
    header = _clip(f"{status.status}{elapsed}  {status.workflow_id}  {status.name}", width)
    if color and status.status in _STATUS_COLORS and header.startswith(status.status):
        header = f"\x1b[{_STATUS_COLORS[status.status]}m{status.status}\x1b[0m{header[len(status.status):]}"
    lines = [header]
    key_width = max((len(k) for k in events), default=0)
    for key, value in sorted(events.items()):  # sorted: rows must not jump between redraws
        fraction = progress_fraction(value)
        shown = compact(value)
        if fraction is not None:
            # A plain number is already said by the percentage; a pair says "3/10" too.
            shown = render_progress_bar(fraction) + ("" if isinstance(value, (int, float)) else f"  {shown}")
        lines.append(_clip(f"  {key:<{key_width}}  {shown}", width))
    return lines


def _clip(line: str, width: int) -> str:
    """``line`` cut to fit ``width`` columns (the last one is left free: some terminals
    wrap as soon as it is written)."""
    width = max(width - 1, 1)
    return line if len(line) <= width else line[: width - 1] + "~"


class PlainView:
    """Not a terminal: one line per change, for logs, pipes and ``grep``."""

    def __init__(self, out: TextIO, stream_key: str | None) -> None:
        self.out = out
        self.stream_key = stream_key
        self._status: str | None = None
        self._events: dict[str, str] = {}

    def show(self, status: WorkflowStatus, events: dict[str, Any], stream_values: list[Any]) -> None:
        lines = []
        if status.status != self._status:
            self._status = status.status
            lines.append(f"status {status.status}")
        for key, value in sorted(events.items()):
            text = compact(value)
            if self._events.get(key) != text:
                self._events[key] = text
                lines.append(f"event {key} {text}")
        lines.extend(f"stream {self.stream_key}: {compact(v)}" for v in stream_values)
        if lines:
            self.out.write("".join(line + "\n" for line in lines))
            self.out.flush()

    def result(self, value: Any) -> None:
        self.out.write(f"result {compact(value)}\n")
        self.out.flush()

    def close(self) -> None:
        pass


class TerminalView:
    """A terminal: a compact block redrawn in place, with stream lines scrolling above it."""

    HIDE_CURSOR, SHOW_CURSOR = "\x1b[?25l", "\x1b[?25h"

    def __init__(self, out: TextIO, stream_key: str | None) -> None:
        self.out = out
        self.stream_key = stream_key
        self.color = "NO_COLOR" not in os.environ  # https://no-color.org
        self._height = 0  # lines of the block drawn last time, to move back over
        self.out.write(self.HIDE_CURSOR)

    def show(self, status: WorkflowStatus, events: dict[str, Any], stream_values: list[Any]) -> None:
        import shutil  # only a terminal needs its size

        width = shutil.get_terminal_size().columns
        parts = []
        if self._height:
            # Up to the block's first line, then erase to the end of the screen.
            parts.append(f"\x1b[{self._height}F\x1b[J")
        # Stream lines are printed above the block and stay: they are the log.
        parts.extend(f"{self.stream_key}: {compact(v)}\n" for v in stream_values)
        block = render_block(status, events, width, time.time() * 1000, self.color)
        parts.extend(line + "\n" for line in block)
        self._height = len(block)
        self.out.write("".join(parts))
        self.out.flush()

    def result(self, value: Any) -> None:
        self.out.write(f"result: {compact(value)}\n")
        self.out.flush()

    def close(self) -> None:
        self.out.write(self.SHOW_CURSOR)
        self.out.flush()


class StreamFollower:
    """Reads one stream in a background thread, so the status loop never waits on it."""

    def __init__(self, client: DBOSClient, workflow_id: str, key: str) -> None:
        self._client, self._workflow_id, self._key = client, workflow_id, key
        self._values: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._error: BaseException | None = None
        # Daemon: at exit the client is closed, which ends a read still waiting.
        self._thread = threading.Thread(target=self._run, name="dbos-client-watch-stream", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for value in self._client.read_stream(self._workflow_id, self._key):
                self._values.put(value)
        except Exception as exc:  # noqa: BLE001 - handed to the main thread by take()
            self._error = exc

    def take(self) -> list[Any]:
        """The values read since the last call; re-raises the reader's error, if any."""
        values = []
        while True:
            try:
                values.append(self._values.get_nowait())
            except queue.Empty:
                break
        if self._error is not None and not values:
            raise self._error
        return values

    def finish(self, timeout: float) -> None:
        """Give the reader a moment to drain what a finished workflow wrote last."""
        self._thread.join(timeout)
