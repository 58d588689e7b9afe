"""The member roster as counted: one row per member key, the district, occupation and platform of
the first report; later reports only raise `reports`; mutual aid per policy year."""

from __future__ import annotations

from typing import ClassVar

from huigong_events.base import DomainEvent
from huigong_events.envelope import RecordedEvent
from huigong_events.registry import MemberEnrolled, MemberReportedAgain, MutualAidGranted
from huigong_events.topics import Topic, topic_for_aggregate
from huigong_platform.database import DbConnection
from huigong_platform.subscriptions import Projection


class RosterProjection(Projection):
    name: ClassVar[str] = "registry.roster"
    topics: ClassVar[tuple[Topic, ...]] = (topic_for_aggregate("member"),)
    handles: ClassVar[frozenset[str]] = frozenset(
        {"MemberEnrolled", "MemberReportedAgain", "MutualAidGranted"}
    )

    async def apply(self, conn: DbConnection, event: DomainEvent, record: RecordedEvent) -> None:
        match event:
            case MemberEnrolled():
                await conn.execute(
                    """INSERT INTO members_view (member_key, district, occupation, platform, joined_on)
                       VALUES ($1, $2, $3, $4, $5) ON CONFLICT (member_key) DO NOTHING""",
                    event.member_key,
                    event.district,
                    event.occupation.value,
                    event.platform,
                    event.joined_on,
                )
            case MemberReportedAgain():
                await conn.execute(
                    "UPDATE members_view SET reports = reports + 1 WHERE member_key = $1", event.member_key
                )
            case MutualAidGranted():
                await conn.execute(
                    """INSERT INTO member_aid_view (member_key, policy_year, paid_by, granted_on)
                       VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING""",
                    event.member_key,
                    event.policy_year,
                    event.paid_by,
                    event.granted_on,
                )

    async def reset(self, conn: DbConnection) -> None:
        await conn.execute("TRUNCATE members_view, member_aid_view")
