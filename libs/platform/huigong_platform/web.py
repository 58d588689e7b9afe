"""What every service's HTTP entry point shares: the caller, the Idempotency-Key header, running a
command through the service's command path, and the JSON answer. A write route parses, builds
its command, calls `execute` and answers `respond(outcome)`: nothing else."""

from __future__ import annotations

from typing import Annotated, TypeVar

import orjson
from fastapi import Depends, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError

from .application import CommandPath
from .idempotency import IDEMPOTENCY_HEADER, MAX_KEY_LENGTH, Outcome
from .principals import Principal, principal
from .service import correlation_id_of

Caller = Annotated[Principal, Depends(principal)]
IdempotencyKey = Annotated[
    str,
    Header(
        alias=IDEMPOTENCY_HEADER,
        min_length=1,
        max_length=MAX_KEY_LENGTH,
        description="幂等键：同一调用主体重复提交同一键时返回首次结果，不会重复记录 "
        "(a retry with the same key returns the first outcome and records nothing new)",
    ),
]


# For a PUT, whose repetition changes nothing more: the key is optional there.
OptionalKey = Annotated[
    str | None,
    Header(
        alias=IDEMPOTENCY_HEADER,
        min_length=1,
        max_length=MAX_KEY_LENGTH,
        description="幂等键（可选）：同一调用主体重复提交同一键时返回首次结果 "
        "(optional: a retry with the same key returns the first outcome)",
    ),
]


def commands_of(request: Request) -> CommandPath:
    """The service's command path (built when the service starts: `Runtime.commands`)."""
    commands: CommandPath = request.app.state.commands
    return commands


async def execute(request: Request, command: BaseModel, caller: Principal, key: str | None) -> Outcome:
    """Run one command of an HTTP request through the service's command path."""
    return await commands_of(request).handle(
        command, caller, key=key, correlation_id=correlation_id_of(request)
    )


def respond(outcome: Outcome) -> Response:
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else {}
    # orjson renders what JSONResponse would (compact, UTF-8), several times faster: an
    # enrolment answer lists up to 10,000 rows.
    return Response(
        orjson.dumps(outcome.body, default=str),
        status_code=outcome.status_code,
        headers=headers,
        media_type="application/json",
    )


async def run(request: Request, command: BaseModel, caller: Principal, key: str | None) -> Response:
    """`execute`, answered."""
    return respond(await execute(request, command, caller, key))


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
