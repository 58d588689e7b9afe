"""Intake's HTTP API: district systems submit forms, plans, facilities, service projects,
compliance facts and enrolment batches; every write takes an Idempotency-Key."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field

from huigong_events.reference import Programme
from huigong_platform.application import from_request
from huigong_platform.refusals import FieldError, Refusal
from huigong_platform.service import runtime_of
from huigong_platform.web import Caller, IdempotencyKey, parse_json_body, run

from ...adapters.sheets import SheetFormatError, read_rows
from ...commands import (
    AmendRequest,
    ApplicationRequest,
    Enrol,
    FacilityRequest,
    FactRequest,
    OpenSubmissionWindow,
    PlanRequest,
    ProjectRequest,
    WindowRequest,
    WithdrawRequest,
    command_of,
)
from ...projections.applications import STATUS_LABELS

router = APIRouter()


# --- applications ------------------------------------------------------------------------------


@router.post("/applications", status_code=201, tags=["申报"], summary="报送申报表（附件3、4、5）")
async def submit_application(
    body: ApplicationRequest, request: Request, caller: Caller, key: IdempotencyKey
) -> Response:
    return await run(request, command_of("submit_application", body), caller, key)


@router.put("/applications/{application_id}", tags=["申报"], summary="修改申报（评审开始前）")
async def amend_application(
    application_id: uuid.UUID, body: AmendRequest, request: Request, caller: Caller, key: IdempotencyKey
) -> Response:
    return await run(request, command_of("amend_application", body, application_id), caller, key)


@router.post("/applications/{application_id}/withdrawal", tags=["申报"], summary="撤回申报（评审开始前）")
async def withdraw_application(
    application_id: uuid.UUID, body: WithdrawRequest, request: Request, caller: Caller, key: IdempotencyKey
) -> Response:
    return await run(request, command_of("withdraw_application", body, application_id), caller, key)


@router.post(
    "/applications/{application_id}/plans",
    status_code=201,
    tags=["建设方案"],
    summary="报送三年规划或年度实施方案（批准建设后）",
)
async def submit_plan(
    application_id: uuid.UUID, body: PlanRequest, request: Request, caller: Caller, key: IdempotencyKey
) -> Response:
    return await run(request, command_of("submit_plan", body, application_id), caller, key)


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


@router.post(
    "/enrolments/upload", tags=["新就业形态劳动者入会"], summary="批量报送入会（上传 CSV 或 Excel .xlsx）"
)
async def enrol_upload(
    request: Request,
    caller: Caller,
    key: IdempotencyKey,
    file: Annotated[UploadFile, File(description="CSV（UTF-8 或 GBK）或 .xlsx，首行为中文列名")],
) -> Response:
    content = await file.read()
    try:
        rows = read_rows(content, file.filename or file.content_type or "")
    except SheetFormatError as exc:
        raise Refusal(FieldError("file", exc.zh, exc.en)) from None
    return await run(request, Enrol(rows=rows), caller, key)


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


@router.get("/applications", tags=["查询"], summary="受理编号与申报状态（分页）")
async def list_applications(
    request: Request,
    caller: Caller,
    year: int | None = None,
    programme: Programme | None = None,
    submitter: str | None = Query(default=None, description="区市或单位代码"),
    status: Literal["submitted", "withdrawn", "accepted", "rejected", "scoring", "approved", "declined"]
    | None = None,
    page: int = Query(default=1, ge=1),
    page_size: int = Query(default=50, ge=1, le=500),
) -> ReceiptPage:
    own = caller.submitter
    if own is not None:
        submitter = own  # a district sees only its own records
    where, args = ["true"], []
    for column, value in (
        ("year", year),
        ("programme", programme.value if programme else None),
        ("submitter", submitter),
        ("status", status),
    ):
        if value is not None:
            args.append(value)
            where.append(f"{column} = ${len(args)}")
    pool = runtime_of(request).pool
    clause = " AND ".join(where)
    total = await pool.fetchval(f"SELECT count(*) FROM applications_view WHERE {clause}", *args)
    rows = await pool.fetch(
        f"""SELECT * FROM applications_view WHERE {clause}
            ORDER BY submitted_at DESC, application_id LIMIT {page_size} OFFSET {(page - 1) * page_size}""",
        *args,
    )
    items = [Receipt(**dict(r), status_label=STATUS_LABELS[r["status"]]) for r in rows]
    return ReceiptPage(total=total, page=page, page_size=page_size, items=items)
