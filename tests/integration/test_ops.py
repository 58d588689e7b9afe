"""The ops CLI against the real broker and database: verify, audit, streams and dead letters.

Each test publishes to topics of its own (a sub-prefix of the run's prefix, removed with it at the
end of the session), so what other tests publish never shows up in a chain or an audit. The CLI
runs in a worker thread: each command calls `asyncio.run`, which must not share the test's loop.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from typer.testing import CliRunner, Result

from huigong_events.base import DomainEvent
from huigong_events.catalogue import event_class
from huigong_events.envelope import RecordedEvent, hash_input, to_kafka
from huigong_events.intake import EnrolmentRequested
from huigong_events.topics import EVENT_TOPICS, TOPICS, Topic, topic_for_aggregate
from huigong_ops import registry
from huigong_ops.cli import app
from huigong_platform.database import DbConnection, create_pool
from huigong_platform.kafka import ensure_topics
from huigong_platform.subscriptions import Subscription
from huigong_testkit.factories import authentic, enrolment, recorded

from ..conftest import Stack
from .projections import TABLE_SQL, EnrolmentCounts

GOLDEN = Path(__file__).resolve().parents[2] / "libs/events/golden"

Item = RecordedEvent | tuple[bytes, bytes, list[tuple[str, bytes]]]


# The broker and database of this run, as an operator's environment would name them: the CLI's
# defaults are the local stack's standard ports, which a run on other ports must not reach.
CLI_ENV: dict[str, str] = {}


@pytest.fixture(autouse=True)
def cli_environment(stack: Stack) -> None:
    CLI_ENV.update({"HUIGONG_KAFKA_BOOTSTRAP": stack.bootstrap, "HUIGONG_PG_ADMIN_DSN": stack.admin_dsn})


async def cli(*args: str) -> Result:
    def invoke() -> Result:
        return CliRunner().invoke(app, list(args), env={"COLUMNS": "220", **CLI_ENV})

    return await asyncio.to_thread(invoke)


async def fresh_prefix(stack: Stack, topics: tuple[Topic, ...] = EVENT_TOPICS) -> str:
    prefix = f"{stack.topic_prefix}ops{uuid.uuid4().hex[:6]}."
    await asyncio.wait_for(ensure_topics(stack.bootstrap, prefix, topics), 60)
    return prefix


async def publish(stack: Stack, prefix: str, items: Sequence[Item], topic: Topic | None = None) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap, enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        for item in items:
            if isinstance(item, RecordedEvent):
                key, value, headers = to_kafka(item if item.auth_tag else authentic(item))
                target = topic or topic_for_aggregate(item.aggregate_type)
            else:
                key, value, headers = item
                target = topic or topic_for_aggregate("enrolment")
            await producer.send_and_wait(target.qualified(prefix), value=value, key=key, headers=headers)
    finally:
        await producer.stop()


def chain(length: int, aggregate_id: str | None = None, platform: str = "美团") -> list[RecordedEvent]:
    aggregate_id = aggregate_id or str(uuid.uuid4())
    events: list[RecordedEvent] = []
    for version in range(1, length + 1):
        prev = events[-1].hash if events else None
        events.append(
            recorded(enrolment(platform=platform), aggregate_id=aggregate_id, version=version, prev_hash=prev)
        )
    return events


def sealed_golden(
    event_type: str,
    version: int,
    aggregate_id: str,
    aggregate_version: int,
    prev: RecordedEvent | None,
    cause: RecordedEvent | None,
    at: datetime,
    actor: str,
    source: str,
    correlation_id: str,
    **changes: Any,
) -> RecordedEvent:
    """An event sealed from the golden sample of `event_type` at schema `version` (old versions
    need upcasting when read), as a service would have recorded it at the time: `prev` is the
    aggregate's previous event, `cause` the event that caused it."""
    data = {**json.loads((GOLDEN / f"{event_type}.v{version}.json").read_text(encoding="utf-8")), **changes}
    cls: type[DomainEvent] = event_class(event_type)
    fields: dict[str, Any] = {
        "id": uuid.uuid4(),
        "type": event_type,
        "schema_version": version,
        "aggregate_type": cls.aggregate_type,
        "aggregate_id": aggregate_id,
        "aggregate_version": aggregate_version,
        "occurred_at": at,
        "recorded_at": at,
        "actor": actor,
        "source": source,
        "correlation_id": correlation_id,
        "causation_id": str(cause.id) if cause else None,
        "prev_hash": prev.hash if prev else None,
        "data": data,
    }
    return RecordedEvent.model_validate({**fields, "hash": hashlib.sha256(hash_input(fields)).hexdigest()})


# --- verify --------------------------------------------------------------------------------


async def test_verify_passes_on_clean_chains_and_counts_relay_duplicates_as_info(stack: Stack) -> None:
    prefix = await fresh_prefix(stack)
    chains = [chain(4), chain(1), chain(3), chain(2)]
    interleaved = [c[i] for i in range(4) for c in chains if i < len(c)]
    # The relay published one event twice (crash between the broker's ack and marking the row).
    await publish(stack, prefix, [*interleaved, chains[0][1]])

    result = await cli("verify", "--prefix", prefix, "--kafka-only", "--json", "--no-progress")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert report["records"] == 11 and report["aggregates"] == 4
    assert report["failures"] == {}
    assert report["info"] == {"duplicate": 1}
    assert report["missing_topics"] == []
    assert {t["topic"] for t in report["topics"]} == {t.qualified(prefix) for t in EVENT_TOPICS}
    assert report["records_per_s"] > 0

    table = await cli(
        "verify", "--prefix", prefix, "--kafka-only", "--topic", "intake.enrolments", "--no-progress"
    )
    assert table.exit_code == 0, table.output
    assert "every chain is intact" in table.stdout and "records/s" in table.stdout


async def test_verify_reports_an_altered_record_a_gap_and_reordering(stack: Stack) -> None:
    prefix = await fresh_prefix(stack)
    clean = chain(3)
    tampered = chain(3)
    # A forged copy: data changed, the original hash kept, written after the original.
    forged = RecordedEvent.model_validate(
        {**tampered[1].model_dump(), "data": {**tampered[1].data, "district": "370203"}}
    )
    gapped = chain(4)
    reordered = chain(3)
    await publish(
        stack,
        prefix,
        [
            *clean,
            tampered[0],
            tampered[1],
            forged,
            tampered[2],
            gapped[0],
            gapped[1],
            gapped[3],  # version 3 never published
            reordered[1],
            reordered[0],
            reordered[2],
            (b"junk", b"{not json", [("ce_specversion", b"1.0")]),
        ],
    )

    result = await cli(
        "verify", "--prefix", prefix, "--kafka-only", "--json", "--no-progress", "--limit", "0"
    )
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is False
    found = {(p["kind"], p["aggregate_id"], p["version"]) for p in report["problems"]}
    assert ("altered", tampered[1].aggregate_id, 2) in found
    assert ("gap", gapped[0].aggregate_id, 3) in found
    assert ("reordered", reordered[0].aggregate_id, 1) in found
    assert any(kind == "invalid_envelope" for kind, _, _ in found)
    assert clean[0].aggregate_id not in {p["aggregate_id"] for p in report["problems"]}
    # The altered copy kept the original's tag and the junk has none: both are forged too.
    assert ("forged", tampered[1].aggregate_id, 2) in found
    assert report["failures"] == {"altered": 1, "gap": 1, "reordered": 1, "invalid_envelope": 1, "forged": 2}

    table = await cli("verify", "--prefix", prefix, "--kafka-only", "--no-progress")
    assert table.exit_code == 1
    assert "altered" in table.stdout and "verification failed" in table.stdout
    assert tampered[1].aggregate_id in table.stdout


async def test_verify_fails_when_the_topics_are_not_there(stack: Stack) -> None:
    result = await cli(
        "verify", "--prefix", f"nothing{uuid.uuid4().hex[:6]}.", "--kafka-only", "--json", "--no-progress"
    )
    assert result.exit_code == 1
    assert len(json.loads(result.stdout)["missing_topics"]) == len(EVENT_TOPICS)


# --- audit ---------------------------------------------------------------------------------


async def test_audit_shows_intake_and_review_events_of_an_application_in_order(stack: Stack) -> None:
    prefix = await fresh_prefix(stack)
    app_id, other_id, unit_id = (str(uuid.uuid4()) for _ in range(3))
    t0 = datetime(2027, 5, 10, 1, 0, tzinfo=UTC)
    corr = str(uuid.uuid4())
    submitted = sealed_golden(
        "ApplicationSubmitted",
        1,
        app_id,
        1,
        None,
        None,
        t0,
        "district:370202",
        "370202",
        corr,
        application_id=app_id,
    )
    accepted = sealed_golden(
        "ApplicationAccepted",
        1,
        app_id,
        1,
        None,
        submitted,
        t0 + timedelta(hours=1),
        "system:review",
        "review",
        corr,
        application_id=app_id,
    )
    scored = sealed_golden(
        "ReviewScored",
        1,
        app_id,
        2,
        accepted,
        None,
        t0 + timedelta(days=3),
        "city:expert07",
        "review",
        str(uuid.uuid4()),
        application_id=app_id,
    )
    unit = sealed_golden(
        "UnitRegistered",
        1,
        unit_id,
        1,
        None,
        accepted,
        t0 + timedelta(days=30),
        "system:registry",
        "registry",
        corr,
        application_id=app_id,
        unit_id=unit_id,
    )
    noise = sealed_golden(
        "ApplicationSubmitted",
        1,
        other_id,
        1,
        None,
        None,
        t0,
        "district:370203",
        "370203",
        "c",
        application_id=other_id,
    )
    # Review's topic is published first: the audit orders by recorded time, not by topic.
    await publish(stack, prefix, [scored, accepted, unit, noise, submitted])

    result = await cli("audit", app_id, "--prefix", prefix, "--format", "jsonl", "--no-progress")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["type"] for r in rows] == [
        "ApplicationSubmitted",
        "ApplicationAccepted",
        "ReviewScored",
        "UnitRegistered",
    ]
    assert [r["actor"] for r in rows] == [
        "district:370202",
        "system:review",
        "city:expert07",
        "system:registry",
    ]
    assert [r["link"] for r in rows] == ["aggregate", "aggregate", "aggregate", "data.application_id"]
    assert [r["aggregate_type"] for r in rows] == ["application", "review", "review", "unit"]
    assert rows[1]["causation_id"] == str(submitted.id) and rows[0]["correlation_id"] == corr
    # The v1 submission is shown upcast to the current schema: 试点时间 as start and end months.
    assert rows[0]["schema_version"] == 1 and rows[0]["current_schema_version"] == 4
    assert "period_start" in rows[0]["data"]["form"] and "pilot_period" not in rows[0]["data"]["form"]
    assert all(r["hash_valid"] for r in rows)

    typed = await cli(
        "audit", app_id, "--type", "application", "--prefix", prefix, "-f", "csv", "--no-progress"
    )
    assert typed.exit_code == 0, typed.output
    assert typed.stdout.startswith("recorded_at,occurred_at,type")
    links = [r["link"] for r in csv.DictReader(io.StringIO(typed.stdout))]
    assert links == ["aggregate", "same-id", "same-id", "data.application_id"]

    table = await cli("audit", app_id, "--prefix", prefix, "--no-progress")
    assert table.exit_code == 0, table.output
    for text in ("ApplicationSubmitted v1→v4", "ApplicationAccepted", "city:expert07", "district:370202"):
        assert text in table.stdout
    assert table.stdout.index("ApplicationSubmitted") < table.stdout.index("ReviewScored")

    missing = await cli("audit", str(uuid.uuid4()), "--prefix", prefix, "--no-progress")
    assert missing.exit_code == 1 and "no events found" in missing.stderr


# --- streams -------------------------------------------------------------------------------


class Flaky(EnrolmentCounts):
    """Fails on platform "POISON" while `broken` is set: the "fix" is flipping it."""

    broken = True

    async def apply(self, conn: DbConnection, event: DomainEvent, record: RecordedEvent) -> None:
        assert isinstance(event, EnrolmentRequested)
        if event.platform == "POISON" and self.broken:
            raise ValueError("poison record for the test")
        await conn.execute(
            f"""INSERT INTO {self.table} (district, platform, members) VALUES ($1, $2, 1)
                ON CONFLICT (district, platform) DO UPDATE SET members = {self.table}.members + 1""",
            event.district,
            event.platform,
        )


@pytest.fixture
async def intake_pool(stack: Stack) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(stack.dsn("intake"), "intake")
    yield pool
    await pool.close()


async def run_until(sub: Subscription, condition: Any, timeout: float = 60) -> None:
    task = asyncio.create_task(sub.run())
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while not await condition():
            if asyncio.get_running_loop().time() > deadline:
                pytest.fail(f"{sub.projection.name}: condition not reached in {timeout} s")
            if task.done():
                task.result()
            await asyncio.sleep(0.2)
    finally:
        await sub.stop()
        await asyncio.wait_for(task, 30)


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


async def test_streams_lists_topics_end_offsets_groups_and_checkpoints(
    stack: Stack, intake_pool: asyncpg.Pool
) -> None:
    prefix = await fresh_prefix(stack, TOPICS)
    events = [recorded(enrolment(platform="滴滴")) for _ in range(7)]
    await publish(stack, prefix, events)
    projection = Flaky(unique("streams"), unique("counts"))
    async with intake_pool.acquire() as conn:
        await conn.execute(TABLE_SQL.format(table=projection.table))
    sub = Subscription(projection, intake_pool, stack.bootstrap, "intake", prefix, batch_size=100)

    async def applied() -> bool:
        return sub.applied >= 7

    await run_until(sub, applied)
    # One more after the consumer stopped: both readers lag by one.
    await publish(stack, prefix, [recorded(enrolment(platform="滴滴"))])

    result = await cli("streams", "--prefix", prefix, "--dsn", stack.admin_dsn, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    topics = {t["catalogue_name"]: t for t in report["topics"]}
    assert set(topics) == {t.name for t in TOPICS}
    enrolments = topics["huigong.intake.enrolments"]
    assert enrolments["exists"] and len(enrolments["partitions"]) == 6
    assert enrolments["end_total"] == 8 and enrolments["records"] == 8
    assert topics["huigong.intake.applications"]["end_total"] == 0
    enrolment_topic = topic_for_aggregate("enrolment").qualified(prefix)
    checkpoints = {(c["reader"], c["topic"]): c for c in report["checkpoints"]}
    mine = checkpoints[(f"intake/{projection.name}", enrolment_topic)]
    assert mine["lag"] == 1
    groups = {(g["reader"], g["topic"]): g for g in report["consumer_groups"]}
    assert groups[(sub.group_id, enrolment_topic)]["lag"] == 1
    assert report["max_lag"] == 1

    table = await cli("streams", "--prefix", prefix, "--dsn", stack.admin_dsn, "--max-lag", "0")
    assert table.exit_code == 1
    assert enrolment_topic in table.stdout and f"intake/{projection.name}" in table.stdout


# --- dead letters --------------------------------------------------------------------------


async def test_dead_letter_retry_after_a_fix_and_skip_with_a_reason_are_audited(
    stack: Stack, intake_pool: asyncpg.Pool
) -> None:
    prefix = await fresh_prefix(stack)
    tag = uuid.uuid4().hex[:6]
    fixed_id, skipped_id = str(uuid.uuid4()), str(uuid.uuid4())
    retried = [
        recorded(enrolment("370202", "POISON"), aggregate_id=fixed_id, version=1),
    ]
    for version, platform in ((2, f"顺丰-{tag}"), (3, f"京东-{tag}")):
        retried.append(
            recorded(
                enrolment("370202", platform),
                aggregate_id=fixed_id,
                version=version,
                prev_hash=retried[-1].hash,
            )
        )
    skipped = [recorded(enrolment("370203", "POISON"), aggregate_id=skipped_id, version=1)]
    skipped.append(
        recorded(
            enrolment("370203", f"闪送-{tag}"), aggregate_id=skipped_id, version=2, prev_hash=skipped[0].hash
        )
    )
    healthy = [recorded(enrolment("370211", f"美团-{tag}")) for _ in range(5)]
    await publish(stack, prefix, [*healthy[:2], *retried, *skipped, *healthy[2:]])

    projection = Flaky(unique("flaky"), unique("counts"))
    async with intake_pool.acquire() as conn:
        await conn.execute(TABLE_SQL.format(table=projection.table))
    sub = Subscription(projection, intake_pool, stack.bootstrap, "intake", prefix, batch_size=3)

    async def counts() -> dict[tuple[str, str], int]:
        rows = await intake_pool.fetch(f"SELECT district, platform, members FROM {projection.table}")
        return {(r[0], r[1]): r[2] for r in rows}

    async def settled() -> bool:
        parked = await intake_pool.fetchval(
            "SELECT count(*) FROM parked WHERE consumer = $1", projection.name
        )
        return parked == 3 and (await counts()).get(("370211", f"美团-{tag}")) == 5

    await run_until(sub, settled)
    letters = {
        r["aggregate_id"]: r["id"]
        for r in await intake_pool.fetch(
            "SELECT id, aggregate_id FROM dead_letters WHERE consumer = $1 AND status = 'open'",
            projection.name,
        )
    }
    assert set(letters) == {fixed_id, skipped_id}

    listed = await cli(
        "dead-letters",
        "list",
        "--service",
        "intake",
        "--consumer",
        projection.name,
        "--json",
        "--dsn",
        stack.admin_dsn,
    )
    assert listed.exit_code == 0, listed.output
    assert {(d["aggregate_id"], d["parked"]) for d in json.loads(listed.stdout)} == {
        (fixed_id, 2),
        (skipped_id, 1),
    }
    shown = await cli(
        "dead-letters", "show", str(letters[fixed_id]), "-s", "intake", "--json", "--dsn", stack.admin_dsn
    )
    assert shown.exit_code == 0, shown.output
    detail = json.loads(shown.stdout)
    assert detail["reason"] == "poison record for the test" and detail["error_class"] == "ValueError"
    assert detail["envelope"]["aggregate_id"] == fixed_id and detail["envelope"]["hash_valid"] is True
    assert detail["envelope"]["data"]["personal_sealed"].startswith("[")
    assert retried[0].data["personal_sealed"] not in shown.stdout
    assert [p["aggregate_version"] for p in detail["parked_records"]] == [2, 3]

    registry.register(projection.name, lambda: projection)
    try:
        base = ["--service", "intake", "--dsn", stack.admin_dsn, "--prefix", prefix]
        # Retried before the fix: fails, stays open with its parked records; the attempt is recorded.
        again = await cli(
            "dead-letters",
            "retry",
            str(letters[fixed_id]),
            *base,
            "--actor",
            "ops:li",
            "--reason",
            "try once",
        )
        assert again.exit_code == 1, again.output
        row = await intake_pool.fetchrow("SELECT status FROM dead_letters WHERE id = $1", letters[fixed_id])
        assert row is not None and row["status"] == "open"
        assert (
            await intake_pool.fetchval(
                "SELECT count(*) FROM parked WHERE dead_letter_id = $1", letters[fixed_id]
            )
            == 2
        )

        projection.broken = False  # the fix is deployed
        done = await cli(
            "dead-letters",
            "retry",
            str(letters[fixed_id]),
            *base,
            "--actor",
            "ops:li",
            "--reason",
            "handler fixed in 1.4.2",
        )
        assert done.exit_code == 0, done.output
        assert "retried: 3 applied" in done.stdout

        skip = await cli(
            "dead-letters",
            "skip",
            str(letters[skipped_id]),
            *base,
            "--actor",
            "ops:wang",
            "--reason",
            "test record sent by mistake",
            "--json",
        )
        assert skip.exit_code == 0, skip.output
        assert json.loads(skip.stdout)["applied"] == 1

        twice = await cli(
            "dead-letters", "skip", str(letters[skipped_id]), *base, "--actor", "x", "--reason", "y"
        )
        assert twice.exit_code == 2 and "already skipped" in twice.stderr
    finally:
        registry.unregister(projection.name)

    after = await counts()
    assert after[("370202", "POISON")] == 1  # the retried record, once
    assert after[("370202", f"顺丰-{tag}")] == 1 and after[("370202", f"京东-{tag}")] == 1
    assert after[("370203", f"闪送-{tag}")] == 1 and ("370203", "POISON") not in after
    statuses = {
        r["aggregate_id"]: (r["status"], r["resolved_by"], r["resolution"])
        for r in await intake_pool.fetch(
            "SELECT aggregate_id, status, resolved_by, resolution FROM dead_letters WHERE consumer = $1",
            projection.name,
        )
    }
    assert statuses == {
        fixed_id: ("retried", "ops:li", "handler fixed in 1.4.2"),
        skipped_id: ("skipped", "ops:wang", "test record sent by mistake"),
    }
    assert await intake_pool.fetchval("SELECT count(*) FROM parked WHERE consumer = $1", projection.name) == 0
    versions = {
        r["aggregate_id"]: r["aggregate_version"]
        for r in await intake_pool.fetch(
            "SELECT aggregate_id, aggregate_version FROM applied_versions WHERE consumer = $1 AND aggregate_id = ANY($2)",
            projection.name,
            [fixed_id, skipped_id],
        )
    }
    assert versions == {fixed_id: 3, skipped_id: 2}
    actions = await intake_pool.fetch(
        """SELECT a.dead_letter_id, a.action, a.actor, a.reason, a.outcome FROM dead_letter_actions a
           WHERE a.dead_letter_id = ANY($1) ORDER BY a.id""",
        list(letters.values()),
    )
    assert [(a["dead_letter_id"], a["action"], a["actor"], a["reason"]) for a in actions] == [
        (letters[fixed_id], "retry", "ops:li", "try once"),
        (letters[fixed_id], "retry", "ops:li", "handler fixed in 1.4.2"),
        (letters[skipped_id], "skip", "ops:wang", "test record sent by mistake"),
    ]
    assert actions[0]["outcome"] == "failed: poison record for the test"
    assert actions[1]["outcome"].startswith("retried: 3 applied; 2 parked record(s) released")
    assert actions[2]["outcome"].startswith("skipped, aggregate moved to version 1; 1 applied")

    # The live runner carries on from there: the next event of the retried aggregate applies.
    nxt = recorded(
        enrolment("370202", f"顺丰-{tag}"), aggregate_id=fixed_id, version=4, prev_hash=retried[-1].hash
    )
    await publish(stack, prefix, [nxt])
    sub = Subscription(projection, intake_pool, stack.bootstrap, "intake", prefix, batch_size=3)

    async def caught_up() -> bool:
        return (await counts()).get(("370202", f"顺丰-{tag}")) == 2

    await run_until(sub, caught_up)
    show = await cli("dead-letters", "show", str(letters[fixed_id]), "-s", "intake", "--dsn", stack.admin_dsn)
    assert show.exit_code == 0, show.output
    assert "handler fixed in 1.4.2" in show.stdout and "failed: poison record for the test" in show.stdout


async def test_retry_of_an_unknown_consumer_is_refused_clearly(
    stack: Stack, intake_pool: asyncpg.Pool
) -> None:
    letter_id = await intake_pool.fetchval(
        """INSERT INTO dead_letters (consumer, topic, partition, "offset", reason, error_class)
           VALUES ($1, 'nowhere', 0, 0, 'test', 'ValueError') RETURNING id""",
        unique("ghost"),
    )
    result = await cli(
        "dead-letters",
        "retry",
        str(letter_id),
        "-s",
        "intake",
        "--dsn",
        stack.admin_dsn,
        "--actor",
        "a",
        "--reason",
        "b",
    )
    assert result.exit_code == 2
    assert "unknown consumer" in result.stderr and "intake.applications" in result.stderr
    assert (
        await intake_pool.fetchval(
            "SELECT count(*) FROM dead_letter_actions WHERE dead_letter_id = $1", letter_id
        )
        == 0
    )
