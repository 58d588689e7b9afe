"""Wiring of the metrics service: settings, projections, routers; `huigong-metrics` runs it."""

from __future__ import annotations

from fastapi import FastAPI

from huigong_platform.service import build_app, serve
from huigong_platform.settings import Settings

TITLE = "惠工 · 统计服务 (metrics)"
DESCRIPTION = "按区市和年度跟踪工作方案的每一项目标，并提供看板。"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings(service="metrics")
    return build_app(settings, title=TITLE, description=DESCRIPTION)


def main() -> None:
    settings = Settings(service="metrics")
    serve(create_app(settings), settings)
