"""The application aggregate: a district or group union submits an application form (annexes
3–5), may amend or withdraw it until review starts, and once construction is approved sends its
construction plans (工作安排 2).

decide/evolve style: `decide(state, command, review)` returns the events to append, or raises a
Refusal; `evolve(state, event)` folds one recorded event into the state. Review outcomes are
events of the review service, so the caller folds them separately with `evolve_review` and passes
the resulting `ReviewProgress` to `decide`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from functools import reduce
from typing import Final, TypeAlias, overload
from uuid import UUID

from huigong_events.base import DomainEvent
from huigong_events.forms import (
    AnnualPlan,
    Organisation,
    PilotForm,
    ServiceBaseForm,
    ThreeYearPlan,
    WelfarePartnerForm,
    check_form_programme,
)
from huigong_events.intake import (
    ApplicationAmended,
    ApplicationSubmitted,
    ApplicationWithdrawn,
    PlanSubmitted,
    SubmissionWindowOpened,
)
from huigong_events.reference import (
    CITY_NAME,
    DISTRICTS,
    GROUP_UNIONS,
    MANAGING_UNIT,
    PROGRAMME_LABELS,
    SUBMITTERS,
    Programme,
)
from huigong_events.review import (
    ApplicationAccepted,
    ApplicationRejected,
    ConstructionApproved,
    ConstructionDeclined,
    ReviewScored,
)
from huigong_platform.refusals import Conflict, FieldError, Refusal

from .cycle import ensure_open, reason_errors, year_errors

Form: TypeAlias = PilotForm | ServiceBaseForm | WelfarePartnerForm
Plan: TypeAlias = ThreeYearPlan | AnnualPlan

# --------------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubmitApplication:
    application_id: UUID
    year: int
    programme: Programme
    submitter: str
    form: Form
    now: datetime
    windows: Sequence[SubmissionWindowOpened] = ()
    # 受理编号: a per-submitter, per-year sequence no single application can know, so the caller
    # allocates it and the event carries it.
    receipt_no: str | None = None


@dataclass(frozen=True)
class AmendApplication:
    """Replace the whole form. `windows` matter because an amendment is held to the same
    deadline as a submission of the application's year."""

    form: Form
    reason: str
    now: datetime
    windows: Sequence[SubmissionWindowOpened] = ()


@dataclass(frozen=True)
class WithdrawApplication:
    reason: str


@dataclass(frozen=True)
class SubmitPlan:
    plan: Plan


Command: TypeAlias = SubmitApplication | AmendApplication | WithdrawApplication | SubmitPlan

# --------------------------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApplicationState:
    """What the application's own intake events say. None (no state) until it is submitted."""

    application_id: UUID
    year: int
    programme: Programme
    submitter: str
    form: Form
    receipt_no: str | None = None
    withdrawn: bool = False
    three_year_plan: ThreeYearPlan | None = None
    annual_plans: tuple[AnnualPlan, ...] = ()

    @property
    def annual_plan_years(self) -> frozenset[int]:
        return frozenset(plan.year for plan in self.annual_plans)


@dataclass(frozen=True)
class ReviewProgress:
    """What the review service has decided about the application so far."""

    accepted: bool = False
    rejected: bool = False
    scored: bool = False
    approved_period: tuple[date, date] | None = None
    declined: bool = False

    @property
    def approved(self) -> bool:
        return self.approved_period is not None

    @property
    def started(self) -> bool:
        """Review starts with the first score or with 不予受理. Acceptance alone does not start
        it: it only says no exclusion rule applies. A decision to build or not implies review
        happened even if its scores have not reached intake yet (the topics are read
        independently), or when a decline was made without scores."""
        return self.scored or self.rejected or self.approved or self.declined


NO_REVIEW: Final = ReviewProgress()


@overload
def evolve(state: ApplicationState, event: DomainEvent) -> ApplicationState: ...
@overload
def evolve(state: ApplicationState | None, event: DomainEvent) -> ApplicationState | None: ...
def evolve(state: ApplicationState | None, event: DomainEvent) -> ApplicationState | None:
    """Fold one of the application's intake events into its state; other events leave it as is.

    Events are facts: nothing is re-checked here except that they belong to this application.
    """
    if isinstance(event, ApplicationSubmitted):
        if state is not None:
            raise ValueError(f"application {event.application_id} submitted twice in its stream")
        return ApplicationState(
            application_id=event.application_id,
            year=event.year,
            programme=event.programme,
            submitter=event.submitter,
            form=event.form,
            receipt_no=event.receipt_no,
        )
    if not isinstance(event, ApplicationAmended | ApplicationWithdrawn | PlanSubmitted):
        return state
    if state is None or state.application_id != event.application_id:
        raise ValueError(f"{event.type} for application {event.application_id} out of its stream")
    if isinstance(event, ApplicationAmended):
        return replace(state, form=event.form)
    if isinstance(event, ApplicationWithdrawn):
        return replace(state, withdrawn=True)
    if isinstance(event.plan, ThreeYearPlan):
        return replace(state, three_year_plan=event.plan)
    return replace(state, annual_plans=(*state.annual_plans, event.plan))


def replay(events: Iterable[DomainEvent]) -> ApplicationState | None:
    state: ApplicationState | None = None
    for event in events:
        state = evolve(state, event)
    return state


def evolve_review(progress: ReviewProgress, event: DomainEvent) -> ReviewProgress:
    """Fold one review event into the progress; others leave it as is. The caller passes the
    events of this application's review aggregate only (its id is the application id)."""
    if isinstance(event, ApplicationAccepted):
        return replace(progress, accepted=True)
    if isinstance(event, ApplicationRejected):
        return replace(progress, rejected=True)
    if isinstance(event, ReviewScored):
        return replace(progress, scored=True)
    if isinstance(event, ConstructionApproved):
        return replace(progress, approved_period=(event.period_start, event.period_end))
    if isinstance(event, ConstructionDeclined):
        return replace(progress, declined=True)
    return progress


def review_progress(events: Iterable[DomainEvent]) -> ReviewProgress:
    return reduce(evolve_review, events, NO_REVIEW)


# --------------------------------------------------------------------------------------------
# Decide
# --------------------------------------------------------------------------------------------


def decide(state: ApplicationState | None, command: Command, review: ReviewProgress) -> list[DomainEvent]:
    """The events that `command` records; Refusal, Conflict or DeadlinePassed if refused."""
    if isinstance(command, SubmitApplication):
        return _submit(state, command)
    if state is None:
        raise Conflict(
            FieldError(
                "application_id",
                "申报不存在，请先提交申报",
                "no application with this id has been submitted",
            )
        )
    if isinstance(command, AmendApplication):
        return _amend(state, command, review)
    if isinstance(command, WithdrawApplication):
        return _withdraw(state, command, review)
    return _submit_plan(state, command, review)


def _submit(state: ApplicationState | None, command: SubmitApplication) -> list[DomainEvent]:
    if state is not None:
        raise Conflict(
            FieldError(
                "application_id",
                "该申报编号已提交过申报，不能重复提交",
                "an application with this id has already been submitted",
            )
        )
    errors = year_errors(command.year, command.now)
    if command.submitter not in SUBMITTERS:
        errors.append(
            FieldError(
                "submitter",
                f"申报单位代码 {command.submitter} 不是区市总工会或市直、驻青单位工会",
                f"submitter {command.submitter} is not a district federation or a group union",
            )
        )
    if errors:
        raise Refusal(*errors)
    # The deadline comes before the form: fixing a form is wasted effort if it cannot be filed.
    ensure_open(command.year, command.submitter, command.now, command.windows)
    _raise_form_errors(command.programme, command.submitter, command.form)
    return [
        ApplicationSubmitted(
            application_id=command.application_id,
            year=command.year,
            programme=command.programme,
            submitter=command.submitter,
            receipt_no=command.receipt_no,
            form=command.form,
        )
    ]


def _amend(state: ApplicationState, command: AmendApplication, review: ReviewProgress) -> list[DomainEvent]:
    _ensure_not_withdrawn(state)
    if review.started:
        raise Conflict(
            FieldError(
                "application_id",
                "评审已开始（已打分或不予受理），不能修改申报",
                "review has started (scored or not accepted); the application can no longer be amended",
            )
        )
    if review.accepted:
        # The screening that accepted it looked at this form; a new one would bypass it.
        raise Conflict(
            FieldError(
                "application_id",
                "申报已受理，不能修改申报表",
                "the application has been accepted for review; its form can no longer be amended",
            )
        )
    errors = reason_errors(command.reason)
    if command.form.form_kind != state.form.form_kind:
        errors.append(
            FieldError(
                "form.form_kind",
                "修改后的申报表类型须与原申报一致",
                f"the amended form must be a {state.form.form_kind} form like the original",
            )
        )
    if errors:
        raise Refusal(*errors)
    ensure_open(state.year, state.submitter, command.now, command.windows)
    _raise_form_errors(state.programme, state.submitter, command.form)
    return [ApplicationAmended(application_id=state.application_id, form=command.form, reason=command.reason)]


def _withdraw(
    state: ApplicationState, command: WithdrawApplication, review: ReviewProgress
) -> list[DomainEvent]:
    _ensure_not_withdrawn(state)
    if review.started:
        raise Conflict(
            FieldError(
                "application_id",
                "评审已开始（已打分或不予受理），不能撤回申报",
                "review has started (scored or not accepted); the application can no longer be withdrawn",
            )
        )
    errors = reason_errors(command.reason)
    if errors:
        raise Refusal(*errors)
    return [ApplicationWithdrawn(application_id=state.application_id, reason=command.reason)]


def _submit_plan(state: ApplicationState, command: SubmitPlan, review: ReviewProgress) -> list[DomainEvent]:
    _ensure_not_withdrawn(state)
    if review.approved_period is None:
        raise Conflict(
            FieldError(
                "plan",
                "尚未批准建设，不能报送建设方案",
                "construction has not been approved; plans cannot be submitted yet",
            )
        )
    first, last = review.approved_period[0].year, review.approved_period[1].year
    span_zh = f"批准的建设期（{first}—{last}年）"
    span_en = f"the approved construction period ({first}–{last})"
    plan = command.plan
    if isinstance(plan, ThreeYearPlan):
        if state.three_year_plan is not None:
            raise Conflict(
                FieldError(
                    "plan", "三年规划已报送，不能重复报送", "the three-year plan has already been submitted"
                )
            )
        errors = [
            FieldError(
                f"plan.{name}", f"{label}{year}年不在{span_zh}内", f"{name} {year} is outside {span_en}"
            )
            for name, label, year in (
                ("start_year", "起始年度", plan.start_year),
                ("end_year", "终止年度", plan.end_year),
            )
            if not first <= year <= last
        ]
        if errors:
            raise Refusal(*errors)
    else:
        if not first <= plan.year <= last:
            raise Refusal(
                FieldError(
                    "plan.year",
                    f"实施年度{plan.year}年不在{span_zh}内",
                    f"year {plan.year} is outside {span_en}",
                )
            )
        if plan.year in state.annual_plan_years:
            raise Conflict(
                FieldError(
                    "plan.year",
                    f"{plan.year}年度实施方案已报送，不能重复报送",
                    f"the annual plan for {plan.year} has already been submitted",
                )
            )
    return [PlanSubmitted(application_id=state.application_id, plan=plan)]


def _ensure_not_withdrawn(state: ApplicationState) -> None:
    if state.withdrawn:
        raise Conflict(
            FieldError(
                "application_id",
                "申报已撤回，不能再修改、撤回或报送方案",
                "the application has been withdrawn",
            )
        )


# --------------------------------------------------------------------------------------------
# Form rules (annex 3 notes 1–3; annexes 4 and 5)
# --------------------------------------------------------------------------------------------

# Note 2, 3: the 管理单位 is the city federation; its full name is the same unit.
MANAGING_UNIT_NAMES: Final = frozenset({MANAGING_UNIT, f"{CITY_NAME}总工会"})
CITY_FEDERATION_NAMES: Final = MANAGING_UNIT_NAMES

# Annex 2 and DOMAIN call 370211 "西海岸新区 (黄岛区)"; its union is often written either way.
_DISTRICT_ALIASES: Final[dict[str, tuple[str, ...]]] = {
    code: (name, "黄岛区") if code == "370211" else (name,) for code, name in DISTRICTS.items()
}

# Note 1: “XXX（地区名称/企业名称）—XXX（服务职工综合体/幸福企业）建设”. The dash is optional
# (the note's own examples omit it) and may be typed as a full-width or ASCII hyphen; the
# Chinese 破折号 is two em dashes, so one or two are accepted.
_PILOT_NAME: Final = re.compile(r"(?P<place>.*?)\s*(?:[—－-]{1,2}\s*)?(?P<kind>服务职工综合体|幸福企业)建设")
_PILOT_KINDS: Final[dict[Programme, str]] = {
    Programme.服务职工综合体: "服务职工综合体",
    Programme.幸福企业: "幸福企业",
}
_PILOT_EXAMPLES: Final[dict[Programme, str]] = {
    Programme.服务职工综合体: "XXX区工会服务职工综合体建设",
    Programme.幸福企业: "XXX有限公司幸福企业建设",
}

# The construction plan runs “三年规划、分年实施”: a pilot that needs longer than the three-year
# horizon cannot be planned, and one that starts and ends in the same month is not a pilot.
MAX_PILOT_MONTHS: Final = 36

# GB 32100-2015: the first character is the registering authority, 9 = 工商 (market regulation),
# i.e. an enterprise; under it the second character 2 is 个体工商户, which has no legal
# personality (note 3 asks for 独立法人资格).
_ENTERPRISE_AUTHORITY: Final = "9"
_SOLE_TRADER_CATEGORY: Final = "92"


def form_errors(programme: Programme, submitter: str, form: Form) -> list[FieldError]:
    """Every rule of the plan that `form` breaks when `submitter` files it for `programme`."""
    try:
        check_form_programme(programme, form)
    except ValueError:
        return [
            FieldError(
                "form.form_kind",
                f"申报表类型与工作任务“{PROGRAMME_LABELS[programme]}”不符",
                f"a {form.form_kind} form does not belong to the {programme.value} programme",
            )
        ]
    errors = _managing_unit_errors(form.managing_unit)
    if isinstance(form, PilotForm):
        errors += _pilot_errors(programme, submitter, form)
    elif isinstance(form, ServiceBaseForm):
        errors += _names_errors(
            ("form.name", form.name),
            ("form.undertaking_unit.name", form.undertaking_unit.name),
            ("form.applicant_unit.name", form.applicant_unit.name),
            *_unit_names("form.participating_units", form.participating_units),
        )
    else:
        errors += _names_errors(
            ("form.name", form.name), ("form.applicant_unit.name", form.applicant_unit.name)
        )
    return errors


def _raise_form_errors(programme: Programme, submitter: str, form: Form) -> None:
    errors = form_errors(programme, submitter, form)
    if errors:
        raise Refusal(*errors)


def _managing_unit_errors(name: str) -> list[FieldError]:
    if name.strip() in MANAGING_UNIT_NAMES:
        return []
    return [
        FieldError(
            "form.managing_unit",
            f"管理单位应为市总工会，而非“{name}”",
            f"the managing unit must be the city federation (市总工会), not {name!r}",
        )
    ]


def _pilot_errors(programme: Programme, submitter: str, form: PilotForm) -> list[FieldError]:
    errors = _pilot_name_errors(programme, form.pilot_name)
    errors += _period_errors(form.period_start, form.period_end)
    errors += _names_errors(
        ("form.applicant_unit.name", form.applicant_unit.name),
        *_unit_names("form.participating_units", form.participating_units),
    )
    if programme is Programme.服务职工综合体:
        errors += _complex_undertaker_errors(submitter, form.undertaking_unit)
    else:
        errors += _names_errors(("form.undertaking_unit.name", form.undertaking_unit.name))
        errors += _enterprise_undertaker_errors(form.undertaking_unit)
        errors += _superior_union_errors(form.participating_units)
    return errors


def _pilot_name_errors(programme: Programme, name: str) -> list[FieldError]:
    kind = _PILOT_KINDS[programme]
    match = _PILOT_NAME.fullmatch(name.strip())
    if match is None or not match["place"].strip(" —－-"):
        return [
            FieldError(
                "form.pilot_name",
                f"试点名称应采用“XXX（地区名称/企业名称）—{kind}建设”的格式，如“{_PILOT_EXAMPLES[programme]}”",
                f"the pilot name must read “<place or enterprise>—{kind}建设”, "
                f"e.g. “{_PILOT_EXAMPLES[programme]}”",
            )
        ]
    if match["kind"] != kind:
        return [
            FieldError(
                "form.pilot_name",
                f"试点名称中的“{match['kind']}”与工作任务不符，{PROGRAMME_LABELS[programme]}试点应以“{kind}建设”结尾",
                f"the pilot name names a {match['kind']} but the programme is {programme.value}; "
                f"it must end with “{kind}建设”",
            )
        ]
    return []


def _months(year_month: str) -> int:
    year, month = year_month.split("-")
    return int(year) * 12 + int(month) - 1


def _period_errors(start: str, end: str) -> list[FieldError]:
    # Both ends are whole months (“××年××月至××年××月”), so 2023-07 to 2026-06 is 36 months.
    months = _months(end) - _months(start) + 1
    if months <= 1:
        return [
            FieldError(
                "form.period_end",
                "试点时间的结束年月须晚于开始年月",
                "the pilot period must end in a later month than it starts",
            )
        ]
    if months > MAX_PILOT_MONTHS:
        return [
            FieldError(
                "form.period_end",
                f"试点时间为 {months} 个月，超过三年规划的 {MAX_PILOT_MONTHS} 个月",
                f"the pilot period of {months} months exceeds "
                f"the three-year plan ({MAX_PILOT_MONTHS} months)",
            )
        ]
    return []


def _district_of(name: str) -> str | None:
    """The district whose federation (区市总工会) `name` is, if it is exactly one's."""
    if not name.endswith("总工会"):
        return None
    found = {code for code, aliases in _DISTRICT_ALIASES.items() if any(a in name for a in aliases)}
    return found.pop() if len(found) == 1 else None


def _complex_undertaker_errors(submitter: str, unit: Organisation) -> list[FieldError]:
    # Note 2: a complex is built by the city federation or a district federation.
    name = unit.name.strip()
    district = _district_of(name)
    if name not in CITY_FEDERATION_NAMES and district is None:
        return [
            FieldError(
                "form.undertaking_unit.name",
                f"服务职工综合体的承担单位应为市总工会或区市总工会，“{name}”不是",
                f"a service complex is undertaken by the city federation or a district federation "
                f"(区市总工会), not {name!r}",
            )
        ]
    # A district speaks for its own federation only; another district's or the city's centre is
    # not its to put forward.
    if submitter in DISTRICTS and district != submitter:
        return [
            FieldError(
                "form.undertaking_unit.name",
                f"{DISTRICTS[submitter]}只能申报本区市总工会承担的服务职工综合体，“{name}”不是",
                f"{submitter} may only submit a service complex undertaken by its own district "
                f"federation, not {name!r}",
            )
        ]
    if submitter in GROUP_UNIONS and district is not None:
        return [
            FieldError(
                "form.undertaking_unit.name",
                f"区市总工会承担的服务职工综合体应由该区市申报，{GROUP_UNIONS[submitter]}不能代为申报",
                "a district federation's service complex is submitted by that district, not by a group union",
            )
        ]
    return []


def _enterprise_undertaker_errors(unit: Organisation) -> list[FieldError]:
    # Note 3: an enterprise or industrial park with its own union and legal personality. The
    # form does not say whether it has a union; the credit code says whether it is a
    # registered enterprise.
    code = unit.credit_code
    if not code.startswith(_ENTERPRISE_AUTHORITY):
        return [
            FieldError(
                "form.undertaking_unit.credit_code",
                f"幸福企业的承担单位应为在市场监管（工商）部门登记的企业或工业园区，"
                f"统一社会信用代码应以 9 开头，而 {code} 不是",
                f"a happy enterprise is undertaken by an enterprise registered with market regulation "
                f"(工商); its credit code must start with 9, {code} does not",
            )
        ]
    if code.startswith(_SOLE_TRADER_CATEGORY):
        return [
            FieldError(
                "form.undertaking_unit.credit_code",
                f"统一社会信用代码 {code} 属于个体工商户，不具有独立法人资格，不能承担幸福企业建设",
                f"credit code {code} is a sole trader (个体工商户), which has no legal personality",
            )
        ]
    return []


def _superior_union_errors(units: Sequence[Organisation]) -> list[FieldError]:
    # Note 3: 参加单位 are the superior unions by union affiliation (按照工会隶属关系的上级工会).
    # Other units may join too, but at least one must be a union, or nobody above the
    # enterprise's union is taking part.
    if any(unit.name.strip().endswith("工会") for unit in units):
        return []
    return [
        FieldError(
            "form.participating_units",
            "幸福企业的参加单位应包括按照工会隶属关系的上级工会（名称以“工会”结尾）",
            "a happy enterprise's participating units must include its superior union "
            "(a name ending with 工会)",
        )
    ]


def _unit_names(path: str, units: Sequence[Organisation]) -> list[tuple[str, str]]:
    return [(f"{path}.{index}.name", unit.name) for index, unit in enumerate(units)]


def _names_errors(*names: tuple[str, str]) -> list[FieldError]:
    # The models already require names; this catches forms built without validation
    # (model_construct, model_copy) before they become an immutable event.
    return [
        FieldError(path, "名称不能为空", "the name must not be empty")
        for path, name in names
        if not name.strip()
    ]
