"""Sessions: a person logs in with a staff account (`accounts.py`) and from then on the browser's
session cookie is accepted exactly where an API key is, as the account's principal, under the
same access rules (the guard in `authorization.py` asks `SessionVerifier` when no key is sent).

**Cookie.** `huigong_session=<session_id>.<secret>`: 80 random bits naming the session in logs and
for revocation, and a 256-bit secret kept only as its SHA-256. `HttpOnly` (no script reads it),
`SameSite=Strict` (no other site's page sends it), `Path=/` (the front door serves every API
from one origin), `Secure` whenever the request came over TLS.

**CSRF.** Every request that changes something (not GET/HEAD/OPTIONS) made with the cookie must
carry `X-CSRF-Token`: an HMAC of the session's secret, which the login answer and `GET /session`
give to the page (another site can neither read those answers nor compute it). SameSite=Strict
already keeps other sites' requests cookieless; the token is the second lock.

**Ending.** A session ends at the first of: `HUIGONG_SESSION_HOURS` after login, being idle for
`HUIGONG_SESSION_IDLE_MINUTES` (each use moves this on), logout (`DELETE /session`), a password
reset or the account's disabling (`huigong users …`). Like a key, what a service read about a
session is cached for `HUIGONG_AUTH_CACHE_SECONDS`, so an ended session is refused everywhere
within that many seconds.

**Login attempts** are recorded (`auth.login_attempts`: name, address, outcome, never the
password) and limited: after `FAILURES_PER_ACCOUNT` failures for one name, or
`FAILURES_PER_CLIENT` from one address, within `WINDOW`, further attempts are refused with 429
until the oldest failure leaves the window. An unknown name and a wrong password get the same
answer, in the same time.

The routes (`POST`, `GET`, `DELETE /session`) are served by every service; the console calls
intake's (`/api/intake/session`).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Final

import asyncpg
from fastapi import APIRouter, Body, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from . import accounts, logs
from .database import DbConnection
from .principals import ROLE_NAMES, Principal, Role

log = logs.get(__name__)

COOKIE: Final = "huigong_session"
CSRF_HEADER: Final = "X-CSRF-Token"
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
WINDOW: Final = timedelta(minutes=15)
FAILURES_PER_ACCOUNT: Final = 5
FAILURES_PER_CLIENT: Final = 30
_ID_BYTES: Final = 10  # 16 base32 characters
_CSRF_CONTEXT: Final = b"huigong csrf v1"


def new_token() -> tuple[str, str, bytes]:
    """(the cookie value, the session id, the SHA-256 of the secret)."""
    session_id = base64.b32encode(secrets.token_bytes(_ID_BYTES)).decode().lower()
    secret = secrets.token_urlsafe(32)
    return f"{session_id}.{secret}", session_id, _digest(secret)


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def split(token: str) -> tuple[str, str] | None:
    session_id, dot, secret = token.partition(".")
    if not dot or len(session_id) != 16 or len(secret) != 43:
        return None
    if not all(c in "abcdefghijklmnopqrstuvwxyz234567" for c in session_id):
        return None
    return session_id, secret


def csrf_token(token: str) -> str:
    """The CSRF token of the session whose cookie is `token`."""
    parts = split(token)
    secret = parts[1] if parts else token
    mac = hmac.new(secret.encode(), _CSRF_CONTEXT, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def csrf_matches(token: str, presented: str | None) -> bool:
    return presented is not None and hmac.compare_digest(csrf_token(token), presented)


@dataclass(frozen=True)
class Ended:
    """Why a presented cookie does not authenticate (for the log; the caller hears less)."""

    reason: str  # malformed | unknown | mismatch | revoked | expired | idle
    session_id: str | None = None


@dataclass(frozen=True)
class _Cached:
    read_at: float
    digest: bytes | None
    principal: Principal | None
    revoked: bool
    expires_at: datetime | None
    idle_until: datetime | None


class SessionVerifier:
    """Turns a session cookie into its principal, reading `auth.sessions` at most once per session
    per `ttl` seconds in this process; each read moves the idle deadline on."""

    MAX_ENTRIES: Final = 50_000

    def __init__(self, pool: asyncpg.Pool, ttl: float, idle: timedelta) -> None:
        self._pool = pool
        self._ttl = ttl
        self._idle = idle
        self._cache: dict[str, _Cached] = {}

    async def verify(self, token: str) -> Principal | Ended:
        parts = split(token)
        if parts is None:
            return Ended("malformed")
        session_id, secret = parts
        now = time.monotonic()
        entry = self._cache.get(session_id)
        if entry is None or now - entry.read_at >= self._ttl:
            entry = await self._read(session_id, secret, now)
        if entry.digest is None or entry.principal is None:
            return Ended("unknown", session_id)
        if not hmac.compare_digest(entry.digest, _digest(secret)):
            return Ended("mismatch", session_id)
        if entry.revoked:
            return Ended("revoked", session_id)
        wall = datetime.now(UTC)
        if entry.expires_at is not None and entry.expires_at <= wall:
            return Ended("expired", session_id)
        if entry.idle_until is not None and entry.idle_until <= wall:
            return Ended("idle", session_id)
        return entry.principal

    async def _read(self, session_id: str, secret: str, now: float) -> _Cached:
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(
                """SELECT secret_sha256, role, code, revoked_at, expires_at, idle_until
                   FROM auth.sessions WHERE session_id = $1""",
                session_id,
            )
            if row is None:
                entry = _Cached(now, None, None, False, None, None)
            else:
                idle_until: datetime = row["idle_until"]
                live = row["revoked_at"] is None and min(row["expires_at"], idle_until) > datetime.now(UTC)
                # Only the holder of the secret keeps a session alive.
                if live and hmac.compare_digest(bytes(row["secret_sha256"]), _digest(secret)):
                    idle_until = await conn.fetchval(
                        """UPDATE auth.sessions SET idle_until = LEAST(expires_at, now() + $2::interval)
                           WHERE session_id = $1 RETURNING idle_until""",
                        session_id,
                        self._idle,
                    )
                try:
                    principal: Principal | None = Principal(
                        Role(row["role"]), row["code"], f"session:{session_id}"
                    )
                except ValueError:
                    principal = None
                entry = _Cached(
                    now,
                    bytes(row["secret_sha256"]),
                    principal,
                    row["revoked_at"] is not None,
                    row["expires_at"],
                    idle_until,
                )
        if len(self._cache) >= self.MAX_ENTRIES:
            stale = [k for k, e in self._cache.items() if now - e.read_at >= self._ttl]
            for k in stale or list(self._cache)[: self.MAX_ENTRIES // 2]:
                del self._cache[k]
        self._cache[session_id] = entry
        return entry

    def forget(self, session_id: str) -> None:
        """After a logout in this process: refused here at once, not after the cache interval."""
        self._cache.pop(session_id, None)


def cookie_of(request: Request) -> str | None:
    return request.cookies.get(COOKIE) or None


# --- the routes ----------------------------------------------------------------------------------


class Login(BaseModel):
    username: str = Field(min_length=1, max_length=64, title="用户名")
    password: str = Field(min_length=1, max_length=1024, title="密码")


class SessionInfo(BaseModel):
    username: str = Field(title="用户名")
    display_name: str = Field(title="姓名")
    principal: str = Field(title="调用主体", description="如 district:370202")
    role: str = Field(title="角色代码")
    role_name: str = Field(title="角色")
    code: str = Field(title="区市、单位代码或账号")
    demo: bool = Field(title="演示账号")
    csrf_token: str = Field(title="CSRF 令牌", description=f"修改数据的请求须以 {CSRF_HEADER} 请求头带上")
    expires_at: datetime = Field(title="会话最迟结束时间")


def _error(status: int, field: str, zh: str, en: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"field": field, "zh": zh, "en": en}]}, status_code=status, headers=headers
    )


def _client(request: Request) -> str:
    # Behind the front door the peer is nginx; it names the caller in X-Forwarded-For.
    forwarded = request.headers.get("x-forwarded-for", "").split(",")[-1].strip()
    return forwarded or (request.client.host if request.client else "")


@dataclass(frozen=True)
class SessionSettings:
    hours: float
    idle_minutes: float


def router(settings: SessionSettings) -> APIRouter:
    routes = APIRouter(tags=["登录"])

    @routes.post(
        "/session",
        summary="登录（工作人员账号）/ log in",
        response_model=SessionInfo,
        responses={401: {"description": "用户名或密码错误"}, 429: {"description": "尝试过于频繁"}},
    )
    async def login(request: Request, body: Annotated[Login, Body()]) -> Response:
        pool: asyncpg.Pool = request.app.state.runtime.pool
        client = _client(request)
        async with pool.acquire() as conn:
            wait = await _wait_before_trying(conn, body.username, client)
            if wait:
                log.warning("login refused", username=body.username, client=client, reason="rate limit")
                return _error(
                    429,
                    "username",
                    f"登录尝试过于频繁，请{_minutes(wait)}分钟后再试",
                    f"too many failed logins; try again in {_minutes(wait)} min",
                    {"Retry-After": str(wait)},
                )
            row = await conn.fetchrow(
                """SELECT username, display_name, role, code, password_hash, demo, disabled_at
                   FROM auth.accounts WHERE username = $1""",
                body.username,
            )
        # argon2 takes tens of milliseconds of CPU: off the event loop.
        matches = await asyncio.to_thread(
            accounts.password_matches, row["password_hash"] if row else None, body.password
        )
        reason = "unknown account" if row is None else "wrong password" if not matches else None
        if reason is None and row is not None and row["disabled_at"] is not None:
            reason = "account disabled"
        if reason is None and row is not None:
            try:
                role = Role(row["role"])
            except ValueError:
                reason = "unknown role"
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO auth.login_attempts (username, client, succeeded, reason) VALUES ($1, $2, $3, $4)",
                body.username,
                client,
                reason is None,
                reason or "ok",
            )
            if reason is not None or row is None:
                log.warning("login refused", username=body.username, client=client, reason=reason)
                if reason == "account disabled":
                    return _error(
                        401,
                        "username",
                        "该账号已停用，请联系管理员",
                        "this account is disabled; ask an administrator",
                    )
                return _error(401, "password", "用户名或密码错误", "wrong username or password")
            token, session_id, digest = new_token()
            expires_at = datetime.now(UTC) + timedelta(hours=settings.hours)
            idle_until = min(expires_at, datetime.now(UTC) + timedelta(minutes=settings.idle_minutes))
            await conn.execute(
                """INSERT INTO auth.sessions (session_id, secret_sha256, username, role, code, expires_at,
                                              idle_until, client)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
                session_id,
                digest,
                row["username"],
                row["role"],
                row["code"],
                expires_at,
                idle_until,
                client,
            )
        principal = f"{row['role']}:{row['code']}"
        log.info("login", username=row["username"], principal=principal, session_id=session_id, client=client)
        info = SessionInfo(
            username=row["username"],
            display_name=row["display_name"],
            principal=principal,
            role=role.value,
            role_name=ROLE_NAMES[role],
            code=row["code"],
            demo=row["demo"],
            csrf_token=csrf_token(token),
            expires_at=expires_at,
        )
        response = JSONResponse(info.model_dump(mode="json"))
        response.set_cookie(
            COOKIE,
            token,
            max_age=int(settings.hours * 3600),
            path="/",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    @routes.get("/session", summary="当前登录的账号 / who is logged in", response_model=SessionInfo)
    async def current(request: Request) -> Response:
        found = await _session_of(request)
        if isinstance(found, JSONResponse):
            return found
        token, session_id = found
        pool: asyncpg.Pool = request.app.state.runtime.pool
        row = await pool.fetchrow(
            """SELECT a.username, a.display_name, a.role, a.code, a.demo, s.expires_at
               FROM auth.sessions s JOIN auth.accounts a USING (username) WHERE s.session_id = $1""",
            session_id,
        )
        assert row is not None
        role = Role(row["role"])
        info = SessionInfo(
            username=row["username"],
            display_name=row["display_name"],
            principal=f"{role.value}:{row['code']}",
            role=role.value,
            role_name=ROLE_NAMES[role],
            code=row["code"],
            demo=row["demo"],
            csrf_token=csrf_token(token),
            expires_at=row["expires_at"],
        )
        return JSONResponse(info.model_dump(mode="json"), headers={"Cache-Control": "no-store"})

    @routes.delete("/session", status_code=204, summary="退出登录 / log out")
    async def logout(request: Request) -> Response:
        found = await _session_of(request)
        if isinstance(found, JSONResponse):
            return found
        token, session_id = found
        if not csrf_matches(token, request.headers.get(CSRF_HEADER)):
            return _csrf_refusal()
        pool: asyncpg.Pool = request.app.state.runtime.pool
        username = await pool.fetchval(
            """UPDATE auth.sessions SET revoked_at = now(), revoked_by = username, revoke_reason = 'logout'
               WHERE session_id = $1 AND revoked_at IS NULL RETURNING username""",
            session_id,
        )
        request.app.state.runtime.sessions.forget(session_id)
        log.info("logout", username=username, session_id=session_id)
        response = Response(status_code=204)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return response

    return routes


async def _session_of(request: Request) -> tuple[str, str] | JSONResponse:
    token = cookie_of(request)
    if token is None:
        return _error(401, COOKIE, "未登录", "not logged in")
    verifier: SessionVerifier = request.app.state.runtime.sessions
    outcome = await verifier.verify(token)
    if isinstance(outcome, Ended):
        return ended_refusal()
    parts = split(token)
    assert parts is not None
    return token, parts[0]


def ended_refusal() -> JSONResponse:
    return _error(401, COOKIE, "登录已过期或已退出，请重新登录", "the session has ended; log in again")


def _csrf_refusal() -> JSONResponse:
    return _error(
        403,
        CSRF_HEADER,
        f"缺少或错误的 {CSRF_HEADER} 请求头，请刷新页面后重试",
        f"missing or wrong {CSRF_HEADER} header; reload the page and retry",
    )


def _minutes(seconds: int) -> int:
    return max(1, -(-seconds // 60))


async def _wait_before_trying(conn: DbConnection, username: str, client: str) -> int:
    """Seconds until another attempt for `username` from `client` is allowed; 0 when it is."""
    since = datetime.now(UTC) - WINDOW
    waits: list[int] = []
    for column, value, allowed in (
        ("username", username, FAILURES_PER_ACCOUNT),
        ("client", client, FAILURES_PER_CLIENT),
    ):
        oldest: datetime | None = await conn.fetchval(
            f"""SELECT min(at) FROM (SELECT at FROM auth.login_attempts
                  WHERE {column} = $1 AND NOT succeeded AND at > $2 ORDER BY at DESC LIMIT $3) recent
                HAVING count(*) >= $3""",
            value,
            since,
            allowed,
        )
        if oldest is not None:
            waits.append(max(1, int((oldest + WINDOW - datetime.now(UTC)).total_seconds()) + 1))
    return max(waits, default=0)
