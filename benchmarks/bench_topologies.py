"""What N client processes with M waiters each cost the server, directly and behind PgBouncer.

One run creates a fresh Postgres database and starts the real DBOS 3.4.0 runtime on it
(``tests/interop/interop_app.py``, connected directly). Then, for each topology and each
client, it starts N worker processes (default 4). Each opens one client and blocks M
threads (default 50) in ``get_event`` on distinct keys of a running workflow. After a
ramp, over a window it measures:

* **server connections**: backends of the database on the real server that were not
  there before the workers started and are not the runtime's (``dbos_transact``) or the
  driver's; a PgBouncer's server connections are counted, whatever application_name
  they carry (PgBouncer passes on its clients' ``bench_topo`` or leaves it blank);
* **client connections**: connections the workers hold to the pooler (SHOW CLIENTS);
* **server xact/s**: ``xact_commit + xact_rollback`` of the database in
  ``pg_stat_database``, minus the runtime's background rate measured before any client;
* then **wake latency**: every worker times P ``get_event`` wakes of its own, from the
  workflow's ``set_event`` (its value carries ``time.time()``) to the call's return.

Topologies: ``direct``; ``tx`` (PgBouncer, transaction mode); ``tx+listener`` (the same,
with ``listener_database_url`` straight to Postgres); ``session`` (PgBouncer, session mode).
Clients: ``dbos_client.DBOSClient`` and ``dbos.DBOSClient(use_listen_notify=True)`` 3.4.0,
which has no listener URL, so it skips ``tx+listener``. Each PgBouncer is fresh, with
``default_pool_size`` 30.

Usage::

    .venv/bin/python benchmarks/bench_topologies.py [--processes 4] [--waiters 50] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO_ROOT), str(REPO_ROOT / "tests" / "interop")]  # this checkout's dbos_client, always
import pgbouncer as pgb  # noqa: E402  (the test harness: a real PgBouncer on a free port)
import runtime as rt  # noqa: E402  (the test harness: fresh database + real DBOS runtime)

TOPOLOGIES = ("direct", "tx", "tx+listener", "session")
CLIENTS = ("dbos_client", "dbos")
LABELS = {"dbos_client": "dbos_client", "dbos": "dbos (listen)"}
QUEUE = "interop_q"
APP_NAME = "bench_topo"
DRIVER_APP_NAME = "bench_driver"
#: The DBOS runtime's own connections; it opens more as it runs workflows, so a pid
#: snapshot alone would count them.
RUNTIME_APP_NAME = "dbos_transact"
POOL_SIZE = 30  # PgBouncer's default_pool_size in this benchmark
WAKE_TOPIC = "t"
STOP_TOPIC = "stop"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def with_query(url: str, **params: str) -> str:
    sep = "&" if "?" in url else "?"
    return url + sep + "&".join(f"{k}={v}" for k, v in params.items())


# --------------------------------------------------------------------------------------
# Worker process: one client, M idle waiters, then P timed wakes
# --------------------------------------------------------------------------------------


def make_client(kind: str, url: str, listener_url: str | None) -> Any:
    if kind == "dbos_client":
        from dbos_client import DBOSClient

        extra: dict[str, Any] = {"listener_database_url": listener_url} if listener_url else {}
        return DBOSClient(system_database_url=url, **extra)
    import dbos

    logging.getLogger("dbos").setLevel(logging.CRITICAL)
    return dbos.DBOSClient(system_database_url=url, use_listen_notify=True)


def worker(spec: dict[str, Any]) -> None:
    out = sys.stdout
    errors: list[str] = []

    def emit(message: dict[str, Any]) -> None:
        out.write(json.dumps(message) + "\n")
        out.flush()

    try:
        client = make_client(spec["client"], spec["url"], spec.get("listener_url"))
    except Exception:
        emit({"ready": False, "errors": [traceback.format_exc(limit=3)]})
        os._exit(0)

    def idle_wait(i: int) -> None:
        try:
            client.get_event(spec["idle_workflow"], f"idle{i}", spec["wait_timeout"])
        except Exception as exc:
            errors.append(f"idle get_event: {type(exc).__name__}: {exc}")

    for i in range(spec["waiters"]):
        threading.Thread(target=idle_wait, args=(i,), daemon=True).start()
    time.sleep(1.0)  # every waiter has made its first check and is blocked
    emit({"ready": True, "errors": errors[:3]})
    sys.stdin.readline()  # "probe"
    latencies: list[float] = []
    for wid in spec["probe_workflows"]:
        value: list[Any] = []

        def wait(wid: str = wid, value: list[Any] = value) -> None:
            try:
                value.append(client.get_event(wid, "k", spec["probe_timeout"]))
            except Exception as exc:
                value.append(exc)

        thread = threading.Thread(target=wait, daemon=True)
        thread.start()
        time.sleep(0.3)
        try:
            client.send(wid, "wake", topic=WAKE_TOPIC)
        except Exception as exc:
            errors.append(f"send: {type(exc).__name__}: {exc}")
            break
        thread.join(spec["probe_timeout"] + 30)
        returned = time.time()
        if value and isinstance(value[0], dict):
            latencies.append((returned - float(value[0]["at"])) * 1000)
        else:
            errors.append(f"probe get_event: {value[0] if value else 'no answer in 60 s'!r}")
    emit({"latencies_ms": latencies, "errors": sorted(set(errors))[:3], "error_count": len(errors)})
    out.flush()
    os._exit(0)  # the idle waiters are daemon threads; the server sees the sockets close


# --------------------------------------------------------------------------------------
# The parent: database, runtime, PgBouncers, measurements
# --------------------------------------------------------------------------------------


@dataclass
class Row:
    topology: str
    client: str
    server_connections: int | None = None
    per_process: float | None = None
    pooler_clients: int | None = None
    net_xact_per_s: float | None = None
    wake_p50_ms: float | None = None
    wake_max_ms: float | None = None
    wakes: int = 0
    #: wakes that came only with get_event's own timeout (at least 90% of --probe-timeout)
    misses: int = 0
    errors: list[str] = field(default_factory=list)


class Inspector:
    """Reads the real server's statistics from the postgres database (not the measured one)."""

    def __init__(self, admin_url: str, dbname: str) -> None:
        self.conn = psycopg.connect(with_query(admin_url, application_name="bench_inspector"), autocommit=True)
        self.dbname = dbname

    def pids(self) -> set[int]:
        rows = self.conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.dbname,)).fetchall()
        return {int(r[0]) for r in rows}

    def new_backends(self, baseline: set[int]) -> int:
        rows = self.conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND application_name <> ALL(%s)",
            (self.dbname, [DRIVER_APP_NAME, RUNTIME_APP_NAME]),
        ).fetchall()
        return sum(1 for r in rows if int(r[0]) not in baseline)

    def xacts(self) -> int:
        self.conn.execute("SELECT pg_stat_clear_snapshot()")
        row = self.conn.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s", (self.dbname,)
        ).fetchone()
        assert row is not None
        return int(row[0])

    def count_enqueued(self, url: str, workflow_ids: list[str]) -> int:
        """How many of these workflows the runtime has not started yet (set-up only)."""
        with psycopg.connect(with_query(url, application_name=DRIVER_APP_NAME), autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM dbos.workflow_status WHERE workflow_uuid = ANY(%s) AND status = 'ENQUEUED'",
                (workflow_ids,),
            ).fetchone()
        assert row is not None
        return int(row[0])

    def rate(self, window: float) -> float:
        start, t0 = self.xacts(), time.monotonic()
        time.sleep(window)
        return (self.xacts() - start) / (time.monotonic() - t0)


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.admin_url = args.admin_url
        self.url = ""
        self.runtime: rt.DBOSRuntime | None = None
        self.driver: Any = None
        self.inspector: Inspector | None = None
        self.baseline_xact_s = 0.0
        self.idle: list[str] = []
        self.probes: dict[tuple[str, str], list[list[str]]] = {}

    def setup(self, plan: list[tuple[str, str]]) -> None:
        """The runtime, and every workflow the runs will wait on, before the baseline.

        The N idle workflows (one per process, shared by all runs) and each run's probe
        workflows are all running (blocked in recv) before the runtime's background rate
        is measured, so what they cost the runtime is not charged to a client.
        """
        from dbos_client import DBOSClient

        self.url = rt.create_database(self.admin_url, prefix="bench_topo")
        log(f"database {conninfo_to_dict(self.url)['dbname']}; starting the DBOS 3.4.0 runtime")
        self.runtime = rt.DBOSRuntime(rt.runtime_python("3.4.0"), self.url).start()
        self.driver = DBOSClient(system_database_url=with_query(self.url, application_name=DRIVER_APP_NAME))
        self.inspector = Inspector(self.admin_url, str(conninfo_to_dict(self.url)["dbname"]))
        n, p = self.args.processes, self.args.probes
        self.idle = [self.enqueue("event_after_message", "never", STOP_TOPIC, 900) for _ in range(n)]
        for run in plan:
            self.probes[run] = [
                [self.enqueue("event_stamped_after_message", "k", WAKE_TOPIC, 900) for _ in range(p)] for _ in range(n)
            ]
        everything = self.idle + [w for per_run in self.probes.values() for ws in per_run for w in ws]
        deadline = time.monotonic() + 60
        while self.inspector.count_enqueued(self.url, everything) and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(self.args.ramp)  # the set-up's counters reach pg_stat_database first
        self.baseline_xact_s = self.inspector.rate(self.args.window)
        log(f"runtime background with {len(everything)} workflows in recv: {self.baseline_xact_s:.1f} xact/s")

    def teardown(self) -> None:
        if self.driver is not None:
            for wid in self.idle + [w for per_run in self.probes.values() for ws in per_run for w in ws]:
                try:
                    self.driver.send(wid, "stop", topic=STOP_TOPIC if wid in self.idle else WAKE_TOPIC)
                except Exception:
                    pass  # already finished
            self.driver.close()
        if self.inspector is not None:
            self.inspector.conn.close()
        if self.runtime is not None:
            self.runtime.stop()
        if self.url:
            rt.drop_database(self.url, self.admin_url)

    def enqueue(self, workflow: str, *args: Any) -> str:
        return str(self.driver.enqueue({"queue_name": QUEUE, "workflow_name": workflow}, *args).workflow_id)

    def run(self, topology: str, client: str) -> Row:
        row = Row(topology, client)
        assert self.inspector is not None
        bouncer: pgb.PgBouncer | None = None
        workers: list[subprocess.Popen[str]] = []
        try:
            mode = {"tx": "transaction", "tx+listener": "transaction", "session": "session"}.get(topology)
            if mode is not None:
                bouncer = pgb.PgBouncer(mode, default_pool_size=POOL_SIZE).start()
                url = bouncer.url_for(self.url)
            else:
                url = self.url
            url = with_query(url, application_name=APP_NAME)
            listener_url = with_query(self.url, application_name=APP_NAME) if topology == "tx+listener" else None
            baseline = self.inspector.pids()
            for i in range(self.args.processes):
                spec = {
                    "client": client,
                    "url": url,
                    "listener_url": listener_url,
                    "waiters": self.args.waiters,
                    "idle_workflow": self.idle[i],
                    "wait_timeout": 300,
                    "probe_timeout": self.args.probe_timeout,
                    "probe_workflows": self.probes[(topology, client)][i],
                }
                workers.append(
                    subprocess.Popen(
                        [sys.executable, __file__, "--worker", json.dumps(spec)],
                        stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE,
                        text=True,
                    )
                )
            for w in workers:
                assert w.stdout is not None
                ready = json.loads(w.stdout.readline() or '{"ready": false, "errors": ["worker died"]}')
                row.errors += ready.get("errors", [])
            time.sleep(self.args.ramp)
            conns = [self.inspector.new_backends(baseline)]
            rate = self.inspector.rate(self.args.window)
            conns.append(self.inspector.new_backends(baseline))
            row.server_connections = max(conns)
            row.per_process = row.server_connections / self.args.processes
            row.net_xact_per_s = rate - self.baseline_xact_s
            if bouncer is not None:
                dbname = conninfo_to_dict(self.url)["dbname"]
                row.pooler_clients = sum(1 for c in bouncer.admin("SHOW CLIENTS") if c["database"] == dbname)
            for w in workers:
                assert w.stdin is not None
                w.stdin.write("probe\n")
                w.stdin.flush()
            latencies: list[float] = []
            for w in workers:
                assert w.stdout is not None
                result = json.loads(w.stdout.readline() or '{"errors": ["worker died"]}')
                latencies += result.get("latencies_ms", [])
                row.errors += result.get("errors", [])
            if latencies:
                row.wake_p50_ms = statistics.median(latencies)
                row.wake_max_ms = max(latencies)
                row.wakes = len(latencies)
                row.misses = sum(1 for ms in latencies if ms >= 900 * self.args.probe_timeout)
        except Exception:
            row.errors.append(traceback.format_exc(limit=4))
        finally:
            for w in workers:
                try:
                    w.wait(10)
                except subprocess.TimeoutExpired:
                    w.kill()
                    w.wait()
            if bouncer is not None:
                bouncer.destroy()
            row.errors = sorted(set(row.errors))
            self._settle(baseline if "baseline" in locals() else set())
        return row

    def _settle(self, baseline: set[int]) -> None:
        """Wait until the workers' backends are gone and their counters flushed."""
        assert self.inspector is not None
        deadline = time.monotonic() + 15
        while self.inspector.new_backends(baseline) and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(self.args.settle)


def fmt(value: float | int | None, spec: str = "{:.1f}") -> str:
    return "-" if value is None else spec.format(value)


def table(rows: list[Row], args: argparse.Namespace) -> str:
    head = (
        f"{args.processes} processes x {args.waiters} waiters in get_event; window {args.window:.0f} s after a "
        f"{args.ramp:.0f} s ramp; {args.probes} wakes per process; 'timed out': wakes that came only at "
        f"get_event's own {args.probe_timeout:.0f} s timeout"
    )
    cols = ["topology", "client", "server conns", "per process", "pooler clients", "net xact/s", "wake p50 ms",
            "wake max ms", "timed out"]  # fmt: skip
    lines = [head, "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        cells = [
            r.topology,
            LABELS[r.client],
            fmt(r.server_connections, "{:d}"),
            fmt(r.per_process),
            fmt(r.pooler_clients, "{:d}"),
            fmt(r.net_xact_per_s),
            fmt(r.wake_p50_ms),
            fmt(r.wake_max_ms),
            f"{r.misses}/{r.wakes}",
        ]
        if r.errors:
            cells[-1] += f" (errors: {len(r.errors)})"
        lines.append("| " + " | ".join(cells) + " |")
    problems = [(r, e) for r in rows for e in r.errors]
    if problems:
        lines += ["", "ERRORS:"] + [f"  {r.topology} / {LABELS[r.client]}: {e.strip()[:400]}" for r, e in problems]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--processes", type=int, default=4, help="client processes (N, default 4)")
    parser.add_argument("--waiters", type=int, default=50, help="waiting threads per process (M, default 50)")
    parser.add_argument("--probes", type=int, default=3, help="timed wakes per process (default 3)")
    parser.add_argument(
        "--probe-timeout",
        type=float,
        default=5.0,
        help="get_event timeout of a timed wake (a wake this slow is a miss)",
    )
    parser.add_argument(
        "--ramp",
        type=float,
        default=11.0,
        help="seconds between the waiters' start and the window (Postgres flushes an idle backend's counters within 10 s)",
    )
    parser.add_argument("--window", type=float, default=5.0, help="seconds over which xact/s is measured")
    parser.add_argument("--settle", type=float, default=1.0, help="pause after each run (counters flush)")
    parser.add_argument("--topologies", default=",".join(TOPOLOGIES), help=f"subset of {','.join(TOPOLOGIES)}")
    parser.add_argument("--clients", default=",".join(CLIENTS), help=f"subset of {','.join(CLIENTS)}")
    parser.add_argument("--admin-url", default=rt.DEFAULT_ADMIN_URL)
    parser.add_argument("--json", metavar="PATH", help="also write the rows as JSON")
    args = parser.parse_args()
    if args.worker:
        worker(json.loads(args.worker))
        return 0
    if pgb.pgbouncer_binary() is None:
        print("pgbouncer is not installed: run `make pgbouncer`", file=sys.stderr)
        return 2
    topologies = [t for t in args.topologies.split(",") if t]
    clients = [c for c in args.clients.split(",") if c]
    # dbos.DBOSClient has no listener URL, so it has no tx+listener run.
    plan = [(t, c) for t in topologies for c in clients if not (c == "dbos" and t == "tx+listener")]
    bench = Bench(args)
    rows: list[Row] = []
    started = time.monotonic()
    try:
        bench.setup(plan)
        for topology, client in plan:
            log(f"{topology} / {LABELS[client]}")
            rows.append(bench.run(topology, client))
            r = rows[-1]
            log(f"  {fmt(r.server_connections, '{:d}')} conns, {fmt(r.net_xact_per_s)} xact/s, "
                f"p50 {fmt(r.wake_p50_ms)} ms, {len(r.errors)} errors")  # fmt: skip
    finally:
        bench.teardown()
    print(table(rows, args))
    print(f"\n({time.monotonic() - started:.0f} s; runtime background {bench.baseline_xact_s:.1f} xact/s subtracted)")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {"settings": vars(args), "baseline_xact_s": bench.baseline_xact_s, "rows": [asdict(r) for r in rows]},
                indent=2,
            )
        )
    return 1 if any(r.errors for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
