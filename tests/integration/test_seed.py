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
import pytest

from huigong_platform.credentials import Keyring
from huigong_registry.domain.cohort import HAPPY_ENTERPRISES, PARTNERS, SERVICE_BASES, SERVICE_CENTRES

from ..conftest import Stack
from .processes import TEST_PORTS, ServiceProcess, artefacts_dir

# The units of the 2022 cohort and the centres, by id (the seed registers exactly these).
COHORT_IDS = {str(e.id) for e in (*HAPPY_ENTERPRISES, *SERVICE_BASES, *SERVICE_CENTRES)}

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


async def seed_keyring(stack: Stack) -> Path:
    """The keyring bin/run writes for the seed: the key of registrar:seed-2022."""
    path = artefacts_dir() / f"keyring-{stack.run_id}.json"
    ring = Keyring({"registrar:seed-2022": await stack.keys.key_for("registrar:seed-2022")}, path)
    ring.save()
    return path


def run_seed(url: str, keyring: Path) -> dict[str, object]:
    out = subprocess.run(
        [str(SEED), "--registry-url", url, "--keyring", str(keyring)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


async def test_the_cohort_is_loaded_once_however_often_the_seed_runs(
    stack: Stack, registry: ServiceProcess
) -> None:
    keyring = await seed_keyring(stack)
    first = await asyncio.to_thread(run_seed, registry.url, keyring)
    second = await asyncio.to_thread(run_seed, registry.url, keyring)
    # Another module of this run (the dashboard's) may have seeded first: then the first run
    # here finds the cohort too. Either way the cohort is recorded once (counted below).
    assert first["total"] == 41
    assert second == {"cohort_2022": {"new": 0, "already": 41}, "total": 41}

    conn = await asyncpg.connect(stack.dsn("registry"))
    try:
        rows = await conn.fetch(
            # Other modules of the run register units of their own (from applications, and the read
            # ports' contract a centre of its own): count the registrations of the cohort's ids.
            "SELECT type, count(*) FROM events WHERE aggregate_type IN ('unit', 'partner') "
            "AND type IN ('UnitRegistered', 'PartnerRegistered') AND aggregate_id = ANY($1::text[]) "
            "GROUP BY type",
            sorted(COHORT_IDS | {str(e.id) for e in PARTNERS}),
        )
        recorded = {r[0]: r[1] for r in rows}
    finally:
        await conn.close()
    assert recorded == {"UnitRegistered": 36, "PartnerRegistered": 5}

    async with registry.client(timeout=10) as client:
        client.headers["X-Huigong-Principal"] = "viewer:seed-test"
        for _ in range(60):
            units = (await client.get("/units", params={"page_size": 500})).json()
            # Other modules' units (from applications, the read ports' contract's centre) aside.
            units["items"] = [u for u in units["items"] if u["unit_id"] in COHORT_IDS]
            units["total"] = len(units["items"])
            # Approved 公益伙伴 applications are partners too (other tests approve one): the cohort's.
            partners = (await client.get("/partners", params={"origin": "pilot_2022"})).json()
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
