"""Losing a broker, short form: the platform on a three-node Kafka cluster (topics with three
replicas, min.insync.replicas=2, every producer acks=all and idempotent) while the district
simulator sends enrolments over HTTP and over the inbound topics; a third into the ingest the
broker leading partition 0 of the enrolments topic is SIGKILLed and, 5 s later, started again;
two thirds in, the same with the broker coordinating intake's outbound consumer group (whose
members must find its new coordinator and, if their sessions ran out meanwhile, join again; a
consumer the client closed from within there used to stop for good). Every row a district was
told is accepted (a 2xx, or a record the broker acknowledged) must then be everywhere exactly
once, a replay must equal live and every consumer must have caught up; the under-replicated
partitions are printed over time. The long form (repeated kills) is
`bench/chaos_brokers.py`.

The report goes to test-artifacts/broker-loss-report.{txt,json}."""

from __future__ import annotations

import json
import os

from huigong_testkit.brokers import LEADER, Cluster, broker_loss, coordinator_of_group
from huigong_testkit.reliability import Deployment, Traffic

from ..conftest import isolated_stack
from ..integration.processes import TEST_PORTS, artefacts_dir

ENROLMENTS = int(os.environ.get("HUIGONG_BROKER_LOSS_ENROLMENTS", "4000"))


async def test_a_lost_leader_or_coordinator_loses_no_acknowledged_enrolment_and_counts_none_twice(
    stack_env: dict[str, str], kafka_cluster: Cluster
) -> None:
    on_cluster = {**stack_env, "HUIGONG_KAFKA_BOOTSTRAP": kafka_cluster.bootstrap}
    async with isolated_stack(on_cluster) as s:
        deployment = Deployment(
            env=s.env,
            database=s.database,
            prefix=s.topic_prefix,
            base_port=TEST_PORTS["intake"] + 1700,
            logs=artefacts_dir(),
        )
        # About 40 s of ingest, the losses inside it: the rows sent while a broker is away and
        # while its partitions move meet a cluster one broker short.
        traffic = Traffic(enrolments=ENROLMENTS, batch=100, rate=round(ENROLMENTS / 40, 1), applications=8)
        targets = (LEADER, coordinator_of_group("intake.outbound"))
        result = await broker_loss(deployment, kafka_cluster, traffic, kills=2, down=5.0, targets=targets)
    text = result.render()
    print(text)  # the under-replicated partitions over time, in the test's output
    out = artefacts_dir()
    (out / "broker-loss-report.txt").write_text(text + "\n")
    (out / "broker-loss-report.json").write_text(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
    report = result.report

    # The cluster was what it claims: three copies, two of them needed for an acknowledgement.
    assert result.settings == {"replication.factor": "3", "min.insync.replicas": "2"}, text
    # Both losses fell inside the ingest.
    assert [f["during_ingest"] for f in report.faults] == [True, True], text
    # While each was away the cluster saw partitions under-replicated, never leaderless, and
    # once it was back every partition was in sync again.
    assert result.max_under_replicated > 0 and result.max_offline == 0, text
    assert result.samples[-1].under_replicated == 0 and result.samples[-1].brokers == 3, text
    assert all(loss.in_sync > 0 for loss in result.losses), text
    # Intake answered throughout: no 503, no refusal; the outbox waited for the new leaders.
    assert report.http["statuses"].get(503, 0) == 0 and report.http["refusals"] == [], text
    # Nothing a district was told was accepted is missing anywhere, nothing is counted twice.
    assert report.accepted["enrolments"] == report.sent["enrolments"], text
    assert not any(report.lost.values()), text
    assert not any(report.duplicated.values()), text
    letters = report.dead_lettered
    assert letters["unexpected"] == [] and letters["parked"] == 0, text
    # Every consumer caught up, a clean replay equals live, every trigger has its outcome.
    assert report.lag and not any(report.lag.values()), text
    assert report.replay["equal"], text
    assert report.outcomes and not any(o["missing"] for o in report.outcomes.values()), text
