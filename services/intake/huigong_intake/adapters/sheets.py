"""Reading uploaded sheets (CSV, JSON, XLSX): a CSV or XLSX file into its lines of cells as Excel
shows them, a JSON file into rows of header → cell value.

Only the file format is handled here; where the table starts and what its headings and cells
mean is the domain's business (`domain.sheet_headings`, `domain.enrolments.parse_row`). Cells are
passed on as the format holds them (text, numbers, dates) so that the domain can tell, for
instance, an ID number Excel stored as a number, which has lost its last digits, from one stored
as text. Whatever the format, an empty cell is None. Lines keep their places, blank ones
included, so that line i of a `Grid` is the row Excel numbers i + 1.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any, Final

from python_calamine import CalamineError, CalamineWorkbook, SheetTypeEnum


class SheetFormatError(ValueError):
    """The upload cannot be read as a sheet; `zh` and `en` say why."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(f"{zh}（{en}）")
        self.zh = zh
        self.en = en


Row = dict[str, object]

_XLSX_TYPES: Final = frozenset({"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"})
_JSON_TYPES: Final = frozenset({"application/json", "text/json", "json"})
# Windows browsers label .csv uploads "application/vnd.ms-excel" when Excel is installed.
_CSV_TYPES: Final = frozenset({"text/csv", "application/csv", "application/vnd.ms-excel", "csv"})
_ZIP_MAGIC: Final = b"PK\x03\x04"
_OLE_MAGIC: Final = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the binary .xls of Excel 97–2003


@dataclass(frozen=True, slots=True)
class Grid:
    """The cells of a CSV file or of a workbook's first worksheet: `lines[i]` is the row Excel
    shows as i + 1 (a CSV record is one row, even when a quoted cell holds a line break)."""

    lines: list[list[object]]


def read_sheet(content: bytes, filename_or_content_type: str) -> Grid | list[Row]:
    """The lines of an uploaded CSV or XLSX file, or the rows of a JSON one, told apart by its
    name or content type.

    Raises SheetFormatError (a ValueError) for an unknown format or a file that is not what it
    claims to be.
    """
    kind = _kind(filename_or_content_type)
    if content.startswith(_OLE_MAGIC):
        raise SheetFormatError(
            "不支持旧版 Excel（.xls）文件，请另存为 .xlsx 或 CSV 后上传",
            "old Excel .xls files are not supported; save the sheet as .xlsx or CSV",
        )
    if kind == "xlsx":
        return _read_xlsx(content)
    if kind == "json":
        return _read_json(content)
    if kind == "csv":
        return _read_csv(content)
    raise SheetFormatError(
        "无法识别的文件格式，请上传 .xlsx、.csv 或 .json 文件",
        "unknown file format; upload an .xlsx, .csv or .json file",
    )


def _kind(filename_or_content_type: str) -> str | None:
    hint = filename_or_content_type.strip().lower()
    media_type = hint.split(";", 1)[0].strip()
    extension = hint.rsplit(".", 1)[-1] if "." in hint else ""
    for kind, types in (("xlsx", _XLSX_TYPES), ("json", _JSON_TYPES), ("csv", _CSV_TYPES)):
        if media_type in types or extension in types:
            return kind
    return None


def _cell(value: object) -> object:
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _blank(row: Row) -> bool:
    return all(value is None for value in row.values())


def _without_trailing_blanks(rows: list[Row]) -> list[Row]:
    end = len(rows)
    while end and _blank(rows[end - 1]):
        end -= 1
    return rows[:end]


# --------------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------------


def _decode_text(content: bytes) -> str:
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    # Excel in a Chinese locale saves "CSV" in the ANSI code page, GBK, of which GB18030 is a
    # superset.
    try:
        return content.decode("gb18030")
    except UnicodeDecodeError:
        raise SheetFormatError(
            "无法识别 CSV 文件的编码，请保存为 UTF-8 或 GBK 编码",
            "cannot decode the CSV file; save it as UTF-8 or GBK",
        ) from None


def _read_csv(content: bytes) -> Grid:
    text = _decode_text(content)
    # Excel's "Unicode text" and many copy-pastes are tab-separated; a title line above the
    # headings may have neither, so the first line with either decides.
    first_line = next((line for line in text.split("\n", 20) if "\t" in line or "," in line), "")
    delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
    try:
        records = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        return Grid([[_cell(cell) for cell in record] for record in records])
    except csv.Error as error:
        raise SheetFormatError("CSV 文件格式有误", f"the CSV file is malformed: {error}") from None


# --------------------------------------------------------------------------------------------
# JSON
# --------------------------------------------------------------------------------------------


def _read_json(content: bytes) -> list[Row]:
    try:
        document: Any = json.loads(content.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise SheetFormatError(
            "JSON 文件格式有误或不是 UTF-8 编码", "the file is not valid UTF-8 JSON"
        ) from None
    if isinstance(document, dict) and isinstance(document.get("rows"), list):
        document = document["rows"]
    if not isinstance(document, list) or not all(isinstance(item, dict) for item in document):
        raise SheetFormatError(
            'JSON 应为对象数组，或形如 {"rows": [...]} 的对象',
            'JSON must be a list of objects or {"rows": [...]}',
        )
    rows = [{str(key).strip(): _cell(value) for key, value in item.items()} for item in document]
    return _without_trailing_blanks(rows)


# --------------------------------------------------------------------------------------------
# XLSX
# --------------------------------------------------------------------------------------------


def _read_xlsx(content: bytes) -> Grid:
    if not content.startswith(_ZIP_MAGIC):
        raise SheetFormatError("文件不是有效的 .xlsx 文件", "the file is not a valid .xlsx file")
    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(content))
        # The first worksheet (a chart sheet holds no cells); later sheets are notes, code lists…
        first = next(
            (sheet for sheet in workbook.sheets_metadata if sheet.typ == SheetTypeEnum.WorkSheet), None
        )
        if first is None:
            return Grid([])
        # skip_empty_area=False: the lines start at A1, so their places are Excel's row numbers.
        lines = workbook.get_sheet_by_name(first.name).to_python(skip_empty_area=False)
    except (CalamineError, ValueError, OSError):
        raise SheetFormatError("文件不是有效的 .xlsx 文件", "the file is not a valid .xlsx file") from None
    return Grid([[_cell(cell) for cell in line] for line in lines])
