"""Progress figures (pure): the status rule, required rate and forecast, the cumulative and
per-year views, as-of dates, coverage of the service centres and the share of district centres,
and the day-by-day series."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import pytest

from huigong_metrics.domain.counting import METRICS_BY_CODE
from huigong_metrics.domain.progress import (
    CITY_OWN,
    Figures,
    Goal,
    Levels,
    Status,
    Value,
    deadlines_before,
    figures_of,
    judge,
    points_for,
    series,
    status_of,
)
from huigong_metrics.domain.targets import TargetKey

CITY = "370200"
Deltas = list[tuple[str, str, date, int, int]]  # counter, area, day, amount, simulated


def levels(deltas: Deltas, days: set[date], real_only: bool = False) -> Levels:
    """What the adapter reads: each counter's level per area at each day."""
    rows: dict[tuple[str, str], dict[date, tuple[int, int]]] = defaultdict(dict)
    for counter, area, _, _, _ in deltas:
        for day in days:
            rows[(counter, area)][day] = (
                sum(d[3] for d in deltas if d[:2] == (counter, area) and d[2] <= day),
                sum(d[4] for d in deltas if d[:2] == (counter, area) and d[2] <= day),
            )
    return Levels(rows, real_only)


def figures(
    metric: str,
    area: str,
    deltas: Deltas,
    targets: dict[TargetKey, Decimal],
    as_of: date,
    year: int | None = None,
) -> Figures:
    return figures_of(
        METRICS_BY_CODE[metric],
        area,
        levels(deltas, points_for(as_of, year) | deadlines_before(targets, as_of)),
        targets,
        as_of,
        year,
    )


@pytest.mark.parametrize(
    ("actual", "target", "forecast", "days_left", "status"),
    [
        (50, 50, 50, 10, Status.达标),
        (60, 50, 60, -5, Status.达标),  # met, even after the deadline
        (40, 50, 55, 10, Status.正常推进),
        (40, 50, 50, 10, Status.正常推进),
        (30, 50, 40, 10, Status.存在风险),  # 80 % exactly
        (30, 50, 39.9, 10, Status.滞后),
        (49, 50, 49, 0, Status.存在风险),  # the deadline is today: what is counted is the forecast
        (49, 50, 49, -1, Status.滞后),  # a deadline passed and not met
    ],
)
def test_the_status_rule(
    actual: float, target: float, forecast: float, days_left: int, status: Status
) -> None:
    assert status_of(actual, target, forecast, days_left) is status


def test_required_rate_and_forecast_from_the_recent_rate() -> None:
    as_of = date(2025, 12, 1)
    goal = Goal(Decimal(100), date(2025, 12, 31))  # 30 days left
    # 60 reached, 1.5 a day lately: 60 + 45 = 105 by the deadline.
    result = judge(Value(60, 0), 1.5, goal, as_of)
    assert result.required_per_day == pytest.approx(40 / 30)
    assert result.required_per_month == pytest.approx(40 / 30 * 365.25 / 12)
    assert result.forecast == pytest.approx(105)
    assert result.percent == pytest.approx(60)
    assert result.status is Status.正常推进
    assert judge(Value(60, 0), 1.0, goal, as_of).status is Status.存在风险  # 90 ≥ 80
    assert judge(Value(60, 0), 0.5, goal, as_of).status is Status.滞后  # 75 < 80
    done = judge(Value(100, 0), 0, goal, as_of)
    assert done.status is Status.达标 and done.required_per_day == 0
    late = judge(Value(60, 0), 1.5, goal, date(2026, 1, 5))
    assert late.status is Status.滞后 and late.required_per_day is None
    assert judge(Value(60, 0), 1.5, None, as_of).status is None


def test_the_cumulative_view_as_of_a_date_uses_the_next_milestone() -> None:
    deltas: Deltas = [
        ("shared_workers_homes", "370213", date(2022, 5, 1), 30, 0),
        ("shared_workers_homes", "370213", date(2022, 12, 10), 25, 0),
        ("shared_workers_homes", "370202", date(2024, 3, 1), 50, 10),
    ]
    targets = {
        TargetKey("shared_workers_homes", CITY, 2022): Decimal(50),
        TargetKey("shared_workers_homes", CITY, None): Decimal(150),
    }
    early = figures("shared_workers_homes", CITY, deltas, targets, date(2022, 11, 30))
    assert (early.actual, early.target, early.deadline) == (30, 50, date(2022, 12, 31))
    # Nothing added in the last 30 days: the forecast is the actual, 60 % of the target.
    assert early.forecast == 30 and early.status is Status.滞后
    after = figures("shared_workers_homes", CITY, deltas, targets, date(2022, 12, 31))
    assert after.actual == 55 and after.status is Status.达标
    later = figures("shared_workers_homes", CITY, deltas, targets, date(2024, 6, 30))
    assert (later.actual, later.simulated_actual, later.target) == (105, 10, 150)
    assert later.deadline == date(2025, 12, 31)
    # Per district: that district's rows only; no district target.
    district = figures("shared_workers_homes", "370213", deltas, targets, date(2024, 6, 30))
    assert district.actual == 55 and district.target is None and district.status is None


def test_a_year_counts_what_was_added_in_it_or_the_level_by_its_end_as_the_metric_says() -> None:
    deltas: Deltas = [
        ("happy_enterprise_pilots", "G-HAIER", date(2022, 6, 28), 18, 0),
        ("happy_enterprise_pilots", "370202", date(2023, 4, 1), 5, 0),
        ("happy_enterprise_pilots", "370203", date(2023, 11, 20), 6, 0),
        ("members_enrolled", "370202", date(2022, 3, 1), 100_000, 0),
        ("members_enrolled", "370202", date(2023, 3, 1), 50_000, 0),
    ]
    targets = {
        TargetKey("happy_enterprise_pilots", CITY, 2023): Decimal(12),
        TargetKey("members_enrolled", CITY, 2022): Decimal(120_000),
        TargetKey("members_enrolled", CITY, None): Decimal(400_000),
    }
    # ≥12 per year: 2023 counts the 11 started in 2023, not the 18 pilots of 2022.
    pilots = figures("happy_enterprise_pilots", CITY, deltas, targets, date(2023, 12, 1), 2023)
    assert (pilots.actual, pilots.target, pilots.deadline) == (11, 12, date(2023, 12, 31))
    # 6 in the last 30 days → 0.2 a day × 30 days = 6 more: 17 ≥ 12.
    assert pilots.forecast == pytest.approx(17) and pilots.status is Status.正常推进
    assert (
        figures("happy_enterprise_pilots", CITY, deltas, targets, date(2024, 5, 1), 2023).status
        is Status.滞后
    )
    # A year not begun yet has counted nothing.
    assert figures("happy_enterprise_pilots", CITY, deltas, targets, date(2022, 12, 1), 2023).actual == 0
    # 12万 by the end of 2022 is a level: everything enrolled by then.
    members = figures("members_enrolled", CITY, deltas, targets, date(2026, 1, 1), 2022)
    assert (members.actual, members.target, members.status) == (100_000, 120_000, Status.滞后)
    # 2025 without a target of its own is judged against the cumulative one.
    final = figures("members_enrolled", CITY, deltas, targets, date(2026, 1, 1), 2025)
    assert (final.actual, final.target, final.deadline) == (150_000, 400_000, date(2025, 12, 31))
    # A year without any target: the figure, no judgement.
    plain = figures("members_enrolled", CITY, deltas, targets, date(2026, 1, 1), 2024)
    assert plain.actual == 150_000 and plain.status is None


def test_coverage_of_the_service_centres_and_the_share_of_district_centres() -> None:
    deltas: Deltas = [
        ("health_station_centre_facilities", "370200", date(2023, 2, 1), 2, 0),
        ("health_station_centre_facilities", "370202", date(2023, 3, 1), 1, 0),
        ("health_station_centre_facilities", "370203", date(2023, 3, 1), 1, 1),
        ("health_station_centre_facilities", "370203", date(2023, 9, 1), -1, -1),  # closed
        ("health_station_centre_facilities", "G-HAIER", date(2023, 3, 1), 4, 0),  # not a centre
        *[
            ("service_complexes_certified", code, date(2023, 6, 1), 1, 0)
            for code in ("370202", "370203", "370213")
        ],
    ]
    targets = {
        TargetKey("health_station_centres", CITY, 2023): Decimal(11),
        TargetKey("health_station_centres", "370202", 2023): Decimal(1),
        TargetKey("health_station_centres", "370203", 2023): Decimal(1),
        TargetKey("service_complex_share", CITY, 2023): Decimal("0.6"),
    }
    mid = figures("health_station_centres", CITY, deltas, targets, date(2023, 6, 30))
    assert (mid.actual, mid.simulated_actual, mid.target) == (3, 1, 11)
    end = figures("health_station_centres", CITY, deltas, targets, date(2023, 12, 31))
    assert end.actual == 2 and end.status is Status.滞后
    assert (
        figures("health_station_centres", "370202", deltas, targets, date(2023, 12, 31)).status is Status.达标
    )
    assert (
        figures("health_station_centres", "370203", deltas, targets, date(2023, 12, 31)).status is Status.滞后
    )
    # The city's own centre is judged against one station, as full coverage implies.
    own = figures("health_station_centres", CITY_OWN, deltas, targets, date(2023, 12, 31))
    assert (own.actual, own.target, own.status) == (1, 1, Status.达标)
    share = figures("service_complex_share", CITY, deltas, targets, date(2023, 12, 31))
    assert share.actual == pytest.approx(0.3) and share.percent == pytest.approx(50) and share.target == 0.6
    assert figures("service_complex_share", "370213", deltas, targets, date(2023, 12, 31)).actual == 1


def test_the_city_own_figures_are_the_city_rows_only() -> None:
    deltas: Deltas = [
        ("huigong_homes", "370200", date(2023, 1, 1), 2, 0),
        ("huigong_homes", "370202", date(2023, 1, 1), 5, 0),
    ]
    assert figures("huigong_homes", CITY, deltas, {}, date(2024, 1, 1)).actual == 7
    assert figures("huigong_homes", CITY_OWN, deltas, {}, date(2024, 1, 1)).actual == 2


def test_the_series_is_the_level_day_by_day() -> None:
    first = date(2024, 1, 1)
    deltas = [
        ("370202", date(2023, 12, 1), 3),
        ("370203", first + timedelta(days=1), 2),
        ("370202", first, -1),
    ]
    points = series(METRICS_BY_CODE["huigong_homes"], CITY, deltas, first, first + timedelta(days=2))
    assert points == [(first, 2.0), (first + timedelta(days=1), 4.0), (first + timedelta(days=2), 4.0)]
    district = series(METRICS_BY_CODE["huigong_homes"], "370203", deltas, first, first + timedelta(days=1))
    assert [v for _, v in district] == [0.0, 2.0]
    share = series(METRICS_BY_CODE["service_complex_share"], CITY, [("370202", first, 1)], first, first)
    assert share == [(first, 0.1)]


def test_a_passed_deadline_keeps_the_result_reached_that_day_beside_today() -> None:
    # 市南区: 3 members by the end of 2025 against a share of 5, 6 by March 2026.
    deltas: Deltas = [
        ("members_enrolled", "370202", date(2025, 5, 1), 3, 0),
        ("members_enrolled", "370202", date(2026, 2, 1), 3, 0),
    ]
    targets = {TargetKey("members_enrolled", "370202", None): Decimal(5)}
    later = figures("members_enrolled", "370202", deltas, targets, date(2026, 3, 1))
    assert (later.actual, later.status) == (6, Status.达标)
    assert (later.deadline, later.deadline_actual, later.deadline_met) == (date(2025, 12, 31), 3, False)
    # The year view ends on its deadline: the same result; met when it was.
    targets[TargetKey("members_enrolled", "370202", 2025)] = Decimal(3)
    year = figures("members_enrolled", "370202", deltas, targets, date(2026, 3, 1), 2025)
    assert (year.actual, year.deadline_actual, year.deadline_met, year.status) == (3, 3, True, Status.达标)
    # Before the deadline there is no result at it yet.
    before = figures("members_enrolled", "370202", deltas, targets, date(2025, 12, 31))
    assert (before.deadline_actual, before.deadline_met) == (None, None)


def test_real_only_leaves_the_simulated_rows_out_of_figure_and_status() -> None:
    deltas: Deltas = [("members_enrolled", "370202", date(2025, 5, 1), 10, 8)]
    targets = {TargetKey("members_enrolled", "370202", None): Decimal(5)}
    days = points_for(date(2025, 6, 1), None)
    metric = METRICS_BY_CODE["members_enrolled"]
    both = figures_of(metric, "370202", levels(deltas, days), targets, date(2025, 6, 1), None)
    assert (both.actual, both.simulated_actual, both.status) == (10, 8, Status.达标)
    real = figures_of(metric, "370202", levels(deltas, days, True), targets, date(2025, 6, 1), None)
    assert (real.actual, real.simulated_actual, real.status) == (2, 0, Status.滞后)
