"""What the read endpoints answer, built from a loaded application (`adapters.inputs.Loaded`):
the dossier (案卷) with every step's time and actor, and the panel's live summary.

Decimals are written as strings (as in the events: "85.50"), times as ISO 8601 with offset.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from huigong_events.envelope import RecordedEvent
from huigong_events.intake import (
    ApplicationAmended,
    ApplicationSubmitted,
    ApplicationWithdrawn,
    PlanAmended,
    PlanSubmitted,
)
from huigong_events.reference import ALL_AREAS, REVIEW_DIMENSIONS
from huigong_events.review import (
    ApplicationAccepted,
    ApplicationRejected,
    ConstructionApproved,
    ConstructionDeclined,
    ConstructionUnitNotSelected,
    ConstructionUnitSelected,
    ExclusionCleared,
    ExclusionFound,
    ReviewScored,
)
from huigong_events.upcasting import decode

from ...adapters.inputs import Loaded
from ...domain.scoring import PanelSummary, ScoringPolicy, panel
from ...domain.state import ReviewStage, ReviewState
from ...policy import Sight
from ...projections.queue import form_name

STAGE_LABELS: dict[ReviewStage, str] = {stage: stage.label for stage in ReviewStage}


def _decimal(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _time(value: datetime) -> str:
    return value.isoformat()


def provenance(record: RecordedEvent, *, anonymous: bool = False) -> dict[str, Any]:
    """When and on whose word: the envelope fields an auditor asks for. `anonymous` withholds
    who acted (the applicant never learns which reviewer or chair did what)."""
    return {
        "event_id": str(record.id),
        "at": _time(record.occurred_at),
        "recorded_at": _time(record.recorded_at),
        "actor": None if anonymous else record.actor,
        "source": record.source,
    }


def queue_stage(state: ReviewState, policy: ScoringPolicy) -> str:
    """The queue's stage of one application (see projections/queue.py)."""
    stage = state.stage
    if stage is ReviewStage.待筛查:
        return "awaiting_screening"
    if stage is ReviewStage.已受理:
        return "awaiting_selection"
    if stage is ReviewStage.已确定建设单位:
        return "awaiting_decision" if len(state.scores) >= policy.quorum else "awaiting_scores"
    return "decided"


def panel_view(summary: PanelSummary, policy: ScoringPolicy) -> dict[str, Any]:
    return {
        "count": summary.count,
        "quorum": summary.quorum,
        "quorum_met": summary.quorum_met,
        "mean": _decimal(summary.mean),
        "spread": _decimal(summary.spread),
        "std_dev": _decimal(summary.std_dev),
        "dimension_means": {d: str(v) for d, v in summary.dimension_means.items()},
        "entries": [
            {
                "reviewer": entry.reviewer,
                "total": str(entry.total),
                "panel_median": _decimal(entry.panel_median),
                "deviation": _decimal(entry.deviation),
                "flagged": entry.flagged,
            }
            for entry in summary.entries
        ],
        "flagged": list(summary.flagged),
        "policy": {
            "scale_max": str(policy.scale_max),
            "weights": {d: str(policy.weights[d]) for d in REVIEW_DIMENSIONS},
            "quorum": policy.quorum,
            "deviation_threshold": str(policy.deviation_threshold),
        },
    }


def dossier(loaded: Loaded, policy: ScoringPolicy, sight: Sight = Sight.全部) -> dict[str, Any]:
    """The whole file of one application in one answer: the form as it stands and how it got
    there, the screening, every finding (and its clearance), the facts reported about the
    screened enterprise, the selection, the unit's plans, every score, the panel, the decision and
    the units built from it.

    `sight` (policy.Sight) hides what the reader may not see: the applicant gets no scores, no
    panel, no chair's note on a flagged score and no actor of any review step; a reviewer who has
    not scored yet gets no other reviewer's score and no panel figures."""
    applicant = sight is Sight.申报单位
    show_scores = sight is Sight.全部
    state = loaded.state
    assert state is not None
    submitted = decode(loaded.intake[0])
    assert isinstance(submitted, ApplicationSubmitted)

    form_history: list[dict[str, Any]] = []
    plans: list[dict[str, Any]] = []
    withdrawal: dict[str, Any] | None = None
    for record in loaded.intake:
        event = decode(record)
        entry = {"type": record.type, **provenance(record)}
        if isinstance(event, PlanSubmitted | PlanAmended):
            reason = event.reason if isinstance(event, PlanAmended) else None
            plans.append({**entry, "plan": event.plan.model_dump(mode="json"), "reason": reason})
        elif isinstance(event, ApplicationAmended):
            form_history.append({**entry, "reason": event.reason})
        elif isinstance(event, ApplicationWithdrawn):
            withdrawal = {**entry, "reason": event.reason}
        else:
            form_history.append(entry)

    screening: dict[str, Any] | None = None
    findings: dict[str, dict[str, Any]] = {}
    scores: list[dict[str, Any]] = []
    decision: dict[str, Any] | None = None
    selection: dict[str, Any] | None = None
    for record in loaded.review:
        event = decode(record)
        seen = provenance(record, anonymous=applicant)
        if isinstance(event, ApplicationAccepted):
            screening = {"outcome": "accepted", "outcome_label": "受理", "grounds": [], **seen}
        elif isinstance(event, ApplicationRejected):
            grounds = [ground.model_dump(mode="json") for ground in event.findings]
            screening = {
                "outcome": "rejected",
                "outcome_label": "不予受理",
                "grounds": grounds,
                **seen,
            }
        elif isinstance(event, ExclusionFound):
            findings[str(event.finding_id)] = {
                **event.to_data(),
                "open": True,
                "found": seen,
                "cleared": None,
            }
        elif isinstance(event, ExclusionCleared):
            finding = findings[str(event.finding_id)]
            finding["open"] = False
            finding["cleared"] = {"reason": event.reason, **seen}
        elif isinstance(event, ReviewScored):
            if show_scores:
                scores.append({**event.to_data(), **seen})
        elif isinstance(event, ConstructionUnitSelected | ConstructionUnitNotSelected):
            chosen = isinstance(event, ConstructionUnitSelected)
            selection = {
                "decision": "selected" if chosen else "not_selected",
                "decision_label": "确定为建设单位" if chosen else "未确定为建设单位",
                **event.to_data(),
                **seen,
            }
        elif isinstance(event, ConstructionApproved | ConstructionDeclined):
            kind = "approved" if isinstance(event, ConstructionApproved) else "declined"
            label = "批准建设" if kind == "approved" else "不予批准"
            data = event.to_data()
            if applicant:
                data.pop("flag_note", None)
            decision = {"decision": kind, "decision_label": label, **data, **seen}

    unit_name, unit_code = state.unit_name, state.unit_credit_code
    return {
        "application_id": str(state.application_id),
        "receipt_no": submitted.receipt_no,
        "year": state.year,
        "programme": state.programme.value,
        "programme_label": state.programme.label,
        "submitter": state.submitter,
        "submitter_name": ALL_AREAS.get(state.submitter),
        "name": form_name(state.form),
        "unit": {"name": unit_name, "credit_code": unit_code, "unit_id": _str(state.unit_id)},
        "screened_credit_code": state.screened_credit_code,
        "status": state.stage.value,
        "status_label": STAGE_LABELS[state.stage],
        "queue_stage": queue_stage(state, policy),
        "submitted": provenance(loaded.intake[0]),
        "form": state.form.model_dump(mode="json"),
        "form_history": form_history,
        "withdrawal": withdrawal,
        "screening": screening,
        "findings": list(findings.values()),
        # Each report, and each correction or withdrawal by its department, in order (`type` says which).
        "compliance_facts": [
            {"type": record.type, **decode(record).to_data(), **provenance(record)} for record in loaded.facts
        ],
        "selection": selection,
        "plans": plans,
        "scores": scores if show_scores else None,
        "scored_by_count": len(state.scores),
        "panel": panel_view(panel(state, policy), policy) if show_scores else None,
        "decision": decision,
        "units": [
            {"type": record.type, **decode(record).to_data(), **provenance(record)} for record in loaded.units
        ],
        "history": [
            {
                "stream": stream,
                "type": record.type,
                "version": record.aggregate_version,
                **provenance(record, anonymous=applicant and stream == "review"),
            }
            for stream, record in sorted(
                [("intake", r) for r in loaded.intake]
                + [("review", r) for r in loaded.review]
                + [("registry", r) for r in loaded.units]
                + [("data_exchange", r) for r in loaded.facts],
                key=lambda item: item[1].recorded_at,
            )
        ],
    }


def _str(value: object | None) -> str | None:
    return None if value is None else str(value)
