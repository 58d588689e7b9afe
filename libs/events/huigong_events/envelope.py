"""The envelope every event travels in, its tamper-evident hash, and its Kafka form.

The hash is SHA-256 over a canonical JSON encoding of every envelope field except the hash itself
(keys sorted, no spaces, UTF-8, times in UTC with microseconds). Each event also carries the hash
of the previous event of its aggregate, so an aggregate's history is a chain: altering, dropping
or reordering one event breaks every link after it.

On Kafka the envelope rides in record headers following the CloudEvents 1.0 Kafka protocol binding
in binary mode (`ce_*` headers, `content-type`), and the record value is the event data alone, so
district systems with CloudEvents tooling read and write it without knowing our classes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from uuid import UUID

import orjson
from pydantic import BaseModel, ConfigDict, Field, SkipValidation, field_validator
from pydantic_core import SchemaValidator

from .base import DomainEvent

HASH_ALGORITHM = "sha256"
CE_SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"


class EnvelopeError(ValueError):
    """A record that does not carry a valid envelope."""


@lru_cache(maxsize=4096)
def canonical_time(value: datetime) -> str:
    """UTC with microseconds and a Z, e.g. 2024-06-30T15:59:59.000000Z. Cached: a batch of events
    recorded together shares its timestamps, and formatting dominates hashing otherwise."""
    if value.tzinfo is None:
        raise EnvelopeError("timestamps must be timezone-aware")
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8 without escaping non-ASCII: byte-identical to
    json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")), several times
    faster (tests/unit/test_envelope.py checks the two agree)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


class RecordedEvent(BaseModel):
    """An event as stored and published: envelope plus raw data at its own schema version.

    `data` is kept raw (as recorded) rather than typed: the hash covers the bytes that were
    recorded, and old versions are upcast only when an event is decoded for use.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: UUID = Field(title="事件编号")
    type: str = Field(title="事件类型", min_length=1, max_length=80)
    schema_version: int = Field(title="结构版本", ge=1)
    aggregate_type: str = Field(title="聚合类型", min_length=1, max_length=40)
    aggregate_id: str = Field(title="聚合编号", min_length=1, max_length=200)
    aggregate_version: int = Field(title="聚合版本", ge=1)
    occurred_at: datetime = Field(title="业务发生时间")
    recorded_at: datetime = Field(title="记录时间")
    actor: str = Field(title="操作主体", description="经认证的主体（人员或系统）", min_length=1)
    source: str = Field(title="来源", description="区市代码、集团工会代码或系统名", min_length=1)
    correlation_id: str = Field(title="关联编号", min_length=1, max_length=100)
    causation_id: str | None = Field(default=None, title="起因编号", max_length=100)
    prev_hash: str | None = Field(default=None, title="前一事件哈希", pattern=r"^[0-9a-f]{64}$")
    hash: str = Field(title="事件哈希", pattern=r"^[0-9a-f]{64}$")
    # Not re-validated item by item: every constructor passes a parsed JSON object (from_kafka
    # checks it is one), and the typed payload is validated by `decode`.
    data: SkipValidation[dict[str, Any]] = Field(title="事件数据")
    # Proof that the owning service wrote it (huigong_events.authenticity): the key's name and
    # a MAC over the Kafka record (GMAC with its nonce, 56 hex digits; HMAC-SHA-256 on older
    # records, 64). Outside the chain hash, which the tag covers.
    auth_key: str | None = Field(default=None, title="认证密钥", max_length=80)
    auth_tag: str | None = Field(default=None, title="认证标签", pattern=r"^[0-9a-f]{56}([0-9a-f]{8})?$")

    @field_validator("occurred_at", "recorded_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        return value

    @classmethod
    def trusted(cls, **fields: Any) -> RecordedEvent:
        """Build from values that are already of the right types (sealed here, or read from our
        own store), skipping validation. What pydantic's model_construct does, without its
        per-field default handling, which costs more than sealing the event on the hot paths."""
        if "auth_tag" not in fields:
            fields["auth_key"] = fields["auth_tag"] = None
        event = cls.__new__(cls)
        object.__setattr__(event, "__dict__", fields)
        object.__setattr__(event, "__pydantic_fields_set__", set(fields))
        object.__setattr__(event, "__pydantic_extra__", None)
        object.__setattr__(event, "__pydantic_private__", None)
        return event

    def hash_input(self) -> bytes:
        return hash_input(self.model_dump(exclude={"hash"}))

    def computed_hash(self) -> str:
        return hashlib.sha256(self.hash_input()).hexdigest()

    def hash_is_valid(self) -> bool:
        return self.computed_hash() == self.hash


def hash_input(fields: Mapping[str, Any]) -> bytes:
    encodable = {
        "id": str(fields["id"]),
        "type": fields["type"],
        "schema_version": fields["schema_version"],
        "aggregate_type": fields["aggregate_type"],
        "aggregate_id": fields["aggregate_id"],
        "aggregate_version": fields["aggregate_version"],
        "occurred_at": canonical_time(fields["occurred_at"]),
        "recorded_at": canonical_time(fields["recorded_at"]),
        "actor": fields["actor"],
        "source": fields["source"],
        "correlation_id": fields["correlation_id"],
        "causation_id": fields["causation_id"],
        "prev_hash": fields["prev_hash"],
        "data": fields["data"],
    }
    return canonical_json(encodable)


def seal(
    *,
    event: DomainEvent,
    event_id: UUID,
    aggregate_id: str,
    aggregate_version: int,
    occurred_at: datetime,
    recorded_at: datetime,
    actor: str,
    source: str,
    correlation_id: str,
    causation_id: str | None,
    prev_hash: str | None,
) -> RecordedEvent:
    """Wrap a new domain event in its envelope and compute its hash."""
    # Round-trip through JSON text so the hashed data is exactly what a reader will parse back.
    data = orjson.loads(canonical_json(event.to_data()))
    fields: dict[str, Any] = {
        "id": event_id,
        "type": event.type,
        "schema_version": type(event).schema_version,
        "aggregate_type": type(event).aggregate_type,
        "aggregate_id": aggregate_id,
        "aggregate_version": aggregate_version,
        "occurred_at": occurred_at,
        "recorded_at": recorded_at,
        "actor": actor,
        "source": source,
        "correlation_id": correlation_id,
        "causation_id": causation_id,
        "prev_hash": prev_hash,
        "data": data,
    }
    digest = hashlib.sha256(hash_input(fields)).hexdigest()
    # Every field was produced here from typed, validated values: no need to validate again.
    return RecordedEvent.trusted(**fields, hash=digest)


# --- CloudEvents 1.0 Kafka protocol binding, binary content mode -------------------------------
# Extension attribute names must be lower-case alphanumerics (CloudEvents 1.0 §3.1.1).
_EXTENSIONS = {
    "schema_version": "ce_schemaversion",
    "aggregate_type": "ce_aggregatetype",
    "aggregate_version": "ce_aggregateversion",
    "recorded_at": "ce_recordedat",
    "actor": "ce_actor",
    "correlation_id": "ce_correlationid",
    "causation_id": "ce_causationid",
    "prev_hash": "ce_prevhash",
    "hash": "ce_hash",
}


def dataschema(event_type: str, version: int) -> str:
    return f"urn:huigong:schema:{event_type}:v{version}"


def to_kafka(event: RecordedEvent) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """(key, value, headers) for a Kafka record. The key is the aggregate id, so one aggregate's
    events share a partition and keep their order."""
    headers: list[tuple[str, str]] = [
        ("ce_specversion", CE_SPEC_VERSION),
        ("ce_id", str(event.id)),
        ("ce_source", event.source),
        ("ce_type", event.type),
        ("ce_subject", event.aggregate_id),
        ("ce_time", canonical_time(event.occurred_at)),
        ("ce_dataschema", dataschema(event.type, event.schema_version)),
        ("content-type", CONTENT_TYPE),
        ("ce_schemaversion", str(event.schema_version)),
        ("ce_aggregatetype", event.aggregate_type),
        ("ce_aggregateversion", str(event.aggregate_version)),
        ("ce_recordedat", canonical_time(event.recorded_at)),
        ("ce_actor", event.actor),
        ("ce_correlationid", event.correlation_id),
        ("ce_hash", event.hash),
    ]
    if event.causation_id is not None:
        headers.append(("ce_causationid", event.causation_id))
    if event.prev_hash is not None:
        headers.append(("ce_prevhash", event.prev_hash))
    if event.auth_tag is not None and event.auth_key is not None:
        # Last, in this order: the tag covers every header before it (authenticity.message).
        headers.append(("ce_authkey", event.auth_key))
        headers.append(("ce_authtag", event.auth_tag))
    return (
        event.aggregate_id.encode(),
        canonical_json(event.data),
        [(name, value.encode()) for name, value in headers],
    )


def from_kafka(value: bytes | None, headers: Iterable[tuple[str, bytes]]) -> RecordedEvent:
    """Rebuild the envelope from a record; EnvelopeError says what is missing or malformed.

    On every projection's path, once per record. The headers are decoded in one comprehension
    and handed, under their own names, to the envelope's own pydantic validator reading each
    field from its header (`validate_headers`): one call validates the UUID, integers,
    timestamps, lengths and hash patterns. A record that fails there is read again by
    `checked_envelope`, which names what is wrong; both give the same envelope
    (tests/unit/test_envelope.py)."""
    try:
        text: dict[str, Any] = {name: raw.decode() for name, raw in headers}
    except UnicodeDecodeError:
        return checked_envelope(value, headers)
    if text.get("ce_specversion") == CE_SPEC_VERSION and value is not None:
        try:
            data = orjson.loads(value)
        except orjson.JSONDecodeError:
            data = None
        if type(data) is dict:
            # A header literally named "data" is not the envelope's: replaced here, ignored by
            # checked_envelope.
            text["data"] = data
            try:
                return validate_headers(text)
            except ValueError:
                pass
    return checked_envelope(value, headers)


def checked_envelope(value: bytes | None, headers: Iterable[tuple[str, bytes]]) -> RecordedEvent:
    """from_kafka header by header: the reference reading, and the one whose EnvelopeError says
    which header is missing, is not UTF-8 or is malformed."""
    fields: dict[str, Any] = {}
    spec: str | None = None
    name = ""
    try:
        for name, raw in headers:
            attribute = _ATTRIBUTE_OF.get(name)
            if attribute is not None:
                fields[attribute] = raw.decode()
            elif name == "ce_specversion":
                spec = raw.decode()
            else:
                raw.decode()  # every header must be UTF-8, even those we do not read
    except UnicodeDecodeError as exc:
        raise EnvelopeError(f"header {name} is not UTF-8") from exc
    if spec != CE_SPEC_VERSION:
        raise EnvelopeError("not a CloudEvents 1.0 record (ce_specversion)")
    if value is None:
        raise EnvelopeError("record has no value")
    try:
        data = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise EnvelopeError(f"value is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise EnvelopeError("value is not a JSON object")
    if len(fields) < len(_ATTRIBUTE_OF):
        for header, attribute in _HEADER_FIELDS:
            if attribute not in fields and attribute not in _OPTIONAL:
                raise EnvelopeError(f"missing header {header}")
    fields["data"] = data
    try:
        # pydantic parses the UUID, integers and timestamps from the header strings.
        return _validate_envelope(fields)
    except ValueError as exc:
        raise EnvelopeError(f"malformed envelope: {exc}") from exc


_HEADER_FIELDS: tuple[tuple[str, str], ...] = (
    ("ce_id", "id"),
    ("ce_type", "type"),
    ("ce_schemaversion", "schema_version"),
    ("ce_aggregatetype", "aggregate_type"),
    ("ce_subject", "aggregate_id"),
    ("ce_aggregateversion", "aggregate_version"),
    ("ce_time", "occurred_at"),
    ("ce_recordedat", "recorded_at"),
    ("ce_actor", "actor"),
    ("ce_source", "source"),
    ("ce_correlationid", "correlation_id"),
    ("ce_causationid", "causation_id"),
    ("ce_prevhash", "prev_hash"),
    ("ce_hash", "hash"),
)
_OPTIONAL = frozenset({"causation_id", "prev_hash"})
_ATTRIBUTE_OF: dict[str, str] = {
    **dict(_HEADER_FIELDS),
    "ce_authkey": "auth_key",
    "ce_authtag": "auth_tag",
}
# RecordedEvent.model_validate without its Python wrapper: the same validation, once per record.
_validate_envelope: Callable[[dict[str, Any]], RecordedEvent] = (
    RecordedEvent.__pydantic_validator__.validate_python
)


def _header_validator() -> Callable[[dict[str, Any]], RecordedEvent]:
    """RecordedEvent's own core schema (same types, constraints, validators, instance) with each
    field read from its CloudEvents header by name, and headers the envelope does not carry
    ignored rather than refused: renaming the headers into fields in Python cost about as much
    as validating them."""
    model = dict(RecordedEvent.__pydantic_core_schema__)
    if model.get("type") != "model" or model["schema"].get("type") != "model-fields":
        raise TypeError("RecordedEvent's core schema is not a plain model")
    fields_schema = dict(model["schema"])
    fields = {name: dict(field) for name, field in fields_schema["fields"].items()}
    unread = set(fields) - set(_ATTRIBUTE_OF.values()) - {"data"}
    if unread:
        # Else every record would fail here and be read header by header, correctly but slowly.
        raise TypeError(f"envelope fields without a header: {sorted(unread)}")
    for header, attribute in _ATTRIBUTE_OF.items():
        fields[attribute]["validation_alias"] = header
    fields_schema["fields"] = fields
    model["schema"] = fields_schema
    model["config"] = {**model.get("config", {}), "extra_fields_behavior": "ignore"}
    # pydantic-core reuses a complete model's own validator for any schema naming its class,
    # which would ignore the aliases: the class reads as incomplete while this one is built.
    RecordedEvent.__pydantic_complete__ = False
    try:
        validator = SchemaValidator(model)
    finally:
        RecordedEvent.__pydantic_complete__ = True
    validate: Callable[[dict[str, Any]], RecordedEvent] = validator.validate_python
    return validate


validate_headers = _header_validator()
"""The envelope of a dict of header texts by their CloudEvents names plus `data`, the parsed
value; raises pydantic's ValidationError (from_kafka turns that into an EnvelopeError)."""
