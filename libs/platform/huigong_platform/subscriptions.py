"""The one projection runner every service uses.

Exactly-once in effect, on an at-least-once log:
- A batch of records is applied and its (topic, partition, next offset) checkpoint written in
  the same PostgreSQL transaction. On (re)assignment the consumer seeks to the stored offsets,
  so a crash at any point neither loses nor repeats a record.
- The checkpoint rows are locked for the transaction, and records below the stored offset are
  dropped: two consumers that briefly both hold a partition during a rebalance cannot both apply.
- The last applied version of every aggregate is stored too: the outbox relay may publish an
  event twice at two offsets, and the second copy is recognised and skipped.
- A record that cannot be applied (undecodable, unknown type, handler error) goes to the
  dead-letter table with the reason; later records of the same aggregate are parked behind it
  so the projection never sees version N+1 without N; other aggregates keep flowing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

from huigong_events.authenticity import NotAuthentic, default_keys
from huigong_events.base import DomainEvent
from huigong_events.envelope import EnvelopeError, RecordedEvent
from huigong_events.reading import decode_record, envelope_without_body
from huigong_events.topics import Topic

from . import logs, telemetry
from .database import OUTAGES, DbConnection
from .kafka import consumer as make_consumer
from .stalls import Membership, StallWatch, stall_limit

log = logs.get(__name__)

AggregateKey = tuple[str, str]

# Records decoded between two yields to the event loop (about 3 ms of CPU).
DECODE_SLICE = 200


class RawRecord(NamedTuple):
    """A Kafka record as the runner needs it; also rebuilt from dead-letter and parked rows.

    A named tuple: one is made per record consumed, and a frozen dataclass costs several times
    more to build."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    @classmethod
    def of(cls, record: ConsumerRecord[Any, Any]) -> RawRecord:
        headers = record.headers
        return cls(
            record.topic,
            record.partition,
            record.offset,
            record.key,
            record.value,
            headers if isinstance(headers, tuple) else tuple(headers or ()),
        )

    def headers_json(self) -> str:
        return json.dumps([[k, v.decode("utf-8", "replace")] for k, v in self.headers])

    def aggregate_hint(self) -> AggregateKey | None:
        """The aggregate named in the headers, even when the rest of the record is broken."""
        found = {k: v for k, v in self.headers}
        if "ce_aggregatetype" in found and "ce_subject" in found:
            try:
                return (found["ce_aggregatetype"].decode(), found["ce_subject"].decode())
            except UnicodeDecodeError:
                return None
        return None


def headers_from_json(raw: str | list[list[str]]) -> tuple[tuple[str, bytes], ...]:
    items = json.loads(raw) if isinstance(raw, str) else raw
    return tuple((k, v.encode()) for k, v in items)


class Projection(ABC):
    """A read model. Subclasses name their consumer, their topics, and apply events.

    `apply` runs inside the runner's transaction: write with the given connection only, and
    never commit or reach outside PostgreSQL from here.
    """

    name: ClassVar[str]  # unique per service, e.g. "intake.receipts"; also the consumer group
    topics: ClassVar[tuple[Topic, ...]]
    # Event types this projection reads; others on its topics are skipped but still counted
    # for ordering. Empty means all.
    handles: ClassVar[frozenset[str]] = frozenset()

    def wants(self, event_type: str) -> bool:
        return not self.handles or event_type in self.handles

    @abstractmethod
    async def apply(self, conn: DbConnection, event: DomainEvent, record: RecordedEvent) -> None: ...

    async def apply_batch(
        self, conn: DbConnection, items: Sequence[tuple[DomainEvent, RecordedEvent]]
    ) -> None:
        """Apply many at once; override with set-based SQL where volume matters."""
        for event, record in items:
            await self.apply(conn, event, record)

    async def reset(self, conn: DbConnection) -> None:
        """Empty the read model (replay starts from here). Override to truncate your tables."""
        raise NotImplementedError(f"{self.name} cannot be reset")


class IgnoredEvent(LookupError):
    """The typed event of a record whose type the projection ignores: never decoded."""


class _Decoded:
    """A record with its envelope and typed event; `aggregate` is computed once, as the runner
    asks for it several times per record.

    A record of a type the projection ignores has only its envelope, read from the headers
    (its data is left empty: the body is never parsed), which is all the runner needs to keep
    each aggregate's versions in order; asking for its event raises IgnoredEvent."""

    __slots__ = ("_event", "aggregate", "raw", "record")

    def __init__(self, raw: RawRecord, record: RecordedEvent, event: DomainEvent | None) -> None:
        self.raw = raw
        self.record = record
        self._event = event
        self.aggregate: AggregateKey = (record.aggregate_type, record.aggregate_id)

    @property
    def event(self) -> DomainEvent:
        if self._event is None:
            raise IgnoredEvent(f"{self.record.type} is not read by this projection")
        return self._event


class _SharedDecodes:
    """Records decoded in this process, by Kafka position: each projection of a service has its
    own consumer on the same topics, and the first to decode a record spares the others
    (events and envelopes are immutable, so sharing them is safe). Bounded, oldest out first;
    a hit is used only when the record is byte for byte the one decoded (a topic recreated
    under the same name reuses positions)."""

    def __init__(self, size: int = 8192) -> None:
        self.size = size
        # An OrderedDict: evicting the oldest of a plain dict (`next(iter(d))`) walks the slots
        # left by every earlier eviction until the next resize, which grew to dominate decoding.
        self._entries: OrderedDict[tuple[str, int, int], tuple[RawRecord, RecordedEvent, DomainEvent]] = (
            OrderedDict()
        )

    def known(self, raw: RawRecord) -> tuple[RecordedEvent, DomainEvent] | None:
        """The envelope and event of a record decoded here before, byte for byte this one. Only
        a record whose tag was checked is ever decoded (`Applier.decode`), so a hit is also an
        authentic record: the other projections of the process skip the check as the decode."""
        found = self._entries.get((raw.topic, raw.partition, raw.offset))
        if found is not None and found[0].value == raw.value and found[0].headers == raw.headers:
            return found[1], found[2]
        return None

    def decode(self, raw: RawRecord) -> tuple[RecordedEvent, DomainEvent]:
        key = (raw.topic, raw.partition, raw.offset)
        entries = self._entries
        found = entries.get(key)
        if found is not None and found[0].value == raw.value and found[0].headers == raw.headers:
            return found[1], found[2]
        record, event = decode_record(raw.value, raw.headers)
        if len(entries) >= self.size:
            entries.popitem(last=False)
        entries[key] = (raw, record, event)
        return record, event

    def clear(self) -> None:
        self._entries.clear()


SHARED_DECODES = _SharedDecodes()


def _type_header(headers: Sequence[tuple[str, bytes]]) -> str | None:
    for name, value in headers:
        if name == "ce_type":
            try:
                return value.decode()
            except UnicodeDecodeError:
                return None
    return None


Decoded = _Decoded | tuple[RawRecord, Exception]


@dataclass
class Outcome:
    applied: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    parked: int = 0
    per_topic: dict[str, int] = field(default_factory=dict)
    # Partitions whose consumer must seek to the offset given (`apply_in_transaction`).
    resume: dict[TopicPartition, int] = field(default_factory=dict)


class Applier:
    """Applies raw records to one projection inside a caller's transaction.

    Used by the live subscription, by dead-letter retry and by replay, so all obey the same rules.

    `exclusive`: this applier is the only writer of its consumer's bookkeeping, which starts
    empty (a replay into a fresh shadow schema). The last applied versions and the open dead
    letters are then known from memory instead of read back per batch, and the versions are
    written once, in key order, by `flush_versions` at the end. A transaction that fails leaves
    the memory ahead of the database: an exclusive applier is discarded with its shadow then.
    """

    def __init__(self, projection: Projection, service: str, *, exclusive: bool = False) -> None:
        self.projection = projection
        self.service = service
        self.exclusive = exclusive
        self._known_versions: dict[AggregateKey, int] = {}
        self._known_blocked: dict[AggregateKey, int] = {}

    @staticmethod
    def decode(raws: Sequence[RawRecord], wants: Callable[[str], bool] | None = None) -> list[Decoded]:
        """Pure CPU work, no I/O: done for the next batch while the database applies this one.

        With `wants` (the projection's), a record whose `ce_type` header names a type the
        projection ignores is not decoded: its envelope comes from the headers alone. Each
        record is decoded once per process however many projections read it."""
        decoded: list[Decoded] = []
        append = decoded.append
        check = default_keys().check
        shared = SHARED_DECODES.decode
        known = SHARED_DECODES.known
        for raw in raws:
            try:
                # Written by the topic's owner? Checked before anything, an ignored type included:
                # its version still counts for the aggregate's order. A record another
                # projection of this process checked and decoded, byte for byte, is not again.
                found = known(raw)
                if found is None:
                    check(raw.topic, raw.value, raw.headers)
                if wants is not None:
                    event_type = _type_header(raw.headers)
                    if event_type is not None and not wants(event_type):
                        append(_Decoded(raw, envelope_without_body(raw.headers), None))
                        continue
                record, event = found if found is not None else shared(raw)
                append(_Decoded(raw, record, event))
            except Exception as exc:
                append((raw, exc))
        return decoded

    async def process(
        self, conn: DbConnection, raws: Sequence[RawRecord], decoded: list[Decoded] | None = None
    ) -> Outcome:
        outcome = Outcome()
        if decoded is None:
            decoded = self.decode(raws, self.projection.wants)

        if self.exclusive:
            versions, blocked = self._known_versions, self._known_blocked
        else:
            keys: set[AggregateKey] = set()
            for d in decoded:
                if isinstance(d, _Decoded):
                    keys.add(d.aggregate)
                elif hint := d[0].aggregate_hint():
                    keys.add(hint)
            versions, blocked = await self._lookup(conn, keys)

        # Plan sequentially: the order within a partition is the order of each aggregate.
        plan: list[_Decoded] = []
        new_versions: dict[AggregateKey, int] = {}
        for item in decoded:
            if not isinstance(item, _Decoded):
                raw, failure = item
                hint = raw.aggregate_hint()
                if hint and hint in blocked:
                    await self._park(conn, raw, blocked[hint], hint, None)
                    outcome.parked += 1
                    continue
                dl = await self._dead_letter(conn, raw, None, failure, hint)
                if hint:
                    blocked[hint] = dl
                outcome.dead_lettered += 1
                continue
            key = item.aggregate
            version = item.record.aggregate_version
            if blocked and key in blocked:
                await self._park(conn, item.raw, blocked[key], key, version)
                outcome.parked += 1
                continue
            current = new_versions.get(key)
            if current is None:
                current = versions.get(key, 0)
            if version <= current:
                outcome.duplicates += 1
                continue
            if version != current + 1:
                gap = LookupError(
                    f"version gap: last applied {current}, got {version}; an earlier event of "
                    "this aggregate was never received"
                )
                blocked[key] = await self._dead_letter(conn, item.raw, item.record, gap, key)
                outcome.dead_lettered += 1
                continue
            new_versions[key] = version
            plan.append(item)

        projection = self.projection
        wants = projection.wants
        wanted = [d for d in plan if wants(d.record.type)]
        applied: list[_Decoded] = []
        try:
            async with conn.transaction():  # savepoint: a failing batch is retried one by one
                await projection.apply_batch(conn, [(d.event, d.record) for d in wanted])
            applied = wanted
        except OUTAGES:
            raise  # the whole batch is tried again by the caller; no record is judged for it
        except Exception:
            wanted_ids = {id(d) for d in wanted}
            # Only a failure met here blocks what follows. Every item in the plan was planned
            # before any block of its aggregate (planning parks whatever comes after one), even
            # when a later record of the aggregate was dead-lettered during planning (a gap).
            failed: dict[AggregateKey, int] = {}
            for item in plan:
                key = item.aggregate
                if key in failed:  # an earlier event of this aggregate failed in this batch
                    await self._park(conn, item.raw, failed[key], key, item.record.aggregate_version)
                    outcome.parked += 1
                    continue
                if id(item) not in wanted_ids:
                    continue
                try:
                    async with conn.transaction():
                        await projection.apply(conn, item.event, item.record)
                    applied.append(item)
                except OUTAGES:
                    raise
                except Exception as exc:
                    # The aggregate stays at the version before the failing event.
                    previous = item.record.aggregate_version - 1
                    if previous > versions.get(key, 0):
                        new_versions[key] = previous
                    else:
                        new_versions.pop(key, None)
                    failed[key] = blocked[key] = await self._dead_letter(
                        conn, item.raw, item.record, exc, key
                    )
                    outcome.dead_lettered += 1
        outcome.applied = len(applied)
        per_topic = outcome.per_topic
        for item in applied:
            topic = item.raw.topic
            per_topic[topic] = per_topic.get(topic, 0) + 1
        await self._store_versions(conn, new_versions, versions)
        return outcome

    async def _lookup(
        self, conn: DbConnection, keys: Iterable[AggregateKey]
    ) -> tuple[dict[AggregateKey, int], dict[AggregateKey, int]]:
        """The last applied version of each aggregate, and the oldest open dead letter of those
        that have one, in one round trip."""
        keys = list(keys)
        if not keys:
            return {}, {}
        columns, types, ids = key_columns([k[0] for k in keys], [k[1] for k in keys])
        # One index probe per key (LATERAL … LIMIT 1 keeps the planner from hashing the whole
        # table instead, which it prefers for a few thousand keys and which grows with it).
        rows = await conn.fetch(
            f"""WITH k(t, i) AS MATERIALIZED (SELECT * FROM unnest({columns}))
               SELECT false, k.t, k.i, v.aggregate_version::bigint
               FROM k CROSS JOIN LATERAL (
                   SELECT a.aggregate_version FROM applied_versions a
                   WHERE a.consumer = $1 AND a.aggregate_type = k.t AND a.aggregate_id = k.i
                   LIMIT 1) v
               UNION ALL
               SELECT true, d.aggregate_type, d.aggregate_id, min(d.id)
               FROM dead_letters d JOIN k ON d.aggregate_type = k.t AND d.aggregate_id = k.i
               WHERE d.consumer = $1 AND d.status = 'open'
               GROUP BY d.aggregate_type, d.aggregate_id""",
            self.projection.name,
            types,
            ids,
        )
        versions: dict[AggregateKey, int] = {}
        blocked: dict[AggregateKey, int] = {}
        for dead, kind, ident, value in rows:
            (blocked if dead else versions)[(kind, ident)] = value
        return versions, blocked

    async def _store_versions(
        self, conn: DbConnection, versions: dict[AggregateKey, int], stored: dict[AggregateKey, int]
    ) -> None:
        if self.exclusive:
            stored.update(versions)  # `stored` is the memory itself
            return
        name = self.projection.name
        updates = {k: v for k, v in versions.items() if k in stored}
        # Aggregates never seen before (most of them: an enrolment is a one-event aggregate) are
        # inserted with binary COPY, several times faster than an upsert. No one else can insert
        # them meanwhile: an aggregate lives on one partition and this transaction holds that
        # partition's checkpoint row lock.
        inserts = [(name, k[0], k[1], v) for k, v in versions.items() if k not in stored]
        if inserts:
            await conn.copy_records_to_table(
                "applied_versions",
                records=inserts,
                columns=["consumer", "aggregate_type", "aggregate_id", "aggregate_version"],
            )
        if updates:
            columns, types, ids = key_columns([k[0] for k in updates], [k[1] for k in updates])
            async with index_probes(conn):
                await conn.execute(
                    f"""UPDATE applied_versions a SET aggregate_version = k.v
                       FROM unnest({columns}, $4::int[]) AS k(t, i, v)
                       WHERE a.consumer = $1 AND a.aggregate_type = k.t AND a.aggregate_id = k.i""",
                    name,
                    types,
                    ids,
                    list(updates.values()),
                )

    async def flush_versions(self, conn: DbConnection) -> int:
        """Write an exclusive applier's versions (once, at the end of a replay), in key order so
        the index grows at its right edge. Returns the number of rows."""
        if not self.exclusive or not self._known_versions:
            return 0
        name = self.projection.name
        rows = [(name, k[0], k[1], v) for k, v in sorted(self._known_versions.items())]
        await conn.copy_records_to_table(
            "applied_versions",
            records=rows,
            columns=["consumer", "aggregate_type", "aggregate_id", "aggregate_version"],
        )
        return len(rows)

    async def _dead_letter(
        self,
        conn: DbConnection,
        raw: RawRecord,
        record: RecordedEvent | None,
        exc: BaseException,
        aggregate: AggregateKey | None,
    ) -> int:
        reason = _reason(exc)
        dl_id: int = await conn.fetchval(
            """INSERT INTO dead_letters (consumer, topic, partition, "offset", record_key,
                   record_value, record_headers, event_id, event_type, aggregate_type,
                   aggregate_id, aggregate_version, reason, error_class)
               VALUES ($1,$2,$3,$4,$5,$6,$7::jsonb,$8,$9,$10,$11,$12,$13,$14)
               ON CONFLICT (consumer, topic, partition, "offset")
               DO UPDATE SET reason = EXCLUDED.reason, status = 'open'
               RETURNING id""",
            self.projection.name,
            raw.topic,
            raw.partition,
            raw.offset,
            raw.key,
            raw.value,
            raw.headers_json(),
            record.id if record else None,
            record.type if record else None,
            aggregate[0] if aggregate else None,
            aggregate[1] if aggregate else None,
            record.aggregate_version if record else None,
            reason,
            type(exc).__name__,
        )
        telemetry.DEAD_LETTERS.labels(self.service, self.projection.name).inc()
        if isinstance(exc, NotAuthentic):
            telemetry.RECORDS_NOT_AUTHENTIC.labels(self.service, self.projection.name).inc()
            log.error(
                "ALERT record not authentic",
                alert="not_authentic",
                consumer=self.projection.name,
                topic=raw.topic,
                partition=raw.partition,
                offset=raw.offset,
                aggregate_type=aggregate[0] if aggregate else None,
                reason=reason,
                dead_letter_id=dl_id,
            )
        # Reason and position only: a dead letter may hold personal data in its value.
        log.warning(
            "record dead-lettered",
            consumer=self.projection.name,
            topic=raw.topic,
            partition=raw.partition,
            offset=raw.offset,
            error=type(exc).__name__,
            dead_letter_id=dl_id,
        )
        return dl_id

    async def _park(
        self,
        conn: DbConnection,
        raw: RawRecord,
        dead_letter_id: int,
        aggregate: AggregateKey,
        version: int | None,
    ) -> None:
        await conn.execute(
            """INSERT INTO parked (consumer, topic, partition, "offset", dead_letter_id,
                   aggregate_type, aggregate_id, aggregate_version, record_key, record_value,
                   record_headers)
               VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11::jsonb)
               ON CONFLICT DO NOTHING""",
            self.projection.name,
            raw.topic,
            raw.partition,
            raw.offset,
            dead_letter_id,
            aggregate[0],
            aggregate[1],
            version,
            raw.key,
            raw.value,
            raw.headers_json(),
        )
        telemetry.PARKED.labels(self.service, self.projection.name).inc()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, NotAuthentic):
        return f"not authentic: {exc}"
    if isinstance(exc, EnvelopeError):
        return f"undecodable envelope: {exc}"
    if isinstance(exc, KeyError):
        return f"unknown: {exc.args[0] if exc.args else exc}"
    text = str(exc).strip() or type(exc).__name__
    return text[:2000]


@contextlib.asynccontextmanager
async def index_probes(conn: DbConnection) -> AsyncIterator[None]:
    """Statements inside join a batch's keys to a big table by one index probe per key.

    For a few thousand keys PostgreSQL's planner prefers to hash the whole table (its default
    costs assume index pages come from disk), which takes several times longer when the table is
    in memory, and longer as it grows. Other joins are off inside (SET LOCAL: a failure that rolls
    the transaction or savepoint back restores them too)."""
    await conn.execute("SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off")
    yield
    await conn.execute("RESET enable_hashjoin; RESET enable_mergejoin")


KEY_SEPARATOR = "\x1f"  # ASCII unit separator: in no aggregate type or id the platform makes


def key_columns(types: list[str], ids: list[str]) -> tuple[str, str | list[str], str | list[str]]:
    """Two text columns as SQL parameters $2 and $3: the arguments of `unnest(…)` that yield them,
    and the two values. Each column goes as one string that PostgreSQL splits, which asyncpg sends
    some twenty times faster than a text array (it checks every element of an array in Python);
    as arrays should a value contain the separator."""
    joined_types, joined_ids = KEY_SEPARATOR.join(types), KEY_SEPARATOR.join(ids)
    if joined_types.count(KEY_SEPARATOR) == joined_ids.count(KEY_SEPARATOR) == len(ids) - 1:
        return (
            "string_to_array($2::text, chr(31)), string_to_array($3::text, chr(31))",
            joined_types,
            joined_ids,
        )
    return "$2::text[], $3::text[]", types, ids


class _Rebalance(Membership):
    def __init__(self, subscription: Subscription) -> None:
        super().__init__(subscription.watch)
        self._sub = subscription

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await super().on_partitions_revoked(revoked)
        # Let an in-flight batch finish before the partitions move elsewhere.
        async with self._sub.batch_lock:
            pass

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        await self._sub.seek_to_checkpoints(assigned)
        await super().on_partitions_assigned(assigned)


class Subscription:
    """Consumes a projection's topics and applies them through an `Applier`."""

    def __init__(
        self,
        projection: Projection,
        pool: asyncpg.Pool,
        bootstrap: str,
        service: str,
        topic_prefix: str = "",
        batch_size: int = 2000,
        max_poll_seconds: float = 300.0,
        session_seconds: float = 10.0,
    ) -> None:
        self.projection = projection
        self.applier = Applier(projection, service)
        self._pool = pool
        self._bootstrap = bootstrap
        self._service = service
        self._prefix = topic_prefix
        self._batch_size = batch_size
        self._max_poll_seconds = max_poll_seconds
        self._session_seconds = session_seconds
        self._stopping = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None
        self.batch_lock = asyncio.Lock()
        self.applied = 0
        self.started = asyncio.Event()
        self.lag: dict[TopicPartition, int] = {}
        self._uncommitted: dict[TopicPartition, int] = {}
        self._committing: asyncio.Task[None] | None = None
        # A consumer that wedges is replaced (stalls.py); its checkpoints say where it stands,
        # and where the next one resumes.
        self.watch = StallWatch(
            service, projection.name, stall_limit(max_poll_seconds, session_seconds), self._checkpointed
        )

    @property
    def topic_names(self) -> list[str]:
        return [t.qualified(self._prefix) for t in self.projection.topics]

    @property
    def group_id(self) -> str:
        return f"{self._prefix}huigong.{self.projection.name}"

    async def seek_to_checkpoints(self, partitions: Sequence[TopicPartition]) -> None:
        consumer = self._consumer
        if consumer is None or not partitions:
            return
        rows = await self._pool.fetch(
            "SELECT topic, partition, next_offset FROM checkpoints WHERE consumer = $1",
            self.projection.name,
        )
        replaced = self._consumer is not consumer  # a flag: comparing here would widen `consumer`
        if replaced:
            # Stopped (or restarted) while the checkpoints were read: that consumer's positions
            # no longer matter, and the next one seeks again when it is assigned.
            return
        stored = {(r["topic"], r["partition"]): r["next_offset"] for r in rows}
        never_read = []
        for tp in partitions:
            offset = stored.get((tp.topic, tp.partition))
            if offset is None:
                never_read.append(tp)
            else:
                consumer.seek(tp, offset)
        if never_read:
            # One request for all of them: aiokafka heartbeats only once this listener returns,
            # and each separate call waits out a fetch (about half a second), which with a short
            # session put a member that had just joined back out of its group.
            await consumer.seek_to_beginning(*never_read)

    async def _checkpointed(
        self, consumer: AIOKafkaConsumer, partitions: list[TopicPartition]
    ) -> dict[TopicPartition, int]:
        """The next offset applied on each partition (0 where none was yet)."""
        rows = await self._pool.fetch(
            "SELECT topic, partition, next_offset FROM checkpoints WHERE consumer = $1",
            self.projection.name,
        )
        stored = {(r["topic"], r["partition"]): r["next_offset"] for r in rows}
        return {tp: stored.get((tp.topic, tp.partition), 0) for tp in partitions}

    async def run(self) -> None:
        """Consume until `stop`, with a fresh consumer after any failure or stall."""
        backoff = 0.5
        while not self._stopping.is_set():
            try:
                await self.watch.guard(self._consume())
                backoff = 0.5
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(
                    "subscription interrupted",
                    consumer=self.projection.name,
                    error=f"{type(exc).__name__}: {exc}",
                    retry_in=backoff,
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), backoff)
                backoff = min(backoff * 2, 10.0)

    async def stop(self) -> None:
        self._stopping.set()

    async def _consume(self) -> None:
        consumer = make_consumer(
            self._bootstrap,
            self.group_id,
            f"huigong-{self._service}-{self.projection.name}",
            max_poll_seconds=self._max_poll_seconds,
            session_seconds=self._session_seconds,
        )
        self._consumer = self.watch.client = consumer
        consumer.subscribe(self.topic_names, listener=_Rebalance(self))
        await consumer.start()
        # One batch is applied in PostgreSQL while the next is fetched and decoded here, so the
        # database (another process, another core) and Python work at the same time.
        in_flight: asyncio.Task[None] | None = None
        try:
            self.started.set()
            while not self._stopping.is_set():
                batches = await consumer.getmany(timeout_ms=500, max_records=self._batch_size)
                if batches:
                    self.watch.fed()
                    prepared = await self._prepare(batches)
                    if in_flight is not None:
                        await self._finish(consumer, in_flight)
                    in_flight = asyncio.create_task(self._apply(consumer, prepared))
                elif in_flight is not None:
                    await self._finish(consumer, in_flight)
                    in_flight = None
                await self._report_lag(consumer)
            if in_flight is not None:
                await self._finish(consumer, in_flight)
            if self._committing is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._committing, 10)
        finally:
            for task in (in_flight, self._committing):
                if task is not None and not task.done():
                    task.cancel()
                    with contextlib.suppress(BaseException):
                        await task
            self._committing = None
            self._uncommitted = {}
            self._consumer = self.watch.client = None
            self.watch.in_group = False
            with contextlib.suppress(Exception):
                await asyncio.wait_for(consumer.stop(), 10)

    async def _finish(self, consumer: AIOKafkaConsumer, batch: asyncio.Task[None]) -> None:
        """Wait for the batch in flight, keeping this member in its group however long it takes.

        aiokafka counts the time since the consumer last asked for records; past
        max_poll_interval_ms the member leaves its group, its partitions go to the others, and
        it rejoins with its next request, so a batch that always outlasts the interval makes it
        leave and rejoin for ever (aio-libs/aiokafka#848). While a batch lasts, the consumer
        asks again every quarter of the interval with its partitions paused: it is handed
        nothing (records fetched ahead are dropped and fetched again once it resumes; its
        position does not move), and the group knows it is alive. Correctness never depended on
        this: a member that does leave mid-batch is fenced by the checkpoint rows it holds
        locked, and its successor skips what the batch committed (`apply_in_transaction`)."""
        interval = self._max_poll_seconds / 4
        while True:
            done, _ = await asyncio.wait({batch}, timeout=interval)
            self.watch.fed()  # a batch being applied is progress, however long it takes
            if done:
                batch.result()
                return
            held = [tp for tp in consumer.assignment() if tp not in consumer.paused()]
            consumer.pause(*held)
            try:
                await consumer.getmany(timeout_ms=0)
            finally:
                # A rebalance meanwhile hands out fresh, unpaused assignments.
                assigned = consumer.assignment()
                consumer.resume(*(tp for tp in held if tp in assigned))
            telemetry.CONSUMER_KEEPALIVES.labels(self._service, self.projection.name).inc()
            log.info(
                "batch outlasts a quarter of max_poll_interval; the consumer stays in its group",
                consumer=self.projection.name,
                max_poll_seconds=self._max_poll_seconds,
            )

    async def _prepare(
        self, batches: dict[TopicPartition, list[ConsumerRecord[Any, Any]]]
    ) -> list[tuple[TopicPartition, list[RawRecord], list[Decoded]]]:
        prepared = []
        for tp, records in batches.items():
            if not records:
                continue
            raws = [RawRecord.of(r) for r in records]
            decoded: list[Decoded] = []
            # In slices, yielding between them, so the in-flight batch's database round trips
            # are answered within a few milliseconds rather than after the whole decode.
            for start in range(0, len(raws), DECODE_SLICE):
                decoded.extend(self.applier.decode(raws[start : start + DECODE_SLICE], self.projection.wants))
                await asyncio.sleep(0)
            prepared.append((tp, raws, decoded))
        return prepared

    async def _apply(
        self,
        consumer: AIOKafkaConsumer,
        prepared: list[tuple[TopicPartition, list[RawRecord], list[Decoded]]],
    ) -> None:
        async with self.batch_lock:
            outcome, ends = await apply_with_checkpoints(self._pool, self.applier, prepared)
            # Records handed over past a hole were not applied: read them again from the
            # checkpoint (a batch fetched meanwhile is refused the same way, then read again).
            for tp, offset in outcome.resume.items():
                if tp in consumer.assignment():
                    consumer.seek(tp, offset)
        self.applied += outcome.applied
        self._mirror(consumer, ends)

    def _mirror(self, consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> None:
        """Mirror positions into Kafka for lag tooling (the truth is the checkpoint table), off
        the batch's path: the next batch does not wait for the broker's answer, and positions
        that arrive meanwhile go in the following commit."""
        self._uncommitted.update(ends)
        if self._committing is None or self._committing.done():
            self._committing = asyncio.create_task(self._commit(consumer))

    async def _commit(self, consumer: AIOKafkaConsumer) -> None:
        while self._uncommitted:
            positions, self._uncommitted = self._uncommitted, {}
            with contextlib.suppress(Exception):
                await consumer.commit(positions)

    async def _report_lag(self, consumer: AIOKafkaConsumer) -> None:
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            if high is None:
                continue
            with contextlib.suppress(Exception):
                # Immediate when the position is known; while it is being reset aiokafka waits
                # (and asks again, for ever), which must not hold up this loop.
                lag = max(high - await asyncio.wait_for(consumer.position(tp), 0.1), 0)
                self.lag[tp] = lag
                telemetry.CONSUMER_LAG.labels(
                    self._service, self.projection.name, tp.topic, str(tp.partition)
                ).set(lag)


PreparedBatch = list[tuple[TopicPartition, list[RawRecord], list[Decoded]]]


async def apply_with_checkpoints(
    pool: asyncpg.Pool, applier: Applier, prepared: PreparedBatch, *, in_sequence: bool = True
) -> tuple[Outcome, dict[TopicPartition, int]]:
    """Apply records of several partitions in one transaction, fenced by the checkpoint rows.

    Shared by the projection subscriptions and the faust reaction agents, so both are
    exactly-once in effect in the same way. Returns the outcome and the next offset per partition
    (for the partitions that moved); `Outcome.resume` names the partitions whose consumer must be
    sought back (or forward) to the stored offset (see `apply_in_transaction`).
    """
    async with pool.acquire() as conn, conn.transaction():
        outcome, ends = await apply_in_transaction(conn, applier, prepared, in_sequence=in_sequence)
    count_outcome(applier, outcome)
    return outcome, ends


def count_outcome(applier: Applier, outcome: Outcome) -> None:
    """The metrics of a committed batch."""
    service, name = applier.service, applier.projection.name
    for topic, count in outcome.per_topic.items():
        telemetry.EVENTS_APPLIED.labels(service, name, topic).inc(count)
    if outcome.duplicates:
        telemetry.EVENTS_SKIPPED.labels(service, name).inc(outcome.duplicates)
    if outcome.resume:
        telemetry.CONSUMER_RESUMES.labels(service, name).inc(len(outcome.resume))


# A fault hook for the chaos runs with several instances (tests/reliability/test_replicas.py):
# when the file this variable names exists, one batch of this process (of the consumer named after
# the seconds, if one is) sleeps that many seconds inside its transaction, checkpoint rows locked,
# and the file is removed. A batch slower than max_poll_interval_ms, on demand.
SLOW_BATCH_ENV = "HUIGONG_SLOW_BATCH_FILE"
_SLOW_BATCH_FILE = os.environ.get(SLOW_BATCH_ENV)


def _slow_batch_seconds(consumer: str) -> float:
    """Seconds `consumer`'s batch is to sleep (see SLOW_BATCH_ENV); 0 almost always. One stat of
    a missing file per batch, and only when the variable is set."""
    if not _SLOW_BATCH_FILE:
        return 0.0
    path = Path(_SLOW_BATCH_FILE)
    try:
        seconds, _, only = path.read_text().strip().partition(" ")
    except OSError:
        return 0.0
    if only and only != consumer:
        return 0.0
    try:
        path.unlink()  # one batch only: another consumer of the process may be here too
    except FileNotFoundError:
        return 0.0
    return float(seconds)


# A consumer that sees a partition's records below its checkpoint, and this many or more records
# behind it, is sought forward to the checkpoint instead of reading its way up (after a restart
# whose Kafka position is older than the checkpoint, say).
SEEK_FORWARD_AFTER = 1000


def in_sequence_from(
    start: int, records: Sequence[RawRecord], items: Sequence[Decoded]
) -> tuple[list[RawRecord], list[Decoded], int, bool]:
    """The records of one partition that continue exactly at `start`, the stored next offset.

    Returns them (and their decoded items), how many lay below `start` (applied already), and
    whether any record at or past `start` was left out: a record beyond a gap, or a batch that
    does not reach back to `start` at all. Our event topics keep every record for ever and are
    written without transactions, so their offsets have no holes: a record past the next expected
    offset means the ones between were delivered and lost on the way (a faust agent's batch
    acknowledged when it crashed, a consumer positioned past the checkpoint), never that they do
    not exist. Such records are left for a consumer sought back to `start`."""
    first = next((i for i, r in enumerate(records) if r.offset == start), -1)
    if first < 0:
        below = sum(1 for r in records if r.offset < start)
        return [], [], below, below < len(records)
    last = first
    expected = start + 1
    while last + 1 < len(records) and records[last + 1].offset == expected:
        last += 1
        expected += 1
    # Outside the run: a copy of a record in or below it (applied), or one past it (left out).
    outside = [r.offset for r in records[:first]] + [r.offset for r in records[last + 1 :]]
    below = sum(1 for offset in outside if offset < expected)
    return list(records[first : last + 1]), list(items[first : last + 1]), below, below < len(outside)


async def apply_in_transaction(
    conn: DbConnection, applier: Applier, prepared: PreparedBatch, *, in_sequence: bool = True
) -> tuple[Outcome, dict[TopicPartition, int]]:
    """`apply_with_checkpoints` inside the caller's transaction (which must commit or roll back
    the whole: the checkpoints and the rows they cover are one unit).

    `in_sequence` (live consumers): a partition's records are applied only as an unbroken run
    from the stored offset on; whatever a batch holds past a hole is not applied, the checkpoint
    stays where the run ends, and the partition is named in `Outcome.resume` with the offset its
    consumer must seek to. The stored offset is thus the only truth about where a consumer
    resumes, whatever Kafka's committed offset says. Replay, which reads a snapshot itself and may
    cut records out on purpose, passes False."""
    name = applier.projection.name
    service = applier.service
    parts = [(tp, records, items) for tp, records, items in prepared if records]
    topics = [tp.topic for tp, _, _ in parts]
    partitions = [tp.partition for tp, _, _ in parts]
    stored: dict[tuple[str, int], int] = {}
    if parts:
        await conn.execute(
            """INSERT INTO checkpoints (consumer, topic, partition, next_offset)
               SELECT $1, k.t, k.p, 0 FROM unnest($2::text[], $3::int[]) AS k(t, p)
               ON CONFLICT DO NOTHING""",
            name,
            topics,
            partitions,
        )
        # Locked in a fixed order, so two consumers sharing partitions during a rebalance wait
        # for each other instead of deadlocking.
        rows = await conn.fetch(
            """SELECT c.topic, c.partition, c.next_offset FROM checkpoints c
               JOIN unnest($2::text[], $3::int[]) AS k(t, p) ON c.topic = k.t AND c.partition = k.p
               WHERE c.consumer = $1
               ORDER BY c.topic, c.partition
               FOR UPDATE OF c""",
            name,
            topics,
            partitions,
        )
        stored = {(r[0], r[1]): r[2] for r in rows}
        if slow := _slow_batch_seconds(name):
            log.warning("batch slowed on purpose (HUIGONG_SLOW_BATCH_FILE)", consumer=name, seconds=slow)
            await asyncio.sleep(slow)
    raws: list[RawRecord] = []
    decoded: list[Decoded] = []
    ends: dict[TopicPartition, int] = {}
    resume: dict[TopicPartition, int] = {}
    for tp, records, items in parts:
        start = stored[(tp.topic, tp.partition)]
        if in_sequence:
            run, run_items, below, left_out = in_sequence_from(start, records, items)
            if below:
                # Below the stored offset: applied already (by us before a crash, or by another
                # consumer during a rebalance). Dropped, never applied twice.
                telemetry.EVENTS_SKIPPED.labels(service, name).inc(below)
            if run:
                raws.extend(run)
                decoded.extend(run_items)
                ends[tp] = run[-1].offset + 1
            if left_out:
                resume[tp] = ends.get(tp, start)
                log.warning(
                    "records out of sequence; the consumer resumes from the checkpoint",
                    consumer=name,
                    topic=tp.topic,
                    partition=tp.partition,
                    expected=start,
                    first=records[0].offset,
                    last=records[-1].offset,
                    resume_at=resume[tp],
                )
            elif not run and records[-1].offset < start - SEEK_FORWARD_AFTER:
                resume[tp] = start
            continue
        # Below the stored offset: applied already. Dropped, never applied twice.
        if records[0].offset >= start:
            raws.extend(records)
            decoded.extend(items)
        else:
            fresh = [i for i, r in enumerate(records) if r.offset >= start]
            telemetry.EVENTS_SKIPPED.labels(service, name).inc(len(records) - len(fresh))
            raws.extend(records[i] for i in fresh)
            decoded.extend(items[i] for i in fresh)
        ends[tp] = max(records[-1].offset + 1, start)
    outcome = await applier.process(conn, raws, decoded)
    outcome.resume = resume
    if ends:
        await conn.execute(
            """UPDATE checkpoints c SET next_offset = k.o, updated_at = now()
               FROM unnest($2::text[], $3::int[], $4::bigint[]) AS k(t, p, o)
               WHERE c.consumer = $1 AND c.topic = k.t AND c.partition = k.p""",
            name,
            [tp.topic for tp in ends],
            [tp.partition for tp in ends],
            list(ends.values()),
        )
    return outcome, ends
