"""``--format table``: a list printed as aligned columns for a person, instead of JSON.

JSON stays the default and the contract for scripts; a table is for reading. Each kind of
row has its columns here (``WORKFLOW_COLUMNS``...); a column is a header and a function of
the row's JSON object. Rendering is pure (``render_table``), so it is tested without a terminal.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any, TextIO

#: A column: its header, and how to get its cell's value from a row's JSON object.
Column = tuple[str, Callable[[dict[str, Any]], Any]]

FORMATS = ("json", "table")


def epoch_ms(value: Any) -> str:
    """Epoch milliseconds as a UTC ISO time to the second (``2026-01-31T12:00:00Z``); else as is."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return cell(value)
    try:
        moment = datetime.fromtimestamp(value / 1000, timezone.utc)
    except (OverflowError, OSError, ValueError):
        return cell(value)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def cell(value: Any) -> str:
    """A table cell: text as is, nothing (None) empty, anything else compact JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return " ".join(value.split())  # a newline would break the row
    return json.dumps(value)


def rate(limit: Any) -> str:
    """``{"limit": 50, "period": 1.5}`` as ``50/1.5s``."""
    if isinstance(limit, dict) and "limit" in limit and "period" in limit:
        return f"{limit['limit']}/{limit['period']:g}s"
    return cell(limit)


def field(name: str, show: Callable[[Any], str] = cell) -> Callable[[dict[str, Any]], str]:
    return lambda row: show(row.get(name))


WORKFLOW_COLUMNS: Sequence[Column] = (
    ("WORKFLOW_ID", field("workflow_id")),
    ("STATUS", field("status")),
    ("NAME", field("name")),
    ("QUEUE", field("queue_name")),
    ("CREATED", field("created_at", epoch_ms)),
    ("UPDATED", field("updated_at", epoch_ms)),
    ("APP_VERSION", field("app_version")),
)
STEP_COLUMNS: Sequence[Column] = (
    ("ID", field("function_id")),
    ("NAME", field("function_name")),
    ("CHILD_WORKFLOW_ID", field("child_workflow_id")),
    ("STARTED", field("started_at_epoch_ms", epoch_ms)),
    ("COMPLETED", field("completed_at_epoch_ms", epoch_ms)),
    ("ERROR", lambda row: cell((row.get("error") or {}).get("type") if isinstance(row.get("error"), dict) else row.get("error"))),
)
QUEUE_COLUMNS: Sequence[Column] = (
    ("NAME", field("name")),
    ("CONCURRENCY", field("concurrency")),
    ("WORKER_CONCURRENCY", field("worker_concurrency")),
    ("RATE_LIMIT", field("limiter", rate)),
    ("PARTITION_CONCURRENCY", field("partition_concurrency")),
    ("POLLING_INTERVAL", lambda row: cell(row.get("polling_interval_sec")) + "s"),
    ("APPLICATION", field("application_name")),
)
VERSION_COLUMNS: Sequence[Column] = (
    ("VERSION", field("version_name")),
    ("TIMESTAMP", field("version_timestamp", epoch_ms)),
    ("CREATED", field("created_at", epoch_ms)),
    ("APPLICATION", field("application_name")),
    ("VERSION_ID", field("version_id")),
)
SCHEDULE_COLUMNS: Sequence[Column] = (
    ("NAME", field("schedule_name")),
    ("STATUS", field("status")),
    ("CRON", field("schedule")),
    ("TIMEZONE", lambda row: cell(row.get("cron_timezone") or "UTC")),
    ("WORKFLOW", lambda row: ".".join(cell(row.get(k)) for k in ("workflow_class_name", "workflow_name") if row.get(k))),
    ("QUEUE", field("queue_name")),
    ("LAST_FIRED", field("last_fired_at")),
    ("APPLICATION", field("application_name")),
)


def render_table(rows: Sequence[dict[str, Any]], columns: Sequence[Column]) -> list[str]:
    """The header line, then one line per row; columns left-aligned, two spaces apart.

    A column empty in every row is still shown: the same command prints the same columns.
    """
    cells = [[header for header, _ in columns]]
    cells.extend([get(row) for _, get in columns] for row in rows)
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    return ["  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip() for line in cells]


def emit_rows(rows: list[dict[str, Any]], fmt: str, columns: Sequence[Column], out: TextIO | None = None) -> None:
    """Print a list: a JSON array (``fmt == "json"``), or a table."""
    from ._output import emit

    if fmt == "table":
        import sys

        out = out or sys.stdout
        out.write("".join(line + "\n" for line in render_table(rows, columns)))
        out.flush()
    else:
        emit(rows, out)
