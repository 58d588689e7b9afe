"""Lists as union staff take them away: an Excel workbook or a CSV file of what a list endpoint
answers, with Chinese headings and Chinese labels in place of codes.

A list route that exports takes `format=xlsx|csv` beside its filters, runs its own query with the
same filters and the same visibility (a district exports only its own records), without paging
(up to `EXPORT_MAX_ROWS`), and answers `exported(request, items, columns, name, format)`. The
labels are the answers' own (`answer_labels`: the service's vocabularies), so a code reads the
same in a file as on the screen.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final
from urllib.parse import quote
from uuid import UUID

from fastapi import Request
from fastapi.responses import Response
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from huigong_events.labels import Labelled, relabel

from .answer_labels import Labeller

XLSX_MEDIA_TYPE: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MEDIA_TYPE: Final = "text/csv; charset=utf-8"
# An export is one file a person opens: beyond this many rows, narrow the filters.
EXPORT_MAX_ROWS: Final = 100_000


class ExportFormat(Labelled):
    """What a list answers: JSON (the default), an Excel workbook or a CSV file."""

    json = "json"
    xlsx = "xlsx"
    csv = "csv"


relabel(ExportFormat, {ExportFormat.json: "JSON", ExportFormat.xlsx: "Excel 工作簿", ExportFormat.csv: "CSV"})

Column = tuple[str, str]
"""A field of the list's items and its Chinese heading."""


def labeller_of(request: Request) -> Labeller:
    labeller: Labeller = request.app.state.labeller
    return labeller


def _cell(labeller: Labeller, name: str, value: object) -> object:
    if isinstance(value, Labelled):
        value = value.value
    if isinstance(value, str):
        return labeller.label(name, value) or value
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, Decimal):
        return float(value)  # a score or an average: a number Excel can sum and sort
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        # Excel keeps no time zone: the time as Beijing reads it would need the zone; ISO keeps it.
        return value.isoformat(timespec="seconds")
    if isinstance(value, (list, tuple, dict)):
        return str(value)
    return value


def rows_of(
    labeller: Labeller, items: Sequence[Mapping[str, Any]], columns: Sequence[Column]
) -> list[list[object]]:
    return [[_cell(labeller, name, item.get(name)) for name, _ in columns] for item in items]


def exported(
    request: Request,
    items: Sequence[Mapping[str, Any]],
    columns: Sequence[Column],
    name: str,
    export: ExportFormat,
) -> Response:
    """`items` (each as the list's JSON answer has it) as a file named `name` (Chinese, no
    extension) in `export`'s format: the headings, then one row per item."""
    rows = rows_of(labeller_of(request), items, columns)
    headings = [heading for _, heading in columns]
    if export is ExportFormat.csv:
        out = io.StringIO(newline="")
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(headings)
        writer.writerows(["" if cell is None else cell for cell in row] for row in rows)
        # With a BOM, Excel opens UTF-8 CSV as UTF-8 rather than the locale's GBK.
        body, media_type, extension = ("\ufeff" + out.getvalue()).encode("utf-8"), CSV_MEDIA_TYPE, "csv"
    else:
        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet(name[:31])  # Excel's limit for a sheet's name
        bold = []
        for heading in headings:
            cell = WriteOnlyCell(sheet, value=heading)
            cell.font = Font(bold=True)
            bold.append(cell)
        sheet.append(bold)
        for row in rows:
            sheet.append([_dated(sheet, cell) for cell in row])
        buffer = io.BytesIO()
        workbook.save(buffer)
        body, media_type, extension = buffer.getvalue(), XLSX_MEDIA_TYPE, "xlsx"
    filename = f"{name}.{extension}"
    disposition = f"attachment; filename=\"export.{extension}\"; filename*=UTF-8''{quote(filename)}"
    return Response(body, media_type=media_type, headers={"Content-Disposition": disposition})


def _dated(sheet: Any, value: object) -> object:
    if isinstance(value, date):
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = "yyyy-mm-dd"
        return cell
    return value
