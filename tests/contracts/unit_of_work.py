"""The unit-of-work contract: what a command handler may rely on, whichever store runs it.
`tests/unit/test_unit_of_work_memory.py` runs it on the in-memory store,
`tests/integration/test_unit_of_work_postgres.py` on PostgreSQL: both must pass all of it."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from huigong_events.intake import ApplicationWithdrawn, EnrolmentRequested
from huigong_platform.eventstore import ANY_VERSION, ConcurrencyError, Metadata
from huigong_platform.idempotency import IdempotencyKeyReused, Outcome
from huigong_platform.unit_of_work import UnitsOfWork
from huigong_testkit.factories import enrolment

META = Metadata(actor="district:370202", source="370202", correlation_id="contract")


def withdrawn(application_id: uuid.UUID, n: int) -> ApplicationWithdrawn:
    return ApplicationWithdrawn(application_id=application_id, reason=f"第{n}次测试撤回")


class Boom(Exception):
    pass


class UnitOfWorkContract:
    """Subclasses provide the `units` fixture: units of work on an empty store of their kind."""

    async def test_appended_events_are_read_back_in_order_with_linked_hashes(
        self, units: UnitsOfWork
    ) -> None:
        app_id = uuid.uuid4()
        async with units() as uow:
            recorded = await uow.append(str(app_id), [withdrawn(app_id, 1), withdrawn(app_id, 2)], 0, META)
        assert [e.aggregate_version for e in recorded] == [1, 2]
        async with units() as uow:
            stream = await uow.read("application", str(app_id))
            await uow.append(str(app_id), [withdrawn(app_id, 3)], stream.version, META)
        async with units() as uow:
            stream = await uow.read("application", str(app_id))
        assert [e.aggregate_version for e in stream.events] == [1, 2, 3]
        assert [e.data["reason"] for e in stream.events] == [
            "第1次测试撤回",
            "第2次测试撤回",
            "第3次测试撤回",
        ]
        assert stream.events[1].prev_hash == stream.events[0].hash
        assert all(e.hash_is_valid() for e in stream.events)
        assert {e.actor for e in stream.events} == {"district:370202"}

    async def test_a_stale_version_is_a_conflict_and_records_nothing(self, units: UnitsOfWork) -> None:
        app_id = uuid.uuid4()
        async with units() as uow:
            await uow.append(str(app_id), [withdrawn(app_id, 1)], 0, META)
        with pytest.raises(ConcurrencyError):
            async with units() as uow:
                await uow.append(str(app_id), [withdrawn(app_id, 2)], 0, META)
        async with units() as uow:
            await uow.append(str(app_id), [withdrawn(app_id, 3)], ANY_VERSION, META)
            stream = await uow.read("application", str(app_id))
        assert [e.data["reason"] for e in stream.events] == ["第1次测试撤回", "第3次测试撤回"]

    async def test_a_unit_that_fails_records_nothing_not_even_its_key(self, units: UnitsOfWork) -> None:
        app_id = uuid.uuid4()
        with pytest.raises(Boom):
            async with units() as uow:
                assert await uow.claim("district:370202", "k-fail", "f1") is None
                await uow.append(str(app_id), [withdrawn(app_id, 1)], 0, META)
                raise Boom
        async with units() as uow:
            assert (await uow.read("application", str(app_id))).events == []
            # The key is free again: the fixed command may be sent with it.
            assert await uow.claim("district:370202", "k-fail", "f2") is None

    async def test_a_key_answers_its_first_outcome_and_refuses_another_command(
        self, units: UnitsOfWork
    ) -> None:
        async with units() as uow:
            assert await uow.claim("district:370202", "k1", "f1") is None
            await uow.settle("district:370202", "k1", Outcome(201, {"receipt_no": "2024-370202-00001"}))
        async with units() as uow:
            replayed = await uow.claim("district:370202", "k1", "f1")
        assert replayed == Outcome(201, {"receipt_no": "2024-370202-00001"}, replayed=True)
        with pytest.raises(IdempotencyKeyReused):
            async with units() as uow:
                await uow.claim("district:370202", "k1", "f2")
        async with units() as uow:
            # Keys are per principal: another district's k1 is its own.
            assert await uow.claim("district:370203", "k1", "f2") is None

    async def test_racing_units_with_one_key_run_the_command_once(self, units: UnitsOfWork) -> None:
        app_id = uuid.uuid4()

        async def attempt() -> Outcome:
            async with units() as uow:
                await uow.lock("application", str(app_id))
                first = await uow.claim("district:370202", f"race-{app_id}", "f")
                if first is not None:
                    return first
                stream = await uow.read("application", str(app_id))
                await uow.append(str(app_id), [withdrawn(app_id, stream.version)], stream.version, META)
                outcome = Outcome(200, {"n": stream.version})
                await uow.settle("district:370202", f"race-{app_id}", outcome)
                return outcome

        outcomes = await asyncio.gather(*(attempt() for _ in range(4)))
        assert sorted(o.replayed for o in outcomes) == [False, True, True, True]
        assert {o.body["n"] for o in outcomes} == {0}
        async with units() as uow:
            assert (await uow.read("application", str(app_id))).version == 1

    async def test_many_new_aggregates_start_at_once_or_not_at_all(self, units: UnitsOfWork) -> None:
        events = [enrolment(platform=p) for p in ("美团", "饿了么", "滴滴")]
        ids = [str(e.enrolment_id) for e in events]
        async with units() as uow:
            await uow.start_many(
                EnrolmentRequested, [(i, e.to_data()) for i, e in zip(ids, events, strict=True)], META
            )
        async with units() as uow:
            streams = [await uow.read("enrolment", i) for i in ids]
        assert [s.version for s in streams] == [1, 1, 1]
        assert [s.events[0].data["platform"] for s in streams] == ["美团", "饿了么", "滴滴"]
        fresh = enrolment()
        with pytest.raises(ConcurrencyError):
            async with units() as uow:
                await uow.start_many(
                    EnrolmentRequested,
                    [(str(fresh.enrolment_id), fresh.to_data()), (ids[0], events[0].to_data())],
                    META,
                )
        async with units() as uow:
            assert (await uow.read("enrolment", str(fresh.enrolment_id))).events == []
