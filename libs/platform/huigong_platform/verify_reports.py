"""`/verify-reports`: the kept results of `huigong verify`, newest first, for 运维/审计 (the `ops`
role only, `policy.COMMON`; the console's 运维 → 校验结果).

The check itself is operator tooling (`huigong_ops.verify`, run with the admin DSN and the
services' event keys) and does not run inside a service: the command keeps each run in
`auth.verify_reports` and every service only reads that table here, so whichever service the
front door reaches shows the same runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import asyncpg
import orjson
from fastapi import APIRouter, Query, Request

from .refusals import FieldError, NotFound

MAX_LIMIT = 200

_SUMMARY = """id, started_at, finished_at, run_by, topics, since, with_stores, decoded, records,
    aggregates, missing_topics, counts, failures, problems_total, passed"""


def _summary(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": row["id"],
        "started_at": row["started_at"].isoformat(),
        "finished_at": row["finished_at"].isoformat(),
        "run_by": row["run_by"],
        "scope": {
            "topics": list(row["topics"]),
            "since": row["since"].isoformat() if row["since"] else None,
            "with_stores": row["with_stores"],
            "decoded": row["decoded"],
        },
        "records": row["records"],
        "aggregates": row["aggregates"],
        "missing_topics": list(row["missing_topics"]),
        "counts": orjson.loads(row["counts"]),
        "failures": row["failures"],
        "problems_total": row["problems_total"],
        "passed": row["passed"],
        "outcome": "通过" if row["passed"] else "未通过",
    }


def router(pool_of: Callable[[Request], asyncpg.Pool]) -> APIRouter:
    """The read-only routes; `pool_of` finds the service's pool."""
    routes = APIRouter(tags=["校验结果（运维）"])

    @routes.get("/verify-reports", summary="校验结果：每次 huigong verify 的范围、计数与结论，最新在前")
    async def list_reports(
        request: Request,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="每页条数")] = 20,
        before: Annotated[
            int | None, Query(ge=1, description="只列编号小于此值的结果（上一页最后一条的 id）")
        ] = None,
    ) -> dict[str, Any]:
        async with pool_of(request).acquire() as conn:
            rows = await conn.fetch(
                f"""SELECT {_SUMMARY} FROM auth.verify_reports
                    WHERE $1::bigint IS NULL OR id < $1 ORDER BY id DESC LIMIT $2""",
                before,
                limit + 1,
            )
            total = await conn.fetchval("SELECT count(*) FROM auth.verify_reports")
        items = [_summary(r) for r in rows[:limit]]
        return {
            "total": total,
            "items": items,
            # The next page's `before`: null on the last page.
            "next_before": items[-1]["id"] if len(rows) > limit else None,
        }

    @routes.get("/verify-reports/{report_id}", summary="一次校验的结果与所列问题（不含个人信息）")
    async def one_report(request: Request, report_id: int) -> dict[str, Any]:
        async with pool_of(request).acquire() as conn:
            row = await conn.fetchrow(
                f"SELECT {_SUMMARY}, problems FROM auth.verify_reports WHERE id = $1", report_id
            )
        if row is None:
            raise NotFound(
                FieldError("report_id", f"没有校验结果 #{report_id}", f"no verify report #{report_id}")
            )
        return {**_summary(row), "problems": orjson.loads(row["problems"])}

    return routes
