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

from huigong_events.catalogue import event_class
from huigong_events.envelope import RecordedEvent
from huigong_events.outbound import EnrolmentBatchNotice
from huigong_events.topics import topic_for_aggregate
from huigong_intake.adapters.outbound import write_notice
from huigong_intake.projections.applications import ApplicationsProjection
from huigong_intake.projections.outbound import OutboundProjection
from huigong_ops import replay as replay_mod
from huigong_platform.subscriptions import Subscription
from huigong_registry.projections.units import UnitsProjection

from ..conftest import Stack
from .projections import EnrolmentCounts
from .test_ops import chain, cli, fresh_prefix, publish, run_until, sealed_golden

T0 = datetime(2027, 5, 10, 1, 0, tzinfo=UTC)


def history() -> list[RecordedEvent]:
    """Two applications: one submitted at schema v1 (upcast when read), amended, accepted and
    selected as a construction unit (review's topic), one submitted at v3 and withdrawn."""
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
    # Review's steps, on review's topic: accepted, then selected (确定建设单位, the new stage).
    r1 = sealed_golden(
        "ApplicationAccepted",
        1,
        a,
        1,
        None,
        a1,
        T0 + timedelta(days=41),
        "system:review",
        "review",
        corr,
        application_id=a,
    )
    r2 = sealed_golden(
        "ConstructionUnitSelected",
        1,
        a,
        2,
        r1,
        None,
        T0 + timedelta(days=60),
        "chair:city/c",
        "review",
        corr,
        application_id=a,
    )
    return [a1, b1, a2, b2, r1, r2]


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
    assert consumer["records"] == 7 and consumer["applied"] == 6 and consumer["duplicates"] == 1
    assert consumer["dead_lettered"] == 0
    tables = {t["table"]: t for t in consumer["tables"]}
    assert set(tables) == {"applications_view", "review_progress", "application_status_history"}
    assert tables["application_status_history"]["live_rows"] == 5  # a: submitted, accepted, selected
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
    assert points == 7  # five on intake's topic, two on review's

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
    assert consumer["cut"] == 5  # the amendment (twice), the withdrawal, acceptance and selection came later
    tables = {t["table"]: t for t in consumer["tables"]}
    assert tables["applications_view"]["replay_rows"] == 2
    assert tables["applications_view"]["equal"] is False

    refused = await cli(*args(stack, prefix, schema, "--as-of", "2027-06-05", "--swap"))
    assert refused.exit_code == 2


def unit_history() -> list[RecordedEvent]:
    """Four units of 2027 certified: one revoked automatically after a finding (as streams recorded
    before revocation cases hold it), one exited, one suspended and revoked after its union's
    statement, one suspended and restored."""
    corr = str(uuid.uuid4())
    events: list[RecordedEvent] = []
    for n, ending in enumerate(("CertificationRevoked", "UnitExited"), start=1):
        unit = str(uuid.uuid4())
        certificate = f"QDGH-2027-FQ-{uuid.uuid4().int % 10000:04d}"
        registered = sealed_golden(
            "UnitRegistered", 1, unit, 1, None, None, T0, "system:registry", "registry", corr,
            unit_id=unit, name=f"青岛测试{n}有限公司",
        )  # fmt: skip
        certified = sealed_golden(
            "UnitCertified", 1, unit, 2, registered, None, T0 + timedelta(days=60), "registrar:city/r1",
            "registry", corr, unit_id=unit, certificate_no=certificate,
        )  # fmt: skip
        changes: dict[str, object] = {"unit_id": unit}
        if ending == "CertificationRevoked":
            changes["certificate_no"] = certificate
        last = sealed_golden(
            ending, 1, unit, 3, certified, None, T0 + timedelta(days=120), "system:registry", "registry", corr,
            **changes,
        )  # fmt: skip
        events += [registered, certified, last]
    # 撤销审查: one title suspended, the union heard, the revocation confirmed by a registrar;
    # another suspended and restored when the registrar dismissed the case.
    for n, ending in enumerate(("CertificationRevoked", "CertificationRestored"), start=3):
        unit = str(uuid.uuid4())
        case = str(uuid.uuid4())
        certificate = f"QDGH-2027-FQ-{uuid.uuid4().int % 10000:04d}"
        registered = sealed_golden(
            "UnitRegistered", 1, unit, 1, None, None, T0, "system:registry", "registry", corr,
            unit_id=unit, name=f"青岛测试{n}有限公司",
        )  # fmt: skip
        certified = sealed_golden(
            "UnitCertified", 1, unit, 2, registered, None, T0 + timedelta(days=60), "registrar:city/r1",
            "registry", corr, unit_id=unit, certificate_no=certificate,
        )  # fmt: skip
        suspended = sealed_golden(
            "CertificationSuspended", 1, unit, 3, certified, None, T0 + timedelta(days=90), "system:registry",
            "registry", corr, unit_id=unit, case_id=case, finding_id=case, certificate_no=certificate,
        )  # fmt: skip
        steps = [registered, certified, suspended]
        if ending == "CertificationRevoked":
            steps.append(
                sealed_golden(
                    "RevocationStatementFiled",
                    1,
                    unit,
                    4,
                    suspended,
                    None,
                    T0 + timedelta(days=92),
                    "district:370202",
                    "registry",
                    corr,
                    unit_id=unit,
                    case_id=case,
                )
            )
            decision: dict[str, object] = {"automatic": False, "finding_id": case}
        else:
            decision = {"case_id": case, "ground": "dismissed"}
        steps.append(
            sealed_golden(
                ending,
                1,
                unit,
                len(steps) + 1,
                steps[-1],
                None,
                T0 + timedelta(days=100),
                "registrar:city01",
                "registry",
                corr,
                unit_id=unit,
                certificate_no=certificate,
                **decision,
            )
        )
        events += steps
    return events


async def test_one_pass_replays_several_services_and_equals_live_through_revocations(
    stack: Stack, live: tuple[str, str, asyncpg.Pool]
) -> None:
    """intake's applications (upcast, amended, withdrawn) and the registry's units (certified,
    revoked, exited), both running live, replayed together in one pass over their topics."""
    prefix, intake_schema, _ = live
    registry_schema = f"registry_t{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(stack.admin_dsn)
    await replay_mod.create_shadow(conn, "registry", "registry", registry_schema)
    pool = await asyncpg.create_pool(stack.admin_dsn, server_settings={"search_path": registry_schema})
    assert pool is not None
    try:
        units = unit_history()
        await publish(stack, prefix, [*units, units[2]])  # the revocation published twice by the relay
        sub = Subscription(UnitsProjection(), pool, stack.bootstrap, "registry", prefix, batch_size=2)

        # The union's statement is on the topic but not in the units view: read, not applied.
        wanted = [u for u in units if UnitsProjection().wants(u.type)]
        assert len(wanted) == len(units) - 1

        async def caught_up() -> bool:
            return sub.applied >= len(wanted)

        await run_until(sub, caught_up)
        statuses = {
            r[0]: r[1] for r in await pool.fetch("SELECT certificate_no, status FROM certificates_view")
        }
        assert sorted(statuses.values()) == ["certified", "exited", "revoked", "revoked"]

        reports = await replay_mod.replay_services(
            stack.admin_dsn,
            stack.bootstrap,
            prefix,
            {"intake": ["intake.applications"], "registry": ["registry.units"]},
            live_schemas={"intake": intake_schema, "registry": registry_schema},
        )
        intake, registry = reports
        assert intake.equal and registry.equal, [r.to_json() for r in reports]
        (applications,) = intake.consumers
        (unit_replay,) = registry.consumers
        assert (applications.records, applications.applied, applications.duplicates) == (7, 6, 1)
        assert (unit_replay.records, unit_replay.applied, unit_replay.duplicates) == (16, 14, 1)
        assert unit_replay.dead_lettered == 0
        compared = {t.table: t for t in unit_replay.tables}
        assert {"units_view", "certificates_view"} <= set(compared)
        assert compared["certificates_view"].replay_rows == 4
    finally:
        await pool.close()
        await replay_mod.drop_shadow(conn, registry_schema)
        await conn.close()


async def test_replay_dead_letters_parks_and_skips_exactly_as_the_live_runner(stack: Stack) -> None:
    """A poison event (its aggregate's later event parked behind it), an undecodable record, a
    version gap and relay duplicates: the replay, which keeps versions and dead letters in memory,
    ends with the same counts, dead letters, parked records, versions and checkpoints as the live
    runner that met them batch by batch."""
    prefix = await fresh_prefix(stack, (topic_for_aggregate("enrolment"),))
    schema = f"intake_t{uuid.uuid4().hex[:8]}"
    name, table = f"replay_dl_{uuid.uuid4().hex[:6]}", f"counts_{uuid.uuid4().hex[:6]}"
    poisoned = chain(3, platform="POISON")  # v1 fails: v2 and v3 are parked behind it
    healthy = [*chain(2), *chain(1), *chain(3)]
    gapped = chain(3)
    del gapped[1]  # v2 never arrives: v3 is a gap
    garbage = (b"garbage", b"{not json", [("ce_specversion", b"1.0")])
    await publish(
        stack, prefix, [healthy[0], *poisoned[:2], garbage, *healthy[1:], healthy[0], *gapped, poisoned[2]]
    )
    conn = await asyncpg.connect(stack.admin_dsn)
    await replay_mod.create_shadow(conn, "intake", "intake", schema)
    pool = await asyncpg.create_pool(stack.admin_dsn, server_settings={"search_path": schema})
    assert pool is not None
    projection = EnrolmentCounts(name, table)
    shadow = ""
    try:
        async with pool.acquire() as c:
            await projection.create(c)
        sub = Subscription(projection, pool, stack.bootstrap, "intake", prefix, batch_size=3)

        async def caught_up() -> bool:
            return bool(sub.lag) and sum(sub.lag.values()) == 0 and sub.applied >= len(healthy) + 1

        await run_until(sub, caught_up)
        (report,) = await replay_mod.replay_services(
            stack.admin_dsn,
            stack.bootstrap,
            prefix,
            {"intake": [name]},
            live_schemas={"intake": schema},
            keep=True,
            extra={name: lambda: EnrolmentCounts(name, table)},
        )
        (result,) = report.consumers
        shadow = result.shadow_schema
        assert report.equal, report.to_json()
        assert (result.records, result.applied, result.duplicates, result.dead_lettered) == (13, 7, 1, 5)

        async def books(at: str) -> list[list[tuple[object, ...]]]:
            queries = [
                f"""SELECT topic, partition, "offset", aggregate_id, aggregate_version, reason, status
                    FROM {at}.dead_letters WHERE consumer = $1""",
                f"""SELECT p.topic, p.partition, p."offset", p.aggregate_id, p.aggregate_version, d."offset"
                    FROM {at}.parked p JOIN {at}.dead_letters d ON d.id = p.dead_letter_id
                    WHERE p.consumer = $1""",
                f"SELECT aggregate_id, aggregate_version FROM {at}.applied_versions WHERE consumer = $1",
                f"SELECT topic, partition, next_offset FROM {at}.checkpoints WHERE consumer = $1",
            ]
            return [sorted(tuple(r) for r in await conn.fetch(q, name)) for q in queries]

        live_books, replayed_books = await books(schema), await books(shadow)
        assert live_books == replayed_books
        letters, parked, _, _ = live_books
        assert len(letters) == 3 and len(parked) == 2  # poison, garbage, gap; v2 and v3 of the poisoned
    finally:
        await pool.close()
        await replay_mod.drop_shadow(conn, schema)
        if shadow:
            await replay_mod.drop_shadow(conn, shadow)
        await conn.close()


async def test_the_command_replays_several_services_in_one_pass(stack: Stack) -> None:
    prefix = await fresh_prefix(stack)
    history = unit_history()
    await publish(stack, prefix, history)
    common = ["--prefix", prefix, "--dsn", stack.admin_dsn, "--bootstrap", stack.bootstrap, "--no-progress"]
    result = await cli("replay", "-s", "registry", "-s", "intake", "--json", *common)
    assert result.exit_code in (0, 1), result.output  # live is the shared schemas: any verdict
    reports = json.loads(result.stdout)
    assert [r["service"] for r in reports] == ["registry", "intake"]
    consumers = {c["consumer"]: c for r in reports for c in r["consumers"]}
    assert {"intake.applications", "registry.units", "registry.roster"} <= set(consumers)
    # Every record of the units' streams is read, and each the units' view folds is applied: the
    # old automatic revocation, the suspensions, decisions and restoration (a statement changes
    # no row of it).
    assert consumers["registry.units"]["records"] == len(history) == 15
    folded = [r for r in history if r.type in UnitsProjection.handles]
    assert consumers["registry.units"]["applied"] == len(folded) == 14
    assert consumers["intake.applications"]["records"] == 0

    refused = await cli("replay", "-s", "all", "--consumer", "registry.units", *common)
    assert refused.exit_code == 2 and "single service" in refused.output


async def test_the_outbound_projection_replays_to_the_same_record_owners(stack: Stack) -> None:
    """What intake's outbound projection keeps of whose record is whose (applications, units,
    facilities), replayed from intake's, review's and the registry's topics, equals the live copy;
    the districts' notices themselves are never replayed."""
    prefix = await fresh_prefix(stack)
    schema = f"intake_t{uuid.uuid4().hex[:8]}"
    app, unit, facility, matter = (str(uuid.uuid4()) for _ in range(4))
    corr = str(uuid.uuid4())

    def event(
        name: str, aggregate: str, version: int, prev: RecordedEvent | None, days: int, **changes: object
    ) -> RecordedEvent:
        return sealed_golden(
            name,
            event_class(name).schema_version,
            aggregate,
            version,
            prev,
            None,
            T0 + timedelta(days=days),
            "system:test",
            "370202",
            corr,
            **changes,
        )

    submitted = event("ApplicationSubmitted", app, 1, None, 0, application_id=app)
    found = event("ExclusionFound", app, 1, None, 1, application_id=app)
    registered = event("UnitRegistered", unit, 1, None, 2, unit_id=unit, area="370202")
    suspended = event("CertificationSuspended", unit, 2, registered, 3, unit_id=unit)
    opened = event("FacilityOpened", facility, 1, None, 4, facility_id=facility, area="370202")
    closed = event("FacilityClosed", facility, 2, opened, 5, facility_id=facility)
    transferred = event("MatterTransferred", matter, 1, None, 6, matter_id=matter, to_area="370203")
    # An enrolment row of a batch told to 370202 and the registry's outcome of it (a new member).
    batch, enrolment, member = uuid.uuid4(), str(uuid.uuid4()), uuid.uuid4().hex * 2
    requested = event(
        "EnrolmentRequested", enrolment, 1, None, 7, enrolment_id=enrolment, batch_id=str(batch), row_number=1
    )
    enrolled = event("MemberEnrolled", member, 1, None, 7, enrolment_id=enrolment, member_key=member)
    events = [found, submitted, registered, suspended, opened, closed, transferred, requested, enrolled]
    conn = await asyncpg.connect(stack.admin_dsn)
    await replay_mod.create_shadow(conn, "intake", "intake", schema)
    pool = await asyncpg.create_pool(stack.admin_dsn, server_settings={"search_path": schema})
    assert pool is not None
    try:
        async with pool.acquire() as c, c.transaction():
            batch_notice = EnrolmentBatchNotice(
                district="370202", record_id=str(batch), occurred_at=T0, batch_id=batch, rows=1, accepted=1
            )
            await write_notice(c, batch_notice, f"batch:{batch}")
        await publish(stack, prefix, events)
        sub = Subscription(OutboundProjection(), pool, stack.bootstrap, "intake", prefix, batch_size=2)

        async def caught_up() -> bool:
            return sub.applied >= len(events)

        await run_until(sub, caught_up)
        told = [
            (r[0], r[1]) for r in await pool.fetch("SELECT district, type FROM outbound_notices ORDER BY seq")
        ]
        assert sorted(told) == sorted(
            [
                ("370202", "ApplicationReceivedNotice"),
                ("370202", "FindingNotice"),
                ("370202", "CertificationSuspensionNotice"),
                ("370202", "FacilityNotice"),
                ("370202", "FacilityNotice"),
                ("370203", "MatterTransferredNotice"),
                ("370202", "EnrolmentBatchNotice"),
                ("370202", "EnrolmentOutcomeNotice"),
            ]
        )
        result = await cli(
            "replay", "-s", "intake", "--consumer", "intake.outbound", "--schema", schema, "--prefix", prefix,
            "--dsn", stack.admin_dsn, "--bootstrap", stack.bootstrap, "--no-progress", "--json",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        assert report["equal"] is True, report
        (consumer,) = report["consumers"]
        tables = {t["table"]: t for t in consumer["tables"]}
        assert tables["outbound_owners"]["live_rows"] == tables["outbound_owners"]["replay_rows"] == 3
        assert tables["outbound_enrolments"]["live_rows"] == tables["outbound_enrolments"]["replay_rows"] == 1
        assert await pool.fetchval("SELECT count(*) FROM outbound_notices") == len(told)
    finally:
        await pool.close()
        await replay_mod.drop_shadow(conn, schema)
        await conn.close()
