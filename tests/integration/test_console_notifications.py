"""The district's notifications in the console: the notices of its own outbound feed (what its
system reads on Kafka or from GET /api/intake/feed), newest first, with the kind in Chinese, the
受理编号 and Beijing time, and an unread count in the header. 市南区 submits an application
through the API with its clerk's session, and 已受理 appears on its page; 市北区 sees none of it.
Chromium through the front door against real services; screenshot
test-artifacts/journey-district-notifications.png."""

from __future__ import annotations

import asyncio
import json
import random
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any, Final

import pytest
from playwright.async_api import BrowserContext, Page, expect

from huigong_platform import accounts
from huigong_simulator.data import enrolment_rows

from ..conftest import Stack, isolated_stack
from ..forms import complex_form, with_fresh_undertaking_unit
from .browser import chromium
from .frontdoor import FrontDoor, front_door
from .processes import ServiceProcess, artefacts_dir, running
from .test_console import WAIT_MS, axe_violations, log_in, users

OFFSET: Final = 2300
YEAR: Final = datetime.now(UTC).year + 1


@pytest.fixture(scope="module")
async def stack(stack_env: dict[str, str]) -> AsyncIterator[Stack]:
    """This module's own database and topics: what its journeys record (units certified, targets
    set, members enrolled) must not move the figures other modules of the run count exactly."""
    async with isolated_stack(stack_env) as own:
        yield own


@pytest.fixture(scope="module")
async def services(stack: Stack) -> AsyncIterator[tuple[ServiceProcess, ...]]:
    # Review screens the application (and accepts a service complex at once), the registry
    # enrols members: intake hears of both on their topics and tells the district.
    async with running(stack, ("intake", "review", "registry"), OFFSET, "notifications") as procs:
        yield procs


@pytest.fixture(scope="module")
def door(services: tuple[ServiceProcess, ...]) -> Iterator[FrontDoor]:
    with front_door(services[0].port) as opened:
        yield opened


@pytest.fixture(scope="module")
def demo(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    file = tmp_path_factory.mktemp("notifications") / "demo-accounts.tsv"
    users(stack, "demo", str(file), "--actor", "tests")
    return accounts.read_password_file(file)


@pytest.fixture
async def browser() -> AsyncIterator[BrowserContext]:
    async with chromium() as context:
        yield context


async def api(page: Page, door: FrontDoor, method: str, path: str, **options: Any) -> tuple[int, Any]:
    """A request with the page's own session, as the console sends it."""
    session = await (await page.request.get(f"{door.url}/api/intake/session")).json()
    headers = {"X-CSRF-Token": session["csrf_token"], "Idempotency-Key": str(uuid.uuid4())}
    answer = await page.request.fetch(
        f"{door.url}/api/intake{path}", method=method, headers=headers, **options
    )
    return answer.status, await answer.json()


async def submit(page: Page, door: FrontDoor) -> tuple[str, str]:
    """市南区's application, sent through the API: its id and 受理编号."""
    form = json.loads(with_fresh_undertaking_unit(complex_form()).model_dump_json())
    body = {"year": YEAR, "programme": "service_complex", "form": form}
    status, answer = await api(page, door, "POST", "/applications", data=body)
    assert status == 201, answer
    return answer["application_id"], answer["receipt_no"]


async def told(page: Page, door: FrontDoor, record_id: str, notice_type: str) -> dict[str, Any]:
    """Waits until the district's feed has `notice_type` about `record_id` (review screens the
    application on its own topic; intake tells the district when it reads that)."""
    deadline = asyncio.get_running_loop().time() + 60
    while True:
        status, feed = await api(page, door, "GET", "/feed", params={"after": 0, "limit": 500})
        assert status == 200, feed
        for notice in feed["notices"]:
            if notice["record_id"] == record_id and notice["type"] == notice_type:
                data: dict[str, Any] = notice["data"]
                return data
        assert asyncio.get_running_loop().time() < deadline, feed
        await asyncio.sleep(0.5)


async def test_a_district_reads_its_notifications_and_another_district_sees_none_of_them(
    stack: Stack, door: FrontDoor, demo: dict[str, str], browser: BrowserContext
) -> None:
    page = await browser.new_page()
    await log_in(page, door, "demo-district", demo["demo-district"])
    await expect(page).to_have_url(f"{door.url}/district/applications", timeout=WAIT_MS)
    application_id, receipt_no = await submit(page, door)
    await told(page, door, application_id, "ApplicationAcceptedNotice")

    # Unread in the header until the page is opened: in a new browser, every notice of 市南区's
    # (received and 已受理 at least; other tests of the run may have told it more), up to 99+.
    _, feed = await api(page, door, "GET", "/feed", params={"after": 0, "limit": 100})
    count = len(feed["notices"])
    assert count >= 2
    unread = "99+" if count == 100 else str(count)
    await page.reload()
    bell = page.get_by_test_id("notice-bell")
    await expect(bell).to_have_attribute("aria-label", f"通知，{unread} 条未读", timeout=WAIT_MS)
    await expect(bell).to_contain_text(unread)

    # Opened from the menu: 已受理 of the application, by its 受理编号, newest first.
    await page.get_by_role("menuitem", name="通知").click()
    await expect(page).to_have_url(f"{door.url}/district/notifications", timeout=WAIT_MS)
    await expect(page.get_by_role("heading", name="市南区 · 通知")).to_be_visible(timeout=WAIT_MS)
    table = page.get_by_test_id("notices")
    rows = table.locator("tbody tr", has_text=receipt_no)
    accepted = rows.filter(has_text="已受理")
    received = rows.filter(has_text="已收到申报")
    await expect(accepted).to_contain_text("未读", timeout=WAIT_MS)
    await expect(accepted).to_contain_text("市南区工会服务职工综合体建设")
    # Beijing time, as the clerk's wall clock reads (never the UTC of the record).
    await expect(accepted).to_contain_text(re.compile(r"\d{4}/\d{2}/\d{2} \d{2}:\d{2}"))
    texts = await table.locator("tbody tr").all_inner_texts()
    assert texts.index(next(t for t in texts if receipt_no in t and "已受理" in t)) < texts.index(
        next(t for t in texts if receipt_no in t and "已收到申报" in t)
    ), texts
    await expect(received).to_have_count(1)
    assert "ApplicationAcceptedNotice" not in await table.inner_text()
    # The 受理编号 leads to the district's own list of applications.
    await expect(accepted.get_by_role("link", name=receipt_no)).to_have_attribute(
        "href", "/district/applications"
    )
    # Opening the page read them: the header has nothing unread now.
    await expect(bell).to_have_attribute("aria-label", "通知，没有未读", timeout=WAIT_MS)
    await page.wait_for_load_state("networkidle")
    await page.screenshot(path=str(artefacts_dir() / "journey-district-notifications.png"), full_page=True)
    assert await axe_violations(page) == []

    # The page reads the feed newest first, by its cursor: the same notices as forward, reversed.
    status, forward = await api(page, door, "GET", "/feed", params={"after": 0, "limit": 500})
    assert status == 200
    status, newest = await api(page, door, "GET", "/feed", params={"before": 2**53, "limit": 2})
    assert status == 200
    status, older = await api(page, door, "GET", "/feed", params={"before": newest["next"], "limit": 2})
    assert status == 200
    backward = [n["seq"] for n in newest["notices"] + older["notices"]]
    assert backward == [n["seq"] for n in forward["notices"]][::-1][: len(backward)]
    status, refused = await api(page, door, "GET", "/feed", params={"before": 10, "after": 3})
    assert status == 422
    assert (
        refused["errors"][0]["field"] == "after" and refused["errors"][0]["zh"] == "after 不能与 before 同用"
    )
    await page.get_by_role("button", name="退出登录").click()
    await expect(page.get_by_role("button", name="登录")).to_be_visible(timeout=WAIT_MS)

    # 市北区's clerk: its own page, without 市南区's application, and 市南区's feed is refused.
    made = json.loads(
        users(
            stack,
            "create",
            "notices-shibei",
            "--principal",
            "district:370203",
            "--name",
            "市北区",
            "--actor",
            "tests",
            "--json",
        )
    )
    await log_in(page, door, "notices-shibei", made["password"])
    await expect(page).to_have_url(f"{door.url}/district/applications", timeout=WAIT_MS)
    await page.goto(f"{door.url}/district/notifications")
    await expect(page.get_by_role("heading", name="市北区 · 通知")).to_be_visible(timeout=WAIT_MS)
    await expect(page.get_by_test_id("notices").locator(".el-loading-mask")).to_have_count(0, timeout=WAIT_MS)
    assert receipt_no not in await page.get_by_test_id("notices").inner_text()
    status, theirs = await api(page, door, "GET", "/feed", params={"after": 0, "limit": 500})
    assert status == 200
    assert not {n["record_id"] for n in theirs["notices"]} & {n["record_id"] for n in forward["notices"]}
    status, _ = await api(page, door, "GET", "/feed", params={"district": "370202"})
    assert status == 403


async def enrol(page: Page, door: FrontDoor, rows: list[dict[str, object]]) -> str:
    """An enrolment batch sent with the page's session; its batch id."""
    status, answer = await api(page, door, "POST", "/enrolments", data={"rows": rows})
    assert status == 200, answer
    assert len(answer["accepted"]) == len(rows), answer
    batch_id: str = answer["batch_id"]
    return batch_id


async def test_a_district_hears_which_rows_the_registry_enrolled_and_which_were_members_already(
    door: FrontDoor, demo: dict[str, str], browser: BrowserContext
) -> None:
    """Intake takes a row of a worker another federation reported before (only the same
    federation's repeat is refused at intake); the registry records it without counting it
    again, and the district hears so by row number."""
    first, second, third = enrolment_rows(3, "370202", random.Random())
    haier = await browser.new_page()
    await log_in(haier, door, "demo-group", demo["demo-group"])
    await expect(haier).to_have_url(f"{door.url}/district/applications", timeout=WAIT_MS)
    reported = await told(haier, door, await enrol(haier, door, [second]), "EnrolmentOutcomeNotice")
    assert (reported["enrolled"], reported["already_members"]) == ([1], [])

    # One browser, one session cookie: 海尔's clerk logs out, 市南区's logs in.
    await haier.get_by_role("button", name="退出登录").click()
    await expect(haier.get_by_role("button", name="登录")).to_be_visible(timeout=WAIT_MS)
    page = haier
    await log_in(page, door, "demo-district", demo["demo-district"])
    await expect(page).to_have_url(f"{door.url}/district/applications", timeout=WAIT_MS)
    batch_id = await enrol(page, door, [first, second, third])
    outcome = await told(page, door, batch_id, "EnrolmentOutcomeNotice")
    assert (outcome["accepted"], outcome["enrolled"], outcome["already_members"]) == (3, [1, 3], [2])
    said = json.dumps(outcome, ensure_ascii=False)
    for row in (first, second, third):
        for personal in (row["身份证号"], row["姓名"], row["手机号"]):
            assert str(personal) not in said

    await page.goto(f"{door.url}/district/notifications")
    entry = page.get_by_test_id("notices").locator("tbody tr", has_text="入会登记结果").first
    await expect(entry).to_contain_text("新入会 2 行，已是会员 1 行", timeout=WAIT_MS)
    await expect(entry).to_contain_text("第 2 行：此前已报送入会")
    taken = page.get_by_test_id("notices").locator("tbody tr", has_text="入会报送已处理").first
    await expect(taken).to_contain_text("共 3 行，受理 3 行")
