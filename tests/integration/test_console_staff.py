"""The console's staff pages as the people who use them: Chromium through the front door against
the four real services. A title suspended by a finding is heard and revoked on the unit's page
(the registrar, the unit's union, the registrar again; the public verification then says
已撤销); a worker's request is received by one service centre, transferred to another, which
closes it and records the worker's satisfaction, while an overdue matter is marked in the list.
axe-core finds no serious or critical violation on each new page; screenshots are kept in
test-artifacts/journey-*.png."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any, Final

import asyncpg
import httpx
import pytest
from playwright.async_api import BrowserContext, Locator, Page, expect

from huigong_platform import accounts
from huigong_platform.database import create_pool
from huigong_registry.domain.cohort import SERVICE_CENTRES

from ..conftest import Stack, isolated_stack
from .browser import chromium
from .frontdoor import FrontDoor, front_door
from .processes import ServiceProcess, artefacts_dir, running
from .test_console import WAIT_MS, axe_violations, field_error, log_in, log_out, shown_after_reloads, users
from .test_registry import REGISTRAR, certified_unit, finding_of
from .test_review import D, eventually, key, report_fact, today
from .test_seed import run_seed, seed_keyring

OFFSET: Final = 2100
BUILT: Final = {"HUIGONG_MIN_BUILDING_YEARS": "0"}
CENTRE: Final = {entry.area: entry for entry in SERVICE_CENTRES}
# 平度 and 莱西: no other module records matters there, so metrics' per-centre figures stay exact.
FIRST, SECOND = "370283", "370285"


@pytest.fixture(scope="module")
async def stack(stack_env: dict[str, str]) -> AsyncIterator[Stack]:
    """This module's own database and topics: what its journeys record (units certified, targets
    set, members enrolled) must not move the figures other modules of the run count exactly."""
    async with isolated_stack(stack_env) as own:
        yield own


@pytest.fixture(scope="module")
async def services(stack: Stack) -> AsyncIterator[tuple[ServiceProcess, ...]]:
    async with running(
        stack, ("intake", "review", "registry", "metrics"), OFFSET, "console-staff", BUILT
    ) as procs:
        await asyncio.to_thread(run_seed, procs[2].url, await seed_keyring(stack))
        yield procs


@pytest.fixture(scope="module")
def door(services: tuple[ServiceProcess, ...]) -> Iterator[FrontDoor]:
    with front_door(services[0].port) as opened:
        yield opened


@pytest.fixture(scope="module")
def demo(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    file = tmp_path_factory.mktemp("console-staff") / "demo-accounts.tsv"
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


def account(stack: Stack, principal: str, name: str) -> tuple[str, str]:
    """A fresh staff account bound to `principal`: (username, password)."""
    username = f"staff-{uuid.uuid4().hex[:8]}"
    made = json.loads(
        users(
            stack, "create", username, "--principal", principal, "--name", name, "--actor", "tests", "--json"
        )
    )
    return username, str(made["password"])


async def pick(page: Page, scope: Locator, label: str, option: str) -> None:
    """Picks `option` in the select labelled `label` within `scope` (Element Plus's select is a
    listbox opened from its box; its options are rendered at the page's end)."""
    item = scope.locator(".el-form-item", has=page.get_by_text(label, exact=True)).first
    await item.locator(".el-select").click()
    choice = page.get_by_role("option", name=option, exact=True)
    await choice.click()
    # The list fades out: checked for contrast mid-fade it would fail.
    await expect(choice).to_be_hidden()


class Accessibility:
    """Serious and critical axe-core violations, page by page, asserted at the end of a journey."""

    def __init__(self) -> None:
        self.problems: dict[str, list[dict[str, Any]]] = {}

    async def check(self, name: str, page: Page) -> None:
        await page.wait_for_load_state("networkidle")
        found = await axe_violations(page)
        if found:
            self.problems[name] = found

    def assert_none(self) -> None:
        assert not self.problems, json.dumps(self.problems, ensure_ascii=False, indent=1)


async def test_a_suspended_title_is_heard_and_revoked_on_the_units_page(
    services: tuple[ServiceProcess, ...],
    door: FrontDoor,
    demo: dict[str, str],
    browser: BrowserContext,
    review_db: asyncpg.Pool,
) -> None:
    shots, a11y = artefacts_dir(), Accessibility()
    intake_proc, review_proc, registry_proc, _ = services
    # A 幸福企业 of 市南区, approved and certified through the APIs (the console's journey of
    # that is test_console's); then the labour inspectorate reports unpaid wages.
    async with (
        intake_proc.client() as intake,
        review_proc.client() as review,
        registry_proc.client() as registry,
    ):
        application_id, code, unit_id, number = await certified_unit(intake, review, registry, review_db)
        fact_id = await report_fact(intake, code, D.拖欠工资, today() - timedelta(days=1))
        await eventually(lambda: finding_of(review_db, application_id, fact_id), "review finds the exclusion")
        unit_name = (await registry.get(f"/units/{unit_id}", headers=REGISTRAR)).json()["name"]
    unit_url = f"{door.url}/registry/units/{unit_id}"

    # 1. 登记人员: the title is suspended (暂停) by the finding; the case waits for the union.
    page = await browser.new_page()
    await log_in(page, door, "demo-registrar", demo["demo-registrar"])
    await expect(page).to_have_url(f"{door.url}/registry/units", timeout=WAIT_MS)
    case = page.get_by_test_id("revocation-case")
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        await page.goto(unit_url)
        try:
            await expect(case.filter(has_text="审查中")).to_be_visible(timeout=2_000)
            break
        except AssertionError:
            assert asyncio.get_running_loop().time() < deadline, "the case never opened"
    await expect(page.get_by_role("heading", name=unit_name)).to_be_visible()
    await expect(page.get_by_test_id("unit-status")).to_have_text("暂停")
    await expect(case).to_contain_text("E2")
    await expect(case).to_contain_text("称号暂停")
    # Not revoked before the union was heard or its time passed: the refusal names the day.
    await page.get_by_label("决定理由", exact=True).fill("经核实欠薪属实")
    await page.get_by_role("button", name="决定撤销").click()
    await expect(page.get_by_test_id("decision-refused")).to_contain_text("申诉", timeout=WAIT_MS)
    await a11y.check("registrar-revocation-case", page)
    await page.screenshot(path=str(shots / "journey-registrar-suspended.png"), full_page=True)
    await log_out(page)

    # 2. The unit's union (市南区总工会) files its statement, once.
    await log_in(page, door, "demo-district", demo["demo-district"])
    await expect(page).to_have_url(f"{door.url}/district/applications", timeout=WAIT_MS)
    await page.goto(unit_url)
    await page.get_by_role("button", name="提交申诉").click()
    await expect(field_error(page, "申诉内容")).to_have_text("请填写申诉内容")
    await page.get_by_label("申诉内容", exact=True).fill("欠薪系分包单位所欠，总包已垫付结清，附付款凭证")
    await a11y.check("district-statement", page)
    await page.get_by_role("button", name="提交申诉").click()
    await expect(page.get_by_test_id("done")).to_have_text("申诉已提交", timeout=WAIT_MS)
    await expect(case).to_contain_text("总包已垫付结清")
    # The union sees who acted by role only.
    await expect(case.get_by_test_id("case-steps")).to_contain_text("区市总工会")
    await expect(page.get_by_role("button", name="提交申诉")).to_have_count(0)
    await page.screenshot(path=str(shots / "journey-district-statement.png"), full_page=True)
    await log_out(page)

    # 3. 登记人员 decides, with the reason, after the hearing.
    await log_in(page, door, "demo-registrar", demo["demo-registrar"])
    await expect(page).to_have_url(f"{door.url}/registry/units", timeout=WAIT_MS)
    await page.goto(unit_url)
    await expect(case).to_contain_text("总包已垫付结清", timeout=WAIT_MS)
    await page.get_by_label("决定理由", exact=True).fill("经核实欠薪属实，申诉理由不成立")
    await page.get_by_role("button", name="决定撤销").click()
    await expect(page.get_by_test_id("done")).to_have_text("已决定撤销称号", timeout=WAIT_MS)
    await expect(page.get_by_test_id("unit-status")).to_have_text("已撤销")
    await expect(case).to_contain_text("经核实欠薪属实，申诉理由不成立")
    await expect(case.get_by_test_id("case-steps")).to_contain_text("registrar:demo-registrar")
    await page.screenshot(path=str(shots / "journey-registrar-revoked.png"), full_page=True)
    await log_out(page)

    # 4. Anyone: the public verification says the title was revoked, and when.
    await page.goto(f"{door.url}/verify?no={number}")
    card = page.get_by_test_id("certificate")
    await expect(card).to_contain_text("已撤销", timeout=WAIT_MS)
    day = today()
    await expect(card).to_contain_text(f"{day.year}年{day.month}月{day.day}日撤销")
    await page.screenshot(path=str(shots / "journey-public-revoked.png"), full_page=True)
    a11y.assert_none()


async def test_a_registrar_revokes_a_certified_title_directly_with_a_reason(
    services: tuple[ServiceProcess, ...],
    door: FrontDoor,
    demo: dict[str, str],
    browser: BrowserContext,
    review_db: asyncpg.Pool,
) -> None:
    intake_proc, review_proc, registry_proc, _ = services
    async with (
        intake_proc.client() as intake,
        review_proc.client() as review,
        registry_proc.client() as registry,
    ):
        _, _, unit_id, number = await certified_unit(intake, review, registry, review_db)
    page = await browser.new_page()
    await log_in(page, door, "demo-registrar", demo["demo-registrar"])
    await expect(page).to_have_url(f"{door.url}/registry/units", timeout=WAIT_MS)
    await page.goto(f"{door.url}/registry/units/{unit_id}")
    await expect(page.get_by_test_id("unit-status")).to_have_text("已认定", timeout=WAIT_MS)
    await expect(page.get_by_test_id("unit")).to_contain_text(number)
    # A 幸福企业 does not exit (only a 服务职工基地 does): no such button.
    await expect(page.get_by_role("button", name="退出", exact=True)).to_have_count(0)
    await page.get_by_role("button", name="撤销称号").click()
    await expect(field_error(page, "原因")).to_have_text("撤销须写明原因")
    await page.get_by_label("原因", exact=True).fill("年度复核不合格")
    await page.get_by_role("button", name="撤销称号").click()
    await expect(page.get_by_test_id("done")).to_have_text("已撤销称号", timeout=WAIT_MS)
    await expect(page.get_by_test_id("unit-status")).to_have_text("已撤销")
    await expect(page.get_by_role("button", name="撤销称号")).to_have_count(0)
    await page.goto(f"{door.url}/verify?no={number}")
    await expect(page.get_by_test_id("certificate")).to_contain_text("已撤销", timeout=WAIT_MS)


async def test_a_centre_receives_a_matter_another_closes_it_and_overdue_ones_are_marked(
    stack: Stack, services: tuple[ServiceProcess, ...], door: FrontDoor, browser: BrowserContext
) -> None:
    shots, a11y = artefacts_dir(), Accessibility()
    first, second = CENTRE[FIRST], CENTRE[SECOND]
    item_name = f"劳动争议调解-{uuid.uuid4().hex[:6]}"
    steps = ["登记诉求", "调解"]
    async with services[2].client() as registry:
        listed = await registry.post(
            "/service-items",
            json={
                "name": item_name,
                "category": "legal_aid",
                "providers": [str(first.id), str(second.id)],
                "time_limit_days": 5,
                "steps": steps,
                "commitment": "5个工作日内办结",
                "listed_on": "2025-01-02",
            },
            headers={**REGISTRAR, **key()},
        )
        assert listed.status_code == 201, listed.text
        item_id = listed.json()["item_id"]
        # A matter received long ago and never closed: overdue today.
        old = await registry.post(
            "/matters",
            json={
                "item_id": item_id,
                "channel": "phone",
                "requester": {"name": "李四", "phone": "13900000001"},
                "request": "咨询工伤认定",
                "received_on": "2025-03-03",
            },
            headers={"X-Huigong-Principal": f"district:{FIRST}", **key()},
        )
        assert old.status_code == 201, old.text
        old_no = old.json()["matter_no"]
    pingdu = account(stack, f"district:{FIRST}", "平度市总工会")
    laixi = account(stack, f"district:{SECOND}", "莱西市总工会")

    # 1. 平度市职工服务中心: its list marks the old matter overdue; it receives a new one.
    page = await browser.new_page()
    await log_in(page, door, *pingdu)
    await expect(page).to_have_url(f"{door.url}/district/applications", timeout=WAIT_MS)
    await page.get_by_role("menuitem", name="服务事项").click()
    await expect(page.get_by_role("heading", name="服务事项")).to_be_visible(timeout=WAIT_MS)
    matters = page.get_by_test_id("matters")
    await expect(matters.locator("tr", has_text=old_no)).to_contain_text("超期", timeout=WAIT_MS)
    await expect(matters.locator("tr", has_text=old_no)).to_contain_text("2025年3月10日")
    await a11y.check("centre-matters", page)
    await page.get_by_role("button", name="受理新事项").click()
    dialog = page.get_by_role("dialog", name="受理服务事项")
    await dialog.get_by_role("button", name="受理", exact=True).click()
    await expect(field_error(page, "服务事项")).to_have_text("请选择服务事项")
    await pick(page, dialog, "服务事项", f"{item_name}（5个工作日）")
    await dialog.get_by_label("求助职工姓名", exact=True).fill("王秀英")
    await dialog.get_by_label("联系电话", exact=True).fill("12345")
    await dialog.get_by_label("职工诉求", exact=True).fill("公司拖欠三个月工资，想申请调解")
    await dialog.get_by_role("button", name="受理", exact=True).click()
    # The registry's refusal, on the field.
    await expect(field_error(page, "联系电话")).to_contain_text("手机号", timeout=WAIT_MS)
    await a11y.check("centre-receipt", page)
    await dialog.get_by_label("联系电话", exact=True).fill("13912345678")
    await dialog.get_by_role("button", name="受理", exact=True).click()
    banner = page.get_by_test_id("received")
    await expect(banner).to_contain_text("已受理，受理编号", timeout=WAIT_MS)
    matter_no = (await banner.inner_text()).split("受理编号")[-1].split("，")[0].strip()
    await page.screenshot(path=str(shots / "journey-centre-received.png"), full_page=True)

    # Transferred to 莱西 with the reason.
    row = matters.locator("tr", has_text=matter_no)
    await expect(row).to_be_visible(timeout=WAIT_MS)
    await row.get_by_role("link", name=matter_no).click()
    await expect(page.get_by_role("heading", name=f"服务事项 {matter_no}")).to_be_visible(timeout=WAIT_MS)
    await expect(page.get_by_test_id("matter")).to_contain_text("王秀英")
    await pick(page, page.locator("main"), "接收单位", f"{second.name}（莱西市）")
    await page.get_by_label("转办原因", exact=True).fill("职工居住在莱西，就近调解")
    await a11y.check("centre-matter", page)
    await page.get_by_role("button", name="转办", exact=True).click()
    await expect(page.get_by_test_id("done")).to_contain_text(f"已转办至{second.name}", timeout=WAIT_MS)
    await expect(page.get_by_test_id("matter")).to_contain_text("待接收")
    await log_out(page)

    # 2. 莱西市职工服务中心 accepts, does the steps, closes; the worker rates it.
    await log_in(page, door, *laixi)
    await expect(page).to_have_url(f"{door.url}/district/applications", timeout=WAIT_MS)
    await page.get_by_role("menuitem", name="服务事项").click()
    row = page.get_by_test_id("matters").locator("tr", has_text=matter_no)
    await shown_after_reloads(page, f"{door.url}/matters", row.filter(has_text="待接收"))
    await row.get_by_role("link", name=matter_no).click()
    # First sent back, with a reason (asked for when missing): the matter is 平度's again.
    await page.get_by_role("button", name="退回转办").click()
    await expect(field_error(page, "退回原因")).to_have_text("请填写退回原因")
    await page.get_by_label("退回原因", exact=True).fill("本周调解员外出培训")
    await page.get_by_role("button", name="退回转办").click()
    await expect(page.get_by_test_id("done")).to_have_text("已退回转出单位", timeout=WAIT_MS)
    await expect(page.get_by_role("button", name="接收转办")).to_have_count(0)
    refused = page.get_by_test_id("matter-path").locator("tr", has_text="退回")
    await expect(refused).to_contain_text(f"district:{SECOND}")
    # 平度 sends it once more (through the API: the page was shown above); now 莱西 accepts.
    async with services[2].client() as registry:
        matter_id = page.url.rstrip("/").split("/")[-1]
        again = await registry.post(
            f"/matters/{matter_id}/transfers",
            json={"to": str(second.id), "reason": "调解员已返岗"},
            headers={"X-Huigong-Principal": f"district:{FIRST}", **key()},
        )
        assert again.status_code == 201, again.text
    await page.reload()
    await page.get_by_role("button", name="接收转办").click()
    await expect(page.get_by_test_id("done")).to_have_text("已接收转办", timeout=WAIT_MS)
    for step in steps:
        await page.get_by_role("button", name=f"完成环节：{step}").click()
        await expect(page.get_by_test_id("done")).to_have_text(f"已完成“{step}”", timeout=WAIT_MS)
    await page.get_by_label("办结说明", exact=True).fill("双方达成调解协议，工资已支付")
    await page.get_by_role("button", name="办结", exact=True).click()
    await expect(page.get_by_test_id("done")).to_have_text("已办结", timeout=WAIT_MS)
    await expect(page.get_by_test_id("matter-status")).to_contain_text("已办结")
    await page.get_by_text("5分", exact=True).click()
    await page.get_by_label("评价意见", exact=True).fill("调解及时")
    await a11y.check("centre-rating", page)
    await page.get_by_role("button", name="记录评价").click()
    await expect(page.get_by_test_id("score")).to_have_text("5分", timeout=WAIT_MS)
    path = page.get_by_test_id("matter-path")
    for label, actor in (("受理", FIRST), ("转办", FIRST), ("接收", SECOND), ("办结", SECOND)):
        await expect(path.locator("tr", has_text=label).first).to_contain_text(f"district:{actor}")
    await page.screenshot(path=str(shots / "journey-centre-closed.png"), full_page=True)
    await log_out(page)

    # 3. The first responder still sees it (首问责任制), closed on time.
    await log_in(page, door, *pingdu)
    await expect(page).to_have_url(f"{door.url}/district/applications", timeout=WAIT_MS)
    await page.get_by_role("menuitem", name="服务事项").click()
    row = page.get_by_test_id("matters").locator("tr", has_text=matter_no)
    await shown_after_reloads(page, f"{door.url}/matters", row.filter(has_text="已办结"))
    await expect(row).to_contain_text(second.name)
    await expect(row).not_to_contain_text("超期")
    a11y.assert_none()


# --- dead letters ----------------------------------------------------------------------------------

OPS: Final = {"X-Huigong-Principal": "ops:auditor01"}
CITY: Final = {"X-Huigong-Principal": "city:staff01"}
VIEWER: Final = {"X-Huigong-Principal": "viewer:prometheus"}
TARGET: Final = "members_enrolled"


async def dead_lettered_target_change(stack: Stack, metrics: httpx.AsyncClient, year: int) -> tuple[int, str]:
    """A target change (莱西, `year`) that metrics' own projection fails to apply: while a
    constraint on its table (as a bad deployment would leave it) refuses the change's reason, the
    change is recorded and dead-lettered; then the constraint goes (the cause is fixed).
    (letter id, the tag in the change's reason)."""
    tag = uuid.uuid4().hex[:8]
    pool = await create_pool(stack.dsn("metrics"), "metrics")
    try:
        await pool.execute(
            f"ALTER TABLE target_changes ADD CONSTRAINT blocked_{tag} CHECK (reason NOT LIKE '%{tag}%') NOT VALID"
        )
        try:
            body = {"area": SECOND, "year": year, "value": 1234, "reason": f"年中调整目标 {tag}"}
            response = await metrics.put(f"/api/targets/{TARGET}", json=body, headers=CITY)
            assert response.status_code == 200, response.text
            letter_id: int = await eventually(
                lambda: pool.fetchval(
                    "SELECT id FROM dead_letters WHERE consumer = 'metrics.targets' AND reason LIKE $1",
                    f"%blocked_{tag}%",
                ),
                "metrics dead-letters the change",
            )
        finally:
            await pool.execute(f"ALTER TABLE target_changes DROP CONSTRAINT blocked_{tag}")
    finally:
        await pool.close()
    return letter_id, tag


async def target_value(metrics: httpx.AsyncClient, year: int) -> str | None:
    response = await metrics.get("/api/targets", headers=VIEWER)
    assert response.status_code == 200, response.text
    found = next(
        (t for t in response.json() if (t["metric"], t["area"], t["year"]) == (TARGET, SECOND, year)), None
    )
    return None if found is None else str(found["value"])


async def test_dead_letters_are_listed_shown_retried_and_skipped_by_ops_only(
    stack: Stack, services: tuple[ServiceProcess, ...]
) -> None:
    async with services[3].client() as metrics:
        retried_id, tag = await dead_lettered_target_change(stack, metrics, 2031)
        skipped_id, _ = await dead_lettered_target_change(stack, metrics, 2032)
        base = f"/dead-letters/{retried_id}"
        # Nobody but 运维/审计: a district, the city federation and a viewer are refused.
        for who in ("district:370202", "city:staff01", "viewer:prometheus"):
            principal = {"X-Huigong-Principal": who}
            for answer in (
                await metrics.get("/dead-letters", headers=principal),
                await metrics.get(base, headers=principal),
                await metrics.post(f"{base}/retry", json={"reason": "修复后重试"}, headers=principal),
                await metrics.post(f"{base}/skip", json={"reason": "无需处理"}, headers=principal),
            ):
                assert answer.status_code == 403, answer.text
        assert (await metrics.get("/dead-letters")).status_code == 401

        listed = await metrics.get("/dead-letters", params={"consumer": "metrics.targets"}, headers=OPS)
        assert listed.status_code == 200, listed.text
        page = listed.json()
        assert "metrics.targets" in page["consumers"] and page["service"] == "metrics"
        mine = {item["id"]: item for item in page["items"]}
        assert {retried_id, skipped_id} <= set(mine)
        assert mine[retried_id]["event_type"] == "TargetChanged" and mine[retried_id]["status"] == "open"
        assert f"blocked_{tag}" in mine[retried_id]["reason"]
        elsewhere = await metrics.get("/dead-letters", params={"consumer": "metrics.actuals"}, headers=OPS)
        assert retried_id not in {item["id"] for item in elsewhere.json()["items"]}
        bad = await metrics.get("/dead-letters", params={"status": "lost"}, headers=OPS)
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "status", bad.text

        # One letter: where it was and why, the envelope's metadata; never the event's data.
        shown = await metrics.get(base, headers=OPS)
        assert shown.status_code == 200, shown.text
        letter = shown.json()
        assert letter["consumer"] == "metrics.targets" and letter["topic"].endswith("huigong.metrics.targets")
        assert letter["envelope"]["type"] == "TargetChanged" and letter["envelope"]["actor"] == "city:staff01"
        assert "data" not in letter["envelope"] and "headers" not in letter
        assert (await metrics.get("/dead-letters/999999999", headers=OPS)).status_code == 404
        # Past a bigint: a bad path, never a database error.
        assert (await metrics.get(f"/dead-letters/{2**63}", headers=OPS)).status_code == 422

        # A reason is required; then the retry applies the change, once.
        refused = await metrics.post(f"{base}/retry", json={"reason": " "}, headers=OPS)
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "reason", refused.text
        assert await target_value(metrics, 2031) is None
        retried = await metrics.post(f"{base}/retry", json={"reason": "约束已删除，重试"}, headers=OPS)
        assert retried.status_code == 200, retried.text
        assert retried.json()["ok"] is True and retried.json()["outcome"].startswith("retried: 1 applied")
        assert await target_value(metrics, 2031) == "1234"
        again = await metrics.post(f"{base}/retry", json={"reason": "再试一次"}, headers=OPS)
        assert again.status_code == 409 and "retried" in again.json()["errors"][0]["en"], again.text

        skipped = await metrics.post(
            f"/dead-letters/{skipped_id}/skip", json={"reason": "该调整已作废"}, headers=OPS
        )
        assert skipped.status_code == 200 and skipped.json()["ok"] is True, skipped.text
        assert await target_value(metrics, 2032) is None

        # Who did what and why, as the command line records it.
        for letter_id, status, action, why in (
            (retried_id, "retried", "retry", "约束已删除，重试"),
            (skipped_id, "skipped", "skip", "该调整已作废"),
        ):
            after = (await metrics.get(f"/dead-letters/{letter_id}", headers=OPS)).json()
            assert after["status"] == status and after["resolved_by"] == "ops:auditor01"
            assert [(a["action"], a["actor"], a["reason"]) for a in after["actions"]] == [
                (action, "ops:auditor01", why)
            ]


async def test_an_ops_user_retries_a_dead_letter_in_the_console(
    stack: Stack,
    services: tuple[ServiceProcess, ...],
    door: FrontDoor,
    demo: dict[str, str],
    browser: BrowserContext,
) -> None:
    a11y = Accessibility()
    async with services[3].client() as metrics:
        letter_id, _ = await dead_lettered_target_change(stack, metrics, 2033)
    page = await browser.new_page()
    await log_in(page, door, "demo-ops", demo["demo-ops"])
    await expect(page).to_have_url(f"{door.url}/city/applications", timeout=WAIT_MS)
    await page.get_by_role("menuitem", name="死信").click()
    await expect(page.get_by_role("heading", name="死信")).to_be_visible(timeout=WAIT_MS)
    await pick(page, page.locator("main"), "服务", "统计")
    row = page.get_by_test_id("dead-letters").locator("tr", has_text=f"#{letter_id}")
    await expect(row).to_contain_text("metrics.targets", timeout=WAIT_MS)
    await expect(row).to_contain_text("TargetChanged")
    await expect(row).to_contain_text("待处理")
    await a11y.check("ops-dead-letters", page)
    await row.get_by_role("button", name="查看").click()
    dialog = page.get_by_role("dialog", name=f"死信 #{letter_id}")
    await expect(dialog.get_by_test_id("dead-letter")).to_contain_text("check constraint")
    await dialog.get_by_role("button", name="重试").click()
    await expect(field_error(page, "处理原因")).to_have_text("重试须写明原因")
    await dialog.get_by_label("处理原因", exact=True).fill("约束已删除，重试")
    await a11y.check("ops-dead-letter", page)
    await dialog.get_by_role("button", name="重试").click()
    await expect(dialog.get_by_test_id("dead-letter-outcome")).to_contain_text("已重试", timeout=WAIT_MS)
    await expect(dialog.get_by_test_id("dead-letter-status")).to_have_text("已重试")
    await expect(dialog.get_by_test_id("dead-letter-actions")).to_contain_text("ops:demo-ops")
    await page.screenshot(path=str(artefacts_dir() / "journey-ops-dead-letter.png"), full_page=True)
    async with services[3].client() as metrics:
        assert await target_value(metrics, 2033) == "1234"
    a11y.assert_none()
