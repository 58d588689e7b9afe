"""The years of the working-day calendar the city has published, read from their streams (one
aggregate per year) by whoever counts working days: a matter's receipt, a deadline's revision, a
suspended title's statement deadline. Given the reader of the caller's transaction, so what is
counted is what that transaction sees."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from datetime import date

from huigong_events.upcasting import decode
from huigong_platform.eventstore import Stream

from ..domain import workdays, working_calendar

# (aggregate type, aggregate id) → the stream: a unit of work's `read`, or the store's in a reaction.
Read = Callable[[str, str], Awaitable[Stream]]


def years_between(first: date, last: date) -> range:
    """The years a count of working days from `first` to `last` crosses."""
    return range(min(first, last).year, max(first, last).year + 1)


async def published(read: Read, years: Iterable[int]) -> dict[int, workdays.Arrangement]:
    found: dict[int, workdays.Arrangement] = {}
    for year in years:
        stream = await read(working_calendar.AGGREGATE, str(year))
        arrangement = working_calendar.arrangement(decode(record) for record in stream.events)
        if arrangement is not None:
            found[year] = arrangement
    return found
