"""Schedules and debouncing without a database: cron, validation, statements, the public surface."""

from __future__ import annotations

import inspect
import random
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import test_public_api as public_api
from test_sql import TABLES_2X, TABLES_3X, info

import dbos_client
from dbos_client import (
    AsyncDBOSClient,
    DBOSClient,
    DebouncerClient,
    InvalidArgumentError,
    SchemaError,
    WorkflowSchedule,
    _cron,
    _debounce,
    _schedules,
)
from dbos_client import _sql_schedules as ss
from dbos_client._calls import ClientCore
from dbos_client._serialization import Codec
from dbos_client._sql import Queries

SCHEDULES = {
    "workflow_schedules": frozenset(
        {"schedule_id", "schedule_name", "workflow_name", "workflow_class_name", "schedule", "status", "context",
         "last_fired_at", "automatic_backfill", "cron_timezone", "queue_name", "application_name"}
    ),
    "application_versions": frozenset({"version_id", "version_name", "version_timestamp", "created_at", "application_name"}),
}  # fmt: skip
WS_DEBOUNCE = TABLES_3X["workflow_status"] | {"is_debounced", "debounce_deadline_epoch_ms"}
TABLES = {**TABLES_3X, **SCHEDULES, "workflow_status": WS_DEBOUNCE}


def core(app: str | None = None) -> ClientCore:
    return ClientCore(codec=Codec(), schema_name="dbos", database="db", application_name=app)


# -- cron ----------------------------------------------------------------------------------------

VALID = ["* * * * *", "0 * * * *", "*/5 * * * *", "* * * * * *", "0 12 * * mon-fri", "0 0 L * *", "0 0 * * L5",
         "0 0 * * 1#2", "15,45 2-6/2 * jan,jul *", "@hourly", "@daily", "0 22-2 * * *", "0 0 * * 5-1", "0 0 ? * *",
         "0 30 1 * * * 2025-2027", "5/15 * * * * *"]  # fmt: skip
INVALID = ["not a cron", "* * * *", "60 * * * *", "* 24 * * *", "* * 32 * *", "* * * 13 *", "* * * * 8",
           "*/0 * * * *", "", "0 0 * * 5L", "? * * * *", "@reboot", "0 0 * * L"]  # fmt: skip


@pytest.mark.parametrize("expression", VALID)
def test_valid_expressions(expression: str) -> None:
    assert _cron.is_valid(expression)


@pytest.mark.parametrize("expression", INVALID)
def test_invalid_expressions(expression: str) -> None:
    assert not _cron.is_valid(expression)


def test_next_after_examples() -> None:
    utc = timezone.utc
    hourly = _cron.parse("0 * * * *")
    assert _cron.next_after(hourly, datetime(2025, 6, 1, 0, 30, tzinfo=utc)) == datetime(2025, 6, 1, 1, tzinfo=utc)
    # Strictly after, and a naive start is UTC.
    assert _cron.next_after(hourly, datetime(2025, 6, 1, 1)).isoformat() == "2025-06-01T02:00:00+00:00"
    tokyo = _cron.next_after(_cron.parse("0 9 * * *"), datetime(2025, 6, 1, tzinfo=ZoneInfo("Asia/Tokyo")))
    assert tokyo.isoformat() == "2025-06-01T09:00:00+09:00"
    assert _cron.next_after(_cron.parse("0 0 29 2 *"), datetime(2025, 1, 1, tzinfo=utc)).year == 2028
    assert _cron.next_after(_cron.parse("0 0 * * 1#2"), datetime(2025, 6, 1, tzinfo=utc)).day == 9  # 2nd Monday


def test_next_after_matches_croniter() -> None:
    croniter = pytest.importorskip("croniter").croniter
    rng = random.Random(7)
    for expression in VALID:
        cron = _cron.parse(expression)
        for zone in (None, "Asia/Tokyo", "Europe/London"):
            tz = ZoneInfo(zone) if zone else timezone.utc
            for _ in range(10):
                start = datetime(2024, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=rng.randint(0, 86400 * 700))
                at = start.astimezone(tz)
                theirs = croniter(expression, at, second_at_beginning=True)
                for _ in range(3):
                    expected = theirs.get_next(datetime)
                    at = _cron.next_after(cron, at)
                    assert at.isoformat() == expected.isoformat(), (expression, zone)
    for expression in VALID + INVALID:
        assert _cron.is_valid(expression) == croniter.is_valid(expression, second_at_beginning=True), expression


# -- validation, before any I/O ----------------------------------------------------------------------


def entry(**changes: Any) -> dict[str, Any]:
    return {"schedule_name": "s", "workflow_name": "wf", "schedule": "* * * * *", **changes}


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"schedule": "not a cron"}, "Invalid cron schedule: 'not a cron'"),
        ({"cron_timezone": "Fake/Zone"}, "Invalid timezone: 'Fake/Zone'"),
        ({"shard_key": "k"}, "shard key"),
        ({"schedule_name": ""}, "schedule_name"),
        ({"automatic_backfill": "yes"}, "automatic_backfill"),
    ],
)
def test_create_refuses_bad_input_at_once(changes: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        _schedules.create_schedule(core(), entry(**changes))


@pytest.mark.parametrize("missing", ["schedule_name", "workflow_name", "schedule"])
def test_apply_names_the_missing_field(missing: str) -> None:
    bad = entry()
    del bad[missing]
    with pytest.raises(InvalidArgumentError, match=f"Schedule entry 1 is missing required field '{missing}'"):
        _schedules.apply_schedules(core(), [entry(), bad])


def test_backfill_wants_datetimes() -> None:
    with pytest.raises(InvalidArgumentError, match="start"):
        _schedules.backfill_schedule(core(), "s", "2025-01-01", datetime.now())


def test_stored_row_defaults_to_the_client_application() -> None:
    row = _schedules._row(core("app"), entry(context={"a": 1}))
    assert row["application_name"] == "app" and row["status"] == "ACTIVE" and row["automatic_backfill"] is False
    assert Codec().decode(row["context"], None) == {"a": 1}
    assert _schedules._row(core("app"), entry(application_name="other"))["application_name"] == "other"
    # As in DBOS: create_schedule(application_name=None) means the client's; an apply entry's explicit None, unclaimed.
    assert _schedules._row(core("app"), entry(application_name=None))["application_name"] == "app"
    assert _schedules._row(core("app"), entry(application_name=None), listed=True)["application_name"] is None
    assert _schedules._row(core("app"), entry(), listed=True)["application_name"] == "app"


# -- statements --------------------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", ["postgresql", "sqlite"])
def test_statements_render(dialect: str) -> None:
    q = Queries(info(TABLES), dialect)
    t = ss.target(q)
    for build in (ss.get_schedule, ss.schedule_owner, ss.insert_schedule, ss.upsert_schedule, ss.set_schedule_status,
                  ss.delete_schedule, ss.bounce, ss.bounce_inputs, ss.dedup_holder):  # fmt: skip
        assert t.render(build(t))
    upsert = t.render(ss.upsert_schedule(t))
    assert "COALESCE(w.application_name, excluded.application_name)" in upsert
    assert "status = excluded" not in upsert and "schedule_id = excluded" not in upsert
    statement, params = ss.list_schedules(t, ["ACTIVE"], None, ["a-", "b-"], ["app"])
    assert params == {"status_0": "ACTIVE", "prefix_0": "a-", "prefix_1": "b-", "app_0": "app"}
    assert "application_name IS NULL" in statement


def test_older_schedule_tables_write_only_their_columns() -> None:
    base = frozenset({"schedule_id", "schedule_name", "workflow_name", "workflow_class_name", "schedule", "status", "context"})
    q = Queries(info({**TABLES_3X, "workflow_schedules": base}))
    t = ss.target(q)
    assert ss.write_columns(t) == tuple(sorted(base, key=ss.COLUMNS.index))
    with pytest.raises(SchemaError, match="cron_timezone"):
        _schedules._check_columns(q, _schedules._row(core(), entry(cron_timezone="UTC")))
    _schedules._check_columns(q, _schedules._row(core(), entry()))


def test_a_schema_without_schedules_or_debouncing_names_the_feature() -> None:
    q = Queries(info(TABLES_2X))
    with pytest.raises(SchemaError, match="workflow_schedules"):
        ss.require_schedules(q)
    with pytest.raises(SchemaError, match="debounc"):
        ss.require_debounce(q)


# -- the public surface --------------------------------------------------------------------------------

SCHEDULE_CALLS = ["create_schedule", "list_schedules", "get_schedule", "delete_schedule", "pause_schedule",
                  "resume_schedule", "apply_schedules", "backfill_schedule", "trigger_schedule"]  # fmt: skip
#: The *_async names dbos.DBOSClient 3.4 has for schedules.
SCHEDULE_TWINS = ["create_schedule", "list_schedules", "get_schedule", "delete_schedule", "apply_schedules"]


def params(fn: object) -> list[tuple[str, object, object]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values() if p.name != "self"]  # type: ignore[arg-type]


@pytest.mark.parametrize("name", SCHEDULE_CALLS)
def test_schedule_calls_match_across_shells(name: str) -> None:
    assert params(getattr(DBOSClient, name)) == params(getattr(AsyncDBOSClient, name))
    assert inspect.iscoroutinefunction(getattr(AsyncDBOSClient, name))
    assert getattr(DBOSClient, name).__doc__ and getattr(AsyncDBOSClient, name).__doc__


@pytest.mark.parametrize("name", SCHEDULE_TWINS)
def test_schedule_async_twins(name: str) -> None:
    assert params(getattr(DBOSClient, f"{name}_async")) == params(getattr(AsyncDBOSClient, name))


def test_workflow_schedule_reads_like_dbos_typed_dict() -> None:
    s = WorkflowSchedule("id", "n", "wf", None, "* * * * *", "ACTIVE", {"a": 1})
    assert s["status"] == "ACTIVE" and s.get("queue_name") is None and s.get("nope", 3) == 3
    assert "context" in s and "nope" not in s and dict(s)["schedule_name"] == "n"  # type: ignore[call-overload]
    s["context"] = None
    assert s.context is None
    with pytest.raises(KeyError):
        s["nope"]


@pytest.mark.parametrize("module", ["_cron", "_sql_schedules", "_schedules", "_debounce"])
def test_new_modules_do_no_io(module: str) -> None:
    public_api.test_pure_module_does_no_io(module)
    if module != "_debounce":  # the debouncer stamps time.time(), as DBOS does
        public_api.test_pure_module_source_grep(module)


# -- debouncing ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "option, match",
    [
        ({"deduplication_id": "d"}, "deduplication_id"), ({"delay_seconds": 1.0}, "delay"), ({"priority": 1}, "priority"),
        ({"queue_partition_key": "p"}, "partition key"), ({"duplication_policy": "return-existing"}, "return-existing"),
        ({"workflow_id_reuse_policy": "reject"}, "reject"),
    ],
)  # fmt: skip
def test_debounce_refuses_the_options_it_owns(option: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        _debounce.debounce(core(), {"workflow_name": "wf", "queue_name": "q", **option}, None, None, None, "k", 1, (), {})


def test_debounce_checks_its_arguments_at_once() -> None:
    options = {"workflow_name": "wf", "queue_name": "q"}
    with pytest.raises(InvalidArgumentError, match="debounce_period_sec"):
        _debounce.debounce(core(), options, None, None, None, "k", -1, (), {})
    with pytest.raises(InvalidArgumentError, match="debounce_key"):
        _debounce.debounce(core(), options, None, None, None, 3, 1, (), {})
    with pytest.raises(InvalidArgumentError, match="debounce_timeout_sec"):
        DebouncerClient(DBOSClient(lazy=True, system_database_url="postgresql://u@127.0.0.1:1/db"), options, debounce_timeout_sec=-1)  # type: ignore[arg-type]


def test_debounce_decisions_are_dbos() -> None:
    b = _debounce._Bounce
    assert _debounce._classify(b(bounced="w"), "wf", None) == "return"
    assert _debounce._classify(b(), "wf", None) == "enqueue"
    assert _debounce._classify(b(holder="h", holder_is_debounced=False, holder_name="wf"), "wf", None) == "raise"
    assert _debounce._classify(b(holder="h", holder_is_debounced=True, holder_name="other"), "wf", None) == "raise"
    assert _debounce._classify(b(None, "h", True, "wf", "app-a"), "wf", "app-b") == "raise"
    assert _debounce._classify(b(None, "h", True, "wf", "app-a"), "wf", None) == "retry"


def test_exports() -> None:
    for name in ("DebouncerClient", "WorkflowSchedule", "ClientScheduleInput", "ScheduleNotFoundError", "ScheduleConflictError"):
        assert name in dbos_client.__all__


def test_daylight_saving_time_fires_as_croniter_does() -> None:
    croniter = pytest.importorskip("croniter").croniter
    starts = [datetime(2024, 3, 10, 5, tzinfo=timezone.utc), datetime(2024, 3, 31, tzinfo=timezone.utc),
              datetime(2024, 11, 3, 4, tzinfo=timezone.utc), datetime(2024, 10, 27, tzinfo=timezone.utc)]  # fmt: skip
    for expression in ("*/20 * * * *", "0 30 2 * * *", "0 30 1 * * *", "30 * * * *", "0 15 1,2,3 * * *"):
        cron = _cron.parse(expression)
        for zone in ("America/New_York", "Europe/London"):
            for start in starts:
                at = start.astimezone(ZoneInfo(zone))
                theirs = croniter(expression, at, second_at_beginning=True)
                for _ in range(12):
                    at = _cron.next_after(cron, at)
                    assert at.isoformat() == theirs.get_next(datetime).isoformat(), (expression, zone, start)
