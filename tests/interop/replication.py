"""A primary and a streaming replica on private clusters, for failover tests.

``ReplicatedPair`` starts a primary ``PrivateCluster`` (initdb's pg_hba already trusts
replication connections from 127.0.0.1, and wal_level defaults to ``replica``), clones it
with ``pg_basebackup -R`` into a standby on another free port, and makes the standby
synchronous, so that every commit the primary acknowledged is on the standby too: a
failover then loses nothing, and a test can reason about exactly-once. ``crash_primary()``
stops the primary with ``-m immediate``; ``promote()`` turns the standby into the new primary.
"""

from __future__ import annotations

import shutil
import time
from typing import Any

import psycopg
from cluster import PrivateCluster, _tool


class ReplicaCluster(PrivateCluster):
    """A hot standby of ``primary``, made by ``pg_basebackup -R`` (which writes
    ``standby.signal`` and ``primary_conninfo``)."""

    def __init__(self, primary: PrivateCluster) -> None:
        super().__init__()
        self.primary = primary

    def init(self) -> ReplicaCluster:
        self._run(
            _tool("pg_basebackup"), "-D", str(self.data), "-h", "127.0.0.1", "-p", str(self.primary.port),
            "-U", "postgres", "-R", "-X", "stream", "-c", "fast", "--no-sync",
        )  # fmt: skip
        return self

    def promote(self, timeout: float = 60) -> float:
        """Turn the standby into a primary; returns how long it took (pg_ctl promote -w)."""
        start = time.monotonic()
        self._run(_tool("pg_ctl"), "-D", str(self.data), "-w", "-t", str(int(timeout)), "promote")
        return time.monotonic() - start


def crash(cluster: PrivateCluster) -> None:
    """Stop a server the way a lost machine does: no checkpoint, clients are cut off."""
    cluster._run(_tool("pg_ctl"), "-D", str(cluster.data), "-m", "immediate", "-w", "stop", check=False)


def wait_until(predicate: Any, timeout: float = 30, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached after {timeout}s")
        time.sleep(0.05)


class ReplicatedPair:
    """A primary and its synchronous streaming standby, both on private clusters."""

    def __init__(self) -> None:
        self.primary = PrivateCluster()
        self.replica = ReplicaCluster(self.primary)

    def url(self, dbname: str, *hosts: PrivateCluster, **params: str) -> str:
        """``postgresql://postgres@127.0.0.1:P1,127.0.0.1:P2/dbname?k=v``: libpq's multi-host form."""
        netloc = ",".join(f"127.0.0.1:{c.port}" for c in (hosts or (self.primary, self.replica)))
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return f"postgresql://postgres@{netloc}/{dbname}" + (f"?{query}" if query else "")

    def start(self) -> ReplicatedPair:
        self.primary.init().start()
        self.replica.init().start()
        with psycopg.connect(self.primary.admin_url, autocommit=True) as conn:
            conn.execute("ALTER SYSTEM SET synchronous_standby_names = '*'")
            conn.execute("SELECT pg_reload_conf()")

            def synchronous() -> bool:
                row = conn.execute("SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'").fetchone()
                return bool(row and row[0] == 1)

            wait_until(synchronous, what="a synchronous standby")
        return self

    def crash_primary(self) -> None:
        crash(self.primary)

    def promote(self) -> float:
        return self.replica.promote()

    def destroy(self) -> None:
        for cluster in (self.replica, self.primary):
            cluster.stop()
            shutil.rmtree(cluster.dir, ignore_errors=True)

    def __enter__(self) -> ReplicatedPair:
        try:
            return self.start()
        except BaseException:
            self.destroy()
            raise

    def __exit__(self, *exc: Any) -> None:
        self.destroy()
