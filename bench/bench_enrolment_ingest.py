"""Issue 4 benchmark: enrolment ingest over HTTP in 10,000-row batches until the events are in
Kafka, against raw aiokafka produce of the same payloads, in the same run. Goal: ≥ 20,000/s."""

from __future__ import annotations

import argparse
import asyncio
import random

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from huigong_events.envelope import from_kafka
from huigong_events.reference import DISTRICTS
from huigong_events.topics import topic_for_aggregate
from huigong_intake.simulator_data import enrolment_rows

from .common import Env, Stopwatch, bench_env, figure, service

BATCH = 10_000


async def end_offsets(env: Env, topic: str) -> int:
    partitions = [TopicPartition(topic, p) for p in range(topic_for_aggregate("enrolment").partitions)]
    consumer = AIOKafkaConsumer(bootstrap_servers=env.bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        return sum((await consumer.end_offsets(partitions)).values())
    finally:
        await consumer.stop()


async def main(count: int, concurrency: int) -> None:
    async with bench_env() as env:
        topic = topic_for_aggregate("enrolment").qualified(env.prefix)
        rng = random.Random(2022)
        districts = list(DISTRICTS)
        per = count // len(districts)
        batches: list[tuple[str, list[dict[str, object]]]] = []
        for district in districts:
            rows = enrolment_rows(per, district, rng)
            batches += [(district, rows[i : i + BATCH]) for i in range(0, len(rows), BATCH)]
        total = sum(len(b) for _, b in batches)
        print(
            f"enrolment ingest benchmark: {total:,} rows in {len(batches)} batches of ≤{BATCH:,}, "
            f"{concurrency} in flight"
        )
        async with service(env, "intake", 18901) as url:
            limit = asyncio.Semaphore(concurrency)
            accepted = 0

            async def send(
                client: httpx.AsyncClient, district: str, rows: list[dict[str, object]], n: int
            ) -> None:
                nonlocal accepted
                async with limit:
                    response = await client.post(
                        "/enrolments",
                        json={"rows": rows},
                        headers={
                            "X-Huigong-Principal": f"simulator:{district}",
                            "Idempotency-Key": f"bench-{n}",
                        },
                    )
                    response.raise_for_status()
                    accepted += len(response.json()["accepted"])

            watch = Stopwatch()
            async with httpx.AsyncClient(base_url=url, timeout=300) as client:
                await asyncio.gather(*(send(client, d, rows, n) for n, (d, rows) in enumerate(batches)))
            http_s = watch.seconds
            print(f"  all batches answered after {http_s:.1f} s; waiting for Kafka", flush=True)
            while await end_offsets(env, topic) < accepted:
                await asyncio.sleep(0.05)
            ingest_s = watch.seconds
        assert accepted == total, (accepted, total)
        figure("HTTP 2xx for every batch (durably recorded)", accepted, http_s)
        ingest = figure("HTTP ingest until every event is in Kafka", accepted, ingest_s)

        # Raw: the same payloads, produced straight to a topic with aiokafka, same settings.
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=env.bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            max_poll_records=5000,
        )
        await consumer.start()
        payloads: list[tuple[bytes, bytes, list[tuple[str, bytes]]]] = []
        while len(payloads) < accepted:
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                payloads += [(r.key, r.value, r.headers) for r in records]
        await consumer.stop()
        assert from_kafka(payloads[0][1], payloads[0][2]).type == "EnrolmentRequested"
        raw_topic = topic_for_aggregate("application").qualified(env.prefix)
        producer = AIOKafkaProducer(
            bootstrap_servers=env.bootstrap, enable_idempotence=True, linger_ms=5, max_batch_size=1024 * 1024
        )
        await producer.start()
        watch = Stopwatch()
        for key, value, headers in payloads:
            await producer.send(raw_topic, value=value, key=key, headers=list(headers))
        await producer.flush()
        raw = figure("raw aiokafka produce of the same payloads", len(payloads), watch.seconds)
        await producer.stop()
        print(f"  ratio ingest / raw produce  {ingest / raw:6.1%}   (goal: ingest ≥ 20,000/s)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()
    asyncio.run(main(args.rows, args.concurrency))
