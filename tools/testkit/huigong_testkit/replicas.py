"""Chaos with several instances of a service: the platform with three instances of the registry
and the metrics services (two of intake, one of review), driven by the district simulator as in
the reliability run, while instances come and go: one added, one stopped with SIGTERM, one killed
with SIGKILL, one slowed past max_poll_interval_ms by a batch that sleeps. Then the reliability
run's audit (nothing lost, nothing twice, replay equals live, lag 0, every trigger with its
outcome) and each member change's pause: from the change until every partition of the watched
consumers is consumed again.

Used by the short form in CI (`tests/reliability/test_replicas.py`) and the long form
(`bench/chaos_replicas.py`); the sizes differ, the code and the end conditions do not.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import statistics
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from huigong_ops.registry import discover
from huigong_platform.settings import SERVICES

from .reliability import (
    Deployment,
    Driver,
    Fault,
    Observed,
    Report,
    Service,
    Traffic,
    consumer_lag,
    cpu_contention,
    issue_keys,
    now,
    verdict,
)

# Instance i (1-based) of a service listens on the deployment's port + 10·(i−1), as bin/run does.
PORT_STEP = 10
# Short enough that a test's slow batch can outlast it; the broker's group.min.session.timeout
# bounds nothing here (this is the poll interval, not the session).
MAX_POLL_SECONDS = 8.0
# The consumers whose partitions the pauses are measured on: the registry's enrolment reaction
# (faust), its roster and the metrics' counts (the runner), one chain from enrolment to figure.
WATCHED = ("registry.members", "registry.roster", "metrics.actuals")


@dataclass
class Instance(Service):
    """One instance of a service, as `bin/run` starts the i-th with HUIGONG_REPLICAS."""

    index: int = 1

    @property
    def port(self) -> int:
        return self.deployment.port(self.name) + PORT_STEP * (self.index - 1)

    @property
    def label(self) -> str:
        return f"{self.name} #{self.index}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.deployment.logs / f"replicas-{self.name}-{self.index}.log"

    @property
    def slow_file(self) -> Path:
        return self.deployment.logs / f"replicas-{self.name}-{self.index}.slow"

    def start(self) -> None:
        self.deployment.logs.mkdir(parents=True, exist_ok=True)
        self.slow_file.unlink(missing_ok=True)
        env = {
            **self.deployment.service_env(self.name),
            "HUIGONG_HTTP_PORT": str(self.port),
            "HUIGONG_CONSUMER_MAX_POLL_SECONDS": str(MAX_POLL_SECONDS),
            "HUIGONG_SLOW_BATCH_FILE": str(self.slow_file),
        }
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [str(Path(sys.executable).parent / f"huigong-{self.name}")],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def slow(self, seconds: float, consumer: str) -> None:
        """The next batch of `consumer` in this instance sleeps `seconds` inside its transaction
        (HUIGONG_SLOW_BATCH_FILE)."""
        self.slow_file.write_text(f"{seconds:g} {consumer}")

    def keepalives(self, consumer: str) -> int:
        """Times `consumer`'s runner asked for records with its partitions paused to stay in its
        group (its log lines)."""
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return 0
        return sum(
            1 for line in lines if "stays in its group" in line and f'"consumer": "{consumer}"' in line
        )


class Balanced(httpx.AsyncBaseTransport):
    """The district systems' requests spread round robin over the intake instances that run (a
    front door's job; the test has none of its own): a request to an instance that has just gone
    breaks, and the client's retry, with the same idempotency key, goes to the next."""

    def __init__(self, inner: httpx.AsyncBaseTransport, ports: Callable[[], Sequence[int]]) -> None:
        self.inner = inner
        self.ports = ports
        self._turn = itertools.count()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        ports = self.ports()
        if ports:
            request.url = request.url.copy_with(port=ports[next(self._turn) % len(ports)])
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclass
class Sample:
    at: float
    checkpoints: dict[tuple[str, str, int], int]  # (consumer, topic, partition) → next offset
    ends: dict[tuple[str, int], int]  # (topic, partition) → end offset


@dataclass
class Pause:
    """How long the watched consumers' partitions waited after one member change."""

    change: str
    at: float  # seconds into the run
    seconds: float  # the longest wait of any watched partition: the change until consumed again
    by_consumer: dict[str, float] = field(default_factory=dict)
    unresolved: list[str] = field(default_factory=list)  # partitions still waiting at the window's end


class Watch:
    """Samples the watched consumers' checkpoints (PostgreSQL, what they applied) and their
    topics' end offsets every `every` seconds, to tell how long each partition waited."""

    def __init__(
        self, deployment: Deployment, consumers: Sequence[str] = WATCHED, every: float = 0.25
    ) -> None:
        self.deployment = deployment
        classes = discover()[0]
        self.topics = {c: [t.qualified(deployment.prefix) for t in classes[c].topics] for c in consumers}
        self.partitions = sorted(
            {
                TopicPartition(t.qualified(deployment.prefix), p)
                for c in consumers
                for t in classes[c].topics
                for p in range(t.partitions)
            }
        )
        self.schemas = {c: c.split(".", 1)[0] for c in consumers}
        self.every = every
        self.samples: list[Sample] = []

    async def run(self) -> None:
        kafka = AIOKafkaConsumer(bootstrap_servers=self.deployment.bootstrap, enable_auto_commit=False)
        await kafka.start()
        conn = await asyncpg.connect(self.deployment.admin_dsn)
        try:
            while True:
                started = now()
                with contextlib.suppress(Exception):  # a sample lost is a gap, not a failure
                    ends = await kafka.end_offsets(self.partitions)
                    rows = []
                    for consumer, schema in self.schemas.items():
                        rows += await conn.fetch(
                            f"SELECT consumer, topic, partition, next_offset FROM {schema}.checkpoints "
                            "WHERE consumer = $1",
                            consumer,
                        )
                    self.samples.append(
                        Sample(
                            now(),
                            {(r[0], r[1], r[2]): int(r[3]) for r in rows},
                            {(tp.topic, tp.partition): int(o) for tp, o in ends.items()},
                        )
                    )
                await asyncio.sleep(max(0.0, self.every - (now() - started)))
        finally:
            await conn.close()
            await kafka.stop()

    def pause(
        self, change: str, began: float, before: float, started_at: float, horizon: float = 90.0
    ) -> Pause:
        """Per watched consumer: the longest time one of its partitions had records waiting while
        its checkpoint did not move, for the waits that began after the change at `began` (or
        were under way then, counted from `began`) and before `before` (the next change), each
        until its partition moved again (looked for up to `horizon` seconds after the change):
        the change until every partition is consumed again. Routine waits between two batches
        are well under a second; a member that vanished leaves its partitions waiting until the
        group notices (the session timeout), and an eager rebalance stops every partition of the
        group at once."""
        window = [s for s in self.samples if began - self.every <= s.at <= began + horizon]
        result = Pause(change, began - started_at, 0.0)
        for consumer, topics in self.topics.items():
            longest = 0.0
            for key in sorted({k for s in window for k in s.ends if k[0] in topics}):
                for since, moved in _waits(window, consumer, key):
                    if since >= before:
                        break
                    if moved is None:
                        result.unresolved.append(f"{consumer} {key[0]}[{key[1]}]")
                        moved = window[-1].at
                    longest = max(longest, moved - max(since, began))
            result.by_consumer[consumer] = round(longest, 2)
        result.seconds = max(result.by_consumer.values(), default=0.0)
        return result


def _waits(window: Sequence[Sample], consumer: str, key: tuple[str, int]) -> list[tuple[float, float | None]]:
    """When the partition `key` of `consumer` began to wait (records there, checkpoint still)
    and when its checkpoint moved again (None: not within the window, if it waited more than
    2 s at its end)."""
    waits: list[tuple[float, float | None]] = []
    since: float | None = None
    last: int | None = None
    for s in window:
        done = s.checkpoints.get((consumer, key[0], key[1]), 0)
        if last is not None and done != last and since is not None:
            waits.append((since, s.at))
            since = None
        if since is None and s.ends.get(key, 0) > done:
            since = s.at
        last = done
    if since is not None and window and window[-1].at - since > 2.0:
        waits.append((since, None))
    return waits


async def caught_up(deployment: Deployment, timeout: float) -> None:
    """Until every consumer of every service has applied its topics to the end (or `timeout`:
    the audit then reports the lag): the figures settle before the slowest read model does."""
    started = now()
    while now() - started < timeout:
        if not any((await consumer_lag(deployment)).values()):
            return
        await asyncio.sleep(1.0)


class Instances:
    """The instances of each service on one deployment, and the member changes done to them."""

    def __init__(self, deployment: Deployment, counts: Mapping[str, int]) -> None:
        self.deployment = deployment
        self.counts = dict(counts)
        self.instances: list[Instance] = [
            Instance(name, deployment, index=i)
            for name in SERVICES
            for i in range(1, counts.get(name, 1) + 1)
        ]
        self.faults: list[Fault] = []  # for the audit's 503 windows: none here
        self.started_at = now()

    def running(self, service: str) -> list[Instance]:
        return [
            i for i in self.instances if i.name == service and i.proc is not None and i.proc.poll() is None
        ]

    def intake_ports(self) -> list[int]:
        return [i.port for i in self.running("intake")]

    async def start(self) -> None:
        for instance in self.instances:
            instance.start()
        for instance in self.instances:
            await instance.ready(timeout=300)

    def stop(self) -> None:
        for instance in reversed(self.instances):
            instance.stop()

    async def add(self, service: str) -> Instance:
        instance = Instance(
            service, self.deployment, index=max(i.index for i in self.instances if i.name == service) + 1
        )
        self.instances.append(instance)
        instance.start()
        await instance.ready(timeout=300)
        return instance


@dataclass
class ChaosReport:
    """The reliability audit of the run, and the pauses of its member changes."""

    audit: Report
    instances: dict[str, int]
    pauses: list[Pause]
    slow: dict[str, Any]
    samples: int  # of the watched checkpoints and end offsets, every 0.25 s

    @property
    def rebalance_pauses(self) -> list[float]:
        return [p.seconds for p in self.pauses]

    def render(self) -> str:
        lines = [
            self.audit.render(),
            "",
            "instances at the start: " + ", ".join(f"{k} ×{v}" for k, v in self.instances.items()),
        ]
        lines.append("")
        lines.append(f"  {'member change':<52}{'at s':>7}{'pause s':>9}   " + "  ".join(WATCHED))
        for p in self.pauses:
            lines.append(
                f"  {p.change:<52}{p.at:>7.1f}{p.seconds:>9.2f}   "
                + "  ".join(f"{p.by_consumer.get(c, 0.0):>{len(c)}.2f}" for c in WATCHED)
                + (f"   still waiting: {', '.join(p.unresolved)}" if p.unresolved else "")
            )
        pauses = self.rebalance_pauses
        if pauses:
            lines.append(
                f"rebalance pause (a member change until every watched partition is consumed again): "
                f"median {statistics.median(pauses):.2f} s, max {max(pauses):.2f} s over {len(pauses)} changes "
                f"({self.samples} samples)"
            )
        s = self.slow
        if s:
            lines.append(
                f"slow batch: {s['instance']} slept {s['seconds']:g} s in a batch of {s['consumer']} "
                f"(max_poll_interval {MAX_POLL_SECONDS:g} s; hook taken: {s['taken']}); meanwhile its "
                f"consumer asked for records with its partitions paused {s['keepalives']} times; the "
                f"roster's longest partition wait {s['roster_wait']:.1f} s"
            )
        return "\n".join(lines)


async def chaos(
    deployment: Deployment,
    traffic: Traffic,
    counts: Mapping[str, int],
    *,
    contention: int = 0,
    slow_seconds: float = 2.5 * MAX_POLL_SECONDS,
    settle_timeout: float = 300.0,
) -> ChaosReport:
    """Ingest `traffic` on `counts` instances per service; during it add a registry and a
    metrics instance, stop one of each with SIGTERM, kill one of each and one intake with
    SIGKILL, and slow a registry instance's roster batch past max_poll_interval; then audit."""
    keys = await issue_keys(deployment, [f"simulator:{s}" for s in traffic.submitters])
    platform = Instances(deployment, counts)
    watch = Watch(deployment)
    try:
        await platform.start()
        platform.started_at = now()
        watching = asyncio.create_task(watch.run())
        with cpu_contention(contention) as load:
            driver = Driver(
                deployment,
                traffic,
                keys,
                transport=lambda ledger: Balanced(Observed(ledger), platform.intake_ports),
            )
            ingest = asyncio.create_task(driver.run())
            changes: list[tuple[str, float]] = []
            shares = 6

            async def at_share(number: int) -> None:
                """Until the number-th share of the rows has been sent; the driver may send
                the next share meanwhile, never more, so every change meets an ingest in flight
                however long the one before took (an instance's start on a busy machine)."""
                driver.allowance = traffic.enrolments * (number + 1) // shares
                while driver.ledger.enrolment_rows_sent < traffic.enrolments * number // shares:
                    if ingest.done():
                        ingest.result()
                        return
                    await asyncio.sleep(0.2)

            await at_share(1)
            began = now()
            await asyncio.gather(platform.add("registry"), platform.add("metrics"))
            changes.append(("instance added: registry, metrics", began))
            await at_share(2)
            began = now()
            victims = [platform.running("registry")[0], platform.running("metrics")[0]]
            await asyncio.gather(*(asyncio.to_thread(v.stop) for v in victims))
            changes.append(("SIGTERM: " + ", ".join(v.label for v in victims), began))
            await at_share(3)
            began = now()
            victims = [
                platform.running("registry")[0],
                platform.running("metrics")[0],
                platform.running("intake")[0],
            ]
            for v in victims:
                v.kill()
            changes.append(("SIGKILL: " + ", ".join(v.label for v in victims), began))
            await at_share(4)
            sluggish = platform.running("registry")[-1]
            before = sluggish.keepalives("registry.roster")
            sluggish.slow(slow_seconds, "registry.roster")
            slowed = now()
            # Taken by the instance's next roster batch, which the ingest in flight brings.
            while sluggish.slow_file.exists() and now() - slowed < 120:
                await asyncio.sleep(0.2)
            await asyncio.sleep(slow_seconds + 3)
            driver.allowance = float("inf")
            await ingest
        await caught_up(deployment, timeout=settle_timeout)
        audit = await verdict(deployment, platform, driver, [], traffic)
        audit.contention = load
        watching.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watching
        # A change owns the waits that began before the next (the slow batch is no member change).
        nexts = [b for _, b in changes[1:]] + [slowed]
        pauses = [
            watch.pause(name, began, following, platform.started_at)
            for (name, began), following in zip(changes, nexts, strict=True)
        ]
        stalled = watch.pause("slow batch", slowed, slowed + slow_seconds, platform.started_at)
        slow = {
            "instance": sluggish.label,
            "consumer": "registry.roster",
            "seconds": slow_seconds,
            "taken": not sluggish.slow_file.exists(),
            "keepalives": sluggish.keepalives("registry.roster") - before,
            "alive": sluggish.proc is not None and sluggish.proc.poll() is None,
            "roster_wait": stalled.by_consumer.get("registry.roster", 0.0),
        }
        return ChaosReport(audit, dict(counts), pauses, slow, len(watch.samples))
    finally:
        await asyncio.to_thread(platform.stop)
