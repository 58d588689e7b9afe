"""Review's inputs in memory, with the interface of `adapters.inputs.PostgresInputs`, fed the way
the service feeds its tables: `deliver` hands every new event of the in-memory store to the
screening reaction's own `receive`, so what review stores and decides is what the running
service would."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from uuid import UUID

from huigong_events.base import DomainEvent
from huigong_events.envelope import RecordedEvent
from huigong_events.fact_corrections import ComplianceFactCorrected, ComplianceFactWithdrawn
from huigong_events.intake import ApplicationAmended, ApplicationSubmitted, ComplianceFactReported
from huigong_events.reference import Programme
from huigong_events.registry import UnitCertified, UnitRegistered
from huigong_events.upcasting import decode
from huigong_platform.eventstore import Metadata
from huigong_platform.reactions import reaction_actor
from huigong_platform.unit_of_work import InMemoryUnitOfWork, MemoryState, UnitOfWork, UnitsOfWork
from huigong_review.adapters.inputs import AGGREGATE, ApplicationInput, Inputs, Loaded, fold
from huigong_review.domain.state import screened_credit_code
from huigong_review.reactions.screening import Append, ScreeningReaction, receive


@dataclass
class MemoryReviewTables:
    """Review's tables: intake's application events, the screened enterprise of each application,
    the compliance facts (in the order received) and the units' events."""

    applications: dict[UUID, dict[int, RecordedEvent]] = field(default_factory=dict)
    screened: dict[UUID, tuple[Programme, str | None]] = field(default_factory=dict)
    facts: dict[UUID, tuple[str, RecordedEvent]] = field(default_factory=dict)
    # Corrections and withdrawals, by (fact, version), in the order received.
    fact_changes: dict[tuple[UUID, int], tuple[str, RecordedEvent]] = field(default_factory=dict)
    units: dict[tuple[UUID, int], tuple[UUID | None, RecordedEvent]] = field(default_factory=dict)
    delivered: set[UUID] = field(default_factory=set)

    def inputs(self, uow: UnitOfWork) -> Inputs:
        assert isinstance(uow, InMemoryUnitOfWork)
        return MemoryInputs(self, uow.state)

    def reads_of(self, state: MemoryState) -> ReadsOnState:
        return ReadsOnState(self, state)

    async def deliver(self, state: MemoryState, units: UnitsOfWork) -> None:
        """Every event of `state` the screening reaction handles and has not seen, in order, each
        in a unit of work of its own (as the runner applies them)."""
        for record in state.events:
            if record.id in self.delivered or record.type not in ScreeningReaction.handles:
                continue
            self.delivered.add(record.id)
            async with units() as uow:
                await receive(self.inputs(uow), record, decode(record), appender(uow, record))


def appender(uow: UnitOfWork, trigger: RecordedEvent) -> Append:
    """`ReactionContext.append` on a unit of work: the reaction's actor, the trigger the cause."""
    meta = Metadata(
        actor=reaction_actor("review", trigger),
        source="review",
        correlation_id=trigger.correlation_id,
        causation_id=str(trigger.id),
    )

    async def append(aggregate_id: str, events: Sequence[DomainEvent], version: int) -> list[RecordedEvent]:
        return await uow.append(aggregate_id, events, version, meta)

    return append


@dataclass
class ReadsOnState:
    """`Review.reads`: the inputs on the store as it stands."""

    tables: MemoryReviewTables
    state: MemoryState

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[Inputs]:
        yield MemoryInputs(self.tables, self.state)


@dataclass
class MemoryInputs:
    tables: MemoryReviewTables
    state: MemoryState

    async def lock(self, application_id: UUID) -> None:
        # One unit of work at a time on an in-memory store (`in_memory_units`).
        return None

    async def load(self, application_id: UUID) -> Loaded:
        intake = [r for _, r in sorted(self.tables.applications.get(application_id, {}).items())]
        stream = list(self.state.streams.get((AGGREGATE, str(application_id)), []))
        units = [r for (_, _), (a, r) in sorted(self.tables.units.items()) if a == application_id]
        state = fold(None, [*intake, *stream, *units])
        facts: list[RecordedEvent] = []
        if state is not None and state.screened_credit_code is not None:
            facts = [r for code, r in self.tables.facts.values() if code == state.screened_credit_code]
            # Each change follows its own fact's report, so the changes after all the reports.
            facts += [
                r for code, r in self.tables.fact_changes.values() if code == state.screened_credit_code
            ]
            state = fold(state, facts)
        version = stream[-1].aggregate_version if stream else 0
        return Loaded(state, version, tuple(intake), tuple(stream), tuple(units), tuple(facts))

    async def by_receipt(self, receipt_no: str) -> UUID | None:
        for application_id, records in self.tables.applications.items():
            first = records.get(1)
            if first is not None and first.data.get("receipt_no") == receipt_no:
                return application_id
        return None

    async def record_application_event(self, event: ApplicationInput, record: RecordedEvent) -> bool:
        stored = self.tables.applications.setdefault(event.application_id, {})
        if record.aggregate_version in stored:
            return False
        stored[record.aggregate_version] = record
        if isinstance(event, ApplicationSubmitted):
            self.tables.screened.setdefault(
                event.application_id, (event.programme, screened_credit_code(event.programme, event.form))
            )
        elif isinstance(event, ApplicationAmended):
            if event.application_id not in self.tables.screened:
                raise ValueError(f"application {event.application_id} amended before it was submitted")
            programme, _ = self.tables.screened[event.application_id]
            self.tables.screened[event.application_id] = (
                programme,
                screened_credit_code(programme, event.form),
            )
        return True

    async def record_fact(self, event: ComplianceFactReported, record: RecordedEvent) -> bool:
        if event.fact_id in self.tables.facts:
            return False
        self.tables.facts[event.fact_id] = (event.credit_code, record)
        return True

    async def record_fact_change(
        self, event: ComplianceFactCorrected | ComplianceFactWithdrawn, record: RecordedEvent
    ) -> bool:
        key = (event.fact_id, record.aggregate_version)
        if key in self.tables.fact_changes:
            return False
        self.tables.fact_changes[key] = (event.credit_code, record)
        return True

    async def record_unit_event(
        self, event: UnitRegistered | UnitCertified, record: RecordedEvent
    ) -> UUID | None:
        if isinstance(event, UnitRegistered):
            application_id = event.application_id
        else:
            application_id = next(
                (
                    a
                    for (u, _), (a, r) in self.tables.units.items()
                    if u == event.unit_id and r.type == "UnitRegistered"
                ),
                None,
            )
        self.tables.units.setdefault((event.unit_id, record.aggregate_version), (application_id, record))
        return application_id

    async def applications_screening(self, credit_code: str) -> list[UUID]:
        return sorted(a for a, (_, code) in self.tables.screened.items() if code == credit_code)
