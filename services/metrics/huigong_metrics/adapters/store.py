"""PostgreSQL for the metrics service: the counted things and daily actuals the projection writes,
the levels and series the progress API reads, and the targets (file baseline and changes)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from importlib import resources
from typing import Any

import asyncpg

from huigong_platform import logs
from huigong_platform.database import DbConnection

from ..domain.counting import BEIJING, Counted, Pilot, Subject, SubjectKey
from ..domain.progress import Delta, Level, LevelRows
from ..domain.targets import TargetKey, TargetsFile, parse_targets

log = logs.get(__name__)

TARGETS_FILE = "targets.toml"

# --- the projection's state ------------------------------------------------------------------------


async def load_counted(conn: DbConnection, keys: Collection[SubjectKey]) -> dict[SubjectKey, Counted]:
    """What is remembered of `keys`: one index probe per key, as the runner reads versions
    (`Applier._lookup`). The LATERAL … LIMIT 1 is a probe per key whatever the planner's
    estimates, so the table (hundreds of thousands of members) is never hashed whole for a batch's
    keys; `subscriptions.index_probes` would only add two round trips to it."""
    if not keys:
        return {}
    rows = await conn.fetch(
        """WITH k(s, k) AS MATERIALIZED (SELECT * FROM unnest($1::text[], $2::text[]))
           SELECT c.subject, c.key, c.category, c.area, c.simulated, c.active, c.flagged, c.due
           FROM k CROSS JOIN LATERAL (
               SELECT * FROM counted c WHERE c.subject = k.s AND c.key = k.k LIMIT 1) c""",
        [k[0].value for k in keys],
        [k[1] for k in keys],
    )
    found = (Counted(Subject(r[0]), r[1], r[2], r[3], r[4], r[5], r[6], r[7]) for r in rows)
    return {(c.subject, c.key): c for c in found}


async def save_counted(
    conn: DbConnection, new: Iterable[Counted], changed: Iterable[Counted], gone: Iterable[SubjectKey] = ()
) -> None:
    """Insert the newly counted (binary COPY: members come by the hundred thousand), update the
    changed and forget the `gone`."""
    inserts = [
        (c.subject.value, c.key, c.category, c.area, c.simulated, c.active, c.flagged, c.due) for c in new
    ]
    if inserts:
        await conn.copy_records_to_table(
            "counted",
            records=inserts,
            columns=["subject", "key", "category", "area", "simulated", "active", "flagged", "due"],
        )
    updates = list(changed)
    if updates:
        await conn.execute(
            """UPDATE counted c SET active = u.active, flagged = u.flagged, due = u.due
               FROM unnest($1::text[], $2::text[], $3::boolean[], $4::boolean[], $5::date[])
                    AS u(s, k, active, flagged, due)
               WHERE c.subject = u.s AND c.key = u.k""",
            [c.subject.value for c in updates],
            [c.key for c in updates],
            [c.active for c in updates],
            [c.flagged for c in updates],
            [c.due for c in updates],
        )
    forgotten = list(gone)
    if forgotten:
        await conn.execute(
            """DELETE FROM counted c USING unnest($1::text[], $2::text[]) AS g(s, k)
               WHERE c.subject = g.s AND c.key = g.k""",
            [k[0].value for k in forgotten],
            [k[1] for k in forgotten],
        )


async def add_actuals(conn: DbConnection, sums: Mapping[tuple[str, str, date], tuple[int, int]]) -> None:
    """Add the batch's net changes per (counter, area, day) to the stored ones."""
    if not sums:
        return
    keys = list(sums)
    await conn.execute(
        """INSERT INTO actuals (counter, area, day, amount, simulated)
           SELECT * FROM unnest($1::text[], $2::text[], $3::date[], $4::bigint[], $5::bigint[])
           ON CONFLICT (counter, area, day) DO UPDATE
           SET amount = actuals.amount + EXCLUDED.amount,
               simulated = actuals.simulated + EXCLUDED.simulated""",
        [k[0] for k in keys],
        [k[1] for k in keys],
        [k[2] for k in keys],
        [sums[k][0] for k in keys],
        [sums[k][1] for k in keys],
    )


async def reset_actuals(conn: DbConnection) -> None:
    await conn.execute("TRUNCATE actuals, counted, platform_pilots")


_PILOT_COLUMNS = "application_id, applied_on, workers, unit_id, area, registered_on, exited_on, simulated"


async def load_pilots(
    conn: DbConnection, applications: Collection[str], units: Collection[str]
) -> dict[str, Pilot]:
    """The 平台经济企业 pilots (by application id) of the given applications and units."""
    if not applications and not units:
        return {}
    rows = await conn.fetch(
        f"""SELECT {_PILOT_COLUMNS} FROM platform_pilots
            WHERE application_id = ANY($1::text[]) OR unit_id = ANY($2::text[])""",
        list(applications),
        list(units),
    )
    return {r[0]: Pilot(*r) for r in rows}


async def save_pilots(conn: DbConnection, pilots: Iterable[Pilot]) -> None:
    rows = list(pilots)
    if not rows:
        return
    await conn.executemany(
        f"""INSERT INTO platform_pilots ({_PILOT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            ON CONFLICT (application_id) DO UPDATE SET
                applied_on = EXCLUDED.applied_on, workers = EXCLUDED.workers, unit_id = EXCLUDED.unit_id,
                area = EXCLUDED.area, registered_on = EXCLUDED.registered_on,
                exited_on = EXCLUDED.exited_on, simulated = EXCLUDED.simulated""",
        [tuple(p) for p in rows],
    )


# --- reading levels ----------------------------------------------------------------------------------


async def levels_at(conn: DbConnection, days: Collection[date]) -> LevelRows:
    """Each counter's level per area at each of `days` (the sum of its days up to that day)."""
    ordered = sorted(days)
    columns = ", ".join(
        f"coalesce(sum(amount) FILTER (WHERE day <= ${i}), 0), "
        f"coalesce(sum(simulated) FILTER (WHERE day <= ${i}), 0)"
        for i in range(1, len(ordered) + 1)
    )
    rows = await conn.fetch(f"SELECT counter, area, {columns} FROM actuals GROUP BY counter, area", *ordered)
    result: dict[tuple[str, str], dict[date, Level]] = {}
    for row in rows:
        result[(row[0], row[1])] = {
            day: (int(row[2 + 2 * i]), int(row[3 + 2 * i])) for i, day in enumerate(ordered)
        }
    return result


async def totals(conn: DbConnection) -> LevelRows:
    """Every counter's level per area today and after (the Prometheus gauges): keyed by date.max."""
    rows = await conn.fetch(
        "SELECT counter, area, sum(amount), sum(simulated) FROM actuals GROUP BY counter, area"
    )
    return {(r[0], r[1]): {date.max: (int(r[2]), int(r[3]))} for r in rows}


async def counter_deltas(
    conn: DbConnection, counter: str, last: date, real_only: bool = False
) -> list[Delta]:
    """The counter's daily changes up to `last`; without the simulated part when `real_only`."""
    rows = await conn.fetch(
        """SELECT area, day, CASE WHEN $3 THEN amount - simulated ELSE amount END AS amount
           FROM actuals WHERE counter = $1 AND day <= $2 AND amount <> 0""",
        counter,
        last,
        real_only,
    )
    return [(r[0], r[1], int(r[2])) for r in rows]


# --- targets -------------------------------------------------------------------------------------------


def read_targets_file() -> TargetsFile:
    text = (resources.files("huigong_metrics.domain") / TARGETS_FILE).read_text(encoding="utf-8")
    return parse_targets(text)


async def install_baseline(pool: asyncpg.Pool, targets: TargetsFile) -> int:
    """Add the file's rows not loaded yet; never overwrite a loaded one (a change is an event).
    Returns how many rows were added; a loaded row whose value the file now contradicts is logged."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("LOCK TABLE target_baseline IN SHARE ROW EXCLUSIVE MODE")
        stored = {
            TargetKey(r["metric"], r["area"], r["year"]): r["value"]
            for r in await conn.fetch("SELECT metric, area, year, value FROM target_baseline")
        }
        fresh = [row for row in targets.rows if row.key not in stored]
        if fresh:
            await conn.executemany(
                """INSERT INTO target_baseline (metric, area, year, value, basis, file_version)
                   VALUES ($1, $2, $3, $4, $5, $6)""",
                [(r.key.metric, r.key.area, r.key.year, r.value, r.basis, targets.version) for r in fresh],
            )
    differing = [r.key.aggregate_id for r in targets.rows if r.key in stored and stored[r.key] != r.value]
    if differing:
        log.warning(
            "targets.toml differs from the loaded targets; kept the loaded ones (change a target "
            "with PUT /api/targets/{metric})",
            targets=differing,
        )
    log.info("targets loaded", file_version=targets.version, added=len(fresh), rows=len(targets.rows))
    return len(fresh)


async def baseline_value(conn: DbConnection, key: TargetKey) -> Decimal | None:
    value: Decimal | None = await conn.fetchval(
        """SELECT value FROM target_baseline
           WHERE metric = $1 AND area = $2 AND year IS NOT DISTINCT FROM $3""",
        key.metric,
        key.area,
        key.year,
    )
    return value


async def record_change(
    conn: DbConnection,
    *,
    event_id: Any,
    key: TargetKey,
    version: int,
    old_value: Decimal | None,
    new_value: Decimal,
    reason: str,
    changed_by: str,
    changed_at: datetime,
) -> None:
    await conn.execute(
        """INSERT INTO target_changes (event_id, metric, area, year, version, old_value, new_value,
               reason, changed_by, changed_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (event_id) DO NOTHING""",
        event_id,
        key.metric,
        key.area,
        key.year,
        version,
        old_value,
        new_value,
        reason,
        changed_by,
        changed_at,
    )


async def reset_changes(conn: DbConnection) -> None:
    await conn.execute("TRUNCATE target_changes")


@dataclass(frozen=True)
class TargetRecord:
    """A target as the API lists it."""

    key: TargetKey
    value: Decimal
    baseline: Decimal | None
    basis: str | None
    file_version: int | None
    changes: int
    changed_by: str | None
    reason: str | None
    changed_at: datetime | None


def cutoff_of(as_of: date) -> datetime:
    """The first instant after `as_of` in Beijing: a change recorded before it was in force that
    day (the as-of replay cuts the targets' stream at the same instant)."""
    return datetime.combine(as_of + timedelta(days=1), time(0), tzinfo=BEIJING)


async def current_targets(conn: DbConnection, as_of: date | None = None) -> list[TargetRecord]:
    """The targets in force at the end of `as_of` (None: now): the file's rows, each replaced by
    its latest change recorded by then; a target first set later is not listed."""
    rows = await conn.fetch(
        """WITH latest AS (
               SELECT DISTINCT ON (metric, area, year) metric, area, year, version, new_value,
                      changed_by, reason, changed_at
               FROM target_changes
               WHERE $1::timestamptz IS NULL OR changed_at < $1
               ORDER BY metric, area, year, version DESC)
           SELECT coalesce(b.metric, l.metric) AS metric, coalesce(b.area, l.area) AS area,
                  coalesce(b.year, l.year) AS year, coalesce(l.new_value, b.value) AS value,
                  b.value AS baseline, b.basis, b.file_version, coalesce(l.version, 0) AS changes,
                  l.changed_by, l.reason, l.changed_at
           FROM target_baseline b
           FULL JOIN latest l
             ON b.metric = l.metric AND b.area = l.area
            AND coalesce(b.year, 0) = coalesce(l.year, 0)""",
        None if as_of is None else cutoff_of(as_of),
    )
    return [
        TargetRecord(
            TargetKey(r["metric"], r["area"], r["year"]),
            r["value"],
            r["baseline"],
            r["basis"],
            r["file_version"],
            r["changes"],
            r["changed_by"],
            r["reason"],
            r["changed_at"],
        )
        for r in rows
    ]
