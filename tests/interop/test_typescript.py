"""A DBOS TypeScript app (tests/interop/ts_app, @dbos-inc/dbos-sdk 5.3.0) driven only through dbos_client.

Python writes portable JSON, which the TS runtime reads; the TS app writes portable JSON from
its portable workflows, and ``js_superjson`` (its default format) from the ``*_native`` ones and
from every step. Every superjson mapping below is checked against values the real TS runtime
wrote. The TS SDK supports only Postgres system databases: on SQLite these tests skip, saying so.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pytest
from conftest import ADMIN_URL, _backends
from runtime import create_database, drop_database
from ts_runtime import TS_QUEUE, TS_SDK_VERSION, TSRuntime, ts_app_missing

from dbos_client import (
    AsyncDBOSClient,
    DBOSClient,
    InvalidArgumentError,
    PortableWorkflowError,
    ResultTimeoutError,
    SerializationError,
    WorkflowCancelledError,
)

pytestmark = pytest.mark.interop

PORTABLE: dict[str, Any] = {"queue_name": TS_QUEUE, "serialization_type": "portable"}
UTC = timezone.utc


@pytest.fixture(scope="module", params=_backends(), ids=lambda b: f"ts{TS_SDK_VERSION}-{b}")
def ts_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A running TS app on its own fresh Postgres database; its URL."""
    if request.param == "sqlite":
        pytest.skip("the DBOS TypeScript SDK supports only Postgres system databases")
    missing = ts_app_missing()
    if missing:
        import os

        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{missing}; CI=true, so this fails instead of skipping", pytrace=False)
        pytest.skip(missing)
    url = create_database(ADMIN_URL)
    proc = TSRuntime(url)
    try:
        proc.start()
        yield url
    finally:
        proc.stop()
        drop_database(url, ADMIN_URL)


@pytest.fixture
def ts(ts_url: str) -> Iterator[DBOSClient]:
    with DBOSClient(system_database_url=ts_url) as c:
        yield c


def run(client: DBOSClient, name: str, *args: Any, **options: Any) -> Any:
    return client.enqueue({**PORTABLE, "workflow_name": name, **options}, *args)


def native(client: DBOSClient, name: str, *args: Any) -> str:
    """Start a TS workflow that uses the SDK's default serializer (js_superjson); its id."""
    wid = run(client, "start_native", name, *args).get_result(timeout_seconds=30)
    assert isinstance(wid, str)
    return wid


def wait_status(client: DBOSClient, workflow_id: str, wanted: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while client.retrieve_workflow(workflow_id).get_status().status != wanted:
        assert time.monotonic() < deadline, f"{workflow_id} never became {wanted}"
        time.sleep(0.1)


# -- the scenarios --------------------------------------------------------------------------------


def test_enqueue_by_name_and_result(ts: DBOSClient) -> None:
    assert run(ts, "echo", 1, "two", {"x": [3]}).get_result(timeout_seconds=30) == [1, "two", {"x": [3]}]


def test_keyword_args_are_dropped_by_ts_unless_refused(ts: DBOSClient) -> None:
    # Portable JSON writes them as namedArgs; the TS runtime reads positionalArgs only.
    handle = ts.enqueue({**PORTABLE, "workflow_name": "echo"}, 1, extra=2)
    assert handle.get_result(timeout_seconds=30) == [1]
    assert handle.get_status().input == {"args": (1,), "kwargs": {"extra": 2}}
    with pytest.raises(InvalidArgumentError, match="namedArgs"):
        ts.enqueue({**PORTABLE, "workflow_name": "echo", "workflow_id": "never-kw", "reject_keyword_args": True}, 1, extra=2)
    assert ts.list_workflows(workflow_ids=["never-kw"]) == []


def test_events_while_running_and_blocking(ts: DBOSClient) -> None:
    handle = run(ts, "event_after_message", "payment", "pay", 30)
    assert ts.get_event(handle.workflow_id, "status", 30) == "waiting"
    got: list[Any] = []
    waiter = threading.Thread(target=lambda: got.append(ts.get_event(handle.workflow_id, "payment", 30)))
    waiter.start()
    time.sleep(0.5)
    assert waiter.is_alive()
    ts.send(handle.workflow_id, {"id": "pi_1"}, topic="pay", serialization_type="portable")
    waiter.join(30)
    assert got == [{"id": "pi_1"}]
    assert handle.get_result(timeout_seconds=30) == {"id": "pi_1"}
    assert ts.get_all_events(handle.workflow_id) == {"status": "waiting", "payment": {"id": "pi_1"}}


def test_published_events(ts: DBOSClient) -> None:
    handle = run(ts, "publish_events", 3)
    assert handle.get_result(timeout_seconds=30) == 3
    assert ts.get_event(handle.workflow_id, "progress", 1) == 2
    assert ts.get_all_events(handle.workflow_id) == {"progress": 2, "done": {"count": 3}}


def test_messages_in_order_with_and_without_topic(ts: DBOSClient) -> None:
    untopiced = run(ts, "recv_n", None, 3, 30)
    topiced = run(ts, "recv_n", "t", 2, 30)
    for i in range(3):
        ts.send(untopiced.workflow_id, i, serialization_type="portable")
    ts.send(topiced.workflow_id, "first", topic="t", serialization_type="portable")
    ts.send(topiced.workflow_id, "other topic", topic="u", serialization_type="portable")
    ts.send(topiced.workflow_id, "second", topic="t", serialization_type="portable")
    assert untopiced.get_result(timeout_seconds=30) == [0, 1, 2]
    assert topiced.get_result(timeout_seconds=30) == ["first", "second"]


def test_idempotent_send_is_delivered_once(ts: DBOSClient) -> None:
    handle = run(ts, "recv_n", "t", 2, 2)
    for _ in range(3):
        ts.send(handle.workflow_id, "once", topic="t", idempotency_key="k1", serialization_type="portable")
    assert handle.get_result(timeout_seconds=30) == ["once", None]


def test_live_and_closed_streams(ts: DBOSClient) -> None:
    closed = run(ts, "stream_values", "s", [1, {"two": 2}, "three"], True, 300)
    start = time.monotonic()
    values = list(ts.read_stream(closed.workflow_id, "s", timeout_seconds=30))
    assert values == [1, {"two": 2}, "three"]
    assert time.monotonic() - start >= 0.5  # read live, while the TS app wrote
    unclosed = run(ts, "stream_values", "s", [4, 5], False, 0)
    unclosed.get_result(timeout_seconds=30)
    assert list(ts.read_stream(unclosed.workflow_id, "s", timeout_seconds=30)) == [4, 5]
    assert list(ts.read_stream(closed.workflow_id, "s", offset=2)) == ["three"]


def test_errors(ts: DBOSClient) -> None:
    with pytest.raises(PortableWorkflowError) as portable:
        run(ts, "fail", "card declined").get_result(timeout_seconds=30)
    assert (portable.value.name, portable.value.message) == ("PaymentError", "card declined")
    wid = native(ts, "fail_native", "bad input")
    with pytest.raises(PortableWorkflowError) as superjson:
        ts.retrieve_workflow(wid).get_result(timeout_seconds=30)
    assert (superjson.value.name, superjson.value.message, superjson.value.code) == ("TypeError", "bad input", "E_BAD")
    assert superjson.value.stack.startswith("TypeError: bad input")  # type: ignore[attr-defined]
    assert isinstance(ts.retrieve_workflow(wid).get_status().error, PortableWorkflowError)


def test_timeouts(ts: DBOSClient) -> None:
    slow = run(ts, "sleep_wf", 2)
    with pytest.raises(ResultTimeoutError):
        slow.get_result(timeout_seconds=0.3)
    assert slow.get_result(timeout_seconds=30) == 2
    timed_out = run(ts, "sleep_wf", 30, workflow_timeout=1)
    with pytest.raises(WorkflowCancelledError):
        timed_out.get_result(timeout_seconds=30)


def test_delay(ts: DBOSClient) -> None:
    handle = run(ts, "echo", "later", delay_seconds=1.5)
    assert handle.get_status().status == "DELAYED"
    start = time.monotonic()
    assert handle.get_result(timeout_seconds=30) == ["later"]
    assert time.monotonic() - start >= 1.0


def test_cancel_and_resume(ts: DBOSClient) -> None:
    handle = run(ts, "sleep_wf", 3)
    wait_status(ts, handle.workflow_id, "PENDING")
    ts.cancel_workflow(handle.workflow_id)
    with pytest.raises(WorkflowCancelledError):
        handle.get_result(timeout_seconds=30)
    ts.resume_workflow(handle.workflow_id)
    assert handle.get_result(timeout_seconds=30) == 3
    assert handle.get_status().status == "SUCCESS"


def test_listing_and_steps(ts: DBOSClient, caplog: pytest.LogCaptureFixture) -> None:
    handle = run(ts, "steps_wf", 3)
    assert handle.get_result(timeout_seconds=30) == 0 + 10 + 20
    listed = ts.list_workflows(workflow_ids=[handle.workflow_id])
    assert [(w.name, w.status, w.input, w.output) for w in listed] == [
        ("steps_wf", "SUCCESS", {"args": (3,), "kwargs": {}}, 30)
    ]
    assert handle.workflow_id in [w.workflow_id for w in ts.list_workflows(name="steps_wf")]
    with caplog.at_level(logging.WARNING, logger="dbos_client"):
        steps = ts.list_workflow_steps(handle.workflow_id)
    # TS step outputs are js_superjson even in a portable workflow.
    assert [s["function_name"] for s in steps] == ["add_0", "add_1", "add_2", "rich_step"]
    assert [s["output"] for s in steps[:3]] == [0, 10, 20]
    check_rich(steps[3]["output"])
    assert len([r for r in caplog.records if "objKeyMap" in r.getMessage()]) == 1


def test_queued_listing_and_delete(ts: DBOSClient) -> None:
    handle = run(ts, "sleep_wf", 1)
    assert handle.workflow_id in [w.workflow_id for w in ts.list_queued_workflows(queue_name=TS_QUEUE)]
    assert handle.get_result(timeout_seconds=30) == 1
    assert handle.workflow_id not in [w.workflow_id for w in ts.list_queued_workflows(queue_name=TS_QUEUE)]
    ts.delete_workflow(handle.workflow_id)
    assert ts.list_workflows(workflow_ids=[handle.workflow_id]) == []
    ts.check_connection()  # the TS SDK's schema is one this client reads
    assert ts.get_schema_info().is_v3


# -- values: TypeScript -> Python (js_superjson) -------------------------------------------------


def check_rich(v: dict[str, Any]) -> None:
    """The value of richValue() in ts_app/app.js, as this client decodes it."""
    assert v["date"] == datetime(2024, 2, 29, 12, 34, 56, 789000, tzinfo=UTC)
    assert v["big"] == 12345678901234567890 and v["negBig"] == -9007199254740993
    assert v["map"] == {"a": 1, "when": datetime(1970, 1, 1, tzinfo=UTC)}
    assert v["numKeyMap"] == {1: "one", 2: "two"}  # the 2n key is an int too
    assert v["objKeyMap"] == [({"id": 1}, "object key")]  # a dict cannot key a dict
    assert v["set"] == {1, "two", 3}
    assert v["undef"] is None and "undef" in v
    assert v["regex"] == re.compile(r"ab+c\.d", re.IGNORECASE)  # g is a matching mode: dropped
    assert isinstance(v["error"], PortableWorkflowError)
    assert (v["error"].name, v["error"].message) == ("RangeError", "out of range: 7")
    assert math.isnan(v["nan"]) and v["inf"] == math.inf and v["ninf"] == -math.inf
    assert v["negZero"] == 0 and math.copysign(1, v["negZero"]) == -1
    assert v["unicode"] == "héllo wörld, 你好, 🎉"
    assert v["nested"] == {
        "list": [datetime(2000, 1, 1, tzinfo=UTC), {"deep": {"x"}}, None],
        "dotted.key": 1,  # superjson 1.x does not escape this dot in its path
    }
    assert v["buffer"] == b"\x01\x02\xff"
    assert v["url"] == "https://dbos.dev/a?b=1"
    assert v["typed"] == [1.5, -2]
    assert v["plain"] == [1, "two", None, True, 2.5]
    assert v["maxSafe"] == 2**53 - 1


def test_superjson_values_written_by_ts(ts: DBOSClient, caplog: pytest.LogCaptureFixture) -> None:
    wid = native(ts, "rich_native")
    with caplog.at_level(logging.WARNING, logger="dbos_client"):
        check_rich(ts.retrieve_workflow(wid).get_result(timeout_seconds=30))
        check_rich(ts.get_event(wid, "rich", 5))
        assert ts.get_event(wid, "date", 5) == datetime(2024, 2, 29, 12, 34, 56, 789000, tzinfo=UTC)
        events = ts.get_all_events(wid)
        assert events["undef"] is None and events["date"].year == 2024
        check_rich(events["rich"])
        streamed = list(ts.read_stream(wid, "rich", timeout_seconds=30))
        check_rich(streamed[0])
        assert streamed[1:] == [12345678901234567890]
        status = ts.retrieve_workflow(wid).get_status()
        check_rich(status.output)
        assert status.serialization == "js_superjson" and status.input == {"args": (), "kwargs": {}}
        check_rich(ts.list_workflow_steps(wid)[-1]["output"])
        assert ts.list_workflows(workflow_ids=[wid])[0].output["big"] == 12345678901234567890
    # Each call that met the object-keyed Map warned once, whatever the number of values.
    per_call = [r.getMessage().split(":")[0] for r in caplog.records if "objKeyMap" in r.getMessage()]
    assert len(per_call) == len(set(per_call)) == 7


def test_portable_values_written_by_ts(ts: DBOSClient) -> None:
    # A portable TS workflow writes JSON's own types: dates, big ints and Maps lose their type.
    handle = run(ts, "portable_values")
    expected = {
        "date": "2024-02-29T12:34:56.789Z", "big": "12345678901234567890", "map": {"a": 1}, "set": ["x"],
        "error": {"name": "RangeError", "message": "r"}, "list": [None, "ü"],
    }  # fmt: skip
    assert handle.get_result(timeout_seconds=30) == expected  # the undefined field is left out
    assert ts.get_event(handle.workflow_id, "values", 5) == expected


def test_superjson_inputs_written_by_ts(ts: DBOSClient) -> None:
    wid = native(ts, "echo_native", 1, None, "x")
    status = ts.retrieve_workflow(wid).get_status()
    assert status.input == {"args": (1, None, "x"), "kwargs": {}}
    assert status.output == [1, None, "x"]


# -- values: Python -> TypeScript (portable JSON) and back ---------------------------------------


def test_python_values_as_ts_sees_them(ts: DBOSClient) -> None:
    when = datetime(2024, 2, 29, 12, 34, 56, 789123, tzinfo=UTC)
    seen = run(
        ts, "describe_args", when, 2**53 - 1, 2**53 + 1, 2**64, Decimal("123456789012345678901234567890"),
        "héllo 你好 🎉", {"nested": [1, {"deep": None}], "ok": True},
    ).get_result(timeout_seconds=30)
    items = seen["items"]
    # datetime -> an RFC 3339 UTC string with milliseconds (JS Dates keep no microseconds)
    assert items[0] == {"type": "string", "text": "2024-02-29T12:34:56.789Z"}
    assert items[1]["type"] == "number" and items[1]["isSafeInteger"] is True
    # Above 2**53 a JS number is a double: the TS runtime rounds it on parse.
    assert items[2] == {"type": "number", "text": "9007199254740992", "isSafeInteger": False}
    assert items[3] == {"type": "number", "text": "18446744073709552000", "isSafeInteger": False}
    # A Decimal travels as a string, exact: the way to send a big integer (BigInt(text) in TS).
    assert items[4] == {"type": "string", "text": "123456789012345678901234567890"}
    assert items[5] == {"type": "string", "text": "héllo 你好 🎉"}
    assert items[6]["fields"]["nested"]["items"][1]["fields"]["deep"] == {"type": "null"}


def test_python_message_round_trips_through_ts(ts: DBOSClient) -> None:
    handle = run(ts, "describe_message", "m", 30)
    message = {"when": datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), "n": 2**64, "s": "✓", "list": [1.5, None]}
    ts.send(handle.workflow_id, message, topic="m", serialization_type="portable")
    handle.get_result(timeout_seconds=30)
    # Back from TS in its own format: the date stayed a string, the big int was rounded.
    assert ts.get_event(handle.workflow_id, "echo_native", 5) == {
        "when": "2024-01-02T03:04:05.000Z", "n": 18446744073709552000,
        "s": "✓", "list": [1.5, None],
    }  # fmt: skip


def test_nan_and_infinity_are_refused_before_any_write(ts: DBOSClient) -> None:
    handle = run(ts, "recv_n", "t", 1, 30)
    for bad in (math.nan, math.inf, {"x": [1, -math.inf]}):
        with pytest.raises(SerializationError, match="NaN or Infinity"):
            ts.send(handle.workflow_id, bad, topic="t", serialization_type="portable")
    # Nothing was written: the TS workflow did not die on a bare NaN token, and gets the next message.
    ts.send(handle.workflow_id, "fine", topic="t", serialization_type="portable")
    assert handle.get_result(timeout_seconds=30) == ["fine"]
    with pytest.raises(SerializationError, match=r"args\[0\]\['x'\] is nan"):
        ts.enqueue({**PORTABLE, "workflow_name": "echo", "workflow_id": "never-nan"}, {"x": math.nan})
    assert ts.list_workflows(workflow_ids=["never-nan"]) == []


def test_async_client_against_ts(ts_url: str) -> None:
    async def main() -> None:
        async with AsyncDBOSClient(system_database_url=ts_url) as client:
            handle = await client.enqueue({**PORTABLE, "workflow_name": "start_native"}, "rich_native")
            wid = await handle.get_result(timeout_seconds=30)
            check_rich(await (await client.retrieve_workflow(wid)).get_result(timeout_seconds=30))
            check_rich((await client.get_all_events(wid))["rich"])
            check_rich([v async for v in client.read_stream(wid, "rich")][0])
            check_rich((await client.list_workflow_steps(wid))[-1]["output"])
            with pytest.raises(SerializationError, match="NaN or Infinity"):
                await client.send(wid, [math.nan], serialization_type="portable")

    asyncio.run(main())
