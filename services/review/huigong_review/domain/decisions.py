"""The chair's decision (工作安排 4 认定: 批准建设 on "高标准、少而精、宁缺毋滥"): approve a three-year
build, or decline. Either needs the quorum of scores, is made only on an accepted application,
and is final.

An open 不予受理 finding blocks approval: whatever was found after acceptance (a reported fact, a
fact in an amended form, a reviewer's C1–C5 judgement) must be cleared with a reason first, or
the application declined. "宁缺毋滥" means the doubt goes against building, never silently past it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Final

from huigong_events.review import ConstructionApproved, ConstructionDeclined
from huigong_platform.refusals import Conflict, FieldError, Refusal

from .dates import period_end
from .findings import reason_errors
from .reviewers import Reviewer, ensure_may_act
from .scoring import DEFAULT_POLICY, ScoringPolicy, score_average
from .state import ReviewStage, ReviewState

CONSTRUCTION_YEARS: Final = 3  # 三年规划、分年实施


def approve(
    state: ReviewState, chair: Reviewer, period_start: date, policy: ScoringPolicy = DEFAULT_POLICY
) -> ConstructionApproved:
    """批准建设 for three years from `period_start` (period_end is the day before the third
    anniversary), with the average of the weighted totals.

    Refused: not an accepted, undecided application (409, a second decision included); the chair
    from the applicant's own district or group union (403); fewer scores than the quorum (409);
    an open finding (409, each listed); a period starting before the submission (422).
    """
    _ensure_decidable(state, chair, policy)
    open_findings = state.open_findings
    if open_findings:
        raise Conflict(
            *(
                FieldError(
                    f"findings.{finding.finding_id}",
                    f"存在未排除的不予受理情形 {finding.rule.value}“{finding.rule_text}”，须先排除或不予批准",
                    f"open finding {finding.rule.value} must be cleared first, or the application declined",
                )
                for finding in open_findings
            )
        )
    if period_start < state.submitted_on:
        raise Refusal(
            FieldError(
                "period_start",
                f"建设期开始日期不能早于申报日期 {state.submitted_on.isoformat()}",
                f"the construction period cannot start before the submission on {state.submitted_on.isoformat()}",
            )
        )
    average = score_average(state)
    assert average is not None  # the quorum is at least one score
    return ConstructionApproved(
        application_id=state.application_id,
        unit_name=state.unit_name,
        credit_code=state.unit_credit_code,
        programme=state.programme,
        submitter=state.submitter,
        period_start=period_start,
        period_end=period_end(period_start, CONSTRUCTION_YEARS),
        score_average=average,
    )


def decline(
    state: ReviewState, chair: Reviewer, reasons: Sequence[str], policy: ScoringPolicy = DEFAULT_POLICY
) -> ConstructionDeclined:
    """不予批准建设, with at least one reason and the average of the weighted totals.

    Refused as `approve` is, except that open findings do not stop a decline (they are often its
    reason); and every reason must be written (422).
    """
    _ensure_decidable(state, chair, policy)
    texts = [reason.strip() for reason in reasons]
    errors = [
        error for index, text in enumerate(texts) for error in reason_errors(text, 1, f"reasons.{index}")
    ]
    if not texts:
        errors.append(FieldError("reasons", "请至少填写一条未批准理由", "at least one reason is required"))
    if errors:
        raise Refusal(*errors)
    return ConstructionDeclined(
        application_id=state.application_id, reasons=texts, score_average=score_average(state)
    )


def _ensure_decidable(state: ReviewState, chair: Reviewer, policy: ScoringPolicy) -> None:
    if state.decision is not None:
        raise Conflict(
            FieldError(
                "application_id",
                "已对该申报作出建设决定，决定不可更改",
                "a construction decision has already been made; it is final",
            )
        )
    if state.stage is not ReviewStage.已受理:
        raise Conflict(
            FieldError(
                "application_id",
                "只能对已受理的申报作出建设决定",
                f"the application is {state.stage.value}; only an accepted application can be decided",
            )
        )
    ensure_may_act(state, chair, "领导小组负责人", "chair")
    if len(state.scores) < policy.quorum:
        raise Conflict(
            FieldError(
                "scores",
                f"评审打分不足：已有 {len(state.scores)} 名评审专家打分，至少需要 {policy.quorum} 名",
                f"{len(state.scores)} reviewers have scored; the decision needs {policy.quorum}",
            )
        )
