"""API keys as the services see them: the key format, verification of a presented key on every
request (`KeyVerifier`), and the keyring file a client (the seed, the simulator) holds its keys
in. Issuing, listing, rotating and revoking keys is operator tooling: `huigong_ops.keys`, behind
`huigong keys …`.

**Format.** `hg_<key_id>_<secret>`: `key_id` is 16 base32 characters (80 random bits), the public
half that names the key in logs, listings and audits; `secret` is 32 random bytes, URL-safe
base64 (43 characters). Callers send `Authorization: Bearer hg_…` (or `X-API-Key: hg_…`).
`auth.api_keys` keeps the SHA-256 of the secret, never the secret (`huigong_ops.keys` says why
that is enough).

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
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import asyncpg

from .principals import Principal, Role

PREFIX: Final = "hg_"
_KEY: Final = re.compile(r"^hg_(?P<key_id>[a-z2-7]{16})_(?P<secret>[A-Za-z0-9_-]{43})$")


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
