"""Uploaded sheets as staff save them: the same batch as CSV (UTF-8, with BOM, GBK), JSON and
XLSX reads as the same rows; an ID number Excel stored as a number is refused with advice; the
table is found below a title, its headings read through the synonym table, and its rows
numbered as Excel shows them."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime

import pytest
from openpyxl import Workbook

from huigong_intake.domain.enrolments import COLUMNS, ParsedRow, RowRejection, judge_batch, parse_row
from huigong_intake.domain.identity import id_check_char
from huigong_intake.domain.sheet_headings import (
    HEADING_SYNONYMS,
    Table,
    column_of,
    locate_table,
    name_rows,
    normalise_heading,
)
from huigong_platform.refusals import Refusal
from huigong_platform.sheets import Grid, SheetFormatError, read_sheet

HEADERS = [column.value for column in COLUMNS]
TODAY = date(2026, 6, 1)


def id_number(n: int) -> str:
    first17 = f"37020219880512{n:03d}"
    return first17 + id_check_char(first17)


BATCH: list[list[str]] = [
    ["王伟", id_number(1), "13800000001", "外卖送餐员", "美团", "市南区", "2023-05-01", "是"],
    ["欧阳晓晨", id_number(2), "13900000002", "快递员", "顺丰速运", "370202", "2024/1/2", "否"],
    ["买买提·艾力", id_number(3), "15000000003", "网约车驾驶员", "滴滴出行", "市南区", "2022年7月1日", "Y"],
    ["李娜", id_number(4), "", "货车司机", "货拉拉", "市南区", "2025-12-31", "N"],  # phone left empty
]
EXPECTED = [
    {header: (cell or None) for header, cell in zip(HEADERS, values, strict=True)} for values in BATCH
]


def as_csv(encoding: str, rows: list[list[str]] = BATCH, delimiter: str = ",") -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(HEADERS)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def as_json(wrapped: bool = False) -> bytes:
    rows = [dict(zip(HEADERS, values, strict=True)) for values in BATCH]
    return json.dumps({"rows": rows} if wrapped else rows, ensure_ascii=False).encode()


def as_xlsx(rows: list[list[object]], header: list[str] = HEADERS, before: int = 0, after: int = 0) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for _ in range(before):
        sheet.append([None])
    sheet.append(header)
    for values in rows:
        sheet.append(values)
    for _ in range(after):
        sheet.append([None] * len(header))
    # A second sheet must not be read.
    workbook.create_sheet("说明").append(["填写说明"])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def read_table(content: bytes, hint: str) -> Table:
    """What the upload route reads of a file: its table, found and named."""
    sheet = read_sheet(content, hint)
    return locate_table(sheet.lines) if isinstance(sheet, Grid) else name_rows(sheet)


def read_rows(content: bytes, hint: str) -> list[dict[str, object]]:
    return read_table(content, hint).rows


def xlsx_cells(values: list[str]) -> list[object]:
    return [cell or None for cell in values]


@pytest.mark.parametrize(
    ("content", "hint"),
    [
        (as_csv("utf-8"), "入会报送.csv"),
        (as_csv("utf-8-sig"), "入会报送.CSV"),
        (as_csv("gb18030"), "text/csv"),
        (as_csv("gbk"), "application/vnd.ms-excel"),
        (as_csv("utf-8", delimiter="\t"), "text/csv; charset=utf-8"),
        (as_json(), "batch.json"),
        (as_json(wrapped=True), "application/json"),
        (as_xlsx([xlsx_cells(values) for values in BATCH]), "入会报送.xlsx"),
        (
            as_xlsx([xlsx_cells(values) for values in BATCH]),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
    ],
)
def test_the_same_batch_in_every_format_reads_as_the_same_rows(content: bytes, hint: str) -> None:
    assert read_rows(content, hint) == EXPECTED


def test_header_blanks_are_trimmed_and_blank_rows_around_the_table_dropped() -> None:
    padded = [f" {header}\u3000" for header in HEADERS]
    content = as_xlsx([xlsx_cells(values) for values in BATCH], header=padded, before=2, after=5)
    assert read_rows(content, "a.xlsx") == EXPECTED

    text = (
        "\r\n" + ",".join(padded) + "\r\n" + as_csv("utf-8").decode().split("\r\n", 1)[1] + ",,,,,,,\r\n\r\n"
    )
    assert read_rows(text.encode(), "a.csv") == EXPECTED


def test_blank_rows_between_data_keep_their_place() -> None:
    rows: list[list[object]] = [xlsx_cells(BATCH[0]), [None] * 8, xlsx_cells(BATCH[1])]
    read = read_rows(as_xlsx(rows), "a.xlsx")
    assert read == [EXPECTED[0], dict.fromkeys(HEADERS), EXPECTED[1]]
    judgement = judge_batch(read, submitter="370202", secret=b"k", already_enrolled=set(), today=TODAY)
    assert [row.row_number for row in judgement.accepted] == [1, 3]


def test_excel_typed_cells_parse_to_the_same_values_as_text() -> None:
    typed: list[list[object]] = [
        ["王伟", id_number(1), 13800000001, "外卖送餐员", "美团", 370202, datetime(2023, 5, 1), "是"],
        ["欧阳晓晨", id_number(2), 13900000002, "快递员", "顺丰速运", "市南区", date(2024, 1, 2), 0],
    ]
    from_xlsx = read_rows(as_xlsx(typed), "a.xlsx")
    assert isinstance(from_xlsx[0]["入会日期"], date)  # a date cell stays a date
    from_csv = read_rows(as_csv("utf-8", BATCH[:2]), "a.csv")
    assert [parse_row(n, row, today=TODAY) for n, row in enumerate(from_xlsx, 1)] == [
        parse_row(n, row, today=TODAY) for n, row in enumerate(from_csv, 1)
    ]
    assert all(isinstance(parse_row(1, row, today=TODAY), ParsedRow) for row in from_xlsx)


@pytest.mark.parametrize("stored", [int(id_number(1)), float(id_number(1))])
def test_an_id_number_stored_as_an_excel_number_is_refused_with_advice(stored: float) -> None:
    cells: list[object] = ["王伟", stored, "13800000001", "外卖送餐员", "美团", "市南区", "2023-05-01", "是"]
    [row] = read_rows(as_xlsx([cells]), "a.xlsx")
    result = parse_row(1, row, today=TODAY)
    assert isinstance(result, RowRejection)
    [error] = result.errors
    assert error.field == "身份证号"
    assert "文本格式" in error.zh and "text" in error.en
    assert id_number(1)[:15] not in error.zh + error.en


def test_extra_columns_are_kept_and_blank_headed_columns_dropped() -> None:
    content = as_xlsx([[*xlsx_cells(BATCH[0]), "备注一", "ignored"]], header=[*HEADERS, "备注", ""])
    assert read_rows(content, "a.xlsx") == [{**EXPECTED[0], "备注": "备注一"}]


@pytest.mark.parametrize(
    ("content", "hint", "words"),
    [
        (as_csv("utf-8"), "batch.txt", "无法识别的文件格式"),
        (as_csv("utf-8"), "application/octet-stream", "无法识别的文件格式"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), "old.xls", ".xls"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), "application/vnd.ms-excel", ".xls"),
        (b"not a zip", "a.xlsx", "xlsx"),
        (b"PK\x03\x04broken", "a.xlsx", "xlsx"),
        (b'{"a": 1}', "a.json", "JSON"),
        (b"[1, 2]", "a.json", "JSON"),
        (b"[", "a.json", "JSON"),
    ],
)
def test_unreadable_uploads_are_refused_clearly(content: bytes, hint: str, words: str) -> None:
    with pytest.raises(ValueError) as raised:
        read_sheet(content, hint)
    assert isinstance(raised.value, SheetFormatError)
    assert words in raised.value.zh and raised.value.en


def test_a_sheet_with_only_its_headings_has_no_rows() -> None:
    assert read_rows(",".join(HEADERS).encode(), "a.csv") == []
    assert read_rows(as_xlsx([]), "a.xlsx") == []
    assert read_sheet(b"", "a.csv") == Grid([])
    assert read_sheet(b"[]", "a.json") == []


# --- the table as offices make it ---------------------------------------------------------------

OFFICE_HEADINGS: list[object] = [
    "序号",
    "姓名",
    "身份证号码",
    "联系电话",
    "职业",
    "所属平台",
    "所在区市",
    "入会时间",
    "互助保障",
]


def office_sheet(rows: list[list[object]]) -> list[list[object]]:
    """A title, a line of who filled it in, a blank line, then the headings in the office's own
    words with a 序号 column of their own."""
    return [
        ["市南区新就业形态劳动者入会名单（2026年11月）"],
        ["填报单位：市南区总工会", None, None, "填报日期：2026-11-20"],
        [],
        list(OFFICE_HEADINGS),
        *([n, *values] for n, values in enumerate(rows, 1)),
    ]


def xlsx_of(lines: list[list[object]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for line in lines:
        sheet.append(line or [None])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def csv_of(lines: list[list[object]], encoding: str) -> bytes:
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\r\n").writerows(
        [["" if c is None else c for c in line] for line in lines]
    )
    return out.getvalue().encode(encoding)


@pytest.mark.parametrize(
    ("content", "hint"),
    [
        (xlsx_of(office_sheet([xlsx_cells(v) for v in BATCH])), "名单.xlsx"),
        (csv_of(office_sheet([list(v) for v in BATCH]), "gbk"), "名单.csv"),
        (csv_of(office_sheet([list(v) for v in BATCH]), "utf-8-sig"), "名单.csv"),
    ],
)
def test_a_title_above_and_office_headings_read_as_the_same_rows(content: bytes, hint: str) -> None:
    table = read_table(content, hint)
    assert [{k: v for k, v in row.items() if k != "序号"} for row in table.rows] == EXPECTED
    assert table.heading_row == 4
    assert table.first_row == 5  # the first data row is the line Excel shows as 5
    assert table.headings == OFFICE_HEADINGS


def test_rows_are_numbered_as_excel_shows_them() -> None:
    lines = office_sheet([xlsx_cells(BATCH[0]), [], xlsx_cells(BATCH[1])])
    lines[5] = [None] * 9  # a blank line between the two people
    table = read_table(xlsx_of(lines), "a.xlsx")
    judgement = judge_batch(
        table.rows,
        submitter="370202",
        secret=b"k",
        already_enrolled=set(),
        today=TODAY,
        first_row_number=table.first_row,
    )
    assert [row.row_number for row in judgement.accepted] == [5, 7]


@pytest.mark.parametrize(
    ("heading", "column"),
    [
        ("身份证号码", "身份证号"),
        ("证件号码", "身份证号"),
        ("公民身份号码", "身份证号"),
        ("身份证号码（18位）", "身份证号"),
        ("*身份证号", "身份证号"),
        ("手机号码", "手机号"),
        ("联系电话", "手机号"),
        ("入会时间", "入会日期"),
        ("入会日期(yyyy-mm-dd)", "入会日期"),
        ("是否参加互助保障（是/否）", "是否参加互助保障"),
        (" 所属 区市 ", "所属区市"),
        ("备注", None),
    ],
)
def test_headings_read_through_the_synonym_table(heading: str, column: str | None) -> None:
    found = column_of(heading)
    assert (found.value if found is not None else None) == column


def test_the_heading_synonyms_name_one_column_each_and_every_column() -> None:
    names = [normalise_heading(n) for names in HEADING_SYNONYMS.values() for n in names]
    assert len(names) == len(set(names))
    assert set(HEADING_SYNONYMS) == set(COLUMNS)
    assert all(column.value in HEADING_SYNONYMS[column] for column in COLUMNS)


def test_a_sheet_without_a_required_column_is_refused_whole_naming_what_is_missing_and_found() -> None:
    headings: list[object] = ["序号", "姓名", "身份证号码", "联系电话", "职业", "所属平台", "所在区市"]
    lines: list[list[object]] = [["入会名单"], list(headings), [1, "王伟", id_number(1), "13800000001"]]
    with pytest.raises(Refusal) as raised:
        read_table(xlsx_of(lines), "a.xlsx")
    [error] = raised.value.errors
    assert error.field == "file"
    assert "缺少必需的列：入会日期、是否参加互助保障" in error.zh
    assert "第2行的表头：序号、姓名、身份证号码、联系电话、职业、所属平台、所在区市" in error.zh
    assert "入会日期" in error.en and "联系电话" in error.en


def test_a_sheet_without_headings_is_refused_without_repeating_its_numbers() -> None:
    lines: list[list[object]] = [list(BATCH[0]), list(BATCH[1])]
    with pytest.raises(Refusal) as raised:
        read_table(csv_of(lines, "utf-8"), "a.csv")
    [error] = raised.value.errors
    assert "没有找到表头行" in error.zh and "姓名" in error.zh
    assert id_number(1) not in error.zh + error.en and "13800000001" not in error.zh + error.en


def test_a_column_named_twice_is_refused() -> None:
    lines: list[list[object]] = [[*HEADERS, "联系电话"]]
    with pytest.raises(Refusal) as raised:
        read_table(xlsx_of(lines), "a.xlsx")
    [error] = raised.value.errors
    assert "“手机号”、“联系电话”" in error.zh


def test_json_uploads_read_their_keys_as_headings() -> None:
    rows = [{"身份证号码" if k == "身份证号" else k: v for k, v in row.items()} for row in EXPECTED]
    table = read_table(json.dumps(rows, ensure_ascii=False).encode(), "a.json")
    assert table.rows == EXPECTED and table.first_row == 1
