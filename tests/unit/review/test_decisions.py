"""The chair's decision as the leading group notices it: approval for three years after the
quorum of scores, decline with reasons, and no second decision."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import partial

from huigong_events.reference import ComplianceFactKind, ExclusionRule, Programme
from huigong_events.review import ConstructionApproved, ConstructionDeclined
from huigong_platform.refusals import Conflict, Forbidden, Refusal
from huigong_review.domain.decisions import approve, decline
from huigong_review.domain.findings import clear_finding, record_finding
from huigong_review.domain.reviewers import Reviewer
from huigong_review.domain.screening import screen_later_fact
from huigong_review.domain.state import ReviewStage

from ...forms import ENTERPRISE_CODE, service_base_form
from .builders import (
    APPLICATION,
    CHAIR,
    accepted,
    assert_errors,
    fold,
    refusal,
    reported,
    reviewer,
    scored,
    screened,
    submitted,
)


def test_approval_gives_a_three_year_period_and_the_average_score() -> None:
    state = scored(accepted(), 80, 85, 91)

    event = approve(state, CHAIR, date(2024, 9, 1))

    assert event == ConstructionApproved(
        application_id=APPLICATION,
        unit_name="青岛某某有限公司",
        credit_code=ENTERPRISE_CODE,
        programme=Programme.幸福企业,
        submitter="370202",
        period_start=date(2024, 9, 1),
        period_end=date(2027, 8, 31),
        score_average=Decimal("85.33"),
    )
    assert fold(state, event).stage is ReviewStage.建设中


def test_a_service_base_is_approved_under_its_own_name() -> None:
    state = scored(accepted(service_base_form(), Programme.服务职工基地), 80, 80, 80)
    event = approve(state, CHAIR, date(2024, 9, 1))
    assert (event.unit_name, event.credit_code) == ("青岛某某心理服务职工基地", ENTERPRISE_CODE)


def test_decline_records_the_reasons_and_the_average() -> None:
    state = scored(accepted(), 60, 62, 58)

    event = decline(state, CHAIR, [" 建设重点不突出 ", "资金来源不落实"])

    assert event == ConstructionDeclined(
        application_id=APPLICATION, reasons=["建设重点不突出", "资金来源不落实"], score_average=Decimal(60)
    )
    assert fold(state, event).stage is ReviewStage.未获批准


def test_both_decisions_need_the_quorum() -> None:
    state = scored(accepted(), 80, 80)
    for decide in (lambda: approve(state, CHAIR, date(2024, 9, 1)), lambda: decline(state, CHAIR, ["不足"])):
        error = refusal(decide)
        assert_errors(error, Conflict, "scores")
        assert "至少需要 3 名" in error.errors[0].zh


def test_a_decision_is_final() -> None:
    state = scored(accepted(), 80, 80, 80)
    approved = fold(state, approve(state, CHAIR, date(2024, 9, 1)))
    declined = fold(state, decline(state, CHAIR, ["宁缺毋滥"]))
    for decided in (approved, declined):
        for decide in (
            partial(approve, decided, CHAIR, date(2024, 10, 1)),
            partial(decline, decided, CHAIR, ["重新考虑"]),
        ):
            error = refusal(decide)
            assert_errors(error, Conflict, "application_id")
            assert "不可更改" in error.errors[0].zh


def test_only_an_accepted_application_is_decided() -> None:
    rejected = screened(submitted(), reported(ComplianceFactKind.拖欠工资, date(2023, 6, 1)))
    for state in (submitted(), rejected):
        assert_errors(refusal(partial(approve, state, CHAIR, date(2024, 9, 1))), Conflict, "application_id")


def test_an_open_finding_blocks_approval_until_cleared_but_not_decline() -> None:
    state = scored(accepted(), 80, 80, 80)
    found = record_finding(
        state, reviewer(1), ExclusionRule.C3_商业行为过多, "项目以场地出租和商业培训收费为主"
    )
    later = screen_later_fact(state, reported(ComplianceFactKind.拖欠工资, date(2024, 8, 1)))
    state = fold(state, found, *later)

    error = refusal(lambda: approve(state, CHAIR, date(2024, 9, 1)))
    assert type(error) is Conflict and len(error.errors) == 2
    assert isinstance(decline(state, CHAIR, ["存在商业行为过多情形"]), ConstructionDeclined)

    for finding in state.open_findings:
        state = fold(state, clear_finding(state, finding.finding_id, "经复核不成立"))
    assert isinstance(approve(state, CHAIR, date(2024, 9, 1)), ConstructionApproved)


def test_the_chair_must_not_be_from_the_applicants_own_union() -> None:
    state = scored(accepted(), 80, 80, 80)
    error = refusal(lambda: approve(state, Reviewer("chair.shinan", "370202"), date(2024, 9, 1)))
    assert_errors(error, Forbidden, "reviewer.area")


def test_decline_needs_written_reasons() -> None:
    state = scored(accepted(), 80, 80, 80)
    assert_errors(refusal(lambda: decline(state, CHAIR, [])), Refusal, "reasons")
    assert_errors(refusal(lambda: decline(state, CHAIR, ["理由", "  "])), Refusal, "reasons.1")


def test_the_period_cannot_start_before_submission() -> None:
    state = scored(accepted(), 80, 80, 80)
    error = refusal(lambda: approve(state, CHAIR, date(2024, 6, 19)))
    assert_errors(error, Refusal, "period_start")
