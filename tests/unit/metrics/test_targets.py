"""Targets as data: the versioned file holds every row of the plan's targets table, loads only
when valid, and a change is a TargetChanged with the old value, refused when it makes no sense."""

from __future__ import annotations

from decimal import Decimal

import pytest

from huigong_metrics.adapters.store import read_targets_file
from huigong_metrics.domain.counting import DISTRICT_CENTRES, METRICS_BY_CODE
from huigong_metrics.domain.targets import (
    TargetKey,
    TargetsFileError,
    current_value,
    decide_change,
    parse_targets,
)
from huigong_platform.refusals import Refusal

CITY = "370200"

# The targets table of DOMAIN.md / the plan, row by row: (metric, year or None for 2025 cumulative).
PLAN = {
    ("shared_workers_homes", 2022): 50,
    ("shared_workers_homes", None): 150,
    ("huigong_homes", 2022): 50,
    ("huigong_homes", None): 150,
    ("service_bases", 2022): 7,
    ("service_bases", None): 50,
    ("health_station_centres", 2023): 11,
    ("service_complex_share", 2023): Decimal("0.6"),
    ("health_stations_enterprises", 2022): 40,
    ("health_stations_enterprises", 2023): 10,
    ("health_stations_enterprises", 2024): 10,
    ("health_stations_enterprises", 2025): 10,
    ("happy_enterprise_pilots", 2022): 18,
    ("happy_enterprise_pilots", 2023): 12,
    ("happy_enterprise_pilots", 2024): 12,
    ("happy_enterprise_pilots", 2025): 12,
    ("happy_enterprises_certified", None): 50,
    ("welfare_partners", 2022): 5,
    ("welfare_partners", 2023): 10,
    ("welfare_partners", 2024): 10,
    ("welfare_partners", 2025): 10,
    ("welfare_partners", None): 50,
    ("service_projects", None): 50,
    ("members_enrolled", 2022): 120_000,
    ("members_enrolled", None): 400_000,
    ("mutual_aid", 2022): 100_000,
    ("mutual_aid", None): 400_000,
}


def test_the_file_holds_every_row_of_the_plan_city_wide_and_for_the_district_centres() -> None:
    targets = read_targets_file()
    assert targets.version >= 1
    values = {row.key: row.value for row in targets.rows}
    for (metric, year), value in PLAN.items():
        assert values[TargetKey(metric, CITY, year)] == value, (metric, year)
    # 全覆盖 of the 11 centres: 11 city-wide (the city's own centre included), 1 in each district.
    for centre in DISTRICT_CENTRES:
        assert values[TargetKey("health_station_centres", centre, 2023)] == 1
    # Two cumulative rows the plan implies without stating them, marked as derived.
    derived = {r.key.metric for r in targets.rows if r.basis.startswith("推算")}
    assert derived == {"health_stations_enterprises", "happy_enterprise_pilots"}
    assert all(row.basis for row in targets.rows)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("version = 0\n", "version"),
        ('version = 1\n[[targets]]\nmetric = "nope"\nvalue = 1\nbasis = "x"\n', "unknown metric"),
        ('version = 1\n[[targets]]\nmetric = "service_projects"\nvalue = 1.5\nbasis = "x"\n', "whole number"),
        ('version = 1\n[[targets]]\nmetric = "service_complex_share"\nvalue = 60\nbasis = "x"\n', "fraction"),
        ('version = 1\n[[targets]]\nmetric = "service_projects"\nvalue = 5\n', "basis"),
        (
            'version = 1\n[[targets]]\nmetric = "service_projects"\nvalue = 5\nyear = 2019\nbasis = "x"\n',
            "year",
        ),
        (
            'version = 1\n[[targets]]\nmetric = "service_projects"\nvalue = 5\nbasis = "x"\n'
            '[[targets]]\nmetric = "service_projects"\nvalue = 6\nbasis = "y"\n',
            "twice",
        ),
    ],
)
def test_a_broken_file_is_refused_with_the_row_and_reason(text: str, problem: str) -> None:
    with pytest.raises(TargetsFileError, match=problem):
        parse_targets(text)


def test_a_change_records_the_old_value_and_the_reason() -> None:
    metric = METRICS_BY_CODE["members_enrolled"]
    key = TargetKey("members_enrolled", CITY, None)
    event = decide_change(metric, key, Decimal("450000"), "  省总工会下达新任务  ", Decimal(400000))
    assert (event.metric, event.area, event.year) == ("members_enrolled", CITY, None)
    assert event.old_value == 400000 and event.new_value == 450000
    assert event.reason == "省总工会下达新任务"
    # A share is a fraction; a new target of a key the file does not have has no old value.
    share = decide_change(
        METRICS_BY_CODE["service_complex_share"],
        TargetKey("service_complex_share", CITY, 2024),
        Decimal("0.8"),
        "提高要求",
        None,
    )
    assert share.old_value is None and share.new_value == Decimal("0.8")
    assert current_value(Decimal(1), [event]) == 450000 and current_value(Decimal(1), []) == 1


def _fields(error: Refusal) -> set[str]:
    return {e.field for e in error.errors}


@pytest.mark.parametrize(
    ("metric", "area", "year", "value", "fields"),
    [
        ("members_enrolled", CITY, None, Decimal("0"), {"value"}),
        ("members_enrolled", CITY, None, Decimal("-5"), {"value"}),
        ("members_enrolled", CITY, None, Decimal("10.5"), {"value"}),
        ("members_enrolled", CITY, None, Decimal("400000"), {"value"}),  # unchanged
        ("service_complex_share", CITY, 2023, Decimal("60"), {"value"}),
        ("service_complex_share", "370202", 2023, Decimal("0.5"), {"area"}),
        ("health_station_centres", "G-HAIER", 2023, Decimal("1"), {"area"}),
        ("health_station_centres", "370202", 2023, Decimal("2"), {"value"}),
        ("members_enrolled", "999999", None, Decimal("5"), {"area"}),
        ("members_enrolled", CITY, 2021, Decimal("5"), {"year"}),
    ],
)
def test_a_change_that_makes_no_sense_is_refused_field_by_field(
    metric: str, area: str, year: int | None, value: Decimal, fields: set[str]
) -> None:
    with pytest.raises(Refusal) as refused:
        decide_change(METRICS_BY_CODE[metric], TargetKey(metric, area, year), value, "原因", Decimal(400000))
    assert _fields(refused.value) == fields
    assert all(e.zh and e.en for e in refused.value.errors)


def test_a_change_needs_a_reason() -> None:
    with pytest.raises(Refusal) as refused:
        decide_change(
            METRICS_BY_CODE["service_projects"],
            TargetKey("service_projects", CITY, None),
            Decimal(60),
            " ",
            None,
        )
    assert _fields(refused.value) == {"reason"}
