"""Review's decisions as the registry answers them, as a faust-streaming agent on review's topic:

- ConstructionApproved: the application becomes a unit (UnitRegistered, origin application, id
  uuid5 of the application id), once.
- ExclusionFound against the application of a certified unit: the title is revoked
  automatically (CertificationRevoked, the finding as reason, its finding id), once.

Exactly once in effect: the runner's fence drops a redelivered trigger; the unit id is derived
from the application, the unit's stream says whether it exists and which findings revoked it, and
the advisory lock on the unit serialises this agent with registrars' commands."""

from __future__ import annotations

from typing import ClassVar

from huigong_events.base import DomainEvent
from huigong_events.review import ConstructionApproved, ExclusionFound
from huigong_events.topics import Topic, topic_for_aggregate
from huigong_platform import logs
from huigong_platform.reactions import Reaction, ReactionContext

from ..adapters.units import load_unit
from ..domain.certification import decide_on_approval, decide_on_finding, unit_id_of_application
from ..domain.dates import beijing_day

log = logs.get(__name__)


class ReviewDecisionsReaction(Reaction):
    name: ClassVar[str] = "registry.review-decisions"
    service: ClassVar[str] = "registry"
    topics: ClassVar[tuple[Topic, ...]] = (topic_for_aggregate("review"),)
    handles: ClassVar[frozenset[str]] = frozenset({"ConstructionApproved", "ExclusionFound"})

    async def react(self, context: ReactionContext, event: DomainEvent) -> None:
        if not isinstance(event, ConstructionApproved | ExclusionFound):
            return
        unit_id = unit_id_of_application(event.application_id)
        loaded = await load_unit(context.conn, self.store, unit_id)
        on = beijing_day(context.trigger.occurred_at)
        if isinstance(event, ConstructionApproved):
            events = decide_on_approval(loaded.version > 0, event, on)
        else:
            events = decide_on_finding(loaded.state, event, on)
        if events:
            await context.append(str(unit_id), events, loaded.version)
            log.info(
                "unit decided",
                unit_id=str(unit_id),
                trigger=context.trigger.type,
                decided=[e.type for e in events],
            )
