"""The city federation's pages in the console, as its staff use them: Chromium through the front
door against the four real services. 市总工会 opens a 补报窗口 with its reason and sees it listed
as open, with a refusal shown on the field first; changes a target for one district and year with
its reason and sees it listed with who changed it; exports the units list under a district filter
and gets an Excel workbook with Chinese headings and only that district's units. axe-core finds no
serious or critical violation on the new pages; screenshots are kept in
test-artifacts/journey-city-*.png."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from playwright.async_api import BrowserContext, Locator, Page, expect

from huigong_platform import accounts

from ..conftest import Stack, isolated_stack
from .browser import chromium
from .frontdoor import FrontDoor, front_door
from .processes import ServiceProcess, artefacts_dir, running
from .test_console import WAIT_MS, axe_violations, log_in, users
from .test_seed import run_seed, seed_keyring

OFFSET: Final = 2760
BEIJING: Final = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
async def stack(stack_env: dict[str, str]) -> AsyncIterator[Stack]:
    """This module's own database and topics: what its journeys record (units certified, targets
    set, members enrolled) must not move the figures other modules of the run count exactly."""
    async with isolated_stack(stack_env) as own:
        yield own


@pytest.fixture(scope="module")
async def services(stack: Stack) -> AsyncIterator[tuple[ServiceProcess, ...]]:
    async with running(stack, ("intake", "review", "registry", "metrics"), OFFSET, "console-city") as procs:
        # The 2022 cohort, so the units list has rows to export.
        await asyncio.to_thread(run_seed, procs[2].url, await seed_keyring(stack))
        yield procs


@pytest.fixture(scope="module")
def door(services: tuple[ServiceProcess, ...]) -> Iterator[FrontDoor]:
    with front_door(services[0].port) as opened:
        yield opened


@pytest.fixture(scope="module")
def demo(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    file = tmp_path_factory.mktemp("console-city") / "demo-accounts.tsv"
    users(stack, "demo", str(file), "--actor", "tests")
    return accounts.read_password_file(file)


@pytest.fixture
async def browser() -> AsyncIterator[BrowserContext]:
    async with chromium() as context:
        yield context


def on_field(form: Locator, label: str) -> Locator:
    """The error Element Plus shows under the form item labelled `label`."""
    return form.locator(".el-form-item", has=form.page.get_by_text(label, exact=True)).first.locator(
        ".el-form-item__error"
    )


async def choose(page: Page, form: Locator, label: str, option: str) -> None:
    """Picks `option` in the select labelled `label` within `form` (a listbox)."""
    await (
        form.locator(".el-form-item", has=form.page.get_by_text(label, exact=True))
        .first.locator(".el-select")
        .click()
    )
    await page.get_by_role("option", name=option, exact=True).click()


async def pick_date(field: Locator, day: datetime) -> None:
    await field.fill(f"{day.year}年{day.month}月{day.day}日")
    await field.press("Enter")


async def no_serious_violations(page: Page, name: str) -> None:
    await page.wait_for_load_state("networkidle")
    await page.screenshot(path=str(artefacts_dir() / f"journey-city-{name}.png"), full_page=True)
    found = await axe_violations(page)
    assert not found, json.dumps(found, ensure_ascii=False, indent=1)


async def test_the_city_opens_an_exception_window_and_sees_it_listed(
    door: FrontDoor, demo: dict[str, str], browser: BrowserContext
) -> None:
    page = await browser.new_page()
    await log_in(page, door, "demo-city", demo["demo-city"])
    await page.get_by_role("menuitem", name="补报窗口").click()
    await expect(page.get_by_role("heading", name="补报窗口", exact=True)).to_be_visible(timeout=WAIT_MS)
    form = page.locator("form.open")
    # 澳柯玛 and a closing day weeks ahead: no other module opens a window that would cover it.
    await choose(page, form, "区市或单位", "澳柯玛控股集团")
    closes = datetime.now(BEIJING) + timedelta(days=40 + random.randint(0, 200))
    await pick_date(form.get_by_label("关闭日期"), closes)
    # Too short a reason: the server's message, on the field.
    await form.get_by_label("原因").fill("补报")
    await form.get_by_role("button", name="开放窗口").click()
    await expect(on_field(form, "原因")).not_to_be_empty(timeout=WAIT_MS)
    reason = f"集团重组，延期报送（{random.randint(1000, 9999)}）"
    await form.get_by_label("原因").fill(reason)
    await form.get_by_role("button", name="开放窗口").click()
    await expect(page.get_by_text("已为澳柯玛控股集团开放")).to_be_visible(timeout=WAIT_MS)
    row = page.get_by_role("row", name=reason)
    await expect(row).to_contain_text("澳柯玛控股集团")
    await expect(row).to_contain_text("开放中")
    await expect(row).to_contain_text(f"{closes.year}/{closes.month:02d}/{closes.day:02d} 23:59")
    await no_serious_violations(page, "windows")


async def test_the_city_sets_a_district_target_for_a_year_and_sees_it_listed(
    door: FrontDoor, demo: dict[str, str], browser: BrowserContext
) -> None:
    page = await browser.new_page()
    await log_in(page, door, "demo-city", demo["demo-city"])
    await page.get_by_role("menuitem", name="目标").click()
    await expect(page.get_by_role("heading", name="目标", exact=True)).to_be_visible(timeout=WAIT_MS)
    # The targets file's rows are listed with their words, not codes.
    await expect(page.get_by_role("row", name="新时代区域共享职工之家").first).to_be_visible(timeout=WAIT_MS)
    form = page.locator("form.change")
    await choose(page, form, "指标", "新时代区域共享职工之家")
    await choose(page, form, "区市或单位", "莱西市")
    await form.get_by_label("目标年度").fill("2027")
    await form.get_by_label("目标年度").press("Tab")
    # A count target must be a whole number: refused on the field.
    await form.get_by_label("新目标值").fill("2.5")
    await form.get_by_label("调整原因").fill("莱西市新增建设任务")
    await form.get_by_role("button", name="调整目标").click()
    await expect(on_field(form, "新目标值（数量为整数；比例为0到1之间的小数）")).to_contain_text(
        "整数", timeout=WAIT_MS
    )
    value = random.randint(3, 60)
    await form.get_by_label("新目标值").fill(str(value))
    await form.get_by_role("button", name="调整目标").click()
    await expect(page.get_by_text(f"已调整“新时代区域共享职工之家”的目标为 {value}")).to_be_visible(
        timeout=WAIT_MS
    )
    # Filtered to 莱西市 and 2027: the one target, with who changed it and why.
    filters = page.locator("form.filters")
    await choose(page, filters, "区市或单位", "莱西市")
    await filters.get_by_label("按年度筛选").fill("2027")
    await filters.get_by_label("按年度筛选").press("Tab")
    row = page.get_by_role("row", name="莱西市")
    await expect(row).to_have_count(1, timeout=WAIT_MS)
    await expect(row).to_contain_text("2027年")
    await expect(row).to_contain_text(str(value))
    await expect(row).to_contain_text("市总工会调整")
    await expect(row).to_contain_text("莱西市新增建设任务")
    await no_serious_violations(page, "targets")


async def test_the_city_shares_a_target_among_districts_in_one_go(
    door: FrontDoor, demo: dict[str, str], browser: BrowserContext
) -> None:
    page = await browser.new_page()
    await log_in(page, door, "demo-city", demo["demo-city"])
    await page.get_by_role("menuitem", name="目标").click()
    await expect(page.get_by_role("heading", name="分解目标到区市和集团工会")).to_be_visible(timeout=WAIT_MS)
    await expect(page.get_by_role("row", name="新时代区域共享职工之家").first).to_be_visible(timeout=WAIT_MS)
    form = page.locator("form.split")
    await choose(page, form, "指标", "新时代区域共享职工之家")
    await form.get_by_label("分解目标的年度").fill("2028")
    await form.get_by_label("分解目标的年度").press("Tab")
    # 胶州市 4 and 平度市 2.5: a count is a whole number, refused on 平度市's own input; nothing
    # is recorded, 胶州市's share neither.
    await form.get_by_label("胶州市的分解目标").fill("4")
    await form.get_by_label("平度市的分解目标").fill("2.5")
    await form.get_by_label("分解原因").fill("按职工人数分解2028年目标")
    await form.get_by_role("button", name="分解目标").click()
    pingdu_error = form.locator(".el-form-item", has=page.get_by_label("平度市的分解目标")).locator(
        ".el-form-item__error"
    )
    await expect(pingdu_error).to_contain_text("整数", timeout=WAIT_MS)
    await form.get_by_label("平度市的分解目标").fill("3")
    await form.get_by_role("button", name="分解目标").click()
    await expect(page.get_by_text("已分解“新时代区域共享职工之家”的目标到 2 个区市或单位")).to_be_visible(
        timeout=WAIT_MS
    )
    await expect(form.get_by_test_id("shares-total")).to_contain_text("合计 7", timeout=WAIT_MS)
    # Both shares are listed with who set them and why.
    filters = page.locator("form.filters")
    await filters.get_by_label("按年度筛选").fill("2028")
    await filters.get_by_label("按年度筛选").press("Tab")
    for name, value in (("胶州市", "4"), ("平度市", "3")):
        # The list's row (the 分解 table above has a row per area too, without a year).
        row = page.get_by_role("row", name=name).filter(has_text="2028年")
        await expect(row).to_contain_text(value, timeout=WAIT_MS)
        await expect(row).to_contain_text("按职工人数分解2028年目标")
    await no_serious_violations(page, "target-shares")


async def test_the_city_exports_the_units_of_one_district_as_an_excel_workbook(
    door: FrontDoor, demo: dict[str, str], browser: BrowserContext, tmp_path: Path
) -> None:
    page = await browser.new_page()
    await log_in(page, door, "demo-city", demo["demo-city"])
    await page.get_by_role("menuitem", name="建设单位").click()
    filters = page.locator("form.filters")
    await choose(page, filters, "区市", "即墨区")
    async with page.expect_download(timeout=WAIT_MS) as started:
        await page.get_by_role("button", name="导出 Excel").click()
    download = await started.value
    assert download.suggested_filename.endswith(".xlsx")
    saved = tmp_path / download.suggested_filename
    await download.save_as(saved)
    sheet = load_workbook(saved, read_only=True).worksheets[0]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    headings = [str(h) for h in rows[0]]
    assert {"单位名称", "所属区市或单位", "状态"} <= set(headings), headings
    area = headings.index("所属区市或单位")
    assert len(rows) > 1
    assert {r[area] for r in rows[1:]} == {"即墨区"}
    await no_serious_violations(page, "export")
