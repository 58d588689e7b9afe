"""The yearly evaluation and grading of 服务职工基地 and 关爱职工公益伙伴 (绩效评估、分级评定), and the
entry, management and exit that follow from a grade. Pure: state from events, figures from events,
decisions as events or refusals.

Rules, as a union's staff read them in docs/services/registry.md:
- The scheme of a year (weights of the four dimensions, grade bands, the figures that score full
  marks, the 整改 period) is data the city sets (EvaluationSchemeSet). It may be set or changed for
  the current or a later year, never for a past year, and never once a grade of that year is
  recorded: a grade is never recomputed under other weights. A year the city set nothing for is
  evaluated on `DEFAULT` (version 0).
- 服务规模, 服务效率 and 服务质量 are computed from the registry's own events (service matters,
  their ratings, the 服务项目库, facilities) dated within the year and not after the evaluation
  date, and recorded before the evaluation: the same figures come back whenever the events are
  read again (`measure`). Each figure names the events it counts. 社会效应 is entered by the city's
  staff with its evidence. A dimension without data (a partner handles no service matters)
  scores nothing and its weight goes to the others in proportion.
- One grade per base or partner and year; an exited or revoked one is not graded.
- Entry: a base or partner that came from an application enters on probation (试运行) until its
  first grade of C or better; the 2022 pilots are not on probation.
- A grade D orders 整改 with a deadline. Two D grades in consecutive years, or a 整改 still open
  after its deadline (found at the next grade, or proposed by the city's staff once the deadline
  has passed), propose exit; a registrar confirms it (the base or partner exits) or dismisses it,
  with a reason. The unit's union may file one statement on each year's grade.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

from huigong_events.base import DomainEvent
from huigong_events.envelope import RecordedEvent
from huigong_events.grading import (
    GRADING,
    SCHEME,
    Dimension,
    DimensionResult,
    EvaluatedKind,
    EvaluationSchemeSet,
    ExitGround,
    ExitProposalConfirmed,
    ExitProposalDismissed,
    ExitProposed,
    Figure,
    Grade,
    GradeBand,
    GradingStatementFiled,
    RectificationCompleted,
    RectificationOrdered,
    ResourceGraded,
    ScaleTargets,
    Weights,
)
from huigong_events.labels import Labelled, relabel
from huigong_events.matters import (
    MatterAccepted,
    MatterClosed,
    MatterDeadlineRevised,
    MatterRated,
    MatterReceived,
    MatterStepDone,
    MatterTransferred,
    MatterTransferRefused,
)
from huigong_events.reference import FacilityKind, Programme
from huigong_events.registry import (
    FacilityClosed,
    FacilityOpened,
    PartnerExited,
    PartnerOrigin,
    PartnerRegistered,
    ServiceProjectListed,
    UnitOrigin,
    UnitRegistered,
)
from huigong_platform.refusals import Conflict, FieldError, NotFound, Refusal

from . import certification

AGGREGATE: Final = GRADING
SCHEME_AGGREGATE: Final = SCHEME
CENT: Final = Decimal("0.01")
HUNDRED: Final = Decimal(100)

DEFAULT_WEIGHTS: Final = Weights(scale=30, efficiency=25, quality=30, social=15)
DEFAULT_BANDS: Final = (
    GradeBand(grade=Grade.A, min_score=Decimal(85)),
    GradeBand(grade=Grade.B, min_score=Decimal(75)),
    GradeBand(grade=Grade.C, min_score=Decimal(60)),
    GradeBand(grade=Grade.D, min_score=Decimal(0)),
)
DEFAULT_TARGETS: Final = ScaleTargets(matters=100, projects=3, facilities=1)
DEFAULT_RECTIFICATION_DAYS: Final = 90

# The event types `measure` reads, for the ports that fetch them.
MEASURED_TYPES: Final = frozenset(
    {
        "MatterReceived",
        "MatterTransferred",
        "MatterAccepted",
        "MatterTransferRefused",
        "MatterDeadlineRevised",
        "MatterStepDone",
        "MatterClosed",
        "MatterRated",
        "ServiceProjectListed",
        "FacilityOpened",
        "FacilityClosed",
    }
)


class GradingStatus(Labelled):
    probation = "probation"  # 试运行
    regular = "regular"  # 正常
    rectification = "rectification"  # 整改中
    exit_proposed = "exit_proposed"  # 拟退出
    exited = "exited"  # 已退出


relabel(
    GradingStatus,
    {
        GradingStatus.probation: "试运行",
        GradingStatus.regular: "正常",
        GradingStatus.rectification: "整改中",
        GradingStatus.exit_proposed: "拟退出",
        GradingStatus.exited: "已退出",
    },
)


# --- the scheme -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scheme:
    year: int
    version: int
    weights: Weights
    bands: tuple[GradeBand, ...]
    scale_targets: ScaleTargets
    rectification_days: int

    def grade(self, score: Decimal) -> Grade:
        for band in self.bands:
            if score >= band.min_score:
                return band.grade
        return Grade.D


def default_scheme(year: int) -> Scheme:
    return Scheme(year, 0, DEFAULT_WEIGHTS, DEFAULT_BANDS, DEFAULT_TARGETS, DEFAULT_RECTIFICATION_DAYS)


def scheme_id(year: int) -> str:
    return str(year)


def fold_scheme(year: int, events: Iterable[DomainEvent]) -> Scheme:
    scheme = default_scheme(year)
    for event in events:
        if isinstance(event, EvaluationSchemeSet):
            scheme = Scheme(
                year,
                scheme.version + 1,
                event.weights,
                tuple(event.bands),
                event.scale_targets,
                event.rectification_days,
            )
    return scheme


def decide_scheme(event: EvaluationSchemeSet, graded_in_year: bool, today: date) -> list[DomainEvent]:
    if event.year < today.year:
        raise Refusal(
            FieldError(
                "year",
                f"不能调整过去年度（{event.year}年）的评估办法：评估办法只适用于今后的评估",
                f"the scheme of a past year ({event.year}) cannot be changed: a scheme never applies retroactively",
            )
        )
    if graded_in_year:
        raise Conflict(
            FieldError(
                "year",
                f"{event.year}年度已有评定结果，评估办法不再调整（不溯及既往）",
                f"grades of {event.year} are recorded already: its scheme no longer changes",
            )
        )
    return [event]


# --- the evaluated base or partner ----------------------------------------------------------------


@dataclass(frozen=True)
class Subject:
    subject_id: uuid.UUID
    kind: EvaluatedKind
    name: str
    area: str
    credit_code: str | None
    registered_on: date
    # New ones (from an application) enter on probation; the 2022 pilots do not.
    enters_on_probation: bool
    active: bool

    def provides(self, provider: str, credit_code: str | None) -> bool:
        """A project's or facility's provider is this base or partner: the same credit code, or
        (where either has none, as the 2022 cohort) the same name."""
        if self.credit_code and credit_code:
            return self.credit_code == credit_code
        return provider.strip() == self.name.strip()


def subject_of_unit(events: Sequence[DomainEvent]) -> Subject | None:
    """A registered unit as an evaluated base; None when there is no such unit. A unit of another
    programme is refused (only 服务职工基地 are evaluated)."""
    state = certification.fold(events)
    registered = next((e for e in events if isinstance(e, UnitRegistered)), None)
    if state is None or registered is None:
        return None
    if registered.programme is not Programme.服务职工基地:
        raise Refusal(
            FieldError(
                "subject_id",
                f"只评估服务职工基地和关爱职工公益伙伴，该单位为{registered.programme.label}",
                f"only service bases and welfare partners are graded; this unit is a {registered.programme.value}",
            )
        )
    return Subject(
        subject_id=registered.unit_id,
        kind=EvaluatedKind.服务职工基地,
        name=registered.name,
        area=registered.area,
        credit_code=registered.credit_code,
        registered_on=registered.registered_on,
        enters_on_probation=registered.origin is UnitOrigin.申报,
        active=state.status not in (certification.UnitStatus.revoked, certification.UnitStatus.exited),
    )


def subject_of_partner(events: Sequence[DomainEvent]) -> Subject | None:
    registered = next((e for e in events if isinstance(e, PartnerRegistered)), None)
    if registered is None:
        return None
    return Subject(
        subject_id=registered.partner_id,
        kind=EvaluatedKind.关爱职工公益伙伴,
        name=registered.name,
        area=registered.area,
        credit_code=registered.credit_code,
        registered_on=registered.registered_on,
        enters_on_probation=registered.origin is PartnerOrigin.申报,
        active=not any(isinstance(e, PartnerExited) for e in events),
    )


# --- the grading stream ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Rectification:
    year: int
    ordered_on: date
    deadline: date


@dataclass(frozen=True)
class GradingState:
    grades: dict[int, Grade] = field(default_factory=dict)
    probation_ended: bool = False
    rectification: Rectification | None = None
    proposal: ExitProposed | None = None
    exited_on: date | None = None
    statements: frozenset[int] = frozenset()

    def status(self, subject: Subject | None) -> GradingStatus:
        if self.exited_on is not None or (subject is not None and not subject.active):
            return GradingStatus.exited
        if self.proposal is not None:
            return GradingStatus.exit_proposed
        if self.rectification is not None:
            return GradingStatus.rectification
        if subject is not None and subject.enters_on_probation and not self.probation_ended:
            return GradingStatus.probation
        return GradingStatus.regular


def evolve(state: GradingState, event: DomainEvent) -> GradingState:
    match event:
        case ResourceGraded():
            return replace(
                state,
                grades={**state.grades, event.year: event.grade},
                probation_ended=state.probation_ended or event.probation_ended,
            )
        case RectificationOrdered():
            return replace(state, rectification=Rectification(event.year, event.ordered_on, event.deadline))
        case RectificationCompleted():
            return replace(state, rectification=None)
        case ExitProposed():
            return replace(state, proposal=event)
        case ExitProposalDismissed():
            return replace(state, proposal=None)
        case ExitProposalConfirmed():
            return replace(state, proposal=None, exited_on=event.confirmed_on)
        case GradingStatementFiled():
            return replace(state, statements=state.statements | {event.year})
    return state


def fold(events: Iterable[DomainEvent]) -> GradingState:
    state = GradingState()
    for event in events:
        state = evolve(state, event)
    return state


# --- figures from events, as of a day -------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """What an evaluation counts: business dates from 1 January of `year` to `end` (31 December, or
    the evaluation date if earlier), of events recorded by `recorded_by` (None: all given)."""

    year: int
    end: date
    recorded_by: datetime | None = None

    @property
    def start(self) -> date:
        return date(self.year, 1, 1)

    def within(self, day: date) -> bool:
        return self.start <= day <= self.end

    @classmethod
    def of(cls, year: int, evaluated_on: date, recorded_by: datetime | None = None) -> Window:
        return cls(year, min(date(year, 12, 31), evaluated_on), recorded_by)


@dataclass
class _Matter:
    deadline: date
    handler: uuid.UUID | None
    taken_on: date | None = None  # the day the subject received or accepted it
    first_action_on: date | None = None  # the subject's first step or its closure
    closed_by: uuid.UUID | None = None
    closed: bool = False


def _day_of(event: DomainEvent) -> date | None:
    match event:
        case MatterReceived():
            return event.received_on
        case MatterTransferred():
            return event.transferred_on
        case MatterAccepted():
            return event.accepted_on
        case MatterTransferRefused():
            return event.refused_on
        case MatterStepDone():
            return event.done_on
        case MatterClosed():
            return event.closed_on
        case MatterRated():
            return event.rated_on
        case MatterDeadlineRevised():
            return event.revised_on
        case ServiceProjectListed():
            return event.listed_on
        case FacilityOpened():
            return event.opened_on
        case FacilityClosed():
            return event.closed_on
    return None


def _value(number: Decimal | int) -> Decimal:
    return Decimal(number).quantize(CENT, rounding=ROUND_HALF_UP)


def _share(part: int, whole: int) -> Decimal:
    return _value(Decimal(part) * HUNDRED / Decimal(whole))


def _figure(code: str, label: str, value: Decimal | int, sources: Iterable[uuid.UUID] = ()) -> Figure:
    # Sorted: the same figure read back from the topics, whose partitions interleave as they
    # will, names its sources in the same order.
    return Figure(figure=code, label=label, value=_value(value), sources=sorted(sources, key=str))


def measure(
    subject: Subject,
    window: Window,
    targets: ScaleTargets,
    records: Iterable[tuple[RecordedEvent, DomainEvent]],
) -> list[DimensionResult]:
    """服务规模, 服务效率 and 服务质量 of `subject` within `window`, from the registry's events (in
    the order recorded), each figure with the ids of the events it counts."""
    me = subject.subject_id
    matters: dict[uuid.UUID, _Matter] = {}
    taken: list[uuid.UUID] = []  # the MatterReceived / MatterAccepted events by which it took a matter
    on_time: list[uuid.UUID] = []
    late: list[uuid.UUID] = []
    rated: list[tuple[uuid.UUID, int]] = []
    projects: list[uuid.UUID] = []
    facilities: dict[uuid.UUID, uuid.UUID] = {}  # facility id → the FacilityOpened event's id
    for record, event in records:
        if window.recorded_by is not None and record.recorded_at > window.recorded_by:
            continue
        day = _day_of(event)
        if day is None or day > window.end:
            continue
        match event:
            case MatterReceived():
                matter = _Matter(event.deadline, event.centre_id)
                matters[event.matter_id] = matter
                if event.centre_id == me and window.within(day):
                    matter.taken_on = day
                    taken.append(record.id)
            case MatterTransferred() if event.matter_id in matters:
                matters[event.matter_id].handler = None
            case MatterDeadlineRevised() if event.matter_id in matters:
                # The year's working days were published: on time and overdue count from the new day.
                matters[event.matter_id].deadline = event.deadline
            case MatterAccepted() if event.matter_id in matters:
                matter = matters[event.matter_id]
                matter.handler = event.unit_id
                if event.unit_id == me and window.within(day) and matter.taken_on is None:
                    matter.taken_on = day
                    taken.append(record.id)
            case MatterTransferRefused() if event.matter_id in matters:
                # Refused: the sender handles it again, and answers for it if it runs late.
                matters[event.matter_id].handler = event.back_to
            case MatterStepDone() if event.matter_id in matters:
                matter = matters[event.matter_id]
                if event.unit_id == me and matter.taken_on is not None and matter.first_action_on is None:
                    matter.first_action_on = day
            case MatterClosed() if event.matter_id in matters:
                matter = matters[event.matter_id]
                matter.closed, matter.closed_by = True, event.unit_id
                if event.unit_id == me:
                    if matter.taken_on is not None and matter.first_action_on is None:
                        matter.first_action_on = day
                    if window.within(day):
                        (on_time if event.on_time else late).append(record.id)
            case MatterRated() if event.matter_id in matters:
                if matters[event.matter_id].closed_by == me and window.within(day):
                    rated.append((record.id, event.score))
            case ServiceProjectListed():
                if subject.provides(event.provider, event.provider_credit_code):
                    projects.append(record.id)
            case FacilityOpened():
                if event.kind is FacilityKind.服务职工基地 and subject.provides(
                    event.host_unit, event.host_credit_code
                ):
                    facilities[event.facility_id] = record.id
            case FacilityClosed():
                facilities.pop(event.facility_id, None)

    project_figure = _figure("projects_listed", "在库服务项目数", len(projects), projects)
    if subject.kind is EvaluatedKind.关爱职工公益伙伴:
        # A partner handles no service matters and reports no base facility: its scale is its
        # projects, and its efficiency and quality have no data to score.
        scale_score = _value(min(Decimal(1), Decimal(len(projects)) / targets.projects) * HUNDRED)
        return [
            DimensionResult(dimension=Dimension.服务规模, score=scale_score, figures=[project_figure]),
            DimensionResult(dimension=Dimension.服务效率, score=None),
            DimensionResult(dimension=Dimension.服务质量, score=None),
        ]

    parts = [
        min(Decimal(1), Decimal(len(taken)) / targets.matters),
        min(Decimal(1), Decimal(len(projects)) / targets.projects),
        min(Decimal(1), Decimal(len(facilities)) / targets.facilities),
    ]
    scale = DimensionResult(
        dimension=Dimension.服务规模,
        score=_value(sum(parts, Decimal(0)) / len(parts) * HUNDRED),
        figures=[
            _figure("matters_handled", "承办服务事项数（服务人次）", len(taken), taken),
            project_figure,
            _figure("facilities_open", "在用服务职工基地设施数", len(facilities), facilities.values()),
        ],
    )

    overdue = [
        matter_id
        for matter_id, m in matters.items()
        if m.handler == me and not m.closed and m.deadline < window.end
    ]
    responses = [
        (m.first_action_on - m.taken_on).days
        for m in matters.values()
        if m.taken_on is not None and m.first_action_on is not None
    ]
    counted = len(on_time) + len(late) + len(overdue)
    efficiency = DimensionResult(
        dimension=Dimension.服务效率,
        score=_share(len(on_time), counted) if counted else None,
        figures=[
            _figure("closed_on_time", "按期办结数", len(on_time), on_time),
            _figure("closed_late", "超期办结数", len(late), late),
            # The matters themselves: no event says "overdue"; it is computed from their dates.
            _figure("overdue_open", "超期未办结数", len(overdue), overdue),
            _figure(
                "average_response_days",
                "平均响应天数（承接至首个办理环节）",
                Decimal(sum(responses)) / len(responses) if responses else 0,
            ),
        ],
    )

    scores = [score for _, score in rated]
    satisfied = [event_id for event_id, score in rated if score >= 4]
    complaints = [event_id for event_id, score in rated if score <= 2]
    quality = DimensionResult(
        dimension=Dimension.服务质量,
        score=_share(len(satisfied), len(rated)) if rated else None,
        figures=[
            _figure("rated", "评价数", len(rated), (event_id for event_id, _ in rated)),
            _figure("satisfied", "满意数（4–5分）", len(satisfied), satisfied),
            _figure("complaints", "不满意数（1–2分）", len(complaints), complaints),
            _figure(
                "average_satisfaction",
                "平均满意度（1–5）",
                Decimal(sum(scores)) / len(scores) if scores else 0,
            ),
        ],
    )
    return [scale, efficiency, quality]


def overall(dimensions: Sequence[DimensionResult], weights: Weights) -> Decimal:
    """The weighted mean of the dimensions that have a score: a dimension without data passes its
    weight to the others in proportion."""
    scored = [(weights.of(d.dimension), d.score) for d in dimensions if d.score is not None]
    total_weight = sum(w for w, _ in scored)
    if total_weight == 0:
        return Decimal("0.00")
    return _value(sum((Decimal(w) * s for w, s in scored), Decimal(0)) / total_weight)


# --- decisions -------------------------------------------------------------------------------------


def _existing(subject: Subject | None) -> Subject:
    if subject is None:
        raise NotFound(
            FieldError(
                "subject_id", "没有该服务职工基地或公益伙伴", "no such service base or welfare partner"
            )
        )
    return subject


def _active(subject: Subject, state: GradingState) -> None:
    if state.exited_on is not None or not subject.active:
        raise Conflict(
            FieldError(
                "subject_id", "该基地或伙伴已退出或已撤销", "the base or partner has exited or was revoked"
            )
        )


def decide_evaluate(
    subject: Subject | None,
    state: GradingState,
    scheme: Scheme,
    evaluated_on: date,
    measured: list[DimensionResult],
    social: DimensionResult,
) -> list[DomainEvent]:
    subject = _existing(subject)
    _active(subject, state)
    year = scheme.year
    if year > evaluated_on.year:
        raise Refusal(
            FieldError(
                "year",
                f"评估日期 {evaluated_on.isoformat()} 早于评估年度 {year} 年",
                f"the evaluation date {evaluated_on.isoformat()} precedes the year {year}",
            )
        )
    if year < subject.registered_on.year or evaluated_on < subject.registered_on:
        raise Refusal(
            FieldError(
                "year",
                f"该基地或伙伴于 {subject.registered_on.isoformat()} 登记，不能评估此前的年度",
                f"registered on {subject.registered_on.isoformat()}: no evaluation before that",
            )
        )
    if year in state.grades:
        raise Conflict(
            FieldError(
                "year",
                f"{year}年度已评定为 {state.grades[year].label}，评定结果不改写",
                f"{year} is graded {state.grades[year].value} already; a grade is never rewritten",
            )
        )
    dimensions = [*measured, social]
    score = overall(dimensions, scheme.weights)
    grade = scheme.grade(score)
    on_probation = subject.enters_on_probation and not state.probation_ended
    events: list[DomainEvent] = [
        ResourceGraded(
            subject_id=subject.subject_id,
            kind=subject.kind,
            name=subject.name,
            area=subject.area,
            year=year,
            evaluated_on=evaluated_on,
            scheme_version=scheme.version,
            weights=scheme.weights,
            dimensions=dimensions,
            score=score,
            grade=grade,
            probation_ended=on_probation and grade is not Grade.D,
        )
    ]
    if grade is Grade.D and state.rectification is None:
        events.append(
            RectificationOrdered(
                subject_id=subject.subject_id,
                year=year,
                ordered_on=evaluated_on,
                deadline=evaluated_on + timedelta(days=scheme.rectification_days),
            )
        )
    if state.proposal is None:
        if grade is Grade.D and state.grades.get(year - 1) is Grade.D:
            events.append(
                ExitProposed(
                    subject_id=subject.subject_id,
                    ground=ExitGround.连续两年评定为D,
                    reason=f"{year - 1}年度和{year}年度连续评定为 D",
                    proposed_on=evaluated_on,
                )
            )
        elif state.rectification is not None and state.rectification.deadline < evaluated_on:
            events.append(_overdue(subject.subject_id, state.rectification, evaluated_on))
    return events


def _overdue(subject_id: uuid.UUID, rectification: Rectification, on: date) -> ExitProposed:
    return ExitProposed(
        subject_id=subject_id,
        ground=ExitGround.整改逾期未完成,
        reason=(
            f"{rectification.year}年度评定为 D 后责令整改，期限 {rectification.deadline.isoformat()}，逾期未完成"
        ),
        proposed_on=on,
    )


def decide_complete_rectification(
    subject: Subject | None, state: GradingState, evidence: str, on: date
) -> list[DomainEvent]:
    subject = _existing(subject)
    _active(subject, state)
    if state.rectification is None:
        raise Conflict(FieldError("subject_id", "该基地或伙伴没有进行中的整改", "no rectification is open"))
    if on < state.rectification.ordered_on:
        raise Refusal(
            FieldError(
                "completed_on",
                f"完成日期不能早于责令整改日期 {state.rectification.ordered_on.isoformat()}",
                f"completed_on precedes the order of {state.rectification.ordered_on.isoformat()}",
            )
        )
    return [
        RectificationCompleted(
            subject_id=subject.subject_id, year=state.rectification.year, evidence=evidence, completed_on=on
        )
    ]


def _no_pending(state: GradingState) -> None:
    if state.proposal is not None:
        raise Conflict(
            FieldError(
                "subject_id",
                f"已于 {state.proposal.proposed_on.isoformat()} 提请退出，待登记人员决定",
                f"exit was proposed on {state.proposal.proposed_on.isoformat()} and awaits a registrar",
            )
        )


def decide_propose_exit(subject: Subject | None, state: GradingState, on: date) -> list[DomainEvent]:
    """The city's staff propose exit once a 整改 is past its deadline and still open."""
    subject = _existing(subject)
    _active(subject, state)
    _no_pending(state)
    rectification = state.rectification
    if rectification is None:
        raise Conflict(
            FieldError(
                "subject_id",
                "没有进行中的整改：只有整改逾期未完成才能提请退出",
                "no open rectification: exit is proposed only for one overdue",
            )
        )
    if on <= rectification.deadline:
        raise Conflict(
            FieldError(
                "subject_id",
                f"整改期限 {rectification.deadline.isoformat()} 尚未届满",
                f"the rectification is due by {rectification.deadline.isoformat()}",
            )
        )
    return [_overdue(subject.subject_id, rectification, on)]


def _pending(state: GradingState) -> ExitProposed:
    if state.proposal is None:
        raise Conflict(FieldError("subject_id", "没有待决定的退出提请", "no exit proposal awaits a decision"))
    return state.proposal


def decide_confirm_exit(
    subject: Subject | None, state: GradingState, reason: str, on: date
) -> list[DomainEvent]:
    """The registrar's 退出; the handler records the exit on the base's or partner's own stream."""
    subject = _existing(subject)
    _active(subject, state)
    _pending(state)
    return [ExitProposalConfirmed(subject_id=subject.subject_id, reason=reason, confirmed_on=on)]


def decide_dismiss_exit(
    subject: Subject | None, state: GradingState, reason: str, on: date
) -> list[DomainEvent]:
    subject = _existing(subject)
    _pending(state)
    return [ExitProposalDismissed(subject_id=subject.subject_id, reason=reason, dismissed_on=on)]


def decide_statement(
    subject: Subject | None, state: GradingState, year: int | None, statement: str, on: date
) -> list[DomainEvent]:
    subject = _existing(subject)
    if not state.grades:
        raise Conflict(FieldError("year", "该基地或伙伴尚无评定结果", "the base or partner has no grade yet"))
    year = max(state.grades) if year is None else year
    if year not in state.grades:
        raise NotFound(FieldError("year", f"{year}年度没有评定结果", f"no grade for {year}"))
    if year in state.statements:
        raise Conflict(
            FieldError("year", f"已就{year}年度的评定提交过说明", f"a statement on {year} is filed already")
        )
    return [GradingStatementFiled(subject_id=subject.subject_id, year=year, statement=statement, filed_on=on)]
