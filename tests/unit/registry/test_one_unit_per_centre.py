"""One unit per centre or enterprise: an approval for a centre or enterprise that is already a
unit attaches to it, once, and a unit that was revoked or exited takes no approval (a new cycle
is a new unit)."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from huigong_events.reference import SERVICE_COMPLEX_CRITERIA, Programme
from huigong_events.registry import (
    CriterionResult,
    UnitApprovalAttached,
    UnitAssessed,
    UnitExited,
    UnitOrigin,
    UnitRegistered,
)
from huigong_events.review import ConstructionApproved
from huigong_platform.refusals import Conflict
from huigong_registry.domain.certification import (
    check_certifiable,
    decide_attach,
    earliest_certification,
    fold,
    takes_approvals,
)

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


def test_a_centre_that_takes_an_approval_builds_under_it_before_it_is_certified() -> None:
    # Alone, a centre is held to no building time; with an approved complex attached it is
    # certified only after the minimum building time from the approved period's start.
    assert earliest_certification(fold([CENTRE]), 1) is None  # type: ignore[arg-type]
    approved = approval()
    attached = fold([CENTRE, *decide_attach(fold([CENTRE]), approved, date(2026, 12, 7))])  # type: ignore[arg-type]
    assert attached is not None and earliest_certification(attached, 1) == date(2028, 3, 1)
    results = [CriterionResult(criterion=c, met=True, evidence="现场核查") for c in SERVICE_COMPLEX_CRITERIA]
    assessed = fold(
        [
            CENTRE,
            *decide_attach(fold([CENTRE]), approved, date(2026, 12, 7)),  # type: ignore[arg-type]
            UnitAssessed(
                unit_id=CENTRE.unit_id,
                programme=Programme.服务职工综合体,
                assessed_on=date(2028, 2, 1),
                results=results,
            ),
        ]
    )
    with pytest.raises(Conflict) as early:
        check_certifiable(assessed, date(2028, 2, 28), 1)
    assert "2028-03-01" in early.value.errors[0].zh
    assert check_certifiable(assessed, date(2028, 3, 1), 1) is assessed
