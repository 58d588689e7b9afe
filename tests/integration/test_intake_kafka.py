"""District systems that publish to Kafka instead of calling HTTP, and what a 2xx promises when
the broker is down."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from huigong_events.topics import DEAD_LETTER_TOPICS, inbound_topic, topic_for_aggregate
from huigong_simulator.data import enrolment_rows

from ..conftest import Stack
from ..forms import complex_form, variant, with_fresh_undertaking_unit
from .processes import TEST_PORTS, ServiceProcess, artefacts_dir
from .stackctl import stack as stackctl

YEAR = datetime.now(UTC).year + 1
DISTRICT = "370281"  # 胶州市


@pytest.fixture(scope="module")
async def intake(stack: Stack) -> AsyncIterator[ServiceProcess]:
    proc = ServiceProcess("intake", TEST_PORTS["intake"] + 300, artefacts_dir() / "intake-kafka.log")
    proc.start(stack)
    try:
        await proc.wait_status(200)
        yield proc
    finally:
        proc.kill()


@pytest.fixture
async def db(stack: Stack) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(stack.dsn("intake"))
    yield conn
    await conn.close()


def jiaozhou_form() -> dict[str, Any]:
    form = variant(
        complex_form(),
        pilot_name="胶州市工会服务职工综合体建设",
        undertaking_unit={"name": "胶州市总工会", "credit_code": "81370281MJD000002Y"},
        applicant_unit={"name": "胶州市总工会", "credit_code": "81370281MJD000002Y"},
    )
    result: dict[str, Any] = json.loads(with_fresh_undertaking_unit(form, DISTRICT).model_dump_json())
    return result


async def publish(stack: Stack, submitter: str, records: list[tuple[str, dict[str, Any] | bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        for key, value in records:
            raw = value if isinstance(value, bytes) else json.dumps(value, ensure_ascii=False).encode()
            await producer.send_and_wait(
                inbound_topic(submitter).qualified(stack.topic_prefix), value=raw, key=key.encode()
            )
    finally:
        await producer.stop()


async def dead_letters(stack: Stack, keys: set[str], timeout: float = 30) -> list[dict[str, Any]]:
    consumer = AIOKafkaConsumer(
        DEAD_LETTER_TOPICS[0].qualified(stack.topic_prefix),
        bootstrap_servers=stack.bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list[dict[str, Any]] = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline and {d["_key"] for d in found} < keys:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for r in records:
                    if r.key and r.key.decode() in keys:
                        found.append({**json.loads(r.value), "_key": r.key.decode()})
    finally:
        await consumer.stop()
    return found


async def wait_for_events(
    db: asyncpg.Connection, sql: str, *args: Any, want: int, timeout: float = 30
) -> int:
    deadline = asyncio.get_running_loop().time() + timeout
    count = 0
    while asyncio.get_running_loop().time() < deadline:
        count = int(await db.fetchval(sql, *args))
        if count >= want:
            break
        await asyncio.sleep(0.3)
    return count


async def test_valid_records_become_events_invalid_ones_dead_letters_and_the_stream_flows_on(
    stack: Stack, intake: ServiceProcess, db: asyncpg.Connection
) -> None:
    good_id, broken_id, refused_id, after_id = (uuid.uuid4().hex for _ in range(4))
    good_app, after_app = uuid.uuid4(), uuid.uuid4()
    command: dict[str, Any] = {
        "command": "submit_application",
        "body": {"year": YEAR, "programme": "service_complex", "form": jiaozhou_form()},
    }
    refused_form = {**jiaozhou_form(), "pilot_name": "胶州市工会综合体"}
    await publish(
        stack,
        DISTRICT,
        [
            (
                good_id,
                {
                    **command,
                    "command_id": good_id,
                    "body": {**command["body"], "application_id": str(good_app)},
                },
            ),
            (broken_id, b"{this is not json"),
            (
                refused_id,
                {**command, "command_id": refused_id, "body": {**command["body"], "form": refused_form}},
            ),
            (
                after_id,
                {
                    **command,
                    "command_id": after_id,
                    # Another unit's: the same unit's second application of the year is refused.
                    "body": {**command["body"], "application_id": str(after_app), "form": jiaozhou_form()},
                },
            ),
            (
                good_id,
                {
                    **command,
                    "command_id": good_id,  # a district system retrying: nothing new
                    "body": {**command["body"], "application_id": str(good_app)},
                },
            ),
        ],
    )
    count = await wait_for_events(
        db,
        "SELECT count(*) FROM events WHERE type = 'ApplicationSubmitted' AND aggregate_id = ANY($1::text[])",
        [str(good_app), str(after_app)],
        want=2,
    )
    assert count == 2  # the record after two bad ones still went through, the retry added nothing
    actor = await db.fetchval("SELECT actor FROM events WHERE aggregate_id = $1", str(good_app))
    assert actor == f"district:{DISTRICT}"  # the topic proved the sender

    letters = {d["_key"]: d for d in await dead_letters(stack, {broken_id, refused_id})}
    assert set(letters) == {broken_id, refused_id}
    assert letters[broken_id]["source"]["submitter"] == DISTRICT
    assert letters[broken_id]["original"] == "{this is not json"
    refused = letters[refused_id]
    assert refused["reason"] == "refused"
    assert any(e["field"] == "form.pilot_name" and "试点名称" in e["zh"] for e in refused["errors"])
    assert refused["original"]["body"]["form"]["pilot_name"] == "胶州市工会综合体"


async def test_enrolment_rows_refused_over_kafka_are_dead_letters_without_personal_data(
    stack: Stack, intake: ServiceProcess, db: asyncpg.Connection
) -> None:
    rows = enrolment_rows(3, DISTRICT, random.Random(99))
    bad = {**rows[0], "手机号": "12345"}
    command_id = uuid.uuid4().hex
    await publish(
        stack,
        DISTRICT,
        [(command_id, {"command_id": command_id, "command": "enrol", "body": {"rows": [*rows, bad]}})],
    )
    letters = await dead_letters(stack, {command_id})
    assert len(letters) == 1 and letters[0]["original"]["row"] == 4
    text = json.dumps(letters[0], ensure_ascii=False)
    for row in rows:
        assert (
            str(row["身份证号"]) not in text
            and str(row["手机号"]) not in text
            and str(row["姓名"]) not in text
        )
    assert letters[0]["original"]["row_content"]["手机号"] == "[已删除]"


@pytest.mark.outage
async def test_submissions_while_the_broker_is_down_are_accepted_and_reach_kafka_once(
    stack: Stack, intake: ServiceProcess, db: asyncpg.Connection
) -> None:
    app_ids = [uuid.uuid4() for _ in range(5)]
    await stackctl("stop", "kafka")
    try:
        async with intake.client(timeout=30) as client:
            for app_id in app_ids:
                body = {
                    "year": YEAR,
                    "programme": "service_complex",
                    "form": jiaozhou_form(),
                    "application_id": str(app_id),
                }
                response = await client.post(
                    "/applications",
                    json=body,
                    headers={"X-Huigong-Principal": f"district:{DISTRICT}", "Idempotency-Key": str(app_id)},
                )
                assert response.status_code == 201, response.text  # durably recorded, bound for Kafka
    finally:
        await stackctl("start", "kafka")
    wanted = {str(a) for a in app_ids}
    # Two waits, so that a failure says which side stalled: the relay marking the outbox rows as
    # acknowledged by the broker, then a reader finding them on the topic.
    published = await wait_for_events(
        db,
        """SELECT count(*) FROM outbox o JOIN events e USING (position)
           WHERE e.aggregate_id = ANY($1::text[]) AND o.published_at IS NOT NULL""",
        list(wanted),
        want=len(wanted),
        timeout=120,
    )
    assert published == len(wanted), (
        f"the relay marked {published} of {len(wanted)} as acknowledged in 120 s after the broker "
        f"came back; its last lines:\n{relay_lines(intake)}"
    )
    topic = topic_for_aggregate("application").qualified(stack.topic_prefix)
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=stack.bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    seen: list[str] = []
    try:
        deadline = asyncio.get_running_loop().time() + 60
        while asyncio.get_running_loop().time() < deadline and set(seen) < wanted:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                seen += [r.key.decode() for r in records if r.key and r.key.decode() in wanted]
        # Acknowledged means on the topic; a moment more shows a duplicate if the relay sent twice.
        for records in (await consumer.getmany(timeout_ms=2000)).values():
            seen += [r.key.decode() for r in records if r.key and r.key.decode() in wanted]
    finally:
        await consumer.stop()
    assert sorted(seen) == sorted(wanted)  # every one, exactly once


def relay_lines(service: ServiceProcess, count: int = 30) -> str:
    """The outbox relay's last log lines (the relay logs into its service's log)."""
    lines = [line for line in service.log_path.read_text(errors="replace").splitlines() if "outbox" in line]
    return "\n".join(lines[-count:])
