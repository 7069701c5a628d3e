"""The operator's subcommands: queues, fork and rewind, application versions, schedules.

Same contract as ``_commands``: ``(client, args) -> exit code``, the answer printed as JSON
(``--format table`` for the lists), a failure raised for ``main`` to turn into one line on
stderr and an exit code. A name that does not exist is ``NotFound`` (exit 4), checked
before anything is written: ``pause`` of a mistyped schedule must not look like success.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, TypeVar

from ..client import DBOSClient
from ..models import Queue, WorkflowSchedule
from ._exits import EXIT_OK, NotFound
from ._output import emit, record_json, status_json
from ._table import QUEUE_COLUMNS, SCHEDULE_COLUMNS, VERSION_COLUMNS, emit_rows

_T = TypeVar("_T")

# -- queues -----------------------------------------------------------------------------


def _existing(lookup: Callable[[str], _T | None], what: str, name: str) -> _T:
    """What ``lookup`` finds under ``name``, or ``NotFound`` (exit 4) naming the missing ``what``."""
    found = lookup(name)
    if found is None:
        raise NotFound(f"no {what} named {name!r}")
    return found


def _queue(client: DBOSClient, name: str) -> Queue:
    return _existing(client.retrieve_queue, "queue", name)


def cmd_queue_list(client: DBOSClient, args: argparse.Namespace) -> int:
    queues = client.list_queues(application_name=args.application_names)
    emit_rows([record_json(q) for q in queues], args.format, QUEUE_COLUMNS)
    return EXIT_OK


def cmd_queue_get(client: DBOSClient, args: argparse.Namespace) -> int:
    emit(record_json(_queue(client, args.name)))
    return EXIT_OK


def _rate_limit(args: argparse.Namespace, prefix: str) -> dict[str, Any] | None:
    limit, period = getattr(args, f"{prefix}rate_limit"), getattr(args, f"{prefix}rate_period")
    if (limit is None) != (period is None):
        flag = prefix.replace("_", "-")
        args.parser.error(f"--{flag}rate-limit and --{flag}rate-period go together: give both or neither")
    return None if limit is None else {"limit": limit, "period": period}


def cmd_queue_register(client: DBOSClient, args: argparse.Namespace) -> int:
    limiter, partition_limiter = _rate_limit(args, ""), _rate_limit(args, "partition_")
    queue = client.register_queue(
        args.name,
        global_concurrency=args.concurrency,
        worker_concurrency=args.worker_concurrency,
        limiter=limiter,  # type: ignore[arg-type]
        partition_concurrency=args.partition_concurrency,
        partition_worker_concurrency=args.partition_worker_concurrency,
        partition_limiter=partition_limiter,  # type: ignore[arg-type]
        polling_interval_sec=args.polling_interval,
        on_conflict=args.on_conflict,
        application_name=args.application_name,
    )
    emit(record_json(queue))
    return EXIT_OK


def cmd_queue_delete(client: DBOSClient, args: argparse.Namespace) -> int:
    _queue(client, args.name)
    client.delete_queue(args.name)
    return EXIT_OK


# -- fork and rewind ----------------------------------------------------------------------


def cmd_fork(client: DBOSClient, args: argparse.Namespace) -> int:
    handle = client.fork_workflow(
        args.workflow_id,
        args.step,
        forked_workflow_id=args.forked_workflow_id,
        application_version=args.application_version,
        queue_name=args.queue,
        queue_partition_key=args.partition_key,
        timeout_seconds=args.timeout,
        replacement_children=args.replacement_children,
    )
    # The fork's status, as ``dbos workflow fork`` prints it: its id is "workflow_id".
    emit(status_json(handle.get_status()))
    return EXIT_OK


def cmd_rewind(client: DBOSClient, args: argparse.Namespace) -> int:
    client.rewind_workflow(
        args.workflow_id,
        start_step=args.step,
        application_version=args.application_version,
        queue_name=args.queue,
        queue_partition_key=args.partition_key,
    )
    return EXIT_OK


# -- application versions ----------------------------------------------------------------


def cmd_version_list(client: DBOSClient, args: argparse.Namespace) -> int:
    versions = client.list_application_versions()
    emit_rows([record_json(v) for v in versions], args.format, VERSION_COLUMNS)
    return EXIT_OK


def cmd_version_latest(client: DBOSClient, args: argparse.Namespace) -> int:
    emit(record_json(client.get_latest_application_version()))
    return EXIT_OK


def cmd_version_set_latest(client: DBOSClient, args: argparse.Namespace) -> int:
    client.set_latest_application_version(args.version_name, application_name=args.application_name)
    return EXIT_OK


# -- schedules ------------------------------------------------------------------------------


def _schedule(client: DBOSClient, name: str) -> WorkflowSchedule:
    return _existing(client.get_schedule, "schedule", name)


def cmd_schedule_list(client: DBOSClient, args: argparse.Namespace) -> int:
    schedules = client.list_schedules(
        status=args.status,
        workflow_name=args.workflow_names,
        schedule_name_prefix=args.prefixes,
        application_name=args.application_names,
    )
    emit_rows([record_json(s) for s in schedules], args.format, SCHEDULE_COLUMNS)
    return EXIT_OK


def cmd_schedule_get(client: DBOSClient, args: argparse.Namespace) -> int:
    emit(record_json(_schedule(client, args.name)))
    return EXIT_OK


def cmd_schedule_create(client: DBOSClient, args: argparse.Namespace) -> int:
    client.create_schedule(
        schedule_name=args.name,
        workflow_name=args.workflow_name,
        schedule=args.cron,
        context=args.context,
        workflow_class_name=args.class_name,
        automatic_backfill=args.automatic_backfill,
        cron_timezone=args.timezone,
        queue_name=args.queue,
        application_name=args.application_name,
    )
    emit(record_json(_schedule(client, args.name)))
    return EXIT_OK


def cmd_schedule_pause(client: DBOSClient, args: argparse.Namespace) -> int:
    _schedule(client, args.name)
    client.pause_schedule(args.name)
    return EXIT_OK


def cmd_schedule_resume(client: DBOSClient, args: argparse.Namespace) -> int:
    _schedule(client, args.name)
    client.resume_schedule(args.name)
    return EXIT_OK


def cmd_schedule_delete(client: DBOSClient, args: argparse.Namespace) -> int:
    _schedule(client, args.name)
    client.delete_schedule(args.name)
    return EXIT_OK


def cmd_schedule_trigger(client: DBOSClient, args: argparse.Namespace) -> int:
    handle = client.trigger_schedule(args.name)
    emit({"workflow_id": handle.workflow_id})
    return EXIT_OK


def cmd_schedule_backfill(client: DBOSClient, args: argparse.Namespace) -> int:
    if args.start >= args.end:
        args.parser.error("--start must be before --end")
    handles = client.backfill_schedule(args.name, args.start, args.end)
    emit([h.workflow_id for h in handles])
    return EXIT_OK
