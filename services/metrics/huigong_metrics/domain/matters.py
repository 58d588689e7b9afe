"""联动服务 figures per service centre and district, as of the end of any day, read from the
counters that counting.py keeps (pure).

Per centre (the 11 centres: the city's, 370200, and each district's), for the matters it received
as first responder (首问责任制: it answers for each to the end, wherever it was transferred):
- received: matters received up to the day;
- closed on time / closed late: closed up to the day, on or before the deadline / after it;
- overdue: not closed by the end of the day and past their deadline (fell due − settled);
- rated, average satisfaction: ratings given up to the day and their mean score (1–5), none
  without a rating.
And transferred: transfers made up to the day by the units of its area (the centre, and the
district's service bases, which act with their district).

A district's figures are its centre's. The city-wide total adds every area, the group unions'
too (a service base approved from a group union's application transfers under that union's code).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Final

from huigong_events.reference import CITY_CODE, CITY_NAME, DISTRICTS

from .counting import (
    MATTERS_DUE_SETTLED,
    MATTERS_FELL_DUE,
    MATTERS_LATE,
    MATTERS_ON_TIME,
    MATTERS_POINTS,
    MATTERS_RATED,
    MATTERS_RECEIVED,
    MATTERS_TRANSFERRED,
)
from .progress import LevelRows

COUNTERS: Final[tuple[str, ...]] = (
    MATTERS_RECEIVED,
    MATTERS_TRANSFERRED,
    MATTERS_ON_TIME,
    MATTERS_LATE,
    MATTERS_FELL_DUE,
    MATTERS_DUE_SETTLED,
    MATTERS_RATED,
    MATTERS_POINTS,
)
CENTRE_AREAS: Final[tuple[str, ...]] = (CITY_CODE, *DISTRICTS)
WHOLE_CITY: Final = "全市"

# What each figure counts, for the API and the dashboard's tooltips.
DEFINITIONS: Final[dict[str, str]] = {
    "received": "截至当日受理的服务事项（按首问责任中心统计）",
    "transferred": "截至当日本区市（中心及服务职工基地）转出的次数",
    "closed_on_time": "截至当日在办结期限内办结的事项",
    "closed_late": "截至当日超过办结期限才办结的事项",
    "overdue": "当日结束时已超过办结期限仍未办结的事项",
    "rated": "截至当日职工评价的事项数",
    "avg_satisfaction": "职工满意度平均分（1–5分）",
}


def centre_name(area: str) -> str:
    return f"{CITY_NAME}职工服务中心" if area == CITY_CODE else f"{DISTRICTS[area]}职工服务中心"


@dataclass(frozen=True)
class CentreFigures:
    area: str
    name: str
    received: int
    transferred: int
    closed_on_time: int
    closed_late: int
    overdue: int
    rated: int
    satisfaction_points: int

    @property
    def avg_satisfaction(self) -> float | None:
        return round(self.satisfaction_points / self.rated, 2) if self.rated else None

    def to_json(self) -> dict[str, object]:
        return {
            "area": self.area,
            "name": self.name,
            "received": self.received,
            "transferred": self.transferred,
            "closed_on_time": self.closed_on_time,
            "closed_late": self.closed_late,
            "overdue": self.overdue,
            "rated": self.rated,
            "avg_satisfaction": self.avg_satisfaction,
        }


def _level(rows: LevelRows, counter: str, areas: Iterable[str] | None, day: date) -> int:
    total = 0
    for (name, area), levels in rows.items():
        if name == counter and (areas is None or area in areas):
            total += levels.get(day, (0, 0))[0]
    return total


def figures(rows: LevelRows, area: str | None, day: date) -> CentreFigures:
    """One centre's figures at the end of `day` (`area` None: the whole city). `rows` holds the
    matter counters' levels at `day` (adapters/store.levels_at)."""
    areas = None if area is None else (area,)

    def level(counter: str) -> int:
        return _level(rows, counter, areas, day)

    return CentreFigures(
        area=area or CITY_CODE,
        name=WHOLE_CITY if area is None else centre_name(area),
        received=level(MATTERS_RECEIVED),
        transferred=level(MATTERS_TRANSFERRED),
        closed_on_time=level(MATTERS_ON_TIME),
        closed_late=level(MATTERS_LATE),
        overdue=level(MATTERS_FELL_DUE) - level(MATTERS_DUE_SETTLED),
        rated=level(MATTERS_RATED),
        satisfaction_points=level(MATTERS_POINTS),
    )


def by_centre(rows: LevelRows, day: date, areas: Iterable[str] = CENTRE_AREAS) -> list[CentreFigures]:
    return [figures(rows, area, day) for area in areas]
