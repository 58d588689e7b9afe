"""The cost of checking that a record is authentic, beside the cost of decoding it.

Every consumer (projections, reactions, replay, dead-letter retry) checks each record's tag
(`huigong_events.authenticity.RecordKeys.check`: HMAC-SHA-256 over the record as transmitted)
before decoding it (`Applier.decode`). Measured here side by side on the same records, in one
process, with no broker or database: per record, SHA-256 of the bytes the tag covers (the floor
no check can beat), the check in the MessagePack layout every record is tagged in now and in
the first layout of older records, the decode alone (envelope, upcast, validation), and the
check and decode as the runner does them. Budget: the check at most 2 µs a
record. Figures only, no timed assertion: CPU time depends on the machine and its neighbours.

    .venv/bin/python -m bench.bench_authenticity [--records 20000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import time
from collections.abc import Callable

from huigong_events.authenticity import (
    ENVIRONMENT_VARIABLE,
    default_keys,
    legacy_message,
    message,
    new_secret,
)
from huigong_events.envelope import from_kafka, to_kafka
from huigong_events.upcasting import decode
from huigong_platform.service import tune_gc
from huigong_platform.settings import SERVICES
from huigong_platform.subscriptions import Applier, RawRecord

from .common import machine_line

TOPIC = "bench.huigong.intake.enrolments"


def best_of(rounds: int, work: Callable[[], object]) -> float:
    """The fastest of `rounds` runs, in CPU seconds: the least disturbed by other processes."""
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        work()
        best = min(best, time.process_time() - start)
    return best


def main(count: int, rounds: int) -> None:
    tune_gc()  # as every service process does
    os.environ.setdefault(ENVIRONMENT_VARIABLE, ",".join(f"{s}.1:{new_secret()}" for s in SERVICES))
    from huigong_testkit.factories import enrolment, recorded  # reads the keys set above

    districts = ["370202", "370203", "370213", "370212", "370214", "370211", "370215", "370281"]
    raws = []
    for i in range(count):
        key, value, headers = to_kafka(recorded(enrolment(districts[i % len(districts)])))
        # Header names as aiokafka hands them over: new strings, not the interned literals.
        raws.append(RawRecord(TOPIC, 0, i, key, value, tuple((n.encode().decode(), v) for n, v in headers)))
    check = default_keys().check
    # The same records as tagged before the MessagePack layout (`ce_authkey` without `;m2`).
    intake = default_keys().signing_key("intake")
    legacy = []
    for r in raws:
        untagged = (*r.headers[:-2], ("ce_authkey", intake.key_id.encode()), ("ce_authtag", b""))
        tag = intake.mac(legacy_message(r.value or b"", untagged)).hex().encode()
        legacy.append(r._replace(headers=(*untagged[:-1], ("ce_authtag", tag))))

    def check_all() -> None:
        for r in raws:
            check(r.topic, r.value, r.headers)

    def check_legacy() -> None:
        for r in legacy:
            check(r.topic, r.value, r.headers)

    def decode_all() -> None:
        for r in raws:
            decode(from_kafka(r.value, r.headers))

    messages = [message(r.value or b"", r.headers) for r in raws]

    def sha256_all() -> None:
        for m in messages:
            hashlib.sha256(m).digest()

    def runner() -> None:
        failures = [d for d in Applier.decode(raws) if isinstance(d, tuple)]
        assert not failures, failures[0]

    size = sum(len(r.value or b"") + sum(len(n) + len(v) for n, v in r.headers) for r in raws) / count
    print(machine_line())
    print(f"authenticity check: {count:,} EnrolmentRequested records of {size:.0f} bytes (value + headers)")
    per = {
        name: best_of(rounds, work) / count * 1e6
        for name, work in (
            ("sha", sha256_all),
            ("check", check_all),
            ("legacy", check_legacy),
            ("decode", decode_all),
            ("runner", runner),
        )
    }
    print(f"  0. SHA-256 of the same bytes (floor)   {per['sha']:6.2f} µs/record")
    print(
        f"  1. check the tag (HMAC-SHA-256)        {per['check']:6.2f} µs/record   budget 2 µs; "
        f"{per['check'] / per['sha']:.2f}x the floor"
    )
    print(
        f"     the same, first layout (old tags)   {per['legacy']:6.2f} µs/record   "
        f"{per['legacy'] / per['sha']:.2f}x the floor"
    )
    print(f"  2. decode (envelope, upcast, models)   {per['decode']:6.2f} µs/record")
    print(f"  3. Applier.decode: 1 then 2            {per['runner']:6.2f} µs/record")
    print(
        f"  check / decode: {per['check'] / per['decode']:.2f}; "
        f"runner / decode: {per['runner'] / per['decode']:.2f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    main(args.records, args.rounds)
