"""The `huigong-simulator` command line: one command per kind of traffic, all declared in one
table (`COMMANDS`): each row names its own options and the function that sends; the options
every command shares (transport, target, seed, districts, progress) are added to each."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Final, Protocol, TypeVar

import orjson
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from huigong_events.reference import DISTRICTS, SUBMITTERS
from huigong_intake.domain.enrolments import MAX_BATCH_ROWS

from .commands import SimulatorError
from .run import (
    DemoCounts,
    Summary,
    demo_summary,
    resolve_seed,
    run_demo,
    send_applications,
    send_enrolments,
    send_facilities,
    send_facts,
    send_plans,
    send_projects,
)
from .transports import DEFAULT_BOOTSTRAP, DEFAULT_INTAKE_URL, SheetFormat, Target, Via

T = TypeVar("T")


app = typer.Typer(
    help="惠工区市模拟器：向受理服务发送模拟的申报、方案、设施、服务项目、合规事实和入会报送（均标记为模拟数据）。\n\n"
    "Huigong district simulator: sends simulated applications, plans, facilities, service projects, "
    "compliance facts and gig-worker enrolments to intake over HTTP or Kafka (always marked simulated). "
    "Each command ends with a one-line JSON summary on stdout.",
    no_args_is_help=True,
    add_completion=False,
)
_stderr = Console(stderr=True)


class RateColumn(ProgressColumn):
    """Items per second, in the task's own unit (行/s, 条/s)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if not speed:
            return Text("–", style="progress.data.speed")
        return Text(f"{speed:,.0f} {task.fields.get('unit', '')}/s", style="progress.data.speed")


def _progress(show: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=_stderr,
        disable=not (show and _stderr.is_terminal),
    )


def _district_codes(values: list[str] | None) -> list[str]:
    """Codes from `--district` values, which may be codes (370213, g-haier) or names (李沧区)."""
    if not values:
        return list(DISTRICTS)
    by_name = {name: code for code, name in SUBMITTERS.items()}
    by_code = {code.upper(): code for code in SUBMITTERS}
    codes: list[str] = []
    for value in values:
        code = by_code.get(value.strip().upper()) or by_name.get(value.strip())
        if code is None:
            raise typer.BadParameter(
                f"未知的区市或单位：{value}（unknown district or group union; e.g. 370202, 李沧区, G-HAIER）",
                param_hint="--district",
            )
        if code not in codes:
            codes.append(code)
    return codes


ViaOption = Annotated[Via, typer.Option("--via", help="发送方式 / transport: http or kafka")]
UrlOption = Annotated[str, typer.Option("--intake-url", help="受理服务地址 / intake base URL")]
BootstrapOption = Annotated[
    str,
    typer.Option(
        "--bootstrap", envvar="HUIGONG_KAFKA_BOOTSTRAP", help="Kafka 地址 / Kafka bootstrap servers"
    ),
]
PrefixOption = Annotated[
    str, typer.Option("--topic-prefix", envvar="HUIGONG_TOPIC_PREFIX", help="主题前缀 / topic name prefix")
]
SeedOption = Annotated[
    int | None,
    typer.Option(
        "--seed", help="随机种子，相同种子生成相同数据 / seed: the same seed sends the same traffic"
    ),
]
DistrictOption = Annotated[
    list[str] | None,
    typer.Option(
        "--district",
        "-d",
        help="区市或单位代码或名称，可重复；缺省为全部十个区市 / district or group union (code or name), "
        "repeatable; default: all ten districts",
    ),
]
ConcurrencyOption = Annotated[
    int | None,
    typer.Option(
        "--concurrency",
        min=1,
        help="同时在途的请求数 / commands in flight (default: http 8, kafka 64; enrolments http 2, kafka 4)",
    ),
]
TimeoutOption = Annotated[
    float, typer.Option("--timeout", min=1.0, help="HTTP 超时秒数 / HTTP timeout in seconds")
]
ProgressOption = Annotated[
    bool, typer.Option("--progress/--no-progress", help="显示进度条 / show progress bars (on a terminal)")
]


def _option(name: str, kind: Any, default: Any, *flags: str, **info: Any) -> inspect.Parameter:
    """One command-line option as a keyword parameter: its Typer declaration rides in the
    annotation, as `Annotated[kind, typer.Option(...)]` would in a hand-written signature."""
    return inspect.Parameter(
        name,
        inspect.Parameter.KEYWORD_ONLY,
        default=default,
        annotation=Annotated[kind, typer.Option(*flags, **info)],
    )


def _common(name: str, annotation: Any, default: Any) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)


class Outcome(Protocol):
    """What a command ends with: one JSON line on stdout, exit 1 when anything failed."""

    @property
    def failed(self) -> int: ...

    def to_json(self) -> str: ...


@dataclass(frozen=True)
class DemoOutcome:
    summary: dict[str, Any]

    @property
    def failed(self) -> int:
        return int(self.summary["failed"])

    def to_json(self) -> str:
        return orjson.dumps(self.summary).decode()


async def _demo(
    applications: int,
    facilities: int,
    projects: int,
    facts: int,
    enrolments: int,
    year: int | None,
    *,
    target: Target,
    districts: Sequence[str],
    seed: int | None,
    progress: Progress,
) -> DemoOutcome:
    chosen = resolve_seed(seed)
    started = time.perf_counter()
    counts = DemoCounts(applications, facilities, projects, facts, enrolments)
    results = await run_demo(
        counts, target=target, districts=districts, seed=chosen, year=year, progress=progress
    )
    return DemoOutcome(demo_summary(results, chosen, target.via, time.perf_counter() - started))


async def _plans(application_id: list[str] | None, **common: Any) -> Summary:
    return await send_plans(application_ids=application_id or (), **common)


def _enrolment_rates(summary: Summary) -> None:
    judged = (
        f"受理 accepted {summary.accepted:,}，拒绝 rejected {summary.rejected:,}"
        if summary.accepted is not None and summary.rejected is not None
        else "受理结果由入站消费者处理 / judged later by the inbound consumer"
    )
    _stderr.print(
        f"已发送 rows sent {summary.rows:,}，{judged}，用时 {summary.seconds:.1f} s，"
        f"{summary.rows_per_second:,.0f} 行/s rows/s"
    )


@dataclass(frozen=True)
class Traffic:
    """One command of the simulator: its own options (handed to `send` by name, together with
    the target, districts, seed, concurrency where it has it, and the progress bars), and what
    it prints on stderr before the summary line."""

    name: str
    help: str
    options: tuple[inspect.Parameter, ...]
    send: Callable[..., Coroutine[Any, Any, Outcome]]
    timeout: float = 60.0
    concurrency: bool = True
    report: Callable[[Any], None] | None = None


_YEAR = _option(
    "year",
    int | None,
    None,
    "--year",
    min=2022,
    help="申报年度，缺省为当前可申报年度 / year (default: the year open now)",
)

COMMANDS: Final[tuple[Traffic, ...]] = (
    Traffic(
        "applications",
        "报送申报（四类工作任务，部分修改或撤回）/ submit applications of the four programmes, amending or "
        "withdrawing some.",
        (
            _option("count", int, 20, "--count", "-n", min=0, help="申报数量 / number of applications"),
            _YEAR,
            _option(
                "amend_rate", float, 0.1, "--amend-rate", min=0.0, max=1.0, help="修改比例 / share amended"
            ),
            _option(
                "withdraw_rate",
                float,
                0.05,
                "--withdraw-rate",
                min=0.0,
                max=1.0,
                help="撤回比例 / share withdrawn",
            ),
        ),
        send_applications,
    ),
    Traffic(
        "plans",
        "为已批准建设的申报报送三年规划和年度实施方案 / send three-year and annual plans for approved "
        "applications (found via intake's query API unless ids are given).",
        (
            _option(
                "application_id",
                list[str] | None,
                None,
                "--application-id",
                help="申报编号，可重复（须只指定一个区市）/ application id, repeatable (one district)",
            ),
            _option(
                "year",
                int | None,
                None,
                "--year",
                help="只为该年度的申报报送 / only applications of this year",
            ),
        ),
        _plans,
    ),
    Traffic(
        "facilities",
        "报送建成设施（职工之家、惠工家、健康驿站、服务职工基地）/ report facilities built.",
        (_option("count", int, 30, "--count", "-n", min=0, help="设施数量 / number of facilities"),),
        send_facilities,
    ),
    Traffic(
        "projects",
        "推荐服务职工项目（项目库）/ recommend service projects for the project library.",
        (_option("count", int, 10, "--count", "-n", min=0, help="项目数量 / number of projects"),),
        send_projects,
    ),
    Traffic(
        "facts",
        "以数据交换身份报送合规事实（部分已整改，仅 HTTP）/ report compliance facts as the data exchange "
        "(some settled; HTTP only).",
        (_option("count", int, 5, "--count", "-n", min=0, help="事实数量 / number of facts"),),
        send_facts,
    ),
    Traffic(
        "enrolments",
        "报送新就业形态劳动者入会（分批，分布于各区市）/ enrol gig workers in sheets spread over the districts.",
        (
            _option("count", int, 10_000, "--count", "-n", min=0, help="入会人数 / rows to enrol"),
            _option(
                "batch",
                int,
                MAX_BATCH_ROWS,
                "--batch",
                min=1,
                max=MAX_BATCH_ROWS,
                help="每批行数 / rows per sheet",
            ),
            _option(
                "invalid_rate",
                float,
                0.01,
                "--invalid-rate",
                min=0.0,
                max=1.0,
                help="错误行比例 / share of invalid rows",
            ),
            _option(
                "duplicate_rate",
                float,
                0.0,
                "--duplicate-rate",
                min=0.0,
                max=1.0,
                help="重复行比例 / share of duplicate rows",
            ),
            _option(
                "sheet_format",
                SheetFormat,
                SheetFormat.JSON,
                "--format",
                help="HTTP 报送格式：JSON 或上传 CSV / over HTTP: JSON rows or a CSV upload",
            ),
        ),
        send_enrolments,
        timeout=120.0,
        report=_enrolment_rates,
    ),
    Traffic(
        "demo",
        "演示数据：少量各类报送的组合 / a small realistic mix of everything (facts only over HTTP).",
        (
            _option("applications", int, 20, "--applications", min=0, help="申报 / applications"),
            _option("facilities", int, 30, "--facilities", min=0, help="设施 / facilities"),
            _option("projects", int, 10, "--projects", min=0, help="服务项目 / service projects"),
            _option("facts", int, 5, "--facts", min=0, help="合规事实 / compliance facts"),
            _option("enrolments", int, 5_000, "--enrolments", min=0, help="入会 / enrolments"),
            _YEAR,
        ),
        _demo,
        timeout=120.0,
        concurrency=False,
    ),
)


def _run(work: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(work)
    except SimulatorError as exc:
        _stderr.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    except ValueError as exc:
        _stderr.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None


def _command(traffic: Traffic) -> Callable[..., None]:
    """The Typer callback of one table row: its own options, then the ones every command has."""
    common = [
        _common("via", ViaOption, Via.HTTP),
        _common("intake_url", UrlOption, DEFAULT_INTAKE_URL),
        _common("bootstrap", BootstrapOption, DEFAULT_BOOTSTRAP),
        _common("topic_prefix", PrefixOption, ""),
        _common("seed", SeedOption, None),
        _common("district", DistrictOption, None),
        *([_common("concurrency", ConcurrencyOption, None)] if traffic.concurrency else []),
        _common("timeout", TimeoutOption, traffic.timeout),
        _common("progress", ProgressOption, True),
    ]

    def command(**values: Any) -> None:
        codes = _district_codes(values.pop("district"))
        target = Target(
            via=values.pop("via"),
            intake_url=values.pop("intake_url"),
            bootstrap=values.pop("bootstrap"),
            topic_prefix=values.pop("topic_prefix"),
            timeout=values.pop("timeout"),
        )
        with _progress(values.pop("progress")) as bar:
            outcome = _run(traffic.send(**values, target=target, districts=codes, progress=bar))
        if traffic.report is not None:
            traffic.report(outcome)
        typer.echo(outcome.to_json())
        if outcome.failed:
            _stderr.print(f"[red]{outcome.failed} 条命令失败 / commands failed[/red]")
            raise typer.Exit(1)

    command.__signature__ = inspect.Signature([*traffic.options, *common])  # type: ignore[attr-defined]
    return command


for _traffic in COMMANDS:
    app.command(_traffic.name, help=_traffic.help)(_command(_traffic))


if __name__ == "__main__":  # pragma: no cover
    app()
