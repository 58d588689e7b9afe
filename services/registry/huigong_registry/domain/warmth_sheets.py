"""送温暖 delivery sheets (送温暖发放名单) as union offices keep them: the columns and the names
offices head them with, and one row read into the body of the delivery command.

Finding the table (heading row, synonyms, row numbers as Excel shows them) is the shared sheet
reading's (`huigong_platform.sheets`); judging a delivery is the command's (domain/warmth.py),
so a row of a sheet is refused for exactly what the same delivery sent as JSON would be. A
row's refusal names its column, never a cell's value: a phone number pasted into the wrong
column must not come back in an answer or a log.

The synonym table is documented for unions in docs/services/registry.md; change both together.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Final

from huigong_platform.refusals import FieldError
from huigong_platform.sheets import Headings, cell_date, cell_text


class Column(StrEnum):
    """The columns of a delivery sheet, exactly as the template heads them."""

    成员标识 = "成员标识"
    姓名 = "姓名"
    联系电话 = "联系电话"
    时机 = "时机"
    节日 = "节日"
    形式 = "形式"
    金额 = "金额"
    送温暖日期 = "送温暖日期"
    佐证编号 = "佐证编号"
    重复说明 = "重复说明"


COLUMNS: Final[tuple[Column, ...]] = tuple(Column)
# A sheet may leave these out: 节日 goes only with 重要节点, 实物 and 服务 may give no value, and
# a repeat reason is written only for a repeat.
OPTIONAL: Final = frozenset({Column.节日, Column.金额, Column.重复说明})
# One upload records at most this many deliveries (each is a command of its own).
MAX_ROWS: Final = 2_000

SYNONYMS: Final[Mapping[Column, tuple[str, ...]]] = {
    Column.成员标识: ("成员标识", "会员标识", "member_key", "成员编号", "入会回执标识"),
    Column.姓名: ("姓名", "受助人姓名", "受助成员姓名", "劳动者姓名", "职工姓名", "慰问对象"),
    Column.联系电话: ("联系电话", "手机号", "手机号码", "手机", "电话", "联系方式"),
    Column.时机: ("时机", "送温暖时机", "慰问时机", "慰问类别", "送温暖类别"),
    Column.节日: ("节日", "节日名称", "重要节点节日"),
    Column.形式: ("形式", "送温暖形式", "慰问形式", "慰问方式"),
    Column.金额: ("金额", "慰问金额", "慰问金金额", "折合金额", "金额元"),
    Column.送温暖日期: ("送温暖日期", "慰问日期", "送达日期", "发放日期", "日期"),
    Column.佐证编号: ("佐证编号", "佐证材料编号", "签收单编号", "凭证编号", "佐证"),
    Column.重复说明: ("重复说明", "重复原因", "再次慰问原因"),
}

HEADINGS: Final = Headings(
    {column.value: names for column, names in SYNONYMS.items()},
    required=[column.value for column in COLUMNS if column not in OPTIONAL],
)

# The delivery command's fields, by column: a refusal of the command names the column instead.
FIELDS: Final[dict[str, Column]] = {
    "member_key": Column.成员标识,
    "recipient.name": Column.姓名,
    "recipient.phone": Column.联系电话,
    "recipient": Column.姓名,
    "occasion": Column.时机,
    "festival": Column.节日,
    "form": Column.形式,
    "amount": Column.金额,
    "delivered_on": Column.送温暖日期,
    "evidence_ref": Column.佐证编号,
    "repeat_reason": Column.重复说明,
}


def body_of(row: Mapping[str, object]) -> dict[str, object]:
    """The delivery command's body from one row (columns left blank are left out, so the
    command's defaults and its own checks apply)."""
    text = {column: cell_text(row.get(column.value)) for column in COLUMNS}
    recipient = {"name": text[Column.姓名], "phone": text[Column.联系电话]}
    given: dict[str, object] = {
        "member_key": text[Column.成员标识],
        "recipient": {field: value for field, value in recipient.items() if value is not None},
        "occasion": text[Column.时机],
        "form": text[Column.形式],
        "delivered_on": cell_date(row.get(Column.送温暖日期.value)),
        "evidence_ref": text[Column.佐证编号],
    }
    # A blank cell is a missing field: refused as "required", not as a wrong type.
    body = {field: value for field, value in given.items() if value is not None}
    if text[Column.节日] is not None:
        body["festival"] = text[Column.节日]
    amount = text[Column.金额]
    if amount is not None:
        # "500元", "1,000": what offices type into an amount column that is not a number.
        body["amount"] = amount.removesuffix("元").replace(",", "").replace("，", "").strip()
    if text[Column.重复说明] is not None:
        body["repeat_reason"] = text[Column.重复说明]
    return body


def in_columns(errors: list[FieldError]) -> list[FieldError]:
    """A command's refusals named by the sheet's columns (a field no column holds keeps its
    name)."""
    named = []
    for error in errors:
        column = FIELDS.get(error.field) or FIELDS.get(error.field.split(".", 1)[0])
        named.append(FieldError(column.value if column else error.field, error.zh, error.en))
    return named
