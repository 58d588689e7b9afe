"""The runner's pure parts: how keys go to PostgreSQL, and decoding as strict as the contract."""

from __future__ import annotations

import pytest

from huigong_events.authenticity import NotAuthentic, default_keys
from huigong_events.envelope import EnvelopeError, RecordedEvent, from_kafka, to_kafka
from huigong_events.upcasting import decode
from huigong_platform.subscriptions import Applier, IgnoredEvent, RawRecord, _Decoded, key_columns
from huigong_testkit.factories import enrolment, recorded


def test_keys_go_as_one_string_per_column_unless_a_value_holds_the_separator() -> None:
    sql, types, ids = key_columns(["member", "unit"], ["a1", "b2"])
    assert "string_to_array" in sql
    assert (types, ids) == ("member\x1funit", "a1\x1fb2")

    sql, types, ids = key_columns(["member", "unit"], ["a\x1f1", "b2"])
    assert sql == "$2::text[], $3::text[]"
    assert (types, ids) == (["member", "unit"], ["a\x1f1", "b2"])


def test_a_decoded_record_equals_the_recorded_event() -> None:
    event = recorded(enrolment())
    _, value, headers = to_kafka(event)
    back = from_kafka(value, headers)
    assert back == event and back.model_dump() == event.model_dump()
    assert RecordedEvent.model_validate(back.model_dump()) == back
    # The event decoded straight from the record equals the one decoded from an envelope built
    # by pydantic's model validation.
    assert decode(back) == decode(RecordedEvent.model_validate(event.model_dump()))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("x-trace", b"\xff"), "header x-trace is not UTF-8"),  # even a header we do not read
        (("ce_aggregateversion", b"0"), "malformed envelope"),
        (("ce_hash", b"ABC"), "malformed envelope"),
        (("ce_time", b"2027-05-10T01:00:00"), "timezone-aware"),
    ],
)
def test_every_header_is_still_checked(change: tuple[str, bytes], message: str) -> None:
    _, value, headers = to_kafka(recorded(enrolment()))
    name, raw = change
    changed = [(n, raw if n == name else v) for n, v in headers]
    if name not in dict(headers):
        changed.append(change)
    with pytest.raises(EnvelopeError, match=message):
        from_kafka(value, changed)


def test_a_broken_record_becomes_a_failure_with_its_record_not_an_exception() -> None:
    good = recorded(enrolment())
    _, value, headers = to_kafka(good)
    topic = "t1.huigong.intake.enrolments"
    raws = [
        RawRecord(topic, 0, 0, b"k", value, tuple(headers)),
        RawRecord(topic, 0, 1, b"k", b"{", tuple(headers)),
        RawRecord(topic, 0, 2, b"k", b"{", tuple(headers[:-2])),
    ]
    ok, altered, untagged = Applier.decode(raws)
    assert not isinstance(ok, tuple) and ok.aggregate == ("enrolment", good.aggregate_id)
    assert isinstance(altered, tuple) and altered[0] is raws[1] and isinstance(altered[1], NotAuthentic)
    assert isinstance(untagged, tuple) and isinstance(untagged[1], NotAuthentic)


def test_a_tagged_record_that_is_not_an_envelope_is_still_refused() -> None:
    """The tag proves who wrote a record, not that it is well formed: decoding stays as strict."""
    good = recorded(enrolment())
    _, _, headers = to_kafka(good)
    key = default_keys().signing_key("intake")
    covered = [*headers[:-1], ("ce_authtag", b"")]
    tagged = [*headers[:-1], ("ce_authtag", key.sign(b"{", covered).encode())]
    (broken,) = Applier.decode([RawRecord("huigong.intake.enrolments", 0, 0, b"k", b"{", tuple(tagged))])
    assert isinstance(broken, tuple) and isinstance(broken[1], EnvelopeError)


def retagged(
    offset: int, value: bytes, headers: list[tuple[str, bytes]] | tuple[tuple[str, bytes], ...]
) -> RawRecord:
    """A record as intake would tag it, whatever its value and headers: to test decoding alone."""
    key = default_keys().signing_key("intake")
    untagged = [*headers[:-1], ("ce_authtag", b"")]
    tag = key.sign(value, untagged).encode()
    return RawRecord(
        "t.huigong.intake.enrolments", 0, offset, b"k", value, (*headers[:-1], ("ce_authtag", tag))
    )


def test_a_type_the_projection_ignores_is_not_decoded_but_keeps_its_place() -> None:
    good = recorded(enrolment(), version=2)
    _, value, headers = to_kafka(good)
    # The body is broken: a projection that reads this type dead-letters it; one that ignores
    # the type never parses the body and still learns the aggregate's version from the headers.
    raw = retagged(0, b"{", headers)
    (ignored,) = Applier.decode([raw], lambda event_type: event_type != "EnrolmentRequested")
    assert isinstance(ignored, _Decoded)
    assert ignored.aggregate == ("enrolment", good.aggregate_id)
    assert ignored.record.aggregate_version == 2 and ignored.record.data == {}
    with pytest.raises(IgnoredEvent):
        _ = ignored.event
    (read,) = Applier.decode([raw], lambda event_type: event_type == "EnrolmentRequested")
    assert isinstance(read, tuple) and isinstance(read[1], EnvelopeError)
    # Broken headers are refused as before, ignored type or not.
    bad = tuple((n, b"0" if n == "ce_aggregateversion" else v) for n, v in headers)
    (refused,) = Applier.decode([retagged(1, value, bad)], lambda _: False)
    assert isinstance(refused, tuple) and "malformed envelope" in str(refused[1])


def test_a_record_is_decoded_once_however_many_projections_read_it() -> None:
    _, value, headers = to_kafka(recorded(enrolment()))
    raw = RawRecord("shared.huigong.intake.enrolments", 3, 17, b"k", value, tuple(headers))
    (first,) = Applier.decode([raw])
    (second,) = Applier.decode([RawRecord(*raw)])
    assert isinstance(first, _Decoded) and isinstance(second, _Decoded)
    assert second.event is first.event and second.record is first.record
    # Another record at the same position (a topic recreated under the same name) is its own.
    _, other_value, other_headers = to_kafka(recorded(enrolment()))
    (third,) = Applier.decode(
        [RawRecord("shared.huigong.intake.enrolments", 3, 17, b"k", other_value, tuple(other_headers))]
    )
    assert isinstance(third, _Decoded) and third.event is not first.event
    assert third.record.id != first.record.id


def test_a_record_checked_by_one_projection_is_not_checked_again_but_another_at_its_place_is(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The projections of a service read the same records: the first checks and decodes each,
    the others reuse both; a record at the same position that differs by a byte is checked."""
    topic = "t.huigong.intake.enrolments"
    good = recorded(enrolment())
    key, value, headers = to_kafka(good)
    raw = RawRecord(topic, 3, 41, key, value, tuple(headers))
    keys = default_keys()
    calls: list[str] = []
    original = keys.check

    def counting(topic: str, value: bytes | None, headers: object) -> str:
        calls.append(topic)
        return original(topic, value, headers)  # type: ignore[arg-type]

    monkeypatch.setattr(keys, "check", counting)
    (first,) = Applier.decode([raw])
    (second,) = Applier.decode([RawRecord(topic, 3, 41, key, bytes(value), tuple(headers))])
    assert isinstance(first, _Decoded) and isinstance(second, _Decoded) and second.record == good
    assert calls == [topic]
    forged = RawRecord(topic, 3, 41, key, value.replace(b"370202", b"370203"), tuple(headers))
    (refused,) = Applier.decode([forged])
    assert isinstance(refused, tuple) and isinstance(refused[1], NotAuthentic)
    assert calls == [topic, topic]
