"""API keys: one per principal and purpose, issued, rotated and revoked by operators with
`huigong keys …`, verified by every service on every request.

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

**Verification** (`KeyVerifier`): each service process caches what it read about a key for
`HUIGONG_AUTH_CACHE_SECONDS` (default 5): a revocation or expiry takes effect everywhere within
that many seconds, and a busy district costs one lookup per process per interval.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import stat
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import asyncpg

from .database import DbConnection
from .principals import Principal, Role, parse

PREFIX: Final = "hg_"
_KEY: Final = re.compile(r"^hg_(?P<key_id>[a-z2-7]{16})_(?P<secret>[A-Za-z0-9_-]{43})$")
DEFAULT_GRACE: Final = timedelta(hours=24)
_COLUMNS: Final = (
    "key_id, role, code, label, created_at, created_by, expires_at, rotated_from, "
    "revoked_at, revoked_by, revoke_reason, last_used_at"
)


class KeyOperationError(LookupError):
    """An operator's request about keys that cannot be done (unknown key, already revoked…)."""


def new_key() -> tuple[str, str, bytes]:
    """A fresh key: (the whole key to hand over, its key id, the SHA-256 of its secret)."""
    key_id = base64.b32encode(secrets.token_bytes(10)).decode().lower()
    secret = secrets.token_urlsafe(32)
    return f"{PREFIX}{key_id}_{secret}", key_id, _digest(secret)


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def split(presented: str) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed key, else None."""
    match = _KEY.match(presented)
    return (match["key_id"], match["secret"]) if match else None


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


# --- services: verify a presented key -----------------------------------------------------------


@dataclass(frozen=True)
class Rejected:
    """Why a presented key does not authenticate (for the log; the caller hears less)."""

    reason: str  # malformed | unknown | mismatch | revoked | expired
    key_id: str | None = None


@dataclass(frozen=True)
class _Cached:
    read_at: float
    digest: bytes | None  # None: no such key
    principal: Principal | None
    revoked: bool
    expires_at: datetime | None


class KeyVerifier:
    """Turns a presented key into its principal, reading `auth.api_keys` at most once per key per
    `ttl` seconds in this process. Unknown key ids are remembered too (bounded), so a stream of
    made-up keys costs no more lookups than real ones."""

    MAX_ENTRIES: Final = 50_000

    def __init__(self, pool: asyncpg.Pool, ttl: float) -> None:
        self._pool = pool
        self._ttl = ttl
        self._cache: dict[str, _Cached] = {}

    async def verify(self, presented: str) -> Principal | Rejected:
        parts = split(presented)
        if parts is None:
            return Rejected("malformed")
        key_id, secret = parts
        entry = self._cache.get(key_id)
        now = time.monotonic()
        if entry is None or now - entry.read_at >= self._ttl:
            entry = await self._read(key_id, now)
        if entry.digest is None or entry.principal is None:
            return Rejected("unknown", key_id)
        if not hmac.compare_digest(entry.digest, _digest(secret)):
            return Rejected("mismatch", key_id)
        if entry.revoked:
            return Rejected("revoked", key_id)
        if entry.expires_at is not None and entry.expires_at <= datetime.now(UTC):
            return Rejected("expired", key_id)
        return entry.principal

    async def _read(self, key_id: str, now: float) -> _Cached:
        # One round trip: read the key and note that it is in use (at most once per ttl).
        row = await self._pool.fetchrow(
            """UPDATE auth.api_keys SET last_used_at = now() WHERE key_id = $1
               RETURNING secret_sha256, role, code, revoked_at, expires_at""",
            key_id,
        )
        if row is None:
            entry = _Cached(now, None, None, False, None)
        else:
            try:
                principal: Principal | None = Principal(Role(row["role"]), row["code"], key_id)
            except ValueError:
                principal = None  # a role this version does not know: not a usable key
            entry = _Cached(
                now, bytes(row["secret_sha256"]), principal, row["revoked_at"] is not None, row["expires_at"]
            )
        if len(self._cache) >= self.MAX_ENTRIES:
            self._evict(now)
        self._cache[key_id] = entry
        return entry

    def _evict(self, now: float) -> None:
        stale = [k for k, e in self._cache.items() if now - e.read_at >= self._ttl]
        for k in stale or list(self._cache)[: self.MAX_ENTRIES // 2]:
            del self._cache[k]


# --- clients: a keyring file of principal → key ---------------------------------------------


class Keyring(Mapping[str, str]):
    """Keys a client holds, by principal (`simulator:370202` → `hg_…`): a JSON object in a file
    readable by its owner only (mode 600). bin/run writes one for the simulator and the seed into
    the git-ignored `.local/`; keys are never committed."""

    def __init__(self, keys: Mapping[str, str] | None = None, path: Path | None = None) -> None:
        self._keys = dict(keys or {})
        self.path = path

    @classmethod
    def load(cls, path: Path) -> Keyring:
        if not path.exists():
            return cls({}, path)
        loaded = json.loads(path.read_text(encoding="utf-8") or "{}")
        if not isinstance(loaded, dict) or not all(isinstance(v, str) for v in loaded.values()):
            raise ValueError(f"{path} is not a keyring (a JSON object of principal → key)")
        return cls(loaded, path)

    def save(self) -> None:
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, stat.S_IRUSR | stat.S_IWUSR)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(self._keys, out, ensure_ascii=False, indent=2, sort_keys=True)
        os.replace(temporary, self.path)

    def put(self, principal: str, key: str) -> None:
        self._keys[principal] = key

    def __getitem__(self, principal: str) -> str:
        return self._keys[principal]

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)


def default_keyring_path() -> Path:
    """`HUIGONG_KEYRING`, else the local stack's `.local/keyring.json`."""
    explicit = os.environ.get("HUIGONG_KEYRING")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("HUIGONG_LOCAL_DIR", ".local")) / "keyring.json"
