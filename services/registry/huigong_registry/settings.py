"""The registry's settings: the platform's, plus the key that protects the personal data of
workers who bring a service matter to a centre (name, phone, their request)."""

from __future__ import annotations

from pydantic import Field, SecretStr

from huigong_platform.settings import Settings


class RegistrySettings(Settings):
    # The same variable (and key) as intake's: one key-encryption key per installation protects
    # every per-person data key, so key rotation and custody are one procedure, not two.
    personal_data_kek: SecretStr = Field(
        description="Key that wraps the per-matter data keys sealing a requester's name, phone and "
        "request (64 hex chars); the same variable as intake's"
    )

    def kek(self) -> bytes:
        raw = bytes.fromhex(self.personal_data_kek.get_secret_value())
        if len(raw) != 32:
            raise ValueError("HUIGONG_PERSONAL_DATA_KEK must be 32 bytes (64 hex characters)")
        return raw
