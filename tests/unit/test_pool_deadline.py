"""A statement gives up at the call's deadline when the server stops answering (no I/O here)."""

from __future__ import annotations

import time
from collections.abc import Generator

import pytest
from psycopg.waiting import Ready

from dbos_client._pool import (
    MIN_STATEMENT_SECONDS,
    DeadlineConnection,
    DeadlineExceeded,
    _bounded,
    _lend,
)


def _statement() -> Generator[int, int, str]:
    """Stands for one of psycopg's I/O generators: yields what to wait for, gets what is ready."""
    while True:
        ready = yield 1
        if ready:
            return "result"


def test_an_answer_in_time_passes_through() -> None:
    gen = _bounded(_statement(), time.monotonic() + 10)
    assert next(gen) == 1
    assert gen.send(Ready.NONE) == 1  # an idle tick before the deadline: keep waiting
    with pytest.raises(StopIteration) as stop:
        gen.send(Ready.R)
    assert stop.value.value == "result"


def test_an_idle_tick_past_the_deadline_gives_up() -> None:
    gen = _bounded(_statement(), time.monotonic() - 0.01)
    next(gen)
    with pytest.raises(DeadlineExceeded):
        gen.send(Ready.NONE)


def test_an_answer_that_arrives_past_the_deadline_is_still_taken() -> None:
    gen = _bounded(_statement(), time.monotonic() - 0.01)
    next(gen)
    with pytest.raises(StopIteration):
        gen.send(Ready.R)


def test_a_lent_connection_gets_at_least_the_minimum() -> None:
    conn = DeadlineConnection.__new__(DeadlineConnection)  # never connected: only the attribute matters
    now = time.monotonic()
    _lend(conn, now - 5)  # a final check made at (after) the call's deadline
    assert conn.deadline is not None and conn.deadline >= now + MIN_STATEMENT_SECONDS
    _lend(conn, now + 60)
    assert conn.deadline == now + 60
    _lend(conn, None)
    assert conn.deadline is None
