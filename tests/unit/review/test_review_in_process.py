"""Review's API and command path in this process, on the in-memory store: a district submits
through intake's real API, review's screening reaction receives the event as the running service
would, and the reviewers and the chair act through review's API. What they notice: the screening
outcome in the dossier, three scores and the quorum, the chair's approval or decline, recusal of
a reviewer from the applicant's own district, and the applicant never learning who scored what.
Neither PostgreSQL nor Kafka."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from huigong_events.reference import REVIEW_DIMENSIONS, ComplianceFactKind
from huigong_intake.app import create_app as create_intake
from huigong_intake.domain.applications import ReviewProgress
from huigong_intake.handlers import Intake
from huigong_intake.policy import POLICY as INTAKE_POLICY
from huigong_intake.settings import IntakeSettings
from huigong_platform.application import CommandPath
from huigong_platform.unit_of_work import MemoryState, UnitsOfWork, in_memory_units
from huigong_review.app import create_app as create_review
from huigong_review.handlers import Review
from huigong_review.policy import POLICY as REVIEW_POLICY
from huigong_review.settings import ReviewSettings
from huigong_simulator.forms import FACT_DEPARTMENTS

from ...forms import ENTERPRISE_CODE, annual_plan, happy_form, three_year_plan
from ...inprocess import as_, in_process
from ..intake.memory import MemoryIntakeTables
from .memory import MemoryReviewTables

YEAR = datetime.now(UTC).year + 1  # open now: its 30 June deadline is ahead
DISTRICT = as_("district:370202")
CHAIR = as_("chair:city/chair")
SECRET = "00" * 32
NOWHERE = "postgresql://nobody@127.0.0.1:1/none"


def key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


def reviewer(code: str) -> dict[str, str]:
    return as_(f"reviewer:{code}")


def scores(total: int, comment: str = "思路清晰，重点突出。") -> dict[str, Any]:
    return {"scores": {d: {"score": str(total), "comment": comment} for d in REVIEW_DIMENSIONS}}


def in_a_month() -> str:
    return (date.today() + timedelta(days=30)).isoformat()


@dataclass
class World:
    """Intake and review on one in-memory store, with review's tables fed from it."""

    intake: httpx.AsyncClient
    review: httpx.AsyncClient
    state: MemoryState
    units: UnitsOfWork
    intake_tables: MemoryIntakeTables
    review_tables: MemoryReviewTables

    async def delivered(self) -> None:
        """Review's screening reaction has received everything recorded so far."""
        await self.review_tables.deliver(self.state, self.units)

    def events(self, application_id: str) -> list[str]:
        return [e.type for e in self.state.streams.get(("review", application_id), [])]

    async def accepted(self) -> tuple[str, str]:
        form = json.loads(happy_form().model_dump_json())
        body = {"year": YEAR, "programme": "happy_enterprise", "form": form}
        submitted = await self.intake.post("/applications", json=body, headers={**DISTRICT, **key()})
        assert submitted.status_code == 201, submitted.text
        await self.delivered()
        application_id: str = submitted.json()["application_id"]
        return application_id, submitted.json()["receipt_no"]

    async def fact_reported(self, kind: ComplianceFactKind, occurred_on: date) -> str:
        """A department reports a fact about the enterprise of `happy_form` through intake."""
        department = FACT_DEPARTMENTS[kind]
        body = {
            "fact_id": str(uuid.uuid4()),
            "credit_code": ENTERPRISE_CODE,
            "unit_name": "青岛某某有限公司",
            "kind": kind.value,
            "occurred_on": occurred_on.isoformat(),
            "reported_by": department.value,
            "reported_on": max(occurred_on, date.today() - timedelta(days=1)).isoformat(),
            "evidence_ref": "青监〔2024〕12号",
        }
        reported = await self.intake.post(
            "/compliance-facts", json=body, headers={**as_(f"exchange:{department.value}"), **key()}
        )
        assert reported.status_code == 201, reported.text
        await self.delivered()
        return str(body["fact_id"])

    async def selected_with_plans(self, application_id: str) -> None:
        base = f"/applications/{application_id}"
        selected = await self.review.post(
            f"{base}/selection", json={"decision": "select"}, headers={**CHAIR, **key()}
        )
        assert selected.status_code == 201, selected.text
        # What intake's projection learns from review's ConstructionUnitSelected.
        self.intake_tables.progress[uuid.UUID(application_id)] = ReviewProgress(accepted=True, selected=True)
        for plan in (three_year_plan(YEAR), annual_plan(YEAR)):
            body = {"plan": json.loads(plan.model_dump_json())}
            sent = await self.intake.post(f"{base}/plans", json=body, headers={**DISTRICT, **key()})
            assert sent.status_code == 201, sent.text
        await self.delivered()


@pytest.fixture
async def world() -> AsyncIterator[World]:
    state = MemoryState()
    units = in_memory_units(state)
    intake_tables, review_tables = MemoryIntakeTables(), MemoryReviewTables()
    intake = Intake(intake_tables.records, bytes.fromhex(SECRET))
    intake_settings = IntakeSettings(
        service="intake", database_url=NOWHERE, member_key_secret=SECRET, personal_data_kek=SECRET
    )
    settings = ReviewSettings(service="review", database_url=NOWHERE)
    review = Review(
        policy=settings.policy(), inputs=review_tables.inputs, reads=review_tables.reads_of(state)
    )
    intake_path = CommandPath(INTAKE_POLICY, intake.handlers(), units)
    review_path = CommandPath(REVIEW_POLICY, review.handlers(), units)
    async with (
        in_process(create_intake(intake_settings), intake_path) as intake_client,
        in_process(create_review(settings), review_path, {"review": review}) as review_client,
    ):
        yield World(intake_client, review_client, state, units, intake_tables, review_tables)


async def test_the_screening_outcome_is_in_the_dossier_by_id_and_by_receipt(world: World) -> None:
    application_id, receipt_no = await world.accepted()
    assert world.events(application_id) == ["ApplicationAccepted"]
    (accepted,) = world.state.streams[("review", application_id)]
    assert accepted.actor == "system:review"
    for ref in (application_id, receipt_no):
        dossier = await world.review.get(f"/applications/{ref}", headers=DISTRICT)
        assert dossier.status_code == 200, dossier.text
        assert dossier.json()["status"] == "accepted" and dossier.json()["status_label"] == "已受理"
        assert dossier.json()["submitted"]["actor"] == "district:370202"
    history = (await world.review.get(f"/applications/{application_id}", headers=CHAIR)).json()["history"]
    assert [h["type"] for h in history] == ["ApplicationSubmitted", "ApplicationAccepted"]
    # Another district learns nothing: its answer is the one for an application that does not exist.
    theirs = await world.review.get(f"/applications/{application_id}", headers=as_("district:370203"))
    missing = await world.review.get(f"/applications/{uuid.uuid4()}", headers=as_("district:370203"))
    assert theirs.status_code == missing.status_code == 404 and theirs.json() == missing.json()
    unknown_receipt = await world.review.get(f"/applications/{YEAR}-370202-09999", headers=CHAIR)
    assert unknown_receipt.status_code == 404
    malformed = await world.review.get("/applications/no-such-thing", headers=CHAIR)
    assert malformed.status_code == 422
    (error,) = malformed.json()["errors"]
    assert error["field"] == "application_id" and error["zh"] and error["en"]
    assert (await world.review.get(f"/applications/{application_id}")).status_code == 401
    assert (
        await world.review.get(f"/applications/{application_id}", headers=as_("exchange:hrss"))
    ).status_code == 403


async def test_a_fact_reported_before_the_application_makes_it_not_accepted(world: World) -> None:
    fact_id = await world.fact_reported(ComplianceFactKind.拖欠工资, date.today() - timedelta(days=10))
    application_id, _ = await world.accepted()
    assert world.events(application_id) == ["ExclusionFound", "ApplicationRejected"]
    dossier = (await world.review.get(f"/applications/{application_id}", headers=reviewer("city/q"))).json()
    assert dossier["status"] == "rejected" and dossier["status_label"] == "不予受理"
    assert dossier["screening"]["outcome"] == "rejected" and dossier["screening"]["actor"] == "system:review"
    assert [f["rule"] for f in dossier["findings"]] == ["E2"]
    assert [f["fact_id"] for f in dossier["compliance_facts"]] == [fact_id]
    # Nothing not accepted is selected.
    selected = await world.review.post(
        f"/applications/{application_id}/selection", json={"decision": "select"}, headers={**CHAIR, **key()}
    )
    assert selected.status_code == 409, selected.text


async def test_a_fact_reported_after_acceptance_is_a_finding_that_blocks_selection(world: World) -> None:
    application_id, _ = await world.accepted()
    await world.fact_reported(ComplianceFactKind.拖欠工资, date.today() - timedelta(days=1))
    assert world.events(application_id) == ["ApplicationAccepted", "ExclusionFound"]
    dossier = (await world.review.get(f"/applications/{application_id}", headers=CHAIR)).json()
    assert dossier["status"] == "accepted"
    assert [(f["rule"], f["open"]) for f in dossier["findings"]] == [("E2", True)]
    selected = await world.review.post(
        f"/applications/{application_id}/selection", json={"decision": "select"}, headers={**CHAIR, **key()}
    )
    assert selected.status_code == 409, selected.text


async def test_three_reviewers_score_the_chair_approves_and_the_applicant_never_learns_who(
    world: World,
) -> None:
    application_id, _ = await world.accepted()
    base = f"/applications/{application_id}"
    # Only the chair selects, and nothing is scored before the plans arrive.
    by_reviewer = await world.review.post(
        f"{base}/selection", json={"decision": "select"}, headers={**reviewer("city/x"), **key()}
    )
    assert by_reviewer.status_code == 403
    early = await world.review.post(
        f"{base}/scores", json=scores(80), headers={**reviewer("city/a"), **key()}
    )
    assert early.status_code == 409, early.text
    await world.selected_with_plans(application_id)

    # A reviewer from the applicant's own district recuses (回避).
    own = await world.review.post(
        f"{base}/scores", json=scores(90), headers={**reviewer("370202/own"), **key()}
    )
    assert own.status_code == 403 and own.json()["errors"][0]["field"] == "reviewer.area"
    assert own.json()["errors"][0]["zh"] and own.json()["errors"][0]["en"]
    # Before the quorum the chair cannot approve.
    approve = {"decision": "approve", "period_start": in_a_month()}
    too_early = await world.review.post(f"{base}/decision", json=approve, headers={**CHAIR, **key()})
    assert too_early.status_code == 409 and "至少需要 3 名" in too_early.json()["errors"][0]["zh"]

    first_key = key()
    first = await world.review.post(
        f"{base}/scores", json=scores(80), headers={**reviewer("city/a"), **first_key}
    )
    assert first.status_code == 201, first.text
    assert first.json()["weighted_total"] == "80.00" and first.json()["panel"]["quorum_met"] is False
    again = await world.review.post(
        f"{base}/scores", json=scores(80), headers={**reviewer("city/a"), **first_key}
    )
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    twice = await world.review.post(
        f"{base}/scores", json=scores(70), headers={**reviewer("city/a"), **key()}
    )
    assert twice.status_code == 409 and twice.json()["errors"][0]["field"] == "reviewer.id"
    for who, total in (("370203/b", 84), ("G-HAIER/c", 83)):
        scored = await world.review.post(
            f"{base}/scores", json=scores(total), headers={**reviewer(who), **key()}
        )
        assert scored.status_code == 201, scored.text
    assert scored.json()["panel"] == {**scored.json()["panel"], "count": 3, "quorum_met": True}

    # A reviewer who has not scored sees how far the panel got, not the scores.
    hidden = (await world.review.get(f"{base}/panel", headers=reviewer("city/q"))).json()
    assert hidden["hidden"] is True and hidden["count"] == 3 and "entries" not in hidden
    panel = (await world.review.get(f"{base}/panel", headers=reviewer("city/a"))).json()
    assert (panel["mean"], panel["spread"], panel["flagged"]) == ("82.33", "4.00", [])

    approved = await world.review.post(f"{base}/decision", json=approve, headers={**CHAIR, **key()})
    assert approved.status_code == 201, approved.text
    assert approved.json()["decision"] == "approved" and approved.json()["score_average"] == "82.33"
    second = await world.review.post(
        f"{base}/decision", json={"decision": "decline", "reasons": ["重新考虑"]}, headers={**CHAIR, **key()}
    )
    assert second.status_code == 409

    # The applicant reads the decision in confidence: no reviewer, no score, no panel.
    mine = await world.review.get(base, headers=DISTRICT)
    assert mine.json()["status"] == "approved" and mine.json()["status_label"] == "建设中"
    assert mine.json()["scores"] is None and mine.json()["panel"] is None
    for who in ("city/a", "370203/b", "G-HAIER/c"):
        assert who not in mine.text
    refused = await world.review.get(f"{base}/panel", headers=DISTRICT)
    assert refused.status_code == 403 and refused.json()["errors"][0]["zh"]
    chairs = (await world.review.get(base, headers=CHAIR)).json()
    assert [s["reviewer"] for s in chairs["scores"]] == ["city/a", "370203/b", "G-HAIER/c"]
    assert chairs["decision"]["actor"] == "chair:city/chair"


async def test_the_chair_declines_without_a_quorum_and_bad_requests_name_their_fields(world: World) -> None:
    application_id, _ = await world.accepted()
    base = f"/applications/{application_id}"
    await world.selected_with_plans(application_id)
    bad = scores(80)
    bad["scores"]["总体思路"] = {"score": "101", "comment": "好"}
    del bad["scores"]["资金投入"]
    refused = await world.review.post(f"{base}/scores", json=bad, headers={**reviewer("city/x"), **key()})
    assert refused.status_code == 422
    fields = {e["field"] for e in refused.json()["errors"]}
    assert {"scores.总体思路.score", "scores.总体思路.comment", "scores.资金投入"} <= fields
    assert all(e["zh"] and e["en"] for e in refused.json()["errors"])
    malformed = await world.review.post(
        f"{base}/scores", json=scores(80), headers={**reviewer("nowhere/a"), **key()}
    )
    assert malformed.status_code == 401 and malformed.json()["errors"][0]["zh"]
    by_chair = await world.review.post(f"{base}/scores", json=scores(80), headers={**CHAIR, **key()})
    assert by_chair.status_code == 403
    unknown = await world.review.post(
        f"/applications/{uuid.uuid4()}/scores", json=scores(80), headers={**reviewer("city/x"), **key()}
    )
    assert unknown.status_code == 404
    no_start = await world.review.post(
        f"{base}/decision", json={"decision": "approve"}, headers={**CHAIR, **key()}
    )
    assert no_start.status_code == 422 and no_start.json()["errors"][0]["field"] == "period_start"
    by_reviewer = await world.review.post(
        f"{base}/decision",
        json={"decision": "decline", "reasons": ["资金投入不明确"]},
        headers={**reviewer("city/x"), **key()},
    )
    assert by_reviewer.status_code == 403
    before = world.events(application_id)
    assert before == ["ApplicationAccepted", "ConstructionUnitSelected"]

    decline = {"decision": "decline", "reasons": ["资金投入不明确"]}
    declined = await world.review.post(f"{base}/decision", json=decline, headers={**CHAIR, **key()})
    assert declined.status_code == 201, declined.text
    assert declined.json()["decision"] == "declined"
    dossier = (await world.review.get(base, headers=DISTRICT)).json()
    assert dossier["status"] == "declined" and dossier["decision"]["reasons"] == ["资金投入不明确"]
