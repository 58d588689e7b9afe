"""Foundation: the real broker and database behave as the platform relies on."""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from huigong_events.topics import EVENT_TOPICS, TOPICS, TopicKind
from huigong_platform import database
from huigong_platform.kafka import ensure_topics
from huigong_platform.settings import SERVICES

from ..conftest import Stack


async def test_produce_consume_round_trip(stack: Stack) -> None:
    topic = EVENT_TOPICS[0].qualified(stack.topic_prefix)
    marker = uuid.uuid4().hex.encode()
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        sent = await producer.send_and_wait(topic, value=marker, key=b"round-trip")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=stack.bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        from aiokafka import TopicPartition

        tp = TopicPartition(topic, sent.partition)
        consumer.assign([tp])
        consumer.seek(tp, sent.offset)
        batch = await consumer.getmany(tp, timeout_ms=10000)
    finally:
        await consumer.stop()
    assert [r.value for r in batch[tp]][:1] == [marker]


async def test_topics_exist_with_catalogue_settings(stack: Stack) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([t.qualified(stack.topic_prefix) for t in TOPICS])
        partitions = {d["topic"]: len(d["partitions"]) for d in described}
        for topic in TOPICS:
            assert partitions[topic.qualified(stack.topic_prefix)] == topic.partitions, topic.name
        events = [t for t in TOPICS if t.kind == TopicKind.EVENTS]
        resources = [
            ConfigResource(ConfigResourceType.TOPIC, t.qualified(stack.topic_prefix)) for t in events
        ]
        responses = await admin.describe_configs(resources)
        retention = {}
        for response in responses:
            for resource in response.resources:
                name, configs = resource[3], resource[4]
                retention[name] = {c[0]: c[1] for c in configs}["retention.ms"]
        assert all(v == "-1" for v in retention.values()), retention
        assert len(retention) == len(events)
    finally:
        await admin.close()


async def test_topic_provisioning_is_idempotent(stack: Stack) -> None:
    assert await ensure_topics(stack.bootstrap, stack.topic_prefix) == []


async def test_broker_refuses_to_auto_create_topics(stack: Stack) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap, request_timeout_ms=3000)
    await producer.start()
    try:
        with pytest.raises(Exception):  # noqa: B017 - aiokafka raises a timeout or unknown topic
            await producer.send_and_wait(f"{stack.topic_prefix}not-in-catalogue", b"x")
    finally:
        await producer.stop()


async def test_migrations_applied_twice_change_nothing(stack: Stack) -> None:
    for service in SERVICES:
        assert await database.migrate(stack.dsn(service), service) == []
        conn = await asyncpg.connect(stack.dsn(service))
        try:
            assert await database.pending_migrations(conn, service) == []
        finally:
            await conn.close()


async def test_service_role_cannot_write_another_services_schema(stack: Stack) -> None:
    conn = await asyncpg.connect(stack.dsn("review"))
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(
                "INSERT INTO intake.checkpoints (consumer, topic, partition, next_offset) "
                "VALUES ('x', 'y', 0, 0)"
            )
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("CREATE TABLE public.sneaky (id int)")
        # Its own schema is writable.
        await conn.execute(
            "INSERT INTO checkpoints (consumer, topic, partition, next_offset) VALUES ('x', 'y', 0, 0)"
        )
    finally:
        await conn.close()


async def test_events_table_is_append_only(stack: Stack) -> None:
    # The service's login may only append and read: the records role owns the table.
    conn = await asyncpg.connect(stack.dsn("intake"))
    try:
        for sql in ("DELETE FROM events", "UPDATE events SET actor = 'x'", "TRUNCATE events"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(sql)
    finally:
        await conn.close()
    # Even the owner meets the guard trigger.
    admin = await asyncpg.connect(stack.admin_dsn)
    try:
        await admin.execute("SET ROLE huigong_intake_records")
        with pytest.raises(asyncpg.RaiseError, match="immutable"):
            await admin.execute("DELETE FROM intake.events")
    finally:
        await admin.close()
