"""Kafka clients with the settings every service shares, and topic provisioning from the
catalogue in `huigong_events.topics`.

Every client logs in as the process's own principal (`KafkaAuth`, from HUIGONG_KAFKA_USERNAME and
HUIGONG_KAFKA_PASSWORD) unless it is handed other credentials; what that principal may read and
write is declared in `kafka_acls.py`."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from huigong_events.topics import TOPICS, Topic

from . import logs
from .settings import KafkaAuth

log = logs.get(__name__)


def client_options(auth: KafkaAuth | None = None) -> dict[str, Any]:
    """Keyword arguments that make any aiokafka client (producer, consumer, admin, bare client)
    log in as `auth`, by default the principal named in this process's environment."""
    auth = KafkaAuth() if auth is None else auth
    if auth.username is None or auth.password is None:
        return {"security_protocol": "PLAINTEXT"}
    return {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": auth.sasl_mechanism,
        "sasl_plain_username": auth.username,
        "sasl_plain_password": auth.password.get_secret_value(),
    }


def producer(bootstrap: str, client_id: str, auth: KafkaAuth | None = None) -> AIOKafkaProducer:
    # Idempotence (implies acks=all) keeps each partition free of duplicates and in order across
    # the producer's own retries; the outbox covers the rest. Under ACLs it needs no cluster
    # right: Write on a topic implies IdempotentWrite (KIP-679).
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        **client_options(auth),
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        max_batch_size=1024 * 1024,
        request_timeout_ms=15000,
        retry_backoff_ms=200,
    )


def consumer(
    bootstrap: str,
    group_id: str | None,
    client_id: str,
    auth: KafkaAuth | None = None,
    max_poll_seconds: float = 300.0,
    session_seconds: float = 10.0,
) -> AIOKafkaConsumer:
    # Offsets live in PostgreSQL with the projection rows; Kafka's committed offsets are only a
    # mirror for lag tooling, so auto-commit stays off.
    return AIOKafkaConsumer(
        # Also the rebalance timeout aiokafka sends with JoinGroup: how long a rebalance waits
        # for a member still finishing a batch.
        max_poll_interval_ms=int(max_poll_seconds * 1000),
        # How long a member that stopped heartbeating (a killed instance) keeps its partitions.
        session_timeout_ms=int(session_seconds * 1000),
        heartbeat_interval_ms=int(heartbeat_seconds(session_seconds) * 1000),
        bootstrap_servers=bootstrap,
        group_id=group_id,
        client_id=client_id,
        **client_options(auth),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        max_poll_records=5000,
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )


def heartbeat_seconds(session_seconds: float) -> float:
    """A member learns of a rebalance from a heartbeat's answer: every second at most (aiokafka's
    default is three), so the group's pause at a member change is that much shorter, and six to
    a session, so a busy event loop may miss a few before the member is given up."""
    return min(1.0, session_seconds / 6)


async def start_producer(producer: AIOKafkaProducer, within: float) -> None:
    """Start `producer`, or close it and raise TimeoutError after `within` seconds.

    An idempotent producer's start() also fetches its producer id, and aiokafka asks again,
    silently and for ever, while the broker answers that it is still loading (a broker just
    started or restarted). Bounded, the caller's usual retry with a fresh producer takes over."""
    try:
        await asyncio.wait_for(producer.start(), within)
    except BaseException as exc:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(producer.stop(), 10)
        if isinstance(exc, TimeoutError):
            raise TimeoutError(f"the broker gave no producer id within {within:g} s") from exc
        raise


def admin_client(bootstrap: str, client_id: str, auth: KafkaAuth | None = None) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id=client_id, **client_options(auth))


async def ensure_topics(
    bootstrap: str,
    prefix: str = "",
    topics: tuple[Topic, ...] = TOPICS,
    auth: KafkaAuth | None = None,
) -> list[str]:
    """Create every catalogue topic that is missing; returns the names created. Idempotent.
    Under ACLs only admin may create topics."""
    admin = admin_client(bootstrap, "huigong-provision", auth)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [t for t in topics if t.qualified(prefix) not in existing]
        if not wanted:
            return []
        replication, durability = replication_of(bootstrap)
        new = [
            NewTopic(
                name=t.qualified(prefix),
                num_partitions=t.partitions,
                replication_factor=replication,
                topic_configs={**t.configs, **durability},
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


def replication_of(bootstrap: str) -> tuple[int, dict[str, str]]:
    """Replication factor and durability settings of the topics on the cluster `bootstrap` names.

    One address is one broker (the default stack): one copy. Several addresses are a cluster
    (`bin/stack --brokers 3`, compose's `cluster` profile, production), which lists every
    broker so that a client starting while one is down still gets in: three copies, and a write
    is acknowledged to an `acks=all` producer (every producer of ours) only once two of them
    hold it, so the loss of any one broker loses no acknowledged write and stops no writes."""
    if "," not in bootstrap:
        return 1, {}
    return 3, {"min.insync.replicas": "2"}
