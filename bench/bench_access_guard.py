"""Benchmark: what the access guard costs a request. The same one-route app with and without
`AccessGuard` in front (route match, API key checked against the per-process cache, role rule,
token bucket, body count), called in process through httpx's ASGI transport, rounds alternated so
that both see the same machine. The key is verified against a real PostgreSQL once, then cached."""

from __future__ import annotations

import argparse
import asyncio
from types import SimpleNamespace
from typing import Any

import httpx
from fastapi import FastAPI
from starlette.types import Message

from huigong_platform.authorization import AccessGuard, Limits
from huigong_platform.credentials import KeyVerifier
from huigong_platform.database import create_pool
from huigong_registry.policy import POLICY as REGISTRY_POLICY

from .common import Stopwatch, api_key, bench_env, figure

ROUNDS = 3


def app(guarded: bool, verifier: KeyVerifier | None) -> FastAPI:
    served = FastAPI()

    @served.get("/units")
    async def units() -> dict[str, Any]:
        return {"total": 0, "items": []}

    if guarded:
        served.add_middleware(
            AccessGuard,
            policy=REGISTRY_POLICY,
            limits=Limits(body_bytes=1 << 20, upload_bytes=1 << 24, per_second=1e9, burst=10**9),
        )
        served.state.runtime = SimpleNamespace(keys=verifier)
    return served


async def rate(client: httpx.AsyncClient, headers: dict[str, str], count: int) -> float:
    watch = Stopwatch()
    for _ in range(count):
        response = await client.get("/units", headers=headers)
        assert response.status_code == 200, response.text
    return count / watch.seconds


async def direct(guard: AccessGuard | None, inner: Any, scope: dict[str, Any], count: int) -> float:
    """ASGI calls straight into the guard (or the bare app behind it): no HTTP client, no router."""

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        return None

    target = guard if guard is not None else inner
    watch = Stopwatch()
    for _ in range(count):
        await target(dict(scope), receive, send)
    return count / watch.seconds


async def guard_alone(verifier: KeyVerifier, key: str, count: int) -> None:
    async def inner(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    routes = app(False, None)  # the guard reads the routes and the verifier from the app
    routes.state.runtime = SimpleNamespace(keys=verifier)
    limits = Limits(body_bytes=1 << 20, upload_bytes=1 << 24, per_second=1e9, burst=10**9)
    guard = AccessGuard(inner, policy=REGISTRY_POLICY, limits=limits)
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/units",
        "root_path": "",
        "headers": [(b"authorization", f"Bearer {key}".encode()), (b"host", b"bench")],
        "client": ("127.0.0.1", 50000),
        "app": routes,
    }
    await direct(guard, inner, scope, 1000)
    best = {"bare ASGI app": 0.0, "the guard in front": 0.0}
    for _ in range(ROUNDS):
        best["bare ASGI app"] = max(best["bare ASGI app"], await direct(None, inner, scope, count))
        best["the guard in front"] = max(best["the guard in front"], await direct(guard, inner, scope, count))
    for label, requests_per_second in best.items():
        figure(label, count, count / requests_per_second)
    cost = (1 / best["the guard in front"] - 1 / best["bare ASGI app"]) * 1e6
    print(f"  the guard alone per request   {cost:8.1f} µs")


async def main(count: int) -> None:
    async with bench_env() as env:
        key = await api_key(env, "viewer:bench")
        pool = await create_pool(env.dsn("registry"), "registry")
        try:
            headers = {"Authorization": f"Bearer {key}"}
            apps = {
                "without the guard": app(False, None),
                "with the guard": app(True, KeyVerifier(pool, 5.0)),
            }
            clients = {
                label: httpx.AsyncClient(transport=httpx.ASGITransport(app=served), base_url="http://bench")
                for label, served in apps.items()
            }
            print(
                f"access guard benchmark: {count:,} GET /units in process, best of {ROUNDS} alternating rounds"
            )
            best = dict.fromkeys(clients, 0.0)
            for client in clients.values():
                await rate(client, headers, 200)  # warm up; the key is read from PostgreSQL here
            for _ in range(ROUNDS):
                for label, client in clients.items():
                    best[label] = max(best[label], await rate(client, headers, count))
            for label, requests_per_second in best.items():
                figure(label, count, count / requests_per_second)
            without, with_guard = best["without the guard"], best["with the guard"]
            print(f"  guard cost per request        {(1 / with_guard - 1 / without) * 1e6:8.1f} µs")
            print(f"  ratio with / without          {with_guard / without:8.1%}")
            for client in clients.values():
                await client.aclose()
            print(f"the guard alone: {count * 10:,} ASGI calls, best of {ROUNDS} alternating rounds")
            await guard_alone(KeyVerifier(pool, 5.0), key, count * 10)
        finally:
            await pool.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=5_000)
    args = parser.parse_args()
    asyncio.run(main(args.requests))
