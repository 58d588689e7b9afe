"""联动服务, pure: the 服务事项目录 and a matter's life (首问责任制, transfers only to a unit that
provides the item, steps in order, 限时办结 and overdue, ratings of closed matters only)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

import pytest

from huigong_events.base import DomainEvent
from huigong_events.matters import (
    Channel,
    HandlerKind,
    MatterAccepted,
    MatterClosed,
    MatterOutcome,
    MatterReceived,
    MatterTransferred,
    MatterTransferRefused,
    ServiceCategory,
    ServiceItemChanged,
    ServiceItemListed,
)
from huigong_events.reference import Programme
from huigong_events.registry import UnitOrigin
from huigong_platform.refusals import Conflict, Forbidden, NotFound, Refusal
from huigong_registry.domain import catalogue, matters
from huigong_registry.domain.catalogue import Handler, ItemState, handler_of
from huigong_registry.domain.certification import UnitState, UnitStatus
from huigong_registry.domain.matters import Acting, MatterState, MatterStatus, overdue_on

SEALED = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9w"
TODAY = date(2026, 11, 20)
STEPS = ["登记诉求", "律师咨询", "出具意见"]


def unit(
    name: str,
    area: str,
    programme: Programme = Programme.服务职工综合体,
    origin: UnitOrigin = UnitOrigin.职工服务中心,
) -> UnitState:
    return UnitState(uuid.uuid4(), name, programme, area, origin, None)


SHINAN = unit("市南区职工服务中心", "370202")
SHIBEI = unit("市北区职工服务中心", "370203")
LICANG = unit("李沧区职工服务中心", "370213")
BASE = unit("青岛市市北区时代国际广场", "370203", Programme.服务职工基地, UnitOrigin.试点2022)
ENTERPRISE = unit("海尔集团公司", "G-HAIER", Programme.幸福企业, UnitOrigin.试点2022)
UNITS = {u.unit_id: u for u in (SHINAN, SHIBEI, LICANG, BASE, ENTERPRISE)}


def h(state: UnitState) -> Handler:
    found = handler_of(state)
    assert found is not None
    return found


def listing(providers: Sequence[UnitState] = (SHINAN, SHIBEI, BASE), limit: int = 5) -> ServiceItemListed:
    return ServiceItemListed(
        item_id=uuid.uuid4(),
        name="劳动争议法律咨询",
        category=ServiceCategory.法律援助,
        providers=[p.unit_id for p in providers],
        time_limit_days=limit,
        steps=STEPS,
        listed_on=date(2025, 1, 2),
    )


def item_of(event: ServiceItemListed) -> ItemState:
    state = catalogue.fold([event])
    assert state is not None
    return state


ITEM = item_of(listing())
DISTRICT_202 = Acting.district("370202")
DISTRICT_203 = Acting.district("370203")
DISTRICT_213 = Acting.district("370213")


def receive(received_on: date = date(2025, 9, 30), item: ItemState = ITEM) -> list[DomainEvent]:
    return matters.decide_receive(
        matter_id=uuid.uuid4(),
        matter_no="FW-2025-370202-00001",
        item=item,
        item_id=item.item_id,
        centre=h(SHINAN),
        acting=DISTRICT_202,
        channel=Channel.窗口,
        requester_sealed=SEALED,
        key_id="mk-test",
        received_on=received_on,
        today=TODAY,
    )


def state_of(events: Sequence[DomainEvent]) -> MatterState:
    state = matters.fold(events)
    assert state is not None
    return state


# --- the catalogue -------------------------------------------------------------------------------


def test_providers_are_centres_and_bases_that_are_still_active() -> None:
    assert h(SHINAN).kind is HandlerKind.职工服务中心 and h(BASE).kind is HandlerKind.服务职工基地
    exited = unit("莱西市妇幼保健计划生育服务中心", "370285", Programme.服务职工基地, UnitOrigin.试点2022)
    exited.status = UnitStatus.exited
    event = listing((SHINAN, ENTERPRISE, exited))
    with pytest.raises(Refusal) as refused:
        catalogue.decide_list(False, event, {**UNITS, exited.unit_id: exited})
    assert [e.field for e in refused.value.errors] == ["providers.1", "providers.2"]
    assert "海尔集团公司" in refused.value.errors[0].zh
    unknown = listing((SHINAN,)).model_copy(update={"providers": [uuid.uuid4()]})
    with pytest.raises(Refusal, match=r"providers\.0"):
        catalogue.decide_list(False, unknown, UNITS)
    good = listing()
    assert catalogue.decide_list(False, good, UNITS) == [good]
    with pytest.raises(Conflict):
        catalogue.decide_list(True, good, UNITS)


def test_a_change_restates_the_item_and_a_withdrawn_item_stays_withdrawn() -> None:
    listed = listing()
    change = ServiceItemChanged(
        **listed.model_dump(exclude={"type", "listed_on", "time_limit_days", "commitment"}),
        time_limit_days=7,
        changed_on=date(2025, 6, 1),
        reason="律师值班安排调整",
    )
    state = catalogue.fold([listed, *catalogue.decide_change(item_of(listed), change, UNITS)])
    assert state is not None and state.time_limit_days == 7
    withdrawn = catalogue.decide_withdraw(state, state.item_id, "并入综合服务", date(2026, 1, 1))
    state = catalogue.fold([listed, change, *withdrawn])
    assert state is not None and state.withdrawn
    with pytest.raises(Conflict):
        catalogue.decide_change(state, change, UNITS)
    with pytest.raises(Conflict):
        catalogue.decide_withdraw(state, state.item_id, "再次撤出", date(2026, 2, 1))
    with pytest.raises(NotFound):
        catalogue.decide_withdraw(None, uuid.uuid4(), "没有这个事项", date(2026, 2, 1))


# --- receipt -----------------------------------------------------------------------------------------


def test_a_matter_is_received_at_the_callers_own_centre_with_its_deadline_fixed() -> None:
    (received,) = receive()
    assert isinstance(received, MatterReceived)
    # Five working days after 30 September 2025, across National Day and the working Saturday.
    assert received.deadline == date(2025, 10, 14)
    assert received.centre_id == SHINAN.unit_id and received.area == "370202"
    assert received.steps == STEPS and received.time_limit_days == 5

    def at(
        centre: Handler | None, acting: Acting, item: ItemState | None = ITEM, on: date = date(2025, 9, 30)
    ) -> None:
        matters.decide_receive(
            matter_id=uuid.uuid4(),
            matter_no="FW-2025-370202-00002",
            item=item,
            item_id=ITEM.item_id,
            centre=centre,
            acting=acting,
            channel=Channel.电话,
            requester_sealed=SEALED,
            key_id="mk-test",
            received_on=on,
            today=TODAY,
        )

    with pytest.raises(Forbidden):  # another district's centre
        at(h(SHINAN), DISTRICT_203)
    with pytest.raises(Refusal, match="centre"):  # a base has no 综合服务窗口 of its own here
        at(h(BASE), DISTRICT_203)
    with pytest.raises(Refusal, match="item_id"):
        at(h(SHINAN), DISTRICT_202, item=None)
    withdrawn = catalogue.fold(
        [listing(), *catalogue.decide_withdraw(ITEM, ITEM.item_id, "撤出", date(2025, 9, 1))]
    )
    with pytest.raises(Refusal, match="item_id"):
        at(h(SHINAN), DISTRICT_202, item=withdrawn)
    with pytest.raises(Refusal, match="received_on"):
        at(h(SHINAN), DISTRICT_202, on=date(2026, 11, 21))  # tomorrow
    # The city federation acts for the city centre only.
    city_centre = h(unit("青岛市职工服务中心", "370200"))
    at(city_centre, Acting.city())
    with pytest.raises(Forbidden):
        at(h(SHINAN), Acting.city())


# --- transfers, steps, closure -----------------------------------------------------------------------


def test_transferred_twice_and_closed_the_first_responder_stays_on_record() -> None:
    events: list[DomainEvent] = list(receive())
    matter_id = state_of(events).matter_id

    def then(new: list[DomainEvent]) -> MatterState:
        events.extend(new)
        return state_of(events)

    state = then(
        matters.decide_transfer(
            state_of(events),
            matter_id,
            DISTRICT_202,
            to=SHIBEI.unit_id,
            target=h(SHIBEI),
            item=ITEM,
            reason="本中心本周无值班律师",
            on=date(2025, 9, 30),
            today=TODAY,
        )
    )
    assert state.status is MatterStatus.transferring and state.handler.unit_id == SHINAN.unit_id
    # While the transfer waits, nothing else happens to the matter.
    with pytest.raises(Conflict):
        matters.decide_step(state, matter_id, DISTRICT_202, "登记诉求", None, date(2025, 9, 30), TODAY)
    with pytest.raises(Forbidden):  # only the receiver accepts
        matters.decide_accept(state, matter_id, DISTRICT_202, date(2025, 10, 9), TODAY)
    state = then(matters.decide_accept(state, matter_id, DISTRICT_203, date(2025, 10, 9), TODAY))
    assert state.handler.unit_id == SHIBEI.unit_id and state.status is MatterStatus.handling
    state = then(
        matters.decide_step(state, matter_id, DISTRICT_203, "登记诉求", "已登记", date(2025, 10, 9), TODAY)
    )
    # The centre hands it on to a service base of its district that provides the item.
    state = then(
        matters.decide_transfer(
            state,
            matter_id,
            DISTRICT_203,
            to=BASE.unit_id,
            target=h(BASE),
            item=ITEM,
            reason="由服务职工基地律师团队办理",
            on=date(2025, 10, 10),
            today=TODAY,
        )
    )
    state = then(matters.decide_accept(state, matter_id, DISTRICT_203, date(2025, 10, 10), TODAY))
    assert state.handler.unit_id == BASE.unit_id
    with pytest.raises(Refusal, match="step"):  # in order
        matters.decide_step(state, matter_id, DISTRICT_203, "出具意见", None, date(2025, 10, 10), TODAY)
    with pytest.raises(Refusal, match="outcome"):  # 已办结 needs every step
        matters.decide_close(
            state, matter_id, DISTRICT_203, MatterOutcome.已办结, None, date(2025, 10, 10), TODAY
        )
    for step in STEPS[1:]:
        state = then(
            matters.decide_step(state, matter_id, DISTRICT_203, step, None, date(2025, 10, 13), TODAY)
        )
    closed = matters.decide_close(
        state, matter_id, DISTRICT_203, MatterOutcome.已办结, "已出具意见", date(2025, 10, 14), TODAY
    )
    state = then(closed)
    assert isinstance(closed[0], MatterClosed) and closed[0].on_time  # on the deadline day itself
    assert state.first.unit_id == SHINAN.unit_id and state.transfers == 2
    assert [type(e) for e in events].count(MatterTransferred) == 2
    assert [type(e) for e in events].count(MatterAccepted) == 2
    assert state.involved_areas == {"370202", "370203"}
    # The first responder may still see the matter; an uninvolved district learns nothing of it.
    assert matters.visible(state, matter_id, DISTRICT_202) is state
    with pytest.raises(NotFound):
        matters.visible(state, matter_id, DISTRICT_213)
    assert matters.visible(state, matter_id, Acting.city()) is state


def test_a_receiver_refuses_a_transfer_with_a_reason_and_the_sender_handles_it_again() -> None:
    events: list[DomainEvent] = list(receive())
    matter_id = state_of(events).matter_id

    def transfer_to_shibei(state: MatterState, on: date) -> list[DomainEvent]:
        return matters.decide_transfer(
            state, matter_id, DISTRICT_202, to=SHIBEI.unit_id, target=h(SHIBEI), item=ITEM,
            reason="本中心本周无值班律师", on=on, today=TODAY,
        )  # fmt: skip

    events += transfer_to_shibei(state_of(events), date(2025, 9, 30))
    state = state_of(events)
    with pytest.raises(Forbidden):  # only the receiver refuses
        matters.decide_refuse(state, matter_id, DISTRICT_202, "不收", date(2025, 10, 8), TODAY)
    with pytest.raises(NotFound):  # nor may a district the matter never reached
        matters.decide_refuse(state, matter_id, DISTRICT_213, "不收", date(2025, 10, 8), TODAY)
    with pytest.raises(Refusal, match="refused_on"):  # not before the transfer
        matters.decide_refuse(state, matter_id, DISTRICT_203, "不收", date(2025, 9, 29), TODAY)
    refused = matters.decide_refuse(
        state, matter_id, DISTRICT_203, "本中心本月法律咨询名额已满", date(2025, 10, 8), TODAY
    )
    (event,) = refused
    assert isinstance(event, MatterTransferRefused)
    assert (event.unit_id, event.unit_area, event.back_to) == (SHIBEI.unit_id, "370203", SHINAN.unit_id)
    events += refused
    state = state_of(events)
    # Back with the sender, who acts on it again; the refusing district still sees what it refused.
    assert state.status is MatterStatus.handling and state.pending is None
    assert state.handler.unit_id == SHINAN.unit_id and state.refusals == 1
    assert matters.visible(state, matter_id, DISTRICT_203) is state
    with pytest.raises(Conflict):  # nothing waits any more
        matters.decide_refuse(state, matter_id, DISTRICT_203, "再退", date(2025, 10, 8), TODAY)
    with pytest.raises(Conflict):
        matters.decide_accept(state, matter_id, DISTRICT_203, date(2025, 10, 8), TODAY)
    events += matters.decide_step(state, matter_id, DISTRICT_202, "登记诉求", None, date(2025, 10, 8), TODAY)
    # The sender may try the same unit again; this time it accepts.
    events += transfer_to_shibei(state_of(events), date(2025, 10, 9))
    events += matters.decide_accept(state_of(events), matter_id, DISTRICT_203, date(2025, 10, 9), TODAY)
    state = state_of(events)
    assert state.handler.unit_id == SHIBEI.unit_id and state.transfers == 2 and state.refusals == 1


def test_a_transfer_to_a_unit_that_does_not_provide_the_item_is_refused_with_the_reason() -> None:
    events = receive()
    state = state_of(events)
    with pytest.raises(Refusal) as refused:
        matters.decide_transfer(
            state,
            state.matter_id,
            DISTRICT_202,
            to=LICANG.unit_id,
            target=h(LICANG),
            item=ITEM,
            reason="转李沧区办理",
            on=date(2025, 9, 30),
            today=TODAY,
        )
    (error,) = refused.value.errors
    assert refused.value.status == 422 and error.field == "to"
    assert "李沧区职工服务中心不提供服务事项“劳动争议法律咨询”" in error.zh
    with pytest.raises(Refusal, match="to"):  # not a centre or base at all
        matters.decide_transfer(
            state,
            state.matter_id,
            DISTRICT_202,
            to=ENTERPRISE.unit_id,
            target=handler_of(ENTERPRISE),
            item=ITEM,
            reason="转企业办理",
            on=date(2025, 9, 30),
            today=TODAY,
        )
    with pytest.raises(Forbidden):  # only the handler transfers
        matters.decide_transfer(
            state, state.matter_id, Acting.city(), to=SHIBEI.unit_id, target=h(SHIBEI), item=ITEM,
            reason="越级转办", on=date(2025, 9, 30), today=TODAY,
        )  # fmt: skip
    with pytest.raises(NotFound):  # a district the matter never reached
        matters.decide_transfer(
            state, state.matter_id, DISTRICT_213, to=SHIBEI.unit_id, target=h(SHIBEI), item=ITEM,
            reason="转办", on=date(2025, 9, 30), today=TODAY,
        )  # fmt: skip
    with pytest.raises(Refusal, match="transferred_on"):  # before the receipt
        matters.decide_transfer(
            state, state.matter_id, DISTRICT_202, to=SHIBEI.unit_id, target=h(SHIBEI), item=ITEM,
            reason="转办", on=date(2025, 9, 29), today=TODAY,
        )  # fmt: skip


# --- overdue and ratings ----------------------------------------------------------------------------


def test_overdue_follows_the_deadline_and_the_day_asked_about() -> None:
    deadline, received = date(2025, 10, 14), date(2025, 9, 30)
    assert not overdue_on(deadline, received, None, date(2025, 10, 14))  # the last allowed day
    assert overdue_on(deadline, received, None, date(2025, 10, 15))
    assert not overdue_on(deadline, received, None, date(2025, 9, 29))  # not yet received
    assert overdue_on(deadline, received, date(2025, 10, 20), date(2025, 10, 16))  # closed later
    assert not overdue_on(deadline, received, date(2025, 10, 20), date(2025, 10, 20))  # closed, late
    assert not overdue_on(deadline, received, date(2025, 10, 13), date(2025, 12, 1))


def test_only_a_closed_matter_is_rated_once() -> None:
    events: list[DomainEvent] = list(receive())
    state = state_of(events)
    with pytest.raises(NotFound):
        matters.decide_rate(None, uuid.uuid4(), DISTRICT_202, 5, None, date(2025, 10, 1), TODAY)
    with pytest.raises(Conflict, match="not closed"):
        matters.decide_rate(state, state.matter_id, DISTRICT_202, 5, None, date(2025, 10, 1), TODAY)
    events += matters.decide_close(
        state, state.matter_id, DISTRICT_202, MatterOutcome.申请人撤回, None, date(2025, 10, 15), TODAY
    )
    closed = state_of(events)
    assert closed.closed_on == date(2025, 10, 15)
    (late,) = [e for e in events if isinstance(e, MatterClosed)]
    assert not late.on_time
    with pytest.raises(NotFound):
        matters.decide_rate(closed, closed.matter_id, DISTRICT_213, 5, None, date(2025, 10, 16), TODAY)
    events += matters.decide_rate(
        closed, closed.matter_id, DISTRICT_202, 2, "等待太久", date(2025, 10, 16), TODAY
    )
    with pytest.raises(Conflict, match="rated"):
        matters.decide_rate(
            state_of(events), closed.matter_id, DISTRICT_202, 5, None, date(2025, 10, 16), TODAY
        )


def test_personal_data_is_erased_once_by_the_first_responder_or_the_city() -> None:
    events: list[DomainEvent] = list(receive())
    matter_id = state_of(events).matter_id
    with pytest.raises(NotFound):  # a district the matter never reached
        matters.decide_erase(state_of(events), matter_id, DISTRICT_203, "DEL-1", TODAY)
    events += matters.decide_transfer(
        state_of(events), matter_id, DISTRICT_202, to=SHIBEI.unit_id, target=h(SHIBEI), item=ITEM,
        reason="转办", on=date(2025, 9, 30), today=TODAY,
    )  # fmt: skip
    with pytest.raises(
        Forbidden
    ):  # the receiver handles the matter, the first responder answers for the data
        matters.decide_erase(state_of(events), matter_id, DISTRICT_203, "DEL-1", TODAY)
    events += matters.decide_erase(state_of(events), matter_id, Acting.city(), "DEL-1", TODAY)
    assert state_of(events).erased
    with pytest.raises(Conflict):
        matters.decide_erase(state_of(events), matter_id, DISTRICT_202, "DEL-2", TODAY)
