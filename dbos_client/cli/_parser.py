"""The argument parser: global options, and one entry per subcommand.

Each entry names the command, its function (``_commands``), its one-line summary, and its
arguments, typed by ``_args``. To add a subcommand, add its function to ``_commands`` and
one ``command(...)`` entry here.
"""

from __future__ import annotations

import argparse

from .. import __version__
from ..models import WorkflowStatusString
from . import _commands, _serve
from ._args import (
    MISSING,
    iso_time,
    json_array,
    json_array_file,
    json_file,
    json_object,
    json_value,
    non_negative_float,
    non_negative_int,
    positive_float,
)
from ._exits import (
    EXIT_ERROR,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_TIMEOUT,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    EXIT_WORKFLOW_FAILED,
)
from ._table import FORMATS

PROG = "dbos-client"
URL_ENV = "DBOS_SYSTEM_DATABASE_URL"

EPILOG = f"""\
exit codes:
  {EXIT_OK}  success
  {EXIT_ERROR}  any other error
  {EXIT_USAGE}  usage error: bad arguments, bad JSON, no database URL
  {EXIT_TIMEOUT}  timeout: get-event found no value, result or stream waited too long
  {EXIT_NOT_FOUND}  no workflow, queue, schedule or application version of this name
  {EXIT_WORKFLOW_FAILED}  the workflow ended in ERROR, was CANCELLED or dead-lettered
  {EXIT_UNAVAILABLE}  the system database is unreachable (after retries)

environment:
  {URL_ENV}  the system database URL, when --url is not given

Values printed on stdout are JSON: indented on a terminal, one line otherwise.
Errors are one line on stderr: "{PROG}: <message>".
"""


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

    def command(name: str, run: _commands.Command, summary: str) -> argparse.ArgumentParser:
        return add_command(subs, common, name, run, summary)

    p = command("enqueue", _commands.cmd_enqueue, "Start a workflow on a queue; prints {\"workflow_id\": ...}.")
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

    p = command("send", _commands.cmd_send, "Send a message to a workflow (it receives it with DBOS.recv).")
    p.add_argument("workflow_id", metavar="WORKFLOW_ID")
    p.add_argument("message", nargs="?", type=json_value, default=MISSING, metavar="MESSAGE_JSON",
                   help="the message ('-': stdin)")  # fmt: skip
    p.add_argument("--file", type=json_file, default=MISSING, metavar="FILE",
                   help="read the message from a file ('-': stdin)")  # fmt: skip
    p.add_argument("--topic")
    p.add_argument("--idempotency-key", help="deliver once however often this is sent (safe to retry)")
    p.add_argument("--portable", action="store_true", help="write portable JSON instead of pickle")

    p = command("get-event", _commands.cmd_get_event, f"Print an event's latest value; exits {EXIT_TIMEOUT}, silently, if it has none.")
    p.add_argument("workflow_id", metavar="WORKFLOW_ID")
    p.add_argument("key", metavar="KEY")
    p.add_argument("--timeout", type=non_negative_float, default=60.0, metavar="SECONDS", help="default: 60")

    p = command("events", _commands.cmd_events, "Print every event of a workflow with its latest value.")
    p.add_argument("workflow_id", metavar="WORKFLOW_ID")

    p = command("stream", _commands.cmd_stream, "Print a stream's values, one JSON line each, as they arrive.")
    p.add_argument("workflow_id", metavar="WORKFLOW_ID")
    p.add_argument("key", metavar="KEY")
    p.add_argument("--offset", type=non_negative_int, default=0, help="start at this value (default: 0)")
    p.add_argument("--timeout", type=non_negative_float, metavar="SECONDS", help="longest wait for each value")

    p = command("status", _commands.cmd_status, "Print a workflow's status.")
    p.add_argument("workflow_id", metavar="WORKFLOW_ID")

    p = command("result", _commands.cmd_result, f"Print a workflow's result, waiting for it; exits {EXIT_WORKFLOW_FAILED} if it failed.")
    p.add_argument("workflow_id", metavar="WORKFLOW_ID")
    p.add_argument("--timeout", type=non_negative_float, metavar="SECONDS", help="default: wait forever")

    p = command("cancel", _commands.cmd_cancel, "Cancel a queued or running workflow.")
    p.add_argument("workflow_id", metavar="WORKFLOW_ID")
    p.add_argument("--children", action="store_true", help="cancel its child workflows too")

    p = command("resume", _commands.cmd_resume, "Resume a cancelled workflow from its last step.")
    p.add_argument("workflow_id", metavar="WORKFLOW_ID")
    p.add_argument("--queue", help="resume on this queue (default: DBOS's internal queue)")

    p = command("delete", _commands.cmd_delete, "Delete a workflow and everything it recorded.")
    p.add_argument("workflow_id", metavar="WORKFLOW_ID")
    p.add_argument("--children", action="store_true", help="delete its child workflows too")

    statuses = [v for k, v in vars(WorkflowStatusString).items() if k.isupper()]
    p = command("list", _commands.cmd_list, "List workflows, oldest first, as a JSON array.")
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
    add_format(p)

    p = command("steps", _commands.cmd_steps, "List a workflow's steps as a JSON array.")
    p.add_argument("workflow_id", metavar="WORKFLOW_ID")
    add_format(p)
    p.add_argument("--limit", type=non_negative_int)
    p.add_argument("--offset", type=non_negative_int)
    p.add_argument("--no-output", action="store_true", help="leave out each step's output")

    p = command("watch", _commands.cmd_watch, "Follow a workflow live until it ends; exits with its result's code.")
    p.add_argument("workflow_id", metavar="WORKFLOW_ID")
    p.add_argument("--interval", type=positive_float, default=0.5, metavar="SECONDS", help="poll every (default: 0.5)")
    p.add_argument("--stream", metavar="KEY", help="also print this stream's values as they arrive")

    p = command("serve", _commands.cmd_watch, "Serve the HTTP gateway (events, messages, streams; needs the 'gateway' extra).")
    _serve.add_arguments(p)  # runs _serve.run, not a command on a sync client (main() sees args.serve)

    from ._parser_operator import add_operator_commands  # here: it uses add_command below

    add_operator_commands(subs, common)
    return parser


def add_command(
    subs: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser,
    name: str, run: _commands.Command, summary: str, aliases: tuple[str, ...] = (),
) -> argparse.ArgumentParser:  # fmt: skip
    """One subcommand: its function, its one-line summary, the options every command takes."""
    sub = subs.add_parser(
        name, help=summary, description=summary, parents=[common], aliases=list(aliases),
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    sub.set_defaults(run=run, parser=sub)
    return sub


def add_group(
    subs: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser,
    name: str, summary: str,
) -> argparse._SubParsersAction[argparse.ArgumentParser]:  # fmt: skip
    """A command with subcommands of its own (``queue list``): returns where to add them."""
    group = subs.add_parser(name, help=summary, description=summary, parents=[common])
    return group.add_subparsers(dest=f"{name}_command", metavar="COMMAND", required=True)


def add_format(p: argparse.ArgumentParser) -> None:
    """``--format table`` for a list command (``--output``: Temporal's name for it)."""
    p.add_argument("--format", "--output", dest="format", choices=FORMATS, default="json",
                   help="json (default: one array, for scripts) or table (for people)")  # fmt: skip
