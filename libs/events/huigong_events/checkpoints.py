"""Signed chain checkpoints: a service's statement, signed with its Ed25519 key, of everything
its event store held up to a position.

The authentication tags (`authenticity`) are symmetric: whoever checks them could make them.
A checkpoint is signed with a private key only its service holds, and checked with the public
key, so an auditor verifies it holding no secret. It states: the store's events up to
`position`, `events` of them, hash to `digest` — SHA-256 folded over every event's chain hash in
the store's order (`digest = SHA-256(digest ‖ hash)`, from 32 zero bytes) — and the previous
checkpoint's digest (`previous`), so the checkpoints are a chain of their own. Any later edit,
deletion or insertion at or below a checkpoint's position changes the fold, even one made with
database superuser rights and a recomputed hash.

Keys: `HUIGONG_CHECKPOINT_KEYS=intake.1:<64 hex seed>,…`, named like the event keys; a service
signs with its newest own key. Public keys are published with every checkpoint and by
`huigong checkpoints keys`; a checker trusts only public keys it got elsewhere.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pydantic import BaseModel, ConfigDict, Field

from .envelope import canonical_json, canonical_time

ENVIRONMENT_VARIABLE = "HUIGONG_CHECKPOINT_KEYS"
GENESIS = bytes(32)  # the fold's start: no event yet


def fold(digest: bytes, hashes: Iterable[str]) -> bytes:
    """The digest after these chain hashes (hex), in the store's order."""
    for value in hashes:
        digest = hashlib.sha256(digest + bytes.fromhex(value)).digest()
    return digest


class Checkpoint(BaseModel):
    """One signed checkpoint, as stored, published and put in audit bundles."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    service: str = Field(title="服务")
    sequence: int = Field(title="序号", ge=1)
    key_id: str = Field(title="签名密钥")
    public_key: str = Field(title="公钥", pattern=r"^[0-9a-f]{64}$")
    position: int = Field(title="截至位置", ge=0)
    events: int = Field(title="事件数", ge=0)
    digest: str = Field(title="累计摘要", pattern=r"^[0-9a-f]{64}$")
    previous: str | None = Field(default=None, title="前一检查点摘要", pattern=r"^[0-9a-f]{64}$")
    signed_at: datetime = Field(title="签名时间")
    signature: str = Field(title="签名", pattern=r"^[0-9a-f]{128}$")

    def signed_bytes(self) -> bytes:
        return signed_bytes(self.model_dump(exclude={"signature"}))

    def signature_is_valid(self) -> bool:
        """Whether `signature` is this checkpoint's, under the public key it names. Whether that
        key is the service's is the checker's question (`trusted`)."""
        try:
            Ed25519PublicKey.from_public_bytes(bytes.fromhex(self.public_key)).verify(
                bytes.fromhex(self.signature), self.signed_bytes()
            )
        except (InvalidSignature, ValueError):
            return False
        return True

    def to_json_bytes(self) -> bytes:
        return canonical_json(self.model_dump(mode="json") | {"signed_at": canonical_time(self.signed_at)})


def signed_bytes(fields: Mapping[str, Any]) -> bytes:
    encodable = {k: v for k, v in fields.items() if k != "signature"}
    encodable["signed_at"] = canonical_time(encodable["signed_at"])
    return canonical_json(encodable)


@dataclass(frozen=True, repr=False)
class SigningKey:
    key_id: str
    service: str
    version: int
    private: Ed25519PrivateKey

    def __repr__(self) -> str:
        return f"SigningKey({self.key_id})"

    @property
    def public_hex(self) -> str:
        return self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


class CheckpointKeys:
    def __init__(self, keys: Sequence[SigningKey]) -> None:
        self._keys = list(keys)

    @classmethod
    def parse(cls, text: str) -> CheckpointKeys:
        keys: list[SigningKey] = []
        for item in text.replace("\n", ",").split(","):
            item = item.strip()
            if not item:
                continue
            key_id, _, seed = item.partition(":")
            service, _, version = key_id.partition(".")
            try:
                private = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed.strip()))
            except ValueError:
                raise ValueError(f"{ENVIRONMENT_VARIABLE}: key {key_id} is not a 32-byte hex seed") from None
            if not (service and version.isdigit()):
                raise ValueError(
                    f"{ENVIRONMENT_VARIABLE}: expected <service>.<version>:<hex>, got {key_id!r}"
                )
            keys.append(SigningKey(key_id, service, int(version), private))
        return cls(keys)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> CheckpointKeys:
        return cls.parse((os.environ if environ is None else environ).get(ENVIRONMENT_VARIABLE, ""))

    def signing_key(self, service: str) -> SigningKey | None:
        own = [k for k in self._keys if k.service == service]
        return max(own, key=lambda k: k.version) if own else None

    def public_keys(self) -> dict[str, str]:
        """key id → public key (hex), what is published."""
        return {k.key_id: k.public_hex for k in self._keys}

    def sign(
        self,
        service: str,
        *,
        sequence: int,
        position: int,
        events: int,
        digest: bytes,
        previous: bytes | None,
        signed_at: datetime,
    ) -> Checkpoint:
        key = self.signing_key(service)
        if key is None:
            raise ValueError(f"{ENVIRONMENT_VARIABLE} holds no key of {service}")
        fields: dict[str, Any] = {
            "service": service,
            "sequence": sequence,
            "key_id": key.key_id,
            "public_key": key.public_hex,
            "position": position,
            "events": events,
            "digest": digest.hex(),
            "previous": previous.hex() if previous is not None else None,
            "signed_at": signed_at,
        }
        signature = key.private.sign(signed_bytes(fields)).hex()
        return Checkpoint(**fields, signature=signature)


def trusted(checkpoint: Checkpoint, public_keys: Mapping[str, str]) -> str | None:
    """Why `checkpoint` cannot be trusted under the published `public_keys` (key id → hex), or
    None when its key is the published one of its service and the signature holds."""
    if not checkpoint.key_id.startswith(checkpoint.service + "."):
        return f"key {checkpoint.key_id} is not a key of {checkpoint.service}"
    published = public_keys.get(checkpoint.key_id)
    if published is None:
        return f"key {checkpoint.key_id} is not among the published public keys"
    if published != checkpoint.public_key:
        return f"the public key in the checkpoint is not the published {checkpoint.key_id}"
    if not checkpoint.signature_is_valid():
        return "the signature does not verify"
    return None


def new_seed() -> str:
    return os.urandom(32).hex()


def load_public_keys(raw: bytes) -> dict[str, str]:
    """A published key file (`huigong checkpoints keys --json`): {key id: public key hex}."""
    data = orjson.loads(raw)
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise ValueError("a public key file is a JSON object of key id → hex public key")
    return {str(k): str(v) for k, v in data.items()}
