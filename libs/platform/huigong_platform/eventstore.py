"""The per-service event store: append with an expected version, read an aggregate's stream.

Appending writes the events and their outbox rows in one transaction, so an event is either
recorded and bound for Kafka, or not recorded at all. Kafka has no conditional append, so the
optimistic-concurrency check lives here: UNIQUE(aggregate_type, aggregate_id, aggregate_version).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import orjson

from huigong_events.base import DomainEvent
from huigong_events.envelope import RecordedEvent, seal
from huigong_events.topics import topic_for_aggregate

from .database import DbConnection

# Append "whatever the current version is": for streams where order matters but no decision
# depends on the previous state (e.g. a fact report that only ever has one event).
ANY_VERSION = -1


class ConcurrencyError(RuntimeError):
    """Another writer appended to the aggregate first (HTTP 409 at the API edge)."""

    def __init__(self, aggregate_type: str, aggregate_id: str, expected: int, actual: int) -> None:
        super().__init__(f"{aggregate_type} {aggregate_id}: expected version {expected}, found {actual}")
        self.aggregate_type = aggregate_type
        self.aggregate_id = aggregate_id
        self.expected = expected
        self.actual = actual


@dataclass(frozen=True)
class Metadata:
    """Who, from where, and in answer to what: recorded with every event of one command."""

    actor: str
    source: str
    correlation_id: str
    causation_id: str | None = None
    occurred_at: datetime | None = None  # business time; defaults to the recording time


@dataclass
class Stream:
    aggregate_type: str
    aggregate_id: str
    events: list[RecordedEvent] = field(default_factory=list)

    @property
    def version(self) -> int:
        return self.events[-1].aggregate_version if self.events else 0


def row_to_event(row: asyncpg.Record) -> RecordedEvent:
    """An event as stored. Its columns are typed by PostgreSQL and were validated when it was
    appended, so it is not validated again (the relay and replays read many of these)."""
    data = row["data"]
    return RecordedEvent.trusted(
        id=row["id"],
        type=row["type"],
        schema_version=row["schema_version"],
        aggregate_type=row["aggregate_type"],
        aggregate_id=row["aggregate_id"],
        aggregate_version=row["aggregate_version"],
        occurred_at=row["occurred_at"],
        recorded_at=row["recorded_at"],
        actor=row["actor"],
        source=row["source"],
        correlation_id=row["correlation_id"],
        causation_id=row["causation_id"],
        prev_hash=row["prev_hash"],
        hash=row["hash"],
        data=orjson.loads(data) if isinstance(data, str) else data,
    )


class EventStore:
    """Append-only store in the service's schema. Pass a connection to join a transaction the
    caller already holds (e.g. to record an idempotency key with the events)."""

    def __init__(self, pool: asyncpg.Pool, topic_prefix: str = "") -> None:
        self._pool = pool
        self._prefix = topic_prefix

    async def read(self, aggregate_type: str, aggregate_id: str, conn: DbConnection | None = None) -> Stream:
        query = (
            "SELECT * FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY aggregate_version"
        )
        if conn is None:
            rows = await self._pool.fetch(query, aggregate_type, aggregate_id)
        else:
            rows = await conn.fetch(query, aggregate_type, aggregate_id)
        return Stream(aggregate_type, aggregate_id, [row_to_event(r) for r in rows])

    async def append(
        self,
        aggregate_id: str,
        events: Sequence[DomainEvent],
        expected_version: int,
        meta: Metadata,
        conn: DbConnection | None = None,
    ) -> list[RecordedEvent]:
        if not events:
            return []
        if conn is None:
            async with self._pool.acquire() as own, own.transaction():
                return await self._append(own, aggregate_id, events, expected_version, meta)
        return await self._append(conn, aggregate_id, events, expected_version, meta)

    async def _append(
        self,
        conn: DbConnection,
        aggregate_id: str,
        events: Sequence[DomainEvent],
        expected_version: int,
        meta: Metadata,
    ) -> list[RecordedEvent]:
        aggregate_types = {type(e).aggregate_type for e in events}
        if len(aggregate_types) != 1:
            raise ValueError("one append writes to one aggregate")
        (aggregate_type,) = aggregate_types
        topic = topic_for_aggregate(aggregate_type).qualified(self._prefix)
        head = await conn.fetchrow(
            "SELECT aggregate_version, hash FROM events WHERE aggregate_type = $1 "
            "AND aggregate_id = $2 ORDER BY aggregate_version DESC LIMIT 1",
            aggregate_type,
            aggregate_id,
        )
        actual = head["aggregate_version"] if head else 0
        if expected_version != ANY_VERSION and actual != expected_version:
            raise ConcurrencyError(aggregate_type, aggregate_id, expected_version, actual)
        prev_hash: str | None = head["hash"] if head else None
        recorded_at = datetime.now(UTC)
        occurred_at = meta.occurred_at or recorded_at
        sealed: list[RecordedEvent] = []
        for offset, event in enumerate(events, start=1):
            record = seal(
                event=event,
                event_id=uuid4(),
                aggregate_id=aggregate_id,
                aggregate_version=actual + offset,
                occurred_at=occurred_at,
                recorded_at=recorded_at,
                actor=meta.actor,
                source=meta.source,
                correlation_id=meta.correlation_id,
                causation_id=meta.causation_id,
                prev_hash=prev_hash,
            )
            prev_hash = record.hash
            sealed.append(record)
        try:
            await insert_recorded(conn, sealed, topic)
        except asyncpg.UniqueViolationError as exc:
            # A concurrent writer took the version between our read and our insert.
            raise ConcurrencyError(aggregate_type, aggregate_id, expected_version, -1) from exc
        return sealed


_COLUMNS = (
    "id",
    "type",
    "schema_version",
    "aggregate_type",
    "aggregate_id",
    "aggregate_version",
    "occurred_at",
    "recorded_at",
    "actor",
    "source",
    "correlation_id",
    "causation_id",
    "prev_hash",
    "hash",
    "data",
)
# Above this many events one binary COPY beats one INSERT … SELECT unnest(…) several times over.
_COPY_FROM = 64


def _row(r: RecordedEvent) -> tuple[Any, ...]:
    return (
        r.id,
        r.type,
        r.schema_version,
        r.aggregate_type,
        r.aggregate_id,
        r.aggregate_version,
        r.occurred_at,
        r.recorded_at,
        r.actor,
        r.source,
        r.correlation_id,
        r.causation_id,
        r.prev_hash,
        r.hash,
        orjson.dumps(r.data).decode(),
    )


async def insert_recorded(conn: DbConnection, records: Sequence[RecordedEvent], topic: str) -> None:
    """Insert sealed events and their outbox rows, in order, inside the caller's transaction."""
    rows = [_row(r) for r in records]
    if len(rows) >= _COPY_FROM:
        await conn.copy_records_to_table("events", records=rows, columns=_COLUMNS)
        await conn.execute(
            """INSERT INTO outbox (position, topic)
               SELECT position, $2 FROM events WHERE id = ANY($1::uuid[]) ORDER BY position""",
            [r.id for r in records],
            topic,
        )
    else:
        await conn.execute(
            """
            WITH inserted AS (
                INSERT INTO events (id, type, schema_version, aggregate_type, aggregate_id,
                    aggregate_version, occurred_at, recorded_at, actor, source, correlation_id,
                    causation_id, prev_hash, hash, data)
                SELECT * FROM unnest($1::uuid[], $2::text[], $3::int[], $4::text[], $5::text[],
                    $6::int[], $7::timestamptz[], $8::timestamptz[], $9::text[], $10::text[],
                    $11::text[], $12::text[], $13::text[], $14::text[], $15::jsonb[])
                RETURNING position
            )
            INSERT INTO outbox (position, topic) SELECT position, $16 FROM inserted
            """,
            *(list(column) for column in zip(*rows, strict=True)),
            topic,
        )
    # Wake the relay now rather than at its next poll.
    await conn.execute("SELECT pg_notify('huigong_outbox', '')")


def event_ids(records: Sequence[RecordedEvent]) -> list[UUID]:
    return [r.id for r in records]
