"""The review aggregate's state: what review knows about one application (its id is the
aggregate id) from the intake events that trigger review, the compliance facts about the screened
enterprise, the registry events that say it was built and certified, and review's own events.

`evolve(state, event, at=...)` folds one event in. Events are facts: nothing is re-checked here
except that review's own events belong to this application. Events about other applications,
other units or other enterprises leave the state as it is, so a caller may feed a wider stream.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from typing import Final, TypeAlias
from uuid import UUID

from huigong_events.base import DomainEvent
from huigong_events.fact_corrections import ComplianceFactCorrected, ComplianceFactWithdrawn
from huigong_events.forms import (
    AnnualPlan,
    DeclaredFact,
    PilotForm,
    ServiceBaseForm,
    ThreeYearPlan,
    WelfarePartnerForm,
)
from huigong_events.intake import (
    ApplicationAmended,
    ApplicationSubmitted,
    ApplicationWithdrawn,
    ComplianceFactReported,
    PlanAmended,
    PlanSubmitted,
)
from huigong_events.labels import Labelled
from huigong_events.reference import ExclusionRule, Programme
from huigong_events.registry import UnitCertified, UnitRegistered
from huigong_events.review import (
    ApplicationAccepted,
    ApplicationRejected,
    ConstructionApproved,
    ConstructionDeclined,
    ConstructionUnitNotSelected,
    ConstructionUnitSelected,
    ExclusionCleared,
    ExclusionEvidence,
    ExclusionFound,
    FindingStage,
    ReviewScored,
)

Form: TypeAlias = PilotForm | ServiceBaseForm | WelfarePartnerForm

# The plan is a Qingdao document: "three years before submission" counts Beijing calendar days,
# whatever zone the submitting system's clock used. China has had no daylight saving since 1991,
# so a fixed offset is exact and needs no tz database.
CHINA_TIME: Final = timezone(timedelta(hours=8), "Asia/Shanghai")


class QueueStage(Labelled):
    """Where an application waits in the review queue (`GET /queue?stage=`)."""

    待筛查 = "awaiting_screening"
    待确定建设单位 = "awaiting_selection"
    待评分 = "awaiting_scores"
    待决定 = "awaiting_decision"
    已办结 = "decided"


class ReviewStage(Labelled):
    """Where an application stands, in the plan's order of work (三、工作安排): screened and
    accepted, the city selects the construction units (确定建设单位), the unit sends its plans,
    the panel scores the plans, the chair approves construction (批准建设), the registry certifies.
    """

    待筛查 = "pending"  # submitted, not yet screened
    已受理 = "accepted"  # screened; the city has not yet selected or passed over it
    已确定建设单位 = "selected"  # selected: its plans are sent, then scored by the panel
    未确定为建设单位 = "not_selected"
    不予受理 = "rejected"
    已撤回 = "withdrawn"
    建设中 = "approved"  # 批准建设: three-year construction under way
    未获批准 = "declined"
    已认定 = "certified"  # the registry awarded the title (认定)

    @property
    def decided(self) -> bool:
        """No more screening decision, selection, scores or construction decision can be made."""
        return self not in OPEN_STAGES

    @property
    def label(self) -> str:
        return self.name


OPEN_STAGES: Final = frozenset({ReviewStage.待筛查, ReviewStage.已受理, ReviewStage.已确定建设单位})


# The stage a finding is recorded at; the closed stages have none (nothing more is screened).
FINDING_STAGES: Final[dict[ReviewStage, FindingStage]] = {
    ReviewStage.待筛查: FindingStage.受理前,
    ReviewStage.已受理: FindingStage.受理后,
    ReviewStage.已确定建设单位: FindingStage.受理后,
    ReviewStage.建设中: FindingStage.建设中,
    ReviewStage.已认定: FindingStage.认定后,
}


@dataclass(frozen=True)
class Finding:
    """One 不予受理 finding as the review stream recorded it, open until cleared."""

    finding_id: UUID
    rule: ExclusionRule
    rule_text: str
    stage: FindingStage
    evidence: ExclusionEvidence
    cleared_reason: str | None = None

    @property
    def open(self) -> bool:
        return self.cleared_reason is None


@dataclass(frozen=True)
class ReviewState:
    """What review knows about one application. None (no state) until it is submitted.

    The mappings are never mutated: `evolve` builds new ones, so a state can be kept and compared.
    """

    application_id: UUID
    year: int
    programme: Programme
    submitter: str
    submitted_at: datetime
    form: Form
    withdrawn: bool = False
    accepted: bool = False
    rejected: bool = False
    findings: Mapping[UUID, Finding] = field(default_factory=dict)
    # Data-exchange facts about the screened enterprise, by fact id: a redelivered report is one.
    reported_facts: Mapping[UUID, ComplianceFactReported] = field(default_factory=dict)
    # One score per reviewer, by reviewer id, in the order they were given.
    scores: Mapping[str, ReviewScored] = field(default_factory=dict)
    selection: ConstructionUnitSelected | ConstructionUnitNotSelected | None = None
    # The unit's plans as intake recorded them (the latest version of each): the three-year plan
    # and the annual plans by year. The panel scores these.
    three_year_plan: ThreeYearPlan | None = None
    annual_plans: Mapping[int, AnnualPlan] = field(default_factory=dict)
    decision: ConstructionApproved | ConstructionDeclined | None = None
    unit_id: UUID | None = None  # the registry's unit, once construction is registered
    certified: bool = False

    @property
    def submitted_on(self) -> date:
        """The Beijing calendar date of submission: the reference date of every screening rule."""
        return self.submitted_at.astimezone(CHINA_TIME).date()

    @property
    def screened_credit_code(self) -> str | None:
        """The credit code of the enterprise screened against E1–E7, or None when this
        application is not screened automatically."""
        return screened_credit_code(self.programme, self.form)

    @property
    def screened(self) -> bool:
        return self.screened_credit_code is not None

    @property
    def declarations(self) -> tuple[DeclaredFact, ...]:
        return tuple(self.form.declarations)

    @property
    def unit_name(self) -> str:
        return unit_of(self.form)[0]

    @property
    def unit_credit_code(self) -> str:
        return unit_of(self.form)[1]

    @property
    def selected(self) -> bool:
        """Selected as a construction unit. Streams recorded before selection was a step of its
        own have scores after acceptance and no selection: the panel scoring it is read as the
        city having selected it (interpreted on replay, nothing is rewritten), so they replay to
        the same stages and figures as they did live."""
        if isinstance(self.selection, ConstructionUnitNotSelected):
            return False
        return self.selection is not None or bool(self.scores)

    @property
    def first_annual_plan(self) -> AnnualPlan | None:
        """The annual plan for the three-year plan's first year, the one scored with it."""
        if self.three_year_plan is None:
            return None
        return self.annual_plans.get(self.three_year_plan.start_year)

    @property
    def plans_complete(self) -> bool:
        return self.three_year_plan is not None and self.first_annual_plan is not None

    @property
    def stage(self) -> ReviewStage:
        # A decision outranks a withdrawal that raced it: intake refuses to withdraw once review
        # has started, so a withdrawal recorded after a decision never took effect in intake.
        if isinstance(self.decision, ConstructionApproved):
            return ReviewStage.已认定 if self.certified else ReviewStage.建设中
        if isinstance(self.decision, ConstructionDeclined):
            return ReviewStage.未获批准
        if self.rejected:
            return ReviewStage.不予受理
        if self.withdrawn:
            return ReviewStage.已撤回
        if isinstance(self.selection, ConstructionUnitNotSelected):
            return ReviewStage.未确定为建设单位
        if self.accepted and self.selected:
            return ReviewStage.已确定建设单位
        if self.accepted:
            return ReviewStage.已受理
        return ReviewStage.待筛查

    @property
    def finding_stage(self) -> FindingStage | None:
        """The stage a finding made now is recorded at; None once the application is closed."""
        return FINDING_STAGES.get(self.stage)

    @property
    def open_findings(self) -> tuple[Finding, ...]:
        return tuple(finding for finding in self.findings.values() if finding.open)


def screened_credit_code(programme: Programme, form: Form) -> str | None:
    """Whose facts are screened: a 幸福企业 is always an enterprise (its undertaking unit); a
    服务职工基地 (undertaking unit) or 公益伙伴 (the partner itself) only when the form says the
    unit is an enterprise. A 服务职工综合体 is built by a union federation, which E1–E7 do not
    fit; reviewers judge it on C1–C5 instead."""
    if programme is Programme.幸福企业 and isinstance(form, PilotForm):
        return form.undertaking_unit.credit_code
    if isinstance(form, ServiceBaseForm) and form.applicant_is_enterprise:
        return form.undertaking_unit.credit_code
    if isinstance(form, WelfarePartnerForm) and form.applicant_is_enterprise:
        return form.credit_code
    return None


def unit_of(form: Form) -> tuple[str, str]:
    """(name, credit code) of the unit that would build: the pilot's undertaking unit, the base
    itself (by its name, with its undertaking unit's code: annex 2 names bases, not operators),
    or the partner."""
    if isinstance(form, PilotForm):
        return form.undertaking_unit.name, form.undertaking_unit.credit_code
    if isinstance(form, ServiceBaseForm):
        return form.name, form.undertaking_unit.credit_code
    return form.name, form.credit_code


def evolve(
    state: ReviewState | None, event: DomainEvent, *, at: datetime | None = None
) -> ReviewState | None:
    """Fold one event into the state.

    `at` is the envelope's `occurred_at` and is required for ApplicationSubmitted: the event
    itself carries no date, and every screening rule counts from the day of submission.
    """
    if isinstance(event, ApplicationSubmitted):
        if state is not None:
            raise ValueError(f"application {event.application_id} submitted twice")
        if at is None or at.tzinfo is None:
            raise ValueError("ApplicationSubmitted needs the time-zone aware time it occurred at")
        return ReviewState(
            application_id=event.application_id,
            year=event.year,
            programme=event.programme,
            submitter=event.submitter,
            submitted_at=at,
            form=event.form,
        )
    if state is None:
        if isinstance(
            event,
            ComplianceFactReported
            | ComplianceFactCorrected
            | ComplianceFactWithdrawn
            | UnitRegistered
            | UnitCertified,
        ):
            return None  # about enterprises or units in general, not this (unknown) application
        raise ValueError(f"{event.type} before the application was submitted")
    return _evolve(state, event)


def _evolve(state: ReviewState, event: DomainEvent) -> ReviewState:
    if isinstance(event, ComplianceFactReported):
        if event.credit_code != state.screened_credit_code or event.fact_id in state.reported_facts:
            return state
        return replace(state, reported_facts={**state.reported_facts, event.fact_id: event})
    if isinstance(event, ComplianceFactCorrected):
        # The department's correction replaces what it reported; the fact keeps its id.
        if event.fact_id not in state.reported_facts:
            return state
        fields = ("unit_name", "kind", "occurred_on", "settled_on", "evidence_ref", "note")
        corrected = state.reported_facts[event.fact_id].model_copy(
            update={name: getattr(event, name) for name in fields}
        )
        return replace(state, reported_facts={**state.reported_facts, event.fact_id: corrected})
    if isinstance(event, ComplianceFactWithdrawn):
        kept = {k: v for k, v in state.reported_facts.items() if k != event.fact_id}
        return replace(state, reported_facts=kept)
    if isinstance(event, UnitRegistered):
        if event.application_id != state.application_id:
            return state
        return replace(state, unit_id=event.unit_id)
    if isinstance(event, UnitCertified):
        # A later revocation does not undo this: a finding after it is still "认定后".
        return replace(state, certified=True) if event.unit_id == state.unit_id else state
    application_id = getattr(event, "application_id", None)
    if application_id is None:
        return state  # an event that concerns no application
    if application_id != state.application_id:
        raise ValueError(f"{event.type} for application {application_id} out of its stream")
    if isinstance(event, ApplicationAmended):
        return replace(state, form=event.form)
    if isinstance(event, ApplicationWithdrawn):
        return replace(state, withdrawn=True)
    if isinstance(event, PlanSubmitted | PlanAmended):
        if isinstance(event.plan, ThreeYearPlan):
            return replace(state, three_year_plan=event.plan)
        return replace(state, annual_plans={**state.annual_plans, event.plan.year: event.plan})
    if isinstance(event, ConstructionUnitSelected | ConstructionUnitNotSelected):
        return replace(state, selection=event)
    if isinstance(event, ExclusionFound):
        finding = Finding(event.finding_id, event.rule, event.rule_text, event.stage, event.evidence)
        return replace(state, findings={**state.findings, event.finding_id: finding})
    if isinstance(event, ExclusionCleared):
        if event.finding_id not in state.findings:
            raise ValueError(f"finding {event.finding_id} cleared but never found")
        cleared = replace(state.findings[event.finding_id], cleared_reason=event.reason)
        return replace(state, findings={**state.findings, event.finding_id: cleared})
    if isinstance(event, ApplicationAccepted):
        return replace(state, accepted=True)
    if isinstance(event, ApplicationRejected):
        return replace(state, rejected=True)
    if isinstance(event, ReviewScored):
        return replace(state, scores={**state.scores, event.reviewer: event})
    if isinstance(event, ConstructionApproved | ConstructionDeclined):
        return replace(state, decision=event)
    return state


def replay(events: Iterable[tuple[DomainEvent, datetime]]) -> ReviewState | None:
    """The state after `events`, each with the time it occurred at (its envelope's occurred_at)."""
    state: ReviewState | None = None
    for event, at in events:
        state = evolve(state, event, at=at)
    return state
