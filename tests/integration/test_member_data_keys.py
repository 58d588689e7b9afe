"""Per-member data keys held by the registry, against real intake and registry processes
on a database and topic prefix of this module's own (one test takes a grant away for a moment).

- Intake reaches the keys through the one function the registry grants it: its role can neither
  read, change nor delete the registry's key table, and a temporary table of its own cannot stand
  in for the real one inside the function.
- Two batches racing for one member agree on the member's key; a member reported again is sealed
  under the key they have.
- A registrar's erasure destroys the key in the transaction that records MemberErased: when the
  201 arrives the key row is gone and no sealed copy opens; the counts do not move. A later report
  of the person gets a new key.
- An Idempotency-Key or X-Correlation-ID holding a phone or ID number is refused (422, field
  level, zh and en), not stored, not echoed, not logged.
- Intake says on /readyz when the registry's function is not available to it.
- Keys an existing installation kept in intake move to the registry when it migrates.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Final

import asyncpg
import httpx
import pytest
from cryptography.exceptions import InvalidTag

from huigong_intake.adapters.vault import Vault
from huigong_intake.domain.identity import member_key
from huigong_platform import database
from huigong_platform.settings import SERVICES
from huigong_simulator.data import enrolment_rows, fake_id_number, fake_mobile

from ..conftest import Stack, drop_run_database, isolated_stack
from .processes import ServiceProcess, running
from .test_review import eventually, key

LABEL: Final = "member-keys"
REGISTRAR: Final = {"X-Huigong-Principal": "registrar:privacy02"}
ISSUE: Final = "SELECT * FROM registry.member_data_keys_issue($1::text[], $2::text[], $3::bytea[])"
TIMEOUT: Final = 120.0


@dataclass
class Keys:
    stack: Stack
    procs: tuple[ServiceProcess, ...]
    admin: asyncpg.Connection[asyncpg.Record]
    vault: Vault
    secret: bytes

    def client(self, service: str) -> httpx.AsyncClient:
        return next(p for p in self.procs if p.service == service).client()

    def proc(self, service: str) -> ServiceProcess:
        return next(p for p in self.procs if p.service == service)

    def member(self, row: dict[str, object]) -> str:
        return member_key(str(row["身份证号"]), self.secret)

    async def stored(self, member: str) -> asyncpg.Record | None:
        return await self.admin.fetchrow(
            "SELECT key_id, wrapped_key FROM registry.member_data_keys WHERE member_key = $1", member
        )

    async def sealed(self, member: str) -> list[tuple[str, str]]:
        """(key id, sealed name and phone) of each EnrolmentRequested of the member, in order."""
        rows = await self.admin.fetch(
            """SELECT data->>'key_id', data->>'personal_sealed' FROM intake.events
               WHERE type = 'EnrolmentRequested' AND data->>'member_key' = $1 ORDER BY position""",
            member,
        )
        return [(r[0], r[1]) for r in rows]

    async def opened(self, member: str, sealed: str) -> dict[str, str] | None:
        """Name and phone opened with the key the registry holds; None when it holds none."""
        row = await self.stored(member)
        if row is None:
            return None
        return self.vault.unseal(
            self.vault.data_key(member, row["key_id"], row["wrapped_key"]), member, sealed
        )


@pytest.fixture(scope="module")
async def keys(stack_env: dict[str, str]) -> AsyncIterator[Keys]:
    async with (
        isolated_stack(stack_env) as s,
        running(s, ("intake", "registry"), port_offset=1700, label=LABEL) as procs,
    ):
        admin = await asyncpg.connect(s.admin_dsn)
        try:
            yield Keys(
                s,
                procs,
                admin,
                Vault(bytes.fromhex(s.env["HUIGONG_PERSONAL_DATA_KEK"])),
                bytes.fromhex(s.env["HUIGONG_MEMBER_KEY_SECRET"]),
            )
        finally:
            await admin.close()


def some_member() -> str:
    return uuid.uuid4().hex + uuid.uuid4().hex


async def test_intake_can_only_go_through_the_registrys_function(keys: Keys) -> None:
    intake = await asyncpg.connect(keys.stack.dsn("intake"))
    try:
        for statement in (
            "SELECT * FROM registry.member_data_keys",
            "DELETE FROM registry.member_data_keys",
            "UPDATE registry.member_data_keys SET wrapped_key = ''::bytea",
            "INSERT INTO registry.member_data_keys (member_key, key_id, wrapped_key) VALUES ('m', 'k', '')",
            "TRUNCATE registry.member_data_keys",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
                await intake.execute(statement)
        # The roster is the registry's too.
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await intake.execute("SELECT * FROM registry.members_view")

        member = some_member()
        tx = intake.transaction()
        await tx.start()
        try:
            # A table of intake's own named like the registry's: the function (running with the
            # registry's rights, search_path pinned) must not write into it.
            await intake.execute(
                "CREATE TEMP TABLE member_data_keys (member_key text PRIMARY KEY, key_id text UNIQUE, "
                "wrapped_key bytea, created_at timestamptz DEFAULT now())"
            )
            issued = await intake.fetch(ISSUE, [member], ["dk-probe"], [b"wrapped"])
            assert [tuple(r) for r in issued] == [(member, "dk-probe", b"wrapped")]
            assert await intake.fetchval("SELECT count(*) FROM pg_temp.member_data_keys") == 0
        finally:
            await tx.rollback()
        # Rolled back with intake's transaction: an enrolment that fails leaves no key behind.
        assert await keys.stored(member) is None
    finally:
        await intake.close()


async def test_two_batches_racing_for_a_member_agree_on_the_key(keys: Keys) -> None:
    first_only, shared, second_only = some_member(), some_member(), some_member()
    a = await asyncpg.connect(keys.stack.dsn("intake"))
    b = await asyncpg.connect(keys.stack.dsn("intake"))
    try:
        tx = a.transaction()
        await tx.start()
        first = await keys.vault.keys_for(a, [first_only, shared])

        async def second_batch() -> dict[str, Any]:
            async with b.transaction():
                return await keys.vault.keys_for(b, [shared, second_only])

        racing = asyncio.create_task(second_batch())

        async def second_waits() -> bool:
            waiting = await keys.admin.fetchval(
                "SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1", b.get_server_pid()
            )
            return bool(waiting == "Lock")

        # The second batch waits on the first's uncommitted key for the shared member...
        await eventually(second_waits, "the second batch waits for the first", TIMEOUT)
        await tx.commit()
        second = await racing
        # ...then takes it rather than a key of its own.
        assert second[shared] == first[shared]
        assert second[second_only].key_id not in {first[shared].key_id, first[first_only].key_id}
        for member, data_key in (
            (first_only, first[first_only]),
            (shared, first[shared]),
            (second_only, second[second_only]),
        ):
            row = await keys.stored(member)
            assert row is not None and row["key_id"] == data_key.key_id
            assert keys.vault.data_key(member, row["key_id"], row["wrapped_key"]) == data_key
    finally:
        await a.close()
        await b.close()


@dataclass
class Reported:
    rows: list[dict[str, object]]
    # The first row reported again by a group union.
    again: dict[str, object]


@pytest.fixture(scope="module")
async def reported(keys: Keys) -> Reported:
    rng = random.Random()
    rows = enrolment_rows(3, "370202", rng)
    async with keys.client("intake") as intake:
        first = await intake.post(
            "/enrolments", json={"rows": rows}, headers={"X-Huigong-Principal": "district:370202", **key()}
        )
        assert first.status_code == 200 and len(first.json()["accepted"]) == 3, first.text
        again = dict(rows[0])
        second = await intake.post(
            "/enrolments", json={"rows": [again]}, headers={"X-Huigong-Principal": "group:G-HAIER", **key()}
        )
        assert second.status_code == 200 and len(second.json()["accepted"]) == 1, second.text
    return Reported(rows, again)


async def test_keys_are_held_by_the_registry_and_a_second_report_reuses_the_key(
    keys: Keys, reported: Reported
) -> None:
    for row in reported.rows:
        member = keys.member(row)
        stored = await keys.stored(member)
        assert stored is not None
        copies = await keys.sealed(member)
        assert [key_id for key_id, _ in copies] == [stored["key_id"]] * len(copies)
        for _, sealed in copies:
            assert await keys.opened(member, sealed) == {"姓名": row["姓名"], "手机号": row["手机号"]}
    # Reported by 370202 and again by G-HAIER: two sealed copies, one key.
    assert len(await keys.sealed(keys.member(reported.again))) == 2


async def counts(registry: httpx.AsyncClient) -> dict[str, Any]:
    response = await registry.get("/members/counts", params={"group_by": "district"})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_erasure_destroys_the_key_at_once_and_keeps_the_counts(keys: Keys, reported: Reported) -> None:
    member = keys.member(reported.again)
    other = keys.member(reported.rows[1])
    copies = await keys.sealed(member)
    async with keys.client("registry") as registry:

        async def on_roster_twice() -> bool:
            shown = await registry.get(f"/members/{member}", headers=REGISTRAR)
            return shown.status_code == 200 and shown.json()["reports"] == 2

        await eventually(on_roster_twice, "the registry enrols the member, reported twice", TIMEOUT)
        before = await counts(registry)

        erased = await registry.post(
            f"/members/{member}/erasure",
            json={"request_ref": "QD-DEL-2026-0101"},
            headers={**REGISTRAR, **key()},
        )
        assert erased.status_code == 201, erased.text
        # The moment the 201 is answered: no key, and neither sealed copy opens.
        assert await keys.stored(member) is None
        assert [await keys.opened(member, sealed) for _, sealed in copies] == [None, None]
        # Another member's key is untouched.
        other_copy = (await keys.sealed(other))[0][1]
        assert await keys.opened(other, other_copy) == {
            "姓名": reported.rows[1]["姓名"],
            "手机号": reported.rows[1]["手机号"],
        }

        async def shown_erased() -> bool:
            shown = (await registry.get(f"/members/{member}", headers=REGISTRAR)).json()
            return bool(shown["status"] == "erased")

        await eventually(shown_erased, "the roster shows the member erased", TIMEOUT)
        assert await counts(registry) == before

    # Reported again after the erasure (by another group union): sealed under a new key, which
    # opens the new copy and none of the erased ones.
    async with keys.client("intake") as intake:
        later = await intake.post(
            "/enrolments",
            json={"rows": [reported.again]},
            headers={"X-Huigong-Principal": "group:G-HISENSE", **key()},
        )
        assert later.status_code == 200 and len(later.json()["accepted"]) == 1, later.text
    stored = await keys.stored(member)
    assert stored is not None
    *old, (new_key_id, new_copy) = await keys.sealed(member)
    assert new_key_id == stored["key_id"] and new_key_id not in {key_id for key_id, _ in old}
    assert await keys.opened(member, new_copy) == {
        "姓名": reported.again["姓名"],
        "手机号": reported.again["手机号"],
    }
    for _, sealed in old:
        with pytest.raises(InvalidTag):
            await keys.opened(member, sealed)


async def test_headers_holding_a_phone_or_id_number_are_refused(keys: Keys) -> None:
    rng = random.Random()
    phone, id_number = fake_mobile(rng), fake_id_number(rng)
    row = enrolment_rows(1, "370202", rng)[0]
    async with keys.client("intake") as intake, keys.client("registry") as registry:
        enrol = await intake.post(
            "/enrolments",
            json={"rows": [row]},
            headers={"X-Huigong-Principal": "district:370202", "Idempotency-Key": f"enrol-{phone}"},
        )
        counted = await registry.get(
            "/members/counts", headers={"X-Correlation-ID": f"trace {id_number} 2026"}
        )
        both = await registry.post(
            f"/members/{'0' * 64}/erasure",
            json={"request_ref": "QD-DEL-2026-0102"},
            headers={**REGISTRAR, "Idempotency-Key": f"del-{id_number}", "X-Correlation-ID": f"c-{phone}"},
        )
        fine = await registry.get("/members/counts", headers={"X-Correlation-ID": "trace-2026-0102"})
    for refused, fields in (
        (enrol, ["Idempotency-Key"]),
        (counted, ["X-Correlation-ID"]),
        (both, ["Idempotency-Key", "X-Correlation-ID"]),
    ):
        assert refused.status_code == 422, refused.text
        errors = refused.json()["errors"]
        assert [e["field"] for e in errors] == fields
        assert all(e["zh"] and e["en"] for e in errors)
        assert "身份证号" in errors[0]["zh"] and "ID number" in errors[0]["en"]
        # Not echoed: neither in the body nor as the response's correlation id.
        echoed = refused.text + " ".join(refused.headers.values())
        assert phone not in echoed and id_number not in echoed
        uuid.UUID(refused.headers["X-Correlation-ID"])
    assert fine.status_code == 200 and fine.headers["X-Correlation-ID"] == "trace-2026-0102"
    # Nothing recorded, nothing logged.
    assert await keys.sealed(keys.member(row)) == []
    for proc in keys.procs:
        text = proc.log_path.read_text(errors="replace")
        assert phone not in text and id_number not in text


async def test_intake_is_not_ready_without_the_registrys_function(keys: Keys) -> None:
    intake = keys.proc("intake")
    signature = "registry.member_data_keys_issue(text[], text[], bytea[])"
    await keys.admin.execute(f"REVOKE EXECUTE ON FUNCTION {signature} FROM huigong_intake")
    try:
        body = await intake.wait_status(503)
        checks: dict[str, str] = body["checks"]  # type: ignore[assignment]
        assert checks["kafka"] == "ok"
        assert "registry.member_data_keys_issue" in checks["postgres"], checks
        assert "huigong db migrate registry" in checks["postgres"], checks
    finally:
        await keys.admin.execute(f"GRANT EXECUTE ON FUNCTION {signature} TO huigong_intake")
    await intake.wait_status(200)


async def test_keys_intake_held_move_to_the_registry_when_it_migrates(
    stack_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An installation from before the move: intake's table holds keys. Migrating intake before the
    registry stops and drops nothing; migrating in `huigong db provision`'s order hands every key
    over unchanged, so what was sealed still opens."""
    root = stack_env["HUIGONG_PG_ADMIN_DSN"]
    name = f"huigong_test_{uuid.uuid4().hex[:10]}"
    admin_dsn = database.with_credentials_keep(root, name)
    passwords = {s: stack_env[f"HUIGONG_{s.upper()}_DB_PASSWORD"] for s in SERVICES}

    def dsn(service: str) -> str:
        return database.with_credentials(admin_dsn, database.role_name(service), passwords[service])

    vault = Vault(bytes.fromhex(stack_env["HUIGONG_PERSONAL_DATA_KEK"]))
    members = sorted(some_member() for _ in range(3))
    await database.create_database(root, name)
    try:
        await database.provision(admin_dsn, passwords)
        # Intake as it was: its migrations up to 0002, with keys in its own table.
        everything = database.migrations_for
        with monkeypatch.context() as patched:
            patched.setattr(
                database,
                "migrations_for",
                lambda service: [m for m in everything(service) if not m.name.startswith("intake/0003")],
            )
            await database.migrate(dsn("intake"), "intake")
        fresh = vault._fresh(members)
        wrapped = vault._wrap_many([(m, fresh[m].key) for m in members])
        sealed = {m: Vault.seal(fresh[m], m, "王小明", "13800000000") for m in members}
        intake = await asyncpg.connect(dsn("intake"), server_settings={"search_path": "intake"})
        try:
            await intake.executemany(
                "INSERT INTO member_data_keys (member_key, key_id, wrapped_key) VALUES ($1, $2, $3)",
                [(m, fresh[m].key_id, w) for m, w in zip(members, wrapped, strict=True)],
            )
            # Registry not migrated yet: intake's migration stops, with what to do, and keeps its keys.
            with pytest.raises(asyncpg.RaiseError, match="intake holds 3 member data keys") as refused:
                await database.migrate(dsn("intake"), "intake")
            assert "migrate the registry first" in str(refused.value.as_dict().get("hint"))
            assert await intake.fetchval("SELECT count(*) FROM member_data_keys") == 3
        finally:
            await intake.close()

        for service in database.migration_order(SERVICES):
            await database.migrate(dsn(service), service)
        admin = await asyncpg.connect(admin_dsn)
        try:
            assert await admin.fetchval("SELECT to_regclass('intake.member_data_keys')") is None
            rows = await admin.fetch(
                "SELECT member_key, key_id, wrapped_key FROM registry.member_data_keys ORDER BY member_key"
            )
            assert [(r[0], r[1]) for r in rows] == [(m, fresh[m].key_id) for m in members]
            for m, key_id, wrapped_key in rows:
                opened = vault.unseal(vault.data_key(m, key_id, wrapped_key), m, sealed[m])
                assert opened == {"姓名": "王小明", "手机号": "13800000000"}
        finally:
            await admin.close()
    finally:
        await drop_run_database(stack_env, name)
