"""Who may read and change what in the metrics service: the published figures and the dashboard
are public; only the city federation changes a target (who and why are recorded)."""

from __future__ import annotations

from typing import Final

from huigong_platform.policy import PUBLIC, READ, Policy, Rule, roles
from huigong_platform.principals import Role

from .commands import ChangeTarget, ShareTarget

POLICY: Final = Policy(
    "metrics",
    commands={ChangeTarget: Rule(roles(Role.CITY)), ShareTarget: Rule(roles(Role.CITY))},
    routes={
        # What the published figures measure and where: the dashboard reads them.
        ("GET", "/api/metrics"): PUBLIC,
        ("GET", "/api/areas"): PUBLIC,
        # 联动服务 figures per service centre and district: counts and averages, no names.
        ("GET", "/api/matters"): PUBLIC,
        # 分级评定 of the bases and partners per district: counts, no names.
        ("GET", "/api/grading"): PUBLIC,
        # 送温暖 figures per union, occasion and month, budgets and their use: no names.
        ("GET", "/api/warmth"): PUBLIC,
        # Targets with who changed them and why; only the city federation changes them.
        ("GET", "/api/targets"): READ,
        ("PUT", "/api/targets/{metric}"): ChangeTarget,
        # The districts' and group unions' shares of a target, several at once.
        ("PUT", "/api/targets/{metric}/shares"): ShareTarget,
        # The 看板 dashboard page and its assets.
        ("GET", "/"): PUBLIC,
        ("GET", "/static/{name}"): PUBLIC,
        ("GET", "/vendor/echarts.min.js"): PUBLIC,
        ("GET", "/vendor/noto-sans-sc/{path:path}"): PUBLIC,
    },
    # The published figures: progress of every target, by area and year, and their series.
    prefixes={("GET", "/api/progress"): PUBLIC},
)
