"""`EventStore.start_many` hashes 10,000 events of one command from a template of their common
envelope fields: each hash must be the one `huigong_events.envelope.hash_input` gives, or the
events' chain would not verify."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

from huigong_events.envelope import hash_input
from huigong_platform.eventstore import _HashTemplate, new_ids


def test_events_hashed_from_the_template_hash_as_the_envelope_does() -> None:
    recorded = datetime(2026, 3, 1, 8, 30, 15, 123456, tzinfo=UTC)
    beijing = timezone(timedelta(hours=8))
    for common in (
        {"causation_id": None, "correlation_id": "c-1", "occurred_at": recorded},
        # Quotes, backslashes and non-ASCII in shared fields; a business time in Beijing time.
        {
            "causation_id": 'cause "1" \\ 原因',
            "correlation_id": "关联\t2",
            "occurred_at": recorded.astimezone(beijing),
        },
    ):
        fields = {
            "type": "EnrolmentRequested",
            "schema_version": 1,
            "aggregate_type": "enrolment",
            "aggregate_version": 1,
            "recorded_at": recorded,
            "actor": "district:370202",
            "source": "370202",
            "prev_hash": None,
            **common,
        }
        template = _HashTemplate(fields)
        for n, event_id in enumerate(new_ids(50)):
            aggregate_id = f"{event_id}" if n % 2 else f'agg "{n}" 甲'
            data = {
                "z": n,
                "a": "网约配送员\u0000\n",
                "nested": {"b": [1, 2.5, None], "a": True},
                "平台": "美团",
            }
            digest, text = template.digest(event_id, aggregate_id, data)
            envelope = {**fields, "id": event_id, "aggregate_id": aggregate_id, "data": data}
            assert digest == hashlib.sha256(hash_input(envelope)).hexdigest()
            assert text.startswith('{"a":') and '"z":' + str(n) in text  # the data, keys sorted
        assert template._pieces is not None  # the template was used, not the fallback
