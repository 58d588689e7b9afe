"""`huigong dead-letters … --inbound`: the districts' inbound commands intake could not take.

They are records on `huigong.intake.inbound.dead-letters` (written by intake's inbound consumer:
the reason, the field errors, the source position and the original with personal fields
removed), not rows of a projection's `dead_letters` table; each is named by its offset on that
topic. What operators did about them is kept in intake's `inbound_dead_letter_actions`: a letter
is open until an action on it succeeded, and every attempt, failed or not, stays for auditors.

- retry reads the original record again from the district's inbound topic (the dead letter
  holds only a copy without personal data; inbound topics keep records 30 days) and runs it
  through intake's own path for inbound records (`huigong_intake.entrypoints.kafka.inbound.submit`:
  the same parsing, policy, idempotency by command id and handlers as the live consumer), in
  this process, on intake's database. Refused again, the letter stays open and the refusal is
  the action's outcome (exit 1). A refused row of an enrolment batch is not retried: its batch
  was taken, and the district sends the corrected row in a new batch.
- skip records who and why, and closes the letter.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import asyncpg
from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord
from pydantic import ValidationError

from huigong_events.topics import DEAD_LETTER_TOPICS, submitter_of_inbound
from huigong_platform.database import create_pool

from .common import OpsError
from .scan import PartitionRange, open_consumer, partition_ranges, scan

CONSUMER = "intake.inbound"
TOPIC = DEAD_LETTER_TOPICS[0]
STATUSES = ("open", "retried", "skipped")
Action = Literal["retry", "skip"]


@dataclass
class InboundLetter:
    """One record of the inbound dead-letter topic, with what operators did about it."""

    offset: int  # on the dead-letter topic: the letter's number for show, retry and skip
    letter_id: str
    submitter: str
    source_topic: str
    source_partition: int
    source_offset: int
    command: str | None
    command_id: str | None
    row: int | None
    reason: str
    errors: list[dict[str, Any]]
    original: Any
    at: datetime | None
    status: str = "open"
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    resolution: str | None = None
    actions: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The keys of a projection's letter (`deadletters.LetterSummary`), and the letter's own."""
        return {
            "service": "intake",
            "id": self.offset,
            "consumer": CONSUMER,
            "topic": self.source_topic,
            "partition": self.source_partition,
            "offset": self.source_offset,
            "event_type": self.command,
            "aggregate_type": None,
            "aggregate_id": self.command_id,
            "aggregate_version": None,
            "reason": self.reason,
            "error_class": "inbound",
            "status": self.status,
            "created_at": self.at.isoformat() if self.at else None,
            "parked": 0,
            "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None,
            "resolved_by": self.resolved_by,
            "inbound": True,
            "letter_id": self.letter_id,
            "submitter": self.submitter,
            "row": self.row,
            "errors": self.errors,
            "resolution": self.resolution,
            "original": self.original,
            "actions": self.actions,
        }


@dataclass
class InboundResult:
    letter: int
    action: Action
    ok: bool
    outcome: str
    action_id: int

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _letter(record: ConsumerRecord[Any, Any]) -> InboundLetter:
    try:
        data: dict[str, Any] = json.loads(record.value or b"")
        source = data["source"]
        original = data.get("original")
        described = original if isinstance(original, dict) else {}
        at = data.get("at")
        return InboundLetter(
            offset=record.offset,
            letter_id=str(data["id"]),
            submitter=str(source["submitter"]),
            source_topic=str(source["topic"]),
            source_partition=int(source["partition"]),
            source_offset=int(source["offset"]),
            command=described.get("command") if isinstance(described.get("command"), str) else None,
            command_id=described.get("command_id") if isinstance(described.get("command_id"), str) else None,
            row=described.get("row") if isinstance(described.get("row"), int) else None,
            reason=str(data["reason"]),
            errors=list(data.get("errors") or []),
            original=original,
            at=datetime.fromisoformat(at) if isinstance(at, str) else None,
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise OpsError(f"死信 #{record.offset} 无法读取 unreadable inbound dead letter: {exc!r}") from exc


@contextlib.asynccontextmanager
async def _intake(dsn: str) -> AsyncIterator[asyncpg.Connection[asyncpg.Record]]:
    try:
        conn = await asyncpg.connect(dsn, server_settings={"search_path": "intake"})
    except (OSError, asyncpg.PostgresError) as exc:
        raise OpsError(f"数据库无法连接 cannot connect to PostgreSQL: {exc}") from exc
    try:
        if not await conn.fetchval("SELECT to_regclass('intake.inbound_dead_letter_actions')"):
            raise OpsError("intake.inbound_dead_letter_actions 不存在 does not exist (is intake migrated?)")
        yield conn
    finally:
        await conn.close()


async def _with_actions(conn: asyncpg.Connection[asyncpg.Record], letters: list[InboundLetter]) -> None:
    rows = await conn.fetch(
        """SELECT id, letter_id, action, actor, reason, ok, outcome, at
           FROM inbound_dead_letter_actions WHERE letter_id = ANY($1::text[]) ORDER BY id""",
        [letter.letter_id for letter in letters],
    )
    by_letter: dict[str, list[asyncpg.Record]] = {}
    for r in rows:
        by_letter.setdefault(r["letter_id"], []).append(r)
    for letter in letters:
        for r in by_letter.get(letter.letter_id, []):
            letter.actions.append(
                {
                    "id": r["id"],
                    "action": r["action"],
                    "actor": r["actor"],
                    "reason": r["reason"],
                    "outcome": r["outcome"],
                    "at": r["at"].isoformat(),
                }
            )
            if r["ok"]:
                letter.status = "retried" if r["action"] == "retry" else "skipped"
                letter.resolved_at, letter.resolved_by, letter.resolution = r["at"], r["actor"], r["reason"]


async def _read_letters(bootstrap: str, prefix: str, offset: int | None = None) -> list[InboundLetter]:
    name = TOPIC.qualified(prefix)
    async with open_consumer(bootstrap, "huigong-ops-inbound-letters") as consumer:
        ranges, missing = await partition_ranges(consumer, [name])
        if missing:
            raise OpsError(f"主题不存在 no topic {name} on the broker (wrong --prefix?)")
        wanted = [
            r
            if offset is None
            else PartitionRange(r.topic, r.partition, max(r.begin, offset), min(r.end, offset + 1))
            for r in ranges[name]
        ]
        letters: list[InboundLetter] = []
        async for _, _, records in scan(consumer, [r for r in wanted if r.end > r.begin]):
            letters.extend(_letter(r) for r in records)
    return letters


async def list_inbound(
    dsn: str, bootstrap: str, prefix: str, status: str = "open", limit: int = 200
) -> list[InboundLetter]:
    """The inbound dead letters with the given status ("all" for every one), oldest first."""
    if status != "all" and status not in STATUSES:
        raise OpsError(f"status must be one of {', '.join(STATUSES)} or all")
    letters = await _read_letters(bootstrap, prefix)
    async with _intake(dsn) as conn:
        await _with_actions(conn, letters)
    return [letter for letter in letters if status in ("all", letter.status)][:limit]


async def show_inbound(dsn: str, bootstrap: str, prefix: str, offset: int) -> InboundLetter:
    found = await _read_letters(bootstrap, prefix, offset)
    if not found:
        raise OpsError(f"intake: 没有入站死信 no inbound dead letter #{offset} on {TOPIC.qualified(prefix)}")
    async with _intake(dsn) as conn:
        await _with_actions(conn, found)
    return found[0]


async def _original(bootstrap: str, prefix: str, letter: InboundLetter) -> bytes | None:
    """The record the letter was made of, from the district's inbound topic."""
    tp = TopicPartition(letter.source_topic, letter.source_partition)
    async with open_consumer(bootstrap, "huigong-ops-inbound-retry") as consumer:
        ranges, missing = await partition_ranges(consumer, [letter.source_topic])
        if missing:
            raise OpsError(f"主题不存在 no topic {letter.source_topic} on the broker")
        held = next(r for r in ranges[letter.source_topic] if r.partition == letter.source_partition)
        if not held.begin <= letter.source_offset < held.end:
            raise OpsError(
                f"原始记录已过期 the original record {letter.source_topic}@{letter.source_offset} is no "
                f"longer on the broker (inbound topics keep records 30 days; it holds {held.begin}–"
                f"{held.end - 1}): ask {letter.submitter} to send the command again"
            )
        consumer.assign([tp])
        consumer.seek(tp, letter.source_offset)
        try:
            async with asyncio.timeout(30):
                while True:
                    for record in (await consumer.getmany(tp, timeout_ms=1000)).get(tp, []):
                        if record.offset == letter.source_offset:
                            value: bytes | None = record.value
                            return value
        except TimeoutError as exc:
            raise OpsError(
                f"原始记录读取超时 the original record {letter.source_topic}@{letter.source_offset} "
                "could not be read within 30 s"
            ) from exc


async def resolve_inbound(
    dsn: str,
    bootstrap: str,
    prefix: str,
    offset: int,
    action: Action,
    actor: str,
    reason: str,
) -> InboundResult:
    """Retry or skip the inbound dead letter at `offset` (see the module docstring); every
    attempt is recorded with its outcome."""
    actor, reason = actor.strip(), reason.strip()
    if not actor or not reason:
        raise OpsError("--actor 与 --reason 必填 / --actor and --reason are required")
    letter = await show_inbound(dsn, bootstrap, prefix, offset)
    if letter.status != "open":
        raise OpsError(
            f"入站死信 #{offset} 已处理 is already {letter.status} "
            f"(by {letter.resolved_by} at {letter.resolved_at})"
        )
    ok, outcome = True, "skipped"
    if action == "retry":
        if letter.row is not None:
            raise OpsError(
                f"入站死信 #{offset} 是报送批次中被拒绝的一行 is a refused row of a batch that was taken: "
                f"{letter.submitter} sends the corrected row in a new batch; skip this letter instead"
            )
        if submitter_of_inbound(letter.source_topic, prefix) != letter.submitter:
            raise OpsError(
                f"入站死信 #{offset} 的来源不符 names {letter.source_topic} for {letter.submitter}"
            )
        ok, outcome = await _submit_again(
            dsn, prefix, letter.submitter, await _original(bootstrap, prefix, letter)
        )
    async with _intake(dsn) as conn:
        try:
            action_id = await conn.fetchval(
                """INSERT INTO inbound_dead_letter_actions
                       (letter_id, letter_offset, action, actor, reason, ok, outcome)
                   VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id""",
                letter.letter_id,
                offset,
                action,
                actor,
                reason,
                ok,
                outcome[:2000],
            )
        except asyncpg.UniqueViolationError as exc:
            raise OpsError(f"入站死信 #{offset} 刚被他人处理 was resolved by someone else just now") from exc
    return InboundResult(offset, action, ok, outcome, action_id)


async def _submit_again(dsn: str, prefix: str, submitter: str, value: bytes | None) -> tuple[bool, str]:
    """The original record through intake's inbound path, here, on intake's database: (taken,
    what happened)."""
    # Imported here: only a retry needs intake's code and secrets.
    from huigong_intake.adapters.records import PostgresRecords
    from huigong_intake.adapters.vault import Vault
    from huigong_intake.entrypoints.kafka.inbound import Refused, submit
    from huigong_intake.handlers import Intake
    from huigong_intake.policy import POLICY
    from huigong_intake.settings import IntakeSettings
    from huigong_platform.application import CommandPath
    from huigong_platform.eventstore import EventStore
    from huigong_platform.unit_of_work import PostgresUnitOfWork, UnitOfWork, postgres_units

    try:
        settings = IntakeSettings(service="intake", database_url=dsn, topic_prefix=prefix)
    except ValidationError as exc:
        missing = ", ".join(f"HUIGONG_{'_'.join(map(str, e['loc'])).upper()}" for e in exc.errors())
        raise OpsError(
            f"重试需要受理服务的设置 a retry runs intake's own code and needs its settings: {missing} "
            "(run it with intake's environment, as the service has it)"
        ) from exc
    vault = Vault(settings.kek())

    def records(uow: UnitOfWork) -> PostgresRecords:
        assert isinstance(uow, PostgresUnitOfWork)
        return PostgresRecords(uow.conn, vault)

    pool = await create_pool(dsn, "intake", min_size=1, max_size=2)
    try:
        intake = Intake(records, settings.member_secret(), settings.enrolment_batch_limit)
        commands = CommandPath(
            POLICY, intake.handlers(), postgres_units(pool, EventStore(pool, prefix), "intake")
        )
        taken = await submit(commands, value, submitter)
    finally:
        await pool.close()
    if isinstance(taken, Refused):
        fields = ", ".join(f"{e.field}: {e.en}" for e in taken.errors)
        return False, f"failed: {taken.reason}" + (f" ({fields})" if fields else "")
    body = taken.outcome.body
    what = f"retried: {taken.command.command} {taken.command.command_id} answered {taken.outcome.status_code}"
    if taken.outcome.replayed:
        what += " (taken before: the first answer, nothing recorded again)"
    rejected = body.get("rejected")
    if rejected:
        what += f"; {len(rejected)} row(s) refused (told in the batch's notice)"
    return True, what
