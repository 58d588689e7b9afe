"""确定建设单位 (工作安排 1): from the accepted applications the city selects the construction units,
and tells the others why they were not selected. Selection comes before any plan is sent or
scored: only a selected unit sends its three-year plan and first annual plan, and the panel
scores those plans (scoring.py), after which the chair decides (decisions.py).

Made by the chair for the leading group. Each decision is final, and the chair of the applicant's
own district or group union stands aside (回避) as in every other decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from huigong_events.review import ConstructionUnitNotSelected, ConstructionUnitSelected
from huigong_platform.refusals import Conflict, FieldError, Refusal

from .findings import reason_errors
from .reviewers import Reviewer, ensure_may_act
from .state import ReviewStage, ReviewState

MIN_REASON_LENGTH: Final = 4


def select(state: ReviewState, chair: Reviewer, note: str | None = None) -> ConstructionUnitSelected:
    """确定为建设单位. Refused: not an accepted application awaiting selection (409, a second
    selection included); an open finding (409: a doubt is settled before a unit is chosen); the
    chair of the applicant's own area (403)."""
    _ensure_awaiting(state, chair)
    open_findings = state.open_findings
    if open_findings:
        raise Conflict(
            *(
                FieldError(
                    f"findings.{finding.finding_id}",
                    f"存在未排除的不予受理情形 {finding.rule.value}“{finding.rule_text}”，须先排除",
                    f"open finding {finding.rule.value} must be cleared before the unit is selected",
                )
                for finding in open_findings
            )
        )
    text = (note or "").strip() or None
    if text is not None:
        errors = reason_errors(text, 1, "note")
        if errors:
            raise Refusal(*errors)
    return ConstructionUnitSelected(
        application_id=state.application_id,
        unit_name=state.unit_name,
        credit_code=state.unit_credit_code,
        programme=state.programme,
        submitter=state.submitter,
        note=text,
    )


def pass_over(state: ReviewState, chair: Reviewer, reasons: Sequence[str]) -> ConstructionUnitNotSelected:
    """未确定为建设单位, with at least one reason the applicant will read. Refused as `select`
    is, except that open findings do not stop it; a reason under four characters (422)."""
    _ensure_awaiting(state, chair)
    texts = [reason.strip() for reason in reasons]
    errors = [
        error
        for index, text in enumerate(texts)
        for error in reason_errors(text, MIN_REASON_LENGTH, f"reasons.{index}")
    ]
    if not texts:
        errors.append(FieldError("reasons", "请至少填写一条未确定理由", "at least one reason is required"))
    if errors:
        raise Refusal(*errors)
    return ConstructionUnitNotSelected(application_id=state.application_id, reasons=texts)


def _ensure_awaiting(state: ReviewState, chair: Reviewer) -> None:
    if state.stage is not ReviewStage.已受理:
        raise Conflict(
            FieldError(
                "application_id",
                f"只能从已受理、尚未确定的申报中确定建设单位；该申报当前为“{state.stage.label}”",
                f"construction units are selected from accepted applications not yet selected; the "
                f"application is {state.stage.value}",
            )
        )
    ensure_may_act(state, chair, "领导小组负责人", "chair")
