"""The console's pages for operators and registrars as they use them: Chromium through the front
door against the four real services. 运维/审计 sees every service's projections and reactions
with their lag, which settles to 0 once nothing is in flight (the services' /streams, refused to
everyone else); a registrar looks a member up by member key and erases the member's personal
data, after confirming, and the roster then shows the member 已删除. axe-core finds no serious
or critical violation on each new page; screenshots are kept in test-artifacts/journey-*.png."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterator
from typing import Any, Final

import httpx
import pytest
from playwright.async_api import BrowserContext, expect

from huigong_intake.domain.identity import member_key
from huigong_platform import accounts
from huigong_simulator.data import enrolment_rows

from ..conftest import Stack, isolated_stack
from .browser import chromium
from .frontdoor import FrontDoor, front_door
from .processes import ServiceProcess, artefacts_dir, running
from .test_console import WAIT_MS, field_error, log_in, users
from .test_console_staff import Accessibility
from .test_review import eventually, key

OFFSET: Final = 2650
SETTLE: Final = 120.0
OPS: Final = {"X-Huigong-Principal": "ops:auditor01"}
REGISTRAR: Final = {"X-Huigong-Principal": "registrar:privacy03"}
SERVICE_NAMES: Final = {"intake": "受理", "review": "评审", "registry": "登记与认定", "metrics": "统计"}


@pytest.fixture(scope="module")
async def stack(stack_env: dict[str, str]) -> AsyncIterator[Stack]:
    """This module's own database and topics: what its journeys record (units certified, targets
    set, members enrolled) must not move the figures other modules of the run count exactly."""
    async with isolated_stack(stack_env) as own:
        yield own


@pytest.fixture(scope="module")
async def services(stack: Stack) -> AsyncIterator[tuple[ServiceProcess, ...]]:
    async with running(stack, ("intake", "review", "registry", "metrics"), OFFSET, "console-ops") as procs:
        yield procs


@pytest.fixture(scope="module")
def door(services: tuple[ServiceProcess, ...]) -> Iterator[FrontDoor]:
    with front_door(services[0].port) as opened:
        yield opened


@pytest.fixture(scope="module")
def demo(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    file = tmp_path_factory.mktemp("console-ops") / "demo-accounts.tsv"
    users(stack, "demo", str(file), "--actor", "tests")
    return accounts.read_password_file(file)


@pytest.fixture
async def browser() -> AsyncIterator[BrowserContext]:
    async with chromium() as context:
        yield context


@pytest.fixture(scope="module")
async def enrolled(stack: Stack, services: tuple[ServiceProcess, ...]) -> str:
    """The member key of a worker a district enrolled through intake's API, once on the roster."""
    row = enrolment_rows(1, "370202", random.Random())[0]
    async with services[0].client() as intake:
        sent = await intake.post(
            "/enrolments", json={"rows": [row]}, headers={"X-Huigong-Principal": "district:370202", **key()}
        )
        assert sent.status_code == 200 and len(sent.json()["accepted"]) == 1, sent.text
    member = member_key(str(row["身份证号"]), bytes.fromhex(stack.env["HUIGONG_MEMBER_KEY_SECRET"]))
    async with services[2].client() as registry:

        async def on_roster() -> bool:
            return (await registry.get(f"/members/{member}", headers=REGISTRAR)).status_code == 200

        await eventually(on_roster, "the registry enrols the member", SETTLE)
    return member


async def streams(client: httpx.AsyncClient) -> dict[str, Any]:
    answer = await client.get("/streams", headers=OPS)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def test_ops_see_every_reader_settle_at_lag_0_and_no_one_else_may_look(
    services: tuple[ServiceProcess, ...], enrolled: str
) -> None:
    for proc in services:
        async with proc.client() as client:
            for who in ("district:370202", "registrar:privacy03", "viewer:prometheus"):
                refused = await client.get("/streams", headers={"X-Huigong-Principal": who})
                assert refused.status_code == 403, refused.text
            assert (await client.get("/streams")).status_code == 401

            async def settled(client: httpx.AsyncClient = client) -> bool:
                report = await streams(client)
                return bool(report["consumers"]) and all(c["lag"] == 0 for c in report["consumers"])

            await eventually(settled, f"every reader of {proc.service} catches up", SETTLE)
            report = await streams(client)
            assert report["service"] == proc.service and report["max_lag"] == 0 and report["notes"] == []
            for consumer in report["consumers"]:
                assert consumer["kind"] in {"projection", "reaction"}
                for topic in consumer["topics"]:
                    for p in topic["partitions"]:
                        assert p["end"] is not None and p["lag"] == 0, (consumer["consumer"], p)
    # The enrolment went through intake's reaction to the registry's roster: both have applied it.
    async with services[2].client() as registry:
        roster = {c["consumer"]: c for c in (await streams(registry))["consumers"]}
    members = roster["registry.members"]
    assert members["kind"] == "reaction" and members["last_applied_at"] is not None


async def test_an_ops_user_sees_each_services_readers_and_their_lag(
    services: tuple[ServiceProcess, ...],
    enrolled: str,
    door: FrontDoor,
    demo: dict[str, str],
    browser: BrowserContext,
) -> None:
    a11y = Accessibility()
    readers: dict[str, list[str]] = {}
    for proc in services:
        async with proc.client() as client:
            readers[proc.service] = [c["consumer"] for c in (await streams(client))["consumers"]]
    page = await browser.new_page()
    await log_in(page, door, "demo-ops", demo["demo-ops"])
    await expect(page).to_have_url(f"{door.url}/city/applications", timeout=WAIT_MS)
    await page.get_by_role("menuitem", name="数据流").click()
    await expect(page.get_by_role("heading", name="数据流", exact=True)).to_be_visible(timeout=WAIT_MS)
    for service, label in SERVICE_NAMES.items():
        await expect(page.get_by_role("heading", name=label, exact=True)).to_be_visible(timeout=WAIT_MS)
        table = page.get_by_test_id(f"streams-{service}")
        for consumer in readers[service]:
            await expect(table.get_by_test_id(f"lag-{consumer}")).to_have_text("0", timeout=WAIT_MS)
    await a11y.check("ops-streams", page)
    await page.screenshot(path=str(artefacts_dir() / "journey-ops-streams.png"), full_page=True)
    a11y.assert_none()


async def test_a_registrar_erases_a_members_personal_data_after_confirming(
    services: tuple[ServiceProcess, ...],
    enrolled: str,
    door: FrontDoor,
    demo: dict[str, str],
    browser: BrowserContext,
) -> None:
    a11y = Accessibility()
    page = await browser.new_page()
    await log_in(page, door, "demo-registrar", demo["demo-registrar"])
    await page.get_by_role("menuitem", name="会员个人信息删除").click()
    await expect(page.get_by_role("heading", name="会员个人信息删除")).to_be_visible(timeout=WAIT_MS)
    main = page.locator("main")
    await main.get_by_label("成员标识", exact=True).fill("not-a-key")
    await main.get_by_role("button", name="查询").click()
    await expect(field_error(page, "成员标识")).to_have_text("成员标识为 64 位十六进制字符")
    await main.get_by_label("成员标识", exact=True).fill("0" * 64)
    await main.get_by_role("button", name="查询").click()
    await expect(field_error(page, "成员标识")).to_have_text("没有该成员")

    await main.get_by_label("成员标识", exact=True).fill(enrolled)
    await main.get_by_role("button", name="查询").click()
    await expect(page.get_by_test_id("member-status")).to_have_text("在册", timeout=WAIT_MS)
    await expect(page.get_by_test_id("member")).to_contain_text("370202")
    await a11y.check("registrar-member", page)
    # The request's number is asked for on the field before anything is sent.
    await main.get_by_role("button", name="删除个人信息").click()
    await expect(field_error(page, "删除请求编号")).to_have_text("删除须填写删除请求编号")
    await main.get_by_label("删除请求编号", exact=True).fill("QD-DEL-2026-0303")
    await main.get_by_role("button", name="删除个人信息").click()
    dialog = page.get_by_role("dialog", name="确认删除个人信息")
    await expect(dialog).to_contain_text("不可恢复")
    await a11y.check("registrar-member-confirm", page)
    # Cancelled: nothing is erased.
    await dialog.get_by_role("button", name="取消").click()
    await expect(dialog).to_be_hidden()
    async with services[2].client() as registry:
        assert (await registry.get(f"/members/{enrolled}", headers=REGISTRAR)).json()["status"] == "enrolled"
    await main.get_by_role("button", name="删除个人信息").click()
    await dialog.get_by_role("button", name="确认删除").click()
    await expect(page.get_by_test_id("erasure-outcome")).to_contain_text("已删除", timeout=WAIT_MS)
    await expect(page.get_by_test_id("member-status")).to_have_text("已删除", timeout=WAIT_MS)
    await expect(page.get_by_test_id("member")).to_contain_text("QD-DEL-2026-0303")
    await page.screenshot(path=str(artefacts_dir() / "journey-registrar-member-erased.png"), full_page=True)
    async with services[2].client() as registry:
        shown = (await registry.get(f"/members/{enrolled}", headers=REGISTRAR)).json()
    assert shown["status"] == "erased" and shown["erasure_ref"] == "QD-DEL-2026-0303", shown
    a11y.assert_none()
