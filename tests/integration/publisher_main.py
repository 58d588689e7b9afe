"""Runs intake's outbound publisher in its own process, so a test can SIGKILL it. With
`--die-after N` the process kills itself with SIGKILL on its N-th round, after the broker
acknowledged the round's notices and before they are marked as published: the worst moment."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from huigong_intake.adapters.outbound import OutboundPublisher
from huigong_platform import logs
from huigong_platform.database import DbConnection, create_pool


class DyingPublisher(OutboundPublisher):
    die_after = 0

    async def _mark(self, conn: DbConnection, sequences: list[int]) -> None:
        self.die_after -= 1
        if self.die_after == 0:
            os.kill(os.getpid(), signal.SIGKILL)
        await super()._mark(conn, sequences)


async def main(dsn: str, bootstrap: str, prefix: str, batch: int, die_after: int) -> None:
    logs.configure("test-outbound-publisher", "WARNING")
    pool = await create_pool(dsn, "intake", max_size=3)
    publisher = DyingPublisher(pool, bootstrap, prefix, batch_size=batch, poll_interval=0.05)
    publisher.die_after = die_after
    await publisher.run()


if __name__ == "__main__":
    dsn, bootstrap, prefix, batch = sys.argv[1:5]
    die_after = int(sys.argv[6]) if sys.argv[5:6] == ["--die-after"] else 0
    asyncio.run(main(dsn, bootstrap, prefix, int(batch), die_after))
