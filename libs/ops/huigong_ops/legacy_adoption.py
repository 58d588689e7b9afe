"""`huigong events adopt-legacy`: verify the history recorded before tags, then adopt it.

The untagged events are checked as `huigong verify` checks everything (each service's topics
and its event store: chains, hashes, the two copies against each other, the signed
checkpoints), with one difference: a record without any tag is accepted for the check and noted.
A record whose tag fails is still `forged` and is never adopted. Only when that verification
finds nothing are the noted events written into one signed adoption manifest per service
(`huigong_events.adoption`); consumers given the manifests then apply them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog

from huigong_events.adoption import AdoptionManifest
from huigong_events.authenticity import KEY_HEADER, TAG_HEADER, NotAuthentic, RecordKey, RecordKeys
from huigong_events.checkpoints import CheckpointKeys
from huigong_events.envelope import EnvelopeError, from_kafka
from huigong_events.topics import EVENT_TOPICS

from .verify import VerifyReport, verify

log = structlog.get_logger("huigong.ops.adoption")


class LegacyCollector(RecordKeys):
    """The event keys, accepting for the check a record without any tag whose content hashes to
    its chain hash, and noting it by its topic's owner."""

    def __init__(self, keys: Sequence[RecordKey]) -> None:
        super().__init__(keys)
        self.untagged: dict[str, dict[str, str]] = {}

    def check(self, topic: str, value: bytes | None, headers: Sequence[tuple[str, bytes]]) -> str:
        try:
            return super().check(topic, value, headers)
        except NotAuthentic:
            if any(name in (KEY_HEADER, TAG_HEADER) for name, _ in headers):
                raise  # a tag that does not verify is a forgery, never legacy
            owner = self.owner_of(topic)
            try:
                record = from_kafka(value, headers)
            except EnvelopeError:
                raise NotAuthentic("untagged and unreadable") from None
            if owner is None or not record.hash_is_valid():
                raise NotAuthentic("untagged, and its content does not hash to its chain hash") from None
            self.untagged.setdefault(owner, {})[str(record.id)] = record.hash
            return "untagged"


@dataclass
class Adoption:
    report: VerifyReport
    manifests: list[AdoptionManifest]


async def adopt_legacy(
    bootstrap: str,
    prefix: str,
    dsn: str,
    services: Sequence[str],
    actor: str,
    environ: Mapping[str, str],
    public_keys: Mapping[str, str],
) -> Adoption:
    """Verify the services' topics and stores with untagged records let through; when nothing
    is found, one signed manifest per service that has untagged events. `environ` holds the
    event keys (and earlier manifests) and the services' checkpoint keys."""
    keys = LegacyCollector.from_environment(environ)
    signing = CheckpointKeys.from_environment(environ)
    topics = [t for t in EVENT_TOPICS if t.owner in services]
    report = await verify(bootstrap, prefix, topics, keys=keys, dsn=dsn, public_keys=public_keys)
    if not report.ok:
        return Adoption(report, [])
    manifests: list[AdoptionManifest] = []
    now = datetime.now(UTC)
    for service in sorted(keys.untagged):
        key = signing.signing_key(service)
        if key is None:
            raise ValueError(f"no checkpoint key of {service} to sign its adoption manifest with")
        manifest = AdoptionManifest(
            service=service,
            adopted_at=now,
            actor=actor,
            events=list(keys.untagged[service].items()),
            key_id=key.key_id,
            public_key=key.public_hex,
            tag_key=keys.signing_key(service).key_id,
        )
        manifest = manifest.model_copy(
            update={
                "signature": key.private.sign(manifest.signed_bytes()).hex(),
                "tag": keys.manifest_tag(manifest),
            }
        )
        manifests.append(manifest)
        # An operator's decision about the record of record: logged for the audit trail.
        log.warning(
            "legacy events adopted", service=service, events=len(manifest.events), actor=actor, key=key.key_id
        )
    return Adoption(report, manifests)
