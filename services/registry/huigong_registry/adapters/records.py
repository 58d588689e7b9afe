"""What the registry's handlers read and keep besides the stream they decide on, inside the
command's unit of work: the units an item's providers name, a matter's handler and item, the
certificate and 受理编号 counters, the requesters' and the members' data keys, and what an
evaluation measures.

`Records` is the port; `PostgresRecords` keeps them in the registry's database, in the command's
transaction (the queries of `units.py`, `matters.py`, `member_keys.py` and `requesters.py`).
Tests use an in-memory one with the same interface.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import date
from typing import Protocol

from huigong_events.base import DomainEvent
from huigong_events.envelope import RecordedEvent
from huigong_events.reference import Programme
from huigong_platform.database import DbConnection
from huigong_platform.eventstore import EventStore
from huigong_platform.unit_of_work import PostgresUnitOfWork, UnitOfWork

from ..domain.catalogue import Handler, ItemState
from ..domain.certification import UnitState
from . import grading, member_keys
from .matters import allocate_matter_no, load_handler, load_item, load_units, open_matters
from .requesters import Requester, RequesterVault
from .units import allocate_certificate_no


class Records(Protocol):
    async def units(self, unit_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, UnitState | None]:
        """Each unit as its stream says now (None: no such unit)."""

    async def handler(self, unit_id: uuid.UUID) -> Handler | None:
        """The centre or base that may handle matters, as its unit's stream says now."""

    async def item(self, item_id: uuid.UUID) -> ItemState | None: ...

    async def next_certificate_no(self, programme: Programme, year: int) -> str: ...

    async def next_matter_no(self, received_on: date, area: str) -> str: ...

    async def seal_requester(self, matter_id: uuid.UUID, requester: Requester) -> tuple[str, str]:
        """A new data key for the matter; (key id, sealed text)."""

    async def erase_requester(self, matter_id: uuid.UUID) -> bool:
        """Destroy the matter's data key; False when there was none."""

    async def destroy_member_key(self, member_key: str) -> bool:
        """Destroy the member's data key; False when there was none."""

    async def measured_events(self) -> list[tuple[RecordedEvent, DomainEvent]]:
        """Every event an evaluation measures (matters, ratings, projects, facilities), in the
        order recorded."""

    async def graded_in(self, year: int) -> bool:
        """Whether any base or partner has a grade for `year`."""

    async def open_matters(self, received_from: int, received_to: int) -> list[uuid.UUID]:
        """The matters received in those years (inclusive) and not closed, in the order received."""


class PostgresRecords:
    def __init__(self, conn: DbConnection, store: EventStore, vault: Callable[[], RequesterVault]) -> None:
        self._conn = conn
        self._store = store
        self._vault = vault

    async def units(self, unit_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, UnitState | None]:
        return await load_units(self._conn, self._store, unit_ids)

    async def handler(self, unit_id: uuid.UUID) -> Handler | None:
        return await load_handler(self._conn, self._store, unit_id)

    async def item(self, item_id: uuid.UUID) -> ItemState | None:
        return (await load_item(self._conn, self._store, item_id)).state

    async def next_certificate_no(self, programme: Programme, year: int) -> str:
        return await allocate_certificate_no(self._conn, programme, year)

    async def next_matter_no(self, received_on: date, area: str) -> str:
        return await allocate_matter_no(self._conn, received_on, area)

    async def seal_requester(self, matter_id: uuid.UUID, requester: Requester) -> tuple[str, str]:
        # The vault is made on first use: only receiving a matter needs the installation's key.
        return await self._vault().seal(self._conn, matter_id, requester)

    async def erase_requester(self, matter_id: uuid.UUID) -> bool:
        return await RequesterVault.erase(self._conn, matter_id)

    async def destroy_member_key(self, member_key: str) -> bool:
        return await member_keys.destroy(self._conn, member_key)

    async def measured_events(self) -> list[tuple[RecordedEvent, DomainEvent]]:
        return await grading.measured_events(self._conn)

    async def graded_in(self, year: int) -> bool:
        return await grading.graded_in(self._conn, year)

    async def open_matters(self, received_from: int, received_to: int) -> list[uuid.UUID]:
        return await open_matters(self._conn, received_from, received_to)


def postgres_records(
    store: EventStore, vault: Callable[[], RequesterVault]
) -> Callable[[UnitOfWork], Records]:
    def records(uow: UnitOfWork) -> Records:
        # The registry's own tables join the command's transaction.
        assert isinstance(uow, PostgresUnitOfWork)
        return PostgresRecords(uow.conn, store, vault)

    return records
