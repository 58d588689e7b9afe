"""Service processes started the way bin/run starts them, for tests that need the real thing."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from ..conftest import Stack

REPO = Path(__file__).resolve().parents[2]
# The first of the four services' ports; the modules offset from it. Another working copy's suite
# running beside this one on the same machine moves it (and its stack's ports, see bin/test).
_BASE = int(os.environ.get("HUIGONG_TEST_SERVICE_PORT_BASE", "18101"))
TEST_PORTS = {"intake": _BASE, "review": _BASE + 1, "registry": _BASE + 2, "metrics": _BASE + 3}


@dataclass
class ServiceProcess:
    service: str
    port: int
    log_path: Path
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    stack: Stack | None = field(default=None, repr=False)
    # The log is appended to (a restarted process keeps its earlier life in it); tails start at
    # this object's first start, not in an earlier test run's lines.
    log_from: int | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, stack: Stack, extra_env: dict[str, str] | None = None) -> None:
        self.stack = stack
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        if self.log_from is None:
            self.log_from = self.log_path.stat().st_size if self.log_path.exists() else 0
        env = {**stack.service_env(self.service, self.port), **(extra_env or {})}
        script = Path(sys.executable).parent / f"huigong-{self.service}"
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [str(script)], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO
            )

    def client(self, timeout: float = 60) -> httpx.AsyncClient:
        """A client of this process whose requests are made as the principal each names in
        `X-Huigong-Principal` (see tests/conftest.py), or as the public when they name none."""
        assert self.stack is not None, "start the process first"
        return httpx.AsyncClient(base_url=self.url, timeout=timeout, auth=self.stack.keys)

    def log_tail(self, lines: int = 30) -> str:
        try:
            with self.log_path.open("rb") as log:
                log.seek(self.log_from or 0)
                text = log.read().decode(errors="replace")
            return "\n".join(text.splitlines()[-lines:])
        except OSError:
            return "(no log)"

    async def ready(self) -> tuple[int, dict[str, object]]:
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.get(f"{self.url}/readyz")
            return response.status_code, response.json()

    async def wait_status(self, status: int, timeout: float = 60) -> dict[str, object]:
        deadline = asyncio.get_running_loop().time() + timeout
        last: object = None
        while asyncio.get_running_loop().time() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"{self.service} exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                code, body = await self.ready()
                if code == status:
                    return body
                last = (code, body)
            except httpx.HTTPError as exc:
                last = exc
            await asyncio.sleep(0.5)
        raise AssertionError(
            f"{self.service} /readyz never returned {status}; last: {last}\n{self.log_tail()}"
        )

    def terminate(self, timeout: float = 30) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM, then SIGKILL if it has not exited in `timeout` seconds. A clean stop leaves
        the Kafka consumer groups at once, so the next process of this run to join a group (most
        modules start a registry) need not wait for the dead member's session to expire."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@asynccontextmanager
async def running(
    stack: Stack,
    names: Sequence[str],
    port_offset: int,
    label: str,
    extra_env: dict[str, str] | None = None,
) -> AsyncIterator[tuple[ServiceProcess, ...]]:
    """Real service processes of this test run, ready, stopped on exit (SIGTERM, SIGKILL after
    20 s). Each test module uses its own `port_offset` so modules never fight over a port."""
    procs = tuple(
        ServiceProcess(name, TEST_PORTS[name] + port_offset, artefacts_dir() / f"{label}-{name}.log")
        for name in names
    )
    try:
        for proc in procs:
            proc.start(stack, extra_env)
        for proc in procs:
            # Four processes importing at once on a shared 2-core machine can take minutes.
            await proc.wait_status(200, timeout=240)
        yield procs
    finally:
        for proc in reversed(procs):
            await asyncio.to_thread(proc.stop)


def artefacts_dir() -> Path:
    path = Path(os.environ.get("HUIGONG_TEST_ARTEFACTS", REPO / "test-artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path
