"""Idempotent writes: the same key from the same principal returns the first outcome.

The key is claimed with INSERT … ON CONFLICT DO NOTHING at the start of the request's
transaction. A concurrent retry blocks on that row until the first commits (then reads its
outcome) or rolls back (then claims the key itself), so two racing retries never both append.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson

from .database import DbConnection

IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 200


class IdempotencyKeyReused(Exception):
    """The key was used before for a different request (HTTP 422)."""


@dataclass(frozen=True)
class Outcome:
    status_code: int
    body: dict[str, Any]
    replayed: bool = False


def request_hash(payload: Any) -> str:
    return hashlib.sha256(
        json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str).encode()
    ).hexdigest()


async def once(
    pool: asyncpg.Pool,
    principal: str,
    key: str,
    fingerprint: str,
    work: Callable[[DbConnection], Awaitable[Outcome]],
) -> Outcome:
    """Run `work` in a transaction unless `key` was already used; store and return its outcome.

    A DomainError raised by `work` rolls back, so a refused request can be retried after a fix.
    """
    async with pool.acquire() as conn, conn.transaction():
        claimed = await conn.fetchval(
            """INSERT INTO idempotency_keys (principal, key, request_hash) VALUES ($1, $2, $3)
               ON CONFLICT (principal, key) DO NOTHING RETURNING true""",
            principal,
            key,
            fingerprint,
        )
        if not claimed:
            row = await conn.fetchrow(
                "SELECT request_hash, status_code, response FROM idempotency_keys "
                "WHERE principal = $1 AND key = $2",
                principal,
                key,
            )
            assert row is not None
            if row["request_hash"] != fingerprint:
                raise IdempotencyKeyReused(key)
            response = row["response"]
            body = json.loads(response) if isinstance(response, str) else response
            return Outcome(row["status_code"], body, replayed=True)
        outcome = await work(conn)
        await conn.execute(
            "UPDATE idempotency_keys SET status_code = $3, response = $4::jsonb "
            "WHERE principal = $1 AND key = $2",
            principal,
            key,
            outcome.status_code,
            orjson.dumps(outcome.body, default=str).decode(),
        )
        return outcome
