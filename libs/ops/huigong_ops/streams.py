"""`huigong streams`: where every stream is and how far behind each reader is.

Three views:
- topics of the catalogue (under the prefix) with their partitions, begin and end offsets;
- Kafka consumer groups (`AIOKafkaAdminClient.list_consumer_groups` and
  `list_consumer_group_offsets`) with lag = end offset − committed offset. Our groups are named
  `<prefix>huigong.…`; `--all-groups` lists every group on the broker. The projections only
  mirror their position into Kafka; faust reactions commit theirs there;
- the PostgreSQL checkpoints of each service (`<service>.checkpoints`), the projections' true
  positions, with lag = end offset − next offset.

Positions and lag are computed by `huigong_platform.stream_positions`, which each service's
`/streams` route shares.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from aiokafka import TopicPartition

from huigong_events.topics import TOPICS, Topic
from huigong_platform import stream_positions
from huigong_platform.kafka import admin_client
from huigong_platform.settings import SERVICES
from huigong_platform.stream_positions import PositionLag, summarise_lag, with_unread_partitions

from . import kafka_access
from .common import OpsError
from .scan import open_consumer, partition_ranges


@dataclass
class TopicInfo:
    name: str
    catalogue_name: str
    kind: str
    owner: str
    exists: bool
    begin: dict[int, int] = field(default_factory=dict)
    end: dict[int, int] = field(default_factory=dict)

    @property
    def partitions(self) -> int:
        return len(self.end)

    @property
    def end_total(self) -> int:
        return sum(self.end.values())

    @property
    def records(self) -> int:
        return sum(self.end[p] - self.begin.get(p, 0) for p in self.end)

    def to_json(self) -> dict[str, Any]:
        return {
            "topic": self.name,
            "catalogue_name": self.catalogue_name,
            "kind": self.kind,
            "owner": self.owner,
            "exists": self.exists,
            "partitions": [
                {"partition": p, "begin": self.begin.get(p, 0), "end": e} for p, e in sorted(self.end.items())
            ],
            "end_total": self.end_total,
            "records": self.records,
        }


@dataclass
class StreamsReport:
    topics: list[TopicInfo]
    groups: list[PositionLag]
    checkpoints: list[PositionLag]
    notes: list[str] = field(default_factory=list)

    def max_lag(self) -> int:
        lags = [p.lag for p in (*self.groups, *self.checkpoints) if p.lag is not None]
        return max(lags, default=0)

    def to_json(self) -> dict[str, Any]:
        return {
            "topics": [t.to_json() for t in self.topics],
            "consumer_groups": summarise_lag(self.groups),
            "checkpoints": summarise_lag(self.checkpoints),
            "max_lag": self.max_lag(),
            "notes": self.notes,
        }


async def gather(
    bootstrap: str,
    prefix: str,
    dsn: str | None,
    *,
    all_groups: bool = False,
    catalogue: Sequence[Topic] = TOPICS,
) -> StreamsReport:
    notes: list[str] = []
    names = [t.qualified(prefix) for t in catalogue]
    async with open_consumer(bootstrap, "huigong-ops-streams") as consumer:
        ranges, missing = await partition_ranges(consumer, names)
        topics = []
        for t, name in zip(catalogue, names, strict=True):
            info = TopicInfo(name, t.name, t.kind.value, t.owner, name not in missing)
            for r in ranges.get(name, []):
                info.begin[r.partition] = r.begin
                info.end[r.partition] = r.end
            topics.append(info)
        ends: dict[TopicPartition, int] = {
            TopicPartition(t.name, p): e for t in topics for p, e in t.end.items()
        }

        groups = await _group_positions(bootstrap, prefix, all_groups)
        unknown = [TopicPartition(g.topic, g.partition) for g in groups]
        unknown = [tp for tp in unknown if tp not in ends]
        if unknown:
            existing = await consumer.topics()
            unknown = [tp for tp in unknown if tp.topic in existing]
            with contextlib.suppress(Exception):
                ends.update(await consumer.end_offsets(unknown))
        for g in groups:
            g.end = ends.get(TopicPartition(g.topic, g.partition))

    checkpoints: list[PositionLag] = []
    if dsn:
        checkpoints = await _checkpoints(dsn, set(names))
        for c in checkpoints:
            c.end = ends.get(TopicPartition(c.topic, c.partition))
    else:
        notes.append("未配置数据库，未列出检查点 no database configured: checkpoints not listed")
    begins = {TopicPartition(t.name, p): b for t in topics for p, b in t.begin.items()}
    groups = with_unread_partitions(groups, ends, begins)
    checkpoints = with_unread_partitions(checkpoints, ends, begins)
    if missing:
        notes.append(f"主题不存在 missing topics: {', '.join(missing)}")
    return StreamsReport(topics, groups, checkpoints, notes)


async def _group_positions(bootstrap: str, prefix: str, all_groups: bool) -> list[PositionLag]:
    auth = kafka_access.login()
    admin = admin_client(bootstrap, "huigong-ops-streams", auth)
    try:
        await asyncio.wait_for(admin.start(), 30)
    except Exception as exc:
        with contextlib.suppress(Exception):
            await admin.close()
        raise await kafka_access.start_failure(bootstrap, exc, auth) from exc
    try:
        async with kafka_access.told(auth):
            listed = await admin.list_consumer_groups()
            ours = f"{prefix}huigong."
            group_ids = sorted({g[0] for g in listed if all_groups or str(g[0]).startswith(ours)})
            positions: list[PositionLag] = []
            for group in group_ids:
                offsets = await admin.list_consumer_group_offsets(group)
                for tp, meta in offsets.items():
                    positions.append(PositionLag(group, tp.topic, tp.partition, meta.offset, None))
            return positions
    finally:
        await admin.close()


async def _checkpoints(dsn: str, topic_names: set[str]) -> list[PositionLag]:
    try:
        conn = await asyncpg.connect(dsn)
    except (OSError, asyncpg.PostgresError) as exc:
        raise OpsError(f"数据库无法连接 cannot connect to PostgreSQL: {exc}") from exc
    positions: list[PositionLag] = []
    try:
        for service in SERVICES:
            table = f"{service}.checkpoints"
            if await conn.fetchval("SELECT to_regclass($1)", table):
                positions.extend(await stream_positions.checkpoints(conn, table, f"{service}/", topic_names))
    finally:
        await conn.close()
    return positions
