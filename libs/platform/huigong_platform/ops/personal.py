"""The no-raw-identifiers scan (个人信息扫描): look for ID numbers and mobile numbers in clear in
Kafka topics, PostgreSQL tables and log files.

Two ways to look:

- `Needles`: the exact raw values a test (or an incident responder) knows were sent in. Every run
  of 11 or more digits (an ID number may end in X) is cut into every window of 11 and 18
  characters and each window is looked up, so a number is found wherever it sits, also inside a
  longer run of digits.
- `Patterns` (no list at hand, `huigong scan-personal`): a GB 11643 ID number with a correct check
  character or a mainland mobile number, standing alone (not inside a longer run of letters and
  digits, so hashes, base64 ciphertext and hex never match).

Found values are reported masked (first three and last two characters), never in clear.

What is scanned: every topic of the prefix except the districts' inbound topics (`huigong.inbound.*`):
those carry the districts' enrolment commands with raw ID numbers by design. They are the
districts' input, not our storage: only the district (write) and intake (read) may touch them,
ops may only describe them, and they are kept 30 days (`INBOUND_RETENTION_MS`). Everything intake
writes from them, dead letters included, must be clean and is scanned.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Protocol

import asyncpg

from huigong_events.topics import TOPICS, TopicKind

from .common import Reporter
from .replay import quote_ident
from .scan import open_consumer, partition_ranges, scan

_DIGIT_RUN = re.compile(r"[0-9]{11,}[Xx]?")
_ALONE_ID = re.compile(r"(?<![0-9A-Za-z])[1-9][0-9]{16}[0-9Xx](?![0-9A-Za-z])")
_ALONE_MOBILE = re.compile(r"(?<![0-9A-Za-z])1[3-9][0-9]{9}(?![0-9A-Za-z])")
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
SYSTEM_SCHEMAS = ("pg_catalog", "information_schema")
# GB/T 2260 province codes: the first two digits of every resident ID number. Together with a
# real birth date and the check character they keep credit codes and counters from matching.
_PROVINCES = frozenset(
    str(code)
    for codes in (range(11, 16), range(21, 24), range(31, 38), range(41, 47), range(50, 55), range(61, 66))
    for code in codes
) | {"71", "81", "82"}


def _id_check_char(first17: str) -> str:
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def mask(value: str) -> str:
    return f"{value[:3]}{'*' * (len(value) - 5)}{value[-2:]}"


class Matcher(Protocol):
    def find(self, text: str) -> Iterator[tuple[str, str]]:
        """(kind, raw value) of every identifier in the text: kind is `id_number` or `phone`."""
        ...


@dataclass(frozen=True)
class Needles:
    id_numbers: frozenset[str]
    phones: frozenset[str]

    @classmethod
    def of(cls, id_numbers: Iterable[str], phones: Iterable[str]) -> Needles:
        return cls(frozenset(i.upper() for i in id_numbers), frozenset(phones))

    def find(self, text: str) -> Iterator[tuple[str, str]]:
        for match in _DIGIT_RUN.finditer(text):
            run = match.group().upper()
            for i in range(len(run) - 10):
                if run[i : i + 11] in self.phones:
                    yield "phone", run[i : i + 11]
                if i + 18 <= len(run) and run[i : i + 18] in self.id_numbers:
                    yield "id_number", run[i : i + 18]


def looks_like_id_number(number: str) -> bool:
    """Province, birth date (1900 to 2099) and check character of a GB 11643 number."""
    if number[:2] not in _PROVINCES or number[6:8] not in ("19", "20"):
        return False
    try:
        date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    return _id_check_char(number[:17]) == number[17]


class Patterns:
    def find(self, text: str) -> Iterator[tuple[str, str]]:
        for match in _ALONE_ID.finditer(text):
            number = match.group().upper()
            if looks_like_id_number(number):
                yield "id_number", number
        for match in _ALONE_MOBILE.finditer(text):
            yield "phone", match.group()


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
