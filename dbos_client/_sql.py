"""Every statement the client runs, for one detected schema and dialect. Pure: no I/O.

The statements are built by named functions, grouped by job: ``_sql_reads``,
``_sql_writes`` and ``_sql_waits`` (shared helpers in ``_sql_common``). ``Queries`` is
their typed facade: each attribute is one statement, built and rendered to text on first
use and kept (psycopg would otherwise compose it on every execute, and a plain string
also hits psycopg's parsed-query cache). Columns a schema lacks are left out.

Postgres does every write in one statement. On SQLite the reads are the same statements,
and the writes Postgres does with data-modifying CTEs are a few ``sqlite_*`` statements
that the op (``_ops``) runs in one transaction.
"""

from __future__ import annotations

import json
from functools import cached_property
from typing import TYPE_CHECKING, Any

from . import _sql_bulk as bulk
from . import _sql_reads as reads
from . import _sql_waits as waits
from . import _sql_writes as writes
from ._schema import SchemaInfo
from ._sql_common import INTERNAL_QUEUE, NOW_MS, NULL_TOPIC, STREAM_BATCH, Target

if TYPE_CHECKING:
    from ._options import ListFilters

__all__ = ["INTERNAL_QUEUE", "NOW_MS", "NULL_TOPIC", "STREAM_BATCH", "Queries"]

#: Statements of each dialect only (the rest serve both).
_PG_ONLY = ("enqueue", "cancel", "delete", "resume", "enqueue_bulk", "resume_many")
_SQLITE_ONLY = (
    "sqlite_enqueue_insert", "sqlite_enqueue_inputs", "sqlite_queue_known", "sqlite_missing",
    "sqlite_cancel", "sqlite_delete", "sqlite_resume", "sqlite_resume_exists", "sqlite_resume_many",
)  # fmt: skip
_SHARED = (
    "find_existing", "find_deduplicated", "send", "get_event_value", "get_event", "get_all_events",
    "read_stream", "ready_waits", "get_status", "get_result", "exists", "list_steps",
    "send_bulk", "fork_descendants", "first_finished", "workflow_states",
)  # fmt: skip


class Queries:
    """The statements for one schema in one dialect. Build once per client, after detection."""

    def __init__(self, info: SchemaInfo, dialect: str = "postgresql") -> None:
        self.info = info
        self.dialect = dialect
        self.sqlite = dialect == "sqlite"
        self._t = Target(info, self.sqlite)
        #: The workflow_status columns enqueue takes from ``EnqueueRequest.row``.
        self.enqueue_columns = writes.enqueue_columns(self._t)
        #: The leading columns of get_status and list_workflows rows.
        self.status_fields = reads.STATUS_FIELDS
        self.send_has_serialization = "serialization" in writes.send_columns(self._t)
        self.has_streams = info.has("streams")

    def _only(self, name: str, sqlite: bool) -> None:
        if self.sqlite != sqlite:
            raise AttributeError(f"{name} is not a {self.dialect} statement")

    # -- both dialects ------------------------------------------------------------------

    @cached_property
    def find_existing(self) -> str:
        return self._t.render(reads.find_existing(self._t))

    @cached_property
    def find_deduplicated(self) -> str:
        return self._t.render(reads.find_deduplicated(self._t))

    @cached_property
    def send(self) -> str:
        return self._t.render(writes.send(self._t))

    @cached_property
    def get_event_value(self) -> str:
        return self._t.render(reads.get_event_value(self._t))

    @cached_property
    def get_event(self) -> str:
        return self._t.render(reads.get_event(self._t))

    @cached_property
    def get_all_events(self) -> str:
        return self._t.render(reads.get_all_events(self._t))

    @cached_property
    def read_stream(self) -> str:
        if not self.has_streams:
            raise AttributeError(f"{self.info.describe()} has no streams table")
        return self._t.render(reads.read_stream(self._t))

    @cached_property
    def ready_waits(self) -> str:
        """The shared poller's statement (see ``_sql_waits``)."""
        return self._t.render(waits.ready_waits(self._t))

    @cached_property
    def get_status(self) -> str:
        return self._t.render(reads.get_status(self._t))

    @cached_property
    def get_result(self) -> str:
        return self._t.render(reads.get_result(self._t))

    @cached_property
    def exists(self) -> str:
        return self._t.render(reads.exists(self._t))

    @cached_property
    def list_steps(self) -> str:
        return self._t.render(reads.list_steps(self._t))

    def list_workflows(self, f: ListFilters) -> tuple[str, dict[str, Any]]:
        """The statement and parameters for one list_workflows call (filters vary per call)."""
        statement, params = reads.list_workflows(self._t, f)
        return self._t.render(statement), params

    def json_param(self, value: Any) -> Any:
        """A JSON document as this database stores it: jsonb in Postgres, text in SQLite. None is
        JSON ``null``, not SQL NULL, as DBOS (SQLAlchemy's JSON type) stores a missing value."""
        if self.sqlite:
            return json.dumps(value)
        from psycopg.types.json import Jsonb

        return Jsonb(value)

    # -- Postgres: each write one statement -----------------------------------------------

    @cached_property
    def enqueue(self) -> str:
        self._only("enqueue", sqlite=False)
        return self._t.render(writes.pg_enqueue(self._t))

    @cached_property
    def cancel(self) -> str:
        self._only("cancel", sqlite=False)
        return self._t.render(writes.pg_cancel(self._t))

    @cached_property
    def delete(self) -> str:
        self._only("delete", sqlite=False)
        return self._t.render(writes.pg_delete(self._t))

    @cached_property
    def resume(self) -> str:
        self._only("resume", sqlite=False)
        return self._t.render(writes.pg_resume(self._t))

    # -- SQLite: each write a few statements, run by the op in one transaction ------------

    @cached_property
    def sqlite_enqueue_insert(self) -> str:
        self._only("sqlite_enqueue_insert", sqlite=True)
        return self._t.render(writes.sqlite_enqueue_insert(self._t))

    @cached_property
    def sqlite_enqueue_inputs(self) -> str | None:
        self._only("sqlite_enqueue_inputs", sqlite=True)
        statement = writes.sqlite_enqueue_inputs(self._t)
        return None if statement is None else self._t.render(statement)

    @cached_property
    def sqlite_queue_known(self) -> str | None:
        self._only("sqlite_queue_known", sqlite=True)
        statement = writes.sqlite_queue_known(self._t)
        return None if statement is None else self._t.render(statement)

    @cached_property
    def sqlite_missing(self) -> str:
        self._only("sqlite_missing", sqlite=True)
        return self._t.render(writes.sqlite_missing(self._t))

    @cached_property
    def sqlite_cancel(self) -> str:
        self._only("sqlite_cancel", sqlite=True)
        return self._t.render(writes.sqlite_cancel(self._t))

    @cached_property
    def sqlite_delete(self) -> tuple[str, ...]:
        self._only("sqlite_delete", sqlite=True)
        return tuple(self._t.render(statement) for statement in writes.sqlite_delete(self._t))

    @cached_property
    def sqlite_resume(self) -> str:
        self._only("sqlite_resume", sqlite=True)
        return self._t.render(writes.sqlite_resume(self._t))

    @cached_property
    def sqlite_resume_exists(self) -> str:
        self._only("sqlite_resume_exists", sqlite=True)
        return self._t.render(writes.sqlite_resume_exists(self._t))

    # -- bulk writes and fan-out waits (``_sql_bulk``) ------------------------------------

    @cached_property
    def send_bulk(self) -> str:
        """Postgres: every message in one INSERT from arrays; SQLite: ``send`` (run with executemany)."""
        return self.send if self.sqlite else self._t.render(bulk.pg_send_bulk(self._t))

    @cached_property
    def enqueue_bulk(self) -> str:
        self._only("enqueue_bulk", sqlite=False)
        return self._t.render(bulk.pg_enqueue_bulk(self._t))

    @cached_property
    def enqueue_bulk_fields(self) -> tuple[str, ...]:
        return bulk.pg_enqueue_bulk_fields(self._t)

    @cached_property
    def fork_descendants(self) -> str | None:
        statement = bulk.fork_descendants(self._t)
        return None if statement is None else self._t.render(statement)

    @cached_property
    def first_finished(self) -> str:
        return self._t.render(bulk.first_finished(self._t))

    @cached_property
    def workflow_states(self) -> str:
        return self._t.render(bulk.workflow_states(self._t))

    # -- all of them --------------------------------------------------------------------

    def statements(self) -> dict[str, str]:
        """Every fixed statement this schema and dialect has, by name, rendered (for tests and debugging)."""
        names = (*_SHARED, *(_SQLITE_ONLY if self.sqlite else _PG_ONLY))
        found: dict[str, str] = {}
        for name in names:
            if name == "read_stream" and not self.has_streams:
                continue
            value = getattr(self, name)
            if isinstance(value, tuple):
                found.update({f"{name}[{i}]": text for i, text in enumerate(value)})
            elif value is not None:
                found[name] = value
        return found

    # -- update_workflow_attributes, set_workflow_delay, resume_workflows -----------------

    def update_attributes(self, workflow_id: str, attributes: Any, merge: bool) -> tuple[str, dict[str, Any]]:
        """The statement and parameters for one update (a merge's keys vary per call). Rows: one if updated."""
        statement, params = writes.update_attributes(self._t, attributes, merge)
        return self._t.render(statement), {**params, "id": workflow_id}

    @cached_property
    def set_delay(self) -> str:
        self._only("set_delay", sqlite=False)
        return self._t.render(writes.pg_set_delay(self._t))

    @cached_property
    def sqlite_set_delay(self) -> str:
        self._only("sqlite_set_delay", sqlite=True)
        return self._t.render(writes.sqlite_set_delay(self._t))

    @cached_property
    def resume_many(self) -> str:
        self._only("resume_many", sqlite=False)
        return self._t.render(writes.pg_resume_many(self._t))

    @cached_property
    def sqlite_resume_many(self) -> str:
        self._only("sqlite_resume_many", sqlite=True)
        return self._t.render(writes.sqlite_resume_many(self._t))
