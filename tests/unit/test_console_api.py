"""The console's typed API client is generated from the OpenAPI documents committed in
web/console/openapi/ (`npm run api` in web/console). A service whose API changed without them
being regenerated fails here, before the console's types silently drift from the server."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

CONSOLE = Path(__file__).resolve().parents[2] / "web" / "console"


def exporter() -> ModuleType:
    spec = importlib.util.spec_from_file_location("export_openapi", CONSOLE / "scripts" / "export_openapi.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


EXPORT = exporter()
DOCUMENTS = EXPORT.documents()


@pytest.mark.parametrize("service", sorted(DOCUMENTS))
def test_the_committed_openapi_document_is_the_services_own(service: str) -> None:
    committed = (CONSOLE / "openapi" / f"{service}.json").read_text(encoding="utf-8")
    assert committed == EXPORT.render(DOCUMENTS[service]), (
        f"web/console/openapi/{service}.json is stale: run `npm run api` in web/console and commit "
        "openapi/ and src/api/schema/"
    )


def test_the_generated_types_are_those_of_the_committed_documents() -> None:
    # openapi-typescript writes each schema's title into the types: a document newer than its
    # types shows as a title the types lack.
    for service in DOCUMENTS:
        types = (CONSOLE / "src" / "api" / "schema" / f"{service}.ts").read_text(encoding="utf-8")
        for name in json.loads((CONSOLE / "openapi" / f"{service}.json").read_text())["components"][
            "schemas"
        ]:
            assert f"        {name}: " in types, (
                f"src/api/schema/{service}.ts lacks {name}: run `npm run api`"
            )


def test_the_console_names_areas_as_the_platform_does() -> None:
    committed = json.loads((CONSOLE / "openapi" / "reference.json").read_text(encoding="utf-8"))
    assert committed == EXPORT.reference()
