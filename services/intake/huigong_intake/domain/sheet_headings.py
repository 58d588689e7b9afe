"""Finding the table in an enrolment sheet as district offices make them: the heading row below
whatever title, date or note stands above it, and the meaning of each heading, however the
office wrote it (身份证号码, 证件号码, 联系电话, 入会时间…).

A sheet without one of the required columns is refused as a whole, naming what is missing and
what was found, instead of refusing every row for the same reason. Rows are numbered as Excel
shows them, so that "第5行" is the line staff see as 5.

The synonym table is documented for districts in docs/services/intake.md; change both together.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from huigong_platform.refusals import FieldError, Refusal

from .enrolments import COLUMNS, Column

# Within how many rows from the top the heading row is looked for: titles, a date line, a
# "填报单位：…" line and a blank or two are what offices put above it.
HEADING_SEARCH_ROWS: Final = 20
# A row is taken for the heading row only if it names at least this many of the columns: a title
# such as "入会名单" must never be mistaken for one.
MIN_HEADINGS_RECOGNISED: Final = 3

HEADING_SYNONYMS: Final[Mapping[Column, tuple[str, ...]]] = {
    Column.姓名: ("姓名", "名字", "职工姓名", "劳动者姓名", "会员姓名", "入会人员姓名"),
    Column.身份证号: (
        "身份证号",
        "身份证号码",
        "身份证",
        "证件号码",
        "证件号",
        "公民身份号码",
        "居民身份证号码",
        "身份证件号码",
    ),
    Column.手机号: ("手机号", "手机号码", "手机", "联系电话", "电话", "电话号码", "联系方式", "移动电话"),
    Column.职业类别: ("职业类别", "职业", "职业类型", "从业类别", "从业类型", "工种"),
    Column.平台企业: ("平台企业", "平台", "所属平台", "平台名称", "平台企业名称", "用工平台", "所在平台"),
    Column.所属区市: ("所属区市", "区市", "所在区市", "所属区", "所属区县", "区县", "所在区县"),
    Column.入会日期: ("入会日期", "入会时间", "入会年月日", "加入工会日期", "入会日"),
    Column.是否参加互助保障: (
        "是否参加互助保障",
        "互助保障",
        "参加互助保障",
        "是否参加职工互助保障",
        "职工互助保障",
        "是否参保",
    ),
}

# Marks offices put in headings that change nothing: blanks anywhere, a required-field star, and
# a hint in brackets ("身份证号码（18位）", "入会日期(yyyy-mm-dd)").
_NOISE: Final = re.compile(r"\s+|[*＊]|\([^)]*\)|（[^）]*）|【[^】]*】|\[[^\]]*\]")


def normalise_heading(text: str) -> str:
    return _NOISE.sub("", unicodedata.normalize("NFKC", text))


def _heading_index() -> dict[str, Column]:
    index: dict[str, Column] = {}
    for column, names in HEADING_SYNONYMS.items():
        for name in names:
            key = normalise_heading(name)
            if index.setdefault(key, column) is not column:
                raise AssertionError(f"the heading {name} names two columns")
    assert set(index.values()) == set(COLUMNS)
    return index


_HEADINGS: Final = _heading_index()


def column_of(heading: str) -> Column | None:
    """The column a heading names, or None for a column of the office's own (备注, 序号…)."""
    return _HEADINGS.get(normalise_heading(heading))


@dataclass(frozen=True, slots=True)
class Table:
    """An enrolment sheet's rows keyed by the columns' own names (other headings as written),
    the number of the first data row as Excel shows it, and the headings as the office wrote
    them (for the result sheet)."""

    rows: list[dict[str, object]]
    first_row: int
    headings: list[str]
    heading_row: int | None  # as Excel numbers it; None for a JSON upload


def _text(cell: object) -> str:
    return "" if cell is None else str(cell).strip()


def _recognised(line: Sequence[object]) -> int:
    return len({column for cell in line if isinstance(cell, str) and (column := column_of(cell)) is not None})


@dataclass(frozen=True, slots=True)
class Headings:
    """Where a sheet's table starts: the heading line (`lines[index]`, row index + 1), its
    headings as written and each column's key in the rows (its column's name, an office's own
    heading, or "" for a blank heading, whose cells are notes, not data)."""

    index: int
    headings: list[str]
    keys: list[str]

    def row(self, line: Sequence[object]) -> dict[str, object]:
        """One line below the headings as a row of key → cell."""
        return {key: (line[i] if i < len(line) else None) for i, key in enumerate(self.keys) if key}


def locate_headings(top: Sequence[Sequence[object]]) -> Headings:
    """The heading row among the first lines of a sheet (`top[i]` is row i + 1; only the first
    HEADING_SEARCH_ROWS are looked at). Raises Refusal (422) when no heading row names the
    required columns."""
    top = top[:HEADING_SEARCH_ROWS]
    scores = [_recognised(line) for line in top]
    best = max(scores, default=0)
    if best < MIN_HEADINGS_RECOGNISED:
        # Nothing looks like the heading row: report the first line with anything in it.
        found = next((line for line in top if any(_text(c) for c in line)), [])
        raise _missing_columns(set(COLUMNS), [_text(c) for c in found], 0)
    index = scores.index(best)
    headings = [_text(cell) for cell in top[index]]
    return Headings(index, headings, _keys(headings, index + 1))


def locate_table(lines: Sequence[Sequence[object]]) -> Table:
    """The table of a CSV or XLSX sheet, whose `lines[i]` is row i + 1. Raises Refusal (422) when
    no heading row names the required columns."""
    found = locate_headings(lines)
    index, headings = found.index, found.headings
    rows: list[dict[str, object]] = []
    blanks: list[dict[str, object]] = []  # held back until a data row follows
    for line in lines[index + 1 :]:
        row = found.row(line)
        if all(value is None for value in row.values()):
            blanks.append(row)
            continue
        rows += blanks
        blanks.clear()
        rows.append(row)
    return Table(rows, index + 2, [h for h in headings if h], index + 1)


def name_rows(rows: Sequence[Mapping[str, object]]) -> Table:
    """The rows of a JSON upload with their keys read as headings are, numbered from 1."""
    headings: list[str] = []
    for row in rows:
        headings += [key for key in row if key not in headings]
    keys = dict(zip(headings, _keys(headings, None), strict=True))
    named = [{keys[key]: value for key, value in row.items()} for row in rows]
    return Table(named, 1, headings, None)


def _keys(headings: list[str], heading_row: int | None) -> list[str]:
    """Each heading's key in the rows: its column's name, or itself for an office's own column;
    "" for a blank heading. Refuses a column named twice and a missing required one."""
    keys: list[str] = []
    named: dict[str, list[str]] = {}
    for heading in headings:
        column = column_of(heading) if heading else None
        key = column.value if column is not None else heading
        keys.append(key)
        if key:
            named.setdefault(key, []).append(heading)
    twice = [written for written in named.values() if len(written) > 1]
    if twice:
        listed = "；".join("、".join(f"“{h}”" for h in written) for written in twice)
        raise Refusal(
            FieldError(
                "file",
                f"表头中同一列出现了不止一次：{listed}，请只保留一列",
                f"the header names the same column more than once: {listed}; keep one",
            )
        )
    missing = {column for column in COLUMNS if column.value not in named}
    if missing:
        raise _missing_columns(missing, [h for h in headings if h], heading_row)
    return keys


# A line taken for headings may be a data row (a sheet without headings): a cell with a run of
# digits may be an ID or phone number, and a refusal never repeats one.
_NUMBERS: Final = re.compile(r"\d{5,}")
_SHOWN_HEADINGS: Final = 30
_SHOWN_LENGTH: Final = 30


def _shown(found: list[str]) -> list[str]:
    shown = [h[:_SHOWN_LENGTH] for h in found if h and not _NUMBERS.search(h)]
    return shown[:_SHOWN_HEADINGS]


def _missing_columns(missing: set[Column], found: list[str], heading_row: int | None) -> Refusal:
    """`heading_row` is 0 when no heading row was found (then `found` is the first line with
    anything in it), None for a JSON upload (its keys)."""
    absent = [column.value for column in COLUMNS if column in missing]
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
