"""送温暖 figures: every delivery and budget as the registry recorded them (adapters/warmth.py).

For auditors (`huigong replay -s metrics --as-of D`): the replay keeps every event (see
`business_day`) and `figures` reads, from the replayed tables, what `GET /api/warmth?as_of=D`
answers for D's year."""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Final

from huigong_events.base import DomainEvent
from huigong_events.envelope import RecordedEvent
from huigong_events.topics import Topic, topic_for_aggregate
from huigong_events.warmth import WarmthBudgetSet, WarmthDelivered, WarmthDeliveryDeclined
from huigong_platform.database import DbConnection
from huigong_platform.subscriptions import Projection

from ..adapters import warmth as tables
from ..domain.warmth import by_union
from .actuals import MetricFigure

FIGURES: Final[dict[str, str]] = {
    "warmth_deliveries": "送温暖次数",
    "warmth_amount": "送温暖金额（元）",
    "warmth_budget": "送温暖预算（元）",
}


class WarmthProjection(Projection):
    name: ClassVar[str] = "metrics.warmth"
    topics: ClassVar[tuple[Topic, ...]] = (topic_for_aggregate("warmth-fund"),)
    handles: ClassVar[frozenset[str]] = frozenset(
        {"WarmthBudgetSet", "WarmthDelivered", "WarmthDeliveryDeclined"}
    )
    tables: ClassVar[tuple[str, ...]] = ("warmth_deliveries", "warmth_budgets")

    async def apply(self, conn: DbConnection, event: DomainEvent, record: RecordedEvent) -> None:
        match event:
            case WarmthDelivered():
                await tables.add_delivery(
                    conn,
                    delivery_id=event.delivery_id,
                    union=event.union,
                    year=event.year,
                    occasion=event.occasion.value,
                    festival=event.festival.value if event.festival else None,
                    form=event.form.value,
                    amount=event.amount,
                    delivered_on=event.delivered_on,
                )
            case WarmthDeliveryDeclined():
                await tables.decline_delivery(conn, event.delivery_id, event.declined_on)
            case WarmthBudgetSet():
                await tables.set_budget(
                    conn, event.union, event.year, record.aggregate_version, event.amount, event.set_on
                )

    async def reset(self, conn: DbConnection) -> None:
        await tables.reset(conn)

    def business_day(self, event: DomainEvent, record: RecordedEvent) -> date | None:
        """None for every event: the replay keeps them all. The tables keep each fact's own dates
        (delivered, declined, budget set) and every figure is read as of D by the query the API
        runs, so nothing needs cutting; and a fund's stream is not in date order (a budget set
        today, then a delivery dated last week), so cutting it at its first event after D, as
        the replay cuts an aggregate, would lose deliveries the live figures count."""
        return None

    async def figures(self, conn: DbConnection, as_of: date) -> list[MetricFigure]:
        """The year of `as_of`: deliveries, amounts and budgets, city-wide and per union."""
        unions = by_union(
            await tables.months(conn, as_of.year, as_of), await tables.budgets(conn, as_of.year, as_of)
        )
        values = {
            "warmth_deliveries": {u.union: float(u.deliveries) for u in unions},
            "warmth_amount": {u.union: float(u.amount) for u in unions},
            "warmth_budget": {u.union: float(u.budget) for u in unions if u.budget is not None},
        }
        return [
            MetricFigure(name, title, sum(values[name].values()), values[name])
            for name, title in FIGURES.items()
        ]
