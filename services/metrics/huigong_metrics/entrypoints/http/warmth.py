"""送温暖 figures over HTTP, as of any day (published figures: counts and amounts, no names):
`GET /api/warmth?year=2026&as_of=YYYY-MM-DD`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from huigong_events.plausible import AsOfDay, QueryYear
from huigong_platform.refusals import FieldError, Refusal
from huigong_platform.service import runtime_of

from ...adapters import warmth as tables
from ...domain.counting import BEIJING
from ...domain.warmth import DEFINITIONS, by_union, month_json

router = APIRouter(prefix="/api", tags=["送温暖"])


@router.get("/warmth", summary="送温暖：各区市、各时机、各月的次数和金额，预算及动用（可指定截至日期）")
async def warmth(
    request: Request,
    year: Annotated[QueryYear | None, Query(description="年度（默认：截至日期所在年度）")] = None,
    as_of: Annotated[
        AsOfDay | None, Query(description="截至日期 YYYY-MM-DD（默认今天，北京时间）：该日结束时")
    ] = None,
) -> dict[str, Any]:
    as_of = as_of or datetime.now(BEIJING).date()
    year = year or as_of.year
    if year > as_of.year:
        raise Refusal(FieldError("year", "年度不能晚于截至日期", "the year cannot be after as_of"))
    async with runtime_of(request).pool.acquire() as conn:
        months = await tables.months(conn, year, as_of)
        budgets = await tables.budgets(conn, year, as_of)
    unions = by_union(months, budgets)
    return {
        "as_of": as_of.isoformat(),
        "year": year,
        "by_month": [month_json(row) for row in months],
        "by_area": [u.to_json() for u in unions],
        "total": {
            "budget": sum(budgets.values()),
            "used": sum(u.amount for u in unions),
            "deliveries": sum(u.deliveries for u in unions),
        },
        "definitions": DEFINITIONS,
    }
