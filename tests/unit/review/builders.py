"""Applications, facts and scores for the review domain tests, built as the services build them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from uuid import UUID, uuid5

import pytest

from huigong_events.base import DomainEvent
from huigong_events.forms import DeclaredFact, ReportingDepartment
from huigong_events.intake import ApplicationSubmitted, ComplianceFactReported
from huigong_events.reference import REVIEW_DIMENSIONS, ComplianceFactKind, Programme
from huigong_platform.refusals import Refusal
from huigong_review.domain.reviewers import Reviewer
from huigong_review.domain.scoring import score
from huigong_review.domain.screening import ScreeningSubject, screen
from huigong_review.domain.state import Form, ReviewState, evolve

from ...forms import ENTERPRISE_CODE, happy_form, variant

NS = UUID("00000000-0000-0000-0000-0000000000b2")
APPLICATION = uuid5(NS, "application")
BEIJING = timezone(timedelta(hours=8))
SUBMITTED_ON = date(2024, 6, 20)
SUBMITTED_AT = datetime(2024, 6, 20, 10, 0, tzinfo=BEIJING)
SUBMITTER = "370202"  # 市南区
CITY = "370200"
CHAIR = Reviewer("chair.zhang", CITY)


def submitted(
    form: Form | None = None,
    programme: Programme = Programme.幸福企业,
    at: datetime = SUBMITTED_AT,
    submitter: str = SUBMITTER,
) -> ReviewState:
    event = ApplicationSubmitted(
        application_id=APPLICATION,
        year=at.year,
        programme=programme,
        submitter=submitter,
        form=form if form is not None else happy_form(),
    )
    state = evolve(None, event, at=at)
    assert state is not None
    return state


def fold(state: ReviewState, *events: DomainEvent) -> ReviewState:
    for event in events:
        folded = evolve(state, event)
        assert folded is not None
        state = folded
    return state


def declaring(*declarations: DeclaredFact, form: Form | None = None) -> Form:
    return variant(form if form is not None else happy_form(), declarations=list(declarations))


def reported(
    kind: ComplianceFactKind,
    occurred_on: date,
    settled_on: date | None = None,
    *,
    code: str = ENTERPRISE_CODE,
    reported_on: date | None = None,
    seed: str = "",
) -> ComplianceFactReported:
    return ComplianceFactReported(
        fact_id=uuid5(NS, f"fact:{kind.value}:{occurred_on}:{seed}"),
        credit_code=code,
        unit_name="青岛某某有限公司",
        kind=kind,
        occurred_on=occurred_on,
        settled_on=settled_on,
        reported_by=ReportingDepartment.人社,
        reported_on=reported_on or max(occurred_on, settled_on or occurred_on),
        evidence_ref="青人社监字〔2024〕12号",
    )


def screened(state: ReviewState, *facts: ComplianceFactReported) -> ReviewState:
    """The state after the reaction screened it with `facts` and appended the result."""
    return fold(state, *screen(ScreeningSubject.of(state), facts).events)


def accepted(form: Form | None = None, programme: Programme = Programme.幸福企业) -> ReviewState:
    state = screened(submitted(form, programme))
    assert state.accepted and not state.rejected
    return state


def marks(*values: int | str, comment: str = "思路清晰，可行") -> dict[str, tuple[Decimal, str]]:
    assert len(values) == len(REVIEW_DIMENSIONS)
    return {
        dimension: (Decimal(value), comment)
        for dimension, value in zip(REVIEW_DIMENSIONS, values, strict=True)
    }


def reviewer(n: int, area: str = CITY) -> Reviewer:
    return Reviewer(f"reviewer.{n}", area)


def scored(state: ReviewState, *totals: int) -> ReviewState:
    """`state` scored by one reviewer per total, each giving that score on every dimension."""
    for n, total in enumerate(totals, start=len(state.scores) + 1):
        state = fold(state, score(state, reviewer(n), marks(*[total] * len(REVIEW_DIMENSIONS))))
    return state


def refusal(call: Callable[[], object]) -> Refusal:
    with pytest.raises(Refusal) as caught:
        call()
    return caught.value


def assert_errors(error: Refusal, kind: type[Refusal], *fields: str) -> None:
    assert type(error) is kind
    assert [e.field for e in error.errors] == list(fields)
    for e in error.errors:
        assert e.zh and e.en and e.zh != e.en
        assert any("\u4e00" <= char <= "\u9fff" for char in e.zh)


def events_of(events: Sequence[DomainEvent], kind: type[DomainEvent]) -> list[DomainEvent]:
    return [event for event in events if isinstance(event, kind)]
