"""Intake's reports as the registry records them, as a faust-streaming agent on intake's
reports topic:

- FacilityReported: the facility is opened as reported (FacilityOpened, aggregate "facility",
  id uuid5 of the report id), once.
- ServiceProjectProposed: the project is listed in the 服务项目库 on proposal, without a
  registrar's approval (ServiceProjectListed, aggregate "service-project", id uuid5 of the
  proposal id, listed on the Beijing day the proposal was recorded), once.

Exactly once in effect: the runner's fence drops a redelivered trigger; should one come again
all the same, the derived id's stream already exists and nothing is decided. The advisory lock
on the facility serialises this agent with a registrar closing it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from huigong_events.base import DomainEvent
from huigong_events.envelope import RecordedEvent
from huigong_events.intake import FacilityReported, ServiceProjectProposed
from huigong_events.topics import Topic, topic_for_aggregate
from huigong_platform import logs
from huigong_platform.reactions import Reaction, ReactionContext

from ..adapters.units import lock
from ..domain.dates import beijing_day
from ..domain.facilities import (
    FACILITY,
    SERVICE_PROJECT,
    decide_on_proposal,
    decide_on_report,
    facility_id_of_report,
    project_id_of_proposal,
)

log = logs.get(__name__)


class ReportsReaction(Reaction):
    name: ClassVar[str] = "registry.reports"
    service: ClassVar[str] = "registry"
    topics: ClassVar[tuple[Topic, ...]] = (topic_for_aggregate("facility-report"),)
    handles: ClassVar[frozenset[str]] = frozenset({"FacilityReported", "ServiceProjectProposed"})
    outcomes: ClassVar[Mapping[str, frozenset[str]]] = {
        "FacilityReported": frozenset({"FacilityOpened"}),
        "ServiceProjectProposed": frozenset({"ServiceProjectListed"}),
    }

    async def react(self, context: ReactionContext, event: DomainEvent) -> None:
        target = recorded_as(event)
        if target is None:
            return
        aggregate, aggregate_id = target
        await lock(context.conn, aggregate, aggregate_id)
        version = await context.version_of(aggregate, aggregate_id)
        events = decide(event, context.trigger, version)
        if events:
            await context.append(aggregate_id, events, version)
            log.info("report recorded", aggregate=aggregate, id=aggregate_id, trigger=context.trigger.type)


def recorded_as(event: DomainEvent) -> tuple[str, str] | None:
    """The registry's aggregate (type, id) a report becomes; None for any other event."""
    if isinstance(event, FacilityReported):
        return FACILITY, str(facility_id_of_report(event.report_id))
    if isinstance(event, ServiceProjectProposed):
        return SERVICE_PROJECT, str(project_id_of_proposal(event.proposal_id))
    return None


def decide(event: DomainEvent, trigger: RecordedEvent, version: int) -> list[DomainEvent]:
    """What the registry records of a report, its aggregate being at `version` (0: new)."""
    if isinstance(event, FacilityReported):
        return decide_on_report(version > 0, event)
    if isinstance(event, ServiceProjectProposed):
        return decide_on_proposal(version > 0, event, beijing_day(trigger.occurred_at))
    return []
