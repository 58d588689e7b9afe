"""Writing the workbooks union staff download for a sheet upload (enrolments, 送温暖 deliveries):
the template to fill in and an upload's result sheet. openpyxl writes them (python-calamine,
which reads uploads in `sheets.py`, cannot write).

Neither keeps anything: the result sheet is made from the upload the request carries and the
answer the command gave, and is gone when the response is sent, so no ID number is stored for it.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

from fastapi import Request
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

XLSX_MEDIA_TYPE: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# As many data rows as one upload may hold: the validation lists and text format reach that far.
TEMPLATE_ROWS: Final = 10_000
_TEXT: Final = "@"
_DATE: Final = "yyyy-mm-dd"
_BOLD: Final = Font(bold=True)
_HEADING_FILL: Final = PatternFill("solid", fgColor="DDEBF7")


def _saved(workbook: Workbook) -> bytes:
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def wants_sheet(request: Request) -> bool:
    """Whether the caller of an upload asked for the result sheet rather than JSON (Accept names
    .xlsx and not JSON before it)."""
    accept = request.headers.get("accept", "")
    if XLSX_MEDIA_TYPE not in accept:
        return False
    json_at = accept.find("application/json")
    return json_at < 0 or accept.find(XLSX_MEDIA_TYPE) < json_at


def attachment(filename: str, fallback: str) -> str:
    """Content-Disposition for a workbook named in Chinese, with an ASCII `fallback` name for
    clients that do not read RFC 5987."""
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}"


def template(
    columns: Sequence[str],
    *,
    title: str,
    text_columns: Sequence[str],
    date_columns: Sequence[str],
    choices: Mapping[str, Sequence[str]],
    instructions: Sequence[Sequence[str]],
) -> bytes:
    """The template: the headings on the first sheet (named `title`), a drop-down list for each column of
    `choices`, `text_columns` formatted as text (so Excel keeps all 18 digits of an ID number),
    `date_columns` as dates; `instructions` as the lines of a second sheet, 填写说明; the lists
    themselves on a hidden third sheet, 代码表 (a list written into the validation itself may
    not exceed 255 characters)."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = title
    sheet.append(list(columns))
    last = TEMPLATE_ROWS + 1
    for index, heading in enumerate(columns, 1):
        letter = get_column_letter(index)
        cell = sheet.cell(row=1, column=index)
        cell.font, cell.fill = _BOLD, _HEADING_FILL
        dimension = sheet.column_dimensions[letter]
        dimension.width = max(12, 2.2 * len(heading) + 2)
        if heading in text_columns:
            dimension.width = 22
            dimension.number_format = _TEXT
        elif heading in date_columns:
            dimension.number_format = _DATE
    sheet.freeze_panes = "A2"

    codes = workbook.create_sheet("代码表")
    for list_index, (heading, values) in enumerate(choices.items(), 1):
        letter = get_column_letter(list_index)
        codes.cell(row=1, column=list_index, value=heading).font = _BOLD
        for row, value in enumerate(values, 2):
            codes.cell(row=row, column=list_index, value=value)
        target = get_column_letter(list(columns).index(heading) + 1)
        validation = DataValidation(
            type="list",
            formula1=f"'代码表'!${letter}$2:${letter}${len(values) + 1}",
            allow_blank=True,
            showErrorMessage=True,
            errorTitle="请从列表中选择",
            error=f"“{heading}”请从下拉列表中选择",
        )
        validation.add(f"{target}2:{target}{last}")
        sheet.add_data_validation(validation)
    codes.sheet_state = "hidden"

    notes = workbook.create_sheet("填写说明", 1)
    notes.column_dimensions["A"].width = 22
    notes.column_dimensions["B"].width = 100
    for line in instructions:
        notes.append(list(line))
    for cell in notes["A"]:
        cell.font = _BOLD
    for row in notes.iter_rows():
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    return _saved(workbook)


def result_sheet(
    lines: Sequence[Sequence[object]],
    *,
    heading_row: int,
    first_row: int,
    outcomes: Mapping[int, tuple[str, str]],
    text_columns: Sequence[int],
    summary: Sequence[tuple[str, Any]],
) -> bytes:
    """The upload as it was sent (every line in its place, so each keeps the row number Excel
    showed and the answer named), with 结果 and 原因 beside the headings and, for each row of
    `outcomes` (row number → result, reason), its result. `text_columns` (0-based) are written as
    text; `summary` becomes a second sheet, 汇总."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("报送结果")
    width = max((len(line) for line in lines[heading_row - 1 : heading_row]), default=0)
    for number, line in enumerate(lines, 1):
        cells: list[object] = []
        for index, value in enumerate(line):
            cells.append(_cell(sheet, value, text=index in text_columns))
        if number == heading_row:
            cells += [None] * (width - len(cells))
            heading = [WriteOnlyCell(sheet, value=v) for v in ("结果", "原因")]
            for cell in heading:
                cell.font = _BOLD
            cells += heading
        elif number >= first_row and number in outcomes:
            cells += [None] * (width - len(cells))
            cells += list(outcomes[number])
        sheet.append(cells)
    totals = workbook.create_sheet("汇总")
    for label, value in summary:
        totals.append([label, value])
    return _saved(workbook)


class ImportResultBook:
    """An import job's result sheet, written a page of rows at a time (write-only: openpyxl keeps
    the rows in a temporary file, not in memory), then saved to a file. Every cell is text: the
    masked numbers and the row as the job stored it."""

    def __init__(self, headings: Sequence[str]) -> None:
        self._workbook = Workbook(write_only=True)
        self._sheet = self._workbook.create_sheet("导入结果")
        heading_cells = []
        for value in headings:
            cell = WriteOnlyCell(self._sheet, value=value)
            cell.font = _BOLD
            heading_cells.append(cell)
        self._sheet.append(heading_cells)

    def add(self, rows: Sequence[Sequence[object]]) -> None:
        for row in rows:
            self._sheet.append(list(row))

    def save(self, path: Path, summary: Sequence[tuple[str, Any]]) -> None:
        totals = self._workbook.create_sheet("汇总")
        for label, value in summary:
            totals.append([label, value])
        self._workbook.save(path)


def _cell(sheet: Any, value: object, *, text: bool) -> object:
    if isinstance(value, (date, datetime)):
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = (
            _DATE if not isinstance(value, datetime) or not value.hour else "yyyy-mm-dd hh:mm"
        )
        return cell
    if text and value is not None:
        cell = WriteOnlyCell(sheet, value=value if isinstance(value, str) else _plain(value))
        cell.number_format = _TEXT
        return cell
    return value


def _plain(value: object) -> str:
    # An ID or phone number Excel had stored as a number comes back as text, without ".0".
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
