"""DBOSClient and AsyncDBOSClient expose the same calls, with the same parameters.

The logic is shared (_calls, _ops), so this is what keeps the two shells from drifting.
"""

from __future__ import annotations

import inspect

import pytest

from dbos_client import AsyncDBOSClient, AsyncWorkflowHandle, DBOSClient, WorkflowHandle

MANAGEMENT = ["cancel_workflows", "delete_workflow", "delete_workflows", "list_workflows", "list_queued_workflows",
              "list_workflow_steps"]  # fmt: skip
CALLS = ["enqueue", "send", "get_event", "get_all_events", "read_stream", "retrieve_workflow",
         "cancel_workflow", "resume_workflow", "check_connection", "close", "destroy", *MANAGEMENT]  # fmt: skip
#: DBOSClient's DBOS-style async names, and the AsyncDBOSClient method each one matches.
ASYNC_NAMES = {f"{name}_async": name for name in
               ["enqueue", "send", "get_event", "get_all_events", "read_stream", "retrieve_workflow",
                "cancel_workflow", "resume_workflow", *MANAGEMENT]}  # fmt: skip


def params(fn: object) -> list[tuple[str, object, object]]:
    sig = inspect.signature(fn)  # type: ignore[arg-type]
    return [(p.name, p.kind, p.default) for p in sig.parameters.values() if p.name != "self"]


@pytest.mark.parametrize("name", CALLS)
def test_same_call_same_parameters(name: str) -> None:
    assert params(getattr(DBOSClient, name)) == params(getattr(AsyncDBOSClient, name))


@pytest.mark.parametrize("name", CALLS)
def test_async_calls_are_coroutines_or_async_iterators(name: str) -> None:
    fn = getattr(AsyncDBOSClient, name)
    if name == "read_stream":
        assert not inspect.iscoroutinefunction(fn)  # returns an async iterator, checks arguments at once
    else:
        assert inspect.iscoroutinefunction(fn), name


@pytest.mark.parametrize("alias, name", sorted(ASYNC_NAMES.items()))
def test_dbos_async_names_match_the_async_client(alias: str, name: str) -> None:
    assert params(getattr(DBOSClient, alias)) == params(getattr(AsyncDBOSClient, name))
    assert getattr(DBOSClient, alias).__doc__


def test_constructors_match() -> None:
    assert inspect.signature(DBOSClient) == inspect.signature(AsyncDBOSClient)


def test_handles_match() -> None:
    for name in ("get_status", "get_result", "get_workflow_id"):
        assert params(getattr(WorkflowHandle, name)) == params(getattr(AsyncWorkflowHandle, name))
    assert inspect.iscoroutinefunction(AsyncWorkflowHandle.get_result)
    assert inspect.iscoroutinefunction(AsyncWorkflowHandle.get_status)


def test_every_public_async_method_is_documented() -> None:
    for cls in (AsyncDBOSClient, AsyncWorkflowHandle):
        for name, member in vars(cls).items():
            if not name.startswith("_") and callable(member):
                assert member.__doc__, f"{cls.__name__}.{name}"
