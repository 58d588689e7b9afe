"""The reliability run, long form: 100,000 enrolments (with applications) through every fault of the short
form (SIGKILL of each service and of all, broker and database outages, poison in every topic),
then a steady soak (10 minutes by default) on the same processes: memory of each service and its
relay at the start and the end, consumer lag sampled throughout. Prints the report and writes it
to .local/<stack>/reliability-report.{txt,json}.

Run it with `bench/reliability` (its own stack, so the faults never touch the platform `bin/run`
keeps); `bench/reliability --enrolments 20000 --soak-seconds 60` for a quick look.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from bench.common import LOCAL, bench_env, machine_line
from huigong_testkit.reliability import Deployment, Soak, Traffic, scenario

BASE_PORT = 29101  # above every port the test modules use, so both may run at once


async def main(
    enrolments: int, rate: float, soak_seconds: float, soak_rate: float, contention: int, repeat: int
) -> int:
    print(machine_line())
    verdicts: list[str] = []
    for run in range(1, repeat + 1):
        if repeat > 1:
            print(f"\n=== run {run} of {repeat} ===", flush=True)
        async with bench_env() as env:
            deployment = Deployment(env.env, env.database, env.prefix, BASE_PORT, LOCAL / "reliability-logs")
            report = await scenario(
                deployment,
                Traffic(
                    enrolments=enrolments, batch=1000, rate=rate, applications=max(16, enrolments // 2000)
                ),
                soak_plan=Soak(soak_seconds, soak_rate) if soak_seconds > 0 else None,
                announce=lambda r: (
                    print(r.render() + "\n\nsoak running…", flush=True) if soak_seconds > 0 else None
                ),
                contention=contention,
            )
        text = report.render()
        print(text)
        suffix = f"-{run}" if repeat > 1 else ""
        (LOCAL / f"reliability-report{suffix}.txt").write_text(text + "\n")
        (LOCAL / f"reliability-report{suffix}.json").write_text(report.to_json())
        print(f"\nreport written to {LOCAL / f'reliability-report{suffix}.txt'} and .json")
        clean = report.clean and (not report.soak or _soak_clean(report.soak))
        lost, twice = sum(report.lost.values()), sum(report.duplicated.values())
        verdicts.append(
            f"run {run}: {'clean' if clean else 'NOT CLEAN'}; lost {lost}, twice {twice}, without an outcome "
            f"{sum(o['missing'] for o in report.outcomes.values())}"
        )
        print("verdict: " + ("nothing lost, nothing counted twice" if clean else "NOT CLEAN (see above)"))
    if repeat > 1:
        print("\n" + "\n".join(verdicts))
    return 0 if all(" clean;" in v for v in verdicts) else 1


def _soak_clean(soak: dict[str, object]) -> bool:
    counted = soak["counted"]
    assert isinstance(counted, dict)
    return all(v == soak["accepted"] for v in counted.values())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--enrolments", type=int, default=100_000, help="rows of the fault run (100,000)")
    parser.add_argument(
        "--rate",
        type=float,
        default=1000,
        help="rows per second of the fault run, paced: a ninth of the rows (between two faults) takes about 11 s at 100,000 (1,000)",
    )
    parser.add_argument("--soak-seconds", type=float, default=600, help="length of the soak; 0: none (600)")
    parser.add_argument("--soak-rate", type=float, default=300, help="rows per second during the soak (300)")
    parser.add_argument(
        "--contention",
        type=int,
        default=0,
        help="CPU-bound processes competing with the platform during each fault run (0)",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="fault runs in a row, each on a fresh database (1)"
    )
    args = parser.parse_args()
    sys.exit(
        asyncio.run(
            main(args.enrolments, args.rate, args.soak_seconds, args.soak_rate, args.contention, args.repeat)
        )
    )
