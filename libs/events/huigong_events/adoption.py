"""Events recorded before tags existed, adopted: a signed list of them that consumers accept.

A record without a tag is not authentic (`authenticity`), so the history an installation wrote
before tagging would be dead-lettered by a replay and reported `forged` by `huigong verify`.
An operator adopts it once, explicitly: `huigong events adopt-legacy` verifies that history
(every chain intact, every store equal to Kafka, each untagged event's content hashing to its
chain hash) and writes, per service, an **adoption manifest**: the id and chain hash of every
untagged event of that service, who adopted them and when, signed twice over its canonical JSON:

- with the service's Ed25519 checkpoint key (`signature`), so that an auditor checks it with
  the published public keys and no secret, as a checkpoint;
- with the service's event key (`tag`, HMAC-SHA-256), so that every consumer, which holds the
  event keys already, checks it without public keys.

Consumers load the manifests named in `HUIGONG_LEGACY_ADOPTIONS` (file paths, comma
separated; `RecordKeys.from_environment`) and accept an untagged record only when the owner of
its topic adopted its id with its chain hash and its content hashes to that hash. Any other
untagged record stays not authentic; a manifest whose tag does not verify stops the process.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field

from .envelope import canonical_json, canonical_time

ENVIRONMENT_VARIABLE = "HUIGONG_LEGACY_ADOPTIONS"
FORMAT = "huigong.legacy-adoption.v1"


class AdoptionManifest(BaseModel):
    """One service's adopted untagged events, as written to a file and loaded by consumers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: str = Field(default=FORMAT, title="格式")
    service: str = Field(title="服务")
    adopted_at: datetime = Field(title="认可时间")
    actor: str = Field(title="操作人", min_length=1, max_length=120)
    # (event id, chain hash), in the store's order.
    events: list[tuple[str, str]] = Field(title="认可的事件")
    key_id: str = Field(title="签名密钥")
    public_key: str = Field(title="公钥", pattern=r"^[0-9a-f]{64}$")
    signature: str = Field(default="", title="签名")
    tag_key: str = Field(title="认证密钥")
    tag: str = Field(default="", title="认证标签")

    def signed_bytes(self) -> bytes:
        """What the signature and the tag cover: every field but those two, canonical JSON."""
        fields: dict[str, Any] = self.model_dump(mode="json", exclude={"signature", "tag"})
        fields["adopted_at"] = canonical_time(self.adopted_at)
        return canonical_json(fields)

    def to_json_bytes(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json"), option=orjson.OPT_INDENT_2)

    @classmethod
    def load(cls, raw: bytes) -> AdoptionManifest:
        manifest = cls.model_validate_json(raw)
        if manifest.format != FORMAT:
            raise ValueError(f"not a legacy adoption manifest ({manifest.format!r})")
        return manifest

    def untrusted(self, public_keys: Mapping[str, str]) -> str | None:
        """Why an auditor holding the published checkpoint `public_keys` (key id → hex) cannot
        trust this manifest, or None when its service's published key signed it."""
        if not self.key_id.startswith(self.service + "."):
            return f"key {self.key_id} is not a key of {self.service}"
        if public_keys.get(self.key_id) != self.public_key:
            return f"the public key in the manifest is not the published {self.key_id}"
        try:
            Ed25519PublicKey.from_public_bytes(bytes.fromhex(self.public_key)).verify(
                bytes.fromhex(self.signature), self.signed_bytes()
            )
        except (InvalidSignature, ValueError):
            return "the signature does not verify"
        return None

    def adopted(self) -> Mapping[str, str]:
        """Event id → chain hash."""
        return dict(self.events)
