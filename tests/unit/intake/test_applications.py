"""The application aggregate as a district notices it: which forms are accepted, which are refused
with which field and message, and what can still be done once review has started."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from uuid import UUID, uuid5

import pytest

from huigong_events.base import DomainEvent
from huigong_events.forms import (
    AnnualPlan,
    BudgetPlan,
    Organisation,
    PilotForm,
    PlanProject,
    ThreeYearPlan,
)
from huigong_events.intake import (
    ApplicationAmended,
    ApplicationSubmitted,
    ApplicationWithdrawn,
    ComplianceFactReported,
    PlanSubmitted,
    SubmissionWindowOpened,
)
from huigong_events.reference import REVIEW_DIMENSIONS, ComplianceFactKind, ExclusionRule, Programme
from huigong_events.review import (
    ApplicationAccepted,
    ApplicationRejected,
    ConstructionApproved,
    ConstructionDeclined,
    DimensionScore,
    RejectionGround,
    ReviewScored,
)
from huigong_intake.domain.applications import (
    NO_REVIEW,
    AmendApplication,
    ApplicationState,
    Command,
    Form,
    ReviewProgress,
    SubmitApplication,
    SubmitPlan,
    WithdrawApplication,
    decide,
    evolve,
    evolve_review,
    replay,
    review_progress,
)
from huigong_intake.domain.cycle import DeadlinePassed
from huigong_platform.refusals import Conflict, Refusal

from ...forms import (
    CHARITY_CODE,
    DISTRICT_UNION_CODE,
    ENTERPRISE_CODE,
    SOLE_TRADER_CODE,
    UNION_CODE,
    complex_form,
    happy_form,
    partner_form,
    service_base_form,
    variant,
)

NS = UUID("00000000-0000-0000-0000-0000000000a1")
APPLICATION = uuid5(NS, "application")
BEIJING = timezone(timedelta(hours=8))
ON_TIME = datetime(2024, 6, 30, 23, 59, 59, tzinfo=BEIJING)
LATE = datetime(2024, 7, 1, 0, 0, 0, tzinfo=BEIJING)


def submission(
    form: Form | None = None,
    programme: Programme = Programme.服务职工综合体,
    submitter: str = "370202",
    now: datetime = ON_TIME,
    windows: Sequence[SubmissionWindowOpened] = (),
    year: int = 2024,
) -> SubmitApplication:
    return SubmitApplication(
        application_id=APPLICATION,
        year=year,
        programme=programme,
        submitter=submitter,
        form=form if form is not None else complex_form(),
        now=now,
        windows=windows,
    )


def submit(command: SubmitApplication) -> ApplicationSubmitted:
    [event] = decide(None, command, NO_REVIEW)
    assert isinstance(event, ApplicationSubmitted)
    return event


def refused(
    command: Command, *, state: ApplicationState | None = None, review: ReviewProgress = NO_REVIEW
) -> Refusal:
    with pytest.raises(Refusal) as caught:
        decide(state, command, review)
    return caught.value


def assert_refused(error: Refusal, kind: type[Refusal], *fields: str) -> None:
    assert type(error) is kind
    assert [e.field for e in error.errors] == list(fields)
    for e in error.errors:
        assert e.zh and e.en and e.zh != e.en
        assert any("\u4e00" <= char <= "\u9fff" for char in e.zh)


def submitted(form: Form | None = None, programme: Programme = Programme.服务职工综合体) -> ApplicationState:
    state = evolve(None, submit(submission(form, programme)))
    assert state is not None
    return state


# --------------------------------------------------------------------------------------------
# Valid applications of every kind
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("programme", "submitter", "build"),
    [
        (Programme.服务职工综合体, "370202", complex_form),
        (Programme.幸福企业, "370202", happy_form),
        (Programme.幸福企业, "G-HAIER", happy_form),
        (Programme.服务职工基地, "370202", service_base_form),
        (Programme.公益伙伴, "370202", partner_form),
    ],
)
def test_a_valid_application_is_recorded_as_submitted(
    programme: Programme, submitter: str, build: Callable[[], Form]
) -> None:
    form = build()
    event = submit(submission(form, programme, submitter))
    assert (event.application_id, event.year, event.programme, event.submitter) == (
        APPLICATION,
        2024,
        programme,
        submitter,
    )
    assert event.form == form
    assert event.receipt_no is None


def test_the_receipt_number_allocated_by_the_caller_is_recorded() -> None:
    command = replace(submission(), receipt_no="2024-370202-00012")
    event = submit(command)
    assert event.receipt_no == "2024-370202-00012"
    assert evolve(None, event) == replace(submitted(), receipt_no="2024-370202-00012")


# --------------------------------------------------------------------------------------------
# 试点名称 (note 1)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("programme", "name"),
    [
        (Programme.服务职工综合体, "XXX区工会服务职工综合体建设"),
        (Programme.幸福企业, "XXX有限公司幸福企业建设"),
        (Programme.服务职工综合体, "市南区工会—服务职工综合体建设"),
        (Programme.服务职工综合体, "市南区工会－服务职工综合体建设"),
        (Programme.服务职工综合体, "市南区工会-服务职工综合体建设"),
        (Programme.幸福企业, "青岛某某有限公司——幸福企业建设"),
        (Programme.幸福企业, "青岛某某工业园 — 幸福企业建设"),
    ],
)
def test_pilot_names_in_the_format_of_note_1_pass(programme: Programme, name: str) -> None:
    base = complex_form() if programme is Programme.服务职工综合体 else happy_form()
    submit(submission(variant(base, pilot_name=name), programme))


@pytest.mark.parametrize(
    "name",
    [
        "服务职工综合体建设",
        "—服务职工综合体建设",
        "市南区工会服务职工综合体",
        "市南区职工服务中心建设",
        "市南区工会服务职工综合体建设项目",
    ],
)
def test_pilot_names_without_a_place_or_the_programme_word_are_refused(name: str) -> None:
    error = refused(submission(variant(complex_form(), pilot_name=name)))
    assert_refused(error, Refusal, "form.pilot_name")
    assert "服务职工综合体建设" in error.errors[0].zh


def test_the_pilot_name_must_name_the_programme_applied_for() -> None:
    error = refused(submission(variant(complex_form(), pilot_name="市南区工会幸福企业建设")))
    assert_refused(error, Refusal, "form.pilot_name")
    assert "服务职工综合体建设" in error.errors[0].zh
    error = refused(
        submission(variant(happy_form(), pilot_name="青岛某某有限公司服务职工综合体建设"), Programme.幸福企业)
    )
    assert_refused(error, Refusal, "form.pilot_name")
    assert "幸福企业建设" in error.errors[0].zh


# --------------------------------------------------------------------------------------------
# 试点时间
# --------------------------------------------------------------------------------------------


def test_a_three_year_pilot_period_passes() -> None:
    submit(submission(variant(complex_form(), period_start="2024-07", period_end="2027-06")))
    submit(submission(variant(complex_form(), period_start="2024-07", period_end="2024-08")))


@pytest.mark.parametrize(
    ("start", "end"), [("2024-07", "2024-07"), ("2024-07", "2027-07"), ("2024-01", "2030-12")]
)
def test_a_pilot_period_of_one_month_or_beyond_three_years_is_refused(start: str, end: str) -> None:
    error = refused(submission(variant(complex_form(), period_start=start, period_end=end)))
    assert_refused(error, Refusal, "form.period_end")


# --------------------------------------------------------------------------------------------
# 管理单位
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("programme", "build"),
    [
        (Programme.服务职工综合体, complex_form),
        (Programme.幸福企业, happy_form),
        (Programme.服务职工基地, service_base_form),
        (Programme.公益伙伴, partner_form),
    ],
)
def test_the_managing_unit_is_the_city_federation_by_either_name(
    programme: Programme, build: Callable[[], Form]
) -> None:
    submit(submission(variant(build(), managing_unit="青岛市总工会"), programme))
    error = refused(submission(variant(build(), managing_unit="市南区总工会"), programme))
    assert_refused(error, Refusal, "form.managing_unit")
    assert "市总工会" in error.errors[0].zh


# --------------------------------------------------------------------------------------------
# 承担单位 of a service complex (note 2)
# --------------------------------------------------------------------------------------------


def complex_by(undertaker: str) -> PilotForm:
    return variant(
        complex_form(), undertaking_unit=Organisation(name=undertaker, credit_code=DISTRICT_UNION_CODE)
    )


@pytest.mark.parametrize(
    ("submitter", "undertaker"),
    [
        ("370202", "市南区总工会"),
        ("370202", "青岛市市南区总工会"),
        ("370211", "青岛西海岸新区总工会"),
        ("370211", "黄岛区总工会"),
        ("370281", "胶州市总工会"),
        ("G-HAIER", "青岛市总工会"),
    ],
)
def test_a_complex_is_undertaken_by_a_federation(submitter: str, undertaker: str) -> None:
    submit(submission(complex_by(undertaker), submitter=submitter))


@pytest.mark.parametrize(
    ("submitter", "undertaker"),
    [
        ("370202", "市南区职工服务中心"),
        ("370202", "市南区工会"),
        ("370202", "青岛某某有限公司"),
        ("370202", "市北区总工会"),
        ("370202", "青岛市总工会"),
        ("370202", "市总工会"),
        ("G-HAIER", "市南区总工会"),
        ("G-HAIER", "海尔集团工会"),
    ],
)
def test_a_complex_undertaken_by_anyone_else_or_another_district_is_refused(
    submitter: str, undertaker: str
) -> None:
    error = refused(submission(complex_by(undertaker), submitter=submitter))
    assert_refused(error, Refusal, "form.undertaking_unit.name")
    assert "总工会" in error.errors[0].zh


# --------------------------------------------------------------------------------------------
# 承担单位 and 参加单位 of a happy enterprise (note 3)
# --------------------------------------------------------------------------------------------


def happy_by(code: str) -> PilotForm:
    return variant(happy_form(), undertaking_unit=Organisation(name="青岛某某有限公司", credit_code=code))


def test_a_happy_enterprise_is_undertaken_by_a_registered_enterprise() -> None:
    submit(submission(happy_by(ENTERPRISE_CODE), Programme.幸福企业))
    submit(submission(happy_by("91370200163562681g "), Programme.幸福企业))


@pytest.mark.parametrize("code", [UNION_CODE, CHARITY_CODE, "11370200004321876M", SOLE_TRADER_CODE])
def test_a_happy_enterprise_undertaken_by_a_union_an_agency_or_a_sole_trader_is_refused(code: str) -> None:
    error = refused(submission(happy_by(code), Programme.幸福企业))
    assert_refused(error, Refusal, "form.undertaking_unit.credit_code")
    assert code in error.errors[0].zh


def test_a_happy_enterprise_needs_its_superior_union_among_the_participants() -> None:
    with_union = [
        Organisation(name="青岛某某物流有限公司", credit_code=ENTERPRISE_CODE),
        Organisation(name="市南区总工会", credit_code=DISTRICT_UNION_CODE),
    ]
    submit(submission(variant(happy_form(), participating_units=with_union), Programme.幸福企业))
    without = [Organisation(name="青岛某某物流有限公司", credit_code=ENTERPRISE_CODE)]
    error = refused(submission(variant(happy_form(), participating_units=without), Programme.幸福企业))
    assert_refused(error, Refusal, "form.participating_units")
    assert "上级工会" in error.errors[0].zh


def test_a_complex_needs_no_union_among_its_participants() -> None:
    others = [Organisation(name="青岛某某物业有限公司", credit_code=ENTERPRISE_CODE)]
    submit(submission(variant(complex_form(), participating_units=others)))


# --------------------------------------------------------------------------------------------
# Service base (annex 4) and partner (annex 5) forms
# --------------------------------------------------------------------------------------------


def test_names_built_around_validation_are_still_refused() -> None:
    blank_base = service_base_form().model_copy(update={"name": " "})
    error = refused(submission(blank_base, Programme.服务职工基地))
    assert_refused(error, Refusal, "form.name")
    blank_unit = Organisation.model_construct(name="", credit_code=ENTERPRISE_CODE)
    blank_partner = partner_form().model_copy(update={"applicant_unit": blank_unit})
    error = refused(submission(blank_partner, Programme.公益伙伴))
    assert_refused(error, Refusal, "form.applicant_unit.name")


def test_a_partner_may_be_any_kind_of_organisation() -> None:
    # Nothing in annex 5 limits who a partner is: an enterprise is as welcome as a charity.
    submit(submission(variant(partner_form(), credit_code=ENTERPRISE_CODE), Programme.公益伙伴))


# --------------------------------------------------------------------------------------------
# Submitter and programme
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("submitter", ["370200", "370299", "海尔集团", ""])
def test_only_districts_and_group_unions_submit(submitter: str) -> None:
    assert_refused(refused(submission(submitter=submitter)), Refusal, "submitter")


@pytest.mark.parametrize(
    ("programme", "build"),
    [
        (Programme.幸福企业, service_base_form),
        (Programme.服务职工基地, complex_form),
        (Programme.公益伙伴, happy_form),
        (Programme.服务职工综合体, partner_form),
    ],
)
def test_the_form_must_be_the_programmes_own(programme: Programme, build: Callable[[], Form]) -> None:
    assert_refused(refused(submission(build(), programme)), Refusal, "form.form_kind")


def test_every_broken_rule_of_a_form_is_reported_at_once() -> None:
    form = variant(
        complex_form(),
        pilot_name="市南区服务中心",
        period_end="2024-07",
        managing_unit="市南区总工会",
        undertaking_unit=Organisation(name="市北区总工会", credit_code=DISTRICT_UNION_CODE),
    )
    error = refused(submission(form))
    assert_refused(
        error,
        Refusal,
        "form.managing_unit",
        "form.pilot_name",
        "form.period_end",
        "form.undertaking_unit.name",
    )
    assert error.status == 422


def test_an_application_id_is_submitted_once() -> None:
    error = refused(submission(), state=submitted())
    assert_refused(error, Conflict, "application_id")
    assert error.status == 409


# --------------------------------------------------------------------------------------------
# Deadline
# --------------------------------------------------------------------------------------------

WINDOW = SubmissionWindowOpened(
    year=2024,
    opens_at=datetime(2024, 7, 10, 9, tzinfo=BEIJING),
    closes_at=datetime(2024, 7, 20, 18, tzinfo=BEIJING),
    submitter="370202",
    reason="防汛期间推迟报送",
)
IN_WINDOW = datetime(2024, 7, 15, 10, tzinfo=BEIJING)


def test_the_last_second_of_30_june_is_on_time() -> None:
    submit(submission(now=ON_TIME))


def test_midnight_of_1_july_is_late_and_the_refusal_names_the_deadline() -> None:
    error = refused(submission(now=LATE))
    assert_refused(error, DeadlinePassed, "year")
    assert "2024年6月30日24时（北京时间）截止" in error.errors[0].zh
    assert "30 June 2024 (Asia/Shanghai)" in error.errors[0].en
    assert error.status == 422


def test_the_deadline_is_checked_before_the_form() -> None:
    error = refused(submission(variant(complex_form(), pilot_name="市南区服务中心"), now=LATE))
    assert_refused(error, DeadlinePassed, "year")


def test_an_exception_window_reopens_submissions_for_its_submitter_only() -> None:
    submit(submission(now=IN_WINDOW, windows=[WINDOW]))
    other = variant(
        complex_form(), undertaking_unit=Organisation(name="市北区总工会", credit_code=UNION_CODE)
    )
    error = refused(submission(other, submitter="370203", now=IN_WINDOW, windows=[WINDOW]))
    assert_refused(error, DeadlinePassed, "year")


def test_years_out_of_range_are_refused() -> None:
    assert_refused(refused(submission(year=2026)), Refusal, "year")


# --------------------------------------------------------------------------------------------
# Amend and withdraw
# --------------------------------------------------------------------------------------------

SCORED = ReviewScored(
    application_id=APPLICATION,
    reviewer="expert-07",
    scores={dimension: DimensionScore(score=Decimal("85")) for dimension in REVIEW_DIMENSIONS},
    weighted_total=Decimal("85"),
)
ACCEPTED = ApplicationAccepted(
    application_id=APPLICATION, programme=Programme.服务职工综合体, submitter="370202"
)
REJECTED = ApplicationRejected(
    application_id=APPLICATION,
    findings=[
        RejectionGround(
            finding_id=uuid5(NS, "f"), rule=ExclusionRule.C3_商业行为过多, rule_text="建设项目商业行为过多"
        )
    ],
)
APPROVED = ConstructionApproved(
    application_id=APPLICATION,
    unit_name="市南区总工会",
    credit_code=DISTRICT_UNION_CODE,
    programme=Programme.服务职工综合体,
    submitter="370202",
    period_start=date(2024, 9, 1),
    period_end=date(2027, 8, 31),
    score_average=Decimal("86.25"),
)
DECLINED = ConstructionDeclined(application_id=APPLICATION, reasons=["资金投入不足"])


def amendment(
    form: Form | None = None,
    now: datetime = ON_TIME,
    reason: str = "补充目前工作情况",
    windows: Sequence[SubmissionWindowOpened] = (),
) -> AmendApplication:
    new = form if form is not None else variant(complex_form(), current_work="新增职工心理关爱服务。")
    return AmendApplication(form=new, reason=reason, now=now, windows=windows)


def test_amending_before_review_replaces_the_whole_form() -> None:
    state = submitted()
    command = amendment()
    [event] = decide(state, command, NO_REVIEW)
    assert isinstance(event, ApplicationAmended)
    assert (event.application_id, event.form, event.reason) == (APPLICATION, command.form, "补充目前工作情况")
    after = evolve(state, event)
    assert after is not None and after.form == command.form


def test_amending_after_the_first_score_is_a_conflict() -> None:
    error = refused(amendment(), state=submitted(), review=review_progress([ACCEPTED, SCORED]))
    assert_refused(error, Conflict, "application_id")
    assert error.status == 409
    assert "评审已开始" in error.errors[0].zh


@pytest.mark.parametrize("events", [[REJECTED], [ACCEPTED], [ACCEPTED, APPROVED], [ACCEPTED, DECLINED]])
def test_amending_once_rejected_accepted_or_decided_is_a_conflict(events: list[DomainEvent]) -> None:
    assert_refused(
        refused(amendment(), state=submitted(), review=review_progress(events)), Conflict, "application_id"
    )


def test_an_amended_form_is_held_to_the_same_rules() -> None:
    error = refused(amendment(variant(complex_form(), pilot_name="市南区服务中心")), state=submitted())
    assert_refused(error, Refusal, "form.pilot_name")
    error = refused(amendment(service_base_form()), state=submitted())
    assert_refused(error, Refusal, "form.form_kind")
    error = refused(amendment(reason=" "), state=submitted())
    assert_refused(error, Refusal, "reason")


def test_an_amendment_is_held_to_the_same_deadline() -> None:
    assert_refused(refused(amendment(now=LATE), state=submitted()), DeadlinePassed, "year")
    decide(submitted(), amendment(now=IN_WINDOW, windows=[WINDOW]), NO_REVIEW)


def test_withdrawing_before_scoring_is_recorded_even_after_acceptance() -> None:
    for review in (NO_REVIEW, review_progress([ACCEPTED])):
        [event] = decide(submitted(), WithdrawApplication(reason="区中心场地改造，暂缓申报"), review)
        assert isinstance(event, ApplicationWithdrawn)
        assert event.reason == "区中心场地改造，暂缓申报"


def test_withdrawing_after_review_started_is_a_conflict() -> None:
    for events in ([ACCEPTED, SCORED], [REJECTED]):
        error = refused(
            WithdrawApplication(reason="暂缓申报"), state=submitted(), review=review_progress(events)
        )
        assert_refused(error, Conflict, "application_id")


def test_a_withdrawn_application_cannot_be_amended_or_withdrawn_again() -> None:
    state = evolve(submitted(), ApplicationWithdrawn(application_id=APPLICATION, reason="暂缓申报"))
    assert state is not None and state.withdrawn
    assert_refused(refused(amendment(), state=state), Conflict, "application_id")
    assert_refused(refused(WithdrawApplication(reason="再次撤回"), state=state), Conflict, "application_id")


def test_a_withdrawal_needs_a_reason() -> None:
    assert_refused(refused(WithdrawApplication(reason=""), state=submitted()), Refusal, "reason")


def test_nothing_but_a_submission_can_start_an_application() -> None:
    for command in (amendment(), WithdrawApplication(reason="暂缓申报"), SubmitPlan(plan=annual_plan(2024))):
        assert_refused(refused(command), Conflict, "application_id")


# --------------------------------------------------------------------------------------------
# Construction plans
# --------------------------------------------------------------------------------------------


def three_year_plan(start: int = 2024, end: int = 2026) -> ThreeYearPlan:
    return ThreeYearPlan(
        start_year=start,
        end_year=end,
        basic_situation="基本情况",
        goals_and_tasks="目标任务",
        functional_layout="功能布局",
        main_contents="主要建设内容和任务",
        management_mechanism="管理和运行体制机制",
        budget=BudgetPlan(
            total=Decimal("1500000.00"), estimate="设施改造100万元", financing="区财政、工会经费"
        ),
        policy_measures="政策保障措施",
    )


def annual_plan(year: int) -> AnnualPlan:
    return AnnualPlan(
        year=year,
        measures="建设职工智慧健康驿站",
        tasks="完成驿站建设",
        funding=Decimal("300000.50"),
        projects=[PlanProject(name="职工智慧健康驿站", implementing_unit="市南区职工服务中心")],
    )


APPROVED_REVIEW = review_progress([ACCEPTED, SCORED, APPROVED])


def test_a_plan_before_approval_is_a_conflict() -> None:
    for review in (
        NO_REVIEW,
        review_progress([ACCEPTED, SCORED]),
        review_progress([ACCEPTED, SCORED, DECLINED]),
    ):
        error = refused(SubmitPlan(plan=three_year_plan()), state=submitted(), review=review)
        assert_refused(error, Conflict, "plan")
        assert error.errors[0].zh == "尚未批准建设，不能报送建设方案"


def test_plans_after_approval_are_recorded() -> None:
    state = submitted()
    for plan in (three_year_plan(), annual_plan(2024), annual_plan(2025)):
        [event] = decide(state, SubmitPlan(plan=plan), APPROVED_REVIEW)
        assert isinstance(event, PlanSubmitted)
        assert event.plan == plan
        state = evolve(state, event)
        assert state is not None
    assert state.three_year_plan == three_year_plan()
    assert state.annual_plan_years == {2024, 2025}


def test_one_three_year_plan_and_one_annual_plan_a_year() -> None:
    state = replay(
        [
            submit(submission()),
            PlanSubmitted(application_id=APPLICATION, plan=three_year_plan()),
            PlanSubmitted(application_id=APPLICATION, plan=annual_plan(2025)),
        ]
    )
    assert_refused(
        refused(SubmitPlan(plan=three_year_plan()), state=state, review=APPROVED_REVIEW), Conflict, "plan"
    )
    error = refused(SubmitPlan(plan=annual_plan(2025)), state=state, review=APPROVED_REVIEW)
    assert_refused(error, Conflict, "plan.year")
    decide(state, SubmitPlan(plan=annual_plan(2026)), APPROVED_REVIEW)


def test_plans_must_fall_within_the_approved_period() -> None:
    state = submitted()
    # The approved period runs from September 2024 to August 2027.
    decide(state, SubmitPlan(plan=annual_plan(2027)), APPROVED_REVIEW)
    for year in (2023, 2028):
        error = refused(SubmitPlan(plan=annual_plan(year)), state=state, review=APPROVED_REVIEW)
        assert_refused(error, Refusal, "plan.year")
    error = refused(SubmitPlan(plan=three_year_plan(2023, 2028)), state=state, review=APPROVED_REVIEW)
    assert_refused(error, Refusal, "plan.start_year", "plan.end_year")


def test_a_withdrawn_application_sends_no_plan() -> None:
    state = evolve(submitted(), ApplicationWithdrawn(application_id=APPLICATION, reason="暂缓申报"))
    assert_refused(
        refused(SubmitPlan(plan=three_year_plan()), state=state, review=APPROVED_REVIEW),
        Conflict,
        "application_id",
    )


# --------------------------------------------------------------------------------------------
# evolve
# --------------------------------------------------------------------------------------------


def test_replay_rebuilds_the_state_from_the_stream() -> None:
    amended = variant(complex_form(), current_work="新增职工心理关爱服务。")
    state = replay(
        [
            submit(submission()),
            ApplicationAmended(application_id=APPLICATION, form=amended, reason="补充目前工作情况"),
            PlanSubmitted(application_id=APPLICATION, plan=annual_plan(2024)),
        ]
    )
    assert state == ApplicationState(
        application_id=APPLICATION,
        year=2024,
        programme=Programme.服务职工综合体,
        submitter="370202",
        form=amended,
        annual_plans=(annual_plan(2024),),
    )
    assert replay([]) is None


def test_events_of_other_aggregates_are_ignored() -> None:
    state = submitted()
    fact = ComplianceFactReported(
        fact_id=uuid5(NS, "fact"),
        credit_code=ENTERPRISE_CODE,
        unit_name="青岛某某有限公司",
        kind=ComplianceFactKind.拖欠工资,
        occurred_on=date(2024, 1, 1),
        reported_by="human_resources_social_security",
        reported_on=date(2024, 2, 1),
        evidence_ref="青人社监〔2024〕1号",
    )
    assert evolve(state, fact) is state
    assert evolve_review(NO_REVIEW, fact) is NO_REVIEW


def test_an_event_out_of_its_stream_is_a_bug() -> None:
    with pytest.raises(ValueError, match="out of its stream"):
        evolve(None, ApplicationWithdrawn(application_id=APPLICATION, reason="暂缓申报"))
    with pytest.raises(ValueError, match="out of its stream"):
        evolve(submitted(), ApplicationWithdrawn(application_id=uuid5(NS, "other"), reason="暂缓申报"))
    with pytest.raises(ValueError, match="submitted twice"):
        evolve(submitted(), submit(submission()))


def test_review_progress_follows_the_review_topic() -> None:
    assert not NO_REVIEW.started
    accepted = review_progress([ACCEPTED])
    assert accepted.accepted and not accepted.started
    assert review_progress([ACCEPTED, SCORED]).started
    assert review_progress([REJECTED]).started
    approved = review_progress([ACCEPTED, SCORED, APPROVED])
    assert approved.approved and approved.approved_period == (date(2024, 9, 1), date(2027, 8, 31))
    assert review_progress([ACCEPTED, DECLINED]).started
