"""Import jobs for enrolment sheets above the synchronous limit: the upload (`POST
/enrolments/imports`, or `POST /enrolments/upload` with a file too large for one request), the
job's progress, the list of a district's jobs, cancelling one, and its result sheet.

The upload is checked as a whole before anything is stored (format, encoding, the heading row
and the required columns: 422 like the synchronous upload), then staged in the database and the
job started through the command path; intake's import worker reads it
(`entrypoints/jobs/enrolment_imports.py`).
"""

from __future__ import annotations

import asyncio
import csv
import io
import tempfile
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from itertools import chain, islice
from pathlib import Path
from typing import Annotated, Any, Final, Literal
from urllib.parse import quote

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import FileResponse, Response, StreamingResponse
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from huigong_events.reference import SUBMITTERS
from huigong_platform.principals import Principal, Role
from huigong_platform.refusals import Conflict, FieldError, Refusal
from huigong_platform.service import runtime_of
from huigong_platform.sheets import SheetFile, SheetFormatError, lines_in_memory, sheet_file
from huigong_platform.web import Caller, IdempotencyKey, execute, respond, run
from huigong_platform.workbooks import XLSX_MEDIA_TYPE, ImportResultBook

from ...adapters import import_jobs as jobs
from ...commands import CancelEnrolmentImport, StartEnrolmentImport
from ...domain.import_jobs import MAX_IMPORT_ROWS, RESULT_LABELS
from ...domain.sheet_headings import HEADING_SEARCH_ROWS, HeadingRow, locate_headings
from ...policy import may_see_import, no_such_import

router = APIRouter()

TAG: Final = "新就业形态劳动者入会"
CSV_MEDIA_TYPE: Final = "text/csv; charset=utf-8"
# The job id of an upload is its uploader's Idempotency-Key's: a retry of the upload names the
# same job, so the command's fingerprint (job and file digest) is the same and it answers the
# first outcome.
_JOB_IDS: Final = uuid.UUID("5f0d2a4e-8f7b-4a51-9d0c-6b3e2a1c7e90")


class ImportJobView(BaseModel):
    job_id: str = Field(title="任务编号")
    submitter: str = Field(title="报送单位")
    filename: str = Field(title="文件名")
    format: Literal["csv", "xlsx"] = Field(title="文件格式")
    status: Literal["queued", "running", "completed", "cancelled", "failed"] = Field(
        title="状态",
        description="queued 排队中 · running 进行中 · completed 已完成 · cancelled 已取消 · failed 失败",
    )
    status_label: str = Field(title="状态（中文）")
    rows_total: int = Field(title="数据行数", description="上传时文件中的非空数据行数")
    rows_read: int = Field(title="已读行数")
    accepted: int = Field(title="已受理入会")
    mutual_aid: int = Field(title="补报互助保障")
    rejected: int = Field(title="未受理")
    percent: float = Field(title="进度（%）")
    seconds_left: float | None = Field(
        title="预计剩余秒数", description="按本次运行的速度估算；尚未开始时为空"
    )
    failure: str | None = Field(title="失败原因")
    created_at: datetime = Field(title="上传时间")
    started_at: datetime | None = Field(title="开始时间")
    finished_at: datetime | None = Field(title="结束时间")


class ImportJobList(BaseModel):
    items: list[ImportJobView]


def job_id_for(caller: Principal, key: str) -> uuid.UUID:
    return uuid.uuid5(_JOB_IDS, f"{caller.id}\n{key}")


def scan(content: bytes, file: SheetFile) -> tuple[HeadingRow, int]:
    """The heading row and the number of data rows (blank lines not counted), reading the file
    line by line."""
    lines = lines_in_memory(content, file)
    top = list(islice(lines, HEADING_SEARCH_ROWS))
    headings = locate_headings(top)
    count = 0
    for line in chain(top[headings.index + 1 :], lines):
        count += any(v is not None for v in headings.row(line).values())
    return headings, count


async def start_import(
    request: Request, caller: Principal, key: str, content: bytes, filename: str
) -> Response:
    """Check an upload as a whole, stage it and start its job (202 with the job)."""
    try:
        file = sheet_file(content, filename)
        headings, rows = await asyncio.to_thread(scan, content, file)
    except SheetFormatError as exc:
        raise Refusal(FieldError("file", exc.zh, exc.en)) from None
    if rows == 0:
        raise Refusal(FieldError("file", "报送表中没有数据行", "the sheet has no rows"))
    if rows > MAX_IMPORT_ROWS:
        raise Refusal(
            FieldError(
                "file",
                f"一个文件最多{MAX_IMPORT_ROWS}行，本文件有{rows}行，请分成几个文件",
                f"a file has at most {MAX_IMPORT_ROWS} rows, this one has {rows}; split it",
            )
        )
    submitter = caller.submitter
    assert submitter is not None  # the policy lets only districts, group unions and the simulator
    job_id = job_id_for(caller, key)
    pool = runtime_of(request).pool
    digest = await jobs.stage(
        pool,
        job_id,
        submitter=submitter,
        principal=caller.id,
        filename=filename[:200],
        file=file,
        content=content,
        headings=headings,
        rows_total=rows,
        vault=runtime_of(request).extras["vault"],
    )
    try:
        outcome = await execute(request, StartEnrolmentImport(job_id=job_id, sha256=digest), caller, key)
    except Refusal:
        await jobs.discard_staged(pool, job_id)
        raise
    response = respond(outcome)
    response.headers["Location"] = f"enrolments/imports/{job_id}"
    return response


@router.post(
    "/enrolments/imports",
    tags=[TAG],
    summary="上传大文件入会名单（导入任务，最多100万行）",
    description=f"与 /enrolments/upload 相同的 CSV 或 .xlsx（表头、同义列名、行号规则相同），最多{MAX_IMPORT_ROWS}行。"
    "文件整体检查（格式、编码、表头和必需的列）后保存，答 202 和任务；受理服务分块读取，每块在一个事务中记录已受理的行"
    "和任务进度，服务重启后从断点继续，不会重复记录。用 GET /enrolments/imports/{job_id} 查看进度，"
    "结束后用 …/result 下载结果表（姓名、身份证号、手机号已脱敏）。",
    status_code=202,
    response_model=ImportJobView,
)
async def upload_import(
    request: Request,
    caller: Caller,
    key: IdempotencyKey,
    file: Annotated[UploadFile, File(description="CSV（UTF-8 或 GBK）或 .xlsx，表头为中文列名")],
) -> Response:
    content = await file.read()
    return await start_import(request, caller, key, content, file.filename or file.content_type or "")


async def _visible(request: Request, caller: Principal, job_id: uuid.UUID) -> jobs.ImportJob:
    async with runtime_of(request).pool.acquire() as conn:
        job = await jobs.get(conn, job_id)
    if job is None or not may_see_import(caller, job.submitter):
        raise no_such_import()
    return job


@router.get(
    "/enrolments/imports/{job_id}",
    tags=[TAG],
    summary="导入任务的进度",
    description="已读、已受理、未受理的行数和预计剩余时间。只有上传的区市或单位（及运维人员）能看到。",
    response_model=ImportJobView,
)
async def import_job(request: Request, caller: Caller, job_id: uuid.UUID) -> dict[str, Any]:
    return (await _visible(request, caller, job_id)).view()


@router.get(
    "/enrolments/imports",
    tags=[TAG],
    summary="本区市或本单位的导入任务（新的在前）",
    description="区市和集团工会只看到自己的导入任务；运维人员可看全部，或以 submitter 指明一个。",
    response_model=ImportJobList,
)
async def import_jobs(
    request: Request,
    caller: Caller,
    submitter: str | None = Query(default=None, description="区市或单位代码（仅运维人员）"),
    limit: int = Query(default=50, ge=1, le=500),
) -> dict[str, Any]:
    own = caller.submitter
    if own is not None:
        submitter = own
    elif caller.role is not Role.OPS:  # the policy lets no one else here; said again for clarity
        raise no_such_import()
    elif submitter is not None and submitter not in SUBMITTERS:
        raise Refusal(
            FieldError("submitter", "没有这个区市或单位", f"no district or group union {submitter!r}")
        )
    async with runtime_of(request).pool.acquire() as conn:
        found = await jobs.list_of(conn, submitter, limit)
    return {"items": [job.view() for job in found]}


@router.post(
    "/enrolments/imports/{job_id}/cancel",
    tags=[TAG],
    summary="取消导入任务",
    description="停止读取文件：已记录的行保留（它们的入会申请已报送），其余不再读取；结果表列出已读的行。"
    "已结束的任务答 409。",
    response_model=ImportJobView,
)
async def cancel_import(request: Request, caller: Caller, key: IdempotencyKey, job_id: uuid.UUID) -> Response:
    return await run(request, CancelEnrolmentImport(job_id=job_id), caller, key)


@router.get(
    "/enrolments/imports/{job_id}/result",
    tags=[TAG],
    summary="下载导入任务的结果表（.xlsx 或 CSV）",
    description="任务结束（已完成、已取消或失败）后：每个已读的数据行一行，行号为其在上传文件中的 Excel 行号，"
    "原样列出各列（姓名、身份证号、手机号已脱敏，如 370202********1234），加“结果”“原因”两列；"
    ".xlsx 另有“汇总”表。任务未结束时答 409。",
    responses={200: {"content": {XLSX_MEDIA_TYPE: {}, CSV_MEDIA_TYPE: {}}, "description": "结果表"}},
)
async def import_result(
    request: Request,
    caller: Caller,
    job_id: uuid.UUID,
    format: Literal["xlsx", "csv"] = Query(default="xlsx", description="xlsx 或 csv（UTF-8，带 BOM）"),
) -> Response:
    job = await _visible(request, caller, job_id)
    if job.open:
        raise Conflict(
            FieldError("job_id", "导入任务尚未结束，结束后才能下载结果表", "the import job has not ended yet")
        )
    pool = runtime_of(request).pool
    headings = ["行号", *job.headings, "结果", "原因"]
    width = len(job.headings)

    def line(row: Any) -> list[object]:
        cells = list(row["cells"])
        return [
            row["row_number"],
            *cells,
            *[""] * (width - len(cells)),
            RESULT_LABELS[row["result"]],
            row["reason"],
        ]

    if format == "csv":

        async def text() -> AsyncIterator[bytes]:
            out = io.StringIO()
            writer = csv.writer(out)
            out.write("\ufeff")  # so Excel in a Chinese locale opens it as UTF-8
            writer.writerow(headings)
            async with pool.acquire() as conn, conn.transaction():
                async for row in jobs.result_rows(conn, job.job_id):
                    writer.writerow(line(row))
                    if out.tell() > 1 << 16:
                        yield out.getvalue().encode()
                        out.seek(0)
                        out.truncate()
            yield out.getvalue().encode()

        return StreamingResponse(
            text(), media_type=CSV_MEDIA_TYPE, headers={"Content-Disposition": _attachment("csv")}
        )
    # A workbook of up to a million rows is written to a temporary file page by page (openpyxl's
    # write-only mode), off the event loop, and sent from there.
    folder = Path(tempfile.mkdtemp(prefix="huigong-import-result-"))
    path = folder / "result.xlsx"
    book = ImportResultBook(headings)
    page: list[list[object]] = []
    async with pool.acquire() as conn, conn.transaction():
        async for row in jobs.result_rows(conn, job.job_id):
            page.append(line(row))
            if len(page) >= jobs.RESULT_PAGE:
                await asyncio.to_thread(book.add, page)
                page = []
    await asyncio.to_thread(book.add, page)
    summary = [
        ("任务编号", str(job.job_id)),
        ("报送单位", SUBMITTERS.get(job.submitter, job.submitter)),
        ("文件名", job.filename),
        ("状态", job.view()["status_label"]),
        ("数据行数", job.rows_total),
        ("已读行数", job.rows_read),
        ("已受理入会", job.accepted),
        ("补报互助保障", job.mutual_aid),
        ("未受理", job.rejected),
    ]
    await asyncio.to_thread(book.save, path, summary)
    return FileResponse(
        path,
        media_type=XLSX_MEDIA_TYPE,
        headers={"Content-Disposition": _attachment("xlsx")},
        background=BackgroundTask(_remove, folder),
    )


def _remove(folder: Path) -> None:
    for child in folder.iterdir():
        child.unlink(missing_ok=True)
    folder.rmdir()


def _attachment(extension: str) -> str:
    return f"attachment; filename=\"enrolment-import.{extension}\"; filename*=UTF-8''{quote('入会导入结果.' + extension)}"
