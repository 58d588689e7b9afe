"""PostgreSQL: provisioning of the per-service roles and schemas, and the migration runner.

Layout: one database (`huigong`), one schema per service named after it, one login role per
service (`huigong_<service>`) that owns its schema and has no rights on the others, so a bug in
one service cannot write another's tables.

Migrations are numbered plain `.sql` files: first the platform's own (event store, outbox,
checkpoints, dead letters; `huigong_platform/sql/`), then the service's (`services/<s>/migrations/`).
Each runs once, in its own transaction, as the service's role, and is recorded with a checksum;
an applied file that was later edited is refused rather than silently skipped. asyncpg is
already our driver, so a migration library with its own driver would add more than it saves.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TypeAlias
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from . import logs
from .settings import SERVICES

# What asyncpg raises when the database is unreachable, restarting, overloaded or the connection
# broke in the middle of an operation (InternalClientError among them: seen when PostgreSQL
# stopped during a reaction's batch). Work that meets one is tried again whole, never judged:
# a consumer must not dead-letter a good record because the database went away under it.
OUTAGES: tuple[type[Exception], ...] = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    asyncpg.PostgresConnectionError,
    asyncpg.OperatorInterventionError,
    asyncpg.InsufficientResourcesError,
    asyncpg.TransactionRollbackError,
)

log = logs.get(__name__)

# A connection of our own or one borrowed from a pool: every query helper accepts both.
DbConnection: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"

_MIGRATION_NAME = re.compile(r"^\d{4}_[a-z0-9_]+\.sql$")
_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")
# Serialises concurrent runners (two replicas starting at once) per database.
_MIGRATION_LOCK = 0x48554947  # "HUIG"


class MigrationError(RuntimeError):
    pass


def role_name(service: str) -> str:
    return f"huigong_{service}"


def _ident(name: str) -> str:
    if not _IDENT.match(name):
        raise ValueError(f"not a safe SQL identifier: {name!r}")
    return name


def with_credentials(dsn: str, user: str, password: str, database: str | None = None) -> str:
    """The admin DSN rewritten for another login (and optionally another database)."""
    parts = urlsplit(dsn)
    host = parts.hostname or "127.0.0.1"
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    path = f"/{database}" if database else parts.path
    return urlunsplit((parts.scheme, netloc, path, parts.query, parts.fragment))


def database_of(dsn: str) -> str:
    return urlsplit(dsn).path.lstrip("/") or "postgres"


@dataclass(frozen=True)
class Migration:
    name: str  # "platform/0001_eventstore.sql" or "intake/0001_receipts.sql"
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def _files(directory: Path, namespace: str) -> list[Migration]:
    if not directory.is_dir():
        return []
    found = []
    for path in sorted(directory.iterdir()):
        if path.suffix != ".sql":
            continue
        if not _MIGRATION_NAME.match(path.name):
            raise MigrationError(f"migration file name must be NNNN_name.sql: {path}")
        found.append(Migration(f"{namespace}/{path.name}", path.read_text(encoding="utf-8")))
    return found


def platform_migrations() -> list[Migration]:
    directory = Path(str(resources.files("huigong_platform") / "sql"))
    return _files(directory, "platform")


def service_migrations_dir(service: str) -> Path:
    # services/<name>/migrations, next to the service's package directory.
    package = Path(str(resources.files(f"huigong_{service}")))
    return package.parent / "migrations"


def migrations_for(service: str) -> list[Migration]:
    return platform_migrations() + _files(service_migrations_dir(service), service)


# The `auth` schema (API keys, staff accounts and sessions, verify reports) is shared by every service: the admin
# owns it and applies its migrations in `provision`; each service role may read the keys and stamp
# when one was last used, and log people in.
AUTH_SCHEMA = "auth"
_AUTH_GRANTS = (
    "GRANT USAGE ON SCHEMA auth TO {role}",
    "GRANT SELECT ON auth.schema_migrations TO {role}",
    "GRANT SELECT, UPDATE (last_used_at) ON auth.api_keys TO {role}",
    # Logins for people (sessions.py): read accounts, open, prolong and end sessions, record
    # attempts. Accounts themselves are created and changed only by `huigong users` (admin).
    "GRANT SELECT ON auth.accounts TO {role}",
    "GRANT SELECT, INSERT, UPDATE (idle_until, revoked_at, revoked_by, revoke_reason) ON auth.sessions TO {role}",
    "GRANT SELECT, INSERT ON auth.login_attempts TO {role}",
    "GRANT USAGE ON SEQUENCE auth.login_attempts_id_seq TO {role}",
    # `huigong verify`'s reports (verify_reports.py serves them): written by the admin only.
    "GRANT SELECT ON auth.verify_reports TO {role}",
)


def auth_migrations() -> list[Migration]:
    directory = Path(str(resources.files("huigong_platform") / "sql" / AUTH_SCHEMA))
    return _files(directory, AUTH_SCHEMA)


async def _migrate_auth(conn: DbConnection, roles: list[str]) -> None:
    await conn.execute("CREATE SCHEMA IF NOT EXISTS auth")
    await conn.execute("REVOKE ALL ON SCHEMA auth FROM PUBLIC")
    await conn.execute(
        """CREATE TABLE IF NOT EXISTS auth.schema_migrations (
               name text PRIMARY KEY,
               checksum text NOT NULL,
               applied_at timestamptz NOT NULL DEFAULT now())"""
    )
    done = {
        r["name"]: r["checksum"]
        for r in await conn.fetch("SELECT name, checksum FROM auth.schema_migrations")
    }
    for migration in auth_migrations():
        if migration.name in done:
            if done[migration.name] != migration.checksum:
                raise MigrationError(
                    f"{migration.name} was edited after it was applied; add a new migration instead"
                )
            continue
        await conn.execute(migration.sql)
        await conn.execute(
            "INSERT INTO auth.schema_migrations (name, checksum) VALUES ($1, $2)",
            migration.name,
            migration.checksum,
        )
        log.info("migration applied", migration=migration.name)
    for role in roles:
        for grant in _AUTH_GRANTS:
            await conn.execute(grant.format(role=_ident(role)))


async def create_database(admin_dsn: str, database: str) -> None:
    conn = await asyncpg.connect(with_credentials_keep(admin_dsn, "postgres"))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{_ident(database)}"')
    finally:
        await conn.close()


async def drop_database(admin_dsn: str, database: str) -> None:
    conn = await asyncpg.connect(with_credentials_keep(admin_dsn, "postgres"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{_ident(database)}" WITH (FORCE)')
    finally:
        await conn.close()


def with_credentials_keep(dsn: str, database: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


async def provision(admin_dsn: str, passwords: dict[str, str]) -> None:
    """Create (or update) each service's role and schema in the admin DSN's database.

    Safe to run again: roles get their password reset to the configured one, nothing is dropped.
    """
    database = _ident(database_of(admin_dsn))
    conn = await asyncpg.connect(admin_dsn)
    try:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
            # Nobody creates objects in public or connects by default; each role gets only
            # what it needs below.
            await conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
            await conn.execute(f'REVOKE ALL ON DATABASE "{database}" FROM PUBLIC')
            for service, password in passwords.items():
                if service not in SERVICES:
                    raise ValueError(f"unknown service {service!r}")
                role = role_name(service)
                exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
                verb = "ALTER" if exists else "CREATE"
                # Passwords cannot be bound parameters in DDL; quote_literal makes them safe.
                literal = await conn.fetchval("SELECT quote_literal($1)", password)
                await conn.execute(f"{verb} ROLE {role} LOGIN PASSWORD {literal}")
                # The admin need not be a superuser (CREATEDB, CREATEROLE suffice): it makes
                # itself a member of the role, as PostgreSQL requires to create a schema owned
                # by it and later hand the schema to the records role.
                await conn.execute(f"GRANT {role} TO CURRENT_USER")
                await conn.execute(f"ALTER ROLE {role} SET search_path = {_ident(service)}")
                await conn.execute(f'GRANT CONNECT, TEMPORARY ON DATABASE "{database}" TO {role}')
                await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {_ident(service)} AUTHORIZATION {role}")
                await conn.execute(f"REVOKE ALL ON SCHEMA {service} FROM PUBLIC")
            await _migrate_auth(conn, [role_name(s) for s in passwords])
    finally:
        await conn.close()
    log.info("database provisioned", database=database, services=sorted(passwords))


def records_role(service: str) -> str:
    """The role owning a service's event store: no one logs in as it."""
    return f"huigong_{service}_records"


# What a service's login may do with its event store once `protect_event_stores` handed it to
# the records role: append and read events, write outbox rows and mark them published.
_RECORD_GRANTS = (
    "GRANT USAGE, CREATE ON SCHEMA {schema} TO {login}",
    "GRANT SELECT, INSERT ON {schema}.events TO {login}",
    "GRANT SELECT, INSERT, UPDATE (published_at) ON {schema}.outbox TO {login}",
    "GRANT USAGE, SELECT ON SEQUENCE {schema}.events_position_seq TO {login}",
    "GRANT SELECT, INSERT, UPDATE (published_at) ON {schema}.chain_checkpoints TO {login}",
)


async def protect_event_stores(admin_dsn: str, services: Iterable[str]) -> list[str]:
    """Hand each migrated service's event store (its `events`, `outbox` and `chain_checkpoints`
    tables, the guard
    function, and the schema itself) to `huigong_<service>_records`, a role without login, and
    grant the service's login only what appending needs. Only an owner may disable, replace or
    drop the guard trigger, and only a schema's or table's owner may drop a table, so the login
    the service runs as can no longer do any of it. Run after the migrations, by the admin (as
    `huigong db provision` does); safe to run again. Returns the services protected.

    A later platform migration that alters `events` or `outbox` must be applied by the admin,
    since the service's login no longer owns them. A superuser still can do anything: see
    docs/security-events.md for what the tags and signed checkpoints show of it."""
    done: list[str] = []
    conn = await asyncpg.connect(admin_dsn)
    try:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
            for service in services:
                schema, login, owner = _ident(service), role_name(service), records_role(service)
                if not await conn.fetchval("SELECT to_regclass($1)", f"{schema}.events"):
                    continue  # not migrated yet
                if not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", owner):
                    await conn.execute(f"CREATE ROLE {owner} NOLOGIN")
                # A non-superuser admin may give away only what it owns, to a role it belongs
                # to: it becomes a member of the login (the owner until now) and the records role.
                await conn.execute(f"GRANT {login}, {owner} TO CURRENT_USER")
                await conn.execute(f"ALTER SCHEMA {schema} OWNER TO {owner}")
                for table in ("events", "outbox", "chain_checkpoints"):
                    await conn.execute(f"ALTER TABLE {schema}.{table} OWNER TO {owner}")
                await conn.execute(f"ALTER FUNCTION {schema}.events_are_immutable() OWNER TO {owner}")
                for grant in _RECORD_GRANTS:
                    await conn.execute(grant.format(schema=schema, login=login))
                done.append(service)
    finally:
        await conn.close()
    log.info("event stores protected", services=done)
    return done


def migration_order(services: Iterable[str]) -> list[str]:
    """The order `provision` migrates services in: the registry's first, because intake's
    0003 hands the member data keys it held to the registry's `member_data_keys_issue`
    (registry 0007). A fresh database would do in any order."""
    return sorted(services, key=lambda service: service != "registry")


async def migrate(service_dsn: str, service: str) -> list[str]:
    """Apply the service's pending migrations as its own role; returns the names applied."""
    schema = _ident(service)
    conn = await asyncpg.connect(service_dsn, server_settings={"search_path": schema})
    applied_now: list[str] = []
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
        try:
            await conn.execute(
                """CREATE TABLE IF NOT EXISTS schema_migrations (
                       name text PRIMARY KEY,
                       checksum text NOT NULL,
                       applied_at timestamptz NOT NULL DEFAULT now())"""
            )
            done = {
                row["name"]: row["checksum"]
                for row in await conn.fetch("SELECT name, checksum FROM schema_migrations")
            }
            for migration in migrations_for(service):
                if migration.name in done:
                    if done[migration.name] != migration.checksum:
                        raise MigrationError(
                            f"{migration.name} was edited after it was applied; add a new migration instead"
                        )
                    continue
                async with conn.transaction():
                    await conn.execute(migration.sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)",
                        migration.name,
                        migration.checksum,
                    )
                applied_now.append(migration.name)
                log.info("migration applied", migration=migration.name)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)
    finally:
        await conn.close()
    return applied_now


async def pending_migrations(conn: DbConnection, service: str) -> list[str]:
    """Names not yet applied, the shared `auth` schema's included (readiness: a service is not
    ready on an old schema)."""
    exists = await conn.fetchval("SELECT to_regclass($1)", f"{_ident(service)}.schema_migrations")
    done: set[str] = set()
    if exists:
        done = {r["name"] for r in await conn.fetch(f"SELECT name FROM {service}.schema_migrations")}
    if await conn.fetchval("SELECT to_regclass('auth.schema_migrations')"):
        done |= {r["name"] for r in await conn.fetch("SELECT name FROM auth.schema_migrations")}
    return [m.name for m in auth_migrations() + migrations_for(service) if m.name not in done]


async def create_pool(dsn: str, service: str, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        server_settings={"search_path": _ident(service), "application_name": f"huigong-{service}"},
    )
    assert pool is not None
    return pool
