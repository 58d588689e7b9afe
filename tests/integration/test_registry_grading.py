"""绩效评估、分级评定 and the public 服务项目集群 end to end, on the real broker and database: a new
服务职工基地 handles matters that workers rate, a district reports its facility and project through
intake, and the city's staff evaluate it: the figures come from those events with their sources,
the grade shows on the public page and in its JSON, and the figures read back from the Kafka topics
as of the evaluation equal the recorded ones although a matter dated within the year was recorded
after. A partner graded D twice is proposed for exit, its union files a statement, a registrar
confirms the exit and its project leaves the cluster; a scheme set for a later year leaves the
recorded grades as they were."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from playwright.async_api import expect

from huigong_events.base import DomainEvent
from huigong_events.envelope import RecordedEvent
from huigong_events.grading import ResourceGraded
from huigong_events.matters import MatterRated
from huigong_events.reading import decode_record
from huigong_events.reference import FacilityKind, Programme
from huigong_events.topics import topic_for_aggregate
from huigong_intake.domain.identity import CREDIT_CODE_CHARS, credit_check_char
from huigong_registry import seed
from huigong_registry.domain import grading
from huigong_registry.domain.cohort import SERVICE_BASES, SERVICE_CENTRES
from huigong_registry.domain.dates import BEIJING

from ..conftest import Stack
from .browser import chromium
from .frontdoor import front_door
from .processes import ServiceProcess, artefacts_dir, running
from .test_ops import cli
from .test_review import eventually, key

Services = tuple[ServiceProcess, ...]
AREA = "370214"  # 城阳区
REGISTRAR = {"X-Huigong-Principal": "registrar:city01"}
CITY = {"X-Huigong-Principal": "city:staff01"}
UNION = {"X-Huigong-Principal": f"district:{AREA}"}
VIEWER = {"X-Huigong-Principal": "viewer:board"}
CENTRE = next(c for c in SERVICE_CENTRES if c.area == AREA)


@pytest.fixture(scope="module")
async def services(stack: Stack) -> AsyncIterator[Services]:
    # The client fixtures of tests/integration/conftest.py talk to these processes.
    async with running(stack, ("intake", "registry", "metrics"), 2500, "registry-grading") as procs:
        yield procs


@pytest.fixture(scope="module")
async def centres(services: Services) -> None:
    """The centres and bases as huigong-seed registers them (another module may have)."""
    async with services[1].client() as client:
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


def credit_code(prefix: str) -> str:
    body = "".join(random.choice(CREDIT_CODE_CHARS) for _ in range(9))
    first17 = f"{prefix}{AREA}{body}"
    return first17 + credit_check_char(first17)


async def post(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], who: dict[str, str]
) -> dict[str, Any]:
    response = await client.post(path, json=body, headers={**who, **key()})
    assert response.status_code == 201, response.text
    found: dict[str, Any] = response.json()
    return found


async def report(intake: httpx.AsyncClient, name: str, credit: str, facility: bool) -> None:
    """A district reports the base's facility, and a project of the base or partner, at intake."""
    if facility:
        await post(
            intake,
            "/facilities",
            {
                "facility_kind": FacilityKind.服务职工基地.value,
                "name": f"{name}活动中心",
                "area": AREA,
                "host_unit": name,
                "host_credit_code": credit,
                "opened_on": "2025-09-01",
            },
            UNION,
        )
    await post(
        intake,
        "/service-projects",
        {
            "name": f"{name}职工心理讲座",
            "field": "counselling",
            "provider": name,
            "provider_credit_code": credit,
            "area": AREA,
            "description": "每月一次面向职工的心理健康讲座",
        },
        UNION,
    )


@pytest.fixture
async def public(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    """The registry with no key at all, as a worker's browser or 惠工和畅 reaches it."""
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{services[1].port}", timeout=30) as client:
        yield client


async def cluster_entry(public: httpx.AsyncClient, name: str) -> dict[str, Any] | None:
    """The project of `name` in the public JSON."""
    listing = await public.get("/project-cluster/projects.json", params={"area": "城阳区"})
    assert listing.status_code == 200, listing.text
    found = [p for p in listing.json()["projects"] if p["provider"]["name"] == name]
    return found[0] if found else None


async def topic_events(stack: Stack, aggregates: tuple[str, ...]) -> list[tuple[RecordedEvent, DomainEvent]]:
    """Every event of the registry's topics that carry `aggregates`, read from Kafka as an auditor
    reads them (the order of one aggregate's events is its partition's)."""
    names = sorted({stack.topic_prefix + topic_for_aggregate(a).name for a in aggregates})
    consumer = AIOKafkaConsumer(
        *names, bootstrap_servers=stack.bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    found: list[tuple[RecordedEvent, DomainEvent]] = []
    try:
        while batch := await consumer.getmany(timeout_ms=2000):
            for records in batch.values():
                found += [decode_record(r.value, list(r.headers)) for r in records if r.value is not None]
    finally:
        await consumer.stop()
    return found


async def test_a_base_is_graded_from_its_events_shown_in_the_public_cluster_and_its_figures_replay(
    stack: Stack,
    centres: None,
    intake: httpx.AsyncClient,
    registry: httpx.AsyncClient,
    metrics: httpx.AsyncClient,
    public: httpx.AsyncClient,
) -> None:
    # Last year, evaluated as of its last day: its matters are all in the past whatever the day
    # the suite runs (the base's facility opened 2025-09-01, its service item was listed
    # 2025-07-01). Its project is listed today, so last year's figures count none.
    year = datetime.now(BEIJING).year - 1
    end_of_year = f"{year}-12-31"
    name = f"青岛{uuid.uuid4().hex[:6]}职工服务基地"
    credit = credit_code("91")
    registered = await post(
        registry,
        "/units",
        {
            "name": name,
            "programme": Programme.服务职工基地.value,
            "area": AREA,
            "credit_code": credit,
            "origin": "application",
            "application_id": str(uuid.uuid4()),
            "registered_on": "2025-06-01",
            "period_start": "2025-06-01",
        },
        REGISTRAR,
    )
    base_id = registered["id"]
    item = await post(
        registry,
        "/service-items",
        {
            "name": f"{name}心理疏导",
            "category": "counselling",
            "providers": [str(CENTRE.id), base_id],
            "time_limit_days": 5,
            "steps": ["登记诉求", "心理咨询"],
            "listed_on": "2025-07-01",
        },
        REGISTRAR,
    )

    async def matter(received: str, accepted: str, closed: str, score: int) -> None:
        body = {
            "item_id": item["item_id"],
            "channel": "phone",
            "requester": {"name": "李红", "phone": "13912345678"},
            "request": "想预约心理咨询",
            "received_on": received,
        }
        matter_id = (await post(registry, "/matters", body, UNION))["matter_id"]
        path = f"/matters/{matter_id}"
        await post(
            registry,
            f"{path}/transfers",
            {"to": base_id, "reason": "由基地承办", "transferred_on": received},
            UNION,
        )
        await post(registry, f"{path}/acceptance", {"accepted_on": accepted}, UNION)
        await post(
            registry, f"{path}/closure", {"outcome": "declined", "note": "转介", "closed_on": closed}, UNION
        )
        await post(registry, f"{path}/rating", {"score": score, "rated_on": closed}, UNION)

    await matter(f"{year}-09-02", f"{year}-09-03", f"{year}-09-04", 5)
    await matter(f"{year}-10-09", f"{year}-10-10", f"{year}-11-07", 1)
    await report(intake, name, credit, facility=True)
    # A project of a provider that is neither a base nor a partner stays out of the cluster.
    await report(intake, f"青岛{uuid.uuid4().hex[:6]}咨询公司", credit_code("91"), facility=False)

    async def reported() -> bool:
        listed = await registry.get("/service-projects", params={"area": AREA}, headers=VIEWER)
        return any(p["provider"] == name for p in listed.json()["items"])

    await eventually(reported, "the project listed in the 服务项目库")
    before = await eventually(lambda: cluster_entry(public, name), "the project in the public cluster")
    assert before["provider"]["grade"] is None and before["provider"]["on_probation"] is True

    async def dashboard_row() -> dict[str, Any]:
        body = (await metrics.get("/api/grading")).json()
        (row,) = [a for a in body["areas"] if a["area"] == AREA]
        found: dict[str, Any] = row
        return found

    async def counted() -> dict[str, Any] | None:
        row = await dashboard_row()
        return row if row["probation"] >= 1 else None

    before_grade = await eventually(counted, "the new base counted on the dashboard")

    bad = await registry.post(
        f"/grading/{base_id}/evaluations",
        json={"year": year, "evaluated_on": end_of_year, "social": {"score": "很好", "evidence": "媒体报道"}},
        headers={**CITY, **key()},
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "social.score"
    graded = await post(
        registry,
        f"/grading/{base_id}/evaluations",
        {
            "year": year,
            "evaluated_on": end_of_year,
            "social": {"score": 90, "evidence": "即墨区总工会推荐；《青岛日报》报道"},
        },
        CITY,
    )
    figures = {f["figure"]: f for d in graded["dimensions"] for f in d["figures"]}
    assert figures["matters_handled"]["value"] == "2.00" and figures["projects_listed"]["value"] == "0.00"
    assert figures["facilities_open"]["value"] == "1.00"
    assert (figures["closed_on_time"]["value"], figures["closed_late"]["value"]) == ("1.00", "1.00")
    assert (figures["satisfied"]["value"], figures["complaints"]["value"]) == ("1.00", "1.00")
    # Each figure names the events it counts: they are the registry's own.
    sources = [uuid.UUID(s) for f in figures.values() for s in f["sources"]]
    pool = await asyncpg.create_pool(stack.dsn("registry"), min_size=1, max_size=1)
    try:
        types = {
            r["id"]: r["type"]
            for r in await pool.fetch("SELECT id, type FROM events WHERE id = ANY($1)", sources)
        }
    finally:
        await pool.close()
    assert {types[uuid.UUID(s)] for s in figures["matters_handled"]["sources"]} == {"MatterAccepted"}
    assert {types[uuid.UUID(s)] for s in figures["satisfied"]["sources"]} == {"MatterRated"}
    assert len(types) == len(set(sources))

    read = await registry.get(f"/grading/{base_id}", headers=VIEWER)
    assert read.status_code == 200, read.text
    record = read.json()
    assert (
        record["current_grade"]["grade"] == graded["grade"]
        and record["grades"][0]["score"] == graded["score"]
    )
    assert record["grades"][0]["dimensions"] == graded["dimensions"]

    async def graded_in_cluster() -> dict[str, Any] | None:
        entry = await cluster_entry(public, name)
        return entry if entry and entry["provider"]["grade"] == graded["grade"] else None

    entry = await eventually(graded_in_cluster, "the grade in the public cluster")

    async def dashboard_graded() -> dict[str, Any] | None:
        row = await dashboard_row()
        return row if row[graded["grade"]] == before_grade[graded["grade"]] + 1 else None

    after_grade = await eventually(dashboard_graded, "the grade in the dashboard's 分级评定 figures")
    assert after_grade["ungraded"] == before_grade["ungraded"] - 1
    assert after_grade["bases"] == before_grade["bases"]
    assert entry["provider"]["grade_year"] == year and entry["field_label"] == "心理疏导"
    page = await public.get("/project-cluster/", params={"field": "心理疏导", "area": AREA})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert f"{name}职工心理讲座" in page.text and entry["provider"]["grade_label"] in page.text
    assert "咨询公司" not in page.text and "13912345678" not in page.text and "李红" not in page.text
    refused = await public.get("/project-cluster/projects.json", params={"field": "烹饪"})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "field"

    # A matter dated within the year, recorded after the evaluation: read back from the topics as
    # of the evaluation, the figures are the recorded ones.
    await matter(f"{year}-11-10", f"{year}-11-11", f"{year}-11-12", 5)

    async def replayed() -> list[tuple[RecordedEvent, DomainEvent]] | None:
        events = await topic_events(stack, ("matter", "facility", "grading", "evaluation-scheme"))
        later = [
            e for _, e in events if isinstance(e, MatterRated) and e.rated_on.isoformat() == f"{year}-11-12"
        ]
        ours = [(r, e) for r, e in events if isinstance(e, ResourceGraded) and str(e.subject_id) == base_id]
        return events if later and ours else None

    events = await eventually(replayed, "the evaluation and the later matter on the topics")
    ((graded_record, recorded),) = [
        (r, e) for r, e in events if isinstance(e, ResourceGraded) and str(e.subject_id) == base_id
    ]
    assert isinstance(recorded, ResourceGraded)
    subject = grading.Subject(
        subject_id=uuid.UUID(base_id),
        kind=recorded.kind,
        name=name,
        area=AREA,
        credit_code=credit,
        registered_on=date(2025, 6, 1),
        enters_on_probation=True,
        active=True,
    )
    measured = [(r, e) for r, e in events if r.type in grading.MEASURED_TYPES]
    schemes = [
        e for r, e in events if r.aggregate_type == grading.SCHEME_AGGREGATE and r.aggregate_id == str(year)
    ]
    scheme = grading.fold_scheme(year, schemes)
    assert scheme.version == recorded.scheme_version
    targets = scheme.scale_targets
    as_of = grading.Window.of(year, recorded.evaluated_on, graded_record.recorded_at)
    assert grading.measure(subject, as_of, targets, measured) == recorded.dimensions[:3]
    assert [d.model_dump(mode="json") for d in recorded.dimensions] == graded["dimensions"]
    now = grading.measure(subject, grading.Window.of(year, recorded.evaluated_on), targets, measured)
    assert now[0].figures[0].value == 3  # without the cut the later matter counts


async def test_a_partner_graded_d_twice_exits_on_a_registrars_word_and_leaves_the_cluster(
    stack: Stack, intake: httpx.AsyncClient, registry: httpx.AsyncClient, public: httpx.AsyncClient
) -> None:
    year = datetime.now(BEIJING).year
    name = f"青岛{uuid.uuid4().hex[:6]}公益服务社"
    credit = credit_code("52")
    partner = await post(
        registry,
        "/partners",
        {
            "name": name,
            "category": "charity",
            "area": AREA,
            "credit_code": credit,
            "registered_on": f"{year - 1}-03-01",
            "origin": "application",
            "application_id": str(uuid.uuid4()),
        },
        REGISTRAR,
    )
    partner_id = partner["id"]
    await report(intake, name, credit, facility=False)
    await eventually(lambda: cluster_entry(public, name), "the partner's project in the public cluster")

    past = await registry.put(
        f"/evaluation-schemes/{year - 1}",
        json={
            "weights": {"scale": 30, "efficiency": 25, "quality": 30, "social": 15},
            "bands": [{"grade": g, "min_score": m} for g, m in (("A", 85), ("B", 75), ("C", 60), ("D", 0))],
            "scale_targets": {"matters": 100, "projects": 3, "facilities": 1},
            "rectification_days": 90,
            "reason": "调整",
        },
        headers=CITY,
    )
    assert past.status_code == 422 and past.json()["errors"][0]["field"] == "year"

    first = await post(
        registry,
        f"/grading/{partner_id}/evaluations",
        {
            "year": year - 1,
            "evaluated_on": f"{year - 1}-12-31",
            "social": {"score": 10, "evidence": "项目停滞"},
        },
        CITY,
    )
    assert first["grade"] == "D" and first["scheme_version"] == 0
    assert [c["type"] for c in first["consequences"]] == ["RectificationOrdered"]
    await post(
        registry, f"/grading/{partner_id}/statement", {"statement": "换届期间项目暂停，已恢复。"}, UNION
    )

    # A later year's scheme: heavier on 社会效应; the grade recorded stays as computed.
    later = await registry.put(
        f"/evaluation-schemes/{year + 1}",
        json={
            "weights": {"scale": 20, "efficiency": 20, "quality": 20, "social": 40},
            "bands": [{"grade": g, "min_score": m} for g, m in (("A", 90), ("B", 80), ("C", 60), ("D", 0))],
            "scale_targets": {"matters": 50, "projects": 2, "facilities": 1},
            "rectification_days": 60,
            "reason": "领导小组决定提高社会效应权重",
        },
        headers=CITY,
    )
    assert later.status_code == 200, later.text
    scheme = await registry.get(f"/evaluation-schemes/{year + 1}", headers=VIEWER)
    assert scheme.json()["weights"]["social"] == 40 and scheme.json()["history"][0]["actor"] == "city:staff01"

    second = await post(
        registry,
        f"/grading/{partner_id}/evaluations",
        {"year": year, "social": {"score": 10, "evidence": "全年未开展项目"}},
        CITY,
    )
    assert second["grade"] == "D"
    (proposed,) = second["consequences"]
    assert proposed["type"] == "ExitProposed" and proposed["ground"] == "two_d_grades"
    confirmed = await post(
        registry,
        f"/grading/{partner_id}/exit-proposal/confirmation",
        {"reason": "连续两年不合格，经核实项目已停止"},
        REGISTRAR,
    )
    assert [c["type"] for c in confirmed["consequences"]] == ["PartnerExited"]

    record = (await registry.get(f"/grading/{partner_id}", headers=VIEWER)).json()
    assert record["status"] == "exited" and record["status_label"] == "已退出"
    assert [(g["year"], g["weights"]["social"], g["score"]) for g in record["grades"]] == [
        (year - 1, 15, first["score"]),
        (year, 15, second["score"]),
    ]
    steps = [(s["type"], s["actor"]) for s in record["steps"]]
    assert ("GradingStatementFiled", f"district:{AREA}") in steps
    assert ("ExitProposalConfirmed", "registrar:city01") in steps
    union_view = (await registry.get(f"/grading/{partner_id}", headers=UNION)).json()
    assert all(s["actor"] is None and s["actor_role_label"] for s in union_view["steps"])

    async def gone() -> bool:
        return await cluster_entry(public, name) is None

    await eventually(gone, "the exited partner's project out of the public cluster")

    # The grades' read models (the registry's, the dashboard's) rebuilt from the topics equal the
    # live ones.
    for service, consumer in (("registry", "registry.grading"), ("metrics", "metrics.grades")):
        replayed = await cli(
            "replay", "-s", service, "--consumer", consumer, "--json", "--no-progress",
            "--prefix", stack.topic_prefix, "--dsn", stack.admin_dsn, "--bootstrap", stack.bootstrap,
        )  # fmt: skip
        assert replayed.exit_code == 0, replayed.output
        (rebuilt,) = json.loads(replayed.stdout)["consumers"]
        assert rebuilt["consumer"] == consumer and rebuilt["equal"] and rebuilt["applied"] >= 4


async def test_a_worker_opens_the_cluster_page_through_the_front_door_in_chromium_and_filters_it(
    services: Services, intake: httpx.AsyncClient, registry: httpx.AsyncClient, public: httpx.AsyncClient
) -> None:
    name = f"青岛{uuid.uuid4().hex[:6]}社会工作服务中心"
    credit = credit_code("52")
    await post(
        registry,
        "/partners",
        {
            "name": name,
            "category": "charity",
            "area": AREA,
            "credit_code": credit,
            "registered_on": "2025-03-01",
            "origin": "application",
            "application_id": str(uuid.uuid4()),
        },
        REGISTRAR,
    )
    await report(intake, name, credit, facility=False)
    await eventually(lambda: cluster_entry(public, name), "the partner's project in the public cluster")
    with front_door(services[0].port) as door:
        async with chromium() as context:
            page = await context.new_page()
            # No key, no login: the page of the front door, in Chinese.
            await page.goto(f"{door.url}/project-cluster")
            await expect(page.get_by_role("heading", name="惠工“服务项目集群”")).to_be_visible(timeout=30_000)
            await page.get_by_label("服务领域").select_option(label="心理疏导")
            await page.get_by_label("区市").select_option(value=AREA)
            await page.get_by_role("button", name="筛选").click()
            await expect(page).to_have_url(f"{door.url}/project-cluster/?field=counselling&area={AREA}")
            row = page.get_by_role("row").filter(has_text=f"{name}职工心理讲座")
            await expect(row).to_contain_text("未评定")
            await expect(row).to_contain_text("试运行")
            await expect(row).to_contain_text("城阳区")
            await page.screenshot(path=str(artefacts_dir() / "project-cluster.png"), full_page=True)
            await page.get_by_role("link", name="JSON 数据").click()
            await expect(page.get_by_text(f"{name}职工心理讲座")).to_be_attached()
            # The dashboard counts the partner among its district's, in the 分级评定 table.
            await page.goto(f"{door.url}/dashboard/?area={AREA}")
            row = page.locator(f'[data-testid="grading-row"][data-area="{AREA}"]')
            await expect(row.locator('[data-figure="partners"]')).not_to_have_text("0", timeout=30_000)
            await expect(page.locator('[data-testid="grading-row"]')).to_have_count(1)
            await page.screenshot(path=str(artefacts_dir() / "dashboard-grading.png"), full_page=True)
