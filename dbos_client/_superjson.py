"""Decode ``js_superjson``: what a DBOS TypeScript app writes when it does not opt into portable JSON.

Pure Python, no dependency. The stored text (``@dbos-inc/dbos-sdk`` 5.x, superjson 1.13) is

    {"json": <plain JSON>, "meta": {"values": <annotations>, "v": 1?}, "__dbos_serializer": "superjson"}

``meta`` is left out when nothing needed annotating; ``json`` is left out for a top-level
``undefined``. An annotation tree is either ``[type]`` / ``[type, {path: tree}]`` for the value at
hand (its children are annotated first, so a path never crosses a Map or Set already rebuilt), or
``{path: tree}`` when the value itself is plain. A path is dot-separated keys, ``\\.`` for a dot inside
a key (superjson 1.x leaves a dot in a leaf key unescaped; such a path is matched against the keys
that exist). ``\\\\`` is a backslash in superjson 2's paths (``meta.v`` = 1).

The mappings (JS -> Python):

  Date -> ``datetime`` (UTC-aware; beyond year 9999, its ISO text); bigint -> ``int`` (exact at any size); undefined -> ``None``;
  NaN / Infinity / -Infinity / -0 -> ``float``; Map -> ``dict`` (a list of ``(key, value)`` pairs when
  a key is an object or array); Set -> ``set`` (a list when an element is an object or array);
  RegExp -> ``re.Pattern`` (flags i, m, s kept; g, y, d and u describe matching, not the pattern,
  and are dropped; a pattern Python cannot compile stays its ``/source/flags`` text); Error ->
  ``PortableWorkflowError(message, name)``; URL -> ``str``; Buffer, Uint8Array and
  Uint8ClampedArray -> ``bytes``; other typed arrays -> ``list``; an instance of a registered
  class -> the ``dict`` of its properties; a registered symbol -> its description; a custom
  recipe other than Buffer -> its JSON as stored.

A mapping that loses something (class identity, a symbol, an unknown recipe, a Map key or Set
element Python cannot hash, a pattern Python cannot compile, a date Python cannot hold) is reported through ``notes``, so the
caller can log one warning per call rather than one per value.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime, timezone
from typing import Any

from .errors import SerializationError

SUPERJSON = "js_superjson"
MARKER_KEY = "__dbos_serializer"
MARKER_VALUE = "superjson"

_REGEX_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL}
_NUMBERS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf, "-0": -0.0}
_BYTE_ARRAYS = ("Uint8Array", "Uint8ClampedArray")


def decode(text: str, notes: list[str] | None = None) -> Any:
    """The value of one stored ``js_superjson`` text; lossy mappings are appended to ``notes``."""
    record = json.loads(text)
    if not isinstance(record, dict) or record.get(MARKER_KEY) != MARKER_VALUE:
        raise SerializationError(
            "the value is tagged js_superjson but carries no superjson marker "
            f"({MARKER_KEY!r}: {MARKER_VALUE!r}), so it was not written by the DBOS TypeScript serializer",
            serialization=SUPERJSON,
        )
    return from_superjson(record.get("json"), record.get("meta"), notes)


def from_superjson(plain: Any, meta: Any, notes: list[str] | None = None) -> Any:
    """Apply superjson's ``meta`` to its ``json`` (the result of ``superjson.serialize``)."""
    if not isinstance(meta, dict) or meta.get("values") is None:
        return plain
    return _Applier(notes if notes is not None else [], legacy_paths=meta.get("v") is None).apply(
        plain, meta["values"]
    )


class _Applier:
    def __init__(self, notes: list[str], legacy_paths: bool) -> None:
        self.notes = notes
        self.legacy_paths = legacy_paths

    def apply(self, plain: Any, tree: Any) -> Any:
        box = [plain]
        self._traverse(box, tree, [])
        return box[0]

    def _traverse(self, box: list[Any], tree: Any, origin: list[str]) -> None:
        if isinstance(tree, dict):
            for key, subtree in tree.items():
                self._traverse(box, subtree, origin + self._parse_path(key))
            return
        if not isinstance(tree, list) or not tree:
            raise ValueError(f"malformed superjson annotation {tree!r}")
        if len(tree) > 1 and isinstance(tree[1], dict):
            for key, child in tree[1].items():
                self._traverse(box, child, origin + self._parse_path(key))
        self._set_deep(box, origin, lambda v: self._untransform(v, tree[0], origin))

    def _parse_path(self, path: str) -> list[str]:
        if "\\" not in path:
            return path.split(".")
        out, segment, i = [], "", 0
        while i < len(path):
            char = path[i]
            nxt = path[i + 1] if i + 1 < len(path) else ""
            if char == "\\" and nxt == ".":
                segment, i = segment + ".", i + 2
                continue
            if char == "\\" and nxt == "\\" and not self.legacy_paths:
                segment, i = segment + "\\", i + 2
                continue
            if char == ".":
                out.append(segment)
                segment = ""
            else:
                segment += char
            i += 1
        out.append(segment)
        return out

    def _set_deep(self, box: list[Any], path: list[str], mapper: Any) -> None:
        parent: Any = box
        key: Any = 0
        i = 0
        while i < len(path):
            parent = parent[key]
            key, i = self._step(parent, path, i)
        parent[key] = mapper(parent[key])

    @staticmethod
    def _step(container: Any, path: list[str], i: int) -> tuple[Any, int]:
        """The key of ``container`` that ``path[i:]`` starts with, and the index after it."""
        if isinstance(container, list):
            return int(path[i]), i + 1
        if isinstance(container, dict):
            # superjson 1.x does not escape a dot in a leaf key: try the longest join that exists.
            for end in range(len(path), i, -1):
                candidate = ".".join(path[i:end])
                if candidate in container:
                    return candidate, end
        raise KeyError(".".join(path))

    def _untransform(self, value: Any, kind: Any, path: list[str]) -> Any:
        where = ".".join(path) or "(root)"
        if isinstance(kind, list):
            return self._composite(value, kind, where)
        if kind == "undefined":
            return None
        if kind == "bigint":
            return int(value)
        if kind == "Date":
            try:
                return _parse_date(value)
            except (TypeError, ValueError):
                # JS dates reach year 275760; Python's stop at 9999.
                self.notes.append(f"the Date {value!r} at {where} is out of Python's range, returned as its text")
                return value
        if kind == "number":
            return _NUMBERS[value] if value in _NUMBERS else float(value)
        if kind == "set":
            items = list(value)
            try:
                return set(items)
            except TypeError:
                self.notes.append(f"a Set at {where} holds objects, returned as a list")
                return items
        if kind == "map":
            pairs = [(k, v) for k, v in value]
            try:
                return dict(pairs)
            except TypeError:
                self.notes.append(f"a Map at {where} has object keys, returned as a list of (key, value) pairs")
                return pairs
        if kind == "regexp":
            return self._regexp(value, where)
        if kind == "Error":
            from ._serialization import PortableWorkflowError

            return PortableWorkflowError(str(value.get("message", "")), str(value.get("name", "Error")))
        if kind == "URL":
            return value
        self.notes.append(f"unknown superjson type {kind!r} at {where}, returned as stored")
        return value

    def _composite(self, value: Any, kind: list[Any], where: str) -> Any:
        what = kind[0] if kind else None
        name = kind[1] if len(kind) > 1 else None
        if what == "custom" and name == "Buffer":
            return bytes(value)
        if what == "typed-array":
            return bytes(value) if name in _BYTE_ARRAYS else list(value)
        if what == "class":
            self.notes.append(f"an instance of the registered class {name!r} at {where}, returned as a dict")
            return value
        if what == "symbol":
            self.notes.append(f"the symbol {name!r} at {where}, returned as its description")
            return value
        self.notes.append(f"a value of superjson type {kind!r} at {where}, returned as stored")
        return value

    def _regexp(self, text: str, where: str) -> Any:
        slash = text.rfind("/")
        source, flags = text[1:slash], text[slash + 1 :]
        bits = 0
        for flag in flags:
            bits |= _REGEX_FLAGS.get(flag, 0)
        try:
            return re.compile(source, bits)
        except re.error as exc:
            self.notes.append(f"the RegExp at {where} is not a valid Python pattern ({exc}), returned as its text")
            return text


def _parse_date(text: str) -> datetime:
    # JS writes ISO 8601 with milliseconds and Z; years beyond 9999 have a sign and six digits.
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=timezone.utc)


def error_from_record(record: Any, notes: list[str] | None = None) -> BaseException:
    """A TS workflow's error (``serialize-error``'s record: name, message, stack, code, cause...)."""
    from ._serialization import PortableWorkflowError

    if not isinstance(record, dict):
        return PortableWorkflowError(str(record), "Error")
    exc = PortableWorkflowError(
        str(record.get("message", "")), str(record.get("name", "Error")), record.get("code"), record.get("data")
    )
    if isinstance(record.get("stack"), str):
        exc.stack = record["stack"]  # type: ignore[attr-defined]
    cause = record.get("cause")
    if cause is not None:
        exc.__cause__ = cause if isinstance(cause, BaseException) else error_from_record(cause, notes)
    return exc


def report_notes(notes: list[str], call: str, workflow_id: str | None = None) -> None:
    """Log what one call's decoding lost, as one warning (a listing of many rows is still one)."""
    if not notes:
        return
    import logging

    distinct = list(dict.fromkeys(notes))
    shown = "; ".join(distinct[:3]) + (f"; and {len(distinct) - 3} more" if len(distinct) > 3 else "")
    target = f" of workflow {workflow_id!r}" if workflow_id is not None else ""
    logging.getLogger("dbos_client").warning(
        "%s%s: %d stored value(s) could not be decoded exactly: %s", call, target, len(notes), shown
    )
    notes.clear()
