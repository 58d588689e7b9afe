"""What every intake write endpoint shares: the Idempotency-Key header and the JSON answer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Header
from fastapi.responses import JSONResponse

from huigong_platform.idempotency import MAX_KEY_LENGTH, Outcome

IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=MAX_KEY_LENGTH,
        description="幂等键：同一调用主体重复提交同一键时返回首次结果，不会重复记录 "
        "(a retry with the same key returns the first outcome and records nothing new)",
    ),
]


def respond(outcome: Outcome) -> JSONResponse:
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else {}
    return JSONResponse(outcome.body, status_code=outcome.status_code, headers=headers)


def jsonable(value: Any) -> Any:
    """Request bodies are fingerprinted for idempotency as JSON-compatible values."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    return value
