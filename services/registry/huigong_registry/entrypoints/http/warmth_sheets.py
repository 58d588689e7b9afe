"""送温暖 delivery sheets as union staff work with them: the template to fill in, and the upload
(CSV or .xlsx as offices make them), answered row by row in JSON or as a result sheet.

Each row is the delivery command (`DeliverWarmth`) run through the command path on its own, as
if the union had sent it as JSON: a flagged repeat without its reason, an over-budget amount or
an unknown member refuses that row with the reason beside it, and the rows before and after are
recorded all the same. The rows run in order, so a row that overdraws the fund after the rows
above it drew on it is refused for what those left. Each row's idempotency key is derived from
the upload's key and the row's number: the same file sent again with the same key records
nothing twice (the recorded rows answer as they did; a refused row is tried again)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Annotated, Any, Final

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import Response
from pydantic import ValidationError

from huigong_events.warmth import DeliveryStatus, Festival, Occasion, WarmthForm
from huigong_platform import logs
from huigong_platform.errors import validation_errors
from huigong_platform.idempotency import Outcome
from huigong_platform.refusals import FieldError, Refusal
from huigong_platform.sheets import (
    HEADING_SEARCH_ROWS,
    Grid,
    SheetFormatError,
    Table,
    locate_table,
    read_sheet,
)
from huigong_platform.sheets import name_rows as _name_rows
from huigong_platform.web import Caller, IdempotencyKey, execute, respond
from huigong_platform.workbooks import XLSX_MEDIA_TYPE, attachment, result_sheet, template, wants_sheet

from ...commands import DeliverWarmth
from ...domain.warmth_sheets import (
    COLUMNS,
    HEADINGS,
    MAX_ROWS,
    OPTIONAL,
    SYNONYMS,
    Column,
    body_of,
    in_columns,
)

router = APIRouter(tags=["送温暖"])
log = logs.get(__name__)

_TEXT_COLUMNS: Final = (Column.成员标识.value, Column.联系电话.value, Column.佐证编号.value)
_RECORDED: Final = "已记录"
_REFUSED: Final = "未记录"


def _row_key(key: str, row: int) -> str:
    # The upload's key may already be as long as a key may be: a digest of it, with the row.
    return f"sheet:{hashlib.sha256(key.encode()).hexdigest()[:32]}:{row}"


@router.post(
    "/warmth/deliveries/upload",
    summary="批量记录送温暖（上传 CSV 或 Excel .xlsx）",
    description="上传送温暖发放名单（CSV：UTF-8 或 GBK；或 .xlsx 的第一个工作表），每行记录一次送温暖，"
    f"与逐条记录的规则相同。表头行可在前{HEADING_SEARCH_ROWS}行中的任一行，列名可用文档所列的同义列名。"
    "每行单独记录：重复送温暖未说明原因、超出预算、成员不存在等的行不记录，原因写在该行；其他行照常记录。"
    f"每个文件最多{MAX_ROWS}行。答复中的行号与 Excel 中显示的行号相同。"
    f"请求头 Accept: {XLSX_MEDIA_TYPE} 时，答复为结果表：所报的各行原样保留，加“结果”“原因”两列。"
    "用同一幂等键再次上传同一文件，已记录的行不会重复记录。",
    responses={200: {"content": {XLSX_MEDIA_TYPE: {}}, "description": "逐行结果（JSON 或结果表）"}},
)
async def upload_deliveries(
    request: Request,
    caller: Caller,
    key: IdempotencyKey,
    file: Annotated[UploadFile, File(description="CSV（UTF-8 或 GBK）或 .xlsx，表头为中文列名")],
) -> Response:
    content = await file.read()
    try:
        sheet = read_sheet(content, file.filename or file.content_type or "")
    except SheetFormatError as exc:
        raise Refusal(FieldError("file", exc.zh, exc.en)) from None
    table = locate_table(sheet.lines, HEADINGS) if isinstance(sheet, Grid) else _name_rows(sheet, HEADINGS)
    if len(table.rows) > MAX_ROWS:
        raise Refusal(
            FieldError(
                "file",
                f"每个文件最多{MAX_ROWS}行，本文件有{len(table.rows)}行，请分成几个文件上传",
                f"at most {MAX_ROWS} rows a file; this one has {len(table.rows)}: split it",
            )
        )
    recorded: list[dict[str, Any]] = []
    refused: list[dict[str, Any]] = []
    replayed = 0
    for offset, row in enumerate(table.rows):
        number = table.first_row + offset
        if all(value is None for value in row.values()):
            continue  # a blank line between rows
        try:
            command = DeliverWarmth.model_validate(body_of(row))
        except ValidationError as exc:
            refused.append(_refusal(number, in_columns(validation_errors(exc.errors()))))
            continue
        try:
            outcome = await execute(request, command, caller, _row_key(key, number))
        except Refusal as refusal:
            refused.append(_refusal(number, in_columns(list(refusal.errors))))
            continue
        replayed += outcome.replayed
        recorded.append(_recorded(number, outcome))
    log.info(
        "warmth sheet uploaded",
        union=caller.submitter,
        rows=len(recorded) + len(refused),
        recorded=len(recorded),
        refused=len(refused),
        replayed=replayed,
    )
    answer = {
        "union": caller.submitter,
        "rows": len(recorded) + len(refused),
        "recorded": recorded,
        "refused": refused,
    }
    if not wants_sheet(request):
        return respond(Outcome(200, answer, replayed=bool(recorded) and replayed == len(recorded)))
    lines = sheet.lines if isinstance(sheet, Grid) else _lines_of(table)
    return Response(
        _result_sheet(lines, table, answer),
        media_type=XLSX_MEDIA_TYPE,
        headers={"Content-Disposition": attachment("送温暖记录结果.xlsx", "warmth-deliveries.xlsx")},
    )


def _refusal(row: int, errors: Sequence[FieldError]) -> dict[str, Any]:
    return {"row": row, "errors": [{"field": e.field, "zh": e.zh, "en": e.en} for e in errors]}


def _recorded(row: int, outcome: Outcome) -> dict[str, Any]:
    body: dict[str, Any] = outcome.body
    status = DeliveryStatus(body["status"])
    return {
        "row": row,
        "delivery_id": body["delivery_id"],
        "status": status.value,
        "status_label": status.label,
        "repeat": body.get("repeat_reason") is not None,
        "amount": body["amount"],
    }


def _lines_of(table: Table) -> list[list[object]]:
    """A JSON upload laid out as a sheet: its keys as the heading row, then each row."""
    return [list(table.headings), *([row.get(h) for h in table.headings] for row in table.rows)]


def _result_sheet(lines: list[list[object]], table: Table, answer: dict[str, Any]) -> bytes:
    # A JSON upload's rows are numbered from 1; laid out as a sheet they sit below its headings.
    shift = 1 if table.heading_row is None else 0
    outcomes: dict[int, tuple[str, str]] = {}
    for row in answer["recorded"]:
        note = "待市总工会审批" if row["status"] == DeliveryStatus.待审批.value else ""
        if row["repeat"]:
            note = "；".join(filter(None, ["重复送温暖（已说明原因）", note]))
        outcomes[row["row"] + shift] = (_RECORDED, note)
    for row in answer["refused"]:
        reasons = "；".join(f"{error['field']}：{error['zh']}" for error in row["errors"])
        outcomes[row["row"] + shift] = (_REFUSED, reasons)
    heading_row = table.heading_row or 1
    headings = [str(cell).strip() if cell is not None else "" for cell in lines[heading_row - 1]]
    text_columns = [i for i, heading in enumerate(headings) if HEADINGS.column_of(heading) in _TEXT_COLUMNS]
    summary = [
        ("数据行数", answer["rows"]),
        (_RECORDED, len(answer["recorded"])),
        ("其中待审批", sum(row["status"] == DeliveryStatus.待审批.value for row in answer["recorded"])),
        (_REFUSED, len(answer["refused"])),
    ]
    return result_sheet(
        lines,
        heading_row=heading_row,
        first_row=table.first_row + shift,
        outcomes=outcomes,
        text_columns=text_columns,
        summary=summary,
    )


# --- the template ------------------------------------------------------------------------------

_NOTES: Final[dict[Column, str]] = {
    Column.成员标识: "必填。入会受理回执中的 member_key（64位），本列已设为文本格式。",
    Column.姓名: "必填。受助成员的姓名（加密保存，仅本工会可见）。",
    Column.联系电话: "必填。手机号，或带区号的固定电话（加密保存，仅本工会可见）。",
    Column.时机: "必填。从下拉列表中选择：" + "、".join(o.label for o in Occasion) + "。",
    Column.节日: "时机为重要节点时必填，其他时机不填。从下拉列表中选择。",
    Column.形式: "必填。从下拉列表中选择：" + "、".join(f.label for f in WarmthForm) + "。",
    Column.金额: "整数元。慰问金必填；实物、服务可填折合金额，不填为0。",
    Column.送温暖日期: "必填。如2026-01-20、2026/1/20或2026年1月20日；不能晚于今天。",
    Column.佐证编号: "必填。签收单、照片等佐证材料的编号；不要填写手机号或身份证号。",
    Column.重复说明: "同一成员本年度（重要节点：同一节日）已因同一时机获送温暖时必填，说明再次送温暖的原因。",
}


def _instructions() -> list[list[str]]:
    return [
        ["送温暖发放名单 填写说明", ""],
        ["", ""],
        ["列名", "填写要求"],
        *([column.value, _NOTES[column]] for column in COLUMNS),
        ["", ""],
        ["上传", f"每个文件最多{MAX_ROWS}行，上传 .xlsx（第一个工作表）或 CSV（UTF-8 或 GBK）。"],
        [
            "表头",
            f"表头行可以在前{HEADING_SEARCH_ROWS}行中的任一行，其上方可以有标题、填报单位、日期等；"
            "可以增加其他列（如序号、备注），系统不读取。",
        ],
        ["逐行记录", "每行单独记录：不符合规则的行不记录，结果表中写明原因，其他行照常记录。"],
        [
            "预算",
            "每行从本工会当年的送温暖预算中支出；超出剩余预算的行不记录。超过审批金额的，记录为待审批。",
        ],
        ["", ""],
        ["可用的同义列名", ""],
        *([column.value, "、".join(SYNONYMS[column])] for column in COLUMNS),
        ["", ""],
        ["可不填的列", "、".join(column.value for column in COLUMNS if column in OPTIONAL)],
    ]


@router.get(
    "/warmth/deliveries/template",
    summary="下载送温暖发放名单模板（.xlsx）",
    description="送温暖发放名单模板：表头、时机/节日/形式的下拉列表、设为文本格式的成员标识和联系电话列，"
    "以及中文填写说明。",
    responses={200: {"content": {XLSX_MEDIA_TYPE: {}}, "description": "模板文件"}},
)
async def delivery_template(caller: Caller) -> Response:
    body = template(
        [column.value for column in COLUMNS],
        title="送温暖发放名单",
        text_columns=_TEXT_COLUMNS,
        date_columns=(Column.送温暖日期.value,),
        choices={
            Column.时机.value: [o.label for o in Occasion],
            Column.节日.value: [f.label for f in Festival],
            Column.形式.value: [f.label for f in WarmthForm],
        },
        instructions=_instructions(),
    )
    return Response(
        body,
        media_type=XLSX_MEDIA_TYPE,
        headers={"Content-Disposition": attachment("送温暖发放名单模板.xlsx", "warmth-template.xlsx")},
    )
