"""Calendar arithmetic in whole years, as the plan counts them ("三年内", a three-year build)."""

from __future__ import annotations

from datetime import date, timedelta


def add_years(day: date, years: int) -> date:
    """The same month and day `years` later (negative: earlier). 29 February becomes 28 February
    in a common year: "three years before 29 Feb 2024" is 28 Feb 2021, never a day in March."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # only 29 February lands on a missing day
        return day.replace(year=day.year + years, day=28)


def period_end(start: date, years: int) -> date:
    """The last day of a period of `years` whole years from `start` (both ends counted): the day
    before the anniversary. A period from 29 February has its anniversary on 1 March in a common
    year, so it ends on 28 February and no day of the last year is lost (clamping the
    anniversary to 28 February would end the period on the 27th)."""
    try:
        anniversary = start.replace(year=start.year + years)
    except ValueError:
        anniversary = date(start.year + years, 3, 1)
    return anniversary - timedelta(days=1)
