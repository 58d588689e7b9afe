"""Where a reader stands on its partitions and how far behind it is: shared by `huigong streams`
(every service's checkpoints and every consumer group) and each service's `/streams` route
(`stream_api.py`, its own projections and reactions).

Projections and reactions keep their true position in the service's `checkpoints` table, in the
transaction that applies the records; lag = end offset − next offset. A partition a reader has
no row for is one it has not read yet: it starts at the beginning, so all of it counts as lag.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from aiokafka import TopicPartition

from .database import DbConnection
from .kafka import consumer as make_consumer
from .settings import KafkaAuth


@dataclass
class PositionLag:
    """A reader's position on one partition: a Kafka group's committed offset or a checkpoint."""

    reader: str  # consumer group, or "<service>/<consumer>" for a checkpoint
    topic: str
    partition: int
    position: int | None  # None: nothing stored, the reader starts at the beginning
    end: int | None
    updated_at: datetime | None = None
    begin: int = 0

    @property
    def lag(self) -> int | None:
        if self.end is None:
            return None
        if self.position is None or self.position < 0:
            return max(self.end - self.begin, 0)
        return max(self.end - self.position, 0)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["lag"] = self.lag
        out["updated_at"] = self.updated_at.isoformat() if self.updated_at else None
        return out


def summarise_lag(positions: Sequence[PositionLag]) -> list[dict[str, Any]]:
    """Per (reader, topic): total lag (None when an end offset is unknown) and each partition."""
    grouped: dict[tuple[str, str], list[PositionLag]] = {}
    for p in positions:
        grouped.setdefault((p.reader, p.topic), []).append(p)
    out = []
    for (reader, topic), items in sorted(grouped.items()):
        lags = [i.lag for i in items]
        out.append(
            {
                "reader": reader,
                "topic": topic,
                "lag": None if any(lag is None for lag in lags) else sum(lag or 0 for lag in lags),
                "partitions": [i.to_json() for i in sorted(items, key=lambda i: i.partition)],
            }
        )
    return out


def with_unread_partitions(
    positions: list[PositionLag], ends: dict[TopicPartition, int], begins: dict[TopicPartition, int]
) -> list[PositionLag]:
    """A reader stores a position only for partitions it has read; on the others it starts at the
    beginning, so everything there counts as lag."""
    seen = {(p.reader, p.topic, p.partition) for p in positions}
    readers = sorted({(p.reader, p.topic) for p in positions})
    added = [
        PositionLag(reader, topic, tp.partition, None, end, begin=begins.get(tp, 0))
        for reader, topic in readers
        for tp, end in sorted(ends.items())
        if tp.topic == topic and (reader, topic, tp.partition) not in seen
    ]
    return positions + added


async def checkpoints(
    conn: DbConnection, table: str, reader_prefix: str, topic_names: Collection[str]
) -> list[PositionLag]:
    """The positions stored in one service's checkpoints `table` on the named topics, each reader
    named `reader_prefix` + consumer; end offsets are left for the caller to fill in."""
    rows = await conn.fetch(
        f"SELECT consumer, topic, partition, next_offset, updated_at FROM {table} "
        "ORDER BY consumer, topic, partition"
    )
    return [
        PositionLag(
            f"{reader_prefix}{r['consumer']}",
            r["topic"],
            r["partition"],
            r["next_offset"],
            None,
            r["updated_at"],
        )
        for r in rows
        if r["topic"] in topic_names
    ]


async def partition_offsets(
    bootstrap: str, client_id: str, topic_names: Sequence[str], auth: KafkaAuth | None = None
) -> tuple[dict[TopicPartition, int], dict[TopicPartition, int]]:
    """Begin and end offsets of every partition of the named topics that exist, read by a
    consumer of no group (it commits nothing and joins no one's group)."""
    consumer = make_consumer(bootstrap, None, client_id, auth)
    await asyncio.wait_for(consumer.start(), 15)
    try:
        # The consumer's own cluster view knows assigned topics only; fetch the full metadata.
        cluster = await consumer._client.fetch_all_metadata()
        tps = [
            TopicPartition(name, p)
            for name in topic_names
            for p in sorted(cluster.partitions_for_topic(name) or ())
        ]
        if not tps:
            return {}, {}
        begins: dict[TopicPartition, int] = await consumer.beginning_offsets(tps)
        ends: dict[TopicPartition, int] = await consumer.end_offsets(tps)
        return begins, ends
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(consumer.stop(), 10)
