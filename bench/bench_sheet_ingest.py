"""Benchmark: enrolment sheets into intake, side by side with reading the same files raw.

1. The synchronous path, in files of 10,000 rows (distinct workers in each part): JSON rows
   (`POST /enrolments`), the same kind of rows as a CSV upload and as an .xlsx upload
   (`POST /enrolments/upload`), each until every answer is in (the rows durably recorded); and
   reading the same CSV and .xlsx files raw (csv.reader, python-calamine) in this process.
2. An import job of `--job-rows` rows (1,000,000 by default) in one CSV file: from the upload
   to the job's `completed`, against reading the same file raw with csv.reader; the intake
   process's resident memory (RSS) when the job starts and when it ends, and its peak between.

The rates are rows per second of wall clock on whatever else the machine runs; the ratios, taken
in one run, are what to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import random
from pathlib import Path

import httpx
import orjson
from openpyxl import Workbook
from python_calamine import CalamineWorkbook

from huigong_simulator.data import enrolment_rows

from .common import Stopwatch, api_key, bench_env, figure, free_port, machine_line, service_process

BATCH = 10_000
DISTRICT = "370202"
COLUMNS = ("姓名", "身份证号", "手机号", "职业类别", "平台企业", "所属区市", "入会日期", "是否参加互助保障")


def as_csv(rows: list[dict[str, object]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    writer.writerows([row[c] for c in COLUMNS] for row in rows)
    return out.getvalue().encode("utf-8")


def as_xlsx(rows: list[dict[str, object]]) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("入会名单")
    sheet.append(COLUMNS)
    for row in rows:
        sheet.append([row[c] for c in COLUMNS])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def read_csv_raw(content: bytes) -> int:
    text = io.TextIOWrapper(io.BytesIO(content), encoding="utf-8-sig", newline="")
    return sum(1 for _ in csv.reader(text)) - 1


def read_xlsx_raw(content: bytes) -> int:
    workbook = CalamineWorkbook.from_filelike(io.BytesIO(content))
    return sum(1 for _ in workbook.get_sheet_by_index(0).iter_rows()) - 1


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def main(sync_rows: int, job_rows: int) -> None:
    print(machine_line())
    rng = random.Random(2026)
    seen: set[str] = set()
    parts = -(-sync_rows // BATCH)
    sets = {
        name: [enrolment_rows(BATCH, DISTRICT, rng, seen_ids=seen) for _ in range(parts)]
        for name in ("json", "csv", "xlsx")
    }
    bodies = {
        "json": [orjson.dumps({"rows": rows}) for rows in sets["json"]],
        "csv": [as_csv(rows) for rows in sets["csv"]],
        "xlsx": [as_xlsx(rows) for rows in sets["xlsx"]],
    }
    job_file = as_csv(enrolment_rows(job_rows, DISTRICT, rng, seen_ids=seen))
    total = parts * BATCH
    print(
        f"sheet ingest benchmark: {parts} files of {BATCH:,} rows per format; an import job of {job_rows:,} rows "
        f"({len(job_file) / 2**20:.0f} MiB of CSV)"
    )
    async with bench_env() as env:
        key = await api_key(env, f"district:{DISTRICT}")
        auth = {"Authorization": f"Bearer {key}"}
        async with (
            service_process(env, "intake", free_port()) as intake,
            httpx.AsyncClient(base_url=intake.url, timeout=600, headers=auth) as client,
        ):
            rss_fresh = rss_mib(intake.pid)
            rates: dict[str, float] = {}
            for name in ("json", "csv", "xlsx"):
                watch = Stopwatch()
                accepted = 0
                for n, body in enumerate(bodies[name]):
                    headers = {"Idempotency-Key": f"bench-{name}-{n}"}
                    if name == "json":
                        response = await client.post(
                            "/enrolments",
                            content=body,
                            headers={**headers, "Content-Type": "application/json"},
                        )
                    else:
                        response = await client.post(
                            "/enrolments/upload", files={"file": (f"入会名单.{name}", body)}, headers=headers
                        )
                    response.raise_for_status()
                    accepted += len(orjson.loads(response.content)["accepted"])
                assert accepted == total, (name, accepted, total)
                rates[name] = figure(f"synchronous {name} (HTTP, recorded)", total, watch.seconds)
            watch = Stopwatch()
            counted = sum(read_csv_raw(body) for body in bodies["csv"])
            raw_csv = figure("raw csv.reader of the same CSV files", counted, watch.seconds)
            watch = Stopwatch()
            counted = sum(read_xlsx_raw(body) for body in bodies["xlsx"])
            raw_xlsx = figure("raw python-calamine of the same .xlsx files", counted, watch.seconds)
            print(
                f"  ratio CSV upload / JSON rows           {rates['csv'] / rates['json']:6.1%}   (goal ≥ 80%)"
            )
            print(
                f"  ratio .xlsx upload / JSON rows         {rates['xlsx'] / rates['json']:6.1%}   (goal ≥ 80%)"
            )
            print(f"  ratio CSV upload / raw csv.reader      {rates['csv'] / raw_csv:6.1%}")
            print(f"  ratio .xlsx upload / raw calamine      {rates['xlsx'] / raw_xlsx:6.1%}")

            rss_start = rss_mib(intake.pid)
            watch = Stopwatch()
            response = await client.post(
                "/enrolments/imports",
                files={"file": ("入会名单.csv", job_file)},
                headers={"Idempotency-Key": "bench-job"},
            )
            response.raise_for_status()
            job_id = response.json()["job_id"]
            accepted_at = watch.seconds
            rss_job_start = rss_mib(intake.pid)
            peak = rss_job_start
            while True:
                job = (await client.get(f"/enrolments/imports/{job_id}")).json()
                peak = max(peak, rss_mib(intake.pid))
                if job["status"] not in ("queued", "running"):
                    break
                await asyncio.sleep(1)
            job_s = watch.seconds
            assert job["status"] == "completed" and job["accepted"] == job_rows, job
            print(f"  the upload answered 202 after {accepted_at:.1f} s")
            job_rate = figure("import job, upload to completed (recorded)", job_rows, job_s)
            watch = Stopwatch()
            counted = read_csv_raw(job_file)
            raw_job = figure("raw csv.reader of the same file", counted, watch.seconds)
            print(f"  ratio import job / raw csv.reader      {job_rate / raw_job:6.1%}")
            print(f"  ratio import job / synchronous CSV     {job_rate / rates['csv']:6.1%}")
            print(
                f"  intake RSS: {rss_fresh:.0f} MiB at start, {rss_start:.0f} MiB after the synchronous uploads "
                f"and before the job's, {rss_job_start:.0f} MiB when the job "
                f"started, {rss_mib(intake.pid):.0f} MiB at its end, peak {peak:.0f} MiB"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--sync-rows", type=int, default=50_000, help="rows per format on the synchronous path"
    )
    parser.add_argument("--job-rows", type=int, default=1_000_000)
    args = parser.parse_args()
    asyncio.run(main(args.sync_rows, args.job_rows))
