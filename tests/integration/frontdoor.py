"""The front door (nginx) of a test run, started and stopped with `bin/stack` exactly as
`bin/run` does it, in a directory of its own and on the run's own port."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .processes import REPO, TEST_PORTS

# HUIGONG_TEST_SERVICE_PORT_BASE + 999: beside the services' ports, clear of every module's offset.
PORT = int(os.environ.get("HUIGONG_TEST_FRONT_DOOR_PORT", str(TEST_PORTS["intake"] + 999)))


@dataclass(frozen=True)
class FrontDoor:
    url: str
    local_dir: Path

    @property
    def access_log(self) -> Path:
        return self.local_dir / "nginx" / "logs" / "access.log"


def _stack(command: str, env: dict[str, str]) -> None:
    done = subprocess.run(
        [str(REPO / "bin" / "stack"), command, "nginx"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, f"bin/stack {command} nginx failed:\n{done.stdout}\n{done.stderr}"


@contextmanager
def front_door(intake_port: int, replicas: Mapping[str, int] | None = None) -> Iterator[FrontDoor]:
    """nginx on PORT forwarding to the four services from `intake_port` on (review, registry and
    metrics follow it, as `running()` starts them); with `replicas`, to that many instances of a
    service, each 10 ports above the one before, as `bin/run` starts them."""
    with tempfile.TemporaryDirectory(prefix="huigong-front-door-") as local:
        env = {
            **os.environ,
            "HUIGONG_LOCAL_DIR": local,
            "HUIGONG_FRONT_DOOR_PORT": str(PORT),
            "HUIGONG_SERVICE_PORT_BASE": str(intake_port),
            **{f"HUIGONG_REPLICAS_{service.upper()}": str(n) for service, n in (replicas or {}).items()},
        }
        _stack("start", env)
        try:
            yield FrontDoor(f"http://127.0.0.1:{PORT}", Path(local))
        finally:
            _stack("stop", env)
