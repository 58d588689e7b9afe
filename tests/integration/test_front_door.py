"""One front door (nginx, started by `bin/stack start nginx`) in front of the four real services:
one port serves the console, the dashboard and the four APIs under /api/<service>/; each API's
OpenAPI document and documentation pages name the prefix, and the pages work with nothing from
outside this machine (Swagger UI and ReDoc come from the services themselves)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import Request, Route, expect

from ..conftest import Stack
from .browser import chromium
from .frontdoor import FrontDoor, front_door
from .processes import ServiceProcess, artefacts_dir, running

SERVICES = ("intake", "review", "registry", "metrics")
OFFSET = 1600


@pytest.fixture(scope="module")
async def services(stack: Stack) -> AsyncIterator[tuple[ServiceProcess, ...]]:
    async with running(stack, SERVICES, OFFSET, "front-door") as procs:
        yield procs


@pytest.fixture(scope="module")
def door(services: tuple[ServiceProcess, ...]) -> Iterator[FrontDoor]:
    with front_door(services[0].port) as opened:
        yield opened


async def test_one_port_serves_the_console_the_dashboard_and_the_four_apis(door: FrontDoor) -> None:
    async with httpx.AsyncClient(base_url=door.url, timeout=30) as client:
        page = await client.get("/")
        assert page.status_code == 200 and "惠工" in page.text, page.text[:200]
        # A console route opened directly (a bookmark, a reload) is the console too.
        deep = await client.get("/district/applications")
        assert deep.status_code == 200 and deep.text == page.text
        for service in SERVICES:
            health = await client.get(f"/api/{service}/healthz")
            assert health.status_code == 200, health.text
            assert health.json()["service"] == service
            assert health.headers["X-Correlation-ID"]
        dashboard = await client.get("/dashboard/")
        assert dashboard.status_code == 200 and "看板" in dashboard.text
        figures = await client.get("/dashboard/api/metrics")
        assert figures.status_code == 200 and figures.json()


async def test_keys_and_refusals_pass_through_the_front_door(stack: Stack, door: FrontDoor) -> None:
    async with httpx.AsyncClient(base_url=door.url, timeout=30, auth=stack.keys) as client:
        refused = await client.get("/api/intake/applications")
        assert refused.status_code == 401
        assert refused.json()["errors"][0]["zh"]
        listed = await client.get(
            "/api/intake/applications", headers={"X-Huigong-Principal": "district:370202"}
        )
        assert listed.status_code == 200, listed.text
        # Only the district's own (another module of this run may have submitted some).
        assert all(item["submitter"] == "370202" for item in listed.json()["items"])


async def test_each_openapi_document_names_its_prefix(
    door: FrontDoor, services: tuple[ServiceProcess, ...]
) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        for service, proc in zip(SERVICES, services, strict=True):
            behind = (await client.get(f"{door.url}/api/{service}/openapi.json")).json()
            assert behind["servers"][0]["url"] == f"/api/{service}"
            direct = (await client.get(f"{proc.url}/openapi.json")).json()
            assert "servers" not in direct or direct["servers"][0]["url"] != f"/api/{service}"
        # Another service's prefix is not taken on trust: only the service's own names a root.
        forged = await client.get(f"{services[0].url}/docs", headers={"X-Forwarded-Prefix": "/elsewhere"})
        assert "/elsewhere" not in forged.text


async def test_the_documentation_pages_load_their_scripts_from_the_service(door: FrontDoor) -> None:
    async with httpx.AsyncClient(base_url=door.url, timeout=30) as client:
        for page, asset in (("docs", "swagger-ui-bundle.js"), ("redoc", "redoc.standalone.js")):
            html = (await client.get(f"/api/review/{page}")).text
            assert f"/api/review/docs-assets/{asset}" in html
            assert "cdn.jsdelivr.net" not in html and "fonts.googleapis.com" not in html
            script = await client.get(f"/api/review/docs-assets/{asset}")
            assert script.status_code == 200 and "javascript" in script.headers["content-type"]
        missing = await client.get("/api/review/docs-assets/package.json")
        assert missing.status_code == 404


async def test_swagger_ui_and_redoc_render_with_no_internet(door: FrontDoor) -> None:
    """What a person on a closed network sees: every request leaving this machine is refused,
    and the pages still list the API's operations."""
    outside: list[str] = []

    async def local_only(route: Route, request: Request) -> None:
        if urlsplit(request.url).hostname in ("127.0.0.1", "localhost") or request.url.startswith("data:"):
            await route.continue_()
        else:
            outside.append(request.url)
            await route.abort()

    async with chromium() as context:
        await context.route("**/*", local_only)
        page = await context.new_page()
        await page.goto(f"{door.url}/api/intake/docs")
        await expect(page.get_by_text("报送申报表（附件3、4、5）").first).to_be_visible(timeout=30_000)
        await page.screenshot(path=str(artefacts_dir() / "front-door-swagger-ui.png"))
        await page.goto(f"{door.url}/api/registry/redoc")
        await expect(page.get_by_text("接收转办").first).to_be_attached(timeout=30_000)
        await expect(page.locator(".api-content").first).to_be_visible(timeout=30_000)
        await page.screenshot(path=str(artefacts_dir() / "front-door-redoc.png"))
    assert outside == [], f"the pages asked for files outside this machine: {outside}"
