"""`huigong audit`: the complete history of one aggregate, across every event topic.

An aggregate is named by its id: an application id, a unit id, a certificate's unit, a member's
keyed hash (the member key is the member aggregate's id). Every event topic is read from offset 0,
and three kinds of events are listed, in recorded order:
- `aggregate`: events of the aggregate itself (of the `--type` given, or of any type);
- `same-id`:   events of another aggregate type with the same id: review keeps its decisions in an
  aggregate whose id is the application id, so `audit <application id>` shows intake's and
  review's events together;
- `data.<field>`: events of other aggregates whose data names the id, e.g. a unit registered
  from the application (`data.application_id`), a finding about it, or an enrolment carrying the
  member key (`data.member_key`).

For each: both times, type and schema version, aggregate and version, actor, source, correlation
and causation ids, and what the event says: its data decoded and upcast to the current version
(`huigong_events.upcasting.decode`), with sealed personal data left out. The same event published
twice is listed once, with the number of copies.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from huigong_events.authenticity import NotAuthentic, RecordKeys
from huigong_events.envelope import RecordedEvent, canonical_time
from huigong_events.reading import read_envelope, read_event
from huigong_events.topics import Topic

from .common import NullReporter, Reporter, Stopwatch, mask_sealed
from .scan import open_consumer, partition_ranges, scan

LINK_AGGREGATE = "aggregate"
LINK_SAME_ID = "same-id"


@dataclass
class AuditEntry:
    link: str
    topic: str
    partition: int
    offset: int
    event_id: str
    type: str
    schema_version: int
    current_version: int | None
    aggregate_type: str
    aggregate_id: str
    aggregate_version: int
    occurred_at: datetime
    recorded_at: datetime
    actor: str
    source: str
    correlation_id: str
    causation_id: str | None
    hash: str
    hash_valid: bool
    data: dict[str, Any]
    decode_error: str | None = None
    copies: int = 1
    # Why the record is not authentic (no valid tag of its topic's owner), or None; not checked
    # (None too) without the services' event keys.
    not_authentic: str | None = None

    @property
    def upcast(self) -> bool:
        return self.current_version is not None and self.current_version != self.schema_version

    def to_json(self) -> dict[str, Any]:
        return {
            "recorded_at": canonical_time(self.recorded_at),
            "occurred_at": canonical_time(self.occurred_at),
            "type": self.type,
            "schema_version": self.schema_version,
            "current_schema_version": self.current_version,
            "aggregate_type": self.aggregate_type,
            "aggregate_id": self.aggregate_id,
            "aggregate_version": self.aggregate_version,
            "actor": self.actor,
            "source": self.source,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "event_id": self.event_id,
            "link": self.link,
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "hash": self.hash,
            "hash_valid": self.hash_valid,
            "authentic": self.not_authentic is None,
            "not_authentic": self.not_authentic,
            "copies": self.copies,
            "decode_error": self.decode_error,
            "data": self.data,
        }


def find_mention(value: Any, target: str, path: str = "data") -> str | None:
    """The path of the first field whose value is exactly `target`, depth first."""
    if isinstance(value, str):
        return path if value == target else None
    if isinstance(value, dict):
        for k, v in value.items():
            found = find_mention(v, target, f"{path}.{k}")
            if found:
                return found
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found = find_mention(v, target, f"{path}[{i}]")
            if found:
                return found
    return None


def link_of(record: RecordedEvent, target: str, types: frozenset[str] | None) -> str | None:
    """How `record` relates to the audited aggregate, or None when it does not."""
    if record.aggregate_id == target:
        if types is None or record.aggregate_type in types:
            return LINK_AGGREGATE
        return LINK_SAME_ID
    return find_mention(record.data, target)


def entry_of(record: RecordedEvent, link: str, topic: str, partition: int, offset: int) -> AuditEntry:
    current: int | None = None
    error: str | None = None
    try:
        event = read_event(record)
        current = type(event).schema_version
        data = event.to_data()
    except Exception as exc:  # shown as recorded, with the reason it could not be decoded
        data = record.data
        error = f"{type(exc).__name__}: {exc}"[:300]
    return AuditEntry(
        link=link,
        topic=topic,
        partition=partition,
        offset=offset,
        event_id=str(record.id),
        type=record.type,
        schema_version=record.schema_version,
        current_version=current,
        aggregate_type=record.aggregate_type,
        aggregate_id=record.aggregate_id,
        aggregate_version=record.aggregate_version,
        occurred_at=record.occurred_at,
        recorded_at=record.recorded_at,
        actor=record.actor,
        source=record.source,
        correlation_id=record.correlation_id,
        causation_id=record.causation_id,
        hash=record.hash,
        hash_valid=record.hash_is_valid(),
        data=mask_sealed(data),
        decode_error=error,
    )


class AuditCollector:
    """Feed records (`add`); `entries` lists the matches in order. Pure: no I/O."""

    def __init__(
        self, target: str, types: Sequence[str] = (), related: bool = True, keys: RecordKeys | None = None
    ) -> None:
        self.target = target
        self.keys = keys
        self.types = frozenset(types) if types else None
        self.related = related
        self._needle = target.encode()
        self._by_event: dict[tuple[str, str], AuditEntry] = {}
        self.records = 0
        self.invalid = 0

    def add(
        self,
        topic: str,
        partition: int,
        offset: int,
        value: bytes | None,
        headers: Sequence[tuple[str, bytes]],
    ) -> None:
        self.records += 1
        # Cheap test first: most records neither have the id as subject nor mention it.
        subject = next((v for k, v in headers if k == "ce_subject"), None)
        if subject != self._needle and not (self.related and value and self._needle in value):
            return
        try:
            record = read_envelope(value, headers)
        except ValueError:
            self.invalid += 1
            return
        link = link_of(record, self.target, self.types)
        if link is None or (not self.related and link.startswith("data")):
            return
        forged: str | None = None
        if self.keys is not None:
            try:
                self.keys.check(topic, value, headers)
            except NotAuthentic as exc:
                forged = str(exc)
        # A forged copy is listed apart from the genuine event it imitates, never merged into it.
        key = (str(record.id), record.hash if forged is None else f"forged@{topic}:{partition}:{offset}")
        if key in self._by_event:
            self._by_event[key].copies += 1
            return
        entry = entry_of(record, link, topic, partition, offset)
        entry.not_authentic = forged
        self._by_event[key] = entry

    @property
    def entries(self) -> list[AuditEntry]:
        return sorted(
            self._by_event.values(),
            key=lambda e: (e.recorded_at, e.aggregate_type, e.aggregate_id, e.aggregate_version, e.offset),
        )


@dataclass
class AuditReport:
    target: str
    entries: list[AuditEntry]
    records: int
    elapsed: float
    missing_topics: list[str]

    @property
    def rate(self) -> float:
        return self.records / self.elapsed if self.elapsed > 0 else 0.0


async def audit(
    bootstrap: str,
    prefix: str,
    topics: Sequence[Topic],
    target: str,
    *,
    types: Sequence[str] = (),
    related: bool = True,
    reporter: Reporter | None = None,
    keys: RecordKeys | None = None,
) -> AuditReport:
    reporter = reporter or NullReporter()
    names = [t.qualified(prefix) for t in topics]
    collector = AuditCollector(target, types, related, keys)
    async with open_consumer(bootstrap, "huigong-ops-audit") as consumer:
        ranges, missing = await partition_ranges(consumer, names)
        flat = [r for name in names for r in ranges.get(name, [])]
        watch = Stopwatch()  # throughput of the scan itself, connecting excluded
        reporter.start("查找事件 searching", sum(r.records for r in flat))
        try:
            async for _topic, _partition, records in scan(consumer, flat, reporter):
                for r in records:
                    collector.add(r.topic, r.partition, r.offset, r.value, r.headers or ())
        finally:
            reporter.finish()
    return AuditReport(target, collector.entries, collector.records, watch.elapsed, missing)


# --- output formats ------------------------------------------------------------------------

CSV_COLUMNS = (
    "recorded_at",
    "occurred_at",
    "type",
    "schema_version",
    "aggregate_type",
    "aggregate_id",
    "aggregate_version",
    "actor",
    "source",
    "correlation_id",
    "causation_id",
    "event_id",
    "link",
    "topic",
    "partition",
    "offset",
    "hash_valid",
    "authentic",
    "copies",
    "data",
)


def jsonl_lines(entries: Sequence[AuditEntry]) -> Iterator[str]:
    for entry in entries:
        yield orjson.dumps(entry.to_json()).decode()


def csv_text(entries: Sequence[AuditEntry]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for entry in entries:
        row = entry.to_json()
        row["data"] = orjson.dumps(row["data"], option=orjson.OPT_SORT_KEYS).decode()
        writer.writerow(["" if row[c] is None else row[c] for c in CSV_COLUMNS])
    return out.getvalue()


def summarise(data: Any, skip: str | None = None, width: int = 160) -> str:
    """The data as `key=value` pairs in one line, for the table."""
    if not isinstance(data, dict):
        return str(data)[:width]
    parts = []
    for k, v in data.items():
        if k == skip or v is None or v == [] or v == {}:
            continue
        text = v if isinstance(v, str) else orjson.dumps(v).decode()
        parts.append(f"{k}={text}")
    line = " ".join(parts)
    return line if len(line) <= width or width <= 0 else line[: width - 1] + "…"
