"""受理 receipts and status per application, and what review has decided so far.

Built from intake's application events and review's decisions. The status a district sees, in
the plan's order of work: 已提交 → 已受理 / 不予受理 → 已确定为建设单位 / 未确定为建设单位 →
评审中 (the panel scores the plans) → 批准建设 / 不予批准, or 已撤回.

The two topics are read side by side, and how their records interleave depends on fetch timing
(a restart, a rebalance, a replay all interleave them differently). So nothing here may depend on
that order: a status only ever moves forward along `STATUS_ORDER` (a withdrawal is final, even
against a screening that had not yet seen it), and `updated_at` is the latest business time seen.
A replay then reproduces the live table exactly, whatever the interleaving
(tests/reliability found the last-writer-wins version differing after a restart).
"""

from __future__ import annotations

from typing import ClassVar, Final

from huigong_events import intake as ev
from huigong_events import review as rv
from huigong_events.base import DomainEvent
from huigong_events.envelope import RecordedEvent
from huigong_events.forms import PilotForm
from huigong_events.labels import Labelled
from huigong_events.topics import Topic, topic_for_aggregate
from huigong_platform.database import DbConnection
from huigong_platform.subscriptions import Projection


class ApplicationStatus(Labelled):
    """申报状态 as intake answers it; the label is the member's name."""

    已提交 = "submitted"
    已撤回 = "withdrawn"
    已受理 = "accepted"
    不予受理 = "rejected"
    已确定为建设单位 = "selected"
    未确定为建设单位 = "not_selected"
    评审中 = "scoring"
    批准建设 = "approved"
    不予批准 = "declined"


STATUS_LABELS: Final[dict[str, str]] = ApplicationStatus.labels()


# Later is stronger: a status is never replaced by one earlier in this list.
STATUS_ORDER: Final[tuple[str, ...]] = (
    "submitted",
    "accepted",
    "rejected",
    "selected",
    "not_selected",
    "scoring",
    "declined",
    "approved",
    "withdrawn",
)


def form_name(form: object) -> str:
    return form.pilot_name if isinstance(form, PilotForm) else str(getattr(form, "name", ""))


class ApplicationsProjection(Projection):
    name: ClassVar[str] = "intake.applications"
    topics: ClassVar[tuple[Topic, ...]] = (
        topic_for_aggregate("application"),
        topic_for_aggregate("review"),
    )
    handles: ClassVar[frozenset[str]] = frozenset(
        {
            "ApplicationSubmitted",
            "ApplicationAmended",
            "ApplicationWithdrawn",
            "PlanSubmitted",
            "PlanAmended",
            "ApplicationAccepted",
            "ConstructionUnitSelected",
            "ConstructionUnitNotSelected",
            "ApplicationRejected",
            "ReviewScored",
            "ConstructionApproved",
            "ConstructionDeclined",
        }
    )

    async def apply(self, conn: DbConnection, event: DomainEvent, record: RecordedEvent) -> None:
        at = record.occurred_at
        match event:
            case ev.ApplicationSubmitted():
                # Review's topic may be read ahead of ours: start from what review decided already.
                await conn.execute(
                    """INSERT INTO applications_view (application_id, receipt_no, year, programme,
                           submitter, name, status, submitted_at, updated_at)
                       VALUES ($1, $2, $3, $4, $5, $6,
                           coalesce((SELECT CASE WHEN approved THEN 'approved'
                                                 WHEN declined THEN 'declined'
                                                 WHEN scored THEN 'scoring'
                                                 WHEN not_selected THEN 'not_selected'
                                                 WHEN selected THEN 'selected'
                                                 WHEN rejected THEN 'rejected'
                                                 WHEN accepted THEN 'accepted' END
                                     FROM review_progress WHERE application_id = $1), 'submitted'),
                           $7,
                           greatest($7, (SELECT updated_at FROM review_progress WHERE application_id = $1)))""",
                    event.application_id,
                    event.receipt_no,
                    event.year,
                    event.programme.value,
                    event.submitter,
                    form_name(event.form),
                    at,
                )
                await conn.execute(
                    "INSERT INTO review_progress (application_id) VALUES ($1) ON CONFLICT DO NOTHING",
                    event.application_id,
                )
                await conn.execute(
                    """INSERT INTO application_status_history (application_id, status, at) VALUES ($1, 'submitted', $2)
                       ON CONFLICT DO NOTHING""",
                    event.application_id,
                    at,
                )
            case ev.ApplicationAmended():
                await conn.execute(
                    """UPDATE applications_view SET name = $2, amendments = amendments + 1,
                       updated_at = greatest(updated_at, $3) WHERE application_id = $1""",
                    event.application_id,
                    form_name(event.form),
                    at,
                )
            case ev.ApplicationWithdrawn():
                await self._status(conn, event.application_id, "withdrawn", at)
            case ev.PlanSubmitted():
                await conn.execute(
                    "UPDATE applications_view SET plans = plans + 1, updated_at = greatest(updated_at, $2) "
                    "WHERE application_id = $1",
                    event.application_id,
                    at,
                )
            case rv.ApplicationAccepted():
                await self._progress(conn, event.application_id, "accepted", at)
                await self._status(conn, event.application_id, "accepted", at)
            case ev.PlanAmended():
                await conn.execute(
                    "UPDATE applications_view SET updated_at = greatest(updated_at, $2) WHERE application_id = $1",
                    event.application_id,
                    at,
                )
            case rv.ConstructionUnitSelected():
                await self._progress(conn, event.application_id, "selected", at)
                await self._status(conn, event.application_id, "selected", at)
            case rv.ConstructionUnitNotSelected():
                await self._progress(conn, event.application_id, "not_selected", at)
                await self._status(conn, event.application_id, "not_selected", at)
            case rv.ApplicationRejected():
                await self._progress(conn, event.application_id, "rejected", at)
                await self._status(conn, event.application_id, "rejected", at)
            case rv.ReviewScored():
                await self._progress(conn, event.application_id, "scored", at)
                await self._status(conn, event.application_id, "scoring", at)
            case rv.ConstructionApproved():
                await conn.execute(
                    """INSERT INTO review_progress (application_id, approved, period_start, period_end, updated_at)
                       VALUES ($1, true, $2, $3, $4)
                       ON CONFLICT (application_id) DO UPDATE
                       SET approved = true, period_start = $2, period_end = $3,
                           updated_at = greatest(review_progress.updated_at, $4)""",
                    event.application_id,
                    event.period_start,
                    event.period_end,
                    at,
                )
                await self._status(conn, event.application_id, "approved", at)
            case rv.ConstructionDeclined():
                await self._progress(conn, event.application_id, "declined", at)
                await self._status(conn, event.application_id, "declined", at)

    @staticmethod
    async def _status(conn: DbConnection, application_id: object, status: str, at: object) -> None:
        await conn.execute(
            """INSERT INTO application_status_history (application_id, status, at) VALUES ($1, $2, $3)
               ON CONFLICT (application_id, status) DO UPDATE
               SET at = least(application_status_history.at, excluded.at)""",
            application_id,
            status,
            at,
        )
        await conn.execute(
            """UPDATE applications_view
               SET status = CASE WHEN array_position($4::text[], $2) >= array_position($4::text[], status)
                                 THEN $2 ELSE status END,
                   updated_at = greatest(updated_at, $3)
               WHERE application_id = $1""",
            application_id,
            status,
            at,
            list(STATUS_ORDER),
        )

    @staticmethod
    async def _progress(conn: DbConnection, application_id: object, flag: str, at: object) -> None:
        assert flag in {"accepted", "rejected", "scored", "declined", "selected", "not_selected"}
        await conn.execute(
            f"""INSERT INTO review_progress (application_id, {flag}, updated_at) VALUES ($1, true, $2)
                ON CONFLICT (application_id) DO UPDATE
                SET {flag} = true, updated_at = greatest(review_progress.updated_at, $2)""",
            application_id,
            at,
        )

    async def reset(self, conn: DbConnection) -> None:
        await conn.execute("TRUNCATE applications_view, review_progress, application_status_history")
