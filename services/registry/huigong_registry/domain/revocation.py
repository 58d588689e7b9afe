"""Revocation with a person in the loop (撤销审查). Pure: the cases from the unit's events, the
decisions as events or refusals.

A title is never revoked by the system alone any more:
- A finding (review's ExclusionFound) against the application of a certified unit suspends the
  title at once (暂停) and opens a revocation case whose id is the finding's. A further finding
  while the case is open joins it (CertificationSuspended again, same case). A unit under
  construction, revoked or exited is not suspended (the finding stands in review's record).
- The unit's union (the district or group union the unit belongs to) may file one statement
  (申诉) until the case's `statement_due`: the N-th working day after the suspension, N the
  registry's `revocation_statement_days` setting, counted on the platform's working-day calendar
  (workdays.py, the one the 11 centres' service matters use).
- A registrar confirms (撤销: CertificationRevoked, not automatic, its finding_id the case's id)
  or dismisses (不予撤销: CertificationRestored), each with a reason. A confirmation waits for the
  union: it is refused until a statement is filed or the window has passed, so nobody is revoked
  unheard. A dismissal may come at any time.
- A finding cleared in review (its fact withdrawn, or corrected so that it no longer
  disqualifies) leaves the case (RevocationGroundCleared); when none is left the case closes and
  the title is restored (CertificationRestored, ground 事实撤回或更正).
- A suspended title counts as certified until a revocation is confirmed (metrics: the revocation
  counts on the confirmation day). Streams recorded before cases existed hold CertificationRevoked
  with `automatic: true`: read as they were, a revocation on its day, no case.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Final
from uuid import UUID

from huigong_events.base import DomainEvent
from huigong_events.reference import ExclusionRule
from huigong_events.registry import CertificationRevoked
from huigong_events.review import ExclusionCleared, ExclusionFound
from huigong_events.revocation import (
    CertificationRestored,
    CertificationSuspended,
    RestorationGround,
    RevocationGroundCleared,
    RevocationStatementFiled,
)
from huigong_platform.refusals import Conflict, FieldError, NotFound

from . import workdays
from .certification import UnitState, UnitStatus

STATEMENT_DAYS: Final = 5  # the default of the registry's `revocation_statement_days` setting
MAX_TEXT: Final = 500

OUTCOME_LABELS: Final[dict[str | None, str]] = {
    None: "审查中",
    "revoked": "已撤销",
    "dismissed": "不予撤销",
    "grounds_cleared": "依据已排除，称号恢复",
}


@dataclass
class Ground:
    finding_id: UUID
    rule: ExclusionRule
    rule_text: str
    found_on: date
    cleared_on: date | None = None
    cleared_reason: str | None = None

    @property
    def open(self) -> bool:
        return self.cleared_on is None


@dataclass
class Case:
    case_id: UUID
    certificate_no: str
    opened_on: date
    statement_due: date
    grounds: dict[UUID, Ground] = field(default_factory=dict)
    statement: str | None = None
    statement_on: date | None = None
    outcome: str | None = None  # revoked | dismissed | grounds_cleared; None while open
    decided_on: date | None = None
    decision_reason: str | None = None

    @property
    def open(self) -> bool:
        return self.outcome is None

    @property
    def open_grounds(self) -> list[Ground]:
        return [g for g in self.grounds.values() if g.open]


@dataclass
class Cases:
    cases: list[Case] = field(default_factory=list)

    @property
    def current(self) -> Case | None:
        """The open case, if any (a unit has at most one at a time)."""
        return next((c for c in self.cases if c.open), None)

    @property
    def findings(self) -> set[UUID]:
        return {f for c in self.cases for f in c.grounds}

    def of(self, case_id: UUID) -> Case | None:
        return next((c for c in self.cases if c.case_id == case_id), None)


def evolve(cases: Cases, event: DomainEvent) -> Cases:
    match event:
        case CertificationSuspended():
            case = cases.of(event.case_id)
            if case is None:
                case = Case(event.case_id, event.certificate_no, event.suspended_on, event.statement_due)
                cases.cases.append(case)
            case.grounds[event.finding_id] = Ground(
                event.finding_id, event.rule, event.rule_text, event.suspended_on
            )
        case RevocationStatementFiled():
            if (case := cases.of(event.case_id)) is not None:
                case.statement, case.statement_on = event.statement, event.filed_on
        case RevocationGroundCleared():
            if (case := cases.of(event.case_id)) is not None and event.finding_id in case.grounds:
                ground = case.grounds[event.finding_id]
                ground.cleared_on, ground.cleared_reason = event.cleared_on, event.reason
        case CertificationRestored():
            if (case := cases.of(event.case_id)) is not None:
                case.outcome, case.decided_on, case.decision_reason = (
                    event.ground.value,
                    event.restored_on,
                    event.reason,
                )
        case CertificationRevoked() if event.finding_id is not None:
            if (case := cases.of(event.finding_id)) is not None and case.open:
                case.outcome, case.decided_on, case.decision_reason = (
                    "revoked",
                    event.revoked_on,
                    event.reason,
                )
    return cases


def fold(events: Iterable[DomainEvent]) -> Cases:
    cases = Cases()
    for event in events:
        evolve(cases, event)
    return cases


# --- from review's decisions -------------------------------------------------------------------


def decide_on_finding(
    unit: UnitState | None,
    cases: Cases,
    finding: ExclusionFound,
    on: date,
    statement_days: int,
    published: workdays.Published = workdays.NONE_PUBLISHED,
) -> list[DomainEvent]:
    """A finding against a certified unit's application suspends its title and opens a case (or
    joins the open one), once per finding."""
    if unit is None or unit.certificate_no is None:
        return []
    if finding.finding_id in cases.findings or finding.finding_id in unit.revoked_by_findings:
        return []
    current = cases.current
    if unit.status is UnitStatus.certified and current is None:
        case_id, due = finding.finding_id, workdays.deadline(on, statement_days, published).day
    elif unit.status is UnitStatus.suspended and current is not None:
        case_id, due = current.case_id, current.statement_due
    else:
        return []
    return [
        CertificationSuspended(
            unit_id=unit.unit_id,
            case_id=case_id,
            certificate_no=unit.certificate_no,
            finding_id=finding.finding_id,
            rule=finding.rule,
            rule_text=finding.rule_text,
            suspended_on=on,
            statement_due=due,
        )
    ]


def decide_on_cleared(
    unit: UnitState | None, cases: Cases, cleared: ExclusionCleared, on: date
) -> list[DomainEvent]:
    """A finding of the open case cleared in review leaves it; the last one restores the title."""
    current = cases.current
    if unit is None or current is None or unit.certificate_no is None:
        return []
    ground = current.grounds.get(cleared.finding_id)
    if ground is None or not ground.open:
        return []
    events: list[DomainEvent] = [
        RevocationGroundCleared(
            unit_id=unit.unit_id,
            case_id=current.case_id,
            finding_id=cleared.finding_id,
            reason=cleared.reason[:MAX_TEXT],
            cleared_on=on,
        )
    ]
    if all(g.finding_id == cleared.finding_id for g in current.open_grounds):
        events.append(
            CertificationRestored(
                unit_id=unit.unit_id,
                case_id=current.case_id,
                certificate_no=unit.certificate_no,
                ground=RestorationGround.事实撤回或更正,
                reason=cleared.reason[:MAX_TEXT],
                restored_on=on,
            )
        )
    return events


# --- the union's statement and the registrar's decision ------------------------------------------


def _open_case(unit: UnitState | None, cases: Cases) -> tuple[UnitState, Case]:
    current = cases.current
    if unit is None or current is None:
        raise NotFound(
            FieldError("unit_id", "该单位没有进行中的撤销审查", "the unit has no open revocation case")
        )
    return unit, current


def decide_statement(unit: UnitState | None, cases: Cases, statement: str, on: date) -> list[DomainEvent]:
    found, case = _open_case(unit, cases)
    if case.statement is not None:
        raise Conflict(
            FieldError(
                "statement",
                f"已于 {case.statement_on} 提交申诉，不能重复提交",
                f"a statement was filed on {case.statement_on}; one per case",
            )
        )
    if on > case.statement_due:
        raise Conflict(
            FieldError(
                "statement",
                f"申诉期已于 {case.statement_due.isoformat()} 届满",
                f"the time for a statement ended on {case.statement_due.isoformat()}",
            )
        )
    return [
        RevocationStatementFiled(
            unit_id=found.unit_id, case_id=case.case_id, statement=statement, filed_on=on
        )
    ]


def decide_confirm(unit: UnitState | None, cases: Cases, reason: str, on: date) -> list[DomainEvent]:
    found, case = _open_case(unit, cases)
    if case.statement is None and on <= case.statement_due:
        raise Conflict(
            FieldError(
                "statement_due",
                f"单位工会可在 {case.statement_due.isoformat()} 前申诉；申诉提交或期限届满后方可决定撤销",
                f"the union may file a statement until {case.statement_due.isoformat()}; "
                "revocation is decided after its statement or once that day has passed",
            )
        )
    return [
        CertificationRevoked(
            unit_id=found.unit_id,
            certificate_no=case.certificate_no,
            revoked_on=on,
            reason=reason,
            finding_id=case.case_id,
            automatic=False,
        )
    ]


def decide_dismiss(unit: UnitState | None, cases: Cases, reason: str, on: date) -> list[DomainEvent]:
    found, case = _open_case(unit, cases)
    return [
        CertificationRestored(
            unit_id=found.unit_id,
            case_id=case.case_id,
            certificate_no=case.certificate_no,
            ground=RestorationGround.不予撤销,
            reason=reason,
            restored_on=on,
        )
    ]
