"""The outbox relay picks each record's partition itself (it builds record batches per
partition): the partition must be the one the Kafka clients pick for the key, or an aggregate's
events would be split across partitions and lose their order."""

from __future__ import annotations

import asyncio
import random
import uuid

from aiokafka.errors import KafkaConnectionError
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as aiokafka_murmur2

from huigong_platform.outbox import acknowledgements, murmur2, partition_of


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
