"""Stopping and starting the real broker from a test, through the project's own bin/stack."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


async def stack(action: str, component: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        str(REPO / "bin/stack"),
        action,
        component,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"bin/stack {action} {component} failed:\n{out.decode()}")
