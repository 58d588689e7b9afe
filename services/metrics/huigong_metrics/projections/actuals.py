"""The actuals: every counted event moves its counters per area and day (domain/counting.py says
which), applied by the platform's exactly-once runner. A batch is counted in memory, in order,
and written with one COPY of the newly counted things, one update of the changed ones and one
upsert of the day sums, in the runner's transaction.

For auditors (`huigong replay -s metrics --as-of D`): `business_day` tells the replay the day each
event counts on (`counting.counted_on`, the day `count` itself uses), so the replay keeps exactly
the facts dated D or earlier; `figures` reads every metric's actual as of D from the replayed
tables, computed as `GET /api/progress?as_of=D` computes its `actual` and `by_area`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import ClassVar, NamedTuple

from huigong_events.base import DomainEvent
from huigong_events.envelope import RecordedEvent
from huigong_events.topics import Topic, topic_for_aggregate
from huigong_platform.database import DbConnection
from huigong_platform.subscriptions import Projection

from ..adapters import store
from ..domain.counting import (
    METRICS,
    READ_EVENT_TYPES,
    Aggregation,
    Counted,
    Delta,
    Pilot,
    SubjectKey,
    count,
    counted_on,
    creates_subject,
    evolve_pilot,
    is_simulated,
    pilot_deltas,
    pilot_ref,
    remembered,
    subject_of,
)
from ..domain.progress import Levels, standings


class MetricFigure(NamedTuple):
    """A metric's actual as of a day, city-wide and per area (what `huigong replay` prints)."""

    name: str
    title: str
    value: float
    by_area: dict[str, float]


class ActualsProjection(Projection):
    name: ClassVar[str] = "metrics.actuals"
    topics: ClassVar[tuple[Topic, ...]] = (
        topic_for_aggregate("application"),
        topic_for_aggregate("review"),
        topic_for_aggregate("unit"),
        topic_for_aggregate("facility"),
        topic_for_aggregate("member"),
        topic_for_aggregate("matter"),
    )
    handles: ClassVar[frozenset[str]] = READ_EVENT_TYPES
    tables: ClassVar[tuple[str, ...]] = ("actuals", "counted", "platform_pilots")

    async def apply(self, conn: DbConnection, event: DomainEvent, record: RecordedEvent) -> None:
        await self.apply_batch(conn, [(event, record)])

    async def apply_batch(
        self, conn: DbConnection, items: Sequence[tuple[DomainEvent, RecordedEvent]]
    ) -> None:
        subjects = [subject_of(event) for event, _ in items]
        # Only subjects whose first event here is not their creation can have a stored state
        # (the runner passes each aggregate's events once and in order).
        needed: set[SubjectKey] = set()
        seen: set[SubjectKey] = set()
        for (event, _), subject in zip(items, subjects, strict=True):
            if subject is not None and subject not in seen:
                seen.add(subject)
                if not creates_subject(event):
                    needed.add(subject)
        known: dict[SubjectKey, Counted] = await store.load_counted(conn, needed)
        stored = set(known)
        changed: dict[SubjectKey, Counted] = {}
        refs = [pilot_ref(event) for event, _ in items]
        pilots = await store.load_pilots(
            conn,
            {r.key for r in refs if r is not None and not r.by_unit},
            {r.key for r in refs if r is not None and r.by_unit},
        )
        application_of_unit = {p.unit_id: a for a, p in pilots.items() if p.unit_id is not None}
        changed_pilots: dict[str, Pilot] = {}
        sums: dict[tuple[str, str, date], tuple[int, int]] = {}

        def add(deltas: Sequence[Delta]) -> None:
            for delta in deltas:
                key = (delta.counter, delta.area, delta.day)
                amount, simulated = sums.get(key, (0, 0))
                sums[key] = (amount + delta.amount, simulated + delta.amount * delta.simulated)

        for (event, record), subject, ref in zip(items, subjects, refs, strict=True):
            sim = is_simulated(record.actor)
            outcome = count(
                event,
                known.get(subject) if subject else None,
                simulated=sim,
                recorded_at=record.occurred_at,
            )
            if outcome.counted is not None and subject is not None:
                known[subject] = changed[subject] = outcome.counted
            add(outcome.deltas)
            if ref is not None:
                application = application_of_unit.get(ref.key) if ref.by_unit else ref.key
                if application is None:
                    continue  # the exit of a unit that is no 幸福企业 from an application
                before = pilots.get(application)
                after = evolve_pilot(before, event, simulated=sim, recorded_at=record.occurred_at)
                if after is not None and after != before:
                    pilots[application] = changed_pilots[application] = after
                    if after.unit_id is not None:
                        application_of_unit[after.unit_id] = application
                    add(pilot_deltas(before, after))
        await store.save_pilots(conn, changed_pilots.values())
        await store.save_counted(
            conn,
            new=[c for k, c in changed.items() if k not in stored and remembered(c)],
            changed=[c for k, c in changed.items() if k in stored and remembered(c)],
            gone=[k for k, c in changed.items() if k in stored and not remembered(c)],
        )
        await store.add_actuals(conn, sums)

    async def reset(self, conn: DbConnection) -> None:
        await store.reset_actuals(conn)

    def business_day(self, event: DomainEvent, record: RecordedEvent) -> date | None:
        """The day `event` counts on: an as-of replay keeps it when that is its day or earlier."""
        return counted_on(event, record.occurred_at)

    async def figures(self, conn: DbConnection, as_of: date) -> list[MetricFigure]:
        """Every metric's actual at the end of `as_of`, city-wide and per area, rounded as the
        progress API rounds them."""
        levels = Levels(await store.levels_at(conn, {as_of}))
        found: list[MetricFigure] = []
        for standing in standings(METRICS, levels, as_of):
            digits = 4 if standing.metric.aggregation is Aggregation.SHARE else 0
            found.append(
                MetricFigure(
                    standing.metric.code,
                    standing.metric.title,
                    _rounded(standing.city.actual, digits),
                    {area: _rounded(value.actual, digits) for area, value in standing.by_area},
                )
            )
        return found


def _rounded(value: float, digits: int) -> float:
    rounded = round(value, digits)
    return int(rounded) if rounded == int(rounded) else rounded
