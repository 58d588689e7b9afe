"""Automatic screening (自动筛查) as a faust-streaming agent: every submitted application is screened
against E1–E7 with its declared facts and the data exchange's facts, and every fact reported later
is screened against the applications of the enterprise it names.

Triggers and what they decide (domain/screening.py says why):
- ApplicationSubmitted: the first screening. ExclusionFound (受理前) for every hit and
  ApplicationRejected listing them, or ApplicationAccepted (and findings of facts that occurred
  after submission).
- ApplicationAmended: the form is replaced and the application screened again; once accepted,
  only findings not recorded before.
- ApplicationWithdrawn: recorded; nothing is decided.
- PlanSubmitted, PlanAmended: the selected unit's plans, recorded for the panel; nothing is
  decided.
- ComplianceFactReported: stored for applications still to come, and screened against each
  application of that credit code: part of the screening while pending, otherwise one
  ExclusionFound at the current stage (受理后, 建设中, 认定后) when it hits.
- ComplianceFactCorrected, ComplianceFactWithdrawn: recorded beside the report, and the findings
  resting on the fact judged again (domain/fact_changes.py): ExclusionCleared for those that no
  longer stand, ExclusionFound for a rule the corrected fact now hits.
- UnitRegistered, UnitCertified: recorded, so a later finding names the stage it was made at.

Exactly once in effect: the runner applies each trigger once (checkpoint and aggregate-version
fence, same transaction as the append). Should a trigger come through again all the same, the
inputs are stored with ON CONFLICT DO NOTHING, finding ids are uuid5 of (application, rule,
fact), and the domain emits nothing it has recorded before and never a second acceptance or
rejection. The decisions' actor is `system:review`, their cause the trigger's event id.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import ClassVar
from uuid import UUID

from huigong_events.base import DomainEvent
from huigong_events.envelope import RecordedEvent
from huigong_events.fact_corrections import ComplianceFactCorrected, ComplianceFactWithdrawn
from huigong_events.intake import (
    ApplicationAmended,
    ApplicationSubmitted,
    ApplicationWithdrawn,
    ComplianceFactReported,
    PlanAmended,
    PlanSubmitted,
)
from huigong_events.registry import UnitCertified, UnitRegistered
from huigong_events.topics import Topic, topic_for_aggregate
from huigong_platform import logs, telemetry
from huigong_platform.reactions import Reaction, ReactionContext

from ..adapters.inputs import Inputs, PostgresInputs
from ..domain.fact_changes import reconsider
from ..domain.screening import ScreeningSubject, screen, screen_later_fact
from ..domain.state import ReviewStage

log = logs.get(__name__)


class ScreeningReaction(Reaction):
    name: ClassVar[str] = "review.screening"
    service: ClassVar[str] = "review"
    topics: ClassVar[tuple[Topic, ...]] = (
        topic_for_aggregate("application"),
        topic_for_aggregate("compliance-fact"),
        topic_for_aggregate("unit"),
    )
    handles: ClassVar[frozenset[str]] = frozenset(
        {
            "ApplicationSubmitted",
            "ApplicationAmended",
            "ApplicationWithdrawn",
            "PlanSubmitted",
            "PlanAmended",
            "ComplianceFactReported",
            "ComplianceFactCorrected",
            "ComplianceFactWithdrawn",
            "UnitRegistered",
            "UnitCertified",
        }
    )

    # A submitted application is accepted or not accepted (不予受理) by its screening.
    outcomes: ClassVar[Mapping[str, frozenset[str]]] = {
        "ApplicationSubmitted": frozenset({"ApplicationAccepted", "ApplicationRejected"})
    }

    async def react(self, context: ReactionContext, event: DomainEvent) -> None:
        await receive(PostgresInputs(context.conn, self.store), context.trigger, event, context.append)


# Appends review's decisions with the trigger as their cause (`ReactionContext.append`).
Append = Callable[[str, Sequence[DomainEvent], int], Awaitable[list[RecordedEvent]]]


async def receive(inputs: Inputs, trigger: RecordedEvent, event: DomainEvent, append: Append) -> None:
    """What the reaction does with one trigger, on any `Inputs` (the tests' in-memory ones too)."""
    match event:
        case ApplicationSubmitted() | ApplicationAmended() | ApplicationWithdrawn():
            await inputs.lock(event.application_id)
            await inputs.record_application_event(event, trigger)
            if not isinstance(event, ApplicationWithdrawn):
                await _screen(inputs, trigger, append, event.application_id, None)
        case PlanSubmitted() | PlanAmended():
            await inputs.lock(event.application_id)
            await inputs.record_application_event(event, trigger)
        case ComplianceFactReported():
            await inputs.record_fact(event, trigger)
            for application_id in await inputs.applications_screening(event.credit_code):
                await inputs.lock(application_id)
                await _screen(inputs, trigger, append, application_id, event)
        case ComplianceFactCorrected() | ComplianceFactWithdrawn():
            await inputs.record_fact_change(event, trigger)
            for application_id in await inputs.applications_screening(event.credit_code):
                await inputs.lock(application_id)
                await _reconsider(inputs, trigger, append, application_id, event)
        case UnitRegistered() | UnitCertified():
            await inputs.record_unit_event(event, trigger)


async def _screen(
    inputs: Inputs,
    trigger: RecordedEvent,
    append: Append,
    application_id: UUID,
    fact: ComplianceFactReported | None,
) -> None:
    loaded = await inputs.load(application_id)
    state = loaded.state
    if state is None:
        return
    events: list[DomainEvent]
    if fact is None or state.stage is ReviewStage.待筛查:
        events = screen(ScreeningSubject.of(state), [fact] if fact is not None else []).events
    else:
        events = list(screen_later_fact(state, fact))
    if not events:
        return
    await append(str(application_id), events, loaded.version)
    for decided in events:
        telemetry.EVENTS_APPENDED.labels("review", decided.type).inc()
    log.info(
        "application screened",
        application_id=str(application_id),
        trigger=trigger.type,
        decided=[e.type for e in events],
    )


async def _reconsider(
    inputs: Inputs,
    trigger: RecordedEvent,
    append: Append,
    application_id: UUID,
    change: ComplianceFactCorrected | ComplianceFactWithdrawn,
) -> None:
    loaded = await inputs.load(application_id)
    if loaded.state is None:
        return
    events = reconsider(loaded.state, change)
    if not events:
        return
    await append(str(application_id), events, loaded.version)
    for decided in events:
        telemetry.EVENTS_APPENDED.labels("review", decided.type).inc()
    log.info(
        "findings judged again",
        application_id=str(application_id),
        fact_id=str(change.fact_id),
        trigger=trigger.type,
        decided=[e.type for e in events],
    )
