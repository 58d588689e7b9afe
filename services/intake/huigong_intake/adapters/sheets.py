"""Reading uploaded sheets (CSV, JSON, XLSX) into rows of header → cell value.

Only the file format is handled here; what the cells mean is the domain's business
(`domain.enrolments.parse_row`). Cells are passed on as the format holds them (text, numbers,
dates) so that the domain can tell, for instance, an ID number Excel stored as a number, which
has lost its last digits, from one stored as text. Whatever the format, an empty cell is None,
header blanks are trimmed, and empty rows after the data are dropped (empty rows between data
rows are kept, so row numbers stay those of the sheet below its header).
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterable, Sequence
from typing import Any, Final

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException


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


def read_rows(content: bytes, filename_or_content_type: str) -> list[Row]:
    """The rows of an uploaded CSV, JSON or XLSX file, told apart by its name or content type.

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


def _rows(header: Sequence[object], records: Iterable[Sequence[object]]) -> list[Row]:
    headers = [str(cell).strip() if cell is not None else "" for cell in header]
    named = [header for header in headers if header]
    duplicated = sorted({header for header in named if named.count(header) > 1})
    if duplicated:
        raise SheetFormatError(
            f"表头重复：{'、'.join(duplicated)}", f"the header repeats columns: {', '.join(duplicated)}"
        )
    rows: list[Row] = []
    blanks: list[Row] = []  # held back until a data row follows, so trailing ones never pile up
    for record in records:
        cells = list(record)
        cells += [None] * (len(headers) - len(cells))
        # Cells under a blank header are notes beside the table, not data.
        row = {header: _cell(cells[i]) for i, header in enumerate(headers) if header}
        if _blank(row):
            blanks.append(row)
            continue
        rows += blanks
        blanks.clear()
        rows.append(row)
    return rows


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


def _read_csv(content: bytes) -> list[Row]:
    text = _decode_text(content)
    first_line = text.split("\n", 1)[0]
    # Excel's "Unicode text" and many copy-pastes are tab-separated.
    delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as error:
        raise SheetFormatError("CSV 文件格式有误", f"the CSV file is malformed: {error}") from None
    while records and not any(cell.strip() for cell in records[0]):
        records.pop(0)
    if not records:
        return []
    return _rows(records[0], records[1:])


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


def _read_xlsx(content: bytes) -> list[Row]:
    if not content.startswith(_ZIP_MAGIC):
        raise SheetFormatError("文件不是有效的 .xlsx 文件", "the file is not a valid .xlsx file")
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError):
        raise SheetFormatError("文件不是有效的 .xlsx 文件", "the file is not a valid .xlsx file") from None
    try:
        if not workbook.worksheets:
            return []
        records = workbook.worksheets[0].iter_rows(values_only=True)
        for header in records:
            if any(_cell(value) is not None for value in header):
                return _rows(header, records)
        return []
    finally:
        workbook.close()  # a read-only workbook keeps the archive open until closed
