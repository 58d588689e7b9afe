"""Benchmark: the projection runner against raw consumption, same topic, same run.

1. raw aiokafka consume-and-discard;
2. decode (envelope + upcast + validation) and apply to an in-memory projection;
3. apply to PostgreSQL through the runner (checkpoints, versions, one transaction per batch).
Goal: 3 at 40% or more of 1 (the read-path goals; 14.9% before).
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import ClassVar

import asyncpg
from aiokafka import AIOKafkaConsumer

from huigong_events.base import DomainEvent
from huigong_events.envelope import RecordedEvent, to_kafka
from huigong_events.intake import EnrolmentRequested
from huigong_events.reading import decode_record
from huigong_events.topics import Topic, topic_for_aggregate
from huigong_platform.database import DbConnection, create_pool
from huigong_platform.service import tune_gc
from huigong_platform.subscriptions import Projection, Subscription
from huigong_testkit.factories import authentic, enrolment, recorded

from .common import CpuClock, Env, Stopwatch, bench_env, figure, postgres_cpu_seconds, publish


class DistrictCounts(Projection):
    name: ClassVar[str] = "bench.district_counts"
    topics: ClassVar[tuple[Topic, ...]] = (topic_for_aggregate("enrolment"),)
    handles: ClassVar[frozenset[str]] = frozenset({"EnrolmentRequested"})

    async def apply(self, conn: DbConnection, event: DomainEvent, record: RecordedEvent) -> None:
        await self.apply_batch(conn, [(event, record)])

    async def apply_batch(
        self, conn: DbConnection, items: Sequence[tuple[DomainEvent, RecordedEvent]]
    ) -> None:
        counts: Counter[tuple[str, str]] = Counter()
        for event, _ in items:
            assert isinstance(event, EnrolmentRequested)
            counts[(event.district, event.occupation.value)] += 1
        if counts:
            await conn.execute(
                """INSERT INTO bench_counts (district, occupation, members)
                   SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
                   ON CONFLICT (district, occupation)
                   DO UPDATE SET members = bench_counts.members + EXCLUDED.members""",
                [k[0] for k in counts],
                [k[1] for k in counts],
                list(counts.values()),
            )


async def produce(env: Env, topic: str, count: int) -> None:
    districts = ["370202", "370203", "370213", "370212", "370214", "370211", "370215", "370281"]
    # A pool of distinct encoded records, re-keyed per message so every aggregate is new, and
    # tagged again after it: the runner dead-letters a record whose tag does not cover it.
    template = [recorded(enrolment(districts[i % len(districts)])) for i in range(1000)]

    def records() -> Iterator[tuple[str, bytes, bytes, list[tuple[str, bytes]]]]:
        for i in range(count):
            base = template[i % len(template)]
            record = authentic(base.model_copy(update={"aggregate_id": f"{base.aggregate_id}-{i}"}))
            yield (topic, *to_kafka(record))

    watch = Stopwatch()
    await publish(env, records())
    figure("produce (setup, not a goal)", count, watch.seconds)


async def consume(env: Env, topic: str, count: int, handle: object = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds) to read `count` records, handing each batch to `handle`."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=env.bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
        max_poll_records=5000,
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=16 * 1024 * 1024,
    )
    await consumer.start()
    seen = 0
    try:
        watch, cpu = Stopwatch(), CpuClock()
        while seen < count:
            batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
            for records in batches.values():
                seen += len(records)
                if handle is not None:
                    handle(records)  # type: ignore[operator]
        return watch.seconds, cpu.seconds
    finally:
        await consumer.stop()


async def dead_letters(pool: asyncpg.Pool, consumer: str) -> int:
    n: int = await pool.fetchval("SELECT count(*) FROM dead_letters WHERE consumer = $1", consumer)
    return n


async def main(count: int, batch_size: int) -> None:
    tune_gc()  # as every service process does
    async with bench_env() as env:
        topic = topic_for_aggregate("enrolment").qualified(env.prefix)
        print(f"projection runner benchmark: {count:,} EnrolmentRequested events on {topic}")
        await produce(env, topic, count)

        raw = figure("1. raw aiokafka consume-and-discard", count, *await consume(env, topic, count))

        memory: Counter[tuple[str, str]] = Counter()

        def in_memory(records: list) -> None:  # type: ignore[type-arg]
            for r in records:
                _, event = decode_record(r.value, r.headers)
                assert isinstance(event, EnrolmentRequested)
                memory[(event.district, event.occupation.value)] += 1

        mem = figure(
            "2. decode + apply to an in-memory projection",
            count,
            *await consume(env, topic, count, in_memory),
        )

        pool = await create_pool(env.dsn("intake"), "intake", max_size=4)
        await pool.execute(
            """CREATE TABLE bench_counts (district text, occupation text, members bigint,
               PRIMARY KEY (district, occupation))"""
        )
        projection = DistrictCounts()
        sub = Subscription(projection, pool, env.bootstrap, "intake", env.prefix, batch_size=batch_size)
        backends = await postgres_cpu_seconds(env)
        watch, cpu = Stopwatch(), CpuClock()
        task = asyncio.create_task(sub.run())
        polls = 0
        while sub.applied < count:
            await asyncio.sleep(0.05)
            if task.done():
                task.result()
            polls += 1
            if polls % 20 == 0 and await dead_letters(pool, projection.name):
                # A dead-lettered record is never applied: the figure would be of refusals.
                raise SystemExit(f"{await dead_letters(pool, projection.name)} records dead-lettered")
        pg_s, pg_cpu = watch.seconds, cpu.seconds
        # The other side of the pipeline: PostgreSQL applies one batch while this process reads
        # and decodes the next, so the slower of the two sets the rate.
        after = await postgres_cpu_seconds(env)
        db_cpu = sum(seconds - backends.get(pid, 0.0) for pid, seconds in after.items())
        await sub.stop()
        await task
        pg = figure(f"3. runner into PostgreSQL (batches of {batch_size:,})", count, pg_s, pg_cpu)
        print(f"     PostgreSQL backends meanwhile: {db_cpu / count * 1e6:5.1f} µs CPU per event")
        total = await pool.fetchval("SELECT sum(members) FROM bench_counts")
        await pool.close()
        assert total == count == sum(memory.values()), (total, count)
        print(f"  ratio in-memory / raw    {mem / raw:6.1%}")
        print(f"  ratio PostgreSQL / raw   {pg / raw:6.1%}   (goal ≥ 40%, was 14.9%)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument(
        "--batch-size",
        type=int,
        default=5000,
        help="records per runner transaction (the service's default is 2000)",
    )
    arguments = parser.parse_args()
    asyncio.run(main(arguments.events, arguments.batch_size))
