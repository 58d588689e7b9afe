"""`huigong`: platform set-up commands used by bin/run, docker-compose's migration job and tests,
and the auditors' and operators' commands (`verify`, `audit`, `streams`, `dead-letters`; see
`huigong_platform.ops` for what each does and how it is configured).
"""

from __future__ import annotations

import asyncio
import os

import typer

from . import database, logs
from .kafka import ensure_topics
from .ops import commands as ops_commands
from .settings import SERVICES

app = typer.Typer(help="惠工平台运维命令 / Huigong platform commands", no_args_is_help=True)
db_app = typer.Typer(help="数据库：角色、模式、迁移 / database roles, schemas, migrations")
topics_app = typer.Typer(help="Kafka 主题 / Kafka topics")
app.add_typer(db_app, name="db")
app.add_typer(topics_app, name="topics")
ops_commands.install(app)


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        typer.echo(f"missing environment variable {name}", err=True)
        raise typer.Exit(2)
    return value


def service_passwords() -> dict[str, str]:
    return {s: _env(f"HUIGONG_{s.upper()}_DB_PASSWORD") for s in SERVICES}


def service_dsn(admin_dsn: str, service: str, password: str) -> str:
    return database.with_credentials(admin_dsn, database.role_name(service), password)


@db_app.command("provision")
def provision() -> None:
    """建库、建角色和模式，并执行全部迁移 / create roles and schemas, then migrate all services."""
    logs.configure("huigong-cli")
    admin = _env("HUIGONG_PG_ADMIN_DSN")
    passwords = service_passwords()

    async def go() -> None:
        await database.create_database(admin, database.database_of(admin))
        await database.provision(admin, passwords)
        for service, password in passwords.items():
            applied = await database.migrate(service_dsn(admin, service, password), service)
            typer.echo(f"{service}: {len(applied)} migration(s) applied")

    asyncio.run(go())


@db_app.command("migrate")
def migrate(
    service: str = typer.Argument(..., help="intake | review | registry | metrics"),
) -> None:
    """执行一个服务的待执行迁移 / apply one service's pending migrations (as its own role)."""
    logs.configure("huigong-cli")
    dsn = _env("HUIGONG_DATABASE_URL")
    applied = asyncio.run(database.migrate(dsn, service))
    typer.echo(f"{service}: {len(applied)} migration(s) applied")


@topics_app.command("ensure")
def topics_ensure() -> None:
    """按目录创建缺少的主题（幂等）/ create missing catalogue topics (idempotent)."""
    logs.configure("huigong-cli")
    bootstrap = os.environ.get("HUIGONG_KAFKA_BOOTSTRAP", "127.0.0.1:19092")
    prefix = os.environ.get("HUIGONG_TOPIC_PREFIX", "")
    created = asyncio.run(ensure_topics(bootstrap, prefix))
    typer.echo(f"topics: {len(created)} created")
