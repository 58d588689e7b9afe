"""入会登记 in the console: a district downloads the enrolment template, uploads its sheet as its
office keeps it (a title above the headings, its own words for the columns, two bad rows) and
reads the answer by the row numbers Excel shows: the counts, the refused rows with their reasons
(filtered to those alone), and the result sheet to download. A sheet missing a column is refused
as a whole with the message. A result of 10,000 rows stays a handful of rows in the page (the
table is virtualised) and scrolls to the last. Chromium through the front door against the real
intake service; screenshot test-artifacts/journey-district-enrolment.png."""

from __future__ import annotations

import io
import json
import random
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, Final

import openpyxl
import pytest
from playwright.async_api import BrowserContext, Page, Route, expect

from huigong_platform import accounts
from huigong_simulator.data import enrolment_rows

from ..conftest import Stack, isolated_stack
from .browser import chromium
from .frontdoor import FrontDoor, front_door
from .processes import ServiceProcess, artefacts_dir, running
from .test_console import WAIT_MS, axe_violations, log_in, users

OFFSET: Final = 2870
XLSX: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
COLUMNS: Final = (
    "姓名",
    "身份证号",
    "手机号",
    "职业类别",
    "平台企业",
    "所属区市",
    "入会日期",
    "是否参加互助保障",
)
# The office's own words for the columns (intake's synonym table), and a 序号 column of its own.
OFFICE_HEADINGS: Final = {
    "姓名": "职工姓名",
    "身份证号": "身份证号码",
    "手机号": "联系电话",
    "职业类别": "职业",
    "平台企业": "所属平台",
    "所属区市": "所在区市",
    "入会日期": "入会时间",
    "是否参加互助保障": "互助保障",
}


@pytest.fixture(scope="module")
async def stack(stack_env: dict[str, str]) -> AsyncIterator[Stack]:
    """This module's own database and topics: what its journeys record (units certified, targets
    set, members enrolled) must not move the figures other modules of the run count exactly."""
    async with isolated_stack(stack_env) as own:
        yield own


@pytest.fixture(scope="module")
async def services(stack: Stack) -> AsyncIterator[tuple[ServiceProcess, ...]]:
    async with running(stack, ("intake",), OFFSET, "enrolment") as procs:
        yield procs


@pytest.fixture(scope="module")
def door(services: tuple[ServiceProcess, ...]) -> Iterator[FrontDoor]:
    with front_door(services[0].port) as opened:
        yield opened


@pytest.fixture(scope="module")
def demo(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    file = tmp_path_factory.mktemp("enrolment") / "demo-accounts.tsv"
    users(stack, "demo", str(file), "--actor", "tests")
    return accounts.read_password_file(file)


@pytest.fixture
async def browser() -> AsyncIterator[BrowserContext]:
    async with chromium() as context:
        yield context


def office_sheet(rows: list[dict[str, object]], headings: dict[str, str]) -> bytes:
    """An .xlsx as a district office keeps it: a title on row 1, a blank row 2, its headings
    (with 序号) on row 3, so the first person is on row 4; ID and phone numbers as text."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["市南区新就业形态劳动者入会名单（2026年12月）"])
    sheet.append([])
    sheet.append(["序号", *headings.values()])
    for number, row in enumerate(rows, start=1):
        sheet.append([number, *(str(row[column]) for column in headings)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def sheet_lines(path: Path) -> list[tuple[Any, ...]]:
    book = openpyxl.load_workbook(path)
    return list(book.worksheets[0].iter_rows(values_only=True))


async def open_page(page: Page, door: FrontDoor, demo: dict[str, str]) -> None:
    await log_in(page, door, "demo-district", demo["demo-district"])
    await expect(page).to_have_url(f"{door.url}/district/applications", timeout=WAIT_MS)
    await page.get_by_role("menuitem", name="入会登记").click()
    await expect(page).to_have_url(f"{door.url}/district/enrolments", timeout=WAIT_MS)
    await expect(page.get_by_role("heading", name="市南区 · 入会登记")).to_be_visible(timeout=WAIT_MS)


async def upload(page: Page, name: str, content: bytes) -> None:
    await page.get_by_label("入会名单文件").set_input_files(
        {"name": name, "mimeType": XLSX, "buffer": content}
    )
    await page.get_by_role("button", name="上传报送").click()


async def test_a_district_uploads_its_sheet_and_reads_each_row_by_its_excel_number(
    door: FrontDoor, demo: dict[str, str], browser: BrowserContext, tmp_path: Path
) -> None:
    page = await browser.new_page()
    await open_page(page, door, demo)

    # The template: the eight headings on the first sheet.
    async with page.expect_download() as template_download:
        await page.get_by_role("button", name="下载模板").click()
    template = await template_download.value
    assert template.suggested_filename == "入会报送表模板.xlsx"
    await template.save_as(tmp_path / "template.xlsx")
    assert sheet_lines(tmp_path / "template.xlsx")[0][: len(COLUMNS)] == COLUMNS

    # Six people on rows 4–9: row 6 with a phone number too short, row 8 with an occupation
    # that is none of the five categories. Fresh ID numbers, so no earlier run enrolled them.
    rows = [
        {**row, "所属区市": "市南区", "职业类别": "外卖骑手"}
        for row in enrolment_rows(6, "370202", random.Random(uuid.uuid4().int))
    ]
    rows[2]["手机号"] = "1380000"
    rows[4]["职业类别"] = "厨师"
    await upload(page, "市南区入会名单.xlsx", office_sheet(rows, OFFICE_HEADINGS))

    totals = page.get_by_test_id("totals")
    await expect(totals).to_contain_text(re.compile(r"数据行数\s*6\b"), timeout=WAIT_MS)
    await expect(totals).to_contain_text(re.compile(r"已受理入会\s*4\b"))
    await expect(totals).to_contain_text(re.compile(r"未受理\s*2\b"))
    results = page.get_by_test_id("results")
    await expect(results).to_contain_text("已受理")
    await page.get_by_text("只看未受理的行").click()
    refused = results.locator(".el-table-v2__row")
    await expect(refused).to_have_count(2)
    await expect(refused.nth(0).locator(".el-table-v2__row-cell").first).to_have_text("6")
    await expect(refused.nth(0)).to_contain_text("未受理")
    await expect(refused.nth(0)).to_contain_text("手机号：")
    await expect(refused.nth(1).locator(".el-table-v2__row-cell").first).to_have_text("8")
    await expect(refused.nth(1)).to_contain_text("职业类别：")
    await expect(refused.nth(1)).to_contain_text("外卖送餐员")  # the categories are named
    # The cell as typed is never repeated back.
    assert "厨师" not in await results.inner_text()
    await page.screenshot(path=str(artefacts_dir() / "journey-district-enrolment.png"), full_page=True)
    found = await axe_violations(page)
    assert not found, json.dumps(found, ensure_ascii=False, indent=1)

    # The result sheet: every line in its place, 结果 and 原因 beside each data row; asking for
    # it records nothing again (the same file and key are replayed).
    async with page.expect_download() as result_download:
        await page.get_by_role("button", name="下载结果表").click()
    result = await result_download.value
    assert result.suggested_filename == "入会报送结果.xlsx"
    await result.save_as(tmp_path / "result.xlsx")
    lines = sheet_lines(tmp_path / "result.xlsx")
    assert lines[0][0] == "市南区新就业形态劳动者入会名单（2026年12月）"
    headings = list(lines[2])
    outcome, reason = headings.index("结果"), headings.index("原因")
    by_row = {number: lines[number - 1] for number in range(4, 10)}
    assert [by_row[n][outcome] for n in range(4, 10)] == [
        "已受理",
        "已受理",
        "未受理",
        "已受理",
        "未受理",
        "已受理",
    ]
    assert str(by_row[6][reason]).startswith("手机号：")
    assert "职业类别：" in str(by_row[8][reason])
    await expect(totals).to_contain_text(re.compile(r"已受理入会\s*4\b"))


async def test_a_sheet_missing_a_column_is_refused_whole_with_the_message(
    door: FrontDoor, demo: dict[str, str], browser: BrowserContext
) -> None:
    page = await browser.new_page()
    await open_page(page, door, demo)
    rows = [
        {**row, "所属区市": "市南区"} for row in enrolment_rows(2, "370202", random.Random(uuid.uuid4().int))
    ]
    missing = {column: heading for column, heading in OFFICE_HEADINGS.items() if column != "入会日期"}
    await upload(page, "缺列的名单.xlsx", office_sheet(rows, missing))
    refusal = page.get_by_test_id("upload-refusal")
    await expect(refusal).to_contain_text("缺少必需的列：入会日期", timeout=WAIT_MS)
    await expect(refusal).to_contain_text("第3行的表头")
    await expect(page.get_by_test_id("totals")).to_have_count(0)
    found = await axe_violations(page)
    assert not found, json.dumps(found, ensure_ascii=False, indent=1)


async def test_a_result_of_ten_thousand_rows_renders_a_window_of_them_and_scrolls_to_the_last(
    door: FrontDoor, demo: dict[str, str], browser: BrowserContext
) -> None:
    # The page's side alone: intake's answer for a full sheet (10,000 rows from row 2, every
    # seventh refused), given to the browser as intake would give it, without enrolling
    # 10,000 people on a shared test machine.
    numbers = range(2, 10_002)
    answer = {
        "batch_id": str(uuid.uuid4()),
        "submitter": "370202",
        "rows": len(numbers),
        "accepted": [{"row": n, "enrolment_id": str(uuid.uuid4())} for n in numbers if n % 7],
        "rejected": [
            {"row": n, "errors": [{"field": "手机号", "zh": "手机号应为11位数字", "en": "bad phone"}]}
            for n in numbers
            if n % 7 == 0
        ],
        "mutual_aid": [],
    }

    async def answer_upload(route: Route) -> None:
        await route.fulfill(status=200, content_type="application/json", body=json.dumps(answer))

    page = await browser.new_page()
    await open_page(page, door, demo)
    await page.route("**/api/intake/enrolments/upload", answer_upload)
    await upload(page, "全市名单.xlsx", b"PK")
    totals = page.get_by_test_id("totals")
    await expect(totals).to_contain_text(re.compile(r"数据行数\s*10000\b"), timeout=WAIT_MS)
    await expect(totals).to_contain_text(re.compile(r"未受理\s*1428\b"))
    # Only the rows in view are in the page, not ten thousand.
    rendered = await page.locator("[data-testid=results] .el-table-v2__row").count()
    assert 0 < rendered < 100, rendered
    # The last row is reached by scrolling (the mouse wheel over the table), numbered as Excel
    # shows it.
    await page.get_by_test_id("results").hover()
    await page.mouse.wheel(0, 1_000_000)
    last = page.locator("[data-testid=results] .el-table-v2__row").last
    await expect(last.locator(".el-table-v2__row-cell").first).to_have_text("10001", timeout=WAIT_MS)
    await expect(last).to_contain_text("已受理")
    # Refused alone: the last of them is row 9996 (every seventh row is refused).
    await page.get_by_text("只看未受理的行").click()
    await page.mouse.wheel(0, 1_000_000)
    await expect(last.locator(".el-table-v2__row-cell").first).to_have_text("9996", timeout=WAIT_MS)
    await expect(last).to_contain_text("手机号：手机号应为11位数字")


async def test_a_sheet_too_large_for_one_request_runs_as_a_job_the_page_follows(
    door: FrontDoor, demo: dict[str, str], browser: BrowserContext, tmp_path: Path
) -> None:
    # 10,200 rows: above what one request takes, so intake answers 202 with an import job, and
    # the page follows it through the front door until it has ended.
    rows = [
        {**row, "所属区市": "市南区"}
        for row in enrolment_rows(10_200, "370202", random.Random(uuid.uuid4().int))
    ]
    page = await browser.new_page()
    await open_page(page, door, demo)
    await upload(page, "全年入会名单.xlsx", office_sheet(rows, OFFICE_HEADINGS))
    job = page.get_by_test_id("import-job")
    await expect(page.get_by_role("heading", name="导入任务 · 全年入会名单.xlsx")).to_be_visible(
        timeout=WAIT_MS
    )
    await expect(job).to_contain_text(re.compile(r"数据行数\s*10200\b"), timeout=WAIT_MS)
    # A deadline, not a wait: the job takes seconds on an idle machine.
    await expect(job).to_contain_text("已完成", timeout=600_000)
    await expect(job).to_contain_text(re.compile(r"已读\s*10200\b"))
    await expect(page.get_by_role("button", name="取消导入")).to_have_count(0)
    found = await axe_violations(page)
    assert not found, json.dumps(found, ensure_ascii=False, indent=1)

    async with page.expect_download() as result_download:
        await page.get_by_role("button", name="下载结果表").click()
    result = await result_download.value
    assert result.suggested_filename == "入会导入结果.xlsx"
    await result.save_as(tmp_path / "result.xlsx")
    lines = sheet_lines(tmp_path / "result.xlsx")
    assert lines[0] == ("行号", "序号", *OFFICE_HEADINGS.values(), "结果", "原因")
    # Every data row by the row Excel showed (the first person on row 4), ID numbers masked.
    assert [line[0] for line in lines[1:]] == list(range(4, 4 + len(rows)))
    first_id = str(rows[0]["身份证号"])
    assert lines[1][3] == first_id[:6] + "********" + first_id[-4:]
    await page.screenshot(path=str(artefacts_dir() / "journey-district-enrolment-job.png"), full_page=True)
