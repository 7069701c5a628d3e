"""Each shared call is written once (``_surface``) and bound by both shells.

What keeps the two clients from drifting apart is that they bind the same functions; these
tests check that every call is bound by both, shows its own signature and documentation,
and is driven the way its shell drives ops (the factories, on a stand-in shell).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Generator
from typing import Any

import pytest

from dbos_client import AsyncDBOSClient, DBOSClient, InvalidArgumentError, _surface

CALLS = sorted(
    name
    for name, fn in vars(_surface).items()
    if inspect.isfunction(fn)
    and fn.__module__ == _surface.__name__
    and not name.startswith("_")
    and next(iter(inspect.signature(fn).parameters), None) == "client"
)


def test_the_surface_has_the_shared_calls() -> None:
    assert {"enqueue", "send", "get_event", "register_queue", "create_schedule", "fork_workflow"} <= set(CALLS)
    assert len(CALLS) >= 35


@pytest.mark.parametrize("name", CALLS)
@pytest.mark.parametrize("shell", [DBOSClient, AsyncDBOSClient])
def test_each_call_is_bound_by_both_shells(shell: type, name: str) -> None:
    method = vars(shell)[name]
    assert method.__doc__ == getattr(_surface, name).__doc__
    assert method.__qualname__ == f"{shell.__name__}.{name}"
    assert inspect.iscoroutinefunction(method) is (shell is AsyncDBOSClient)


@pytest.mark.parametrize("name", CALLS)
def test_a_method_shows_the_call_signature_with_self_and_the_result_type(name: str) -> None:
    call = inspect.signature(getattr(_surface, name))
    for shell in (DBOSClient, AsyncDBOSClient):
        shown = inspect.signature(getattr(shell, name))
        assert list(shown.parameters)[0] == "self"
        assert list(shown.parameters.values())[1:] == list(call.parameters.values())[1:]
        assert not str(shown.return_annotation).startswith("Op[")


def test_handles_are_the_shells_own() -> None:
    assert inspect.signature(DBOSClient.fork_workflow).return_annotation == "WorkflowHandle[Any]"
    assert inspect.signature(AsyncDBOSClient.fork_workflow).return_annotation == "AsyncWorkflowHandle[Any]"
    assert inspect.signature(DBOSClient.enqueue_bulk).return_annotation == "list[WorkflowHandle[Any]]"


# -- the factories, on a stand-in shell: they drive the op as the shell would -----------------


def _op(value: Any) -> Generator[Any, Any, Any]:
    return value
    yield  # a generator, as ops are


def make_pair(client: Any, a: int, *, b: int = 2) -> Generator[Any, Any, tuple[int, int]]:
    """A call: returns its arguments."""
    return _op((a, b))


def _finish(op: Any) -> Any:
    try:
        next(op)
    except StopIteration as stop:
        return stop.value
    raise AssertionError("the op yielded")


class StandInShell:
    def __init__(self) -> None:
        self.warned: list[str] = []

    def _warn_in_event_loop(self, name: str) -> None:
        self.warned.append(name)

    def _run(self, op: Any) -> Any:
        return _finish(op)

    pair = _surface.blocking(make_pair)
    labelled = _surface.blocking(make_pair, lambda client, result: ("handle", client, result))


class AsyncStandInShell:
    async def _run(self, op: Any) -> Any:
        return _finish(op)

    pair = _surface.awaiting(make_pair)


def test_blocking_runs_the_op_and_warns_with_the_call_name() -> None:
    shell = StandInShell()
    assert shell.pair(1, b=3) == (1, 3)
    assert shell.warned == ["make_pair"]
    kind, client, result = shell.labelled(5)
    assert (kind, client, result) == ("handle", shell, (5, 2))


def test_awaiting_is_a_coroutine_that_runs_the_op() -> None:
    shell = AsyncStandInShell()
    assert inspect.iscoroutinefunction(AsyncStandInShell.pair)
    assert asyncio.run(shell.pair(4)) == (4, 2)  # and never asks to warn about a blocked loop


def test_bad_arguments_fail_as_the_call_would() -> None:
    with pytest.raises(TypeError):
        StandInShell().pair(1, c=3)  # type: ignore[call-arg]


def test_then_returns_the_value_after_the_op() -> None:
    def effect() -> Generator[Any, Any, None]:
        got = yield "action"
        assert got == "answer"

    op: Any = _surface._then(effect(), "wf-1")
    assert next(op) == "action"
    with pytest.raises(StopIteration) as stop:
        op.send("answer")
    assert stop.value.value == "wf-1"


# -- shard keys: accepted where DBOS takes them, refused with DBOS's wording -------------------

SHARD_KEY_CALLS = [
    ("send", ("wf", "m")),
    ("get_event", ("wf", "k")),
    ("retrieve_workflow", ("wf",)),
    ("cancel_workflow", ("wf",)),
    ("cancel_workflows", (["wf"],)),
    ("delete_workflow", ("wf",)),
    ("delete_workflows", (["wf"],)),
    ("resume_workflow", ("wf",)),
    ("resume_workflows", (["wf"],)),
    ("list_workflow_steps", ("wf",)),
    ("set_workflow_delay", ("wf",)),
    ("update_workflow_attributes", ("wf", {})),
    ("read_stream_offset", ("wf", "k", 0)),
    ("fork_workflow", ("wf", 1)),
    ("rewind_workflow", ("wf",)),
]


@pytest.mark.parametrize("name, args", SHARD_KEY_CALLS)
def test_a_shard_key_is_refused_before_any_io(name: str, args: tuple[Any, ...]) -> None:
    client = DBOSClient(system_database_url="postgresql://u@127.0.0.1:1/db", lazy=True)
    with pytest.raises(InvalidArgumentError, match="not sharded"):
        getattr(client, name)(*args, shard_key="tenant-a")
    with pytest.raises(InvalidArgumentError, match="not sharded"):
        client.read_stream("wf", "k", shard_key="tenant-a")
    for filters in ({"shard_key": "tenant-a"}, {"parent_shard_key": "tenant-a"}, {"shard_key": []}):
        with pytest.raises(InvalidArgumentError, match="requires a sharded system database"):
            client.list_workflows(**filters)  # type: ignore[arg-type]
    client.close()
