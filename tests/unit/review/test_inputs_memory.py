"""Review's in-memory inputs pass the read-port contract (`tests/contracts/read_ports.py`)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from huigong_platform.unit_of_work import MemoryState, UnitOfWork, UnitsOfWork, in_memory_units
from huigong_review.adapters.inputs import Inputs

from ...contracts.read_ports import ReviewInputsContract
from .memory import MemoryReviewTables


class TestMemoryReviewInputs(ReviewInputsContract):
    @pytest.fixture
    def units(self) -> UnitsOfWork:
        return in_memory_units(MemoryState())

    @pytest.fixture
    def inputs(self) -> Callable[[UnitOfWork], Inputs]:
        return MemoryReviewTables().inputs
