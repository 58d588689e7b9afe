"""The derived (msgspec) read path gives exactly what the pydantic path gives: every golden file
of every version, and a seeded stream of generated variations of them (valid and not), both as
stored data and as Kafka records. Where the pydantic path refuses, the derived one refuses with
the same error; where the derived path answers on its own, pydantic answers the same value."""

from __future__ import annotations

import copy
import json
import random
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, StringConstraints, TypeAdapter

from huigong_events import reading
from huigong_events.catalogue import EVENT_TYPES
from huigong_events.envelope import (
    RecordedEvent,
    checked_envelope,
    from_kafka,
    seal,
    to_kafka,
    validate_headers,
)
from huigong_events.upcasting import decode as pydantic_decode
from huigong_events.upcasting import upcast

GOLDEN = Path(__file__).resolve().parents[2] / "libs/events/golden"
GOLDEN_FILES = sorted(GOLDEN.glob("*.json"))


def same(a: Any, b: Any, where: str = "") -> None:
    """Identical values, not just equal ones: same types all the way down, the same fields_set,
    the same dict order, the same UTC offset, the same decimal digits."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} vs {type(b).__name__}"
    if isinstance(a, BaseModel):
        assert a.model_fields_set == b.model_fields_set, f"{where}: fields set"
        assert list(a.__dict__) == list(b.__dict__), f"{where}: field order"
        for name in type(a).model_fields:
            same(getattr(a, name), getattr(b, name), f"{where}.{name}")
    elif isinstance(a, dict):
        assert list(a) == list(b), f"{where}: keys"
        for key in a:
            same(a[key], b[key], f"{where}[{key}]")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), f"{where}: length"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{where}[{i}]")
    elif isinstance(a, datetime):
        assert (a, a.utcoffset()) == (b, b.utcoffset()), f"{where}: {a!r} vs {b!r}"
    elif isinstance(a, Decimal):
        assert a.as_tuple() == b.as_tuple(), f"{where}: {a!r} vs {b!r}"
    else:
        assert a == b, f"{where}: {a!r} vs {b!r}"


def golden(path: Path) -> tuple[str, int, dict[str, Any]]:
    name, version = path.name.removesuffix(".json").split(".v")
    return name, int(version), json.loads(path.read_text(encoding="utf-8"))


def stored(name: str, version: int, data: dict[str, Any]) -> RecordedEvent:
    """A sealed record of `data` as stored at `version` (the hash is over the old data)."""
    cls = EVENT_TYPES[name]
    current = upcast(name, version, cls.schema_version, data)
    now = datetime(2026, 6, 30, 15, 59, 59, 123456, tzinfo=UTC)
    record = seal(
        event=cls.model_validate({**current, "type": name}),
        event_id=uuid.UUID(int=version),
        aggregate_id=f"{name}-1",
        aggregate_version=3,
        occurred_at=now,
        recorded_at=now,
        actor="tester",
        source="370202",
        correlation_id="c-1",
        causation_id="c-0",
        prev_hash="a" * 64,
    )
    return RecordedEvent.trusted(**{**record.__dict__, "schema_version": version, "data": data})


def test_every_event_type_has_a_derived_reader() -> None:
    # A type the derivation refuses reads correctly (via pydantic) but slowly: say so here.
    assert reading.NOT_DERIVED == {}
    assert set(reading.READERS) == set(EVENT_TYPES)


@pytest.mark.parametrize("path", GOLDEN_FILES, ids=lambda p: p.name)
def test_golden_file_decodes_identically_both_ways(path: Path) -> None:
    name, version, data = golden(path)
    record = stored(name, version, data)
    expected = pydantic_decode(record)
    # The derived path itself, with no fallback: it must vouch for every golden file.
    same(reading.derived_event(name, version, copy.deepcopy(data)), expected, name)
    same(reading.decode_event(record), expected, name)

    value, headers = to_kafka(record)[1:]
    envelope, event = reading.decode_record(value, headers)
    same(envelope, from_kafka(value, headers), "envelope")
    same(envelope, checked_envelope(value, headers), "envelope")
    # By header name itself, not its fallback: the fast way must read every golden record.
    by_name = validate_headers({**{name: raw.decode() for name, raw in headers}, "data": json.loads(value)})
    same(by_name, envelope, "envelope")
    same(event, expected, name)
    assert reading.derived_envelope(value, headers) is not None


# --- generated variations ---------------------------------------------------------------------

_UUID = "b431afd5-f31a-523f-8133-a8ede99b2583"
_STRINGS = [
    "",
    " ",
    "x",
    "x" * 101,
    "１２３",
    "1_0",
    "NaN",
    "-0",
    "0.5",
    "1E+2",
    "12.345",
    "100.00",
    "100.001",
    "99999999999999.99",
    "2024-07-01",
    "2024-7-1",
    "2024-13-01",
    "2024-07-01T00:00:00+08:00",
    "2024-07-01T00:00:00",
    "2024-07-01T00:00:00.1234567Z",
    "2024-07",
    _UUID,
    _UUID.upper(),
    _UUID.replace("-", ""),
    "{" + _UUID + "}",
    "urn:uuid:" + _UUID,
    "true",
    "1",
    "370202",
    "370200",
    "G-HAIER",
    "a" * 64,
    "A" * 64,
    "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB",
    "pilot",
    "health",
    "13912345678",
]


def _vary_string(rng: random.Random, value: str) -> Any:
    return rng.choice(
        [
            value + " ",
            " " + value,
            value + "\n",
            "\t" + value + "\u3000",
            value + "\x1f",
            value.upper(),
            value.lower(),
            value * 3,
            value[:-1],
            value[1:],
            rng.choice(_STRINGS),
            rng.choice(_STRINGS),
            rng.choice(_STRINGS),
            None,
            1,
        ]
    )


def _vary(rng: random.Random, value: Any) -> Any:
    if isinstance(value, bool):
        return rng.choice([not value, 1, 0, "true", None])
    if isinstance(value, int):
        return rng.choice([value + 1, value - 1, 0, -1, 10**6, str(value), float(value), True, None])
    if isinstance(value, str):
        return _vary_string(rng, value)
    if value is None:
        return rng.choice([*_STRINGS, 0, 2023, True, [], {}])
    if isinstance(value, list):
        if not value:
            return rng.choice([[], ["x"], [None]])
        return rng.choice([[], value[:1], value + value[:1], value * 101, value[::-1], None])
    if isinstance(value, dict):
        varied = dict(value)
        if varied and rng.random() < 0.5:
            del varied[rng.choice(list(varied))]
        else:
            varied[rng.choice(["extra", "type", "form_kind", "note"])] = rng.choice(_STRINGS)
        return varied
    return value


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += _paths(item, (*path, i))
    return found


def mutate(rng: random.Random, data: dict[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(data)
    for _ in range(rng.randint(1, 3)):
        path = rng.choice(_paths(data))
        if not path:
            data = _vary(rng, data)
            if not isinstance(data, dict):
                return {"not": "an object"}
            continue
        parent: Any = data
        for step in path[:-1]:
            parent = parent[step]
        parent[path[-1]] = _vary(rng, parent[path[-1]])
    return data


def outcome(call: Any, *args: Any) -> tuple[str, Any]:
    try:
        return "value", call(*args)
    except Exception as exc:
        return "error", (type(exc), str(exc))


def test_generated_events_decode_identically_both_ways() -> None:
    rng = random.Random(20)
    cases = [golden(p) for p in GOLDEN_FILES]
    vouched = refused = 0
    for _ in range(3000):
        name, version, data = rng.choice(cases)
        varied = mutate(rng, data) if rng.random() < 0.8 else copy.deepcopy(data)
        record = RecordedEvent.trusted(**{**stored(name, version, data).__dict__, "data": varied})
        expected = outcome(pydantic_decode, record)
        got = outcome(reading.decode_event, record)
        assert got[0] == expected[0], (name, varied, expected, got)
        if expected[0] == "value":
            same(got[1], expected[1], name)
        else:
            assert got[1] == expected[1]
        # The derived path alone: when it answers, pydantic gave that very value.
        alone = outcome(reading.derived_event, name, version, copy.deepcopy(varied))
        if alone[0] == "value":
            assert expected[0] == "value", (name, varied, expected)
            same(alone[1], expected[1], name)
            vouched += 1
        elif expected[0] == "error":
            refused += 1
    # Both kinds of case were exercised, else the comparison above proves little.
    assert vouched > 300
    assert refused > 300


_HEADER_VARIANTS: dict[str, list[str | None]] = {
    "ce_id": [_UUID.upper(), _UUID.replace("-", ""), "{" + _UUID + "}", "x", None],
    "ce_specversion": ["0.3", "", None],
    "ce_type": ["", "x" * 81, "NoSuchEvent", None],
    "ce_schemaversion": ["01", "+1", " 1", "0", "-1", "1.0", "99", "١", None],
    "ce_aggregatetype": ["", "x" * 41, None],
    "ce_subject": ["", "s" * 201, None],
    "ce_aggregateversion": ["01", "+3", "3 ", "0", "1e3", "99999999999999999999", None],
    "ce_time": [
        "2026-06-30T15:59:59Z",
        "2026-06-30T15:59:59+08:00",
        "2026-06-30T15:59:59",
        "2026-06-30 15:59:59Z",
        "2026-06-30T15:59:59.1234567Z",
        "2026-06-30t15:59:59z",
        "2026-06-30",
        "1700000000",
        None,
    ],
    "ce_recordedat": ["2026-06-30T15:59:59.5-01:30", "2026-02-30T00:00:00Z", None],
    "ce_actor": ["", " ", None],
    "ce_source": ["", None],
    "ce_correlationid": ["", "c" * 101, None],
    "ce_causationid": ["", "c" * 101, None],
    "ce_prevhash": ["A" * 64, "a" * 63, "a" * 64 + "\n", None],
    "ce_hash": ["A" * 64, "b" * 65, "b" * 64 + "\n", None],
    # Headers the envelope does not carry, some named like its fields: ignored either way.
    "data": ["{}", "x"],
    "id": [_UUID, "x"],
    "hash": ["a" * 64, ""],
    "ce_dataschema": ["", "x"],
}


def test_generated_kafka_records_decode_identically_both_ways() -> None:
    rng = random.Random(21)
    records = [to_kafka(stored(*golden(p)))[1:] for p in GOLDEN_FILES]
    vouched = 0
    for _ in range(1500):
        value, headers = rng.choice(records)
        varied = dict((k, v.decode()) for k, v in headers)
        for header in rng.sample(list(_HEADER_VARIANTS), rng.randint(0, 2)):
            choice = rng.choice(_HEADER_VARIANTS[header])
            if choice is None:
                varied.pop(header, None)
            else:
                varied[header] = choice
        raw = [(k, v.encode()) for k, v in varied.items()]
        body: bytes | None = value if rng.random() < 0.95 else rng.choice([None, b"[]", b"{", b"{}"])
        expected = outcome(from_kafka, body, raw)
        # from_kafka validates the headers under their own names; header by header, the
        # reference reading gives the same envelope or the same error.
        reference = outcome(checked_envelope, body, raw)
        assert reference[0] == expected[0], (varied, reference, expected)
        if expected[0] == "value":
            same(expected[1], reference[1], "envelope")
        else:
            assert reference[1] == expected[1]
        got = outcome(reading.envelope_of, body, raw)
        assert got[0] == expected[0], (varied, expected, got)
        if expected[0] == "value":
            same(got[1], expected[1], "envelope")
        else:
            assert got[1] == expected[1]
        alone = outcome(reading.derived_envelope, body, raw)
        if alone[0] == "value":
            assert expected[0] == "value", (varied, expected)
            same(alone[1], expected[1], "envelope")
            vouched += 1
    assert vouched > 300


# --- the same, with values hypothesis makes up ----------------------------------------------------

_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=80)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | _TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=8,
)
# Near-misses of what the models accept, which made-up text seldom hits.
_NEAR = st.sampled_from(_STRINGS) | st.builds(lambda s, c: s + c, st.sampled_from(_STRINGS), _TEXT)
_GOLDEN_CASES = [golden(p) for p in GOLDEN_FILES]
_KAFKA_RECORDS = [to_kafka(stored(*case))[1:] for case in _GOLDEN_CASES]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.data())
def test_made_up_event_data_decodes_identically_both_ways(data: st.DataObject) -> None:
    name, version, stored_data = data.draw(st.sampled_from(_GOLDEN_CASES))
    varied = copy.deepcopy(stored_data)
    for key in data.draw(st.lists(st.sampled_from([*stored_data, "extra", "type"]), max_size=3, unique=True)):
        varied[key] = data.draw(_JSON | _NEAR)
    record = RecordedEvent.trusted(**{**stored(name, version, stored_data).__dict__, "data": varied})
    expected = outcome(pydantic_decode, record)
    got = outcome(reading.decode_event, record)
    assert got[0] == expected[0], (varied, expected, got)
    if expected[0] == "value":
        same(got[1], expected[1], name)
    else:
        assert got[1] == expected[1]
    alone = outcome(reading.derived_event, name, version, copy.deepcopy(varied))
    if alone[0] == "value":
        assert expected[0] == "value", (varied, expected)
        same(alone[1], expected[1], name)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.data())
def test_made_up_headers_read_the_same_every_way(data: st.DataObject) -> None:
    value, headers = data.draw(st.sampled_from(_KAFKA_RECORDS))
    varied: dict[str, str] = {k: v.decode() for k, v in headers}
    names = [*varied, "data", "id", "type", "x-other"]
    for header in data.draw(st.lists(st.sampled_from(names), max_size=3, unique=True)):
        choice = data.draw(st.none() | _TEXT | _NEAR)
        if choice is None:
            varied.pop(header, None)
        else:
            varied[header] = choice
    raw = [(k, v.encode()) for k, v in varied.items()]
    body = data.draw(
        st.just(value) | st.none() | st.binary(max_size=8) | _JSON.map(lambda j: json.dumps(j).encode())
    )
    reference = outcome(checked_envelope, body, raw)
    for read in (from_kafka, reading.envelope_of):
        got = outcome(read, body, raw)
        assert got[0] == reference[0], (varied, body, reference, got)
        if got[0] == "value":
            same(got[1], reference[1], "envelope")
        else:
            assert got[1] == reference[1]
    alone = outcome(reading.derived_envelope, body, raw)
    if alone[0] == "value":
        assert reference[0] == "value", (varied, body, reference)
        same(alone[1], reference[1], "envelope")


# --- the checks derived from the models' patterns ---------------------------------------------

_DERIVED_PATTERNS = sorted(p for p, check in reading.PATTERN_CHECKS.items() if check is not None)
_PYDANTIC_PATTERNS = {
    p: TypeAdapter(Annotated[str, StringConstraints(pattern=p)]).validate_python for p in _DERIVED_PATTERNS
}


def test_the_hash_and_code_patterns_are_checked_without_a_regex() -> None:
    # The envelope's hashes and tag, member keys, key names, credit codes: msgspec would run each
    # through Python's `re` on every record; a pattern of a shape the derivation does not know
    # still reads exactly (msgspec's `re`), only slower: listed here when one appears.
    assert {p for p, check in reading.PATTERN_CHECKS.items() if check is None} == {
        r"^20[0-9]{2}-(0[1-9]|1[0-2])$",
        # A service centre's public phone (a landline, a short number or 400): read rarely.
        r"^(0[0-9]{2,3}-?[0-9]{7,8}(-[0-9]{1,6})?|[0-9]{5,6}|400-?[0-9]{3}-?[0-9]{4})$",
    }
    assert r"^[0-9a-f]{64}$" in _DERIVED_PATTERNS
    assert r"^[0-9a-f]{56}([0-9a-f]{8})?$" in _DERIVED_PATTERNS
    # Shapes it does not know, which a model might declare one day, keep the regex.
    for pattern in (r"(?i)^[0-9a-f]{64}$", r"^[0-9a-f]{64}", r"^\d{6}$", r"^[^a]+$", r"^(ab|cd)$", r"^a?b$"):
        assert reading._pattern_check(pattern) is None, pattern


@pytest.mark.parametrize("pattern", _DERIVED_PATTERNS)
# Slow to generate on a busy machine (from_regex), which says nothing about the checks.
@settings(max_examples=120, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_derived_pattern_check_accepts_exactly_what_pydantic_accepts(
    pattern: str, data: st.DataObject
) -> None:
    check = reading.PATTERN_CHECKS[pattern]
    assert check is not None
    pydantic_accepts = _PYDANTIC_PATTERNS[pattern]
    python_pattern = pattern.removesuffix("$") + r"\Z"
    matching = st.from_regex(python_pattern, fullmatch=True)
    alphabet = st.sampled_from(sorted(set(pattern) | set("0aAfFgGzZ-_.:\n \u3000٣")))
    value = data.draw(
        matching
        | matching.map(lambda v: v + "\n")
        | matching.map(lambda v: v[:-1])
        | st.builds(lambda v, c: v + c, matching, alphabet)
        | st.builds(lambda v, i, c: v[:i] + c + v[i + 1 :], matching, st.integers(0, 70), alphabet)
        | st.text(alphabet, max_size=70)
    )
    expected = outcome(pydantic_accepts, value)[0] == "value"
    assert (outcome(check, value)[0] == "value") is expected, (pattern, value)


def test_a_code_list_reads_its_codes_directly_and_a_name_the_pydantic_way() -> None:
    name, version, data = golden(GOLDEN / "EnrolmentRequested.v1.json")
    by_code = reading.derived_event(name, version, {**data, "district": "370203"})
    assert by_code.district == "370203"  # type: ignore[attr-defined]
    # 市北区 is how a district may name itself; the model turns it into its code, so the
    # derived path, which only knows codes, refuses it and pydantic gives the code.
    named = RecordedEvent.trusted(
        **{**stored(name, version, data).__dict__, "data": {**data, "district": "市北区"}}
    )
    with pytest.raises(msgspec.ValidationError):
        reading.derived_event(name, version, {**data, "district": "市北区"})
    same(reading.decode_event(named), pydantic_decode(named), name)
    assert reading.decode_event(named).district == "370203"  # type: ignore[attr-defined]
