"""The working-day calendar the city publishes (工作日安排): one aggregate per year, whose last
WorkingCalendarPublished is that year's arrangement, and what publishing does to the deadlines of
open service matters.

Publishing a year recomputes every open matter whose count reaches that year (a matter received
that year or the year before: a time limit is at most 60 working days), from its day of receipt
and time limit, with every year published so far. A matter whose deadline or provisional mark
changes gets a MatterDeadlineRevised; a closed matter keeps the deadline it was closed against.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Final

from huigong_events.base import DomainEvent
from huigong_events.matters import MatterDeadlineRevised, WorkingCalendarPublished
from huigong_platform.refusals import FieldError, Refusal

from . import workdays
from .matters import MatterState

AGGREGATE: Final = "working-calendar"
LAST_YEAR: Final = 2100


def arrangement(events: Iterable[DomainEvent]) -> workdays.Arrangement | None:
    """The year's arrangement: its last publication (None: never published)."""
    found: workdays.Arrangement | None = None
    for event in events:
        if isinstance(event, WorkingCalendarPublished):
            found = workdays.Arrangement(frozenset(event.holidays), frozenset(event.adjusted_workdays))
    return found


def publications(events: Iterable[DomainEvent]) -> list[WorkingCalendarPublished]:
    """Every publication of the year, in order (the last is in force)."""
    return [event for event in events if isinstance(event, WorkingCalendarPublished)]


def _check_days(year: int, name: str, days: Sequence[date], errors: list[FieldError]) -> None:
    seen: set[date] = set()
    for index, day in enumerate(days):
        field = f"{name}.{index}"
        if day.year != year:
            errors.append(FieldError(field, f"{day} 不在 {year} 年度", f"{day} is not in {year}"))
        elif day in seen:
            errors.append(FieldError(field, f"{day} 重复", f"{day} is listed twice"))
        seen.add(day)


def decide_publish(
    year: int, holidays: Sequence[date], adjusted_workdays: Sequence[date], reason: str
) -> list[DomainEvent]:
    if not workdays.FIRST_YEAR <= year <= LAST_YEAR:
        raise Refusal(
            FieldError(
                "year",
                f"年度应在 {workdays.FIRST_YEAR}–{LAST_YEAR} 之间",
                f"the year must lie between {workdays.FIRST_YEAR} and {LAST_YEAR}",
            )
        )
    errors: list[FieldError] = []
    _check_days(year, "holidays", holidays, errors)
    _check_days(year, "adjusted_workdays", adjusted_workdays, errors)
    off = set(holidays)
    for index, day in enumerate(adjusted_workdays):
        field = f"adjusted_workdays.{index}"
        if day in off:
            errors.append(
                FieldError(field, f"{day} 已列为节假日，不能同时为调休上班日", f"{day} is also a holiday")
            )
        elif day.year == year and day.weekday() < 5:
            errors.append(
                FieldError(
                    field,
                    f"{day} 是周一至周五，本就上班；调休上班日应为周六或周日",
                    f"{day} is a weekday; an adjusted working day is a Saturday or Sunday",
                )
            )
    if errors:
        raise Refusal(*errors)
    return [
        WorkingCalendarPublished(
            year=year,
            holidays=sorted(holidays),
            adjusted_workdays=sorted(adjusted_workdays),
            reason=reason,
        )
    ]


def revise(
    state: MatterState | None, year: int, published: workdays.Published, on: date
) -> list[DomainEvent]:
    """The matter's deadline counted again with the published years, if it changes."""
    if state is None or state.closed_on is not None:
        return []
    due = workdays.deadline(state.received_on, state.time_limit_days, published)
    if due.day == state.deadline and due.provisional == state.provisional:
        return []
    return [
        MatterDeadlineRevised(
            matter_id=state.matter_id,
            deadline=due.day,
            deadline_provisional=due.provisional,
            calendar_year=year,
            revised_on=on,
        )
    ]
