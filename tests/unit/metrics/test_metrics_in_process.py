"""The metrics service's API and command path in this process, on the in-memory unit of work:
the city federation changes a target (over the baseline of targets.toml, saying why), a retry
records it once, and everyone else, and every bad value, is refused with the field named in
Chinese and English. Neither PostgreSQL nor Kafka."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from huigong_metrics.app import create_app
from huigong_metrics.handlers import Targets
from huigong_metrics.policy import POLICY
from huigong_platform.application import CommandPath
from huigong_platform.settings import Settings
from huigong_platform.unit_of_work import MemoryState, in_memory_units

from ...inprocess import as_, in_process
from .memory import MemoryBaselines

CITY = as_("city:staff01")


@pytest.fixture
def state() -> MemoryState:
    return MemoryState()


@pytest.fixture
async def client(state: MemoryState) -> AsyncIterator[httpx.AsyncClient]:
    commands = CommandPath(POLICY, Targets(MemoryBaselines().of).handlers(), in_memory_units(state))
    settings = Settings(service="metrics", database_url="postgresql://nobody@127.0.0.1:1/none")
    async with in_process(create_app(settings), commands) as client:
        yield client


async def change(
    client: httpx.AsyncClient, metric: str, body: dict[str, Any], headers: dict[str, str] | None = None
) -> httpx.Response:
    return await client.put(f"/api/targets/{metric}", json=body, headers=CITY if headers is None else headers)


async def test_the_city_changes_a_target_over_the_plans_value_and_a_resend_records_it_once(
    client: httpx.AsyncClient, state: MemoryState
) -> None:
    body = {"value": 450000, "reason": "上调全市入会目标"}
    first = await change(client, "members_enrolled", body, {**CITY, "Idempotency-Key": "raise-1"})
    assert first.status_code == 200, first.text
    answer = first.json()
    # The old value is the plan's 40万 from targets.toml.
    assert (answer["old_value"], answer["new_value"]) == (400000, 450000)
    assert (answer["area"], answer["year"], answer["changed_by"], answer["version"]) == (
        "370200",
        None,
        "city:staff01",
        1,
    )
    again = await change(client, "members_enrolled", body, {**CITY, "Idempotency-Key": "raise-1"})
    assert again.json() == answer and again.headers["Idempotent-Replayed"] == "true"
    # A second change starts from the first; setting the value in force again is refused.
    second = await change(client, "members_enrolled", {"value": 420000, "reason": "回调"})
    assert second.status_code == 200 and second.json()["old_value"] == 450000
    assert second.json()["version"] == 2
    same = await change(client, "members_enrolled", {"value": 420000, "reason": "回调"})
    assert same.status_code == 422 and same.json()["errors"][0]["field"] == "value"
    assert [e.type for e in state.events] == ["TargetChanged", "TargetChanged"]
    assert {e.actor for e in state.events} == {"city:staff01"}


async def test_a_district_target_the_plan_does_not_set_starts_from_none(client: httpx.AsyncClient) -> None:
    response = await change(
        client, "members_enrolled", {"area": "370214", "value": 10, "reason": "下达区级入会目标"}
    )
    assert response.status_code == 200, response.text
    assert (response.json()["old_value"], response.json()["new_value"]) == (None, 10)


async def test_only_the_city_federation_changes_targets(
    client: httpx.AsyncClient, state: MemoryState
) -> None:
    body = {"value": 500000, "reason": "调整"}
    for who in ("district:370202", "registrar:city01", "viewer:prometheus"):
        refused = await change(client, "members_enrolled", body, as_(who))
        assert refused.status_code == 403, refused.text
        assert all(e["zh"] and e["en"] for e in refused.json()["errors"])
    assert (await change(client, "members_enrolled", body, {})).status_code == 401
    assert state.events == []


@pytest.mark.parametrize(
    ("metric", "body", "field"),
    [
        ("service_complex_share", {"value": 60, "year": 2023, "reason": "调整"}, "value"),
        ("members_enrolled", {"value": -1, "reason": "调整"}, "value"),
        ("members_enrolled", {"value": 400000, "reason": "调整"}, "value"),  # the plan's value
        ("members_enrolled", {"value": 10.5, "reason": "调整"}, "value"),
        ("members_enrolled", {"area": "999999", "value": 5, "reason": "调整"}, "area"),
        ("members_enrolled", {"value": 5, "year": 2019, "reason": "调整"}, "year"),
        ("members_enrolled", {"value": 5}, "reason"),
    ],
)
async def test_a_bad_change_is_refused_naming_its_field_and_records_nothing(
    client: httpx.AsyncClient, state: MemoryState, metric: str, body: dict[str, Any], field: str
) -> None:
    response = await change(client, metric, body)
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert field in {e["field"] for e in errors}
    assert all(e["zh"] and e["en"] for e in errors)
    assert state.events == []


async def test_an_unknown_metric_is_answered_as_none(client: httpx.AsyncClient) -> None:
    response = await change(client, "no_such_metric", {"value": 5, "reason": "调整"})
    assert response.status_code == 404 and response.json()["errors"][0]["field"] == "metric"


def changed(response: httpx.Response) -> list[tuple[str, str, int | None, int]]:
    return [(c["area"], c["area_label"], c["old_value"], c["new_value"]) for c in response.json()["changed"]]


async def test_the_city_shares_a_target_among_districts_and_group_unions_all_or_nothing(
    client: httpx.AsyncClient, state: MemoryState
) -> None:
    def shares(*rows: tuple[str, object]) -> dict[str, Any]:
        return {
            "year": 2026,
            "shares": [{"area": a, "value": v} for a, v in rows],
            "reason": "按职工人数分解",
        }

    # A district may not share the city's target out, nor may anyone else.
    for who in ("district:370202", "registrar:city01", "viewer:prometheus"):
        refused = await client.put(
            "/api/targets/members_enrolled/shares", json=shares(("370202", 10)), headers=as_(who)
        )
        assert refused.status_code == 403, (who, refused.text)
    # Every bad share is named by its position; nothing is recorded, not even the good ones.
    bad = await client.put(
        "/api/targets/members_enrolled/shares",
        json=shares(("市南区", 10), ("370200", 5), ("370299", 3), ("370202", 4), ("G-HAIER", 2.5)),
        headers=CITY,
    )
    assert bad.status_code == 422, bad.text
    assert [e["field"] for e in bad.json()["errors"]] == [
        "shares.1.area",
        "shares.2.area",
        "shares.3.area",
        "shares.4.value",
    ]
    assert all(e["zh"] and e["en"] for e in bad.json()["errors"])
    assert state.events == []

    done = await client.put(
        "/api/targets/members_enrolled/shares",
        json=shares(("市南区", 10), ("370283", 6), ("G-HAIER", 4)),
        headers={**CITY, "Idempotency-Key": "share-2026"},
    )
    assert done.status_code == 200, done.text
    assert changed(done) == [
        ("370202", "市南区", None, 10),
        ("370283", "平度市", None, 6),
        ("G-HAIER", "海尔集团", None, 4),
    ]
    assert [(e.aggregate_id, e.actor) for e in state.events] == [
        ("members_enrolled/370202/2026", "city:staff01"),
        ("members_enrolled/370283/2026", "city:staff01"),
        ("members_enrolled/G-HAIER/2026", "city:staff01"),
    ]
    # Shares listed again unchanged record nothing; a changed one moves on from its last value.
    again = await client.put(
        "/api/targets/members_enrolled/shares", json=shares(("370202", 10), ("370283", 8)), headers=CITY
    )
    assert changed(again) == [("370283", "平度市", 6, 8)]
    same = await client.put("/api/targets/members_enrolled/shares", json=shares(("370202", 10)), headers=CITY)
    assert same.status_code == 422 and same.json()["errors"][0]["field"] == "shares"
    assert len(state.events) == 4
