"""The whole platform under faults: real service processes, the district simulator's traffic,
and the faults (SIGKILL, broker and database outages, poison records), with a ledger of what
was sent and answered and an audit of what every projection holds at the end.

Used by the short form in CI (`tests/reliability/test_faults.py`) and the long form with the soak
(`bench/bench_reliability.py`); the sizes differ, the code and the end conditions do not.

What counts as "accepted": an enrolment row the intake answered 2xx for (its enrolment id is in
the answer), and a row of a command sent to a district's inbound Kafka topic that the broker
acknowledged (the simulator sends only valid rows, so intake must take every one). The ledger is
the client's own record, kept apart from anything the platform says afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import asyncpg
import httpx
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from huigong_events.topics import DEAD_LETTER_TOPICS, EVENT_TOPICS, inbound_topic
from huigong_ops import keys
from huigong_ops import reconcile as reconcile_mod
from huigong_ops.registry import discover
from huigong_ops.scan import partition_ranges
from huigong_platform import database
from huigong_platform.settings import SERVICES
from huigong_simulator.commands import Command, CommandName, application_chains, enrolment_commands
from huigong_simulator.run import default_year
from huigong_simulator.transports import HttpTransport, KafkaTransport, kafka_producer

REPO = Path(__file__).resolve().parents[3]  # tools/testkit/huigong_testkit/reliability.py
INSURED_COLUMN = "是否参加互助保障"
# Schemas by service (each service's role owns the schema of its name).
SCHEMAS: Mapping[str, str] = {s: s for s in SERVICES}


def now() -> float:
    return time.monotonic()


# ------------------------------------------------------------------------------------------------
# Where the platform runs


@dataclass(frozen=True)
class Deployment:
    """One database and topic prefix on a running stack (`bin/stack`), and where the service
    processes listen and log. `stack_env` is what `bin/stack` needs to stop and start *this*
    stack's broker and database (its HUIGONG_LOCAL_DIR and ports)."""

    env: Mapping[str, str]  # HUIGONG_* settings: stack.env, secrets.env, the environment
    database: str
    prefix: str
    base_port: int
    logs: Path

    @property
    def bootstrap(self) -> str:
        return self.env["HUIGONG_KAFKA_BOOTSTRAP"]

    @property
    def admin_dsn(self) -> str:
        return database.with_credentials_keep(self.env["HUIGONG_PG_ADMIN_DSN"], self.database)

    def dsn(self, service: str) -> str:
        password = self.env[f"HUIGONG_{service.upper()}_DB_PASSWORD"]
        return database.with_credentials(self.admin_dsn, database.role_name(service), password)

    def port(self, service: str) -> int:
        return self.base_port + SERVICES.index(service)

    def service_env(self, service: str) -> dict[str, str]:
        return {
            **os.environ,
            **{k: v for k, v in self.env.items() if k.startswith("HUIGONG_")},
            "HUIGONG_SERVICE": service,
            "HUIGONG_DATABASE_URL": self.dsn(service),
            "HUIGONG_TOPIC_PREFIX": self.prefix,
            "HUIGONG_HTTP_PORT": str(self.port(service)),
            # The district systems are the load here, not a misbehaving client: the limiter runs
            # but never refuses (its own tests are in test_authorization.py).
            "HUIGONG_RATE_LIMIT_BURST": "1000000000",
            "HUIGONG_RATE_LIMIT_PER_SECOND": "1000000000",
        }


async def stack(action: str, component: str) -> None:
    """`bin/stack <action> <component>` of the stack this process was started against."""
    proc = await asyncio.create_subprocess_exec(
        str(REPO / "bin/stack"), action, component, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"bin/stack {action} {component} failed:\n{out.decode(errors='replace')}")


# ------------------------------------------------------------------------------------------------
# Service processes


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # The command name may hold spaces and parentheses: ppid is after the last ')'.
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


@dataclass
class Service:
    """A service process as `bin/run` starts it (the relay is its child process)."""

    name: str
    deployment: Deployment
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.deployment.port(self.name)}"

    @property
    def log_path(self) -> Path:
        return self.deployment.logs / f"reliability-{self.name}.log"

    def start(self) -> None:
        self.deployment.logs.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [str(Path(sys.executable).parent / f"huigong-{self.name}")],
                env=self.deployment.service_env(self.name),
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO,
            )

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, the consumers leave no goodbye, the relay child is
        orphaned (and must notice and exit on its own)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self, timeout: float = 20) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    async def ready(self, timeout: float = 120) -> float:
        """Seconds until `/readyz` answers 200; AssertionError with the log tail otherwise."""
        started = now()
        last: object = None
        async with httpx.AsyncClient(timeout=5) as client:
            while now() - started < timeout:
                if self.proc is not None and self.proc.poll() is not None:
                    raise AssertionError(
                        f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}"
                    )
                try:
                    response = await client.get(f"{self.url}/readyz")
                    if response.status_code == 200:
                        return now() - started
                    last = response.text[:300]
                except httpx.HTTPError as exc:
                    last = exc
                await asyncio.sleep(0.25)
        raise AssertionError(f"{self.name} not ready in {timeout:.0f} s; last: {last}\n{self.log_tail()}")

    def rss(self) -> tuple[int, int]:
        """Resident memory in KiB of the service process and of its children (the relay)."""
        if self.proc is None or self.proc.poll() is not None:
            return (0, 0)
        return _rss_kib(self.proc.pid), sum(_rss_kib(c) for c in _children(self.proc.pid))


# ------------------------------------------------------------------------------------------------
# The client's ledger


@dataclass
class Ledger:
    """What the district systems sent and what they were told, kept by the client."""

    enrolment_rows_sent: int = 0  # rows of every enrolment command, however it ended
    enrolment_ids: set[str] = field(default_factory=set)  # from 2xx answers
    insured_http: int = 0  # rows with 是否参加互助保障 = 是 among those answered 2xx
    kafka_commands: list[str] = field(default_factory=list)  # command ids the broker acknowledged
    kafka_rows: int = 0
    insured_kafka: int = 0
    applications: set[str] = field(default_factory=set)  # submissions answered 2xx
    application_commands: int = 0
    statuses: Counter[int] = field(default_factory=Counter)  # every HTTP answer, retries included
    transport_errors: Counter[str] = field(default_factory=Counter)
    unavailable: list[float] = field(default_factory=list)  # when each 503 came
    unavailable_without_retry_after: int = 0
    refusals: list[str] = field(default_factory=list)  # a final 4xx/5xx answer to an enrolment
    kafka_retries: int = 0
    ok_times: list[float] = field(default_factory=list)  # when each 2xx came

    @property
    def accepted(self) -> int:
        return len(self.enrolment_ids) + self.kafka_rows

    @property
    def insured(self) -> int:
        return self.insured_http + self.insured_kafka


class Observed(httpx.AsyncBaseTransport):
    """An httpx transport that notes every answer and broken connection in the ledger (the
    simulator's client retries under it, so retries are seen too)."""

    def __init__(self, ledger: Ledger) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.ledger = ledger

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = await self.inner.handle_async_request(request)
        except httpx.TransportError as exc:
            self.ledger.transport_errors[type(exc).__name__] += 1
            raise
        self.ledger.statuses[response.status_code] += 1
        if response.status_code == 503:
            self.ledger.unavailable.append(now())
            if "retry-after" not in response.headers:
                self.ledger.unavailable_without_retry_after += 1
        elif response.is_success:
            self.ledger.ok_times.append(now())
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def _insured(command: Command) -> int:
    return sum(1 for row in command.body["rows"] if row.get(INSURED_COLUMN) == "是")


# ------------------------------------------------------------------------------------------------
# Traffic


@dataclass(frozen=True)
class Traffic:
    enrolments: int
    batch: int = 500
    rate: float = 1000.0  # enrolment rows per second, paced
    kafka_every: int = 10  # every n-th enrolment command goes over the district's inbound topic
    applications: int = 20
    submitters: tuple[str, ...] = ("370202", "370203", "370211", "370212")
    concurrency: int = 4
    seed: int = 20221


async def issue_keys(deployment: Deployment, principals: Sequence[str]) -> dict[str, str]:
    conn = await asyncpg.connect(deployment.admin_dsn)
    try:
        return {
            p: (await keys.issue(conn, p, actor="reliability", label="reliability")).key for p in principals
        }
    finally:
        await conn.close()


class Driver:
    """The district systems: enrolment sheets over HTTP and over their inbound topics, paced,
    with applications in between. Every command is retried until answered (the idempotency key
    and the command id make that safe), as a district system must."""

    def __init__(
        self,
        deployment: Deployment,
        traffic: Traffic,
        keys: Mapping[str, str],
        people: set[str] | None = None,
        transport: Callable[[Ledger], httpx.AsyncBaseTransport] | None = None,
    ) -> None:
        self.deployment = deployment
        # What carries the HTTP requests: by default straight to the one intake, noted in the
        # ledger; the runs with several instances spread them over the live ones.
        self._transport = transport if transport is not None else Observed
        self.traffic = traffic
        self.keys = keys
        # ID numbers already used: a later driver on the same platform (the soak) enrols new
        # people only, or the roster would rightly count a repeat as MemberReportedAgain.
        self.people = people if people is not None else set()
        self.ledger = Ledger()
        self.done = asyncio.Event()
        # Rows the driver may send so far: a fault scenario raises it step by step, so that each
        # fault meets an ingest in flight however long the previous recovery took.
        self.allowance = float("inf")
        self.started_at = 0.0
        self.finished_at = 0.0

    async def run(self) -> None:
        t = self.traffic
        rng = random.Random(t.seed)
        http = HttpTransport(
            f"http://127.0.0.1:{self.deployment.port('intake')}",
            timeout=60,
            attempts=100_000,  # bounded by the deadline below, not by a count
            transport=self._transport(self.ledger),
            keys=self.keys,
        )
        producer = kafka_producer(self.deployment.bootstrap)
        await producer.start()
        kafka = KafkaTransport(producer, self.deployment.prefix)
        chains = application_chains(t.applications, default_year(), list(t.submitters), rng)
        commands = enrolment_commands(
            t.enrolments, list(t.submitters), rng, batch=t.batch, seen_ids=self.people
        )
        every = max(1, (t.enrolments // t.batch) // max(1, t.applications))
        queue: asyncio.Queue[Sequence[Command] | None] = asyncio.Queue(maxsize=t.concurrency)
        self.started_at = now()
        try:
            workers = [asyncio.create_task(self._worker(queue, http, kafka)) for _ in range(t.concurrency)]
            sent_rows = 0
            due = now()
            for number, command in enumerate(commands):
                while sent_rows + command.rows > self.allowance:
                    await asyncio.sleep(0.1)
                # Paced by rows: a command of n rows leaves n / rate seconds after the last one.
                due = max(due + command.rows / t.rate, now())
                await asyncio.sleep(max(0.0, due - now()))
                sent_rows += command.rows
                await queue.put([command])
                if number % every == 0 and chains:
                    await queue.put(chains.pop())
            for chain in chains:
                await queue.put(chain)
            for _ in workers:
                await queue.put(None)
            await asyncio.gather(*workers)
        finally:
            self.finished_at = now()
            self.done.set()
            await http.aclose()
            await producer.stop()

    async def _worker(
        self, queue: asyncio.Queue[Sequence[Command] | None], http: HttpTransport, kafka: KafkaTransport
    ) -> None:
        while (chain := await queue.get()) is not None:
            for command in chain:
                await asyncio.wait_for(self._send(command, http, kafka), 900)

    async def _send(self, command: Command, http: HttpTransport, kafka: KafkaTransport) -> None:
        ledger = self.ledger
        if command.name is CommandName.ENROL:
            ledger.enrolment_rows_sent += command.rows
            if int(command.command_id[-4:], 16) % self.traffic.kafka_every == 0:
                while not (await kafka.send(command)).ok:
                    ledger.kafka_retries += 1  # the broker is away: the district system retries
                    await asyncio.sleep(1)
                ledger.kafka_commands.append(command.command_id)
                ledger.kafka_rows += command.rows
                ledger.insured_kafka += _insured(command)
                return
            reply = await http.send(command)
            if reply.ok:
                ledger.enrolment_ids.update(a["enrolment_id"] for a in reply.body["accepted"])
                ledger.insured_http += _insured(command)
                if reply.body["rejected"]:
                    ledger.refusals.append(f"rows refused: {str(reply.body['rejected'])[:300]}")
            else:
                ledger.refusals.append(f"HTTP {reply.status}: {str(reply.body)[:300]}")
            return
        ledger.application_commands += 1
        reply = await http.send(command)
        if command.name is CommandName.SUBMIT_APPLICATION:
            if reply.ok:
                ledger.applications.add(command.body["application_id"])
            else:
                ledger.refusals.append(f"application HTTP {reply.status}: {str(reply.body)[:300]}")
        # An amendment or withdrawal may meet a screening that already started (409): that is
        # the rule, not a fault, and the submission stands either way.


# ------------------------------------------------------------------------------------------------
# Looking at the platform


@dataclass
class Counts:
    intake_enrolments: int = 0  # EnrolmentRequested in intake's event store
    intake_enrolments_distinct: int = 0
    registry_members: int = 0  # the roster (members_view)
    registry_enrolled_events: int = 0  # MemberEnrolled in registry's event store
    metrics_members: int = 0  # members_enrolled counted
    metrics_insured: int = 0  # mutual_aid counted
    intake_applications: int = 0  # applications_view
    review_applications: int = 0  # application_inputs
    kafka_enrolments: int = 0  # records on the enrolments topic
    kafka_enrolments_distinct: int = 0  # distinct event ids among them


async def member_counts(conn: asyncpg.Connection[asyncpg.Record]) -> tuple[int, int]:
    """(the roster, the members counted by metrics): what a registrar and the dashboard see."""
    roster = await conn.fetchval("SELECT count(*) FROM registry.members_view")
    counted = await conn.fetchval(
        "SELECT coalesce(sum(amount), 0) FROM metrics.actuals WHERE counter = 'members_enrolled'"
    )
    return int(roster), int(counted)


async def count(deployment: Deployment, with_kafka: bool = True) -> Counts:
    c = Counts()
    conn = await asyncpg.connect(deployment.admin_dsn)
    try:
        row = await conn.fetchrow(
            "SELECT count(*), count(DISTINCT aggregate_id) FROM intake.events WHERE type = 'EnrolmentRequested'"
        )
        assert row is not None
        c.intake_enrolments, c.intake_enrolments_distinct = int(row[0]), int(row[1])
        c.registry_members, c.metrics_members = await member_counts(conn)
        c.registry_enrolled_events = int(
            await conn.fetchval("SELECT count(*) FROM registry.events WHERE type = 'MemberEnrolled'")
        )
        c.metrics_insured = int(
            await conn.fetchval(
                "SELECT coalesce(sum(amount), 0) FROM metrics.actuals WHERE counter = 'mutual_aid'"
            )
        )
        c.intake_applications = int(await conn.fetchval("SELECT count(*) FROM intake.applications_view"))
        c.review_applications = int(
            await conn.fetchval("SELECT count(DISTINCT application_id) FROM review.application_inputs")
        )
    finally:
        await conn.close()
    if with_kafka:
        topic = next(t for t in EVENT_TOPICS if t.name == "huigong.intake.enrolments")
        records = await read_topic(deployment, topic.qualified(deployment.prefix))
        # The poison records this harness put there are not enrolments.
        ids = [dict(r.headers).get("ce_id") for r in records if not (r.key or b"").startswith(b"poison-")]
        c.kafka_enrolments, c.kafka_enrolments_distinct = len(ids), len(set(ids))
    return c


async def read_topic(deployment: Deployment, topic: str) -> list[Any]:
    """Every record of `topic`, from its first offset to the end as it is now."""
    consumer = AIOKafkaConsumer(bootstrap_servers=deployment.bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        ranges = (await partition_ranges(consumer, [topic]))[0].get(topic, [])
        pending = {TopicPartition(r.topic, r.partition): r.end for r in ranges if r.records}
        consumer.assign(list(pending))
        for tp in pending:
            consumer.seek(tp, next(r.begin for r in ranges if r.partition == tp.partition))
        records: list[Any] = []
        while pending:
            batch = await consumer.getmany(*pending, timeout_ms=1000, max_records=10_000)
            for tp, items in batch.items():
                records.extend(r for r in items if r.offset < pending[tp])
                if items and items[-1].offset >= pending[tp] - 1:
                    del pending[tp]
        return records
    finally:
        await consumer.stop()


async def consumer_lag(deployment: Deployment) -> dict[str, int]:
    """Records between each consumer's checkpoint and its topics' ends (from the checkpoints the
    consumers keep in PostgreSQL, the truth of what they applied)."""
    conn = await asyncpg.connect(deployment.admin_dsn)
    try:
        rows = []
        for schema in SCHEMAS.values():
            rows += await conn.fetch(
                f"SELECT consumer, topic, partition, next_offset FROM {schema}.checkpoints"
            )
    finally:
        await conn.close()
    consumers = discover()[0]
    names = sorted({t.qualified(deployment.prefix) for cls in consumers.values() for t in cls.topics})
    consumer = AIOKafkaConsumer(bootstrap_servers=deployment.bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        ranges = (await partition_ranges(consumer, names))[0]
    finally:
        await consumer.stop()
    done = {(r["consumer"], r["topic"], r["partition"]): int(r["next_offset"]) for r in rows}
    return {
        name: sum(
            max(0, r.end - done.get((name, r.topic, r.partition), r.begin))
            for t in cls.topics
            for r in ranges.get(t.qualified(deployment.prefix), [])
        )
        for name, cls in sorted(consumers.items())
    }


# ------------------------------------------------------------------------------------------------
# Poison


@dataclass(frozen=True)
class Poison:
    topic: str
    partition: int
    offset: int
    kind: str


async def inject_poison(deployment: Deployment, submitters: Sequence[str]) -> list[Poison]:
    """Into every event topic: a record that is not JSON, and one of an event type nobody knows
    (well-formed CloudEvents headers). Into each submitter's inbound topic: a record that is not
    JSON and a command nobody knows. Each under a key of its own, so no real aggregate is parked
    behind it."""
    producer = AIOKafkaProducer(bootstrap_servers=deployment.bootstrap, enable_idempotence=True)
    await producer.start()
    placed: list[Poison] = []
    try:
        for topic in EVENT_TOPICS:
            name = topic.qualified(deployment.prefix)
            key = f"poison-{uuid.uuid4()}".encode()
            unknown = [
                ("ce_specversion", b"1.0"),
                ("ce_id", str(uuid.uuid4()).encode()),
                ("ce_source", b"370202"),
                ("ce_type", b"NoSuchEventHappened"),
                ("ce_subject", key),
                ("ce_time", b"2026-11-24T08:00:00+08:00"),
                ("content-type", b"application/json"),
            ]
            for kind, value, headers in (
                ("not JSON", b"\xff\xfe not json", []),
                ("unknown event type", b'{"x": 1}', unknown),
            ):
                meta = await producer.send_and_wait(name, value=value, key=key, headers=headers)
                placed.append(Poison(name, meta.partition, meta.offset, kind))
        for code in submitters:
            name = inbound_topic(code).qualified(deployment.prefix)
            for kind, value in (
                ("not JSON", b"<xml>not a command</xml>"),
                (
                    "unknown command",
                    orjson.dumps({"command_id": str(uuid.uuid4()), "command": "launch", "body": {}}),
                ),
            ):
                meta = await producer.send_and_wait(name, value=value, key=f"poison-{uuid.uuid4()}".encode())
                placed.append(Poison(name, meta.partition, meta.offset, kind))
    finally:
        await producer.stop()
    return placed


@dataclass
class DeadLetters:
    by_consumer: dict[str, int]  # open dead letters per consumer
    unexpected: list[str]  # dead letters that are not poison
    missing: list[str]  # (consumer, poison) that has no dead letter
    inbound: int  # records on intake's inbound dead-letter topic
    inbound_missing: list[str]
    parked: int


async def dead_letters(deployment: Deployment, poison: Sequence[Poison]) -> DeadLetters:
    poisoned = {(p.topic, p.partition, p.offset) for p in poison}
    conn = await asyncpg.connect(deployment.admin_dsn)
    try:
        rows = []
        parked = 0
        for schema in SCHEMAS.values():
            rows += await conn.fetch(
                f'SELECT consumer, topic, partition, "offset", reason FROM {schema}.dead_letters'
            )
            parked += int(await conn.fetchval(f"SELECT count(*) FROM {schema}.parked"))
    finally:
        await conn.close()
    found = {(r["consumer"], r["topic"], r["partition"], r["offset"]) for r in rows}
    unexpected = [
        f"{r['consumer']} {r['topic']}[{r['partition']}]@{r['offset']}: {r['reason'][:200]}"
        for r in rows
        if (r["topic"], r["partition"], r["offset"]) not in poisoned
    ]
    missing = []
    for name, cls in discover()[0].items():
        for p in poison:
            if p.topic in {t.qualified(deployment.prefix) for t in cls.topics} and (
                (name, p.topic, p.partition, p.offset) not in found
            ):
                missing.append(f"{name}: {p.kind} at {p.topic}[{p.partition}]@{p.offset}")
    dlq = await read_topic(deployment, DEAD_LETTER_TOPICS[0].qualified(deployment.prefix))
    sources = set()
    for record in dlq:
        with contextlib.suppress(ValueError, KeyError, TypeError):
            source = orjson.loads(record.value)["source"]
            sources.add((source["topic"], source["partition"], source["offset"]))
    inbound_missing = [
        f"{p.kind} at {p.topic}[{p.partition}]@{p.offset}"
        for p in poison
        if ".inbound." in p.topic and (p.topic, p.partition, p.offset) not in sources
    ]
    return DeadLetters(
        dict(Counter(r["consumer"] for r in rows)), unexpected, missing, len(dlq), inbound_missing, parked
    )


# ------------------------------------------------------------------------------------------------
# Faults


@dataclass
class Fault:
    name: str
    at: float  # seconds into the run
    sent_before: int  # enrolment rows sent when it began
    accepted_before: int  # enrolments answered 2xx when it began
    down: float = 0.0  # seconds the component was away
    ready: float = 0.0  # seconds from restart until every service answered /readyz 200
    recovered: float = 0.0  # seconds from restart until everything accepted before the fault was counted
    during_ingest: bool = True


class Platform:
    """The four services of a deployment, and the faults that can be done to them."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        self.services = {name: Service(name, deployment) for name in SERVICES}
        self.faults: list[Fault] = []
        self.started_at = now()

    async def start(self) -> None:
        for service in self.services.values():
            service.start()
        for service in self.services.values():
            await service.ready()

    def stop(self) -> None:
        for service in reversed(list(self.services.values())):
            service.stop()

    async def counted(self) -> tuple[int, int]:
        conn = await asyncpg.connect(self.deployment.admin_dsn)
        try:
            return await member_counts(conn)
        finally:
            await conn.close()

    async def caught_up(self, accepted: int, timeout: float) -> float:
        """Seconds until the roster and the dashboard's count hold at least `accepted` members."""
        started = now()
        last: object = None
        while now() - started < timeout:
            try:
                last = await self.counted()
                if min(last) >= accepted:
                    return now() - started
            except (OSError, asyncpg.PostgresError) as exc:
                last = exc
            await asyncio.sleep(0.5)
        raise AssertionError(
            f"not caught up with {accepted} accepted members in {timeout:.0f} s; last {last}"
        )

    async def inject(
        self,
        name: str,
        driver: Driver,
        outage: Callable[[], Awaitable[None]],
        restore: Callable[[], Awaitable[None]],
        down: float,
        recovery_timeout: float = 600,
    ) -> Fault:
        ledger = driver.ledger
        fault = Fault(
            name,
            now() - self.started_at,
            ledger.enrolment_rows_sent,
            len(ledger.enrolment_ids),
            during_ingest=not driver.done.is_set(),
        )
        began = now()
        await outage()
        await asyncio.sleep(down)
        await restore()
        fault.down = now() - began
        restored = now()
        for service in self.services.values():
            await service.ready()
        fault.ready = now() - restored
        await self.caught_up(fault.accepted_before, recovery_timeout)
        fault.recovered = now() - restored
        self.faults.append(fault)
        return fault

    async def kill(self, names: Sequence[str], driver: Driver, down: float = 2.0) -> Fault:
        async def outage() -> None:
            for n in names:
                self.services[n].kill()

        async def restore() -> None:
            for n in names:
                self.services[n].start()

        label = "SIGKILL " + (", ".join(names) if len(names) < len(SERVICES) else "all services")
        return await self.inject(label, driver, outage, restore, down)

    async def broker_outage(self, driver: Driver, down: float = 5.0) -> Fault:
        return await self.inject(
            "Kafka broker stopped",
            driver,
            lambda: stack("stop", "kafka"),
            lambda: stack("start", "kafka"),
            down,
        )

    async def postgres_outage(self, driver: Driver, down: float = 5.0) -> Fault:
        fault = await self.inject(
            "PostgreSQL stopped",
            driver,
            lambda: stack("stop", "postgres"),
            lambda: stack("start", "postgres"),
            down,
        )
        return fault

    async def poison(self, driver: Driver, submitters: Sequence[str], timeout: float = 300) -> list[Poison]:
        """Poison every topic; the fault is over when each record is a dead letter of every
        consumer that reads its topic (and of intake's inbound dead-letter topic)."""
        ledger = driver.ledger
        fault = Fault(
            "poison records in every topic",
            now() - self.started_at,
            ledger.enrolment_rows_sent,
            len(ledger.enrolment_ids),
            during_ingest=not driver.done.is_set(),
        )
        placed = await inject_poison(self.deployment, submitters)
        began = now()
        while True:
            letters = await dead_letters(self.deployment, placed)
            if not letters.missing and not letters.inbound_missing:
                break
            if now() - began > timeout:
                raise AssertionError(
                    f"poison not dead-lettered in {timeout:.0f} s: {letters.missing + letters.inbound_missing}"
                )
            await asyncio.sleep(0.5)
        fault.recovered = now() - began
        self.faults.append(fault)
        return placed

    def rss(self) -> dict[str, tuple[int, int]]:
        return {name: s.rss() for name, s in self.services.items()}


# ------------------------------------------------------------------------------------------------
# The verdict


async def replay_all(deployment: Deployment) -> tuple[int, list[dict[str, Any]]]:
    """`huigong replay -s all` as an auditor runs it: every projection of every service rebuilt
    from offset 0 into shadow schemas and compared with live, table by table."""
    proc = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "huigong"),
        "replay",
        "-s",
        "all",
        "--prefix",
        deployment.prefix,
        "--dsn",
        deployment.admin_dsn,
        "--bootstrap",
        deployment.bootstrap,
        "--no-progress",
        "--json",
        "--keep",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "HUIGONG_LOG_LEVEL": "WARNING"},
    )
    out, err = await proc.communicate()
    try:
        reports = json.loads(out)
    except ValueError:
        raise AssertionError(
            f"huigong replay printed no JSON (exit {proc.returncode}):\n{err.decode()[-2000:]}"
        ) from None
    return int(proc.returncode or 0), reports


async def replay_differences(deployment: Deployment, replays: Sequence[Mapping[str, Any]]) -> list[str]:
    """Up to three rows on each side of every table where live and replay differ (what an
    auditor looks at next), then the kept shadow schemas are dropped."""
    found: list[str] = []
    conn = await asyncpg.connect(deployment.admin_dsn)
    try:
        for r in replays:
            for c in r.get("consumers", []):
                shadow = c.get("shadow_schema")
                if not shadow:
                    continue
                for t in c.get("tables", []):
                    if t.get("equal", True):
                        continue
                    live, replayed = f"{r['service']}.{t['table']}", f"{shadow}.{t['table']}"
                    sides = [
                        {next(iter(row.values())): dict(row) for row in await conn.fetch(q)}
                        for q in (
                            f"SELECT * FROM {live} EXCEPT SELECT * FROM {replayed} LIMIT 5",
                            f"SELECT * FROM {replayed} EXCEPT SELECT * FROM {live} LIMIT 5",
                        )
                    ]
                    # Rows on both sides under one key: only the columns that differ.
                    for key in sides[0].keys() | sides[1].keys():
                        a, b = sides[0].get(key, {}), sides[1].get(key, {})
                        changed = {
                            k: (a.get(k), b.get(k)) for k in a.keys() | b.keys() if a.get(k) != b.get(k)
                        }
                        found.append(f"{c['consumer']}.{t['table']} {key}: live vs replay {changed}")
                await conn.execute(f'DROP SCHEMA IF EXISTS "{shadow}" CASCADE')
    finally:
        await conn.close()
    return found


@dataclass
class Report:
    traffic: dict[str, Any]
    sent: dict[str, int]
    accepted: dict[str, int]
    expected: dict[str, int]  # what each place must hold, from the ledger
    applied: dict[str, int]  # what it holds
    lost: dict[str, int]
    duplicated: dict[str, int]
    dead_lettered: dict[str, Any]
    http: dict[str, Any]
    faults: list[dict[str, Any]]
    lag: dict[str, int]  # records each consumer had not applied when the figures settled
    replay: dict[str, Any]
    # Per reaction: triggers below its checkpoint, those held (dead letter, parked), those
    # without an outcome (`huigong reconcile`).
    outcomes: dict[str, dict[str, int]] = field(default_factory=dict)
    soak: dict[str, Any] = field(default_factory=dict)
    # CPU burners competing with the platform for the cores, and the load they made.
    contention: dict[str, Any] = field(default_factory=dict)
    # The fault run's people (the soak enrols others); not part of the report.
    people: set[str] = field(default_factory=set, repr=False)

    def to_json(self) -> str:
        figures = asdict(self)
        figures.pop("people")
        return json.dumps(figures, ensure_ascii=False, indent=2)

    def render(self) -> str:
        lines = ["reliability report", ""]
        lines.append("traffic: " + ", ".join(f"{k} {v}" for k, v in self.traffic.items()))
        if self.contention:
            c = self.contention
            lines.append(
                f"contention: {c['burners']} CPU-bound processes beside the platform on {c['cores']} "
                f"cores; load average at the start {c['load_start']:.1f}, at the end {c['load_end']:.1f}"
            )
        lines.append("")
        sent, accepted = self.sent, self.accepted
        lines.append(
            f"sent: {sent['enrolments']:,} enrolment rows ({sent['enrolments_http']:,} over HTTP, "
            f"{sent['enrolments_kafka']:,} over the inbound topics), {sent['applications']} applications; "
            f"accepted: {accepted['enrolments']:,} rows ({accepted['insured']:,} with 互助保障), "
            f"{accepted['applications']} applications"
        )
        lines.append("")
        lines.append(f"  {'where':<36}{'expected':>10}{'found':>10}{'lost':>7}{'twice':>7}")
        for key, found in self.applied.items():
            lines.append(
                f"  {key:<36}{self.expected[key]:>10,}{found:>10,}{self.lost[key]:>7}{self.duplicated[key]:>7}"
            )
        lines.append("")
        dl = self.dead_lettered
        lines.append(
            f"dead-lettered: {dl['poison_injected']} poison records injected; "
            f"{sum(dl['by_consumer'].values())} dead letters in consumers, {dl['inbound']} on the inbound "
            f"dead-letter topic; not poison: {len(dl['unexpected'])}; poison not dead-lettered: "
            f"{len(dl['missing']) + len(dl['inbound_missing'])}; parked: {dl['parked']}"
        )
        for consumer, n in sorted(dl["by_consumer"].items()):
            lines.append(f"  {consumer:<40}{n:>5}")
        lines.append("")
        h = self.http
        lines.append(
            f"HTTP answers: {h['statuses']}; broken connections {h['transport_errors']}; 503 without "
            f"Retry-After {h['unavailable_without_retry_after']}; 503 outside a PostgreSQL outage "
            f"{h['unavailable_outside_outage']}"
        )
        lines.append("")
        width = max([40, *(len(f["name"]) + 1 for f in self.faults)])
        lines.append(
            f"  {'fault':<{width}}{'at s':>7}{'rows sent':>11}{'down s':>8}{'ready s':>9}{'recovered s':>13}"
        )
        for f in self.faults:
            lines.append(
                f"  {f['name']:<{width}}{f['at']:>7.1f}{f['sent_before']:>11,}{f['down']:>8.1f}"
                f"{f['ready']:>9.1f}{f['recovered']:>13.1f}"
                + ("" if f["during_ingest"] else "  (after ingest)")
            )
        lines.append("")
        lines.append(
            f"replay -s all: exit {self.replay['exit']}, "
            + (
                "every projection equals a clean replay"
                if self.replay["equal"]
                else "DIFFERS: " + ", ".join(self.replay["differing"])
            )
        )
        lines.extend(f"  {d[:400]}" for d in self.replay.get("differences", []))
        lines.append(
            "reconcile: "
            + "; ".join(
                f"{name} {o['triggers']:,} triggers, {o['held']} held, {o['missing']} without an outcome"
                for name, o in self.outcomes.items()
            )
        )
        behind = {k: v for k, v in self.lag.items() if v}
        lines.append(
            f"consumer lag when the figures settled: {behind if behind else f'0 for all {len(self.lag)} consumers'}"
        )
        if self.soak:
            k = self.soak
            lines.append("")
            lines.append(
                f"soak: {k['seconds']:.0f} s at {k['rate']:,.0f} rows/s; sent {k['sent']:,}, accepted "
                f"{k['accepted']:,}, counted {k['counted']}; consumer lag (all consumers, records) max "
                f"{k['max_lag']:,}, at the end of the ingest {k['end_lag']:,}"
            )
            samples = k["lag_samples"]
            if samples:
                lines.append(
                    f"  lag sampled {len(samples)} times: first {samples[0]:,}, median "
                    f"{sorted(samples)[len(samples) // 2]:,}, last {samples[-1]:,}"
                )
            lines.append(
                f"  {'process':<12}{'RSS start MiB':>15}{'RSS end MiB':>13}{'relay start':>13}{'relay end':>11}"
            )
            for name, (start, end) in k["rss"].items():
                lines.append(
                    f"  {name:<12}{start[0] / 1024:>15.1f}{end[0] / 1024:>13.1f}{start[1] / 1024:>13.1f}{end[1] / 1024:>11.1f}"
                )

        return "\n".join(lines)

    @property
    def clean(self) -> bool:
        dl = self.dead_lettered
        return (
            not any(self.lost.values())
            and not any(self.duplicated.values())
            and not dl["unexpected"]
            and not dl["missing"]
            and not dl["inbound_missing"]
            and dl["parked"] == 0
            and self.replay["equal"]
            and self.http["unavailable_without_retry_after"] == 0
            and self.http["unavailable_outside_outage"] == 0
            and not self.http["refusals"]
            and not any(self.lag.values())
            and not any(o["missing"] for o in self.outcomes.values())
        )


class Faulted(Protocol):
    """What the audit needs of the platform a run drove: its faults and when it started."""

    faults: list[Fault]
    started_at: float


def _outside_outage(ledger: Ledger, platform: Faulted) -> int:
    """503s not explained by a PostgreSQL outage: one is explained from the moment the database
    was stopped until the intake's first 2xx after it came back."""
    windows = []
    for fault in platform.faults:
        if fault.name.startswith("PostgreSQL"):
            begin = platform.started_at + fault.at
            back = begin + fault.down
            after = [t for t in ledger.ok_times if t > back]
            windows.append((begin, min(after) if after else float("inf")))
    return sum(1 for t in ledger.unavailable if not any(b <= t <= e for b, e in windows))


async def settle(deployment: Deployment, ledger: Ledger, applications: int, timeout: float = 600) -> Counts:
    """Wait until every accepted enrolment and application has been applied everywhere, or the
    figures stop moving for 30 s (then the report says what is missing)."""
    started = now()
    previous: Counts | None = None
    still_since = now()
    while True:
        counts = await count(deployment, with_kafka=False)
        if (
            min(counts.registry_members, counts.metrics_members, counts.intake_enrolments) >= ledger.accepted
            and counts.metrics_insured >= ledger.insured
            and min(counts.intake_applications, counts.review_applications) >= applications
        ):
            break
        if counts != previous:
            previous, still_since = counts, now()
        if now() - still_since > 30 or now() - started > timeout:
            break
        await asyncio.sleep(1)
    await asyncio.sleep(2)  # let a duplicate, if any were coming, arrive too
    return await count(deployment)


async def verdict(
    deployment: Deployment,
    platform: Faulted,
    driver: Driver,
    poison: Sequence[Poison],
    traffic: Traffic,
) -> Report:
    ledger = driver.ledger
    counts = await settle(deployment, ledger, len(ledger.applications))
    letters = await dead_letters(deployment, poison)
    lag = await consumer_lag(deployment)
    code, replays = await replay_all(deployment)
    differing = [
        f"{c['consumer']}.{t['table']}"
        for r in replays
        for c in r.get("consumers", [])
        for t in c.get("tables", [])
        if not t.get("equal", True)
    ]
    differences = await replay_differences(deployment, replays)
    # What `huigong reconcile` says: every trigger each reaction passed has its outcome.
    outcomes = {
        r.reaction: {"triggers": r.triggers, "held": r.held, "missing": len(r.missing)}
        for r in await reconcile_mod.reconcile(deployment.admin_dsn, deployment.bootstrap)
    }
    # Each HTTP-accepted enrolment id must be an event in intake's store: a 2xx is a promise.
    conn = await asyncpg.connect(deployment.admin_dsn)
    try:
        stored = int(
            await conn.fetchval(
                "SELECT count(*) FROM intake.events WHERE type = 'EnrolmentRequested' AND aggregate_id = ANY($1::text[])",
                list(ledger.enrolment_ids),
            )
        )
    finally:
        await conn.close()
    accepted = ledger.accepted
    applied = {
        "intake events (2xx ids found)": stored,
        "intake events EnrolmentRequested": counts.intake_enrolments_distinct,
        "Kafka enrolments topic (distinct)": counts.kafka_enrolments_distinct,
        "registry roster (members_view)": counts.registry_members,
        "registry MemberEnrolled events": counts.registry_enrolled_events,
        "metrics members_enrolled": counts.metrics_members,
        "metrics mutual_aid (insured)": counts.metrics_insured,
        "intake applications_view": counts.intake_applications,
        "review application_inputs": counts.review_applications,
    }
    expected = {
        k: {
            "intake events (2xx ids found)": len(ledger.enrolment_ids),
            "metrics mutual_aid (insured)": ledger.insured,
            "intake applications_view": len(ledger.applications),
            "review application_inputs": len(ledger.applications),
        }.get(k, accepted)
        for k in applied
    }
    duplicated = {k: max(0, v - expected[k]) for k, v in applied.items()}
    # Stored twice in an event store or counted twice is a duplicate even if the distinct count is right.
    duplicated["intake events EnrolmentRequested"] += (
        counts.intake_enrolments - counts.intake_enrolments_distinct
    )
    return Report(
        traffic=asdict(traffic) | {"seconds": round(driver.finished_at - driver.started_at, 1)},
        sent={
            "enrolments": ledger.enrolment_rows_sent,
            "enrolments_http": ledger.enrolment_rows_sent - ledger.kafka_rows,
            "enrolments_kafka": ledger.kafka_rows,
            "applications": traffic.applications,
        },
        accepted={
            "enrolments": accepted,
            "applications": len(ledger.applications),
            "insured": ledger.insured,
        },
        applied=applied,
        expected=expected,
        lost={k: max(0, expected[k] - v) for k, v in applied.items()},
        duplicated=duplicated,
        dead_lettered={
            "poison_injected": len(poison),
            "by_consumer": letters.by_consumer,
            "unexpected": letters.unexpected,
            "missing": letters.missing,
            "inbound": letters.inbound,
            "inbound_missing": letters.inbound_missing,
            "parked": letters.parked,
        },
        http={
            "statuses": dict(sorted(ledger.statuses.items())),
            "transport_errors": dict(ledger.transport_errors),
            "unavailable_without_retry_after": ledger.unavailable_without_retry_after,
            "unavailable_outside_outage": _outside_outage(ledger, platform),
            "refusals": ledger.refusals[:20],
            "kafka_retries": ledger.kafka_retries,
            "kafka_wire_duplicates": counts.kafka_enrolments - counts.kafka_enrolments_distinct,
        },
        faults=[asdict(f) for f in platform.faults],
        lag=lag,
        replay={
            "exit": code,
            "equal": code == 0 and not differing,
            "differing": differing,
            "differences": differences,
        },
        outcomes=outcomes,
    )


@contextlib.asynccontextmanager
async def running(deployment: Deployment) -> AsyncIterator[Platform]:
    platform = Platform(deployment)
    try:
        await platform.start()
        yield platform
    finally:
        await asyncio.to_thread(platform.stop)


@dataclass(frozen=True)
class Soak:
    seconds: float
    rate: float  # enrolment rows per second
    sample_every: float = 10.0


async def soak(
    deployment: Deployment,
    platform: Platform,
    plan: Soak,
    traffic: Traffic,
    keys: Mapping[str, str],
    people: set[str],
) -> dict[str, Any]:
    """A steady ingest for `plan.seconds`: each service's memory at the start and the end, and the
    consumers' lag sampled throughout; then every row it was told was accepted must be counted."""
    before = await count(deployment, with_kafka=False)
    steady = Traffic(
        enrolments=int(plan.seconds * plan.rate),
        batch=min(traffic.batch, max(1, int(plan.rate))),
        rate=plan.rate,
        kafka_every=traffic.kafka_every,
        applications=max(1, int(plan.seconds // 30)),
        submitters=traffic.submitters,
        seed=traffic.seed + 1,  # other people than the fault run's
    )
    driver = Driver(deployment, steady, keys, people)
    ingest = asyncio.create_task(driver.run())
    await asyncio.sleep(min(30.0, plan.seconds / 10))  # past start-up: caches, pools, JIT-less warm-up
    rss_start = platform.rss()
    lags: list[int] = []
    while not ingest.done():
        lags.append(sum((await consumer_lag(deployment)).values()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(ingest), plan.sample_every)
    await ingest
    rss_end = platform.rss()
    end_lag = sum((await consumer_lag(deployment)).values())
    after = await settle_members(deployment, before, driver.ledger.accepted)
    return {
        "seconds": driver.finished_at - driver.started_at,
        "rate": steady.enrolments / max(0.001, driver.finished_at - driver.started_at),
        "sent": driver.ledger.enrolment_rows_sent,
        "accepted": driver.ledger.accepted,
        "counted": {
            "registry roster": after.registry_members - before.registry_members,
            "metrics members_enrolled": after.metrics_members - before.metrics_members,
        },
        "max_lag": max(lags, default=0),
        "lag_samples": lags,
        "end_lag": end_lag,
        "rss": {name: (rss_start[name], rss_end[name]) for name in rss_start},
    }


async def settle_members(
    deployment: Deployment, before: Counts, accepted: int, timeout: float = 600
) -> Counts:
    started = now()
    while True:
        counts = await count(deployment, with_kafka=False)
        grown = min(
            counts.registry_members - before.registry_members, counts.metrics_members - before.metrics_members
        )
        if grown >= accepted or now() - started > timeout:
            return counts
        await asyncio.sleep(1)


BURNER = "while True: pass"


@contextlib.contextmanager
def cpu_contention(burners: int) -> Iterator[dict[str, Any]]:
    """`burners` processes that spin on the CPU for as long as the block lasts, at the platform's
    own priority: timing windows that a quiet machine keeps narrow (a batch in flight when the
    database stops, a rebalance during a commit) open wide. Yields the figures for the report."""
    figures: dict[str, Any] = {}
    if burners <= 0:
        yield figures
        return
    procs = [subprocess.Popen([sys.executable, "-c", BURNER]) for _ in range(burners)]
    figures.update(burners=burners, cores=os.cpu_count() or 0, load_start=os.getloadavg()[0])
    try:
        yield figures
    finally:
        figures["load_end"] = os.getloadavg()[0]
        for proc in procs:
            proc.kill()
        for proc in procs:
            proc.wait()


async def scenario(
    deployment: Deployment,
    traffic: Traffic,
    *,
    down: float = 3.0,
    soak_plan: Soak | None = None,
    announce: Callable[[Report], None] | None = None,
    contention: int = 0,
) -> Report:
    """The fault run: ingest `traffic` and, spread over it, SIGKILL each service in
    turn, all at once, stop the broker, stop the database, and poison every topic; then audit.
    With `soak_plan`, a steady ingest follows on the same processes (the long form). With
    `contention`, that many CPU-bound processes compete for the cores throughout the fault run."""
    keys = await issue_keys(deployment, [f"simulator:{s}" for s in traffic.submitters])
    async with running(deployment) as platform:
        with cpu_contention(contention) as load:
            report = await _faults(deployment, platform, traffic, keys, down)
        report.contention = load
        if announce is not None:
            announce(report)  # the fault run's report, before a long soak begins
        if soak_plan is not None:
            report.soak = await soak(deployment, platform, soak_plan, traffic, keys, report.people)
        return report


async def _faults(
    deployment: Deployment, platform: Platform, traffic: Traffic, keys: dict[str, str], down: float
) -> Report:
    driver = Driver(deployment, traffic, keys)
    ingest = asyncio.create_task(driver.run())
    steps: list[Callable[[], Awaitable[Any]]] = [
        *(lambda n=n: platform.kill([n], driver, down) for n in SERVICES),
        lambda: platform.kill(list(SERVICES), driver, down),
        lambda: platform.broker_outage(driver, down),
        lambda: platform.postgres_outage(driver, down),
    ]
    poison: list[Poison] = []
    shares = len(steps) + 2
    for number, step in enumerate(steps, start=1):
        # Each fault when its share of the rows has been sent, the next share flowing while
        # it lasts: every fault falls inside the ingest.
        threshold = traffic.enrolments * number // shares
        driver.allowance = traffic.enrolments * (number + 1) // shares
        while driver.ledger.enrolment_rows_sent < threshold and not ingest.done():
            await asyncio.sleep(0.2)
        if ingest.done():
            ingest.result()  # a driver that failed says why here
        await step()
        if number == len(steps) // 2:
            poison = await platform.poison(driver, traffic.submitters)
    driver.allowance = float("inf")
    await ingest
    report = await verdict(deployment, platform, driver, poison, traffic)
    report.people = driver.people
    return report
