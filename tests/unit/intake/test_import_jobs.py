"""What an import job reads and keeps, without a database: the file read line by line gives the
lines the synchronous upload reads (so a row means the same either way, and keeps its Excel row
number), and a row's outcome keeps no raw ID number, phone or name."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest
from openpyxl import Workbook

from huigong_intake.domain.import_jobs import mask_id_number, row_results, seconds_left
from huigong_intake.domain.sheet_headings import locate_headings, locate_table
from huigong_platform.sheets import (
    Grid,
    SheetFormatError,
    lines_in_memory,
    lines_on_disk,
    read_sheet,
    sheet_file,
)

HEADINGS = [
    "序号",
    "姓名",
    "身份证号码",
    "联系电话",
    "职业类别",
    "平台企业",
    "所属区市",
    "入会时间",
    "是否参加互助保障",
]
ROW = ["1", "张三丰", "370202199001011234", "13812345678", "骑手", "美团", "市南区", "2024-05-01", "是"]


def office_csv() -> str:
    return "\n".join(
        [
            "市南区新就业形态劳动者入会名单（2026年11月）",
            ",".join(HEADINGS),
            ",".join(ROW),
            "",
            '2,"李\n四",370202199001015678,13912345678,快递员,顺丰,市南区,2024-05-02,否',
        ]
    )


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk"])
def test_a_csv_read_line_by_line_gives_the_lines_of_the_synchronous_upload(
    encoding: str, tmp_path: Path
) -> None:
    content = office_csv().encode(encoding)
    grid = read_sheet(content, "名单.csv")
    assert isinstance(grid, Grid)
    file = sheet_file(content, "名单.csv")
    assert list(lines_in_memory(content, file)) == grid.lines
    path = tmp_path / "upload.csv"
    path.write_bytes(content)
    assert list(lines_on_disk(path, file)) == grid.lines


def test_a_workbook_read_line_by_line_gives_the_lines_of_the_synchronous_upload(tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet["B1"] = "入会名单"  # a title, not in column A
    sheet.append([])
    for column, heading in enumerate(HEADINGS[1:], 2):
        sheet.cell(row=3, column=column, value=heading)
    for column, value in enumerate(ROW[1:], 2):
        sheet.cell(row=4, column=column, value=value)
    sheet.cell(row=5, column=9, value=date(2024, 5, 1))
    out = io.BytesIO()
    workbook.save(out)
    content = out.getvalue()
    grid = read_sheet(content, "名单.xlsx")
    assert isinstance(grid, Grid)
    file = sheet_file(content, "名单.xlsx")
    assert list(lines_in_memory(content, file)) == grid.lines
    path = tmp_path / "upload.xlsx"
    path.write_bytes(content)
    assert list(lines_on_disk(path, file)) == grid.lines
    # The heading row is found where the synchronous path finds it: row 3.
    assert locate_table(grid.lines).heading_row == 3
    assert locate_headings(grid.lines).index == 2


def test_a_json_file_is_left_to_the_synchronous_upload() -> None:
    with pytest.raises(SheetFormatError, match="导入任务只接受"):
        sheet_file(b"[]", "rows.json")


def test_a_rows_outcome_is_kept_masked_with_its_reasons() -> None:
    headings = locate_headings([HEADINGS])
    lines: list[list[object]] = [list(ROW), [None] * len(HEADINGS), list(ROW)]
    rows = [headings.row(line) for line in lines]
    keyed = [[row.get(key) if key else None for key in headings.keys] for row in rows]
    answer = {
        "accepted": [{"row": 3, "enrolment_id": "e"}],
        "mutual_aid": [],
        "rejected": [
            {"row": 5, "errors": [{"field": "身份证号", "zh": "本批次中重复（与第3行相同）", "en": "…"}]}
        ],
    }
    results = row_results(keyed, 3, headings.keys, answer)
    assert [(r.row_number, r.result, r.reason) for r in results] == [
        (3, "accepted", ""),
        (5, "rejected", "身份证号：本批次中重复（与第3行相同）"),
    ]
    cells = results[0].cells
    assert cells[1:4] == ["张**", "370202********1234", "138****5678"]
    assert cells[4:] == ROW[4:]
    assert not any(raw in "".join(cells) for raw in ROW[1:4])


def test_masks_hide_short_values_whole() -> None:
    assert mask_id_number("12345") == "*****"


def test_the_estimate_follows_this_runs_pace() -> None:
    assert seconds_left(100_000, 20_000, 10_000, 5.0) == pytest.approx(40.0)
    assert seconds_left(100_000, 0, 0, 0.0) is None
    assert seconds_left(100_000, 100_000, 10_000, 5.0) == 0.0
