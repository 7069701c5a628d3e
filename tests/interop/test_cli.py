"""The installed ``dbos-client`` command against a real runtime, run in subprocesses as cron would."""

from __future__ import annotations

import json
import os
import pty
import shutil
import subprocess
import sys
import time
from dataclasses import fields
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import QUEUE, UNPOLLED_QUEUE, Runtime

from dbos_client import DBOSClient, WorkflowCancelledError, WorkflowNotFoundError, WorkflowStatus
from dbos_client.cli import (
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_TIMEOUT,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    EXIT_WORKFLOW_FAILED,
)

pytestmark = pytest.mark.interop


def _command() -> list[str]:
    """The console script pip installed next to this interpreter; else ``python -m dbos_client``."""
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    script = shutil.which("dbos-client", path=search)
    return [script] if script else [sys.executable, "-m", "dbos_client"]


COMMAND = _command()
# Without the variable, a test passes only if --url is really used.
ENV = {k: v for k, v in os.environ.items() if k != "DBOS_SYSTEM_DATABASE_URL"}


def cli(runtime: Runtime, *args: str, input: str | None = None, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, "--url", runtime.url, *args], capture_output=True, text=True, input=input, timeout=timeout, env=ENV
    )


def ok(done: subprocess.CompletedProcess[str]) -> Any:
    """The JSON a successful command printed."""
    assert done.returncode == EXIT_OK, done.stderr
    return json.loads(done.stdout)


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("dbos-client: "), done.stderr
    return lines[0]


def wait_for_status(client: DBOSClient, wid: str, status: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while client.retrieve_workflow(wid).get_status().status != status:
        assert time.monotonic() < deadline, f"{wid} never became {status}"
        time.sleep(0.05)


# -- enqueue, status, result, events ----------------------------------------------------


def test_enqueue_result_status_round_trip(runtime: Runtime, client: DBOSClient, uid: str) -> None:
    wid = f"cli-echo-{uid}"
    done = cli(runtime, "enqueue", "echo", "--queue", QUEUE, "--args", '[1, "a", null]', "--kwargs", '{"k": [1, 2]}',
               "--workflow-id", wid)  # fmt: skip
    assert ok(done) == {"workflow_id": wid}
    expected = {"args": [1, "a", None], "kwargs": {"k": [1, 2]}}
    assert ok(cli(runtime, "result", wid, "--timeout", "30")) == expected
    assert client.retrieve_workflow(wid).get_result() == expected  # the app really ran it with those arguments

    status = ok(cli(runtime, "status", wid))
    assert list(status) == [f.name for f in fields(WorkflowStatus)]
    assert (status["workflow_id"], status["status"], status["name"], status["queue_name"]) == (wid, "SUCCESS", "echo", QUEUE)
    assert status["input"] == expected and status["output"] == expected and status["error"] is None
    assert status["serialization"] == "py_pickle"


def test_enqueue_options(runtime: Runtime, client: DBOSClient, uid: str) -> None:
    # Arguments from stdin, portable JSON, and every queue option, checked on the row the client reads.
    args = ["enqueue", "echo", "--queue", UNPOLLED_QUEUE, "--args-file", "-", "--dedup-id", f"d-{uid}",
            "--priority", "7", "--app-version", f"v-{uid}", "--timeout", "60", "--portable"]  # fmt: skip
    wid = ok(cli(runtime, *args, input='["from stdin", {"n": 1}]'))["workflow_id"]
    status = client.retrieve_workflow(wid).get_status()
    assert (status.status, status.deduplication_id, status.priority, status.app_version) == ("ENQUEUED", f"d-{uid}", 7, f"v-{uid}")
    assert (status.workflow_timeout_ms, status.serialization) == (60_000, "portable_json")
    assert status.input == {"args": ("from stdin", {"n": 1}), "kwargs": {}}

    again = cli(runtime, *args, input="[]")
    assert again.returncode == 1 and f"d-{uid}" in one_error_line(again)  # DeduplicatedError: not one of ours
    ok_cancel = cli(runtime, "cancel", wid)
    assert ok_cancel.returncode == EXIT_OK, ok_cancel.stderr

    delayed = ok(cli(runtime, "enqueue", "echo", "--queue", QUEUE, "--delay", "1"))["workflow_id"]
    assert client.retrieve_workflow(delayed).get_status().status == "DELAYED"
    assert ok(cli(runtime, "result", delayed, "--timeout", "30")) == {"args": [], "kwargs": {}}


def test_events_and_get_event(runtime: Runtime, client: DBOSClient) -> None:
    handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "publish_events"}, 3, 0.0)
    handle.get_result(timeout_seconds=30)
    assert ok(cli(runtime, "events", handle.workflow_id)) == {"progress": 2, "done": {"count": 3}}
    assert ok(cli(runtime, "get-event", handle.workflow_id, "done")) == {"count": 3}
    # A value that is None is a value: printed as null, exit 0 (get_event alone cannot tell).
    none = client.enqueue({"queue_name": QUEUE, "workflow_name": "set_event_value"}, "k", None)
    none.get_result(timeout_seconds=30)
    done = cli(runtime, "get-event", none.workflow_id, "k", "--timeout", "0")
    assert (done.returncode, done.stdout) == (EXIT_OK, "null\n")


def test_get_event_times_out_with_exit_3(runtime: Runtime, client: DBOSClient, uid: str) -> None:
    handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "event_after_message"}, "answer", "ask", 30)
    start = time.monotonic()
    done = cli(runtime, "get-event", handle.workflow_id, "answer", "--timeout", "0.5")
    assert (done.returncode, done.stdout, done.stderr) == (EXIT_TIMEOUT, "", "")  # silent: the code is the answer
    assert time.monotonic() - start < 15
    # Then the message arrives (from stdin), and the same call prints the value.
    assert cli(runtime, "send", handle.workflow_id, "-", "--topic", "ask", input='{"q": 42}').returncode == EXIT_OK
    assert ok(cli(runtime, "get-event", handle.workflow_id, "answer", "--timeout", "30")) == {"q": 42}
    # An unknown workflow is told apart from a timeout.
    ghost = cli(runtime, "get-event", f"nope-{uid}", "answer", "--timeout", "0.2")
    assert ghost.returncode == EXIT_NOT_FOUND and f"nope-{uid}" in one_error_line(ghost)


# -- send -------------------------------------------------------------------------------


def test_cron_sends_a_cancel_message(runtime: Runtime, client: DBOSClient, uid: str) -> None:
    # The workflow takes two messages on "cancel"; cron sends the same one twice with one
    # idempotency key (a retried job): it must arrive once, and the second recv times out.
    handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "recv_n"}, "cancel", 2, 3)
    for _ in range(2):
        done = cli(runtime, "send", handle.workflow_id, '{"cancel": true}', "--topic", "cancel",
                   "--idempotency-key", f"nightly-{uid}")  # fmt: skip
        assert (done.returncode, done.stdout, done.stderr) == (EXIT_OK, "", "")
    assert handle.get_result(timeout_seconds=30) == [{"cancel": True}, None]


def test_send_from_a_file_portable(runtime: Runtime, client: DBOSClient, tmp_path: Path) -> None:
    handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "recv_n"}, None, 1, 30)
    message = tmp_path / "message.json"
    message.write_text('{"ids": [1, 2], "note": "é"}', encoding="utf-8")
    assert cli(runtime, "send", handle.workflow_id, "--file", str(message), "--portable").returncode == EXIT_OK
    assert handle.get_result(timeout_seconds=30) == [{"ids": [1, 2], "note": "é"}]


# -- stream -----------------------------------------------------------------------------


def test_stream_prints_values_as_they_arrive(runtime: Runtime, client: DBOSClient) -> None:
    values = [1, "two", {"three": 3}, [4], None]
    handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "stream_values"}, "log", values, True, 0.3)
    with subprocess.Popen([*COMMAND, "--url", runtime.url, "stream", handle.workflow_id, "log"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV) as proc:  # fmt: skip
        try:
            assert proc.stdout is not None
            first = proc.stdout.readline()
            # The first line is out while the workflow is still writing (it sleeps 0.3 s between values).
            assert handle.get_status().status == "PENDING"
            assert json.loads(first) == 1
            rest = [json.loads(line) for line in proc.stdout]
            assert proc.wait(30) == EXIT_OK
        finally:
            proc.kill()
    assert [1, *rest] == values


def test_stream_timeout_and_offset(runtime: Runtime, client: DBOSClient) -> None:
    handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "stream_after_message"}, "log", "go", 30)
    done = cli(runtime, "stream", handle.workflow_id, "log", "--timeout", "1")
    assert (done.returncode, done.stdout) == (EXIT_TIMEOUT, '"first"\n')  # what came before the timeout is printed
    assert "within 1" in one_error_line(done)
    client.send(handle.workflow_id, "second", topic="go")
    assert cli(runtime, "stream", handle.workflow_id, "log", "--offset", "1").stdout == '"second"\n'


# -- result, cancel, resume, delete -------------------------------------------------------


def test_result_of_a_failed_workflow_exits_5(runtime: Runtime, client: DBOSClient) -> None:
    handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "fail"}, "boom at step 3")
    done = cli(runtime, "result", handle.workflow_id, "--timeout", "30")
    assert (done.returncode, done.stdout) == (EXIT_WORKFLOW_FAILED, "")
    assert "ValueError: boom at step 3" in one_error_line(done)
    status = ok(cli(runtime, "status", handle.workflow_id))
    assert status["error"] == {"type": "ValueError", "message": "boom at step 3"}


def test_result_times_out_with_exit_3(runtime: Runtime, client: DBOSClient) -> None:
    handle = client.enqueue({"queue_name": UNPOLLED_QUEUE, "workflow_name": "echo"})
    done = cli(runtime, "result", handle.workflow_id, "--timeout", "0.5")
    assert done.returncode == EXIT_TIMEOUT and "ENQUEUED" in one_error_line(done)
    client.cancel_workflow(handle.workflow_id)


def test_cancel_a_queued_workflow_then_resume_it(runtime: Runtime, client: DBOSClient) -> None:
    handle = client.enqueue({"queue_name": UNPOLLED_QUEUE, "workflow_name": "echo"}, "later")
    assert cli(runtime, "cancel", handle.workflow_id).returncode == EXIT_OK
    assert ok(cli(runtime, "status", handle.workflow_id))["status"] == "CANCELLED"
    cancelled = cli(runtime, "result", handle.workflow_id, "--timeout", "5")
    assert cancelled.returncode == EXIT_WORKFLOW_FAILED and "cancelled" in one_error_line(cancelled)
    assert cli(runtime, "resume", handle.workflow_id, "--queue", QUEUE).returncode == EXIT_OK
    assert ok(cli(runtime, "result", handle.workflow_id, "--timeout", "30")) == {"args": ["later"], "kwargs": {}}


def test_cancel_a_running_workflow(runtime: Runtime, client: DBOSClient) -> None:
    handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "sleep_wf"}, 30)
    wait_for_status(client, handle.workflow_id, "PENDING")
    start = time.monotonic()
    assert cli(runtime, "cancel", handle.workflow_id, "--children").returncode == EXIT_OK
    with pytest.raises(WorkflowCancelledError):
        handle.get_result(timeout_seconds=30)
    assert time.monotonic() - start < 25  # it did not sleep its 30 s out


def test_delete(runtime: Runtime, client: DBOSClient) -> None:
    handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "publish_events"}, 1, 0.0)
    handle.get_result(timeout_seconds=30)
    assert cli(runtime, "delete", handle.workflow_id, "--children").returncode == EXIT_OK
    with pytest.raises(WorkflowNotFoundError):
        client.retrieve_workflow(handle.workflow_id)
    assert cli(runtime, "delete", handle.workflow_id).returncode == EXIT_NOT_FOUND


def test_unknown_workflow_exits_4(runtime: Runtime, uid: str) -> None:
    for args in (["status"], ["result", "--timeout", "5"], ["events"], ["cancel"], ["resume"], ["steps"],
                 ["stream", "--timeout", "5"], ["watch"], ["send", "1"]):  # fmt: skip
        done = cli(runtime, args[0], f"nope-{uid}", *(["log"] if args[0] == "stream" else []), *args[1:])
        assert done.returncode == EXIT_NOT_FOUND, (args, done.stderr)
        assert f"nope-{uid}" in one_error_line(done) and done.stdout == ""


# -- list and steps ---------------------------------------------------------------------


def test_list_filters(runtime: Runtime, client: DBOSClient, uid: str) -> None:
    before = (datetime.now(timezone.utc) - timedelta(seconds=1)).isoformat()
    queued = [client.enqueue({"queue_name": UNPOLLED_QUEUE, "workflow_name": "echo", "workflow_id": f"ls-{uid}-{i}"}, i).workflow_id
              for i in range(3)]  # fmt: skip
    finished = client.enqueue({"queue_name": QUEUE, "workflow_name": "sleep_wf", "workflow_id": f"ls-{uid}-done"}, 0)
    finished.get_result(timeout_seconds=30)
    mine = ["--workflow-id", *queued, finished.workflow_id]

    def ids(*args: str) -> list[str]:
        return [s["workflow_id"] for s in ok(cli(runtime, "list", *mine, *args))]

    assert ids() == [*queued, finished.workflow_id]  # oldest first
    assert ids("--name", "echo") == queued
    assert ids("--status", "SUCCESS") == [finished.workflow_id]
    assert ids("--status", "enqueued", "SUCCESS") == [*queued, finished.workflow_id]
    assert ids("--queue", UNPOLLED_QUEUE) == queued
    assert ids("--sort-desc", "--limit", "2") == [finished.workflow_id, queued[2]]
    assert ids("--offset", "3") == [finished.workflow_id]
    assert ids("--created-after", before) == [*queued, finished.workflow_id]
    assert ids("--created-before", "2000-01-01T00:00:00Z") == []
    assert ids("--app-version", f"no-such-version-{uid}") == []

    # Payloads are left out unless asked for.
    [plain] = ok(cli(runtime, "list", "--workflow-id", finished.workflow_id))
    assert plain["input"] is None and plain["output"] is None and plain["status"] == "SUCCESS"
    [loaded] = ok(cli(runtime, "list", "--workflow-id", finished.workflow_id, "--load-input", "--load-output"))
    assert loaded["input"] == {"args": [0], "kwargs": {}} and loaded["output"] == 0
    client.cancel_workflows(queued)


def test_steps(runtime: Runtime, client: DBOSClient) -> None:
    handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "publish_events"}, 2, 0.01)
    handle.get_result(timeout_seconds=30)
    steps = ok(cli(runtime, "steps", handle.workflow_id))
    names = [s["function_name"] for s in steps]
    assert names.count("DBOS.setEvent") == 3 and "DBOS.sleep" in names
    assert set(steps[0]) == {"function_id", "function_name", "output", "error", "child_workflow_id",
                             "started_at_epoch_ms", "completed_at_epoch_ms"}  # fmt: skip
    assert ok(cli(runtime, "steps", handle.workflow_id, "--limit", "1", "--offset", "1")) == [steps[1]]
    assert all(s["output"] is None for s in ok(cli(runtime, "steps", handle.workflow_id, "--no-output")))


# -- watch ------------------------------------------------------------------------------


def test_watch_prints_changes_and_exits_0(runtime: Runtime, client: DBOSClient) -> None:
    handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "publish_events"}, 3, 0.3)
    done = cli(runtime, "watch", handle.workflow_id, "--interval", "0.1")
    assert done.returncode == EXIT_OK, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] in ("status ENQUEUED", "status PENDING")
    # Progress was seen while the workflow ran, before it ended; then its final state.
    first_progress = next(i for i, line in enumerate(lines) if line.startswith("event progress "))
    assert first_progress < lines.index("status SUCCESS")
    assert 'event done {"count": 3}' in lines and "event progress 2" in lines
    assert lines[-1] == "result 3"


def test_watch_follows_a_stream(runtime: Runtime, client: DBOSClient) -> None:
    handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "stream_values"}, "log", ["a", {"b": 2}], False, 0.2)
    done = cli(runtime, "watch", handle.workflow_id, "--interval", "0.1", "--stream", "log")
    assert done.returncode == EXIT_OK, done.stderr
    lines = done.stdout.splitlines()
    assert [line for line in lines if line.startswith("stream ")] == ['stream log: "a"', 'stream log: {"b": 2}']
    assert lines[-1] == "result 2"


def test_watch_of_a_failing_workflow_exits_5(runtime: Runtime, client: DBOSClient) -> None:
    handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "fail"}, "watched")
    done = cli(runtime, "watch", handle.workflow_id, "--interval", "0.1")
    assert done.returncode == EXIT_WORKFLOW_FAILED
    assert "status ERROR" in done.stdout.splitlines()
    assert "ValueError: watched" in one_error_line(done)


def test_watch_on_a_terminal_redraws(runtime: Runtime, client: DBOSClient) -> None:
    handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "publish_events"}, 3, 0.3)
    controller, terminal = pty.openpty()
    with subprocess.Popen([*COMMAND, "--url", runtime.url, "watch", handle.workflow_id, "--interval", "0.1"],
                          stdout=terminal, stderr=subprocess.PIPE, env={**ENV, "NO_COLOR": "1"}) as proc:  # fmt: skip
        os.close(terminal)
        output = b""
        try:
            while True:
                try:
                    chunk = os.read(controller, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                output += chunk
            assert proc.wait(30) == EXIT_OK
        finally:
            os.close(controller)
            proc.kill()
    text = output.decode()
    assert "\x1b[2F\x1b[J" in text  # redrawn in place (header + one event line)
    assert "%" in text and "[" in text  # the progress event drawn as a bar
    assert "SUCCESS" in text and text.endswith("result: 3\r\n\x1b[?25h")  # and the cursor is back


# -- the database ---------------------------------------------------------------------


def test_unreachable_database_exits_6_without_the_password() -> None:
    done = subprocess.run([*COMMAND, "--url", "postgresql://u:secret@127.0.0.1:1/x", "status", "w"],
                          capture_output=True, text=True, timeout=120, env=ENV)  # fmt: skip
    assert done.returncode == EXIT_UNAVAILABLE
    assert "secret" not in done.stdout + done.stderr
    assert done.stderr.splitlines()[-1].startswith("dbos-client: the system database at postgresql://u:***@127.0.0.1:1/x")


def test_url_from_the_environment(runtime: Runtime, client: DBOSClient) -> None:
    handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "echo"}, "env")
    handle.get_result(timeout_seconds=30)
    done = subprocess.run([*COMMAND, "result", handle.workflow_id], capture_output=True, text=True, timeout=60,
                          env={**ENV, "DBOS_SYSTEM_DATABASE_URL": runtime.url})  # fmt: skip
    assert ok(done) == {"args": ["env"], "kwargs": {}}
    missing = subprocess.run([*COMMAND, "status", "w"], capture_output=True, text=True, timeout=60, env=ENV)
    assert missing.returncode == EXIT_USAGE and "DBOS_SYSTEM_DATABASE_URL" in missing.stderr
