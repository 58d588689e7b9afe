"""Panel scoring as reviewers and the panel secretary notice it: the weighted total, who may
score, one score each, every dimension with a comment, and the outlier flag."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import partial

import pytest

from huigong_events.reference import REVIEW_DIMENSIONS, ComplianceFactKind
from huigong_platform.refusals import Conflict, Forbidden, Refusal
from huigong_review.domain.decisions import decline
from huigong_review.domain.reviewers import Reviewer
from huigong_review.domain.scoring import DEFAULT_WEIGHTS, ScoringPolicy, panel, score, weighted_total
from huigong_review.domain.state import ReviewStage

from ...forms import happy_form
from .builders import (
    APPLICATION,
    CHAIR,
    accepted,
    assert_errors,
    fold,
    marks,
    refusal,
    reported,
    reviewer,
    scored,
    screened,
    submitted,
)


def test_a_score_records_every_dimension_with_its_comment_and_the_weighted_total() -> None:
    state = accepted()

    event = score(state, reviewer(1), marks(80, 90, 70, 60, 100))

    assert event.application_id == APPLICATION and event.reviewer == "reviewer.1"
    assert list(event.scores) == list(REVIEW_DIMENSIONS)
    assert (
        event.scores["建设重点"].score == Decimal(70) and event.scores["建设重点"].comment == "思路清晰，可行"
    )
    # 0.25×80 + 0.20×90 + 0.25×70 + 0.15×60 + 0.15×100
    assert event.weighted_total == Decimal("79.50")


def test_the_default_weights_cover_the_five_dimensions_and_sum_to_one() -> None:
    assert list(DEFAULT_WEIGHTS) == list(REVIEW_DIMENSIONS)
    assert sum(DEFAULT_WEIGHTS.values()) == 1
    assert weighted_total(dict.fromkeys(REVIEW_DIMENSIONS, Decimal("88.88"))) == Decimal("88.88")


def test_a_reviewer_from_the_applicants_own_district_is_refused() -> None:
    error = refusal(lambda: score(accepted(), Reviewer("li.shinan", "370202"), marks(80, 80, 80, 80, 80)))
    assert_errors(error, Forbidden, "reviewer.area")
    assert error.status == 403
    assert "回避" in error.errors[0].zh and "recuse" in error.errors[0].en


def test_a_reviewer_from_the_applicants_group_union_is_refused() -> None:
    group_state = screened(submitted(happy_form(), submitter="G-HAIER"))
    error = refusal(lambda: score(group_state, Reviewer("wang.haier", "G-HAIER"), marks(80, 80, 80, 80, 80)))
    assert_errors(error, Forbidden, "reviewer.area")


def test_each_reviewer_scores_once() -> None:
    state = scored(accepted(), 80)
    error = refusal(lambda: score(state, reviewer(1), marks(90, 90, 90, 90, 90)))
    assert_errors(error, Conflict, "reviewer.id")
    assert error.status == 409


def test_every_dimension_needs_a_score_on_the_scale_and_a_comment() -> None:
    bad = marks(80, 80, 80, 80, 80)
    del bad["资金投入"]
    bad["总体思路"] = (Decimal(101), "很好的思路")
    bad["政策合规性"] = (Decimal("80.125"), "合规")
    bad["建设重点"] = (Decimal(-1), "重点突出")
    bad["体制机制创新"] = (Decimal(75), " 好 ")
    bad["宣传推广"] = (Decimal(75), "不是评审方面")

    error = refusal(lambda: score(accepted(), reviewer(1), bad))

    assert_errors(
        error,
        Refusal,
        "scores.宣传推广",
        "scores.总体思路.score",
        "scores.政策合规性.score",
        "scores.建设重点.score",
        "scores.资金投入",
        "scores.体制机制创新.comment",
    )


def test_a_smaller_scale_bounds_the_scores() -> None:
    policy = ScoringPolicy(scale_max=Decimal(10))
    assert score(accepted(), reviewer(1), marks(10, 9, 8, 7, 6), policy).weighted_total == Decimal("8.25")
    error = refusal(lambda: score(accepted(), reviewer(1), marks(11, 9, 8, 7, 6), policy))
    assert_errors(error, Refusal, "scores.总体思路.score")


def test_only_an_accepted_undecided_application_is_scored() -> None:
    rejected = screened(submitted(), reported(ComplianceFactKind.拖欠工资, date(2023, 6, 1)))
    assert rejected.stage is ReviewStage.不予受理
    full = scored(accepted(), 80, 80, 80)
    declined = fold(full, decline(full, CHAIR, ["资金筹措方案不落实"]))
    for state in (submitted(), rejected, declined):
        error = refusal(partial(score, state, reviewer(9), marks(80, 80, 80, 80, 80)))
        assert_errors(error, Conflict, "application_id")


def test_the_panel_summarises_and_flags_the_outlier_against_the_median() -> None:
    state = scored(accepted(), 80, 80, 80, 50)

    summary = panel(state)

    assert (summary.count, summary.quorum_met) == (4, True)
    assert summary.mean == Decimal("72.50")
    assert summary.spread == Decimal(30)
    assert summary.std_dev == Decimal("12.99")  # population σ of 80, 80, 80, 50
    assert summary.flagged == ("reviewer.4",)
    low = summary.entries[3]
    assert (low.panel_median, low.deviation) == (Decimal(80), Decimal(30))
    assert summary.entries[0].deviation == Decimal(0) and not summary.entries[0].flagged
    assert summary.dimension_means["总体思路"] == Decimal("72.50")


def test_the_deviation_must_exceed_the_threshold() -> None:
    assert panel(scored(accepted(), 80, 80, 65)).flagged == ()  # exactly 15 points
    assert panel(scored(accepted(), 80, 80, 64)).flagged == ("reviewer.3",)
    assert panel(scored(accepted(), 80, 80, 64), ScoringPolicy(deviation_threshold=Decimal(20))).flagged == ()


def test_with_the_quorum_of_three_only_the_outlier_is_flagged() -> None:
    # Against the mean of the others, 80 and 82 would each be more than 15 from (the other, 40).
    assert panel(scored(accepted(), 80, 82, 40)).flagged == ("reviewer.3",)


def test_no_flags_before_three_scores() -> None:
    summary = panel(scored(accepted(), 90, 40))
    assert summary.flagged == () and not summary.quorum_met
    assert all(entry.deviation is None for entry in summary.entries)
    assert panel(accepted()).count == 0 and panel(accepted()).mean is None


@pytest.mark.parametrize(
    "policy",
    [
        {"weights": {**DEFAULT_WEIGHTS, "总体思路": Decimal("0.30")}},  # sums to 1.05
        {"weights": {d: Decimal("0.25") for d in REVIEW_DIMENSIONS[:4]}},  # a dimension missing
        {"scale_max": Decimal(150)},
        {"quorum": 0},
    ],
)
def test_a_bad_policy_is_a_configuration_error(policy: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        ScoringPolicy(**policy)  # type: ignore[arg-type]
