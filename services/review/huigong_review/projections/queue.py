"""The review queue (评审队列): one row per application with its programme, submitter, name, where
it stands, its scores so far and whether a score is flagged.

Built by the projection runner from intake's application events (receipt, name, submission time,
withdrawal) and review's own events (screening, findings, scores, decision). The two topics are
read independently, so either may arrive first: every event upserts only the columns it knows,
and `updated_at` is the latest business time seen, so the row never depends on the interleaving.

The queue stage is computed when read, with the configured quorum, so changing the quorum
re-sorts the queue without a replay:

| stage | meaning |
|---|---|
| `awaiting_screening` | submitted, not yet screened (待筛查) |
| `awaiting_selection` | accepted (已受理), the city has not yet selected the construction unit |
| `awaiting_scores` | selected (已确定建设单位), fewer scores on its plans than the quorum |
| `awaiting_decision` | selected, quorum reached, no decision yet |
| `decided` | 不予受理, withdrawn, 未确定为建设单位, 批准建设 or 不予批准 |

Streams recorded before selection was a step of its own have scores and no selection: a scored
application counts as selected (as `domain.state.ReviewState.selected` reads it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, ClassVar, Final

import orjson

from huigong_events import intake as ev
from huigong_events import review as rv
from huigong_events.base import DomainEvent
from huigong_events.envelope import RecordedEvent
from huigong_events.forms import PilotForm
from huigong_events.topics import Topic, topic_for_aggregate
from huigong_platform.database import DbConnection
from huigong_platform.subscriptions import Projection

from ..domain.scoring import CENTS, deviations
from ..domain.state import Form, QueueStage, unit_of

QUEUE_STAGES: Final[dict[str, str]] = QueueStage.labels()

# The SQL of the stage, given the quorum as parameter $1. A decision outranks a withdrawal that
# raced it (see domain.state.ReviewState.stage).
STAGE_SQL: Final = """CASE
    WHEN decision IS NOT NULL OR rejected OR withdrawn OR selection = 'not_selected' THEN 'decided'
    WHEN accepted AND score_count >= $1 THEN 'awaiting_decision'
    WHEN accepted AND (selection = 'selected' OR score_count > 0) THEN 'awaiting_scores'
    WHEN accepted THEN 'awaiting_selection'
    ELSE 'awaiting_screening' END"""

# The domain's ReviewStage values, as the queue knows them (certification is the registry's).
STATUS_SQL: Final = """CASE
    WHEN decision = 'approved' THEN 'approved'
    WHEN decision = 'declined' THEN 'declined'
    WHEN rejected THEN 'rejected'
    WHEN withdrawn THEN 'withdrawn'
    WHEN selection = 'not_selected' THEN 'not_selected'
    WHEN accepted AND (selection = 'selected' OR score_count > 0) THEN 'selected'
    WHEN accepted THEN 'accepted'
    ELSE 'pending' END"""


def form_name(form: Form) -> str:
    """The name districts know an application by: the pilot's name (试点名称) or the base's or
    partner's name."""
    return form.pilot_name if isinstance(form, PilotForm) else form.name


@dataclass(frozen=True)
class Totals:
    """Mean, spread and flagged reviewers of the weighted totals, as `domain.scoring.panel`
    computes them (`domain.scoring.deviations`)."""

    count: int
    mean: Decimal | None
    spread: Decimal | None
    flagged: tuple[str, ...]


def summarise(totals: Mapping[str, Decimal], threshold: Decimal) -> Totals:
    values = list(totals.values())
    count = len(values)
    if not count:
        return Totals(0, None, None, ())
    total = sum(values, Decimal(0))
    flagged: tuple[str, ...] = ()
    spread_from = deviations(totals)
    if spread_from is not None:
        flagged = tuple(reviewer for reviewer, distance in spread_from[1].items() if distance > threshold)
    mean = (total / count).quantize(CENTS, rounding=ROUND_HALF_UP)
    return Totals(count, mean, max(values) - min(values), flagged)


def totals_of(raw: Any) -> dict[str, Decimal]:
    data = orjson.loads(raw) if isinstance(raw, str | bytes) else raw
    return {reviewer: Decimal(str(value)) for reviewer, value in data.items()}


class QueueProjection(Projection):
    name: ClassVar[str] = "review.queue"
    topics: ClassVar[tuple[Topic, ...]] = (topic_for_aggregate("application"), topic_for_aggregate("review"))
    handles: ClassVar[frozenset[str]] = frozenset(
        {
            "ApplicationSubmitted",
            "ApplicationAmended",
            "ApplicationWithdrawn",
            "ApplicationAccepted",
            "ApplicationRejected",
            "ExclusionFound",
            "ExclusionCleared",
            "ConstructionUnitSelected",
            "ConstructionUnitNotSelected",
            "ReviewScored",
            "ConstructionApproved",
            "ConstructionDeclined",
        }
    )

    async def apply(self, conn: DbConnection, event: DomainEvent, record: RecordedEvent) -> None:
        at = record.occurred_at
        match event:
            case ev.ApplicationSubmitted():
                await conn.execute(
                    """INSERT INTO review_queue (application_id, receipt_no, year, programme, submitter,
                           name, unit_name, submitted_at, updated_at)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
                       ON CONFLICT (application_id) DO UPDATE SET receipt_no = $2, year = $3,
                           programme = $4, submitter = $5, name = $6, unit_name = $7, submitted_at = $8,
                           updated_at = greatest(review_queue.updated_at, $8)""",
                    event.application_id,
                    event.receipt_no,
                    event.year,
                    event.programme.value,
                    event.submitter,
                    form_name(event.form),
                    unit_of(event.form)[0],
                    at,
                )
            case ev.ApplicationAmended():
                await self._upsert(
                    conn,
                    event.application_id,
                    at,
                    "name = $3, unit_name = $4",
                    form_name(event.form),
                    unit_of(event.form)[0],
                )
            case ev.ApplicationWithdrawn():
                await self._upsert(conn, event.application_id, at, "withdrawn = true")
            case rv.ApplicationAccepted():
                await self._upsert(
                    conn,
                    event.application_id,
                    at,
                    "accepted = true, programme = coalesce(programme, $3), submitter = coalesce(submitter, $4)",
                    event.programme.value,
                    event.submitter,
                )
            case rv.ApplicationRejected():
                await self._upsert(conn, event.application_id, at, "rejected = true")
            case rv.ExclusionFound():
                await self._upsert(conn, event.application_id, at)
                await conn.execute(
                    """INSERT INTO review_queue_findings (application_id, finding_id, rule)
                       VALUES ($1, $2, $3) ON CONFLICT DO NOTHING""",
                    event.application_id,
                    event.finding_id,
                    event.rule.value,
                )
            case rv.ExclusionCleared():
                await conn.execute(
                    """UPDATE review_queue_findings SET open = false
                       WHERE application_id = $1 AND finding_id = $2""",
                    event.application_id,
                    event.finding_id,
                )
                await self._upsert(conn, event.application_id, at)
            case rv.ReviewScored():
                await self._upsert(
                    conn,
                    event.application_id,
                    at,
                    "totals = totals || jsonb_build_object($3::text, $4::text), "
                    "score_count = (SELECT count(*) FROM jsonb_object_keys("
                    "totals || jsonb_build_object($3::text, $4::text)))",
                    event.reviewer,
                    str(event.weighted_total),
                )
            case rv.ConstructionUnitSelected():
                await self._upsert(conn, event.application_id, at, "selection = 'selected'")
            case rv.ConstructionUnitNotSelected():
                await self._upsert(conn, event.application_id, at, "selection = 'not_selected'")
            case rv.ConstructionApproved():
                await self._upsert(conn, event.application_id, at, "decision = 'approved'")
            case rv.ConstructionDeclined():
                await self._upsert(conn, event.application_id, at, "decision = 'declined'")

    @staticmethod
    async def _upsert(
        conn: DbConnection, application_id: object, at: object, changes: str = "", *args: object
    ) -> None:
        """Create a bare row if the application is new to the queue (a review event read before
        intake's), then apply `changes` (their parameters start at $3)."""
        await conn.execute(
            "INSERT INTO review_queue (application_id, updated_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            application_id,
            at,
        )
        # The latest business time seen, not the last applied: the two topics interleave
        # differently on every restart and replay, and the row must not depend on it.
        latest = "updated_at = greatest(updated_at, $2)"
        assignments = f"{changes}, {latest}" if changes else latest
        await conn.execute(
            f"UPDATE review_queue SET {assignments} WHERE application_id = $1", application_id, at, *args
        )

    async def reset(self, conn: DbConnection) -> None:
        await conn.execute("TRUNCATE review_queue, review_queue_findings")
