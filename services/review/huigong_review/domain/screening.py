"""Automatic screening (自动筛查) against the enterprise 不予受理 rules E1–E7 (工作安排 5).

Who is screened: a 幸福企业 always; a 服务职工基地 or 公益伙伴 when its form says the unit is an
enterprise. The screened enterprise is the one whose credit code the form names (see
`state.screened_credit_code`). A 服务职工综合体 is not screened automatically: its rules C1–C5
are reviewers' judgements (findings.py), so screening accepts it into review at once.

What is screened: the facts declared in the form (`declarations`) and the facts other
departments report through the data exchange (ComplianceFactReported) about the same credit code.
Each fact maps to one rule (`ComplianceFactKind.rule`) and is judged against the day of
submission by `judge`; only hits become findings.

Stages:
- A pending application is screened once: every hit that existed at submission is an
  ExclusionFound (受理前) and ApplicationRejected lists them all; with none, ApplicationAccepted.
  A hit that occurred after submission was no ground when the unit applied: it is recorded after
  the acceptance (受理后), or not at all when the application is rejected anyway.
- After acceptance (an ApplicationAmended that raced intake's own check, or a redelivered
  trigger) screening again emits only findings it has not recorded before, at the current stage,
  and never a second acceptance or a rejection: an open finding blocks approval instead
  (decisions.py), so the chair clears it or declines. Intake refuses amendments once the
  application is accepted, so this is the rare path.
- A rejected, withdrawn or declined application is closed: nothing more is recorded.

Finding ids are uuid5 of (application, rule, fact), so a redelivered trigger or fact yields the
same id and the state, which knows every id it has recorded (cleared ones too), emits nothing
twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Final
from uuid import UUID, uuid5

from huigong_events.base import DomainEvent
from huigong_events.forms import DeclaredFact, ReportingDepartment
from huigong_events.intake import ComplianceFactReported
from huigong_events.reference import ComplianceFactKind, ExclusionRule, Programme
from huigong_events.review import (
    ApplicationAccepted,
    ApplicationRejected,
    EvidenceSource,
    ExclusionEvidence,
    ExclusionFound,
    FindingStage,
    RejectionGround,
)

from .dates import add_years
from .state import FINDING_STAGES, Finding, ReviewStage, ReviewState

# Fixed forever: changing either would give every redelivered fact a new finding id.
FINDING_NAMESPACE: Final = UUID("76e0b99e-3abe-5852-90fd-e30c4cd26576")
DECLARED_FACT_NAMESPACE: Final = UUID("0e3575e0-c47b-5f21-bbeb-639cc3f0872d")

# "三年内发生" (rule E5).
ACCIDENT_LOOKBACK_YEARS: Final = 3


def finding_id(application_id: UUID, rule: ExclusionRule, fact_id: UUID) -> UUID:
    """The id of the finding that `fact` raises against the application: the same every time."""
    return uuid5(FINDING_NAMESPACE, f"{application_id}:{rule.value}:{fact_id}")


def declared_fact_id(application_id: UUID, declaration: DeclaredFact) -> UUID:
    """A declared fact has no id of its own. It is identified by what happened and when (kind and
    date), not by its position in the form or by its settlement, so an amended form that reorders
    the declarations or adds a settlement date refers to the same fact."""
    occurred = declaration.occurred_on.isoformat() if declaration.occurred_on else "unknown"
    return uuid5(DECLARED_FACT_NAMESPACE, f"{application_id}:{declaration.kind.value}:{occurred}")


@dataclass(frozen=True)
class Fact:
    """A compliance fact, declared or reported, in the one shape the rules judge."""

    fact_id: UUID
    kind: ComplianceFactKind
    source: EvidenceSource  # 申报声明 or 数据交换
    occurred_on: date | None
    settled_on: date | None
    reported_by: ReportingDepartment | None = None
    reported_on: date | None = None

    @property
    def rule(self) -> ExclusionRule:
        return self.kind.rule

    @classmethod
    def reported(cls, event: ComplianceFactReported) -> Fact:
        return cls(
            fact_id=event.fact_id,
            kind=event.kind,
            source=EvidenceSource.数据交换,
            occurred_on=event.occurred_on,
            settled_on=event.settled_on,
            reported_by=event.reported_by,
            reported_on=event.reported_on,
        )

    @classmethod
    def declared(cls, application_id: UUID, declaration: DeclaredFact) -> Fact:
        return cls(
            fact_id=declared_fact_id(application_id, declaration),
            kind=declaration.kind,
            source=EvidenceSource.申报声明,
            occurred_on=declaration.occurred_on,
            settled_on=declaration.settled_on,
        )

    def evidence(self) -> ExclusionEvidence:
        # A declared fact's id is ours, not a document anyone can look up, so the evidence names
        # only what the form says; a reported fact names the department's report.
        return ExclusionEvidence(
            source=self.source,
            fact_id=self.fact_id if self.source is EvidenceSource.数据交换 else None,
            fact_kind=self.kind,
            reported_by=self.reported_by,
            reported_on=self.reported_on,
            occurred_on=self.occurred_on,
        )


# --------------------------------------------------------------------------------------------
# The rules
# --------------------------------------------------------------------------------------------


class Outcome(StrEnum):
    """What a rule says about one fact."""

    命中 = "hit"  # a ground for 不予受理 at submission
    提交后发生 = "later"  # happened after submission: a finding at a later stage
    三年以前 = "outside_three_years"  # an accident three years or more before submission
    提交前已结清 = "settled_before_submission"

    @property
    def hit(self) -> bool:
        return self in (Outcome.命中, Outcome.提交后发生)


def accident_outcome(occurred_on: date | None, submitted_on: date) -> Outcome:
    """E5 "三年内发生重大伤亡事故、重大环保责任事故、重大质量事故、食品安全事故和职业病危害事故".

    A hit when `submitted_on - 3 years < occurred_on <= submitted_on`, in calendar years (29 Feb
    counts back to 28 Feb): an accident exactly three years before the day of submission, or
    earlier, is outside the window. An accident after submission is a later fact. Settlement is
    irrelevant: the rule is about an accident having happened, not about a debt. A declared
    accident without a date cannot be shown to lie outside the window, so it is a hit until the
    form gives its date.
    """
    if occurred_on is None:
        return Outcome.命中
    if occurred_on > submitted_on:
        return Outcome.提交后发生
    if occurred_on <= add_years(submitted_on, -ACCIDENT_LOOKBACK_YEARS):
        return Outcome.三年以前
    return Outcome.命中


def arrears_outcome(occurred_on: date | None, settled_on: date | None, submitted_on: date) -> Outcome:
    """E2 拖欠职工工资, E3 未依法缴纳社会保险费, E4 未依法建立工会组织，拖欠工会经费.

    Arrears are a state that ends when paid: a hit unless the fact says they were settled (or the
    union founded and the dues paid) on or before the day of submission. Settled after submission
    is still a hit: the enterprise was in arrears when it applied. Arrears that began after
    submission are a later fact. No time limit: the plan sets none for these rules.
    """
    return _unsettled(occurred_on, settled_on, submitted_on)


def standing_fact_outcome(occurred_on: date | None, settled_on: date | None, submitted_on: date) -> Outcome:
    """E1 不建立劳动合同制度和集体合同制度, E6 因企业原因发生重大群体性劳动争议纠纷,
    E7 企业严重亏损.

    The plan gives these no time window. We judge them like arrears: a hit unless the fact was
    settled (the contract system set up, the dispute resolved, the losses recovered) on or before
    the day of submission. A remedied fact says nothing about the enterprise as it applied; an
    unremedied one, or one remedied only after submission, is what the rule excludes. Facts that
    began after submission are later facts.
    """
    return _unsettled(occurred_on, settled_on, submitted_on)


def _unsettled(occurred_on: date | None, settled_on: date | None, submitted_on: date) -> Outcome:
    if occurred_on is not None and occurred_on > submitted_on:
        return Outcome.提交后发生
    if settled_on is not None and settled_on <= submitted_on:
        return Outcome.提交前已结清
    return Outcome.命中


_ARREARS: Final = frozenset(
    {ExclusionRule.E2_拖欠工资, ExclusionRule.E3_未缴社保, ExclusionRule.E4_无工会或欠经费}
)


def judge(fact: Fact, submitted_on: date) -> Outcome:
    """The outcome of the one rule `fact` maps to."""
    if fact.kind.is_accident:
        return accident_outcome(fact.occurred_on, submitted_on)
    if fact.rule in _ARREARS:
        return arrears_outcome(fact.occurred_on, fact.settled_on, submitted_on)
    return standing_fact_outcome(fact.occurred_on, fact.settled_on, submitted_on)


# --------------------------------------------------------------------------------------------
# Screening an application
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScreeningSubject:
    """What screening needs to know about an application. Build it with `of(state)`."""

    application_id: UUID
    programme: Programme
    submitter: str
    submitted_on: date
    credit_code: str | None  # the screened enterprise; None when not screened automatically
    declarations: tuple[DeclaredFact, ...]
    stage: ReviewStage
    findings: Mapping[UUID, Finding] = field(default_factory=dict)
    reported_facts: tuple[ComplianceFactReported, ...] = ()

    @classmethod
    def of(cls, state: ReviewState) -> ScreeningSubject:
        return cls(
            application_id=state.application_id,
            programme=state.programme,
            submitter=state.submitter,
            submitted_on=state.submitted_on,
            credit_code=state.screened_credit_code,
            declarations=state.declarations,
            stage=state.stage,
            findings=state.findings,
            reported_facts=tuple(state.reported_facts.values()),
        )

    @property
    def screened(self) -> bool:
        return self.credit_code is not None


@dataclass(frozen=True)
class Check:
    """One fact judged by its rule, and the id its finding has (whether or not it is a hit)."""

    fact: Fact
    outcome: Outcome
    finding_id: UUID

    @property
    def rule(self) -> ExclusionRule:
        return self.fact.rule


@dataclass(frozen=True)
class ScreeningResult:
    """Every fact checked, and the events to append, in order: the findings, then the decision
    (if one is made now), then findings of facts that occurred after submission."""

    screened: bool
    checks: tuple[Check, ...]
    findings: tuple[ExclusionFound, ...]
    decision: ApplicationAccepted | ApplicationRejected | None
    later_findings: tuple[ExclusionFound, ...] = ()

    @property
    def events(self) -> list[DomainEvent]:
        decision: list[DomainEvent] = [self.decision] if self.decision is not None else []
        return [*self.findings, *decision, *self.later_findings]

    @property
    def rejected(self) -> bool:
        return isinstance(self.decision, ApplicationRejected)


def facts_of(subject: ScreeningSubject, reported: Iterable[ComplianceFactReported] = ()) -> list[Fact]:
    """The declared facts, then the reported facts about the subject's enterprise (once each,
    by fact id, whether the caller or the state supplied them); none when it is not screened."""
    if subject.credit_code is None:
        return []
    facts = {
        fact.fact_id: fact
        for fact in (Fact.declared(subject.application_id, d) for d in subject.declarations)
    }
    for event in (*subject.reported_facts, *reported):
        if event.credit_code == subject.credit_code:
            facts.setdefault(event.fact_id, Fact.reported(event))
    return list(facts.values())


def screen(subject: ScreeningSubject, reported: Iterable[ComplianceFactReported] = ()) -> ScreeningResult:
    """Screen the application against E1–E7 with its declared facts, the reported facts the state
    knows and `reported` (facts about other credit codes are ignored). See the module docstring
    for what each stage produces."""
    checks = tuple(
        Check(
            fact,
            judge(fact, subject.submitted_on),
            finding_id(subject.application_id, fact.rule, fact.fact_id),
        )
        for fact in facts_of(subject, reported)
    )
    new = [check for check in checks if check.outcome.hit and check.finding_id not in subject.findings]
    if subject.stage is ReviewStage.待筛查:
        return _first_screening(subject, checks, new)
    stage = FINDING_STAGES.get(subject.stage)
    if stage is None:  # closed: rejected, withdrawn or declined
        return ScreeningResult(subject.screened, checks, (), None)
    return ScreeningResult(subject.screened, checks, tuple(_found(subject, c, stage) for c in new), None)


def _first_screening(
    subject: ScreeningSubject, checks: tuple[Check, ...], new: list[Check]
) -> ScreeningResult:
    found = tuple(_found(subject, c, FindingStage.受理前) for c in new if c.outcome is Outcome.命中)
    # A rejection lists every ground, so findings already recorded while pending count as well
    # as the new ones (the reaction appends findings and decision together, so normally none).
    grounds = [
        RejectionGround(finding_id=f.finding_id, rule=f.rule, rule_text=f.rule_text)
        for f in subject.findings.values()
        if f.open and f.stage is FindingStage.受理前
    ] + [RejectionGround(finding_id=f.finding_id, rule=f.rule, rule_text=f.rule_text) for f in found]
    if grounds:
        rejection = ApplicationRejected(application_id=subject.application_id, findings=grounds)
        return ScreeningResult(subject.screened, checks, found, rejection)
    later = tuple(_found(subject, c, FindingStage.受理后) for c in new if c.outcome is Outcome.提交后发生)
    acceptance = ApplicationAccepted(
        application_id=subject.application_id, programme=subject.programme, submitter=subject.submitter
    )
    return ScreeningResult(subject.screened, checks, (), acceptance, later)


def _found(subject: ScreeningSubject, check: Check, stage: FindingStage) -> ExclusionFound:
    return ExclusionFound(
        finding_id=check.finding_id,
        application_id=subject.application_id,
        credit_code=subject.credit_code,
        rule=check.rule,
        rule_text=check.rule.text,
        stage=stage,
        evidence=check.fact.evidence(),
    )


def screen_later_fact(state: ReviewState, fact: ComplianceFactReported) -> list[ExclusionFound]:
    """A fact reported after the application was screened: one ExclusionFound at the current
    stage (受理后, 建设中 or 认定后) when it hits and was not recorded before; otherwise none.

    None as well when the application is not screened, names another enterprise, is still
    pending (its screening will include the fact: pass it to `screen`) or is closed.
    """
    code = state.screened_credit_code
    stage = state.finding_stage
    if code is None or fact.credit_code != code or stage is None or stage is FindingStage.受理前:
        return []
    reported = Fact.reported(fact)
    check = Check(
        reported,
        judge(reported, state.submitted_on),
        finding_id(state.application_id, reported.rule, reported.fact_id),
    )
    if not check.outcome.hit or check.finding_id in state.findings:
        return []
    return [_found(ScreeningSubject.of(state), check, stage)]
