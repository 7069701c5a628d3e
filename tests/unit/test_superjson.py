"""js_superjson (a DBOS TypeScript app's default format) is decoded; portable JSON stays portable.

The texts in superjson_recorded.json were written by the real TS runtime (@dbos-inc/dbos-sdk
5.3.0); tests/interop/test_typescript.py checks the same values live. The few synthetic texts
below cover annotations the TS SDK writes only for app-registered classes, symbols and recipes.
"""

from __future__ import annotations

import json
import logging
import math
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from dbos_client import InvalidArgumentError, PortableWorkflowError, SerializationError
from dbos_client._options import build_enqueue
from dbos_client._serialization import PORTABLE, SUPERJSON, Codec
from dbos_client._superjson import decode, from_superjson, report_notes

RECORDED: dict[str, str] = json.loads((Path(__file__).parent / "superjson_recorded.json").read_text(encoding="utf-8"))
UTC = timezone.utc
CODEC = Codec()


def test_every_mapping_of_a_value_the_ts_runtime_wrote() -> None:
    notes: list[str] = []
    v = CODEC.decode(RECORDED["rich_event"], SUPERJSON, notes=notes)
    assert v["date"] == datetime(2024, 2, 29, 12, 34, 56, 789000, tzinfo=UTC)
    assert (v["big"], v["negBig"]) == (12345678901234567890, -9007199254740993)
    assert v["map"] == {"a": 1, "when": datetime(1970, 1, 1, tzinfo=UTC)}
    assert v["numKeyMap"] == {1: "one", 2: "two"}
    assert v["objKeyMap"] == [({"id": 1}, "object key")]
    assert v["set"] == {1, "two", 3}
    assert "undef" in v and v["undef"] is None
    assert v["regex"] == re.compile(r"ab+c\.d", re.IGNORECASE)
    assert isinstance(v["error"], PortableWorkflowError)
    assert (v["error"].name, v["error"].message) == ("RangeError", "out of range: 7")
    assert math.isnan(v["nan"]) and (v["inf"], v["ninf"]) == (math.inf, -math.inf)
    assert math.copysign(1, v["negZero"]) == -1
    assert v["unicode"] == "héllo wörld, 你好, 🎉"
    assert v["nested"] == {"list": [datetime(2000, 1, 1, tzinfo=UTC), {"deep": {"x"}}, None], "dotted.key": 1}
    assert (v["buffer"], v["url"], v["typed"]) == (b"\x01\x02\xff", "https://dbos.dev/a?b=1", [1.5, -2])
    assert (v["plain"], v["maxSafe"]) == ([1, "two", None, True, 2.5], 2**53 - 1)
    assert notes == ["a Map at objKeyMap has object keys, returned as a list of (key, value) pairs"]
    assert repr(CODEC.decode(RECORDED["step_output"], SUPERJSON)) == repr(v)  # NaN and errors compare by identity


def test_top_level_values_the_ts_runtime_wrote() -> None:
    assert CODEC.decode(RECORDED["date_event"], SUPERJSON) == datetime(2024, 2, 29, 12, 34, 56, 789000, tzinfo=UTC)
    assert CODEC.decode(RECORDED["undefined_event"], SUPERJSON) is None
    assert CODEC.decode(RECORDED["bigint_stream_value"], SUPERJSON) == 12345678901234567890
    # A top-level undefined may also leave "json" out altogether.
    assert decode('{"meta":{"values":["undefined"]},"__dbos_serializer":"superjson"}') is None


def test_inputs_and_error_the_ts_runtime_wrote() -> None:
    assert CODEC.decode_args(RECORDED["echo_inputs"], SUPERJSON) == {"args": (1, None, "x"), "kwargs": {}}
    exc = CODEC.decode_error(RECORDED["error_output"], SUPERJSON)
    assert isinstance(exc, PortableWorkflowError)
    assert (exc.name, exc.message, exc.code) == ("TypeError", "bad", "E_BAD")
    assert exc.stack.startswith("TypeError: bad\n    at failNative")  # type: ignore[attr-defined]


def test_error_cause_chain() -> None:
    record = {"json": {"name": "Error", "message": "outer", "cause": {"name": "RangeError", "message": "inner"}},
              "__dbos_serializer": "superjson"}  # fmt: skip
    exc = CODEC.decode_error(json.dumps(record), SUPERJSON)
    assert isinstance(exc, PortableWorkflowError) and isinstance(exc.__cause__, PortableWorkflowError)
    assert exc.__cause__.message == "inner"


def test_paths_escape_dots_and_superjson2_backslashes() -> None:
    plain = {"a.b": {"c\\d": "5"}, "x": "6"}
    assert from_superjson(plain, {"values": {"a\\.b.c\\d": ["bigint"], "x": ["bigint"]}}) == {"a.b": {"c\\d": 5}, "x": 6}
    assert from_superjson(plain, {"values": {"a\\.b.c\\\\d": ["bigint"]}, "v": 1})["a.b"] == {"c\\d": 5}


def test_lossy_mappings_are_noted_not_raised() -> None:
    notes: list[str] = []
    value = from_superjson(
        {"c": {"x": 1}, "s": "sym", "r": "/(?<n>a)/u", "z": [1], "u": 3, "set": [{"a": 1}], "t": [1, 2]},
        {"values": {"c": [["class", "Point"]], "s": [["symbol", "sym"]], "r": ["regexp"], "z": [["custom", "Money"]],
                    "u": ["mystery"], "set": ["set"], "t": [["typed-array", "Uint8Array"]]}},
        notes,
    )  # fmt: skip
    assert value == {"c": {"x": 1}, "s": "sym", "r": "/(?<n>a)/u", "z": [1], "u": 3, "set": [{"a": 1}], "t": b"\x01\x02"}
    assert len(notes) == 6 and "Point" in notes[0] and "RegExp at r" in notes[2]
    assert from_superjson("+275760-09-13T00:00:00.000Z", {"values": ["Date"]}, notes) == "+275760-09-13T00:00:00.000Z"
    assert "out of Python's range" in notes[-1]


def test_unmarked_or_malformed_superjson_is_a_serialization_error() -> None:
    with pytest.raises(SerializationError, match="no superjson marker"):
        CODEC.decode('{"json": 1}', SUPERJSON)
    with pytest.raises(SerializationError, match="js_superjson"):
        CODEC.decode("not json", SUPERJSON)
    with pytest.raises(SerializationError, match="does not write js_superjson"):
        CODEC.encode(1, SUPERJSON)


def test_report_notes_logs_once(caplog: pytest.LogCaptureFixture) -> None:
    notes = [f"note {i % 5}" for i in range(40)]
    with caplog.at_level(logging.WARNING, logger="dbos_client"):
        report_notes(notes, "list_workflows")
        report_notes(notes, "list_workflows")  # cleared: nothing more
    assert len(caplog.records) == 1
    assert "40 stored value(s)" in caplog.records[0].getMessage() and "and 2 more" in caplog.records[0].getMessage()


# -- portable JSON is portable ---------------------------------------------------------------------


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, [1, {"x": math.nan}], {"deep": (math.inf,)}])
def test_nan_and_infinity_are_refused(bad: Any) -> None:
    with pytest.raises(SerializationError, match="NaN or Infinity") as info:
        CODEC.encode(bad, PORTABLE, "message")
    assert "message" in str(info.value)


def test_refusal_names_the_argument() -> None:
    with pytest.raises(SerializationError, match=r"args\[1\]\['x'\]\[0\] is nan"):
        CODEC.encode_args((1, {"x": [math.nan]}), {}, PORTABLE)
    with pytest.raises(SerializationError, match=r"kwargs\['k'\] is inf"):
        CODEC.encode_args((), {"k": math.inf}, PORTABLE)
    # Pickle has no such limit.
    assert CODEC.decode_args(CODEC.encode_args((math.nan,), {}, "py_pickle"), "py_pickle")["args"][0] != 0


def test_reject_keyword_args() -> None:
    base = {"workflow_name": "w", "queue_name": "q", "serialization_type": "portable"}
    assert build_enqueue({**base, "reject_keyword_args": True}, (1,), {}, CODEC, None).inputs == (
        '{"namedArgs":{},"positionalArgs":[1]}'
    )
    with pytest.raises(InvalidArgumentError, match="'b'.*namedArgs"):
        build_enqueue({**base, "reject_keyword_args": True}, (1,), {"b": 2}, CODEC, None)
    with pytest.raises(InvalidArgumentError, match="True or False"):
        build_enqueue({**base, "reject_keyword_args": "yes"}, (), {}, CODEC, None)
    assert "namedArgs" in build_enqueue(base, (), {"b": 2}, CODEC, None).inputs  # default: written, as DBOS does
