"""``dbos-client serve``: the HTTP gateway (``dbos_client.gateway``) under uvicorn, ready to run.

Needs the ``gateway`` extra (FastAPI, uvicorn); imported only when ``serve`` runs. What it adds
to the gateway itself:

* bearer tokens, read from a file (one a line, ``#`` comments) or an environment variable
  (comma or space separated), never from the command line where ``ps`` would show them.
  Sends need a send token; reads need none, unless read tokens are configured or
  ``--require-token-for-reads`` is given (then a read token or a send token);
* CORS origins (``--cors-origin``, repeatable);
* server timeouts: the keep-alive timeout, a deadline for a request's head (a client that
  trickles its headers is cut off), and a cap on concurrent connections;
* one JSON line per request on stderr (method, path, status, duration, bytes, client address):
  never a header, a query string or a body, so never a token;
* FastAPI's OpenAPI page at ``/docs`` (``/openapi.json``), and ``/health``.
"""

from __future__ import annotations

import argparse
import hmac
import json
import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

SEND_TOKENS_ENV = "DBOS_GATEWAY_SEND_TOKENS"
READ_TOKENS_ENV = "DBOS_GATEWAY_READ_TOKENS"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1; 0.0.0.0 for all)")
    p.add_argument("--port", type=int, default=8000, help="default: 8000")
    p.add_argument("--send-tokens-file", metavar="FILE",
                   help=f"bearer tokens that may send messages, one a line (or set ${SEND_TOKENS_ENV}); "
                        "without any, every send is refused")  # fmt: skip
    p.add_argument("--read-tokens-file", metavar="FILE",
                   help=f"bearer tokens that may read (or set ${READ_TOKENS_ENV}); given, reads need a token")  # fmt: skip
    p.add_argument("--require-token-for-reads", action="store_true",
                   help="reads need a read token or a send token (implied by read tokens)")  # fmt: skip
    p.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN",
                   help="a web origin allowed to call the gateway from a browser (repeatable; '*' for any)")  # fmt: skip
    p.add_argument("--timeout-keep-alive", type=float, default=5.0, metavar="SECONDS",
                   help="close an idle keep-alive connection after this (default: 5)")  # fmt: skip
    p.add_argument("--header-timeout", type=float, default=10.0, metavar="SECONDS",
                   help="close a connection whose request head has not arrived after this (default: 10)")  # fmt: skip
    p.add_argument("--limit-concurrency", type=int, default=4000, metavar="N",
                   help="answer 503 beyond this many connections (default: 4000)")  # fmt: skip
    p.add_argument("--request-timeout", type=float, default=5.0, metavar="SECONDS",
                   help="deadline of a request that never blocks; a long-poll gets its timeout + 2 s (default: 5)")  # fmt: skip
    p.add_argument("--sse-keepalive", type=float, default=15.0, metavar="SECONDS",
                   help="a comment on a quiet event stream this often (default: 15)")  # fmt: skip
    p.add_argument("--no-access-log", action="store_true", help="no JSON line per request")
    p.set_defaults(serve=True)


def read_tokens(path: str | None, env: str) -> set[str]:
    """Tokens from a file (one a line, ``#`` comments), else from the environment variable."""
    if path:
        with open(path, encoding="utf-8") as f:
            lines = [line.split("#", 1)[0].strip() for line in f]
        return {line for line in lines if line}
    return {t for t in os.environ.get(env, "").replace(",", " ").split() if t}


def _bearer(headers: Any) -> str:
    given = str(headers.get("authorization", ""))
    scheme, _, token = given.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _matches(token: str, tokens: set[str]) -> bool:
    """Constant time for each token: a wrong guess learns nothing from the timing."""
    found = False
    for candidate in tokens:
        found |= hmac.compare_digest(token.encode(), candidate.encode())
    return bool(token) and found


class _JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            body.update(fields)
        else:
            body["message"] = " ".join(record.getMessage().split())
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        return json.dumps(body, ensure_ascii=True)


class AccessLog:
    """One JSON line per HTTP request, when its answer has been sent (or the client left)."""

    def __init__(self, app: ASGIApp, logger: logging.Logger) -> None:
        self.app, self.logger = app, logger

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        seen = {"status": 0, "bytes": 0}

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                seen["status"] = int(message["status"])
            elif message["type"] == "http.response.body":
                seen["bytes"] += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            client = scope.get("client")
            fields = {
                "event": "access", "method": scope.get("method"), "path": scope.get("path"),
                "status": seen["status"] or 499, "duration_ms": round((time.monotonic() - started) * 1000, 1),
                "bytes": seen["bytes"], "client": client[0] if client else None,
            }  # fmt: skip
            self.logger.info("access", extra={"fields": fields})


def _protocol(head_timeout: float) -> type[Any]:
    """uvicorn's h11 protocol, plus a deadline for each request's head (uvicorn has none)."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeadTimeoutProtocol(H11Protocol):
        _head_timer: Any = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm()

        def _arm(self) -> None:
            if self._head_timer is None:
                self._head_timer = self.loop.call_later(head_timeout, self._head_expired)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def data_received(self, data: bytes) -> None:
            if self.cycle is None or self.cycle.response_complete:
                self._arm()  # the next request's head begins
            before = self.cycle
            super().data_received(data)
            if self.cycle is not before:
                self._disarm()  # its head is complete

        def _head_expired(self) -> None:
            self._head_timer = None
            if (self.cycle is None or self.cycle.response_complete) and not self.transport.is_closing():
                self.transport.close()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return HeadTimeoutProtocol


def build_app(url: str, schema: str, args: argparse.Namespace) -> Any:
    from fastapi import Request
    from fastapi.middleware.cors import CORSMiddleware

    from ..gateway import Access, Action, GatewayLimits, create_gateway

    send_tokens = read_tokens(args.send_tokens_file, SEND_TOKENS_ENV)
    read_only = read_tokens(args.read_tokens_file, READ_TOKENS_ENV)
    reads_need_token = bool(read_only) or args.require_token_for_reads

    def authenticate(request: Request, action: Action) -> bool:
        token = _bearer(request.headers)
        if action == "send":
            return not send_tokens or _matches(token, send_tokens)  # no tokens: the gateway's 403 says why
        return not reads_need_token or _matches(token, read_only | send_tokens)

    def authorize(request: Request, access: Access) -> bool:
        return True  # whoever got past authenticate may do what the token allows

    app = create_gateway(  # it owns its client, and closes it when the server stops
        system_database_url=url, dbos_system_schema=schema,
        authorize=authorize if send_tokens else None, authenticate=authenticate,
        limits=GatewayLimits(request_timeout_seconds=args.request_timeout, sse_keepalive_seconds=args.sse_keepalive),
    )  # fmt: skip

    wrapped: Any = app
    if args.cors_origin:
        wrapped = CORSMiddleware(
            wrapped, allow_origins=args.cors_origin, allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "Last-Event-ID"],
        )  # fmt: skip
    if not args.no_access_log:
        wrapped = AccessLog(wrapped, logging.getLogger("dbos_client.access"))
    return wrapped, app, len(send_tokens), reads_need_token


def _logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonLines())
    for name, level in (("dbos_client", logging.INFO), ("uvicorn", logging.INFO), ("psycopg", logging.WARNING)):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(level)
        logger.propagate = False


def run(args: argparse.Namespace, url: str) -> int:
    try:
        import uvicorn
    except ImportError:
        print("dbos-client: serve needs the gateway extra: pip install 'dbos-client[gateway]'", file=sys.stderr)
        return 2
    _logging()
    log = logging.getLogger("dbos_client.gateway")
    try:
        wrapped, app, n_send, reads_need_token = build_app(url, args.schema, args)
    except OSError as exc:
        print(f"dbos-client: cannot read the tokens: {exc.strerror}: {exc.filename}", file=sys.stderr)
        return 2
    config = uvicorn.Config(
        wrapped, host=args.host, port=args.port, http=_protocol(args.header_timeout), lifespan="on",
        timeout_keep_alive=max(1, int(args.timeout_keep_alive)), limit_concurrency=args.limit_concurrency,
        access_log=False, log_config=None, server_header=False, timeout_graceful_shutdown=10,
    )  # fmt: skip
    log.info(
        "serving the DBOS gateway on http://%s:%d (system database: %s; %d send token(s); reads %s; docs at /docs)",
        args.host, args.port, url.split("://", 1)[0].split("+", 1)[0], n_send,
        "need a token" if reads_need_token else "open",
    )  # fmt: skip
    del app
    uvicorn.Server(config).run()
    return 0
