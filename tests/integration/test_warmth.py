"""送温暖 against real intake and registry processes, PostgreSQL and Kafka: members enrolled through
intake's API, the city federation sets 市南区's fund for the year, 市南区 records deliveries through
the registry's API. A delivery above the threshold waits for the city's approval, a repeat for
the same occasion and period needs a reason and is flagged, an overdraft is refused naming what
remains, and a member's erasure keeps every amount counted while the delivering union can no
longer read the name and phone. Neither name nor phone is in any event, table row or log line."""

from __future__ import annotations

import io
import random
from collections.abc import AsyncIterator, Iterator
from datetime import date, datetime, timedelta
from typing import Any, Final

import asyncpg
import httpx
import pytest
from openpyxl import Workbook
from playwright.async_api import expect

from huigong_events.topics import topic_for_aggregate
from huigong_intake.domain.identity import member_key
from huigong_ops import personal
from huigong_ops.replay import replay
from huigong_platform.raw_identifiers import Needles
from huigong_platform.workbooks import XLSX_MEDIA_TYPE
from huigong_registry.domain.dates import BEIJING
from huigong_simulator.data import enrolment_rows

from ..conftest import Stack
from .browser import chromium
from .processes import ServiceProcess, artefacts_dir, running
from .test_dashboard import WAIT_MS
from .test_review import eventually, key

CITY: Final = {"X-Huigong-Principal": "city:370200"}
SHINAN: Final = {"X-Huigong-Principal": "district:370202"}
SHIBEI: Final = {"X-Huigong-Principal": "district:370203"}
REGISTRAR: Final = {"X-Huigong-Principal": "registrar:privacy03"}
TIMEOUT: Final = 120.0
MEMBERS_TOPIC: Final = topic_for_aggregate("warmth-fund").name

Services = tuple[ServiceProcess, ...]


@pytest.fixture(scope="module")
async def services(stack: Stack) -> AsyncIterator[Services]:
    async with running(stack, ("intake", "registry", "metrics"), 2500, "warmth") as procs:
        yield procs


@pytest.fixture(scope="module")
async def members(stack: Stack, services: Services) -> list[tuple[str, dict[str, Any]]]:
    """Three members 市南区 enrolled, on the registry's roster (each with a data key)."""
    rows = enrolment_rows(3, "370202", random.Random(2605))
    secret = bytes.fromhex(stack.env["HUIGONG_MEMBER_KEY_SECRET"])
    async with services[0].client() as intake:
        enrolled = await intake.post("/enrolments", json={"rows": rows}, headers={**SHINAN, **key()})
        assert enrolled.status_code == 200 and len(enrolled.json()["accepted"]) == 3, enrolled.text
    found = [(member_key(str(row["身份证号"]), secret), row) for row in rows]
    async with services[1].client() as registry:
        for member, _ in found:

            async def on_roster(member: str = member) -> bool:
                return (await registry.get(f"/members/{member}", headers=REGISTRAR)).status_code == 200

            await eventually(on_roster, "the registry enrols the member", TIMEOUT)
    return found


@pytest.fixture
async def registry(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with services[1].client() as client:
        yield client


YEAR: Final = datetime.now(BEIJING).year
TODAY: Final = datetime.now(BEIJING).date().isoformat()
FUND: Final = f"/warmth/funds/370202/{YEAR}"


async def deliver(
    registry: httpx.AsyncClient, member: tuple[str, dict[str, Any]], **fields: Any
) -> httpx.Response:
    body = {
        "member_key": member[0],
        "recipient": {"name": member[1]["姓名"], "phone": member[1]["手机号"]},
        "occasion": "重要节点",
        "festival": "春节",
        "form": "慰问金",
        "amount": 500,
        "delivered_on": TODAY,
        "evidence_ref": "QD-SWN-0001",
        **fields,
    }
    return await registry.post("/warmth/deliveries", json=body, headers={**SHINAN, **key()})


def field_error(response: httpx.Response, field: str) -> dict[str, str]:
    return next(e for e in response.json()["errors"] if e["field"] == field)


async def test_the_fund_its_threshold_a_repeat_an_overdraft_and_an_erasure(
    stack: Stack, services: Services, members: list[tuple[str, dict[str, Any]]], registry: httpx.AsyncClient
) -> None:
    first, second, third = members
    budget = {"amount": 3000, "approval_threshold": 1000, "reason": "2026年度送温暖预算"}
    assert (await registry.put(FUND, json=budget, headers={**SHINAN, **key()})).status_code == 403
    assert (await registry.put(FUND, json=budget, headers={**CITY, **key()})).status_code == 200

    small = await deliver(registry, first)
    assert small.status_code == 201, small.text
    assert (small.json()["status"], small.json()["status_label"]) == ("approved", "已批准")

    # Above the threshold: pending until the city approves.
    big = await deliver(registry, second, occasion="重大疾病", festival=None, amount=1500)
    assert big.status_code == 201 and big.json()["status"] == "pending", big.text
    approval = f"{FUND}/deliveries/{big.json()['delivery_id']}/approval"
    assert (await registry.post(approval, headers={**SHINAN, **key()})).status_code == 403
    assert (await registry.post(approval, headers={**CITY, **key()})).status_code == 201

    # The same member, occasion and period again: a reason, and the record is flagged.
    repeat = await deliver(registry, first, amount=300)
    assert repeat.status_code == 422
    assert "再次记录须说明原因" in field_error(repeat, "repeat_reason")["zh"]
    flagged = await deliver(registry, first, amount=300, repeat_reason="家中失火，追加慰问")
    assert flagged.status_code == 201 and flagged.json()["repeat_reason"] == "家中失火，追加慰问"

    # 500 + 1500 + 300 drawn of 3000: 700 remain, and the refusal says so.
    over = await deliver(registry, third, occasion="遇到困难", festival=None, amount=800)
    assert over.status_code == 409
    error = field_error(over, "amount")
    assert "剩余 700 元" in error["zh"] and "700 yuan remain" in error["en"]

    # The delivering union reads name and phone; the city reads the amounts only; another
    # district reads nothing.
    own = (await registry.get(FUND, headers=SHINAN)).json()
    assert (own["budget"], own["drawn"], own["remaining"]) == (3000, 2300, 700)
    shown = {d["delivery_id"]: d for d in own["deliveries"]}
    assert shown[small.json()["delivery_id"]]["recipient"] == {
        "name": first[1]["姓名"],
        "phone": first[1]["手机号"],
    }
    assert shown[flagged.json()["delivery_id"]]["repeat"] is True
    city = (await registry.get(FUND, headers=CITY)).json()
    assert city["drawn"] == 2300 and all("recipient" not in d for d in city["deliveries"])
    assert (await registry.get(FUND, headers=SHIBEI)).status_code == 404

    # Erasure: the member's key goes, the deliveries stay counted, the name cannot be read.
    erased = await registry.post(
        f"/members/{first[0]}/erasure",
        json={"request_ref": "QD-DEL-2026-0201"},
        headers={**REGISTRAR, **key()},
    )
    assert erased.status_code == 201, erased.text
    after = (await registry.get(FUND, headers=SHINAN)).json()
    assert after["drawn"] == 2300 and len(after["deliveries"]) == 3
    for delivery in after["deliveries"]:
        if delivery["member_key"] == first[0]:
            assert delivery["recipient"] is None and delivery["recipient_erased"] is True
    refused = await deliver(registry, first, occasion="遇到困难", festival=None, amount=100)
    assert refused.status_code == 409 and field_error(refused, "member_key")["zh"].endswith(
        "不能再记录其送温暖"
    )

    # The personal-data scan over the warmth events on the members topic, the registry's tables
    # and its log: none of the members' ID numbers or phones (names are checked in the events).
    ids = {small.json()["delivery_id"], big.json()["delivery_id"], flagged.json()["delivery_id"]}

    async def published() -> bool:
        seen = personal.ScanReport()
        await personal.scan_topics(stack.bootstrap, stack.topic_prefix, Mentions(ids), seen)
        return {f.kind for f in seen.findings} >= ids

    await eventually(published, "the relay publishes the deliveries", TIMEOUT)
    needles = Needles.of([str(r["身份证号"]) for _, r in members], [str(r["手机号"]) for _, r in members])
    report = personal.ScanReport()
    await personal.scan_topics(stack.bootstrap, stack.topic_prefix, needles, report)
    await personal.scan_tables(stack.admin_dsn, needles, report, schemas=("registry",))
    personal.scan_files([services[1].log_path], needles, report)
    assert (
        report.scanned[f"{stack.topic_prefix}{MEMBERS_TOPIC}"] > 0 and report.scanned["registry.events"] > 0
    )
    assert report.clean, report.findings[:5]

    # Neither name nor phone in any stored event, nor in the registry's log.
    data = await admin_fetch(
        stack, "SELECT data::text FROM registry.events WHERE aggregate_type = 'warmth-fund'"
    )
    assert len(data) == 5  # the budget, three deliveries, one approval: nothing refused is recorded
    text = "\n".join(data)
    log = services[1].log_path.read_text(encoding="utf-8")
    for _, row in members:
        for value in (row["姓名"], row["手机号"], row["身份证号"]):
            assert value not in text and value not in log


class Mentions:
    """A matcher that finds the given ids in a record (to know the relay published them)."""

    def __init__(self, ids: set[str]) -> None:
        self.ids = ids

    def find(self, text: str) -> Iterator[tuple[str, str]]:
        # The id is the "kind": what a finding names in clear (its value is masked).
        return ((i, i) for i in self.ids if i in text)


async def admin_fetch(stack: Stack, query: str) -> list[str]:
    admin = await asyncpg.connect(stack.admin_dsn)
    try:
        return [str(r[0]) for r in await admin.fetch(query)]
    finally:
        await admin.close()


async def test_the_figures_by_union_occasion_and_month_as_of_any_day_and_replayed(
    stack: Stack, services: Services, members: list[tuple[str, dict[str, Any]]], registry: httpx.AsyncClient
) -> None:
    """市北区's fund: one delivery some days ago, one today; the dashboard's figures as of each day,
    and a replay (whole, and as of the earlier day) equal to what is live."""
    third = members[2]
    today = datetime.now(BEIJING).date()
    earlier = max(date(today.year, 1, 1), today - timedelta(days=6))
    fund = f"/warmth/funds/370203/{YEAR}"
    budget = {"amount": 5000, "approval_threshold": 3000, "reason": "2026年度送温暖预算"}
    assert (await registry.put(fund, json=budget, headers={**CITY, **key()})).status_code == 200
    for occasion, amount, day in (("遇到困难", 600, earlier), ("重大疾病", 400, today)):
        body = {
            "member_key": third[0],
            "recipient": {"name": third[1]["姓名"], "phone": third[1]["手机号"]},
            "occasion": occasion,
            "form": "慰问金",
            "amount": amount,
            "delivered_on": day.isoformat(),
            "evidence_ref": "QD-SB-0001",
        }
        answer = await registry.post("/warmth/deliveries", json=body, headers={**SHIBEI, **key()})
        assert answer.status_code == 201, answer.text

    async with services[2].client() as metrics:

        async def live() -> dict[str, Any] | None:
            body: dict[str, Any] = (await metrics.get("/api/warmth", params={"year": YEAR})).json()
            shibei = [a for a in body["by_area"] if a["area"] == "370203"]
            return body if shibei and shibei[0]["deliveries"] == 2 else None

        now = await eventually(live, "the metrics service counts 市北区's deliveries", TIMEOUT)
        (shibei,) = [a for a in now["by_area"] if a["area"] == "370203"]
        assert (shibei["budget"], shibei["used"], shibei["remaining"]) == (5000, 1000, 4000)
        months = {(m["area"], m["occasion"], m["month"]): m for m in now["by_month"] if m["area"] == "370203"}
        assert months[("370203", "hardship", earlier.strftime("%Y-%m"))]["amount"] == 600
        assert months[("370203", "serious_illness", today.strftime("%Y-%m"))]["occasion_label"] == "重大疾病"
        # 市南区's figures from the other test: the declined and refused ones never counted.
        (shinan,) = [a for a in now["by_area"] if a["area"] == "370202"]
        assert (shinan["deliveries"], shinan["used"]) == (3, 2300)

        then: dict[str, Any] = (
            await metrics.get("/api/warmth", params={"year": YEAR, "as_of": earlier.isoformat()})
        ).json()
    (before,) = [a for a in then["by_area"] if a["area"] == "370203"]
    if earlier < today:
        # As of the earlier day: only the delivery dated then, and no budget set yet.
        assert (before["deliveries"], before["amount"], before["budget"]) == (1, 600, None)

    whole = await replay(
        stack.admin_dsn, stack.bootstrap, stack.topic_prefix, "metrics", consumers=["metrics.warmth"]
    )
    (consumer,) = whole.consumers
    assert {t.table for t in consumer.tables} == {"warmth_deliveries", "warmth_budgets"}
    assert consumer.equal, consumer.to_json()

    cut = await replay(
        stack.admin_dsn,
        stack.bootstrap,
        stack.topic_prefix,
        "metrics",
        consumers=["metrics.warmth"],
        as_of=earlier,
    )
    figures = {f.name: f for f in cut.consumers[0].figures}
    assert dict(figures["warmth_deliveries"].by_area) == {a["area"]: a["deliveries"] for a in then["by_area"]}
    assert dict(figures["warmth_amount"].by_area) == {a["area"]: a["amount"] for a in then["by_area"]}


HUANGDAO: Final = {"X-Huigong-Principal": "district:370211"}


def delivery_sheet(rows: list[list[object]]) -> bytes:
    """A delivery list as an office keeps it in Excel: a title, then the headings (their own
    words), dates as dates, amounts as numbers."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["黄岛区总工会送温暖发放名单"])
    sheet.append(
        [
            "序号",
            "会员标识",
            "受助人姓名",
            "手机号码",
            "慰问类别",
            "节日",
            "慰问形式",
            "金额（元）",
            "慰问日期",
            "签收单编号",
            "重复原因",
        ]
    )
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


async def test_a_delivery_sheet_records_each_good_row_and_refuses_the_others_with_their_reason(
    stack: Stack, services: Services, registry: httpx.AsyncClient
) -> None:
    """黄岛区 imports its list: each row is the delivery command; a repeat without its reason, an
    overdraft and a festival given for hardship are refused in their rows, the others recorded;
    the same file again with the same key records nothing twice; the metrics service counts what
    was recorded, and a replay gives the same."""
    rows = enrolment_rows(2, "370211", random.Random(2611))
    secret = bytes.fromhex(stack.env["HUIGONG_MEMBER_KEY_SECRET"])
    async with services[0].client() as intake:
        enrolled = await intake.post("/enrolments", json={"rows": rows}, headers={**HUANGDAO, **key()})
        assert enrolled.status_code == 200 and len(enrolled.json()["accepted"]) == 2, enrolled.text
    (a, b) = [member_key(str(row["身份证号"]), secret) for row in rows]
    for member in (a, b):

        async def on_roster(member: str = member) -> bool:
            return (await registry.get(f"/members/{member}", headers=REGISTRAR)).status_code == 200

        await eventually(on_roster, "the registry enrols the member", TIMEOUT)
    fund = f"/warmth/funds/370211/{YEAR}"
    budget = {"amount": 2000, "approval_threshold": 1000, "reason": "年度送温暖预算"}
    assert (await registry.put(fund, json=budget, headers={**CITY, **key()})).status_code == 200

    today = datetime.now(BEIJING).date()
    name_a, phone_a, name_b, phone_b = rows[0]["姓名"], rows[0]["手机号"], rows[1]["姓名"], rows[1]["手机号"]
    content = delivery_sheet(
        [
            [1, a, name_a, phone_a, "重要节点", "春节", "慰问金", 600, today, "HD-01", None],
            [2, b, name_b, phone_b, "重大疾病", None, "慰问金", 1200, today, "HD-02", None],
            [3, a, name_a, phone_a, "重要节点", "春节", "实物", 100, today, "HD-03", None],
            [4, b, name_b, phone_b, "遇到困难", None, "慰问金", 500, today, "HD-04", None],
            [5, b, name_b, phone_b, "遇到困难", "春节", "慰问金", 100, today, "HD-05", None],
        ]
    )
    files = {"file": ("送温暖名单.xlsx", content, XLSX_MEDIA_TYPE)}
    idempotency = key()
    answer = await registry.post(
        "/warmth/deliveries/upload", files=files, headers={**HUANGDAO, **idempotency}
    )
    assert answer.status_code == 200, answer.text
    recorded = {row["row"]: row for row in answer.json()["recorded"]}
    refused = {row["row"]: {e["field"]: e for e in row["errors"]} for row in answer.json()["refused"]}
    assert sorted(recorded) == [3, 4] and sorted(refused) == [5, 6, 7]
    assert (recorded[3]["status"], recorded[4]["status"]) == ("approved", "pending")
    assert "再次记录须说明原因" in refused[5]["重复说明"]["zh"]
    assert "剩余 200 元" in refused[6]["金额"]["zh"] and "200 yuan remain" in refused[6]["金额"]["en"]
    assert set(refused[7]) == {"节日"}

    again = await registry.post("/warmth/deliveries/upload", files=files, headers={**HUANGDAO, **idempotency})
    assert [row["delivery_id"] for row in again.json()["recorded"]] == [
        recorded[3]["delivery_id"],
        recorded[4]["delivery_id"],
    ]
    own = (await registry.get(fund, headers=HUANGDAO)).json()
    assert (own["drawn"], own["remaining"], len(own["deliveries"])) == (1800, 200, 2)
    shown = {d["delivery_id"]: d for d in own["deliveries"]}
    assert shown[recorded[3]["delivery_id"]]["recipient"] == {"name": name_a, "phone": phone_a}

    async with services[2].client() as metrics:

        async def counted() -> dict[str, Any] | None:
            body: dict[str, Any] = (await metrics.get("/api/warmth", params={"year": YEAR})).json()
            found = [a for a in body["by_area"] if a["area"] == "370211"]
            return found[0] if found and found[0]["deliveries"] == 2 else None

        huangdao = await eventually(counted, "the metrics service counts 黄岛区's deliveries", TIMEOUT)
    assert (huangdao["used"], huangdao["remaining"]) == (1800, 200)
    replayed = await replay(
        stack.admin_dsn,
        stack.bootstrap,
        stack.topic_prefix,
        "metrics",
        consumers=["metrics.warmth"],
        as_of=today,
    )
    figures = {f.name: f for f in replayed.consumers[0].figures}
    assert figures["warmth_deliveries"].by_area["370211"] == 2
    assert figures["warmth_amount"].by_area["370211"] == 1800


async def test_the_dashboard_shows_each_unions_deliveries_and_budget(services: Services) -> None:
    # Runs after the tests above: 市南区 3 deliveries, 2,300 of 3,000; 市北区 2, 1,000 of 5,000.
    async with chromium() as context:
        page = await context.new_page()
        await page.goto(f"{services[2].url}/?year={YEAR}")
        shinan = page.locator('[data-testid="warmth-row"][data-area="370202"]')
        await expect(shinan.locator("td").first).to_have_text("市南区", timeout=WAIT_MS)
        await expect(shinan.locator('[data-figure="amount"]')).to_have_text("2,300")
        await expect(shinan.locator('[data-figure="remaining"]')).to_have_text("700")
        shibei = page.locator('[data-testid="warmth-row"][data-area="370203"]')
        await expect(shibei.locator('[data-figure="deliveries"]')).to_have_text("2")
        await expect(page.get_by_test_id("warmth-scope")).to_contain_text(f"{YEAR} 年度")
        await page.screenshot(path=str(artefacts_dir() / "dashboard-warmth.png"), full_page=True)
        # One district's view has its own union only.
        await page.goto(f"{services[2].url}/?year={YEAR}&area=370203")
        await expect(page.get_by_test_id("warmth-row")).to_have_count(1, timeout=WAIT_MS)
        await expect(shibei.locator('[data-figure="budget"]')).to_have_text("5,000")
