"""A fact its department withdraws or corrects: the findings resting on it are judged again."""

from __future__ import annotations

from datetime import date

from huigong_events.fact_corrections import ComplianceFactCorrected, ComplianceFactWithdrawn
from huigong_events.reference import ComplianceFactKind
from huigong_events.review import ExclusionCleared, ExclusionFound
from huigong_review.domain.fact_changes import reconsider
from huigong_review.domain.screening import screen_later_fact
from huigong_review.domain.state import ReviewState

from .builders import accepted, fold, reported

WAGES = ComplianceFactKind.拖欠工资


def found_on_a_later_fact() -> tuple[ReviewState, ExclusionFound]:
    state = accepted()
    fact = reported(WAGES, date(2024, 5, 1), reported_on=date(2024, 8, 1))
    state = fold(state, fact)
    (found,) = screen_later_fact(state, fact)
    return fold(state, found), found


def corrected(**changes: object) -> ComplianceFactCorrected:
    fact = reported(WAGES, date(2024, 5, 1), reported_on=date(2024, 8, 1))
    fields = {
        "fact_id": fact.fact_id,
        "credit_code": fact.credit_code,
        "unit_name": fact.unit_name,
        "kind": fact.kind,
        "occurred_on": fact.occurred_on,
        "settled_on": fact.settled_on,
        "evidence_ref": fact.evidence_ref,
        "note": fact.note,
        "reason": "补报结清日期",
        "corrected_on": date(2024, 8, 10),
        **changes,
    }
    return ComplianceFactCorrected.model_validate(fields)


def test_a_withdrawn_fact_clears_its_findings_and_no_longer_counts() -> None:
    state, found = found_on_a_later_fact()
    withdrawn = ComplianceFactWithdrawn(
        fact_id=found.evidence.fact_id,
        credit_code=found.credit_code,
        reason="复议撤销",
        withdrawn_on=date(2024, 9, 1),
    )
    state = fold(state, withdrawn)
    (cleared,) = reconsider(state, withdrawn)
    assert isinstance(cleared, ExclusionCleared) and cleared.finding_id == found.finding_id
    assert "复议撤销" in cleared.reason
    assert found.evidence.fact_id not in state.reported_facts


def test_a_correction_that_no_longer_disqualifies_clears_and_one_that_still_does_keeps() -> None:
    state, found = found_on_a_later_fact()
    # Still unsettled, another reference: the finding stands.
    still = corrected(evidence_ref="青人社监〔2024〕9号（更正）")
    assert reconsider(fold(state, still), still) == []
    # Settled before the application was submitted (20 June 2024): the finding is cleared.
    settled = corrected(settled_on=date(2024, 6, 1))
    after = fold(state, settled)
    (cleared,) = reconsider(after, settled)
    assert isinstance(cleared, ExclusionCleared) and cleared.finding_id == found.finding_id
    assert after.reported_facts[settled.fact_id].settled_on == date(2024, 6, 1)
