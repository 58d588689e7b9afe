"""Wiring of the review service: settings, the screening reaction, the queue projection and the
API; `huigong-review` runs it."""

from __future__ import annotations

from fastapi import FastAPI

from huigong_platform.application import CommandPath
from huigong_platform.service import Runtime, build_app, serve
from huigong_platform.unit_of_work import postgres_units

from .adapters.inputs import postgres_inputs, postgres_reads
from .domain.state import QueueStage, ReviewStage
from .entrypoints.http.routes import router
from .handlers import Review
from .policy import POLICY
from .projections.queue import QueueProjection
from .reactions.screening import ScreeningReaction
from .settings import ReviewSettings

TITLE = "惠工 · 评审服务 (review)"
DESCRIPTION = (
    "不予受理筛查、专家评分和建设决定。每份提交的申报自动按企业不予受理情形 E1–E7 筛查（申报声明和部门数据交换报送的合规事实），"
    "评审专家认定服务中心类情形 C1–C5 并打分，领导小组负责人作出建设决定。"
    "每个写操作都需要 Idempotency-Key；字段错误以中文和英文返回。"
)


def create_app(settings: ReviewSettings | None = None) -> FastAPI:
    settings = settings or ReviewSettings(service="review")
    policy = settings.policy()  # a bad policy stops the service here, with the reason

    async def on_start(runtime: Runtime) -> None:
        review = Review(
            policy=policy,
            inputs=postgres_inputs(runtime.store),
            reads=postgres_reads(runtime.pool, runtime.store),
        )
        runtime.extras["review"] = review
        runtime.commands = CommandPath(
            POLICY, review.handlers(), postgres_units(runtime.pool, runtime.store, settings.service)
        )

    return build_app(
        settings,
        title=TITLE,
        description=DESCRIPTION,
        projections=[QueueProjection()],
        reactions=[ScreeningReaction()],
        routers=[router],
        on_start=on_start,
        policy=POLICY,
        answer_labels={"status": ReviewStage, "stage": (QueueStage, ReviewStage)},
    )


def main() -> None:
    settings = ReviewSettings(service="review")
    serve(create_app(settings), settings)
