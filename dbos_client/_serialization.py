"""Encode and decode values exactly as the DBOS runtime stores them. Pure: no I/O.

Four formats, named by the ``serialization`` column:
  * ``py_pickle``: base64 of ``pickle.dumps`` (the DBOS Python default);
  * ``portable_json``: compact JSON of a restricted value space, readable by every SDK;
    NaN and Infinity are refused (they are not JSON: the TypeScript runtime cannot parse them);
  * ``js_superjson``: what a DBOS TypeScript app writes by default; read only (``_superjson.py``);
  * anything else: a user ``Serializer`` whose ``name()`` matches the tag.
Every read honours the row's own tag; a NULL tag means "the configured serializer".
"""

from __future__ import annotations

import base64
import enum
import json
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, Union

from . import _superjson
from .errors import InvalidArgumentError, SerializationError

PICKLE = "py_pickle"
SUPERJSON = _superjson.SUPERJSON
PORTABLE = "portable_json"

#: What ``close_stream`` appends; always written as portable JSON.
STREAM_CLOSED_SENTINEL = "__DBOS_STREAM_CLOSED__"


class Serializer(ABC):
    """A custom format, with the same shape as ``dbos.Serializer``.

    Any object with ``serialize``, ``deserialize`` and ``name`` works, including a
    ``dbos.Serializer`` subclass, so an application's serializer can be reused as is.
    """

    @abstractmethod
    def serialize(self, data: Any) -> str: ...

    @abstractmethod
    def deserialize(self, serialized_data: str) -> Any: ...

    def name(self) -> str:
        return "custom_serializer"


class DefaultSerializer(Serializer):
    """base64-encoded pickle, tagged ``py_pickle``: what a DBOS Python app writes by default."""

    def serialize(self, data: Any) -> str:
        import pickle  # on first use: a portable-JSON-only client never loads it

        return base64.b64encode(pickle.dumps(data)).decode("ascii")

    def deserialize(self, serialized_data: str) -> Any:
        import pickle

        return pickle.loads(base64.b64decode(serialized_data))

    def name(self) -> str:
        return PICKLE


class PortableJSONSerializer(Serializer):
    """Language-neutral JSON, tagged ``portable_json``.

    datetime becomes an RFC 3339 UTC string with milliseconds, date an ISO date, Decimal a
    string, tuple and set a list; dict keys must be strings; NaN and Infinity (which JSON
    cannot express) and other types are refused.
    """

    def serialize(self, data: Any) -> str:
        return _portable_text(_portableify(data, "value"))

    def deserialize(self, serialized_data: str) -> Any:
        return json.loads(serialized_data)

    def name(self) -> str:
        return PORTABLE


class WorkflowSerializationFormat(str, enum.Enum):
    """Which format to write; the same values as ``dbos.WorkflowSerializationFormat``."""

    PORTABLE = "portable"
    NATIVE = "native"


@dataclass(eq=False)
class PortableWorkflowError(Exception):
    """A workflow error stored as portable JSON: ``{"name", "message", "code", "data"}``."""

    message: str
    name: str
    code: int | str | None = None
    data: Any = None

    def __str__(self) -> str:
        return self.message


def _to_rfc3339_utc(value: datetime) -> str:
    value = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _portable_text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _portableify(value: Any, path: str) -> Any:
    """``value`` in portable JSON's value space; ``path`` names it in errors (``args[0]['x']``)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise TypeError(
            f"{path} is {value!r}: portable JSON has no NaN or Infinity (JSON cannot express them, "
            "and other runtimes fail to parse them); send None or a string instead"
        )
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, datetime):
        return _to_rfc3339_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_portableify(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"portable JSON needs string dict keys, got {type(k).__name__} in {path}")
            out[k] = _portableify(v, f"{path}[{k!r}]")
        return out
    raise TypeError(f"{path} is of type {type(value).__name__}, which portable JSON cannot express")


_PICKLE_SERIALIZER = DefaultSerializer()
_PORTABLE_SERIALIZER = PortableJSONSerializer()

FormatChoice = Union[WorkflowSerializationFormat, str, None]  # noqa: UP007 - a runtime alias, evaluated on 3.10


class Codec:
    """The client's serializer plus the two built-in formats, picked per row by tag."""

    def __init__(self, serializer: Any | None = None) -> None:
        serializer = serializer if serializer is not None else _PICKLE_SERIALIZER
        for attr in ("serialize", "deserialize", "name"):
            if not callable(getattr(serializer, attr, None)):
                raise InvalidArgumentError(
                    f"serializer must have serialize(), deserialize() and name() methods; "
                    f"{type(serializer).__name__} has no {attr}()"
                )
        self.serializer = serializer
        self.default_tag: str = serializer.name()

    def tag_for(self, choice: FormatChoice) -> str:
        """The tag written for a ``serialization_type`` choice (None: the configured serializer)."""
        if choice is None:
            return self.default_tag
        if isinstance(choice, enum.Enum) and choice.name == "DEFAULT":
            return self.default_tag  # dbos.WorkflowSerializationFormat.DEFAULT, whose value is 'None'
        value = choice.value if isinstance(choice, enum.Enum) else choice
        if value is None:
            return self.default_tag
        if value in ("portable", PORTABLE):
            return PORTABLE
        if value in ("native", PICKLE):
            return PICKLE
        raise InvalidArgumentError(
            f"unknown serialization_type {value!r}: use 'portable', 'native' or None"
        )

    def _for_tag(self, tag: str | None) -> Any:
        if tag == PORTABLE:
            return _PORTABLE_SERIALIZER
        if tag == PICKLE:
            return _PICKLE_SERIALIZER
        if tag is None or tag == self.default_tag:
            return self.serializer
        if tag == SUPERJSON:
            return _SUPERJSON_READER
        raise SerializationError(
            f"Serialization {tag} is not available: values tagged {tag!r} need a serializer of that name; "
            f"this client has {self.default_tag!r}",
            serialization=tag,
        )

    def encode(self, value: Any, tag: str, what: str = "value") -> str:
        try:
            # Portable JSON's own check names the place of a bad value: message['x'], args[0].
            text = _portable_text(_portableify(value, what)) if tag == PORTABLE else self._for_tag(tag).serialize(value)
        except SerializationError:
            raise
        except Exception as exc:
            raise SerializationError(f"cannot serialize the {what} as {tag}: {exc}", serialization=tag) from exc
        if not isinstance(text, str):
            raise SerializationError(f"serializer {tag!r} returned {type(text).__name__}, not str")
        if "\x00" in text:
            # Postgres TEXT cannot hold NUL: refuse here rather than fail inside the INSERT.
            raise SerializationError(f"the serialized {what} contains a NUL character, which Postgres text cannot store")
        return text

    def decode(self, text: str | None, tag: str | None, what: str = "value", notes: list[str] | None = None) -> Any:
        """The stored value; a lossy ``js_superjson`` mapping is appended to ``notes`` (see ``report_notes``)."""
        if text is None:
            return None
        try:
            serializer = self._for_tag(tag)
            if serializer is _SUPERJSON_READER:
                return _superjson.decode(text, notes)
            return serializer.deserialize(text)
        except SerializationError:
            raise
        except Exception as exc:
            raise SerializationError(
                f"cannot deserialize the stored {what} (serialization {tag or self.default_tag!r}): {exc}",
                serialization=tag,
            ) from exc

    def encode_args(self, args: tuple[Any, ...], kwargs: dict[str, Any], tag: str) -> str:
        """Workflow inputs in the shape the runtime reads for this tag."""
        if tag == PORTABLE:
            # Checked apart, so an error names args[i] or kwargs['k'].
            try:
                value = {"namedArgs": _portableify(kwargs, "kwargs"), "positionalArgs": _portableify(list(args), "args")}
            except (TypeError, ValueError) as exc:
                raise SerializationError(f"cannot serialize the workflow arguments as {tag}: {exc}", serialization=tag) from exc
            return self.encode(value, tag, "workflow arguments")
        return self.encode({"args": tuple(args), "kwargs": kwargs}, tag, "workflow arguments")

    def decode_args(self, text: str | None, tag: str | None, notes: list[str] | None = None) -> dict[str, Any] | None:
        """``{"args": tuple, "kwargs": dict}`` whatever the stored shape."""
        value = self.decode(text, tag, "workflow arguments", notes)
        if value is None:
            return None
        if self._for_tag(tag) is _SUPERJSON_READER:
            return {"args": tuple(value) if isinstance(value, list) else (value,), "kwargs": {}}
        if (tag or self.default_tag) == PORTABLE:
            return {"args": tuple(value.get("positionalArgs") or []), "kwargs": value.get("namedArgs") or {}}
        return {"args": tuple(value.get("args") or ()), "kwargs": value.get("kwargs") or {}}

    def decode_error(self, text: str | None, tag: str | None, notes: list[str] | None = None) -> BaseException | None:
        """The workflow's exception, as the runtime would re-raise it."""
        if text is None:
            return None
        if self._for_tag(tag) is _SUPERJSON_READER:
            return _superjson.error_from_record(self.decode(text, tag, "workflow error", notes), notes)
        if (tag or self.default_tag) == PORTABLE:
            data = self.decode(text, tag, "workflow error")
            if not isinstance(data, dict):
                return PortableWorkflowError(str(data), "Error")
            return PortableWorkflowError(
                str(data.get("message", "")), str(data.get("name", "Error")), data.get("code"), data.get("data")
            )
        value = self.decode(text, tag, "workflow error")
        if not isinstance(value, BaseException):
            raise SerializationError(f"the stored workflow error is a {type(value).__name__}, not an exception")
        return value


class _SuperJSONReader(Serializer):
    """``js_superjson`` values are read (``_superjson.decode``), never written."""

    def serialize(self, data: Any) -> str:
        raise SerializationError(
            "this client does not write js_superjson: use serialization_type='portable', which a "
            "DBOS TypeScript app reads",
            serialization=SUPERJSON,
        )

    def deserialize(self, serialized_data: str) -> Any:
        return _superjson.decode(serialized_data)

    def name(self) -> str:
        return SUPERJSON


_SUPERJSON_READER = _SuperJSONReader()


def is_stream_closed(value: Any) -> bool:
    return isinstance(value, str) and value == STREAM_CLOSED_SENTINEL
