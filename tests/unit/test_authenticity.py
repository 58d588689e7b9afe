"""Authentic records: the forgeries an admin Kafka principal can make, refused on the raw record."""

from __future__ import annotations

import hashlib
import hmac

import orjson
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from huigong_events.authenticity import (
    NotAuthentic,
    RecordKey,
    RecordKeys,
    compiled_check,
    legacy_message,
    message,
    new_secret,
)
from huigong_events.envelope import RecordedEvent, from_kafka, hash_input, to_kafka
from huigong_testkit.factories import enrolment, recorded

TOPIC = "t9.huigong.intake.enrolments"


def keys(*ids: str) -> RecordKeys:
    return RecordKeys.parse(",".join(f"{i}:{new_secret()}" for i in ids))


KEYS = keys("intake.1", "review.1", "registry.1", "metrics.1")


def record(k: RecordKeys = KEYS) -> tuple[RecordedEvent, bytes, list[tuple[str, bytes]]]:
    event = k.tag(recorded(enrolment()))
    _, value, headers = to_kafka(event)
    return event, value, headers


def with_header(headers: list[tuple[str, bytes]], name: str, value: bytes) -> list[tuple[str, bytes]]:
    return [(n, value if n == name else v) for n, v in headers]


def test_a_record_tagged_by_its_topics_owner_passes_and_names_the_key() -> None:
    event, value, headers = record()
    assert event.auth_key == "intake.1;m3"  # the key, and the way the tag is made (GMAC)
    assert headers[-2:] == [("ce_authkey", b"intake.1;m3"), ("ce_authtag", event.auth_tag.encode())]  # type: ignore[union-attr]
    assert KEYS.check(TOPIC, value, headers) == "intake.1"
    assert from_kafka(value, headers) == event  # the tag travels into the envelope


def test_content_altered_with_the_hash_copied_is_refused() -> None:
    _, value, headers = record()
    data = orjson.loads(value)
    data["district"] = "370203"
    with pytest.raises(NotAuthentic, match="tag does not match"):
        KEYS.check(TOPIC, orjson.dumps(data), headers)


def test_a_next_version_with_the_chain_hash_recomputed_is_refused() -> None:
    """Anyone can recompute the SHA-256 chain; no one without the key can recompute the tag."""
    event, _, _ = record()
    forged_fields = {
        **event.__dict__,
        "aggregate_version": 2,
        "prev_hash": event.hash,
        "data": {**event.data, "platform": "伪造"},
    }
    forged_fields["hash"] = hashlib.sha256(hash_input(forged_fields)).hexdigest()
    forged = RecordedEvent.trusted(**forged_fields)
    assert forged.hash_is_valid()
    _, value, headers = to_kafka(forged)  # keeps the original's tag headers
    with pytest.raises(NotAuthentic):
        KEYS.check(TOPIC, value, headers)
    untagged = RecordedEvent.trusted(**{**forged_fields, "auth_key": None, "auth_tag": None})
    _, value, headers = to_kafka(untagged)
    with pytest.raises(NotAuthentic, match="no authentication tag"):
        KEYS.check(TOPIC, value, headers)


@pytest.mark.parametrize(
    ("header", "value"),
    [("ce_actor", b"registrar:forger"), ("ce_aggregateversion", b"7"), ("ce_type", b"MemberEnrolled")],
)
def test_any_header_altered_is_refused(header: str, value: bytes) -> None:
    _, body, headers = record()
    with pytest.raises(NotAuthentic):
        KEYS.check(TOPIC, body, with_header(headers, header, value))


def test_headers_renamed_in_place_are_refused() -> None:
    """Swapping two headers' names (actor ↔ source) keeps every value where it was."""
    _, value, headers = record()
    renamed = [
        ("ce_actor" if n == "ce_source" else "ce_source" if n == "ce_actor" else n, v) for n, v in headers
    ]
    with pytest.raises(NotAuthentic):
        KEYS.check(TOPIC, value, renamed)


def test_a_value_boundary_moved_between_headers_or_into_the_body_is_refused() -> None:
    """The same bytes split another way: each header's length is part of what is tagged."""
    _, value, headers = record()
    actor, source = dict(headers)["ce_actor"], dict(headers)["ce_source"]
    shifted = with_header(with_header(headers, "ce_actor", actor + source[:1]), "ce_source", source[1:])
    with pytest.raises(NotAuthentic, match="tag does not match"):
        KEYS.check(TOPIC, value, shifted)
    moved = [*headers[:-3], (headers[-3][0], headers[-3][1] + value[:1]), *headers[-2:]]
    with pytest.raises(NotAuthentic, match="tag does not match"):
        KEYS.check(TOPIC, value[1:], moved)


def test_the_layout_is_messagepack_of_the_headers_then_the_value() -> None:
    """Pinned byte for byte, so that a checker written elsewhere can rebuild it from the docs:
    an array of [name (str), value (bin)] pairs, each in its smallest form, then the value."""
    headers = [("ce_id", b"abc"), ("ce_authkey", b"intake.1;m2"), ("ce_authtag", b"")]
    expected = (
        b"\x92"  # an array of two: every header but the tag
        + b"\x92\xa5ce_id\xc4\x03abc"
        + b"\x92\xaace_authkey\xc4\x0bintake.1;m2"
        + b"{}"
    )
    assert message(b"{}", headers) == expected


def test_the_tag_is_gmac_under_a_key_derived_from_the_secret() -> None:
    """Pinned with the cryptography library's AES-GCM directly, as an outside checker holding
    the secret would rebuild it from the docs: a random nonce, then the tag over the message."""
    secret = new_secret()
    k = RecordKeys.parse(f"intake.1:{secret}")
    _, value, headers = record(k)
    sealed = bytes.fromhex(headers[-1][1].decode())
    assert len(sealed) == 12 + 16
    derived = hmac.digest(bytes.fromhex(secret), b"huigong event tag gmac", "sha256")
    nonce, tag = sealed[:12], sealed[12:]
    assert AESGCM(derived).encrypt(nonce, b"", message(value, headers)) == tag
    # A nonce per record: the same record tagged twice carries two tags, both valid.
    again = k.signing_key("intake").sign(value, headers)
    assert again != headers[-1][1].decode()
    assert k.check(TOPIC, value, with_header(headers, "ce_authtag", again.encode())) == "intake.1"


def test_the_compiled_check_is_built() -> None:
    """bin/setup compiles it (python -m huigong_events.build_tagcheck: a C compiler and OpenSSL's
    headers); without it every consumer checks tags two to three times slower."""
    assert compiled_check(), "huigong_events/_tagcheck.c is not built: run bin/setup"


@pytest.mark.parametrize("count", [1, 2, 15, 16, 17, 40])
@pytest.mark.parametrize(
    ("name_len", "value_len"), [(0, 0), (1, 1), (31, 255), (32, 256), (255, 65535), (256, 65536)]
)
def test_the_compiled_check_frames_headers_as_msgspec_does(count: int, name_len: int, value_len: int) -> None:
    """Every MessagePack length form on either side of its boundary (fixarray/array16, fixstr/
    str8/str16, bin8/bin16/bin32): the compiled check accepts exactly what the Python path
    tagged, refuses one byte changed, and hands what it does not frame itself (headers over its
    buffer) to the Python path, which decides alike."""
    key = KEYS.signing_key("intake")
    names = [(("n" * name_len) + f"{i:03d}")[-name_len:] if name_len else "" for i in range(count)]
    headers = [(name, bytes([i % 251]) * value_len) for i, name in enumerate(names)]
    untagged = [*headers, ("ce_authkey", b"intake.1;m3"), ("ce_authtag", b"")]
    value = b'{"district":"370202"}'
    tagged = [*untagged[:-1], ("ce_authtag", key.sign(value, untagged).encode())]
    framed = len(message(value, tagged)) - len(value)
    verdict = key._compiled.verify(tagged, value, tagged[-1][1])  # type: ignore[attr-defined]
    assert verdict is (True if framed <= 16384 else None)
    assert KEYS.check(TOPIC, value, tagged) == "intake.1"
    assert KEYS.check(TOPIC, value, tuple(tagged)) == "intake.1"
    with pytest.raises(NotAuthentic, match="tag does not match"):
        KEYS.check(TOPIC, value + b" ", tagged)
    if count > 1 and value_len:
        changed = [*tagged[:1], (tagged[1][0], b"\xff" + tagged[1][1][1:]), *tagged[2:]]
        with pytest.raises(NotAuthentic, match="tag does not match"):
            KEYS.check(TOPIC, value, changed)


def test_a_value_too_long_for_the_compiled_buffer_is_hashed_where_it_lies() -> None:
    """Headers and value share the C buffer when they fit; a longer value is authenticated on its
    own, after the headers: the same verdict either way."""
    key = KEYS.signing_key("intake")
    _, _, headers = record()
    for size in (100, 16_000, 40_000):
        value = b'{"note":"' + b"x" * size + b'"}'
        untagged = [*headers[:-1], ("ce_authtag", b"")]
        tagged = [*headers[:-1], ("ce_authtag", key.sign(value, untagged).encode())]
        assert key._compiled.verify(tagged, value, tagged[-1][1]) is True  # type: ignore[attr-defined]
        assert key._compiled.verify(tagged, value[:-1] + b" ", tagged[-1][1]) is False  # type: ignore[attr-defined]


def test_what_the_compiled_check_does_not_frame_goes_the_python_way() -> None:
    """Pairs as lists, a name outside ASCII: the Python path decides, as it would alone."""
    _, value, headers = record()
    as_lists = [list(pair) for pair in headers]
    assert KEYS.signing_key("intake")._compiled.verify(as_lists, value, headers[-1][1]) is None  # type: ignore[attr-defined]
    assert KEYS.check(TOPIC, value, as_lists) == "intake.1"  # type: ignore[arg-type]
    with pytest.raises(NotAuthentic, match="tag does not match"):
        KEYS.check(TOPIC, value, [("ce_idé", headers[0][1]), *headers[1:]])


def test_a_tag_cut_short_or_not_hex_is_refused() -> None:
    _, value, headers = record()
    for tag in (headers[-1][1][:-2], b"zz" * 28, b""):
        with pytest.raises(NotAuthentic):
            KEYS.check(TOPIC, value, with_header(headers, "ce_authtag", tag))


def hmac_record(k: RecordKeys = KEYS) -> tuple[bytes, list[tuple[str, bytes]]]:
    """A record as tagged before GMAC: HMAC-SHA-256 over the same MessagePack message."""
    event = recorded(enrolment())
    _, value, headers = to_kafka(
        RecordedEvent.trusted(**{**event.__dict__, "auth_key": "intake.1;m2", "auth_tag": ""})
    )
    tag = k.signing_key("intake").mac(message(value, headers)).hex()
    return value, [*headers[:-1], ("ce_authtag", tag.encode())]


def test_records_tagged_with_hmac_still_verify_and_cannot_be_claimed_as_gmac() -> None:
    value, headers = hmac_record()
    assert len(headers[-1][1]) == 64
    assert KEYS.check(TOPIC, value, headers) == "intake.1"
    with pytest.raises(NotAuthentic, match="tag does not match"):
        KEYS.check(TOPIC, value.replace(b"370202", b"370203"), headers)
    with pytest.raises(NotAuthentic):  # the HMAC tag presented as the GMAC way
        KEYS.check(TOPIC, value, with_header(headers, "ce_authkey", b"intake.1;m3"))
    _, new_value, new_headers = record()
    with pytest.raises(NotAuthentic):  # a GMAC tag presented as the HMAC way
        KEYS.check(TOPIC, new_value, with_header(new_headers, "ce_authkey", b"intake.1;m2"))


def legacy_record(k: RecordKeys = KEYS) -> tuple[bytes, list[tuple[str, bytes]]]:
    """A record as tagged before the MessagePack layout: `ce_authkey` names the key alone."""
    event = recorded(enrolment())
    _, value, headers = to_kafka(
        RecordedEvent.trusted(**{**event.__dict__, "auth_key": "intake.1", "auth_tag": ""})
    )
    tag = k.signing_key("intake").mac(legacy_message(value, headers)).hex()
    return value, [*headers[:-1], ("ce_authtag", tag.encode())]


def test_records_tagged_in_the_first_layout_still_verify_and_cannot_change_layout() -> None:
    value, headers = legacy_record()
    assert KEYS.check(TOPIC, value, headers) == "intake.1"
    with pytest.raises(NotAuthentic, match="tag does not match"):
        KEYS.check(TOPIC, value.replace(b"370202", b"370203"), headers)
    # A first-layout tag claimed for the MessagePack layout, and the other way round: refused.
    with pytest.raises(NotAuthentic, match="tag does not match"):
        KEYS.check(TOPIC, value, with_header(headers, "ce_authkey", b"intake.1;m2"))
    hmac_value, hmac_headers = hmac_record()
    with pytest.raises(NotAuthentic, match="tag does not match"):
        KEYS.check(TOPIC, hmac_value, with_header(hmac_headers, "ce_authkey", b"intake.1"))
    # The first layout reads back one way only because no value holds a NUL.
    with pytest.raises(NotAuthentic, match="NUL"):
        KEYS.check(TOPIC, value, with_header(headers, "ce_actor", b"test\0x"))


def test_another_services_key_does_not_make_a_record_of_this_topic() -> None:
    """The registry cannot write intake's events: its key is not intake's."""
    _, value, headers = record()
    for topic in ("huigong.registry.members", "huigong.inbound.370202", "elsewhere"):
        with pytest.raises(NotAuthentic, match="is not a key of"):
            KEYS.check(topic, value, headers)


def test_a_key_unknown_to_the_consumer_is_refused() -> None:
    _, value, headers = record(keys("intake.1"))  # another installation's key, same name
    with pytest.raises(NotAuthentic, match="tag does not match"):
        KEYS.check(TOPIC, value, headers)
    with pytest.raises(NotAuthentic, match="unknown key"):
        KEYS.check(TOPIC, value, with_header(headers, "ce_authkey", b"intake.9"))


def test_rotation_tags_with_the_newest_key_and_still_accepts_the_old() -> None:
    old_secret = new_secret()
    before = RecordKeys.parse(f"intake.1:{old_secret}")
    after = RecordKeys.parse(f"intake.1:{old_secret},intake.2:{new_secret()}")
    _, old_value, old_headers = record(before)
    event, value, headers = record(after)
    assert event.auth_key == "intake.2;m3"
    assert after.check(TOPIC, old_value, old_headers) == "intake.1"
    assert after.check(TOPIC, value, headers) == "intake.2"
    with pytest.raises(NotAuthentic, match="unknown key"):
        before.check(TOPIC, value, headers)


def test_keys_never_show_their_secret_and_bad_settings_are_refused() -> None:
    secret = new_secret()
    parsed = RecordKeys.parse(f" intake.1:{secret} ,\nreview.1:{new_secret()}")
    assert secret not in repr(parsed.signing_key("intake")) and parsed.key_ids == ["intake.1", "review.1"]
    assert repr(RecordKey("intake.1", "intake", 1, bytes(32))) == "RecordKey(intake.1)"
    for text in ("", "intake:" + secret, "intake.1:zz", "intake.1:abcd", "intake.x:" + secret):
        with pytest.raises(ValueError):
            RecordKeys.parse(text)
    with pytest.raises(ValueError, match="HUIGONG_EVENT_KEYS is not set"):
        RecordKeys.from_environment({})


def test_headers_no_kafka_client_makes_are_refused_as_not_authentic() -> None:
    """A header name that is not UTF-8 or a value that is not bytes: refused, never an error."""
    _, value, headers = record()
    with pytest.raises(NotAuthentic, match="not a name and a value"):
        KEYS.check(TOPIC, value, [("\udcff", b"x"), *headers])
    with pytest.raises(NotAuthentic, match="tag does not match"):
        KEYS.check(TOPIC, value, [("ce_id", 7), *headers[1:]])  # type: ignore[list-item]
