"""Progress against a target: actual, percentage, the rate still needed, a forecast and a status.

Views (the `year` of the API):
- cumulative (no year): the level reached by `as_of`, against the metric's next milestone on or
  after `as_of` (a by-year-end target, or the cumulative target of 31 December 2025), or the last
  one when all have passed;
- a year Y: that year's target. What it counts follows the metric (`YearMeasure`): added during Y
  ("≥12 per year"), or the level reached by 31 December of Y ("12万 by the end of 2022"). Without a
  target of its own, Y = 2025 is judged against the cumulative target. `as_of` inside Y shows the
  year so far.

The status rule (达标 / 正常推进 / 存在风险 / 滞后):
- 达标 when actual ≥ target;
- otherwise, a deadline already passed is 滞后;
- otherwise the forecast decides: the recent rate, the change of the last 30 days (by the days
  the events state) divided by 30, projected from `as_of` to the deadline and added to the
  actual: forecast ≥ target → 正常推进, ≥ 80 % of the target → 存在风险, below → 滞后.
Required rate = (target − actual) / days left to the deadline, and per month that × 365.25 / 12.
A metric without a target has no percentage, required rate, forecast or status.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Final

from huigong_events.reference import CITY_CODE, DISTRICTS, GROUP_UNIONS

from .counting import Aggregation, Metric, YearMeasure
from .targets import CUMULATIVE_DEADLINE, TargetKey

RECENT_DAYS: Final = 30
AT_RISK: Final = 0.8  # a forecast at ≥ 80 % of the target is 存在风险, below it 滞后
DAYS_PER_MONTH: Final = 365.25 / 12


class Status(StrEnum):
    达标 = "达标"
    正常推进 = "正常推进"
    存在风险 = "存在风险"
    滞后 = "滞后"


def status_of(actual: float, target: float, forecast: float, days_left: int) -> Status:
    if actual >= target:
        return Status.达标
    if days_left < 0:
        return Status.滞后
    if forecast >= target:
        return Status.正常推进
    if forecast >= AT_RISK * target:
        return Status.存在风险
    return Status.滞后


# --- levels: counters summed up to a day ------------------------------------------------------------

CITY_OWN: Final = "370200/own"
"""The city's own figures (市本级: the city service centre, facilities reported for 370200), as
opposed to 370200, the whole city. Only a breakdown by area uses it."""

Level = tuple[int, int]  # (net total, of which simulated) up to and including a day
LevelRows = Mapping[tuple[str, str], Mapping[date, Level]]  # (counter, area) → day → level


@dataclass(frozen=True)
class Value:
    actual: float
    simulated: float


class Levels:
    """Counter levels at a few days, per area, as the adapter read them; a metric's value at one
    of those days, in an area or city-wide."""

    def __init__(self, rows: LevelRows, real_only: bool = False) -> None:
        self._rows = rows
        self._real_only = real_only
        self._areas: dict[str, list[str]] = defaultdict(list)
        for counter, area in rows:
            self._areas[counter].append(area)

    def _level(self, counter: str, area: str, day: date) -> Level:
        found = self._rows.get((counter, area))
        if not found:
            return (0, 0)
        total, simulated = found[day]
        # Without the simulator's rows the figure is what the districts really reported.
        return (total - simulated, 0) if self._real_only else (total, simulated)

    def value(self, metric: Metric, area: str, day: date) -> Value:
        """The metric in `area` (370200: the whole city; CITY_OWN: the city's own) at `day`."""
        whole_city = area == CITY_CODE
        if area == CITY_OWN:
            area = CITY_CODE
        if metric.aggregation is Aggregation.SUM:
            areas: Iterable[str] = self._areas.get(metric.counter, ()) if whole_city else (area,)
            total = simulated = 0
            for each in areas:
                level = self._level(metric.counter, each, day)
                total += level[0]
                simulated += level[1]
            return Value(float(total), float(simulated))
        centres = metric.areas if whole_city else tuple(a for a in metric.areas if a == area)
        covered = real = 0
        for each in centres:
            total, simulated = self._level(metric.counter, each, day)
            covered += total > 0
            real += total - simulated > 0
        scale = len(centres) if metric.aggregation is Aggregation.SHARE and centres else 1
        return Value(covered / scale, (covered - real) / scale)


def by_area_codes(metric: Metric) -> tuple[str, ...]:
    """The areas a city-wide figure breaks down into: districts, then group unions, then the city's
    own (市本级, as 370200); a service-centre figure has the centres only."""
    if metric.aggregation is Aggregation.SHARE:
        return tuple(DISTRICTS)
    if metric.aggregation is Aggregation.COVERAGE:
        return (*DISTRICTS, CITY_CODE)
    return (*DISTRICTS, *GROUP_UNIONS, CITY_CODE)


@dataclass(frozen=True)
class Standing:
    """A metric's value at the end of a day, city-wide and in each area of its breakdown."""

    metric: Metric
    city: Value
    by_area: tuple[tuple[str, Value], ...]


def standings(metrics: Iterable[Metric], levels: Levels, day: date) -> list[Standing]:
    """What the cumulative view of `GET /api/progress?as_of=day` reports as `actual`, city-wide
    and `by_area` (370200 there: the city's own); the as-of replay prints the same from its
    shadow tables."""
    return [
        Standing(
            metric,
            levels.value(metric, CITY_CODE, day),
            tuple(
                (code, levels.value(metric, CITY_OWN if code == CITY_CODE else code, day))
                for code in by_area_codes(metric)
            ),
        )
        for metric in metrics
    ]


# --- views -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """The days a view reads: the level at `end` (minus the level at `start` for a year's flow)."""

    end: date
    start: date | None = None
    empty: bool = False  # a year that has not begun by as_of: nothing counted yet

    @property
    def points(self) -> set[date]:
        days = {self.end, self.end - timedelta(days=RECENT_DAYS)}
        if self.start is not None:
            days.add(self.start)
        return days


@dataclass(frozen=True)
class Goal:
    target: Decimal
    deadline: date


def window_of(as_of: date, year: int | None, measure: YearMeasure) -> Window:
    if year is None:
        return Window(as_of)
    end = min(as_of, date(year, 12, 31))
    if measure is YearMeasure.BY_YEAR_END:
        return Window(end)
    if as_of < date(year, 1, 1):
        return Window(as_of, empty=True)
    return Window(end, start=date(year - 1, 12, 31))


def points_for(as_of: date, year: int | None) -> set[date]:
    """Every day any metric's view of (as_of, year) reads."""
    days: set[date] = set()
    for measure in YearMeasure:
        days |= window_of(as_of, year, measure).points
    return days


def milestones(metric: Metric, area: str, targets: Mapping[TargetKey, Decimal]) -> list[Goal]:
    """The cumulative targets of a metric in an area, by deadline: by-year-end targets and the
    cumulative one."""
    goals = [
        Goal(value, key.deadline)
        for key, value in targets.items()
        if key.metric == metric.code
        and key.area == area
        and (key.year is None or metric.year_measure is YearMeasure.BY_YEAR_END)
    ]
    return sorted(goals, key=lambda g: g.deadline)


def goal_of(
    metric: Metric, area: str, targets: Mapping[TargetKey, Decimal], as_of: date, year: int | None
) -> tuple[Goal | None, YearMeasure]:
    """The target a view judges against, and what the view counts."""
    if area == CITY_OWN:
        return _own_centre_goal(metric, targets, as_of, year)
    if year is None:
        goals = milestones(metric, area, targets)
        upcoming = [g for g in goals if g.deadline >= as_of]
        chosen = upcoming[0] if upcoming else (goals[-1] if goals else None)
        return chosen, YearMeasure.BY_YEAR_END
    own = targets.get(TargetKey(metric.code, area, year))
    if own is not None:
        return Goal(own, date(year, 12, 31)), metric.year_measure
    cumulative = targets.get(TargetKey(metric.code, area, None))
    if cumulative is not None and year == CUMULATIVE_DEADLINE.year:
        return Goal(cumulative, CUMULATIVE_DEADLINE), YearMeasure.BY_YEAR_END
    return None, metric.year_measure


def _own_centre_goal(
    metric: Metric, targets: Mapping[TargetKey, Decimal], as_of: date, year: int | None
) -> tuple[Goal | None, YearMeasure]:
    """The city's own centre has no target of its own (370200 is the whole city): a city-wide
    coverage target of every centre (全覆盖) means one for it too; anything else has none."""
    city, measure = goal_of(metric, CITY_CODE, targets, as_of, year)
    if metric.aggregation is Aggregation.COVERAGE and city is not None and city.target >= len(metric.areas):
        return Goal(Decimal(1), city.deadline), measure
    return None, measure


@dataclass(frozen=True)
class Figures:
    actual: float
    simulated_actual: float
    target: float | None = None
    deadline: date | None = None
    percent: float | None = None
    required_per_day: float | None = None
    required_per_month: float | None = None
    forecast: float | None = None
    status: Status | None = None
    # Once the deadline has passed: what had been reached by the end of that day, and whether it
    # met the target (the status beside it judges today's figure).
    deadline_actual: float | None = None
    deadline_met: bool | None = None


def figures_of(
    metric: Metric,
    area: str,
    levels: Levels,
    targets: Mapping[TargetKey, Decimal],
    as_of: date,
    year: int | None,
) -> Figures:
    goal, measure = goal_of(metric, area, targets, as_of, year)
    window = window_of(as_of, year, measure)
    if window.empty:
        now = Value(0.0, 0.0)
        rate = 0.0
    else:
        end = levels.value(metric, area, window.end)
        earlier = levels.value(metric, area, window.end - timedelta(days=RECENT_DAYS))
        rate = (end.actual - earlier.actual) / RECENT_DAYS
        if window.start is None:
            now = end
        else:
            before = levels.value(metric, area, window.start)
            now = Value(end.actual - before.actual, end.simulated - before.simulated)
    figures = judge(now, rate, goal, as_of)
    if goal is None or goal.deadline >= as_of:
        return figures
    # A year's view already ends on its deadline; the cumulative view reads the level that day.
    reached = now.actual if window.end <= goal.deadline else levels.value(metric, area, goal.deadline).actual
    return replace(figures, deadline_actual=reached, deadline_met=reached >= float(goal.target))


def deadlines_before(targets: Mapping[TargetKey, Decimal], as_of: date) -> set[date]:
    """The deadlines already passed by `as_of`: a view reads the levels of those days too."""
    return {key.deadline for key in targets if key.deadline < as_of}


def judge(now: Value, rate: float, goal: Goal | None, as_of: date) -> Figures:
    """Percentage, required rate, forecast and status of an actual against a goal."""
    if goal is None:
        return Figures(now.actual, now.simulated)
    target = float(goal.target)
    days_left = (goal.deadline - as_of).days
    remaining = max(target - now.actual, 0.0)
    per_day: float | None
    if remaining == 0:
        per_day = 0.0
    elif days_left > 0:
        per_day = remaining / days_left
    else:
        per_day = None  # the deadline has come: no rate can meet it any more
    forecast = now.actual + rate * max(days_left, 0)
    return Figures(
        actual=now.actual,
        simulated_actual=now.simulated,
        target=target,
        deadline=goal.deadline,
        percent=now.actual / target * 100 if target else None,
        required_per_day=per_day,
        required_per_month=per_day * DAYS_PER_MONTH if per_day is not None else None,
        forecast=forecast,
        status=status_of(now.actual, target, forecast, days_left),
    )


# --- series: the level day by day ------------------------------------------------------------------

Delta = tuple[str, date, int]  # (area, day, amount)


def series(
    metric: Metric, area: str, deltas: Iterable[Delta], first: date, last: date
) -> list[tuple[date, float]]:
    """The metric's value on every day from `first` to `last`, from the counter's daily deltas
    (all of them up to `last`, in any order)."""
    by_day: dict[date, list[tuple[str, int]]] = defaultdict(list)
    levels: dict[str, int] = defaultdict(int)
    for each_area, day, amount in deltas:
        if day < first:
            levels[each_area] += amount
        elif day <= last:
            by_day[day].append((each_area, amount))
    if metric.aggregation is Aggregation.SUM:
        wanted = None if area == CITY_CODE else {area}
    else:
        wanted = set(metric.areas) if area == CITY_CODE else set(metric.areas) & {area}
    scale = len(wanted) if metric.aggregation is Aggregation.SHARE and wanted else 1
    points: list[tuple[date, float]] = []
    day = first
    while day <= last:
        for each_area, amount in by_day.get(day, ()):
            levels[each_area] += amount
        if metric.aggregation is Aggregation.SUM:
            value = float(sum(v for a, v in levels.items() if wanted is None or a in wanted))
        else:
            value = sum(1 for a in wanted or () if levels.get(a, 0) > 0) / scale
        points.append((day, value))
        day += timedelta(days=1)
    return points
