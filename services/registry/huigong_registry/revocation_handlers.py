"""The handlers of a revocation case, run by the platform's command path: lock the unit (the same
lock the registry's reaction takes when a finding suspends it), fold its stream into the unit and
its cases, let domain/revocation.py decide, append at the expected version. The date of each step
is today's (Beijing): a statement or a decision is never back- or forward-dated."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime

from huigong_events.base import DomainEvent
from huigong_events.upcasting import decode
from huigong_platform.application import Context, Handler
from huigong_platform.idempotency import Outcome

from .domain import certification, revocation
from .domain.dates import BEIJING
from .policy import unit_union
from .revocation_commands import ConfirmRevocation, DismissRevocation, FileStatement

SOURCE = "registry"


async def _load(
    ctx: Context, unit_id: uuid.UUID
) -> tuple[certification.UnitState | None, revocation.Cases, int]:
    await ctx.uow.lock(certification.AGGREGATE, str(unit_id))
    stream = await ctx.uow.read(certification.AGGREGATE, str(unit_id))
    events = [decode(record) for record in stream.events]
    return certification.fold(events), revocation.fold(events), stream.version


async def _record(ctx: Context, unit_id: uuid.UUID, events: Sequence[DomainEvent], version: int) -> Outcome:
    recorded = await ctx.uow.append(str(unit_id), events, version, ctx.meta(SOURCE))
    ctx.counted(events)
    return Outcome(201, {**events[-1].model_dump(mode="json"), "event_id": str(recorded[-1].id)})


def _today() -> datetime:
    return datetime.now(BEIJING)


async def file_statement(command: FileStatement, ctx: Context) -> Outcome:
    unit, cases, version = await _load(ctx, command.unit_id)
    # Only the unit's own union: another's unit is answered as if it had no case.
    if unit is not None and not unit_union(ctx.principal, unit.area):
        unit = None
    events = revocation.decide_statement(unit, cases, command.statement, _today().date())
    return await _record(ctx, command.unit_id, events, version)


async def confirm_revocation(command: ConfirmRevocation, ctx: Context) -> Outcome:
    unit, cases, version = await _load(ctx, command.unit_id)
    events = revocation.decide_confirm(unit, cases, command.reason, _today().date())
    return await _record(ctx, command.unit_id, events, version)


async def dismiss_revocation(command: DismissRevocation, ctx: Context) -> Outcome:
    unit, cases, version = await _load(ctx, command.unit_id)
    events = revocation.decide_dismiss(unit, cases, command.reason, _today().date())
    return await _record(ctx, command.unit_id, events, version)


HANDLERS: Mapping[type, Handler] = {
    FileStatement: file_statement,
    ConfirmRevocation: confirm_revocation,
    DismissRevocation: dismiss_revocation,
}
