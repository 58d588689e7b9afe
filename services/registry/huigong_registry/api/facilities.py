"""Facilities, the 服务项目库 and their counts.

Facilities are opened by intake's reports (reactions/reports.py) and closed by a registrar
(POST /facilities/{id}/closure, registrar or city only, with an Idempotency-Key); service
projects are listed on proposal. The lists page, filter and count per kind or area."""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from huigong_events.base import DomainEvent
from huigong_events.forms import ServiceField, ShortText
from huigong_events.reference import FacilityKind
from huigong_events.upcasting import decode
from huigong_platform import idempotency
from huigong_platform.database import DbConnection
from huigong_platform.eventstore import Metadata
from huigong_platform.idempotency import MAX_KEY_LENGTH, Outcome
from huigong_platform.principals import Principal, principal
from huigong_platform.service import correlation_id_of, runtime_of

from ..adapters.units import lock
from ..domain.facilities import FACILITY, FacilityStatus, decide_close, fold
from .routes import registrar_only
from .units import today

router = APIRouter(tags=["设施与项目库"])
Caller = Annotated[Principal, Depends(principal)]
IdempotencyKey = Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=MAX_KEY_LENGTH)]
Page = Annotated[int, Query(ge=1)]
PageSize = Annotated[int, Query(ge=1, le=500)]
Year = Annotated[int | None, Query(ge=2000, le=2100, description="年度")]


class ClosureRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    closed_on: date | None = Field(default=None, title="关闭日期", description="默认为今天（北京时间）")
    reason: ShortText = Field(title="关闭原因", description="设施关闭的原因")


@router.post("/facilities/{facility_id}/closure", status_code=201, summary="关闭设施（登记人员）")
async def close_facility(
    facility_id: uuid.UUID, body: ClosureRequest, request: Request, caller: Caller, key: IdempotencyKey
) -> JSONResponse:
    registrar_only(caller)
    runtime = runtime_of(request)
    meta = Metadata(actor=caller.id, source="registry", correlation_id=correlation_id_of(request))
    fingerprint = idempotency.request_hash({"path": request.url.path, "body": body.model_dump(mode="json")})

    async def work(conn: DbConnection) -> Outcome:
        await lock(conn, FACILITY, str(facility_id))
        stream = await runtime.store.read(FACILITY, str(facility_id), conn=conn)
        state = fold(decode(record) for record in stream.events)
        events: list[DomainEvent] = decide_close(state, body.closed_on or today(), body.reason)
        recorded = await runtime.store.append(str(facility_id), events, stream.version, meta, conn=conn)
        return Outcome(201, {**events[-1].model_dump(mode="json"), "event_id": str(recorded[-1].id)})

    outcome = await idempotency.once(runtime.pool, caller.id, key, fingerprint, work)
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else {}
    return JSONResponse(outcome.body, status_code=outcome.status_code, headers=headers)


def where(filters: list[tuple[str, Any]]) -> tuple[str, list[Any]]:
    clauses, args = ["true"], []
    for column, value in filters:
        if value is not None:
            args.append(value)
            clauses.append(f"{column} = ${len(args)}")
    return " AND ".join(clauses), args


def row(record: Any) -> dict[str, Any]:
    return {
        k: (str(v) if isinstance(v, uuid.UUID) else v.isoformat() if isinstance(v, date) else v)
        for k, v in dict(record).items()
    }


async def page_of(
    request: Request, table: str, order: str, filters: list[tuple[str, Any]], page: int, page_size: int
) -> dict[str, Any]:
    clause, args = where(filters)
    pool = runtime_of(request).pool
    total = await pool.fetchval(f"SELECT count(*) FROM {table} WHERE {clause}", *args)
    rows = await pool.fetch(
        f"SELECT * FROM {table} WHERE {clause} ORDER BY {order} "
        f"LIMIT {page_size} OFFSET {(page - 1) * page_size}",
        *args,
    )
    return {"total": total, "page": page, "page_size": page_size, "items": [row(r) for r in rows]}


class FacilityGroup(StrEnum):
    kind = "kind"
    area = "area"


def facility_filters(
    kind: FacilityKind | None, area: str | None, status: FacilityStatus | None, year: int | None
) -> list[tuple[str, Any]]:
    return [
        ("kind", kind.value if kind else None),
        ("area", area),
        ("status", status.value if status else None),
        ("extract(year FROM opened_on)::int", year),
    ]


@router.get("/facilities", summary="设施列表")
async def list_facilities(
    request: Request,
    kind: FacilityKind | None = None,
    area: Annotated[str | None, Query(description="所属区市或单位代码（同 district）")] = None,
    district: Annotated[str | None, Query(description="所属区市或单位代码（同 area）")] = None,
    status: FacilityStatus | None = None,
    year: Year = None,
    page: Page = 1,
    page_size: PageSize = 100,
) -> dict[str, Any]:
    filters = facility_filters(kind, area or district, status, year)
    return await page_of(request, "facilities_view", "opened_on, name, facility_id", filters, page, page_size)


@router.get("/facilities/counts", summary="设施数量：按类型或区市")
async def count_facilities(
    request: Request,
    group_by: FacilityGroup = FacilityGroup.kind,
    kind: FacilityKind | None = None,
    area: str | None = None,
    status: FacilityStatus | None = FacilityStatus.open,
    year: Year = None,
) -> dict[str, Any]:
    """Open facilities unless `status` says otherwise; `year` is the year of opening."""
    clause, args = where(facility_filters(kind, area, status, year))
    column = group_by.value
    rows = await runtime_of(request).pool.fetch(
        f"SELECT {column} AS key, count(*) AS n FROM facilities_view WHERE {clause} GROUP BY {column} ORDER BY {column}",
        *args,
    )
    counts = {r["key"]: r["n"] for r in rows}
    return {
        "group_by": column,
        "status": status.value if status else None,
        "total": sum(counts.values()),
        "counts": counts,
    }


@router.get("/facilities/{facility_id}", summary="一处设施")
async def get_facility(facility_id: uuid.UUID, request: Request) -> JSONResponse:
    found = await runtime_of(request).pool.fetchrow(
        "SELECT * FROM facilities_view WHERE facility_id = $1", facility_id
    )
    if found is None:
        return JSONResponse({"detail": "no such facility"}, status_code=404)
    return JSONResponse(row(found))


class ProjectGroup(StrEnum):
    field = "field"
    area = "area"


@router.get("/service-projects", summary="服务职工项目库")
async def list_projects(
    request: Request,
    field: ServiceField | None = None,
    area: str | None = None,
    year: Year = None,
    page: Page = 1,
    page_size: PageSize = 100,
) -> dict[str, Any]:
    filters = [
        ("field", field.value if field else None),
        ("area", area),
        ("extract(year FROM listed_on)::int", year),
    ]
    return await page_of(
        request, "service_projects_view", "listed_on, name, project_id", filters, page, page_size
    )


@router.get("/service-projects/counts", summary="项目库数量：按服务领域或区市")
async def count_projects(request: Request, group_by: ProjectGroup = ProjectGroup.field) -> dict[str, Any]:
    column = group_by.value
    rows = await runtime_of(request).pool.fetch(
        f"SELECT {column} AS key, count(*) AS n FROM service_projects_view GROUP BY {column} ORDER BY {column}"
    )
    counts = {r["key"]: r["n"] for r in rows}
    return {"group_by": column, "total": sum(counts.values()), "counts": counts}
