"""联动服务 figures (pure): counted for the first-responder centre, transfers for the unit that made
them, overdue as a level between the day after the deadline and the closure, ratings averaged."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime

import pytest

from huigong_events.base import DomainEvent
from huigong_events.matters import (
    Channel,
    HandlerKind,
    MatterClosed,
    MatterDeadlineRevised,
    MatterOutcome,
    MatterRated,
    MatterReceived,
    MatterTransferred,
    ServiceCategory,
)
from huigong_metrics.domain.counting import Counted, NotCounted, SubjectKey, count, subject_of
from huigong_metrics.domain.matters import by_centre, centre_name, figures
from huigong_metrics.domain.progress import LevelRows

SEALED = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9w"
AT = datetime(2026, 3, 1, tzinfo=UTC)


class Book:
    """Counts a history as the projection does; the counters' levels at any day."""

    def __init__(self) -> None:
        self.known: dict[SubjectKey, Counted] = {}
        self.sums: dict[tuple[str, str, date], int] = defaultdict(int)

    def apply(self, events: Iterable[DomainEvent]) -> None:
        for event in events:
            subject = subject_of(event)
            outcome = count(
                event, self.known.get(subject) if subject else None, simulated=False, recorded_at=AT
            )
            if outcome.counted is not None and subject is not None:
                self.known[subject] = outcome.counted
            for d in outcome.deltas:
                self.sums[(d.counter, d.area, d.day)] += d.amount

    def rows(self, day: date) -> LevelRows:
        levels: dict[tuple[str, str], dict[date, tuple[int, int]]] = {}
        for (counter, area, on), amount in self.sums.items():
            if on <= day:
                level = levels.setdefault((counter, area), {day: (0, 0)})
                level[day] = (level[day][0] + amount, 0)
        return levels


def received(area: str, on: date, deadline: date) -> MatterReceived:
    return MatterReceived(
        matter_id=uuid.uuid4(),
        matter_no=f"FW-{on.year}-{area}-00001",
        item_id=uuid.uuid4(),
        item_name="劳动争议法律咨询",
        category=ServiceCategory.法律援助,
        centre_id=uuid.uuid4(),
        centre_name=centre_name(area),
        area=area,
        channel=Channel.窗口,
        requester_sealed=SEALED,
        key_id="mk-test",
        received_on=on,
        time_limit_days=5,
        steps=["登记"],
        deadline=deadline,
    )


def closed(matter: MatterReceived, on: date) -> MatterClosed:
    return MatterClosed(
        matter_id=matter.matter_id,
        unit_id=uuid.uuid4(),
        outcome=MatterOutcome.已办结,
        closed_on=on,
        deadline=matter.deadline,
        on_time=on <= matter.deadline,
    )


def transferred(matter: MatterReceived, from_area: str, to_area: str, on: date) -> MatterTransferred:
    return MatterTransferred(
        matter_id=matter.matter_id,
        from_unit=uuid.uuid4(),
        from_name="转出单位",
        from_area=from_area,
        to_unit=uuid.uuid4(),
        to_name="接收单位",
        to_area=to_area,
        to_kind=HandlerKind.职工服务中心,
        reason="本中心不提供该服务",
        transferred_on=on,
    )


def test_overdue_rises_the_day_after_the_deadline_and_falls_with_the_closure() -> None:
    book = Book()
    late = received("370213", date(2026, 3, 2), date(2026, 3, 9))
    quick = received("370213", date(2026, 3, 2), date(2026, 3, 9))
    book.apply(
        [
            late,
            quick,
            closed(quick, date(2026, 3, 4)),
            transferred(late, "370213", "370214", date(2026, 3, 3)),
        ]
    )

    def at(day: date) -> dict[str, object]:
        return figures(book.rows(day), "370213", day).to_json()

    assert at(date(2026, 3, 1))["received"] == 0
    assert at(date(2026, 3, 9)) == {
        "area": "370213",
        "name": "李沧区职工服务中心",
        "received": 2,
        "transferred": 1,
        "closed_on_time": 1,
        "closed_late": 0,
        "overdue": 0,
        "rated": 0,
        "avg_satisfaction": None,
    }
    assert at(date(2026, 3, 10))["overdue"] == 1
    # Closed late on the 20th: overdue up to the 19th, then closed late.
    book.apply([closed(late, date(2026, 3, 20))])
    assert at(date(2026, 3, 19))["overdue"] == 1
    assert at(date(2026, 3, 20))["overdue"] == 0 and at(date(2026, 3, 20))["closed_late"] == 1
    # The receiving district made no transfer and received nothing: the matter is 李沧区's.
    assert figures(book.rows(date(2026, 3, 20)), "370214", date(2026, 3, 20)).received == 0


def revised(matter: MatterReceived, deadline: date, on: date) -> MatterDeadlineRevised:
    return MatterDeadlineRevised(
        matter_id=matter.matter_id,
        deadline=deadline,
        deadline_provisional=False,
        calendar_year=deadline.year,
        revised_on=on,
    )


def test_a_revised_deadline_moves_overdue_from_the_day_of_the_revision() -> None:
    # Received 28 December 2026 with a provisional deadline of 8 January 2027 (1 January counted
    # as a working day); the 2027 calendar, published on 5 January, moves it to 11 January.
    book = Book()
    later = received("370202", date(2026, 12, 28), date(2027, 1, 8))
    book.apply([later, revised(later, date(2027, 1, 11), date(2027, 1, 5))])

    def overdue(day: date) -> object:
        return figures(book.rows(day), "370202", day).overdue

    assert [overdue(date(2027, 1, d)) for d in (8, 9, 11, 12)] == [0, 0, 0, 1]
    # Closed on the 11th: on time by the revised deadline, never overdue.
    book.apply(
        [
            closed(
                MatterReceived.model_validate({**later.model_dump(), "deadline": date(2027, 1, 11)}),
                date(2027, 1, 11),
            )
        ]
    )
    assert [overdue(date(2027, 1, d)) for d in (9, 11, 12, 20)] == [0, 0, 0, 0]
    assert figures(book.rows(date(2027, 1, 20)), "370202", date(2027, 1, 20)).closed_on_time == 1

    # A revision after the old deadline had passed: overdue by the old one until that day.
    book = Book()
    early = received("370203", date(2026, 12, 20), date(2026, 12, 30))
    book.apply([early, revised(early, date(2027, 1, 6), date(2027, 1, 4))])

    def overdue_early(day: date) -> object:
        return figures(book.rows(day), "370203", day).overdue

    assert [overdue_early(date(2026, 12, 31)), overdue_early(date(2027, 1, 3))] == [1, 1]
    assert [overdue_early(date(2027, 1, d)) for d in (4, 6, 7)] == [0, 0, 1]


def test_ratings_are_averaged_per_centre_and_city_wide() -> None:
    book = Book()
    scores = {"370214": [5, 2], "370215": [4]}
    for area, given in scores.items():
        for score in given:
            matter = received(area, date(2026, 6, 1), date(2026, 6, 15))
            book.apply([matter, closed(matter, date(2026, 6, 2))])
            book.apply([MatterRated(matter_id=matter.matter_id, score=score, rated_on=date(2026, 6, 3))])
    day = date(2026, 6, 3)
    centres = {c.area: c for c in by_centre(book.rows(day), day)}
    assert len(centres) == 11 and centres["370200"].name == "青岛市职工服务中心"
    assert centres["370214"].avg_satisfaction == 3.5 and centres["370214"].rated == 2
    assert centres["370215"].avg_satisfaction == 4.0
    assert centres["370202"].avg_satisfaction is None
    assert figures(book.rows(day), None, day).avg_satisfaction == round(11 / 3, 2)
    assert figures(book.rows(date(2026, 6, 2)), "370214", date(2026, 6, 2)).rated == 0


def test_a_closure_of_a_matter_never_counted_is_refused_with_its_reason() -> None:
    matter = received("370202", date(2026, 3, 2), date(2026, 3, 9))
    with pytest.raises(NotCounted, match="MatterClosed"):
        Book().apply([closed(matter, date(2026, 3, 3))])
