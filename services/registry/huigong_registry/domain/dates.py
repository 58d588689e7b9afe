"""Calendar arithmetic for certificates, and the Beijing day of a recorded event."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

BEIJING = timezone(timedelta(hours=8))


def beijing_day(at: datetime) -> date:
    return at.astimezone(BEIJING).date()


def add_years(day: date, years: int) -> date:
    """The same month and day `years` later; 29 February becomes 28 February in a common year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def period_end(start: date, years: int) -> date:
    """The last day of `years` whole years from `start`, both ends counted (the day before the
    anniversary; from 29 February the anniversary is 1 March in a common year)."""
    try:
        anniversary = start.replace(year=start.year + years)
    except ValueError:
        anniversary = date(start.year + years, 3, 1)
    return anniversary - timedelta(days=1)
