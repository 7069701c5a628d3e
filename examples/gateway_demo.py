"""The HTTP gateway, serving a live page: start a workflow, watch it, approve it.

    python examples/gateway_demo.py [--postgres] [--port 8000] [--token SECRET]
then open http://127.0.0.1:8000/. The page (static/live.html, plain HTML and JavaScript)
  * starts an `assistant` workflow (POST /demo/start, this demo's own endpoint);
  * draws its progress bar from its events (GET /workflow-events/{id}, which never blocks);
  * shows its tokens as they are written, over Server-Sent Events (GET /workflow-stream/{id}/tokens);
  * sends it the approval it waits for (POST /send-message), with the bearer token that this
    demo's authorization hook asks of every send. Reads need no token here.
Under /readonly the same gateway is mounted without a hook: reads work, and every send is refused.
"""

import argparse
import contextlib
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import uvicorn
from _launcher import running_scenarios
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse

from dbos_client import AsyncDBOSClient
from dbos_client.gateway import Access, create_gateway, create_router

PAGE = Path(__file__).with_name("static") / "live.html"


def build_app(url: str, token: str) -> FastAPI:
    client = AsyncDBOSClient(system_database_url=url)

    def authorize(request: Request, access: Access) -> bool:
        if access.action != "send":
            return True
        given = request.headers.get("authorization", "")
        if not given:
            raise HTTPException(401, "sending needs a bearer token", headers={"WWW-Authenticate": "Bearer"})
        # Only the approval topic, and only with this run's token.
        return access.key == "approval" and secrets.compare_digest(given, f"Bearer {token}")

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await client.close()  # this app owns the client

    app = FastAPI(title="dbos-client gateway demo", lifespan=lifespan)
    app.include_router(create_router(client, authorize=authorize))
    # The same gateway with no hook, mounted as a sub-application: reads work, sends are refused.
    app.mount("/readonly", create_gateway(client))

    @app.post("/demo/start")
    async def start() -> dict:
        handle = await client.enqueue({"queue_name": "scenarios", "workflow_name": "assistant"}, "Why durable workflows?", 0.15)
        return {"workflow_id": handle.workflow_id}

    @app.get("/", response_class=HTMLResponse)
    async def page() -> str:
        return PAGE.read_text().replace("{{SEND_TOKEN}}", token)

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", action="store_true", help="a fresh database on the local Postgres")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--token", default=secrets.token_urlsafe(16), help="the bearer token sends need")
    args = parser.parse_args()
    with running_scenarios() as url:
        print(f"gateway demo on http://{args.host}:{args.port}/ (system database: {url.split('://')[0]})", flush=True)
        uvicorn.run(build_app(url, args.token), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
