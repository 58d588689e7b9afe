"""Automatic screening as the city federation notices it: which enterprise facts keep an
application from being accepted (不予受理), which are near misses, and what a fact reported later
does once the application is accepted, being built or certified."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

import pytest

from huigong_events.forms import DeclaredFact, ReportingDepartment
from huigong_events.intake import ApplicationAmended, ApplicationWithdrawn
from huigong_events.reference import ComplianceFactKind, ExclusionRule, Programme
from huigong_events.registry import UnitCertified, UnitOrigin, UnitRegistered
from huigong_events.review import (
    ApplicationAccepted,
    ApplicationRejected,
    EvidenceSource,
    ExclusionFound,
    FindingStage,
)
from huigong_review.domain.dates import add_years, period_end
from huigong_review.domain.decisions import approve
from huigong_review.domain.findings import clear_finding
from huigong_review.domain.screening import (
    Outcome,
    ScreeningSubject,
    accident_outcome,
    arrears_outcome,
    finding_id,
    screen,
    screen_later_fact,
    standing_fact_outcome,
)
from huigong_review.domain.state import ReviewStage, ReviewState

from ...forms import CHARITY_CODE, ENTERPRISE_CODE, complex_form, partner_form, service_base_form, variant
from .builders import (
    APPLICATION,
    BEIJING,
    CHAIR,
    NS,
    SUBMITTED_ON,
    accepted,
    declaring,
    fold,
    reported,
    scored,
    screened,
    submitted,
)

K = ComplianceFactKind
ONE_YEAR_AGO = date(2023, 6, 20)
THREE_YEARS_BEFORE = date(2021, 6, 20)  # the day that is no longer "within three years"


# --------------------------------------------------------------------------------------------
# The seven enterprise rules
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(ComplianceFactKind))
def test_every_fact_kind_keeps_the_enterprise_out_under_its_rule(kind: ComplianceFactKind) -> None:
    result = screen(ScreeningSubject.of(submitted()), [reported(kind, ONE_YEAR_AGO)])

    [found] = result.findings
    assert found.rule is kind.rule and found.rule_text == kind.rule.text
    assert found.stage is FindingStage.受理前
    assert isinstance(result.decision, ApplicationRejected)
    assert [(g.finding_id, g.rule) for g in result.decision.findings] == [(found.finding_id, kind.rule)]


def test_the_seven_rules_are_all_reachable_from_facts() -> None:
    rules = {kind.rule for kind in ComplianceFactKind}
    assert rules == {rule for rule in ExclusionRule if rule.is_enterprise_fact}
    assert len(rules) == 7


ACCIDENTS = [kind for kind in ComplianceFactKind if kind.is_accident]


@pytest.mark.parametrize("kind", ACCIDENTS)
@pytest.mark.parametrize(
    ("occurred_on", "hit"),
    [
        (THREE_YEARS_BEFORE - timedelta(days=1), False),  # three years and one day before
        (THREE_YEARS_BEFORE, False),  # exactly three years before: outside "三年内"
        (THREE_YEARS_BEFORE + timedelta(days=1), True),
        (SUBMITTED_ON, True),  # on the day of submission
    ],
)
def test_an_accident_counts_only_within_three_years_before_submission(
    kind: ComplianceFactKind, occurred_on: date, hit: bool
) -> None:
    result = screen(ScreeningSubject.of(submitted()), [reported(kind, occurred_on)])

    assert isinstance(result.decision, ApplicationRejected if hit else ApplicationAccepted)
    assert [check.outcome for check in result.checks] == [Outcome.命中 if hit else Outcome.三年以前]


def test_a_settled_accident_still_counts() -> None:
    # The rule is that the accident happened, not that something is owed.
    fact = reported(K.重大伤亡事故, ONE_YEAR_AGO, settled_on=ONE_YEAR_AGO + timedelta(days=30))
    assert screen(ScreeningSubject.of(submitted()), [fact]).rejected


def test_three_years_before_29_february_is_28_february() -> None:
    leap_day = datetime(2024, 2, 29, 9, 0, tzinfo=BEIJING)
    state = submitted(at=leap_day)

    assert add_years(date(2024, 2, 29), -3) == date(2021, 2, 28)
    assert not screen(ScreeningSubject.of(state), [reported(K.食品安全事故, date(2021, 2, 28))]).rejected
    assert screen(ScreeningSubject.of(state), [reported(K.食品安全事故, date(2021, 3, 1))]).rejected


def test_the_submission_day_is_the_beijing_calendar_day() -> None:
    # 2024-06-19 16:30 UTC is already 20 June in Qingdao.
    state = submitted(at=datetime(2024, 6, 19, 16, 30, tzinfo=UTC))
    assert state.submitted_on == SUBMITTED_ON
    assert not screen(ScreeningSubject.of(state), [reported(K.重大质量事故, THREE_YEARS_BEFORE)]).rejected


ARREARS_AND_STANDING = [
    K.拖欠工资,
    K.欠缴社保,
    K.无工会或欠经费,
    K.无劳动合同制度,
    K.群体性劳动争议,
    K.严重亏损,
]


@pytest.mark.parametrize("kind", ARREARS_AND_STANDING)
@pytest.mark.parametrize(
    ("settled_on", "hit"),
    [
        (None, True),  # still owed
        (date(2024, 3, 1), False),  # settled before submission
        (SUBMITTED_ON, False),  # settled on the day of submission
        (SUBMITTED_ON + timedelta(days=1), True),  # settled after submission: owed when it applied
    ],
)
def test_arrears_and_standing_facts_count_unless_settled_by_submission(
    kind: ComplianceFactKind, settled_on: date | None, hit: bool
) -> None:
    # Five years ago: these rules have no time window.
    fact = reported(kind, date(2019, 5, 1), settled_on=settled_on)

    result = screen(ScreeningSubject.of(submitted()), [fact])

    assert result.rejected is hit
    assert [c.outcome for c in result.checks] == [Outcome.命中 if hit else Outcome.提交前已结清]


def test_the_rule_functions_say_why() -> None:
    assert accident_outcome(None, SUBMITTED_ON) is Outcome.命中  # a declared accident without a date
    assert accident_outcome(SUBMITTED_ON + timedelta(days=1), SUBMITTED_ON) is Outcome.提交后发生
    assert arrears_outcome(ONE_YEAR_AGO, date(2024, 1, 1), SUBMITTED_ON) is Outcome.提交前已结清
    assert arrears_outcome(None, None, SUBMITTED_ON) is Outcome.命中
    assert standing_fact_outcome(SUBMITTED_ON + timedelta(days=2), None, SUBMITTED_ON) is Outcome.提交后发生


# --------------------------------------------------------------------------------------------
# Declared and reported facts, and who is screened
# --------------------------------------------------------------------------------------------


def test_a_fact_declared_in_the_form_counts() -> None:
    form = declaring(DeclaredFact(kind=K.拖欠工资, occurred_on=ONE_YEAR_AGO, note="2023年拖欠三个月工资"))

    result = screen(ScreeningSubject.of(submitted(form)))

    [found] = result.findings
    assert found.rule is ExclusionRule.E2_拖欠工资
    assert found.credit_code == ENTERPRISE_CODE
    assert found.evidence.source is EvidenceSource.申报声明
    assert found.evidence.fact_kind is K.拖欠工资 and found.evidence.occurred_on == ONE_YEAR_AGO
    assert result.rejected


def test_a_declaration_settled_before_submission_is_accepted() -> None:
    form = declaring(
        DeclaredFact(kind=K.欠缴社保, occurred_on=date(2023, 1, 1), settled_on=date(2023, 12, 31))
    )
    assert isinstance(screen(ScreeningSubject.of(submitted(form))).decision, ApplicationAccepted)


def test_a_reported_fact_carries_the_departments_evidence() -> None:
    fact = reported(K.欠缴社保, ONE_YEAR_AGO, reported_on=date(2024, 5, 2))

    [found] = screen(ScreeningSubject.of(submitted()), [fact]).findings

    evidence = found.evidence
    assert evidence.source is EvidenceSource.数据交换
    assert (evidence.fact_id, evidence.reported_by, evidence.reported_on, evidence.occurred_on) == (
        fact.fact_id,
        ReportingDepartment.人社,
        date(2024, 5, 2),
        ONE_YEAR_AGO,
    )


def test_a_rejection_lists_every_finding_from_every_source() -> None:
    form = declaring(DeclaredFact(kind=K.拖欠工资, occurred_on=ONE_YEAR_AGO))
    facts = [
        reported(K.重大环保责任事故, date(2022, 8, 1)),
        reported(K.严重亏损, date(2023, 12, 31)),
        reported(K.欠缴社保, ONE_YEAR_AGO, settled_on=date(2023, 9, 1)),  # a near miss, not listed
    ]

    result = screen(ScreeningSubject.of(submitted(form)), facts)

    assert [type(e).__name__ for e in result.events] == ["ExclusionFound"] * 3 + ["ApplicationRejected"]
    assert isinstance(result.decision, ApplicationRejected)
    assert [g.rule for g in result.decision.findings] == [
        ExclusionRule.E2_拖欠工资,
        ExclusionRule.E5_重大事故,
        ExclusionRule.E7_严重亏损,
    ]
    assert [g.finding_id for g in result.decision.findings] == [f.finding_id for f in result.findings]
    assert all(g.rule_text == g.rule.text for g in result.decision.findings)


def test_facts_about_another_enterprise_are_ignored() -> None:
    other = reported(K.拖欠工资, ONE_YEAR_AGO, code="91370200MA3C00009X")
    result = screen(ScreeningSubject.of(submitted()), [other])
    assert result.checks == () and isinstance(result.decision, ApplicationAccepted)


def test_a_service_complex_is_not_screened_automatically() -> None:
    form = declaring(DeclaredFact(kind=K.拖欠工资, occurred_on=ONE_YEAR_AGO), form=complex_form())
    state = submitted(form, Programme.服务职工综合体)
    code = complex_form().undertaking_unit.credit_code

    result = screen(ScreeningSubject.of(state), [reported(K.严重亏损, ONE_YEAR_AGO, code=code)])

    assert not result.screened and result.checks == () and result.findings == ()
    assert isinstance(result.decision, ApplicationAccepted)
    assert result.decision.programme is Programme.服务职工综合体


def test_a_service_base_run_by_an_enterprise_is_screened_on_its_undertaking_unit() -> None:
    state = submitted(service_base_form(), Programme.服务职工基地)
    assert screen(ScreeningSubject.of(state), [reported(K.拖欠工资, ONE_YEAR_AGO)]).rejected

    not_enterprise = submitted(
        variant(service_base_form(), applicant_is_enterprise=False), Programme.服务职工基地
    )
    result = screen(ScreeningSubject.of(not_enterprise), [reported(K.拖欠工资, ONE_YEAR_AGO)])
    assert not result.screened and isinstance(result.decision, ApplicationAccepted)


def test_a_partner_is_screened_on_its_own_credit_code_when_it_is_an_enterprise() -> None:
    fact = reported(K.重大伤亡事故, ONE_YEAR_AGO, code=CHARITY_CODE)
    charity = submitted(partner_form(), Programme.公益伙伴)
    assert not screen(ScreeningSubject.of(charity), [fact]).rejected

    enterprise = submitted(variant(partner_form(), applicant_is_enterprise=True), Programme.公益伙伴)
    assert screen(ScreeningSubject.of(enterprise), [fact]).rejected


def test_facts_the_state_folded_count_without_being_passed_again() -> None:
    fact = reported(K.拖欠工资, ONE_YEAR_AGO)
    state = fold(submitted(), fact, fact)  # a redelivered report is one fact
    assert len(state.reported_facts) == 1
    result = screen(ScreeningSubject.of(state), [fact])
    assert len(result.findings) == 1 and result.rejected


# --------------------------------------------------------------------------------------------
# Idempotence, amendments and closed applications
# --------------------------------------------------------------------------------------------


def test_a_redelivered_trigger_produces_the_same_events_and_none_once_recorded() -> None:
    state = submitted()
    fact = reported(K.拖欠工资, ONE_YEAR_AGO)

    first = screen(ScreeningSubject.of(state), [fact])
    again = screen(ScreeningSubject.of(state), [fact])

    assert first.events == again.events
    assert first.findings[0].finding_id == finding_id(APPLICATION, ExclusionRule.E2_拖欠工资, fact.fact_id)
    after = fold(state, *first.events)
    assert after.stage is ReviewStage.不予受理
    assert screen(ScreeningSubject.of(after), [fact]).events == []


def test_a_fact_that_occurred_after_submission_is_recorded_after_acceptance() -> None:
    fact = reported(K.重大伤亡事故, SUBMITTED_ON + timedelta(days=3))

    result = screen(ScreeningSubject.of(submitted()), [fact])

    assert isinstance(result.decision, ApplicationAccepted) and result.findings == ()
    [later] = result.later_findings
    assert later.stage is FindingStage.受理后
    assert result.events[-1] == later  # after the acceptance it follows


def test_an_amendment_after_acceptance_records_only_new_findings_and_no_second_decision() -> None:
    state = accepted()
    amended_form = declaring(
        DeclaredFact(kind=K.拖欠工资, occurred_on=ONE_YEAR_AGO),
        DeclaredFact(kind=K.严重亏损, occurred_on=date(2023, 12, 31), settled_on=date(2024, 3, 31)),
    )
    state = fold(
        state, ApplicationAmended(application_id=APPLICATION, form=amended_form, reason="补充声明事项")
    )

    result = screen(ScreeningSubject.of(state))

    assert result.decision is None
    [found] = result.events
    assert isinstance(found, ExclusionFound)
    assert (found.rule, found.stage) == (ExclusionRule.E2_拖欠工资, FindingStage.受理后)
    assert screen(ScreeningSubject.of(fold(state, found))).events == []


def test_an_amendment_that_reorders_declarations_raises_nothing_new() -> None:
    wages = DeclaredFact(kind=K.拖欠工资, occurred_on=ONE_YEAR_AGO)
    losses = DeclaredFact(kind=K.严重亏损, occurred_on=date(2023, 1, 1))
    state = screened(submitted(declaring(wages, losses)))
    assert state.rejected and len(state.findings) == 2

    reordered = declaring(losses, wages)
    subject = ScreeningSubject.of(
        fold(state, ApplicationAmended(application_id=APPLICATION, form=reordered, reason="调整顺序"))
    )
    assert {c.finding_id for c in screen(subject).checks} == set(state.findings)


def test_a_withdrawn_application_is_not_screened() -> None:
    state = fold(submitted(), ApplicationWithdrawn(application_id=APPLICATION, reason="单位撤回"))
    assert screen(ScreeningSubject.of(state), [reported(K.拖欠工资, ONE_YEAR_AGO)]).events == []


# --------------------------------------------------------------------------------------------
# Later facts
# --------------------------------------------------------------------------------------------


def approved(state: ReviewState | None = None) -> ReviewState:
    state = scored(state or accepted(), 80, 85, 90)
    return fold(state, approve(state, CHAIR, date(2024, 9, 1)))


def certified(state: ReviewState) -> ReviewState:
    unit = UUID(int=NS.int + 1)
    return fold(
        state,
        UnitRegistered(
            unit_id=unit,
            name="青岛某某有限公司",
            programme=Programme.幸福企业,
            area="370202",
            credit_code=ENTERPRISE_CODE,
            origin=UnitOrigin.申报,
            application_id=APPLICATION,
            registered_on=date(2024, 9, 1),
        ),
        UnitCertified(
            unit_id=unit,
            title="青岛市职工生活幸福型企业创建示范单位",
            certificate_no="QDGH-2027-001",
            certified_on=date(2027, 9, 1),
            valid_until=date(2030, 8, 31),
            recheck_due=date(2028, 9, 1),
        ),
    )


@pytest.mark.parametrize(
    ("stage_of", "stage"),
    [
        (accepted, FindingStage.受理后),
        (approved, FindingStage.建设中),
        (lambda: certified(approved()), FindingStage.认定后),
    ],
)
def test_a_later_fact_raises_a_finding_at_the_stage_the_application_is_in(
    stage_of: Callable[[], ReviewState], stage: FindingStage
) -> None:
    state = stage_of()
    fact = reported(K.群体性劳动争议, date(2025, 4, 1), reported_on=date(2025, 4, 10))

    [found] = screen_later_fact(state, fact)

    assert found.stage is stage
    assert found.rule is ExclusionRule.E6_群体性劳动争议
    assert found.finding_id == finding_id(APPLICATION, found.rule, fact.fact_id)
    assert found.evidence.fact_id == fact.fact_id


def test_a_redelivered_later_fact_raises_no_second_finding() -> None:
    state = approved()
    fact = reported(K.职业病危害事故, date(2025, 1, 5))

    [found] = screen_later_fact(state, fact)
    state = fold(state, fact, found)

    assert screen_later_fact(state, fact) == []


def test_a_cleared_finding_is_not_raised_again_by_the_same_fact() -> None:
    state = approved()
    fact = reported(K.拖欠工资, date(2025, 1, 5))
    [found] = screen_later_fact(state, fact)
    state = fold(state, found)
    state = fold(state, clear_finding(state, found.finding_id, "人社部门复核：工资已足额发放，系误报"))

    assert screen_later_fact(state, fact) == []


def test_a_later_fact_that_is_a_near_miss_raises_nothing() -> None:
    state = approved()
    assert screen_later_fact(state, reported(K.重大伤亡事故, THREE_YEARS_BEFORE - timedelta(days=1))) == []
    assert screen_later_fact(state, reported(K.拖欠工资, date(2023, 1, 1), settled_on=date(2024, 1, 1))) == []


def test_later_facts_are_ignored_before_screening_after_closing_and_for_other_units() -> None:
    fact = reported(K.拖欠工资, date(2025, 1, 5))
    assert screen_later_fact(submitted(), fact) == []  # its screening will include it
    rejected = screened(submitted(), reported(K.严重亏损, ONE_YEAR_AGO))
    assert screen_later_fact(rejected, fact) == []
    assert screen_later_fact(approved(), reported(K.拖欠工资, date(2025, 1, 5), code=CHARITY_CODE)) == []
    complex_state = accepted(complex_form(), Programme.服务职工综合体)
    code = complex_form().undertaking_unit.credit_code
    assert screen_later_fact(complex_state, reported(K.拖欠工资, date(2025, 1, 5), code=code)) == []


def test_the_construction_period_covers_three_whole_years() -> None:
    assert period_end(date(2024, 9, 1), 3) == date(2027, 8, 31)
    assert period_end(date(2024, 2, 29), 3) == date(2027, 2, 28)
    assert period_end(date(2025, 3, 1), 3) == date(2028, 2, 29)
