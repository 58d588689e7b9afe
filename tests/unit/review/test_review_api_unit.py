"""The review service's pure edges: who a principal is, what a principal may read, the queue's
summary of scores (the same as the domain's panel), the settings' scoring policy, and the
dossier built from recorded events."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from huigong_events.base import DomainEvent
from huigong_events.envelope import RecordedEvent, seal
from huigong_events.intake import ApplicationSubmitted
from huigong_events.reference import ComplianceFactKind, ExclusionRule, Programme
from huigong_platform.principals import Principal, Role
from huigong_platform.refusals import Forbidden
from huigong_review.adapters.inputs import Loaded, fold
from huigong_review.domain.findings import clear_finding, record_finding
from huigong_review.domain.scoring import DEFAULT_POLICY, ScoringPolicy, panel, score
from huigong_review.domain.screening import ScreeningSubject, screen
from huigong_review.domain.state import ReviewState
from huigong_review.entrypoints.http.views import dossier, queue_stage
from huigong_review.policy import InvalidPrincipal, parse_reviewer, visible_submitter
from huigong_review.projections.queue import summarise
from huigong_review.settings import ReviewSettings

from .builders import APPLICATION, SUBMITTED_AT, SUBMITTER, accepted, marks, reported, reviewer, scored

# --- principals --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "area"),
    [
        ("370202/zhang", "370202"),
        ("G-HAIER/li", "G-HAIER"),
        ("city/wang", "370200"),
        ("370200/wang", "370200"),
    ],
)
def test_a_reviewer_is_named_by_area_and_account(code: str, area: str) -> None:
    person = parse_reviewer(Principal(Role.REVIEWER, code), Role.REVIEWER)
    assert person.id == code and person.area == area


@pytest.mark.parametrize("code", ["zhang", "379999/zhang", "370202/", "370202/ ", "nowhere/x"])
def test_a_malformed_reviewer_is_unauthenticated(code: str) -> None:
    with pytest.raises(InvalidPrincipal) as caught:
        parse_reviewer(Principal(Role.REVIEWER, code), Role.REVIEWER)
    assert caught.value.status == 401
    assert caught.value.errors[0].zh and caught.value.errors[0].en


def test_another_role_is_forbidden() -> None:
    with pytest.raises(Forbidden) as caught:
        parse_reviewer(Principal(Role.REVIEWER, "city/a"), Role.CHAIR)
    assert caught.value.status == 403 and "领导小组负责人" in caught.value.errors[0].zh
    with pytest.raises(Forbidden):
        parse_reviewer(Principal(Role.DISTRICT, "370202"), Role.REVIEWER, Role.CHAIR)


def test_districts_read_their_own_and_the_data_exchange_nothing() -> None:
    assert visible_submitter(Principal(Role.DISTRICT, "370202")) == "370202"
    assert visible_submitter(Principal(Role.GROUP, "G-HAIER")) == "G-HAIER"
    assert visible_submitter(Principal(Role.REVIEWER, "city/a")) is None
    assert visible_submitter(Principal(Role.CITY, "staff01")) is None
    with pytest.raises(Forbidden):
        visible_submitter(Principal(Role.EXCHANGE, "hrss"))


# --- the queue's summary is the panel's --------------------------------------------------------


@pytest.mark.parametrize(
    "totals",
    [(), (80,), (80, 60), (80, 80, 65), (80, 80, 64), (80, 82, 40), (80, 81, 80, 40), (91, 55, 73, 88, 60)],
)
def test_the_queue_summary_agrees_with_the_domain_panel(totals: tuple[int, ...]) -> None:
    state = scored(accepted(), *totals)
    summary = panel(state)
    quick = summarise(
        {event.reviewer: event.weighted_total for event in state.scores.values()},
        DEFAULT_POLICY.deviation_threshold,
    )
    assert quick.count == summary.count
    assert quick.mean == summary.mean
    assert quick.spread == summary.spread
    assert quick.flagged == summary.flagged


def test_the_queue_stage_follows_the_quorum() -> None:
    state = accepted()
    assert queue_stage(state, DEFAULT_POLICY) == "awaiting_scores"
    assert queue_stage(scored(state, 80, 80, 80), DEFAULT_POLICY) == "awaiting_decision"
    assert queue_stage(scored(state, 80), ScoringPolicy(quorum=1)) == "awaiting_decision"


# --- settings ----------------------------------------------------------------------------------


def test_the_scoring_policy_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUIGONG_DATABASE_URL", "postgresql://review@127.0.0.1/huigong")
    assert ReviewSettings(service="review").policy() == DEFAULT_POLICY
    weights = '{"总体思路": "0.2", "政策合规性": "0.2", "建设重点": "0.2", "资金投入": "0.2", "体制机制创新": "0.2"}'
    monkeypatch.setenv("HUIGONG_REVIEW_WEIGHTS", weights)
    monkeypatch.setenv("HUIGONG_REVIEW_QUORUM", "5")
    monkeypatch.setenv("HUIGONG_REVIEW_SCALE_MAX", "10")
    monkeypatch.setenv("HUIGONG_REVIEW_DEVIATION_THRESHOLD", "2.5")
    policy = ReviewSettings(service="review").policy()
    assert policy.quorum == 5 and policy.scale_max == 10 and policy.deviation_threshold == Decimal("2.5")
    assert set(policy.weights.values()) == {Decimal("0.2")}
    monkeypatch.setenv("HUIGONG_REVIEW_WEIGHTS", '{"总体思路": "1"}')
    with pytest.raises(ValueError, match="weights"):
        ReviewSettings(service="review").policy()


# --- the dossier -------------------------------------------------------------------------------


def recorded(event: DomainEvent, aggregate_id: str, version: int, actor: str) -> RecordedEvent:
    at = datetime.now(UTC)
    return seal(
        event=event,
        event_id=uuid.uuid4(),
        aggregate_id=aggregate_id,
        aggregate_version=version,
        occurred_at=SUBMITTED_AT if event.type == "ApplicationSubmitted" else at,
        recorded_at=at,
        actor=actor,
        source="test",
        correlation_id="c",
        causation_id=None,
        prev_hash=None,
    )


def test_the_dossier_tells_every_step_with_its_time_and_actor() -> None:
    start = accepted()
    submitted = ApplicationSubmitted(
        application_id=APPLICATION,
        year=start.year,
        programme=Programme.幸福企业,
        submitter=SUBMITTER,
        form=start.form,
    )
    intake = [recorded(submitted, str(APPLICATION), 1, f"district:{SUBMITTER}")]
    fact = reported(ComplianceFactKind.拖欠工资, date(2024, 3, 1))
    facts = [recorded(fact, str(fact.fact_id), 1, "exchange:hrss")]

    review: list[RecordedEvent] = []
    state = fold(None, intake)
    assert isinstance(state, ReviewState)

    def append(event: DomainEvent, actor: str) -> ReviewState:
        review.append(recorded(event, str(APPLICATION), len(review) + 1, actor))
        folded = fold(state, review[-1:])
        assert folded is not None
        return folded

    for event in screen(ScreeningSubject.of(state)).events:
        state = append(event, "system:review")
    finding = record_finding(
        state, reviewer(9), ExclusionRule.C3_商业行为过多, "商业内容过多，公益服务不足。"
    )
    state = append(finding, "reviewer:city/9")
    state = append(clear_finding(state, finding.finding_id, "经核实已整改"), "chair:city/c")
    state = append(score(state, reviewer(1), marks(80, 80, 80, 80, 80)), "reviewer:city/1")
    state = fold(state, facts)
    assert state is not None

    loaded = Loaded(state, len(review), tuple(intake), tuple(review), (), tuple(facts))
    view = dossier(loaded, DEFAULT_POLICY)
    assert view["status"] == "accepted" and view["queue_stage"] == "awaiting_scores"
    assert view["submitted"]["actor"] == f"district:{SUBMITTER}"
    assert view["submitted"]["at"] == SUBMITTED_AT.isoformat()
    assert view["screening"]["outcome"] == "accepted" and view["screening"]["actor"] == "system:review"
    (found,) = view["findings"]
    assert found["rule"] == "C3" and found["found"]["actor"] == "reviewer:city/9"
    assert found["open"] is False and found["cleared"]["actor"] == "chair:city/c"
    assert [s["actor"] for s in view["scores"]] == ["reviewer:city/1"]
    assert view["scores"][0]["weighted_total"] == "80.00"
    assert view["panel"]["count"] == 1 and view["panel"]["mean"] == "80.00"
    assert [f["fact_id"] for f in view["compliance_facts"]] == [str(fact.fact_id)]
    assert view["decision"] is None
    assert len(view["history"]) == len(intake) + len(review) + len(facts)
