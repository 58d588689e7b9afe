"""The registry's member reaction (`registry.members`): EnrolmentRequested → MemberEnrolled /
MemberReportedAgain / MutualAidGranted, through the real faust agent and the runner's checkpoint
fence, into a throw-away registry database.

Each mode gets a database and topic prefix of its own and the same reports (one in ten a second
report of an earlier member by another district, some of those in the same batch):
1. per event (HUIGONG_REACTION_BATCHES=0): lock, read, fold, decide, append per report;
2. per batch (the default): one lock statement, one read, one append per batch.
Timed from the agent's first committed batch to the last report's checkpoint (faust's start-up
and group join are left out); the CPU figure is this process's (faust agent + decoding).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import uuid
from collections.abc import Iterator
from typing import ClassVar

from faust.contrib.asgi import faust_app_running

from huigong_events.envelope import to_kafka
from huigong_events.intake import EnrolmentRequested
from huigong_events.topics import topic_for_aggregate
from huigong_platform.database import create_pool
from huigong_platform.eventstore import EventStore
from huigong_platform.reactions import reaction_app
from huigong_platform.service import tune_gc
from huigong_platform.settings import Settings
from huigong_registry.reactions.members import MembersReaction
from huigong_testkit.factories import enrolment, recorded

from .common import CpuClock, Env, Stopwatch, bench_env, figure, publish

DISTRICTS = ["370202", "370203", "370213", "370212", "370214", "370211", "370215", "370281"]


class PerEventMembers(MembersReaction):
    """The reaction as it was before its batch path: report by report, 500 per transaction."""

    batched = False
    batch_size: ClassVar[int] = 500


def key(i: int) -> str:
    return hashlib.sha256(f"bench-member-{i}".encode()).hexdigest()


def reports(count: int) -> tuple[list[EnrolmentRequested], int]:
    """`count` reports and the number of distinct members among them."""
    template = enrolment()
    made: list[EnrolmentRequested] = []
    members: set[str] = set()
    for i in range(count):
        if i % 10 == 9 and i >= 1000:
            member = key(i - 997)  # reported again, usually in another batch
        elif i % 20 == 4:
            member = key(i - 2)  # reported again right after: the same batch
        else:
            member = key(i)
        members.add(member)
        made.append(
            template.model_copy(
                update={
                    "member_key": member,
                    "enrolment_id": uuid.uuid4(),
                    "batch_id": uuid.uuid4(),
                    "row_number": i + 1,
                    "district": DISTRICTS[i % len(DISTRICTS)],
                }
            )
        )
    return made, len(members)


async def produce(env: Env, made: list[EnrolmentRequested]) -> None:
    topic = topic_for_aggregate("enrolment").qualified(env.prefix)

    def records() -> Iterator[tuple[str, bytes, bytes, list[tuple[str, bytes]]]]:
        for event in made:
            # Sealed and tagged by intake's key as intake's store does: the reaction refuses
            # untagged records.
            record = recorded(event)
            yield (topic, *to_kafka(record))

    await publish(env, records())


async def run(label: str, count: int, batched: bool) -> float:
    made, members = reports(count)
    async with bench_env() as env:
        await produce(env, made)
        pool = await create_pool(env.dsn("registry"), "registry", max_size=4)
        try:
            settings = Settings(
                service="registry",
                database_url=env.dsn("registry"),
                kafka_bootstrap=env.bootstrap,
                topic_prefix=env.prefix,
            )
            reaction = MembersReaction() if batched else PerEventMembers()
            app = reaction_app(settings, pool, EventStore(pool, env.prefix), [reaction])

            async def done() -> int:
                value = await pool.fetchval(
                    "SELECT sum(next_offset) FROM checkpoints WHERE consumer = $1", reaction.name
                )
                return int(value or 0)

            async with faust_app_running(app, stop_timeout=30):
                while await done() == 0:
                    await asyncio.sleep(0.05)
                watch, cpu = Stopwatch(), CpuClock()
                start = await done()
                while await done() < count:
                    await asyncio.sleep(0.05)
                seconds, cpu_seconds = watch.seconds, cpu.seconds
            rate = figure(label, count - start, seconds, cpu_seconds)
            if batched:  # one append per batch, all of its events recorded at the same instant
                appends = await pool.fetchval(
                    "SELECT count(DISTINCT recorded_at) FROM events WHERE aggregate_type = 'member'"
                )
                print(f"     {appends:,} batch appends, {count / appends:,.0f} reports each on average")
            rows = await pool.fetch(
                "SELECT type, count(*) FROM events WHERE aggregate_type = 'member' GROUP BY type"
            )
            counts = {row[0]: row[1] for row in rows}
            expected = {
                "MemberEnrolled": members,
                "MemberReportedAgain": count - members,
                "MutualAidGranted": members,
            }
            assert counts == expected, (counts, expected)
            return rate
        finally:
            await pool.close()


async def main(count: int, per_event: int) -> None:
    tune_gc()  # as every service process does
    print(
        f"member reaction benchmark: {count:,} EnrolmentRequested (per event: {per_event:,}), "
        "one in ten a member reported again"
    )
    before = await run("1. per event (before)", per_event, batched=False)
    after = await run("2. per batch (after)", count, batched=True)
    print(f"  ratio per batch / per event   {after / before:6.1f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument(
        "--per-event-events", type=int, default=None, help="reports for the slow path (default: a tenth)"
    )
    args = parser.parse_args()
    asyncio.run(main(args.events, args.per_event_events or max(args.events // 10, 1000)))
