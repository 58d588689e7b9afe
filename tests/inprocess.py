"""A service's FastAPI app in this process, on the in-memory unit of work: its routes, access
guard, refusals and command path as the service runs them, through `httpx.ASGITransport`, with
neither PostgreSQL nor Kafka. A request says who sends it as `Authorization: Bearer <principal>`
(e.g. `Bearer district:370202`): the verifier here takes the principal at its word."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any

import httpx
from fastapi import FastAPI

from huigong_platform.application import CommandPath
from huigong_platform.credentials import Rejected
from huigong_platform.principals import Principal, parse


class PrincipalsAtTheirWord:
    """Stands in for the API-key verifier: the presented "key" is the principal itself."""

    async def verify(self, presented: str) -> Principal | Rejected:
        try:
            return parse(presented)
        except ValueError:
            return Rejected("unknown")


def as_(principal: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {principal}"}


@asynccontextmanager
async def in_process(
    app: FastAPI, commands: CommandPath, extras: dict[str, Any] | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of `app` whose commands run on `commands` (built on in-memory units of work), with
    the `extras` the service's start-up would put on its runtime (e.g. review's handlers, whose
    reads the routes use). The app's lifespan is not run: nothing connects anywhere."""
    app.state.runtime = SimpleNamespace(keys=PrincipalsAtTheirWord(), extras=dict(extras or {}))
    app.state.commands = commands
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://inprocess") as client:
        yield client
