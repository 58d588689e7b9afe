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
import random
import re
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import BrowserContext, Locator, Page, expect

from huigong_events.reference import REVIEW_DIMENSIONS, SERVICE_COMPLEX_CRITERIA
from huigong_platform import accounts
from huigong_registry.domain.cohort import SERVICE_CENTRES
from huigong_simulator.forms import credit_code

from ..conftest import Stack
from ..forms import DISTRICT_UNION_CODE, UNION_CODE, annual_plan, three_year_plan
from .browser import chromium
from .frontdoor import FrontDoor, front_door
from .processes import REPO, ServiceProcess, artefacts_dir, running
from .test_seed import run_seed, seed_keyring

HUIGONG: Final = Path(sys.executable).parent / "huigong"
AXE: Final = REPO / "web" / "console" / "node_modules" / "axe-core" / "axe.min.js"
WAIT_MS: Final = 30_000
OFFSET: Final = 1800
# The journey certifies the unit it saw approved in the same sitting: no minimum building time
# (the registry's documented setting; its one-year default is the domain's tests').
BUILT: Final = {"HUIGONG_MIN_BUILDING_YEARS": "0"}


@pytest.fixture(scope="module")
async def services(stack: Stack) -> AsyncIterator[tuple[ServiceProcess, ...]]:
    async with running(stack, ("intake", "review", "registry", "metrics"), OFFSET, "console", BUILT) as procs:
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
    # A dialog fading in shows its text at part opacity, which axe reads as too little contrast:
    # check the page as it settles, once no transition or animation is running.
    await page.wait_for_function("() => document.getAnimations().every(a => a.playState !== 'running')")
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


async def fill_pilot_form(
    page: Page, pilot_name: str, undertaking: tuple[str, str] = ("市南区总工会", DISTRICT_UNION_CODE)
) -> None:
    """Every required field of annex 3, as a clerk of 市南区总工会 types it; `undertaking` is the
    undertaking unit (name, credit code): a unit applies once a year for a programme."""
    form = page.locator("form.pilot")
    await form.get_by_label("试点名称").fill(pilot_name)
    await pick_month(page, "试点时间（起）", "2027年7月")
    await pick_month(page, "试点时间（止）", "2030年6月")
    for legend, name, code in (
        ("试点承担单位", *undertaking),
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
        ("试点承担单位意见", undertaking[0]),
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


# --- the journey of one application, person by person --------------------------------------------


BEIJING: Final = ZoneInfo("Asia/Shanghai")


def beijing_now() -> datetime:
    return datetime.now(tz=BEIJING)


async def log_out(page: Page) -> None:
    await page.get_by_role("button", name="退出登录").click()
    await expect(page.get_by_role("button", name="登录")).to_be_visible(timeout=WAIT_MS)


async def shown_after_reloads(page: Page, url: str, locator: Locator, seconds: float = 30) -> None:
    """Opens `url` until `locator` shows: what another service has just recorded reaches the
    page's projection or store within moments, and a person would press reload."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        await page.goto(url)
        try:
            await expect(locator).to_be_visible(timeout=2_000)
            return
        except AssertionError:
            if asyncio.get_running_loop().time() > deadline:
                raise


async def choose(page: Page, label: str, option: str) -> None:
    """Picks `option` in the select labelled `label` (Element Plus's select is a listbox)."""
    item = page.locator(".el-form-item", has=page.get_by_text(label, exact=True)).first
    await item.locator(".el-select").click()
    await page.get_by_role("option", name=option, exact=True).click()


async def send_plans(page: Page, door: FrontDoor, receipt_no: str) -> None:
    """The district's three-year plan and first annual plan, sent with its own session (the
    console's plan forms are not built yet; the API is the district system's way)."""
    session = await (await page.request.get(f"{door.url}/api/intake/session")).json()
    for plan in (three_year_plan(2027), annual_plan(2027)):
        answer = await page.request.post(
            f"{door.url}/api/intake/applications/{receipt_no}/plans",
            headers={"X-CSRF-Token": session["csrf_token"], "Idempotency-Key": str(uuid.uuid4())},
            data={"plan": json.loads(plan.model_dump_json())},
        )
        assert answer.status == 201, await answer.text()


async def test_one_application_from_the_district_form_to_the_public_certificate(
    stack: Stack, door: FrontDoor, demo: dict[str, str], browser: BrowserContext
) -> None:
    shots = artefacts_dir()
    problems: dict[str, list[dict[str, Any]]] = {}

    async def check_accessibility(name: str, page: Page) -> None:
        found = await axe_violations(page)
        if found:
            problems[name] = found

    page = await browser.new_page()
    # 1. 区市总工会: the annex-3 form, from an undertaking unit of its own (one application a year).
    # The district federation by its full name: no other module's unit is called so.
    unit_name = "青岛市市南区总工会"
    undertaking = (unit_name, credit_code(random.Random(), "81", "370202"))
    # 市南's complex is built by 市南区职工服务中心, a unit since the seed (2022): the approval
    # attaches to it (one unit per centre), which then builds under the approved period.
    centre = "市南区职工服务中心"
    await log_in(page, door, "demo-district", demo["demo-district"])
    await expect(page).to_have_url(f"{door.url}/district/applications", timeout=WAIT_MS)
    await page.get_by_role("link", name="填写申报表（附件3）").first.click()
    await fill_pilot_form(page, "市南区工会服务职工综合体建设", undertaking)
    await page.get_by_role("button", name="报送").click()
    banner = page.get_by_text("已报送，受理编号").first
    await expect(banner).to_be_visible(timeout=WAIT_MS)
    receipt_no = (await banner.inner_text()).split("受理编号")[-1].strip()
    await page.screenshot(path=str(shots / "journey-district.png"), full_page=True)
    dossier_url = f"{door.url}/review/applications/{receipt_no}"
    await log_out(page)

    # 2. 领导小组负责人: the accepted application, selected as a construction unit.
    await log_in(page, door, "demo-chair", demo["demo-chair"])
    await expect(page).to_have_url(f"{door.url}/review/queue", timeout=WAIT_MS)
    status = page.get_by_test_id("status")
    await shown_after_reloads(page, dossier_url, status.filter(has_text="已受理"))
    await expect(page.get_by_role("heading", name="市南区工会服务职工综合体建设")).to_be_visible()
    await expect(page.get_by_test_id("summary")).to_contain_text(receipt_no)
    await expect(page.get_by_test_id("summary")).to_contain_text("市南区")
    await expect(page.get_by_role("heading", name="确定建设单位")).to_be_visible()
    await check_accessibility("chair-selection", page)
    await page.get_by_role("button", name="提交").click()
    await expect(page.get_by_test_id("done")).to_have_text("已确定为建设单位", timeout=WAIT_MS)
    await expect(status).to_have_text("已确定建设单位")
    await log_out(page)

    # 3. The district sends its plans.
    await log_in(page, door, "demo-district", demo["demo-district"])
    await expect(page).to_have_url(f"{door.url}/district/applications", timeout=WAIT_MS)
    await send_plans(page, door, receipt_no)
    await log_out(page)

    # 4. A reviewer of 市南区 itself is told to stand aside before starting.
    recusing = json.loads(
        users(
            stack,
            "create",
            "console-recuse",
            "--principal",
            "reviewer:370202/console-recuse",
            "--name",
            "市南区评审专家",
            "--actor",
            "tests",
            "--json",
        )
    )
    await log_in(page, door, "console-recuse", recusing["password"])
    await expect(page).to_have_url(f"{door.url}/review/queue", timeout=WAIT_MS)
    await page.goto(dossier_url)
    await expect(page.get_by_test_id("recusal")).to_contain_text("应当回避", timeout=WAIT_MS)
    await expect(page.get_by_role("button", name="提交评分")).to_have_count(0)
    await page.screenshot(path=str(shots / "journey-reviewer-recusal.png"), full_page=True)
    await log_out(page)

    # 5. Three reviewers read the plans and score the five dimensions; the third far below the rest.
    for number, mark in ((1, 85), (2, 86), (3, 60)):
        username = f"demo-reviewer{number}"
        await log_in(page, door, username, demo[username])
        await expect(page).to_have_url(f"{door.url}/review/queue", timeout=WAIT_MS)
        await shown_after_reloads(page, dossier_url, page.get_by_role("button", name="提交评分"))
        plans = page.get_by_test_id("plan")
        await expect(plans.filter(has_text="三年规划")).to_contain_text("主要建设内容和任务")
        await expect(plans.filter(has_text="年度实施方案")).to_contain_text("建设职工智慧健康驿站")
        await expect(page.get_by_test_id("recusal")).to_have_count(0)
        # Before their own score a reviewer sees no one else's.
        await expect(page.get_by_test_id("panel")).to_have_count(0)
        if number == 1:
            await page.get_by_role("button", name="提交评分").click()
            await expect(page.get_by_text("请为“总体思路”打分")).to_be_visible()
            await check_accessibility("reviewer-scoring", page)
        for dimension in REVIEW_DIMENSIONS:
            score = page.get_by_label(f"{dimension}得分（0–100）", exact=True)
            await score.fill(str(mark))
            await score.press("Tab")
            await page.get_by_label(f"{dimension}评语", exact=True).fill(f"{dimension}：思路清晰，措施可行。")
        if number == 3:
            await page.screenshot(path=str(shots / "journey-reviewer.png"), full_page=True)
        await page.get_by_role("button", name="提交评分").click()
        await expect(page.get_by_test_id("done")).to_have_text("评分已提交", timeout=WAIT_MS)
        await expect(page.get_by_test_id("scored")).to_be_visible()
        await expect(page.get_by_test_id("panel")).to_contain_text(f"{number} 人（需 3 人）")
        await log_out(page)

    # 6. The chair reads the panel, is asked for a note over the flagged score, and approves.
    await log_in(page, door, "demo-chair", demo["demo-chair"])
    await expect(page).to_have_url(f"{door.url}/review/queue", timeout=WAIT_MS)
    await shown_after_reloads(page, dossier_url, page.get_by_role("heading", name="建设决定"))
    await expect(page.get_by_test_id("panel")).to_contain_text("3 人（需 3 人）")
    flagged_row = page.get_by_test_id("panel-entries").locator("tr", has_text="demo-reviewer3")
    await expect(flagged_row).to_contain_text("偏离过多")
    await expect(page.get_by_test_id("flagged")).to_contain_text("demo-reviewer3")
    await check_accessibility("chair-decision", page)
    await page.get_by_role("button", name="提交决定").click()
    await expect(field_error(page, "对偏离评分的说明")).to_contain_text("须写明说明")
    await page.get_by_label("对偏离评分的说明", exact=True).fill(
        "第三位专家对资金投入的顾虑已在年度方案中回应。"
    )
    await page.get_by_role("button", name="提交决定").click()
    await expect(page.get_by_test_id("done")).to_have_text("已批准建设", timeout=WAIT_MS)
    await expect(page.get_by_test_id("status")).to_have_text("建设中")
    await page.screenshot(path=str(shots / "journey-chair.png"), full_page=True)
    await log_out(page)

    # 7. 登记人员: the new unit, assessed against the eight criteria, certified.
    await log_in(page, door, "demo-registrar", demo["demo-registrar"])
    await expect(page).to_have_url(f"{door.url}/registry/units", timeout=WAIT_MS)
    # The registry attaches the approval when review's decision reaches it: wait for that (the
    # registrar's own session reads the unit) before the certification, which it governs.
    centre_id = next(e.id for e in SERVICE_CENTRES if e.area == "370202")
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        read = await page.request.get(f"{door.url}/api/registry/units/{centre_id}")
        if read.ok and (await read.json())["applications"]:
            break
        assert asyncio.get_running_loop().time() < deadline, await read.text()
        await asyncio.sleep(0.5)
    row = page.get_by_test_id("units").locator("tr", has_text=centre)
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        await choose(page, "登记年度", "2022年")
        await choose(page, "区市", "市南区")
        await page.get_by_role("button", name="查询").click()
        try:
            await expect(row).to_be_visible(timeout=2_000)
            break
        except AssertionError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await page.reload()
    await expect(row).to_contain_text("批准建设")
    await expect(row).to_contain_text("服务职工综合体")
    await row.get_by_role("button", name="评估与认定").click()
    dialog = page.get_by_role("dialog", name="评估与认定")
    await expect(dialog).to_contain_text(centre)
    for criterion in SERVICE_COMPLEX_CRITERIA:
        await dialog.get_by_label(f"{criterion}：佐证材料或说明", exact=True).fill(
            f"现场核查：{criterion}已达到"
        )
    await dialog.get_by_role("button", name="保存评估").click()
    await expect(dialog.get_by_text("评估已保存")).to_be_visible(timeout=WAIT_MS)
    await check_accessibility("registrar-certification", page)
    # A date before the construction period began: refused, with the earliest date on the field.
    yesterday = (beijing_now() - timedelta(days=1)).date()
    date_field = dialog.get_by_label("认定日期", exact=True)
    await date_field.fill(f"{yesterday.year}年{yesterday.month}月{yesterday.day}日")
    await date_field.press("Enter")
    await dialog.get_by_role("button", name="认定为示范单位").click()
    today = beijing_now().date()
    await expect(dialog.get_by_test_id("certified-on")).to_contain_text(
        f"最早 {today.isoformat()}", timeout=WAIT_MS
    )
    await page.screenshot(path=str(shots / "journey-registrar-too-early.png"), full_page=True)
    await date_field.fill(f"{today.year}年{today.month}月{today.day}日")
    await date_field.press("Enter")
    await dialog.get_by_role("button", name="认定为示范单位").click()
    certified = page.get_by_test_id("certified")
    await expect(certified).to_contain_text("证书编号 QDGH-", timeout=WAIT_MS)
    certificate_no = (await certified.inner_text()).split("证书编号")[-1].strip()
    await expect(row).to_contain_text(certificate_no)
    await expect(row).to_contain_text("已认定")
    await page.screenshot(path=str(shots / "journey-registrar.png"), full_page=True)
    for menu, test_id in (("设施", "facilities"), ("公益伙伴", "partners")):
        await page.get_by_role("menuitem", name=menu).click()
        await expect(page.get_by_test_id(test_id)).to_be_visible(timeout=WAIT_MS)
        await page.wait_for_load_state("networkidle")
        await check_accessibility(f"registrar-{test_id}", page)
    await log_out(page)

    # 8. Anyone, without logging in: the certificate, by its number, from the login page.
    await page.get_by_role("link", name="示范单位证书核验（无需登录）").click()
    await expect(page.get_by_role("heading", name="示范单位证书核验")).to_be_visible(timeout=WAIT_MS)
    await page.get_by_label("证书编号", exact=True).fill(certificate_no)
    await page.get_by_role("button", name="核验").click()
    card = page.get_by_test_id("certificate")
    await expect(card).to_contain_text(centre, timeout=WAIT_MS)
    await expect(card).to_contain_text("有效")
    await expect(card).to_contain_text(f"{today.year}年{today.month}月{today.day}日")
    await check_accessibility("public-verification", page)
    await page.screenshot(path=str(shots / "journey-public-verification.png"), full_page=True)
    await page.get_by_label("证书编号", exact=True).fill("QDGH-1999-FQ-0001")
    await page.get_by_role("button", name="核验").click()
    await expect(field_error(page, "证书编号")).to_have_text("未找到该证书编号", timeout=WAIT_MS)

    # 9. 运维/审计: the application's timeline — who, when, why.
    await log_in(page, door, "demo-ops", demo["demo-ops"])
    await expect(page).to_have_url(f"{door.url}/city/applications", timeout=WAIT_MS)
    await page.get_by_role("menuitem", name="审计时间线").click()
    await page.get_by_label("受理编号", exact=True).fill(receipt_no)
    await page.get_by_role("button", name="查看").click()
    timeline = page.get_by_test_id("timeline")
    approval = timeline.locator("tr", has_text="批准建设")
    await expect(approval).to_contain_text("chair:city/demo-chair", timeout=WAIT_MS)
    await expect(approval).to_contain_text("第三位专家")
    await expect(timeline.locator("tr", has_text="报送申报表")).to_contain_text("district:370202")
    await expect(timeline.locator("tr", has_text="评审打分")).to_have_count(3)
    await check_accessibility("ops-timeline", page)
    await page.screenshot(path=str(shots / "journey-ops-timeline.png"), full_page=True)
    assert not problems, json.dumps(problems, ensure_ascii=False, indent=1)


# What the keyboard test types into each field, by (the fieldset's legend, the field's label);
# a legend of None matches any. Fields not named here (optional ones) are passed over.
KEYBOARD_FORM: Final[dict[tuple[str | None, str], str]] = {
    (None, "试点名称"): "市南区工会服务职工综合体建设",
    (None, "试点时间（起）"): "2027年7月",
    (None, "试点时间（止）"): "2030年6月",
    ("试点参加单位（1）", "单位名称"): "市南区职工服务中心",
    ("试点参加单位（1）", "统一社会信用代码"): UNION_CODE,
    ("申报单位", "单位名称"): "市南区总工会",
    ("申报单位", "统一社会信用代码"): DISTRICT_UNION_CODE,
    (None, "所属行业"): "工会",
    (None, "现状及与试点应具备条件符合性"): "区职工服务中心已运行五年，场地2000平方米。",
    (None, "目前工作情况"): "开展职工法律援助、技能培训和困难帮扶。",
    (None, "试点预期实现工作目标（包括标准体系建立、实施及实施效果等）"): "建成服务职工综合体。",
    ("第1阶段", "时间"): "2027年7月—2027年12月",
    ("第1阶段", "阶段工作内容"): "制定三年规划和年度实施方案。",
    ("第1阶段", "负责单位及参与单位"): "市南区总工会",
    (None, "经费主要投入方向"): "中心功能改造",
    (None, "经费来源（包括当地政府、工会经费投入等）"): "区财政、工会经费",
    ("试点承担单位意见", "单位名称"): "市南区总工会",
    ("试点参加单位意见", "单位名称"): "市南区职工服务中心",
}
for _legend in ("试点承担单位意见", "试点参加单位意见"):
    KEYBOARD_FORM[(_legend, "意见")] = "同意申报。"
    KEYBOARD_FORM[(_legend, "负责人（签名）")] = "王某"
    KEYBOARD_FORM[(_legend, "日期")] = "2027年6月20日"
    KEYBOARD_FORM[(_legend, "已加盖单位公章")] = " "  # a checkbox: the space bar ticks it
# Date and month pickers take what is typed on Enter.
PICKERS: Final = {"试点时间（起）", "试点时间（止）", "日期"}

FOCUSED_JS: Final = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const fieldset = el.closest('fieldset');
  const legend = fieldset && fieldset.querySelector('legend') ? fieldset.querySelector('legend').innerText.trim() : '';
  // A checkbox by its own text (its form item's label may name it too).
  const box = el.type === 'checkbox' && el.closest('label') ? el.closest('label').innerText.trim() : '';
  const labelled = box || (el.labels && el.labels.length ? el.labels[0].innerText.trim() : '');
  return {
    tag: el.tagName, type: el.type || '', role: el.getAttribute('role') || '', legend,
    label: el.getAttribute('aria-label') || labelled, text: (el.innerText || '').trim(), value: el.value ?? '',
  };
}"""


async def focused(page: Page) -> dict[str, str] | None:
    found: dict[str, str] | None = await page.evaluate(FOCUSED_JS)
    return found


async def tab_to(page: Page, wanted: Any, limit: int = 60) -> dict[str, str]:
    """Presses Tab until the focused element is the one `wanted(element)` names."""
    for _ in range(limit):
        await page.keyboard.press("Tab")
        element = await focused(page)
        if element is not None and wanted(element):
            return element
    raise AssertionError(f"Tab never reached the element wanted (last: {element})")


async def test_a_district_completes_the_form_with_the_keyboard_alone(
    door: FrontDoor, demo: dict[str, str], browser: BrowserContext
) -> None:
    """Tab, typing, the space bar on the seal's checkbox and Enter: from the login page to the
    受理编号, never the mouse."""
    page = await browser.new_page()
    await page.goto(f"{door.url}/login")
    await expect(page.get_by_role("heading", name="惠工 · 工作台")).to_be_visible(timeout=WAIT_MS)
    await tab_to(page, lambda e: e["label"] == "用户名")
    await page.keyboard.type("demo-district")
    await tab_to(page, lambda e: e["label"] == "密码")
    await page.keyboard.type(demo["demo-district"])
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(f"{door.url}/district/applications", timeout=WAIT_MS)
    # The work list's own link to the form (the side menu moves by arrow keys, as menus do).
    await tab_to(page, lambda e: e["tag"] == "A" and e["text"] == "填写申报表（附件3）")
    await page.keyboard.press("Enter")
    await expect(
        page.get_by_role("heading", name="服务职工综合体/幸福企业试点申报表（附件3）")
    ).to_be_visible(timeout=WAIT_MS)

    # A unit of its own: the undertaking unit applies once a year for a programme.
    answers = {
        **KEYBOARD_FORM,
        ("试点承担单位", "单位名称"): "市南区总工会",
        ("试点承担单位", "统一社会信用代码"): credit_code(random.Random(), "81", "370202"),
    }
    typed: set[tuple[str | None, str]] = set()
    for _ in range(300):
        await page.keyboard.press("Tab")
        element = await focused(page)
        if element is None:
            continue
        if element["tag"] == "BUTTON" and element["text"] == "报送":
            break
        key: tuple[str | None, str] = (element["legend"], element["label"])
        if key not in answers:
            key = (None, element["label"])
        if key not in answers or key in typed or element["legend"].startswith("试点管理单位"):
            continue
        typed.add(key)
        await page.keyboard.type(answers[key])
        if element["label"] in PICKERS:
            await page.keyboard.press("Enter")
    else:
        raise AssertionError("Tab never reached the 报送 button")
    assert typed == set(answers), f"never reached by Tab: {set(answers) - typed}"
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(re.compile(r"/district/applications\?submitted="), timeout=WAIT_MS)
    await expect(page.get_by_text("已报送，受理编号").first).to_be_visible(timeout=WAIT_MS)
