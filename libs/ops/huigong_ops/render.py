"""rich output for the ops commands: a progress bar with throughput, and summary tables.

Progress goes to stderr, tables to stdout, so machine formats (`--json`, jsonl, csv) on stdout
are never mixed with progress output.
"""

from __future__ import annotations

import os
import sys
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text


def stdout_console() -> Console:
    # Piped or captured output gets a wide page rather than rich's 80 columns, so offsets and
    # ids are not cut; COLUMNS still wins.
    width = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 180
    return Console(file=sys.stdout, soft_wrap=False, width=width)


def stderr_console() -> Console:
    return Console(file=sys.stderr)


class RateColumn(ProgressColumn):
    """Records per second (条/秒)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if speed is None:
            return Text("– 条/s records/s", style="progress.data.speed")
        return Text(f"{speed:,.0f} 条/s records/s", style="progress.data.speed")


class RichReporter:
    """A `Reporter` drawn as a rich progress bar on stderr (nothing when stderr is not a
    terminal, or when disabled)."""

    def __init__(self, enabled: bool = True, console: Console | None = None) -> None:
        self._progress = Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            RateColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console or stderr_console(),
            disable=not enabled,
        )
        self._task: TaskID | None = None

    def __enter__(self) -> RichReporter:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def start(self, description: str, total: int | None) -> None:
        self._task = self._progress.add_task(description, total=total)

    def advance(self, count: int) -> None:
        if self._task is not None:
            self._progress.advance(self._task, count)

    def finish(self) -> None:
        if self._task is not None:
            task = self._progress.tasks[-1]
            if task.total is not None and task.completed < task.total:
                self._progress.update(self._task, total=task.completed)
