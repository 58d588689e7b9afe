"""Chaos with several instances of each service, long form: three instances of the registry and
the metrics services (two of intake, one of review) through a longer ingest while a registry and
a metrics instance are added, one of each is stopped with SIGTERM, one of each and an intake
instance are killed with SIGKILL, and a registry instance's batch sleeps past max_poll_interval;
then the reliability audit and each member change's pause (median and max). The short form is
tests/reliability/test_replicas.py; docs/replicas.md says what is measured.

    .venv/bin/python -m bench.chaos_replicas [--enrolments 40000] [--rate 200] [--contention 0] [--repeat 1]

It runs on the local stack (`.local`, or HUIGONG_LOCAL_DIR's) in a database and topics of its own,
with the services on HUIGONG_BENCH_PORT_BASE (29401 here) and up; the report goes to
<local dir>/replicas-report.txt.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys

from bench.common import LOCAL, bench_env, machine_line
from huigong_testkit.reliability import Deployment, Traffic
from huigong_testkit.replicas import chaos

PORT_BASE = int(os.environ.get("HUIGONG_BENCH_PORT_BASE", "29401"))
INSTANCES = {"intake": 2, "review": 1, "registry": 3, "metrics": 3}


async def main(enrolments: int, rate: float, contention: int, repeat: int) -> int:
    print(machine_line())
    verdicts: list[str] = []
    pauses: list[float] = []
    for run in range(1, repeat + 1):
        if repeat > 1:
            print(f"\n=== run {run} of {repeat} ===", flush=True)
        async with bench_env() as env:
            deployment = Deployment(env.env, env.database, env.prefix, PORT_BASE, LOCAL / "replicas-logs")
            traffic = Traffic(
                enrolments=enrolments,
                batch=max(25, int(rate)),
                rate=rate,
                applications=max(8, enrolments // 2000),
            )
            report = await chaos(deployment, traffic, INSTANCES, contention=contention)
        text = report.render()
        print(text)
        suffix = f"-{run}" if repeat > 1 else ""
        (LOCAL / f"replicas-report{suffix}.txt").write_text(text + "\n")
        pauses += report.rebalance_pauses
        clean = report.audit.clean and all(not p.unresolved for p in report.pauses)
        verdicts.append(
            f"run {run}: {'clean' if clean else 'NOT CLEAN'}; lost {sum(report.audit.lost.values())}, "
            f"twice {sum(report.audit.duplicated.values())}; pauses "
            + ", ".join(f"{p:.1f}" for p in report.rebalance_pauses)
            + " s"
        )
    print("\n" + "\n".join(verdicts))
    if pauses:
        print(
            f"rebalance pauses over all runs: median {statistics.median(pauses):.2f} s, max {max(pauses):.2f} s"
        )
    return 0 if all(" clean;" in v for v in verdicts) else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--enrolments", type=int, default=40_000, help="rows of each run (40,000)")
    parser.add_argument("--rate", type=float, default=200, help="rows per second, paced (200)")
    parser.add_argument(
        "--contention", type=int, default=0, help="CPU-bound processes beside the platform (0)"
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs in a row, each on a fresh database (1)")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.enrolments, args.rate, args.contention, args.repeat)))
