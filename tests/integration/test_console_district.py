"""The district's side of the console (区市/集团工会) as its clerks use it: Chromium through the
front door against the real services. A district fills in the form of annex 4 with the mouse and
the keyboard, is told what is missing on the fields, then the server's refusal in Chinese on the
field, keeps a draft across a reload, submits, amends the application before it is accepted, and
withdraws an annex-5 application; once selected it sends its three-year and first annual plans
through the console's plan form, and after 批准建设 the next year's annual plan, and sees what it
sent and when. The city's selection, the panel's scores and the chair's approval are driven
through the API. axe-core finds no serious or critical violation on any of these pages.
Screenshots: test-artifacts/journey-district-*.png."""

from __future__ import annotations

import asyncio
import json
import random
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.async_api import BrowserContext, Locator, Page, expect

from huigong_events.reference import REVIEW_DIMENSIONS
from huigong_simulator.forms import credit_code

from ..conftest import Stack, isolated_stack
from ..forms import DISTRICT_UNION_CODE, complex_form, variant, with_fresh_undertaking_unit
from .browser import chromium
from .frontdoor import FrontDoor, front_door
from .processes import ServiceProcess, artefacts_dir, running
from .test_console import axe_violations, choose, field_error, log_in, shown_after_reloads, users

WAIT_MS: Final = 30_000
OFFSET: Final = 2450
LABEL: Final = "console-district"
# Review is started only where the test needs it: until its screening runs, an application is
# 已提交 and may still be amended (intake refuses amendments once screening has accepted it).
WITHOUT_REVIEW: Final = ("intake", "registry", "metrics")


@pytest.fixture(scope="module")
async def stack(stack_env: dict[str, str]) -> AsyncIterator[Stack]:
    """This module's own database and topics: what its journeys record (units certified, targets
    set, members enrolled) must not move the figures other modules of the run count exactly."""
    async with isolated_stack(stack_env) as own:
        yield own


@pytest.fixture(scope="module")
async def services(stack: Stack) -> AsyncIterator[tuple[ServiceProcess, ...]]:
    async with running(stack, WITHOUT_REVIEW, OFFSET, LABEL) as procs:
        yield procs


@pytest.fixture(scope="module")
def door(services: tuple[ServiceProcess, ...]) -> Iterator[FrontDoor]:
    with front_door(services[0].port) as opened:
        yield opened


@pytest.fixture
async def browser() -> AsyncIterator[BrowserContext]:
    async with chromium() as context:
        yield context


def account(stack: Stack, principal: str, name: str) -> tuple[str, str]:
    """A staff account of its own for `principal`: (username, password)."""
    username = f"cd-{uuid.uuid4().hex[:8]}"
    made = json.loads(
        users(
            stack, "create", username, "--principal", principal, "--name", name, "--actor", "tests", "--json"
        )
    )
    return username, made["password"]


def fieldset(scope: Locator, page: Page, legend: str) -> Locator:
    """The fieldset whose legend reads exactly `legend` (承担单位, not 承担单位意见)."""
    return scope.locator(
        "fieldset", has=page.locator("legend", has_text=re.compile(f"^{re.escape(legend)}$"))
    ).first


async def fill_unit(scope: Locator, page: Page, legend: str, name: str, code: str) -> None:
    unit = fieldset(scope, page, legend)
    await unit.get_by_label("单位名称").fill(name)
    await unit.get_by_label("统一社会信用代码").fill(code)


async def sign(scope: Locator, page: Page, legend: str, unit_name: str, *, keyboard: bool = False) -> None:
    """A unit's opinion: text, seal, signatory, date; with `keyboard` the seal is ticked with the
    space bar and the date typed and confirmed with Enter."""
    opinion = fieldset(scope, page, legend)
    await opinion.get_by_label("单位名称").fill(unit_name)
    await opinion.get_by_label("意见").fill("同意申报。")
    if keyboard:
        await opinion.get_by_label("负责人（签名）").focus()
        await page.keyboard.press("Shift+Tab")  # back from the signatory to the seal's checkbox
        await page.keyboard.press("Space")
        await expect(opinion.locator(".el-checkbox.is-checked")).to_have_count(1)
    else:
        await opinion.get_by_text("已加盖单位公章").click()
    await opinion.get_by_label("负责人（签名）").fill("王某")
    date = opinion.get_by_label("日期")
    await date.fill("2026年12月1日")
    await date.press("Enter")


class Checks:
    """axe-core's serious and critical violations, page by page, reported together at the end."""

    def __init__(self) -> None:
        self.problems: dict[str, list[dict[str, Any]]] = {}

    async def check(self, name: str, page: Page) -> None:
        await page.wait_for_load_state("networkidle")
        # Element Plus fades messages and poppers in and out: the page as it settles is checked.
        await page.wait_for_function("document.getAnimations().every((a) => a.playState !== 'running')")
        found = await axe_violations(page)
        for violation in found:
            # What each node is, so a failure says which element (ids are generated).
            violation["html"] = [
                await page.evaluate("(s) => document.querySelector(s)?.outerHTML.slice(0, 400)", node[0])
                for node in violation["nodes"]
            ]
        if found:
            self.problems[name] = found

    def assert_none(self) -> None:
        assert not self.problems, json.dumps(self.problems, ensure_ascii=False, indent=1)


async def submitted_receipt(page: Page) -> str:
    await expect(page).to_have_url(re.compile(r"/district/applications\?submitted="), timeout=WAIT_MS)
    banner = page.get_by_text("已报送，受理编号").first
    await expect(banner).to_be_visible(timeout=WAIT_MS)
    return (await banner.inner_text()).split("受理编号")[-1].strip()


async def test_a_district_fills_in_annex_4_amends_it_and_withdraws_an_annex_5_application(
    stack: Stack, door: FrontDoor, browser: BrowserContext
) -> None:
    shots = artefacts_dir()
    axe = Checks()
    username, password = account(stack, "district:370202", "市南区总工会")
    page = await browser.new_page()
    await log_in(page, door, username, password)
    await expect(page).to_have_url(f"{door.url}/district/applications", timeout=WAIT_MS)

    # 1. Annex 4, from the work list's link.
    await page.get_by_role("link", name="服务职工基地申报表（附件4）").click()
    await expect(page.get_by_role("heading", name="服务职工基地申报表（附件4）")).to_be_visible(
        timeout=WAIT_MS
    )
    form = page.locator("form.service-base")
    await form.get_by_role("button", name="报送").click()
    await expect(field_error(page, "名称")).to_have_text("请填写服务职工基地名称", timeout=WAIT_MS)
    await expect(field_error(page, "服务职工基地基本情况")).to_have_text("请填写服务职工基地基本情况")
    await axe.check("annex-4-empty", page)

    # The mouse for the units and the enterprise question; the keyboard through the sections.
    undertaker = ("青岛某某心理咨询有限公司", credit_code(random.Random(), "91", "370202"))
    await form.get_by_label("名称", exact=True).fill("2027")  # no words: the server refuses it
    await fill_unit(form, page, "承担单位", *undertaker)
    await fill_unit(form, page, "参加单位（1）", "市南区总工会", DISTRICT_UNION_CODE)
    await fill_unit(form, page, "申报单位", "市南区总工会", DISTRICT_UNION_CODE)
    await form.get_by_text("是企业（须经不予受理情形审查）").click()
    await form.get_by_label("服务职工基地基本情况").click()
    sections = (
        ("服务职工基地基本情况", "专业心理咨询机构，场地800平方米。"),
        ("现有服务职工项目的优势", "心理疏导团队专业。"),
        ("服务职工运营情况", "年服务职工3000人次。"),
        ("和工会已有合作的项目和效益", "承接区总工会职工心理关爱项目。"),
        ("下一步工作思路、项目设计", "开发面向一线职工的心理服务项目。"),
    )
    for index, (_label, text) in enumerate(sections):
        if index:
            await page.keyboard.press("Tab")
        await page.keyboard.type(text)
    for label, text in sections:
        await expect(form.get_by_label(label)).to_have_value(text)
    await sign(form, page, "承担单位意见", undertaker[0], keyboard=True)
    await sign(form, page, "参加单位意见", "市南区总工会")
    await form.get_by_role("button", name="报送").click()
    await expect(field_error(page, "名称")).to_have_text(
        "名称应包含文字，不能只是数字或符号", timeout=WAIT_MS
    )
    await expect(page.get_by_test_id("server-errors")).to_contain_text("名称应包含文字")
    await page.screenshot(path=str(shots / "journey-district-annex4-refused.png"), full_page=True)
    await axe.check("annex-4-refused", page)

    # 2. The draft: kept by 保存草稿 and there again after the page is reloaded.
    name = "市南区心理服务职工基地"
    await form.get_by_label("名称", exact=True).fill(name)
    await form.get_by_role("button", name="保存草稿").click()
    await expect(page.get_by_text("草稿已保存在本机浏览器")).to_be_visible()
    await page.reload()
    await expect(page.get_by_text("已恢复上次未提交的草稿")).to_be_visible(timeout=WAIT_MS)
    await expect(form.get_by_label("名称", exact=True)).to_have_value(name)
    await expect(form.get_by_label("服务职工运营情况")).to_have_value("年服务职工3000人次。")

    # 3. Submitted: in the list by its 受理编号, 已提交 (no screening has run yet).
    await form.get_by_role("button", name="报送").click()
    receipt_no = await submitted_receipt(page)
    row = page.get_by_test_id("applications").locator("tr", has_text=receipt_no)
    await expect(row).to_contain_text(name, timeout=WAIT_MS)
    await expect(row).to_contain_text("服务职工基地")
    await expect(row).to_contain_text("已提交")

    # 4. Amended before acceptance: the recorded form, changed, with a reason.
    await row.get_by_role("link", name=receipt_no).click()
    await expect(page.get_by_role("heading", name=name)).to_be_visible(timeout=WAIT_MS)
    await expect(page.get_by_test_id("status")).to_have_text("已提交")
    await axe.check("application", page)
    await page.get_by_role("link", name="修改申报表").click()
    await expect(page.get_by_test_id("amending")).to_contain_text(receipt_no, timeout=WAIT_MS)
    await expect(form.get_by_label("名称", exact=True)).to_have_value(name)
    await form.get_by_label("下一步工作思路、项目设计").fill(
        "开发面向一线职工和新就业形态劳动者的心理服务项目。"
    )
    await form.get_by_role("button", name="报送修改").click()
    await expect(field_error(page, "修改原因")).to_have_text("请填写修改原因", timeout=WAIT_MS)
    await axe.check("annex-4-amending", page)
    await form.get_by_label("修改原因").fill("补充新就业形态劳动者服务项目")
    await form.get_by_role("button", name="报送修改").click()
    await expect(page.get_by_test_id("done")).to_have_text("已修改申报表", timeout=WAIT_MS)
    await expect(page.get_by_test_id("form-history").locator("tr", has_text="修改申报表")).to_contain_text(
        "补充新就业形态劳动者服务项目"
    )
    await page.screenshot(path=str(shots / "journey-district-amended.png"), full_page=True)

    # 5. Annex 5, submitted, then withdrawn with a reason.
    await page.get_by_role("link", name="返回本单位申报").click()
    await page.get_by_role("link", name="公益伙伴申报表（附件5）").click()
    await expect(page.get_by_role("heading", name="关爱职工公益伙伴申报表（附件5）")).to_be_visible(
        timeout=WAIT_MS
    )
    partner_form = page.locator("form.welfare-partner")
    partner = "青岛某某社会工作服务中心"
    await partner_form.get_by_label("名称", exact=True).fill(partner)
    # The partner's own code comes first; the applicant unit's is in its fieldset.
    await partner_form.get_by_label("统一社会信用代码", exact=True).first.fill(
        credit_code(random.Random(), "52", "370202")
    )
    await choose(page, "类型", "专业智库、研究机构")
    await partner_form.get_by_label("领域", exact=True).fill("社会工作、困难职工帮扶")
    await partner_form.get_by_label("资质", exact=True).fill("民办非企业单位，4A级社会组织。")
    await partner_form.get_by_label("曾开展或承担的代表性项目").fill("社区困难家庭帮扶项目。")
    await fill_unit(partner_form, page, "申报单位", "市南区总工会", DISTRICT_UNION_CODE)
    await partner_form.get_by_label("曾开展的服务职工项目").fill("一线职工子女暑期托管。")
    await partner_form.get_by_label("与工会合作方式").fill("承接工会购买服务。")
    await partner_form.get_by_label("下一步服务职工项目计划").fill("新就业形态劳动者关爱项目。")
    await sign(partner_form, page, "伙伴单位意见", partner)
    await sign(partner_form, page, "申报单位意见", "市南区总工会")
    # A click beside the fields closes the date picker (Element Plus's open picker is an unnamed
    # dialog to axe); the page as the person reads it before sending is what is checked.
    await page.get_by_role("heading", name="关爱职工公益伙伴申报表（附件5）").click()
    await page.wait_for_function(
        "() => [...document.querySelectorAll('.el-popper')].every((e) => getComputedStyle(e).display === 'none')"
    )
    await axe.check("annex-5", page)
    await partner_form.get_by_role("button", name="报送").click()
    partner_receipt = await submitted_receipt(page)
    partner_row = page.get_by_test_id("applications").locator("tr", has_text=partner_receipt)
    await expect(partner_row).to_contain_text("关爱职工公益伙伴", timeout=WAIT_MS)
    await partner_row.get_by_role("link", name=partner_receipt).click()
    await page.get_by_role("button", name="撤回申报").click()
    await page.get_by_role("button", name="确认撤回").click()
    await expect(field_error(page, "撤回原因")).to_have_text("请填写撤回原因")
    await page.get_by_label("撤回原因").fill("伙伴单位改由市总工会直接联系")
    await page.get_by_role("button", name="确认撤回").click()
    await expect(page.get_by_test_id("done")).to_have_text("已撤回申报", timeout=WAIT_MS)
    await expect(page.get_by_text("撤回：伙伴单位改由市总工会直接联系")).to_be_visible()
    await shown_after_reloads(page, page.url, page.get_by_test_id("status").filter(has_text="已撤回"))
    await expect(page.get_by_role("button", name="撤回申报")).to_have_count(0)
    await page.screenshot(path=str(shots / "journey-district-withdrawn.png"), full_page=True)

    # 6. The list in the API's words: the filter finds the withdrawn one by 已撤回.
    await page.get_by_role("link", name="返回本单位申报").click()
    await choose(page, "状态", "已撤回")
    await page.get_by_role("button", name="查询").click()
    table = page.get_by_test_id("applications")
    await expect(table.locator("tr", has_text=partner_receipt)).to_contain_text("已撤回", timeout=WAIT_MS)
    await expect(table.locator("tr", has_text=receipt_no)).to_have_count(0)
    axe.assert_none()


# --- plans, once selected and after approval -----------------------------------------------------


BEIJING: Final = ZoneInfo("Asia/Shanghai")


@asynccontextmanager
async def client_of(door: FrontDoor, username: str, password: str) -> AsyncIterator[httpx.AsyncClient]:
    """A logged-in session of `username` through the front door, for the steps driven by the API."""
    async with httpx.AsyncClient(base_url=door.url, timeout=30) as client:
        answer = await client.post("/api/intake/session", json={"username": username, "password": password})
        assert answer.status_code == 200, answer.text
        client.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
        yield client


async def post_until_ok(api: httpx.AsyncClient, path: str, body: dict[str, Any], seconds: float = 60) -> None:
    """Sends one command (one idempotency key) until it is taken: what review decides on needs its
    inputs (the application, its screening, the plans) to have reached it first, and a refused
    command records nothing, its key neither."""
    key = str(uuid.uuid4())
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        answer = await api.post(path, json=body, headers={"Idempotency-Key": key})
        if answer.is_success:
            return
        assert asyncio.get_running_loop().time() < deadline, answer.text
        await asyncio.sleep(0.5)


async def fill_three_year_plan(page: Page, form: Locator) -> None:
    await form.get_by_label("起始年度").fill("2027")
    await form.get_by_label("终止年度").fill("2029")
    for label in ("基本情况", "目标任务", "功能布局", "主要建设内容和任务", "管理和运行体制机制"):
        await form.get_by_label(label, exact=True).fill(f"{label}：按三年规划分年实施。")
    await form.get_by_label("预算估算", exact=True).fill("设施改造100万元，项目运营50万元")
    await form.get_by_label("资金筹措方案", exact=True).fill("区财政、工会经费")
    await form.get_by_label("政策保障措施", exact=True).fill("区政府专题会议研究保障")


async def fill_annual_plan(form: Locator, measures: str, funding: str) -> None:
    await form.get_by_label("资金投入（元）").fill(funding)
    await form.get_by_label("年度具体举措").fill(measures)
    await form.get_by_label("建设任务").fill("完成驿站建设")
    await form.get_by_label("项目名称").fill("职工智慧健康驿站")
    await form.get_by_label("项目实施主体").fill("市南区总工会")


async def test_a_district_sends_its_plans_once_selected_and_after_approval(
    stack: Stack, door: FrontDoor, browser: BrowserContext
) -> None:
    shots = artefacts_dir()
    axe = Checks()
    district = account(stack, "district:370202", "市南区总工会")
    chair = account(stack, f"chair:city/{uuid.uuid4().hex[:6]}", "领导小组负责人")
    reviewers = [
        account(stack, f"reviewer:city/r{n}-{uuid.uuid4().hex[:6]}", f"评审专家{n}") for n in (1, 2, 3)
    ]
    async with running(stack, ("review",), OFFSET, LABEL):
        # The application, from the district's own session (the forms have their test above).
        form = variant(
            with_fresh_undertaking_unit(complex_form()), period_start="2027-07", period_end="2030-06"
        )
        async with client_of(door, *district) as api:
            sent = await api.post(
                "/api/intake/applications",
                json={
                    "year": 2027,
                    "programme": "service_complex",
                    "form": json.loads(form.model_dump_json()),
                },
                headers={"Idempotency-Key": str(uuid.uuid4())},
            )
            assert sent.status_code == 201, sent.text
            receipt_no = sent.json()["receipt_no"]
        # The city selects it once screening has accepted it.
        async with client_of(door, *chair) as api:
            await post_until_ok(
                api, f"/api/review/applications/{receipt_no}/selection", {"decision": "select"}
            )

        # 1. The district: 已确定为建设单位, the three-year plan through the console.
        page = await browser.new_page()
        await log_in(page, door, *district)
        await expect(page).to_have_url(f"{door.url}/district/applications", timeout=WAIT_MS)
        application_url = f"{door.url}/district/applications/{receipt_no}"
        status = page.get_by_test_id("status")
        await shown_after_reloads(page, application_url, status.filter(has_text="已确定为建设单位"))
        await expect(page.get_by_role("button", name="撤回申报")).to_be_visible()
        await expect(page.get_by_role("link", name="修改申报表")).to_have_count(0)
        history = page.get_by_test_id("status-history")
        for word in ("已提交", "已受理", "已确定为建设单位"):
            await expect(history).to_contain_text(word)
        await page.get_by_role("link", name="报送建设方案").click()
        await expect(page.get_by_role("heading", name="报送建设方案")).to_be_visible(timeout=WAIT_MS)
        plan = page.locator("form.plan")
        await plan.get_by_role("button", name="报送方案").click()
        await expect(field_error(page, "基本情况")).to_have_text("请填写基本情况", timeout=WAIT_MS)
        await fill_three_year_plan(page, plan)
        await plan.get_by_label("预算总额（元）").fill("一百五十万")
        await plan.get_by_label("预算总额（元）").press("Tab")
        await expect(field_error(page, "预算总额（元）")).to_contain_text("应为金额（元），最多两位小数")
        await plan.get_by_label("预算总额（元）").fill("1500000.00")
        await axe.check("plan-three-year", page)
        await plan.get_by_role("button", name="报送方案").click()
        await expect(page.get_by_test_id("done")).to_have_text("建设方案已报送", timeout=WAIT_MS)
        receipts = page.get_by_test_id("plan-receipts")
        await expect(receipts.locator("tr", has_text="三年规划")).to_contain_text("报送")

        # 2. The first annual plan: a year outside the possible period is refused on its field.
        await page.get_by_role("link", name="报送建设方案").click()
        await expect(plan.get_by_label("年度实施方案")).to_be_checked(timeout=WAIT_MS)
        await plan.get_by_label("实施年度").fill("2035")
        await fill_annual_plan(plan, "建设职工智慧健康驿站", "300000.50")
        await plan.get_by_role("button", name="报送方案").click()
        await expect(field_error(page, "实施年度")).to_contain_text("实施年度2035年不在", timeout=WAIT_MS)
        await expect(page.get_by_test_id("server-errors")).to_be_visible()
        await plan.get_by_label("实施年度").fill("2027")
        await plan.get_by_role("button", name="报送方案").click()
        await expect(page.get_by_test_id("done")).to_have_text("建设方案已报送", timeout=WAIT_MS)
        await expect(receipts.locator("tr", has_text="2027年度实施方案")).to_contain_text("报送")
        await axe.check("application-plans", page)

        # 3. Three reviewers score, the chair approves (through the API).
        scores = {d: {"score": 85, "comment": f"{d}：思路清晰，措施可行。"} for d in REVIEW_DIMENSIONS}
        for reviewer in reviewers:
            async with client_of(door, *reviewer) as api:
                await post_until_ok(api, f"/api/review/applications/{receipt_no}/scores", {"scores": scores})
        today = datetime.now(tz=BEIJING).date()
        async with client_of(door, *chair) as api:
            await post_until_ok(
                api,
                f"/api/review/applications/{receipt_no}/decision",
                {"decision": "approve", "period_start": today.isoformat()},
            )

        # 4. After 批准建设: the next year's annual plan, then amended; what was sent, and when.
        await shown_after_reloads(page, application_url, status.filter(has_text="批准建设"))
        await expect(page.get_by_role("button", name="撤回申报")).to_have_count(0)
        await page.get_by_role("link", name="报送建设方案").click()
        await expect(plan.get_by_label("实施年度")).to_have_value("2028", timeout=WAIT_MS)
        await fill_annual_plan(plan, "建设第二批职工驿站", "200000")
        # What was typed survives a reload (a session ending mid-form keeps it the same way).
        await page.reload()
        await expect(page.get_by_text("已恢复上次未报送的方案草稿")).to_be_visible(timeout=WAIT_MS)
        await expect(plan.get_by_label("年度具体举措")).to_have_value("建设第二批职工驿站")
        await plan.get_by_role("button", name="报送方案").click()
        await expect(page.get_by_test_id("done")).to_have_text("建设方案已报送", timeout=WAIT_MS)
        await receipts.locator("tr", has_text="2028年度实施方案").get_by_role("link", name="修改").click()
        await expect(page.get_by_role("heading", name="修改2028年度实施方案")).to_be_visible(timeout=WAIT_MS)
        await expect(plan.get_by_label("年度具体举措")).to_have_value("建设第二批职工驿站")
        await plan.get_by_label("资金投入（元）").fill("250000")
        await plan.get_by_label("修改理由").fill("增加一处驿站的设备投入")
        await axe.check("plan-amending", page)
        await plan.get_by_role("button", name="报送修改").click()
        await expect(page.get_by_test_id("done")).to_have_text("建设方案已修改", timeout=WAIT_MS)
        amended = receipts.locator("tr", has_text="增加一处驿站的设备投入")
        await expect(amended).to_contain_text("2028年度实施方案")
        await expect(amended).to_contain_text("修改")
        await expect(receipts.locator("tbody tr")).to_have_count(4)
        # The panel's plans were scored: only the later year's plan may still be amended.
        await expect(receipts.get_by_role("link", name="修改")).to_have_count(1)
        await page.screenshot(path=str(shots / "journey-district-plans.png"), full_page=True)
    axe.assert_none()
