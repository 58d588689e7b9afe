"""The projection runner: exactly-once in effect over the real broker and database."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from huigong_events.envelope import RecordedEvent, to_kafka
from huigong_events.topics import Topic, TopicKind, topic_for_aggregate
from huigong_platform import subscriptions
from huigong_platform.database import create_pool
from huigong_platform.subscriptions import Subscription
from huigong_testkit.factories import enrolment, recorded, retagged

from ..conftest import Stack
from .projections import EnrolmentCounts

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
async def pool(stack: Stack) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(stack.dsn("intake"), "intake")
    yield pool
    await pool.close()


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


async def publish(
    stack: Stack, records: Sequence[RecordedEvent | tuple[bytes, bytes, list[tuple[str, bytes]]]]
) -> None:
    topic = topic_for_aggregate("enrolment").qualified(stack.topic_prefix)
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap, enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        for item in records:
            key, value, headers = to_kafka(item) if isinstance(item, RecordedEvent) else item
            await producer.send(topic, value=value, key=key, headers=headers)
        await producer.flush()
    finally:
        await producer.stop()


def count_assignments(sub: Subscription) -> list[int]:
    """The number of partitions in each assignment `sub` is handed, in order, as it runs."""
    assignments: list[int] = []
    seek = sub.seek_to_checkpoints

    async def assigned(partitions: Sequence[TopicPartition]) -> None:
        assignments.append(len(partitions))
        await seek(partitions)

    sub.seek_to_checkpoints = assigned  # type: ignore[method-assign]
    return assignments


async def new_counts(pool: asyncpg.Pool, name: str) -> EnrolmentCounts:
    """A fresh counting projection, its table created."""
    projection = EnrolmentCounts(unique(name), unique("counts"))
    async with pool.acquire() as conn:
        await projection.create(conn)
    return projection


async def counted(pool: asyncpg.Pool, projection: EnrolmentCounts, district: str, platform: str) -> int:
    async with pool.acquire() as conn:
        return (await projection.counts(conn)).get((district, platform), 0)


async def run_until(sub: Subscription, condition, timeout: float = 60) -> None:  # type: ignore[no-untyped-def]
    task = asyncio.create_task(sub.run())
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while not await condition():
            if asyncio.get_running_loop().time() > deadline:
                pytest.fail(f"{sub.projection.name}: condition not reached in {timeout} s")
            if task.done():
                task.result()
            await asyncio.sleep(0.2)
    finally:
        await sub.stop()
        await asyncio.wait_for(task, 30)


async def test_poison_event_is_dead_lettered_its_aggregate_parked_others_flow(
    stack: Stack, pool: asyncpg.Pool
) -> None:
    # Other tests publish enrolments on the same topic: this test's records carry their own
    # platform names, and only those are compared.
    district = "370281"
    tag = uuid.uuid4().hex[:6]
    ok_platform = f"饿了么-{tag}"
    healthy = [recorded(enrolment(district, ok_platform)) for _ in range(20)]
    poison_first = enrolment(district, "POISON")
    aggregate = str(uuid.uuid4())
    poisoned = recorded(poison_first, aggregate_id=aggregate, version=1)
    later = recorded(
        enrolment(district, f"顺丰-{tag}"), aggregate_id=aggregate, version=2, prev_hash=poisoned.hash
    )
    garbage = (b"garbage", b"{not json", [("ce_specversion", b"1.0")])
    await publish(stack, [*healthy[:10], poisoned, garbage, later, *healthy[10:]])

    projection = EnrolmentCounts(unique("poison"), unique("counts"))
    async with pool.acquire() as conn:
        await projection.create(conn)
    sub = Subscription(projection, pool, stack.bootstrap, "intake", stack.topic_prefix, batch_size=7)

    async def settled() -> bool:
        async with pool.acquire() as conn:
            counts = await projection.counts(conn)
            return counts.get((district, ok_platform), 0) >= 20

    await run_until(sub, settled)
    async with pool.acquire() as conn:
        counts = await projection.counts(conn)
        letters = await conn.fetch(
            "SELECT aggregate_id, reason, status FROM dead_letters WHERE consumer = $1 ORDER BY id",
            projection.name,
        )
        parked = await conn.fetch(
            "SELECT aggregate_id, aggregate_version FROM parked WHERE consumer = $1", projection.name
        )
    # Other aggregates all flowed; neither the poison record nor the one behind it was applied.
    assert {k: v for k, v in counts.items() if k[1].endswith(tag)} == {(district, ok_platform): 20}
    reasons = {r["aggregate_id"]: r["reason"] for r in letters}
    assert reasons[aggregate] == "poison record for the test"
    # An untagged record is refused before anyone reads it (its value is not even JSON).
    assert any(r["reason"].startswith("not authentic") for r in letters if r["aggregate_id"] is None)
    assert all(r["status"] == "open" for r in letters)
    assert [(r["aggregate_id"], r["aggregate_version"]) for r in parked] == [(aggregate, 2)]


async def test_redelivered_event_at_another_offset_is_not_counted_twice(
    stack: Stack, pool: asyncpg.Pool
) -> None:
    # The outbox relay can publish one event twice (crash after the broker's ack).
    district = "370283"
    platform = f"货拉拉-{uuid.uuid4().hex[:6]}"
    events = [recorded(enrolment(district, platform)) for _ in range(10)]
    await publish(stack, [*events, *events[:4]])
    projection = EnrolmentCounts(unique("dup"), unique("counts"))
    async with pool.acquire() as conn:
        await projection.create(conn)
    sub = Subscription(projection, pool, stack.bootstrap, "intake", stack.topic_prefix, batch_size=3)

    async def caught_up() -> bool:
        return sum(sub.lag.values()) == 0 and bool(sub.lag) and sub.applied >= 10

    await run_until(sub, caught_up)
    async with pool.acquire() as conn:
        counts = await projection.counts(conn)
    assert {k: v for k, v in counts.items() if k[1] == platform} == {(district, platform): 10}


async def test_consumer_killed_mid_batch_resumes_without_loss_or_double_count(
    stack: Stack, pool: asyncpg.Pool
) -> None:
    districts = ["370202", "370203", "370213", "370212"]
    total = 6000
    tag = uuid.uuid4().hex[:6]
    events = [recorded(enrolment(districts[i % 4], f"平台{i % 3}-{tag}")) for i in range(total)]
    await publish(stack, events)
    expected = Counter((e.data["district"], e.data["platform"]) for e in events)

    name, table = unique("killed"), unique("counts")
    args = [stack.dsn("intake"), stack.bootstrap, stack.topic_prefix, name, table, "50"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    async def start() -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.integration.consumer_main", *args, env=env, cwd=str(REPO)
        )

    async def applied() -> int:
        exists = await pool.fetchval("SELECT to_regclass($1)", f"intake.{table}")
        if not exists:
            return 0
        return int(
            await pool.fetchval(
                f"SELECT coalesce(sum(members), 0) FROM {table} WHERE platform LIKE $1", f"%-{tag}"
            )
        )

    kills = 0
    proc = await start()
    try:
        # Kill it three times while it is part-way through, each time with work left to do.
        while kills < 3:
            await asyncio.sleep(0.3)
            done = await applied()
            if proc.returncode is not None:
                pytest.fail(f"consumer exited by itself with {proc.returncode}")
            if done > (kills + 1) * 400:
                proc.send_signal(signal.SIGKILL)
                await proc.wait()
                kills += 1
                assert await applied() < total, "finished before it could be killed; raise total"
                proc = await start()
        deadline = asyncio.get_running_loop().time() + 120
        while await applied() < total and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.5)
        await asyncio.sleep(1.5)  # anything double-applied would show up now
    finally:
        if proc.returncode is None:
            proc.terminate()
            await proc.wait()

    # The same stream applied once, cleanly, in this process: the reference.
    clean = EnrolmentCounts(unique("clean"), unique("counts"))
    async with pool.acquire() as conn:
        await clean.create(conn)
    sub = Subscription(clean, pool, stack.bootstrap, "intake", stack.topic_prefix, batch_size=2000)

    async def clean_done() -> bool:
        async with pool.acquire() as conn:
            c = await clean.counts(conn)
        return sum(v for (_, p), v in c.items() if p.endswith(tag)) >= total

    await run_until(sub, clean_done, timeout=120)
    async with pool.acquire() as conn:
        killed_counts = {
            (r[0], r[1]): r[2]
            for r in await conn.fetch(f"SELECT district, platform, members FROM {table}")
            if r[1].endswith(tag)
        }
        clean_counts = await clean.counts(conn)
    assert killed_counts == dict(expected)
    assert {k: v for k, v in clean_counts.items() if k[1].endswith(tag)} == dict(expected)


async def test_a_type_the_projection_ignores_keeps_its_place_however_broken_its_body(
    stack: Stack, pool: asyncpg.Pool
) -> None:
    # A record of a type the projection does not read is taken from its headers only: its body,
    # even broken, never dead-letters it, and the aggregate's next event still follows it.
    district = "370285"
    platform = f"闪送-{uuid.uuid4().hex[:6]}"
    aggregate = str(uuid.uuid4())
    key, _, headers = to_kafka(recorded(enrolment(district, platform), aggregate_id=aggregate, version=1))
    # Written by intake itself (tagged), so only its type and body are odd.
    ignored = (
        key,
        b"{not json",
        retagged(
            "intake",
            b"{not json",
            [(n, b"SubmissionWindowOpened" if n == "ce_type" else v) for n, v in headers],
        ),
    )
    following = recorded(enrolment(district, platform), aggregate_id=aggregate, version=2)
    await publish(stack, [ignored, following])
    projection = EnrolmentCounts(unique("ignored"), unique("counts"))
    async with pool.acquire() as conn:
        await projection.create(conn)
    sub = Subscription(projection, pool, stack.bootstrap, "intake", stack.topic_prefix, batch_size=50)

    async def counted() -> bool:
        async with pool.acquire() as conn:
            return (await projection.counts(conn)).get((district, platform), 0) >= 1

    await run_until(sub, counted)
    async with pool.acquire() as conn:
        letters = await conn.fetchval(
            "SELECT count(*) FROM dead_letters WHERE consumer = $1 AND aggregate_id = $2",
            projection.name,
            aggregate,
        )
        version = await conn.fetchval(
            "SELECT aggregate_version FROM applied_versions WHERE consumer = $1 AND aggregate_id = $2",
            projection.name,
            aggregate,
        )
    assert letters == 0 and version == 2


async def test_a_batch_slower_than_max_poll_interval_keeps_its_member_in_its_group(
    stack: Stack, pool: asyncpg.Pool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # aiokafka drops a member that asks for no records for max_poll_interval_ms, and it rejoins
    # with its next request (a new assignment, a rebalance of the whole group each time). A
    # batch three times that long must leave the member where it is and apply everything once.
    district = "370285"
    platform = f"闪送-{uuid.uuid4().hex[:6]}"
    await publish(stack, [recorded(enrolment(district, platform)) for _ in range(30)])
    projection = await new_counts(pool, "slow")
    slow = tmp_path / "slow-batch"
    slow.write_text(f"9 {projection.name}")
    monkeypatch.setattr(subscriptions, "_SLOW_BATCH_FILE", str(slow))
    sub = Subscription(
        projection, pool, stack.bootstrap, "intake", stack.topic_prefix, batch_size=10, max_poll_seconds=3
    )
    assignments = count_assignments(sub)

    async def settled() -> bool:
        return await counted(pool, projection, district, platform) >= 30

    await run_until(sub, settled, timeout=90)
    async with pool.acquire() as conn:
        counts = await projection.counts(conn)
    assert not slow.exists()  # the slow batch was taken
    assert counts[(district, platform)] == 30
    # One assignment of every partition, never taken away and handed back.
    assert assignments == [6]


async def test_a_new_member_with_a_short_session_stays_in_its_group_while_it_finds_its_start(
    stack: Stack, pool: asyncpg.Pool
) -> None:
    # A consumer that has never read a partition starts it at the beginning. aiokafka heartbeats
    # only once the assignment listener returns, so finding those starts must take well under a
    # session. Asked partition by partition, each start waited out the fetcher's long poll on the
    # partitions already started (half a second while they hold nothing new): with a 2 s session
    # (the broker's minimum here) and nine empty partitions the member was put out of its group
    # and rejoined, over and over.
    district = "370283"
    platform = f"货拉拉-{uuid.uuid4().hex[:6]}"
    await publish(stack, [recorded(enrolment(district, platform)) for _ in range(12)])
    quiet = tuple(
        Topic(f"huigong.test.quiet-{uuid.uuid4().hex[:8]}", "intake", TopicKind.EVENTS, 3) for _ in range(3)
    )
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t.qualified(stack.topic_prefix), 3, 1) for t in quiet])
    finally:
        await admin.close()

    class WithQuietTopics(EnrolmentCounts):
        topics = (*EnrolmentCounts.topics, *quiet)

    projection = WithQuietTopics(unique("fresh"), unique("counts"))
    async with pool.acquire() as conn:
        await projection.create(conn)
    sub = Subscription(
        projection, pool, stack.bootstrap, "intake", stack.topic_prefix, batch_size=50, session_seconds=2
    )
    assignments = count_assignments(sub)

    async def settled() -> bool:
        async with pool.acquire() as conn:
            if (await projection.counts(conn)).get((district, platform), 0) < 12:
                return False
        # Stay a few sessions more: a member dropped from its group shows as a second assignment.
        await asyncio.sleep(6)
        return True

    await run_until(sub, settled, timeout=90)
    async with pool.acquire() as conn:
        counts = await projection.counts(conn)
    assert counts[(district, platform)] == 12
    assert assignments == [15]


async def test_a_consumer_that_stops_fetching_while_records_wait_is_replaced_and_catches_up(
    stack: Stack, pool: asyncpg.Pool
) -> None:
    # A client can wedge without an error reaching us: after a three-broker run lost its group's
    # coordinator, one consumer stayed in its group fetching nothing while thousands of records
    # waited. Here the consumer is wedged on purpose (its partitions paused behind the runner's
    # back); records published after that must still be counted, once each.
    district = "370214"
    platform = f"达达-{uuid.uuid4().hex[:6]}"
    await publish(stack, [recorded(enrolment(district, platform)) for _ in range(10)])
    projection = await new_counts(pool, "stall")
    sub = Subscription(projection, pool, stack.bootstrap, "intake", stack.topic_prefix, batch_size=50)
    sub.watch.limit = 3.0
    assignments = count_assignments(sub)

    wedged = False

    async def settled() -> bool:
        nonlocal wedged
        if not wedged:
            if await counted(pool, projection, district, platform) < 10:
                return False
            consumer = sub._consumer
            assert consumer is not None
            consumer.pause(*consumer.assignment())
            wedged = True
            await publish(stack, [recorded(enrolment(district, platform)) for _ in range(10)])
        return await counted(pool, projection, district, platform) >= 20

    await run_until(sub, settled, timeout=90)
    async with pool.acquire() as conn:
        counts = await projection.counts(conn)
    assert counts[(district, platform)] == 20
    # The wedged consumer was given up and a fresh one assigned every partition again.
    assert assignments == [6, 6]
