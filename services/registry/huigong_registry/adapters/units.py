"""Loading a unit and allocating certificate numbers; the only I/O of certification.

Every reader and writer of one unit first takes `lock` (a transaction-level advisory lock on the
unit id), so a registrar's command and a suspension on a finding never race on the version."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from huigong_events.base import DomainEvent
from huigong_events.reference import Programme
from huigong_events.upcasting import decode
from huigong_platform.database import DbConnection
from huigong_platform.eventstore import EventStore

from ..domain.certification import AGGREGATE, CERTIFICATE_CODES, UnitState, certificate_no, fold


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
