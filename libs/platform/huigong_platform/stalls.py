"""The stall guard of our Kafka consumers: one handed no record for too long while records wait
(or left out of its group) is closed and a fresh one takes over.

A client can wedge where no error reaches us: after its group's coordinator broker was killed,
one aiokafka consumer of a three-broker run sat in its group fetching nothing while thousands of
records waited, and stayed so (other clients have had such wedges after a coordinator failover
too: librdkafka#3082, kafka-python#1134). Ours was, by every sign, a CancelledError raised inside
the client, which ended the consumer's retry loop as if the service were stopping: the guard
makes that a failure like any other (`CancelledWithin`). Every consumer of ours resumes from a
position it can trust (a projection from its checkpoints in PostgreSQL, intake's inbound
consumer from its committed offsets, behind commands that are idempotent), so closing a wedged
one and starting another loses nothing and applies nothing twice. See docs/replicas.md, "A consumer that stops
fetching".
"""

from __future__ import annotations

import asyncio
import time
import traceback
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition

from . import telemetry


def stall_limit(max_poll_seconds: float, session_seconds: float) -> float:
    """Seconds a consumer may be handed no record before the guard asks whether it is stuck.

    Longer than anything a healthy member waits for: a rebalance waits for every member to ask
    for records again (a busy projection consumer does so every quarter of max_poll_interval,
    see `Subscription._finish`) and for a killed one's session to run out, and a broker's
    partitions move to new leaders within seconds. A minute at least, so a short outage of the
    whole cluster is ridden out by the client's own retries rather than by fresh consumers."""
    return max(60.0, max_poll_seconds / 4 + 3 * session_seconds)


class Stalled(Exception):
    """A consumer was handed no record for longer than its stall limit, and was not idle."""


class CancelledWithin(Exception):
    """The consumer's loop ended in a CancelledError that nobody asked for: one raised inside the
    client (seen after a broker loss). Left as it was, it would end the retry loop around the
    consumer as if the service were stopping, silently, with the consumer's records waiting."""


def _cancelled_on_purpose() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def _contained(consume: Coroutine[Any, Any, None]) -> None:
    """`consume`, with a CancelledError it raises by itself turned into `CancelledWithin` (a
    cancellation of this task, by the guard or the service stopping, stays one)."""
    try:
        await consume
    except asyncio.CancelledError as exc:
        if _cancelled_on_purpose():
            raise
        frames = traceback.extract_tb(exc.__traceback__)
        origin = f" (raised at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
        raise CancelledWithin(f"the consumer's loop was cancelled from within{origin}") from exc


# Where a consumer's group stands on partitions of its topics: the next offset applied, for
# those it can tell.
Standing = Callable[[AIOKafkaConsumer, list[TopicPartition]], Awaitable[dict[TopicPartition, int]]]


async def positions(client: AIOKafkaConsumer, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
    """The client's own positions, on the partitions assigned to it: the standing of a consumer
    that commits to Kafka."""
    assigned = client.assignment()
    return {tp: await client.position(tp) for tp in partitions if tp in assigned}


class StallWatch:
    """What the guard knows of one consumer: when it was last fed, whether it is in its group,
    and how to ask where it stands (`positions`, or a projection's checkpoints, which a record
    fetched and never applied leaves behind however far the client's position moved)."""

    def __init__(self, service: str, consumer: str, limit: float, standing: Standing = positions) -> None:
        self.service = service
        self.consumer = consumer
        self.limit = limit
        self._standing = standing
        self._last: dict[TopicPartition, int] = {}  # the standing at the previous look
        self.client: AIOKafkaConsumer | None = None
        self.in_group = False  # between an assignment and the next revocation
        self._fed_at = time.monotonic()

    def fed(self) -> None:
        """Records were handed over, or work on them went on: progress."""
        self._fed_at = time.monotonic()

    async def guard(self, consume: Coroutine[Any, Any, None]) -> None:
        """Run `consume` (a loop over `self.client`); raise `Stalled` if it stops being fed while
        it is not idle (the caller's retry then starts a fresh consumer)."""
        self._fed_at = time.monotonic()
        task = asyncio.create_task(_contained(consume))
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=min(5.0, self.limit / 10))
                if done:
                    task.result()
                    return
                idle = time.monotonic() - self._fed_at
                if idle <= self.limit:
                    continue
                reason = await self.waiting()
                if reason is None:
                    self._fed_at = time.monotonic()  # nothing to read: idle, not stalled
                    continue
                telemetry.CONSUMER_STALLS.labels(self.service, self.consumer).inc()
                raise Stalled(f"no records for {idle:.0f} s, {reason}; a fresh consumer takes over")
        finally:
            if not task.done():
                task.cancel()
                await asyncio.wait({task})

    async def waiting(self) -> str | None:
        """Why the consumer is not idle but stuck, if it is: out of its group, no standing to
        compare, records on the broker past where it stands on its partitions, or records past
        where the group stands on other partitions of its topics that did not move since the
        last look (held by no member that works on them: an assignment made from a partial view
        of the cluster leaves partitions to no one). The broker is asked, not the high-water
        marks of the last fetch, which a consumer that fetches nothing never updates. None when
        it has all it was given."""
        client = self.client
        if client is None or not self.in_group:
            return "not in its group"
        partitions = [
            TopicPartition(topic, p)
            for topic in sorted(client.subscription())
            for p in sorted(client.partitions_for_topic(topic) or ())
        ]
        if not partitions:
            return None  # its topics are not there yet: nothing to read
        try:
            async with asyncio.timeout(10):
                ends = await client.end_offsets(partitions)
                done = await self._standing(client, partitions)
        except asyncio.CancelledError:
            if _cancelled_on_purpose():
                raise
            return "no standing or ends to compare (asking was cancelled from within)"
        except Exception as exc:
            return f"no standing or ends to compare ({type(exc).__name__}: {exc})"
        last, self._last = self._last, done
        behind = {tp: ends[tp] - at for tp, at in done.items() if ends[tp] > at}
        assigned = client.assignment()
        mine = sum(n for tp, n in behind.items() if tp in assigned)
        if mine:
            return f"{mine:,} records waiting on its partitions"
        unmoved = sum(n for tp, n in behind.items() if last.get(tp) == done[tp])
        if unmoved:
            return f"{unmoved:,} records waiting on partitions of its topics that no member moved"
        return None


class Membership(ConsumerRebalanceListener):  # type: ignore[misc]
    """Tells a `StallWatch` when its consumer is in its group."""

    def __init__(self, watch: StallWatch) -> None:
        self.watch = watch

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        self.watch.in_group = False

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        self.watch.in_group = True
