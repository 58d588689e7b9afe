"""Sealing a requester's name, phone and request with a per-matter data key (AES-256-GCM), the way
intake seals gig workers' data (huigong_intake/adapters/vault.py).

Each matter gets a random data key, stored in `matter_data_keys` wrapped by the installation's
key-encryption key (HUIGONG_PERSONAL_DATA_KEK). The sealed text binds the matter id as associated
data, so a ciphertext cannot be moved to another matter. Deleting the key row (erasure) makes the
sealed text unreadable in every topic, copy and replay: crypto-shredding on an immutable log."""

from __future__ import annotations

import base64
import os
import uuid
from dataclasses import dataclass
from typing import Final

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from fastapi import Request

from huigong_platform.database import DbConnection
from huigong_platform.service import Runtime, runtime_of

from ..settings import RegistrySettings

_NONCE: Final = 12
_EXTRA: Final = "requester_vault"


@dataclass(frozen=True)
class Requester:
    """The worker who brought the matter, in clear (only inside the registry's process)."""

    name: str
    phone: str
    request: str


class RequesterVault:
    def __init__(self, kek: bytes) -> None:
        self._kek = AESGCM(kek)

    async def seal(self, conn: DbConnection, matter_id: uuid.UUID, requester: Requester) -> tuple[str, str]:
        """A new data key for the matter (in the caller's transaction); (key id, sealed text)."""
        key = os.urandom(32)
        key_id = f"mk-{os.urandom(8).hex()}"
        nonce = os.urandom(_NONCE)
        wrapped = nonce + self._kek.encrypt(nonce, key, matter_id.bytes)
        await conn.execute(
            "INSERT INTO matter_data_keys (matter_id, key_id, wrapped_key) VALUES ($1, $2, $3)",
            matter_id,
            key_id,
            wrapped,
        )
        plain = orjson.dumps({"姓名": requester.name, "联系电话": requester.phone, "诉求": requester.request})
        nonce = os.urandom(_NONCE)
        sealed = base64.b64encode(nonce + AESGCM(key).encrypt(nonce, plain, matter_id.bytes)).decode()
        return key_id, sealed

    async def unseal(self, conn: DbConnection, matter_id: uuid.UUID, sealed: str) -> Requester | None:
        """The requester, or None once the matter's key has been destroyed (or never matched)."""
        wrapped = await conn.fetchval(
            "SELECT wrapped_key FROM matter_data_keys WHERE matter_id = $1", matter_id
        )
        if wrapped is None:
            return None
        try:
            key = self._kek.decrypt(wrapped[:_NONCE], wrapped[_NONCE:], matter_id.bytes)
            raw = base64.b64decode(sealed)
            plain = AESGCM(key).decrypt(raw[:_NONCE], raw[_NONCE:], matter_id.bytes)
        except InvalidTag:
            return None
        data = orjson.loads(plain)
        return Requester(data["姓名"], data["联系电话"], data["诉求"])

    @staticmethod
    async def erase(conn: DbConnection, matter_id: uuid.UUID) -> bool:
        deleted = await conn.fetchval(
            "DELETE FROM matter_data_keys WHERE matter_id = $1 RETURNING true", matter_id
        )
        return bool(deleted)


def vault_of(request: Request) -> RequesterVault:
    """The running registry's vault, made on first use from its settings."""
    return vault_for(runtime_of(request))


def vault_for(runtime: Runtime) -> RequesterVault:
    vault = runtime.extras.get(_EXTRA)
    if vault is None:
        settings = runtime.settings
        if not isinstance(settings, RegistrySettings):
            # Only an app built for inspection (tests of routes) has plain settings; the process
            # (`huigong-registry`) always reads RegistrySettings and refuses to start without a key.
            settings = RegistrySettings(**settings.model_dump())
        vault = runtime.extras[_EXTRA] = RequesterVault(settings.kek())
    assert isinstance(vault, RequesterVault)
    return vault
