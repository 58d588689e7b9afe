"""The platform's command path on the in-memory unit of work: the policy is checked before
anything is recorded, a key is bound to one command by one fingerprint rule, a refused command
leaves nothing behind, and every service's write routes run commands its policy names."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from pydantic import Field

from huigong_events.intake import ApplicationWithdrawn
from huigong_platform import policy
from huigong_platform.application import Command, CommandPath, Context, from_request
from huigong_platform.idempotency import IdempotencyKeyReused, Outcome, fingerprint
from huigong_platform.policy import Policy, Rule, roles
from huigong_platform.principals import Principal, Role
from huigong_platform.refusals import Conflict, FieldError, Forbidden, NotFound, Refusal
from huigong_platform.settings import SERVICES
from huigong_platform.unit_of_work import MemoryState, in_memory_units


class Withdraw(Command):
    application_id: uuid.UUID
    reason: str
    note: str = Field(default="")


class Unlisted(Command):
    pass


async def withdraw(command: Withdraw, ctx: Context) -> Outcome:
    if command.reason == "冲突":
        raise Conflict(FieldError("reason", "已撤回", "already withdrawn"))
    event = ApplicationWithdrawn(application_id=command.application_id, reason=command.reason)
    recorded = await ctx.uow.append(str(command.application_id), [event], 0, ctx.meta())
    return Outcome(200, {"event_id": str(recorded[0].id)})


POLICY = Policy("test", commands={Withdraw: Rule(roles(Role.DISTRICT))}, routes={("POST", "/w"): Withdraw})
DISTRICT = Principal(Role.DISTRICT, "370202")


def path(state: MemoryState) -> CommandPath:
    return CommandPath(POLICY, {Withdraw: withdraw}, in_memory_units(state))


def command(**changes: Any) -> Withdraw:
    return Withdraw(**{"application_id": uuid.UUID(int=1), "reason": "重复申报撤回", **changes})


async def test_a_role_the_policy_does_not_allow_is_forbidden_and_nothing_is_recorded() -> None:
    state = MemoryState()
    with pytest.raises(Forbidden) as refused:
        await path(state).handle(command(), Principal(Role.CITY, "staff01"), key="k", correlation_id="c")
    assert refused.value.status == 403 and refused.value.reason == "forbidden"
    assert "市总工会" in refused.value.errors[0].zh
    assert state.events == [] and state.keys == {}


async def test_a_retry_is_answered_once_and_another_command_under_the_key_is_refused() -> None:
    state = MemoryState()
    first = await path(state).handle(command(), DISTRICT, key="k", correlation_id="c")
    again = await path(state).handle(command(), DISTRICT, key="k", correlation_id="c")
    assert again == Outcome(first.status_code, first.body, replayed=True)
    with pytest.raises(IdempotencyKeyReused):
        await path(state).handle(command(reason="另一个理由"), DISTRICT, key="k", correlation_id="c")
    assert len(state.events) == 1 and state.events[0].actor == "district:370202"


async def test_a_refused_command_records_nothing_and_frees_its_key() -> None:
    state = MemoryState()
    with pytest.raises(Conflict):
        await path(state).handle(command(reason="冲突"), DISTRICT, key="k", correlation_id="c")
    assert state.events == [] and state.keys == {}
    done = await path(state).handle(command(), DISTRICT, key="k", correlation_id="c")
    assert done.status_code == 200


def test_one_fingerprint_rule_what_the_caller_said_in_any_order() -> None:
    assert fingerprint(command()) == fingerprint(command())
    assert fingerprint(command()) != fingerprint(command(reason="另一个理由"))
    # A default the caller did not send is not part of the command…
    assert fingerprint(command()) != fingerprint(command(note=""))
    # …and the command's kind is.
    other = Withdraw.model_validate({"application_id": str(uuid.UUID(int=1)), "reason": "重复申报撤回"})
    assert fingerprint(other) == fingerprint(command())


def test_a_command_from_a_request_keeps_what_the_caller_left_out_unset() -> None:
    class Body(Command):
        reason: str
        note: str = ""

    built = from_request(Withdraw, Body(reason="重复申报撤回"), application_id=uuid.UUID(int=1))
    assert built.model_fields_set == {"reason", "application_id"}
    assert fingerprint(built) == fingerprint(command())


def test_a_command_without_a_rule_or_without_a_handler_is_refused_at_wiring() -> None:
    with pytest.raises(ValueError, match=r"without a rule.*Unlisted"):
        CommandPath(POLICY, {Withdraw: withdraw, Unlisted: withdraw}, in_memory_units(MemoryState()))
    with pytest.raises(ValueError, match=r"without a handler.*Withdraw"):
        CommandPath(POLICY, {}, in_memory_units(MemoryState()))


def test_the_refusals_map_to_their_answers_and_dead_letter_reasons() -> None:
    assert [(r.status, r.reason) for r in (Refusal, Forbidden, NotFound, Conflict)] == [
        (422, "refused"),
        (403, "forbidden"),
        (404, "not found"),
        (409, "conflict"),
    ]


@pytest.mark.parametrize("service", SERVICES)
def test_every_write_route_runs_a_command_of_its_services_policy(service: str) -> None:
    declared = policy.of(service)
    writes = {route for route in declared.routes if route[0] != "GET"}
    assert writes == set(declared.route_commands), f"{service}: writes without a command"
    assert set(declared.route_commands.values()) <= set(declared.commands)


def test_the_union_of_the_policies_names_every_service() -> None:
    table = policy.markdown(SERVICES)
    for service in SERVICES:
        assert f"| {service} | `" in table
    assert "| intake | `POST /compliance-facts` | city, exchange |" in table
    assert "| review | `POST /applications/{application_id}/decision` | chair |" in table
