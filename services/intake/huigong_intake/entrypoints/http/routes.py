"""Intake's HTTP API: district systems submit forms, plans, facilities, service projects,
compliance facts and enrolment batches; every write takes an Idempotency-Key."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Final

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from huigong_events.forms import SubmitterCode
from huigong_events.intake import SubmissionWindowOpened
from huigong_events.plausible import QueryYear
from huigong_events.reference import Programme
from huigong_events.upcasting import decode
from huigong_platform.application import from_request
from huigong_platform.eventstore import row_to_event
from huigong_platform.exports import (
    CSV_MEDIA_TYPE,
    EXPORT_MAX_ROWS,
    XLSX_MEDIA_TYPE,
    ExportFormat,
    exported,
)
from huigong_platform.service import runtime_of
from huigong_platform.web import Caller, IdempotencyKey, parse_json_body, run

from ...commands import (
    AmendRequest,
    ApplicationRequest,
    Enrol,
    FacilityRequest,
    FactRequest,
    OpenSubmissionWindow,
    PlanAmendmentRequest,
    PlanRequest,
    ProjectRequest,
    WindowRequest,
    WithdrawRequest,
    command_of,
)
from ...domain import applications as apps
from ...domain import cycle
from ...policy import no_such_application
from ...projections.applications import STATUS_LABELS, ApplicationStatus
from .references import ApplicationRef, resolve
from .views import application_view

router = APIRouter()


# --- applications ------------------------------------------------------------------------------


@router.post("/applications", status_code=201, tags=["申报"], summary="报送申报表（附件3、4、5）")
async def submit_application(
    body: ApplicationRequest, request: Request, caller: Caller, key: IdempotencyKey
) -> Response:
    return await run(request, command_of("submit_application", body), caller, key)


@router.put("/applications/{application_id}", tags=["申报"], summary="修改申报（受理前）")
async def amend_application(
    application_id: ApplicationRef, body: AmendRequest, request: Request, caller: Caller, key: IdempotencyKey
) -> Response:
    command = command_of("amend_application", body, await resolve(request, application_id))
    return await run(request, command, caller, key)


@router.post("/applications/{application_id}/withdrawal", tags=["申报"], summary="撤回申报（评审开始前）")
async def withdraw_application(
    application_id: ApplicationRef,
    body: WithdrawRequest,
    request: Request,
    caller: Caller,
    key: IdempotencyKey,
) -> Response:
    command = command_of("withdraw_application", body, await resolve(request, application_id))
    return await run(request, command, caller, key)


@router.post(
    "/applications/{application_id}/plans",
    status_code=201,
    tags=["建设方案"],
    summary="报送三年规划或年度实施方案（确定为建设单位后）",
    description="确定为建设单位后，报送三年规划和三年规划第一年的年度实施方案，供评审专家评审；"
    "批准建设后，每年报送下一年度的实施方案。同一方案不能重复报送（409，请修改）。",
)
async def submit_plan(
    application_id: ApplicationRef, body: PlanRequest, request: Request, caller: Caller, key: IdempotencyKey
) -> Response:
    command = command_of("submit_plan", body, await resolve(request, application_id))
    return await run(request, command, caller, key)


@router.post(
    "/applications/{application_id}/plans/amendments",
    tags=["建设方案"],
    summary="修改已报送的三年规划或年度实施方案（评审开始前）",
    description="以新方案替换已报送的三年规划或同一年度的实施方案，须写明理由。评审专家开始打分后，"
    "三年规划和首个年度实施方案不能再修改（409）；批准建设后报送的以后年度实施方案可以修改。",
)
async def amend_plan(
    application_id: ApplicationRef,
    body: PlanAmendmentRequest,
    request: Request,
    caller: Caller,
    key: IdempotencyKey,
) -> Response:
    command = command_of("amend_plan", body, await resolve(request, application_id))
    return await run(request, command, caller, key)


@router.post("/submission-windows", status_code=201, tags=["申报"], summary="开放补报窗口（市总工会）")
async def open_window(body: WindowRequest, request: Request, caller: Caller, key: IdempotencyKey) -> Response:
    return await run(request, from_request(OpenSubmissionWindow, body), caller, key)


# --- reports -----------------------------------------------------------------------------------


@router.post("/facilities", status_code=201, tags=["设施与项目"], summary="报送建成设施")
async def report_facility(
    body: FacilityRequest, request: Request, caller: Caller, key: IdempotencyKey
) -> Response:
    return await run(request, body, caller, key)


@router.post("/service-projects", status_code=201, tags=["设施与项目"], summary="推荐服务职工项目（项目库）")
async def propose_project(
    body: ProjectRequest, request: Request, caller: Caller, key: IdempotencyKey
) -> Response:
    return await run(request, body, caller, key)


@router.post("/compliance-facts", status_code=201, tags=["合规事实"], summary="报送合规事实（数据交换）")
async def report_fact(body: FactRequest, request: Request, caller: Caller, key: IdempotencyKey) -> Response:
    return await run(request, body, caller, key)


# --- enrolments --------------------------------------------------------------------------------


@router.post(
    "/enrolments",
    tags=["新就业形态劳动者入会"],
    summary="批量报送入会（JSON）",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": Enrol.model_json_schema()}},
        }
    },
)
async def enrol_json(request: Request, caller: Caller, key: IdempotencyKey) -> Response:
    # The body is read here rather than declared as a parameter: a batch is up to 10,000 rows
    # (several MB), and FastAPI's json.loads costs twice what orjson does.
    return await run(request, parse_json_body(Enrol, await request.body()), caller, key)


# --- queries -----------------------------------------------------------------------------------


class Receipt(BaseModel):
    application_id: uuid.UUID
    receipt_no: str | None = Field(title="受理编号")
    year: int = Field(title="申报年度")
    programme: Programme = Field(title="工作任务")
    submitter: str = Field(title="申报区市或单位")
    name: str = Field(title="名称")
    status: str
    status_label: str = Field(title="状态")
    submitted_at: datetime
    updated_at: datetime
    amendments: int
    plans: int


class ReceiptPage(BaseModel):
    total: int
    page: int
    page_size: int
    items: list[Receipt]


_APPLICATION_COLUMNS: Final = (
    ("receipt_no", "受理编号"),
    ("year", "申报年度"),
    ("programme", "工作任务"),
    ("submitter", "申报区市或单位"),
    ("name", "名称"),
    ("status", "状态"),
    ("submitted_at", "报送时间"),
    ("updated_at", "更新时间"),
    ("amendments", "修改次数"),
    ("plans", "建设方案数"),
)


@router.get(
    "/applications",
    tags=["查询"],
    summary="受理编号与申报状态（分页；可导出 Excel 或 CSV）",
    description="按年度、工作任务、区市或单位、状态筛选。format=xlsx 或 csv 时不分页，导出全部符合条件的申报"
    f"（最多{EXPORT_MAX_ROWS}行），列名和取值为中文。区市和集团工会只能看到和导出本单位的申报。",
    response_model=ReceiptPage,
    responses={200: {"content": {XLSX_MEDIA_TYPE: {}, CSV_MEDIA_TYPE: {}}}},
)
async def list_applications(
    request: Request,
    caller: Caller,
    year: Annotated[QueryYear | None, Query(description="申报年度（2022–2100）")] = None,
    programme: Programme | None = None,
    submitter: Annotated[SubmitterCode | None, Query(description="区市或单位代码或名称")] = None,
    status: ApplicationStatus | None = None,
    page: int = Query(default=1, ge=1),
    page_size: int = Query(default=50, ge=1, le=500),
    format: Annotated[ExportFormat, Query(description="json（默认）、xlsx 或 csv")] = ExportFormat.json,
) -> ReceiptPage | Response:
    own = caller.submitter
    if own is not None:
        submitter = own  # a district sees only its own records
    where, args = ["true"], []
    for column, value in (
        ("year", year),
        ("programme", programme.value if programme else None),
        ("submitter", submitter),
        ("status", status.value if status else None),
    ):
        if value is not None:
            args.append(value)
            where.append(f"{column} = ${len(args)}")
    pool = runtime_of(request).pool
    clause = " AND ".join(where)
    if format is not ExportFormat.json:
        page, page_size = 1, EXPORT_MAX_ROWS
    total = await pool.fetchval(f"SELECT count(*) FROM applications_view WHERE {clause}", *args)
    rows = await pool.fetch(
        f"""SELECT * FROM applications_view WHERE {clause}
            ORDER BY submitted_at DESC, application_id LIMIT {page_size} OFFSET {(page - 1) * page_size}""",
        *args,
    )
    items = [Receipt(**dict(r), status_label=STATUS_LABELS[r["status"]]) for r in rows]
    if format is not ExportFormat.json:
        listed = [{**item.model_dump(), "status": item.status_label} for item in items]
        return exported(request, listed, _APPLICATION_COLUMNS, "申报列表", format)
    return ReceiptPage(total=total, page=page, page_size=page_size, items=items)


@router.get(
    "/applications/{application_id}",
    tags=["查询"],
    summary="一份申报：受理编号、状态及其变化、申报表、建设方案",
    description="按申报编号或受理编号查询一份申报：现行申报表、修改和撤回记录、状态变化（已提交、已受理、"
    "已确定为建设单位……，各自的时间）以及报送和修改的建设方案（三年规划、各年度实施方案，及其修改记录）。"
    "区市和集团工会只能查看本单位的申报（其他的答 404）。",
)
async def get_application(application_id: ApplicationRef, request: Request, caller: Caller) -> dict[str, Any]:
    found = await resolve(request, application_id)
    pool = runtime_of(request).pool
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        rows = await conn.fetch(
            "SELECT * FROM events WHERE aggregate_type = 'application' AND aggregate_id = $1 ORDER BY aggregate_version",
            str(found),
        )
        view = await conn.fetchrow("SELECT status FROM applications_view WHERE application_id = $1", found)
        history = await conn.fetch(
            "SELECT status, at FROM application_status_history WHERE application_id = $1 ORDER BY at, status",
            found,
        )
    records = [row_to_event(row) for row in rows]
    state = apps.replay(decode(record) for record in records)
    if state is None or (caller.submitter is not None and caller.submitter != state.submitter):
        raise no_such_application()
    status = view["status"] if view is not None else "submitted"
    windows = await _windows(request, state.year)
    late = cycle.late_window(state.year, state.submitter, records[0].occurred_at, windows)
    window = next((w for ref, w in windows if ref == late), None)
    answer = application_view(state, records, status, [(r["status"], r["at"]) for r in history])
    answer["late"] = (
        None
        if late is None or window is None
        else {"label": "补报", "window_ref": late, "window_reason": window.reason}
    )
    return answer


async def _windows(request: Request, year: int | None) -> list[tuple[str, SubmissionWindowOpened]]:
    """Every exception window (of `year`, if given) with its reference: the id of the event that
    opened it."""
    rows = await runtime_of(request).pool.fetch(
        """SELECT * FROM events WHERE aggregate_type = 'intake-cycle' AND type = 'SubmissionWindowOpened'
           AND ($1::int IS NULL OR aggregate_id = $1::text) ORDER BY position""",
        year,
    )
    found = []
    for row in rows:
        record = row_to_event(row)
        event = decode(record)
        assert isinstance(event, SubmissionWindowOpened)
        found.append((str(record.id), event))
    return found


@router.get(
    "/submission-windows",
    tags=["申报"],
    summary="补报窗口（一个区市或单位看到为其开放的和对所有开放的）",
    description="市总工会开放的补报窗口：年度、开放和关闭时间、适用的区市或单位（空为全部）、原因，以及现在是否开放。"
    "在窗口内、截止日期后受理的申报，在 GET /applications/{id} 中标为“补报”，并给出窗口编号。",
)
async def list_windows(
    request: Request,
    caller: Caller,
    year: Annotated[int | None, Query(ge=2022, le=2100, description="申报年度")] = None,
    open_only: Annotated[bool, Query(description="只列现在开放的")] = False,
) -> dict[str, Any]:
    now = datetime.now(UTC)
    items = []
    for ref, window in await _windows(request, year):
        if not cycle.window_visible(window, caller.submitter):
            continue
        is_open = window.opens_at <= now < window.closes_at
        if open_only and not is_open:
            continue
        items.append(
            {
                "window_ref": ref,
                "year": window.year,
                "opens_at": window.opens_at.isoformat(),
                "closes_at": window.closes_at.isoformat(),
                "submitter": window.submitter,
                "reason": window.reason,
                "open": is_open,
                "open_label": "开放中" if is_open else "未开放或已关闭",
            }
        )
    return {"items": items}
