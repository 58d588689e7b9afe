"""Review's command handlers, run by the platform's command path inside the command's unit of
work: lock the application, load its state (review's stream, intake's application events, the
units and the facts that review keeps), let the pure domain decide, append with the expected
version. The policy check, the idempotency key and the transaction are the command path's."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final
from uuid import UUID, uuid5

from huigong_events.base import DomainEvent
from huigong_events.envelope import RecordedEvent
from huigong_events.review import ConstructionApproved, ConstructionUnitSelected
from huigong_platform.application import Context, Handler
from huigong_platform.idempotency import Outcome
from huigong_platform.principals import Principal, Role
from huigong_platform.refusals import FieldError, NotFound, Refusal

from . import commands as c
from .adapters.inputs import InputsOf, Reads
from .domain import decisions, findings, scoring, selection
from .domain.scoring import ScoringPolicy
from .domain.state import ReviewState, evolve
from .policy import parse_reviewer

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
    policy: ScoringPolicy
    # Review's inputs within a command's unit of work, and for the reads (PostgreSQL in the
    # service, in memory in tests).
    inputs: InputsOf
    reads: Reads

    def handlers(self) -> Mapping[type, Handler]:
        return {
            c.RecordFinding: self.record_finding,
            c.ClearFinding: self.clear_finding,
            c.Score: self.score,
            c.Decide: self.decide,
            c.Select: self.select,
        }

    async def _state(self, ctx: Context, application_id: UUID) -> tuple[ReviewState, int]:
        inputs = self.inputs(ctx.uow)
        await inputs.lock(application_id)
        loaded = await inputs.load(application_id)
        if loaded.state is None:
            raise not_found()
        return loaded.state, loaded.version

    async def _append(
        self, ctx: Context, application_id: UUID, events: Sequence[DomainEvent], version: int
    ) -> list[RecordedEvent]:
        recorded = await ctx.uow.append(str(application_id), events, version, ctx.meta(SOURCE))
        ctx.counted(events)
        return recorded

    async def record_finding(self, command: c.RecordFinding, ctx: Context) -> Outcome:
        reviewer = parse_reviewer(ctx.principal, Role.REVIEWER, Role.CHAIR)
        state, version = await self._state(ctx, command.application_id)
        assert ctx.key is not None  # every POST takes one
        finding_id = finding_id_for(ctx.principal, ctx.key)
        event = findings.record_finding(state, reviewer, command.rule, command.reason, finding_id=finding_id)
        recorded = await self._append(ctx, command.application_id, [event], version)
        return Outcome(
            201,
            {
                "application_id": str(command.application_id),
                "finding_id": str(event.finding_id),
                "rule": event.rule.value,
                "rule_text": event.rule_text,
                "stage": event.stage.value,
                "event_id": str(recorded[0].id),
            },
        )

    async def clear_finding(self, command: c.ClearFinding, ctx: Context) -> Outcome:
        parse_reviewer(ctx.principal, Role.REVIEWER, Role.CHAIR)
        state, version = await self._state(ctx, command.application_id)
        event = findings.clear_finding(state, command.finding_id, command.reason)
        recorded = await self._append(ctx, command.application_id, [event], version)
        return Outcome(
            200,
            {
                "application_id": str(command.application_id),
                "finding_id": str(command.finding_id),
                "cleared": True,
                "event_id": str(recorded[0].id),
            },
        )

    async def score(self, command: c.Score, ctx: Context) -> Outcome:
        reviewer = parse_reviewer(ctx.principal, Role.REVIEWER)
        scores = {name: (part.score, part.comment) for name, part in command.scores.items()}
        state, version = await self._state(ctx, command.application_id)
        event = scoring.score(state, reviewer, scores, self.policy)
        recorded = await self._append(ctx, command.application_id, [event], version)
        scored = evolve(state, event)
        assert scored is not None
        summary = scoring.panel(scored, self.policy)
        return Outcome(
            201,
            {
                "application_id": str(command.application_id),
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

    async def decide(self, command: c.Decide, ctx: Context) -> Outcome:
        chair = parse_reviewer(ctx.principal, Role.CHAIR)
        state, version = await self._state(ctx, command.application_id)
        event: DomainEvent
        if command.decision is c.Decision.批准建设:
            if command.period_start is None:
                raise Refusal(
                    FieldError(
                        "period_start",
                        "批准建设须填写三年建设期的开始日期",
                        "an approval needs the start date of the three-year construction period",
                    )
                )
            event = decisions.approve(state, chair, command.period_start, self.policy, command.flag_note)
        else:
            event = decisions.decline(state, chair, command.reasons, self.policy)
        recorded = await self._append(ctx, command.application_id, [event], version)
        body: dict[str, object] = {
            "application_id": str(command.application_id),
            "decision": "approved" if isinstance(event, ConstructionApproved) else "declined",
            "event_id": str(recorded[0].id),
            **event.to_data(),
        }
        return Outcome(201, body)

    async def select(self, command: c.Select, ctx: Context) -> Outcome:
        chair = parse_reviewer(ctx.principal, Role.CHAIR)
        state, version = await self._state(ctx, command.application_id)
        event: DomainEvent
        if command.decision is c.Selection.确定为建设单位:
            event = selection.select(state, chair, command.note)
        else:
            event = selection.pass_over(state, chair, command.reasons)
        recorded = await self._append(ctx, command.application_id, [event], version)
        chosen = isinstance(event, ConstructionUnitSelected)
        return Outcome(
            201,
            {
                "application_id": str(command.application_id),
                "decision": "selected" if chosen else "not_selected",
                "decision_label": "确定为建设单位" if chosen else "未确定为建设单位",
                "event_id": str(recorded[0].id),
                **event.to_data(),
            },
        )
