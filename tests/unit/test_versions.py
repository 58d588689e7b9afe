"""Schema versions: every historical shape still decodes, and the published JSON Schemas match
the models (CI fails on drift)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from huigong_events.catalogue import EVENT_TYPES
from huigong_events.envelope import seal
from huigong_events.intake import ApplicationSubmitted
from huigong_events.schemas import drift
from huigong_events.upcasting import UpcastError, decode, upcast
from huigong_events.versions import split_pilot_period

GOLDEN = Path(__file__).resolve().parents[2] / "libs/events/golden"


def golden_files() -> list[Path]:
    return sorted(GOLDEN.glob("*.json"))


def test_every_version_of_every_event_has_a_golden_file() -> None:
    present = {p.name for p in golden_files()}
    for name, cls in EVENT_TYPES.items():
        for version in range(1, cls.schema_version + 1):
            assert f"{name}.v{version}.json" in present, f"no golden file for {name} v{version}"


@pytest.mark.parametrize("path", golden_files(), ids=lambda p: p.name)
def test_golden_file_upcasts_and_validates(path: Path) -> None:
    name, version = path.name.removesuffix(".json").split(".v")
    cls = EVENT_TYPES[name]
    data = upcast(name, int(version), cls.schema_version, json.loads(path.read_text()))
    event = cls.model_validate({**data, "type": name})
    assert event.to_data() == data  # nothing lost or invented on the way up


def test_a_v1_application_read_from_the_store_comes_back_as_v2() -> None:
    old = json.loads((GOLDEN / "ApplicationSubmitted.v1.json").read_text())
    now = datetime.now(UTC)
    stored = seal(
        event=ApplicationSubmitted.model_validate(
            {**upcast("ApplicationSubmitted", 1, 2, old), "type": "ApplicationSubmitted"}
        ),
        event_id=uuid.uuid4(),
        aggregate_id="a",
        aggregate_version=1,
        occurred_at=now,
        recorded_at=now,
        actor="t",
        source="370202",
        correlation_id="c",
        causation_id=None,
        prev_hash=None,
    ).model_copy(update={"schema_version": 1, "data": old})
    event = decode(stored)
    assert isinstance(event, ApplicationSubmitted)
    assert (event.form.period_start, event.form.period_end) == ("2023-07", "2026-06")  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("paid_by", "area"),
    [
        ("市总工会赠送", None),
        ("市南区总工会", "370202"),
        ("西海岸新区总工会", "370211"),
        ("海尔集团工会", "G-HAIER"),
    ],
)
def test_a_v1_mutual_aid_grant_reads_its_payers_code_back_from_its_name(
    paid_by: str, area: str | None
) -> None:
    old = json.loads((GOLDEN / "MutualAidGranted.v1.json").read_text())
    assert upcast("MutualAidGranted", 1, 2, {**old, "paid_by": paid_by})["paid_by_area"] == area


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2022年7月至2025年6月", ("2022-07", "2025-06")),
        ("2022 年 12 月 至 2023 年 1 月", ("2022-12", "2023-01")),
        ("2022年7月—2025年6月", ("2022-07", "2025-06")),
    ],
)
def test_paper_style_pilot_periods_are_split(text: str, expected: tuple[str, str]) -> None:
    assert split_pilot_period(text) == expected


def test_an_unreadable_period_is_an_upcast_error_not_a_guess() -> None:
    with pytest.raises(UpcastError, match="试点时间"):
        split_pilot_period("明年夏天")


def test_a_version_newer_than_the_code_is_refused() -> None:
    with pytest.raises(UpcastError, match="newer"):
        upcast("ApplicationSubmitted", 3, 2, {})


def test_published_json_schemas_match_the_models() -> None:
    assert drift() == [], "run: .venv/bin/python -m huigong_events.schemas"
