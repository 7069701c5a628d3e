"""The ``dbos-client`` command line (also ``python -m dbos_client``): each subcommand is one client call.

Made for cron jobs and on-call engineers:

* what a command prints on stdout is JSON (indented on a terminal, one line otherwise),
  so it pipes into ``jq``; ``stream`` prints one JSON value per line as the values arrive;
* what went wrong is one line on stderr, ``dbos-client: <message>``, never a traceback;
* the exit code says what kind of failure it was (``EXIT_*`` below, listed in ``--help``),
  so a script can branch on "timed out" versus "not found" versus "database down".

Only the standard library and ``dbos_client`` are imported: a cron job pays for nothing more.
The URL is never printed by this module; the client's own messages redact its password.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import fields
from typing import Any, TextIO

from . import __version__
from ._serialization import PortableWorkflowError
from .client import DBOSClient, WorkflowHandle
from .errors import (
    DatabaseUnavailableError,
    DBOSClientError,
    InvalidArgumentError,
    MaxRecoveryAttemptsExceededError,
    SerializationError,
    WaitTimeoutError,
    WorkflowCancelledError,
    WorkflowNotFoundError,
)
from .models import WorkflowStatus, WorkflowStatusString

PROG = "dbos-client"
URL_ENV = "DBOS_SYSTEM_DATABASE_URL"

# -- exit codes ---------------------------------------------------------------------

EXIT_OK = 0
EXIT_ERROR = 1  # anything not listed below
EXIT_USAGE = 2  # argparse's own code, kept for every usage error
EXIT_TIMEOUT = 3
EXIT_NOT_FOUND = 4
EXIT_WORKFLOW_FAILED = 5
EXIT_UNAVAILABLE = 6
EXIT_INTERRUPTED = 130  # the shell's convention for Ctrl-C (128 + SIGINT)


class WorkflowFailed(Exception):
    """The awaited workflow ended in ERROR. Its own exception is the ``__cause__``."""


#: Which exception means which exit code. First match wins; anything else is EXIT_ERROR.
EXIT_CODES: tuple[tuple[type[BaseException], int], ...] = (
    (WaitTimeoutError, EXIT_TIMEOUT),
    (WorkflowNotFoundError, EXIT_NOT_FOUND),
    (WorkflowFailed, EXIT_WORKFLOW_FAILED),
    (WorkflowCancelledError, EXIT_WORKFLOW_FAILED),
    (MaxRecoveryAttemptsExceededError, EXIT_WORKFLOW_FAILED),
    (DatabaseUnavailableError, EXIT_UNAVAILABLE),
    # The client validates before it writes anything: a bad argument is a usage error.
    (InvalidArgumentError, EXIT_USAGE),
)

EPILOG = f"""\
exit codes:
  {EXIT_OK}  success
  {EXIT_ERROR}  any other error
  {EXIT_USAGE}  usage error: bad arguments, bad JSON, no database URL
  {EXIT_TIMEOUT}  timeout: get-event found no value, result or stream waited too long
  {EXIT_NOT_FOUND}  no workflow with this id
  {EXIT_WORKFLOW_FAILED}  the workflow ended in ERROR, was CANCELLED or dead-lettered
  {EXIT_UNAVAILABLE}  the system database is unreachable (after retries)

environment:
  {URL_ENV}  the system database URL, when --url is not given

Values printed on stdout are JSON: indented on a terminal, one line otherwise.
Errors are one line on stderr: "{PROG}: <message>".
"""


def exit_code_for(exc: BaseException) -> int:
    """The exit code that tells a script what kind of failure ``exc`` is."""
    for kind, code in EXIT_CODES:
        if isinstance(exc, kind):
            return code
    return EXIT_ERROR


# -- JSON in ------------------------------------------------------------------------
# Parsed by argparse ``type=`` functions, so a bad value is argparse's own usage error
# (exit 2) and its message names the argument: "argument --args: not valid JSON (...)".


def _read_source(path: str) -> str:
    """The text of ``path``; ``-`` is standard input."""
    try:
        if path == "-":
            return sys.stdin.read()
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"cannot read {path!r}: {exc.strerror or exc}") from None


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON ({exc})") from None


def json_value(text: str) -> Any:
    """Any JSON value; ``-`` reads it from standard input."""
    return _loads(_read_source("-") if text == "-" else text)


def json_file(path: str) -> Any:
    """Any JSON value, read from a file (``-``: standard input)."""
    return _loads(_read_source(path))


def _expect(value: Any, kind: type, name: str) -> Any:
    if not isinstance(value, kind):
        raise argparse.ArgumentTypeError(f"must be a JSON {name}, not {type(value).__name__}")
    return value


def json_array(text: str) -> list[Any]:
    return _expect(json_value(text), list, "array")  # type: ignore[no-any-return]


def json_array_file(path: str) -> list[Any]:
    return _expect(json_file(path), list, "array")  # type: ignore[no-any-return]


def json_object(text: str) -> dict[str, Any]:
    return _expect(json_value(text), dict, "object")  # type: ignore[no-any-return]


def _number(convert: Callable[[str], Any], minimum: float, inclusive: bool) -> Callable[[str], Any]:
    """A ``type=`` for numbers with a lower bound (NaN is refused too)."""

    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if (value < minimum if inclusive else value <= minimum) or (isinstance(value, float) and math.isnan(value)):
            raise argparse.ArgumentTypeError(f"must be {'>=' if inclusive else '>'} {minimum}, got {text}")
        return value

    return parse


non_negative_int = _number(int, 0, inclusive=True)
non_negative_float = _number(float, 0, inclusive=True)
positive_float = _number(float, 0, inclusive=False)


def iso_time(text: str) -> str:
    """An ISO 8601 timestamp, checked here and passed on as given."""
    from datetime import datetime

    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    return text


# -- JSON out -----------------------------------------------------------------------


def describe_error(exc: BaseException) -> dict[str, str]:
    """An exception as ``{"type", "message"}``; a portable error keeps its own type name."""
    if isinstance(exc, PortableWorkflowError):
        return {"type": exc.name, "message": exc.message}
    kind = type(exc)
    name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    return {"type": name, "message": str(exc)}


def jsonable(value: Any, _depth: int = 0) -> Any:
    """``value`` made JSON-safe: JSON types pass, tuples become lists, exceptions
    ``{"type", "message"}``, anything else (a set, a datetime, a class) its ``repr``.

    Workflow values are whatever the application pickled; printing them must never fail.
    """
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)  # NaN is not JSON
    if _depth > 50:  # deep or cyclic: repr copes with cycles
        return repr(value)
    if isinstance(value, BaseException):
        return describe_error(value)
    if isinstance(value, dict):
        return {_json_key(k): jsonable(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v, _depth + 1) for v in value]
    return repr(value)


def _json_key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, (bool, int, float)):
        return json.dumps(key)  # what json.dumps itself would make of it
    return repr(key)


def status_json(status: WorkflowStatus) -> dict[str, Any]:
    """Every field of ``WorkflowStatus``, JSON-safe."""
    return {f.name: jsonable(getattr(status, f.name)) for f in fields(status)}


def compact(value: Any) -> str:
    """One-line JSON of a value, for streams and log lines."""
    return json.dumps(jsonable(value))


def emit(value: Any, out: TextIO | None = None) -> None:
    """Print one JSON document: indented for a person at a terminal, one line for a pipe."""
    out = out or sys.stdout
    indent = 2 if out.isatty() else None
    print(json.dumps(jsonable(value), indent=indent), file=out, flush=True)


# -- the subcommands: one small function each, (client, args) -> exit code -------------


def cmd_enqueue(client: DBOSClient, args: argparse.Namespace) -> int:
    options: dict[str, Any] = {"workflow_name": args.workflow_name, "queue_name": args.queue}
    optional = {
        "workflow_id": args.workflow_id,
        "deduplication_id": args.dedup_id,
        "priority": args.priority,
        "app_version": args.app_version,
        "workflow_timeout": args.timeout,
        "delay_seconds": args.delay,
        "serialization_type": "portable" if args.portable else None,
    }
    options.update({k: v for k, v in optional.items() if v is not None})
    positional = args.args_file if args.args_file is not None else (args.args or [])
    handle = client.enqueue(options, *positional, **(args.kwargs or {}))  # type: ignore[arg-type]
    emit({"workflow_id": handle.workflow_id})
    return EXIT_OK


def cmd_send(client: DBOSClient, args: argparse.Namespace) -> int:
    # The message is positional or --file; exactly one (argparse cannot say "one of a
    # positional and an option", so it is checked here).
    has_inline, has_file = args.message is not _MISSING, args.file is not _MISSING
    if has_inline == has_file:
        args.parser.error("give the message as MESSAGE_JSON or --file, exactly one")
    message = args.message if has_inline else args.file
    client.send(
        args.workflow_id,
        message,
        topic=args.topic,
        idempotency_key=args.idempotency_key,
        serialization_type="portable" if args.portable else None,
    )
    return EXIT_OK


def cmd_get_event(client: DBOSClient, args: argparse.Namespace) -> int:
    value = client.get_event(args.workflow_id, args.key, timeout_seconds=args.timeout)
    if value is None:
        # get_event answers None both for "no value" and for a value that is None:
        # one more query tells them apart, and says whether the workflow exists at all.
        events = client.get_all_events(args.workflow_id)  # WorkflowNotFoundError -> exit 4
        if args.key not in events:
            return EXIT_TIMEOUT  # documented as silent: the exit code is the answer
    emit(value)
    return EXIT_OK


def cmd_events(client: DBOSClient, args: argparse.Namespace) -> int:
    emit(client.get_all_events(args.workflow_id))
    return EXIT_OK


def cmd_stream(client: DBOSClient, args: argparse.Namespace) -> int:
    values = client.read_stream(args.workflow_id, args.key, offset=args.offset, timeout_seconds=args.timeout)
    for value in values:
        # One line per value, flushed at once: whoever reads the pipe sees it live.
        print(compact(value), flush=True)
    return EXIT_OK


def cmd_status(client: DBOSClient, args: argparse.Namespace) -> int:
    emit(status_json(client.retrieve_workflow(args.workflow_id).get_status()))
    return EXIT_OK


def await_result(client: DBOSClient, handle: WorkflowHandle[Any], timeout: float | None) -> Any:
    """The workflow's result. Its own failure becomes ``WorkflowFailed`` (exit 5);
    cancellation, dead-lettering, timeouts and not-found keep the client's errors."""
    try:
        return handle.get_result(timeout_seconds=timeout)
    except SerializationError as exc:
        # The stored error may be a class this process cannot import: still a failure
        # of the workflow, not of the client, if the workflow is in fact in ERROR.
        if handle.get_status().status != WorkflowStatusString.ERROR:
            raise
        raise WorkflowFailed(f"workflow {handle.workflow_id!r} failed (its error cannot be decoded: {exc})") from exc
    except DBOSClientError:
        raise  # cancelled, dead-lettered, timed out, not found: the client's own errors
    except Exception as exc:
        error = describe_error(exc)
        raise WorkflowFailed(f"workflow {handle.workflow_id!r} failed: {error['type']}: {error['message']}") from exc


def cmd_result(client: DBOSClient, args: argparse.Namespace) -> int:
    handle = client.retrieve_workflow(args.workflow_id)
    emit(await_result(client, handle, args.timeout))
    return EXIT_OK


def cmd_cancel(client: DBOSClient, args: argparse.Namespace) -> int:
    client.cancel_workflow(args.workflow_id, cancel_children=args.children)
    return EXIT_OK


def cmd_resume(client: DBOSClient, args: argparse.Namespace) -> int:
    client.resume_workflow(args.workflow_id, queue_name=args.queue)
    return EXIT_OK


def cmd_delete(client: DBOSClient, args: argparse.Namespace) -> int:
    client.delete_workflow(args.workflow_id, delete_children=args.children)
    return EXIT_OK


def cmd_list(client: DBOSClient, args: argparse.Namespace) -> int:
    statuses = client.list_workflows(
        workflow_ids=args.workflow_ids,
        status=args.status,
        name=args.name,
        queue_name=args.queue,
        start_time=args.created_after,
        end_time=args.created_before,
        app_version=args.app_version,
        limit=args.limit,
        offset=args.offset,
        sort_desc=args.sort_desc,
        load_input=args.load_input,
        load_output=args.load_output,
    )
    emit([status_json(s) for s in statuses])
    return EXIT_OK


def cmd_steps(client: DBOSClient, args: argparse.Namespace) -> int:
    steps = client.list_workflow_steps(
        args.workflow_id, load_output=not args.no_output, limit=args.limit, offset=args.offset
    )
    emit(list(steps))
    return EXIT_OK


# -- watch ----------------------------------------------------------------------------


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
    return min(done / total, 1.0)


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


def cmd_watch(client: DBOSClient, args: argparse.Namespace) -> int:
    handle = client.retrieve_workflow(args.workflow_id)  # not found -> exit 4 before drawing anything
    out = sys.stdout
    view = TerminalView(out, args.stream) if out.isatty() else PlainView(out, args.stream)
    follower = StreamFollower(client, args.workflow_id, args.stream) if args.stream else None
    try:
        while True:
            status = handle.get_status()
            # Read after the status: once it is final, the events read are final too.
            events = client.get_all_events(args.workflow_id)
            view.show(status, events, follower.take() if follower else [])
            if not status.is_active:
                break
            time.sleep(args.interval)
        if follower is not None:
            follower.finish(timeout=10)
            view.show(status, events, follower.take())
        # The status is final, so this returns at once, with the result's exit code.
        view.result(await_result(client, handle, timeout=None))
    finally:
        view.close()
    return EXIT_OK


# -- the parser ---------------------------------------------------------------------

#: Marks an optional argument that was not given (None can be a real JSON message).
_MISSING = object()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Talk to DBOS workflows through their system database: enqueue, signal, inspect, cancel.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--url", help=f"system database URL, postgresql://... or sqlite:///path (default: ${URL_ENV})")
    parser.add_argument("--schema", default="dbos", help="schema of the DBOS tables (default: dbos)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the client does (retries...) on stderr")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")

    # The same two options after the subcommand too ("dbos-client status ID --url ..."):
    # SUPPRESS keeps an absent one from overwriting what was given before it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    common.add_argument("--schema", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    subs = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, run: Callable[..., int], summary: str) -> argparse.ArgumentParser:
        sub = subs.add_parser(
            name, help=summary, description=summary, parents=[common],
            epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        )  # fmt: skip
        sub.set_defaults(run=run, parser=sub)
        return sub

    p = command("enqueue", cmd_enqueue, "Start a workflow on a queue; prints {\"workflow_id\": ...}.")
    p.add_argument("workflow_name", metavar="WORKFLOW_NAME")
    p.add_argument("--queue", required=True, help="queue name")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--args", type=json_array, metavar="JSON_ARRAY", help="positional arguments ('-': stdin)")
    source.add_argument("--args-file", type=json_array_file, metavar="FILE", help="the same, from a file ('-': stdin)")
    p.add_argument("--kwargs", type=json_object, metavar="JSON_OBJECT", help="keyword arguments")
    p.add_argument("--workflow-id", help="the workflow's id (default: a new UUID)")
    p.add_argument("--dedup-id", help="queue deduplication id")
    p.add_argument("--priority", type=int, help="queue priority (lower runs first)")
    p.add_argument("--app-version", help="only an application of this version may run it")
    p.add_argument("--timeout", type=positive_float, metavar="SECONDS", help="workflow timeout")
    p.add_argument("--delay", type=non_negative_float, metavar="SECONDS", help="start no earlier than this")
    p.add_argument("--portable", action="store_true", help="write portable JSON instead of pickle")

    p = command("send", cmd_send, "Send a message to a workflow (it receives it with DBOS.recv).")
    p.add_argument("workflow_id", metavar="WORKFLOW_ID")
    p.add_argument("message", nargs="?", type=json_value, default=_MISSING, metavar="MESSAGE_JSON",
                   help="the message ('-': stdin)")  # fmt: skip
    p.add_argument("--file", type=json_file, default=_MISSING, metavar="FILE",
                   help="read the message from a file ('-': stdin)")  # fmt: skip
    p.add_argument("--topic")
    p.add_argument("--idempotency-key", help="deliver once however often this is sent (safe to retry)")
    p.add_argument("--portable", action="store_true", help="write portable JSON instead of pickle")

    p = command("get-event", cmd_get_event, f"Print an event's latest value; exits {EXIT_TIMEOUT}, silently, if it has none.")
    p.add_argument("workflow_id", metavar="WORKFLOW_ID")
    p.add_argument("key", metavar="KEY")
    p.add_argument("--timeout", type=non_negative_float, default=60.0, metavar="SECONDS", help="default: 60")

    p = command("events", cmd_events, "Print every event of a workflow with its latest value.")
    p.add_argument("workflow_id", metavar="WORKFLOW_ID")

    p = command("stream", cmd_stream, "Print a stream's values, one JSON line each, as they arrive.")
    p.add_argument("workflow_id", metavar="WORKFLOW_ID")
    p.add_argument("key", metavar="KEY")
    p.add_argument("--offset", type=non_negative_int, default=0, help="start at this value (default: 0)")
    p.add_argument("--timeout", type=non_negative_float, metavar="SECONDS", help="longest wait for each value")

    p = command("status", cmd_status, "Print a workflow's status.")
    p.add_argument("workflow_id", metavar="WORKFLOW_ID")

    p = command("result", cmd_result, f"Print a workflow's result, waiting for it; exits {EXIT_WORKFLOW_FAILED} if it failed.")
    p.add_argument("workflow_id", metavar="WORKFLOW_ID")
    p.add_argument("--timeout", type=non_negative_float, metavar="SECONDS", help="default: wait forever")

    p = command("cancel", cmd_cancel, "Cancel a queued or running workflow.")
    p.add_argument("workflow_id", metavar="WORKFLOW_ID")
    p.add_argument("--children", action="store_true", help="cancel its child workflows too")

    p = command("resume", cmd_resume, "Resume a cancelled workflow from its last step.")
    p.add_argument("workflow_id", metavar="WORKFLOW_ID")
    p.add_argument("--queue", help="resume on this queue (default: DBOS's internal queue)")

    p = command("delete", cmd_delete, "Delete a workflow and everything it recorded.")
    p.add_argument("workflow_id", metavar="WORKFLOW_ID")
    p.add_argument("--children", action="store_true", help="delete its child workflows too")

    statuses = [v for k, v in vars(WorkflowStatusString).items() if k.isupper()]
    p = command("list", cmd_list, "List workflows, oldest first, as a JSON array.")
    p.add_argument("--status", action="extend", nargs="+", type=str.upper, choices=statuses, metavar="STATUS",
                   help="any of: " + ", ".join(statuses))  # fmt: skip
    p.add_argument("--name", help="workflow name")
    p.add_argument("--queue", help="queue name")
    p.add_argument("--workflow-id", dest="workflow_ids", action="extend", nargs="+", metavar="ID")
    p.add_argument("--created-after", type=iso_time, metavar="ISO", help="e.g. 2025-01-31T12:00:00Z")
    p.add_argument("--created-before", type=iso_time, metavar="ISO")
    p.add_argument("--app-version")
    p.add_argument("--limit", type=non_negative_int)
    p.add_argument("--offset", type=non_negative_int)
    p.add_argument("--sort-desc", action="store_true", help="newest first")
    p.add_argument("--load-input", action="store_true", help="include each workflow's input")
    p.add_argument("--load-output", action="store_true", help="include each workflow's output and error")

    p = command("steps", cmd_steps, "List a workflow's steps as a JSON array.")
    p.add_argument("workflow_id", metavar="WORKFLOW_ID")
    p.add_argument("--limit", type=non_negative_int)
    p.add_argument("--offset", type=non_negative_int)
    p.add_argument("--no-output", action="store_true", help="leave out each step's output")

    p = command("watch", cmd_watch, "Follow a workflow live until it ends; exits with its result's code.")
    p.add_argument("workflow_id", metavar="WORKFLOW_ID")
    p.add_argument("--interval", type=positive_float, default=0.5, metavar="SECONDS", help="poll every (default: 0.5)")
    p.add_argument("--stream", metavar="KEY", help="also print this stream's values as they arrive")

    return parser


# -- main ---------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns its exit code (argparse exits 2 itself on a usage error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    url = args.url or os.environ.get(URL_ENV)
    if not url:
        parser.error(f"no database URL: pass --url or set {URL_ENV}")
    handlers = _start_logging(args.verbose)
    try:
        with DBOSClient(system_database_url=url, dbos_system_schema=args.schema) as client:
            return int(args.run(client, args))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (``| head``). Point stdout at /dev/null so the
        # interpreter's final flush does not complain a second time.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_ERROR
    except Exception as exc:  # noqa: BLE001 - the CLI's last resort: one line, an exit code
        print(f"{PROG}: {_message(exc)}", file=sys.stderr, flush=True)
        return exit_code_for(exc)
    finally:
        _stop_logging(handlers)


class _OneLine(logging.Formatter):
    """``dbos-client: warning: <message>``: one line, like the errors, and no traceback."""

    def format(self, record: logging.LogRecord) -> str:
        return f"{PROG}: {record.levelname.lower()}: {' '.join(record.getMessage().split())}"


def _start_logging(verbose: bool) -> list[tuple[logging.Logger, logging.Handler, int]]:
    """Route library logging to stderr the CLI's way; returns what to undo.

    By default the client's warnings (a retry, an unknown queue) are shown, one line
    each, and psycopg's pool is silenced: its connection errors are multi-line and the
    final error message already says why the database could not be reached.
    ``--verbose`` shows everything, with times, the way a bug report needs it.
    """
    if verbose:
        handler: logging.Handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        plan = [("dbos_client", handler, logging.DEBUG), ("psycopg", handler, logging.DEBUG)]
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_OneLine())
        # A NullHandler stops logging's last-resort handler from printing psycopg's records.
        plan = [("dbos_client", handler, logging.WARNING), ("psycopg", logging.NullHandler(), logging.WARNING)]
    undo = []
    for name, h, level in plan:
        logger = logging.getLogger(name)
        undo.append((logger, h, logger.level))
        logger.addHandler(h)
        logger.setLevel(level)
    return undo


def _stop_logging(undo: list[tuple[logging.Logger, logging.Handler, int]]) -> None:
    for logger, handler, level in undo:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _message(exc: BaseException) -> str:
    """One line: the client's messages are written for people; others get their type."""
    if isinstance(exc, (DBOSClientError, WorkflowFailed)):
        text = str(exc)
    else:
        text = f"{type(exc).__name__}: {exc}"
    return " ".join(text.split()) or type(exc).__name__


if __name__ == "__main__":  # pragma: no cover - ``python -m dbos_client`` goes through __main__.py
    sys.exit(main())
