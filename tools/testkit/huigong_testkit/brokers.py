"""Losing a broker of a replicated cluster mid-ingest: a local three-node KRaft cluster
(`bin/stack --brokers 3`), the partition leader's broker killed outright and brought back while
the district simulator keeps sending, the under-replicated partitions sampled throughout, and
then the reliability audit (nothing lost, nothing twice, replay equals live, lag 0).

Used by the short form in CI (`tests/reliability/test_broker_loss.py`, one kill) and the long
form (`bench/chaos_brokers.py`, repeated kills); the code and the end conditions are the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from huigong_events.topics import EVENT_TOPICS

from .reliability import (
    REPO,
    Deployment,
    Driver,
    Platform,
    Report,
    Traffic,
    consumer_lag,
    cpu_contention,
    issue_keys,
    now,
    running,
    verdict,
)

HOST = "127.0.0.1"
# The event topic whose leaders are killed: the busiest one, every accepted row is a record on it.
ENROLMENTS = next(t for t in EVENT_TOPICS if t.name == "huigong.intake.enrolments")


@dataclass(frozen=True)
class Cluster:
    """A Kafka cluster `bin/stack` runs from `local_dir`: node 1 on `port` (controller `port`+1),
    node n on `port` + 2(n-1) and the port after it."""

    local_dir: Path
    port: int
    libs: Path
    brokers: int = 3

    def node_port(self, node: int) -> int:
        return self.port + 2 * (node - 1)

    @property
    def bootstrap(self) -> str:
        return ",".join(f"{HOST}:{self.node_port(n)}" for n in range(1, self.brokers + 1))

    @property
    def env(self) -> dict[str, str]:
        """What `bin/stack` needs to act on this cluster and nothing else (the stack of the
        caller's own HUIGONG_LOCAL_DIR, ports and security stay out of it)."""
        keep = {k: v for k, v in os.environ.items() if not k.startswith("HUIGONG_")}
        return keep | {
            "HUIGONG_LOCAL_DIR": str(self.local_dir),
            "HUIGONG_KAFKA_LIBS": str(self.libs),
            "HUIGONG_KAFKA_BROKERS": str(self.brokers),
            "HUIGONG_KAFKA_PORT": str(self.port),
            "HUIGONG_KAFKA_CONTROLLER_PORT": str(self.port + 1),
            "HUIGONG_KAFKA_CLUSTER_PORT_BASE": str(self.port + 2),
            "HUIGONG_KAFKA_SECURITY": "none",
        }

    async def stack(self, *args: str) -> str:
        proc = await asyncio.create_subprocess_exec(
            str(REPO / "bin/stack"),
            *args,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        out, _ = await proc.communicate()
        text = out.decode(errors="replace")
        if proc.returncode != 0:
            raise RuntimeError(f"bin/stack {' '.join(args)} failed ({proc.returncode}):\n{text}")
        return text

    async def start(self) -> None:
        """Every node that is not running (all of them at first, the lost one later)."""
        await self.stack("start", "kafka")

    async def kill(self, node: int) -> None:
        await self.stack("kill", f"kafka-{node}")

    async def reset(self) -> None:
        """Stop every node and delete the cluster's data."""
        await self.stack("reset")


@contextlib.asynccontextmanager
async def local_cluster(local_dir: Path, port: int, libs: Path) -> AsyncIterator[Cluster]:
    """A fresh three-node cluster for the length of the block, deleted afterwards."""
    cluster = Cluster(local_dir, port, libs)
    await cluster.reset()  # whatever an interrupted run left behind
    try:
        await cluster.start()
        yield cluster
    finally:
        await cluster.reset()


# ------------------------------------------------------------------------------------------------
# What the cluster says about its partitions


@dataclass(frozen=True)
class Replication:
    """One look at every topic of a deployment's prefix."""

    at: float  # seconds into the run
    partitions: int
    under_replicated: int  # in-sync replicas fewer than the replicas
    offline: int  # no leader
    brokers: int  # brokers the answering broker knows to be alive
    replicas: frozenset[int] = frozenset()  # the replication factors seen (3, once created)


async def admin(bootstrap: str) -> AIOKafkaAdminClient:
    client = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    await client.start()
    return client


async def look(client: AIOKafkaAdminClient, prefix: str, at: float) -> Replication:
    # Metadata of every topic of ours; the broker that answers knows each partition's leader, its
    # replicas and which of them are in sync (the controller drops a lost broker from the ISR once
    # its session times out).
    cluster = await client.describe_cluster()
    names = [t for t in await client.list_topics() if t.startswith(prefix)]
    topics = await client.describe_topics(names)
    partitions = [p for t in topics for p in t["partitions"]]
    return Replication(
        at=at,
        partitions=len(partitions),
        under_replicated=sum(1 for p in partitions if len(p["isr"]) < len(p["replicas"])),
        offline=sum(1 for p in partitions if p["leader"] < 0),
        brokers=len(cluster["brokers"]),
        replicas=frozenset(len(p["replicas"]) for p in partitions),
    )


LEADER = "leader"
COORDINATOR = "coordinator of "


def coordinator_of_group(projection: str) -> str:
    """A `broker_loss` target: the broker coordinating `projection`'s consumer group."""
    return COORDINATOR + projection


async def coordinator_of(client: AIOKafkaAdminClient, group: str) -> int:
    """The broker coordinating a consumer group (the leader of its __consumer_offsets partition)."""
    return int(await client.find_coordinator(group))


async def leader_of(client: AIOKafkaAdminClient, topic: str, partition: int = 0) -> int:
    (described,) = await client.describe_topics([topic])
    leader = next(p["leader"] for p in described["partitions"] if p["partition"] == partition)
    return int(leader)


async def topic_settings(client: AIOKafkaAdminClient, topic: str) -> dict[str, str]:
    """The topic's replication factor and its min.insync.replicas, as the broker holds them."""
    (described,) = await client.describe_topics([topic])
    replication = {len(p["replicas"]) for p in described["partitions"]}
    (response,) = await client.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    configs = {entry[0]: entry[1] for resource in response.resources for entry in resource[4]}
    return {
        "replication.factor": ",".join(str(r) for r in sorted(replication)),
        "min.insync.replicas": str(configs.get("min.insync.replicas")),
    }


class Watch:
    """Samples the replication of every topic of the deployment every `every` seconds."""

    def __init__(self, deployment: Deployment, started_at: float, every: float = 1.0) -> None:
        self.deployment = deployment
        self.started_at = started_at
        self.every = every
        self.samples: list[Replication] = []
        self.errors = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        client: AIOKafkaAdminClient | None = None
        while True:
            try:
                if client is None:
                    client = await admin(self.deployment.bootstrap)
                self.samples.append(await look(client, self.deployment.prefix, now() - self.started_at))
            except asyncio.CancelledError:
                raise
            except Exception:
                # The broker this client spoke to may be the one just killed: a new client asks
                # another.
                self.errors += 1
                if client is not None:
                    with contextlib.suppress(Exception):
                        await client.close()
                client = None
            await asyncio.sleep(self.every)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def in_sync(self, since: float, timeout: float) -> float:
        """Seconds from `since` (seconds into the run) until the first sample taken after it that
        shows every partition led and all its replicas in sync again."""
        began = now()
        while now() - began < timeout:
            for s in self.samples:
                if s.at >= since and s.under_replicated == 0 and s.offline == 0:
                    return s.at - since
            await asyncio.sleep(self.every / 2)
        raise AssertionError(f"partitions still under-replicated {timeout:.0f} s after the broker came back")


# ------------------------------------------------------------------------------------------------
# The run


@dataclass
class Loss:
    node: int  # the broker killed
    role: str  # why that one: what it led or coordinated then
    at: float  # seconds into the run
    leader_after: int  # the partition's leader once the lost broker was back
    in_sync: float = 0.0  # seconds from the restarted broker answering until none was under-replicated


@dataclass
class BrokerLossReport:
    report: Report
    losses: list[Loss]
    samples: list[Replication]
    watch_errors: int
    settings: dict[str, str] = field(default_factory=dict)  # the enrolments topic, as created
    drained: float = 0.0  # seconds after the ingest until every consumer was at its topics' ends

    @property
    def max_under_replicated(self) -> int:
        return max((s.under_replicated for s in self.samples), default=0)

    @property
    def max_offline(self) -> int:
        return max((s.offline for s in self.samples), default=0)

    def timeline(self) -> list[str]:
        """The samples where the picture changed: under-replicated and offline partitions over
        time, and how many brokers the cluster counted."""
        lines = [f"  {'at s':>7}{'brokers':>9}{'partitions':>12}{'under-replicated':>18}{'offline':>9}"]
        last: tuple[int, int, int] | None = None
        for s in self.samples:
            key = (s.brokers, s.under_replicated, s.offline)
            if key != last:
                lines.append(
                    f"  {s.at:>7.1f}{s.brokers:>9}{s.partitions:>12}{s.under_replicated:>18}{s.offline:>9}"
                )
                last = key
        return lines

    def render(self) -> str:
        lines = [self.report.render(), "", "broker loss"]
        lines.append(
            "enrolments topic as created: " + ", ".join(f"{k} {v}" for k, v in self.settings.items())
        )
        for loss in self.losses:
            lines.append(
                f"  SIGKILL kafka-{loss.node} ({loss.role}) at {loss.at:.1f} s; leader of "
                f"{ENROLMENTS.name}[0] afterwards kafka-{loss.leader_after}; every partition in sync {loss.in_sync:.1f} s "
                "after it answered again"
            )
        lines.append(f"every consumer at the end of its topics {self.drained:.1f} s after the ingest ended")
        lines.append(
            f"under-replicated partitions over time ({len(self.samples)} samples, every ~1 s; "
            f"{self.watch_errors} failed looks; max {self.max_under_replicated} under-replicated, "
            f"max {self.max_offline} offline):"
        )
        lines.extend(self.timeline())
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "report": {k: v for k, v in asdict(self.report).items() if k != "people"},
            "losses": [asdict(loss) for loss in self.losses],
            "samples": [asdict(s) | {"replicas": sorted(s.replicas)} for s in self.samples],
            "watch_errors": self.watch_errors,
            "settings": self.settings,
            "drained": self.drained,
        }


async def broker_loss(
    deployment: Deployment,
    cluster: Cluster,
    traffic: Traffic,
    *,
    kills: int = 1,
    down: float = 5.0,
    contention: int = 0,
    targets: Sequence[str] = (LEADER,),
    announce: Callable[[str], None] | None = None,
) -> BrokerLossReport:
    """Ingest `traffic` and, spread over it, `kills` times: SIGKILL a broker, wait `down` seconds,
    start it again (`bin/stack start kafka`) and wait until every partition is back in sync; then
    the reliability audit. Which broker, kill after kill in turn from `targets`: `LEADER`, the one
    leading partition 0 of the enrolments topic, or `coordinator_of_group(projection)`, the one
    coordinating that projection's consumer group (its members lose their group's coordinator as
    well as partition leaders)."""
    keys = await issue_keys(deployment, [f"simulator:{s}" for s in traffic.submitters])
    topic = ENROLMENTS.qualified(deployment.prefix)
    client = await admin(deployment.bootstrap)
    try:
        settings = await topic_settings(client, topic)
    finally:
        await client.close()
    async with running(deployment) as platform:
        watch = Watch(deployment, platform.started_at)
        watch.start()
        try:
            with cpu_contention(contention):
                report, losses, drained = await _kills(
                    deployment, platform, cluster, watch, traffic, keys, kills, down, targets, announce
                )
        finally:
            await watch.stop()
    return BrokerLossReport(report, losses, watch.samples, watch.errors, settings, drained)


async def _kills(
    deployment: Deployment,
    platform: Platform,
    cluster: Cluster,
    watch: Watch,
    traffic: Traffic,
    keys: Mapping[str, str],
    kills: int,
    down: float,
    targets: Sequence[str],
    announce: Callable[[str], None] | None,
) -> tuple[Report, list[Loss], float]:
    driver = Driver(deployment, traffic, keys)
    ingest = asyncio.create_task(driver.run())
    topic = ENROLMENTS.qualified(deployment.prefix)
    losses: list[Loss] = []
    shares = kills + 1
    for number in range(1, kills + 1):
        # Each loss when its share of the rows has been sent, the next share flowing while it
        # lasts: every loss falls inside the ingest.
        threshold = traffic.enrolments * number // shares
        driver.allowance = traffic.enrolments * (number + 1) // shares
        while driver.ledger.enrolment_rows_sent < threshold and not ingest.done():
            await asyncio.sleep(0.2)
        if ingest.done():
            ingest.result()  # a driver that failed says why here
        client = await admin(deployment.bootstrap)
        try:
            target = targets[(number - 1) % len(targets)]
            if target == LEADER:
                node, role = await leader_of(client, topic), "partition leader"
            else:
                projection = target.removeprefix(COORDINATOR)
                group = f"{deployment.prefix}huigong.{projection}"
                node, role = await coordinator_of(client, group), f"coordinator of {projection}"
        finally:
            await client.close()
        loss = Loss(node=node, role=role, at=now() - platform.started_at, leader_after=-1)

        async def outage(node: int = node) -> None:
            await cluster.kill(node)

        restarted: list[float] = []

        async def restore(restarted: list[float] = restarted) -> None:
            await cluster.start()
            restarted.append(now() - platform.started_at)

        await platform.inject(f"SIGKILL kafka-{node} ({role})", driver, outage, restore, down)
        loss.in_sync = await watch.in_sync(restarted[0], timeout=300)
        client = await admin(deployment.bootstrap)
        try:
            loss.leader_after = await leader_of(client, topic)
        finally:
            await client.close()
        losses.append(loss)
        if announce is not None:
            announce(
                f"loss {number}/{kills}: kafka-{node} at {loss.at:.1f} s, in sync again after {loss.in_sync:.1f} s"
            )
    driver.allowance = float("inf")
    await ingest
    drained = await drain(deployment)
    report = await verdict(deployment, platform, driver, [], traffic)
    return report, losses, drained


async def drain(deployment: Deployment, timeout: float = 300) -> float:
    """Seconds until every consumer's checkpoint is at the end of its topics. A consumer falls
    behind during a loss (its fetches from the lost leader fail until the partitions move, its
    group rebalances when the coordinator was there) and works off what piled up from its stored
    checkpoint afterwards; the audit's lag of 0 is asked of it once it had the time, and how long
    that took is reported. One that never gets there fails the run."""
    began = now()
    lag: dict[str, int] = {}
    while now() - began < timeout:
        lag = await consumer_lag(deployment)
        if not any(lag.values()):
            return now() - began
        await asyncio.sleep(2)
    behind = {k: v for k, v in lag.items() if v}
    raise AssertionError(f"consumers still behind {timeout:.0f} s after the ingest: {behind}")
