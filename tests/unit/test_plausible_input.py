"""What an independent fuzzing run as a registrar got accepted, sent again through the real apps
of the registry, intake, review and metrics in this process (routes, access guard, command path,
refusals; the in-memory unit of work, no database): every one is a 422 naming the field in
Chinese and English, nothing is recorded, and the 2022 cohort stays what annex 2 lists.

The query parameters are refused before any database call: these apps have no database at all,
so an answer other than the 422 would be an error reaching for one."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any, Final

import httpx
import pytest

from huigong_events.plausible import beijing_today
from huigong_events.reference import Programme
from huigong_intake.app import create_app as intake_app
from huigong_intake.handlers import Intake
from huigong_intake.policy import POLICY as INTAKE_POLICY
from huigong_intake.settings import IntakeSettings
from huigong_metrics.app import create_app as metrics_app
from huigong_platform.application import CommandPath
from huigong_platform.policy import Policy
from huigong_platform.settings import Settings
from huigong_platform.unit_of_work import MemoryState, in_memory_units
from huigong_registry import seed
from huigong_registry.app import create_app as registry_app
from huigong_registry.domain.cohort import HAPPY_ENTERPRISES, PARTNERS, SERVICE_BASES, SERVICE_CENTRES
from huigong_registry.handlers import Registry
from huigong_registry.policy import POLICY as REGISTRY_POLICY
from huigong_registry.settings import RegistrySettings
from huigong_review.app import create_app as review_app
from huigong_review.settings import ReviewSettings

from .. import forms
from ..inprocess import as_, in_process
from .intake.memory import MemoryIntakeTables
from .registry.memory import MemoryRegistryTables

SECRET: Final = "00" * 32
NOWHERE: Final = "postgresql://nobody@127.0.0.1:1/none"
REGISTRAR: Final = as_("registrar:city01")
SEEDER: Final = as_(seed.PRINCIPAL)
# A day in the future however long the run: the values are fixed when the tests are collected,
# and a run that goes past Beijing's midnight would see tomorrow become today.
LATER: Final = (beijing_today() + timedelta(days=2)).isoformat()
NEXT_MONTH: Final = (beijing_today() + timedelta(days=31)).isoformat()


def key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


@pytest.fixture
def state() -> MemoryState:
    return MemoryState()


@pytest.fixture
async def registry(state: MemoryState) -> AsyncIterator[httpx.AsyncClient]:
    handlers = Registry(MemoryRegistryTables().records).handlers()
    commands = CommandPath(REGISTRY_POLICY, handlers, in_memory_units(state))
    settings = RegistrySettings(service="registry", database_url=NOWHERE, personal_data_kek=SECRET)
    async with in_process(registry_app(settings), commands) as client:
        yield client


@pytest.fixture
async def intake(state: MemoryState) -> AsyncIterator[httpx.AsyncClient]:
    handlers = Intake(MemoryIntakeTables().records, bytes.fromhex(SECRET)).handlers()
    commands = CommandPath(INTAKE_POLICY, handlers, in_memory_units(state))
    settings = IntakeSettings(
        service="intake", database_url=NOWHERE, member_key_secret=SECRET, personal_data_kek=SECRET
    )
    async with in_process(intake_app(settings), commands) as client:
        yield client


@pytest.fixture
async def readers(state: MemoryState) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """Review's and metrics' apps, for their query parameters (no command runs)."""
    none = CommandPath(Policy("none", commands={}, routes={}), {}, in_memory_units(state))
    review_settings = ReviewSettings(service="review", database_url=NOWHERE)
    metrics_settings = Settings(service="metrics", database_url=NOWHERE)
    async with (
        in_process(review_app(review_settings), none) as review,
        in_process(metrics_app(metrics_settings), none) as metrics,
    ):
        yield {"review": review, "metrics": metrics}


async def load_cohort(registry: httpx.AsyncClient) -> None:
    """What `huigong-seed` sends, as its own principal."""
    bodies = [
        *(("/units", seed.unit_body(e, "service_centre")) for e in SERVICE_CENTRES),
        *(("/units", seed.unit_body(e, "pilot_2022")) for e in (*HAPPY_ENTERPRISES, *SERVICE_BASES)),
        *(("/partners", seed.partner_body(e)) for e in PARTNERS),
    ]
    for path, body in bodies:
        response = await registry.post(path, json=body, headers={**SEEDER, **key()})
        assert response.status_code == 201, response.text


def cohort(state: MemoryState) -> tuple[int, int, int]:
    """The 2022 cohort as recorded: 幸福企业, 服务职工基地 and 公益伙伴 of origin pilot_2022."""
    data = [json.loads(json.dumps(e.data)) | {"type": e.type} for e in state.events]
    pilots = [d for d in data if d.get("origin") == "pilot_2022"]
    units = [d for d in pilots if d["type"] == "UnitRegistered"]
    return (
        sum(d["programme"] == Programme.幸福企业.value for d in units),
        sum(d["programme"] == Programme.服务职工基地.value for d in units),
        sum(d["type"] == "PartnerRegistered" for d in pilots),
    )


def unit(**changes: Any) -> dict[str, Any]:
    return {
        "name": "青岛某某幸福企业有限公司",
        "programme": "happy_enterprise",
        "area": "370203",
        "origin": "application",
        "application_id": str(uuid.uuid4()),
        "registered_on": "2024-01-10",
        **changes,
    }


def partner(**changes: Any) -> dict[str, Any]:
    return {
        "name": "青岛某某社会工作服务中心",
        "category": "charity",
        "area": "370203",
        "origin": "application",
        "application_id": str(uuid.uuid4()),
        "registered_on": "2024-01-10",
        **changes,
    }


BASE: Final = SERVICE_BASES[0]
PILOT: Final = HAPPY_ENTERPRISES[0]

# (path, principal, body, the field the refusal names): each was accepted before.
BAD_WRITES: Final[list[tuple[str, dict[str, str], dict[str, Any], str]]] = [
    ("/units", REGISTRAR, unit(registered_on="0007-03-01"), "registered_on"),
    ("/units", REGISTRAR, unit(registered_on="9610-01-01"), "registered_on"),
    ("/units", REGISTRAR, unit(registered_on="2021-12-31"), "registered_on"),
    ("/units", REGISTRAR, unit(registered_on=LATER), "registered_on"),
    ("/units", REGISTRAR, unit(name="\x01\x02\x03"), "name"),
    ("/units", REGISTRAR, unit(name="青岛\x00公司"), "name"),
    ("/units", REGISTRAR, unit(name="青岛\u202e公司"), "name"),
    ("/units", REGISTRAR, unit(name="0"), "name"),
    ("/units", REGISTRAR, unit(name="— …"), "name"),
    ("/units", REGISTRAR, unit(name="   "), "name"),
    ("/units", REGISTRAR, unit(programme="welfare_partner"), "programme"),
    ("/units", REGISTRAR, unit(origin="pilot_2022", application_id=None), "origin"),
    ("/units", REGISTRAR, unit(origin="service_centre", application_id=None), "origin"),
    # An annex 2 entry, but not from the seed: the cohort is loaded by the seed only.
    ("/units", REGISTRAR, seed.unit_body(PILOT, "pilot_2022"), "origin"),
    # From the seed's principal, but not as annex 2 lists it.
    ("/units", SEEDER, unit(origin="pilot_2022", application_id=None), "origin"),
    ("/units", SEEDER, {**seed.unit_body(PILOT, "pilot_2022"), "unit_id": str(uuid.uuid4())}, "origin"),
    ("/units", SEEDER, {**seed.unit_body(PILOT, "pilot_2022"), "area": "370202"}, "origin"),
    ("/partners", REGISTRAR, partner(registered_on="0007-03-01"), "registered_on"),
    ("/partners", REGISTRAR, partner(name="0"), "name"),
    ("/partners", REGISTRAR, partner(name="\x1b[31m"), "name"),
    ("/partners", REGISTRAR, partner(origin="pilot_2022", application_id=None), "origin"),
    ("/partners", REGISTRAR, seed.partner_body(PARTNERS[0]), "origin"),
    ("/partners", SEEDER, {**seed.partner_body(PARTNERS[0]), "name": "青岛新公益伙伴"}, "origin"),
    # A service base that leaves before it was registered (2022-06-28), or with a meaningless reason.
    (f"/units/{BASE.id}/exit", REGISTRAR, {"reason": "满意度评价不达标", "on": "2022-03-01"}, "on"),
    (f"/units/{BASE.id}/exit", REGISTRAR, {"reason": "0"}, "reason"),
    (f"/units/{BASE.id}/exit", REGISTRAR, {"reason": "满意度\x07不达标"}, "reason"),
    (f"/units/{BASE.id}/exit", REGISTRAR, {"reason": "满意度评价不达标", "on": LATER}, "on"),
    (
        f"/partners/{PARTNERS[0].id}/exit",
        REGISTRAR,
        {"reason": "退出", "exited_on": "1999-01-01"},
        "exited_on",
    ),
    ("/units/not-a-number/assessment", REGISTRAR, {"results": []}, "unit_id"),
    (
        f"/units/{BASE.id}/assessment",
        REGISTRAR,
        {
            "results": [{"criterion": "服务场所和设施", "met": True, "evidence": "0"}],
            "assessed_on": "2023-01-05",
        },
        "results.0.evidence",
    ),
    (
        f"/units/{BASE.id}/assessment",
        REGISTRAR,
        {
            "results": [{"criterion": "服务场所和设施", "met": True, "evidence": "台账"}],
            "assessed_on": "2202-01-05",
        },
        "assessed_on",
    ),
]


@pytest.mark.parametrize(("path", "principal", "body", "field"), BAD_WRITES)
async def test_a_fuzzed_registration_is_a_field_level_refusal_and_the_cohort_stays_18_7_5(
    registry: httpx.AsyncClient,
    state: MemoryState,
    path: str,
    principal: dict[str, str],
    body: dict[str, Any],
    field: str,
) -> None:
    await load_cohort(registry)
    before = len(state.events)
    response = await registry.post(path, json=body, headers={**principal, **key()})
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert field in [e["field"] for e in errors], errors
    assert all(e["zh"] and e["en"] and e["zh"] != e["en"] for e in errors), errors
    assert len(state.events) == before
    assert cohort(state) == (18, 7, 5)


async def test_the_seed_loads_annex_2_once_and_plausible_registrations_pass(
    registry: httpx.AsyncClient, state: MemoryState
) -> None:
    await load_cohort(registry)
    again = await registry.post(
        "/units", json=seed.unit_body(PILOT, "pilot_2022"), headers={**SEEDER, **key()}
    )
    assert again.status_code == 409, again.text
    for body in (unit(name="3号楼“青岛·惠工家”运营企业"), unit(registered_on=beijing_today().isoformat())):
        response = await registry.post("/units", json=body, headers={**REGISTRAR, **key()})
        assert response.status_code == 201, response.text
    # A reason may run over several lines.
    exit_ = {"reason": "职工满意度评价\n连续两年不达标", "on": "2024-07-01"}
    response = await registry.post(f"/units/{BASE.id}/exit", json=exit_, headers={**REGISTRAR, **key()})
    assert response.status_code == 201, response.text
    assert cohort(state) == (18, 7, 5)


async def test_control_characters_anywhere_in_an_intake_form_are_refused_with_their_path(
    intake: httpx.AsyncClient, state: MemoryState
) -> None:
    year = beijing_today().year + 1
    form = json.loads(forms.complex_form().model_dump_json())
    form["current_status"] = "区职工服务中心已运行五年。\x1b[2J"
    form["stages"][0]["content"] = "制定\u200b三年规划。"
    body = {"year": year, "programme": "service_complex", "form": form}
    response = await intake.post("/applications", json=body, headers={**as_("district:370202"), **key()})
    assert response.status_code == 422, response.text
    fields = sorted(e["field"] for e in response.json()["errors"])
    assert fields == ["form.current_status", "form.stages.0.content"], response.text
    assert all(e["zh"] == "不得含控制字符" for e in response.json()["errors"])
    assert state.events == []


async def test_names_in_an_intake_form_must_hold_words_not_only_digits_or_symbols(
    intake: httpx.AsyncClient, state: MemoryState
) -> None:
    year = beijing_today().year + 1
    form = json.loads(forms.complex_form().model_dump_json())
    form["industry"] = "0"
    form["undertaking_opinion"]["signatory"] = "——"
    body = {"year": year, "programme": "service_complex", "form": form}
    response = await intake.post("/applications", json=body, headers={**as_("district:370202"), **key()})
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert sorted(e["field"] for e in errors) == ["form.industry", "form.undertaking_opinion.signatory"]
    assert all("文字" in e["zh"] and "words" in e["en"] for e in errors)
    assert state.events == []
    # A name in any script, digits beside words included, is a name.
    form["industry"] = "第3产业 services"
    form["undertaking_opinion"]["signatory"] = "王某"
    accepted = await intake.post(
        "/applications", json=body | {"form": form}, headers={**as_("district:370202"), **key()}
    )
    assert accepted.status_code == 201, accepted.text


FACILITY: Final = {
    "facility_kind": "huigong_home",
    "name": "某某街道“青岛·惠工家”",
    "area": "370213",
    "host_unit": "李沧区职工服务中心",
}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"opened_on": NEXT_MONTH}, "opened_on"),
        ({"opened_on": LATER}, "opened_on"),
        ({"opened_on": "0001-01-01"}, "opened_on"),
        ({"opened_on": "2022-10-01", "name": "0"}, "name"),
        ({"opened_on": "2022-10-01", "host_unit": "\t\x0b"}, "host_unit"),
    ],
)
async def test_a_facility_dated_in_the_future_or_without_a_name_is_refused_at_intake(
    intake: httpx.AsyncClient, state: MemoryState, changes: dict[str, str], field: str
) -> None:
    response = await intake.post(
        "/facilities", json={**FACILITY, **changes}, headers={**as_("district:370213"), **key()}
    )
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert state.events == []


# (service, path, the bad query, the field): refused before the route reaches for its database.
BAD_QUERIES: Final = [
    ("registry", "/units", {"year": "0"}, "year"),
    ("registry", "/units", {"year": "99999"}, "year"),
    ("registry", "/partners", {"year": "2021"}, "year"),
    ("registry", "/facilities", {"year": "-1"}, "year"),
    ("registry", "/facilities/counts", {"year": "10000"}, "year"),
    ("registry", "/matters", {"as_of": "0"}, "as_of"),
    ("registry", "/matters", {"as_of": "1970-01-01"}, "as_of"),
    ("intake", "/applications", {"year": "0"}, "year"),
    ("intake", "/applications", {"year": "2101"}, "year"),
    ("review", "/queue", {"year": "0"}, "year"),
    ("metrics", "/api/progress", {"as_of": "0"}, "as_of"),
    ("metrics", "/api/progress", {"year": "1999"}, "year"),
    ("metrics", "/api/progress", {"as_of": "2101-01-01"}, "as_of"),
    ("metrics", "/api/matters", {"as_of": "0"}, "as_of"),
]


@pytest.mark.parametrize(("service", "path", "query", "field"), BAD_QUERIES)
async def test_an_implausible_query_parameter_is_a_422_before_any_database_call(
    registry: httpx.AsyncClient,
    intake: httpx.AsyncClient,
    readers: dict[str, httpx.AsyncClient],
    service: str,
    path: str,
    query: dict[str, str],
    field: str,
) -> None:
    client = {"registry": registry, "intake": intake, **readers}[service]
    who = {"registry": "registrar:city01", "intake": "city:staff01", "review": "city:staff01"}
    headers = as_(who[service]) if service in who else {}
    response = await client.get(path, params=query, headers=headers)
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert [e["field"] for e in errors] == [field], errors
    assert all(e["zh"] and e["en"] for e in errors)
