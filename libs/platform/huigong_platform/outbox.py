"""The outbox relay: publishes recorded events to Kafka in the order they were recorded.

An HTTP 2xx means the event is in PostgreSQL with an outbox row; this relay is what makes
"and it will reach Kafka" true. While the broker is down the rows simply wait; the relay keeps
retrying with backoff and catches up when it is back. A crash between the broker's ack and the
row being marked published re-sends that event later: consumers drop it by aggregate version.

Only one relay per service publishes at a time (a PostgreSQL advisory lock keyed by the service;
service), so per-aggregate order on the topic is the order of the store.
"""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from huigong_events.envelope import to_kafka

from . import logs, telemetry
from .database import DbConnection
from .eventstore import row_to_event
from .kafka import producer as make_producer

log = logs.get(__name__)

_RELAY_LOCK = 0x52454C41  # "RELA"


class OutboxRelay:
    def __init__(
        self,
        pool: asyncpg.Pool,
        dsn: str,
        bootstrap: str,
        service: str,
        batch_size: int = 1000,
        poll_interval: float = 0.2,
    ) -> None:
        self._pool = pool
        self._dsn = dsn
        self._bootstrap = bootstrap
        self._service = service
        self._batch_size = batch_size
        self._poll = poll_interval
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._producer: AIOKafkaProducer | None = None
        self.published = 0

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
                sent = await self._publish_batch(conn)
                if sent < self._batch_size:
                    self._wake.clear()
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
            try:
                await producer.start()
            except BaseException:
                with contextlib.suppress(Exception):
                    await producer.stop()
                raise
            self._producer = producer
        return self._producer

    async def _close_producer(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), 10)

    async def _publish_batch(self, conn: DbConnection) -> int:
        rows = await conn.fetch(
            """SELECT o.topic, e.* FROM outbox o JOIN events e USING (position)
               WHERE o.published_at IS NULL ORDER BY o.position LIMIT $1""",
            self._batch_size,
        )
        telemetry.OUTBOX_PENDING.labels(self._service).set(
            await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
            if len(rows) == self._batch_size
            else len(rows)
        )
        if not rows:
            return 0
        producer = await self._ensure_producer()
        futures = []
        for row in rows:
            key, value, headers = to_kafka(row_to_event(row))
            futures.append(await producer.send(row["topic"], value=value, key=key, headers=headers))
        # Mark only the unbroken prefix that the broker acknowledged: a later event is never
        # marked while an earlier one must be sent again.
        acked: list[int] = []
        failure: BaseException | None = None
        for row, future in zip(rows, futures, strict=True):
            try:
                await future
            except KafkaError as exc:
                failure = exc
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
