"""An HTTP gateway to DBOS workflows: events, messages and streams over HTTP (FastAPI).

``pip install 'dbos-client[gateway]'``. Built on ``AsyncDBOSClient``: a request that waits
holds no thread and no database connection while it waits.

    from dbos_client import AsyncDBOSClient
    from dbos_client.gateway import create_gateway

    client = AsyncDBOSClient(system_database_url="postgresql://...")
    app.mount("/dbos", create_gateway(client, authorize=my_hook))    # or app.include_router(create_router(...))

Endpoints, and what blocks:

``GET /workflow-events/{workflow_id}/{key}?timeout=60``
    Blocks until the key is published or ``timeout`` seconds pass (default 60, at most
    ``GatewayLimits.max_event_timeout_seconds``). 200 ``{"workflow_id", "key", "value"}``;
    504 ``{"error": "timeout"}`` when the timeout passed; 404 ``workflow_not_found``, or
    ``event_not_published`` when the workflow finished without publishing the key.
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
    ends with ``event: end`` when the stream is closed or the workflow has finished.

Every error is JSON, ``{"error": code, "message": text}``, and every input is checked
before the database is touched: ids and keys (length, no control characters), timeouts,
offsets, body size, content type and fields.

Authorization: ``authorize(request, access)`` is called before every call with what is being
asked (``Access``: the action, the workflow id, the key or topic). It returns True to allow
or False to refuse (403), may be async, and may raise ``fastapi.HTTPException`` to answer
otherwise (401 with a ``WWW-Authenticate`` header, say). Without a hook, reads are allowed
and sends are refused: a gateway must never let just anyone signal workflows.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import logging
import math
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, cast

try:
    from fastapi import APIRouter, FastAPI, HTTPException, Request
    from fastapi.encoders import jsonable_encoder
    from fastapi.responses import JSONResponse, StreamingResponse
except ImportError as exc:  # pragma: no cover - depends on what is installed
    raise ImportError("dbos_client.gateway needs FastAPI: pip install 'dbos-client[gateway]'") from exc

from .client_async import AsyncDBOSClient
from .errors import (
    DatabaseUnavailableError,
    DBOSClientError,
    InvalidArgumentError,
    StreamTimeoutError,
    WorkflowNotFoundError,
)

logger = logging.getLogger("dbos_client.gateway")

Action = Literal["get_event", "get_all_events", "send", "read_stream"]


@dataclass(frozen=True)
class Access:
    """What a request asks for, as the authorization hook sees it."""

    action: Action
    workflow_id: str
    #: The event key, the stream key, or the message topic (None: a message without topic).
    key: str | None = None


Authorize = Callable[[Request, Access], bool | Awaitable[bool]]


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


class GatewayError(Exception):
    """An answer other than success: an HTTP status, a stable code, and a message for people."""

    def __init__(self, http_status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(message)
        self.http_status, self.code, self.message, self.headers, self.extra = http_status, code, message, headers, extra

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message, **self.extra}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.http_status, headers=self.headers)


_SEND_FIELDS = {"workflow_id", "message", "topic", "idempotency_key"}
_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class _Gateway:
    def __init__(self, client: AsyncDBOSClient, authorize: Authorize | None, limits: GatewayLimits) -> None:
        self.client = client
        self.authorize = authorize
        self.limits = limits

    # -- checks ----------------------------------------------------------------------

    def text(self, value: Any, what: str, limit: int) -> str:
        if not isinstance(value, str) or not value:
            raise GatewayError(422, f"invalid_{what}", f"{what} must be a non-empty string")
        if len(value) > limit:
            raise GatewayError(422, f"invalid_{what}", f"{what} is longer than {limit} characters")
        if any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise GatewayError(422, f"invalid_{what}", f"{what} contains control characters")
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
        last_id = request.headers.get("last-event-id")
        raw = request.query_params.get("offset", "0")
        try:
            if last_id is not None:
                return int(last_id) + 1  # an EventSource reconnecting: resume after what it has
            value = int(raw)
        except ValueError:
            value = -1
        if value < 0:
            raise GatewayError(422, "invalid_offset", f"offset must be a non-negative integer, got {raw!r}")
        return value

    async def allow(self, request: Request, access: Access) -> None:
        if self.authorize is None:
            if access.action == "send":
                raise GatewayError(
                    403, "forbidden",
                    "this gateway refuses to send messages: it has no authorization hook (create_gateway(authorize=...))",
                )  # fmt: skip
            return
        try:
            verdict = self.authorize(request, access)
            if inspect.isawaitable(verdict):
                verdict = await verdict
        except HTTPException as exc:
            message = exc.detail if isinstance(exc.detail, str) else "not authorized"
            code = "unauthorized" if exc.status_code == 401 else "forbidden" if exc.status_code == 403 else "refused"
            raise GatewayError(exc.status_code, code, message, headers=dict(exc.headers or {})) from None
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
        body = bytearray()
        async for chunk in request.stream():  # chunked uploads declare no length: count
            body += chunk
            if len(body) > limit:
                raise too_large
        try:
            parsed = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise GatewayError(400, "invalid_json", f"the body is not valid JSON: {exc}") from None
        if not isinstance(parsed, dict):
            raise GatewayError(422, "invalid_body", "the body must be a JSON object")
        return parsed

    # -- endpoints -------------------------------------------------------------------

    async def get_event(self, request: Request, workflow_id: str, key: str) -> JSONResponse:
        workflow_id, key = self.workflow_id(workflow_id), self.key(key)
        timeout = self.timeout(request)
        await self.allow(request, Access("get_event", workflow_id, key))
        # Unknown ids answer at once (404); the public get_event would wait for one, as DBOS does.
        outcome = await self.client._get_event_outcome(workflow_id, key, timeout_seconds=timeout)
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
        workflow_id = self.workflow_id(workflow_id)
        await self.allow(request, Access("get_all_events", workflow_id))
        events = await self.client.get_all_events(workflow_id)
        return JSONResponse({"workflow_id": workflow_id, "events": _jsonable(events, "events")})

    async def send_message(self, request: Request) -> JSONResponse:
        body = await self.json_body(request)
        unknown = sorted(set(body) - _SEND_FIELDS)
        if unknown:
            raise GatewayError(422, "invalid_body", f"unknown field(s): {', '.join(unknown)}; expected {sorted(_SEND_FIELDS)}")
        if "message" not in body:
            raise GatewayError(422, "invalid_body", "the body needs a 'message' (any JSON value)")
        workflow_id = self.workflow_id(body.get("workflow_id"))
        topic = body.get("topic")
        topic = None if topic is None else self.key(topic, "topic")
        key = body.get("idempotency_key")
        key = None if key is None else self.key(key, "idempotency_key")
        await self.allow(request, Access("send", workflow_id, topic))
        await self.client.send(workflow_id, body["message"], topic=topic, idempotency_key=key)
        return JSONResponse(
            {"status": "accepted", "workflow_id": workflow_id, "topic": topic, "idempotency_key": key}, status_code=202
        )

    async def read_stream(self, request: Request, workflow_id: str, key: str) -> Any:
        workflow_id, key = self.workflow_id(workflow_id), self.key(key)
        offset = self.offset(request)
        await self.allow(request, Access("read_stream", workflow_id, key))
        if "text/event-stream" in request.headers.get("accept", ""):
            await self.client.retrieve_workflow(workflow_id)  # 404 now, not inside a 200 event stream
            return StreamingResponse(self._sse(workflow_id, key, offset), media_type="text/event-stream", headers=_SSE_HEADERS)
        values: list[Any] = []
        done = False
        try:  # an unknown workflow raises WorkflowNotFoundError (404) at the first read
            # timeout 0: every value already written, then StreamTimeoutError if it is still open.
            async with _closing(self.client.read_stream(workflow_id, key, offset=offset, timeout_seconds=0)) as it:
                async for value in it:
                    values.append(_jsonable(value, f"stream {key!r}"))
                    if len(values) >= self.limits.max_stream_values:
                        break
                else:
                    done = True
        except StreamTimeoutError:
            pass
        return JSONResponse({"workflow_id": workflow_id, "key": key, "offset": offset, "values": values,
                             "next_offset": offset + len(values), "done": done})  # fmt: skip

    async def _sse(self, workflow_id: str, key: str, offset: int) -> AsyncIterator[str]:
        yield "retry: 3000\n\n"
        reason = "closed"
        try:
            while True:
                try:
                    stream = self.client.read_stream(
                        workflow_id, key, offset=offset, timeout_seconds=self.limits.sse_keepalive_seconds
                    )
                    async with _closing(stream) as it:
                        async for value in it:
                            data = json.dumps(_jsonable(value, f"stream {key!r}"))
                            yield f"id: {offset}\ndata: {data}\n\n"
                            offset += 1
                    break
                except StreamTimeoutError:
                    yield ": keepalive\n\n"  # nothing for a while: keep the connection (and proxies) open
        except (DBOSClientError, GatewayError) as exc:
            # The answer has started (200): a failure now can only be told as an event.
            reason = "error"
            yield f"event: error\ndata: {json.dumps(_to_gateway_error(exc).body())}\n\n"
        yield f"event: end\ndata: {json.dumps({'reason': reason, 'next_offset': offset})}\n\n"


def _closing(stream: AsyncIterator[Any]) -> contextlib.aclosing[AsyncGenerator[Any, None]]:
    """Close a ``read_stream`` iterator (an async generator) when the answer is done with it."""
    return contextlib.aclosing(cast("AsyncGenerator[Any, None]", stream))


def _jsonable(value: Any, what: str) -> Any:
    try:
        return jsonable_encoder(value)
    except Exception as exc:  # noqa: BLE001 - a value with no JSON form is the workflow's choice
        raise GatewayError(500, "unserializable_value", f"the value of {what} ({type(value).__name__}) has no JSON form: {exc}") from None


def _to_gateway_error(exc: BaseException) -> GatewayError:
    if isinstance(exc, GatewayError):
        return exc
    if isinstance(exc, WorkflowNotFoundError):
        return GatewayError(404, "workflow_not_found", str(exc))
    if isinstance(exc, InvalidArgumentError):
        return GatewayError(422, "invalid_argument", str(exc))
    if isinstance(exc, DatabaseUnavailableError):
        return GatewayError(503, "database_unavailable", "the workflows' system database is unreachable; try again later")
    if isinstance(exc, DBOSClientError):
        return GatewayError(500, "client_error", str(exc))
    logger.exception("unexpected error in the DBOS gateway")
    return GatewayError(500, "internal_error", "unexpected error; see the server's log")


def _route(handler: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """Every failure becomes a JSON answer, whether the gateway is mounted or included."""

    @functools.wraps(handler)  # FastAPI reads the handler's own parameters through __wrapped__
    async def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return await handler(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - mapped to an HTTP answer
            return _to_gateway_error(exc).response()

    return run


def create_router(
    client: AsyncDBOSClient, *, authorize: Authorize | None = None, limits: GatewayLimits | None = None
) -> APIRouter:
    """The gateway's routes, to ``include_router`` into an application (which owns ``client``)."""
    gateway = _Gateway(client, authorize, limits or GatewayLimits())
    router = APIRouter()

    @router.get("/workflow-events/{workflow_id}/{key:path}")
    @_route
    async def get_event(request: Request, workflow_id: str, key: str) -> Any:
        """Block until the event is published (200) or the timeout passes (504)."""
        return await gateway.get_event(request, workflow_id, key)

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
        return await gateway.read_stream(request, workflow_id, key)

    return router


def create_gateway(
    client: AsyncDBOSClient | None = None,
    *,
    system_database_url: str | None = None,
    authorize: Authorize | None = None,
    limits: GatewayLimits | None = None,
) -> FastAPI:
    """A FastAPI application serving the gateway: mount it, or serve it as it is.

    Pass the ``client`` your application owns (and closes), or a ``system_database_url``:
    then the gateway makes its own ``AsyncDBOSClient`` and closes it when the application
    shuts down (a mounted application gets no shutdown; close ``app.state.dbos_client``).
    """
    owned = client is None
    if client is None:
        client = AsyncDBOSClient(system_database_url=system_database_url)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if owned:
            await client.close()

    app = FastAPI(title="DBOS workflow gateway", lifespan=lifespan)
    app.state.dbos_client = client
    app.include_router(create_router(client, authorize=authorize, limits=limits))
    return app


__all__ = ["Access", "Authorize", "GatewayError", "GatewayLimits", "create_gateway", "create_router"]
