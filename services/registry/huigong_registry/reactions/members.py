"""The member roster as a faust-streaming agent on intake's enrolments: each EnrolmentRequested
becomes MemberEnrolled (first report of a member key) or MemberReportedAgain, and MutualAidGranted
once per member and policy year (domain/members.py has the rules).

Exactly once in effect: the runner applies each trigger once (checkpoint and version fence in the
same transaction as the append); should it come again all the same, the member's stream already
holds its enrolment id and nothing is decided. Two reports of one person (on different partitions)
are serialised by an advisory lock on the member key."""

from __future__ import annotations

from typing import ClassVar

from huigong_events.base import DomainEvent
from huigong_events.intake import EnrolmentRequested
from huigong_events.topics import Topic, topic_for_aggregate
from huigong_events.upcasting import decode
from huigong_platform.reactions import Reaction, ReactionContext

from ..adapters.units import lock
from ..domain.dates import beijing_day
from ..domain.members import AGGREGATE, decide_enrolment, fold


class MembersReaction(Reaction):
    name: ClassVar[str] = "registry.members"
    service: ClassVar[str] = "registry"
    topics: ClassVar[tuple[Topic, ...]] = (topic_for_aggregate("enrolment"),)
    handles: ClassVar[frozenset[str]] = frozenset({"EnrolmentRequested"})

    async def react(self, context: ReactionContext, event: DomainEvent) -> None:
        if not isinstance(event, EnrolmentRequested):
            return
        await lock(context.conn, AGGREGATE, event.member_key)
        stream = await self.store.read(AGGREGATE, event.member_key, conn=context.conn)
        state = fold(decode(record) for record in stream.events)
        events = decide_enrolment(state, event, beijing_day(context.trigger.occurred_at))
        if events:
            await context.append(event.member_key, events, stream.version)
