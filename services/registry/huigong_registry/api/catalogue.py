"""The 服务事项目录 over HTTP: registrars list, change and withdraw items (each with an
Idempotency-Key); anyone reads the catalogue, since what a worker may ask for, from whom and in how
many working days is a public commitment (服务承诺制)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from huigong_events.base import DomainEvent
from huigong_events.forms import Name, ShortText
from huigong_events.matters import (
    ClearText,
    Providers,
    ServiceCategory,
    ServiceItemChanged,
    ServiceItemListed,
    Steps,
    TimeLimit,
)
from huigong_platform import idempotency
from huigong_platform.database import DbConnection
from huigong_platform.eventstore import Metadata
from huigong_platform.idempotency import MAX_KEY_LENGTH, Outcome
from huigong_platform.principals import Principal, principal
from huigong_platform.refusals import FieldError, NotFound
from huigong_platform.service import correlation_id_of, runtime_of

from ..adapters.matters import Loaded, load_item, load_units
from ..domain import catalogue
from ..domain.catalogue import ItemState
from .facilities import row
from .routes import registrar_only
from .units import today

router = APIRouter(tags=["服务事项目录"])
Caller = Annotated[Principal, Depends(principal)]
IdempotencyKey = Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=MAX_KEY_LENGTH)]
Decide = Callable[[DbConnection, Loaded[ItemState]], Awaitable[list[DomainEvent]]]


class ItemBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name = Field(title="服务事项名称", description="如“劳动争议法律咨询”")
    category: ServiceCategory = Field(title="服务类别", description="服务事项所属类别")
    providers: Providers = Field(
        title="提供单位", description="提供该服务的职工服务中心或服务职工基地的登记单位编号"
    )
    time_limit_days: TimeLimit = Field(title="办结时限（工作日）", description="自受理次日起的工作日数，1–60")
    steps: Steps = Field(title="办理环节", description="按顺序列出的办理环节")
    commitment: ShortText | None = Field(default=None, title="服务承诺", description="向职工公开承诺的内容")


class ListingRequest(ItemBody):
    item_id: uuid.UUID = Field(default_factory=uuid.uuid4, title="服务事项编号", description="默认新生成")
    listed_on: date | None = Field(default=None, title="列入日期", description="默认为今天（北京时间）")


class ChangeRequest(ItemBody):
    changed_on: date | None = Field(default=None, title="调整日期", description="默认为今天（北京时间）")
    reason: ClearText = Field(title="调整原因", description="调整目录条目的原因")


class WithdrawalRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: ClearText = Field(title="撤出原因", description="撤出目录的原因")
    withdrawn_on: date | None = Field(default=None, title="撤出日期", description="默认为今天（北京时间）")


async def _record(
    request: Request,
    caller: Principal,
    key: str,
    body: BaseModel,
    item_id: uuid.UUID,
    decide: Decide,
    status: int,
) -> JSONResponse:
    """Run `decide(conn, loaded item, store)` under the item's lock and record what it returns."""
    registrar_only(caller)
    runtime = runtime_of(request)
    meta = Metadata(actor=caller.id, source="registry", correlation_id=correlation_id_of(request))
    # The request as sent: a retry that leaves the id to the server gets a fresh default each
    # time, which must not make it a different request.
    fingerprint = idempotency.request_hash(
        {"path": request.url.path, "body": body.model_dump(mode="json", exclude_unset=True)}
    )

    async def work(conn: DbConnection) -> Outcome:
        loaded = await load_item(conn, runtime.store, item_id, locked=True)
        events: list[DomainEvent] = await decide(conn, loaded)
        recorded = await runtime.store.append(str(item_id), events, loaded.version, meta, conn=conn)
        return Outcome(status, {**events[-1].model_dump(mode="json"), "event_id": str(recorded[-1].id)})

    outcome = await idempotency.once(runtime.pool, caller.id, key, fingerprint, work)
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else {}
    return JSONResponse(outcome.body, status_code=outcome.status_code, headers=headers)


@router.post("/service-items", status_code=201, summary="列入服务事项目录（登记人员）")
async def list_item(
    body: ListingRequest, request: Request, caller: Caller, key: IdempotencyKey
) -> JSONResponse:
    store = runtime_of(request).store
    event = ServiceItemListed(
        item_id=body.item_id,
        name=body.name,
        category=body.category,
        providers=body.providers,
        time_limit_days=body.time_limit_days,
        steps=body.steps,
        commitment=body.commitment,
        listed_on=body.listed_on or today(),
    )

    async def decide(conn: DbConnection, loaded: Loaded[ItemState]) -> list[DomainEvent]:
        units = await load_units(conn, store, event.providers)
        return catalogue.decide_list(loaded.version > 0, event, units)

    return await _record(request, caller, key, body, body.item_id, decide, 201)


@router.put("/service-items/{item_id}", summary="调整服务事项（登记人员）：重述全部内容并说明原因")
async def change_item(
    item_id: uuid.UUID, body: ChangeRequest, request: Request, caller: Caller, key: IdempotencyKey
) -> JSONResponse:
    store = runtime_of(request).store
    event = ServiceItemChanged(
        item_id=item_id,
        name=body.name,
        category=body.category,
        providers=body.providers,
        time_limit_days=body.time_limit_days,
        steps=body.steps,
        commitment=body.commitment,
        changed_on=body.changed_on or today(),
        reason=body.reason,
    )

    async def decide(conn: DbConnection, loaded: Loaded[ItemState]) -> list[DomainEvent]:
        units = await load_units(conn, store, event.providers)
        return catalogue.decide_change(loaded.state, event, units)

    return await _record(request, caller, key, body, item_id, decide, 200)


@router.post("/service-items/{item_id}/withdrawal", status_code=201, summary="撤出服务事项目录（登记人员）")
async def withdraw_item(
    item_id: uuid.UUID, body: WithdrawalRequest, request: Request, caller: Caller, key: IdempotencyKey
) -> JSONResponse:
    async def decide(conn: DbConnection, loaded: Loaded[ItemState]) -> list[DomainEvent]:
        return catalogue.decide_withdraw(loaded.state, item_id, body.reason, body.withdrawn_on or today())

    return await _record(request, caller, key, body, item_id, decide, 201)


def item_json(record: Any, names: dict[uuid.UUID, dict[str, str]]) -> dict[str, Any]:
    item = row(record)
    item["category_label"] = ServiceCategory(record["category"]).label
    item["providers"] = [
        {"unit_id": str(unit_id), **names.get(unit_id, {"name": "", "area": ""})}
        for unit_id in record["providers"]
    ]
    return item


async def provider_names(request: Request, records: list[Any]) -> dict[uuid.UUID, dict[str, str]]:
    ids = list({unit_id for r in records for unit_id in r["providers"]})
    rows = await runtime_of(request).pool.fetch(
        "SELECT unit_id, name, area FROM units_view WHERE unit_id = ANY($1::uuid[])", ids
    )
    return {r["unit_id"]: {"name": r["name"], "area": r["area"]} for r in rows}


@router.get("/service-items", summary="服务事项目录")
async def list_items(
    request: Request,
    category: ServiceCategory | None = None,
    provider: Annotated[uuid.UUID | None, Query(description="提供单位（登记单位编号）")] = None,
    status: Annotated[
        str | None, Query(pattern="^(listed|withdrawn)$", description="listed 在目录，withdrawn 已撤出")
    ] = "listed",
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
        args.append(status)
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
