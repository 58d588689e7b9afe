"""Targets: the versioned file they start from, and the one way they change afterwards.

A target is identified by metric, area and year (no year: cumulative to 31 December 2025). Its
value starts as the row of `targets.toml` (loaded once; see the file's header) and changes only by
a `TargetChanged` event, which the city federation records through the API with a reason; the
event's envelope says who. The current value is the latest change, else the file's.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from huigong_events.metrics import TargetChanged
from huigong_events.reference import ALL_AREAS, CITY_CODE, area_code, area_name
from huigong_platform.refusals import FieldError, NotFound, Refusal

from .counting import METRICS_BY_CODE, Aggregation, Metric, YearMeasure

AGGREGATE: Final = "target"
CUMULATIVE_DEADLINE: Final = date(2025, 12, 31)  # "至2025年底"
FIRST_YEAR: Final = 2022
LAST_YEAR: Final = 2100  # huigong_events.forms.Year
MAX_VALUE: Final = Decimal("100000000000")  # TargetValue: at most 15 digits, 4 of them decimals


@dataclass(frozen=True)
class TargetKey:
    metric: str
    area: str
    year: int | None  # None: cumulative to CUMULATIVE_DEADLINE

    @property
    def aggregate_id(self) -> str:
        return f"{self.metric}/{self.area}/{self.year if self.year is not None else 'cumulative'}"

    @property
    def deadline(self) -> date:
        return date(self.year, 12, 31) if self.year is not None else CUMULATIVE_DEADLINE


@dataclass(frozen=True)
class TargetRow:
    key: TargetKey
    value: Decimal
    basis: str


@dataclass(frozen=True)
class TargetsFile:
    version: int
    source: str
    rows: tuple[TargetRow, ...]


class TargetsFileError(ValueError):
    """targets.toml breaks its own rules; the service refuses to start on it."""


def parse_targets(text: str) -> TargetsFile:
    """The rows of targets.toml, checked: known metric and area, a year of the programme, a value
    that suits the metric, no row twice."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TargetsFileError(f"targets.toml is not valid TOML: {exc}") from exc
    version = raw.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise TargetsFileError("targets.toml needs an integer `version` ≥ 1")
    problems: list[str] = []
    rows: list[TargetRow] = []
    seen: set[TargetKey] = set()
    for index, item in enumerate(raw.get("targets", []), start=1):
        try:
            row = _row(item)
        except (ValueError, TypeError, KeyError) as exc:
            problems.append(f"row {index}: {exc}")
            continue
        if row.key in seen:
            problems.append(f"row {index}: {row.key.aggregate_id} appears twice")
        seen.add(row.key)
        rows.append(row)
    if problems:
        raise TargetsFileError("; ".join(problems))
    return TargetsFile(version, str(raw.get("source", "")), tuple(rows))


def _row(item: Mapping[str, Any]) -> TargetRow:
    unknown = set(item) - {"metric", "area", "year", "value", "basis"}
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)}")
    metric = METRICS_BY_CODE.get(item["metric"])
    if metric is None:
        raise ValueError(f"unknown metric {item['metric']!r}")
    area = str(item.get("area", CITY_CODE))
    year = item.get("year")
    value = Decimal(str(item["value"]))
    errors = check_target(metric, area, year, value)
    if errors:
        raise ValueError("; ".join(e.en for e in errors))
    basis = str(item.get("basis", "")).strip()
    if not basis:
        raise ValueError("every row needs its basis (the plan's words)")
    return TargetRow(TargetKey(metric.code, area, year), value, basis)


def check_target(metric: Metric, area: str, year: object, value: Decimal) -> list[FieldError]:
    """What is wrong with a target for `metric`; empty when it may be recorded."""
    errors: list[FieldError] = []
    if area not in ALL_AREAS:
        errors.append(FieldError("area", "未知的区市或单位代码", f"unknown area code {area!r}"))
    elif not metric.applies_to(area):
        errors.append(
            FieldError(
                "area",
                f"“{metric.title}”只统计职工服务中心所在的市和区市",
                f"{metric.code} has figures for the city and the service centres' districts only",
            )
        )
    elif metric.aggregation is Aggregation.SHARE and area != CITY_CODE:
        errors.append(
            FieldError("area", "比例目标只能为全市目标（370200）", "a share target is city-wide (370200)")
        )
    if year is not None and (
        not isinstance(year, int) or isinstance(year, bool) or not FIRST_YEAR <= year <= LAST_YEAR
    ):
        errors.append(
            FieldError("year", f"年度应为{FIRST_YEAR}—{LAST_YEAR}年，或不填（累计目标）", "year out of range")
        )
    if not value.is_finite() or value <= 0:
        errors.append(FieldError("value", "目标值须大于0", "the target must be greater than 0"))
    elif value >= MAX_VALUE:
        errors.append(FieldError("value", "目标值过大", "the target is too large"))
    elif metric.aggregation is Aggregation.SHARE:
        if value > 1 or value != value.quantize(Decimal("0.0001")):
            errors.append(
                FieldError(
                    "value",
                    "比例目标应为0到1之间的小数（如0.6表示60%），最多四位小数",
                    "a share is a fraction between 0 and 1 (0.6 = 60%), at most 4 decimals",
                )
            )
    elif value != value.to_integral_value():
        errors.append(FieldError("value", "数量目标应为整数", "a count target must be a whole number"))
    elif metric.aggregation is Aggregation.COVERAGE and area != CITY_CODE and value != 1:
        errors.append(
            FieldError("value", "单个职工服务中心的目标只能为1（建有）", "one centre's target can only be 1")
        )
    return errors


def metric_or_refuse(code: str) -> Metric:
    metric = METRICS_BY_CODE.get(code)
    if metric is None:
        raise NotFound(FieldError("metric", f"未知的指标：{code}", f"unknown metric {code!r}"))
    return metric


def decide_change(
    metric: Metric, key: TargetKey, value: Decimal, reason: str, current: Decimal | None
) -> TargetChanged:
    """The TargetChanged that sets `key` to `value`, or a Refusal with field errors."""
    try:
        value = Decimal(value)
    except (InvalidOperation, TypeError):
        raise Refusal(FieldError("value", "应为数字", "not a number")) from None
    errors = check_target(metric, key.area, key.year, value)
    if not reason.strip():
        errors.append(FieldError("reason", "请填写调整原因", "a reason is required"))
    if not errors and current is not None and value == current:
        errors.append(
            FieldError("value", "目标值与现行目标相同，无需调整", "the target already has this value")
        )
    if errors:
        raise Refusal(*errors)
    return TargetChanged(
        metric=key.metric,
        area=key.area,
        year=key.year,
        old_value=current,
        new_value=Decimal(int(value)) if value == value.to_integral_value() else value,
        reason=reason.strip(),
    )


def decide_shares(
    metric: Metric,
    year: int | None,
    wanted: list[tuple[str, Decimal]],
    reason: str,
    in_force: Mapping[str, Decimal | None],
) -> list[TargetChanged]:
    """The TargetChanged of each share that changes (areas by code or name, as listed), or one
    Refusal naming every bad share by its position (`shares.2.value`)."""
    errors: list[FieldError] = []
    events: list[TargetChanged] = []
    seen: set[str] = set()
    for index, (name, value) in enumerate(wanted):
        at = f"shares.{index}"
        area = area_code(name)
        if area not in ALL_AREAS:
            errors.append(FieldError(f"{at}.area", f"未知的区市或集团工会：{name}", f"unknown area {name!r}"))
            continue
        if area == CITY_CODE:
            errors.append(
                FieldError(
                    f"{at}.area",
                    "分解目标只能给区市或集团工会；全市目标请用“调整目标”",
                    "a share is a district's or a group union's; change the city's target itself instead",
                )
            )
            continue
        if area in seen:
            errors.append(FieldError(f"{at}.area", f"{area_name(area)}重复列出", f"{area} is listed twice"))
            continue
        seen.add(area)
        problems = check_target(metric, area, year, value)
        errors.extend(FieldError(f"{at}.{e.field}", e.zh, e.en) for e in problems)
        if problems or value == in_force.get(area):
            continue  # an unchanged share records nothing
        events.append(
            TargetChanged(
                metric=metric.code,
                area=area,
                year=year,
                old_value=in_force.get(area),
                new_value=Decimal(int(value)) if value == value.to_integral_value() else value,
                reason=reason.strip(),
            )
        )
    if not reason.strip():
        errors.append(FieldError("reason", "请填写分解原因", "a reason is required"))
    if not errors and not events:
        errors.append(
            FieldError(
                "shares", "所列分解目标与现行目标相同，无需调整", "every share listed already has this value"
            )
        )
    if errors:
        raise Refusal(*errors)
    return events


def current_value(baseline: Decimal | None, changes: list[TargetChanged]) -> Decimal | None:
    """The value in force: the latest change, else the file's."""
    return changes[-1].new_value if changes else baseline


def year_measure_of(metric: Metric, key: TargetKey) -> YearMeasure | None:
    """What a target counts: None for the cumulative target (the level at its deadline)."""
    return None if key.year is None else metric.year_measure


def checked_area(area: str) -> str:
    """370200, a district or a group union, by code or by name; refused otherwise."""
    area = area_code(area)
    try:
        area_name(area)
    except KeyError:
        raise Refusal(
            FieldError(
                "area",
                f"未知的区市或单位：{area}；应为全市（370200）、区市或集团工会的代码或名称，如 370202 或 市南区",
                f"unknown area {area!r}: 370200 (the city), a district or a group union by code or name, "
                "like 370202 or 市南区",
            )
        ) from None
    return area


def json_number(value: Decimal | None) -> int | float | None:
    """A target or a figure in JSON: a whole number as an integer."""
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)
