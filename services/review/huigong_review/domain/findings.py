"""Reviewers' findings on the service-centre rules C1–C5 (工作安排 5: 未聚集工会主责主业,
未以职工需求为导向, 建设项目商业行为过多, 社会效益不高, 项目内容不符合工会基本职责要求、违反相关法律法规),
and clearing any finding, a reviewer's or one that screening raised.

The enterprise rules E1–E7 are facts, declared or reported, and only screening records them: a
reviewer who learns of such a fact has it reported through the data exchange, so the evidence is
a department's document rather than an opinion.

A reviewer may judge C1–C5 on any accepted application, not only a 服务职工综合体: the plan states
them for service centres, but a base's or a partner's project can be as commercial or as far from
the union's duties as a centre's.
"""

from __future__ import annotations

from typing import Final
from uuid import UUID, uuid4

from huigong_events.reference import ExclusionRule
from huigong_events.review import (
    EvidenceSource,
    ExclusionCleared,
    ExclusionEvidence,
    ExclusionFound,
    FindingStage,
)
from huigong_platform.refusals import Conflict, FieldError, NotFound, Refusal

from .reviewers import Reviewer, ensure_may_act
from .state import ReviewStage, ReviewState

REVIEWER_RULES: Final = frozenset(rule for rule in ExclusionRule if not rule.is_enterprise_fact)
# A finding excludes an application, so its reason must say something a district can answer;
# ten characters is about one short Chinese sentence.
MIN_FINDING_REASON_LENGTH: Final = 10
# forms.ShortText, which the events' reasons must satisfy.
MAX_REASON_LENGTH: Final = 500


def record_finding(
    state: ReviewState,
    reviewer: Reviewer,
    rule: ExclusionRule,
    reason: str,
    *,
    finding_id: UUID | None = None,
) -> ExclusionFound:
    """A reviewer finds that rule C1–C5 applies to an accepted, undecided application.

    `finding_id` lets the API derive the id from an idempotency key; a fresh one otherwise.
    Refused: the application not under review (409), the reviewer from the applicant's own
    district or group union (403), an enterprise rule or a reason under ten characters (422), an
    open finding of the same rule or a finding id already used (409).
    """
    if state.stage is not ReviewStage.已受理:
        raise Conflict(
            FieldError(
                "application_id",
                "申报不在评审阶段（未受理或已作出决定），不能认定不予受理情形",
                f"the application is {state.stage.value}, not under review; no finding can be recorded",
            )
        )
    ensure_may_act(state, reviewer, "评审专家", "reviewer")
    errors: list[FieldError] = []
    if rule not in REVIEWER_RULES:
        errors.append(
            FieldError(
                "rule",
                f"评审专家只能认定服务中心类情形 C1–C5；{rule.value}“{rule.text}”须由申报声明或部门数据交换确认",
                f"reviewers record the service-centre rules C1–C5 only; {rule.value} is an enterprise "
                "fact, declared in the form or reported through the data exchange",
            )
        )
    errors += reason_errors(reason, MIN_FINDING_REASON_LENGTH)
    if errors:
        raise Refusal(*errors)
    if any(finding.rule is rule for finding in state.open_findings):
        raise Conflict(
            FieldError(
                "rule",
                f"该申报已有未排除的“{rule.text}”发现，无需重复认定",
                f"the application already has an open {rule.value} finding",
            )
        )
    new_id = finding_id if finding_id is not None else uuid4()
    if new_id in state.findings:
        raise Conflict(FieldError("finding_id", "该发现编号已使用", "this finding id has already been used"))
    return ExclusionFound(
        finding_id=new_id,
        application_id=state.application_id,
        credit_code=state.unit_credit_code,
        rule=rule,
        rule_text=rule.text,
        stage=FindingStage.受理后,  # the only stage a reviewer records at (checked above)
        evidence=ExclusionEvidence(source=EvidenceSource.评审认定, reason=reason.strip()),
    )


def clear_finding(state: ReviewState, finding_id: UUID, reason: str) -> ExclusionCleared:
    """Clear an open finding (it proved unfounded, or was remedied) with a written reason.

    Allowed at any stage, because the record should say a finding was wrong even after the
    application was closed; clearing does not reopen a rejected or declined application.
    Refused: an unknown finding (404), one already cleared (409), no reason (422).
    """
    finding = state.findings.get(finding_id)
    if finding is None:
        raise NotFound(
            FieldError("finding_id", "该申报没有这一发现", "the application has no finding with this id")
        )
    if not finding.open:
        raise Conflict(FieldError("finding_id", "该发现已排除", "the finding has already been cleared"))
    errors = reason_errors(reason, 1)
    if errors:
        raise Refusal(*errors)
    return ExclusionCleared(application_id=state.application_id, finding_id=finding_id, reason=reason.strip())


def reason_errors(reason: str, min_length: int, field: str = "reason") -> list[FieldError]:
    text = reason.strip()
    if len(text) < min_length:
        if min_length <= 1:
            return [FieldError(field, "请填写理由", "a reason is required")]
        return [
            FieldError(
                field,
                f"理由至少 {min_length} 个字符，请写明依据",
                f"the reason needs at least {min_length} characters",
            )
        ]
    if len(text) > MAX_REASON_LENGTH:
        return [
            FieldError(
                field,
                f"理由不能超过 {MAX_REASON_LENGTH} 个字符",
                f"the reason must not exceed {MAX_REASON_LENGTH} characters",
            )
        ]
    return []
