"""Sealing of gig workers' name and phone with a per-member data key (AES-256-GCM).

Each member has a random data key. The registry holds the keys (`registry.member_data_keys`,
each wrapped by the installation's key-encryption key) because the registry decides erasure and
alone may destroy one; intake seals at the edge, so it makes the keys, wraps them, and hands them
to the registry through the one function the registry grants it,
`registry.member_data_keys_issue`, inside the transaction that records the enrolment: no HTTP
call, nothing in clear outside this process, one call for a batch of 10,000. Intake can neither
read nor delete the key table. The sealed text in events binds the member key as associated
data, so a ciphertext cannot be moved to another member. Once the registry destroys a member's
key, every sealed copy, in every topic and replay, is unreadable (crypto-shredding).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Sequence
from typing import Final, NamedTuple

import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from huigong_platform.database import DbConnection

_NONCE: Final = 12
# The sealed plaintext is the JSON object {"姓名": …, "手机号": …}; its fixed parts, encoded once.
_NAME_FIELD: Final = '{"姓名":'.encode()
_PHONE_FIELD: Final = ',"手机号":'.encode()
# The registry's schema is named after the service, as every service's is.
ISSUE_FUNCTION: Final = "registry.member_data_keys_issue"
ISSUE_SIGNATURE: Final = f"{ISSUE_FUNCTION}(text[], text[], bytea[])"
# A member whose key the registry destroyed between our offer and its answer is offered a new
# one; more rounds than this would mean something is wrong, not a race.
_ROUNDS: Final = 3


class KeyCustodyError(RuntimeError):
    """The registry answered no key for some members (should not happen; the batch is undone)."""


class DataKey(NamedTuple):
    # A named tuple rather than a frozen dataclass: a batch makes 10,000 of these, and a frozen
    # dataclass is built field by field through object.__setattr__, several times slower.
    key_id: str
    key: bytes


async def issue_unavailable(conn: DbConnection) -> str | None:
    """Why intake cannot get data keys from the registry, or None when it can: the registry's
    migration 0007 creates the function and grants it to intake (readiness asks this)."""
    reason: str | None = await conn.fetchval(
        """SELECT CASE
               WHEN to_regnamespace('registry') IS NULL THEN 'schema registry does not exist'
               WHEN NOT has_schema_privilege('registry', 'USAGE') THEN 'no USAGE on schema registry'
               WHEN to_regprocedure($1) IS NULL THEN 'function does not exist'
               WHEN NOT has_function_privilege(to_regprocedure($1), 'EXECUTE') THEN 'no EXECUTE on it'
           END""",
        ISSUE_SIGNATURE,
    )
    if reason is None:
        return None
    return (
        f"{ISSUE_FUNCTION} unavailable ({reason}): migrate the registry "
        "(huigong db provision, or huigong db migrate registry) before enrolling members"
    )


class Vault:
    def __init__(self, kek: bytes) -> None:
        self._kek = AESGCM(kek)

    def wrap(self, key: bytes, context: str) -> bytes:
        """Any other key kept beside the members' (an import job's file key), wrapped with the
        KEK for `context` (its associated data: a key moved to another record does not open)."""
        nonce = os.urandom(_NONCE)
        return nonce + self._kek.encrypt(nonce, key, context.encode())

    def unwrap(self, wrapped: bytes, context: str) -> bytes:
        return self._kek.decrypt(wrapped[:_NONCE], wrapped[_NONCE:], context.encode())

    def data_key(self, member_key: str, key_id: str, wrapped: bytes) -> DataKey:
        """A stored key, unwrapped (the member key is the wrapping's associated data)."""
        return DataKey(key_id, self._kek.decrypt(wrapped[:_NONCE], wrapped[_NONCE:], member_key.encode()))

    async def keys_for(self, conn: DbConnection, member_keys: Sequence[str]) -> dict[str, DataKey]:
        """The data key of each member, created for members seen for the first time.

        Most members of an enrolment batch are new, so a key is made for every one and offered to
        the registry in one call; members that have a key keep it and it comes back wrapped. The
        offered keys are in the caller's transaction: a batch that is rolled back leaves none.
        """
        wanted = sorted(set(member_keys))
        found: dict[str, DataKey] = {}
        for _ in range(_ROUNDS):
            if not wanted:
                return found
            fresh = self._fresh(wanted)
            rows = await conn.fetch(
                f"SELECT member_key, key_id, wrapped_key FROM {ISSUE_FUNCTION}($1::text[], $2::text[], $3::bytea[])",
                wanted,
                [fresh[m].key_id for m in wanted],
                self._wrap_many([(m, fresh[m].key) for m in wanted]),
            )
            for member_key, key_id, wrapped in rows:
                offered = fresh[member_key]
                # Ours, or the key the member had (or a concurrent batch gave them first).
                found[member_key] = (
                    offered if key_id == offered.key_id else self.data_key(member_key, key_id, wrapped)
                )
            # Only a member whose key was destroyed (erased) while we asked can be missing.
            wanted = [m for m in wanted if m not in found]
        if wanted:
            raise KeyCustodyError(f"the registry issued no data key for {len(wanted)} member(s)")
        return found

    @staticmethod
    def _fresh(members: Sequence[str]) -> dict[str, DataKey]:
        # One read of the system's randomness for all new keys and their ids. Members and key ids
        # both ascending, so that each insert into the two unique indexes lands next to the
        # previous one rather than on a random page (it keeps the cost flat as the table grows).
        raw = os.urandom(48 * len(members))
        ids = sorted(raw[48 * i : 48 * i + 16] for i in range(len(members)))
        return {
            m: DataKey(f"dk-{key_id.hex()}", raw[48 * i + 16 : 48 * i + 48])
            for i, (m, key_id) in enumerate(zip(members, ids, strict=True))
        }

    def _wrap_many(self, items: Sequence[tuple[str, bytes]]) -> list[bytes]:
        nonces = os.urandom(_NONCE * len(items))
        encrypt = self._kek.encrypt
        wrapped = []
        for i, (member_key, key) in enumerate(items):
            nonce = nonces[_NONCE * i : _NONCE * (i + 1)]
            wrapped.append(nonce + encrypt(nonce, key, member_key.encode()))
        return wrapped

    @staticmethod
    def seal(key: DataKey, member_key: str, name: str, phone: str) -> str:
        return Vault.seal_many([(key, member_key, name, phone)])[0]

    @staticmethod
    def seal_many(items: Sequence[tuple[DataKey, str, str, str]]) -> list[str]:
        """Seal (key, member key, name, phone) tuples; nonces come from one randomness read."""
        nonces = os.urandom(_NONCE * len(items))
        sealed = []
        dumps, b64 = orjson.dumps, binascii.b2a_base64
        for i, (key, member_key, name, phone) in enumerate(items):
            nonce = nonces[_NONCE * i : _NONCE * (i + 1)]
            # orjson.dumps({"姓名": name, "手机号": phone}), without a dict per row.
            plain = b"".join((_NAME_FIELD, dumps(name), _PHONE_FIELD, dumps(phone), b"}"))
            sealed.append(
                b64(
                    nonce + AESGCM(key.key).encrypt(nonce, plain, member_key.encode()), newline=False
                ).decode()
            )
        return sealed

    @staticmethod
    def unseal(key: DataKey, member_key: str, sealed: str) -> dict[str, str]:
        raw = base64.b64decode(sealed)
        plain = AESGCM(key.key).decrypt(raw[:_NONCE], raw[_NONCE:], member_key.encode())
        value: dict[str, str] = json.loads(plain)
        return value
