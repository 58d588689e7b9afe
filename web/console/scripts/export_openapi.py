"""Writes the four services' OpenAPI documents into web/console/openapi/, from which
`npm run api` generates the console's types (src/api/schema/*.ts), and the names of the city,
districts and group unions (openapi/reference.json) the console shows instead of codes. Each app is built as its
process builds it, with placeholder settings: nothing is connected.
tests/unit/test_console_api.py fails when a committed document differs from the code's."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from huigong_events.forms import PartnerCategory, ReportingDepartment, ServiceField
from huigong_events.reference import (
    CITY_CODE,
    CITY_NAME,
    DISTRICTS,
    FACILITY_LABELS,
    GROUP_UNIONS,
    REVIEW_DIMENSIONS,
    ComplianceFactKind,
    Programme,
    StationHost,
)
from huigong_events.warmth import DeliveryStatus, Festival, Occasion, WarmthForm
from huigong_intake.app import create_app as intake_app
from huigong_intake.projections.applications import ApplicationStatus
from huigong_intake.settings import IntakeSettings
from huigong_metrics.app import create_app as metrics_app
from huigong_platform.settings import Settings
from huigong_registry.app import create_app as registry_app
from huigong_registry.domain.certification import CRITERIA
from huigong_review.app import create_app as review_app
from huigong_review.settings import ReviewSettings

OUT = Path(__file__).resolve().parents[1] / "openapi"
DSN = "postgresql://nobody@127.0.0.1:1/none"
# Placeholder keys of the right form: the apps are built, never started.
EVENT_KEYS = ",".join(f"{s}.1:{'00' * 32}" for s in ("intake", "review", "registry", "metrics"))


def documents() -> dict[str, dict[str, Any]]:
    apps = {
        "intake": intake_app(
            IntakeSettings(
                service="intake",
                database_url=DSN,
                member_key_secret="00" * 32,
                personal_data_kek="00" * 32,
                event_keys=EVENT_KEYS,
            )
        ),
        "review": review_app(ReviewSettings(service="review", database_url=DSN, event_keys=EVENT_KEYS)),
        "registry": registry_app(Settings(service="registry", database_url=DSN, event_keys=EVENT_KEYS)),
        "metrics": metrics_app(Settings(service="metrics", database_url=DSN, event_keys=EVENT_KEYS)),
    }
    return {name: app.openapi() for name, app in apps.items()}


def reference() -> dict[str, Any]:
    """The names the console shows instead of codes (huigong_events.reference), and the lists its
    forms are built from: the panel's five scoring dimensions and each programme's 认定 criteria;
    and the labels of the codes the district's pages offer in their lists (an application's status,
    a programme, a partner's category, a declared fact's kind, a reporting department, a project's
    field, a station's host, a 送温暖's occasion, festival, form and status), the very labels the
    API's answers
    carry beside the codes (`<field>_label`), so console and API use the same words."""
    return {
        "city": {CITY_CODE: CITY_NAME},
        "districts": DISTRICTS,
        "group_unions": GROUP_UNIONS,
        "review_dimensions": list(REVIEW_DIMENSIONS),
        "criteria": {programme.value: list(names) for programme, names in CRITERIA.items()},
        "facility_kinds": {kind.value: label for kind, label in FACILITY_LABELS.items()},
        # Lists, not mappings: the document's keys are sorted, and a list keeps the code's order.
        "labels": {
            name: [{"value": code, "label": label} for code, label in enumeration.labels().items()]
            for name, enumeration in (
                ("application_status", ApplicationStatus),
                ("programme", Programme),
                ("partner_category", PartnerCategory),
                ("compliance_fact_kind", ComplianceFactKind),
                ("reporting_department", ReportingDepartment),
                ("service_field", ServiceField),
                ("station_host", StationHost),
                ("occasion", Occasion),
                ("festival", Festival),
                ("warmth_form", WarmthForm),
                ("delivery_status", DeliveryStatus),
            )
        },
    }


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for name, document in documents().items():
        (OUT / f"{name}.json").write_text(render(document), encoding="utf-8")
        print(f"openapi/{name}.json", file=sys.stderr)
    (OUT / "reference.json").write_text(render(reference()), encoding="utf-8")


if __name__ == "__main__":
    main()
