"""Readiness checks: real round trips to PostgreSQL and Kafka, and the migrations applied."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import asyncpg
from aiokafka import AIOKafkaClient

from .database import pending_migrations
from .kafka import client_options

CHECK_TIMEOUT = 3.0


@dataclass
class Check:
    ok: bool
    detail: str


class Readiness:
    def __init__(self, pool: asyncpg.Pool, bootstrap: str, service: str) -> None:
        self._pool = pool
        self._bootstrap = bootstrap
        self._service = service
        self._client: AIOKafkaClient | None = None

    async def postgres(self) -> Check:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT):
                async with self._pool.acquire() as conn:
                    await conn.fetchval("SELECT 1")
                    pending = await pending_migrations(conn, self._service)
        except Exception as exc:
            return Check(False, f"{type(exc).__name__}: {exc}")
        if pending:
            return Check(False, f"migrations not applied: {', '.join(pending)}")
        return Check(True, "ok")

    async def kafka(self) -> Check:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT):
                if self._client is None:
                    client = AIOKafkaClient(
                        bootstrap_servers=self._bootstrap,
                        client_id=f"huigong-{self._service}-ready",
                        **client_options(),
                    )
                    await client.bootstrap()
                    self._client = client
                metadata = await self._client.fetch_all_metadata()
                if not metadata.brokers():
                    raise ConnectionError("metadata lists no broker")
        except Exception as exc:
            await self.close()  # reconnect from scratch next time
            return Check(False, f"{type(exc).__name__}: {exc}")
        return Check(True, "ok")

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            with contextlib.suppress(Exception):
                await client.close()
