"""What every benchmark shares: the stack's settings, a throw-away database and topic prefix,
a line about the machine, and figure printing."""

from __future__ import annotations

import os
import platform
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from huigong_platform import database
from huigong_platform.kafka import ensure_topics
from huigong_platform.settings import SERVICES

REPO = Path(__file__).resolve().parents[1]
LOCAL = Path(os.environ.get("HUIGONG_LOCAL_DIR", REPO / ".local"))


def read_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for name in ("stack.env", "secrets.env"):
        for line in (LOCAL / name).read_text().splitlines():
            if "=" in line and not line.startswith("#"):
                key, _, value = line.partition("=")
                env[key.strip()] = value.strip()
    env.update({k: v for k, v in os.environ.items() if k.startswith("HUIGONG_")})
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
        await database.drop_database(root, env.database)
        from aiokafka.admin import AIOKafkaAdminClient

        admin = AIOKafkaAdminClient(bootstrap_servers=env.bootstrap)
        await admin.start()
        try:
            mine = [t for t in await admin.list_topics() if t.startswith(env.prefix)]
            if mine:
                await admin.delete_topics(mine)
        finally:
            await admin.close()


class Stopwatch:
    def __init__(self) -> None:
        self.start = time.perf_counter()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.start


def figure(label: str, count: int, seconds: float) -> float:
    rate = count / seconds if seconds else float("inf")
    print(f"  {label:<52} {count:>10,} in {seconds:7.2f} s  = {rate:>12,.0f} /s")
    return rate


def service_env(env: Env, service: str, port: int) -> dict[str, str]:
    return {
        **os.environ,
        **{k: v for k, v in env.env.items() if k.startswith("HUIGONG_")},
        "HUIGONG_SERVICE": service,
        "HUIGONG_DATABASE_URL": env.dsn(service),
        "HUIGONG_TOPIC_PREFIX": env.prefix,
        "HUIGONG_HTTP_PORT": str(port),
        "HUIGONG_LOG_LEVEL": "WARNING",
    }


@asynccontextmanager
async def service(env: Env, name: str, port: int) -> AsyncIterator[str]:
    """A real service process of this benchmark's environment; yields its base URL."""
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
        yield url
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()
