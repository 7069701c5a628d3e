"""DebouncerClient against the real runtime: one run, with the last call's arguments."""

from __future__ import annotations

import asyncio
import time

import pytest
from conftest import QUEUE, UNPOLLED_QUEUE, Runtime

from dbos_client import AsyncDBOSClient, DBOSClient, DebouncerClient, DeduplicatedError, InvalidArgumentError

pytestmark = pytest.mark.interop


def test_debounce_runs_once_with_the_last_arguments(client: DBOSClient, uid: str) -> None:
    debouncer: DebouncerClient[dict] = DebouncerClient(client, {"workflow_name": "echo", "queue_name": QUEUE})
    handles = [debouncer.debounce(f"k-{uid}", 1.5, i, tag=uid) for i in range(5)]
    assert len({h.workflow_id for h in handles}) == 1
    status = handles[0].get_status()
    assert status.status == "DELAYED" and status.deduplication_id == f"echo-k-{uid}"
    assert handles[-1].get_result(timeout_seconds=30) == {"args": [4], "kwargs": {"tag": uid}}
    # The key is free again once the run started: the next call makes a new run.
    later = debouncer.debounce(f"k-{uid}", 0.1, "again")
    assert later.workflow_id != handles[0].workflow_id
    assert later.get_result(timeout_seconds=30) == {"args": ["again"], "kwargs": {}}
    # No delay at all: still one debounced run, started at once.
    assert debouncer.debounce(f"z-{uid}", 0, "now").get_result(timeout_seconds=30) == {"args": ["now"], "kwargs": {}}
    # A pinned workflow id is used when the key is free.
    pinned = DebouncerClient(client, {"workflow_name": "echo", "queue_name": QUEUE, "workflow_id": f"pin-{uid}"})
    assert pinned.debounce(f"p-{uid}", 0.1, 1).workflow_id == f"pin-{uid}"


def test_debounce_across_clients_and_applications(runtime: Runtime, client: DBOSClient, uid: str) -> None:
    """Two clients, one acting for the runtime's application: the rows coalesce, not the processes."""
    options = {"workflow_name": "echo", "queue_name": QUEUE}
    with DBOSClient(system_database_url=runtime.url, application_name="interop") as named:
        first = DebouncerClient(client, options).debounce(f"x-{uid}", 2.0, "from-nameless")
        second = DebouncerClient(named, options).debounce(f"x-{uid}", 2.0, "from-named")
        assert second.workflow_id == first.workflow_id
        assert second.get_status().application_name == "interop"  # claimed by the bounce
        with DBOSClient(system_database_url=runtime.url, application_name=f"other-{uid}") as other:
            with pytest.raises(DeduplicatedError):
                DebouncerClient(other, options).debounce(f"x-{uid}", 2.0, "from-other")
        third = DebouncerClient(client, options).debounce(f"x-{uid}", 1.0, "last")
        assert third.workflow_id == first.workflow_id
        assert first.get_result(timeout_seconds=30) == {"args": ["last"], "kwargs": {}}


def test_debounce_timeout_caps_the_delay(client: DBOSClient, uid: str) -> None:
    debouncer: DebouncerClient[dict] = DebouncerClient(
        client, {"workflow_name": "echo", "queue_name": QUEUE}, debounce_timeout_sec=1.5
    )
    started = time.monotonic()
    ids = set()
    while time.monotonic() - started < 5:
        ids.add(debouncer.debounce(f"t-{uid}", 1.0, "x").workflow_id)
        time.sleep(0.2)
    # Calls every 0.2 s would push a 1 s delay back forever; the 1.5 s timeout starts runs anyway.
    assert len(ids) >= 2


def test_debounce_refusals(client: DBOSClient, uid: str) -> None:
    for option, match in (
        ({"deduplication_id": "d"}, "deduplication_id"), ({"delay_seconds": 1.0}, "delay"), ({"priority": 1}, "priority"),
        ({"queue_partition_key": "p"}, "partition key"), ({"duplication_policy": "return-existing"}, "return-existing"),
        ({"workflow_id_reuse_policy": "reject"}, "reject"),
    ):  # fmt: skip
        with pytest.raises(InvalidArgumentError, match=match):
            DebouncerClient(client, {"workflow_name": "echo", "queue_name": QUEUE, **option}).debounce(f"r-{uid}", 1, 1)  # type: ignore[typeddict-item]
    assert client.list_workflows(name="echo", workflow_id_prefix=f"r-{uid}") == []
    # A plain workflow holding the key's deduplication id is not debounced: a conflict.
    holder = client.enqueue({"workflow_name": "echo", "queue_name": UNPOLLED_QUEUE, "deduplication_id": f"echo-h-{uid}"})
    with pytest.raises(DeduplicatedError):
        DebouncerClient(client, {"workflow_name": "echo", "queue_name": UNPOLLED_QUEUE}).debounce(f"h-{uid}", 1, 1)
    client.cancel_workflow(holder.workflow_id)


def test_debounce_async(runtime: Runtime, client: DBOSClient, uid: str) -> None:
    async def main() -> None:
        async with AsyncDBOSClient(system_database_url=runtime.url) as aclient:
            options = {"workflow_name": "echo", "queue_name": QUEUE}
            a = await DebouncerClient(aclient, options).debounce_async(f"a-{uid}", 1.5, 1)
            b = await DebouncerClient(client, options).debounce_async(f"a-{uid}", 1.5, 2)
            assert a.workflow_id == b.workflow_id
            assert await a.get_result(timeout_seconds=30) == {"args": [2], "kwargs": {}}
        with pytest.raises(TypeError, match="debounce_async"):
            DebouncerClient(AsyncDBOSClient(system_database_url=runtime.url), options).debounce("k", 1)

    asyncio.run(main())
