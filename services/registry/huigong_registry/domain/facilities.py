"""Facilities, service projects and partners: the pure rules.

- A facility reported to intake (FacilityReported) is opened in the registry as reported
  (FacilityOpened, id uuid5 of the report id): the district's report is the record of its
  opening, the registry does not approve it. A facility is open until a registrar closes it
  (FacilityClosed), once; closing it again is refused (409), closing an unknown one is 404, and
  it cannot close before it opened (422).
- A service project proposed to intake (ServiceProjectProposed) is listed in the 服务项目库 on
  proposal (ServiceProjectListed, id uuid5 of the proposal id, listed on the Beijing day the
  proposal was recorded): no registrar's approval is needed.
- Ids derived from the intake event make a redelivered trigger decide nothing new.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date

from huigong_events.base import DomainEvent
from huigong_events.intake import FacilityReported, ServiceProjectProposed
from huigong_events.labels import Labelled, relabel
from huigong_events.reference import FacilityKind
from huigong_events.registry import FacilityClosed, FacilityOpened, ServiceProjectListed
from huigong_platform.refusals import Conflict, FieldError, NotFound, Refusal

FACILITY = "facility"
SERVICE_PROJECT = "service-project"
NAMESPACE = uuid.UUID("6a0f4a8e-3c1d-5b8e-9f77-2d5b1c0e4f10")


class FacilityStatus(Labelled):
    open = "open"  # 在用
    closed = "closed"  # 已关闭


relabel(FacilityStatus, {FacilityStatus.open: "在用", FacilityStatus.closed: "已关闭"})


def facility_id_of_report(report_id: uuid.UUID) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"facility-report:{report_id}")


def project_id_of_proposal(proposal_id: uuid.UUID) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"project-proposal:{proposal_id}")


@dataclass(frozen=True)
class FacilityState:
    facility_id: uuid.UUID
    kind: FacilityKind
    opened_on: date
    closed_on: date | None = None

    @property
    def status(self) -> FacilityStatus:
        return FacilityStatus.open if self.closed_on is None else FacilityStatus.closed


def fold(events: Iterable[DomainEvent]) -> FacilityState | None:
    state: FacilityState | None = None
    for event in events:
        match event:
            case FacilityOpened():
                state = FacilityState(event.facility_id, event.kind, event.opened_on)
            case FacilityClosed() if state is not None:
                state = replace(state, closed_on=event.closed_on)
    return state


def decide_on_report(exists: bool, report: FacilityReported) -> list[DomainEvent]:
    """The facility as reported, opened once; nothing if the report was already recorded."""
    if exists:
        return []
    return [
        FacilityOpened(
            facility_id=facility_id_of_report(report.report_id),
            kind=report.facility_kind,
            name=report.name,
            area=report.area,
            host_unit=report.host_unit,
            host_credit_code=report.host_credit_code,
            opened_on=report.opened_on,
            report_id=report.report_id,
            station_host=report.station_host,
            station_services=report.station_services,
        )
    ]


def decide_on_proposal(exists: bool, proposal: ServiceProjectProposed, on: date) -> list[DomainEvent]:
    """Listed on proposal, once, on the day the proposal was recorded."""
    if exists:
        return []
    return [
        ServiceProjectListed(
            project_id=project_id_of_proposal(proposal.proposal_id),
            name=proposal.name,
            field=proposal.field,
            provider=proposal.provider,
            provider_credit_code=proposal.provider_credit_code,
            area=proposal.area,
            listed_on=on,
            proposal_id=proposal.proposal_id,
        )
    ]


def decide_close(state: FacilityState | None, closed_on: date, reason: str) -> list[DomainEvent]:
    if state is None:
        raise NotFound(FieldError("facility_id", "没有这处设施", "no such facility"))
    if state.closed_on is not None:
        raise Conflict(
            FieldError(
                "facility_id",
                f"设施已于 {state.closed_on.isoformat()} 关闭",
                f"the facility was already closed on {state.closed_on.isoformat()}",
            )
        )
    if closed_on < state.opened_on:
        raise Refusal(
            FieldError(
                "closed_on",
                f"关闭日期不能早于建成日期 {state.opened_on.isoformat()}",
                f"closed_on precedes opened_on {state.opened_on.isoformat()}",
            )
        )
    return [FacilityClosed(facility_id=state.facility_id, closed_on=closed_on, reason=reason)]
