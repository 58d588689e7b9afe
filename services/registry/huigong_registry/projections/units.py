"""Units and partners as the registry lists them, and the certificates anyone can verify.

A unit's status: approved (建设中) → certified (已认定) → revoked (已撤销) or exited (已退出); a
certified title may be suspended (暂停, a revocation case open) and then revoked or restored.
A partner's: active (在册) → exited (已退出)."""

from __future__ import annotations

from typing import ClassVar

from huigong_events.base import DomainEvent
from huigong_events.envelope import RecordedEvent
from huigong_events.registry import (
    CertificationRevoked,
    PartnerExited,
    PartnerRegistered,
    UnitCertified,
    UnitExited,
    UnitRegistered,
)
from huigong_events.revocation import CertificationRestored, CertificationSuspended
from huigong_events.topics import Topic, topic_for_aggregate
from huigong_platform.database import DbConnection
from huigong_platform.subscriptions import Projection


class UnitsProjection(Projection):
    name: ClassVar[str] = "registry.units"
    topics: ClassVar[tuple[Topic, ...]] = (topic_for_aggregate("unit"), topic_for_aggregate("partner"))
    handles: ClassVar[frozenset[str]] = frozenset(
        {
            "UnitRegistered",
            "PartnerRegistered",
            "PartnerExited",
            "UnitCertified",
            "CertificationRevoked",
            "CertificationSuspended",
            "CertificationRestored",
            "UnitExited",
        }
    )

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
                    """INSERT INTO partners_view (partner_id, name, category, area, origin, registered_on,
                           credit_code, application_id, status)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'active')""",
                    event.partner_id,
                    event.name,
                    event.category.value,
                    event.area,
                    event.origin.value,
                    event.registered_on,
                    event.credit_code,
                    event.application_id,
                )
            case PartnerExited():
                await conn.execute(
                    """UPDATE partners_view SET status = 'exited', exited_on = $2, status_reason = $3
                       WHERE partner_id = $1""",
                    event.partner_id,
                    event.exited_on,
                    event.reason,
                )

            case UnitCertified():
                await conn.execute(
                    """UPDATE units_view SET status = 'certified', certificate_no = $2, title = $3,
                           certified_on = $4, valid_until = $5, recheck_due = $6
                       WHERE unit_id = $1""",
                    event.unit_id,
                    event.certificate_no,
                    event.title,
                    event.certified_on,
                    event.valid_until,
                    event.recheck_due,
                )
                await conn.execute(
                    """INSERT INTO certificates_view (certificate_no, unit_id, unit_name, programme, title,
                           certified_on, valid_until, status)
                       SELECT $1, unit_id, name, programme, $2, $3, $4, 'certified'
                       FROM units_view WHERE unit_id = $5""",
                    event.certificate_no,
                    event.title,
                    event.certified_on,
                    event.valid_until,
                    event.unit_id,
                )
            case CertificationRevoked():
                await conn.execute(
                    """UPDATE units_view SET status = 'revoked', revoked_on = $2, status_reason = $3
                       WHERE unit_id = $1""",
                    event.unit_id,
                    event.revoked_on,
                    event.reason,
                )
                await conn.execute(
                    "UPDATE certificates_view SET status = 'revoked', revoked_on = $2 WHERE certificate_no = $1",
                    event.certificate_no,
                    event.revoked_on,
                )
            case CertificationSuspended():
                # A finding joining an open case keeps the day the title was first suspended.
                await conn.execute(
                    """UPDATE units_view SET status = 'suspended', status_reason = $3,
                           suspended_on = CASE WHEN status = 'suspended' THEN suspended_on ELSE $2 END
                       WHERE unit_id = $1""",
                    event.unit_id,
                    event.suspended_on,
                    f"撤销审查中（{event.rule.value}）",
                )
                await conn.execute(
                    """UPDATE certificates_view SET status = 'suspended',
                           suspended_on = CASE WHEN status = 'suspended' THEN suspended_on ELSE $2 END
                       WHERE certificate_no = $1""",
                    event.certificate_no,
                    event.suspended_on,
                )
            case CertificationRestored():
                await conn.execute(
                    """UPDATE units_view SET status = 'certified', status_reason = NULL, suspended_on = NULL
                       WHERE unit_id = $1""",
                    event.unit_id,
                )
                await conn.execute(
                    """UPDATE certificates_view SET status = 'certified', suspended_on = NULL
                       WHERE certificate_no = $1""",
                    event.certificate_no,
                )
            case UnitExited():
                await conn.execute(
                    """UPDATE units_view SET status = 'exited', exited_on = $2, status_reason = $3
                       WHERE unit_id = $1""",
                    event.unit_id,
                    event.exited_on,
                    event.reason,
                )
                await conn.execute(
                    """UPDATE certificates_view SET status = 'exited', exited_on = $2
                       WHERE unit_id = $1 AND status = 'certified'""",
                    event.unit_id,
                    event.exited_on,
                )

    async def reset(self, conn: DbConnection) -> None:
        await conn.execute("TRUNCATE units_view, partners_view, certificates_view")
