"""The ops CLI's pure parts: the hash-chain checker, the audit matcher and formats, configuration,
masking, the projection registry and the bilingual help."""

from __future__ import annotations

import csv
import hashlib
import io
import socket
import uuid
from collections.abc import Sequence
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from huigong_events.envelope import RecordedEvent, hash_input, to_kafka
from huigong_events.topics import EVENT_TOPICS, topic_for_aggregate
from huigong_ops import registry
from huigong_ops.audit import AuditCollector, csv_text, find_mention, jsonl_lines, summarise
from huigong_ops.cli import app
from huigong_ops.common import SEALED, OpsConfig, OpsError, mask_sealed, select_topics
from huigong_ops.verify import ChainChecker, Kind, Problem
from huigong_ops.verify_record import kept_problem
from huigong_testkit.factories import enrolment, recorded

ENROLMENTS = topic_for_aggregate("enrolment").name


def chain(length: int, aggregate_id: str | None = None) -> list[RecordedEvent]:
    aggregate_id = aggregate_id or str(uuid.uuid4())
    events: list[RecordedEvent] = []
    for version in range(1, length + 1):
        prev = events[-1].hash if events else None
        events.append(recorded(enrolment(), aggregate_id=aggregate_id, version=version, prev_hash=prev))
    return events


def reseal(event: RecordedEvent, **changes: Any) -> RecordedEvent:
    """A copy with changes and a freshly computed hash: a forgery that hides its alteration."""
    fields = {**event.model_dump(exclude={"hash"}), **changes}
    return RecordedEvent.model_validate({**fields, "hash": hashlib.sha256(hash_input(fields)).hexdigest()})


def check(events: Sequence[RecordedEvent | tuple[bytes, bytes, list[tuple[str, bytes]]]]) -> ChainChecker:
    checker = ChainChecker()
    for offset, item in enumerate(events):
        key, value, headers = to_kafka(item) if isinstance(item, RecordedEvent) else item
        checker.check(ENROLMENTS, 0, offset, key, value, headers)
    checker.finish()
    return checker


def kinds(checker: ChainChecker) -> list[tuple[Kind, int | None]]:
    return [(p.kind, p.version) for p in checker.problems]


def test_clean_chains_pass() -> None:
    a, b, c = chain(4), chain(1), chain(3)
    checker = check([a[0], b[0], a[1], c[0], a[2], c[1], a[3], c[2]])
    assert checker.ok and checker.problems == []
    assert (checker.records, checker.aggregates) == (8, 3)


def test_relay_duplicate_is_info_only() -> None:
    a = chain(3)
    checker = check([a[0], a[1], a[1], a[2], a[0]])
    assert checker.ok
    assert kinds(checker) == [(Kind.DUPLICATE, 2), (Kind.DUPLICATE, 1)]


def test_altered_record_keeping_the_original_hash_is_reported() -> None:
    a = chain(3)
    forged = RecordedEvent.model_validate({**a[1].model_dump(), "data": {**a[1].data, "district": "370203"}})
    assert forged.hash == a[1].hash and not forged.hash_is_valid()
    checker = check([a[0], a[1], forged, a[2]])
    assert not checker.ok
    assert kinds(checker) == [(Kind.ALTERED, 2)]
    # The altered copy alone, in place of the original: still found.
    assert kinds(check([a[0], forged, a[2]])) == [(Kind.ALTERED, 2)]


def test_replaced_event_with_recomputed_hash_breaks_the_next_link_and_conflicts() -> None:
    a = chain(3)
    replaced = reseal(a[1], data={**a[1].data, "platform": "改过"})
    assert replaced.hash_is_valid()
    assert kinds(check([a[0], replaced, a[2]])) == [(Kind.BROKEN_LINK, 3)]
    assert kinds(check([a[0], a[1], replaced, a[2]])) == [(Kind.CONFLICT, 2)]


def test_gap_and_reordering() -> None:
    gap = chain(4)
    checker = check([gap[0], gap[1], gap[3]])
    assert kinds(checker) == [(Kind.GAP, 3)]
    assert "missing version(s) 3 of 4" in checker.problems[0].detail
    late = chain(3)
    checker = check([late[1], late[0], late[2]])
    assert kinds(checker) == [(Kind.REORDERED, 1)]
    # Version 1 that names a predecessor is a broken link.
    first = reseal(chain(1)[0], prev_hash="0" * 64)
    assert kinds(check([first])) == [(Kind.BROKEN_LINK, 1)]


def test_invalid_envelope_and_wrong_key_are_reported() -> None:
    a = chain(1)
    _key, value, headers = to_kafka(a[0])
    checker = check([(b"x", b"{not json", [("ce_specversion", b"1.0")]), (b"other-key", value, headers)])
    assert [p.kind for p in checker.problems] == [Kind.INVALID, Kind.MISPLACED]
    assert not checker.ok


def test_decode_option_reports_events_no_model_reads() -> None:
    event = reseal(chain(1)[0], type="NoSuchEvent")
    checker = ChainChecker(decode_events=True)
    key, value, headers = to_kafka(event)
    checker.check(ENROLMENTS, 0, 0, key, value, headers)
    assert [p.kind for p in checker.problems] == [Kind.UNDECODABLE]


def test_audit_collector_links_orders_and_counts_copies() -> None:
    target = str(uuid.uuid4())
    own = chain(2, target)
    other = recorded(enrolment(seed="x"))
    mention = reseal(other, data={**other.data, "batch_id": target})
    collector = AuditCollector(target)
    for i, event in enumerate([own[1], mention, own[0], own[1], chain(1)[0]]):
        _, value, headers = to_kafka(event)
        collector.add(ENROLMENTS, 0, i, value, headers)
    entries = collector.entries
    assert [(e.aggregate_id, e.link) for e in entries] == [
        (target, "aggregate"),
        (target, "aggregate"),
        (mention.aggregate_id, "data.batch_id"),
    ]
    assert [e.aggregate_version for e in entries[:2]] == [1, 2]
    assert entries[1].copies == 2
    # Sealed personal data never shows.
    assert entries[0].data["personal_sealed"] == SEALED
    assert own[0].data["personal_sealed"] not in csv_text(entries)
    lines = [orjson.loads(line) for line in jsonl_lines(entries)]
    assert lines[0]["actor"] == "test" and lines[0]["current_schema_version"] == 1
    rows = list(csv.DictReader(io.StringIO(csv_text(entries))))
    assert [r["link"] for r in rows] == ["aggregate", "aggregate", "data.batch_id"]
    # A type filter turns same-id events of another type into "same-id"; --no-related drops mentions.
    typed = AuditCollector(target, types=["application"], related=False)
    for i, event in enumerate([own[0], mention]):
        _, value, headers = to_kafka(event)
        typed.add(ENROLMENTS, 0, i, value, headers)
    assert [e.link for e in typed.entries] == ["same-id"]


def test_find_mention_and_summarise() -> None:
    data = {"a": 1, "b": [{"c": "x"}, {"d": "target"}]}
    assert find_mention(data, "target") == "data.b[1].d"
    assert find_mention(data, "targ") is None
    assert (
        summarise({"application_id": "1", "year": 2024, "reason": None}, skip="application_id") == "year=2024"
    )
    assert summarise({"text": "长" * 50}, width=10).endswith("…")


def test_mask_sealed_keeps_the_stamp_flag() -> None:
    masked = mask_sealed({"personal_sealed": "abc", "opinion": {"sealed": True}, "rows": [{"x_sealed": "y"}]})
    assert masked == {"personal_sealed": SEALED, "opinion": {"sealed": True}, "rows": [{"x_sealed": SEALED}]}


def test_config_and_topic_selection() -> None:
    env = {
        "HUIGONG_KAFKA_BOOTSTRAP": "k:1",
        "HUIGONG_TOPIC_PREFIX": "p.",
        "HUIGONG_PG_ADMIN_DSN": "postgresql://a",
    }
    assert OpsConfig.resolve(env=env) == OpsConfig("k:1", "p.", "postgresql://a")
    assert OpsConfig.resolve("k:2", "", None, env=env) == OpsConfig("k:2", "", "postgresql://a")
    with pytest.raises(OpsError):
        OpsConfig.resolve(env={}).require_dsn()
    assert select_topics([], "p.") == list(EVENT_TOPICS)
    chosen = select_topics(
        ["intake.applications", "p.huigong.review.reviews", "huigong.intake.applications"], "p."
    )
    assert [t.name for t in chosen] == ["huigong.intake.applications", "huigong.review.reviews"]
    with pytest.raises(OpsError, match="not a catalogue topic"):
        select_topics(["nope"], "")


def test_registry_finds_the_services_projections_and_names_unknown_consumers() -> None:
    found, _errors = registry.discover()
    assert found["intake.applications"].__name__ == "ApplicationsProjection"
    assert found["registry.units"].__name__ == "UnitsProjection"
    assert registry.factory_for("intake.applications") is found["intake.applications"]
    with pytest.raises(OpsError, match=r"unknown consumer 'nobody\.here'"):
        registry.factory_for("nobody.here")
    sentinel = found["registry.units"]
    registry.register("test.units", sentinel)
    try:
        assert registry.factory_for("test.units") is sentinel
    finally:
        registry.unregister("test.units")


@pytest.mark.parametrize(
    "command",
    [
        ["verify"],
        ["audit"],
        ["streams"],
        ["scan-personal"],
        ["dead-letters"],
        ["dead-letters", "list"],
        ["dead-letters", "show"],
        ["dead-letters", "retry"],
        ["dead-letters", "skip"],
        ["db", "provision"],
        ["topics", "ensure"],
    ],
)
def test_every_command_has_chinese_and_english_help(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert any("\u4e00" <= ch <= "\u9fff" for ch in text), text
    assert "/" in text  # 中文 / English


def test_bad_arguments_exit_2() -> None:
    result = CliRunner().invoke(app, ["verify", "--topic", "nope", "--no-progress"])
    assert result.exit_code == 2
    assert "not a catalogue topic" in result.stderr
    result = CliRunner().invoke(app, ["audit", "x", "--type", "spaceship"])
    assert result.exit_code == 2
    result = CliRunner().invoke(
        app, ["dead-letters", "list", "--service", "nope"], env={"HUIGONG_PG_ADMIN_DSN": "x"}
    )
    assert result.exit_code == 2


def test_a_broker_nobody_listens_on_is_told_apart_and_names_the_variable_to_set() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    env = {"COLUMNS": "200", "HUIGONG_KAFKA_BOOTSTRAP": f"127.0.0.1:{port}"}
    for command in (["streams"], ["audit", "00000000-0000-0000-0000-000000000000"], ["topics", "ensure"]):
        result = CliRunner().invoke(app, command, env=env)
        assert result.exit_code == 2, result.output
        assert f"broker unreachable at 127.0.0.1:{port}" in result.stderr, result.stderr
        assert "HUIGONG_KAFKA_BOOTSTRAP" in result.stderr
        assert "Traceback" not in result.output


def test_half_a_kafka_login_is_told_before_anything_connects() -> None:
    env: dict[str, str | None] = {"HUIGONG_KAFKA_USERNAME": "ops", "HUIGONG_KAFKA_PASSWORD": None}
    result = CliRunner().invoke(app, ["streams"], env=env)
    assert result.exit_code == 2, result.output
    assert "HUIGONG_KAFKA_USERNAME 和 HUIGONG_KAFKA_PASSWORD" in result.stderr


def test_a_kept_verify_problem_never_carries_what_a_parser_quoted_of_the_record() -> None:
    quoted = "1 validation error for Enrolment: input_value='370202199001011234'"
    for kind in (Kind.INVALID, Kind.UNDECODABLE):
        kept = kept_problem(Problem(kind, ENROLMENTS, 2, 9, quoted, "enrolment", "a-1", 3))
        assert "370202199001011234" not in orjson.dumps(kept).decode()
        assert kept["reason"] == kind.label
        assert (kept["topic"], kept["partition"], kept["offset"], kept["version"]) == (ENROLMENTS, 2, 9, 3)
    # The check's own reasons (hashes, versions) are kept whole.
    altered = kept_problem(
        Problem(Kind.ALTERED, ENROLMENTS, 0, 4, "content does not hash", "enrolment", "a-1", 2)
    )
    assert altered["reason"] == f"{Kind.ALTERED.label}: content does not hash" and altered["failure"] is True
