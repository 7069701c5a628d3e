"""The operator commands of dbos-client without a database: parsing, usage errors, tables,
exit codes, and each command's calls on a fake client (what is checked before a write)."""

from __future__ import annotations

import argparse
import io
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from dbos_client import (
    ApplicationVersionNotFoundError,
    NameConflictError,
    Queue,
    ScheduleConflictError,
    ScheduleNotFoundError,
    WorkflowNotFoundError,
    cli,
)
from dbos_client.cli import _commands_operator as ops
from dbos_client.cli import _output, _table

URL = "postgresql://postgres@127.0.0.1:5432/never_connected"


PARSER = cli.build_parser()  # one for all: building it is most of a parse's cost


def parse(*argv: str) -> argparse.Namespace:
    return PARSER.parse_args(argv)


def usage_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exc:
        cli.main(["--url", URL, *argv])
    assert exc.value.code == cli.EXIT_USAGE
    captured = capsys.readouterr()
    assert captured.out == ""
    return captured.err


# -- parsing ----------------------------------------------------------------------------


def test_queue_arguments() -> None:
    r = parse(
        "queue", "register", "orders", "--concurrency", "10", "--worker-concurrency", "2", "--rate-limit", "50",
        "--rate-period", "1.5", "--partition-concurrency", "3", "--partition-worker-concurrency", "1",
        "--partition-rate-limit", "5", "--partition-rate-period", "2", "--polling-interval", "0.5",
        "--on-conflict", "never_update", "--application-name", "shop", "--url", URL,
    )  # fmt: skip
    assert (r.name, r.concurrency, r.worker_concurrency, r.rate_limit, r.rate_period) == ("orders", 10, 2, 50, 1.5)
    assert (r.partition_concurrency, r.partition_worker_concurrency, r.partition_rate_limit, r.partition_rate_period) == (3, 1, 5, 2.0)
    assert (r.polling_interval, r.on_conflict, r.application_name, r.url, r.run) == (
        0.5, "never_update", "shop", URL, ops.cmd_queue_register)  # fmt: skip
    d = parse("queue", "register", "q", "--global-concurrency", "4")
    assert (d.concurrency, d.polling_interval, d.on_conflict, d.application_name, d.rate_limit) == (4, 1.0, "always_update", None, None)
    ls = parse("queue", "list", "--application-name", "a", "b", "--application-name", "c", "--format", "table")
    assert (ls.application_names, ls.format, ls.run) == (["a", "b", "c"], "table", ops.cmd_queue_list)
    assert (parse("queue", "list").application_names, parse("queue", "list").format) == (None, "json")
    assert parse("queue", "get", "q").run == ops.cmd_queue_get and parse("queue", "delete", "q").run == ops.cmd_queue_delete


def test_fork_and_rewind_arguments() -> None:
    f = parse("fork", "w", "--step", "3", "--forked-workflow-id", "w2", "--application-version", "v2", "--queue", "q",
              "--partition-key", "p", "--timeout", "60", "--replacement-children", '{"c1": "c2"}')  # fmt: skip
    assert (f.workflow_id, f.step, f.forked_workflow_id, f.application_version, f.queue, f.partition_key) == (
        "w", 3, "w2", "v2", "q", "p")  # fmt: skip
    assert (f.timeout, f.replacement_children, f.run) == (60.0, {"c1": "c2"}, ops.cmd_fork)
    assert parse("fork", "w").step == 1 and parse("fork", "w", "-S", "2").step == 2  # dbos workflow fork's names
    assert parse("fork", "w", "--start-step", "4").step == 4
    r = parse("rewind", "w", "-S", "2", "--queue", "q", "--application-version", "v", "--partition-key", "p")
    assert (r.step, r.queue, r.application_version, r.partition_key, r.run) == (2, "q", "v", "p", ops.cmd_rewind)
    assert parse("rewind", "w").step is None  # the client's default (1)


def test_version_arguments() -> None:
    ls = parse("version", "list", "--application-name", "shop", "--format", "table")
    assert (ls.client_application_name, ls.format, ls.run) == ("shop", "table", ops.cmd_version_list)
    assert parse("version", "latest").client_application_name is None
    s = parse("version", "set-latest", "v7", "--application-name", "shop")
    assert (s.version_name, s.application_name, s.run) == ("v7", "shop", ops.cmd_version_set_latest)
    assert getattr(s, "client_application_name", None) is None  # the client itself acts as no application


def test_schedule_arguments() -> None:
    c = parse("schedule", "create", "nightly", "--workflow-name", "report", "--cron", "0 3 * * *", "--context",
              '{"region": "eu"}', "--class-name", "Reports", "--automatic-backfill", "--timezone", "Europe/Paris",
              "--queue", "q", "--application-name", "shop")  # fmt: skip
    assert (c.name, c.workflow_name, c.cron, c.context, c.class_name) == ("nightly", "report", "0 3 * * *", {"region": "eu"}, "Reports")
    assert (c.automatic_backfill, c.timezone, c.queue, c.application_name) == (True, "Europe/Paris", "q", "shop")
    # Temporal's names for the same flags.
    t = parse("schedule", "create", "n", "--workflow-type", "report", "--schedule", "* * * * *", "--time-zone", "UTC")
    assert (t.workflow_name, t.cron, t.timezone, t.context, t.automatic_backfill) == ("report", "* * * * *", "UTC", None, False)
    ls = parse("schedule", "list", "--status", "active", "--status", "PAUSED", "--workflow-name", "a", "b",
               "--prefix", "nightly-", "--name-prefix", "weekly-", "--application-name", "shop", "--output", "table")  # fmt: skip
    assert (ls.status, ls.workflow_names, ls.prefixes, ls.application_names, ls.format) == (
        ["ACTIVE", "PAUSED"], ["a", "b"], ["nightly-", "weekly-"], ["shop"], "table")  # fmt: skip
    b = parse("schedule", "backfill", "n", "--start", "2026-01-01T00:00:00", "--end-time", "2026-01-02T03:00:00+02:00")
    assert b.start == datetime(2026, 1, 1, tzinfo=timezone.utc)  # no offset: UTC
    assert b.end == datetime(2026, 1, 2, 1, tzinfo=timezone.utc)
    for command, run in (("get", ops.cmd_schedule_get), ("describe", ops.cmd_schedule_get), ("pause", ops.cmd_schedule_pause),
                         ("resume", ops.cmd_schedule_resume), ("unpause", ops.cmd_schedule_resume),
                         ("trigger", ops.cmd_schedule_trigger), ("delete", ops.cmd_schedule_delete)):  # fmt: skip
        assert (parse("schedule", command, "n").run, parse("schedule", command, "n").name) == (run, "n")


@pytest.mark.parametrize(
    "argv, named",
    [
        (["queue"], "required"),
        (["queue", "frobnicate"], "invalid choice"),
        (["queue", "register"], "QUEUE_NAME"),
        (["queue", "register", "q", "--concurrency", "-1"], "argument --concurrency/--global-concurrency: must be >= 0"),
        (["queue", "register", "q", "--partition-concurrency", "0"], "argument --partition-concurrency: must be >= 1"),
        (["queue", "register", "q", "--polling-interval", "0"], "argument --polling-interval: must be > 0"),
        (["queue", "register", "q", "--on-conflict", "update_if_latest_version"], "invalid choice"),
        (["queue", "list", "--format", "yaml"], "argument --format/--output: invalid choice"),
        (["fork", "w", "--step", "0"], "must be >= 1"),
        (["fork", "w", "--step", "two"], "not a number"),
        (["fork", "w", "--replacement-children", "[]"], "argument --replacement-children: must be a JSON object"),
        (["rewind"], "WORKFLOW_ID"),
        (["version", "set-latest"], "VERSION_NAME"),
        (["schedule", "create", "n", "--cron", "* * * * *"], "--workflow-name"),
        (["schedule", "create", "n", "--workflow-name", "w"], "--cron"),
        (["schedule", "create", "n", "--workflow-name", "w", "--cron", "* * * * *", "--context", "{x"],
         "argument --context: not valid JSON"),
        (["schedule", "list", "--status", "RUNNING"], "argument --status: invalid choice"),
        (["schedule", "backfill", "n", "--start", "yesterday", "--end", "2026-01-01"], "not an ISO 8601 time"),
        (["schedule", "backfill", "n", "--start", "2026-01-01"], "--end"),
        (["schedule", "pause"], "SCHEDULE_NAME"),
    ],
)  # fmt: skip
def test_usage_errors_exit_2_naming_the_argument(capsys: pytest.CaptureFixture[str], argv: list[str], named: str) -> None:
    assert named in usage_error(capsys, *argv)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["queue", "register", "q", "--rate-limit", "5"], "--rate-limit and --rate-period go together"),
        (["queue", "register", "q", "--rate-period", "5"], "--rate-limit and --rate-period go together"),
        (["queue", "register", "q", "--partition-rate-limit", "5"], "--partition-rate-limit and --partition-rate-period"),
        (["schedule", "backfill", "n", "--start", "2026-01-02", "--end", "2026-01-01"], "--start must be before --end"),
        (["schedule", "backfill", "n", "--start", "2026-01-01T01:00:00+01:00", "--end", "2026-01-01T00:00:00Z"],
         "--start must be before --end"),  # the same instant
    ],
)  # fmt: skip
def test_checks_across_arguments_are_usage_errors_before_any_call(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    # The URL names a database that does not exist: reaching it would be exit 6, not 2.
    assert message in usage_error(capsys, *argv)


def test_help_lists_the_operator_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    for command in ("queue", "fork", "rewind", "version", "schedule"):
        assert f"\n    {command} " in out
    assert "no workflow, queue, schedule or application version of this name" in out
    with pytest.raises(SystemExit):
        cli.main(["schedule", "--help"])
    out = capsys.readouterr().out
    for command in ("list", "get", "create", "pause", "resume", "trigger", "backfill", "delete"):
        assert f"\n    {command}" in out


# -- exit codes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "exc, code",
    [
        (cli.NotFound("no queue named 'q'"), cli.EXIT_NOT_FOUND),
        (ApplicationVersionNotFoundError("v"), cli.EXIT_NOT_FOUND),
        (NameConflictError("taken"), cli.EXIT_ERROR),
        (KeyError("a bug, not an answer"), cli.EXIT_ERROR),
        (ScheduleNotFoundError("no schedule"), cli.EXIT_NOT_FOUND),
        (ScheduleConflictError("taken"), cli.EXIT_ERROR),
    ],
)
def test_exit_codes(exc: BaseException, code: int) -> None:
    assert cli.exit_code_for(exc) == code


def test_not_found_message_is_the_clients_line() -> None:
    assert cli._message(cli.NotFound("no schedule named 'n'")) == "no schedule named 'n'"


# -- tables and records ---------------------------------------------------------------------


def test_render_table_aligns_columns() -> None:
    columns = (("NAME", _table.field("name")), ("N", _table.field("n")), ("NOTE", _table.field("note")))
    rows = [{"name": "a", "n": 10, "note": None}, {"name": "longer", "n": [1], "note": "two\nlines"}]
    assert _table.render_table(rows, columns) == [
        "NAME    N    NOTE",
        "a       10",
        "longer  [1]  two lines",
    ]
    assert _table.render_table([], columns) == ["NAME  N  NOTE"]  # the header alone: nothing listed


def test_cells() -> None:
    assert _table.epoch_ms(1769860800000) == "2026-01-31T12:00:00Z"
    assert (_table.epoch_ms(None), _table.epoch_ms("x"), _table.epoch_ms(True), _table.epoch_ms(1e30)) == ("", "x", "true", "1e+30")
    assert _table.rate({"limit": 50, "period": 1.5}) == "50/1.5s" and _table.rate({"limit": 5, "period": 60.0}) == "5/60s"
    assert (_table.rate(None), _table.cell(True), _table.cell({"a": 1})) == ("", "true", '{"a": 1}')


@dataclass
class Row:
    schedule_name: str
    context: Any


def test_record_json() -> None:
    queue = Queue("q", concurrency=4, limiter={"limit": 5, "period": 1.0})
    assert _output.record_json(queue) == {
        "name": "q", "concurrency": 4, "worker_concurrency": None, "limiter": {"limit": 5, "period": 1.0},
        "partition_concurrency": None, "partition_worker_concurrency": None, "partition_limiter": None,
        "polling_interval_sec": 1.0, "application_name": None,
    }  # fmt: skip
    version = {"version_id": "i", "version_name": "v", "version_timestamp": 1, "created_at": 2, "application_name": None}
    assert _output.record_json(version) == version
    assert _output.record_json(Row("n", {"t": (1, 2), "s": {3}})) == {"schedule_name": "n", "context": {"t": [1, 2], "s": "{3}"}}


def test_every_column_reads_its_rows_json() -> None:
    # Each table's columns against a row of its kind: every cell is text, none raises.
    queue = _output.record_json(Queue("q", limiter={"limit": 5, "period": 2.0}))
    version = {"version_id": "i", "version_name": "v1", "version_timestamp": 1769860800000, "created_at": 0, "application_name": "shop"}
    schedule = {"schedule_id": "s", "schedule_name": "n", "workflow_name": "report", "workflow_class_name": "Reports",
                "schedule": "0 3 * * *", "status": "PAUSED", "context": None, "last_fired_at": None,
                "automatic_backfill": False, "cron_timezone": None, "queue_name": None, "application_name": None}  # fmt: skip
    step = {"function_id": 1, "function_name": "s", "output": None, "error": {"type": "ValueError", "message": "m"},
            "child_workflow_id": None, "started_at_epoch_ms": 0, "completed_at_epoch_ms": None}  # fmt: skip
    assert _table.render_table([queue], _table.QUEUE_COLUMNS)[1].split() == ["q", "5/2s", "1.0s"]
    assert _table.render_table([version], _table.VERSION_COLUMNS)[1].split() == [
        "v1", "2026-01-31T12:00:00Z", "1970-01-01T00:00:00Z", "shop", "i"]  # fmt: skip
    assert _table.render_table([schedule], _table.SCHEDULE_COLUMNS)[1].split() == [
        "n", "PAUSED", "0", "3", "*", "*", "*", "UTC", "Reports.report"]  # fmt: skip
    assert _table.render_table([step], _table.STEP_COLUMNS)[1].split() == ["1", "s", "1970-01-01T00:00:00Z", "ValueError"]


# -- the commands on a fake client ----------------------------------------------------------


@dataclass
class Handle:
    workflow_id: str


class FakeClient:
    """Records calls; knows one queue and one schedule."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.schedules: dict[str, dict[str, Any]] = {"nightly": {"schedule_name": "nightly", "status": "ACTIVE"}}

    def __getattr__(self, name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, (args, kwargs)))
            return self.answers(name, *args, **kwargs)

        return call

    def answers(self, name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "retrieve_queue":
            return Queue("orders") if args[0] == "orders" else None
        if name == "get_schedule":
            return self.schedules.get(args[0])
        if name == "trigger_schedule":
            return Handle(f"sched-{args[0]}-now")
        if name == "backfill_schedule":
            return [Handle("b1"), Handle("b2")]
        if name == "list_schedules":
            return list(self.schedules.values())
        if name == "create_schedule":
            self.schedules[kwargs["schedule_name"]] = {"schedule_name": kwargs["schedule_name"], "status": "ACTIVE"}
        return None

    def written(self) -> list[str]:
        return [name for name, _ in self.calls if not name.startswith(("get_", "retrieve_", "list_"))]


def run(client: Any, *argv: str) -> int:
    args = parse(*argv)
    return int(args.run(client, args))


@pytest.mark.parametrize(
    "argv, check",
    [
        (["queue", "delete", "nope"], "no queue named 'nope'"),
        (["queue", "get", "nope"], "no queue named 'nope'"),
        (["schedule", "pause", "nope"], "no schedule named 'nope'"),
        (["schedule", "resume", "nope"], "no schedule named 'nope'"),
        (["schedule", "delete", "nope"], "no schedule named 'nope'"),
        (["schedule", "get", "nope"], "no schedule named 'nope'"),
    ],
)
def test_a_missing_name_is_exit_4_and_nothing_is_written(argv: list[str], check: str) -> None:
    client = FakeClient()
    with pytest.raises(cli.NotFound, match=check) as exc:
        run(client, *argv)
    assert cli.exit_code_for(exc.value) == cli.EXIT_NOT_FOUND
    assert client.written() == []


def test_schedule_commands_call_dbos_names(capsys: pytest.CaptureFixture[str]) -> None:
    client = FakeClient()
    assert run(client, "schedule", "pause", "nightly") == cli.EXIT_OK
    assert run(client, "schedule", "resume", "nightly") == cli.EXIT_OK
    assert capsys.readouterr().out == ""
    assert run(client, "schedule", "trigger", "nightly") == cli.EXIT_OK
    assert json.loads(capsys.readouterr().out) == {"workflow_id": "sched-nightly-now"}
    assert run(client, "schedule", "backfill", "nightly", "--start", "2026-01-01", "--end", "2026-01-02") == cli.EXIT_OK
    assert json.loads(capsys.readouterr().out) == ["b1", "b2"]
    assert run(client, "schedule", "create", "weekly", "--workflow-name", "report", "--cron", "0 3 * * 1") == cli.EXIT_OK
    assert json.loads(capsys.readouterr().out) == {"schedule_name": "weekly", "status": "ACTIVE"}
    assert client.written() == ["pause_schedule", "resume_schedule", "trigger_schedule", "backfill_schedule", "create_schedule"]
    calls = dict(client.calls)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert calls["backfill_schedule"] == (("nightly", start, start + timedelta(days=1)), {})
    assert calls["create_schedule"] == ((), {
        "schedule_name": "weekly", "workflow_name": "report", "schedule": "0 3 * * 1", "context": None,
        "workflow_class_name": None, "automatic_backfill": False, "cron_timezone": None, "queue_name": None,
        "application_name": None,
    })  # fmt: skip
    run(client, "schedule", "list", "--status", "paused", "--prefix", "n")
    assert client.calls[-1] == ("list_schedules", ((), {
        "status": ["PAUSED"], "workflow_name": None, "schedule_name_prefix": ["n"], "application_name": None}))  # fmt: skip


def test_queue_register_passes_the_limits(capsys: pytest.CaptureFixture[str]) -> None:
    client = FakeClient()
    client.answers = lambda name, *a, **k: Queue(a[0])  # type: ignore[method-assign]
    run(client, "queue", "register", "q", "--concurrency", "4", "--rate-limit", "5", "--rate-period", "2",
        "--partition-concurrency", "2")  # fmt: skip
    assert client.calls == [("register_queue", (("q",), {
        "global_concurrency": 4, "worker_concurrency": None, "limiter": {"limit": 5, "period": 2.0},
        "partition_concurrency": 2, "partition_worker_concurrency": None, "partition_limiter": None,
        "polling_interval_sec": 1.0, "on_conflict": "always_update", "application_name": None,
    }))]  # fmt: skip
    assert json.loads(capsys.readouterr().out)["name"] == "q"


def test_list_as_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    client = FakeClient()
    client.answers = lambda name, *a, **k: [Queue("orders", concurrency=4), Queue("mail")]  # type: ignore[method-assign]
    run(client, "queue", "list", "--format", "table")
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in lines] == [["NAME", "CONCURRENCY"], ["orders", "4"], ["mail", "1.0s"]]


def test_rewind_and_version_commands(capsys: pytest.CaptureFixture[str]) -> None:
    client = FakeClient()
    assert run(client, "rewind", "w", "--step", "2") == cli.EXIT_OK
    assert run(client, "version", "set-latest", "v2", "--application-name", "shop") == cli.EXIT_OK
    assert capsys.readouterr().out == ""
    assert client.calls == [
        ("rewind_workflow", (("w",), {"start_step": 2, "application_version": None, "queue_name": None,
                                      "queue_partition_key": None})),
        ("set_latest_application_version", (("v2",), {"application_name": "shop"})),
    ]  # fmt: skip


def test_unknown_workflow_for_fork_keeps_the_clients_error() -> None:
    class Missing(FakeClient):
        def answers(self, name: str, *args: Any, **kwargs: Any) -> Any:
            raise WorkflowNotFoundError(args[0])

    with pytest.raises(WorkflowNotFoundError) as exc:
        run(Missing(), "fork", "ghost")
    assert cli.exit_code_for(exc.value) == cli.EXIT_NOT_FOUND


def test_table_output_goes_to_the_given_stream() -> None:
    out = io.StringIO()
    _table.emit_rows([{"name": "q"}], "table", (("NAME", _table.field("name")),), out)
    _table.emit_rows([{"name": "q"}], "json", (("NAME", _table.field("name")),), out)
    assert out.getvalue() == 'NAME\nq\n[{"name": "q"}]\n'
