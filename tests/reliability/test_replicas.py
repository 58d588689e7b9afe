"""Chaos with several instances of each service, short form in CI.

Three instances of the registry and of the metrics services (two of intake, one of review) share
their consumer groups while the district simulator ingests enrolments, spread over the intake
instances; meanwhile a registry and a metrics instance are added, one of each is stopped with
SIGTERM, one of each and an intake instance are killed with SIGKILL, and a registry instance's
roster batch sleeps past max_poll_interval_ms. Then the reliability run's audit: nothing a district
was told is accepted is missing anywhere or counted twice, nothing is dead-lettered, every consumer
caught up, `huigong replay -s all` equals live, every trigger has its outcome. The report gives
each member change's pause (the change until every watched partition is consumed again). The
long form is `bench/chaos_replicas.py`.

The report is written to test-artifacts/replicas-report.txt and printed on failure.
"""

from __future__ import annotations

import os

from huigong_testkit.reliability import Deployment, Traffic
from huigong_testkit.replicas import MAX_POLL_SECONDS, chaos

from ..conftest import isolated_stack
from ..integration.processes import TEST_PORTS, artefacts_dir

ENROLMENTS = int(os.environ.get("HUIGONG_REPLICAS_ENROLMENTS", "6000"))
INSTANCES = {"intake": 2, "review": 1, "registry": 3, "metrics": 3}


async def test_instances_come_and_go_without_losing_or_doubling_anything(stack_env: dict[str, str]) -> None:
    async with isolated_stack(stack_env) as s:
        deployment = Deployment(
            env=s.env,
            database=s.database,
            prefix=s.topic_prefix,
            # Above the reliability run's ports; instance i of a service adds 10·(i−1).
            base_port=TEST_PORTS["intake"] + 1700,
            logs=artefacts_dir(),
        )
        # Paced so that each sixth of the ingest lasts about fifteen seconds: longer than a
        # rebalance, so records keep arriving through every member change.
        traffic = Traffic(
            enrolments=ENROLMENTS,
            batch=max(25, ENROLMENTS // 120),
            rate=round(ENROLMENTS / 90, 1),
            applications=8,
        )
        report = await chaos(deployment, traffic, INSTANCES)
    text = report.render()
    (artefacts_dir() / "replicas-report.txt").write_text(text + "\n")
    audit = report.audit

    # Every member change happened, during the ingest.
    assert [p.change.split(":")[0] for p in report.pauses] == [
        "instance added",
        "SIGTERM",
        "SIGKILL",
    ], text
    # The slowed instance took its slow batch, lived through it, and kept asking for records
    # meanwhile instead of being dropped from its group.
    assert report.slow["taken"] and report.slow["alive"], text
    assert report.slow["keepalives"] >= 1, text
    assert report.slow["seconds"] > MAX_POLL_SECONDS
    # Nothing lost, nothing twice, in any place.
    assert audit.accepted["enrolments"] == audit.sent["enrolments"], text
    assert not any(audit.lost.values()), text
    assert not any(audit.duplicated.values()), text
    # A killed intake broke connections; the retries (same idempotency keys) went to the other.
    assert audit.http["refusals"] == [], text
    assert audit.http["unavailable_outside_outage"] == 0, text
    # Nothing was dead-lettered or parked: a rebalance is no reason to give up on a record.
    assert audit.dead_lettered["unexpected"] == [] and audit.dead_lettered["parked"] == 0, text
    # Every consumer caught up; a clean replay equals live; every trigger has its outcome.
    assert audit.lag and not any(audit.lag.values()), text
    assert audit.replay["equal"], text
    assert audit.outcomes and not any(o["missing"] for o in audit.outcomes.values()), text
    # Every partition was consumed again after each change (as seen by samples taken throughout).
    assert report.samples > 100, text
    assert all(not p.unresolved for p in report.pauses), text
