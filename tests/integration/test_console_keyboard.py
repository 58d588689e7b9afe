"""The district's main journeys with the keyboard alone, as a clerk who uses no mouse does them:
Tab to move, typing, the space bar for a checkbox and the file chooser, Enter to confirm a date
and to press a button. Chromium through the front door against the real services. Annex 4 from
the work list's link to its 受理编号; the three-year plan of a selected application to 建设方案已报送;
the enrolment sheet from the file chooser to its per-row result. Navigating between pages is the
address typed (the side menu moves by arrow keys, as menus do)."""

from __future__ import annotations

import asyncio
import json
import random
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Final

import pytest
from playwright.async_api import BrowserContext, FileChooser, Page, expect

from huigong_simulator.data import enrolment_rows
from huigong_simulator.forms import credit_code

from ..conftest import Stack, isolated_stack
from ..forms import DISTRICT_UNION_CODE, complex_form, variant, with_fresh_undertaking_unit
from .browser import chromium
from .frontdoor import FrontDoor, front_door
from .processes import ServiceProcess, running
from .test_console import WAIT_MS, focused, shown_after_reloads, tab_to
from .test_console_district import client_of, post_until_ok
from .test_console_enrolment import OFFICE_HEADINGS, XLSX, office_sheet
from .test_console_staff import account

OFFSET: Final = 3100


@pytest.fixture(scope="module")
async def stack(stack_env: dict[str, str]) -> AsyncIterator[Stack]:
    """This module's own database and topics: what it records must not move the figures other
    modules of the run count exactly."""
    async with isolated_stack(stack_env) as own:
        yield own


@pytest.fixture(scope="module")
async def services(stack: Stack) -> AsyncIterator[tuple[ServiceProcess, ...]]:
    async with running(
        stack, ("intake", "review", "registry", "metrics"), OFFSET, "console-keyboard"
    ) as procs:
        yield procs


@pytest.fixture(scope="module")
def door(services: tuple[ServiceProcess, ...]) -> Iterator[FrontDoor]:
    with front_door(services[0].port) as opened:
        yield opened


@pytest.fixture(scope="module")
def clerk(stack: Stack) -> tuple[str, str]:
    """A clerk of 市南区总工会: one account (hashing each demo account's password takes long on a
    loaded machine, and these journeys need one)."""
    return account(stack, "district:370202", "市南区总工会")


@pytest.fixture
async def browser() -> AsyncIterator[BrowserContext]:
    async with chromium() as context:
        yield context


async def keyboard_login(page: Page, door: FrontDoor, username: str, password: str) -> None:
    await page.goto(f"{door.url}/login")
    await expect(page.get_by_role("heading", name="惠工 · 工作台")).to_be_visible(timeout=WAIT_MS)
    await tab_to(page, lambda e: e["label"] == "用户名")
    await page.keyboard.type(username)
    await tab_to(page, lambda e: e["label"] == "密码")
    await page.keyboard.type(password)
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(re.compile(r"/(district|city|review|registry|audit)/"), timeout=WAIT_MS)


async def fill_by_tab(
    page: Page,
    answers: dict[tuple[str | None, str], str],
    pickers: set[str],
    until: str,
    skip: str = "管理单位",
) -> None:
    """Tab through the form, typing each answer where its field (by legend and label) takes the
    focus, until the button `until`; a checkbox's answer is the space bar, a picker's typed
    value is confirmed with Enter."""
    typed: set[tuple[str | None, str]] = set()
    for _ in range(400):
        await page.keyboard.press("Tab")
        element = await focused(page)
        if element is None:
            continue
        if element["tag"] == "BUTTON" and element["text"] == until:
            break
        key: tuple[str | None, str] = (element["legend"], element["label"])
        if key not in answers:
            key = (None, element["label"])
        if key not in answers or key in typed or element["legend"].startswith(skip):
            continue
        typed.add(key)
        await page.keyboard.type(answers[key])
        if element["label"] in pickers:
            await page.keyboard.press("Enter")
    else:
        raise AssertionError(f"Tab never reached the {until} button")
    assert typed == set(answers), f"never reached by Tab: {set(answers) - typed}"


async def test_a_district_submits_annex_4_with_the_keyboard_alone(
    door: FrontDoor, clerk: tuple[str, str], browser: BrowserContext
) -> None:
    page = await browser.new_page()
    await keyboard_login(page, door, *clerk)
    await tab_to(page, lambda e: e["tag"] == "A" and e["text"] == "服务职工基地申报表（附件4）")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="服务职工基地申报表（附件4）")).to_be_visible(
        timeout=WAIT_MS
    )
    name = f"市南区心理服务职工基地{uuid.uuid4().hex[:4]}"
    answers: dict[tuple[str | None, str], str] = {
        (None, "名称"): name,
        ("承担单位", "单位名称"): "青岛某某心理咨询有限公司",
        ("承担单位", "统一社会信用代码"): credit_code(random.Random(), "91", "370202"),
        ("参加单位（1）", "单位名称"): "市南区总工会",
        ("参加单位（1）", "统一社会信用代码"): DISTRICT_UNION_CODE,
        ("申报单位", "单位名称"): "市南区总工会",
        ("申报单位", "统一社会信用代码"): DISTRICT_UNION_CODE,
        (None, "服务职工基地基本情况"): "专业心理咨询机构，场地800平方米。",
        (None, "现有服务职工项目的优势"): "心理疏导团队专业。",
        (None, "服务职工运营情况"): "年服务职工3000人次。",
        (None, "和工会已有合作的项目和效益"): "承接区总工会职工心理关爱项目。",
        (None, "下一步工作思路、项目设计"): "开发面向一线职工的心理服务项目。",
    }
    for legend, unit in (("承担单位意见", "青岛某某心理咨询有限公司"), ("参加单位意见", "市南区总工会")):
        answers[(legend, "单位名称")] = unit
        answers[(legend, "意见")] = "同意申报。"
        answers[(legend, "已加盖单位公章")] = " "  # a checkbox: the space bar ticks it
        answers[(legend, "负责人（签名）")] = "王某"
        answers[(legend, "日期")] = "2026年12月1日"
    await fill_by_tab(page, answers, {"日期"}, "报送")
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(re.compile(r"/district/applications\?submitted="), timeout=WAIT_MS)
    banner = page.get_by_text("已报送，受理编号").first
    await expect(banner).to_be_visible(timeout=WAIT_MS)
    receipt_no = (await banner.inner_text()).split("受理编号")[-1].strip()
    row = page.get_by_test_id("applications").locator("tr", has_text=receipt_no)
    await expect(row).to_contain_text(name, timeout=WAIT_MS)


async def test_a_district_sends_its_three_year_plan_with_the_keyboard_alone(
    stack: Stack, door: FrontDoor, clerk: tuple[str, str], browser: BrowserContext
) -> None:
    chair = account(stack, f"chair:city/{uuid.uuid4().hex[:6]}", "领导小组负责人")
    form = variant(with_fresh_undertaking_unit(complex_form()), period_start="2027-07", period_end="2030-06")
    async with client_of(door, *clerk) as api:
        sent = await api.post(
            "/api/intake/applications",
            json={"year": 2027, "programme": "service_complex", "form": json.loads(form.model_dump_json())},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        assert sent.status_code == 201, sent.text
        receipt_no = sent.json()["receipt_no"]
    async with client_of(door, *chair) as api:
        await post_until_ok(api, f"/api/review/applications/{receipt_no}/selection", {"decision": "select"})

    page = await browser.new_page()
    await keyboard_login(page, door, *clerk)
    await shown_after_reloads(
        page,
        f"{door.url}/district/applications/{receipt_no}",
        page.get_by_test_id("status").filter(has_text="已确定为建设单位"),
    )
    await tab_to(page, lambda e: e["tag"] == "A" and e["text"] == "报送建设方案")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="报送建设方案")).to_be_visible(timeout=WAIT_MS)
    answers: dict[tuple[str | None, str], str] = {
        (None, label): f"{label}：按三年规划分年实施。"
        for label in ("基本情况", "目标任务", "功能布局", "主要建设内容和任务", "管理和运行体制机制")
    }
    answers[(None, "预算总额（元）")] = "1500000.00"
    answers[(None, "预算估算")] = "设施改造100万元，项目运营50万元"
    answers[(None, "资金筹措方案")] = "区财政、工会经费"
    answers[(None, "政策保障措施")] = "区政府专题会议研究保障"
    await fill_by_tab(page, answers, set(), "报送方案")
    await page.keyboard.press("Enter")
    await expect(page.get_by_test_id("done")).to_have_text("建设方案已报送", timeout=WAIT_MS)
    await expect(page.get_by_test_id("plan-receipts").locator("tr", has_text="三年规划")).to_contain_text(
        "报送"
    )


async def test_a_district_uploads_its_enrolment_sheet_with_the_keyboard_alone(
    door: FrontDoor, clerk: tuple[str, str], browser: BrowserContext
) -> None:
    rows = [
        {**row, "所属区市": "市南区", "职业类别": "外卖骑手"}
        for row in enrolment_rows(3, "370202", random.Random(uuid.uuid4().int))
    ]
    rows[1]["手机号"] = "1380000"  # row 5: a phone number too short
    page = await browser.new_page()
    # Listening from the start: Playwright turns on the interception of file choosers without
    # waiting for it, so a listener added just before the key press could miss a chooser that
    # opens while the browser is busy.
    choosers: asyncio.Queue[FileChooser] = asyncio.Queue()
    page.on("filechooser", choosers.put_nowait)
    await keyboard_login(page, door, *clerk)
    await page.goto(f"{door.url}/district/enrolments")
    await expect(page.get_by_role("heading", name="市南区 · 入会登记")).to_be_visible(timeout=WAIT_MS)
    await tab_to(page, lambda e: e["tag"] == "INPUT" and e["type"] == "file")
    # The space bar opens the system's file chooser, as for any file button.
    await page.keyboard.press("Space")
    chooser = await asyncio.wait_for(choosers.get(), WAIT_MS / 1000)
    await chooser.set_files(
        {"name": "市南区入会名单.xlsx", "mimeType": XLSX, "buffer": office_sheet(rows, OFFICE_HEADINGS)}
    )
    await expect(page.get_by_test_id("chosen-file")).to_have_text("市南区入会名单.xlsx")
    await tab_to(page, lambda e: e["tag"] == "BUTTON" and e["text"] == "上传报送")
    await page.keyboard.press("Enter")
    totals = page.get_by_test_id("totals")
    await expect(totals).to_contain_text(re.compile(r"数据行数\s*3\b"), timeout=WAIT_MS)
    await expect(totals).to_contain_text(re.compile(r"已受理入会\s*2\b"))
    await expect(totals).to_contain_text(re.compile(r"未受理\s*1\b"))
