"""Enrolment sheets through intake's real app in this process: a sheet as an office makes it
(a title above, its own headings, an occupation in its own words) is read, its rows answered by
the numbers Excel shows; a sheet without a required column is refused whole; the result sheet
and the template download as workbooks staff can open."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import AsyncIterator
from datetime import date

import httpx
import pytest
from openpyxl import Workbook, load_workbook

from huigong_intake.app import create_app
from huigong_intake.domain.identity import id_check_char
from huigong_intake.handlers import Intake
from huigong_intake.policy import POLICY
from huigong_intake.settings import IntakeSettings
from huigong_platform.application import CommandPath
from huigong_platform.unit_of_work import MemoryState, in_memory_units

from ...inprocess import as_, in_process
from .memory import MemoryIntakeTables

SECRET = "00" * 32
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADINGS = ["序号", "姓名", "身份证号码", "联系电话", "职业", "所属平台", "所在区市", "入会时间", "互助保障"]


def id_number(n: int) -> str:
    first17 = f"37020219880512{n:03d}"
    return first17 + id_check_char(first17)


def office_sheet(*, headings: list[str] = HEADINGS) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["市南区新就业形态劳动者入会名单（2026年11月）"])
    sheet.append(["填报单位：市南区总工会"])
    sheet.append(headings)
    rows: list[list[object]] = [
        [1, "王伟", id_number(1), "13800000001", "外卖配送员", "美团", "市南区", date(2023, 5, 1), "是"],
        [2, "李娜", id_number(2), "13800000002", "网约车司机", "滴滴出行", "市南区", "2024-01-02", "否"],
        [3, "赵强", id_number(3), "12800000003", "骑手", "饿了么", "市南区", "2024-01-02", "否"],
        [4, "孙丽", id_number(4), "13800000004", "代驾", "e代驾", "市南区", "2024-01-02", "否"],
    ]
    for row in rows:
        sheet.append(row[: len(headings)])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


@pytest.fixture
def state() -> MemoryState:
    return MemoryState()


@pytest.fixture
async def client(state: MemoryState) -> AsyncIterator[httpx.AsyncClient]:
    intake = Intake(MemoryIntakeTables().records, bytes.fromhex(SECRET))
    commands = CommandPath(POLICY, intake.handlers(), in_memory_units(state))
    settings = IntakeSettings(
        service="intake",
        database_url="postgresql://nobody@127.0.0.1:1/none",
        member_key_secret=SECRET,
        personal_data_kek=SECRET,
    )
    async with in_process(create_app(settings), commands) as client:
        yield client


def upload(content: bytes, name: str = "入会名单.xlsx") -> dict[str, tuple[str, bytes, str]]:
    return {"file": (name, content, XLSX)}


async def test_an_office_sheet_is_read_and_its_rows_answered_by_their_excel_numbers(
    client: httpx.AsyncClient, state: MemoryState
) -> None:
    response = await client.post(
        "/enrolments/upload", files=upload(office_sheet()), headers={**as_("district:370202"), **key()}
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    # Headings on row 3, so the four people are rows 4 to 7 as Excel shows them.
    assert [row["row"] for row in answer["accepted"]] == [4, 5]
    rejected = {row["row"]: row["errors"] for row in answer["rejected"]}
    assert set(rejected) == {6, 7}
    assert [e["field"] for e in rejected[6]] == ["手机号"]  # 骑手 was read as 外卖送餐员
    [occupation] = rejected[7]
    assert occupation["field"] == "职业类别" and "外卖送餐员" in occupation["zh"]
    enrolled = [e for e in state.events if e.type == "EnrolmentRequested"]
    assert sorted(e.data["occupation"] for e in enrolled) == ["外卖送餐员", "网约车驾驶员"]


async def test_a_sheet_without_a_required_column_is_refused_whole(
    client: httpx.AsyncClient, state: MemoryState
) -> None:
    response = await client.post(
        "/enrolments/upload",
        files=upload(office_sheet(headings=HEADINGS[:7])),
        headers={**as_("district:370202"), **key()},
    )
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "file"
    assert "缺少必需的列：入会日期、是否参加互助保障" in error["zh"]
    assert "第3行的表头：序号、姓名、身份证号码、联系电话、职业、所属平台、所在区市" in error["zh"]
    assert "入会日期" in error["en"]
    assert not [e for e in state.events if e.type == "EnrolmentRequested"]


async def test_the_result_sheet_is_the_upload_with_its_results_and_a_retry_downloads_it_again(
    client: httpx.AsyncClient, state: MemoryState
) -> None:
    headers = {**as_("district:370202"), **key(), "Accept": XLSX}
    first = await client.post("/enrolments/upload", files=upload(office_sheet()), headers=headers)
    assert first.status_code == 200
    assert first.headers["content-type"] == XLSX
    again = await client.post("/enrolments/upload", files=upload(office_sheet()), headers=headers)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len([e for e in state.events if e.type == "EnrolmentRequested"]) == 2  # recorded once

    for response in (first, again):
        workbook = load_workbook(io.BytesIO(response.content))
        sheet = workbook["报送结果"]
        lines = [list(row) for row in sheet.iter_rows(values_only=True)]
        assert lines[0][0] == "市南区新就业形态劳动者入会名单（2026年11月）"  # every line in its place
        assert lines[2] == [*HEADINGS, "结果", "原因"]
        by_row = {number: line for number, line in enumerate(lines, 1)}
        assert by_row[4][1:3] == ["王伟", id_number(1)] and by_row[4][-2:] == ["已受理", None]
        assert by_row[5][-2] == "已受理"
        assert by_row[6][-2] == "未受理" and by_row[6][-1].startswith("手机号：")
        assert by_row[7][-2] == "未受理" and "职业类别" in by_row[7][-1]
        assert sheet.cell(row=4, column=3).number_format == "@"  # the ID number stays text
        totals = dict(workbook["汇总"].iter_rows(values_only=True))
        assert (totals["已受理入会"], totals["未受理"], totals["报送单位"]) == (2, 2, "市南区")


async def test_the_template_has_the_headings_lists_a_text_id_column_and_instructions(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/enrolments/template", headers=as_("district:370202"))
    assert response.status_code == 200
    assert response.headers["content-type"] == XLSX
    workbook = load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames[:2] == ["入会名单", "填写说明"]
    sheet = workbook["入会名单"]
    headings = [cell.value for cell in sheet[1]]
    assert headings == [
        "姓名",
        "身份证号",
        "手机号",
        "职业类别",
        "平台企业",
        "所属区市",
        "入会日期",
        "是否参加互助保障",
    ]
    assert sheet.column_dimensions["B"].number_format == "@"
    lists = {str(v.sqref).split(":")[0]: v.formula1 for v in sheet.data_validations.dataValidation}
    assert set(lists) == {"D2", "F2", "H2"}
    codes = workbook["代码表"]
    assert codes.sheet_state == "hidden"
    columns = {col[0].value: [c.value for c in col[1:] if c.value] for col in codes.iter_cols()}
    assert columns["职业类别"] == ["快递员", "外卖送餐员", "网约车驾驶员", "货车司机", "其他"]
    assert columns["所属区市"] == ["市南区"]  # a district enrols its own workers only
    assert columns["是否参加互助保障"] == ["是", "否"]
    notes = " ".join(str(c.value) for row in workbook["填写说明"].iter_rows() for c in row if c.value)
    assert "身份证号码" in notes and "外卖配送员" in notes and "文本格式" in notes

    city = await client.get("/enrolments/template", headers=as_("city:staff01"))
    codes = load_workbook(io.BytesIO(city.content))["代码表"]
    areas = [c.value for c in next(col for col in codes.iter_cols() if col[0].value == "所属区市")[1:]]
    assert "市南区" in areas and "李沧区" in areas
    refused = await client.get("/enrolments/template", headers=as_("reviewer:city/a"))
    assert refused.status_code == 403


async def test_a_worker_enrolled_without_mutual_aid_is_granted_it_later_by_a_row_of_the_same_district(
    client: httpx.AsyncClient, state: MemoryState
) -> None:
    district = {**as_("district:370202")}
    first = await client.post(
        "/enrolments/upload", files=upload(office_sheet()), headers={**district, **key()}
    )
    [(row, enrolment_id)] = [(a["row"], a["enrolment_id"]) for a in first.json()["accepted"] if a["row"] == 5]
    # 李娜 (row 5) joined without mutual aid; the office sends her row again with 是, among others.
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(HEADINGS)
    sheet.append(
        [1, "李娜", id_number(2), "13800000002", "网约车司机", "滴滴出行", "市南区", "2024-01-02", "是"]
    )
    sheet.append([2, "王伟", id_number(1), "13800000001", "外卖配送员", "美团", "市南区", "2023-05-01", "否"])
    out = io.BytesIO()
    workbook.save(out)
    later = await client.post(
        "/enrolments/upload", files=upload(out.getvalue()), headers={**district, **key(), "Accept": XLSX}
    )
    assert later.status_code == 200
    results = load_workbook(io.BytesIO(later.content))["报送结果"]
    lines = [list(r) for r in results.iter_rows(values_only=True)]
    assert lines[1][-2:] == ["已受理", "补报互助保障"]
    assert lines[2][-2] == "未受理" and "已报送此人" in lines[2][-1]  # 否: nothing to add
    [request] = [e for e in state.events if e.type == "MutualAidRequested"]
    # On the stream of her first enrolment, after it: the registry reads it in that order.
    assert (request.aggregate_id, request.aggregate_version) == (enrolment_id, 2)
    assert request.data["reported_by"] == "370202" and request.data["row_number"] == 2
    assert row == 5


async def test_a_json_uploads_result_sheet_puts_each_result_beside_its_own_row(
    client: httpx.AsyncClient,
) -> None:
    rows = [
        {"姓名": "王伟", "身份证号": id_number(7), "手机号": "12800000007", "职业类别": "骑手", "平台企业": "美团",
         "所属区市": "市南区", "入会日期": "2023-05-01", "是否参加互助保障": "是"},
        {"姓名": "李娜", "身份证号": id_number(8), "手机号": "13800000008", "职业类别": "骑手", "平台企业": "美团",
         "所属区市": "市南区", "入会日期": "2023-05-01", "是否参加互助保障": "是"},
    ]  # fmt: skip
    content = json.dumps(rows, ensure_ascii=False).encode()
    response = await client.post(
        "/enrolments/upload",
        files={"file": ("rows.json", content, "application/json")},
        headers={**as_("district:370202"), **key(), "Accept": XLSX},
    )
    assert response.status_code == 200
    lines = [
        list(r) for r in load_workbook(io.BytesIO(response.content))["报送结果"].iter_rows(values_only=True)
    ]
    assert lines[0][-2:] == ["结果", "原因"]
    assert lines[1][0] == "王伟" and lines[1][-2] == "未受理" and "手机号" in lines[1][-1]
    assert lines[2][0] == "李娜" and lines[2][-2:] == ["已受理", None]
