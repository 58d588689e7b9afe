"""The 服务事项目录 over HTTP: registrars list, change and withdraw items (commands of the
registry's command path); anyone reads the catalogue, since what a worker may ask for, from whom and in how
many working days is a public commitment (服务承诺制)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from huigong_events.matters import ServiceCategory
from huigong_events.upcasting import decode
from huigong_platform.application import from_request
from huigong_platform.refusals import FieldError, NotFound
from huigong_platform.service import runtime_of
from huigong_platform.web import Caller, IdempotencyKey, run

from ...commands import (
    ChangeRequest,
    ChangeServiceItem,
    ListingRequest,
    ListServiceItem,
    WithdrawalRequest,
    WithdrawServiceItem,
)
from ...domain import duty
from ...domain.catalogue import ItemStatus
from ...handlers import today
from ...policy import CENTRE_OF_AREA
from .facilities import row

router = APIRouter(tags=["服务事项目录"])


@router.post("/service-items", status_code=201, summary="列入服务事项目录（登记人员）")
async def list_item(body: ListingRequest, request: Request, caller: Caller, key: IdempotencyKey) -> Response:
    return await run(request, from_request(ListServiceItem, body), caller, key)


@router.put("/service-items/{item_id}", summary="调整服务事项（登记人员）：重述全部内容并说明原因")
async def change_item(
    item_id: uuid.UUID, body: ChangeRequest, request: Request, caller: Caller, key: IdempotencyKey
) -> Response:
    return await run(request, from_request(ChangeServiceItem, body, item_id=item_id), caller, key)


@router.post("/service-items/{item_id}/withdrawal", status_code=201, summary="撤出服务事项目录（登记人员）")
async def withdraw_item(
    item_id: uuid.UUID, body: WithdrawalRequest, request: Request, caller: Caller, key: IdempotencyKey
) -> Response:
    return await run(request, from_request(WithdrawServiceItem, body, item_id=item_id), caller, key)


def item_json(record: Any, names: dict[uuid.UUID, dict[str, str | None]]) -> dict[str, Any]:
    item = row(record)
    item["category_label"] = ServiceCategory(record["category"]).label
    item["providers"] = [
        {"unit_id": str(unit_id), **names.get(unit_id, {"name": "", "area": "", "public_phone": None})}
        for unit_id in record["providers"]
    ]
    return item


async def provider_names(request: Request, records: list[Any]) -> dict[uuid.UUID, dict[str, str | None]]:
    """Each provider's name and area, and a centre's public service phone (its duty roster's),
    which the catalogue publishes beside the items (annex 1: 公布服务电话)."""
    ids = list({unit_id for r in records for unit_id in r["providers"]})
    runtime = runtime_of(request)
    async with runtime.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT unit_id, name, area FROM units_view WHERE unit_id = ANY($1::uuid[])", ids
        )
        found: dict[uuid.UUID, dict[str, str | None]] = {
            r["unit_id"]: {"name": r["name"], "area": r["area"], "public_phone": None} for r in rows
        }
        # Eleven centres at most: one short stream each.
        for unit_id in set(found) & set(CENTRE_OF_AREA.values()):
            stream = await runtime.store.read(duty.AGGREGATE, str(unit_id), conn=conn)
            found[unit_id]["public_phone"] = duty.public_phone(
                duty.rosters(decode(r) for r in stream.events), today()
            )
    return found


@router.get("/service-items", summary="服务事项目录")
async def list_items(
    request: Request,
    category: ServiceCategory | None = None,
    provider: Annotated[uuid.UUID | None, Query(description="提供单位（登记单位编号）")] = None,
    status: Annotated[
        ItemStatus | None, Query(description="listed 在目录，withdrawn 已撤出")
    ] = ItemStatus.在目录,
    page: int = Query(default=1, ge=1),
    page_size: int = Query(default=100, ge=1, le=500),
) -> dict[str, Any]:
    where: list[str] = ["true"]
    args: list[Any] = []
    if category is not None:
        args.append(category.value)
        where.append(f"category = ${len(args)}")
    if provider is not None:
        args.append(provider)
        where.append(f"${len(args)} = ANY(providers)")
    if status is not None:
        args.append(status.value)
        where.append(f"status = ${len(args)}")
    clause = " AND ".join(where)
    pool = runtime_of(request).pool
    total = await pool.fetchval(f"SELECT count(*) FROM service_items_view WHERE {clause}", *args)
    records = await pool.fetch(
        f"SELECT * FROM service_items_view WHERE {clause} ORDER BY category, name, item_id "
        f"LIMIT {page_size} OFFSET {(page - 1) * page_size}",
        *args,
    )
    names = await provider_names(request, records)
    return {
        "total": total,
        "page": page,
        "page_size": page_size,
        "items": [item_json(r, names) for r in records],
    }


@router.get("/service-items/{item_id}", summary="一个服务事项")
async def get_item(item_id: uuid.UUID, request: Request) -> dict[str, Any]:
    record = await runtime_of(request).pool.fetchrow(
        "SELECT * FROM service_items_view WHERE item_id = $1", item_id
    )
    if record is None:
        raise NotFound(FieldError("item_id", "服务事项目录中没有该事项", f"no service item {item_id}"))
    return item_json(record, await provider_names(request, [record]))
