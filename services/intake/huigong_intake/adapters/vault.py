"""Sealing of gig workers' name and phone with a per-member data key (AES-256-GCM).

Each member has a random data key, stored wrapped by the service's key-encryption key in
`member_data_keys`. The sealed text in events binds the member key as associated data, so a
ciphertext cannot be moved to another member. Destroying the member's key row makes every sealed
copy, in every topic and replay, unreadable: erasure on an immutable log (crypto-shredding).
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass

import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from huigong_platform.database import DbConnection

_NONCE = 12


@dataclass(frozen=True)
class DataKey:
    key_id: str
    key: bytes


class Vault:
    def __init__(self, kek: bytes) -> None:
        self._kek = AESGCM(kek)

    def _wrap(self, member_key: str, key: bytes) -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + self._kek.encrypt(nonce, key, member_key.encode())

    def _unwrap(self, member_key: str, wrapped: bytes) -> bytes:
        return self._kek.decrypt(wrapped[:_NONCE], wrapped[_NONCE:], member_key.encode())

    async def keys_for(self, conn: DbConnection, member_keys: Sequence[str]) -> dict[str, DataKey]:
        """The data key of each member, created for members seen for the first time."""
        wanted = list(dict.fromkeys(member_keys))
        found = await self._load(conn, wanted)
        missing = [m for m in wanted if m not in found]
        if missing:
            # One read of the system's randomness for all new keys and their ids.
            raw = os.urandom(48 * len(missing))
            fresh = {
                m: DataKey(f"dk-{raw[48 * i : 48 * i + 16].hex()}", raw[48 * i + 16 : 48 * i + 48])
                for i, m in enumerate(missing)
            }
            inserted = await conn.fetch(
                """INSERT INTO member_data_keys (member_key, key_id, wrapped_key)
                   SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[])
                   ON CONFLICT (member_key) DO NOTHING RETURNING member_key""",
                missing,
                [fresh[m].key_id for m in missing],
                [self._wrap(m, fresh[m].key) for m in missing],
            )
            ours = {r[0] for r in inserted}
            found.update({m: fresh[m] for m in ours})
            # A concurrent batch created the others first: use what won.
            found.update(await self._load(conn, [m for m in missing if m not in ours]))
        return found

    async def _load(self, conn: DbConnection, member_keys: list[str]) -> dict[str, DataKey]:
        if not member_keys:
            return {}
        rows = await conn.fetch(
            "SELECT member_key, key_id, wrapped_key FROM member_data_keys WHERE member_key = ANY($1::text[])",
            member_keys,
        )
        return {r[0]: DataKey(r[1], self._unwrap(r[0], r[2])) for r in rows}

    @staticmethod
    def seal(key: DataKey, member_key: str, name: str, phone: str) -> str:
        return Vault.seal_many([(key, member_key, name, phone)])[0]

    @staticmethod
    def seal_many(items: Sequence[tuple[DataKey, str, str, str]]) -> list[str]:
        """Seal (key, member key, name, phone) tuples; nonces come from one randomness read."""
        nonces = os.urandom(_NONCE * len(items))
        sealed = []
        for i, (key, member_key, name, phone) in enumerate(items):
            nonce = nonces[_NONCE * i : _NONCE * (i + 1)]
            plain = orjson.dumps({"姓名": name, "手机号": phone})
            sealed.append(
                base64.b64encode(nonce + AESGCM(key.key).encrypt(nonce, plain, member_key.encode())).decode()
            )
        return sealed

    @staticmethod
    def unseal(key: DataKey, member_key: str, sealed: str) -> dict[str, str]:
        raw = base64.b64decode(sealed)
        plain = AESGCM(key.key).decrypt(raw[:_NONCE], raw[_NONCE:], member_key.encode())
        value: dict[str, str] = json.loads(plain)
        return value
