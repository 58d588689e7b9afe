"""Events recorded before tags existed: applied once an operator adopted them, and only those."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from huigong_events.adoption import AdoptionManifest
from huigong_events.authenticity import NotAuthentic, RecordKeys, default_keys
from huigong_events.checkpoints import CheckpointKeys, new_seed
from huigong_events.envelope import RecordedEvent, to_kafka
from huigong_platform.subscriptions import Applier, RawRecord, _Decoded
from huigong_testkit.factories import enrolment, recorded

TOPIC = "t7.huigong.intake.enrolments"
SIGNING = CheckpointKeys.parse(f"intake.1:{new_seed()}")


def legacy() -> RecordedEvent:
    """An enrolment as intake recorded it before tagging: no ce_authkey, no ce_authtag."""
    return RecordedEvent.trusted(**{**recorded(enrolment()).__dict__, "auth_key": None, "auth_tag": None})


def raw(event: RecordedEvent, offset: int, topic: str = TOPIC) -> RawRecord:
    key, value, headers = to_kafka(event)
    return RawRecord(topic, 0, offset, key, value, tuple(headers))


def manifest_of(events: list[RecordedEvent], keys: RecordKeys) -> AdoptionManifest:
    key = SIGNING.signing_key("intake")
    assert key is not None
    manifest = AdoptionManifest(
        service="intake",
        adopted_at=datetime(2026, 12, 7, 5, 0, tzinfo=UTC),
        actor="ops:auditor-wang",
        events=[(str(e.id), e.hash) for e in events],
        key_id=key.key_id,
        public_key=key.public_hex,
        tag_key=keys.signing_key("intake").key_id,
    )
    return manifest.model_copy(
        update={
            "signature": key.private.sign(manifest.signed_bytes()).hex(),
            "tag": keys.manifest_tag(manifest),
        }
    )


def test_an_adopted_legacy_record_is_applied_and_an_untagged_one_not_listed_is_a_dead_letter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    adopted, unlisted = legacy(), legacy()
    # Before adoption both are refused, as a replay from offset 0 refused the old history.
    before = Applier.decode([raw(adopted, 0), raw(unlisted, 1)])
    assert all(isinstance(d, tuple) and isinstance(d[1], NotAuthentic) for d in before)

    path = tmp_path / "intake-legacy-adoption.json"
    path.write_bytes(manifest_of([adopted], default_keys()).to_json_bytes())
    monkeypatch.setenv("HUIGONG_LEGACY_ADOPTIONS", str(path))
    applied, refused, tagged = Applier.decode(
        [raw(adopted, 0), raw(unlisted, 1), raw(recorded(enrolment()), 2)]
    )
    assert isinstance(applied, _Decoded) and applied.aggregate == ("enrolment", adopted.aggregate_id)
    assert isinstance(refused, tuple) and isinstance(refused[1], NotAuthentic)
    assert "not an adopted event" in str(refused[1])
    assert isinstance(tagged, _Decoded)  # tagged records are checked as before


def test_an_adopted_id_with_other_content_or_on_another_services_topic_is_refused() -> None:
    keys = RecordKeys.parse(",".join(f"{s}.1:{'ab' * 32}" for s in ("intake", "registry")))
    original = legacy()
    keys.adopt(manifest_of([original], keys))
    _, value, headers = to_kafka(original)
    assert keys.check(TOPIC, value, headers) == "adopted by intake"
    with pytest.raises(NotAuthentic, match="does not hash"):
        keys.check(TOPIC, value.replace(b"370202", b"370203"), headers)
    with pytest.raises(NotAuthentic, match="not by the owner"):
        keys.check("t7.huigong.registry.members", value, headers)


def test_a_manifest_edited_after_signing_is_refused_and_an_auditor_checks_its_signature(
    tmp_path: Path,
) -> None:
    keys = RecordKeys.parse(f"intake.1:{'cd' * 32}")
    manifest = manifest_of([legacy()], keys)
    assert manifest.untrusted(SIGNING.public_keys()) is None
    assert manifest.untrusted({"intake.1": "00" * 32}) is not None  # not the published key
    stretched = manifest.model_copy(update={"events": [*manifest.events, (str(legacy().id), "0" * 64)]})
    assert stretched.untrusted(SIGNING.public_keys()) == "the signature does not verify"
    path = tmp_path / "intake-legacy-adoption.json"
    path.write_bytes(stretched.to_json_bytes())
    with pytest.raises(ValueError, match="does not verify"):
        RecordKeys.from_environment(
            {"HUIGONG_EVENT_KEYS": f"intake.1:{'cd' * 32}", "HUIGONG_LEGACY_ADOPTIONS": str(path)}
        )
