"""The console (工作台) as people use it: Chromium through the front door against the four real
services. Each role logs in with its demo account and lands on its own work list; a district
fills in the annex-3 form (client-side checks on the field, then the server's), submits it and
sees it in its list with its 受理编号; a session that ends mid-form keeps the draft; and the main
pages have no serious or critical accessibility violations (axe-core, from the local npm
package). Screenshots are kept in test-artifacts/console-*.png."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, Final

import pytest
from playwright.async_api import BrowserContext, Page, expect

from huigong_platform import accounts

from ..conftest import Stack
from ..forms import DISTRICT_UNION_CODE, UNION_CODE
from .browser import chromium
from .frontdoor import FrontDoor, front_door
from .processes import REPO, ServiceProcess, artefacts_dir, running
from .test_seed import run_seed, seed_keyring

HUIGONG: Final = Path(sys.executable).parent / "huigong"
AXE: Final = REPO / "web" / "console" / "node_modules" / "axe-core" / "axe.min.js"
WAIT_MS: Final = 30_000
OFFSET: Final = 1800


@pytest.fixture(scope="module")
async def services(stack: Stack) -> AsyncIterator[tuple[ServiceProcess, ...]]:
    async with running(stack, ("intake", "review", "registry", "metrics"), OFFSET, "console") as procs:
        # The 2022 cohort, so the registrar's list has units in it.
        await asyncio.to_thread(run_seed, procs[2].url, await seed_keyring(stack))
        yield procs


@pytest.fixture(scope="module")
def door(services: tuple[ServiceProcess, ...]) -> Iterator[FrontDoor]:
    with front_door(services[0].port) as opened:
        yield opened


def users(stack: Stack, *args: str) -> str:
    env = {**os.environ, "HUIGONG_PG_ADMIN_DSN": stack.admin_dsn}
    done = subprocess.run(
        [str(HUIGONG), "users", *args], capture_output=True, text=True, timeout=60, env=env, check=True
    )
    return done.stdout


@pytest.fixture(scope="module")
def demo(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """username → password of the demo accounts bin/run creates."""
    file = tmp_path_factory.mktemp("console") / "demo-accounts.tsv"
    users(stack, "demo", str(file), "--actor", "tests")
    return accounts.read_password_file(file)


async def log_in(page: Page, door: FrontDoor, username: str, password: str) -> None:
    await page.goto(f"{door.url}/")
    await expect(page.get_by_role("heading", name="惠工 · 工作台")).to_be_visible(timeout=WAIT_MS)
    await page.get_by_label("用户名").fill(username)
    await page.get_by_label("密码").fill(password)
    await page.get_by_role("button", name="登录").click()


async def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Serious and critical violations on the page as it is (axe-core from the local package)."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.add_script_tag(path=str(AXE))
    result: dict[str, Any] = await page.evaluate("axe.run(document, { resultTypes: ['violations'] })")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@pytest.fixture
async def browser() -> AsyncIterator[BrowserContext]:
    async with chromium() as context:
        yield context


# role → (demo account, where it lands, what its work list shows)
LANDINGS: Final = {
    "district": ("demo-district", "/district/applications", "市南区 · 本单位申报"),
    "group": ("demo-group", "/district/applications", "海尔集团 · 本单位申报"),
    "city": ("demo-city", "/city/applications", "全部申报"),
    "reviewer": ("demo-reviewer1", "/review/queue", "评审队列"),
    "chair": ("demo-chair", "/review/queue", "评审队列"),
    "registrar": ("demo-registrar", "/registry/units", "建设单位"),
    "ops": ("demo-ops", "/city/applications", "全部申报"),
    "viewer": ("demo-viewer", "/registry/units", "建设单位"),
}


async def test_each_role_logs_in_and_lands_on_its_own_work_list(
    door: FrontDoor, demo: dict[str, str], browser: BrowserContext
) -> None:
    problems: dict[str, list[dict[str, Any]]] = {}
    for role, (username, path, heading) in LANDINGS.items():
        page = await browser.new_page()
        await log_in(page, door, username, demo[username])
        await expect(page).to_have_url(f"{door.url}{path}", timeout=WAIT_MS)
        await expect(page.get_by_role("heading", name=heading)).to_be_visible(timeout=WAIT_MS)
        await expect(page.get_by_test_id("display-name")).to_contain_text("演示")
        if role == "registrar":
            # The seeded 2022 cohort, by name and with Chinese labels, never a code or UUID.
            table = page.get_by_test_id("units")
            cohort = table.locator("tr", has_text="即墨区职工服务中心")
            await expect(cohort).to_contain_text("服务职工综合体", timeout=WAIT_MS)
            await expect(cohort).to_contain_text("批准建设")
            await expect(cohort).to_contain_text("2022年6月28日")
            assert "service_complex" not in await table.inner_text()
        await page.wait_for_load_state("networkidle")
        await page.screenshot(path=str(artefacts_dir() / f"console-{role}.png"), full_page=True)
        found = await axe_violations(page)
        if found:
            problems[role] = found
        # Another role's page sends the person back to their own work list.
        if role == "reviewer":
            await page.goto(f"{door.url}/registry/units")
            await expect(page).to_have_url(f"{door.url}/review/queue", timeout=WAIT_MS)
        await page.get_by_role("button", name="退出登录").click()
        await expect(page.get_by_role("button", name="登录")).to_be_visible(timeout=WAIT_MS)
        await page.close()
    assert not problems, json.dumps(problems, ensure_ascii=False, indent=1)


async def test_the_login_page_refuses_a_wrong_password_on_the_field(
    door: FrontDoor, browser: BrowserContext
) -> None:
    page = await browser.new_page()
    await log_in(page, door, "demo-district", "not-the-password")
    await expect(page.get_by_text("用户名或密码错误")).to_be_visible(timeout=WAIT_MS)
    assert await axe_violations(page) == []
    await page.screenshot(path=str(artefacts_dir() / "console-login.png"))


async def fill_pilot_form(page: Page, pilot_name: str) -> None:
    """Every required field of annex 3, as a clerk of 市南区总工会 types it."""
    form = page.locator("form.pilot")
    await form.get_by_label("试点名称").fill(pilot_name)
    await pick_month(page, "试点时间（起）", "2027年7月")
    await pick_month(page, "试点时间（止）", "2030年6月")
    for legend, name, code in (
        ("试点承担单位", "市南区总工会", DISTRICT_UNION_CODE),
        ("试点参加单位（1）", "市南区职工服务中心", UNION_CODE),
        ("申报单位", "市南区总工会", DISTRICT_UNION_CODE),
    ):
        unit = form.locator("fieldset", has=page.locator("legend", has_text=legend)).first
        await unit.get_by_label("单位名称").fill(name)
        await unit.get_by_label("统一社会信用代码").fill(code)
    await form.get_by_label("所属行业").fill("工会")
    await form.get_by_label("现状及与试点应具备条件符合性").fill("区职工服务中心已运行五年，场地2000平方米。")
    await form.get_by_label("目前工作情况").fill("开展职工法律援助、技能培训和困难帮扶。")
    await form.get_by_label("试点预期实现工作目标（包括标准体系建立、实施及实施效果等）").fill(
        "建成服务职工综合体。"
    )
    stage = form.get_by_test_id("stage-row").first
    await stage.get_by_label("时间").fill("2027年7月—2027年12月")
    await stage.get_by_label("阶段工作内容").fill("制定三年规划和年度实施方案。")
    await stage.get_by_label("负责单位及参与单位").fill("市南区总工会")
    await form.get_by_label("经费主要投入方向").fill("中心功能改造")
    await form.get_by_label("经费来源（包括当地政府、工会经费投入等）").fill("区财政、工会经费")
    for legend, unit_name in (
        ("试点承担单位意见", "市南区总工会"),
        ("试点参加单位意见", "市南区职工服务中心"),
    ):
        opinion = form.locator("fieldset", has=page.locator("legend", has_text=legend)).first
        await opinion.get_by_label("单位名称").fill(unit_name)
        await opinion.get_by_label("意见").fill("同意申报。")
        await opinion.get_by_text("已加盖单位公章").click()
        await opinion.get_by_label("负责人（签名）").fill("王某")
        await opinion.get_by_label("日期").fill("2027年6月20日")
        await opinion.get_by_label("日期").press("Enter")


async def pick_month(page: Page, label: str, value: str) -> None:
    field = page.locator("form.pilot").get_by_label(label, exact=True)
    await field.fill(value)
    await field.press("Enter")


def field_error(page: Page, label: str) -> Any:
    item = page.locator(".el-form-item", has=page.get_by_text(label, exact=True)).first
    return item.locator(".el-form-item__error")


async def test_a_district_submits_the_annex_3_form_and_sees_it_in_its_list(
    door: FrontDoor, demo: dict[str, str], browser: BrowserContext
) -> None:
    page = await browser.new_page()
    await log_in(page, door, "demo-district", demo["demo-district"])
    await page.get_by_role("link", name="填写申报表（附件3）").first.click()
    await expect(
        page.get_by_role("heading", name="服务职工综合体/幸福企业试点申报表（附件3）")
    ).to_be_visible()

    # Sent empty: the console says what is missing on each field, before anything is sent.
    await page.get_by_role("button", name="报送").click()
    await expect(field_error(page, "试点名称")).to_have_text("请填写试点名称", timeout=WAIT_MS)
    await expect(field_error(page, "所属行业")).to_have_text("请填写所属行业")
    assert await axe_violations(page) == []

    # A name the server refuses (not “XXX—服务职工综合体建设”): its message, on the field.
    await fill_pilot_form(page, "市南区职工之家")
    await page.get_by_role("button", name="报送").click()
    await expect(field_error(page, "试点名称")).to_contain_text("试点名称应采用", timeout=WAIT_MS)
    await expect(page.get_by_test_id("server-errors")).to_be_visible()
    await page.screenshot(path=str(artefacts_dir() / "console-district-form-refused.png"), full_page=True)

    await page.locator("form.pilot").get_by_label("试点名称").fill("市南区工会服务职工综合体建设")
    await page.get_by_role("button", name="报送").click()
    await expect(page).to_have_url(re.compile(r"/district/applications\?submitted="), timeout=WAIT_MS)
    banner = page.get_by_text("已报送，受理编号").first
    await expect(banner).to_be_visible(timeout=WAIT_MS)
    receipt_no = (await banner.inner_text()).split("受理编号")[-1].strip()
    row = page.get_by_test_id("applications").locator("tr", has_text=receipt_no)
    await expect(row).to_contain_text("市南区工会服务职工综合体建设", timeout=WAIT_MS)
    await expect(row).to_contain_text("服务职工综合体")
    await page.screenshot(path=str(artefacts_dir() / "console-district-submitted.png"), full_page=True)


async def test_a_session_that_ends_mid_form_keeps_the_draft(
    stack: Stack, door: FrontDoor, browser: BrowserContext
) -> None:
    username = "console-draft"
    made = json.loads(
        users(
            stack,
            "create",
            username,
            "--principal",
            "district:370203",
            "--name",
            "市北区",
            "--actor",
            "tests",
            "--json",
        )
    )
    page = await browser.new_page()
    await log_in(page, door, username, made["password"])
    await expect(page).to_have_url(f"{door.url}/district/applications", timeout=WAIT_MS)
    await page.goto(f"{door.url}/district/applications/new")
    await fill_pilot_form(page, "市北区工会服务职工综合体建设")
    # The account's password is reset by an administrator: its open session ends.
    reset = users(stack, "reset", username, "--actor", "tests", "--reason", "draft test")
    new_password = reset.strip().splitlines()[-1]
    await asyncio.sleep(6)  # the services' session cache (HUIGONG_AUTH_CACHE_SECONDS, 5 s)
    await page.get_by_role("button", name="报送").click()
    await expect(page.get_by_text("登录已过期，请重新登录；正在填写的申报表已保存为草稿。")).to_be_visible(
        timeout=WAIT_MS
    )
    await page.get_by_label("用户名").fill(username)
    await page.get_by_label("密码").fill(new_password)
    await page.get_by_role("button", name="登录").click()
    await expect(page).to_have_url(f"{door.url}/district/applications/new", timeout=WAIT_MS)
    await expect(page.locator("form.pilot").get_by_label("试点名称")).to_have_value(
        "市北区工会服务职工综合体建设"
    )
    await expect(page.locator("form.pilot").get_by_label("所属行业")).to_have_value("工会")
