"""What SQLite needs that the Postgres statements cannot give it. Pure: no I/O.

The statements of ``_sql`` are shared where SQLite understands them (nearly all reads);
they are rendered once and their placeholders translated. What differs:

* SQLite has no data-modifying CTEs, so each write that Postgres does in one statement
  (enqueue, cancel, delete, resume) is a ``Script``: a few statements the driver runs in
  one ``BEGIN IMMEDIATE`` transaction, atomic all the same.
* No arrays and no ``unnest``/``ANY``: a list parameter is bound as JSON text and read
  back with ``json_each``.
* No ``now()``: the epoch milliseconds come from ``julianday`` (``unixepoch('subsec')``
  needs SQLite 3.42; Python 3.11 ships 3.40).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from psycopg import sql

#: Epoch milliseconds, as precise as SQLite's clock.
NOW_MS = sql.SQL("CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)")
#: The schema name SQLite gives the database file itself: ``"main".workflow_status``.
SCHEMA = "main"

_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%s|%%")


def render(statement: Any) -> str:
    """A psycopg statement as SQLite text: ``%(name)s`` -> ``:name``, ``%s`` -> ``?``."""
    text = statement.as_string(None) if isinstance(statement, sql.Composable) else statement

    def swap(m: re.Match[str]) -> str:
        if m.group(1):
            return f":{m.group(1)}"
        return "?" if m.group(0) == "%s" else "%"

    return _PLACEHOLDER.sub(swap, text)


def bind(params: Any) -> Any:
    """Parameters as sqlite3 binds them: lists become JSON text (read with json_each)."""
    if params is None:
        return ()
    if isinstance(params, dict):
        return {k: json.dumps(v) if isinstance(v, (list, tuple)) else v for k, v in params.items()}
    return [json.dumps(v) if isinstance(v, (list, tuple)) else v for v in params]


class Script:
    """Several statements run as one transaction by the SQLite driver; returns rows.

    ``write`` scripts run under ``BEGIN IMMEDIATE``: the write lock is taken first, so
    two writers never deadlock upgrading a read lock (the busy timeout could not help).
    """

    def __init__(self, name: str, run: Callable[[Any, dict[str, Any]], list[tuple[Any, ...]]], write: bool = True) -> None:
        self.name = name
        self.run = run
        self.write = write

    def __repr__(self) -> str:
        return f"Script({self.name})"


def _detect(conn: Any, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    tables: dict[str, list[str]] = {}
    rows = conn.execute(
        "SELECT m.name, p.name FROM sqlite_master AS m JOIN pragma_table_info(m.name) AS p"
        " WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'"
    ).fetchall()
    for table, column in rows:
        tables.setdefault(table, []).append(column)
    return [(tables, False)]  # no triggers, no NOTIFY: never a notifications trigger


#: Every table and column of the file, in the shape Postgres detection returns.
DETECT = Script("detect", _detect, write=False)


def enqueue_script(insert: str, insert_inputs: str | None, find_existing: str, queue_known: str | None) -> Script:
    def run(conn: Any, p: dict[str, Any]) -> list[tuple[Any, ...]]:
        inserted = bool(conn.execute(insert, p).fetchall())
        if inserted and insert_inputs is not None:
            conn.execute(insert_inputs, p)
        # As in Postgres, where the outer SELECT sees the row only when it was already there.
        existing = None if inserted else conn.execute(find_existing, p).fetchone()
        known = bool(conn.execute(queue_known, p).fetchone()[0]) if queue_known is not None else None
        return [(inserted, *(existing or (None,) * 6), known)]

    return Script("enqueue", run)


def _missing(conn: Any, p: dict[str, Any], missing: str) -> list[str]:
    return [row[0] for row in conn.execute(missing, p).fetchall()]


def bulk_script(name: str, missing: str, statements: list[str]) -> Script:
    """Cancel or delete: unknown ids change nothing and are named; else every statement runs."""

    def run(conn: Any, p: dict[str, Any]) -> list[tuple[Any, ...]]:
        unknown = _missing(conn, p, missing)
        if unknown:
            return [(unknown, 0)]
        count = 0
        for statement in statements:
            count = conn.execute(statement, p).rowcount  # the last one counts workflow rows
        return [([], count)]

    return Script(name, run)


def resume_script(update: str, exists: str) -> Script:
    def run(conn: Any, p: dict[str, Any]) -> list[tuple[Any, ...]]:
        count = conn.execute(update, p).rowcount
        found = conn.execute(exists, p).fetchone()[0]
        return [(bool(found), count)]

    return Script("resume", run)
