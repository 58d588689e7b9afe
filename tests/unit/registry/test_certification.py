"""Certification rules: criteria, refusals, title, certificate number and dates, revocation, exit."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from huigong_events.base import DomainEvent
from huigong_events.reference import HAPPY_ENTERPRISE_CRITERIA, TITLES, ExclusionRule, Programme
from huigong_events.registry import (
    CertificationRevoked,
    CriterionResult,
    UnitCertified,
    UnitExited,
    UnitOrigin,
    UnitRegistered,
)
from huigong_events.review import (
    ConstructionApproved,
    EvidenceSource,
    ExclusionEvidence,
    ExclusionFound,
    FindingStage,
)
from huigong_platform.refusals import Conflict, NotFound, Refusal
from huigong_registry.domain.certification import (
    SERVICE_BASE_CRITERIA,
    UnitStatus,
    certificate_no,
    criteria_of,
    decide_assess,
    decide_certify,
    decide_exit,
    decide_on_approval,
    decide_revoke,
    fold,
    unit_id_of_application,
)

ON = date(2027, 9, 1)
LATER = date(2028, 9, 1)  # a year of building after approval ON (the period began 2027-01-01)


def registered(programme: Programme = Programme.幸福企业) -> UnitRegistered:
    return UnitRegistered(
        unit_id=uuid.uuid4(),
        name="青岛某某有限公司",
        programme=programme,
        area="370202",
        origin=UnitOrigin.试点2022,
        registered_on=date(2027, 1, 1),
    )


def results(programme: Programme, unmet: tuple[str, ...] = ()) -> list[CriterionResult]:
    return [
        CriterionResult(criterion=c, met=c not in unmet, evidence="现场核查") for c in criteria_of(programme)
    ]


def assessed(programme: Programme = Programme.幸福企业, unmet: tuple[str, ...] = ()) -> list[DomainEvent]:
    events: list[DomainEvent] = [registered(programme)]
    events += decide_assess(fold(events), results(programme, unmet), ON)
    return events


def certified(programme: Programme = Programme.幸福企业) -> list[DomainEvent]:
    events = assessed(programme)
    return events + decide_certify(fold(events), certificate_no(programme, 2027, 1), ON)


def test_each_programme_has_its_criteria() -> None:
    assert criteria_of(Programme.幸福企业) == HAPPY_ENTERPRISE_CRITERIA
    assert len(criteria_of(Programme.服务职工综合体)) == 8
    assert criteria_of(Programme.服务职工基地) == SERVICE_BASE_CRITERIA
    assert criteria_of(Programme.公益伙伴) == ()


def test_certification_gives_the_exact_title_number_and_dates() -> None:
    events = certified()
    cert = events[-1]
    assert isinstance(cert, UnitCertified)
    assert cert.title == TITLES[Programme.幸福企业] == "青岛市职工生活幸福型企业创建示范单位"
    assert cert.certificate_no == "QDGH-2027-FQ-0001"
    assert cert.valid_until == date(2030, 8, 31) and cert.recheck_due == date(2028, 9, 1)
    assert fold(events) is not None and fold(events).status is UnitStatus.certified  # type: ignore[union-attr]
    assert certificate_no(Programme.服务职工基地, 2028, 12) == "QDGH-2028-JD-0012"
    assert certificate_no(Programme.服务职工综合体, 2028, 3) == "QDGH-2028-ZH-0003"


def test_certification_is_refused_with_every_unmet_or_unassessed_criterion() -> None:
    unit = registered()
    partial = [CriterionResult(criterion=HAPPY_ENTERPRISE_CRITERIA[0], met=False, evidence="食堂未改造")]
    events: list[DomainEvent] = [unit, *decide_assess(fold([unit]), partial, ON)]
    with pytest.raises(Refusal) as refused:
        decide_certify(fold(events), "QDGH-2027-FQ-0001", ON)
    assert refused.value.status == 422
    assert [e.field for e in refused.value.errors] == [f"criteria.{c}" for c in HAPPY_ENTERPRISE_CRITERIA]
    assert refused.value.errors[0].en == "not met" and refused.value.errors[1].en == "not assessed"
    # A later assessment replaces the earlier one for the same criterion.
    events += decide_assess(fold(events), results(Programme.幸福企业), ON)
    assert isinstance(decide_certify(fold(events), "QDGH-2027-FQ-0001", ON)[0], UnitCertified)


def test_unknown_criteria_and_unknown_units_are_refused() -> None:
    unit = registered(Programme.服务职工基地)
    with pytest.raises(Refusal) as refused:
        decide_assess(
            fold([unit]), [CriterionResult(criterion="改善生产生活条件", met=True, evidence="x")], ON
        )
    assert refused.value.errors[0].field == "results.0.criterion"
    with pytest.raises(NotFound):
        decide_assess(None, results(Programme.幸福企业), ON)
    with pytest.raises(Conflict):
        decide_assess(fold([registered(Programme.公益伙伴)]), results(Programme.幸福企业), ON)


def test_a_revoked_unit_is_never_certified_again() -> None:
    events = certified()
    with pytest.raises(Conflict):
        decide_certify(fold(events), "QDGH-2027-FQ-0002", ON)  # not twice either
    events += decide_revoke(fold(events), "年度复核不合格", ON)
    assert isinstance(events[-1], CertificationRevoked) and events[-1].automatic is False
    with pytest.raises(Conflict) as refused:
        decide_certify(fold(events), "QDGH-2027-FQ-0002", ON)
    assert "重新申报" in refused.value.errors[0].zh
    with pytest.raises(Conflict):
        decide_revoke(fold(events), "再次撤销", ON)


def test_only_a_service_base_exits() -> None:
    with pytest.raises(Conflict):
        decide_exit(fold(certified()), "满意度不达标", ON)
    events = certified(Programme.服务职工基地)
    events += decide_exit(fold(events), "满意度评价不达标", ON)
    assert isinstance(events[-1], UnitExited)
    assert fold(events).status is UnitStatus.exited  # type: ignore[union-attr]
    with pytest.raises(Conflict):
        decide_exit(fold(events), "再次退出", ON)


def approval(application_id: uuid.UUID) -> ConstructionApproved:
    return ConstructionApproved(
        application_id=application_id,
        unit_name="青岛某某有限公司",
        programme=Programme.幸福企业,
        submitter="370202",
        period_start=date(2027, 1, 1),
        period_end=date(2029, 12, 31),
        score_average="82.33",
    )


def finding(application_id: uuid.UUID) -> ExclusionFound:
    return ExclusionFound(
        finding_id=uuid.uuid4(),
        application_id=application_id,
        rule=ExclusionRule.E2_拖欠工资,
        rule_text="拖欠职工工资",
        stage=FindingStage.认定后,
        evidence=ExclusionEvidence(source=EvidenceSource.评审认定, reason="经查拖欠工资三个月"),
    )


def test_an_approval_registers_one_unit_with_a_stable_id() -> None:
    application_id = uuid.uuid4()
    (unit,) = decide_on_approval(False, approval(application_id), ON)
    assert isinstance(unit, UnitRegistered)
    assert unit.unit_id == unit_id_of_application(application_id) == unit_id_of_application(application_id)
    assert unit.origin is UnitOrigin.申报 and unit.application_id == application_id
    assert decide_on_approval(True, approval(application_id), ON) == []


def test_a_revocation_recorded_automatically_before_revocation_cases_still_reads_as_revoked() -> None:
    """Streams recorded when a finding revoked a title by itself (automatic: true) are read as
    they were: revoked on that day, never certified again (domain/revocation.py for today's)."""
    application_id = uuid.uuid4()
    events: list[DomainEvent] = decide_on_approval(False, approval(application_id), ON)
    events += decide_assess(fold(events), results(Programme.幸福企业), LATER)
    events += decide_certify(fold(events), "QDGH-2028-FQ-0009", LATER)
    found = finding(application_id)
    events.append(
        CertificationRevoked(
            unit_id=unit_id_of_application(application_id),
            certificate_no="QDGH-2028-FQ-0009",
            revoked_on=LATER,
            reason="发现不予受理情形 E2",
            finding_id=found.finding_id,
            automatic=True,
        )
    )
    state = fold(events)
    assert state is not None and state.status is UnitStatus.revoked
    assert found.finding_id in state.revoked_by_findings
    with pytest.raises(Conflict):
        decide_certify(state, "QDGH-2028-FQ-0010", LATER)


def test_a_unit_is_certified_only_after_a_year_of_building_with_an_assessment_in_the_period() -> None:
    """经一定时间的创建达到认定标准的: approved ON for a period from 2027-03-01 to 2030-02-28."""
    application_id = uuid.uuid4()
    later_period = approval(application_id).model_copy(
        update={"period_start": date(2028, 3, 1), "period_end": date(2031, 2, 28)}
    )
    events: list[DomainEvent] = decide_on_approval(False, later_period, ON)
    # An assessment is never dated before the approval, nor in the future.
    with pytest.raises(Refusal) as caught:
        decide_assess(fold(events), results(Programme.幸福企业), date(2027, 8, 31), today=LATER)
    assert caught.value.errors[0].field == "assessed_on"
    with pytest.raises(Refusal):
        decide_assess(fold(events), results(Programme.幸福企业), date(2030, 1, 1), today=LATER)
    events += decide_assess(fold(events), results(Programme.幸福企业), ON, today=ON)
    # The day of approval, and before the period's first year is over: refused, naming the date.
    for day in (ON, date(2029, 2, 28)):
        with pytest.raises(Conflict) as refused:
            decide_certify(fold(events), "QDGH-2029-FQ-0001", day)
        (error,) = refused.value.errors
        assert error.field == "certified_on" and "2029-03-01" in error.zh and "2029-03-01" in error.en
    # On the date, the assessment must lie within the period (the one before it does not count).
    with pytest.raises(Conflict) as refused:
        decide_certify(fold(events), "QDGH-2029-FQ-0001", date(2029, 3, 1))
    assert refused.value.errors[0].field == "assessments"
    events += decide_assess(
        fold(events), results(Programme.幸福企业), date(2029, 2, 1), today=date(2029, 2, 1)
    )
    (certified,) = decide_certify(fold(events), "QDGH-2029-FQ-0001", date(2029, 3, 1))
    assert isinstance(certified, UnitCertified)
    # The setting moves the date; the 2022 cohort is not held to it.
    early = events[:1] + decide_assess(
        fold(events[:1]), results(Programme.幸福企业), date(2028, 3, 5), today=LATER
    )
    assert decide_certify(fold(early), "QDGH-2028-FQ-0002", date(2028, 3, 10), 0)
    assert decide_certify(fold(assessed()), "QDGH-2022-FQ-0001", date(2022, 7, 1))
