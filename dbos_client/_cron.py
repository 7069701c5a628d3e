"""Cron expressions as DBOS 3.4 reads them (``croniter(..., second_at_beginning=True)``). Pure.

DBOS validates a schedule with ``croniter.is_valid(expr, second_at_beginning=True)`` and
walks it with ``croniter(expr, start).get_next(datetime)``; the client needs both (to
refuse a bad expression before writing it, and to list a backfill's times), without
croniter. This module reimplements the part DBOS uses:

* 5 fields ``minute hour day-of-month month day-of-week``, 6 with a leading ``second``,
  7 with a trailing ``year`` (1970-2099); or an alias: ``@yearly``, ``@annually``,
  ``@monthly``, ``@weekly``, ``@daily``, ``@midnight``, ``@hourly``;
* per field: ``*``, ``?`` (day fields), ``n``, ``a-b``, ``*/s``, ``a-b/s``, ``a/s``,
  comma lists, month and weekday names (``jan``, ``mon``), weekday 7 as Sunday;
  ``L`` (last day of the month), ``Ln`` (last weekday n of the month) and ``n#k``
  (k-th weekday n of the month); a range may wrap (``22-2``, ``fri-mon``). Not
  supported (refused as invalid, where croniter accepts them): ``W`` (nearest weekday)
  and croniter's ``H`` hashed values;
* croniter's day rule: when both day-of-month and day-of-week are restricted, a day
  matching either one fires.

``next_after`` returns the first matching time strictly after ``start`` in ``start``'s
time zone, as an aware datetime, like ``get_next``: the scheduler's workflow ids are
built from its ``isoformat()``, so a backfill finds the runs the application made.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo

__all__ = ["CronError", "Cron", "is_valid", "parse", "next_after"]

_ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTHS = {name: i for i, name in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
_DAYS = {name: i for i, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
#: (low, high, names) per field, in the order of a 7-field expression.
_SECOND, _MINUTE, _HOUR, _DOM, _MONTH, _DOW, _YEAR = (
    (0, 59, None), (0, 59, None), (0, 23, None), (1, 31, None), (1, 12, _MONTHS), (0, 7, _DAYS), (1970, 2099, None),
)  # fmt: skip
#: How many years ahead next_after searches before calling an expression impossible (Feb 30).
_HORIZON_YEARS = 100


class CronError(ValueError):
    """Not a cron expression DBOS accepts."""


@dataclass(frozen=True)
class Cron:
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    years: frozenset[int] | None
    #: "L" in day-of-month: the month's last day.
    last_day: bool
    #: "Ln": the last weekday n of the month.
    last_weekdays: frozenset[int]
    #: "n#k": the k-th weekday n of the month.
    nth_weekdays: frozenset[tuple[int, int]]
    dom_restricted: bool
    dow_restricted: bool

    def day_matches(self, year: int, month: int, day: int) -> bool:
        dom = day in self.days or (self.last_day and day == calendar.monthrange(year, month)[1])
        weekday = (calendar.weekday(year, month, day) + 1) % 7
        last = calendar.monthrange(year, month)[1]
        dow = (
            weekday in self.weekdays
            or (weekday in self.last_weekdays and day + 7 > last)
            or (weekday, (day - 1) // 7 + 1) in self.nth_weekdays
        )
        if self.dom_restricted and self.dow_restricted:
            return dom or dow
        if self.dom_restricted:
            return dom
        if self.dow_restricted:
            return dow
        return True


def _number(text: str, low: int, high: int, names: dict[str, int] | None) -> int:
    key = text.lower()
    if names is not None and key in names:
        return names[key]
    if not text.isdigit():
        raise CronError(f"{text!r} is not a number")
    value = int(text)
    if not low <= value <= high:
        raise CronError(f"{value} is out of range {low}-{high}")
    return value


def _field(text: str, spec: tuple[int, int, dict[str, int] | None], day_field: bool = False) -> tuple[set[int], bool]:
    """The values of one field, and whether it restricts anything (not ``*`` or ``?``)."""
    low, high, names = spec
    if not text:
        raise CronError("empty field")
    if text in ("*", "?") and (text == "*" or day_field):
        return set(range(low, high + 1)), False
    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) < 1:
                raise CronError(f"bad step {step_text!r}")
            step = int(step_text)
        if base in ("*", "?") and (base == "*" or day_field):
            start, stop = low, high
        elif "-" in base:
            a, _, b = base.partition("-")
            start, stop = _number(a, low, high, names), _number(b, low, high, names)
            if start > stop:  # wraps around, as croniter reads it: 22-2 is 22, 23, 0, 1, 2
                values.update([*range(start, high + 1), *range(low, stop + 1)][::step])
                continue
        else:
            start = _number(base, low, high, names)
            stop = high if step_text else start
        values.update(range(start, stop + 1, step))
    return values, True


def parse(expression: str) -> Cron:
    """Parse an expression, or raise CronError."""
    if not isinstance(expression, str):
        raise CronError("a cron expression must be a string")
    text = _ALIASES.get(expression.strip().lower(), expression)
    fields = text.split()
    if len(fields) == 5:
        fields = ["0", *fields]
    if len(fields) not in (6, 7):
        raise CronError(f"expected 5, 6 or 7 fields, got {len(fields)}")
    seconds, _ = _field(fields[0], _SECOND)
    minutes, _ = _field(fields[1], _MINUTE)
    hours, _ = _field(fields[2], _HOUR)
    dom_text = fields[3]
    last_day = False
    dom_parts = []
    for part in dom_text.split(","):
        if part.upper() == "L":
            last_day = True
        else:
            dom_parts.append(part)
    days, dom_restricted = _field(",".join(dom_parts), _DOM, day_field=True) if dom_parts else (set(), True)
    months, _ = _field(fields[4], _MONTH)
    weekdays: set[int] = set()
    last_weekdays: set[int] = set()
    nth: set[tuple[int, int]] = set()
    plain = []
    for part in fields[5].split(","):
        if "#" in part:
            day_text, _, k = part.partition("#")
            if not k.isdigit() or not 1 <= int(k) <= 5:
                raise CronError(f"bad weekday occurrence {part!r}")
            nth.add((_number(day_text, 0, 7, _DAYS) % 7, int(k)))
        elif len(part) > 1 and part[0] in "lL":
            last_weekdays.add(_number(part[1:], 0, 7, _DAYS) % 7)
        else:
            plain.append(part)
    dow_restricted = True
    if plain:
        found, dow_restricted = _field(",".join(plain), _DOW, day_field=True)
        weekdays = {d % 7 for d in found}
    years = None
    if len(fields) == 7:
        found, restricted = _field(fields[6], _YEAR)
        years = frozenset(found) if restricted else None
    return Cron(
        frozenset(seconds), frozenset(minutes), frozenset(hours), frozenset(days), frozenset(months),
        frozenset(weekdays), years, last_day, frozenset(last_weekdays), frozenset(nth),
        dom_restricted or last_day, dow_restricted or bool(last_weekdays) or bool(nth),
    )  # fmt: skip


def is_valid(expression: object) -> bool:
    try:
        parse(expression)  # type: ignore[arg-type]
    except CronError:
        return False
    return True


def _first_at_least(values: frozenset[int], value: int) -> int | None:
    candidates = [v for v in values if v >= value]
    return min(candidates) if candidates else None


def _instant(wall: datetime, tz: tzinfo) -> datetime:
    """The UTC instant of a wall-clock time in tz (its first occurrence; past a gap if it has none)."""
    return wall.replace(tzinfo=tz).astimezone(timezone.utc)


def _exists(wall: datetime, tz: tzinfo) -> bool:
    return _instant(wall, tz).astimezone(tz).replace(tzinfo=None) == wall


def next_after(cron: Cron, start: datetime) -> datetime:
    """The first time strictly after ``start`` that the expression fires, in start's zone.

    A naive ``start`` is taken as UTC. Fields are matched on the zone's wall clock, walking
    real instants, so around daylight saving time this fires as croniter does: a repeated
    hour fires twice, and a time the clock skips fires when the gap ends.
    """
    tz: tzinfo = start.tzinfo if start.tzinfo is not None else timezone.utc
    start_aware = start.replace(tzinfo=tz)
    u = start_aware.astimezone(timezone.utc).replace(microsecond=0) + timedelta(seconds=1)
    limit = u.year + _HORIZON_YEARS

    def jump(wall: datetime) -> datetime:
        target = _instant(wall, tz)
        return target if target > u else u + timedelta(seconds=1)

    while u.year <= limit:
        local = u.astimezone(tz)
        wall = local.replace(tzinfo=None)
        if cron.years is not None and wall.year not in cron.years:
            later = _first_at_least(cron.years, wall.year + 1)
            if later is None:
                break
            u = jump(datetime(later, 1, 1))
            continue
        if wall.month not in cron.months:
            month = _first_at_least(cron.months, wall.month + 1)
            u = jump(datetime(wall.year + 1, min(cron.months), 1) if month is None else datetime(wall.year, month, 1))
            continue
        day_start = datetime(wall.year, wall.month, wall.day)
        if not cron.day_matches(wall.year, wall.month, wall.day):
            u = jump(day_start + timedelta(days=1))
            continue
        if wall.hour not in cron.hours:
            hour = _first_at_least(cron.hours, wall.hour + 1)
            if hour is None:
                u = jump(day_start + timedelta(days=1))
                continue
            target = day_start.replace(hour=hour)
            if not _exists(target, tz):
                # The clock skips this hour: croniter fires when the gap ends.
                return _instant(target, tz).astimezone(tz)
            u = jump(target)
            continue
        if wall.minute not in cron.minutes:
            minute = _first_at_least(cron.minutes, wall.minute + 1)
            if minute is None:
                after = wall.replace(minute=0, second=0) + timedelta(hours=1)
                restricted = len(cron.hours) < 24  # croniter skips the gap for an every-hour expression
                if restricted and after.hour in cron.hours and not _exists(after, tz) and cron.day_matches(after.year, after.month, after.day):
                    return _instant(after, tz).astimezone(tz)  # the next hour is skipped: fire at the gap's end
            step = (60 if minute is None else minute) - wall.minute
            u = u.replace(second=0) + timedelta(minutes=step)
            continue
        if wall.second not in cron.seconds:
            second = _first_at_least(cron.seconds, wall.second + 1)
            u += timedelta(seconds=(60 if second is None else second) - wall.second)
            continue
        return local
    raise CronError("the expression never fires")
