"""The outbox relay: publishes recorded events to Kafka in the order they were recorded.

An HTTP 2xx means the event is in PostgreSQL with an outbox row; this relay is what makes
"and it will reach Kafka" true. While the broker is down the rows simply wait; the relay keeps
retrying with backoff and catches up when it is back. A crash between the broker's ack and the
row being marked published re-sends that event later: consumers drop it by aggregate version.

Only one relay per service publishes at a time (a PostgreSQL advisory lock keyed by the service;
service), so per-aggregate order on the topic is the order of the store.

A round reads up to `relay_batch_size` unpublished events in the store's order, encodes them
(`kafka_records`), builds one record batch per partition in that order and hands the batches to
the idempotent producer (acks=all); then it marks the acknowledged prefix. Each service runs its
relay in a child process (`RelayProcess`), so that relaying has a core of its own (an
enrolment batch of 10,000 rows costs the relay about half what it costs the API).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import struct
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import IO, Any

import asyncpg
import orjson
import uvloop
from aiokafka import AIOKafkaProducer
from aiokafka.producer.message_accumulator import BatchBuilder

from huigong_events.authenticity import NotAuthentic, default_keys
from huigong_events.envelope import (
    CE_SPEC_VERSION,
    CONTENT_TYPE,
    canonical_json,
    canonical_time,
    dataschema,
    to_kafka,
)

from . import logs, telemetry
from .database import DbConnection
from .eventstore import row_to_event
from .kafka import producer as make_producer
from .kafka import start_producer
from .settings import Settings

log = logs.get(__name__)

_RELAY_LOCK = 0x52454C41  # "RELA"
_COUNT_EVERY = 1.0  # seconds between counts of a backlog (for the pending gauge)
# An idempotent producer never expires a batch whose partition has a known leader: it retries
# until the broker answers. Should a connection never come back to life, the round would wait
# forever and the outbox with it; past this deadline the round is abandoned, the producer
# replaced and the unacknowledged rows sent again (consumers drop a second copy by version).
_ROUND_DEADLINE = 30.0  # seconds; twice the producer's request timeout


class OutboxRelay:
    def __init__(
        self,
        pool: asyncpg.Pool | None,
        dsn: str,
        bootstrap: str,
        service: str,
        batch_size: int = 1000,
        poll_interval: float = 0.2,
        round_deadline: float = _ROUND_DEADLINE,
    ) -> None:
        self._pool = pool
        self._dsn = dsn
        self._bootstrap = bootstrap
        self._service = service
        self._batch_size = batch_size
        self._poll = poll_interval
        self._round_deadline = round_deadline
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._producer: AIOKafkaProducer | None = None
        self.published = 0  # acknowledged by the broker and marked, since start
        self.pending = 0  # waiting in the outbox at the last round
        self.not_authentic = 0  # rows published without a valid tag, since start
        self._counted_at = -_COUNT_EVERY  # loop time of the last count of the outbox

    async def run(self) -> None:
        """Run until `stop()`; survives broker and database outages."""
        backoff = 0.2
        while not self._stopping.is_set():
            try:
                await self._run_locked()
                backoff = 0.2
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("outbox relay interrupted", error=str(exc), retry_in=backoff)
                await self._close_producer()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), backoff)
                backoff = min(backoff * 2, 5.0)
        await self._close_producer()

    async def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def _run_locked(self) -> None:
        # A dedicated connection holds the advisory lock and listens for append notifications.
        conn: DbConnection = await asyncpg.connect(self._dsn, server_settings={"search_path": self._service})
        try:
            # Per service: all services share one database, and each must have its own relay.
            while not await conn.fetchval(
                "SELECT pg_try_advisory_lock($1, hashtext($2))", _RELAY_LOCK, self._service
            ):
                if self._stopping.is_set():
                    return
                await asyncio.sleep(1.0)  # another replica relays; stand by
            await conn.add_listener("huigong_outbox", self._on_notify)
            while not self._stopping.is_set():
                # Cleared before reading, so an append notified while a round is published
                # starts the next round at once instead of after the poll interval.
                self._wake.clear()
                sent = await self._publish_batch(conn)
                if sent < self._batch_size:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self._poll)
        finally:
            with contextlib.suppress(Exception):
                await conn.close()

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    async def _ensure_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = make_producer(self._bootstrap, f"huigong-{self._service}-relay")
            await start_producer(producer, self._round_deadline)
            self._producer = producer
        return self._producer

    async def _close_producer(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), 10)

    async def _publish_batch(self, conn: DbConnection) -> int:
        rows = await conn.fetch(_UNPUBLISHED, self._batch_size)
        if len(rows) < self._batch_size:
            self.pending = len(rows)
        else:
            # A backlog: counted at most every _COUNT_EVERY seconds (a count walks every pending
            # row, and a backlog is drained in many rounds); in between, the last count less
            # what has been read since, never below this round.
            now = asyncio.get_running_loop().time()
            if now - self._counted_at >= _COUNT_EVERY:
                self.pending = await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
                self._counted_at = now
            else:
                self.pending = max(self.pending - self._batch_size, len(rows))
        telemetry.OUTBOX_PENDING.labels(self._service).set(self.pending)
        if not rows:
            return 0
        producer = await self._ensure_producer()
        # Record batches built here, one run per partition in the order of the store, rather
        # than one send() per event: aiokafka's per-message path (partitioner, accumulator, a
        # future per message) costs more than encoding the event. A record's partition is the
        # Java client's (murmur2 of the key), so an aggregate keeps its partition.
        counts = {t: len(await producer.partitions_for(t)) for t in {r["topic"] for r in rows}}
        batches: list[tuple[str, int, BatchBuilder]] = []  # in the order they were started
        filling: dict[tuple[str, int], int] = {}  # (topic, partition) → its batch being filled
        batch_of_row: list[int] = []
        keys = default_keys()
        for row, (key, value, headers) in zip(rows, kafka_records(rows), strict=True):
            topic = row["topic"]
            try:
                keys.check(topic, value, headers)
            except NotAuthentic as exc:
                # Written into the store by someone without the key. Published all the same:
                # every consumer refuses it as a dead letter naming it, and holding it back
                # would stop every later event of the service behind it.
                telemetry.RECORDS_NOT_AUTHENTIC.labels(self._service, "outbox-relay").inc()
                self.not_authentic += 1  # reported to the service, whose /metrics shows it
                log.error(
                    "ALERT event in the store is not authentic",
                    alert="not_authentic",
                    topic=topic,
                    position=row["position"],
                    reason=str(exc),
                )
            partition = partition_of(key, counts[topic])
            index = filling.get((topic, partition))
            if (
                index is None
                or batches[index][2].append(key=key, value=value, timestamp=None, headers=headers) is None
            ):
                # None: the batch is full and goes as it is; this record starts the next one.
                batch = producer.create_batch()
                batch.append(key=key, value=value, timestamp=None, headers=headers)
                index = filling[topic, partition] = len(batches)
                batches.append((topic, partition, batch))
            batch_of_row.append(index)
        # Submitted in the order started, so a partition's batches keep the store's order.
        futures = [await producer.send_batch(b, t, partition=p) for t, p, b in batches]
        outcomes = await acknowledgements(futures, self._round_deadline)
        # Mark only the unbroken prefix that the broker acknowledged: a later event is never
        # marked while an earlier one must be sent again.
        acked: list[int] = []
        failure: BaseException | None = None
        for row, index in zip(rows, batch_of_row, strict=True):
            outcome = outcomes[index]
            if isinstance(outcome, BaseException):
                failure = outcome
                break
            acked.append(row["position"])
        if acked:
            await conn.execute(
                "UPDATE outbox SET published_at = now() WHERE position = ANY($1::bigint[])", acked
            )
            self.published += len(acked)
            telemetry.OUTBOX_PUBLISHED.labels(self._service).inc(len(acked))
        if failure is not None:
            raise failure
        return len(rows)


async def acknowledgements(
    futures: Sequence[asyncio.Future[Any]], deadline: float
) -> list[BaseException | None]:
    """Each batch's outcome: None when the broker acknowledged it, else the error (a
    TimeoutError for one still unanswered at the deadline). The producer's futures are left
    alone, not cancelled: they belong to its sender until the producer is closed."""
    if futures:
        await asyncio.wait(futures, timeout=deadline)
    outcomes: list[BaseException | None] = []
    for future in futures:
        if not future.done():
            # Its outcome, when the closed producer settles it, is of no interest any more.
            future.add_done_callback(lambda f: f.cancelled() or f.exception())
            outcomes.append(TimeoutError(f"no acknowledgement from the broker within {deadline:g} s"))
        elif future.cancelled():
            outcomes.append(asyncio.CancelledError())
        else:
            outcomes.append(future.exception())
    return outcomes


# The columns in the order `kafka_records` unpacks them.
_UNPUBLISHED = """
    SELECT o.topic, o.position, e.id, e.type, e.schema_version, e.aggregate_type, e.aggregate_id,
           e.aggregate_version, e.occurred_at, e.recorded_at, e.actor, e.source, e.correlation_id,
           e.causation_id, e.prev_hash, e.hash, e.data, e.auth_key, e.auth_tag
    FROM outbox o JOIN events e USING (position)
    WHERE o.published_at IS NULL ORDER BY o.position LIMIT $1"""

KafkaRecord = tuple[bytes, bytes, list[tuple[str, bytes]]]
_SPEC_VERSION = CE_SPEC_VERSION.encode()
_CONTENT_TYPE = CONTENT_TYPE.encode()


class _SharedHeaders:
    """The encoded CloudEvents headers that events recorded by one command have in common, in
    `to_kafka`'s order around those each event has of its own."""

    __slots__ = ("after_hash", "before_hash", "before_subject")

    def __init__(
        self,
        source: str,
        event_type: str,
        occurred_at: datetime,
        schema_version: int,
        aggregate_type: str,
        aggregate_version: int,
        recorded_at: datetime,
        actor: str,
        correlation_id: str,
        causation_id: str | None,
    ) -> None:
        self.before_subject = (("ce_source", source.encode()), ("ce_type", event_type.encode()))
        self.before_hash = (
            ("ce_time", canonical_time(occurred_at).encode()),
            ("ce_dataschema", dataschema(event_type, schema_version).encode()),
            ("content-type", _CONTENT_TYPE),
            ("ce_schemaversion", str(schema_version).encode()),
            ("ce_aggregatetype", aggregate_type.encode()),
            ("ce_aggregateversion", str(aggregate_version).encode()),
            ("ce_recordedat", canonical_time(recorded_at).encode()),
            ("ce_actor", actor.encode()),
            ("ce_correlationid", correlation_id.encode()),
        )
        self.after_hash: tuple[tuple[str, bytes], ...] = (
            (("ce_causationid", causation_id.encode()),) if causation_id is not None else ()
        )


def kafka_records(rows: Sequence[asyncpg.Record]) -> list[KafkaRecord]:
    """`to_kafka(row_to_event(row))` for each row of `_UNPUBLISHED`, byte for byte, in a fraction
    of the time: no envelope object per event, and the headers that events of one command share
    (source, type, times, schema, actor, correlation id, …: all but id, subject, hash and
    previous hash) encoded once per command rather than once per event. The first record is
    checked against `to_kafka` itself, and the round falls back to it if they differ, so a change
    to the CloudEvents binding in huigong_events can make the relay slower, never wrong."""
    if not rows:
        return []
    shared: dict[tuple[Any, ...], _SharedHeaders] = {}
    loads = orjson.loads
    records: list[KafkaRecord] = []
    for row in rows:
        (
            _topic,
            _position,
            event_id,
            event_type,
            schema_version,
            aggregate_type,
            aggregate_id,
            aggregate_version,
            occurred_at,
            recorded_at,
            actor,
            source,
            correlation_id,
            causation_id,
            prev_hash,
            digest,
            data,
            auth_key,
            auth_tag,
        ) = row
        common = (
            source,
            event_type,
            occurred_at,
            schema_version,
            aggregate_type,
            aggregate_version,
            recorded_at,
            actor,
            correlation_id,
            causation_id,
        )
        headers_of = shared.get(common)
        if headers_of is None:
            headers_of = shared[common] = _SharedHeaders(*common)
        key = aggregate_id.encode()
        headers = [
            ("ce_specversion", _SPEC_VERSION),
            ("ce_id", str(event_id).encode()),
            *headers_of.before_subject,
            ("ce_subject", key),
            *headers_of.before_hash,
            ("ce_hash", digest.encode()),
            *headers_of.after_hash,
        ]
        if prev_hash is not None:
            headers.append(("ce_prevhash", prev_hash.encode()))
        if auth_tag is not None and auth_key is not None:
            headers.append(("ce_authkey", auth_key.encode()))
            headers.append(("ce_authtag", auth_tag.encode()))
        records.append((key, canonical_json(loads(data) if isinstance(data, str) else data), headers))
    if records[0] != to_kafka(row_to_event(rows[0])):
        log.error("relay's Kafka encoding differs from huigong_events.envelope.to_kafka; using it")
        return [to_kafka(row_to_event(row)) for row in rows]
    return records


# --- the relay in a process of its own ----------------------------------------------------------
# Encoding and publishing 10,000 events costs about as much CPU as judging and recording them,
# and in one process both share one interpreter lock: the service would use one core of the
# machine. So each service runs its relay as a child process (`RelayProcess`), which reports its
# figures to the service over a pipe for /metrics. The pipe also tells the child when the service
# is gone: a report that cannot be written stops it, so a killed service leaves no relay behind.

_REPORT_EVERY = 0.5  # seconds between the child's reports


class RelayProcess:
    """Runs `python -m huigong_platform.outbox` for the service and restarts it if it dies."""

    def __init__(self, service: str, dsn: str, bootstrap: str, batch_size: int, log_level: str) -> None:
        self._service = service
        self._env = {
            **os.environ,
            "HUIGONG_SERVICE": service,
            "HUIGONG_DATABASE_URL": dsn,
            "HUIGONG_KAFKA_BOOTSTRAP": bootstrap,
            "HUIGONG_RELAY_BATCH_SIZE": str(batch_size),
            "HUIGONG_LOG_LEVEL": log_level,
        }
        self._stopping = asyncio.Event()
        self._process: asyncio.subprocess.Process | None = None
        self.published = 0

    async def run(self) -> None:
        backoff = 1.0
        while not self._stopping.is_set():
            read_end, write_end = os.pipe()
            try:
                self._process = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    __name__,
                    str(write_end),
                    env=self._env,
                    stdin=asyncio.subprocess.DEVNULL,
                    pass_fds=(write_end,),
                )
            except OSError as exc:
                os.close(read_end)
                log.error("outbox relay process did not start", error=str(exc))
            else:
                log.info("outbox relay process started", pid=self._process.pid)
                os.close(write_end)  # the child's copy is the only one: its exit ends the pipe
                write_end = -1
                if self._stopping.is_set():  # stop() came while it was starting
                    self._process.terminate()
                await self._follow(read_end)
                code = await self._process.wait()
                if self._stopping.is_set():
                    return
                log.error("outbox relay process exited", code=code, restart_in=backoff)
            finally:
                if write_end >= 0:
                    os.close(write_end)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), backoff)
            backoff = min(backoff * 2, 30.0)

    async def _follow(self, read_end: int) -> None:
        """Apply the child's reports ("<published> <pending> <not authentic>" lines) to this
        process's metrics until it closes the pipe."""
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(read_end, "rb", buffering=0)
        )
        published = refused = 0  # the child's totals so far: each child counts from zero
        try:
            while line := await reader.readline():
                try:
                    total, pending, not_authentic = (int(x) for x in line.split())
                except ValueError:
                    continue  # not a report; the figures wait for the next one
                telemetry.OUTBOX_PUBLISHED.labels(self._service).inc(total - published)
                telemetry.OUTBOX_PENDING.labels(self._service).set(pending)
                telemetry.RECORDS_NOT_AUTHENTIC.labels(self._service, "outbox-relay").inc(
                    not_authentic - refused
                )
                self.published += total - published
                published, refused = total, not_authentic
        finally:
            transport.close()

    async def stop(self) -> None:
        self._stopping.set()
        process = self._process
        if process is not None and process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                process.kill()


async def _serve(report: IO[bytes]) -> None:
    settings = Settings()  # from the environment RelayProcess gives it
    relay = OutboxRelay(
        None,
        settings.database_url,
        settings.kafka_bootstrap,
        settings.service,
        batch_size=settings.relay_batch_size,
    )
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, lambda: asyncio.ensure_future(relay.stop()))

    async def reporting() -> None:
        while True:
            try:
                report.write(f"{relay.published} {relay.pending} {relay.not_authentic}\n".encode())
            except OSError:  # BrokenPipeError: the service is gone, and so is this relay
                log.warning("service gone; outbox relay stopping")
                await relay.stop()
                return
            await asyncio.sleep(_REPORT_EVERY)

    reporter = asyncio.create_task(reporting())
    try:
        await relay.run()
    finally:
        reporter.cancel()
    log.info("outbox relay stopped", published=relay.published)


def main() -> None:
    """`python -m huigong_platform.outbox <report fd>`, as `RelayProcess` starts it."""
    settings = Settings()
    logs.configure(settings.service, settings.log_level)
    logs.bind_contextvars(process="outbox-relay")  # its lines go to the service's log
    gc.set_threshold(50_000, 20, 20)  # as service.tune_gc: many short-lived objects per event
    with os.fdopen(int(sys.argv[1]), "wb", buffering=0) as report:
        uvloop.run(_serve(report))  # libuv's loop, as the service's (service.serve)


def partition_of(key: bytes, partitions: int) -> int:
    """The partition the Java client's default partitioner (and aiokafka's) picks for a key."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


_WORDS: dict[int, Callable[[bytes], tuple[int, ...]]] = {}
_M = 0x5BD1E995


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), the same value as
    `aiokafka.partitioner.murmur2` (tests/unit/test_outbox_unit.py compares them) in half the
    time: the key's 4-byte words are unpacked at once and the 32-bit masks are merged. At
    10,000 events a batch the partitioner was the relay's largest cost."""
    length = len(data)
    h = 0x9747B28C ^ length
    count = length >> 2
    words = _WORDS.get(count)
    if words is None:
        words = _WORDS[count] = struct.Struct(f"<{count}I").unpack_from
    for k in words(data):
        k = k * _M & 0xFFFFFFFF
        h = (h * _M ^ (k ^ k >> 24) * _M) & 0xFFFFFFFF
    tail = length & 3
    if tail:
        base = length - tail
        if tail == 3:
            h ^= data[base + 2] << 16
        if tail >= 2:
            h ^= data[base + 1] << 8
        h = (h ^ data[base]) * _M & 0xFFFFFFFF
    h ^= h >> 13
    h = h * _M & 0xFFFFFFFF
    return h ^ h >> 15


if __name__ == "__main__":
    main()
