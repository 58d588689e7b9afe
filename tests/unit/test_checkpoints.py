"""Signed chain checkpoints: an auditor holding only public keys finds an edit made after one."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from huigong_events.checkpoints import GENESIS, Checkpoint, CheckpointKeys, fold, new_seed, trusted
from huigong_ops.verify import CheckpointAudit, Problem

KEYS = CheckpointKeys.parse(f"registry.1:{new_seed()},intake.1:{new_seed()}")
PUBLIC = KEYS.public_keys()
HASHES = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(6)]


def checkpoints() -> list[Checkpoint]:
    """Two checkpoints over a store of six events at positions 1..6: after 4, after 6."""
    first = KEYS.sign(
        "registry",
        sequence=1,
        position=4,
        events=4,
        digest=fold(GENESIS, HASHES[:4]),
        previous=None,
        signed_at=datetime(2026, 12, 7, 1, 0, tzinfo=UTC),
    )
    second = KEYS.sign(
        "registry",
        sequence=2,
        position=6,
        events=6,
        digest=fold(bytes.fromhex(first.digest), HASHES[4:]),
        previous=bytes.fromhex(first.digest),
        signed_at=datetime(2026, 12, 7, 1, 1, tzinfo=UTC),
    )
    return [first, second]


def audit(
    stored: list[Checkpoint] | None, published: list[Checkpoint], store: list[str] | None = None
) -> list[Problem]:
    found: list[Problem] = []
    check = CheckpointAudit("registry", stored, {c.sequence: c for c in published}, PUBLIC, found.append)
    if store is not None:
        for position, value in enumerate(store, start=1):
            check.feed(position, value)
        check.finish()
    return found


def test_a_checkpoint_verifies_with_the_public_key_alone_and_round_trips() -> None:
    cp = checkpoints()[0]
    assert trusted(cp, PUBLIC) is None
    assert Checkpoint.model_validate_json(cp.to_json_bytes()) == cp
    assert "registry.1" in repr(KEYS.signing_key("registry")) and new_seed() not in repr(
        KEYS.signing_key("registry")
    )


def test_a_changed_field_an_unpublished_key_or_another_services_key_is_not_trusted() -> None:
    cp = checkpoints()[0]
    assert trusted(cp.model_copy(update={"events": 5}), PUBLIC) == "the signature does not verify"
    other = CheckpointKeys.parse(f"registry.1:{new_seed()}").public_keys()
    assert "not the published" in (trusted(cp, other) or "")
    assert "not among" in (trusted(cp, {}) or "")
    forged = KEYS.sign(
        "intake", sequence=1, position=1, events=1, digest=GENESIS, previous=None, signed_at=cp.signed_at
    ).model_copy(update={"service": "registry"})
    assert "not a key of registry" in (trusted(forged, PUBLIC) or "")


def test_the_store_as_signed_passes() -> None:
    stored = checkpoints()
    assert audit(stored, stored, HASHES) == []


@pytest.mark.parametrize(
    ("edit", "failing"),
    [
        (lambda h: [*h[:2], hashlib.sha256(b"x").hexdigest(), *h[3:]], {1, 2}),  # row 3 rewritten
        (lambda h: [*h[:2], *h[3:]], {1, 2}),  # row 3 deleted
        (lambda h: [h[1], h[0], *h[2:]], {1, 2}),  # rows 1 and 2 swapped
        (lambda h: [*h[:4], hashlib.sha256(b"y").hexdigest(), *h[4:]], {2}),  # a row inserted at 5
    ],
    ids=["rewritten", "deleted", "swapped", "inserted"],
)
def test_an_edit_after_a_checkpoint_is_found(edit: object, failing: set[int]) -> None:
    stored = checkpoints()
    problems = audit(stored, stored, edit(HASHES))  # type: ignore[operator]
    assert {p.offset for p in problems} == failing
    assert all(p.kind == "checkpoint_mismatch" and "fold to" in p.detail for p in problems)


def test_a_deleted_or_changed_checkpoint_shows_against_the_published_copy() -> None:
    first, second = checkpoints()
    deleted = audit([second], [first, second], HASHES)
    assert {p.offset for p in deleted} >= {1, 2}  # sequence 1 missing from the store
    assert any("no longer in the store" in p.detail for p in deleted)
    resigned = KEYS.sign(
        "registry",
        sequence=2,
        position=6,
        events=6,
        digest=bytes.fromhex(second.digest),
        previous=bytes.fromhex(first.digest),
        signed_at=datetime(2026, 12, 7, 2, 0, tzinfo=UTC),
    )
    assert any(
        "differs from the one published" in p.detail for p in audit([first, resigned], [first, second])
    )
