"""Decode micro-benchmark: the pydantic path against the derived (msgspec) path, per record, over
a realistic mix of event types, side by side in one process. No stack needed.

A record is what a consumer receives: CloudEvents headers and JSON value. Decoding it means the
envelope (headers validated, value parsed) and the typed current-version event. The mix is the
platform's volume: gig-worker enrolments and members (the 400,000) dominate, then every other
event type from its golden file, old versions included (they are upcast on the way).

Each path runs over the same records in alternating rounds; the best round counts (the least
disturbed by other processes on a shared machine), as CPU time of this process.

Every record is tagged as its owning service tags it, and a consumer checks the tag before
decoding (`RecordKeys.check`, budget 2 µs a record): the check is measured on the same records
and added to the decode, beside SHA-256 of the bytes it covers (the floor no check can beat).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from huigong_events.authenticity import ENVIRONMENT_VARIABLE, default_keys, message, new_secret
from huigong_events.base import DomainEvent
from huigong_events.catalogue import EVENT_TYPES
from huigong_events.envelope import RecordedEvent, from_kafka, seal, to_kafka
from huigong_events.reading import decode_event, envelope_of
from huigong_events.registry import MemberEnrolled, MutualAidGranted
from huigong_events.topics import topic_for_aggregate
from huigong_events.upcasting import decode, upcast
from huigong_platform.service import tune_gc
from huigong_platform.settings import SERVICES
from huigong_testkit.factories import enrolment, member_key

GOLDEN = Path(__file__).resolve().parents[1] / "libs/events/golden"

Record = tuple[bytes, Sequence[tuple[str, bytes]]]
# The event topic of each record, by its position in the mix: what the check needs to know the owner.
TOPICS: list[str] = []


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
    record = default_keys().tag(record)  # as its owning service's event store tags it
    TOPICS.append(topic_for_aggregate(record.aggregate_type).name)
    _, value, headers = to_kafka(record)
    # Header names as the Kafka client hands them over: new strings, not interned literals.
    return value, tuple((name.encode().decode(), raw) for name, raw in headers)


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
    # Keys of this run only, unless the environment holds some.
    os.environ.setdefault(ENVIRONMENT_VARIABLE, ",".join(f"{s}.1:{new_secret()}" for s in SERVICES))
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

    check = default_keys().check
    covered = [message(value, headers) for value, headers in records]
    checked = list(zip(TOPICS, records, strict=True))

    def check_all(_: list[Record]) -> None:
        for topic, (value, headers) in checked:
            check(topic, value, headers)

    def sha_all(_: list[Record]) -> None:
        for m in covered:
            hashlib.sha256(m).digest()

    check_us = sha_us = float("inf")
    for _ in range(args.rounds):
        check_us = min(check_us, best(check_all, records))
        sha_us = min(sha_us, best(sha_all, records))
    print(
        f"  check the tag before decoding (HMAC-SHA-256): {check_us:.2f} µs "
        f"({check_us / sha_us:.1f}x SHA-256 of the same bytes, {sha_us:.2f} µs); budget 2 µs: "
        f"{'met' if check_us <= 2.0 else 'not met'}"
    )
    for label, (slow_us, fast_us) in results.items():
        if label.startswith("decode per record"):
            print(
                f"  decode per record with the check: pydantic {slow_us + check_us:.2f} µs, "
                f"derived {fast_us + check_us:.2f} µs"
            )


if __name__ == "__main__":
    main()
