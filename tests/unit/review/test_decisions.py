"""The chair's decision as the leading group notices it: approval for three years after the
quorum of scores, decline with reasons, and no second decision."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import partial

from huigong_events.reference import REVIEW_DIMENSIONS, ComplianceFactKind, ExclusionRule, Programme
from huigong_events.review import ConstructionApproved, ConstructionDeclined, DimensionScore, ReviewScored
from huigong_platform.refusals import Conflict, Forbidden, Refusal
from huigong_review.domain.decisions import approve, decline
from huigong_review.domain.findings import clear_finding, record_finding
from huigong_review.domain.reviewers import Reviewer
from huigong_review.domain.screening import screen_later_fact
from huigong_review.domain.selection import pass_over, select
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
    selected,
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


def test_approval_needs_the_quorum_a_decline_does_not() -> None:
    state = scored(accepted(), 80, 80)
    error = refusal(lambda: approve(state, CHAIR, date(2024, 9, 1)))
    assert_errors(error, Conflict, "scores")
    assert "至少需要 3 名" in error.errors[0].zh
    assert isinstance(decline(state, CHAIR, ["资金投入不足"]), ConstructionDeclined)


def test_an_unfit_application_is_declined_right_after_screening_without_scores() -> None:
    """宁缺毋滥: no three full scorings to turn down an obviously unfit application."""
    for state in (accepted(), selected()):
        event = decline(state, CHAIR, ["场地为临时租用，明显不具备建设条件"])
        assert event.score_average is None
        assert fold(state, event).stage is ReviewStage.未获批准
    # Never before screening, nor twice.
    assert_errors(refusal(lambda: decline(submitted(), CHAIR, ["不具备条件"])), Conflict, "application_id")


def test_approval_comes_after_selection_and_the_plans_scores() -> None:
    error = refusal(lambda: approve(accepted(), CHAIR, date(2024, 9, 1)))
    assert_errors(error, Conflict, "application_id")
    assert "确定为建设单位" in error.errors[0].zh


def test_approving_over_a_flagged_score_needs_the_chairs_note() -> None:
    state = scored(accepted(), 80, 82, 40)  # reviewer.3 is flagged
    error = refusal(lambda: approve(state, CHAIR, date(2024, 9, 1)))
    assert_errors(error, Conflict, "flag_note")
    assert "flag_note" in error.errors[0].zh
    assert_errors(
        refusal(lambda: approve(state, CHAIR, date(2024, 9, 1), flag_note="同意")), Refusal, "flag_note"
    )
    note = "第三位专家对资金来源的疑虑已在年度方案中落实，予以批准"
    event = approve(state, CHAIR, date(2024, 9, 1), flag_note=note)
    assert event.flag_note == note
    # Without a flag there is nothing to note, and a note given anyway is not recorded.
    calm = scored(accepted(), 80, 82, 79)
    assert approve(calm, CHAIR, date(2024, 9, 1), flag_note=note).flag_note is None


def test_the_city_selects_the_construction_units_or_says_why_not() -> None:
    state = accepted()
    chosen = select(state, CHAIR, "基础较好")
    assert chosen.unit_name == state.unit_name and chosen.note == "基础较好"
    assert fold(state, chosen).stage is ReviewStage.已确定建设单位
    passed = pass_over(state, CHAIR, ["场地尚未落实，暂不具备条件"])
    assert fold(state, passed).stage is ReviewStage.未确定为建设单位
    assert fold(state, passed).stage.decided
    assert_errors(refusal(lambda: pass_over(state, CHAIR, [])), Refusal, "reasons")
    assert_errors(refusal(lambda: pass_over(state, CHAIR, ["否"])), Refusal, "reasons.0")
    for done in (fold(state, chosen), fold(state, passed), submitted()):
        assert_errors(refusal(partial(select, done, CHAIR)), Conflict, "application_id")
    error = refusal(lambda: select(state, Reviewer("chair.shinan", "370202")))
    assert_errors(error, Forbidden, "reviewer.area")


def test_an_open_finding_blocks_selection() -> None:
    state = accepted()
    found = record_finding(
        state, reviewer(1), ExclusionRule.C3_商业行为过多, "项目以场地出租和商业培训收费为主"
    )
    state = fold(state, found)
    assert_errors(refusal(lambda: select(state, CHAIR)), Conflict, f"findings.{found.finding_id}")
    state = fold(state, clear_finding(state, found.finding_id, "经复核不成立"))
    assert select(state, CHAIR).application_id == APPLICATION


def test_streams_recorded_before_selection_read_a_scored_application_as_selected() -> None:
    """Interpreted on replay: today's streams have scores straight after acceptance."""
    state = accepted()
    for n in (1, 2, 3):
        state = fold(
            state,
            ReviewScored(
                application_id=APPLICATION,
                reviewer=f"reviewer.{n}",
                scores={d: DimensionScore(score=Decimal(80), comment="好") for d in REVIEW_DIMENSIONS},
                weighted_total=Decimal(80),
            ),
        )
    assert state.selection is None and state.stage is ReviewStage.已确定建设单位
    assert isinstance(approve(state, CHAIR, date(2024, 9, 1)), ConstructionApproved)


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
