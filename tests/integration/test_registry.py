"""Registry end to end, with real intake, review and registry processes on the real broker and
database: an application approved by review becomes a unit, a registrar assesses and certifies
it, a fact reported afterwards makes review find an exclusion and the registry suspend the title
and open a revocation case (the union's statement, a registrar's confirmation or dismissal, a
withdrawn or corrected fact restoring it), and anyone can verify a certificate number. Gig workers reported by two districts
are one member. Each test uses enterprises and platforms of its own, so the shared topics never
mix their data."""

from __future__ import annotations

import csv
import io
import json
import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

import asyncpg
import httpx
import openpyxl
import pypdfium2
import pytest
import zxingcpp
from aiokafka import AIOKafkaProducer
from pypdf import PdfReader

from huigong_events.envelope import to_kafka
from huigong_events.reference import (
    EXCLUSION_TEXTS,
    HAPPY_ENTERPRISE_CRITERIA,
    TITLES,
    ExclusionRule,
    Programme,
)
from huigong_events.review import EvidenceSource, ExclusionEvidence, ExclusionFound, FindingStage
from huigong_events.topics import topic_for_aggregate
from huigong_platform.database import create_pool
from huigong_platform.eventstore import EventStore, Metadata
from huigong_registry.domain.certification import unit_id_of_application
from huigong_registry.domain.dates import beijing_day
from huigong_simulator.data import enrolment_rows
from huigong_simulator.forms import FACT_DEPARTMENTS

from ..conftest import Stack
from .processes import ServiceProcess, running
from .test_review import (
    D,
    accepted_application,
    chair,
    eventually,
    key,
    report_fact,
    review_events,
    reviewer,
    scores,
    selected_with_plans,
    today,
)

REGISTRAR = {"X-Huigong-Principal": "registrar:city01"}
Services = tuple[ServiceProcess, ServiceProcess, ServiceProcess]

# These modules follow a unit from approval to certification in one sitting: no minimum building
# time (the one-year default is the domain's tests' and test_registry's certification-date test's).
BUILT: Final = {"HUIGONG_MIN_BUILDING_YEARS": "0"}


@pytest.fixture(scope="module")
async def services(stack: Stack) -> AsyncIterator[Services]:
    async with running(stack, ("intake", "review", "registry"), 500, "registry-test", BUILT) as procs:
        yield procs  # type: ignore[misc]


@pytest.fixture
async def intake_db(stack: Stack) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(stack.dsn("intake"), "intake")
    yield pool
    await pool.close()


@pytest.fixture
async def registry_db(stack: Stack) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(stack.dsn("registry"), "registry")
    yield pool
    await pool.close()


# --- helpers -----------------------------------------------------------------------------------


async def approved_application(
    intake: httpx.AsyncClient, review: httpx.AsyncClient, review_db: asyncpg.Pool, start: date | None = None
) -> tuple[str, str]:
    """An accepted 幸福企业 application, scored by three reviewers and approved by the chair."""
    application_id, code = await accepted_application(intake, review_db)
    base = f"/applications/{application_id}"
    await selected_with_plans(intake, review, application_id)
    for who, total in (("city/a", 80), ("370203/b", 84), ("G-HAIER/c", 83)):
        response = await review.post(f"{base}/scores", json=scores(total), headers={**reviewer(who), **key()})
        assert response.status_code == 201, response.text
    decision = {"decision": "approve", "period_start": (start or today()).isoformat()}
    response = await review.post(f"{base}/decision", json=decision, headers={**chair("city/chair"), **key()})
    assert response.status_code == 201, response.text
    return application_id, code


async def unit_item(registry: httpx.AsyncClient, unit_id: str, status: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        response = await registry.get(
            "/units", params={"origin": "application", "status": status, "page_size": 500}, headers=REGISTRAR
        )
        assert response.status_code == 200, response.text
        return next((dict(i) for i in response.json()["items"] if i["unit_id"] == unit_id), None)

    return await eventually(probe, f"unit {unit_id} listed as {status}")


async def certificate(registry: httpx.AsyncClient, number: str, status: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        response = await registry.get(f"/certificates/{number}")
        if response.status_code == 200 and response.json()["status"] == status:
            return dict(response.json())
        return None

    return await eventually(probe, f"certificate {number} {status}")


def as_dict(raw: Any) -> dict[str, Any]:
    result: dict[str, Any] = raw if isinstance(raw, dict) else json.loads(raw)
    return result


def results(unmet: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    return [
        {"criterion": c, "met": c not in unmet, "evidence": "现场核查记录及台账"}
        for c in HAPPY_ENTERPRISE_CRITERIA
    ]


UNIT_DISTRICT: Final = {"X-Huigong-Principal": "district:370202"}
OTHER_DISTRICT: Final = {"X-Huigong-Principal": "district:370203"}


async def finding_of(review_db: asyncpg.Pool, application_id: str, fact_id: str) -> dict[str, Any] | None:
    """Review's finding on the application that rests on this fact, once recorded."""
    for event in await review_events(review_db, application_id):
        if event["type"] == "ExclusionFound":
            found = as_dict(event["data"])
            if found["evidence"].get("fact_id") == fact_id:
                return found
    return None


async def revocation_case(registry: httpx.AsyncClient, unit_id: str, who: dict[str, str]) -> dict[str, Any]:
    """The unit's latest revocation case, once one is open."""

    async def probe() -> dict[str, Any] | None:
        response = await registry.get(f"/units/{unit_id}/revocation-cases", headers=who)
        assert response.status_code == 200, response.text
        cases = response.json()["cases"]
        return dict(cases[-1]) if cases else None

    return await eventually(probe, f"a revocation case of {unit_id}")


async def certified_unit(
    intake: httpx.AsyncClient, review: httpx.AsyncClient, registry: httpx.AsyncClient, review_db: asyncpg.Pool
) -> tuple[str, str, str, str]:
    """An approved application's unit, assessed and certified: (application, credit code, unit,
    certificate number)."""
    application_id, code = await approved_application(intake, review, review_db)
    unit_id = str(unit_id_of_application(uuid.UUID(application_id)))
    await unit_item(registry, unit_id, "approved")
    response = await registry.post(
        f"/units/{unit_id}/assessment", json={"results": results()}, headers={**REGISTRAR, **key()}
    )
    assert response.status_code == 201, response.text
    response = await registry.post(f"/units/{unit_id}/certification", json={}, headers={**REGISTRAR, **key()})
    assert response.status_code == 201, response.text
    return application_id, code, unit_id, response.json()["certificate_no"]


# --- the lifecycle -----------------------------------------------------------------------------


async def test_no_certification_before_the_construction_period_has_begun(
    intake: httpx.AsyncClient, review: httpx.AsyncClient, registry: httpx.AsyncClient, review_db: asyncpg.Pool
) -> None:
    """Approved today for a period starting in a month: not certified today (the refusal names
    the earliest date), and no assessment dated before the approval."""
    start = today() + timedelta(days=30)
    application_id, _ = await approved_application(intake, review, review_db, start)
    unit_id = str(unit_id_of_application(uuid.UUID(application_id)))
    await unit_item(registry, unit_id, "approved")
    base = f"/units/{unit_id}"
    early = {"results": results(), "assessed_on": (today() - timedelta(days=1)).isoformat()}
    response = await registry.post(f"{base}/assessment", json=early, headers={**REGISTRAR, **key()})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "assessed_on"
    response = await registry.post(
        f"{base}/assessment", json={"results": results()}, headers={**REGISTRAR, **key()}
    )
    assert response.status_code == 201, response.text
    response = await registry.post(f"{base}/certification", json={}, headers={**REGISTRAR, **key()})
    assert response.status_code == 409, response.text
    (error,) = response.json()["errors"]
    assert (
        error["field"] == "certified_on"
        and start.isoformat() in error["zh"]
        and start.isoformat() in error["en"]
    )


async def test_approval_assessment_certification_and_revocation_after_a_hearing(
    intake: httpx.AsyncClient,
    review: httpx.AsyncClient,
    registry: httpx.AsyncClient,
    review_db: asyncpg.Pool,
    registry_db: asyncpg.Pool,
) -> None:
    application_id, code = await approved_application(intake, review, review_db)
    unit_id = str(unit_id_of_application(uuid.UUID(application_id)))
    unit = await unit_item(registry, unit_id, "approved")
    assert unit["application_id"] == application_id and unit["programme"] == "happy_enterprise"
    assert unit["area"] == "370202" and unit["origin"] == "application"
    base = f"/units/{unit_id}"

    # Only registrars (or the city) certify; a district cannot.
    response = await registry.post(
        f"{base}/assessment",
        json={"results": results()},
        headers={"X-Huigong-Principal": "district:370202", **key()},
    )
    assert response.status_code == 403, response.text

    # One criterion unmet: certification is refused with exactly that criterion.
    unmet = HAPPY_ENTERPRISE_CRITERIA[2]
    response = await registry.post(
        f"{base}/assessment", json={"results": results((unmet,))}, headers={**REGISTRAR, **key()}
    )
    assert response.status_code == 201, response.text
    response = await registry.post(f"{base}/certification", json={}, headers={**REGISTRAR, **key()})
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == [f"criteria.{unmet}"]

    # Reassessed as met: certified with the exact title, a number and the dates.
    fixed = [{"criterion": unmet, "met": True, "evidence": "已整改，补充福利制度文件"}]
    response = await registry.post(
        f"{base}/assessment", json={"results": fixed}, headers={**REGISTRAR, **key()}
    )
    assert response.status_code == 201, response.text
    certify_key = key()
    response = await registry.post(f"{base}/certification", json={}, headers={**REGISTRAR, **certify_key})
    assert response.status_code == 201, response.text
    cert = response.json()
    assert cert["title"] == TITLES[Programme.幸福企业]
    number = cert["certificate_no"]
    assert number.startswith(f"QDGH-{today().year}-FQ-") and len(number) == len("QDGH-2027-FQ-0001")
    assert cert["certified_on"] == today().isoformat()
    assert date.fromisoformat(cert["recheck_due"]).year == today().year + 1
    replay = await registry.post(f"{base}/certification", json={}, headers={**REGISTRAR, **certify_key})
    assert replay.status_code == 201 and replay.json()["certificate_no"] == number
    assert replay.headers.get("Idempotent-Replayed") == "true"
    again = await registry.post(f"{base}/certification", json={}, headers={**REGISTRAR, **key()})
    assert again.status_code == 409, again.text

    shown = await certificate(registry, number, "certified")
    assert shown["unit_name"] == unit["name"] and shown["title"] == cert["title"]
    assert shown["certified_on"] == cert["certified_on"] and shown["revoked_on"] is None
    assert (await unit_item(registry, unit_id, "certified"))["certificate_no"] == number

    # A fact reported after certification: review finds an exclusion, the registry suspends the
    # title at once and opens a case; nobody has revoked anything yet.
    fact_id = await report_fact(intake, code, D.拖欠工资, today() - timedelta(days=1))
    found = await eventually(
        lambda: finding_of(review_db, application_id, fact_id), "review finds the exclusion"
    )
    suspended = await certificate(registry, number, "suspended")
    assert suspended["status_label"] == "暂停" and suspended["suspended_on"] == today().isoformat()
    assert suspended["revoked_on"] is None
    # The public sees the suspension and its date, never why nor whose.
    assert not {"reason", "rule", "status_reason", "name", "credit_code"} & set(suspended)
    listed = await unit_item(registry, unit_id, "suspended")
    assert "E2" in listed["status_reason"] and listed["suspended_on"] == today().isoformat()

    case = await revocation_case(registry, unit_id, REGISTRAR)
    assert case["status"] == "open" and case["status_label"] == "审查中"
    assert case["case_id"] == found["finding_id"] and case["opened_on"] == today().isoformat()
    assert [g["rule"] for g in case["grounds"]] == ["E2"]
    due = case["statement_due"]
    assert due > today().isoformat()

    # Not revoked before the union was heard or its time passed.
    response = await registry.post(
        f"{base}/revocation-case/confirmation", json={"reason": "欠薪属实"}, headers={**REGISTRAR, **key()}
    )
    assert response.status_code == 409 and due in response.json()["errors"][0]["zh"], response.text
    # The unit's own district files its statement, once; another district's is answered as none.
    statement = {"statement": "欠薪系分包单位所欠，总包已垫付结清，附付款凭证"}
    response = await registry.post(
        f"{base}/revocation-case/statement", json=statement, headers={**OTHER_DISTRICT, **key()}
    )
    assert response.status_code == 404, response.text
    response = await registry.post(
        f"{base}/revocation-case/statement", json=statement, headers={**UNIT_DISTRICT, **key()}
    )
    assert response.status_code == 201, response.text
    response = await registry.post(
        f"{base}/revocation-case/statement", json=statement, headers={**UNIT_DISTRICT, **key()}
    )
    assert response.status_code == 409, response.text
    # Only a registrar decides.
    for who in (UNIT_DISTRICT, {"X-Huigong-Principal": "reviewer:city/a"}):
        response = await registry.post(
            f"{base}/revocation-case/confirmation", json={"reason": "欠薪属实"}, headers={**who, **key()}
        )
        assert response.status_code == 403, response.text
    response = await registry.post(
        f"{base}/revocation-case/confirmation",
        json={"reason": "经核实欠薪属实，申诉理由不成立"},
        headers={**REGISTRAR, **key()},
    )
    assert response.status_code == 201, response.text
    assert response.json()["automatic"] is False and response.json()["finding_id"] == found["finding_id"]

    revoked = await certificate(registry, number, "revoked")
    assert revoked["revoked_on"] == today().isoformat() and revoked["status_label"] == "已撤销"
    assert "name" not in revoked and "credit_code" not in revoked
    rows = await registry_db.fetch(
        """SELECT type, actor FROM events WHERE aggregate_type = 'unit' AND aggregate_id = $1
           ORDER BY aggregate_version""",
        unit_id,
    )
    steps = [(r["type"], r["actor"]) for r in rows][-3:]
    assert steps == [
        ("CertificationSuspended", "system:registry"),
        ("RevocationStatementFiled", "district:370202"),
        ("CertificationRevoked", "registrar:city01"),
    ]
    # The unit's district reads the case back: each step, its role, not who.
    case = await revocation_case(registry, unit_id, UNIT_DISTRICT)
    assert case["status"] == "revoked" and case["decision_reason"] == "经核实欠薪属实，申诉理由不成立"
    assert case["statement"] == statement["statement"]
    assert [step["actor"] for step in case["steps"]] == [None, None, None]
    assert [step["actor_role_label"] for step in case["steps"]][-1] == "登记人员"
    registrar_view = await revocation_case(registry, unit_id, REGISTRAR)
    assert registrar_view["steps"][-1]["actor"] == "registrar:city01"
    for who, status in ((OTHER_DISTRICT, 404), ({"X-Huigong-Principal": "reviewer:city/a"}, 403)):
        response = await registry.get(f"{base}/revocation-cases", headers=who)
        assert response.status_code == status, response.text

    # A revoked unit is never certified again: a new cycle is a new application.
    response = await registry.post(f"{base}/certification", json={}, headers={**REGISTRAR, **key()})
    assert response.status_code == 409, response.text
    assert "重新申报" in response.json()["errors"][0]["zh"]


async def test_a_dismissal_a_withdrawn_fact_and_a_correction_each_restore_a_suspended_title(
    intake: httpx.AsyncClient,
    review: httpx.AsyncClient,
    registry: httpx.AsyncClient,
    review_db: asyncpg.Pool,
) -> None:
    application_id, code, unit_id, number = await certified_unit(intake, review, registry, review_db)
    base = f"/units/{unit_id}"

    # 1. Dismissed by a registrar, with a reason: the title is valid again.
    first = await report_fact(intake, code, D.拖欠工资, today() - timedelta(days=1))
    await certificate(registry, number, "suspended")
    response = await registry.post(
        f"{base}/revocation-case/dismissal", json={"reason": "经核查系误报"}, headers={**REGISTRAR, **key()}
    )
    assert response.status_code == 201, response.text
    assert (await certificate(registry, number, "certified"))["suspended_on"] is None
    await unit_item(registry, unit_id, "certified")

    # 2. A second fact suspends it again; its department withdraws the fact: review clears the
    # finding and the registry restores the title, without a registrar.
    second = await report_fact(intake, code, D.拖欠工资, today() - timedelta(days=2))
    await eventually(lambda: finding_of(review_db, application_id, second), "review finds the exclusion")
    await certificate(registry, number, "suspended")
    department = {"X-Huigong-Principal": f"exchange:{FACT_DEPARTMENTS[D.拖欠工资].value}"}
    response = await intake.post(
        f"/compliance-facts/{second}/withdrawal",
        json={"reason": "处罚决定经行政复议撤销"},
        headers={**department, **key()},
    )
    assert response.status_code == 201, response.text
    await certificate(registry, number, "certified")

    # 3. A third fact; its department corrects it: settled before the application was submitted,
    # so it no longer disqualifies. The fact keeps its id; the title is restored.
    third = await report_fact(intake, code, D.拖欠工资, today() - timedelta(days=3))
    await eventually(lambda: finding_of(review_db, application_id, third), "review finds the exclusion")
    await certificate(registry, number, "suspended")
    response = await intake.post(
        f"/compliance-facts/{third}/corrections",
        json={"settled_on": (today() - timedelta(days=2)).isoformat(), "reason": "补报结清日期"},
        headers={**department, **key()},
    )
    assert response.status_code == 201 and response.json()["fact_id"] == third, response.text
    await certificate(registry, number, "certified")
    response = await intake.get(f"/compliance-facts/{third}", headers=department)
    assert response.status_code == 200, response.text
    assert [step["action_label"] for step in response.json()["history"]] == ["报送", "更正"]

    cases = (await registry.get(f"{base}/revocation-cases", headers=REGISTRAR)).json()["cases"]
    assert [c["status"] for c in cases] == ["dismissed", "grounds_cleared", "grounds_cleared"]
    assert "复议撤销" in cases[1]["decision_reason"] and "补报结清日期" in cases[2]["decision_reason"]
    assert first != second != third


async def test_a_statement_after_the_window_is_refused_and_the_registrar_may_then_decide(
    stack: Stack,
    intake: httpx.AsyncClient,
    review: httpx.AsyncClient,
    registry: httpx.AsyncClient,
    review_db: asyncpg.Pool,
) -> None:
    """A finding review recorded three weeks ago (its business time), reaching the registry now:
    the title is suspended from that day, and the union's five working days are over."""
    application_id, _, unit_id, number = await certified_unit(intake, review, registry, review_db)
    store = EventStore(review_db, stack.topic_prefix)
    stream = await store.read("review", application_id)
    found = ExclusionFound(
        finding_id=uuid.uuid4(),
        application_id=uuid.UUID(application_id),
        rule=ExclusionRule.E6_群体性劳动争议,
        rule_text=EXCLUSION_TEXTS[ExclusionRule.E6_群体性劳动争议],
        stage=FindingStage.认定后,
        evidence=ExclusionEvidence(source=EvidenceSource.评审认定, reason="经查发生重大群体性劳动争议"),
    )
    three_weeks_ago = datetime.now(UTC) - timedelta(days=21)
    meta = Metadata("reviewer:city/a", "review", str(uuid.uuid4()), occurred_at=three_weeks_ago)
    await store.append(application_id, [found], stream.version, meta)

    suspended = await certificate(registry, number, "suspended")
    assert suspended["suspended_on"] == beijing_day(three_weeks_ago).isoformat()
    case = await revocation_case(registry, unit_id, REGISTRAR)
    due = case["statement_due"]
    assert due < today().isoformat()
    response = await registry.post(
        f"/units/{unit_id}/revocation-case/statement",
        json={"statement": "争议已调解结案"},
        headers={**UNIT_DISTRICT, **key()},
    )
    assert response.status_code == 409, response.text
    assert due in response.json()["errors"][0]["zh"] and due in response.json()["errors"][0]["en"]
    # The union's time passed unheard: the registrar may decide.
    response = await registry.post(
        f"/units/{unit_id}/revocation-case/confirmation",
        json={"reason": "申诉期届满未申诉，争议属实"},
        headers={**REGISTRAR, **key()},
    )
    assert response.status_code == 201, response.text
    await certificate(registry, number, "revoked")


async def test_verification_of_a_valid_a_revoked_and_an_unknown_number(
    intake: httpx.AsyncClient, review: httpx.AsyncClient, registry: httpx.AsyncClient, review_db: asyncpg.Pool
) -> None:
    numbers = []
    for _ in range(2):
        application_id, _ = await approved_application(intake, review, review_db)
        unit_id = str(unit_id_of_application(uuid.UUID(application_id)))
        await unit_item(registry, unit_id, "approved")
        response = await registry.post(
            f"/units/{unit_id}/assessment", json={"results": results()}, headers={**REGISTRAR, **key()}
        )
        assert response.status_code == 201, response.text
        response = await registry.post(
            f"/units/{unit_id}/certification", json={}, headers={**REGISTRAR, **key()}
        )
        assert response.status_code == 201, response.text
        numbers.append((unit_id, response.json()["certificate_no"]))
    (_, valid), (revoked_unit, revoked) = numbers
    assert valid != revoked
    response = await registry.post(
        f"/units/{revoked_unit}/revocation", json={"reason": "年度复核不合格"}, headers={**REGISTRAR, **key()}
    )
    assert response.status_code == 201, response.text
    assert response.json()["automatic"] is False

    assert (await certificate(registry, valid, "certified"))["revoked_on"] is None
    assert (await certificate(registry, revoked, "revoked"))["revoked_on"] == today().isoformat()
    response = await registry.get("/certificates/QDGH-1999-FQ-9999")
    assert response.status_code == 404
    error = response.json()["errors"][0]
    assert error["zh"] and error["en"]

    # The units' list exports with its filters: the revoked unit, in Chinese, and not the valid one.
    exported = await registry.get(
        "/units", params={"status": "revoked", "origin": "application", "format": "csv"}, headers=REGISTRAR
    )
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert lines[0][:6] == ["单位名称", "工作任务", "所属区市或单位", "来源", "状态", "登记日期"]
    row = next(line for line in lines[1:] if line[6] == revoked)
    assert row[1] == "职工生活幸福型企业" and row[4] == "已撤销" and row[11] == today().isoformat()
    assert valid not in exported.text
    workbook = await registry.get("/units", params={"status": "revoked", "format": "xlsx"}, headers=REGISTRAR)
    sheet = openpyxl.load_workbook(io.BytesIO(workbook.content)).active
    assert any(line[6] == revoked for line in sheet.iter_rows(values_only=True))


async def test_a_browser_reads_the_verification_page_and_the_registrar_prints_the_certificate(
    intake: httpx.AsyncClient,
    review: httpx.AsyncClient,
    registry: httpx.AsyncClient,
    review_db: asyncpg.Pool,
    registry_db: asyncpg.Pool,
) -> None:
    _, _, unit_id, number = await certified_unit(intake, review, registry, review_db)
    shown = await certificate(registry, number, "certified")
    assert (shown["standing"], shown["standing_label"]) == ("valid", "有效")

    browser = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
    page = await registry.get(f"/certificates/{number}", headers=browser)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "有效" in page.text and shown["unit_name"] in page.text and shown["title"] in page.text
    missing = await registry.get("/certificates/QDGH-1999-FQ-9999", headers=browser)
    assert missing.status_code == 404 and "未找到" in missing.text
    api = await registry.get(f"/certificates/{number}", headers={"Accept": "application/json"})
    assert api.json()["certificate_no"] == number

    printed = await registry.get(f"/certificates/{number}/pdf", headers=REGISTRAR)
    assert printed.status_code == 200, printed.text
    assert printed.headers["content-type"] == "application/pdf"
    text = PdfReader(io.BytesIO(printed.content)).pages[0].extract_text()
    certified = await registry_db.fetchrow(
        "SELECT hash FROM events WHERE aggregate_id = $1 AND type = 'UnitCertified'", unit_id
    )
    assert certified is not None
    for expected in (number, shown["unit_name"], shown["title"], "青岛市总工会", certified["hash"]):
        assert expected in text, expected
    image = pypdfium2.PdfDocument(printed.content)[0].render(scale=3).to_pil()
    [code] = zxingcpp.read_barcodes(image)
    assert code.text == str(registry.base_url.join(f"/certificates/{number}"))  # the page of this number
    scanned = await registry.get(code.text, headers=browser)
    assert scanned.status_code == 200 and "有效" in scanned.text

    # A title that no longer stands is not printed, and its page says why.
    response = await registry.post(
        f"/units/{unit_id}/revocation", json={"reason": "年度复核不合格"}, headers={**REGISTRAR, **key()}
    )
    assert response.status_code == 201, response.text
    await certificate(registry, number, "revoked")
    assert "已撤销" in (await registry.get(f"/certificates/{number}", headers=browser)).text
    refused = await registry.get(f"/certificates/{number}/pdf", headers=REGISTRAR)
    assert refused.status_code == 409 and "已撤销" in refused.json()["errors"][0]["zh"]


# --- the member roster -------------------------------------------------------------------------


async def test_one_person_enrolled_by_two_districts_is_one_member_with_mutual_aid_once(
    stack: Stack,
    intake: httpx.AsyncClient,
    registry: httpx.AsyncClient,
    intake_db: asyncpg.Pool,
    registry_db: asyncpg.Pool,
) -> None:
    platform = f"测试平台{uuid.uuid4().hex[:8]}"
    (row,) = enrolment_rows(1, "370202", random.Random())
    row = {**row, "平台企业": platform, "入会日期": "2022-07-01", "是否参加互助保障": "是"}
    first = await intake.post(
        "/enrolments", json={"rows": [row]}, headers={"X-Huigong-Principal": "district:370202", **key()}
    )
    assert len(first.json()["accepted"]) == 1, first.text
    second = await intake.post(
        "/enrolments",
        json={"rows": [{**row, "所属区市": "市北区"}]},
        headers={"X-Huigong-Principal": "district:370203", **key()},
    )
    assert len(second.json()["accepted"]) == 1, second.text

    async def counted() -> dict[str, Any] | None:
        response = await registry.get("/members/counts", params={"group_by": "platform"})
        assert response.status_code == 200, response.text
        item = next((i for i in response.json()["items"] if i["platform"] == platform), None)
        return dict(item) if item and item["reported_again"] == 1 else None

    item = await eventually(counted, "both reports reach the roster")
    assert item == {"platform": platform, "members": 1, "reported_again": 1, "mutual_aid": 1}
    exported = await registry.get("/members/counts", params={"group_by": "platform", "format": "csv"})
    lines = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert lines[0] == ["平台企业", "入会人数（去重）", "再次报送", "获得互助保障人数"]
    assert [platform, "1", "1", "1"] in lines
    by_area = await registry.get("/members/counts", params={"group_by": "district", "format": "xlsx"})
    areas = [
        line[0]
        for line in openpyxl.load_workbook(io.BytesIO(by_area.content)).active.iter_rows(values_only=True)
    ]
    assert areas[0] == "区市" and "市南区" in areas  # names, not codes
    by_district = (await registry.get("/members/counts", params={"group_by": "district"})).json()
    assert by_district["group_by"] == "district"

    enrolment_id = first.json()["accepted"][0]["enrolment_id"]
    (requested,) = (await EventStore(intake_db, stack.topic_prefix).read("enrolment", enrolment_id)).events
    member_key = requested.data["member_key"]

    async def member_events() -> list[asyncpg.Record]:
        return await registry_db.fetch(
            """SELECT type, data FROM events WHERE aggregate_type = 'member' AND aggregate_id = $1
               ORDER BY aggregate_version""",
            member_key,
        )

    before = await member_events()
    assert [e["type"] for e in before] == ["MemberEnrolled", "MutualAidGranted", "MemberReportedAgain"]
    aid = as_dict(before[1]["data"])
    assert aid["paid_by"] == "市总工会赠送" and aid["policy_year"] == 2022
    # No personal data in the registry's events.
    assert all(
        str(row["姓名"]) not in str(e["data"]) and str(row["手机号"]) not in str(e["data"]) for e in before
    )

    # A redelivered EnrolmentRequested (the relay publishing twice) changes nothing.
    topic = topic_for_aggregate("enrolment").qualified(stack.topic_prefix)
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap)
    await producer.start()
    try:
        record_key, value, headers = to_kafka(requested)
        sent = await producer.send_and_wait(topic, value=value, key=record_key, headers=headers)
    finally:
        await producer.stop()
    await eventually(
        lambda: registry_db.fetchval(
            """SELECT true FROM checkpoints WHERE consumer = 'registry.members'
               AND topic = $1 AND partition = $2 AND next_offset > $3""",
            topic,
            sent.partition,
            sent.offset,
        ),
        "the members agent passes the copy",
    )
    assert [e["type"] for e in await member_events()] == [e["type"] for e in before]
    assert await counted() == item


async def test_mutual_aid_asked_for_later_and_on_a_re_report_is_paid_by_the_federation_that_asks(
    intake: httpx.AsyncClient, registry_db: asyncpg.Pool
) -> None:
    platform = f"测试平台{uuid.uuid4().hex[:8]}"
    (row,) = enrolment_rows(1, "370213", random.Random())
    row = {**row, "平台企业": platform, "入会日期": "2024-03-01", "是否参加互助保障": "否"}
    licang = {"X-Huigong-Principal": "district:370213"}
    first = await intake.post("/enrolments", json={"rows": [row]}, headers={**licang, **key()})
    assert len(first.json()["accepted"]) == 1, first.text
    member_key: str = await eventually(
        lambda: registry_db.fetchval("SELECT member_key FROM members_view WHERE platform = $1", platform),
        "the member on the roster",
    )

    async def grants(count: int) -> list[dict[str, Any]] | None:
        rows = await registry_db.fetch(
            """SELECT data FROM events WHERE aggregate_type = 'member' AND aggregate_id = $1
               AND type = 'MutualAidGranted' ORDER BY aggregate_version""",
            member_key,
        )
        return [as_dict(r["data"]) for r in rows] if len(rows) >= count else None

    # 市南区 re-reports the worker with mutual aid: 市南区 pays, and the grant says so by code.
    shinan = {"X-Huigong-Principal": "district:370202"}
    again = {**row, "所属区市": "市南区", "入会日期": "2025-03-01", "是否参加互助保障": "是"}
    second = await intake.post("/enrolments", json={"rows": [again]}, headers={**shinan, **key()})
    assert len(second.json()["accepted"]) == 1, second.text
    [paid] = await eventually(lambda: grants(1), "the re-report's grant")
    assert (paid["paid_by"], paid["paid_by_area"], paid["policy_year"]) == ("市南区总工会", "370202", 2025)

    # 李沧区 now asks for mutual aid for the worker it enrolled without it: not refused as 已报送.
    later = await intake.post(
        "/enrolments", json={"rows": [{**row, "是否参加互助保障": "是"}]}, headers={**licang, **key()}
    )
    assert later.status_code == 200, later.text
    assert later.json()["rejected"] == [] and later.json()["accepted"] == []
    assert later.json()["mutual_aid"] == [
        {"row": 1, "enrolment_id": first.json()["accepted"][0]["enrolment_id"]}
    ]
    _, ours = await eventually(lambda: grants(2), "the later grant")
    assert (ours["paid_by"], ours["paid_by_area"]) == ("李沧区总工会", "370213")
    assert ours["policy_year"] == today().year


async def test_a_registration_retried_without_an_id_is_answered_the_first_id(
    registry: httpx.AsyncClient, stack: Stack
) -> None:
    """A registrar's tool that lets the server pick the id and retries after a timeout must get
    the unit it created, not a refusal nor a second unit."""
    body = {
        "name": "青岛重试幸福企业有限公司",
        "programme": "happy_enterprise",
        "area": "370203",
        # Not a 2022 pilot: test_seed counts the cohort's registrations in this run's database.
        "origin": "application",
        "application_id": str(uuid.uuid4()),
        "registered_on": "2024-01-10",
    }
    headers = {**REGISTRAR, "Idempotency-Key": f"retry-{uuid.uuid4()}"}
    first = await registry.post("/units", json=body, headers=headers)
    again = await registry.post("/units", json=body, headers=headers)
    assert first.status_code == 201, first.text
    assert again.status_code == 201 and again.headers.get("Idempotent-Replayed") == "true", again.text
    assert again.json()["id"] == first.json()["id"]
    conn = await asyncpg.connect(stack.dsn("registry"))
    try:
        registered = await conn.fetchval(
            "SELECT count(*) FROM events WHERE type = 'UnitRegistered' AND data->>'name' = $1", body["name"]
        )
    finally:
        await conn.close()
    assert registered == 1
