"""What every statement builder shares: the target schema and dialect, and constants. Pure.

The builders (``_sql_reads``, ``_sql_writes``, ``_sql_waits``) are plain functions of a
``Target``, each returning one composable statement; ``Queries`` (``_sql``) renders them
once per client. A builder is shared by both dialects unless its name or a ``Target``
branch says otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from psycopg import sql

from . import _sql_sqlite as lite
from ._schema import SchemaInfo
from .models import WorkflowStatusString

#: Epoch milliseconds, in Postgres (SQLite's is ``_sql_sqlite.NOW_MS``).
NOW_MS = sql.SQL("(extract(epoch FROM now()) * 1000)::bigint")
#: Topic stored for "no topic"; DBOS's recv(None) looks only for this value.
NULL_TOPIC = "__null__topic__"
INTERNAL_QUEUE = "_dbos_internal_queue"
STREAM_BATCH = 100
#: The statuses as ``WorkflowStatusString`` declares them, so rendered lists are stable.
STATUS_ORDER = tuple(value for name, value in vars(WorkflowStatusString).items() if name.isupper())


def status_in(statuses: Iterable[str]) -> sql.Composed:
    """A set of statuses (from ``models``) as an SQL list, in declaration order: ``('SUCCESS', 'ERROR')``."""
    chosen = set(statuses)
    return sql.SQL("({})").format(sql.SQL(", ").join(sql.Literal(s) for s in STATUS_ORDER if s in chosen))


def idents(names: Iterable[str]) -> sql.Composed:
    return sql.SQL(", ").join(sql.Identifier(n) for n in names)


@dataclass(frozen=True)
class Target:
    """One detected schema in one dialect: what a builder needs to know."""

    info: SchemaInfo
    sqlite: bool = False

    @property
    def s(self) -> sql.Identifier:
        return sql.Identifier(self.info.schema)

    @property
    def v3(self) -> bool:
        return self.info.is_v3

    @property
    def now_ms(self) -> sql.Composable:
        return lite.NOW_MS if self.sqlite else NOW_MS

    @property
    def limit(self) -> sql.Composable:
        """No limit is NULL in Postgres; SQLite refuses NULL and means -1."""
        return sql.SQL("coalesce(%(limit)s, -1)" if self.sqlite else "%(limit)s")

    def ws_has(self, column: str) -> bool:
        return self.info.has("workflow_status", column)

    def cast(self, placeholder: str, pg_type: str) -> sql.Composable:
        """A typed placeholder; SQLite's values carry their own types."""
        return sql.SQL(placeholder if self.sqlite else f"{placeholder}::{pg_type}")

    def opt(self, table: str, column: str, alias: str) -> sql.Composable:
        """A column if the schema has it, else NULL, so row shapes never vary."""
        if self.info.has(table, column):
            return sql.SQL("{}.{}").format(sql.Identifier(alias), sql.Identifier(column))
        return sql.SQL("NULL")

    def render(self, statement: sql.Composable) -> str:
        """The statement's text, once: SQLite's placeholders are ``:name`` and ``?``."""
        return lite.render(statement) if self.sqlite else statement.as_string(None)
