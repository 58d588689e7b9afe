"""Staff accounts: logins for the people of the programme (district staff, reviewers, the chair,
registrars, auditors…), created, reset, disabled and listed by operators with `huigong users …`,
audited like API keys (`auth.account_events`, append-only).

An account is bound to one principal exactly as an API key is (`district:370202`,
`reviewer:city/wang`): a person logged in acts as that principal, under the same access rules
(`sessions.py` turns the session cookie into that principal where a key would be).

**Passwords** are hashed with argon2id (argon2-cffi's `PasswordHasher`, RFC 9106's low-memory
profile: 64 MiB, 3 passes, 4 lanes): a password is low-entropy, so unlike the 256-bit key secrets
it needs a slow, salted, memory-hard hash. A password is at least 12 characters. Generated ones
(`new_password`) are 16 characters from an alphabet without look-alikes.

A reset or a disabling ends the account's open sessions at once.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import stat
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import asyncpg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import RFC_9106_LOW_MEMORY

from .database import DbConnection
from .principals import parse

MIN_PASSWORD_LENGTH: Final = 12
USERNAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# No 0/O, 1/l/I: a demo password is read off a file and typed by hand.
_ALPHABET: Final = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
DEMO_MARK: Final = "演示"

HASHER: Final = PasswordHasher.from_parameters(RFC_9106_LOW_MEMORY)
# Verified when the username is unknown, so an unknown name costs what a wrong password costs
# and the answer's timing does not tell which names exist.
_DUMMY_HASH: Final = HASHER.hash(secrets.token_urlsafe(16))

_COLUMNS: Final = (
    "username, display_name, role, code, demo, created_at, created_by, password_set_at, "
    "disabled_at, disabled_by, disable_reason"
)


class AccountOperationError(LookupError):
    """An operator's request about accounts that cannot be done (unknown, already disabled…)."""


def new_password() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(16))


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(
            f"密码至少 {MIN_PASSWORD_LENGTH} 个字符 a password has at least {MIN_PASSWORD_LENGTH} characters"
        )
    return HASHER.hash(password)


def password_matches(password_hash: str | None, password: str) -> bool:
    """Whether `password` is the one hashed; with no hash (unknown account) it still spends the
    time of one verification, and answers False."""
    try:
        return HASHER.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class Account:
    username: str
    display_name: str
    role: str
    code: str
    demo: bool
    created_at: datetime
    created_by: str
    password_set_at: datetime
    disabled_at: datetime | None
    disabled_by: str | None
    disable_reason: str | None

    @property
    def principal(self) -> str:
        return f"{self.role}:{self.code}"

    @property
    def state(self) -> str:
        return "disabled" if self.disabled_at is not None else "active"

    def to_json(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "display_name": self.display_name,
            "principal": self.principal,
            "demo": self.demo,
            "state": self.state,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "password_set_at": self.password_set_at.isoformat(),
            "disabled_at": self.disabled_at.isoformat() if self.disabled_at else None,
            "disabled_by": self.disabled_by,
            "disable_reason": self.disable_reason,
        }


def _account(row: asyncpg.Record) -> Account:
    return Account(**{name: row[name] for name in Account.__dataclass_fields__})


async def _audit(
    conn: DbConnection, username: str, action: str, actor: str, reason: str | None, detail: dict[str, Any]
) -> None:
    await conn.execute(
        "INSERT INTO auth.account_events (username, action, actor, reason, detail) VALUES ($1, $2, $3, $4, $5)",
        username,
        action,
        actor,
        reason,
        json.dumps(detail, ensure_ascii=False),
    )


async def create(
    conn: DbConnection,
    username: str,
    principal: str,
    *,
    display_name: str,
    password: str,
    actor: str,
    demo: bool = False,
) -> Account:
    """A new account bound to `principal` (checked like a key's: ValueError says what is wrong)."""
    if not USERNAME.match(username):
        raise ValueError(f"{username!r} 不是有效的用户名 is not a username (letters, digits, '.', '-', '_')")
    bound = parse(principal)
    if not display_name.strip():
        raise ValueError("请填写姓名 a display name is required")
    if demo and DEMO_MARK not in display_name:
        display_name = f"{display_name}（{DEMO_MARK}）"
    password_hash = hash_password(password)
    async with conn.transaction():
        if await conn.fetchval("SELECT 1 FROM auth.accounts WHERE username = $1", username):
            raise AccountOperationError(f"用户名已存在 username {username!r} is taken")
        row = await conn.fetchrow(
            f"""INSERT INTO auth.accounts (username, display_name, role, code, password_hash, demo, created_by)
                VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {_COLUMNS}""",
            username,
            display_name,
            bound.role.value,
            bound.code,
            password_hash,
            demo,
            actor,
        )
        assert row is not None
        await _audit(
            conn,
            username,
            "created",
            actor,
            None,
            {"principal": bound.id, "display_name": display_name, "demo": demo},
        )
    return _account(row)


async def find(conn: DbConnection, username: str) -> Account | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM auth.accounts WHERE username = $1", username)
    return _account(row) if row is not None else None


async def list_accounts(conn: DbConnection, *, include_disabled: bool = False) -> list[Account]:
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM auth.accounts WHERE $1 OR disabled_at IS NULL
            ORDER BY role, code, username""",
        include_disabled,
    )
    return [_account(r) for r in rows]


async def history(conn: DbConnection, username: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT action, actor, reason, detail, at FROM auth.account_events WHERE username = $1 ORDER BY id",
        username,
    )
    return [{**dict(r), "detail": json.loads(r["detail"]), "at": r["at"].isoformat()} for r in rows]


async def _locked(conn: DbConnection, username: str) -> Account:
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM auth.accounts WHERE username = $1 FOR UPDATE", username
    )
    if row is None:
        raise AccountOperationError(f"没有该用户 no account {username!r}")
    return _account(row)


async def end_sessions(conn: DbConnection, username: str, *, actor: str, reason: str) -> int:
    """Revoke every open session of `username`; how many there were."""
    result = await conn.execute(
        """UPDATE auth.sessions SET revoked_at = now(), revoked_by = $2, revoke_reason = $3
           WHERE username = $1 AND revoked_at IS NULL AND expires_at > now()""",
        username,
        actor,
        reason,
    )
    return int(result.split()[-1])


async def reset_password(
    conn: DbConnection, username: str, password: str, *, actor: str, reason: str
) -> Account:
    """A new password; the account's sessions end."""
    if not reason.strip():
        raise AccountOperationError("请写明重置理由 a reason is required")
    password_hash = hash_password(password)
    async with conn.transaction():
        await _locked(conn, username)
        await conn.execute(
            "UPDATE auth.accounts SET password_hash = $2, password_set_at = now() WHERE username = $1",
            username,
            password_hash,
        )
        ended = await end_sessions(conn, username, actor=actor, reason="password reset")
        await _audit(conn, username, "password_reset", actor, reason, {"sessions_ended": ended})
        account = await find(conn, username)
    assert account is not None
    return account


async def disable(conn: DbConnection, username: str, *, actor: str, reason: str) -> Account:
    """No more logins; open sessions end at once."""
    if not reason.strip():
        raise AccountOperationError("请写明停用理由 a reason is required")
    async with conn.transaction():
        if (await _locked(conn, username)).disabled_at is not None:
            raise AccountOperationError(f"该用户已停用 account {username!r} is already disabled")
        await conn.execute(
            """UPDATE auth.accounts SET disabled_at = now(), disabled_by = $2, disable_reason = $3
               WHERE username = $1""",
            username,
            actor,
            reason,
        )
        ended = await end_sessions(conn, username, actor=actor, reason="account disabled")
        await _audit(conn, username, "disabled", actor, reason, {"sessions_ended": ended})
        account = await find(conn, username)
    assert account is not None
    return account


async def enable(conn: DbConnection, username: str, *, actor: str, reason: str) -> Account:
    if not reason.strip():
        raise AccountOperationError("请写明启用理由 a reason is required")
    async with conn.transaction():
        if (await _locked(conn, username)).disabled_at is None:
            raise AccountOperationError(f"该用户未停用 account {username!r} is not disabled")
        await conn.execute(
            "UPDATE auth.accounts SET disabled_at = NULL, disabled_by = NULL, disable_reason = NULL WHERE username = $1",
            username,
        )
        await _audit(conn, username, "enabled", actor, reason, {})
        account = await find(conn, username)
    assert account is not None
    return account


# --- demo accounts (bin/run) ---------------------------------------------------------------------

# One per role a person of the programme logs in as; three reviewers, as a panel scores with three.
DEMO_ACCOUNTS: Final[tuple[tuple[str, str, str], ...]] = (
    ("demo-district", "district:370202", "市南区总工会"),
    ("demo-group", "group:G-HAIER", "海尔集团工会"),
    ("demo-city", "city:demo-city", "市总工会工作人员"),
    ("demo-reviewer1", "reviewer:city/demo-reviewer1", "评审专家一"),
    ("demo-reviewer2", "reviewer:city/demo-reviewer2", "评审专家二"),
    ("demo-reviewer3", "reviewer:city/demo-reviewer3", "评审专家三"),
    ("demo-chair", "chair:city/demo-chair", "领导小组负责人"),
    ("demo-registrar", "registrar:demo-registrar", "登记人员"),
    ("demo-ops", "ops:demo-ops", "运维审计人员"),
    ("demo-viewer", "viewer:demo-viewer", "看板查看人员"),
)


def read_password_file(path: Path) -> dict[str, str]:
    """username → password from a demo password file (`username<TAB>password<TAB>…` lines)."""
    if not path.exists():
        return {}
    found: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            username, _, rest = line.partition("\t")
            found[username] = rest.split("\t", 1)[0]
    return found


def _write_password_file(path: Path, rows: list[tuple[str, str, str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(
            "# 演示账号 demo accounts (bin/run): username, password, principal, name. Never for real data.\n"
        )
        for row in rows:
            out.write("\t".join(row) + "\n")
    os.replace(temporary, path)


async def ensure_demo_accounts(conn: DbConnection, path: Path, *, actor: str) -> list[str]:
    """Every account of DEMO_ACCOUNTS exists, is enabled and has its password in `path` (mode 600);
    the usernames created. A demo account whose password the file no longer holds gets a new one."""
    known = read_password_file(path)
    created: list[str] = []
    rows: list[tuple[str, str, str, str]] = []
    for username, principal, name in DEMO_ACCOUNTS:
        account = await find(conn, username)
        password = known.get(username)
        if account is None:
            password = new_password()
            account = await create(
                conn, username, principal, display_name=name, password=password, actor=actor, demo=True
            )
            created.append(username)
        elif not account.demo:
            raise AccountOperationError(f"{username} 已是正式账号 is a real account, not a demo one")
        else:
            if account.disabled_at is not None:
                await enable(conn, username, actor=actor, reason="demo account (bin/run)")
            row = await conn.fetchrow("SELECT password_hash FROM auth.accounts WHERE username = $1", username)
            assert row is not None
            if password is None or not password_matches(row["password_hash"], password):
                password = new_password()
                await reset_password(conn, username, password, actor=actor, reason="demo password file lost")
        rows.append((username, password, account.principal, account.display_name))
    _write_password_file(path, rows)
    return created
