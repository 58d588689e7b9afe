"""The grading rules on their own (domain/grading.py): a 整改 found overdue at the next evaluation
proposes exit; an exited base is not graded; probation ends with the first grade of C or better
and not with a D; a dimension without data passes its weight on; a statement needs a grade."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import pytest

from huigong_events.base import DomainEvent
from huigong_events.grading import (
    Dimension,
    DimensionResult,
    EvaluatedKind,
    ExitProposed,
    Grade,
    ResourceGraded,
)
from huigong_platform.refusals import Conflict
from huigong_registry.domain import grading

BASE = grading.Subject(
    subject_id=uuid.uuid4(),
    kind=EvaluatedKind.服务职工基地,
    name="青岛某某职工服务基地",
    area="370202",
    credit_code=None,
    registered_on=date(2024, 3, 1),
    enters_on_probation=True,
    active=True,
)


def dimensions(scale: str | None, social: str) -> tuple[list[DimensionResult], DimensionResult]:
    measured = [
        DimensionResult(dimension=Dimension.服务规模, score=None if scale is None else Decimal(scale)),
        DimensionResult(dimension=Dimension.服务效率, score=None),
        DimensionResult(dimension=Dimension.服务质量, score=None),
    ]
    return measured, DimensionResult(dimension=Dimension.社会效应, score=Decimal(social), evidence="报道")


def evaluate(
    state: grading.GradingState, year: int, on: date, scale: str | None, social: str
) -> list[DomainEvent]:
    measured, social_result = dimensions(scale, social)
    return list(
        grading.decide_evaluate(BASE, state, grading.default_scheme(year), on, measured, social_result)
    )


def test_an_overdue_rectification_found_at_the_next_evaluation_proposes_exit() -> None:
    first = evaluate(grading.GradingState(), 2024, date(2024, 12, 31), "0", "0")
    state = grading.fold(first)
    assert state.rectification is not None and state.rectification.deadline == date(2025, 3, 31)
    assert state.status(BASE) is grading.GradingStatus.rectification
    # A C the next year: no second D, but the 整改 was never confirmed done.
    second = evaluate(state, 2025, date(2025, 12, 31), "60", "60")
    graded, proposed = second
    assert isinstance(graded, ResourceGraded) and graded.grade is Grade.C and graded.probation_ended
    assert isinstance(proposed, ExitProposed) and proposed.ground.value == "rectification_overdue"
    assert grading.fold([*first, *second]).status(BASE) is grading.GradingStatus.exit_proposed


def test_a_d_keeps_a_new_base_on_probation_and_a_missing_dimension_passes_its_weight_on() -> None:
    (graded, _) = evaluate(grading.GradingState(), 2024, date(2024, 12, 31), "40", "40")
    assert isinstance(graded, ResourceGraded)
    assert graded.score == Decimal("40.00") and graded.grade is Grade.D and not graded.probation_ended
    # 30 × 90 + 15 × 30 over the two weights with a score: 70, a C.
    (graded, *_rest) = evaluate(grading.GradingState(), 2024, date(2024, 12, 31), "90", "30")
    assert isinstance(graded, ResourceGraded) and graded.score == Decimal("70.00") and graded.grade is Grade.C


def test_an_exited_base_is_not_graded_and_a_statement_needs_a_grade() -> None:
    exited = grading.GradingState(exited_on=date(2025, 2, 1))
    with pytest.raises(Conflict):
        evaluate(exited, 2025, date(2025, 12, 31), "90", "90")
    with pytest.raises(Conflict):
        grading.decide_statement(BASE, grading.GradingState(), None, "说明", date(2025, 1, 5))
