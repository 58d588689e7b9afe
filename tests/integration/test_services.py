"""Each service is a real process: it becomes ready only when PostgreSQL and Kafka answer, says
so on /readyz, recovers by itself, and stops cleanly on SIGTERM."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from huigong_platform.settings import SERVICES

from ..conftest import Stack
from .processes import TEST_PORTS, ServiceProcess, artefacts_dir
from .stackctl import stack as stackctl


@pytest.fixture(scope="module")
async def services(stack: Stack) -> AsyncIterator[dict[str, ServiceProcess]]:
    procs = {s: ServiceProcess(s, TEST_PORTS[s], artefacts_dir() / f"service-{s}.log") for s in SERVICES}
    for proc in procs.values():
        proc.start(stack)
    try:
        for proc in procs.values():
            await proc.wait_status(200)
        yield procs
    finally:
        for proc in procs.values():
            proc.kill()


async def test_every_service_is_alive_ready_and_exposes_metrics(
    services: dict[str, ServiceProcess],
) -> None:
    for name, proc in services.items():
        async with proc.client(timeout=10) as client:
            alive = await client.get("/healthz")
            assert alive.json() == {"status": "alive", "service": name}
            code, body = await proc.ready()
            assert code == 200 and body["checks"] == {"postgres": "ok", "kafka": "ok"}
            # Prometheus scrapes with a viewer key.
            metrics = await client.get("/metrics", headers={"X-Huigong-Principal": "viewer:prometheus"})
            assert "huigong_outbox_pending" in metrics.text
            # Every response carries the correlation id it was given (or a new one).
            tagged = await client.get("/healthz", headers={"X-Correlation-ID": "abc-123"})
            assert tagged.headers["X-Correlation-ID"] == "abc-123"


@pytest.mark.outage
async def test_readyz_follows_postgres_down_and_back(services: dict[str, ServiceProcess]) -> None:
    await stackctl("stop", "postgres")
    try:
        for proc in services.values():
            body = await proc.wait_status(503, timeout=30)
            assert body["checks"]["kafka"] == "ok"  # type: ignore[index]
            assert body["checks"]["postgres"] != "ok"  # type: ignore[index]
    finally:
        await stackctl("start", "postgres")
    for proc in services.values():
        await proc.wait_status(200)


@pytest.mark.outage
async def test_readyz_follows_kafka_down_and_back(services: dict[str, ServiceProcess]) -> None:
    await stackctl("stop", "kafka")
    try:
        for proc in services.values():
            body = await proc.wait_status(503, timeout=30)
            assert body["checks"]["postgres"] == "ok"  # type: ignore[index]
    finally:
        await stackctl("start", "kafka")
    for proc in services.values():
        await proc.wait_status(200)


async def test_sigterm_stops_every_service_cleanly(stack: Stack) -> None:
    for name in SERVICES:
        proc = ServiceProcess(name, TEST_PORTS[name] + 100, artefacts_dir() / f"sigterm-{name}.log")
        proc.start(stack)
        try:
            await proc.wait_status(200)
            assert proc.terminate() == 0, proc.log_tail()
            assert '"service stopped"' in proc.log_tail(50) or "service stopped" in proc.log_tail(50)
        finally:
            proc.kill()
