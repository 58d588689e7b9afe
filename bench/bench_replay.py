"""Benchmark: replay of about 1,000,000 events, mostly the member roster, into every
projection of every service, against raw aiokafka consume-and-discard of the same topics, in the
same run.

The stream, built through the real event contracts (golden samples and the event classes' own
field shapes, sealed with the real hash chain) and published straight to the topics of this
run's prefix:
- 400,000 members (the 2025 target): MemberEnrolled and MutualAidGranted each; a quarter of
  them reported again by another district a year later (MemberReportedAgain, and mutual aid for
  that year): 1,000,000 member events;
- applications at schema versions 1, 2 and 3 (old ones need upcasting), amended, withdrawn,
  accepted or rejected, scored, approved or declined; units registered, certified, revoked and
  exited; facilities opened and closed; target changes.

Figures: 1. raw consume of the topics the projections read; 2. `huigong replay` of every
service's projections (`ops.replay.replay_services`: shadow schemas, the runner's Applier, one
pass over the topics) as events/s and its ratio to 1, with the time to compare every table;
3. the roster alone (`registry.roster`, the 400,000 members). Goals: 2 at 50 % of 1 or more, 3
under 20 s. Timings are printed, never asserted; the replay must dead-letter nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer

from huigong_events.envelope import RecordedEvent, hash_input, to_kafka
from huigong_events.reference import DISTRICTS, GROUP_UNIONS, Occupation
from huigong_events.topics import topic_for_aggregate
from huigong_ops.registry import factory_for
from huigong_ops.replay import ReplayReport, replay_services, service_consumers
from huigong_ops.scan import open_consumer, partition_ranges
from huigong_platform.service import tune_gc
from huigong_platform.settings import SERVICES
from huigong_testkit.factories import authentic

from .common import REPO, CpuClock, Env, Stopwatch, bench_env, figure, publish

GOLDEN = REPO / "libs/events/golden"
AREAS = [*DISTRICTS, *GROUP_UNIONS]
OCCUPATIONS = list(Occupation)
PLATFORMS = ["美团", "饿了么", "顺丰速运", "滴滴出行", "货拉拉", "京东物流"]
FIRST_DAY = date(2022, 1, 1)


def golden(event_type: str, version: int) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(Path(GOLDEN / f"{event_type}.v{version}.json").read_text("utf-8"))
    return data


class Stream:
    """Sealed events in publication order, each aggregate's chain linked by its hashes."""

    def __init__(self) -> None:
        self.last: dict[tuple[str, str], tuple[int, str]] = {}

    def seal(
        self,
        event_type: str,
        aggregate_type: str,
        aggregate_id: str,
        data: dict[str, Any],
        at: datetime,
        actor: str,
        source: str,
        version: int = 1,
    ) -> RecordedEvent:
        """As a service records it: next aggregate version, previous hash, hash over the canonical
        encoding (`envelope.hash_input`)."""
        key = (aggregate_type, aggregate_id)
        number, prev = self.last.get(key, (0, None))
        fields: dict[str, Any] = {
            "id": uuid.uuid4(),
            "type": event_type,
            "schema_version": version,
            "aggregate_type": aggregate_type,
            "aggregate_id": aggregate_id,
            "aggregate_version": number + 1,
            "occurred_at": at,
            "recorded_at": at,
            "actor": actor,
            "source": source,
            "correlation_id": str(uuid.uuid4()),
            "causation_id": None,
            "prev_hash": prev,
            "data": data,
        }
        digest = hashlib.sha256(hash_input(fields)).hexdigest()
        self.last[key] = (number + 1, digest)
        # Tagged by the owning service's key as its store does: replay refuses untagged records.
        return authentic(RecordedEvent.trusted(**fields, hash=digest))


def at(day: date) -> datetime:
    return datetime.combine(day, time(2, 0), tzinfo=UTC)


def members(stream: Stream, count: int) -> Iterator[RecordedEvent]:
    """Every member enrolled and insured; a quarter reported again a year later."""
    again = count // 4
    joined: list[tuple[str, str, date, int]] = []
    for i in range(count):
        key = hashlib.sha256(f"bench-member-{i}".encode()).hexdigest()
        area = AREAS[i % len(AREAS)]
        day = FIRST_DAY + timedelta(days=(i * 7) % (4 * 365))
        year = day.year
        enrolled = {
            "member_key": key,
            "key_id": "bench-key-1",
            "enrolment_id": str(uuid.uuid4()),
            "district": area,
            "occupation": OCCUPATIONS[i % len(OCCUPATIONS)].value,
            "platform": PLATFORMS[i % len(PLATFORMS)],
            "joined_on": day.isoformat(),
        }
        yield stream.seal("MemberEnrolled", "member", key, enrolled, at(day), "system:registry", "registry")
        aid = {
            "member_key": key,
            "policy_year": year,
            "paid_by": "市总工会赠送" if year == 2022 else f"{area}工会",
            "granted_on": day.isoformat(),
        }
        yield stream.seal("MutualAidGranted", "member", key, aid, at(day), "system:registry", "registry")
        if i < again:
            joined.append((key, AREAS[(i + 3) % len(AREAS)], day, year))
    for key, area, day, year in joined:
        later = day + timedelta(days=366)
        again_data = {
            "member_key": key,
            "enrolment_id": str(uuid.uuid4()),
            "district": area,
            "reported_on": later.isoformat(),
        }
        yield stream.seal(
            "MemberReportedAgain", "member", key, again_data, at(later), "system:registry", "registry"
        )
        aid = {
            "member_key": key,
            "policy_year": year + 1,
            "paid_by": f"{area}工会",
            "granted_on": later.isoformat(),
        }
        yield stream.seal("MutualAidGranted", "member", key, aid, at(later), "system:registry", "registry")


def applications(stream: Stream, count: int) -> Iterator[RecordedEvent]:
    """Applications through review, at every schema version; approved ones become units, a part
    of them certified, some revoked or exited."""
    forms = {v: golden("ApplicationSubmitted", v) for v in (1, 2, 3)}
    amended = {v: golden("ApplicationAmended", v) for v in (1, 2)}
    scored = golden("ReviewScored", 1)
    for i in range(count):
        app = str(uuid.uuid4())
        area = list(DISTRICTS)[i % len(DISTRICTS)]
        version = 1 + i % 3
        day = date(2023, 3, 1) + timedelta(days=i % 100)
        district = f"district:{area}"
        data = {**forms[version], "application_id": app, "submitter": area}
        if version == 3:
            data["receipt_no"] = f"{day.year}-{area}-{i:05d}"
        yield stream.seal("ApplicationSubmitted", "application", app, data, at(day), district, area, version)
        if i % 5 == 0:
            change = {**amended[min(version, 2)], "application_id": app}
            yield stream.seal(
                "ApplicationAmended",
                "application",
                app,
                change,
                at(day + timedelta(days=3)),
                district,
                area,
                min(version, 2),
            )
        if i % 20 == 1:
            withdrawn = {**golden("ApplicationWithdrawn", 1), "application_id": app}
            yield stream.seal(
                "ApplicationWithdrawn",
                "application",
                app,
                withdrawn,
                at(day + timedelta(days=5)),
                district,
                area,
            )
            continue
        review_day = day + timedelta(days=20)
        if i % 10 == 2:
            rejected = {**golden("ApplicationRejected", 1), "application_id": app}
            rejected["findings"] = [{**f, "finding_id": str(uuid.uuid4())} for f in rejected["findings"]]
            yield stream.seal(
                "ApplicationRejected", "review", app, rejected, at(review_day), "system:review", "review"
            )
            continue
        accepted = {**golden("ApplicationAccepted", 1), "application_id": app, "submitter": area}
        yield stream.seal(
            "ApplicationAccepted", "review", app, accepted, at(review_day), "system:review", "review"
        )
        for n in range(3):
            score = {**scored, "application_id": app, "reviewer": f"city/expert-{n:02d}"}
            yield stream.seal(
                "ReviewScored",
                "review",
                app,
                score,
                at(review_day + timedelta(days=n + 1)),
                "reviewer",
                "review",
            )
        if i % 3 == 0:
            declined = {**golden("ConstructionDeclined", 1), "application_id": app}
            yield stream.seal(
                "ConstructionDeclined",
                "review",
                app,
                declined,
                at(review_day + timedelta(days=9)),
                "chair",
                "review",
            )
            continue
        approved = {**golden("ConstructionApproved", 1), "application_id": app, "submitter": area}
        yield stream.seal(
            "ConstructionApproved",
            "review",
            app,
            approved,
            at(review_day + timedelta(days=9)),
            "chair",
            "review",
        )
        yield from unit(stream, i, app, area, review_day + timedelta(days=10))


def unit(stream: Stream, i: int, application: str, area: str, day: date) -> Iterator[RecordedEvent]:
    unit_id = str(uuid.uuid4())
    registered = {
        **golden("UnitRegistered", 1),
        "unit_id": unit_id,
        "application_id": application,
        "area": area,
        "origin": "application",
        "name": f"青岛幸福企业{i:05d}有限公司",
    }
    yield stream.seal("UnitRegistered", "unit", unit_id, registered, at(day), "system:registry", "registry")
    if i % 2:
        return
    certificate = f"QDGH-2025-FQ-{i:05d}"
    certified = {**golden("UnitCertified", 1), "unit_id": unit_id, "certificate_no": certificate}
    yield stream.seal(
        "UnitCertified", "unit", unit_id, certified, at(date(2025, 7, 1)), "registrar", "registry"
    )
    if i % 8 == 0:
        revoked = {**golden("CertificationRevoked", 1), "unit_id": unit_id, "certificate_no": certificate}
        revoked["finding_id"] = str(uuid.uuid4())
        yield stream.seal(
            "CertificationRevoked",
            "unit",
            unit_id,
            revoked,
            at(date(2026, 3, 1)),
            "system:registry",
            "registry",
        )
    elif i % 10 == 4:
        exited = {**golden("UnitExited", 1), "unit_id": unit_id}
        yield stream.seal(
            "UnitExited", "unit", unit_id, exited, at(date(2024, 12, 31)), "registrar", "registry"
        )


def facilities(stream: Stream, count: int) -> Iterator[RecordedEvent]:
    for i in range(count):
        facility = str(uuid.uuid4())
        area = list(DISTRICTS)[i % len(DISTRICTS)]
        opened = {
            **golden("FacilityOpened", 1),
            "facility_id": facility,
            "report_id": str(uuid.uuid4()),
            "area": area,
        }
        yield stream.seal(
            "FacilityOpened",
            "facility",
            facility,
            opened,
            at(date(2022, 10, 1)),
            "system:registry",
            "registry",
        )
        if i % 10 == 0:
            closed = {**golden("FacilityClosed", 1), "facility_id": facility}
            yield stream.seal(
                "FacilityClosed", "facility", facility, closed, at(date(2024, 1, 1)), "registrar", "registry"
            )


def targets(stream: Stream, count: int) -> Iterator[RecordedEvent]:
    for i in range(count):
        change = {
            **golden("TargetChanged", 1),
            "new_value": str(400_000 + i * 1000),
            "old_value": str(400_000 + (i - 1) * 1000),
        }
        yield stream.seal(
            "TargetChanged",
            "target",
            "members_enrolled:370200:2025",
            change,
            at(date(2025, 1, 1)),
            "city:staff01",
            "metrics",
        )


async def raw_consume(env: Env, topics: list[str], count: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds) to read `count` records of `topics` and drop them."""
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=env.bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
        max_poll_records=5000,
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    await consumer.start()
    seen = 0
    try:
        watch, cpu = Stopwatch(), CpuClock()
        while seen < count:
            batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
            seen += sum(len(records) for records in batches.values())
        return watch.seconds, cpu.seconds
    finally:
        await consumer.stop()


def summary(reports: list[ReplayReport]) -> tuple[int, int, float]:
    """(records read per consumer summed, dead letters, feed seconds)."""
    consumers = [c for r in reports for c in r.consumers]
    for c in consumers:
        print(
            f"    {c.consumer:<28} {c.records:>10,} records  {c.applied:>10,} applied  "
            f"{c.duplicates:>6,} duplicates  {c.dead_lettered:>4,} dead letters"
        )
    return (
        sum(c.records for c in consumers),
        sum(c.dead_lettered for c in consumers),
        max(c.elapsed for c in consumers),
    )


async def main(member_count: int, application_count: int) -> None:
    tune_gc()  # as every service process does
    async with bench_env() as env:
        stream = Stream()
        watch = Stopwatch()
        events = [
            *members(stream, member_count),
            *applications(stream, application_count),
            *facilities(stream, application_count // 2),
            *targets(stream, 20),
        ]
        print(f"replay benchmark: {len(events):,} events, {member_count:,} members, prefix {env.prefix}")
        figure("seal (set-up, not a goal)", len(events), watch.seconds)
        watch = Stopwatch()
        await publish(
            env, ((topic_for_aggregate(e.aggregate_type).qualified(env.prefix), *to_kafka(e)) for e in events)
        )
        figure("publish (set-up, not a goal)", len(events), watch.seconds)
        del events

        selection: dict[str, list[str]] = {s: [] for s in SERVICES}
        read = sorted(
            {
                t.qualified(env.prefix)
                for s in SERVICES
                for name in service_consumers(s)
                for t in factory_for(name)().topics
            }
        )
        total = await count_records(env, read)
        print(f"  topics the projections read: {len(read)}, {total:,} records")
        raw = figure("1. raw aiokafka consume-and-discard", total, *await raw_consume(env, read, total))

        watch, cpu = Stopwatch(), CpuClock()
        reports = await replay_services(env.admin_dsn, env.bootstrap, env.prefix, selection)
        whole, spent = watch.seconds, cpu.seconds
        per_consumer, dead, feed = summary(reports)
        rate = figure("2. replay into every projection", total, feed, spent)
        print(
            f"     ({per_consumer:,} records fed to the consumers; the whole replay with shadow set-up and "
            f"table compare: {whole:.1f} s)"
        )
        print(f"  ratio replay / raw        {rate / raw:6.1%}   (goal ≥ 50%, was 14.5%)")

        cpu = CpuClock()
        (roster,) = await replay_services(
            env.admin_dsn, env.bootstrap, env.prefix, {"registry": ["registry.roster"]}
        )
        _, dead_roster, roster_feed = summary([roster])
        records = roster.consumers[0].records
        figure(f"3. the roster: {member_count:,} members", records, roster_feed, cpu.seconds)
        print(f"     {member_count:,} members replayed in {roster_feed:.1f} s (goal < 20 s)")
        if dead or dead_roster:
            raise SystemExit(
                f"the replay dead-lettered {dead + dead_roster} records: the stream is not valid"
            )


async def count_records(env: Env, topics: list[str]) -> int:
    async with open_consumer(env.bootstrap, "bench-replay") as consumer:
        found, _ = await partition_ranges(consumer, topics)
    return sum(r.records for parts in found.values() for r in parts)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=400_000)
    parser.add_argument("--applications", type=int, default=1_000)
    args = parser.parse_args()
    asyncio.run(main(args.members, args.applications))
