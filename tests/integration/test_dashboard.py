"""The 看板 dashboard in a real headless Chromium (Debian's build) against real intake, review,
registry and metrics processes: after the seed it shows the 2022 cohort, it updates by itself when
a district enrols gig workers, the 截至日期 picker changes the figures, and it loads nothing from
outside this machine (chart library and Chinese font come from the service itself).
The last screenshot is kept as test-artifacts/dashboard.png."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Locator, Page, expect

from huigong_events.reference import FacilityKind
from huigong_simulator.data import enrolment_rows

from ..conftest import Stack
from .browser import chromium
from .processes import ServiceProcess, artefacts_dir, running
from .test_metrics import report_facility
from .test_seed import run_seed, seed_keyring

Services = tuple[ServiceProcess, ServiceProcess, ServiceProcess, ServiceProcess]

# The page refreshes every 5 s; the projections need a moment after an event is recorded.
WAIT_MS: Final = 90_000


@pytest.fixture(scope="module")
async def services(stack: Stack) -> AsyncIterator[Services]:
    names = ("intake", "review", "registry", "metrics")
    async with running(stack, names, 900, "dashboard") as procs:
        yield procs  # type: ignore[misc]


def by_name(services: Services, name: str) -> ServiceProcess:
    return next(p for p in services if p.service == name)


def card(page: Page, metric: str) -> Locator:
    return page.locator(f'[data-testid="metric-card"][data-metric="{metric}"]')


async def expect_figure(page: Page, metric: str, actual: int, what: str) -> None:
    """The card of `metric` shows `actual`, waiting for the page's own refresh."""
    try:
        await expect(card(page, metric)).to_have_attribute("data-actual", str(actual), timeout=WAIT_MS)
    except AssertionError as exc:
        shown = (
            await card(page, metric).get_attribute("data-actual")
            if await card(page, metric).count()
            else None
        )
        raise AssertionError(f"{what}: the {metric} card shows {shown!r}, expected {actual}") from exc
    figure = (await card(page, metric).get_by_test_id("actual").inner_text()).replace(",", "")
    assert figure == str(actual), f"{what}: the {metric} card reads {figure!r}"


def beijing_today() -> date:
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


async def enrol(intake: ServiceProcess, n: int, principal: str) -> None:
    """`n` new gig workers of 李沧区 who joined today, enrolled through intake's HTTP API."""
    rows = [
        {**row, "入会日期": beijing_today().isoformat()}
        for row in enrolment_rows(n, "370213", random.Random())
    ]
    async with intake.client() as client:
        response = await client.post(
            "/enrolments",
            json={"rows": rows},
            headers={"X-Huigong-Principal": principal, "Idempotency-Key": uuid.uuid4().hex},
        )
    assert response.status_code in (200, 201), response.text
    assert len(response.json()["accepted"]) == n, response.text


async def test_the_dashboard_shows_the_cohort_follows_new_events_and_answers_as_of_a_date(
    stack: Stack, services: Services
) -> None:
    metrics = by_name(services, "metrics")
    keyring = await seed_keyring(stack)
    seeded = await asyncio.to_thread(run_seed, by_name(services, "registry").url, keyring)
    assert seeded["total"] == 41, seeded

    async with chromium() as context:
        page = await context.new_page()
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        try:
            await page.goto(f"{metrics.url}/")
            await expect(page.get_by_test_id("title")).to_have_text("青岛工会提升职工生活品质 · 工作看板")

            # The 2022 cohort of annex 2, city-wide, all years.
            await expect_figure(page, "happy_enterprise_pilots", 18, "after the seed")
            await expect_figure(page, "service_bases", 7, "after the seed")
            await expect_figure(page, "welfare_partners", 5, "after the seed")
            await expect(
                card(page, "happy_enterprise_pilots").get_by_test_id("metric-title")
            ).to_contain_text("幸福企业")

            # Seeded by the city federation: real data, no 演示数据 label.
            await expect(page.get_by_test_id("simulated")).to_be_hidden()
            members_before = int(await card(page, "members_enrolled").get_attribute("data-actual") or "0")

            # 李沧区 enrols gig workers: the open page shows them at its next refresh.
            refreshes = await page.evaluate(
                "Number(document.body.dataset.refreshes || 0)"
            )  # 0 before the first refresh ends
            await enrol(by_name(services, "intake"), 3, "district:370213")
            await expect_figure(page, "members_enrolled", members_before + 3, "after 李沧区 enrolled 3")
            # The counter moves at the end of a refresh, after the figures and the series under
            # them: the new figure can be on screen a moment before it does.
            await page.wait_for_function(
                f"Number(document.body.dataset.refreshes) > {refreshes}", timeout=WAIT_MS
            )
            await expect(page.get_by_test_id("last-updated")).not_to_have_text("—")

            # The district simulator's enrolments count too, and the page says 演示数据.
            await enrol(by_name(services, "intake"), 2, "simulator:370213")
            await expect_figure(
                page, "members_enrolled", members_before + 5, "after the simulator enrolled 2"
            )
            await expect(page.get_by_test_id("simulated")).to_be_visible()
            await expect(page.get_by_test_id("simulated")).to_have_text("演示数据")
            await expect(card(page, "members_enrolled").get_by_test_id("metric-simulated")).to_be_visible()
            # 李沧区 reports a gig-worker station: its row in the stations table shows it.
            async with by_name(services, "intake").client() as intake:
                await report_facility(
                    intake, FacilityKind.新就业形态劳动者服务站点, "370213", beijing_today()
                )
            station = page.locator('[data-testid="stations-row"][data-area="370213"]')
            await expect(station.locator('[data-figure="gig_worker_stations"]')).to_have_text(
                "1", timeout=WAIT_MS
            )
            await page.screenshot(path=artefacts_dir() / "dashboard.png", full_page=True)

            # As of yesterday, today's members had not joined; the cohort was there.
            yesterday = (beijing_today() - timedelta(days=1)).isoformat()
            await page.get_by_test_id("as-of").fill(yesterday)
            await expect(page.locator("body")).to_have_attribute("data-as-of", yesterday, timeout=WAIT_MS)
            await expect_figure(page, "members_enrolled", members_before, f"as of {yesterday}")
            await expect_figure(page, "happy_enterprise_pilots", 18, f"as of {yesterday}")
            await expect(page.get_by_test_id("scope")).to_contain_text(f"截至 {yesterday}")

            # As of a day before the cohort was fixed (2022-06-28), nothing had been built yet.
            await page.get_by_test_id("as-of").fill("2022-06-01")
            await expect(page.locator("body")).to_have_attribute("data-as-of", "2022-06-01", timeout=WAIT_MS)
            await expect_figure(page, "happy_enterprise_pilots", 0, "as of 2022-06-01")
            await expect_figure(page, "service_bases", 0, "as of 2022-06-01")
            await expect_figure(page, "welfare_partners", 0, "as of 2022-06-01")
            await page.screenshot(path=artefacts_dir() / "dashboard-as-of-2022-06-01.png", full_page=True)

            # 导出 Excel asks the question on screen, as a table.
            export = await page.evaluate("document.querySelector('[data-testid=export]').href")
            assert "format=xlsx" in export and "as_of=2022-06-01" in export
            exported = await page.request.get(export)
            assert exported.ok and exported.headers["content-type"].startswith("application/vnd.openxml")
            # The print view on A4: the filters' controls give way to the question in words.
            await page.emulate_media(media="print")
            await expect(page.get_by_test_id("year")).to_be_hidden()
            await expect(page.get_by_test_id("print")).to_be_hidden()
            await expect(page.get_by_test_id("scope")).to_contain_text("截至 2022-06-01")
            printed = await page.pdf(format="A4", print_background=True)
            assert printed.startswith(b"%PDF")
            (artefacts_dir() / "dashboard-print.pdf").write_bytes(printed)
            await page.emulate_media(media="screen")
        except BaseException:
            await page.screenshot(path=artefacts_dir() / "dashboard-failure.png", full_page=True)
            raise

        # Works without internet: every request went to the metrics service itself, and the
        # Chinese text is drawn with the web font it serves, not whatever the machine has.
        outside = [url for url in requested if not url.startswith((metrics.url, "data:"))]
        assert outside == [], f"the page loaded from outside the service: {outside}"
        assert any("/vendor/noto-sans-sc/files/" in url for url in requested), "no font file was loaded"
        font_loaded = (
            "[...document.fonts].some(f => f.family.includes('Noto Sans SC') && f.status === 'loaded')"
        )
        assert await page.evaluate(font_loaded), "the Noto Sans SC web font did not load"
        assert await page.evaluate("typeof window.echarts === 'object'"), "ECharts did not load"
