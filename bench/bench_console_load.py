"""The console's first load through the front door, and the size of what it loads. A real intake
process (it answers `GET /session`) behind nginx started with `bin/stack start nginx` on a port of
its own; Debian's Chromium opens the login page with an empty cache, ROUNDS times, and reports the
browser's own timings (Navigation Timing: DOMContentLoaded, load; Paint Timing: first contentful
paint) and the bytes it received; then the built bundle (web/console/dist) gzipped, JavaScript,
CSS and HTML (the font's subsets load only for the characters a page shows, so they are counted
apart).

    .venv/bin/python -m bench.bench_console_load [--rounds 5] [--port 18999]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import os
import statistics
import subprocess
import tempfile
from typing import Any

from playwright.async_api import async_playwright

from .common import REPO, bench_env, machine_line, service

DIST = REPO / "web" / "console" / "dist"
CHROMIUM = "/usr/bin/chromium"


def bundle() -> tuple[int, int, int]:
    """(code bytes gzipped, code bytes raw, font bytes) of the built console."""
    gz = raw = fonts = 0
    for path in DIST.rglob("*"):
        if path.suffix in (".js", ".css", ".html"):
            data = path.read_bytes()
            raw += len(data)
            gz += len(gzip.compress(data, 9))
        elif path.suffix == ".woff2":
            fonts += path.stat().st_size
    return gz, raw, fonts


def stack(command: str, local: str, port: int, intake_port: int) -> None:
    env = {
        **os.environ,
        "HUIGONG_LOCAL_DIR": local,
        "HUIGONG_FRONT_DOOR_PORT": str(port),
        "HUIGONG_SERVICE_PORT_BASE": str(intake_port),
    }
    subprocess.run([str(REPO / "bin" / "stack"), command, "nginx"], env=env, check=True, capture_output=True)


async def first_loads(url: str, rounds: int) -> list[dict[str, Any]]:
    timings = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--headless"]
        )
        try:
            for _ in range(rounds):
                context = await browser.new_context(locale="zh-CN")  # a cold cache every round
                page = await context.new_page()
                await page.goto(f"{url}/login", wait_until="load")
                await page.get_by_role("button", name="登录").wait_for()
                timings.append(
                    await page.evaluate(
                        """() => {
                          const nav = performance.getEntriesByType('navigation')[0];
                          const paint = performance.getEntriesByName('first-contentful-paint')[0];
                          const bytes = performance.getEntriesByType('resource')
                            .reduce((sum, r) => sum + r.transferSize, nav.transferSize);
                          return {dcl: nav.domContentLoadedEventEnd, load: nav.loadEventEnd,
                                  fcp: paint ? paint.startTime : null, bytes,
                                  ready: performance.now()};
                        }"""
                    )
                )
                await context.close()
        finally:
            await browser.close()
    return timings


async def main(rounds: int, port: int) -> None:
    print(machine_line())
    gz, raw, fonts = bundle()
    print(
        f"bundle: {gz / 1024:.0f} KiB gzipped ({raw / 1024:.0f} KiB raw) JS+CSS+HTML; font subsets {fonts / 1024 / 1024:.1f} MiB"
    )
    async with bench_env() as env, service(env, "intake", port + 1) as _:
        with tempfile.TemporaryDirectory(prefix="huigong-bench-front-door-") as local:
            stack("start", local, port, port + 1)
            try:
                timings = await first_loads(f"http://127.0.0.1:{port}", rounds)
            finally:
                stack("stop", local, port, port + 1)
    for name, label in (
        ("dcl", "DOMContentLoaded"),
        ("load", "load"),
        ("fcp", "first contentful paint"),
        ("ready", "login form shown"),
    ):
        values = [t[name] for t in timings if t[name] is not None]
        print(
            f"first load, {label}: median {statistics.median(values):.0f} ms (min {min(values):.0f}, max {max(values):.0f}, n={len(values)})"
        )
    print(f"first load, bytes received: {statistics.median(t['bytes'] for t in timings) / 1024:.0f} KiB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--port", type=int, default=18999, help="the front door's port; intake takes the next"
    )
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.port))
