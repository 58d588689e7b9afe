"""Units and partners as the registry lists them."""

from __future__ import annotations

from typing import ClassVar

from huigong_events.base import DomainEvent
from huigong_events.envelope import RecordedEvent
from huigong_events.registry import PartnerRegistered, UnitRegistered
from huigong_events.topics import Topic, topic_for_aggregate
from huigong_platform.database import DbConnection
from huigong_platform.subscriptions import Projection


class UnitsProjection(Projection):
    name: ClassVar[str] = "registry.units"
    topics: ClassVar[tuple[Topic, ...]] = (topic_for_aggregate("unit"), topic_for_aggregate("partner"))
    handles: ClassVar[frozenset[str]] = frozenset({"UnitRegistered", "PartnerRegistered"})

    async def apply(self, conn: DbConnection, event: DomainEvent, record: RecordedEvent) -> None:
        match event:
            case UnitRegistered():
                # A registered unit is approved for construction: the 2022 pilots were fixed in
                # advance, and an application becomes a unit when construction is approved.
                status = "approved"
                await conn.execute(
                    """INSERT INTO units_view (unit_id, name, programme, area, credit_code, origin, status,
                           registered_on, application_id)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
                    event.unit_id,
                    event.name,
                    event.programme.value,
                    event.area,
                    event.credit_code,
                    event.origin.value,
                    status,
                    event.registered_on,
                    event.application_id,
                )
            case PartnerRegistered():
                await conn.execute(
                    """INSERT INTO partners_view (partner_id, name, category, area, origin, registered_on)
                       VALUES ($1, $2, $3, $4, $5, $6)""",
                    event.partner_id,
                    event.name,
                    event.category.value,
                    event.area,
                    event.origin.value,
                    event.registered_on,
                )

    async def reset(self, conn: DbConnection) -> None:
        await conn.execute("TRUNCATE units_view, partners_view")
