"""绩效评估、分级评定 through the registry's API in this process, on the in-memory store: a base's
figures come from the matters it handled, their ratings, the facility and the project a district
reported through intake's real API; the grade follows the year's scheme; a D orders 整改, two D
grades or an overdue 整改 propose exit, which a registrar confirms or dismisses; a scheme changes
for a later year and never under a recorded grade; the recorded figures come back from the events
as of their date. Neither PostgreSQL nor Kafka."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from huigong_events.grading import ResourceGraded
from huigong_events.reference import FacilityKind, Programme
from huigong_events.upcasting import decode
from huigong_intake.app import create_app as create_intake
from huigong_intake.handlers import Intake
from huigong_intake.policy import POLICY as INTAKE_POLICY
from huigong_intake.settings import IntakeSettings
from huigong_platform.application import CommandPath
from huigong_platform.settings import Settings
from huigong_platform.unit_of_work import MemoryState, in_memory_units
from huigong_registry.app import create_app as create_registry
from huigong_registry.domain import grading
from huigong_registry.domain.cohort import PILOT_DATE, SERVICE_BASES, SERVICE_CENTRES
from huigong_registry.handlers import Registry
from huigong_registry.policy import POLICY as REGISTRY_POLICY

from ...inprocess import as_, in_process
from ..intake.memory import MemoryIntakeTables
from .memory import MemoryRegistryTables
from .test_registry_in_process import REGISTRAR, SECRET, World, key, today

CITY = as_("city:staff01")
DISTRICT = as_("district:370202")
CREDIT = "91370202MA3C5XKX0Y"
CENTRE = {entry.area: entry for entry in SERVICE_CENTRES}
SHIDAI_BASE = next(b for b in SERVICE_BASES if b.name == "青岛市市北区时代国际广场")  # 市北区, a 2022 pilot
BANDS = [{"grade": g, "min_score": m} for g, m in (("A", 85), ("B", 75), ("C", 60), ("D", 0))]


@pytest.fixture
async def world() -> AsyncIterator[World]:
    """The registry's and intake's real apps on one in-memory store, as in test_registry_in_process."""
    state = MemoryState()
    units = in_memory_units(state)
    tables = MemoryRegistryTables()
    nowhere = "postgresql://nobody@127.0.0.1:1/none"
    intake = Intake(MemoryIntakeTables().records, bytes.fromhex(SECRET))
    intake_settings = IntakeSettings(
        service="intake", database_url=nowhere, member_key_secret=SECRET, personal_data_kek=SECRET
    )
    async with (
        in_process(create_intake(intake_settings), CommandPath(INTAKE_POLICY, intake.handlers(), units)) as i,
        in_process(
            create_registry(Settings(service="registry", database_url=nowhere)),
            CommandPath(REGISTRY_POLICY, Registry(tables.records).handlers(), units),
        ) as r,
    ):
        yield World(i, r, state, units, tables)


def scheme(matters: int = 3, weights: tuple[int, int, int, int] = (30, 25, 30, 15)) -> dict[str, Any]:
    scale, efficiency, quality, social = weights
    return {
        "weights": {"scale": scale, "efficiency": efficiency, "quality": quality, "social": social},
        "bands": BANDS,
        "scale_targets": {"matters": matters, "projects": 3, "facilities": 1},
        "rectification_days": 60,
        "reason": "按领导小组意见调整",
    }


def evaluation(year: int, social: int, on: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "year": year,
        "social": {"score": social, "evidence": "青岛日报报道；区总工会推荐意见"},
    }
    if on is not None:
        body["evaluated_on"] = on
    return body


def figures(answer: dict[str, Any], dimension: str) -> dict[str, Any]:
    (found,) = [d for d in answer["dimensions"] if d["dimension"] == dimension]
    return {f["figure"]: f for f in found["figures"]} | {"score": found["score"]}


async def new_base(world: World) -> str:
    """A 服务职工基地 in 市南区 that came from an application: it enters on probation."""
    body = {
        "name": "青岛某某职工服务基地",
        "programme": Programme.服务职工基地.value,
        "area": "370202",
        "credit_code": CREDIT,
        "origin": "application",
        "application_id": str(uuid.uuid4()),
        "registered_on": "2025-06-01",
        "period_start": "2025-06-01",
    }
    registered = await world.registry.post("/units", json=body, headers={**REGISTRAR, **key()})
    assert registered.status_code == 201, registered.text
    unit_id: str = registered.json()["id"]
    return unit_id


async def matter_to(world: World, item_id: str, base_id: str, received: str, accepted: str) -> str:
    """Received at 市南区's centre and transferred to the base, which accepts it."""
    body = {
        "item_id": item_id,
        "channel": "walk_in",
        "requester": {"name": "王秀英", "phone": "13912345678"},
        "request": "想咨询心理疏导服务",
        "received_on": received,
    }
    received_answer = await world.registry.post("/matters", json=body, headers={**DISTRICT, **key()})
    assert received_answer.status_code == 201, received_answer.text
    matter_id: str = received_answer.json()["matter_id"]
    await act(
        world, matter_id, "transfers", {"to": base_id, "reason": "由基地承办", "transferred_on": received}
    )
    await act(world, matter_id, "acceptance", {"accepted_on": accepted})
    return matter_id


async def act(world: World, matter_id: str, what: str, body: dict[str, Any]) -> httpx.Response:
    answer = await world.registry.post(
        f"/matters/{matter_id}/{what}", json=body, headers={**DISTRICT, **key()}
    )
    assert answer.status_code == 201, answer.text
    return answer


async def test_a_new_base_is_graded_from_its_matters_ratings_facility_and_project_with_sources(
    world: World,
) -> None:
    await world.cohort()
    base_id = await new_base(world)
    item = {
        "name": "职工心理疏导",
        "category": "counselling",
        "providers": [str(CENTRE["370202"].id), base_id],
        "time_limit_days": 5,
        "steps": ["登记诉求", "心理咨询"],
        "listed_on": "2025-07-01",
    }
    listed = await world.registry.post("/service-items", json=item, headers={**REGISTRAR, **key()})
    assert listed.status_code == 201, listed.text
    item_id = listed.json()["item_id"]

    on_time = await matter_to(world, item_id, base_id, "2026-03-02", "2026-03-03")
    for step, day in (("登记诉求", "2026-03-03"), ("心理咨询", "2026-03-04")):
        await act(world, on_time, "steps", {"step": step, "done_on": day})
    await act(world, on_time, "closure", {"outcome": "resolved", "closed_on": "2026-03-05"})
    await act(world, on_time, "rating", {"score": 5, "rated_on": "2026-03-06"})
    late = await matter_to(world, item_id, base_id, "2026-04-01", "2026-04-02")
    await act(
        world, late, "closure", {"outcome": "declined", "note": "超出服务范围", "closed_on": "2026-04-20"}
    )
    await act(world, late, "rating", {"score": 2, "rated_on": "2026-04-21"})
    await matter_to(world, item_id, base_id, "2026-05-06", "2026-05-07")  # never closed: overdue

    facility = {
        "facility_kind": FacilityKind.服务职工基地.value,
        "name": "某某职工服务基地活动中心",
        "area": "370202",
        "host_unit": "青岛某某职工服务基地",
        "host_credit_code": CREDIT,
        "opened_on": "2025-09-01",
    }
    project = {
        "name": "职工心理健康讲座",
        "field": "counselling",
        "provider": "青岛某某职工服务基地",
        "provider_credit_code": CREDIT,
        "area": "370202",
        "description": "每月一次面向职工的心理健康讲座",
    }
    for path, body in (("/facilities", facility), ("/service-projects", project)):
        reported = await world.intake.post(path, json=body, headers={**DISTRICT, **key()})
        assert reported.status_code == 201, reported.text
    await world.tables.deliver(world.state, world.units)

    by_district = await world.registry.post(
        f"/grading/{base_id}/evaluations", json=evaluation(2026, 90), headers={**DISTRICT, **key()}
    )
    assert by_district.status_code == 403
    graded = await world.registry.post(
        f"/grading/{base_id}/evaluations", json=evaluation(2026, 90), headers={**CITY, **key()}
    )
    assert graded.status_code == 201, graded.text
    answer = graded.json()
    # 2026's scheme is the default (version 0): 100 matters, 3 projects and 1 facility score full marks.
    assert answer["scheme_version"] == 0 and answer["evaluated_on"] == today().isoformat()

    accepted = [e.id for e in world.state.streams[("matter", on_time)] if e.type == "MatterAccepted"]
    scale = figures(answer, "scale")
    assert scale["matters_handled"]["value"] == "3.00"
    assert str(accepted[0]) in scale["matters_handled"]["sources"]
    assert scale["projects_listed"]["value"] == "1.00" and scale["facilities_open"]["value"] == "1.00"
    assert scale["score"] == "45.44"  # (3/100 + 1/3 + 1/1) / 3
    efficiency = figures(answer, "efficiency")
    assert (efficiency["closed_on_time"]["value"], efficiency["closed_late"]["value"]) == ("1.00", "1.00")
    assert efficiency["overdue_open"]["value"] == "1.00" and efficiency["score"] == "33.33"
    quality = figures(answer, "quality")
    assert quality["rated"]["value"] == "2.00" and quality["complaints"]["value"] == "1.00"
    assert quality["average_satisfaction"]["value"] == "3.50" and quality["score"] == "50.00"
    (social,) = [d for d in answer["dimensions"] if d["dimension"] == "social"]
    assert social["entered_by"] == "city:staff01" and social["evidence"].startswith("青岛日报")
    # (30 × 45.44 + 25 × 33.33 + 30 × 50 + 15 × 90) / 100: a D, which keeps the new base on probation.
    assert answer["score"] == "50.46" and answer["grade"] == "D" and answer["probation_ended"] is False
    (ordered,) = answer["consequences"]
    assert ordered["type"] == "RectificationOrdered" and ordered["deadline"] > today().isoformat()

    twice = await world.registry.post(
        f"/grading/{base_id}/evaluations", json=evaluation(2026, 100), headers={**CITY, **key()}
    )
    assert twice.status_code == 409 and "不改写" in twice.json()["errors"][0]["zh"]

    # Replay: the recorded figures come back from the events as of their date, although a matter
    # dated within the year was recorded after the evaluation.
    await matter_to(world, item_id, base_id, "2026-06-01", "2026-06-02")
    (record,) = [r for r in world.state.streams[("grading", base_id)] if r.type == "ResourceGraded"]
    recorded = decode(record)
    assert isinstance(recorded, ResourceGraded)
    subject = grading.subject_of_unit([decode(r) for r in world.state.streams[("unit", base_id)]])
    assert subject is not None
    events = [(r, decode(r)) for r in world.state.events if r.type in grading.MEASURED_TYPES]
    targets = grading.fold_scheme(
        2026, [decode(r) for r in world.state.streams.get(("evaluation-scheme", "2026"), [])]
    )
    as_of = grading.Window.of(2026, recorded.evaluated_on, record.recorded_at)
    assert grading.measure(subject, as_of, targets.scale_targets, events) == recorded.dimensions[:3]
    now = grading.measure(
        subject, grading.Window.of(2026, recorded.evaluated_on), targets.scale_targets, events
    )
    assert now[0].figures[0].value == Decimal(4)  # read without the cut, the later matter counts


async def test_two_d_grades_propose_exit_and_a_registrar_confirms_it_the_union_having_its_say(
    world: World,
) -> None:
    body = {
        "name": "青岛某某公益服务社",
        "category": "charity",
        "area": "370211",
        "registered_on": "2025-03-01",
        "origin": "application",
        "application_id": str(uuid.uuid4()),
    }
    registered = await world.registry.post("/partners", json=body, headers={**REGISTRAR, **key()})
    assert registered.status_code == 201, registered.text
    partner_id = registered.json()["id"]
    path = f"/grading/{partner_id}"

    first = await world.registry.post(
        f"{path}/evaluations", json=evaluation(2025, 10, "2025-12-31"), headers={**CITY, **key()}
    )
    assert first.status_code == 201, first.text
    graded = first.json()
    # A partner handles no service matters: efficiency and quality have no score and pass their weight on.
    assert [d["score"] for d in graded["dimensions"]] == ["0.00", None, None, "10.00"]
    assert graded["score"] == "3.33" and graded["grade"] == "D" and graded["scheme_version"] == 0
    (ordered,) = graded["consequences"]
    assert ordered["type"] == "RectificationOrdered" and ordered["deadline"] == "2026-03-31"

    statement = {"statement": "2025年下半年机构换届，项目暂停，已于12月恢复。"}
    other = await world.registry.post(f"{path}/statement", json=statement, headers={**DISTRICT, **key()})
    assert other.status_code == 404
    union = as_("district:370211")
    filed = await world.registry.post(f"{path}/statement", json=statement, headers={**union, **key()})
    assert filed.status_code == 201 and filed.json()["year"] == 2025
    again = await world.registry.post(f"{path}/statement", json=statement, headers={**union, **key()})
    assert again.status_code == 409

    second = await world.registry.post(
        f"{path}/evaluations", json=evaluation(2026, 10), headers={**CITY, **key()}
    )
    assert second.status_code == 201, second.text
    (proposed,) = second.json()["consequences"]  # the open 整改 is not ordered again
    assert proposed["type"] == "ExitProposed" and proposed["ground"] == "two_d_grades"

    decision = {"reason": "连续两年不合格，经核实项目已停止"}
    by_city = await world.registry.post(
        f"{path}/exit-proposal/confirmation", json=decision, headers={**CITY, **key()}
    )
    assert by_city.status_code == 403
    confirmed = await world.registry.post(
        f"{path}/exit-proposal/confirmation", json=decision, headers={**REGISTRAR, **key()}
    )
    assert confirmed.status_code == 201, confirmed.text
    (exited,) = confirmed.json()["consequences"]
    assert exited["type"] == "PartnerExited" and exited["reason"].endswith(decision["reason"])
    assert world.events("partner", partner_id) == ["PartnerRegistered", "PartnerExited"]
    assert world.events("grading", partner_id) == [
        "ResourceGraded",
        "RectificationOrdered",
        "GradingStatementFiled",
        "ResourceGraded",
        "ExitProposed",
        "ExitProposalConfirmed",
    ]
    actors = {r.type: r.actor for r in world.state.streams[("grading", partner_id)]}
    assert actors["GradingStatementFiled"] == "district:370211"
    assert actors["ExitProposalConfirmed"] == "registrar:city01"
    dismissed = await world.registry.post(
        f"{path}/exit-proposal/dismissal", json=decision, headers={**REGISTRAR, **key()}
    )
    assert dismissed.status_code == 409


async def test_an_overdue_rectification_is_proposed_for_exit_which_a_registrar_may_dismiss(
    world: World,
) -> None:
    await world.cohort()
    path = f"/grading/{SHIDAI_BASE.id}"
    low = await world.registry.post(
        f"{path}/evaluations", json=evaluation(2025, 0, "2025-06-30"), headers={**CITY, **key()}
    )
    assert low.status_code == 201, low.text
    assert low.json()["grade"] == "D" and low.json()["probation_ended"] is False
    assert low.json()["consequences"][0]["deadline"] == "2025-09-28"

    proposed = await world.registry.post(f"{path}/exit-proposal", json={}, headers={**REGISTRAR, **key()})
    assert proposed.status_code == 201, proposed.text
    assert proposed.json()["ground"] == "rectification_overdue" and "2025-09-28" in proposed.json()["reason"]
    pending = await world.registry.post(f"{path}/exit-proposal", json={}, headers={**CITY, **key()})
    assert pending.status_code == 409 and "待登记人员决定" in pending.json()["errors"][0]["zh"]
    no_reason = await world.registry.post(
        f"{path}/exit-proposal/dismissal", json={"reason": ""}, headers={**REGISTRAR, **key()}
    )
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["field"] == "reason"
    dismissed = await world.registry.post(
        f"{path}/exit-proposal/dismissal", json={"reason": "已更换运营团队"}, headers={**REGISTRAR, **key()}
    )
    assert dismissed.status_code == 201, dismissed.text
    done = await world.registry.post(
        f"{path}/rectification/completion",
        json={"evidence": "整改报告及职工回访记录"},
        headers={**CITY, **key()},
    )
    assert done.status_code == 201, done.text
    nothing_open = await world.registry.post(f"{path}/exit-proposal", json={}, headers={**CITY, **key()})
    assert nothing_open.status_code == 409
    assert world.events("unit", SHIDAI_BASE.id) == ["UnitRegistered"]  # still a base


async def test_bad_input_is_refused_field_by_field_in_chinese_and_english(world: World) -> None:
    await world.cohort()
    path = f"/grading/{SHIDAI_BASE.id}/evaluations"
    bad_score = await world.registry.post(path, json=evaluation(2026, 120), headers={**CITY, **key()})
    assert bad_score.status_code == 422
    (error,) = bad_score.json()["errors"]
    assert error["field"] == "social.score" and error["zh"] and error["en"]
    unknown = await world.registry.post(
        f"/grading/{uuid.uuid4()}/evaluations", json=evaluation(2026, 50), headers={**CITY, **key()}
    )
    assert unknown.status_code == 404
    centre = await world.registry.post(
        f"/grading/{CENTRE['370202'].id}/evaluations", json=evaluation(2026, 50), headers={**CITY, **key()}
    )
    assert (
        centre.status_code == 422
        and "只评估服务职工基地和关爱职工公益伙伴" in centre.json()["errors"][0]["zh"]
    )
    before = await world.registry.post(path, json=evaluation(2021, 50, PILOT_DATE), headers={**CITY, **key()})
    assert before.status_code == 422 and before.json()["errors"][0]["field"] == "year"

    uneven = scheme(weights=(40, 25, 30, 15))
    refused = await world.registry.put("/evaluation-schemes/2027", json=uneven, headers=CITY)
    assert refused.status_code == 422
    assert (
        refused.json()["errors"][0]["field"].startswith("weights")
        and "100" in refused.json()["errors"][0]["zh"]
    )
    unordered = {**scheme(), "bands": list(reversed(BANDS))}
    assert (
        await world.registry.put("/evaluation-schemes/2027", json=unordered, headers=CITY)
    ).status_code == 422


async def test_a_scheme_changes_for_a_later_year_never_for_a_past_or_graded_one(world: World) -> None:
    await world.cohort()
    this_year = today().year
    path = f"/grading/{SHIDAI_BASE.id}/evaluations"
    past = await world.registry.put(f"/evaluation-schemes/{this_year - 1}", json=scheme(), headers=CITY)
    assert past.status_code == 422 and past.json()["errors"][0]["field"] == "year"
    last_year = evaluation(this_year - 1, 80, f"{this_year - 1}-12-31")
    graded_before = await world.registry.post(path, json=last_year, headers={**CITY, **key()})
    assert graded_before.status_code == 201 and graded_before.json()["scheme_version"] == 0
    assert graded_before.json()["weights"] == {"scale": 30, "efficiency": 25, "quality": 30, "social": 15}

    heavier_social = scheme(weights=(20, 20, 20, 40))
    by_registrar = await world.registry.put(
        f"/evaluation-schemes/{this_year}", json=heavier_social, headers=REGISTRAR
    )
    assert by_registrar.status_code == 403
    changed = await world.registry.put(f"/evaluation-schemes/{this_year}", json=heavier_social, headers=CITY)
    assert changed.status_code == 200 and changed.json()["version"] == 1
    graded_now = await world.registry.post(path, json=evaluation(this_year, 80), headers={**CITY, **key()})
    assert graded_now.status_code == 201, graded_now.text
    assert graded_now.json()["weights"]["social"] == 40 and graded_now.json()["scheme_version"] == 1
    # A base without matters: its scale and its 社会效应 count, under each year's own weights.
    assert graded_now.json()["score"] != graded_before.json()["score"]
    locked = await world.registry.put(f"/evaluation-schemes/{this_year}", json=scheme(), headers=CITY)
    assert locked.status_code == 409 and "不溯及既往" in locked.json()["errors"][0]["zh"]
    assert (
        await world.registry.put(f"/evaluation-schemes/{this_year + 1}", json=scheme(), headers=CITY)
    ).status_code == 200
    grades = [decode(r) for r in world.state.streams[("grading", str(SHIDAI_BASE.id))]]
    assert [(g.year, g.weights.social, g.score) for g in grades if isinstance(g, ResourceGraded)] == [
        (this_year - 1, 15, Decimal(graded_before.json()["score"])),
        (this_year, 40, Decimal(graded_now.json()["score"])),
    ]


async def test_a_matter_sent_back_to_a_base_stays_its_own_and_counts_against_it_when_overdue(
    world: World,
) -> None:
    await world.cohort()
    base_id = await new_base(world)
    item = {
        "name": "职工法律咨询",
        "category": "legal_aid",
        "providers": [str(CENTRE["370202"].id), base_id],
        "time_limit_days": 5,
        "steps": ["登记诉求"],
        "listed_on": "2025-07-01",
    }
    listed = await world.registry.post("/service-items", json=item, headers={**REGISTRAR, **key()})
    assert listed.status_code == 201, listed.text
    matter_id = await matter_to(world, listed.json()["item_id"], base_id, "2026-03-02", "2026-03-03")
    # The base hands it back to the district's centre, which refuses it: the base handles it again,
    # and it is never closed.
    await act(
        world,
        matter_id,
        "transfers",
        {"to": str(CENTRE["370202"].id), "reason": "请中心律师办理", "transferred_on": "2026-03-04"},
    )
    await act(world, matter_id, "refusal", {"reason": "中心律师本月已满", "refused_on": "2026-03-05"})
    graded = await world.registry.post(
        f"/grading/{base_id}/evaluations", json=evaluation(2026, 90), headers={**CITY, **key()}
    )
    assert graded.status_code == 201, graded.text
    efficiency = figures(graded.json(), "efficiency")
    assert efficiency["overdue_open"]["value"] == "1.00" and efficiency["overdue_open"]["sources"] == [
        matter_id
    ]
    assert efficiency["score"] == "0.00"
