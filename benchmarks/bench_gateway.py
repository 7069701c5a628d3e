"""The HTTP gateway under load, side by side with a FastAPI app built on ``dbos.DBOSClient``.

One run creates a fresh Postgres database, starts the real DBOS 3.4.0 runtime on it
(``tests/interop/interop_app.py``), and serves it twice over the loopback:

* ``gateway``  -- ``dbos-client serve`` (this checkout), a send token, default settings;
* ``dbos app`` -- the same routes written on ``dbos.DBOSClient(use_listen_notify=True)``
  (``get_event_async``, ``send_async``), served by uvicorn the same way.

It measures:

* requests/s of ``GET /workflow-events/{id}/{key}?timeout=0`` (an existing event) and of
  ``POST /send-message``, 64 keep-alive connections for ``--seconds`` each, on both servers;
* 1,000 concurrent long-polls on one key (gateway): the server's RSS added, its Postgres
  connections, then how long after one ``set_event`` the last of them is answered; and how fast
  500 long-polls whose clients reset their connections free their waits (``/health``);
* 500 SSE readers of a 100-value stream (gateway): every reader gets every value in order,
  exactly once; then 500 readers of a pending stream, 250 killed: how fast their waits go.

Usage::

    PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_gateway.py [--seconds 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi import Request  # at module level: the baseline's route annotations are resolved here

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "tests" / "interop"))
QUEUE = "interop_q"
TOKEN = "bench-token-" + uuid.uuid4().hex
ADMIN_URL = os.environ.get("DBOS_CLIENT_TEST_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def log(*args: Any) -> None:
    print(*args, file=sys.stderr, flush=True)


# -- the baseline: the same routes on dbos.DBOSClient ----------------------------------------


def baseline_app(url: str) -> Any:
    import dbos
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse

    client = dbos.DBOSClient(system_database_url=url, use_listen_notify=True)
    token = os.environ["DBOS_GATEWAY_SEND_TOKENS"]
    app = FastAPI()

    @app.get("/workflow-events/{workflow_id}/{key}")
    async def get_event(workflow_id: str, key: str, timeout: float = 60) -> Any:
        value = await client.get_event_async(workflow_id, key, timeout_seconds=timeout)
        if value is None:
            return JSONResponse({"error": "timeout"}, status_code=504)
        return {"workflow_id": workflow_id, "key": key, "value": value}

    @app.post("/send-message", status_code=202)
    async def send(request: Request) -> Any:
        body = await request.json()
        if request.headers.get("authorization") != f"Bearer {token}":
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        await client.send_async(body["workflow_id"], body["message"], body.get("topic"))
        return JSONResponse({"status": "accepted"}, status_code=202)

    @app.get("/health")
    async def health() -> Any:
        return {"status": "ok"}

    return app


def serve_baseline(port: int) -> None:
    import uvicorn

    uvicorn.run(baseline_app(os.environ["DBOS_SYSTEM_DATABASE_URL"]), host="127.0.0.1", port=port, log_level="warning",
                access_log=False)  # fmt: skip


# -- a small HTTP/1.1 client on asyncio streams (1,000 connections from one process) -----------


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
    if "content-length" in headers:
        return status, await reader.readexactly(int(headers["content-length"]))
    return status, await reader.read()


def request(method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None, close: bool = False) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: bench"]
    for k, v in (headers or {}).items():
        lines.append(f"{k}: {v}")
    if body:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def throughput(port: int, make: Any, seconds: float, connections: int = 64) -> dict[str, Any]:
    done = errors = 0
    first_error: list[str] = []
    stop = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal done, errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.monotonic() < stop:
                writer.write(make())
                status, body = await read_response(reader)
                if status < 300:
                    done += 1
                else:
                    errors += 1
                    first_error[:] = first_error or [f"{status} {body[:200]!r}"]
        finally:
            writer.close()

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(connections)))
    return {"requests_per_s": round(done / (time.monotonic() - started)), "errors": errors, "first_error": first_error[:1]}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def pg_connections(dbname: str) -> int:
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND backend_type = 'client backend'"
            " AND pid <> pg_backend_pid()",
            (dbname,),
        ).fetchone()
    return int(row[0]) if row else 0


def health(port: int) -> dict[str, Any]:
    import httpx

    return dict(httpx.get(f"http://127.0.0.1:{port}/health", timeout=30).json())


async def wait_for_waits(port: int, test: Any, limit: float) -> float:
    started = time.monotonic()
    while not test(await asyncio.to_thread(lambda: health(port)["waits"])):
        if time.monotonic() - started > limit:
            raise TimeoutError(f"waits: {health(port)}")
        await asyncio.sleep(0.02)
    return time.monotonic() - started


async def long_polls(port: int, pid: int, client: Any, dbname: str, n: int = 1000) -> dict[str, Any]:
    # The value carries the wall-clock time of its set_event: the latency is the gateway's alone.
    workflow_id = client.enqueue({"queue_name": QUEUE, "workflow_name": "event_stamped_after_message"}, "k", "go", 120).workflow_id
    rss_before, conns_before = rss_mb(pid), pg_connections(dbname)
    results: list[int] = []
    lags: list[float] = []

    async def poll() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request("GET", f"/workflow-events/{workflow_id}/k?timeout=120", close=True))
        status, body = await read_response(reader)
        arrived = time.time()
        results.append(status)
        if status == 200:
            lags.append(arrived - json.loads(body)["value"]["at"])
        writer.close()

    tasks = [asyncio.ensure_future(poll()) for _ in range(n)]
    await wait_for_waits(port, lambda w: w >= n, 60)
    out: dict[str, Any] = {"waits": n, "rss_added_mb": round(rss_mb(pid) - rss_before, 1),
                           "pg_connections": pg_connections(dbname) - conns_before}  # fmt: skip
    # One set_event (the workflow's, after this message) answers them all.
    sent = time.monotonic()
    await asyncio.to_thread(client.send, workflow_id, "go!", "go")
    await asyncio.gather(*tasks)
    out["all_answered_after_send_ms"] = round((time.monotonic() - sent) * 1000)
    out["all_answered_after_set_event_ms"] = round(max(lags) * 1000) if lags else None
    out["status_200"] = results.count(200)
    # Abandoned long-polls: 500 clients reset their connections.
    pending = client.enqueue({"queue_name": QUEUE, "workflow_name": "event_after_message"}, "k", "go", 120).workflow_id
    socks = []
    for _ in range(500):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(request("GET", f"/workflow-events/{pending}/never?timeout=120"))
        socks.append(s)
    await wait_for_waits(port, lambda w: w >= 500, 60)
    for s in socks:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()
    out["500_reset_freed_s"] = round(await wait_for_waits(port, lambda w: w == 0, 60), 2)
    client.send(pending, "x", "go")
    return out


async def sse_reader(port: int, path: str, values: list[Any], stop_after: int | None = None) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request("GET", path, headers={"Accept": "text/event-stream"}, close=True))
    await reader.readuntil(b"\r\n\r\n")
    buffer = b""
    try:
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                return
            buffer += chunk
            while b"\n\n" in buffer:
                event, buffer = buffer.split(b"\n\n", 1)
                fields = dict(line.split(": ", 1) for line in event.decode().split("\n") if ": " in line and not line.startswith(":"))
                if fields.get("event") == "end":
                    return
                if "id" in fields:
                    values.append((int(fields["id"]), json.loads(fields["data"])))
                    if stop_after is not None and len(values) >= stop_after:
                        return
    finally:
        writer.transport.abort()  # a reset, as a browser tab closed


async def sse(port: int, client: Any, n: int = 500, count: int = 100) -> dict[str, Any]:
    workflow_id = client.enqueue({"queue_name": QUEUE, "workflow_name": "stream_values"}, "s", list(range(count)), True, 0.01).workflow_id
    got: list[list[Any]] = [[] for _ in range(n)]
    started = time.monotonic()
    await asyncio.gather(*(sse_reader(port, f"/workflow-stream/{workflow_id}/s", got[i]) for i in range(n)))
    expected = list(enumerate(range(count)))
    out: dict[str, Any] = {"readers": n, "values": count, "all_in_order_exactly_once": sum(g == expected for g in got),
                           "seconds": round(time.monotonic() - started, 2)}  # fmt: skip
    pending = client.enqueue({"queue_name": QUEUE, "workflow_name": "stream_after_message"}, "s", "go", 120).workflow_id
    kept: list[list[Any]] = [[] for _ in range(n)]
    readers = [asyncio.ensure_future(sse_reader(port, f"/workflow-stream/{pending}/s", kept[i], None)) for i in range(n)]
    await wait_for_waits(port, lambda w: w >= n, 60)
    for task in readers[: n // 2]:
        task.cancel()
    out[f"{n // 2}_killed_freed_s"] = round(await wait_for_waits(port, lambda w: w <= n - n // 2, 60), 2)
    client.send(pending, "go!", "go")
    await asyncio.gather(*readers[n // 2 :])
    out["survivors_complete"] = sum(k == [(0, "first"), (1, "go!")] for k in kept[n // 2 :])
    return out


@contextlib.contextmanager
def server(args: list[str], env: dict[str, str], port: int) -> Iterator[subprocess.Popen[bytes]]:
    import httpx

    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code in (200, 503):
                    break
            except httpx.TransportError:
                time.sleep(0.1)
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"server did not start: {args}")
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--json", help="also write the report here")
    parser.add_argument("--serve-baseline", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_baseline:
        serve_baseline(args.serve_baseline)
        return
    import runtime as rt
    from psycopg.conninfo import conninfo_to_dict

    from dbos_client import DBOSClient

    url = rt.create_database(ADMIN_URL, prefix="dbos_client_bench_gw")
    dbname = conninfo_to_dict(url)["dbname"]
    report: dict[str, Any] = {"gateway": {}, "dbos app": {}}
    env = {**os.environ, "DBOS_SYSTEM_DATABASE_URL": url, "DBOS_GATEWAY_SEND_TOKENS": TOKEN,
           "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}  # fmt: skip
    try:
        with rt.DBOSRuntime(rt.runtime_python("3.4.0"), url), DBOSClient(system_database_url=url) as client:
            target = client.enqueue({"queue_name": QUEUE, "workflow_name": "set_event_value"}, "k", {"v": 1}).workflow_id
            client.retrieve_workflow(target).get_result(timeout_seconds=30)
            sink = client.enqueue({"queue_name": QUEUE, "workflow_name": "sleep_wf"}, 600).workflow_id
            send_body = json.dumps({"workflow_id": sink, "message": {"n": 1}, "topic": "bench"}).encode()
            routes = {
                "get_event_existing": lambda: request("GET", f"/workflow-events/{target}/k?timeout=0"),
                "send": lambda: request("POST", "/send-message", send_body, {"Authorization": f"Bearer {TOKEN}"}),
            }
            gw_port, base_port = free_port(), free_port()
            script = str(Path(sys.executable).with_name("dbos-client"))
            gateway_cmd = [script, "serve", "--port", str(gw_port), "--no-access-log", "--limit-concurrency", "10000"]
            baseline_cmd = [sys.executable, __file__, "--serve-baseline", str(base_port)]
            for name, cmd, port in (("gateway", gateway_cmd, gw_port), ("dbos app", baseline_cmd, base_port)):
                with server(cmd, env, port) as proc:
                    for route, make in routes.items():
                        log(f"{name}: {route} ...")
                        asyncio.run(throughput(port, make, 1.0))  # warm up
                        report[name][route] = asyncio.run(throughput(port, make, args.seconds))
                    if name == "gateway":
                        log("gateway: 1,000 long-polls ...")
                        report[name]["long_polls"] = asyncio.run(long_polls(port, proc.pid, client, dbname))
                        log("gateway: 500 SSE readers ...")
                        report[name]["sse"] = asyncio.run(sse(port, client))
            for route in routes:
                gw, base = report["gateway"][route]["requests_per_s"], report["dbos app"][route]["requests_per_s"]
                report.setdefault("ratio", {})[route] = round(gw / base, 2) if base else None
    finally:
        rt.drop_database(url, ADMIN_URL)
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")


if __name__ == "__main__":
    main()
