"""Validate user input at the boundary; nothing below this module sees an unchecked dict. Pure.

Every check runs, and every value is serialized, before the first statement is sent,
so bad input never leaves a half-written workflow behind.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._serialization import Codec
from .errors import InvalidArgumentError
from .models import ALL_STATUSES, WorkflowStatusString

MAX_PRIORITY = 2**31 - 1
#: About 31 years: any longer wait is a bug, and its milliseconds must fit a bigint.
MAX_SECONDS = 1e9
#: pg_notify refuses payloads of 8000 bytes or more, and the notifications trigger
#: sends "destination::topic": a longer pair would fail the INSERT itself.
MAX_NOTIFY_PAYLOAD = 7999

_KNOWN_KEYS = frozenset(
    {
        "workflow_name", "queue_name", "workflow_id", "workflow_id_reuse_policy", "app_version",
        "workflow_timeout", "delay_seconds", "deduplication_id", "duplication_policy", "priority",
        "queue_partition_key", "authenticated_user", "authenticated_roles", "serialization_type",
        "class_name", "instance_name", "attributes", "application_name", "otel_context", "shard_key",
        "reject_keyword_args",
    }
)  # fmt: skip
#: DBOS's wording ("... not sharded", "... requires a sharded system database"), so code that
#: matches DBOS's refusals matches ours; this client supports unsharded system databases only.
UNSHARDED = "a shard key was given, but this system database is not sharded (dbos-client supports unsharded ones only)"
UNSHARDED_FILTER = "filtering by shard key requires a sharded system database, which dbos-client does not support"


def no_shard_key(value: Any, name: str = "shard_key") -> None:
    """Refuse a shard key rather than ignore it, as DBOS does on an unsharded database."""
    if value is not None:
        raise InvalidArgumentError(f"{name}: {UNSHARDED}")


_UNSUPPORTED_KEYS = {"shard_key": UNSHARDED}


@dataclass(frozen=True)
class EnqueueRequest:
    """A validated enqueue: the row to insert, ready for the SQL layer."""

    row: Mapping[str, Any]
    inputs: str
    delay_ms: int | None
    workflow_id: str
    workflow_name: str
    queue_name: str
    class_name: str | None
    instance_name: str | None
    deduplication_id: str | None
    reject_existing_id: bool
    return_existing_on_dedup: bool


def new_id() -> str:
    """A random uuid4 string, as DBOS generates ids. uuid is imported on first use: it
    pulls in platform, which a script that only reads never needs."""
    import uuid

    return str(uuid.uuid4())


def require_text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{what} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise InvalidArgumentError(f"{what} must not be empty")
    if "\x00" in value:
        raise InvalidArgumentError(f"{what} must not contain a NUL character")
    if not value.isascii():
        try:  # a lone surrogate cannot be sent to the database (nor into a query shared by every waiter)
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidArgumentError(f"{what} is not valid Unicode (it holds a lone surrogate)") from None
    return value


def optional_text(value: Any, what: str) -> str | None:
    return None if value is None else require_text(value, what)


def check_keys(given: Mapping[str, Any], known: frozenset[str], unsupported: Mapping[str, str], what: str) -> None:
    """Refuse unknown keys, and known ones this client cannot honour, rather than ignore them."""
    unknown = sorted(set(given) - known)
    if unknown:
        raise InvalidArgumentError(f"unknown {what}(s): {', '.join(map(repr, unknown))}")
    for key, why in unsupported.items():
        if given.get(key) is not None:
            raise InvalidArgumentError(f"{what} {key!r} is not supported: {why}")


def check_timeout(value: Any, what: str = "timeout_seconds", allow_none: bool = True) -> float | None:
    if value is None:
        if allow_none:
            return None
        raise InvalidArgumentError(f"{what} must be a number of seconds")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidArgumentError(f"{what} must be a number of seconds, got {type(value).__name__}")
    if math.isnan(value) or value < 0:
        raise InvalidArgumentError(f"{what} must not be negative, got {value!r}")
    if value > MAX_SECONDS:
        raise InvalidArgumentError(f"{what} must be at most {MAX_SECONDS:.0f} seconds, got {value!r}")
    return float(value)


def check_notify_payload(workflow_id: str, key: str, what: str) -> None:
    if len(f"{workflow_id}::{key}".encode()) > MAX_NOTIFY_PAYLOAD:
        raise InvalidArgumentError(
            f"the workflow id and {what} together must stay under {MAX_NOTIFY_PAYLOAD + 1} bytes "
            "(Postgres NOTIFY limit)"
        )


def build_enqueue(
    options: Mapping[str, Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    codec: Codec,
    client_application_name: str | None,
) -> EnqueueRequest:
    if not isinstance(options, Mapping):
        raise InvalidArgumentError(f"enqueue options must be a dict, got {type(options).__name__}")
    check_keys(options, _KNOWN_KEYS, _UNSUPPORTED_KEYS, "enqueue option")
    if "workflow_name" not in options:
        raise InvalidArgumentError("enqueue options need a 'workflow_name'")
    if "queue_name" not in options:
        raise InvalidArgumentError("enqueue options need a 'queue_name'")
    workflow_name = require_text(options["workflow_name"], "workflow_name")
    queue_name = require_text(options["queue_name"], "queue_name")
    raw_id = options.get("workflow_id")
    if isinstance(raw_id, str) and not raw_id.strip():  # DBOS's wording, which callers may match
        raise InvalidArgumentError(f"Invalid workflow ID {raw_id!r}: workflow_id must be non-empty and not only whitespace")
    workflow_id = optional_text(raw_id, "workflow_id") or new_id()
    class_name = optional_text(options.get("class_name"), "class_name")
    instance_name = optional_text(options.get("instance_name"), "instance_name")
    app_version = optional_text(options.get("app_version"), "app_version")
    dedup_id = optional_text(options.get("deduplication_id"), "deduplication_id")
    partition_key = optional_text(options.get("queue_partition_key"), "queue_partition_key")
    user = optional_text(options.get("authenticated_user"), "authenticated_user")
    application_name = (
        optional_text(options["application_name"], "application_name")
        if "application_name" in options
        else client_application_name
    )

    priority = options.get("priority")
    if priority is None:
        priority = 0
    elif isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= MAX_PRIORITY:
        raise InvalidArgumentError(
            f"Invalid priority {priority!r}: priority must be an integer from 0 (the default) to {MAX_PRIORITY}, lower runs first"
        )

    timeout = check_timeout(options.get("workflow_timeout"), "workflow_timeout")
    if timeout is not None and timeout == 0:
        raise InvalidArgumentError("workflow_timeout must be positive")
    delay = check_timeout(options.get("delay_seconds"), "delay_seconds")

    roles = options.get("authenticated_roles")
    if roles is not None and (not isinstance(roles, (list, tuple)) or not all(isinstance(r, str) for r in roles)):
        raise InvalidArgumentError("authenticated_roles must be a list of strings")

    attributes = check_attributes(options.get("attributes"))
    reuse = check_reuse_policy(options.get("workflow_id_reuse_policy"))
    dup = check_duplication_policy(options.get("duplication_policy"), dedup_id)
    if options.get("otel_context") is not None:
        from ._otel import attributes_with_otel_context

        attributes = attributes_with_otel_context(attributes, options["otel_context"])

    tag = codec.tag_for(options.get("serialization_type"))
    check_keyword_args(options.get("reject_keyword_args"), kwargs, tag)
    inputs = codec.encode_args(tuple(args), dict(kwargs), tag)

    row = {
        "workflow_uuid": workflow_id,
        "status": WorkflowStatusString.DELAYED if delay else WorkflowStatusString.ENQUEUED,
        "name": workflow_name,
        "class_name": class_name,
        "config_name": instance_name,
        "queue_name": queue_name,
        "priority": priority,
        "recovery_attempts": 0,
        "deduplication_id": dedup_id,
        "application_version": app_version,
        "workflow_timeout_ms": None if timeout is None else int(timeout * 1000),
        "authenticated_user": user,
        "authenticated_roles": json.dumps(list(roles)) if roles else None,
        "serialization": tag,
        "application_name": application_name,
        "queue_partition_key": partition_key,
        # Generated once, so a retried insert recognizes the row it already committed.
        "creator_xid": new_id(),
        "attributes": attributes,
        "inputs": inputs,
        # Plain enqueues leave these as DBOS does; _schedules and _debounce set them.
        "schedule_name": None,
        "is_debounced": False,
        "debounce_deadline_epoch_ms": None,
    }
    return EnqueueRequest(
        row=row,
        inputs=inputs,
        delay_ms=int(delay * 1000) if delay else None,
        workflow_id=workflow_id,
        workflow_name=workflow_name,
        queue_name=queue_name,
        class_name=class_name,
        instance_name=instance_name,
        deduplication_id=dedup_id,
        reject_existing_id=reuse == "reject",
        return_existing_on_dedup=dup == "return-existing",
    )


# -- list_workflows filters ------------------------------------------------------------

_LIST_UNSUPPORTED = {"shard_key": UNSHARDED_FILTER, "parent_shard_key": UNSHARDED_FILTER}
#: Filters that take one value or a list of them, and the workflow_status column each matches.
LIST_COLUMNS = {
    "workflow_ids": "workflow_uuid",
    "status": "status",
    "name": "name",
    "app_version": "application_version",
    "forked_from": "forked_from",
    "parent_workflow_id": "parent_workflow_id",
    "user": "authenticated_user",
    "queue_name": "queue_name",
    "executor_id": "executor_id",
    "schedule_name": "schedule_name",
    "application_name": "application_name",
}
#: Time filters: (column, operator).
LIST_TIMES = {
    "start_time": ("created_at", ">="),
    "end_time": ("created_at", "<="),
    "completed_after": ("completed_at", ">="),
    "completed_before": ("completed_at", "<="),
    "dequeued_after": ("started_at_epoch_ms", ">="),
    "dequeued_before": ("started_at_epoch_ms", "<="),
}
VALID_STATUSES = ALL_STATUSES


@dataclass(frozen=True)
class ListFilters:
    """Validated list_workflows filters: lists of values, epoch-ms bounds, and flags."""

    values: Mapping[str, tuple[str, ...]]
    times: Mapping[str, int]
    prefixes: tuple[str, ...]
    flags: Mapping[str, bool]
    queues_only: bool
    limit: int | None
    offset: int | None
    sort_desc: bool
    load_input: bool
    load_output: bool
    #: Workflows whose attributes contain all these key-value pairs (Postgres jsonb ``@>``).
    attributes: Mapping[str, Any] | None = None


def _as_text_list(value: Any, what: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple, set, frozenset)) or not items:
        raise InvalidArgumentError(f"{what} must be a string or a non-empty list of strings")
    return tuple(require_text(v, what) for v in items)


def epoch_ms(value: Any, what: str) -> int:
    """An ISO 8601 string (as DBOS takes), a datetime, or epoch milliseconds."""
    from datetime import datetime, timezone

    if isinstance(value, bool):
        raise InvalidArgumentError(f"{what} must be an ISO 8601 time, a datetime or epoch milliseconds")
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidArgumentError(f"{what} must be an ISO 8601 time such as 2026-01-31T12:00:00Z, got {value!r}") from None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return int(value.timestamp() * 1000)
    raise InvalidArgumentError(f"{what} must be an ISO 8601 time, a datetime or epoch milliseconds")


def _count(value: Any, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidArgumentError(f"{what} must be a non-negative integer, got {value!r}")
    return value


_LIST_KEYS = frozenset(LIST_COLUMNS) | frozenset(LIST_TIMES) | frozenset(_LIST_UNSUPPORTED) | {
    "attributes", "limit", "offset", "sort_desc", "workflow_id_prefix", "load_input", "load_output", "queues_only",
    "was_forked_from", "is_fork", "has_parent",
}  # fmt: skip


def build_list_filters(filters: Mapping[str, Any], *, queues_only: bool = False) -> ListFilters:
    check_keys(filters, _LIST_KEYS, _LIST_UNSUPPORTED, "list_workflows filter")
    values = {k: _as_text_list(v, k) for k, v in filters.items() if k in LIST_COLUMNS and v is not None}
    if "workflow_ids" in filters and filters["workflow_ids"] is not None and not values.get("workflow_ids"):
        raise InvalidArgumentError("workflow_ids must list at least one id")
    bad = sorted(set(values.get("status", ())) - VALID_STATUSES)
    if bad:
        raise InvalidArgumentError(f"unknown workflow status(es) {bad}; use {sorted(VALID_STATUSES)}")
    times = {k: epoch_ms(v, k) for k, v in filters.items() if k in LIST_TIMES and v is not None}
    prefix = filters.get("workflow_id_prefix")
    flags = {k: bool(filters[k]) for k in ("was_forked_from", "is_fork", "has_parent") if filters.get(k) is not None}
    return ListFilters(
        values=values,
        times=times,
        prefixes=() if prefix is None else _as_text_list(prefix, "workflow_id_prefix"),
        flags=flags,
        queues_only=queues_only or bool(filters.get("queues_only")),
        limit=_count(filters.get("limit"), "limit"),
        offset=_count(filters.get("offset"), "offset"),
        sort_desc=bool(filters.get("sort_desc")),
        load_input=bool(filters.get("load_input", True)),
        load_output=bool(filters.get("load_output", True)),
        # As DBOS: an empty dict filters nothing.
        attributes=check_attributes(filters.get("attributes"), "attributes filter") or None,
    )


def check_id_list(workflow_ids: Any) -> list[str]:
    if isinstance(workflow_ids, str) or not isinstance(workflow_ids, (list, tuple)) or not workflow_ids:
        raise InvalidArgumentError("workflow_ids must be a non-empty list of workflow ids")
    return [require_text(w, "workflow id") for w in workflow_ids]


# -- attributes, reuse and duplication policies (DBOS's rules and messages) ----------------


def check_attributes(attributes: Any, what: str = "attributes") -> dict[str, Any] | None:
    """A JSON object (or None), as DBOS's ``validate_workflow_attributes``; returned as plain JSON
    values. NaN and infinities are refused: jsonb cannot hold them."""
    if attributes is None:
        return None
    if not isinstance(attributes, Mapping):
        raise InvalidArgumentError(f"Invalid workflow {what} {attributes!r}. Attributes must be a dict.")
    try:
        plain: dict[str, Any] = json.loads(json.dumps(dict(attributes), allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"Invalid workflow {what}. Attributes must be JSON-serializable: {exc}") from exc
    return plain


def check_reuse_policy(reuse: Any) -> str:
    """``workflow_id_reuse_policy``: None means DBOS's default, "return-existing"."""
    if reuse is None:
        return "return-existing"
    if reuse not in ("return-existing", "reject"):
        raise InvalidArgumentError(
            f"Invalid workflow_id_reuse_policy {reuse}. Must be either 'return-existing' or 'reject'."
        )
    return str(reuse)


def check_duplication_policy(dup: Any, deduplication_id: str | None) -> str:
    """``duplication_policy``: None means DBOS's default, "reject"; "return-existing" needs a deduplication_id."""
    if dup is None:
        return "reject"
    if dup not in ("return-existing", "reject"):
        raise InvalidArgumentError(f"Invalid duplication_policy {dup}. Must be either 'reject' or 'return-existing'.")
    if dup == "return-existing" and deduplication_id is None:
        raise InvalidArgumentError("duplication_policy 'return-existing' requires a deduplication_id.")
    return str(dup)

def check_keyword_args(reject: Any, kwargs: Mapping[str, Any], tag: str) -> None:
    """``reject_keyword_args``: refuse keyword arguments a non-Python runtime would drop.

    Portable JSON stores them as ``namedArgs``; the DBOS TypeScript runtime reads only
    ``positionalArgs`` and silently drops them. With ``reject_keyword_args=True`` an enqueue
    with keyword arguments fails before anything is written, whatever the format.
    """
    if reject is None or reject is False:
        return
    if reject is not True:
        raise InvalidArgumentError(f"reject_keyword_args must be True or False, got {reject!r}")
    if kwargs:
        names = ", ".join(sorted(map(repr, kwargs)))
        where = " (portable JSON writes them as namedArgs, which the DBOS TypeScript runtime ignores)" if tag == "portable_json" else ""
        raise InvalidArgumentError(
            f"reject_keyword_args is set, but keyword arguments {names} were given{where}; pass them positionally"
        )
