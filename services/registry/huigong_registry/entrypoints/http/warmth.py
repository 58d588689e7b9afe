"""送温暖 over HTTP: the city federation sets a union's yearly fund and approves or declines the
deliveries above its threshold; district and group unions record deliveries; a fund is read back
from its stream with every delivery (the rules: domain/warmth.py; the commands: handlers.py).

A delivery's recipient (name and phone) is opened only for the union that delivered it, and only
while the member's data key exists: after the member's erasure the delivery is shown with
`recipient_erased` true and no name or phone, its amount still counted."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from huigong_events.forms import SubmitterCode, Year
from huigong_events.upcasting import decode
from huigong_events.warmth import fund_id
from huigong_platform.application import from_request
from huigong_platform.refusals import FieldError, NotFound
from huigong_platform.service import runtime_of
from huigong_platform.web import Caller, IdempotencyKey, run

from ...adapters.warmth import sealer_for
from ...commands import (
    ApproveWarmth,
    BudgetRequest,
    DeclineRequest,
    DeclineWarmth,
    DeliverWarmth,
    SetWarmthBudget,
)
from ...domain import warmth
from ...policy import reads_fund, unit_union

router = APIRouter(tags=["送温暖"])

UnionPath = Annotated[SubmitterCode, Path(title="工会", description="区市总工会或单位工会的代码（或名称）")]
YearPath = Annotated[Year, Path(title="年度", description="预算年度")]


@router.put("/warmth/funds/{union}/{year}", summary="设定某工会一年的送温暖预算和审批金额（市总工会）")
async def set_budget(
    union: UnionPath,
    year: YearPath,
    body: BudgetRequest,
    request: Request,
    caller: Caller,
    key: IdempotencyKey,
) -> Response:
    return await run(request, from_request(SetWarmthBudget, body, union=union, year=year), caller, key)


@router.post("/warmth/deliveries", status_code=201, summary="记录一次送温暖（区市总工会、单位工会）")
async def deliver(body: DeliverWarmth, request: Request, caller: Caller, key: IdempotencyKey) -> Response:
    return await run(request, body, caller, key)


@router.post(
    "/warmth/funds/{union}/{year}/deliveries/{delivery_id}/approval",
    status_code=201,
    summary="批准超过审批金额的送温暖（市总工会）",
)
async def approve(
    union: UnionPath,
    year: YearPath,
    delivery_id: uuid.UUID,
    request: Request,
    caller: Caller,
    key: IdempotencyKey,
) -> Response:
    command = ApproveWarmth(union=union, year=year, delivery_id=delivery_id)
    return await run(request, command, caller, key)


@router.post(
    "/warmth/funds/{union}/{year}/deliveries/{delivery_id}/decline",
    status_code=201,
    summary="不批准一笔送温暖，金额退回预算（市总工会）",
)
async def decline(
    union: UnionPath,
    year: YearPath,
    delivery_id: uuid.UUID,
    body: DeclineRequest,
    request: Request,
    caller: Caller,
    key: IdempotencyKey,
) -> Response:
    command = from_request(DeclineWarmth, body, union=union, year=year, delivery_id=delivery_id)
    return await run(request, command, caller, key)


@router.get("/warmth/funds/{union}/{year}", summary="某工会一年的送温暖预算、已动用、剩余和每次送温暖")
async def get_fund(union: UnionPath, year: YearPath, request: Request, caller: Caller) -> dict[str, Any]:
    if not reads_fund(caller, union):
        # Another union's fund is answered as none.
        raise NotFound(FieldError("union", "没有该工会的送温暖记录", "no such fund"))
    runtime = runtime_of(request)
    stream = await runtime.store.read(warmth.AGGREGATE, fund_id(union, year))
    fund = warmth.fold(decode(record) for record in stream.events)
    own = unit_union(caller, union)
    deliveries = []
    async with runtime.pool.acquire() as conn:
        for delivery in fund.deliveries.values():
            data = delivery.event.to_data()
            sealed = data.pop("recipient_sealed")
            item: dict[str, Any] = {
                **data,
                "status": delivery.status.value,
                "status_label": delivery.status.label,
                "repeat": delivery.event.repeat_reason is not None,
                "decided_on": delivery.decided_on.isoformat() if delivery.decided_on else None,
                "decline_reason": delivery.decline_reason,
            }
            if own:
                # Name and phone to the delivering union only, while the member's key exists.
                recipient = await sealer_for(runtime).open_sealed(conn, delivery.event.member_key, sealed)
                item["recipient"] = recipient
                item["recipient_erased"] = recipient is None
            deliveries.append(item)
    return {
        "union": union,
        "year": year,
        "budget": fund.budget,
        "approval_threshold": fund.approval_threshold,
        "drawn": fund.drawn,
        "remaining": fund.remaining,
        "deliveries": deliveries,
    }
