"""`huigong reconcile`: every trigger each reaction has passed has its outcome.

For each reaction that promises outcomes (`Reaction.outcomes`), the triggers on its topics below
its stored checkpoint are read from Kafka (headers only) and each must have one of its outcome
events, caused by it, in the reaction's service store, or be held as one of the reaction's dead
letters or parked records. What has neither was accepted and never decided: it is named. The same
check runs in each service in the background (`huigong_platform.outcomes.OutcomeWatch`)."""

from __future__ import annotations

import asyncpg

from huigong_platform.outcomes import Reconciled, checkpoints, reconcile_slice
from huigong_platform.reactions import Reaction

from . import kafka_access
from .common import OpsError
from .registry import discover


def reactions_with_outcomes(service: str | None = None) -> list[type[Reaction]]:
    found, errors = discover()
    chosen = [
        cls
        for cls in found.values()
        if issubclass(cls, Reaction) and cls.outcomes and (service is None or cls.service == service)
    ]
    if not chosen and errors:
        raise OpsError("反应无法加载 reactions could not be loaded: " + "; ".join(errors))
    return sorted(chosen, key=lambda cls: cls.name)


async def reconcile(dsn: str, bootstrap: str, service: str | None = None) -> list[Reconciled]:
    results: list[Reconciled] = []
    try:
        conn = await asyncpg.connect(dsn)
    except (OSError, asyncpg.PostgresError) as exc:
        raise OpsError(f"数据库无法连接 cannot connect to PostgreSQL: {exc}") from exc
    try:
        for cls in reactions_with_outcomes(service):
            if not await conn.fetchval("SELECT to_regclass($1)", f"{cls.service}.checkpoints"):
                continue
            # The reaction's service schema: its events, checkpoints, dead letters, parked rows.
            await conn.execute(f"SET search_path TO {cls.service}")
            until = await checkpoints(conn, cls.name)
            try:
                results.append(
                    await reconcile_slice(conn, bootstrap, cls.name, cls.service, cls.outcomes, {}, until)
                )
            except Exception as exc:
                clear = await kafka_access.explained(bootstrap, exc)
                if clear is None:
                    raise
                raise clear from exc
    finally:
        await conn.close()
    return results
