"""dbos_client against dbos.DBOSClient on a SQLite system database, in one run, on one file.

    .venv/bin/python benchmarks/bench_sqlite.py [--ops 500] [--reps 20] [--idle-waiters 200]

A real DBOS 3.4.0 application (tests/interop/interop_app.py) runs on a fresh SQLite file;
both clients talk to that same file, one after the other, from this process. Measured:

* send/s, enqueue/s, get_event/s for a value that exists: sequential calls from one thread;
* wake: how long after the workflow's set_event a blocked get_event returns. The value
  carries the time the workflow set it, so the runtime's own recv polling (1 s on SQLite)
  is not counted, only the client's noticing;
* idle waiters: N threads blocked in get_event on keys nobody sets, for 10 s: the CPU
  time this process spends (both clients poll; SQLite has no NOTIFY), per wall second.

Prints a Markdown table, and the raw figures as JSON with --json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "interop"))

import runtime as rt  # noqa: E402
from bench import _rate, percentile  # noqa: E402  (the Postgres benchmark's own helpers)

QUEUE = "interop_q"
UNPOLLED_QUEUE = "unpolled_q"
KINDS = ("dbos", "dbos_client")


def make_client(kind: str, url: str) -> Any:
    if kind == "dbos_client":
        import dbos_client

        return dbos_client.DBOSClient(system_database_url=url)
    import dbos

    return dbos.DBOSClient(system_database_url=url)


def close_client(client: Any) -> None:
    (getattr(client, "close", None) or client.destroy)()


def wait_status(client: Any, workflow_id: str, statuses: tuple, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.retrieve_workflow(workflow_id).get_status()
        if status is not None and status.status in statuses:
            return
        time.sleep(0.05)
    raise TimeoutError(f"{workflow_id} never reached {statuses}")


def measure(kind: str, url: str, args: argparse.Namespace, anchor: str, event_wf: str) -> dict[str, float]:
    client = make_client(kind, url)
    out: dict[str, float] = {}
    try:
        out["send_per_s"] = _rate(lambda i: client.send(anchor, {"i": i}, "bench-send"), args.ops, 20)
        out["enqueue_per_s"] = _rate(
            lambda i: client.enqueue({"queue_name": UNPOLLED_QUEUE, "workflow_name": "echo"}, i), args.ops, 20
        )
        assert client.get_event(event_wf, "k", 5) == "v"
        out["get_event_per_s"] = _rate(lambda i: client.get_event(event_wf, "k", 5), args.ops, 20)

        # Wake latency, timed from the workflow's own stamp.
        runs = []
        for i in range(args.reps):
            handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "event_stamped_after_message"}, f"w{i}", f"t{i}", 120)
            runs.append(handle.workflow_id)
        for wid in runs:
            wait_status(client, wid, ("PENDING",))
        time.sleep(1.5)  # every run is inside recv
        latencies = []
        for i, wid in enumerate(runs):
            got: dict[str, Any] = {}

            def wait(wid: str = wid, i: int = i, got: dict[str, Any] = got) -> None:
                got["value"] = client.get_event(wid, f"w{i}", 60)
                got["at"] = time.time()

            thread = threading.Thread(target=wait)
            thread.start()
            time.sleep(0.2)
            client.send(wid, i, f"t{i}")
            thread.join(90)
            latencies.append((got["at"] - got["value"]["at"]) * 1000)
        out["wake_p50_ms"] = percentile(latencies, 50)
        out["wake_p99_ms"] = percentile(latencies, 99)

        # Idle waiters: CPU this process burns while they wait for keys that never come.
        stop_key = f"never-{uuid.uuid4().hex[:6]}"
        threads = [
            threading.Thread(target=lambda i=i: client.get_event(anchor, f"{stop_key}-{i}", 12), daemon=True)
            for i in range(args.idle_waiters)
        ]
        for t in threads:
            t.start()
        time.sleep(1.0)
        cpu, wall = time.process_time(), time.monotonic()
        time.sleep(10)
        out["idle_cpu_ms_per_s"] = (time.process_time() - cpu) / (time.monotonic() - wall) * 1000
        for t in threads:
            t.join(30)
    finally:
        close_client(client)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ops", type=int, default=500)
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--idle-waiters", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    folder = tempfile.mkdtemp(prefix="dbos_client_bench_sqlite_")
    url = f"sqlite:///{folder}/system.sqlite"
    results: dict[str, dict[str, float]] = {}
    try:
        with rt.DBOSRuntime(rt.runtime_python("3.4.0"), url):
            setup = make_client("dbos_client", url)
            anchor = setup.enqueue({"queue_name": QUEUE, "workflow_name": "recv_n"}, "never", 1, 3600).workflow_id
            event_wf = setup.enqueue({"queue_name": QUEUE, "workflow_name": "set_event_value"}, "k", "v").workflow_id
            setup.retrieve_workflow(event_wf).get_result(timeout_seconds=60)
            close_client(setup)
            for kind in KINDS:
                print(f"measuring {kind} ...", file=sys.stderr, flush=True)
                results[kind] = measure(kind, url, args, anchor, event_wf)
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    if args.json:
        print(json.dumps(results, indent=2))
        return
    rows = [
        ("send/s", "send_per_s", "{:.0f}"),
        ("enqueue/s", "enqueue_per_s", "{:.0f}"),
        ("get_event/s (value exists)", "get_event_per_s", "{:.0f}"),
        ("get_event wake p50 / p99 after set_event", ("wake_p50_ms", "wake_p99_ms"), "{:.1f} / {:.1f} ms"),
        (f"{args.idle_waiters} idle waiters: CPU of the client process", "idle_cpu_ms_per_s", "{:.0f} ms/s"),
    ]
    print("| metric (SQLite, one file) | dbos.DBOSClient 3.4.0 | dbos_client |")
    print("|---|---|---|")
    for label, key, fmt in rows:
        cells = [fmt.format(*(results[k][x] for x in key)) if isinstance(key, tuple) else fmt.format(results[k][key]) for k in KINDS]
        print(f"| {label} | {cells[0]} | {cells[1]} |")


if __name__ == "__main__":
    main()
