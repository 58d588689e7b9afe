"""Reactions run as faust-streaming agents, exactly-once in effect: a redelivered trigger decides
nothing twice, and each new event names its trigger as the cause."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import ClassVar

import asyncpg
import pytest
from faust.contrib.asgi import faust_app_running

from huigong_events.base import DomainEvent
from huigong_events.intake import EnrolmentRequested
from huigong_events.registry import MemberEnrolled, MemberReportedAgain
from huigong_events.topics import Topic, topic_for_aggregate
from huigong_platform.database import create_pool
from huigong_platform.eventstore import EventStore
from huigong_platform.reactions import Reaction, ReactionContext, reaction_app
from huigong_platform.settings import Settings
from huigong_testkit.factories import enrolment, recorded

from ..conftest import Stack
from .test_subscriptions import publish


class FirstReportCounts(Reaction):
    """A member is enrolled by the first report; later reports are recorded, not counted."""

    service: ClassVar[str] = "registry"
    topics: ClassVar[tuple[Topic, ...]] = (topic_for_aggregate("enrolment"),)
    handles: ClassVar[frozenset[str]] = frozenset({"EnrolmentRequested"})

    def __init__(self, name: str, keys: set[str]) -> None:
        self.name = name  # type: ignore[misc]
        self.keys = keys  # only this test's members: other tests publish enrolments too

    async def react(self, context: ReactionContext, event: DomainEvent) -> None:
        assert isinstance(event, EnrolmentRequested)
        if event.member_key not in self.keys:
            return
        version = await context.version_of("member", event.member_key)
        decided: DomainEvent
        if version == 0:
            decided = MemberEnrolled(
                member_key=event.member_key,
                key_id=event.key_id,
                enrolment_id=event.enrolment_id,
                district=event.district,
                occupation=event.occupation,
                platform=event.platform,
                joined_on=event.joined_on,
            )
        else:
            decided = MemberReportedAgain(
                member_key=event.member_key,
                enrolment_id=event.enrolment_id,
                district=event.district,
                reported_on=date(2022, 8, 1),
            )
        await context.append(event.member_key, [decided], version)


@pytest.fixture
async def pool(stack: Stack) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(stack.dsn("registry"), "registry")
    yield pool
    await pool.close()


async def test_a_redelivered_trigger_decides_nothing_twice(stack: Stack, pool: asyncpg.Pool) -> None:
    first = enrolment("370214", "美团", seed=uuid.uuid4().hex)
    again = first.model_copy(update={"district": "370215", "enrolment_id": uuid.uuid4()})
    other = enrolment("370214", "滴滴", seed=uuid.uuid4().hex)
    r_first, r_again, r_other = recorded(first), recorded(again), recorded(other)
    # The first report is published twice (as the outbox relay may after a crash).
    await publish(stack, [r_first, r_first, r_again, r_other])

    settings = Settings(
        service="registry",
        database_url=stack.dsn("registry"),
        kafka_bootstrap=stack.bootstrap,
        topic_prefix=stack.topic_prefix,
    )
    store = EventStore(pool, stack.topic_prefix)
    reaction = FirstReportCounts(f"reaction_{uuid.uuid4().hex[:8]}", {first.member_key, other.member_key})
    app = reaction_app(settings, pool, store, [reaction])
    async with faust_app_running(app, stop_timeout=20):
        deadline = asyncio.get_running_loop().time() + 90
        while asyncio.get_running_loop().time() < deadline:
            if (await store.read("member", first.member_key)).version >= 2 and (
                await store.read("member", other.member_key)
            ).version >= 1:
                break
            await asyncio.sleep(0.3)
        await asyncio.sleep(2)  # a second decision from the duplicate would have landed by now

    member = await store.read("member", first.member_key)
    assert [e.type for e in member.events] == ["MemberEnrolled", "MemberReportedAgain"]
    # The two reports sit on different partitions, so either may be the first one applied;
    # each decision names its own trigger and keeps the trigger's correlation id.
    triggers = {r_first.data["district"]: r_first, r_again.data["district"]: r_again}
    for decision in member.events:
        trigger = triggers.pop(decision.data["district"])
        assert decision.causation_id == str(trigger.id)
        assert decision.correlation_id == trigger.correlation_id
    assert not triggers
    assert member.events[0].actor == "system:registry"
    assert [e.type for e in (await store.read("member", other.member_key)).events] == ["MemberEnrolled"]
