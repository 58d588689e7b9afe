"""`huigong dead-letters`: list, show, retry and skip the records a projection could not apply.

Every service schema has the runner's tables (`sql/0002_subscriptions.sql`): `dead_letters` (the
record, where it was, why it failed), `parked` (later records of the same aggregate, waiting
behind it) and `dead_letter_actions` (who did what to a letter, why, and with what outcome).

Retry and skip run in one PostgreSQL transaction on the service's schema:
1. the checkpoint rows of the partitions involved are locked (`FOR UPDATE`), the same fence the
   live runner takes for each batch, so the service cannot park a new record behind the letter
   while it is being resolved;
2. retry marks the letter resolved, takes its parked records out of `parked`, and gives the letter
   and then its parked records, in offset order, to the projection's own `Applier` — the same
   code, version checks and dead-lettering as the live path. When the letter's record fails again
   everything is rolled back to a savepoint: the letter stays open with its parked records, and
   the failure is recorded as the action's outcome (exit 1);
3. skip marks the letter skipped, moves the aggregate's applied version past it (to the letter's
   version, or, for a letter whose version is unknown, to just before its first parked record),
   and applies the parked records through the `Applier`;
4. a `dead_letter_actions` row records actor, reason and outcome. A parked record that fails in
   turn becomes a new dead letter with the rest parked behind it, as the live runner would do;
   the outcome names it.

`show` never prints sealed personal data: fields ending in `_sealed` are replaced by a marker, and
a record without a readable envelope is shown by its headers and size only.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import asyncpg

from huigong_events.envelope import canonical_time, from_kafka
from huigong_platform.database import DbConnection, create_pool
from huigong_platform.eventstore import EventStore
from huigong_platform.subscriptions import Applier, RawRecord, headers_from_json

from .common import OpsError, check_service, mask_sealed
from .registry import ProjectionFactory, factory_for

STATUSES = ("open", "retried", "skipped")
Action = Literal["retry", "skip"]


@dataclass
class LetterSummary:
    service: str
    id: int
    consumer: str
    topic: str
    partition: int
    offset: int
    event_type: str | None
    aggregate_type: str | None
    aggregate_id: str | None
    aggregate_version: int | None
    reason: str
    error_class: str
    status: str
    created_at: datetime
    parked: int
    resolved_at: datetime | None = None
    resolved_by: str | None = None

    def to_json(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        for key in ("created_at", "resolved_at"):
            out[key] = out[key].isoformat() if out[key] else None
        return out


@dataclass
class LetterDetail:
    summary: LetterSummary
    envelope: dict[str, Any] | None
    envelope_error: str | None
    headers: list[tuple[str, str]]
    value_bytes: int
    resolution: str | None
    parked: list[dict[str, Any]]
    actions: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {
            **self.summary.to_json(),
            "resolution": self.resolution,
            "envelope": self.envelope,
            "envelope_error": self.envelope_error,
            "headers": None if self.envelope else [list(h) for h in self.headers],
            "value_bytes": self.value_bytes,
            "parked_records": self.parked,
            "actions": self.actions,
        }


@dataclass
class ActionResult:
    service: str
    letter_id: int
    action: Action
    ok: bool
    outcome: str
    action_id: int
    applied: int = 0
    duplicates: int = 0
    parked_released: int = 0
    new_letters: list[int] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


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


_SUMMARY = """SELECT d.id, d.consumer, d.topic, d.partition, d."offset", d.event_type, d.aggregate_type,
       d.aggregate_id, d.aggregate_version, d.reason, d.error_class, d.status, d.created_at,
       d.resolved_at, d.resolved_by,
       (SELECT count(*) FROM parked p WHERE p.dead_letter_id = d.id) AS parked
  FROM dead_letters d"""


def _summary(service: str, r: asyncpg.Record) -> LetterSummary:
    return LetterSummary(
        service=service,
        id=r["id"],
        consumer=r["consumer"],
        topic=r["topic"],
        partition=r["partition"],
        offset=r["offset"],
        event_type=r["event_type"],
        aggregate_type=r["aggregate_type"],
        aggregate_id=r["aggregate_id"],
        aggregate_version=r["aggregate_version"],
        reason=r["reason"],
        error_class=r["error_class"],
        status=r["status"],
        created_at=r["created_at"],
        parked=r["parked"],
        resolved_at=r["resolved_at"],
        resolved_by=r["resolved_by"],
    )


async def list_letters(
    dsn: str,
    services: Sequence[str],
    status: str = "open",
    consumer: str | None = None,
    limit: int = 200,
) -> list[LetterSummary]:
    if status != "all" and status not in STATUSES:
        raise OpsError(f"status must be one of {', '.join(STATUSES)} or all")
    letters: list[LetterSummary] = []
    for service in services:
        try:
            async with _connect(dsn, service) as conn:
                rows = await conn.fetch(
                    _SUMMARY
                    + " WHERE ($1 = 'all' OR d.status = $1) AND ($2::text IS NULL OR d.consumer = $2)"
                    " ORDER BY d.id LIMIT $3",
                    status,
                    consumer,
                    limit,
                )
                letters.extend(_summary(service, r) for r in rows)
        except MissingTables:
            if len(services) == 1:
                raise  # asked for this service: say so; listing all: it simply has none
    return letters


def describe_record(
    value: bytes | None, headers: Sequence[tuple[str, bytes]]
) -> tuple[dict[str, Any] | None, str | None]:
    """The envelope fields and masked data of a stored record, or why it has none."""
    try:
        record = from_kafka(value, headers)
    except ValueError as exc:
        return None, str(exc)[:500]
    envelope: dict[str, Any] = {
        "id": str(record.id),
        "type": record.type,
        "schema_version": record.schema_version,
        "aggregate_type": record.aggregate_type,
        "aggregate_id": record.aggregate_id,
        "aggregate_version": record.aggregate_version,
        "occurred_at": canonical_time(record.occurred_at),
        "recorded_at": canonical_time(record.recorded_at),
        "actor": record.actor,
        "source": record.source,
        "correlation_id": record.correlation_id,
        "causation_id": record.causation_id,
        "prev_hash": record.prev_hash,
        "hash": record.hash,
        "hash_valid": record.hash_is_valid(),
        "data": mask_sealed(record.data),
    }
    return envelope, None


async def show_letter(dsn: str, service: str, letter_id: int) -> LetterDetail:
    async with _connect(dsn, service) as conn:
        row = await conn.fetchrow(_SUMMARY + " WHERE d.id = $1", letter_id)
        if row is None:
            raise OpsError(f"{service}: 没有死信 no dead letter #{letter_id}")
        raw = await conn.fetchrow(
            "SELECT record_value, record_headers, resolution FROM dead_letters WHERE id = $1", letter_id
        )
        assert raw is not None
        parked = await conn.fetch(
            """SELECT topic, partition, "offset", aggregate_version, parked_at, record_headers
               FROM parked WHERE dead_letter_id = $1 ORDER BY topic, partition, "offset\"""",
            letter_id,
        )
        actions = await conn.fetch(
            "SELECT id, action, actor, reason, outcome, at FROM dead_letter_actions "
            "WHERE dead_letter_id = $1 ORDER BY id",
            letter_id,
        )
    headers = headers_from_json(raw["record_headers"])
    envelope, error = describe_record(raw["record_value"], headers)
    return LetterDetail(
        summary=_summary(service, row),
        envelope=envelope,
        envelope_error=error,
        headers=[(k, v.decode("utf-8", "replace")) for k, v in headers],
        value_bytes=len(raw["record_value"] or b""),
        resolution=raw["resolution"],
        parked=[
            {
                "topic": p["topic"],
                "partition": p["partition"],
                "offset": p["offset"],
                "aggregate_version": p["aggregate_version"],
                "event_type": dict(headers_from_json(p["record_headers"]))
                .get("ce_type", b"")
                .decode("utf-8", "replace")
                or None,
                "parked_at": p["parked_at"].isoformat(),
            }
            for p in parked
        ],
        actions=[
            {
                "id": a["id"],
                "action": a["action"],
                "actor": a["actor"],
                "reason": a["reason"],
                "outcome": a["outcome"],
                "at": a["at"].isoformat(),
            }
            for a in actions
        ],
    )


def _raw(row: asyncpg.Record) -> RawRecord:
    return RawRecord(
        row["topic"],
        row["partition"],
        row["offset"],
        row["record_key"],
        row["record_value"],
        headers_from_json(row["record_headers"]),
    )


class _RetryFailed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


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
    """Retry or skip one dead letter (see the module docstring); always writes an action row."""
    check_service(service)
    actor, reason = actor.strip(), reason.strip()
    if not actor or not reason:
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
            return await _resolve_in(conn, applier, service, letter_id, action, actor, reason)
    finally:
        await pool.close()


async def _resolve_in(
    conn: DbConnection,
    applier: Applier,
    service: str,
    letter_id: int,
    action: Action,
    actor: str,
    reason: str,
) -> ActionResult:
    consumer = applier.projection.name
    positions = await conn.fetch(
        """SELECT topic, partition FROM dead_letters WHERE id = $1
           UNION SELECT topic, partition FROM parked WHERE dead_letter_id = $1
           ORDER BY 1, 2""",
        letter_id,
    )
    for p in positions:  # the live runner's fence, in a fixed order
        await conn.execute(
            "SELECT 1 FROM checkpoints WHERE consumer = $1 AND topic = $2 AND partition = $3 FOR UPDATE",
            consumer,
            p["topic"],
            p["partition"],
        )
    letter = await conn.fetchrow("SELECT * FROM dead_letters WHERE id = $1 FOR UPDATE", letter_id)
    assert letter is not None
    if letter["status"] != "open":
        raise OpsError(
            f"死信 #{letter_id} 已处理 is already {letter['status']} "
            f"(by {letter['resolved_by']} at {letter['resolved_at']})"
        )
    key = (letter["aggregate_type"], letter["aggregate_id"])
    if key[0] is not None and key[1] is not None:
        earlier = await conn.fetchval(
            """SELECT min(id) FROM dead_letters WHERE consumer = $1 AND aggregate_type = $2
               AND aggregate_id = $3 AND status = 'open' AND id < $4""",
            consumer,
            key[0],
            key[1],
            letter_id,
        )
        if earlier is not None:
            raise OpsError(
                f"同一聚合有更早的死信 an earlier open dead letter #{earlier} blocks this aggregate; "
                "resolve it first"
            )
    parked_rows = await conn.fetch(
        """SELECT * FROM parked WHERE consumer = $1 AND dead_letter_id = $2
           ORDER BY topic, partition, "offset\"""",
        consumer,
        letter_id,
    )
    parked = [_raw(r) for r in parked_rows]

    async def release() -> None:
        status = "retried" if action == "retry" else "skipped"
        await conn.execute(
            """UPDATE dead_letters SET status = $2, resolved_at = now(), resolved_by = $3,
                   resolution = $4 WHERE id = $1""",
            letter_id,
            status,
            actor,
            reason,
        )
        await conn.execute(
            "DELETE FROM parked WHERE consumer = $1 AND dead_letter_id = $2", consumer, letter_id
        )

    result = ActionResult(service, letter_id, action, True, "", 0)
    if action == "retry":
        try:
            async with conn.transaction():  # savepoint: a failed retry leaves everything as it was
                await release()
                outcome = await applier.process(conn, [_raw(letter), *parked])
                after = await conn.fetchrow(
                    "SELECT status, reason FROM dead_letters WHERE id = $1", letter_id
                )
                assert after is not None
                if after["status"] == "open":
                    raise _RetryFailed(after["reason"])
        except _RetryFailed as failed:
            result.ok = False
            result.outcome = f"failed: {failed.reason}"[:2000]
        else:
            result.applied = outcome.applied
            result.duplicates = outcome.duplicates
            result.parked_released = len(parked)
            result.outcome = f"retried: {outcome.applied} applied"
            if outcome.duplicates:
                result.outcome += f", {outcome.duplicates} already applied before"
    else:
        await release()
        target = letter["aggregate_version"]
        if target is None:
            versions = [r["aggregate_version"] for r in parked_rows if r["aggregate_version"] is not None]
            target = min(versions) - 1 if versions else None
        if key[0] is not None and key[1] is not None and target:
            await conn.execute(
                """INSERT INTO applied_versions (consumer, aggregate_type, aggregate_id, aggregate_version)
                   VALUES ($1, $2, $3, $4)
                   ON CONFLICT (consumer, aggregate_type, aggregate_id)
                   DO UPDATE SET aggregate_version =
                       greatest(applied_versions.aggregate_version, EXCLUDED.aggregate_version)""",
                consumer,
                key[0],
                key[1],
                target,
            )
        released = await applier.process(conn, parked) if parked else None
        result.applied = released.applied if released else 0
        result.duplicates = released.duplicates if released else 0
        result.parked_released = len(parked)
        result.outcome = "skipped" + (f", aggregate moved to version {target}" if target else "")
        if released:
            result.outcome += f"; {released.applied} applied"

    if result.ok and parked:
        if key[0] is not None and key[1] is not None:
            new = await conn.fetch(
                """SELECT id FROM dead_letters WHERE consumer = $1 AND aggregate_type = $2
                   AND aggregate_id = $3 AND status = 'open' ORDER BY id""",
                consumer,
                key[0],
                key[1],
            )
            result.new_letters = [r["id"] for r in new]
        result.outcome += f"; {len(parked)} parked record(s) released"
        if result.new_letters:
            result.outcome += ", one failed: new dead letter " + ", ".join(
                f"#{i}" for i in result.new_letters
            )
    result.action_id = await conn.fetchval(
        """INSERT INTO dead_letter_actions (dead_letter_id, action, actor, reason, outcome)
           VALUES ($1, $2, $3, $4, $5) RETURNING id""",
        letter_id,
        action,
        actor,
        reason,
        result.outcome,
    )
    return result
