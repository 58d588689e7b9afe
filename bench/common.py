"""What every benchmark shares: the stack's settings, a throw-away database and topic prefix,
a line about the machine, and figure printing."""

from __future__ import annotations

import asyncio
import os
import platform
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huigong_platform import database
from huigong_platform.kafka import ensure_topics
from huigong_platform.settings import SERVICES

REPO = Path(__file__).resolve().parents[1]
LOCAL = Path(os.environ.get("HUIGONG_LOCAL_DIR", REPO / ".local"))


def read_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for name in ("stack.env", "secrets.env"):
        if not (LOCAL / name).exists():
            # bin/stack start writes stack.env; secrets.env is the services' (bin/run or bin/test).
            raise SystemExit(f"{LOCAL / name} missing: run bin/run (or bin/test) once, then bin/stack start")
        for line in (LOCAL / name).read_text().splitlines():
            if "=" in line and not line.startswith("#"):
                key, _, value = line.partition("=")
                env[key.strip()] = value.strip()
    env.update({k: v for k, v in os.environ.items() if k.startswith("HUIGONG_")})
    # The services' event keys, for the events a benchmark makes and the runners it starts in
    # this process (huigong_events.authenticity reads them from the environment).
    if "HUIGONG_EVENT_KEYS" in env:
        os.environ["HUIGONG_EVENT_KEYS"] = env["HUIGONG_EVENT_KEYS"]
    return env


def machine_line() -> str:
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"machine: {os.cpu_count()} cores ({cpu}), {mem_kb / 1024 / 1024:.1f} GiB, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


@dataclass(frozen=True)
class Env:
    env: dict[str, str]
    run_id: str

    @property
    def bootstrap(self) -> str:
        return self.env["HUIGONG_KAFKA_BOOTSTRAP"]

    @property
    def prefix(self) -> str:
        return f"bench{self.run_id}."

    @property
    def database(self) -> str:
        return f"huigong_bench_{self.run_id}"

    @property
    def admin_dsn(self) -> str:
        return database.with_credentials_keep(self.env["HUIGONG_PG_ADMIN_DSN"], self.database)

    def dsn(self, service: str) -> str:
        return database.with_credentials(
            self.admin_dsn, database.role_name(service), self.env[f"HUIGONG_{service.upper()}_DB_PASSWORD"]
        )


@asynccontextmanager
async def bench_env() -> AsyncIterator[Env]:
    env = Env(read_env(), uuid.uuid4().hex[:8])
    root = env.env["HUIGONG_PG_ADMIN_DSN"]
    await database.create_database(root, env.database)
    try:
        await database.provision(
            env.admin_dsn, {s: env.env[f"HUIGONG_{s.upper()}_DB_PASSWORD"] for s in SERVICES}
        )
        for s in SERVICES:
            await database.migrate(env.dsn(s), s)
        await ensure_topics(env.bootstrap, env.prefix)
        yield env
    finally:
        await database.drop_database(env.env["HUIGONG_PG_SUPERUSER_DSN"], env.database)
        from aiokafka.admin import AIOKafkaAdminClient

        admin = AIOKafkaAdminClient(bootstrap_servers=env.bootstrap)
        await admin.start()
        try:
            mine = [t for t in await admin.list_topics() if t.startswith(env.prefix)]
            if mine:
                await admin.delete_topics(mine)
        finally:
            await admin.close()


async def api_key(env: Env, principal: str) -> str:
    """A real API key of `principal` in this benchmark's database (as `huigong keys create`)."""
    import asyncpg

    from huigong_ops import keys

    conn = await asyncpg.connect(env.admin_dsn)
    try:
        return (await keys.issue(conn, principal, actor="bench", label="benchmark")).key
    finally:
        await conn.close()


async def publish(env: Env, records: Iterable[tuple[str, bytes, bytes, list[tuple[str, bytes]]]]) -> int:
    """Publish (topic, key, value, headers) records in order, each on the partition Kafka's default
    partitioner gives its key (one aggregate, one partition), through aiokafka's batch API with an
    idempotent producer: no duplicates, and a million records in seconds rather than minutes."""
    from aiokafka import AIOKafkaProducer
    from aiokafka.partitioner import DefaultPartitioner

    producer = AIOKafkaProducer(
        bootstrap_servers=env.bootstrap, enable_idempotence=True, max_batch_size=1024 * 1024, linger_ms=5
    )
    await producer.start()
    partitioner = DefaultPartitioner()
    partitions: dict[str, list[int]] = {}
    builders: dict[tuple[str, int], Any] = {}
    sent: list[Any] = []
    count = 0
    try:
        for topic, key, value, headers in records:
            if topic not in partitions:
                partitions[topic] = sorted(await producer.partitions_for(topic))
            parts = partitions[topic]
            target = (topic, partitioner(key, parts, parts))
            builder = builders.get(target) or producer.create_batch()
            if builder.append(key=key, value=value, timestamp=None, headers=headers) is None:
                sent.append(await producer.send_batch(builder, target[0], partition=target[1]))
                builder = producer.create_batch()
                builder.append(key=key, value=value, timestamp=None, headers=headers)
            builders[target] = builder
            count += 1
        for (topic, partition), builder in builders.items():
            sent.append(await producer.send_batch(builder, topic, partition=partition))
        await asyncio.gather(*sent)
    finally:
        await producer.stop()
    return count


class Stopwatch:
    def __init__(self) -> None:
        self.start = time.perf_counter()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.start


def figure(label: str, count: int, seconds: float, cpu: float | None = None) -> float:
    """Print a rate; with `cpu`, this process's CPU seconds, as microseconds per item: on a shared
    machine the wall-clock rate moves with everyone's load, the CPU cost much less."""
    rate = count / seconds if seconds else float("inf")
    extra = f"  ({cpu / count * 1e6:5.1f} µs CPU each)" if cpu is not None and count else ""
    print(f"  {label:<52} {count:>10,} in {seconds:7.2f} s  = {rate:>12,.0f} /s{extra}")
    return rate


class CpuClock:
    """This process's CPU time since creation (`time.process_time`)."""

    def __init__(self) -> None:
        self.start = time.process_time()

    @property
    def seconds(self) -> float:
        return time.process_time() - self.start


def service_env(env: Env, service: str, port: int) -> dict[str, str]:
    return {
        **os.environ,
        **{k: v for k, v in env.env.items() if k.startswith("HUIGONG_")},
        "HUIGONG_SERVICE": service,
        "HUIGONG_DATABASE_URL": env.dsn(service),
        "HUIGONG_TOPIC_PREFIX": env.prefix,
        "HUIGONG_HTTP_PORT": str(port),
        "HUIGONG_LOG_LEVEL": "WARNING",
        # Benchmarks measure the pipeline, not the rate limiter: it runs, but never refuses.
        "HUIGONG_RATE_LIMIT_BURST": "1000000000",
        "HUIGONG_RATE_LIMIT_PER_SECOND": "1000000000",
    }


@asynccontextmanager
async def service(env: Env, name: str, port: int) -> AsyncIterator[str]:
    """A real service process of this benchmark's environment; yields its base URL."""
    async with service_process(env, name, port) as running:
        yield running.url


@dataclass(frozen=True)
class RunningService:
    url: str
    pid: int


@asynccontextmanager
async def service_process(env: Env, name: str, port: int) -> AsyncIterator[RunningService]:
    """`service`, also naming the process, so that a benchmark can read the CPU it used."""
    import asyncio
    import subprocess
    import sys

    import httpx

    log = open(LOCAL / f"bench-{name}.log", "ab")  # noqa: SIM115 - outlives this block, closed in finally
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / f"huigong-{name}")],
        env=service_env(env, name, port),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            for _ in range(120):
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited; see {LOCAL / f'bench-{name}.log'}")
                try:
                    if (await client.get(f"{url}/readyz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.5)
            else:
                raise RuntimeError(f"{name} not ready")
        yield RunningService(url, proc.pid)
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) a process has used, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def process_cpu_seconds(pid: int) -> dict[str, float]:
    """CPU seconds of a process and of each of its children, by command (`python -m
    huigong_platform.outbox` shows as `huigong_platform.outbox`)."""

    def command(p: int) -> str:
        words = [a.decode() for a in Path(f"/proc/{p}/cmdline").read_bytes().split(b"\0") if a]
        if "-m" in words:
            return words[words.index("-m") + 1]
        return Path(words[1] if len(words) > 1 else words[0]).name  # the script, not python

    found = {command(pid): cpu_seconds(pid)}
    for child in map(int, Path(f"/proc/{pid}/task/{pid}/children").read_text().split()):
        try:
            found[command(child)] = found.get(command(child), 0.0) + cpu_seconds(child)
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
    return found


async def postgres_cpu_seconds(env: Env) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend serving this benchmark's database, by pid (the
    cluster runs on this machine: bin/stack)."""
    import asyncpg

    conn = await asyncpg.connect(env.admin_dsn)
    try:
        pids = [
            r[0]
            for r in await conn.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                env.database,
            )
        ]
    finally:
        await conn.close()
    found: dict[int, float] = {}
    for pid in pids:
        try:
            found[pid] = cpu_seconds(pid)
        except OSError:
            continue  # gone meanwhile
    return found


def free_port() -> int:
    """A TCP port nobody listens on now: fixed ports clash with other runs on a shared machine."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
