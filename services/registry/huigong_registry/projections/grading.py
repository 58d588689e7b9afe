"""Each base's or partner's latest grade and where it stands (整改 open, exit proposed, exited),
for the public 服务项目集群 and the dashboard's figures. A grade of an earlier year arriving after a
later one (a late evaluation) does not replace the later one."""

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
from huigong_events.topics import Topic, topic_for_aggregate
from huigong_platform.database import DbConnection
from huigong_platform.subscriptions import Projection

from ..domain.grading import AGGREGATE


class GradingProjection(Projection):
    name: ClassVar[str] = "registry.grading"
    topics: ClassVar[tuple[Topic, ...]] = (topic_for_aggregate(AGGREGATE),)
    tables: ClassVar[tuple[str, ...]] = ("grades_view",)
    handles: ClassVar[frozenset[str]] = frozenset(
        {
            "ResourceGraded",
            "RectificationOrdered",
            "RectificationCompleted",
            "ExitProposed",
            "ExitProposalDismissed",
            "ExitProposalConfirmed",
        }
    )

    async def apply(self, conn: DbConnection, event: DomainEvent, record: RecordedEvent) -> None:
        match event:
            case ResourceGraded():
                await conn.execute(
                    """INSERT INTO grades_view (subject_id, kind, name, area, year, grade, score,
                           evaluated_on, probation_ended)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                       ON CONFLICT (subject_id) DO UPDATE SET
                           year = EXCLUDED.year, grade = EXCLUDED.grade, score = EXCLUDED.score,
                           evaluated_on = EXCLUDED.evaluated_on, name = EXCLUDED.name, area = EXCLUDED.area,
                           probation_ended = grades_view.probation_ended OR EXCLUDED.probation_ended
                       WHERE grades_view.year <= EXCLUDED.year""",
                    event.subject_id,
                    event.kind.value,
                    event.name,
                    event.area,
                    event.year,
                    event.grade.value,
                    event.score,
                    event.evaluated_on,
                    event.probation_ended,
                )
                if event.probation_ended:
                    await conn.execute(
                        "UPDATE grades_view SET probation_ended = true WHERE subject_id = $1",
                        event.subject_id,
                    )
            case RectificationOrdered():
                await self._set(conn, event.subject_id, "rectification_due", event.deadline)
            case RectificationCompleted():
                await self._set(conn, event.subject_id, "rectification_due", None)
            case ExitProposed():
                await self._set(conn, event.subject_id, "exit_proposed_on", event.proposed_on)
            case ExitProposalDismissed():
                await self._set(conn, event.subject_id, "exit_proposed_on", None)
            case ExitProposalConfirmed():
                await conn.execute(
                    "UPDATE grades_view SET exit_proposed_on = NULL, exited_on = $2 WHERE subject_id = $1",
                    event.subject_id,
                    event.confirmed_on,
                )

    @staticmethod
    async def _set(conn: DbConnection, subject_id: object, column: str, value: object) -> None:
        # `column` is one of this module's own literals.
        await conn.execute(f"UPDATE grades_view SET {column} = $2 WHERE subject_id = $1", subject_id, value)

    async def reset(self, conn: DbConnection) -> None:
        await conn.execute("TRUNCATE grades_view")
