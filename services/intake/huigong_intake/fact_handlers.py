"""The handlers of a department's corrections and withdrawals of its compliance facts, run by the
platform's command path: lock the fact, fold its stream, let the pure domain decide
(domain/fact_corrections.py), append at the expected version."""

from __future__ import annotations

from datetime import datetime

from huigong_events.upcasting import decode
from huigong_platform.application import Context
from huigong_platform.idempotency import Outcome
from huigong_platform.principals import Role

from .domain import fact_corrections as fc
from .domain import facts
from .domain.cycle import SHANGHAI
from .fact_commands import CorrectFact, WithdrawFact


def _today() -> datetime:
    return datetime.now(SHANGHAI)


async def _load(ctx: Context, fact_id: str) -> tuple[fc.FactState, int]:
    await ctx.uow.lock(fc.AGGREGATE, fact_id)
    stream = await ctx.uow.read(fc.AGGREGATE, fact_id)
    state = fc.fold((decode(r), r.actor, r.occurred_at.isoformat()) for r in stream.events)
    principal = ctx.principal
    own = facts.department_of_key(principal.code) if principal.role is Role.EXCHANGE else None
    return fc.owned(state, own, city=principal.role is Role.CITY), stream.version


async def correct_fact(command: CorrectFact, ctx: Context) -> Outcome:
    fact_id = str(command.fact_id)
    state, version = await _load(ctx, fact_id)
    event = fc.decide_correct(state, command.changes(), command.reason, _today().date())
    recorded = await ctx.uow.append(fact_id, [event], version, ctx.meta())
    ctx.counted([event])
    fc.evolve(state, event, ctx.principal.id, recorded[0].occurred_at.isoformat())
    return Outcome(201, {"event_id": str(recorded[0].id), **fc.view(state)})


async def withdraw_fact(command: WithdrawFact, ctx: Context) -> Outcome:
    fact_id = str(command.fact_id)
    state, version = await _load(ctx, fact_id)
    event = fc.decide_withdraw(state, command.reason, _today().date())
    recorded = await ctx.uow.append(fact_id, [event], version, ctx.meta())
    ctx.counted([event])
    fc.evolve(state, event, ctx.principal.id, recorded[0].occurred_at.isoformat())
    return Outcome(201, {"event_id": str(recorded[0].id), **fc.view(state)})
