"""Loading a unit and allocating certificate numbers; the only I/O of certification.

Every reader and writer of one unit first takes `lock` (a transaction-level advisory lock on the
unit id), so a registrar's command and a suspension on a finding never race on the version."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from huigong_events.base import DomainEvent
from huigong_events.reference import Programme
from huigong_events.review import ConstructionApproved
from huigong_events.upcasting import decode
from huigong_platform.database import DbConnection
from huigong_platform.eventstore import EventStore

from ..domain.certification import AGGREGATE, CERTIFICATE_CODES, UnitState, certificate_no, fold
from ..domain.cohort import SERVICE_CENTRES


async def lock(conn: DbConnection, kind: str, key: str) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"registry:{kind}:{key}")


@dataclass(frozen=True)
class LoadedUnit:
    state: UnitState | None
    version: int
    events: tuple[DomainEvent, ...] = ()


async def load_unit(conn: DbConnection, store: EventStore, unit_id: UUID) -> LoadedUnit:
    await lock(conn, AGGREGATE, str(unit_id))
    stream = await store.read(AGGREGATE, str(unit_id), conn=conn)
    events: list[DomainEvent] = [decode(record) for record in stream.events]
    return LoadedUnit(fold(events), stream.version, tuple(events))


async def allocate_certificate_no(conn: DbConnection, programme: Programme, year: int) -> str:
    code = CERTIFICATE_CODES[programme]
    sequence = await conn.fetchval(
        """INSERT INTO certificate_counters (year, code, last) VALUES ($1, $2, 1)
           ON CONFLICT (year, code) DO UPDATE SET last = certificate_counters.last + 1
           RETURNING last""",
        year,
        code,
    )
    return certificate_no(programme, year, int(sequence))


async def unit_of_centre_or_enterprise(conn: DbConnection, approval: ConstructionApproved) -> UUID | None:
    """The unit an approval is for when that centre or enterprise is already one (one unit per
    centre or enterprise), or None: a service complex is built by the city's or the district's
    职工服务中心 (the plan: "市及区市职工服务中心…打造服务职工综合体"), so the submitting area's
    centre; any other programme, a unit of that programme with the same credit code or, when the
    unit has none (the 2022 cohort), the same name. Read from the units' read model: a unit
    registered moments before may not be in it yet."""
    if approval.programme is Programme.服务职工综合体:
        centre = next((e for e in SERVICE_CENTRES if e.area == approval.submitter), None)
        return centre.id if centre is not None else None
    found = await conn.fetchval(
        """SELECT unit_id FROM units_view
           WHERE programme = $1 AND status IN ('approved', 'certified', 'suspended')
             AND (credit_code = $2 OR ((credit_code IS NULL OR $2::text IS NULL) AND name = $3))
           ORDER BY registered_on, unit_id LIMIT 1""",
        approval.programme.value,
        approval.credit_code,
        approval.unit_name,
    )
    return found if isinstance(found, UUID) else None


async def unit_of_attached_application(conn: DbConnection, application_id: UUID) -> UUID | None:
    """The existing unit an approved application was attached to, if it was."""
    found = await conn.fetchval(
        """SELECT aggregate_id FROM events
           WHERE aggregate_type = 'unit' AND type = 'UnitApprovalAttached'
             AND data->>'application_id' = $1 LIMIT 1""",
        str(application_id),
    )
    return UUID(found) if found is not None else None
