"""`huigong replay` against the real broker and database.

Each test runs intake's real `ApplicationsProjection` live, through a `Subscription`, in a schema
of its own (the service's migrations, as a replay's shadow schema is made), over topics of its
own; the replay is pointed at that schema with the hidden `--schema` option, so what other tests
write to the shared `intake` schema never takes part in a comparison.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from huigong_events.envelope import RecordedEvent
from huigong_intake.projections.applications import ApplicationsProjection
from huigong_platform.ops import replay as replay_mod
from huigong_platform.subscriptions import Subscription

from ..conftest import Stack
from .test_ops import cli, fresh_prefix, publish, run_until, sealed_golden

T0 = datetime(2027, 5, 10, 1, 0, tzinfo=UTC)


def history() -> list[RecordedEvent]:
    """Two applications: one submitted at schema v1 (upcast when read) and amended, one
    submitted at v3 and withdrawn."""
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    corr = str(uuid.uuid4())
    a1 = sealed_golden(
        "ApplicationSubmitted", 1, a, 1, None, None, T0, "district:370202", "370202", corr, application_id=a
    )
    a2 = sealed_golden(
        "ApplicationAmended",
        2,
        a,
        2,
        a1,
        None,
        T0 + timedelta(days=40),
        "district:370202",
        "370202",
        corr,
        application_id=a,
    )
    b1 = sealed_golden(
        "ApplicationSubmitted",
        3,
        b,
        1,
        None,
        None,
        T0 + timedelta(days=22),
        "district:370203",
        "370203",
        corr,
        application_id=b,
        receipt_no=f"2027-370203-{uuid.uuid4().int % 100000:05d}",
    )
    b2 = sealed_golden(
        "ApplicationWithdrawn",
        1,
        b,
        2,
        b1,
        None,
        T0 + timedelta(days=56),
        "district:370203",
        "370203",
        corr,
        application_id=b,
    )
    return [a1, b1, a2, b2]


@pytest.fixture
async def live(stack: Stack) -> AsyncIterator[tuple[str, str, asyncpg.Pool]]:
    """(topic prefix, live schema, pool on it) with the projection caught up on `history()`."""
    prefix = await fresh_prefix(stack)
    schema = f"intake_t{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(stack.admin_dsn)
    await replay_mod.create_shadow(conn, "intake", "intake", schema)
    pool = await asyncpg.create_pool(stack.admin_dsn, server_settings={"search_path": schema})
    assert pool is not None
    events = history()
    await publish(stack, prefix, [*events, events[2]])  # and a relay duplicate
    sub = Subscription(ApplicationsProjection(), pool, stack.bootstrap, "intake", prefix, batch_size=2)

    async def caught_up() -> bool:
        return sub.applied >= len(events)

    await run_until(sub, caught_up)
    try:
        yield prefix, schema, pool
    finally:
        await pool.close()
        await replay_mod.drop_shadow(conn, schema)
        await conn.close()


def args(stack: Stack, prefix: str, schema: str, *more: str) -> list[str]:
    return [
        "replay",
        "-s",
        "intake",
        "--consumer",
        "intake.applications",
        "--schema",
        schema,
        "--prefix",
        prefix,
        "--dsn",
        stack.admin_dsn,
        "--bootstrap",
        stack.bootstrap,
        "--no-progress",
        *more,
    ]


async def shadows(stack: Stack) -> set[str]:
    conn = await asyncpg.connect(stack.admin_dsn)
    try:
        rows = await conn.fetch("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'intake_replay_%'")
        return {r[0] for r in rows}
    finally:
        await conn.close()


async def test_replay_reproduces_the_live_projection(
    stack: Stack, live: tuple[str, str, asyncpg.Pool]
) -> None:
    prefix, schema, _ = live
    before = await shadows(stack)
    result = await cli(*args(stack, prefix, schema, "--json"))
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["equal"] is True and report["ok"] is True
    (consumer,) = report["consumers"]
    assert consumer["records"] == 5 and consumer["applied"] == 4 and consumer["duplicates"] == 1
    assert consumer["dead_lettered"] == 0
    tables = {t["table"]: t for t in consumer["tables"]}
    assert set(tables) == {"applications_view", "review_progress"}
    assert tables["applications_view"]["live_rows"] == tables["applications_view"]["replay_rows"] == 2
    assert all(t["equal"] for t in tables.values())
    assert await shadows(stack) == before  # dropped

    table = await cli(*args(stack, prefix, schema))
    assert table.exit_code == 0, table.output
    assert "replay equals live" in table.stdout and "records/s" in table.stdout


async def test_a_tampered_table_differs_and_swap_repairs_it(
    stack: Stack, live: tuple[str, str, asyncpg.Pool]
) -> None:
    prefix, schema, pool = live
    await pool.execute("UPDATE applications_view SET name = 'forged' WHERE amendments = 1")
    result = await cli(*args(stack, prefix, schema, "--json"))
    assert result.exit_code == 1, result.output
    tables = {t["table"]: t for t in json.loads(result.stdout)["consumers"][0]["tables"]}
    assert tables["applications_view"]["equal"] is False
    assert tables["review_progress"]["equal"] is True

    text = await cli(*args(stack, prefix, schema))
    assert text.exit_code == 1 and "replay differs from live" in text.stdout

    swapped = await cli(*args(stack, prefix, schema, "--swap", "--json"))
    assert swapped.exit_code == 1, swapped.output  # the comparison was made before the swap
    assert json.loads(swapped.stdout)["consumers"][0]["swapped"] is True
    assert await pool.fetchval("SELECT count(*) FROM applications_view WHERE name = 'forged'") == 0
    points = await pool.fetchval(
        "SELECT sum(next_offset) FROM checkpoints WHERE consumer = 'intake.applications'"
    )
    assert points == 5

    again = await cli(*args(stack, prefix, schema, "--json"))
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["equal"] is True


async def test_as_of_counts_only_events_up_to_that_day(
    stack: Stack, live: tuple[str, str, asyncpg.Pool]
) -> None:
    prefix, schema, _ = live
    result = await cli(*args(stack, prefix, schema, "--as-of", "2027-06-05", "--json"))
    assert result.exit_code == 0, result.output  # a difference from live is expected
    report = json.loads(result.stdout)
    assert report["cutoff"] == "2027-06-06T00:00:00+08:00"
    (consumer,) = report["consumers"]
    assert consumer["cut"] == 3  # the amendment (twice) and the withdrawal came later
    tables = {t["table"]: t for t in consumer["tables"]}
    assert tables["applications_view"]["replay_rows"] == 2
    assert tables["applications_view"]["equal"] is False

    refused = await cli(*args(stack, prefix, schema, "--as-of", "2027-06-05", "--swap"))
    assert refused.exit_code == 2
