"""A statement gives up at the call's deadline when the server stops answering (no I/O here)."""

from __future__ import annotations

import threading
import time
from collections.abc import Generator

import psycopg
import pytest
from psycopg.waiting import Ready

from dbos_client._pool import (
    MIN_STATEMENT_SECONDS,
    ConnectionPool,
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


class _IdleConn:
    """Stands for a healthy, idle psycopg connection (only what the pool looks at)."""

    closed = False

    class info:  # mirrors psycopg's attribute
        transaction_status = psycopg.pq.TransactionStatus.IDLE

    def close(self) -> None:
        self.closed = True


def test_a_final_check_past_the_deadline_still_waits_for_a_busy_pool() -> None:
    """Many waits end at once and each makes one last read with its deadline already past:
    they queue for the pool's connections rather than fail with PoolTimeout."""
    pool = ConnectionPool(lambda deadline: _IdleConn(), max_size=1)  # type: ignore[arg-type,return-value]
    held = threading.Event()

    def hold() -> None:
        with pool.connection(None):
            held.set()
            time.sleep(0.2)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait()
    start = time.monotonic()
    with pool.connection(time.monotonic() - 1) as conn:  # deadline already past
        assert isinstance(conn, _IdleConn)
    assert 0.1 < time.monotonic() - start < MIN_STATEMENT_SECONDS
    holder.join()
    pool.close()
