"""What every ops command shares: connection settings, topic selection, masking of sealed data,
and progress reporting with throughput."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from huigong_events.topics import EVENT_TOPICS, TOPICS, Topic

# Re-exported: audit, replay and dead-letter output mask sealed fields the way the services do.
from huigong_platform.raw_identifiers import SEALED as SEALED
from huigong_platform.raw_identifiers import mask_sealed as mask_sealed
from huigong_platform.settings import SERVICES

DEFAULT_BOOTSTRAP = "127.0.0.1:19092"


class OpsError(RuntimeError):
    """A problem the operator can fix (bad argument, unknown consumer, letter not open…)."""


@dataclass(frozen=True)
class OpsConfig:
    bootstrap: str
    prefix: str
    dsn: str | None

    @classmethod
    def resolve(
        cls,
        bootstrap: str | None = None,
        prefix: str | None = None,
        dsn: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> OpsConfig:
        """Options win over the environment (HUIGONG_KAFKA_BOOTSTRAP, HUIGONG_TOPIC_PREFIX,
        HUIGONG_PG_ADMIN_DSN), which wins over the local stack's defaults."""
        env = os.environ if env is None else env
        return cls(
            bootstrap=bootstrap or env.get("HUIGONG_KAFKA_BOOTSTRAP") or DEFAULT_BOOTSTRAP,
            prefix=prefix if prefix is not None else env.get("HUIGONG_TOPIC_PREFIX", ""),
            dsn=dsn or env.get("HUIGONG_PG_ADMIN_DSN") or None,
        )

    def require_dsn(self) -> str:
        if not self.dsn:
            raise OpsError(
                "需要数据库连接：请设置 HUIGONG_PG_ADMIN_DSN 或 --dsn / "
                "a database is needed: set HUIGONG_PG_ADMIN_DSN or pass --dsn"
            )
        return self.dsn


def check_service(service: str) -> str:
    if service not in SERVICES:
        raise OpsError(f"未知服务 unknown service {service!r}; one of {', '.join(SERVICES)}")
    return service


def select_topics(
    names: Iterable[str], prefix: str, catalogue: tuple[Topic, ...] = EVENT_TOPICS
) -> list[Topic]:
    """Catalogue topics by name: "huigong.intake.applications", the prefixed name, or the short
    "intake.applications". No names: the whole catalogue given."""
    wanted = list(names)
    if not wanted:
        return list(catalogue)
    chosen: list[Topic] = []
    for name in wanted:
        bare = name.removeprefix(prefix) if prefix else name
        match = [t for t in catalogue if bare in (t.name, t.name.removeprefix("huigong."))]
        if not match:
            known = ", ".join(t.name for t in catalogue)
            raise OpsError(f"不在主题目录中 not a catalogue topic: {name!r} (known: {known})")
        if match[0] not in chosen:
            chosen.append(match[0])
    return chosen


def catalogue_topic(qualified_name: str, prefix: str) -> Topic | None:
    if prefix and not qualified_name.startswith(prefix):
        return None
    bare = qualified_name.removeprefix(prefix)
    for topic in TOPICS:
        if topic.name == bare:
            return topic
    return None


class Reporter(Protocol):
    """Progress of a long operation; the CLI shows it as a rich progress bar with records/s."""

    def start(self, description: str, total: int | None) -> None: ...

    def advance(self, count: int) -> None: ...

    def finish(self) -> None: ...


class NullReporter:
    def start(self, description: str, total: int | None) -> None:
        pass

    def advance(self, count: int) -> None:
        pass

    def finish(self) -> None:
        pass


class Stopwatch:
    def __init__(self) -> None:
        self.started = time.perf_counter()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def rate(self, count: int) -> float:
        elapsed = self.elapsed
        return count / elapsed if elapsed > 0 else 0.0
