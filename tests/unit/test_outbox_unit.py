"""The outbox relay picks each record's partition itself (it builds record batches per
partition): the partition must be the one the Kafka clients pick for the key, or an aggregate's
events would be split across partitions and lose their order."""

from __future__ import annotations

import random
import uuid

from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as aiokafka_murmur2

from huigong_platform.outbox import murmur2, partition_of


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
