"""Clients of the service processes a module starts: each module defines its own `services`
fixture (its own ports), and these fixtures talk to whichever processes that module started.
Each request is made as the principal it names in `X-Huigong-Principal` (a real API key is sent
for it, see tests/conftest.py), or without credentials when it names none."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from huigong_platform.database import create_pool

from ..conftest import Stack
from .processes import ServiceProcess

Services = tuple[ServiceProcess, ...]


def _by_name(services: Services, name: str) -> ServiceProcess:
    return next(p for p in services if p.service == name)


@pytest.fixture
async def intake(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with _by_name(services, "intake").client() as client:
        yield client


@pytest.fixture
async def review(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with _by_name(services, "review").client() as client:
        yield client


@pytest.fixture
async def registry(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with _by_name(services, "registry").client() as client:
        yield client


@pytest.fixture
async def metrics(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with _by_name(services, "metrics").client() as client:
        yield client


@pytest.fixture
async def review_db(stack: Stack) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(stack.dsn("review"), "review")
    yield pool
    await pool.close()
