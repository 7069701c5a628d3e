"""The connection pool's pure core: who gets a warm connection, who connects, who waits."""

from __future__ import annotations

import pytest

from dbos_client._pool import CONNECT, PoolState
from dbos_client.errors import DBOSClientError


def test_an_empty_pool_lets_callers_connect_up_to_its_size_then_wait() -> None:
    state: PoolState[str] = PoolState(max_size=2)
    assert state.take(now=0) == (CONNECT, [])
    assert state.take(now=0) == (CONNECT, [])
    assert state.take(now=0) == (None, [])  # full: wait for one to come back
    assert state.size == 2


def test_a_returned_connection_is_reused_most_recent_first() -> None:
    state: PoolState[str] = PoolState(max_size=2)
    state.take(0), state.take(0)
    assert state.give_back("a", now=1, reusable=True)
    assert state.give_back("b", now=2, reusable=True)
    assert state.take(now=3) == ("b", [])
    assert state.take(now=3) == ("a", [])
    assert state.size == 2


def test_a_broken_connection_frees_its_slot() -> None:
    state: PoolState[str] = PoolState(max_size=1)
    state.take(0)
    assert not state.give_back("a", now=1, reusable=False)  # the driver closes it
    assert state.size == 0
    assert state.take(now=1) == (CONNECT, [])


def test_a_failed_connect_frees_its_slot() -> None:
    state: PoolState[str] = PoolState(max_size=1)
    assert state.take(0)[0] is CONNECT
    state.connect_failed()
    assert state.take(0)[0] is CONNECT


def test_long_idle_connections_are_handed_back_to_close_not_reused() -> None:
    state: PoolState[str] = PoolState(max_size=2, max_idle=10)
    state.take(0), state.take(0)
    state.give_back("old", now=0, reusable=True)
    state.give_back("fresh", now=95, reusable=True)
    assert state.take(now=100) == ("fresh", [])
    assert state.take(now=100) == (CONNECT, ["old"])  # its slot is reused for a new connection
    assert state.size == 2


def test_drain_hands_over_every_idle_connection() -> None:
    state: PoolState[str] = PoolState(max_size=3)
    for _ in range(3):
        state.take(0)
    state.give_back("a", now=0, reusable=True)
    state.give_back("b", now=0, reusable=True)
    assert sorted(state.drain()) == ["a", "b"]
    assert state.size == 1  # the one still lent out
    assert state.take(0) == (CONNECT, [])


def test_a_closed_pool_lends_nothing_and_takes_nothing_back() -> None:
    state: PoolState[str] = PoolState(max_size=1)
    state.take(0)
    state.closed = True
    assert not state.give_back("a", now=0, reusable=True)
    with pytest.raises(DBOSClientError, match="closed"):
        state.take(0)
