"""A department corrects or withdraws its own compliance fact, with a reason, through intake's
real routes, policy and command path in this process (in-memory unit of work): the fact keeps
its id and its history; nobody else may touch it; a withdrawn fact is final."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from huigong_platform.unit_of_work import MemoryState

from ...inprocess import as_
from .test_intake_in_process import client as client
from .test_intake_in_process import commands as commands
from .test_intake_in_process import fact, key
from .test_intake_in_process import state as state

HOUSING = as_("exchange:housing")
CITY = as_("city:staff01")


@pytest.fixture
async def reported(client: httpx.AsyncClient) -> AsyncIterator[str]:
    response = await client.post("/compliance-facts", json=fact(), headers={**HOUSING, **key()})
    assert response.status_code == 201, response.text
    yield response.json()["id"]


def stream(state: MemoryState, fact_id: str) -> list[Any]:
    return state.streams[("compliance-fact", fact_id)]


async def test_the_reporting_department_corrects_its_fact_which_keeps_its_id_and_history(
    client: httpx.AsyncClient,
    state: MemoryState,
    reported: str,
) -> None:
    response = await client.post(
        f"/compliance-facts/{reported}/corrections",
        json={"settled_on": "2026-03-04", "reason": "欠薪已于3月4日结清，补报结清日期"},
        headers={**HOUSING, **key()},
    )
    assert response.status_code == 201, response.text
    corrected = response.json()
    assert corrected["fact_id"] == reported and corrected["settled_on"] == "2026-03-04"
    # What was not named stays as reported.
    assert corrected["evidence_ref"] == fact()["evidence_ref"] and corrected["kind"] == "wage_arrears"
    assert corrected["status_label"] == "已更正"
    assert [step["action_label"] for step in corrected["history"]] == ["报送", "更正"]
    assert corrected["history"][1]["reason"] == "欠薪已于3月4日结清，补报结清日期"
    assert [e.type for e in stream(state, reported)] == ["ComplianceFactReported", "ComplianceFactCorrected"]

    # A correction that changes nothing is refused; so is a type the department is not competent for.
    same = await client.post(
        f"/compliance-facts/{reported}/corrections",
        json={"settled_on": "2026-03-04", "reason": "再次报送"},
        headers={**HOUSING, **key()},
    )
    assert same.status_code == 422, same.text
    beyond = await client.post(
        f"/compliance-facts/{reported}/corrections",
        json={"kind": "accident_casualty", "reason": "改为伤亡事故"},
        headers={**HOUSING, **key()},
    )
    assert beyond.status_code == 403 and beyond.json()["errors"][0]["field"] == "kind"
    # Dates out of order: settled before it happened.
    disorder = await client.post(
        f"/compliance-facts/{reported}/corrections",
        json={"settled_on": "2026-02-01", "reason": "更正结清日期"},
        headers={**HOUSING, **key()},
    )
    assert disorder.status_code == 422 and disorder.json()["errors"][0]["field"] == "settled_on"
    # A correction needs a reason.
    silent = await client.post(
        f"/compliance-facts/{reported}/corrections", json={"settled_on": None}, headers={**HOUSING, **key()}
    )
    assert silent.status_code == 422 and silent.json()["errors"][0]["field"] == "reason"
    assert len(stream(state, reported)) == 2


async def test_only_the_reporting_department_may_correct_or_withdraw(
    client: httpx.AsyncClient,
    state: MemoryState,
    reported: str,
) -> None:
    body = {"reason": "处罚决定撤销"}
    # Another department, and the city for a fact it did not relay: as if there were no such fact.
    for other in (as_("exchange:human_resources_social_security"), CITY):
        response = await client.post(
            f"/compliance-facts/{reported}/withdrawal", json=body, headers={**other, **key()}
        )
        assert response.status_code == 404, response.text
        assert response.json()["errors"][0]["zh"] and response.json()["errors"][0]["en"]
    # A district or a registrar may not even ask.
    for role in ("district:370202", "registrar:city01"):
        response = await client.post(
            f"/compliance-facts/{reported}/withdrawal", json=body, headers={**as_(role), **key()}
        )
        assert response.status_code == 403, response.text
    assert len(stream(state, reported)) == 1

    # The city corrects what it relayed.
    relayed = await client.post(
        "/compliance-facts",
        json=fact("health_commission", "accident_occupational_disease", "青卫职罚字〔2026〕3号"),
        headers={**CITY, **key()},
    )
    assert relayed.status_code == 201, relayed.text
    response = await client.post(
        f"/compliance-facts/{relayed.json()['id']}/corrections",
        json={"evidence_ref": "青卫职罚字〔2026〕4号", "reason": "文号笔误"},
        headers={**as_("city:staff02"), **key()},
    )
    assert response.status_code == 201, response.text
    # …but the department it relayed for does not: the report was the city's.
    response = await client.post(
        f"/compliance-facts/{relayed.json()['id']}/withdrawal",
        json=body,
        headers={**as_("exchange:health_commission"), **key()},
    )
    assert response.status_code == 404, response.text


async def test_a_withdrawn_fact_is_final(
    client: httpx.AsyncClient,
    state: MemoryState,
    reported: str,
) -> None:
    idempotency = key()
    response = await client.post(
        f"/compliance-facts/{reported}/withdrawal",
        json={"reason": "处罚决定经行政复议撤销"},
        headers={**HOUSING, **idempotency},
    )
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "withdrawn" and response.json()["status_label"] == "已撤回"
    # A retry is the same answer; nothing new is recorded.
    retry = await client.post(
        f"/compliance-facts/{reported}/withdrawal",
        json={"reason": "处罚决定经行政复议撤销"},
        headers={**HOUSING, **idempotency},
    )
    assert retry.status_code == 201 and retry.json() == response.json()
    for path, body in (
        ("withdrawal", {"reason": "再次撤回"}),
        ("corrections", {"note": "补充说明", "reason": "补充"}),
    ):
        refused = await client.post(
            f"/compliance-facts/{reported}/{path}", json=body, headers={**HOUSING, **key()}
        )
        assert refused.status_code == 409, refused.text
    assert [e.type for e in stream(state, reported)] == ["ComplianceFactReported", "ComplianceFactWithdrawn"]
    # Its reference may be reported again: a new fact, recorded.
    again = await client.post("/compliance-facts", json=fact(), headers={**HOUSING, **key()})
    assert again.status_code == 201 and again.json()["id"] != reported, again.text
