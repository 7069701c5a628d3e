"""build_enqueue: every option is checked (and every value serialized) before anything is written."""

from __future__ import annotations

import json
import math
import uuid
from typing import Any

import pytest

from dbos_client import InvalidArgumentError, SerializationError, WorkflowSerializationFormat
from dbos_client._options import (
    MAX_NOTIFY_PAYLOAD,
    MAX_PRIORITY,
    EnqueueRequest,
    build_enqueue,
    check_notify_payload,
    check_timeout,
)
from dbos_client._serialization import PICKLE, PORTABLE, Codec

BASE = {"workflow_name": "checkout", "queue_name": "orders"}


def build(options: Any = None, *args: Any, app: Any = "client-app", codec: Codec | None = None, **kwargs: Any) -> EnqueueRequest:
    opts = dict(BASE) if options is None else options
    return build_enqueue(opts, args, kwargs, codec or Codec(), app)


def with_(**extra: Any) -> dict[str, Any]:
    return {**BASE, **extra}


# -- validation errors name the offending option -----------------------------------------

INVALID = {
    "unknown-key": (with_(workflow_nmae="x"), "workflow_nmae"),
    "unknown-keys-sorted": (with_(zzz=1, aaa=2), "'aaa', 'zzz'"),
    "missing-workflow_name": ({"queue_name": "q"}, "workflow_name"),
    "missing-queue_name": ({"workflow_name": "w"}, "queue_name"),
    "empty-workflow_name": (with_(workflow_name=""), "workflow_name"),
    "blank-workflow_name": (with_(workflow_name="   "), "workflow_name"),
    "none-workflow_name": (with_(workflow_name=None), "workflow_name"),
    "empty-queue_name": (with_(queue_name=""), "queue_name"),
    "int-queue_name": (with_(queue_name=5), "queue_name"),
    "int-workflow_id": (with_(workflow_id=123), "workflow_id"),
    "uuid-workflow_id": (with_(workflow_id=uuid.uuid4()), "workflow_id"),
    "empty-workflow_id": (with_(workflow_id=""), "workflow_id"),
    "bytes-deduplication_id": (with_(deduplication_id=b"d"), "deduplication_id"),
    "int-class_name": (with_(class_name=1), "class_name"),
    "list-instance_name": (with_(instance_name=["i"]), "instance_name"),
    "int-app_version": (with_(app_version=3), "app_version"),
    "int-queue_partition_key": (with_(queue_partition_key=1), "queue_partition_key"),
    "int-authenticated_user": (with_(authenticated_user=1), "authenticated_user"),
    "int-application_name": (with_(application_name=1), "application_name"),
    "nul-workflow_name": (with_(workflow_name="a\x00b"), "workflow_name"),
    "nul-queue_name": (with_(queue_name="q\x00"), "queue_name"),
    "nul-workflow_id": (with_(workflow_id="id\x00"), "workflow_id"),
    "nul-deduplication_id": (with_(deduplication_id="\x00d"), "deduplication_id"),
    "nul-class_name": (with_(class_name="C\x00"), "class_name"),
    "nul-instance_name": (with_(instance_name="i\x00"), "instance_name"),
    "nul-app_version": (with_(app_version="v\x00"), "app_version"),
    "nul-queue_partition_key": (with_(queue_partition_key="p\x00"), "queue_partition_key"),
    "nul-authenticated_user": (with_(authenticated_user="u\x00"), "authenticated_user"),
    "nul-application_name": (with_(application_name="a\x00"), "application_name"),
    "bool-priority": (with_(priority=True), "priority"),
    "false-priority": (with_(priority=False), "priority"),
    "float-priority": (with_(priority=1.0), "priority"),
    "str-priority": (with_(priority="1"), "priority"),
    "negative-priority": (with_(priority=-1), "priority"),
    "too-big-priority": (with_(priority=MAX_PRIORITY + 1), "priority"),
    "negative-workflow_timeout": (with_(workflow_timeout=-1), "workflow_timeout"),
    "nan-workflow_timeout": (with_(workflow_timeout=math.nan), "workflow_timeout"),
    "zero-workflow_timeout": (with_(workflow_timeout=0), "workflow_timeout"),
    "zero-float-workflow_timeout": (with_(workflow_timeout=0.0), "workflow_timeout"),
    "str-workflow_timeout": (with_(workflow_timeout="10"), "workflow_timeout"),
    "bool-workflow_timeout": (with_(workflow_timeout=True), "workflow_timeout"),
    "negative-delay_seconds": (with_(delay_seconds=-0.5), "delay_seconds"),
    "nan-delay_seconds": (with_(delay_seconds=math.nan), "delay_seconds"),
    "str-delay_seconds": (with_(delay_seconds="5"), "delay_seconds"),
    "bad-reuse-policy": (with_(workflow_id_reuse_policy="replace"), "workflow_id_reuse_policy"),
    "int-reuse-policy": (with_(workflow_id_reuse_policy=1), "workflow_id_reuse_policy"),
    "bad-duplication-policy": (with_(duplication_policy="ignore"), "duplication_policy"),
    "int-duplication-policy": (with_(duplication_policy=2), "duplication_policy"),
    "return-existing-without-dedup-id": (with_(duplication_policy="return-existing"), "deduplication_id"),
    "otel_context": (with_(otel_context={"traceparent": "00-abc"}), "otel_context"),
    "shard_key": (with_(shard_key="s1"), "shard_key"),
    "non-json-attributes": (with_(attributes={"when": object()}), "attributes"),
    "set-attributes": (with_(attributes={"s": {1, 2}}), "attributes"),
    "list-attributes": (with_(attributes=[1, 2]), "attributes"),
    "str-roles": (with_(authenticated_roles="admin"), "authenticated_roles"),
    "int-in-roles": (with_(authenticated_roles=["admin", 1]), "authenticated_roles"),
    "dict-roles": (with_(authenticated_roles={"admin": True}), "authenticated_roles"),
    "bad-serialization_type": (with_(serialization_type="yaml"), "serialization_type"),
}


@pytest.mark.parametrize("options, name", INVALID.values(), ids=INVALID.keys())
def test_invalid_option_names_the_option(options: dict[str, Any], name: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        build(options)
    assert name in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("options", [None, ["workflow_name"], "checkout", 42], ids=repr)
def test_options_must_be_a_mapping(options: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="options"):
        build_enqueue(options, (), {}, Codec(), None)


def test_unsupported_keys_set_to_none_are_ignored() -> None:
    req = build(with_(otel_context=None, shard_key=None))
    assert req.row["queue_name"] == "orders"


def test_unknown_keys_are_reported_before_anything_else() -> None:
    with pytest.raises(InvalidArgumentError, match="unknown enqueue option"):
        build({"bogus": 1})


_INFINITE = (
    "bug: build_enqueue accepts infinite or bigint-overflowing timeouts (check_timeout only rejects NaN and "
    "negatives): inf raises OverflowError from int(inf * 1000) instead of InvalidArgumentError, and 1e20 yields a "
    "millisecond value beyond Postgres bigint that only fails inside the INSERT"
)


@pytest.mark.parametrize("option", ["workflow_timeout", "delay_seconds"])
@pytest.mark.parametrize("value", [math.inf, 1e20], ids=["inf", "1e20"])
def test_unrepresentable_timeouts_are_invalid_arguments(option: str, value: float) -> None:
    with pytest.raises(InvalidArgumentError, match=option):
        build(with_(**{option: value}))


@pytest.mark.parametrize("value", [math.nan, math.inf], ids=["nan", "inf"])
def test_non_finite_attributes_are_invalid_arguments(value: float) -> None:
    with pytest.raises(InvalidArgumentError, match="attributes"):
        build(with_(attributes={"score": value}))


def test_unserializable_argument_raises_before_any_write() -> None:
    with pytest.raises(SerializationError, match="workflow arguments"):
        build(with_(), lambda: 1)
    with pytest.raises(SerializationError, match="workflow arguments"):
        build(with_(serialization_type="portable"), key=object())


def test_unserializable_argument_raises_the_documented_error() -> None:
    # enqueue's docstring: "SerializationError: an argument the chosen format cannot serialize".
    with pytest.raises(SerializationError):
        build(with_(), lambda: 1)


# -- the row a valid request produces --------------------------------------------------


def test_minimal_request() -> None:
    req = build(with_(), 1, "two", k=3)
    row = req.row
    assert str(uuid.UUID(req.workflow_id)) == req.workflow_id  # a generated uuid
    assert row["workflow_uuid"] == req.workflow_id
    assert row["status"] == "ENQUEUED"
    assert row["name"] == "checkout" == req.workflow_name
    assert row["queue_name"] == "orders" == req.queue_name
    assert row["class_name"] is None and row["config_name"] is None
    assert row["priority"] == 0
    assert row["recovery_attempts"] == 0
    assert row["deduplication_id"] is None
    assert row["application_version"] is None
    assert row["workflow_timeout_ms"] is None
    assert row["authenticated_user"] is None
    assert row["authenticated_roles"] is None
    assert row["serialization"] == PICKLE
    assert row["application_name"] == "client-app"
    assert row["queue_partition_key"] is None
    assert row["attributes"] is None
    assert row["inputs"] == req.inputs == Codec().encode_args((1, "two"), {"k": 3}, PICKLE)
    assert req.delay_ms is None
    assert req.reject_existing_id is False
    assert req.return_existing_on_dedup is False
    uuid.UUID(row["creator_xid"])


def test_generated_ids_differ() -> None:
    a, b = build(), build()
    assert a.workflow_id != b.workflow_id
    assert a.row["creator_xid"] != b.row["creator_xid"]


def test_full_request() -> None:
    req = build(
        with_(
            workflow_id="wf-1",
            workflow_id_reuse_policy="reject",
            app_version="v7",
            workflow_timeout=2.5,
            deduplication_id="dd",
            duplication_policy="return-existing",
            priority=MAX_PRIORITY,
            queue_partition_key="tenant-1",
            authenticated_user="alice",
            authenticated_roles=["admin", "ops"],
            serialization_type="portable",
            class_name="Cls",
            instance_name="inst",
            attributes={"k": [1, "x"], "n": None},
            application_name="other-app",
        ),
        1,
        when="now",
    )
    row = req.row
    assert req.workflow_id == row["workflow_uuid"] == "wf-1"
    assert row["application_version"] == "v7"
    assert row["workflow_timeout_ms"] == 2500
    assert row["deduplication_id"] == req.deduplication_id == "dd"
    assert row["priority"] == MAX_PRIORITY
    assert row["queue_partition_key"] == "tenant-1"
    assert row["authenticated_user"] == "alice"
    assert row["authenticated_roles"] == '["admin", "ops"]'
    assert json.loads(row["authenticated_roles"]) == ["admin", "ops"]
    assert row["serialization"] == PORTABLE
    assert row["inputs"] == '{"namedArgs":{"when":"now"},"positionalArgs":[1]}'
    assert row["class_name"] == req.class_name == "Cls"
    assert row["config_name"] == req.instance_name == "inst"
    assert row["attributes"] == {"k": [1, "x"], "n": None}
    assert row["application_name"] == "other-app"
    assert req.reject_existing_id is True
    assert req.return_existing_on_dedup is True


def test_roles_tuple_is_stored_as_json_list_text() -> None:
    assert build(with_(authenticated_roles=("a",))).row["authenticated_roles"] == '["a"]'


@pytest.mark.parametrize("delay, ms", [(1, 1000), (0.25, 250), (90.5, 90500)])
def test_delay_makes_the_workflow_delayed(delay: float, ms: int) -> None:
    req = build(with_(delay_seconds=delay))
    assert req.row["status"] == "DELAYED"
    assert req.delay_ms == ms


def test_zero_delay_is_enqueued() -> None:
    req = build(with_(delay_seconds=0))
    assert req.row["status"] == "ENQUEUED"
    assert req.delay_ms is None


@pytest.mark.parametrize("timeout, ms", [(1, 1000), (0.001, 1), (3600, 3_600_000), (1.5, 1500)])
def test_workflow_timeout_in_ms(timeout: float, ms: int) -> None:
    assert build(with_(workflow_timeout=timeout)).row["workflow_timeout_ms"] == ms


@pytest.mark.parametrize("priority", [0, 1, 10, MAX_PRIORITY])
def test_priority_range(priority: int) -> None:
    assert build(with_(priority=priority)).row["priority"] == priority


def test_explicit_none_values_take_the_defaults() -> None:
    req = build(
        with_(
            workflow_id=None, priority=None, workflow_timeout=None, delay_seconds=None, authenticated_roles=None,
            attributes=None, serialization_type=None, workflow_id_reuse_policy=None, duplication_policy=None,
        )
    )  # fmt: skip
    assert req.row["priority"] == 0
    assert req.row["status"] == "ENQUEUED"
    assert req.row["serialization"] == PICKLE
    uuid.UUID(req.workflow_id)


def test_application_name_comes_from_the_client() -> None:
    assert build(app="from-client").row["application_name"] == "from-client"
    assert build(app=None).row["application_name"] is None


def test_application_name_option_overrides_the_client() -> None:
    assert build(with_(application_name="from-option"), app="from-client").row["application_name"] == "from-option"


def test_explicit_none_application_name_overrides_the_client() -> None:
    assert build(with_(application_name=None), app="from-client").row["application_name"] is None


@pytest.mark.parametrize(
    "choice, tag",
    [
        ("portable", PORTABLE),
        ("native", PICKLE),
        (WorkflowSerializationFormat.PORTABLE, PORTABLE),
    ],
)
def test_serialization_type(choice: Any, tag: str) -> None:
    req = build(with_(serialization_type=choice), 1)
    assert req.row["serialization"] == tag
    assert req.inputs == Codec().encode_args((1,), {}, tag)


def test_attributes_are_normalized_to_json() -> None:
    row = build(with_(attributes={"t": (1, 2), "nested": {"a": True}})).row
    assert row["attributes"] == {"t": [1, 2], "nested": {"a": True}}


def test_the_callers_options_are_not_modified() -> None:
    options = with_(attributes={"t": (1,)}, authenticated_roles=["a"])
    snapshot = json.dumps(options, default=repr)
    build(options)
    assert json.dumps(options, default=repr) == snapshot


def test_options_row_has_exactly_the_columns_the_sql_layer_knows() -> None:
    from dbos_client._schema import SchemaInfo
    from dbos_client._sql import Queries

    ws = frozenset(build().row) | {"delay_until_epoch_ms", "owner_xid"}
    info = SchemaInfo("dbos", {"workflow_status": ws, "notifications": frozenset(), "workflow_events": frozenset()}, True)
    assert set(Queries(info).enqueue_columns) <= set(build().row)


# -- check_timeout / check_notify_payload ------------------------------------------------


def test_check_timeout() -> None:
    assert check_timeout(None) is None
    assert check_timeout(0) == 0.0
    assert check_timeout(5) == 5.0 and isinstance(check_timeout(5), float)
    with pytest.raises(InvalidArgumentError, match="timeout_seconds"):
        check_timeout(None, allow_none=False)
    with pytest.raises(InvalidArgumentError, match="timeout_seconds"):
        check_timeout(-1)
    with pytest.raises(InvalidArgumentError, match="my_timeout"):
        check_timeout("1", "my_timeout")


def test_notify_payload_limit() -> None:
    wf = "w" * 100
    # "wf::key" of exactly MAX_NOTIFY_PAYLOAD bytes is fine; one more byte is refused.
    key = "k" * (MAX_NOTIFY_PAYLOAD - len(wf) - 2)
    check_notify_payload(wf, key, "key")
    with pytest.raises(InvalidArgumentError, match="topic") as info:
        check_notify_payload(wf, key + "k", "topic")
    assert "8000" in str(info.value)


def test_notify_payload_counts_utf8_bytes() -> None:
    wf = "w"
    key = "é" * ((MAX_NOTIFY_PAYLOAD - 3) // 2 + 1)  # 2 bytes each: over the limit in bytes, not in chars
    assert len(f"{wf}::{key}") <= MAX_NOTIFY_PAYLOAD
    with pytest.raises(InvalidArgumentError):
        check_notify_payload(wf, key, "key")


def test_notify_payload_limit_is_below_postgres_8000_bytes() -> None:
    assert MAX_NOTIFY_PAYLOAD < 8000
