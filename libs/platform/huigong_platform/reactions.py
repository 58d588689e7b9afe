"""Reactions: stream processing that answers events with new decisions, as faust-streaming agents.

A reaction (review screening an application, the registry revoking a title on a finding) reads
events of other services and appends events to its own service's store. It runs as a faust agent,
but faust is treated as at-least-once (its exactly-once mode has open duplicate and rebalance
bugs): every batch goes through the same `Applier` and checkpoint fence as the projections, and
the new events are appended in that same PostgreSQL transaction. A redelivered trigger is
therefore dropped before the reaction sees it, and a crash between the append and faust's offset
commit cannot decide anything twice.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import asyncpg
import faust
from aiokafka import TopicPartition

from huigong_events.base import DomainEvent
from huigong_events.envelope import RecordedEvent

from . import logs
from .database import DbConnection
from .eventstore import EventStore, Metadata, PendingAppend
from .settings import KafkaAuth, Settings
from .subscriptions import Applier, Decoded, Projection, RawRecord, apply_with_checkpoints

log = logs.get(__name__)


@dataclass
class ReactionContext:
    """What a reaction may do: read and append in its service's store, inside the batch's
    transaction, with the trigger recorded as the cause."""

    conn: DbConnection
    store: EventStore
    trigger: RecordedEvent
    actor: str
    source: str

    async def append(
        self, aggregate_id: str, events: Sequence[DomainEvent], expected_version: int
    ) -> list[RecordedEvent]:
        meta = Metadata(
            actor=self.actor,
            source=self.source,
            correlation_id=self.trigger.correlation_id,
            causation_id=str(self.trigger.id),
        )
        return await self.store.append(aggregate_id, events, expected_version, meta, conn=self.conn)

    async def version_of(self, aggregate_type: str, aggregate_id: str) -> int:
        return (await self.store.read(aggregate_type, aggregate_id, conn=self.conn)).version


SIMULATED_ACTOR_PREFIX = "simulator:"


def reaction_actor(service: str, trigger: RecordedEvent) -> str:
    """Who a reaction's events are recorded as: the service itself (`system:<service>`), or
    `simulator:<service>` when the trigger came from the district simulator, so that decisions on
    simulated data stay marked as such (the metrics service counts them as 演示数据)."""
    if trigger.actor.startswith(SIMULATED_ACTOR_PREFIX):
        return f"{SIMULATED_ACTOR_PREFIX}{service}"
    return f"system:{service}"


@dataclass
class BatchContext:
    """What a reaction may do with a whole batch: read and append in its service's store, inside
    the batch's transaction; `meta` records each trigger as the cause of what it decided."""

    conn: DbConnection
    store: EventStore
    service: str

    def meta(self, trigger: RecordedEvent) -> Metadata:
        return Metadata(
            actor=reaction_actor(self.service, trigger),
            source=self.service,
            correlation_id=trigger.correlation_id,
            causation_id=str(trigger.id),
        )

    async def append_many(
        self,
        aggregate_type: str,
        appends: Sequence[PendingAppend],
        heads: Mapping[str, tuple[int, str | None]] | None = None,
    ) -> list[RecordedEvent]:
        """`EventStore.append_many` with the batch's connection (`heads`: see there)."""
        return await self.store.append_many(self.conn, aggregate_type, appends, heads)


# Set to 0 to make every reaction decide event by event (the path a failing batch falls back
# to); for comparing the two, and as a way back should the batch path misbehave.
BATCH_ENV = "HUIGONG_REACTION_BATCHES"


class Reaction(Projection):
    """Subclasses implement `react`, and may implement `react_batch` to decide a whole batch with
    set-based reads and one append; the runner supplies the context.

    A batch goes to `react_batch` inside a savepoint. Should it raise, the runner (`Applier`)
    rolls the savepoint back and applies the batch again event by event through `react`, so a
    poison trigger is dead-lettered alone and the others are decided as usual. `react_batch` must
    therefore decide exactly what `react` would, in trigger order."""

    service: ClassVar[str]
    store: EventStore
    batched: bool = os.environ.get(BATCH_ENV, "1") != "0"
    # Triggers per batch (one transaction). A reaction with a set-based `react_batch` may take
    # more, spreading each batch's fixed round trips over more triggers.
    batch_size: ClassVar[int] = 500

    def bind(self, store: EventStore) -> None:
        self.store = store

    async def apply(self, conn: DbConnection, event: DomainEvent, record: RecordedEvent) -> None:
        context = ReactionContext(
            conn, self.store, record, reaction_actor(self.service, record), self.service
        )
        await self.react(context, event)

    async def apply_batch(
        self, conn: DbConnection, items: Sequence[tuple[DomainEvent, RecordedEvent]]
    ) -> None:
        if not items:
            return
        if not self.batched or type(self).react_batch is Reaction.react_batch:
            await super().apply_batch(conn, items)
            return
        await self.react_batch(BatchContext(conn, self.store, self.service), items)

    async def react(self, context: ReactionContext, event: DomainEvent) -> None:
        raise NotImplementedError

    async def react_batch(
        self, context: BatchContext, items: Sequence[tuple[DomainEvent, RecordedEvent]]
    ) -> None:
        """Optional: decide all of `items` (trigger order) at once."""
        raise NotImplementedError


def _raw(event: Any) -> RawRecord:  # a faust Event; its message carries the Kafka record
    message = event.message
    headers = message.headers or []
    items: list[tuple[str, bytes]] = list(headers.items() if isinstance(headers, dict) else headers)
    return RawRecord(
        message.topic,
        message.partition,
        message.offset,
        message.key,
        message.value,
        tuple((str(k), bytes(v)) for k, v in items),
    )


def _agent(pool: asyncpg.Pool, applier: Applier) -> Callable[[Any], Coroutine[Any, Any, None]]:
    async def agent(stream: Any) -> None:  # a faust Stream of raw records
        size = getattr(applier.projection, "batch_size", 500)
        async for events in stream.take_events(size, within=0.2):
            by_partition: dict[TopicPartition, list[RawRecord]] = {}
            for event in events:
                raw = _raw(event)
                by_partition.setdefault(TopicPartition(raw.topic, raw.partition), []).append(raw)
            prepared: list[tuple[TopicPartition, list[RawRecord], list[Decoded]]] = [
                (tp, raws, applier.decode(raws, applier.projection.wants))
                for tp, raws in by_partition.items()
            ]
            backoff = 0.5
            # Nothing downstream can proceed without the database, so the batch is retried until
            # it commits; faust acknowledges the events only after that.
            while True:
                try:
                    await apply_with_checkpoints(pool, applier, prepared)
                    break
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                    log.warning(
                        "reaction batch failed",
                        reaction=applier.projection.name,
                        error=f"{type(exc).__name__}: {exc}",
                        retry_in=backoff,
                    )
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 10.0)

    return agent


def broker_credentials(auth: KafkaAuth | None = None) -> faust.SASLCredentials | None:
    """The faust app logs in as its service, like the service's other Kafka clients
    (`huigong_platform.kafka.client_options`); its group is `<prefix>huigong.<service>.reactions`,
    inside the service's consumer-group ACL."""
    auth = KafkaAuth() if auth is None else auth
    if auth.username is None or auth.password is None:
        return None
    return faust.SASLCredentials(
        username=auth.username, password=auth.password.get_secret_value(), mechanism=auth.sasl_mechanism
    )


def reaction_app(
    settings: Settings, pool: asyncpg.Pool, store: EventStore, reactions: Sequence[Reaction]
) -> faust.App:
    """A faust app whose agents run the service's reactions. Its topics all come from the
    catalogue: faust declares none of its own (no leader topic, no tables)."""
    app_id = f"{settings.topic_prefix}huigong.{settings.service}.reactions"
    # faust keeps a data directory even with in-memory tables; never in the working directory.
    datadir = Path(tempfile.gettempdir()) / "huigong-faust" / app_id
    datadir.parent.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        app_id,
        datadir=str(datadir),
        broker=f"kafka://{settings.kafka_bootstrap}",
        broker_credentials=broker_credentials(),
        store="memory://",
        web_enabled=False,
        autodiscover=False,
        topic_allow_declare=False,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        processing_guarantee="at_least_once",
        stream_wait_empty=False,
        # faust waits 60 s by default before the group gives up on a member that stopped
        # heartbeating; a service restarted after a crash (SIGKILL, OOM) would stand still that
        # long. 10 s (the broker's minimum is 6 s) with a heartbeat every 3 s.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=3.0,
        key_serializer="raw",
        value_serializer="raw",
    )
    for reaction in reactions:
        reaction.bind(store)
        topic = app.topic(
            *(t.qualified(settings.topic_prefix) for t in reaction.topics),
            key_serializer="raw",
            value_serializer="raw",
        )
        app.agent(topic, name=reaction.name)(_agent(pool, Applier(reaction, settings.service)))
    return app
