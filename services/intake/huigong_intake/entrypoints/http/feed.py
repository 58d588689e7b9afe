"""A district's outbound feed over HTTP, for systems without Kafka: the notices of its outbound
topic (huigong_events.outbound), in the same order, from a cursor the district keeps."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from huigong_platform.refusals import FieldError, Refusal
from huigong_platform.service import runtime_of
from huigong_platform.web import Caller

from ...adapters import outbound as store
from ...policy import feed_owner

router = APIRouter()

# Seconds a long poll may hold a request: well inside the usual 30 s client and 60 s proxy timeouts.
MAX_WAIT = 20.0
MAX_CURSOR = 2**63 - 1  # a `seq` is a PostgreSQL bigint
POLL_EVERY = 0.5  # seconds between looks while a long poll waits


class FeedNotice(BaseModel):
    seq: int = Field(title="序号", description="通知在本区市通知流中的位置，也是 Kafka 记录头 ce_sequence")
    type: str = Field(
        title="通知类型", description="即 Kafka 记录头 ce_type；JSON Schema 见 libs/events/schemas"
    )
    schema_version: int = Field(title="版本")
    record_id: str = Field(
        title="记录编号",
        description="本区市的记录编号（申报、单位、设施、服务项目、服务事项、报送批次或入站命令），即 Kafka 记录的键",
    )
    occurred_at: datetime = Field(title="发生时间")
    data: dict[str, Any] = Field(title="内容", description="通知内容（与 Kafka 记录的值相同，不含以上字段）")


class FeedPage(BaseModel):
    notices: list[FeedNotice]
    next: int = Field(
        title="下一游标",
        description="下次请求的 after 值；没有新通知时等于本次的 after。按 before 由新到旧读取时，为下次（更早一页）的 "
        "before 值；已无更早的通知时等于本次的 before",
    )


@router.get(
    "/feed",
    tags=["通知"],
    summary="本区市的通知流（与 Kafka 出站主题相同的通知、相同的顺序）",
    description="受理、不予受理、发现及其排除、建设方案、确定和批准建设的决定、单位认定暂停恢复撤销退出、"
    "设施与服务项目登记、转办到本区市的服务事项、报送批次、被拒绝的入站命令。"
    "after 为上次答复的 next（首次为 0）；wait 大于 0 时，若暂无新通知，最多等待 wait 秒（长轮询）。"
    "区市和集团工会只读本单位的通知；运维人员须以 district 指明。"
    "before 给出时改为由新到旧读取 before 之前的 limit 条（工作台的通知页；不与 after、wait 同用）。",
)
async def read_feed(
    request: Request,
    caller: Caller,
    after: int = Query(default=0, ge=0, le=MAX_CURSOR, description="游标：上次答复的 next"),
    limit: int = Query(default=100, ge=1, le=store.FEED_LIMIT),
    wait: float = Query(default=0, ge=0, le=MAX_WAIT, description="没有新通知时最多等待的秒数"),
    before: int | None = Query(
        default=None, ge=1, le=MAX_CURSOR, description="由新到旧读取：此游标之前的通知（首页用最大值）"
    ),
    district: str | None = Query(
        default=None, description="区市或单位代码（仅运维人员需要；区市只读本单位的）"
    ),
) -> FeedPage:
    district = feed_owner(caller, district)
    pool = runtime_of(request).pool
    if before is not None:
        # Paging back is for people reading a list; a long poll or a forward cursor with it
        # would have no single meaning, so the request says which it wants.
        clash = [name for name, given in (("after", after != 0), ("wait", wait != 0)) if given]
        if clash:
            raise Refusal(
                *(
                    FieldError(name, f"{name} 不能与 before 同用", f"{name} cannot be used with before")
                    for name in clash
                )
            )
        async with pool.acquire() as conn:
            older = await store.feed(conn, district, 0, limit, before=before)
        return FeedPage(notices=[_notice(e) for e in older], next=older[-1].seq if older else before)
    deadline = asyncio.get_running_loop().time() + wait
    while True:
        async with pool.acquire() as conn:
            entries = await store.feed(conn, district, after, limit)
        if entries or asyncio.get_running_loop().time() >= deadline:
            break
        await asyncio.sleep(POLL_EVERY)
    return FeedPage(notices=[_notice(e) for e in entries], next=entries[-1].seq if entries else after)


def _notice(entry: store.FeedEntry) -> FeedNotice:
    return FeedNotice(
        seq=entry.seq,
        type=entry.type,
        schema_version=entry.schema_version,
        record_id=entry.record_id,
        occurred_at=entry.occurred_at,
        data=entry.data,
    )
