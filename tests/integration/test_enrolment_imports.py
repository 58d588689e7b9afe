"""Enrolment sheets above the synchronous limit run as import jobs, against real intake and
registry processes on a database and topics of this module's own (30,000-row sheets would move
the figures other modules count).

- A 30,000-row CSV as an office makes it (a title line, synonym headings) uploaded the usual
  way answers 202 with a job, which runs to the end with the right counts; every accepted
  worker is enrolled once (one EnrolmentRequested, one member on the registry's roster); the
  rows refused (a wrong phone, a worker reported twice in the file, far apart) are in the
  result sheet with their reasons, and no raw ID number, phone or name is.
- Intake stopped in the middle of a 100,000-row job (SIGTERM, then SIGKILL) resumes it when it
  starts again: every row recorded once, the counts add up.
- A cancelled job stops reading and keeps what it recorded; its file is gone.
- Another district neither sees nor cancels a job (404), city staff are refused (403), ops see it.
"""

from __future__ import annotations

import asyncio
import csv
import io
import random
import uuid
from collections.abc import AsyncIterator
from typing import Any, Final

import asyncpg
import httpx
import pytest
from python_calamine import CalamineWorkbook

from huigong_intake.domain.identity import member_key
from huigong_simulator.data import enrolment_rows

from ..conftest import Stack, isolated_stack
from .processes import ServiceProcess, running
from .test_review import eventually

OFFSET: Final = 2700
ROWS: Final = 30_000
RESTARTED_ROWS: Final = 100_000  # as large a job as an office sends, stopped in the middle
SHINAN: Final = {"X-Huigong-Principal": "district:370202"}
LICANG: Final = {"X-Huigong-Principal": "district:370213"}
CITY: Final = {"X-Huigong-Principal": "city:staff01"}
OPS: Final = {"X-Huigong-Principal": "ops:auditor"}
# Office headings: synonyms of 身份证号, 手机号, 入会日期 and a column of the office's own.
HEADINGS: Final = (
    "序号",
    "姓名",
    "身份证号码",
    "联系电话",
    "职业类别",
    "平台企业",
    "所属区市",
    "入会时间",
    "是否参加互助保障",
)
KEYS: Final = (
    "姓名",
    "身份证号",
    "手机号",
    "职业类别",
    "平台企业",
    "所属区市",
    "入会日期",
    "是否参加互助保障",
)
FIRST_ROW: Final = 3  # a title on row 1, the headings on row 2
FLOW_TIMEOUT: Final = 900.0  # a deadline: 30,000 members on a loaded 2-core machine take minutes
SEEN: Final[set[str]] = set()


class Sheet:
    """A sheet of `size` workers of 市南区 with known faults: every 1,000th row has a wrong phone,
    and the last 5 rows repeat workers of the first chunk."""

    def __init__(self, seed: int, size: int = ROWS) -> None:
        self.size = size
        rng = random.Random(seed)
        # Workers of one sheet are nobody in another (random ID numbers do meet across 30,000s).
        self.rows = enrolment_rows(size - 5, "370202", rng, seen_ids=SEEN)
        self.wrong_phone = {FIRST_ROW + i for i in range(0, size - 5, 1000)}
        for row_number in self.wrong_phone:
            self.rows[row_number - FIRST_ROW]["手机号"] = "1234567"
        self.repeated = {FIRST_ROW + size - 5 + i for i in range(5)}
        self.rows += [{**self.rows[10 + i], "是否参加互助保障": "否"} for i in range(5)]

    @property
    def accepted(self) -> int:
        return self.size - len(self.wrong_phone) - len(self.repeated)

    def member_keys(self, secret: bytes) -> list[str]:
        return [
            member_key(str(row["身份证号"]), secret)
            for number, row in enumerate(self.rows, FIRST_ROW)
            if number not in self.wrong_phone and number not in self.repeated
        ]

    def csv(self) -> bytes:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["市南区新就业形态劳动者入会名单（2026年11月）"])
        writer.writerow(HEADINGS)
        for number, row in enumerate(self.rows, 1):
            writer.writerow([number, *(row[key] for key in KEYS)])
        return out.getvalue().encode("utf-8-sig")


@pytest.fixture(scope="module")
async def own(stack_env: dict[str, str]) -> AsyncIterator[Stack]:
    async with isolated_stack(stack_env) as s:
        yield s


@pytest.fixture(scope="module")
async def services(own: Stack) -> AsyncIterator[tuple[ServiceProcess, ...]]:
    async with running(own, ("intake", "registry"), OFFSET, "enrolment-imports") as procs:
        yield procs


@pytest.fixture(scope="module")
async def admin(own: Stack) -> AsyncIterator[asyncpg.Connection[asyncpg.Record]]:
    conn = await asyncpg.connect(own.admin_dsn)
    yield conn
    await conn.close()


async def upload(
    intake: httpx.AsyncClient, content: bytes, route: str = "/enrolments/upload", who: dict[str, str] = SHINAN
) -> httpx.Response:
    return await intake.post(
        route,
        files={"file": ("入会名单.csv", content, "text/csv")},
        headers={**who, "Idempotency-Key": f"import-{uuid.uuid4()}"},
    )


async def job_of(intake: httpx.AsyncClient, job_id: str, who: dict[str, str] = SHINAN) -> dict[str, Any]:
    response = await intake.get(f"/enrolments/imports/{job_id}", headers=who)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def ended(intake: httpx.AsyncClient, job_id: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        job = await job_of(intake, job_id)
        assert job["status"] != "failed", job
        return job if job["status"] == "completed" else None

    return await eventually(probe, f"import job {job_id} completes", FLOW_TIMEOUT)


async def times_requested(
    admin: asyncpg.Connection[asyncpg.Record], own: Stack, keys: list[str]
) -> dict[int, int]:
    """How many members had their EnrolmentRequested recorded how many times."""
    rows = await admin.fetch(
        """SELECT n, count(*) FROM (SELECT count(*) AS n FROM intake.events
              WHERE type = 'EnrolmentRequested' AND data->>'member_key' = ANY($1::text[])
              GROUP BY data->>'member_key') t GROUP BY n""",
        keys,
    )
    return {r[0]: r[1] for r in rows}


async def test_a_large_sheet_runs_as_a_job_with_every_worker_once(
    intake: httpx.AsyncClient, own: Stack, admin: asyncpg.Connection[asyncpg.Record]
) -> None:
    sheet = Sheet(seed=1)
    response = await upload(intake, sheet.csv())
    assert response.status_code == 202, response.text
    started = response.json()
    assert (
        started["rows_total"] == ROWS
        and started["status"] == "queued"
        and started["status_label"] == "排队中"
    )

    job = await ended(intake, started["job_id"])
    assert job["status_label"] == "已完成"
    assert (job["rows_read"], job["accepted"], job["rejected"]) == (
        ROWS,
        sheet.accepted,
        ROWS - sheet.accepted,
    )
    assert job["percent"] == 100.0 and job["seconds_left"] == 0.0

    secret = bytes.fromhex(own.env["HUIGONG_MEMBER_KEY_SECRET"])
    keys = sheet.member_keys(secret)
    assert await times_requested(admin, own, keys) == {1: sheet.accepted}

    async def on_the_roster() -> bool:
        found = await admin.fetchrow(
            "SELECT count(*), count(DISTINCT member_key) FROM registry.members_view WHERE member_key = ANY($1::text[])",
            keys,
        )
        return found is not None and tuple(found) == (sheet.accepted, sheet.accepted)

    await eventually(on_the_roster, "the registry enrols every accepted worker once", FLOW_TIMEOUT)

    # The result sheet: one line per data row, by its Excel row number, refused rows with reasons.
    result = await intake.get(f"/enrolments/imports/{job['job_id']}/result?format=csv", headers=SHINAN)
    assert result.status_code == 200, result.text
    text = result.content.decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(text)))
    assert lines[0] == ["行号", *HEADINGS, "结果", "原因"]
    by_row = {int(line[0]): line for line in lines[1:]}
    assert len(by_row) == ROWS and min(by_row) == FIRST_ROW
    refused = {number for number, line in by_row.items() if line[-2] == "未受理"}
    assert refused == sheet.wrong_phone | sheet.repeated
    assert all(by_row[n][-1].startswith("手机号：") for n in sheet.wrong_phone)
    assert all("已报送此人" in by_row[n][-1] for n in sheet.repeated)
    # Masked: no raw ID number, phone or name outlives the job.
    first = sheet.rows[0]
    for raw in (str(first["身份证号"]), str(first["手机号"]), str(first["姓名"])):
        assert raw not in text
    masked_id = by_row[FIRST_ROW][3]
    assert masked_id == str(first["身份证号"])[:6] + "********" + str(first["身份证号"])[-4:]
    assert (
        await admin.fetchval(
            "SELECT count(*) FROM intake.enrolment_import_parts WHERE job_id = $1", uuid.UUID(job["job_id"])
        )
        == 0
    )

    # The same as a workbook, with the summary.
    book = await intake.get(f"/enrolments/imports/{job['job_id']}/result", headers=SHINAN)
    assert book.status_code == 200
    workbook = CalamineWorkbook.from_filelike(io.BytesIO(book.content))
    assert workbook.sheet_names == ["导入结果", "汇总"]
    summary: dict[object, object] = {
        line[0]: line[1] for line in workbook.get_sheet_by_name("汇总").to_python()
    }
    assert summary["未受理"] == ROWS - sheet.accepted and summary["状态"] == "已完成"

    # Listed for the district, newest first.
    listed = await intake.get("/enrolments/imports", headers=SHINAN)
    assert job["job_id"] in [item["job_id"] for item in listed.json()["items"]]


async def test_a_job_resumes_after_intake_is_stopped_and_records_no_row_twice(
    services: tuple[ServiceProcess, ...],
    intake: httpx.AsyncClient,
    own: Stack,
    admin: asyncpg.Connection[asyncpg.Record],
) -> None:
    sheet = Sheet(seed=2, size=RESTARTED_ROWS)
    response = await upload(intake, sheet.csv(), "/enrolments/imports")
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]

    async def under_way() -> bool:
        return bool((await job_of(intake, job_id))["rows_read"] > 0)

    await eventually(under_way, "the job has read its first chunk", FLOW_TIMEOUT)
    proc = next(p for p in services if p.service == "intake")
    await asyncio.to_thread(proc.stop, 2)  # SIGTERM, SIGKILL after 2 s
    stopped = await admin.fetchrow(
        "SELECT status, rows_read FROM intake.enrolment_imports WHERE job_id = $1", uuid.UUID(job_id)
    )
    assert stopped is not None and stopped["status"] == "running" and 0 < stopped["rows_read"] < sheet.size

    proc.start(own)
    await proc.wait_status(200)
    async with proc.client() as restarted:
        job = await ended(restarted, job_id)
    assert (job["rows_read"], job["accepted"], job["rejected"]) == (
        sheet.size,
        sheet.accepted,
        sheet.size - sheet.accepted,
    )
    keys = sheet.member_keys(bytes.fromhex(own.env["HUIGONG_MEMBER_KEY_SECRET"]))
    assert await times_requested(admin, own, keys) == {1: sheet.accepted}
    assert (
        await admin.fetchval(
            "SELECT count(*) FROM intake.enrolment_import_rows WHERE job_id = $1", uuid.UUID(job_id)
        )
        == sheet.size
    )


async def test_a_cancelled_job_stops_and_only_its_district_sees_it(
    services: tuple[ServiceProcess, ...], admin: asyncpg.Connection[asyncpg.Record]
) -> None:
    proc = next(p for p in services if p.service == "intake")
    async with proc.client() as intake:
        sheet = Sheet(seed=3)
        response = await upload(intake, sheet.csv(), "/enrolments/imports")
        assert response.status_code == 202, response.text
        job_id = response.json()["job_id"]

        # Another district, city staff and ops.
        assert (await intake.get(f"/enrolments/imports/{job_id}", headers=LICANG)).status_code == 404
        assert (await intake.get(f"/enrolments/imports/{job_id}/result", headers=LICANG)).status_code == 404
        listed = await intake.get("/enrolments/imports", headers=LICANG)
        assert job_id not in [item["job_id"] for item in listed.json()["items"]]
        foreign = await intake.post(
            f"/enrolments/imports/{job_id}/cancel", headers={**LICANG, "Idempotency-Key": f"c-{job_id}"}
        )
        assert foreign.status_code == 404
        assert (await intake.get(f"/enrolments/imports/{job_id}", headers=CITY)).status_code == 403
        assert (await job_of(intake, job_id, OPS))["submitter"] == "370202"

        cancel = await intake.post(
            f"/enrolments/imports/{job_id}/cancel", headers={**SHINAN, "Idempotency-Key": f"c-{job_id}"}
        )
        assert cancel.status_code == 200, cancel.text
        assert cancel.json()["status"] == "cancelled"
        read = cancel.json()["rows_read"]
        await asyncio.sleep(3)
        job = await job_of(intake, job_id)
        assert (job["status_label"], job["rows_read"]) == ("已取消", read)
        assert read < ROWS
        assert (
            await admin.fetchval(
                "SELECT count(*) FROM intake.enrolment_import_parts WHERE job_id = $1", uuid.UUID(job_id)
            )
            == 0
        )
        again = await intake.post(
            f"/enrolments/imports/{job_id}/cancel", headers={**SHINAN, "Idempotency-Key": f"c2-{job_id}"}
        )
        assert again.status_code == 409
        result = await intake.get(f"/enrolments/imports/{job_id}/result?format=csv", headers=SHINAN)
        assert result.status_code == 200
        assert len(result.content.decode("utf-8-sig").splitlines()) == read + 1


async def test_a_sheet_without_a_required_column_is_refused_before_any_job(intake: httpx.AsyncClient) -> None:
    content = "姓名,身份证号码,联系电话\n张三,1,2\n".encode()
    response = await upload(intake, content, "/enrolments/imports")
    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert error["field"] == "file" and "缺少必需的列" in error["zh"] and "入会日期" in error["zh"]
