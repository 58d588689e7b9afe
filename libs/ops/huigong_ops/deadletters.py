"""`huigong dead-letters`: list, show, retry and skip the records a projection could not apply.

How a letter is read, retried and skipped is `huigong_platform.dead_letters` (the services' own
`/dead-letters` routes run the same code): this module connects to a service's schema with the
operator's DSN, finds the projection or reaction of the letter's consumer (`registry.py`) and
turns a refusal into the command line's error (exit 2). A retry whose record fails again is
recorded and answered with `ok: false` (exit 1).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator, Mapping, Sequence

import asyncpg

from huigong_platform.database import create_pool
from huigong_platform.dead_letters import (
    STATUSES,
    Action,
    ActionResult,
    DeadLetterRefused,
    LetterDetail,
    LetterSummary,
    letter,
    letters,
    resolve_on,
)
from huigong_platform.eventstore import EventStore
from huigong_platform.subscriptions import Applier

from .common import OpsError, check_service
from .registry import ProjectionFactory, factory_for

__all__ = [
    "STATUSES",
    "Action",
    "ActionResult",
    "LetterDetail",
    "LetterSummary",
    "MissingTables",
    "list_letters",
    "resolve",
    "show_letter",
]


class MissingTables(OpsError):
    """The service's schema has no runner tables (not migrated yet)."""


@contextlib.asynccontextmanager
async def _connect(dsn: str, service: str) -> AsyncIterator[asyncpg.Connection[asyncpg.Record]]:
    schema = check_service(service)
    try:
        conn = await asyncpg.connect(dsn, server_settings={"search_path": schema})
    except (OSError, asyncpg.PostgresError) as exc:
        raise OpsError(f"数据库无法连接 cannot connect to PostgreSQL: {exc}") from exc
    try:
        if not await conn.fetchval("SELECT to_regclass($1)", f"{schema}.dead_letters"):
            raise MissingTables(f"{schema}.dead_letters 不存在 does not exist (is the service migrated?)")
        yield conn
    finally:
        await conn.close()


async def list_letters(
    dsn: str,
    services: Sequence[str],
    status: str = "open",
    consumer: str | None = None,
    limit: int = 200,
) -> list[LetterSummary]:
    found: list[LetterSummary] = []
    for service in services:
        try:
            async with _connect(dsn, service) as conn:
                found.extend((await letters(conn, service, status, consumer, limit))[1])
        except MissingTables:
            if len(services) == 1:
                raise  # asked for this service: say so; listing all: it simply has none
        except DeadLetterRefused as refused:
            raise OpsError(str(refused)) from None
    return found


async def show_letter(dsn: str, service: str, letter_id: int) -> LetterDetail:
    async with _connect(dsn, service) as conn:
        detail = await letter(conn, service, letter_id)
    if detail is None:
        raise OpsError(f"{service}: 没有死信 no dead letter #{letter_id}")
    return detail


async def resolve(
    dsn: str,
    service: str,
    letter_id: int,
    action: Action,
    actor: str,
    reason: str,
    *,
    topic_prefix: str = "",
    projections: Mapping[str, ProjectionFactory] | None = None,
) -> ActionResult:
    """Retry or skip one dead letter (huigong_platform.dead_letters); always writes an action row."""
    check_service(service)
    if not actor.strip() or not reason.strip():
        raise OpsError("--actor 与 --reason 必填 / --actor and --reason are required")
    async with _connect(dsn, service) as probe:
        consumer = await probe.fetchval("SELECT consumer FROM dead_letters WHERE id = $1", letter_id)
    if consumer is None:
        raise OpsError(f"{service}: 没有死信 no dead letter #{letter_id}")
    projection = factory_for(consumer, projections)()
    pool = await create_pool(dsn, service, min_size=1, max_size=2)
    try:
        # A reaction appends its decisions to the service's store: bind one. (Checked without
        # importing faust: a Reaction subclass has loaded the module already.)
        reactions = sys.modules.get("huigong_platform.reactions")
        if reactions is not None and isinstance(projection, reactions.Reaction):
            projection.bind(EventStore(pool, topic_prefix))
        applier = Applier(projection, service)
        async with pool.acquire() as conn, conn.transaction():
            return await resolve_on(conn, applier, service, letter_id, action, actor, reason)
    except DeadLetterRefused as refused:
        raise OpsError(str(refused)) from None
    finally:
        await pool.close()
