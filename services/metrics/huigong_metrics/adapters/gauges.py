"""Business gauges on /metrics, read from PostgreSQL at scrape time.

prometheus_client collects synchronously, so `refresh` (awaited by a middleware just before the
platform's /metrics handler renders) reads the figures into a snapshot that the collector then
yields. Series:
- huigong_target_actual{metric, area}: each metric's value today, city-wide (370200) and per area;
- huigong_target_actual_simulated{metric, area}: the part of it that is simulated data;
- huigong_target_value{metric, area, year}: each target in force (year "cumulative" = to 2025).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Final

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import REGISTRY, Collector

from huigong_events.reference import ALL_AREAS
from huigong_platform.database import DbConnection

from ..domain.counting import METRICS
from ..domain.progress import Levels
from . import store

ACTUAL: Final = "huigong_target_actual"
SIMULATED: Final = "huigong_target_actual_simulated"
TARGET: Final = "huigong_target_value"

Sample = tuple[tuple[str, ...], float]


class BusinessGauges(Collector):
    def __init__(self) -> None:
        self.actual: list[Sample] = []
        self.simulated: list[Sample] = []
        self.targets: list[Sample] = []

    async def refresh(self, conn: DbConnection) -> None:
        levels = Levels(await store.totals(conn))
        actual: list[Sample] = []
        simulated: list[Sample] = []
        for metric in METRICS:
            for area in ALL_AREAS:
                if not metric.applies_to(area):
                    continue
                value = levels.value(metric, area, date.max)
                actual.append(((metric.code, area), value.actual))
                simulated.append(((metric.code, area), value.simulated))
        targets: list[Sample] = [
            (
                (r.key.metric, r.key.area, str(r.key.year) if r.key.year is not None else "cumulative"),
                float(r.value),
            )
            for r in await store.current_targets(conn)
        ]
        self.actual, self.simulated, self.targets = actual, simulated, targets

    def collect(self) -> Iterator[Metric]:
        actual = GaugeMetricFamily(
            ACTUAL, "A metric's value today (370200: city-wide)", labels=["metric", "area"]
        )
        for labels, value in self.actual:
            actual.add_metric(list(labels), value)
        yield actual
        simulated = GaugeMetricFamily(
            SIMULATED, "The simulated part (演示数据) of huigong_target_actual", labels=["metric", "area"]
        )
        for labels, value in self.simulated:
            simulated.add_metric(list(labels), value)
        yield simulated
        target = GaugeMetricFamily(
            TARGET,
            "A target in force (year=cumulative: to the end of 2025)",
            labels=["metric", "area", "year"],
        )
        for labels, value in self.targets:
            target.add_metric(list(labels), value)
        yield target


_gauges: BusinessGauges | None = None


def business_gauges() -> BusinessGauges:
    """The process's collector, registered once with the default registry (which /metrics renders)."""
    global _gauges
    if _gauges is None:
        _gauges = BusinessGauges()
        REGISTRY.register(_gauges)
    return _gauges
