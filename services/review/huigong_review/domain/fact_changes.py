"""A reported fact corrected or withdrawn by its department, as review answers it: the findings
that rest on the fact are judged again. Pure.

- Withdrawn: every open finding resting on the fact is cleared (ExclusionCleared), the
  department's reason quoted. The fact no longer counts for any screening after.
- Corrected: the fact as corrected is judged by the same rule as a new report
  (screening.judge, against the application's submission date). An open finding resting on it
  whose rule no longer applies (not a hit any more, e.g. the arrears were settled before
  submission, or the type now maps to another rule) is cleared; a finding the corrected fact
  raises under another rule is found as any later fact's would be (screen_later_fact).
- Clearing does not reopen a rejected or declined application (findings.clear_finding says why);
  the registry ends a suspended title's case when its findings are cleared.
"""

from __future__ import annotations

from uuid import UUID

from huigong_events.base import DomainEvent
from huigong_events.fact_corrections import ComplianceFactCorrected, ComplianceFactWithdrawn
from huigong_events.review import ExclusionCleared

from .screening import Fact, judge, screen_later_fact
from .state import ReviewState

MAX_REASON = 500


def _cleared(state: ReviewState, finding_id: UUID, reason: str) -> ExclusionCleared:
    return ExclusionCleared(
        application_id=state.application_id, finding_id=finding_id, reason=reason[:MAX_REASON]
    )


def reconsider(
    state: ReviewState, change: ComplianceFactCorrected | ComplianceFactWithdrawn
) -> list[DomainEvent]:
    """`state` already holds the change (the fact corrected, or gone)."""
    resting = [f for f in state.open_findings if f.evidence.fact_id == change.fact_id]
    if isinstance(change, ComplianceFactWithdrawn):
        return [_cleared(state, f.finding_id, f"报送部门撤回该事实：{change.reason}") for f in resting]
    fact = state.reported_facts.get(change.fact_id)
    if fact is None:
        return []  # a fact review never held for this enterprise
    corrected = Fact.reported(fact)
    hits = judge(corrected, state.submitted_on).hit
    events: list[DomainEvent] = [
        _cleared(state, f.finding_id, f"报送部门更正该事实，不再构成该情形：{change.reason}")
        for f in resting
        if not hits or f.rule is not corrected.rule
    ]
    events.extend(screen_later_fact(state, fact))
    return events
