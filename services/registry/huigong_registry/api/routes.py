"""Registry HTTP API: registering units and partners (registrars and the city federation), a
partner's exit (退出), and listing them."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, create_model

from huigong_events.forms import PartnerCategory, ShortText
from huigong_events.reference import Programme
from huigong_events.registry import PartnerOrigin, PartnerRegistered, UnitRegistered
from huigong_events.upcasting import decode
from huigong_platform import idempotency
from huigong_platform.database import DbConnection
from huigong_platform.eventstore import Metadata
from huigong_platform.idempotency import MAX_KEY_LENGTH, Outcome
from huigong_platform.principals import Principal, Role, principal
from huigong_platform.refusals import FieldError, Refusal
from huigong_platform.service import correlation_id_of, runtime_of

from ..adapters.units import lock
from ..domain import partners
from ..domain.dates import BEIJING
from ..domain.units import decide_register

router = APIRouter()
Caller = Annotated[Principal, Depends(principal)]
IdempotencyKey = Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=MAX_KEY_LENGTH)]

UnitRequest = create_model(
    "UnitRequest",
    __base__=UnitRegistered,
    unit_id=(uuid.UUID, Field(default_factory=uuid.uuid4, title="建设单位编号")),
)
PartnerRequest = create_model(
    "PartnerRequest",
    __base__=PartnerRegistered,
    partner_id=(uuid.UUID, Field(default_factory=uuid.uuid4, title="伙伴编号")),
)


class Forbidden(Refusal):
    status = 403


def registrar_only(caller: Principal) -> None:
    if caller.role not in (Role.REGISTRAR, Role.CITY):
        raise Forbidden(FieldError("principal", "只有登记人员或市总工会可以登记", "only registrars register"))


async def register(
    request: Request,
    caller: Principal,
    key: str,
    event: UnitRegistered | PartnerRegistered,
    aggregate_id: str,
    body: BaseModel,
) -> JSONResponse:
    registrar_only(caller)
    runtime = runtime_of(request)
    meta = Metadata(actor=caller.id, source="registry", correlation_id=correlation_id_of(request))

    async def work(conn: DbConnection) -> Outcome:
        stream = await runtime.store.read(type(event).aggregate_type, aggregate_id, conn=conn)
        events = decide_register(stream.version, event)
        recorded = await runtime.store.append(aggregate_id, events, stream.version, meta, conn=conn)
        return Outcome(201, {"id": aggregate_id, "event_id": str(recorded[0].id)})

    # The request as sent: a retry that leaves the id to the server gets a fresh default each
    # time, which must not make it a different request (it is answered the first id).
    fingerprint = idempotency.request_hash(
        {"path": request.url.path, "body": body.model_dump(mode="json", exclude_unset=True)}
    )
    outcome = await idempotency.once(runtime.pool, caller.id, key, fingerprint, work)
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else {}
    return JSONResponse(outcome.body, status_code=outcome.status_code, headers=headers)


@router.post("/units", status_code=201, tags=["建设单位"], summary="登记建设单位")
async def register_unit(
    body: UnitRequest, request: Request, caller: Caller, key: IdempotencyKey
) -> JSONResponse:
    event = UnitRegistered.model_validate(body.model_dump())
    return await register(request, caller, key, event, str(event.unit_id), body)


@router.post("/partners", status_code=201, tags=["公益伙伴"], summary="登记关爱职工公益伙伴")
async def register_partner(
    body: PartnerRequest,
    request: Request,
    caller: Caller,
    key: IdempotencyKey,
) -> JSONResponse:
    event = PartnerRegistered.model_validate(body.model_dump())
    return await register(request, caller, key, event, str(event.partner_id), body)


class UnitItem(BaseModel):
    unit_id: uuid.UUID
    name: str
    programme: Programme
    area: str
    origin: str
    status: str
    registered_on: date
    application_id: uuid.UUID | None = None
    certificate_no: str | None = None
    title: str | None = None
    certified_on: date | None = None
    valid_until: date | None = None
    recheck_due: date | None = None
    revoked_on: date | None = None
    exited_on: date | None = None
    status_reason: str | None = None


class UnitStatusFilter(StrEnum):
    approved = "approved"
    certified = "certified"
    revoked = "revoked"
    exited = "exited"


@router.get("/units", tags=["建设单位"], summary="建设单位列表")
async def list_units(
    request: Request,
    programme: Annotated[Programme | None, Query(description="工作任务（同 type）")] = None,
    type: Annotated[Programme | None, Query(description="工作任务（同 programme）")] = None,
    area: Annotated[str | None, Query(description="所属区市或单位代码（同 district）")] = None,
    district: Annotated[str | None, Query(description="所属区市或单位代码（同 area）")] = None,
    status: UnitStatusFilter | None = None,
    year: int | None = Query(default=None, ge=2000, le=2100, description="登记年度"),
    origin: str | None = None,
    page: int = Query(default=1, ge=1),
    page_size: int = Query(default=100, ge=1, le=500),
) -> dict[str, Any]:
    kind = programme or type
    where, args = ["true"], []
    for column, value in (
        ("programme", kind.value if kind else None),
        ("area", area or district),
        ("origin", origin),
        ("status", status.value if status else None),
        ("extract(year FROM registered_on)::int", year),
    ):
        if value is not None:
            args.append(value)
            where.append(f"{column} = ${len(args)}")
    pool = runtime_of(request).pool
    clause = " AND ".join(where)
    total = await pool.fetchval(f"SELECT count(*) FROM units_view WHERE {clause}", *args)
    rows = await pool.fetch(
        f"SELECT * FROM units_view WHERE {clause} ORDER BY registered_on, name, unit_id "
        f"LIMIT {page_size} OFFSET {(page - 1) * page_size}",
        *args,
    )
    return {
        "total": total,
        "page": page,
        "page_size": page_size,
        "items": [UnitItem(**dict(r)).model_dump(mode="json") for r in rows],
    }


class PartnerExitRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: ShortText = Field(title="退出原因", description="退出纽带计划的原因")
    exited_on: date | None = Field(default=None, title="退出日期", description="默认为今天（北京时间）")


@router.post("/partners/{partner_id}/exit", status_code=201, tags=["公益伙伴"], summary="公益伙伴退出")
async def exit_partner(
    partner_id: uuid.UUID, body: PartnerExitRequest, request: Request, caller: Caller, key: IdempotencyKey
) -> JSONResponse:
    registrar_only(caller)
    runtime = runtime_of(request)
    meta = Metadata(actor=caller.id, source="registry", correlation_id=correlation_id_of(request))
    fingerprint = idempotency.request_hash({"path": request.url.path, "body": body.model_dump(mode="json")})
    on = body.exited_on or datetime.now(BEIJING).date()

    async def work(conn: DbConnection) -> Outcome:
        await lock(conn, partners.AGGREGATE, str(partner_id))
        stream = await runtime.store.read(partners.AGGREGATE, str(partner_id), conn=conn)
        state = partners.fold(decode(record) for record in stream.events)
        events = partners.decide_exit(state, body.reason, on)
        recorded = await runtime.store.append(str(partner_id), events, stream.version, meta, conn=conn)
        return Outcome(201, {**events[-1].model_dump(mode="json"), "event_id": str(recorded[-1].id)})

    outcome = await idempotency.once(runtime.pool, caller.id, key, fingerprint, work)
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else {}
    return JSONResponse(outcome.body, status_code=outcome.status_code, headers=headers)


class PartnerItem(BaseModel):
    partner_id: uuid.UUID
    name: str
    category: PartnerCategory
    category_label: str
    area: str
    origin: PartnerOrigin
    status: partners.PartnerStatus
    registered_on: date
    credit_code: str | None = None
    application_id: uuid.UUID | None = None
    exited_on: date | None = None
    status_reason: str | None = None


@router.get("/partners", tags=["公益伙伴"], summary="公益伙伴列表")
async def list_partners(
    request: Request,
    area: Annotated[str | None, Query(description="所属区市或单位代码（同 district）")] = None,
    district: Annotated[str | None, Query(description="所属区市或单位代码（同 area）")] = None,
    category: Annotated[PartnerCategory | None, Query(description="类型")] = None,
    status: Annotated[partners.PartnerStatus | None, Query(description="active 在册，exited 已退出")] = None,
    origin: Annotated[PartnerOrigin | None, Query(description="pilot_2022 试点，application 申报")] = None,
    year: int | None = Query(default=None, ge=2000, le=2100, description="登记年度"),
    page: int = Query(default=1, ge=1),
    page_size: int = Query(default=100, ge=1, le=500),
) -> dict[str, Any]:
    where, args = ["true"], []
    for column, value in (
        ("area", area or district),
        ("category", category.value if category else None),
        ("status", status.value if status else None),
        ("origin", origin.value if origin else None),
        ("extract(year FROM registered_on)::int", year),
    ):
        if value is not None:
            args.append(value)
            where.append(f"{column} = ${len(args)}")
    pool = runtime_of(request).pool
    clause = " AND ".join(where)
    total = await pool.fetchval(f"SELECT count(*) FROM partners_view WHERE {clause}", *args)
    rows = await pool.fetch(
        f"SELECT * FROM partners_view WHERE {clause} ORDER BY registered_on, name, partner_id "
        f"LIMIT {page_size} OFFSET {(page - 1) * page_size}",
        *args,
    )
    items = [
        PartnerItem(**dict(r), category_label=PartnerCategory(r["category"]).label).model_dump(mode="json")
        for r in rows
    ]
    return {"total": total, "page": page, "page_size": page_size, "items": items}
