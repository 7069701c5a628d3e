"""Failover: the primary is lost, its streaming standby is promoted, and one client object
carries on through a multi-host URL (``host1,host2`` with ``target_session_attrs=read-write``).

A real DBOS 3.4.0 app runs on the primary and is restarted against the new primary, where it
recovers its pending workflow. The client is never rebuilt. What is checked:

* a ``get_event`` wait started before the failover returns the value published after it;
* an idempotent send stays exactly-once: a send committed before the crash and sent again
  after it, and a send that failed during the outage, spanned the promotion and was repeated
  afterwards, each leave one message;
* during the outage no call outlives its timeout or retry budget, and every error is a
  ``DatabaseUnavailableError``.

Postgres only (streaming replication); the synchronous standby of ``ReplicatedPair`` makes
"nothing acknowledged is lost" a fact rather than a race.
"""

from __future__ import annotations

import asyncio
import functools
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any

import psycopg
import pytest
from cluster import PrivateCluster
from conftest import QUEUE
from psycopg.conninfo import conninfo_to_dict
from replication import ReplicatedPair, wait_until
from runtime import DBOSRuntime, create_database, runtime_python

from dbos_client import AsyncDBOSClient, DatabaseUnavailableError, DBOSClient, RetryPolicy

pytestmark = pytest.mark.interop

#: The client's retry budget: a call that cannot reach a primary gives up after this long.
BUDGET = 3.0
#: What a call may take beyond its timeout or budget (a last attempt, scheduling on 2 busy cores).
SLACK = 1.5
#: How long the test keeps the cluster without a primary before promoting the standby.
OUTAGE_AT_LEAST = 1.0


class _LoopThread:
    """An event loop on its own thread, so the async client can be driven by the same scenario."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="failover-loop", daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


class _AsyncAsSync:
    """The few AsyncDBOSClient calls the scenario makes, each awaited on the loop thread."""

    def __init__(self, **kwargs: Any) -> None:
        self._loop = _LoopThread()

        async def make() -> AsyncDBOSClient:
            return AsyncDBOSClient(**kwargs)

        self._client: AsyncDBOSClient = self._loop.run(make())

    def enqueue(self, options: Any, *args: Any) -> str:
        return str(self._loop.run(self._client.enqueue(options, *args)).workflow_id)

    def send(self, *args: Any, **kwargs: Any) -> None:
        self._loop.run(self._client.send(*args, **kwargs))

    def get_event(self, *args: Any, **kwargs: Any) -> Any:
        return self._loop.run(self._client.get_event(*args, **kwargs))

    def status(self, workflow_id: str) -> str:
        async def status() -> str:
            handle = await self._client.retrieve_workflow(workflow_id)
            return (await handle.get_status()).status

        return str(self._loop.run(status()))

    def close(self) -> None:
        try:
            self._loop.run(self._client.close())
        finally:
            self._loop.close()


class _Sync:
    def __init__(self, **kwargs: Any) -> None:
        self._client = DBOSClient(**kwargs)

    def enqueue(self, options: Any, *args: Any) -> str:
        return self._client.enqueue(options, *args).workflow_id

    def send(self, *args: Any, **kwargs: Any) -> None:
        self._client.send(*args, **kwargs)

    def get_event(self, *args: Any, **kwargs: Any) -> Any:
        return self._client.get_event(*args, **kwargs)

    def status(self, workflow_id: str) -> str:
        return self._client.retrieve_workflow(workflow_id).get_status().status

    def close(self) -> None:
        self._client.close()


def _timed(call: Callable[[], Any]) -> tuple[float, Any, BaseException | None]:
    start = time.monotonic()
    try:
        value, error = call(), None
    except Exception as exc:
        value, error = None, exc
    return time.monotonic() - start, value, error


def _messages(admin_url: str, dbname: str, destination: str) -> list[tuple[str, bool]]:
    url = admin_url.rsplit("/", 1)[0] + f"/{dbname}"
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT message_uuid, consumed FROM dbos.notifications WHERE destination_uuid = %s", (destination,)
        ).fetchall()
    return [(str(r[0]), bool(r[1])) for r in rows]


def _kill(app: DBOSRuntime) -> None:
    """The app's machine went with the primary: no orderly shutdown."""
    if app.proc is not None and app.proc.poll() is None:
        app.proc.kill()
        app.proc.wait(10)
    app.stop()  # closes stdin; a no-op on a dead process


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_one_client_survives_the_loss_of_the_primary(flavour: str) -> None:
    numbers: dict[str, Any] = {}
    with ReplicatedPair() as pair:
        db_url = create_database(pair.primary.admin_url, prefix="dbos_client_failover")
        dbname = str(conninfo_to_dict(db_url)["dbname"])
        app = DBOSRuntime(runtime_python("3.4.0"), db_url).start()
        new_app: DBOSRuntime | None = None
        url = pair.url(dbname, target_session_attrs="read-write")
        policy = RetryPolicy(budget_seconds=BUDGET)
        client = (_Sync if flavour == "sync" else _AsyncAsSync)(system_database_url=url, retry_policy=policy)
        try:
            # Before: a message sent (idempotently) and consumed on the old primary.
            before = client.enqueue({"queue_name": QUEUE, "workflow_name": "event_after_message"}, "k", "t", 120)
            client.send(before, "one", topic="t", idempotency_key="key-before")
            assert client.get_event(before, "k", 30) == "one"

            # The workflow that will publish only after the failover, and a wait on it.
            target = client.enqueue({"queue_name": QUEUE, "workflow_name": "event_after_message"}, "k", "t", 120)
            wait_until(lambda: client.status(target) == "PENDING", what="the workflow to start")
            waited: list[tuple[float, Any, BaseException | None]] = []
            waiter = threading.Thread(target=lambda: waited.append(_timed(lambda: client.get_event(target, "k", 60))))
            waiter.start()
            wait_started = time.monotonic()
            time.sleep(0.5)  # the wait is registered and idle

            crashed = time.monotonic()
            pair.crash_primary()
            _kill(app)

            # The outage: no primary anywhere (the old one is gone, the standby is read-only).
            outage_calls = {
                "send": lambda: client.send(target, "after", topic="t", idempotency_key="key-after"),
                "get_event(timeout=2)": lambda: client.get_event(before, "k", timeout_seconds=2),
                "enqueue": lambda: client.enqueue({"queue_name": QUEUE, "workflow_name": "echo"}, 1),
            }
            limits = {"send": BUDGET, "get_event(timeout=2)": 2.0, "enqueue": BUDGET}
            for name, call in outage_calls.items():
                elapsed, value, error = _timed(call)
                numbers[f"outage {name} s"] = round(elapsed, 2)
                numbers[f"outage {name} gave"] = type(error).__name__ if error else repr(value)
                assert elapsed < limits[name] + SLACK, f"{name} took {elapsed:.2f}s during the outage"
                # Even get_event: the key exists, so a None ("not published in time") would be a lie.
                assert isinstance(error, DatabaseUnavailableError), repr(error)
                assert waiter.is_alive()  # the long wait is not failed by the outage

            # A send that starts without a primary and ends on the new one (retried across the promotion).
            spanning: list[tuple[float, Any, BaseException | None]] = []
            sender = threading.Thread(
                target=lambda: spanning.append(
                    _timed(lambda: client.send(target, "after", topic="t", idempotency_key="key-after"))
                )
            )
            sender.start()
            time.sleep(max(0.0, OUTAGE_AT_LEAST - (time.monotonic() - crashed)) + 0.5)
            promoting = time.monotonic()
            numbers["pg_ctl promote s"] = round(pair.promote(), 2)
            numbers["outage (crash to promoted) s"] = round(time.monotonic() - crashed, 2)
            sender.join(BUDGET + SLACK + 5)
            assert spanning and spanning[0][2] is None, spanning
            numbers["spanning send s"] = round(spanning[0][0], 2)
            numbers["spanning send done after promote s"] = round(time.monotonic() - promoting, 2)

            # The same sends again, on the same client: all are no-ops now.
            for _ in range(3):
                elapsed, _, error = _timed(lambda: client.send(target, "after", topic="t", idempotency_key="key-after"))
                assert error is None and elapsed < 2, (elapsed, error)
                client.send(before, "one", topic="t", idempotency_key="key-before")
            assert client.get_event(before, "k", 5) == "one"

            # The app comes back on the new primary and recovers the pending workflow.
            new_app = DBOSRuntime(runtime_python("3.4.0"), pair.url(dbname, pair.replica)).start()
            numbers["app restart s"] = round(new_app.startup_seconds or 0, 2)
            waiter.join(65)
            assert not waiter.is_alive()
            elapsed, value, error = waited[0]
            assert error is None, repr(error)
            assert value == "after"  # published after the failover, seen by a wait begun before it
            numbers["wait returned, after the crash s"] = round(wait_started + elapsed - crashed, 2)
            numbers["wait total s"] = round(elapsed, 2)

            # Exactly once: one stored message per idempotency key, each consumed by the recv.
            assert _messages(pair.replica.admin_url, dbname, target) == [("key-after::" + target, True)]
            assert _messages(pair.replica.admin_url, dbname, before) == [("key-before::" + before, True)]
        finally:
            client.close()
            _kill(app)
            if new_app is not None:
                new_app.stop()
            print(f"\n[failover {flavour}] " + ", ".join(f"{k}={v}" for k, v in numbers.items()))


def _server_pids(cluster: PrivateCluster) -> list[int]:
    """The postmaster of a private cluster (started by this test) and its children."""
    postmaster = int((cluster.data / "postmaster.pid").read_text().split()[0])
    children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(postmaster)], capture_output=True, text=True)
    return [postmaster, *map(int, children.stdout.split())]


def _signal(pids: list[int], sig: signal.Signals) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass  # a backend that just exited


#: Every attempt gets at least this long, even one started just before the deadline: psycopg
#: (like libpq) rounds a connect_timeout up to 2 s, and a statement gets the same floor.
ATTEMPT_FLOOR = 2.0


@functools.cache  # the strict-xfail test below reuses the sync run of the test before it
def _frozen_primary_timings(flavour: str) -> dict[str, tuple[float, float, BaseException | None]]:
    """Each call on a client whose server stopped answering without closing anything (a hung
    host, a partition): SIGSTOP on every server process, so the kernel still accepts and
    acknowledges. Returns name -> (its own limit, seconds it took, its error)."""
    timings: dict[str, tuple[float, float, BaseException | None]] = {}
    with PrivateCluster() as cluster:
        app = DBOSRuntime(runtime_python("3.4.0"), create_database(cluster.admin_url)).start()
        policy = RetryPolicy(budget_seconds=BUDGET)
        client = (_Sync if flavour == "sync" else _AsyncAsSync)(
            system_database_url=app.database_url, retry_policy=policy
        )
        frozen: list[int] = []
        try:
            workflow = client.enqueue({"queue_name": QUEUE, "workflow_name": "set_event_value"}, "k", 1)
            assert client.get_event(workflow, "k", 30) == 1  # the pool holds a warm connection
            _kill(app)
            time.sleep(0.5)  # the app's backends are gone
            frozen = _server_pids(cluster)
            _signal(frozen, signal.SIGSTOP)
            calls = {
                "get_event(timeout=2) on a warm connection": (2.0, lambda: client.get_event(workflow, "other", 2)),
                "send": (BUDGET, lambda: client.send(workflow, "x", topic="t")),
                "get_event(timeout=2)": (2.0, lambda: client.get_event(workflow, "other", 2)),
            }
            for name, (limit, call) in calls.items():
                outcome: list[tuple[float, Any, BaseException | None]] = []
                caller = threading.Thread(target=lambda: outcome.append(_timed(call)), daemon=True)  # noqa: B023
                caller.start()
                caller.join(limit + ATTEMPT_FLOOR + SLACK + 5)
                assert outcome, f"{name} still blocked after {limit + ATTEMPT_FLOOR + SLACK + 5:.1f}s"
                timings[name] = (limit, outcome[0][0], outcome[0][2])
        finally:
            _signal(frozen, signal.SIGCONT)
            client.close()
            _kill(app)
    print(f"\n[frozen {flavour}] " + ", ".join(f"{k}: {v[1]:.2f}s" for k, v in timings.items()))
    return timings


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_a_frozen_primary_never_holds_a_call_for_long(flavour: str) -> None:
    """Found: a statement on a pooled connection blocked for as long as the server stayed
    frozen (> 40 s for get_event(timeout_seconds=2)). Now each attempt is bounded."""
    for name, (limit, elapsed, error) in _frozen_primary_timings(flavour).items():
        assert elapsed < limit + ATTEMPT_FLOOR + SLACK, f"{name} took {elapsed:.2f}s"
        assert error is None or isinstance(error, DatabaseUnavailableError), repr(error)


@pytest.mark.xfail(
    strict=True,
    reason="one more attempt may start just before the deadline and then gets the 2 s floor "
    "(measured: get_event(timeout_seconds=2) about 4 s, a send with a 3 s budget about 5 s)",
)
def test_a_frozen_primary_does_not_hold_a_call_past_its_timeout() -> None:
    for name, (limit, elapsed, _) in _frozen_primary_timings("sync").items():
        assert elapsed < limit + SLACK, f"{name} took {elapsed:.2f}s"
