"""The access guard in front of every route of a service (`build_app` installs it), enforcing the
service's own `Policy` (declared in `huigong_<service>/policy.py`; see `policy.py`).

**The guard** (an ASGI middleware, so it runs before the body is read: an unauthenticated caller
cannot make a service parse 16 MB, and a refusal comes before any validation message):

1. finds the route the router will pick; a path no route serves passes through (404/405);
2. public rule: no key needed; otherwise the API key (`Authorization: Bearer hg_…` or
   `X-API-Key`) must be valid, unexpired and unrevoked, else 401 with `WWW-Authenticate`; without
   a key, a person's session cookie (`sessions.py`) is taken instead, as the account's principal,
   and a request that changes something must carry the session's CSRF token, else 403;
3. the key's role must be allowed, else 403;
4. the caller's token bucket must not be empty, else 429 with `Retry-After` (health checks and
   /metrics are never limited);
5. the body must fit the limit (`HUIGONG_MAX_BODY_BYTES`, or `HUIGONG_MAX_UPLOAD_BYTES` for the
   enrolment batches), else 413.

Each refusal is a JSON list of field errors in Chinese and English (like every refusal of the
platform), says nothing about any record, and is logged with the principal, key id, route,
reason and correlation id, never the key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import asyncpg
import orjson
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from starlette._utils import get_route_path
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import logs, sessions
from .credentials import KeyVerifier, Rejected
from .database import OUTAGES
from .policy import Policy, Rule, forbidden, template
from .principals import HEADER, Principal
from .rate_limits import RateLimits

log = logs.get(__name__)

API_KEY_HEADER: Final = "X-API-Key"
REALM: Final = 'Bearer realm="huigong"'
RETRY_AFTER_SECONDS: Final = 5


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # as the route declares it
    rule: Rule | None


def endpoints(app: FastAPI, policy: Policy) -> list[Endpoint]:
    """Every (method, route) the app serves, with its rule, in the router's order."""
    found: list[Endpoint] = []
    for route in iter_route_contexts(app.routes):
        path = route.path
        if path is None:
            continue
        for method in sorted(route.methods or ()):
            if method == "HEAD" and "GET" in (route.methods or ()):
                continue
            found.append(Endpoint(method, path, policy.rule_for(method, path)))
    return found


# --- the guard -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    body_bytes: int
    upload_bytes: int
    per_second: float
    burst: int
    # A whole sheet for an import job; as large as a batch upload unless the service says more.
    file_bytes: int = 0

    def for_rule(self, rule: Rule) -> int:
        if rule.file:
            return max(self.file_bytes, self.upload_bytes)
        return self.upload_bytes if rule.bulk else self.body_bytes


def _body(field: str, zh: str, en: str) -> bytes:
    return orjson.dumps({"errors": [{"field": field, "zh": zh, "en": en}]})


def _megabytes(n: int) -> str:
    return f"{n / 1_048_576:g} MiB"


class _TooLarge(Exception):
    pass


class AccessGuard:
    """ASGI middleware enforcing one service's policy. The key verifier comes from the running
    service (`app.state.runtime.keys`), created with its database pool."""

    def __init__(self, app: ASGIApp, policy: Policy, limits: Limits) -> None:
        self.app = app
        self.policy = policy
        self.limits = limits
        self.rates = RateLimits(limits.per_second, limits.burst)
        self._too_large = {
            limit: _body(
                "body",
                f"请求内容超过上限 {_megabytes(limit)}",
                f"the request body is larger than the limit of {_megabytes(limit)}",
            )
            for limit in {limits.body_bytes, limits.upload_bytes, max(limits.file_bytes, limits.upload_bytes)}
        }
        # Per route, in the router's order: its pattern, and per method the name used in logs and
        # the rule. Built on the first request, when every router is included.
        self._routes: list[tuple[re.Pattern[str], dict[str, tuple[str, Rule | None]]]] | None = None

    def _match(self, scope: Scope) -> tuple[str, Rule | None] | None:
        """The route the router will pick ("POST /applications/{application_id}") and its rule;
        None when no route serves this method and path."""
        if self._routes is None:
            self._routes = [
                (
                    compile_path(route.path)[0],
                    {
                        m: (f"{m} {template(route.path)}", self.policy.rule_for(m, route.path))
                        for m in route.methods or ()
                    },
                )
                for route in iter_route_contexts(scope["app"].routes)
                if route.path is not None
            ]
        path = get_route_path(scope)
        method = scope["method"]
        for regex, methods in self._routes:
            if method in methods and regex.match(path):
                return methods[method]
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        matched = self._match(scope)
        if matched is None:
            await self.app(scope, receive, send)  # the router answers 404 or 405
            return
        route, rule = matched
        refusal = await self._refusal(scope, route, rule)
        if refusal is not None:
            status, headers, body = refusal
            await _respond(send, status, body, headers)
            return
        assert rule is not None
        await self._within_limit(scope, receive, send, route, rule)

    async def _refusal(
        self, scope: Scope, route: str, rule: Rule | None
    ) -> tuple[int, dict[str, str], bytes] | None:
        if rule is None:
            log.error("access refused", status=403, reason="no access rule", route=route)
            return (
                403,
                {},
                _body(
                    HEADER,
                    "该接口未配置访问规则，拒绝所有调用",
                    "this endpoint has no access rule, so it is refused to everyone",
                ),
            )
        principal: Principal | None = None
        if not rule.public:
            outcome = await self._authenticate(scope, route)
            if not isinstance(outcome, Principal):
                return outcome
            principal = outcome
            if not rule.allows(principal.role):
                log.warning(
                    "access refused",
                    status=403,
                    reason="role not allowed",
                    principal=principal.id,
                    key_id=principal.key_id,
                    route=route,
                )
                (error,) = forbidden(principal, rule, route).errors
                return 403, {}, _body(error.field, error.zh, error.en)
            scope.setdefault("state", {})["principal"] = principal
        if not rule.probe:
            caller = principal.id if principal is not None else f"address:{_client(scope)}"
            wait = self.rates.take(caller)
            if wait:
                log.warning(
                    "access refused",
                    status=429,
                    reason="rate limit",
                    principal=principal.id if principal else None,
                    route=route,
                )
                return (
                    429,
                    {"Retry-After": str(wait)},
                    _body(
                        "rate_limit",
                        f"请求过于频繁，请{wait}秒后重试（每个调用主体每秒{self.limits.per_second:g}次，可短时突发{self.limits.burst}次）",
                        f"too many requests: {self.limits.per_second:g} per second per caller "
                        f"(bursts of {self.limits.burst}); retry after {wait} s",
                    ),
                )
        return None

    async def _authenticate(self, scope: Scope, route: str) -> Principal | tuple[int, dict[str, str], bytes]:
        presented = _presented_key(scope)
        cookie = _session_cookie(scope) if presented is None else None
        if cookie is not None:
            return await self._session(scope, route, cookie)
        if presented is None:
            log.warning("access refused", status=401, reason="no key", route=route)
            return (
                401,
                {"WWW-Authenticate": REALM},
                _body(
                    HEADER,
                    "需要凭据：请以 Authorization: Bearer <API 密钥> 调用",
                    "credentials required: send your API key as Authorization: Bearer <key>",
                ),
            )
        verifier: KeyVerifier = scope["app"].state.runtime.keys
        try:
            outcome = await verifier.verify(presented)
        except UNAVAILABLE as exc:
            return _unavailable(route, exc)
        if isinstance(outcome, Rejected):
            log.warning(
                "access refused", status=401, reason=outcome.reason, key_id=outcome.key_id, route=route
            )
            return (
                401,
                {"WWW-Authenticate": f'{REALM}, error="invalid_token"'},
                _body(
                    HEADER,
                    "凭据无效、已过期或已被吊销",
                    "the API key is invalid, expired or revoked",
                ),
            )
        return outcome

    async def _session(
        self, scope: Scope, route: str, token: str
    ) -> Principal | tuple[int, dict[str, str], bytes]:
        verifier: sessions.SessionVerifier = scope["app"].state.runtime.sessions
        try:
            outcome = await verifier.verify(token)
        except UNAVAILABLE as exc:
            return _unavailable(route, exc)
        if isinstance(outcome, sessions.Ended):
            log.warning(
                "access refused",
                status=401,
                reason=f"session {outcome.reason}",
                session_id=outcome.session_id,
                route=route,
            )
            return (
                401,
                {"WWW-Authenticate": f'{REALM}, error="invalid_token"'},
                _body(
                    sessions.COOKIE, "登录已过期或已退出，请重新登录", "the session has ended; log in again"
                ),
            )
        if scope["method"] not in sessions.SAFE_METHODS and not sessions.csrf_matches(
            token, _header(scope, sessions.CSRF_HEADER.lower().encode())
        ):
            log.warning("access refused", status=403, reason="csrf token", principal=outcome.id, route=route)
            return (
                403,
                {},
                _body(
                    sessions.CSRF_HEADER,
                    f"缺少或错误的 {sessions.CSRF_HEADER} 请求头，请刷新页面后重试",
                    f"missing or wrong {sessions.CSRF_HEADER} header; reload the page and retry",
                ),
            )
        return outcome

    async def _within_limit(self, scope: Scope, receive: Receive, send: Send, route: str, rule: Rule) -> None:
        limit = self.limits.for_rule(rule)
        refusal = self._too_large[limit]
        declared = _header(scope, b"content-length")
        if declared is not None:
            if not declared.isdigit() or int(declared) > limit:
                log.warning("request refused", status=413, reason="body too large", route=route)
                await _respond(send, 413, refusal, {})
                return
            # The server delivers no more than Content-Length says.
            await self.app(scope, receive, send)
            return
        if _header(scope, b"transfer-encoding") is None:
            await self.app(scope, receive, send)  # neither length nor chunks: no body
            return
        received = 0
        exceeded = False
        started = False

        async def counted() -> Message:
            # A body without Content-Length (chunked) is counted as it arrives.
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            # FastAPI turns an error while reading the body into its own 400; answer 413 instead.
            nonlocal started
            if exceeded and not started:
                if message["type"] == "http.response.start":
                    started = True
                    log.warning("request refused", status=413, reason="body too large", route=route)
                    await _respond(send, 413, refusal, {})
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, guarded_send)
        except _TooLarge:
            if not started:
                await _respond(send, 413, refusal, {})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1")).strip()
    return None


def _presented_key(scope: Scope) -> str | None:
    authorization = _header(scope, b"authorization")
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
        return ""  # present but not a bearer token: invalid, not missing
    api_key = _header(scope, API_KEY_HEADER.lower().encode())
    return api_key if api_key else None


# Whatever the database raises while a key or session is checked answers 503: the outages every
# other path retries (asyncpg's InternalClientError among them, seen when PostgreSQL stopped in
# the middle of a check under load) and any PostgreSQL error, as nothing was done yet.
UNAVAILABLE: Final[tuple[type[Exception], ...]] = (*OUTAGES, asyncpg.PostgresError)


def _unavailable(route: str, exc: BaseException) -> tuple[int, dict[str, str], bytes]:
    log.warning("access check unavailable", route=route, error=type(exc).__name__)
    return (
        503,
        {"Retry-After": str(RETRY_AFTER_SECONDS)},
        _body(
            "service",
            f"暂时无法核验凭据，请求未被处理，请{RETRY_AFTER_SECONDS}秒后重试",
            "credentials cannot be checked right now; nothing was done; retry later",
        ),
    )


def _session_cookie(scope: Scope) -> str | None:
    header = _header(scope, b"cookie")
    if not header:
        return None
    for part in header.split(";"):
        name, _, value = part.strip().partition("=")
        if name == sessions.COOKIE and value:
            return value
    return None


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


async def _respond(send: Send, status: int, body: bytes, headers: Mapping[str, str]) -> None:
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


# --- the rules in the OpenAPI document -------------------------------------------------------------


SECURITY_SCHEME: Final = "apiKey"


def document(schema: dict[str, Any], policy: Policy) -> dict[str, Any]:
    """Mark each operation of `schema` with its rule: the API-key scheme and the roles allowed,
    or no security for public ones."""
    components = schema.setdefault("components", {})
    components.setdefault("securitySchemes", {})[SECURITY_SCHEME] = {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "hg_<key_id>_<secret>",
        "description": "API 密钥，由运维以 huigong keys create 签发 / an API key issued with `huigong keys create`",
    }
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict):
                continue
            rule = policy.rule_for(method.upper(), path)
            if rule is None or rule.public:
                operation["security"] = []
            else:
                operation["security"] = [{SECURITY_SCHEME: []}]
            operation["x-huigong-access"] = rule.describe() if rule else "refused"
    return schema
