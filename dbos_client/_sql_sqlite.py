"""What SQLite needs that the Postgres statements cannot give it. Pure: no I/O.

The statement builders serve SQLite too (``Target.sqlite`` picks its variants); their
text is rendered once and its placeholders translated here. What differs:

* SQLite has no data-modifying CTEs, so each write that Postgres does in one statement
  (enqueue, cancel, delete, resume) is a few ``sqlite_*`` statements that the op runs in
  one ``Transaction`` (the driver opens it with ``BEGIN IMMEDIATE``), atomic all the same.
* No arrays and no ``unnest``/``ANY``: a list parameter is bound as JSON text and read
  back with ``json_each``.
* No ``now()``: the epoch milliseconds come from ``julianday`` (``unixepoch('subsec')``
  needs SQLite 3.42; Python 3.11 ships 3.40).
"""

from __future__ import annotations

import json
import re
from typing import Any

from psycopg import sql

#: Epoch milliseconds, as precise as SQLite's clock.
NOW_MS = sql.SQL("CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)")
#: The schema name SQLite gives the database file itself: ``"main".workflow_status``.
SCHEMA = "main"

#: Every table and column of the file. Rows: (table, column); no triggers, no NOTIFY.
DETECT = (
    "SELECT m.name, p.name FROM sqlite_master AS m JOIN pragma_table_info(m.name) AS p"
    " WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'"
)

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


def detected_tables(rows: list[tuple[str, str]]) -> dict[str, list[str]]:
    """DETECT's rows in the shape Postgres detection returns: {table: [columns]}."""
    tables: dict[str, list[str]] = {}
    for table, column in rows:
        tables.setdefault(table, []).append(column)
    return tables
