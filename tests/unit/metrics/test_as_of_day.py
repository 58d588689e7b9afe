"""The day an event counts on, which the as-of replay cuts on (pure): for every counted event the
day `counted_on` gives is the first day its counters move, so keeping the events dated D or earlier
keeps exactly what the progress API sums up to D; and the figures the replay prints are the
`actual` of the progress API's cumulative view."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from huigong_events.base import DomainEvent
from huigong_events.catalogue import EVENT_TYPES
from huigong_events.reference import FacilityKind, Programme
from huigong_metrics.adapters.store import read_targets_file
from huigong_metrics.domain.counting import (
    COUNTED_EVENT_TYPES,
    COUNTERS,
    METRICS,
    Counted,
    Subject,
    count,
    counted_on,
    subject_of,
)
from huigong_metrics.domain.progress import (
    Levels,
    by_area_codes,
    deadlines_before,
    figures_of,
    points_for,
    standings,
)

GOLDEN = Path(__file__).resolve().parents[3] / "libs/events/golden"
# 20:00 UTC on 1 March is 2 March in Beijing: events that state no date count on the Beijing day.
RECORDED_AT = datetime(2024, 3, 1, 20, 0, tzinfo=UTC)


def sample(name: str) -> DomainEvent:
    cls = EVENT_TYPES[name]
    data = json.loads((GOLDEN / f"{name}.v{cls.schema_version}.json").read_text(encoding="utf-8"))
    return cls.model_validate({**data, "type": name})


def counted_state(event: DomainEvent) -> Counted | None:
    """What must be remembered of the event's subject for it to count (None for a first event)."""
    subject = subject_of(event)
    if subject is None or type(event).__name__ in {
        "UnitRegistered",
        "FacilityOpened",
        "PartnerRegistered",
        "MemberEnrolled",
        "MatterReceived",
    }:
        return None
    kind, key = subject
    category = {
        Subject.UNIT: Programme.幸福企业.value,
        Subject.FACILITY: FacilityKind.青岛惠工家.value,
    }.get(kind, "")
    flagged = type(event).__name__ in {"CertificationRevoked", "UnitExited"}  # certified, to take back
    due = date(2024, 1, 10) if kind is Subject.MATTER else None  # a matter received earlier
    return Counted(kind, key, category, "370202", False, active=True, flagged=flagged, due=due)


@pytest.mark.parametrize("name", sorted(COUNTED_EVENT_TYPES))
def test_every_counted_event_counts_from_the_day_it_states(name: str) -> None:
    event = sample(name)
    day = counted_on(event, RECORDED_AT)
    outcome = count(event, counted_state(event), simulated=False, recorded_at=RECORDED_AT)
    assert outcome.deltas, f"{name} counts nothing in this state"
    # Kept (its day ≤ D): nothing of it falls before its day. Cut (its day > D): nothing on or before D.
    assert min(d.day for d in outcome.deltas) == day


def test_events_that_state_no_date_count_on_the_beijing_day_they_were_recorded() -> None:
    assert counted_on(sample("ApplicationSubmitted"), RECORDED_AT) == date(2024, 3, 2)
    assert counted_on(sample("ConstructionApproved"), RECORDED_AT) == date(2024, 3, 2)
    # A member counts on 入会日期, whenever the registry recorded them.
    enrolled = sample("MemberEnrolled")
    assert counted_on(enrolled, RECORDED_AT) == enrolled.joined_on  # type: ignore[attr-defined]


def test_events_no_metric_counts_have_no_day() -> None:
    for name in sorted(set(EVENT_TYPES) - COUNTED_EVENT_TYPES):
        assert counted_on(sample(name), RECORDED_AT) is None, name


def test_the_replayed_figures_are_the_progress_apis_actuals() -> None:
    day = date(2024, 3, 8)
    areas = ["370202", "370203", "370213", "370200", "G-HAIER"]
    targets = {row.key: row.value for row in read_targets_file().rows}
    days = points_for(day, None) | deadlines_before(targets, day)  # the days the API reads
    rows = {
        (counter, area): {at: (n * 3 + i, i) for at in days}
        for n, counter in enumerate(sorted(COUNTERS))
        for i, area in enumerate(areas)
    }
    levels = Levels(rows)
    found = {s.metric.code: s for s in standings(METRICS, levels, day)}
    assert set(found) == {m.code for m in METRICS}
    for metric in METRICS:
        standing = found[metric.code]
        assert standing.city.actual == figures_of(metric, "370200", levels, targets, day, None).actual
        assert [code for code, _ in standing.by_area] == list(by_area_codes(metric))
        for code, value in standing.by_area:
            scope = "370200/own" if code == "370200" else code
            assert value.actual == figures_of(metric, scope, levels, targets, day, None).actual
    # Not a tautology of zeros: members are summed over the areas.
    assert found["members_enrolled"].city.actual == sum(
        rows[(c, a)][day][0] for (c, a) in rows if c == "members_enrolled"
    )


def test_a_matter_falls_due_after_the_day_it_counts_on() -> None:
    received = sample("MatterReceived")
    outcome = count(received, None, simulated=False, recorded_at=RECORDED_AT)
    day = counted_on(received, RECORDED_AT)
    assert day is not None
    assert {d.day for d in outcome.deltas} == {day, received.deadline + timedelta(days=1)}  # type: ignore[attr-defined]
