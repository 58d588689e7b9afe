"""The 服务职工基地 and 关爱职工公益伙伴 as the dashboard's 分级评定 table counts them
(domain/grades.py): registered, exited, and the registry's grading events. A partner's record
(on the facilities topic) and its grades (on the units topic) may arrive in either order, so each
event fills in what it knows."""

from __future__ import annotations

from typing import ClassVar

from huigong_events.base import DomainEvent
from huigong_events.envelope import RecordedEvent
from huigong_events.grading import (
    ExitProposalConfirmed,
    ExitProposalDismissed,
    ExitProposed,
    RectificationCompleted,
    RectificationOrdered,
    ResourceGraded,
)
from huigong_events.reference import Programme
from huigong_events.registry import (
    CertificationRevoked,
    PartnerExited,
    PartnerRegistered,
    UnitExited,
    UnitOrigin,
    UnitRegistered,
)
from huigong_events.topics import Topic, topic_for_aggregate
from huigong_platform.database import DbConnection
from huigong_platform.subscriptions import Projection

_REGISTERED = """INSERT INTO grades (subject_id, kind, area, from_application) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (subject_id) DO UPDATE SET area = EXCLUDED.area,
                     from_application = EXCLUDED.from_application"""


class GradesProjection(Projection):
    name: ClassVar[str] = "metrics.grades"
    topics: ClassVar[tuple[Topic, ...]] = (topic_for_aggregate("grading"), topic_for_aggregate("partner"))
    handles: ClassVar[frozenset[str]] = frozenset(
        {
            "UnitRegistered",
            "UnitExited",
            "CertificationRevoked",
            "PartnerRegistered",
            "PartnerExited",
            "ResourceGraded",
            "RectificationOrdered",
            "RectificationCompleted",
            "ExitProposed",
            "ExitProposalDismissed",
            "ExitProposalConfirmed",
        }
    )
    tables: ClassVar[tuple[str, ...]] = ("grades",)

    async def apply(self, conn: DbConnection, event: DomainEvent, record: RecordedEvent) -> None:
        match event:
            case UnitRegistered() if event.programme is Programme.服务职工基地:
                await conn.execute(
                    _REGISTERED, event.unit_id, "service_base", event.area, event.origin is UnitOrigin.申报
                )
            case PartnerRegistered():
                await conn.execute(
                    _REGISTERED,
                    event.partner_id,
                    "welfare_partner",
                    event.area,
                    event.origin.value == "application",
                )
            case UnitExited() | CertificationRevoked():
                await conn.execute("UPDATE grades SET active = false WHERE subject_id = $1", event.unit_id)
            case PartnerExited():
                await conn.execute("UPDATE grades SET active = false WHERE subject_id = $1", event.partner_id)
            case ResourceGraded():
                # The latest year's grade stands; probation, once ended, stays ended.
                await conn.execute(
                    """INSERT INTO grades (subject_id, kind, area, grade, grade_year, probation_ended)
                       VALUES ($1, $2, $3, $4, $5, $6)
                       ON CONFLICT (subject_id) DO UPDATE SET
                           grade = CASE WHEN grades.grade_year IS NULL OR grades.grade_year <= EXCLUDED.grade_year
                                        THEN EXCLUDED.grade ELSE grades.grade END,
                           grade_year = GREATEST(grades.grade_year, EXCLUDED.grade_year),
                           probation_ended = grades.probation_ended OR EXCLUDED.probation_ended""",
                    event.subject_id,
                    event.kind.value,
                    event.area,
                    event.grade.value,
                    event.year,
                    event.probation_ended,
                )
            case RectificationOrdered():
                await conn.execute(
                    "UPDATE grades SET rectification_due = $2 WHERE subject_id = $1",
                    event.subject_id,
                    event.deadline,
                )
            case RectificationCompleted():
                await conn.execute(
                    "UPDATE grades SET rectification_due = NULL WHERE subject_id = $1", event.subject_id
                )
            case ExitProposed():
                await conn.execute(
                    "UPDATE grades SET exit_proposed = true WHERE subject_id = $1", event.subject_id
                )
            case ExitProposalDismissed() | ExitProposalConfirmed():
                await conn.execute(
                    "UPDATE grades SET exit_proposed = false WHERE subject_id = $1", event.subject_id
                )

    async def reset(self, conn: DbConnection) -> None:
        await conn.execute("TRUNCATE grades")
