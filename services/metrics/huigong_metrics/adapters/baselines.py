"""What the target handler reads besides the target's stream: the baseline of a target, as
targets.toml was installed. `Baselines` is the port; `PostgresBaselines` reads the service's
`target_baseline` table in the command's transaction; tests keep the file's rows in memory."""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from huigong_platform.database import DbConnection

from ..domain.targets import TargetKey
from . import store


class Baselines(Protocol):
    async def value(self, key: TargetKey) -> Decimal | None:
        """The installed file's value of this target; None when the file sets none."""


class PostgresBaselines:
    def __init__(self, conn: DbConnection) -> None:
        self._conn = conn

    async def value(self, key: TargetKey) -> Decimal | None:
        return await store.baseline_value(self._conn, key)
