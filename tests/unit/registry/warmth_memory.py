"""送温暖's recipients in memory, with the interface of `adapters.warmth.PostgresRecipients`: a
member holds a data key while the registry's in-memory tables list their member key (erasure
removes it), and the sealing is the real AES-256-GCM, so what the events carry is a real
ciphertext that only that key opens."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field

import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from huigong_platform.unit_of_work import UnitOfWork
from huigong_registry.adapters.warmth import Recipients

from .memory import MemoryRegistryTables


@dataclass
class MemoryRecipients:
    tables: MemoryRegistryTables
    keys: dict[str, bytes] = field(default_factory=dict)

    def recipients(self, uow: UnitOfWork) -> Recipients:
        return self

    async def seal(self, member_key: str, name: str, phone: str) -> tuple[str, str] | None:
        if member_key not in self.tables.member_keys:
            return None
        key = self.keys.setdefault(member_key, AESGCM.generate_key(bit_length=256))
        nonce = os.urandom(12)
        plain = orjson.dumps({"姓名": name, "手机号": phone})
        sealed = base64.b64encode(nonce + AESGCM(key).encrypt(nonce, plain, member_key.encode())).decode()
        return f"dk-{member_key[:16]}", sealed

    def open_sealed(self, member_key: str, sealed: str) -> dict[str, str] | None:
        if member_key not in self.tables.member_keys:
            return None
        raw = base64.b64decode(sealed)
        data = orjson.loads(AESGCM(self.keys[member_key]).decrypt(raw[:12], raw[12:], member_key.encode()))
        return {"name": data["姓名"], "phone": data["手机号"]}
