"""Review's settings: the platform's, plus how the panel scores (`domain.scoring.ScoringPolicy`).

A bad policy (weights that do not cover the five dimensions or do not sum to 1, a scale above
100, a quorum below 1) stops the service at start-up with the reason, never at the first score.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from huigong_platform.settings import Settings

from .domain.scoring import DEFAULT_POLICY, DEFAULT_WEIGHTS, ScoringPolicy


class ReviewSettings(Settings):
    review_scale_max: Decimal = Field(
        default=DEFAULT_POLICY.scale_max,
        description="Top of every dimension's scale and of the weighted total (at most 100)",
    )
    review_weights: dict[str, Decimal] = Field(
        default_factory=lambda: dict(DEFAULT_WEIGHTS),
        description='Weights of the five dimensions as JSON, summing to 1, e.g. {"总体思路": "0.25", …}',
    )
    review_quorum: int = Field(
        default=DEFAULT_POLICY.quorum, description="Scores needed before the chair may decide"
    )
    review_deviation_threshold: Decimal = Field(
        default=DEFAULT_POLICY.deviation_threshold,
        description="Points from the median of the panel's totals beyond which a score is flagged",
    )

    def policy(self) -> ScoringPolicy:
        return ScoringPolicy(
            scale_max=self.review_scale_max,
            weights=dict(self.review_weights),
            quorum=self.review_quorum,
            deviation_threshold=self.review_deviation_threshold,
        )
