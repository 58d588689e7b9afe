"""分级评定 figures over HTTP: per district, the 服务职工基地 and 关爱职工公益伙伴 in the register,
their latest grades, probation, 整改 and exit proposals (published figures: counts, no names).
`GET /api/grading`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from huigong_events.reference import DISTRICTS
from huigong_platform.service import runtime_of

from ...domain.grades import DEFINITIONS, Resource, by_area

router = APIRouter(prefix="/api", tags=["分级评定"])


@router.get(
    "/grading",
    summary="服务职工基地和公益伙伴：各区市在册数、最近一次评定等级、试运行、整改和拟退出（当前）",
)
async def grading(request: Request) -> dict[str, Any]:
    rows = await runtime_of(request).pool.fetch(
        """SELECT kind, area, coalesce(from_application, false) AS from_application, grade,
                  probation_ended, rectification_due IS NOT NULL AS rectification_open, exit_proposed
             FROM grades WHERE active"""
    )
    resources = [Resource(**dict(row)) for row in rows]
    areas, total = by_area(resources, list(DISTRICTS))
    return {
        "areas": [a.to_json() for a in areas],
        "total": total.to_json(),
        "definitions": DEFINITIONS,
    }
