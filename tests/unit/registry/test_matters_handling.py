"""Per-unit figures of service matters, pure: a transferred matter counts for the centre that
received it and for the unit that handled and closed it; a refused transfer counts for the
receiver that refused it and leaves the matter, and its lateness, with the sender."""

from __future__ import annotations

from datetime import date

from huigong_events.base import DomainEvent
from huigong_events.matters import Channel, MatterOutcome
from huigong_registry.domain import handling, matters, workdays, working_calendar
from huigong_registry.domain.certification import UnitState
from huigong_registry.domain.matters import MatterState

from .test_matters import (
    BASE,
    DISTRICT_202,
    DISTRICT_203,
    ITEM,
    SEALED,
    SHIBEI,
    SHINAN,
    STEPS,
    TODAY,
    h,
    receive,
    state_of,
)


def transfer(state: MatterState, acting: matters.Acting, to: UnitState, on: date) -> list[DomainEvent]:
    target = h(to)
    return matters.decide_transfer(
        state, state.matter_id, acting, to=target.unit_id, target=target, item=ITEM,
        reason="转办", on=on, today=TODAY,
    )  # fmt: skip


def test_a_transferred_matter_counts_for_its_first_responder_and_for_the_unit_that_closed_it() -> None:
    # Received by 市南区 on 30 September (deadline 14 October), refused by 市北区's centre, then
    # accepted and closed late by the 市北区 service base.
    events: list[DomainEvent] = list(receive())
    matter_id = state_of(events).matter_id
    events += transfer(state_of(events), DISTRICT_202, SHIBEI, date(2025, 9, 30))
    events += matters.decide_refuse(
        state_of(events), matter_id, DISTRICT_203, "名额已满", date(2025, 10, 9), TODAY
    )
    events += transfer(state_of(events), DISTRICT_202, BASE, date(2025, 10, 13))
    events += matters.decide_accept(state_of(events), matter_id, DISTRICT_203, date(2025, 10, 16), TODAY)
    for step in STEPS:
        events += matters.decide_step(
            state_of(events), matter_id, DISTRICT_203, step, None, date(2025, 10, 16), TODAY
        )
    events += matters.decide_close(
        state_of(events), matter_id, DISTRICT_203, MatterOutcome.已办结, None, date(2025, 10, 17), TODAY
    )
    # A second matter that 市南区 keeps and closes on time.
    own: list[DomainEvent] = list(receive(date(2025, 10, 9)))
    own_id = state_of(own).matter_id
    for step in STEPS:
        own += matters.decide_step(state_of(own), own_id, DISTRICT_202, step, None, date(2025, 10, 10), TODAY)
    own += matters.decide_close(
        state_of(own), own_id, DISTRICT_202, MatterOutcome.已办结, None, date(2025, 10, 10), TODAY
    )
    # Interleaved as the log records them.
    log = [*events[:3], *own, *events[3:]]

    # 15 October: past the deadline, the transfer to the base still waits: the sender answers
    # for it both as first responder and as handler; the base has nothing yet, the centre that
    # refused has its refusal.
    mid = handling.by_unit(log, date(2025, 10, 15))
    shinan, shibei = mid[SHINAN.unit_id], mid[SHIBEI.unit_id]
    assert (shinan.answering.received, shinan.answering.overdue, shinan.handling.overdue) == (2, 1, 1)
    assert (shinan.handling.handled, shinan.handling.closed_on_time) == (1, 1)
    assert (shibei.handling.refused, shibei.handling.transferred_in, shibei.handling.overdue) == (1, 0, 0)
    assert BASE.unit_id not in mid

    # 17 October: the base accepted it and closed it late: counted for the base as handled
    # late, for 市南区 as received and closed late; nobody has it overdue any more.
    end = handling.by_unit(log, date(2025, 10, 17))
    shinan, base = end[SHINAN.unit_id], end[BASE.unit_id]
    assert vars(shinan.answering) == {"received": 2, "closed_on_time": 1, "closed_late": 1, "overdue": 0}
    assert vars(shinan.handling) == {
        "transferred_in": 0, "refused": 0, "handled": 1, "closed_on_time": 1, "closed_late": 0, "overdue": 0,
    }  # fmt: skip
    assert vars(base.handling) == {
        "transferred_in": 1, "refused": 0, "handled": 1, "closed_on_time": 0, "closed_late": 1, "overdue": 0,
    }  # fmt: skip
    assert base.answering.received == 0
    # 16 October: accepted but not closed: overdue for the base as handler, for 市南区 as first
    # responder only.
    day16 = handling.by_unit(log, date(2025, 10, 16))
    assert day16[BASE.unit_id].handling.overdue == 1 and day16[SHINAN.unit_id].handling.overdue == 0
    assert day16[SHINAN.unit_id].answering.overdue == 1
    # Before anything was received, no unit has figures.
    assert handling.by_unit(log, date(2025, 9, 29)) == {}


def test_a_revised_deadline_counts_from_the_day_of_its_revision() -> None:
    # Received 29 December 2026 with 5 working days: provisional deadline 5 January 2027 (1 January
    # counted as a working day). 2027 published on 30 December with 1 January off: 6 January.
    events: list[DomainEvent] = list(
        matters.decide_receive(
            matter_id=state_of(receive()).matter_id, matter_no="FW-2026-370202-00009", item=ITEM,
            item_id=ITEM.item_id, centre=h(SHINAN), acting=DISTRICT_202, channel=Channel.窗口,
            requester_sealed=SEALED, key_id="mk-test", received_on=date(2026, 12, 29), today=date(2026, 12, 29),
        )
    )  # fmt: skip
    assert (state_of(events).deadline, state_of(events).provisional) == (date(2027, 1, 5), True)
    y2027 = {2027: workdays.Arrangement(frozenset({date(2027, 1, 1)}), frozenset())}
    revision = working_calendar.revise(state_of(events), 2027, y2027, date(2026, 12, 30))
    assert [type(e).__name__ for e in revision] == ["MatterDeadlineRevised"]
    events += revision
    assert (state_of(events).deadline, state_of(events).provisional) == (date(2027, 1, 6), False)
    # Counted again with the same calendar, nothing changes: no second revision.
    assert working_calendar.revise(state_of(events), 2027, y2027, date(2026, 12, 31)) == []
    # 6 January: not overdue, as the revised deadline says (by the provisional one it would be).
    assert handling.by_unit(events, date(2027, 1, 6))[SHINAN.unit_id].answering.overdue == 0
    assert handling.by_unit(events, date(2027, 1, 7))[SHINAN.unit_id].answering.overdue == 1
    # Without the revision (a replay as of the 29th) the provisional deadline stands.
    assert handling.by_unit(events, date(2026, 12, 29))[SHINAN.unit_id].answering.overdue == 0
    # A closed matter is not revised.
    closed = [*events[:1]]
    closed += matters.decide_close(
        state_of(closed), state_of(closed).matter_id, DISTRICT_202, MatterOutcome.申请人撤回, None,
        date(2026, 12, 29), date(2026, 12, 29),
    )  # fmt: skip
    assert working_calendar.revise(state_of(closed), 2027, y2027, date(2026, 12, 30)) == []
