"""Chinese labels in every answer, and every allowed value with its label in the OpenAPI documents.

An answer carries codes (`"status": "accepted"`, `"programme": "service_complex"`), as the events
and read models do. On the way out, every JSON answer of a service gets, next to each field whose
name the service's vocabularies know and whose value is one of that vocabulary's codes, the field
`<name>_label` with the Chinese label (`"status_label": "已受理"`), at any depth. A route that
already answers `<name>_label` keeps its own. The vocabularies are the labelled enumerations
(`huigong_events.labels`): `COMMON` names those every service shares, a service adds its own
(its statuses) through `build_app(answer_labels=…)`. A field name may have several vocabularies
(registry's `status` of units, partners and facilities); the first that knows the code labels it.

The OpenAPI documents list, for every enumeration, its codes with their labels (`x-enum-labels`,
and a description Swagger UI shows: "service_complex 服务职工综合体 · …"), and declare the
`<name>_label` fields of the answers' schemas.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from huigong_events.forms import PartnerCategory, ReportingDepartment, ServiceField
from huigong_events.labels import Labelled, labelled_enumerations
from huigong_events.matters import Channel, HandlerKind, MatterOutcome, ServiceCategory
from huigong_events.reference import (
    ALL_AREAS,
    ComplianceFactKind,
    ExclusionRule,
    FacilityKind,
    Occupation,
    Programme,
    StationHost,
)
from huigong_events.registry import PartnerOrigin, UnitOrigin
from huigong_events.review import EvidenceSource, FindingStage

Vocabulary = type[Labelled] | Mapping[str, str]
Vocabularies = Mapping[str, Vocabulary | tuple[Vocabulary, ...]]

# The fields every service answers with a code of a shared enumeration, by field name.
COMMON: Final[Vocabularies] = {
    "programme": Programme,
    "kind": (FacilityKind, ComplianceFactKind),
    "facility_kind": FacilityKind,
    "fact_kind": ComplianceFactKind,
    "rule": ExclusionRule,
    "reported_by": ReportingDepartment,
    "department": ReportingDepartment,
    "category": (PartnerCategory, ServiceCategory),
    "field": ServiceField,
    "origin": (UnitOrigin, PartnerOrigin),
    "channel": Channel,
    "outcome": MatterOutcome,
    "handler_kind": HandlerKind,
    "source": EvidenceSource,
    "stage": FindingStage,
    "occupation": Occupation,
    "station_host": StationHost,
    "area": ALL_AREAS,
    "district": ALL_AREAS,
    "submitter": ALL_AREAS,
}


class Labeller:
    """Adds `<name>_label` beside every labelled code of an answer."""

    def __init__(self, *tables: Vocabularies) -> None:
        self._table: dict[str, list[Mapping[str, str]]] = {}
        for table in tables:
            for name, vocabularies in table.items():
                listed = vocabularies if isinstance(vocabularies, tuple) else (vocabularies,)
                # A service's own vocabularies come first: they know its statuses best.
                self._table[name] = [_codes(v) for v in listed] + self._table.get(name, [])

    @property
    def fields(self) -> Iterable[str]:
        return self._table

    def label(self, name: str, code: str) -> str | None:
        for vocabulary in self._table.get(name, ()):
            if code in vocabulary:
                return vocabulary[code]
        return None

    def answer(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.answer(item) for item in value]
        if not isinstance(value, dict):
            return value
        result: dict[str, Any] = {}
        for name, item in value.items():
            result[name] = self.answer(item)
            label_name = f"{name}_label"
            if isinstance(item, str) and label_name not in value:
                label = self.label(name, item)
                if label is not None:
                    result[label_name] = label
        return result


def _codes(vocabulary: Vocabulary) -> Mapping[str, str]:
    return vocabulary.labels() if isinstance(vocabulary, type) else vocabulary


class AnswerLabels:
    """ASGI middleware: every successful JSON answer passes through `Labeller.answer`. The
    OpenAPI document and the documentation pages pass untouched."""

    def __init__(self, app: ASGIApp, labeller: Labeller, skip: frozenset[str]) -> None:
        self.app = app
        self.labeller = labeller
        self.skip = skip

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Behind the front door the path keeps its prefix (`/api/intake/openapi.json`).
        path: str = scope.get("path", "")
        root: str = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        if scope["type"] != "http" or path in self.skip:
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def labelled(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                content_type = dict(message.get("headers", ())).get(b"content-type", b"")
                json_answer = content_type.startswith(b"application/json")
                if json_answer and 200 <= message["status"] < 300:
                    start = message
                    return
                await send(message)
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            raw = b"".join(chunks)
            try:
                content = json.loads(raw) if raw else None
            except ValueError:
                body = raw  # not ours to judge: pass it on as it came
            else:
                body = raw if content is None else _dumps(self.labeller.answer(content))
            kept = [(k, v) for k, v in start.get("headers", ()) if k != b"content-length"]
            await send({**start, "headers": [*kept, (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body, "more_body": False})

        await self.app(scope, receive, labelled)


def _dumps(content: Any) -> bytes:
    # As Starlette's JSONResponse renders: UTF-8, no ASCII escapes, compact.
    return json.dumps(
        content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode()


def _described(schema: dict[str, Any], labels: Mapping[str, str]) -> None:
    schema["x-enum-labels"] = dict(labels)
    listed = " · ".join(f"`{code}` {label}" for code, label in labels.items())
    text = f"取值（代码或中文名称均可）：{listed}"
    description = schema.get("description")
    if not description or "取值（代码或中文名称均可）" not in description:
        schema["description"] = f"{description}\n\n{text}" if description else text


def document(schema: dict[str, Any], labeller: Labeller) -> dict[str, Any]:
    """Every enumeration of `schema` with its labels, and the `<name>_label` fields of the
    answers' schemas."""
    components: dict[str, Any] = schema.get("components", {}).get("schemas", {})
    enumerations = labelled_enumerations()
    for name, component in components.items():
        enumeration = enumerations.get(name)
        values = component.get("enum")
        if enumeration is not None and isinstance(values, list) and set(values) == set(enumeration.labels()):
            _described(component, enumeration.labels())
    _inline(schema, labeller)
    for answer in _answer_components(schema, components):
        properties = components[answer].get("properties", {})
        for field in list(properties):
            label_name = f"{field}_label"
            if field in labeller.fields and label_name not in properties:
                properties[label_name] = {
                    "type": "string",
                    "title": "中文名称",
                    "description": f"{field} 的中文名称（代码不在词表中时省略）",
                }
    return schema


def _inline(node: Any, labeller: Labeller) -> None:
    """Labels for the enumerations written out in place (an area code, a query parameter): by
    the name of the property or parameter whose vocabulary knows every listed value."""
    if isinstance(node, list):
        for item in node:
            _inline(item, labeller)
        return
    if not isinstance(node, dict):
        return
    named: list[tuple[str, Any]] = list((node.get("properties") or {}).items())
    if isinstance(node.get("name"), str) and isinstance(node.get("schema"), dict):
        named.append((node["name"], node["schema"]))
    for name, value in named:
        if not isinstance(value, dict):
            continue
        for candidate in [value, *value.get("anyOf", []), *value.get("oneOf", [])]:
            values = candidate.get("enum") if isinstance(candidate, dict) else None
            if not isinstance(values, list) or "x-enum-labels" in candidate:
                continue
            labels = {str(v): labeller.label(name, str(v)) for v in values}
            if all(labels.values()):
                _described(candidate, {code: str(label) for code, label in labels.items()})
    for value in node.values():
        _inline(value, labeller)


def _answer_components(schema: dict[str, Any], components: Mapping[str, Any]) -> set[str]:
    """The components a successful answer refers to, directly or through other components;
    request bodies' components stay as they are (a caller sends no labels)."""
    found: set[str] = set()
    pending = [
        response.get("content", {}).get("application/json", {}).get("schema", {})
        for operations in schema.get("paths", {}).values()
        for operation in operations.values()
        if isinstance(operation, dict)
        for status, response in operation.get("responses", {}).items()
        if status.startswith("2")
    ]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            reference = node.get("$ref")
            if isinstance(reference, str) and reference.startswith("#/components/schemas/"):
                name = reference.rsplit("/", 1)[1]
                if name not in found and name in components:
                    found.add(name)
                    pending.append(components[name])
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return found
