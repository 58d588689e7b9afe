"""The event store and the outbox relay, against the real database and broker."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer

from huigong_events.envelope import from_kafka
from huigong_events.intake import ApplicationWithdrawn
from huigong_events.topics import topic_for_aggregate
from huigong_platform.database import create_pool
from huigong_platform.eventstore import ConcurrencyError, EventStore, Metadata
from huigong_platform.outbox import OutboxRelay

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
