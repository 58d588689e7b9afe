"""Review end to end, with a real intake and a real review process on the real broker and
database: facts reported to intake and applications submitted to intake are screened by review's
faust agent; reviewers and the chair act over review's API; the queue, the dossier and the panel
answer. Each test works on enterprises of its own (fresh credit codes), so facts never leak
between tests on the shared topics."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, TypeVar

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from huigong_events.envelope import to_kafka
from huigong_events.forms import DeclaredFact, Organisation
from huigong_events.reference import REVIEW_DIMENSIONS, ComplianceFactKind
from huigong_events.topics import topic_for_aggregate
from huigong_events.upcasting import decode
from huigong_intake.domain.identity import CREDIT_CODE_CHARS, credit_check_char
from huigong_platform.database import create_pool
from huigong_platform.eventstore import EventStore
from huigong_review.domain.dates import add_years
from huigong_review.reactions.screening import ScreeningReaction
from huigong_simulator.forms import FACT_DEPARTMENTS

from ..conftest import Stack
from ..forms import (
    annual_plan,
    complex_form,
    happy_form,
    three_year_plan,
    variant,
    with_fresh_undertaking_unit,
)
from .processes import ServiceProcess, running

YEAR = datetime.now(UTC).year + 1  # open now: its 30 June deadline is ahead
DISTRICT = "370202"
SUBMITTER = {"X-Huigong-Principal": f"district:{DISTRICT}"}
EXCHANGE = {"X-Huigong-Principal": "exchange:hrss"}
BEIJING = timezone(timedelta(hours=8))
TIMEOUT = 60.0

T = TypeVar("T")


def today() -> date:
    """The Beijing calendar day: the day of submission every screening rule counts from."""
    return datetime.now(BEIJING).date()


def key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


def reviewer(code: str) -> dict[str, str]:
    return {"X-Huigong-Principal": f"reviewer:{code}"}


def chair(code: str) -> dict[str, str]:
    return {"X-Huigong-Principal": f"chair:{code}"}


# --- processes and connections -----------------------------------------------------------------


@pytest.fixture(scope="module")
async def services(stack: Stack) -> AsyncIterator[tuple[ServiceProcess, ...]]:
    # The client fixtures of tests/integration/conftest.py talk to these processes.
    async with running(stack, ("intake", "review"), 400, "review-test") as procs:
        yield procs


@pytest.fixture
async def intake_db(stack: Stack) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(stack.dsn("intake"), "intake")
    yield pool
    await pool.close()


async def eventually(probe: Callable[[], Awaitable[T | None]], what: str, timeout: float = TIMEOUT) -> T:
    """Poll `probe` until it returns something, with a deadline."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        found = await probe()
        if found is not None and found is not False:
            return found
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"not reached in {timeout} s: {what}")
        await asyncio.sleep(0.2)


# --- intake: enterprises, facts and applications ----------------------------------------------


def enterprise_code() -> str:
    """A fresh, valid enterprise credit code (91…, registered in 市南区)."""
    body = "".join(random.choice(CREDIT_CODE_CHARS) for _ in range(9))
    first17 = f"91{DISTRICT}{body}"
    return first17 + credit_check_char(first17)


def happy_application(code: str, declarations: list[DeclaredFact] | None = None) -> dict[str, Any]:
    unit = Organisation(name="青岛某某有限公司", credit_code=code)
    form = variant(happy_form(), undertaking_unit=unit, applicant_unit=unit, declarations=declarations or [])
    return {"year": YEAR, "programme": "happy_enterprise", "form": json.loads(form.model_dump_json())}


async def submit(intake: httpx.AsyncClient, body: dict[str, Any]) -> str:
    response = await intake.post("/applications", json=body, headers={**SUBMITTER, **key()})
    assert response.status_code == 201, response.text
    application_id: str = response.json()["application_id"]
    return application_id


async def report_fact(
    intake: httpx.AsyncClient,
    code: str,
    kind: ComplianceFactKind,
    occurred_on: date,
    settled_on: date | None = None,
) -> str:
    fact_id = str(uuid.uuid4())
    department = FACT_DEPARTMENTS[kind]
    body = {
        "fact_id": fact_id,
        "credit_code": code,
        "unit_name": "青岛某某有限公司",
        "kind": kind.value,
        "occurred_on": occurred_on.isoformat(),
        "settled_on": settled_on.isoformat() if settled_on else None,
        "reported_by": department.value,
        "reported_on": max(occurred_on, settled_on or occurred_on, today() - timedelta(days=1)).isoformat(),
        "evidence_ref": f"青监〔2024〕{fact_id[:8]}号",  # one inspection, one reference
    }
    # Reported by the department competent for the fact, with a key of its own.
    exchange = {"X-Huigong-Principal": f"exchange:{department.value}"}
    response = await intake.post("/compliance-facts", json=body, headers={**exchange, **key()})
    assert response.status_code == 201, response.text
    return fact_id


async def fact_reached_review(review_db: asyncpg.Pool, fact_id: str) -> None:
    await eventually(
        lambda: review_db.fetchval(
            "SELECT true FROM compliance_facts WHERE fact_id = $1", uuid.UUID(fact_id)
        ),
        f"review stores fact {fact_id}",
    )


async def review_events(review_db: asyncpg.Pool, application_id: str) -> list[asyncpg.Record]:
    return await review_db.fetch(
        """SELECT type, data, actor, causation_id, aggregate_version FROM events
           WHERE aggregate_type = 'review' AND aggregate_id = $1 ORDER BY aggregate_version""",
        application_id,
    )


async def screened(review_db: asyncpg.Pool, application_id: str) -> list[asyncpg.Record]:
    """Review's stream of the application once screening has decided."""

    async def probe() -> list[asyncpg.Record] | None:
        events = await review_events(review_db, application_id)
        decided = {"ApplicationAccepted", "ApplicationRejected"} & {e["type"] for e in events}
        return events if decided else None

    return await eventually(probe, f"application {application_id} screened")


def types(events: list[asyncpg.Record]) -> list[str]:
    return [e["type"] for e in events]


def data(event: asyncpg.Record) -> dict[str, Any]:
    raw = event["data"]
    result: dict[str, Any] = json.loads(raw) if isinstance(raw, str) else raw
    return result


async def accepted_application(
    intake: httpx.AsyncClient, review_db: asyncpg.Pool, code: str | None = None
) -> tuple[str, str]:
    code = code or enterprise_code()
    application_id = await submit(intake, happy_application(code))
    assert types(await screened(review_db, application_id)) == ["ApplicationAccepted"]
    return application_id, code


async def selected_with_plans(
    intake: httpx.AsyncClient,
    review: httpx.AsyncClient,
    application_id: str,
    submitter: dict[str, str] = SUBMITTER,
    year: int = YEAR,
) -> None:
    """工作安排 1–2 in order: the chair selects the construction unit; once intake knows, the unit
    sends its three-year plan and first annual plan; returns when review has both to score."""
    base = f"/applications/{application_id}"
    response = await review.post(
        f"{base}/selection", json={"decision": "select"}, headers={**chair("city/chair"), **key()}
    )
    assert response.status_code == 201, response.text

    async def intake_knows() -> bool | None:
        answer = await intake.get(base, headers=submitter)
        assert answer.status_code == 200, answer.text
        return True if answer.json()["status"] == "selected" else None

    await eventually(intake_knows, f"intake to learn {application_id} was selected")
    for plan in (three_year_plan(year), annual_plan(year)):
        body = {"plan": json.loads(plan.model_dump_json())}
        response = await intake.post(f"{base}/plans", json=body, headers={**submitter, **key()})
        assert response.status_code == 201, response.text

    async def review_has_them() -> bool | None:
        answer = await review.get(base, headers=chair("city/chair"))
        assert answer.status_code == 200, answer.text
        return True if len(answer.json()["plans"]) == 2 else None

    await eventually(review_has_them, f"review to receive the plans of {application_id}")


def scores(total: int, comment: str = "思路清晰，重点突出。") -> dict[str, Any]:
    return {"scores": {d: {"score": str(total), "comment": comment} for d in REVIEW_DIMENSIONS}}


async def queue_item(
    review: httpx.AsyncClient, application_id: str, stage: str, scored: int | None = None
) -> dict[str, Any]:
    """The application's queue entry once it is at `stage` (with `scored` scores, if given)."""

    async def probe() -> dict[str, Any] | None:
        response = await review.get(
            "/queue", params={"stage": stage, "page_size": 500}, headers=chair("city/q")
        )
        assert response.status_code == 200, response.text
        for item in response.json()["items"]:
            if item["application_id"] == application_id and scored in (None, item["scores"]):
                return dict(item)
        return None

    return await eventually(probe, f"{application_id} in the queue at {stage}")


# --- screening ---------------------------------------------------------------------------------

D = ComplianceFactKind
SCREENING_CASES: list[
    tuple[str, ComplianceFactKind, Callable[[date], tuple[date, date | None]], str | None]
] = [
    ("E1 hit", D.无劳动合同制度, lambda t: (t - timedelta(days=400), None), "E1"),
    ("E2 hit", D.拖欠工资, lambda t: (t - timedelta(days=60), None), "E2"),
    (
        "E2 settled after submission",
        D.拖欠工资,
        lambda t: (t - timedelta(days=60), t + timedelta(days=1)),
        "E2",
    ),
    (
        "E2 settled before submission",
        D.拖欠工资,
        lambda t: (t - timedelta(days=60), t - timedelta(days=1)),
        None,
    ),
    ("E3 hit", D.欠缴社保, lambda t: (t - timedelta(days=90), None), "E3"),
    ("E4 hit", D.无工会或欠经费, lambda t: (t - timedelta(days=90), None), "E4"),
    (
        "E5 hit three years less a day",
        D.重大伤亡事故,
        lambda t: (add_years(t, -3) + timedelta(days=1), None),
        "E5",
    ),
    (
        "E5 three years and a day before",
        D.重大伤亡事故,
        lambda t: (add_years(t, -3) - timedelta(days=1), None),
        None,
    ),
    ("E6 hit", D.群体性劳动争议, lambda t: (t - timedelta(days=30), None), "E6"),
    (
        "E6 resolved before submission",
        D.群体性劳动争议,
        lambda t: (t - timedelta(days=30), t - timedelta(days=2)),
        None,
    ),
    ("E7 hit", D.严重亏损, lambda t: (t - timedelta(days=200), None), "E7"),
]


@pytest.mark.parametrize(
    ("kind", "dates", "rule"), [c[1:] for c in SCREENING_CASES], ids=[c[0] for c in SCREENING_CASES]
)
async def test_a_fact_reported_before_the_application_screens_it_under_its_rule(
    kind: ComplianceFactKind,
    dates: Callable[[date], tuple[date, date | None]],
    rule: str | None,
    intake: httpx.AsyncClient,
    review: httpx.AsyncClient,
    review_db: asyncpg.Pool,
) -> None:
    code = enterprise_code()
    occurred_on, settled_on = dates(today())
    fact_id = await report_fact(intake, code, kind, occurred_on, settled_on)
    await fact_reached_review(review_db, fact_id)

    application_id = await submit(intake, happy_application(code))
    events = await screened(review_db, application_id)

    if rule is None:
        assert types(events) == ["ApplicationAccepted"]
        return
    assert types(events) == ["ExclusionFound", "ApplicationRejected"]
    finding, rejection = data(events[0]), data(events[1])
    assert finding["rule"] == rule and finding["stage"] == "before_acceptance"
    assert finding["credit_code"] == code
    assert finding["evidence"]["source"] == "data_exchange"
    assert finding["evidence"]["fact_id"] == fact_id
    assert finding["evidence"]["reported_by"] == FACT_DEPARTMENTS[kind].value  # the key's own
    assert [g["finding_id"] for g in rejection["findings"]] == [finding["finding_id"]]
    assert all(e["actor"] == "system:review" for e in events)

    dossier = (await review.get(f"/applications/{application_id}", headers=reviewer("city/q"))).json()
    assert dossier["status"] == "rejected" and dossier["status_label"] == "不予受理"
    assert dossier["screening"]["outcome"] == "rejected"
    assert dossier["screening"]["actor"] == "system:review"
    assert [f["rule"] for f in dossier["findings"]] == [rule]
    assert [f["fact_id"] for f in dossier["compliance_facts"]] == [fact_id]
    assert dossier["compliance_facts"][0]["actor"] == f"exchange:{FACT_DEPARTMENTS[kind].value}"


async def test_a_fact_declared_in_the_form_rejects_it_and_a_service_complex_is_accepted_at_once(
    intake: httpx.AsyncClient, review_db: asyncpg.Pool
) -> None:
    declared = DeclaredFact(kind=D.拖欠工资, occurred_on=today() - timedelta(days=10))
    application_id = await submit(intake, happy_application(enterprise_code(), [declared]))
    events = await screened(review_db, application_id)
    assert types(events) == ["ExclusionFound", "ApplicationRejected"]
    assert data(events[0])["evidence"]["source"] == "declared"

    centre = {
        "year": YEAR,
        "programme": "service_complex",
        "form": json.loads(with_fresh_undertaking_unit(complex_form()).model_dump_json()),
    }
    application_id = await submit(intake, centre)
    assert types(await screened(review_db, application_id)) == ["ApplicationAccepted"]


async def test_intake_shows_the_screening_outcome(intake: httpx.AsyncClient, review_db: asyncpg.Pool) -> None:
    code = enterprise_code()
    fact_id = await report_fact(intake, code, D.欠缴社保, today() - timedelta(days=20))
    # Otherwise review might read the fact after the application, and find it after acceptance.
    await fact_reached_review(review_db, fact_id)
    application_id = await submit(intake, happy_application(code))
    await screened(review_db, application_id)

    async def probe() -> bool:
        response = await intake.get(
            "/applications", params={"status": "rejected", "page_size": 500}, headers=SUBMITTER
        )
        return any(i["application_id"] == application_id for i in response.json()["items"])

    await eventually(probe, "intake lists the application as 不予受理")


# --- scoring, decision, later facts ------------------------------------------------------------


async def test_scoring_quorum_approval_and_a_fact_after_approval(
    intake: httpx.AsyncClient, review: httpx.AsyncClient, review_db: asyncpg.Pool
) -> None:
    application_id, code = await accepted_application(intake, review_db)
    base = f"/applications/{application_id}"
    item = await queue_item(review, application_id, "awaiting_selection")
    assert item["name"] == "青岛某某有限公司幸福企业建设" and item["submitter"] == DISTRICT
    assert item["status"] == "accepted" and item["status_label"] == "已受理"
    # Nothing to score before the city selected the unit and its plans arrived.
    response = await review.post(f"{base}/scores", json=scores(80), headers={**reviewer("city/a"), **key()})
    assert response.status_code == 409, response.text
    await selected_with_plans(intake, review, application_id)
    item = await queue_item(review, application_id, "awaiting_scores")
    assert item["status"] == "selected" and item["scores"] == 0
    # The plans are amendable until the panel starts scoring them.
    amended = three_year_plan(YEAR).model_copy(update={"goals_and_tasks": "目标任务（补充资金来源）"})
    amendment = {"plan": json.loads(amended.model_dump_json()), "reason": "按市总工会意见补充资金来源"}
    response = await intake.post(f"{base}/plans/amendments", json=amendment, headers={**SUBMITTER, **key()})
    assert response.status_code == 200, response.text

    # A reviewer from the applicant's own district recuses (回避).
    response = await review.post(
        f"{base}/scores", json=scores(90), headers={**reviewer(f"{DISTRICT}/own"), **key()}
    )
    assert response.status_code == 403, response.text
    assert response.json()["errors"][0]["field"] == "reviewer.area"
    # The chair cannot decide before the quorum.
    period = {"decision": "approve", "period_start": (today() + timedelta(days=30)).isoformat()}
    response = await review.post(f"{base}/decision", json=period, headers={**chair("city/chair"), **key()})
    assert response.status_code == 409, response.text
    assert "至少需要 3 名" in response.json()["errors"][0]["zh"]

    first_key = key()
    response = await review.post(
        f"{base}/scores", json=scores(80), headers={**reviewer("city/a"), **first_key}
    )
    assert response.status_code == 201, response.text
    assert response.json()["weighted_total"] == "80.00"
    # The same request again is the same answer; another request by the same reviewer is refused.
    again = await review.post(f"{base}/scores", json=scores(80), headers={**reviewer("city/a"), **first_key})
    assert again.status_code == 201 and again.headers.get("Idempotent-Replayed") == "true"
    second = await review.post(f"{base}/scores", json=scores(70), headers={**reviewer("city/a"), **key()})
    assert second.status_code == 409, second.text
    assert second.json()["errors"][0]["field"] == "reviewer.id"

    async def plans_fixed() -> bool | None:
        response = await intake.post(
            f"{base}/plans/amendments", json=amendment, headers={**SUBMITTER, **key()}
        )
        return True if response.status_code == 409 else None

    await eventually(plans_fixed, "intake to close the plans once scoring started")

    for who, total in (("370203/b", 84), ("G-HAIER/c", 83)):
        response = await review.post(f"{base}/scores", json=scores(total), headers={**reviewer(who), **key()})
        assert response.status_code == 201, response.text

    # A reviewer who has not scored sees how far the panel has got, not the scores.
    hidden = (await review.get(f"{base}/panel", headers=reviewer("city/q"))).json()
    assert hidden == {**hidden, "count": 3, "hidden": True} and "entries" not in hidden
    panel = (await review.get(f"{base}/panel", headers=reviewer("city/a"))).json()
    assert panel["count"] == 3 and panel["quorum_met"] is True
    assert panel["mean"] == "82.33" and panel["spread"] == "4.00" and panel["flagged"] == []
    item = await queue_item(review, application_id, "awaiting_decision", scored=3)
    assert item["average"] == "82.33" and item["flagged"] == []

    # A chair from the applicant's district recuses too; the city's chair approves.
    response = await review.post(f"{base}/decision", json=period, headers={**chair(f"{DISTRICT}/c"), **key()})
    assert response.status_code == 403, response.text
    response = await review.post(f"{base}/decision", json=period, headers={**chair("city/chair"), **key()})
    assert response.status_code == 201, response.text
    approval = response.json()
    assert approval["decision"] == "approved" and approval["score_average"] == "82.33"
    start = date.fromisoformat(period["period_start"])
    assert approval["period_end"] == (add_years(start, 3) - timedelta(days=1)).isoformat()
    # Final: a second decision, either way, is refused.
    decline = {"decision": "decline", "reasons": ["重新考虑"]}
    response = await review.post(f"{base}/decision", json=decline, headers={**chair("city/chair"), **key()})
    assert response.status_code == 409, response.text
    await queue_item(review, application_id, "decided")

    # A fact reported after approval is screened against the unit: a finding during construction.
    fact_id = await report_fact(intake, code, D.拖欠工资, today() - timedelta(days=1))

    async def later_finding() -> list[asyncpg.Record] | None:
        events = await review_events(review_db, application_id)
        return events if events[-1]["type"] == "ExclusionFound" else None

    events = await eventually(later_finding, "a finding after approval")
    finding = data(events[-1])
    assert finding["stage"] == "during_construction" and finding["rule"] == "E2"
    assert finding["evidence"]["fact_id"] == fact_id and finding["credit_code"] == code
    assert events[-1]["actor"] == "system:review"

    dossier = (await review.get(base, headers=chair("city/chair"))).json()
    assert dossier["status"] == "approved" and dossier["status_label"] == "建设中"
    assert dossier["decision"]["decision"] == "approved"
    assert dossier["decision"]["actor"] == "chair:city/chair"
    assert [s["actor"] for s in dossier["scores"]] == [
        "reviewer:city/a",
        "reviewer:370203/b",
        "reviewer:G-HAIER/c",
    ]
    assert [s["reviewer"] for s in dossier["scores"]] == ["city/a", "370203/b", "G-HAIER/c"]
    assert all(s["at"] for s in dossier["scores"])
    assert dossier["submitted"]["actor"] == f"district:{DISTRICT}"
    assert dossier["form"]["undertaking_unit"]["credit_code"] == code
    assert dossier["findings"][0]["open"] is True and dossier["findings"][0]["stage"] == "during_construction"
    assert [h["type"] for h in dossier["history"]][:2] == ["ApplicationSubmitted", "ApplicationAccepted"]


async def test_deviation_flag_findings_clearance_and_decline(
    intake: httpx.AsyncClient, review: httpx.AsyncClient, review_db: asyncpg.Pool
) -> None:
    application_id, _ = await accepted_application(intake, review_db)
    base = f"/applications/{application_id}"
    await selected_with_plans(intake, review, application_id)
    # Each total is compared with the median of all totals (80): only the 40 is more than 15 off.
    for who, total in (("city/a", 80), ("370203/b", 81), ("G-HAIER/d", 80), ("370211/c", 40)):
        response = await review.post(f"{base}/scores", json=scores(total), headers={**reviewer(who), **key()})
        assert response.status_code == 201, response.text
    panel = (await review.get(f"{base}/panel", headers=chair("city/chair"))).json()
    assert panel["flagged"] == ["370211/c"]
    entry = next(e for e in panel["entries"] if e["reviewer"] == "370211/c")
    assert entry["deviation"] == "40.00" and entry["panel_median"] == "80.00"
    item = await queue_item(review, application_id, "awaiting_decision", scored=4)
    assert item["flagged"] == ["370211/c"] and item["average"] == "70.25"

    # Reviewers record only C1–C5, with a reason; the finding blocks approval until cleared.
    response = await review.post(
        f"{base}/findings",
        json={"rule": "E2", "reason": "听说该企业拖欠工资情况较多"},
        headers={**reviewer("city/a"), **key()},
    )
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "rule"
    response = await review.post(
        f"{base}/findings", json={"rule": "C3", "reason": "短"}, headers={**reviewer("city/a"), **key()}
    )
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "reason"
    finding_key = key()
    body = {"rule": "C3", "reason": "项目以商业健身会员销售为主，面向职工的公益服务内容不足。"}
    response = await review.post(f"{base}/findings", json=body, headers={**reviewer("city/a"), **finding_key})
    assert response.status_code == 201, response.text
    finding_id = response.json()["finding_id"]
    replay = await review.post(f"{base}/findings", json=body, headers={**reviewer("city/a"), **finding_key})
    assert replay.json()["finding_id"] == finding_id

    period = {"decision": "approve", "period_start": (today() + timedelta(days=1)).isoformat()}
    response = await review.post(f"{base}/decision", json=period, headers={**chair("city/chair"), **key()})
    assert response.status_code == 409, response.text
    assert response.json()["errors"][0]["field"] == f"findings.{finding_id}"

    clearance = {"reason": "经核实商业内容仅占一成，以公益服务为主。"}
    response = await review.post(
        f"{base}/findings/{finding_id}/clearance", json=clearance, headers={**reviewer("370203/b"), **key()}
    )
    assert response.status_code == 200, response.text
    response = await review.post(
        f"{base}/findings/{finding_id}/clearance", json=clearance, headers={**reviewer("370203/b"), **key()}
    )
    assert response.status_code == 409, response.text
    response = await review.post(
        f"{base}/findings/{uuid.uuid4()}/clearance", json=clearance, headers={**reviewer("370203/b"), **key()}
    )
    assert response.status_code == 404, response.text

    # Cleared, the approval still waits for the chair's note on the flagged score.
    response = await review.post(f"{base}/decision", json=period, headers={**chair("city/chair"), **key()})
    assert response.status_code == 409, response.text
    assert response.json()["errors"][0]["field"] == "flag_note"

    decline = {"decision": "decline", "reasons": ["评审意见分歧较大", "资金投入不明确"]}
    response = await review.post(f"{base}/decision", json=decline, headers={**chair("city/chair"), **key()})
    assert response.status_code == 201, response.text
    assert response.json()["decision"] == "declined" and response.json()["score_average"] == "70.25"
    response = await review.post(f"{base}/decision", json=period, headers={**chair("city/chair"), **key()})
    assert response.status_code == 409, response.text

    # The district reads its own, in confidence: the rules and reasons, never who or what score.
    response = await review.get(base, headers=SUBMITTER)
    dossier = response.json()
    assert dossier["status"] == "declined"
    assert dossier["decision"]["reasons"] == decline["reasons"]
    (finding,) = dossier["findings"]
    assert finding["rule"] == "C3" and finding["evidence"]["reason"] == body["reason"]
    assert finding["found"]["actor"] is None and finding["cleared"]["actor"] is None
    assert finding["cleared"]["reason"] == clearance["reason"]
    assert dossier["scores"] is None and dossier["panel"] is None
    for who in ("city/a", "370203/b", "G-HAIER/d", "370211/c"):
        assert who not in response.text
    response = await review.get(f"{base}/panel", headers=SUBMITTER)
    assert response.status_code == 403, response.text
    response = await review.get("/queue", params={"page_size": 500}, headers=SUBMITTER)
    mine = next(i for i in response.json()["items"] if i["application_id"] == application_id)
    assert mine["flagged"] == [] and mine["average"] is None and mine["scores"] == 4
    # Exported, the queue keeps its confidentiality: the district's file has no score and no name.
    for reader, expected_average in ((SUBMITTER, ""), (chair("city/chair"), "70.25")):
        exported = await review.get("/queue", params={"page_size": 500, "format": "csv"}, headers=reader)
        assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
        lines = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
        assert lines[0][:8] == [
            "受理编号",
            "申报年度",
            "工作任务",
            "申报区市或单位",
            "名称",
            "建设单位",
            "队列阶段",
            "评审状态",
        ]
        row = next(line for line in lines[1:] if line[0] == mine["receipt_no"])
        assert (row[6], row[7], row[10], row[11]) == ("已办结", "未获批准", "4", expected_average)
        if reader is SUBMITTER:
            assert not any(name in exported.text for name in ("city/a", "370203/b", "G-HAIER/d", "370211/c"))
    other = await review.get(base, headers={"X-Huigong-Principal": "district:370203"})
    assert other.status_code == 404


async def test_who_may_do_what(
    intake: httpx.AsyncClient, review: httpx.AsyncClient, review_db: asyncpg.Pool
) -> None:
    application_id, _ = await accepted_application(intake, review_db)
    base = f"/applications/{application_id}"
    # Only the chair selects construction units.
    response = await review.post(
        f"{base}/selection", json={"decision": "select"}, headers={**reviewer("city/x"), **key()}
    )
    assert response.status_code == 403, response.text
    await selected_with_plans(intake, review, application_id)
    response = await review.post(
        f"{base}/scores", json=scores(80), headers={**reviewer("nowhere/a"), **key()}
    )
    assert response.status_code == 401 and response.json()["errors"][0]["zh"]
    response = await review.post(f"{base}/scores", json=scores(80), headers={**SUBMITTER, **key()})
    assert response.status_code == 403
    response = await review.post(f"{base}/scores", json=scores(80), headers={**chair("city/x"), **key()})
    assert response.status_code == 403
    response = await review.post(
        f"{base}/decision", json={"decision": "approve"}, headers={**reviewer("city/x"), **key()}
    )
    assert response.status_code == 403
    bad = scores(80)
    bad["scores"]["总体思路"] = {"score": "101", "comment": "好"}
    del bad["scores"]["资金投入"]
    response = await review.post(f"{base}/scores", json=bad, headers={**reviewer("city/x"), **key()})
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"scores.总体思路.score", "scores.总体思路.comment", "scores.资金投入"} <= fields
    response = await review.post(
        f"/applications/{uuid.uuid4()}/scores", json=scores(80), headers={**reviewer("city/x"), **key()}
    )
    assert response.status_code == 404
    response = await review.get(base, headers=EXCHANGE)
    assert response.status_code == 403


async def test_selection_decline_duplicates_and_receipt_numbers(
    intake: httpx.AsyncClient, review: httpx.AsyncClient, review_db: asyncpg.Pool
) -> None:
    code = enterprise_code()
    body = happy_application(code)
    response = await intake.post("/applications", json=body, headers={**SUBMITTER, **key()})
    assert response.status_code == 201, response.text
    first = response.json()
    receipt = first["receipt_no"]
    # The same district, programme, unit and year again: 409 naming the first receipt.
    response = await intake.post("/applications", json=body, headers={**SUBMITTER, **key()})
    assert response.status_code == 409, response.text
    assert receipt in response.json()["errors"][0]["zh"] and receipt in response.json()["errors"][0]["en"]

    # Found by its receipt number at intake and at review alike.
    assert types(await screened(review_db, first["application_id"])) == ["ApplicationAccepted"]
    by_receipt = await intake.get(f"/applications/{receipt}", headers=SUBMITTER)
    assert by_receipt.status_code == 200, by_receipt.text
    assert by_receipt.json()["application_id"] == first["application_id"]
    assert by_receipt.json()["status_history"][0]["status_label"] == "已提交"
    assert (
        await intake.get(f"/applications/{receipt}", headers={"X-Huigong-Principal": "district:370203"})
    ).status_code == 404
    assert (await intake.get("/applications/not-a-receipt", headers=SUBMITTER)).status_code == 422
    response = await review.get(f"/applications/{receipt}", headers=chair("city/chair"))
    assert response.status_code == 200, response.text
    assert response.json()["application_id"] == first["application_id"]

    # The city passes it over, with reasons the district reads; no plans can follow.
    reasons = ["场地为临时租用，暂不具备建设条件"]
    response = await review.post(
        f"/applications/{receipt}/selection",
        json={"decision": "not_select", "reasons": reasons},
        headers={**chair("city/chair"), **key()},
    )
    assert response.status_code == 201, response.text
    assert response.json()["decision_label"] == "未确定为建设单位"
    mine = (await review.get(f"/applications/{first['application_id']}", headers=SUBMITTER)).json()
    assert mine["status"] == "not_selected" and mine["selection"]["reasons"] == reasons
    assert mine["selection"]["actor"] is None

    async def intake_knows() -> dict[str, Any] | None:
        answer = (await intake.get(f"/applications/{receipt}", headers=SUBMITTER)).json()
        return answer if answer["status"] == "not_selected" else None

    seen = await eventually(intake_knows, "intake to show 未确定为建设单位")
    assert [h["status"] for h in seen["status_history"]] == ["submitted", "accepted", "not_selected"]
    plan = {"plan": json.loads(three_year_plan(YEAR).model_dump_json())}
    response = await intake.post(f"/applications/{receipt}/plans", json=plan, headers={**SUBMITTER, **key()})
    assert response.status_code == 409, response.text

    # Another, obviously unfit, is declined straight after screening: no quorum of scores needed.
    other, _ = await accepted_application(intake, review_db)
    decline = {"decision": "decline", "reasons": ["企业尚在筹建，明显不具备建设条件"]}
    response = await review.post(
        f"/applications/{other}/decision", json=decline, headers={**chair("city/chair"), **key()}
    )
    assert response.status_code == 201, response.text
    assert response.json()["decision"] == "declined" and response.json()["score_average"] is None


# --- redelivery --------------------------------------------------------------------------------


async def test_a_redelivered_application_submitted_produces_no_second_finding_or_decision(
    stack: Stack, intake: httpx.AsyncClient, review_db: asyncpg.Pool, intake_db: asyncpg.Pool
) -> None:
    code = enterprise_code()
    fact_id = await report_fact(intake, code, D.拖欠工资, today() - timedelta(days=45))
    await fact_reached_review(review_db, fact_id)
    application_id = await submit(intake, happy_application(code))
    before = await screened(review_db, application_id)
    assert types(before) == ["ExclusionFound", "ApplicationRejected"]

    # The outbox relay may publish an event twice (a crash between the broker's ack and marking
    # the row): publish a byte-identical copy of the recorded ApplicationSubmitted.
    (submitted,) = (
        await EventStore(intake_db, stack.topic_prefix).read("application", application_id)
    ).events
    topic = topic_for_aggregate("application").qualified(stack.topic_prefix)
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap)
    await producer.start()
    try:
        record_key, value, headers = to_kafka(submitted)
        sent = await producer.send_and_wait(topic, value=value, key=record_key, headers=headers)
    finally:
        await producer.stop()

    await eventually(
        lambda: review_db.fetchval(
            """SELECT true FROM checkpoints WHERE consumer = 'review.screening'
               AND topic = $1 AND partition = $2 AND next_offset > $3""",
            topic,
            sent.partition,
            sent.offset,
        ),
        "the screening agent passes the copy",
    )
    await asyncio.sleep(1)  # a second decision, had there been one, is in the same transaction
    assert await review_events(review_db, application_id) == before

    # Past the runner's fence too (say its version record were lost), the domain decides nothing
    # twice: the reaction itself, given the same trigger again, appends nothing.
    reaction = ScreeningReaction()
    store = EventStore(review_db, stack.topic_prefix)
    reaction.bind(store)
    async with review_db.acquire() as conn, conn.transaction():
        await reaction.apply(conn, decode(submitted), submitted)
    assert await review_events(review_db, application_id) == before


# --- last: the service stops cleanly with its agent running --------------------------------------


async def test_sigterm_stops_review_cleanly_with_its_screening_agent(
    services: tuple[ServiceProcess, ServiceProcess],
) -> None:
    _, review = services
    assert review.terminate() == 0, review.log_tail()
    assert "service stopped" in review.log_tail(50)
