"""How refusals and outages reach an HTTP caller: always a JSON body with a list of field errors,
each in Chinese (for union staff) and English (for integrators).

- 401 / 403 / 413 / 429: refused by the access guard (`authorization.py`) before the endpoint
  runs, in the same format; 401 carries `WWW-Authenticate`, 429 `Retry-After`;
- 422: a request that breaks the contract or a rule (field-level messages), including a value
  PostgreSQL cannot hold (a NUL character, a number out of range) that no model rule caught;
- 409: a write that conflicts with the current state (concurrent append, review started…);
- 503 with Retry-After: PostgreSQL cannot durably record the request right now. Nothing was
  recorded; the same request (with the same Idempotency-Key) may be sent again.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any, Final

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from . import logs
from .eventstore import ConcurrencyError
from .idempotency import IdempotencyKeyReused
from .refusals import ANSWERS, FieldError, Refusal

log = logs.get(__name__)

RETRY_AFTER_SECONDS: Final = 5

# Chinese wording of pydantic's error types; anything else falls back to a generic message.
_ZH: Final[dict[str, str]] = {
    "missing": "必填项未填写",
    "string_too_long": "长度不能超过{max_length}个字符",
    "string_too_short": "长度不能少于{min_length}个字符",
    "string_pattern_mismatch": "格式不正确",
    "string_type": "应为文本",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "decimal_parsing": "应为数字",
    "bool_parsing": "应为“是”或“否”",
    "date_from_datetime_parsing": "日期格式应为 YYYY-MM-DD",
    "date_parsing": "日期格式应为 YYYY-MM-DD",
    "datetime_parsing": "时间格式不正确",
    "timezone_aware": "时间须带时区",
    "uuid_parsing": "编号格式不正确",
    "enum": "取值应为：{expected}",
    "literal_error": "取值应为：{expected}",
    "greater_than_equal": "不能小于{ge}",
    "less_than_equal": "不能大于{le}",
    "greater_than": "应大于{gt}",
    "less_than": "应小于{lt}",
    "too_short": "至少需要{min_length}项",
    "too_long": "最多{max_length}项",
    "extra_forbidden": "不允许的字段",
    "union_tag_invalid": "类型取值不正确",
    "union_tag_not_found": "缺少类型字段",
    "model_attributes_type": "应为对象",
    "dict_type": "应为对象",
    "list_type": "应为列表",
    "json_invalid": "不是有效的 JSON",
}


def body(errors: list[FieldError]) -> dict[str, Any]:
    return {"errors": [{"field": e.field, "zh": e.zh, "en": e.en} for e in errors]}


_BILINGUAL: Final = re.compile(r"^(?P<zh>.+?)（(?P<en>[^（）]+)）$", re.S)


def _field(loc: tuple[Any, ...], union_tags: frozenset[str]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header"}:
        parts = parts[1:]
    # pydantic puts the tag of a discriminated union into the path ("form.pilot.pilot_name");
    # callers know the field as "form.pilot_name".
    parts = [p for p in parts if p not in union_tags]
    return ".".join(parts) or "body"


def validation_errors(raw: Iterable[Any], union_tags: frozenset[str] = frozenset()) -> list[FieldError]:
    result = []
    for error in raw:
        ctx = {k: v for k, v in (error.get("ctx") or {}).items()}
        en = str(error.get("msg", "invalid"))
        template = _ZH.get(str(error.get("type")))
        if template is None:
            # Our own validators raise ValueError("中文（English）"): split the two languages.
            text = en.removeprefix("Value error, ")
            match = _BILINGUAL.match(text)
            zh, en = (match["zh"], match["en"]) if match else (text, text)
        else:
            try:
                zh = template.format(**ctx)
            except (KeyError, IndexError):
                zh = template
        result.append(FieldError(_field(tuple(error.get("loc", ())), union_tags), zh, en))
    return result


def install(app: FastAPI, union_tags: frozenset[str] = frozenset()) -> None:
    """`union_tags`: discriminator values of the service's tagged unions, left out of field paths."""

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(body(validation_errors(list(exc.errors()), union_tags)), status_code=422)

    @app.exception_handler(Refusal)
    async def refused(request: Request, exc: Refusal) -> JSONResponse:
        log.info(
            "request refused", path=request.url.path, status=exc.status, fields=[e.field for e in exc.errors]
        )
        headers = {"WWW-Authenticate": 'Bearer realm="huigong"'} if exc.status == 401 else None
        return JSONResponse(body(list(exc.errors)), status_code=exc.status, headers=headers)

    @app.exception_handler(asyncpg.DataError)
    async def unstorable(request: Request, exc: asyncpg.DataError) -> JSONResponse:
        # The message quotes the offending value, which may be personal data: log the class only.
        log.warning("request refused", path=request.url.path, status=422, error=type(exc).__name__)
        error = FieldError(
            "body",
            "数据无法保存：含有不允许的字符（如 NUL）或数值超出范围",
            "a value cannot be stored: a character that is not allowed (such as NUL) or a number out of range",
        )
        return JSONResponse(body([error]), status_code=422)

    @app.exception_handler(ConcurrencyError)
    async def conflict(request: Request, exc: ConcurrencyError) -> JSONResponse:
        error = FieldError(
            "aggregate_version",
            "该记录已被其他请求修改，请刷新后重试",
            f"{exc.aggregate_type} {exc.aggregate_id} was changed by another request; reload and retry",
        )
        return JSONResponse(body([error]), status_code=409)

    @app.exception_handler(IdempotencyKeyReused)
    async def reused(request: Request, exc: IdempotencyKeyReused) -> JSONResponse:
        error = FieldError(
            "Idempotency-Key",
            "该幂等键已用于另一个不同的请求",
            "this Idempotency-Key was already used for a different request",
        )
        return JSONResponse(body([error]), status_code=422)

    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.warning("database unavailable", path=request.url.path, error=type(exc).__name__)
        # A connection lost during COMMIT leaves the outcome unknown to us too: the answer
        # cannot promise "not recorded". A retry with the same Idempotency-Key is always safe:
        # it records the request once, or answers what was recorded the first time.
        error = FieldError(
            "service",
            f"数据库暂时不可用，无法确认请求已保存；请{RETRY_AFTER_SECONDS}秒后以相同的幂等键重试（不会重复记录）",
            "the database is unavailable and the request cannot be confirmed as recorded; retry "
            "with the same Idempotency-Key (it is never recorded twice)",
        )
        return JSONResponse(body([error]), status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})

    for outage in (
        OSError,
        TimeoutError,
        asyncpg.InterfaceError,
        asyncpg.CannotConnectNowError,
        asyncpg.ConnectionDoesNotExistError,
        asyncpg.TooManyConnectionsError,
        asyncpg.AdminShutdownError,
        # What asyncpg raises when the server goes away in the middle of an operation (seen
        # when PostgreSQL stopped just as a transaction committed: tests/reliability).
        asyncpg.InternalClientError,
    ):
        app.add_exception_handler(outage, unavailable)


# The body of every refusal, as the OpenAPI documents declare it.
REFUSAL_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "title": "Refusal",
    "required": ["errors"],
    "properties": {
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "zh", "en"],
                "properties": {
                    "field": {"type": "string", "description": "出错的字段 (dotted path of the field)"},
                    "zh": {"type": "string", "description": "中文说明"},
                    "en": {"type": "string", "description": "English explanation"},
                },
            },
        }
    },
}


def declare(schema: dict[str, Any], public: Callable[[str, str], bool]) -> dict[str, Any]:
    """Declare in every operation of `schema` the refusals it may answer with, each with the one
    refusal body: 401 and 403 where a key is needed (`public(method, path)` is false), 409 for
    writes, 404 and 422 everywhere."""
    schema.setdefault("components", {}).setdefault("schemas", {})["Refusal"] = REFUSAL_SCHEMA
    reference = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Refusal"}}}}
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            statuses = [404, 422] if public(method.upper(), path) else [401, 403, 404, 422]
            if method.upper() != "GET":
                statuses.append(409)
            for status in statuses:
                responses[str(status)] = {"description": ANSWERS[status], **reference}
    return schema
