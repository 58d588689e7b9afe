"""Intake's API and command path in this process, on the in-memory unit of work: the same routes,
access guard, policy, idempotency and refusals as the running service, with neither PostgreSQL
nor Kafka. What a district system notices: a receipt, the same answer to a retry, a refusal for
a reused key, nothing about another district's application, and the same rules whether the
command came over HTTP or from its Kafka inbound topic."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from huigong_intake.app import create_app
from huigong_intake.commands import ReportFact, SubmitApplication
from huigong_intake.handlers import Intake
from huigong_intake.policy import POLICY
from huigong_intake.settings import IntakeSettings
from huigong_platform.application import CommandPath
from huigong_platform.principals import Principal, Role
from huigong_platform.refusals import Forbidden
from huigong_platform.unit_of_work import MemoryState, in_memory_units

from ...forms import complex_form
from ...inprocess import as_, in_process
from .memory import MemoryIntakeTables

YEAR = datetime.now(UTC).year + 1  # open now: its 30 June deadline is ahead
DISTRICT = as_("district:370202")
OTHER = as_("district:370203")
SECRET = "00" * 32


def application() -> dict[str, Any]:
    return {
        "year": YEAR,
        "programme": "service_complex",
        "form": json.loads(complex_form().model_dump_json()),
    }


def key(value: str | None = None) -> dict[str, str]:
    return {"Idempotency-Key": value or uuid.uuid4().hex}


@pytest.fixture
def state() -> MemoryState:
    return MemoryState()


@pytest.fixture
def commands(state: MemoryState) -> CommandPath:
    intake = Intake(MemoryIntakeTables().records, bytes.fromhex(SECRET))
    return CommandPath(POLICY, intake.handlers(), in_memory_units(state))


@pytest.fixture
async def client(commands: CommandPath) -> AsyncIterator[httpx.AsyncClient]:
    settings = IntakeSettings(
        service="intake",
        database_url="postgresql://nobody@127.0.0.1:1/none",
        member_key_secret=SECRET,
        personal_data_kek=SECRET,
    )
    async with in_process(create_app(settings), commands) as client:
        yield client


async def test_a_district_gets_a_receipt_and_a_retry_gets_the_same_answer(
    client: httpx.AsyncClient, state: MemoryState
) -> None:
    body, idempotency = application(), key()
    first = await client.post("/applications", json=body, headers={**DISTRICT, **idempotency})
    assert first.status_code == 201, first.text
    assert first.json()["receipt_no"] == f"{YEAR}-370202-00001"
    # The same JSON spelled in another key order is the same command.
    respelled = json.dumps(dict(reversed(list(body.items()))), ensure_ascii=False)
    retry = await client.post(
        "/applications",
        content=respelled,
        headers={**DISTRICT, **idempotency, "Content-Type": "application/json"},
    )
    assert retry.status_code == 201 and retry.json() == first.json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert [e.type for e in state.events] == ["ApplicationSubmitted"]
    assert state.events[0].actor == "district:370202"


async def test_a_reused_key_for_another_command_is_refused_and_records_nothing(
    client: httpx.AsyncClient, state: MemoryState
) -> None:
    idempotency = key()
    await client.post("/applications", json=application(), headers={**DISTRICT, **idempotency})
    other = {**application(), "year": YEAR + 1}
    reused = await client.post("/applications", json=other, headers={**DISTRICT, **idempotency})
    assert reused.status_code == 422
    assert reused.json()["errors"][0]["field"] == "Idempotency-Key"
    assert len(state.events) == 1


async def test_a_refused_command_records_nothing_and_its_key_stays_free(
    client: httpx.AsyncClient, state: MemoryState
) -> None:
    idempotency = key()
    bad = application()
    bad["form"]["pilot_name"] = "胶州市工会综合体"  # not "XXX—XXX建设"
    refused = await client.post("/applications", json=bad, headers={**DISTRICT, **idempotency})
    assert refused.status_code == 422
    assert any(e["field"] == "form.pilot_name" and e["zh"] and e["en"] for e in refused.json()["errors"])
    assert state.events == []
    fixed = await client.post("/applications", json=application(), headers={**DISTRICT, **idempotency})
    assert fixed.status_code == 201


async def test_another_districts_application_is_answered_as_none(client: httpx.AsyncClient) -> None:
    submitted = await client.post("/applications", json=application(), headers={**DISTRICT, **key()})
    application_id = submitted.json()["application_id"]
    withdrawal = {"reason": "重复申报，撤回"}
    path = f"/applications/{application_id}/withdrawal"
    theirs = await client.post(path, json=withdrawal, headers={**OTHER, **key()})
    missing = await client.post(
        f"/applications/{uuid.uuid4()}/withdrawal", json=withdrawal, headers={**OTHER, **key()}
    )
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json() == missing.json()
    own = await client.post(path, json=withdrawal, headers={**DISTRICT, **key()})
    assert own.status_code == 200 and own.json()["status"] == "withdrawn"
    again = await client.post(path, json=withdrawal, headers={**DISTRICT, **key()})
    assert again.status_code == 409


async def test_roles_are_refused_by_the_guard_before_anything_is_read(client: httpx.AsyncClient) -> None:
    reviewer = await client.post(
        "/applications", json=application(), headers={**as_("reviewer:city/wang"), **key()}
    )
    assert reviewer.status_code == 403
    assert (await client.post("/applications", json=application(), headers=key())).status_code == 401
    window = {
        "year": YEAR,
        "opens_at": datetime.now(UTC).isoformat(),
        "closes_at": (datetime.now(UTC) + timedelta(days=3)).isoformat(),
        "reason": "系统故障补报",
    }
    assert (
        await client.post("/submission-windows", json=window, headers={**DISTRICT, **key()})
    ).status_code == 403
    opened = await client.post("/submission-windows", json=window, headers={**as_("city:staff01"), **key()})
    assert opened.status_code == 201, opened.text


async def test_the_command_path_applies_the_same_policy_to_kafka_commands(
    commands: CommandPath, state: MemoryState
) -> None:
    # What the inbound consumer does with a district's record: the same command, the same rules.
    district = Principal(Role.DISTRICT, "370202")
    # Only the data exchange and the city federation report compliance facts.
    fact = ReportFact.model_validate(
        {
            "credit_code": "91370200163562681G",
            "unit_name": "青岛某某有限公司",
            "kind": "no_labour_contract_system",
            "occurred_on": "2024-03-01",
            "reported_by": "human_resources_social_security",
            "reported_on": "2024-03-05",
            "evidence_ref": "人社函〔2024〕12号",
        }
    )
    with pytest.raises(Forbidden):
        await commands.handle(fact, district, key="kafka:fact-1", correlation_id="fact-1")
    exchange = Principal(Role.EXCHANGE, "hrss")
    reported = await commands.handle(fact, exchange, key="fact-1", correlation_id="fact-1")
    assert reported.status_code == 201
    submit = SubmitApplication.model_validate(application())
    first = await commands.handle(submit, district, key="kafka:c-1", correlation_id="c-1")
    again = await commands.handle(submit, district, key="kafka:c-1", correlation_id="c-1")
    assert first.status_code == 201 and again.replayed and again.body == first.body
    assert sorted(e.type for e in state.events) == ["ApplicationSubmitted", "ComplianceFactReported"]
