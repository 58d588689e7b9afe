"""送温暖 through the registry's real app and command path, on the in-memory store: the city sets a
union's yearly fund, a district records deliveries to enrolled members (the recipient sealed
under the member's key), a delivery above the threshold waits for the city's approval, a repeat
needs a reason, an overdraft is refused naming what remains, and after a member's erasure the
deliveries stay counted while their sealed name and phone cannot be opened. Neither PostgreSQL
nor Kafka."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import httpx
import pytest

from huigong_events.reference import Occupation
from huigong_events.registry import MemberEnrolled
from huigong_events.upcasting import decode
from huigong_platform.application import CommandPath
from huigong_platform.eventstore import Metadata
from huigong_platform.settings import Settings
from huigong_platform.unit_of_work import MemoryState, UnitsOfWork, in_memory_units
from huigong_registry.app import create_app
from huigong_registry.domain import warmth
from huigong_registry.domain.dates import BEIJING
from huigong_registry.handlers import Registry
from huigong_registry.policy import POLICY

from ...inprocess import as_, in_process
from .memory import MemoryRegistryTables
from .warmth_memory import MemoryRecipients

CITY = as_("city:370200")
DISTRICT = as_("district:370202")
OTHER_DISTRICT = as_("district:370203")
REGISTRAR = as_("registrar:city01")
NOWHERE = "postgresql://nobody@127.0.0.1:1/none"
NAME, PHONE = "刘桂兰", "13698765432"
YEAR = datetime.now(BEIJING).year


def key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


def member_key(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()


@dataclass
class World:
    client: httpx.AsyncClient
    state: MemoryState
    units: UnitsOfWork
    tables: MemoryRegistryTables
    recipients: MemoryRecipients

    async def enrol(self, label: str) -> str:
        """A member as the enrolment reaction records them, holding a data key."""
        member = member_key(label)
        event = MemberEnrolled(
            member_key=member,
            key_id=f"dk-{member[:8]}",
            enrolment_id=uuid.uuid4(),
            district="370202",
            occupation=Occupation.外卖送餐员,
            platform="某某外卖平台",
            joined_on=date(YEAR, 1, 2),
        )
        async with self.units() as uow:
            await uow.append(
                member,
                [event],
                0,
                Metadata(actor="reaction:registry", source="registry", correlation_id=str(uuid.uuid4())),
            )
        self.tables.member_keys.add(member)
        return member

    async def budget(self, amount: int, threshold: int, who: dict[str, str] = CITY) -> httpx.Response:
        body = {"amount": amount, "approval_threshold": threshold, "reason": "年度送温暖预算"}
        return await self.client.put(f"/warmth/funds/370202/{YEAR}", json=body, headers={**who, **key()})

    async def deliver(self, member: str, who: dict[str, str] = DISTRICT, **fields: Any) -> httpx.Response:
        body = {
            "member_key": member,
            "recipient": {"name": NAME, "phone": PHONE},
            "occasion": "重要节点",
            "festival": "春节",
            "form": "慰问金",
            "amount": 500,
            "delivered_on": f"{YEAR}-01-20",
            "evidence_ref": "QD-SWN-0001",
            **fields,
        }
        return await self.client.post("/warmth/deliveries", json=body, headers={**who, **key()})

    def fund(self) -> warmth.Fund:
        return warmth.fold(
            decode(r) for r in self.state.streams.get((warmth.AGGREGATE, f"370202:{YEAR}"), [])
        )


@pytest.fixture
async def world() -> AsyncIterator[World]:
    state = MemoryState()
    units = in_memory_units(state)
    tables = MemoryRegistryTables()
    recipients = MemoryRecipients(tables)
    path = CommandPath(POLICY, Registry(tables.records, recipients=recipients.recipients).handlers(), units)
    async with in_process(create_app(Settings(service="registry", database_url=NOWHERE)), path) as client:
        yield World(client, state, units, tables, recipients)


def errors(response: httpx.Response) -> dict[str, dict[str, str]]:
    return {e["field"]: e for e in response.json()["errors"]}


async def test_only_the_city_sets_a_fund_and_setting_it_again_records_it_once(world: World) -> None:
    refused = await world.budget(3000, 1000, who=DISTRICT)
    assert refused.status_code == 403
    first = await world.budget(3000, 1000)
    assert first.status_code == 200, first.text
    again = await world.budget(3000, 1000)
    assert again.status_code == 200
    events = world.state.streams[(warmth.AGGREGATE, f"370202:{YEAR}")]
    assert [e.type for e in events] == ["WarmthBudgetSet"]
    assert events[0].actor == "city:370200"


async def test_a_delivery_above_the_threshold_waits_for_the_citys_approval(world: World) -> None:
    member = await world.enrol("a")
    await world.budget(5000, 1000)
    small = await world.deliver(member)
    assert small.status_code == 201, small.text
    assert small.json()["status"] == "approved" and small.json()["status_label"] == "已批准"
    big = await world.deliver(member, occasion="重大疾病", festival=None, amount=2000)
    assert big.status_code == 201, big.text
    assert big.json()["status"] == "pending" and big.json()["status_label"] == "待审批"
    delivery = big.json()["delivery_id"]
    base = f"/warmth/funds/370202/{YEAR}/deliveries/{delivery}"
    assert (await world.client.post(f"{base}/approval", headers={**DISTRICT, **key()})).status_code == 403
    approved = await world.client.post(f"{base}/approval", headers={**CITY, **key()})
    assert approved.status_code == 201, approved.text
    twice = await world.client.post(f"{base}/approval", headers={**CITY, **key()})
    assert twice.status_code == 409 and "待审批" in errors(twice)["delivery_id"]["zh"]
    fund = world.fund()
    assert fund.drawn == 2500 and fund.remaining == 2500


async def test_a_declined_delivery_returns_its_amount_to_the_fund(world: World) -> None:
    member = await world.enrol("b")
    await world.budget(3000, 1000)
    big = await world.deliver(member, occasion="遇到困难", festival=None, amount=3000)
    assert world.fund().remaining == 0
    base = f"/warmth/funds/370202/{YEAR}/deliveries/{big.json()['delivery_id']}"
    declined = await world.client.post(
        f"{base}/decline", json={"reason": "已由其他渠道救助"}, headers={**CITY, **key()}
    )
    assert declined.status_code == 201, declined.text
    assert world.fund().remaining == 3000


async def test_a_repeat_for_the_same_occasion_and_period_needs_a_reason_and_is_flagged(world: World) -> None:
    member = await world.enrol("c")
    await world.budget(5000, 1000)
    assert (await world.deliver(member)).status_code == 201
    repeat = await world.deliver(member, delivered_on=f"{YEAR}-02-01")
    assert repeat.status_code == 422
    error = errors(repeat)["repeat_reason"]
    assert "再次记录须说明原因" in error["zh"] and "give the reason" in error["en"]
    # Another union's delivery for the same festival is a repeat too.
    other = await world.deliver(member, who=OTHER_DISTRICT, amount=0, form="实物")
    assert other.status_code == 422 and "repeat_reason" in errors(other)
    flagged = await world.deliver(member, repeat_reason="家中突发火灾，追加慰问")
    assert flagged.status_code == 201 and flagged.json()["repeat_reason"] == "家中突发火灾，追加慰问"
    # Another festival is another period.
    autumn = await world.deliver(member, festival="中秋节", delivered_on=f"{YEAR}-01-25")
    assert autumn.status_code == 201 and autumn.json()["repeat_reason"] is None


async def test_an_overdraft_is_refused_naming_what_remains(world: World) -> None:
    member = await world.enrol("d")
    unset = await world.deliver(member)
    assert unset.status_code == 409 and "尚未设定" in errors(unset)["amount"]["zh"]
    await world.budget(1200, 1000)
    assert (await world.deliver(member, amount=800)).status_code == 201
    over = await world.deliver(member, occasion="重大疾病", festival=None, amount=500)
    assert over.status_code == 409
    error = errors(over)["amount"]
    assert "剩余 400 元" in error["zh"] and "400 yuan remain" in error["en"]
    lower = await world.budget(700, 1000)
    assert lower.status_code == 409 and "800" in errors(lower)["amount"]["zh"]


async def test_cash_needs_an_amount_and_a_festival_goes_with_its_occasion(world: World) -> None:
    member = await world.enrol("e")
    await world.budget(1000, 1000)
    refused = await world.deliver(member, occasion="遇到困难", amount=0)
    assert refused.status_code == 422
    assert set(errors(refused)) == {"festival", "amount"}
    unknown = await world.deliver(member_key("nobody"))
    assert unknown.status_code == 404 and errors(unknown)["member_key"]["en"] == "no such member"
    assert (await world.deliver(member, who=REGISTRAR)).status_code == 403


async def test_erasure_keeps_the_counts_and_leaves_no_name_or_phone_readable(world: World) -> None:
    member = await world.enrol("f")
    await world.budget(1000, 1000)
    delivered = await world.deliver(member)
    assert delivered.status_code == 201
    assert NAME not in delivered.text and PHONE not in delivered.text
    stored = [r for r in world.state.events if r.type == "WarmthDelivered"]
    sealed = stored[0].data["recipient_sealed"]
    assert world.recipients.open_sealed(member, sealed) == {"name": NAME, "phone": PHONE}
    assert all(
        NAME not in json.dumps(r.data, ensure_ascii=False) and PHONE not in json.dumps(r.data)
        for r in world.state.events
    )
    erased = await world.client.post(
        f"/members/{member}/erasure", json={"request_ref": "QD-DEL-2026-0001"}, headers={**REGISTRAR, **key()}
    )
    assert erased.status_code == 201, erased.text
    assert world.recipients.open_sealed(member, sealed) is None
    assert world.fund().drawn == 500 and len(world.fund().deliveries) == 1
    after = await world.deliver(member, occasion="遇到困难", festival=None)
    assert after.status_code == 409 and "已删除" in errors(after)["member_key"]["zh"]
