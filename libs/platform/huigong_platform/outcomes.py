"""Every trigger a reaction has passed has its outcome: the check that makes a lost decision loud.

A reaction declares, per trigger type, the event types one of which it always records as the
trigger's consequence (`Reaction.outcomes`: an EnrolmentRequested ends in MemberEnrolled or
MemberReportedAgain). A trigger below the reaction's stored checkpoint was decided in the
transaction that moved the checkpoint past it, so it must have one of those events caused by it
(`causation_id`) in the reaction's own store, or be one of the reaction's dead letters or parked
records (a rejection, waiting for a person). Anything else is a trigger the platform accepted and
then dropped: it is named, counted in `huigong_triggers_without_outcome`, and logged as an error.

Two callers: the services check themselves incrementally in the background (`OutcomeWatch`), and
`huigong reconcile` checks a whole log for an operator or auditor. Triggers are read from Kafka,
headers only (their id and type): no body is decoded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import asyncpg
from aiokafka import TopicPartition

from . import logs, telemetry
from .database import OUTAGES, DbConnection
from .kafka import consumer as make_consumer

log = logs.get(__name__)


@dataclass(frozen=True)
class Trigger:
    event_id: str
    type: str
    topic: str
    partition: int
    offset: int


@dataclass
class Reconciled:
    """One reaction's triggers below its checkpoint, and those without an outcome."""

    reaction: str
    service: str
    triggers: int = 0
    answered: int = 0
    held: int = 0  # dead-lettered or parked by the reaction
    missing: list[Trigger] = field(default_factory=list)


def _header(headers: Sequence[tuple[str, bytes]], name: str) -> str | None:
    for key, value in headers:
        if key == name:
            return value.decode("utf-8", "replace")
    return None


async def read_triggers(
    bootstrap: str,
    since: Mapping[TopicPartition, int],
    until: Mapping[TopicPartition, int],
    types: Iterable[str],
    client_id: str,
    chunk: int = 20_000,
) -> AsyncIterator[list[Trigger]]:
    """The records of the wanted types in [since, until) of each partition (headers only), in
    lists of up to `chunk`, so that a log of millions is checked in constant memory."""
    wanted = frozenset(types)
    ranges = {tp: (since.get(tp, 0), end) for tp, end in until.items() if end > since.get(tp, 0)}
    if not ranges:
        return
    consumer = make_consumer(bootstrap, None, client_id)
    await asyncio.wait_for(consumer.start(), 30)
    found: list[Trigger] = []
    try:
        consumer.assign(list(ranges))
        for tp, (begin, _) in ranges.items():
            consumer.seek(tp, begin)
        open_ranges = dict(ranges)
        while open_ranges:
            batches = await consumer.getmany(*open_ranges, timeout_ms=1000, max_records=5000)
            if not batches:
                # Nothing more below `until` (a range whose records the broker no longer has).
                for tp in list(open_ranges):
                    if await consumer.position(tp) >= open_ranges[tp][1]:
                        open_ranges.pop(tp)
                continue
            for tp, records in batches.items():
                end = open_ranges.get(tp, (0, 0))[1]
                for record in records:
                    if record.offset >= end:
                        break
                    headers = tuple(record.headers or ())
                    kind = _header(headers, "ce_type")
                    event_id = _header(headers, "ce_id")
                    if kind in wanted and event_id:
                        found.append(Trigger(event_id, kind, tp.topic, tp.partition, record.offset))
                if records and records[-1].offset + 1 >= end:
                    open_ranges.pop(tp, None)
            if len(found) >= chunk:
                yield found
                found = []
        if found:
            yield found
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(consumer.stop(), 10)


async def without_outcome(
    conn: DbConnection, consumer: str, outcomes: Mapping[str, frozenset[str]], triggers: Sequence[Trigger]
) -> tuple[list[Trigger], int]:
    """Of `triggers` (all below the consumer's checkpoint), those with none of their outcome
    events in this store and not held as the consumer's dead letters or parked records; and how
    many were held."""
    if not triggers:
        return [], 0
    rows = await conn.fetch(
        """WITH t(i, id, type, topic, part, off) AS (
               SELECT * FROM unnest($2::int[], $3::text[], $4::text[], $5::text[], $6::int[], $7::bigint[]))
           SELECT t.i,
                  EXISTS (SELECT 1 FROM events e
                          WHERE e.causation_id = t.id
                            AND e.type = ANY (string_to_array($8::jsonb ->> t.type, ','))) AS answered,
                  EXISTS (SELECT 1 FROM dead_letters d
                          WHERE d.consumer = $1 AND d.topic = t.topic AND d.partition = t.part
                            AND d."offset" = t.off)
                  OR EXISTS (SELECT 1 FROM parked p
                          WHERE p.consumer = $1 AND p.topic = t.topic AND p.partition = t.part
                            AND p."offset" = t.off) AS held
           FROM t""",
        consumer,
        list(range(len(triggers))),
        [t.event_id for t in triggers],
        [t.type for t in triggers],
        [t.topic for t in triggers],
        [t.partition for t in triggers],
        [t.offset for t in triggers],
        _outcomes_json(outcomes),
    )
    missing = [triggers[r["i"]] for r in rows if not r["answered"] and not r["held"]]
    held = sum(1 for r in rows if not r["answered"] and r["held"])
    return missing, held


def _outcomes_json(outcomes: Mapping[str, frozenset[str]]) -> str:
    return json.dumps({k: ",".join(sorted(v)) for k, v in outcomes.items()})


async def checkpoints(conn: DbConnection, consumer: str) -> dict[TopicPartition, int]:
    rows = await conn.fetch(
        "SELECT topic, partition, next_offset FROM checkpoints WHERE consumer = $1", consumer
    )
    return {TopicPartition(r["topic"], r["partition"]): r["next_offset"] for r in rows}


async def reconcile_slice(
    conn: DbConnection,
    bootstrap: str,
    reaction: str,
    service: str,
    outcomes: Mapping[str, frozenset[str]],
    since: Mapping[TopicPartition, int],
    until: Mapping[TopicPartition, int],
) -> Reconciled:
    result = Reconciled(reaction, service)
    async for chunk in read_triggers(bootstrap, since, until, outcomes, f"huigong-{service}-reconcile"):
        missing, held = await without_outcome(conn, reaction, outcomes, chunk)
        result.triggers += len(chunk)
        result.missing.extend(missing)
        result.held += held
    result.answered = result.triggers - result.held - len(result.missing)
    return result


# A round that meets these is skipped and tried next time (the broker's errors are RuntimeErrors).
WATCH_SKIPS: tuple[type[Exception], ...] = (*OUTAGES, RuntimeError)

# How often a service checks what its reactions passed since the last check (seconds).
WATCH_INTERVAL = float(os.environ.get("HUIGONG_RECONCILE_INTERVAL", "60"))


class OutcomeWatch:
    """A service's background check of its own reactions: each round reads the triggers between
    the previous round's checkpoints and the current ones, and checks them and every trigger
    still missing from earlier rounds; `huigong_triggers_without_outcome` holds the count."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        bootstrap: str,
        service: str,
        reactions: Sequence[tuple[str, Mapping[str, frozenset[str]]]],
        interval: float = WATCH_INTERVAL,
    ) -> None:
        self._pool = pool
        self._bootstrap = bootstrap
        self._service = service
        self._reactions = [(name, outcomes) for name, outcomes in reactions if outcomes]
        self._interval = interval
        self._checked: dict[str, dict[TopicPartition, int]] = {}
        self._missing: dict[str, list[Trigger]] = {}

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            for name, outcomes in self._reactions:
                try:
                    await self.check(name, outcomes)
                except asyncio.CancelledError:
                    raise
                except WATCH_SKIPS as exc:
                    log.warning("outcome check skipped", reaction=name, error=f"{type(exc).__name__}: {exc}")

    async def check(self, name: str, outcomes: Mapping[str, frozenset[str]]) -> list[Trigger]:
        async with self._pool.acquire() as conn:
            until = await checkpoints(conn, name)
            since = self._checked.get(name, {})
            result = await reconcile_slice(conn, self._bootstrap, name, self._service, outcomes, since, until)
            earlier, _ = await without_outcome(conn, name, outcomes, self._missing.get(name, []))
        missing = earlier + result.missing
        self._checked[name] = dict(until)
        self._missing[name] = missing
        telemetry.TRIGGERS_WITHOUT_OUTCOME.labels(self._service, name).set(len(missing))
        if missing:
            log.error(
                "triggers without an outcome: accepted and never decided",
                reaction=name,
                count=len(missing),
                first=[f"{t.topic}/{t.partition}@{t.offset} {t.type} {t.event_id}" for t in missing[:20]],
            )
        return missing
