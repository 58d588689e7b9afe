"""An application named in a path by its id or its 受理编号: both resolve to the id, which the
commands carry. The receipt is looked up in review's own copy of intake's submission; one not yet
received by review is answered as none (404)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Path, Request

from huigong_events.reference import application_ref
from huigong_platform.refusals import FieldError, Refusal
from huigong_platform.service import runtime_of

from ...handlers import Review, not_found

ApplicationRef = Annotated[
    str,
    Path(
        title="申报编号或受理编号",
        description="申报编号（UUID）或受理编号（如 2027-370202-00002）",
        max_length=64,
    ),
]


async def resolve(request: Request, ref: str) -> uuid.UUID:
    parsed = application_ref(ref)
    if parsed is None:
        raise Refusal(
            FieldError(
                "application_id",
                "应为申报编号（UUID）或受理编号（年度-区市或单位代码-五位序号，如 2027-370202-00002）",
                "expected an application id (a UUID) or a receipt number (year-submitter-five digits, "
                "e.g. 2027-370202-00002)",
            )
        )
    if isinstance(parsed, uuid.UUID):
        return parsed
    review: Review = runtime_of(request).extras["review"]
    async with review.reads() as inputs:
        found = await inputs.by_receipt(parsed)
    if found is None:
        raise not_found()
    return found
