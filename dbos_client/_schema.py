"""What the system database holds: tables and columns, read once per client. Pure parsing.

Migration numbers are not comparable across DBOS SDKs (below 100 each SDK has its own
history), so features are detected by the columns present, never by version number.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from .errors import SchemaError

#: One round trip: every column of every table in the schema, plus the NOTIFY trigger.
DETECT = sql.SQL(
    """
    SELECT
      (SELECT coalesce(json_object_agg(t.table_name, t.cols), '{}')
         FROM (SELECT table_name, json_agg(column_name::text) AS cols
                 FROM information_schema.columns
                WHERE table_schema = %(schema)s
                GROUP BY table_name) AS t) AS tables,
      EXISTS (SELECT 1 FROM pg_trigger tg
                JOIN pg_class c ON c.oid = tg.tgrelid
                JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = %(schema)s AND tg.tgname = 'dbos_notifications_trigger') AS trigger
    """
)

_REQUIRED_TABLES = ("workflow_status", "notifications", "workflow_events")


@dataclass(frozen=True)
class SchemaInfo:
    """The features of one DBOS system schema, as detected from its columns."""

    schema: str
    tables: Mapping[str, frozenset[str]]
    notifications_trigger: bool
    migration_version: int | None = None

    def columns(self, table: str) -> frozenset[str]:
        return self.tables.get(table, frozenset())

    def has(self, table: str, column: str | None = None) -> bool:
        if column is None:
            return table in self.tables
        return column in self.columns(table)

    @property
    def is_v3(self) -> bool:
        """3.x keeps inputs and outputs in their own tables (migration #109)."""
        return self.has("workflow_input") and self.has("workflow_output")

    @property
    def generation(self) -> str:
        return "3.x" if self.is_v3 else "2.x or older"

    def describe(self) -> str:
        version = f", migration {self.migration_version}" if self.migration_version is not None else ""
        return f"DBOS {self.generation} schema {self.schema!r}{version}"


def parse_detection(schema: str, database: str, tables_json: Any, trigger: bool, sqlite: bool = False) -> SchemaInfo:
    """Turn the DETECT row into a SchemaInfo, refusing what the client cannot use."""
    tables = {name: frozenset(cols) for name, cols in (tables_json or {}).items()}
    if sqlite and "workflow_status" not in tables:
        raise SchemaError(
            f"the SQLite file {database!r} holds no DBOS system database. Point the client at the file "
            "the DBOS application uses (its system_database_url), and start that application first "
            "(this client never creates or migrates the tables).",
            schema=schema,
        )
    if not tables:
        raise SchemaError(
            f"database {database!r} has no DBOS system schema {schema!r}. Start a DBOS application "
            "against it first (this client never creates or migrates the schema), or pass the "
            "schema name the application uses as dbos_system_schema.",
            schema=schema,
        )
    missing = [t for t in _REQUIRED_TABLES if t not in tables]
    if missing:
        raise SchemaError(
            f"schema {schema!r} in database {database!r} is not a usable DBOS system schema: "
            f"table(s) {', '.join(missing)} missing. It may predate DBOS 1.13, which this client does not support.",
            schema=schema,
        )
    if "shard_key" in tables["workflow_status"]:
        raise SchemaError(
            f"schema {schema!r} in database {database!r} is a sharded DBOS system schema, "
            "which this client does not support.",
            schema=schema,
        )
    return SchemaInfo(schema=schema, tables=tables, notifications_trigger=bool(trigger))


def migration_version_query(info: SchemaInfo) -> sql.Composed | None:
    if not info.has("dbos_migrations", "version"):
        return None
    return sql.SQL("SELECT max(version) FROM {}.dbos_migrations").format(sql.Identifier(info.schema))
