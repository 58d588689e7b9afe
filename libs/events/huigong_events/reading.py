"""The read path at compiled speed: msgspec types derived from the pydantic models, never written
by hand.

The event contract is the pydantic models of this package. At import time every model (the
envelope, each event class and the forms nested in them) is walked once and turned into a
msgspec Struct that checks what msgspec can express (types, lengths, bounds, enumerations,
tagged unions, unknown fields, code lists as literals), plus a small builder that does the rest:
it checks the patterns by expressions derived from them (`_pattern_check`), calls the models'
after-validators, field validators and model validators on the decoded values, and builds
the pydantic instances the services consume without validating twice. Whatever the derivation
does not understand (a before-validator that changes a value, a validator that wants the
validation context, a constraint it does not know) makes the model "not derivable", and its
records go the pydantic way. So does any single record the derived path refuses or is unsure
of (a string with blanks that pydantic would strip, a number written as text, a newer
version): the pydantic path then gives its usual value or its usual error.
The rule is one-sided and that is what keeps it sound: the derived path may refuse more than
pydantic, never accept more or give another value. `tests/unit/test_reading.py` checks every
golden file and a seeded stream of generated events decode to identical values both ways.

`decode_record(value, headers)` is the one entry point: a Kafka record in, its envelope and its
typed current-version event out (EnvelopeError, UpcastError, UnknownEventType or a
ValidationError for a bad record, exactly as the pydantic path raises them).
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import types
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from functools import cache, lru_cache
from typing import Annotated, Any, Final, Literal, Union, get_args, get_origin
from uuid import UUID

import annotated_types
import msgspec
import orjson
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    Field,
    SkipValidation,
    StringConstraints,
)
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from .base import DomainEvent
from .catalogue import EVENT_TYPES
from .envelope import (
    _ATTRIBUTE_OF,
    CE_SPEC_VERSION,
    EnvelopeError,
    RecordedEvent,
    from_kafka,
)
from .upcasting import decode as pydantic_decode
from .upcasting import upcast


class NotDerivable(TypeError):
    """A model (or a part of one) the derivation cannot express faithfully: read it with
    pydantic."""


class _Unsure(Exception):
    """The derived path cannot vouch for this value: the record goes the pydantic way."""


# A post step turns what msgspec decoded into what pydantic would hold, or raises.
Post = Callable[[Any], Any]

_UNSET = msgspec.UNSET


def _python_pattern(pattern: str) -> str:
    """pydantic matches with Rust's regex, whose `$` is the end of the text; Python's `$` also
    matches before a final newline, so it becomes `\\Z`."""
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    if "$" in pattern.replace("\\$", ""):
        raise NotDerivable(f"pattern {pattern!r} has `$` inside")
    return pattern


# Python's own parser of regular expressions: the fast checks below are derived from the very
# pattern the model declares, read by the parser `re` itself uses.
_REGEX_PARSER: Any = importlib.import_module("re._parser")
_MAX_REPEAT: Final = _REGEX_PARSER.MAXREPEAT


def _character_set(item: tuple[Any, Any]) -> str | None:
    """The characters one parsed item matches, if it is a literal or a class of ASCII literals
    and ranges (no negation, no categories such as `\\d`, whose Unicode reach differs between
    engines)."""
    op, argument = item
    if op.name == "LITERAL":
        return chr(argument) if argument < 128 else None
    if op.name != "IN":
        return None
    chars: list[str] = []
    for member_op, member in argument:
        if member_op.name == "LITERAL" and member < 128:
            chars.append(chr(member))
        elif member_op.name == "RANGE" and member[1] < 128:
            chars.extend(chr(c) for c in range(member[0], member[1] + 1))
        else:
            return None
    return "".join(sorted(set(chars)))


# A run of characters from one set, between `least` and `most` long (`most` None: unbounded).
_Run = tuple[str, int, int | None]


def _runs(items: Any) -> list[list[_Run]] | None:
    """The alternatives a parsed pattern body spells, each a sequence of runs; None for any
    shape this does not know (alternation, groups other than an optional tail, look-arounds)."""
    alternatives: list[list[_Run]] = [[]]
    for position, item in enumerate(items):
        op, argument = item
        chars = _character_set(item)
        if chars is not None:
            run: _Run = (chars, 1, 1)
        elif op.name == "MAX_REPEAT" and len(argument[2]) == 1:
            least, most, (inner,) = argument
            inner_chars = _character_set(inner)
            if inner_chars is not None:
                run = (inner_chars, least, None if most == _MAX_REPEAT else most)
            elif (least, most) == (0, 1) and inner[0].name == "SUBPATTERN" and position == len(items) - 1:
                # An optional tail, `(…)?` last: the pattern with it and without it.
                tail = _runs(inner[1][3])
                if tail is None or inner[1][1] or inner[1][2]:
                    return None
                alternatives = [a + t for a in alternatives for t in ([], *tail)]
                continue
            else:
                return None
        else:
            return None
        alternatives = [[*a, run] for a in alternatives]
    return alternatives


def _merged(runs: list[_Run]) -> list[_Run] | None:
    """Adjacent runs of one set joined (`[a-f]{56}[a-f]{8}` is `[a-f]{64}`); None unless every
    run but the last has a fixed length, which is what lets each be checked by its slice."""
    merged: list[_Run] = []
    for chars, least, most in runs:
        if merged and merged[-1][0] == chars:
            _, before_least, before_most = merged[-1]
            total = None if most is None or before_most is None else before_most + most
            merged[-1] = (chars, before_least + least, total)
        else:
            merged.append((chars, least, most))
    if any(least != most for _, least, most in merged[:-1]):
        return None
    return merged


PATTERN_CHECKS: dict[str, Post | None] = {}
"""Every pattern the derivation met, and its derived check (None: msgspec runs it with `re`)."""


@cache
def _pattern_check(pattern: str) -> Post | None:
    """A check equal to a pydantic `pattern` for the shapes the models use (anchored runs of
    ASCII character sets, an optional tail), as straight-line Python: the length, then each
    slice must hold only characters of its set. msgspec would run Python's `re` instead,
    which costs several times more per field. None for any other shape (msgspec's `re` then)."""
    python = _python_pattern(pattern)
    tree = _REGEX_PARSER.parse(python)
    parsed = list(tree)
    if (
        # Any flag (ignore case, multi-line, …) changes what the parsed items mean.
        tree.state.flags != re.UNICODE
        or len(parsed) < 2
        or parsed[0][0].name != "AT"
        or parsed[0][1].name not in ("AT_BEGINNING", "AT_BEGINNING_STRING")
        or parsed[-1][0].name != "AT"
        or parsed[-1][1].name != "AT_END_STRING"
    ):
        return None
    alternatives = _runs(parsed[1:-1])
    if alternatives is None:
        return None
    conditions: list[str] = []
    for runs in alternatives:
        merged = _merged(runs)
        if merged is None:
            return None
        parts: list[str] = []
        start = 0
        for index, (chars, least, most) in enumerate(merged):
            if index == len(merged) - 1:
                low, high = start + least, None if most is None else start + most
                parts.insert(0, f"len(v) == {low}" if low == high else f"len(v) >= {low}")
                if high is not None and high != low:
                    parts.insert(1, f"len(v) <= {high}")
                piece = "v" if start == 0 else f"v[{start}:]"
            elif least == 1:
                parts.append(f"v[{start}] in {chars!r}")
                start += 1
                continue
            else:
                piece = f"v[{start}:{start + least}]"
                start += least
            # Bytes with the set's characters deleted: nothing left when every one is in the
            # set (a character outside ASCII leaves its UTF-8 bytes). Measured several times
            # faster than `str.strip(set)` or a compiled regex on a 64-digit hash.
            parts.append(f"not {piece}.encode().translate(None, {chars.encode()!r})")
        conditions.append("(" + " and ".join(parts or ["len(v) == 0"]) + ")")
    source = f"def check(v):\n    if {' or '.join(conditions)}:\n        return v\n    raise Unsure\n"
    namespace: dict[str, Any] = {"Unsure": _Unsure}
    exec(source, namespace)  # source built just above from the parsed pattern
    check: Post = namespace["check"]
    check.__doc__ = f"{pattern}\n\n{source}"
    check.condition = " or ".join(conditions)  # type: ignore[attr-defined]
    return check


def _chain(*steps: Post | None) -> Post | None:
    present = [s for s in steps if s is not None]
    if not present:
        return None
    if len(present) == 1:
        return present[0]

    # Nested calls rather than a loop: this runs for every field of every record.
    namespace = {f"step_{i}": step for i, step in enumerate(present)}
    call = "value"
    for i in range(len(present)):
        call = f"step_{i}({call})"
    exec(f"def chained(value):\n    return {call}", namespace)  # source built just above from the steps
    chained: Post = namespace["chained"]
    # For the builder, which writes the steps out in its own source (`_applied`).
    steps = tuple(step for s in present for step in getattr(s, "steps", (s,)))
    chained.steps = steps  # type: ignore[attr-defined]
    return chained


def _stripped(value: str) -> str:
    # pydantic strips Unicode White_Space; Python's isspace is a superset, so a value with no
    # space at either end by this test is one pydantic leaves as it is.
    if value and (value[0].isspace() or value[-1].isspace()):
        raise _Unsure
    return value


# A check that only accepts or refuses carries its test as an expression of `v` (true: accepted),
# which the builder writes into its own source instead of calling the check: a Python call per
# field costs more than most of these tests.
_stripped.condition = "not v or not (v[0].isspace() or v[-1].isspace())"  # type: ignore[attr-defined]


def _unchanged_by(before: Callable[[Any], Any]) -> Post:
    def check(value: Any) -> Any:
        if before(value) != value:
            raise _Unsure
        return value

    return check


def _decimal_post(constraints: dict[str, Any]) -> Post:
    """Decimals travel as strings; msgspec would read `1_0` or `NaN` where pydantic refuses, so
    the derived type is a plain decimal string and the bounds are checked here."""
    ge, le, gt, lt = (constraints.get(k) for k in ("ge", "le", "gt", "lt"))
    max_digits = constraints.get("max_digits")
    decimal_places = constraints.get("decimal_places")

    def to_decimal(text: str) -> Decimal:
        value = Decimal(text)
        _, digits, exponent = value.as_tuple()
        assert isinstance(exponent, int)
        # Counted on the number as written, which has at least as many digits as pydantic
        # counts (it ignores trailing zeros): a refusal here is only ever stricter.
        places = -exponent if exponent < 0 else 0
        whole = len(digits) - places if exponent < 0 else len(digits) + exponent
        if decimal_places is not None and places > decimal_places:
            raise _Unsure
        if max_digits is not None and max(whole, 0) + places > max_digits:
            raise _Unsure
        if ge is not None and not value >= ge:
            raise _Unsure
        if le is not None and not value <= le:
            raise _Unsure
        if gt is not None and not value > gt:
            raise _Unsure
        if lt is not None and not value < lt:
            raise _Unsure
        return value

    return to_decimal


_TIME_TEXT: Final = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})?\Z"
)
_TIME: Final = re.compile(_TIME_TEXT)
_AWARE_TIME: Final = re.compile(_TIME_TEXT.replace(")?\\Z", ")\\Z"))


@lru_cache(maxsize=4096)
def _parse_time(text: str) -> datetime:
    """Cached: the events of a batch share their recording times."""
    if _TIME.match(text) is None:
        raise _Unsure
    return datetime.fromisoformat(text)


@lru_cache(maxsize=4096)
def _parse_aware_time(text: str) -> datetime:
    if _AWARE_TIME.match(text) is None:
        raise _Unsure
    return datetime.fromisoformat(text)


_DECIMAL_TEXT: Final = r"^-?[0-9]{1,40}(\.[0-9]{1,40})?\Z"
_META_KEYS: Final = ("ge", "le", "gt", "lt", "min_length", "max_length", "pattern")


@dataclass
class _Constraints:
    """What the metadata of one annotation level asks for."""

    bounds: dict[str, Any]
    strip: bool
    afters: list[Callable[[Any], Any]]
    befores: list[Callable[[Any], Any]]
    discriminator: str | None
    # The values a field's JSON Schema lists (`json_schema_extra={"enum": …}`): a code list.
    listed: tuple[Any, ...] | None = None


def _collect(metadata: Iterable[Any]) -> _Constraints:
    found = _Constraints({}, False, [], [], None)
    for item in metadata:
        if type(item) is SkipValidation:
            raise NotDerivable("skipped validation is read as Any")
        if isinstance(item, StringConstraints):
            if item.to_upper or item.to_lower or item.strict or item.ascii_only:
                raise NotDerivable(f"string constraint {item!r}")
            found.strip = found.strip or bool(item.strip_whitespace)
            for key in ("min_length", "max_length", "pattern"):
                if getattr(item, key) is not None:
                    found.bounds[key] = getattr(item, key)
        elif isinstance(item, FieldInfo):
            if item.discriminator is not None:
                if not isinstance(item.discriminator, str):
                    raise NotDerivable("callable discriminator")
                found.discriminator = item.discriminator
            extra = item.json_schema_extra
            listed = extra.get("enum") if isinstance(extra, dict) else None
            if isinstance(listed, list):
                found.listed = tuple(listed)
            inner = _collect(item.metadata)
            found.listed = inner.listed or found.listed
            found.bounds.update(inner.bounds)
            found.strip = found.strip or inner.strip
            found.afters += inner.afters
            found.befores += inner.befores
        elif isinstance(item, AfterValidator):
            found.afters.append(_plain(item.func))
        elif isinstance(item, BeforeValidator):
            found.befores.append(_plain(item.func))
        elif isinstance(item, annotated_types.Interval | annotated_types.Ge | annotated_types.Le):
            for key in ("ge", "le", "gt", "lt"):
                if getattr(item, key, None) is not None:
                    found.bounds[key] = getattr(item, key)
        elif isinstance(item, annotated_types.Gt | annotated_types.Lt):
            for key in ("gt", "lt"):
                if getattr(item, key, None) is not None:
                    found.bounds[key] = getattr(item, key)
        elif isinstance(item, annotated_types.MinLen):
            found.bounds["min_length"] = item.min_length
        elif isinstance(item, annotated_types.MaxLen):
            found.bounds["max_length"] = item.max_length
        elif type(item).__name__ == "_PydanticGeneralMetadata":
            for key, value in vars(item).items():
                if key in ("max_digits", "decimal_places", "pattern", "allow_inf_nan"):
                    if key == "allow_inf_nan" and value:
                        raise NotDerivable("infinite numbers allowed")
                    found.bounds[key] = value
                else:
                    raise NotDerivable(f"constraint {key}")
        else:
            raise NotDerivable(f"metadata {item!r}")
    return found


def _plain(func: Callable[..., Any]) -> Post:
    """A validator the derived path can call: one argument, no validation context."""
    try:
        parameters = inspect.signature(func).parameters
    except (TypeError, ValueError) as exc:
        raise NotDerivable(f"validator {func!r}") from exc
    if len(parameters) != 1:
        raise NotDerivable(f"validator {func!r} takes the validation context")
    return func


def _meta(bounds: dict[str, Any], kind: type) -> msgspec.Meta | None:
    chosen = {k: bounds[k] for k in _META_KEYS if k in bounds}
    extra = set(bounds) - set(_META_KEYS)
    if extra:
        raise NotDerivable(f"constraints {sorted(extra)} on {kind.__name__}")
    if "pattern" in chosen:
        chosen["pattern"] = _python_pattern(chosen["pattern"])
    return msgspec.Meta(**chosen) if chosen else None


class _Deriver:
    """Walks the pydantic models once; remembers the Struct of every model it has seen."""

    def __init__(self, *, header_text: bool = False, rename: dict[str, str] | None = None) -> None:
        # Envelope fields come from header strings: numbers are then text (see header_int), and
        # the Struct reads the headers by their names (`rename`), ignoring headers it does not
        # know, as from_kafka does.
        self.header_text = header_text
        self.rename = rename
        self.models: dict[tuple[type[BaseModel], str | None], tuple[Any, Post]] = {}

    # -- annotations --------------------------------------------------------------------------

    def annotation(self, annotation: Any, metadata: Iterable[Any], strip: bool) -> tuple[Any, Post | None]:
        """(msgspec type, post step) for one annotation and the metadata attached to it."""
        found = _collect(metadata)
        origin = get_origin(annotation)
        if origin is Annotated:
            inner, *more = get_args(annotation)
            return self.annotation(inner, [*more, *metadata], strip)
        befores = [_unchanged_by(f) for f in found.befores]
        afters: list[Post] = list(found.afters)
        strip = strip or found.strip

        if origin in (Union, types.UnionType):
            options = get_args(annotation)
            if found.discriminator is not None:
                if found.bounds or found.afters or found.befores:
                    raise NotDerivable("constraints on a tagged union")
                return self.tagged_union(options, found.discriminator)
            present = [o for o in options if o is not type(None)]
            if len(present) != 1 or len(options) != 2:
                raise NotDerivable(f"untagged union {annotation!r}")
            inner_kind, inner_post = self.annotation(present[0], metadata, strip)
            if inner_post is None:
                return inner_kind | None, None
            step = inner_post

            def optional(value: Any) -> Any:
                return None if value is None else step(value)

            optional.optional_of = step  # type: ignore[attr-defined]
            return inner_kind | None, optional

        if origin is list:
            (item,) = get_args(annotation)
            item_kind, item_post = self.annotation(item, (), strip)
            meta = _meta(found.bounds, list)
            kind: Any = list[item_kind]  # type: ignore[valid-type]
            if meta is not None:
                kind = Annotated[kind, meta]
            each: Post | None = None
            if item_post is not None:
                step = item_post

                def each_item(values: list[Any]) -> list[Any]:
                    return [step(v) for v in values]

                each = each_item
            return kind, _chain(*befores, each, *afters)

        if origin is dict:
            key, value = get_args(annotation)
            if key is not str:
                raise NotDerivable(f"dict keys {key!r}")
            key_kind, key_post = self.annotation(key, (), strip)
            value_kind, value_post = self.annotation(value, (), strip)
            meta = _meta(found.bounds, dict)
            kind = dict[key_kind, value_kind]  # type: ignore[valid-type]
            if meta is not None:
                kind = Annotated[kind, meta]
            mapping: Post | None = None
            if key_post is not None or value_post is not None:
                kp = key_post or (lambda k: k)
                vp = value_post or (lambda v: v)

                def each_pair(values: dict[str, Any]) -> dict[str, Any]:
                    return {kp(k): vp(v) for k, v in values.items()}

                mapping = each_pair
            return kind, _chain(*befores, mapping, *afters)

        if origin is Literal:
            if found.bounds or befores or afters:
                raise NotDerivable("constraints on a literal")
            return annotation, None

        if origin is not None:
            raise NotDerivable(f"generic {annotation!r}")

        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if found.bounds or befores or afters:
                raise NotDerivable("constraints on a model")
            return self.model(annotation, None)

        if annotation is Decimal:
            decimal_bounds = dict(found.bounds)
            return Annotated[str, msgspec.Meta(pattern=_DECIMAL_TEXT)], _chain(
                *befores, _decimal_post(decimal_bounds), *afters
            )

        if annotation is int and self.header_text:
            return self.header_int(found.bounds, befores, afters)

        if isinstance(annotation, type) and issubclass(annotation, Enum):
            if found.bounds:
                raise NotDerivable("constraints on an enumeration")
            return annotation, _chain(*befores, *afters)

        if annotation is str:
            listed = self.code_list(found, strip)
            if listed is not None:
                return listed, None
            bounds = dict(found.bounds)
            # A pattern of a known shape is checked by its derived Python check, a strip by
            # `_stripped`: each one call, several times cheaper than msgspec's `re` call.
            pattern_check = None
            if "pattern" in bounds:
                pattern_check = PATTERN_CHECKS[bounds["pattern"]] = _pattern_check(bounds["pattern"])
            if pattern_check is not None:
                del bounds["pattern"]
            meta = _meta(bounds, str)
            kind = Annotated[str, meta] if meta is not None else str
            return kind, _chain(*befores, _stripped if strip else None, pattern_check, *afters)

        if annotation in (int, bool, UUID, date):
            meta = _meta(found.bounds, annotation)
            kind = Annotated[annotation, meta] if meta is not None else annotation
            return kind, _chain(*befores, *afters)

        if annotation in (datetime, AwareDatetime):
            # msgspec rounds a seventh fractional digit where pydantic truncates it: the text
            # is held to RFC 3339 with at most microseconds, then parsed here.
            parse = _parse_aware_time if annotation is AwareDatetime else _parse_time
            return str, _chain(*befores, parse, *afters)

        if annotation is Any:
            return Any, None

        raise NotDerivable(f"type {annotation!r}")

    @staticmethod
    def code_list(found: _Constraints, strip: bool) -> Any:
        """A code list (validators that map names to codes, then check membership) as a msgspec
        Literal of its codes, checked in C with no Python step, when every listed code goes
        through the field's own validators unchanged (tried here, once): a listed code then
        reads as itself both ways, and anything else goes the pydantic way. None otherwise."""
        if found.listed is None or found.bounds or not found.listed:
            return None
        for code in found.listed:
            if type(code) is not str or (strip and code != code.strip()):
                return None
            try:
                passed = all(step(code) == code for step in (*found.befores, *found.afters))
            except Exception:
                return None
            if not passed:
                return None
        return Literal[found.listed]

    def header_int(
        self, bounds: dict[str, Any], befores: list[Post], afters: list[Post]
    ) -> tuple[Any, Post | None]:
        """An integer carried as header text: canonical decimal digits only (pydantic also
        accepts `+1` or ` 1`; those go its way), bounds checked after conversion."""
        ge, le = bounds.get("ge"), bounds.get("le")
        if set(bounds) - {"ge", "le"}:
            raise NotDerivable(f"integer constraints {sorted(bounds)}")

        @lru_cache(maxsize=1024)
        def to_int(text: str) -> int:
            # Cached: versions repeat. Canonical digits only; int() alone would also take "٣".
            if not (text.isascii() and text.isdigit()) or (text[0] == "0" and text != "0"):
                raise _Unsure
            value = int(text)
            if (ge is not None and value < ge) or (le is not None and value > le):
                raise _Unsure
            return value

        return Annotated[str, msgspec.Meta(max_length=18)], _chain(*befores, to_int, *afters)

    def tagged_union(self, options: tuple[Any, ...], tag_field: str) -> tuple[Any, Post]:
        kinds: list[Any] = []
        posts: dict[type, Post] = {}
        for option in options:
            if not (isinstance(option, type) and issubclass(option, BaseModel)):
                raise NotDerivable(f"tagged union member {option!r}")
            kind, post = self.model(option, tag_field)
            kinds.append(kind)
            posts[kind] = post

        def by_kind(value: Any) -> Any:
            return posts[type(value)](value)

        return Union[tuple(kinds)], by_kind  # noqa: UP007 - built from a runtime tuple

    # -- models -------------------------------------------------------------------------------

    def model(self, cls: type[BaseModel], tag_field: str | None) -> tuple[Any, Post]:
        key = (cls, tag_field)
        if key not in self.models:
            self.models[key] = self._derive_model(cls, tag_field)
        return self.models[key]

    def _derive_model(self, cls: type[BaseModel], tag_field: str | None) -> tuple[Any, Post]:
        config = cls.model_config
        if config.get("extra") not in ("forbid", "ignore", None):
            raise NotDerivable(f"{cls.__name__} keeps extra fields")
        decorators = cls.__pydantic_decorators__
        if (
            decorators.validators
            or decorators.root_validators
            or any(d.info.mode != "after" for d in decorators.model_validators.values())
            or any(d.info.mode != "after" for d in decorators.field_validators.values())
        ):
            raise NotDerivable(f"{cls.__name__} has validators that run before the fields")
        if cls.__pydantic_root_model__ or cls.model_computed_fields:
            raise NotDerivable(f"{cls.__name__} is not a plain model")
        strip = bool(config.get("str_strip_whitespace"))
        field_checks: dict[str, list[Post]] = {}
        for decorator in decorators.field_validators.values():
            _plain(decorator.func)
            for name in decorator.info.fields:
                field_checks.setdefault(name, []).append(decorator.func)

        struct_fields: list[tuple[str, Any, Any]] = []
        # (name, post, default or UNSET-marker, factory) per field, in the model's order.
        plan: list[tuple[str, Post | None, Any, Callable[[], Any] | None]] = []
        tag_value: str | None = None
        is_event = issubclass(cls, DomainEvent)
        for name, info in cls.model_fields.items():
            if info.alias not in (None, name) or info.validation_alias not in (None, name):
                raise NotDerivable(f"{cls.__name__}.{name} has an alias")
            if name == tag_field:
                args = get_args(info.annotation)
                if get_origin(info.annotation) is not Literal or len(args) != 1:
                    raise NotDerivable(f"{cls.__name__}.{name} is not a single literal tag")
                tag_value = args[0]
                continue
            if is_event and name == "type":
                # Stored data has no `type`; the envelope's decides (upcasting.decode), so
                # whatever a record carries here is read and replaced.
                struct_fields.append((name, Any, _UNSET))
                plan.append((name, None, None, None))
                continue
            metadata = list(info.metadata)
            if any(type(m) is SkipValidation for m in metadata):
                # Not validated by pydantic either (the envelope's raw data).
                struct_fields.append((name, Any, msgspec.NODEFAULT))
                plan.append((name, None, PydanticUndefined, None))
                continue
            if info.discriminator is not None:
                metadata.append(Field(discriminator=info.discriminator))
            if isinstance(info.json_schema_extra, dict) and "enum" in info.json_schema_extra:
                metadata.append(Field(json_schema_extra={"enum": info.json_schema_extra["enum"]}))
            kind, post = self.annotation(info.annotation, metadata, strip)
            post = _chain(post, *field_checks.pop(name, []))
            default: Any
            factory: Callable[[], Any] | None = None
            if info.default_factory is not None:
                if info.default_factory_takes_validated_data:
                    raise NotDerivable(f"{cls.__name__}.{name} default depends on the data")
                factory = info.default_factory  # type: ignore[assignment]
                default = None
            elif info.default is not PydanticUndefined:
                if info.validate_default:
                    raise NotDerivable(f"{cls.__name__}.{name} validates its default")
                default = info.default
            else:
                default = PydanticUndefined
            if default is PydanticUndefined and factory is None:
                struct_fields.append((name, kind, msgspec.NODEFAULT))
            else:
                # UNSET tells "absent" from "given": pydantic's fields_set needs the difference.
                struct_fields.append((name, kind | msgspec.UnsetType, _UNSET))
            plan.append((name, post, default, factory))
        if field_checks:
            raise NotDerivable(f"{cls.__name__} validates unknown fields {sorted(field_checks)}")
        struct_kwargs: dict[str, Any] = {
            "kw_only": True,
            # Transient (turned into pydantic instances at once) and acyclic: no need for the
            # garbage collector to track them, which costs on every collection.
            "gc": False,
            "forbid_unknown_fields": config.get("extra") == "forbid" and self.rename is None,
        }
        if self.rename is not None:
            struct_kwargs["rename"] = self.rename
        if tag_field is not None:
            struct_kwargs.update(tag_field=tag_field, tag=tag_value)
        struct = msgspec.defstruct(
            f"Derived{cls.__name__}",
            [(n, k) if d is msgspec.NODEFAULT else (n, k, d) for n, k, d in struct_fields],
            **struct_kwargs,
        )
        model_checks = [d.func for d in decorators.model_validators.values()]
        for check in model_checks:
            _plain(check)
        build = _builder(cls, plan, tag_field, tag_value, model_checks)
        return struct, build


def _applied(post: Post, var: str, namespace: dict[str, Any], prefix: str) -> list[str] | None:
    """Source lines applying `post` to the variable `var` in place, each accept-or-refuse check
    written out as its expression (`condition`) and the other steps called in order; None when
    no step has an expression (a plain call then does as well)."""
    inner = getattr(post, "optional_of", None)
    if inner is not None:
        body = _applied(inner, var, namespace, prefix)
        return None if body is None else [f"if {var} is not None:", *(f"    {line}" for line in body)]
    steps: tuple[Post, ...] = getattr(post, "steps", (post,))
    if not any(hasattr(step, "condition") for step in steps):
        return None
    lines: list[str] = []
    for k, step in enumerate(steps):
        condition = getattr(step, "condition", None)
        if condition is not None:
            lines += [f"v = {var}", f"if not ({condition}):", "    raise Unsure"]
        else:
            namespace[f"{prefix}_{k}"] = step
            lines.append(f"{var} = {prefix}_{k}({var})")
    return lines


def _builder(
    cls: type[BaseModel],
    plan: list[tuple[str, Post | None, Any, Callable[[], Any] | None]],
    tag_field: str | None,
    tag_value: str | None,
    model_checks: list[Callable[[Any], Any]],
) -> Post:
    """The pydantic instance of a decoded Struct, as validation would have left it: the same
    field values in the same order, the same fields_set, then the model's own after-validators.

    Generated as straight-line source once per model (no loop, no lookups per field), because
    this runs for every nested model of every record read."""
    namespace: dict[str, Any] = {
        "UNSET": _UNSET,
        "Unsure": _Unsure,
        "new": cls.__new__,
        "cls": cls,
        "setattr_": object.__setattr__,
    }
    always = [name for name, _, default, factory in plan if default is PydanticUndefined and factory is None]
    if tag_field is not None:
        always.append(tag_field)
    lines = [
        "def build(s):",
        f"    given = {{{', '.join(repr(n) for n in always)}}}" if always else "    given = set()",
    ]
    values: dict[str, str] = {}
    for i, (name, post, default, factory) in enumerate(plan):
        read = f"s.{name}"
        applied = None if post is None else _applied(post, f"v_{i}", namespace, f"step_{i}")
        if post is not None:
            namespace[f"post_{i}"] = post
        if default is PydanticUndefined and factory is None:
            if applied is not None:
                lines += [f"    v_{i} = {read}", *(f"    {line}" for line in applied)]
                values[name] = f"v_{i}"
                continue
            values[name] = f"post_{i}({read})" if post is not None else read
            continue
        if factory is not None:
            namespace[f"factory_{i}"] = factory
            fallback = f"factory_{i}()"
        else:
            namespace[f"default_{i}"] = default
            fallback = f"default_{i}"
        lines += [
            f"    v_{i} = {read}",
            f"    if v_{i} is UNSET:",
            f"        v_{i} = {fallback}",
            "    else:",
            f"        given.add({name!r})",
        ]
        if applied is not None:
            lines += [f"        {line}" for line in applied]
        elif post is not None:
            lines.append(f"        v_{i} = post_{i}(v_{i})")
        values[name] = f"v_{i}"
    if tag_field is not None:
        namespace["tag_value"] = tag_value
        values[tag_field] = "tag_value"
    ordered = ", ".join(f"{name!r}: {values[name]}" for name in cls.model_fields)
    lines += [
        f"    values = {{{ordered}}}",
        "    instance = new(cls)",
        "    setattr_(instance, '__dict__', values)",
        "    setattr_(instance, '__pydantic_fields_set__', given)",
        "    setattr_(instance, '__pydantic_extra__', None)",
        "    setattr_(instance, '__pydantic_private__', None)",
    ]
    for i, check in enumerate(model_checks):
        namespace[f"check_{i}"] = check
        lines.append(f"    instance = check_{i}(instance)")
    lines.append("    return instance")
    namespace["SOURCE"] = "\n".join(lines)  # kept for reading when profiling
    exec(namespace["SOURCE"], namespace)  # source built above from the fields
    build: Post = namespace["build"]
    return build


# --- the event readers, derived once at import -------------------------------------------------


@dataclass(frozen=True)
class _EventReader:
    version: int
    struct: Any
    build: Post


def _derive_events() -> tuple[dict[str, _EventReader], dict[str, str]]:
    deriver = _Deriver()
    readers: dict[str, _EventReader] = {}
    refused: dict[str, str] = {}
    for name, cls in EVENT_TYPES.items():
        try:
            struct, build = deriver.model(cls, None)
        except NotDerivable as exc:
            refused[name] = str(exc)
            continue
        readers[name] = _EventReader(cls.schema_version, struct, build)
    return readers, refused


READERS, NOT_DERIVED = _derive_events()
"""The derived reader of every event type, and why a type has none (it then reads via pydantic)."""


def _derive_envelope() -> tuple[Any, Post]:
    rename = {attribute: header for header, attribute in _ATTRIBUTE_OF.items()}  # the tag's two included
    unknown = set(RecordedEvent.model_fields) - set(rename) - {"data"}
    if unknown:
        raise NotDerivable(f"envelope fields without a header: {sorted(unknown)}")
    return _Deriver(header_text=True, rename=rename).model(RecordedEvent, None)


_ENVELOPE_STRUCT, _ENVELOPE_BUILD = _derive_envelope()
_convert = msgspec.convert


def derived_event(event_type: str, schema_version: int, data: dict[str, Any]) -> DomainEvent:
    """The typed current-version event by the derived path; `_Unsure` or a msgspec error when it
    cannot vouch for the value (the caller then asks pydantic)."""
    reader = READERS[event_type]
    if schema_version != reader.version:
        data = upcast(event_type, schema_version, reader.version, data)
    event = reader.build(_convert(data, reader.struct))
    # `type` is the envelope's, as upcasting.decode sets it.
    object.__getattribute__(event, "__dict__")["type"] = event_type
    return event  # type: ignore[no-any-return]


def decode_event(record: RecordedEvent) -> DomainEvent:
    """upcasting.decode, by the derived path when it can vouch for the result."""
    if record.type in READERS:
        try:
            return derived_event(record.type, record.schema_version, record.data)
        except Exception:
            pass
    return pydantic_decode(record)


def derived_envelope(value: bytes | None, headers: Iterable[tuple[str, bytes]]) -> RecordedEvent:
    """The envelope by the derived path alone; raises whenever it cannot vouch for it."""
    # Every header must be UTF-8, even those not read; a repeated header counts by its last
    # value, as in from_kafka.
    text: dict[str, Any] = {name: raw.decode() for name, raw in headers}
    if text.get("ce_specversion") != CE_SPEC_VERSION or value is None:
        raise _Unsure
    data = orjson.loads(value)
    if type(data) is not dict:
        raise _Unsure
    text["data"] = data
    return _envelope_of_text(text)


def _envelope_of_text(text: dict[str, Any]) -> RecordedEvent:
    """The envelope of header texts by name plus `data`, by the derived types alone."""
    record: RecordedEvent = _ENVELOPE_BUILD(_convert(text, _ENVELOPE_STRUCT))
    return record


def envelope_of(value: bytes | None, headers: Sequence[tuple[str, bytes]]) -> RecordedEvent:
    """envelope.from_kafka by the derived path; a record it is unsure of goes to from_kafka,
    which gives the same value or its own EnvelopeError."""
    try:
        return derived_envelope(value, headers)
    except Exception:
        return from_kafka(value, headers)


def envelope_without_body(headers: Sequence[tuple[str, bytes]]) -> RecordedEvent:
    """The envelope of a record whose body is not to be read (a type its reader ignores),
    validated from the headers alone; its `data` is empty, so it is for ordering and
    bookkeeping only, never for a projection or a hash check."""
    if not DERIVED_BY_DEFAULT:
        return from_kafka(b"{}", headers)
    try:
        text: dict[str, Any] = {name: raw.decode() for name, raw in headers}
        if text.get("ce_specversion") != CE_SPEC_VERSION:
            raise _Unsure
        text["data"] = {}
        return _envelope_of_text(text)
    except Exception:
        return from_kafka(b"{}", headers)


# The derived path is exact (tests/unit/test_reading.py) but slower than pydantic-core fed the
# headers by name (bench/bench_decode.py: about 0.8x over the whole decode): its checks cost less
# than pydantic-core's, but it builds the same pydantic instances (nested forms included) and runs
# the models' validators in Python, where pydantic-core builds in Rust. So the pydantic path reads
# by default; HUIGONG_DERIVED_DECODER=1 switches every read path to the derived one.
DERIVED_BY_DEFAULT = os.environ.get("HUIGONG_DERIVED_DECODER", "0") == "1"


def read_envelope(value: bytes | None, headers: Sequence[tuple[str, bytes]]) -> RecordedEvent:
    """The envelope of a Kafka record by the read path in use (same value or error either way)."""
    if DERIVED_BY_DEFAULT:
        return envelope_of(value, headers)
    return from_kafka(value, headers)


def read_event(record: RecordedEvent) -> DomainEvent:
    """The typed current-version event of an envelope by the read path in use."""
    if DERIVED_BY_DEFAULT:
        return decode_event(record)
    return pydantic_decode(record)


def decode_record(
    value: bytes | None, headers: Sequence[tuple[str, bytes]]
) -> tuple[RecordedEvent, DomainEvent]:
    """The envelope and the typed current-version event of a Kafka record: the one entry point
    of every read path (runner, reactions, replay, the outbound publisher; verify and audit
    read the envelope first and the event only when they need it, by the same two steps)."""
    if DERIVED_BY_DEFAULT:
        record = envelope_of(value, headers)
        return record, decode_event(record)
    record = from_kafka(value, headers)
    return record, pydantic_decode(record)


__all__ = [
    "NOT_DERIVED",
    "PATTERN_CHECKS",
    "READERS",
    "EnvelopeError",
    "NotDerivable",
    "decode_event",
    "decode_record",
    "derived_envelope",
    "derived_event",
    "envelope_of",
    "envelope_without_body",
    "read_envelope",
    "read_event",
]
