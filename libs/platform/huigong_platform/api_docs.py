"""The API's documentation pages (/docs: Swagger UI, /redoc: ReDoc) with their scripts served by
the service itself, from the npm packages `bin/setup` installs into `libs/platform/node_modules`
(`npm ci`, pinned by package-lock.json). FastAPI's own pages load them from a CDN, and the
federation's machines may have no internet: the pages were blank there.

Behind the front door (nginx, `infra/nginx/huigong.conf`) each API lives under a prefix
(`/api/intake/…`); nginx passes the whole path and names the prefix in `X-Forwarded-Prefix`.
`ForwardedPrefix` makes that prefix the request's ASGI `root_path`, so routing ignores it and
FastAPI writes it into the OpenAPI document's `servers` and the pages' links. Only the prefix of
this very service is accepted: a made-up header can change no other URL."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from . import logs

log = logs.get(__name__)

PREFIX_HEADER: Final = b"x-forwarded-prefix"
NODE_MODULES: Final = Path(__file__).resolve().parents[1] / "node_modules"
ASSETS_PATH: Final = "/docs-assets"
# The only files served: each page's script and style, never a package.json or a source map.
_ASSETS: Final[dict[str, tuple[Path, str]]] = {
    "swagger-ui-bundle.js": (
        NODE_MODULES / "swagger-ui-dist" / "swagger-ui-bundle.js",
        "text/javascript; charset=utf-8",
    ),
    "swagger-ui.css": (NODE_MODULES / "swagger-ui-dist" / "swagger-ui.css", "text/css; charset=utf-8"),
    "favicon-32x32.png": (NODE_MODULES / "swagger-ui-dist" / "favicon-32x32.png", "image/png"),
    "redoc.standalone.js": (
        NODE_MODULES / "redoc" / "bundles" / "redoc.standalone.js",
        "text/javascript; charset=utf-8",
    ),
}
# Pinned by the lock file: they change only with a deployment.
_CACHE: Final = {"Cache-Control": "public, max-age=86400"}
# The pages may load only from this service. ReDoc's menu shows a logo from its vendor's CDN:
# the browser is told not to ask for it (on a closed network the request would hang or fail).
# FastAPI's pages start Swagger UI and ReDoc with an inline script; ReDoc styles inline and
# searches in a blob worker.
_PAGE_POLICY: Final = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'"
    )
}


def prefix_of(service: str) -> str:
    """Where the front door serves this service's API."""
    return f"/api/{service}"


class ForwardedPrefix:
    """ASGI middleware: `X-Forwarded-Prefix: /api/<service>` on a path under it becomes the
    request's root_path."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.prefix = prefix_of(service)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope.get("root_path"):
            for name, value in scope.get("headers", ()):
                if name == PREFIX_HEADER:
                    path: str = scope["path"]
                    if value.decode("latin-1") == self.prefix and (
                        path == self.prefix or path.startswith(self.prefix + "/")
                    ):
                        scope = {**scope, "root_path": self.prefix}
                    break
        await self.app(scope, receive, send)


def install(app: FastAPI, title: str) -> None:
    """/docs, /docs/oauth2-redirect, /redoc and their assets (build the app with docs_url and
    redoc_url None)."""

    def base(request: Request) -> str:
        root: str = request.scope.get("root_path", "")
        return root.rstrip("/")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> Response:
        root = base(request)
        page = get_swagger_ui_html(
            openapi_url=f"{root}/openapi.json",
            title=f"{title} - Swagger UI",
            oauth2_redirect_url=f"{root}/docs/oauth2-redirect",
            swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon-32x32.png",
        )
        page.headers.update(_PAGE_POLICY)
        return page

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def swagger_ui_redirect() -> Response:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> Response:
        root = base(request)
        page = get_redoc_html(
            openapi_url=f"{root}/openapi.json",
            title=f"{title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS_PATH}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_PATH}/favicon-32x32.png",
            # Google Fonts is a CDN too; the page falls back to the system's fonts.
            with_google_fonts=False,
        )
        page.headers.update(_PAGE_POLICY)
        return page

    @app.get(ASSETS_PATH + "/{name}", include_in_schema=False)
    async def asset(name: str) -> Response:
        found = _ASSETS.get(name)
        if found is None:
            error = {"field": "path", "zh": f"未找到：{name}", "en": f"not found: {name}"}
            return JSONResponse({"errors": [error]}, status_code=404)
        path, media_type = found
        if not path.is_file():
            log.warning("API documentation asset missing", asset=name)
            error = {
                "field": "asset",
                "zh": f"接口文档资源未安装：{name}。请运行 bin/setup（在 libs/platform 中执行 npm ci）。",
                "en": f"API documentation asset not installed: {name}. Run bin/setup (npm ci in libs/platform).",
            }
            return JSONResponse({"errors": [error]}, status_code=503)
        return FileResponse(path, media_type=media_type, headers=_CACHE)
