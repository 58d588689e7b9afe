"""Debian's headless Chromium driven by Playwright, for the tests that look at a page the way a
person does (the dashboard, the console, the API documentation)."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Final

import pytest
from playwright.async_api import BrowserContext, async_playwright

CHROMIUM: Final = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps calling home (updates, sync, safe
# browsing), which on a closed network is a stream of refused connections.
CHROMIUM_ARGS: Final = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@asynccontextmanager
async def chromium() -> AsyncIterator[BrowserContext]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"Debian's chromium is not installed ({CHROMIUM} is missing): run bin/setup, "
            "or apt-get install chromium. The browser tests drive a real browser.",
            pytrace=False,
        )
    async with async_playwright() as playwright:
        with tempfile.TemporaryDirectory(prefix="huigong-chromium-") as profile:
            context = await playwright.chromium.launch_persistent_context(
                profile,
                executable_path=str(CHROMIUM),
                args=CHROMIUM_ARGS,
                headless=True,
                locale="zh-CN",
                timezone_id="Asia/Shanghai",
                viewport={"width": 1400, "height": 1000},
            )
            try:
                yield context
            finally:
                await context.close()
