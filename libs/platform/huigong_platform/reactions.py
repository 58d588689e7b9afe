"""Reactions: stream processing that answers events with new decisions, as faust-streaming agents.

A reaction (review screening an application, the registry revoking a title on a finding) reads
events of other services and appends events to its own service's store. It runs as a faust agent,
but faust is treated as a delivery mechanism only (its exactly-once mode has open duplicate and
rebalance bugs): every batch goes through the same `Applier` and checkpoint fence as the
projections, and the new events are appended in that same PostgreSQL transaction. A redelivered
trigger is therefore dropped before the reaction sees it, and a crash between the append and the
offset's mirror in Kafka cannot decide anything twice. Where a reaction resumes is the stored
checkpoint alone: faust commits no offset for a reaction's topics, and records that do not
continue at the checkpoint are never applied (see `_agent`), so a batch lost inside faust (an
agent that crashed or was cancelled mid-batch has its batch acknowledged) is read again instead
of skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
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

from . import logs, telemetry
from .database import OUTAGES, DbConnection
from .eventstore import EventStore, Metadata, PendingAppend
from .kafka import heartbeat_seconds
from .settings import KafkaAuth, Settings
from .subscriptions import (
    Applier,
    Outcome,
    PreparedBatch,
    Projection,
    RawRecord,
    apply_with_checkpoints,
)

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
    # Per trigger type, the event types one of which the reaction always records as a trigger's
    # consequence (`causation_id` = the trigger): checked by `huigong reconcile` and each
    # service's background check (`huigong_platform.outcomes`). Empty: no such promise.
    outcomes: ClassVar[Mapping[str, frozenset[str]]] = {}
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


# Consecutive failures of one batch after which the reaction is reported stalled (an error log
# and the `huigong_reaction_stalled` gauge); it keeps retrying the same batch all the same.
STALLED_AFTER = 5


def _agent(
    app: faust.App, pool: asyncpg.Pool, applier: Applier, topics: frozenset[str], mirror: _Mirror
) -> Callable[[Any], Coroutine[Any, Any, None]]:
    """The agent body of one reaction.

    Where a reaction resumes is decided by the checkpoints stored in PostgreSQL with its
    decisions, never by faust: its topics are declared without acknowledgements, so faust
    commits no offset of its own (its batch iterator acknowledges a batch even when the agent
    crashes or is cancelled while deciding it), and the agent mirrors the stored offsets to Kafka
    after each commit, for lag tooling and so that a restart starts near them. Every batch is
    applied in sequence from the stored offset (`apply_in_transaction`): records that do not
    continue there (those after a batch lost in a crash, or a position Kafka kept from before) are
    not applied, and the partition is sought back to the stored offset. A batch that fails, for
    whatever reason, is retried until it commits; nothing is skipped."""
    service, name = applier.service, applier.projection.name
    stalled = telemetry.REACTION_STALLED.labels(service, name)
    stalled.set(0)

    async def decide(prepared: PreparedBatch) -> Outcome:
        backoff = 0.5
        failures = 0
        while True:
            try:
                outcome, ends = await apply_with_checkpoints(pool, applier, prepared)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                logged = log.error if failures >= STALLED_AFTER else log.warning
                logged(
                    "reaction batch failed; retrying it"
                    if failures < STALLED_AFTER
                    else "reaction stalled: a batch keeps failing; retrying it, never skipping",
                    reaction=name,
                    error=f"{type(exc).__name__}: {exc}",
                    failures=failures,
                    retry_in=backoff,
                )
                if failures >= STALLED_AFTER:
                    stalled.set(1)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            if failures:
                log.info("reaction batch committed after retries", reaction=name, failures=failures)
                stalled.set(0)
            if ends:
                await mirror(name, ends)
            return outcome

    async def agent(stream: Any) -> None:  # a faust Stream of raw records
        size = getattr(applier.projection, "batch_size", 500)
        state = _AgentState()
        watch = asyncio.create_task(_watch(app, pool, applier, topics, state))
        try:
            async for events in stream.take_events(size, within=0.2):
                state.busy = True
                try:
                    by_partition: dict[TopicPartition, list[RawRecord]] = {}
                    for event in events:
                        raw = _raw(event)
                        by_partition.setdefault(TopicPartition(raw.topic, raw.partition), []).append(raw)
                    prepared: PreparedBatch = [
                        (tp, raws, applier.decode(raws, applier.projection.wants))
                        for tp, raws in by_partition.items()
                    ]
                    outcome = await decide(prepared)
                    for tp, offset in outcome.resume.items():
                        await _seek(app, tp, offset)
                finally:
                    state.busy = False
                    state.last_batch = asyncio.get_running_loop().time()
        finally:
            watch.cancel()

    return agent


@dataclass
class _AgentState:
    busy: bool = False
    last_batch: float = 0.0


# How often an idle reaction compares its consumer's position with its stored checkpoints.
WATCH_INTERVAL = 2.0


async def _watch(
    app: faust.App, pool: asyncpg.Pool, applier: Applier, topics: frozenset[str], state: _AgentState
) -> None:
    """Records lost inside faust are found by the next record that does not continue at the
    checkpoint; this finds them when no record follows. While the agent is idle, a partition whose
    consumer position is past the stored offset holds records that were delivered and never
    applied (a batch that an agent cancelled or crashed with, a position kept in Kafka from
    before the checkpoints were the only truth, a group another reaction committed for): the
    consumer is sought back to the stored offset, or to the start of a partition the reaction
    never applied anything of."""
    name = applier.projection.name
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(WATCH_INTERVAL)
        if state.busy or loop.time() - state.last_batch < WATCH_INTERVAL:
            continue
        assigned = [tp for tp in app.consumer.assignment() if tp.topic in topics]
        if not assigned:
            continue
        try:
            rows = await pool.fetch(
                "SELECT topic, partition, next_offset FROM checkpoints WHERE consumer = $1", name
            )
        except OUTAGES:
            continue  # the agent's own retries report an outage
        stored = {(r["topic"], r["partition"]): r["next_offset"] for r in rows}
        for tp in assigned:
            expected = stored.get((tp.topic, tp.partition), 0)
            try:
                position = await asyncio.wait_for(app.consumer.position(tp), 5)
            except Exception:  # no position yet (being reset, rebalancing): look again later
                continue
            if position is None or position <= expected or state.busy:
                continue
            log.warning(
                "reaction consumer is past its checkpoint with nothing to apply; it resumes from "
                "the checkpoint",
                reaction=name,
                topic=tp.topic,
                partition=tp.partition,
                position=position,
                checkpoint=expected,
            )
            telemetry.CONSUMER_RESUMES.labels(applier.service, name).inc()
            await _seek(app, TopicPartition(tp.topic, tp.partition), expected)


async def _seek(app: faust.App, tp: TopicPartition, offset: int) -> None:
    """Position the reaction's consumer at `offset` of `tp` (faust forgets what it had read past
    it, so the records are delivered again)."""
    consumer = app.consumer
    if tp not in consumer.assignment():
        return  # moved to another member by a rebalance: it resumes from the stored offset
    # On the consumer's own thread, between two fetches: faust's `seek` calls the Kafka client
    # from this thread while its fetch loop runs on another, and a seek landing in the middle of
    # a fetch once crashed faust's Fetcher (KeyError on the partition), which never restarts.
    await consumer.seek_wait({tp: offset})


class _Mirror:
    """Commits the stored offsets to Kafka too, never past what PostgreSQL holds: for lag tooling
    and a quicker restart only (a failure changes nothing and is not retried). The reactions of
    one service share a consumer group, so where two read the same partition the one behind is
    committed.

    faust's public commit commits what its streams acknowledged, which for these topics is
    nothing, so the consumer's own offset commit is used."""

    def __init__(self, app: faust.App) -> None:
        self._app = app
        self._positions: dict[TopicPartition, dict[str, int]] = {}

    async def __call__(self, reaction: str, ends: Mapping[TopicPartition, int]) -> None:
        offsets = {}
        for tp, offset in ends.items():
            by_reaction = self._positions.setdefault(tp, {})
            by_reaction[reaction] = offset
            offsets[tp] = min(by_reaction.values())
        with contextlib.suppress(Exception):
            await self._app.consumer._commit(offsets)  # type: ignore[attr-defined]


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
    # faust keeps a data directory even with in-memory tables; never in the working directory,
    # and one per instance (by its HTTP port): instances of a service on one machine share none.
    datadir = Path(tempfile.gettempdir()) / "huigong-faust" / f"{app_id}-{settings.port}"
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
        # long. The projections' session and heartbeat instead (huigong_platform.kafka).
        broker_session_timeout=settings.consumer_session_seconds,
        broker_heartbeat_interval=heartbeat_seconds(settings.consumer_session_seconds),
        key_serializer="raw",
        value_serializer="raw",
    )
    mirror = _Mirror(app)
    for reaction in reactions:
        reaction.bind(store)
        names = frozenset(t.qualified(settings.topic_prefix) for t in reaction.topics)
        topic = app.topic(
            *sorted(names),
            key_serializer="raw",
            value_serializer="raw",
            # faust commits nothing for these topics: where a reaction resumes is its checkpoint
            # in PostgreSQL (see `_agent`).
            acks=False,
        )
        applier = Applier(reaction, settings.service)
        app.agent(topic, name=reaction.name)(_agent(app, pool, applier, names, mirror))
    return app
