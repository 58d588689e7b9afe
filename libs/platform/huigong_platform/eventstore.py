"""The per-service event store: append with an expected version, read an aggregate's stream.

Appending writes the events and their outbox rows in one transaction, so an event is either
recorded and bound for Kafka, or not recorded at all. Kafka has no conditional append, so the
optimistic-concurrency check lives here: UNIQUE(aggregate_type, aggregate_id, aggregate_version).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar
from uuid import UUID, uuid4

import asyncpg
import orjson
from asyncpg.pgproto import pgproto

from huigong_events.authenticity import default_keys
from huigong_events.base import DomainEvent
from huigong_events.envelope import RecordedEvent, hash_input, seal
from huigong_events.topics import topic_for_aggregate

from . import logs
from .database import DbConnection

log = logs.get(__name__)

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
        auth_key=row["auth_key"],
        auth_tag=row["auth_tag"],
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

    async def append_many(
        self,
        conn: DbConnection,
        aggregate_type: str,
        appends: Sequence[PendingAppend],
        heads: Mapping[str, tuple[int, str | None]] | None = None,
    ) -> list[RecordedEvent]:
        """Many aggregates' appends in one go, inside the caller's transaction (see the module's
        `append_many`)."""
        return await append_many(conn, aggregate_type, appends, self._prefix, heads)

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
            return await insert_recorded(conn, sealed, topic)
        except asyncpg.UniqueViolationError as exc:
            # A concurrent writer took the version between our read and our insert.
            raise ConcurrencyError(aggregate_type, aggregate_id, expected_version, -1) from exc

    async def start_many(
        self,
        conn: DbConnection,
        event_type: type[DomainEvent],
        aggregates: Sequence[tuple[str, Mapping[str, Any]]],
        meta: Metadata,
    ) -> None:
        """Record the first event of each of many new aggregates at once, e.g. one enrolment per
        row of a 10,000-row batch: version 1, no previous hash, each with its outbox row.

        Each data is the event's payload as `DomainEvent.to_data()` gives it (JSON types only)
        and must already satisfy the event's contract: building and validating 10,000 pydantic
        models costs more than everything else about recording them, so only the first one is
        validated here, which catches a payload that no longer matches the class. The aggregate
        ids must be new (e.g. random UUIDs); one that is not fails the whole call with
        ConcurrencyError, recording nothing.
        """
        if not aggregates:
            return
        event_type.model_validate({**aggregates[0][1], "type": _type_name(event_type)})
        aggregate_type = event_type.aggregate_type
        type_name = _type_name(event_type)
        topic = topic_for_aggregate(aggregate_type).qualified(self._prefix)
        recorded_at = datetime.now(UTC)
        occurred_at = meta.occurred_at or recorded_at
        schema_version = event_type.schema_version
        actor, source, correlation_id, causation_id = (
            meta.actor,
            meta.source,
            meta.correlation_id,
            meta.causation_id,
        )
        positions = await _draw_positions(conn, len(aggregates))
        # Every envelope field but the id, the aggregate id and the data is the same for the whole
        # call, so the canonical text that is hashed is a template with three holes; the data's
        # canonical text is also what the events table stores (jsonb ignores key order).
        template = _HashTemplate(
            {
                "type": type_name,
                "schema_version": schema_version,
                "aggregate_type": aggregate_type,
                "aggregate_version": 1,
                "occurred_at": occurred_at,
                "recorded_at": recorded_at,
                "actor": actor,
                "source": source,
                "correlation_id": correlation_id,
                "causation_id": causation_id,
                "prev_hash": None,
            }
        )
        digest_of = template.digest
        tag, trusted = default_keys().tag, RecordedEvent.trusted
        rows: list[tuple[Any, ...]] = []
        for position, event_id, (aggregate_id, data) in zip(
            positions, new_ids(len(aggregates)), aggregates, strict=True
        ):
            digest, text = digest_of(event_id, aggregate_id, data)
            tagged = tag(
                trusted(
                    id=event_id,
                    type=type_name,
                    schema_version=schema_version,
                    aggregate_type=aggregate_type,
                    aggregate_id=aggregate_id,
                    aggregate_version=1,
                    occurred_at=occurred_at,
                    recorded_at=recorded_at,
                    actor=actor,
                    source=source,
                    correlation_id=correlation_id,
                    causation_id=causation_id,
                    prev_hash=None,
                    hash=digest,
                    data=data,
                )
            )
            rows.append(
                (
                    position,
                    event_id,
                    type_name,
                    schema_version,
                    aggregate_type,
                    aggregate_id,
                    1,
                    occurred_at,
                    recorded_at,
                    actor,
                    source,
                    correlation_id,
                    causation_id,
                    None,
                    digest,
                    text,
                    tagged.auth_key,
                    tagged.auth_tag,
                )
            )
        try:
            await _copy_with_outbox(conn, rows, positions, topic)
        except asyncpg.UniqueViolationError as exc:
            raise ConcurrencyError(aggregate_type, "(one of many new)", 0, -1) from exc
        await conn.execute("SELECT pg_notify('huigong_outbox', '')")


class _HashTemplate:
    """The envelope hash (`huigong_events.envelope.hash_input`, SHA-256) of events that share
    every field but their id, aggregate id and data, without building and encoding the
    envelope's dict for each: its canonical text is cut once where those three go (in sorted key
    order: aggregate_id, data, id), and each event's text is joined from the pieces. The first
    event is hashed both ways; should they differ (hash_input changed), hash_input is used."""

    _HOLE: ClassVar[str] = "\x00hole\x00"  # no envelope field holds this text

    def __init__(self, fields: Mapping[str, Any]) -> None:
        self._fields = dict(fields)
        hole = self._HOLE
        text = hash_input({**self._fields, "id": hole, "aggregate_id": hole, "data": hole})
        pieces = text.split(orjson.dumps(hole))
        self._pieces = tuple(pieces) if len(pieces) == 4 else None
        self._checked = False

    def digest(self, event_id: UUID, aggregate_id: str, data: Mapping[str, Any]) -> tuple[str, str]:
        """(hash, canonical JSON text of the data) of one event."""
        canonical = orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
        if self._pieces is None:
            return self._hash(event_id, aggregate_id, data), canonical.decode()
        head, before_data, before_id, tail = self._pieces
        digest = hashlib.sha256(
            b"".join(
                (
                    head,
                    orjson.dumps(aggregate_id),
                    before_data,
                    canonical,
                    before_id,
                    b'"%s"' % str(event_id).encode(),
                    tail,
                )
            )
        ).hexdigest()
        if not self._checked:
            self._checked = True
            expected = self._hash(event_id, aggregate_id, data)
            if digest != expected:
                log.error("event hash template differs from huigong_events.envelope.hash_input; using it")
                self._pieces = None
                digest = expected
        return digest, canonical.decode()

    def _hash(self, event_id: UUID, aggregate_id: str, data: Mapping[str, Any]) -> str:
        fields = {**self._fields, "id": event_id, "aggregate_id": aggregate_id, "data": data}
        return hashlib.sha256(hash_input(fields)).hexdigest()


def _type_name(event_type: type[DomainEvent]) -> str:
    name: str = event_type.model_fields["type"].default
    return name


def new_ids(count: int) -> list[pgproto.UUID]:
    """Version-4 UUIDs in ascending order, from one read of the system's randomness.

    Ascending, because a batch of them goes into unique indexes (events.id, the aggregate ids)
    one after the other: in order, each insert lands next to the previous one instead of on a
    random page, which keeps PostgreSQL's cost per row flat as the tables grow. asyncpg's UUID is
    a uuid.UUID that is built and printed several times faster than the standard one."""
    raw = bytearray(os.urandom(16 * count))
    raw[6::16] = bytes(b & 0x0F | 0x40 for b in raw[6::16])  # version 4
    raw[8::16] = bytes(b & 0x3F | 0x80 for b in raw[8::16])  # RFC 4122 variant
    data = bytes(raw)
    return [pgproto.UUID(b) for b in sorted(data[i : i + 16] for i in range(0, 16 * count, 16))]


_COLUMNS = (
    "position",
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
    "auth_key",
    "auth_tag",
)
# Above this many events two binary COPYs beat one INSERT … SELECT unnest(…) several times over.
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
        r.auth_key,
        r.auth_tag,
    )


async def _draw_positions(conn: DbConnection, count: int) -> list[int]:
    """The next `count` positions of the store, in order. Drawn before the events are written,
    so that the outbox rows are written by COPY too rather than found again by event id."""
    # The sequence of the bigserial `events.position` (0001_eventstore.sql), named as a constant:
    # pg_get_serial_sequence() here would look it up once per row, four times the cost.
    rows = await conn.fetch(
        "SELECT nextval('events_position_seq'::regclass) FROM generate_series(1, $1)", count
    )
    return sorted(r[0] for r in rows)


async def _copy_with_outbox(
    conn: DbConnection, rows: Sequence[tuple[Any, ...]], positions: Sequence[int], topic: str
) -> None:
    """Events (tuples in `_COLUMNS` order) and their outbox rows, by two binary COPYs."""
    await conn.copy_records_to_table("events", records=rows, columns=_COLUMNS)
    await conn.copy_records_to_table(
        "outbox", records=[(p, topic) for p in positions], columns=("position", "topic")
    )


async def insert_recorded(
    conn: DbConnection, records: Sequence[RecordedEvent], topic: str
) -> list[RecordedEvent]:
    """Insert sealed events and their outbox rows, in order, inside the caller's transaction.
    Each is tagged here with its owning service's key (huigong_events.authenticity), as it
    will go to Kafka; returns them tagged."""
    keys = default_keys()
    records = [keys.tag(r) for r in records]
    if len(records) >= _COPY_FROM:
        positions = await _draw_positions(conn, len(records))
        rows = [(p, *_row(r)) for p, r in zip(positions, records, strict=True)]
        await _copy_with_outbox(conn, rows, positions, topic)
    else:
        rows = [_row(r) for r in records]
        await conn.execute(
            """
            WITH inserted AS (
                INSERT INTO events (id, type, schema_version, aggregate_type, aggregate_id,
                    aggregate_version, occurred_at, recorded_at, actor, source, correlation_id,
                    causation_id, prev_hash, hash, data, auth_key, auth_tag)
                SELECT * FROM unnest($1::uuid[], $2::text[], $3::int[], $4::text[], $5::text[],
                    $6::int[], $7::timestamptz[], $8::timestamptz[], $9::text[], $10::text[],
                    $11::text[], $12::text[], $13::text[], $14::text[], $15::jsonb[],
                    $16::text[], $17::text[])
                RETURNING position
            )
            INSERT INTO outbox (position, topic) SELECT position, $18 FROM inserted
            """,
            *(list(column) for column in zip(*rows, strict=True)),
            topic,
        )
    # Wake the relay now rather than at its next poll.
    await conn.execute("SELECT pg_notify('huigong_outbox', '')")
    return records


def event_ids(records: Sequence[RecordedEvent]) -> list[UUID]:
    return [r.id for r in records]


@dataclass(frozen=True)
class PendingAppend:
    """One command's events for `append_many`: like the arguments of `EventStore.append`."""

    aggregate_id: str
    events: Sequence[DomainEvent]
    expected_version: int
    meta: Metadata


async def append_many(
    conn: DbConnection,
    aggregate_type: str,
    appends: Sequence[PendingAppend],
    topic_prefix: str = "",
    heads: Mapping[str, tuple[int, str | None]] | None = None,
) -> list[RecordedEvent]:
    """Append to many aggregates of one type at once, inside the caller's transaction: one query
    for the heads of all their streams, then one insert of every event with its outbox row. A
    reaction deciding a 500-event batch this way makes a handful of round trips, not 500 appends.

    Appends to the same aggregate follow one another in the given order (the second expects the
    version the first leaves). The version fence is the same as `append`'s: ConcurrencyError if a
    head is not where its first append expects it, or if a concurrent writer takes a version
    between the read and the insert (then nothing of the call is recorded).

    `heads`: (version, hash) of the last event of each stream (absent: no stream yet), when the
    caller has just read the streams under its own lock; saves reading them again. The unique
    version index still fences a head that was stale."""
    appends = [a for a in appends if a.events]
    if not appends:
        return []
    for pending in appends:
        if any(type(e).aggregate_type != aggregate_type for e in pending.events):
            raise ValueError(f"append_many writes to {aggregate_type} aggregates only")
    if heads is None:
        rows = await conn.fetch(
            """SELECT DISTINCT ON (aggregate_id) aggregate_id, aggregate_version, hash FROM events
               WHERE aggregate_type = $1 AND aggregate_id = ANY($2::text[])
               ORDER BY aggregate_id, aggregate_version DESC""",
            aggregate_type,
            sorted({a.aggregate_id for a in appends}),
        )
        heads = {r[0]: (r[1], r[2]) for r in rows}
    current = dict(heads)
    recorded_at = datetime.now(UTC)
    ids = iter(new_ids(sum(len(a.events) for a in appends)))
    sealed: list[RecordedEvent] = []
    for pending in appends:
        actual, prev_hash = current.get(pending.aggregate_id, (0, None))
        expected = pending.expected_version
        if expected != ANY_VERSION and actual != expected:
            raise ConcurrencyError(aggregate_type, pending.aggregate_id, expected, actual)
        meta = pending.meta
        occurred_at = meta.occurred_at or recorded_at
        for offset, event in enumerate(pending.events, start=1):
            record = seal(
                event=event,
                event_id=next(ids),
                aggregate_id=pending.aggregate_id,
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
        current[pending.aggregate_id] = (actual + len(pending.events), prev_hash)
    topic = topic_for_aggregate(aggregate_type).qualified(topic_prefix)
    try:
        return await insert_recorded(conn, sealed, topic)
    except asyncpg.UniqueViolationError as exc:
        raise ConcurrencyError(aggregate_type, "(one of many)", -1, -1) from exc
