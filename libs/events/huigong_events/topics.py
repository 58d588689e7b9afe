"""The topic catalogue: every Kafka topic of the platform, defined once.

Provisioning (`huigong_platform.topics`), the outbox relay, the consumers and docker-compose all
read this list; nothing else names a topic. A prefix (HUIGONG_TOPIC_PREFIX) lets test runs and
parallel environments share one broker without seeing each other's records.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from .reference import SUBMITTERS

FOREVER: Final = -1  # retention.ms for event topics: the log is the system of record
INBOUND_RETENTION_MS: Final = 30 * 24 * 3600 * 1000  # commands, not facts: kept 30 days


class TopicKind(StrEnum):
    EVENTS = "events"
    INBOUND = "inbound"
    DEAD_LETTERS = "dead-letters"
    CHECKPOINTS = "checkpoints"
    OUTBOUND = "outbound"


@dataclass(frozen=True)
class Topic:
    name: str
    owner: str
    kind: TopicKind
    partitions: int
    aggregates: tuple[str, ...] = ()
    retention_ms: int = FOREVER
    description: str = ""

    def qualified(self, prefix: str = "") -> str:
        return f"{prefix}{self.name}"

    @property
    def configs(self) -> dict[str, str]:
        return {"retention.ms": str(self.retention_ms), "cleanup.policy": "delete"}


EVENT_TOPICS: Final[tuple[Topic, ...]] = (
    Topic(
        "huigong.intake.applications",
        "intake",
        TopicKind.EVENTS,
        3,
        ("application", "intake-cycle"),
        description="申报、修改、撤回、建设方案；例外申报窗口",
    ),
    Topic(
        "huigong.intake.reports",
        "intake",
        TopicKind.EVENTS,
        3,
        ("facility-report", "project-proposal", "compliance-fact"),
        description="设施报告、服务项目推荐、数据交换报送的合规事实",
    ),
    Topic(
        "huigong.intake.enrolments",
        "intake",
        TopicKind.EVENTS,
        6,
        ("enrolment",),
        description="新就业形态劳动者入会申请（逐行）",
    ),
    Topic(
        "huigong.review.reviews",
        "review",
        TopicKind.EVENTS,
        3,
        ("review",),
        description="筛查结论、评分、建设决定",
    ),
    Topic(
        "huigong.registry.units",
        "registry",
        TopicKind.EVENTS,
        3,
        ("unit", "grading", "evaluation-scheme"),
        description="单位登记、认定、撤销、退出；服务职工基地和公益伙伴的年度评估、分级评定、整改与退出",
    ),
    Topic(
        "huigong.registry.facilities",
        "registry",
        TopicKind.EVENTS,
        3,
        ("facility", "partner", "service-project"),
        description="设施、公益合作伙伴、服务项目库",
    ),
    Topic(
        "huigong.registry.members",
        "registry",
        TopicKind.EVENTS,
        6,
        ("member", "warmth-fund"),
        description="会员名册、互助保障、删除；送温暖预算和记录",
    ),
    Topic(
        "huigong.registry.matters",
        "registry",
        TopicKind.EVENTS,
        3,
        ("service-item", "matter", "working-calendar", "duty-roster"),
        description="服务事项目录；服务事项的受理、转办、接收、办理、办结、评价；工作日安排；窗口值班表",
    ),
    Topic(
        "huigong.metrics.targets",
        "metrics",
        TopicKind.EVENTS,
        1,
        ("target",),
        description="目标值调整",
    ),
)

# One inbound topic per submitting district or group union: the topic itself proves the sender
# once ACLs let each district principal write only its own topic (Kafka security on).
INBOUND_TOPICS: Final[tuple[Topic, ...]] = tuple(
    Topic(
        f"huigong.inbound.{code.lower()}",
        "intake",
        TopicKind.INBOUND,
        1,
        retention_ms=INBOUND_RETENTION_MS,
        description=f"{name}报送的命令",
    )
    for code, name in SUBMITTERS.items()
)

# One outbound topic per district and group union: what the platform tells it about its own
# records (huigong_events.outbound). One partition, so a district reads its notices in the order
# of its HTTP feed; kept for ever like the facts they restate, so a district system can start over.
OUTBOUND_TOPICS: Final[tuple[Topic, ...]] = tuple(
    Topic(
        f"huigong.outbound.{code.lower()}",
        "intake",
        TopicKind.OUTBOUND,
        1,
        description=f"发给{name}的通知：受理、发现、方案、决定、认定与暂停、设施与项目、转办、报送批次、被拒绝的入站命令",
    )
    for code, name in SUBMITTERS.items()
)

DEAD_LETTER_TOPICS: Final[tuple[Topic, ...]] = (
    Topic(
        "huigong.intake.inbound.dead-letters",
        "intake",
        TopicKind.DEAD_LETTERS,
        1,
        description="无法受理的入站记录：原始记录、原因、来源",
    ),
)

# Each service's signed chain checkpoints (huigong_events.checkpoints), kept for ever like its
# events: an auditor compares them with the event store without any secret.
CHECKPOINT_TOPICS: Final[tuple[Topic, ...]] = tuple(
    Topic(
        f"huigong.{service}.checkpoints",
        service,
        TopicKind.CHECKPOINTS,
        1,
        description="事件库签名检查点",
    )
    for service in ("intake", "review", "registry", "metrics")
)

TOPICS: Final[tuple[Topic, ...]] = (
    EVENT_TOPICS + INBOUND_TOPICS + OUTBOUND_TOPICS + DEAD_LETTER_TOPICS + CHECKPOINT_TOPICS
)

_BY_AGGREGATE: Final[dict[str, Topic]] = {
    aggregate: topic for topic in EVENT_TOPICS for aggregate in topic.aggregates
}


def topic_for_aggregate(aggregate_type: str) -> Topic:
    try:
        return _BY_AGGREGATE[aggregate_type]
    except KeyError:
        raise KeyError(f"no topic carries aggregate type {aggregate_type!r}") from None


def inbound_topic(submitter_code: str) -> Topic:
    name = f"huigong.inbound.{submitter_code.lower()}"
    for topic in INBOUND_TOPICS:
        if topic.name == name:
            return topic
    raise KeyError(f"no inbound topic for {submitter_code!r}")


def outbound_topic(submitter_code: str) -> Topic:
    name = f"huigong.outbound.{submitter_code.lower()}"
    for topic in OUTBOUND_TOPICS:
        if topic.name == name:
            return topic
    raise KeyError(f"no outbound topic for {submitter_code!r}")


def submitter_of_inbound(topic_name: str, prefix: str = "") -> str:
    """The district or group union a record came from, proven by the topic it arrived on."""
    bare = topic_name.removeprefix(prefix).removeprefix("huigong.inbound.")
    for code in SUBMITTERS:
        if code.lower() == bare:
            return code
    raise KeyError(f"{topic_name!r} is not an inbound topic")


def topics_of(owner: str, kind: TopicKind = TopicKind.EVENTS) -> tuple[Topic, ...]:
    return tuple(t for t in TOPICS if t.owner == owner and t.kind == kind)


def checkpoint_topic(service: str) -> Topic:
    for topic in CHECKPOINT_TOPICS:
        if topic.owner == service:
            return topic
    raise KeyError(f"no checkpoints topic for {service!r}")
