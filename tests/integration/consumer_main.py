"""Runs one EnrolmentCounts subscription in its own process, so a test can SIGKILL it."""

from __future__ import annotations

import asyncio
import sys

from huigong_platform import logs
from huigong_platform.database import create_pool
from huigong_platform.subscriptions import Subscription
from tests.integration.projections import EnrolmentCounts


async def main(dsn: str, bootstrap: str, prefix: str, name: str, table: str, batch: int) -> None:
    logs.configure("test-consumer", "WARNING")
    pool = await create_pool(dsn, "intake")
    projection = EnrolmentCounts(name, table)
    async with pool.acquire() as conn:
        await projection.create(conn)
    await Subscription(projection, pool, bootstrap, "intake", prefix, batch).run()


if __name__ == "__main__":
    dsn, bootstrap, prefix, name, table, batch = sys.argv[1:7]
    asyncio.run(main(dsn, bootstrap, prefix, name, table, int(batch)))
