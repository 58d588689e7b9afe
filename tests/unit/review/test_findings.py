"""Reviewers' findings on the service-centre rules C1–C5 and clearing findings, as the panel
notices them: only C1–C5, always with a reason, never on a closed application or by a reviewer
from the applicant's own union."""

from __future__ import annotations

from datetime import date
from functools import partial
from uuid import UUID

import pytest

from huigong_events.reference import ComplianceFactKind, ExclusionRule, Programme
from huigong_events.review import EvidenceSource, ExclusionFound, FindingStage
from huigong_platform.refusals import Conflict, Forbidden, NotFound, Refusal
from huigong_review.domain.findings import clear_finding, record_finding
from huigong_review.domain.reviewers import Reviewer
from huigong_review.domain.state import ReviewStage

from ...forms import DISTRICT_UNION_CODE, complex_form
from .builders import (
    APPLICATION,
    accepted,
    assert_errors,
    fold,
    refusal,
    reported,
    reviewer,
    screened,
    submitted,
)

REASON = "项目以场地出租和商业培训收费为主，服务职工内容不足三成"


@pytest.mark.parametrize("rule", [rule for rule in ExclusionRule if not rule.is_enterprise_fact])
def test_a_reviewer_records_a_service_centre_finding_with_a_reason(rule: ExclusionRule) -> None:
    state = accepted(complex_form(), Programme.服务职工综合体)

    found = record_finding(state, reviewer(1), rule, f"  {REASON}  ", finding_id=UUID(int=7))

    assert (found.finding_id, found.rule, found.rule_text) == (UUID(int=7), rule, rule.text)
    assert found.stage is FindingStage.受理后
    assert found.evidence.source is EvidenceSource.评审认定 and found.evidence.reason == REASON
    assert found.credit_code == DISTRICT_UNION_CODE  # the undertaking federation
    assert fold(state, found).open_findings[0].rule is rule


@pytest.mark.parametrize("rule", [rule for rule in ExclusionRule if rule.is_enterprise_fact])
def test_reviewers_cannot_record_enterprise_rules(rule: ExclusionRule) -> None:
    error = refusal(lambda: record_finding(accepted(), reviewer(1), rule, REASON))
    assert_errors(error, Refusal, "rule")


def test_a_finding_needs_a_reason_of_ten_characters() -> None:
    error = refusal(
        lambda: record_finding(accepted(), reviewer(1), ExclusionRule.C3_商业行为过多, " 商业化严重 ")
    )
    assert_errors(error, Refusal, "reason")


def test_a_reviewer_from_the_applicants_own_district_may_not_record_findings() -> None:
    own = Reviewer("reviewer.shinan", "370202")
    error = refusal(lambda: record_finding(accepted(), own, ExclusionRule.C4_社会效益不高, REASON))
    assert_errors(error, Forbidden, "reviewer.area")
    assert error.status == 403


def test_no_finding_on_an_application_not_under_review() -> None:
    pending = submitted()
    rejected = screened(submitted(), reported(ComplianceFactKind.拖欠工资, date(2023, 6, 1)))
    assert rejected.stage is ReviewStage.不予受理
    for state in (pending, rejected):
        error = refusal(partial(record_finding, state, reviewer(1), ExclusionRule.C1_未聚集主责主业, REASON))
        assert_errors(error, Conflict, "application_id")


def test_the_same_rule_is_not_found_twice_while_open() -> None:
    state = accepted()
    state = fold(state, record_finding(state, reviewer(1), ExclusionRule.C2_未以职工需求为导向, REASON))
    error = refusal(lambda: record_finding(state, reviewer(2), ExclusionRule.C2_未以职工需求为导向, REASON))
    assert_errors(error, Conflict, "rule")


def test_a_finding_is_cleared_with_a_reason_once() -> None:
    state = accepted()
    found = record_finding(state, reviewer(1), ExclusionRule.C3_商业行为过多, REASON)
    state = fold(state, found)

    cleared = clear_finding(state, found.finding_id, " 复核后确认收费项目为成本价公益服务 ")

    assert (cleared.application_id, cleared.finding_id) == (APPLICATION, found.finding_id)
    assert cleared.reason == "复核后确认收费项目为成本价公益服务"
    state = fold(state, cleared)
    assert state.open_findings == () and state.findings[found.finding_id].cleared_reason == cleared.reason
    assert_errors(refusal(lambda: clear_finding(state, found.finding_id, "再次排除")), Conflict, "finding_id")


def test_clearing_needs_a_reason_and_a_known_finding() -> None:
    state = accepted()
    found = record_finding(state, reviewer(1), ExclusionRule.C5_不符合职责或违法, REASON)
    state = fold(state, found)
    assert_errors(refusal(lambda: clear_finding(state, found.finding_id, "   ")), Refusal, "reason")
    error = refusal(lambda: clear_finding(state, UUID(int=404), "误报"))
    assert_errors(error, NotFound, "finding_id")
    assert error.status == 404


def test_a_screening_finding_can_be_cleared_too() -> None:
    state = screened(submitted(), reported(ComplianceFactKind.严重亏损, date(2023, 6, 1)))
    [finding] = state.open_findings
    cleared = clear_finding(state, finding.finding_id, "审计报告显示2023年度已扭亏为盈")
    # Clearing keeps the record straight; it does not reopen the rejected application.
    assert fold(state, cleared).stage is ReviewStage.不予受理
    assert isinstance(
        record_finding(accepted(), reviewer(1), ExclusionRule.C1_未聚集主责主业, REASON), ExclusionFound
    )
