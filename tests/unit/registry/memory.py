"""The registry's records in memory, with the interface of `adapters.records.PostgresRecords`:
units, handlers and items folded from the in-memory store's streams (the same folds), the
counters and the data keys in dicts. `deliver` hands intake's reports in the store to the
reports reaction's own decision, as the running service's agent would."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from huigong_events.base import DomainEvent
from huigong_events.envelope import RecordedEvent
from huigong_events.reference import Programme
from huigong_events.upcasting import decode
from huigong_platform.eventstore import Metadata
from huigong_platform.reactions import reaction_actor
from huigong_platform.unit_of_work import InMemoryUnitOfWork, MemoryState, UnitOfWork, UnitsOfWork
from huigong_registry.adapters.matters import matter_no
from huigong_registry.adapters.records import Records
from huigong_registry.adapters.requesters import Requester
from huigong_registry.domain import catalogue, certification
from huigong_registry.domain.catalogue import Handler, ItemState
from huigong_registry.domain.certification import CERTIFICATE_CODES, UnitState, certificate_no
from huigong_registry.domain.grading import MEASURED_TYPES
from huigong_registry.reactions.reports import ReportsReaction, decide, recorded_as


@dataclass
class MemoryRegistryTables:
    certificates: dict[tuple[int, str], int] = field(default_factory=dict)
    matters: dict[tuple[int, str], int] = field(default_factory=dict)
    # The requesters in clear, by matter: what their data keys would unseal.
    requesters: dict[uuid.UUID, Requester] = field(default_factory=dict)
    member_keys: set[str] = field(default_factory=set)
    delivered: set[uuid.UUID] = field(default_factory=set)

    def records(self, uow: UnitOfWork) -> Records:
        assert isinstance(uow, InMemoryUnitOfWork)
        return MemoryRecords(self, uow)

    async def deliver(self, state: MemoryState, units: UnitsOfWork) -> None:
        """Every report in `state` not seen yet, to the reports reaction's decision, in order."""
        for record in state.events:
            if record.id in self.delivered or record.type not in ReportsReaction.handles:
                continue
            self.delivered.add(record.id)
            event = decode(record)
            target = recorded_as(event)
            assert target is not None
            async with units() as uow:
                version = (await uow.read(*target)).version
                meta = Metadata(
                    actor=reaction_actor("registry", record),
                    source="registry",
                    correlation_id=record.correlation_id,
                    causation_id=str(record.id),
                )
                await uow.append(target[1], decide(event, record, version), version, meta)


@dataclass
class MemoryRecords:
    tables: MemoryRegistryTables
    uow: InMemoryUnitOfWork

    async def _unit(self, unit_id: uuid.UUID) -> UnitState | None:
        stream = await self.uow.read(certification.AGGREGATE, str(unit_id))
        return certification.fold(decode(record) for record in stream.events)

    async def units(self, unit_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, UnitState | None]:
        return {unit_id: await self._unit(unit_id) for unit_id in dict.fromkeys(unit_ids)}

    async def handler(self, unit_id: uuid.UUID) -> Handler | None:
        return catalogue.handler_of(await self._unit(unit_id))

    async def item(self, item_id: uuid.UUID) -> ItemState | None:
        stream = await self.uow.read(catalogue.AGGREGATE, str(item_id))
        return catalogue.fold(decode(record) for record in stream.events)

    async def next_certificate_no(self, programme: Programme, year: int) -> str:
        key = (year, CERTIFICATE_CODES[programme])
        self.tables.certificates[key] = self.tables.certificates.get(key, 0) + 1
        return certificate_no(programme, year, self.tables.certificates[key])

    async def next_matter_no(self, received_on: date, area: str) -> str:
        key = (received_on.year, area)
        self.tables.matters[key] = self.tables.matters.get(key, 0) + 1
        return matter_no(received_on.year, area, self.tables.matters[key])

    async def seal_requester(self, matter_id: uuid.UUID, requester: Requester) -> tuple[str, str]:
        self.tables.requesters[matter_id] = requester
        # Opaque to everyone but this table, as the real ciphertext is.
        return f"mk-{matter_id.hex[:16]}", base64.b64encode(os.urandom(48)).decode()

    async def erase_requester(self, matter_id: uuid.UUID) -> bool:
        return self.tables.requesters.pop(matter_id, None) is not None

    async def destroy_member_key(self, member_key: str) -> bool:
        if member_key not in self.tables.member_keys:
            return False
        self.tables.member_keys.discard(member_key)
        return True

    async def measured_events(self) -> list[tuple[RecordedEvent, DomainEvent]]:
        return [(r, decode(r)) for r in self.uow.state.events if r.type in MEASURED_TYPES]

    async def graded_in(self, year: int) -> bool:
        return any(r.type == "ResourceGraded" and r.data["year"] == year for r in self.uow.state.events)

    async def open_matters(self, received_from: int, received_to: int) -> list[uuid.UUID]:
        events = self.uow.state.events
        closed = {r.aggregate_id for r in events if r.type == "MatterClosed"}
        return [
            uuid.UUID(r.aggregate_id)
            for r in events
            if r.type == "MatterReceived"
            and received_from <= date.fromisoformat(r.data["received_on"]).year <= received_to
            and r.aggregate_id not in closed
        ]
