"""What districts and the city report besides applications, as their staff do it in the console:
Chromium through the front door against the four real services. 市南区's clerk reports a
新就业形态劳动者服务站点 (what is missing told on the fields, a name the server refuses on its field)
and finds it registered in the district's own list with its host and services, records a service
project for the 项目库 (a malformed credit code refused on the field) and finds it listed; a group
union finds neither in its own lists. 市总工会 relays a department's compliance fact about a
certified unit, corrects it and withdraws it, and the registrar's unit page shows the title
suspended and then restored with the department's reason. axe-core finds no serious or critical
violation on the new pages; screenshots are kept in test-artifacts/journey-*.png."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Final

import asyncpg
import pytest
from playwright.async_api import BrowserContext, Page, expect

from huigong_platform import accounts
from huigong_platform.database import create_pool

from ..conftest import Stack, isolated_stack
from .browser import chromium
from .frontdoor import FrontDoor, front_door
from .processes import ServiceProcess, artefacts_dir, running
from .test_console import WAIT_MS, field_error, log_in, log_out, users
from .test_console_staff import Accessibility, pick
from .test_registry import certified_unit
from .test_review import today
from .test_seed import run_seed, seed_keyring

OFFSET: Final = 3000
BUILT: Final = {"HUIGONG_MIN_BUILDING_YEARS": "0"}


@pytest.fixture(scope="module")
async def stack(stack_env: dict[str, str]) -> AsyncIterator[Stack]:
    """This module's own database and topics: the facilities, projects and units it records must
    not move the figures other modules of the run count exactly."""
    async with isolated_stack(stack_env) as own:
        yield own


@pytest.fixture(scope="module")
async def services(stack: Stack) -> AsyncIterator[tuple[ServiceProcess, ...]]:
    async with running(
        stack, ("intake", "review", "registry", "metrics"), OFFSET, "console-reports", BUILT
    ) as procs:
        await asyncio.to_thread(run_seed, procs[2].url, await seed_keyring(stack))
        yield procs


@pytest.fixture(scope="module")
def door(services: tuple[ServiceProcess, ...]) -> Iterator[FrontDoor]:
    with front_door(services[0].port) as opened:
        yield opened


@pytest.fixture(scope="module")
def demo(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    file = tmp_path_factory.mktemp("console-reports") / "demo-accounts.tsv"
    users(stack, "demo", str(file), "--actor", "tests")
    return accounts.read_password_file(file)


@pytest.fixture
async def browser() -> AsyncIterator[BrowserContext]:
    async with chromium() as context:
        yield context


@pytest.fixture
async def review_db(stack: Stack) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(stack.dsn("review"), "review")
    yield pool
    await pool.close()


async def pick_today(page: Page, label: str) -> None:
    day = today()
    field = page.get_by_label(label, exact=True)
    await field.fill(f"{day.year}年{day.month}月{day.day}日")
    await field.press("Enter")


async def test_a_district_reports_a_station_and_a_project_and_finds_them_in_its_lists(
    door: FrontDoor, demo: dict[str, str], browser: BrowserContext
) -> None:
    shots, a11y = artefacts_dir(), Accessibility()
    station = f"中山路商圈骑手驿站{uuid.uuid4().hex[:4]}"
    page = await browser.new_page()
    await log_in(page, door, "demo-district", demo["demo-district"])
    await page.get_by_role("menuitem", name="设施报送").click()
    await expect(page.get_by_role("heading", name="设施报送", exact=True)).to_be_visible(timeout=WAIT_MS)
    form = page.locator("form.report")

    # Nothing filled in: each missing field says so.
    await form.get_by_role("button", name="报送设施").click()
    await expect(field_error(page, "设施类型")).to_have_text("请选择设施类型")
    await expect(field_error(page, "设施名称")).to_have_text("请填写设施名称")
    await expect(field_error(page, "建成日期")).to_have_text("请选择建成日期")

    # A station asks for its host and its services too.
    await pick(page, form, "设施类型", "新就业形态劳动者服务站点（服务综合体）")
    await form.get_by_label("所在单位", exact=True).fill("青岛中山路商业管理有限公司")
    await pick_today(page, "建成日期")
    await form.get_by_label("设施名称", exact=True).fill("——")
    await form.get_by_role("button", name="报送设施").click()
    await expect(field_error(page, "站点依托")).to_have_text("请选择站点依托")
    await expect(field_error(page, "提供的服务（每行一项）")).to_have_text("请填写站点提供的服务")
    await pick(page, form, "站点依托", "商圈")
    await form.get_by_label("提供的服务", exact=True).fill("歇脚饮水\n手机充电\n热饭")
    # A name without a word: intake's message, on the name's field.
    await form.get_by_role("button", name="报送设施").click()
    await expect(field_error(page, "设施名称")).not_to_be_empty(timeout=WAIT_MS)
    await a11y.check("district-facility-refused", page)

    await form.get_by_label("设施名称", exact=True).fill(station)
    await form.get_by_role("button", name="报送设施").click()
    await expect(page.get_by_role("status").filter(has_text=f"“{station}”已登记")).to_be_visible(
        timeout=WAIT_MS
    )
    row = page.get_by_test_id("own-facilities").get_by_role("row", name=station)
    await expect(row).to_contain_text("新就业形态劳动者服务站点")
    await expect(row).to_contain_text("商圈：歇脚饮水、手机充电、热饭")
    await expect(row).to_contain_text("在用")
    await a11y.check("district-facilities", page)
    await page.screenshot(path=str(shots / "journey-district-facility.png"), full_page=True)

    # A project for the 项目库: a credit code of the wrong shape is refused on its field.
    project = f"骑手法律服务进站点{uuid.uuid4().hex[:4]}"
    await page.get_by_role("menuitem", name="服务项目").click()
    await expect(page.get_by_role("heading", name="服务项目", exact=True)).to_be_visible(timeout=WAIT_MS)
    form = page.locator("form.propose")
    await form.get_by_label("项目名称", exact=True).fill(project)
    await pick(page, form, "服务领域", "法律援助")
    await form.get_by_label("提供单位", exact=True).fill("山东青岛某律师事务所")
    await form.get_by_label("提供单位统一社会信用代码", exact=True).fill("12345")
    await form.get_by_label("项目简介", exact=True).fill("每月两次律师进站点，为骑手解答劳动权益问题")
    await form.get_by_role("button", name="报送项目").click()
    await expect(field_error(page, "提供单位统一社会信用代码")).to_have_text(
        "统一社会信用代码为 18 位数字或大写字母"
    )
    await form.get_by_label("提供单位统一社会信用代码", exact=True).fill("31370000MD0123456X")
    await form.get_by_role("button", name="报送项目").click()
    await expect(
        page.get_by_role("status").filter(has_text=f"“{project}”已列入服务职工项目库")
    ).to_be_visible(timeout=WAIT_MS)
    row = page.get_by_test_id("own-projects").get_by_role("row", name=project)
    await expect(row).to_contain_text("法律援助")
    await expect(row).to_contain_text("山东青岛某律师事务所")
    await a11y.check("district-projects", page)
    await page.screenshot(path=str(shots / "journey-district-project.png"), full_page=True)
    await log_out(page)

    # 海尔集团工会 reads its own lists: neither is there.
    await log_in(page, door, "demo-group", demo["demo-group"])
    await page.get_by_role("menuitem", name="设施报送").click()
    await expect(page.get_by_test_id("own-facilities")).to_contain_text("暂无设施", timeout=WAIT_MS)
    await page.get_by_role("menuitem", name="服务项目").click()
    await expect(page.get_by_test_id("own-projects")).to_contain_text("暂无项目", timeout=WAIT_MS)
    a11y.assert_none()


async def unit_shows(page: Page, url: str, status: str, case_text: str) -> None:
    """The unit's page, read again until it shows `status` and a case with `case_text` (review's
    finding and the registry's reaction to it take a moment)."""
    deadline = asyncio.get_running_loop().time() + 60
    while True:
        await page.goto(url)
        try:
            await expect(page.get_by_test_id("unit-status")).to_have_text(status, timeout=3_000)
            await expect(page.get_by_test_id("revocation-case").first).to_contain_text(
                case_text, timeout=1_000
            )
            return
        except AssertionError:
            assert asyncio.get_running_loop().time() < deadline, (
                f"the unit never showed {status}, {case_text}"
            )


async def test_the_city_reports_corrects_and_withdraws_a_fact_and_the_unit_page_follows(
    services: tuple[ServiceProcess, ...],
    door: FrontDoor,
    demo: dict[str, str],
    browser: BrowserContext,
    review_db: asyncpg.Pool,
) -> None:
    shots, a11y = artefacts_dir(), Accessibility()
    intake_proc, review_proc, registry_proc, _ = services
    async with (
        intake_proc.client() as intake,
        review_proc.client() as review,
        registry_proc.client() as registry,
    ):
        _, code, unit_id, _ = await certified_unit(intake, review, registry, review_db)
    unit_url = f"{door.url}/registry/units/{unit_id}"
    evidence = f"青人社监字〔2026〕{uuid.uuid4().int % 10_000}号"

    # 1. 市总工会 relays 人社's finding of unpaid wages.
    page = await browser.new_page()
    await log_in(page, door, "demo-city", demo["demo-city"])
    await page.get_by_role("menuitem", name="合规事实").click()
    await expect(page.get_by_role("heading", name="合规事实", exact=True)).to_be_visible(timeout=WAIT_MS)
    form = page.locator("form.report")
    await form.get_by_role("button", name="报送事实").click()
    await expect(field_error(page, "统一社会信用代码")).to_have_text("请填写统一社会信用代码")
    await expect(field_error(page, "事实类型")).to_have_text("请选择事实类型")
    await form.get_by_label("统一社会信用代码", exact=True).fill(code)
    await form.get_by_label("单位名称", exact=True).fill("青岛某幸福企业有限公司")
    await pick(page, form, "事实类型", "拖欠工资")
    await pick(page, form, "报送部门", "人力资源和社会保障部门")
    day = today() - timedelta(days=2)
    occurred = form.get_by_label("发生日期", exact=True)
    await occurred.fill(f"{day.year}年{day.month}月{day.day}日")
    await occurred.press("Enter")
    await form.get_by_label("证据编号或文号", exact=True).fill(evidence)
    # A click beside the fields closes the date picker (Element Plus's open picker is an unnamed
    # dialog to axe); the page as the person reads it before sending is what is checked.
    await page.get_by_role("heading", name="合规事实", exact=True).click()
    await page.wait_for_function(
        "() => [...document.querySelectorAll('.el-popper')].every((e) => getComputedStyle(e).display === 'none')"
    )
    await a11y.check("city-fact-form", page)
    await form.get_by_role("button", name="报送事实").click()
    await expect(page.get_by_test_id("fact-status")).to_have_text("已报送", timeout=WAIT_MS)
    fact_url = page.url
    await expect(page.get_by_test_id("fact")).to_contain_text(evidence)
    await expect(page.get_by_test_id("fact-history")).to_contain_text("报送")
    await log_out(page)

    # 2. 登记人员: the unit's title is suspended on that ground.
    await log_in(page, door, "demo-registrar", demo["demo-registrar"])
    await expect(page).to_have_url(f"{door.url}/registry/units", timeout=WAIT_MS)
    await unit_shows(page, unit_url, "暂停", "审查中")
    await page.screenshot(path=str(shots / "journey-registrar-fact-suspended.png"), full_page=True)
    await log_out(page)

    # 3. 市总工会 corrects the reference (a reason asked for on the field first), then withdraws
    # the fact: 人社 revoked its decision.
    await log_in(page, door, "demo-city", demo["demo-city"])
    await expect(page).to_have_url(f"{door.url}/city/applications", timeout=WAIT_MS)
    await page.goto(fact_url)
    await expect(page.get_by_test_id("fact-status")).to_have_text("已报送", timeout=WAIT_MS)
    correct = page.locator("form.correct")
    await correct.get_by_label("更正后的文号", exact=True).fill(f"{evidence}（更正）")
    await correct.get_by_role("button", name="更正").click()
    await expect(field_error(page, "更正理由")).to_have_text("请填写更正理由")
    await correct.get_by_label("更正理由", exact=True).fill("文号录入有误")
    await correct.get_by_role("button", name="更正").click()
    await expect(page.get_by_test_id("fact-status")).to_have_text("已更正", timeout=WAIT_MS)
    await expect(page.get_by_test_id("fact-history")).to_contain_text("文号录入有误")
    withdraw = page.locator("form.withdraw")
    await withdraw.get_by_role("button", name="撤回事实").click()
    await expect(field_error(page, "撤回理由")).to_have_text("请填写撤回理由")
    # Checked with the pointer and focus off the button just pressed (its hover shade is lighter).
    await page.mouse.move(0, 0)
    await withdraw.get_by_label("撤回理由", exact=True).focus()
    await a11y.check("city-fact", page)
    await withdraw.get_by_label("撤回理由", exact=True).fill("人社部门已撤销处罚决定")
    await withdraw.get_by_role("button", name="撤回事实").click()
    await expect(page.get_by_test_id("fact-status")).to_have_text("已撤回", timeout=WAIT_MS)
    await expect(page.get_by_role("button", name="撤回事实")).to_have_count(0)
    await page.screenshot(path=str(shots / "journey-city-fact-withdrawn.png"), full_page=True)
    await log_out(page)

    # 4. 登记人员: the ground is cleared with the department's reason, the title stands again.
    await log_in(page, door, "demo-registrar", demo["demo-registrar"])
    await expect(page).to_have_url(f"{door.url}/registry/units", timeout=WAIT_MS)
    await unit_shows(page, unit_url, "已认定", "人社部门已撤销处罚决定")
    await a11y.check("registrar-fact-cleared", page)
    await page.screenshot(path=str(shots / "journey-registrar-fact-cleared.png"), full_page=True)
    a11y.assert_none()
