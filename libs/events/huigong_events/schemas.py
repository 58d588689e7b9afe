"""JSON Schema files for district systems: one file per event type and version, generated from
the models. `python -m huigong_events.schemas` writes them; `--check` fails when the files on
disk differ from the models (run by the test suite, so CI fails on drift)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .catalogue import EVENT_TYPES
from .envelope import RecordedEvent, dataschema
from .outbound import NOTICE_TYPES

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"


def rendered() -> dict[str, str]:
    files: dict[str, str] = {}
    for name, cls in sorted(EVENT_TYPES.items()):
        schema = cls.model_json_schema(mode="validation")
        # The discriminator travels in the envelope (ce_type), not in the data.
        schema.get("properties", {}).pop("type", None)
        if "required" in schema:
            schema["required"] = [r for r in schema["required"] if r != "type"]
        schema = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": dataschema(name, cls.schema_version),
            "x-owner": cls.owner,
            "x-aggregate-type": cls.aggregate_type,
            "x-schema-version": cls.schema_version,
            **schema,
        }
        files[f"{name}.v{cls.schema_version}.schema.json"] = _dump(schema)
    # What districts hear back on their outbound topics: the value is the whole notice.
    for name, notice in sorted(NOTICE_TYPES.items()):
        schema = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": dataschema(name, notice.schema_version),
            "x-owner": "intake",
            "x-topic": "huigong.outbound.<code>",
            "x-record-kind": notice.record_kind,
            "x-schema-version": notice.schema_version,
            **notice.model_json_schema(mode="validation"),
        }
        files[f"{name}.v{notice.schema_version}.schema.json"] = _dump(schema)
    envelope = RecordedEvent.model_json_schema()
    files["_envelope.schema.json"] = _dump(
        {"$schema": "https://json-schema.org/draft/2020-12/schema", **envelope}
    )
    return files


def _dump(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def drift(directory: Path = SCHEMA_DIR) -> list[str]:
    """What differs between the models and the files: missing, changed or stale files."""
    wanted = rendered()
    present = {p.name: p.read_text(encoding="utf-8") for p in directory.glob("*.json")}
    problems = [f"missing {n}" for n in wanted if n not in present]
    problems += [f"changed {n}" for n in wanted if n in present and present[n] != wanted[n]]
    # An old version's schema stays published: district systems may still send it.
    problems += [f"stale {n}" for n in present if n not in wanted and not _older_version_of_known(n, wanted)]
    return problems


def _older_version_of_known(name: str, wanted: dict[str, str]) -> bool:
    stem = name.split(".v")[0]
    return any(w.startswith(f"{stem}.v") for w in wanted)


def write(directory: Path = SCHEMA_DIR) -> int:
    directory.mkdir(parents=True, exist_ok=True)
    written = 0
    for name, text in rendered().items():
        path = directory / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            written += 1
    return written


def main(argv: list[str]) -> int:
    if "--check" in argv:
        problems = drift()
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print("run: python -m huigong_events.schemas", file=sys.stderr)
        return 1 if problems else 0
    print(f"{write()} schema file(s) written to {SCHEMA_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
