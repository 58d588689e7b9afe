"""The metrics service's in-memory baselines pass the read-port contract
(`tests/contracts/read_ports.py`)."""

from __future__ import annotations

import pytest

from huigong_metrics.adapters.baselines import Baselines

from ...contracts.read_ports import BaselinesContract
from .memory import MemoryBaselines


class TestMemoryBaselines(BaselinesContract):
    @pytest.fixture
    def baselines(self) -> Baselines:
        return MemoryBaselines()
