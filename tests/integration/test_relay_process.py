"""The outbox relay runs beside each service in a process of its own (so that relaying uses a
core of its own): what a 2xx promises must still hold when that process dies, and a service
that is killed must not leave a relay behind."""

from __future__ import annotations

import asyncio
import os
import random
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer

from huigong_events.topics import topic_for_aggregate
from huigong_simulator.data import enrolment_rows

from ..conftest import Stack
from .processes import ServiceProcess, running

DISTRICT = "370283"  # 平度市


@pytest.fixture(scope="module")
async def intake(stack: Stack) -> AsyncIterator[ServiceProcess]:
    async with running(stack, ("intake",), 1300, "relay-process") as (proc,):
        yield proc


def relay_of(service: ServiceProcess) -> int | None:
    """The pid of the service's relay process, if it has one."""
    assert service.proc is not None
    pid = service.proc.pid
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        try:
            if b"huigong_platform.outbox" in Path(f"/proc/{child}/cmdline").read_bytes():
                return int(child)
        except OSError:
            continue  # gone meanwhile
    return None


async def new_relay_of(service: ServiceProcess, not_pid: int | None = None) -> int:
    for _ in range(120):
        pid = relay_of(service)
        if pid is not None and pid != not_pid:
            return pid
        await asyncio.sleep(0.25)
    raise AssertionError(f"no relay process beside the service:\n{service.log_tail()}")


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; only its exit status is left to collect


async def enrol_and_find_in_kafka(stack: Stack, service: ServiceProcess, seed: int) -> None:
    rows = enrolment_rows(20, DISTRICT, random.Random(seed))
    async with service.client() as client:
        response = await client.post(
            "/enrolments",
            json={"rows": rows},
            headers={"X-Huigong-Principal": f"district:{DISTRICT}", "Idempotency-Key": f"relay-{seed}"},
        )
    assert response.status_code == 200, response.text
    wanted = {a["enrolment_id"].encode() for a in response.json()["accepted"]}
    assert len(wanted) == 20
    consumer = AIOKafkaConsumer(
        topic_for_aggregate("enrolment").qualified(stack.topic_prefix),
        bootstrap_servers=stack.bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    seen: set[bytes] = set()
    try:
        deadline = asyncio.get_running_loop().time() + 60
        while asyncio.get_running_loop().time() < deadline and not wanted <= seen:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                seen |= {r.key for r in records if r.key in wanted}
    finally:
        await consumer.stop()
    assert wanted <= seen, f"{len(wanted - seen)} of 20 enrolments never reached Kafka"


async def test_events_reach_kafka_through_the_relay_process_even_after_it_died(
    stack: Stack, intake: ServiceProcess
) -> None:
    first = await new_relay_of(intake)
    await enrol_and_find_in_kafka(stack, intake, 1)

    os.kill(first, signal.SIGKILL)
    second = await new_relay_of(intake, not_pid=first)  # the service starts another
    await enrol_and_find_in_kafka(stack, intake, 2)
    assert relay_of(intake) == second

    # What the relay published shows on the service's /metrics (it reports twice a second).
    async with intake.client() as client:
        for _ in range(60):
            metrics = await client.get("/metrics", headers={"X-Huigong-Principal": "ops:relay-test"})
            if published(metrics.text) >= 20:  # the second relay's 20 at least
                break
            await asyncio.sleep(0.25)
        else:
            pytest.fail(f"/metrics says {published(metrics.text)} published")


def published(metrics: str) -> float:
    prefix = 'huigong_outbox_published_total{service="intake"} '
    return next((float(line[len(prefix) :]) for line in metrics.splitlines() if line.startswith(prefix)), 0.0)


async def test_a_killed_service_leaves_no_relay_behind(stack: Stack, intake: ServiceProcess) -> None:
    relay = await new_relay_of(intake)
    intake.kill()  # SIGKILL: the service cannot stop its relay itself
    for _ in range(120):
        if not alive(relay):
            break
        await asyncio.sleep(0.25)
    else:
        os.kill(relay, signal.SIGKILL)
        pytest.fail("the relay outlived its service")
