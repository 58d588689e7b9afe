"""Losing brokers, long form: the platform on a three-node Kafka cluster of its own (`bin/stack
--brokers 3` in <local dir>/chaos-cluster; topics with three replicas and min.insync.replicas=2)
and the local stack's PostgreSQL, while the district simulator sends enrolments; `--kills` times,
spread over the ingest, a broker is SIGKILLed and started again `--down` seconds later: in turn
the one then leading partition 0 of the enrolments topic and the one coordinating each consumer
group `--coordinators` names (by projection). Then the reliability audit (nothing lost, nothing
twice, replay equals live, every consumer at the end of its topics) and the under-replicated
partitions over time. The short form in CI is tests/reliability/test_broker_loss.py.

Needs the local stack's PostgreSQL (`bin/stack start`; its broker is not used). Prints the
report and writes it to <local dir>/chaos-brokers-report.{txt,json}.

  .venv/bin/python -m bench.chaos_brokers --enrolments 30000 --rate 150 --kills 4 \
      --coordinators intake.outbound,registry.roster
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

from bench.common import LOCAL, REPO, bench_env, machine_line
from huigong_testkit.brokers import LEADER, broker_loss, coordinator_of_group, local_cluster
from huigong_testkit.reliability import Deployment, Traffic

# The four services' ports: ten above bench_metrics' three, so that HUIGONG_BENCH_PORT_BASE moves
# both beside another working copy's benchmarks.
BASE_PORT = int(os.environ.get("HUIGONG_BENCH_PORT_BASE", "29201")) + 10


async def main(
    enrolments: int,
    rate: float,
    kills: int,
    down: float,
    kafka_port: int,
    contention: int,
    coordinators: list[str],
) -> int:
    print(machine_line())
    libs = os.environ.get("HUIGONG_KAFKA_LIBS", str(REPO / ".local/kafka/libs"))
    print(f"starting a three-node cluster on {kafka_port}–{kafka_port + 5} …", flush=True)
    async with local_cluster(LOCAL / "chaos-cluster", kafka_port, Path(libs)) as cluster:
        # bench_env reads HUIGONG_* from the environment over stack.env: its topics go to the cluster.
        os.environ["HUIGONG_KAFKA_BOOTSTRAP"] = cluster.bootstrap
        async with bench_env() as env:
            deployment = Deployment(
                env.env, env.database, env.prefix, BASE_PORT, LOCAL / "chaos-brokers-logs"
            )
            result = await broker_loss(
                deployment,
                cluster,
                Traffic(enrolments=enrolments, batch=200, rate=rate, applications=max(8, enrolments // 2000)),
                kills=kills,
                down=down,
                targets=(LEADER, *(coordinator_of_group(c) for c in coordinators)),
                contention=contention,
                announce=lambda line: print(line, flush=True),
            )
    text = result.render()
    print(text)
    (LOCAL / "chaos-brokers-report.txt").write_text(text + "\n")
    (LOCAL / "chaos-brokers-report.json").write_text(
        json.dumps(result.to_json(), ensure_ascii=False, indent=2)
    )
    print(f"\nreport written to {LOCAL / 'chaos-brokers-report.txt'} and .json")
    report = result.report
    clean = report.clean and result.settings == {"replication.factor": "3", "min.insync.replicas": "2"}
    lost, twice = sum(report.lost.values()), sum(report.duplicated.values())
    print(
        f"verdict: {'clean' if clean else 'NOT CLEAN'}; {len(result.losses)} brokers lost; lost {lost}, "
        f"twice {twice}; max {result.max_under_replicated} partitions under-replicated, "
        f"{result.max_offline} offline"
    )
    return 0 if clean else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--enrolments", type=int, default=30_000, help="rows sent (30,000)")
    parser.add_argument("--rate", type=float, default=150, help="rows per second, paced (150)")
    parser.add_argument("--kills", type=int, default=4, help="brokers lost, one after another (4)")
    parser.add_argument("--down", type=float, default=5, help="seconds a lost broker stays down (5)")
    parser.add_argument(
        "--kafka-port",
        type=int,
        default=19492,
        help="node 1's client port; its controller and the other nodes take the next five (19492)",
    )
    parser.add_argument(
        "--contention", type=int, default=0, help="CPU-bound processes beside the platform (0)"
    )
    parser.add_argument(
        "--coordinators",
        default="intake.outbound",
        help="projections (comma-separated) whose group coordinator is killed in turn with the "
        "partition leader (intake.outbound); empty: the partition leader only",
    )
    args = parser.parse_args()
    coordinators = [c for c in args.coordinators.split(",") if c]
    sys.exit(
        asyncio.run(
            main(
                args.enrolments,
                args.rate,
                args.kills,
                args.down,
                args.kafka_port,
                args.contention,
                coordinators,
            )
        )
    )
