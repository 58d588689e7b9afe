"""Upcasters: turn stored data of an older schema version into the current one, on read.

Stored events are never rewritten (their hashes cover the bytes as recorded). Instead every read
path — projections, replay, audit — decodes through `decode`, which walks the chain
version → version + 1 until it reaches the class's current `schema_version`.

To change an event's shape: bump `schema_version` on the class, register an upcaster from the
previous version here, and add a golden file of the old version under `libs/events/golden/`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from types import ModuleType
from typing import Any

from .base import DomainEvent
from .envelope import RecordedEvent

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

_UPCASTERS: dict[tuple[str, int], Upcaster] = {}


class UpcastError(ValueError):
    """Stored data that no upcaster chain can bring to the current version."""


def upcaster(event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    def register(fn: Upcaster) -> Upcaster:
        key = (event_type, from_version)
        if key in _UPCASTERS:
            raise RuntimeError(f"two upcasters for {event_type} v{from_version}")
        _UPCASTERS[key] = fn
        return fn

    return register


def upcast(event_type: str, version: int, current: int, data: dict[str, Any]) -> dict[str, Any]:
    if version > current:
        raise UpcastError(f"{event_type} v{version} is newer than this code (v{current})")
    while version < current:
        step = _UPCASTERS.get((event_type, version))
        if step is None:
            raise UpcastError(f"no upcaster for {event_type} v{version} → v{version + 1}")
        data = step(dict(data))
        version += 1
    return data


@cache
def _catalogue() -> ModuleType:
    # Imported late: the catalogue imports every event module and versions.py, which imports
    # this module to register its upcasters.
    from . import catalogue

    return catalogue


def decode(event: RecordedEvent) -> DomainEvent:
    """The typed, current-version domain event of a recorded one."""
    cls: type[DomainEvent] = _catalogue().event_class(event.type)
    data = upcast(event.type, event.schema_version, cls.schema_version, event.data)
    # The class is known from the envelope, so validate against it directly rather than
    # through the discriminated union (same result, a third faster on the replay path).
    return cls.model_validate({**data, "type": event.type})
