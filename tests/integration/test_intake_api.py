"""The intake API as a district system meets it: a real intake process on the real database and
broker. Valid forms get a receipt; each invalid field is refused with its own message; late
submissions need an exception window; retries are idempotent; enrolment rows are judged one by
one, the same from JSON, CSV and Excel."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import openpyxl
import pytest

from huigong_events.forms import Organisation
from huigong_intake.domain.identity import credit_check_char
from huigong_simulator.data import enrolment_rows, fake_id_number

from ..conftest import Stack
from ..forms import (
    DISTRICT_UNION_CODE,
    ENTERPRISE_CODE,
    complex_form,
    happy_form,
    partner_form,
    service_base_form,
    variant,
)
from .processes import TEST_PORTS, ServiceProcess, artefacts_dir

YEAR = datetime.now(UTC).year + 1  # open now: its 30 June deadline is ahead
DISTRICT = "370202"
HEADERS = {"X-Huigong-Principal": f"district:{DISTRICT}"}


@pytest.fixture(scope="module")
async def intake(stack: Stack) -> AsyncIterator[ServiceProcess]:
    proc = ServiceProcess("intake", TEST_PORTS["intake"] + 200, artefacts_dir() / "intake-api.log")
    proc.start(stack)
    try:
        await proc.wait_status(200)
        yield proc
    finally:
        proc.kill()


@pytest.fixture
async def client(intake: ServiceProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with intake.client() as client:
        yield client


@pytest.fixture
async def db(stack: Stack) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(stack.dsn("intake"))
    yield conn
    await conn.close()


def key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


def application(form: Any, programme: str, year: int = YEAR) -> dict[str, Any]:
    return {"year": year, "programme": programme, "form": json.loads(form.model_dump_json())}


def fresh_code(prefix: str) -> str:
    """A valid credit code no other test used: one application per unit, programme and year is the
    rule, so each test's application names a unit of its own."""
    first17 = f"{prefix}{uuid.uuid4().int % 10**9:09d}"
    return first17 + credit_check_char(first17)


def fresh_complex() -> Any:
    union = Organisation(name="市南区总工会", credit_code=fresh_code("81370202"))
    return variant(complex_form(), undertaking_unit=union, applicant_unit=union)


def fresh_happy() -> Any:
    unit = Organisation(name="青岛某某有限公司", credit_code=fresh_code("91370202"))
    return variant(happy_form(), undertaking_unit=unit, applicant_unit=unit)


FORMS: dict[str, Callable[[], dict[str, Any]]] = {
    "服务职工综合体": lambda: application(fresh_complex(), "service_complex"),
    "幸福企业": lambda: application(fresh_happy(), "happy_enterprise"),
    "服务职工基地": lambda: application(
        variant(service_base_form(), name=f"青岛某某心理服务职工基地{uuid.uuid4().hex[:6]}"), "service_base"
    ),
    "公益伙伴": lambda: application(
        variant(partner_form(), credit_code=fresh_code("52370202")), "welfare_partner"
    ),
}


@pytest.mark.parametrize("kind", list(FORMS))
async def test_each_form_is_accepted_with_all_its_fields(
    kind: str, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    body = FORMS[kind]()
    response = await client.post("/applications", json=body, headers={**HEADERS, **key()})
    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["receipt_no"].startswith(f"{YEAR}-{DISTRICT}-")
    stored = await db.fetchrow(
        "SELECT data FROM events WHERE aggregate_id = $1 AND type = 'ApplicationSubmitted'",
        answer["application_id"],
    )
    assert stored is not None
    data = json.loads(stored["data"])
    assert data["form"] == body["form"]  # every field of the form, as sent
    assert data["receipt_no"] == answer["receipt_no"]


PILOT_REFUSALS: list[tuple[str, dict[str, Any], str]] = [
    ("form.pilot_name", {"pilot_name": "市南区工会综合体"}, "试点名称"),
    ("form", {"period_start": "2024-07", "period_end": "2024-03"}, "试点时间"),
    ("form.managing_unit", {"managing_unit": "市南区总工会"}, "市总工会"),
    (
        "form.undertaking_unit",
        {"undertaking_unit": {"name": "青岛某某有限公司", "credit_code": ENTERPRISE_CODE}},
        "总工会",
    ),
    ("form.industry", {"industry": "工" * 501}, ""),
]


@pytest.mark.parametrize(("field", "change", "zh_hint"), PILOT_REFUSALS, ids=[r[0] for r in PILOT_REFUSALS])
async def test_each_invalid_field_is_refused_with_its_own_message(
    field: str, change: dict[str, Any], zh_hint: str, client: httpx.AsyncClient
) -> None:
    form = json.loads(complex_form().model_dump_json())
    form.update(change)
    response = await client.post(
        "/applications", json=application_dict(form, "service_complex"), headers={**HEADERS, **key()}
    )
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    hit = [e for e in errors if e["field"].startswith(field)]
    assert hit, errors
    assert all(e["zh"] and e["en"] for e in hit)
    assert zh_hint in " ".join(e["zh"] for e in hit)


def application_dict(form: dict[str, Any], programme: str, year: int = YEAR) -> dict[str, Any]:
    return {"year": year, "programme": programme, "form": form}


async def test_an_unknown_district_code_and_a_malformed_body_are_refused(client: httpx.AsyncClient) -> None:
    city = {"X-Huigong-Principal": "city:staff01"}
    body = {**FORMS["服务职工综合体"](), "submitter": "379999"}
    response = await client.post("/applications", json=body, headers={**city, **key()})
    assert response.status_code == 422
    assert any(e["field"] == "submitter" for e in response.json()["errors"])
    response = await client.post(
        "/applications", content=b"{", headers={**HEADERS, **key(), "Content-Type": "application/json"}
    )
    assert response.status_code == 422


async def test_a_late_submission_is_refused_and_accepted_inside_an_exception_window(
    client: httpx.AsyncClient,
) -> None:
    late_year = datetime.now(UTC).year - 1
    body = application(complex_form(), "service_complex", late_year)
    response = await client.post("/applications", json=body, headers={**HEADERS, **key()})
    assert response.status_code == 422, response.text
    message = response.json()["errors"][0]
    assert f"{late_year}年6月30日" in message["zh"] and "30 June" in message["en"]

    window = {
        "year": late_year,
        "opens_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
        "closes_at": (datetime.now(UTC) + timedelta(days=3)).isoformat(),
        "submitter": DISTRICT,
        "reason": "因系统故障补报，经市总工会同意",
    }
    refused = await client.post("/submission-windows", json=window, headers={**HEADERS, **key()})
    assert refused.status_code == 403  # only the city federation opens windows
    opened = await client.post(
        "/submission-windows", json=window, headers={"X-Huigong-Principal": "city:staff01", **key()}
    )
    assert opened.status_code == 201, opened.text
    response = await client.post("/applications", json=body, headers={**HEADERS, **key()})
    assert response.status_code == 201, response.text
    # Accepted inside the window after the deadline: marked 补报, naming the window.
    late = (await client.get(f"/applications/{response.json()['receipt_no']}", headers=HEADERS)).json()[
        "late"
    ]
    assert late["label"] == "补报" and late["window_ref"] == opened.json()["event_id"]
    # The district sees the window opened for it; another district does not.
    listed = await client.get("/submission-windows", params={"open_only": "true"}, headers=HEADERS)
    assert opened.json()["event_id"] in [w["window_ref"] for w in listed.json()["items"]]
    elsewhere = await client.get("/submission-windows", headers={"X-Huigong-Principal": "district:370203"})
    assert opened.json()["event_id"] not in [w["window_ref"] for w in elsewhere.json()["items"]]
    # The window is for 370202 only: another district is still refused.
    other = await client.post(
        "/applications",
        json=application(
            variant(
                complex_form(),
                pilot_name="市北区工会服务职工综合体建设",
                undertaking_unit={"name": "市北区总工会", "credit_code": DISTRICT_UNION_CODE},
            ),
            "service_complex",
            late_year,
        ),
        headers={"X-Huigong-Principal": "district:370203", **key()},
    )
    assert other.status_code == 422


async def test_an_idempotent_retry_returns_the_same_receipt_and_records_nothing_new(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    body = FORMS["幸福企业"]()
    headers = {**HEADERS, **key()}
    first = await client.post("/applications", json=body, headers=headers)
    again = await client.post("/applications", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    count = await db.fetchval(
        "SELECT count(*) FROM events WHERE aggregate_id = $1", first.json()["application_id"]
    )
    assert count == 1
    # The same key with a different body is a mistake the caller must hear about.
    body["year"] = YEAR - 0
    body["form"]["industry"] = "服务业"
    reused = await client.post("/applications", json=body, headers=headers)
    assert reused.status_code == 422
    assert reused.json()["errors"][0]["field"] == "Idempotency-Key"


async def test_a_district_cannot_submit_for_another(client: httpx.AsyncClient) -> None:
    body = {**FORMS["服务职工综合体"](), "submitter": "370203"}
    response = await client.post("/applications", json=body, headers={**HEADERS, **key()})
    assert response.status_code == 403


async def test_amend_and_withdraw_before_review_starts(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    body = FORMS["服务职工综合体"]()
    created = await client.post("/applications", json=body, headers={**HEADERS, **key()})
    app_id = created.json()["application_id"]
    form = {**body["form"], "industry": "工会（修改）"}
    amended = await client.put(
        f"/applications/{app_id}", json={"form": form, "reason": "补充行业信息"}, headers={**HEADERS, **key()}
    )
    assert amended.status_code == 200, amended.text
    # Another district sees nothing of it.
    foreign = await client.post(
        f"/applications/{app_id}/withdrawal",
        json={"reason": "误操作"},
        headers={"X-Huigong-Principal": "district:370203", **key()},
    )
    assert foreign.status_code == 404
    withdrawn = await client.post(
        f"/applications/{app_id}/withdrawal",
        json={"reason": "单位调整，撤回申报"},
        headers={**HEADERS, **key()},
    )
    assert withdrawn.status_code == 200
    types = [
        r[0]
        for r in await db.fetch(
            "SELECT type FROM events WHERE aggregate_id = $1 ORDER BY aggregate_version", app_id
        )
    ]
    assert types == ["ApplicationSubmitted", "ApplicationAmended", "ApplicationWithdrawn"]
    plan = await client.post(
        f"/applications/{app_id}/plans", json={"plan": {"plan_kind": "annual"}}, headers={**HEADERS, **key()}
    )
    assert plan.status_code in (409, 422)


async def test_receipts_are_listed_per_district_with_status(client: httpx.AsyncClient) -> None:
    created = await client.post("/applications", json=FORMS["服务职工基地"](), headers={**HEADERS, **key()})
    receipt = created.json()["receipt_no"]
    for _ in range(60):
        page = (
            await client.get(
                "/applications", params={"year": YEAR, "programme": "service_base"}, headers=HEADERS
            )
        ).json()
        if receipt in [i["receipt_no"] for i in page["items"]]:
            break
        await asyncio.sleep(0.5)
    else:
        pytest.fail("the receipt never appeared in the projection")
    item = next(i for i in page["items"] if i["receipt_no"] == receipt)
    assert item["status_label"] == "已提交" and item["submitter"] == DISTRICT
    # Another district's query is narrowed to its own records.
    other = (
        await client.get(
            "/applications", params={"year": YEAR}, headers={"X-Huigong-Principal": "district:370203"}
        )
    ).json()
    assert receipt not in [i["receipt_no"] for i in other["items"]]

    # Exported with the same filters and the same narrowing: Chinese headings, labels for codes.
    params: dict[str, str | int] = {"year": YEAR, "programme": "服务职工基地", "format": "xlsx"}
    exported = await client.get("/applications", params=params, headers=HEADERS)
    assert exported.status_code == 200
    assert (
        exported.headers["content-type"]
        == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    lines = list(openpyxl.load_workbook(io.BytesIO(exported.content)).active.iter_rows(values_only=True))
    assert lines[0][:6] == ("受理编号", "申报年度", "工作任务", "申报区市或单位", "名称", "状态")
    row = next(line for line in lines[1:] if line[0] == receipt)
    assert row[1:4] == (YEAR, "服务职工基地", "市南区") and row[5] in ("已提交", "已受理")
    assert {line[2] for line in lines[1:]} == {"服务职工基地"}  # the filter holds
    as_csv = await client.get(
        "/applications",
        params={**params, "format": "csv"},
        headers={"X-Huigong-Principal": "district:370203"},
    )
    assert as_csv.headers["content-type"].startswith("text/csv")
    text = as_csv.content.decode("utf-8")
    assert text.startswith("\ufeff受理编号,") and receipt not in text  # another district's: not exported


# --- enrolments ----------------------------------------------------------------------------------


def batch() -> list[dict[str, object]]:
    rng = random.Random(20220628)
    rows = enrolment_rows(6, DISTRICT, rng)
    bad_check = dict(rows[0])
    number = str(bad_check["身份证号"])
    bad_check["身份证号"] = number[:-1] + ("0" if number[-1] != "0" else "1")
    bad_phone = {**rows[1], "身份证号": fake_id_number(rng, region_code=DISTRICT), "手机号": "1234567"}
    duplicate = dict(rows[2])
    return [*rows, bad_check, bad_phone, duplicate]


def as_csv(rows: list[dict[str, object]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8-sig")


def as_xlsx(rows: list[dict[str, object]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    headers = list(rows[0])
    sheet.append(headers)
    for row in rows:
        sheet.append([str(row[h]) if h in ("身份证号", "手机号") else row[h] for h in headers])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def summary(answer: dict[str, Any]) -> tuple[list[int], list[tuple[int, list[str]]]]:
    return (
        [a["row"] for a in answer["accepted"]],
        [(r["row"], sorted(e["field"] for e in r["errors"])) for r in answer["rejected"]],
    )


async def test_enrolment_rows_are_judged_one_by_one_the_same_from_json_csv_and_xlsx(
    stack: Stack, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    rows = batch()
    results = []
    # Three different districts, so each format starts from "nobody enrolled yet".
    senders: list[tuple[str, Callable[[dict[str, str]], Awaitable[httpx.Response]]]] = [
        ("370202", lambda h: client.post("/enrolments", json={"rows": rows}, headers=h)),
        (
            "370203",
            lambda h: client.post(
                "/enrolments/upload",
                files={"file": ("入会.csv", as_csv([{**r, "所属区市": "市北区"} for r in rows]), "text/csv")},
                headers=h,
            ),
        ),
        (
            "370213",
            lambda h: client.post(
                "/enrolments/upload",
                files={
                    "file": (
                        "入会.xlsx",
                        as_xlsx([{**r, "所属区市": "李沧区"} for r in rows]),
                        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    )
                },
                headers=h,
            ),
        ),
    ]
    for district, send in senders:
        response = await send({"X-Huigong-Principal": f"district:{district}", **key()})
        assert response.status_code == 200, response.text
        results.append(summary(response.json()))
    # A sheet's rows are answered by the numbers Excel shows: its headings are row 1.
    json_rows, csv_rows, xlsx_rows = results
    assert csv_rows == xlsx_rows
    assert (csv_rows[0], [(n - 1, fields) for n, fields in csv_rows[1]]) == (
        [n + 1 for n in json_rows[0]],
        json_rows[1],
    )
    accepted, rejected = results[0]
    assert accepted == [1, 2, 3, 4, 5, 6]
    assert [r[0] for r in rejected] == [7, 8, 9]
    assert rejected[0][1] == ["身份证号"]  # bad check digit
    assert "手机号" in rejected[1][1]  # bad phone
    assert rejected[2][1] == ["身份证号"]  # duplicate of row 3 in the same batch
    # No raw ID number or phone is stored anywhere in intake's tables.
    dump = " ".join(
        str(dict(r)) for r in await db.fetch("SELECT data FROM events WHERE type = 'EnrolmentRequested'")
    )
    for row in rows:
        assert (
            str(row["身份证号"]) not in dump
            and str(row["手机号"]) not in dump
            and str(row["姓名"]) not in dump
        )


OFFICE_HEADINGS: dict[str, str] = {
    "姓名": "姓名",
    "身份证号": "公民身份号码",
    "手机号": "联系电话",
    "职业类别": "职业",
    "平台企业": "所属平台",
    "所属区市": "所在区市",
    "入会日期": "入会时间",
    "是否参加互助保障": "互助保障",
}


def office_csv(rows: list[dict[str, object]], headings: dict[str, str]) -> bytes:
    """A GBK CSV as Excel in a Chinese locale saves it: a title line, then the office's headings."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["李沧区新就业形态劳动者入会名单"])
    writer.writerow([])
    writer.writerow(list(headings.values()))
    writer.writerows([[row[column] for column in headings] for row in rows])
    return out.getvalue().encode("gbk")


async def test_an_office_sheet_with_a_title_and_its_own_headings_is_read_and_numbered_as_excel_shows(
    client: httpx.AsyncClient,
) -> None:
    rows = [
        {**r, "所属区市": "李沧区", "职业类别": "外卖配送员"}
        for r in enrolment_rows(3, "370213", random.Random(23))
    ]
    headers = {"X-Huigong-Principal": "district:370213"}
    missing = {k: v for k, v in OFFICE_HEADINGS.items() if k != "入会日期"}
    refused = await client.post(
        "/enrolments/upload",
        files={"file": ("名单.csv", office_csv(rows, missing), "text/csv")},
        headers={**headers, **key()},
    )
    assert refused.status_code == 422
    [error] = refused.json()["errors"]
    assert (
        error["field"] == "file" and "缺少必需的列：入会日期" in error["zh"] and "第3行的表头" in error["zh"]
    )

    answer = await client.post(
        "/enrolments/upload",
        files={"file": ("名单.csv", office_csv(rows, OFFICE_HEADINGS), "text/csv")},
        headers={**headers, **key()},
    )
    assert answer.status_code == 200, answer.text
    assert [a["row"] for a in answer.json()["accepted"]] == [4, 5, 6]
    assert answer.json()["rejected"] == []


async def test_the_same_district_re_reporting_a_member_is_refused_for_that_row(
    client: httpx.AsyncClient,
) -> None:
    rows = enrolment_rows(2, "370214", random.Random(7))
    first = await client.post(
        "/enrolments", json={"rows": rows}, headers={"X-Huigong-Principal": "district:370214", **key()}
    )
    again = await client.post(
        "/enrolments", json={"rows": rows}, headers={"X-Huigong-Principal": "district:370214", **key()}
    )
    assert len(first.json()["accepted"]) == 2
    assert again.json()["accepted"] == []
    assert all("已报送" in r["errors"][0]["zh"] for r in again.json()["rejected"])


async def test_a_batch_over_ten_thousand_rows_is_refused_whole(client: httpx.AsyncClient) -> None:
    rows = [{"姓名": "张三"}] * 10_001
    response = await client.post("/enrolments", json={"rows": rows}, headers={**HEADERS, **key()})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "rows"
