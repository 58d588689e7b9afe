"""One unit per centre or enterprise: an approval for a centre or enterprise that is already a
unit attaches to it, once, and a unit that was revoked or exited takes no approval (a new cycle
is a new unit)."""

from __future__ import annotations

import uuid
from datetime import date

from huigong_events.reference import Programme
from huigong_events.registry import UnitApprovalAttached, UnitExited, UnitOrigin, UnitRegistered
from huigong_events.review import ConstructionApproved
from huigong_registry.domain.certification import decide_attach, fold, takes_approvals

CENTRE = UnitRegistered(
    unit_id=uuid.uuid4(),
    name="市南区职工服务中心",
    programme=Programme.服务职工综合体,
    area="370202",
    origin=UnitOrigin.职工服务中心,
    registered_on=date(2022, 6, 28),
)


def approval() -> ConstructionApproved:
    return ConstructionApproved(
        application_id=uuid.uuid4(),
        unit_name="市南区总工会",
        programme=Programme.服务职工综合体,
        submitter="370202",
        period_start=date(2027, 3, 1),
        period_end=date(2030, 2, 28),
        score_average="82.33",
    )


def test_an_approval_attaches_to_the_existing_unit_once() -> None:
    approved = approval()
    state = fold([CENTRE])
    assert state is not None and takes_approvals(state, Programme.服务职工综合体)
    events = decide_attach(state, approved, date(2026, 12, 7))
    assert [type(e) for e in events] == [UnitApprovalAttached]
    assert events[0].unit_id == CENTRE.unit_id  # type: ignore[attr-defined]
    again = fold([CENTRE, *events])
    assert again is not None and again.attached == [approved.application_id]
    assert decide_attach(again, approved, date(2026, 12, 8)) == []  # a redelivered approval


def test_an_exited_unit_or_another_programme_takes_no_approval() -> None:
    exited = fold([CENTRE, UnitExited(unit_id=CENTRE.unit_id, reason="撤并", exited_on=date(2024, 1, 1))])
    assert not takes_approvals(exited, Programme.服务职工综合体)
    assert not takes_approvals(fold([CENTRE]), Programme.幸福企业)
    assert not takes_approvals(None, Programme.服务职工综合体)
