"""关爱职工公益伙伴 (public-welfare partners of the 纽带计划): registered from an approved
application or by a registrar (the 2022 pilots of annex 2), and ended by a registrar (退出).
Pure: state from events, decisions as events or refusals.

Rules:
- An approved 公益伙伴 application becomes a partner (PartnerRegistered), once: id uuid5 of the
  application id; name, credit code and type (类型) from the application form (附件5), the area
  is the submitting district or union, the date the Beijing day of the approval, origin 申报.
- A partner receives no title (reference.TITLES has none), so it is never assessed or certified.
- A partner leaves the programme (PartnerExited) once, with a reason and a date not before its
  registration; leaving again is refused (409), an unknown partner is 404.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date
from typing import Final

from huigong_events.base import DomainEvent
from huigong_events.labels import Labelled, relabel
from huigong_events.registry import PartnerExited, PartnerOrigin, PartnerRegistered
from huigong_events.review import ConstructionApproved
from huigong_platform.refusals import Conflict, FieldError, NotFound, Refusal

from .applications import KnownApplication

AGGREGATE: Final = "partner"
# The partner from an approved application has id uuid5(APPLICATION_PARTNERS, application id).
APPLICATION_PARTNERS: Final = uuid.UUID("3e7b1d52-9c4a-4f06-8d21-5a0c9e6b2f47")


class PartnerStatus(Labelled):
    active = "active"  # 在册
    exited = "exited"  # 已退出


relabel(PartnerStatus, {PartnerStatus.active: "在册", PartnerStatus.exited: "已退出"})


def partner_id_of_application(application_id: uuid.UUID) -> uuid.UUID:
    return uuid.uuid5(APPLICATION_PARTNERS, str(application_id))


@dataclass(frozen=True)
class PartnerState:
    partner_id: uuid.UUID
    registered_on: date
    exited_on: date | None = None

    @property
    def status(self) -> PartnerStatus:
        return PartnerStatus.active if self.exited_on is None else PartnerStatus.exited


def fold(events: Iterable[DomainEvent]) -> PartnerState | None:
    state: PartnerState | None = None
    for event in events:
        match event:
            case PartnerRegistered():
                state = PartnerState(event.partner_id, event.registered_on)
            case PartnerExited() if state is not None:
                state = replace(state, exited_on=event.exited_on)
    return state


def decide_on_approval(
    exists: bool, approval: ConstructionApproved, application: KnownApplication, on: date
) -> list[DomainEvent]:
    """The approved application's partner, once; `on` is the Beijing day of the approval."""
    if exists:
        return []
    if application.partner_category is None:
        raise ValueError(f"application {application.application_id} has no 附件5 form: not a partner")
    return [
        PartnerRegistered(
            partner_id=partner_id_of_application(approval.application_id),
            name=application.name,
            category=application.partner_category,
            area=application.submitter,
            credit_code=application.credit_code,
            registered_on=on,
            origin=PartnerOrigin.申报,
            application_id=approval.application_id,
        )
    ]


def decide_exit(state: PartnerState | None, reason: str, on: date) -> list[DomainEvent]:
    if state is None:
        raise NotFound(FieldError("partner_id", "没有该公益伙伴", "no such partner"))
    if state.exited_on is not None:
        raise Conflict(
            FieldError(
                "partner_id",
                f"该公益伙伴已于 {state.exited_on.isoformat()} 退出",
                f"the partner already exited on {state.exited_on.isoformat()}",
            )
        )
    if on < state.registered_on:
        raise Refusal(
            FieldError(
                "exited_on",
                f"退出日期不能早于登记日期 {state.registered_on.isoformat()}",
                f"exited_on precedes registered_on {state.registered_on.isoformat()}",
            )
        )
    return [PartnerExited(partner_id=state.partner_id, reason=reason, exited_on=on)]
