"""撤销审查 over HTTP: a revocation case read back, the union's statement, a registrar's
confirmation or dismissal (each a command of the registry's command path:
handlers.py; the rules are domain/revocation.py's)."""

from __future__ import annotations

import uuid
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import Response

from huigong_events.envelope import RecordedEvent
from huigong_events.registry import CertificationRevoked
from huigong_events.revocation import (
    CertificationRestored,
    CertificationSuspended,
    RevocationGroundCleared,
    RevocationStatementFiled,
)
from huigong_events.upcasting import decode
from huigong_platform.application import from_request
from huigong_platform.eventstore import row_to_event
from huigong_platform.principals import ROLE_NAMES, Principal, Role
from huigong_platform.refusals import FieldError, NotFound
from huigong_platform.service import runtime_of
from huigong_platform.web import Caller, IdempotencyKey, run

from ...commands import (
    ConfirmRevocation,
    DecisionRequest,
    DismissRevocation,
    FileStatement,
    StatementRequest,
)
from ...domain import certification, revocation
from ...policy import reads_case

router = APIRouter(tags=["撤销审查"])

STEP_LABELS: Final[dict[str, str]] = {
    "CertificationSuspended": "称号暂停（立案或并入审查）",
    "RevocationStatementFiled": "单位工会提交申诉",
    "RevocationGroundCleared": "撤销依据排除",
    "CertificationRestored": "称号恢复",
    "CertificationRevoked": "决定撤销",
}


def _case_of(event: object) -> uuid.UUID | None:
    if isinstance(event, CertificationRevoked):
        return event.finding_id
    return getattr(event, "case_id", None)


def _step(record: RecordedEvent, caller: Principal) -> dict[str, Any]:
    role = record.actor.split(":", 1)[0]
    # Who decided is for the registry's own people; a union sees the role only.
    union = caller.role in (Role.DISTRICT, Role.GROUP)
    try:
        role_label = ROLE_NAMES[Role(role)]
    except ValueError:
        role_label = "系统"
    return {
        "type": record.type,
        "label": STEP_LABELS[record.type],
        "at": record.occurred_at.isoformat(),
        "actor": None if union else record.actor,
        "actor_role_label": role_label,
    }


def case_view(case: revocation.Case, records: list[RecordedEvent], caller: Principal) -> dict[str, Any]:
    steps = [
        {**_step(r, caller), **_text(decode(r))}
        for r in records
        if r.type in STEP_LABELS and _case_of(decode(r)) == case.case_id
    ]
    return {
        "case_id": str(case.case_id),
        "certificate_no": case.certificate_no,
        "status": "open" if case.open else case.outcome,
        "status_label": revocation.OUTCOME_LABELS[case.outcome],
        "opened_on": case.opened_on.isoformat(),
        "statement_due": case.statement_due.isoformat(),
        "grounds": [
            {
                "finding_id": str(g.finding_id),
                "rule": g.rule.value,
                "rule_text": g.rule_text,
                "found_on": g.found_on.isoformat(),
                "cleared_on": g.cleared_on.isoformat() if g.cleared_on else None,
                "cleared_reason": g.cleared_reason,
            }
            for g in case.grounds.values()
        ],
        "statement": case.statement,
        "statement_on": case.statement_on.isoformat() if case.statement_on else None,
        "decided_on": case.decided_on.isoformat() if case.decided_on else None,
        "decision_reason": case.decision_reason,
        "steps": steps,
    }


def _text(event: object) -> dict[str, Any]:
    if isinstance(event, RevocationStatementFiled):
        return {"text": event.statement}
    if isinstance(event, RevocationGroundCleared | CertificationRestored | CertificationRevoked):
        return {"text": event.reason}
    if isinstance(event, CertificationSuspended):
        return {"text": f"{event.rule.value} {event.rule_text}"}
    return {}


def no_case() -> NotFound:
    return NotFound(FieldError("unit_id", "没有该单位的撤销审查", "no revocation case for this unit"))


@router.get(
    "/units/{unit_id}/revocation-cases",
    summary="一个单位的撤销审查（暂停、申诉、决定及理由）",
    description="登记人员、市总工会和运维审计，以及该单位所属的区市或集团工会可查看；其他单位答 404。"
    "单位工会看到每一步的角色，不看到具体人员。",
)
async def revocation_cases(unit_id: uuid.UUID, request: Request, caller: Caller) -> dict[str, Any]:
    rows = await runtime_of(request).pool.fetch(
        """SELECT * FROM events WHERE aggregate_type = $1 AND aggregate_id = $2
           ORDER BY aggregate_version""",
        certification.AGGREGATE,
        str(unit_id),
    )
    records = [row_to_event(row) for row in rows]
    events = [decode(r) for r in records]
    unit = certification.fold(events)
    if unit is None or not reads_case(caller, unit.area):
        raise no_case()
    cases = revocation.fold(events)
    return {
        "unit_id": str(unit_id),
        "unit_name": unit.name,
        "status": unit.status.value,
        "cases": [case_view(case, records, caller) for case in cases.cases],
    }


@router.post(
    "/units/{unit_id}/revocation-case/statement",
    status_code=201,
    summary="单位工会提交申诉（期限内，一次）",
    description="称号暂停后，该单位所属的区市或集团工会可在申诉截止日期（暂停日后若干个工作日）前提交一次申诉。",
)
async def file_statement(
    unit_id: uuid.UUID, body: StatementRequest, request: Request, caller: Caller, key: IdempotencyKey
) -> Response:
    return await run(request, from_request(FileStatement, body, unit_id=unit_id), caller, key)


@router.post(
    "/units/{unit_id}/revocation-case/confirmation",
    status_code=201,
    summary="决定撤销称号（登记人员，说明理由）",
    description="单位工会已提交申诉或申诉期届满后，登记人员决定撤销称号。",
)
async def confirm(
    unit_id: uuid.UUID, body: DecisionRequest, request: Request, caller: Caller, key: IdempotencyKey
) -> Response:
    return await run(request, from_request(ConfirmRevocation, body, unit_id=unit_id), caller, key)


@router.post(
    "/units/{unit_id}/revocation-case/dismissal",
    status_code=201,
    summary="决定不予撤销，称号恢复（登记人员，说明理由）",
)
async def dismiss(
    unit_id: uuid.UUID, body: DecisionRequest, request: Request, caller: Caller, key: IdempotencyKey
) -> Response:
    return await run(request, from_request(DismissRevocation, body, unit_id=unit_id), caller, key)
