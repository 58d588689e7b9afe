"""Intake's own records in memory, with the interface of `adapters.records.PostgresRecords`, for
handler and API tests on the in-memory unit of work."""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from huigong_events.intake import ComplianceFactReported, SubmissionWindowOpened
from huigong_events.outbound import Notice
from huigong_events.reference import Programme
from huigong_events.upcasting import decode
from huigong_intake.adapters.vault import DataKey
from huigong_intake.domain import applications as apps
from huigong_platform.unit_of_work import InMemoryUnitOfWork, UnitOfWork


@dataclass
class MemoryIntakeTables:
    """What intake keeps besides events: review progress (fed by review's events in the service),
    receipt counters, who was enrolled by whom, the members' data keys."""

    progress: dict[uuid.UUID, apps.ReviewProgress] = field(default_factory=dict)
    receipts: dict[tuple[int, str], int] = field(default_factory=dict)
    enrolled: dict[str, dict[str, str]] = field(default_factory=dict)
    keys: dict[str, DataKey] = field(default_factory=dict)
    notices: dict[str, Notice] = field(default_factory=dict)  # by source, as the UNIQUE column

    def records(self, uow: UnitOfWork) -> MemoryRecords:
        assert isinstance(uow, InMemoryUnitOfWork)
        return MemoryRecords(self, uow)


@dataclass
class MemoryRecords:
    tables: MemoryIntakeTables
    uow: InMemoryUnitOfWork

    async def windows(self, year: int) -> list[SubmissionWindowOpened]:
        found = []
        for record in self.uow.state.events:
            if record.type == "SubmissionWindowOpened":
                event = decode(record)
                assert isinstance(event, SubmissionWindowOpened)
                if event.year == year:
                    found.append(event)
        return found

    async def applications_of(
        self, year: int, programme: Programme, submitter: str
    ) -> list[apps.ApplicationState]:
        states = []
        for (aggregate_type, _), records in self.uow.state.streams.items():
            if aggregate_type != "application":
                continue
            state = apps.replay(decode(record) for record in records)
            if state is not None and (state.year, state.programme, state.submitter) == (
                year,
                programme,
                submitter,
            ):
                states.append(state)
        return states

    async def facts_about(self, credit_code: str) -> list[tuple[str, ComplianceFactReported]]:
        found = []
        withdrawn = {r.aggregate_id for r in self.uow.state.events if r.type == "ComplianceFactWithdrawn"}
        for record in self.uow.state.events:
            if record.type == "ComplianceFactReported" and record.aggregate_id not in withdrawn:
                event = decode(record)
                assert isinstance(event, ComplianceFactReported)
                if event.credit_code == credit_code:
                    found.append((str(record.id), event))
        return found

    async def progress(self, application_id: uuid.UUID) -> apps.ReviewProgress:
        return self.tables.progress.get(application_id, apps.NO_REVIEW)

    async def next_receipt(self, year: int, submitter: str) -> int:
        number = self.tables.receipts.get((year, submitter), 0) + 1
        self.tables.receipts[(year, submitter)] = number
        return number

    async def enrolled(self, submitter: str, member_keys: Sequence[str]) -> dict[str, str]:
        own = self.tables.enrolled.get(submitter, {})
        return {m: own[m] for m in member_keys if m in own}

    async def remember_enrolled(self, submitter: str, enrolments: Sequence[tuple[str, str]]) -> None:
        self.tables.enrolled.setdefault(submitter, {}).update(enrolments)

    async def data_keys(self, member_keys: Sequence[str]) -> dict[str, DataKey]:
        for member in member_keys:
            self.tables.keys.setdefault(member, DataKey(f"dk-{uuid.uuid4().hex}", os.urandom(32)))
        return {m: self.tables.keys[m] for m in member_keys}

    async def tell_district(self, notice: Notice, source: str) -> None:
        self.tables.notices.setdefault(source, notice)
