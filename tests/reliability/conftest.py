"""A three-node Kafka cluster for the reliability tests that lose a broker: started by `bin/stack
--brokers 3` in a directory of its own beside the test stack's (`<local dir>/cluster`), on ports
of its own (`HUIGONG_TEST_KAFKA_CLUSTER_PORT`, node 1; the other nodes on the next ports), with
the jars bin/setup installed; deleted at the end. The test stack's PostgreSQL is shared as ever."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from huigong_testkit.brokers import Cluster, local_cluster

from ..conftest import LOCAL, REPO

CLUSTER_PORT = int(os.environ.get("HUIGONG_TEST_KAFKA_CLUSTER_PORT", "19392"))


@pytest.fixture(scope="session")
async def kafka_cluster() -> AsyncIterator[Cluster]:
    libs = Path(os.environ.get("HUIGONG_KAFKA_LIBS", REPO / ".local/kafka/libs"))
    async with local_cluster(LOCAL / "cluster", CLUSTER_PORT, libs) as cluster:
        yield cluster
