"""`/dead-letters`: a service's own dead letters over HTTP, for 运维/审计 (the `ops` role only,
`policy.COMMON`): list them (by status and consumer), show one, retry or skip one with a reason.

The same code as `huigong dead-letters` (`dead_letters.py`) on the service's pool, with the
service's live projections and reactions, so a retry applies the record exactly as the runner
would. Retry and skip are operator actions on the runner's bookkeeping, not commands of the
domain: like the command line, they record who (the caller's principal), why and the outcome in
`dead_letter_actions`, and log it; they append no event. A retried click meets the letter no
longer open (409), so nothing is done twice.

What is shown holds no personal data: the letter's coordinates (consumer, topic, partition,
offset, event type, aggregate and version), why it failed (ID and mobile numbers masked: a
database's error message quotes the row it refused), its envelope's metadata without the event's
data, the parked records behind it and the actions taken. The record's data and headers
stay for the command line, which masks sealed fields (an inbound record that could not be read
may hold anything a sender put in it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any, Final

import asyncpg
import structlog
from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from huigong_events.plausible import PlainText

from . import dead_letters
from .principals import Principal, principal
from .raw_identifiers import masked
from .refusals import Conflict, FieldError, NotFound, Refusal
from .subscriptions import Applier, Projection

log = structlog.get_logger(__name__)

# A letter's id is a bigint: a larger number is refused as a bad path (422), never sent to
# PostgreSQL; pages are bounded the same way (the offset is a bigint too).
LetterId = Annotated[int, Path(ge=1, le=2**63 - 1, description="死信编号")]
MAX_PAGE: Final = 1_000_000

# web.Caller, declared here: web.py imports the service module, which mounts these routes.
Caller = Annotated[Principal, Depends(principal)]

# The envelope fields a letter shows over HTTP: where the record came from, never its data.
ENVELOPE_FIELDS: Final = (
    "id",
    "type",
    "schema_version",
    "aggregate_type",
    "aggregate_id",
    "aggregate_version",
    "occurred_at",
    "recorded_at",
    "actor",
    "source",
    "correlation_id",
    "causation_id",
    "hash_valid",
)


class ActionRequest(BaseModel):
    reason: PlainText = Field(title="原因", description="重试或跳过的原因（记入处理记录）")


def _refusal(refused: dead_letters.DeadLetterRefused) -> Refusal:
    error = FieldError(refused.field, refused.zh, refused.en)
    if refused.missing:
        return NotFound(error)
    if refused.field == "letter_id":
        return Conflict(error)
    return Refusal(error)


def _no_letter(letter_id: int) -> NotFound:
    return NotFound(FieldError("letter_id", f"没有死信 #{letter_id}", f"no dead letter #{letter_id}"))


def summary(letter: dead_letters.LetterSummary) -> dict[str, Any]:
    """A letter's coordinates and why it failed; ID and mobile numbers in that reason masked (an
    error message may quote the row a database refused)."""
    out = letter.to_json()
    out["reason"] = masked(out["reason"])
    return out


def shown(detail: dead_letters.LetterDetail) -> dict[str, Any]:
    """A letter as the routes answer it: coordinates, reason, metadata; no data, no headers."""
    out = {**detail.to_json(), **summary(detail.summary)}
    envelope = out.pop("envelope")
    out.pop("headers")
    out["envelope"] = {k: envelope[k] for k in ENVELOPE_FIELDS} if envelope else None
    if out["envelope_error"]:
        out["envelope_error"] = masked(out["envelope_error"])
    return out


def router(
    service: str, consumers: Mapping[str, Projection], pool_of: Callable[[Request], asyncpg.Pool]
) -> APIRouter:
    """The routes of one service, whose projections and reactions by consumer name are
    `consumers` (the live instances the service runs); `pool_of` finds the service's pool."""
    routes = APIRouter(tags=["死信（运维）"])

    @routes.get("/dead-letters", summary="死信列表：按状态、消费者筛选")
    async def list_letters(
        request: Request,
        status: Annotated[
            str, Query(description="open 待处理、retried 已重试、skipped 已跳过，或 all")
        ] = "open",
        consumer: Annotated[str | None, Query(description="消费者（投影或反应），如 registry.units")] = None,
        page: int = Query(default=1, ge=1, le=MAX_PAGE),
        page_size: int = Query(default=50, ge=1, le=500),
    ) -> dict[str, Any]:
        async with pool_of(request).acquire() as conn:
            try:
                total, found = await dead_letters.letters(
                    conn, service, status, consumer, page_size, (page - 1) * page_size
                )
            except dead_letters.DeadLetterRefused as refused:
                raise _refusal(refused) from None
        return {
            "service": service,
            "consumers": sorted(consumers),
            "total": total,
            "page": page,
            "page_size": page_size,
            "items": [summary(letter) for letter in found],
        }

    @routes.get("/dead-letters/{letter_id}", summary="一封死信：原因、记录位置、处理记录（不含数据）")
    async def show_letter(letter_id: LetterId, request: Request) -> dict[str, Any]:
        async with pool_of(request).acquire() as conn:
            detail = await dead_letters.letter(conn, service, letter_id)
        if detail is None:
            raise _no_letter(letter_id)
        return shown(detail)

    async def resolve(
        letter_id: LetterId,
        action: dead_letters.Action,
        body: ActionRequest,
        request: Request,
        caller: Caller,
    ) -> dict[str, Any]:
        pool = pool_of(request)
        async with pool.acquire() as conn:
            consumer = await conn.fetchval("SELECT consumer FROM dead_letters WHERE id = $1", letter_id)
            if consumer is None:
                raise _no_letter(letter_id)
            projection = consumers.get(consumer)
            if projection is None:
                # A consumer this service no longer runs: the command line finds its class.
                raise Conflict(
                    FieldError(
                        "letter_id",
                        f"本服务不再运行消费者 {consumer}，请用 huigong dead-letters 处理",
                        f"this service no longer runs consumer {consumer}; use huigong dead-letters",
                    )
                )
            try:
                async with conn.transaction():
                    result = await dead_letters.resolve_on(
                        conn, Applier(projection, service), service, letter_id, action, caller.id, body.reason
                    )
            except dead_letters.DeadLetterRefused as refused:
                raise _refusal(refused) from None
        log.info(
            "dead letter resolved",
            letter_id=letter_id,
            action=action,
            consumer=consumer,
            actor=caller.id,
            ok=result.ok,
            outcome=result.outcome,
        )
        return result.to_json()

    @routes.post("/dead-letters/{letter_id}/retry", summary="重试一封死信（写明原因）")
    async def retry(
        letter_id: LetterId, body: ActionRequest, request: Request, caller: Caller
    ) -> dict[str, Any]:
        return await resolve(letter_id, "retry", body, request, caller)

    @routes.post("/dead-letters/{letter_id}/skip", summary="跳过一封死信（写明原因）")
    async def skip(
        letter_id: LetterId, body: ActionRequest, request: Request, caller: Caller
    ) -> dict[str, Any]:
        return await resolve(letter_id, "skip", body, request, caller)

    return routes
