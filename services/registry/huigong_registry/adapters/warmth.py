"""送温暖's recipients: their name and phone sealed under the member's own data key, the key their
enrolment was sealed under (`member_data_keys`, adapters/member_keys.py), in the format intake
seals enrolments with (AES-256-GCM, the member key as associated data, `{"姓名", "手机号"}`).
So erasing the member, which destroys that key, makes every delivery's sealed copy unreadable
too, with nothing more to do.

`Recipients` is the port the handlers use inside the command's unit of work; `PostgresRecipients`
reads the key in the command's transaction. Reads (the delivering union's own list) open the
sealed text with `open_sealed` on the service's pool. Tests use an in-memory twin.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Callable
from typing import Final, Protocol

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from huigong_platform.database import DbConnection
from huigong_platform.service import Runtime
from huigong_platform.unit_of_work import PostgresUnitOfWork, UnitOfWork

from ..settings import RegistrySettings

_NONCE: Final = 12


class Recipients(Protocol):
    async def seal(self, member_key: str, name: str, phone: str) -> tuple[str, str] | None:
        """(key id, sealed name and phone) under the member's data key; None when the member
        holds none (erased, or enrolled before the keys were kept)."""


class MemberSealer:
    """Unwraps members' data keys with the installation's key-encryption key."""

    def __init__(self, kek: bytes) -> None:
        self._kek = AESGCM(kek)

    async def _key(self, conn: DbConnection, member_key: str) -> tuple[str, bytes] | None:
        row = await conn.fetchrow(
            "SELECT key_id, wrapped_key FROM member_data_keys WHERE member_key = $1", member_key
        )
        if row is None:
            return None
        wrapped: bytes = row["wrapped_key"]
        try:
            key = self._kek.decrypt(wrapped[:_NONCE], wrapped[_NONCE:], member_key.encode())
        except InvalidTag:
            return None
        return row["key_id"], key

    async def seal(
        self, conn: DbConnection, member_key: str, name: str, phone: str
    ) -> tuple[str, str] | None:
        found = await self._key(conn, member_key)
        if found is None:
            return None
        key_id, key = found
        plain = orjson.dumps({"姓名": name, "手机号": phone})
        nonce = os.urandom(_NONCE)
        sealed = base64.b64encode(nonce + AESGCM(key).encrypt(nonce, plain, member_key.encode())).decode()
        return key_id, sealed

    async def open_sealed(self, conn: DbConnection, member_key: str, sealed: str) -> dict[str, str] | None:
        """Name and phone, or None once the member's key is destroyed (erased) or replaced."""
        found = await self._key(conn, member_key)
        if found is None:
            return None
        try:
            raw = base64.b64decode(sealed)
            plain = AESGCM(found[1]).decrypt(raw[:_NONCE], raw[_NONCE:], member_key.encode())
        except (InvalidTag, binascii.Error):
            # Sealed under an earlier key of the member (erased, then reported again): gone.
            return None
        data = orjson.loads(plain)
        return {"name": data["姓名"], "phone": data["手机号"]}


class PostgresRecipients:
    def __init__(self, conn: DbConnection, sealer: MemberSealer) -> None:
        self._conn = conn
        self._sealer = sealer

    async def seal(self, member_key: str, name: str, phone: str) -> tuple[str, str] | None:
        return await self._sealer.seal(self._conn, member_key, name, phone)


def postgres_recipients(sealer: Callable[[], MemberSealer]) -> Callable[[UnitOfWork], Recipients]:
    def recipients(uow: UnitOfWork) -> Recipients:
        # The member's key is read in the command's transaction (erasure locks the same member).
        assert isinstance(uow, PostgresUnitOfWork)
        return PostgresRecipients(uow.conn, sealer())

    return recipients


_EXTRA: Final = "warmth_sealer"


def sealer_for(runtime: Runtime) -> MemberSealer:
    """The running registry's sealer, made on first use from its settings (as the requesters'
    vault is: adapters/requesters.py)."""
    sealer = runtime.extras.get(_EXTRA)
    if sealer is None:
        settings = runtime.settings
        if not isinstance(settings, RegistrySettings):
            settings = RegistrySettings(**settings.model_dump())
        sealer = runtime.extras[_EXTRA] = MemberSealer(settings.kek())
    assert isinstance(sealer, MemberSealer)
    return sealer
