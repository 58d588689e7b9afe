"""Intake's HTTP API: district systems submit forms, plans, facilities, service projects,
compliance facts and enrolment batches; every write takes an Idempotency-Key."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field

from huigong_events.reference import Programme
from huigong_platform import idempotency
from huigong_platform.principals import Principal, principal
from huigong_platform.refusals import FieldError
from huigong_platform.service import correlation_id_of, runtime_of

from ..adapters.sheets import SheetFormatError, read_rows
from ..commands import (
    AmendRequest,
    ApplicationRequest,
    EnrolmentBatch,
    FacilityRequest,
    FactRequest,
    PlanRequest,
    ProjectRequest,
    WindowRequest,
    WithdrawRequest,
    dispatch,
)
from ..domain.cycle import OpenSubmissionWindow
from ..domain.errors import InvalidCommand
from ..handlers import Intake
from ..projections.applications import STATUS_LABELS
from .common import IdempotencyKey, jsonable, parse_json_body, request_fingerprint, respond

router = APIRouter()
Caller = Annotated[Principal, Depends(principal)]


def intake_of(request: Request) -> Intake:
    handlers: Intake = runtime_of(request).extras["intake"]
    return handlers


async def run(request: Request, caller: Principal, key: str, payload: Any, work: Any) -> Response:
    runtime = runtime_of(request)
    outcome = await idempotency.once(
        runtime.pool,
        caller.id,
        key,
        idempotency.request_hash({"path": request.url.path, "body": jsonable(payload)}),
        work,
    )
    return respond(outcome)


async def command(
    request: Request,
    caller: Principal,
    key: str,
    name: str,
    body: BaseModel,
    application_id: uuid.UUID | None = None,
) -> Response:
    """Run a command through the same dispatch as the Kafka inbound consumer."""
    intake = intake_of(request)
    correlation = correlation_id_of(request)
    return await run(
        request,
        caller,
        key,
        body,
        lambda conn: dispatch(intake, conn, caller, correlation, name, body, application_id),
    )


# --- applications ------------------------------------------------------------------------------


@router.post("/applications", status_code=201, tags=["申报"], summary="报送申报表（附件3、4、5）")
async def submit_application(
    body: ApplicationRequest, request: Request, caller: Caller, key: IdempotencyKey
) -> Response:
    return await command(request, caller, key, "submit_application", body)


@router.put("/applications/{application_id}", tags=["申报"], summary="修改申报（评审开始前）")
async def amend_application(
    application_id: uuid.UUID, body: AmendRequest, request: Request, caller: Caller, key: IdempotencyKey
) -> Response:
    return await command(request, caller, key, "amend_application", body, application_id)


@router.post("/applications/{application_id}/withdrawal", tags=["申报"], summary="撤回申报（评审开始前）")
async def withdraw_application(
    application_id: uuid.UUID, body: WithdrawRequest, request: Request, caller: Caller, key: IdempotencyKey
) -> Response:
    return await command(request, caller, key, "withdraw_application", body, application_id)


@router.post(
    "/applications/{application_id}/plans",
    status_code=201,
    tags=["建设方案"],
    summary="报送三年规划或年度实施方案（批准建设后）",
)
async def submit_plan(
    application_id: uuid.UUID, body: PlanRequest, request: Request, caller: Caller, key: IdempotencyKey
) -> Response:
    return await command(request, caller, key, "submit_plan", body, application_id)


@router.post("/submission-windows", status_code=201, tags=["申报"], summary="开放补报窗口（市总工会）")
async def open_window(body: WindowRequest, request: Request, caller: Caller, key: IdempotencyKey) -> Response:
    intake = intake_of(request)
    correlation = correlation_id_of(request)
    command = OpenSubmissionWindow(
        year=body.year,
        opens_at=body.opens_at,
        closes_at=body.closes_at,
        reason=body.reason,
        submitter=body.submitter,
    )
    return await run(
        request, caller, key, body, lambda conn: intake.open_window(conn, caller, correlation, command)
    )


# --- reports -----------------------------------------------------------------------------------


@router.post("/facilities", status_code=201, tags=["设施与项目"], summary="报送建成设施")
async def report_facility(
    body: FacilityRequest, request: Request, caller: Caller, key: IdempotencyKey
) -> Response:
    return await command(request, caller, key, "report_facility", body)


@router.post("/service-projects", status_code=201, tags=["设施与项目"], summary="推荐服务职工项目（项目库）")
async def propose_project(
    body: ProjectRequest, request: Request, caller: Caller, key: IdempotencyKey
) -> Response:
    return await command(request, caller, key, "propose_project", body)


@router.post("/compliance-facts", status_code=201, tags=["合规事实"], summary="报送合规事实（数据交换）")
async def report_fact(body: FactRequest, request: Request, caller: Caller, key: IdempotencyKey) -> Response:
    return await command(request, caller, key, "report_fact", body)


# --- enrolments --------------------------------------------------------------------------------


@router.post(
    "/enrolments",
    tags=["新就业形态劳动者入会"],
    summary="批量报送入会（JSON）",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": EnrolmentBatch.model_json_schema()}},
        }
    },
)
async def enrol_json(request: Request, caller: Caller, key: IdempotencyKey) -> Response:
    # The body is read here rather than declared as a parameter: a batch is up to 10,000 rows
    # (several MB), and FastAPI's json.loads and pydantic's model_dump for the fingerprint took
    # four times what orjson does for both.
    body = parse_json_body(EnrolmentBatch, await request.body())
    fingerprint = request_fingerprint(request.url.path, {"rows": body.rows})
    intake = intake_of(request)
    correlation = correlation_id_of(request)
    rows = body.rows
    outcome = await idempotency.once(
        runtime_of(request).pool,
        caller.id,
        key,
        fingerprint,
        lambda conn: intake.enrol(conn, caller, correlation, rows),
    )
    return respond(outcome)


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
        raise InvalidCommand(FieldError("file", exc.zh, exc.en)) from None
    intake = intake_of(request)
    correlation = correlation_id_of(request)
    fingerprint = {"file": idempotency.request_hash(content.hex())}
    return await run(
        request, caller, key, fingerprint, lambda conn: intake.enrol(conn, caller, correlation, rows)
    )


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
