"""Throughput with 1, 2 and 3 instances of the registry and the metrics services, side by side.

For each count, on a fresh database and topics: one intake and that many registry and metrics
instances start, and once every one is ready, the intake takes N enrolments in batches of 1,000
as fast as it answers (over HTTP and the districts' inbound topics, from the district simulator);
the clock runs from the first member counted until the roster and the dashboard's member count
both hold N (the consumers, slower than the ingest, set the pace). The chain measured is the registry's
enrolment reaction (faust), its roster projection and the metrics' counts (the runner), each
sharing its topics' partitions across the instances through its consumer group. Printed per count:
the seconds from the first member counted to the last, members per second, how many records each
instance applied (the spread), and the audit (members lost or counted twice).

On a 2-core machine the point is that the work spreads and stays correct, not a speed-up: every
instance competes for the same two cores (and PostgreSQL and the broker with them).

    .venv/bin/python -m bench.bench_scaling [--enrolments 20000] [--counts 1 2 3]

HUIGONG_BENCH_PORT_BASE (29301 here) moves the service ports; instance i adds 10·(i−1).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
from dataclasses import dataclass

import asyncpg
import httpx

from bench.common import LOCAL, Env, bench_env, machine_line
from huigong_testkit.reliability import Deployment, Driver, Traffic, issue_keys, member_counts, now
from huigong_testkit.replicas import Instance

PORT_BASE = int(os.environ.get("HUIGONG_BENCH_PORT_BASE", "29301"))
CHAIN = ("registry.members", "registry.roster", "metrics.actuals")


@dataclass
class Figures:
    instances: int
    seconds: float  # first member counted to the last
    members: int
    roster: int
    counted: int
    enrolled_events: int
    applied: dict[str, list[int]]  # consumer → records applied per instance

    @property
    def rate(self) -> float:
        return self.members / self.seconds if self.seconds > 0 else 0.0

    @property
    def lost(self) -> int:
        return max(0, self.members - min(self.roster, self.counted, self.enrolled_events))

    @property
    def twice(self) -> int:
        return max(0, max(self.roster, self.counted, self.enrolled_events) - self.members)


async def applied_by(instance: Instance, consumer: str, key: str) -> int:
    """Records the instance's `consumer` applied, from its /metrics (an operator's key)."""
    async with httpx.AsyncClient(timeout=10, headers={"Authorization": f"Bearer {key}"}) as client:
        response = await client.get(f"{instance.url}/metrics")
        response.raise_for_status()
        text = response.text
    pattern = re.compile(
        r'^huigong_events_applied_total\{[^}]*consumer="' + re.escape(consumer) + r'"[^}]*\} (\S+)$'
    )
    return int(sum(float(m.group(1)) for line in text.splitlines() if (m := pattern.match(line))))


async def one_count(env: Env, count: int, enrolments: int) -> Figures:
    deployment = Deployment(env.env, env.database, env.prefix, PORT_BASE, LOCAL / "scaling-logs")
    intake = Instance("intake", deployment)
    others = [
        Instance(name, deployment, index=i) for name in ("registry", "metrics") for i in range(1, count + 1)
    ]
    try:
        # Every instance up and in its groups before the first enrolment arrives: one that
        # started late would find the work done by the others.
        for instance in [intake, *others]:
            instance.start()
        for instance in [intake, *others]:
            await instance.ready(timeout=600)
        await asyncio.sleep(5)  # the groups' first rebalances, once every member has joined
        traffic = Traffic(enrolments=enrolments, batch=1000, rate=1e9, applications=1)
        keys = await issue_keys(deployment, [*(f"simulator:{s}" for s in traffic.submitters), "ops:bench"])
        driver = Driver(deployment, traffic, keys)
        conn = await asyncpg.connect(deployment.admin_dsn)
        try:
            ingest = asyncio.create_task(driver.run())
            first: float | None = None
            while True:
                roster, counted = await member_counts(conn)
                if first is None and min(roster, counted) > 0:
                    first = now()
                if ingest.done() and min(roster, counted) >= driver.ledger.accepted:
                    break
                await asyncio.sleep(0.2)
            await ingest
            accepted = driver.ledger.accepted
            last = now()
            await asyncio.sleep(2)  # a duplicate, if one were coming, would arrive meanwhile
            roster, counted = await member_counts(conn)
            enrolled = await conn.fetchval(
                "SELECT count(*) FROM registry.events WHERE type = 'MemberEnrolled'"
            )
        finally:
            await conn.close()
        applied = {
            consumer: [
                await applied_by(i, consumer, keys["ops:bench"])
                for i in others
                if i.name == consumer.split(".", 1)[0]
            ]
            for consumer in CHAIN
        }
        return Figures(count, last - (first or last), accepted, roster, counted, int(enrolled), applied)
    finally:
        for instance in [*others, intake]:
            await asyncio.to_thread(instance.stop)


async def main(enrolments: int, counts: list[int]) -> int:
    print(machine_line())
    print(
        f"{enrolments:,} enrolments into 1 intake, consumed by N registry and N metrics instances (all ready "
        "first); timed from the first member counted to the last (roster and dashboard)"
    )
    figures: list[Figures] = []
    for count in counts:
        async with bench_env() as env:
            figures.append(await one_count(env, count, enrolments))
            f = figures[-1]
            print(f"  {count} instance(s): {f.seconds:.1f} s, {f.rate:,.0f} members/s", flush=True)
    print()
    print(
        f"{'instances':>10}{'seconds':>9}{'members/s':>11}{'vs 1':>7}{'lost':>6}{'twice':>7}   records applied per instance"
    )
    base = figures[0].rate if figures else 0.0
    for f in figures:
        spread = "; ".join(f"{c.split('.', 1)[1]} {'/'.join(f'{n:,}' for n in f.applied[c])}" for c in CHAIN)
        print(
            f"{f.instances:>10}{f.seconds:>9.1f}{f.rate:>11,.0f}{(f.rate / base if base else 0):>7.2f}"
            f"{f.lost:>6}{f.twice:>7}   {spread}"
        )
    return 0 if all(f.lost == 0 and f.twice == 0 for f in figures) else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--enrolments", type=int, default=20_000, help="enrolments per count (20,000)")
    parser.add_argument("--counts", type=int, nargs="+", default=[1, 2, 3], help="instance counts (1 2 3)")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.enrolments, args.counts)))
