"""`huigong`: platform set-up commands used by bin/run, docker-compose's migration job and tests,
the auditors' and operators' commands (`verify`, `audit`, `streams`, `dead-letters`; see
`huigong_ops` for what each does and how it is configured), `keys` to issue, list, rotate and
revoke API keys (`huigong_ops.keys`), `kafka` for the broker's users and ACLs
(`huigong_ops.kafka_acls`), and `users` for the staff accounts people log in to the console with
(`huigong_platform.accounts`).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, TypeVar

import asyncpg
import typer
from rich.console import Console
from rich.table import Table

from huigong_platform import accounts, credentials, database, logs
from huigong_platform.kafka import ensure_topics
from huigong_platform.principals import Role
from huigong_platform.settings import SERVICES

from . import commands as ops_commands
from . import event_keys, kafka_access, kafka_acls, keys, legacy_adoption
from .common import OpsConfig, OpsError

T = TypeVar("T")

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
    """建库、建角色和模式，执行全部迁移，并保护事件库 / create roles and schemas, migrate all services,
    then hand each event store to a role no service logs in as."""
    logs.configure("huigong-cli")
    admin = _env("HUIGONG_PG_ADMIN_DSN")
    passwords = service_passwords()

    async def go() -> None:
        await database.create_database(admin, database.database_of(admin))
        await database.provision(admin, passwords)
        for service in database.migration_order(passwords):
            applied = await database.migrate(service_dsn(admin, service, passwords[service]), service)
            typer.echo(f"{service}: {len(applied)} migration(s) applied")
        protected = await database.protect_event_stores(admin, passwords)
        typer.echo(f"event stores owned by their records roles: {', '.join(protected)}")

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

    async def ensure() -> list[str]:
        try:
            return await ensure_topics(bootstrap, prefix)
        except Exception as exc:
            clear = await kafka_access.explained(bootstrap, exc)
            if clear is None:
                raise
            raise clear from exc

    try:
        created = asyncio.run(ensure())
    except OpsError as exc:
        typer.secho(f"错误 error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(2) from exc
    typer.echo(f"topics: {len(created)} created")


# --- API keys ------------------------------------------------------------------------------------

keys_app = typer.Typer(
    help="API 密钥：签发、列出、轮换、吊销（均留审计记录）/ API keys: create, list, rotate, revoke (audited)",
    no_args_is_help=True,
)
app.add_typer(keys_app, name="keys")

DsnOption = Annotated[
    str | None,
    typer.Option(
        "--dsn",
        envvar="HUIGONG_PG_ADMIN_DSN",
        help="管理员 PostgreSQL 连接 / admin PostgreSQL DSN (default: HUIGONG_PG_ADMIN_DSN)",
        show_default=False,
    ),
]
ActorOption = Annotated[
    str, typer.Option("--actor", help="操作人（记入审计）/ who acts (recorded for auditors)")
]
JsonOption = Annotated[bool, typer.Option("--json", help="输出 JSON / print JSON")]
KeyringOption = Annotated[
    Path | None,
    typer.Option(
        "--keyring",
        help="把密钥写入该文件（JSON，权限 600）而不打印；文件里已有该主体的有效密钥时保留它 / store the key "
        "in this keyring file (JSON, mode 600) instead of printing it; a valid key already there is kept",
        show_default=False,
    ),
]
_DURATION = re.compile(r"^(?P<n>\d+(?:\.\d+)?)(?P<unit>[smhd]?)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "": 3600}


def duration(text: str) -> timedelta:
    """ "90s", "30m", "24h", "7d"; a bare number is hours."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise typer.BadParameter("时长格式如 30m、24h、7d / a duration such as 30m, 24h, 7d")
    return timedelta(seconds=float(match["n"]) * _UNITS[match["unit"]])


def _dsn(dsn: str | None) -> str:
    if not dsn:
        typer.secho(
            "错误 error: 需要 HUIGONG_PG_ADMIN_DSN 或 --dsn / set HUIGONG_PG_ADMIN_DSN or pass --dsn",
            err=True,
        )
        raise typer.Exit(2)
    return dsn


async def _with_conn(dsn: str, work: Callable[[asyncpg.Connection[asyncpg.Record]], Awaitable[T]]) -> T:
    conn = await asyncpg.connect(dsn)
    try:
        return await work(conn)
    finally:
        await conn.close()


def _keys_run(dsn: str | None, work: Callable[[asyncpg.Connection[asyncpg.Record]], Awaitable[T]]) -> T:
    try:
        return asyncio.run(_with_conn(_dsn(dsn), work))
    except (keys.KeyOperationError, accounts.AccountOperationError, ValueError) as exc:
        typer.secho(f"错误 error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(2) from None


def _echo_json(value: object) -> None:
    typer.echo(json.dumps(value, ensure_ascii=False, indent=2))


def _hand_over(issued: keys.IssuedKey, keyring: Path | None, json_output: bool) -> None:
    now = datetime.now(UTC)
    if keyring is not None:
        ring = credentials.Keyring.load(keyring)
        ring.put(issued.record.principal, issued.key)
        ring.save()
        if json_output:
            _echo_json({**issued.record.to_json(now), "keyring": str(keyring)})
        else:
            typer.echo(f"{issued.record.key_id}  {issued.record.principal}  → {keyring}")
        return
    if json_output:
        _echo_json({"key": issued.key, **issued.record.to_json(now)})
        return
    typer.echo(f"密钥编号 key id: {issued.record.key_id}    调用主体 principal: {issued.record.principal}")
    typer.echo(
        "密钥只显示这一次，请交给该系统妥善保存 / the key is shown this once; hand it over and keep it safe:"
    )
    typer.echo(issued.key)


async def _holds_valid(
    conn: asyncpg.Connection[asyncpg.Record], ring: credentials.Keyring, principal: str
) -> bool:
    """Whether `ring` has a key of `principal` that is still active."""
    held = ring.get(principal)
    parts = credentials.split(held) if held else None
    record = await keys.find(conn, parts[0]) if parts else None
    return (
        record is not None and record.principal == principal and record.state(datetime.now(UTC)) == "active"
    )


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option("--role", help="角色 / role: " + " | ".join(r.value for r in Role))],
    code: Annotated[
        str,
        typer.Option(
            "--code",
            help="区市或单位代码、账号 / district or group code, or account (reviewer: <area>/<name>)",
        ),
    ],
    actor: ActorOption,
    label: Annotated[str, typer.Option("--label", help="用途说明 / what the key is for")] = "",
    expires_in: Annotated[
        str | None,
        typer.Option(
            "--expires-in", help="有效期，如 90d / lifetime, e.g. 90d (default: none)", show_default=False
        ),
    ] = None,
    keyring: KeyringOption = None,
    json_output: JsonOption = False,
    dsn: DsnOption = None,
) -> None:
    """签发 API 密钥，绑定一个调用主体 / issue an API key bound to one principal.

    密钥只打印一次；数据库只保存其 SHA-256 / the key is printed once; only its SHA-256 is stored.
    """
    principal = f"{role}:{code}"
    expires_at = datetime.now(UTC) + duration(expires_in) if expires_in else None

    async def work(conn: asyncpg.Connection[asyncpg.Record]) -> keys.IssuedKey | None:
        if keyring is not None and await _holds_valid(conn, credentials.Keyring.load(keyring), principal):
            return None
        return await keys.issue(conn, principal, actor=actor, label=label, expires_at=expires_at)

    issued = _keys_run(dsn, work)
    if issued is None:
        typer.echo(f"{principal}: {keyring} 中已有有效密钥，保留 / a valid key is already in {keyring}; kept")
        return
    _hand_over(issued, keyring, json_output)


@keys_app.command("list")
def keys_list(
    role: Annotated[str | None, typer.Option("--role", help="只看该角色 / only this role")] = None,
    code: Annotated[str | None, typer.Option("--code", help="只看该代码 / only this code")] = None,
    all_keys: Annotated[
        bool, typer.Option("--all", help="包括已吊销和已过期的 / include revoked and expired keys")
    ] = False,
    json_output: JsonOption = False,
    dsn: DsnOption = None,
) -> None:
    """列出密钥（从不显示密钥本身）/ list keys (never the secrets)."""

    async def work(conn: asyncpg.Connection[asyncpg.Record]) -> list[keys.KeyRecord]:
        return await keys.list_keys(conn, role=role, code=code, include_ended=all_keys)

    records = _keys_run(dsn, work)
    now = datetime.now(UTC)
    if json_output:
        _echo_json([r.to_json(now) for r in records])
        return
    table = Table(title=f"API 密钥 keys: {len(records)}", title_justify="left")
    for column in (
        "编号 key id",
        "调用主体 principal",
        "用途 label",
        "状态 state",
        "签发 created",
        "到期 expires",
        "最近使用 last used",
    ):
        table.add_column(column, overflow="fold")
    for r in records:
        table.add_row(
            r.key_id,
            r.principal,
            r.label,
            r.state(now),
            f"{r.created_at:%Y-%m-%d %H:%M} {r.created_by}",
            f"{r.expires_at:%Y-%m-%d %H:%M}" if r.expires_at else "—",
            f"{r.last_used_at:%Y-%m-%d %H:%M}" if r.last_used_at else "—",
        )
    Console(width=200).print(table)


@keys_app.command("show")
def keys_show(
    key_id: Annotated[str, typer.Argument(help="密钥编号 / key id", show_default=False)],
    json_output: JsonOption = False,
    dsn: DsnOption = None,
) -> None:
    """查看一个密钥及其全部操作记录 / one key and every operation on it."""

    async def work(
        conn: asyncpg.Connection[asyncpg.Record],
    ) -> tuple[keys.KeyRecord, list[dict[str, object]]]:
        record = await keys.find(conn, key_id)
        if record is None:
            raise keys.KeyOperationError(f"没有该密钥 no key {key_id!r}")
        return record, await keys.history(conn, key_id)

    record, events = _keys_run(dsn, work)
    shown = {**record.to_json(datetime.now(UTC)), "history": events}
    if json_output:
        _echo_json(shown)
        return
    for name, value in shown.items():
        if name != "history":
            typer.echo(f"{name}: {value if value is not None else '—'}")
    for event in events:
        typer.echo(f"  {event['at']}  {event['action']}  {event['actor']}  {event['reason'] or ''}")


@keys_app.command("rotate")
def keys_rotate(
    key_id: Annotated[str, typer.Argument(help="要轮换的密钥编号 / key id to rotate", show_default=False)],
    actor: ActorOption,
    grace: Annotated[
        str,
        typer.Option(
            "--grace",
            help="旧密钥继续有效的时长，0 为立即吊销 / how long the old key keeps working; 0 revokes it at once",
        ),
    ] = "24h",
    keyring: KeyringOption = None,
    json_output: JsonOption = False,
    dsn: DsnOption = None,
) -> None:
    """轮换：为同一调用主体签发新密钥，旧密钥在宽限期后失效 / issue a successor for the same principal;
    the old key ends after the grace period."""
    period = duration(grace)

    async def work(conn: asyncpg.Connection[asyncpg.Record]) -> keys.IssuedKey:
        return await keys.rotate(conn, key_id, actor=actor, grace=period)

    issued = _keys_run(dsn, work)
    when = "立即失效 revoked now" if period <= timedelta(0) else f"{grace} 后失效 ends in {grace}"
    typer.echo(f"旧密钥 old key {key_id}: {when}", err=True)
    _hand_over(issued, keyring, json_output)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="密钥编号 / key id", show_default=False)],
    actor: ActorOption,
    reason: Annotated[str, typer.Option("--reason", help="理由（记入审计）/ why (recorded for auditors)")],
    json_output: JsonOption = False,
    dsn: DsnOption = None,
) -> None:
    """立即吊销密钥（各服务在缓存时间内生效，默认 5 秒）/ revoke a key now (every service refuses it
    within HUIGONG_AUTH_CACHE_SECONDS, 5 s by default)."""

    async def work(conn: asyncpg.Connection[asyncpg.Record]) -> keys.KeyRecord:
        return await keys.revoke(conn, key_id, actor=actor, reason=reason)

    record = _keys_run(dsn, work)
    if json_output:
        _echo_json(record.to_json(datetime.now(UTC)))
        return
    typer.echo(f"已吊销 revoked {record.key_id} ({record.principal}): {reason}")


# --- Kafka users and ACLs ----------------------------------------------------------------------

kafka_app = typer.Typer(
    help="Kafka 用户与访问控制 / Kafka users and ACLs (HUIGONG_KAFKA_SECURITY=scram)", no_args_is_help=True
)
app.add_typer(kafka_app, name="kafka")

LocalOption = Annotated[
    bool,
    typer.Option(
        "--local", help="包括仅用于开发的用户（模拟器）/ include development-only principals (the simulator)"
    ),
]


@kafka_app.command("secrets")
def kafka_secrets(
    path: Annotated[
        Path, typer.Argument(help="要补全的 KEY=value 文件 / file to complete, e.g. .local/secrets.env")
    ],
    local: LocalOption = False,
) -> None:
    """为缺少密码的 Kafka 用户生成密码（已有的不变）/ generate a password for each Kafka principal
    that has none in the file (existing ones are kept)."""
    added = kafka_acls.ensure_secrets(path, kafka_acls.principals(local))
    typer.echo(f"kafka passwords: {len(added)} generated in {path}")


@kafka_app.command("principals")
def kafka_principals(
    controller: Annotated[
        str | None,
        typer.Option(
            help="控制器监听地址 / controller listener host:port (a cluster: every controller, comma-separated): set admin's credentials through it first"
        ),
    ] = None,
    cluster_id: Annotated[
        str | None, typer.Option(help="拒绝其他集群的 broker / refuse a broker of another cluster (exit 2)")
    ] = None,
    wait: Annotated[
        float, typer.Option(help="等待 broker 接受 admin 登录的秒数 / seconds to wait for the broker")
    ] = 60.0,
    local: LocalOption = False,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="只列出用户和 ACL / print the principals and ACLs, change nothing"),
    ] = False,
) -> None:
    """按声明表创建 Kafka 用户和 ACL（幂等）/ make the broker's users and ACLs those of
    huigong_ops/kafka_acls.py (idempotent).

    Reads HUIGONG_KAFKA_BOOTSTRAP, HUIGONG_TOPIC_PREFIX (ACLs name prefixed topics and groups),
    HUIGONG_KAFKA_ADMIN_PASSWORD and each principal's HUIGONG_KAFKA_<NAME>_PASSWORD; a principal
    without a password gets no user and no ACLs."""
    logs.configure("huigong-cli")
    bootstrap = os.environ.get("HUIGONG_KAFKA_BOOTSTRAP", "127.0.0.1:19092")
    prefix = os.environ.get("HUIGONG_TOPIC_PREFIX", "")
    table = kafka_acls.principals(local)
    if dry_run:
        for p in table:
            typer.echo(f"{p.name} ({p.role.value}, {p.password_variable}): {p.description}")
            for acl in sorted(kafka_acls.acls_of(p, prefix)):
                typer.echo(f"    {acl.describe()}")
        return
    passwords = kafka_acls.passwords_from_env(table)
    admin_password = _env(kafka_acls.principal(kafka_acls.ADMIN).password_variable)
    try:
        outcome = asyncio.run(
            kafka_acls.apply(
                bootstrap,
                admin_password,
                table=table,
                passwords=passwords,
                prefix=prefix,
                controller=controller,
                cluster_id=cluster_id,
                wait=wait,
            )
        )
    except kafka_acls.WrongClusterError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    except kafka_acls.KafkaSecurityError as exc:
        typer.echo(f"kafka principals: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"kafka: cluster {outcome.cluster_id}, broker {', '.join(outcome.brokers)}, prefix {prefix!r}")
    typer.echo(f"kafka users: admin and {len(outcome.users)} more ({kafka_acls.MECHANISM})")
    if outcome.without_password:
        typer.echo(f"kafka users without a password (no access): {', '.join(outcome.without_password)}")
    typer.echo(
        f"kafka ACLs: {outcome.acls_wanted} granted, {len(outcome.acls_added)} added, "
        f"{len(outcome.acls_removed)} removed"
    )
    for acl in outcome.acls_removed:
        typer.echo(f"    removed: {acl.describe()}")


@keys_app.command("ensure")
def keys_ensure(
    keyring: Annotated[
        Path, typer.Argument(help="密钥文件 / keyring file (JSON, mode 600)", show_default=False)
    ],
    principals: Annotated[
        list[str], typer.Argument(help="调用主体，如 simulator:370202 / principals, e.g. simulator:370202")
    ],
    actor: ActorOption,
    label: Annotated[str, typer.Option("--label", help="用途说明 / what the keys are for")] = "",
    dsn: DsnOption = None,
) -> None:
    """确保密钥文件里有每个调用主体的有效密钥，缺的才签发 / make sure the keyring holds a valid key of
    each principal, issuing only the missing ones (bin/run; safe to run again)."""

    async def work(conn: asyncpg.Connection[asyncpg.Record]) -> list[str]:
        ring = credentials.Keyring.load(keyring)
        issued = []
        for principal in principals:
            if await _holds_valid(conn, ring, principal):
                continue
            new = await keys.issue(conn, principal, actor=actor, label=label)
            ring.put(principal, new.key)
            issued.append(principal)
        ring.save()
        return issued

    issued = _keys_run(dsn, work)
    typer.echo(f"{keyring}: {len(issued)} 个新密钥 issued, {len(principals) - len(issued)} 个保留 kept")


@keys_app.command("policy")
def keys_policy() -> None:
    """打印每个接口的访问规则（Markdown 表）/ print who may call each endpoint (a Markdown table)."""
    from huigong_platform.policy import markdown

    typer.echo(markdown(SERVICES))


events_app = typer.Typer(help="事件密钥与检查点公钥 / event keys and checkpoint public keys")
events_keys_app = typer.Typer(help="各服务的事件密钥 / the services' event keys")
events_app.add_typer(events_keys_app, name="keys")
app.add_typer(events_app, name="events")

SecretsFile = Annotated[
    Path, typer.Argument(help="密钥文件（KEY=value）/ secrets file, e.g. .local/secrets.env or .env")
]


@events_keys_app.command("ensure")
def events_keys_ensure(path: SecretsFile) -> None:
    """生成缺少的事件密钥和检查点密钥（已有的不变）/ generate the event keys and checkpoint keys
    the file lacks (existing ones are kept)."""
    added = event_keys.ensure(path)
    typer.echo(f"event keys: {', '.join(added) or 'nothing'} added to {path}")


@events_keys_app.command("rotate")
def events_keys_rotate(
    path: SecretsFile,
    service: Annotated[str, typer.Option("--service", "-s", help="服务 / service")],
) -> None:
    """为服务增加下一版本的事件密钥，旧版本保留 / add the next version of a service's event key,
    keeping the old ones (records tagged under them still verify). Restart every service after."""
    if service not in SERVICES:
        typer.secho(f"错误 error: unknown service {service!r}", err=True, fg=typer.colors.RED)
        raise typer.Exit(2)
    key_id = event_keys.rotate(path, service)
    typer.echo(f"{key_id} added to {path}; restart every service so that all hold it")


@events_keys_app.command("public")
def events_keys_public(
    json_output: Annotated[bool, typer.Option("--json", help="JSON 输出 / JSON output")] = False,
) -> None:
    """打印检查点公钥（供审计方核验）/ print the checkpoint public keys, to publish for auditors
    (from HUIGONG_CHECKPOINT_KEYS and HUIGONG_<SERVICE>_CHECKPOINT_KEY)."""
    keys = event_keys.public_keys(os.environ)
    if json_output:
        _echo_json(keys)
    else:
        for key_id, public in keys.items():
            typer.echo(f"{key_id}  {public}")


@events_app.command("adopt-legacy")
def events_adopt_legacy(
    actor: Annotated[
        str, typer.Option("--actor", help="操作人（记入清单）/ who adopts (recorded in the manifest)")
    ],
    out: Annotated[
        Path, typer.Option("--out", help="清单写入的目录 / directory the manifests are written to")
    ],
    service: Annotated[
        list[str] | None,
        typer.Option(
            "--service", "-s", help="服务（可重复，默认全部）/ service (repeatable; all by default)"
        ),
    ] = None,
    bootstrap: ops_commands.BootstrapOpt = None,
    prefix: ops_commands.PrefixOpt = None,
    dsn: ops_commands.DsnOpt = None,
) -> None:
    """认可打标签之前记录的事件 / adopt the events recorded before tags existed.

    Verifies each service's topics and event store as `huigong verify` does, letting records
    without any tag through and noting them; when nothing is found, writes one adoption manifest
    per service (<out>/<service>-legacy-adoption.json: every untagged event's id and hash, the
    actor, signed with the service's checkpoint key and tagged with its event key). Give the
    manifests to every service and to `verify` in HUIGONG_LEGACY_ADOPTIONS. Exits 1 without a
    manifest when the verification finds anything."""
    config = OpsConfig.resolve(bootstrap, prefix, dsn)
    services = service or list(SERVICES)
    unknown = sorted(set(services) - set(SERVICES))
    if unknown or config.dsn is None:
        typer.secho(
            f"错误 error: unknown service {unknown}"
            if unknown
            else "错误 error: HUIGONG_PG_ADMIN_DSN or --dsn is required",
            err=True,
            fg=typer.colors.RED,
        )
        raise typer.Exit(2)
    try:
        adoption = asyncio.run(
            legacy_adoption.adopt_legacy(
                config.bootstrap,
                config.prefix,
                config.dsn,
                services,
                actor,
                os.environ,
                event_keys.public_keys(os.environ),
            )
        )
    except ValueError as exc:
        typer.secho(f"错误 error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(2) from exc
    if not adoption.report.ok:
        typer.secho(
            "核验未通过，未认可任何事件 / the verification found problems; nothing adopted:", err=True
        )
        for problem in adoption.report.problems[:20]:
            if problem.failure:
                typer.echo(
                    f"  {problem.kind.value}  {problem.topic}  {problem.event_id or ''}  {problem.detail}",
                    err=True,
                )
        raise typer.Exit(1)
    out.mkdir(parents=True, exist_ok=True)
    for manifest in adoption.manifests:
        path = out / f"{manifest.service}-legacy-adoption.json"
        path.write_bytes(manifest.to_json_bytes())
        typer.echo(f"{manifest.service}: {len(manifest.events)} untagged events adopted → {path}")
    if not adoption.manifests:
        typer.echo("no untagged event: nothing to adopt")


# --- staff accounts (console logins) ----------------------------------------------------------------

users_app = typer.Typer(
    help="工作人员账号（登录工作台）：创建、重置密码、停用、启用、列出（均留审计记录）/ staff accounts for the "
    "console: create, reset, disable, enable, list (audited)",
    no_args_is_help=True,
)
app.add_typer(users_app, name="users")
ReasonOption = Annotated[str, typer.Option("--reason", help="理由（记入审计）/ why (recorded for auditors)")]
UsernameArgument = Annotated[str, typer.Argument(help="用户名 / username", show_default=False)]


def _hand_over_password(username: str, password: str) -> None:
    typer.echo(f"用户名 username: {username}")
    typer.echo("密码只显示这一次，请交给本人 / the password is shown this once; hand it to the person:")
    typer.echo(password)


@users_app.command("create")
def users_create(
    username: UsernameArgument,
    principal: Annotated[
        str,
        typer.Option(
            "--principal",
            help="绑定的调用主体，与 API 密钥相同 / the principal, as for keys: district:370202, reviewer:city/wang",
        ),
    ],
    name: Annotated[str, typer.Option("--name", help="姓名或单位名称 / the person's name")],
    actor: ActorOption,
    demo: Annotated[bool, typer.Option("--demo", help="演示账号 / a demo account (marked 演示)")] = False,
    json_output: JsonOption = False,
    dsn: DsnOption = None,
) -> None:
    """创建账号并生成密码（只打印一次）/ create an account with a generated password (printed once)."""
    password = accounts.new_password()

    async def work(conn: asyncpg.Connection[asyncpg.Record]) -> accounts.Account:
        return await accounts.create(
            conn, username, principal, display_name=name, password=password, actor=actor, demo=demo
        )

    account = _keys_run(dsn, work)
    if json_output:
        _echo_json({**account.to_json(), "password": password})
        return
    _hand_over_password(account.username, password)


@users_app.command("reset")
def users_reset(
    username: UsernameArgument, actor: ActorOption, reason: ReasonOption, dsn: DsnOption = None
) -> None:
    """重置密码（只打印一次），并结束该账号的全部会话 / a new password (printed once); ends the account's sessions."""
    password = accounts.new_password()

    async def work(conn: asyncpg.Connection[asyncpg.Record]) -> accounts.Account:
        return await accounts.reset_password(conn, username, password, actor=actor, reason=reason)

    _keys_run(dsn, work)
    _hand_over_password(username, password)


@users_app.command("disable")
def users_disable(
    username: UsernameArgument, actor: ActorOption, reason: ReasonOption, dsn: DsnOption = None
) -> None:
    """停用账号：不能再登录，已登录的会话立即结束 / no more logins; open sessions end at once."""

    async def work(conn: asyncpg.Connection[asyncpg.Record]) -> accounts.Account:
        return await accounts.disable(conn, username, actor=actor, reason=reason)

    account = _keys_run(dsn, work)
    typer.echo(f"{account.username} ({account.principal}) 已停用 disabled")


@users_app.command("enable")
def users_enable(
    username: UsernameArgument, actor: ActorOption, reason: ReasonOption, dsn: DsnOption = None
) -> None:
    """重新启用已停用的账号 / enable a disabled account again."""

    async def work(conn: asyncpg.Connection[asyncpg.Record]) -> accounts.Account:
        return await accounts.enable(conn, username, actor=actor, reason=reason)

    account = _keys_run(dsn, work)
    typer.echo(f"{account.username} ({account.principal}) 已启用 enabled")


@users_app.command("list")
def users_list(
    all_accounts: Annotated[
        bool, typer.Option("--all", help="包括已停用的 / include disabled accounts")
    ] = False,
    json_output: JsonOption = False,
    dsn: DsnOption = None,
) -> None:
    """列出账号（从不显示密码）/ list accounts (never a password)."""

    async def work(conn: asyncpg.Connection[asyncpg.Record]) -> list[accounts.Account]:
        return await accounts.list_accounts(conn, include_disabled=all_accounts)

    found = _keys_run(dsn, work)
    if json_output:
        _echo_json([a.to_json() for a in found])
        return
    table = Table(title=f"工作人员账号 accounts: {len(found)}", title_justify="left")
    for column in ("username", "name", "principal", "state", "created", "by"):
        table.add_column(column)
    for a in found:
        table.add_row(
            a.username,
            a.display_name,
            a.principal,
            a.state,
            a.created_at.strftime("%Y-%m-%d %H:%M"),
            a.created_by,
        )
    Console().print(table)


@users_app.command("show")
def users_show(username: UsernameArgument, dsn: DsnOption = None) -> None:
    """一个账号及其审计记录 / one account and its audit trail (JSON)."""

    async def work(
        conn: asyncpg.Connection[asyncpg.Record],
    ) -> tuple[accounts.Account | None, list[dict[str, object]]]:
        return await accounts.find(conn, username), await accounts.history(conn, username)

    account, events = _keys_run(dsn, work)
    if account is None:
        typer.secho(f"错误 error: 没有该用户 no account {username!r}", err=True, fg=typer.colors.RED)
        raise typer.Exit(2)
    _echo_json({**account.to_json(), "events": events})


@users_app.command("demo")
def users_demo(
    file: Annotated[
        Path,
        typer.Argument(
            help="演示账号密码文件 / where the demo passwords are kept (mode 600)", show_default=False
        ),
    ],
    actor: ActorOption,
    dsn: DsnOption = None,
) -> None:
    """确保每个角色都有演示账号（标注“演示”），密码写入文件 / make sure every role has a demo account
    (marked 演示), with its password in FILE (bin/run; safe to run again)."""

    async def work(conn: asyncpg.Connection[asyncpg.Record]) -> list[str]:
        return await accounts.ensure_demo_accounts(conn, file, actor=actor)

    created = _keys_run(dsn, work)
    typer.echo(
        f"{file}: {len(created)} 个新演示账号 new demo accounts, {len(accounts.DEMO_ACCOUNTS) - len(created)} 个保留 kept"
    )
