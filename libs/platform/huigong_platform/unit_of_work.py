"""The unit of work of one command: one transaction holding the command's idempotency key, the
locks it takes, the streams it reads and the events it appends. Everything it did commits
together or not at all.

Two implementations with one interface: `PostgresUnitOfWork` (the service's database, the
events' outbox rows in the same transaction) and `InMemoryUnitOfWork` (a dict, for handler and
API tests that need neither PostgreSQL nor Kafka). `tests/contracts/unit_of_work.py` is the one
suite both pass.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import uuid4

import asyncpg

from huigong_events.base import DomainEvent
from huigong_events.envelope import RecordedEvent, seal

from . import idempotency
from .database import DbConnection
from .eventstore import ANY_VERSION, ConcurrencyError, EventStore, Metadata, Stream
from .idempotency import IdempotencyKeyReused, Outcome


class UnitOfWork(Protocol):
    """What a command handler may do within its transaction."""

    async def lock(self, aggregate_type: str, aggregate_id: str) -> None:
        """Serialise every command about this aggregate until the unit of work ends."""

    async def read(self, aggregate_type: str, aggregate_id: str) -> Stream: ...

    async def append(
        self, aggregate_id: str, events: Sequence[DomainEvent], expected_version: int, meta: Metadata
    ) -> list[RecordedEvent]:
        """Append to one aggregate (the events' class names it) at `expected_version` (or
        ANY_VERSION); ConcurrencyError when another command appended first."""

    async def start_many(
        self,
        event_type: type[DomainEvent],
        aggregates: Sequence[tuple[str, Mapping[str, Any]]],
        meta: Metadata,
    ) -> None:
        """The first event of each of many new aggregates (their data as `to_data()` gives it)."""

    async def claim(self, principal: str, key: str, fingerprint: str) -> Outcome | None:
        """None when the key is new; the first outcome when it was used for the same command;
        IdempotencyKeyReused when it was used for another."""

    async def settle(self, principal: str, key: str, outcome: Outcome) -> None: ...


# Opens a unit of work: commits when the block ends normally, rolls back when it raises.
UnitsOfWork = Callable[[], AbstractAsyncContextManager[UnitOfWork]]


class PostgresUnitOfWork:
    """One PostgreSQL transaction on the service's database. `conn` is there for the service's
    own adapters (read models, counters) to join the transaction."""

    def __init__(self, conn: DbConnection, store: EventStore, service: str) -> None:
        self.conn = conn
        self._store = store
        self._service = service

    async def lock(self, aggregate_type: str, aggregate_id: str) -> None:
        # The same lock a service's reactions take on the aggregate ("<service>:<type>:<id>").
        await self.conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            f"{self._service}:{aggregate_type}:{aggregate_id}",
        )

    async def read(self, aggregate_type: str, aggregate_id: str) -> Stream:
        return await self._store.read(aggregate_type, aggregate_id, conn=self.conn)

    async def append(
        self, aggregate_id: str, events: Sequence[DomainEvent], expected_version: int, meta: Metadata
    ) -> list[RecordedEvent]:
        return await self._store.append(aggregate_id, events, expected_version, meta, conn=self.conn)

    async def start_many(
        self,
        event_type: type[DomainEvent],
        aggregates: Sequence[tuple[str, Mapping[str, Any]]],
        meta: Metadata,
    ) -> None:
        await self._store.start_many(self.conn, event_type, aggregates, meta)

    async def claim(self, principal: str, key: str, fingerprint: str) -> Outcome | None:
        return await idempotency.claim(self.conn, principal, key, fingerprint)

    async def settle(self, principal: str, key: str, outcome: Outcome) -> None:
        await idempotency.settle(self.conn, principal, key, outcome)


def postgres_units(pool: asyncpg.Pool, store: EventStore, service: str) -> UnitsOfWork:
    @asynccontextmanager
    async def unit() -> AsyncIterator[UnitOfWork]:
        async with pool.acquire() as conn, conn.transaction():
            yield PostgresUnitOfWork(conn, store, service)

    return unit


@dataclass
class _Key:
    fingerprint: str
    outcome: Outcome | None = None


@dataclass
class MemoryState:
    """What an in-memory store holds: every stream, and the idempotency keys."""

    streams: dict[tuple[str, str], list[RecordedEvent]] = field(default_factory=dict)
    keys: dict[tuple[str, str], _Key] = field(default_factory=dict)

    @property
    def events(self) -> list[RecordedEvent]:
        """Every recorded event, in the order recorded."""
        return sorted((e for s in self.streams.values() for e in s), key=lambda e: e.recorded_at)


class InMemoryUnitOfWork:
    """A unit of work on a `MemoryState`: its changes are applied to a copy, which replaces the
    state only when the unit of work commits."""

    def __init__(self, state: MemoryState) -> None:
        self.state = state

    async def lock(self, aggregate_type: str, aggregate_id: str) -> None:
        # Units of work on one in-memory store run one at a time (see `in_memory_units`).
        return None

    async def read(self, aggregate_type: str, aggregate_id: str) -> Stream:
        return Stream(
            aggregate_type, aggregate_id, list(self.state.streams.get((aggregate_type, aggregate_id), []))
        )

    async def append(
        self, aggregate_id: str, events: Sequence[DomainEvent], expected_version: int, meta: Metadata
    ) -> list[RecordedEvent]:
        if not events:
            return []
        aggregate_types = {type(e).aggregate_type for e in events}
        if len(aggregate_types) != 1:
            raise ValueError("one append writes to one aggregate")
        (aggregate_type,) = aggregate_types
        stream = self.state.streams.setdefault((aggregate_type, aggregate_id), [])
        actual = stream[-1].aggregate_version if stream else 0
        if expected_version != ANY_VERSION and actual != expected_version:
            raise ConcurrencyError(aggregate_type, aggregate_id, expected_version, actual)
        recorded_at = datetime.now(UTC)
        prev_hash = stream[-1].hash if stream else None
        sealed = []
        for offset, event in enumerate(events, start=1):
            record = seal(
                event=event,
                event_id=uuid4(),
                aggregate_id=aggregate_id,
                aggregate_version=actual + offset,
                occurred_at=meta.occurred_at or recorded_at,
                recorded_at=recorded_at,
                actor=meta.actor,
                source=meta.source,
                correlation_id=meta.correlation_id,
                causation_id=meta.causation_id,
                prev_hash=prev_hash,
            )
            prev_hash = record.hash
            sealed.append(record)
        stream.extend(sealed)
        return sealed

    async def start_many(
        self,
        event_type: type[DomainEvent],
        aggregates: Sequence[tuple[str, Mapping[str, Any]]],
        meta: Metadata,
    ) -> None:
        if any(self.state.streams.get((event_type.aggregate_type, a)) for a, _ in aggregates):
            raise ConcurrencyError(event_type.aggregate_type, "(one of many new)", 0, -1)
        for aggregate_id, data in aggregates:
            event = event_type.model_validate({**data, "type": event_type.model_fields["type"].default})
            await self.append(aggregate_id, [event], 0, meta)

    async def claim(self, principal: str, key: str, fingerprint: str) -> Outcome | None:
        found = self.state.keys.get((principal, key))
        if found is None:
            self.state.keys[(principal, key)] = _Key(fingerprint)
            return None
        if found.fingerprint != fingerprint:
            raise IdempotencyKeyReused(key)
        assert found.outcome is not None
        return Outcome(found.outcome.status_code, found.outcome.body, replayed=True)

    async def settle(self, principal: str, key: str, outcome: Outcome) -> None:
        self.state.keys[(principal, key)].outcome = outcome


def in_memory_units(state: MemoryState) -> UnitsOfWork:
    """Units of work on `state`, one at a time (as PostgreSQL's locks would order them)."""
    turn = asyncio.Lock()

    @asynccontextmanager
    async def unit() -> AsyncIterator[UnitOfWork]:
        async with turn:
            # Recorded events are immutable: copying the lists and the keys is copying the state.
            working = MemoryState(
                {k: list(v) for k, v in state.streams.items()},
                {k: replace(v) for k, v in state.keys.items()},
            )
            yield InMemoryUnitOfWork(working)
            state.streams, state.keys = working.streams, working.keys

    return unit
