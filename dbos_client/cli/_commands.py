"""The subcommands: one small function each, ``(client, args) -> exit code``.

A command prints its answer with ``_output.emit`` and returns ``EXIT_OK``; a failure is an
exception, which ``main`` turns into one line on stderr and an exit code (``_exits``).
To add a subcommand, write its function here and give it one entry in ``_parser.build_parser``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

from ..client import DBOSClient, WorkflowHandle
from ..errors import DBOSClientError, SerializationError
from ..models import WorkflowStatusString
from ._args import MISSING
from ._exits import EXIT_OK, EXIT_TIMEOUT, WorkflowFailed
from ._output import compact, describe_error, emit, jsonable, status_json
from ._table import STEP_COLUMNS, WORKFLOW_COLUMNS, emit_rows
from ._watch import PlainView, StreamFollower, TerminalView

#: A subcommand: runs with the client and the parsed arguments, returns the exit code.
Command = Callable[[DBOSClient, argparse.Namespace], int]


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
    has_inline, has_file = args.message is not MISSING, args.file is not MISSING
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
    # One call tells a value (even None) from "not yet" and "never": exit 3 for both,
    # silently (documented: the exit code is the answer); an unknown workflow is exit 4.
    outcome = client._get_event_outcome(args.workflow_id, args.key, timeout_seconds=args.timeout)
    if outcome.kind != "value":
        return EXIT_TIMEOUT
    emit(outcome.value)
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
    emit_rows([status_json(s) for s in statuses], args.format, WORKFLOW_COLUMNS)
    return EXIT_OK


def cmd_steps(client: DBOSClient, args: argparse.Namespace) -> int:
    steps = client.list_workflow_steps(
        args.workflow_id, load_output=not args.no_output, limit=args.limit, offset=args.offset
    )
    emit_rows([jsonable(s) for s in steps], args.format, STEP_COLUMNS)
    return EXIT_OK


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
