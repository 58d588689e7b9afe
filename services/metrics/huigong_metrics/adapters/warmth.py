"""送温暖 figures' tables (migration 0002): written by the metrics.warmth projection, read as of a
day by the API and by `huigong replay -s metrics --as-of D`."""

from __future__ import annotations

import uuid
from datetime import date

from huigong_platform.database import DbConnection

from ..domain.warmth import MonthRow


async def add_delivery(
    conn: DbConnection,
    *,
    delivery_id: uuid.UUID,
    union: str,
    year: int,
    occasion: str,
    festival: str | None,
    form: str,
    amount: int,
    delivered_on: date,
) -> None:
    # A redelivered event changes nothing (the runner is exactly-once; a replay starts empty).
    await conn.execute(
        """INSERT INTO warmth_deliveries
               (delivery_id, union_code, year, occasion, festival, form, amount, delivered_on)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (delivery_id) DO NOTHING""",
        delivery_id,
        union,
        year,
        occasion,
        festival,
        form,
        amount,
        delivered_on,
    )


async def decline_delivery(conn: DbConnection, delivery_id: uuid.UUID, declined_on: date) -> None:
    await conn.execute(
        "UPDATE warmth_deliveries SET declined_on = $2 WHERE delivery_id = $1", delivery_id, declined_on
    )


async def set_budget(
    conn: DbConnection, union: str, year: int, version: int, amount: int, set_on: date
) -> None:
    await conn.execute(
        """INSERT INTO warmth_budgets (union_code, year, version, amount, set_on)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING""",
        union,
        year,
        version,
        amount,
        set_on,
    )


async def reset(conn: DbConnection) -> None:
    await conn.execute("TRUNCATE warmth_deliveries, warmth_budgets")


async def months(conn: DbConnection, year: int, as_of: date) -> list[MonthRow]:
    """Deliveries and amounts by union, occasion and month of `year` that count at the end of
    `as_of` (dated by then, not declined by then)."""
    rows = await conn.fetch(
        """SELECT union_code, occasion, to_char(delivered_on, 'YYYY-MM'), count(*), sum(amount)
           FROM warmth_deliveries
           WHERE year = $1 AND delivered_on <= $2 AND (declined_on IS NULL OR declined_on > $2)
           GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""",
        year,
        as_of,
    )
    return [MonthRow(r[0], r[1], r[2], int(r[3]), int(r[4])) for r in rows]


async def budgets(conn: DbConnection, year: int, as_of: date) -> dict[str, int]:
    """Each union's budget of `year` as the city federation had set it by the end of `as_of`."""
    rows = await conn.fetch(
        """SELECT DISTINCT ON (union_code) union_code, amount FROM warmth_budgets
           WHERE year = $1 AND set_on <= $2 ORDER BY union_code, version DESC""",
        year,
        as_of,
    )
    return {r[0]: int(r[1]) for r in rows}
