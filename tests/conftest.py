"""Session fixtures: attach to the real Kafka broker and PostgreSQL started by `bin/stack`, and
isolate this run in its own database and topic prefix, so runs never see each other's data."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from huigong_platform import database
from huigong_platform.kafka import ensure_topics
from huigong_platform.settings import SERVICES

REPO = Path(__file__).resolve().parent.parent
LOCAL = Path(os.environ.get("HUIGONG_LOCAL_DIR", REPO / ".local"))


def read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


@dataclass(frozen=True)
class Stack:
    env: dict[str, str]
    run_id: str

    @property
    def bootstrap(self) -> str:
        return self.env["HUIGONG_KAFKA_BOOTSTRAP"]

    @property
    def admin_dsn(self) -> str:
        """Admin DSN pointing at this run's own database."""
        return database.with_credentials_keep(self.env["HUIGONG_PG_ADMIN_DSN"], self.database)

    @property
    def database(self) -> str:
        return f"huigong_test_{self.run_id}"

    @property
    def topic_prefix(self) -> str:
        return f"t{self.run_id}."

    def password(self, service: str) -> str:
        return self.env[f"HUIGONG_{service.upper()}_DB_PASSWORD"]

    def dsn(self, service: str) -> str:
        return database.with_credentials(self.admin_dsn, database.role_name(service), self.password(service))

    def service_env(self, service: str, port: int) -> dict[str, str]:
        """Environment for a service process of this run."""
        return {
            **os.environ,
            **{k: v for k, v in self.env.items() if k.startswith("HUIGONG_")},
            "HUIGONG_SERVICE": service,
            "HUIGONG_DATABASE_URL": self.dsn(service),
            "HUIGONG_KAFKA_BOOTSTRAP": self.bootstrap,
            "HUIGONG_TOPIC_PREFIX": self.topic_prefix,
            "HUIGONG_HTTP_PORT": str(port),
        }


@pytest.fixture(scope="session")
def stack_env() -> dict[str, str]:
    env_file = LOCAL / "stack.env"
    secrets = LOCAL / "secrets.env"
    if not env_file.exists() or not secrets.exists():
        pytest.fail(
            f"{env_file} not found: the Kafka broker and PostgreSQL are not set up. "
            "Run the tests with bin/test, or start the stack with bin/stack start.",
            pytrace=False,
        )
    return {
        **read_env_file(env_file),
        **read_env_file(secrets),
        **{k: v for k, v in os.environ.items() if k.startswith("HUIGONG_")},
    }


@pytest.fixture(scope="session")
async def stack(stack_env: dict[str, str]) -> AsyncIterator[Stack]:
    """This run's database (provisioned and migrated) and topics (created under a prefix)."""
    s = Stack(stack_env, uuid.uuid4().hex[:10])
    admin_root = stack_env["HUIGONG_PG_ADMIN_DSN"]
    try:
        await database.create_database(admin_root, s.database)
        await database.provision(s.admin_dsn, {svc: s.password(svc) for svc in SERVICES})
        for svc in SERVICES:
            await database.migrate(s.dsn(svc), svc)
    except OSError as exc:
        pytest.fail(f"PostgreSQL is not reachable ({exc}); is bin/stack start running?", pytrace=False)
    try:
        await asyncio.wait_for(ensure_topics(s.bootstrap, s.topic_prefix), 60)
    except Exception as exc:
        pytest.fail(f"Kafka at {s.bootstrap} is not usable ({exc!r}); is bin/stack start running?")
    yield s
    await database.drop_database(admin_root, s.database)
    await delete_topics(s.bootstrap, s.topic_prefix)


async def delete_topics(bootstrap: str, prefix: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        mine = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if mine:
            await admin.delete_topics(mine)
    finally:
        await admin.close()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Modules with tests that stop the broker or the database run last, each such test at the end
    of its module, so a slow recovery cannot make an unrelated test fail. Modules stay whole:
    split, a module's fixtures (service processes on fixed ports) would be set up twice."""
    first_seen: dict[str, int] = {}
    with_outage: set[str] = set()
    for index, item in enumerate(items):
        first_seen.setdefault(item.nodeid.split("::")[0], index)
        if item.get_closest_marker("outage") is not None:
            with_outage.add(item.nodeid.split("::")[0])

    def order(item: pytest.Item) -> tuple[bool, int, bool]:
        module = item.nodeid.split("::")[0]
        return (module in with_outage, first_seen[module], item.get_closest_marker("outage") is not None)

    items.sort(key=order)
