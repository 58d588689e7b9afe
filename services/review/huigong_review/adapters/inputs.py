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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

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

from ..domain.state import ReviewState, evolve, screened_credit_code

AGGREGATE = "review"


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
    event: ApplicationSubmitted | ApplicationAmended | ApplicationWithdrawn | PlanSubmitted | PlanAmended,
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
