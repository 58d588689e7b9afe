"""Audit bundles: the history of an aggregate, a unit or a date range in one file an outside
auditor checks offline, holding no secret (`huigong audit-export`, `huigong audit-check-bundle`).

A bundle is a zip of:
- `events.jsonl`: each event as its service's store holds it (every envelope field, the data,
  the authentication tag), with the service and its position in that store;
- `checkpoints.jsonl`: the latest signed checkpoint of each service the events come from;
- `fold/<service>.bin`: every event of that service's store in order, up to its checkpoint's
  position, as its position (8 bytes, big-endian) and chain hash (32 bytes): the hashes are what
  the checkpoint's digest folds;
- `public-keys.json`: the checkpoint public keys (key id → hex) the exporter trusts;
- `manifest.json`: what the bundle covers, and the SHA-256 of every other file.

Checking (`check_bundle`) needs only the file: every file's SHA-256 against the manifest; each
event's hash recomputed from its content; each aggregate's `prev_hash` links between the events
present; each checkpoint's signature under the bundled public keys (which the auditor compares
with the keys the federation published); each fold file folding to its checkpoint's digest and
count; and each event's hash standing at its position in its service's fold. An event changed
by one byte, or a fold or checkpoint changed to match it, fails one of these.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from huigong_events.checkpoints import GENESIS, Checkpoint, trusted
from huigong_events.envelope import RecordedEvent, canonical_time
from huigong_platform.checkpoints import checkpoint_of
from huigong_platform.eventstore import row_to_event
from huigong_platform.settings import SERVICES

FORMAT = "huigong-audit-bundle/1"
HASH_SIZE = 32
ENTRY_SIZE = 8 + HASH_SIZE  # a fold file's entry: position, hash


@dataclass(frozen=True)
class Scope:
    """What to export: an aggregate's id (of any type, or of `aggregate_type`), or events
    recorded in [since, until)."""

    aggregate_id: str | None = None
    aggregate_type: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        args: list[Any] = []
        for column, value, op in (
            ("aggregate_id", self.aggregate_id, "="),
            ("aggregate_type", self.aggregate_type, "="),
            ("recorded_at", self.since, ">="),
            ("recorded_at", self.until, "<"),
        ):
            if value is not None:
                args.append(value)
                clauses.append(f"{column} {op} ${len(args)}")
        if not clauses:
            raise ValueError("name an aggregate, a unit or a date range")
        return " AND ".join(clauses), args

    def to_json(self) -> dict[str, Any]:
        return {
            "aggregate_id": self.aggregate_id,
            "aggregate_type": self.aggregate_type,
            "since": canonical_time(self.since) if self.since else None,
            "until": canonical_time(self.until) if self.until else None,
        }


def _event_json(service: str, position: int, event: RecordedEvent) -> bytes:
    fields = event.model_dump(mode="json")
    fields["occurred_at"] = canonical_time(event.occurred_at)
    fields["recorded_at"] = canonical_time(event.recorded_at)
    return orjson.dumps(
        {"service": service, "position": position, "event": fields}, option=orjson.OPT_SORT_KEYS
    )


async def export_bundle(
    admin_dsn: str, scope: Scope, public_keys: Mapping[str, str], out: Path
) -> dict[str, Any]:
    """Write the bundle of `scope` from every service's event store; returns its manifest."""
    where, args = scope.where()
    files: dict[str, bytes] = {}
    lines: list[bytes] = []
    checkpoints: list[bytes] = []
    conn = await asyncpg.connect(admin_dsn)
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            for service in SERVICES:
                rows = await conn.fetch(
                    f"SELECT * FROM {service}.events WHERE {where} ORDER BY position", *args
                )
                if not rows:
                    continue
                lines += [_event_json(service, r["position"], row_to_event(r)) for r in rows]
                last = await conn.fetchrow(
                    f"SELECT * FROM {service}.chain_checkpoints ORDER BY sequence DESC LIMIT 1"
                )
                if last is None:
                    continue
                checkpoint = checkpoint_of(service, last)
                checkpoints.append(checkpoint.to_json_bytes())
                hashes = await conn.fetch(
                    f"SELECT position, hash FROM {service}.events WHERE position <= $1 ORDER BY position",
                    checkpoint.position,
                )
                files[f"fold/{service}.bin"] = b"".join(
                    h[0].to_bytes(8, "big") + bytes.fromhex(h[1]) for h in hashes
                )
    finally:
        await conn.close()
    files["events.jsonl"] = b"".join(line + b"\n" for line in lines)
    files["checkpoints.jsonl"] = b"".join(line + b"\n" for line in checkpoints)
    files["public-keys.json"] = orjson.dumps(dict(public_keys), option=orjson.OPT_SORT_KEYS)
    manifest = {
        "format": FORMAT,
        "created_at": canonical_time(datetime.now(UTC)),
        "scope": scope.to_json(),
        "events": len(lines),
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())},
    }
    files["manifest.json"] = orjson.dumps(manifest, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return manifest


@dataclass
class BundleCheck:
    events: int = 0
    covered: int = 0  # events anchored to a signed checkpoint
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    public_keys: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_bundle(data: bytes) -> BundleCheck:
    """Check a bundle offline; every finding names what failed."""
    result = BundleCheck()
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        files = {name: archive.read(name) for name in archive.namelist()}
        manifest = orjson.loads(files.pop("manifest.json"))
    except (zipfile.BadZipFile, KeyError, orjson.JSONDecodeError, OSError) as exc:
        result.problems.append(f"not a readable bundle: {exc}")
        return result
    if manifest.get("format") != FORMAT:
        result.problems.append(f"unknown bundle format {manifest.get('format')!r}")
    listed: Mapping[str, str] = manifest.get("files", {})
    for name in sorted(set(listed) | set(files)):
        if name not in files:
            result.problems.append(f"{name}: listed in the manifest, missing")
        elif name not in listed:
            result.problems.append(f"{name}: not in the manifest")
        elif hashlib.sha256(files[name]).hexdigest() != listed[name]:
            result.problems.append(f"{name}: its SHA-256 is not the manifest's")
    try:
        result.public_keys = {
            str(k): str(v) for k, v in orjson.loads(files.get("public-keys.json", b"{}")).items()
        }
        checkpoints = {
            cp.service: cp
            for cp in (
                Checkpoint.model_validate_json(line) for line in _lines(files.get("checkpoints.jsonl", b""))
            )
        }
        entries = [orjson.loads(line) for line in _lines(files.get("events.jsonl", b""))]
    except ValueError as exc:
        result.problems.append(f"unreadable content: {exc}")
        return result
    folds = _check_checkpoints(checkpoints, files, result)
    _check_events(entries, checkpoints, folds, result)
    return result


def _lines(data: bytes) -> list[bytes]:
    return [line for line in data.split(b"\n") if line.strip()]


def _check_checkpoints(
    checkpoints: Mapping[str, Checkpoint], files: Mapping[str, bytes], result: BundleCheck
) -> dict[str, dict[int, bytes]]:
    """Each checkpoint's signature, and its fold file against its digest; the valid folds, as
    position → hash."""
    folds: dict[str, dict[int, bytes]] = {}
    for service, cp in sorted(checkpoints.items()):
        why = trusted(cp, result.public_keys)
        if why is not None:
            result.problems.append(f"checkpoint {service} #{cp.sequence}: {why}")
            continue
        raw = files.get(f"fold/{service}.bin")
        if raw is None or len(raw) % ENTRY_SIZE:
            result.problems.append(f"fold/{service}.bin: missing or not a list of (position, hash)")
            continue
        digest = GENESIS
        by_position: dict[int, bytes] = {}
        last = 0
        for i in range(0, len(raw), ENTRY_SIZE):
            position = int.from_bytes(raw[i : i + 8], "big")
            value = raw[i + 8 : i + ENTRY_SIZE]
            if position <= last:
                result.problems.append(f"fold/{service}.bin: positions out of order at {position}")
                break
            last = position
            by_position[position] = value
            digest = hashlib.sha256(digest + value).digest()
        else:
            if digest.hex() != cp.digest or len(by_position) != cp.events or last != cp.position:
                result.problems.append(
                    f"fold/{service}.bin: {len(by_position):,} events up to {last} fold to "
                    f"{digest.hex()[:16]}…, checkpoint #{cp.sequence} signed {cp.events:,} up to "
                    f"{cp.position} folding to {cp.digest[:16]}…"
                )
                continue
            folds[service] = by_position
    return folds


def _check_events(
    entries: Sequence[dict[str, Any]],
    checkpoints: Mapping[str, Checkpoint],
    folds: Mapping[str, Mapping[int, bytes]],
    result: BundleCheck,
) -> None:
    heads: dict[tuple[str, str], tuple[int, str]] = {}
    for entry in entries:
        result.events += 1
        try:
            event = RecordedEvent.model_validate(entry["event"])
            service, position = str(entry["service"]), int(entry["position"])
        except (KeyError, TypeError, ValueError) as exc:
            result.problems.append(f"event line {result.events}: not an event ({exc})"[:300])
            continue
        name = f"{event.aggregate_type} {event.aggregate_id} v{event.aggregate_version} ({event.id})"
        if not event.hash_is_valid():
            result.problems.append(f"{name}: its content does not hash to {event.hash[:16]}…")
        key = (event.aggregate_type, event.aggregate_id)
        before = heads.get(key)
        if before is not None and before[0] + 1 == event.aggregate_version and event.prev_hash != before[1]:
            result.problems.append(f"{name}: prev_hash is not the hash of version {before[0]}")
        heads[key] = (event.aggregate_version, event.hash)
        cp = checkpoints.get(service)
        if cp is None or position > cp.position:
            result.notes.append(f"{name}: recorded after the last checkpoint, not yet signed")
            continue
        fold = folds.get(service)
        if fold is None:
            continue  # its checkpoint already failed
        if fold.get(position, b"").hex() != event.hash:
            result.problems.append(
                f"{name}: not the event checkpoint #{cp.sequence} signed at position {position}"
            )
        else:
            result.covered += 1
