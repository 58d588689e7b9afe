"""公益伙伴 end to end, on the real broker and database: an approved 关爱职工公益伙伴 application
becomes a partner (with the type its 附件5 form gives and its district), listed among the partners
and not among the units; a registrar ends it (退出) once. And an approval that reaches the
registry before its application is neither lost nor taken for a unit: it waits for the
application and is then registered as of the day it was approved.

The first test runs real intake, review and registry processes. The second needs the approval to
arrive first, which real services never guarantee either way, so it publishes the two events
itself, in that order, to a registry process of its own (own database and topic prefix: no other
service sees these records)."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from huigong_events.envelope import RecordedEvent, seal, to_kafka
from huigong_events.forms import Organisation, PartnerCategory, WelfarePartnerForm
from huigong_events.intake import ApplicationSubmitted
from huigong_events.reference import DISTRICTS, Programme
from huigong_events.review import ConstructionApproved
from huigong_events.topics import topic_for_aggregate
from huigong_intake.domain.identity import CREDIT_CODE_CHARS, credit_check_char
from huigong_platform import database
from huigong_platform.database import create_pool
from huigong_platform.kafka import ensure_topics
from huigong_platform.settings import SERVICES
from huigong_registry.domain.certification import unit_id_of_application
from huigong_registry.domain.dates import beijing_day
from huigong_registry.domain.partners import partner_id_of_application
from huigong_testkit.factories import authentic

from ..conftest import Stack, delete_topics, drop_run_database
from ..forms import opinion, partner_form, variant
from .processes import TEST_PORTS, ServiceProcess, artefacts_dir, running
from .test_review import (
    YEAR,
    chair,
    eventually,
    key,
    reviewer,
    scores,
    screened,
    selected_with_plans,
    today,
    types,
)

REGISTRAR = {"X-Huigong-Principal": "registrar:city01"}
DISTRICT = "370283"  # 平度市: no other test submits from it
LONE_DISTRICT = "370285"  # 莱西市, in the registry of its own
Services = tuple[ServiceProcess, ...]

# These modules follow a unit from approval to certification in one sitting: no minimum building
# time (the one-year default is the domain's tests' and test_registry's certification-date test's).
BUILT: Final = {"HUIGONG_MIN_BUILDING_YEARS": "0"}


@pytest.fixture(scope="module")
async def services(stack: Stack) -> AsyncIterator[Services]:
    # The client fixtures of tests/integration/conftest.py talk to these processes.
    async with running(stack, ("intake", "review", "registry"), 150, "registry-partners", BUILT) as procs:
        yield procs


# --- forms and listings ------------------------------------------------------------------------


def credit_code(prefix: str, district: str) -> str:
    """A fresh, valid unified social credit code (52…: a social organisation)."""
    body = "".join(random.choice(CREDIT_CODE_CHARS) for _ in range(9))
    first17 = f"{prefix}{district}{body}"
    return first17 + credit_check_char(first17)


def partner_application(district: str, category: PartnerCategory) -> dict[str, Any]:
    union = Organisation(name=f"{DISTRICTS[district]}总工会", credit_code=credit_code("81", district))
    name = f"青岛{uuid.uuid4().hex[:6]}智慧服务中心"
    form = variant(
        partner_form(),
        name=name,
        credit_code=credit_code("52", district),
        applicant_unit=union,
        category=category,
        partner_opinion=opinion(name),
        applicant_opinion=opinion(union.name),
        applicant_is_enterprise=False,  # a charity: accepted without screening an enterprise
    )
    return {"year": YEAR, "programme": "welfare_partner", "form": json.loads(form.model_dump_json())}


async def partners(registry: httpx.AsyncClient, **params: str) -> list[dict[str, Any]]:
    response = await registry.get("/partners", params={"page_size": "500", **params}, headers=REGISTRAR)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def partner_listed(registry: httpx.AsyncClient, partner_id: str, **params: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        return next((p for p in await partners(registry, **params) if p["partner_id"] == partner_id), None)

    return await eventually(probe, f"partner {partner_id} listed with {params}")


async def units_of_application(registry: httpx.AsyncClient, application_id: str) -> list[dict[str, Any]]:
    response = await registry.get("/units", params={"page_size": "500"}, headers=REGISTRAR)
    assert response.status_code == 200, response.text
    return [u for u in response.json()["items"] if u["application_id"] == application_id]


# --- the lifecycle -----------------------------------------------------------------------------


async def test_an_approved_partner_application_is_listed_as_a_partner_not_a_unit_and_exits_once(
    intake: httpx.AsyncClient,
    review: httpx.AsyncClient,
    registry: httpx.AsyncClient,
    review_db: asyncpg.Pool,
) -> None:
    body = partner_application(DISTRICT, PartnerCategory.技术支持)
    submitter = {"X-Huigong-Principal": f"district:{DISTRICT}"}
    response = await intake.post("/applications", json=body, headers={**submitter, **key()})
    assert response.status_code == 201, response.text
    application_id: str = response.json()["application_id"]
    assert types(await screened(review_db, application_id)) == ["ApplicationAccepted"]

    base = f"/applications/{application_id}"
    await selected_with_plans(intake, review, application_id, submitter)
    for who, total in (("city/a", 86), ("370203/b", 88), ("G-HAIER/c", 85)):
        response = await review.post(f"{base}/scores", json=scores(total), headers={**reviewer(who), **key()})
        assert response.status_code == 201, response.text
    decision = {"decision": "approve", "period_start": today().isoformat()}
    response = await review.post(f"{base}/decision", json=decision, headers={**chair("city/chair"), **key()})
    assert response.status_code == 201, response.text

    # A partner, with the type and district of its 附件5 form, approved today.
    partner_id = str(partner_id_of_application(uuid.UUID(application_id)))
    partner = await partner_listed(registry, partner_id, origin="application", area=DISTRICT)
    assert partner["name"] == body["form"]["name"] and partner["credit_code"] == body["form"]["credit_code"]
    assert partner["category"] == "tech_provider" and partner["category_label"] == "技术支持机构"
    assert partner["area"] == DISTRICT and partner["application_id"] == application_id
    assert partner["status"] == "active" and partner["registered_on"] == today().isoformat()
    assert partner["exited_on"] is None
    assert [p["partner_id"] for p in await partners(registry, category="tech_provider", area=DISTRICT)] == [
        partner_id
    ]

    # Not a unit: no unit of this application, none of the programme from any application.
    assert await units_of_application(registry, application_id) == []
    response = await registry.get("/units?programme=welfare_partner&origin=application", headers=REGISTRAR)
    assert response.status_code == 200 and response.json()["total"] == 0, response.text
    response = await registry.post(
        f"/units/{unit_id_of_application(uuid.UUID(application_id))}/certification",
        json={},
        headers={**REGISTRAR, **key()},
    )
    assert response.status_code == 404, response.text

    # Ended by a registrar, not by the district; not before it was registered; once.
    exit_path = f"/partners/{partner_id}/exit"
    reason = {"reason": "伙伴单位申请退出纽带计划"}
    response = await registry.post(exit_path, json=reason, headers={**submitter, **key()})
    assert response.status_code == 403, response.text
    early = (today() - timedelta(days=1)).isoformat()
    response = await registry.post(
        exit_path, json={**reason, "exited_on": early}, headers={**REGISTRAR, **key()}
    )
    assert response.status_code == 422, response.text
    (error,) = response.json()["errors"]
    assert error["field"] == "exited_on" and "登记日期" in error["zh"] and "registered_on" in error["en"]

    response = await registry.post(exit_path, json=reason, headers={**REGISTRAR, **key()})
    assert response.status_code == 201, response.text
    assert response.json()["exited_on"] == today().isoformat()
    exited = await partner_listed(registry, partner_id, status="exited")
    assert exited["exited_on"] == today().isoformat() and exited["status_reason"] == reason["reason"]
    assert partner_id not in [p["partner_id"] for p in await partners(registry, status="active")]

    response = await registry.post(exit_path, json=reason, headers={**REGISTRAR, **key()})
    assert response.status_code == 409, response.text
    (error,) = response.json()["errors"]
    assert "已于" in error["zh"] and "already exited" in error["en"]
    response = await registry.post(
        f"/partners/{uuid.uuid4()}/exit", json=reason, headers={**REGISTRAR, **key()}
    )
    assert response.status_code == 404, response.text


# --- an approval before its application -------------------------------------------------------


@pytest.fixture(scope="module")
async def lone_stack(stack_env: dict[str, str]) -> AsyncIterator[Stack]:
    """A database and topic prefix for the registry of its own."""
    own = Stack(stack_env, uuid.uuid4().hex[:10])
    root = stack_env["HUIGONG_PG_ADMIN_DSN"]
    await database.create_database(root, own.database)
    try:
        await database.provision(own.admin_dsn, {svc: own.password(svc) for svc in SERVICES})
        for svc in SERVICES:
            await database.migrate(own.dsn(svc), svc)
        await asyncio.wait_for(ensure_topics(own.bootstrap, own.topic_prefix), 60)
        yield own
    finally:
        await drop_run_database(stack_env, own.database)
        await delete_topics(own.bootstrap, own.topic_prefix)


@pytest.fixture(scope="module")
async def lone_registry(lone_stack: Stack) -> AsyncIterator[ServiceProcess]:
    proc = ServiceProcess(
        "registry", TEST_PORTS["registry"] + 160, artefacts_dir() / "registry-partners-lone.log"
    )
    proc.start(lone_stack)
    try:
        await proc.wait_status(200)
        yield proc
    finally:
        proc.kill()


def sealed(
    event: ApplicationSubmitted | ConstructionApproved, aggregate: str, at: datetime, actor: str
) -> RecordedEvent:
    assert type(event).aggregate_type == aggregate
    return seal(
        event=event,
        event_id=uuid.uuid4(),
        aggregate_id=str(event.application_id),
        aggregate_version=1,
        occurred_at=at,
        recorded_at=at,
        actor=actor,
        source=LONE_DISTRICT if aggregate == "application" else "review",
        correlation_id=str(uuid.uuid4()),
        causation_id=None,
        prev_hash=None,
    )


async def publish(stack: Stack, record: RecordedEvent) -> tuple[str, int, int]:
    topic = topic_for_aggregate(record.aggregate_type).qualified(stack.topic_prefix)
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        record_key, value, headers = to_kafka(authentic(record))
        sent = await producer.send_and_wait(topic, value=value, key=record_key, headers=headers)
    finally:
        await producer.stop()
    return topic, sent.partition, sent.offset


async def test_an_approval_that_arrives_before_its_application_waits_for_it(
    lone_stack: Stack, lone_registry: ServiceProcess
) -> None:
    application_id = uuid.uuid4()
    body = partner_application(LONE_DISTRICT, PartnerCategory.新闻媒体)
    application = ApplicationSubmitted(
        application_id=application_id,
        year=YEAR,
        programme=Programme.公益伙伴,
        submitter=LONE_DISTRICT,
        form=WelfarePartnerForm.model_validate(body["form"]),
    )
    approval = ConstructionApproved(
        application_id=application_id,
        unit_name=body["form"]["name"],
        credit_code=body["form"]["credit_code"],
        programme=Programme.公益伙伴,
        submitter=LONE_DISTRICT,
        period_start=today(),
        period_end=today() + timedelta(days=3 * 365),
        score_average="86.33",
    )
    # Approved two days ago; the application was submitted before that, but reaches the
    # registry only now.
    approved_at = datetime.now(UTC) - timedelta(days=2)
    approved = sealed(approval, "review", approved_at, "chair:city/chair")
    submitted = sealed(
        application, "application", approved_at - timedelta(days=30), f"district:{LONE_DISTRICT}"
    )
    partner_id = str(partner_id_of_application(application_id))

    pool = await create_pool(lone_stack.dsn("registry"), "registry")
    try:
        async with lone_registry.client() as registry:
            topic, partition, offset = await publish(lone_stack, approved)
            await eventually(
                lambda: pool.fetchval(
                    """SELECT true FROM checkpoints WHERE consumer = 'registry.review-decisions'
                       AND topic = $1 AND partition = $2 AND next_offset > $3""",
                    topic,
                    partition,
                    offset,
                ),
                "the registry has read the approval",
            )
            # Not lost, not guessed: parked, neither a partner nor a unit yet.
            assert (
                await pool.fetchval(
                    "SELECT count(*) FROM approvals_awaiting_application WHERE application_id = $1",
                    application_id,
                )
                == 1
            )
            assert await partners(registry) == []
            assert await units_of_application(registry, str(application_id)) == []

            await publish(lone_stack, submitted)
            partner = await partner_listed(registry, partner_id)
            assert partner["category"] == "media" and partner["area"] == LONE_DISTRICT
            assert partner["name"] == body["form"]["name"] and partner["origin"] == "application"
            # As of the approval, not of the day the application finally arrived.
            assert partner["registered_on"] == beijing_day(approved_at).isoformat()
            assert await units_of_application(registry, str(application_id)) == []

        recorded = await pool.fetch(
            "SELECT type, causation_id, correlation_id FROM events WHERE aggregate_id = $1", partner_id
        )
        assert [r["type"] for r in recorded] == ["PartnerRegistered"]
        # Caused by the approval, in its correlation: the audit trail reads as if decided on arrival.
        assert recorded[0]["causation_id"] == str(approved.id)
        assert recorded[0]["correlation_id"] == approved.correlation_id
        assert await pool.fetchval("SELECT count(*) FROM approvals_awaiting_application") == 0
    finally:
        await pool.close()
