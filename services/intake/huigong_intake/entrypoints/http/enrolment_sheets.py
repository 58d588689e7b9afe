"""Enrolment sheets as union staff work with them: the upload (CSV or .xlsx as offices make
them, answered in JSON or as a result sheet), and the template to fill in."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Final

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import Response

from huigong_events.reference import SUBMITTERS, Occupation
from huigong_platform.idempotency import Outcome
from huigong_platform.refusals import FieldError, Refusal
from huigong_platform.sheets import Grid, SheetFormatError, read_sheet, sheet_file
from huigong_platform.web import Caller, IdempotencyKey, execute, respond
from huigong_platform.workbooks import XLSX_MEDIA_TYPE, attachment, result_sheet, template, wants_sheet

from ...commands import Enrol
from ...domain.enrolments import COLUMNS, MAX_BATCH_ROWS, OCCUPATION_SYNONYMS, Column, may_report
from ...domain.sheet_headings import (
    HEADING_SEARCH_ROWS,
    HEADING_SYNONYMS,
    Table,
    column_of,
    locate_table,
    name_rows,
)
from .enrolment_imports import ImportJobView, scan, start_import

router = APIRouter()

_TEXT_COLUMNS: Final = (Column.身份证号.value, Column.手机号.value)
_ACCEPTED: Final = "已受理"
_REJECTED: Final = "未受理"
_LATER_AID: Final = "补报互助保障"


@router.post(
    "/enrolments/upload",
    tags=["新就业形态劳动者入会"],
    summary="批量报送入会（上传 CSV 或 Excel .xlsx）",
    description="上传入会名单（CSV：UTF-8 或 GBK；或 .xlsx 的第一个工作表）。表头行可在前"
    f"{HEADING_SEARCH_ROWS}行中的任一行（其上可有标题、日期等），列名可用文档所列的同义列名（如身份证号码、"
    "联系电话、入会时间），职业类别可用常用名称（如外卖配送员、骑手、网约车司机）。缺少必需的列时整个文件"
    "答 422，写明缺少的列和找到的表头。答复中的行号与 Excel 中显示的行号相同。"
    f"请求头 Accept: {XLSX_MEDIA_TYPE} 时，答复为结果表：所报的各行原样保留，加“结果”“原因”两列"
    "（用同一幂等键再次上传同一文件，可再次下载结果表，不会重复报送）。"
    f"CSV 或 .xlsx 文件超过{MAX_BATCH_ROWS}个数据行时，改为导入任务：答 202 和任务（同 POST /enrolments/imports）。",
    responses={
        200: {"content": {XLSX_MEDIA_TYPE: {}}, "description": "报送结果（JSON 或结果表）"},
        202: {"model": ImportJobView, "description": "文件超过同步上限，已作为导入任务开始"},
    },
)
async def enrol_upload(
    request: Request,
    caller: Caller,
    key: IdempotencyKey,
    file: Annotated[UploadFile, File(description="CSV（UTF-8 或 GBK）或 .xlsx，表头为中文列名")],
) -> Response:
    content = await file.read()
    filename = file.filename or file.content_type or ""
    if await _too_large_for_one_request(content, filename):
        return await start_import(request, caller, key, content, filename)
    try:
        sheet = read_sheet(content, filename)
    except SheetFormatError as exc:
        raise Refusal(FieldError("file", exc.zh, exc.en)) from None
    table = locate_table(sheet.lines) if isinstance(sheet, Grid) else name_rows(sheet)
    outcome = await execute(request, Enrol(rows=table.rows, first_row=table.first_row), caller, key)
    if not wants_sheet(request):
        return respond(outcome)
    lines = sheet.lines if isinstance(sheet, Grid) else _lines_of(table)
    body = _result_sheet(lines, table, outcome)
    headers = {"Content-Disposition": _attachment("入会报送结果.xlsx")}
    if outcome.replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(body, status_code=outcome.status_code, media_type=XLSX_MEDIA_TYPE, headers=headers)


# An .xlsx file of MAX_BATCH_ROWS rows is about 400 KB: a smaller one is never counted.
_XLSX_SMALL: Final = 256 * 1024


async def _too_large_for_one_request(content: bytes, filename: str) -> bool:
    """Whether a CSV or .xlsx upload holds more data rows than one request takes (it then
    becomes an import job). Counted line by line only when the file could be that large, so a
    normal upload is read once, as before."""
    kind = filename.strip().lower()
    if kind.endswith(".csv") or "csv" in kind or "ms-excel" in kind:
        if content.count(b"\n") <= MAX_BATCH_ROWS:
            return False
    elif len(content) <= _XLSX_SMALL or not content.startswith(b"PK"):
        return False
    try:
        file = sheet_file(content, filename)
        _, rows = await asyncio.to_thread(scan, content, file)
    except (SheetFormatError, Refusal):
        return False  # the synchronous path refuses it with its own words
    return rows > MAX_BATCH_ROWS


def _lines_of(table: Table) -> list[list[object]]:
    """A JSON upload laid out as a sheet: its keys as the heading row, then each row."""
    return [list(table.headings), *([row.get(h) for h in table.headings] for row in table.rows)]


def _result_sheet(lines: list[list[object]], table: Table, outcome: Outcome) -> bytes:
    answer: dict[str, Any] = outcome.body
    # A JSON upload's rows are numbered from 1; laid out as a sheet they sit below its headings.
    shift = 1 if table.heading_row is None else 0
    outcomes: dict[int, tuple[str, str]] = {row["row"] + shift: (_ACCEPTED, "") for row in answer["accepted"]}
    for row in answer["mutual_aid"]:
        outcomes[row["row"] + shift] = (_ACCEPTED, _LATER_AID)
    for row in answer["rejected"]:
        reasons = "；".join(f"{error['field']}：{error['zh']}" for error in row["errors"])
        outcomes[row["row"] + shift] = (_REJECTED, reasons)
    heading_row = table.heading_row or 1
    headings = [str(cell).strip() if cell is not None else "" for cell in lines[heading_row - 1]]
    text_columns = [i for i, heading in enumerate(headings) if _is_text_column(heading)]
    summary = [
        ("报送批次", answer["batch_id"]),
        ("报送单位", SUBMITTERS.get(answer["submitter"], answer["submitter"])),
        ("数据行数", len(answer["accepted"]) + len(answer["mutual_aid"]) + len(answer["rejected"])),
        ("已受理入会", len(answer["accepted"])),
        (_LATER_AID, len(answer["mutual_aid"])),
        (_REJECTED, len(answer["rejected"])),
    ]
    return result_sheet(
        lines,
        heading_row=heading_row,
        first_row=table.first_row + shift,
        outcomes=outcomes,
        text_columns=text_columns,
        summary=summary,
    )


def _is_text_column(heading: str) -> bool:
    column = column_of(heading) if heading else None
    return column is not None and column.value in _TEXT_COLUMNS


def _attachment(filename: str) -> str:
    return attachment(filename, "enrolment.xlsx")


# --- the template ------------------------------------------------------------------------------

_COLUMN_NOTES: Final[dict[Column, str]] = {
    Column.姓名: "必填。劳动者姓名，与身份证一致。",
    Column.身份证号: "必填。18位居民身份证号码，本列已设为文本格式；请勿改为数字格式，否则末几位会丢失。",
    Column.手机号: "必填。11位手机号码。",
    Column.职业类别: "必填。从下拉列表中选择：" + "、".join(Occupation) + "。",
    Column.平台企业: "必填。劳动者所在的平台企业名称，如美团、顺丰速运、滴滴出行。",
    Column.所属区市: "必填。从下拉列表中选择；区市总工会只能报送本区市的劳动者。也可填写区划代码（如370202）。",
    Column.入会日期: "必填。如2023-05-01、2023/5/1或2023年5月1日；不能晚于今天，不能早于劳动者年满16周岁。",
    Column.是否参加互助保障: "必填。是或否。",
}


def _instructions() -> list[list[str]]:
    lines = [
        ["新就业形态劳动者入会报送表 填写说明", ""],
        ["", ""],
        ["列名", "填写要求"],
        *([column.value, _COLUMN_NOTES[column]] for column in COLUMNS),
        ["", ""],
        ["上传", f"每个文件最多{MAX_BATCH_ROWS}行，上传 .xlsx（第一个工作表）或 CSV（UTF-8 或 GBK）。"],
        [
            "表头",
            f"表头行可以在前{HEADING_SEARCH_ROWS}行中的任一行，其上方可以有标题、填报单位、日期等；"
            "可以增加其他列（如序号、备注），系统不读取。",
        ],
        ["行号", "报送结果中的行号与 Excel 中显示的行号相同。"],
        ["", ""],
        ["可用的同义列名", ""],
        *([column.value, "、".join(HEADING_SYNONYMS[column])] for column in COLUMNS),
        ["", ""],
        ["职业类别的常用名称", ""],
        *([occupation.value, "、".join(OCCUPATION_SYNONYMS[occupation])] for occupation in Occupation),
    ]
    return lines


@router.get(
    "/enrolments/template",
    tags=["新就业形态劳动者入会"],
    summary="下载入会报送表模板（.xlsx）",
    description="入会报送表模板：表头、职业类别/所属区市/是否参加互助保障的下拉列表、设为文本格式的身份证号列，"
    "以及中文填写说明。区市总工会下载的模板中，所属区市只列本区市。",
    responses={200: {"content": {XLSX_MEDIA_TYPE: {}}, "description": "模板文件"}},
)
async def enrolment_template_file(caller: Caller) -> Response:
    own = caller.submitter
    # The districts and group unions this caller may enrol workers of (all, for city staff).
    areas = [name for code, name in SUBMITTERS.items() if own is None or may_report(own, code)]
    body = template(
        [column.value for column in COLUMNS],
        title="入会名单",
        text_columns=_TEXT_COLUMNS,
        date_columns=(Column.入会日期.value,),
        choices={
            Column.职业类别.value: [occupation.value for occupation in Occupation],
            Column.所属区市.value: areas,
            Column.是否参加互助保障.value: ["是", "否"],
        },
        instructions=_instructions(),
    )
    return Response(
        body, media_type=XLSX_MEDIA_TYPE, headers={"Content-Disposition": _attachment("入会报送表模板.xlsx")}
    )
