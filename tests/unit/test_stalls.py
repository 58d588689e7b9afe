"""The stall guard without a broker: when it gives a consumer up and when it leaves one be.
(With the broker: `test_a_consumer_that_stops_fetching_while_records_wait_is_replaced_and_catches_up`
in tests/integration/test_subscriptions.py.)"""

from __future__ import annotations

import asyncio
from typing import cast

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from huigong_platform.stalls import CancelledWithin, Stalled, StallWatch, stall_limit


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


class _Broker:
    """What a consumer's client would be told: its topic's partitions, which of them its group
    gave it, and the broker's end offsets. Only the calls the guard makes."""

    def __init__(self, assigned: set[int], ends: dict[int, int]) -> None:
        self.assigned = {TopicPartition("enrolments", p) for p in assigned}
        self.ends = {TopicPartition("enrolments", p): end for p, end in ends.items()}

    def subscription(self) -> set[str]:
        return {"enrolments"}

    def partitions_for_topic(self, topic: str) -> set[int]:
        return {tp.partition for tp in self.ends}

    def assignment(self) -> set[TopicPartition]:
        return self.assigned

    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: self.ends[tp] for tp in partitions}


def _watched(broker: _Broker, checkpoints: dict[int, int]) -> StallWatch:
    """A projection's watch: it stands where its checkpoints say, on every partition of its
    topics (what `Subscription._checkpointed` reads from PostgreSQL)."""

    async def checkpointed(
        _: AIOKafkaConsumer, partitions: list[TopicPartition]
    ) -> dict[TopicPartition, int]:
        return {tp: checkpoints[tp.partition] for tp in partitions if tp.partition in checkpoints}

    watch = StallWatch("registry", "registry.roster", limit=0.3, standing=checkpointed)
    watch.client = cast(AIOKafkaConsumer, broker)
    watch.in_group = True
    return watch


async def test_a_member_whose_partitions_wait_behind_its_checkpoints_is_given_up() -> None:
    # Its client may have fetched far ahead; what it applied is what counts.
    watch = _watched(_Broker(assigned={0}, ends={0: 500, 1: 300}), checkpoints={0: 120, 1: 300})

    async def wedged() -> None:
        await asyncio.sleep(60)

    with pytest.raises(Stalled, match="380 records waiting on its partitions"):
        await asyncio.wait_for(watch.guard(wedged()), 10)


async def test_records_no_member_moves_on_a_partition_of_its_topics_give_a_member_up() -> None:
    # The wedge that looked idle: this member holds nothing (an assignment made from a partial
    # view of the cluster), and the partition it should hold waits, moved by no one.
    watch = _watched(_Broker(assigned=set(), ends={0: 500, 1: 300}), checkpoints={0: 120, 1: 300})

    async def wedged() -> None:
        await asyncio.sleep(60)

    with pytest.raises(Stalled, match="380 records waiting on partitions of its topics that no member moved"):
        await asyncio.wait_for(watch.guard(wedged()), 10)


async def test_a_member_with_nothing_assigned_stays_while_another_member_works_off_its_partition() -> None:
    checkpoints = {0: 0, 1: 300}
    watch = _watched(_Broker(assigned=set(), ends={0: 10_000, 1: 300}), checkpoints=checkpoints)

    async def others_at_work() -> None:
        # Another member applies partition 0 meanwhile: behind, but moving at every look.
        for _ in range(30):  # three seconds, ten limits
            checkpoints[0] += 100
            await asyncio.sleep(0.1)

    await asyncio.wait_for(watch.guard(others_at_work()), 10)
    assert checkpoints[0] == 3_000


async def test_a_cancellation_raised_inside_the_consumers_loop_is_a_failure_to_retry_not_a_stop() -> None:
    # A CancelledError from inside the client (nobody cancelled the loop) once ended a
    # projection's retry loop as if the service were stopping: no log, no fresh consumer.
    watch = StallWatch("metrics", "metrics.warmth", limit=60)

    async def client_cancels_a_wait() -> None:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_soon(waiter.cancel)
        await waiter

    with pytest.raises(CancelledWithin, match=r"cancelled from within \(raised at .*test_stalls\.py:\d+\)"):
        await asyncio.wait_for(watch.guard(client_cancels_a_wait()), 10)


async def test_a_consumer_whose_service_stops_is_cancelled_and_its_loop_closed() -> None:
    watch = StallWatch("metrics", "metrics.warmth", limit=60)
    started, closed = asyncio.Event(), asyncio.Event()

    async def consuming() -> None:
        started.set()
        try:
            await asyncio.sleep(60)
        finally:
            closed.set()

    guarded = asyncio.create_task(watch.guard(consuming()))
    await started.wait()
    guarded.cancel()
    with pytest.raises(asyncio.CancelledError):
        await guarded
    assert closed.is_set()
