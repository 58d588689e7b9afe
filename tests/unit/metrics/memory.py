"""The metrics service's baselines in memory, with the interface of
`adapters.baselines.PostgresBaselines`: the rows of the same targets.toml the service installs."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from huigong_metrics.adapters.baselines import Baselines
from huigong_metrics.adapters.store import read_targets_file
from huigong_metrics.domain.targets import TargetKey
from huigong_platform.unit_of_work import UnitOfWork


def installed() -> dict[TargetKey, Decimal]:
    return {row.key: row.value for row in read_targets_file().rows}


@dataclass
class MemoryBaselines:
    rows: dict[TargetKey, Decimal] = field(default_factory=installed)

    def of(self, uow: UnitOfWork) -> Baselines:
        return self

    async def value(self, key: TargetKey) -> Decimal | None:
        return self.rows.get(key)
