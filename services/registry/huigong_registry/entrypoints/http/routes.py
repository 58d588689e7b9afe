"""Registry HTTP API: registering units and partners (registrars), a partner's exit (退出), and
listing them."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any, Final

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from huigong_events.forms import PartnerCategory
from huigong_events.plausible import QueryYear
from huigong_events.reference import Programme
from huigong_events.registry import PartnerOrigin
from huigong_platform.application import from_request
from huigong_platform.exports import (
    CSV_MEDIA_TYPE,
    EXPORT_MAX_ROWS,
    XLSX_MEDIA_TYPE,
    ExportFormat,
    exported,
)
from huigong_platform.service import runtime_of
from huigong_platform.web import Caller, IdempotencyKey, run

from ...commands import ExitPartner, PartnerExitRequest, RegisterPartner, RegisterUnit
from ...domain import partners
from ...domain.certification import UnitStatus

router = APIRouter()


@router.post("/units", status_code=201, tags=["建设单位"], summary="登记建设单位")
async def register_unit(
    body: RegisterUnit, request: Request, caller: Caller, key: IdempotencyKey
) -> Response:
    return await run(request, body, caller, key)


@router.post("/partners", status_code=201, tags=["公益伙伴"], summary="登记关爱职工公益伙伴")
async def register_partner(
    body: RegisterPartner, request: Request, caller: Caller, key: IdempotencyKey
) -> Response:
    return await run(request, body, caller, key)


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
    suspended_on: date | None = None
    revoked_on: date | None = None
    exited_on: date | None = None
    status_reason: str | None = None


_UNIT_COLUMNS: Final = (
    ("name", "单位名称"),
    ("programme", "工作任务"),
    ("area", "所属区市或单位"),
    ("origin", "来源"),
    ("status", "状态"),
    ("registered_on", "登记日期"),
    ("certificate_no", "证书编号"),
    ("title", "称号"),
    ("certified_on", "认定日期"),
    ("valid_until", "有效期至"),
    ("suspended_on", "暂停日期"),
    ("revoked_on", "撤销日期"),
    ("exited_on", "退出日期"),
)
_EXPORTS: Final[dict[int | str, dict[str, Any]]] = {
    200: {"content": {XLSX_MEDIA_TYPE: {}, CSV_MEDIA_TYPE: {}}}
}
_FORMAT: Final = Query(description="json（默认）；xlsx 或 csv：不分页导出全部符合条件的行，列名和取值为中文")


@router.get(
    "/units",
    tags=["建设单位"],
    summary="建设单位列表（可导出 Excel 或 CSV）",
    description=f"format=xlsx 或 csv 时不分页，导出全部符合条件的单位（最多{EXPORT_MAX_ROWS}行）。",
    responses=_EXPORTS,
    response_model=dict[str, Any],
)
async def list_units(
    request: Request,
    programme: Annotated[Programme | None, Query(description="工作任务（同 type）")] = None,
    type: Annotated[Programme | None, Query(description="工作任务（同 programme）")] = None,
    area: Annotated[str | None, Query(description="所属区市或单位代码（同 district）")] = None,
    district: Annotated[str | None, Query(description="所属区市或单位代码（同 area）")] = None,
    status: UnitStatus | None = None,
    year: Annotated[QueryYear | None, Query(description="登记年度（2022–2100）")] = None,
    origin: str | None = None,
    page: int = Query(default=1, ge=1),
    page_size: int = Query(default=100, ge=1, le=500),
    format: Annotated[ExportFormat, _FORMAT] = ExportFormat.json,
) -> Any:
    kind = programme or type
    if format is not ExportFormat.json:
        page, page_size = 1, EXPORT_MAX_ROWS
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
    if format is not ExportFormat.json:
        units = [UnitItem(**dict(r)).model_dump() for r in rows]
        return exported(request, units, _UNIT_COLUMNS, "建设单位列表", format)
    return {
        "total": total,
        "page": page,
        "page_size": page_size,
        "items": [UnitItem(**dict(r)).model_dump(mode="json") for r in rows],
    }


@router.post("/partners/{partner_id}/exit", status_code=201, tags=["公益伙伴"], summary="公益伙伴退出")
async def exit_partner(
    partner_id: uuid.UUID, body: PartnerExitRequest, request: Request, caller: Caller, key: IdempotencyKey
) -> Response:
    return await run(request, from_request(ExitPartner, body, partner_id=partner_id), caller, key)


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


_PARTNER_COLUMNS: Final = (
    ("name", "名称"),
    ("category", "类型"),
    ("area", "所属区市或单位"),
    ("origin", "来源"),
    ("status", "状态"),
    ("registered_on", "登记日期"),
    ("credit_code", "统一社会信用代码"),
    ("exited_on", "退出日期"),
    ("status_reason", "退出原因"),
)


@router.get(
    "/partners",
    tags=["公益伙伴"],
    summary="公益伙伴列表（可导出 Excel 或 CSV）",
    description=f"format=xlsx 或 csv 时不分页，导出全部符合条件的公益伙伴（最多{EXPORT_MAX_ROWS}行）。",
    responses=_EXPORTS,
    response_model=dict[str, Any],
)
async def list_partners(
    request: Request,
    area: Annotated[str | None, Query(description="所属区市或单位代码（同 district）")] = None,
    district: Annotated[str | None, Query(description="所属区市或单位代码（同 area）")] = None,
    category: Annotated[PartnerCategory | None, Query(description="类型")] = None,
    status: Annotated[partners.PartnerStatus | None, Query(description="active 在册，exited 已退出")] = None,
    origin: Annotated[PartnerOrigin | None, Query(description="pilot_2022 试点，application 申报")] = None,
    year: Annotated[QueryYear | None, Query(description="登记年度（2022–2100）")] = None,
    page: int = Query(default=1, ge=1),
    page_size: int = Query(default=100, ge=1, le=500),
    format: Annotated[ExportFormat, _FORMAT] = ExportFormat.json,
) -> Any:
    if format is not ExportFormat.json:
        page, page_size = 1, EXPORT_MAX_ROWS
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
    listed = [PartnerItem(**dict(r), category_label=PartnerCategory(r["category"]).label) for r in rows]
    if format is not ExportFormat.json:
        return exported(request, [p.model_dump() for p in listed], _PARTNER_COLUMNS, "公益伙伴列表", format)
    items = [partner.model_dump(mode="json") for partner in listed]
    return {"total": total, "page": page, "page_size": page_size, "items": items}
