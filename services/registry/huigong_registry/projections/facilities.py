"""Facilities and the 服务项目库 as the registry lists them (partners are in units.py's
partners_view). A facility is open (在用) from its opening until a registrar closes it."""

from __future__ import annotations

from typing import ClassVar

from huigong_events.base import DomainEvent
from huigong_events.envelope import RecordedEvent
from huigong_events.registry import FacilityClosed, FacilityOpened, ServiceProjectListed
from huigong_events.topics import Topic, topic_for_aggregate
from huigong_platform.database import DbConnection
from huigong_platform.subscriptions import Projection

from ..domain.facilities import FacilityStatus


class FacilitiesProjection(Projection):
    name: ClassVar[str] = "registry.facilities"
    topics: ClassVar[tuple[Topic, ...]] = (topic_for_aggregate("facility"),)
    handles: ClassVar[frozenset[str]] = frozenset(
        {"FacilityOpened", "FacilityClosed", "ServiceProjectListed"}
    )

    async def apply(self, conn: DbConnection, event: DomainEvent, record: RecordedEvent) -> None:
        match event:
            case FacilityOpened():
                await conn.execute(
                    """INSERT INTO facilities_view (facility_id, kind, name, area, host_unit, host_credit_code,
                           opened_on, status, report_id, station_host, station_services)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                       ON CONFLICT (facility_id) DO NOTHING""",
                    event.facility_id,
                    event.kind.value,
                    event.name,
                    event.area,
                    event.host_unit,
                    event.host_credit_code,
                    event.opened_on,
                    FacilityStatus.open.value,
                    event.report_id,
                    event.station_host.value if event.station_host else None,
                    list(event.station_services),
                )
            case FacilityClosed():
                await conn.execute(
                    """UPDATE facilities_view SET status = $2, closed_on = $3, close_reason = $4
                       WHERE facility_id = $1""",
                    event.facility_id,
                    FacilityStatus.closed.value,
                    event.closed_on,
                    event.reason,
                )
            case ServiceProjectListed():
                await conn.execute(
                    """INSERT INTO service_projects_view (project_id, name, field, provider,
                           provider_credit_code, area, listed_on, proposal_id)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                       ON CONFLICT (project_id) DO NOTHING""",
                    event.project_id,
                    event.name,
                    event.field.value,
                    event.provider,
                    event.provider_credit_code,
                    event.area,
                    event.listed_on,
                    event.proposal_id,
                )

    async def reset(self, conn: DbConnection) -> None:
        await conn.execute("TRUNCATE facilities_view, service_projects_view")
