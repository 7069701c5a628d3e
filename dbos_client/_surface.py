"""The public calls both clients share, each written once: signature, documentation, op.

A call here is a function ``(client, ...) -> Op``: it checks its arguments and builds the
operation (``_calls``, ``_ops``) that does the work. It does no I/O. Each shell turns it
into a method with ``blocking`` (``DBOSClient``: the op runs on the calling thread) or
``awaiting`` (``AsyncDBOSClient``: a coroutine on the client's loop), which keep the
signature, the documentation and the types. So a call exists in one place, and the two
clients cannot drift apart in what they accept, document or return. (psycopg generates
its sync classes from the async ones; here the shells differ only in how an op is driven,
which is one function each, so nothing needs generating.)

"Blocks" below means: in ``DBOSClient`` the calling thread waits; in ``AsyncDBOSClient``
only the awaiting task does, and cancelling it ends the wait at once, leaving nothing
behind. A waiting call holds no connection.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import TYPE_CHECKING, Any, Concatenate, Literal, TypeVar, overload

from typing_extensions import ParamSpec, Unpack

from . import _calls
from ._lazy import calls_operator as _calls_operator  # loaded on first use
from ._lazy import schedules as _schedules
from ._ops import Op
from ._options import no_shard_key
from ._serialization import FormatChoice
from .models import Queue, SendMessage, bind_queue

if TYPE_CHECKING:
    from ._base import ClientBase
    from .models import (
        ApplicationRowCounts,
        ClientScheduleInput,
        EnqueueItem,
        EnqueueOptions,
        ListWorkflowsFilters,
        QueueRateLimit,
        VersionInfo,
        WorkflowSchedule,
        WorkflowStatus,
    )

P = ParamSpec("P")
T = TypeVar("T")
R = TypeVar("R")


# -- turning a call into each shell's method -----------------------------------------------


@functools.cache
def _method_signature(make: Callable[..., Any], returns: Any) -> inspect.Signature:
    """The call's signature as the method shows it: ``client`` is ``self``, and it returns
    what the op returns (or what the shell makes of it), not the op. Cached: both shells
    ask, and ``inspect.signature`` is the costly part of importing the clients."""
    sig = inspect.signature(make)
    params = list(sig.parameters.values())
    self_param = params[0].replace(name="self", annotation=inspect.Parameter.empty)
    return sig.replace(parameters=[self_param, *params[1:]], return_annotation=returns)


def _returns(fn: Callable[..., Any]) -> Any:
    """A function's return annotation (a string: every module here defers annotations)."""
    return fn.__annotations__.get("return", inspect.Signature.empty)


def _as_method(make: Callable[..., Any], method: Callable[..., Any], wrap: Callable[..., Any] | None) -> Any:
    functools.update_wrapper(method, make)
    del method.__wrapped__  # type: ignore[attr-defined]  # help() shows __signature__, not the op's
    if wrap is not None:
        returns = _returns(wrap)
    else:  # Op[X] -> X
        returns = _returns(make)
        if isinstance(returns, str) and returns.startswith("Op[") and returns.endswith("]"):
            returns = returns[3:-1]
    method.__signature__ = _method_signature(make, returns)  # type: ignore[attr-defined]
    return method


@overload
def blocking(make: Callable[Concatenate[Any, P], Op[T]]) -> Callable[Concatenate[Any, P], T]: ...
@overload
def blocking(
    make: Callable[Concatenate[Any, P], Op[T]], wrap: Callable[[Any, T], R]
) -> Callable[Concatenate[Any, P], R]: ...
def blocking(make: Callable[..., Op[Any]], wrap: Callable[[Any, Any], Any] | None = None) -> Any:
    """``DBOSClient``'s method for a call: drive its op on the calling thread; ``wrap(client,
    result)`` makes handles of workflow ids."""
    name = make.__name__

    def method(self: Any, /, *args: Any, **kwargs: Any) -> Any:
        self._warn_in_event_loop(name)
        result = self._run(make(self, *args, **kwargs))
        return result if wrap is None else wrap(self, result)

    return _as_method(make, method, wrap)


@overload
def awaiting(make: Callable[Concatenate[Any, P], Op[T]]) -> Callable[Concatenate[Any, P], Coroutine[Any, Any, T]]: ...
@overload
def awaiting(
    make: Callable[Concatenate[Any, P], Op[T]], wrap: Callable[[Any, T], R]
) -> Callable[Concatenate[Any, P], Coroutine[Any, Any, R]]: ...
def awaiting(make: Callable[..., Op[Any]], wrap: Callable[[Any, Any], Any] | None = None) -> Any:
    """``AsyncDBOSClient``'s method for a call: a coroutine that drives its op on the loop."""

    async def method(self: Any, /, *args: Any, **kwargs: Any) -> Any:
        result = await self._run(make(self, *args, **kwargs))
        return result if wrap is None else wrap(self, result)

    return _as_method(make, method, wrap)


def adopt(shell: type) -> None:
    """Name the shell's methods made here as its own (``DBOSClient.send``), for reprs and docs."""
    for name, member in vars(shell).items():
        if getattr(member, "__module__", None) == __name__ and callable(member):
            member.__qualname__ = f"{shell.__qualname__}.{name}"
            member.__module__ = shell.__module__


def _bound_queue(client: Any, queue: Queue) -> Queue:
    """The queue, bound to the client that read it, for DBOS's setters on it."""
    return bind_queue(queue, client)


def _bound_optional_queue(client: Any, queue: Queue | None) -> Queue | None:
    return None if queue is None else bind_queue(queue, client)


def _bound_queues(client: Any, queues: list[Queue]) -> list[Queue]:
    return [bind_queue(queue, client) for queue in queues]


def _then(op: Op[Any], value: T) -> Op[T]:
    """Run ``op`` for its effect, then return ``value`` (the id a handle is made from)."""
    yield from op
    return value


# -- the calls ---------------------------------------------------------------------------------


def enqueue(client: ClientBase, options: EnqueueOptions, *args: Any, **kwargs: Any) -> Op[str]:
    """Start a workflow by name on a queue; returns at once with its handle.

    One statement (the status row and its inputs together). Everything is validated
    and serialized first, so bad input writes nothing. An existing workflow id with
    the same function is attached to, not re-run (DBOS's 'return-existing');
    ``workflow_id_reuse_policy='reject'`` refuses it instead.

    Args:
        options: DBOS's ``EnqueueOptions`` keys; ``workflow_name`` and ``queue_name``
            are required. ``serialization_type='portable'`` writes portable JSON, which
            every DBOS runtime reads (a TypeScript app's included); NaN and Infinity,
            which JSON cannot express, are refused. ``reject_keyword_args=True`` (this
            client's own key) refuses keyword arguments.
        *args, **kwargs: the workflow's arguments. In portable JSON keyword arguments
            are written as ``namedArgs``: a Python runtime passes them, but the DBOS
            TypeScript runtime reads only ``positionalArgs`` and silently drops them.
            Pass a TypeScript workflow's arguments positionally (or set
            ``reject_keyword_args``).

    Raises:
        InvalidArgumentError: a bad option; keyword arguments with ``reject_keyword_args``.
        SerializationError: an argument the chosen format cannot serialize (NaN or
            Infinity in portable JSON, named by its place: ``args[0]['x']``).
        WorkflowIdConflictError: the id belongs to a different workflow.
        DeduplicatedError: the queue already has this deduplication id.
    """
    return _calls.enqueue(client._core, options, args, kwargs)


def send(
    client: ClientBase,
    destination_id: str,
    message: Any,
    topic: str | None = None,
    idempotency_key: str | None = None,
    *,
    serialization_type: FormatChoice = None,
    send_to_forks: bool = False,
    shard_key: str | None = None,
) -> Op[None]:
    """Send a message to a workflow, which receives it with ``DBOS.recv(topic)``. Never blocks.

    One INSERT. Messages queue per topic on the receiver, in send order. With an
    ``idempotency_key`` the message is delivered exactly once however often it is
    sent (the key is scoped to the destination). With ``send_to_forks``, each workflow
    recursively forked from the destination gets it too, in the same transaction (as
    ``send_bulk``). ``shard_key`` must be None: sharded system databases are not supported.

    Raises:
        WorkflowNotFoundError: no workflow has ``destination_id``.
        InvalidArgumentError: a bad id, topic or key.
        SerializationError: a message the chosen format cannot serialize (in portable
            JSON: NaN or Infinity anywhere in it), before anything is written.
    """
    no_shard_key(shard_key)
    if send_to_forks:
        one = SendMessage(destination_id, message, topic, idempotency_key)
        return _calls.send_bulk(client._core, [one], serialization_type, send_to_forks)
    return _calls.send(client._core, destination_id, message, topic, idempotency_key, serialization_type)


def get_event(
    client: ClientBase, workflow_id: str, key: str, timeout_seconds: float = 60, *, shard_key: str | None = None
) -> Op[Any]:
    """Wait for the workflow to publish ``key`` and return its latest value.

    Blocks until the key has a value, or ``timeout_seconds`` pass (then returns None,
    as DBOS does). Returns None at once if the workflow has already finished (SUCCESS
    or ERROR) without publishing the key, since it never can. A value that exists
    costs one query; a wait is woken by the hub in milliseconds and holds no connection.
    ``DBOSClient`` blocks the calling thread; ``AsyncDBOSClient`` suspends only the task,
    and cancelling it ends the wait at once.

    Raises:
        InvalidArgumentError: a bad id or key, or a negative timeout.
    """
    no_shard_key(shard_key)
    return _calls.get_event(client._core, workflow_id, key, timeout_seconds)


def get_all_events(client: ClientBase, workflow_id: str) -> Op[dict[str, Any]]:
    """Every event key of the workflow with its latest value. One query; never blocks.

    Raises:
        WorkflowNotFoundError: no such workflow.
    """
    return _calls.get_all_events(client._core, workflow_id)


def retrieve_workflow(client: ClientBase, workflow_id: str, *, shard_key: str | None = None) -> Op[str]:
    """A handle to an existing workflow. One query, to check that it exists.

    Raises:
        WorkflowNotFoundError: no such workflow.
    """
    no_shard_key(shard_key)
    return _then(_calls.ensure_exists(client._core, workflow_id), workflow_id)


def cancel_workflow(
    client: ClientBase, workflow_id: str, *, cancel_children: bool = False, shard_key: str | None = None
) -> Op[None]:
    """Cancel a workflow (and, with ``cancel_children``, its descendants). One statement.

    A queued workflow leaves its queue; a running one stops at its next step. A
    workflow that already finished (SUCCESS or ERROR) is left as it is.

    Raises:
        WorkflowNotFoundError: no such workflow (DBOS silently ignores this).
    """
    no_shard_key(shard_key)
    return _calls.cancel(client._core, [workflow_id], cancel_children)


def cancel_workflows(
    client: ClientBase, workflow_ids: list[str], *, cancel_children: bool = False, shard_key: str | None = None
) -> Op[None]:
    """Cancel several workflows in one statement; see ``cancel_workflow``.

    Raises:
        WorkflowNotFoundError: an id is unknown; then none is cancelled.
    """
    no_shard_key(shard_key)
    return _calls.cancel(client._core, workflow_ids, cancel_children)


def delete_workflow(
    client: ClientBase, workflow_id: str, *, delete_children: bool = False, shard_key: str | None = None
) -> Op[None]:
    """Delete a workflow and everything it stored (inputs, outputs, steps, events,
    messages, streams); with ``delete_children``, its descendants too. One statement.

    Raises:
        WorkflowNotFoundError: no such workflow.
    """
    no_shard_key(shard_key)
    return _calls.delete(client._core, [workflow_id], delete_children)


def delete_workflows(
    client: ClientBase, workflow_ids: list[str], *, delete_children: bool = False, shard_key: str | None = None
) -> Op[None]:
    """Delete several workflows in one statement; see ``delete_workflow``.

    Raises:
        WorkflowNotFoundError: an id is unknown; then none is deleted.
    """
    no_shard_key(shard_key)
    return _calls.delete(client._core, workflow_ids, delete_children)


def list_workflows(client: ClientBase, **filters: Unpack[ListWorkflowsFilters]) -> Op[list[WorkflowStatus]]:
    """Workflows matching the filters, oldest first (``sort_desc=True``: newest). One query.

    The filters are ``dbos.DBOSClient.list_workflows``'s (see ``ListWorkflowsFilters``);
    ``load_input`` and ``load_output`` (default True) fetch and decode the payloads.

    Raises:
        InvalidArgumentError: an unknown or unsupported filter, or a bad value.
    """
    return _calls.list_workflows(client._core, filters)


def list_queued_workflows(client: ClientBase, **filters: Unpack[ListWorkflowsFilters]) -> Op[list[WorkflowStatus]]:
    """Workflows on a queue that have not finished (ENQUEUED, PENDING or DELAYED, unless
    ``status`` says otherwise). Same filters as ``list_workflows``. One query."""
    return _calls.list_workflows(client._core, filters, queues_only=True)


def list_workflow_steps(
    client: ClientBase,
    workflow_id: str,
    *,
    load_output: bool = True,
    limit: int | None = None,
    offset: int | None = None,
    shard_key: str | None = None,
) -> Op[list[dict[str, Any]]]:
    """The workflow's recorded steps in order: dicts with ``function_id``, ``function_name``,
    ``output``, ``error``, ``child_workflow_id``, ``started_at_epoch_ms`` and
    ``completed_at_epoch_ms``, as DBOS's ``StepInfo``. One query.

    Raises:
        WorkflowNotFoundError: no such workflow.
    """
    no_shard_key(shard_key)
    return _calls.list_steps(client._core, workflow_id, load_output, limit, offset)


def resume_workflow(
    client: ClientBase, workflow_id: str, *, queue_name: str | None = None, shard_key: str | None = None
) -> Op[str]:
    """Re-enqueue a cancelled or failed-over workflow so it runs again from its last step.

    One statement. It goes on ``queue_name``, or DBOS's internal queue, which every
    application polls. A finished workflow (SUCCESS or ERROR) is left as it is.

    Raises:
        WorkflowNotFoundError: no such workflow.
    """
    no_shard_key(shard_key)
    return _then(_calls.resume(client._core, workflow_id, queue_name), workflow_id)


def register_queue(
    client: ClientBase,
    name: str,
    *,
    global_concurrency: int | None = None,
    partition_concurrency: int | None = None,
    partition_worker_concurrency: int | None = None,
    partition_limiter: QueueRateLimit | None = None,
    limiter: QueueRateLimit | None = None,
    worker_concurrency: int | None = None,
    polling_interval_sec: float = 1.0,
    on_conflict: Literal["always_update", "never_update", "update_if_latest_version"] = "always_update",
    application_name: str | None = None,
    concurrency: int | None = None,
) -> Op[Queue]:
    """Create or update a queue's row, so the owning application polls it. One transaction.

    The application notices a new queue within about a second and then polls it every
    ``polling_interval_sec``. ``on_conflict``: ``"always_update"`` (default) overwrites an
    existing queue's limits, ``"never_update"`` leaves them. ``application_name`` (default:
    the client's) owns the queue; None registers it unclaimed, polled by every application.
    ``concurrency`` is DBOS's deprecated name for ``global_concurrency``. Returns the row as
    stored: a snapshot bound to this client, whose DBOS setters (``set_global_concurrency``...)
    write through (see ``Queue``).

    Raises:
        InvalidArgumentError: inconsistent limits, a reserved name, or
            ``on_conflict='update_if_latest_version'`` (clients have no version).
        NameConflictError: another application owns a queue of that name.
        SchemaError: the database has no queues table (DBOS before 2.20).
    """
    op = _calls_operator.register_queue(
        client._core, name, global_concurrency=global_concurrency, partition_concurrency=partition_concurrency,
        partition_worker_concurrency=partition_worker_concurrency, partition_limiter=partition_limiter,
        limiter=limiter, worker_concurrency=worker_concurrency, polling_interval_sec=polling_interval_sec,
        on_conflict=on_conflict, application_name=application_name, concurrency=concurrency,
    )  # fmt: skip
    return op


def retrieve_queue(client: ClientBase, name: str) -> Op[Queue | None]:
    """The queue's current settings (bound to this client, for its setters), or None if no such
    queue. One query; never blocks."""
    return _calls_operator.retrieve_queue(client._core, name)


def delete_queue(client: ClientBase, name: str) -> Op[None]:
    """Delete the queue's row (no-op if absent). One statement.

    Its pending workflows stay ENQUEUED, and run only if the queue is registered again.
    """
    return _calls_operator.delete_queue(client._core, name)


def list_queues(client: ClientBase, *, application_name: str | list[str] | None = None) -> Op[list[Queue]]:
    """Registered queues: those of ``application_name`` (default: the client's; every queue for a
    client without one) plus the unclaimed ones, which every application polls. One query."""
    return _calls_operator.list_queues(client._core, application_name)


def fork_workflow(
    client: ClientBase,
    workflow_id: str,
    start_step: int,
    *,
    application_version: str | None = None,
    queue_name: str | None = None,
    queue_partition_key: str | None = None,
    replacement_children: dict[str, str] | None = None,
    timeout_seconds: float | None = None,
    shard_key: str | None = None,
    forked_workflow_id: str | None = None,
) -> Op[str]:
    """Start a copy of a workflow that replays the original's steps before ``start_step``
    (their recorded outputs, events and stream values are copied) and runs the rest.

    One transaction; returns at once with the fork's handle. The fork is ENQUEUED on
    ``queue_name`` (default: DBOS's internal queue, which every application polls), with
    the original's inputs and owner; ``application_version`` pins the version that may run
    it (default: the latest). ``replacement_children`` maps a child workflow id recorded
    by a copied step to another id. The fork's id is ``forked_workflow_id`` (this client's
    addition), else that of an enclosing ``dbos.SetWorkflowID`` block if the process uses
    DBOS, else a new UUID.

    Raises:
        WorkflowNotFoundError: no such workflow (nothing is written).
        WorkflowIdConflictError: ``forked_workflow_id`` is already used.
        InvalidArgumentError: a bad argument; ``shard_key`` is not supported.
    """
    op = _calls_operator.fork(
        client._core, workflow_id, start_step, application_version=application_version, queue_name=queue_name,
        queue_partition_key=queue_partition_key, replacement_children=replacement_children,
        timeout_seconds=timeout_seconds, shard_key=shard_key, forked_workflow_id=forked_workflow_id,
    )  # fmt: skip
    return op


def rewind_workflow(
    client: ClientBase,
    workflow_id: str,
    *,
    start_step: int | None = None,
    application_version: str | None = None,
    queue_name: str | None = None,
    queue_partition_key: str | None = None,
    shard_key: str | None = None,
) -> Op[str]:
    """Re-run a finished workflow from ``start_step`` (default 1), under its own id.

    One transaction, as DBOS: the steps from ``start_step`` on and their event history are
    dropped, events they published revert to the last earlier value, messages they
    consumed (and unconsumed ones) are deleted, a close sentinel they wrote is removed, and
    the workflow is ENQUEUED again on ``queue_name`` (default: DBOS's internal queue).
    Returns at once. Needs a DBOS 3.x system database.

    Raises:
        WorkflowNotFoundError: no such workflow.
        WorkflowStateError: the workflow is still ENQUEUED, PENDING or DELAYED.
        SchemaError: a 2.x system database.
    """
    op = _calls_operator.rewind(
        client._core, workflow_id, start_step=start_step, application_version=application_version,
        queue_name=queue_name, queue_partition_key=queue_partition_key, shard_key=shard_key,
    )  # fmt: skip
    return _then(op, workflow_id)


def list_application_versions(client: ClientBase) -> Op[list[VersionInfo]]:
    """Registered application versions, newest first: the client's application's and the
    unclaimed ones (all of them for a client without an application name). One query."""
    return _calls_operator.list_versions(client._core)


def get_latest_application_version(client: ClientBase) -> Op[VersionInfo]:
    """The newest application version the client's application sees: the one whose
    workflows without a version its queues run. One query.

    Raises:
        ApplicationVersionNotFoundError: no version is registered.
    """
    return _calls_operator.latest_version(client._core)


def set_latest_application_version(
    client: ClientBase, version_name: str, *, application_name: str | None = None
) -> Op[None]:
    """Make a version the latest, by stamping it with this machine's current time. One transaction.

    ``application_name`` (default: the client's) acts as that application: promoting a
    version another application registered raises; an unclaimed one is claimed.

    Raises:
        ApplicationVersionNotFoundError: no version has this name (DBOS ignores this).
        NameConflictError: the version belongs to another application.
    """
    return _calls_operator.set_latest_version(client._core, version_name, application_name)


def rename_application(
    client: ClientBase,
    old_name: str | None,
    new_name: str,
    *,
    batch_size: int | None = 10_000,
    adopt_unclaimed_rows: bool = False,
) -> Op[ApplicationRowCounts]:
    """Give ``new_name`` the rows ``old_name`` owns, the unclaimed rows (``adopt_unclaimed_rows``), or both.

    Do not run it while the application runs. Queues, schedules, versions and unfinished
    workflows move in one transaction; finished workflows and steps then move
    ``batch_size`` workflows per transaction (None: all at once). A re-run resumes.

    Returns:
        The number of rows moved, by table.

    Raises:
        InvalidArgumentError: nothing to move, an invalid new name, or a bad batch size.
    """
    return _calls_operator.rename(client._core, old_name, new_name, batch_size, adopt_unclaimed_rows)


def send_bulk(
    client: ClientBase,
    messages: list[SendMessage],
    *,
    serialization_type: FormatChoice = None,
    send_to_forks: bool = False,
) -> Op[None]:
    """Send many messages in one transaction: all of them are delivered, or none.

    ``dbos.DBOSClient.send_bulk``: each message is a ``SendMessage`` (ours or DBOS's:
    ``destination_id``, ``message``, ``topic``, ``idempotency_key``). An idempotency key is
    scoped to its destination, as in ``send``. With ``send_to_forks``, every message also
    goes to each workflow recursively forked from its destination (found in the same
    transaction). Never waits. Every message is checked and serialized first; then
    Postgres takes them all in one INSERT (one round trip for any count), SQLite in one
    ``BEGIN IMMEDIATE`` transaction. An empty list does nothing.

    Raises:
        WorkflowNotFoundError: a destination does not exist (named); nothing was sent.
        InvalidArgumentError: a bad message, an idempotency key given twice, a shard key.
        SerializationError: a message the chosen format cannot serialize.
    """
    return _calls.send_bulk(client._core, messages, serialization_type, send_to_forks)


def enqueue_bulk(client: ClientBase, items: list[EnqueueItem]) -> Op[list[str]]:
    """Enqueue many workflows in one transaction (this client's extension); their handles, in order.

    Each item is ``EnqueueItem(options, args, kwargs)`` (or that tuple): what ``enqueue``
    takes. All are checked and serialized before anything is written; then the inserts
    run pipelined in one transaction (Postgres: one round trip per batch, not per
    workflow; SQLite: one ``BEGIN IMMEDIATE``). Either every workflow is enqueued, or
    none. An id that exists with the same function is attached to, as in ``enqueue``.

    Raises:
        InvalidArgumentError: a bad item or option, the same workflow id twice, or
            ``duplication_policy='return-existing'`` (not supported in a batch).
        WorkflowIdConflictError: an id belongs to a different workflow; nothing enqueued.
        DeduplicatedError: a deduplication id is taken on its queue; nothing enqueued.
        SerializationError: an argument the chosen format cannot serialize.
    """
    return _calls.enqueue_bulk(client._core, items)


def create_schedule(
    client: ClientBase,
    *,
    schedule_name: str,
    workflow_name: str,
    schedule: str,
    context: Any = None,
    workflow_class_name: str | None = None,
    automatic_backfill: bool = False,
    cron_timezone: str | None = None,
    queue_name: str | None = None,
    application_name: str | None = None,
    shard_key: str | None = None,
) -> Op[None]:
    """Create a cron schedule that the application fires: it enqueues ``workflow_name``
    with ``(scheduled_at, context)`` at each time ``schedule`` names.

    ``schedule`` has 5 fields, or 6 with seconds first (checked as croniter does, in
    ``_cron``), evaluated in ``cron_timezone`` (IANA name; UTC by default). The row is
    DBOS's own: a running application picks it up within its schedule polling
    interval. ``queue_name`` None runs it on DBOS's internal queue;
    ``automatic_backfill`` makes the application enqueue the runs it missed while down.
    ``application_name`` (default: the client's) owns it; left unset on a nameless
    client, every application sharing the database runs it. One transaction.

    Raises:
        InvalidArgumentError: "Invalid cron schedule" / "Invalid timezone", before any write.
        ScheduleConflictError: the name is taken, or belongs to another application.
        SchemaError: the database has no schedules table (or no column for a setting).
    """
    entry = {
        "schedule_name": schedule_name, "workflow_name": workflow_name, "schedule": schedule, "context": context,
        "workflow_class_name": workflow_class_name, "automatic_backfill": automatic_backfill,
        "cron_timezone": cron_timezone, "queue_name": queue_name, "application_name": application_name,
        "shard_key": shard_key,
    }  # fmt: skip
    return _schedules.create_schedule(client._core, entry)


def list_schedules(
    client: ClientBase,
    *,
    status: str | list[str] | None = None,
    workflow_name: str | list[str] | None = None,
    schedule_name_prefix: str | list[str] | None = None,
    application_name: str | list[str] | None = None,
) -> Op[list[WorkflowSchedule]]:
    """Schedules matching every filter given (each a value or a list of values). One query.

    ``application_name`` defaults, as in DBOS, to the client's application (plus
    unclaimed schedules); a client without one lists every application's.
    """
    return _schedules.list_schedules(client._core, status, workflow_name, schedule_name_prefix, application_name)


def get_schedule(client: ClientBase, name: str) -> Op[WorkflowSchedule | None]:
    """The schedule of that name, or None. One query."""
    return _schedules.get_schedule(client._core, name)


def delete_schedule(client: ClientBase, name: str) -> Op[None]:
    """Delete the schedule of that name; an unknown name is a no-op. One statement.

    Runs already enqueued are not touched; the application stops firing it within its
    schedule polling interval.
    """
    return _schedules.delete_schedule(client._core, name)


def pause_schedule(client: ClientBase, name: str) -> Op[None]:
    """Pause a schedule: the application stops firing it (within its polling interval). One statement."""
    return _schedules.set_schedule_status(client._core, name, "PAUSED")


def resume_schedule(client: ClientBase, name: str) -> Op[None]:
    """Resume a paused schedule. One statement."""
    return _schedules.set_schedule_status(client._core, name, "ACTIVE")


def apply_schedules(client: ClientBase, schedules: list[ClientScheduleInput]) -> Op[None]:
    """Create or replace several schedules atomically (one transaction).

    Each entry needs ``schedule_name``, ``workflow_name`` and ``schedule``; the rest are
    ``create_schedule``'s options. A replaced schedule keeps its id, status and last
    firing time, as in DBOS.

    Raises:
        InvalidArgumentError: a missing field, bad cron or time zone; nothing is written.
        ScheduleConflictError: a name belongs to another application; nothing is written.
    """
    return _schedules.apply_schedules(client._core, schedules)


def backfill_schedule(client: ClientBase, schedule_name: str, start: datetime, end: datetime) -> Op[list[str]]:
    """Enqueue every run the schedule would have made after ``start`` and before ``end``.

    Each run has the workflow id the application's scheduler gives it, so a time that
    already ran (or was backfilled) is not enqueued twice; its handle is returned all
    the same. A naive datetime is UTC. A few statements per run.

    Raises:
        ScheduleNotFoundError: no such schedule.
    """
    return _schedules.backfill_schedule(client._core, schedule_name, start, end)


def trigger_schedule(client: ClientBase, schedule_name: str) -> Op[str]:
    """Enqueue one run of the schedule now (id ``sched-<name>-trigger-<time>``).

    Raises:
        ScheduleNotFoundError: no such schedule.
    """
    return _schedules.trigger_schedule(client._core, schedule_name)


def read_stream_offset(
    client: ClientBase,
    workflow_id: str,
    key: str,
    offset: int,
    *,
    polling_interval_sec: float | None = None,
    timeout_seconds: float | None = None,
    shard_key: str | None = None,
) -> Op[Any]:
    """The one value at ``offset`` of the workflow's stream ``key``, waiting for it to be written.

    Returns at once if the value is there; otherwise blocks (holding no connection) until
    the workflow writes it, or ``timeout_seconds`` pass (None, the default: no limit).
    ``polling_interval_sec`` is DBOS's keyword: checked, but the shared poller's schedule applies.
    ``DBOSClient`` blocks the calling thread; ``AsyncDBOSClient`` suspends only the task.

    Raises:
        StreamTimeoutError: the timeout passed, or the stream ended (closed, or its workflow
            finished) before reaching ``offset``: then at once, since no value will come.
        WorkflowNotFoundError: no such workflow.
    """
    no_shard_key(shard_key)
    return _calls.read_stream_offset(client._core, workflow_id, key, offset, timeout_seconds, polling_interval_sec)


def update_workflow_attributes(
    client: ClientBase,
    workflow_id: str,
    attributes: dict[str, Any] | None,
    *,
    merge: bool = False,
    shard_key: str | None = None,
) -> Op[None]:
    """Replace the custom attributes of a workflow (None clears them); with ``merge=True``,
    set the given top-level keys on them instead, atomically. One statement; never waits.

    Raises:
        InvalidArgumentError: attributes not a JSON-serializable dict, or ``merge`` with None.
        WorkflowNotFoundError: no such workflow (DBOS silently ignores this).
        SchemaError: the schema has no attributes column (a DBOS release before them).
    """
    no_shard_key(shard_key)
    return _calls.update_attributes(client._core, workflow_id, attributes, merge)


def set_workflow_delay(
    client: ClientBase,
    workflow_id: str,
    *,
    delay_seconds: float | None = None,
    delay_until_epoch_ms: int | None = None,
    shard_key: str | None = None,
) -> Op[None]:
    """Move the release time of a DELAYED workflow: ``delay_seconds`` from now (the database's
    clock) or at ``delay_until_epoch_ms``; exactly one of them. A workflow in any other status
    is left as it is. One statement; never waits.

    Raises:
        InvalidArgumentError: both or neither given, or a negative value.
        WorkflowNotFoundError: no such workflow (DBOS silently ignores this).
        SchemaError: the schema has no DELAYED status (DBOS before 2.16).
    """
    no_shard_key(shard_key)
    return _calls.set_delay(client._core, workflow_id, delay_seconds, delay_until_epoch_ms)


def resume_workflows(
    client: ClientBase, workflow_ids: list[str], *, queue_name: str | None = None, shard_key: str | None = None
) -> Op[list[str]]:
    """Resume several workflows in one statement; see ``resume_workflow``.

    Raises:
        WorkflowNotFoundError: an id is unknown; then none is resumed.
    """
    no_shard_key(shard_key)
    return _then(_calls.resume_many(client._core, workflow_ids, queue_name), list(workflow_ids))
