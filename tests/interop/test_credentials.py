"""Rotating credentials: new connections get a fresh password without rebuilding the client.

A private cluster where the role ``app`` logs in with a scram-sha-256 password. The password
is rotated with ``ALTER ROLE`` and the client's sessions are terminated, so its next calls
must open new connections (the pool's and the listener's): they succeed on the very same
client object once the password source has the new one, either a ``password_provider``
callable or a libpq ``passfile`` that is rewritten. A source still holding the old password
gets one ``ConnectionRejectedError`` at once, not a retry budget's worth of attempts.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from auth_cluster import ROLE, AuthCluster
from conftest import QUEUE
from psycopg.conninfo import conninfo_to_dict
from runtime import DBOSRuntime, create_database, runtime_python

from dbos_client import AsyncDBOSClient, ConnectionRejectedError, DBOSClient, __version__

pytestmark = pytest.mark.interop

LISTENER = f"dbos_client/{__version__} listener"
REJECT_WITHIN = 2.0


class Server:
    def __init__(self, cluster: AuthCluster, dbname: str) -> None:
        self.cluster = cluster
        self.dbname = dbname
        self._rotations = 0

    def rotate(self) -> str:
        """ALTER ROLE to a new password and cut the role's sessions; returns the new password."""
        self._rotations += 1
        new = f"Rot-{self._rotations}-{os.urandom(6).hex()}"
        self.cluster.set_password(new)
        assert self.cluster.terminate(self.dbname) >= 1  # the client had sessions open
        return new

    def listener_connected(self) -> bool:
        with psycopg.connect(self.cluster.admin_url, autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE usename = %s AND datname = %s AND application_name = %s",
                (ROLE, self.dbname, LISTENER),
            ).fetchone()
        return bool(row and row[0] >= 1)


class Secret:
    """Where the client finds the password: a callable it asks, or a passfile libpq reads."""

    def __init__(self, password: str, passfile: Path | None = None) -> None:
        self.calls = 0
        self.passfile = passfile
        self.set(password)

    def __call__(self) -> str:
        self.calls += 1
        return self.password

    def set(self, password: str) -> None:
        self.password = password
        if self.passfile is not None:
            # hostname:port:database:username:password; libpq ignores a file others can read.
            tmp = self.passfile.with_suffix(".tmp")
            tmp.write_text(f"*:*:*:{ROLE}:{password}\n")
            tmp.chmod(0o600)
            tmp.replace(self.passfile)

    def client_kwargs(self, server: Server) -> dict[str, Any]:
        if self.passfile is not None:
            return {"system_database_url": server.cluster.url(server.dbname, passfile=str(self.passfile))}
        return {"system_database_url": server.cluster.url(server.dbname), "password_provider": self}


def _eventually(predicate: Any, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with AuthCluster(f"Rot-0-{os.urandom(6).hex()}") as cluster:
        db_url = create_database(cluster.admin_url, prefix="dbos_client_creds")
        dbname = str(conninfo_to_dict(db_url)["dbname"])
        app = DBOSRuntime(runtime_python("3.4.0"), db_url).start()
        try:
            cluster.grant(dbname)
            yield Server(cluster, dbname)
        finally:
            app.stop()


def _no_password_logged(caplog: pytest.LogCaptureFixture, *passwords: str) -> None:
    for record in caplog.records:
        text = record.getMessage() + (str(record.exc_info[1]) if record.exc_info and record.exc_info[1] else "")
        assert not any(p in text for p in passwords), text


@pytest.mark.parametrize("source", ["password_provider", "passfile"])
def test_rotation_on_the_same_client(
    server: Server, source: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    old = server.cluster.password
    secret = Secret(old, tmp_path / "pgpass" if source == "passfile" else None)
    with DBOSClient(**secret.client_kwargs(server)) as client:
        first = client.enqueue({"queue_name": QUEUE, "workflow_name": "set_event_value"}, "k", "v1")
        assert client.get_event(first.workflow_id, "k", 30) == "v1"
        # A wait in progress, so the listener has a session of its own to lose.
        target = client.enqueue({"queue_name": QUEUE, "workflow_name": "event_after_message"}, "k", "t", 60)
        got: list[Any] = []
        waiter = threading.Thread(target=lambda: got.append(client.get_event(target.workflow_id, "k", 45)))
        waiter.start()
        assert _eventually(server.listener_connected)
        calls_before = secret.calls

        new = server.rotate()
        secret.set(new)
        client.send(target.workflow_id, "after rotation", topic="t")
        waiter.join(50)
        assert got == ["after rotation"]
        assert client.get_all_events(first.workflow_id) == {"k": "v1"}
        assert _eventually(server.listener_connected)  # the listener came back with the new password
        if source == "password_provider":
            assert secret.calls > calls_before  # asked again for the new connections

        # The source lags behind a rotation: refused at once, and the client recovers once it catches up.
        newer = server.rotate()
        start = time.monotonic()
        with pytest.raises(ConnectionRejectedError) as info:
            client.get_all_events(first.workflow_id)
        assert time.monotonic() - start < REJECT_WITHIN
        assert "password" in str(info.value).lower()
        assert new not in str(info.value) and newer not in str(info.value)
        secret.set(newer)
        assert client.get_event(first.workflow_id, "k", 10) == "v1"
    _no_password_logged(caplog, old, new, newer)


def test_rotation_on_the_same_async_client(server: Server, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    old = server.cluster.password
    secret = Secret(old)

    async def main() -> tuple[str, str]:
        async with AsyncDBOSClient(**secret.client_kwargs(server)) as client:
            target = await client.enqueue({"queue_name": QUEUE, "workflow_name": "event_after_message"}, "k", "t", 60)
            waiting = asyncio.create_task(client.get_event(target.workflow_id, "k", 45))
            assert await asyncio.to_thread(_eventually, server.listener_connected)

            new = await asyncio.to_thread(server.rotate)
            secret.set(new)
            await client.send(target.workflow_id, "async after rotation", topic="t")
            assert await asyncio.wait_for(waiting, 50) == "async after rotation"
            assert await asyncio.to_thread(_eventually, server.listener_connected)

            newer = await asyncio.to_thread(server.rotate)
            start = time.monotonic()
            with pytest.raises(ConnectionRejectedError):
                await client.get_all_events(target.workflow_id)
            assert time.monotonic() - start < REJECT_WITHIN
            secret.set(newer)
            assert await client.get_all_events(target.workflow_id) == {"k": "async after rotation"}
            return new, newer

    new, newer = asyncio.run(main())
    _no_password_logged(caplog, old, new, newer)
