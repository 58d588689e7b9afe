"""Target changes as recorded: one row per TargetChanged, with who (the envelope's actor), why and
when. The current value of a target is its latest change (adapters/store.current_targets)."""

from __future__ import annotations

from typing import ClassVar

from huigong_events.base import DomainEvent
from huigong_events.envelope import RecordedEvent
from huigong_events.metrics import TargetChanged
from huigong_events.topics import Topic, topic_for_aggregate
from huigong_platform.database import DbConnection
from huigong_platform.subscriptions import Projection

from ..adapters import store
from ..domain.targets import TargetKey


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
