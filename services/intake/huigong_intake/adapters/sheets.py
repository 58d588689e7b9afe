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

import codecs
import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

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


# --------------------------------------------------------------------------------------------
# Streaming, for import jobs: a file of up to 1,000,000 rows read line by line, never whole
# --------------------------------------------------------------------------------------------

# Bytes decoded at a time while checking a CSV file's encoding.
_PIECE: Final = 1 << 20


@dataclass(frozen=True, slots=True)
class SheetFile:
    """How to read a stored sheet line by line: its format and, for CSV, encoding and delimiter."""

    format: Literal["csv", "xlsx"]
    encoding: str | None = None
    delimiter: str | None = None


def sheet_file(content: bytes, filename_or_content_type: str) -> SheetFile:
    """What an uploaded file is, for an import job (CSV or .xlsx; JSON stays with the
    synchronous path). Raises SheetFormatError."""
    kind = _kind(filename_or_content_type)
    if content.startswith(_OLE_MAGIC):
        read_sheet(content, filename_or_content_type)  # refuses it, with the advice
    if kind == "xlsx":
        if not content.startswith(_ZIP_MAGIC):
            raise SheetFormatError("文件不是有效的 .xlsx 文件", "the file is not a valid .xlsx file")
        return SheetFile("xlsx")
    if kind == "csv":
        encoding = _encoding_of(content)
        head = content[:_PIECE].decode(encoding, errors="ignore")
        return SheetFile("csv", encoding, _delimiter(head))
    raise SheetFormatError("导入任务只接受 .xlsx 或 CSV 文件", "an import job takes an .xlsx or a CSV file")


def _encoding_of(content: bytes) -> str:
    """UTF-8 (with or without a BOM), else GBK (as GB18030, its superset); checked piece by
    piece, so a 100 MB file is never held as one string."""
    for encoding in ("utf-8-sig", "gb18030"):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            for start in range(0, len(content), _PIECE):
                decoder.decode(content[start : start + _PIECE])
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        return encoding
    raise SheetFormatError(
        "无法识别 CSV 文件的编码，请保存为 UTF-8 或 GBK 编码",
        "cannot decode the CSV file; save it as UTF-8 or GBK",
    )


def _delimiter(text: str) -> str:
    first_line = next((line for line in text.split("\n", 20) if "\t" in line or "," in line), "")
    return "\t" if "\t" in first_line and "," not in first_line else ","


def csv_lines(text: Iterable[str], delimiter: str) -> Iterator[list[object]]:
    """The lines of CSV text (an open text file, or lines), each cell as `read_sheet` gives it."""
    try:
        for record in csv.reader(text, delimiter=delimiter):
            yield [_cell(cell) for cell in record]
    except csv.Error as error:
        raise SheetFormatError("CSV 文件格式有误", f"the CSV file is malformed: {error}") from None


def lines_in_memory(content: bytes, file: SheetFile) -> Iterator[list[object]]:
    """The lines of an uploaded file held in memory, one at a time."""
    if file.format == "csv":
        assert file.encoding is not None and file.delimiter is not None
        text = io.TextIOWrapper(io.BytesIO(content), encoding=file.encoding, newline="")
        return csv_lines(text, file.delimiter)
    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(content))
    except (CalamineError, ValueError, OSError):
        raise SheetFormatError("文件不是有效的 .xlsx 文件", "the file is not a valid .xlsx file") from None
    return _xlsx_lines(workbook)


def lines_on_disk(path: Path, file: SheetFile) -> Iterator[list[object]]:
    """The lines of a stored file copied to disk, one at a time (the worker's reading)."""
    if file.format == "csv":
        assert file.encoding is not None and file.delimiter is not None

        def read() -> Iterator[list[object]]:
            with path.open(encoding=file.encoding, newline="") as text:
                yield from csv_lines(text, file.delimiter or ",")

        return read()
    try:
        workbook = CalamineWorkbook.from_path(str(path))
    except (CalamineError, ValueError, OSError):
        raise SheetFormatError("文件不是有效的 .xlsx 文件", "the file is not a valid .xlsx file") from None
    return _xlsx_lines(workbook)


def _xlsx_lines(workbook: CalamineWorkbook) -> Iterator[list[object]]:
    first = next((s for s in workbook.sheets_metadata if s.typ == SheetTypeEnum.WorkSheet), None)
    if first is None:
        return
    try:
        sheet = workbook.get_sheet_by_name(first.name)
        # iter_rows starts at row 1 but at the sheet's first used column (`start`): the blank
        # cells are put back in front so that a column keeps its place, as in `read_sheet`.
        left = sheet.start[1] if sheet.start else 0
        pad: list[object] = [None] * left
        for line in sheet.iter_rows():
            yield pad + [_cell(cell) for cell in line]
    except (CalamineError, ValueError, OSError):
        raise SheetFormatError("文件不是有效的 .xlsx 文件", "the file is not a valid .xlsx file") from None
