"""The SQLite driver: runs the client's statements on a DBOS application's SQLite file.

Python's own ``sqlite3``, no other dependency. Both shells use it: ``DBOSClient`` calls
it directly, ``AsyncDBOSClient`` in a worker thread (sqlite3 has no async API, and a
local file answers in microseconds, so a thread per call in flight is cheap).

What a DBOS SQLite file needs from every connection, as the runtime does it:
* ``PRAGMA foreign_keys=ON``: off by default, and then a send to a workflow that does
  not exist would be accepted silently instead of refused;
* a busy timeout: the application writes under ``BEGIN IMMEDIATE`` and the file is in
  rollback-journal mode, so a read can meet a lock. Each attempt waits for the lock at
  most until the caller's deadline (and never more than ``_MAX_BUSY_WAIT``); the shell's
  retry policy then decides, within the same deadline, whether to try again.
The file is opened read-write but never created: a missing file is an error, not a new
empty database, and the client never changes the journal mode or the schema.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from psycopg import sql

from ._ops import ForeignKeyViolation, Op, Query, UniqueViolation, run_inline
from ._sql_sqlite import bind, render
from .errors import DatabaseUnavailableError, SchemaError

#: Longest one attempt waits for a lock before the retry policy gets a say.
_MAX_BUSY_WAIT = 5.0
#: Even a call at its deadline gets this long for a lock, for its final read.
_MIN_BUSY_WAIT = 0.05
_DEDUP_COLUMNS = "workflow_status.queue_name, workflow_status.deduplication_id"
T = TypeVar("T")


class _Connection(sqlite3.Connection):
    #: The busy timeout last set on this connection, so it is set only when it changes.
    busy_ms = 0


class SqliteDriver:
    """Connections to one SQLite file, and the statements run on them. Thread-safe."""

    def __init__(self, path: str, display_url: str, max_idle: int) -> None:
        self._path = path
        self._display_url = display_url
        self._max_idle = max_idle
        self._idle: list[_Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        self._watch: _Connection | None = None
        #: Held while the watch connection is in use: closing a sqlite3 connection while
        #: another thread runs a statement on it can crash the interpreter (seen: a segfault
        #: when an async client closed while its poller's worker thread was in ``changed``).
        self._watch_lock = threading.Lock()
        self._seen_version: int | None = None

    # -- connections -----------------------------------------------------------------

    def _connect(self) -> _Connection:
        if not os.path.exists(self._path):
            raise SchemaError(
                f"there is no SQLite system database at {self._display_url}: start the DBOS application "
                "first (this client never creates or migrates it)"
            )
        uri = Path(self._path).absolute().as_uri() + "?mode=rw"
        try:
            # isolation_level=None: autocommit; a Transaction opens its own.
            conn = sqlite3.connect(
                uri, uri=True, isolation_level=None, check_same_thread=False, timeout=_MAX_BUSY_WAIT, factory=_Connection
            )
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as exc:
            raise DatabaseUnavailableError(
                f"cannot open the SQLite system database at {self._display_url}: {exc}", url=self._display_url
            ) from exc
        conn.busy_ms = int(_MAX_BUSY_WAIT * 1000)
        return conn

    def _acquire(self) -> _Connection:
        with self._lock:
            if self._closed:
                from .errors import DBOSClientError

                raise DBOSClientError("this client is closed")
            if self._idle:
                return self._idle.pop()
        return self._connect()

    def _release(self, conn: _Connection, broken: bool) -> None:
        with self._lock:
            if not broken and not self._closed and len(self._idle) < self._max_idle:
                self._idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
        with self._watch_lock:  # waits for a ``changed`` in flight (microseconds)
            watch, self._watch = self._watch, None
        if watch is not None:
            watch.close()

    # -- statements ------------------------------------------------------------------

    def execute(self, query: Query, limit: float | None) -> Any:
        """Run one Query on a pooled connection; a lock is waited for until ``limit`` at most."""
        conn = self._acquire()
        broken = False
        try:
            _set_busy_wait(conn, limit)
            return run_statement(conn, query, self._display_url)
        except BaseException as exc:
            broken = conn.in_transaction or isinstance(exc, SchemaError)
            raise
        finally:
            self._release(conn, broken)

    def transaction(self, body: Callable[[], Op[T]], limit: float | None) -> T:
        """Run a ``Transaction``'s body on one connection under ``BEGIN IMMEDIATE``.

        The write lock is taken first, so two writers never deadlock upgrading a read
        lock (the busy timeout could not help). Commits when the body returns, rolls back
        if it raises. Waiting for the lock (``BEGIN``) ends at ``limit`` at most.
        """
        conn = self._acquire()
        broken = False
        try:
            _set_busy_wait(conn, limit)
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = run_inline(body(), lambda query: run_statement(conn, query, self._display_url))
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result
        except BaseException as exc:
            broken = conn.in_transaction or isinstance(exc, SchemaError)
            raise
        finally:
            self._release(conn, broken)

    # -- the poller's gate -----------------------------------------------------------

    def changed(self) -> bool:
        """True if any other connection committed to the file since the last call.

        ``PRAGMA data_version`` on a connection of its own costs no table read, so the
        shared poller asks this every tick and runs its query only after a commit: an
        idle client with waiting calls reads nothing. Called from the poller only (its thread,
        or the async poller's worker thread), never twice at once; ``close`` may run meanwhile.
        """
        with self._watch_lock:
            if self._closed:
                return False
            try:
                if self._watch is None:
                    self._watch = self._connect()
                version = self._watch.execute("PRAGMA data_version").fetchone()[0]
            except Exception:  # noqa: BLE001 - when unsure, let the poller look
                return True
        changed: bool = version != self._seen_version
        self._seen_version = version
        return changed


def run_statement(conn: sqlite3.Connection, query: Query, where: str) -> Any:
    """One Query on ``conn``: its rows as ``query.fetch`` asks, SQLite's errors as the ops know them."""
    # Queries(dialect="sqlite") renders its statements once; only one-off ones (the
    # migration-version query) still arrive composable.
    text = render(query.statement) if isinstance(query.statement, sql.Composable) else query.statement
    if query.many:
        return _run_many(conn, query, text, where)
    try:
        cur = conn.execute(text, bind(query.params))
        if query.fetch == "none":
            return None
        rows = cur.fetchall()
    except sqlite3.DatabaseError as exc:
        ours = _as_the_ops_know_it(exc, where)
        if ours is None:
            raise
        raise ours from exc
    if query.fetch == "one":
        return rows[0] if rows else None
    return rows


def _run_many(conn: sqlite3.Connection, query: Query, text: str, where: str) -> Any:
    """A ``many`` Query (a write that returns no rows): ``executemany``, one statement per set."""
    if query.fetch != "none":
        raise ValueError("a many Query returns no rows on SQLite")
    try:
        conn.executemany(text, [bind(p) for p in query.params])
    except (sqlite3.IntegrityError, sqlite3.OperationalError) as exc:
        ours = _as_the_ops_know_it(exc, where)
        if ours is None:
            raise
        raise ours from exc
    return None


def _as_the_ops_know_it(exc: sqlite3.DatabaseError, where: str) -> Exception | None:
    """SQLite's error as the ops know it, or None: raise it as it is (busy, locked: retried)."""
    if isinstance(exc, sqlite3.IntegrityError):
        return _constraint(exc)
    if isinstance(exc, sqlite3.OperationalError):
        if "no such table" in str(exc) or "no such column" in str(exc):
            return SchemaError(f"the DBOS tables in {where} changed under this client ({exc})")
        return None
    # "file is not a database", "malformed"
    return SchemaError(f"{where} is not a usable SQLite database ({exc})")


def run_on_connection(conn: sqlite3.Connection, op: Op[T]) -> T:
    """Drive ``op`` on a connection the caller owns, in the caller's transaction: no
    BEGIN or COMMIT of ours, no retry (a failed statement is the caller's to handle)."""
    return run_inline(op, lambda query: run_statement(conn, query, "the caller's SQLite connection"))


def _set_busy_wait(conn: _Connection, limit: float | None) -> None:
    wait = _MAX_BUSY_WAIT if limit is None else min(_MAX_BUSY_WAIT, max(_MIN_BUSY_WAIT, limit - time.monotonic()))
    ms = int(wait * 1000)
    if ms != conn.busy_ms:
        conn.execute(f"PRAGMA busy_timeout={ms}")
        conn.busy_ms = ms


def _constraint(exc: sqlite3.IntegrityError) -> Exception:
    """SQLite names no constraint, only its columns: map to what the ops understand."""
    text = str(exc)
    if "FOREIGN KEY constraint failed" in text:
        return ForeignKeyViolation(text)
    if "UNIQUE constraint failed" in text:
        return UniqueViolation(text, "uq_workflow_status_dedup_id" if _DEDUP_COLUMNS in text else None)
    return exc


def is_busy(exc: BaseException) -> bool:
    """A lock held by another connection outlasted this attempt's busy timeout."""
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+
    if code is not None:
        return bool(code & 0xFF in (5, 6))  # SQLITE_BUSY, SQLITE_LOCKED (extended codes keep them in the low byte)
    return "locked" in str(exc) or "busy" in str(exc)
