"""The headings of an enrolment sheet as district offices write them (身份证号码, 证件号码, 联系电话,
入会时间…): finding the table itself (heading row, synonyms, Excel row numbers) is the shared
sheet reading's (`huigong_platform.sheets`).

The synonym table is documented for districts in docs/services/intake.md; change both together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from huigong_platform.sheets import HEADING_SEARCH_ROWS, HeadingRow, Headings, Table, normalise_heading
from huigong_platform.sheets import locate_headings as _locate_headings
from huigong_platform.sheets import locate_table as _locate_table
from huigong_platform.sheets import name_rows as _name_rows

from .enrolments import COLUMNS, Column

__all__ = [
    "HEADINGS",
    "HEADING_SEARCH_ROWS",
    "HEADING_SYNONYMS",
    "HeadingRow",
    "Table",
    "column_of",
    "locate_headings",
    "locate_table",
    "name_rows",
    "normalise_heading",
]

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

HEADINGS: Final = Headings(
    {column.value: names for column, names in HEADING_SYNONYMS.items()},
    required=[column.value for column in COLUMNS],
)


def column_of(heading: str) -> Column | None:
    """The column a heading names, or None for a column of the office's own (备注, 序号…)."""
    column = HEADINGS.column_of(heading)
    return None if column is None else Column(column)


def locate_headings(top: Sequence[Sequence[object]]) -> HeadingRow:
    """The heading row among the first lines of an enrolment sheet (an import job's start)."""
    return _locate_headings(top, HEADINGS)


def locate_table(lines: Sequence[Sequence[object]]) -> Table:
    """The table of an enrolment CSV or XLSX sheet, whose `lines[i]` is row i + 1. Raises Refusal
    (422) when no heading row names the required columns."""
    return _locate_table(lines, HEADINGS)


def name_rows(rows: Sequence[Mapping[str, object]]) -> Table:
    """The rows of a JSON enrolment upload with their keys read as headings are, numbered from 1."""
    return _name_rows(rows, HEADINGS)
