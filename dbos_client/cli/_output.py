"""Output: every value printed on stdout is JSON, and printing one never fails.

Indented for a person at a terminal, one line for a pipe (``jq``); ``compact`` is the
one-line form that streams and log lines use.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import fields, is_dataclass
from typing import Any, TextIO

from .._serialization import PortableWorkflowError
from ..models import WorkflowStatus


def describe_error(exc: BaseException) -> dict[str, str]:
    """An exception as ``{"type", "message"}``; a portable error keeps its own type name."""
    if isinstance(exc, PortableWorkflowError):
        return {"type": exc.name, "message": exc.message}
    kind = type(exc)
    name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    return {"type": name, "message": str(exc)}


def jsonable(value: Any, _depth: int = 0) -> Any:
    """``value`` made JSON-safe: JSON types pass, tuples become lists, exceptions
    ``{"type", "message"}``, anything else (a set, a datetime, a class) its ``repr``.

    Workflow values are whatever the application pickled; printing them must never fail.
    """
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)  # NaN is not JSON
    if _depth > 50:  # deep or cyclic: repr copes with cycles
        return repr(value)
    if isinstance(value, BaseException):
        return describe_error(value)
    if isinstance(value, dict):
        return {_json_key(k): jsonable(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v, _depth + 1) for v in value]
    return repr(value)


def _json_key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, (bool, int, float)):
        return json.dumps(key)  # what json.dumps itself would make of it
    return repr(key)


def status_json(status: WorkflowStatus) -> dict[str, Any]:
    """Every field of ``WorkflowStatus``, JSON-safe."""
    return {f.name: jsonable(getattr(status, f.name)) for f in fields(status)}


def compact(value: Any) -> str:
    """One-line JSON of a value, for streams and log lines."""
    return json.dumps(jsonable(value))


def emit(value: Any, out: TextIO | None = None) -> None:
    """Print one JSON document: indented for a person at a terminal, one line for a pipe."""
    out = out or sys.stdout
    indent = 2 if out.isatty() else None
    print(json.dumps(jsonable(value), indent=indent), file=out, flush=True)


def record_json(record: Any) -> dict[str, Any]:
    """A row the client returns (a dataclass such as ``Queue``, or a dict such as
    ``VersionInfo``) as a JSON object with its fields in order, JSON-safe."""
    if is_dataclass(record) and not isinstance(record, type):
        return {f.name: jsonable(getattr(record, f.name)) for f in fields(record)}
    if hasattr(record, "keys"):
        return {str(k): jsonable(record[k]) for k in record.keys()}
    return {"value": jsonable(record)}
