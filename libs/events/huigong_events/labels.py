"""Every enumeration's Chinese label, and the words for every constrained text format.

A `Labelled` enumeration is stored and emitted by its code (`service_complex`, `accepted`): the
events, the topics and the read models never change. Its members are named in Chinese, and the
name is the label unless the enumeration's one override table (`relabel`) gives a longer one
(`Programme.幸福企业` is labelled 职工生活幸福型企业). So each label is written once, next to its
member, and

- every model that declares a field of the enumeration accepts the label as well as the code
  (`公益慈善` for `charity`, via `_missing_`, which pydantic consults in both JSON and Python
  validation) and still stores the code;
- answers print `label` next to the code, the OpenAPI documents list `labels()` of each
  enumeration (`x-enum-labels`), and refusals name the allowed values with their labels.

`describe_pattern` gives a regular expression the words a person reads in a refusal instead of
the expression itself ("应为 YYYY-MM 格式的年月，如 2027-03").
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Final, Self, TypeVar

E = TypeVar("E", bound="Labelled")

# Longer labels than the members' names, per enumeration (filled by `relabel` as each enumeration
# is defined).
_OVERRIDES: Final[dict[type[Labelled], Mapping[Any, str]]] = {}
# Every labelled enumeration by class name, for the OpenAPI documents (filled on first use).
_ALL: Final[dict[str, type[Labelled]]] = {}


class Labelled(StrEnum):
    """An enumeration whose members are named in Chinese and valued by their codes."""

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        _ALL[cls.__name__] = cls

    @property
    def label(self) -> str:
        """The Chinese label: the override, else the member's name (underscores as spaces are
        never meant: a name such as `E1_拖欠工资` always has an override)."""
        override = _OVERRIDES.get(type(self))
        return override[self] if override is not None and self in override else self.name

    @classmethod
    def labels(cls) -> dict[str, str]:
        """Code → label of every member, in declaration order."""
        return {member.value: member.label for member in cls}

    @classmethod
    def _missing_(cls, value: object) -> Self | None:
        # A caller may write the label (or the member's name) instead of the code.
        if not isinstance(value, str):
            return None
        text = value.strip()
        for member in cls:
            if text in (member.label, member.name, member.value):
                return member
        return None


def relabel(enumeration: type[E], labels: Mapping[E, str]) -> Mapping[E, str]:
    """Register the labels of `enumeration` that differ from its members' names; the one place
    they are written. Answers the mapping itself, so modules keep a named table."""
    _OVERRIDES[enumeration] = labels
    return labels


def labelled_enumerations() -> Mapping[str, type[Labelled]]:
    """Every labelled enumeration defined so far, by class name."""
    return _ALL


def label_of(value: object) -> str | None:
    """The label of a labelled member, None for anything else."""
    return value.label if isinstance(value, Labelled) else None


# --------------------------------------------------------------------------------------------
# Text formats in words
# --------------------------------------------------------------------------------------------

_PATTERNS: Final[dict[str, tuple[str, str]]] = {}


def describe_pattern(pattern: str, zh: str, en: str) -> str:
    """Register what `pattern` asks for in words (`zh`: “应为…”, `en`: “a … like …”); answers the
    pattern so a constrained type can be declared with it in one expression."""
    _PATTERNS[pattern] = (zh, en)
    return pattern


def pattern_words(pattern: str) -> tuple[str, str] | None:
    """(Chinese, English) words of a registered pattern; None for one nobody described."""
    return _PATTERNS.get(pattern)
