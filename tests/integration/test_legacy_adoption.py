"""Adopting the events recorded before tags existed: verified first, then signed, and only those."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from typer.testing import CliRunner

from huigong_events.adoption import AdoptionManifest
from huigong_events.envelope import RecordedEvent, to_kafka
from huigong_events.topics import topic_for_aggregate
from huigong_ops import event_keys
from huigong_ops.cli import app
from huigong_platform.eventstore import _row
from huigong_testkit.factories import enrolment, recorded

from ..conftest import Stack, isolated_stack
from .processes import running
from .test_review import eventually


@pytest.fixture(scope="module")
async def own_stack(stack_env: dict[str, str]) -> AsyncIterator[Stack]:
    async with isolated_stack(stack_env) as s:
        yield s


def untagged() -> RecordedEvent:
    """An enrolment as intake recorded it before tagging."""
    return RecordedEvent.trusted(**{**recorded(enrolment()).__dict__, "auth_key": None, "auth_tag": None})


async def record_as_before(stack: Stack, events: list[RecordedEvent]) -> None:
    """Each event in intake's store, published, and on its topic: the history of an install
    from before tags."""
    conn = await asyncpg.connect(stack.dsn("intake"), server_settings={"search_path": "intake"})
    try:
        for event in events:
            row = _row(event)
            position = await conn.fetchval(
                """INSERT INTO events (id, type, schema_version, aggregate_type, aggregate_id,
                       aggregate_version, occurred_at, recorded_at, actor, source, correlation_id,
                       causation_id, prev_hash, hash, data, auth_key, auth_tag)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
                   RETURNING position""",
                *row,
            )
            await conn.execute(
                "INSERT INTO outbox (position, topic, published_at) VALUES ($1, $2, now())",
                position,
                topic_for_aggregate(event.aggregate_type).qualified(stack.topic_prefix),
            )
    finally:
        await conn.close()
    await send(stack, events)


async def send(stack: Stack, events: list[RecordedEvent]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        for event in events:
            key, value, headers = to_kafka(event)
            topic = topic_for_aggregate(event.aggregate_type).qualified(stack.topic_prefix)
            await producer.send_and_wait(topic, value=value, key=key, headers=headers)
    finally:
        await producer.stop()


def run(stack: Stack, *argv: str, **env: str) -> Any:
    base = {
        "HUIGONG_KAFKA_BOOTSTRAP": stack.bootstrap,
        "HUIGONG_PG_ADMIN_DSN": stack.admin_dsn,
        "HUIGONG_EVENT_KEYS": stack.env["HUIGONG_EVENT_KEYS"],
        "HUIGONG_CHECKPOINT_KEYS": stack.env["HUIGONG_CHECKPOINT_KEYS"],
        "COLUMNS": "220",
    }
    return CliRunner().invoke(app, [*argv, "--prefix", stack.topic_prefix], env={**base, **env})


async def test_adopted_history_verifies_and_an_untagged_record_added_later_does_not(
    own_stack: Stack, tmp_path: Path
) -> None:
    legacy = [untagged(), untagged()]
    await record_as_before(own_stack, legacy)
    published = tmp_path / "public-keys.json"
    published.write_text(json.dumps(event_keys.public_keys(own_stack.env)))
    verify = ("verify", "--json", "--no-progress", "--limit", "0", "--public-keys", str(published))

    before = await asyncio.to_thread(run, own_stack, *verify)
    assert before.exit_code == 1, before.output
    forged = {p["event_id"] for p in json.loads(before.stdout)["problems"] if p["kind"] == "forged"}
    assert {str(e.id) for e in legacy} <= forged

    out = tmp_path / "adoptions"
    adopted = await asyncio.to_thread(
        run,
        own_stack,
        "events",
        "adopt-legacy",
        "--service",
        "intake",
        "--actor",
        "ops:auditor-wang",
        "--out",
        str(out),
    )
    assert adopted.exit_code == 0, adopted.output
    manifest_path = out / "intake-legacy-adoption.json"
    manifest = AdoptionManifest.load(manifest_path.read_bytes())
    # The manifest lists them in the order the store holds them (by position), whichever partition.
    assert sorted(manifest.events) == sorted((str(e.id), e.hash) for e in legacy)
    assert manifest.actor == "ops:auditor-wang"
    assert manifest.untrusted(event_keys.public_keys(own_stack.env)) is None  # an auditor's check

    after = await asyncio.to_thread(run, own_stack, *verify, HUIGONG_LEGACY_ADOPTIONS=str(manifest_path))
    assert after.exit_code == 0, after.output

    # An admin appends an untagged record to the topic: not in the manifest, so forged, and a
    # second adoption refuses to cover it (it is in no store).
    intruder = untagged()
    await send(own_stack, [intruder])
    found = await asyncio.to_thread(run, own_stack, *verify, HUIGONG_LEGACY_ADOPTIONS=str(manifest_path))
    assert found.exit_code == 1
    problems = json.loads(found.stdout)["problems"]
    assert [p["event_id"] for p in problems if p["kind"] == "forged"] == [str(intruder.id)]
    again = await asyncio.to_thread(
        run,
        own_stack,
        "events",
        "adopt-legacy",
        "--service",
        "intake",
        "--actor",
        "ops:auditor-wang",
        "--out",
        str(tmp_path / "again"),
        HUIGONG_LEGACY_ADOPTIONS=str(manifest_path),
    )
    assert again.exit_code == 1 and "missing_in_store" in again.output, again.output
    assert not (tmp_path / "again").exists()

    # The registry, given the manifest, enrols the members of the two adopted requests and
    # dead-letters the appended one.
    adoptions = {"HUIGONG_LEGACY_ADOPTIONS": str(manifest_path)}
    async with running(own_stack, ("registry",), 2100, "legacy-adoption", adoptions):
        registry = await asyncpg.connect(
            own_stack.dsn("registry"), server_settings={"search_path": "registry"}
        )
        try:

            async def enrolled() -> set[str] | None:
                causes = await registry.fetch(
                    "SELECT causation_id FROM events WHERE type = 'MemberEnrolled' AND causation_id = ANY($1::text[])",
                    [str(e.id) for e in legacy],
                )
                found = {r["causation_id"] for r in causes}
                return found if len(found) == len(legacy) else None

            await eventually(enrolled, "a member enrolled from each adopted request")

            async def refused() -> str | None:
                reason: str | None = await registry.fetchval(
                    "SELECT reason FROM dead_letters WHERE consumer = 'registry.members' AND record_key = $1",
                    intruder.aggregate_id.encode(),
                )
                return reason

            reason = await eventually(refused, "the appended request is a dead letter")
            assert reason.startswith("not authentic") and "not an adopted event" in reason
        finally:
            await registry.close()
