"""The districts' notices in PostgreSQL, and their way to Kafka.

Notices are written in the transaction of what caused them: by the outbound projection (on the
platform's runner, with its checkpoint) and by the inbound consumer when it dead-letters a
command. Each carries its source (event id or inbound position) under a UNIQUE constraint, so a
trigger applied again writes nothing new. `OutboundPublisher` then sends the unpublished notices,
in `seq` order, to each district's one-partition topic with an idempotent producer and marks the
acknowledged ones. A crash between the broker's ack and the mark would send those notices
again; so before each publishing session the publisher reads the last record of every district
topic it has notices for and marks what the broker already holds (`_catch_up`): one partition, one
publisher at a time and an idempotent producer keep each topic in `seq` order, so its last
`ce_sequence` says exactly what was taken. A district never gets a notice twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from uuid import UUID

import asyncpg
from aiokafka import AIOKafkaProducer, TopicPartition

from huigong_events.envelope import CE_SPEC_VERSION, CONTENT_TYPE, canonical_time, dataschema
from huigong_events.outbound import CE_SOURCE, Notice
from huigong_events.topics import outbound_topic
from huigong_platform import logs, telemetry
from huigong_platform.database import DbConnection
from huigong_platform.kafka import consumer as make_consumer
from huigong_platform.kafka import producer as make_producer
from huigong_platform.kafka import start_producer

log = logs.get(__name__)

# Held by every writer of notices until its transaction ends: notices then commit in `seq` order.
WRITE_LOCK: Final = 0x4F555457  # "OUTW"
# Held by the one publisher of the service (a second instance waits).
PUBLISH_LOCK: Final = 0x4F555450  # "OUTP"
FEED_LIMIT: Final = 500


def _payload(notice: Notice) -> str:
    return notice.model_dump_json(exclude={"district", "record_id", "occurred_at"})


async def write_notice(conn: DbConnection, notice: Notice, source: str) -> None:
    """Add `notice` to its district's feed, once per source. Call inside a transaction."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", WRITE_LOCK)
    await conn.execute(
        """INSERT INTO outbound_notices (district, record_id, type, schema_version, data, occurred_at, source)
           VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7) ON CONFLICT (source) DO NOTHING""",
        notice.district,
        notice.record_id,
        notice.notice_type(),
        notice.schema_version,
        _payload(notice),
        notice.occurred_at,
        source,
    )


async def owner_of(conn: DbConnection, record_id: str) -> str | None:
    district: str | None = await conn.fetchval(
        "SELECT district FROM outbound_owners WHERE record_id = $1", record_id
    )
    return district


async def set_owner(conn: DbConnection, record_id: str, district: str) -> None:
    """Record whose `record_id` is."""
    await conn.execute(
        "INSERT INTO outbound_owners (record_id, district) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        record_id,
        district,
    )


async def release_waiting(conn: DbConnection, record_id: str, district: str) -> None:
    """Write the notices that waited for `record_id`'s owner, in the order they came."""
    waiting = await conn.fetch("DELETE FROM outbound_waiting WHERE record_id = $1 RETURNING *", record_id)
    if not waiting:
        return
    await conn.execute("SELECT pg_advisory_xact_lock($1)", WRITE_LOCK)
    for row in sorted(waiting, key=lambda r: r["position"]):
        await conn.execute(
            """INSERT INTO outbound_notices (district, record_id, type, schema_version, data, occurred_at, source)
               VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (source) DO NOTHING""",
            district,
            record_id,
            row["type"],
            row["schema_version"],
            row["data"],
            row["occurred_at"],
            row["source"],
        )


async def wait_for_owner(conn: DbConnection, notice: Notice, source: str) -> None:
    """Keep `notice` (its district not known yet) until `set_owner` names the district."""
    await conn.execute(
        """INSERT INTO outbound_waiting (record_id, type, schema_version, data, occurred_at, source)
           VALUES ($1, $2, $3, $4::jsonb, $5, $6) ON CONFLICT (source) DO NOTHING""",
        notice.record_id,
        notice.notice_type(),
        notice.schema_version,
        _payload(notice),
        notice.occurred_at,
        source,
    )


async def note_enrolment(conn: DbConnection, enrolment_id: UUID, batch_id: UUID, row_number: int) -> bool:
    """Records which batch and row a taken enrolment is; True when the registry's outcome of it
    was read first (the batch may be complete now)."""
    decided: bool = await conn.fetchval(
        """INSERT INTO outbound_enrolments (enrolment_id, batch_id, row_number) VALUES ($1, $2, $3)
           ON CONFLICT (enrolment_id) DO UPDATE SET batch_id = $2, row_number = $3
           RETURNING outcome IS NOT NULL""",
        enrolment_id,
        batch_id,
        row_number,
    )
    return decided


async def note_outcome(conn: DbConnection, enrolment_id: UUID, outcome: str) -> UUID | None:
    """Records the registry's outcome of an enrolment; its batch, when its request was read first."""
    batch: UUID | None = await conn.fetchval(
        """INSERT INTO outbound_enrolments (enrolment_id, outcome) VALUES ($1, $2)
           ON CONFLICT (enrolment_id) DO UPDATE SET outcome = $2 RETURNING batch_id""",
        enrolment_id,
        outcome,
    )
    return batch


async def note_enrolment_rows(
    conn: DbConnection, requests: Sequence[tuple[UUID, UUID, int]], outcomes: Sequence[tuple[UUID, str]]
) -> list[tuple[UUID, UUID]]:
    """`note_enrolment` and `note_outcome` for a batch of records at once: (enrolment id, batch,
    row number) requested and (enrolment id, outcome) decided, each enrolment once. The
    (enrolment, batch) of each of these rows now both requested and decided."""
    if requests:
        await conn.execute(
            """INSERT INTO outbound_enrolments (enrolment_id, batch_id, row_number)
               SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::integer[])
               ON CONFLICT (enrolment_id) DO UPDATE
               SET batch_id = excluded.batch_id, row_number = excluded.row_number""",
            [r[0] for r in requests],
            [r[1] for r in requests],
            [r[2] for r in requests],
        )
    if outcomes:
        await conn.execute(
            """INSERT INTO outbound_enrolments (enrolment_id, outcome)
               SELECT * FROM unnest($1::uuid[], $2::text[])
               ON CONFLICT (enrolment_id) DO UPDATE SET outcome = excluded.outcome""",
            [o[0] for o in outcomes],
            [o[1] for o in outcomes],
        )
    rows = await conn.fetch(
        """SELECT enrolment_id, batch_id FROM outbound_enrolments
           WHERE enrolment_id = ANY($1::uuid[]) AND batch_id IS NOT NULL AND outcome IS NOT NULL""",
        [r[0] for r in requests] + [o[0] for o in outcomes],
    )
    return [(r["enrolment_id"], r["batch_id"]) for r in rows]


@dataclass(frozen=True)
class BatchOutcome:
    district: str
    accepted: int
    outcomes: list[tuple[int, str]]  # (row number, outcome) of every taken row, by row number


async def batch_outcome(conn: DbConnection, batch_id: UUID) -> BatchOutcome | None:
    """The registry's outcome of every taken row of a batch, or None while some row is undecided
    (or the batch was never told: its notice is where its district and taken rows are known)."""
    told = await conn.fetchrow(
        """SELECT district, (data->>'accepted')::int AS accepted FROM outbound_notices
           WHERE source = $1""",
        f"batch:{batch_id}",
    )
    if told is None or told["accepted"] == 0:
        return None
    # Asked at each decided row of the batch: a count (on the batch's index) until the last.
    decided = await conn.fetchval(
        "SELECT count(*) FROM outbound_enrolments WHERE batch_id = $1 AND outcome IS NOT NULL", batch_id
    )
    if decided < told["accepted"]:
        return None
    rows = await conn.fetch(
        """SELECT row_number, outcome FROM outbound_enrolments
           WHERE batch_id = $1 AND outcome IS NOT NULL ORDER BY row_number""",
        batch_id,
    )
    return BatchOutcome(told["district"], told["accepted"], [(r["row_number"], r["outcome"]) for r in rows])


@dataclass(frozen=True)
class FeedEntry:
    seq: int
    type: str
    schema_version: int
    record_id: str
    occurred_at: datetime
    data: dict[str, Any]


async def feed(
    conn: DbConnection, district: str, after: int, limit: int, *, before: int | None = None
) -> list[FeedEntry]:
    """The district's notices after `after` in order; with `before`, the `limit` notices just
    before it, newest first (how a person pages back through them in the console)."""
    if before is None:
        query = """SELECT seq, type, schema_version, record_id, occurred_at, data::text AS data
                   FROM outbound_notices WHERE district = $1 AND seq > $2 ORDER BY seq LIMIT $3"""
        rows = await conn.fetch(query, district, after, limit)
    else:
        query = """SELECT seq, type, schema_version, record_id, occurred_at, data::text AS data
                   FROM outbound_notices WHERE district = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3"""
        rows = await conn.fetch(query, district, before, limit)
    return [
        FeedEntry(
            r["seq"], r["type"], r["schema_version"], r["record_id"], r["occurred_at"], json.loads(r["data"])
        )
        for r in rows
    ]


def notice_row(notice: Notice, seq: int) -> dict[str, Any]:
    """A notice as its `outbound_notices` row holds it (what `kafka_record` reads)."""
    return {
        "seq": seq,
        "district": notice.district,
        "record_id": notice.record_id,
        "type": notice.notice_type(),
        "schema_version": notice.schema_version,
        "data": _payload(notice),
        "occurred_at": notice.occurred_at,
    }


def kafka_record(row: Mapping[str, Any] | asyncpg.Record) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """(key, value, headers) of a notice: CloudEvents binary mode, as every event travels."""
    data = json.loads(row["data"])
    value = json.dumps(
        {
            "district": row["district"],
            "record_id": row["record_id"],
            "occurred_at": canonical_time(row["occurred_at"]),
            **data,
        },
        ensure_ascii=False,
        sort_keys=True,
    ).encode()
    headers = [
        ("ce_specversion", CE_SPEC_VERSION),
        # `seq` is unique per notice and the same on a re-send, so the id names the notice.
        ("ce_id", f"{row['district']}-{row['seq']}"),
        ("ce_source", CE_SOURCE),
        ("ce_type", row["type"]),
        ("ce_subject", row["record_id"]),
        ("ce_time", canonical_time(row["occurred_at"])),
        ("ce_dataschema", dataschema(row["type"], row["schema_version"])),
        ("ce_sequence", str(row["seq"])),
        ("ce_schemaversion", str(row["schema_version"])),
        ("content-type", CONTENT_TYPE),
    ]
    return row["record_id"].encode(), value, [(k, v.encode()) for k, v in headers]


class OutboundPublisher:
    """Sends the notices to the districts' topics, oldest first; marks what the broker took."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        bootstrap: str,
        topic_prefix: str,
        batch_size: int = 500,
        poll_interval: float = 0.5,
    ) -> None:
        self._pool = pool
        self._bootstrap = bootstrap
        self._prefix = topic_prefix
        self._batch_size = batch_size
        self._poll = poll_interval
        self._stopping = asyncio.Event()
        self.published = 0

    async def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        backoff = 0.5
        while not self._stopping.is_set():
            try:
                await self._publish_locked()
                backoff = 0.5
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(
                    "outbound publisher interrupted", error=f"{type(exc).__name__}: {exc}", retry_in=backoff
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), backoff)
                backoff = min(backoff * 2, 10.0)

    async def _publish_locked(self) -> None:
        async with self._pool.acquire() as lock_conn:
            # One publisher per service at a time, so a district's topic gets its notices in order.
            while not await lock_conn.fetchval("SELECT pg_try_advisory_lock($1)", PUBLISH_LOCK):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), 2.0)
                if self._stopping.is_set():
                    return
            producer: AIOKafkaProducer = make_producer(self._bootstrap, "huigong-intake-outbound")
            try:
                await start_producer(producer, 30.0)
                await self._catch_up()
                while not self._stopping.is_set():
                    if not await self._round(producer):
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self._stopping.wait(), self._poll)
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(producer.stop(), 10)
                await lock_conn.execute("SELECT pg_advisory_unlock($1)", PUBLISH_LOCK)

    async def _catch_up(self) -> None:
        """Mark as published what the districts' topics already hold (a session that died
        between the broker's ack and the mark)."""
        async with self._pool.acquire() as conn:
            districts = [
                r["district"]
                for r in await conn.fetch(
                    "SELECT DISTINCT district FROM outbound_notices WHERE published_at IS NULL"
                )
            ]
        if not districts:
            return
        consumer = make_consumer(self._bootstrap, None, "huigong-intake-outbound-tail")
        await consumer.start()
        try:
            for district in districts:
                held = await _last_sequence(consumer, outbound_topic(district).qualified(self._prefix))
                if held is None:
                    continue
                async with self._pool.acquire() as conn:
                    marked = await conn.execute(
                        """UPDATE outbound_notices SET published_at = now()
                           WHERE district = $1 AND published_at IS NULL AND seq <= $2""",
                        district,
                        held,
                    )
                if marked != "UPDATE 0":
                    log.info("outbound notices found published", district=district, up_to=held, rows=marked)
        finally:
            await consumer.stop()

    async def _round(self, producer: AIOKafkaProducer) -> int:
        async with self._pool.acquire() as conn:
            rows: Sequence[asyncpg.Record] = await conn.fetch(
                """SELECT seq, district, record_id, type, schema_version, data::text AS data, occurred_at
                   FROM outbound_notices WHERE published_at IS NULL ORDER BY seq LIMIT $1""",
                self._batch_size,
            )
            if not rows:
                telemetry.OUTBOUND_PENDING.labels("intake").set(0)
                return 0
            futures = []
            for row in rows:
                key, value, headers = kafka_record(row)
                topic = outbound_topic(row["district"]).qualified(self._prefix)
                futures.append(await producer.send(topic, value=value, key=key, headers=headers))
            # On an error nothing is marked: the next session first marks what the topics already
            # hold (`_catch_up`), then sends the rest.
            await asyncio.wait_for(asyncio.gather(*futures), 30.0)
            await self._mark(conn, [r["seq"] for r in rows])
            pending = await conn.fetchval("SELECT count(*) FROM outbound_notices WHERE published_at IS NULL")
        telemetry.OUTBOUND_PUBLISHED.labels("intake").inc(len(rows))
        telemetry.OUTBOUND_PENDING.labels("intake").set(pending)
        self.published += len(rows)
        log.info("outbound notices published", count=len(rows), last_seq=rows[-1]["seq"])
        return len(rows)

    async def _mark(self, conn: DbConnection, sequences: list[int]) -> None:
        """Record that the broker took these notices. A process that dies just before this has
        sent them all the same: `_catch_up` finds them on the topics."""
        await conn.execute(
            "UPDATE outbound_notices SET published_at = now() WHERE seq = ANY($1::bigint[])", sequences
        )


async def _last_sequence(consumer: Any, topic: str) -> int | None:
    """`ce_sequence` of the last record of a one-partition topic, None when it is empty."""
    partition = TopicPartition(topic, 0)
    consumer.assign([partition])
    end = (await consumer.end_offsets([partition]))[partition]
    if end == 0:
        return None
    consumer.seek(partition, end - 1)
    deadline = asyncio.get_running_loop().time() + 30.0
    while asyncio.get_running_loop().time() < deadline:
        for records in (await consumer.getmany(partition, timeout_ms=1000)).values():
            for record in records:
                if record.offset == end - 1:
                    headers = dict(record.headers)
                    return int(headers["ce_sequence"].decode())
    raise TimeoutError(f"the last record of {topic} could not be read")
