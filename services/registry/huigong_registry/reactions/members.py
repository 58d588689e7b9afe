"""The member roster as a faust-streaming agent on intake's enrolments: each EnrolmentRequested
becomes MemberEnrolled (first report of a member key) or MemberReportedAgain, and MutualAidGranted
once per member and policy year; a MutualAidRequested (mutual aid asked for later) becomes
MutualAidGranted unless that year is covered (domain/members.py has the rules).

Exactly once in effect: the runner applies each trigger once (checkpoint and version fence in the
same transaction as the append); should it come again all the same, the member's stream already
holds its enrolment id and nothing is decided. Two reports of one person (on different partitions)
are serialised by an advisory lock on the member key.

A batch of reports is decided at once (`react_batch`): the locks of all its member keys in one
statement, one read of all their streams, the decisions in memory in trigger order (the same
person twice in a batch: MemberEnrolled, then MemberReportedAgain), one append of everything.
Should that fail, the runner decides the batch again report by report through `react`, so a
poison report is dead-lettered alone."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from huigong_events.base import DomainEvent
from huigong_events.envelope import RecordedEvent
from huigong_events.intake import EnrolmentRequested, MutualAidRequested
from huigong_events.reference import SUBMITTERS
from huigong_events.topics import Topic, topic_for_aggregate
from huigong_events.upcasting import decode
from huigong_platform.eventstore import PendingAppend
from huigong_platform.reactions import BatchContext, Reaction, ReactionContext

from ..adapters.members import LoadedMember, load_members, lock_members
from ..adapters.units import lock
from ..domain.dates import beijing_day
from ..domain.members import AGGREGATE, MemberState, decide_aid_request, decide_enrolment, evolve, fold


class MembersReaction(Reaction):
    name: ClassVar[str] = "registry.members"
    service: ClassVar[str] = "registry"
    topics: ClassVar[tuple[Topic, ...]] = (topic_for_aggregate("enrolment"),)
    handles: ClassVar[frozenset[str]] = frozenset({"EnrolmentRequested", "MutualAidRequested"})
    # A MutualAidRequested for a year already covered records nothing: no promise for it.
    outcomes: ClassVar[Mapping[str, frozenset[str]]] = {
        "EnrolmentRequested": frozenset({"MemberEnrolled", "MemberReportedAgain"})
    }
    batch_size: ClassVar[int] = 2000  # a batch's locks, read and append cost little more for 2000

    async def react(self, context: ReactionContext, event: DomainEvent) -> None:
        if not isinstance(event, (EnrolmentRequested, MutualAidRequested)):
            return
        await lock(context.conn, AGGREGATE, event.member_key)
        stream = await self.store.read(AGGREGATE, event.member_key, conn=context.conn)
        state = fold(decode(record) for record in stream.events)
        events = _decide(state, event, context.trigger)
        if events:
            await context.append(event.member_key, events, stream.version)

    async def react_batch(
        self, context: BatchContext, items: Sequence[tuple[DomainEvent, RecordedEvent]]
    ) -> None:
        requests = [(e, r) for e, r in items if isinstance(e, (EnrolmentRequested, MutualAidRequested))]
        keys = sorted({e.member_key for e, _ in requests})
        await lock_members(context.conn, keys)
        members = await load_members(context.conn, keys)
        heads = {key: (member.version, member.hash) for key, member in members.items()}
        appends: list[PendingAppend] = []
        for request, trigger in requests:
            member = members.setdefault(request.member_key, LoadedMember())
            decided = _decide(member.state, request, trigger)
            if not decided:
                continue
            appends.append(PendingAppend(request.member_key, decided, member.version, context.meta(trigger)))
            for event in decided:
                member.state = evolve(member.state, event)
            member.version += len(decided)
        await context.append_many(AGGREGATE, appends, heads)


def _decide(
    state: MemberState, request: EnrolmentRequested | MutualAidRequested, trigger: RecordedEvent
) -> list[DomainEvent]:
    if isinstance(request, MutualAidRequested):
        return decide_aid_request(state, request)
    # The trigger's source is the federation that sent the report (and pays for mutual aid).
    reporter = trigger.source if trigger.source in SUBMITTERS else None
    return decide_enrolment(state, request, beijing_day(trigger.occurred_at), reporter)
