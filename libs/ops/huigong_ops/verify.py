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
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from huigong_events.envelope import RecordedEvent
from huigong_events.reading import decode_event, envelope_of
from huigong_events.topics import Topic

from .common import NullReporter, Reporter, Stopwatch, catalogue_topic
from .scan import open_consumer, partition_ranges, scan

MAX_KEPT_PROBLEMS = 10_000


class Kind(StrEnum):
    INVALID = "invalid_envelope"
    ALTERED = "altered"
    CONFLICT = "conflict"
    BROKEN_LINK = "broken_link"
    GAP = "gap"
    REORDERED = "reordered"
    MISPLACED = "misplaced"
    UNDECODABLE = "undecodable"
    DUPLICATE = "duplicate"

    @property
    def failure(self) -> bool:
        return self is not Kind.DUPLICATE

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
    Kind.DUPLICATE: "重复投递 relay duplicate (info)",
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

    def __init__(self, prefix: str = "", decode_events: bool = False) -> None:
        self.prefix = prefix
        self.decode_events = decode_events
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
    ) -> None:
        self.records += 1
        self.per_topic[topic] += 1
        try:
            record = envelope_of(value, headers)
        except ValueError as exc:
            found = dict(headers)
            subject = found.get("ce_subject", b"").decode("utf-8", "replace") or None
            atype = found.get("ce_aggregatetype", b"").decode("utf-8", "replace") or None
            self._report(Problem(Kind.INVALID, topic, partition, offset, str(exc)[:300], atype, subject))
            return
        self._check_record(topic, partition, offset, key, record)

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
                decode_event(record)
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
        if version <= seen and chain[version - 1] is not None:
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
        if version <= seen:
            self._problem(
                Kind.REORDERED,
                topic,
                partition,
                offset,
                record,
                f"version {version} arrived after version {seen}",
            )
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
            if before is not None and prev != before[:32]:
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
            if after is not None and after[32:] != own:
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

    @property
    def rate(self) -> float:
        return self.records / self.elapsed if self.elapsed > 0 else 0.0

    def to_json(self, limit: int | None = None) -> dict[str, Any]:
        problems = self.problems if not limit else self.problems[:limit]
        return {
            "ok": self.ok,
            "topics": [{"topic": t, "records": n} for t, n in self.topics.items()],
            "missing_topics": self.missing_topics,
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
) -> VerifyReport:
    reporter = reporter or NullReporter()
    names = [t.qualified(prefix) for t in topics]
    checker = ChainChecker(prefix, decode_events)
    async with open_consumer(bootstrap, "huigong-ops-verify") as consumer:
        ranges, missing = await partition_ranges(consumer, names)
        flat = [r for name in names for r in ranges.get(name, [])]
        watch = Stopwatch()  # throughput of the scan itself, connecting excluded
        reporter.start("校验哈希链 verifying", sum(r.records for r in flat))
        try:
            async for _topic, _partition, records in scan(consumer, flat, reporter):
                for r in records:
                    checker.check(r.topic, r.partition, r.offset, r.key, r.value, r.headers or ())
        finally:
            reporter.finish()
    checker.finish()
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
    )
