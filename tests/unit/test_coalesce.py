"""AsyncDBOSClient's coalescing of identical reads: the batching rule, without a database.

Only the statement runner is replaced (by a counter); what is tested is which callers
share one run: identical reads asked in the same loop iteration do, a read asked after
the batch started does not (so no caller gets a result older than its request), and
writes never do.
"""

from __future__ import annotations

import asyncio
from typing import Any

from dbos_client import AsyncDBOSClient
from dbos_client._ops import Query


def _client() -> tuple[AsyncDBOSClient, list[Query]]:
    client = AsyncDBOSClient(lazy=True, system_database_url="postgresql://u@127.0.0.1:1/never")
    runs: list[Query] = []

    async def fake_execute_alone(query: Query) -> Any:
        runs.append(query)
        number = len(runs)  # this run's own number, whatever starts while it sleeps
        await asyncio.sleep(0.01)
        return ("row", number)

    client._execute_alone = fake_execute_alone  # type: ignore[method-assign]
    return client, runs


def test_identical_reads_in_one_iteration_share_one_run() -> None:
    async def main() -> None:
        client, runs = _client()
        read = Query("SELECT 1 WHERE x = %s", ("a",), fetch="one", read_only=True)
        results = await asyncio.gather(*(client._execute(read) for _ in range(500)))
        assert len(runs) == 1 and set(results) == {("row", 1)}

    asyncio.run(main())


def test_a_read_asked_after_the_batch_started_runs_again() -> None:
    async def main() -> None:
        client, runs = _client()
        read = Query("SELECT 1 WHERE x = %s", ("a",), fetch="one", read_only=True)
        first = asyncio.ensure_future(client._execute(read))
        await asyncio.sleep(0.001)  # the first batch is now running
        second = await client._execute(read)
        assert await first == ("row", 1) and second == ("row", 2) and len(runs) == 2

    asyncio.run(main())


def test_different_params_and_writes_are_never_shared() -> None:
    async def main() -> None:
        client, runs = _client()
        reads = [Query("SELECT %s", (i,), fetch="one", read_only=True) for i in range(3)]
        write = Query("INSERT %s", ("x",), fetch="none")
        await asyncio.gather(*(client._execute(q) for q in reads), client._execute(write), client._execute(write))
        assert len(runs) == 5

    asyncio.run(main())


def test_a_cancelled_caller_does_not_cancel_the_others() -> None:
    async def main() -> None:
        client, runs = _client()
        read = Query("SELECT 1", None, fetch="one", read_only=True)
        a = asyncio.ensure_future(client._execute(read))
        b = asyncio.ensure_future(client._execute(read))
        await asyncio.sleep(0.001)
        a.cancel()
        assert await b == ("row", 1) and a.cancelled() and len(runs) == 1

    asyncio.run(main())


def test_an_error_reaches_every_caller() -> None:
    async def main() -> None:
        client, _ = _client()

        async def failing(query: Query) -> Any:
            await asyncio.sleep(0.01)
            raise RuntimeError("boom")

        client._execute_alone = failing  # type: ignore[method-assign]
        read = Query("SELECT 1", None, fetch="one", read_only=True)
        results = await asyncio.gather(*(client._execute(read) for _ in range(3)), return_exceptions=True)
        assert all(isinstance(r, RuntimeError) for r in results)

    asyncio.run(main())


def test_list_parameters_can_be_coalesced() -> None:
    async def main() -> None:
        client, runs = _client()
        read = Query("SELECT %(ids)s", {"ids": ["a", "b"], "limit": None}, read_only=True)
        await asyncio.gather(client._execute(read), client._execute(read))
        assert len(runs) == 1

    asyncio.run(main())
