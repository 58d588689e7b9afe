"""Reading topics from the beginning to a snapshot of their end, partition by partition in order.

The end offsets are taken once when the scan starts, so a scan of a busy topic terminates and
reports what was there at that moment. No consumer group is used: nothing is committed and no
running consumer is disturbed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

from huigong_platform.kafka import consumer as make_consumer

from . import kafka_access
from .common import NullReporter, OpsError, Reporter

STALL_SECONDS = 30.0


@dataclass(frozen=True)
class PartitionRange:
    topic: str
    partition: int
    begin: int
    end: int

    @property
    def records(self) -> int:
        return max(self.end - self.begin, 0)


@contextlib.asynccontextmanager
async def open_consumer(bootstrap: str, client_id: str = "huigong-ops") -> AsyncIterator[AIOKafkaConsumer]:
    """A started consumer of this process's Kafka user; what goes wrong with Kafka, starting or
    reading, is told as broker unreachable, authentication failed or not authorized
    (`kafka_access`)."""
    auth = kafka_access.login()
    consumer = make_consumer(bootstrap, None, client_id, auth)
    try:
        await asyncio.wait_for(consumer.start(), 30)
    except Exception as exc:
        with contextlib.suppress(Exception):
            await consumer.stop()
        raise await kafka_access.start_failure(bootstrap, exc, auth) from exc
    try:
        async with kafka_access.told(auth):
            yield consumer
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(consumer.stop(), 10)


async def partition_ranges(
    consumer: AIOKafkaConsumer, topic_names: Sequence[str]
) -> tuple[dict[str, list[PartitionRange]], list[str]]:
    """Begin and end offsets of every partition of the named topics, and the names that do not
    exist on the broker."""
    # `consumer.topics()` fetches this same metadata but keeps only the names; the partitions
    # come from the fetched cluster view (the consumer's own one knows assigned topics only).
    cluster = await consumer._client.fetch_all_metadata()
    ranges: dict[str, list[PartitionRange]] = {}
    missing: list[str] = []
    tps: list[TopicPartition] = []
    for name in topic_names:
        partitions = cluster.partitions_for_topic(name)
        if not partitions:
            missing.append(name)
            continue
        tps.extend(TopicPartition(name, p) for p in sorted(partitions))
    # A topic this user may not see is left out of the full listing: say so, not "missing".
    await kafka_access.check_topics(consumer, missing)
    if tps:
        begins = await consumer.beginning_offsets(tps)
        ends = await consumer.end_offsets(tps)
        for tp in tps:
            ranges.setdefault(tp.topic, []).append(
                PartitionRange(tp.topic, tp.partition, begins[tp], ends[tp])
            )
    return ranges, missing


async def scan(
    consumer: AIOKafkaConsumer,
    ranges: Sequence[PartitionRange],
    reporter: Reporter | None = None,
    max_records: int = 5000,
) -> AsyncIterator[tuple[str, int, list[ConsumerRecord[Any, Any]]]]:
    """Yield (topic, partition, records) batches until every partition reaches its snapshot end.
    Within a partition the records come in offset order."""
    reporter = reporter or NullReporter()
    todo = {TopicPartition(r.topic, r.partition): r for r in ranges if r.records > 0}
    if not todo:
        return
    consumer.assign(list(todo))
    for tp, r in todo.items():
        consumer.seek(tp, r.begin)
    loop = asyncio.get_running_loop()
    last_progress = loop.time()
    while todo:
        batches = await consumer.getmany(*todo, timeout_ms=500, max_records=max_records)
        progressed = False
        for tp, records in batches.items():
            if tp not in todo:
                continue
            end = todo[tp].end
            wanted = [r for r in records if r.offset < end]
            if wanted:
                progressed = True
                reporter.advance(len(wanted))
                yield tp.topic, tp.partition, wanted
            if records and records[-1].offset >= end - 1:
                del todo[tp]
                consumer.pause(tp)
        if not batches:
            # Transaction markers or deleted records can leave the position past the last record
            # without delivering it: ask where the consumer is.
            for tp in list(todo):
                if await consumer.position(tp) >= todo[tp].end:
                    del todo[tp]
                    progressed = True
        if progressed:
            last_progress = loop.time()
        elif loop.time() - last_progress > STALL_SECONDS:
            stuck = ", ".join(f"{tp.topic}[{tp.partition}]" for tp in todo)
            raise OpsError(f"读取停滞 no progress for {STALL_SECONDS:.0f} s on {stuck}")
