"""`/streams`: how far behind each of a service's own readers is, for 运维/审计 (the `ops` role
only, `policy.COMMON`): each projection and reaction with the topics it reads, per partition the
committed position (its checkpoint, kept in the transaction that applies the records), the end
offset, the lag and when it last applied records.

The same computation as `huigong streams` (`stream_positions.py`), narrowed to this service's
consumers and read on the service's own pool and Kafka login. When Kafka does not answer, the
positions are still shown, with lag unknown (null) and a note saying why.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
import structlog
from aiokafka import TopicPartition
from fastapi import APIRouter, Request

from . import stream_positions
from .subscriptions import Projection

log = structlog.get_logger(__name__)


def _consumer(
    projection: Projection, kind: str, positions: Sequence[stream_positions.PositionLag]
) -> dict[str, Any]:
    mine = [p for p in positions if p.reader == projection.name]
    topics = stream_positions.summarise_lag(mine)
    lags = [t["lag"] for t in topics]
    applied = [p.updated_at for p in mine if p.updated_at is not None]
    return {
        "consumer": projection.name,
        "kind": kind,
        "topics": topics,
        # Unknown when any end offset is (Kafka did not answer).
        "lag": None if any(lag is None for lag in lags) else sum(lags),
        "last_applied_at": max(applied).isoformat() if applied else None,
    }


def router(
    service: str,
    projections: Sequence[Projection],
    reactions: Sequence[Projection],
    pool_of: Callable[[Request], asyncpg.Pool],
    kafka_of: Callable[[Request], tuple[str, str]],
) -> APIRouter:
    """The route of one service running `projections` and `reactions`; `pool_of` finds its pool,
    `kafka_of` its Kafka bootstrap servers and topic prefix."""
    routes = APIRouter(tags=["数据流（运维）"])
    readers = [*projections, *reactions]

    @routes.get("/streams", summary="数据流：各投影与反应的位置、末端偏移、滞后与最近应用时间")
    async def streams(request: Request) -> dict[str, Any]:
        bootstrap, prefix = kafka_of(request)
        names = sorted({t.qualified(prefix) for r in readers for t in r.topics})
        async with pool_of(request).acquire() as conn:
            positions = await stream_positions.checkpoints(conn, "checkpoints", "", set(names))
        notes: list[str] = []
        begins: dict[TopicPartition, int] = {}
        ends: dict[TopicPartition, int] = {}
        try:
            begins, ends = await stream_positions.partition_offsets(
                bootstrap, f"huigong-{service}-streams", names
            )
        except Exception as exc:
            log.warning("stream end offsets unavailable", error=f"{type(exc).__name__}: {exc}")
            notes.append(f"Kafka 未应答，滞后未知 Kafka did not answer, lag unknown: {type(exc).__name__}")
        for p in positions:
            p.end = ends.get(TopicPartition(p.topic, p.partition))
        # A reader with no row yet on a topic it reads: every partition of it is unread.
        seeded = {(p.reader, p.topic) for p in positions}
        for r in readers:
            for t in r.topics:
                name = t.qualified(prefix)
                if (r.name, name) not in seeded:
                    positions.extend(
                        stream_positions.PositionLag(
                            r.name, name, tp.partition, None, end, begin=begins.get(tp, 0)
                        )
                        for tp, end in sorted(ends.items())
                        if tp.topic == name
                    )
        positions = stream_positions.with_unread_partitions(positions, ends, begins)
        missing = [n for n in names if not any(tp.topic == n for tp in ends)]
        if ends and missing:
            notes.append(f"主题不存在 missing topics: {', '.join(missing)}")
        consumers = [
            *(_consumer(p, "projection", positions) for p in projections),
            *(_consumer(r, "reaction", positions) for r in reactions),
        ]
        lags = [c["lag"] for c in consumers]
        return {
            "service": service,
            "checked_at": datetime.now(UTC).isoformat(),
            "consumers": consumers,
            "max_lag": None if any(lag is None for lag in lags) else max(lags, default=0),
            "notes": notes,
        }

    return routes
