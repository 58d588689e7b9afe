"""The matter counters' levels from PostgreSQL, and their Prometheus gauges (联动服务).

`huigong_matters{figure, area}`: each of the 11 service centres' figures today (area = the centre's
area, 370200 the city's own centre) and those of any other area that transferred matters; figures
received, transferred, closed_on_time, closed_late, overdue, rated, satisfaction_points and
avg_satisfaction. City-wide: sum by (figure); the city's average satisfaction is
sum(satisfaction_points) / sum(rated). Read at scrape time, like adapters/gauges.py."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Final

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import REGISTRY, Collector

from huigong_platform.database import DbConnection

from ..domain.counting import BEIJING
from ..domain.matters import CENTRE_AREAS, COUNTERS, by_centre
from ..domain.progress import LevelRows

GAUGE: Final = "huigong_matters"


async def levels(conn: DbConnection, day: date) -> LevelRows:
    """The matter counters' levels per area at the end of `day`."""
    rows = await conn.fetch(
        """SELECT counter, area, sum(amount), sum(simulated) FROM actuals
           WHERE counter = ANY($1::text[]) AND day <= $2 GROUP BY counter, area""",
        list(COUNTERS),
        day,
    )
    return {(r[0], r[1]): {day: (int(r[2]), int(r[3]))} for r in rows}


class MatterGauges(Collector):
    def __init__(self) -> None:
        self.samples: list[tuple[str, str, float]] = []

    async def refresh(self, conn: DbConnection, today: date | None = None) -> None:
        today = today or datetime.now(BEIJING).date()
        rows = await levels(conn, today)
        areas = list(CENTRE_AREAS) + sorted({area for _, area in rows} - set(CENTRE_AREAS))
        samples: list[tuple[str, str, float]] = []
        for centre in by_centre(rows, today, areas):
            for figure, value in (
                ("received", centre.received),
                ("transferred", centre.transferred),
                ("closed_on_time", centre.closed_on_time),
                ("closed_late", centre.closed_late),
                ("overdue", centre.overdue),
                ("rated", centre.rated),
                ("satisfaction_points", centre.satisfaction_points),
                ("avg_satisfaction", centre.avg_satisfaction),
            ):
                if value is not None:
                    samples.append((figure, centre.area, float(value)))
        self.samples = samples

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            GAUGE,
            "Service matters (联动服务) per centre today: received, transferred, closed on time or late, "
            "overdue, rated, satisfaction points and average (1-5)",
            labels=["figure", "area"],
        )
        for figure, area, value in self.samples:
            family.add_metric([figure, area], value)
        yield family


_gauges: MatterGauges | None = None


def matter_gauges() -> MatterGauges:
    """The process's collector, registered once with the default registry (which /metrics renders)."""
    global _gauges
    if _gauges is None:
        _gauges = MatterGauges()
        REGISTRY.register(_gauges)
    return _gauges
