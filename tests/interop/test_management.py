"""Management calls against a real runtime: list, steps, bulk cancel, delete."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest
from conftest import QUEUE, UNPOLLED_QUEUE, Runtime

from dbos_client import AsyncDBOSClient, DBOSClient, InvalidArgumentError, WorkflowNotFoundError

pytestmark = pytest.mark.interop


def test_list_workflows_filters(client: DBOSClient, uid: str) -> None:
    # Whole seconds: a SQLite runtime migrated on Python < 3.12 stamps created_at in seconds.
    before = datetime.now(timezone.utc).replace(microsecond=0)
    ids = [
        client.enqueue({"queue_name": UNPOLLED_QUEUE, "workflow_name": "echo", "workflow_id": f"ls-{uid}-{i}"}, i).workflow_id
        for i in range(3)
    ]
    done = client.enqueue({"queue_name": QUEUE, "workflow_name": "sleep_wf", "workflow_id": f"ls-{uid}-done"}, 0)
    done.get_result(timeout_seconds=30)

    mine = client.list_workflows(workflow_id_prefix=f"ls-{uid}-")
    assert [s.workflow_id for s in mine] == [*ids, done.workflow_id]  # oldest first
    assert [s.workflow_id for s in client.list_workflows(workflow_id_prefix=f"ls-{uid}-", sort_desc=True, limit=2)] == [
        done.workflow_id, ids[2]]  # fmt: skip
    assert [s.workflow_id for s in client.list_workflows(workflow_id_prefix=f"ls-{uid}-", offset=3)] == [done.workflow_id]
    by_status = client.list_workflows(workflow_id_prefix=f"ls-{uid}-", status="SUCCESS", name=["sleep_wf"])
    assert [(s.workflow_id, s.output) for s in by_status] == [(done.workflow_id, 0)]
    unloaded = client.list_workflows(workflow_ids=[done.workflow_id], load_output=False, load_input=False)
    assert unloaded[0].output is None and unloaded[0].input is None
    loaded = client.list_workflows(workflow_ids=[ids[1]])
    assert loaded[0].input == {"args": (1,), "kwargs": {}}
    assert len(client.list_workflows(workflow_id_prefix=f"ls-{uid}-", queue_name=UNPOLLED_QUEUE, start_time=before.isoformat())) == 3
    assert client.list_workflows(workflow_id_prefix=f"ls-{uid}-", end_time="2000-01-01T00:00:00Z") == []
    queued = client.list_queued_workflows(workflow_id_prefix=f"ls-{uid}-")
    assert sorted(s.workflow_id for s in queued) == sorted(ids)
    with pytest.raises(InvalidArgumentError, match="colour"):
        client.list_workflows(colour="red")  # type: ignore[call-arg]
    with pytest.raises(InvalidArgumentError, match="status"):
        client.list_workflows(status="RUNNING")
    client.cancel_workflows(ids)


def test_prefix_is_literal(client: DBOSClient, uid: str) -> None:
    client.enqueue({"queue_name": UNPOLLED_QUEUE, "workflow_name": "echo", "workflow_id": f"pct-{uid}-a"})
    # '%' and '_' in a prefix are not wildcards.
    assert client.list_workflows(workflow_id_prefix=f"pct%{uid}") == []
    assert client.list_workflows(workflow_id_prefix=f"pct_{uid}") == []
    assert len(client.list_workflows(workflow_id_prefix=f"pct-{uid}")) == 1
    client.cancel_workflow(f"pct-{uid}-a")


def test_list_workflow_steps(client: DBOSClient) -> None:
    # DBOS.sleep(0) records no step; a real delay does.
    handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "publish_events"}, 2, 0.01)
    handle.get_result(timeout_seconds=30)
    steps = client.list_workflow_steps(handle.workflow_id)
    names = [s["function_name"] for s in steps]
    assert names.count("DBOS.setEvent") == 3 and "DBOS.sleep" in names
    assert [s["function_id"] for s in steps] == sorted(s["function_id"] for s in steps)
    assert client.list_workflow_steps(handle.workflow_id, limit=1, offset=1) == [steps[1]]
    assert all(s["output"] is None for s in client.list_workflow_steps(handle.workflow_id, load_output=False))
    fresh = client.enqueue({"queue_name": UNPOLLED_QUEUE, "workflow_name": "echo"})
    assert client.list_workflow_steps(fresh.workflow_id) == []
    client.cancel_workflow(fresh.workflow_id)
    with pytest.raises(WorkflowNotFoundError):
        client.list_workflow_steps("nope-steps")


def test_bulk_cancel_is_all_or_nothing(client: DBOSClient, uid: str) -> None:
    ids = [client.enqueue({"queue_name": UNPOLLED_QUEUE, "workflow_name": "echo"}).workflow_id for _ in range(3)]
    with pytest.raises(WorkflowNotFoundError, match=f"ghost-{uid}"):
        client.cancel_workflows([*ids, f"ghost-{uid}"])
    assert {s.status for s in client.list_workflows(workflow_ids=ids)} == {"ENQUEUED"}  # nothing changed
    client.cancel_workflows(ids)
    assert {s.status for s in client.list_workflows(workflow_ids=ids)} == {"CANCELLED"}


def test_delete_removes_everything(runtime: Runtime, client: DBOSClient, uid: str) -> None:
    handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "publish_events"}, 2, 0.0)
    handle.get_result(timeout_seconds=30)
    keep = client.enqueue({"queue_name": UNPOLLED_QUEUE, "workflow_name": "echo"})
    with pytest.raises(WorkflowNotFoundError):
        client.delete_workflows([handle.workflow_id, f"ghost-{uid}"])
    assert client.get_all_events(handle.workflow_id)  # still there: all or nothing
    client.delete_workflow(handle.workflow_id)
    for call in (client.retrieve_workflow, client.get_all_events, client.list_workflow_steps):
        with pytest.raises(WorkflowNotFoundError):
            call(handle.workflow_id)
    with pytest.raises(WorkflowNotFoundError):
        client.delete_workflow(handle.workflow_id)
    assert client.retrieve_workflow(keep.workflow_id).get_status().status == "ENQUEUED"
    # The same id can be used again: nothing of the old workflow is left to shadow it.
    again = client.enqueue({"queue_name": QUEUE, "workflow_name": "echo", "workflow_id": handle.workflow_id}, "new")
    assert again.get_result(timeout_seconds=30) == {"args": ["new"], "kwargs": {}}
    client.delete_workflows([keep.workflow_id, again.workflow_id])


def test_management_through_the_async_client(runtime: Runtime, uid: str) -> None:
    async def main() -> None:
        async with AsyncDBOSClient(system_database_url=runtime.url) as c:
            ids = [(await c.enqueue({"queue_name": UNPOLLED_QUEUE, "workflow_name": "echo",
                                     "workflow_id": f"am-{uid}-{i}"})).workflow_id for i in range(2)]  # fmt: skip
            assert [s.workflow_id for s in await c.list_workflows(workflow_id_prefix=f"am-{uid}")] == ids
            assert len(await c.list_queued_workflows(workflow_id_prefix=f"am-{uid}")) == 2
            await c.cancel_workflows(ids)
            assert await c.list_workflow_steps(ids[0]) == []
            await c.delete_workflows(ids)
            assert await c.list_workflows(workflow_id_prefix=f"am-{uid}") == []

    asyncio.run(main())
    with DBOSClient(system_database_url=runtime.url) as client:

        async def via_aliases() -> None:
            h = await client.enqueue_async({"queue_name": UNPOLLED_QUEUE, "workflow_name": "echo", "workflow_id": f"al-{uid}"})
            assert len(await client.list_workflows_async(workflow_ids=[h.workflow_id])) == 1
            await client.delete_workflow_async(h.workflow_id)

        asyncio.run(via_aliases())
