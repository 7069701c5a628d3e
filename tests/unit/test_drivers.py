"""Behavioural parity: the same scripted operation, driven by DBOSClient and by AsyncDBOSClient.

The signature checks in test_parity.py keep the two shells' surfaces alike; these keep
their behaviour alike. Each test runs one op through both drivers, with the statement
layer (``_execute_once``) replaced by a script of answers and failures, and compares
what comes out: the value, the emitted values, the retries, and the error a caller sees.
No database, no threads.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from dbos_client import (
    AsyncDBOSClient,
    ConnectionRejectedError,
    DatabaseUnavailableError,
    DBOSClient,
    RetryPolicy,
    WorkflowNotFoundError,
)
from dbos_client._ops import Emit, ForeignKeyViolation, Op, Query

URL = "postgresql://u:secret@127.0.0.1:1/db"
FAST = RetryPolicy(max_attempts=3, initial_seconds=0.001, max_seconds=0.001, jitter_seconds=0.0)


class Script:
    """Answers statements in order; an exception in the script is raised instead."""

    def __init__(self, *answers: Any) -> None:
        self.answers: Iterator[Any] = iter(answers)
        self.statements: list[Any] = []

    def answer(self, query: Query) -> Any:
        self.statements.append(query.statement)
        answer = next(self.answers)
        if isinstance(answer, BaseException):
            raise answer
        return answer


def run_sync(op: Callable[[], Op[Any]], script: Script, *, stream: bool = False) -> Any:
    client = DBOSClient(lazy=True, system_database_url=URL, retry_policy=FAST)
    client._execute_once = lambda query, limit: script.answer(query)  # type: ignore[method-assign]
    try:
        return list(client._iterate(op())) if stream else client._run(op())
    finally:
        client.close()


def run_async(op: Callable[[], Op[Any]], script: Script, *, stream: bool = False) -> Any:
    async def main() -> Any:
        client = AsyncDBOSClient(lazy=True, system_database_url=URL, retry_policy=FAST)

        async def execute_once(query: Query, limit: float | None) -> Any:
            return script.answer(query)

        client._execute_once = execute_once  # type: ignore[method-assign]
        try:
            if stream:
                return [value async for value in client._iterate(op())]
            return await client._run(op())
        finally:
            await client.close()

    return asyncio.run(main())


DRIVERS = [pytest.param(run_sync, id="sync"), pytest.param(run_async, id="async")]


def two_reads() -> Op[int]:
    first = yield Query("SELECT 1", fetch="one")
    second = yield Query("SELECT 2", fetch="one")
    return int(first[0]) + int(second[0])


def three_values() -> Op[None]:
    rows = yield Query("SELECT v")
    for (value,) in rows:
        yield Emit(value)


def translating_send() -> Op[None]:
    try:
        yield Query("INSERT", fetch="none")
    except ForeignKeyViolation:
        raise WorkflowNotFoundError("wf-1", "send destination") from None


def outcome(driver: Callable[..., Any], op: Callable[[], Op[Any]], script: Script, **kw: Any) -> Any:
    try:
        return ("value", driver(op, script, **kw), script.statements)
    except Exception as exc:
        return ("error", type(exc).__name__, str(exc), script.statements)


def test_both_drivers_return_the_same_value() -> None:
    results = [outcome(d.values[0], two_reads, Script((1,), (2,))) for d in DRIVERS]
    assert results[0] == results[1] == ("value", 3, ["SELECT 1", "SELECT 2"])


def test_both_drivers_emit_the_same_values_in_order() -> None:
    results = [outcome(d.values[0], three_values, Script([("a",), ("b",), ("c",)]), stream=True) for d in DRIVERS]
    assert results[0] == results[1] == ("value", ["a", "b", "c"], ["SELECT v"])


def test_both_drivers_retry_a_transient_failure_then_succeed() -> None:
    lost = psycopg.OperationalError("server closed the connection unexpectedly")
    results = [outcome(d.values[0], two_reads, Script((1,), lost, (2,))) for d in DRIVERS]
    assert results[0] == results[1] == ("value", 3, ["SELECT 1", "SELECT 2", "SELECT 2"])


def test_both_drivers_give_up_with_database_unavailable_and_no_password() -> None:
    refused = psycopg.OperationalError("connection to server at 127.0.0.1, port 1 failed: Connection refused")
    results = [outcome(d.values[0], two_reads, Script(refused, refused, refused)) for d in DRIVERS]
    assert results[0] == results[1]
    kind, name, message, statements = results[0]
    assert (kind, name, len(statements)) == ("error", DatabaseUnavailableError.__name__, FAST.max_attempts)
    assert "Connection refused" in message and "secret" not in message


def test_both_drivers_reject_at_once_what_a_retry_cannot_fix() -> None:
    refused = psycopg.OperationalError('FATAL:  password authentication failed for user "u"')
    results = [outcome(d.values[0], two_reads, Script(refused)) for d in DRIVERS]
    assert results[0] == results[1]
    kind, name, message, statements = results[0]
    assert (kind, name, statements) == ("error", ConnectionRejectedError.__name__, ["SELECT 1"])
    assert "password authentication failed" in message and "secret" not in message


def test_both_drivers_hand_database_errors_to_the_op_to_translate() -> None:
    results = [outcome(d.values[0], translating_send, Script(ForeignKeyViolation("fk"))) for d in DRIVERS]
    assert results[0] == results[1]
    assert results[0][:2] == ("error", WorkflowNotFoundError.__name__)
