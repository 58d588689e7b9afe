"""A reporting department's own compliance facts: read one back with its history, correct it,
withdraw it (each change with a reason; domain/fact_corrections.py has the rules)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from huigong_events.upcasting import decode
from huigong_platform.application import from_request
from huigong_platform.eventstore import row_to_event
from huigong_platform.principals import Role
from huigong_platform.service import runtime_of
from huigong_platform.web import Caller, IdempotencyKey, run

from ...commands import CorrectFact, FactCorrectionRequest, FactWithdrawalRequest, WithdrawFact
from ...domain import fact_corrections as fc
from ...domain import facts

router = APIRouter(tags=["合规事实"])


@router.get(
    "/compliance-facts/{fact_id}",
    summary="一项合规事实：现行内容及报送、更正、撤回记录（报送部门）",
    description="报送部门（市总工会：其代为报送的）及运维审计查看一项合规事实的现行内容和全部记录；其他部门答 404。",
)
async def get_fact(fact_id: uuid.UUID, request: Request, caller: Caller) -> dict[str, Any]:
    rows = await runtime_of(request).pool.fetch(
        """SELECT * FROM events WHERE aggregate_type = $1 AND aggregate_id = $2
           ORDER BY aggregate_version""",
        fc.AGGREGATE,
        str(fact_id),
    )
    records = [row_to_event(row) for row in rows]
    state = fc.fold((decode(r), r.actor, r.occurred_at.isoformat()) for r in records)
    if caller.role is Role.OPS and state is not None:
        return fc.view(state)  # auditors read every record
    own = facts.department_of_key(caller.code) if caller.role is Role.EXCHANGE else None
    return fc.view(fc.owned(state, own, city=caller.role is Role.CITY))


@router.post(
    "/compliance-facts/{fact_id}/corrections",
    status_code=201,
    summary="更正合规事实（报送部门，说明理由）",
    description="只填写要更正的项（单位名称、事实类型、发生日期、整改/结清日期、文号、备注）；统一社会信用代码、"
    "报送部门和报送日期不能更正。事实编号不变，更正记录保留。不再构成不予受理情形的更正，会使据此作出的发现排除、"
    "被暂停的称号恢复。",
)
async def correct_fact(
    fact_id: uuid.UUID, body: FactCorrectionRequest, request: Request, caller: Caller, key: IdempotencyKey
) -> Response:
    return await run(request, from_request(CorrectFact, body, fact_id=fact_id), caller, key)


@router.post(
    "/compliance-facts/{fact_id}/withdrawal",
    status_code=201,
    summary="撤回合规事实（报送部门，说明理由）",
    description="撤回后该事实不再作为不予受理的依据：据此作出的发现排除，被暂停的称号恢复。撤回不可再更正。",
)
async def withdraw_fact(
    fact_id: uuid.UUID, body: FactWithdrawalRequest, request: Request, caller: Caller, key: IdempotencyKey
) -> Response:
    return await run(request, from_request(WithdrawFact, body, fact_id=fact_id), caller, key)
