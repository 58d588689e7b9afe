"""What `GET /applications/{id or 受理编号}` answers: the application as its stream says now, the
status it reached and when, and the plans with every version sent."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from huigong_events.envelope import RecordedEvent
from huigong_events.forms import ThreeYearPlan
from huigong_events.intake import ApplicationAmended, ApplicationWithdrawn, PlanAmended, PlanSubmitted
from huigong_events.reference import ALL_AREAS
from huigong_events.upcasting import decode

from ...domain import applications as apps
from ...projections.applications import STATUS_LABELS, form_name


def _step(record: RecordedEvent) -> dict[str, Any]:
    return {"event_id": str(record.id), "at": record.occurred_at.isoformat(), "type": record.type}


def application_view(
    state: apps.ApplicationState,
    records: Sequence[RecordedEvent],
    status: str,
    history: Sequence[tuple[str, datetime]],
) -> dict[str, Any]:
    form_history: list[dict[str, Any]] = []
    plan_history: list[dict[str, Any]] = []
    withdrawal: dict[str, Any] | None = None
    for record in records:
        event = decode(record)
        if isinstance(event, PlanSubmitted | PlanAmended):
            amended = isinstance(event, PlanAmended)
            plan_history.append(
                {
                    **_step(record),
                    "action": "amended" if amended else "submitted",
                    "action_label": "修改" if amended else "报送",
                    "plan_kind": event.plan.plan_kind,
                    "plan_kind_label": "三年规划"
                    if isinstance(event.plan, ThreeYearPlan)
                    else "年度实施方案",
                    "year": None if isinstance(event.plan, ThreeYearPlan) else event.plan.year,
                    "reason": event.reason if isinstance(event, PlanAmended) else None,
                }
            )
        elif isinstance(event, ApplicationAmended):
            form_history.append({**_step(record), "reason": event.reason})
        elif isinstance(event, ApplicationWithdrawn):
            withdrawal = {**_step(record), "reason": event.reason}
        else:
            form_history.append(_step(record))
    three_year = state.three_year_plan
    return {
        "application_id": str(state.application_id),
        "receipt_no": state.receipt_no,
        "year": state.year,
        "programme": state.programme.value,
        "programme_label": state.programme.label,
        "submitter": state.submitter,
        "submitter_name": ALL_AREAS.get(state.submitter),
        "name": form_name(state.form),
        "status": status,
        "status_label": STATUS_LABELS[status],
        "status_history": [
            {"status": name, "status_label": STATUS_LABELS[name], "at": at.isoformat()}
            for name, at in history
        ],
        "form": state.form.model_dump(mode="json"),
        "form_history": form_history,
        "withdrawal": withdrawal,
        "plans": {
            "three_year": None if three_year is None else three_year.model_dump(mode="json"),
            "annual": [plan.model_dump(mode="json") for plan in state.annual_plans],
            "history": plan_history,
        },
    }
