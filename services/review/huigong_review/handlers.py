"""Review's service layer: each command locks the application, loads its state (review's stream,
intake's application events, the units and the facts that review keeps), is decided by the pure
domain and appended with the expected version, in the transaction that records its
idempotency key (`huigong_platform.idempotency.once`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Final
from uuid import UUID, uuid5

from huigong_events.base import DomainEvent
from huigong_events.envelope import RecordedEvent
from huigong_events.reference import ExclusionRule
from huigong_events.review import ConstructionApproved
from huigong_platform import telemetry
from huigong_platform.database import DbConnection
from huigong_platform.eventstore import EventStore, Metadata
from huigong_platform.idempotency import Outcome
from huigong_platform.principals import Principal

from .adapters import inputs
from .domain import decisions, findings, scoring
from .domain.errors import FieldError, InvalidCommand, NotFound
from .domain.reviewers import Reviewer
from .domain.scoring import ScoringPolicy
from .domain.state import ReviewState, evolve

SOURCE: Final = "review"
# A reviewer's finding id is derived from the caller and the Idempotency-Key (uuid5), so the
# same request can never record two findings, even across a lost answer.
FINDING_KEY_NAMESPACE: Final = UUID("5d0c51a8-2f44-5a43-9d52-4c1b1d9c7e31")


def not_found() -> NotFound:
    return NotFound(FieldError("application_id", "评审中没有该申报", "review has no such application"))


def finding_id_for(principal: Principal, idempotency_key: str) -> UUID:
    return uuid5(FINDING_KEY_NAMESPACE, f"{principal.id}\n{idempotency_key}")


@dataclass
class Review:
    store: EventStore
    policy: ScoringPolicy

    async def _state(self, conn: DbConnection, application_id: UUID) -> tuple[ReviewState, int]:
        await inputs.lock(conn, application_id)
        loaded = await inputs.load(conn, self.store, application_id)
        if loaded.state is None:
            raise not_found()
        return loaded.state, loaded.version

    async def _append(
        self,
        conn: DbConnection,
        application_id: UUID,
        events: Sequence[DomainEvent],
        version: int,
        principal: Principal,
        correlation_id: str,
    ) -> list[RecordedEvent]:
        meta = Metadata(actor=principal.id, source=SOURCE, correlation_id=correlation_id)
        recorded = await self.store.append(str(application_id), events, version, meta, conn=conn)
        for event in events:
            telemetry.EVENTS_APPENDED.labels("review", event.type).inc()
        return recorded

    async def record_finding(
        self,
        conn: DbConnection,
        principal: Principal,
        reviewer: Reviewer,
        correlation_id: str,
        application_id: UUID,
        rule: ExclusionRule,
        reason: str,
        finding_id: UUID,
    ) -> Outcome:
        state, version = await self._state(conn, application_id)
        event = findings.record_finding(state, reviewer, rule, reason, finding_id=finding_id)
        recorded = await self._append(conn, application_id, [event], version, principal, correlation_id)
        return Outcome(
            201,
            {
                "application_id": str(application_id),
                "finding_id": str(event.finding_id),
                "rule": event.rule.value,
                "rule_text": event.rule_text,
                "stage": event.stage.value,
                "event_id": str(recorded[0].id),
            },
        )

    async def clear_finding(
        self,
        conn: DbConnection,
        principal: Principal,
        correlation_id: str,
        application_id: UUID,
        finding_id: UUID,
        reason: str,
    ) -> Outcome:
        state, version = await self._state(conn, application_id)
        event = findings.clear_finding(state, finding_id, reason)
        recorded = await self._append(conn, application_id, [event], version, principal, correlation_id)
        return Outcome(
            200,
            {
                "application_id": str(application_id),
                "finding_id": str(finding_id),
                "cleared": True,
                "event_id": str(recorded[0].id),
            },
        )

    async def score(
        self,
        conn: DbConnection,
        principal: Principal,
        reviewer: Reviewer,
        correlation_id: str,
        application_id: UUID,
        scores: Mapping[str, tuple[Decimal, str]],
    ) -> Outcome:
        state, version = await self._state(conn, application_id)
        event = scoring.score(state, reviewer, scores, self.policy)
        recorded = await self._append(conn, application_id, [event], version, principal, correlation_id)
        scored = evolve(state, event)
        assert scored is not None
        summary = scoring.panel(scored, self.policy)
        return Outcome(
            201,
            {
                "application_id": str(application_id),
                "reviewer": event.reviewer,
                "weighted_total": str(event.weighted_total),
                "event_id": str(recorded[0].id),
                "panel": {
                    "count": summary.count,
                    "quorum": summary.quorum,
                    "quorum_met": summary.quorum_met,
                    "mean": None if summary.mean is None else str(summary.mean),
                    "flagged": list(summary.flagged),
                },
            },
        )

    async def decide(
        self,
        conn: DbConnection,
        principal: Principal,
        chair: Reviewer,
        correlation_id: str,
        application_id: UUID,
        *,
        approve: bool,
        period_start: date | None,
        reasons: Sequence[str],
    ) -> Outcome:
        state, version = await self._state(conn, application_id)
        event: DomainEvent
        if approve:
            if period_start is None:
                raise InvalidCommand(
                    FieldError(
                        "period_start",
                        "批准建设须填写三年建设期的开始日期",
                        "an approval needs the start date of the three-year construction period",
                    )
                )
            event = decisions.approve(state, chair, period_start, self.policy)
        else:
            event = decisions.decline(state, chair, reasons, self.policy)
        recorded = await self._append(conn, application_id, [event], version, principal, correlation_id)
        body: dict[str, object] = {
            "application_id": str(application_id),
            "decision": "approved" if isinstance(event, ConstructionApproved) else "declined",
            "event_id": str(recorded[0].id),
            **event.to_data(),
        }
        return Outcome(201, body)
