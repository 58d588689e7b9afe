"""Personal data against real intake, registry and metrics processes.

1. After 10,000 members enrolled over HTTP and counted by the registry and metrics, no raw ID
   number or phone number of theirs is in any Kafka topic of the run (keys, values, headers), any
   row of any table of the run's database, or the logs the three processes wrote. The districts'
   inbound topics are left out: they carry the districts' commands with raw numbers by design,
   only the district and intake may touch them (ops may only describe them) and they are kept 30
   days (huigong_ops/personal.py says why). Two records a district gets wrong, with
   raw numbers where intake does not expect them, become dead letters without those numbers.
2. A registrar erases one member: MemberErased in the registry and, in the same transaction, the
   member's data key destroyed (their sealed name and phone cannot be read any more the moment
   the 201 is answered), the roster shows 已删除, every count stays as it was, `huigong audit`
   shows the erasure and nothing personal, and a replay of the registry's and metrics'
   projections from offset 0 gives the same tables with the member erased, leaving the keys the
   registry holds as they were.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import asyncpg
import httpx
import pytest

from huigong_intake.adapters.vault import Vault
from huigong_intake.domain.identity import member_key
from huigong_ops import personal
from huigong_ops import replay as replay_mod
from huigong_platform.raw_identifiers import Needles
from huigong_simulator.data import enrolment_rows, fake_id_number, fake_mobile

from ..conftest import Stack
from .processes import ServiceProcess, artefacts_dir, running
from .test_intake_kafka import dead_letters, publish
from .test_metrics import metric_of, progress
from .test_ops import CLI_ENV, cli
from .test_review import eventually, key

LABEL: Final = "personal-data"
SERVICES: Final = ("intake", "registry", "metrics")
# 10,000 members from four districts, in one upload each (the limit is 10,000 rows a batch).
DISTRICTS: Final = ("370202", "370203", "370212", "370213")
PER_DISTRICT: Final = 2_500
MEMBERS: Final = PER_DISTRICT * len(DISTRICTS)
FLOW_TIMEOUT: Final = 600.0
REGISTRAR: Final = {"X-Huigong-Principal": "registrar:privacy01"}


@dataclass
class Enrolled:
    procs: tuple[ServiceProcess, ...]
    rows: list[dict[str, object]]
    # Raw numbers sent in records intake cannot take: they end as dead letters.
    refused: list[tuple[str, str]]
    log_offsets: dict[Path, int]

    @property
    def id_numbers(self) -> set[str]:
        return {str(r["身份证号"]) for r in self.rows} | {i for i, _ in self.refused}

    @property
    def phones(self) -> set[str]:
        return {str(r["手机号"]) for r in self.rows} | {p for _, p in self.refused}

    def client(self, service: str) -> httpx.AsyncClient:
        return self.procs[SERVICES.index(service)].client(timeout=120)


async def counts(registry: httpx.AsyncClient) -> dict[str, Any]:
    answer = {}
    for group_by in ("district", "occupation", "platform"):
        response = await registry.get("/members/counts", params={"group_by": group_by})
        assert response.status_code == 200, response.text
        answer[group_by] = response.json()
    return answer


async def figures(metrics: httpx.AsyncClient) -> dict[str, Any]:
    body = await progress(metrics)
    return {code: metric_of(body, code) for code in ("members_enrolled", "mutual_aid")}


def counted(figure: dict[str, Any]) -> int:
    return int(figure["actual"]) + int(figure.get("simulated_actual") or 0)


@pytest.fixture(scope="module")
async def enrolled(stack: Stack) -> AsyncIterator[Enrolled]:
    # The processes append to their logs: what this run wrote starts at today's end of each.
    logs = [artefacts_dir() / f"{LABEL}-{name}.log" for name in SERVICES]
    since = {path: path.stat().st_size if path.exists() else 0 for path in logs}
    async with running(stack, SERVICES, port_offset=1400, label=LABEL) as procs:
        rng = random.Random()
        seen: set[str] = set()
        rows: list[dict[str, object]] = []
        intake = procs[0].client(timeout=300)
        registry = procs[1].client()
        metrics = procs[2].client()
        async with intake, registry, metrics:
            before_registry = int((await counts(registry))["district"]["total"])
            before_figures = await figures(metrics)
            before_metrics = counted(before_figures["members_enrolled"])
            before_aid = counted(before_figures["mutual_aid"])
            for district in DISTRICTS:
                batch = enrolment_rows(PER_DISTRICT, district, rng, seen_ids=seen)
                response = await intake.post(
                    "/enrolments",
                    json={"rows": batch},
                    headers={"X-Huigong-Principal": f"district:{district}", **key()},
                )
                assert response.status_code in (200, 201), response.text[:500]
                assert len(response.json()["accepted"]) == PER_DISTRICT, response.text[:500]
                rows.extend(batch)

            # Wait for these members by their keys, not for the totals to grow by exactly 10,000:
            # in a whole-suite run the registry may first catch up on enrolments earlier modules
            # left behind. Once all of ours are on the roster, each partition has been read past
            # them, hence past that backlog too. Metrics is waited for by its figures.
            secret = bytes.fromhex(stack.env["HUIGONG_MEMBER_KEY_SECRET"])
            keys = [member_key(str(r["身份证号"]), secret) for r in rows]
            insured = sum(1 for r in rows if r["是否参加互助保障"] == "是")
            admin = await asyncpg.connect(stack.admin_dsn)
            try:

                async def registry_counted() -> bool:
                    found = await admin.fetchrow(
                        """SELECT (SELECT count(*) FROM registry.members_view WHERE member_key = ANY($1::text[])),
                                  (SELECT count(DISTINCT member_key) FROM registry.member_aid_view
                                    WHERE member_key = ANY($1::text[]))""",
                        keys,
                    )
                    return found is not None and tuple(found) == (MEMBERS, insured)

                async def metrics_counted() -> bool:
                    # metrics.counted forgets an insured member once placed, so the figures tell.
                    found = await figures(metrics)
                    return (
                        counted(found["members_enrolled"]) >= before_metrics + MEMBERS
                        and counted(found["mutual_aid"]) >= before_aid + insured
                    )

                await eventually(registry_counted, "the registry enrols the 10,000 members", FLOW_TIMEOUT)
                await eventually(metrics_counted, "metrics counts the 10,000 members", FLOW_TIMEOUT)
            finally:
                await admin.close()
            assert int((await counts(registry))["district"]["total"]) >= before_registry + MEMBERS
            assert counted((await figures(metrics))["members_enrolled"]) >= before_metrics + MEMBERS
            refused = await send_refused_records(stack, rng)
        yield Enrolled(procs, rows, refused, since)


async def send_refused_records(stack: Stack, rng: random.Random) -> list[tuple[str, str]]:
    """A district's mistakes on its inbound topic, with raw numbers where intake does not expect
    them: a record that is not JSON, and an enrolment whose ID number and phone sit in misnamed
    columns, each under a command id holding a phone number. Both become dead letters, which
    must carry none of the numbers."""
    raw = [(fake_id_number(rng, region_code="370202"), fake_mobile(rng)) for _ in range(2)]
    tag = uuid.uuid4().hex[:12]
    (id_a, phone_a), (id_b, phone_b) = raw
    row = {**enrolment_rows(1, "370202", rng)[0], "身份证号码": id_b, "联系电话": phone_b}
    row.pop("身份证号")
    enrol = {"command_id": f"pd-{tag}-b-{phone_b}", "command": "enrol", "body": {"rows": [row]}}
    await publish(
        stack,
        "370202",
        [
            (f"pd-{tag}-a-{phone_a}", f"身份证号:{id_a} 手机号:{phone_a} 不是JSON".encode()),
            (f"pd-{tag}-b-{phone_b}", enrol),
        ],
    )
    letters = await dead_letters(stack, {f"pd-{tag}-a-[已删除]", f"pd-{tag}-b-[已删除]"}, timeout=120)
    assert len(letters) >= 2, letters
    return raw


async def test_no_raw_id_number_or_phone_anywhere_after_10000_members(
    stack: Stack, enrolled: Enrolled
) -> None:
    needles = Needles.of(enrolled.id_numbers, enrolled.phones)
    assert len(needles.id_numbers) == MEMBERS + 2 and len(needles.phones) > MEMBERS * 0.99
    # The scanner sees a number where it is: a row as a district sends it, and a number inside a
    # longer run of digits.
    probe = personal.ScanReport()
    sample = enrolled.rows[0]
    personal._scan_text(probe, needles, "probe", json.dumps(sample, ensure_ascii=False))
    personal._scan_text(probe, needles, "probe", f"x0{sample['手机号']}9")
    assert sorted(f.kind for f in probe.findings) == ["id_number", "phone", "phone"]

    report = personal.ScanReport()
    await personal.scan_topics(stack.bootstrap, stack.topic_prefix, needles, report)
    await personal.scan_tables(stack.admin_dsn, needles, report)
    logs = [p.log_path for p in enrolled.procs]
    personal.scan_files(logs, needles, report, enrolled.log_offsets)

    # What was read: the enrolments, the roster and the figures, every service's tables, the logs.
    enrolments_topic = f"{stack.topic_prefix}huigong.intake.enrolments"
    members_topic = f"{stack.topic_prefix}huigong.registry.members"
    assert report.scanned.get(enrolments_topic, 0) >= MEMBERS
    assert report.scanned.get(members_topic, 0) >= MEMBERS
    assert report.scanned.get(f"{stack.topic_prefix}huigong.intake.inbound.dead-letters", 0) >= 2
    assert report.scanned.get("intake.events", 0) >= MEMBERS
    assert report.scanned.get("registry.member_data_keys", 0) >= MEMBERS
    assert report.scanned.get("registry.events", 0) >= MEMBERS
    assert report.scanned.get("registry.members_view", 0) >= MEMBERS
    assert any(where.startswith("metrics.") for where in report.scanned)
    assert all(report.scanned[str(p)] > 0 for p in logs)
    assert all("inbound" in s for s in report.skipped)
    assert report.findings == [], report.findings[:20]

    # The operators' command finds nothing either, looking for any valid ID number or mobile
    # number rather than these values.
    CLI_ENV.update({"HUIGONG_KAFKA_BOOTSTRAP": stack.bootstrap, "HUIGONG_PG_ADMIN_DSN": stack.admin_dsn})
    log_options = [option for path in logs for option in ("--log", str(path))]
    scanned = await cli(
        "scan-personal", "--prefix", stack.topic_prefix, "--json", "--no-progress", *log_options
    )
    assert scanned.exit_code == 0, scanned.output[-3000:]
    answer = json.loads(scanned.stdout)
    assert answer["clean"] and answer["findings"] == []
    assert answer["scanned"][enrolments_topic] >= MEMBERS


async def test_erasure_destroys_the_key_and_keeps_every_count(stack: Stack, enrolled: Enrolled) -> None:
    secret = bytes.fromhex(stack.env["HUIGONG_MEMBER_KEY_SECRET"])
    kek = bytes.fromhex(stack.env["HUIGONG_PERSONAL_DATA_KEK"])
    chosen = enrolled.rows[4321]
    member = member_key(str(chosen["身份证号"]), secret)
    other = member_key(str(enrolled.rows[17]["身份证号"]), secret)
    intake_db = await asyncpg.connect(stack.dsn("intake"))
    admin = await asyncpg.connect(stack.admin_dsn)
    vault = Vault(kek)
    registry = enrolled.client("registry")
    metrics = enrolled.client("metrics")
    try:
        async with registry, metrics:
            # Before: the registry's key for the member opens their sealed name and phone.
            sealed = await sealed_of(intake_db, member)
            clear = await opened(admin, vault, member, sealed)
            assert clear == {"姓名": chosen["姓名"], "手机号": chosen["手机号"]}
            shown = await registry.get(f"/members/{member}", headers=REGISTRAR)
            assert shown.status_code == 200, shown.text
            assert shown.json()["status_label"] == "在册"
            before = (await counts(registry), await figures(metrics))

            # Who may erase, and what is refused.
            district = await registry.post(
                f"/members/{member}/erasure",
                json={"request_ref": "QD-DEL-2026-0001"},
                headers={"X-Huigong-Principal": "district:370202", **key()},
            )
            assert district.status_code == 403, district.text
            unknown = await registry.post(
                f"/members/{'0' * 64}/erasure",
                json={"request_ref": "QD-DEL-2026-0001"},
                headers={**REGISTRAR, **key()},
            )
            assert unknown.status_code == 404, unknown.text
            assert unknown.json()["errors"][0]["field"] == "member_key"
            with_phone = await registry.post(
                f"/members/{member}/erasure",
                json={"request_ref": f"电话 {chosen['手机号']}"},
                headers={**REGISTRAR, **key()},
            )
            assert with_phone.status_code == 422, with_phone.text
            assert str(chosen["手机号"]) not in with_phone.text
            assert with_phone.json()["errors"][0]["field"] == "request_ref"

            # The erasure.
            erased = await registry.post(
                f"/members/{member}/erasure",
                json={"request_ref": "QD-DEL-2026-0001"},
                headers={**REGISTRAR, **key()},
            )
            assert erased.status_code == 201, erased.text
            assert erased.json()["type"] == "MemberErased"
            # The key went with the 201: nothing to wait for.
            assert await opened(admin, vault, member, sealed) is None
            # Only that member's: another's sealed data still opens.
            assert await opened(admin, vault, other, await sealed_of(intake_db, other)) is not None
            again = await registry.post(
                f"/members/{member}/erasure",
                json={"request_ref": "QD-DEL-2026-0002"},
                headers={**REGISTRAR, **key()},
            )
            assert again.status_code == 409, again.text

            async def shown_erased() -> dict[str, Any] | None:
                body: dict[str, Any] = (await registry.get(f"/members/{member}", headers=REGISTRAR)).json()
                return body if body["status"] == "erased" else None

            page = await eventually(shown_erased, "the roster shows the member erased", FLOW_TIMEOUT)
            assert page["status_label"] == "已删除" and page["erasure_ref"] == "QD-DEL-2026-0001"
            assert page["district"] in DISTRICTS and page["reports"] == 1

            # Every count as it was, in the registry and in metrics.
            assert (await counts(registry), await figures(metrics)) == before

        # The auditor's view: the erasure with its actor, and nothing personal.
        CLI_ENV.update({"HUIGONG_KAFKA_BOOTSTRAP": stack.bootstrap, "HUIGONG_PG_ADMIN_DSN": stack.admin_dsn})
        audited = await cli(
            "audit", member, "--type", "member", "--format", "jsonl", "--prefix", stack.topic_prefix
        )
        assert audited.exit_code == 0, audited.output
        lines = [json.loads(line) for line in audited.output.splitlines() if line.startswith("{")]
        types = [line["type"] for line in lines]
        assert "MemberEnrolled" in types and types[-1] == "MemberErased", types
        assert any(
            line.get("actor") == "registrar:privacy01" for line in lines if line["type"] == "MemberErased"
        )
        assert str(chosen["手机号"]) not in audited.output and str(chosen["身份证号"]) not in audited.output
        assert str(chosen["姓名"]) not in audited.output

        # A replay from offset 0 gives the same tables, and shows the member erased there too. The
        # keys are no projection: the replay neither destroys nor recreates one.
        keys_before = await replay_mod.checksum(admin, "registry", "member_data_keys")
        reports = await replay_mod.replay_services(
            stack.admin_dsn,
            stack.bootstrap,
            stack.topic_prefix,
            {"registry": ["registry.roster"], "metrics": []},
            keep=True,
        )
        shadows = [c.shadow_schema for r in reports for c in r.consumers]
        try:
            assert await replay_mod.checksum(admin, "registry", "member_data_keys") == keys_before
            assert await opened(admin, vault, member, sealed) is None
            for report in reports:
                assert report.equal, json.dumps(report.to_json(), ensure_ascii=False)[:2000]
            roster = next(c.shadow_schema for c in reports[0].consumers if c.consumer == "registry.roster")
            row = await admin.fetchrow(
                f"SELECT erased_on, erasure_ref FROM {replay_mod.quote_ident(roster)}.members_view WHERE member_key = $1",
                member,
            )
            assert (
                row is not None and row["erased_on"] is not None and row["erasure_ref"] == "QD-DEL-2026-0001"
            )
        finally:
            for shadow in shadows:
                await replay_mod.drop_shadow(admin, shadow)
    finally:
        await intake_db.close()
        await admin.close()


async def opened(
    admin: asyncpg.Connection[asyncpg.Record], vault: Vault, member: str, sealed: str
) -> dict[str, str] | None:
    """The member's name and phone opened with the key the registry holds, or None without one."""
    row = await admin.fetchrow(
        "SELECT key_id, wrapped_key FROM registry.member_data_keys WHERE member_key = $1", member
    )
    if row is None:
        return None
    return vault.unseal(vault.data_key(member, row["key_id"], row["wrapped_key"]), member, sealed)


async def sealed_of(conn: asyncpg.Connection[asyncpg.Record], member: str) -> str:
    """The sealed name and phone of the member's first EnrolmentRequested in intake's event store."""
    sealed = await conn.fetchval(
        """SELECT data->>'personal_sealed' FROM events
           WHERE type = 'EnrolmentRequested' AND data->>'member_key' = $1 LIMIT 1""",
        member,
    )
    assert isinstance(sealed, str), "no enrolment of the member in intake"
    return sealed
