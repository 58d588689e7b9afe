"""Who answered for and who handled each service matter, per unit, as of the end of any day
(联动服务 figures that credit the right people). Pure: figures from the matters' events.

A matter counts twice when it was transferred:
- for the centre that received it (首问, `answering`): received, closed on time or late, overdue;
  it answers for the matter to the end, wherever it went (首问责任制);
- for every unit that handled it (承办, `handling`): transferred in (a transfer it accepted),
  refused (a transfer it sent back), handled (closed by it), closed on time or late, and overdue
  while it is the handler. A transfer waiting for acceptance stays with its sender, which is the
  handler until the receiver accepts; a refused one never left it.
A matter that was never transferred counts for its centre in both roles.

Events are cut at the day asked about by the dates they state (a matter's events are dated in
order: domain/matters.py refuses a step dated before the previous one), so the same figures come
back for any `as_of` whenever the events are read again. Overdue is computed as in
domain/matters.py (`overdue_on`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from huigong_events.base import DomainEvent
from huigong_events.matters import (
    MatterAccepted,
    MatterClosed,
    MatterDeadlineRevised,
    MatterRated,
    MatterReceived,
    MatterRequesterErased,
    MatterStepDone,
    MatterTransferred,
    MatterTransferRefused,
)

from . import matters
from .matters import MatterState, Unit

# The event types read to compute the figures, for the port that fetches them.
HANDLING_TYPES = frozenset(
    {
        "MatterReceived",
        "MatterTransferred",
        "MatterAccepted",
        "MatterTransferRefused",
        "MatterStepDone",
        "MatterClosed",
        "MatterDeadlineRevised",
    }
)


@dataclass
class Answering:
    """As first responder (首问)."""

    received: int = 0
    closed_on_time: int = 0
    closed_late: int = 0
    overdue: int = 0


@dataclass
class Handling:
    """As handler (承办)."""

    transferred_in: int = 0
    refused: int = 0
    handled: int = 0
    closed_on_time: int = 0
    closed_late: int = 0
    overdue: int = 0


@dataclass
class UnitFigures:
    unit: Unit
    answering: Answering = field(default_factory=Answering)
    handling: Handling = field(default_factory=Handling)

    def to_json(self) -> dict[str, object]:
        return {
            "unit_id": str(self.unit.unit_id),
            "name": self.unit.name,
            "area": self.unit.area,
            "answering": vars(self.answering).copy(),
            "handling": vars(self.handling).copy(),
        }


def day_of(event: DomainEvent) -> date | None:
    match event:
        case MatterReceived():
            return event.received_on
        case MatterTransferred():
            return event.transferred_on
        case MatterAccepted():
            return event.accepted_on
        case MatterTransferRefused():
            return event.refused_on
        case MatterStepDone():
            return event.done_on
        case MatterClosed():
            return event.closed_on
        case MatterRated():
            return event.rated_on
        case MatterRequesterErased():
            return event.erased_on
        case MatterDeadlineRevised():
            return event.revised_on
    return None


def by_unit(events: Iterable[DomainEvent], as_of: date) -> dict[uuid.UUID, UnitFigures]:
    """Every unit's figures at the end of `as_of`, from the matters' events in the order
    recorded (the streams may interleave)."""
    states: dict[uuid.UUID, MatterState] = {}
    figures: dict[uuid.UUID, UnitFigures] = {}

    def of(unit: Unit) -> UnitFigures:
        return figures.setdefault(unit.unit_id, UnitFigures(unit))

    for event in events:
        day = day_of(event)
        matter_id = getattr(event, "matter_id", None)
        if day is None or day > as_of or not isinstance(matter_id, uuid.UUID):
            continue
        before = states.get(matter_id)
        pending = before.pending if before is not None else None
        state = matters.evolve(before, event)
        if state is None:
            continue
        states[matter_id] = state
        match event:
            case MatterReceived():
                of(state.first).answering.received += 1
            case MatterAccepted() if pending is not None:
                of(pending.to).handling.transferred_in += 1
            case MatterTransferRefused() if pending is not None:
                of(pending.to).handling.refused += 1
            case MatterClosed():
                answering, handling = of(state.first).answering, of(state.handler).handling
                handling.handled += 1
                if event.on_time:
                    answering.closed_on_time += 1
                    handling.closed_on_time += 1
                else:
                    answering.closed_late += 1
                    handling.closed_late += 1
    for state in states.values():
        if matters.overdue_on(state.deadline, state.received_on, state.closed_on, as_of):
            of(state.first).answering.overdue += 1
            of(state.handler).handling.overdue += 1
    return figures
