"""Intake's settings: the platform's, plus the keys that protect gig workers' personal data."""

from __future__ import annotations

from pydantic import Field, SecretStr

from huigong_platform.settings import Settings


class IntakeSettings(Settings):
    member_key_secret: SecretStr = Field(
        description="HMAC key that turns an ID number into the member key (64 hex chars); "
        "the same on every intake replica, never logged"
    )
    personal_data_kek: SecretStr = Field(
        description="Key that wraps the per-member data keys sealing name and phone (64 hex chars)"
    )
    enrolment_batch_limit: int = Field(default=10_000, description="Rows accepted in one enrolment upload")

    def member_secret(self) -> bytes:
        return bytes.fromhex(self.member_key_secret.get_secret_value())

    def kek(self) -> bytes:
        raw = bytes.fromhex(self.personal_data_kek.get_secret_value())
        if len(raw) != 32:
            raise ValueError("HUIGONG_PERSONAL_DATA_KEK must be 32 bytes (64 hex characters)")
        return raw
