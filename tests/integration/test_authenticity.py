"""Forged records on the event topics, as an admin Kafka principal can write them, against real
intake, registry and metrics processes: none is counted, each is a dead letter "not authentic"
naming its record, counted on /metrics and logged as an alert, and `huigong verify` fails.

This module runs in a database and topic prefix of its own: its figures are absolute."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from huigong_events.envelope import RecordedEvent, hash_input, to_kafka
from huigong_events.topics import topic_for_aggregate
from huigong_platform.database import create_pool
from huigong_platform.eventstore import row_to_event

from ..conftest import Stack, isolated_stack
from .processes import ServiceProcess, running
from .test_metrics import enrol, figure_reaches, metric_of, part, progress
from .test_review import eventually

VIEWER = {"X-Huigong-Principal": "viewer:prometheus"}
Services = tuple[ServiceProcess, ...]
DISTRICT = "370203"


@pytest.fixture(scope="module")
async def own_stack(stack_env: dict[str, str]) -> AsyncIterator[Stack]:
    async with isolated_stack(stack_env) as s:
        yield s


@pytest.fixture(scope="module")
async def services(own_stack: Stack) -> AsyncIterator[Services]:
    async with running(own_stack, ("intake", "registry", "metrics"), 1750, "authenticity-test") as procs:
        yield procs


@pytest.fixture
async def registry_db(own_stack: Stack) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(own_stack.dsn("registry"), "registry")
    yield pool
    await pool.close()


@pytest.fixture
async def metrics_db(own_stack: Stack) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(own_stack.dsn("metrics"), "metrics")
    yield pool
    await pool.close()


def rehashed(event: RecordedEvent, **changes: Any) -> RecordedEvent:
    """The event changed, its chain hash recomputed as anyone can (public fields, SHA-256)."""
    fields = {**event.__dict__, **changes}
    fields["hash"] = hashlib.sha256(hash_input(fields)).hexdigest()
    return RecordedEvent.trusted(**fields)


async def publish(stack: Stack, records: list[RecordedEvent]) -> list[tuple[str, int, int]]:
    """Straight onto the topics, with a client of our own (what the admin principal could do)."""
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap, enable_idempotence=True)
    await producer.start()
    sent = []
    try:
        for record in records:
            topic = topic_for_aggregate(record.aggregate_type).qualified(stack.topic_prefix)
            key, value, headers = to_kafka(record)
            meta = await producer.send_and_wait(topic, value=value, key=key, headers=headers)
            sent.append((topic, meta.partition, meta.offset))
    finally:
        await producer.stop()
    return sent


async def members(metrics: httpx.AsyncClient, area: str) -> int:
    actual: int = part(metric_of(await progress(metrics), "members_enrolled"), area)["actual"]
    return actual


async def test_forged_member_records_are_never_counted_and_each_is_a_dead_letter(
    own_stack: Stack,
    services: Services,
    intake: httpx.AsyncClient,
    metrics: httpx.AsyncClient,
    registry_db: asyncpg.Pool,
    metrics_db: asyncpg.Pool,
) -> None:
    await enrol(intake, f"district:{DISTRICT}", DISTRICT, [date(2024, 3, 1)])
    await figure_reaches(metrics, "members_enrolled", 1, "the member is counted", area=DISTRICT)
    row = await registry_db.fetchrow("SELECT * FROM events WHERE type = 'MemberEnrolled' LIMIT 1")
    assert row is not None
    genuine = row_to_event(row)
    assert genuine.auth_key == "registry.1" and genuine.auth_tag

    other_member = hashlib.sha256(uuid.uuid4().bytes).hexdigest()
    # 1. Content altered (another member, same district), the hash and the tag copied.
    copied = RecordedEvent.trusted(
        **{
            **genuine.__dict__,
            "id": uuid.uuid4(),
            "aggregate_id": other_member,
            "data": {**genuine.data, "member_key": other_member},
        }
    )
    # 2. The next version of the genuine member, the chain hash recomputed (a second enrolment).
    next_version = rehashed(
        genuine, id=uuid.uuid4(), aggregate_version=2, prev_hash=genuine.hash, auth_key=None, auth_tag=None
    )
    # 3. A new member with a recomputed hash and the registry's key id, but no key to tag with.
    new_member = rehashed(
        genuine,
        id=uuid.uuid4(),
        aggregate_id=other_member + "0",
        data={**genuine.data, "member_key": other_member + "0"},
        auth_tag="0" * 64,
    )
    forged = await publish(own_stack, [copied, next_version, new_member])
    # A genuine event after them: once it is counted, the consumer has passed the forgeries.
    await enrol(intake, f"district:{DISTRICT}", DISTRICT, [date(2024, 3, 2)])
    await figure_reaches(metrics, "members_enrolled", 2, "the second genuine member", area=DISTRICT)

    async def all_dead_lettered() -> list[asyncpg.Record] | None:
        letters = await metrics_db.fetch(
            """SELECT topic, partition, "offset", reason, status FROM dead_letters
               WHERE consumer = 'metrics.actuals' ORDER BY id"""
        )
        return letters if len(letters) >= len(forged) else None

    letters = await eventually(all_dead_lettered, "each forgery is a dead letter")
    assert {(r["topic"], r["partition"], r["offset"]) for r in letters} == set(forged)
    assert all(r["reason"].startswith("not authentic") and r["status"] == "open" for r in letters)
    assert await members(metrics, DISTRICT) == 2  # no forgery was counted
    gauges = (await metrics.get("/metrics", headers=VIEWER)).text
    assert 'huigong_records_not_authentic_total{consumer="metrics.actuals",service="metrics"} 3.0' in gauges
    (metrics_process,) = (s for s in services if s.service == "metrics")
    log = metrics_process.log_path.read_text(errors="replace")
    assert log.count('"ALERT record not authentic"') >= len(forged)
    assert genuine.auth_tag not in log  # the alert names the record, not its tag
