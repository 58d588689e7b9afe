"""The outbox relay picks each record's partition itself (it builds record batches per
partition): the partition must be the one the Kafka clients pick for the key, or an aggregate's
events would be split across partitions and lose their order."""

from __future__ import annotations

import asyncio
import random
import uuid

import pytest
from aiokafka.errors import KafkaConnectionError
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as aiokafka_murmur2

from huigong_platform import outbox
from huigong_platform.outbox import OutboxRelay, acknowledgements, murmur2, partition_of


def keys() -> list[bytes]:
    rng = random.Random(7)
    every_length = [rng.randbytes(n) for n in range(0, 70)]
    ids = [str(uuid.UUID(int=rng.getrandbits(128))).encode() for _ in range(2000)]
    return [*every_length, *ids, b"2027", b"G-HAIER", "试点—建设".encode()]


def test_murmur2_is_kafkas() -> None:
    for key in keys():
        assert murmur2(key) == aiokafka_murmur2(key), key
    # Known values of the Java client (org.apache.kafka.common.utils.UtilsTest).
    assert murmur2(b"21") == -973932308 & 0xFFFFFFFF
    assert murmur2(b"foobar") == -790332482 & 0xFFFFFFFF


def test_each_key_goes_to_the_partition_the_kafka_clients_pick() -> None:
    for partitions in (1, 3, 12):
        every = list(range(partitions))
        for key in keys():
            assert partition_of(key, partitions) == DefaultPartitioner()(key, every, every)


async def test_a_round_the_broker_never_answers_ends_at_its_deadline() -> None:
    # An idempotent producer retries a batch for ever while its partition has a leader; the
    # relay must not wait with it, or one dead connection holds back the whole outbox.
    loop = asyncio.get_running_loop()
    acknowledged, refused, unanswered = loop.create_future(), loop.create_future(), loop.create_future()
    acknowledged.set_result(object())
    refused.set_exception(KafkaConnectionError("broker gone"))
    started = loop.time()
    outcomes = await acknowledgements([acknowledged, refused, unanswered], deadline=0.3)
    assert 0.3 <= loop.time() - started < 5
    assert outcomes[0] is None
    assert isinstance(outcomes[1], KafkaConnectionError)
    assert isinstance(outcomes[2], TimeoutError) and "0.3 s" in str(outcomes[2])
    assert not unanswered.cancelled()  # left to the producer that owns it


async def test_a_round_ends_as_soon_as_every_batch_is_answered() -> None:
    loop = asyncio.get_running_loop()
    futures = [loop.create_future() for _ in range(3)]
    for future in futures:
        loop.call_later(0.05, future.set_result, object())
    started = loop.time()
    assert await acknowledgements(futures, deadline=30) == [None, None, None]
    assert loop.time() - started < 5


class ProducerWithoutId:
    """A producer whose start() never ends, as aiokafka's does while InitProducerId keeps being
    answered COORDINATOR_LOAD_IN_PROGRESS."""

    def __init__(self, *_: object, **__: object) -> None:
        self.stopped = False

    async def start(self) -> None:
        await asyncio.Event().wait()

    async def stop(self) -> None:
        self.stopped = True


async def test_a_producer_that_gets_no_id_does_not_hold_the_relay(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[ProducerWithoutId] = []

    def make(*_: object, **__: object) -> ProducerWithoutId:
        made.append(ProducerWithoutId())
        return made[-1]

    monkeypatch.setattr(outbox, "make_producer", make)
    relay = OutboxRelay(None, "", "127.0.0.1:1", "intake", round_deadline=0.3)
    loop = asyncio.get_running_loop()
    started = loop.time()
    # Without the relay's own bound this would wait for ever: the outer 10 s only ends the test.
    with pytest.raises(TimeoutError, match=r"no producer id within 0\.3 s"):
        await asyncio.wait_for(relay._ensure_producer(), 10)
    assert 0.3 <= loop.time() - started < 5
    assert made[0].stopped  # closed, and the next round starts a fresh one
    with pytest.raises(TimeoutError):
        await relay._ensure_producer()
    assert len(made) == 2
