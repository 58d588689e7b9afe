"""Panel scoring (工作安排 3 评审): each reviewer scores an accepted application once on the five
dimensions 总体思路 · 政策合规性 · 建设重点 · 资金投入 · 体制机制创新, with a comment on each; the
weighted total is recorded with the scores. `panel` summarises the scores so far and flags a
reviewer whose total stands far from the others'.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

from huigong_events.reference import REVIEW_DIMENSIONS
from huigong_events.review import DimensionScore, ReviewScored
from huigong_platform.refusals import Conflict, FieldError, Refusal

from .reviewers import Reviewer, ensure_may_act
from .state import ReviewStage, ReviewState

# The work plan names the five dimensions but gives them no weights. These are our defaults:
# the plan's substance (思路, 建设重点) weighs most, compliance next, money and mechanisms least.
# The leading group may set others through ScoringPolicy.
DEFAULT_WEIGHTS: Final[Mapping[str, Decimal]] = {
    "总体思路": Decimal("0.25"),
    "政策合规性": Decimal("0.20"),
    "建设重点": Decimal("0.25"),
    "资金投入": Decimal("0.15"),
    "体制机制创新": Decimal("0.15"),
}
# forms.Score: scores and totals are recorded with at most two decimals.
CENTS: Final = Decimal("0.01")
MIN_COMMENT_LENGTH: Final = 2
MAX_COMMENT_LENGTH: Final = 500  # forms.ShortText
# With two scores both are equally far from their median, so neither can be called the outlier;
# three is the fewest that can single one out.
MIN_SCORES_TO_FLAG: Final = 3


@dataclass(frozen=True)
class ScoringPolicy:
    """How the panel scores. Configuration, so a bad one is a ValueError at start-up, not a
    refusal: `scale_max` is the top of every dimension's scale and of the weighted total (at most
    100, which the event's Score allows); `weights` cover exactly the five dimensions and sum to
    1; `quorum` scores are needed before the chair decides; a reviewer is flagged whose total is
    more than `deviation_threshold` points from the median of all the panel's totals."""

    scale_max: Decimal = Decimal(100)
    weights: Mapping[str, Decimal] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    quorum: int = 3
    deviation_threshold: Decimal = Decimal(15)

    def __post_init__(self) -> None:
        if not Decimal(0) < self.scale_max <= Decimal(100):
            raise ValueError(f"scale_max must be in (0, 100], not {self.scale_max}")
        if set(self.weights) != set(REVIEW_DIMENSIONS):
            raise ValueError(f"weights must cover exactly {', '.join(REVIEW_DIMENSIONS)}")
        if any(weight < 0 for weight in self.weights.values()):
            raise ValueError("weights must not be negative")
        if sum(self.weights.values(), Decimal(0)) != Decimal(1):
            raise ValueError(f"weights must sum to 1, not {sum(self.weights.values(), Decimal(0))}")
        if self.quorum < 1:
            raise ValueError(f"quorum must be at least 1, not {self.quorum}")
        if self.deviation_threshold < 0:
            raise ValueError("deviation_threshold must not be negative")


DEFAULT_POLICY: Final = ScoringPolicy()


def weighted_total(scores: Mapping[str, Decimal], policy: ScoringPolicy = DEFAULT_POLICY) -> Decimal:
    """Σ weight × score over the five dimensions, rounded half up to two decimals."""
    total = sum(
        (policy.weights[dimension] * scores[dimension] for dimension in REVIEW_DIMENSIONS), Decimal(0)
    )
    return total.quantize(CENTS, rounding=ROUND_HALF_UP)


def score(
    state: ReviewState,
    reviewer: Reviewer,
    scores: Mapping[str, tuple[Decimal, str]],
    policy: ScoringPolicy = DEFAULT_POLICY,
) -> ReviewScored:
    """A reviewer's scores, `{dimension: (score, comment)}`, with the weighted total.

    Refused: the application not accepted, or rejected, withdrawn or decided (409); a reviewer
    from the applicant's own district or group union (403); a second score by the same reviewer
    (409); a missing or unknown dimension, a score outside 0–scale_max or with more than two
    decimals, a comment under two characters (422, every problem at once).
    """
    if state.stage is not ReviewStage.已受理:
        raise Conflict(
            FieldError(
                "application_id",
                "申报不在评审阶段（未受理、不予受理、已撤回或已作出决定），不能打分",
                f"the application is {state.stage.value}, not under review; it cannot be scored",
            )
        )
    ensure_may_act(state, reviewer, "评审专家", "reviewer")
    reviewer_id = reviewer.id.strip()
    if reviewer_id in state.scores:
        raise Conflict(
            FieldError(
                "reviewer.id",
                "该评审专家已对本申报打分，每人只能打分一次",
                "this reviewer has already scored the application; each reviewer scores once",
            )
        )
    errors = _score_errors(scores, policy)
    if errors:
        raise Refusal(*errors)
    values = {dimension: scores[dimension][0].quantize(CENTS) for dimension in REVIEW_DIMENSIONS}
    return ReviewScored(
        application_id=state.application_id,
        reviewer=reviewer_id,
        scores={
            dimension: DimensionScore(score=values[dimension], comment=scores[dimension][1].strip())
            for dimension in REVIEW_DIMENSIONS
        },
        weighted_total=weighted_total(values, policy),
    )


def _score_errors(scores: Mapping[str, tuple[Decimal, str]], policy: ScoringPolicy) -> list[FieldError]:
    errors = [
        FieldError(f"scores.{name}", f"“{name}”不是评审方面", f"{name!r} is not a review dimension")
        for name in scores
        if name not in REVIEW_DIMENSIONS
    ]
    top = policy.scale_max
    for dimension in REVIEW_DIMENSIONS:
        if dimension not in scores:
            errors.append(
                FieldError(
                    f"scores.{dimension}", f"缺少“{dimension}”的得分", f"the score for {dimension} is missing"
                )
            )
            continue
        value, comment = scores[dimension]
        if not value.is_finite() or not Decimal(0) <= value <= top:
            errors.append(
                FieldError(
                    f"scores.{dimension}.score",
                    f"“{dimension}”得分须在 0 至 {top} 之间",
                    f"the score for {dimension} must be between 0 and {top}",
                )
            )
        elif value != value.quantize(CENTS):
            errors.append(
                FieldError(
                    f"scores.{dimension}.score",
                    f"“{dimension}”得分最多保留两位小数",
                    f"the score for {dimension} may have at most two decimals",
                )
            )
        text = comment.strip()
        if not MIN_COMMENT_LENGTH <= len(text) <= MAX_COMMENT_LENGTH:
            errors.append(
                FieldError(
                    f"scores.{dimension}.comment",
                    f"“{dimension}”须有评语（{MIN_COMMENT_LENGTH} 至 {MAX_COMMENT_LENGTH} 个字符）",
                    f"{dimension} needs a comment of {MIN_COMMENT_LENGTH} to {MAX_COMMENT_LENGTH} characters",
                )
            )
    return errors


# --------------------------------------------------------------------------------------------
# The panel's live summary
# --------------------------------------------------------------------------------------------


def deviations(totals: Mapping[str, Decimal]) -> tuple[Decimal, dict[str, Decimal]] | None:
    """The median of the weighted totals and each reviewer's distance from it, or None with
    fewer than three scores. The median, not the mean of the others: with the quorum of three, one
    extreme score pulls the others' mean so far that every reviewer would look like an outlier
    (80, 82 and 40 would flag all three); the median leaves only the 40 out of line."""
    if len(totals) < MIN_SCORES_TO_FLAG:
        return None
    ordered = sorted(totals.values())
    middle = len(ordered) // 2
    median = ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    return median, {reviewer: abs(total - median) for reviewer, total in totals.items()}


@dataclass(frozen=True)
class PanelEntry:
    """One reviewer's total and how far it is from the median of the panel's totals (None with
    fewer than three scores, when no outlier can be told)."""

    reviewer: str
    total: Decimal
    panel_median: Decimal | None
    deviation: Decimal | None
    flagged: bool


@dataclass(frozen=True)
class PanelSummary:
    """The scores so far. Figures are rounded to two decimals; flags compare unrounded means."""

    count: int
    quorum: int
    mean: Decimal | None
    spread: Decimal | None  # highest total minus lowest
    std_dev: Decimal | None  # population standard deviation of the totals
    dimension_means: Mapping[str, Decimal]
    entries: tuple[PanelEntry, ...]

    @property
    def quorum_met(self) -> bool:
        return self.count >= self.quorum

    @property
    def flagged(self) -> tuple[str, ...]:
        return tuple(entry.reviewer for entry in self.entries if entry.flagged)


def panel(state: ReviewState, policy: ScoringPolicy = DEFAULT_POLICY) -> PanelSummary:
    """Count, mean, spread and population standard deviation of the weighted totals, the mean of
    each dimension, and the reviewers whose total deviates from the median of all totals by more
    than the policy's threshold (with at least three scores)."""
    scored = list(state.scores.values())
    totals = [event.weighted_total for event in scored]
    count = len(totals)
    if count == 0:
        return PanelSummary(0, policy.quorum, None, None, None, {}, ())
    total_sum = sum(totals, Decimal(0))
    mean = total_sum / count
    variance = sum(((t - mean) ** 2 for t in totals), Decimal(0)) / count
    spread_from = deviations({event.reviewer: event.weighted_total for event in scored})
    entries: list[PanelEntry] = []
    for event in scored:
        if spread_from is None:
            entries.append(PanelEntry(event.reviewer, event.weighted_total, None, None, False))
            continue
        median, distance = spread_from
        deviation = distance[event.reviewer]
        entries.append(
            PanelEntry(
                event.reviewer,
                event.weighted_total,
                _cents(median),
                _cents(deviation),
                deviation > policy.deviation_threshold,
            )
        )
    dimension_means = {
        dimension: _cents(sum((event.scores[dimension].score for event in scored), Decimal(0)) / count)
        for dimension in REVIEW_DIMENSIONS
    }
    return PanelSummary(
        count=count,
        quorum=policy.quorum,
        mean=_cents(mean),
        spread=max(totals) - min(totals),
        std_dev=_cents(variance.sqrt()),
        dimension_means=dimension_means,
        entries=tuple(entries),
    )


def score_average(state: ReviewState) -> Decimal | None:
    """The mean of the weighted totals, two decimals (the decisions' `score_average`)."""
    totals = [event.weighted_total for event in state.scores.values()]
    return _cents(sum(totals, Decimal(0)) / len(totals)) if totals else None


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENTS, rounding=ROUND_HALF_UP)
