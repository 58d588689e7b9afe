"""The metrics service's command handler, run by the platform's command path inside the command's
unit of work: lock the target, fold its changes over the baseline from targets.toml, let the pure
domain decide, append."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from huigong_events.metrics import TargetChanged
from huigong_events.upcasting import decode
from huigong_platform.application import Context, Handler
from huigong_platform.idempotency import Outcome
from huigong_platform.unit_of_work import PostgresUnitOfWork, UnitOfWork

from . import commands as c
from .adapters.baselines import Baselines, PostgresBaselines
from .domain.targets import (
    AGGREGATE,
    TargetKey,
    checked_area,
    current_value,
    decide_change,
    json_number,
    metric_or_refuse,
)


def postgres_baselines(uow: UnitOfWork) -> Baselines:
    assert isinstance(uow, PostgresUnitOfWork)
    return PostgresBaselines(uow.conn)


@dataclass(frozen=True)
class Targets:
    """The handlers, with the baselines of the command's unit of work (PostgreSQL in the service,
    in memory in tests)."""

    baselines: Callable[[UnitOfWork], Baselines] = postgres_baselines

    def handlers(self) -> Mapping[type, Handler]:
        return {c.ChangeTarget: self.change_target}

    async def change_target(self, command: c.ChangeTarget, ctx: Context) -> Outcome:
        return await change_target(command, ctx, self.baselines(ctx.uow))


async def change_target(command: c.ChangeTarget, ctx: Context, baselines: Baselines) -> Outcome:
    found = metric_or_refuse(command.metric)
    target = TargetKey(found.code, checked_area(command.area), command.year)
    await ctx.uow.lock(AGGREGATE, target.aggregate_id)
    stream = await ctx.uow.read(AGGREGATE, target.aggregate_id)
    changes = [e for e in (decode(r) for r in stream.events) if isinstance(e, TargetChanged)]
    # The baseline is targets.toml as installed (the service's own table).
    current = current_value(await baselines.value(target), changes)
    event = decide_change(found, target, command.value, command.reason, current)
    recorded = await ctx.uow.append(target.aggregate_id, [event], stream.version, ctx.meta("metrics"))
    ctx.counted([event])
    return Outcome(
        200,
        {
            "metric": target.metric,
            "area": target.area,
            "year": target.year,
            "old_value": json_number(event.old_value),
            "new_value": json_number(event.new_value),
            "reason": event.reason,
            "changed_by": ctx.principal.id,
            "version": recorded[0].aggregate_version,
            "event_id": str(recorded[0].id),
        },
    )


HANDLERS: Mapping[type, Handler] = Targets().handlers()
