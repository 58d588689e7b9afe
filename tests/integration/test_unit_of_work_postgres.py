"""The PostgreSQL unit of work passes the unit-of-work contract (`tests/contracts`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from huigong_platform.database import create_pool
from huigong_platform.eventstore import EventStore
from huigong_platform.unit_of_work import UnitsOfWork, postgres_units

from ..conftest import Stack
from ..contracts.unit_of_work import UnitOfWorkContract


class TestPostgresUnitOfWork(UnitOfWorkContract):
    @pytest.fixture
    async def units(self, stack: Stack) -> AsyncIterator[UnitsOfWork]:
        pool = await create_pool(stack.dsn("intake"), "intake")
        yield postgres_units(pool, EventStore(pool, stack.topic_prefix), "intake")
        await pool.close()
