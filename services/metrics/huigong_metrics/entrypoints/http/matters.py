"""联动服务 figures over HTTP: per service centre and district, as of any day (published figures:
counts and averages, no names). `GET /api/matters?area=370200&as_of=YYYY-MM-DD`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from huigong_events.plausible import AsOfDay
from huigong_events.reference import CITY_CODE, DISTRICTS, area_name
from huigong_platform.refusals import FieldError, Refusal
from huigong_platform.service import runtime_of

from ...adapters.matters import levels
from ...domain.counting import BEIJING
from ...domain.matters import CENTRE_AREAS, DEFINITIONS, by_centre, figures

router = APIRouter(prefix="/api", tags=["联动服务"])


@router.get(
    "/matters", summary="联动服务：各职工服务中心受理、转办、按期办结、超期和满意度（可指定截至日期）"
)
async def matters(
    request: Request,
    area: Annotated[str, Query(description="370200（全市，默认：11个中心逐一列出）或区市代码")] = CITY_CODE,
    as_of: Annotated[
        AsOfDay | None, Query(description="截至日期 YYYY-MM-DD（默认今天，北京时间）：该日结束时")
    ] = None,
) -> dict[str, Any]:
    if area != CITY_CODE and area not in DISTRICTS:
        raise Refusal(
            FieldError("area", "只有市和10个区市设有职工服务中心", f"{area!r}: 370200 or a district code")
        )
    as_of = as_of or datetime.now(BEIJING).date()
    async with runtime_of(request).pool.acquire() as conn:
        rows = await levels(conn, as_of)
    centres = CENTRE_AREAS if area == CITY_CODE else (area,)
    total = figures(rows, None if area == CITY_CODE else area, as_of)
    return {
        "as_of": as_of.isoformat(),
        "area": area,
        "area_name": area_name(area),
        "centres": [c.to_json() for c in by_centre(rows, as_of, centres)],
        "total": total.to_json(),
        "definitions": DEFINITIONS,
    }
