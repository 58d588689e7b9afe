"""The front door with two instances of a service, as `HUIGONG_REPLICAS` runs them: nginx spreads
the requests over both, and when one is killed every request still reaches the other, so a
district's upload is answered and recorded rather than met with a 502."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Final

import asyncpg
import httpx
import pytest

from huigong_simulator.data import enrolment_rows

from ..conftest import Stack
from .frontdoor import FrontDoor, front_door
from .processes import TEST_PORTS, ServiceProcess, artefacts_dir

OFFSET: Final = 3300
SHINAN: Final = {"X-Huigong-Principal": "district:370202"}


@pytest.fixture(scope="module")
async def intakes(stack: Stack) -> AsyncIterator[tuple[ServiceProcess, ServiceProcess]]:
    """Two intake instances, 10 ports apart as bin/run starts the second."""
    port = TEST_PORTS["intake"] + OFFSET
    pair = (
        ServiceProcess("intake", port, artefacts_dir() / "front-door-instances-intake-1.log"),
        ServiceProcess("intake", port + 10, artefacts_dir() / "front-door-instances-intake-2.log"),
    )
    try:
        for proc in pair:
            proc.start(stack)
        for proc in pair:
            await proc.wait_status(200, timeout=240)
        yield pair
    finally:
        for proc in pair:
            await asyncio.to_thread(proc.stop)


@pytest.fixture(scope="module")
def door(intakes: tuple[ServiceProcess, ServiceProcess]) -> Iterator[FrontDoor]:
    with front_door(intakes[0].port, {"intake": 2}) as d:
        yield d


def upstreams(door: FrontDoor, since: int) -> list[str]:
    """The instance (or instances, when nginx passed a request on) each logged request went to."""
    with door.access_log.open("rb") as log:
        log.seek(since)
        lines = log.read().decode().splitlines()
    return [json.loads(line)["upstream"] for line in lines if '"/api/intake/' in line]


async def upload(client: httpx.AsyncClient) -> httpx.Response:
    rows = enrolment_rows(2, "370202", random.Random(uuid.uuid4().int))
    return await client.post(
        "/api/intake/enrolments",
        json={"rows": rows},
        headers={**SHINAN, "Idempotency-Key": uuid.uuid4().hex},
    )


async def test_requests_are_spread_and_a_killed_instance_loses_none(
    stack: Stack, intakes: tuple[ServiceProcess, ServiceProcess], door: FrontDoor
) -> None:
    first, second = intakes
    async with httpx.AsyncClient(base_url=door.url, timeout=60, auth=stack.keys) as client:
        since = door.access_log.stat().st_size
        answers = [await upload(client) for _ in range(8)]
        assert [a.status_code for a in answers] == [200] * 8, [a.text for a in answers]
        served = upstreams(door, since)
        assert {address for entry in served for address in entry.split(", ")} == {
            f"127.0.0.1:{first.port}",
            f"127.0.0.1:{second.port}",
        }, served

        second.kill()
        since = door.access_log.stat().st_size
        after = [await upload(client) for _ in range(10)]
        # Refused by the dead instance's port, each upload goes on to the live one: the district
        # sees no 502, and every answer's enrolments are in intake's event store.
        assert [a.status_code for a in after] == [200] * 10, [a.text for a in after]
        served = upstreams(door, since)
        assert served and all(entry.split(", ")[-1] == f"127.0.0.1:{first.port}" for entry in served), served

    ids = [row["enrolment_id"] for a in answers + after for row in a.json()["accepted"]]
    assert len(ids) == 36
    conn = await asyncpg.connect(stack.dsn("intake"))
    try:
        recorded = await conn.fetchval(
            "SELECT count(DISTINCT aggregate_id) FROM events "
            "WHERE type = 'EnrolmentRequested' AND aggregate_id = ANY($1::text[])",
            [str(i) for i in ids],
        )
    finally:
        await conn.close()
    assert recorded == len(ids)
