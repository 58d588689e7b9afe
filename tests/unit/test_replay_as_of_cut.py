"""What an as-of replay keeps (pure): for a projection that counts events on the business day they
state (the metrics' actuals), the events dated on or before the day, each aggregate's history cut
as a whole from its first event dated later, and an event whose date runs backwards counted as out
of order; for any other projection, the events that occurred before the end of the day."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import ClassVar

from huigong_events.base import DomainEvent
from huigong_events.envelope import RecordedEvent, seal
from huigong_events.reference import Occupation
from huigong_events.registry import MemberEnrolled, MemberReportedAgain, MutualAidGranted
from huigong_events.topics import Topic, topic_for_aggregate
from huigong_metrics.projections.actuals import ActualsProjection
from huigong_ops.replay import DatedProjection, FigureProjection, _Cut
from huigong_platform.database import DbConnection
from huigong_platform.subscriptions import Projection, RawRecord, _Decoded

AS_OF = date(2024, 3, 4)
# Every event is recorded today: a cut on occurred_at would keep none of the members below.
RECORDED = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)


def member(*events: DomainEvent, occurred_at: datetime = RECORDED) -> list[_Decoded]:
    """A member's stream, versions 1…n, as the replay decodes it."""
    key = uuid.uuid4().hex * 2
    decoded: list[_Decoded] = []
    prev: str | None = None
    for version, event in enumerate(events, start=1):
        event = event.model_copy(update={"member_key": key})
        record = seal(
            event=event, event_id=uuid.uuid4(), aggregate_id=key, aggregate_version=version,
            occurred_at=occurred_at, recorded_at=occurred_at, actor="system:registry", source="registry",
            correlation_id="c", causation_id=None, prev_hash=prev,
        )  # fmt: skip
        prev = record.hash
        raw = RawRecord("members", 0, len(decoded), key.encode(), b"", ())
        decoded.append(_Decoded(raw, record, event))
    return decoded


def enrolled(joined: date) -> MemberEnrolled:
    return MemberEnrolled(
        member_key="0" * 64, key_id="k", enrolment_id=uuid.uuid4(), district="370202",
        occupation=Occupation.外卖送餐员, platform="美团", joined_on=joined,
    )  # fmt: skip


def again(on: date) -> MemberReportedAgain:
    return MemberReportedAgain(
        member_key="0" * 64, enrolment_id=uuid.uuid4(), district="370203", reported_on=on
    )


def insured(on: date) -> MutualAidGranted:
    return MutualAidGranted(member_key="0" * 64, policy_year=2024, paid_by="市南区总工会", granted_on=on)


def kept(cut: _Cut, items: list[_Decoded]) -> list[str]:
    return [item.record.type for item in items if cut.keep(item)]


def test_the_metrics_projection_declares_its_days_and_figures() -> None:
    assert isinstance(ActualsProjection(), DatedProjection)
    assert isinstance(ActualsProjection(), FigureProjection)


def test_members_are_kept_by_their_join_date_not_by_when_they_were_recorded() -> None:
    cut = _Cut(ActualsProjection(), AS_OF)
    # Joined and insured by the day; reported again later by another district (not counted): kept.
    early = member(enrolled(date(2024, 3, 1)), insured(date(2024, 3, 1)), again(date(2026, 11, 24)))
    assert kept(cut, early) == ["MemberEnrolled", "MutualAidGranted", "MemberReportedAgain"]
    # Joined on the day itself: kept; insured two days later: cut.
    on_the_day = member(enrolled(AS_OF), insured(date(2024, 3, 6)))
    assert kept(cut, on_the_day) == ["MemberEnrolled"]
    # Joined after the day: the whole history is cut, the report that follows too.
    late = member(enrolled(date(2024, 3, 9)), again(date(2024, 3, 10)))
    assert kept(cut, late) == []
    assert cut.out_of_order == 0


def test_a_date_running_backwards_is_cut_with_its_aggregate_and_counted() -> None:
    cut = _Cut(ActualsProjection(), AS_OF)
    # Enrolled on 10 March; a second report insures them from 2 March: the live figures count the
    # insurance on 2 March, the replay cannot without the enrolment, and says so.
    backwards = member(enrolled(date(2024, 3, 10)), again(date(2024, 3, 12)), insured(date(2024, 3, 2)))
    assert kept(cut, backwards) == []
    assert cut.out_of_order == 1


def test_other_projections_are_cut_on_when_the_events_occurred() -> None:
    class Plain(Projection):
        name: ClassVar[str] = "test.plain"
        topics: ClassVar[tuple[Topic, ...]] = (topic_for_aggregate("member"),)

        async def apply(self, conn: DbConnection, event: DomainEvent, record: RecordedEvent) -> None:
            return None

    cut = _Cut(Plain(), AS_OF)
    # 2024-03-04 15:59 UTC is 23:59 in Beijing: on the day; a minute later it is the 5th.
    before = member(enrolled(date(2030, 1, 1)), occurred_at=datetime(2024, 3, 4, 15, 59, tzinfo=UTC))
    after = member(enrolled(date(2020, 1, 1)), occurred_at=datetime(2024, 3, 4, 16, 0, tzinfo=UTC))
    assert kept(cut, before) == ["MemberEnrolled"] and kept(cut, after) == []
