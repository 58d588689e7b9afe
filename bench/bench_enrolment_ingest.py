"""Benchmark: enrolment ingest over HTTP in 10,000-row batches until the events are in
Kafka, against raw aiokafka produce of the same payloads, in the same run. Goal: ≥ 20,000/s.

The ingest figure runs from the first request to the moment the topic's end offsets cover every
accepted row: a real intake process (with its outbox relay child) judges each row, keys and seals
the personal data, records the events with their outbox rows, answers, and relays them to Kafka.
The request bodies are encoded before the clock starts, as a district system would have its file
ready; the raw figure produces the very records the relay published, one `send()` each, with the
platform's producer settings. The CPU seconds of the intake process, of its relay and of the
PostgreSQL backends serving them are printed too: on a shared machine they say more than the
wall clock, and they bound what an idle machine can do.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random

import httpx
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from huigong_events.envelope import from_kafka
from huigong_events.reference import DISTRICTS
from huigong_events.topics import topic_for_aggregate
from huigong_platform.kafka import producer as platform_producer
from huigong_simulator.data import enrolment_rows

from .common import (
    Env,
    Stopwatch,
    api_key,
    bench_env,
    figure,
    free_port,
    postgres_cpu_seconds,
    process_cpu_seconds,
    service_process,
)

BATCH = 10_000


async def main(count: int, concurrency: int) -> None:
    async with bench_env() as env:
        topic = topic_for_aggregate("enrolment").qualified(env.prefix)
        rng = random.Random(2022)
        districts = list(DISTRICTS)
        per = -(-count // len(districts))
        batches: list[tuple[str, bytes, int]] = []
        seen: set[str] = set()
        for district in districts:
            rows = enrolment_rows(per, district, rng, seen_ids=seen)
            for i in range(0, len(rows), BATCH):
                chunk = rows[i : i + BATCH]
                batches.append((district, orjson.dumps({"rows": chunk}), len(chunk)))
        total = sum(n for *_, n in batches)
        keys = {d: await api_key(env, f"simulator:{d}") for d in districts}
        print(
            f"enrolment ingest benchmark: {total:,} rows in {len(batches)} batches of ≤{BATCH:,}, "
            f"{concurrency} in flight"
        )
        async with service_process(env, "intake", free_port()) as intake:
            ingest, accepted = await ingest_over_http(
                env, intake.url, intake.pid, topic, batches, keys, concurrency
            )
        assert accepted == total, (accepted, total)
        raw = await raw_produce(env, topic, accepted)
        print(f"  ratio ingest / raw produce  {ingest / raw:6.1%}   (goal ≥ 60%, was 39.8%)")


async def ingest_over_http(
    env: Env,
    url: str,
    pid: int,
    topic: str,
    batches: list[tuple[str, bytes, int]],
    keys: dict[str, str],
    concurrency: int,
) -> tuple[float, int]:
    limit = asyncio.Semaphore(concurrency)
    accepted = 0

    async def send(client: httpx.AsyncClient, district: str, body: bytes, n: int) -> None:
        nonlocal accepted
        async with limit:
            response = await client.post(
                "/enrolments",
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "Authorization": f"Bearer {keys[district]}",
                    "Idempotency-Key": f"bench-{n}",
                },
            )
            response.raise_for_status()
            accepted += len(orjson.loads(response.content)["accepted"])

    partitions = [TopicPartition(topic, p) for p in range(topic_for_aggregate("enrolment").partitions)]
    watcher = AIOKafkaConsumer(bootstrap_servers=env.bootstrap, enable_auto_commit=False)
    await watcher.start()
    try:
        cpu_before = process_cpu_seconds(pid)
        pg_before = await postgres_cpu_seconds(env)
        watch = Stopwatch()
        async with httpx.AsyncClient(base_url=url, timeout=300) as client:
            await asyncio.gather(*(send(client, d, body, n) for n, (d, body, _) in enumerate(batches)))
        http_s = watch.seconds
        print(f"  all batches answered after {http_s:.1f} s; waiting for Kafka", flush=True)
        while sum((await watcher.end_offsets(partitions)).values()) < accepted:
            await asyncio.sleep(0.02)
        ingest_s = watch.seconds
        cpu_after = process_cpu_seconds(pid)
        cpu = {name: seconds - cpu_before.get(name, 0.0) for name, seconds in cpu_after.items()}
        pg_after = await postgres_cpu_seconds(env)
        cpu["PostgreSQL"] = sum(seconds - pg_before.get(pid, 0.0) for pid, seconds in pg_after.items())
    finally:
        await watcher.stop()
    figure("HTTP 2xx for every batch (durably recorded)", accepted, http_s)
    ingest = figure("HTTP ingest until every event is in Kafka", accepted, ingest_s)
    per_10k = ", ".join(f"{name} {seconds / accepted * BATCH:.2f} s" for name, seconds in cpu.items())
    total = sum(cpu.values()) / accepted * BATCH
    print(f"  CPU per 10,000 rows: {per_10k}; together {total:.2f} s")
    # On a machine of its own the work spreads over every core; it cannot go faster than this.
    bound = BATCH / (total / (os.cpu_count() or 1))
    print(
        f"  so on {os.cpu_count()} idle cores at most {bound:,.0f} enrolments/s "
        "(CPU bound; the broker and this client not counted)"
    )
    return ingest, accepted


async def raw_produce(env: Env, topic: str, count: int) -> float:
    """The same records, read back from the topic, produced again with plain aiokafka."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=env.bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=5000,
    )
    await consumer.start()
    payloads: list[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]] = []
    try:
        while len(payloads) < count:
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                payloads += [(r.key, r.value, list(r.headers)) for r in records]
    finally:
        await consumer.stop()
    assert from_kafka(payloads[0][1], payloads[0][2]).type == "EnrolmentRequested"
    raw_topic = topic_for_aggregate("application").qualified(env.prefix)
    producer = platform_producer(env.bootstrap, "bench-raw")
    await producer.start()
    try:
        watch = Stopwatch()
        for key, value, headers in payloads:
            await producer.send(raw_topic, value=value, key=key, headers=headers)
        await producer.flush()
        return figure("raw aiokafka produce of the same payloads", len(payloads), watch.seconds)
    finally:
        await producer.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()
    asyncio.run(main(args.rows, args.concurrency))
