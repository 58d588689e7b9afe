"""`huigong verify`: walk every aggregate's hash chain across the event topics.

Each event carries the SHA-256 of its own canonical envelope and the hash of the previous event of
its aggregate (`huigong_events.envelope`). Read in topic order, every aggregate must show:
- each record's hash recomputes from its content (else the record was altered: `altered`);
- versions 1, 2, … n, none missing (`gap`) and none arriving after a later one (`reordered`);
- version 1 names no predecessor, and version n's prev_hash is the hash of version n−1
  (`broken_link`: an event was replaced by another with a recomputed hash, or dropped);
- one event per version: the same version again with the same hash is a harmless relay
  duplicate (`duplicate`, info only); with a different hash it is a forgery or a conflicting
  writer (`conflict`);
- records on the topic that carry no valid envelope (`invalid_envelope`), records of an aggregate
  type the topic does not carry or keyed by something other than the aggregate id (`misplaced`:
  their order is not guaranteed), and, with `--decode`, events no upcaster and model can read
  (`undecodable`: a projection would dead-letter them).

Per aggregate only the 32-byte hashes are kept (with a 16-byte digest of the aggregate's name as
the key), so a million single-event aggregates fit in a few hundred megabytes.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from huigong_events.authenticity import NotAuthentic, RecordKeys
from huigong_events.checkpoints import GENESIS, Checkpoint, trusted
from huigong_events.envelope import RecordedEvent, to_kafka
from huigong_events.reading import read_envelope, read_event
from huigong_events.topics import Topic, checkpoint_topic, topic_for_aggregate
from huigong_platform.checkpoints import checkpoint_of
from huigong_platform.eventstore import row_to_event

from .common import NullReporter, Reporter, Stopwatch, catalogue_topic, check_service
from .scan import PartitionRange, open_consumer, partition_ranges, scan

MAX_KEPT_PROBLEMS = 10_000
_BEFORE_WINDOW = b""  # a version before --since: not read, neither missing nor checked


class Kind(StrEnum):
    INVALID = "invalid_envelope"
    ALTERED = "altered"
    CONFLICT = "conflict"
    BROKEN_LINK = "broken_link"
    GAP = "gap"
    REORDERED = "reordered"
    MISPLACED = "misplaced"
    UNDECODABLE = "undecodable"
    FORGED = "forged"
    COPIES_DIFFER = "copies_differ"
    MISSING_ON_KAFKA = "missing_on_kafka"
    MISSING_IN_STORE = "missing_in_store"
    CHECKPOINT = "checkpoint_mismatch"
    DUPLICATE = "duplicate"
    UNPUBLISHED = "unpublished"

    @property
    def failure(self) -> bool:
        return self not in (Kind.DUPLICATE, Kind.UNPUBLISHED)

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    Kind.INVALID: "无效信封 invalid envelope",
    Kind.ALTERED: "内容被篡改 altered (hash does not recompute)",
    Kind.CONFLICT: "同版本不同事件 conflict (same version, different event)",
    Kind.BROKEN_LINK: "哈希链断裂 broken link (prev_hash)",
    Kind.GAP: "版本缺失 gap",
    Kind.REORDERED: "顺序错乱 reordered",
    Kind.MISPLACED: "主题或键不符 misplaced (topic or key)",
    Kind.UNDECODABLE: "无法解码 undecodable",
    Kind.FORGED: "伪造（认证标签无效）forged (not authentic: no valid tag of the owning service)",
    Kind.COPIES_DIFFER: "两份不一致 the store's and Kafka's copies differ",
    Kind.MISSING_ON_KAFKA: "Kafka 缺失 in the event store, missing on Kafka",
    Kind.MISSING_IN_STORE: "事件库缺失 on Kafka, missing in the event store",
    Kind.CHECKPOINT: "检查点不符 a signed checkpoint no longer matches (or is not trusted)",
    Kind.DUPLICATE: "重复投递 relay duplicate (info)",
    Kind.UNPUBLISHED: "尚未发布 in the store, not yet published (info)",
}


@dataclass(frozen=True)
class Problem:
    kind: Kind
    topic: str
    partition: int
    offset: int | None
    detail: str
    aggregate_type: str | None = None
    aggregate_id: str | None = None
    version: int | None = None
    event_id: str | None = None

    @property
    def failure(self) -> bool:
        return self.kind.failure

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "kind": self.kind.value, "failure": self.failure}


@dataclass
class _Gap:
    aggregate_type: str
    aggregate_id: str
    topic: str
    partition: int
    offset: int


def _aggregate_key(aggregate_type: str, aggregate_id: str) -> bytes:
    return hashlib.blake2b(f"{aggregate_type}\0{aggregate_id}".encode(), digest_size=16).digest()


class ChainChecker:
    """Feed records in topic order (`check`), then call `finish`. Pure: no I/O."""

    def __init__(
        self,
        prefix: str = "",
        decode_events: bool = False,
        keys: RecordKeys | None = None,
        windowed: bool = False,
    ) -> None:
        self.prefix = prefix
        self.decode_events = decode_events
        # Each record's tag is checked when keys are given; a record without a valid one is
        # `forged` and kept out of the chains (its hash proves nothing).
        self.keys = keys
        # --since: an aggregate's first event in the window need not be version 1.
        self.windowed = windowed
        # Authentic events by id (16 bytes): (hash, topic, partition, offset), to compare with
        # the event stores.
        self.seen: dict[bytes, tuple[bytes, str, int, int]] = {}
        # Per aggregate, index version-1: its hash (32 bytes) + prev_hash (32 bytes, or none for
        # version 1); None for a version not seen (yet).
        self._chains: dict[bytes, list[bytes | None]] = {}
        self._suspects: dict[bytes, _Gap] = {}
        self.records = 0
        self.per_topic: Counter[str] = Counter()
        self.counts: Counter[Kind] = Counter()
        self.problems: list[Problem] = []

    @property
    def aggregates(self) -> int:
        return len(self._chains)

    @property
    def failures(self) -> int:
        return sum(n for kind, n in self.counts.items() if kind.failure)

    @property
    def ok(self) -> bool:
        return self.failures == 0

    def _report(self, problem: Problem) -> None:
        self.counts[problem.kind] += 1
        if len(self.problems) < MAX_KEPT_PROBLEMS:
            self.problems.append(problem)

    def check(
        self,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[tuple[str, bytes]],
        owner_topic: str | None = None,
    ) -> None:
        """One record in order. `owner_topic`: the topic whose owner must have tagged it, when
        `topic` only names where it was found (an event store)."""
        self.records += 1
        self.per_topic[topic] += 1
        forged: str | None = None
        if self.keys is not None:
            try:
                self.keys.check(owner_topic or topic, value, headers)
            except NotAuthentic as exc:
                forged = str(exc)
        try:
            record = read_envelope(value, headers)
        except ValueError as exc:
            found = dict(headers)
            subject = found.get("ce_subject", b"").decode("utf-8", "replace") or None
            atype = found.get("ce_aggregatetype", b"").decode("utf-8", "replace") or None
            if forged is not None:
                self._report(Problem(Kind.FORGED, topic, partition, offset, forged, atype, subject))
            self._report(Problem(Kind.INVALID, topic, partition, offset, str(exc)[:300], atype, subject))
            return
        if forged is not None:
            self._problem(Kind.FORGED, topic, partition, offset, record, forged)
            if not record.hash_is_valid():
                self._problem(Kind.ALTERED, topic, partition, offset, record, "content does not hash")
            return
        self._check_record(topic, partition, offset, key, record)
        if self.keys is not None:
            self.seen[record.id.bytes] = (bytes.fromhex(record.hash), topic, partition, offset)

    def _problem(
        self, kind: Kind, topic: str, partition: int, offset: int | None, record: RecordedEvent, detail: str
    ) -> None:
        self._report(
            Problem(
                kind,
                topic,
                partition,
                offset,
                detail,
                record.aggregate_type,
                record.aggregate_id,
                record.aggregate_version,
                str(record.id),
            )
        )

    def _check_record(
        self, topic: str, partition: int, offset: int, key: bytes | None, record: RecordedEvent
    ) -> None:
        home: Topic | None = catalogue_topic(topic, self.prefix)
        if home is not None and home.aggregates and record.aggregate_type not in home.aggregates:
            self._problem(
                Kind.MISPLACED,
                topic,
                partition,
                offset,
                record,
                f"aggregate type {record.aggregate_type!r} does not belong on {home.name}",
            )
        elif key is not None and key != record.aggregate_id.encode():
            self._problem(
                Kind.MISPLACED, topic, partition, offset, record, "record key is not the aggregate id"
            )
        if self.decode_events:
            try:
                read_event(record)
            except Exception as exc:
                self._problem(Kind.UNDECODABLE, topic, partition, offset, record, str(exc)[:300])

        altered = not record.hash_is_valid()
        if altered:
            self._problem(
                Kind.ALTERED,
                topic,
                partition,
                offset,
                record,
                f"content hashes to {record.computed_hash()[:16]}…, the record claims {record.hash[:16]}…",
            )
        own = bytes.fromhex(record.hash)
        prev = bytes.fromhex(record.prev_hash) if record.prev_hash else b""
        aggregate = _aggregate_key(record.aggregate_type, record.aggregate_id)
        chain = self._chains.get(aggregate)
        if chain is None:
            chain = self._chains[aggregate] = []
        version = record.aggregate_version
        seen = len(chain)
        if version <= seen and chain[version - 1]:
            earlier = chain[version - 1]
            assert earlier is not None
            if earlier[:32] == own:
                if not altered:
                    self._problem(
                        Kind.DUPLICATE, topic, partition, offset, record, "same event published again"
                    )
            elif not altered:
                self._problem(
                    Kind.CONFLICT,
                    topic,
                    partition,
                    offset,
                    record,
                    f"version {version} seen before with hash {earlier[:32].hex()[:16]}…, "
                    f"now {record.hash[:16]}…",
                )
            return
        if version <= seen and chain[version - 1] == _BEFORE_WINDOW:
            pass  # an older event arriving late from before the window's first one
        elif version <= seen:
            self._problem(
                Kind.REORDERED,
                topic,
                partition,
                offset,
                record,
                f"version {version} arrived after version {seen}",
            )
        elif version > seen + 1 and self.windowed and not seen:
            chain.extend([_BEFORE_WINDOW] * (version - 1))
            chain.append(None)
        elif version > seen + 1:
            chain.extend([None] * (version - 1 - seen))
            chain.append(None)
            self._suspects.setdefault(
                aggregate, _Gap(record.aggregate_type, record.aggregate_id, topic, partition, offset)
            )
        else:
            chain.append(None)
        chain[version - 1] = own + prev

        if version == 1:
            if prev:
                self._problem(
                    Kind.BROKEN_LINK, topic, partition, offset, record, "version 1 names a predecessor"
                )
        else:
            before = chain[version - 2]
            if before and prev != before[:32]:
                self._problem(
                    Kind.BROKEN_LINK,
                    topic,
                    partition,
                    offset,
                    record,
                    f"prev_hash {(record.prev_hash or 'none')[:16]}… is not the hash of version "
                    f"{version - 1} ({before[:32].hex()[:16]}…)",
                )
        if version < len(chain):
            after = chain[version]
            if after and after[32:] != own:
                self._problem(
                    Kind.BROKEN_LINK,
                    topic,
                    partition,
                    offset,
                    record,
                    f"version {version + 1} does not name this event as its predecessor",
                )

    def finish(self) -> None:
        """Report the versions still missing once everything was read."""
        for aggregate, gap in self._suspects.items():
            chain = self._chains[aggregate]
            missing = [i + 1 for i, entry in enumerate(chain) if entry is None]
            if missing:
                shown = ", ".join(map(str, missing[:10])) + (" …" if len(missing) > 10 else "")
                self._report(
                    Problem(
                        Kind.GAP,
                        gap.topic,
                        gap.partition,
                        gap.offset,
                        f"missing version(s) {shown} of {len(chain)}",
                        gap.aggregate_type,
                        gap.aggregate_id,
                        missing[0],
                    )
                )
        self._suspects.clear()


class CheckpointAudit:
    """One service's signed checkpoints (`huigong_events.checkpoints`) against what they sign:
    each signature under a published public key, the checkpoints' own chain (sequence and
    `previous`), the stored copies against the published (Kafka) ones, and, fed the store's
    events in order (`feed`), the fold of their hashes at each checkpoint's position."""

    def __init__(
        self,
        service: str,
        stored: Sequence[Checkpoint] | None,
        published: Mapping[int, Checkpoint],
        public_keys: Mapping[str, str],
        report: Callable[[Problem], None],
    ) -> None:
        self.service = service
        self._report = report
        self._label = f"{service}.chain_checkpoints"
        self._digest = GENESIS
        self._count = 0
        copies = stored if stored is not None else sorted(published.values(), key=lambda c: c.sequence)
        previous: Checkpoint | None = None
        for cp in copies:
            why = trusted(cp, public_keys)
            if why is not None:
                self._fail(cp, why)
            if cp.sequence != (previous.sequence + 1 if previous else 1):
                self._fail(cp, f"follows checkpoint {previous.sequence if previous else 0}: one is missing")
            elif cp.previous != (previous.digest if previous else None):
                self._fail(cp, "does not name the previous checkpoint's digest")
            previous = cp
            if stored is not None:
                copy = published.get(cp.sequence)
                if copy is None and published:
                    self._fail(cp, "not on the checkpoints topic")
                elif copy is not None and copy != cp:
                    self._fail(cp, "the stored checkpoint differs from the one published")
        if stored is not None:
            for sequence, copy in published.items():
                if sequence not in {c.sequence for c in stored}:
                    self._fail(copy, "published, but no longer in the store")
        self._pending = sorted(stored or (), key=lambda c: c.position)

    def _fail(self, cp: Checkpoint, detail: str) -> None:
        self._report(
            Problem(
                Kind.CHECKPOINT, self._label, 0, cp.sequence, detail, "checkpoint", self.service, cp.sequence
            )
        )

    def feed(self, position: int, digest_hex: str) -> None:
        while self._pending and position > self._pending[0].position:
            self._compare(self._pending.pop(0))
        self._digest = hashlib.sha256(self._digest + bytes.fromhex(digest_hex)).digest()
        self._count += 1

    def finish(self) -> None:
        while self._pending:
            self._compare(self._pending.pop(0))

    def _compare(self, cp: Checkpoint) -> None:
        if self._count != cp.events or self._digest.hex() != cp.digest:
            self._fail(
                cp,
                f"the store's {self._count:,} events up to position {cp.position} fold to "
                f"{self._digest.hex()[:16]}…, the signed checkpoint says {cp.events:,} to {cp.digest[:16]}…",
            )


@dataclass
class VerifyReport:
    topics: dict[str, int]  # records read per topic
    missing_topics: list[str]
    records: int
    aggregates: int
    counts: dict[str, int]
    problems: list[Problem]
    elapsed: float
    ok: bool
    partitions: int = 0
    info: dict[str, int] = field(default_factory=dict)
    stores: dict[str, int] = field(default_factory=dict)  # rows read per service's event store

    @property
    def rate(self) -> float:
        return self.records / self.elapsed if self.elapsed > 0 else 0.0

    def to_json(self, limit: int | None = None) -> dict[str, Any]:
        problems = self.problems if not limit else self.problems[:limit]
        return {
            "ok": self.ok,
            "topics": [{"topic": t, "records": n} for t, n in self.topics.items()],
            "missing_topics": self.missing_topics,
            "stores": [{"service": k, "events": n} for k, n in self.stores.items()],
            "partitions": self.partitions,
            "records": self.records,
            "aggregates": self.aggregates,
            "failures": {k: n for k, n in self.counts.items() if Kind(k).failure},
            "info": {k: n for k, n in self.counts.items() if not Kind(k).failure},
            "problems": [p.to_json() for p in problems],
            "problems_total": sum(self.counts.values()),
            "elapsed_s": round(self.elapsed, 3),
            "records_per_s": round(self.rate, 1),
        }


async def verify(
    bootstrap: str,
    prefix: str,
    topics: Sequence[Topic],
    *,
    decode_events: bool = False,
    reporter: Reporter | None = None,
    keys: RecordKeys | None = None,
    dsn: str | None = None,
    since: datetime | None = None,
    public_keys: Mapping[str, str] | None = None,
) -> VerifyReport:
    """Check the topics' chains and, with `keys`, every record's tag; with `dsn` (an admin DSN)
    also each owning service's event store, its own chains and tags, and the two copies against
    each other. `since`: only what was recorded from then on (Kafka from that time's offsets).
    The services' signed checkpoints are checked under `public_keys` (key id → hex), and, with
    the stores, against the events they sign."""
    reporter = reporter or NullReporter()
    names = [t.qualified(prefix) for t in topics]
    checker = ChainChecker(prefix, decode_events, keys, windowed=since is not None)
    async with open_consumer(bootstrap, "huigong-ops-verify") as consumer:
        ranges, missing = await partition_ranges(consumer, names)
        flat = [r for name in names for r in ranges.get(name, [])]
        if since is not None:
            flat = await _from_time(consumer, flat, since)
        watch = Stopwatch()  # throughput of the scan itself, connecting excluded
        reporter.start("校验哈希链 verifying", sum(r.records for r in flat))
        try:
            async for _topic, _partition, records in scan(consumer, flat, reporter):
                for r in records:
                    checker.check(r.topic, r.partition, r.offset, r.key, r.value, r.headers or ())
        finally:
            reporter.finish()
        owners = sorted({t.owner for t in topics})
        published = await read_checkpoints(consumer, owners, prefix, checker._report)
    checker.finish()
    stores: dict[str, int] = {}
    trusted_keys = public_keys or {}
    if dsn is not None:
        if keys is None:
            raise ValueError("comparing with the event stores needs the services' event keys")
        stores = await compare_stores(
            dsn, owners, set(names), prefix, checker, keys, since, reporter, published, trusted_keys
        )
    else:
        for service in owners:
            CheckpointAudit(service, None, published.get(service, {}), trusted_keys, checker._report)
    problems = sorted(checker.problems, key=lambda p: not p.failure)  # failures first, stable
    missing_failure = bool(missing)
    return VerifyReport(
        topics={name: checker.per_topic.get(name, 0) for name in names if name not in missing},
        missing_topics=missing,
        records=checker.records,
        aggregates=checker.aggregates,
        counts={k.value: n for k, n in checker.counts.items()},
        problems=problems,
        elapsed=watch.elapsed,
        ok=checker.ok and not missing_failure,
        partitions=len(flat),
        stores=stores,
    )


async def _from_time(
    consumer: AIOKafkaConsumer, ranges: list[PartitionRange], since: datetime
) -> list[PartitionRange]:
    """Each partition from its first record at or after `since` (Kafka's record timestamps)."""
    stamp = int(since.timestamp() * 1000)
    found = await consumer.offsets_for_times({TopicPartition(r.topic, r.partition): stamp for r in ranges})
    start: list[PartitionRange] = []
    for r in ranges:
        at = found.get(TopicPartition(r.topic, r.partition))
        start.append(PartitionRange(r.topic, r.partition, r.end if at is None else at.offset, r.end))
    return start


# Records reach Kafka a little after they are recorded: a store read from `since` less this
# finds the events a Kafka read from `since` holds.
_RELAY_SLACK = timedelta(hours=1)


async def compare_stores(
    dsn: str,
    services: Sequence[str],
    topics: Set[str],
    prefix: str,
    checker: ChainChecker,
    keys: RecordKeys,
    since: datetime | None,
    reporter: Reporter,
    published: Mapping[str, Mapping[int, Checkpoint]],
    public_keys: Mapping[str, str],
) -> dict[str, int]:
    """Read each service's event store in its order: every row's tag and chain (as the topics'
    are checked, each store a chain of its own), then the row against Kafka's copy by event id:
    `copies_differ`, `missing_on_kafka` (published, yet not on the topic), `unpublished` (info);
    what the topics hold that no store row matches is `missing_in_store`. Returns rows read
    per service."""
    kafka = checker.seen
    counts: dict[str, int] = {}
    conn = await asyncpg.connect(dsn)
    try:
        for service in services:
            schema = check_service(service)
            store = ChainChecker(prefix, checker.decode_events, keys, windowed=since is not None)
            where = "" if since is None else "WHERE e.recorded_at >= $1"
            args: list[Any] = [] if since is None else [since - _RELAY_SLACK]
            total = await conn.fetchval(f"SELECT count(*) FROM {schema}.events e {where}", *args)
            reporter.start(f"核对事件库 comparing {service}'s event store", total)
            label = f"{service}.events"
            rows = 0
            stored: list[Checkpoint] = []
            if await conn.fetchval("SELECT to_regclass($1)", f"{schema}.chain_checkpoints"):
                stored = [
                    checkpoint_of(service, r)
                    for r in await conn.fetch(f"SELECT * FROM {schema}.chain_checkpoints ORDER BY sequence")
                ]
            audit = CheckpointAudit(service, stored, published.get(service, {}), public_keys, store._report)
            async with conn.transaction(readonly=True):
                cursor = conn.cursor(
                    f"""SELECT e.*, o.published_at, o.topic AS outbox_topic,
                        o.position IS NOT NULL AS in_outbox
                        FROM {schema}.events e LEFT JOIN {schema}.outbox o USING (position)
                        {where} ORDER BY e.position""",
                    *args,
                    prefetch=2000,
                )
                async for row in cursor:
                    rows += 1
                    if rows % 2000 == 0:
                        reporter.advance(2000)
                    if since is None:  # the fold needs every event from the first
                        audit.feed(row["position"], row["hash"])
                    event = row_to_event(row)
                    topic = row["outbox_topic"] or topic_for_aggregate(event.aggregate_type).qualified(prefix)
                    if topic not in topics:
                        continue  # bound for a topic not verified (another prefix, --topic)
                    key, value, headers = to_kafka(event)
                    store.check(label, 0, row["position"], key, value, headers, owner_topic=topic)
                    copy = kafka.pop(event.id.bytes, None)
                    if copy is not None:
                        if copy[0].hex() != event.hash:
                            store._problem(
                                Kind.COPIES_DIFFER,
                                label,
                                0,
                                row["position"],
                                event,
                                f"Kafka's copy ({copy[1]}[{copy[2]}]@{copy[3]}) hashes to "
                                f"{copy[0].hex()[:16]}…, the store's to {event.hash[:16]}…",
                            )
                    elif row["published_at"] is not None or not row["in_outbox"]:
                        if since is None or event.recorded_at >= since:
                            store._problem(
                                Kind.MISSING_ON_KAFKA,
                                label,
                                0,
                                row["position"],
                                event,
                                f"published to {topic}, not found there",
                            )
                    else:
                        store._problem(Kind.UNPUBLISHED, label, 0, row["position"], event, "in the outbox")
            store.finish()
            if since is None:
                audit.finish()
            reporter.finish()
            counts[service] = rows
            for kind, n in store.counts.items():
                checker.counts[kind] += n
            checker.problems.extend(store.problems[: max(MAX_KEPT_PROBLEMS - len(checker.problems), 0)])
    finally:
        await conn.close()
    for event_id, (digest, topic, partition, offset) in kafka.items():
        if topic in topics:
            checker._report(
                Problem(
                    Kind.MISSING_IN_STORE,
                    topic,
                    partition,
                    offset,
                    f"event {UUID(bytes=event_id)} (hash {digest.hex()[:16]}…) is in no event store",
                    event_id=str(UUID(bytes=event_id)),
                )
            )
    return counts


async def read_checkpoints(
    consumer: AIOKafkaConsumer, services: Sequence[str], prefix: str, report: Callable[[Problem], None]
) -> dict[str, dict[int, Checkpoint]]:
    """The published checkpoints of each service, by sequence, from its checkpoints topic."""
    names = [checkpoint_topic(s).qualified(prefix) for s in services]
    ranges, _missing = await partition_ranges(consumer, names)
    found: dict[str, dict[int, Checkpoint]] = {s: {} for s in services}
    flat = [r for name in names for r in ranges.get(name, [])]
    async for topic, partition, records in scan(consumer, flat):
        for r in records:
            try:
                cp = Checkpoint.model_validate_json(r.value or b"")
            except ValueError as exc:
                report(Problem(Kind.CHECKPOINT, topic, partition, r.offset, f"not a checkpoint: {exc}"[:300]))
                continue
            found.setdefault(cp.service, {})[cp.sequence] = cp
    return found
