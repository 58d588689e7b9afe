"""绩效评估、分级评定 over HTTP: the city's scheme for a year, a base's or partner's evaluations
with their figures and sources, 整改 and exit, and the union's statement. Writes are commands of
the registry's command path (handlers.py; the rules are domain/grading.py's); reads fold the
streams from the event store, so what they show is what a replay shows."""

from __future__ import annotations

import uuid
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import Response

from huigong_events.envelope import RecordedEvent
from huigong_events.forms import Year
from huigong_events.grading import (
    EvaluationSchemeSet,
    ExitProposalConfirmed,
    ExitProposalDismissed,
    ExitProposed,
    GradingStatementFiled,
    RectificationCompleted,
    RectificationOrdered,
    ResourceGraded,
)
from huigong_events.upcasting import decode
from huigong_platform.application import from_request
from huigong_platform.eventstore import row_to_event
from huigong_platform.principals import ROLE_NAMES, Principal, Role
from huigong_platform.refusals import FieldError, NotFound
from huigong_platform.service import runtime_of
from huigong_platform.web import Caller, IdempotencyKey, OptionalKey, run

from ...commands import (
    CompleteRectification,
    ConfirmExit,
    DecisionRequest,
    DismissExit,
    EvaluateResource,
    EvaluationRequest,
    FileGradingStatement,
    GradingStatementRequest,
    ProposeExit,
    RectificationCompletionRequest,
    SchemeRequest,
    SetEvaluationScheme,
)
from ...domain import certification, grading, partners

router = APIRouter(tags=["绩效评估与分级评定"])

STEP_LABELS: Final[dict[str, str]] = {
    "ResourceGraded": "年度绩效评估评定等级",
    "RectificationOrdered": "责令整改",
    "RectificationCompleted": "确认整改完成",
    "ExitProposed": "提请退出",
    "ExitProposalConfirmed": "决定退出",
    "ExitProposalDismissed": "不予退出",
    "GradingStatementFiled": "单位工会提交说明",
}


async def _records(request: Request, aggregate: str, aggregate_id: str) -> list[RecordedEvent]:
    rows = await runtime_of(request).pool.fetch(
        "SELECT * FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY aggregate_version",
        aggregate,
        aggregate_id,
    )
    return [row_to_event(row) for row in rows]


def scheme_view(scheme: grading.Scheme) -> dict[str, Any]:
    return {
        "year": scheme.year,
        "version": scheme.version,
        "default": scheme.version == 0,
        "weights": scheme.weights.model_dump(mode="json"),
        "bands": [band.model_dump(mode="json") for band in scheme.bands],
        "scale_targets": scheme.scale_targets.model_dump(mode="json"),
        "rectification_days": scheme.rectification_days,
    }


@router.put(
    "/evaluation-schemes/{year}",
    summary="确定某一年度的评估办法（市总工会）",
    description="权重、等级划分、服务规模满分值和整改期限。只能确定当年或以后年度的办法；"
    "该年度已有评定结果后不再调整（不溯及既往）。",
)
async def set_scheme(
    year: Year, body: SchemeRequest, request: Request, caller: Caller, key: OptionalKey = None
) -> Response:
    return await run(request, from_request(SetEvaluationScheme, body, year=year), caller, key)


@router.get(
    "/evaluation-schemes/{year}",
    summary="某一年度的评估办法及其各版本",
    description="未确定的年度按默认办法（版本 0）评估。",
)
async def read_scheme(year: Year, request: Request) -> dict[str, Any]:
    records = await _records(request, grading.SCHEME_AGGREGATE, grading.scheme_id(year))
    events = [decode(r) for r in records]
    history = [
        {
            "version": n,
            "set_on": e.set_on.isoformat(),
            "reason": e.reason,
            "actor": r.actor,
            "recorded_at": r.recorded_at.isoformat(),
        }
        for n, (r, e) in enumerate(zip(records, events, strict=True), start=1)
        if isinstance(e, EvaluationSchemeSet)
    ]
    return {**scheme_view(grading.fold_scheme(year, events)), "history": history}


def _step(record: RecordedEvent, caller: Principal) -> dict[str, Any]:
    role = record.actor.split(":", 1)[0]
    try:
        role_label = ROLE_NAMES[Role(role)]
    except ValueError:
        role_label = "系统"
    event = decode(record)
    text: str | None = None
    if isinstance(event, ExitProposed | ExitProposalConfirmed | ExitProposalDismissed):
        text = event.reason
    elif isinstance(event, RectificationCompleted):
        text = event.evidence
    elif isinstance(event, GradingStatementFiled):
        text = event.statement
    return {
        "type": record.type,
        "label": STEP_LABELS.get(record.type, record.type),
        "at": record.recorded_at.isoformat(),
        # Who acted is for the registry's and the city's people; a union sees the role only.
        "actor": None if caller.role in (Role.DISTRICT, Role.GROUP) else record.actor,
        "actor_role_label": role_label,
        "text": text,
        "event_id": str(record.id),
    }


def grade_view(event: ResourceGraded, record: RecordedEvent) -> dict[str, Any]:
    return {
        **event.to_data(),
        "grade_label": event.grade.label,
        "event_id": str(record.id),
        "recorded_at": record.recorded_at.isoformat(),
        "actor": record.actor,
    }


@router.get(
    "/grading/{subject_id}",
    summary="一个服务职工基地或公益伙伴的评估、等级、整改和退出",
    description="每年的评定：四个方面的得分、数字及其来源事件，所用权重和评估办法版本；"
    "当前状态（试运行、正常、整改中、拟退出、已退出）；每一步的日期和角色。",
)
async def read_grading(subject_id: uuid.UUID, request: Request, caller: Caller) -> dict[str, Any]:
    subject: grading.Subject | None = None
    for aggregate, subject_of in (
        (certification.AGGREGATE, grading.subject_of_unit),
        (partners.AGGREGATE, grading.subject_of_partner),
    ):
        own = await _records(request, aggregate, str(subject_id))
        if own:
            subject = subject_of([decode(r) for r in own])
            break
    if subject is None:
        raise NotFound(
            FieldError(
                "subject_id", "没有该服务职工基地或公益伙伴", "no such service base or welfare partner"
            )
        )
    records = await _records(request, grading.AGGREGATE, str(subject_id))
    events = [decode(r) for r in records]
    state = grading.fold(events)
    status = state.status(subject)
    rectification = state.rectification
    return {
        "subject_id": str(subject_id),
        "kind": subject.kind.value,
        "kind_label": subject.kind.label,
        "name": subject.name,
        "area": subject.area,
        "registered_on": subject.registered_on.isoformat(),
        "status": status.value,
        "status_label": status.label,
        "current_grade": _current(events),
        "grades": [
            grade_view(e, r) for r, e in zip(records, events, strict=True) if isinstance(e, ResourceGraded)
        ],
        "rectification": None
        if rectification is None
        else {
            "year": rectification.year,
            "ordered_on": rectification.ordered_on.isoformat(),
            "deadline": rectification.deadline.isoformat(),
        },
        "exit_proposal": None if state.proposal is None else state.proposal.to_data(),
        "rectifications": [e.to_data() for e in events if isinstance(e, RectificationOrdered)],
        "steps": [_step(r, caller) for r in records],
    }


def _current(events: list[Any]) -> dict[str, Any] | None:
    graded = [e for e in events if isinstance(e, ResourceGraded)]
    if not graded:
        return None
    latest = max(graded, key=lambda e: e.year)
    return {"year": latest.year, "grade": latest.grade.value, "grade_label": latest.grade.label}


@router.post(
    "/grading/{subject_id}/evaluations",
    status_code=201,
    summary="年度绩效评估：计算、录入社会效应并评定等级",
    description="服务规模、服务效率、服务质量由平台已有事件（服务事项、评价、服务项目、设施）截至评估日期计算，"
    "附来源事件；社会效应由市总工会工作人员依佐证录入。每年一次；评定为 D 责令整改，连续两年 D "
    "或整改逾期未完成提请退出。",
)
async def evaluate(
    subject_id: uuid.UUID, body: EvaluationRequest, request: Request, caller: Caller, key: IdempotencyKey
) -> Response:
    return await run(request, from_request(EvaluateResource, body, subject_id=subject_id), caller, key)


@router.post(
    "/grading/{subject_id}/rectification/completion", status_code=201, summary="确认整改完成（附佐证）"
)
async def complete_rectification(
    subject_id: uuid.UUID,
    body: RectificationCompletionRequest,
    request: Request,
    caller: Caller,
    key: IdempotencyKey,
) -> Response:
    return await run(request, from_request(CompleteRectification, body, subject_id=subject_id), caller, key)


@router.post(
    "/grading/{subject_id}/exit-proposal",
    status_code=201,
    summary="整改逾期未完成，提请退出",
    description="整改期限届满而整改未完成时可提请；期限未满或没有进行中的整改答 409。",
)
async def propose_exit(
    subject_id: uuid.UUID, request: Request, caller: Caller, key: IdempotencyKey
) -> Response:
    return await run(request, ProposeExit(subject_id=subject_id), caller, key)


@router.post(
    "/grading/{subject_id}/exit-proposal/confirmation",
    status_code=201,
    summary="决定退出（登记人员，说明理由）",
    description="服务职工基地或公益伙伴随即退出（UnitExited 或 PartnerExited）。",
)
async def confirm_exit(
    subject_id: uuid.UUID, body: DecisionRequest, request: Request, caller: Caller, key: IdempotencyKey
) -> Response:
    return await run(request, from_request(ConfirmExit, body, subject_id=subject_id), caller, key)


@router.post(
    "/grading/{subject_id}/exit-proposal/dismissal",
    status_code=201,
    summary="不予退出（登记人员，说明理由）",
)
async def dismiss_exit(
    subject_id: uuid.UUID, body: DecisionRequest, request: Request, caller: Caller, key: IdempotencyKey
) -> Response:
    return await run(request, from_request(DismissExit, body, subject_id=subject_id), caller, key)


@router.post(
    "/grading/{subject_id}/statement",
    status_code=201,
    summary="单位工会就评定结果提交说明",
    description="该基地或伙伴所属的区市或集团工会，每个评定年度一次；其他单位答 404。",
)
async def file_statement(
    subject_id: uuid.UUID,
    body: GradingStatementRequest,
    request: Request,
    caller: Caller,
    key: IdempotencyKey,
) -> Response:
    return await run(request, from_request(FileGradingStatement, body, subject_id=subject_id), caller, key)
