"""Keeping each `huigong verify` run in `auth.verify_reports`, where every service reads it for
the console (`huigong_platform.verify_reports`, 运维 → 校验结果).

What is kept is the scope, the counts, the outcome and the first problems, each with ids, its
position and a reason the check itself wrote. A record that cannot be read or decoded has a
reason quoting the parser's message, which may quote the record's content (personal data): only
its kind's label is kept for those.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from .common import OpsError
from .verify import Kind, Problem, VerifyReport

KEPT_PROBLEMS = 200
_CONTENT_QUOTING = frozenset({Kind.INVALID, Kind.UNDECODABLE})


def default_runner() -> str:
    """Who ran it when `--by` is not given: the principal the shell acts as (HUIGONG_PRINCIPAL),
    else the operating system's user."""
    principal = os.environ.get("HUIGONG_PRINCIPAL", "").strip()
    if principal:
        return principal
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a container's arbitrary uid)
        return f"uid:{os.getuid()}"


def kept_problem(problem: Problem) -> dict[str, Any]:
    reason = problem.kind.label
    if problem.kind not in _CONTENT_QUOTING and problem.detail:
        reason = f"{problem.kind.label}: {problem.detail}"
    return {
        "kind": problem.kind.value,
        "failure": problem.failure,
        "topic": problem.topic,
        "partition": problem.partition,
        "offset": problem.offset,
        "aggregate_type": problem.aggregate_type,
        "aggregate_id": problem.aggregate_id,
        "version": problem.version,
        "event_id": problem.event_id,
        "reason": reason,
    }


async def record(
    dsn: str,
    report: VerifyReport,
    *,
    run_by: str,
    started_at: datetime,
    finished_at: datetime,
    topics: Sequence[str],
    since: datetime | None,
    with_stores: bool,
    decoded: bool,
) -> int:
    """Insert one run's report (under the admin DSN); returns its id. OpsError when the
    database cannot take it (the check's own result stands either way)."""
    failures = sum(n for k, n in report.counts.items() if Kind(k).failure) + len(report.missing_topics)
    try:
        conn = await asyncpg.connect(dsn)
    except (OSError, asyncpg.PostgresError) as exc:
        raise OpsError(f"数据库不可用 the database did not answer: {type(exc).__name__}: {exc}") from exc
    try:
        found = await conn.fetchval(
            """INSERT INTO auth.verify_reports (started_at, finished_at, run_by, topics, since,
                   with_stores, decoded, records, aggregates, missing_topics, counts, failures,
                   problems, problems_total, passed)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12, $13::jsonb, $14, $15)
               RETURNING id""",
            started_at,
            finished_at,
            run_by,
            list(topics),
            since,
            with_stores,
            decoded,
            report.records,
            report.aggregates,
            report.missing_topics,
            orjson.dumps(report.counts).decode(),
            failures,
            orjson.dumps([kept_problem(p) for p in report.problems[:KEPT_PROBLEMS]]).decode(),
            sum(report.counts.values()),
            report.ok,
        )
    except asyncpg.PostgresError as exc:
        raise OpsError(f"未能记录 could not keep the report: {type(exc).__name__}: {exc}") from exc
    finally:
        await conn.close()
    return int(found)
