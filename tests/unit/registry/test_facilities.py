"""Facilities and the 服务项目库: opened as reported, listed on proposal, closed once."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from huigong_events.forms import ServiceField
from huigong_events.intake import FacilityReported, ServiceProjectProposed
from huigong_events.reference import FacilityKind
from huigong_events.registry import FacilityClosed, FacilityOpened, ServiceProjectListed
from huigong_platform.refusals import Conflict, NotFound, Refusal
from huigong_registry.domain.facilities import (
    FacilityStatus,
    decide_close,
    decide_on_proposal,
    decide_on_report,
    facility_id_of_report,
    fold,
    project_id_of_proposal,
)

CODE = "91370202MA3C4LXX3X"


def report(opened: date = date(2023, 5, 1)) -> FacilityReported:
    return FacilityReported(
        report_id=uuid.uuid4(),
        facility_kind=FacilityKind.智慧健康驿站_企业,
        name="某某公司职工智慧健康驿站",
        area="370203",
        host_unit="青岛某某有限公司",
        opened_on=opened,
    )


def proposal() -> ServiceProjectProposed:
    return ServiceProjectProposed(
        proposal_id=uuid.uuid4(),
        name="职工心理健康公益课堂",
        field=ServiceField.心理疏导,
        provider="青岛某某心理咨询中心",
        provider_credit_code=CODE,
        area="370202",
        description="每月一次面向职工的心理疏导公益课堂",
    )


def test_ids_are_stable_and_distinct_per_source() -> None:
    some = uuid.uuid4()
    assert facility_id_of_report(some) == facility_id_of_report(some)
    assert facility_id_of_report(some) != project_id_of_proposal(some)
    assert facility_id_of_report(some) != facility_id_of_report(uuid.uuid4())


def test_a_report_opens_the_facility_as_reported_once() -> None:
    reported = report()
    [opened] = decide_on_report(False, reported)
    assert isinstance(opened, FacilityOpened)
    assert opened.facility_id == facility_id_of_report(reported.report_id)
    assert (opened.kind, opened.area, opened.opened_on, opened.report_id) == (
        reported.facility_kind,
        "370203",
        date(2023, 5, 1),
        reported.report_id,
    )
    assert decide_on_report(True, reported) == []


def test_a_proposal_is_listed_on_proposal_once() -> None:
    proposed = proposal()
    [listed] = decide_on_proposal(False, proposed, date(2023, 6, 2))
    assert isinstance(listed, ServiceProjectListed)
    assert listed.project_id == project_id_of_proposal(proposed.proposal_id)
    assert (listed.field, listed.area, listed.listed_on) == (
        ServiceField.心理疏导,
        "370202",
        date(2023, 6, 2),
    )
    assert decide_on_proposal(True, proposed, date(2023, 6, 2)) == []


def test_a_facility_closes_once_and_not_before_it_opened() -> None:
    opened = decide_on_report(False, report())
    state = fold(opened)
    assert state is not None and state.status is FacilityStatus.open
    [closed] = decide_close(state, date(2024, 1, 31), "场地收回")
    assert isinstance(closed, FacilityClosed)
    after = fold([*opened, closed])
    assert (
        after is not None and after.status is FacilityStatus.closed and after.closed_on == date(2024, 1, 31)
    )
    with pytest.raises(Conflict):
        decide_close(after, date(2024, 2, 1), "再次关闭")
    with pytest.raises(Refusal) as refused:
        decide_close(state, date(2023, 4, 30), "早于建成")
    assert refused.value.status == 422
    with pytest.raises(NotFound):
        decide_close(None, date(2024, 1, 31), "未知")
