"""The in-memory unit of work passes the unit-of-work contract (`tests/contracts`)."""

from __future__ import annotations

import pytest

from huigong_platform.unit_of_work import MemoryState, UnitsOfWork, in_memory_units

from ..contracts.unit_of_work import UnitOfWorkContract


class TestInMemoryUnitOfWork(UnitOfWorkContract):
    @pytest.fixture
    def units(self) -> UnitsOfWork:
        return in_memory_units(MemoryState())
