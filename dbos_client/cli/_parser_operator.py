"""The operator's subcommands in the parser: ``queue``, ``fork``, ``rewind``, ``version``, ``schedule``.

Names follow ``dbos workflow ...`` (``--step``, ``--forked-workflow-id``,
``--application-version``, ``--application-name``) and Temporal's CLI (``schedule
pause|trigger|backfill``, ``--start-time``/``--end-time``, ``--workflow-type``,
``--time-zone``, ``--output`` are accepted as aliases), so an operator who knows either
finds the flags where expected. The functions are in ``_commands_operator``.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from . import _commands_operator as ops
from ._args import (
    iso_datetime,
    json_object,
    json_value,
    non_negative_int,
    positive_float,
    positive_int,
)
from ._parser import add_command, add_format, add_group

SCHEDULE_STATUSES = ("ACTIVE", "PAUSED")

if TYPE_CHECKING:
    Subs = argparse._SubParsersAction[argparse.ArgumentParser]


def add_operator_commands(subs: Subs, common: argparse.ArgumentParser) -> None:
    _queue_commands(add_group(subs, common, "queue", "Queues: list, get, register, delete."), common)
    _fork_and_rewind(subs, common)
    _version_commands(add_group(subs, common, "version", "Application versions: list, latest, set-latest."), common)
    _schedule_commands(
        add_group(subs, common, "schedule", "Cron schedules: list, get, create, pause, resume, trigger, backfill, delete."),
        common,
    )


def _name(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("name", metavar=f"{what.upper()}_NAME", help=f"the {what}'s name")


def _application_names(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--application-name", dest="application_names", action="extend", nargs="+", metavar="NAME",
                   help=f"{what} of these applications, and the unclaimed ones (default: all)")  # fmt: skip


def _queue_commands(subs: Subs, common: argparse.ArgumentParser) -> None:
    p = add_command(subs, common, "list", ops.cmd_queue_list, "List registered queues as a JSON array.")
    _application_names(p, "queues")
    add_format(p)

    p = add_command(subs, common, "get", ops.cmd_queue_get, "Print a queue's settings; exits 4 if there is no such queue.")
    _name(p, "queue")

    p = add_command(subs, common, "register", ops.cmd_queue_register,
                    "Create or update a queue, so the application polls it; prints it as stored.")  # fmt: skip
    _name(p, "queue")
    p.add_argument("--concurrency", "--global-concurrency", dest="concurrency", type=non_negative_int, metavar="N",
                   help="most of its workflows running at once, across all executors")  # fmt: skip
    p.add_argument("--worker-concurrency", type=non_negative_int, metavar="N", help="most running at once per executor")
    p.add_argument("--rate-limit", type=non_negative_int, metavar="COUNT", help="most started per --rate-period")
    p.add_argument("--rate-period", type=positive_float, metavar="SECONDS")
    p.add_argument("--partition-concurrency", type=positive_int, metavar="N", help="most running at once per partition")
    p.add_argument("--partition-worker-concurrency", type=positive_int, metavar="N",
                   help="most running at once per partition and executor")  # fmt: skip
    p.add_argument("--partition-rate-limit", type=non_negative_int, metavar="COUNT",
                   help="most started per partition per --partition-rate-period")  # fmt: skip
    p.add_argument("--partition-rate-period", type=positive_float, metavar="SECONDS")
    p.add_argument("--polling-interval", type=positive_float, default=1.0, metavar="SECONDS",
                   help="how often the application polls it (default: 1)")  # fmt: skip
    p.add_argument("--on-conflict", choices=("always_update", "never_update"), default="always_update",
                   help="if it exists: overwrite its settings (default) or leave them")  # fmt: skip
    p.add_argument("--application-name", metavar="NAME",
                   help="the application that polls it (default: none, every application polls it)")  # fmt: skip

    p = add_command(subs, common, "delete", ops.cmd_queue_delete,
                    "Delete a queue; its ENQUEUED workflows stay, and wait for it to be registered again.")  # fmt: skip
    _name(p, "queue")


def _fork_and_rewind(subs: Subs, common: argparse.ArgumentParser) -> None:
    p = add_command(subs, common, "fork", ops.cmd_fork,
                    "Start a copy of a workflow that replays its steps before --step; prints the fork's status.")  # fmt: skip
    p.add_argument("workflow_id", metavar="WORKFLOW_ID")
    p.add_argument("-S", "--step", "--start-step", dest="step", type=positive_int, default=1, metavar="N",
                   help="run again from this step; steps before it keep their recorded outputs (default: 1)")  # fmt: skip
    p.add_argument("--forked-workflow-id", metavar="ID", help="the fork's id (default: a new UUID)")
    p.add_argument("--application-version", metavar="VERSION", help="only this version may run it (default: the latest)")
    p.add_argument("--queue", help="run it on this queue (default: DBOS's internal queue)")
    p.add_argument("--partition-key", metavar="KEY", help="the queue partition to run it in")
    p.add_argument("--timeout", type=positive_float, metavar="SECONDS", help="workflow timeout")
    p.add_argument("--replacement-children", type=json_object, metavar="JSON_OBJECT",
                   help='child workflow ids to use instead, {"old id": "new id"}')  # fmt: skip

    p = add_command(subs, common, "rewind", ops.cmd_rewind,
                    "Run a finished workflow again, under its own id, from --step on.")  # fmt: skip
    p.add_argument("workflow_id", metavar="WORKFLOW_ID")
    p.add_argument("-S", "--step", "--start-step", dest="step", type=positive_int, metavar="N",
                   help="run again from this step (default: 1)")  # fmt: skip
    p.add_argument("--application-version", metavar="VERSION", help="only this version may run it")
    p.add_argument("--queue", help="run it on this queue (default: DBOS's internal queue)")
    p.add_argument("--partition-key", metavar="KEY", help="the queue partition to run it in")


def _version_commands(subs: Subs, common: argparse.ArgumentParser) -> None:
    acting = "as this application: its versions and the unclaimed ones (default: all versions)"
    p = add_command(subs, common, "list", ops.cmd_version_list, "List application versions, newest first.")
    p.add_argument("--application-name", dest="client_application_name", metavar="NAME", help=acting)
    add_format(p)

    p = add_command(subs, common, "latest", ops.cmd_version_latest,
                    "Print the latest application version (the one that runs unversioned work); exits 4 if none.")  # fmt: skip
    p.add_argument("--application-name", dest="client_application_name", metavar="NAME", help=acting)

    p = add_command(subs, common, "set-latest", ops.cmd_version_set_latest,
                    "Make a version the latest, so the application runs its work; exits 4 if no such version.")  # fmt: skip
    p.add_argument("version_name", metavar="VERSION_NAME")
    p.add_argument("--application-name", metavar="NAME",
                   help="act as this application (an unclaimed version is claimed by it)")  # fmt: skip


def _schedule_commands(subs: Subs, common: argparse.ArgumentParser) -> None:
    p = add_command(subs, common, "list", ops.cmd_schedule_list, "List schedules as a JSON array.")
    p.add_argument("--status", action="extend", nargs="+", type=str.upper, choices=SCHEDULE_STATUSES, metavar="STATUS",
                   help="any of: " + ", ".join(SCHEDULE_STATUSES))  # fmt: skip
    p.add_argument("--workflow-name", dest="workflow_names", action="extend", nargs="+", metavar="NAME")
    p.add_argument("--prefix", "--name-prefix", dest="prefixes", action="extend", nargs="+", metavar="PREFIX",
                   help="schedule names starting with any of these")  # fmt: skip
    _application_names(p, "schedules")
    add_format(p)

    p = add_command(subs, common, "get", ops.cmd_schedule_get,
                    "Print a schedule; exits 4 if there is no such schedule.", aliases=("describe",))  # fmt: skip
    _name(p, "schedule")

    p = add_command(subs, common, "create", ops.cmd_schedule_create,
                    "Create a schedule that starts a workflow on a cron; prints it as stored.")  # fmt: skip
    _name(p, "schedule")
    p.add_argument("--workflow-name", "--workflow-type", dest="workflow_name", required=True, metavar="NAME",
                   help="the workflow to start; it is called with (scheduled time, context)")  # fmt: skip
    p.add_argument("--cron", "--schedule", dest="cron", required=True, metavar="EXPRESSION",
                   help="a cron expression, 5 fields, or 6 with seconds first ('*/10 * * * * *')")  # fmt: skip
    p.add_argument("--context", type=json_value, metavar="JSON", help="passed to every run ('-': stdin)")
    p.add_argument("--class-name", metavar="NAME", help="the class of a static or class method workflow")
    p.add_argument("--automatic-backfill", action="store_true",
                   help="when the application starts, run the times it missed while down")  # fmt: skip
    p.add_argument("--timezone", "--time-zone", dest="timezone", metavar="IANA_NAME",
                   help="evaluate the cron in this zone, e.g. Europe/Paris (default: UTC)")  # fmt: skip
    p.add_argument("--queue", help="start its workflows on this queue (default: DBOS's internal queue)")
    p.add_argument("--application-name", metavar="NAME",
                   help="the application that runs it (default: none, every application runs it)")  # fmt: skip

    p = add_command(subs, common, "pause", ops.cmd_schedule_pause, "Pause a schedule: it stops firing until resumed.")
    _name(p, "schedule")
    p = add_command(subs, common, "resume", ops.cmd_schedule_resume, "Resume a paused schedule.", aliases=("unpause",))
    _name(p, "schedule")

    p = add_command(subs, common, "trigger", ops.cmd_schedule_trigger,
                    'Start the schedule\'s workflow now; prints {"workflow_id": ...}.')  # fmt: skip
    _name(p, "schedule")

    p = add_command(subs, common, "backfill", ops.cmd_schedule_backfill,
                    "Start the runs the schedule would have made between two times; prints the id of "
                    "each. A run that already exists is not started again, so it is safe to repeat.")  # fmt: skip
    _name(p, "schedule")
    p.add_argument("--start", "--start-time", dest="start", type=iso_datetime, required=True, metavar="ISO",
                   help="from this time, excluded (no offset: UTC)")  # fmt: skip
    p.add_argument("--end", "--end-time", dest="end", type=iso_datetime, required=True, metavar="ISO",
                   help="to this time, excluded (no offset: UTC)")  # fmt: skip

    p = add_command(subs, common, "delete", ops.cmd_schedule_delete, "Delete a schedule; its past runs stay.")
    _name(p, "schedule")
