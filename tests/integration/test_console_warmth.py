"""送温暖 in the console, as union and city staff use it: Chromium through the front door against
the real intake and registry services. 市总工会 sets 市南区's budget for the year with its reason
and sees budget, used and remaining; 市南区 records a delivery (a repeat without its reason is
refused on the field, an amount above the threshold waits for approval), imports its delivery
list (a good row recorded, a repeat and an overdraft refused with their reasons by the rows
Excel shows), filters its deliveries; 市总工会 approves the pending one. The 附件3 form offers the
平台经济企业 mark for a 幸福企业 only. axe-core finds no serious or critical violation; screenshots
test-artifacts/journey-warmth-*.png."""

from __future__ import annotations

import io
import json
import random
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from playwright.async_api import BrowserContext, Locator, Page, expect

from huigong_intake.domain.identity import member_key
from huigong_platform import accounts
from huigong_simulator.data import enrolment_rows

from ..conftest import Stack, isolated_stack
from .browser import chromium
from .frontdoor import FrontDoor, front_door
from .processes import ServiceProcess, artefacts_dir, running
from .test_console import WAIT_MS, axe_violations, log_in, users
from .test_review import eventually, key

OFFSET: Final = 2980
XLSX: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SHINAN: Final = {"X-Huigong-Principal": "district:370202"}
REGISTRAR: Final = {"X-Huigong-Principal": "registrar:city01"}
YEAR: Final = datetime.now(ZoneInfo("Asia/Shanghai")).year


@pytest.fixture(scope="module")
async def stack(stack_env: dict[str, str]) -> AsyncIterator[Stack]:
    """This module's own database and topics: its funds and deliveries are its own."""
    async with isolated_stack(stack_env) as own:
        yield own


@pytest.fixture(scope="module")
async def services(stack: Stack) -> AsyncIterator[tuple[ServiceProcess, ...]]:
    async with running(stack, ("intake", "registry"), OFFSET, "console-warmth") as procs:
        yield procs


@pytest.fixture(scope="module")
def door(services: tuple[ServiceProcess, ...]) -> Iterator[FrontDoor]:
    with front_door(services[0].port) as opened:
        yield opened


@pytest.fixture(scope="module")
def demo(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    file = tmp_path_factory.mktemp("console-warmth") / "demo-accounts.tsv"
    users(stack, "demo", str(file), "--actor", "tests")
    return accounts.read_password_file(file)


@pytest.fixture(scope="module")
async def members(stack: Stack, services: tuple[ServiceProcess, ...]) -> list[tuple[str, dict[str, Any]]]:
    """Two members 市南区 enrolled through intake's API, on the registry's roster."""
    rows = enrolment_rows(2, "370202", random.Random(2680))
    secret = bytes.fromhex(stack.env["HUIGONG_MEMBER_KEY_SECRET"])
    async with services[0].client() as intake:
        enrolled = await intake.post("/enrolments", json={"rows": rows}, headers={**SHINAN, **key()})
        assert enrolled.status_code == 200 and len(enrolled.json()["accepted"]) == 2, enrolled.text
    found = [(member_key(str(row["身份证号"]), secret), row) for row in rows]
    async with services[1].client() as registry:
        for member, _ in found:

            async def on_roster(member: str = member) -> bool:
                return (await registry.get(f"/members/{member}", headers=REGISTRAR)).status_code == 200

            await eventually(on_roster, "the registry enrols the member", 120.0)
    return found


@pytest.fixture
async def browser() -> AsyncIterator[BrowserContext]:
    async with chromium() as context:
        yield context


def item(form: Locator, label: str) -> Locator:
    return form.locator(".el-form-item", has=form.page.get_by_text(label, exact=True)).first


async def choose(page: Page, form: Locator, label: str, option: str) -> None:
    await item(form, label).locator(".el-select").click()
    await page.get_by_role("option", name=option, exact=True).click()


async def checked(page: Page, name: str) -> None:
    await page.wait_for_load_state("networkidle")
    await page.screenshot(path=str(artefacts_dir() / f"journey-warmth-{name}.png"), full_page=True)
    found = await axe_violations(page)
    assert not found, json.dumps(found, ensure_ascii=False, indent=1)


def delivery_sheet(rows: list[list[object]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["市南区总工会送温暖发放名单"])
    sheet.append(
        [
            "会员标识",
            "受助人姓名",
            "手机号码",
            "慰问类别",
            "节日",
            "慰问形式",
            "金额（元）",
            "慰问日期",
            "签收单编号",
            "重复原因",
        ]
    )
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def test_the_city_sets_a_budget_a_district_records_and_imports_and_the_city_approves(
    door: FrontDoor, demo: dict[str, str], browser: BrowserContext, members: list[tuple[str, dict[str, Any]]]
) -> None:
    city = await browser.new_page()
    await log_in(city, door, "demo-city", demo["demo-city"])
    await city.get_by_role("menuitem", name="送温暖预算与审批").click()
    await expect(city.get_by_role("heading", name="送温暖预算与审批")).to_be_visible(timeout=WAIT_MS)
    budget = city.get_by_test_id("budget-form")
    await choose(city, budget, "工会", "市南区")
    await budget.get_by_label("预算金额（元）").fill("3000")
    await budget.get_by_label("预算金额（元）").press("Tab")
    await budget.get_by_label("审批金额（元）").fill("1000")
    await budget.get_by_label("审批金额（元）").press("Tab")
    await budget.get_by_label("原因").fill(f"{YEAR}年度送温暖预算")
    await budget.get_by_role("button", name="保存预算").click()
    await expect(city.get_by_test_id("budget-saved")).to_have_text(
        f"已设定市南区{YEAR}年度预算", timeout=WAIT_MS
    )
    shinan = city.get_by_test_id("funds").get_by_role("row", name="市南区")
    await expect(shinan.locator('[data-figure="budget"]')).to_have_text("3,000")
    await expect(shinan.locator('[data-figure="remaining"]')).to_have_text("3,000")
    await checked(city, "city-budget")

    # The district's clerk in a browser of their own (a context shares its session cookie).
    async with chromium() as elsewhere:
        await district_journey(await elsewhere.new_page(), door, demo, members)

    # The city approves the pending delivery: nothing waits any more.
    await city.reload()
    pending = city.get_by_test_id("pending")
    await expect(pending.locator("tbody tr")).to_have_count(1, timeout=WAIT_MS)
    await expect(pending).to_contain_text("SN-03")
    await checked(city, "city-approval")
    await pending.get_by_role("button", name="批准", exact=True).click()
    await expect(pending).to_contain_text("没有待审批的送温暖", timeout=WAIT_MS)
    await expect(shinan.locator('[data-figure="drawn"]')).to_have_text("2,800")


async def district_journey(
    district: Page, door: FrontDoor, demo: dict[str, str], members: list[tuple[str, dict[str, Any]]]
) -> None:
    (a, row_a), (b, row_b) = members
    await log_in(district, door, "demo-district", demo["demo-district"])
    await district.get_by_role("menuitem", name="送温暖").click()
    await expect(district.get_by_role("heading", name="市南区 · 送温暖")).to_be_visible(timeout=WAIT_MS)
    form = district.locator("form.entry")

    async def record(member: tuple[str, dict[str, Any]], occasion: str, amount: int, evidence: str) -> None:
        await form.get_by_label("成员标识").fill(member[0])
        await form.get_by_label("姓名").fill(str(member[1]["姓名"]))
        await form.get_by_label("联系电话").fill(str(member[1]["手机号"]))
        await choose(district, form, "时机", occasion)
        await form.get_by_label("金额（元）").fill(str(amount))
        await form.get_by_label("金额（元）").press("Tab")
        await form.get_by_label("佐证编号").fill(evidence)
        await form.get_by_role("button", name="记录").click()

    await record((a, row_a), "遇到困难", 500, "SN-01")
    await expect(district.get_by_test_id("recorded")).to_have_text("已记录（已批准）", timeout=WAIT_MS)
    # The same member and occasion in the same year: refused on 重复说明 until a reason is given.
    await record((a, row_a), "遇到困难", 200, "SN-02")
    await expect(item(form, "重复说明").locator(".el-form-item__error")).to_contain_text(
        "再次记录须说明原因", timeout=WAIT_MS
    )
    # Above the threshold: pending the city's approval.
    await record((b, row_b), "重大疾病", 1500, "SN-03")
    await expect(district.get_by_test_id("recorded")).to_have_text("已记录（待审批）", timeout=WAIT_MS)
    fund = district.get_by_test_id("fund")
    await expect(fund.locator('[data-figure="remaining"]')).to_have_text("1,000")

    # The delivery list as the office keeps it: row 3 recorded, row 4 a repeat without its
    # reason, row 5 over what remains (1,000 − 800 = 200).
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    content = delivery_sheet(
        [
            [b, row_b["姓名"], row_b["手机号"], "重要节点", "春节", "慰问金", 800, today, "SN-04", None],
            [a, row_a["姓名"], row_a["手机号"], "遇到困难", None, "实物", 100, today, "SN-05", None],
            [a, row_a["姓名"], row_a["手机号"], "重要节点", "中秋节", "慰问金", 500, today, "SN-06", None],
        ]
    )
    await district.get_by_label("选择发放名单文件").set_input_files(
        {"name": "市南区送温暖名单.xlsx", "mimeType": XLSX, "buffer": content}
    )
    await district.get_by_role("button", name="上传导入").click()
    await expect(district.get_by_test_id("sheet-totals")).to_have_text(
        "数据行数 3，已记录 1，未记录 2", timeout=WAIT_MS
    )
    # By the rows Excel shows: a title and the headings above the first.
    results = district.get_by_test_id("sheet-results").locator("tbody tr")
    await expect(results).to_have_count(3)
    for index, (number, outcome, reason) in enumerate(
        (("3", "已记录", ""), ("4", "未记录", "再次记录须说明原因"), ("5", "未记录", "剩余 200 元"))
    ):
        cells = results.nth(index).locator("td")
        await expect(cells.nth(0)).to_have_text(number)
        await expect(cells.nth(1)).to_have_text(outcome)
        await expect(cells.nth(2)).to_contain_text(reason)
    await expect(fund.locator('[data-figure="drawn"]')).to_have_text("2,800")

    # The list, filtered to what waits for the city.
    deliveries = district.get_by_test_id("deliveries")
    await expect(deliveries.locator("tbody tr")).to_have_count(3)
    await district.locator(".el-select", has=district.get_by_role("combobox", name="按状态筛选")).click()
    await district.get_by_role("option", name="待审批", exact=True).click()
    await expect(deliveries.locator("tbody tr")).to_have_count(1)
    await expect(deliveries.locator("tbody tr")).to_contain_text("SN-03")
    await checked(district, "district")


async def test_the_application_form_offers_the_platform_economy_mark_for_a_happy_enterprise(
    door: FrontDoor, demo: dict[str, str], browser: BrowserContext
) -> None:
    page = await browser.new_page()
    await log_in(page, door, "demo-district", demo["demo-district"])
    await page.get_by_role("menuitem", name="填写申报表（附件3）").click()
    mark = page.get_by_test_id("platform-economy")
    await expect(page.get_by_text("服务职工综合体", exact=True).first).to_be_visible(timeout=WAIT_MS)
    await expect(mark).to_have_count(0)
    await page.get_by_text("职工生活幸福型企业", exact=True).click()
    await mark.click()
    await expect(page.get_by_label("覆盖关联企业劳动者人数")).to_be_visible()
    await page.get_by_label("试点覆盖的关联企业（每行一家）").fill("青岛某某配送站\n青岛某某加盟店")
    await checked(page, "platform-economy-form")
    # Back to a service complex: the mark goes (only a 幸福企业 may carry it).
    await page.get_by_text("服务职工综合体", exact=True).first.click()
    await expect(mark).to_have_count(0)
    await expect(page.get_by_label("覆盖关联企业劳动者人数")).to_have_count(0)
