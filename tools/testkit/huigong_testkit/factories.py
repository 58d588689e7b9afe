"""Valid events for tests, built the way the services build them (no personal data in clear)."""

from __future__ import annotations

import base64
import hashlib
import os
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime

from huigong_events.authenticity import default_keys
from huigong_events.envelope import RecordedEvent, seal
from huigong_events.intake import EnrolmentRequested
from huigong_events.reference import Occupation


def member_key(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


def sealed() -> str:
    return base64.b64encode(os.urandom(48)).decode()


def enrolment(
    district: str = "370202", platform: str = "美团", seed: str | None = None
) -> EnrolmentRequested:
    return EnrolmentRequested(
        enrolment_id=uuid.uuid4(),
        batch_id=uuid.uuid4(),
        row_number=1,
        member_key=member_key(seed or uuid.uuid4().hex),
        personal_sealed=sealed(),
        key_id="test-key-1",
        occupation=Occupation.外卖送餐员,
        platform=platform,
        district=district,
        joined_on=date(2022, 7, 1),
        mutual_aid=True,
    )


def recorded(
    event: EnrolmentRequested,
    aggregate_id: str | None = None,
    version: int = 1,
    prev_hash: str | None = None,
) -> RecordedEvent:
    """Sealed and tagged with the owning service's key, as the service's event store does."""
    now = datetime.now(UTC)
    return authentic(
        seal(
            event=event,
            event_id=uuid.uuid4(),
            aggregate_id=aggregate_id or str(event.enrolment_id),
            aggregate_version=version,
            occurred_at=now,
            recorded_at=now,
            actor="test",
            source=event.district,
            correlation_id=str(uuid.uuid4()),
            causation_id=None,
            prev_hash=prev_hash,
        )
    )


def authentic(event: RecordedEvent) -> RecordedEvent:
    """The event tagged with its owning service's key from this process's environment."""
    return default_keys().tag(event)


def retagged(service: str, value: bytes, headers: Sequence[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """`headers` (ending with the tag's two) tagged anew by `service`'s key over `value`: a record
    its owner really wrote, however odd its body or headers, to test what decoding does with it."""
    key = default_keys().signing_key(service)
    untagged = [*headers[:-1], ("ce_authtag", b"")]
    return [*headers[:-1], ("ce_authtag", key.sign(value, untagged).encode())]
