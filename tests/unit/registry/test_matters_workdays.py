"""Working-day deadlines (限时办结制) against the published holiday arrangements: National Day, an
adjusted working Saturday or Sunday (调休), and a year the calendar does not cover yet."""

from __future__ import annotations

from datetime import date

import pytest

from huigong_registry.domain import workdays
from huigong_registry.domain.workdays import Deadline, deadline, working_days_between


def test_the_installed_calendar_covers_the_years_in_use() -> None:
    # chinese-calendar 1.11.0: 2004–2026. When the State Council publishes 2027's arrangement,
    # raise the pin in services/registry/pyproject.toml and this year with it.
    assert workdays.covered_years() == (2004, 2026)
    assert workdays.covers(date(2026, 12, 31)) and not workdays.covers(date(2027, 1, 1))


def test_national_day_2025_and_the_working_saturday_after_it() -> None:
    # 2025: 1–8 October off (National Day with Mid-Autumn); Sunday 28 September and Saturday
    # 11 October are worked. Received Tuesday 30 September, five working days: 9 (Thu), 10 (Fri),
    # 11 (Sat, adjusted), 13 (Mon), 14 (Tue) October. Counting Monday to Friday would say 7 October.
    assert not workdays.is_workday(date(2025, 10, 6))  # a Monday of the holiday
    assert workdays.is_workday(date(2025, 10, 11))  # a Saturday worked
    assert deadline(date(2025, 9, 30), 5) == Deadline(date(2025, 10, 14), provisional=False)


def test_a_working_sunday_before_the_holiday_counts() -> None:
    # Received Friday 26 September 2025: Sunday 28 September is worked, so one working day later is
    # the 28th, not Monday the 29th; two is the 29th; four jumps the holiday to 9 October.
    assert deadline(date(2025, 9, 26), 1).day == date(2025, 9, 28)
    assert deadline(date(2025, 9, 26), 2).day == date(2025, 9, 29)
    assert deadline(date(2025, 9, 26), 4).day == date(2025, 10, 9)


def test_national_day_2026_and_its_working_saturday() -> None:
    # 2026: 1–7 October off; Sunday 20 September and Saturday 10 October are worked.
    assert deadline(date(2026, 9, 30), 3) == Deadline(date(2026, 10, 10), provisional=False)
    assert deadline(date(2026, 9, 19), 1).day == date(2026, 9, 20)


def test_the_receipt_day_never_counts_even_on_a_holiday() -> None:
    # Received on National Day itself (by phone): the first working day after it is day one.
    assert deadline(date(2025, 10, 1), 1).day == date(2025, 10, 9)
    assert deadline(date(2025, 10, 8), 1).day == date(2025, 10, 9)


def test_a_deadline_in_a_year_not_yet_published_is_provisional() -> None:
    # From late December 2026 the count runs into 2027: Monday to Friday, marked provisional.
    due = deadline(date(2026, 12, 29), 5)
    assert due.provisional
    assert due.day == date(2027, 1, 5)  # 30, 31 Dec; 1 (Fri), 4 (Mon), 5 (Tue) Jan by weekdays
    assert not deadline(date(2026, 12, 1), 5).provisional


def test_a_day_before_the_calendar_is_refused() -> None:
    with pytest.raises(workdays.OutsideCalendar):
        workdays.is_workday(date(2003, 12, 31))
    with pytest.raises(ValueError, match="at least one"):
        deadline(date(2025, 3, 3), 0)


def test_working_days_late_skip_the_holiday() -> None:
    # Due 30 September 2025, still open on 10 October: late by 9 and 10 October only.
    assert working_days_between(date(2025, 9, 30), date(2025, 10, 10)) == 2
    assert working_days_between(date(2025, 10, 10), date(2025, 10, 10)) == 0
    assert working_days_between(date(2025, 10, 10), date(2025, 10, 1)) == 0


def test_a_year_the_city_published_counts_by_its_arrangement_and_wins_over_the_bundled_one() -> None:
    y2027 = workdays.Arrangement(
        holidays=frozenset({date(2027, 1, 1), date(2027, 2, 8)}),
        adjusted_workdays=frozenset({date(2027, 2, 20)}),
    )
    published = {2027: y2027}
    # 1 January 2027 off: 4 (Mon) and 5 (Tue) January, 30 and 31 December before them; final.
    assert deadline(date(2026, 12, 29), 4, published) == Deadline(date(2027, 1, 5), provisional=False)
    assert workdays.is_workday(date(2027, 2, 20), published)  # a Saturday worked
    assert not workdays.is_workday(date(2027, 2, 8), published)  # a Monday off
    # A covered year published by the city: its arrangement, not the package's.
    local = {2025: workdays.Arrangement(frozenset({date(2025, 10, 9)}), frozenset())}
    assert not workdays.is_workday(date(2025, 10, 9), local)
    assert workdays.is_workday(date(2025, 10, 11), local) is False  # a plain Saturday there
    assert deadline(date(2025, 9, 30), 1, local).day == date(2025, 10, 1)  # 1 October is a Wednesday
