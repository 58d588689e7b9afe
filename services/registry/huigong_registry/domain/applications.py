"""What the registry knows of intake's applications, and what review's approval of one becomes.
Pure: the application from intake's events, the outcome from the approval and the application.

Review's ConstructionApproved names the programme, the unit and its credit code, but not what
only the form says: for a 公益伙伴 (附件5) its type (智库, 公益慈善, 技术支持, 新闻媒体, 爱心企业…).
So the registry keeps the few facts of each application it needs (`KnownApplication`), from
intake's ApplicationSubmitted, ApplicationAmended (a whole new form) and ApplicationWithdrawn.

What an approval becomes (`becomes`):
- a 公益伙伴 becomes a partner (PartnerRegistered), never a unit: a partner receives no title;
- every other programme becomes a unit (UnitRegistered), as before;
- a 公益伙伴 approval whose application the registry has not seen yet waits (AWAIT). Intake's and
  review's events travel on different topics, read at their own pace, so the approval may come
  first although the application was submitted before it. It is parked, not guessed at, and
  decided when the application arrives (reactions/review.py).

The programme is the application's when known (the form is the source), else the approval's:
a unit needs nothing the approval lacks, so units never wait.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from enum import StrEnum

from huigong_events.forms import PartnerCategory, PilotForm, ServiceBaseForm, WelfarePartnerForm
from huigong_events.intake import ApplicationAmended, ApplicationSubmitted, ApplicationWithdrawn
from huigong_events.reference import Programme
from huigong_events.review import ConstructionApproved

AGGREGATE = "application"  # intake's aggregate; the registry only reads it


class Becomes(StrEnum):
    UNIT = "unit"  # UnitRegistered
    PARTNER = "partner"  # PartnerRegistered
    AWAIT = "await"  # parked until the application is known


@dataclass(frozen=True)
class KnownApplication:
    """The facts of one application the registry acts on; nothing personal (no signatories)."""

    application_id: uuid.UUID
    year: int
    programme: Programme
    form_kind: str
    submitter: str
    name: str  # the partner, the base, or the pilot's undertaking unit
    credit_code: str | None
    partner_category: PartnerCategory | None  # 公益伙伴 only (附件5 类型/领域)
    withdrawn: bool = False


def _from_form(
    form: PilotForm | ServiceBaseForm | WelfarePartnerForm,
) -> tuple[str, str | None, PartnerCategory | None]:
    match form:
        case WelfarePartnerForm():
            return form.name, form.credit_code, form.category
        case ServiceBaseForm():
            return form.name, form.undertaking_unit.credit_code, None
        case PilotForm():
            return form.undertaking_unit.name, form.undertaking_unit.credit_code, None


def evolve(
    known: KnownApplication | None, event: ApplicationSubmitted | ApplicationAmended | ApplicationWithdrawn
) -> KnownApplication | None:
    match event:
        case ApplicationSubmitted():
            name, code, category = _from_form(event.form)
            return KnownApplication(
                event.application_id,
                event.year,
                event.programme,
                event.form.form_kind,
                event.submitter,
                name,
                code,
                category,
            )
        case ApplicationAmended() if known is not None:
            name, code, category = _from_form(event.form)
            return replace(
                known, form_kind=event.form.form_kind, name=name, credit_code=code, partner_category=category
            )
        case ApplicationWithdrawn() if known is not None:
            return replace(known, withdrawn=True)
    return known


def becomes(approval: ConstructionApproved, known: KnownApplication | None) -> Becomes:
    programme = known.programme if known is not None else approval.programme
    if programme is not Programme.公益伙伴:
        return Becomes.UNIT
    if known is None or known.partner_category is None:
        return Becomes.AWAIT
    return Becomes.PARTNER
