"""`huigong dead-letters` covers the commands intake could not take from the districts' inbound
topics too: listed beside the projections' letters, shown without personal data, retried (the
original command submitted again through intake's own path) and skipped, each with who and why.

A real intake process consumes the inbound topics; the operator's CLI runs in this process with
intake's environment, as an operator on intake's host would."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from typer.testing import CliRunner, Result

from huigong_events.topics import inbound_topic
from huigong_ops.cli import app

from ..conftest import Stack
from ..forms import complex_form, with_fresh_undertaking_unit
from .processes import TEST_PORTS, ServiceProcess, artefacts_dir

SHINAN = "370202"
YEAR = datetime.now(UTC).year + 1


@pytest.fixture(scope="module")
async def intake(stack: Stack) -> AsyncIterator[ServiceProcess]:
    proc = ServiceProcess(
        "intake", TEST_PORTS["intake"] + 450, artefacts_dir() / "intake-inbound-letters.log"
    )
    proc.start(stack)
    try:
        await proc.wait_status(200)
        yield proc
    finally:
        proc.kill()


async def cli(stack: Stack, *args: str) -> Result:
    # Intake's environment (its secrets and event keys): a retry runs intake's own code.
    env = {
        **{k: v for k, v in stack.env.items() if k.startswith("HUIGONG_")},
        "HUIGONG_KAFKA_BOOTSTRAP": stack.bootstrap,
        "HUIGONG_TOPIC_PREFIX": stack.topic_prefix,
        "HUIGONG_PG_ADMIN_DSN": stack.admin_dsn,
        "COLUMNS": "220",
    }

    def invoke() -> Result:
        return CliRunner().invoke(app, list(args), env=env)

    return await asyncio.to_thread(invoke)


async def send(stack: Stack, command: dict[str, Any]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(
            inbound_topic(SHINAN).qualified(stack.topic_prefix),
            value=json.dumps(command, ensure_ascii=False).encode(),
            key=command["command_id"].encode(),
        )
    finally:
        await producer.stop()


async def listed(stack: Stack, status: str) -> list[dict[str, Any]]:
    result = await cli(stack, "dead-letters", "list", "--status", status, "--json")
    assert result.exit_code == 0, result.output
    letters: list[dict[str, Any]] = json.loads(result.stdout)
    return letters


async def letter_of(stack: Stack, command_id: str, timeout: float = 60) -> dict[str, Any]:
    """The inbound dead letter of `command_id`, as `huigong dead-letters list` shows it."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        for letter in await listed(stack, "all"):
            if letter.get("inbound") and letter["aggregate_id"] == command_id:
                return letter
        await asyncio.sleep(1)
    raise AssertionError(f"no inbound dead letter for {command_id}")


async def test_an_inbound_dead_letter_is_listed_retried_after_the_cause_is_gone_and_audited(
    stack: Stack, intake: ServiceProcess
) -> None:
    application_id = uuid.uuid4()
    withdraw_id = f"withdraw-{uuid.uuid4().hex[:10]}"
    # The withdrawal overtakes its application (another system of the district sent that one):
    # intake knows no such application yet and dead-letters the withdrawal.
    await send(
        stack,
        {
            "command_id": withdraw_id,
            "command": "withdraw_application",
            "application_id": str(application_id),
            "body": {"reason": "单位已合并，撤回本次申报"},
        },
    )
    letter = await letter_of(stack, withdraw_id)
    assert (letter["consumer"], letter["status"], letter["submitter"]) == ("intake.inbound", "open", SHINAN)
    assert letter["event_type"] == "withdraw_application" and letter["reason"] == "not found"
    number = str(letter["id"])

    retry = ("dead-letters", "retry", number, "-s", "intake", "--inbound", "--actor", "ops:wang")
    early = await cli(stack, *retry, "--reason", "重试：申报应已到达")
    assert early.exit_code == 1, early.output
    assert "failed: not found" in early.stdout
    assert (await letter_of(stack, withdraw_id))["status"] == "open"

    submit_id = f"submit-{uuid.uuid4().hex[:10]}"
    form = json.loads(with_fresh_undertaking_unit(complex_form()).model_dump_json())
    body = {"application_id": str(application_id), "year": YEAR, "programme": "service_complex", "form": form}
    await send(stack, {"command_id": submit_id, "command": "submit_application", "body": body})
    db = await asyncpg.connect(stack.dsn("intake"))
    try:
        async with asyncio.timeout(60):
            while not await db.fetchval(
                "SELECT count(*) FROM events WHERE aggregate_id = $1", str(application_id)
            ):
                await asyncio.sleep(0.5)

        done = await cli(stack, *retry, "--reason", "申报已到达，重新提交撤回")
        assert done.exit_code == 0, done.output
        assert f"retried: withdraw_application {withdraw_id} answered 200" in done.stdout
        # The district's own command, recorded as if it had arrived in order: its actor, its id.
        withdrawn = await db.fetchrow(
            """SELECT actor, source, correlation_id FROM events
               WHERE aggregate_id = $1 AND type = 'ApplicationWithdrawn'""",
            str(application_id),
        )
    finally:
        await db.close()
    assert withdrawn is not None
    assert (withdrawn["source"], withdrawn["correlation_id"]) == (SHINAN, withdraw_id)

    again = await cli(stack, *retry, "--reason", "再来一次")
    assert again.exit_code == 2 and "already retried" in again.stderr
    shown = await cli(stack, "dead-letters", "show", number, "-s", "intake", "--inbound", "--json")
    assert shown.exit_code == 0, shown.output
    detail = json.loads(shown.stdout)
    assert detail["status"] == "retried" and detail["resolved_by"] == "ops:wang"
    assert [(a["action"], a["outcome"].split(":")[0]) for a in detail["actions"]] == [
        ("retry", "failed"),
        ("retry", "retried"),
    ]
    assert withdraw_id not in {d["aggregate_id"] for d in await listed(stack, "open")}


async def test_a_skipped_inbound_dead_letter_records_who_and_why_and_shows_no_personal_data(
    stack: Stack, intake: ServiceProcess
) -> None:
    command_id = f"bogus-{uuid.uuid4().hex[:10]}"
    await send(
        stack, {"command_id": command_id, "command": "enrol_everyone", "body": {"手机号": "13912345678"}}
    )
    number = str((await letter_of(stack, command_id))["id"])
    shown = await cli(stack, "dead-letters", "show", number, "-s", "intake", "--inbound")
    assert shown.exit_code == 0, shown.output
    assert "unknown command" in shown.stdout and "13912345678" not in shown.stdout

    skipped = await cli(
        stack,
        "dead-letters",
        "skip",
        number,
        "-s",
        "intake",
        "--inbound",
        "--actor",
        "ops:li",
        "--reason",
        "区市系统已改正命令名",
        "--json",
    )
    assert skipped.exit_code == 0, skipped.output
    assert json.loads(skipped.stdout)["outcome"] == "skipped"
    [letter] = [d for d in await listed(stack, "skipped") if d["aggregate_id"] == command_id]
    assert (letter["resolved_by"], letter["resolution"]) == ("ops:li", "区市系统已改正命令名")
    # Only intake's letters are inbound ones.
    wrong = await cli(stack, "dead-letters", "show", number, "-s", "review", "--inbound")
    assert wrong.exit_code == 2 and "--service intake" in wrong.stderr
