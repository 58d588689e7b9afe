"""Target changes as recorded: one row per TargetChanged, with who (the envelope's actor), why and
when. The value in force on a day is the latest change recorded by its end
(adapters/store.current_targets); an as-of replay prints the changed targets in force that day."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from huigong_events.base import DomainEvent
from huigong_events.envelope import RecordedEvent
from huigong_events.metrics import TargetChanged
from huigong_events.reference import CITY_CODE
from huigong_events.topics import Topic, topic_for_aggregate
from huigong_platform.database import DbConnection
from huigong_platform.subscriptions import Projection

from ..adapters import store
from ..domain.targets import TargetKey
from .actuals import MetricFigure


class TargetsProjection(Projection):
    name: ClassVar[str] = "metrics.targets"
    topics: ClassVar[tuple[Topic, ...]] = (topic_for_aggregate("target"),)
    handles: ClassVar[frozenset[str]] = frozenset({"TargetChanged"})
    tables: ClassVar[tuple[str, ...]] = ("target_changes",)

    async def apply(self, conn: DbConnection, event: DomainEvent, record: RecordedEvent) -> None:
        if not isinstance(event, TargetChanged):
            return
        await store.record_change(
            conn,
            event_id=record.id,
            key=TargetKey(event.metric, event.area, event.year),
            version=record.aggregate_version,
            old_value=event.old_value,
            new_value=event.new_value,
            reason=event.reason,
            changed_by=record.actor,
            changed_at=record.occurred_at,
        )

    async def reset(self, conn: DbConnection) -> None:
        await store.reset_changes(conn)

    async def figures(self, conn: DbConnection, as_of: date) -> list[MetricFigure]:
        """The targets the city had set by the end of `as_of` (the changes only: the file's rows
        are installed by the service, not replayed), one figure per metric and year: the city's
        value and each district's and group union's share; `GET /api/targets?as_of=` lists the
        same."""
        found: dict[str, MetricFigure] = {}
        for record in await store.current_targets(conn, as_of):
            if not record.changes:
                continue
            key = record.key
            name = f"target:{key.metric}/{key.year if key.year is not None else 'cumulative'}"
            figure = found.setdefault(name, MetricFigure(name, f"目标 {key.aggregate_id}", 0, {}))
            value = (
                int(record.value) if record.value == record.value.to_integral_value() else float(record.value)
            )
            if key.area == CITY_CODE:
                found[name] = figure._replace(value=value)
            else:
                figure.by_area[key.area] = value
        return sorted(found.values())
