"""The 2022 pilot cohort of annex 2 is loaded through the real event path, exactly once however
often the seed runs."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from ..conftest import Stack
from .processes import TEST_PORTS, ServiceProcess, artefacts_dir

SEED = Path(sys.executable).parent / "huigong-seed"


@pytest.fixture(scope="module")
async def registry(stack: Stack) -> AsyncIterator[ServiceProcess]:
    proc = ServiceProcess("registry", TEST_PORTS["registry"] + 200, artefacts_dir() / "registry-seed.log")
    proc.start(stack)
    try:
        await proc.wait_status(200)
        yield proc
    finally:
        proc.kill()


def run_seed(url: str) -> dict[str, object]:
    out = subprocess.run(
        [str(SEED), "--registry-url", url], capture_output=True, text=True, timeout=120, check=True
    )
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


async def test_the_cohort_is_loaded_once_however_often_the_seed_runs(
    stack: Stack, registry: ServiceProcess
) -> None:
    first = await asyncio.to_thread(run_seed, registry.url)
    second = await asyncio.to_thread(run_seed, registry.url)
    assert first == {"cohort_2022": {"new": 41, "already": 0}, "total": 41}
    assert second == {"cohort_2022": {"new": 0, "already": 41}, "total": 41}

    conn = await asyncpg.connect(stack.dsn("registry"))
    try:
        rows = await conn.fetch(
            # Approved applications become units too (other tests approve some): count the cohort.
            "SELECT type, count(*) FROM events WHERE aggregate_type IN ('unit', 'partner') "
            "AND data->>'origin' <> 'application' GROUP BY type"
        )
        recorded = {r[0]: r[1] for r in rows}
    finally:
        await conn.close()
    assert recorded == {"UnitRegistered": 36, "PartnerRegistered": 5}

    async with httpx.AsyncClient(base_url=registry.url, timeout=10) as client:
        for _ in range(60):
            units = (await client.get("/units", params={"page_size": 500})).json()
            units["items"] = [u for u in units["items"] if u["origin"] != "application"]
            units["total"] = len(units["items"])
            partners = (await client.get("/partners")).json()
            if units["total"] == 36 and partners["total"] == 5:
                break
            await asyncio.sleep(0.5)
    by_programme: dict[str, int] = {}
    for unit in units["items"]:
        by_programme[unit["programme"]] = by_programme.get(unit["programme"], 0) + 1
    assert by_programme == {"happy_enterprise": 18, "service_base": 7, "service_complex": 11}
    assert partners["total"] == 5
    haier = next(u for u in units["items"] if u["name"] == "海尔集团公司")
    assert haier["area"] == "G-HAIER" and haier["origin"] == "pilot_2022"
