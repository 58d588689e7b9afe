"""The review state as projections and reactions read it: the submission day, the screened
enterprise, the stage, and which events belong to the application."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from huigong_events.intake import ApplicationSubmitted, ApplicationWithdrawn
from huigong_events.reference import ComplianceFactKind, Programme
from huigong_events.review import ApplicationAccepted
from huigong_review.domain.state import ReviewStage, evolve, replay

from ...forms import CHARITY_CODE, ENTERPRISE_CODE, complex_form, happy_form, partner_form
from .builders import APPLICATION, NS, accepted, fold, reported, submitted


def test_the_state_knows_the_application_as_submitted() -> None:
    state = submitted()
    assert (state.application_id, state.programme, state.submitter) == (
        APPLICATION,
        Programme.幸福企业,
        "370202",
    )
    assert state.submitted_on == date(2024, 6, 20)
    assert (state.screened, state.screened_credit_code) == (True, ENTERPRISE_CODE)
    assert state.stage is ReviewStage.待筛查


def test_who_is_screened_follows_the_programme_and_the_enterprise_flag() -> None:
    assert submitted(complex_form(), Programme.服务职工综合体).screened_credit_code is None
    assert submitted(partner_form(), Programme.公益伙伴).screened_credit_code is None
    partner = partner_form().model_copy(update={"applicant_is_enterprise": True})
    assert submitted(partner, Programme.公益伙伴).screened_credit_code == CHARITY_CODE


def test_a_submission_needs_the_time_it_occurred_at() -> None:
    assert replay([]) is None
    with pytest.raises(ValueError, match="time-zone aware"):
        evolve(None, _submission(), at=None)


def test_only_facts_about_the_screened_enterprise_are_kept() -> None:
    state = fold(
        submitted(),
        reported(ComplianceFactKind.拖欠工资, date(2023, 1, 1)),
        reported(ComplianceFactKind.拖欠工资, date(2023, 1, 1), code=CHARITY_CODE),
    )
    assert [fact.credit_code for fact in state.reported_facts.values()] == [ENTERPRISE_CODE]
    assert evolve(None, reported(ComplianceFactKind.严重亏损, date(2023, 1, 1))) is None


def test_events_of_another_application_are_refused() -> None:
    other = ApplicationAccepted(application_id=NS, programme=Programme.幸福企业, submitter="370202")
    with pytest.raises(ValueError, match="out of its stream"):
        evolve(submitted(), other)


def test_withdrawal_closes_the_application() -> None:
    state = fold(accepted(), ApplicationWithdrawn(application_id=APPLICATION, reason="单位决定明年再报"))
    assert state.stage is ReviewStage.已撤回 and state.stage.decided


def test_replay_folds_events_with_their_times() -> None:
    state = replay([(_submission(), datetime(2024, 6, 30, 15, 59, tzinfo=UTC))])
    # 15:59 UTC is 23:59 in Qingdao: still 30 June.
    assert state is not None and state.submitted_on == date(2024, 6, 30)


def _submission() -> ApplicationSubmitted:
    return ApplicationSubmitted(
        application_id=APPLICATION,
        year=2024,
        programme=Programme.幸福企业,
        submitter="370202",
        form=happy_form(),
    )
