"""The metrics API: progress against every target (city-wide, per district, as of any day), the
series behind a chart, the targets and their changes, and the areas.

Reads answer from the projections (eventually consistent with the event log: a fact appears here
once the metrics consumer has applied it). The one write, `PUT /api/targets/{metric}` (the
command ChangeTarget), records a TargetChanged in the metrics service's own event store; the target list shows it once the
metrics.targets projection has applied it.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Final

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from huigong_events.plausible import AsOfDay, QueryYear
from huigong_events.reference import CITY_CODE, CITY_NAME, DISTRICTS, GROUP_UNIONS, area_name
from huigong_platform.application import from_request
from huigong_platform.database import DbConnection
from huigong_platform.exports import CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE, ExportFormat, exported
from huigong_platform.refusals import FieldError, Refusal
from huigong_platform.service import runtime_of
from huigong_platform.web import Caller, OptionalKey, run

from ...adapters import store
from ...commands import ChangeTarget, ShareTarget, TargetChangeRequest, TargetSharesRequest
from ...domain.counting import BEIJING, METRICS, Aggregation, Metric
from ...domain.progress import (
    CITY_OWN,
    Figures,
    Levels,
    by_area_codes,
    deadlines_before,
    figures_of,
    milestones,
    points_for,
    series,
)
from ...domain.targets import TargetKey, checked_area, json_number, metric_or_refuse

router = APIRouter(prefix="/api")
YearParam = Annotated[
    QueryYear | None,
    Query(description="年度：给出时为该年度的目标与完成情况；不给出时为至2025年底的累计"),
]
AreaParam = Annotated[
    str,
    Query(
        description="370200（全市，默认）、区市代码（如 370202）或集团工会代码（如 G-HAIER），也可填名称（如 市南区）"
    ),
]
AsOfParam = Annotated[
    AsOfDay | None, Query(description="截至日期 YYYY-MM-DD（默认今天，北京时间）：该日结束时的状态")
]
RealOnlyParam = Annotated[
    bool,
    Query(description="true：只计真实数据，不含模拟器生成的演示数据（完成率、状态和预测随之重算）"),
]
OWN_CITY_NAME: Final = "市本级"
MAX_SERIES_DAYS: Final = 3700
SERIES_FIRST_DAY: Final = date(2022, 1, 1)


def today() -> date:
    return datetime.now(BEIJING).date()


EARLIEST_DAY: Final = date(2000, 1, 1)
LATEST_DAY: Final = date(2100, 12, 31)


def checked_day(field: str, day: date) -> date:
    """Days the figures can be asked about: the programme's years, with room on either side."""
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise Refusal(
            FieldError(
                field,
                f"日期应在{EARLIEST_DAY.isoformat()}至{LATEST_DAY.isoformat()}之间",
                f"the date must be between {EARLIEST_DAY.isoformat()} and {LATEST_DAY.isoformat()}",
            )
        )
    return day


def _number(value: float | None, digits: int) -> int | float | None:
    if value is None:
        return None
    rounded = round(value, digits)
    return int(rounded) if rounded == int(rounded) else rounded


def figures_json(metric: Metric, figures: Figures) -> dict[str, Any]:
    share = metric.aggregation is Aggregation.SHARE
    return {
        "actual": _number(figures.actual, 4 if share else 0),
        "simulated_actual": _number(figures.simulated_actual, 4 if share else 0),
        "target": _number(figures.target, 4),
        "percent": _number(figures.percent, 1),
        "deadline": figures.deadline.isoformat() if figures.deadline else None,
        "required_per_day": _number(figures.required_per_day, 4 if share else 2),
        "required_per_month": _number(figures.required_per_month, 4 if share else 1),
        "forecast": _number(figures.forecast, 4 if share else 1),
        "status": figures.status.value if figures.status else None,
        "deadline_actual": _number(figures.deadline_actual, 4 if share else 0),
        "deadline_met": figures.deadline_met,
    }


async def target_values(conn: DbConnection, as_of: date) -> dict[TargetKey, Decimal]:
    """The targets in force at the end of `as_of`: a view of a past day judges by what had been
    set by then."""
    return {record.key: record.value for record in await store.current_targets(conn, as_of)}


_FIGURE_COLUMNS: Final = (
    ("title", "指标"),
    ("unit", "单位"),
    ("area", "区市或单位"),
    ("year", "年度"),
    ("as_of", "截至日期"),
    ("target", "目标"),
    ("actual", "完成（合计）"),
    ("real_actual", "其中真实数据"),
    ("simulated_actual", "其中演示数据"),
    ("percent", "完成率（%）"),
    ("status", "状态"),
)


def _figure_rows(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """The answer of /progress as a table: one row per metric and area (the area asked about,
    then, for the city, each district's and group union's share), real and simulated apart."""
    rows = []
    for metric in answer["metrics"]:
        parts = [{**metric, "name": answer["area_name"]}, *metric["by_area"]]
        for part in parts:
            simulated = part["simulated_actual"] or 0
            actual = part["actual"]
            rows.append(
                {
                    "title": metric["title"],
                    "unit": metric["unit"],
                    "area": part["name"],
                    "year": answer["year"] or "全部",
                    "as_of": date.fromisoformat(answer["as_of"]),
                    "target": part["target"],
                    "actual": actual,
                    "real_actual": None if actual is None else round(actual - simulated, 4),
                    "simulated_actual": simulated,
                    "percent": part["percent"],
                    "status": part["status"],
                }
            )
    return rows


@router.get(
    "/progress",
    tags=["进度"],
    summary="各项指标的完成进度（全市或某区市，可指定年度和截至日期；可导出 Excel 或 CSV）",
    description="format=xlsx 或 csv 时导出为表格：每项指标每个区市或单位一行，目标、完成数，真实数据和演示数据分列。",
    response_model=dict[str, Any],
    responses={200: {"content": {XLSX_MEDIA_TYPE: {}, CSV_MEDIA_TYPE: {}}}},
)
async def progress(
    request: Request,
    year: YearParam = None,
    area: AreaParam = CITY_CODE,
    as_of: AsOfParam = None,
    real_only: RealOnlyParam = False,
    format: Annotated[ExportFormat, Query(description="json（默认）、xlsx 或 csv")] = ExportFormat.json,
) -> Any:
    area = checked_area(area)
    as_of = checked_day("as_of", as_of or today())
    async with runtime_of(request).pool.acquire() as conn:
        targets = await target_values(conn, as_of)
        days = points_for(as_of, year) | deadlines_before(targets, as_of)
        levels = Levels(await store.levels_at(conn, days), real_only)
    metrics: list[dict[str, Any]] = []
    for metric in METRICS:
        if not metric.applies_to(area):
            continue
        figures = figures_of(metric, area, levels, targets, as_of, year)
        item: dict[str, Any] = {
            "metric": metric.code,
            "title": metric.title,
            "programme": metric.programme,
            "unit": metric.unit,
            "kind": metric.kind,
            **figures_json(metric, figures),
            "by_area": [],
        }
        if area == CITY_CODE:
            for code in by_area_codes(metric):
                scope = CITY_OWN if code == CITY_CODE else code
                part = figures_json(metric, figures_of(metric, scope, levels, targets, as_of, year))
                item["by_area"].append(
                    {
                        "area": code,
                        "name": OWN_CITY_NAME if code == CITY_CODE else area_name(code),
                        "actual": part["actual"],
                        "simulated_actual": part["simulated_actual"],
                        "target": part["target"],
                        "percent": part["percent"],
                        "deadline": part["deadline"],
                        "status": part["status"],
                        "deadline_actual": part["deadline_actual"],
                        "deadline_met": part["deadline_met"],
                    }
                )
        metrics.append(item)
    answer = {
        "as_of": as_of.isoformat(),
        "year": year,
        "area": area,
        "area_name": area_name(area),
        "real_only": real_only,
        "simulated": any(m["simulated_actual"] for m in metrics),
        "metrics": metrics,
    }
    if format is not ExportFormat.json:
        return exported(
            request, _figure_rows(answer), _FIGURE_COLUMNS, f"完成情况（{answer['area_name']}）", format
        )
    return answer


@router.get("/progress/{metric}/series", tags=["进度"], summary="某指标逐日累计完成数（用于折线图）")
async def progress_series(
    request: Request,
    metric: Annotated[str, Path(description="指标代码，如 members_enrolled")],
    area: AreaParam = CITY_CODE,
    first: Annotated[AsOfDay | None, Query(alias="from", description="起始日期（默认 2022-01-01）")] = None,
    last: Annotated[AsOfDay | None, Query(alias="to", description="截止日期（默认今天，北京时间）")] = None,
    real_only: RealOnlyParam = False,
) -> dict[str, Any]:
    found = metric_or_refuse(metric)
    area = checked_area(area)
    last = checked_day("to", last or today())
    first = checked_day("from", first or min(SERIES_FIRST_DAY, last))
    if first > last:
        raise Refusal(FieldError("from", "起始日期不能晚于截止日期", "from is after to"))
    if (last - first).days >= MAX_SERIES_DAYS:
        raise Refusal(
            FieldError(
                "from", f"一次最多查询{MAX_SERIES_DAYS}天", f"at most {MAX_SERIES_DAYS} days at a time"
            )
        )
    async with runtime_of(request).pool.acquire() as conn:
        deltas = await store.counter_deltas(conn, found.counter, last, real_only)
        targets = await target_values(conn, last)
    digits = 4 if found.aggregation is Aggregation.SHARE else 0
    return {
        "metric": found.code,
        "title": found.title,
        "unit": found.unit,
        "kind": found.kind,
        "area": area,
        "area_name": area_name(area),
        "points": [
            {"day": day.isoformat(), "actual": _number(value, digits)}
            for day, value in series(found, area, deltas, first, last)
        ],
        "targets": [
            {"deadline": goal.deadline.isoformat(), "target": json_number(goal.target)}
            for goal in milestones(found, area, targets)
        ],
    }


@router.get("/metrics", tags=["指标"], summary="指标定义：名称、单位、统计口径")
async def metric_definitions() -> list[dict[str, Any]]:
    return [
        {
            "metric": m.code,
            "title": m.title,
            "programme": m.programme,
            "unit": m.unit,
            "kind": m.kind,
            "year_measure": m.year_measure.value,
            "counted_from": m.counted_from,
        }
        for m in METRICS
    ]


@router.get("/areas", tags=["指标"], summary="区市、集团工会与全市的代码和名称")
async def areas() -> dict[str, Any]:
    return {
        "city": {"code": CITY_CODE, "name": CITY_NAME},
        "districts": [{"code": code, "name": name} for code, name in DISTRICTS.items()],
        "groups": [{"code": code, "name": name} for code, name in GROUP_UNIONS.items()],
    }


# --- targets -----------------------------------------------------------------------------------------


@router.get("/targets", tags=["目标"], summary="现行目标：目标值、来源（目标文件或调整记录）、调整人及原因")
async def list_targets(
    request: Request,
    as_of: Annotated[
        AsOfDay | None,
        Query(description="截至日期 YYYY-MM-DD（北京时间）：该日结束时有效的目标；不填为现行目标"),
    ] = None,
) -> list[dict[str, Any]]:
    async with runtime_of(request).pool.acquire() as conn:
        records = await store.current_targets(conn, as_of and checked_day("as_of", as_of))
    titles = {m.code: m.title for m in METRICS}
    order = {m.code: i for i, m in enumerate(METRICS)}
    records.sort(
        key=lambda r: (order.get(r.key.metric, 99), r.key.year or 9999, r.key.area != CITY_CODE, r.key.area)
    )
    return [
        {
            "metric": r.key.metric,
            "title": titles.get(r.key.metric, r.key.metric),
            "area": r.key.area,
            "area_name": area_name(r.key.area),
            "year": r.key.year,
            "deadline": r.key.deadline.isoformat(),
            "value": json_number(r.value),
            "source": "TargetChanged" if r.changes else f"targets.toml v{r.file_version}",
            "version": r.changes,
            "file_version": r.file_version,
            "file_value": json_number(r.baseline),
            "basis": r.basis,
            "changed_by": r.changed_by,
            "reason": r.reason,
            "changed_at": r.changed_at.isoformat() if r.changed_at else None,
        }
        for r in records
    ]


@router.put("/targets/{metric}", tags=["目标"], summary="调整目标（仅市总工会）：记录调整人和原因")
async def change_target(
    metric: str,
    body: TargetChangeRequest,
    request: Request,
    caller: Caller,
    key: OptionalKey = None,
) -> Response:
    # A PUT: the key is optional (sending the same change twice records it once either way).
    return await run(request, from_request(ChangeTarget, body, metric=metric), caller, key)


@router.put(
    "/targets/{metric}/shares",
    tags=["目标"],
    summary="分解目标到区市和集团工会（仅市总工会）：一次设定多个区市或集团工会的目标，记录调整人和原因",
    description="所列各项全部记录或全部不记录；与现行目标相同的不记录；未列出的区市不变。",
)
async def share_target(
    metric: str,
    body: TargetSharesRequest,
    request: Request,
    caller: Caller,
    key: OptionalKey = None,
) -> Response:
    # A PUT like a single change: sending the same shares twice records them once either way.
    return await run(request, from_request(ShareTarget, body, metric=metric), caller, key)
