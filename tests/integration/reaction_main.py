"""Runs one reaction (the test reaction `FirstReportCounts`) in a faust app of its own process, so
a test can SIGKILL it. With `--die-after-commit` the process kills itself with SIGKILL right after
the first batch that decided one of the test's members has committed in PostgreSQL, before the
offsets are mirrored to Kafka: the narrowest window there is."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import Any

from faust.contrib.asgi import faust_app_running

from huigong_platform import logs, reactions, subscriptions
from huigong_platform.database import create_pool
from huigong_platform.eventstore import EventStore
from huigong_platform.settings import Settings
from tests.integration.test_reactions import FirstReportCounts


async def main(dsn: str, bootstrap: str, prefix: str, name: str, keys: set[str], die: bool) -> None:
    logs.configure("test-reaction", "WARNING")
    pool = await create_pool(dsn, "registry")
    store = EventStore(pool, prefix)
    real = subscriptions.apply_with_checkpoints

    async def then_die(*args: Any, **kwargs: Any) -> Any:
        outcome, ends = await real(*args, **kwargs)
        for key in keys:
            if outcome.applied and (await store.read("member", key)).version:
                os.kill(os.getpid(), signal.SIGKILL)
        return outcome, ends

    if die:
        # The agent looks the runner's function up in its own module at each batch.
        setattr(reactions, "apply_with_checkpoints", then_die)  # noqa: B010
    settings = Settings(service="registry", database_url=dsn, kafka_bootstrap=bootstrap, topic_prefix=prefix)
    app = reactions.reaction_app(settings, pool, store, [FirstReportCounts(name, keys)])
    async with faust_app_running(app, stop_timeout=20):
        await asyncio.Event().wait()


if __name__ == "__main__":
    dsn, bootstrap, prefix, name, keys = sys.argv[1:6]
    asyncio.run(main(dsn, bootstrap, prefix, name, set(keys.split(",")), "--die-after-commit" in sys.argv))
