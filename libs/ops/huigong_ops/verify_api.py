"""`GET /verify`: the check `huigong verify --kafka-only` runs, over HTTP for 运维/审计 (the `ops`
role only, `huigong_platform.policy.COMMON`), narrowed to one service's own event topics: every
record's hash, version order and `prev_hash` link, its authentication tag under the service's
event keys, and the service's signed chain checkpoints. Bounded: one of the service's topics (or
all of its few), from a time on if asked, and at most `limit` problems listed (the counts cover
them all). The comparison with the event stores needs the admin DSN and stays on the command line.

The route lives beside the check it runs; `huigong_platform.service` mounts it on every service
(imported there when the app is built, since this package builds on the platform).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Query, Request

from huigong_events.authenticity import RecordKeys
from huigong_events.topics import Topic, topics_of
from huigong_platform.refusals import FieldError, Refusal

from . import event_keys
from . import verify as verify_mod
from .common import OpsError

log = structlog.get_logger(__name__)

MAX_LIMIT = 200


class KafkaUnavailable(Refusal):
    """The topics cannot be read now: nothing was checked, ask again later."""

    status = 503
    reason = "kafka unavailable"


def _own_topic(service: str, name: str | None, prefix: str) -> list[Topic]:
    own = list(topics_of(service))
    if name is None or name == "":
        return own
    bare = name.removeprefix(prefix) if prefix else name
    chosen = [t for t in own if bare in (t.name, t.name.removeprefix("huigong."))]
    if not chosen:
        known = "、".join(t.name for t in own)
        raise Refusal(
            FieldError(
                "topic",
                f"不是本服务的事件主题：{name}（可选：{known}）",
                f"not one of {service}'s event topics",
            )
        )
    return chosen


def router(service: str, kafka_of: Any) -> APIRouter:
    """The route of one service; `kafka_of(request)` gives its Kafka bootstrap servers and topic
    prefix."""
    routes = APIRouter(tags=["数据流（运维）"])

    @routes.get("/verify", summary="校验：本服务事件主题的哈希链、认证标签与签名检查点（运维审计）")
    async def verify(
        request: Request,
        topic: Annotated[
            str | None, Query(description="本服务的一个事件主题，如 intake.applications；缺省为全部")
        ] = None,
        since: Annotated[
            datetime | None, Query(description="只核对此时刻起记录的事件（带时区，缺省 UTC）")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="列出的问题条数上限")] = 20,
    ) -> dict[str, Any]:
        bootstrap, prefix = kafka_of(request)
        topics = _own_topic(service, topic, prefix)
        if since is not None and since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        try:
            report = await verify_mod.verify(
                bootstrap,
                prefix,
                topics,
                keys=RecordKeys.from_environment(),
                since=since,
                public_keys=event_keys.public_keys(os.environ),
            )
        except (OpsError, OSError) as exc:
            log.warning("verify unavailable", error=f"{type(exc).__name__}: {exc}")
            raise KafkaUnavailable(
                FieldError(
                    "kafka", "Kafka 未应答，暂时无法校验", f"Kafka did not answer: {type(exc).__name__}"
                )
            ) from exc
        log.info("verified", topics=[t.name for t in topics], records=report.records, ok=report.ok)
        return {
            "service": service,
            "checked_at": datetime.now(UTC).isoformat(),
            "since": since.isoformat() if since else None,
            "limit": limit,
            **report.to_json(limit),
        }

    return routes
