"""The registry's API and command path in this process, on the in-memory store: registrars
register units and partners, assess and certify (a certification too early is refused naming the
earliest date), close facilities that districts reported through intake's real API, and the
service centres run 联动服务 matters. Refusals name their field in Chinese and English. Neither
PostgreSQL nor Kafka."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest

from huigong_events.forms import PartnerCategory
from huigong_events.reference import (
    HAPPY_ENTERPRISE_CRITERIA,
    TITLES,
    FacilityKind,
    Programme,
)
from huigong_events.upcasting import decode
from huigong_intake.app import create_app as create_intake
from huigong_intake.handlers import Intake
from huigong_intake.policy import POLICY as INTAKE_POLICY
from huigong_intake.settings import IntakeSettings
from huigong_platform.application import CommandPath
from huigong_platform.settings import Settings
from huigong_platform.unit_of_work import MemoryState, UnitsOfWork, in_memory_units
from huigong_registry import seed
from huigong_registry.app import create_app as create_registry
from huigong_registry.domain import matters
from huigong_registry.domain.cohort import PILOT_DATE, SERVICE_BASES, SERVICE_CENTRES
from huigong_registry.domain.dates import BEIJING, add_years
from huigong_registry.domain.facilities import facility_id_of_report
from huigong_registry.handlers import Registry
from huigong_registry.policy import POLICY as REGISTRY_POLICY

from ...inprocess import as_, in_process
from ..intake.memory import MemoryIntakeTables
from .memory import MemoryRegistryTables

REGISTRAR = as_("registrar:city01")
SEEDER = as_(seed.PRINCIPAL)  # the 2022 cohort is registered by huigong-seed only
DISTRICT = as_("district:370202")
SECRET = "00" * 32
NOWHERE = "postgresql://nobody@127.0.0.1:1/none"
CENTRE = {entry.area: entry for entry in SERVICE_CENTRES}
SHIDAI_BASE = next(b for b in SERVICE_BASES if b.name == "青岛市市北区时代国际广场")  # 市北区
NAME, PHONE = "王秀英", "13912345678"


def key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


def today() -> date:
    return datetime.now(BEIJING).date()


def results(unmet: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    return [
        {"criterion": c, "met": c not in unmet, "evidence": "现场核查记录及台账"}
        for c in HAPPY_ENTERPRISE_CRITERIA
    ]


@dataclass
class World:
    intake: httpx.AsyncClient
    registry: httpx.AsyncClient
    state: MemoryState
    units: UnitsOfWork
    tables: MemoryRegistryTables

    def events(self, aggregate: str, aggregate_id: object) -> list[str]:
        return [e.type for e in self.state.streams.get((aggregate, str(aggregate_id)), [])]

    async def applied_unit(self, period_start: date, registered_on: date) -> str:
        """A 幸福企业 built from an approved application, as the review decision registers it."""
        body = {
            "name": "青岛某某有限公司",
            "programme": Programme.幸福企业.value,
            "area": "370202",
            "origin": "application",
            "application_id": str(uuid.uuid4()),
            "registered_on": registered_on.isoformat(),
            "period_start": period_start.isoformat(),
        }
        response = await self.registry.post("/units", json=body, headers={**REGISTRAR, **key()})
        assert response.status_code == 201, response.text
        unit_id: str = response.json()["id"]
        return unit_id

    async def cohort(self) -> None:
        """The 11 centres and the 7 bases as huigong-seed registers them."""
        for entry, origin in [
            *((c, "service_centre") for c in SERVICE_CENTRES),
            *((b, "pilot_2022") for b in SERVICE_BASES),
        ]:
            body = {
                "unit_id": str(entry.id),
                "name": entry.name,
                "programme": entry.programme.value,
                "area": entry.area,
                "origin": origin,
                "registered_on": PILOT_DATE,
            }
            response = await self.registry.post("/units", json=body, headers={**SEEDER, **key()})
            assert response.status_code == 201, response.text


@pytest.fixture
async def world() -> AsyncIterator[World]:
    state = MemoryState()
    units = in_memory_units(state)
    tables = MemoryRegistryTables()
    intake = Intake(MemoryIntakeTables().records, bytes.fromhex(SECRET))
    intake_settings = IntakeSettings(
        service="intake", database_url=NOWHERE, member_key_secret=SECRET, personal_data_kek=SECRET
    )
    intake_path = CommandPath(INTAKE_POLICY, intake.handlers(), units)
    registry_path = CommandPath(REGISTRY_POLICY, Registry(tables.records).handlers(), units)
    async with (
        in_process(create_intake(intake_settings), intake_path) as intake_client,
        in_process(
            create_registry(Settings(service="registry", database_url=NOWHERE)), registry_path
        ) as client,
    ):
        yield World(intake_client, client, state, units, tables)


async def test_a_registration_is_refused_to_districts_and_retried_without_an_id_is_the_first_id(
    world: World,
) -> None:
    body = {
        "name": "青岛某某有限公司",
        "programme": "happy_enterprise",
        "area": "370202",
        "origin": "application",
        "application_id": str(uuid.uuid4()),
        "registered_on": PILOT_DATE,
        "period_start": PILOT_DATE,
    }
    refused = await world.registry.post("/units", json=body, headers={**DISTRICT, **key()})
    assert refused.status_code == 403 and refused.json()["errors"][0]["zh"]
    assert (await world.registry.post("/units", json=body, headers=key())).status_code == 401
    retry = {**REGISTRAR, **key()}
    first = await world.registry.post("/units", json=body, headers=retry)
    again = await world.registry.post("/units", json=body, headers=retry)
    assert first.status_code == again.status_code == 201, first.text
    assert again.json()["id"] == first.json()["id"] and again.headers["Idempotent-Replayed"] == "true"
    twice = await world.registry.post(
        "/units", json={**body, "unit_id": first.json()["id"]}, headers={**REGISTRAR, **key()}
    )
    assert twice.status_code == 409, twice.text
    bad = await world.registry.post(
        "/units", json={**body, "area": "999999", "origin": "application"}, headers={**REGISTRAR, **key()}
    )
    assert bad.status_code == 422
    assert "area" in {e["field"] for e in bad.json()["errors"]}
    assert all(e["zh"] and e["en"] for e in bad.json()["errors"])
    assert world.events("unit", first.json()["id"]) == ["UnitRegistered"]


async def test_a_unit_is_assessed_and_certified_once_with_a_numbered_title(world: World) -> None:
    approved = today() - timedelta(days=400)  # more than the year of building ago
    unit_id = await world.applied_unit(approved, approved)
    base = f"/units/{unit_id}"
    by_district = await world.registry.post(
        f"{base}/assessment", json={"results": results()}, headers={**DISTRICT, **key()}
    )
    assert by_district.status_code == 403
    unmet = HAPPY_ENTERPRISE_CRITERIA[2]
    assessed = await world.registry.post(
        f"{base}/assessment", json={"results": results((unmet,))}, headers={**REGISTRAR, **key()}
    )
    assert assessed.status_code == 201, assessed.text
    missing = await world.registry.post(f"{base}/certification", json={}, headers={**REGISTRAR, **key()})
    assert missing.status_code == 422 and [e["field"] for e in missing.json()["errors"]] == [
        f"criteria.{unmet}"
    ]
    fixed = [{"criterion": unmet, "met": True, "evidence": "已整改，补充福利制度文件"}]
    assert (
        await world.registry.post(
            f"{base}/assessment", json={"results": fixed}, headers={**REGISTRAR, **key()}
        )
    ).status_code == 201
    certify_key = key()
    certified = await world.registry.post(
        f"{base}/certification", json={}, headers={**REGISTRAR, **certify_key}
    )
    assert certified.status_code == 201, certified.text
    assert certified.json()["title"] == TITLES[Programme.幸福企业]
    assert certified.json()["certificate_no"] == f"QDGH-{today().year}-FQ-0001"
    replay = await world.registry.post(f"{base}/certification", json={}, headers={**REGISTRAR, **certify_key})
    assert replay.json()["certificate_no"] == certified.json()["certificate_no"]
    again = await world.registry.post(f"{base}/certification", json={}, headers={**REGISTRAR, **key()})
    assert again.status_code == 409, again.text
    unknown = await world.registry.post(
        f"/units/{uuid.uuid4()}/certification", json={}, headers={**REGISTRAR, **key()}
    )
    assert unknown.status_code == 404
    assert world.events("unit", unit_id) == [
        "UnitRegistered",
        "UnitAssessed",
        "UnitAssessed",
        "UnitCertified",
    ]


async def test_no_certification_before_the_period_and_a_year_of_building_naming_the_earliest_date(
    world: World,
) -> None:
    # Approved today for a period that starts in a month.
    start = today() + timedelta(days=30)
    unit_id = await world.applied_unit(start, today())
    base = f"/units/{unit_id}"
    early = {"results": results(), "assessed_on": (today() - timedelta(days=1)).isoformat()}
    refused = await world.registry.post(f"{base}/assessment", json=early, headers={**REGISTRAR, **key()})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "assessed_on"
    assert (
        await world.registry.post(
            f"{base}/assessment", json={"results": results()}, headers={**REGISTRAR, **key()}
        )
    ).status_code == 201
    response = await world.registry.post(f"{base}/certification", json={}, headers={**REGISTRAR, **key()})
    assert response.status_code == 409, response.text
    (error,) = response.json()["errors"]
    earliest = add_years(start, 1).isoformat()
    assert error["field"] == "certified_on" and earliest in error["zh"] and earliest in error["en"]
    assert world.tables.certificates == {}  # no number is spent on a refusal


async def test_a_facility_a_district_reported_is_opened_and_a_registrar_closes_it_once(world: World) -> None:
    report = {
        "facility_kind": FacilityKind.青岛惠工家.value,
        "name": "测试设施一号",
        "area": "370202",
        "host_unit": "青岛某某有限公司",
        "host_credit_code": "91370202MA3C5XKX0Y",
        "opened_on": (today() - timedelta(days=10)).isoformat(),
    }
    reported = await world.intake.post("/facilities", json=report, headers={**DISTRICT, **key()})
    assert reported.status_code == 201, reported.text
    await world.tables.deliver(world.state, world.units)
    await world.tables.deliver(world.state, world.units)  # a redelivery opens nothing twice
    facility_id = facility_id_of_report(uuid.UUID(reported.json()["id"]))
    assert world.events("facility", facility_id) == ["FacilityOpened"]

    closure = {"closed_on": today().isoformat(), "reason": "场地收回"}
    path = f"/facilities/{facility_id}/closure"
    assert (await world.registry.post(path, json=closure, headers={**DISTRICT, **key()})).status_code == 403
    closed = await world.registry.post(path, json=closure, headers={**REGISTRAR, **key()})
    assert closed.status_code == 201, closed.text
    again = await world.registry.post(path, json=closure, headers={**REGISTRAR, **key()})
    assert again.status_code == 409 and again.json()["errors"][0]["zh"]
    unknown = await world.registry.post(
        f"/facilities/{uuid.uuid4()}/closure", json=closure, headers={**REGISTRAR, **key()}
    )
    assert unknown.status_code == 404
    assert world.events("facility", facility_id) == ["FacilityOpened", "FacilityClosed"]


async def test_a_partner_exits_once_and_not_before_it_was_registered(world: World) -> None:
    body = {
        "name": "青岛某某社会工作服务中心",
        "category": PartnerCategory.公益慈善.value,
        "area": "370202",
        "registered_on": "2023-03-01",
        "origin": "application",
        "application_id": str(uuid.uuid4()),
    }
    registered = await world.registry.post("/partners", json=body, headers={**REGISTRAR, **key()})
    assert registered.status_code == 201, registered.text
    path = f"/partners/{registered.json()['id']}/exit"
    early = await world.registry.post(
        path, json={"reason": "机构调整", "exited_on": "2023-02-01"}, headers={**REGISTRAR, **key()}
    )
    assert early.status_code == 422, early.text
    (error,) = early.json()["errors"]
    assert error["field"] == "exited_on" and "登记日期" in error["zh"] and "registered_on" in error["en"]
    exited = await world.registry.post(path, json={"reason": "机构调整"}, headers={**REGISTRAR, **key()})
    assert exited.status_code == 201 and exited.json()["exited_on"] == today().isoformat()
    again = await world.registry.post(path, json={"reason": "机构调整"}, headers={**REGISTRAR, **key()})
    assert again.status_code == 409


async def test_a_matter_is_received_transferred_to_a_provider_handled_and_rated(world: World) -> None:
    await world.cohort()
    item = {
        "name": "劳动争议法律咨询",
        "category": "legal_aid",
        "providers": [str(CENTRE["370203"].id), str(SHIDAI_BASE.id)],
        "time_limit_days": 5,
        "steps": ["登记诉求", "律师咨询", "出具意见"],
        "commitment": "5个工作日内办结",
        "listed_on": "2025-01-02",
    }
    listed = await world.registry.post("/service-items", json=item, headers={**REGISTRAR, **key()})
    assert listed.status_code == 201, listed.text
    unknown_provider = {**item, "providers": [str(uuid.uuid4())]}
    refused = await world.registry.post(
        "/service-items", json=unknown_provider, headers={**REGISTRAR, **key()}
    )
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"].startswith("providers")

    body = {
        "item_id": listed.json()["item_id"],
        "channel": "phone",
        "requester": {"name": NAME, "phone": PHONE},
        "request": "公司拖欠三个月工资，想咨询如何申请劳动仲裁",
        "received_on": "2026-03-02",
    }
    received = await world.registry.post("/matters", json=body, headers={**DISTRICT, **key()})
    assert received.status_code == 201, received.text
    matter = received.json()
    assert matter["matter_no"] == "FW-2026-370202-00001" and matter["deadline"] == "2026-03-09"
    assert "requester_sealed" not in matter
    # The worker's name and phone are sealed: no event carries them in clear.
    assert not any(NAME in e.model_dump_json() or PHONE in e.model_dump_json() for e in world.state.events)
    base = f"/matters/{matter['matter_id']}"

    async def act(what: str, who: str, payload: dict[str, Any]) -> httpx.Response:
        return await world.registry.post(
            f"{base}/{what}", json=payload, headers={**as_(f"district:{who}"), **key()}
        )

    not_provider = await act(
        "transfers",
        "370202",
        {"to": str(CENTRE["370212"].id), "reason": "转崂山区办理", "transferred_on": "2026-03-02"},
    )
    assert not_provider.status_code == 422
    (error,) = not_provider.json()["errors"]
    assert error["field"] == "to" and "不提供服务事项“劳动争议法律咨询”" in error["zh"]
    to_provider = {
        "to": str(CENTRE["370203"].id),
        "reason": "本中心不提供该服务",
        "transferred_on": "2026-03-02",
    }
    assert (await act("transfers", "370202", to_provider)).status_code == 201
    assert (await act("acceptance", "370202", {"accepted_on": "2026-03-03"})).status_code == 403
    assert (await act("acceptance", "370203", {"accepted_on": "2026-03-03"})).status_code == 201
    for step, day in (("登记诉求", "2026-03-03"), ("律师咨询", "2026-03-04"), ("出具意见", "2026-03-05")):
        assert (await act("steps", "370203", {"step": step, "done_on": day})).status_code == 201
    closed = await act(
        "closure", "370203", {"outcome": "resolved", "note": "已出具书面意见", "closed_on": "2026-03-05"}
    )
    assert closed.status_code == 201 and closed.json()["on_time"] is True
    bad_rating = await act("rating", "370203", {"score": 6, "rated_on": "2026-03-06"})
    assert bad_rating.status_code == 422 and bad_rating.json()["errors"][0]["field"] == "score"
    rated = await act("rating", "370203", {"score": 5, "rated_on": "2026-03-06"})
    assert rated.status_code == 201, rated.text
    erased = await world.registry.post(
        f"{base}/erasure", json={"request_ref": "本人申请删除（2026-03-10）"}, headers={**DISTRICT, **key()}
    )
    assert erased.status_code == 201, erased.text
    assert world.tables.requesters == {}  # the matter's key is gone with the event that says so


async def test_a_published_working_calendar_moves_provisional_deadlines_and_a_published_year_wins(
    world: World,
) -> None:
    city = as_("city:liandong01")
    await world.cohort()
    item = {
        "name": "困难职工帮扶申请",
        "category": "hardship_relief",
        "providers": [str(CENTRE["370202"].id)],
        "time_limit_days": 20,
        "steps": ["登记诉求", "入户核查", "审批发放"],
        "commitment": "20个工作日内办结",
        "listed_on": "2025-01-02",
    }
    listed = await world.registry.post("/service-items", json=item, headers={**REGISTRAR, **key()})
    assert listed.status_code == 201, listed.text
    body = {
        "item_id": listed.json()["item_id"],
        "channel": "walk_in",
        "requester": {"name": NAME, "phone": PHONE},
        "request": "家中有重病患者，申请困难帮扶",
        "received_on": "2026-12-07",
    }
    received = await world.registry.post("/matters", json=body, headers={**DISTRICT, **key()})
    assert received.status_code == 201, received.text
    matter_id = received.json()["matter_id"]
    # 2027 is not in the bundled calendar: counted Monday to Friday, so 1 January 2027 (a Friday)
    # is the 19th working day and Monday 4 January the 20th.
    assert received.json()["deadline"] == "2027-01-04"
    assert received.json()["deadline_provisional"] is True

    def shown() -> dict[str, Any]:
        """The matter as its stream folds (what GET /matters/{id} answers; it reads PostgreSQL)."""
        state = matters.fold(decode(r) for r in world.state.streams[("matter", matter_id)])
        assert state is not None
        return {"deadline": state.deadline.isoformat(), "deadline_provisional": state.provisional}

    year_2027 = {
        "holidays": ["2027-01-01", "2027-02-08", "2027-02-09"],
        "adjusted_workdays": ["2027-02-20"],
        "reason": "国务院办公厅关于2027年部分节假日安排的通知",
    }
    # Only the city publishes; a district is refused and nothing moves.
    refused = await world.registry.put(
        "/working-calendars/2027", json=year_2027, headers={**DISTRICT, **key()}
    )
    assert refused.status_code == 403
    # Days outside the year, and a weekday given as an adjusted working day, are named one by one.
    wrong = {**year_2027, "holidays": ["2027-01-01", "2026-10-01"], "adjusted_workdays": ["2027-02-22"]}
    bad = await world.registry.put("/working-calendars/2027", json=wrong, headers={**city, **key()})
    assert bad.status_code == 422, bad.text
    errors = {e["field"]: e for e in bad.json()["errors"]}
    assert set(errors) == {"holidays.1", "adjusted_workdays.0"}
    assert "不在 2027 年度" in errors["holidays.1"]["zh"] and "not in 2027" in errors["holidays.1"]["en"]
    assert "周六或周日" in errors["adjusted_workdays.0"]["zh"]
    not_a_date = await world.registry.put(
        "/working-calendars/2027", json={**year_2027, "holidays": ["2027-02-30"]}, headers={**city, **key()}
    )
    assert not_a_date.status_code == 422 and not_a_date.json()["errors"][0]["field"] == "holidays.0"
    assert shown()["deadline"] == "2027-01-04"
    assert "WorkingCalendarPublished" not in [e.type for e in world.state.events]

    published = await world.registry.put("/working-calendars/2027", json=year_2027, headers={**city, **key()})
    assert published.status_code == 201, published.text
    assert [r["matter_id"] for r in published.json()["revised"]] == [matter_id]
    # 1 January is a holiday now: the 20th working day is Tuesday 5 January, no longer provisional.
    assert shown() == {"deadline": "2027-01-05", "deadline_provisional": False}
    revision = world.state.streams[("matter", matter_id)][-1]
    assert (revision.type, revision.actor) == ("MatterDeadlineRevised", "city:liandong01")
    calendar = world.state.streams[("working-calendar", "2027")]
    assert calendar[-1].actor == "city:liandong01"
    assert calendar[-1].data["reason"] == year_2027["reason"]

    # A year the bundled calendar covers may be published too, and then wins: 31 December 2026
    # given off moves the deadline a day further.
    year_2026 = {"holidays": ["2026-12-31"], "adjusted_workdays": [], "reason": "本市补充安排（演示）"}
    covered = await world.registry.put("/working-calendars/2026", json=year_2026, headers={**city, **key()})
    assert covered.status_code == 201, covered.text
    assert shown()["deadline"] == "2027-01-06"
    # A matter received after the publication counts by it from the start.
    again = await world.registry.post("/matters", json=body, headers={**DISTRICT, **key()})
    assert (again.json()["deadline"], again.json()["deadline_provisional"]) == ("2027-01-06", False)
