"""The service runtime ships no tooling: huigong_events, huigong_platform and the four services
import nothing from the operator tooling (huigong_ops), the district simulator
(huigong_simulator) or the test and benchmark helpers, and declare none of them as a
dependency. Otherwise an image built for the services would need the tools, and a change to a
tool could break a service."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RUNTIME = {
    "huigong_events": REPO / "libs/events",
    "huigong_platform": REPO / "libs/platform",
    "huigong_intake": REPO / "services/intake",
    "huigong_review": REPO / "services/review",
    "huigong_registry": REPO / "services/registry",
    "huigong_metrics": REPO / "services/metrics",
}
TOOLING = ("huigong_ops", "huigong_simulator", "huigong_testkit", "tests", "bench")
TOOLING_DISTRIBUTIONS = ("huigong-ops", "huigong-simulator", "huigong-testkit", "faker")


def _module_of(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, root: Path) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in the file, relative ones resolved, also
    those inside functions (a lazy import is still a dependency)."""
    module = _module_of(path, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            yield node.lineno, name
            # `from huigong_platform import x` may name a submodule x.
            yield from ((node.lineno, f"{name}.{alias.name}") for alias in node.names)


# Where operator tooling lived inside the platform: nothing of it may come back there.
FORMER_HOMES = ("huigong_platform.cli", "huigong_platform.ops", "huigong_platform.kafka_acls")


def _is_tooling(name: str) -> bool:
    return any(name == t or name.startswith(t + ".") for t in (*TOOLING, *FORMER_HOMES))


def test_the_runtime_imports_no_tooling() -> None:
    found: list[str] = []
    for package, root in RUNTIME.items():
        sources = sorted((root / package).rglob("*.py"))
        assert sources, f"no sources under {root / package}"
        for path in sources:
            found += [
                f"{path.relative_to(REPO)}:{line} imports {name}"
                for line, name in imports_of(path, root)
                if _is_tooling(name)
            ]
    assert not found, "\n".join(found)


def test_the_import_check_sees_relative_and_lazy_imports(tmp_path: Path) -> None:
    package = tmp_path / "huigong_platform"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "service.py").write_text(
        "from .ops.personal import Patterns\n\ndef later() -> None:\n    from huigong_ops import keys\n"
    )
    names = [name for _, name in imports_of(package / "service.py", tmp_path)]
    assert [n for n in names if _is_tooling(n)] == [
        "huigong_platform.ops.personal",
        "huigong_platform.ops.personal.Patterns",
        "huigong_ops",
        "huigong_ops.keys",
    ]


def test_the_runtime_declares_no_tooling_dependency() -> None:
    for package, root in RUNTIME.items():
        project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
        named = {d.split("=")[0].split("[")[0].strip().lower() for d in project.get("dependencies", [])}
        assert not named & set(TOOLING_DISTRIBUTIONS), (
            f"{package} depends on {named & set(TOOLING_DISTRIBUTIONS)}"
        )
        scripts = project.get("scripts", {})
        assert not [s for s in scripts.values() if s.split(":")[0].split(".")[0] != package], scripts


def test_starting_every_service_loads_no_tooling() -> None:
    apps = [f"{p}.app" for p in RUNTIME if p not in ("huigong_events", "huigong_platform")]
    probe = (
        f"import sys\nfor m in {apps!r}: __import__(m)\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {TOOLING!r}))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert loaded.stdout.strip() == "[]"


def test_benchmarks_import_nothing_from_the_tests() -> None:
    """What both need lives in huigong_testkit; a benchmark importing `tests` would run the test
    suite's conftest machinery and tie the two together."""
    found = [
        f"{path.relative_to(REPO)}:{line} imports {name}"
        for path in sorted((REPO / "bench").rglob("*.py"))
        for line, name in imports_of(path, REPO)
        if name == "tests" or name.startswith("tests.")
    ]
    assert not found, "\n".join(found)
