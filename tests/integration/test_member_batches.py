"""The registry's member reaction decides a whole batch at once, and decides what it would have
decided report by report: the same person reported by two districts in one batch is enrolled once
and reported again once, with mutual aid once; a poison report in the batch is dead-lettered
alone while the others are decided."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import ClassVar

import asyncpg
import pytest
from aiokafka import TopicPartition

from huigong_events.base import DomainEvent
from huigong_events.envelope import RecordedEvent, seal, to_kafka
from huigong_events.intake import EnrolmentRequested
from huigong_events.registry import MemberEnrolled
from huigong_platform.database import create_pool
from huigong_platform.eventstore import EventStore, insert_recorded
from huigong_platform.reactions import ReactionContext
from huigong_platform.subscriptions import Applier, Outcome, RawRecord, apply_with_checkpoints
from huigong_registry.reactions.members import MembersReaction
from huigong_testkit.factories import enrolment, recorded

from ..conftest import Stack


class Members(MembersReaction):
    """The real reaction under a consumer name of this test's own, counting the reports that
    went the per-event way."""

    service: ClassVar[str] = "registry"

    def __init__(self, batched: bool) -> None:
        self.name = f"test.members_{uuid.uuid4().hex[:8]}"  # type: ignore[misc]
        self.batched = batched
        self.one_by_one = 0

    async def react(self, context: ReactionContext, event: DomainEvent) -> None:
        self.one_by_one += 1
        await super().react(context, event)


@pytest.fixture
async def pool(stack: Stack) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(stack.dsn("registry"), "registry")
    yield pool
    await pool.close()


async def apply(
    pool: asyncpg.Pool, reaction: Members, store: EventStore, triggers: Sequence[RecordedEvent]
) -> Outcome:
    """One batch of one partition, as the faust agent hands it to the runner."""
    reaction.bind(store)
    tp = TopicPartition(f"test.enrolments.{uuid.uuid4().hex[:8]}", 0)
    raws = []
    for offset, trigger in enumerate(triggers):
        key, value, headers = to_kafka(trigger)
        raws.append(RawRecord(tp.topic, 0, offset, key, value, tuple(headers)))
    applier = Applier(reaction, "registry")
    outcome, _ = await apply_with_checkpoints(pool, applier, [(tp, raws, applier.decode(raws))])
    return outcome


async def types_of(store: EventStore, member_key: str) -> list[str]:
    return [e.type for e in (await store.read("member", member_key)).events]


async def unreadable_member(pool: asyncpg.Pool) -> EnrolmentRequested:
    """A member whose stream holds an event type this registry does not know (as if written by a
    newer version): no report of them can be decided."""
    report = enrolment("370212", seed=uuid.uuid4().hex)
    now = datetime.now(UTC)
    known = seal(
        event=MemberEnrolled(
            member_key=report.member_key,
            key_id=report.key_id,
            enrolment_id=uuid.uuid4(),
            district=report.district,
            occupation=report.occupation,
            platform=report.platform,
            joined_on=report.joined_on,
        ),
        event_id=uuid.uuid4(),
        aggregate_id=report.member_key,
        aggregate_version=1,
        occurred_at=now,
        recorded_at=now,
        actor="test",
        source="test",
        correlation_id=str(uuid.uuid4()),
        causation_id=None,
        prev_hash=None,
    )
    async with pool.acquire() as conn, conn.transaction():
        await insert_recorded(conn, [known.model_copy(update={"type": "MemberMerged"})], "test.unpublished")
        await conn.execute("DELETE FROM outbox WHERE topic = 'test.unpublished'")  # never to Kafka
    return report


@pytest.mark.parametrize("batched", [True, False], ids=["batch", "per-event"])
async def test_one_batch_with_a_person_twice_and_a_poison_report(
    stack: Stack, pool: asyncpg.Pool, batched: bool
) -> None:
    store = EventStore(pool, stack.topic_prefix)
    first = enrolment("370214", "美团", seed=uuid.uuid4().hex)
    again = first.model_copy(update={"district": "370215", "enrolment_id": uuid.uuid4()})
    poison = await unreadable_member(pool)
    other = enrolment("370211", "滴滴", seed=uuid.uuid4().hex)
    triggers = [recorded(first), recorded(again), recorded(poison), recorded(other)]
    reaction = Members(batched)

    outcome = await apply(pool, reaction, store, triggers)

    assert (outcome.applied, outcome.dead_lettered) == (3, 1)
    member = (await store.read("member", first.member_key)).events
    assert [e.type for e in member] == ["MemberEnrolled", "MutualAidGranted", "MemberReportedAgain"]
    assert member[0].data["district"] == "370214" and member[2].data["district"] == "370215"
    # Each decision names its own trigger and keeps its correlation id.
    causes = [triggers[0], triggers[0], triggers[1]]
    assert [(e.causation_id, e.correlation_id) for e in member] == [
        (str(t.id), t.correlation_id) for t in causes
    ]
    assert [e.aggregate_version for e in member] == [1, 2, 3]
    assert member[1].prev_hash == member[0].hash and member[2].prev_hash == member[1].hash
    assert await types_of(store, other.member_key) == ["MemberEnrolled", "MutualAidGranted"]
    assert await types_of(store, poison.member_key) == ["MemberMerged"]
    dead = await pool.fetch(
        "SELECT aggregate_id, reason FROM dead_letters WHERE consumer = $1 AND status = 'open'",
        reaction.name,
    )
    assert [(d["aggregate_id"], "MemberMerged" in d["reason"]) for d in dead] == [
        (str(poison.enrolment_id), True)
    ]
    if batched:  # the failing batch was decided again report by report: the poison one fails alone
        assert reaction.one_by_one == len(triggers)

    # The same reports once more (the relay published them again): nothing is decided twice.
    outcome = await apply(pool, reaction, store, [triggers[0], triggers[1], triggers[3]])
    assert (outcome.applied, outcome.duplicates) == (0, 3)
    assert await types_of(store, first.member_key) == [e.type for e in member]


async def test_a_clean_batch_is_decided_without_going_report_by_report(
    stack: Stack, pool: asyncpg.Pool
) -> None:
    store = EventStore(pool, stack.topic_prefix)
    first = enrolment("370202", "顺丰", seed=uuid.uuid4().hex)
    again = first.model_copy(update={"district": "370281", "enrolment_id": uuid.uuid4()})
    third = first.model_copy(update={"district": "370212", "enrolment_id": uuid.uuid4()})
    other = enrolment("370203", "顺丰", seed=uuid.uuid4().hex)
    triggers = [recorded(first), recorded(other), recorded(again), recorded(third)]
    reaction = Members(batched=True)

    outcome = await apply(pool, reaction, store, triggers)

    assert outcome.applied == 4 and reaction.one_by_one == 0
    assert await types_of(store, first.member_key) == [
        "MemberEnrolled",
        "MutualAidGranted",
        "MemberReportedAgain",
        "MemberReportedAgain",
    ]
    assert await types_of(store, other.member_key) == ["MemberEnrolled", "MutualAidGranted"]

    # A later batch continues the member's stream where the first left it.
    later = first.model_copy(update={"district": "370214", "enrolment_id": uuid.uuid4()})
    await apply(pool, reaction, store, [recorded(later)])
    stream = (await store.read("member", first.member_key)).events
    assert [e.type for e in stream][-1] == "MemberReportedAgain" and len(stream) == 5
    assert stream[4].prev_hash == stream[3].hash
