"""Which projection (or reaction) class serves which consumer name, for dead-letter retry and skip.

A dead letter names its consumer ("intake.applications", "registry.units", "review.queue"…). To
re-apply it the CLI needs an instance of that projection, so it looks the name up:
1. consumers registered with `register` (tests, plug-ins), then
2. the services' own modules: every module of `huigong_<service>.projections` and
   `huigong_<service>.reactions` is imported and each concrete `Projection` subclass with a `name`
   and a constructor without arguments is taken. A module that fails to import is remembered and
   named in the error when its consumer is asked for, so one broken service does not stop the
   others' letters from being resolved.

The platform does not depend on the services: they are imported by name, only when needed.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable, Mapping
from functools import cache
from types import ModuleType

from huigong_platform.settings import SERVICES
from huigong_platform.subscriptions import Projection

from .common import OpsError

ProjectionFactory = Callable[[], Projection]

# The packages searched, per service; named here so a new service only needs a line.
SERVICE_PACKAGES: dict[str, tuple[str, ...]] = {
    service: (f"huigong_{service}.projections", f"huigong_{service}.reactions") for service in SERVICES
}

_registered: dict[str, ProjectionFactory] = {}


def register(name: str, factory: ProjectionFactory) -> None:
    """Make `factory()` the projection for consumer `name` (overrides discovery)."""
    _registered[name] = factory


def unregister(name: str) -> None:
    _registered.pop(name, None)


def _modules(package_name: str, errors: list[str]) -> list[ModuleType]:
    try:
        package = importlib.import_module(package_name)
    except ModuleNotFoundError as exc:
        if exc.name and package_name.startswith(exc.name):
            return []  # the service has no such package
        errors.append(f"{package_name}: {exc!r}")
        return []
    except Exception as exc:
        errors.append(f"{package_name}: {exc!r}")
        return []
    modules = [package]
    for info in pkgutil.iter_modules(getattr(package, "__path__", [])):
        name = f"{package_name}.{info.name}"
        try:
            modules.append(importlib.import_module(name))
        except Exception as exc:
            errors.append(f"{name}: {exc!r}")
    return modules


def _constructible(cls: type[Projection]) -> bool:
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):
        return False
    return all(
        p.default is not inspect.Parameter.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        for p in signature.parameters.values()
    )


@cache
def discover() -> tuple[dict[str, type[Projection]], tuple[str, ...]]:
    """Consumer name → projection class found in the services, and the import errors met."""
    found: dict[str, type[Projection]] = {}
    errors: list[str] = []
    for packages in SERVICE_PACKAGES.values():
        for package in packages:
            for module in _modules(package, errors):
                for _, obj in inspect.getmembers(module, inspect.isclass):
                    if (
                        issubclass(obj, Projection)
                        and obj.__module__ == module.__name__
                        and not inspect.isabstract(obj)
                        and isinstance(getattr(obj, "name", None), str)
                        and _constructible(obj)
                    ):
                        found[obj.name] = obj
    return found, tuple(errors)


def factory_for(consumer: str, extra: Mapping[str, ProjectionFactory] | None = None) -> ProjectionFactory:
    if extra and consumer in extra:
        return extra[consumer]
    if consumer in _registered:
        return _registered[consumer]
    found, errors = discover()
    if consumer in found:
        return found[consumer]
    known = sorted({*found, *_registered, *(extra or {})})
    message = (
        f"未知的消费者 unknown consumer {consumer!r}: no projection of that name is registered. "
        f"Known: {', '.join(known) or 'none'}."
    )
    if errors:
        message += " Modules that could not be imported: " + "; ".join(errors)
    raise OpsError(message)
