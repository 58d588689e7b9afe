"""The Typer commands of the ops CLI (see `huigong_ops` for the overview).

Installed on the `huigong` app by `install(app)`: `verify`, `audit`, `streams`, `replay` and
the `dead-letters` group. Each command only parses options, runs one async function of the ops
modules and renders its result; the work itself is testable without the CLI.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Coroutine, Sequence
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import orjson
import structlog
import typer
from rich.table import Table
from rich.text import Text

from huigong_events.authenticity import RecordKeys
from huigong_events.checkpoints import load_public_keys
from huigong_events.topics import EVENT_TOPICS
from huigong_platform import stream_positions
from huigong_platform.raw_identifiers import Patterns
from huigong_platform.settings import SERVICES

from . import audit as audit_mod
from . import bundles, deadletters, event_keys, inbound_letters, verify_record
from . import personal as personal_mod
from . import reconcile as reconcile_mod
from . import replay as replay_mod
from . import streams as streams_mod
from . import verify as verify_mod
from .common import OpsConfig, OpsError, check_service, select_topics
from .render import RichReporter, stdout_console

T = TypeVar("T")

AGGREGATE_TYPES = tuple(a for t in EVENT_TOPICS for a in t.aggregates)

# --- options shared by the commands --------------------------------------------------------
BootstrapOpt = Annotated[
    str | None,
    typer.Option(
        "--bootstrap",
        help="Kafka 地址，默认取 HUIGONG_KAFKA_BOOTSTRAP / Kafka bootstrap servers (default: HUIGONG_KAFKA_BOOTSTRAP)",
        show_default=False,
    ),
]
PrefixOpt = Annotated[
    str | None,
    typer.Option(
        "--prefix",
        help="主题名前缀，默认取 HUIGONG_TOPIC_PREFIX / topic name prefix (default: HUIGONG_TOPIC_PREFIX)",
        show_default=False,
    ),
]
DsnOpt = Annotated[
    str | None,
    typer.Option(
        "--dsn",
        help="可读取各服务模式的 PostgreSQL 连接，默认取 HUIGONG_PG_ADMIN_DSN / PostgreSQL DSN that can "
        "read every service schema (default: HUIGONG_PG_ADMIN_DSN)",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="输出 JSON / print JSON instead of tables")]
ProgressOpt = Annotated[
    bool,
    typer.Option("--progress/--no-progress", help="显示进度条（标准错误）/ show a progress bar on stderr"),
]
TopicOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--topic",
        help="只读这些事件主题（可重复），如 intake.applications / only these event topics (repeatable)",
        show_default=False,
    ),
]
ServiceOpt = Annotated[
    str,
    typer.Option("--service", "-s", help="服务 / service: " + " | ".join(SERVICES)),
]
ActorOpt = Annotated[
    str, typer.Option("--actor", help="操作人（记入审计）/ who acts (recorded for auditors)")
]
ReasonOpt = Annotated[str, typer.Option("--reason", help="理由（记入审计）/ why (recorded for auditors)")]
InboundOpt = Annotated[
    bool,
    typer.Option(
        "--inbound",
        help="受理服务入站死信主题上的死信（编号为其位置）/ a letter of intake's inbound dead-letter topic "
        "(numbered by its offset there)",
    ),
]


class _CurrentStderr:
    """Whatever sys.stderr is when a line is written (test runners swap it per command)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def _quiet_logs() -> None:
    """The runner's structlog warnings (a retried record failing again) go to stderr, warnings and
    above only: stdout is the command's output."""
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.EventRenamer("message"),
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )


def _run(coro: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(coro)
    except OpsError as exc:
        typer.secho(f"错误 error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(2) from exc


def _fail(message: str) -> typer.Exit:
    typer.secho(f"错误 error: {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(2)


def _print_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2, default=str).decode() + "\n")


def _short(value: str | None, width: int = 12) -> str:
    if not value:
        return ""
    return value if len(value) <= width else value[: width - 1] + "…"


# --- verify --------------------------------------------------------------------------------


def verify(
    topic: TopicOpt = None,
    decode: Annotated[
        bool,
        typer.Option(
            "--decode", help="同时检查每个事件能否升级并解码 / also check every event upcasts and decodes"
        ),
    ] = False,
    limit: Annotated[
        int, typer.Option("--limit", "-n", help="列出的问题条数，0 为全部 / problems listed (0: all)")
    ] = 20,
    kafka_only: Annotated[
        bool,
        typer.Option(
            "--kafka-only",
            help="只读 Kafka，不核对各服务的事件库 / read Kafka only, not each service's event store",
        ),
    ] = False,
    since: Annotated[
        datetime | None,
        typer.Option(
            "--since",
            help="只核对此时刻起记录的事件（UTC，或带时区）/ only events recorded from then on (UTC unless a zone is given)",
        ),
    ] = None,
    public_keys: Annotated[
        Path | None,
        typer.Option(
            "--public-keys",
            help="已公布的检查点公钥文件（JSON）/ published checkpoint public keys (JSON of key id → hex; "
            "default: derived from HUIGONG_CHECKPOINT_KEYS in the environment)",
        ),
    ] = None,
    by: Annotated[
        str | None,
        typer.Option(
            "--by",
            help="记入校验结果的执行人 / who ran it, kept with the report "
            "(default: HUIGONG_PRINCIPAL, else the operating system's user)",
            show_default=False,
        ),
    ] = None,
    json_output: JsonOpt = False,
    progress: ProgressOpt = True,
    bootstrap: BootstrapOpt = None,
    prefix: PrefixOpt = None,
    dsn: DsnOpt = None,
) -> None:
    """校验每个聚合的哈希链 / verify every aggregate's hash chain.

    检查缺失、乱序、篡改与冲突的事件 / checks for gaps, reordering, altered and conflicting events.

    从头读取全部事件主题（或 --topic 指定的主题），按聚合分组逐一核对。发现问题时退出码为 1。

    Reads every event topic from offset 0 (or only --topic), groups records by aggregate and checks each hash, each version and each prev_hash link, and each record's authentication tag (HUIGONG_EVENT_KEYS): a record without a valid tag of its topic's owner is `forged` (unless it is an untagged event adopted in a manifest of HUIGONG_LEGACY_ADOPTIONS: `huigong events adopt-legacy`). Then reads each owning service's event store (admin DSN: HUIGONG_PG_ADMIN_DSN or --dsn; skipped with --kafka-only) and checks it the same way, and the two copies against each other: `copies_differ`, `missing_on_kafka`, `missing_in_store`. A relay duplicate and an event not yet published are info only. Exits 1 when anything fails.

    每次校验的结果记入数据库（auth.verify_reports），控制台 运维 → 校验结果 可查 / each run's report is kept in PostgreSQL whenever an admin DSN is known (also with --kafka-only), and shown in the console under 运维 → 校验结果 (GET /verify-reports).
    """
    _quiet_logs()
    config = OpsConfig.resolve(bootstrap, prefix, dsn)
    try:
        topics = select_topics(topic or [], config.prefix)
        keys = RecordKeys.from_environment()
        trusted_keys = (
            load_public_keys(public_keys.read_bytes()) if public_keys else event_keys.public_keys(os.environ)
        )
    except (OpsError, ValueError, OSError) as exc:
        raise _fail(str(exc)) from exc
    if not kafka_only and config.dsn is None:
        raise _fail(
            "核对事件库需要数据库连接：请设置 HUIGONG_PG_ADMIN_DSN 或 --dsn，或用 --kafka-only / "
            "comparing with the event stores needs HUIGONG_PG_ADMIN_DSN or --dsn (or --kafka-only)"
        )
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    run_by = (by or "").strip() or verify_record.default_runner()
    started_at = datetime.now(UTC)
    with RichReporter(progress and not json_output) as reporter:
        report = _run(
            verify_mod.verify(
                config.bootstrap,
                config.prefix,
                topics,
                decode_events=decode,
                reporter=reporter,
                keys=keys,
                dsn=None if kafka_only else config.dsn,
                since=since,
                public_keys=trusted_keys,
            )
        )
    report_id: int | None = None
    not_kept = "没有数据库连接（HUIGONG_PG_ADMIN_DSN）no admin DSN"
    if config.dsn is not None:
        try:
            report_id = asyncio.run(
                verify_record.record(
                    config.dsn,
                    report,
                    run_by=run_by,
                    started_at=started_at,
                    finished_at=datetime.now(UTC),
                    topics=[t.qualified(config.prefix) for t in topics],
                    since=since,
                    with_stores=not kafka_only,
                    decoded=decode,
                )
            )
        except OpsError as exc:
            not_kept = str(exc)
    if json_output:
        _print_json({**report.to_json(limit), "report_id": report_id})
    else:
        _render_verify(report, limit)
        if report_id is not None:
            typer.echo(f"已记录为校验结果 #{report_id} / kept as verify report #{report_id}")
    if report_id is None:
        typer.secho(f"校验结果未记录 report not kept: {not_kept}", err=True, fg=typer.colors.YELLOW)
    if not report.ok:
        raise typer.Exit(1)


def _render_verify(report: verify_mod.VerifyReport, limit: int) -> None:
    console = stdout_console()
    topics = Table(title="主题 topics", title_justify="left")
    topics.add_column("主题 topic")
    topics.add_column("记录 records", justify="right")
    for name, count in report.topics.items():
        topics.add_row(name, f"{count:,}")
    for name in report.missing_topics:
        topics.add_row(Text(name, style="red"), Text("不存在 missing", style="red"))
    for service, count in report.stores.items():
        topics.add_row(f"{service} 事件库 event store", f"{count:,}")
    console.print(topics)

    summary = Table(title="汇总 summary", title_justify="left", show_header=False)
    summary.add_column()
    summary.add_column(justify="right")
    summary.add_row("主题 topics", str(len(report.topics)))
    summary.add_row("分区 partitions", str(report.partitions))
    summary.add_row("记录 records", f"{report.records:,}")
    summary.add_row("聚合 aggregates", f"{report.aggregates:,}")
    summary.add_row("用时 elapsed", f"{report.elapsed:.2f} s")
    summary.add_row("吞吐 throughput", f"{report.rate:,.0f} 条/s records/s")
    for kind in verify_mod.Kind:
        count = report.counts.get(kind.value, 0)
        style = "red" if count and kind.failure else ("yellow" if count else "")
        summary.add_row(Text(kind.label, style=style), Text(f"{count:,}", style=style))
    console.print(summary)

    shown = report.problems if limit <= 0 else report.problems[:limit]
    if shown:
        table = Table(
            title=f"问题（前 {len(shown)} 条，共 {sum(report.counts.values()):,} 条）problems (first {len(shown)})",
            title_justify="left",
        )
        for column in ("类型 kind", "位置 position", "聚合 aggregate", "版本 version", "说明 detail"):
            table.add_column(column, overflow="fold")
        for p in shown:
            table.add_row(
                Text(p.kind.value, style="red" if p.failure else "yellow"),
                f"{p.topic}[{p.partition}]@{p.offset}",
                f"{p.aggregate_type or '?'}:{p.aggregate_id or '?'}",
                "" if p.version is None else str(p.version),
                p.detail,
            )
        console.print(table)
    if report.ok:
        console.print(Text("✓ 哈希链完整 every chain is intact", style="green"))
    else:
        failures = sum(n for k, n in report.counts.items() if verify_mod.Kind(k).failure)
        extra = " and missing topics" if report.missing_topics else ""
        console.print(
            Text(f"✗ 校验失败 verification failed: {failures:,} problem(s){extra}", style="bold red")
        )


# --- audit ---------------------------------------------------------------------------------


class AuditFormat(StrEnum):
    table = "table"
    jsonl = "jsonl"
    csv = "csv"


def audit(
    aggregate_id: Annotated[
        str,
        typer.Argument(
            help="聚合编号：申报编号、单位编号、成员标识（密钥哈希）等 / aggregate id: application, unit, "
            "member key (keyed hash)…",
            show_default=False,
        ),
    ],
    type_: Annotated[
        list[str] | None,
        typer.Option(
            "--type",
            "-t",
            help="聚合类型（可重复）/ aggregate type (repeatable): " + " | ".join(AGGREGATE_TYPES),
            show_default=False,
        ),
    ] = None,
    output_format: Annotated[
        AuditFormat, typer.Option("--format", "-f", help="输出格式 / output format")
    ] = AuditFormat.table,
    related: Annotated[
        bool,
        typer.Option(
            "--related/--no-related",
            help="同时列出数据中提及该编号的其他聚合事件 / also list other aggregates' events whose data names it",
        ),
    ] = True,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="写入文件而非标准输出 / write to a file instead of stdout"),
    ] = None,
    full: Annotated[
        bool, typer.Option("--full", help="表格中不截断数据 / do not shorten the data column")
    ] = False,
    topic: TopicOpt = None,
    progress: ProgressOpt = True,
    bootstrap: BootstrapOpt = None,
    prefix: PrefixOpt = None,
) -> None:
    """一个聚合的完整历史 / the complete history of one aggregate.

    时间、操作主体、来源、关联与起因编号及内容 / times, actor, source, correlation and causation ids, and what changed.

    按记录时间排序，跨全部事件主题；评审聚合与申报同号，因此申报编号同时显示受理与评审事件。找不到任何事件时退出码为 1。

    In recorded order, across every event topic. Review's aggregate shares the application id, so an application's audit shows intake's and review's events together; events of other aggregates that name the id in their data are listed with the field that links them. Data is decoded and upcast to the current schema; sealed personal data is left out. Exits 1 when nothing is found.
    """
    _quiet_logs()
    config = OpsConfig.resolve(bootstrap, prefix)
    types = list(type_ or [])
    unknown = [t for t in types if t not in AGGREGATE_TYPES]
    if unknown:
        raise _fail(
            f"未知聚合类型 unknown aggregate type {', '.join(unknown)}; one of {', '.join(AGGREGATE_TYPES)}"
        )
    try:
        topics = select_topics(topic or [], config.prefix)
    except OpsError as exc:
        raise _fail(str(exc)) from exc
    with RichReporter(progress) as reporter:
        report = _run(
            audit_mod.audit(
                config.bootstrap,
                config.prefix,
                topics,
                aggregate_id,
                types=types,
                related=related,
                reporter=reporter,
                keys=_event_keys_or_none(),
            )
        )
    if output_format is AuditFormat.table:
        _render_audit(report, full, output)
    else:
        text = (
            "".join(line + "\n" for line in audit_mod.jsonl_lines(report.entries))
            if output_format is AuditFormat.jsonl
            else audit_mod.csv_text(report.entries)
        )
        if output:
            output.write_text(text, encoding="utf-8")
        else:
            sys.stdout.write(text)
    if not report.entries:
        typer.secho(
            f"没有找到事件 no events found for {aggregate_id} in {report.records:,} records",
            err=True,
            fg=typer.colors.YELLOW,
        )
        raise typer.Exit(1)


def _event_keys_or_none() -> RecordKeys | None:
    """The services' event keys when the environment has them: `audit` then marks forged
    records; without them it lists records unchecked, as before (and says so)."""
    try:
        return RecordKeys.from_environment()
    except ValueError:
        typer.secho(
            "未设置 HUIGONG_EVENT_KEYS：未核验认证标签 / tags not checked (no HUIGONG_EVENT_KEYS)",
            err=True,
            fg=typer.colors.YELLOW,
        )
        return None


def _render_audit(report: audit_mod.AuditReport, full: bool, output: Path | None) -> None:
    console = stdout_console()
    if output is not None:
        from rich.console import Console

        handle = output.open("w", encoding="utf-8")
        console = Console(file=handle, width=200, soft_wrap=False)
    table = Table(
        title=f"审计 audit {report.target}: {len(report.entries)} 个事件 events "
        f"（读取 read {report.records:,} 条 records, {report.rate:,.0f}/s）",
        title_justify="left",
    )
    for column in (
        "#",
        "记录时间 recorded\n业务时间 occurred",
        "事件 type",
        "聚合 aggregate@version",
        "操作主体 actor\n来源 source",
        "关联 correlation\n起因 causation",
        "关系 link",
        "内容 data",
    ):
        table.add_column(column, overflow="fold")
    for i, e in enumerate(report.entries, start=1):
        times = e.recorded_at.isoformat(timespec="seconds")
        if e.occurred_at != e.recorded_at:
            times += "\n" + e.occurred_at.isoformat(timespec="seconds")
        kind = f"{e.type} v{e.schema_version}"
        if e.upcast:
            kind += f"→v{e.current_version}"
        if e.copies > 1:
            kind += f" ×{e.copies}"
        style = "" if e.hash_valid and not e.decode_error and not e.not_authentic else "red"
        if e.not_authentic:
            kind += " 伪造 NOT AUTHENTIC"
        skip = {"application": "application_id", "review": "application_id", "unit": "unit_id"}.get(
            e.aggregate_type
        )
        data = e.decode_error or audit_mod.summarise(e.data, skip=skip, width=0 if full else 160)
        table.add_row(
            str(i),
            times,
            Text(kind + ("" if e.hash_valid else " 哈希无效 hash invalid"), style=style),
            f"{e.aggregate_type}@{e.aggregate_version}"
            if e.aggregate_id == report.target
            else f"{e.aggregate_type}:{e.aggregate_id}@{e.aggregate_version}",
            f"{e.actor}\n{e.source}",
            f"{e.correlation_id}\n{e.causation_id or ''}",
            e.link,
            data,
        )
    console.print(table)
    if output is not None:
        console.file.close()


# --- streams -------------------------------------------------------------------------------


def streams(
    all_groups: Annotated[
        bool,
        typer.Option("--all-groups", help="列出代理上全部消费组 / list every consumer group on the broker"),
    ] = False,
    max_lag: Annotated[
        int | None,
        typer.Option(
            "--max-lag",
            help="任一读者滞后超过此值时退出码为 1 / exit 1 when any reader lags by more than this",
            show_default=False,
        ),
    ] = None,
    json_output: JsonOpt = False,
    bootstrap: BootstrapOpt = None,
    prefix: PrefixOpt = None,
    dsn: DsnOpt = None,
) -> None:
    """主题、消费组与检查点的滞后 / topics, consumer groups and checkpoints with their lag.

    主题的分区与末端偏移，各读者的位置与滞后 / each topic's partitions and end offsets, each reader's position and lag.

    投影把位置保存在 PostgreSQL（各服务的 checkpoints 表），故两处都列出。

    Projections keep their offsets in PostgreSQL (each service's checkpoints table), faust reactions in Kafka: both are listed, each with lag = end offset − position.
    """
    _quiet_logs()
    config = OpsConfig.resolve(bootstrap, prefix, dsn)
    report = _run(streams_mod.gather(config.bootstrap, config.prefix, config.dsn, all_groups=all_groups))
    if json_output:
        _print_json(report.to_json())
    else:
        _render_streams(report)
    if max_lag is not None and report.max_lag() > max_lag:
        typer.secho(f"滞后超限 lag {report.max_lag():,} > {max_lag:,}", err=True, fg=typer.colors.RED)
        raise typer.Exit(1)


def _render_streams(report: streams_mod.StreamsReport) -> None:
    console = stdout_console()
    topics = Table(title="主题 topics", title_justify="left")
    for column in (
        "主题 topic",
        "类别 kind",
        "分区 partitions",
        "末端偏移 end offsets",
        "合计 total",
        "记录 records",
    ):
        topics.add_column(column, justify="right" if column.startswith(("分区", "合计", "记录")) else "left")
    for t in report.topics:
        if not t.exists:
            topics.add_row(Text(t.name, style="red"), t.kind, "", Text("不存在 missing", style="red"), "", "")
            continue
        ends = " ".join(f"{p}:{e}" for p, e in sorted(t.end.items()))
        topics.add_row(t.name, t.kind, str(t.partitions), ends, f"{t.end_total:,}", f"{t.records:,}")
    console.print(topics)
    for title, items in (
        ("Kafka 消费组 consumer groups", report.groups),
        ("PostgreSQL 检查点 checkpoints", report.checkpoints),
    ):
        rows = stream_positions.summarise_lag(items)
        table = Table(title=title, title_justify="left")
        for column in ("读者 reader", "主题 topic", "滞后 lag", "分区 位置/末端 partition position/end"):
            table.add_column(column, justify="right" if column.startswith("滞后") else "left")
        for row in rows:
            lag = row["lag"]
            parts = " ".join(
                f"{p['partition']}:{p['position'] if p['position'] is not None else '-'}/"
                f"{p['end'] if p['end'] is not None else '?'}"
                for p in row["partitions"]
            )
            table.add_row(
                row["reader"],
                row["topic"],
                Text("?" if lag is None else f"{lag:,}", style="yellow" if lag else ""),
                parts,
            )
        if not rows:
            table.add_row("（无 none）", "", "", "")
        console.print(table)
    for note in report.notes:
        console.print(Text(note, style="yellow"))


# --- replay --------------------------------------------------------------------------------


def replay(
    services: Annotated[
        list[str],
        typer.Option(
            "--service",
            "-s",
            help="服务（可重复，all 为全部服务；多个服务一次读取各主题）/ service (repeatable, or all: "
            "several services are replayed in one pass over their topics): " + " | ".join(SERVICES),
        ),
    ],
    consumer: Annotated[
        list[str] | None,
        typer.Option(
            "--consumer",
            "-c",
            help="只重放该投影（可重复，默认该服务全部投影）/ only this projection (repeatable; default all "
            "of the service's)",
            show_default=False,
        ),
    ] = None,
    as_of: Annotated[
        datetime | None,
        typer.Option(
            "--as-of",
            formats=["%Y-%m-%d"],
            help="只计入截至该日的事件：投影按事实日期（入会日期、认定日期等）计数时按该日期，否则按业务时间"
            "（上海时间）；并列出该日的指标；与在线不同属预期，退出码 0 / only events dated up to that day: "
            "the business day the projection counts them on when it declares one (metrics: 入会日期, "
            "认定日期…), otherwise occurred_at in Asia/Shanghai; prints the figures of that day; "
            "differences from live are expected",
            show_default=False,
        ),
    ] = None,
    until_offset: Annotated[
        int | None,
        typer.Option(
            "--until-offset",
            help="每个分区只读到该偏移之前 / read each partition up to (excluding) this offset",
            show_default=False,
        ),
    ] = None,
    do_swap: Annotated[
        bool,
        typer.Option(
            "--swap",
            help="在一个事务中用重放结果替换在线投影表（请先停止服务）/ replace the live tables atomically "
            "(stop the service first)",
        ),
    ] = False,
    keep: Annotated[
        bool, typer.Option("--keep", help="保留影子模式 / keep the shadow schema for inspection")
    ] = False,
    schema: Annotated[
        str | None,
        typer.Option(
            "--schema", help="在线模式，默认同服务名 / live schema (default: the service's)", hidden=True
        ),
    ] = None,
    json_output: JsonOpt = False,
    progress: ProgressOpt = True,
    bootstrap: BootstrapOpt = None,
    prefix: PrefixOpt = None,
    dsn: DsnOpt = None,
) -> None:
    """从 Kafka 重建投影并与在线投影逐表比对 / rebuild projections from Kafka and compare with live.

    在影子模式中从偏移 0 重放，按行数与校验和逐表比对 / replays from offset 0 into a shadow schema, compares table by table by row count and checksum.

    任何表不同时退出码为 1（--as-of 除外）；--swap 以重放结果原子替换在线表。

    Each projection of the service is rebuilt in its own shadow schema <service>_replay_<id> (the service's migrations), from its topics from offset 0 to their end at the start (or to --until-offset, or only events dated up to the --as-of day: on the business day the projection counts them on, e.g. the metrics' 入会日期, else by occurred_at in Asia/Shanghai; the metrics' figures of that day are printed, as GET /api/progress?as_of= gives them). Exits 1 when any table differs, except with --as-of. --swap replaces the live tables and the consumer's checkpoints in one transaction; stop the service first (or restart it after).
    """
    _quiet_logs()
    from huigong_platform.service import tune_gc

    tune_gc()  # as the services do: a replay decodes as many records as they consume
    config = OpsConfig.resolve(bootstrap, prefix, dsn)
    chosen = list(dict.fromkeys(s for name in services for s in (SERVICES if name == "all" else [name])))
    try:
        url = config.require_dsn()
        for service in chosen:
            check_service(service)
        if len(chosen) > 1 and (consumer or schema):
            raise OpsError(
                "--consumer 与 --schema 只能用于单个服务 / --consumer and --schema need a single service"
            )
    except OpsError as exc:
        raise _fail(str(exc)) from exc
    day: date | None = as_of.date() if as_of else None
    with RichReporter(progress and not json_output) as reporter:
        reports = _run(
            replay_mod.replay_services(
                url,
                config.bootstrap,
                config.prefix,
                {service: consumer or [] for service in chosen},
                as_of=day,
                until_offset=until_offset,
                do_swap=do_swap,
                keep=keep,
                live_schemas={chosen[0]: schema} if schema else None,
                reporter=reporter,
            )
        )
    if json_output:
        # One service: its report; several: the list of them.
        _print_json(reports[0].to_json() if len(reports) == 1 else [r.to_json() for r in reports])
    else:
        for report in reports:
            _render_replay(report)
    if not all(report.ok for report in reports):
        raise typer.Exit(1)


def _render_replay(report: replay_mod.ReplayReport) -> None:
    console = stdout_console()
    cut = ""
    if report.until_offset is not None:
        cut = f" until offset {report.until_offset}"
    for c in report.consumers:
        if report.as_of and c.cut_on == "business_day":
            cut = f" as of {report.as_of.isoformat()} (事实日期 business day ≤ {report.as_of.isoformat()})"
        elif report.as_of:
            cut = f" as of {report.as_of.isoformat()} (occurred_at < {replay_mod.cutoff_of(report.as_of).isoformat()})"
        table = Table(
            title=f"重放 replay {report.service}/{c.consumer}{cut}: {c.records:,} 条 records, applied "
            f"{c.applied:,}, duplicates {c.duplicates:,}, dead letters {c.dead_lettered:,}, cut {c.cut:,} "
            f"（{c.elapsed:.2f} s, {c.rate:,.0f} 条/s records/s）",
            title_justify="left",
        )
        for column in (
            "表 table",
            "在线行数 live rows",
            "重放行数 replayed rows",
            "校验和一致 checksum equal",
        ):
            table.add_column(column, justify="left" if column.startswith("表") else "right")
        for t in c.tables:
            mark = Text("✓", style="green") if t.equal else Text("✗", style="yellow" if report.cut else "red")
            table.add_row(
                t.table, "-" if t.live_rows is None else f"{t.live_rows:,}", f"{t.replay_rows:,}", mark
            )
        if not c.tables:
            table.add_row("（无 none）", "", "", "")
        console.print(table)
        if c.out_of_order:
            console.print(
                Text(
                    f"日期早于截止日但排在更晚事实之后的事件 {c.out_of_order:,} 条已随之截去（在线按其日期计数）/ "
                    f"{c.out_of_order:,} events dated on or before the day follow a later-dated event of "
                    "their aggregate and were cut with it (live counts them on their date)",
                    style="yellow",
                )
            )
        if c.figures and report.as_of:
            _render_figures(c.figures, report.as_of)
        if c.kept:
            console.print(Text(f"影子模式已保留 shadow schema kept: {c.shadow_schema}", style="yellow"))
        if c.swapped:
            console.print(Text(f"✓ 已替换在线表 live tables swapped for {c.consumer}", style="green"))
    if report.equal:
        console.print(Text("✓ 重放与在线一致 replay equals live", style="green"))
    elif report.cut:
        console.print(
            Text("截止重放与在线不同属预期 a cut-off replay differs from live as expected", style="yellow")
        )
    else:
        console.print(Text("✗ 重放与在线不同 replay differs from live", style="bold red"))


def _render_figures(figures: Sequence[replay_mod.Figure], as_of: date) -> None:
    """The replayed figures of the day: city-wide, and the areas with a figure other than 0."""
    table = Table(
        title=f"截至 {as_of.isoformat()} 的指标（重放结果）figures as of {as_of.isoformat()}, from the replay",
        title_justify="left",
    )
    table.add_column("指标 figure")
    table.add_column("名称 title")
    table.add_column("全市 city", justify="right")
    table.add_column("各区市/单位 by area (≠ 0)")
    for f in figures:
        areas = " · ".join(f"{area} {_figure_value(value)}" for area, value in f.by_area.items() if value)
        table.add_row(f.name, f.title, _figure_value(f.value), areas)
    stdout_console().print(table)


def _figure_value(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:,.4g}"


# --- dead letters --------------------------------------------------------------------------

dead_letters_app = typer.Typer(
    help="死信：列出、查看、重试、跳过（留审计记录）/ dead letters: list, show, retry, skip (audited)",
    no_args_is_help=True,
)


@dead_letters_app.command("list")
def dl_list(
    service: Annotated[
        list[str] | None,
        typer.Option("--service", "-s", help="服务（可重复，默认全部）/ service (repeatable; default all)"),
    ] = None,
    status: Annotated[
        str, typer.Option("--status", help="状态 / status: open | retried | skipped | all")
    ] = "open",
    consumer: Annotated[
        str | None,
        typer.Option("--consumer", help="只看该消费者，如 intake.applications / only this consumer"),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="每个服务最多条数 / at most per service")] = 200,
    json_output: JsonOpt = False,
    dsn: DsnOpt = None,
    bootstrap: BootstrapOpt = None,
    prefix: PrefixOpt = None,
) -> None:
    """列出死信 / list dead letters.

    默认列出全部服务中未处理的死信，包括受理服务入站死信主题上的（消费者 intake.inbound，编号为其在该主题上的位置）/ by default the open ones of every service, with those on intake's inbound dead-letter topic (consumer intake.inbound, numbered by their offset there).
    """
    _quiet_logs()
    config = OpsConfig.resolve(bootstrap=bootstrap, prefix=prefix, dsn=dsn)
    try:
        services = [check_service(s) for s in (service or SERVICES)]
        url = config.require_dsn()
    except OpsError as exc:
        raise _fail(str(exc)) from exc
    letters = _run(deadletters.list_letters(url, services, status, consumer, limit))
    inbound: list[inbound_letters.InboundLetter] = []
    unread: OpsError | None = None
    if "intake" in services and consumer in (None, inbound_letters.CONSUMER):
        try:
            inbound = asyncio.run(
                inbound_letters.list_inbound(url, config.bootstrap, config.prefix, status, limit)
            )
        except OpsError as exc:
            unread = exc  # the projections' letters are still worth seeing: listed, then failed
    if json_output:
        _print_json([letter.to_json() for letter in letters] + [letter.to_json() for letter in inbound])
    else:
        _letters_table(status, letters, inbound)
    if unread is not None:
        raise _fail(f"入站死信未能列出 inbound dead letters not listed: {unread}")


def _letters_table(
    status: str, letters: list[deadletters.LetterSummary], inbound: list[inbound_letters.InboundLetter]
) -> None:
    table = Table(title=f"死信 dead letters ({status}): {len(letters) + len(inbound)}", title_justify="left")
    for column in (
        "服务 service",
        "编号 id",
        "消费者 consumer",
        "位置 position",
        "事件 event",
        "聚合 aggregate@version",
        "原因 reason",
        "状态 status",
        "积压 parked",
        "时间 created",
    ):
        table.add_column(column, overflow="fold")
    for d in letters:
        table.add_row(
            d.service,
            str(d.id),
            d.consumer,
            f"{d.topic}[{d.partition}]@{d.offset}",
            d.event_type or "?",
            f"{d.aggregate_type or '?'}:{_short(d.aggregate_id, 40) or '?'}@{d.aggregate_version or '?'}",
            f"{d.error_class}: {_short(d.reason, 120)}",
            d.status,
            str(d.parked),
            d.created_at.isoformat(timespec="seconds"),
        )
    for i in inbound:
        table.add_row(
            "intake",
            str(i.offset),
            inbound_letters.CONSUMER,
            f"{i.source_topic}[{i.source_partition}]@{i.source_offset}",
            i.command or "?",
            f"command:{_short(i.command_id, 40) or '?'}" + (f" row {i.row}" if i.row else ""),
            _short(i.reason, 120),
            i.status,
            "0",
            i.at.isoformat(timespec="seconds") if i.at else "?",
        )
    stdout_console().print(table)


@dead_letters_app.command("show")
def dl_show(
    letter_id: Annotated[int, typer.Argument(help="死信编号 / dead letter id", show_default=False)],
    service: ServiceOpt,
    json_output: JsonOpt = False,
    dsn: DsnOpt = None,
    inbound: InboundOpt = False,
    bootstrap: BootstrapOpt = None,
    prefix: PrefixOpt = None,
) -> None:
    """查看一条死信 / show one dead letter.

    原因、位置、事件信封、积压记录与处理记录；不显示加密的个人信息 / reason, position, envelope, parked records and actions taken; sealed personal data is never shown.
    """
    _quiet_logs()
    config = OpsConfig.resolve(bootstrap=bootstrap, prefix=prefix, dsn=dsn)
    try:
        url = config.require_dsn()
        if inbound:
            _inbound_service(service)
    except OpsError as exc:
        raise _fail(str(exc)) from exc
    if inbound:
        letter = _run(inbound_letters.show_inbound(url, config.bootstrap, config.prefix, letter_id))
        _show_inbound(letter, json_output)
        return
    detail = _run(deadletters.show_letter(url, service, letter_id))
    if json_output:
        _print_json(detail.to_json())
        return
    console = stdout_console()
    s = detail.summary
    head = Table(title=f"死信 dead letter #{s.id} ({s.service})", title_justify="left", show_header=False)
    head.add_column(style="bold")
    head.add_column(overflow="fold")
    for label, value in (
        ("状态 status", s.status + (f" by {s.resolved_by} at {s.resolved_at}" if s.resolved_by else "")),
        ("处理理由 resolution", detail.resolution or ""),
        ("消费者 consumer", s.consumer),
        ("位置 position", f"{s.topic}[{s.partition}]@{s.offset}"),
        ("错误 error", s.error_class),
        ("原因 reason", s.reason),
        ("记录时间 dead-lettered", s.created_at.isoformat()),
        ("积压 parked", str(s.parked)),
    ):
        head.add_row(label, value)
    if detail.envelope:
        for key, value in detail.envelope.items():
            if key != "data":
                head.add_row(f"信封 {key}", "" if value is None else str(value))
        head.add_row("数据 data", orjson.dumps(detail.envelope["data"], option=orjson.OPT_INDENT_2).decode())
    else:
        head.add_row("信封 envelope", Text(f"无法读取 unreadable: {detail.envelope_error}", style="red"))
        head.add_row("头 headers", "\n".join(f"{k}: {v}" for k, v in detail.headers))
        head.add_row("值 value", f"{detail.value_bytes} bytes (not shown)")
    console.print(head)
    if detail.parked:
        parked = Table(title="积压记录 parked records", title_justify="left")
        for column in ("位置 position", "版本 version", "事件 event", "时间 parked at"):
            parked.add_column(column)
        for p in detail.parked:
            parked.add_row(
                f"{p['topic']}[{p['partition']}]@{p['offset']}",
                str(p["aggregate_version"] or "?"),
                p["event_type"] or "?",
                p["parked_at"],
            )
        console.print(parked)
    if detail.actions:
        actions = Table(title="处理记录 actions", title_justify="left")
        for column in ("编号 id", "操作 action", "操作人 actor", "理由 reason", "结果 outcome", "时间 at"):
            actions.add_column(column, overflow="fold")
        for a in detail.actions:
            actions.add_row(str(a["id"]), a["action"], a["actor"], a["reason"], a["outcome"], a["at"])
        console.print(actions)


def _inbound_service(service: str) -> None:
    if service != "intake":
        raise OpsError("入站死信属于受理服务 inbound dead letters are intake's: use --service intake")


def _show_inbound(letter: inbound_letters.InboundLetter, json_output: bool) -> None:
    if json_output:
        _print_json(letter.to_json())
        return
    console = stdout_console()
    head = Table(
        title=f"入站死信 inbound dead letter #{letter.offset} (intake)",
        title_justify="left",
        show_header=False,
    )
    head.add_column(style="bold")
    head.add_column(overflow="fold")
    for label, value in (
        (
            "状态 status",
            letter.status
            + (f" by {letter.resolved_by} at {letter.resolved_at}" if letter.resolved_by else ""),
        ),
        ("处理理由 resolution", letter.resolution or ""),
        ("报送单位 submitter", letter.submitter),
        ("位置 position", f"{letter.source_topic}[{letter.source_partition}]@{letter.source_offset}"),
        ("命令 command", f"{letter.command or '?'} {letter.command_id or ''}".strip()),
        ("行 row", str(letter.row) if letter.row else ""),
        ("原因 reason", letter.reason),
        (
            "字段错误 errors",
            "\n".join(f"{e.get('field')}: {e.get('zh')} / {e.get('en')}" for e in letter.errors),
        ),
        ("记录时间 dead-lettered", letter.at.isoformat() if letter.at else "?"),
        (
            "原始记录 original (personal fields removed)",
            orjson.dumps(letter.original, option=orjson.OPT_INDENT_2).decode(),
        ),
    ):
        head.add_row(label, value)
    console.print(head)
    if letter.actions:
        actions = Table(title="处理记录 actions", title_justify="left")
        for column in ("编号 id", "操作 action", "操作人 actor", "理由 reason", "结果 outcome", "时间 at"):
            actions.add_column(column, overflow="fold")
        for a in letter.actions:
            actions.add_row(str(a["id"]), a["action"], a["actor"], a["reason"], a["outcome"], a["at"])
        console.print(actions)


def _resolve(
    action: deadletters.Action,
    letter_id: int,
    service: str,
    actor: str,
    reason: str,
    json_output: bool,
    dsn: str | None,
    prefix: str | None,
    inbound: bool = False,
    bootstrap: str | None = None,
) -> None:
    _quiet_logs()
    config = OpsConfig.resolve(bootstrap=bootstrap, prefix=prefix, dsn=dsn)
    try:
        url = config.require_dsn()
        if inbound:
            _inbound_service(service)
    except OpsError as exc:
        raise _fail(str(exc)) from exc
    result: deadletters.ActionResult | inbound_letters.InboundResult
    if inbound:
        result = _run(
            inbound_letters.resolve_inbound(
                url, config.bootstrap, config.prefix, letter_id, action, actor, reason
            )
        )
    else:
        result = _run(
            deadletters.resolve(url, service, letter_id, action, actor, reason, topic_prefix=config.prefix)
        )
    if json_output:
        _print_json(result.to_json())
    else:
        style = "green" if result.ok else "bold red"
        mark = "✓" if result.ok else "✗"
        stdout_console().print(
            Text(
                f"{mark} {'入站死信' if inbound else '死信'} #{letter_id} ({service}) {action}: "
                f"{result.outcome} [action #{result.action_id}]",
                style=style,
            )
        )
    if not result.ok:
        raise typer.Exit(1)


@dead_letters_app.command("retry")
def dl_retry(
    letter_id: Annotated[int, typer.Argument(help="死信编号 / dead letter id", show_default=False)],
    service: ServiceOpt,
    actor: ActorOpt,
    reason: ReasonOpt,
    json_output: JsonOpt = False,
    dsn: DsnOpt = None,
    prefix: PrefixOpt = None,
    inbound: InboundOpt = False,
    bootstrap: BootstrapOpt = None,
) -> None:
    """修复后重试 / retry after a fix.

    在一个事务中重新应用该记录，再依次应用其积压记录 / re-applies the record, then the records parked behind it, in one transaction.

    再次失败时死信保持打开、积压不变，失败原因记入处理记录，退出码为 1。

    When it fails again the letter stays open with its parked records, the failure is recorded as the action's outcome, and the exit code is 1.

    --inbound：受理服务入站死信主题上的一条（编号为其位置）；从区市入站主题重新读取原始命令，经受理服务的同一路径重新提交（需受理服务的环境变量）/ a letter of intake's inbound dead-letter topic (numbered by its offset): the original command is read again from the district's inbound topic and submitted again through intake's own path (needs intake's environment).
    """
    _resolve("retry", letter_id, service, actor, reason, json_output, dsn, prefix, inbound, bootstrap)


@dead_letters_app.command("skip")
def dl_skip(
    letter_id: Annotated[int, typer.Argument(help="死信编号 / dead letter id", show_default=False)],
    service: ServiceOpt,
    actor: ActorOpt,
    reason: ReasonOpt,
    json_output: JsonOpt = False,
    dsn: DsnOpt = None,
    prefix: PrefixOpt = None,
    inbound: InboundOpt = False,
    bootstrap: BootstrapOpt = None,
) -> None:
    """附理由跳过 / skip with a reason (audited).

    聚合越过该事件，其积压记录在同一事务中依次应用 / the aggregate moves past the event and its parked records are applied in order, in one transaction.
    """
    _resolve("skip", letter_id, service, actor, reason, json_output, dsn, prefix, inbound, bootstrap)


# --- scan-personal -------------------------------------------------------------------------------


def scan_personal(
    log_file: Annotated[
        list[Path] | None,
        typer.Option("--log", help="也扫描这些日志文件（可重复）/ also scan these log files (repeatable)"),
    ] = None,
    json_output: JsonOpt = False,
    progress: ProgressOpt = True,
    bootstrap: BootstrapOpt = None,
    prefix: PrefixOpt = None,
    dsn: DsnOpt = None,
) -> None:
    """扫描明文身份证号和手机号 / look for ID numbers and mobile numbers in clear.

    读取前缀下全部主题（区市入站主题除外）、数据库全部表和指定日志，查找校验位正确的身份证号和手机号；找到则退出码为 1，结果只显示掩码。

    Reads every topic of the prefix (but the districts' inbound topics, which carry their
    commands by design), every table of the database and the given logs, looking for ID numbers
    with a correct check character and mobile numbers standing alone; exit 1 on any, shown masked.
    """
    _quiet_logs()
    config = OpsConfig.resolve(bootstrap, prefix, dsn)
    if not config.dsn:
        raise _fail("需要 --dsn 或 HUIGONG_PG_ADMIN_DSN / --dsn or HUIGONG_PG_ADMIN_DSN is required")
    matcher = Patterns()
    report = personal_mod.ScanReport()

    async def work(reporter: RichReporter, dsn: str) -> None:
        await personal_mod.scan_topics(config.bootstrap, config.prefix, matcher, report, reporter)
        await personal_mod.scan_tables(dsn, matcher, report)

    with RichReporter(progress and not json_output) as reporter:
        _run(work(reporter, config.dsn))
    personal_mod.scan_files(log_file or [], matcher, report)
    if json_output:
        _print_json(
            {
                "clean": report.clean,
                "scanned": report.scanned,
                "skipped": report.skipped,
                "findings": [f.__dict__ for f in report.findings],
            }
        )
    else:
        console = stdout_console()
        console.print(
            f"已扫描 scanned {len(report.scanned)} 处 places, {sum(report.scanned.values()):,} 条 items"
        )
        for skipped in report.skipped:
            console.print(f"跳过 skipped {skipped}")
        table = Table("位置 where", "类型 kind", "掩码 masked")
        for finding in report.findings:
            table.add_row(finding.where, finding.kind, finding.masked)
        if report.findings:
            console.print(table)
        else:
            console.print("未发现明文身份证号或手机号 no raw ID number or phone number found")
    if not report.clean:
        raise typer.Exit(1)


# --- audit bundles ---------------------------------------------------------------------------


def audit_export(
    out: Annotated[Path, typer.Option("--out", "-o", help="写入的包文件 / the bundle file to write (.zip)")],
    aggregate: Annotated[
        str | None, typer.Option("--aggregate", help="聚合编号（任意类型）/ an aggregate id (any type)")
    ] = None,
    aggregate_type: Annotated[
        str | None, typer.Option("--type", help="只导出该聚合类型 / only this aggregate type")
    ] = None,
    unit: Annotated[
        str | None, typer.Option("--unit", help="单位编号：该单位的全部事件 / a unit id: its whole history")
    ] = None,
    since: Annotated[
        datetime | None, typer.Option("--since", help="记录时间起（含）/ recorded from (UTC unless zoned)")
    ] = None,
    until: Annotated[
        datetime | None,
        typer.Option("--until", help="记录时间止（不含）/ recorded before (UTC unless zoned)"),
    ] = None,
    public_keys: Annotated[
        Path | None,
        typer.Option(
            "--public-keys", help="检查点公钥文件 / checkpoint public keys (default: from the environment)"
        ),
    ] = None,
    dsn: DsnOpt = None,
) -> None:
    """导出审计包：事件、签名检查点、公钥与清单，可离线核验 / export an audit bundle: the events of an
    aggregate, a unit or a date range from every event store, with the signed checkpoints, the
    checkpoint public keys and a manifest; `huigong audit-check-bundle` verifies it offline."""
    _quiet_logs()
    config = OpsConfig.resolve(None, None, dsn)
    if unit is not None:
        aggregate, aggregate_type = unit, "unit"
    scope = bundles.Scope(
        aggregate,
        aggregate_type,
        since.replace(tzinfo=since.tzinfo or UTC) if since else None,
        until.replace(tzinfo=until.tzinfo or UTC) if until else None,
    )
    try:
        keys = (
            load_public_keys(public_keys.read_bytes()) if public_keys else event_keys.public_keys(os.environ)
        )
        manifest = _run(bundles.export_bundle(config.require_dsn(), scope, keys, out))
    except (OpsError, ValueError, OSError) as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"{manifest['events']} event(s) → {out}")


def audit_check_bundle(
    bundle: Annotated[Path, typer.Argument(help="审计包文件 / the bundle file")],
    json_output: JsonOpt = False,
) -> None:
    """离线核验审计包（无需任何密钥）/ verify an audit bundle offline, needing nothing but the file.

    Checks every file against the manifest, each event's hash and links, each checkpoint's
    signature under the bundled public keys (compare them with the published ones), each fold
    against its checkpoint, and each event at its position in the fold. Exits 1 on any problem."""
    result = bundles.check_bundle(bundle.read_bytes())
    if json_output:
        _print_json(
            {
                "ok": result.ok,
                "events": result.events,
                "covered_by_checkpoints": result.covered,
                "problems": result.problems,
                "notes": result.notes,
                "public_keys": result.public_keys,
            }
        )
    else:
        console = stdout_console()
        for key_id, public in result.public_keys.items():
            console.print(f"公钥 public key {key_id}: {public}")
        console.print(
            f"事件 events: {result.events}; 已由签名检查点覆盖 covered by signed checkpoints: {result.covered}"
        )
        for note in result.notes:
            console.print(Text(f"· {note}", style="yellow"))
        for problem in result.problems:
            console.print(Text(f"✗ {problem}", style="red"))
        if result.ok:
            console.print(Text("✓ 审计包完整 the bundle verifies", style="green"))
    if not result.ok:
        raise typer.Exit(1)


def reconcile(
    service: Annotated[
        str | None,
        typer.Option("--service", "-s", help="只查此服务 / only this service", show_default=False),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", help="最多列出的缺失触发事件 / missing triggers listed")
    ] = 50,
    json_output: JsonOpt = False,
    bootstrap: BootstrapOpt = None,
    prefix: PrefixOpt = None,
    dsn: DsnOpt = None,
) -> None:
    """核对每个反应已读过的触发事件都有结果 / check that every trigger a reaction passed has its outcome.

    例如每个 EnrolmentRequested 都有 MemberEnrolled 或 MemberReportedAgain（或是死信/暂存）。

    E.g. every EnrolmentRequested below the member reaction's checkpoint has a MemberEnrolled or
    MemberReportedAgain caused by it, or is one of its dead letters or parked records. Exit 1 when
    any trigger has none.
    """
    _quiet_logs()
    config = OpsConfig.resolve(bootstrap, prefix, dsn)
    if service is not None:
        check_service(service)
    results = _run(reconcile_mod.reconcile(config.require_dsn(), config.bootstrap, service))
    missing = sum(len(r.missing) for r in results)
    if json_output:
        _print_json(
            [
                {
                    "reaction": r.reaction,
                    "service": r.service,
                    "triggers": r.triggers,
                    "answered": r.answered,
                    "held": r.held,
                    "missing": len(r.missing),
                    "missing_triggers": [t.__dict__ for t in r.missing[:limit]],
                }
                for r in results
            ]
        )
    else:
        console = stdout_console()
        table = Table(title="触发事件与结果 triggers and their outcomes", title_justify="left")
        for column in ("反应 reaction", "触发 triggers", "有结果 answered", "死信/暂存 held", "缺失 missing"):
            table.add_column(column, justify="left" if column.startswith("反应") else "right")
        for r in results:
            table.add_row(
                r.reaction,
                f"{r.triggers:,}",
                f"{r.answered:,}",
                f"{r.held:,}",
                Text(f"{len(r.missing):,}", style="bold red" if r.missing else ""),
            )
        console.print(table)
        for r in results:
            for t in r.missing[:limit]:
                console.print(f"  {r.reaction}: {t.type} {t.event_id} at {t.topic}/{t.partition}@{t.offset}")
        console.print(
            f"缺失 {missing} 个：已受理却未处理 / {missing} accepted and never decided"
            if missing
            else "每个触发事件都有结果 every trigger has its outcome"
        )
    if missing:
        raise typer.Exit(1)


def install(app: typer.Typer) -> None:
    """Add the ops commands to the `huigong` app."""
    app.command("verify")(verify)
    app.command("audit")(audit)
    app.command("audit-export")(audit_export)
    app.command("audit-check-bundle")(audit_check_bundle)
    app.command("streams")(streams)
    app.command("replay")(replay)
    app.command("scan-personal")(scan_personal)
    app.command("reconcile")(reconcile)
    app.add_typer(dead_letters_app, name="dead-letters")
