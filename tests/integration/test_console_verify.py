"""`huigong verify`'s results as 运维/审计 see them: each run of the command is kept, and every
service lists the runs (newest first) and each run's problems, to operators only; the console's
运维 → 校验结果 shows them. Runs against this module's own database, so the runs listed are
exactly the two made here: one over a clean chain (通过) and one after a record was forged
(未通过, with the reason). axe-core finds no serious or critical violation on the page; the
screenshots are kept in test-artifacts/journey-ops-verify.png (both runs) and
journey-ops-verify-problems.png (the failed run opened)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any, Final

import pytest
from playwright.async_api import BrowserContext, expect
from typer.testing import CliRunner, Result

from huigong_events.envelope import RecordedEvent
from huigong_events.topics import topic_for_aggregate
from huigong_ops.cli import app
from huigong_platform import accounts

from ..conftest import Stack, isolated_stack
from .browser import chromium
from .frontdoor import FrontDoor, front_door
from .processes import ServiceProcess, artefacts_dir, running
from .test_console import WAIT_MS, log_in, users
from .test_console_staff import Accessibility
from .test_ops import chain, fresh_prefix, publish

OFFSET: Final = 3200
OPS: Final = {"X-Huigong-Principal": "ops:auditor01"}


@pytest.fixture(scope="module")
async def stack(stack_env: dict[str, str]) -> AsyncIterator[Stack]:
    async with isolated_stack(stack_env) as own:
        yield own


@pytest.fixture(scope="module")
async def services(stack: Stack) -> AsyncIterator[tuple[ServiceProcess, ...]]:
    async with running(stack, ("intake", "review", "registry", "metrics"), OFFSET, "console-verify") as procs:
        yield procs


@pytest.fixture(scope="module")
def door(services: tuple[ServiceProcess, ...]) -> Iterator[FrontDoor]:
    with front_door(services[0].port) as opened:
        yield opened


@pytest.fixture(scope="module")
def demo(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    file = tmp_path_factory.mktemp("console-verify") / "demo-accounts.tsv"
    users(stack, "demo", str(file), "--actor", "tests")
    return accounts.read_password_file(file)


@pytest.fixture
async def browser() -> AsyncIterator[BrowserContext]:
    async with chromium() as context:
        yield context


async def verify(stack: Stack, *args: str) -> Result:
    env = {
        "COLUMNS": "220",
        "HUIGONG_KAFKA_BOOTSTRAP": stack.bootstrap,
        "HUIGONG_PG_ADMIN_DSN": stack.admin_dsn,
    }

    def invoke() -> Result:
        return CliRunner().invoke(app, ["verify", "--kafka-only", "--no-progress", *args], env=env)

    return await asyncio.to_thread(invoke)


@pytest.fixture(scope="module")
async def runs(stack: Stack) -> dict[str, Any]:
    """Two runs over one prefix: clean, then after a forged copy of one event (its data changed,
    the original's hash and tag kept) was appended."""
    prefix = await fresh_prefix(stack)
    events = chain(3)
    await publish(stack, prefix, events)
    clean = await verify(stack, "--prefix", prefix, "--json", "--by", "ops:auditor01")
    assert clean.exit_code == 0, clean.output
    forged = RecordedEvent.model_validate(
        {**events[1].model_dump(), "data": {**events[1].data, "district": "370203"}}
    )
    await publish(stack, prefix, [forged])
    failed = await verify(stack, "--prefix", prefix, "--json", "--by", "ops:auditor02")
    assert failed.exit_code == 1, failed.output
    return {
        "prefix": prefix,
        "aggregate_id": events[1].aggregate_id,
        "clean": json.loads(clean.stdout)["report_id"],
        "failed": json.loads(failed.stdout)["report_id"],
    }


async def test_each_run_is_kept_and_every_service_lists_it_to_operators_only(
    services: tuple[ServiceProcess, ...], runs: dict[str, Any]
) -> None:
    assert runs["failed"] > runs["clean"]
    for proc in services:
        async with proc.client() as client:
            listed = await client.get("/verify-reports", headers=OPS)
            assert listed.status_code == 200, listed.text
            items = listed.json()["items"]
            assert [r["id"] for r in items] == [runs["failed"], runs["clean"]]
            failed, clean = items
            assert clean["outcome"] == "通过" and clean["passed"] is True and clean["failures"] == 0
            assert clean["run_by"] == "ops:auditor01" and clean["records"] == 3
            assert clean["scope"]["with_stores"] is False
            assert topic_for_aggregate("enrolment").qualified(runs["prefix"]) in clean["scope"]["topics"]
            assert failed["outcome"] == "未通过" and failed["run_by"] == "ops:auditor02"
            assert failed["records"] == 4 and failed["counts"]["altered"] == 1
            # Paged: one at a time, the next page before the first's id.
            first = (await client.get("/verify-reports?limit=1", headers=OPS)).json()
            assert [r["id"] for r in first["items"]] == [runs["failed"]]
            assert first["next_before"] == runs["failed"]
            second = (
                await client.get(f"/verify-reports?limit=1&before={runs['failed']}", headers=OPS)
            ).json()
            assert [r["id"] for r in second["items"]] == [runs["clean"]] and second["next_before"] is None

            detail = (await client.get(f"/verify-reports/{runs['failed']}", headers=OPS)).json()
            altered = [p for p in detail["problems"] if p["kind"] == "altered"]
            assert (
                altered and altered[0]["aggregate_id"] == runs["aggregate_id"] and altered[0]["version"] == 2
            )
            assert altered[0]["reason"].startswith("内容被篡改") and altered[0]["offset"] == 3
            # The forged copy's content (its district) is nowhere in what is kept.
            assert "370203" not in json.dumps(detail, ensure_ascii=False)

            for who in ("district:370202", "registrar:privacy03", "viewer:prometheus"):
                refused = await client.get("/verify-reports", headers={"X-Huigong-Principal": who})
                assert refused.status_code == 403, refused.text
            assert (await client.get("/verify-reports")).status_code == 401
            missing = await client.get("/verify-reports/999999", headers=OPS)
            assert missing.status_code == 404 and missing.json()["errors"][0]["field"] == "report_id"


async def test_an_ops_user_sees_both_runs_and_opens_the_failed_ones_problems(
    runs: dict[str, Any], door: FrontDoor, demo: dict[str, str], browser: BrowserContext
) -> None:
    a11y = Accessibility()
    page = await browser.new_page()
    await log_in(page, door, "demo-ops", demo["demo-ops"])
    await expect(page).to_have_url(f"{door.url}/city/applications", timeout=WAIT_MS)
    await page.get_by_role("menuitem", name="校验结果").click()
    await expect(page.get_by_role("heading", name="校验结果", exact=True)).to_be_visible(timeout=WAIT_MS)
    table = page.get_by_test_id("verify-reports")
    await expect(table.get_by_test_id(f"outcome-{runs['clean']}")).to_have_text("通过", timeout=WAIT_MS)
    await expect(table.get_by_test_id(f"outcome-{runs['failed']}")).to_have_text("未通过")
    await expect(table.get_by_test_id(f"problems-{runs['clean']}")).to_have_text("0")
    await expect(table).to_contain_text("ops:auditor01")
    await expect(table).to_contain_text("仅 Kafka")
    # Newest first: the failed run is the first row.
    await expect(table.locator("tbody tr").first).to_contain_text(f"#{runs['failed']}")
    await a11y.check("ops-verify", page)
    await page.screenshot(path=str(artefacts_dir() / "journey-ops-verify.png"), full_page=True)

    await table.locator("tbody tr").first.click()
    dialog = page.get_by_role("dialog", name=f"校验结果 #{runs['failed']}")
    await expect(dialog.get_by_test_id("verify-outcome")).to_have_text("未通过", timeout=WAIT_MS)
    problems = dialog.get_by_test_id("verify-problems")
    await expect(problems).to_contain_text("内容被篡改")
    await expect(problems).to_contain_text(runs["aggregate_id"])
    await a11y.check("ops-verify-problems", page)
    await page.screenshot(path=str(artefacts_dir() / "journey-ops-verify-problems.png"), full_page=True)
    a11y.assert_none()
