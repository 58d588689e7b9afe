"""送温暖: a union's yearly fund and the deliveries that draw on it. Pure: fold and decide.

- The city federation sets each district's (or group union's) budget for a year, with the
  amount above which one delivery needs its approval (WarmthBudgetSet, actor and reason). It may
  set it again; never below what the deliveries already draw.
- A district or group union records a delivery to an enrolled member (by member key): occasion
  (遇到困难, 重大疾病, 重要节点 with its festival), form (慰问金, 实物, 服务) and amount in whole yuan
  (慰问金 needs one above zero; 实物 and 服务 may give their value), date, evidence reference.
  It draws on the fund of its union and of the delivery's year; one that would overdraw it is
  refused (409) naming what remains. A delivery above the approval threshold is recorded
  pending (待审批) and still draws (it reserves its amount); the city approves it, or declines it
  with a reason and its amount returns to the fund.
- The period of an occasion is the calendar year, and for 重要节点 the festival of that year: a
  second delivery (not declined) to the same member for the same occasion and period, by any
  union, is a repeat. It is refused (422) unless it gives `repeat_reason`, and recorded flagged
  (the reason stays on the record).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Final

from huigong_events.base import DomainEvent
from huigong_events.warmth import (
    DeliveryStatus,
    Festival,
    Occasion,
    WarmthBudgetSet,
    WarmthDelivered,
    WarmthDeliveryApproved,
    WarmthDeliveryDeclined,
    WarmthForm,
)
from huigong_platform.refusals import Conflict, FieldError, NotFound, Refusal

from .members import MemberState

AGGREGATE: Final = "warmth-fund"


@dataclass
class Delivery:
    event: WarmthDelivered
    status: DeliveryStatus
    decided_on: date | None = None
    decline_reason: str | None = None

    @property
    def draws(self) -> int:
        """What the delivery takes from the fund: nothing once declined."""
        return 0 if self.status is DeliveryStatus.未批准 else self.event.amount


@dataclass
class Fund:
    budget: int = 0
    approval_threshold: int | None = None  # None: no budget set yet
    deliveries: dict[uuid.UUID, Delivery] = field(default_factory=dict)

    @property
    def drawn(self) -> int:
        return sum(d.draws for d in self.deliveries.values())

    @property
    def remaining(self) -> int:
        return self.budget - self.drawn


def evolve(fund: Fund, event: DomainEvent) -> Fund:
    match event:
        case WarmthBudgetSet():
            fund.budget = event.amount
            fund.approval_threshold = event.approval_threshold
        case WarmthDelivered():
            fund.deliveries[event.delivery_id] = Delivery(event, event.status)
        case WarmthDeliveryApproved():
            delivery = fund.deliveries[event.delivery_id]
            delivery.status, delivery.decided_on = DeliveryStatus.已批准, event.approved_on
        case WarmthDeliveryDeclined():
            delivery = fund.deliveries[event.delivery_id]
            delivery.status, delivery.decided_on = DeliveryStatus.未批准, event.declined_on
            delivery.decline_reason = event.reason
    return fund


def fold(events: Iterable[DomainEvent]) -> Fund:
    fund = Fund()
    for event in events:
        fund = evolve(fund, event)
    return fund


def decide_budget(
    fund: Fund, union: str, year: int, amount: int, threshold: int, reason: str, on: date
) -> list[DomainEvent]:
    """WarmthBudgetSet, or nothing when the fund already has this budget and threshold (setting
    it again records it once); never below what the deliveries already draw (409)."""
    if fund.approval_threshold is not None and (fund.budget, fund.approval_threshold) == (amount, threshold):
        return []
    if amount < fund.drawn:
        raise Conflict(
            FieldError(
                "amount",
                f"预算不能低于已动用的 {fund.drawn} 元",
                f"the budget cannot be less than the {fund.drawn} yuan already drawn",
            )
        )
    return [
        WarmthBudgetSet(
            union=union, year=year, amount=amount, approval_threshold=threshold, reason=reason, set_on=on
        )
    ]


def repeats(
    funds: Iterable[Fund], member_key: str, occasion: Occasion, festival: Festival | None
) -> list[Delivery]:
    """The member's deliveries (not declined) for the same occasion and period, in any union's
    fund of the year."""
    return [
        delivery
        for fund in funds
        for delivery in fund.deliveries.values()
        if delivery.event.member_key == member_key
        and delivery.event.occasion is occasion
        and delivery.event.festival == festival
        and delivery.status is not DeliveryStatus.未批准
    ]


@dataclass(frozen=True)
class DeliveryInput:
    """What the union reported, with the recipient already sealed."""

    delivery_id: uuid.UUID
    union: str
    member_key: str
    key_id: str
    recipient_sealed: str
    occasion: Occasion
    festival: Festival | None
    form: WarmthForm
    amount: int
    delivered_on: date
    evidence_ref: str
    repeat_reason: str | None


def check_recipient(member: MemberState) -> None:
    """An enrolled member whose personal data is held (not erased since they last reported)."""
    if not member.enrolled:
        raise NotFound(FieldError("member_key", "没有该成员", "no such member"))
    if member.erased and not member.reported_since_erasure:
        raise Conflict(
            FieldError(
                "member_key",
                "该成员的个人信息已删除，不能再记录其送温暖",
                "the member's personal data was erased: no delivery can be recorded for them",
            )
        )


def check_form(occasion: Occasion, festival: Festival | None, form: WarmthForm, amount: int) -> None:
    errors = []
    if occasion is Occasion.重要节点 and festival is None:
        errors.append(FieldError("festival", "重要节点须注明节日", "name the festival of an important day"))
    if occasion is not Occasion.重要节点 and festival is not None:
        errors.append(
            FieldError("festival", "只有重要节点填写节日", "a festival goes only with the festival occasion")
        )
    if form is WarmthForm.慰问金 and amount <= 0:
        errors.append(FieldError("amount", "慰问金须填写金额", "cash support needs an amount"))
    if errors:
        raise Refusal(*errors)


def decide_delivery(fund: Fund, others: Iterable[Fund], given: DeliveryInput) -> list[DomainEvent]:
    """WarmthDelivered drawing on `fund` (the union's of the delivery's year); `others` are the
    other unions' funds of that year, for repeats."""
    if given.delivery_id in fund.deliveries:
        raise Conflict(FieldError("delivery_id", "该送温暖已记录", "the delivery was recorded already"))
    check_form(given.occasion, given.festival, given.form, given.amount)
    earlier = repeats([fund, *others], given.member_key, given.occasion, given.festival)
    if earlier and given.repeat_reason is None:
        first = earlier[0].event
        raise Refusal(
            FieldError(
                "repeat_reason",
                f"该成员本期已因同一时机获送温暖（{first.delivered_on.isoformat()}），再次记录须说明原因",
                f"the member already had a delivery for this occasion and period "
                f"({first.delivered_on.isoformat()}): give the reason for another",
            )
        )
    if given.amount > fund.remaining:
        remaining = max(fund.remaining, 0)
        if fund.approval_threshold is None:
            zh = f"市总工会尚未设定{given.delivered_on.year}年度送温暖预算，剩余 0 元"
            en = f"no 送温暖 budget is set for {given.delivered_on.year}: 0 yuan remain"
        else:
            zh = f"超出送温暖预算：{given.delivered_on.year}年度剩余 {remaining} 元"
            en = f"over the 送温暖 budget: {remaining} yuan remain for {given.delivered_on.year}"
        raise Conflict(FieldError("amount", zh, en))
    threshold = fund.approval_threshold or 0
    status = DeliveryStatus.待审批 if given.amount > threshold else DeliveryStatus.已批准
    return [
        WarmthDelivered(
            delivery_id=given.delivery_id,
            union=given.union,
            year=given.delivered_on.year,
            member_key=given.member_key,
            key_id=given.key_id,
            recipient_sealed=given.recipient_sealed,
            occasion=given.occasion,
            festival=given.festival,
            form=given.form,
            amount=given.amount,
            delivered_on=given.delivered_on,
            evidence_ref=given.evidence_ref,
            status=status,
            repeat_reason=given.repeat_reason if earlier else None,
        )
    ]


def _pending(fund: Fund, delivery_id: uuid.UUID) -> Delivery:
    delivery = fund.deliveries.get(delivery_id)
    if delivery is None:
        raise NotFound(FieldError("delivery_id", "没有该送温暖记录", "no such delivery"))
    if delivery.status is not DeliveryStatus.待审批:
        raise Conflict(
            FieldError(
                "delivery_id",
                f"该送温暖不在待审批状态（{delivery.status.label}）",
                f"the delivery is not pending approval ({delivery.status.value})",
            )
        )
    return delivery


def decide_approval(fund: Fund, delivery_id: uuid.UUID, on: date) -> list[DomainEvent]:
    _pending(fund, delivery_id)
    return [WarmthDeliveryApproved(delivery_id=delivery_id, approved_on=on)]


def decide_decline(fund: Fund, delivery_id: uuid.UUID, reason: str, on: date) -> list[DomainEvent]:
    _pending(fund, delivery_id)
    return [WarmthDeliveryDeclined(delivery_id=delivery_id, declined_on=on, reason=reason)]
