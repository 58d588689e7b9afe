"""The PostgreSQL read ports of review, the registry and the metrics service pass the read-port
contracts (`tests/contracts/read_ports.py`) that their in-memory twins pass in tests/unit."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable

import asyncpg
import pytest

from huigong_metrics.adapters import store as metrics_store
from huigong_metrics.adapters.baselines import Baselines, PostgresBaselines
from huigong_platform.database import create_pool
from huigong_platform.eventstore import EventStore
from huigong_platform.unit_of_work import UnitOfWork, UnitsOfWork, postgres_units
from huigong_registry.adapters.records import Records, postgres_records
from huigong_registry.adapters.requesters import RequesterVault
from huigong_review.adapters.inputs import Inputs, postgres_inputs

from ..conftest import Stack
from ..contracts.read_ports import BaselinesContract, RegistryRecordsContract, ReviewInputsContract


@pytest.fixture
async def review_pool(stack: Stack) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(stack.dsn("review"), "review")
    yield pool
    await pool.close()


@pytest.fixture
async def registry_pool(stack: Stack) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(stack.dsn("registry"), "registry")
    yield pool
    await pool.close()


class TestPostgresReviewInputs(ReviewInputsContract):
    @pytest.fixture
    def store(self, review_pool: asyncpg.Pool, stack: Stack) -> EventStore:
        return EventStore(review_pool, stack.topic_prefix)

    @pytest.fixture
    def units(self, review_pool: asyncpg.Pool, store: EventStore) -> UnitsOfWork:
        return postgres_units(review_pool, store, "review")

    @pytest.fixture
    def inputs(self, store: EventStore) -> Callable[[UnitOfWork], Inputs]:
        return postgres_inputs(store)


class TestPostgresRegistryRecords(RegistryRecordsContract):
    @pytest.fixture
    def store(self, registry_pool: asyncpg.Pool, stack: Stack) -> EventStore:
        return EventStore(registry_pool, stack.topic_prefix)

    @pytest.fixture
    def units(self, registry_pool: asyncpg.Pool, store: EventStore) -> UnitsOfWork:
        return postgres_units(registry_pool, store, "registry")

    @pytest.fixture
    def records(self, store: EventStore) -> Callable[[UnitOfWork], Records]:
        vault = RequesterVault(os.urandom(32))
        return postgres_records(store, lambda: vault)


class TestPostgresBaselines(BaselinesContract):
    @pytest.fixture
    async def baselines(self, stack: Stack) -> AsyncIterator[Baselines]:
        pool = await create_pool(stack.dsn("metrics"), "metrics")
        try:
            # As the service installs targets.toml when it starts.
            await metrics_store.install_baseline(pool, metrics_store.read_targets_file())
            async with pool.acquire() as conn:
                yield PostgresBaselines(conn)
        finally:
            await pool.close()
