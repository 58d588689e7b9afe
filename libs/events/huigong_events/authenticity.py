"""Proof that a record was written by the service that owns its topic.

The chain hash (`envelope.RecordedEvent.hash`) is SHA-256 over public fields: anyone who can write
to a topic or a table can recompute it. So each event also carries a tag, a MAC under a key of its
owning service, over the record as transmitted on Kafka: every header but the tag itself, names
and values, and the value. Only processes holding the key can make one; every consumer checks it
on the raw record, before decoding it (`RecordKeys.check`).

Keys are named `<service>.<version>` (`intake.1`, `intake.2`, …) and configured as one secret
setting, `HUIGONG_EVENT_KEYS`: `intake.1:<64 hex>,review.1:<64 hex>,…`. A service tags with the
highest version of its own keys and accepts every version of every service, so a key is rotated
by adding the next version: old records still verify under the key named in their `ce_authkey`.

`ce_authkey` (second to last header, `ce_authtag` last) names the key and says how the tag was
made; three ways, the newest first:

- `intake.1;m3` (every record tagged now): GMAC (AES-256-GCM with the message as associated data
  and nothing to encrypt, NIST SP 800-38D) under a key derived from the service's secret
  (HMAC-SHA-256 of the secret and `huigong event tag gmac`). `ce_authtag` is 56 hex digits: a
  random 96-bit nonce, then the 128-bit tag. The message is the MessagePack encoding of the
  headers but the tag, as an array of `[name, value]` pairs (name a MessagePack str, value a bin,
  each in its smallest form; `msgspec.msgpack.encode` of the header list), then the record value.
  The encoding is length-prefixed, so the headers part ends where it says and the bytes read
  back in exactly one way, without any byte being refused or scanned. Why GMAC: with the
  processor's AES and carry-less multiply instructions it costs about half of HMAC-SHA-256 on a
  record of a kilobyte, and the check runs once per record on every consumer
  (`bench/bench_authenticity.py` prints both). Random nonces keep GCM's bound: a key tags at most
  2^32 records (rotate long before; the city's 400,000 members are 0.01 % of it).
- `intake.1;m2` (records tagged before): HMAC-SHA-256 over the same message, 64 hex digits.
- `intake.1` (the first records): HMAC-SHA-256 over the names of every header, joined by NUL,
  then 0x01, then the value of every header but the tag, joined by NUL, then NUL and the record
  value. Header names are fixed ASCII and a value holding a NUL is refused, so this too reads
  back in one way.
Records tagged the older ways still verify; no new one is made.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Self

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .adoption import ENVIRONMENT_VARIABLE as ADOPTIONS_VARIABLE
from .adoption import AdoptionManifest
from .envelope import EnvelopeError, RecordedEvent, from_kafka, to_kafka
from .topics import EVENT_TOPICS, topic_for_aggregate

if TYPE_CHECKING:
    from ._tagcheck import GmacKey

_CompiledGmac: type[GmacKey] | None
try:  # compiled by bin/setup (`build_tagcheck`); the same check in Python below without it
    from ._tagcheck import GmacKey as _CompiledGmac
except ImportError:  # pragma: no cover - the suite requires it built (`compiled_check`)
    _CompiledGmac = None

KEY_HEADER = "ce_authkey"
TAG_HEADER = "ce_authtag"
ENVIRONMENT_VARIABLE = "HUIGONG_EVENT_KEYS"
_BLOCK = 64  # SHA-256's block size: HMAC pads its key to it
# How a tag was made, named by the suffix of `ce_authkey` (see the module's docstring).
GMAC, HMAC_MSGPACK, HMAC_FIRST = "m3", "m2", ""
LAYOUT_MARK = ";" + GMAC  # appended to the key's name by every service tagging now
_GMAC_KEY_LABEL = b"huigong event tag gmac"
_NONCE = 12  # GCM's 96-bit nonce, drawn at random per record
_SEALED = _NONCE + 16  # the nonce and the 128-bit tag, as `ce_authtag` carries them (hex)
_encode_headers = msgspec.msgpack.Encoder().encode


class NotAuthentic(ValueError):
    """A record without a valid tag of its topic's owning service."""


@dataclass(frozen=True, repr=False)
class RecordKey:
    """One service's key of one version. Its repr names the key, never the secret."""

    key_id: str
    service: str
    version: int
    secret: bytes

    def __post_init__(self) -> None:
        # HMAC's two padded key states, hashed once: a tag then costs two copies of a hash state
        # and no key schedule (RFC 2104; the same result as hmac.digest, checked below).
        key = self.secret.ljust(_BLOCK, b"\0")
        object.__setattr__(self, "_inner", hashlib.sha256(bytes(b ^ 0x36 for b in key)))
        object.__setattr__(self, "_outer", hashlib.sha256(bytes(b ^ 0x5C for b in key)))
        if self.mac(b"huigong") != hmac.digest(self.secret, b"huigong", "sha256"):
            raise AssertionError("HMAC states differ from hmac.digest")
        # A key of its own for GMAC, so that no key serves two algorithms.
        gmac_key = hmac.digest(self.secret, _GMAC_KEY_LABEL, "sha256")
        object.__setattr__(self, "_gcm", AESGCM(gmac_key))
        object.__setattr__(self, "_compiled", None if _CompiledGmac is None else _CompiledGmac(gmac_key))

    def __repr__(self) -> str:
        return f"RecordKey({self.key_id})"

    def mac(self, message: bytes) -> bytes:
        inner = self._inner.copy()  # type: ignore[attr-defined]
        inner.update(message)
        outer = self._outer.copy()  # type: ignore[attr-defined]
        outer.update(inner.digest())
        digest: bytes = outer.digest()
        return digest

    def sign(self, value: bytes, headers: Sequence[tuple[str, bytes]]) -> str:
        """The tag, in hex, of a record whose headers end with `ce_authkey` naming this key and
        the tag's own (its value unused), made the way `ce_authkey` names."""
        covered = message(value, headers)
        if _layout(headers[-2][1]) == GMAC:
            nonce = os.urandom(_NONCE)
            sealed: bytes = nonce + self._gcm.encrypt(nonce, b"", covered)  # type: ignore[attr-defined]
            return sealed.hex()
        return self.mac(covered).hex()


def _layout(key_name: bytes | str | None) -> str:
    """The way a tag was made, from the value of `ce_authkey` (`intake.1;m3` → `m3`)."""
    name = key_name.decode(errors="replace") if isinstance(key_name, bytes) else key_name or ""
    return name.rpartition(";")[2] if ";" in name else HMAC_FIRST


def message(value: bytes, headers: Sequence[tuple[str, bytes]]) -> bytes:
    """The bytes a tag covers (see the module's docstring); `headers` end with the tag's, and
    `ce_authkey` (second to last) says the layout."""
    if len(headers) >= 2 and _layout(headers[-2][1]) in (GMAC, HMAC_MSGPACK):
        return _encode_headers(list(headers[:-1])) + value
    return legacy_message(value, headers)


def legacy_message(value: bytes, headers: Sequence[tuple[str, bytes]]) -> bytes:
    """The first layout's bytes (names, 0x01, values, NUL, value): records tagged before the
    MessagePack layout still verify against it."""
    names, values = zip(*headers, strict=True)
    covered = b"\0".join(values[:-1])
    if covered.count(0) != len(values) - 2:
        raise NotAuthentic("a header value holds a NUL byte")
    return "\0".join(names).encode() + b"\x01" + covered + b"\0" + value


class RecordKeys:
    """The keys of every service: tags records of `service`, checks records of all."""

    def __init__(self, keys: Sequence[RecordKey]) -> None:
        # By the value of `ce_authkey`: the key, and the way the tag was made (`intake.1;m3`,
        # `intake.1;m2`, `intake.1`).
        self._by_id: dict[bytes, tuple[RecordKey, str]] = {}
        for k in keys:
            for layout in (GMAC, HMAC_MSGPACK, HMAC_FIRST):
                self._by_id[(k.key_id + (";" + layout if layout else "")).encode()] = (k, layout)
        self._signing: dict[str, RecordKey] = {}
        for key in keys:
            current = self._signing.get(key.service)
            if current is None or key.version > current.version:
                self._signing[key.service] = key
        self._owners: dict[str, str | None] = {}
        self._accepted: dict[str, dict[bytes, tuple[RecordKey, str]]] = {}
        # Untagged events an operator adopted (`adoption`): event id → (owning service, hash).
        self._adopted: dict[str, tuple[str, str]] = {}

    @classmethod
    def parse(cls, text: str) -> Self:
        """`intake.1:<hex>,intake.2:<hex>,review.1:<hex>` (whitespace ignored)."""
        keys: list[RecordKey] = []
        for item in text.replace("\n", ",").split(","):
            item = item.strip()
            if not item:
                continue
            key_id, sep, secret = item.partition(":")
            service, dot, version = key_id.partition(".")
            if not (sep and dot and service and version.isdigit()):
                raise ValueError(
                    f"{ENVIRONMENT_VARIABLE}: expected <service>.<version>:<hex>, got {key_id!r}"
                )
            try:
                raw = bytes.fromhex(secret.strip())
            except ValueError:
                raise ValueError(f"{ENVIRONMENT_VARIABLE}: key {key_id} is not hex") from None
            if len(raw) < 32:
                raise ValueError(f"{ENVIRONMENT_VARIABLE}: key {key_id} is shorter than 32 bytes")
            keys.append(RecordKey(key_id, service, int(version), raw))
        if not keys:
            raise ValueError(f"{ENVIRONMENT_VARIABLE} holds no key")
        return cls(keys)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Self:
        """The keys of `HUIGONG_EVENT_KEYS`, with the adoption manifests of
        `HUIGONG_LEGACY_ADOPTIONS` (file paths) loaded; a manifest that does not verify fails."""
        env = os.environ if environ is None else environ
        text = env.get(ENVIRONMENT_VARIABLE)
        if not text:
            raise ValueError(
                f"{ENVIRONMENT_VARIABLE} is not set: the services' event keys "
                "(bin/stack and bin/run generate them into .local/secrets.env)"
            )
        keys = cls.parse(text)
        for path in (p.strip() for p in env.get(ADOPTIONS_VARIABLE, "").split(",")):
            if path:
                with open(path, "rb") as file:
                    keys.adopt(AdoptionManifest.load(file.read()))
        return keys

    def manifest_tag(self, manifest: AdoptionManifest) -> str:
        """The HMAC tag of an adoption manifest under its service's newest event key."""
        key = self._by_id.get(manifest.tag_key.encode())
        if key is None or key[1] != HMAC_FIRST or key[0].service != manifest.service:
            raise ValueError(f"{manifest.tag_key} is not an event key of {manifest.service} held here")
        return key[0].mac(manifest.signed_bytes()).hex()

    def adopt(self, manifest: AdoptionManifest) -> None:
        """Accept the untagged events the manifest lists, once its tag proves that its service
        made it."""
        if not hmac.compare_digest(self.manifest_tag(manifest), manifest.tag):
            raise ValueError(f"the adoption manifest of {manifest.service} does not verify (tag)")
        for event_id, digest in manifest.events:
            self._adopted[event_id] = (manifest.service, digest)

    @property
    def adopted(self) -> int:
        return len(self._adopted)

    @property
    def key_ids(self) -> list[str]:
        return sorted({key.key_id for key, _ in self._by_id.values()})

    def signing_key(self, service: str) -> RecordKey:
        try:
            return self._signing[service]
        except KeyError:
            raise ValueError(f"{ENVIRONMENT_VARIABLE} holds no key of {service}") from None

    def tag(self, event: RecordedEvent) -> RecordedEvent:
        """The event with its owning service's current key's tag over its Kafka form."""
        key = self.signing_key(topic_for_aggregate(event.aggregate_type).owner)
        fields: dict[str, Any] = dict(event.__dict__)
        fields["auth_key"] = key.key_id + LAYOUT_MARK
        fields["auth_tag"] = "0" * 2 * _SEALED  # a placeholder: the tag covers the header's name only
        untagged = RecordedEvent.trusted(**fields)
        _, value, headers = to_kafka(untagged)
        fields["auth_tag"] = key.sign(value, headers)
        return RecordedEvent.trusted(**fields)

    def owner_of(self, topic: str) -> str | None:
        """The service owning an event topic, whatever the prefix (`t1.huigong.registry.units`)."""
        owner = self._owners.get(topic, "")
        if owner == "":
            owner = None
            for candidate in EVENT_TOPICS:
                if topic == candidate.name or topic.endswith("." + candidate.name):
                    owner = candidate.owner
                    break
            self._owners[topic] = owner
        return owner

    def check(self, topic: str, value: bytes | None, headers: Sequence[tuple[str, bytes]]) -> str:
        """Raise NotAuthentic unless the record carries a valid tag of the owner of `topic`.
        Returns the key id. On every consumer's path, once per record, before decoding: one
        encoder call over the headers as they came, then one GMAC over them and the value."""
        try:
            key_header, key_name = headers[-2]
            tag_header, claimed = headers[-1]
        except (IndexError, TypeError, ValueError):
            if self._adopted and headers:
                return self._check_adopted(topic, value, headers)
            raise NotAuthentic("no authentication tag (no headers)") from None
        if tag_header != TAG_HEADER or key_header != KEY_HEADER:
            if self._adopted:
                return self._check_adopted(topic, value, headers)
            raise NotAuthentic("no authentication tag (ce_authkey, ce_authtag last)")
        accepted = self._accepted.get(topic)
        if accepted is None:
            accepted = self._accepted_on(topic)
        try:
            key, layout = accepted[key_name]
        except (KeyError, TypeError):
            raise self._refusal(topic, key_name) from None
        if value is None:
            raise NotAuthentic("record has no value")
        if layout == GMAC:
            compiled = key._compiled  # type: ignore[attr-defined]
            if compiled is not None:
                verdict = compiled.verify(headers, value, claimed)
                if verdict is True:
                    return key.key_id
                if verdict is False:
                    raise NotAuthentic(f"tag does not match (key {key.key_id})")
            try:
                sealed = binascii.unhexlify(claimed)
                covered = _encode_headers(headers[:-1]) + value
            except (TypeError, ValueError, msgspec.EncodeError):  # a tag not hex; a header no client makes
                raise NotAuthentic("a header is not a name and a value, or the tag is not hex") from None
            if len(sealed) != _SEALED:
                raise NotAuthentic(f"tag does not match (key {key.key_id})")
            try:
                key._gcm.decrypt(sealed[:_NONCE], sealed[_NONCE:], covered)  # type: ignore[attr-defined]
            except InvalidTag:
                raise NotAuthentic(f"tag does not match (key {key.key_id})") from None
            return key.key_id
        if layout == HMAC_FIRST:
            return self._check_legacy(key, value, headers)
        inner = key._inner.copy()  # type: ignore[attr-defined]
        try:
            inner.update(_encode_headers(headers[:-1]))
        except (TypeError, ValueError, msgspec.EncodeError):  # not a header as the Kafka client makes one
            raise NotAuthentic("a header is not a name and a value") from None
        inner.update(value)
        outer = key._outer.copy()  # type: ignore[attr-defined]
        outer.update(inner.digest())
        # `tag` writes lower-case hex: compared as written, in constant time.
        if not hmac.compare_digest(outer.hexdigest().encode(), claimed or b""):
            raise NotAuthentic(f"tag does not match (key {key.key_id})")
        return key.key_id

    def _check_adopted(self, topic: str, value: bytes | None, headers: Sequence[tuple[str, bytes]]) -> str:
        """An untagged record: accepted when the owner of its topic adopted its id with its chain
        hash and its content hashes to it (the chain hash covers the envelope and the data)."""
        found = dict(headers)
        event_id = bytes(found.get("ce_id") or b"").decode(errors="replace")
        adopted = self._adopted.get(event_id)
        if adopted is None:
            raise NotAuthentic("no authentication tag, and not an adopted event")
        service, digest = adopted
        if service != self.owner_of(topic):
            raise NotAuthentic(f"adopted by {service}, not by the owner of {topic}")
        try:
            record = from_kafka(value, headers)
        except EnvelopeError as exc:
            raise NotAuthentic(f"adopted event, unreadable: {exc}") from None
        if record.hash != digest or not record.hash_is_valid():
            raise NotAuthentic("adopted event, content does not hash to the adopted hash")
        return f"adopted by {service}"

    def _accepted_on(self, topic: str) -> dict[bytes, tuple[RecordKey, str]]:
        """The `ce_authkey` values a record of `topic` may carry: its owner's keys, both layouts."""
        owner = self.owner_of(topic)
        accepted = {name: found for name, found in self._by_id.items() if found[0].service == owner}
        self._accepted[topic] = accepted
        return accepted

    def _refusal(self, topic: str, key_name: object) -> NotAuthentic:
        found = self._by_id.get(key_name) if isinstance(key_name, bytes) else None
        if found is None:
            shown = bytes(key_name).decode(errors="replace") if isinstance(key_name, bytes) else ""
            return NotAuthentic(f"unknown key {shown[:40]!r}")
        owner = self.owner_of(topic)
        return NotAuthentic(
            f"key {found[0].key_id} is not a key of {owner or 'no service'}, owner of {topic}"
        )

    @staticmethod
    def _check_legacy(key: RecordKey, value: bytes, headers: Sequence[tuple[str, bytes]]) -> str:
        """`check` for a record tagged in the first layout (`legacy_message`)."""
        try:
            names, values = zip(*headers, strict=True)
            joined = b"\0".join(values)
            claimed = bytes.fromhex(values[-1].decode())
        except (TypeError, ValueError, UnicodeDecodeError):  # a null header, a tag not hex
            raise NotAuthentic("a header has no value or the tag is not hex") from None
        if joined.count(0) != len(values) - 1:
            raise NotAuthentic("a header value holds a NUL byte")
        inner = key._inner.copy()  # type: ignore[attr-defined]
        inner.update("\0".join(names).encode())
        inner.update(b"\x01")
        inner.update(memoryview(joined)[: len(joined) - len(values[-1])])  # up to the tag's NUL
        inner.update(value)
        outer = key._outer.copy()  # type: ignore[attr-defined]
        outer.update(inner.digest())
        if not hmac.compare_digest(outer.digest(), claimed):
            raise NotAuthentic(f"tag does not match (key {key.key_id})")
        return key.key_id


def compiled_check() -> bool:
    """Whether tags are checked by the compiled module (`_tagcheck.c`) rather than in Python."""
    return _CompiledGmac is not None


_default: tuple[str, RecordKeys] | None = None


def default_keys() -> RecordKeys:
    """The keys of this process's environment (`HUIGONG_EVENT_KEYS`, and the adoption manifests
    of `HUIGONG_LEGACY_ADOPTIONS`), loaded once per value."""
    global _default
    text = os.environ.get(ENVIRONMENT_VARIABLE, "") + "\0" + os.environ.get(ADOPTIONS_VARIABLE, "")
    if _default is None or _default[0] != text:
        _default = (text, RecordKeys.from_environment())
    return _default[1]


def new_secret() -> str:
    """A fresh key's secret: 32 random bytes, hex."""
    return os.urandom(32).hex()
