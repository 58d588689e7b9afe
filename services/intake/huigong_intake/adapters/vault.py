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

    def _unwrap(self, member_key: str, wrapped: bytes) -> bytes:
        return self._kek.decrypt(wrapped[:_NONCE], wrapped[_NONCE:], member_key.encode())

    async def keys_for(self, conn: DbConnection, member_keys: Sequence[str]) -> dict[str, DataKey]:
        """The data key of each member, created for members seen for the first time.

        Most members of an enrolment batch are new, so a key is made for every one and inserted
        unless the member has one; only members that already had a key are read back. That is
        one statement for a batch of new members instead of a lookup and then an insert.
        """
        wanted = sorted(set(member_keys))
        if not wanted:
            return {}
        # One read of the system's randomness for all new keys and their ids. Members and key ids
        # both ascending, so that each insert into the two unique indexes lands next to the
        # previous one rather than on a random page (it keeps the cost flat as the table grows).
        raw = os.urandom(48 * len(wanted))
        ids = sorted(raw[48 * i : 48 * i + 16] for i in range(len(wanted)))
        fresh = {
            m: DataKey(f"dk-{key_id.hex()}", raw[48 * i + 16 : 48 * i + 48])
            for i, (m, key_id) in enumerate(zip(wanted, ids, strict=True))
        }
        inserted = await conn.fetch(
            """INSERT INTO member_data_keys (member_key, key_id, wrapped_key)
               SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[])
               ON CONFLICT (member_key) DO NOTHING RETURNING member_key""",
            wanted,
            [fresh[m].key_id for m in wanted],
            self._wrap_many([(m, fresh[m].key) for m in wanted]),
        )
        found = {r[0]: fresh[r[0]] for r in inserted}
        if len(found) < len(wanted):
            # Members with a key already (or whose key a concurrent batch created first).
            found.update(await self._load(conn, [m for m in wanted if m not in found]))
        return found

    def _wrap_many(self, items: Sequence[tuple[str, bytes]]) -> list[bytes]:
        nonces = os.urandom(_NONCE * len(items))
        encrypt = self._kek.encrypt
        wrapped = []
        for i, (member_key, key) in enumerate(items):
            nonce = nonces[_NONCE * i : _NONCE * (i + 1)]
            wrapped.append(nonce + encrypt(nonce, key, member_key.encode()))
        return wrapped

    async def _load(self, conn: DbConnection, member_keys: list[str]) -> dict[str, DataKey]:
        if not member_keys:
            return {}
        rows = await conn.fetch(
            "SELECT member_key, key_id, wrapped_key FROM member_data_keys WHERE member_key = ANY($1::text[])",
            member_keys,
        )
        return {r[0]: DataKey(r[1], self._unwrap(r[0], r[2])) for r in rows}

    @staticmethod
    async def destroy(conn: DbConnection, member_keys: Sequence[str]) -> int:
        """Crypto-shredding: delete the members' data keys; every sealed copy of their name and
        phone (events, Kafka, backups of the event log) is unreadable from then on. Deleting a key
        that is gone already does nothing, so a repeated erasure is harmless. Answers how many
        keys were destroyed."""
        if not member_keys:
            return 0
        result = await conn.execute(
            "DELETE FROM member_data_keys WHERE member_key = ANY($1::text[])", list(member_keys)
        )
        return int(result.split()[-1])

    async def unseal_member(self, conn: DbConnection, member_key: str, sealed: str) -> dict[str, str] | None:
        """The member's name and phone, or None once the member's key is destroyed."""
        keys = await self._load(conn, [member_key])
        if member_key not in keys:
            return None
        return self.unseal(keys[member_key], member_key, sealed)

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
