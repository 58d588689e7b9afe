"""The service's signer of chain checkpoints (`huigong_events.checkpoints`): every
`HUIGONG_CHECKPOINT_SECONDS`, when the events table grew, it folds the new events' hashes into
the last checkpoint's digest, signs the result with the service's Ed25519 key, stores it in
`chain_checkpoints` and publishes it to the service's checkpoints topic.

A checkpoint covers positions up to the store's high-water mark: the highest position below
which no position is missing. Positions are drawn before a transaction commits, so a lower one
can appear after a higher one; a hole is waited for, and taken as a rolled-back transaction's
once the event after it is older than `_HOLE_PATIENCE` (a checkpoint signed past a hole that
fills later is a false alarm in `huigong verify`, never a missed one).
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

import asyncpg

from huigong_events.checkpoints import GENESIS, Checkpoint, CheckpointKeys, fold
from huigong_events.topics import checkpoint_topic

from . import logs
from .kafka import producer as make_producer
from .kafka import start_producer

log = logs.get(__name__)

_LOCK = 0x43484B50  # "CHKP": one signer per service at a time, replicas included
_HOLE_PATIENCE = timedelta(seconds=30)


class Checkpointer:
    def __init__(
        self,
        pool: asyncpg.Pool,
        service: str,
        keys: CheckpointKeys,
        bootstrap: str,
        topic_prefix: str = "",
        interval: float = 60.0,
    ) -> None:
        self._pool = pool
        self._service = service
        self._keys = keys
        self._bootstrap = bootstrap
        self._topic = checkpoint_topic(service).qualified(topic_prefix)
        self._interval = interval
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.sign_once()
                await self.publish_pending()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("chain checkpoint not made", error=f"{type(exc).__name__}: {exc}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._interval)

    async def stop(self) -> None:
        self._stopping.set()

    async def sign_once(self, now: datetime | None = None) -> Checkpoint | None:
        """Sign a checkpoint of what was added since the last one; None when nothing was."""
        now = now or datetime.now(UTC)
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", _LOCK, self._service)
            last = await conn.fetchrow(
                "SELECT sequence, position, events, digest FROM chain_checkpoints ORDER BY sequence DESC LIMIT 1"
            )
            sequence, position, events, digest = (
                (last[0], last[1], last[2], bytes.fromhex(last[3])) if last else (0, 0, 0, GENESIS)
            )
            previous = digest if last else None
            rows = await conn.fetch(
                "SELECT position, hash, recorded_at FROM events WHERE position > $1 ORDER BY position",
                position,
            )
            covered: list[str] = []
            mark = position
            for row in rows:
                if row[0] != mark + 1 and now - row[2] < _HOLE_PATIENCE:
                    break  # a lower position may still commit
                covered.append(row[1])
                mark = row[0]
            if not covered:
                return None
            checkpoint = self._keys.sign(
                self._service,
                sequence=sequence + 1,
                position=mark,
                events=events + len(covered),
                digest=fold(digest, covered),
                previous=previous,
                signed_at=now,
            )
            await conn.execute(
                """INSERT INTO chain_checkpoints (sequence, key_id, public_key, position, events,
                       digest, previous, signed_at, signature)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
                checkpoint.sequence,
                checkpoint.key_id,
                checkpoint.public_key,
                checkpoint.position,
                checkpoint.events,
                checkpoint.digest,
                checkpoint.previous,
                checkpoint.signed_at,
                checkpoint.signature,
            )
        log.info(
            "chain checkpoint signed",
            sequence=checkpoint.sequence,
            position=checkpoint.position,
            events=checkpoint.events,
            key=checkpoint.key_id,
        )
        return checkpoint

    async def publish_pending(self) -> int:
        """Publish the stored checkpoints not yet on the topic, in order; returns how many."""
        rows = await self._pool.fetch(
            "SELECT * FROM chain_checkpoints WHERE published_at IS NULL ORDER BY sequence"
        )
        if not rows:
            return 0
        producer = make_producer(self._bootstrap, f"huigong-{self._service}-checkpoints")
        await start_producer(producer, 30)
        try:
            for row in rows:
                checkpoint = checkpoint_of(self._service, row)
                await producer.send_and_wait(
                    self._topic, value=checkpoint.to_json_bytes(), key=self._service.encode()
                )
                await self._pool.execute(
                    "UPDATE chain_checkpoints SET published_at = now() WHERE sequence = $1", row["sequence"]
                )
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), 10)
        return len(rows)


def checkpoint_of(service: str, row: asyncpg.Record) -> Checkpoint:
    return Checkpoint(
        service=service,
        sequence=row["sequence"],
        key_id=row["key_id"],
        public_key=row["public_key"],
        position=row["position"],
        events=row["events"],
        digest=row["digest"],
        previous=row["previous"],
        signed_at=row["signed_at"],
        signature=row["signature"],
    )
