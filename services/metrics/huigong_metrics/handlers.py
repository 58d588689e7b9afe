"""The metrics service's command handler, run by the platform's command path inside the command's
unit of work: lock the target, fold its changes over the baseline from targets.toml, let the pure
domain decide, append."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from huigong_events.metrics import TargetChanged
from huigong_events.reference import CITY_CODE
from huigong_events.upcasting import decode
from huigong_platform.application import Context, Handler
from huigong_platform.idempotency import Outcome
from huigong_platform.refusals import Refusal
from huigong_platform.unit_of_work import PostgresUnitOfWork, UnitOfWork

from . import commands as c
from .adapters.baselines import Baselines, PostgresBaselines
from .domain.targets import (
    AGGREGATE,
    TargetKey,
    checked_area,
    current_value,
    decide_change,
    decide_shares,
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
        return {c.ChangeTarget: self.change_target, c.ShareTarget: self.share_target}

    async def change_target(self, command: c.ChangeTarget, ctx: Context) -> Outcome:
        return await change_target(command, ctx, self.baselines(ctx.uow))

    async def share_target(self, command: c.ShareTarget, ctx: Context) -> Outcome:
        return await share_target(command, ctx, self.baselines(ctx.uow))


async def _in_force(ctx: Context, baselines: Baselines, target: TargetKey) -> tuple[Decimal | None, int]:
    """The target's value now and its stream's version, under the target's lock."""
    await ctx.uow.lock(AGGREGATE, target.aggregate_id)
    stream = await ctx.uow.read(AGGREGATE, target.aggregate_id)
    changes = [e for e in (decode(r) for r in stream.events) if isinstance(e, TargetChanged)]
    # The baseline is targets.toml as installed (the service's own table).
    return current_value(await baselines.value(target), changes), stream.version


async def change_target(command: c.ChangeTarget, ctx: Context, baselines: Baselines) -> Outcome:
    found = metric_or_refuse(command.metric)
    target = TargetKey(found.code, checked_area(command.area), command.year)
    current, version = await _in_force(ctx, baselines, target)
    event = decide_change(found, target, command.value, command.reason, current)
    recorded = await ctx.uow.append(target.aggregate_id, [event], version, ctx.meta("metrics"))
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


async def share_target(command: c.ShareTarget, ctx: Context, baselines: Baselines) -> Outcome:
    """Each listed area's share, all recorded or none: one TargetChanged per share that changes,
    on that share's own stream (a share is a target of its own, listed and judged like any)."""
    found = metric_or_refuse(command.metric)
    wanted = [(share.area, share.value) for share in command.shares]
    in_force: dict[str, tuple[Decimal | None, int]] = {}
    # Locks in one order (the areas sorted), so two share commands never wait on each other.
    for area in sorted({code for code, _ in _known_areas(wanted)}):
        in_force[area] = await _in_force(ctx, baselines, TargetKey(found.code, area, command.year))
    events = decide_shares(
        found, command.year, wanted, command.reason, {a: v for a, (v, _) in in_force.items()}
    )
    meta = ctx.meta("metrics")
    changes = []
    for event in events:
        key = TargetKey(event.metric, event.area, event.year)
        await ctx.uow.append(key.aggregate_id, [event], in_force[event.area][1], meta)
        changes.append(
            {
                "area": event.area,
                "old_value": json_number(event.old_value),
                "new_value": json_number(event.new_value),
            }
        )
    ctx.counted(events)
    city, _ = await _in_force(ctx, baselines, TargetKey(found.code, CITY_CODE, command.year))
    return Outcome(
        200,
        {
            "metric": found.code,
            "year": command.year,
            "city_target": json_number(city),
            "changed": changes,
            "reason": events[0].reason,
            "changed_by": ctx.principal.id,
        },
    )


def _known_areas(wanted: list[tuple[str, Decimal]]) -> list[tuple[str, Decimal]]:
    """The shares whose area is known (by code or name); the domain refuses the others."""
    found = []
    for area, value in wanted:
        try:
            found.append((checked_area(area), value))
        except Refusal:
            continue
    return found


HANDLERS: Mapping[type, Handler] = Targets().handlers()
