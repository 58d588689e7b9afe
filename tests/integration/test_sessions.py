"""Logins for people against real intake and review processes: accounts made with `huigong users`,
a session cookie accepted exactly where an API key is (same principal, same rules) with CSRF on
every change, login attempts limited and logged without the password, and a session that ends
on logout, on idling, on a password reset and on the account's disabling."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import httpx
import pytest

from tests.forms import complex_form, with_fresh_undertaking_unit

from ..conftest import Stack
from .processes import ServiceProcess, running

HUIGONG: Final = Path(sys.executable).parent / "huigong"
YEAR: Final = datetime.now(UTC).year + 1
IDLE_SECONDS: Final = 6.0
CACHE_SECONDS: Final = 0.5


@pytest.fixture(scope="module")
async def services(stack: Stack) -> AsyncIterator[tuple[ServiceProcess, ...]]:
    extra = {
        "HUIGONG_SESSION_IDLE_MINUTES": str(IDLE_SECONDS / 60),
        "HUIGONG_AUTH_CACHE_SECONDS": str(CACHE_SECONDS),
    }
    async with running(stack, ("intake", "review"), 1900, "sessions", extra) as procs:
        yield procs


def users(stack: Stack, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HUIGONG_PG_ADMIN_DSN": stack.admin_dsn, "COLUMNS": "200"}
    return subprocess.run(
        [str(HUIGONG), "users", *args], capture_output=True, text=True, timeout=60, env=env, check=check
    )


def create(stack: Stack, principal: str, name: str = "王某") -> tuple[str, str]:
    username = f"u{uuid.uuid4().hex[:10]}"
    made = users(
        stack, "create", username, "--principal", principal, "--name", name, "--actor", "tests", "--json"
    )
    return username, json.loads(made.stdout)["password"]


async def login(client: httpx.AsyncClient, username: str, password: str, **headers: str) -> httpx.Response:
    return await client.post("/session", json={"username": username, "password": password}, headers=headers)


def application() -> dict[str, Any]:
    form = json.loads(with_fresh_undertaking_unit(complex_form()).model_dump_json())
    return {"year": YEAR, "programme": "service_complex", "submitter": "370202", "form": form}


async def eventually(probe: Callable[[], Awaitable[bool]], what: str, timeout: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await probe():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"not reached in {timeout} s: {what}")
        await asyncio.sleep(0.3)


async def test_a_district_logs_in_and_acts_exactly_as_its_key_would(
    stack: Stack, services: tuple[ServiceProcess, ...]
) -> None:
    intake, review = services
    username, password = create(stack, "district:370202", "市南区工作人员")
    listed = users(stack, "list", "--json")
    shown = next(a for a in json.loads(listed.stdout) if a["username"] == username)
    assert shown["principal"] == "district:370202" and shown["state"] == "active"
    assert password not in listed.stdout and "argon2" not in listed.stdout

    async with httpx.AsyncClient(base_url=intake.url, timeout=60) as browser:
        answer = await login(browser, username, password)
        assert answer.status_code == 200, answer.text
        who = answer.json()
        assert who["principal"] == "district:370202" and who["role_name"] == "区市总工会"
        cookie = answer.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
        assert "Secure" not in cookie  # plain HTTP on this machine
        csrf = who["csrf_token"]

        # A change needs the CSRF token; with it the session submits like the district's key.
        refused = await browser.post(
            "/applications", json=application(), headers={"Idempotency-Key": uuid.uuid4().hex}
        )
        assert refused.status_code == 403 and refused.json()["errors"][0]["field"] == "X-CSRF-Token"
        made = await browser.post(
            "/applications",
            json=application(),
            headers={"Idempotency-Key": uuid.uuid4().hex, "X-CSRF-Token": csrf},
        )
        assert made.status_code == 201, made.text
        application_id = made.json()["application_id"]

        async def listed_own() -> bool:
            page = await browser.get("/applications")
            return page.status_code == 200 and any(
                i["application_id"] == application_id for i in page.json()["items"]
            )

        await eventually(listed_own, "the district's own application in its list")
        me = await browser.get("/session")
        assert me.status_code == 200 and me.json()["csrf_token"] == csrf

        # The same cookie is accepted by every service (one origin behind the front door).
        browser.base_url = httpx.URL(review.url)
        queue = await browser.get("/queue")
        assert queue.status_code == 200, queue.text
        # ...under the same rules as a key: a district may not score.
        scored = await browser.post(
            f"/applications/{application_id}/scores", json={}, headers={"X-CSRF-Token": csrf}
        )
        assert scored.status_code == 403


async def test_a_reviewer_session_is_refused_where_a_reviewer_key_is(
    stack: Stack, services: tuple[ServiceProcess, ...]
) -> None:
    intake, _ = services
    username, password = create(stack, "reviewer:city/session-test")
    async with httpx.AsyncClient(base_url=intake.url, timeout=60) as browser:
        csrf = (await login(browser, username, password)).json()["csrf_token"]
        submitted = await browser.post(
            "/applications",
            json=application(),
            headers={"Idempotency-Key": uuid.uuid4().hex, "X-CSRF-Token": csrf},
        )
        assert submitted.status_code == 403
        assert "评审专家无权调用该接口" in submitted.json()["errors"][0]["zh"]


async def test_the_cookie_is_secure_when_the_front_door_speaks_tls(
    stack: Stack, services: tuple[ServiceProcess, ...]
) -> None:
    intake, _ = services
    username, password = create(stack, "city:session-tls")
    async with httpx.AsyncClient(base_url=intake.url, timeout=60) as browser:
        answer = await login(browser, username, password, **{"X-Forwarded-Proto": "https"})
        assert answer.status_code == 200 and "Secure" in answer.headers["set-cookie"]


async def test_failed_logins_are_limited_and_logged_without_the_password(
    stack: Stack, services: tuple[ServiceProcess, ...]
) -> None:
    intake, _ = services
    username, password = create(stack, "registrar:session-limit")
    async with httpx.AsyncClient(base_url=intake.url, timeout=60) as browser:
        unknown = await login(browser, "nobody-here", "whatever-password")
        wrong = await login(browser, username, "a-wrong-password-1")
        # An unknown name and a wrong password are told apart by nothing.
        assert unknown.status_code == wrong.status_code == 401
        assert unknown.json() == wrong.json()
        assert wrong.json()["errors"][0]["zh"] == "用户名或密码错误"
        for attempt in range(2, 6):
            assert (await login(browser, username, f"a-wrong-password-{attempt}")).status_code == 401
        limited = await login(browser, username, password)
        assert limited.status_code == 429, limited.text
        assert int(limited.headers["Retry-After"]) > 0
        assert "分钟后再试" in limited.json()["errors"][0]["zh"]
    log = intake.log_tail(400)
    assert "login refused" in log and username in log
    assert "a-wrong-password" not in log and password not in log


async def test_a_session_ends_on_logout_on_idling_on_reset_and_on_disabling(
    stack: Stack, services: tuple[ServiceProcess, ...]
) -> None:
    intake, _ = services
    username, password = create(stack, "district:370203")
    async with httpx.AsyncClient(base_url=intake.url, timeout=60) as browser:

        async def refused() -> bool:
            return (await browser.get("/applications")).status_code == 401

        # Logout: at once, and the cookie is cleared.
        csrf = (await login(browser, username, password)).json()["csrf_token"]
        assert (await browser.delete("/session")).status_code == 403  # no CSRF token
        assert (await browser.delete("/session", headers={"X-CSRF-Token": csrf})).status_code == 204
        assert "huigong_session" not in browser.cookies
        assert (await browser.get("/session")).status_code == 401

        # Idle: a session used now and then lives on; left alone it ends.
        await login(browser, username, password)
        for _ in range(3):
            await asyncio.sleep(IDLE_SECONDS / 3)
            assert (await browser.get("/applications")).status_code == 200
        await asyncio.sleep(IDLE_SECONDS + 1)
        ended = await browser.get("/applications")
        assert (
            ended.status_code == 401 and ended.json()["errors"][0]["zh"] == "登录已过期或已退出，请重新登录"
        )

        # Password reset: the open session ends, the old password no longer works.
        await login(browser, username, password)
        reset = users(stack, "reset", username, "--actor", "tests", "--reason", "forgotten")
        new_password = reset.stdout.strip().splitlines()[-1]
        await eventually(refused, "the session ended by the reset")
        assert (await login(browser, username, password)).status_code == 401
        assert (await login(browser, username, new_password)).status_code == 200

        # Disabling: the session ends, no more logins, and the audit trail says who and why.
        users(stack, "disable", username, "--actor", "tests", "--reason", "left the federation")
        await eventually(refused, "the session ended by the disabling")
        disabled = await login(browser, username, new_password)
        assert disabled.status_code == 401 and "已停用" in disabled.json()["errors"][0]["zh"]
    shown = json.loads(users(stack, "show", username).stdout)
    assert [e["action"] for e in shown["events"]] == ["created", "password_reset", "disabled"]
    assert shown["events"][-1]["reason"] == "left the federation" and shown["events"][-1]["actor"] == "tests"


async def test_demo_accounts_exist_for_every_role_with_their_passwords_in_a_private_file(
    stack: Stack, services: tuple[ServiceProcess, ...], tmp_path: Path
) -> None:
    intake, _ = services
    file = tmp_path / "demo-accounts.tsv"
    users(stack, "demo", str(file), "--actor", "bin/run")
    assert file.stat().st_mode & 0o777 == 0o600
    lines = [line.split("\t") for line in file.read_text().splitlines() if not line.startswith("#")]
    roles = {principal.split(":")[0] for _, _, principal, _ in lines}
    assert roles >= {"district", "group", "city", "reviewer", "chair", "registrar", "ops", "viewer"}
    assert all("演示" in name for *_, name in lines)
    # Again: nothing new, the same passwords still work.
    again = users(stack, "demo", str(file), "--actor", "bin/run")
    assert "0 个新演示账号" in again.stdout
    username, password, *_ = lines[0]
    async with httpx.AsyncClient(base_url=intake.url, timeout=60) as browser:
        answer = await login(browser, username, password)
        assert answer.status_code == 200 and answer.json()["demo"] is True
