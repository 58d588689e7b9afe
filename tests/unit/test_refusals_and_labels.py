"""Chinese to the edges, for each of the four services through its real app (routes, access guard,
refusal mapping), in this process: every refusal is `{"errors": [{"field", "zh", "en"}]}` with a
field a person can read and words for the expected form (never a pattern or a byte offset);
an enumeration is accepted by its Chinese label as well as its code (and recorded by its code);
answers carry `<field>_label` beside their codes; the OpenAPI documents list every allowed value
with its label."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from huigong_intake.app import create_app as intake_app
from huigong_intake.handlers import Intake
from huigong_intake.policy import POLICY as INTAKE_POLICY
from huigong_intake.settings import IntakeSettings
from huigong_metrics.app import create_app as metrics_app
from huigong_platform.application import CommandPath
from huigong_platform.policy import PUBLIC, Policy
from huigong_platform.service import build_app
from huigong_platform.settings import Settings
from huigong_platform.unit_of_work import MemoryState, in_memory_units
from huigong_registry.app import create_app as registry_app
from huigong_review.app import create_app as review_app
from huigong_review.settings import ReviewSettings

from ..forms import complex_form
from ..inprocess import PrincipalsAtTheirWord, as_, in_process
from .intake.memory import MemoryIntakeTables

DSN = "postgresql://nobody@127.0.0.1:1/none"
SECRET = "00" * 32
YEAR = datetime.now(UTC).year + 1  # open now: its 30 June deadline is ahead
RECEIPT = f"{YEAR}-370202-00001"


def intake_settings() -> IntakeSettings:
    return IntakeSettings(
        service="intake", database_url=DSN, member_key_secret=SECRET, personal_data_kek=SECRET
    )


def application(**changes: Any) -> dict[str, Any]:
    return {
        "year": YEAR,
        "programme": "service_complex",
        "form": json.loads(complex_form().model_dump_json()),
    } | changes


def with_form(**changes: Any) -> dict[str, Any]:
    body = application()
    body["form"] |= changes
    return body


def unit(**changes: Any) -> dict[str, Any]:
    return {
        "name": "市南区职工服务中心",
        "programme": "service_complex",
        "area": "370202",
        "origin": "application",
        "application_id": str(uuid.uuid4()),
        "registered_on": f"{YEAR}-01-01",
    } | changes


@dataclass(frozen=True)
class Edges:
    """The requests that probe one service's edges. `write` takes a JSON body; `pattern`,
        `enumeration` (method, path, body, field, what its words list) and `label` (method, path, body,
    the one field refused: a deliberate mistake elsewhere, so that nothing reaches the database;
    None where the service runs the command in memory)."""

    principal: str
    write: tuple[str, str]
    wrong_method: tuple[str, str, list[str]]
    pattern: tuple[str, str, dict[str, Any] | None, str, str, str]
    enumeration: tuple[str, str, dict[str, Any] | None, str, list[str]]
    label: tuple[str, str, dict[str, Any] | None, str | None]


DECISION = f"/applications/{RECEIPT}/decision"
EDGES: dict[str, Edges] = {
    "intake": Edges(
        principal="district:370202",
        write=("POST", "/applications"),
        wrong_method=("DELETE", "/applications", ["GET", "POST"]),
        pattern=(
            "POST",
            "/applications",
            with_form(period_start="2027/07"),
            "form.period_start",
            "应为 YYYY-MM 格式的年月，如 2027-03",
            "a year and month like 2027-03",
        ),
        enumeration=(
            "POST",
            "/applications",
            application(programme="garden"),
            "programme",
            [
                "service_complex（服务职工综合体）",
                "happy_enterprise（职工生活幸福型企业）",
                "welfare_partner（关爱职工公益伙伴）",
            ],
        ),
        label=("POST", "/applications", application(programme="服务职工综合体", submitter=None), None),
    ),
    "review": Edges(
        principal="chair:city/c",
        write=("POST", DECISION),
        wrong_method=("DELETE", "/queue", ["GET"]),
        # Review's inputs have no text patterns: its dates are its formatted inputs.
        pattern=(
            "POST",
            DECISION,
            {"decision": "approve", "period_start": "2027/03/01"},
            "period_start",
            "应为 YYYY-MM-DD 格式的日期，如 2027-03-01",
            "a date like 2027-03-01",
        ),
        enumeration=(
            "POST",
            DECISION,
            {"decision": "maybe"},
            "decision",
            ["approve（批准建设）", "decline（不予批准）"],
        ),
        label=("POST", DECISION, {"decision": "批准建设", "period_start": "2027/03/01"}, "period_start"),
    ),
    "registry": Edges(
        principal="registrar:city01",
        write=("POST", "/units"),
        wrong_method=("DELETE", "/units", ["GET", "POST"]),
        pattern=(
            "POST",
            "/units",
            unit(programme="happy_enterprise", credit_code="91370200163562681I"),
            "credit_code",
            "应为18位统一社会信用代码",
            "an 18-character unified social credit code",
        ),
        enumeration=(
            "POST",
            "/units",
            unit(origin="imported"),
            "origin",
            ["pilot_2022（2022年试点）", "application（申报确定）", "service_centre（职工服务中心）"],
        ),
        # Every enumeration by its label, and one deliberate mistake elsewhere so nothing is run.
        label=(
            "POST",
            "/units",
            unit(programme="服务职工综合体", area="市南区", origin="申报确定", registered_on="2027/01/01"),
            "registered_on",
        ),
    ),
    "metrics": Edges(
        principal="city:staff01",
        write=("PUT", "/api/targets/shared_workers_homes"),
        wrong_method=("DELETE", "/api/progress", ["GET"]),
        # Metrics' inputs have no text patterns: a day is its formatted input.
        pattern=(
            "GET",
            "/api/progress?as_of=2024-13-01",
            None,
            "as_of",
            "应为 YYYY-MM-DD 格式的日期，如 2027-03-01",
            "a date like 2027-03-01",
        ),
        # Its enumerated input is the area: 370200, a district or a group union.
        enumeration=("GET", "/api/progress?area=花园区", None, "area", ["370202", "市南区"]),
        # The area is checked before the day.
        label=("GET", "/api/progress?area=市南区&as_of=0001-01-05", None, "as_of"),
    ),
}


def build(service: str) -> FastAPI:
    keys = ",".join(f"{s}.1:{SECRET}" for s in EDGES)
    if service == "intake":
        return intake_app(intake_settings())
    if service == "review":
        return review_app(ReviewSettings(service="review", database_url=DSN, event_keys=keys))
    if service == "registry":
        return registry_app(Settings(service="registry", database_url=DSN, event_keys=keys))
    return metrics_app(Settings(service="metrics", database_url=DSN, event_keys=keys))


@pytest.fixture(params=sorted(EDGES))
def service(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def state() -> MemoryState:
    return MemoryState()


@pytest.fixture
async def client(service: str, state: MemoryState) -> AsyncIterator[httpx.AsyncClient]:
    """The service's app; its lifespan is not run. Intake runs its commands in memory; the
    others would find no database, so every request to them here is refused before that."""
    app = build(service)
    if service == "intake":
        intake = Intake(MemoryIntakeTables().records, bytes.fromhex(SECRET))
        commands = CommandPath(INTAKE_POLICY, intake.handlers(), in_memory_units(state))
        async with in_process(app, commands) as client:
            yield client
        return
    app.state.runtime = SimpleNamespace(keys=PrincipalsAtTheirWord(), extras={})
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://inprocess"
    ) as client:
        yield client


def headers(principal: str) -> dict[str, str]:
    return {**as_(principal), "Idempotency-Key": uuid.uuid4().hex}


def refusal(response: httpx.Response, status: int) -> list[dict[str, str]]:
    """The errors of a refusal in the one shape: every error has exactly a readable field (a
    dotted path of names and positions, never a bare number), Chinese and English."""
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ["errors"] and body["errors"], body
    for error in body["errors"]:
        assert sorted(error) == ["en", "field", "zh"], error
        assert error["zh"] and error["en"], error
        assert re.fullmatch(r"[A-Za-z_][\w-]*(\.[\w-]+)*", error["field"]), error
        # No regular expression leaks into the words.
        for text in (error["zh"], error["en"]):
            assert not re.search(r"\^|\$'|\[0-9|\{\d+(,\d*)?\}", text), error
    return list(body["errors"])


async def test_malformed_json_is_refused_for_the_body_with_words(
    service: str, client: httpx.AsyncClient
) -> None:
    method, path = EDGES[service].write
    response = await client.request(
        method,
        path,
        content=b'{"year": 2027, "programme": ',
        headers={**headers(EDGES[service].principal), "Content-Type": "application/json"},
    )
    [error] = refusal(response, 422)
    assert error["field"] == "body"
    assert "不是有效的 JSON" in error["zh"] and "not valid JSON" in error["en"]


async def test_an_unknown_route_is_a_refusal_naming_the_address(
    service: str, client: httpx.AsyncClient
) -> None:
    response = await client.get("/no-such-thing", headers=as_(EDGES[service].principal))
    [error] = refusal(response, 404)
    assert error == {
        "field": "path",
        "zh": "没有这个地址：GET /no-such-thing",
        "en": "no such address: GET /no-such-thing",
    }


async def test_a_wrong_method_names_the_methods_the_address_serves(
    service: str, client: httpx.AsyncClient
) -> None:
    method, path, allowed = EDGES[service].wrong_method
    response = await client.request(method, path, headers=as_(EDGES[service].principal))
    [error] = refusal(response, 405)
    assert error["field"] == "method"
    assert error["zh"] == f"该地址不支持 {method} 方法，可用：{'、'.join(allowed)}"
    assert error["en"] == f"{method} is not served here; allowed: {', '.join(allowed)}"
    assert response.headers["Allow"] == ", ".join(allowed)


async def test_a_format_failure_names_the_expected_form_in_words(
    service: str, client: httpx.AsyncClient
) -> None:
    method, path, body, field, zh, en = EDGES[service].pattern
    response = await client.request(method, path, json=body, headers=headers(EDGES[service].principal))
    [error] = [e for e in refusal(response, 422) if e["field"] == field]
    assert error["zh"].startswith(zh) and error["en"].startswith(en), error


async def test_a_wrong_value_of_an_enumeration_lists_what_is_allowed(
    service: str, client: httpx.AsyncClient
) -> None:
    method, path, body, field, listed = EDGES[service].enumeration
    response = await client.request(method, path, json=body, headers=headers(EDGES[service].principal))
    [error] = [e for e in refusal(response, 422) if e["field"] == field]
    for item in listed:
        assert item in error["zh"], error
        english = re.sub(r"（(.+)）$", r" (\1)", item)
        assert english in error["en"], error


async def test_an_enumeration_is_accepted_by_its_chinese_label(
    service: str, client: httpx.AsyncClient, state: MemoryState
) -> None:
    method, path, body, field = EDGES[service].label
    response = await client.request(method, path, json=body, headers=headers(EDGES[service].principal))
    if field is None:
        # Recorded, and the event carries the code.
        assert response.status_code == 201, response.text
        [event] = state.events
        assert event.data["programme"] == "service_complex"
    else:
        # Only the deliberate mistake is refused: every label in the request was understood.
        assert [e["field"] for e in refusal(response, 422)] == [field]


def labelled_app() -> FastAPI:
    """An app of the platform answering codes the way the services' read routes do."""
    router = APIRouter()

    @router.get("/sample")
    async def sample() -> dict[str, Any]:
        return {
            "items": [
                {"programme": "service_complex", "status": "certified", "area": "370202"},
                {
                    "programme": "welfare_partner",
                    "status": "closed",
                    "status_label": "已办结",
                    "kind": "unknown",
                },
            ],
            "total": 2,
        }

    policy = Policy("sample", commands={}, routes={("GET", "/sample"): PUBLIC})
    settings = Settings(service="registry", database_url=DSN, event_keys=f"registry.1:{SECRET}")
    app = build_app(
        settings,
        title="sample",
        description="sample",
        policy=policy,
        routers=[router],
        answer_labels={"status": {"certified": "已认定"}},
    )
    app.state.runtime = SimpleNamespace(keys=PrincipalsAtTheirWord(), extras={})
    return app


async def test_answers_carry_the_chinese_label_beside_each_code() -> None:
    transport = httpx.ASGITransport(app=labelled_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://inprocess") as client:
        response = await client.get("/sample")
    assert response.status_code == 200
    assert response.json() == {
        "items": [
            {
                "programme": "service_complex",
                "programme_label": "服务职工综合体",
                "status": "certified",
                "status_label": "已认定",
                "area": "370202",
                "area_label": "市南区",
            },
            # A route's own label stands; a code no vocabulary knows gets none.
            {
                "programme": "welfare_partner",
                "programme_label": "关爱职工公益伙伴",
                "status": "closed",
                "status_label": "已办结",
                "kind": "unknown",
            },
        ],
        "total": 2,
    }
    assert int(response.headers["content-length"]) == len(response.content)


@pytest.mark.parametrize("name", sorted(EDGES))
def test_the_openapi_documents_list_every_value_with_its_label(name: str) -> None:
    document = build(name).openapi()
    schemas = document["components"]["schemas"]
    enumerations = {n: s for n, s in schemas.items() if "enum" in s}
    assert enumerations or name == "metrics"
    for schema_name, schema in enumerations.items():
        labels = schema.get("x-enum-labels")
        if labels is None:
            continue
        assert list(labels) == schema["enum"], schema_name
        assert all(labels.values()), schema_name
        assert "取值（代码或中文名称均可）" in schema["description"], schema_name
    wanted = {
        "intake": ("Programme", "service_complex", "服务职工综合体"),
        "review": ("ExclusionRule", "E2", "拖欠职工工资"),
        "registry": ("UnitStatus", "certified", "已认定"),
        "metrics": None,
    }[name]
    if wanted is not None:
        schema_name, code, label = wanted
        assert schemas[schema_name]["x-enum-labels"][code] == label
