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

The city may publish a year's arrangement itself (WorkingCalendarPublished, through the registry's
API): for a year the package does not cover yet, so deadlines need not wait for a new release,
and for a covered year too, should the package be wrong. A published year wins over the package;
published again, the last publication wins. Callers pass what has been published (`Published`).

The count: the time limit is N working days after the day of receipt (the receipt day itself never
counts, whether or not it is a working day); the deadline is the N-th working day after it.
"""

from __future__ import annotations

from collections.abc import Mapping
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


@dataclass(frozen=True)
class Arrangement:
    """One year's arrangement as the city published it: the days off (holidays, and weekdays given
    off to bridge them) and the weekend days worked instead. Every other day is Monday to Friday."""

    holidays: frozenset[date]
    adjusted_workdays: frozenset[date]

    def is_workday(self, day: date) -> bool:
        if day in self.holidays:
            return False
        return day in self.adjusted_workdays or day.weekday() < 5


def bundled(year: int) -> Arrangement | None:
    """The installed package's arrangement of a year it covers (None otherwise): its holidays and
    the weekend days it has worked."""
    if not FIRST_YEAR <= year <= LAST_YEAR:
        return None
    return Arrangement(
        frozenset(d for d in chinese_calendar.holidays if d.year == year),
        frozenset(d for d in chinese_calendar.workdays if d.year == year and d.weekday() >= 5),
    )


# The years the city has published, each with its last publication.
Published = Mapping[int, Arrangement]
NONE_PUBLISHED: Final[Published] = {}


def covers(day: date, published: Published = NONE_PUBLISHED) -> bool:
    return FIRST_YEAR <= day.year <= LAST_YEAR or day.year in published


def is_workday(day: date, published: Published = NONE_PUBLISHED) -> bool:
    """A working day by the published arrangement; Monday to Friday in a year not yet published."""
    if day.year < FIRST_YEAR:
        raise OutsideCalendar(f"{day.isoformat()} is before the calendar's first year {FIRST_YEAR}")
    arrangement = published.get(day.year)
    if arrangement is not None:
        return arrangement.is_workday(day)
    if day.year > LAST_YEAR:
        return day.weekday() < 5
    return bool(chinese_calendar.is_workday(day))


@dataclass(frozen=True)
class Deadline:
    day: date
    provisional: bool  # some counted day lies in a year the calendar does not cover yet


def deadline(received_on: date, working_days: int, published: Published = NONE_PUBLISHED) -> Deadline:
    """The `working_days`-th working day after `received_on`."""
    if working_days < 1:
        raise ValueError("a time limit is at least one working day")
    day = received_on
    counted = 0
    provisional = False
    while counted < working_days:
        day += _DAY
        provisional = provisional or not covers(day, published)
        if is_workday(day, published):
            counted += 1
    return Deadline(day, provisional)


def working_days_between(first: date, last: date, published: Published = NONE_PUBLISHED) -> int:
    """Working days after `first` up to and including `last` (0 when `last` ≤ `first`): how far
    past its deadline a matter is, in the unit its time limit is given in, by the same calendar
    the deadline was counted on."""
    count = 0
    day = first
    while day < last:
        day += _DAY
        count += is_workday(day, published)
    return count


def years_counted(received_on: date, working_days: int) -> range:
    """The years a deadline of `working_days` after `received_on` can reach, whatever the
    arrangement: even a year of holidays leaves more than 200 working days."""
    return range(received_on.year, received_on.year + 2 + working_days // 200)
