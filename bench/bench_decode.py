"""Decode micro-benchmark: the pydantic path against the derived (msgspec) path, per record, over
a realistic mix of event types, side by side in one process. No stack needed.

A record is what a consumer receives: CloudEvents headers and JSON value. Decoding it means the
envelope (headers validated, value parsed) and the typed current-version event. The mix is the
platform's volume: gig-worker enrolments and members (the 400,000) dominate, then every other
event type from its golden file, old versions included (they are upcast on the way).

Each path runs over the same records in alternating rounds; the best round counts (the least
disturbed by other processes on a shared machine), as CPU time of this process.
"""

from __future__ import annotations

import argparse
import json
import random
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from huigong_events.base import DomainEvent
from huigong_events.catalogue import EVENT_TYPES
from huigong_events.envelope import RecordedEvent, from_kafka, seal, to_kafka
from huigong_events.reading import decode_event, envelope_of
from huigong_events.registry import MemberEnrolled, MutualAidGranted
from huigong_events.upcasting import decode, upcast
from huigong_platform.service import tune_gc
from huigong_testkit.factories import enrolment, member_key

GOLDEN = Path(__file__).resolve().parents[1] / "libs/events/golden"

Record = tuple[bytes, Sequence[tuple[str, bytes]]]


def _sealed(event: DomainEvent, version: int | None = None, data: dict[str, object] | None = None) -> Record:
    now = datetime(2026, 6, 30, 8, 0, tzinfo=UTC) + timedelta(microseconds=random.randrange(10**9))
    record = seal(
        event=event,
        event_id=uuid.uuid4(),
        aggregate_id=str(uuid.uuid4()),
        aggregate_version=random.randint(1, 3),
        occurred_at=now,
        recorded_at=now,
        actor="district-370202",
        source="370202",
        correlation_id=str(uuid.uuid4()),
        causation_id=str(uuid.uuid4()) if random.random() < 0.5 else None,
        prev_hash=uuid.uuid4().hex * 2 if random.random() < 0.7 else None,
    )
    if version is not None and data is not None:
        record = RecordedEvent.trusted(**{**record.__dict__, "schema_version": version, "data": data})
    _, value, headers = to_kafka(record)
    return value, tuple(headers)


def mix(count: int, seed: int = 20) -> list[Record]:
    """70 % enrolments and members, 10 % mutual aid, 20 % every other type (golden files)."""
    random.seed(seed)
    goldens: list[tuple[DomainEvent, int, dict[str, object]]] = []
    for path in sorted(GOLDEN.glob("*.json")):
        name, stored_version = path.name.removesuffix(".json").split(".v")
        data = json.loads(path.read_text(encoding="utf-8"))
        cls = EVENT_TYPES[name]
        current = upcast(name, int(stored_version), cls.schema_version, data)
        goldens.append((cls.model_validate({**current, "type": name}), int(stored_version), data))
    districts = ["370202", "370203", "370213", "370212", "370214", "370211", "370215", "370281"]
    records: list[Record] = []
    for i in range(count):
        draw = random.random()
        district = districts[i % len(districts)]
        if draw < 0.35:
            records.append(_sealed(enrolment(district)))
        elif draw < 0.70:
            source = enrolment(district)
            records.append(
                _sealed(
                    MemberEnrolled(
                        member_key=member_key(str(i)),
                        key_id="member-key-1",
                        enrolment_id=source.enrolment_id,
                        district=district,
                        occupation=source.occupation,
                        platform=source.platform,
                        joined_on=source.joined_on,
                    )
                )
            )
        elif draw < 0.80:
            records.append(
                _sealed(
                    MutualAidGranted(
                        member_key=member_key(str(i)),
                        policy_year=2026,
                        paid_by="市总工会赠送",
                        granted_on=date(2026, 7, 1),
                    )
                )
            )
        else:
            event, version, stored = random.choice(goldens)
            records.append(_sealed(event, version, stored))
    return records


def pydantic_path(records: list[Record]) -> None:
    for value, headers in records:
        decode(from_kafka(value, headers))


def derived_path(records: list[Record]) -> None:
    # The derived path itself, whichever path decode_record takes by default.
    for value, headers in records:
        decode_event(envelope_of(value, headers))


def best(run: Callable[[list[Record]], None], records: list[Record]) -> float:
    start = time.process_time()
    run(records)
    return (time.process_time() - start) / len(records) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    tune_gc()  # as every service and the runner benchmark run
    records = mix(args.records)
    envelopes = [envelope_of(value, headers) for value, headers in records]

    def pydantic_envelope(rs: list[Record]) -> None:
        for value, headers in rs:
            from_kafka(value, headers)

    def derived_envelope(rs: list[Record]) -> None:
        for value, headers in rs:
            envelope_of(value, headers)

    def pydantic_event(_: list[Record]) -> None:
        for record in envelopes:
            decode(record)

    def derived_event(_: list[Record]) -> None:
        for record in envelopes:
            decode_event(record)

    stages = {
        "headers + envelope": (pydantic_envelope, derived_envelope),
        "typed event (upcast + validate)": (pydantic_event, derived_event),
        "decode per record (headers + envelope + typed event)": (pydantic_path, derived_path),
    }
    results = {label: [float("inf"), float("inf")] for label in stages}
    for _ in range(args.rounds):
        for label, (slow, fast) in stages.items():
            results[label][0] = min(results[label][0], best(slow, records))
            results[label][1] = min(results[label][1], best(fast, records))
    print(
        f"decode micro-benchmark: {len(records):,} records, best of {args.rounds} rounds, µs CPU per record"
    )
    print(f"  {'stage':<54} {'pydantic':>9} {'derived':>9} {'speed-up':>9}")
    for label, (slow_us, fast_us) in results.items():
        print(f"  {label:<54} {slow_us:>9.2f} {fast_us:>9.2f} {slow_us / fast_us:>8.1f}x")
    total = results["decode per record (headers + envelope + typed event)"][1]
    verdict = "met" if total <= 3.0 else "not met"
    print(f"  goal: decode per record ≤ 3 µs (was 16 µs): {total:.2f} µs, {verdict}")


if __name__ == "__main__":
    main()
