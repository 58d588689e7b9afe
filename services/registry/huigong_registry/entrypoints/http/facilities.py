"""Facilities, the 服务项目库 and their counts.

Facilities are opened by intake's reports (reactions/reports.py) and closed by a registrar
(POST /facilities/{id}/closure); service projects are listed on proposal. The lists page, filter and count per kind or area."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Annotated, Any, Final

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from huigong_events.forms import ServiceField
from huigong_events.labels import Labelled, relabel
from huigong_events.plausible import BuiltYear, beijing_today
from huigong_events.reference import FacilityKind
from huigong_platform.application import from_request
from huigong_platform.exports import (
    CSV_MEDIA_TYPE,
    EXPORT_MAX_ROWS,
    XLSX_MEDIA_TYPE,
    Column,
    ExportFormat,
    exported,
)
from huigong_platform.refusals import FieldError, NotFound
from huigong_platform.service import runtime_of
from huigong_platform.web import Caller, IdempotencyKey, run

from ...commands import CloseFacility, FacilityClosureRequest
from ...domain.facilities import FacilityStatus, facility_id_of_report

router = APIRouter(tags=["设施与项目库"])
Page = Annotated[int, Query(ge=1)]
PageSize = Annotated[int, Query(ge=1, le=500)]
Year = Annotated[BuiltYear | None, Query(description="建成年度（1949–2100）")]


@router.post("/facilities/{facility_id}/closure", status_code=201, summary="关闭设施（登记人员）")
async def close_facility(
    facility_id: uuid.UUID,
    body: FacilityClosureRequest,
    request: Request,
    caller: Caller,
    key: IdempotencyKey,
) -> Response:
    return await run(request, from_request(CloseFacility, body, facility_id=facility_id), caller, key)


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


_FORMAT: Final = Query(description="json（默认）；xlsx 或 csv：不分页导出全部符合条件的行，列名和取值为中文")
_EXPORTS: Final[dict[int | str, dict[str, Any]]] = {
    200: {"content": {XLSX_MEDIA_TYPE: {}, CSV_MEDIA_TYPE: {}}}
}
_FACILITY_COLUMNS: Final = (
    ("name", "设施名称"),
    ("kind", "类型"),
    ("area", "所属区市或单位"),
    ("host_unit", "依托单位"),
    ("host_credit_code", "统一社会信用代码"),
    ("opened_on", "建成日期"),
    ("status", "状态"),
    ("closed_on", "关闭日期"),
    ("close_reason", "关闭原因"),
)
_PROJECT_COLUMNS: Final = (
    ("name", "项目名称"),
    ("field", "服务领域"),
    ("provider", "提供单位"),
    ("provider_credit_code", "统一社会信用代码"),
    ("area", "所属区市或单位"),
    ("listed_on", "入库日期"),
)


async def page_of(
    request: Request,
    table: str,
    order: str,
    filters: list[tuple[str, Any]],
    page: int,
    page_size: int,
    export: tuple[ExportFormat, Sequence[Column], str] | None = None,
) -> Any:
    """One page of `table`'s rows, or with `export` (format, columns, file name) every row as a
    file (exports.py)."""
    if export is not None and export[0] is not ExportFormat.json:
        page, page_size = 1, EXPORT_MAX_ROWS
    clause, args = where(filters)
    pool = runtime_of(request).pool
    total = await pool.fetchval(f"SELECT count(*) FROM {table} WHERE {clause}", *args)
    rows = await pool.fetch(
        f"SELECT * FROM {table} WHERE {clause} ORDER BY {order} "
        f"LIMIT {page_size} OFFSET {(page - 1) * page_size}",
        *args,
    )
    if export is not None and export[0] is not ExportFormat.json:
        export_format, columns, name = export
        return exported(request, [dict(r) for r in rows], columns, name, export_format)
    return {"total": total, "page": page, "page_size": page_size, "items": [row(r) for r in rows]}


class FacilityGroup(Labelled):
    kind = "kind"
    area = "area"


relabel(FacilityGroup, {FacilityGroup.kind: "类型", FacilityGroup.area: "区市或单位"})


def facility_filters(
    kind: FacilityKind | None, area: str | None, status: FacilityStatus | None, year: int | None
) -> list[tuple[str, Any]]:
    return [
        ("kind", kind.value if kind else None),
        ("area", area),
        ("status", status.value if status else None),
        ("extract(year FROM opened_on)::int", year),
    ]


@router.get(
    "/facilities",
    summary="设施列表（可导出 Excel 或 CSV）",
    responses=_EXPORTS,
    response_model=dict[str, Any],
)
async def list_facilities(
    request: Request,
    kind: FacilityKind | None = None,
    area: Annotated[str | None, Query(description="所属区市或单位代码（同 district）")] = None,
    district: Annotated[str | None, Query(description="所属区市或单位代码（同 area）")] = None,
    status: FacilityStatus | None = None,
    year: Year = None,
    page: Page = 1,
    page_size: PageSize = 100,
    format: Annotated[ExportFormat, _FORMAT] = ExportFormat.json,
) -> Any:
    filters = facility_filters(kind, area or district, status, year)
    export = (format, _FACILITY_COLUMNS, "设施列表")
    return await page_of(
        request, "facilities_view", "opened_on, name, facility_id", filters, page, page_size, export
    )


@router.get("/facilities/counts", summary="设施数量：按类型或区市")
async def count_facilities(
    request: Request,
    group_by: FacilityGroup = FacilityGroup.kind,
    kind: FacilityKind | None = None,
    area: str | None = None,
    status: FacilityStatus | None = FacilityStatus.open,
    year: Year = None,
) -> dict[str, Any]:
    """Open facilities unless `status` says otherwise; `year` is the year of opening. Counted as
    metrics counts them today: a facility dated after today (accepted before such dates were
    refused) is not open yet."""
    clause, args = where(facility_filters(kind, area, status, year))
    args.append(beijing_today())
    clause += f" AND opened_on <= ${len(args)}"
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
async def get_facility(facility_id: uuid.UUID, request: Request) -> dict[str, Any]:
    """By the registry's id or by the report id intake answered (`POST /facilities` there): the
    facility a report opened has the id derived from it."""
    found = await runtime_of(request).pool.fetchrow(
        "SELECT * FROM facilities_view WHERE facility_id = $1 OR facility_id = $2",
        facility_id,
        facility_id_of_report(facility_id),
    )
    if found is None:
        raise NotFound(FieldError("facility_id", "没有该设施", "no such facility"))
    return row(found)


class ProjectGroup(Labelled):
    field = "field"
    area = "area"


relabel(ProjectGroup, {ProjectGroup.field: "服务领域", ProjectGroup.area: "区市或单位"})


@router.get(
    "/service-projects",
    summary="服务职工项目库（可导出 Excel 或 CSV）",
    responses=_EXPORTS,
    response_model=dict[str, Any],
)
async def list_projects(
    request: Request,
    field: ServiceField | None = None,
    area: str | None = None,
    year: Year = None,
    page: Page = 1,
    page_size: PageSize = 100,
    format: Annotated[ExportFormat, _FORMAT] = ExportFormat.json,
) -> Any:
    filters = [
        ("field", field.value if field else None),
        ("area", area),
        ("extract(year FROM listed_on)::int", year),
    ]
    export = (format, _PROJECT_COLUMNS, "服务职工项目库")
    return await page_of(
        request, "service_projects_view", "listed_on, name, project_id", filters, page, page_size, export
    )


@router.get("/service-projects/counts", summary="项目库数量：按服务领域或区市")
async def count_projects(request: Request, group_by: ProjectGroup = ProjectGroup.field) -> dict[str, Any]:
    column = group_by.value
    rows = await runtime_of(request).pool.fetch(
        f"SELECT {column} AS key, count(*) AS n FROM service_projects_view GROUP BY {column} ORDER BY {column}"
    )
    counts = {r["key"]: r["n"] for r in rows}
    return {"group_by": column, "total": sum(counts.values()), "counts": counts}
