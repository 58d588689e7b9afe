"""API keys: one per principal and purpose, issued, rotated and revoked by operators with
`huigong keys …` (the admin DSN); verified by every service on every request
(`huigong_platform.credentials`, which also holds the key format).

**Format.** `hg_<key_id>_<secret>`: `key_id` is 16 base32 characters (80 random bits), the public
half that names the key in logs, listings and audits; `secret` is 32 random bytes, URL-safe
base64 (43 characters). Callers send `Authorization: Bearer hg_…` (or `X-API-Key: hg_…`).

**Storage.** `auth.api_keys` keeps the key id, the principal it is bound to (role and code), label,
who issued it and when, expiry, rotation and revocation, and the SHA-256 of the secret, never the
secret. A salted slow hash (bcrypt, argon2) protects low-entropy passwords from guessing; a 256-bit
random secret cannot be guessed, so a plain SHA-256 is as strong and costs a microsecond per
request. `auth.api_key_events` records every operation (append-only). The schema belongs to the
admin role: services can read keys but not issue or revive one.

**Lifecycle.** `issue` prints the key once. `rotate` issues a successor bound to the same principal
(`rotated_from`) and lets the old key live for a grace period (default 24 hours, so a district
system can switch without an outage; `--grace 0` revokes it at once). `revoke` ends a key at once,
with the actor and the reason. A key may also carry an expiry.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import asyncpg

from huigong_platform.credentials import new_key
from huigong_platform.database import DbConnection
from huigong_platform.principals import parse

DEFAULT_GRACE: Final = timedelta(hours=24)
_COLUMNS: Final = (
    "key_id, role, code, label, created_at, created_by, expires_at, rotated_from, "
    "revoked_at, revoked_by, revoke_reason, last_used_at"
)


class KeyOperationError(LookupError):
    """An operator's request about keys that cannot be done (unknown key, already revoked…)."""


@dataclass(frozen=True)
class KeyRecord:
    key_id: str
    role: str
    code: str
    label: str
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    rotated_from: str | None
    revoked_at: datetime | None
    revoked_by: str | None
    revoke_reason: str | None
    last_used_at: datetime | None

    @property
    def principal(self) -> str:
        return f"{self.role}:{self.code}"

    def state(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"

    def to_json(self, now: datetime) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "principal": self.principal,
            "label": self.label,
            "state": self.state(now),
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "rotated_from": self.rotated_from,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "revoked_by": self.revoked_by,
            "revoke_reason": self.revoke_reason,
            "last_used_at": self.last_used_at.isoformat() if self.last_used_at else None,
        }


@dataclass(frozen=True)
class IssuedKey:
    key: str  # shown once, never stored
    record: KeyRecord


def _record(row: asyncpg.Record) -> KeyRecord:
    return KeyRecord(**{name: row[name] for name in KeyRecord.__dataclass_fields__})


# --- operators: issue, list, rotate, revoke (admin DSN) -----------------------------------------


async def issue(
    conn: DbConnection,
    principal: str,
    *,
    actor: str,
    label: str = "",
    expires_at: datetime | None = None,
    rotated_from: str | None = None,
) -> IssuedKey:
    """A new key bound to `principal` (checked: ValueError says what is wrong with it)."""
    bound = parse(principal)
    key, key_id, digest = new_key()
    async with conn.transaction():
        row = await conn.fetchrow(
            f"""INSERT INTO auth.api_keys (key_id, secret_sha256, role, code, label, created_by,
                                           expires_at, rotated_from)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {_COLUMNS}""",
            key_id,
            digest,
            bound.role.value,
            bound.code,
            label,
            actor,
            expires_at,
            rotated_from,
        )
        assert row is not None
        await _audit(
            conn,
            key_id,
            "rotated" if rotated_from else "created",
            actor,
            None,
            {
                "principal": bound.id,
                "label": label,
                "expires_at": expires_at.isoformat() if expires_at else None,
                "rotated_from": rotated_from,
            },
        )
    return IssuedKey(key, _record(row))


async def _audit(
    conn: DbConnection, key_id: str, action: str, actor: str, reason: str | None, detail: dict[str, Any]
) -> None:
    await conn.execute(
        "INSERT INTO auth.api_key_events (key_id, action, actor, reason, detail) VALUES ($1, $2, $3, $4, $5)",
        key_id,
        action,
        actor,
        reason,
        json.dumps(detail, ensure_ascii=False),
    )


async def find(conn: DbConnection, key_id: str) -> KeyRecord | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM auth.api_keys WHERE key_id = $1", key_id)
    return _record(row) if row is not None else None


async def list_keys(
    conn: DbConnection, *, role: str | None = None, code: str | None = None, include_ended: bool = False
) -> list[KeyRecord]:
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM auth.api_keys
            WHERE ($1::text IS NULL OR role = $1) AND ($2::text IS NULL OR code = $2)
              AND ($3 OR (revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())))
            ORDER BY role, code, created_at, key_id""",
        role,
        code,
        include_ended,
    )
    return [_record(r) for r in rows]


async def history(conn: DbConnection, key_id: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT action, actor, reason, detail, at FROM auth.api_key_events WHERE key_id = $1 ORDER BY id",
        key_id,
    )
    return [{**dict(r), "detail": json.loads(r["detail"]), "at": r["at"].isoformat()} for r in rows]


async def _live(conn: DbConnection, key_id: str) -> KeyRecord:
    record = await find(conn, key_id)
    if record is None:
        raise KeyOperationError(f"没有该密钥 no key {key_id!r}")
    state = record.state(datetime.now(UTC))
    if state != "active":
        raise KeyOperationError(f"密钥已失效 key {key_id} is already {state}")
    return record


async def rotate(
    conn: DbConnection,
    key_id: str,
    *,
    actor: str,
    grace: timedelta = DEFAULT_GRACE,
    reason: str | None = None,
) -> IssuedKey:
    """A successor of `key_id` for the same principal; the old key ends after `grace` (at once if
    zero)."""
    async with conn.transaction():
        await conn.execute("SELECT 1 FROM auth.api_keys WHERE key_id = $1 FOR UPDATE", key_id)
        old = await _live(conn, key_id)
        successor = await issue(
            conn,
            old.principal,
            actor=actor,
            label=old.label,
            expires_at=old.expires_at,
            rotated_from=old.key_id,
        )
        why = reason or f"rotated to {successor.record.key_id}"
        if grace <= timedelta(0):
            await _revoke(conn, old.key_id, actor, why)
        else:
            ends = datetime.now(UTC) + grace
            if old.expires_at is None or ends < old.expires_at:
                await conn.execute(
                    "UPDATE auth.api_keys SET expires_at = $2 WHERE key_id = $1", old.key_id, ends
                )
                await _audit(conn, old.key_id, "expiry_set", actor, why, {"expires_at": ends.isoformat()})
    return successor


async def revoke(conn: DbConnection, key_id: str, *, actor: str, reason: str) -> KeyRecord:
    if not reason.strip():
        raise KeyOperationError("请写明吊销理由 a reason is required")
    async with conn.transaction():
        await conn.execute("SELECT 1 FROM auth.api_keys WHERE key_id = $1 FOR UPDATE", key_id)
        await _live(conn, key_id)
        await _revoke(conn, key_id, actor, reason)
        record = await find(conn, key_id)
    assert record is not None
    return record


async def _revoke(conn: DbConnection, key_id: str, actor: str, reason: str) -> None:
    await conn.execute(
        "UPDATE auth.api_keys SET revoked_at = now(), revoked_by = $2, revoke_reason = $3 WHERE key_id = $1",
        key_id,
        actor,
        reason,
    )
    await _audit(conn, key_id, "revoked", actor, reason, {})
