"""The SQLite poller's gate (``SqliteDriver.changed``) and ``close`` from another thread.

A real (temporary) SQLite file, no DBOS: closing a sqlite3 connection while another thread
runs a statement on it can crash the interpreter. An async client on SQLite did exactly
that once (a segfault in the interop suite): its poller's worker thread was in ``changed``
when the client closed. ``close`` must wait for it, and ``changed`` after ``close`` must
not reopen the file.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from dbos_client._sqlite import SqliteDriver


def _driver(tmp_path: Path) -> SqliteDriver:
    path = tmp_path / "app.sqlite"
    sqlite3.connect(path).close()
    return SqliteDriver(str(path), f"sqlite:///{path}", max_idle=1)


def test_changed_sees_a_commit_and_then_nothing(tmp_path: Path) -> None:
    driver = _driver(tmp_path)
    assert driver.changed()  # the first look always reads
    assert not driver.changed()
    with sqlite3.connect(tmp_path / "app.sqlite") as other:
        other.execute("CREATE TABLE t (x INTEGER)")
    assert driver.changed()
    driver.close()


def test_close_while_the_poller_is_in_changed_is_safe(tmp_path: Path) -> None:
    def poll(driver: SqliteDriver, stop: threading.Event) -> None:
        while not stop.is_set():
            driver.changed()

    for _ in range(20):
        driver = _driver(tmp_path)
        stop = threading.Event()
        poller = threading.Thread(target=poll, args=(driver, stop))
        poller.start()
        driver.close()
        stop.set()
        poller.join(5)
        assert not poller.is_alive()
        assert driver._watch is None  # not reopened after close
        assert driver.changed() is False
