"""An as-of replay at a date equals what the progress API reported for that date.

Real intake, registry and metrics processes on the real broker and database, in a database and
topic prefix of this module's own (the figures are absolute). Districts enrol members with join
dates (入会日期) spread over ten days of March 2024, a facility opens on two of them and a unit is
registered, assessed and certified in between, gig-worker stations open on two more and a 平台经济企业
applies for the happy-enterprise pilot (counted on the day recorded: today); the registry records all of it today. For two dates
D the auditor reads `GET /api/progress?as_of=D`, runs `huigong replay -s metrics --as-of D --keep`
and finds, in the kept shadow tables, the same figure for every metric in the city and in every
area: the replay keeps each fact by the date it states, the date the metrics count it on, so it
holds exactly the facts of D and before (recorded today, every one of them would be cut by its
`occurred_at`). The two dates give different figures, so equal figures are not a coincidence.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import date
from functools import partial
from typing import Any, Final

import asyncpg
import httpx
import pytest

from huigong_events.reference import HAPPY_ENTERPRISE_CRITERIA, FacilityKind
from huigong_metrics.domain.counting import METRICS, Aggregation
from huigong_ops.replay import quote_ident

from ..conftest import Stack, isolated_stack
from .processes import ServiceProcess, running
from .test_metrics import VIEWER, enrol, metric_of, progress, report_facility
from .test_ops import cli
from .test_review import SUBMITTER, enterprise_code, eventually, happy_application, key, submit

Services = tuple[ServiceProcess, ...]
REGISTRAR = {"X-Huigong-Principal": "registrar:city01"}
EARLY, LATE = date(2024, 3, 4), date(2024, 3, 8)
# Certification within days of registration: no minimum building time in this module.
BUILT: Final = {"HUIGONG_MIN_BUILDING_YEARS": "0"}
SUMMED = {m.code for m in METRICS if m.aggregation is Aggregation.SUM}


@pytest.fixture(scope="module")
async def own_stack(stack_env: dict[str, str]) -> AsyncIterator[Stack]:
    async with isolated_stack(stack_env) as s:
        yield s


@pytest.fixture(scope="module")
async def services(own_stack: Stack) -> AsyncIterator[Services]:
    async with running(own_stack, ("intake", "registry", "metrics"), 1500, "replay-as-of", BUILT) as procs:
        yield procs


async def register_unit(
    registry: httpx.AsyncClient,
    registered: date,
    application_id: str | None = None,
    name: str = "青岛重放核对幸福企业有限公司",
) -> str:
    """A 幸福企业 registered by a registrar on the day given (from the application given)."""
    unit_id = str(uuid.uuid4())
    response = await registry.post(
        "/units",
        json={
            "unit_id": unit_id,
            "name": name,
            "programme": "happy_enterprise",
            "area": "370212",
            # Not a 2022 pilot (the cohort is annex 2's, loaded by the seed): from an application,
            # certified within days since this module's services need no building time (BUILT).
            "origin": "application",
            "application_id": application_id or str(uuid.uuid4()),
            "registered_on": registered.isoformat(),
        },
        headers={**REGISTRAR, **key()},
    )
    assert response.status_code == 201, response.text
    return unit_id


async def certify_unit(registry: httpx.AsyncClient, registered: date, certified: date) -> None:
    """A 幸福企业 registered, assessed and certified by a registrar on the dates given."""
    unit_id = await register_unit(registry, registered)
    results = [
        {"criterion": c, "met": True, "evidence": "现场核查记录及台账"} for c in HAPPY_ENTERPRISE_CRITERIA
    ]
    assessed = await registry.post(
        f"/units/{unit_id}/assessment",
        json={"results": results, "assessed_on": registered.isoformat()},
        headers={**REGISTRAR, **key()},
    )
    assert assessed.status_code == 201, assessed.text
    done = await registry.post(
        f"/units/{unit_id}/certification",
        json={"certified_on": certified.isoformat()},
        headers={**REGISTRAR, **key()},
    )
    assert done.status_code == 201, done.text


async def replay_as_of(stack: Stack, day: date, *more: str) -> Any:
    return await cli(
        "replay", "-s", "metrics", "--as-of", day.isoformat(), "--no-progress", "--prefix", stack.topic_prefix,
        "--dsn", stack.admin_dsn, "--bootstrap", stack.bootstrap, *more,
    )  # fmt: skip


def api_figures(body: dict[str, Any]) -> dict[tuple[str, str], float]:
    """(metric, area) → the API's actual: the city's (370200), and each area's of its breakdown
    (370200/own there: the city's own)."""
    found: dict[tuple[str, str], float] = {}
    for m in body["metrics"]:
        found[(m["metric"], "370200")] = m["actual"]
        for part in m["by_area"]:
            found[(m["metric"], part["area"] + ("/own" if part["area"] == "370200" else ""))] = part["actual"]
    return found


def replayed_figures(figures: list[dict[str, Any]]) -> dict[tuple[str, str], float]:
    found: dict[tuple[str, str], float] = {}
    for f in figures:
        found[(f["name"], "370200")] = f["value"]
        for area, value in f["by_area"].items():
            found[(f["name"], area + ("/own" if area == "370200" else ""))] = value
    return found


async def shadow_sums(conn: asyncpg.Connection[asyncpg.Record], shadow: str) -> dict[tuple[str, str], int]:
    """Every summed metric per area from the shadow's actuals with plain SQL and no date filter:
    the replay holds only the facts of the day and before."""
    rows = await conn.fetch(
        f"SELECT counter, area, sum(amount)::bigint FROM {quote_ident(shadow)}.actuals GROUP BY 1, 2"
    )
    by_counter: dict[tuple[str, str], int] = {(r[0], r[1]): r[2] for r in rows}
    found: dict[tuple[str, str], int] = {}
    for metric in METRICS:
        if metric.code not in SUMMED:
            continue
        areas = {a: n for (c, a), n in by_counter.items() if c == metric.counter}
        found[(metric.code, "370200")] = sum(areas.values())
        for area, n in areas.items():
            found[(metric.code, area + ("/own" if area == "370200" else ""))] = n
    return found


async def test_an_as_of_replay_equals_what_the_progress_api_reports_for_that_date(
    own_stack: Stack, intake: httpx.AsyncClient, registry: httpx.AsyncClient, metrics: httpx.AsyncClient
) -> None:
    march = [date(2024, 3, d) for d in (1, 1, 3, 4, 6, 9)]
    await enrol(intake, "district:370202", "370202", march)  # insured
    await enrol(
        intake, "district:370203", "370203", [date(2024, 3, d) for d in (2, 5, 8, 10)], mutual_aid=False
    )
    await report_facility(intake, FacilityKind.区域共享职工之家, "370213", date(2024, 3, 3))
    await report_facility(intake, FacilityKind.区域共享职工之家, "370213", date(2024, 3, 7))
    await certify_unit(registry, date(2024, 3, 2), date(2024, 3, 6))
    await report_facility(intake, FacilityKind.新就业形态劳动者服务站点, "370212", date(2024, 3, 2))
    await report_facility(intake, FacilityKind.新就业形态劳动者服务站点, "370212", date(2024, 3, 5))
    # A 平台经济企业 pilot counts when its unit is registered, with its latest form's mark: an
    # application without it, amended to carry it, and a unit registered from it dated 3 March.
    # It counts on the later of that and the day intake recorded the application (today), after
    # both dates: the replay, which keeps each by its own day, cuts the application as the API
    # leaves the pilot out.
    platform = happy_application(enterprise_code())
    application_id = await submit(intake, platform)
    platform["form"]["platform_economy"] = {"related_enterprises": ["青岛某某配送站"], "related_workers": 320}
    amendment = {"form": platform["form"], "reason": "补充平台经济企业信息"}
    amended = await intake.put(
        f"/applications/{application_id}", json=amendment, headers={**SUBMITTER, **key()}
    )
    assert amended.status_code == 200, amended.text
    await register_unit(registry, date(2024, 3, 3), application_id, "青岛重放核对平台经济有限公司")

    # Everything applied: the figures of today, then no lag on any metrics consumer.
    totals = {
        "members_enrolled": 10,
        "mutual_aid": 6,
        "shared_workers_homes": 2,
        "happy_enterprises_certified": 1,
        "gig_worker_stations": 2,
        "platform_economy_pilots": 1,
        "platform_economy_pilot_workers": 320,
    }
    for code, total in totals.items():
        await eventually(partial(_actual_is, metrics, code, total), f"{code} reaches {total}")

    async def no_lag() -> bool:
        text = (await metrics.get("/metrics", headers=VIEWER)).text
        lags = [
            line for line in text.splitlines() if line.startswith('huigong_consumer_lag{consumer="metrics.')
        ]
        return bool(lags) and all(line.endswith(" 0.0") for line in lags)

    await eventually(no_lag, "the metrics consumers have no lag")

    conn = await asyncpg.connect(own_stack.admin_dsn)
    members: dict[date, float] = {}
    try:
        for day in (EARLY, LATE):
            reported = api_figures(await progress(metrics, as_of=day.isoformat()))
            result = await replay_as_of(own_stack, day, "--keep", "--json")
            assert result.exit_code == 0, result.output
            report = json.loads(result.stdout)
            consumers = {c["consumer"]: c for c in report["consumers"]}
            actuals = consumers["metrics.actuals"]
            assert (actuals["cut_on"], consumers["metrics.targets"]["cut_on"]) == (
                "business_day",
                "occurred_at",
            )
            # Facts dated after the day were cut, none was out of order, nothing failed.
            assert actuals["applied"] > 0 and actuals["cut"] > 0, actuals
            assert actuals["dead_lettered"] == 0 and actuals["out_of_order"] == 0, actuals

            # The figures the replay prints, for every metric × area, are the API's.
            assert replayed_figures(actuals["figures"]) == reported
            # And so are the sums of the kept shadow tables, read with plain SQL.
            sums = await shadow_sums(conn, actuals["shadow_schema"])
            summed = {k: v for k, v in reported.items() if k[0] in SUMMED and v}
            assert {k: v for k, v in sums.items() if v} == summed, day
            members[day] = reported[("members_enrolled", "370200")]

        assert members == {EARLY: 5, LATE: 8}  # 370202: 1, 1, 3, 4 | 6 (9 later); 370203: 2 | 5, 8 (10)
        early = api_figures(await progress(metrics, as_of=EARLY.isoformat()))
        late = api_figures(await progress(metrics, as_of=LATE.isoformat()))
        assert (early[("shared_workers_homes", "370213")], late[("shared_workers_homes", "370213")]) == (1, 2)
        assert (
            early[("happy_enterprises_certified", "370212")],
            late[("happy_enterprises_certified", "370212")],
        ) == (0, 1)
        assert (early[("mutual_aid", "370202")], late[("mutual_aid", "370202")]) == (4, 5)
        assert (early[("gig_worker_stations", "370212")], late[("gig_worker_stations", "370212")]) == (1, 2)
        assert late[("platform_economy_pilots", "370200")] == 0

        # What an auditor reads: the figures of the day under the table comparison.
        text = await replay_as_of(own_stack, EARLY)
        assert text.exit_code == 0, text.output
        assert "figures as of 2024-03-04, from the replay" in text.stdout
        assert "metrics/metrics.actuals as of 2024-03-04 (事实日期 business day ≤" in text.stdout
        line = next(row for row in text.stdout.splitlines() if "members_enrolled" in row)
        assert "370202 4" in line and "370203 1" in line, line
    finally:
        await conn.close()  # the kept shadows go with this module's database


async def _actual_is(metrics: httpx.AsyncClient, code: str, expected: float) -> bool:
    return bool(metric_of(await progress(metrics), code)["actual"] == expected)
