"""system_database_engine: a user's SQLAlchemy engine, as DBOS takes it, drives our client.

The engine is real (SQLAlchemy comes with the dbos runtime in the test venv, never with
dbos_client); the client reads its URL and opens its own connections to that database.
"""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from conftest import QUEUE, Runtime

from dbos_client import AsyncDBOSClient, DBOSClient

pytestmark = pytest.mark.interop


def test_a_client_on_an_engine_enqueues_and_reads_results(runtime: Runtime, uid: str) -> None:
    engine = sa.create_engine(runtime.url)
    try:
        # DBOS's own test passes a bogus URL beside the engine: the engine's database wins.
        with DBOSClient(system_database_url="postgresql://bogus:url@not:42/fake", system_database_engine=engine) as client:
            handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "echo", "workflow_id": f"eng-{uid}"}, "hi")
            assert handle.get_result(timeout_seconds=30) == {"args": ["hi"], "kwargs": {}}
            assert [w.workflow_id for w in client.list_workflows(workflow_ids=[f"eng-{uid}"])] == [f"eng-{uid}"]
        # The engine is the caller's: the client never disposed of it, and it still works.
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT 1")).scalar() == 1
    finally:
        engine.dispose()


def test_an_async_client_on_an_engine(runtime: Runtime, uid: str) -> None:
    engine = sa.create_engine(runtime.url)

    async def main() -> object:
        async with AsyncDBOSClient(system_database_engine=engine) as client:
            handle = await client.enqueue({"queue_name": QUEUE, "workflow_name": "echo"}, uid)
            return await handle.get_result(timeout_seconds=30)

    try:
        assert asyncio.run(main()) == {"args": [uid], "kwargs": {}}
    finally:
        engine.dispose()
