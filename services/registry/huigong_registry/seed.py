"""`huigong-seed`: loads the 2022 pilot cohort of annex 2 and the 11 service centres through the
registry's API (the real event path: event store, outbox, Kafka). Every entry has a stable id
and idempotency key, so running it again changes nothing. It registers as `registrar:seed-2022`,
with that principal's API key from the keyring (`--keyring`, written by bin/run)."""

from __future__ import annotations

import json
import sys
import time
import uuid
from pathlib import Path
from typing import Annotated

import httpx
import typer

from huigong_events.forms import PartnerCategory
from huigong_platform.credentials import Keyring, default_keyring_path

from .domain.cohort import (
    HAPPY_ENTERPRISES,
    PARTNERS,
    PILOT_DATE,
    SERVICE_BASES,
    SERVICE_CENTRES,
    CohortEntry,
)

app = typer.Typer(
    help="载入2022年试点单位（附件2）和11个职工服务中心 / load the 2022 pilot cohort", add_completion=False
)

PRINCIPAL = "registrar:seed-2022"


def credentials(keyring: Path) -> dict[str, str]:
    try:
        key = Keyring.load(keyring)[PRINCIPAL]
    except KeyError:
        raise typer.BadParameter(
            f"{keyring} 中没有 {PRINCIPAL} 的密钥 / no key for {PRINCIPAL} in {keyring}: run bin/run, or "
            f"huigong keys create --role registrar --code seed-2022 --actor <you> --keyring {keyring}",
            param_hint="--keyring",
        ) from None
    return {"Authorization": f"Bearer {key}"}


def unit_body(entry: CohortEntry, origin: str) -> dict[str, object]:
    return {
        "unit_id": str(entry.id),
        "name": entry.name,
        "programme": entry.programme.value,
        "area": entry.area,
        "origin": origin,
        "registered_on": PILOT_DATE,
    }


def partner_body(entry: CohortEntry) -> dict[str, object]:
    return {
        "partner_id": str(entry.id),
        "name": entry.name,
        # Annex 2 gives no type; the five pilots are social organisations (公益组织).
        "category": PartnerCategory.公益慈善.value,
        "area": entry.area,
        "origin": "pilot_2022",
        "registered_on": PILOT_DATE,
    }


def load(registry_url: str, auth: dict[str, str]) -> dict[str, int]:
    counts = {"new": 0, "already": 0}
    requests: list[tuple[str, dict[str, object], uuid.UUID]] = [
        *(("/units", unit_body(e, "service_centre"), e.id) for e in SERVICE_CENTRES),
        *(("/units", unit_body(e, "pilot_2022"), e.id) for e in (*HAPPY_ENTERPRISES, *SERVICE_BASES)),
        *(("/partners", partner_body(e), e.id) for e in PARTNERS),
    ]
    with httpx.Client(base_url=registry_url, timeout=30, headers=auth) as client:
        for path, body, entry_id in requests:
            response = client.post(path, json=body, headers={"Idempotency-Key": f"seed-2022:{entry_id}"})
            if response.status_code not in (200, 201):
                raise RuntimeError(f"{path} {body['name']}: {response.status_code} {response.text}")
            counts["already" if response.headers.get("Idempotent-Replayed") else "new"] += 1
        # Recorded is not yet visible: wait (bounded) until the registry's read model has caught
        # up, so the dashboard shows the cohort when bin/run prints its URL.
        units = len(SERVICE_CENTRES) + len(HAPPY_ENTERPRISES) + len(SERVICE_BASES)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            seen_units = client.get("/units", params={"page_size": 1}).json()["total"]
            seen_partners = client.get("/partners").json()["total"]
            if seen_units >= units and seen_partners >= len(PARTNERS):
                break
            time.sleep(0.3)
        else:
            raise RuntimeError("the registry did not show the cohort within 60 s; see its log")
    return counts


KeyringOption = Annotated[
    Path | None,
    typer.Option(
        "--keyring",
        help="密钥文件（bin/run 生成）/ keyring file written by bin/run (default: HUIGONG_KEYRING or "
        ".local/keyring.json)",
        show_default=False,
    ),
]


@app.command()
def main(
    registry_url: str = typer.Option("http://127.0.0.1:8103", help="登记服务地址 / registry URL"),
    keyring: KeyringOption = None,
) -> None:
    """载入试点单位；重复运行不会重复登记 / idempotent: a second run registers nothing new."""
    counts = load(registry_url, credentials(keyring or default_keyring_path()))
    print(json.dumps({"cohort_2022": counts, "total": sum(counts.values())}, ensure_ascii=False))


if __name__ == "__main__":
    sys.exit(app())
