"""Wiring of the intake service: settings, projections, routers; `huigong-intake` runs it."""

from __future__ import annotations

from fastapi import FastAPI

from huigong_platform.service import build_app, serve
from huigong_platform.settings import Settings

TITLE = "惠工 · 受理服务 (intake)"
DESCRIPTION = "区市总工会和集团工会报送申报表、建设方案、设施、合规事实和新就业形态劳动者入会。"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings(service="intake")
    return build_app(settings, title=TITLE, description=DESCRIPTION)


def main() -> None:
    settings = Settings(service="intake")
    serve(create_app(settings), settings)
