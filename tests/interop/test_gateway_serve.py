"""``dbos-client serve`` (the installed console script, a real uvicorn) in front of a real DBOS
runtime, and the findings of the gateway's load and abuse run (issue 16), each reproduced
through that server: shared poller poisoning, deadlines, abandoned long-polls, SSE across an
outage, abusive bodies, and the smaller ones."""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import psycopg
import pytest
from conftest import QUEUE, Runtime
from servers import free_port, http_server
from tcp_proxy import CuttableProxy
from test_cli import COMMAND

from dbos_client import DBOSClient, InvalidArgumentError

pytestmark = pytest.mark.interop
SEND_TOKEN = "send-token-0123456789"
READ_TOKEN = "read-token-9876543210"
URL_ENV = "DBOS_SYSTEM_DATABASE_URL"


@dataclass
class Served:
    base: str
    proc: subprocess.Popen[str]
    log: Path

    def lines(self) -> list[str]:
        return self.log.read_text().splitlines()

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines() if line.startswith("{")]

    def health(self) -> dict[str, Any]:
        return dict(httpx.get(self.base + "/health", timeout=30).json())

    def waits(self) -> int:
        return int(self.health()["waits"])


def _serve(url: str, folder: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[Served]:
    """Run ``dbos-client serve`` until the generator is closed; the URL goes in the environment."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = folder / f"serve-{port}.log"
    environ = {**os.environ, URL_ENV: url, **(env or {})}
    with http_server(
        [*COMMAND, "serve", "--port", str(port), *args], log=log, cwd=folder, env=environ, ready_url=base + "/health",
        ready_codes=(200, 503), start_seconds=60, poll_seconds=0.1, stop_signal=signal.SIGTERM, stop_seconds=20,
        what="dbos-client serve",
    ) as proc:  # fmt: skip
        yield Served(base, proc, log)


@pytest.fixture(scope="module")
def served(runtime: Runtime, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("serve")
    tokens = folder / "send-tokens"
    tokens.write_text(f"# the senders\n{SEND_TOKEN}\n\nanother-token\n")
    yield from _serve(runtime.url, folder, "--send-tokens-file", str(tokens), "--request-timeout", "3",
                      "--sse-keepalive", "1", "--header-timeout", "2", "--cors-origin", "https://app.example")  # fmt: skip


@pytest.fixture
def http(served: Served) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served.base, timeout=60) as client:
        yield client


def _enqueue(client: DBOSClient, name: str, *args: Any, workflow_id: str | None = None, queue: str = QUEUE) -> str:
    options: dict[str, Any] = {"queue_name": queue, "workflow_name": name}
    if workflow_id:
        options["workflow_id"] = workflow_id
    return client.enqueue(options, *args).workflow_id  # type: ignore[arg-type]


def _error(reply: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert body["error"] == code and body["message"], body
    return dict(body)


def _sse_events(lines: Iterator[str]) -> Iterator[dict[str, str]]:
    current: dict[str, str] = {}
    for line in lines:
        if not line:
            if current:
                yield current
            current = {}
        elif not line.startswith(":"):
            field, _, value = line.partition(":")
            current[field] = value[1:] if value.startswith(" ") else value


def _no_tracebacks(served: Served) -> None:
    text = served.log.read_text()
    assert "Traceback" not in text, text[-4000:]


def _send(http: httpx.Client, body: Any, token: str | None = SEND_TOKEN, raw: bytes | None = None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return http.post("/send-message", content=raw if raw is not None else json.dumps(body).encode(), headers=headers)


# -- 1. one waiter's offset never poisons the shared poller ------------------------------


def test_huge_offsets_are_refused_and_never_reach_the_shared_poller(
    runtime: Runtime, client: DBOSClient, served: Served, http: httpx.Client, uid: str
) -> None:
    pending = _enqueue(client, "stream_after_message", "s", "go", 60)
    sse = {"Accept": "text/event-stream"}
    # Beyond the streams' 32-bit offsets: refused before any I/O, by the gateway and by the client.
    _error(http.get(f"/workflow-stream/{pending}/s", headers={**sse, "Last-Event-ID": "2147483647"}), 422, "invalid_last_event_id")
    _error(http.get(f"/workflow-stream/{pending}/s", params={"offset": "2147483648"}, headers=sse), 422, "invalid_offset")
    _error(http.get(f"/workflow-stream/{pending}/s", params={"offset": str(10**30)}), 422, "invalid_offset")
    with pytest.raises(InvalidArgumentError, match="offset"):
        next(iter(client.read_stream(pending, "s", offset=2**31)))
    # The largest offset there is (2**31-1) is a legal wait: it holds a place in the shared query.
    finished_soon = _enqueue(client, "sleep_wf", 1.0)
    with httpx.Client(base_url=served.base, timeout=60) as other:
        with other.stream("GET", f"/workflow-stream/{pending}/s", params={"offset": "2147483647"}, headers=sse) as reply:
            assert reply.status_code == 200
            lines = reply.iter_lines()
            assert next(lines).startswith("retry:")
            # Meanwhile every other waiter is answered on time: "ended without the key" in seconds.
            started = time.monotonic()
            body = _error(http.get(f"/workflow-events/{finished_soon}/never", params={"timeout": 30}), 404, "event_not_published")
            assert body["status"] == "SUCCESS" and time.monotonic() - started < 10
            client.send(pending, "done", topic="go")
            got = [e for e in _sse_events(lines) if e.get("event") == "end"]
            assert json.loads(got[0]["data"]) == {"reason": "closed", "next_offset": 2147483647}
    assert client.retrieve_workflow(pending).get_result(timeout_seconds=30) == "ok"
    _no_tracebacks(served)


# -- 2. every request has a deadline; 5. bad bodies; 4. SSE across an outage (a proxy cut) --


@pytest.fixture
def behind_proxy(runtime: Runtime, tmp_path: Path) -> Iterator[tuple[Served, CuttableProxy]]:
    if runtime.is_sqlite:
        pytest.skip("an outage is a Postgres server going away")
    info = psycopg.conninfo.conninfo_to_dict(runtime.url)
    proxy = CuttableProxy(str(info.get("host", "127.0.0.1")), int(info.get("port", 5432)))
    url = f"postgresql://postgres@127.0.0.1:{proxy.port}/{info['dbname']}"
    tokens = tmp_path / "tokens"
    tokens.write_text(SEND_TOKEN)
    server = _serve(url, tmp_path, "--send-tokens-file", str(tokens), "--request-timeout", "2", "--sse-keepalive", "1")
    try:
        yield next(server), proxy
    finally:
        server.close()
        proxy.close()


def test_requests_that_never_block_keep_their_deadline_in_an_outage(
    client: DBOSClient, behind_proxy: tuple[Served, CuttableProxy], uid: str
) -> None:
    served, proxy = behind_proxy
    workflow_id = _enqueue(client, "event_after_message", "k", "go", 60)
    with httpx.Client(base_url=served.base, timeout=60) as http:
        assert http.get(f"/workflow-events/{workflow_id}").status_code == 200  # connected, schema known
        proxy.cut()
        calls = {
            "all events": lambda: http.get(f"/workflow-events/{workflow_id}"),
            "event, timeout=1": lambda: http.get(f"/workflow-events/{workflow_id}/k", params={"timeout": 1}),
            "send": lambda: _send(http, {"workflow_id": workflow_id, "message": 1, "topic": "go"}),
            "stream so far": lambda: http.get(f"/workflow-stream/{workflow_id}/s"),
        }
        for what, call in calls.items():
            started = time.monotonic()
            reply = call()
            elapsed = time.monotonic() - started
            assert elapsed < 6, f"{what} took {elapsed:.1f} s"  # 2 s (or 1 s + 2 s), never the 30 s retry budget
            _error(reply, 503, "database_unavailable")
            assert reply.headers["retry-after"]
        health = http.get("/health")
        assert health.status_code == 503 and health.json()["database"] == "down"
        # Opening an event stream in an outage: 200 and a reconnect, never a 503 (EventSource would give up).
        started = time.monotonic()
        with http.stream("GET", f"/workflow-stream/{workflow_id}/s", headers={"Accept": "text/event-stream"}) as reply:
            assert reply.status_code == 200
            events = list(_sse_events(reply.iter_lines()))
        assert time.monotonic() - started < 6
        assert [e.get("event") for e in events if "data" in e] == ["unavailable"] and events[0]["retry"] == "3000"
        proxy.restore()
        deadline = time.monotonic() + 30
        while http.get("/health").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert _send(http, {"workflow_id": workflow_id, "message": "back", "topic": "go"}).status_code == 202
        assert http.get(f"/workflow-events/{workflow_id}/k", params={"timeout": 30}).json()["value"] == "back"
    _no_tracebacks(served)


def test_sse_resumes_after_an_outage_from_last_event_id(
    client: DBOSClient, behind_proxy: tuple[Served, CuttableProxy]
) -> None:
    served, proxy = behind_proxy
    values = list(range(8))
    workflow_id = _enqueue(client, "stream_values", "s", values, True, 0.5)
    sse = {"Accept": "text/event-stream"}
    got: list[tuple[int, Any]] = []
    with httpx.Client(base_url=served.base, timeout=60) as http:
        with http.stream("GET", f"/workflow-stream/{workflow_id}/s", headers=sse) as reply:
            events = _sse_events(reply.iter_lines())
            for event in events:
                if "id" in event:
                    got.append((int(event["id"]), json.loads(event["data"])))
                if len(got) == 2:
                    break
            proxy.cut()
            rest = list(events)  # the answer ends: an outage is not the end of the stream
        kinds = [e.get("event", "message") for e in rest]
        assert "end" not in kinds and kinds[-1] == "unavailable", rest
        got += [(int(e["id"]), json.loads(e["data"])) for e in rest if "id" in e]
        time.sleep(1)
        proxy.restore()
        # What the browser does after `retry:` ms: the same URL, with the last id it saw.
        deadline = time.monotonic() + 60
        while True:
            with http.stream("GET", f"/workflow-stream/{workflow_id}/s",
                             headers={**sse, "Last-Event-ID": str(got[-1][0])}) as again:  # fmt: skip
                assert again.status_code == 200
                events2 = list(_sse_events(again.iter_lines()))
            got += [(int(e["id"]), json.loads(e["data"])) for e in events2 if "id" in e]
            if events2 and events2[-1].get("event") == "end":
                break
            assert time.monotonic() < deadline, events2
            time.sleep(0.5)
    assert got == list(enumerate(values))  # every value once, in order, across the outage
    _no_tracebacks(served)


# -- 3. an abandoned long-poll frees its wait at once --------------------------------------


def test_a_long_poll_whose_client_goes_away_frees_its_wait(client: DBOSClient, served: Served) -> None:
    workflow_id = _enqueue(client, "event_after_message", "k", "go", 60)
    host, port = served.base.removeprefix("http://").split(":")
    socks = []
    for _ in range(20):
        s = socket.create_connection((host, int(port)))
        s.sendall(f"GET /workflow-events/{workflow_id}/never?timeout=120 HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        socks.append(s)
    deadline = time.monotonic() + 15
    while served.waits() < 20:
        assert time.monotonic() < deadline, served.health()
        time.sleep(0.1)
    for s in socks:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # a reset
        s.close()
    started = time.monotonic()
    while served.waits() > 0:
        assert time.monotonic() - started < 3, served.health()
        time.sleep(0.05)
    client.send(workflow_id, "x", topic="go")
    _no_tracebacks(served)


# -- 5. abusive bodies: authenticated first, then 4xx, never a 500 -----------------------


ABUSE = {
    "30,000 nested arrays": b'{"workflow_id": "w", "message": ' + b"[" * 30_000 + b"]" * 30_000 + b"}",
    "8,000 nested objects": b'{"workflow_id": "w", "message": ' + b'{"a":' * 8_000 + b"1" + b"}" * 8_000 + b"}",
    "a 5,000-digit integer": b'{"workflow_id": "w", "message": ' + b"7" * 5_000 + b"}",
    "a lone surrogate in the id": b'{"workflow_id": "\\ud800", "message": 1}',
    "a message nested 900 deep": b'{"workflow_id": "w", "message": ' + b"[" * 900 + b"]" * 900 + b"}",
    "NaN": b'{"workflow_id": "w", "message": NaN}',
}


@pytest.mark.parametrize("what", list(ABUSE))
def test_abusive_bodies_are_refused_with_4xx(served: Served, http: httpx.Client, what: str) -> None:
    body = ABUSE[what]
    _error(_send(http, None, token=None, raw=body), 401, "unauthorized")  # before the body is even read
    _error(_send(http, None, token="wrong", raw=body), 401, "unauthorized")
    reply = _send(http, None, raw=body)
    assert 400 <= reply.status_code < 500 and reply.json()["error"] in ("invalid_body", "invalid_json", "invalid_workflow_id")
    _no_tracebacks(served)


# -- 6. the smaller findings ---------------------------------------------------------------


def test_ids_with_a_slash(client: DBOSClient, http: httpx.Client, uid: str) -> None:
    workflow_id = f"tenant/{uid}"
    _enqueue(client, "set_event_value", "colour", "blue", workflow_id=workflow_id)
    client.retrieve_workflow(workflow_id).get_result(timeout_seconds=30)
    encoded = quote(workflow_id, safe="")
    assert "%2F" in encoded
    reply = http.get(f"/workflow-events/{encoded}")
    assert reply.status_code == 200 and reply.json() == {"workflow_id": workflow_id, "events": {"colour": "blue"}}
    reply = http.get(f"/workflow-events/{encoded}/colour", params={"timeout": 5})
    assert reply.status_code == 200 and reply.json()["value"] == "blue"
    stream_id = f"tenant/s-{uid}"
    _enqueue(client, "stream_values", "a/b", ["x", "y"], True, 0, workflow_id=stream_id)
    client.retrieve_workflow(stream_id).get_result(timeout_seconds=30)
    body = http.get(f"/workflow-stream/{quote(stream_id, safe='')}/a/b").json()
    assert body["values"] == ["x", "y"] and body["done"] is True


def test_nan_and_infinity_are_null(client: DBOSClient, http: httpx.Client, served: Served) -> None:
    workflow_id = _enqueue(client, "set_event_value", "x", {"nan": math.nan, "inf": -math.inf, "ok": 1.5})
    client.retrieve_workflow(workflow_id).get_result(timeout_seconds=30)
    assert http.get(f"/workflow-events/{workflow_id}").json()["events"] == {"x": {"nan": None, "inf": None, "ok": 1.5}}
    assert http.get(f"/workflow-events/{workflow_id}/x", params={"timeout": 5}).json()["value"]["nan"] is None
    stream_id = _enqueue(client, "stream_values", "s", [math.nan, math.inf, 2.0], True, 0)
    client.retrieve_workflow(stream_id).get_result(timeout_seconds=30)
    assert http.get(f"/workflow-stream/{stream_id}/s").json()["values"] == [None, None, 2.0]
    with http.stream("GET", f"/workflow-stream/{stream_id}/s", headers={"Accept": "text/event-stream"}) as reply:
        data = [json.loads(e["data"]) for e in _sse_events(reply.iter_lines()) if "id" in e]  # strict JSON.parse
    assert data == [None, None, 2.0]
    _no_tracebacks(served)


def test_bytes_and_patterns_have_a_json_form(client: DBOSClient, http: httpx.Client, served: Served) -> None:
    """What a TypeScript app's Buffer and RegExp decode to (bytes, re.Pattern): base64 and the
    pattern's text, not a 500 (bytes that are not UTF-8 used to fail in the encoder)."""
    import re

    value = {"raw": b"\xff\x00ok", "text": b"plain", "re": re.compile("a+b", re.IGNORECASE)}
    workflow_id = _enqueue(client, "set_event_value", "x", value)
    client.retrieve_workflow(workflow_id).get_result(timeout_seconds=30)
    expected = {"raw": "/wBvaw==", "text": "cGxhaW4=", "re": "a+b"}
    assert http.get(f"/workflow-events/{workflow_id}").json()["events"] == {"x": expected}
    assert http.get(f"/workflow-events/{workflow_id}/x", params={"timeout": 5}).json()["value"] == expected
    _no_tracebacks(served)


def test_negative_last_event_id_is_refused_like_a_negative_offset(client: DBOSClient, http: httpx.Client) -> None:
    workflow_id = _enqueue(client, "sleep_wf", 0.1)
    sse = {"Accept": "text/event-stream"}
    _error(http.get(f"/workflow-stream/{workflow_id}/s", params={"offset": "-1"}, headers=sse), 422, "invalid_offset")
    _error(http.get(f"/workflow-stream/{workflow_id}/s", headers={**sse, "Last-Event-ID": "-5"}), 422, "invalid_last_event_id")
    _error(http.get(f"/workflow-stream/{workflow_id}/s", headers={**sse, "Last-Event-ID": "x"}), 422, "invalid_last_event_id")


def test_a_server_error_shows_no_internals(client: DBOSClient, http: httpx.Client, served: Served) -> None:
    from gateway_values import Opaque

    workflow_id = _enqueue(client, "set_event_value", "thing", Opaque("hunter2"))
    client.retrieve_workflow(workflow_id).get_result(timeout_seconds=30)
    body = _error(http.get(f"/workflow-events/{workflow_id}"), 500, "client_error")
    for internal in ("gateway_values", "Opaque", "/", "hunter2", "module"):
        assert internal not in body["message"], body
    assert "gateway_values" in served.log.read_text()  # the operator still learns why, in the log
    _no_tracebacks(served)


def test_slow_clients_are_cut_off(served: Served) -> None:
    host, port = served.base.removeprefix("http://").split(":")
    socks = [socket.create_connection((host, int(port))) for _ in range(30)]
    request = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100
    started = time.monotonic()
    closed: set[int] = set()
    for i in range(len(request)):
        for n, s in enumerate(socks):
            if n in closed:
                continue
            try:
                s.sendall(request[i : i + 1])
            except OSError:
                closed.add(n)
        if len(closed) == len(socks) or time.monotonic() - started > 10:
            break
        time.sleep(0.2)
    for n, s in enumerate(socks):  # those not yet refused a write must read the server's EOF
        if n not in closed:
            s.settimeout(5)
            try:
                if s.recv(100) == b"":
                    closed.add(n)
            except OSError:
                closed.add(n)
        s.close()
    assert len(closed) == 30 and time.monotonic() - started < 12
    assert httpx.get(served.base + "/health", timeout=10).status_code == 200  # still serving everyone else


# -- dbos-client serve itself ----------------------------------------------------------------


def test_serve_health_docs_cors_and_access_log(runtime: Runtime, served: Served, http: httpx.Client) -> None:
    health = http.get("/health")
    assert health.status_code == 200
    assert health.json()["database"] == "up" and health.json()["status"] == "ok"
    assert health.json()["listener"] in (("not_used",) if runtime.is_sqlite else ("up", "idle"))
    docs = http.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    assert "/workflow-events/{workflow_id}/{key}" in http.get("/openapi.json").json()["paths"]
    preflight = http.options("/send-message", headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST",
                                                       "Access-Control-Request-Headers": "authorization"})  # fmt: skip
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://app.example"
    other = http.options("/send-message", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in other.headers
    _send(http, {"workflow_id": "no-such-workflow", "message": 1})
    time.sleep(0.2)
    access = [r for r in served.records() if r.get("event") == "access"]
    assert any(r["path"] == "/send-message" and r["status"] == 404 and r["method"] == "POST" for r in access), access[-5:]
    assert all({"duration_ms", "client", "bytes"} <= set(r) for r in access)
    assert SEND_TOKEN not in served.log.read_text()


def test_serve_tokens_for_sends_and_reads(runtime: Runtime, client: DBOSClient, tmp_path: Path) -> None:
    workflow_id = _enqueue(client, "event_after_message", "k", "go", 60)
    password_url = runtime.url.replace("postgres@", "postgres:s3cret-pw@") if not runtime.is_sqlite else runtime.url
    # Tokens from the environment; reads need one too.
    env = {"DBOS_GATEWAY_SEND_TOKENS": f"{SEND_TOKEN}, other", "DBOS_GATEWAY_READ_TOKENS": READ_TOKEN}
    server = _serve(password_url, tmp_path, env=env)
    served = next(server)
    try:
        with httpx.Client(base_url=served.base, timeout=30) as http:
            path = f"/workflow-events/{workflow_id}"
            _error(http.get(path), 401, "unauthorized")
            assert http.get(path, headers={"Authorization": f"Bearer {READ_TOKEN}"}).status_code == 200
            assert http.get(path, headers={"Authorization": f"Bearer {SEND_TOKEN}"}).status_code == 200
            _error(_send(http, {"workflow_id": workflow_id, "message": 1, "topic": "go"}, token=READ_TOKEN), 401, "unauthorized")
            assert _send(http, {"workflow_id": workflow_id, "message": "hi", "topic": "go"}).status_code == 202
            reply = http.get(path + "/k", params={"timeout": 30}, headers={"Authorization": "Bearer other"})
            assert reply.json()["value"] == "hi"
            assert http.get("/health").status_code == 200  # probes need no token
    finally:
        server.close()
    text = served.log.read_text()
    assert "s3cret-pw" not in text and SEND_TOKEN not in text and READ_TOKEN not in text
    # No tokens at all: reads are open, sends refused.
    server = _serve(runtime.url, tmp_path, env={"DBOS_GATEWAY_SEND_TOKENS": "", "DBOS_GATEWAY_READ_TOKENS": ""})
    served = next(server)
    try:
        with httpx.Client(base_url=served.base, timeout=30) as http:
            assert http.get(f"/workflow-events/{workflow_id}").status_code == 200
            _error(_send(http, {"workflow_id": workflow_id, "message": 1}), 403, "forbidden")
    finally:
        server.close()


def test_serve_never_takes_a_token_on_the_command_line(runtime: Runtime, tmp_path: Path) -> None:
    done = subprocess.run([*COMMAND, "serve", "--token", SEND_TOKEN], capture_output=True, text=True, timeout=60,
                          env={**os.environ, URL_ENV: runtime.url})  # fmt: skip
    assert done.returncode == 2 and "unrecognized arguments" in done.stderr
    missing = subprocess.run([*COMMAND, "serve", "--send-tokens-file", str(tmp_path / "nope")], capture_output=True,
                             text=True, timeout=60, env={**os.environ, URL_ENV: runtime.url})  # fmt: skip
    assert missing.returncode == 2 and "cannot read the tokens" in missing.stderr
    helped = subprocess.run([*COMMAND, "serve", "--help"], capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0 and "--send-tokens-file" in helped.stdout and "--cors-origin" in helped.stdout



def test_a_browser_eventsource_resumes_after_an_outage(
    client: DBOSClient, behind_proxy: tuple[Served, CuttableProxy]
) -> None:
    """Finding 4 in a real browser: Chromium's EventSource, the gateway's DB connection cut midway."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    served, proxy = behind_proxy
    values = list(range(10))
    workflow_id = _enqueue(client, "stream_values", "s", values, True, 0.4)
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        driver.get(served.base + "/docs")  # any page of the gateway's origin
        driver.execute_script(
            """
            window.got = []; window.kinds = [];
            const es = new EventSource(arguments[0]);
            es.onmessage = (e) => window.got.push([Number(e.lastEventId), JSON.parse(e.data)]);
            es.addEventListener('unavailable', () => window.kinds.push('unavailable'));
            es.addEventListener('end', () => { es.close(); window.kinds.push('end'); });
            """,
            f"/workflow-stream/{workflow_id}/s",
        )
        wait = WebDriverWait(driver, 60, poll_frequency=0.05)
        wait.until(lambda d: len(d.execute_script("return window.got")) >= 2)
        proxy.cut()
        wait.until(lambda d: "unavailable" in d.execute_script("return window.kinds"))
        time.sleep(2)
        proxy.restore()
        wait.until(lambda d: "end" in d.execute_script("return window.kinds"))
        got = [tuple(pair) for pair in driver.execute_script("return window.got")]
    finally:
        driver.quit()
    assert got == list(enumerate(values))  # every value once, in order, across the outage
    _no_tracebacks(served)
