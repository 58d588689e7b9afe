"""The event store and the outbox relay, against the real database and broker."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer

from huigong_events.envelope import from_kafka, to_kafka
from huigong_events.intake import ApplicationWithdrawn, EnrolmentRequested
from huigong_events.topics import topic_for_aggregate
from huigong_platform.database import create_pool
from huigong_platform.eventstore import ConcurrencyError, EventStore, Metadata, row_to_event
from huigong_platform.outbox import OutboxRelay, partition_of
from huigong_testkit.factories import enrolment

from ..conftest import Stack
from .stackctl import stack as stackctl


@pytest.fixture
async def pool(stack: Stack) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(stack.dsn("intake"), "intake")
    yield pool
    await pool.close()


def withdrawn(application_id: uuid.UUID, n: int) -> ApplicationWithdrawn:
    return ApplicationWithdrawn(application_id=application_id, reason=f"第{n}次测试撤回")


META = Metadata(actor="district:370202", source="370202", correlation_id="test")


async def test_concurrent_appends_to_one_aggregate_exactly_one_wins(stack: Stack, pool: asyncpg.Pool) -> None:
    store = EventStore(pool, stack.topic_prefix)
    app_id = uuid.uuid4()
    await store.append(str(app_id), [withdrawn(app_id, 0)], 0, META)
    results = await asyncio.gather(
        *(store.append(str(app_id), [withdrawn(app_id, i)], 1, META) for i in range(1, 6)),
        return_exceptions=True,
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    losers = [r for r in results if isinstance(r, BaseException)]
    assert len(winners) == 1
    assert len(losers) == 4 and all(isinstance(e, ConcurrencyError) for e in losers)
    stream = await store.read("application", str(app_id))
    assert [e.aggregate_version for e in stream.events] == [1, 2]
    # The chain links: version 2 points at version 1's hash, and both hashes verify.
    assert stream.events[1].prev_hash == stream.events[0].hash
    assert all(e.hash_is_valid() for e in stream.events)


async def test_stale_expected_version_is_a_typed_conflict(stack: Stack, pool: asyncpg.Pool) -> None:
    store = EventStore(pool, stack.topic_prefix)
    app_id = uuid.uuid4()
    with pytest.raises(ConcurrencyError) as info:
        await store.append(str(app_id), [withdrawn(app_id, 0)], 3, META)
    assert (info.value.expected, info.value.actual) == (3, 0)


async def test_many_new_aggregates_are_recorded_at_once_each_sealed_with_its_outbox_row(
    stack: Stack, pool: asyncpg.Pool
) -> None:
    store = EventStore(pool, stack.topic_prefix)
    batch = [(str(e.enrolment_id), e.to_data()) for e in (enrolment() for _ in range(300))]
    async with pool.acquire() as conn, conn.transaction():
        await store.start_many(conn, EnrolmentRequested, batch, META)
    for aggregate_id, data in batch:
        [event] = (await store.read("enrolment", aggregate_id)).events
        assert (event.type, event.aggregate_version, event.prev_hash) == ("EnrolmentRequested", 1, None)
        assert event.data == data and event.actor == META.actor and event.source == META.source
        assert event.hash_is_valid()
    topics = await pool.fetch(
        "SELECT o.topic FROM outbox o JOIN events e USING (position) WHERE e.aggregate_id = ANY($1::text[])",
        [a for a, _ in batch],
    )
    assert [t["topic"] for t in topics] == [
        topic_for_aggregate("enrolment").qualified(stack.topic_prefix)
    ] * 300

    # One aggregate that exists already: nothing of that batch is recorded.
    again = [(str(e.enrolment_id), e.to_data()) for e in (enrolment() for _ in range(5))] + batch[:1]
    with pytest.raises(ConcurrencyError):
        async with pool.acquire() as conn, conn.transaction():
            await store.start_many(conn, EnrolmentRequested, again, META)
    assert not await pool.fetchval(
        "SELECT count(*) FROM events WHERE aggregate_id = ANY($1::text[])", [a for a, _ in again[:5]]
    )


async def test_the_relay_publishes_each_event_once_in_order_on_the_partition_of_its_key(
    stack: Stack, pool: asyncpg.Pool
) -> None:
    store = EventStore(pool, stack.topic_prefix)
    enrolments = [(str(e.enrolment_id), e.to_data()) for e in (enrolment() for _ in range(2500))]
    app_ids = [uuid.uuid4() for _ in range(3)]
    async with pool.acquire() as conn, conn.transaction():
        await store.start_many(conn, EnrolmentRequested, enrolments[:1200], META)
    for app_id in app_ids:  # 70 events in one append: the COPY path
        await store.append(str(app_id), [withdrawn(app_id, n) for n in range(70)], 0, META)
    async with pool.acquire() as conn, conn.transaction():
        await store.start_many(conn, EnrolmentRequested, enrolments[1200:], META)
    caused = Metadata(actor="city:staff01", source="370200", correlation_id="c-1", causation_id="cause-1")
    for app_id in app_ids:
        await store.append(str(app_id), [withdrawn(app_id, 70)], 70, caused)

    relay = OutboxRelay(pool, stack.dsn("intake"), stack.bootstrap, "intake", poll_interval=0.1)
    task = asyncio.create_task(relay.run())
    mine = [a for a, _ in enrolments] + [str(a) for a in app_ids]
    try:
        for _ in range(240):
            if not await pool.fetchval(
                "SELECT count(*) FROM outbox o JOIN events e USING (position) "
                "WHERE o.published_at IS NULL AND e.aggregate_id = ANY($1::text[])",
                mine,
            ):
                break
            await asyncio.sleep(0.25)
        else:
            pytest.fail("outbox not drained")
    finally:
        await relay.stop()
        await asyncio.wait_for(task, 30)

    stored = await stored_records(pool, mine)
    for aggregate_type, count in (("enrolment", 2500), ("application", 3)):
        topic = topic_for_aggregate(aggregate_type)
        records = await raw_records(stack, topic.qualified(stack.topic_prefix), set(stored))
        per_key: dict[bytes, list[tuple[bytes, bytes, list[tuple[str, bytes]]]]] = {}
        for partition, key, value, headers in records:
            # The partition the Kafka clients pick for the key, so an aggregate stays on one.
            assert partition == partition_of(key, topic.partitions)
            per_key.setdefault(key, []).append((key, value, headers))
        assert len(per_key) == count
        for key, published in per_key.items():
            # Every event once, in order, byte for byte what the envelope's binding makes of it.
            assert published == stored[key.decode()]


async def test_several_relays_of_one_service_hand_over_and_keep_each_aggregate_in_order(
    stack: Stack, pool: asyncpg.Pool
) -> None:
    # One relay per instance of a service, all on one store: one publishes (it holds the lease),
    # the others stand by, and when it stops the next takes over from the first unmarked row.
    store = EventStore(pool, stack.topic_prefix)
    relays = [
        OutboxRelay(pool, stack.dsn("intake"), stack.bootstrap, "intake", poll_interval=0.05)
        for _ in range(3)
    ]
    tasks = [asyncio.create_task(r.run()) for r in relays]
    app_ids = [uuid.uuid4() for _ in range(6)]
    stopped: list[OutboxRelay] = []

    async def hand_over() -> None:
        """Stop the relay that publishes, once it has, so that another must take over."""
        for _ in range(200):
            active = [r for r in relays if r.published and r not in stopped]
            if active:
                await active[0].stop()
                await asyncio.wait_for(tasks[relays.index(active[0])], 30)
                stopped.append(active[0])
                return
            await asyncio.sleep(0.1)
        pytest.fail("no relay published")

    try:
        for version in range(24):
            for app_id in app_ids:
                await store.append(str(app_id), [withdrawn(app_id, version)], version, META)
            if version in (7, 15):
                await hand_over()
        for _ in range(240):
            if not await pool.fetchval(
                "SELECT count(*) FROM outbox o JOIN events e USING (position) "
                "WHERE o.published_at IS NULL AND e.aggregate_id = ANY($1::text[])",
                [str(a) for a in app_ids],
            ):
                break
            await asyncio.sleep(0.25)
        else:
            pytest.fail("outbox not drained")
    finally:
        for relay, task in zip(relays, tasks, strict=True):
            await relay.stop()
            await asyncio.wait_for(task, 30)

    # The three relays published in turn.
    assert len(stopped) == 2 and all(r.published for r in relays)
    topic = topic_for_aggregate("application").qualified(stack.topic_prefix)
    versions: dict[bytes, list[int]] = {}
    for _, key, _, headers in await raw_records(stack, topic, {str(a) for a in app_ids}):
        versions.setdefault(key, []).append(int(dict(headers)["ce_aggregateversion"]))
    # Every event of every aggregate once, in the order of the store.
    assert versions == {str(a).encode(): list(range(1, 25)) for a in app_ids}


async def stored_records(
    pool: asyncpg.Pool, aggregate_ids: list[str]
) -> dict[str, list[tuple[bytes, bytes, list[tuple[str, bytes]]]]]:
    """Each aggregate's events as stored, in order, as the envelope's binding puts them on Kafka."""
    rows = await pool.fetch(
        "SELECT * FROM events WHERE aggregate_id = ANY($1::text[]) ORDER BY position", aggregate_ids
    )
    stored: dict[str, list[tuple[bytes, bytes, list[tuple[str, bytes]]]]] = {}
    for row in rows:
        stored.setdefault(row["aggregate_id"], []).append(to_kafka(row_to_event(row)))
    return stored


async def raw_records(
    stack: Stack, topic: str, keys: set[str]
) -> list[tuple[int, bytes, bytes, list[tuple[str, bytes]]]]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=stack.bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    found: list[tuple[int, bytes, bytes, list[tuple[str, bytes]]]] = []
    try:
        while batch := await consumer.getmany(timeout_ms=1000):
            for records in batch.values():
                found += [
                    (r.partition, r.key, r.value, list(r.headers))
                    for r in records
                    if r.key is not None and r.value is not None and r.key.decode() in keys
                ]
    finally:
        await consumer.stop()
    return found


async def read_topic(
    stack: Stack, topic: str, keys: set[bytes], timeout: float = 60
) -> list[tuple[int, bytes, object]]:
    """Every record of the given keys on the topic (other tests write there too)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=stack.bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    got: list[tuple[int, bytes, object]] = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            if not batch:
                break
            for records in batch.values():
                got.extend(
                    (r.partition, r.key, from_kafka(r.value, r.headers)) for r in records if r.key in keys
                )
    finally:
        await consumer.stop()
    return got


@pytest.mark.outage
async def test_relay_delivers_everything_once_in_order_after_a_broker_outage(
    stack: Stack, pool: asyncpg.Pool
) -> None:
    store = EventStore(pool, stack.topic_prefix)
    relay = OutboxRelay(pool, stack.dsn("intake"), stack.bootstrap, "intake", poll_interval=0.1)
    task = asyncio.create_task(relay.run())
    app_ids = [uuid.uuid4() for _ in range(3)]
    try:
        await stackctl("stop", "kafka")
        # Appended while the broker is down: recorded, waiting in the outbox.
        for n in range(5):
            for app_id in app_ids:
                await store.append(str(app_id), [withdrawn(app_id, n)], n, META)
        await asyncio.sleep(2)
        pending = await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        assert pending >= 15
        await stackctl("start", "kafka")
        for _ in range(120):
            if not await pool.fetchval(
                "SELECT count(*) FROM outbox o JOIN events e USING (position) "
                "WHERE o.published_at IS NULL AND e.aggregate_id = ANY($1::text[])",
                [str(a) for a in app_ids],
            ):
                break
            await asyncio.sleep(0.5)
        else:
            pytest.fail("outbox not drained 60 s after the broker came back")
    finally:
        await stackctl("start", "kafka")
        await relay.stop()
        await asyncio.wait_for(task, 30)
    topic = topic_for_aggregate("application").qualified(stack.topic_prefix)
    mine = await read_topic(stack, topic, {str(a).encode() for a in app_ids}, timeout=30)
    per_aggregate: dict[bytes, list[int]] = {}
    for _, key, event in mine:
        per_aggregate.setdefault(key, []).append(event.aggregate_version)  # type: ignore[attr-defined]
    # Every event arrived, once, in its aggregate's order.
    assert per_aggregate == {str(a).encode(): [1, 2, 3, 4, 5] for a in app_ids}
