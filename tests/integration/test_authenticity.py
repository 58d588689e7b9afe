"""Forged records on the event topics, as an admin Kafka principal can write them, against real
intake, registry and metrics processes: none is counted, each is a dead letter "not authentic"
naming its record, counted on /metrics and logged as an alert, and `huigong verify` fails.

This module runs in a database and topic prefix of its own: its figures are absolute."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import tempfile
import uuid
import zipfile
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from typer.testing import CliRunner

from huigong_events.envelope import RecordedEvent, hash_input, to_kafka
from huigong_events.topics import topic_for_aggregate
from huigong_ops import event_keys
from huigong_ops.cli import app
from huigong_platform.database import create_pool
from huigong_platform.eventstore import row_to_event

from ..conftest import Stack, isolated_stack
from .processes import ServiceProcess, running
from .test_metrics import enrol, figure_reaches, metric_of, part, progress
from .test_review import eventually

VIEWER = {"X-Huigong-Principal": "viewer:prometheus"}
Services = tuple[ServiceProcess, ...]
DISTRICT = "370203"


@pytest.fixture(scope="module")
async def own_stack(stack_env: dict[str, str]) -> AsyncIterator[Stack]:
    async with isolated_stack(stack_env) as s:
        yield s


@pytest.fixture(scope="module")
async def services(own_stack: Stack) -> AsyncIterator[Services]:
    # A checkpoint every second, so that the tests need not wait for one.
    fast = {"HUIGONG_CHECKPOINT_SECONDS": "1"}
    async with running(
        own_stack, ("intake", "registry", "metrics"), 1750, "authenticity-test", fast
    ) as procs:
        yield procs


@pytest.fixture
async def registry_db(own_stack: Stack) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(own_stack.dsn("registry"), "registry")
    yield pool
    await pool.close()


@pytest.fixture
async def metrics_db(own_stack: Stack) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(own_stack.dsn("metrics"), "metrics")
    yield pool
    await pool.close()


def rehashed(event: RecordedEvent, **changes: Any) -> RecordedEvent:
    """The event changed, its chain hash recomputed as anyone can (public fields, SHA-256)."""
    fields = {**event.__dict__, **changes}
    fields["hash"] = hashlib.sha256(hash_input(fields)).hexdigest()
    return RecordedEvent.trusted(**fields)


async def publish(stack: Stack, records: list[RecordedEvent]) -> list[tuple[str, int, int]]:
    """Straight onto the topics, with a client of our own (what the admin principal could do)."""
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap, enable_idempotence=True)
    await producer.start()
    sent = []
    try:
        for record in records:
            topic = topic_for_aggregate(record.aggregate_type).qualified(stack.topic_prefix)
            key, value, headers = to_kafka(record)
            meta = await producer.send_and_wait(topic, value=value, key=key, headers=headers)
            sent.append((topic, meta.partition, meta.offset))
    finally:
        await producer.stop()
    return sent


async def verify(stack: Stack, *args: str) -> tuple[int, dict[str, Any]]:
    """`huigong verify` of this module's topics and event stores, as an operator runs it."""
    env = {
        "HUIGONG_KAFKA_BOOTSTRAP": stack.bootstrap,
        "HUIGONG_PG_ADMIN_DSN": stack.admin_dsn,
        "COLUMNS": "220",
    }
    # The auditor trusts the checkpoint public keys published apart from the store.
    published = Path(tempfile.mkdtemp()) / "public-keys.json"
    published.write_text(json.dumps(event_keys.public_keys(stack.env)))
    argv = [
        "verify",
        "--prefix",
        stack.topic_prefix,
        "--public-keys",
        str(published),
        "--json",
        "--no-progress",
        "--limit",
        "0",
        *args,
    ]
    result = await asyncio.to_thread(CliRunner().invoke, app, argv, env=env)
    assert result.exit_code in (0, 1), result.output
    report: dict[str, Any] = json.loads(result.stdout)
    return result.exit_code, report


def findings(report: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [p for p in report["problems"] if p["kind"] == kind]


async def members(metrics: httpx.AsyncClient, area: str) -> int:
    actual: int = part(metric_of(await progress(metrics), "members_enrolled"), area)["actual"]
    return actual


async def test_forged_member_records_are_never_counted_and_each_is_a_dead_letter(
    own_stack: Stack,
    services: Services,
    intake: httpx.AsyncClient,
    metrics: httpx.AsyncClient,
    registry_db: asyncpg.Pool,
    metrics_db: asyncpg.Pool,
) -> None:
    await enrol(intake, f"district:{DISTRICT}", DISTRICT, [date(2024, 3, 1)])
    await figure_reaches(metrics, "members_enrolled", 1, "the member is counted", area=DISTRICT)
    row = await registry_db.fetchrow("SELECT * FROM events WHERE type = 'MemberEnrolled' LIMIT 1")
    assert row is not None
    genuine = row_to_event(row)
    assert genuine.auth_key == "registry.1;m3" and genuine.auth_tag

    other_member = hashlib.sha256(uuid.uuid4().bytes).hexdigest()
    # 1. Content altered (another member, same district), the hash and the tag copied.
    copied = RecordedEvent.trusted(
        **{
            **genuine.__dict__,
            "id": uuid.uuid4(),
            "aggregate_id": other_member,
            "data": {**genuine.data, "member_key": other_member},
        }
    )
    # 2. The next version of the genuine member, the chain hash recomputed (a second enrolment).
    next_version = rehashed(
        genuine, id=uuid.uuid4(), aggregate_version=2, prev_hash=genuine.hash, auth_key=None, auth_tag=None
    )
    # 3. A new member with a recomputed hash and the registry's key id, but no key to tag with.
    new_member = rehashed(
        genuine,
        id=uuid.uuid4(),
        aggregate_id=other_member + "0",
        data={**genuine.data, "member_key": other_member + "0"},
        auth_tag="0" * 64,
    )
    forged = await publish(own_stack, [copied, next_version, new_member])
    # A genuine event after them: once it is counted, the consumer has passed the forgeries.
    await enrol(intake, f"district:{DISTRICT}", DISTRICT, [date(2024, 3, 2)])
    await figure_reaches(metrics, "members_enrolled", 2, "the second genuine member", area=DISTRICT)

    async def all_dead_lettered() -> list[asyncpg.Record] | None:
        letters = await metrics_db.fetch(
            """SELECT topic, partition, "offset", reason, status FROM dead_letters
               WHERE consumer = 'metrics.actuals' ORDER BY id"""
        )
        return letters if len(letters) >= len(forged) else None

    letters = await eventually(all_dead_lettered, "each forgery is a dead letter")
    assert {(r["topic"], r["partition"], r["offset"]) for r in letters} == set(forged)
    assert all(r["reason"].startswith("not authentic") and r["status"] == "open" for r in letters)
    assert await members(metrics, DISTRICT) == 2  # no forgery was counted
    gauges = (await metrics.get("/metrics", headers=VIEWER)).text
    assert 'huigong_records_not_authentic_total{consumer="metrics.actuals",service="metrics"} 3.0' in gauges
    (metrics_process,) = (s for s in services if s.service == "metrics")
    log = metrics_process.log_path.read_text(errors="replace")
    assert log.count('"ALERT record not authentic"') >= len(forged)
    assert genuine.auth_tag not in log  # the alert names the record, not its tag

    # verify reads the topics and every event store: the three forgeries, named by position,
    # and nothing else (the genuine events are on both sides, alike).
    code, report = await verify(own_stack)
    assert code == 1 and report["ok"] is False
    forged_found = {(p["topic"], p["partition"], p["offset"]) for p in findings(report, "forged")}
    assert forged_found == set(forged)
    assert {s["service"] for s in report["stores"]} == {"intake", "review", "registry", "metrics"}
    assert set(report["failures"]) == {"forged", "altered"}, report["failures"]
    assert {p["aggregate_id"] for p in findings(report, "altered")} == {other_member}  # hash copied

    # audit lists the genuine member's history with the forged next version marked as such.
    env = {"HUIGONG_KAFKA_BOOTSTRAP": own_stack.bootstrap, "COLUMNS": "220"}
    argv = ["audit", genuine.aggregate_id, "--prefix", own_stack.topic_prefix, "-f", "jsonl", "--no-progress"]
    listed = await asyncio.to_thread(CliRunner().invoke, app, argv, env=env)
    assert listed.exit_code == 0, listed.output
    entries = [json.loads(line) for line in listed.stdout.splitlines() if line.strip()]
    by_version = {(e["aggregate_version"], e["authentic"]) for e in entries if e["link"] == "aggregate"}
    assert (1, True) in by_version and (2, False) in by_version, entries


def rezip(bundle: bytes, changes: dict[str, bytes]) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(bundle))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            target.writestr(name, changes.get(name, source.read(name)))
    return out.getvalue()


async def test_an_exported_bundle_verifies_offline_and_fails_after_a_one_byte_edit(
    own_stack: Stack, intake: httpx.AsyncClient, metrics: httpx.AsyncClient, registry_db: asyncpg.Pool
) -> None:
    area = "370214"
    await enrol(intake, f"district:{area}", area, [date(2024, 5, 1)])
    await figure_reaches(metrics, "members_enrolled", 1, "the member is counted", area=area)
    row = await registry_db.fetchrow(
        "SELECT aggregate_id, position FROM events WHERE type = 'MemberEnrolled' AND data->>'district' = $1",
        area,
    )
    assert row is not None
    member = row["aggregate_id"]
    position = await registry_db.fetchval("SELECT max(position) FROM events WHERE aggregate_id = $1", member)

    async def signed() -> bool:
        return bool(
            await registry_db.fetchval("SELECT true FROM chain_checkpoints WHERE position >= $1", position)
        )

    await eventually(signed, "a checkpoint covers the member's events")
    folder = Path(tempfile.mkdtemp())
    keys = folder / "public-keys.json"
    keys.write_text(json.dumps(event_keys.public_keys(own_stack.env)))
    bundle = folder / "member.zip"
    env = {"HUIGONG_PG_ADMIN_DSN": own_stack.admin_dsn, "COLUMNS": "220"}
    argv = ["audit-export", "--aggregate", member, "--type", "member", "--out", str(bundle)]
    exported = await asyncio.to_thread(CliRunner().invoke, app, [*argv, "--public-keys", str(keys)], env=env)
    assert exported.exit_code == 0, exported.output

    async def check(path: Path) -> tuple[int, dict[str, Any]]:
        argv = ["audit-check-bundle", str(path), "--json"]
        result = await asyncio.to_thread(CliRunner().invoke, app, argv, env={})  # no DSN, no keys
        return result.exit_code, json.loads(result.stdout)

    code, report = await check(bundle)
    assert code == 0 and report["ok"], report
    assert report["events"] >= 2 and report["covered_by_checkpoints"] >= 2  # enrolled, mutual aid

    original = bundle.read_bytes()
    events = zipfile.ZipFile(io.BytesIO(original)).read("events.jsonl")
    at = events.index(b'"platform":"') + len(b'"platform":"')
    edited = events[:at] + bytes([events[at] ^ 1]) + events[at + 1 :]  # one byte of one event
    tampered = folder / "tampered.zip"
    tampered.write_bytes(rezip(original, {"events.jsonl": edited}))
    code, report = await check(tampered)
    assert code == 1 and any("events.jsonl" in p for p in report["problems"])
    # The manifest recomputed to match: the event's hash and the signed fold still refuse it.
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(original)).read("manifest.json"))
    manifest["files"]["events.jsonl"] = hashlib.sha256(edited).hexdigest()
    tampered.write_bytes(
        rezip(original, {"events.jsonl": edited, "manifest.json": json.dumps(manifest).encode()})
    )
    code, report = await check(tampered)
    assert code == 1 and any("does not hash" in p for p in report["problems"]), report


async def test_database_edits_are_refused_to_the_owner_and_found_when_made_as_superuser(
    own_stack: Stack,
    services: Services,
    intake: httpx.AsyncClient,
    metrics: httpx.AsyncClient,
    registry_db: asyncpg.Pool,
    metrics_db: asyncpg.Pool,
) -> None:
    area = "370213"
    await enrol(intake, f"district:{area}", area, [date(2024, 4, 1), date(2024, 4, 2), date(2024, 4, 3)])
    await figure_reaches(metrics, "members_enrolled", 3, "three members", area=area)
    rows = await registry_db.fetch(
        """SELECT * FROM events WHERE type = 'MemberEnrolled' AND data->>'district' = $1
           ORDER BY position""",
        area,
    )
    altered, deleted, swapped = (row_to_event(r) for r in rows)
    chained = await registry_db.fetch(
        "SELECT * FROM events WHERE aggregate_type = 'member' AND aggregate_id = $1 ORDER BY aggregate_version",
        swapped.aggregate_id,
    )
    assert len(chained) >= 2, "an enrolled member with mutual aid has two events"

    # The service's own login: neither change nor delete, nor disable the guard, nor drop it.
    async with registry_db.acquire() as conn:
        for sql in (
            "UPDATE events SET actor = 'x' WHERE id = $1",
            "DELETE FROM events WHERE id = $1",
        ):
            with pytest.raises(asyncpg.PostgresError):
                await conn.execute(sql, altered.id)
        for sql in (
            "ALTER TABLE events DISABLE TRIGGER events_no_update",
            "DROP TRIGGER events_no_update ON events",
            "DROP TABLE events CASCADE",
            "TRUNCATE events",
        ):
            with pytest.raises(asyncpg.PostgresError):
                await conn.execute(sql)

    # The admin that provisioned the database (and runs the ops commands) is no superuser: it
    # cannot switch the guard off for its session, the way a superuser can below.
    admin = await asyncpg.connect(own_stack.admin_dsn)
    try:
        assert await admin.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user") is False
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await admin.execute("SET session_replication_role = replica")
    finally:
        await admin.close()

    # A signed checkpoint covers the three enrolments, published to the registry's topic.
    high = max(r["position"] for r in chained + rows)

    async def checkpointed() -> bool:
        return bool(
            await registry_db.fetchval(
                "SELECT true FROM chain_checkpoints WHERE position >= $1 AND published_at IS NOT NULL", high
            )
        )

    await eventually(checkpointed, "a published checkpoint covers the events")

    # The superuser can: it bypasses the trigger. Each edit is found by verify.
    superuser = await asyncpg.connect(own_stack.superuser_dsn)
    try:
        await superuser.execute("SET session_replication_role = replica")
        data = {**altered.data, "district": "370203"}
        fields = {**altered.__dict__, "data": data}
        await superuser.execute(
            "UPDATE registry.events SET data = $2::jsonb, hash = $3 WHERE id = $1",
            altered.id,
            json.dumps(data),
            hashlib.sha256(hash_input(fields)).hexdigest(),
        )
        await superuser.execute("DELETE FROM registry.outbox WHERE position = $1", rows[1]["position"])
        await superuser.execute("DELETE FROM registry.events WHERE id = $1", deleted.id)
        first, second = chained[0], chained[1]
        # Two events of one member swapped: each takes the other's version (via a free one).
        await superuser.execute(
            "UPDATE registry.events SET aggregate_version = 1000000 WHERE id = $1", first["id"]
        )
        await superuser.execute(
            "UPDATE registry.events SET aggregate_version = $2 WHERE id = $1",
            second["id"],
            first["aggregate_version"],
        )
        await superuser.execute(
            "UPDATE registry.events SET aggregate_version = $2 WHERE id = $1",
            first["id"],
            second["aggregate_version"],
        )
        # A new event written straight into the store and its outbox: the relay publishes it.
        forged_id = uuid.uuid4()
        member = hashlib.sha256(forged_id.bytes).hexdigest()
        inserted = rehashed(
            altered,
            id=forged_id,
            aggregate_id=member,
            data={**altered.data, "member_key": member},
            auth_tag=None,
            auth_key=None,
        )
        position = await superuser.fetchval(
            """INSERT INTO registry.events (id, type, schema_version, aggregate_type, aggregate_id,
                   aggregate_version, occurred_at, recorded_at, actor, source, correlation_id,
                   causation_id, prev_hash, hash, data)
               SELECT $5::uuid, type, schema_version, aggregate_type, $2, 1, occurred_at, recorded_at,
                   actor, source, correlation_id, causation_id, NULL, $3, $4::jsonb
               FROM registry.events WHERE id = $1 RETURNING position""",
            altered.id,
            member,
            inserted.hash,
            json.dumps(inserted.data),
            forged_id,
        )
        await superuser.execute(
            "INSERT INTO registry.outbox (position, topic) VALUES ($1, $2)",
            position,
            topic_for_aggregate("member").qualified(own_stack.topic_prefix),
        )
        await superuser.execute("SELECT pg_notify('huigong_outbox', '')")
        # And the first checkpoint removed from the store.
        await superuser.execute("DELETE FROM registry.chain_checkpoints WHERE sequence = 1")
    finally:
        await superuser.close()

    async def refused() -> bool:
        return bool(
            await metrics_db.fetchval(
                "SELECT true FROM dead_letters WHERE consumer = 'metrics.actuals' AND aggregate_id = $1 "
                "AND reason LIKE 'not authentic%'",
                member,
            )
        )

    await eventually(refused, "the inserted event is a dead letter of the metrics projection")
    assert await members(metrics, area) == 3  # nothing counted
    # The registry's relay published it with an alert; its count reaches the service's /metrics
    # although the relay runs in a child process.
    (registry_process,) = (s for s in services if s.service == "registry")
    async with registry_process.client() as registry:

        async def relay_counted() -> bool:
            text = (await registry.get("/metrics", headers=VIEWER)).text
            return (
                'huigong_records_not_authentic_total{consumer="outbox-relay",service="registry"} 1.0' in text
            )

        await eventually(relay_counted, "the relay's refusal is on the registry's /metrics")

    code, report = await verify(own_stack)
    assert code == 1
    store = [p for p in report["problems"] if p["topic"] == "registry.events"]
    by_kind = {(p["kind"], p["event_id"]) for p in store}
    assert ("forged", str(altered.id)) in by_kind and ("copies_differ", str(altered.id)) in by_kind
    assert ("forged", str(first["id"])) in by_kind and ("forged", str(second["id"])) in by_kind
    assert ("forged", str(forged_id)) in by_kind
    # The checkpoints signed before the edits no longer match the store; the deleted one is
    # still on the topic.
    mismatches = [p for p in findings(report, "checkpoint_mismatch") if p["aggregate_id"] == "registry"]
    assert any("fold to" in p["detail"] for p in mismatches), mismatches
    assert any("no longer in the store" in p["detail"] and p["version"] == 1 for p in mismatches)
    missing = findings(report, "missing_in_store")
    assert [p["event_id"] for p in missing] == [str(deleted.id)]
    # --since: only what was recorded from then on, the edited events included.
    code, recent = await verify(own_stack, "--since", (altered.recorded_at).strftime("%Y-%m-%dT%H:%M:%S"))
    assert code == 1 and ("forged", str(altered.id)) in {
        (p["kind"], p["event_id"]) for p in recent["problems"]
    }
