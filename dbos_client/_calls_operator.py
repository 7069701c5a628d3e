"""The operator's public calls, once for both shells: validate eagerly, return the op. No I/O.

Queues, ``fork_workflow``/``rewind_workflow``, application versions and
``rename_application``, with ``dbos.DBOSClient`` 3.4's arguments and checks (its
``ValueError``s and ``DBOSException``s are ``InvalidArgumentError`` here), raised before
anything is written. The logic is in ``_ops_operator``.
"""

from __future__ import annotations

import math
import re
import sys
import time
from collections.abc import Mapping
from typing import Any

from . import _ops_operator as ops
from ._calls import ClientCore, _with_queries
from ._ops import Op
from ._options import new_id, no_shard_key, optional_text, require_text
from .errors import InvalidArgumentError
from .models import ApplicationRowCounts, Queue, VersionInfo

#: DBOS's own queues are named under this prefix; users may not claim it.
RESERVED_QUEUE_PREFIX = "_dbos_"
DEFAULT_RENAME_BATCH_SIZE = 10_000
_APP_NAME = re.compile(r"^[a-z0-9\-_]{3,256}$")


def _int_or_none(value: Any, what: str, minimum: int | None = None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgumentError(f"{what} must be an integer or None, got {value!r}")
    if minimum is not None and value < minimum:
        raise InvalidArgumentError(f"{what} must be at least {minimum}")
    return value


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidArgumentError(f"{what} must be a finite number, got {value!r}")
    return float(value)


def _rate_limit(value: Any, what: str) -> tuple[int | None, float | None]:
    if value is None:
        return None, None
    if not isinstance(value, Mapping) or value.get("limit") is None or value.get("period") is None:
        raise InvalidArgumentError(f"{what} must specify both 'limit' and 'period'")
    limit = _int_or_none(value["limit"], f"{what}['limit']")
    return limit, _number(value["period"], f"{what}['period']")


def register_queue(
    core: ClientCore, name: Any, *, global_concurrency: Any, partition_concurrency: Any,
    partition_worker_concurrency: Any, partition_limiter: Any, limiter: Any, worker_concurrency: Any,
    polling_interval_sec: Any, on_conflict: Any, application_name: Any, concurrency: Any,
) -> Op[Queue]:  # fmt: skip
    """DBOS's ``Queue._validate_queue`` checks, then the upsert."""
    require_text(name, "name")
    optional_text(application_name, "application_name")
    if name.startswith(RESERVED_QUEUE_PREFIX):
        raise InvalidArgumentError(
            f"Queue name {name} is reserved: names starting with {RESERVED_QUEUE_PREFIX!r} belong to DBOS's internal queues."
        )
    concurrency = _int_or_none(concurrency, "concurrency")
    global_concurrency = _int_or_none(global_concurrency, "global_concurrency")
    worker_concurrency = _int_or_none(worker_concurrency, "worker_concurrency")
    partition_concurrency = _int_or_none(partition_concurrency, "partition_concurrency", 1)
    partition_worker_concurrency = _int_or_none(partition_worker_concurrency, "partition_worker_concurrency", 1)
    rate_max, rate_period = _rate_limit(limiter, "limiter")
    part_max, part_period = _rate_limit(partition_limiter, "partition_limiter")
    polling = _number(polling_interval_sec, "polling_interval_sec")
    if concurrency is not None and global_concurrency is not None:
        raise InvalidArgumentError("concurrency is deprecated in favor of global_concurrency; set only one of them")
    queue_concurrency = concurrency if global_concurrency is None else global_concurrency
    bounds = (
        (partition_worker_concurrency, partition_concurrency,
         "partition_concurrency must be greater than or equal to partition_worker_concurrency"),
        (partition_worker_concurrency, worker_concurrency,
         "worker_concurrency must be greater than or equal to partition_worker_concurrency"),
        (worker_concurrency, queue_concurrency, "concurrency must be greater than or equal to worker_concurrency"),
        (partition_concurrency, queue_concurrency,
         "global_concurrency must be greater than or equal to partition_concurrency"),
        (partition_worker_concurrency, queue_concurrency,
         "concurrency must be greater than or equal to partition_worker_concurrency"),
    )  # fmt: skip
    for lower, upper, message in bounds:
        if lower is not None and upper is not None and lower > upper:
            raise InvalidArgumentError(message)
    if polling <= 0.0:
        raise InvalidArgumentError("polling_interval_sec must be positive")
    if on_conflict not in ("always_update", "never_update"):
        if on_conflict == "update_if_latest_version":
            raise InvalidArgumentError(
                "register_queue does not support on_conflict='update_if_latest_version' because clients are "
                "not associated with an application version. Use 'always_update' or 'never_update'."
            )
        raise InvalidArgumentError(f"on_conflict must be 'always_update' or 'never_update', got {on_conflict!r}")
    partitioned = partition_concurrency is not None or partition_worker_concurrency is not None or part_max is not None
    values: dict[str, Any] = {
        "concurrency": queue_concurrency,
        "worker_concurrency": worker_concurrency,
        "rate_limit_max": rate_max,
        "rate_limit_period_sec": rate_period,
        # Legacy columns other SDKs still read: every queue is a priority queue, and any
        # per-partition limit makes it partitioned.
        "priority_enabled": True,
        "partition_queue": partitioned,
        "partition_concurrency": partition_concurrency,
        "partition_worker_concurrency": partition_worker_concurrency,
        "partition_rate_limit_max": part_max,
        "partition_rate_limit_period_sec": part_period,
        "polling_interval_sec": polling,
        "updated_at": int(time.time() * 1000),
    }
    owner = application_name if application_name is not None else core.application_name
    settings = ops.QueueSettings(name, values, on_conflict == "always_update", owner)
    return _with_queries(None, lambda q: ops.register_queue(q, settings))


def retrieve_queue(core: ClientCore, name: Any) -> Op[Queue | None]:
    require_text(name, "name")
    return _with_queries(None, lambda q: ops.retrieve_queue(q, name))


def set_queue(core: ClientCore, name: str, attr: str, value: Any) -> Op[Queue]:
    """A ``Queue`` setter: DBOS's checks of the value alone, eagerly; those against the row's
    other limits run in the op, on the row as stored."""
    if attr in ("limiter", "partition_limiter"):
        _rate_limit(value, attr)
        if value is not None:
            value = {"limit": value["limit"], "period": _number(value["period"], f"{attr}['period']")}
    elif attr == "polling_interval_sec":
        value = _number(value, attr)
        if value <= 0.0:
            raise InvalidArgumentError("polling_interval_sec must be positive")
    elif attr in ("partition_concurrency", "partition_worker_concurrency"):
        value = _int_or_none(value, attr, 1)
    elif attr in ("concurrency", "worker_concurrency"):
        value = _int_or_none(value, attr)
    else:  # pragma: no cover - the Queue's methods name only the fields above
        raise InvalidArgumentError(f"Queue has no setting {attr!r}")
    return _with_queries(None, lambda q: ops.set_queue(q, name, attr, value))


def delete_queue(core: ClientCore, name: Any) -> Op[None]:
    require_text(name, "name")
    return _with_queries(None, lambda q: ops.delete_queue(q, name))


def list_queues(core: ClientCore, application_name: Any) -> Op[list[Queue]]:
    """Unset: the client's application (all queues for a nameless client), else these applications'."""
    if application_name is None:
        names = [core.application_name] if core.application_name else None
    elif isinstance(application_name, str):
        names = [application_name] if application_name else None
    elif isinstance(application_name, (list, tuple)) and all(isinstance(n, str) for n in application_name):
        names = list(application_name) or None
    else:
        raise InvalidArgumentError(f"application_name must be a string or a list of strings, got {application_name!r}")
    return _with_queries(None, lambda q: ops.list_queues(q, names))


def assigned_workflow_id() -> str | None:
    """The id of an enclosing ``dbos.SetWorkflowID`` block, for a caller who already uses
    DBOS in this process (never imports dbos; consumes the id, as DBOS's client does)."""
    context = sys.modules.get("dbos._context")
    take = getattr(context, "take_assigned_workflow_id", None)
    if take is None:
        return None
    assigned = take()
    workflow_id = getattr(assigned, "workflow_id", None)
    return workflow_id if isinstance(workflow_id, str) and workflow_id else None


def fork(
    core: ClientCore, workflow_id: Any, start_step: Any, *, application_version: Any, queue_name: Any,
    queue_partition_key: Any, replacement_children: Any, timeout_seconds: Any, shard_key: Any,
    forked_workflow_id: Any,
) -> Op[str]:  # fmt: skip
    require_text(workflow_id, "workflow_id")
    if isinstance(start_step, bool) or not isinstance(start_step, int):
        raise InvalidArgumentError(f"start_step must be an integer, got {start_step!r}")
    optional_text(application_version, "application_version")
    optional_text(queue_name, "queue_name")
    optional_text(queue_partition_key, "queue_partition_key")
    optional_text(forked_workflow_id, "forked_workflow_id")
    no_shard_key(shard_key)
    children: dict[str, str] = {}
    if replacement_children is not None:
        if not isinstance(replacement_children, Mapping):
            raise InvalidArgumentError("replacement_children must be a dict of child workflow ids")
        for old, new in replacement_children.items():
            children[require_text(old, "replacement_children key")] = require_text(new, "replacement_children value")
    timeout_ms = None
    if timeout_seconds is not None:
        if _number(timeout_seconds, "timeout_seconds") <= 0:
            raise InvalidArgumentError(f"Invalid workflow timeout {timeout_seconds}. Timeouts must be positive.")
        timeout_ms = int(timeout_seconds * 1000)
    fork_id = forked_workflow_id or assigned_workflow_id() or new_id()
    request = ops.ForkRequest(
        workflow_id, fork_id, start_step, application_version, queue_name, queue_partition_key, children,
        timeout_ms, core.application_name,
    )  # fmt: skip
    return _with_queries(None, lambda q: ops.fork(q, request))


def rewind(
    core: ClientCore, workflow_id: Any, *, start_step: Any, application_version: Any, queue_name: Any,
    queue_partition_key: Any, shard_key: Any,
) -> Op[None]:  # fmt: skip
    require_text(workflow_id, "workflow_id")
    step = 1 if start_step is None else start_step
    if isinstance(step, bool) or not isinstance(step, int):
        raise InvalidArgumentError(f"start_step must be an integer, got {start_step!r}")
    if step < 1:
        raise InvalidArgumentError(f"start_step must be >= 1, got {step}")
    optional_text(application_version, "application_version")
    optional_text(queue_name, "queue_name")
    optional_text(queue_partition_key, "queue_partition_key")
    no_shard_key(shard_key)
    request = ops.RewindRequest(workflow_id, step, application_version, queue_name, queue_partition_key)
    return _with_queries(None, lambda q: ops.rewind(q, request))


def list_versions(core: ClientCore) -> Op[list[VersionInfo]]:
    return _with_queries(None, lambda q: ops.list_versions(q, core.application_name))


def latest_version(core: ClientCore) -> Op[VersionInfo]:
    return _with_queries(None, lambda q: ops.latest_version(q, core.application_name))


def set_latest_version(core: ClientCore, version_name: Any, application_name: Any) -> Op[None]:
    require_text(version_name, "version_name")
    optional_text(application_name, "application_name")
    owner = application_name if application_name is not None else core.application_name
    # DBOS stamps the promotion with the caller's clock, not the database's.
    timestamp_ms = int(time.time() * 1000)
    return _with_queries(None, lambda q: ops.set_latest_version(q, version_name, timestamp_ms, owner))


def rename(core: ClientCore, old_name: Any, new_name: Any, batch_size: Any, adopt_unclaimed_rows: Any) -> Op[ApplicationRowCounts]:
    """DBOS's checks: something to move, a valid new name, a positive batch."""
    if old_name is not None and not isinstance(old_name, str):
        raise InvalidArgumentError(f"old_name must be a string or None, got {old_name!r}")
    if old_name is not None and not old_name:
        raise InvalidArgumentError("The application's previous name cannot be empty.")
    adopt = bool(adopt_unclaimed_rows)
    if old_name is None and not adopt:
        raise InvalidArgumentError("Nothing to re-own: name the application to rename, adopt unclaimed rows, or both.")
    if not isinstance(new_name, str) or not _APP_NAME.match(new_name):
        raise InvalidArgumentError(
            f"Invalid application name {new_name!r}. Application names must be between 3 and 256 characters "
            "long and contain only lowercase letters, numbers, dashes, and underscores."
        )
    if old_name == new_name:
        raise InvalidArgumentError(f"Application {new_name!r} already holds that name; nothing to rename.")
    batch = _int_or_none(batch_size, "batch_size", 1)
    return _with_queries(None, lambda q: ops.rename(q, old_name, new_name, batch, adopt))
