"""The installed ``dbos-client`` operator commands (queue, fork, rewind, version, schedule)
against a real runtime, run in subprocesses as an operator or cron would: what they write
is proved by the runtime acting on it (polling the queue, running the fork, the rewind,
the triggered schedule, honouring the latest version)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from conftest import QUEUE, UNPOLLED_QUEUE, Runtime
from test_cli import cli, ok, one_error_line
from test_operator import _insert_version

from dbos_client import DBOSClient, Queue
from dbos_client.cli import EXIT_ERROR, EXIT_NOT_FOUND, EXIT_OK, EXIT_USAGE

pytestmark = pytest.mark.interop


def quiet(done: subprocess.CompletedProcess[str]) -> None:
    """A command that succeeded and printed nothing."""
    assert (done.returncode, done.stdout, done.stderr) == (EXIT_OK, "", ""), done.stderr


# -- queue ------------------------------------------------------------------------------


def test_queue_register_get_list_delete(runtime: Runtime, client: DBOSClient, uid: str) -> None:
    name = f"cliq-{uid}"
    assert cli(runtime, "queue", "get", name).returncode == EXIT_NOT_FOUND
    stored = ok(cli(runtime, "queue", "register", name, "--concurrency", "4", "--worker-concurrency", "2",
                    "--rate-limit", "50", "--rate-period", "1.5", "--polling-interval", "0.1"))  # fmt: skip
    assert stored == {"name": name, "concurrency": 4, "worker_concurrency": 2, "limiter": {"limit": 50, "period": 1.5},
                      "partition_concurrency": None, "partition_worker_concurrency": None, "partition_limiter": None,
                      "polling_interval_sec": 0.1, "application_name": None}  # fmt: skip
    assert client.retrieve_queue(name) == Queue(name, concurrency=4, worker_concurrency=2,
                                                 limiter={"limit": 50, "period": 1.5}, polling_interval_sec=0.1)  # fmt: skip
    # The runtime polls the queue the command registered.
    handle = client.enqueue({"queue_name": name, "workflow_name": "echo"}, "polled")
    assert handle.get_result(timeout_seconds=60) == {"args": ["polled"], "kwargs": {}}

    assert ok(cli(runtime, "queue", "get", name)) == stored
    assert name in {q["name"] for q in ok(cli(runtime, "queue", "list"))}
    table = cli(runtime, "queue", "list", "--format", "table").stdout.splitlines()
    assert table[0].split()[:4] == ["NAME", "CONCURRENCY", "WORKER_CONCURRENCY", "RATE_LIMIT"]
    [row] = [line for line in table if line.startswith(name + " ")]
    assert row.split()[:4] == [name, "4", "2", "50/1.5s"]
    # never_update leaves the row; the default overwrites it.
    assert ok(cli(runtime, "queue", "register", name, "--concurrency", "1", "--on-conflict", "never_update"))["concurrency"] == 4
    assert ok(cli(runtime, "queue", "register", name, "--concurrency", "9"))["concurrency"] == 9

    quiet(cli(runtime, "queue", "delete", name))
    assert client.retrieve_queue(name) is None
    gone = cli(runtime, "queue", "delete", name)
    assert gone.returncode == EXIT_NOT_FOUND and f"no queue named '{name}'" in one_error_line(gone)


def test_queue_ownership(runtime: Runtime, client: DBOSClient, uid: str) -> None:
    name = f"cliown-{uid}"
    assert ok(cli(runtime, "queue", "register", name, "--application-name", "interop",
                  "--polling-interval", "0.1"))["application_name"] == "interop"  # fmt: skip
    assert name in {q["name"] for q in ok(cli(runtime, "queue", "list", "--application-name", "interop"))}
    assert name not in {q["name"] for q in ok(cli(runtime, "queue", "list", "--application-name", "someone-else"))}
    taken = cli(runtime, "queue", "register", name, "--application-name", "someone-else")
    assert taken.returncode == EXIT_ERROR and "interop" in one_error_line(taken)
    client.delete_queue(name)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--rate-limit", "5"], "--rate-limit and --rate-period go together"),
        (["--partition-rate-period", "2"], "--partition-rate-limit and --partition-rate-period go together"),
        (["--concurrency", "1", "--worker-concurrency", "2"], "concurrency must be greater than or equal to worker_concurrency"),
        (["--polling-interval", "0"], "argument --polling-interval: must be > 0"),
        (["--on-conflict", "update_if_latest_version"], "invalid choice"),
    ],
)
def test_queue_register_bad_input_writes_nothing(runtime: Runtime, client: DBOSClient, uid: str, args: list[str], message: str) -> None:
    done = cli(runtime, "queue", "register", f"bad-{uid}", *args)
    assert done.returncode == EXIT_USAGE and message in done.stderr and done.stdout == ""
    assert client.retrieve_queue(f"bad-{uid}") is None


def test_queue_reserved_name_is_a_usage_error(runtime: Runtime, client: DBOSClient, uid: str) -> None:
    reserved = cli(runtime, "queue", "register", f"_dbos_{uid}")
    assert reserved.returncode == EXIT_USAGE and "reserved" in one_error_line(reserved)
    assert client.retrieve_queue(f"_dbos_{uid}") is None


# -- fork and rewind ------------------------------------------------------------------------


def test_fork(runtime: Runtime, client: DBOSClient, uid: str) -> None:
    original = client.enqueue({"queue_name": QUEUE, "workflow_name": "stamped_steps"}, 3)
    stamps = original.get_result(timeout_seconds=60)
    status = ok(cli(runtime, "fork", original.workflow_id, "--step", "3", "--forked-workflow-id", f"clifork-{uid}",
                    "--queue", QUEUE, "--timeout", "60"))  # fmt: skip
    assert (status["workflow_id"], status["forked_from"], status["queue_name"]) == (f"clifork-{uid}", original.workflow_id, QUEUE)
    assert status["workflow_timeout_ms"] == 60_000
    forked = client.retrieve_workflow(f"clifork-{uid}").get_result(timeout_seconds=60)
    assert forked[:2] == stamps[:2] and forked[2] != stamps[2]  # steps 1-2 replayed, step 3 ran again
    # Default: from step 1, a new id.
    again = ok(cli(runtime, "fork", original.workflow_id))
    assert again["workflow_id"] not in (original.workflow_id, f"clifork-{uid}")
    assert all(a != b for a, b in zip(client.retrieve_workflow(again["workflow_id"]).get_result(timeout_seconds=60), stamps, strict=True))

    taken = cli(runtime, "fork", original.workflow_id, "-S", "2", "--forked-workflow-id", f"clifork-{uid}")
    assert taken.returncode == EXIT_ERROR and f"clifork-{uid}" in one_error_line(taken)
    ghost = cli(runtime, "fork", f"nope-{uid}")
    assert ghost.returncode == EXIT_NOT_FOUND and f"nope-{uid}" in one_error_line(ghost)
    for bad, named in ((["--step", "0"], "--start-step: must be >= 1"), (["--timeout", "-1"], "--timeout: must be > 0"),
                       (["--replacement-children", "[1]"], "must be a JSON object")):  # fmt: skip
        done = cli(runtime, "fork", original.workflow_id, "--forked-workflow-id", f"bad-{uid}", *bad)
        assert done.returncode == EXIT_USAGE and named in done.stderr
    assert client.list_workflows(workflow_ids=[f"bad-{uid}"]) == []


def test_rewind(runtime: Runtime, client: DBOSClient, uid: str) -> None:
    handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "stamped_events"})
    first, second = handle.get_result(timeout_seconds=60)
    done = cli(runtime, "rewind", handle.workflow_id, "--step", "3", "--queue", QUEUE)
    if not runtime.is_v3:
        assert done.returncode == EXIT_ERROR and "3.x" in one_error_line(done)
        return
    quiet(done)
    new_first, new_second = handle.get_result(timeout_seconds=60)  # the runtime ran it again, under its id
    assert new_first == first and new_second != second
    ghost = cli(runtime, "rewind", f"nope-{uid}")
    assert ghost.returncode == EXIT_NOT_FOUND and f"nope-{uid}" in one_error_line(ghost)
    pending = client.enqueue({"queue_name": UNPOLLED_QUEUE, "workflow_name": "stamped_steps"}, 1)
    active = cli(runtime, "rewind", pending.workflow_id)
    assert active.returncode == EXIT_ERROR and "ENQUEUED" in one_error_line(active)
    client.cancel_workflow(pending.workflow_id)


# -- application versions -----------------------------------------------------------------


def test_versions(runtime: Runtime, client: DBOSClient, uid: str) -> None:
    finished = client.enqueue({"queue_name": QUEUE, "workflow_name": "echo"})
    finished.get_result(timeout_seconds=60)
    own = finished.get_status().app_version
    assert ok(cli(runtime, "version", "latest"))["version_name"] == own
    listed = ok(cli(runtime, "version", "list"))
    assert listed[0]["version_name"] == own
    assert set(listed[0]) == {"version_id", "version_name", "version_timestamp", "created_at", "application_name"}
    table = cli(runtime, "version", "list", "--format", "table").stdout.splitlines()
    assert table[0].split() == ["VERSION", "TIMESTAMP", "CREATED", "APPLICATION", "VERSION_ID"]
    assert table[1].startswith(own + " ") and "Z " in table[1]  # times printed as UTC ISO

    peer = f"clipeer-{uid}"
    _insert_version(runtime, peer, 1, "interop")  # an older deploy of the same application
    try:
        quiet(cli(runtime, "version", "set-latest", peer))
        assert ok(cli(runtime, "version", "latest", "--application-name", "interop"))["version_name"] == peer
        # The runtime no longer runs the latest version: it leaves unversioned work alone...
        waiting = client.enqueue({"queue_name": QUEUE, "workflow_name": "echo"}, "later")
        time.sleep(2.0)
        assert waiting.get_status().status == "ENQUEUED"
    finally:
        quiet(cli(runtime, "version", "set-latest", own))
    assert waiting.get_result(timeout_seconds=60) == {"args": ["later"], "kwargs": {}}  # ...until it is again

    ghost = cli(runtime, "version", "set-latest", f"nope-{uid}")
    assert ghost.returncode == EXIT_NOT_FOUND and f"nope-{uid}" in one_error_line(ghost)
    other = cli(runtime, "version", "set-latest", own, "--application-name", "someone-else")
    assert other.returncode == EXIT_ERROR
    assert ok(cli(runtime, "version", "latest"))["version_name"] == own  # nothing changed


# -- schedules ------------------------------------------------------------------------------

def test_schedule_maintenance_window(runtime: Runtime, client: DBOSClient, uid: str) -> None:
    name = f"nightly-{uid}"
    created = ok(cli(runtime, "schedule", "create", name, "--workflow-name", "echo", "--cron", "0 3 * * *",
                     "--context", '{"region": "eu"}', "--queue", QUEUE, "--timezone", "Europe/Paris"))  # fmt: skip
    assert (created["schedule_name"], created["workflow_name"], created["schedule"], created["status"]) == (
        name, "echo", "0 3 * * *", "ACTIVE")  # fmt: skip
    assert (created["context"], created["queue_name"], created["cron_timezone"]) == ({"region": "eu"}, QUEUE, "Europe/Paris")
    assert ok(cli(runtime, "schedule", "get", name)) == created
    assert [s["schedule_name"] for s in ok(cli(runtime, "schedule", "list", "--prefix", f"nightly-{uid}"))] == [name]

    # The maintenance window: pause, check, resume.
    quiet(cli(runtime, "schedule", "pause", name))
    assert ok(cli(runtime, "schedule", "list", "--prefix", name, "--status", "paused"))[0]["status"] == "PAUSED"
    assert ok(cli(runtime, "schedule", "list", "--prefix", name, "--status", "ACTIVE")) == []
    table = cli(runtime, "schedule", "list", "--prefix", name, "--format", "table").stdout.splitlines()
    assert table[1].split()[:5] == [name, "PAUSED", "0", "3", "*"]
    quiet(cli(runtime, "schedule", "resume", name))
    assert ok(cli(runtime, "schedule", "get", name))["status"] == "ACTIVE"

    # trigger: the runtime runs the workflow now, with the schedule's context.
    wid = ok(cli(runtime, "schedule", "trigger", name))["workflow_id"]
    result = client.retrieve_workflow(wid).get_result(timeout_seconds=60)
    assert result["args"][1] == {"region": "eu"}
    # backfill: one run per missed time; a second backfill of the same window starts nothing new.
    end = datetime.now(timezone.utc).replace(hour=12, minute=0, second=0, microsecond=0)
    start = end - timedelta(days=3)
    ids = ok(cli(runtime, "schedule", "backfill", name, "--start", start.isoformat(), "--end", end.isoformat()))
    assert len(ids) == 3
    for workflow_id in ids:
        assert client.retrieve_workflow(workflow_id).get_result(timeout_seconds=60)["args"][1] == {"region": "eu"}
    ok(cli(runtime, "schedule", "backfill", name, "--start-time", start.isoformat(), "--end-time", end.isoformat()))
    assert {s.workflow_id for s in client.list_workflows(workflow_ids=ids)} == set(ids)

    quiet(cli(runtime, "schedule", "delete", name))
    for command in ("get", "pause", "resume", "delete", "trigger"):
        done = cli(runtime, "schedule", command, name)
        assert done.returncode == EXIT_NOT_FOUND and name in one_error_line(done), command


def test_schedule_bad_input_writes_nothing(runtime: Runtime, client: DBOSClient, uid: str) -> None:
    name = f"bad-{uid}"
    for bad, message in ((["--cron", "every day"], "every day"), (["--cron", "* * * * *", "--timezone", "Mars/Olympus"], "Mars/Olympus"),
                         (["--cron", "* * * * *", "--context", "{x"], "argument --context: not valid JSON")):  # fmt: skip
        done = cli(runtime, "schedule", "create", name, "--workflow-name", "echo", *bad)
        assert done.returncode == EXIT_USAGE and message in done.stderr and done.stdout == "", done.stderr
        assert cli(runtime, "schedule", "get", name).returncode == EXIT_NOT_FOUND
    ok(cli(runtime, "schedule", "create", name, "--workflow-name", "echo", "--cron", "0 3 * * *"))
    backwards = cli(runtime, "schedule", "backfill", name, "--start", "2026-01-02", "--end", "2026-01-01")
    assert backwards.returncode == EXIT_USAGE and "--start must be before --end" in backwards.stderr
    twice = cli(runtime, "schedule", "create", name, "--workflow-name", "echo", "--cron", "0 4 * * *")
    assert twice.returncode == EXIT_ERROR and name in one_error_line(twice)
    assert ok(cli(runtime, "schedule", "get", name))["schedule"] == "0 3 * * *"
    quiet(cli(runtime, "schedule", "delete", name))


def _wait_for(predicate: Callable[[], Any], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)
    return value


def test_schedule_paused_around_a_maintenance_window(runtime: Runtime, client: DBOSClient, uid: str) -> None:
    # The README's cron job, with a window of seconds: the application fires the schedule,
    # stops while it is paused, fires again once resumed, and backfill runs what was skipped.
    name = f"every-second-{uid}"
    ok(cli(runtime, "schedule", "create", name, "--workflow-name", "echo", "--cron", "* * * * * *"))

    def runs() -> list[str]:
        return [s.workflow_id for s in client.list_workflows(schedule_name=name)]

    _wait_for(runs)  # it fires in the application
    quiet(cli(runtime, "schedule", "pause", name))
    paused_at = datetime.now(timezone.utc)
    time.sleep(2.5)  # the application notices within its polling interval (1 s here)
    before = runs()
    time.sleep(3)
    assert runs() == before  # nothing fired during the window
    resumed_at = datetime.now(timezone.utc)
    quiet(cli(runtime, "schedule", "resume", name))
    _wait_for(lambda: len(runs()) > len(before))  # firing again

    window = ["--start", paused_at.isoformat(), "--end", resumed_at.isoformat()]
    missed = ok(cli(runtime, "schedule", "backfill", name, *window))
    assert len(missed) >= 4 and all(w.startswith(f"sched-{name}-") for w in missed)
    for workflow_id in missed:
        assert client.retrieve_workflow(workflow_id).get_result(timeout_seconds=60)["args"][1] is None
    # Safe to re-run: the same ids (a workflow id is unique: nothing runs twice).
    assert ok(cli(runtime, "schedule", "backfill", name, *window)) == missed
    quiet(cli(runtime, "schedule", "delete", name))
