"""The no-raw-identifiers scan (个人信息扫描): look for ID numbers and mobile numbers in clear in
Kafka topics, PostgreSQL tables and log files.

Two ways to look, both in `huigong_platform.raw_identifiers` (the services refuse personal data
in request headers with the same matchers): `Needles`, the exact raw values a test or an
incident responder knows were sent in, and `Patterns` (no list at hand, `huigong scan-personal`),
any valid ID number or mobile number standing alone. Found values are reported masked, never in
clear.

What is scanned: every topic of the prefix except the districts' inbound topics (`huigong.inbound.*`):
those carry the districts' enrolment commands with raw ID numbers by design. They are the
districts' input, not our storage: only the district (write) and intake (read) may touch them,
ops may only describe them, and they are kept 30 days (`INBOUND_RETENTION_MS`). Everything intake
writes from them, dead letters included, must be clean and is scanned.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from huigong_events.topics import TOPICS, TopicKind
from huigong_platform.raw_identifiers import Matcher, mask

from .common import Reporter
from .replay import quote_ident
from .scan import open_consumer, partition_ranges, scan

SYSTEM_SCHEMAS = ("pg_catalog", "information_schema")


@dataclass(frozen=True)
class Finding:
    where: str  # topic[partition]@offset, schema.table, or file:line
    kind: str
    masked: str


@dataclass
class ScanReport:
    findings: list[Finding] = field(default_factory=list)
    scanned: dict[str, int] = field(default_factory=dict)  # what → records, rows or lines read
    skipped: list[str] = field(default_factory=list)  # inbound topics, with the reason

    @property
    def clean(self) -> bool:
        return not self.findings


def _scan_text(report: ScanReport, matcher: Matcher, where: str, text: str) -> None:
    for kind, value in matcher.find(text):
        report.findings.append(Finding(where, kind, mask(value)))


def _decode(value: bytes | None) -> str:
    return value.decode("utf-8", "replace") if value else ""


def inbound_names(prefix: str) -> set[str]:
    return {t.qualified(prefix) for t in TOPICS if t.kind is TopicKind.INBOUND}


async def scan_topics(
    bootstrap: str,
    prefix: str,
    matcher: Matcher,
    report: ScanReport,
    reporter: Reporter | None = None,
) -> None:
    """Every record (key, value, header names and values) of every topic of the prefix on the
    broker, but the inbound topics, up to their end offsets when the scan starts."""
    inbound = inbound_names(prefix)
    async with open_consumer(bootstrap, "huigong-ops-personal-scan") as consumer:
        names = sorted(n for n in await consumer.topics() if n.startswith(prefix + "huigong."))
        report.skipped.extend(f"{n} (inbound: the districts' commands)" for n in names if n in inbound)
        wanted = [n for n in names if n not in inbound]
        ranges, _ = await partition_ranges(consumer, wanted)
        flat = [r for rs in ranges.values() for r in rs]
        if reporter is not None:
            reporter.start("扫描主题 topics", sum(r.records for r in flat))
        async for topic, partition, records in scan(consumer, flat, reporter):
            report.scanned[topic] = report.scanned.get(topic, 0) + len(records)
            for record in records:
                text = "\n".join(
                    [
                        _decode(record.key),
                        _decode(record.value),
                        *(f"{k}={_decode(v)}" for k, v in record.headers),
                    ]
                )
                _scan_text(report, matcher, f"{topic}[{partition}]@{record.offset}", text)


async def _rows(conn: asyncpg.Connection[asyncpg.Record], schema: str, table: str) -> AsyncIterator[str]:
    async with conn.transaction():
        cursor = conn.cursor(
            f"SELECT t::text FROM {quote_ident(schema)}.{quote_ident(table)} t", prefetch=2000
        )
        async for row in cursor:
            yield str(row[0])


async def scan_tables(dsn: str, matcher: Matcher, report: ScanReport, schemas: Sequence[str] = ()) -> None:
    """Every row, cast to text, of every table of the named schemas (default: every schema of
    the database but PostgreSQL's own)."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            """SELECT schemaname, tablename FROM pg_tables
               WHERE schemaname <> ALL($1::text[]) AND schemaname NOT LIKE 'pg\\_%'
               ORDER BY 1, 2""",
            list(SYSTEM_SCHEMAS),
        )
        for schema, table in rows:
            if schemas and schema not in schemas:
                continue
            where = f"{schema}.{table}"
            count = 0
            async for text in _rows(conn, schema, table):
                count += 1
                _scan_text(report, matcher, where, text)
            report.scanned[where] = count
    finally:
        await conn.close()


def scan_files(
    paths: Iterable[Path], matcher: Matcher, report: ScanReport, since: Mapping[Path, int] | None = None
) -> None:
    """Log files (or any text), line by line; from the byte offset `since` gives for a file (what
    was appended after that point), else from the start."""
    for path in paths:
        count = 0
        with path.open("rb") as raw:
            raw.seek((since or {}).get(path, 0))
            for number, line in enumerate(raw, 1):
                count += 1
                _scan_text(report, matcher, f"{path}:+{number}", line.decode("utf-8", "replace"))
        report.scanned[str(path)] = count
