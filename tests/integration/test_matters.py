"""联动服务 end to end, with real registry and metrics processes on the real broker and database:
the 服务事项目录, a matter received in one district, transferred twice and closed (the first
responder sees the whole path, `huigong audit` shows every step with its actor, the requester's
name and phone never appear in clear outside the registry), working-day deadlines across a
national holiday and an adjusted working Saturday, overdue matters flagged and counted, ratings
averaged per centre, and the refusals (a transfer to a centre that does not provide the item, a
rating of an unknown or unclosed matter).

No other module records matters, and each test works in districts of its own, so the per-centre
figures of the metrics service are exact."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from playwright.async_api import expect
from typer.testing import CliRunner

from huigong_events.reference import CITY_CODE
from huigong_ops.cli import app as ops_cli
from huigong_ops.replay import replay
from huigong_registry import seed
from huigong_registry.domain.cohort import SERVICE_BASES, SERVICE_CENTRES

from ..conftest import Stack
from .browser import chromium
from .processes import ServiceProcess, artefacts_dir, running
from .test_dashboard import WAIT_MS
from .test_review import eventually, key

REGISTRAR = {"X-Huigong-Principal": "registrar:city01"}
CITY = {"X-Huigong-Principal": "city:liandong01"}
VIEWER = {"X-Huigong-Principal": "viewer:prometheus"}
OPS = {"X-Huigong-Principal": "ops:auditor01"}
Services = tuple[ServiceProcess, ...]

CENTRE = {entry.area: entry for entry in SERVICE_CENTRES}
SHIDAI_BASE = next(b for b in SERVICE_BASES if b.name == "青岛市市北区时代国际广场")  # 市北区
PHONE = "13912345678"
NAME = "王秀英"
ALL_CENTRES = [str(entry.id) for entry in SERVICE_CENTRES]


def district(code: str) -> dict[str, str]:
    return {"X-Huigong-Principal": f"district:{code}"}


@pytest.fixture(scope="module")
async def services(stack: Stack) -> AsyncIterator[Services]:
    async with running(stack, ("registry", "metrics"), 1300, "matters") as procs:
        yield procs


@pytest.fixture
async def registry(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with services[0].client() as client:
        yield client


@pytest.fixture
async def metrics(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with services[1].client() as client:
        yield client


@pytest.fixture(scope="module")
async def units(services: Services) -> None:
    """The 11 centres and the 7 bases as huigong-seed registers them (another module may have):
    the seed's own principal, body and idempotency keys, so that the seed, run after, replays."""
    async with services[0].client() as client:
        for entry, origin in [
            *((c, "service_centre") for c in SERVICE_CENTRES),
            *((b, "pilot_2022") for b in SERVICE_BASES),
        ]:
            response = await client.post(
                "/units",
                json=seed.unit_body(entry, origin),
                headers={"X-Huigong-Principal": seed.PRINCIPAL, "Idempotency-Key": f"seed-2022:{entry.id}"},
            )
            assert response.status_code in (201, 409), response.text


async def list_item(
    registry: httpx.AsyncClient, name: str, providers: list[str], limit: int, steps: list[str] | None = None
) -> str:
    body = {
        "name": name,
        "category": "legal_aid",
        "providers": providers,
        "time_limit_days": limit,
        "steps": steps or ["登记诉求", "律师咨询", "出具意见"],
        "commitment": f"{limit}个工作日内办结",
        "listed_on": "2025-01-02",
    }
    response = await registry.post("/service-items", json=body, headers={**REGISTRAR, **key()})
    assert response.status_code == 201, response.text
    return str(response.json()["item_id"])


async def receive(
    registry: httpx.AsyncClient, area: str, item_id: str, received_on: str, **extra: Any
) -> dict[str, Any]:
    principal = CITY if area == CITY_CODE else district(area)
    body = {
        "item_id": item_id,
        "channel": "walk_in",
        "requester": {"name": NAME, "phone": PHONE},
        "request": "公司拖欠三个月工资，想咨询如何申请劳动仲裁",
        "received_on": received_on,
        **extra,
    }
    response = await registry.post("/matters", json=body, headers={**principal, **key()})
    assert response.status_code == 201, response.text
    found: dict[str, Any] = response.json()
    return found


async def act(
    registry: httpx.AsyncClient, matter_id: str, what: str, area: str, body: dict[str, Any], status: int = 201
) -> dict[str, Any]:
    principal = CITY if area == CITY_CODE else district(area)
    response = await registry.post(f"/matters/{matter_id}/{what}", json=body, headers={**principal, **key()})
    assert response.status_code == status, response.text
    found: dict[str, Any] = response.json()
    return found


async def centre_figures(metrics: httpx.AsyncClient, as_of: str | None = None) -> dict[str, dict[str, Any]]:
    params = {"as_of": as_of} if as_of else {}
    response = await metrics.get("/api/matters", params=params)
    assert response.status_code == 200, response.text
    return {row["area"]: row for row in response.json()["centres"]}


async def figures_reach(
    metrics: httpx.AsyncClient, area: str, expected: dict[str, Any], as_of: str | None = None
) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        row = (await centre_figures(metrics, as_of))[area]
        return row if all(row[k] == v for k, v in expected.items()) else None

    return await eventually(probe, f"{area} figures {expected} as of {as_of}")


def audit(stack: Stack, aggregate_id: str) -> list[dict[str, Any]]:
    env = {
        "HUIGONG_KAFKA_BOOTSTRAP": stack.bootstrap,
        "HUIGONG_PG_ADMIN_DSN": stack.admin_dsn,
        "COLUMNS": "220",
    }
    args = [
        "audit",
        aggregate_id,
        "--type",
        "matter",
        "--prefix",
        stack.topic_prefix,
        "-f",
        "jsonl",
        "--no-progress",
    ]
    result = CliRunner().invoke(ops_cli, args, env=env)
    if result.exit_code != 0:
        return []
    return [json.loads(line) for line in result.stdout.splitlines()]


# --- a matter's path --------------------------------------------------------------------------------


async def test_a_matter_transferred_twice_and_closed_shows_its_whole_path_to_the_first_responder(
    units: None, registry: httpx.AsyncClient, metrics: httpx.AsyncClient, stack: Stack
) -> None:
    # 市南区 receives a labour-dispute question; the item is provided by 市北区's centre and by the
    # 服务职工基地 at 时代国际广场 (市北区), not by 市南区 itself nor by 崂山区.
    item_id = await list_item(
        registry, "劳动争议法律咨询", [str(CENTRE["370203"].id), str(SHIDAI_BASE.id)], 5
    )
    received = await receive(registry, "370202", item_id, "2026-03-02", channel="phone")
    matter_id = received["matter_id"]
    assert received["matter_no"].startswith("FW-2026-370202-")
    assert received["deadline"] == "2026-03-09" and "requester_sealed" not in received

    # Not to a centre that does not provide the item: refused with the reason, nothing recorded.
    refused = await act(
        registry, matter_id, "transfers", "370202",
        {"to": str(CENTRE["370212"].id), "reason": "转崂山区办理", "transferred_on": "2026-03-02"},
        status=422,
    )  # fmt: skip
    (error,) = refused["errors"]
    assert error["field"] == "to" and "崂山区职工服务中心不提供服务事项“劳动争议法律咨询”" in error["zh"]

    await act(
        registry, matter_id, "transfers", "370202",
        {"to": str(CENTRE["370203"].id), "reason": "本中心不提供该服务", "transferred_on": "2026-03-02"},
    )  # fmt: skip
    # Only the receiver accepts; the first responder cannot act while the transfer waits.
    await act(registry, matter_id, "acceptance", "370202", {"accepted_on": "2026-03-03"}, status=403)
    await act(registry, matter_id, "acceptance", "370203", {"accepted_on": "2026-03-03"})
    await act(registry, matter_id, "steps", "370203", {"step": "登记诉求", "done_on": "2026-03-03"})
    await act(
        registry, matter_id, "transfers", "370203",
        {"to": str(SHIDAI_BASE.id), "reason": "由基地律师团队办理", "transferred_on": "2026-03-03"},
    )  # fmt: skip
    await act(registry, matter_id, "acceptance", "370203", {"accepted_on": "2026-03-04"})
    await act(
        registry,
        matter_id,
        "steps",
        "370203",
        {"step": "律师咨询", "note": "律师已电话联系", "done_on": "2026-03-04"},
    )
    await act(registry, matter_id, "steps", "370203", {"step": "出具意见", "done_on": "2026-03-05"})
    closed = await act(
        registry,
        matter_id,
        "closure",
        "370203",
        {"outcome": "resolved", "note": "已出具书面意见", "closed_on": "2026-03-05"},
    )
    assert closed["on_time"] is True

    # The first responder sees every step, who took it and when, and the worker's contact.
    view = (await registry.get(f"/matters/{matter_id}", headers=district("370202"))).json()
    assert [step["type"] for step in view["path"]] == [
        "MatterReceived",
        "MatterTransferred",
        "MatterAccepted",
        "MatterStepDone",
        "MatterTransferred",
        "MatterAccepted",
        "MatterStepDone",
        "MatterStepDone",
        "MatterClosed",
    ]
    assert [step["actor"] for step in view["path"]] == [
        "district:370202",
        "district:370202",
        *["district:370203"] * 7,
    ]
    assert view["first_responder"]["name"] == "市南区职工服务中心"
    assert view["handler"]["name"] == SHIDAI_BASE.name
    assert view["transfers"] == 2 and view["status"] == "closed" and view["on_time"] is True
    assert view["requester"] == {
        "name": NAME,
        "phone": PHONE,
        "request": "公司拖欠三个月工资，想咨询如何申请劳动仲裁",
    }
    assert all(step["done"] for step in view["steps"])
    # The city federation's 联动运营部 follows it too, without the worker's personal data;
    # a district it never reached learns nothing of it.
    by_city = (await registry.get(f"/matters/{matter_id}", headers=CITY)).json()
    assert len(by_city["path"]) == 9 and by_city["requester"] is None
    assert (await registry.get(f"/matters/{matter_id}", headers=district("370213"))).status_code == 404

    async def listed() -> dict[str, Any] | None:
        page = (await registry.get("/matters", headers=district("370202"))).json()
        found = [m for m in page["items"] if m["matter_id"] == matter_id]
        return found[0] if found and found[0]["status"] == "closed" else None

    row = await eventually(listed, "the matter closed in the first responder's list")
    assert row["handler"]["unit_id"] == str(SHIDAI_BASE.id) and row["transfers"] == 2
    assert "requester" not in row
    others = (await registry.get("/matters", headers=district("370213"))).json()
    assert matter_id not in [m["matter_id"] for m in others["items"]]
    # Exported, the list is the same: the district's own matters, in Chinese, without the worker.
    exported = await registry.get("/matters", params={"format": "csv"}, headers=district("370202"))
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert lines[0][:7] == [
        "受理编号",
        "服务事项",
        "服务类别",
        "受理渠道",
        "首问责任中心",
        "当前承办单位",
        "状态",
    ]
    [line] = [line for line in lines[1:] if line[0] == row["matter_no"]]
    assert (line[4], line[5], line[6], line[11]) == ("市南区职工服务中心", SHIDAI_BASE.name, "已办结", "否")
    assert NAME not in exported.text and PHONE not in exported.text
    elsewhere = await registry.get("/matters", params={"format": "csv"}, headers=district("370213"))
    assert row["matter_no"] not in elsewhere.text

    # Every step is audited: `huigong audit` reads them back from Kafka with their actors, and
    # the sealed personal data is masked; the name and phone are nowhere in clear.
    async def audited() -> list[dict[str, Any]] | None:
        rows = await asyncio.to_thread(audit, stack, matter_id)
        return rows if len(rows) == 9 else None

    rows = await eventually(audited, "the matter's nine events in huigong audit")
    assert [r["type"] for r in rows] == [step["type"] for step in view["path"]]
    assert [r["actor"] for r in rows] == [step["actor"] for step in view["path"]]
    assert all(r["hash_valid"] for r in rows)
    text = json.dumps(rows, ensure_ascii=False)
    assert PHONE not in text and NAME not in text

    # Counted per centre: 市南区 received it and closed it on time (首问负责), each district
    # transferred it once.
    await figures_reach(
        metrics, "370202", {"received": 1, "transferred": 1, "closed_on_time": 1, "overdue": 0}
    )
    await figures_reach(metrics, "370203", {"received": 0, "transferred": 1})


async def unit_figures(registry: httpx.AsyncClient, as_of: str) -> dict[str, dict[str, Any]]:
    response = await registry.get("/matters/figures", params={"as_of": as_of}, headers=CITY)
    assert response.status_code == 200, response.text
    return {row["area"]: row for row in response.json()["units"] if row["name"].endswith("职工服务中心")}


async def test_a_refused_transfer_goes_back_and_a_transferred_matter_counts_where_it_was_handled(
    units: None, registry: httpx.AsyncClient
) -> None:
    # 西海岸新区 receives a matter only 崂山区's centre provides: 3 working days, due 5 March.
    item_id = await list_item(registry, "工伤认定咨询", [str(CENTRE["370212"].id)], 3)
    matter_id = (await receive(registry, "370211", item_id, "2026-03-02"))["matter_id"]
    to_laoshan = {"to": str(CENTRE["370212"].id), "reason": "本中心不提供该服务"}
    await act(registry, matter_id, "transfers", "370211", {**to_laoshan, "transferred_on": "2026-03-02"})

    # Only the receiver refuses, with a reason that is no phone number.
    await act(registry, matter_id, "refusal", "370211", {"reason": "退回"}, status=403)
    missing = await act(registry, matter_id, "refusal", "370212", {"refused_on": "2026-03-03"}, status=422)
    assert [(e["field"], bool(e["zh"]), bool(e["en"])) for e in missing["errors"]] == [("reason", True, True)]
    await act(registry, matter_id, "refusal", "370212", {"reason": "请联系 13912345678"}, status=422)
    await act(
        registry, matter_id, "refusal", "370212",
        {"reason": "本中心本周工伤咨询律师休假", "refused_on": "2026-03-03"},
    )  # fmt: skip
    # Back with 西海岸新区, which acts on it again: nothing waits for 崂山区 any more.
    await act(registry, matter_id, "acceptance", "370212", {"accepted_on": "2026-03-03"}, status=409)
    view = (await registry.get(f"/matters/{matter_id}", headers=district("370211"))).json()
    assert view["status"] == "handling" and view["pending_transfer"] is None
    assert view["handler"]["area"] == "370211" and view["refused_transfers"] == 1
    refusal = view["path"][-1]
    assert (refusal["type"], refusal["label"], refusal["actor"]) == (
        "MatterTransferRefused",
        "退回",
        "district:370212",
    )
    assert refusal["data"]["reason"] == "本中心本周工伤咨询律师休假"
    # The district that refused still reads the matter it refused.
    assert (await registry.get(f"/matters/{matter_id}", headers=district("370212"))).status_code == 200

    # Sent again, accepted after the deadline, closed late by 崂山区.
    await act(registry, matter_id, "transfers", "370211", {**to_laoshan, "transferred_on": "2026-03-04"})
    await act(registry, matter_id, "acceptance", "370212", {"accepted_on": "2026-03-06"})
    for step in ["登记诉求", "律师咨询", "出具意见"]:
        await act(registry, matter_id, "steps", "370212", {"step": step, "done_on": "2026-03-09"})
    closed = await act(
        registry, matter_id, "closure", "370212", {"outcome": "resolved", "closed_on": "2026-03-09"}
    )
    assert closed["on_time"] is False

    # As of 6 March it is overdue for 崂山区, which handles it, and for 西海岸新区, which answers
    # for it; by 9 March it counts as handled late by 崂山区 and as received and closed late by
    # 西海岸新区.
    mid = await unit_figures(registry, "2026-03-06")
    assert mid["370212"]["handling"] == {
        "transferred_in": 1, "refused": 1, "handled": 0, "closed_on_time": 0, "closed_late": 0, "overdue": 1,
    }  # fmt: skip
    assert mid["370211"]["answering"]["overdue"] == 1 and mid["370211"]["handling"]["overdue"] == 0
    end = await unit_figures(registry, "2026-03-09")
    assert end["370212"]["handling"]["handled"] == 1 and end["370212"]["handling"]["closed_late"] == 1
    assert end["370212"]["answering"]["received"] == 0
    assert end["370211"]["answering"] == {"received": 1, "closed_on_time": 0, "closed_late": 1, "overdue": 0}
    assert end["370211"]["handling"]["handled"] == 0
    # On the day of the first transfer, before 崂山区 answered it, nothing counts for 崂山区.
    assert "370212" not in await unit_figures(registry, "2026-03-02")


async def test_personal_data_is_sealed_in_the_log_and_erased_on_request(
    units: None, registry: httpx.AsyncClient, stack: Stack
) -> None:
    item_id = await list_item(
        registry, "困难职工帮扶申请", ALL_CENTRES, 10, ["受理登记", "入户核实", "审批发放"]
    )
    # The window's retry with the same Idempotency-Key records nothing new and answers the same.
    body = {
        "item_id": item_id,
        "channel": "app",
        "requester": {"name": NAME, "phone": PHONE},
        "request": "家中老人住院，申请困难帮扶",
        "received_on": "2026-05-11",
    }
    retry = {**district("370281"), **key()}
    first = await registry.post("/matters", json=body, headers=retry)
    again = await registry.post("/matters", json=body, headers=retry)
    assert first.status_code == again.status_code == 201, again.text
    assert again.headers.get("Idempotent-Replayed") == "true" and again.json() == first.json()
    matter_id = first.json()["matter_id"]
    conn = await asyncpg.connect(stack.admin_dsn)
    try:
        stored = await conn.fetch(
            "SELECT data::text AS data FROM registry.events WHERE aggregate_id = $1", matter_id
        )
    finally:
        await conn.close()
    assert stored and all(PHONE not in r["data"] and NAME not in r["data"] for r in stored)

    assert (await registry.get(f"/matters/{matter_id}", headers=district("370281"))).json()["requester"][
        "phone"
    ] == PHONE
    # Only the first responder or the city federation erases, once.
    await act(registry, matter_id, "erasure", "370202", {"request_ref": "DEL-2026-0042"}, status=404)
    await act(registry, matter_id, "erasure", "370281", {"request_ref": "DEL-2026-0042"})
    await act(registry, matter_id, "erasure", CITY_CODE, {"request_ref": "DEL-2026-0042"}, status=409)
    view = (await registry.get(f"/matters/{matter_id}", headers=district("370281"))).json()
    assert view["requester"] is None and view["requester_erased"] is True
    assert view["path"][-1]["type"] == "MatterRequesterErased"

    # A phone number typed into a note is refused, so it cannot reach an event in clear.
    refused = await act(
        registry, matter_id, "steps", "370281", {"step": "受理登记", "note": f"请回电 {PHONE}"}, status=422
    )
    assert refused["errors"][0]["field"] == "note" and PHONE not in json.dumps(refused, ensure_ascii=False)


# --- deadlines --------------------------------------------------------------------------------------


async def test_deadlines_count_working_days_across_national_day_and_an_adjusted_saturday(
    units: None, registry: httpx.AsyncClient
) -> None:
    five = await list_item(registry, "法律援助申请", ALL_CENTRES, 5)
    three = await list_item(registry, "心理咨询预约", ALL_CENTRES, 3, ["预约登记", "咨询"])
    # 2025: 1–8 October off, Saturday 11 October worked: 9, 10, 11, 13, 14 October.
    first = await receive(registry, CITY_CODE, five, "2025-09-30")
    assert first["deadline"] == "2025-10-14" and first["deadline_provisional"] is False
    # 2026: 1–7 October off, Saturday 10 October worked: 8, 9, 10 October.
    second = await receive(registry, CITY_CODE, three, "2026-09-30")
    assert second["deadline"] == "2026-10-10"
    view = (await registry.get(f"/matters/{second['matter_id']}", headers=CITY)).json()
    assert view["deadline"] == "2026-10-10" and view["time_limit_days"] == 3
    assert view["first_responder"]["area"] == CITY_CODE

    # A later change of the catalogue does not move a received matter's deadline.
    change = {
        "name": "心理咨询预约",
        "category": "counselling",
        "providers": ALL_CENTRES,
        "time_limit_days": 10,
        "steps": ["预约登记", "咨询"],
        "reason": "咨询师排班调整",
        "changed_on": "2026-10-01",
    }
    changed = await registry.put(f"/service-items/{three}", json=change, headers={**REGISTRAR, **key()})
    assert changed.status_code == 200, changed.text
    view = (await registry.get(f"/matters/{second['matter_id']}", headers=CITY)).json()
    assert view["deadline"] == "2026-10-10"
    # Only registrars keep the catalogue; anyone reads it.
    refused = await registry.put(f"/service-items/{three}", json=change, headers={**CITY, **key()})
    assert refused.status_code == 403

    async def listed() -> dict[str, Any] | None:
        found = (await registry.get(f"/service-items/{three}")).json()
        return found if found.get("time_limit_days") == 10 else None

    item = await eventually(listed, "the changed item in the public catalogue")
    assert {p["unit_id"] for p in item["providers"]} == set(ALL_CENTRES)
    assert any(p["name"] == "青岛市职工服务中心" for p in item["providers"])


async def test_a_provisional_deadline_moves_when_the_city_publishes_the_years_working_days(
    units: None, registry: httpx.AsyncClient, metrics: httpx.AsyncClient
) -> None:
    twenty = await list_item(
        registry, "困难职工帮扶申请", ALL_CENTRES, 20, ["登记诉求", "入户核查", "审批发放"]
    )
    # The bundled calendar ends with 2026: 2027 counts Monday to Friday, so Friday 1 January is
    # the 19th working day after 7 December 2026 and Monday 4 January the 20th.
    matter = await receive(registry, CITY_CODE, twenty, "2026-12-07")
    assert (matter["deadline"], matter["deadline_provisional"]) == ("2027-01-04", True)
    # Anyone can read which working days a year counts by: 2027 has no arrangement yet.
    unknown = (await registry.get("/working-calendars/2027")).json()
    assert (unknown["source"], unknown["provisional"], unknown["holidays"]) == ("weekdays", True, [])
    bundled = (await registry.get("/working-calendars/2025")).json()
    assert bundled["source"] == "bundled" and "2025-10-11" in bundled["adjusted_workdays"]
    assert "2025-10-01" in bundled["holidays"]
    year = {
        "holidays": ["2027-01-01", "2027-02-08", "2027-02-09"],
        "adjusted_workdays": ["2027-02-20"],
        "reason": "国务院办公厅关于2027年部分节假日安排的通知",
    }
    refused = await registry.put(
        "/working-calendars/2027",
        json={**year, "adjusted_workdays": ["2027-02-20", "2027-02-22"]},
        headers={**CITY, **key()},
    )
    assert refused.status_code == 422, refused.text
    (error,) = refused.json()["errors"]
    assert error["field"] == "adjusted_workdays.1" and "周六或周日" in error["zh"] and error["en"]

    published = await registry.put("/working-calendars/2027", json=year, headers={**CITY, **key()})
    assert published.status_code == 201, published.text
    assert matter["matter_id"] in [r["matter_id"] for r in published.json()["revised"]]
    # 1 January is a holiday now: the 20th working day is Tuesday 5 January, and it is final.
    view = (await registry.get(f"/matters/{matter['matter_id']}", headers=CITY)).json()
    assert (view["deadline"], view["deadline_provisional"]) == ("2027-01-05", False)
    revision = view["path"][-1]
    assert (revision["type"], revision["label"], revision["actor"]) == (
        "MatterDeadlineRevised",
        "期限重算",
        CITY["X-Huigong-Principal"],
    )

    async def listed() -> dict[str, Any] | None:
        page = (await registry.get("/matters", params={"page_size": 500}, headers=CITY)).json()
        found = [m for m in page["items"] if m["matter_id"] == matter["matter_id"]]
        return found[0] if found and found[0]["deadline"] == "2027-01-05" else None

    row = await eventually(listed, "the revised deadline in the list of matters")
    assert row["deadline_provisional"] is False
    calendar = (await registry.get("/working-calendars/2027")).json()
    assert (calendar["source"], calendar["provisional"], calendar["publications"]) == ("published", False, 1)
    assert (
        calendar["holidays"] == year["holidays"]
        and calendar["adjusted_workdays"] == year["adjusted_workdays"]
    )
    assert (calendar["reason"], calendar["published_by"]) == (year["reason"], CITY["X-Huigong-Principal"])
    # Lateness counts by the published year too: as of 10 February 2027, 24 working days past
    # 5 January (8 and 9 February are holidays; Monday to Friday would make 26).
    late = (
        await registry.get(f"/matters/{matter['matter_id']}", params={"as_of": "2027-02-10"}, headers=CITY)
    ).json()
    assert (late["overdue"], late["working_days_late"]) == (True, 24)
    listing = await registry.get("/matters", params={"as_of": "2027-02-10", "overdue": "true", "area": CITY_CODE, "page_size": 500}, headers=CITY)  # fmt: skip
    [listed_late] = [m for m in listing.json()["items"] if m["matter_id"] == matter["matter_id"]]
    assert listed_late["working_days_late"] == 24

    # The centre's overdue figure counts by the revised deadline too: at the end of 5 January the
    # matter is not overdue (it was due on the 4th before), on the 6th it is.
    days = ("2027-01-04", "2027-01-05", "2027-01-06")

    async def counted_by_revision() -> dict[str, int] | None:
        overdue = {day: (await centre_figures(metrics, day))[CITY_CODE]["overdue"] for day in days}
        moved = overdue[days[1]] == overdue[days[0]] and overdue[days[2]] == overdue[days[1]] + 1
        return overdue if moved else None

    await eventually(counted_by_revision, "metrics' overdue by the revised deadline")


async def test_the_window_roster_names_who_answered_and_the_catalogue_lists_the_centres_phone(
    units: None, registry: httpx.AsyncClient
) -> None:
    laixi = str(CENTRE["370285"].id)
    roster = {
        "public_phone": "0532-88001234",
        "shifts": [{"staff": "王某某", "weekdays": [1, 3, 5]}, {"staff": "李某某", "weekdays": [2, 4]}],
        "effective_from": "2026-11-02",
        "reason": "2026年11月起综合服务窗口排班",
    }
    path = f"/service-centres/{laixi}/duty-roster"
    # Only 莱西市's own federation keeps its centre's roster.
    for who in (district("370283"), REGISTRAR):
        refused = await registry.put(path, json=roster, headers={**who, **key()})
        assert refused.status_code == 403, refused.text
        assert all(e["zh"] and e["en"] for e in refused.json()["errors"])
    # A mobile is no public phone, and there is no eighth weekday: each named by its field.
    bad = {**roster, "public_phone": "13912345678", "shifts": [{"staff": "王某某", "weekdays": [1, 8]}]}
    refused = await registry.put(path, json=bad, headers={**district("370285"), **key()})
    assert refused.status_code == 422, refused.text
    fields = {e["field"] for e in refused.json()["errors"]}
    assert "public_phone" in fields and any(f.startswith("shifts.0.weekdays") for f in fields), fields
    assert (await registry.get(path)).status_code == 404  # nothing was recorded
    done = await registry.put(path, json=roster, headers={**district("370285"), **key()})
    assert done.status_code == 200, done.text
    assert (done.json()["centre_name"], done.json()["public_phone"]) == (
        "莱西市职工服务中心",
        "0532-88001234",
    )

    # 首问: the answer and the matter name who was on duty at the window that day.
    item = await list_item(registry, "劳动合同咨询（莱西）", [laixi], 5)
    wednesday = await receive(registry, "370285", item, "2026-11-04")
    thursday = await receive(registry, "370285", item, "2026-11-05")
    before = await receive(registry, "370285", item, "2026-10-30")
    assert (wednesday["on_duty"], thursday["on_duty"], before["on_duty"]) == (["王某某"], ["李某某"], [])
    view = (await registry.get(f"/matters/{wednesday['matter_id']}", headers=CITY)).json()
    assert view["first_responder"]["name"] == "莱西市职工服务中心"
    assert view["first_responder"]["on_duty"] == ["王某某"]

    # A roster set later, even dated back, does not rename who answered; it is the roster from then.
    again = {
        **roster,
        "public_phone": "12351",
        "shifts": [{"staff": "赵某某", "weekdays": [1, 2, 3, 4, 5]}],
        "effective_from": "2026-11-01",
        "reason": "人员调整",
    }
    assert (await registry.put(path, json=again, headers={**district("370285"), **key()})).status_code == 200
    view = (await registry.get(f"/matters/{wednesday['matter_id']}", headers=CITY)).json()
    assert view["first_responder"]["on_duty"] == ["王某某"]
    listed = (await registry.get(path, params={"on": "2026-11-04"})).json()
    assert (listed["on_duty"], listed["public_phone"], len(listed["rosters"])) == (["赵某某"], "12351", 2)
    assert listed["rosters"][0]["set_by"] == "district:370285"

    # The public catalogue lists the centre's phone beside the item.
    async def phone_listed() -> dict[str, Any] | None:
        found = (await registry.get(f"/service-items/{item}")).json()
        return found if found.get("providers") else None

    listing = await eventually(phone_listed, "the item in the catalogue")
    assert [(p["name"], p["public_phone"]) for p in listing["providers"]] == [("莱西市职工服务中心", "12351")]


# --- overdue ----------------------------------------------------------------------------------------


async def test_an_overdue_matter_is_flagged_and_counted_and_one_closed_on_time_is_not(
    units: None, registry: httpx.AsyncClient, metrics: httpx.AsyncClient
) -> None:
    item_id = await list_item(registry, "职工医疗互助报销咨询", ALL_CENTRES, 5, ["登记", "答复"])
    # 李沧区 receives two on Monday 2 March 2026 (deadline Monday 9 March). One is closed on the 4th;
    # the other is transferred to 城阳区 and never closed.
    late = (await receive(registry, "370213", item_id, "2026-03-02"))["matter_id"]
    on_time = (await receive(registry, "370213", item_id, "2026-03-02"))["matter_id"]
    await act(registry, on_time, "steps", "370213", {"step": "登记", "done_on": "2026-03-02"})
    await act(registry, on_time, "steps", "370213", {"step": "答复", "done_on": "2026-03-04"})
    await act(registry, on_time, "closure", "370213", {"outcome": "resolved", "closed_on": "2026-03-04"})
    await act(
        registry, late, "transfers", "370213",
        {"to": str(CENTRE["370214"].id), "reason": "职工参保地在城阳区", "transferred_on": "2026-03-03"},
    )  # fmt: skip
    await act(registry, late, "acceptance", "370214", {"accepted_on": "2026-03-04"})

    async def overdue_list() -> list[dict[str, Any]] | None:
        page = (
            await registry.get("/matters", params={"overdue": "true", "area": "370213"}, headers=CITY)
        ).json()
        return (
            page["items"] if page["total"] >= 1 and page["items"][0]["handler"]["area"] == "370214" else None
        )

    items = await eventually(overdue_list, "the overdue matter in the 联动运营部's list")
    assert [m["matter_id"] for m in items] == [late]
    (flagged,) = items
    assert flagged["overdue"] is True and flagged["working_days_late"] > 100
    assert flagged["first_responder"]["name"] == "李沧区职工服务中心"
    assert flagged["handler"]["name"] == "城阳区职工服务中心"
    # As of 9 March (the deadline day) neither is overdue; as of the 10th the open one is.
    early = (
        await registry.get(
            "/matters", params={"overdue": "true", "area": "370213", "as_of": "2026-03-09"}, headers=CITY
        )
    ).json()
    assert early["total"] == 0
    view = (
        await registry.get(f"/matters/{late}", headers=district("370214"), params={"as_of": "2026-03-10"})
    ).json()
    assert view["overdue"] is True and view["working_days_late"] == 1
    assert (await registry.get(f"/matters/{on_time}", headers=district("370213"))).json()["overdue"] is False

    # Counted per centre of first response, as of any day.
    now = await figures_reach(metrics, "370213", {"received": 2, "closed_on_time": 1, "overdue": 1})
    assert now["closed_late"] == 0
    before = await figures_reach(metrics, "370213", {"received": 2, "overdue": 0}, as_of="2026-03-09")
    assert before["closed_on_time"] == 1
    await figures_reach(metrics, "370213", {"received": 0, "overdue": 0}, as_of="2026-03-01")
    await figures_reach(metrics, "370214", {"received": 0, "overdue": 0})


# --- ratings ----------------------------------------------------------------------------------------


async def closed_matter(registry: httpx.AsyncClient, area: str, item_id: str) -> str:
    matter_id = str((await receive(registry, area, item_id, "2026-06-01"))["matter_id"])
    await act(registry, matter_id, "closure", area, {"outcome": "withdrawn", "closed_on": "2026-06-02"})
    return matter_id


async def test_ratings_aggregate_per_centre_and_only_closed_known_matters_are_rated(
    units: None, registry: httpx.AsyncClient, metrics: httpx.AsyncClient, services: Services
) -> None:
    item_id = await list_item(registry, "职工婚恋交友活动报名", ALL_CENTRES, 10, ["报名登记", "活动安排"])
    chengyang = [await closed_matter(registry, "370214", item_id) for _ in range(2)]
    jimo = await closed_matter(registry, "370215", item_id)
    await act(
        registry,
        chengyang[0],
        "rating",
        "370214",
        {"score": 5, "comment": "活动组织得很好", "rated_on": "2026-06-03"},
    )
    await act(
        registry,
        chengyang[1],
        "rating",
        "370214",
        {"score": 2, "comment": "通知太晚", "rated_on": "2026-06-03"},
    )
    await act(registry, jimo, "rating", "370215", {"score": 4, "rated_on": "2026-06-03"})

    # Refused: a second rating, a rating of an unknown matter, of one not closed yet.
    again = await act(registry, jimo, "rating", "370215", {"score": 1}, status=409)
    assert again["errors"][0]["field"] == "matter_id"
    await act(registry, str(uuid.uuid4()), "rating", "370215", {"score": 5}, status=404)
    open_one = (await receive(registry, "370215", item_id, "2026-06-01"))["matter_id"]
    not_closed = await act(registry, open_one, "rating", "370215", {"score": 5}, status=409)
    assert "尚未办结" in not_closed["errors"][0]["zh"]
    bad = await act(registry, jimo, "rating", "370215", {"score": 6}, status=422)
    assert bad["errors"][0]["field"] == "score"

    chengyang_row = await figures_reach(metrics, "370214", {"rated": 2, "avg_satisfaction": 3.5})
    assert chengyang_row["received"] == 2
    await figures_reach(metrics, "370215", {"rated": 1, "avg_satisfaction": 4.0, "received": 2})
    # Before the ratings were given there was nothing to average.
    await figures_reach(metrics, "370214", {"rated": 0, "avg_satisfaction": None}, as_of="2026-06-02")

    # Prometheus: the same figures per centre, for a viewer's scrape.
    async def scraped() -> str | None:
        async with services[1].client() as client:
            text = (await client.get("/metrics", headers=VIEWER)).text
        return text if 'huigong_matters{area="370214",figure="avg_satisfaction"} 3.5' in text else None

    text = await eventually(scraped, "the satisfaction gauge of 城阳区")
    assert 'huigong_matters{area="370215",figure="rated"} 1.0' in text
    # The published figures name no one.
    assert NAME not in (await metrics.get("/api/matters")).text


# --- the dashboard ----------------------------------------------------------------------------------


async def test_the_dashboard_shows_each_centres_matters_as_of_a_date(services: Services) -> None:
    # Runs after the tests above: as of 3 June 2026 李沧区 has one matter overdue, 城阳区 two rated.
    async with chromium() as context:
        page = await context.new_page()
        await page.goto(f"{services[1].url}/?as_of=2026-06-03")
        rows = page.get_by_test_id("matters-row")
        await expect(rows).to_have_count(11, timeout=WAIT_MS)
        chengyang = page.locator('[data-testid="matters-row"][data-area="370214"]')
        await expect(chengyang.locator('[data-figure="avg_satisfaction"]')).to_have_text(
            "3.5", timeout=WAIT_MS
        )
        await expect(chengyang.locator("td").first).to_have_text("城阳区职工服务中心")
        licang = page.locator('[data-testid="matters-row"][data-area="370213"] [data-figure="overdue"]')
        await expect(licang).to_have_text("1")
        await expect(licang).to_have_class("overdue")
        await expect(page.get_by_test_id("matters-scope")).to_contain_text("截至 2026-06-03")
        await page.screenshot(path=str(artefacts_dir() / "dashboard-matters.png"), full_page=True)
        # A district's view has its own centre only.
        await page.goto(f"{services[1].url}/?as_of=2026-06-03&area=370215")
        await expect(rows).to_have_count(1, timeout=WAIT_MS)
        await expect(rows.locator('[data-figure="rated"]')).to_have_text("1")


async def test_a_replay_rebuilds_the_same_catalogue_and_matters(services: Services, stack: Stack) -> None:
    # From offset 0 into a shadow schema with the runner's own Applier: the same rows as live.
    conn = await asyncpg.connect(stack.admin_dsn)
    try:

        async def caught_up() -> bool:
            behind = await conn.fetchval(
                """SELECT count(*) FROM registry.events e
                   WHERE e.aggregate_type IN ('matter', 'service-item')
                     AND e.aggregate_version > coalesce((
                         SELECT a.aggregate_version FROM registry.applied_versions a
                         WHERE a.consumer = 'registry.matters' AND a.aggregate_type = e.aggregate_type
                           AND a.aggregate_id = e.aggregate_id), 0)"""
            )
            return bool(behind == 0)

        await eventually(caught_up, "registry.matters has applied every recorded event")
        matters_live = await conn.fetchval("SELECT count(*) FROM registry.matters_view")
    finally:
        await conn.close()
    assert matters_live >= 10
    report = await replay(
        stack.admin_dsn, stack.bootstrap, stack.topic_prefix, "registry", consumers=["registry.matters"]
    )
    (consumer,) = report.consumers
    assert {t.table for t in consumer.tables} == {"service_items_view", "matters_view"}
    assert consumer.equal, consumer.to_json()
