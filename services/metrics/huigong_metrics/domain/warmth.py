"""送温暖 figures as of the end of any day (pure): deliveries and amounts by union (district or
group union), occasion and month of a year, and each union's budget, used and remaining.

- A delivery counts from its date (`delivered_on`) on, and stops counting from the day the city
  federation declined it; one pending approval counts, as it draws on the budget.
- A union's budget as of a day is the latest the city federation set by then (`set_on`); used is
  the amount of its deliveries of the year that count as of that day.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, NamedTuple

from huigong_events.reference import area_name
from huigong_events.warmth import Occasion

DEFINITIONS: Final[dict[str, str]] = {
    "deliveries": "截至当日的送温暖次数（不含未获批准的；待审批的计入）",
    "amount": "上述送温暖的金额（元）：慰问金，或实物、服务折合金额",
    "budget": "市总工会截至当日设定的本年度送温暖预算（元）",
    "used": "本年度已动用的预算（元）",
    "remaining": "预算剩余（元）",
}


class MonthRow(NamedTuple):
    union: str
    occasion: str
    month: str  # YYYY-MM
    deliveries: int
    amount: int


@dataclass(frozen=True)
class UnionFigures:
    union: str
    budget: int | None  # None: no budget set by then
    deliveries: int
    amount: int

    @property
    def remaining(self) -> int | None:
        return None if self.budget is None else self.budget - self.amount

    def to_json(self) -> dict[str, object]:
        return {
            "area": self.union,
            "area_name": area_name(self.union),
            "budget": self.budget,
            "used": self.amount,
            "remaining": self.remaining,
            "deliveries": self.deliveries,
            "amount": self.amount,
        }


def by_union(rows: Iterable[MonthRow], budgets: dict[str, int]) -> list[UnionFigures]:
    deliveries: dict[str, int] = {}
    amounts: dict[str, int] = {}
    for row in rows:
        deliveries[row.union] = deliveries.get(row.union, 0) + row.deliveries
        amounts[row.union] = amounts.get(row.union, 0) + row.amount
    unions = sorted(set(deliveries) | set(budgets))
    return [UnionFigures(u, budgets.get(u), deliveries.get(u, 0), amounts.get(u, 0)) for u in unions]


def month_json(row: MonthRow) -> dict[str, object]:
    return {
        "area": row.union,
        "area_name": area_name(row.union),
        "occasion": row.occasion,
        "occasion_label": Occasion(row.occasion).label,
        "month": row.month,
        "deliveries": row.deliveries,
        "amount": row.amount,
    }
