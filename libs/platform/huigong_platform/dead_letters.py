"""Dead letters: the records a projection or reaction could not apply, read and resolved the
same way by the operator's command line (`huigong dead-letters`, huigong_ops.deadletters, which
connects to a service's schema) and by every service's own HTTP routes (`/dead-letters`,
`dead_letter_routes.py`, on the service's pool): one code path for both.

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
   the failure is recorded as the action's outcome;
3. skip marks the letter skipped, moves the aggregate's applied version past it (to the letter's
   version, or, for a letter whose version is unknown, to just before its first parked record),
   and applies the parked records through the `Applier`;
4. a `dead_letter_actions` row records actor, reason and outcome. A parked record that fails in
   turn becomes a new dead letter with the rest parked behind it, as the live runner would do;
   the outcome names it.

A letter is never shown with sealed personal data: fields ending in `_sealed` are replaced by a
marker, and a record without a readable envelope is shown by its headers and size only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import asyncpg

from huigong_events.envelope import canonical_time, from_kafka

from .database import DbConnection
from .raw_identifiers import mask_sealed
from .subscriptions import Applier, RawRecord, headers_from_json

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


class DeadLetterRefused(Exception):
    """A letter that cannot be resolved as asked: unknown, already resolved, blocked by an earlier
    one of its aggregate, or asked without an actor or reason. `field`, `zh` and `en` are what an
    HTTP refusal names; the command line prints both languages."""

    def __init__(self, field: str, zh: str, en: str, *, missing: bool = False) -> None:
        super().__init__(f"{zh} / {en}")
        self.field = field
        self.zh = zh
        self.en = en
        self.missing = missing


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


async def letters(
    conn: DbConnection,
    service: str,
    status: str = "open",
    consumer: str | None = None,
    limit: int = 200,
    offset: int = 0,
) -> tuple[int, list[LetterSummary]]:
    """The service's letters with `status` (or "all"), of one consumer if named, oldest first:
    (how many there are, the page of them)."""
    if status != "all" and status not in STATUSES:
        raise DeadLetterRefused(
            "status",
            f"状态须为 {'、'.join(STATUSES)} 或 all",
            f"status must be one of {', '.join(STATUSES)} or all",
        )
    where = " WHERE ($1 = 'all' OR d.status = $1) AND ($2::text IS NULL OR d.consumer = $2)"
    total = await conn.fetchval("SELECT count(*) FROM dead_letters d" + where, status, consumer)
    rows = await conn.fetch(
        _SUMMARY + where + " ORDER BY d.id LIMIT $3 OFFSET $4", status, consumer, limit, offset
    )
    return int(total or 0), [_summary(service, r) for r in rows]


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


async def letter(conn: DbConnection, service: str, letter_id: int) -> LetterDetail | None:
    """One letter with its record (envelope fields and masked data, or why it has none), its
    parked records and the actions taken on it; None when the service has no such letter."""
    row = await conn.fetchrow(_SUMMARY + " WHERE d.id = $1", letter_id)
    if row is None:
        return None
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


async def resolve_on(
    conn: DbConnection,
    applier: Applier,
    service: str,
    letter_id: int,
    action: Action,
    actor: str,
    reason: str,
) -> ActionResult:
    """Retry or skip one letter inside the caller's transaction (see the module docstring);
    always writes an action row. DeadLetterRefused when the letter is not open, or an earlier
    open letter of the same aggregate must be resolved first."""
    actor, reason = actor.strip(), reason.strip()
    if not actor or not reason:
        raise DeadLetterRefused("reason", "须写明处理人和原因", "an actor and a reason are required")
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
    if letter is None:
        raise DeadLetterRefused(
            "letter_id", f"没有死信 #{letter_id}", f"no dead letter #{letter_id}", missing=True
        )
    if letter["status"] != "open":
        raise DeadLetterRefused(
            "letter_id",
            f"死信 #{letter_id} 已处理（{letter['resolved_by']}，{letter['resolved_at']}）",
            f"is already {letter['status']} (by {letter['resolved_by']} at {letter['resolved_at']})",
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
            raise DeadLetterRefused(
                "letter_id",
                f"同一聚合有更早的死信 #{earlier}，请先处理它",
                f"an earlier open dead letter #{earlier} blocks this aggregate; resolve it first",
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
