"""Registry input that can be trusted, end to end with real intake, registry and metrics processes
on the real broker and database: what a fuzzing registrar got accepted is refused, and afterwards
the 2022 cohort is still 18/7/5 and the cumulative 服务职工基地 figure is still the documented
rule's; a reported facility is found at the registry by the id intake answered and counted alike
by the registry and metrics; a unit is read by its certificate number with its assessments.

This module runs in a database and topic prefix of its own: its figures are absolute."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Any, Final

import asyncpg
import httpx
import pytest

from huigong_events.plausible import beijing_today
from huigong_events.reference import HAPPY_ENTERPRISE_CRITERIA, FacilityKind
from huigong_platform.database import create_pool
from huigong_registry import seed
from huigong_registry.domain.certification import unit_id_of_application
from huigong_registry.domain.cohort import HAPPY_ENTERPRISES, PARTNERS, SERVICE_BASES, SERVICE_CENTRES

from ..conftest import Stack, isolated_stack
from ..forms import complex_form, with_fresh_undertaking_unit
from .processes import ServiceProcess, running
from .test_review import (
    SUBMITTER,
    YEAR,
    chair,
    eventually,
    key,
    reviewer,
    scores,
    screened,
    selected_with_plans,
    submit,
    today,
    types,
)

REGISTRAR: Final = {"X-Huigong-Principal": "registrar:city01"}
SEEDER: Final = {"X-Huigong-Principal": seed.PRINCIPAL}
VIEWER: Final = {"X-Huigong-Principal": "viewer:input-test"}
Services = tuple[ServiceProcess, ...]


@pytest.fixture(scope="module")
async def own_stack(stack_env: dict[str, str]) -> AsyncIterator[Stack]:
    async with isolated_stack(stack_env) as s:
        yield s


@pytest.fixture(scope="module")
async def services(own_stack: Stack) -> AsyncIterator[Services]:
    names = ("intake", "review", "registry", "metrics")
    async with running(own_stack, names, 2300, "registry-input") as procs:
        registry = next(p for p in procs if p.service == "registry")
        auth = {"Authorization": f"Bearer {await own_stack.keys.key_for(seed.PRINCIPAL)}"}
        await asyncio.to_thread(seed.load, registry.url, auth)
        yield procs


@pytest.fixture
async def review_db(own_stack: Stack) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(own_stack.dsn("review"), "review")
    yield pool
    await pool.close()


async def actual(metrics: httpx.AsyncClient, code: str, **params: str) -> float:
    response = await metrics.get("/api/progress", params=params)
    assert response.status_code == 200, response.text
    found: float = next(m for m in response.json()["metrics"] if m["metric"] == code)["actual"]
    return found


async def cohort(registry: httpx.AsyncClient) -> tuple[int, int, int]:
    units = await registry.get("/units", params={"origin": "pilot_2022", "page_size": 500}, headers=VIEWER)
    partners = await registry.get("/partners", params={"origin": "pilot_2022"}, headers=VIEWER)
    items = units.json()["items"]
    return (
        sum(i["programme"] == "happy_enterprise" for i in items),
        sum(i["programme"] == "service_base" for i in items),
        partners.json()["total"],
    )


FUZZED: Final[list[tuple[str, dict[str, str], dict[str, Any]]]] = [
    (
        "/units",
        REGISTRAR,
        {"name": "青岛模糊测试基地", "programme": "service_base", "area": "370202", "origin": "pilot_2022",
         "registered_on": "0007-01-01"},
    ),
    (
        "/units",
        REGISTRAR,
        {"name": "\x01\x02", "programme": "service_base", "area": "370202", "origin": "application",
         "application_id": str(uuid.uuid4()), "registered_on": "2024-01-10"},
    ),
    (
        "/units",
        REGISTRAR,
        {"name": "0", "programme": "service_base", "area": "370202", "origin": "application",
         "application_id": str(uuid.uuid4()), "registered_on": "2024-01-10"},
    ),
    (
        "/units",
        REGISTRAR,
        {"name": "青岛模糊测试伙伴", "programme": "welfare_partner", "area": "370202", "origin": "application",
         "application_id": str(uuid.uuid4()), "registered_on": "2024-01-10"},
    ),
    (
        "/units",
        SEEDER,
        {"name": "青岛模糊测试基地", "programme": "service_base", "area": "370202", "origin": "pilot_2022",
         "registered_on": "2022-06-28"},
    ),
    (
        "/partners",
        REGISTRAR,
        {"name": "青岛模糊测试伙伴", "category": "charity", "area": "370202", "origin": "pilot_2022",
         "registered_on": "2022-06-28"},
    ),
    (f"/units/{SERVICE_BASES[0].id}/exit", REGISTRAR, {"reason": "退出", "on": "2022-01-02"}),
    (f"/units/{SERVICE_BASES[1].id}/exit", REGISTRAR, {"reason": "退出", "on": "9610-01-01"}),
]  # fmt: skip


async def test_a_fuzzing_registrar_changes_neither_the_cohort_nor_the_cumulative_bases(
    registry: httpx.AsyncClient, metrics: httpx.AsyncClient
) -> None:
    async def seeded() -> bool:
        return await cohort(registry) == (18, 7, 5) and await actual(metrics, "service_bases") == 7

    await eventually(seeded, "the cohort loaded and counted")
    for path, principal, body in FUZZED:
        response = await registry.post(path, json=body, headers={**principal, **key()})
        assert response.status_code == 422, (path, body, response.text)
        assert all(e["field"] and e["zh"] and e["en"] for e in response.json()["errors"])
    # Something the registry does accept, so that "nothing changed" is not just "nothing arrived".
    base = {
        "name": "青岛可信输入服务职工基地", "programme": "service_base", "area": "370202",
        "origin": "application", "application_id": str(uuid.uuid4()), "registered_on": "2024-01-10",
    }  # fmt: skip
    response = await registry.post("/units", json=base, headers={**REGISTRAR, **key()})
    assert response.status_code == 201, response.text

    async def counted() -> bool:
        return await actual(metrics, "service_bases") == 8

    # The documented rule: the 7 pilots and the bases from applications, less those that exited.
    await eventually(counted, "the new base counted, nothing fuzzed")
    assert await cohort(registry) == (18, 7, 5)
    assert await actual(metrics, "happy_enterprise_pilots") == 18
    assert await actual(metrics, "welfare_partners") == 5


async def test_a_reported_facility_is_found_by_intakes_id_and_counted_alike(
    intake: httpx.AsyncClient, registry: httpx.AsyncClient, metrics: httpx.AsyncClient
) -> None:
    body = {
        "facility_kind": FacilityKind.青岛惠工家.value,
        "name": "湘潭路街道“青岛·惠工家”",
        "area": "370213",
        "host_unit": "李沧区职工服务中心",
        "opened_on": date(2024, 5, 1).isoformat(),
    }
    answered = await intake.post(
        "/facilities", json=body, headers={"X-Huigong-Principal": "district:370213", **key()}
    )
    assert answered.status_code == 201, answered.text
    report_id = answered.json()["id"]
    future = {
        **body,
        "name": "明年的“青岛·惠工家”",
        "opened_on": date(beijing_today().year + 1, 1, 1).isoformat(),
    }
    refused = await intake.post(
        "/facilities", json=future, headers={"X-Huigong-Principal": "district:370213", **key()}
    )
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "opened_on", refused.text

    async def found() -> dict[str, Any] | None:
        response = await registry.get(f"/facilities/{report_id}", headers=VIEWER)
        return response.json() if response.status_code == 200 else None

    facility = await eventually(found, "the facility at the registry by intake's id")
    assert facility["report_id"] == report_id and facility["name"] == body["name"]

    async def alike() -> bool:
        counts: dict[str, int] = (await registry.get("/facilities/counts", params={"area": "370213"})).json()[
            "counts"
        ]
        return (
            counts.get(FacilityKind.青岛惠工家.value, 0)
            == await actual(metrics, "huigong_homes", area="370213")
            == 1
        )

    await eventually(alike, "the registry and metrics count the same 惠工家")


async def test_a_unit_is_read_by_its_certificate_number_with_its_assessments(
    registry: httpx.AsyncClient,
) -> None:
    pilot = HAPPY_ENTERPRISES[3]
    half = len(HAPPY_ENTERPRISE_CRITERIA) // 2
    first = [{"criterion": c, "met": False, "evidence": "台账不全"} for c in HAPPY_ENTERPRISE_CRITERIA[:half]]
    response = await registry.post(
        f"/units/{pilot.id}/assessment",
        json={"results": first, "assessed_on": "2023-03-01"},
        headers={**REGISTRAR, **key()},
    )
    assert response.status_code == 201, response.text
    unread = await registry.get(f"/units/{pilot.id}", headers=VIEWER)
    assert unread.status_code == 200, unread.text
    labels = {c["criterion"]: c["label"] for c in unread.json()["criteria"]}
    assert labels == {
        c: "未达到" if c in HAPPY_ENTERPRISE_CRITERIA[:half] else "未评估" for c in HAPPY_ENTERPRISE_CRITERIA
    }

    every = [
        {"criterion": c, "met": True, "evidence": "现场核查记录及台账"} for c in HAPPY_ENTERPRISE_CRITERIA
    ]
    response = await registry.post(
        f"/units/{pilot.id}/assessment",
        json={"results": every, "assessed_on": "2023-06-01"},
        headers={**REGISTRAR, **key()},
    )
    assert response.status_code == 201, response.text
    certified = await registry.post(
        f"/units/{pilot.id}/certification",
        json={"certified_on": "2023-07-01"},
        headers={**REGISTRAR, **key()},
    )
    assert certified.status_code == 201, certified.text
    number = certified.json()["certificate_no"]

    async def by_number() -> dict[str, Any] | None:
        response = await registry.get(f"/units/{number}", headers=VIEWER)
        return response.json() if response.status_code == 200 else None

    unit = await eventually(by_number, "the unit by its certificate number")
    assert (
        unit["unit_id"] == str(pilot.id)
        and unit["status"] == "certified"
        and unit["certificate_no"] == number
    )
    assert [a["assessed_on"] for a in unit["assessments"]] == ["2023-03-01", "2023-06-01"]
    assert unit["assessments"][0]["results"] == first
    assert all(c["label"] == "达到" for c in unit["criteria"])
    # Wherever a unit id is taken, the number is too: the command reaches the certified unit
    # (which takes no further assessment), and a number nobody holds is 404.
    again = await registry.post(
        f"/units/{number}/assessment",
        json={"results": every[:1], "assessed_on": "2024-06-01"},
        headers={**REGISTRAR, **key()},
    )
    assert again.status_code == 409 and again.json()["errors"][0]["zh"] == "该单位已认定，不能评估", (
        again.text
    )
    nobody = await registry.post(
        "/units/QDGH-2023-FQ-9999/assessment",
        json={"results": every[:1], "assessed_on": "2024-06-01"},
        headers={**REGISTRAR, **key()},
    )
    assert nobody.status_code == 404, nobody.text
    unknown = await registry.get("/units/QDGH-2023-FQ-9999", headers=VIEWER)
    assert unknown.status_code == 404 and unknown.json()["errors"][0]["field"] == "unit_id"
    # A partner of the cohort is a partner, never a unit.
    assert (await registry.get(f"/units/{PARTNERS[0].id}", headers=VIEWER)).status_code == 404


async def test_an_approved_service_complex_is_its_districts_centre_not_a_second_complex(
    intake: httpx.AsyncClient,
    review: httpx.AsyncClient,
    registry: httpx.AsyncClient,
    metrics: httpx.AsyncClient,
    review_db: asyncpg.Pool,
) -> None:
    """市南区's service-complex application, approved, attaches to 市南区职工服务中心: 市南 still
    counts one complex."""
    centre = next(c for c in SERVICE_CENTRES if c.area == "370202")
    form = with_fresh_undertaking_unit(complex_form())
    body = {"year": YEAR, "programme": "service_complex", "form": json.loads(form.model_dump_json())}
    application_id = await submit(intake, body)
    assert types(await screened(review_db, application_id)) == ["ApplicationAccepted"]
    await selected_with_plans(intake, review, application_id, SUBMITTER, YEAR)
    base = f"/applications/{application_id}"
    for who, total in (("city/a", 80), ("370203/b", 84), ("G-HAIER/c", 83)):
        response = await review.post(f"{base}/scores", json=scores(total), headers={**reviewer(who), **key()})
        assert response.status_code == 201, response.text
    decision = {"decision": "approve", "period_start": today().isoformat()}
    response = await review.post(f"{base}/decision", json=decision, headers={**chair("city/chair"), **key()})
    assert response.status_code == 201, response.text

    async def attached() -> dict[str, Any] | None:
        unit = (await registry.get(f"/units/{centre.id}", headers=VIEWER)).json()
        return unit if application_id in unit.get("applications", []) else None

    unit = await eventually(attached, "the approval attached to 市南区职工服务中心")
    assert unit["origin"] == "service_centre" and unit["name"] == "市南区职工服务中心"
    second = await registry.get(f"/units/{unit_id_of_application(uuid.UUID(application_id))}", headers=VIEWER)
    assert second.status_code == 404, second.text
    listed = await registry.get(
        "/units", params={"programme": "service_complex", "area": "370202"}, headers=VIEWER
    )
    assert listed.json()["total"] == 1
    assert await actual(metrics, "service_complexes", area="370202") == 1
