"""The registry's in-memory records pass the read-port contract (`tests/contracts/read_ports.py`)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from huigong_platform.unit_of_work import MemoryState, UnitOfWork, UnitsOfWork, in_memory_units
from huigong_registry.adapters.records import Records

from ...contracts.read_ports import RegistryRecordsContract
from .memory import MemoryRegistryTables


class TestMemoryRegistryRecords(RegistryRecordsContract):
    @pytest.fixture
    def units(self) -> UnitsOfWork:
        return in_memory_units(MemoryState())

    @pytest.fixture
    def records(self) -> Callable[[UnitOfWork], Records]:
        return MemoryRegistryTables().records
