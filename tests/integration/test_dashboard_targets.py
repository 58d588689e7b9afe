"""The 看板 dashboard's targets by district in a real headless Chromium (Debian's build) against
real intake, registry and metrics processes on a database and topics of this module's own: the
city sets 平度市's share of the members target; the district's view shows it with the result at the
deadline beside today's figure, real and simulated figures apart and a switch that hides 演示数据;
the city's chart labels the district's bar with the percent of its share; a view as of a day
before the share was set has no target. Screenshot: test-artifacts/dashboard-district-share.png."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator
from typing import Any, Final

import pytest
from playwright.async_api import Locator, Page, expect

from huigong_simulator.data import enrolment_rows

from ..conftest import Stack, isolated_stack
from .browser import chromium
from .processes import ServiceProcess, artefacts_dir, running

Services = tuple[ServiceProcess, ...]
OFFSET: Final = 2960
# The page refreshes every 5 s; the projections need a moment after an event is recorded.
WAIT_MS: Final = 90_000


@pytest.fixture(scope="module")
async def own_stack(stack_env: dict[str, str]) -> AsyncIterator[Stack]:
    async with isolated_stack(stack_env) as s:
        yield s


@pytest.fixture(scope="module")
async def services(own_stack: Stack) -> AsyncIterator[Services]:
    async with running(own_stack, ("intake", "registry", "metrics"), OFFSET, "dashboard-targets") as procs:
        yield procs


def by_name(services: Services, name: str) -> ServiceProcess:
    return next(p for p in services if p.service == name)


def card(page: Page, metric: str) -> Locator:
    return page.locator(f'[data-testid="metric-card"][data-metric="{metric}"]')


async def test_a_district_share_shows_with_its_result_at_the_deadline_and_without_simulated_data(
    services: Services,
) -> None:
    """The city sets 平度市's share of the members target; the district's view shows it, the
    result at the deadline (31 December 2025) beside today's figure, real and simulated figures
    apart, and the switch that hides 演示数据; a view as of 2025-06-30 has no such target."""
    metrics, intake = by_name(services, "metrics"), by_name(services, "intake")
    rows = [{**row, "入会日期": "2025-03-01"} for row in enrolment_rows(3, "370283", random.Random())]
    async with intake.client() as client:
        for principal, part in (("district:370283", rows[:2]), ("simulator:370283", rows[2:])):
            response = await client.post(
                "/enrolments",
                json={"rows": part},
                headers={"X-Huigong-Principal": principal, "Idempotency-Key": uuid.uuid4().hex},
            )
            assert response.status_code in (200, 201), response.text

    async with metrics.client() as client:

        async def district_members() -> dict[str, Any]:
            body = (await client.get("/api/progress", params={"area": "370283"})).json()
            found: dict[str, Any] = next(m for m in body["metrics"] if m["metric"] == "members_enrolled")
            return found

        for _ in range(180):
            figures = await district_members()
            if figures["actual"] >= 3 and figures["simulated_actual"] >= 1:
                break
            await asyncio.sleep(0.5)
        actual, simulated = figures["actual"], figures["simulated_actual"]
        share = actual + 1  # not met at the deadline: nobody joined after it
        changed = await client.put(
            "/api/targets/members_enrolled",
            json={"area": "平度市", "value": share, "reason": "分解全市入会目标到平度市"},
            headers={"X-Huigong-Principal": "city:staff01"},
        )
        assert changed.status_code == 200, changed.text

    async with chromium() as context:
        page = await context.new_page()
        try:
            await page.goto(f"{metrics.url}/?area=370283&metric=members_enrolled")
            members = card(page, "members_enrolled")
            await expect(members).to_have_attribute("data-target", str(share), timeout=WAIT_MS)
            await expect(members.get_by_test_id("target")).to_have_text(str(share))
            at_deadline = members.get_by_test_id("at-deadline")
            await expect(at_deadline).to_contain_text(f"截止时（2025-12-31）完成 {actual} / {share}")
            await expect(at_deadline).to_contain_text("未达标")
            await expect(members.get_by_test_id("real-actual")).to_have_text(f"真实数据 {actual - simulated}")
            await expect(members.get_by_test_id("simulated-actual")).to_have_text(f"演示数据 {simulated}")
            await page.screenshot(path=artefacts_dir() / "dashboard-district-share.png", full_page=True)

            # Hide 演示数据: the figure is the district's own reports, and says so.
            await page.get_by_test_id("real-only").check()
            await expect(members).to_have_attribute("data-actual", str(actual - simulated), timeout=WAIT_MS)
            await expect(members.get_by_test_id("actual-split")).to_have_count(0)
            await expect(members.get_by_test_id("metric-simulated")).to_have_count(0)
            await expect(page.get_by_test_id("scope")).to_contain_text("仅真实数据")
            assert "real_only=1" in page.url

            # The city's chart of districts labels 平度市's bar with the percent of its share.
            await page.get_by_test_id("real-only").uncheck()
            await page.get_by_test_id("area").select_option("370200")
            percent = round(actual / share * 100, 1)
            label = f"{percent:g}%"
            await expect(page.locator("#by-area svg text", has_text=label).first).to_be_visible(
                timeout=WAIT_MS
            )

            # As of 2025-06-30 the share had not been set: no target, no status.
            await page.get_by_test_id("area").select_option("370283")
            await page.get_by_test_id("as-of").fill("2025-06-30")
            await expect(page.locator("body")).to_have_attribute("data-as-of", "2025-06-30", timeout=WAIT_MS)
            await expect(members).to_have_attribute("data-target", "", timeout=WAIT_MS)
            await expect(members.get_by_test_id("status")).to_have_text("无目标")
        except BaseException:
            await page.screenshot(path=artefacts_dir() / "dashboard-failure.png", full_page=True)
            raise
