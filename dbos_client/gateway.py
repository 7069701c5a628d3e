"""An HTTP gateway to DBOS workflows: events, messages and streams over HTTP (FastAPI).

``pip install 'dbos-client[gateway]'``. Built on ``AsyncDBOSClient``: a request that waits
holds no thread and no database connection while it waits. ``dbos-client serve`` runs it
standalone (uvicorn, bearer tokens, CORS, access logs); see ``dbos_client.cli._serve``.

    from dbos_client import AsyncDBOSClient
    from dbos_client.gateway import create_gateway

    client = AsyncDBOSClient(system_database_url="postgresql://...")
    app.mount("/dbos", create_gateway(client, authorize=my_hook))    # or app.include_router(create_router(...))

Endpoints, and what blocks (every request has a deadline: its own timeout plus
``GatewayLimits.deadline_grace_seconds``, or ``request_timeout_seconds`` for the routes
that never block; past it the answer is 503 ``database_unavailable`` with ``Retry-After``):

``GET /workflow-events/{workflow_id}/{key}?timeout=60``
    Blocks until the key is published or ``timeout`` seconds pass (default 60, at most
    ``GatewayLimits.max_event_timeout_seconds``). 200 ``{"workflow_id", "key", "value"}``;
    504 ``{"error": "timeout"}`` when the timeout passed; 404 ``workflow_not_found``, or
    ``event_not_published`` when the workflow finished without publishing the key.
    A client that disconnects frees its wait at once.
``GET /workflow-events/{workflow_id}``
    Never blocks. 200 ``{"workflow_id", "events": {key: latest value}}``.
``POST /send-message``
    Never blocks. JSON body ``{"workflow_id", "message", "topic"?, "idempotency_key"?}``;
    202 once the message is stored. Refused (403) unless the ``authorize`` hook allows it.
``GET /workflow-stream/{workflow_id}/{key}?offset=0``
    Never blocks: 200 ``{"values": [...], "next_offset", "done"}``, the values written so far.
    With ``Accept: text/event-stream`` (what ``EventSource`` sends), the same URL streams the
    values live as Server-Sent Events (``id:`` is each value's offset, so a reconnect resumes
    after ``Last-Event-ID``), with a comment every 15 s to keep proxies from closing it, and
    ends with ``event: end`` when the stream is closed or the workflow has finished. When the
    database is unreachable (at the start or midway) it sends ``event: unavailable`` and closes
    the connection WITHOUT ``end``: the browser's ``EventSource`` reconnects after ``retry:``
    milliseconds and resumes after the last id it saw.
``GET /health``
    200 ``{"status": "ok", "database": "up", "listener": ..., "waits": n}``, or 503 with
    ``"database": "down"``. ``listener`` is ``up``, ``down``, ``idle`` (no wait yet) or
    ``not_used`` (SQLite). No authentication.

Ids and keys are path segments: percent-encode a ``/`` in an id (``tenant%2Fabc``).
Values are JSON; a float NaN or infinity is written as ``null`` (what ``JSON.stringify`` does),
bytes as base64 and a compiled pattern as its text (a TypeScript app's Buffer and RegExp).

Every error is JSON, ``{"error": code, "message": text}``, and every input is checked
before the database is touched: ids and keys (length, no control characters, valid
Unicode), timeouts, offsets (0 to 2**31-1), body size, content type, JSON nesting depth and
number length, and fields. A server error's message never shows the server's internals.

Authorization: ``authenticate(request, action)``, if given, runs first, before anything of
the request is parsed; False answers 401. Then ``authorize(request, access)`` is called
with what is being asked (``Access``: the action, the workflow id, the key or topic). Each
returns True to allow or False to refuse (403), may be async, and may raise
``fastapi.HTTPException`` to answer otherwise (401 with a ``WWW-Authenticate`` header, say).
Without an ``authorize`` hook, reads are allowed and sends are refused: a gateway must never
let just anyone signal workflows.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import json
import logging
import math
import re
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, cast
from urllib.parse import unquote

try:
    from fastapi import APIRouter, FastAPI, HTTPException, Request
    from fastapi.encoders import jsonable_encoder
    from fastapi.responses import JSONResponse, StreamingResponse
except ImportError as exc:  # pragma: no cover - depends on what is installed
    raise ImportError("dbos_client.gateway needs FastAPI: pip install 'dbos-client[gateway]'") from exc

from ._hub_state import MAX_STREAM_OFFSET
from .client_async import AsyncDBOSClient
from .errors import (
    DatabaseUnavailableError,
    DBOSClientError,
    InvalidArgumentError,
    StreamTimeoutError,
    WorkflowNotFoundError,
)

logger = logging.getLogger("dbos_client.gateway")
T = TypeVar("T")

Action = Literal["get_event", "get_all_events", "send", "read_stream"]


@dataclass(frozen=True)
class Access:
    """What a request asks for, as the authorization hook sees it."""

    action: Action
    workflow_id: str
    #: The event key, the stream key, or the message topic (None: a message without topic).
    key: str | None = None


Authorize = Callable[[Request, Access], bool | Awaitable[bool]]
#: Runs before anything of the request is parsed (a bearer token, say): only the action is known.
Authenticate = Callable[[Request, Action], bool | Awaitable[bool]]


@dataclass(frozen=True)
class GatewayLimits:
    """What the gateway accepts; anything beyond is refused with a JSON error before any I/O."""

    max_id_length: int = 256
    max_key_length: int = 256
    max_message_bytes: int = 64 * 1024
    default_event_timeout_seconds: float = 60.0
    max_event_timeout_seconds: float = 300.0
    #: Values in one JSON answer of the stream endpoint (ask again from ``next_offset``).
    max_stream_values: int = 1000
    sse_keepalive_seconds: float = 15.0
    #: The deadline of a request that never blocks (all events, a send, a stream read, opening SSE).
    request_timeout_seconds: float = 5.0
    #: A long-poll's deadline is its timeout plus this (its final read).
    deadline_grace_seconds: float = 2.0
    #: How deep arrays and objects may nest in a send's body.
    max_json_depth: int = 32
    #: The most digits a number in a send's body may have.
    max_number_digits: int = 100
    #: How long an ``EventSource`` waits before it reconnects (the SSE ``retry:`` field).
    sse_retry_milliseconds: int = 3000


class GatewayError(Exception):
    """An answer other than success: an HTTP status, a stable code, and a message for people."""

    def __init__(self, http_status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(message)
        self.http_status, self.code, self.message, self.headers, self.extra = http_status, code, message, headers, extra

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message, **self.extra}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.http_status, headers=self.headers)


class _ClientGone(Exception):
    """The client disconnected while its request waited: nobody reads the answer."""


_SEND_FIELDS = {"workflow_id", "message", "topic", "idempotency_key"}
_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
#: Strings (skipped whole), brackets, and runs of digits: enough to measure JSON without parsing it.
_JSON_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]|\d+')


def _unavailable(message: str) -> GatewayError:
    return GatewayError(503, "database_unavailable", message, headers={"Retry-After": "5"})


class _Gateway:
    def __init__(
        self, client: AsyncDBOSClient, authorize: Authorize | None, limits: GatewayLimits, authenticate: Authenticate | None
    ) -> None:
        self.client = client
        self.authorize = authorize
        self.authenticate = authenticate
        self.limits = limits

    # -- checks ----------------------------------------------------------------------

    def text(self, value: Any, what: str, limit: int) -> str:
        if not isinstance(value, str) or not value:
            raise GatewayError(422, f"invalid_{what}", f"{what} must be a non-empty string")
        if len(value) > limit:
            raise GatewayError(422, f"invalid_{what}", f"{what} is longer than {limit} characters")
        if any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise GatewayError(422, f"invalid_{what}", f"{what} contains control characters")
        if not _valid_unicode(value):
            raise GatewayError(422, f"invalid_{what}", f"{what} is not valid Unicode (a lone surrogate)")
        return value

    def workflow_id(self, value: Any) -> str:
        return self.text(value, "workflow_id", self.limits.max_id_length)

    def key(self, value: Any, what: str = "key") -> str:
        return self.text(value, what, self.limits.max_key_length)

    def timeout(self, request: Request) -> float:
        raw = request.query_params.get("timeout")
        if raw is None:
            return self.limits.default_event_timeout_seconds
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not (0 <= value <= self.limits.max_event_timeout_seconds):
            raise GatewayError(
                422, "invalid_timeout",
                f"timeout must be a number of seconds from 0 to {self.limits.max_event_timeout_seconds:g}, got {raw!r}",
            )  # fmt: skip
        return value

    def offset(self, request: Request) -> int:
        """``?offset=``, or after ``Last-Event-ID`` (an EventSource reconnecting): both 0 to 2**31-1."""
        last_id = request.headers.get("last-event-id", "").strip()
        if last_id:
            value = _integer(last_id)
            if value is None or not 0 <= value < MAX_STREAM_OFFSET:
                raise GatewayError(
                    422, "invalid_last_event_id",
                    f"Last-Event-ID must be an offset from 0 to {MAX_STREAM_OFFSET - 1}, got {last_id[:40]!r}",
                )  # fmt: skip
            return value + 1  # resume after what it has
        raw = request.query_params.get("offset", "0")
        value = _integer(raw)
        if value is None or not 0 <= value <= MAX_STREAM_OFFSET:
            raise GatewayError(422, "invalid_offset", f"offset must be an integer from 0 to {MAX_STREAM_OFFSET}, got {raw[:40]!r}")
        return value

    async def authenticated(self, request: Request, action: Action) -> None:
        """The ``authenticate`` hook, before anything of the request is read."""
        if self.authenticate is None:
            return
        verdict = await _ask(self.authenticate, request, action)
        if verdict is not True:
            raise GatewayError(401, "unauthorized", "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"})

    async def allow(self, request: Request, access: Access) -> None:
        if self.authorize is None:
            if access.action == "send":
                raise GatewayError(
                    403, "forbidden",
                    "this gateway refuses to send messages: it has no authorization hook (create_gateway(authorize=...))",
                )  # fmt: skip
            return
        verdict = await _ask(self.authorize, request, access)
        if verdict is not True:
            raise GatewayError(403, "forbidden", f"not allowed to {access.action.replace('_', ' ')} on this workflow")

    async def json_body(self, request: Request) -> dict[str, Any]:
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type != "application/json":
            raise GatewayError(415, "unsupported_media_type", "the body must be JSON (Content-Type: application/json)")
        limit = self.limits.max_message_bytes
        too_large = GatewayError(413, "body_too_large", f"the body is larger than {limit} bytes")
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise too_large

        async def read() -> bytearray:
            body = bytearray()
            async for chunk in request.stream():  # chunked uploads declare no length: count
                body += chunk
                if len(body) > limit:
                    raise too_large
            return body

        try:  # a body trickled in byte by byte must not hold the request open forever
            body = await asyncio.wait_for(read(), self.limits.request_timeout_seconds)
        except asyncio.TimeoutError:
            raise GatewayError(408, "request_timeout", "the body did not arrive in time") from None
        self.measure_json(bytes(body))
        try:
            parsed = json.loads(body, parse_constant=_no_constant)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise GatewayError(400, "invalid_json", f"the body is not valid JSON: {exc}") from None
        except (ValueError, RecursionError):  # NaN/Infinity, or anything the measure let through
            raise GatewayError(400, "invalid_json", "the body is not valid JSON (NaN, Infinity or too deep)") from None
        if not isinstance(parsed, dict):
            raise GatewayError(422, "invalid_body", "the body must be a JSON object")
        if not _valid_unicode_tree(parsed):
            raise GatewayError(422, "invalid_body", "the body holds a string that is not valid Unicode (a lone surrogate)")
        return parsed

    def measure_json(self, body: bytes) -> None:
        """Refuse (422) what would make the parser recurse too deep or read a huge number."""
        depth, max_depth, max_digits = 0, self.limits.max_json_depth, self.limits.max_number_digits
        for match in _JSON_TOKENS.finditer(body):
            token = match.group()
            if token in (b"[", b"{"):
                depth += 1
                if depth > max_depth:
                    raise GatewayError(422, "invalid_body", f"the body nests arrays and objects more than {max_depth} deep")
            elif token in (b"]", b"}"):
                depth -= 1
            elif token[:1] != b'"' and len(token) > max_digits:
                raise GatewayError(422, "invalid_body", f"the body has a number of more than {max_digits} digits")

    async def bounded(self, work: Awaitable[T], seconds: float) -> T:
        """``work`` within the request's deadline, or 503 (the database did not answer in time)."""
        try:
            return await asyncio.wait_for(work, seconds)
        except asyncio.TimeoutError:
            raise _unavailable(f"the workflows' system database did not answer within {seconds:g} s; try again later") from None

    # -- endpoints -------------------------------------------------------------------

    async def get_event(self, request: Request, workflow_id: str, key: str) -> JSONResponse:
        await self.authenticated(request, "get_event")
        workflow_id, key = self.workflow_id(workflow_id), self.key(key)
        timeout = self.timeout(request)
        await self.allow(request, Access("get_event", workflow_id, key))
        # Unknown ids answer at once (404); the public get_event would wait for one, as DBOS does.
        outcome = await _unless_gone(
            request,
            self.bounded(
                self.client._get_event_outcome(workflow_id, key, timeout_seconds=timeout),
                timeout + self.limits.deadline_grace_seconds,
            ),
        )
        if outcome.kind == "never":
            raise GatewayError(
                404, "event_not_published",
                f"workflow {workflow_id!r} ended ({outcome.status}) without publishing event {key!r}",
                status=outcome.status,
            )  # fmt: skip
        if outcome.kind == "not_yet":
            raise GatewayError(
                504, "timeout", f"event {key!r} of workflow {workflow_id!r} was not published within {timeout:g} s",
                timeout_seconds=timeout,
            )  # fmt: skip
        value = outcome.value
        return JSONResponse({"workflow_id": workflow_id, "key": key, "value": _jsonable(value, f"event {key!r}")})

    async def get_all_events(self, request: Request, workflow_id: str) -> JSONResponse:
        await self.authenticated(request, "get_all_events")
        workflow_id = self.workflow_id(workflow_id)
        await self.allow(request, Access("get_all_events", workflow_id))
        events = await self.bounded(self.client.get_all_events(workflow_id), self.limits.request_timeout_seconds)
        return JSONResponse({"workflow_id": workflow_id, "events": _jsonable(events, "events")})

    async def send_message(self, request: Request) -> JSONResponse:
        await self.authenticated(request, "send")
        body = await self.json_body(request)
        unknown = sorted(set(body) - _SEND_FIELDS)
        if unknown:
            raise GatewayError(422, "invalid_body", f"unknown field(s): {', '.join(unknown)[:200]}; expected {sorted(_SEND_FIELDS)}")
        if "message" not in body:
            raise GatewayError(422, "invalid_body", "the body needs a 'message' (any JSON value)")
        workflow_id = self.workflow_id(body.get("workflow_id"))
        topic = body.get("topic")
        topic = None if topic is None else self.key(topic, "topic")
        key = body.get("idempotency_key")
        key = None if key is None else self.key(key, "idempotency_key")
        await self.allow(request, Access("send", workflow_id, topic))
        await self.bounded(
            self.client.send(workflow_id, body["message"], topic=topic, idempotency_key=key),
            self.limits.request_timeout_seconds,
        )
        return JSONResponse(
            {"status": "accepted", "workflow_id": workflow_id, "topic": topic, "idempotency_key": key}, status_code=202
        )

    async def read_stream(self, request: Request, workflow_id: str, key: str) -> Any:
        await self.authenticated(request, "read_stream")
        workflow_id, key = self.workflow_id(workflow_id), self.key(key)
        offset = self.offset(request)
        await self.allow(request, Access("read_stream", workflow_id, key))
        if "text/event-stream" in request.headers.get("accept", ""):
            try:  # 404 now, not inside a 200 event stream
                await self.bounded(self.client.retrieve_workflow(workflow_id), self.limits.request_timeout_seconds)
            except (GatewayError, DatabaseUnavailableError) as exc:
                if isinstance(exc, GatewayError) and exc.http_status != 503:
                    raise
                # An EventSource given a 503 would give up for good: answer 200, and let it reconnect.
                body = self._unavailable_event(offset)
                return StreamingResponse(_once(body), media_type="text/event-stream", headers=_SSE_HEADERS)
            return StreamingResponse(self._sse(workflow_id, key, offset), media_type="text/event-stream", headers=_SSE_HEADERS)
        return await self.bounded(self._values_so_far(workflow_id, key, offset), self.limits.request_timeout_seconds)

    async def _values_so_far(self, workflow_id: str, key: str, offset: int) -> JSONResponse:
        values: list[Any] = []
        done = False
        try:  # an unknown workflow raises WorkflowNotFoundError (404) at the first read
            # timeout 0: every value already written, then StreamTimeoutError if it is still open.
            async with _closing(self.client.read_stream(workflow_id, key, offset=offset, timeout_seconds=0)) as it:
                async for value in it:
                    values.append(_jsonable(value, "a stream value"))
                    if len(values) >= self.limits.max_stream_values:
                        break
                else:
                    done = True
        except StreamTimeoutError:
            pass
        return JSONResponse({"workflow_id": workflow_id, "key": key, "offset": offset, "values": values,
                             "next_offset": offset + len(values), "done": done})  # fmt: skip

    def _unavailable_event(self, offset: int) -> str:
        body = _unavailable("the workflows' system database is unreachable; reconnecting").body()
        body["next_offset"] = offset
        return f"retry: {self.limits.sse_retry_milliseconds}\n\nevent: unavailable\ndata: {json.dumps(body)}\n\n"

    async def _sse(self, workflow_id: str, key: str, offset: int) -> AsyncIterator[str]:
        yield f"retry: {self.limits.sse_retry_milliseconds}\n\n"
        reason = "closed"
        try:
            while True:
                try:
                    stream = self.client.read_stream(
                        workflow_id, key, offset=offset, timeout_seconds=self.limits.sse_keepalive_seconds
                    )
                    async with _closing(stream) as it:
                        async for value in it:
                            data = _dumps(_jsonable(value, "a stream value"))
                            yield f"id: {offset}\ndata: {data}\n\n"
                            offset += 1
                    break
                except StreamTimeoutError:
                    yield ": keepalive\n\n"  # nothing for a while: keep the connection (and proxies) open
        except DatabaseUnavailableError:
            # A transient outage: no `end`, so the EventSource reconnects and resumes after its last id.
            yield self._unavailable_event(offset)
            return
        except (DBOSClientError, GatewayError) as exc:
            # The answer has started (200): a failure now can only be told as an event.
            reason = "error"
            yield f"event: error\ndata: {json.dumps(_to_gateway_error(exc).body())}\n\n"
        yield f"event: end\ndata: {json.dumps({'reason': reason, 'next_offset': offset})}\n\n"

    async def health(self) -> JSONResponse:
        client = self.client
        try:
            # One real round trip (check_connection answers from its cache once the schema is known).
            await self.bounded(client.list_workflows(workflow_ids=["dbos-client-health"], limit=1), self.limits.request_timeout_seconds)
            database = "up"
        except Exception:  # noqa: BLE001 - any failure means down; the reason is in the client's log
            database = "down"
        hub = client._hub
        if client._core.dialect == "sqlite":
            listener = "not_used"
        elif hub is None:
            listener = "idle"
        else:
            listener = "up" if hub._listening else "down"
        waits = 0 if hub is None else len(hub._waiters)
        ok = database == "up" and listener != "down"
        body = {"status": "ok" if ok else "degraded", "database": database, "listener": listener, "waits": waits}
        return JSONResponse(body, status_code=200 if database == "up" else 503)


async def _ask(hook: Callable[..., Any], *args: Any) -> Any:
    try:
        verdict = hook(*args)
        if inspect.isawaitable(verdict):
            verdict = await verdict
    except HTTPException as exc:
        message = exc.detail if isinstance(exc.detail, str) else "not authorized"
        code = "unauthorized" if exc.status_code == 401 else "forbidden" if exc.status_code == 403 else "refused"
        raise GatewayError(exc.status_code, code, message, headers=dict(exc.headers or {})) from None
    return verdict


async def _unless_gone(request: Request, work: Coroutine[Any, Any, T]) -> T:
    """Run ``work`` until it ends or the client disconnects (then cancel it: its wait is freed)."""
    task = asyncio.ensure_future(work)
    gone = asyncio.ensure_future(_disconnect(request))
    try:
        await asyncio.wait({task, gone}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            return task.result()
        raise _ClientGone()
    finally:
        for pending in (task, gone):
            if not pending.done():
                pending.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await pending


async def _disconnect(request: Request) -> None:
    """Returns when the client has gone (the server's ``http.disconnect``); a GET's body is empty."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


async def _once(text: str) -> AsyncIterator[str]:
    yield text


def _integer(raw: str) -> int | None:
    raw = raw.strip()
    if not raw or len(raw) > 20 or not raw.lstrip("-").isdigit():
        return None
    return int(raw)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _valid_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _valid_unicode_tree(value: Any) -> bool:
    """Every string (and key) encodes as UTF-8. Iterative: the depth is bounded already, but still."""
    todo = [value]
    while todo:
        item = todo.pop()
        if isinstance(item, str):
            if not _valid_unicode(item):
                return False
        elif isinstance(item, dict):
            todo.extend(item.keys())
            todo.extend(item.values())
        elif isinstance(item, list):
            todo.extend(item)
    return True


def _finite(value: Any) -> Any:
    """NaN and infinities as null, as JSON.stringify writes them: strict JSON has no such numbers."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _dumps(value: Any) -> str:
    return json.dumps(value, allow_nan=False)


def _closing(stream: AsyncIterator[Any]) -> contextlib.aclosing[AsyncGenerator[Any, None]]:
    """Close a ``read_stream`` iterator (an async generator) when the answer is done with it."""
    return contextlib.aclosing(cast("AsyncGenerator[Any, None]", stream))


def _base64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode("ascii")


#: What a decoded TypeScript value (js_superjson) can hold that JSON cannot: a Buffer comes back
#: as bytes (sent as base64, not as text that may not be UTF-8) and a RegExp as re.Pattern.
_ENCODERS: dict[Any, Any] = {bytes: _base64, bytearray: _base64, re.Pattern: lambda p: p.pattern}


def _jsonable(value: Any, what: str) -> Any:
    try:
        return _finite(jsonable_encoder(value, custom_encoder=_ENCODERS))
    except Exception as exc:  # noqa: BLE001 - a value with no JSON form is the workflow's choice
        logger.warning("the value of %s (%s) has no JSON form: %s", what, type(value).__name__, exc)
        raise GatewayError(500, "unserializable_value", f"the value of {what} ({type(value).__name__}) has no JSON form") from None


def _to_gateway_error(exc: BaseException) -> GatewayError:
    if isinstance(exc, GatewayError):
        return exc
    if isinstance(exc, WorkflowNotFoundError):
        return GatewayError(404, "workflow_not_found", str(exc))
    if isinstance(exc, InvalidArgumentError):
        return GatewayError(422, "invalid_argument", str(exc))
    if isinstance(exc, DatabaseUnavailableError):
        return _unavailable("the workflows' system database is unreachable; try again later")
    if isinstance(exc, DBOSClientError):
        # The client's message may name server internals (a pickled class's module, a file): log it only.
        logger.warning("the DBOS client failed: %s: %s", type(exc).__name__, exc)
        return GatewayError(500, "client_error", f"the DBOS client failed ({type(exc).__name__}); see the server's log")
    logger.exception("unexpected error in the DBOS gateway")
    return GatewayError(500, "internal_error", "unexpected error; see the server's log")


def _route(handler: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """Every failure becomes a JSON answer, whether the gateway is mounted or included."""

    @functools.wraps(handler)  # FastAPI reads the handler's own parameters through __wrapped__
    async def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return await handler(*args, **kwargs)
        except _ClientGone:
            return JSONResponse({"error": "client_closed_request", "message": "the client went away"}, status_code=499)
        except Exception as exc:  # noqa: BLE001 - mapped to an HTTP answer
            return _to_gateway_error(exc).response()

    return run


def _raw_segments(request: Request, route: str, *decoded: str) -> list[str]:
    """The path's segments after ``route``, each percent-decoded on its own (so ``%2F`` stays in its id).

    The server decodes the path before routing, so ``tenant%2Fabc`` arrives as two segments;
    the raw path still tells them apart. Falls back to what was routed.
    """
    raw = request.scope.get("raw_path")
    wanted = "/".join(decoded)
    if isinstance(raw, bytes):
        try:
            parts = raw.decode("ascii").split("/")
        except UnicodeDecodeError:
            parts = []
        for i, part in enumerate(parts):
            rest = parts[i + 1 :]
            if part == route and rest and unquote("/".join(rest)) == wanted:
                return [unquote(p, errors="surrogateescape") for p in rest]
    return list(decoded)


def create_router(
    client: AsyncDBOSClient,
    *,
    authorize: Authorize | None = None,
    limits: GatewayLimits | None = None,
    authenticate: Authenticate | None = None,
) -> APIRouter:
    """The gateway's routes, to ``include_router`` into an application (which owns ``client``)."""
    gateway = _Gateway(client, authorize, limits or GatewayLimits(), authenticate)
    router = APIRouter()

    @router.get("/workflow-events/{workflow_id}/{key:path}")
    @_route
    async def get_event(request: Request, workflow_id: str, key: str) -> Any:
        """Block until the event is published (200) or the timeout passes (504)."""
        parts = _raw_segments(request, "workflow-events", workflow_id, key)
        if len(parts) == 1:  # /workflow-events/tenant%2Fabc: one id with a slash in it
            return await gateway.get_all_events(request, parts[0])
        return await gateway.get_event(request, parts[0], "/".join(parts[1:]))

    @router.get("/workflow-events/{workflow_id}")
    @_route
    async def get_all_events(request: Request, workflow_id: str) -> Any:
        """Every event's latest value. Never blocks."""
        return await gateway.get_all_events(request, workflow_id)

    @router.post("/send-message", status_code=202)
    @_route
    async def send_message(request: Request) -> Any:
        """Store a message for a workflow (202). Never blocks. Needs the authorization hook's consent."""
        return await gateway.send_message(request)

    @router.get("/workflow-stream/{workflow_id}/{key:path}")
    @_route
    async def read_stream(request: Request, workflow_id: str, key: str) -> Any:
        """The values written so far (JSON), or, with Accept: text/event-stream, live as SSE."""
        parts = _raw_segments(request, "workflow-stream", workflow_id, key)
        if len(parts) == 1:
            raise GatewayError(404, "not_found", "a stream is read at /workflow-stream/{workflow_id}/{key}")
        return await gateway.read_stream(request, parts[0], "/".join(parts[1:]))

    @router.get("/health")
    @_route
    async def health() -> Any:
        """Whether the system database answers and the notification listener is up. No authentication."""
        return await gateway.health()

    return router


def create_gateway(
    client: AsyncDBOSClient | None = None,
    *,
    system_database_url: str | None = None,
    authorize: Authorize | None = None,
    limits: GatewayLimits | None = None,
    authenticate: Authenticate | None = None,
    dbos_system_schema: str = "dbos",
) -> FastAPI:
    """A FastAPI application serving the gateway: mount it, or serve it as it is.

    Pass the ``client`` your application owns (and closes), or a ``system_database_url``:
    then the gateway makes its own ``AsyncDBOSClient`` and closes it when the application
    shuts down (a mounted application gets no shutdown; close ``app.state.dbos_client``).
    """
    owned = client is None
    if client is None:
        # lazy: the gateway starts (and answers /health with 503) while the database is down;
        # it never enters the client's ``async with``, which is where lazy=False would connect.
        client = AsyncDBOSClient(system_database_url=system_database_url, dbos_system_schema=dbos_system_schema, lazy=True)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if owned:
            await client.close()

    app = FastAPI(title="DBOS workflow gateway", lifespan=lifespan)
    app.state.dbos_client = client
    app.include_router(create_router(client, authorize=authorize, limits=limits, authenticate=authenticate))
    return app


__all__ = ["Access", "Authenticate", "Authorize", "GatewayError", "GatewayLimits", "create_gateway", "create_router"]
