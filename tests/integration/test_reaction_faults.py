"""A reaction decides every trigger exactly once whatever fails while it decides a batch.

Each test injects one failure into a real faust app over the real broker and database: an asyncpg
client error mid-transaction, the connection killed between the reaction's append and the
checkpoint write, the agent's task cancelled mid-batch, Kafka's committed offset ahead of the
stored checkpoint (what faust left behind when it acknowledged a batch an agent crashed with), and
the process SIGKILLed right after a commit. Afterwards each member of the test is decided exactly
once: one MemberEnrolled, nothing twice, nothing missing."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from faust.contrib.asgi import faust_app_running
from typer.testing import CliRunner, Result

from huigong_events.base import DomainEvent
from huigong_events.envelope import RecordedEvent, to_kafka
from huigong_events.topics import topic_for_aggregate
from huigong_ops.cli import app as app_cli
from huigong_platform import reactions, telemetry
from huigong_platform.database import create_pool
from huigong_platform.eventstore import EventStore
from huigong_platform.outcomes import OutcomeWatch
from huigong_platform.reactions import reaction_app
from huigong_platform.settings import Settings
from huigong_platform.subscriptions import Applier, RawRecord, apply_in_transaction, apply_with_checkpoints
from huigong_registry.reactions.members import MembersReaction
from huigong_testkit.factories import enrolment, recorded

from ..conftest import Stack, isolated_stack
from .test_reactions import FirstReportCounts
from .test_subscriptions import publish

REPO = Path(__file__).resolve().parents[2]
MEMBERS = 40


@pytest.fixture
async def pool(stack: Stack) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(stack.dsn("registry"), "registry")
    yield pool
    await pool.close()


def triggers(count: int = MEMBERS) -> list[RecordedEvent]:
    districts = ["370202", "370203", "370213", "370212"]
    return [recorded(enrolment(districts[i % 4], "美团", seed=uuid.uuid4().hex)) for i in range(count)]


def keys_of(events: Sequence[RecordedEvent]) -> set[str]:
    return {str(e.data["member_key"]) for e in events}


async def decisions(store: EventStore, keys: set[str]) -> dict[str, list[str]]:
    return {k: [e.type for e in (await store.read("member", k)).events] for k in keys}


async def decided_once(store: EventStore, keys: set[str], timeout: float = 90) -> dict[str, list[str]]:
    """Waits until every member has a decision, then a little longer for any second one."""
    deadline = asyncio.get_running_loop().time() + timeout
    found = await decisions(store, keys)
    while any(not v for v in found.values()) and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.3)
        found = await decisions(store, keys)
    await asyncio.sleep(2)  # a decision taken twice would have landed by now
    return await decisions(store, keys)


def settings_for(stack: Stack) -> Settings:
    return Settings(
        service="registry",
        database_url=stack.dsn("registry"),
        kafka_bootstrap=stack.bootstrap,
        topic_prefix=stack.topic_prefix,
    )


def unique() -> str:
    return f"faults_{uuid.uuid4().hex[:8]}"


async def run_reaction(
    stack: Stack, pool: asyncpg.Pool, reaction: FirstReportCounts, keys: set[str]
) -> dict[str, list[str]]:
    store = EventStore(pool, stack.topic_prefix)
    app = reaction_app(settings_for(stack), pool, store, [reaction])
    async with faust_app_running(app, stop_timeout=20):
        return await decided_once(store, keys)


def assert_each_decided_once(found: dict[str, list[str]]) -> None:
    missing = sorted(k for k, v in found.items() if not v)
    twice = sorted(k for k, v in found.items() if len(v) > 1)
    assert not missing and not twice, f"{len(missing)} never decided, {len(twice)} decided twice"
    assert all(v == ["MemberEnrolled"] for v in found.values())


async def test_an_asyncpg_client_error_mid_transaction_retries_the_batch(
    stack: Stack, pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = triggers()
    keys = keys_of(events)
    real = apply_with_checkpoints
    injected = 0

    async def failing(pool: asyncpg.Pool, applier: Applier, prepared: Any, **kw: Any) -> Any:
        nonlocal injected
        mine = any(k.encode() in (r.value or b"") for _, raws, _ in prepared for r in raws for k in keys)
        if mine and injected < 2:
            injected += 1
            async with pool.acquire() as conn, conn.transaction():
                await apply_in_transaction(conn, applier, prepared)  # the decisions are appended …
                # … and then the client library fails, as it did when PostgreSQL stopped under load
                raise asyncpg.InternalClientError(
                    "cannot switch to state 15; another operation (2) is in progress"
                )
        return await real(pool, applier, prepared, **kw)

    monkeypatch.setattr(reactions, "apply_with_checkpoints", failing)
    await publish(stack, events)
    found = await run_reaction(stack, pool, FirstReportCounts(unique(), keys), keys)
    assert injected == 2, "the failure was never injected"
    assert_each_decided_once(found)


class KilledAfterAppend(FirstReportCounts):
    """Kills its own database connection once, after its decisions are appended and before the
    runner writes the checkpoint."""

    service: ClassVar[str] = "registry"

    def __init__(self, name: str, keys: set[str], pool: asyncpg.Pool) -> None:
        super().__init__(name, keys)
        self.pool = pool
        self.killed = 0

    async def apply_batch(self, conn: Any, items: Sequence[tuple[DomainEvent, RecordedEvent]]) -> None:
        await super().apply_batch(conn, items)
        if not self.killed and any(str(e.data.get("member_key")) in self.keys for _, e in items):
            self.killed += 1
            await self.pool.execute("SELECT pg_terminate_backend($1)", conn.get_server_pid())


async def test_the_connection_killed_between_append_and_checkpoint_retries_the_batch(
    stack: Stack, pool: asyncpg.Pool
) -> None:
    events = triggers()
    keys = keys_of(events)
    await publish(stack, events)
    reaction = KilledAfterAppend(unique(), keys, pool)
    found = await run_reaction(stack, pool, reaction, keys)
    assert reaction.killed == 1, "the connection was never killed"
    assert_each_decided_once(found)
    # The retry decided them: nothing went to the dead letters for an outage.
    assert not await pool.fetchval("SELECT count(*) FROM dead_letters WHERE consumer = $1", reaction.name)


class Gated(FirstReportCounts):
    """Holds the first batch that holds one of its members until the test lets it go."""

    service: ClassVar[str] = "registry"

    def __init__(self, name: str, keys: set[str]) -> None:
        super().__init__(name, keys)
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def apply_batch(self, conn: Any, items: Sequence[tuple[DomainEvent, RecordedEvent]]) -> None:
        if not self.entered.is_set() and any(str(e.data.get("member_key")) in self.keys for _, e in items):
            self.entered.set()
            await self.release.wait()
        await super().apply_batch(conn, items)


async def test_the_agent_cancelled_mid_batch_decides_the_batch_after_its_restart(
    stack: Stack, pool: asyncpg.Pool
) -> None:
    events = triggers()
    keys = keys_of(events)
    await publish(stack, events)
    reaction = Gated(unique(), keys)
    store = EventStore(pool, stack.topic_prefix)
    app = reaction_app(settings_for(stack), pool, store, [reaction])
    async with faust_app_running(app, stop_timeout=20):
        await asyncio.wait_for(reaction.entered.wait(), 90)
        agent = app.agents[reaction.name]
        actors = list(agent._actors)  # faust's running instances of the agent
        assert actors
        for actor in actors:
            actor.actor_task.cancel()  # faust acknowledges the batch the agent held, then restarts it
        await asyncio.sleep(0.5)
        reaction.release.set()
        found = await decided_once(store, keys)
    assert_each_decided_once(found)


async def test_a_kafka_offset_past_the_checkpoint_is_not_where_a_reaction_resumes(
    stack: Stack, pool: asyncpg.Pool
) -> None:
    """What the lost batch looked like: faust had committed an offset past triggers that were
    never decided, and the reaction started from there."""
    events = triggers()
    keys = keys_of(events)
    catalogued = topic_for_aggregate("enrolment")
    topic = catalogued.qualified(stack.topic_prefix)
    await publish(stack, events)
    reaction = FirstReportCounts(unique(), keys)
    # Every partition's committed offset at its end: everything "consumed" as far as Kafka knows.
    group = f"{stack.topic_prefix}huigong.registry.reactions"
    consumer = AIOKafkaConsumer(bootstrap_servers=stack.bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(catalogued.partitions)]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        await consumer.commit({tp: OffsetAndMetadata(offset, "") for tp, offset in ends.items()})
    finally:
        await consumer.stop()
    before = telemetry.CONSUMER_RESUMES.labels("registry", reaction.name)._value.get()
    found = await run_reaction(stack, pool, reaction, keys)
    assert_each_decided_once(found)
    assert telemetry.CONSUMER_RESUMES.labels("registry", reaction.name)._value.get() > before


async def test_records_past_the_checkpoint_are_not_applied_and_the_consumer_is_sent_back(
    stack: Stack, pool: asyncpg.Pool
) -> None:
    reaction = FirstReportCounts(unique(), set())
    reaction.bind(EventStore(pool, stack.topic_prefix))
    applier = Applier(reaction, "registry")
    # A topic of the catalogue's name (under a prefix of its own), so its owner's tags are accepted.
    tp = TopicPartition(f"test{uuid.uuid4().hex[:8]}.huigong.intake.enrolments", 0)
    raws = []
    for offset, event in enumerate(triggers(6)):
        key, value, headers = to_kafka(event)
        raws.append(RawRecord(tp.topic, 0, offset, key, value, tuple(headers)))

    async def hand(records: list[RawRecord]) -> tuple[Any, dict[TopicPartition, int]]:
        return await apply_with_checkpoints(pool, applier, [(tp, records, applier.decode(records))])

    outcome, ends = await hand(raws[3:])  # 0..2 were lost on the way
    assert (outcome.applied, ends, outcome.resume) == (0, {}, {tp: 0})
    outcome, ends = await hand(raws[:2] + raws[4:])  # a hole after 1
    assert (outcome.applied, ends, outcome.resume) == (2, {tp: 2}, {tp: 2})
    outcome, ends = await hand(raws[2:])
    assert (outcome.applied, ends, outcome.resume) == (4, {tp: 6}, {})
    stored = await pool.fetchval(
        "SELECT next_offset FROM checkpoints WHERE consumer = $1 AND topic = $2", reaction.name, tp.topic
    )
    assert stored == 6


async def test_a_process_killed_right_after_its_commit_decides_nothing_twice(
    stack: Stack, pool: asyncpg.Pool
) -> None:
    events = triggers()
    keys = keys_of(events)
    await publish(stack, events)
    name = unique()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    args = [stack.dsn("registry"), stack.bootstrap, stack.topic_prefix, name, ",".join(sorted(keys))]

    async def start(*extra: str) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.integration.reaction_main", *args, *extra, env=env, cwd=str(REPO)
        )

    dying = await start("--die-after-commit")
    code = await asyncio.wait_for(dying.wait(), 120)
    assert code == -signal.SIGKILL, f"the process was to kill itself after its first commit, exited {code}"
    store = EventStore(pool, stack.topic_prefix)
    assert any((await decisions(store, keys)).values()), "nothing was committed before the kill"
    again = await start()
    try:
        found = await decided_once(store, keys)
    finally:
        again.terminate()
        await again.wait()
    assert_each_decided_once(found)


async def test_reconcile_finds_nothing_missing_then_names_a_trigger_whose_decision_was_deleted(
    stack_env: dict[str, str],
) -> None:
    """The check that makes a lost decision loud: 0 on a clean run; after a decision is deleted
    from the store (as a database superuser can), the CLI names its trigger and exits 1, and the
    service's own background check counts it on its gauge."""
    async with isolated_stack(stack_env) as s:
        pool = await create_pool(s.dsn("registry"), "registry")
        try:
            events = triggers(30)
            keys = keys_of(events)
            await publish(s, events)
            store = EventStore(pool, s.topic_prefix)
            app = reaction_app(settings_for(s), pool, store, [MembersReaction()])
            async with faust_app_running(app, stop_timeout=20):
                decided = await decided_once(store, keys)
            # Enrolled once each (with 互助保障 where the report asked for it).
            assert all(
                v[0] == "MemberEnrolled" and v[1:] in ([], ["MutualAidGranted"]) for v in decided.values()
            )
            env = {
                "COLUMNS": "220",
                "HUIGONG_KAFKA_BOOTSTRAP": s.bootstrap,
                "HUIGONG_PG_ADMIN_DSN": s.admin_dsn,
            }

            def cli(*args: str) -> Result:
                return CliRunner().invoke(app_cli, ["reconcile", *args], env=env)

            clean = await asyncio.to_thread(cli, "--service", "registry", "--json")
            assert clean.exit_code == 0, clean.output
            members = next(r for r in json.loads(clean.stdout) if r["reaction"] == "registry.members")
            assert (members["triggers"], members["answered"], members["missing"]) == (30, 30, 0)

            victim = events[7]
            admin = await asyncpg.connect(s.superuser_dsn)  # the admin is no superuser
            try:
                await admin.execute("SET session_replication_role = replica")  # past the trigger
                deleted = await admin.execute(
                    "DELETE FROM registry.events WHERE causation_id = $1 AND type = 'MemberEnrolled'",
                    str(victim.id),
                )
            finally:
                await admin.close()
            assert deleted == "DELETE 1"

            found = await asyncio.to_thread(cli, "--service", "registry")
            assert found.exit_code == 1, found.output
            assert str(victim.id) in found.stdout and "EnrolmentRequested" in found.stdout

            watch = OutcomeWatch(
                pool, s.bootstrap, "registry", [("registry.members", MembersReaction.outcomes)]
            )
            missing = await watch.check("registry.members", MembersReaction.outcomes)
            assert [t.event_id for t in missing] == [str(victim.id)]
            gauge = telemetry.TRIGGERS_WITHOUT_OUTCOME.labels("registry", "registry.members")
            assert gauge._value.get() == 1
        finally:
            await pool.close()
