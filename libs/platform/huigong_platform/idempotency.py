"""Idempotent commands: the same key from the same principal returns the first outcome.

The key is claimed with INSERT … ON CONFLICT DO NOTHING at the start of the command's
transaction. A concurrent retry blocks on that row until the first commits (then reads its
outcome) or rolls back (then claims the key itself), so two racing retries never both append.
The command path (`application.py`) is the only caller: it claims, runs the handler and settles
in one unit of work.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import BaseModel

from .database import DbConnection

IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 200


class IdempotencyKeyReused(Exception):
    """The key was used before for a different command (HTTP 422)."""


@dataclass(frozen=True)
class Outcome:
    """The answer to a command: its HTTP status and JSON body, stored with the key."""

    status_code: int
    body: dict[str, Any]
    replayed: bool = False


def fingerprint(command: BaseModel) -> str:
    """What a key is bound to, one rule for every command of every service: SHA-256 of the
    command's name and its fields as the caller gave them (defaults left out, so an id the
    platform generates for a missing one does not make the retry a different command), as JSON
    with sorted keys (so a retry that spells the same JSON differently is the same command)."""
    canonical = orjson.dumps(
        {"command": type(command).__name__, "fields": command.model_dump(mode="json", exclude_unset=True)},
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(canonical).hexdigest()


async def claim(conn: DbConnection, principal: str, key: str, fingerprint: str) -> Outcome | None:
    """Claim `key` for this command inside the caller's transaction: None when it is new (the
    caller runs the command and `settle`s), the first outcome when it was used for the same
    command; IdempotencyKeyReused when it was used for another."""
    claimed = await conn.fetchval(
        """INSERT INTO idempotency_keys (principal, key, request_hash) VALUES ($1, $2, $3)
           ON CONFLICT (principal, key) DO NOTHING RETURNING true""",
        principal,
        key,
        fingerprint,
    )
    if claimed:
        return None
    row = await conn.fetchrow(
        "SELECT request_hash, status_code, response FROM idempotency_keys WHERE principal = $1 AND key = $2",
        principal,
        key,
    )
    assert row is not None
    if row["request_hash"] != fingerprint:
        raise IdempotencyKeyReused(key)
    response = row["response"]
    body = json.loads(response) if isinstance(response, str) else response
    return Outcome(row["status_code"], body, replayed=True)


async def settle(conn: DbConnection, principal: str, key: str, outcome: Outcome) -> None:
    """Store the outcome of a claimed key, in the transaction that recorded the command."""
    await conn.execute(
        "UPDATE idempotency_keys SET status_code = $3, response = $4::jsonb WHERE principal = $1 AND key = $2",
        principal,
        key,
        outcome.status_code,
        orjson.dumps(outcome.body, default=str).decode(),
    )
