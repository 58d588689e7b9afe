"""Commands that district systems publish to Kafka instead of calling HTTP.

Each district and group union has its own inbound topic, so the topic proves the sender. A record
becomes the same typed command an HTTP request would, and runs through the same command path
(policy, idempotency by its command id, one transaction). An invalid or refused record goes to
the dead-letter topic with the original record, the reason (the refusal's) and the source, and
the stream moves on: one bad record never stalls a district. Only an outage of PostgreSQL stops
the consumer, which then resumes from its last committed offset; the command ids make the
replayed records harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord
from pydantic import ValidationError

from huigong_events.outbound import FieldProblem, InboundCommandRefusedNotice
from huigong_events.reference import GROUP_UNIONS
from huigong_events.topics import DEAD_LETTER_TOPICS, INBOUND_TOPICS, submitter_of_inbound
from huigong_platform import logs
from huigong_platform.application import CommandPath
from huigong_platform.errors import validation_errors
from huigong_platform.idempotency import IdempotencyKeyReused, Outcome
from huigong_platform.kafka import consumer as make_consumer
from huigong_platform.kafka import producer as make_producer
from huigong_platform.kafka import start_producer
from huigong_platform.principals import Principal, Role
from huigong_platform.refusals import FieldError, Refusal
from huigong_platform.stalls import Membership, StallWatch, stall_limit

from ...adapters.outbound import write_notice
from ...commands import BODIES, NEEDS_APPLICATION, UNION_TAGS, InboundCommand, command_of
from ...domain.enrolments import Column

log = logs.get(__name__)

# A district's command is handled in milliseconds; aiokafka's default interval between requests
# for records, stated so the stall guard's limit follows it.
MAX_POLL_SECONDS = 300.0
# Personal columns never reach the dead-letter topic: they are replaced before it is written.
PERSONAL_COLUMNS = frozenset({Column.姓名.value, Column.身份证号.value, Column.手机号.value})
REDACTED = "[已删除]"
DEAD_LETTER_TOPIC = DEAD_LETTER_TOPICS[0]
# The dead-letter producer starts before the consumer: a broker that gives it no producer id
# must not keep the districts' commands waiting unseen (the consumer retries with a fresh one).
PRODUCER_START_DEADLINE = 30.0  # seconds
# An ID number or a mobile number anywhere else (a misnamed column, a note, a record that is not
# JSON at all) is replaced too: the districts' mistakes must not carry personal data further.
RAW_NUMBER = re.compile(r"(?<![0-9])(?:[0-9]{17}[0-9Xx]|1[3-9][0-9]{9})(?![0-9])")


def scrub(text: str) -> str:
    return RAW_NUMBER.sub(REDACTED, text)


def redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {scrub(str(k)): (REDACTED if k in PERSONAL_COLUMNS else redact(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return scrub(value)
    return value


def principal_for(submitter: str, simulated: bool) -> Principal:
    if simulated:
        return Principal(Role.SIMULATOR, submitter)
    return Principal(Role.GROUP if submitter in GROUP_UNIONS else Role.DISTRICT, submitter)


@dataclass(frozen=True)
class Refused:
    """Why a record's command was not taken: the dead letter's reason and field errors."""

    reason: str
    errors: list[FieldError]


@dataclass(frozen=True)
class Taken:
    command: InboundCommand
    outcome: Outcome


async def submit(commands: CommandPath, value: bytes | None, submitter: str) -> Taken | Refused:
    """One inbound record's command through the command path, as `submitter` (whose inbound topic
    it came from). The live consumer dead-letters what this refuses; `huigong dead-letters retry
    --inbound` runs a dead-lettered record through it again after a fix of the platform."""
    try:
        command = InboundCommand.model_validate_json(value or b"")
    except ValidationError as exc:
        return Refused("invalid command envelope", validation_errors(exc.errors()))
    if RAW_NUMBER.search(command.command_id):
        # The command id becomes the idempotency key and the events' correlation id (kept in
        # PostgreSQL, Kafka and the logs): it must not be a worker's phone or ID number.
        error = FieldError(
            "command_id",
            "命令编号不得含手机号或身份证号",
            "command_id must not contain a phone or ID number",
        )
        return Refused("invalid command id", [error])
    model = BODIES.get(command.command)
    if model is None:
        error = FieldError(
            "command", f"未知的命令：{command.command}", f"unknown command {command.command!r}"
        )
        return Refused("unknown command", [error])
    if command.command in NEEDS_APPLICATION and command.application_id is None:
        error = FieldError("application_id", "缺少申报编号", "application_id is required for this command")
        return Refused("invalid command", [error])
    try:
        body = model.model_validate(command.body)
    except ValidationError as exc:
        return Refused("invalid command body", validation_errors(exc.errors(), UNION_TAGS))
    try:
        outcome = await commands.handle(
            command_of(command.command, body, command.application_id),
            principal_for(submitter, command.simulated),
            key=f"kafka:{command.command_id}",
            correlation_id=command.command_id,
        )
    except IdempotencyKeyReused:
        error = FieldError(
            "command_id",
            "命令编号已用于另一个不同的命令",
            "this command_id was already used for a different command",
        )
        return Refused("command id reused", [error])
    except Refusal as exc:
        # The same refusal an HTTP caller gets, with the same field errors.
        return Refused(exc.reason, list(exc.errors))
    return Taken(command, outcome)


class InboundConsumer:
    def __init__(
        self,
        commands: CommandPath,
        bootstrap: str,
        topic_prefix: str = "",
        pool: asyncpg.Pool | None = None,
        session_seconds: float = 10.0,
    ) -> None:
        self._commands = commands
        self._session_seconds = session_seconds
        # Where the district hears of its refused commands (its outbound feed); None in tests
        # that run the consumer without intake's database.
        self._pool = pool
        self._bootstrap = bootstrap
        self._prefix = topic_prefix
        self._stopping = asyncio.Event()
        self.executed = 0
        self.dead_lettered = 0
        # A consumer that wedges is replaced (stalls.py); it resumes from its committed offsets,
        # and the commands it may take again are idempotent.
        self.watch = StallWatch("intake", "intake.inbound", stall_limit(MAX_POLL_SECONDS, session_seconds))

    async def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        backoff = 0.5
        while not self._stopping.is_set():
            try:
                await self.watch.guard(self._consume())
                backoff = 0.5
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(
                    "inbound consumer interrupted", error=f"{type(exc).__name__}: {exc}", retry_in=backoff
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), backoff)
                backoff = min(backoff * 2, 10.0)

    async def _consume(self) -> None:
        consumer: AIOKafkaConsumer = make_consumer(
            self._bootstrap,
            f"{self._prefix}huigong.intake.inbound",
            "huigong-intake-inbound",
            max_poll_seconds=MAX_POLL_SECONDS,
            session_seconds=self._session_seconds,
        )
        consumer.subscribe(
            [t.qualified(self._prefix) for t in INBOUND_TOPICS], listener=Membership(self.watch)
        )
        self.watch.client = consumer
        producer: AIOKafkaProducer = make_producer(self._bootstrap, "huigong-intake-dead-letters")
        await start_producer(producer, PRODUCER_START_DEADLINE)
        try:
            await consumer.start()
            while not self._stopping.is_set():
                batches = await consumer.getmany(timeout_ms=500, max_records=100)
                for records in batches.values():
                    for record in records:
                        self.watch.fed()
                        await self._handle(record, producer)
                if batches:
                    await consumer.commit()
        finally:
            self.watch.client, self.watch.in_group = None, False
            with contextlib.suppress(Exception):
                await asyncio.wait_for(consumer.stop(), 10)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), 10)

    async def _handle(self, record: ConsumerRecord[Any, Any], producer: AIOKafkaProducer) -> None:
        submitter = submitter_of_inbound(record.topic, self._prefix)
        taken = await submit(self._commands, record.value, submitter)
        if isinstance(taken, Refused):
            await self._dead_letter(producer, record, submitter, taken.reason, taken.errors)
            return
        command, outcome = taken.command, taken.outcome
        self.executed += 1
        log.info(
            "inbound command executed",
            command=command.command,
            command_id=command.command_id,
            submitter=submitter,
            offset=record.offset,
            replayed=outcome.replayed,
        )
        # Rows of an enrolment batch are judged one by one: each rejected row is a dead letter
        # of its own, so the district sees exactly which rows to fix (without personal data).
        for rejected in outcome.body.get("rejected", []) if not outcome.replayed else []:
            errors = [FieldError(e["field"], e["zh"], e["en"]) for e in rejected["errors"]]
            await self._dead_letter(
                producer, record, submitter, f"row {rejected['row']} refused", errors, row=rejected["row"]
            )

    async def _dead_letter(
        self,
        producer: AIOKafkaProducer,
        record: ConsumerRecord[Any, Any],
        submitter: str,
        reason: str,
        errors: list[FieldError],
        row: int | None = None,
    ) -> None:
        try:
            original: Any = redact(json.loads(record.value or b""))
        except ValueError:
            original = scrub((record.value or b"").decode("utf-8", "replace")[:10_000])
        if row is not None and isinstance(original, dict):
            rows = original.get("body", {}).get("rows", [])
            original = {
                **{k: v for k, v in original.items() if k != "body"},
                "row": row,
                "row_content": rows[row - 1] if 0 < row <= len(rows) else None,
            }
        letter = {
            "id": str(uuid.uuid4()),
            "reason": reason,
            "errors": [{"field": e.field, "zh": e.zh, "en": e.en} for e in errors],
            "source": {
                "submitter": submitter,
                "topic": record.topic,
                "partition": record.partition,
                "offset": record.offset,
            },
            "original": original,
            "at": datetime.now(UTC).isoformat(),
        }
        await producer.send_and_wait(
            DEAD_LETTER_TOPIC.qualified(self._prefix),
            value=json.dumps(letter, ensure_ascii=False).encode(),
            key=scrub(record.key.decode("utf-8", "replace")).encode() if record.key else None,
            headers=[("huigong-reason", reason.encode()), ("huigong-source", submitter.encode())],
        )
        if row is None:  # a refused row is told in its batch's notice (written with the batch)
            await self._tell_district(record, submitter, original, reason, errors)
        self.dead_lettered += 1
        log.info(
            "inbound record dead-lettered",
            submitter=submitter,
            reason=reason,
            offset=record.offset,
            fields=[e.field for e in errors],
        )

    async def _tell_district(
        self,
        record: ConsumerRecord[Any, Any],
        submitter: str,
        original: Any,
        reason: str,
        errors: list[FieldError],
    ) -> None:
        """The district's own notice of the refusal, after the dead letter is written and before
        the offset is committed: a record read again finds its notice there (unique source)."""
        if self._pool is None:
            return
        command_id = original.get("command_id") if isinstance(original, dict) else None
        command = original.get("command") if isinstance(original, dict) else None
        notice = InboundCommandRefusedNotice(
            district=submitter,
            record_id=scrub(command_id)[:200]
            if isinstance(command_id, str) and command_id
            else f"offset-{record.offset}",
            occurred_at=datetime.now(UTC),
            command=scrub(command)[:100] if isinstance(command, str) else None,
            reason=reason,
            errors=[FieldProblem(field=scrub(e.field), zh=scrub(e.zh), en=scrub(e.en)) for e in errors],
            offset=record.offset,
        )
        source = f"inbound:{record.topic}:{record.partition}:{record.offset}"
        async with self._pool.acquire() as conn, conn.transaction():
            await write_notice(conn, notice, source)
