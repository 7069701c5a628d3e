"""The client's connection pool: a pure core and two thin drivers (threads, asyncio).

Why not psycopg_pool: its workers connect in the background and retry on their own
schedule (1 s, 2 s, 4 s ... for up to 5 minutes), so a caller only learns "no connection
in 10 s". Here the caller connects itself, within its own deadline, and sees the real
reason at once: a refused connection fails in milliseconds, a certificate that does not
verify is reported as such, and after a failover the next call connects to the new
primary instead of waiting for a background schedule. New connections also ask the
``password_provider`` each time, which is what rotating credentials need.

Connections are made with ``prepare_threshold=None`` unless the client's own
``prepare_threshold`` says otherwise: a transaction pooler (PgBouncer, Supabase, Neon)
hands each transaction to any server connection, and a statement prepared on one is
missing, or worse, a different statement, on the next.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, Generic, TypeVar

import psycopg

from .errors import DBOSClientError

#: An idle connection older than this is closed rather than reused: servers, poolers and
#: firewalls drop long-idle connections, and a fresh one costs less than a failed query.
MAX_IDLE_SECONDS = 300.0
#: The least a statement may wait for the server, even past the call's deadline: the same
#: floor as a connection attempt's (libpq's minimum connect_timeout is 2 s).
MIN_STATEMENT_SECONDS = 2.0

C = TypeVar("C")


class PoolTimeout(psycopg.OperationalError):
    """Every pooled connection stayed busy until the call's deadline (transient)."""


class DeadlineExceeded(psycopg.OperationalError):
    """The server did not answer a statement before the call's deadline (transient).

    The statement is abandoned mid-flight, so its connection is closed, never reused.
    """


def _bounded(gen: Any, deadline: float) -> Any:
    """Drive one of psycopg's I/O generators, giving up at ``deadline``.

    psycopg's wait loop wakes every 0.1 s even with nothing to read (``Ready.NONE``,
    falsy), so a server that stopped answering (hung, frozen, partitioned while the
    kernel still acknowledges) is noticed there instead of blocking the call forever.
    """
    try:
        state = next(gen)
        while True:
            ready = yield state
            if not ready and time.monotonic() >= deadline:
                gen.close()
                raise DeadlineExceeded("the server did not answer before the call's deadline")
            state = gen.send(ready)
    except StopIteration as stop:
        return stop.value


class DeadlineConnection(psycopg.Connection[Any]):
    """A connection whose statements give up at ``deadline`` (set by the pool while lent)."""

    deadline: float | None = None

    def wait(self, gen: Any, *args: Any, **kwargs: Any) -> Any:
        if self.deadline is not None:
            gen = _bounded(gen, self.deadline)
        return super().wait(gen, *args, **kwargs)


class AsyncDeadlineConnection(psycopg.AsyncConnection[Any]):
    """The asyncio twin of ``DeadlineConnection``."""

    deadline: float | None = None

    async def wait(self, gen: Any, *args: Any, **kwargs: Any) -> Any:
        if self.deadline is not None:
            gen = _bounded(gen, self.deadline)
        return await super().wait(gen, *args, **kwargs)


def _floored(deadline: float | None) -> float | None:
    """The caller's deadline, but at least ``MIN_STATEMENT_SECONDS`` from now: a call's final
    check, made at its deadline, must still get a connection and its answer from a slow but
    live server (a hundred waits timing out together queue for two connections)."""
    return None if deadline is None else max(deadline, time.monotonic() + MIN_STATEMENT_SECONDS)


def _lend(conn: Any, deadline: float | None) -> None:
    """Bound the statements of a lent connection by the caller's (floored) deadline."""
    if isinstance(conn, (DeadlineConnection, AsyncDeadlineConnection)):
        conn.deadline = _floored(deadline)


class _Connect:
    """Sentinel: the caller may open a new connection (it holds the slot already)."""


CONNECT = _Connect()


class PoolState(Generic[C]):
    """Which connection a caller gets, and when it must open one or wait. No I/O, no clock.

    ``size`` counts every connection the pool is responsible for: idle, lent out, or
    being opened by a caller, so the pool never holds more than ``max_size``.
    """

    def __init__(self, max_size: int, max_idle: float = MAX_IDLE_SECONDS) -> None:
        self.max_size = max_size
        self.max_idle = max_idle
        self.idle: deque[tuple[C, float]] = deque()
        self.size = 0
        self.closed = False

    def take(self, now: float) -> tuple[C | _Connect | None, list[C]]:
        """A warm idle connection, ``CONNECT`` (a slot is reserved), or None (wait).

        Also returns the idle connections found stale, for the driver to close.
        """
        if self.closed:
            raise DBOSClientError("this client is closed")
        stale: list[C] = []
        while self.idle:
            conn, since = self.idle.pop()  # the most recently used: the likeliest alive
            if now - since <= self.max_idle:
                return conn, stale
            stale.append(conn)
            self.size -= 1
        if self.size < self.max_size:
            self.size += 1
            return CONNECT, stale
        return None, stale

    def give_back(self, conn: C, now: float, reusable: bool) -> bool:
        """Return a lent connection; False means the driver must close it."""
        if reusable and not self.closed:
            self.idle.append((conn, now))
            return True
        self.size -= 1
        return False

    def connect_failed(self) -> None:
        """Release the slot reserved by ``CONNECT``."""
        self.size -= 1

    def drain(self) -> list[C]:
        """Hand over every idle connection to close (after a failure, or on close)."""
        conns = [conn for conn, _ in self.idle]
        self.idle.clear()
        self.size -= len(conns)
        return conns


def reusable(conn: psycopg.Connection[Any] | psycopg.AsyncConnection[Any]) -> bool:
    """Whether a connection may go back to the pool: open, and not inside a transaction."""
    return not conn.closed and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE


def _remaining(deadline: float | None) -> float | None:
    return None if deadline is None else deadline - time.monotonic()


class ConnectionPool:
    """Connections for the threads of a ``DBOSClient``."""

    def __init__(self, connect: Callable[[float | None], psycopg.Connection[Any]], max_size: int) -> None:
        self._connect = connect
        self._state: PoolState[psycopg.Connection[Any]] = PoolState(max_size)
        self._cond = threading.Condition()

    @contextmanager
    def connection(self, deadline: float | None) -> Iterator[psycopg.Connection[Any]]:
        """Lend a connection until the block ends; open one in this thread if there is room.

        Blocks while every connection is lent out, until ``deadline`` but at least
        ``MIN_STATEMENT_SECONDS`` (then PoolTimeout).
        """
        conn = self._acquire(_floored(deadline))
        _lend(conn, deadline)
        try:
            yield conn
        finally:
            _lend(conn, None)
            with self._cond:
                kept = self._state.give_back(conn, time.monotonic(), reusable(conn))
                self._cond.notify()
            if not kept:
                conn.close()

    def _acquire(self, deadline: float | None) -> psycopg.Connection[Any]:
        with self._cond:
            while True:
                got, stale = self._state.take(time.monotonic())
                _close_all(stale)
                if got is not None:
                    break
                remaining = _remaining(deadline)
                if remaining is not None and remaining <= 0:
                    raise PoolTimeout("every pooled connection stayed busy until the call's deadline")
                self._cond.wait(remaining)
        if not isinstance(got, _Connect):
            return got
        try:
            return self._connect(deadline)
        except BaseException:
            with self._cond:
                self._state.connect_failed()
                self._cond.notify()
            raise

    def discard_idle(self) -> None:
        """Close the idle connections: after one died, the others likely died the same way."""
        with self._cond:
            conns = self._state.drain()
            self._cond.notify_all()
        _close_all(conns)

    def close(self) -> None:
        with self._cond:
            self._state.closed = True
            conns = self._state.drain()
            self._cond.notify_all()
        _close_all(conns)


class AsyncConnectionPool:
    """Connections for the tasks of an ``AsyncDBOSClient``, on its event loop."""

    def __init__(
        self, connect: Callable[[float | None], Awaitable[psycopg.AsyncConnection[Any]]], max_size: int
    ) -> None:
        self._connect = connect
        self._state: PoolState[psycopg.AsyncConnection[Any]] = PoolState(max_size)
        self._cond = asyncio.Condition()

    @asynccontextmanager
    async def connection(self, deadline: float | None) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """As ``ConnectionPool.connection``; a task waiting for a connection holds no thread."""
        conn = await self._acquire(_floored(deadline))
        _lend(conn, deadline)
        try:
            yield conn
        finally:
            _lend(conn, None)
            async with self._cond:
                kept = self._state.give_back(conn, time.monotonic(), reusable(conn))
                self._cond.notify()
            if not kept:
                await conn.close()

    async def _acquire(self, deadline: float | None) -> psycopg.AsyncConnection[Any]:
        async with self._cond:
            while True:
                got, stale = self._state.take(time.monotonic())
                await _aclose_all(stale)
                if got is not None:
                    break
                remaining = _remaining(deadline)
                if remaining is not None and remaining <= 0:
                    raise PoolTimeout("every pooled connection stayed busy until the call's deadline")
                try:
                    await asyncio.wait_for(self._cond.wait(), remaining)
                except asyncio.TimeoutError:
                    pass  # the loop re-checks, then raises PoolTimeout
        if not isinstance(got, _Connect):
            return got
        try:
            return await self._connect(deadline)
        except BaseException:
            async with self._cond:
                self._state.connect_failed()
                self._cond.notify()
            raise

    async def discard_idle(self) -> None:
        async with self._cond:
            conns = self._state.drain()
            self._cond.notify_all()
        await _aclose_all(conns)

    async def close(self) -> None:
        async with self._cond:
            self._state.closed = True
            conns = self._state.drain()
            self._cond.notify_all()
        await _aclose_all(conns)

    def close_nowait(self) -> None:
        """Close from outside the loop (its connections are closed without awaiting)."""
        self._state.closed = True
        for conn in self._state.drain():
            conn.pgconn.finish()


def _close_all(conns: list[psycopg.Connection[Any]]) -> None:
    for conn in conns:
        conn.close()


async def _aclose_all(conns: list[psycopg.AsyncConnection[Any]]) -> None:
    for conn in conns:
        await conn.close()
