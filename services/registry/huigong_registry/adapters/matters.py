"""Loading catalogue items, handlers and matters from the event store, and allocating 受理编号:
the only I/O of domain/catalogue.py and domain/matters.py. Commands read the authoritative
streams (not the read models, which may lag), in the caller's transaction, after taking the
aggregate's advisory lock (`units.lock`), so two commands on one matter never race on its version."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Generic, TypeVar

from huigong_events.base import DomainEvent
from huigong_events.upcasting import decode
from huigong_platform.database import DbConnection
from huigong_platform.eventstore import EventStore, row_to_event

from ..domain import catalogue, certification, handling, matters
from ..domain.catalogue import Handler, ItemState
from ..domain.certification import UnitState
from ..domain.matters import MatterState
from .units import lock


async def load_unit_state(conn: DbConnection, store: EventStore, unit_id: uuid.UUID) -> UnitState | None:
    stream = await store.read(certification.AGGREGATE, str(unit_id), conn=conn)
    return certification.fold(decode(record) for record in stream.events)


async def load_units(
    conn: DbConnection, store: EventStore, unit_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, UnitState | None]:
    return {unit_id: await load_unit_state(conn, store, unit_id) for unit_id in dict.fromkeys(unit_ids)}


async def load_handler(conn: DbConnection, store: EventStore, unit_id: uuid.UUID) -> Handler | None:
    return catalogue.handler_of(await load_unit_state(conn, store, unit_id))


S = TypeVar("S")


@dataclass(frozen=True)
class Loaded(Generic[S]):
    state: S | None
    version: int


async def load_item(
    conn: DbConnection, store: EventStore, item_id: uuid.UUID, *, locked: bool = False
) -> Loaded[ItemState]:
    if locked:
        await lock(conn, catalogue.AGGREGATE, str(item_id))
    stream = await store.read(catalogue.AGGREGATE, str(item_id), conn=conn)
    return Loaded(catalogue.fold(decode(record) for record in stream.events), stream.version)


async def load_matter(conn: DbConnection, store: EventStore, matter_id: uuid.UUID) -> Loaded[MatterState]:
    await lock(conn, matters.AGGREGATE, str(matter_id))
    stream = await store.read(matters.AGGREGATE, str(matter_id), conn=conn)
    return Loaded(matters.fold(decode(record) for record in stream.events), stream.version)


async def allocate_matter_no(conn: DbConnection, received_on: date, area: str) -> str:
    sequence = await conn.fetchval(
        """INSERT INTO matter_counters (year, area, last) VALUES ($1, $2, 1)
           ON CONFLICT (year, area) DO UPDATE SET last = matter_counters.last + 1
           RETURNING last""",
        received_on.year,
        area,
    )
    return matter_no(received_on.year, area, int(sequence))


def matter_no(year: int, area: str, sequence: int) -> str:
    """A matter's 受理编号: its year, the receiving centre's area and the year's sequence there."""
    return f"FW-{year}-{area}-{sequence:05d}"


async def handling_events(conn: DbConnection) -> list[DomainEvent]:
    """The matters' events that the per-unit figures read (domain/handling.py), in the order
    recorded: the authoritative log, not the read model, so any `as_of` is answered exactly."""
    rows = await conn.fetch(
        "SELECT * FROM events WHERE type = ANY($1::text[]) ORDER BY position", sorted(handling.HANDLING_TYPES)
    )
    return [decode(row_to_event(row)) for row in rows]


async def open_matters(conn: DbConnection, received_from: int, received_to: int) -> list[uuid.UUID]:
    """The matters received in those years and not closed, from the log (a publication must not
    miss a matter the read model has not caught up with yet)."""
    rows = await conn.fetch(
        """SELECT received.aggregate_id FROM events received
           WHERE received.aggregate_type = 'matter' AND received.type = 'MatterReceived'
             AND EXTRACT(YEAR FROM (received.data->>'received_on')::date) BETWEEN $1 AND $2
             AND NOT EXISTS (SELECT 1 FROM events closed
                             WHERE closed.aggregate_type = 'matter' AND closed.type = 'MatterClosed'
                               AND closed.aggregate_id = received.aggregate_id)
           ORDER BY received.position""",
        received_from,
        received_to,
    )
    return [uuid.UUID(row["aggregate_id"]) for row in rows]
