"""Uploaded sheets as staff save them: the same batch as CSV (UTF-8, with BOM, GBK), JSON and
XLSX reads as the same rows; an ID number Excel stored as a number is refused with advice."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime

import pytest
from openpyxl import Workbook

from huigong_intake.adapters.sheets import SheetFormatError, read_rows
from huigong_intake.domain.enrolments import COLUMNS, ParsedRow, RowRejection, judge_batch, parse_row
from huigong_intake.domain.identity import id_check_char

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
    assert isinstance(from_xlsx[0]["入会日期"], datetime)  # a date cell stays a date
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
    content = as_xlsx([["王伟", "备注一", "ignored"]], header=["姓名", "备注", ""])
    assert read_rows(content, "a.xlsx") == [{"姓名": "王伟", "备注": "备注一"}]


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
        ("姓名,姓名\n王伟,李娜\n".encode(), "a.csv", "表头重复"),
    ],
)
def test_unreadable_uploads_are_refused_clearly(content: bytes, hint: str, words: str) -> None:
    with pytest.raises(ValueError) as raised:
        read_rows(content, hint)
    assert isinstance(raised.value, SheetFormatError)
    assert words in raised.value.zh and raised.value.en


def test_empty_files_have_no_rows() -> None:
    assert read_rows(b"", "a.csv") == []
    assert read_rows(",".join(HEADERS).encode(), "a.csv") == []
    assert read_rows(b"[]", "a.json") == []
    assert read_rows(as_xlsx([]), "a.xlsx") == []
