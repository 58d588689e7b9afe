"""The base every domain event derives from.

An event class is the payload only; who, when and where live in the envelope
(`huigong_events.envelope.RecordedEvent`). Stored data omits the discriminator `type`, which the
envelope carries, so that the bytes on a topic are exactly the CloudEvents `data`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict


class DomainEvent(BaseModel):
    """A fact that happened, in the past tense, immutable once recorded."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False)

    # The owning service: only it may append events of this type.
    owner: ClassVar[str]
    # The aggregate this event belongs to; it also chooses the topic (see topics.py).
    aggregate_type: ClassVar[str]
    # Bump when the payload's shape changes, and add an upcaster from the previous version.
    schema_version: ClassVar[int] = 1

    type: str  # narrowed to a Literal in every subclass: the union's discriminator

    def to_data(self) -> dict[str, Any]:
        """The payload as stored and published: JSON types only, without `type`."""
        return self.model_dump(mode="json", exclude={"type"})
