"""The envelope: hash chain (tamper evidence) and the CloudEvents Kafka binding."""

from __future__ import annotations

import json

import pytest

from huigong_events.envelope import EnvelopeError, canonical_json, from_kafka, to_kafka
from huigong_testkit.factories import enrolment, recorded


def chain(n: int) -> list:  # type: ignore[type-arg]
    events = []
    prev = None
    aggregate = "agg-1"
    for version in range(1, n + 1):
        event = recorded(enrolment(), aggregate_id=aggregate, version=version, prev_hash=prev)
        prev = event.hash
        events.append(event)
    return events


def test_a_sealed_event_verifies_and_links_to_its_predecessor() -> None:
    events = chain(3)
    assert all(e.hash_is_valid() for e in events)
    assert [e.prev_hash for e in events[1:]] == [e.hash for e in events[:-1]]


def test_altering_any_field_breaks_the_hash() -> None:
    event = chain(1)[0]
    for change in (
        {"actor": "someone-else"},
        {"data": {**event.data, "district": "370203"}},
        {"aggregate_version": 2},
        {"occurred_at": event.occurred_at.replace(year=2021)},
    ):
        forged = event.model_copy(update=change)
        assert not forged.hash_is_valid(), change


def test_cloudevents_binary_mode_round_trip() -> None:
    event = chain(2)[1]
    key, value, headers = to_kafka(event)
    names = dict(headers)
    assert key == event.aggregate_id.encode()
    assert names["ce_specversion"] == b"1.0"
    assert names["ce_type"] == b"EnrolmentRequested"
    assert names["ce_id"] == str(event.id).encode()
    assert names["ce_subject"] == event.aggregate_id.encode()
    assert names["content-type"] == b"application/json"
    assert json.loads(value) == event.data  # the value is the data alone (binary mode)
    back = from_kafka(value, headers)
    assert back == event
    assert back.hash_is_valid()


def test_a_forged_value_on_the_topic_is_detected() -> None:
    event = chain(1)[0]
    _, value, headers = to_kafka(event)
    forged = json.loads(value)
    forged["mutual_aid"] = not forged["mutual_aid"]
    assert not from_kafka(json.dumps(forged).encode(), headers).hash_is_valid()


@pytest.mark.parametrize(
    ("value", "headers", "message"),
    [
        (b"{}", [], "ce_specversion"),
        (b"[1]", [("ce_specversion", b"1.0")], "JSON object"),
        (b"{", [("ce_specversion", b"1.0")], "not JSON"),
        (b"{}", [("ce_specversion", b"1.0")], "missing header ce_id"),
        (b"{}", [("ce_specversion", b"1.0"), ("x-other", b"\xff")], "header x-other is not UTF-8"),
    ],
)
def test_broken_records_say_what_is_wrong(value: bytes, headers: list, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(EnvelopeError, match=message):
        from_kafka(value, headers)


@pytest.mark.parametrize("text", ["普通中文", "\u2028", "\x7f", "a/b", "\x00", "😀", "é", "“引号”"])
def test_the_canonical_encoding_is_the_documented_one(text: str) -> None:
    """The hash is over a documented encoding, so other systems can verify it with any JSON library."""
    value = {"b": [1, text, None, True], "a": {"z": "2024-06-30", "y": "12.50"}}
    reference = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    assert canonical_json(value) == reference
