"""The registry's record of intake's applications and of approvals waiting for theirs; the only
I/O of domain/applications.py. Callers hold the application's advisory lock (`units.lock`), so
an application event and the approval of the same application never interleave."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

import orjson

from huigong_events.forms import PartnerCategory
from huigong_events.reference import Programme
from huigong_events.review import ConstructionApproved
from huigong_platform.database import DbConnection

from ..domain.applications import KnownApplication


async def load_application(conn: DbConnection, application_id: uuid.UUID) -> KnownApplication | None:
    row = await conn.fetchrow("SELECT * FROM applications WHERE application_id = $1", application_id)
    if row is None:
        return None
    category = row["partner_category"]
    return KnownApplication(
        application_id=row["application_id"],
        year=row["year"],
        programme=Programme(row["programme"]),
        form_kind=row["form_kind"],
        submitter=row["submitter"],
        name=row["name"],
        credit_code=row["credit_code"],
        partner_category=PartnerCategory(category) if category is not None else None,
        withdrawn=row["withdrawn"],
    )


async def save_application(conn: DbConnection, known: KnownApplication) -> None:
    await conn.execute(
        """INSERT INTO applications (application_id, year, programme, form_kind, submitter, name,
               credit_code, partner_category, withdrawn)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (application_id) DO UPDATE SET form_kind = EXCLUDED.form_kind,
               name = EXCLUDED.name, credit_code = EXCLUDED.credit_code,
               partner_category = EXCLUDED.partner_category, withdrawn = EXCLUDED.withdrawn""",
        known.application_id,
        known.year,
        known.programme.value,
        known.form_kind,
        known.submitter,
        known.name,
        known.credit_code,
        known.partner_category.value if known.partner_category is not None else None,
        known.withdrawn,
    )


@dataclass(frozen=True)
class AwaitingApproval:
    """An approval parked until its application is known, with what it was recorded as."""

    approval: ConstructionApproved
    approved_on: date
    approval_event_id: uuid.UUID
    correlation_id: str
    actor: str


async def park_approval(conn: DbConnection, waiting: AwaitingApproval) -> bool:
    """False when this approval was parked already (a redelivery)."""
    parked = await conn.fetchval(
        """INSERT INTO approvals_awaiting_application (application_id, approval, approved_on,
               approval_event_id, correlation_id, actor)
           VALUES ($1, $2::jsonb, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING true""",
        waiting.approval.application_id,
        orjson.dumps(waiting.approval.to_data()).decode(),
        waiting.approved_on,
        waiting.approval_event_id,
        waiting.correlation_id,
        waiting.actor,
    )
    return bool(parked)


async def awaiting_approval(conn: DbConnection, application_id: uuid.UUID) -> AwaitingApproval | None:
    row = await conn.fetchrow(
        "SELECT * FROM approvals_awaiting_application WHERE application_id = $1", application_id
    )
    if row is None:
        return None
    raw = row["approval"]
    data = orjson.loads(raw) if isinstance(raw, str | bytes) else raw
    return AwaitingApproval(
        approval=ConstructionApproved.model_validate({**data, "type": "ConstructionApproved"}),
        approved_on=row["approved_on"],
        approval_event_id=row["approval_event_id"],
        correlation_id=row["correlation_id"],
        actor=row["actor"],
    )


async def release_approval(conn: DbConnection, application_id: uuid.UUID) -> None:
    """The parked approval has been decided (in the caller's transaction)."""
    await conn.execute("DELETE FROM approvals_awaiting_application WHERE application_id = $1", application_id)
