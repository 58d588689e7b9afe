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


@cache
def _reader(event_type: str) -> tuple[int, Callable[[Any], DomainEvent]]:
    """The current schema version of a type and its class's validator. Cached: looked up once per
    record on every read path. An unknown type raises KeyError and is not cached."""
    cls: type[DomainEvent] = _catalogue().event_class(event_type)
    return cls.schema_version, cls.__pydantic_validator__.validate_python


def decode(event: RecordedEvent) -> DomainEvent:
    """The typed, current-version domain event of a recorded one."""
    current, validate = _reader(event.type)
    data = event.data
    if event.schema_version != current:
        data = upcast(event.type, event.schema_version, current, data)
    # The class is known from the envelope, so validate against it directly rather than
    # through the discriminated union (same result, a third faster on the replay path). Stored
    # data has no `type` (the envelope carries it) and the field defaults to the class's own.
    if "type" in data:
        data = {**data, "type": event.type}
    return validate(data)
