"""The services' event keys in a KEY=value secrets file (`.local/secrets.env`, docker-compose's
`.env`): generated once, rotated by adding a version, never printed (docs/security-events.md)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from huigong_events.authenticity import ENVIRONMENT_VARIABLE as EVENT_KEYS
from huigong_events.authenticity import RecordKeys, new_secret
from huigong_events.checkpoints import CheckpointKeys, new_seed
from huigong_platform.settings import SERVICES

from .kafka_acls import read_env_file


def checkpoint_variable(service: str) -> str:
    """docker-compose hands each service only its own checkpoint key, from this variable."""
    return f"HUIGONG_{service.upper()}_CHECKPOINT_KEY"


def _write(path: Path, values: Mapping[str, str]) -> None:
    """Set `values` in the file: a variable's line replaced where it is, else appended."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    lines = path.read_text().splitlines()
    todo = dict(values)
    for i, line in enumerate(lines):
        name = line.partition("=")[0].strip()
        if name in todo:
            lines[i] = f"{name}={todo.pop(name)}"
    lines += [f"{name}={value}" for name, value in todo.items()]
    path.write_text("\n".join(lines) + "\n")


def ensure(path: Path) -> list[str]:
    """Add what is missing: every service's event key (version 1) and each service's checkpoint
    key; existing keys are never changed. Returns the variables added."""
    existing = read_env_file(path)
    added: dict[str, str] = {}
    if not existing.get(EVENT_KEYS):
        added[EVENT_KEYS] = ",".join(f"{s}.1:{new_secret()}" for s in SERVICES)
    for service in SERVICES:
        if not existing.get(checkpoint_variable(service)):
            added[checkpoint_variable(service)] = f"{service}.1:{new_seed()}"
    if added:
        _write(path, added)
    return sorted(added)


def rotate(path: Path, service: str) -> str:
    """Add the next version of `service`'s event key; the old ones stay, so records tagged
    under them still verify. Returns the new key's name."""
    existing = read_env_file(path).get(EVENT_KEYS, "")
    RecordKeys.parse(existing)  # refuse to extend a malformed setting
    versions = [int(v) for v in re.findall(rf"(?:^|,)\s*{re.escape(service)}\.(\d+):", existing)]
    key_id = f"{service}.{max(versions, default=0) + 1}"
    _write(
        path, {EVENT_KEYS: f"{existing},{key_id}:{new_secret()}" if existing else f"{key_id}:{new_secret()}"}
    )
    return key_id


def public_keys(environ: Mapping[str, str]) -> dict[str, str]:
    """The checkpoint public keys (key id → hex) of the private keys in `environ`: what to
    publish for auditors."""
    texts = [environ.get("HUIGONG_CHECKPOINT_KEYS", "")]
    texts += [environ.get(checkpoint_variable(s), "") for s in SERVICES]
    found: dict[str, str] = {}
    for text in texts:
        found.update(CheckpointKeys.parse(text).public_keys())
    return dict(sorted(found.items()))
