"""Headers kept as sent (the idempotency key, the correlation id) must not hold a worker's phone or
ID number; the same detector as `huigong scan-personal`, so ordinary ids are never refused."""

from __future__ import annotations

import uuid

from huigong_platform.database import migration_order
from huigong_platform.service import personal_data_in_headers

ID_NUMBER = "370202199001011237"  # valid check character (7)
PHONE = "13812345678"


def fields(headers: dict[str, str]) -> list[str]:
    return [e.field for e in personal_data_in_headers(headers.items())]


def test_a_phone_or_id_number_in_either_header_is_refused_by_field() -> None:
    assert fields({"Idempotency-Key": f"enrol-{PHONE}"}) == ["Idempotency-Key"]
    assert fields({"X-Correlation-ID": f"trace {ID_NUMBER}"}) == ["X-Correlation-ID"]
    assert fields({"Idempotency-Key": ID_NUMBER, "X-Correlation-ID": PHONE}) == [
        "Idempotency-Key",
        "X-Correlation-ID",
    ]
    # Any case, and a header sent twice is read whole.
    assert fields({"idempotency-key": PHONE}) == ["Idempotency-Key"]
    assert [
        e.field for e in personal_data_in_headers([("x-correlation-id", "a"), ("x-correlation-id", PHONE)])
    ] == ["X-Correlation-ID"]
    (error,) = personal_data_in_headers([("Idempotency-Key", PHONE)])
    assert "手机号" in error.zh and "phone" in error.en
    assert PHONE not in error.zh + error.en


def test_ordinary_ids_pass() -> None:
    for value in (
        str(uuid.uuid4()),
        uuid.uuid4().hex,
        "sim-" + str(uuid.uuid4()),
        "bench-12",
        "seed-2022:370202-01",
        "370202199001011230",  # wrong check character: not an ID number
        "12812345678",  # not a mobile segment
        "x13812345678y",  # inside a longer token, as the scan reads it
    ):
        assert fields({"Idempotency-Key": value, "X-Correlation-ID": value}) == [], value
    assert fields({}) == []


def test_provisioning_migrates_the_registry_before_intake() -> None:
    order = migration_order(["intake", "review", "registry", "metrics"])
    assert order.index("registry") < order.index("intake")
    assert sorted(order) == ["intake", "metrics", "registry", "review"]
