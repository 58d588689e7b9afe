"""Review's own record of what other services told it, and the one way a review state is built.

Review cannot read intake's or the registry's schemas, so the screening reaction keeps the events
it needs in review's tables (migrations/0001_review.sql): intake's application events, the
compliance facts (whether reported before or after the application), and the registry's units
built from an application. Each is stored as its whole recorded envelope, so the state is rebuilt
from exactly those events, and the dossier shows who sent each one and when.

`load` folds, in this order: intake's application events (submission, amendments, withdrawal),
review's own stream, the unit's registration and certification, then the facts about the
screened enterprise. The domain's `evolve` does not depend on how these streams interleave (it
keeps flags and mappings), so one fixed order gives the same state the live events did.

Every reader and writer of one review aggregate first takes `lock` (a transaction-level advisory
lock on the application id): the API's commands and the reaction then never race on the expected
version, and the reaction never dead-letters a trigger for a ConcurrencyError.

`Inputs` is the port the handlers, the screening reaction and the reads use; `PostgresInputs`
keeps them in review's tables, in the caller's transaction. Tests keep them in memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

import asyncpg
import orjson

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
from huigong_events.reference import Programme
from huigong_events.registry import UnitCertified, UnitRegistered
from huigong_events.upcasting import decode
from huigong_platform.database import DbConnection
from huigong_platform.eventstore import EventStore
from huigong_platform.unit_of_work import PostgresUnitOfWork, UnitOfWork

from ..domain.state import ReviewState, evolve, screened_credit_code

AGGREGATE = "review"

ApplicationInput = (
    ApplicationSubmitted | ApplicationAmended | ApplicationWithdrawn | PlanSubmitted | PlanAmended
)


async def lock(conn: DbConnection, application_id: UUID) -> None:
    """Serialise every decision about one application until the caller's transaction ends."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"review:{application_id}")


def _json(record: RecordedEvent) -> str:
    return record.model_dump_json()


def _record(raw: Any) -> RecordedEvent:
    return RecordedEvent.model_validate(orjson.loads(raw) if isinstance(raw, str | bytes) else raw)


# --- storing what arrives ----------------------------------------------------------------------


async def record_application_event(
    conn: DbConnection,
    event: ApplicationInput,
    record: RecordedEvent,
) -> bool:
    """Store one of intake's application events (the plans included); False when it was stored
    before."""
    stored = await conn.fetchval(
        """INSERT INTO application_inputs (application_id, aggregate_version, event_id, type, record)
           VALUES ($1, $2, $3, $4, $5::jsonb) ON CONFLICT DO NOTHING RETURNING true""",
        event.application_id,
        record.aggregate_version,
        record.id,
        record.type,
        _json(record),
    )
    if not stored:
        return False
    if isinstance(event, ApplicationSubmitted):
        await conn.execute(
            """INSERT INTO screened_applications (application_id, programme, submitter, credit_code,
                   submitted_at)
               VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING""",
            event.application_id,
            event.programme.value,
            event.submitter,
            screened_credit_code(event.programme, event.form),
            record.occurred_at,
        )
    elif isinstance(event, ApplicationAmended):
        programme = await conn.fetchval(
            "SELECT programme FROM screened_applications WHERE application_id = $1", event.application_id
        )
        if programme is None:
            raise ValueError(f"application {event.application_id} amended before it was submitted")
        await conn.execute(
            "UPDATE screened_applications SET credit_code = $2 WHERE application_id = $1",
            event.application_id,
            screened_credit_code(Programme(programme), event.form),
        )
    return True


async def record_fact(conn: DbConnection, event: ComplianceFactReported, record: RecordedEvent) -> bool:
    stored = await conn.fetchval(
        """INSERT INTO compliance_facts (fact_id, credit_code, record) VALUES ($1, $2, $3::jsonb)
           ON CONFLICT DO NOTHING RETURNING true""",
        event.fact_id,
        event.credit_code,
        _json(record),
    )
    return bool(stored)


async def record_fact_change(
    conn: DbConnection, event: ComplianceFactCorrected | ComplianceFactWithdrawn, record: RecordedEvent
) -> bool:
    stored = await conn.fetchval(
        """INSERT INTO compliance_fact_changes (fact_id, aggregate_version, credit_code, record)
           VALUES ($1, $2, $3, $4::jsonb) ON CONFLICT DO NOTHING RETURNING true""",
        event.fact_id,
        record.aggregate_version,
        event.credit_code,
        _json(record),
    )
    return bool(stored)


async def record_unit_event(
    conn: DbConnection, event: UnitRegistered | UnitCertified, record: RecordedEvent
) -> UUID | None:
    """Store a unit's registration or certification; the application it was built from, if any."""
    if isinstance(event, UnitRegistered):
        application_id = event.application_id
    else:
        application_id = await conn.fetchval(
            "SELECT application_id FROM unit_inputs WHERE unit_id = $1 AND type = 'UnitRegistered'",
            event.unit_id,
        )
    await conn.execute(
        """INSERT INTO unit_inputs (unit_id, aggregate_version, application_id, type, record)
           VALUES ($1, $2, $3, $4, $5::jsonb) ON CONFLICT DO NOTHING""",
        event.unit_id,
        record.aggregate_version,
        application_id,
        record.type,
        _json(record),
    )
    return application_id


async def applications_screening(conn: DbConnection, credit_code: str) -> list[UUID]:
    """The applications whose screened enterprise has this credit code, in a fixed order (so two
    transactions lock them in the same order)."""
    rows = await conn.fetch(
        "SELECT application_id FROM screened_applications WHERE credit_code = $1 ORDER BY application_id",
        credit_code,
    )
    return [row[0] for row in rows]


# --- rebuilding the state ----------------------------------------------------------------------


@dataclass(frozen=True)
class Loaded:
    """One application as review knows it: the state, the review stream's version (the expected
    version of the next append), and every recorded event the state was built from."""

    state: ReviewState | None
    version: int
    intake: tuple[RecordedEvent, ...]
    review: tuple[RecordedEvent, ...]
    units: tuple[RecordedEvent, ...]
    facts: tuple[RecordedEvent, ...]


async def load(conn: DbConnection, store: EventStore, application_id: UUID) -> Loaded:
    intake = [
        _record(row[0])
        for row in await conn.fetch(
            "SELECT record FROM application_inputs WHERE application_id = $1 ORDER BY aggregate_version",
            application_id,
        )
    ]
    stream = await store.read(AGGREGATE, str(application_id), conn=conn)
    units = [
        _record(row[0])
        for row in await conn.fetch(
            """SELECT record FROM unit_inputs WHERE application_id = $1
               ORDER BY unit_id, aggregate_version""",
            application_id,
        )
    ]
    state = fold(None, [*intake, *stream.events, *units])
    facts: list[RecordedEvent] = []
    if state is not None and state.screened_credit_code is not None:
        facts = [
            _record(row[0])
            for row in await conn.fetch(
                "SELECT record FROM compliance_facts WHERE credit_code = $1 ORDER BY received",
                state.screened_credit_code,
            )
        ]
        # Each change follows its own fact's report, so the changes after all the reports.
        facts += [
            _record(row[0])
            for row in await conn.fetch(
                """SELECT record FROM compliance_fact_changes WHERE credit_code = $1
                   ORDER BY received""",
                state.screened_credit_code,
            )
        ]
        state = fold(state, facts)
    return Loaded(state, stream.version, tuple(intake), tuple(stream.events), tuple(units), tuple(facts))


def fold(state: ReviewState | None, records: Sequence[RecordedEvent]) -> ReviewState | None:
    for record in records:
        event: DomainEvent = decode(record)
        state = evolve(state, event, at=record.occurred_at)
    return state


# --- the port ----------------------------------------------------------------------------------


class Inputs(Protocol):
    """What review reads and keeps besides its own stream, within one transaction."""

    async def lock(self, application_id: UUID) -> None:
        """Serialise every decision about one application until the transaction ends."""

    async def load(self, application_id: UUID) -> Loaded: ...

    async def by_receipt(self, receipt_no: str) -> UUID | None:
        """The application of this 受理编号, once review received its submission."""

    async def record_application_event(self, event: ApplicationInput, record: RecordedEvent) -> bool:
        """Store one of intake's application events; False when it was stored before."""

    async def record_fact(self, event: ComplianceFactReported, record: RecordedEvent) -> bool: ...

    async def record_fact_change(
        self, event: ComplianceFactCorrected | ComplianceFactWithdrawn, record: RecordedEvent
    ) -> bool:
        """Store a department's correction or withdrawal of a fact; False when stored before.
        `load` folds the changes after every report of the screened enterprise."""

    async def record_unit_event(
        self, event: UnitRegistered | UnitCertified, record: RecordedEvent
    ) -> UUID | None:
        """Store a unit's registration or certification; the application it was built from."""

    async def applications_screening(self, credit_code: str) -> list[UUID]:
        """The applications whose screened enterprise has this credit code, in a fixed order."""


class PostgresInputs:
    def __init__(self, conn: DbConnection, store: EventStore) -> None:
        self._conn = conn
        self._store = store

    async def lock(self, application_id: UUID) -> None:
        await lock(self._conn, application_id)

    async def load(self, application_id: UUID) -> Loaded:
        return await load(self._conn, self._store, application_id)

    async def by_receipt(self, receipt_no: str) -> UUID | None:
        found = await self._conn.fetchval(
            """SELECT application_id FROM application_inputs
               WHERE type = 'ApplicationSubmitted' AND record->'data'->>'receipt_no' = $1 LIMIT 1""",
            receipt_no,
        )
        return None if found is None else UUID(str(found))

    async def record_application_event(self, event: ApplicationInput, record: RecordedEvent) -> bool:
        return await record_application_event(self._conn, event, record)

    async def record_fact(self, event: ComplianceFactReported, record: RecordedEvent) -> bool:
        return await record_fact(self._conn, event, record)

    async def record_fact_change(
        self, event: ComplianceFactCorrected | ComplianceFactWithdrawn, record: RecordedEvent
    ) -> bool:
        return await record_fact_change(self._conn, event, record)

    async def record_unit_event(
        self, event: UnitRegistered | UnitCertified, record: RecordedEvent
    ) -> UUID | None:
        return await record_unit_event(self._conn, event, record)

    async def applications_screening(self, credit_code: str) -> list[UUID]:
        return await applications_screening(self._conn, credit_code)


# The inputs within a command's unit of work, and a consistent read-only view for the reads.
InputsOf = Callable[[UnitOfWork], Inputs]
Reads = Callable[[], AbstractAsyncContextManager[Inputs]]


def postgres_inputs(store: EventStore) -> InputsOf:
    def inputs_of(uow: UnitOfWork) -> Inputs:
        assert isinstance(uow, PostgresUnitOfWork)
        return PostgresInputs(uow.conn, store)

    return inputs_of


def postgres_reads(pool: asyncpg.Pool, store: EventStore) -> Reads:
    @asynccontextmanager
    async def reads() -> AsyncIterator[Inputs]:
        # One snapshot: the dossier's streams and tables agree with each other.
        async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            yield PostgresInputs(conn, store)

    return reads
