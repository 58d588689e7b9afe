"""Wiring of the review service: settings, projections, routers; `huigong-review` runs it."""

from __future__ import annotations

from fastapi import FastAPI

from huigong_platform.service import build_app, serve
from huigong_platform.settings import Settings

TITLE = "惠工 · 评审服务 (review)"
DESCRIPTION = "不予受理筛查、专家评分和建设决定。"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings(service="review")
    return build_app(settings, title=TITLE, description=DESCRIPTION)


def main() -> None:
    settings = Settings(service="review")
    serve(create_app(settings), settings)
