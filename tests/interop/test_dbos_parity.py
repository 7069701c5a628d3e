"""dbos-client against the installed dbos 3.4.0 itself: drop-in parameters, and values encoded and
decoded byte for byte as the runtime does.

These need no database, but they import ``dbos``, which the fast loop (tests/unit) never does.
The cases they compare are the unit tests' own, imported from tests/unit.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path
from typing import Any

import dbos
import pytest
from dbos import _serialization as dbos_ser
from dbos._client import WorkflowHandleClientPolling

from dbos_client import (
    DBOSClient,
    DefaultSerializer,
    PortableJSONSerializer,
    PortableWorkflowError,
    Serializer,
    WorkflowHandle,
    WorkflowSerializationFormat,
)
from dbos_client._serialization import PICKLE, PORTABLE, STREAM_CLOSED_SENTINEL, Codec

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "unit"))

from test_options import build, with_
from test_public_api import KNOWN_OMISSIONS, OUR_EXTRAS, params
from test_serialization import ARGS_CASES, PORTABLE_ERROR_SHAPES, SHARED_VALUES, Rot13

pytestmark = pytest.mark.interop

DBOS_PICKLE = dbos_ser.DefaultSerializer()
DBOS_PORTABLE = dbos_ser.DBOSPortableJSON


# -- drop-in compatibility with dbos.DBOSClient 3.4.0 (from test_public_api) ------------


@pytest.mark.parametrize("method", sorted(KNOWN_OMISSIONS))
def test_same_parameters_as_dbos_client(method: str) -> None:
    theirs = params(getattr(dbos.DBOSClient, method))
    ours = params(getattr(DBOSClient, method))
    omitted = KNOWN_OMISSIONS[method]
    assert omitted <= set(theirs), f"stale omission list for {method}"
    expected = {name: p for name, p in theirs.items() if name not in omitted}
    assert set(ours) - OUR_EXTRAS.get(method, set()) == set(expected)
    for name, p in expected.items():
        assert ours[name].kind == p.kind, f"{method}({name}) is {ours[name].kind}, dbos has {p.kind}"


@pytest.mark.parametrize("method", sorted(KNOWN_OMISSIONS))
def test_positional_order_matches_dbos(method: str) -> None:
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    theirs = [n for n, p in params(getattr(dbos.DBOSClient, method)).items() if p.kind in positional]
    ours = [n for n, p in params(getattr(DBOSClient, method)).items() if p.kind in positional]
    assert ours == theirs


@pytest.mark.parametrize(
    "method, name",
    [("get_event", "timeout_seconds"), ("read_stream", "offset"), ("cancel_workflow", "cancel_children"), ("send", "topic")],
)
def test_defaults_match_dbos(method: str, name: str) -> None:
    assert params(getattr(DBOSClient, method))[name].default == params(getattr(dbos.DBOSClient, method))[name].default


def test_handle_has_the_dbos_handle_surface() -> None:
    for name in ("get_workflow_id", "get_result", "get_status"):
        assert hasattr(WorkflowHandleClientPolling, name)
        assert hasattr(WorkflowHandle, name)
    theirs = params(WorkflowHandleClientPolling.get_result)
    ours = params(WorkflowHandle.get_result)
    for name, p in theirs.items():
        assert name in ours
        assert ours[name].kind == p.kind


# -- enqueue options (from test_options) ------------------------------------------------


@pytest.mark.parametrize(
    "choice, tag",
    [
        (dbos.WorkflowSerializationFormat.PORTABLE, PORTABLE),
        (dbos.WorkflowSerializationFormat.NATIVE, PICKLE),
    ],
)
def test_serialization_type_accepts_dbos_formats(choice: Any, tag: str) -> None:
    req = build(with_(serialization_type=choice), 1)
    assert req.row["serialization"] == tag
    assert req.inputs == Codec().encode_args((1,), {}, tag)


# -- byte-for-byte compatibility with dbos 3.4.0 (from test_serialization) ---------------


def test_stream_sentinel_matches_dbos() -> None:
    assert Codec().encode(STREAM_CLOSED_SENTINEL, PORTABLE) == DBOS_PORTABLE.serialize(STREAM_CLOSED_SENTINEL)


def test_installed_dbos_is_the_reference_version() -> None:
    from importlib.metadata import version

    assert version("dbos") == "3.4.0"


@pytest.mark.parametrize("value", SHARED_VALUES.values(), ids=SHARED_VALUES.keys())
def test_pickle_matches_dbos_byte_for_byte(value: Any) -> None:
    assert Codec().encode(value, PICKLE) == DBOS_PICKLE.serialize(value)
    assert DefaultSerializer().serialize(value) == DBOS_PICKLE.serialize(value)


@pytest.mark.parametrize("value", SHARED_VALUES.values(), ids=SHARED_VALUES.keys())
def test_portable_matches_dbos_byte_for_byte(value: Any) -> None:
    assert Codec().encode(value, PORTABLE) == DBOS_PORTABLE.serialize(value)
    assert PortableJSONSerializer().serialize(value) == DBOS_PORTABLE.serialize(value)


@pytest.mark.parametrize("args, kwargs", ARGS_CASES.values(), ids=ARGS_CASES.keys())
@pytest.mark.parametrize(
    "tag, fmt",
    [(PICKLE, dbos.WorkflowSerializationFormat.NATIVE), (PORTABLE, dbos.WorkflowSerializationFormat.PORTABLE)],
    ids=["pickle", "portable"],
)
def test_encode_args_matches_dbos_serialize_args(args: tuple[Any, ...], kwargs: dict[str, Any], tag: str, fmt: Any) -> None:
    theirs, their_tag = dbos_ser.serialize_args(args, kwargs, fmt, DBOS_PICKLE)
    assert Codec().encode_args(args, kwargs, tag) == theirs
    assert their_tag == tag


@pytest.mark.parametrize("args, kwargs", ARGS_CASES.values(), ids=ARGS_CASES.keys())
def test_encode_args_with_default_format_matches_dbos(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    codec = Codec()
    theirs, their_tag = dbos_ser.serialize_args(args, kwargs, None, DBOS_PICKLE)
    tag = codec.tag_for(None)
    assert tag == their_tag == PICKLE
    assert codec.encode_args(args, kwargs, tag) == theirs


# -- what dbos writes, we read ---------------------------------------------------------


@pytest.mark.parametrize("value", SHARED_VALUES.values(), ids=SHARED_VALUES.keys())
def test_decodes_values_written_by_dbos(value: Any) -> None:
    codec = Codec()
    text, tag = dbos_ser.serialize_value(value, None, DBOS_PICKLE)
    assert codec.decode(text, tag) == value
    text, tag = dbos_ser.serialize_value(value, dbos.WorkflowSerializationFormat.PORTABLE, DBOS_PICKLE)
    assert tag == PORTABLE
    assert codec.decode(text, tag) == dbos_ser.deserialize_value(text, tag, DBOS_PICKLE)


@pytest.mark.parametrize("args, kwargs", ARGS_CASES.values(), ids=ARGS_CASES.keys())
@pytest.mark.parametrize("fmt", [None, dbos.WorkflowSerializationFormat.PORTABLE, dbos.WorkflowSerializationFormat.NATIVE])
def test_decodes_args_written_by_dbos(args: tuple[Any, ...], kwargs: dict[str, Any], fmt: Any) -> None:
    text, tag = dbos_ser.serialize_args(args, kwargs, fmt, DBOS_PICKLE)
    ours = Codec().decode_args(text, tag)
    theirs = dbos_ser.deserialize_args(text, tag, DBOS_PICKLE)
    assert ours == {"args": tuple(theirs["args"]), "kwargs": theirs["kwargs"]}
    assert isinstance(ours["args"], tuple)


@pytest.mark.parametrize(
    "text",
    [
        "{}",
        '{"positionalArgs":[1,2]}',
        '{"namedArgs":{"a":1}}',
        '{"positionalArgs":null,"namedArgs":null}',
        '{"namedArgs":{"a":[1]},"positionalArgs":["x"]}',
    ],
)
def test_decodes_portable_args_with_missing_keys_like_dbos(text: str) -> None:
    ours = Codec().decode_args(text, PORTABLE)
    theirs = dbos_ser.deserialize_args(text, PORTABLE, DBOS_PICKLE)
    assert ours == theirs


def test_decodes_portable_errors_written_by_dbos() -> None:
    class PaymentDeclined(Exception):
        code = 402
        data = {"retryable": False}

    text, tag = dbos_ser.serialize_exception(PaymentDeclined("card declined"), PORTABLE, DBOS_PICKLE)
    err = Codec().decode_error(text, tag)
    assert isinstance(err, PortableWorkflowError)
    assert isinstance(err, Exception)
    assert (err.name, err.message, err.code, err.data) == ("PaymentDeclined", "card declined", 402, {"retryable": False})
    assert str(err) == "card declined"


@pytest.mark.parametrize("text, expected", PORTABLE_ERROR_SHAPES)
def test_dbos_decodes_portable_error_shapes_the_same(text: str, expected: tuple[Any, ...]) -> None:
    theirs: Any = dbos_ser.deserialize_exception(text, PORTABLE, DBOS_PICKLE)
    assert (theirs.name, theirs.message, theirs.code, theirs.data) == expected


def test_decodes_pickled_exceptions_written_by_dbos() -> None:
    text, tag = dbos_ser.serialize_exception(KeyError("missing"), None, DBOS_PICKLE)
    assert tag == PICKLE
    err = Codec().decode_error(text, tag)
    assert type(err) is KeyError
    assert err.args == ("missing",)
    assert type(Codec().decode_error(text, None)) is KeyError


def test_our_portable_error_is_dbos_compatible_in_shape() -> None:
    ours = PortableWorkflowError("msg", "Name", 1, {"d": 1})
    theirs = dbos_ser.PortableWorkflowError("msg", "Name", 1, {"d": 1})
    assert (ours.message, ours.name, ours.code, ours.data) == (theirs.message, theirs.name, theirs.code, theirs.data)
    assert str(ours) == str(theirs)


def test_known_tags_win_over_the_configured_serializer_as_in_dbos() -> None:
    codec = Codec(Rot13())
    assert codec.decode(DBOS_PICKLE.serialize({"a": 1}), PICKLE) == {"a": 1}
    assert codec.encode([1], PICKLE) == DBOS_PICKLE.serialize([1])


# -- custom serializers --------------------------------------------------------------------


class DbosUpper(dbos.Serializer):
    """A serializer written for the DBOS runtime, reused as is."""

    def serialize(self, data: Any) -> str:
        return "UP:" + str(data).upper()

    def deserialize(self, serialized_data: str) -> Any:
        return serialized_data[3:].lower()

    def name(self) -> str:
        return "upper"


def test_dbos_serializer_instance_is_used_as_is() -> None:
    ser = DbosUpper()
    codec = Codec(ser)
    assert codec.serializer is ser
    assert codec.default_tag == "upper"
    assert codec.encode("abc", codec.tag_for(None)) == "UP:ABC"
    assert codec.decode("UP:ABC", "upper") == "abc"
    assert codec.decode("UP:ABC", None) == "abc"
    # Same bytes as the runtime writes with that serializer.
    assert dbos_ser.serialize_value("abc", None, ser) == ("UP:ABC", "upper")


def test_custom_serializer_args_shape_matches_dbos() -> None:
    import json

    class JsonSer(Serializer):
        def serialize(self, data: Any) -> str:
            return json.dumps(data, default=list)

        def deserialize(self, serialized_data: str) -> Any:
            return json.loads(serialized_data)

        def name(self) -> str:
            return "my_json"

    ser = JsonSer()
    text, tag = dbos_ser.serialize_args((1, 2), {"k": "v"}, None, ser)  # type: ignore[arg-type]
    codec = Codec(ser)
    assert codec.encode_args((1, 2), {"k": "v"}, codec.tag_for(None)) == text
    assert codec.decode_args(text, tag) == {"args": (1, 2), "kwargs": {"k": "v"}}


# -- tag_for ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "choice, tag",
    [(dbos.WorkflowSerializationFormat.PORTABLE, PORTABLE), (dbos.WorkflowSerializationFormat.NATIVE, PICKLE)],
)
def test_tag_for_accepts_dbos_formats(choice: Any, tag: str) -> None:
    assert Codec().tag_for(choice) == tag


def test_tag_for_a_custom_serializer_still_accepts_dbos_formats() -> None:
    assert Codec(Rot13()).tag_for(dbos.WorkflowSerializationFormat.PORTABLE) == PORTABLE


def test_tag_for_agrees_with_dbos_serialization_for_type() -> None:
    for fmt in (dbos.WorkflowSerializationFormat.PORTABLE, dbos.WorkflowSerializationFormat.NATIVE, None):
        assert Codec(Rot13()).tag_for(fmt) == dbos_ser.serialization_for_type(fmt, Rot13())  # type: ignore[arg-type]


def test_tag_for_accepts_dbos_default_member() -> None:
    member = dbos.WorkflowSerializationFormat.DEFAULT
    assert Codec(Rot13()).tag_for(member) == dbos_ser.serialization_for_type(member, Rot13())  # type: ignore[arg-type]


def test_our_format_enum_has_dbos_values() -> None:
    assert WorkflowSerializationFormat.PORTABLE.value == dbos.WorkflowSerializationFormat.PORTABLE.value
    assert WorkflowSerializationFormat.NATIVE.value == dbos.WorkflowSerializationFormat.NATIVE.value
