"""Kafka clients with the settings every service shares, and topic provisioning from the
catalogue in `huigong_events.topics`."""

from __future__ import annotations

import asyncio
import contextlib

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from huigong_events.topics import TOPICS, Topic

from . import logs

log = logs.get(__name__)


def producer(bootstrap: str, client_id: str) -> AIOKafkaProducer:
    # Idempotence (implies acks=all) keeps each partition free of duplicates and in order across
    # the producer's own retries; the outbox covers the rest.
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        max_batch_size=1024 * 1024,
        request_timeout_ms=15000,
        retry_backoff_ms=200,
    )


def consumer(bootstrap: str, group_id: str | None, client_id: str) -> AIOKafkaConsumer:
    # Offsets live in PostgreSQL with the projection rows; Kafka's committed offsets are only a
    # mirror for lag tooling, so auto-commit stays off.
    return AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group_id,
        client_id=client_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        max_poll_records=5000,
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )


async def ensure_topics(bootstrap: str, prefix: str = "", topics: tuple[Topic, ...] = TOPICS) -> list[str]:
    """Create every catalogue topic that is missing; returns the names created. Idempotent."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="huigong-provision")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [t for t in topics if t.qualified(prefix) not in existing]
        if not wanted:
            return []
        new = [
            NewTopic(
                name=t.qualified(prefix),
                num_partitions=t.partitions,
                replication_factor=1 if _single_node(bootstrap) else 3,
                topic_configs=t.configs,
            )
            for t in wanted
        ]
        # A concurrent provisioner may win the race; the topics then exist, which is the goal.
        with contextlib.suppress(TopicAlreadyExistsError):
            await admin.create_topics(new)
        created = [t.qualified(prefix) for t in wanted]
        log.info("topics created", count=len(created))
        # Metadata propagates asynchronously even on one node; wait until all are visible.
        for _ in range(50):
            if set(created) <= set(await admin.list_topics()):
                break
            await asyncio.sleep(0.1)
        return created
    finally:
        await admin.close()


def _single_node(bootstrap: str) -> bool:
    return "," not in bootstrap
