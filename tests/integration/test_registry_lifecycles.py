"""The lifecycle of each unit type from application to certificate, with real intake, review and
registry processes on the real broker and database: a 服务职工综合体 and a 服务职工基地 are
submitted, accepted into review, scored, approved, registered, assessed and certified, and the
certificate verifies with the exact title. (test_registry.py covers a 幸福企业.) Each test submits
from a district of its own, with its own units, so the shared topics never mix their data."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Any, Final

import asyncpg
import httpx
import pytest

from huigong_events.forms import Organisation
from huigong_events.reference import DISTRICTS, SERVICE_COMPLEX_CRITERIA, TITLES, Programme
from huigong_intake.domain.identity import credit_check_char
from huigong_registry import seed
from huigong_registry.domain.certification import SERVICE_BASE_CRITERIA, unit_id_of_application
from huigong_registry.domain.cohort import SERVICE_CENTRES

from ..conftest import Stack
from ..forms import complex_form, opinion, service_base_form, variant
from .processes import running
from .test_registry import REGISTRAR, Services, certificate, unit_item
from .test_review import (
    YEAR,
    chair,
    enterprise_code,
    eventually,
    key,
    reviewer,
    scores,
    screened,
    selected_with_plans,
    today,
    types,
)

COMPLEX_DISTRICT = "370212"  # 崂山区
BASE_DISTRICT = "370214"  # 城阳区

# These modules follow a unit from approval to certification in one sitting: no minimum building
# time (the one-year default is the domain's tests' and test_registry's certification-date test's).
BUILT: Final = {"HUIGONG_MIN_BUILDING_YEARS": "0"}


@pytest.fixture(scope="module")
async def services(stack: Stack) -> AsyncIterator[Services]:
    # The client fixtures of tests/integration/conftest.py talk to these processes.
    async with running(stack, ("intake", "review", "registry"), 700, "registry-lifecycles", BUILT) as procs:
        yield procs  # type: ignore[misc]


# --- forms of each district --------------------------------------------------------------------


def district_union(district: str) -> Organisation:
    """The district's federation (区市总工会), with a valid union credit code registered there."""
    first17 = f"81{district}MJD{uuid.uuid4().int % 10**6:06d}"
    return Organisation(name=f"{DISTRICTS[district]}总工会", credit_code=first17 + credit_check_char(first17))


def complex_application(district: str) -> dict[str, Any]:
    place = DISTRICTS[district]
    union = district_union(district)
    centre = f"{place}职工服务中心"
    first17 = f"81{district}MJE{uuid.uuid4().int % 10**6:06d}"
    form = variant(
        complex_form(),
        pilot_name=f"{place}工会服务职工综合体建设",
        undertaking_unit=union,
        applicant_unit=union,
        participating_units=[Organisation(name=centre, credit_code=first17 + credit_check_char(first17))],
        current_status=f"{centre}已运行五年，场地2000平方米。",
        undertaking_opinion=opinion(union.name),
        participating_opinion=opinion(centre),
    )
    return {"year": YEAR, "programme": "service_complex", "form": json.loads(form.model_dump_json())}


def base_application(district: str) -> dict[str, Any]:
    place = DISTRICTS[district]
    union = district_union(district)
    # A fresh enterprise: the base is screened (applicant_is_enterprise), and no fact names it.
    operator = Organisation(name=f"青岛{uuid.uuid4().hex[:6]}心理咨询有限公司", credit_code=enterprise_code())
    form = variant(
        service_base_form(),
        name=f"{place}心理服务职工基地{uuid.uuid4().hex[:6]}",
        undertaking_unit=operator,
        participating_units=[union],
        applicant_unit=union,
        union_cooperation=f"承接{union.name}职工心理关爱项目。",
        undertaking_opinion=opinion(operator.name),
        participating_opinion=opinion(union.name),
        applicant_is_enterprise=True,
        declarations=[],
    )
    return {"year": YEAR, "programme": "service_base", "form": json.loads(form.model_dump_json())}


# --- the lifecycle -----------------------------------------------------------------------------


async def certified_lifecycle(
    intake: httpx.AsyncClient,
    review: httpx.AsyncClient,
    registry: httpx.AsyncClient,
    review_db: asyncpg.Pool,
    district: str,
    body: dict[str, Any],
    criteria: tuple[str, ...],
    existing_unit: str | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Submit → accepted → three scores → approval → registered (or attached to `existing_unit`,
    the unit its centre already is) → assessed → certified; returns the unit and the
    certification."""
    submitter = {"X-Huigong-Principal": f"district:{district}"}
    response = await intake.post("/applications", json=body, headers={**submitter, **key()})
    assert response.status_code == 201, response.text
    application_id: str = response.json()["application_id"]
    assert types(await screened(review_db, application_id)) == ["ApplicationAccepted"]

    base = f"/applications/{application_id}"
    await selected_with_plans(intake, review, application_id, submitter)
    for who, total in (("city/a", 80), ("370203/b", 84), ("G-HAIER/c", 83)):
        assert not who.startswith(district)
        response = await review.post(f"{base}/scores", json=scores(total), headers={**reviewer(who), **key()})
        assert response.status_code == 201, response.text
    decision = {"decision": "approve", "period_start": today().isoformat()}
    response = await review.post(f"{base}/decision", json=decision, headers={**chair("city/chair"), **key()})
    assert response.status_code == 201, response.text

    if existing_unit is None:
        unit_id = str(unit_id_of_application(uuid.UUID(application_id)))
        unit = await unit_item(registry, unit_id, "approved")
        assert unit["application_id"] == application_id and unit["programme"] == body["programme"]
        assert unit["area"] == district and unit["origin"] == "application"
    else:
        unit_id = existing_unit

        async def attached() -> dict[str, Any] | None:
            response = await registry.get(f"/units/{unit_id}", headers=REGISTRAR)
            assert response.status_code == 200, response.text
            found: dict[str, Any] = response.json()
            return found if application_id in found["applications"] else None

        unit = await eventually(attached, f"application {application_id} attached to unit {unit_id}")
        assert unit["programme"] == body["programme"] and unit["area"] == district
        assert unit["status"] == "approved"
        # One unit per centre: no second unit was registered for the application.
        response = await registry.get(
            f"/units/{unit_id_of_application(uuid.UUID(application_id))}", headers=REGISTRAR
        )
        assert response.status_code == 404, response.text

    results = [{"criterion": c, "met": True, "evidence": "现场核查记录及台账"} for c in criteria]
    response = await registry.post(
        f"/units/{unit_id}/assessment", json={"results": results}, headers={**REGISTRAR, **key()}
    )
    assert response.status_code == 201, response.text
    response = await registry.post(f"/units/{unit_id}/certification", json={}, headers={**REGISTRAR, **key()})
    assert response.status_code == 201, response.text
    cert: dict[str, Any] = response.json()
    assert cert["certified_on"] == today().isoformat()
    assert date.fromisoformat(cert["recheck_due"]).year == today().year + 1
    response = await registry.get(f"/units/{unit_id}", headers=REGISTRAR)
    assert response.json()["status"] == "certified", response.text
    assert response.json()["certificate_no"] == cert["certificate_no"]
    return unit, cert


async def test_a_service_complex_from_application_to_certificate(
    intake: httpx.AsyncClient,
    review: httpx.AsyncClient,
    registry: httpx.AsyncClient,
    review_db: asyncpg.Pool,
) -> None:
    # 崂山's 职工服务中心 is a unit already (huigong-seed registers the centres; again is 409): the
    # district's approved complex is built by it and attaches to it, one unit per centre.
    centre = next(e for e in SERVICE_CENTRES if e.area == COMPLEX_DISTRICT)
    response = await registry.post(
        "/units",
        json=seed.unit_body(centre, "service_centre"),
        headers={"X-Huigong-Principal": seed.PRINCIPAL, **key()},
    )
    assert response.status_code in (201, 409), response.text
    body = complex_application(COMPLEX_DISTRICT)
    unit, cert = await certified_lifecycle(
        intake, review, registry, review_db, COMPLEX_DISTRICT, body, SERVICE_COMPLEX_CRITERIA, str(centre.id)
    )
    assert unit["name"] == centre.name
    title = "青岛市工会服务职工综合体创建示范单位"
    assert cert["title"] == title == TITLES[Programme.服务职工综合体]
    number = cert["certificate_no"]
    assert number.startswith(f"QDGH-{today().year}-ZH-") and len(number) == len("QDGH-2027-ZH-0001")

    shown = await certificate(registry, number, "certified")
    assert shown["title"] == title and shown["status"] == "certified"
    assert shown["unit_name"] == unit["name"] and shown["revoked_on"] is None


async def test_a_service_base_from_application_to_certificate(
    intake: httpx.AsyncClient,
    review: httpx.AsyncClient,
    registry: httpx.AsyncClient,
    review_db: asyncpg.Pool,
) -> None:
    body = base_application(BASE_DISTRICT)
    unit, cert = await certified_lifecycle(
        intake, review, registry, review_db, BASE_DISTRICT, body, SERVICE_BASE_CRITERIA
    )
    assert unit["name"] == body["form"]["name"]
    title = "青岛市职工服务基地创建示范单位"
    assert cert["title"] == title == TITLES[Programme.服务职工基地]
    number = cert["certificate_no"]
    assert number.startswith(f"QDGH-{today().year}-JD-") and len(number) == len("QDGH-2027-JD-0001")

    shown = await certificate(registry, number, "certified")
    assert shown["title"] == title and shown["status"] == "certified"
    assert shown["unit_name"] == unit["name"] and shown["revoked_on"] is None
