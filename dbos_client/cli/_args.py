"""Argument types: ``type=`` functions that parse and check one command-line value.

A bad value raises ``argparse.ArgumentTypeError``, so it is argparse's own usage error
(exit 2), and its message names the argument: "argument --args: not valid JSON (...)".
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable
from typing import Any

#: Marks an optional argument that was not given (None can be a real JSON message).
MISSING = object()


def _read_source(path: str) -> str:
    """The text of ``path``; ``-`` is standard input."""
    try:
        if path == "-":
            return sys.stdin.read()
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"cannot read {path!r}: {exc.strerror or exc}") from None


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON ({exc})") from None


def json_value(text: str) -> Any:
    """Any JSON value; ``-`` reads it from standard input."""
    return _loads(_read_source("-") if text == "-" else text)


def json_file(path: str) -> Any:
    """Any JSON value, read from a file (``-``: standard input)."""
    return _loads(_read_source(path))


def _expect(value: Any, kind: type, name: str) -> Any:
    if not isinstance(value, kind):
        raise argparse.ArgumentTypeError(f"must be a JSON {name}, not {type(value).__name__}")
    return value


def json_array(text: str) -> list[Any]:
    return _expect(json_value(text), list, "array")  # type: ignore[no-any-return]


def json_array_file(path: str) -> list[Any]:
    return _expect(json_file(path), list, "array")  # type: ignore[no-any-return]


def json_object(text: str) -> dict[str, Any]:
    return _expect(json_value(text), dict, "object")  # type: ignore[no-any-return]


def _number(convert: Callable[[str], Any], minimum: float, inclusive: bool) -> Callable[[str], Any]:
    """A ``type=`` for numbers with a lower bound (NaN is refused too)."""

    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if (value < minimum if inclusive else value <= minimum) or (isinstance(value, float) and math.isnan(value)):
            raise argparse.ArgumentTypeError(f"must be {'>=' if inclusive else '>'} {minimum}, got {text}")
        return value

    return parse


non_negative_int = _number(int, 0, inclusive=True)
non_negative_float = _number(float, 0, inclusive=True)
positive_float = _number(float, 0, inclusive=False)


def iso_time(text: str) -> str:
    """An ISO 8601 timestamp, checked here and passed on as given."""
    from datetime import datetime

    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    return text


positive_int = _number(int, 1, inclusive=True)


def iso_datetime(text: str) -> Any:
    """An ISO 8601 time as an aware ``datetime``; one without an offset is UTC."""
    from datetime import datetime, timezone

    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
