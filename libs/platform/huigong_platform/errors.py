"""How refusals and outages reach an HTTP caller: always a JSON body with a list of field errors,
each in Chinese (for union staff) and English (for integrators).

- 404 / 405: no route serves the path, or not with this method (the router's own answers, in the
  same format: `path` or `method`, with the methods the path does serve);
- 401 / 403 / 413 / 429: refused by the access guard (`authorization.py`) before the endpoint
  runs, in the same format; 401 carries `WWW-Authenticate`, 429 `Retry-After`;
- 422: a request that breaks the contract or a rule (field-level messages naming the expected form
  in words, never a pattern; malformed JSON is `body` with the position in the words; an
  enumeration lists its codes with their Chinese labels), including a value
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
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from huigong_events.labels import labelled_enumerations, pattern_words

from . import logs
from .eventstore import ConcurrencyError
from .idempotency import IdempotencyKeyReused
from .refusals import ANSWERS, FieldError, Refusal

log = logs.get(__name__)

RETRY_AFTER_SECONDS: Final = 5

# pydantic's error types in words a person reads, Chinese and English, each naming the expected
# form; `{…}` are filled from the error's context. A type not listed keeps pydantic's English and a
# generic Chinese text; a pattern is never shown (see `_pattern`), nor is a byte offset.
_WORDS: Final[dict[str, tuple[str, str]]] = {
    "missing": ("必填项未填写", "required"),
    "string_too_long": ("长度不能超过{max_length}个字符", "at most {max_length} characters"),
    "string_too_short": ("长度不能少于{min_length}个字符", "at least {min_length} characters"),
    "string_type": ("应为文本", "text expected"),
    "int_parsing": ("应为整数，如 2027", "a whole number like 2027"),
    "int_type": ("应为整数，如 2027", "a whole number like 2027"),
    "int_from_float": ("应为整数，不能带小数", "a whole number without decimals"),
    "float_parsing": ("应为数字，如 12.5", "a number like 12.5"),
    "float_type": ("应为数字，如 12.5", "a number like 12.5"),
    "decimal_parsing": ("应为数字，如 12.50", "a number like 12.50"),
    "decimal_type": ("应为数字，如 12.50", "a number like 12.50"),
    "decimal_max_places": ("小数不能超过{decimal_places}位", "at most {decimal_places} decimal places"),
    "decimal_max_digits": ("数字不能超过{max_digits}位", "at most {max_digits} digits"),
    "bool_parsing": ("应为“是”或“否”（true 或 false）", "true or false"),
    "bool_type": ("应为“是”或“否”（true 或 false）", "true or false"),
    "date_from_datetime_parsing": ("应为 YYYY-MM-DD 格式的日期，如 2027-03-01", "a date like 2027-03-01"),
    "date_parsing": ("应为 YYYY-MM-DD 格式的日期，如 2027-03-01", "a date like 2027-03-01"),
    "date_type": ("应为 YYYY-MM-DD 格式的日期，如 2027-03-01", "a date like 2027-03-01"),
    "date_from_datetime_inexact": (
        "应为日期，不带时刻，如 2027-03-01",
        "a date without a time, like 2027-03-01",
    ),
    "datetime_parsing": (
        "应为带时区的时间，如 2027-03-01T09:00:00+08:00",
        "a time with its offset, like 2027-03-01T09:00:00+08:00",
    ),
    "datetime_from_date_parsing": (
        "应为带时区的时间，如 2027-03-01T09:00:00+08:00",
        "a time with its offset, like 2027-03-01T09:00:00+08:00",
    ),
    "datetime_type": (
        "应为带时区的时间，如 2027-03-01T09:00:00+08:00",
        "a time with its offset, like 2027-03-01T09:00:00+08:00",
    ),
    "timezone_aware": (
        "时间须带时区，如 2027-03-01T09:00:00+08:00",
        "a time with its offset, like 2027-03-01T09:00:00+08:00",
    ),
    "uuid_parsing": (
        "应为编号（UUID），如 0b7c3f2e-5d1a-4c5e-9f0a-2d3b4c5d6e7f",
        "an id (UUID) like 0b7c3f2e-5d1a-4c5e-9f0a-2d3b4c5d6e7f",
    ),
    "uuid_type": (
        "应为编号（UUID），如 0b7c3f2e-5d1a-4c5e-9f0a-2d3b4c5d6e7f",
        "an id (UUID) like 0b7c3f2e-5d1a-4c5e-9f0a-2d3b4c5d6e7f",
    ),
    "greater_than_equal": ("不能小于{ge}", "at least {ge}"),
    "less_than_equal": ("不能大于{le}", "at most {le}"),
    "greater_than": ("应大于{gt}", "greater than {gt}"),
    "less_than": ("应小于{lt}", "less than {lt}"),
    "too_short": ("至少需要{min_length}项", "at least {min_length} items"),
    "too_long": ("最多{max_length}项", "at most {max_length} items"),
    "extra_forbidden": ("不允许的字段（该对象没有此项）", "not a field of this object"),
    "union_tag_invalid": ("类型应为：{expected_tags}", "the kind must be one of: {expected_tags}"),
    "union_tag_not_found": ("缺少类型字段 {discriminator}", "the kind field {discriminator} is missing"),
    "model_attributes_type": ("应为对象（JSON 对象，如 {{…}}）", "an object ({{…}}) expected"),
    "model_type": ("应为对象（JSON 对象，如 {{…}}）", "an object ({{…}}) expected"),
    "dict_type": ("应为对象（JSON 对象，如 {{…}}）", "an object ({{…}}) expected"),
    "list_type": ("应为列表（JSON 数组，如 [ … ]）", "a list ([ … ]) expected"),
    "string_pattern_mismatch": (
        "格式不正确，请按该字段的说明填写",
        "not in the form this field expects (see its description)",
    ),
}


def body(errors: list[FieldError]) -> dict[str, Any]:
    return {"errors": [{"field": e.field, "zh": e.zh, "en": e.en} for e in errors]}


_BILINGUAL: Final = re.compile(r"^(?P<zh>.+?)（(?P<en>[^（）]+)）$", re.S)
_QUOTED: Final = re.compile(r"'((?:[^'\\]|\\.)*)'")


def _field(loc: tuple[Any, ...], union_tags: frozenset[str]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header"}:
        parts = parts[1:]
    # pydantic puts the tag of a discriminated union into the path ("form.pilot.pilot_name");
    # callers know the field as "form.pilot_name".
    parts = [p for p in parts if p not in union_tags]
    return ".".join(parts) or "body"


def _choices(expected: str) -> tuple[str, str]:
    """The allowed values of an enumeration with their labels, in both languages: "service_complex
    （服务职工综合体）、…" when the values are those of a labelled enumeration."""
    values = _QUOTED.findall(expected) or [expected]
    labels: dict[str, str] = {}
    for enumeration in labelled_enumerations().values():
        known = enumeration.labels()
        if set(values) <= set(known) and len(known) == len(values):
            labels = known
            break
    if not labels:
        listed = "、".join(values)
        return f"取值应为：{listed}", "one of: " + ", ".join(values)
    zh = "、".join(f"{code}（{label}）" for code, label in labels.items())
    en = ", ".join(f"{code} ({label})" for code, label in labels.items())
    return f"取值应为以下之一（填代码或中文名称均可）：{zh}", f"one of (the code or the Chinese label): {en}"


def _pattern(ctx: dict[str, Any]) -> tuple[str, str]:
    words = pattern_words(str(ctx.get("pattern", "")))
    return words if words is not None else _WORDS["string_pattern_mismatch"]


def _message(kind: str, en: str, ctx: dict[str, Any]) -> tuple[str, str]:
    if kind in {"enum", "literal_error"}:
        return _choices(str(ctx.get("expected", "")))
    if kind == "string_pattern_mismatch":
        return _pattern(ctx)
    if kind == "json_invalid":
        position = ctx.get("position")
        where_zh = f"（第{position}个字符附近：{ctx.get('error', '')}）" if position is not None else ""
        where_en = f" (near character {position}: {ctx.get('error', '')})" if position is not None else ""
        return f"请求体不是有效的 JSON{where_zh}", f"the request body is not valid JSON{where_en}"
    words = _WORDS.get(kind)
    if words is None:
        # Our own validators raise ValueError("中文（English）"): split the two languages.
        text = en.removeprefix("Value error, ")
        match = _BILINGUAL.match(text)
        return (match["zh"], match["en"]) if match else ("取值不符合要求：" + text, text)
    try:
        return words[0].format(**ctx), words[1].format(**ctx)
    except (KeyError, IndexError):
        return words


def validation_errors(raw: Iterable[Any], union_tags: frozenset[str] = frozenset()) -> list[FieldError]:
    result = []
    for error in raw:
        ctx = dict(error.get("ctx") or {})
        kind = str(error.get("type"))
        loc = tuple(error.get("loc", ()))
        if kind == "json_invalid":
            # FastAPI puts the byte offset where the path goes: the offset belongs in the words.
            if len(loc) > 1 and isinstance(loc[-1], int):
                ctx["position"] = loc[-1]
            loc = ("body",)
        elif kind == "union_tag_not_found" and ctx.get("discriminator"):
            # The missing field is the tag itself: name it in the path.
            loc = (*loc, str(ctx["discriminator"]).strip("'"))
        zh, en = _message(kind, str(error.get("msg", "invalid")), ctx)
        result.append(FieldError(_field(loc, union_tags), zh, en))
    return result


def _methods_at(request: Request) -> list[str]:
    """Every method some route serves at the request's path (Starlette's Allow names only the
    first route that matched the path)."""
    return [
        method
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE")
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL
            for route in request.app.routes
        )
    ]


def _http_error(request: Request, exc: StarletteHTTPException) -> FieldError:
    """The router's own answers (no such route, a method the route does not serve) in the one
    refusal shape."""
    route = f"{request.method} {request.url.path}"
    if exc.status_code == 404:
        return FieldError("path", f"没有这个地址：{route}", f"no such address: {route}")
    if exc.status_code == 405:
        allowed = _methods_at(request)
        return FieldError(
            "method",
            f"该地址不支持 {request.method} 方法" + (f"，可用：{'、'.join(allowed)}" if allowed else ""),
            f"{request.method} is not served here" + (f"; allowed: {', '.join(allowed)}" if allowed else ""),
        )
    detail = str(exc.detail)
    return FieldError("request", f"请求无法处理：{detail}", detail)


def install(app: FastAPI, union_tags: frozenset[str] = frozenset()) -> None:
    """`union_tags`: discriminator values of the service's tagged unions, left out of field paths."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        log.info("request refused", path=request.url.path, status=exc.status_code)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(_methods_at(request))
        return JSONResponse(body([_http_error(request, exc)]), status_code=exc.status_code, headers=headers)

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
