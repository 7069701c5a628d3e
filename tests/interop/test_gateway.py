"""The HTTP gateway under a real server (examples/gateway_demo.py, uvicorn, in its own process),
driven by a real HTTP client (httpx) and, for the live page, by Debian's Chromium."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from servers import free_port, http_server

pytestmark = pytest.mark.interop
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TOKEN = "test-token-123"
ANSWER = (
    "Durable workflows keep their state in the database, so a crash only pauses them: "
    "they resume from the last completed step."
)
#: Where the browser test leaves its screenshot (CI keeps the work tree).
SCREENSHOT_DIR = Path(__file__).resolve().parents[2] / "build" / "screenshots"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The gateway demo, as a user runs it: its own DBOS app, uvicorn on a free port."""
    port = free_port()
    args = [sys.executable, str(EXAMPLES / "gateway_demo.py"), "--port", str(port), "--token", TOKEN]
    if request.param == "postgresql":
        args.append("--postgres")
    env = {k: v for k, v in os.environ.items() if k != "DBOS_SYSTEM_DATABASE_URL"}
    log = tmp_path_factory.mktemp("gateway") / "server.log"
    base = f"http://127.0.0.1:{port}"
    try:
        # SIGINT at the end: uvicorn stops, then the DBOS app and its database go.
        with http_server(
            args, log=log, cwd=EXAMPLES, env=env, ready_url=base + "/", start_seconds=90, poll_seconds=0.2,
            stop_signal=signal.SIGINT, stop_seconds=30, what="the gateway demo",
        ):  # fmt: skip
            yield base
    finally:
        errors = [line for line in log.read_text().splitlines() if "Traceback" in line or "ERROR" in line]
        assert not errors, f"the gateway demo logged errors:\n{log.read_text()}"


@pytest.fixture
def http(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=60) as client:
        yield client


def _start(http: httpx.Client) -> str:
    reply = http.post("/demo/start")
    assert reply.status_code == 200, reply.text
    return str(reply.json()["workflow_id"])


def _approve(http: httpx.Client, workflow_id: str, **changes: Any) -> httpx.Response:
    body = {"workflow_id": workflow_id, "topic": "approval", "message": {"approved": True, "by": "test"}}
    headers = {"Authorization": f"Bearer {TOKEN}"}
    headers.update(changes.pop("headers", {}))
    body.update(changes)
    return http.post("/send-message", json=body, headers=headers)


def _error(reply: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"].startswith("application/json")
    body = reply.json()
    assert body["error"] == code and body["message"], body
    return dict(body)


def _sse(reply: httpx.Response) -> list[dict[str, str]]:
    """Parse a Server-Sent Events body into its events (comments dropped)."""
    events, current = [], {}
    for line in reply.iter_lines():
        if not line:
            if current:
                events.append(current)
            current = {}
        elif not line.startswith(":"):
            field, _, value = line.partition(":")
            current[field] = value[1:] if value.startswith(" ") else value
    return events


def _finished_assistant(http: httpx.Client) -> str:
    workflow_id = _start(http)
    status = http.get(f"/workflow-events/{workflow_id}/status", params={"timeout": 30})
    deadline = time.monotonic() + 60
    while http.get(f"/workflow-events/{workflow_id}").json()["events"].get("status") != "awaiting approval":
        assert time.monotonic() < deadline, status.text
        time.sleep(0.1)
    assert _approve(http, workflow_id).status_code == 202
    while http.get(f"/workflow-events/{workflow_id}").json()["events"].get("status") != "approved":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    return workflow_id


# -- events ---------------------------------------------------------------------------


def test_event_blocks_until_published(http: httpx.Client) -> None:
    workflow_id = _start(http)
    started = time.monotonic()
    reply = http.get(f"/workflow-events/{workflow_id}/progress", params={"timeout": 30})
    assert reply.status_code == 200, reply.text
    assert reply.json()["workflow_id"] == workflow_id and reply.json()["key"] == "progress"
    assert isinstance(reply.json()["value"], int) and time.monotonic() - started < 30


def test_event_timeout_is_a_clear_504(http: httpx.Client) -> None:
    workflow_id = _start(http)
    started = time.monotonic()
    body = _error(http.get(f"/workflow-events/{workflow_id}/never", params={"timeout": 1}), 504, "timeout")
    assert 0.9 < time.monotonic() - started < 10
    assert body["timeout_seconds"] == 1 and "never" in body["message"]


def test_events_of_unknown_and_finished_workflows(http: httpx.Client) -> None:
    _error(http.get("/workflow-events/no-such-workflow/k", params={"timeout": 30}), 404, "workflow_not_found")
    _error(http.get("/workflow-events/no-such-workflow"), 404, "workflow_not_found")
    workflow_id = _finished_assistant(http)
    started = time.monotonic()
    body = _error(http.get(f"/workflow-events/{workflow_id}/never", params={"timeout": 30}), 404, "event_not_published")
    assert time.monotonic() - started < 10 and body["status"] == "SUCCESS"  # at once, not after 30 s


def test_all_events_never_block(http: httpx.Client) -> None:
    workflow_id = _finished_assistant(http)
    reply = http.get(f"/workflow-events/{workflow_id}")
    assert reply.status_code == 200
    assert reply.json() == {"workflow_id": workflow_id, "events": {"progress": 100, "status": "approved"}}


# -- messages -------------------------------------------------------------------------


def test_sends_need_the_hooks_consent(http: httpx.Client) -> None:
    workflow_id = _start(http)
    reply = http.post("/send-message", json={"workflow_id": workflow_id, "message": 1, "topic": "approval"})
    _error(reply, 401, "unauthorized")
    assert reply.headers["www-authenticate"] == "Bearer"
    _error(_approve(http, workflow_id, headers={"Authorization": "Bearer wrong"}), 403, "forbidden")
    _error(_approve(http, workflow_id, topic="other"), 403, "forbidden")  # the hook allows one topic only
    # Mounted without a hook: reads are allowed, every send refused.
    assert http.get(f"/readonly/workflow-events/{workflow_id}").status_code == 200
    refused = http.post("/readonly/send-message", json={"workflow_id": workflow_id, "message": 1, "topic": "approval"},
                        headers={"Authorization": f"Bearer {TOKEN}"})  # fmt: skip
    assert "authorization hook" in _error(refused, 403, "forbidden")["message"]
    # Nothing refused reached the workflow: it still waits, and the one allowed send is delivered once.
    accepted = _approve(http, workflow_id, idempotency_key=f"approve-{workflow_id}")
    assert accepted.status_code == 202
    assert accepted.json() == {"status": "accepted", "workflow_id": workflow_id, "topic": "approval",
                               "idempotency_key": f"approve-{workflow_id}"}  # fmt: skip
    assert _approve(http, workflow_id, idempotency_key=f"approve-{workflow_id}").status_code == 202
    status = http.get(f"/workflow-events/{workflow_id}/status", params={"timeout": 1})
    deadline = time.monotonic() + 60
    while status.json().get("value") != "approved":
        assert time.monotonic() < deadline, status.text
        time.sleep(0.1)
        status = http.get(f"/workflow-events/{workflow_id}/status", params={"timeout": 1})


def test_send_to_an_unknown_workflow(http: httpx.Client) -> None:
    _error(_approve(http, "no-such-workflow"), 404, "workflow_not_found")


# -- streams --------------------------------------------------------------------------


def test_stream_values_so_far_never_block(http: httpx.Client) -> None:
    workflow_id = _finished_assistant(http)
    started = time.monotonic()
    reply = http.get(f"/workflow-stream/{workflow_id}/tokens")
    assert reply.status_code == 200 and time.monotonic() - started < 5
    body = reply.json()
    assert "".join(body["values"]) == ANSWER and body["done"] is True and body["next_offset"] == len(body["values"])
    tail = http.get(f"/workflow-stream/{workflow_id}/tokens", params={"offset": 19}).json()
    assert tail["values"] == ["completed ", "step."] and tail["offset"] == 19
    running = _start(http)
    early = http.get(f"/workflow-stream/{running}/tokens").json()
    assert early["done"] is False and early["next_offset"] == len(early["values"])  # open: the rest is to come
    _error(http.get("/workflow-stream/no-such-workflow/tokens"), 404, "workflow_not_found")


def test_sse_stream_read_to_its_end(http: httpx.Client) -> None:
    workflow_id = _start(http)
    with http.stream("GET", f"/workflow-stream/{workflow_id}/tokens", headers={"Accept": "text/event-stream"}) as reply:
        assert reply.status_code == 200
        assert reply.headers["content-type"].startswith("text/event-stream")
        events = _sse(reply)
    values = [e for e in events if "data" in e and e.get("event", "message") == "message"]
    assert "".join(json.loads(e["data"]) for e in values) == ANSWER  # every token, in order, live
    assert [int(e["id"]) for e in values] == list(range(len(values)))
    assert events[-1]["event"] == "end" and json.loads(events[-1]["data"]) == {"reason": "closed", "next_offset": len(values)}
    # A reconnecting EventSource sends the last id it saw, and gets only what follows.
    with http.stream("GET", f"/workflow-stream/{workflow_id}/tokens",
                     headers={"Accept": "text/event-stream", "Last-Event-ID": "18"}) as again:  # fmt: skip
        resumed = [e for e in _sse(again) if e.get("event", "message") == "message" and "data" in e]
    assert [(e["id"], json.loads(e["data"])) for e in resumed] == [("19", "completed "), ("20", "step.")]


# -- validation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, params, code",
    [
        ("/workflow-events/w/k", {"timeout": "soon"}, "invalid_timeout"),
        ("/workflow-events/w/k", {"timeout": "-1"}, "invalid_timeout"),
        ("/workflow-events/w/k", {"timeout": "100000"}, "invalid_timeout"),
        ("/workflow-events/w/k", {"timeout": "nan"}, "invalid_timeout"),
        ("/workflow-events/w/bad%01key", {}, "invalid_key"),
        ("/workflow-events/" + "w" * 300 + "/k", {}, "invalid_workflow_id"),
        ("/workflow-stream/w/k", {"offset": "-1"}, "invalid_offset"),
        ("/workflow-stream/w/k", {"offset": "x"}, "invalid_offset"),
    ],
)
def test_bad_reads_are_refused_before_any_io(http: httpx.Client, path: str, params: dict[str, str], code: str) -> None:
    _error(http.get(path, params=params), 422, code)


@pytest.mark.parametrize(
    "content, content_type, status, code",
    [
        (b'{"workflow_id": "w", "message": 1}', "text/plain", 415, "unsupported_media_type"),
        (b'{"workflow_id": "w", "message": ', "application/json", 400, "invalid_json"),
        (b"[1, 2]", "application/json", 422, "invalid_body"),
        (b'{"workflow_id": "w"}', "application/json", 422, "invalid_body"),
        (b'{"workflow_id": "w", "message": 1, "colour": "red"}', "application/json", 422, "invalid_body"),
        (b'{"workflow_id": "", "message": 1}', "application/json", 422, "invalid_workflow_id"),
        (b'{"workflow_id": "w", "message": 1, "topic": 7}', "application/json", 422, "invalid_topic"),
        (b'{"workflow_id": "w", "message": 1, "idempotency_key": "a\\nb"}', "application/json", 422, "invalid_idempotency_key"),
        (b'{"workflow_id": "w", "message": "' + b"x" * 70_000 + b'"}', "application/json", 413, "body_too_large"),
    ],
)
def test_bad_sends_are_refused_before_any_io(http: httpx.Client, content: bytes, content_type: str, status: int, code: str) -> None:
    headers = {"Content-Type": content_type, "Authorization": f"Bearer {TOKEN}"}
    _error(http.post("/send-message", content=content, headers=headers), status, code)


# -- the live page, in a real browser ----------------------------------------------------


def test_live_page_in_headless_chromium(server: str, request: pytest.FixtureRequest) -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1000,760"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        wait = WebDriverWait(driver, 60, poll_frequency=0.1)
        driver.get(server + "/")
        driver.find_element(By.ID, "start").click()
        wait.until(lambda d: d.find_element(By.ID, "percent").text == "100%")
        assert driver.find_element(By.ID, "fill").get_attribute("style").replace(" ", "") == "width:100%;"
        wait.until(lambda d: d.find_element(By.ID, "tokens").get_attribute("data-done") == "yes")
        assert driver.find_element(By.ID, "tokens").text == ANSWER  # every token, streamed over SSE
        wait.until(lambda d: d.find_element(By.ID, "approve").is_enabled())
        driver.find_element(By.ID, "approve").click()
        wait.until(lambda d: d.find_element(By.ID, "status").text == "approved")
        assert driver.find_element(By.ID, "reply").text.startswith("202 ")
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        shot = SCREENSHOT_DIR / f"live_page_{request.node.callspec.id}.png"
        assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    finally:
        driver.quit()


# -- the gateway mounted in-process: keep-alives, and a reader that goes away -------------


@pytest.fixture(scope="module")
def scenario_url() -> Iterator[str]:
    sys.path.insert(0, str(EXAMPLES))
    from _launcher import running_scenarios

    with running_scenarios() as url:  # a SQLite file: the default
        yield url


def test_sse_keeps_quiet_streams_alive_and_frees_a_departed_reader(scenario_url: str) -> None:
    import threading

    import uvicorn

    from dbos_client import DBOSClient
    from dbos_client.gateway import GatewayLimits, create_gateway

    app = create_gateway(system_database_url=scenario_url, limits=GatewayLimits(sse_keepalive_seconds=0.3))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.05)
        with DBOSClient(system_database_url=scenario_url) as client:
            # checkout writes no stream at all: the reader waits, and is kept alive meanwhile.
            workflow_id = client.enqueue({"queue_name": "scenarios", "workflow_name": "checkout"}, "K-1", 1.0, 30).workflow_id
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
                with http.stream("GET", f"/workflow-stream/{workflow_id}/tokens", headers={"Accept": "text/event-stream"}) as reply:
                    lines = reply.iter_lines()
                    seen = [next(lines) for _ in range(6)]
            assert seen.count(": keepalive") >= 2, seen
            hub = app.state.dbos_client._hub
            deadline = time.monotonic() + 5
            while hub._waiters and time.monotonic() < deadline:  # the departed reader's wait is gone
                time.sleep(0.05)
            assert not hub._waiters
            client.send(workflow_id, {"status": "paid"}, topic="payment")
            assert client.retrieve_workflow(workflow_id).get_result(timeout_seconds=30)["status"] == "paid"
    finally:
        server.should_exit = True
        thread.join(10)
