"""The dbos-client command line without a database: parsing, JSON in and out, exit codes, rendering."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
from typing import Any

import pytest

from dbos_client import (
    DatabaseUnavailableError,
    DBOSClientError,
    DeduplicatedError,
    InvalidArgumentError,
    MaxRecoveryAttemptsExceededError,
    PortableWorkflowError,
    ResultTimeoutError,
    SerializationError,
    StreamTimeoutError,
    WorkflowCancelledError,
    WorkflowNotFoundError,
    WorkflowStatus,
    cli,
)
from dbos_client._ops import EventOutcome
from dbos_client.cli import _args, _commands, _output, _watch

URL = "postgresql://postgres@127.0.0.1:5432/never_connected"


def parse(*argv: str) -> argparse.Namespace:
    return cli.build_parser().parse_args(argv)


def usage_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run main() on argv, expect argparse's usage error (exit 2), return stderr."""
    with pytest.raises(SystemExit) as exc:
        cli.main(list(argv))
    assert exc.value.code == cli.EXIT_USAGE
    return capsys.readouterr().err


# -- parsing --------------------------------------------------------------------------


def test_enqueue_arguments() -> None:
    args = parse(
        "--url", URL, "enqueue", "checkout", "--queue", "orders", "--args", '["A-17", 42.5]',
        "--kwargs", '{"rush": true}', "--workflow-id", "w1", "--dedup-id", "d1", "--priority", "3",
        "--app-version", "v7", "--timeout", "60", "--delay", "1.5", "--portable",
    )  # fmt: skip
    assert (args.workflow_name, args.queue, args.args, args.kwargs) == ("checkout", "orders", ["A-17", 42.5], {"rush": True})
    assert (args.workflow_id, args.dedup_id, args.priority, args.app_version) == ("w1", "d1", 3, "v7")
    assert (args.timeout, args.delay, args.portable, args.run) == (60.0, 1.5, True, _commands.cmd_enqueue)


def test_enqueue_args_from_a_file_and_stdin(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "args.json"
    f.write_text('[1, {"a": null}]')
    assert parse("enqueue", "wf", "--queue", "q", "--args-file", str(f)).args_file == [1, {"a": None}]
    monkeypatch.setattr(sys, "stdin", io.StringIO("[2]"))
    assert parse("enqueue", "wf", "--queue", "q", "--args-file", "-").args_file == [2]
    monkeypatch.setattr(sys, "stdin", io.StringIO("[3]"))
    assert parse("enqueue", "wf", "--queue", "q", "--args", "-").args == [3]


def test_url_and_schema_before_or_after_the_command() -> None:
    before = parse("--url", URL, "--schema", "s1", "status", "w")
    after = parse("status", "w", "--url", URL, "--schema", "s1")
    assert (before.url, before.schema) == (after.url, after.schema) == (URL, "s1")
    assert parse("status", "w").schema == "dbos" and parse("status", "w").url is None
    assert parse("--url", URL, "status", "w").url == URL  # not overwritten by the command's own default


def test_send_message_positional_file_or_stdin(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    args = parse("send", "w", '{"cancel": true}', "--topic", "cancel", "--idempotency-key", "k")
    assert (args.message, args.topic, args.idempotency_key, args.file) == ({"cancel": True}, "cancel", "k", _args.MISSING)
    assert parse("send", "w", "null").message is None  # None is a message, not "no message"
    f = tmp_path / "m.json"
    f.write_text('"hi"')
    assert parse("send", "w", "--file", str(f)).file == "hi"
    monkeypatch.setattr(sys, "stdin", io.StringIO("[1, 2]"))
    assert parse("send", "w", "-").message == [1, 2]


def test_send_needs_exactly_one_message(capsys: pytest.CaptureFixture[str], tmp_path: Any) -> None:
    # The check runs after parsing but before connecting: no database is needed to fail.
    assert "exactly one" in usage_error(capsys, "--url", URL, "send", "w")
    f = tmp_path / "m.json"
    f.write_text("1")
    assert "exactly one" in usage_error(capsys, "--url", URL, "send", "w", "2", "--file", str(f))


def test_list_arguments() -> None:
    args = parse(
        "list", "--status", "error", "PENDING", "--status", "SUCCESS", "--name", "echo", "--queue", "q",
        "--workflow-id", "a", "b", "--created-after", "2026-01-31T12:00:00Z", "--created-before", "2026-02-01",
        "--app-version", "v", "--limit", "5", "--offset", "1", "--sort-desc", "--load-input",
    )  # fmt: skip
    assert args.status == ["ERROR", "PENDING", "SUCCESS"]
    assert args.workflow_ids == ["a", "b"]
    assert (args.created_after, args.created_before) == ("2026-01-31T12:00:00Z", "2026-02-01")
    assert (args.limit, args.offset, args.sort_desc, args.load_input, args.load_output) == (5, 1, True, True, False)
    defaults = parse("list")
    assert (defaults.status, defaults.workflow_ids, defaults.limit, defaults.load_input, defaults.load_output) == (
        None, None, None, False, False)  # fmt: skip


def test_other_commands() -> None:
    assert parse("get-event", "w", "k").timeout == 60.0
    assert parse("get-event", "w", "k", "--timeout", "0.5").timeout == 0.5
    s = parse("stream", "w", "log", "--offset", "3", "--timeout", "2")
    assert (s.key, s.offset, s.timeout) == ("log", 3, 2.0)
    assert parse("result", "w").timeout is None
    assert parse("cancel", "w", "--children").children and not parse("cancel", "w").children
    assert parse("delete", "w", "--children").children
    assert parse("resume", "w", "--queue", "q").queue == "q"
    st = parse("steps", "w", "--limit", "2", "--offset", "1", "--no-output")
    assert (st.limit, st.offset, st.no_output) == (2, 1, True)
    w = parse("watch", "w", "--stream", "log", "--interval", "0.1")
    assert (w.interval, w.stream) == (0.1, "log") and parse("watch", "w").interval == 0.5


@pytest.mark.parametrize(
    "argv, named",
    [
        (["enqueue", "wf", "--queue", "q", "--args", "[1,"], "argument --args: not valid JSON"),
        (["enqueue", "wf", "--queue", "q", "--args", '{"a": 1}'], "argument --args: must be a JSON array"),
        (["enqueue", "wf", "--queue", "q", "--kwargs", "[1]"], "argument --kwargs: must be a JSON object"),
        (["enqueue", "wf", "--queue", "q", "--kwargs", "{a: 1}"], "argument --kwargs: not valid JSON"),
        (["enqueue", "wf", "--queue", "q", "--args-file", "/nonexistent/args.json"], "argument --args-file: cannot read"),
        (["enqueue", "wf"], "--queue"),
        (["send", "w", "{'single': 'quotes'}"], "argument MESSAGE_JSON: not valid JSON"),
        (["send", "w", "--file", "/nonexistent/m.json"], "argument --file: cannot read"),
        (["get-event", "w", "k", "--timeout", "-1"], "argument --timeout: must be >= 0"),
        (["get-event", "w", "k", "--timeout", "soon"], "argument --timeout: not a number"),
        (["watch", "w", "--interval", "0"], "argument --interval: must be > 0"),
        (["stream", "w", "k", "--offset", "-2"], "argument --offset: must be >= 0"),
        (["list", "--status", "RUNNING"], "argument --status: invalid choice"),
        (["list", "--created-after", "yesterday"], "argument --created-after: not an ISO 8601 time"),
        (["list", "--limit", "ten"], "argument --limit: not a number"),
        (["frobnicate"], "invalid choice"),
        ([], "required"),
    ],
)
def test_usage_errors_exit_2_naming_the_argument(capsys: pytest.CaptureFixture[str], argv: list[str], named: str) -> None:
    assert named in usage_error(capsys, "--url", URL, *argv)


def test_args_and_args_file_exclude_each_other(capsys: pytest.CaptureFixture[str], tmp_path: Any) -> None:
    f = tmp_path / "args.json"
    f.write_text("[1]")
    err = usage_error(capsys, "--url", URL, "enqueue", "wf", "--queue", "q", "--args", "[]", "--args-file", str(f))
    assert "argument --args-file: not allowed with argument --args" in err


def test_missing_url_is_a_usage_error(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DBOS_SYSTEM_DATABASE_URL", raising=False)
    assert "DBOS_SYSTEM_DATABASE_URL" in usage_error(capsys, "status", "w")


def test_a_url_the_client_refuses_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    # The client validates the URL before connecting, and redacts it in its message.
    code = cli.main(["--url", "mysql://root:hunter2@db/x", "status", "w"])
    err = capsys.readouterr().err
    assert code == cli.EXIT_USAGE
    assert err.startswith("dbos-client: ") and err.count("\n") == 1 and "hunter2" not in err


def test_url_from_the_environment(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBOS_SYSTEM_DATABASE_URL", "mysql://h/x")
    assert cli.main(["status", "w"]) == cli.EXIT_USAGE  # it was read: the client refused it
    assert "mysql" in capsys.readouterr().err


def test_help_lists_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for code in (cli.EXIT_OK, cli.EXIT_ERROR, cli.EXIT_USAGE, cli.EXIT_TIMEOUT, cli.EXIT_NOT_FOUND,
                 cli.EXIT_WORKFLOW_FAILED, cli.EXIT_UNAVAILABLE):  # fmt: skip
        assert f"\n  {code}  " in out
    for command in ("enqueue", "send", "get-event", "events", "stream", "status", "result", "cancel",
                    "resume", "delete", "list", "steps", "watch"):  # fmt: skip
        assert command in out


def test_version_and_module_entry_point() -> None:
    # ``python -m dbos_client`` is the same program; --version needs no database.
    done = subprocess.run([sys.executable, "-m", "dbos_client", "--version"], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout.strip()) == (0, f"dbos-client {cli.__version__}")


def test_the_module_imports_nothing_heavy() -> None:
    code = "import sys, dbos_client.cli; print(sorted(m for m in ('dbos', 'sqlalchemy', 'tenacity', 'psycopg_pool') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[]", done.stderr


# -- exit codes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "exc, code",
    [
        (ResultTimeoutError("t"), cli.EXIT_TIMEOUT),
        (StreamTimeoutError("t"), cli.EXIT_TIMEOUT),
        (WorkflowNotFoundError("w"), cli.EXIT_NOT_FOUND),
        (cli.WorkflowFailed("f"), cli.EXIT_WORKFLOW_FAILED),
        (WorkflowCancelledError("c"), cli.EXIT_WORKFLOW_FAILED),
        (MaxRecoveryAttemptsExceededError("m"), cli.EXIT_WORKFLOW_FAILED),
        (DatabaseUnavailableError("d"), cli.EXIT_UNAVAILABLE),
        (InvalidArgumentError("i"), cli.EXIT_USAGE),
        (DeduplicatedError("d"), cli.EXIT_ERROR),
        (SerializationError("s"), cli.EXIT_ERROR),
        (DBOSClientError("x"), cli.EXIT_ERROR),
        (RuntimeError("r"), cli.EXIT_ERROR),
    ],
)
def test_exit_code_mapping(exc: BaseException, code: int) -> None:
    assert cli.exit_code_for(exc) == code


def test_error_messages_are_one_line() -> None:
    assert cli._message(WorkflowNotFoundError("w1")) == "No workflow with id 'w1' exists."
    assert cli._message(RuntimeError("two\nlines")) == "RuntimeError: two lines"
    assert cli._message(KeyError()) == "KeyError:"


# -- JSON out ------------------------------------------------------------------------


class Opaque:
    def __repr__(self) -> str:
        return "Opaque()"


def test_jsonable() -> None:
    value = {"t": (1, 2), "s": {3}, "o": Opaque(), 1: None, None: [float("nan"), 1.5], (1, 2): "k", "e": KeyError("k")}
    assert _output.jsonable(value) == {
        "t": [1, 2], "s": "{3}", "o": "Opaque()", "1": None, "null": ["nan", 1.5], "(1, 2)": "k",
        "e": {"type": "KeyError", "message": "'k'"},
    }  # fmt: skip
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    json.dumps(_output.jsonable(cyclic))  # does not recurse forever


def test_describe_error() -> None:
    assert _output.describe_error(ValueError("boom")) == {"type": "ValueError", "message": "boom"}
    app_error = type("AppError", (Exception,), {"__module__": "app.errors"})
    assert _output.describe_error(app_error("x")) == {"type": "app.errors.AppError", "message": "x"}
    assert _output.describe_error(PortableWorkflowError("late", "TimeoutError")) == {"type": "TimeoutError", "message": "late"}


def test_status_json_has_every_field() -> None:
    status = WorkflowStatus(
        workflow_id="w", status="ERROR", name="fail", input={"args": (1,), "kwargs": {}}, error=ValueError("boom"),
        output=Opaque(),
    )  # fmt: skip
    out = _output.status_json(status)
    assert list(out) == [f for f in WorkflowStatus.__dataclass_fields__]
    assert out["input"] == {"args": [1], "kwargs": {}}
    assert out["error"] == {"type": "ValueError", "message": "boom"}
    assert out["output"] == "Opaque()"
    json.dumps(out)


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_emit_indents_for_a_terminal_only() -> None:
    pipe, tty = io.StringIO(), FakeTTY()
    _output.emit({"a": [1]}, pipe)
    _output.emit({"a": [1]}, tty)
    assert pipe.getvalue() == '{"a": [1]}\n'
    assert tty.getvalue() == '{\n  "a": [\n    1\n  ]\n}\n'


# -- watch rendering ------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, fraction",
    [
        (0.25, 0.25), (1.0, 1.0), (0, 0.0), (0.0, 0.0), (1, 0.01), (50, 0.5), (100, 1.0), (42.5, 0.425),
        (101, None), (-1, None), (float("nan"), None), (True, None), ("50", None), (None, None),
        ({"done": 3, "total": 4}, 0.75), ({"done": 5, "total": 4}, 1.0), ({"done": 1, "total": 0}, None),
        ({"done": 1}, None), ({"done": "1", "total": 2}, None), ([1, 4], 0.25), ((2, 2), 1.0), ([1, 2, 3], None),
        ([True, 2], None), ({"count": 3}, None),
    ],
)  # fmt: skip
def test_progress_fraction(value: Any, fraction: Any) -> None:
    assert _watch.progress_fraction(value) == fraction


def test_render_progress_bar() -> None:
    assert _watch.render_progress_bar(0.0, 10) == "[----------]   0%"
    assert _watch.render_progress_bar(0.3, 10) == "[###-------]  30%"
    assert _watch.render_progress_bar(1.0, 10) == "[##########] 100%"
    assert _watch.render_progress_bar(2.0, 4) == "[####] 100%"  # clamped


def _status(state: str = "PENDING", **kw: Any) -> WorkflowStatus:
    return WorkflowStatus(workflow_id="wf-1", status=state, name="publish_events", created_at=1_000, updated_at=3_500, **kw)


def test_render_block() -> None:
    events = {"progress": {"done": 1, "total": 4}, "pct": 50, "done": {"count": 4}}
    lines = _watch.render_block(_status(), events, width=80, now_ms=2_000)
    assert lines == [
        "PENDING  1.0s  wf-1  publish_events",
        "  done      {\"count\": 4}",
        "  pct       [##########----------]  50%",
        "  progress  [#####---------------]  25%  {\"done\": 1, \"total\": 4}",
    ]
    # Finished: the elapsed time stops at the last update; the status is coloured if asked.
    final = _watch.render_block(_status("SUCCESS"), {}, width=80, now_ms=99_000, color=True)
    assert final == ["\x1b[32mSUCCESS\x1b[0m  2.5s  wf-1  publish_events"]


def test_render_block_never_wraps() -> None:
    lines = _watch.render_block(_status(), {"k": "x" * 500}, width=30, now_ms=2_000)
    assert all(len(line) < 30 for line in lines)


def test_plain_view_prints_changes_only() -> None:
    out = io.StringIO()
    view = _watch.PlainView(out, "log")
    view.show(_status("ENQUEUED"), {}, [])
    view.show(_status(), {"progress": 0}, ["first"])
    view.show(_status(), {"progress": 0}, [])
    view.show(_status(), {"progress": 1}, [{"n": 2}])
    view.show(_status("SUCCESS"), {"progress": 1, "done": True}, [])
    view.result(3)
    assert out.getvalue().splitlines() == [
        "status ENQUEUED",
        "status PENDING", "event progress 0", 'stream log: "first"',
        "event progress 1", 'stream log: {"n": 2}',
        "status SUCCESS", "event done true",
        "result 3",
    ]  # fmt: skip


def test_terminal_view_redraws_in_place(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    out = FakeTTY()
    view = _watch.TerminalView(out, "log")
    view.show(_status(), {"progress": 0.5}, [])
    view.show(_status(), {"progress": 0.75}, ["line 1"])
    view.close()
    text = out.getvalue()
    assert text.startswith(_watch.TerminalView.HIDE_CURSOR) and text.endswith(_watch.TerminalView.SHOW_CURSOR)
    first, second = text[len(_watch.TerminalView.HIDE_CURSOR) :].split("\x1b[2F\x1b[J")  # up 2 lines, erase below
    assert "[##########----------]  50%" in first
    # The stream line is printed above the redrawn block, where it stays.
    assert second.startswith('log: "line 1"\nPENDING') and "75%" in second


# -- get-event: one outcome, one exit code ------------------------------------------------


class OutcomeClient:
    """Stands in for DBOSClient: answers get-event with a fixed outcome, and counts the calls."""

    def __init__(self, outcome: Any) -> None:
        self.outcome, self.calls = outcome, 0

    def _get_event_outcome(self, workflow_id: str, key: str, timeout_seconds: float) -> Any:
        self.calls += 1
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome


@pytest.mark.parametrize(
    "outcome, code, printed",
    [
        (EventOutcome("value", {"n": 1}), cli.EXIT_OK, '{"n": 1}\n'),
        (EventOutcome("value", None), cli.EXIT_OK, "null\n"),  # a published None is a value
        (EventOutcome("not_yet", status="PENDING"), cli.EXIT_TIMEOUT, ""),
        (EventOutcome("never", status="SUCCESS"), cli.EXIT_TIMEOUT, ""),
    ],
)
def test_get_event_prints_the_value_or_exits_3_after_one_call(
    outcome: EventOutcome, code: int, printed: str, capsys: pytest.CaptureFixture[str]
) -> None:
    client = OutcomeClient(outcome)
    assert _commands.cmd_get_event(client, parse("get-event", "w", "k")) == code  # type: ignore[arg-type]
    assert (capsys.readouterr().out, client.calls) == (printed, 1)


def test_get_event_of_an_unknown_workflow_is_exit_4() -> None:
    with pytest.raises(WorkflowNotFoundError) as exc:
        _commands.cmd_get_event(OutcomeClient(WorkflowNotFoundError("w")), parse("get-event", "w", "k"))  # type: ignore[arg-type]
    assert cli.exit_code_for(exc.value) == cli.EXIT_NOT_FOUND
