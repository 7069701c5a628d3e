"""Schedules written by the client, fired by the real runtime's scheduler (3.4.0 and 2.31.1)."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone

import pytest
from conftest import QUEUE, Runtime

from dbos_client import (
    AsyncDBOSClient,
    DBOSClient,
    InvalidArgumentError,
    ScheduleConflictError,
    ScheduleNotFoundError,
    WorkflowSchedule,
)

pytestmark = pytest.mark.interop

#: Daily at a time far from now, so it never fires during a test.
FAR = f"0 {(datetime.now(timezone.utc).hour + 12) % 24} * * *"


def _wait_for(predicate, timeout: float = 30.0, interval: float = 0.2):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(interval)


def test_created_schedule_fires_in_the_application(client: DBOSClient, uid: str) -> None:
    name = f"every-second-{uid}"
    client.create_schedule(schedule_name=name, workflow_name="echo", schedule="* * * * * *", context={"uid": uid})
    try:
        runs = _wait_for(lambda: [s for s in client.list_workflows(schedule_name=name) if s.status == "SUCCESS"])
    finally:
        client.pause_schedule(name)
    run = runs[0]
    assert run.workflow_id.startswith(f"sched-{name}-")
    scheduled_at, context = run.output["args"]
    assert isinstance(scheduled_at, datetime) and context == {"uid": uid}
    assert run.workflow_id == f"sched-{name}-{scheduled_at.isoformat()}"
    assert run.queue_name == "_dbos_internal_queue"
    stored = client.get_schedule(name)
    assert isinstance(stored, WorkflowSchedule) and stored.status == "PAUSED"
    assert stored["last_fired_at"] is not None and stored.context == {"uid": uid}
    # Paused: the application stops firing it (after its polling interval, here 1 s).
    time.sleep(2.5)
    count = len(client.list_workflows(schedule_name=name))
    time.sleep(2.5)
    assert len(client.list_workflows(schedule_name=name)) == count
    client.resume_schedule(name)
    _wait_for(lambda: len(client.list_workflows(schedule_name=name)) > count)
    client.delete_schedule(name)
    assert client.get_schedule(name) is None


def test_schedule_on_a_queue_in_a_time_zone(client: DBOSClient, uid: str) -> None:
    name = f"tz-{uid}"
    client.create_schedule(
        schedule_name=name, workflow_name="echo", schedule="*/2 * * * * *", context=None,
        cron_timezone="Asia/Tokyo", queue_name=QUEUE,
    )  # fmt: skip
    try:
        run = _wait_for(lambda: [s for s in client.list_workflows(schedule_name=name) if s.status == "SUCCESS"])[0]
    finally:
        client.delete_schedule(name)
    scheduled_at = run.output["args"][0]
    assert scheduled_at.utcoffset() == timedelta(hours=9) and scheduled_at.second % 2 == 0
    assert run.queue_name == QUEUE


def test_trigger_and_backfill_run_in_the_application(client: DBOSClient, uid: str) -> None:
    name = f"manual-{uid}"
    client.create_schedule(schedule_name=name, workflow_name="echo", schedule=FAR, context=["ctx", uid])
    before = datetime.now(timezone.utc)
    handle = client.trigger_schedule(name)
    assert handle.workflow_id.startswith(f"sched-{name}-trigger-")
    at, context = handle.get_result(timeout_seconds=30)["args"]
    assert before <= at <= datetime.now(timezone.utc) and context == ["ctx", uid]

    client.apply_schedules([{"schedule_name": name, "workflow_name": "echo", "schedule": "0 * * * *", "context": uid}])
    start = datetime(2025, 6, 1, 0, 30, tzinfo=timezone.utc)
    handles = client.backfill_schedule(name, start, start + timedelta(hours=3))
    expected = [datetime(2025, 6, 1, h, tzinfo=timezone.utc) for h in (1, 2, 3)]
    assert [h.workflow_id for h in handles] == [f"sched-{name}-{t.isoformat()}" for t in expected]
    assert [h.get_result(timeout_seconds=30)["args"] for h in handles] == [[t, uid] for t in expected]
    # Backfilling again finds the same runs and enqueues none.
    again = client.backfill_schedule(name, start, start + timedelta(hours=3))
    assert [h.workflow_id for h in again] == [h.workflow_id for h in handles]
    assert len(client.list_workflows(schedule_name=name)) == 4
    client.delete_schedule(name)


def test_schedule_errors(runtime: Runtime, client: DBOSClient, uid: str) -> None:
    with pytest.raises(InvalidArgumentError, match="Invalid cron schedule"):
        client.create_schedule(schedule_name=f"bad-{uid}", workflow_name="echo", schedule="not a cron")
    with pytest.raises(InvalidArgumentError, match="Invalid timezone"):
        client.create_schedule(schedule_name=f"bad-{uid}", workflow_name="echo", schedule="* * * * *", cron_timezone="Fake/Zone")
    with pytest.raises(InvalidArgumentError, match="missing required field 'schedule'"):
        client.apply_schedules([{"schedule_name": "x", "workflow_name": "echo"}])  # type: ignore[typeddict-item]
    assert client.get_schedule(f"bad-{uid}") is None
    name = f"owned-{uid}"
    with DBOSClient(system_database_url=runtime.url, application_name=f"app-a-{uid}") as a, DBOSClient(
        system_database_url=runtime.url, application_name=f"app-b-{uid}"
    ) as b:
        a.create_schedule(schedule_name=name, workflow_name="echo", schedule=FAR)
        with pytest.raises(ScheduleConflictError, match="already exists"):
            a.create_schedule(schedule_name=name, workflow_name="echo", schedule=FAR)
        with pytest.raises(ScheduleConflictError, match=f"already registered by application 'app-a-{uid}'"):
            b.apply_schedules([{"schedule_name": name, "workflow_name": "echo", "schedule": "* * * * *"}])
        assert a.get_schedule(name).schedule == FAR  # type: ignore[union-attr]
        # Each application lists its own (and unclaimed) schedules; a nameless client lists all.
        assert [s.schedule_name for s in a.list_schedules(schedule_name_prefix=name)] == [name]
        assert b.list_schedules(schedule_name_prefix=name) == []
        assert len(client.list_schedules(schedule_name_prefix=name)) == 1
        a.delete_schedule(name)
    with pytest.raises(ScheduleNotFoundError, match="does not exist"):
        client.trigger_schedule(f"missing-{uid}")


def test_schedules_async(runtime: Runtime, client: DBOSClient, uid: str) -> None:
    async def main() -> None:
        async with AsyncDBOSClient(system_database_url=runtime.url) as aclient:
            name = f"async-{uid}"
            await aclient.create_schedule(schedule_name=name, workflow_name="echo", schedule=FAR, context=42)
            got = await aclient.get_schedule(name)
            assert got is not None and got["context"] == 42 and got["status"] == "ACTIVE"
            await aclient.pause_schedule(name)
            assert [s.status for s in await aclient.list_schedules(schedule_name_prefix=name)] == ["PAUSED"]
            await aclient.resume_schedule(name)
            handle = await aclient.trigger_schedule(name)
            assert (await handle.get_result(timeout_seconds=30))["args"][1] == 42
            await aclient.apply_schedules([{"schedule_name": f"{name}-b", "workflow_name": "echo", "schedule": FAR}])
            assert len(await aclient.list_schedules(schedule_name_prefix=name, status="ACTIVE")) == 2
            # DBOSClient's *_async twins.
            await client.create_schedule_async(schedule_name=f"{name}-c", workflow_name="echo", schedule=FAR)
            assert (await client.get_schedule_async(f"{name}-c")) is not None
            await client.apply_schedules_async([{"schedule_name": f"{name}-c", "workflow_name": "echo", "schedule": "0 0 * * *"}])
            assert len(await client.list_schedules_async(schedule_name_prefix=name)) == 3
            for n in (name, f"{name}-b", f"{name}-c"):
                await client.delete_schedule_async(n)
            assert await aclient.list_schedules(schedule_name_prefix=name) == []

    asyncio.run(main())


SCHEDULE_METHODS = ["create_schedule", "list_schedules", "get_schedule", "delete_schedule", "pause_schedule",
                    "resume_schedule", "apply_schedules", "backfill_schedule", "trigger_schedule",
                    "create_schedule_async", "list_schedules_async", "get_schedule_async", "delete_schedule_async",
                    "apply_schedules_async"]  # fmt: skip


def _signature(fn: object) -> list[tuple[str, object, object]]:
    import inspect

    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values() if p.name != "self"]  # type: ignore[arg-type]


@pytest.mark.parametrize("method", SCHEDULE_METHODS)
def test_schedule_signatures_are_dbos(method: str) -> None:
    import dbos

    assert _signature(getattr(DBOSClient, method)) == _signature(getattr(dbos.DBOSClient, method))


def test_debouncer_client_signature_is_dbos() -> None:
    from dbos._debouncer import DebouncerClient as Theirs

    from dbos_client import DebouncerClient as Ours

    for name in ("__init__", "debounce", "debounce_async"):
        assert _signature(getattr(Ours, name)) == _signature(getattr(Theirs, name)), name
    model_fields = set(WorkflowSchedule.__dataclass_fields__)
    from dbos._sys_db import ClientScheduleInput
    from dbos._sys_db import WorkflowSchedule as TheirSchedule

    from dbos_client import ClientScheduleInput as OurInput

    assert model_fields == set(TheirSchedule.__annotations__)
    assert set(OurInput.__annotations__) == set(ClientScheduleInput.__annotations__)
