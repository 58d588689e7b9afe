"""A compliance fact after its report: the reporting department corrects it or withdraws it, with
a reason. Pure: the fact's state from its stream, decisions as events or refusals.

Rules:
- Only the department that reported the fact corrects or withdraws it: a key issued to
  `exchange:<department>` for the facts reported as that department, the city federation for the
  facts it relayed (reported with a `city:` key). Anyone else is answered as if there were no such
  fact (404), so a department learns nothing about another's reports.
- A correction names what changes (unit name, fact type, dates, evidence reference, note); the
  rest stays. The credit code, the department and the report's date never change: a fact about
  another enterprise or from another department is another fact. The corrected type must still be
  within the department's competence (facts.COMPETENCE). A correction that changes nothing is
  refused (422), and so is one whose dates are out of order.
- A withdrawn fact is final: it is neither corrected nor withdrawn again (409).
- The fact keeps its id through corrections; its stream is its history.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

from huigong_events.base import DomainEvent
from huigong_events.fact_corrections import ComplianceFactCorrected, ComplianceFactWithdrawn
from huigong_events.forms import ReportingDepartment
from huigong_events.intake import ComplianceFactReported
from huigong_platform.refusals import Conflict, FieldError, Forbidden, NotFound, Refusal

from .facts import COMPETENCE

AGGREGATE: Final = "compliance-fact"
# What a correction may change, as the report names it.
CORRECTABLE: Final = ("unit_name", "kind", "occurred_on", "settled_on", "evidence_ref", "note")


@dataclass
class FactState:
    current: ComplianceFactReported  # the fact as corrected so far
    relayed_by_city: bool  # reported with a city federation key, naming the department it relays
    withdrawn: bool = False
    corrections: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)


def evolve(state: FactState | None, event: DomainEvent, actor: str, occurred_at: str) -> FactState | None:
    step = {"type": event.type, "actor_role": actor.split(":", 1)[0], "at": occurred_at}
    match event:
        case ComplianceFactReported():
            state = FactState(event, relayed_by_city=actor.startswith("city:"))
            state.history.append({**step, "action_label": "报送"})
        case ComplianceFactCorrected() if state is not None:
            changes = {name: getattr(event, name) for name in CORRECTABLE}
            state.current = state.current.model_copy(update=changes)
            state.corrections += 1
            state.history.append(
                {**step, "action_label": "更正", "reason": event.reason, "on": event.corrected_on.isoformat()}
            )
        case ComplianceFactWithdrawn() if state is not None:
            state.withdrawn = True
            state.history.append(
                {**step, "action_label": "撤回", "reason": event.reason, "on": event.withdrawn_on.isoformat()}
            )
    return state


def fold(records: Iterable[tuple[DomainEvent, str, str]]) -> FactState | None:
    """`records`: each event with its actor and business time, in stream order."""
    state: FactState | None = None
    for event, actor, at in records:
        state = evolve(state, event, actor, at)
    return state


def no_such_fact() -> NotFound:
    # Also the answer about another department's fact.
    return NotFound(FieldError("fact_id", "没有该合规事实", "no such compliance fact"))


def owned(state: FactState | None, key_department: ReportingDepartment | None, city: bool) -> FactState:
    """The fact, if the caller reported it: its department's key, or the city for what it relayed."""
    if state is None:
        raise no_such_fact()
    if state.relayed_by_city:
        if city:
            return state
    elif not city and key_department is not None and key_department is state.current.reported_by:
        return state
    raise no_such_fact()


def _still_open(state: FactState) -> None:
    if state.withdrawn:
        raise Conflict(
            FieldError("fact_id", "该合规事实已撤回，不能再更正或撤回", "the fact was withdrawn; it is final")
        )


def decide_correct(
    state: FactState, changes: Mapping[str, Any], reason: str, on: date
) -> ComplianceFactCorrected:
    _still_open(state)
    fact = state.current
    unknown = [name for name in changes if name not in CORRECTABLE]
    if unknown:
        raise Refusal(
            *(FieldError(name, "该项不能更正", "this field cannot be corrected") for name in unknown)
        )
    if all(getattr(fact, name) == value for name, value in changes.items()):
        raise Refusal(
            FieldError("reason", "更正内容与现有记录相同，无需更正", "the correction changes nothing")
        )
    merged = {name: changes.get(name, getattr(fact, name)) for name in CORRECTABLE}
    kind = merged["kind"]
    if kind not in COMPETENCE[fact.reported_by]:
        raise Forbidden(
            FieldError(
                "kind",
                f"{fact.reported_by.label}无权认定该类事实（{kind.value}）",
                f"{fact.reported_by.value} is not competent for {kind.value}",
            )
        )
    errors: list[FieldError] = []
    if merged["settled_on"] is not None and merged["settled_on"] < merged["occurred_on"]:
        errors.append(FieldError("settled_on", "整改/结清日期早于发生日期", "settled_on before occurred_on"))
    if fact.reported_on < merged["occurred_on"]:
        errors.append(
            FieldError("occurred_on", "发生日期晚于报送日期", "occurred_on after the report's date")
        )
    if on < merged["occurred_on"]:
        errors.append(FieldError("occurred_on", "发生日期晚于今天", "occurred_on in the future"))
    if errors:
        raise Refusal(*errors)
    return ComplianceFactCorrected(
        fact_id=fact.fact_id,
        credit_code=fact.credit_code,
        reason=reason,
        corrected_on=on,
        **merged,
    )


def decide_withdraw(state: FactState, reason: str, on: date) -> ComplianceFactWithdrawn:
    _still_open(state)
    return ComplianceFactWithdrawn(
        fact_id=state.current.fact_id, credit_code=state.current.credit_code, reason=reason, withdrawn_on=on
    )


def view(state: FactState) -> dict[str, Any]:
    """The fact as its department reads it back: as corrected, with its history."""
    fact = state.current
    return {
        **fact.model_dump(mode="json"),
        "kind_label": fact.kind.name,
        "reported_by_label": fact.reported_by.label,
        "status": "withdrawn" if state.withdrawn else ("corrected" if state.corrections else "reported"),
        "status_label": "已撤回" if state.withdrawn else ("已更正" if state.corrections else "已报送"),
        "history": state.history,
    }
