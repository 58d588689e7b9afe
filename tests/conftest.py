"""Session fixtures: attach to the real Kafka broker and PostgreSQL started by `bin/stack`, and
isolate this run in its own database and topic prefix, so runs never see each other's data.

Who makes a request: tests write it the way a reader thinks of it, `X-Huigong-Principal:
district:370202` on the request. The services do not read that header (they authenticate API
keys); the test clients' `PrincipalKeys` auth issues a real key for that principal in this run's
database on first use (through `huigong_platform.credentials`, as `huigong keys create` does),
replaces the header with `Authorization: Bearer <key>`, and reuses the key for the session.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest

from huigong_events.authenticity import ENVIRONMENT_VARIABLE, new_secret
from huigong_ops import keys
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


def _event_keys() -> None:
    """The services' event keys (huigong_events.authenticity) in this process's environment, so
    that events the tests make and the services they start use the same keys: those of the stack
    (secrets.env), or fresh ones for a run without a stack (unit tests)."""
    if os.environ.get(ENVIRONMENT_VARIABLE):
        return
    secrets = LOCAL / "secrets.env"
    known = read_env_file(secrets).get(ENVIRONMENT_VARIABLE) if secrets.exists() else None
    os.environ[ENVIRONMENT_VARIABLE] = known or ",".join(f"{s}.1:{new_secret()}" for s in SERVICES)


_event_keys()


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
    def superuser_dsn(self) -> str:
        """The cluster's superuser on this run's database: only for tests that play an attacker
        with superuser rights (provisioning and the ops commands run as the admin, who is not)."""
        return database.with_credentials_keep(self.env["HUIGONG_PG_SUPERUSER_DSN"], self.database)

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

    @property
    def keys(self) -> PrincipalKeys:
        """The API keys of this run's principals (one auth object per run, shared by clients)."""
        return _KEYS.setdefault(self.database, PrincipalKeys(self.admin_dsn))

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


PRINCIPAL_HEADER = "X-Huigong-Principal"
# Stands for a principal no key can be issued for (e.g. `reviewer:nowhere/a`): well formed, unknown.
NO_SUCH_KEY = "hg_" + "a" * 16 + "_" + "A" * 43


class PrincipalKeys(httpx.Auth):
    """httpx auth of the test clients: a request naming its principal in `X-Huigong-Principal`
    is sent with a real API key of that principal instead (issued once per run); a request naming
    none is sent without credentials, as the public sends it."""

    def __init__(self, admin_dsn: str) -> None:
        self.admin_dsn = admin_dsn
        self.issued: dict[str, str] = {}

    async def key_for(self, principal: str) -> str:
        key = self.issued.get(principal)
        if key is None:
            conn = await asyncpg.connect(self.admin_dsn)
            try:
                issued = await keys.issue(conn, principal, actor="tests", label="pytest")
                key = issued.key
            except ValueError:
                key = NO_SUCH_KEY  # no key can name such a principal: the service must refuse it
            finally:
                await conn.close()
            self.issued[principal] = key
        return key

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        principal = request.headers.pop(PRINCIPAL_HEADER, None)
        if principal is not None:
            request.headers["Authorization"] = f"Bearer {await self.key_for(principal)}"
        yield request


_KEYS: dict[str, PrincipalKeys] = {}


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
        for svc in database.migration_order(SERVICES):
            await database.migrate(s.dsn(svc), svc)
        await database.protect_event_stores(s.admin_dsn, SERVICES)
    except OSError as exc:
        pytest.fail(f"PostgreSQL is not reachable ({exc}); is bin/stack start running?", pytrace=False)
    try:
        await asyncio.wait_for(ensure_topics(s.bootstrap, s.topic_prefix), 60)
    except Exception as exc:
        pytest.fail(f"Kafka at {s.bootstrap} is not usable ({exc!r}); is bin/stack start running?")
    yield s
    await drop_run_database(stack_env, s.database)
    await delete_topics(s.bootstrap, s.topic_prefix)


@asynccontextmanager
async def isolated_stack(stack_env: dict[str, str]) -> AsyncIterator[Stack]:
    """A database and topic prefix of its own, removed on exit: for a module whose requests
    (generated or many) would change the figures other modules of the run count on."""
    s = Stack(stack_env, uuid.uuid4().hex[:10])
    root = stack_env["HUIGONG_PG_ADMIN_DSN"]
    await database.create_database(root, s.database)
    try:
        await database.provision(s.admin_dsn, {svc: s.password(svc) for svc in SERVICES})
        for svc in database.migration_order(SERVICES):
            await database.migrate(s.dsn(svc), svc)
        await database.protect_event_stores(s.admin_dsn, SERVICES)
        await asyncio.wait_for(ensure_topics(s.bootstrap, s.topic_prefix), 60)
        yield s
    finally:
        await drop_run_database(stack_env, s.database)
        await delete_topics(s.bootstrap, s.topic_prefix)


async def drop_run_database(stack_env: dict[str, str], name: str) -> None:
    """Drops a database the run made, as the cluster's superuser: a stopped service's backends
    can outlive its process for a moment, and only a superuser (or pg_signal_backend, which the
    admin role is rightly not given) may end another role's backends for DROP ... WITH (FORCE)."""
    await database.drop_database(stack_env["HUIGONG_PG_SUPERUSER_DSN"], name)


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
