"""The 看板 dashboard page: one HTML page and its script, plus the chart library (Apache ECharts)
and the Chinese web font (Noto Sans SC) served from the npm packages that `bin/setup` installs
into `services/metrics/node_modules` (`npm ci`, pinned by package-lock.json). Nothing is loaded
from a CDN: the federation's machines may have no internet, and the page must still render its
charts and Chinese text. The figures come from this service's own `/api/progress` read API."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fastapi import APIRouter
from fastapi.responses import FileResponse, JSONResponse, Response

from huigong_platform import logs

log = logs.get(__name__)

router = APIRouter(tags=["看板"])

WEB: Final = Path(__file__).resolve().parents[2] / "web"
NODE_MODULES: Final = Path(__file__).resolve().parents[3] / "node_modules"

# Only these files leave the folders below: the page's own and the two packages' runtime files,
# never a package.json, a source map or anything a path trick could reach.
_PAGE_FILES: Final = frozenset({"dashboard.js", "dashboard.css"})
ECHARTS: Final = NODE_MODULES / "echarts" / "dist" / "echarts.min.js"
FONT_DIR: Final = NODE_MODULES / "@fontsource-variable" / "noto-sans-sc"
_FONT_TYPES: Final = {".css": "text/css; charset=utf-8", ".woff2": "font/woff2"}

# The page and its script change with a deployment: revalidate every time (cheap with ETags).
# The vendored files are pinned by the lock file and change only with it.
_NO_CACHE: Final = {"Cache-Control": "no-cache"}
_VENDOR_CACHE: Final = {"Cache-Control": "public, max-age=86400"}


def _missing(what: str) -> JSONResponse:
    log.warning("dashboard asset missing", asset=what)
    error = {
        "field": "asset",
        "zh": f"看板资源未安装：{what}。请运行 bin/setup（在 services/metrics 中执行 npm ci）。",
        "en": f"dashboard asset not installed: {what}. Run bin/setup (npm ci in services/metrics).",
    }
    return JSONResponse({"errors": [error]}, status_code=503)


def _not_found(path: str) -> JSONResponse:
    error = {"field": "path", "zh": f"未找到：{path}", "en": f"not found: {path}"}
    return JSONResponse({"errors": [error]}, status_code=404)


@router.get("/", include_in_schema=False)
async def page() -> Response:
    return FileResponse(WEB / "index.html", media_type="text/html; charset=utf-8", headers=_NO_CACHE)


@router.get("/static/{name}", include_in_schema=False)
async def page_file(name: str) -> Response:
    if name not in _PAGE_FILES:
        return _not_found(f"/static/{name}")
    media_type = "text/css" if name.endswith(".css") else "text/javascript"
    return FileResponse(WEB / name, media_type=f"{media_type}; charset=utf-8", headers=_NO_CACHE)


@router.get("/vendor/echarts.min.js", include_in_schema=False)
async def echarts() -> Response:
    if not ECHARTS.is_file():
        return _missing("echarts")
    return FileResponse(ECHARTS, media_type="text/javascript; charset=utf-8", headers=_VENDOR_CACHE)


@router.get("/vendor/noto-sans-sc/{path:path}", include_in_schema=False)
async def font(path: str) -> Response:
    if not FONT_DIR.is_dir():
        return _missing("@fontsource-variable/noto-sans-sc")
    target = (FONT_DIR / path).resolve()
    if not target.is_relative_to(FONT_DIR.resolve()) or target.suffix not in _FONT_TYPES:
        return _not_found(f"/vendor/noto-sans-sc/{path}")
    if not target.is_file():
        return _not_found(f"/vendor/noto-sans-sc/{path}")
    return FileResponse(target, media_type=_FONT_TYPES[target.suffix], headers=_VENDOR_CACHE)
