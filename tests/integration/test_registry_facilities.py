"""Facilities and the 服务项目库 end to end, with real intake and registry processes on the real
broker and database: a facility reported to intake is open in the registry with its district and
date, a registrar closes it (once), a proposed service project is listed, and facilities are
counted per kind and per area. Each test uses a year of opening of its own, so the shared topics
never mix their counts."""

from __future__ import annotations

import io
import random
import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime
from typing import Any

import httpx
import openpyxl
import pytest

from huigong_events.reference import FacilityKind
from huigong_registry.domain.facilities import facility_id_of_report, project_id_of_proposal

from ..conftest import Stack
from .processes import TEST_PORTS, ServiceProcess, artefacts_dir
from .test_review import enterprise_code, eventually, key, today

REGISTRAR = {"X-Huigong-Principal": "registrar:city01"}
DISTRICT = "370203"
REPORTER = {"X-Huigong-Principal": f"district:{DISTRICT}"}
Services = tuple[ServiceProcess, ServiceProcess]
_years = random.sample(range(2000, 2020), 4)


@pytest.fixture(scope="module")
async def services(stack: Stack) -> AsyncIterator[Services]:
    logs = artefacts_dir()
    procs = tuple(
        ServiceProcess(name, TEST_PORTS[name] + 600, logs / f"facilities-test-{name}.log")
        for name in ("intake", "registry")
    )
    try:
        for proc in procs:
            proc.start(stack)
        for proc in procs:
            await proc.wait_status(200)
        yield procs  # type: ignore[misc]
    finally:
        for proc in reversed(procs):
            proc.kill()


@pytest.fixture
async def intake(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with services[0].client() as client:
        yield client


@pytest.fixture
async def registry(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with services[1].client() as client:
        yield client


async def report_facility(
    intake: httpx.AsyncClient, kind: FacilityKind, opened_on: date, area: str = DISTRICT
) -> uuid.UUID:
    body = {
        "facility_kind": kind.value,
        "name": f"测试设施{uuid.uuid4().hex[:6]}",
        "area": area,
        "host_unit": "青岛某某有限公司",
        "host_credit_code": enterprise_code(),
        "opened_on": opened_on.isoformat(),
    }
    headers = {"X-Huigong-Principal": f"district:{area}", **key()}
    response = await intake.post("/facilities", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return uuid.UUID(response.json()["id"])


async def listed(registry: httpx.AsyncClient, facility_id: uuid.UUID) -> dict[str, Any] | None:
    response = await registry.get(f"/facilities/{facility_id}", headers=REGISTRAR)
    return response.json() if response.status_code == 200 else None


async def test_a_reported_facility_is_open_and_a_registrar_closes_it_once(
    intake: httpx.AsyncClient, registry: httpx.AsyncClient
) -> None:
    opened_on = date(_years[0], 4, 28)
    report_id = await report_facility(intake, FacilityKind.青岛惠工家, opened_on)
    facility_id = facility_id_of_report(report_id)

    facility = await eventually(lambda: listed(registry, facility_id), "facility opened in the registry")
    assert facility["status"] == "open"
    assert facility["kind"] == FacilityKind.青岛惠工家.value
    assert facility["area"] == DISTRICT
    assert facility["opened_on"] == opened_on.isoformat()
    assert facility["report_id"] == str(report_id)

    page = (
        await registry.get(
            "/facilities", params={"area": DISTRICT, "year": opened_on.year}, headers=REGISTRAR
        )
    ).json()
    assert [item["facility_id"] for item in page["items"]] == [str(facility_id)]
    assert page["total"] == 1

    closure = {"closed_on": date(_years[0], 12, 31).isoformat(), "reason": "场地收回"}
    path = f"/facilities/{facility_id}/closure"
    # Only registrars close facilities.
    refused = await registry.post(path, json=closure, headers={**REPORTER, **key()})
    assert refused.status_code == 403, refused.text
    response = await registry.post(path, json=closure, headers={**REGISTRAR, **key()})
    assert response.status_code == 201, response.text

    async def closed() -> dict[str, Any] | None:
        found = await listed(registry, facility_id)
        return found if found and found["status"] == "closed" else None

    facility = await eventually(closed, "facility closed")
    assert facility["closed_on"] == closure["closed_on"]
    assert facility["close_reason"] == "场地收回"

    # The list exports with its filters, in Chinese: a workbook with the closed facility.
    params: dict[str, str | int] = {"area": DISTRICT, "year": opened_on.year, "format": "xlsx"}
    exported = await registry.get("/facilities", params=params, headers=REGISTRAR)
    assert exported.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(exported.content)).active
    assert sheet is not None
    lines = list(sheet.iter_rows(values_only=True))
    assert lines[0] == (
        "设施名称",
        "类型",
        "所属区市或单位",
        "依托单位",
        "统一社会信用代码",
        "建成日期",
        "状态",
        "关闭日期",
        "关闭原因",
    )
    [row] = lines[1:]
    assert row[1:3] == ("“青岛·惠工家”", "市北区") and row[6:] == (
        "已关闭",
        datetime(_years[0], 12, 31),
        "场地收回",
    )

    again = await registry.post(path, json=closure, headers={**REGISTRAR, **key()})
    assert again.status_code == 409, again.text
    unknown = await registry.post(
        f"/facilities/{uuid.uuid4()}/closure", json=closure, headers={**REGISTRAR, **key()}
    )
    assert unknown.status_code == 404, unknown.text

    open_only = (
        await registry.get(
            "/facilities", params={"year": opened_on.year, "status": "open"}, headers=REGISTRAR
        )
    ).json()
    assert open_only["total"] == 0


async def test_a_proposed_service_project_is_listed(
    intake: httpx.AsyncClient, registry: httpx.AsyncClient
) -> None:
    name = f"职工心理疏导公益课堂{uuid.uuid4().hex[:6]}"
    body = {
        "name": name,
        "field": "counselling",
        "provider": "青岛某某心理咨询中心",
        "provider_credit_code": enterprise_code(),
        "area": DISTRICT,
        "description": "每月一次面向职工的心理疏导公益课堂",
    }
    response = await intake.post("/service-projects", json=body, headers={**REPORTER, **key()})
    assert response.status_code == 201, response.text
    project_id = str(project_id_of_proposal(uuid.UUID(response.json()["id"])))

    async def in_library() -> dict[str, Any] | None:
        page = (
            await registry.get(
                "/service-projects", params={"field": "counselling", "area": DISTRICT}, headers=REGISTRAR
            )
        ).json()
        return next((item for item in page["items"] if item["project_id"] == project_id), None)

    project = await eventually(in_library, "project listed")
    assert project["name"] == name
    assert project["listed_on"] == today().isoformat()
    counts = (await registry.get("/service-projects/counts", params={"group_by": "field"})).json()
    assert counts["counts"]["counselling"] >= 1


async def test_facilities_are_counted_per_kind_and_area(
    intake: httpx.AsyncClient, registry: httpx.AsyncClient
) -> None:
    year = _years[1]
    reported = [
        (FacilityKind.智慧健康驿站_中心, "370203"),
        (FacilityKind.智慧健康驿站_企业, "370203"),
        (FacilityKind.智慧健康驿站_企业, "370202"),
        (FacilityKind.区域共享职工之家, "370202"),
    ]
    ids = [await report_facility(intake, kind, date(year, 3, 1), area) for kind, area in reported]

    async def all_open() -> bool:
        page = (await registry.get("/facilities", params={"year": year}, headers=REGISTRAR)).json()
        return bool(page["total"] == len(ids))

    await eventually(all_open, "all facilities opened")
    by_kind = (await registry.get("/facilities/counts", params={"group_by": "kind", "year": year})).json()
    assert by_kind["counts"] == {
        FacilityKind.区域共享职工之家.value: 1,
        FacilityKind.智慧健康驿站_中心.value: 1,
        FacilityKind.智慧健康驿站_企业.value: 2,
    }
    assert by_kind["total"] == 4
    by_area = (await registry.get("/facilities/counts", params={"group_by": "area", "year": year})).json()
    assert by_area["counts"] == {"370202": 2, "370203": 2}
    kind_in_area = (
        await registry.get("/facilities/counts", params={"group_by": "kind", "year": year, "area": "370203"})
    ).json()
    assert kind_in_area["counts"] == {
        FacilityKind.智慧健康驿站_中心.value: 1,
        FacilityKind.智慧健康驿站_企业.value: 1,
    }
    paged = (
        await registry.get("/facilities", params={"year": year, "page": 2, "page_size": 3}, headers=REGISTRAR)
    ).json()
    assert (paged["total"], len(paged["items"])) == (4, 1)


async def test_a_gig_worker_station_names_its_host_and_services_and_is_counted_by_district(
    intake: httpx.AsyncClient, registry: httpx.AsyncClient
) -> None:
    year = _years[3]
    body: dict[str, Any] = {
        "facility_kind": FacilityKind.新就业形态劳动者服务站点.value,
        "name": "某某商圈新就业形态劳动者服务站点",
        "area": DISTRICT,
        "host_unit": "某某商业广场",
        "opened_on": date(year, 6, 18).isoformat(),
        "station_services": ["歇脚饮水", "手机充电"],
    }
    # Without its host the station is refused, field by field, in both languages.
    refused = await intake.post("/facilities", json=body, headers={**REPORTER, **key()})
    assert refused.status_code == 422, refused.text
    assert all(e["zh"] and e["en"] for e in refused.json()["errors"])
    assert "station_host" in refused.text
    # A 职工之家 has no host or services of that kind.
    home = {**body, "facility_kind": FacilityKind.青岛惠工家.value, "station_host": "building"}
    wrong = await intake.post("/facilities", json=home, headers={**REPORTER, **key()})
    assert wrong.status_code == 422, wrong.text

    response = await intake.post(
        "/facilities", json={**body, "station_host": "business_district"}, headers={**REPORTER, **key()}
    )
    assert response.status_code == 201, response.text
    facility_id = facility_id_of_report(uuid.UUID(response.json()["id"]))
    facility = await eventually(lambda: listed(registry, facility_id), "station opened in the registry")
    assert facility["kind"] == FacilityKind.新就业形态劳动者服务站点.value
    assert facility["area"] == DISTRICT
    assert facility["station_host"] == "business_district"
    assert facility["station_host_label"] == "商圈"
    assert facility["station_services"] == ["歇脚饮水", "手机充电"]

    by_area = (
        await registry.get(
            "/facilities/counts",
            params={"group_by": "area", "year": year, "kind": FacilityKind.新就业形态劳动者服务站点.value},
        )
    ).json()
    assert by_area["counts"] == {DISTRICT: 1}
