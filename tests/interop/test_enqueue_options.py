"""The rest of the enqueue and stream surface against the real runtime: what its workflow sees
(attributes, authenticated user and roles, the trace context), read_stream_offset, delays,
update_workflow_attributes and resume_workflows."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from conftest import QUEUE, UNPOLLED_QUEUE, Runtime

from dbos_client import (
    DBOSClient,
    InvalidArgumentError,
    StreamTimeoutError,
    WorkflowNotFoundError,
)

pytestmark = pytest.mark.interop

TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736
SPAN_ID = 0x00F067AA0BA902B7


def needs_attributes(client: DBOSClient) -> None:
    if not client.get_schema_info().has("workflow_status", "attributes"):
        pytest.skip("this DBOS schema has no workflow attributes")


def caller_context() -> Any:
    """The context of a caller's active span (no SDK needed: a span context is all that travels)."""
    from opentelemetry import trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    span = NonRecordingSpan(SpanContext(TRACE_ID, SPAN_ID, is_remote=False, trace_flags=TraceFlags(1)))
    return trace.set_span_in_context(span)


def whoami(client: DBOSClient, **options: Any) -> Any:
    handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "whoami", **options})
    return handle.get_result(timeout_seconds=30)


# -- what the workflow sees ------------------------------------------------------------------


def test_the_workflow_runs_as_the_authenticated_user(client: DBOSClient) -> None:
    seen = whoami(client, authenticated_user="alice", authenticated_roles=["admin", "ops"])
    assert (seen["user"], seen["roles"]) == ("alice", ["admin", "ops"])
    assert whoami(client)["user"] is None


def test_the_workflow_sees_its_attributes(client: DBOSClient, runtime: Runtime, uid: str) -> None:
    needs_attributes(client)
    attributes = {"customer": "acme", "uid": uid, "n": [1, {"deep": None}]}
    seen = whoami(client, attributes=attributes)
    assert seen["attributes"] == attributes and seen["trace"] is None
    assert whoami(client)["attributes"] is None


def test_the_workflow_joins_the_callers_trace(client: DBOSClient, runtime: Runtime) -> None:
    needs_attributes(client)
    seen = whoami(client, otel_context=caller_context(), attributes={"customer": "acme"})
    assert seen["attributes"]["customer"] == "acme"
    assert seen["attributes"]["dbos.otelContext"] == {"traceparent": f"00-{TRACE_ID:032x}-{SPAN_ID:016x}-01"}
    if seen["trace"] is None and not runtime.is_v3:
        pytest.skip("the 2.x test venv has no opentelemetry, so that runtime cannot read the carrier it got")
    assert seen["trace"] == {"trace_id": format(TRACE_ID, "032x"), "span_id": format(SPAN_ID, "016x")}


def test_an_empty_otel_context_records_nothing(client: DBOSClient, runtime: Runtime) -> None:
    needs_attributes(client)
    from opentelemetry import context

    seen = whoami(client, otel_context=context.Context())
    assert seen["attributes"] is None and seen["trace"] is None


# -- list_workflows(attributes=...), update_workflow_attributes --------------------------------


def test_list_by_attributes(client: DBOSClient, runtime: Runtime, uid: str) -> None:
    needs_attributes(client)
    opts = {"queue_name": UNPOLLED_QUEUE, "workflow_name": "echo"}
    a = client.enqueue({**opts, "attributes": {"uid": uid, "n": 1, "tags": ["x", "y"]}}).workflow_id
    b = client.enqueue({**opts, "attributes": {"uid": uid, "n": 2}}).workflow_id
    if runtime.is_sqlite:
        with pytest.raises(InvalidArgumentError, match="not supported on SQLite"):
            client.list_workflows(attributes={"uid": uid})
        return
    assert [s.workflow_id for s in client.list_workflows(attributes={"uid": uid})] == [a, b]
    assert [s.workflow_id for s in client.list_queued_workflows(attributes={"uid": uid, "n": 2})] == [b]
    assert [s.workflow_id for s in client.list_workflows(attributes={"uid": uid, "tags": ["y"]})] == [a]
    assert [s.workflow_id for s in asyncio.run(client.list_workflows_async(attributes={"uid": uid, "n": 1}))] == [a]


def test_updated_attributes_reach_the_resumed_workflow(client: DBOSClient, runtime: Runtime, uid: str) -> None:
    needs_attributes(client)
    handle = client.enqueue({"queue_name": UNPOLLED_QUEUE, "workflow_name": "whoami", "attributes": {"source": "client"}})
    wid = handle.workflow_id
    client.update_workflow_attributes(wid, {"source": "updated"})
    assert handle.get_status().attributes == {"source": "updated"}
    client.update_workflow_attributes(wid, {"count": 1}, merge=True)
    asyncio.run(client.update_workflow_attributes_async(wid, {"uid": uid}, merge=True))
    expected = {"source": "updated", "count": 1, "uid": uid}
    assert handle.get_status().attributes == expected
    with pytest.raises(InvalidArgumentError, match="Cannot merge None"):
        client.update_workflow_attributes(wid, None, merge=True)
    with pytest.raises(WorkflowNotFoundError):
        client.update_workflow_attributes(f"nope-{uid}", {"a": 1})
    # The runtime runs it once resumed onto a polled queue, and sees the merged attributes.
    client.resume_workflow(wid, queue_name=QUEUE)
    assert handle.get_result(timeout_seconds=30)["attributes"] == expected
    client.update_workflow_attributes(wid, None)
    assert handle.get_status().attributes is None


# -- read_stream_offset ----------------------------------------------------------------------------


def test_read_stream_offset(client: DBOSClient, runtime: Runtime) -> None:
    values = ["v0", {"one": 1}, None, "v3"]
    handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "stream_values"}, "log", values, True, 0.0)
    wid = handle.workflow_id
    assert [client.read_stream_offset(wid, "log", i, timeout_seconds=30) for i in range(4)] == values
    assert asyncio.run(client.read_stream_offset_async(wid, "log", 1, timeout_seconds=30)) == {"one": 1}
    start = time.monotonic()
    with pytest.raises(StreamTimeoutError):
        client.read_stream_offset(wid, "log", 4, timeout_seconds=30)  # closed short of it: at once
    assert time.monotonic() - start < 5
    with pytest.raises(WorkflowNotFoundError):
        client.read_stream_offset("no-such-workflow", "log", 0, timeout_seconds=1)


def test_read_stream_offset_waits_for_the_value(client: DBOSClient) -> None:
    handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "stream_after_message"}, "s", "go", 30)
    wid = handle.workflow_id
    assert client.read_stream_offset(wid, "s", 0, timeout_seconds=30) == "first"
    with pytest.raises(StreamTimeoutError):
        client.read_stream_offset(wid, "s", 1, timeout_seconds=0.3)  # still waiting for its message

    async def later() -> Any:
        reader = asyncio.ensure_future(client.read_stream_offset_async(wid, "s", 1, timeout_seconds=30))
        await asyncio.sleep(0.3)
        assert not reader.done()
        await client.send_async(wid, {"second": True}, topic="go")
        return await reader

    assert asyncio.run(later()) == {"second": True}


# -- set_workflow_delay ----------------------------------------------------------------------------


def test_set_workflow_delay_releases_a_delayed_workflow(client: DBOSClient, uid: str) -> None:
    handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "echo", "delay_seconds": 3600}, uid)
    assert handle.get_status().status == "DELAYED"
    before = handle.get_status().delay_until_epoch_ms
    client.set_workflow_delay(handle.workflow_id, delay_seconds=7200)
    assert handle.get_status().delay_until_epoch_ms > before + 3_000_000
    client.set_workflow_delay(handle.workflow_id, delay_until_epoch_ms=int(time.time() * 1000) + 500)
    assert handle.get_result(timeout_seconds=30) == {"args": [uid], "kwargs": {}}
    # A workflow no longer DELAYED is left as it is; an unknown one is an error.
    client.set_workflow_delay(handle.workflow_id, delay_seconds=60)
    assert handle.get_status().status == "SUCCESS"
    with pytest.raises(WorkflowNotFoundError):
        client.set_workflow_delay(f"nope-{uid}", delay_seconds=1)


def test_set_workflow_delay_async_holds_a_workflow_back(client: DBOSClient, uid: str) -> None:
    handle = client.enqueue({"queue_name": QUEUE, "workflow_name": "echo", "delay_seconds": 1}, uid)
    asyncio.run(client.set_workflow_delay_async(handle.workflow_id, delay_seconds=4))
    time.sleep(2.5)
    assert handle.get_status().status == "DELAYED"  # the first delay would have released it by now
    assert handle.get_result(timeout_seconds=30) == {"args": [uid], "kwargs": {}}


# -- resume_workflows ----------------------------------------------------------------------------------


def test_resume_workflows_runs_them_all(client: DBOSClient, uid: str) -> None:
    ids = [client.enqueue({"queue_name": UNPOLLED_QUEUE, "workflow_name": "echo"}, uid, i).workflow_id for i in range(3)]
    client.cancel_workflows(ids)
    with pytest.raises(WorkflowNotFoundError):
        client.resume_workflows([*ids, f"nope-{uid}"], queue_name=QUEUE)
    assert {client.retrieve_workflow(w).get_status().status for w in ids} == {"CANCELLED"}  # all or nothing
    handles = client.resume_workflows(ids[:2], queue_name=QUEUE)
    assert [h.get_result(timeout_seconds=30) for h in handles] == [{"args": [uid, i], "kwargs": {}} for i in range(2)]

    async def resume_last() -> Any:
        [handle] = await client.resume_workflows_async(ids[2:])  # DBOS's internal queue, which every app polls
        return await handle.get_result(timeout_seconds=30)

    assert asyncio.run(resume_last()) == {"args": [uid, 2], "kwargs": {}}


# -- the row and the refusals, beside dbos's own build_enqueue_status ---------------------------

PARITY_OPTIONS = [
    {"attributes": {"customer": "acme", "n": [1, None]}},
    {"attributes": {"dbos.otelContext": {"traceparent": "forged"}}, "otel_context": "span"},
    {"otel_context": "span"},
    {"otel_context": "empty", "attributes": {"a": 1}},
    {"authenticated_user": "alice", "authenticated_roles": ["admin", "ops"]},
    {"authenticated_roles": []},
    {"deduplication_id": "d", "duplication_policy": "return-existing", "workflow_id_reuse_policy": "reject"},
    {"duplication_policy": "reject", "workflow_id_reuse_policy": "return-existing"},
]


def build(options: dict[str, Any], *args: Any) -> Any:
    from dbos_client._options import build_enqueue
    from dbos_client._serialization import Codec

    return build_enqueue(options, args, {}, Codec(), None)


def _options(extra: dict[str, Any]) -> dict[str, Any]:
    from opentelemetry import context

    opts = {"workflow_name": "whoami", "queue_name": QUEUE, **extra}
    if opts.get("otel_context") == "span":
        opts["otel_context"] = caller_context()
    elif opts.get("otel_context") == "empty":
        opts["otel_context"] = context.Context()
    return opts


@pytest.mark.parametrize("extra", PARITY_OPTIONS, ids=lambda e: ",".join(e))
def test_enqueue_row_matches_dbos(extra: dict[str, Any]) -> None:
    from dbos._enqueue_options import build_enqueue_status
    from dbos._serialization import DefaultSerializer
    opts = _options(extra)
    _, theirs = build_enqueue_status(opts, DefaultSerializer(), (1,), {})  # type: ignore[arg-type]
    ours = build(opts, 1).row
    for field in ("attributes", "authenticated_user", "authenticated_roles", "deduplication_id", "queue_name", "name"):
        assert ours[field] == theirs[field], field  # type: ignore[literal-required]


@pytest.mark.parametrize(
    "extra",
    [
        {"workflow_id_reuse_policy": "bogus"},
        {"duplication_policy": "bogus"},
        {"duplication_policy": "return-existing"},
    ],
    ids=repr,
)
def test_refusals_say_what_dbos_says(extra: dict[str, Any]) -> None:
    from dbos._enqueue_options import build_enqueue_status
    from dbos._error import DBOSException
    from dbos._serialization import DefaultSerializer
    opts = _options(extra)
    with pytest.raises(DBOSException) as theirs:
        build_enqueue_status(opts, DefaultSerializer(), (), {})  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError) as ours:
        build(opts)
    assert str(theirs.value) == f"DBOS Error: {ours.value}"


def test_attribute_refusals_say_what_dbos_says() -> None:
    from dbos._context import validate_workflow_attributes
    from dbos._error import DBOSException

    with pytest.raises(DBOSException) as theirs:
        validate_workflow_attributes([1])  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError) as ours:
        client_side = DBOSClient(system_database_url="postgresql://u@127.0.0.1:1/db", lazy=True)
        client_side.update_workflow_attributes("w", [1])  # type: ignore[arg-type]
    assert str(theirs.value) == f"DBOS Error: {ours.value}"
