"""Side-by-side benchmark: ``dbos.DBOSClient`` (polling and LISTEN/NOTIFY) vs ``dbos_client``.

One run creates a fresh Postgres database, starts the real DBOS 3.4.0 runtime on it
(``tests/interop/interop_app.py``) and measures the three clients against that same
database, one client at a time:

* ``dbos (poll 1s)``  -- ``dbos.DBOSClient(system_database_url=...)``, polls every 1 s;
* ``dbos (listen)``   -- ``dbos.DBOSClient(..., use_listen_notify=True)``;
* ``dbos_client``     -- ``dbos_client.DBOSClient(system_database_url=...)``;
* ``dbos_client (prepare 5)`` -- the same with ``prepare_threshold=5``: statements
  prepared on the server, for a direct connection (no transaction pooler).

Usage::

    .venv/bin/python benchmarks/bench.py [--quick] [--json out.json] [--waiters N]

Setup work (enqueueing the workflows that the latency tests wait on, sending the
trigger messages) is done by a separate "driver": an official ``dbos.DBOSClient`` on
its own SQLAlchemy engine whose connections are named ``bench_driver``, so they are
never counted as the measured client's connections. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import hashlib
import json
import logging
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, distribution, version
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dbos
import psycopg
import sqlalchemy as sa
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from psycopg.conninfo import conninfo_to_dict

import dbos_client

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "tests" / "interop"))
import runtime as rt  # noqa: E402  (the interop harness: fresh database + real DBOS runtime)

# --------------------------------------------------------------------------------------
# Clients, metrics and settings
# --------------------------------------------------------------------------------------

CLIENTS = ("dbos_poll", "dbos_listen", "dbos_client", "dbos_client_prepared")
LABELS = {
    "dbos_poll": "dbos (poll 1s)",
    "dbos_listen": "dbos (listen)",
    "dbos_client": "dbos_client",
    "dbos_client_prepared": "dbos_client (prepare 5)",
}
PEERS = ("dbos_poll", "dbos_listen")
#: Our two configurations: the default (never prepares: safe behind a transaction pooler)
#: and prepare_threshold=5 (psycopg's default, for direct connections).
OURS = ("dbos_client", "dbos_client_prepared")
PREPARED_THRESHOLD = 5
#: How each client names its Postgres connections (a LIKE pattern on application_name).
APP_NAME_PATTERNS = {
    "dbos_poll": "dbos_transact_client",
    "dbos_listen": "dbos_transact_client",
    "dbos_client": "dbos_client/%",
    "dbos_client_prepared": "dbos_client/%",
}
DRIVER_APP_NAME = "bench_driver"
INSPECTOR_APP_NAME = "bench_inspector"

QUEUE = "interop_q"  # polled by the runtime
NLN_WAIT_TIMEOUT = 5.0  # get_event timeout in the no-LISTEN/NOTIFY phase
UNPOLLED_QUEUE = "bench_unpolled"  # no dbos.queues row, so the runtime never runs these
ANCHOR_TOPIC = "bench-never"  # the anchor workflow recv()s on it; only cleanup sends to it
EVENT_KEY, EVENT_VALUE = "bench-key", {"answer": 42}  # set once, read by get_event/s
#: recv timeout of the workflows the latency tests wake; long, so none times out on its own.
WAKE_WORKFLOW_TIMEOUT = 600
#: Postgres flushes a backend's pending counters to pg_stat_database at most once a
#: second, and a backend that then goes idle may hold them for up to 10 s
#: (PGSTAT_IDLE_INTERVAL, checked on Postgres 15). The idle-cost window starts only
#: after this much ramp, so the waiters' start-up queries are already counted and
#: cannot leak into the window; the baseline waits as long after setup work.
STATS_FLUSH_LAG = 12.0
#: A closed connection's counters are flushed when its backend exits, which lands
#: within about a second of close(); wait this long before a baseline window.
EXIT_FLUSH_SETTLE = 2.0


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    better: str | None  # "lower", "higher", or None (informational, no ratio)
    fmt: str = "{:.1f}"


METRICS = [
    Metric("import_ms", "import time, median (ms)", "lower"),
    Metric("installed_mb", "installed size, closure (MB)", "lower", "{:.2f}"),
    Metric("installed_dists", "distributions in closure", "lower", "{:.0f}"),
    Metric("rss_peak_mb", "RSS peak (VmHWM) after import+client+send (MB)", "lower"),
    Metric("rss_current_mb", "RSS current after import+client+send (MB)", "lower"),
    Metric("send_per_s", "send, sequential (msg/s)", "higher", "{:.0f}"),
    Metric("enqueue_per_s", "enqueue, sequential (wf/s)", "higher", "{:.0f}"),
    Metric("get_event_per_s", "get_event, value exists (calls/s)", "higher", "{:.0f}"),
    Metric("wake_p50_ms", "get_event wake latency p50 (ms)", "lower"),
    Metric("wake_p99_ms", "get_event wake latency p99 (ms)", "lower"),
    Metric("stream_p50_ms", "read_stream lag p50 (ms)", "lower"),
    Metric("stream_p99_ms", "read_stream lag p99 (ms)", "lower"),
    Metric("nln_wake_p50_ms", "no LISTEN/NOTIFY runtime: wake p50 (ms)", "lower"),
    Metric("nln_wake_p99_ms", "no LISTEN/NOTIFY runtime: wake p99 (ms)", "lower"),
    Metric("nln_stream_p50_ms", "no LISTEN/NOTIFY runtime: stream lag p50 (ms)", "lower"),
    Metric("idle_baseline_xact_s", "idle: runtime background (xact/s)", None),
    Metric("idle_net_xact_s", "idle waiters: net server xact/s", "lower"),
    Metric("idle_connections", "idle waiters: connections held (max)", "lower", "{:.0f}"),
    Metric("idle_cpu_pct", "idle waiters: bench process CPU (% core)", "lower"),
    Metric("async_wake_p50_ms", "async: get_event wake latency p50 (ms)", "lower"),
    Metric("async_wake_p99_ms", "async: get_event wake latency p99 (ms)", "lower"),
    Metric("async_connections", "async: N waiting tasks, connections held (max)", "lower", "{:.0f}"),
    Metric("async_net_xact_s", "async: N waiting tasks, net server xact/s", "lower"),
    Metric("async_cpu_pct", "async: N waiting tasks, bench process CPU (% core)", "lower"),
    Metric("async_wake_all_ms", "async: all N tasks return after set_event (ms)", "lower"),
]
METRIC_BY_KEY = {m.key: m for m in METRICS}


@dataclass(frozen=True)
class Settings:
    quick: bool
    ops: int  # operations per throughput metric
    warmup: int  # untimed operations before each throughput metric
    reps: int  # repetitions per latency metric
    import_runs: int
    waiters: int
    async_waiters: int
    window: float  # seconds of the idle-cost window (and of its baseline)
    admin_url: str
    only_async: bool = False  # only the AsyncDBOSClient phase (no static, peer or no-NOTIFY runs)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Settings:
        quick = args.quick
        return cls(
            quick=quick,
            ops=args.ops or (100 if quick else 500),
            warmup=5 if quick else 10,
            reps=args.reps or (5 if quick else 20),
            import_runs=args.import_runs or (3 if quick else 7),
            waiters=args.waiters,
            async_waiters=args.async_waiters or (2000 if quick else 10_000),
            window=args.window or (3.0 if quick else 5.0),
            admin_url=args.admin_url,
            only_async=args.only_async,
        )


@dataclass
class Report:
    """Everything a run produces; printed as tables and optionally dumped as JSON."""

    meta: dict[str, Any]
    settings: dict[str, Any]
    values: dict[str, dict[str, float | None]] = field(default_factory=dict)
    details: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: list[dict[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def put(self, client: str, values: dict[str, float]) -> None:
        for key, value in values.items():
            if key in METRIC_BY_KEY:
                self.values.setdefault(key, {})[client] = value

    def attempt(self, client: str, name: str, fn: Callable[[], dict[str, Any]]) -> None:
        """Run one measurement; keep its numbers, or its traceback if it failed.

        A failure must not hide the other measurements, and must not be papered over:
        the traceback goes into the report verbatim.
        """
        log(f"[{LABELS.get(client, client)}] {name} ...")
        started = time.monotonic()
        try:
            result = fn()
        except Exception:
            tb = traceback.format_exc()
            self.errors.append({"client": client, "measurement": name, "traceback": tb})
            log(f"[{LABELS.get(client, client)}] {name} FAILED:\n{tb}")
            return
        detail = result.pop("_detail", None)
        if detail is not None:
            self.details.setdefault(name, {})[client] = detail
        self.put(client, result)
        shown = ", ".join(f"{k}={_fmt_value(k, v)}" for k, v in result.items())
        log(f"[{LABELS.get(client, client)}] {name}: {shown} ({time.monotonic() - started:.1f}s)")


def log(message: str) -> None:
    """Progress goes to stderr so stdout holds only the report."""
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------
# Clients, the setup driver and the inspector (readiness checks, server statistics)
# --------------------------------------------------------------------------------------


def make_client(kind: str, url: str) -> Any:
    """A measured client of the given kind, constructed the way its users would."""
    if kind == "dbos_client":
        return dbos_client.DBOSClient(system_database_url=url)
    if kind == "dbos_client_prepared":
        return dbos_client.DBOSClient(system_database_url=url, prepare_threshold=PREPARED_THRESHOLD)
    return dbos.DBOSClient(system_database_url=url, use_listen_notify=(kind == "dbos_listen"))


def close_client(client: Any) -> None:
    """``dbos.DBOSClient`` closes with destroy(), ``dbos_client`` with close()."""
    closer = getattr(client, "close", None) or client.destroy
    closer()


class Driver:
    """The official client on its own engine, for setup work and trigger messages.

    Its connections are named ``bench_driver`` (a custom engine is the only way to name
    a ``dbos.DBOSClient``'s connections), so the connection counts of the measured
    clients, which match on application_name, never include them.
    """

    def __init__(self, url: str) -> None:
        params = conninfo_to_dict(url)
        engine_url = sa.engine.URL.create(
            "postgresql+psycopg",
            username=params.get("user"),
            password=params.get("password"),
            host=params.get("host"),
            port=int(params.get("port", 5432)),
            database=params.get("dbname"),
        )
        self.engine = sa.create_engine(
            engine_url, pool_size=2, connect_args={"application_name": DRIVER_APP_NAME}
        )
        self.client = dbos.DBOSClient(system_database_engine=self.engine)
        self.last_used = time.monotonic()

    def enqueue(self, workflow_name: str, *args: Any) -> str:
        handle = self.client.enqueue({"queue_name": QUEUE, "workflow_name": workflow_name}, *args)
        self.last_used = time.monotonic()
        return handle.get_workflow_id()

    def send(self, workflow_id: str, message: Any, topic: str) -> None:
        self.client.send(workflow_id, message, topic)
        self.last_used = time.monotonic()

    def close(self) -> None:
        self.client.destroy()
        self.engine.dispose()  # destroy() leaves a caller-supplied engine alone


class Inspector:
    """Direct SQL against the benchmark database: readiness checks and server statistics.

    The statistics connection is to the admin database, so reading pg_stat_* never adds
    transactions to the database being measured.
    """

    def __init__(self, url: str, admin_url: str) -> None:
        self.dbname = conninfo_to_dict(url)["dbname"]
        self.bench = psycopg.connect(url, autocommit=True, application_name=INSPECTOR_APP_NAME)
        self.admin = psycopg.connect(admin_url, autocommit=True, application_name=INSPECTOR_APP_NAME)
        self.last_used = time.monotonic()  # of the benchmark-database connection

    def close(self) -> None:
        self.bench.close()
        self.admin.close()

    def server_version(self) -> str:
        return str(self.admin.execute("SHOW server_version").fetchone()[0])

    def wait_blocked_in_recv(self, workflow_ids: list[str], timeout: float = 60) -> None:
        """Wait until every workflow is blocked in ``DBOS.recv``.

        recv records its timeout as a ``DBOS.sleep`` step before it starts waiting, so
        that row is the signal that a message sent now is one the workflow waits for.
        """
        query = (
            "SELECT count(DISTINCT workflow_uuid) FROM dbos.operation_outputs "
            "WHERE workflow_uuid = ANY(%s) AND function_name = 'DBOS.sleep'"
        )

        def all_blocked() -> bool:
            return self.bench.execute(query, (workflow_ids,)).fetchone()[0] == len(workflow_ids)

        self._wait_until(all_blocked, timeout, f"{len(workflow_ids)} workflow(s) to block in recv")

    def wait_status(self, workflow_id: str, status: str, timeout: float = 60) -> None:
        query = "SELECT status FROM dbos.workflow_status WHERE workflow_uuid = %s"

        def reached() -> bool:
            row = self.bench.execute(query, (workflow_id,)).fetchone()
            return row is not None and row[0] == status

        self._wait_until(reached, timeout, f"workflow {workflow_id} to reach {status}")

    def xact_total(self) -> int:
        """Committed + rolled-back transactions of the benchmark database so far."""
        row = self.admin.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s", (self.dbname,)
        ).fetchone()
        return int(row[0])

    def connections(self, app_name_pattern: str) -> int:
        """Sessions on the benchmark database whose application_name matches the pattern."""
        row = self.admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND application_name LIKE %s",
            (self.dbname, app_name_pattern),
        ).fetchone()
        return int(row[0])

    def _wait_until(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        try:
            while not predicate():
                if time.monotonic() > deadline:
                    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
                time.sleep(0.02)
        finally:
            self.last_used = time.monotonic()


@dataclass
class Context:
    """What every per-client measurement needs."""

    url: str
    settings: Settings
    driver: Driver
    inspector: Inspector
    anchor_id: str  # a workflow blocked in recv for the whole run
    event_id: str  # a finished workflow that has set event EVENT_KEY


# --------------------------------------------------------------------------------------
# Static measurements (fresh subprocesses / installed metadata)
# --------------------------------------------------------------------------------------

_IMPORT_TEMPLATE = "import time; t=time.perf_counter(); from {} import DBOSClient; print(time.perf_counter()-t)"
IMPORT_SNIPPETS = {name: _IMPORT_TEMPLATE.format(name) for name in ("dbos", "dbos_client")}


def _run_python(code: str, *args: str) -> str:
    """Run ``python -c code args`` in a fresh interpreter (neutral cwd); return its stdout."""
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tempfile.gettempdir(),  # keep the repo checkout off sys.path[0]
    )
    if out.returncode != 0:
        raise RuntimeError(f"subprocess failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return out.stdout.strip().splitlines()[-1]


def measure_import_time(runs: int) -> dict[str, dict[str, Any]]:
    """Median wall time of ``from X import DBOSClient`` in fresh interpreters.

    The two packages alternate so that any drift in machine load hits both; one untimed
    run each first makes sure bytecode caches exist. Both dbos columns share the dbos
    number: the import is the same.
    """
    for snippet in IMPORT_SNIPPETS.values():
        _run_python(snippet)
    samples: dict[str, list[float]] = {name: [] for name in IMPORT_SNIPPETS}
    for _ in range(runs):
        for name, snippet in IMPORT_SNIPPETS.items():
            samples[name].append(float(_run_python(snippet)) * 1000)
    dbos_ms, client_ms = statistics.median(samples["dbos"]), statistics.median(samples["dbos_client"])
    return {
        "dbos_poll": {"import_ms": dbos_ms, "_detail": samples["dbos"]},
        "dbos_listen": {"import_ms": dbos_ms},
        "dbos_client": {"import_ms": client_ms, "_detail": samples["dbos_client"]},
        "dbos_client_prepared": {"import_ms": client_ms},
    }


def dependency_closure(root: str) -> list[str]:
    """Names of ``root`` and every distribution it needs, walking ``requires()``.

    A requirement counts only if its marker holds for this interpreter with the extras
    actually requested (``psycopg[binary,pool]`` pulls in psycopg-binary and
    psycopg-pool; a ``; extra == "test"`` requirement of the root does not).
    """
    requested: dict[str, set] = {}
    stack = [(root, frozenset())]
    while stack:
        name, extras = stack.pop()
        key = canonicalize_name(name)
        done = requested.get(key)
        if done is not None and extras <= done:
            continue
        requested[key] = (done or set()) | set(extras)
        for line in distribution(name).requires or []:
            req = Requirement(line)
            envs = [{"extra": extra} for extra in (extras or {""})]
            if req.marker is not None and not any(req.marker.evaluate(env) for env in envs):
                continue
            stack.append((req.name, frozenset(req.extras)))
    return sorted(requested)


def distribution_size(name: str) -> tuple[int, bool]:
    """Bytes on disk of one distribution's files; also whether it is an editable install.

    RECORD sizes are used where present, else the file's actual size. An editable
    install's RECORD lists only its metadata, so its package directory is added.
    """
    dist = distribution(name)
    total = 0
    for f in dist.files or []:
        if f.size is not None:
            total += f.size
        else:
            path = Path(str(f.locate()))
            total += path.stat().st_size if path.is_file() else 0
    direct_url = json.loads(dist.read_text("direct_url.json") or "{}")
    editable = bool(direct_url.get("dir_info", {}).get("editable"))
    if editable:
        source = Path(urlsplit(direct_url["url"]).path)
        for top in (dist.read_text("top_level.txt") or "").split():
            total += sum(p.stat().st_size for p in (source / top).rglob("*") if p.is_file())
    return total, editable


def measure_installed_size() -> dict[str, dict[str, Any]]:
    """Installed footprint of what each client drags in: its full dependency closure."""
    results: dict[str, dict[str, Any]] = {}
    for root, columns in (("dbos", ("dbos_poll", "dbos_listen")), ("dbos-client", OURS)):
        names = dependency_closure(root)
        sizes: dict[str, int] = {}
        missing: list[str] = []
        editable: list[str] = []
        for name in names:
            try:
                sizes[name], is_editable = distribution_size(name)
            except PackageNotFoundError:
                missing.append(name)
                continue
            if is_editable:
                editable.append(name)
        detail = {"bytes": sizes, "missing": missing, "editable": editable}
        for col in columns:
            results[col] = {
                "installed_mb": sum(sizes.values()) / 1e6,
                "installed_dists": float(len(sizes)),
                "_detail": detail,
            }
    return results


# Runs in a fresh interpreter: import, build a client, one send, then read the RSS.
# Peak is VmHWM, not ru_maxrss: on Linux a child's ru_maxrss starts from the parent's
# peak (it survives fork+exec), so it would report this benchmark process's size.
RSS_SNIPPET = r"""
import json, resource, sys
kind, url, wid = sys.argv[1:4]
if kind.startswith("dbos_client"):
    from dbos_client import DBOSClient
    client = DBOSClient(system_database_url=url, prepare_threshold=5 if kind == "dbos_client_prepared" else None)
else:
    from dbos import DBOSClient
    client = DBOSClient(system_database_url=url, use_listen_notify=(kind == "dbos_listen"))
client.send(wid, "rss-probe", "bench-rss")
maxrss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
with open("/proc/self/status") as f:
    kib = {k: int(v.split()[0]) for k, v in (line.split(":", 1) for line in f) if k in ("VmHWM", "VmRSS")}
(getattr(client, "close", None) or client.destroy)()
print(json.dumps({"peak": kib["VmHWM"] * 1024, "current": kib["VmRSS"] * 1024, "ru_maxrss": maxrss_kib * 1024}))
"""


def measure_rss(kind: str, url: str, anchor_id: str) -> dict[str, Any]:
    """Peak and current RSS of a fresh process that imported, built a client and sent once."""
    out = json.loads(_run_python(RSS_SNIPPET, kind, url, anchor_id))
    return {"rss_peak_mb": out["peak"] / 1e6, "rss_current_mb": out["current"] / 1e6, "_detail": out}


# --------------------------------------------------------------------------------------
# Per-client measurements (one live client, the shared database)
# --------------------------------------------------------------------------------------


def _rate(op: Callable[[int], Any], n: int, warmup: int) -> float:
    """Operations per second of ``op(i)`` called ``n`` times in a row, after a warm-up.

    The warm-up opens the pool connections and detects the schema, which would
    otherwise be charged to the first few timed calls.
    """
    for i in range(warmup):
        op(-1 - i)
    started = time.perf_counter()
    for i in range(n):
        op(i)
    return n / (time.perf_counter() - started)


def measure_send_rate(client: Any, ctx: Context) -> dict[str, Any]:
    """Sequential sends from one thread to the anchor workflow (a topic it never reads)."""

    def send(i: int) -> None:
        client.send(ctx.anchor_id, {"i": i}, "bench-send")

    return {"send_per_s": _rate(send, ctx.settings.ops, ctx.settings.warmup)}


def measure_enqueue_rate(client: Any, ctx: Context) -> dict[str, Any]:
    """Sequential enqueues of ``echo`` on a queue no worker polls, so nothing runs them."""
    options = {"queue_name": UNPOLLED_QUEUE, "workflow_name": "echo"}

    def enqueue(i: int) -> None:
        client.enqueue(dict(options), i)

    return {"enqueue_per_s": _rate(enqueue, ctx.settings.ops, ctx.settings.warmup)}


def measure_get_event_rate(client: Any, ctx: Context) -> dict[str, Any]:
    """Sequential ``get_event`` calls for an event that is already set (no waiting)."""
    first = client.get_event(ctx.event_id, EVENT_KEY, timeout_seconds=1)
    if first != EVENT_VALUE:
        raise AssertionError(f"get_event returned {first!r}, expected {EVENT_VALUE!r}")

    def get(_: int) -> None:
        client.get_event(ctx.event_id, EVENT_KEY, timeout_seconds=1)

    return {"get_event_per_s": _rate(get, ctx.settings.ops, ctx.settings.warmup)}


def _start_blocked_workflows(ctx: Context, workflow_name: str, tag: str) -> list[tuple]:
    """Start one workflow per repetition and wait until each is blocked in recv.

    Starting them all up front keeps queue dispatch out of the repetitions and
    guarantees the trigger message is one a workflow is already waiting for.
    Returns (workflow_id, key, topic) triples.
    """
    runs = []
    for i in range(ctx.settings.reps):
        key, topic = f"{tag}-key-{i}", f"{tag}-topic-{i}"
        runs.append((ctx.driver.enqueue(workflow_name, key, topic, WAKE_WORKFLOW_TIMEOUT), key, topic))
    ctx.inspector.wait_blocked_in_recv([wid for wid, _, _ in runs])
    return runs


def percentile(samples: list[float], pct: float) -> float:
    """Nearest-rank percentile: with fewer than 100 samples, p99 is the maximum."""
    ordered = sorted(samples)
    return ordered[max(1, math.ceil(pct / 100 * len(ordered))) - 1]


class _Waiter(threading.Thread):
    """Runs one blocking call; records when it returned, what, or what it raised."""

    def __init__(self, call: Callable[[_Waiter], Any]) -> None:
        super().__init__(daemon=True)
        self._call = call
        self.result: Any = None
        self.error: BaseException | None = None
        self.returned_at: float | None = None
        self.returned_wall: float = 0.0  # time.time(), comparable with the app's stamps
        self.marks: dict[str, float] = {}
        self.first_value = threading.Event()

    def run(self) -> None:
        try:
            self.result = self._call(self)
            self.returned_at = time.perf_counter()
            self.returned_wall = time.time()
        except BaseException as exc:  # re-raised in the measuring thread
            self.error = exc
        finally:
            self.first_value.set()  # never leave the main thread waiting on a dead reader

    def outcome(self, timeout: float) -> Any:
        self.join(timeout)
        if self.is_alive():
            raise TimeoutError(f"waiter still blocked after {timeout}s")
        if self.error is not None:
            raise self.error
        return self.result


def measure_get_event_wake(client: Any, ctx: Context, wait_timeout: float = 30) -> dict[str, Any]:
    """How long after the workflow's ``set_event`` a blocked ``get_event`` returns.

    Each repetition: a thread blocks in ``get_event``; after 0.3 s (so it surely waits)
    the driver sends the message that lets ``event_stamped_after_message`` leave recv and
    set the event. The value carries ``time.time()`` taken just before its set_event
    (same machine, same clock), so the latency is the client's alone: set_event's write
    plus the client noticing and reading it, not the runtime's own recv wake-up.
    """
    latencies = []
    runs = _start_blocked_workflows(ctx, "event_stamped_after_message", f"wake-{uuid.uuid4().hex[:6]}")
    for i, (wid, key, topic) in enumerate(runs):
        message = {"rep": i}
        waiter = _Waiter(lambda _w, wid=wid, key=key: client.get_event(wid, key, wait_timeout))
        waiter.start()
        time.sleep(0.3)
        ctx.driver.send(wid, message, topic)
        value = waiter.outcome(wait_timeout + 10)
        if not isinstance(value, dict) or value.get("msg") != message:
            raise AssertionError(f"repetition {i}: get_event returned {value!r}, expected msg {message!r}")
        latencies.append((waiter.returned_wall - value["at"]) * 1000)
    return {
        "wake_p50_ms": percentile(latencies, 50),
        "wake_p99_ms": percentile(latencies, 99),
        "_detail": latencies,
    }


def measure_read_stream_lag(client: Any, ctx: Context) -> dict[str, Any]:
    """How long after the workflow's ``write_stream`` a ``read_stream`` reader has the value.

    ``stream_stamped_after_message`` writes "first", blocks in recv, then writes
    ``{"msg", "at": time.time()}`` and closes the stream. The reader iterates from the
    start; once it has "first", the driver sends; the lag runs from the stamp.
    """

    def read(waiter: _Waiter, wid: str, key: str) -> list[Any]:
        values = []
        for value in client.read_stream(wid, key, timeout_seconds=30):
            values.append(value)
            if len(values) == 1:
                waiter.first_value.set()
            elif len(values) == 2:
                waiter.marks["second"] = time.time()
        return values

    lags = []
    runs = _start_blocked_workflows(ctx, "stream_stamped_after_message", f"stream-{uuid.uuid4().hex[:6]}")
    for i, (wid, key, topic) in enumerate(runs):
        message = {"rep": i}
        reader = _Waiter(lambda w, wid=wid, key=key: read(w, wid, key))
        reader.start()
        if not reader.first_value.wait(30):
            raise TimeoutError(f"repetition {i}: no first stream value within 30 s")
        ctx.driver.send(wid, message, topic)
        values = reader.outcome(40)
        if len(values) != 2 or values[0] != "first" or values[1].get("msg") != message:
            raise AssertionError(f"repetition {i}: read_stream yielded {values!r}")
        lags.append((reader.marks["second"] - values[1]["at"]) * 1000)
    return {
        "stream_p50_ms": percentile(lags, 50),
        "stream_p99_ms": percentile(lags, 99),
        "_detail": lags,
    }


def measure_background_rate(ctx: Context) -> float:
    """Server transactions/s on the benchmark database with no measured client open.

    First lets the statistics of earlier work arrive (see STATS_FLUSH_LAG and
    EXIT_FLUSH_SETTLE), so that they are not mistaken for the runtime's own rate.
    """
    quiet_for = time.monotonic() - max(ctx.driver.last_used, ctx.inspector.last_used)
    time.sleep(max(EXIT_FLUSH_SETTLE, STATS_FLUSH_LAG - quiet_for))
    x0, t0 = ctx.inspector.xact_total(), time.monotonic()
    time.sleep(ctx.settings.window)
    return (ctx.inspector.xact_total() - x0) / (time.monotonic() - t0)


def measure_idle_waiters(client: Any, kind: str, ctx: Context, baseline: float) -> dict[str, Any]:
    """What W threads blocked in ``get_event`` cost while nothing happens.

    The keys are never set, on a workflow that stays PENDING, so every waiter just
    waits. After a ramp (see STATS_FLUSH_LAG), for ``window`` seconds: server
    transactions/s minus the runtime's background ``baseline``, the most connections
    the client held (by application_name), and this process's CPU. Then the waiters
    time out (None) and are joined.
    """
    s = ctx.settings
    timeout = STATS_FLUSH_LAG + s.window + 1.5  # ends soon after the window
    waiters = [
        _Waiter(lambda _w, i=i: client.get_event(ctx.anchor_id, f"idle-{i}", timeout)) for i in range(s.waiters)
    ]
    for w in waiters:
        w.start()
    time.sleep(STATS_FLUSH_LAG)

    x0, cpu0, t0 = ctx.inspector.xact_total(), time.process_time(), time.monotonic()
    max_connections = 0
    while time.monotonic() - t0 < s.window:
        max_connections = max(max_connections, ctx.inspector.connections(APP_NAME_PATTERNS[kind]))
        time.sleep(0.25)
    x1, cpu1, elapsed = ctx.inspector.xact_total(), time.process_time(), time.monotonic() - t0

    failures = _join_waiters(waiters, timeout + 60)
    gross = (x1 - x0) / elapsed
    return {
        "idle_baseline_xact_s": baseline,
        "idle_net_xact_s": gross - baseline,
        "idle_connections": float(max_connections),
        "idle_cpu_pct": (cpu1 - cpu0) / elapsed * 100,
        "_detail": {"waiters": s.waiters, "gross_xact_s": gross, "window_s": elapsed, "failures": failures},
    }


def measure_async_wake(ctx: Context, wait_timeout: float = 30) -> dict[str, Any]:
    """``measure_get_event_wake`` for ``AsyncDBOSClient``: how long after the workflow's
    ``set_event`` a task blocked in ``get_event`` returns (one task waiting at a time)."""
    from dbos_client import AsyncDBOSClient

    runs = _start_blocked_workflows(ctx, "event_stamped_after_message", f"awake-{uuid.uuid4().hex[:6]}")

    async def main() -> list[float]:
        latencies = []
        async with AsyncDBOSClient(system_database_url=ctx.url) as client:
            for i, (wid, key, topic) in enumerate(runs):
                message = {"rep": i}
                task = asyncio.create_task(client.get_event(wid, key, wait_timeout))
                await asyncio.sleep(0.3)
                await asyncio.to_thread(ctx.driver.send, wid, message, topic)
                value = await asyncio.wait_for(task, wait_timeout + 10)
                returned_wall = time.time()
                if not isinstance(value, dict) or value.get("msg") != message:
                    raise AssertionError(f"repetition {i}: get_event returned {value!r}, expected msg {message!r}")
                latencies.append((returned_wall - value["at"]) * 1000)
        return latencies

    latencies = asyncio.run(main())
    return {
        "async_wake_p50_ms": percentile(latencies, 50),
        "async_wake_p99_ms": percentile(latencies, 99),
        "_detail": latencies,
    }


def measure_async_waiters(ctx: Context, baseline: float) -> dict[str, Any]:
    """N tasks blocked in ``AsyncDBOSClient.get_event`` on one client: their idle cost, then
    how long until all of them return once the event is set.

    dbos_client only: ``dbos.DBOSClient.get_event_async`` runs each wait on the default
    thread executor (a handful of threads), so N = 10,000 concurrent waits cannot run there.
    """
    from dbos_client import AsyncDBOSClient

    s = ctx.settings
    n = s.async_waiters
    wid, key, topic = _start_blocked_workflows(replace(ctx, settings=replace(s, reps=1)), "event_after_message", "async")[0]

    async def main() -> dict[str, Any]:
        async with AsyncDBOSClient(system_database_url=ctx.url) as client:
            # Connected and the schema known before the N tasks start: N first calls on a cold
            # client queue one by one on its schema lock, so their reads are not coalesced.
            await client.check_connection()
            timeout = STATS_FLUSH_LAG + s.window + 120
            tasks = [asyncio.create_task(client.get_event(wid, key, timeout)) for _ in range(n)]
            await asyncio.sleep(STATS_FLUSH_LAG)
            x0, cpu0, t0 = await asyncio.to_thread(ctx.inspector.xact_total), time.process_time(), time.monotonic()
            max_connections = 0
            while time.monotonic() - t0 < s.window:
                held = await asyncio.to_thread(ctx.inspector.connections, APP_NAME_PATTERNS["dbos_client"])
                max_connections = max(max_connections, held)
                await asyncio.sleep(0.25)
            x1, cpu1 = await asyncio.to_thread(ctx.inspector.xact_total), time.process_time()
            elapsed = time.monotonic() - t0
            sent = time.perf_counter()
            await asyncio.to_thread(ctx.driver.send, wid, "wake", topic)
            results = await asyncio.gather(*tasks)
            wake_all = (time.perf_counter() - sent) * 1000
            wrong = sum(1 for r in results if r != "wake")
            if wrong:
                raise AssertionError(f"{wrong} of {n} async waiters returned something else")
            return {
                "async_connections": float(max_connections),
                "async_net_xact_s": (x1 - x0) / elapsed - baseline,
                "async_cpu_pct": (cpu1 - cpu0) / elapsed * 100,
                "async_wake_all_ms": wake_all,
                "_detail": {"tasks": n, "window_s": elapsed},
            }

    return asyncio.run(main())


def _join_waiters(waiters: list[_Waiter], timeout: float) -> list[str]:
    """Join all waiters; each should have timed out and returned None. Lists the others."""
    deadline = time.monotonic() + timeout
    failures = []
    for i, w in enumerate(waiters):
        w.join(max(0.0, deadline - time.monotonic()))
        if w.is_alive():
            failures.append(f"waiter {i}: still blocked after {timeout:.0f}s")
        elif w.error is not None:
            tb = "".join(traceback.format_exception(type(w.error), w.error, w.error.__traceback__))
            failures.append(f"waiter {i}: {tb}")
        elif w.result is not None:
            failures.append(f"waiter {i}: returned {w.result!r}, expected None")
    return failures


# --------------------------------------------------------------------------------------
# Orchestration
# --------------------------------------------------------------------------------------


def run_client_phase(kind: str, ctx: Context, report: Report) -> None:
    """All live measurements of one client, on its own, then close it.

    One client at a time: the two dbos variants share an application_name, so their
    connections could not be told apart if both were open, and they would compete.
    """
    baseline = measure_background_rate(ctx)
    log(f"[{LABELS[kind]}] runtime background: {baseline:.1f} xact/s")
    try:
        client = make_client(kind, ctx.url)
    except Exception:  # e.g. an older dbos_client on PYTHONPATH without prepare_threshold
        report.errors.append({"client": kind, "measurement": "constructor", "traceback": traceback.format_exc()})
        return
    try:
        report.attempt(kind, "send", lambda: measure_send_rate(client, ctx))
        report.attempt(kind, "enqueue", lambda: measure_enqueue_rate(client, ctx))
        report.attempt(kind, "get_event_existing", lambda: measure_get_event_rate(client, ctx))
        report.attempt(kind, "get_event_wake", lambda: measure_get_event_wake(client, ctx))
        report.attempt(kind, "read_stream_lag", lambda: measure_read_stream_lag(client, ctx))
        report.attempt(kind, "idle_waiters", lambda: measure_idle_waiters(client, kind, ctx, baseline))
        failures = report.details.get("idle_waiters", {}).get(kind, {}).get("failures", [])
        if failures:
            report.problems.append(
                f"{LABELS[kind]}: {len(failures)} of {ctx.settings.waiters} idle waiters misbehaved; first: {failures[0]}"
            )
    finally:
        close_client(client)


def prepare_workflows(driver: Driver, inspector: Inspector) -> tuple[str, str]:
    """The anchor (blocked in recv all run long) and a finished workflow with an event."""
    anchor_id = driver.enqueue("recv_n", ANCHOR_TOPIC, 1, 3600)
    event_id = driver.enqueue("set_event_value", EVENT_KEY, EVENT_VALUE)
    inspector.wait_blocked_in_recv([anchor_id])
    inspector.wait_status(event_id, "SUCCESS")
    return anchor_id, event_id


def check_sources_unchanged(report: Report) -> None:
    """The subprocesses of the static measurements import dbos_client from disk; this
    process imported it at start. If the tree changed in between, they measured
    different code. (Later changes do not matter: nothing imports it again.)"""
    now = source_fingerprint()
    if now != report.meta["dbos_client_sources"]:
        report.problems.append(
            "the dbos_client sources changed while the run was importing them: results mix code "
            f"versions (fingerprint {report.meta['dbos_client_sources']} at start, {now} after the subprocesses)"
        )


def run_static(ctx: Context, report: Report) -> None:
    """Measurements that do not need a live client in this process."""
    for name, fn in (
        ("import_time", lambda: measure_import_time(ctx.settings.import_runs)),
        ("installed_size", measure_installed_size),
    ):
        log(f"[all] {name} ...")
        try:
            for client, values in fn().items():
                detail = values.pop("_detail", None)
                if detail is not None:
                    report.details.setdefault(name, {})[client] = detail
                report.put(client, values)
        except Exception:
            report.errors.append({"client": "all", "measurement": name, "traceback": traceback.format_exc()})
    for kind in CLIENTS:
        report.attempt(kind, "rss", lambda kind=kind: measure_rss(kind, ctx.url, ctx.anchor_id))


def run(settings: Settings) -> Report:
    """Fresh database, real runtime, all measurements, then tear everything down."""
    report = Report(meta=collect_meta(), settings=asdict(settings))
    url = rt.create_database(settings.admin_url, prefix="dbos_client_bench")
    log(f"database: {conninfo_to_dict(url)['dbname']}")
    try:
        with rt.DBOSRuntime(rt.runtime_python("3.4.0"), url) as runtime:
            report.meta["runtime_startup_s"] = runtime.startup_seconds
            driver, inspector = Driver(url), Inspector(url, settings.admin_url)
            try:
                report.meta["postgres"] = inspector.server_version()
                anchor_id, event_id = prepare_workflows(driver, inspector)
                ctx = Context(url, settings, driver, inspector, anchor_id, event_id)
                if not settings.only_async:
                    run_static(ctx, report)
                    check_sources_unchanged(report)
                    for kind in CLIENTS:
                        run_client_phase(kind, ctx, report)
                report.attempt("dbos_client", "async_wake", lambda: measure_async_wake(ctx))
                baseline = measure_background_rate(ctx)
                report.attempt("dbos_client", "async_waiters", lambda: measure_async_waiters(ctx, baseline))
                driver.send(anchor_id, "done", ANCHOR_TOPIC)  # let the anchor finish
            finally:
                driver.close()
                inspector.close()
            if not runtime.running:
                report.problems.append("the DBOS runtime exited during the run:\n" + runtime.log_tail())
        if runtime.proc is not None and runtime.proc.returncode != 0:
            report.problems.append(f"the DBOS runtime exited with {runtime.proc.returncode}:\n{runtime.log_tail()}")
    finally:
        rt.drop_database(url, settings.admin_url)
    if not settings.only_async:
        run_without_notify(settings, report)
    return report


def run_without_notify(settings: Settings, report: Report) -> None:
    """Wake latency when the runtime publishes no NOTIFY at all (use_listen_notify=False).

    A fresh database whose runtime runs with INTEROP_LISTEN_NOTIFY=0: no trigger, no
    app-side NOTIFY. Every client can then only notice values by polling. A client that
    relies on notifications only sees the value at its final read, at the deadline: the
    wait timeout here is 5 s and the repetitions at most 5, so such a client shows about
    5000 ms instead of blocking the run for minutes.
    """
    settings = replace(settings, reps=min(settings.reps, 5))
    url = rt.create_database(settings.admin_url, prefix="dbos_client_bench_nln")
    try:
        with rt.DBOSRuntime(rt.runtime_python("3.4.0"), url, env={"INTEROP_LISTEN_NOTIFY": "0"}):
            driver, inspector = Driver(url), Inspector(url, settings.admin_url)
            try:
                anchor_id, event_id = prepare_workflows(driver, inspector)
                ctx = Context(url, settings, driver, inspector, anchor_id, event_id)
                for kind in CLIENTS:
                    log(f"[{LABELS[kind]}] without LISTEN/NOTIFY ...")
                    try:
                        client = make_client(kind, url)
                    except Exception:
                        continue  # already reported by its main phase
                    try:
                        wake = functools.partial(measure_get_event_wake, wait_timeout=NLN_WAIT_TIMEOUT)
                        for name, fn in (("nln_wake", wake), ("nln_stream", measure_read_stream_lag)):
                            report.attempt(kind, name, lambda fn=fn, client=client: {
                                f"nln_{k}": v for k, v in fn(client, ctx).items() if not k.startswith("_")
                            })  # fmt: skip
                    finally:
                        close_client(client)
                driver.send(anchor_id, "done", ANCHOR_TOPIC)
            finally:
                driver.close()
                inspector.close()
    finally:
        rt.drop_database(url, settings.admin_url)


def source_fingerprint() -> str:
    """Short hash of the dbos_client sources this run measures (the tree may be dirty)."""
    digest = hashlib.sha256()
    package = Path(dbos_client.__file__).parent
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def git_describe() -> str:
    """HEAD commit, plus '+dirty' when dbos_client/ has uncommitted changes."""
    def git(*args: str) -> str:
        out = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True)
        return out.stdout.strip() if out.returncode == 0 else ""

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return head + ("+dirty" if git("status", "--porcelain", "--", "dbos_client") else "")


def collect_meta() -> dict[str, Any]:
    return {
        "date": datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "psycopg": psycopg.__version__,
        "psycopg_impl": psycopg.pq.__impl__,
        "libpq": psycopg.pq.version(),
        "dbos": version("dbos"),
        "dbos_client": version("dbos-client"),
        "dbos_client_git": git_describe(),
        "dbos_client_sources": source_fingerprint(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
    }


# --------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------


#: Measured for dbos_client only (see measure_async_waiters): no peer value is expected.
DBOS_CLIENT_ONLY = {
    "async_wake_p50_ms", "async_wake_p99_ms", "async_connections", "async_net_xact_s", "async_cpu_pct", "async_wake_all_ms",
}  # fmt: skip


def _fmt_value(key: str, value: float | None) -> str:
    if value is None:
        return "n/a" if key in DBOS_CLIENT_ONLY else "ERR"
    metric = METRIC_BY_KEY.get(key)
    return (metric.fmt if metric else "{:.3g}").format(value)


def _ratio_cell(metric: Metric, mine: float | None, peer: float | None) -> str:
    """dbos_client / peer, with whether that is better or worse for this metric."""
    if metric.key in DBOS_CLIENT_ONLY:
        return "n/a"
    if mine is None or peer is None:
        return "ERR"
    # A net rate can come out slightly negative: zero within the background's noise.
    if peer <= 0:
        return "n/a (peer ~0)"
    if mine <= 0:
        return "~0x " + ("better" if metric.better == "lower" else "worse")
    ratio = mine / peer
    if abs(ratio - 1) < 0.05:
        verdict = "same"
    elif (ratio < 1) == (metric.better == "lower"):
        verdict = "better"
    else:
        verdict = "worse"
    return f"{ratio:.3g}x {verdict}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        # First column (labels) left-aligned, numbers right-aligned.
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True)))

    return "\n".join([line(header), "  ".join("-" * w for w in widths)] + [line(r) for r in rows])


def render(report: Report) -> str:
    m, s = report.meta, report.settings
    out = [
        "dbos_client benchmark",
        f"date {m['date']}  |  Python {m['python']} ({m['implementation']})  |  psycopg {m['psycopg']} "
        f"({m['psycopg_impl']}, libpq {m['libpq']})  |  dbos {m['dbos']}  |  dbos_client {m['dbos_client']} "
        f"(git {m['dbos_client_git']}, sources {m['dbos_client_sources']})",
        f"Postgres {m.get('postgres', '?')}  |  {m['cores']} cores  |  {m['platform']}  |  "
        f"runtime startup {m.get('runtime_startup_s') or 0:.1f}s",
        f"settings: ops={s['ops']} (+{s['warmup']} warm-up)  reps={s['reps']}  import runs={s['import_runs']}  "
        f"waiters={s['waiters']}  window={s['window']:.0f}s{'  (--quick)' if s['quick'] else ''}",
        "",
    ]
    rows = [
        [metric.label] + [_fmt_value(metric.key, report.values.get(metric.key, {}).get(c)) for c in CLIENTS]
        for metric in METRICS
    ]
    out.append(_table(["metric"] + [LABELS[c] for c in CLIENTS], rows))
    out.append("")
    ratio_rows = []
    for metric in METRICS:
        if metric.better is None:
            continue
        vals = report.values.get(metric.key, {})
        ratio_rows.append(
            [f"{metric.label} [{metric.better} is better]"]
            + [_ratio_cell(metric, vals.get(ours), vals.get(p)) for ours in OURS for p in PEERS]
        )
    header = ["ours / peer"] + [f"{LABELS[ours]} vs {LABELS[p]}" for ours in OURS for p in PEERS]
    out.append(_table(header, ratio_rows))
    out.append("")
    out.append("import time and installed size are per package: both dbos columns show the same dbos number.")
    if report.notes:
        out += ["", "NOTES:"] + [f"- {n}" for n in report.notes]
    if report.problems:
        out += ["", "PROBLEMS:"] + [f"- {p}" for p in report.problems]
    if report.errors:
        out += ["", "ERRORS:"]
        for err in report.errors:
            out.append(f"--- {LABELS.get(err['client'], err['client'])} / {err['measurement']}")
            out.append(err["traceback"].rstrip())
    return "\n".join(out)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer operations and repetitions (about 1.5 minutes)")
    p.add_argument("--json", metavar="PATH", help="also write the full report (with raw samples) as JSON")
    p.add_argument("--waiters", type=int, default=100, help="concurrent get_event waiters, idle cost (default 100)")
    p.add_argument("--async-waiters", type=int, help="waiting tasks on one AsyncDBOSClient (default 10000, --quick 2000)")
    p.add_argument("--only-async", action="store_true", help="only the AsyncDBOSClient phase (wake, N waiting tasks)")
    p.add_argument("--ops", type=int, help="operations per throughput metric (default 500, --quick 100)")
    p.add_argument("--reps", type=int, help="repetitions per latency metric (default 20, --quick 5)")
    p.add_argument("--import-runs", type=int, help="fresh interpreters per import-time median (default 7, --quick 3)")
    p.add_argument("--window", type=float, help="idle-cost window in seconds (default 5, --quick 3)")
    p.add_argument("--admin-url", default=rt.DEFAULT_ADMIN_URL, help="Postgres URL used to create/drop the database")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = Settings.from_args(args)
    # Make library warnings (e.g. about the unpolled queue) attributable in the log.
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s: %(message)s"))
    logging.getLogger("dbos_client").addHandler(handler)
    started = time.monotonic()
    report = run(settings)
    report.meta["total_seconds"] = time.monotonic() - started
    now = source_fingerprint()
    if now != report.meta["dbos_client_sources"] and not report.problems:
        report.notes.append(
            f"the dbos_client sources changed on disk after the last import (now {now}); "
            f"every number above is for {report.meta['dbos_client_sources']}"
        )
    print(render(report))
    print(f"\ntotal run time {report.meta['total_seconds']:.0f}s")
    if args.json:
        Path(args.json).write_text(json.dumps(asdict(report), indent=2, default=str))
        log(f"JSON report written to {args.json}")
    return 1 if report.errors or report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
