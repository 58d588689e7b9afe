"""The member roster as counted: one row per member key, the district, occupation and platform of
the first report; later reports only raise `reports`; mutual aid per policy year. An erased
member keeps its row (counts unchanged) with `erased_on` and the request's reference."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date
from typing import ClassVar

from huigong_events.base import DomainEvent
from huigong_events.envelope import RecordedEvent
from huigong_events.registry import MemberEnrolled, MemberErased, MemberReportedAgain, MutualAidGranted
from huigong_events.topics import Topic, topic_for_aggregate
from huigong_platform.database import DbConnection
from huigong_platform.subscriptions import Projection, index_probes


class RosterProjection(Projection):
    name: ClassVar[str] = "registry.roster"
    topics: ClassVar[tuple[Topic, ...]] = (topic_for_aggregate("member"),)
    handles: ClassVar[frozenset[str]] = frozenset(
        {"MemberEnrolled", "MemberReportedAgain", "MutualAidGranted", "MemberErased"}
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
            case MemberErased():
                await _erase(conn, [(event.member_key, event.erased_on, event.request_ref)])

    async def apply_batch(
        self, conn: DbConnection, items: Sequence[tuple[DomainEvent, RecordedEvent]]
    ) -> None:
        """The same as `apply` one by one, in at most three statements. A member is enrolled
        once and granted aid once per policy year (the registry decides so under a lock on the
        member key), so new rows are written with binary COPY; should one exist all the same, the
        COPY fails and the runner applies the batch again one event at a time, where the first
        row of a key wins. Enrolments go in before the batch's repeat reports are counted: a
        member's report always follows its enrolment."""
        enrolled: list[tuple[str, str, str, str, date]] = []
        again: Counter[str] = Counter()
        aid: list[tuple[str, int, str, date]] = []
        erased: list[tuple[str, date, str]] = []
        for event, _ in items:
            if isinstance(event, MemberEnrolled):
                enrolled.append(
                    (
                        event.member_key,
                        event.district,
                        event.occupation.value,
                        event.platform,
                        event.joined_on,
                    )
                )
            elif isinstance(event, MemberReportedAgain):
                again[event.member_key] += 1
            elif isinstance(event, MutualAidGranted):
                aid.append((event.member_key, event.policy_year, event.paid_by, event.granted_on))
            elif isinstance(event, MemberErased):
                erased.append((event.member_key, event.erased_on, event.request_ref))
        if enrolled:
            await conn.copy_records_to_table(
                "members_view",
                records=enrolled,
                columns=["member_key", "district", "occupation", "platform", "joined_on"],
            )
        if again:
            async with index_probes(conn):
                await conn.execute(
                    """UPDATE members_view m SET reports = m.reports + k.n
                       FROM unnest($1::text[], $2::int[]) AS k(member_key, n)
                       WHERE m.member_key = k.member_key""",
                    list(again),
                    list(again.values()),
                )
        if aid:
            await conn.copy_records_to_table(
                "member_aid_view", records=aid, columns=["member_key", "policy_year", "paid_by", "granted_on"]
            )
        if erased:
            # After the enrolments: a member erased in the same batch has its row by now.
            await _erase(conn, erased)

    async def reset(self, conn: DbConnection) -> None:
        await conn.execute("TRUNCATE members_view, member_aid_view")


async def _erase(conn: DbConnection, erased: Sequence[tuple[str, date, str]]) -> None:
    """Mark members erased. A person reported again after an erasure may be erased again: the
    latest erasure is shown (a member's events arrive in order, so the last one of the batch)."""
    latest = list({e[0]: e for e in erased}.values())
    await conn.execute(
        """UPDATE members_view m SET erased_on = e.erased_on, erasure_ref = e.ref
           FROM unnest($1::text[], $2::date[], $3::text[]) AS e(member_key, erased_on, ref)
           WHERE m.member_key = e.member_key""",
        [e[0] for e in latest],
        [e[1] for e in latest],
        [e[2] for e in latest],
    )
