"""What every intake write endpoint shares: the Idempotency-Key header and the JSON answer."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, TypeVar

import orjson
from fastapi import Header
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError

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


def respond(outcome: Outcome) -> Response:
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else {}
    # orjson renders what JSONResponse would (compact, UTF-8), several times faster: an
    # enrolment answer lists up to 10,000 rows.
    return Response(
        orjson.dumps(outcome.body),
        status_code=outcome.status_code,
        headers=headers,
        media_type="application/json",
    )


def jsonable(value: Any) -> Any:
    """Request bodies are fingerprinted for idempotency as JSON-compatible values."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    return value


Body = TypeVar("Body", bound=BaseModel)


def parse_json_body(model: type[Body], raw: bytes) -> Body:
    """A JSON request body read with orjson and validated by `model`, refused as FastAPI refuses
    a body parameter (RequestValidationError, so the same 422 with field errors). For bodies of
    several MB, where FastAPI's json.loads costs twice orjson's."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        error = {"type": "json_invalid", "loc": ("body", exc.pos), "msg": "JSON decode error", "input": {}}
        raise RequestValidationError([{**error, "ctx": {"error": exc.msg}}]) from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None


def request_fingerprint(path: str, body: Any) -> str:
    """What an Idempotency-Key is bound to: SHA-256 of the path and the parsed body as JSON with
    sorted keys, so a retry that spells the same JSON differently is still the same request."""
    canonical = orjson.dumps({"path": path, "body": body}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()
