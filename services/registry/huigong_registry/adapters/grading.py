"""What an evaluation reads besides the graded stream: the registry's events it measures (service
matters, ratings, projects, facilities) and whether a year has grades already. The events are read
as recorded, in the order recorded, so `domain.grading.measure` sees what a replay sees."""

from __future__ import annotations

from huigong_events.base import DomainEvent
from huigong_events.envelope import RecordedEvent
from huigong_events.upcasting import decode
from huigong_platform.database import DbConnection
from huigong_platform.eventstore import row_to_event

from ..domain.grading import MEASURED_TYPES


async def measured_events(conn: DbConnection) -> list[tuple[RecordedEvent, DomainEvent]]:
    rows = await conn.fetch(
        "SELECT * FROM events WHERE type = ANY($1::text[]) ORDER BY position", sorted(MEASURED_TYPES)
    )
    records = [row_to_event(row) for row in rows]
    return [(record, decode(record)) for record in records]


async def graded_in(conn: DbConnection, year: int) -> bool:
    found: bool = await conn.fetchval(
        """SELECT EXISTS (SELECT 1 FROM events
                          WHERE type = 'ResourceGraded' AND (data->>'year')::int = $1)""",
        year,
    )
    return found
