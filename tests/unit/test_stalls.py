"""The stall guard without a broker: when it gives a consumer up and when it leaves one be.
(With the broker: `test_a_consumer_that_stops_fetching_while_records_wait_is_replaced_and_catches_up`
in tests/integration/test_subscriptions.py.)"""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer

from huigong_platform.stalls import Stalled, StallWatch, stall_limit


async def test_a_consumer_out_of_its_group_and_never_fed_is_given_up_and_its_loop_closed() -> None:
    watch = StallWatch("intake", "intake.test", limit=0.3)
    closed = asyncio.Event()

    async def wedged() -> None:
        try:
            await asyncio.sleep(60)
        finally:
            closed.set()

    with pytest.raises(Stalled, match="not in its group"):
        await asyncio.wait_for(watch.guard(wedged()), 10)
    assert closed.is_set()


async def test_a_consumer_that_is_fed_runs_until_it_returns() -> None:
    watch = StallWatch("intake", "intake.test", limit=0.3)
    turns = 0

    async def busy() -> None:
        nonlocal turns
        for _ in range(20):  # two seconds, several limits
            watch.fed()
            turns += 1
            await asyncio.sleep(0.1)

    await asyncio.wait_for(watch.guard(busy()), 10)
    assert turns == 20


async def test_a_member_with_nothing_assigned_is_idle_not_stalled() -> None:
    # More members than partitions: a member in its group with nothing to read stays.
    watch = StallWatch("intake", "intake.test", limit=0.3)
    watch.client = AIOKafkaConsumer(bootstrap_servers="127.0.0.1:9")  # never started: nothing assigned
    watch.in_group = True

    async def idle() -> None:
        await asyncio.sleep(2)

    await asyncio.wait_for(watch.guard(idle()), 10)


def test_the_limit_outlasts_a_busy_members_keepalive_and_a_killed_members_session() -> None:
    # The figures docs/replicas.md and docs/configuration.md give.
    assert stall_limit(300, 3) == 84
    assert stall_limit(300, 10) == 105
    assert stall_limit(8, 3) == 60  # a minute at least
