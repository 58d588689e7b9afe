"""The 服务事项目录 and the service matters as the registry lists them (registry.matters).

One row per catalogue item and one per matter. A matter's row says where it stands: the first
responder (首问), the current handler, a transfer waiting for acceptance, the deadline and what
happened so far; every unit and area it passed through is kept so that a district lists the
matters that concern it. No personal data: name, phone and request stay sealed in the event.
Overdue is read from the deadline on the day asked about (domain/matters.py)."""

from __future__ import annotations

from typing import ClassVar

from huigong_events.base import DomainEvent
from huigong_events.envelope import RecordedEvent
from huigong_events.matters import (
    MatterAccepted,
    MatterClosed,
    MatterDeadlineRevised,
    MatterRated,
    MatterReceived,
    MatterRequesterErased,
    MatterStepDone,
    MatterTransferred,
    MatterTransferRefused,
    ServiceItemChanged,
    ServiceItemListed,
    ServiceItemWithdrawn,
)
from huigong_events.topics import Topic, topic_for_aggregate
from huigong_platform.database import DbConnection
from huigong_platform.subscriptions import Projection

from ..domain.matters import MatterStatus


class MattersProjection(Projection):
    name: ClassVar[str] = "registry.matters"
    topics: ClassVar[tuple[Topic, ...]] = (topic_for_aggregate("matter"),)
    tables: ClassVar[tuple[str, ...]] = ("service_items_view", "matters_view")

    async def apply(self, conn: DbConnection, event: DomainEvent, record: RecordedEvent) -> None:
        match event:
            case ServiceItemListed():
                await conn.execute(
                    """INSERT INTO service_items_view (item_id, name, category, providers, time_limit_days,
                           steps, commitment, status, listed_on)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, 'listed', $8)
                       ON CONFLICT (item_id) DO NOTHING""",
                    event.item_id,
                    event.name,
                    event.category.value,
                    event.providers,
                    event.time_limit_days,
                    event.steps,
                    event.commitment,
                    event.listed_on,
                )
            case ServiceItemChanged():
                await conn.execute(
                    """UPDATE service_items_view SET name = $2, category = $3, providers = $4,
                           time_limit_days = $5, steps = $6, commitment = $7, changed_on = $8,
                           status_reason = $9
                       WHERE item_id = $1""",
                    event.item_id,
                    event.name,
                    event.category.value,
                    event.providers,
                    event.time_limit_days,
                    event.steps,
                    event.commitment,
                    event.changed_on,
                    event.reason,
                )
            case ServiceItemWithdrawn():
                await conn.execute(
                    """UPDATE service_items_view SET status = 'withdrawn', withdrawn_on = $2, status_reason = $3
                       WHERE item_id = $1""",
                    event.item_id,
                    event.withdrawn_on,
                    event.reason,
                )
            case MatterReceived():
                await conn.execute(
                    """INSERT INTO matters_view (matter_id, matter_no, item_id, item_name, category, channel,
                           first_unit, first_name, first_area, handler_unit, handler_name, handler_area,
                           involved_areas, involved_units, status, received_on, time_limit_days, deadline,
                           deadline_provisional, steps)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $7, $8, $9, ARRAY[$9::text], ARRAY[$7::uuid],
                           $10, $11, $12, $13, $14, $15)
                       ON CONFLICT (matter_id) DO NOTHING""",
                    event.matter_id,
                    event.matter_no,
                    event.item_id,
                    event.item_name,
                    event.category.value,
                    event.channel.value,
                    event.centre_id,
                    event.centre_name,
                    event.area,
                    MatterStatus.handling.value,
                    event.received_on,
                    event.time_limit_days,
                    event.deadline,
                    event.deadline_provisional,
                    event.steps,
                )
            case MatterTransferred():
                await conn.execute(
                    """UPDATE matters_view SET status = $2, pending_unit = $3, pending_name = $4,
                           pending_area = $5, transfers = transfers + 1,
                           involved_areas = CASE WHEN $5::text = ANY(involved_areas) THEN involved_areas
                                                 ELSE involved_areas || $5::text END,
                           involved_units = CASE WHEN $3::uuid = ANY(involved_units) THEN involved_units
                                                 ELSE involved_units || $3::uuid END
                       WHERE matter_id = $1""",
                    event.matter_id,
                    MatterStatus.transferring.value,
                    event.to_unit,
                    event.to_name,
                    event.to_area,
                )
            case MatterAccepted():
                await conn.execute(
                    """UPDATE matters_view SET status = $2, handler_unit = pending_unit,
                           handler_name = pending_name, handler_area = pending_area,
                           pending_unit = NULL, pending_name = NULL, pending_area = NULL
                       WHERE matter_id = $1""",
                    event.matter_id,
                    MatterStatus.handling.value,
                )
            case MatterTransferRefused():
                # Back with the sender, which never stopped handling it; the refusing unit stays
                # among the involved, so that its district still lists the matter it refused.
                await conn.execute(
                    """UPDATE matters_view SET status = $2, pending_unit = NULL, pending_name = NULL,
                           pending_area = NULL
                       WHERE matter_id = $1""",
                    event.matter_id,
                    MatterStatus.handling.value,
                )
            case MatterStepDone():
                await conn.execute(
                    "UPDATE matters_view SET steps_done = steps_done || $2::text WHERE matter_id = $1",
                    event.matter_id,
                    event.step,
                )
            case MatterDeadlineRevised():
                # The year's arrangement was published: the deadline counted again (open matters only).
                await conn.execute(
                    """UPDATE matters_view SET deadline = $2, deadline_provisional = $3 WHERE matter_id = $1""",
                    event.matter_id,
                    event.deadline,
                    event.deadline_provisional,
                )
            case MatterClosed():
                await conn.execute(
                    """UPDATE matters_view SET status = $2, closed_on = $3, outcome = $4, on_time = $5
                       WHERE matter_id = $1""",
                    event.matter_id,
                    MatterStatus.closed.value,
                    event.closed_on,
                    event.outcome.value,
                    event.on_time,
                )
            case MatterRated():
                await conn.execute(
                    "UPDATE matters_view SET score = $2, comment = $3, rated_on = $4 WHERE matter_id = $1",
                    event.matter_id,
                    event.score,
                    event.comment,
                    event.rated_on,
                )
            case MatterRequesterErased():
                await conn.execute(
                    "UPDATE matters_view SET erased = true WHERE matter_id = $1", event.matter_id
                )

    async def reset(self, conn: DbConnection) -> None:
        await conn.execute("TRUNCATE service_items_view, matters_view")
