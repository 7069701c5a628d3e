"""Values are encoded and decoded as the DBOS runtime stores them (pure: no dbos import).

The byte-for-byte comparisons with dbos 3.4.0 itself are in tests/interop/test_dbos_parity.py.
"""

from __future__ import annotations

import base64
import pickle
import sys
import types
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

import dbos_client
from dbos_client import (
    InvalidArgumentError,
    PortableWorkflowError,
    SerializationError,
    Serializer,
    WorkflowSerializationFormat,
)
from dbos_client._serialization import (
    PICKLE,
    PORTABLE,
    STREAM_CLOSED_SENTINEL,
    Codec,
    is_stream_closed,
)

NAIVE = datetime(2024, 2, 29, 13, 45, 7, 123456)
AWARE = datetime(2024, 2, 29, 13, 45, 7, 123456, tzinfo=timezone(timedelta(hours=5, minutes=30)))
AWARE_UTC = datetime(2024, 2, 29, 13, 45, 7, tzinfo=timezone.utc)

SHARED_VALUES = {
    "none": None,
    "bool": True,
    "int": 42,
    "bigint": 2**70,
    "float": 3.25,
    "str": "hello",
    "unicode": "héllo wörld — 日本語 🚀",
    "empty": "",
    "list": [1, "two", 3.0, None],
    "tuple": (1, 2, (3, 4)),
    "set": {1},
    "naive_datetime": NAIVE,
    "aware_datetime": AWARE,
    "utc_datetime": AWARE_UTC,
    "date": date(2024, 2, 29),
    "decimal": Decimal("12345.678900"),
    "decimal_exp": Decimal("1E+3"),
    "nested": {"a": {"b": [1, {"c": (2, 3)}], "d": "é"}, "when": NAIVE, "amount": Decimal("0.1")},
    "dict_unicode_keys": {"ключ": "значение", "🔑": [1]},
}


# -- round trips ----------------------------------------------------------------------


@pytest.mark.parametrize("value", SHARED_VALUES.values(), ids=SHARED_VALUES.keys())
def test_pickle_round_trip(value: Any) -> None:
    codec = Codec()
    text = codec.encode(value, PICKLE)
    assert codec.decode(text, PICKLE) == value
    assert codec.decode(text, None) == value  # NULL tag: the configured (pickle) serializer


@pytest.mark.parametrize(
    "value",
    [None, True, 0, -7, 1.5, "s", "日本 🚀", [1, [2, [3]]], {"a": {"b": None}}, {"x": [True, False]}],
)
def test_portable_round_trip_of_json_values(value: Any) -> None:
    codec = Codec()
    assert codec.decode(codec.encode(value, PORTABLE), PORTABLE) == value


def test_portable_conversions() -> None:
    codec = Codec()
    text = codec.encode({"t": (1, 2), "d": date(2020, 1, 2), "n": NAIVE, "a": AWARE, "m": Decimal("1.50")}, PORTABLE)
    assert codec.decode(text, PORTABLE) == {
        "t": [1, 2],
        "d": "2020-01-02",
        "n": "2024-02-29T13:45:07.123Z",
        "a": "2024-02-29T08:15:07.123Z",
        "m": "1.50",
    }


def pickled(value: Any) -> str:
    """What DBOS's default serializer writes: base64 of pickle (byte-for-byte: tests/interop/test_dbos_parity.py)."""
    return Codec().encode(value, PICKLE)


def test_pickle_is_base64_of_pickle() -> None:
    text = Codec().encode({"k": (1, 2)}, PICKLE)
    assert pickle.loads(base64.b64decode(text)) == {"k": (1, 2)}


def test_portable_is_compact_and_not_ascii_escaped() -> None:
    assert Codec().encode({"a": [1, 2], "b": "é"}, PORTABLE) == '{"a":[1,2],"b":"é"}'


def test_args_round_trip_in_both_formats() -> None:
    codec = Codec()
    for tag in (PICKLE, PORTABLE):
        text = codec.encode_args((1, "x"), {"k": [1]}, tag)
        assert codec.decode_args(text, tag) == {"args": (1, "x"), "kwargs": {"k": [1]}}
    assert codec.decode_args(None, PICKLE) is None


def test_none_text_decodes_to_none() -> None:
    codec = Codec()
    assert codec.decode(None, PICKLE) is None
    assert codec.decode(None, "some_unknown_tag") is None
    assert codec.decode_error(None, PORTABLE) is None


def test_stream_sentinel() -> None:
    assert is_stream_closed(STREAM_CLOSED_SENTINEL)
    assert not is_stream_closed("__DBOS_STREAM_CLOSED")
    assert not is_stream_closed(None)


#: Argument shapes; tests/interop/test_dbos_parity.py encodes them with dbos and compares.
ARGS_CASES = {
    "empty": ((), {}),
    "positional": ((1, "two", NAIVE), {}),
    "named": ((), {"when": AWARE, "amount": Decimal("9.99"), "tags": {"x"}}),
    "both": ((date(2020, 1, 1), (1, 2), "日本"), {"nested": {"a": [1, {"b": 2}]}}),
}


# -- decoding errors --------------------------------------------------------------------


PORTABLE_ERROR_SHAPES = [
    ('{"name":"TypeError","message":"bad","code":null}', ("TypeError", "bad", None, None)),
    ('{"name":"E","message":"m","code":"E42"}', ("E", "m", "E42", None)),
    ('{"name":"E","message":"m"}', ("E", "m", None, None)),
    ('{"name":"E","message":"m","code":7,"data":[1,"x"]}', ("E", "m", 7, [1, "x"])),
]


@pytest.mark.parametrize("text, expected", PORTABLE_ERROR_SHAPES)
def test_decodes_portable_error_shapes(text: str, expected: tuple[Any, ...]) -> None:
    err = Codec().decode_error(text, PORTABLE)
    assert isinstance(err, PortableWorkflowError)
    assert (err.name, err.message, err.code, err.data) == expected


def test_decoded_pickled_dbos_client_error_keeps_attributes() -> None:
    text = pickled(dbos_client.WorkflowNotFoundError("wf-1"))
    err = Codec().decode_error(text, PICKLE)
    assert isinstance(err, dbos_client.WorkflowNotFoundError)
    assert err.workflow_id == "wf-1"  # type: ignore[attr-defined]


def test_a_pickled_non_exception_as_error_is_refused() -> None:
    with pytest.raises(SerializationError, match="not an exception"):
        Codec().decode_error(pickled("just a string"), PICKLE)


# -- the row's tag wins ---------------------------------------------------------------


class Rot13(Serializer):
    def serialize(self, data: Any) -> str:
        return "r13:" + str(data)[::-1]

    def deserialize(self, serialized_data: str) -> Any:
        assert serialized_data.startswith("r13:")
        return serialized_data[4:][::-1]

    def name(self) -> str:
        return "rot13ish"


def test_null_tag_uses_the_configured_serializer() -> None:
    codec = Codec(Rot13())
    assert codec.default_tag == "rot13ish"
    assert codec.decode("r13:cba", None) == "abc"
    assert codec.tag_for(None) == "rot13ish"


def test_known_tags_win_over_the_configured_serializer() -> None:
    codec = Codec(Rot13())
    assert codec.decode(pickled({"a": 1}), PICKLE) == {"a": 1}
    assert codec.decode('{"a":1}', PORTABLE) == {"a": 1}
    assert codec.encode([1], PORTABLE) == "[1]"
    assert codec.encode([1], PICKLE) == pickled([1])


def test_unknown_tag_raises_serialization_error() -> None:
    codec = Codec()
    with pytest.raises(SerializationError, match="'mystery'") as info:
        codec.decode("xyz", "mystery")
    assert info.value.serialization == "mystery"  # type: ignore[attr-defined]
    with pytest.raises(SerializationError):
        codec.encode(1, "mystery")
    with pytest.raises(SerializationError):
        Codec(Rot13()).decode("r13:x", "other_custom")


def test_custom_serializer_is_used_for_its_own_tag() -> None:
    codec = Codec(Rot13())
    text = codec.encode("hello", "rot13ish")
    assert text == "r13:olleh"
    assert codec.decode(text, "rot13ish") == "hello"


def test_serializer_without_the_methods_is_rejected() -> None:
    class NoName:
        def serialize(self, data: Any) -> str:
            return ""

        def deserialize(self, text: str) -> Any:
            return None

    with pytest.raises(InvalidArgumentError, match="name"):
        Codec(NoName())
    with pytest.raises(InvalidArgumentError):
        Codec(object())


def test_a_serializer_returning_non_str_is_a_serialization_error() -> None:
    class Bytes(Rot13):
        def serialize(self, data: Any) -> str:
            return b"x"  # type: ignore[return-value]

    with pytest.raises(SerializationError, match="bytes"):
        Codec(Bytes()).encode(1, "rot13ish")


def test_a_serialized_nul_is_refused() -> None:
    class Nul(Rot13):
        def serialize(self, data: Any) -> str:
            return "a\x00b"

    with pytest.raises(SerializationError, match="NUL"):
        Codec(Nul()).encode(1, "rot13ish")


def test_nul_inside_a_value_is_fine_in_the_builtin_formats() -> None:
    codec = Codec()
    for tag in (PICKLE, PORTABLE):
        text = codec.encode("a\x00b", tag)
        assert "\x00" not in text
        assert codec.decode(text, tag) == "a\x00b"


def test_a_failing_custom_serializer_is_wrapped() -> None:
    class Boom(Rot13):
        def serialize(self, data: Any) -> str:
            raise RuntimeError("kaput")

        def deserialize(self, serialized_data: str) -> Any:
            raise RuntimeError("kaput")

    codec = Codec(Boom())
    with pytest.raises(SerializationError, match="kaput") as info:
        codec.encode(1, "rot13ish")
    assert isinstance(info.value.__cause__, RuntimeError)
    with pytest.raises(SerializationError, match="kaput"):
        codec.decode("x", None)


# -- refusals -------------------------------------------------------------------------


@pytest.mark.parametrize("value", [lambda: 1, (x for x in []), {"k": types.ModuleType("m")}], ids=["lambda", "generator", "module"])  # type: ignore[var-annotated]
def test_unpicklable_value_raises_serialization_error(value: Any) -> None:
    with pytest.raises(SerializationError) as info:
        Codec().encode(value, PICKLE, "message")
    assert "message" in str(info.value)
    assert info.value.__cause__ is not None


@pytest.mark.parametrize("value", [{1: "a"}, {"ok": {(1, 2): "b"}}, [{None: 1}]], ids=["int-key", "nested-tuple-key", "none-key"])
def test_portable_non_str_key_raises_serialization_error(value: Any) -> None:
    with pytest.raises(SerializationError, match="string dict keys"):
        Codec().encode(value, PORTABLE)


@pytest.mark.parametrize("value", [object(), b"bytes", 1j, timedelta(seconds=1)], ids=["object", "bytes", "complex", "timedelta"])
def test_portable_unsupported_type_raises_serialization_error(value: Any) -> None:
    with pytest.raises(SerializationError, match=type(value).__name__):
        Codec().encode(value, PORTABLE)


def test_unserializable_args_raise_serialization_error() -> None:
    with pytest.raises(SerializationError, match="workflow arguments"):
        Codec().encode_args((lambda: 1,), {}, PICKLE)
    with pytest.raises(SerializationError, match="workflow arguments"):
        Codec().encode_args((), {"k": object()}, PORTABLE)


def test_corrupt_stored_values_raise_serialization_error() -> None:
    codec = Codec()
    with pytest.raises(SerializationError):
        codec.decode("not base64 pickle!!", PICKLE)
    with pytest.raises(SerializationError):
        codec.decode("{not json", PORTABLE)


@pytest.fixture
def vanishing_module() -> Any:
    """A module that exists while a value is pickled, and is gone when it is read back."""
    name = "dbos_client_test_vanishing_module"
    mod = types.ModuleType(name)
    exec("class Order:\n    def __init__(self, n):\n        self.n = n\n", mod.__dict__)
    sys.modules[name] = mod
    try:
        yield mod
    finally:
        sys.modules.pop(name, None)


def test_pickled_instance_of_an_unimportable_class_raises_serialization_error(vanishing_module: Any) -> None:
    text = pickled(vanishing_module.Order(7))
    assert Codec().decode(text, PICKLE).n == 7
    del sys.modules[vanishing_module.__name__]
    with pytest.raises(SerializationError) as info:
        Codec().decode(text, PICKLE, "workflow output")
    message = str(info.value)
    assert "workflow output" in message
    assert "py_pickle" in message
    assert vanishing_module.__name__ in message  # names the module that could not be imported
    assert isinstance(info.value.__cause__, ImportError)


def test_pickled_exception_of_an_unimportable_class_raises_serialization_error(vanishing_module: Any) -> None:
    exec("class Declined(Exception):\n    pass\n", vanishing_module.__dict__)
    vanishing_module.Declined.__module__ = vanishing_module.__name__
    text = pickled(vanishing_module.Declined("no"))
    del sys.modules[vanishing_module.__name__]
    with pytest.raises(SerializationError, match=vanishing_module.__name__):
        Codec().decode_error(text, PICKLE)


# -- tag_for --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "choice, tag",
    [
        (None, PICKLE),
        ("portable", PORTABLE),
        ("native", PICKLE),
        ("portable_json", PORTABLE),
        ("py_pickle", PICKLE),
        (WorkflowSerializationFormat.PORTABLE, PORTABLE),
        (WorkflowSerializationFormat.NATIVE, PICKLE),
    ],
)
def test_tag_for_accepts(choice: Any, tag: str) -> None:
    assert Codec().tag_for(choice) == tag


def test_tag_for_none_is_the_custom_serializer() -> None:
    codec = Codec(Rot13())
    assert codec.tag_for(None) == "rot13ish"
    assert codec.tag_for("native") == PICKLE


@pytest.mark.parametrize("junk", ["json", "PORTABLE", "", "pickle", 1, 0, True, ["portable"], object()], ids=repr)
def test_tag_for_rejects_junk(junk: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="serialization_type"):
        Codec().tag_for(junk)


def test_our_format_enum_values() -> None:
    assert WorkflowSerializationFormat.PORTABLE == "portable"  # type: ignore[comparison-overlap]
