"""The registry's settings: the platform's, plus the key that protects the personal data of
workers who bring a service matter to a centre (name, phone, their request)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr

from huigong_platform.settings import Settings


class RegistrySettings(Settings):
    # The same variable (and key) as intake's: one key-encryption key per installation protects
    # every per-person data key, so key rotation and custody are one procedure, not two.
    personal_data_kek: SecretStr = Field(
        description="Key that wraps the per-matter data keys sealing a requester's name, phone and "
        "request (64 hex chars); the same variable as intake's"
    )

    min_building_years: int = Field(
        default=1,
        ge=0,
        le=3,
        description="Years of building, from the start of the approved construction period, before a "
        "unit built from an application may be certified (经一定时间的创建; default one year)",
    )

    revocation_statement_days: int = Field(
        default=5,
        ge=1,
        le=30,
        description="Working days, after the day a title is suspended, within which the unit's union may "
        "file a statement (申诉) in the revocation case; counted on the working-day calendar of the "
        "service matters (default 5)",
    )

    certificate_font: Path = Field(
        default=Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
        description="TrueType font (or collection, its first face) the certificate PDF embeds for its Chinese "
        "text; the default is Debian's fonts-wqy-microhei, which bin/setup and the image install",
    )

    public_url: str | None = Field(
        default=None,
        description="The address at which the public reaches the registry's API, e.g. "
        "https://huigong.example.org/api/registry: the certificate's QR code points to the verification page "
        "under it. Unset: the address the request for the PDF came to",
    )

    def kek(self) -> bytes:
        raw = bytes.fromhex(self.personal_data_kek.get_secret_value())
        if len(raw) != 32:
            raise ValueError("HUIGONG_PERSONAL_DATA_KEK must be 32 bytes (64 hex characters)")
        return raw
