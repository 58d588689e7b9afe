"""The outbound publisher against the real broker and database: a district gets each notice once,
in order, even when a publishing session died after the broker took some notices and before they
were marked (a SIGKILL between the two)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest
from aiokafka import TopicPartition
from prometheus_client import REGISTRY

from huigong_events.base import DomainEvent
from huigong_events.outbound import ApplicationAcceptedNotice, EnrolmentBatchNotice
from huigong_events.topics import outbound_topic
from huigong_intake.adapters.outbound import OutboundPublisher, feed, kafka_record, write_notice
from huigong_intake.projections.outbound import OutboundProjection
from huigong_platform.database import create_pool
from huigong_platform.kafka import consumer as make_consumer
from huigong_platform.kafka import producer as make_producer

from ..conftest import REPO, Stack, isolated_stack
from ..unit.test_outbound import golden, recorded

LAOSHAN = "370212"  # 崂山区
SHIBEI = "370203"  # 市北区


@pytest.fixture(scope="module")
async def own_stack(stack_env: dict[str, str]) -> AsyncIterator[Stack]:
    # Its own database: no other module's intake may publish these notices first.
    async with isolated_stack(stack_env) as s:
        yield s


async def topic_records(stack: Stack, code: str) -> list[tuple[str, int]]:
    """(key, ce_sequence) of every record on `code`'s outbound topic."""
    topic = outbound_topic(code).qualified(stack.topic_prefix)
    consumer = make_consumer(stack.bootstrap, None, "huigong-test-outbound")
    partition = TopicPartition(topic, 0)
    await consumer.start()
    try:
        consumer.assign([partition])
        end = (await consumer.end_offsets([partition]))[partition]
        await consumer.seek_to_beginning(partition)
        found: list[tuple[str, int]] = []
        async with asyncio.timeout(30):
            while len(found) < end:
                for records in (await consumer.getmany(timeout_ms=1000)).values():
                    for r in records:
                        assert r.key is not None
                        found.append((r.key.decode(), int(dict(r.headers)["ce_sequence"].decode())))
        return found
    finally:
        await consumer.stop()


async def test_notices_taken_by_the_broker_before_a_crash_are_not_sent_again(own_stack: Stack) -> None:
    pool: asyncpg.Pool = await create_pool(own_stack.dsn("intake"), "intake", max_size=4)
    try:
        ids = [str(uuid.uuid4()) for _ in range(4)]
        async with pool.acquire() as conn, conn.transaction():
            for application_id in ids:
                notice = ApplicationAcceptedNotice(
                    district=LAOSHAN,
                    record_id=application_id,
                    occurred_at=datetime.now(UTC),
                    application_id=uuid.UUID(application_id),
                )
                await write_notice(conn, notice, f"test:{application_id}")
        async with pool.acquire() as conn:
            rows = await conn.fetch(
                """SELECT seq, district, record_id, type, schema_version, data::text AS data, occurred_at
                   FROM outbound_notices ORDER BY seq"""
            )
        # The session that died: the broker took the first two, the rows were never marked.
        producer = make_producer(own_stack.bootstrap, "huigong-test-outbound")
        await producer.start()
        try:
            for row in rows[:2]:
                key, value, headers = kafka_record(row)
                await producer.send_and_wait(
                    outbound_topic(LAOSHAN).qualified(own_stack.topic_prefix),
                    value=value,
                    key=key,
                    headers=headers,
                )
        finally:
            await producer.stop()

        publisher = OutboundPublisher(pool, own_stack.bootstrap, own_stack.topic_prefix, poll_interval=0.1)
        running = asyncio.create_task(publisher.run())
        try:
            async with asyncio.timeout(60):
                while await pool.fetchval("SELECT count(*) FROM outbound_notices WHERE published_at IS NULL"):
                    await asyncio.sleep(0.2)
        finally:
            await publisher.stop()
            await asyncio.wait_for(running, 30)
        assert publisher.published == 2  # only what the broker did not hold yet
        assert REGISTRY.get_sample_value("huigong_outbound_pending", {"service": "intake"}) == 0
        assert await topic_records(own_stack, LAOSHAN) == [(r["record_id"], r["seq"]) for r in rows]
    finally:
        await pool.close()


async def test_a_decision_read_before_its_application_follows_the_receipt(own_stack: Stack) -> None:
    """Review's topic may be read ahead of intake's: the district still hears of its application
    first, then of the decision, and only once each when the runner applies them again."""
    application_id = uuid.uuid4()
    submitted = golden("ApplicationSubmitted").model_copy(update={"application_id": application_id})
    accepted = golden("ApplicationAccepted").model_copy(update={"application_id": application_id})
    records = [(accepted, recorded(accepted)), (submitted, recorded(submitted))]
    projection = OutboundProjection()
    pool: asyncpg.Pool = await create_pool(own_stack.dsn("intake"), "intake", max_size=2)
    try:
        for _ in range(2):  # the second time, as after a crash before the checkpoint
            for event, record in records:
                async with pool.acquire() as conn, conn.transaction():
                    await projection.apply(conn, event, record)
        async with pool.acquire() as conn:
            told = await feed(conn, "370202", 0, 500)
    finally:
        await pool.close()
    assert [e.type for e in told if e.record_id == str(application_id)] == [
        "ApplicationReceivedNotice",
        "ApplicationAcceptedNotice",
    ]


async def test_each_record_is_told_to_its_own_district_once(own_stack: Stack) -> None:
    """Findings and plans follow their application; a unit's suspension and a facility's closure
    go to the district that registered it; a transferred matter to the receiving district; the
    city's own project to no one. Applied twice, as after a crash before the checkpoint."""
    application_id, unit_id, facility_id, project_id = (uuid.uuid4() for _ in range(4))
    matter_id = uuid.uuid4()

    def copy(name: str, **update: object) -> DomainEvent:
        return golden(name).model_copy(update=update)

    registered = golden("UnitRegistered").model_copy(update={"unit_id": unit_id, "area": "370202"})
    events = [
        copy("ExclusionFound", application_id=application_id),  # review's topic read first
        copy("ApplicationSubmitted", application_id=application_id),
        copy("PlanSubmitted", application_id=application_id),
        copy("ExclusionCleared", application_id=application_id),
        registered,
        copy("CertificationSuspended", unit_id=unit_id),
        copy("CertificationRestored", unit_id=unit_id),
        copy("FacilityOpened", facility_id=facility_id, area="370202"),
        copy("FacilityClosed", facility_id=facility_id),
        copy("ServiceProjectListed", project_id=project_id, area="370200"),
        copy("MatterTransferred", matter_id=matter_id, from_area="370202", to_area=SHIBEI),
    ]
    records = [(event, recorded(event)) for event in events]
    projection = OutboundProjection()
    pool: asyncpg.Pool = await create_pool(own_stack.dsn("intake"), "intake", max_size=2)
    try:
        for _ in range(2):
            for event, record in records:
                async with pool.acquire() as conn, conn.transaction():
                    await projection.apply(conn, event, record)
        async with pool.acquire() as conn:
            shinan = await feed(conn, "370202", 0, 500)
            shibei = await feed(conn, SHIBEI, 0, 500)
            everyone = await conn.fetchval(
                "SELECT count(*) FROM outbound_notices WHERE record_id = $1", str(project_id)
            )
    finally:
        await pool.close()
    ours = {str(application_id), str(unit_id), str(facility_id), str(matter_id)}
    assert [(e.record_id, e.type, e.data.get("status")) for e in shinan if e.record_id in ours] == [
        (str(application_id), "ApplicationReceivedNotice", None),
        (str(application_id), "FindingNotice", None),
        (str(application_id), "PlanReceivedNotice", None),
        (str(application_id), "FindingClearedNotice", None),
        (str(unit_id), "CertificationSuspensionNotice", "suspended"),
        (str(unit_id), "CertificationSuspensionNotice", "restored"),
        (str(facility_id), "FacilityNotice", "opened"),
        (str(facility_id), "FacilityNotice", "closed"),
    ]
    suspended = next(e for e in shinan if e.data.get("status") == "suspended")
    assert (suspended.data["rule"], suspended.data["statement_due"]) == ("E2", "2026-03-09")
    assert [(e.record_id, e.type) for e in shibei if e.record_id in ours] == [
        (str(matter_id), "MatterTransferredNotice")
    ]
    assert everyone == 0


async def test_a_publisher_killed_mid_batch_sends_every_notice_exactly_once_after_restart(
    own_stack: Stack,
) -> None:
    """SIGKILL of the process publishing the notices: once right after the broker took a round and
    before it was marked (the worst moment), once wherever it happened to be; after each restart
    every district's topic holds each of its notices once, in order, and none is missing."""
    huangdao = "370211"  # 黄岛区
    total, batch = 3000, 100
    pool: asyncpg.Pool = await create_pool(own_stack.dsn("intake"), "intake", max_size=4)
    try:
        async with pool.acquire() as conn, conn.transaction():
            for i in range(total):
                application_id = uuid.uuid4()
                notice = ApplicationAcceptedNotice(
                    district=huangdao,
                    record_id=str(application_id),
                    occurred_at=datetime.now(UTC),
                    application_id=application_id,
                )
                await write_notice(conn, notice, f"kill-test:{i}:{application_id}")
        args = [own_stack.dsn("intake"), own_stack.bootstrap, own_stack.topic_prefix, str(batch)]
        env = {**os.environ, "PYTHONPATH": str(REPO)}

        async def start(*extra: str) -> asyncio.subprocess.Process:
            return await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tests.integration.publisher_main",
                *args,
                *extra,
                env=env,
                cwd=str(REPO),
            )

        async def marked() -> int:
            return int(
                await pool.fetchval("SELECT count(*) FROM outbound_notices WHERE published_at IS NOT NULL")
            )

        async def on_topics() -> int:
            districts = [r[0] for r in await pool.fetch("SELECT DISTINCT district FROM outbound_notices")]
            return sum([len(await topic_records(own_stack, d)) for d in districts])

        # 1. It dies on its third round after the broker's acknowledgement, before the mark.
        before = await marked()
        assert await on_topics() == before
        dying = await start("--die-after", "3")
        assert await asyncio.wait_for(dying.wait(), 120) == -signal.SIGKILL
        assert await marked() == before + 2 * batch
        assert await on_topics() == before + 3 * batch  # the third round: sent, never marked

        # 2. Restarted, it is killed again wherever it is, part-way through the backlog.
        proc = await start()
        try:
            async with asyncio.timeout(120):
                while await marked() < before + 10 * batch:
                    assert proc.returncode is None, "the publisher exited by itself"
                    await asyncio.sleep(0.05)
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
            assert await marked() < before + total, "finished before it could be killed; raise total"

            # 3. Restarted once more, it finishes.
            proc = await start()
            async with asyncio.timeout(120):
                while await pool.fetchval("SELECT count(*) FROM outbound_notices WHERE published_at IS NULL"):
                    await asyncio.sleep(0.2)
            await asyncio.sleep(1)  # anything sent twice would be on the topic by now
        finally:
            if proc.returncode is None:
                proc.terminate()
                await proc.wait()
        expected = {
            r["district"]: [(x["record_id"], x["seq"]) for x in rows]
            for r in await pool.fetch("SELECT DISTINCT district FROM outbound_notices")
            for rows in [
                await pool.fetch(
                    "SELECT record_id, seq FROM outbound_notices WHERE district = $1 ORDER BY seq",
                    r["district"],
                )
            ]
        }
    finally:
        await pool.close()
    assert len(expected[huangdao]) == total
    for district, notices in expected.items():
        assert await topic_records(own_stack, district) == notices, district


async def test_an_enrolment_batch_is_told_the_registrys_outcome_of_each_taken_row_once(
    own_stack: Stack,
) -> None:
    """Intake takes a row that is well formed; whether the worker is a new member or was reported
    before (by this or another federation) only the registry decides. Once it has decided every
    taken row, the district hears which rows by number: whatever order intake's and the
    registry's topics are read in, once, and not before the last row is decided."""
    batch_id = uuid.uuid4()
    rows = {1: uuid.uuid4(), 3: uuid.uuid4(), 4: uuid.uuid4()}  # row 2 was refused by intake

    def requested(row: int) -> DomainEvent:
        return golden("EnrolmentRequested").model_copy(
            update={"batch_id": batch_id, "row_number": row, "enrolment_id": rows[row]}
        )

    def decided(row: int, name: str) -> DomainEvent:
        return golden(name).model_copy(update={"enrolment_id": rows[row]})

    events = [
        decided(3, "MemberReportedAgain"),  # the registry's topic read ahead of intake's
        requested(1),
        requested(3),
        decided(1, "MemberEnrolled"),
        requested(4),
    ]
    last = decided(4, "MemberEnrolled")
    projection = OutboundProjection()
    pool: asyncpg.Pool = await create_pool(own_stack.dsn("intake"), "intake", max_size=2)
    try:
        async with pool.acquire() as conn, conn.transaction():
            batch = EnrolmentBatchNotice(
                district=SHIBEI,
                record_id=str(batch_id),
                occurred_at=datetime.now(UTC),
                batch_id=batch_id,
                rows=4,
                accepted=3,
            )
            await write_notice(conn, batch, f"batch:{batch_id}")

        async def told() -> list[dict[str, object]]:
            async with pool.acquire() as conn:
                entries = await feed(conn, SHIBEI, 0, 500)
            return [
                e.data for e in entries if e.type == "EnrolmentOutcomeNotice" and e.record_id == str(batch_id)
            ]

        for event in events:
            async with pool.acquire() as conn, conn.transaction():
                await projection.apply(conn, event, recorded(event))
        assert await told() == []  # row 4 undecided yet
        for _ in range(2):  # the second time, as after a crash before the checkpoint
            for event in [*events, last]:
                async with pool.acquire() as conn, conn.transaction():
                    await projection.apply(conn, event, recorded(event))
        [outcome] = await told()
    finally:
        await pool.close()
    assert (outcome["accepted"], outcome["enrolled"], outcome["already_members"]) == (3, [1, 4], [3])
