"""Working days for the time limits of service matters (限时办结制): Chinese public holidays and the
adjusted working days (调休, e.g. a Saturday worked to bridge a holiday) as the State Council
publishes them each year.

The calendar is the `chinese-calendar` package (pinned in services/registry/pyproject.toml; 1.11.0
covers 2004–2026). The State Council publishes next year's arrangement around November or
December; the package's maintainers release a version with it within days. To update: raise the
pin in services/registry/pyproject.toml, `uv lock`, and run tests/unit/registry/test_matters_workdays.py
(it names the last covered year). `covered_years()` says what the installed version knows.

A deadline that runs into a year the calendar does not cover yet is not refused, since a worker's
request must be received whatever our calendar says: the days of that year count Monday to Friday
and the deadline is marked provisional (期限暂定), so staff and readers see it may move once the
year's arrangement is known. A day before the calendar's first year is refused (ValueError).

The count: the time limit is N working days after the day of receipt (the receipt day itself never
counts, whether or not it is a working day); the deadline is the N-th working day after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

import chinese_calendar

_DAY: Final = timedelta(days=1)


def covered_years() -> tuple[int, int]:
    """The first and last year the installed calendar has holidays and adjusted days for."""
    known = chinese_calendar.holidays
    return min(known).year, max(known).year


FIRST_YEAR, LAST_YEAR = covered_years()


class OutsideCalendar(ValueError):
    """A day the calendar cannot say anything about (before its first year)."""


def covers(day: date) -> bool:
    return FIRST_YEAR <= day.year <= LAST_YEAR


def is_workday(day: date) -> bool:
    """A working day by the published arrangement; Monday to Friday in a year not yet published."""
    if day.year < FIRST_YEAR:
        raise OutsideCalendar(f"{day.isoformat()} is before the calendar's first year {FIRST_YEAR}")
    if day.year > LAST_YEAR:
        return day.weekday() < 5
    return bool(chinese_calendar.is_workday(day))


@dataclass(frozen=True)
class Deadline:
    day: date
    provisional: bool  # some counted day lies in a year the calendar does not cover yet


def deadline(received_on: date, working_days: int) -> Deadline:
    """The `working_days`-th working day after `received_on`."""
    if working_days < 1:
        raise ValueError("a time limit is at least one working day")
    day = received_on
    counted = 0
    provisional = False
    while counted < working_days:
        day += _DAY
        provisional = provisional or not covers(day)
        if is_workday(day):
            counted += 1
    return Deadline(day, provisional)


def working_days_between(first: date, last: date) -> int:
    """Working days after `first` up to and including `last` (0 when `last` ≤ `first`): how far
    past its deadline a matter is, in the unit its time limit is given in."""
    count = 0
    day = first
    while day < last:
        day += _DAY
        count += is_workday(day)
    return count
