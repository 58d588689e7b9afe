"""Sheets union staff upload (enrolment lists, 送温暖 deliveries), as district offices make them.

Reading: a CSV or XLSX file into its lines of cells as Excel shows them, a JSON file into rows of
header → cell value. Cells are passed on as the format holds them (text, numbers, dates) so that
the domain can tell, for instance, an ID number Excel stored as a number, which has lost its last
digits, from one stored as text. Whatever the format, an empty cell is None. Lines keep their
places, blank ones included, so that line i of a `Grid` is the row Excel numbers i + 1.

Finding the table: the heading row below whatever title, date or note stands above it, and the
meaning of each heading however the office wrote it, by the sheet kind's own `Headings` (its
columns and their synonyms). A sheet without one of the required columns is refused as a whole,
naming what is missing and what was found, instead of refusing every row for the same reason.
Rows are numbered as Excel shows them, so that "第5行" is the line staff see as 5.

What a cell means is the domain's business (`huigong_intake.domain.enrolments.parse_row`, the
registry's delivery rows).
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final, Literal

from python_calamine import CalamineError, CalamineWorkbook, SheetTypeEnum

from .refusals import FieldError, Refusal


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


# --------------------------------------------------------------------------------------------
# The table: heading row, headings, rows
# --------------------------------------------------------------------------------------------

# Within how many rows from the top the heading row is looked for: titles, a date line, a
# "填报单位：…" line and a blank or two are what offices put above it.
HEADING_SEARCH_ROWS: Final = 20
# A row is taken for the heading row only if it names at least this many of the columns: a title
# such as "入会名单" must never be mistaken for one.
MIN_HEADINGS_RECOGNISED: Final = 3

# Marks offices put in headings that change nothing: blanks anywhere, a required-field star, and
# a hint in brackets ("身份证号码（18位）", "入会日期(yyyy-mm-dd)").
_NOISE: Final = re.compile(r"\s+|[*＊]|\([^)]*\)|（[^）]*）|【[^】]*】|\[[^\]]*\]")


def normalise_heading(text: str) -> str:
    return _NOISE.sub("", unicodedata.normalize("NFKC", text))


@dataclass(frozen=True)
class Headings:
    """The columns of one kind of sheet: each column's own name (the template's heading) with
    every name offices head it with (its own first), and which columns a sheet must have."""

    synonyms: Mapping[str, Sequence[str]]
    required: Sequence[str]
    _index: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[str, str] = {}
        for column, names in self.synonyms.items():
            for name in (column, *names):
                key = normalise_heading(name)
                if index.setdefault(key, column) != column:
                    raise AssertionError(f"the heading {name} names two columns")
        assert set(self.required) <= set(self.synonyms), "every required column has its names"
        object.__setattr__(self, "_index", index)

    def column_of(self, heading: str) -> str | None:
        """The column a heading names, or None for a column of the office's own (备注, 序号…)."""
        return self._index.get(normalise_heading(heading))


@dataclass(frozen=True, slots=True)
class Table:
    """A sheet's rows keyed by the columns' own names (other headings as written), the number of
    the first data row as Excel shows it, and the headings as the office wrote them (for the
    result sheet)."""

    rows: list[dict[str, object]]
    first_row: int
    headings: list[str]
    heading_row: int | None  # as Excel numbers it; None for a JSON upload


def _text(cell: object) -> str:
    return "" if cell is None else str(cell).strip()


def _recognised(line: Sequence[object], headings: Headings) -> int:
    return len(
        {
            column
            for cell in line
            if isinstance(cell, str) and (column := headings.column_of(cell)) is not None
        }
    )


@dataclass(frozen=True, slots=True)
class HeadingRow:
    """Where a sheet's table starts: the heading line (`lines[index]`, row index + 1), its
    headings as written and each column's key in the rows (its column's own name, an office's
    own heading, or "" for a blank heading, whose cells are notes beside the table, not data)."""

    index: int
    headings: list[str]
    keys: list[str]

    def row(self, line: Sequence[object]) -> dict[str, object]:
        """One line below the headings as a row of key → cell."""
        return {key: (line[i] if i < len(line) else None) for i, key in enumerate(self.keys) if key}


def locate_headings(top: Sequence[Sequence[object]], headings: Headings) -> HeadingRow:
    """The heading row among the first lines of a sheet (`top[i]` is row i + 1; only the first
    HEADING_SEARCH_ROWS are looked at): all an import job needs before it reads the rest line by
    line. Raises Refusal (422) when no heading row names the required columns."""
    top = top[:HEADING_SEARCH_ROWS]
    scores = [_recognised(line, headings) for line in top]
    best = max(scores, default=0)
    if best < min(MIN_HEADINGS_RECOGNISED, len(headings.required)):
        # Nothing looks like the heading row: report the first line with anything in it.
        found = next((line for line in top if any(_text(c) for c in line)), [])
        raise _missing_columns(headings, set(headings.required), [_text(c) for c in found], 0)
    index = scores.index(best)
    written = [_text(cell) for cell in top[index]]
    return HeadingRow(index, written, _keys(written, index + 1, headings))


def locate_table(lines: Sequence[Sequence[object]], headings: Headings) -> Table:
    """The table of a CSV or XLSX sheet, whose `lines[i]` is row i + 1. Raises Refusal (422) when
    no heading row names the required columns."""
    found = locate_headings(lines, headings)
    rows: list[dict[str, object]] = []
    blanks: list[dict[str, object]] = []  # held back until a data row follows
    for line in lines[found.index + 1 :]:
        row = found.row(line)
        if all(value is None for value in row.values()):
            blanks.append(row)
            continue
        rows += blanks
        blanks.clear()
        rows.append(row)
    return Table(rows, found.index + 2, [h for h in found.headings if h], found.index + 1)


def name_rows(rows: Sequence[Mapping[str, object]], headings: Headings) -> Table:
    """The rows of a JSON upload with their keys read as headings are, numbered from 1."""
    written: list[str] = []
    for row in rows:
        written += [key for key in row if key not in written]
    keys = dict(zip(written, _keys(written, None, headings), strict=True))
    named = [{keys[key]: value for key, value in row.items()} for row in rows]
    return Table(named, 1, written, None)


def _keys(written: list[str], heading_row: int | None, headings: Headings) -> list[str]:
    """Each heading's key in the rows: its column's name, or itself for an office's own column;
    "" for a blank heading. Refuses a column named twice and a missing required one."""
    keys: list[str] = []
    named: dict[str, list[str]] = {}
    for heading in written:
        column = headings.column_of(heading) if heading else None
        key = column if column is not None else heading
        keys.append(key)
        if key:
            named.setdefault(key, []).append(heading)
    twice = [given for given in named.values() if len(given) > 1]
    if twice:
        listed = "；".join("、".join(f"“{h}”" for h in given) for given in twice)
        raise Refusal(
            FieldError(
                "file",
                f"表头中同一列出现了不止一次：{listed}，请只保留一列",
                f"the header names the same column more than once: {listed}; keep one",
            )
        )
    missing = {column for column in headings.required if column not in named}
    if missing:
        raise _missing_columns(headings, missing, [h for h in written if h], heading_row)
    return keys


# A line taken for headings may be a data row (a sheet without headings): a cell with a run of
# digits may be an ID or phone number, and a refusal never repeats one.
_NUMBERS: Final = re.compile(r"\d{5,}")
_SHOWN_HEADINGS: Final = 30
_SHOWN_LENGTH: Final = 30


def _shown(found: list[str]) -> list[str]:
    shown = [h[:_SHOWN_LENGTH] for h in found if h and not _NUMBERS.search(h)]
    return shown[:_SHOWN_HEADINGS]


def _missing_columns(
    headings: Headings, missing: set[str], found: list[str], heading_row: int | None
) -> Refusal:
    """`heading_row` is 0 when no heading row was found (then `found` is the first line with
    anything in it), None for a JSON upload (its keys)."""
    absent = [column for column in headings.required if column in missing]
    shown = _shown(found)
    seen_zh = "、".join(shown) if shown else "（无）"
    seen_en = ", ".join(shown) if shown else "none"
    if heading_row == 0:
        where_zh = f"前{HEADING_SEARCH_ROWS}行中没有找到表头行（第一个非空行为：{seen_zh}）"
        where_en = (
            f"no heading row in the first {HEADING_SEARCH_ROWS} rows (the first non-empty one: {seen_en})"
        )
    elif heading_row is None:
        where_zh, where_en = f"找到的列名：{seen_zh}", f"the column names found: {seen_en}"
    else:
        where_zh = f"第{heading_row}行的表头：{seen_zh}"
        where_en = f"the headings in row {heading_row}: {seen_en}"
    return Refusal(
        FieldError(
            "file",
            f"缺少必需的列：{'、'.join(absent)}。{where_zh}。请使用模板的列名，或文档所列的同义列名",
            f"the sheet lacks the required columns {', '.join(absent)}; {where_en}. "
            "Use the template's headings or a documented synonym",
        )
    )


# --------------------------------------------------------------------------------------------
# Cells as offices type them
# --------------------------------------------------------------------------------------------

# 2023-05-01, 2023/5/1, 2023.5.1, 2023年5月1日, 20230501: what staff type where Excel did not
# store a date.
_DATE: Final = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?|(\d{4})(\d{2})(\d{2})")


def cell_text(value: object) -> str | None:
    """A cell as text: a whole number Excel stored as a number (a phone number, an amount) without
    its ".0"; None for an empty cell."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    return text or None


def cell_date(value: object) -> object:
    """A date cell as a date, whether Excel stored a date or staff typed one of the usual ways;
    anything else unchanged, for the command's own validation to refuse in its words."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        match = _DATE.fullmatch(value.strip())
        if match:
            parts = match.groups()
            year, month, day = parts[:3] if parts[0] is not None else parts[3:]
            try:
                return date(int(year), int(month), int(day))
            except ValueError:
                return value
    return value
