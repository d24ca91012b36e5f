"""Validates emulator responses against the vendored OpenSearch API specification.

The spec lives in ``fixtures/opensearch-api-spec/spec`` as unmodified upstream YAML files (see
the README there). It is a multi-file OpenAPI 3.1 document whose schemas are JSON Schema 2020-12,
so every vendored file is registered, under its ``file:`` URI, in one ``referencing`` registry and
validation is done by ``Draft202012Validator`` against a ``$ref`` into the file that declares the
operation; relative ``$ref``s (``../schemas/ml._common.yaml#/...``) then resolve across files the
way they do upstream.

Where the spec and the real plugin disagree the plugin wins, but only through the overrides named
in ``SPEC_OVERRIDES`` below: each replaces one schema node, says why, and checks that the upstream
node still has the defect it works around (so re-vendoring a fixed spec makes the override fail
loudly instead of silently loosening validation). Nothing else is relaxed.
"""
from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource
from referencing.jsonschema import DRAFT202012

SPEC_ROOT = Path(__file__).resolve().parents[2] / "fixtures" / "opensearch-api-spec" / "spec"

#: The vendored files and their upstream SHA-256 (commit fbe9edebac41d098c67e2d379667184368c4ab6c).
#: This is the file-level ``$ref`` closure of the operations in ``COVERED_OPERATIONS``.
VENDORED: dict[str, str] = {
    "namespaces/_core.yaml": "81c4778def3ae6b0d51adb23bd9f7f41320ba3b6cff79f817704cc54c809e648",
    "namespaces/cluster.yaml": "4a3937093862ff1d1649f9b002db1cec5cb787d79f526eb206f7db66461971cf",
    "namespaces/ml.yaml": "f5b4ca8dd34cbaa7781d98d142214745df3c0c8ded0153c12b2b2caefb6b5327",
    "schemas/_common.yaml": "9e5f7beb4dc42fef1deb99752089cc75ad44c51b8281aa330d0fda2036db925f",
    "schemas/_common.mapping.yaml": "3e36db7eeea5f11c74aada07a8f448be37656d1b87a8d0b70cdf9f0d4b5df0ee",
    "schemas/_common.query_dsl.yaml": "916716c01e2f5c69d01c40b657354b78f4ea9fa7056192f8fc8aba36609707c2",
    "schemas/_common.analysis.yaml": "09edbfb8af75e8e5118e5243f427f829ef91497d94bfe459c25d60f9ed95d1d9",
    "schemas/_core.search.yaml": "1cd58220b1032c154ef7119cdf698a7fdc138d12b929299aefe741bf46499ecd",
    "schemas/ml._common.yaml": "485a80878eafa8143ba9c43921418a56a1aa2ef1b78dd50ee8b3886f60ccbe77",
}

ML = "/_plugins/_ml"
#: (method, path template) of every operation the conformance tests validate.
COVERED_OPERATIONS: tuple[tuple[str, str], ...] = (
    ("GET", "/"),
    ("GET", "/_cluster/settings"),
    ("PUT", "/_cluster/settings"),
    ("POST", f"{ML}/connectors/_create"),
    ("GET", f"{ML}/connectors/{{connector_id}}"),
    ("DELETE", f"{ML}/connectors/{{connector_id}}"),
    ("POST", f"{ML}/model_groups/_register"),
    ("GET", f"{ML}/model_groups/{{model_group_id}}"),
    ("DELETE", f"{ML}/model_groups/{{model_group_id}}"),
    ("POST", f"{ML}/models/_register"),
    ("GET", f"{ML}/models/{{model_id}}"),
    ("DELETE", f"{ML}/models/{{model_id}}"),
    ("POST", f"{ML}/models/{{model_id}}/_deploy"),
    ("POST", f"{ML}/models/{{model_id}}/_undeploy"),
    ("POST", f"{ML}/models/{{model_id}}/_predict"),
    ("GET", f"{ML}/tasks/{{task_id}}"),
    ("DELETE", f"{ML}/tasks/{{task_id}}"),
    *((method, f"{ML}/{kind}/_search") for kind in ("connectors", "model_groups", "models", "tasks")
      for method in ("GET", "POST")),
)

COMMON = "schemas/_common.yaml"
ML_COMMON = "schemas/ml._common.yaml"
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


# --------------------------------------------------------------------------- overrides
@dataclass(frozen=True)
class SpecOverride:
    """One named place where the spec is known to disagree with the real plugin.

    ``still_wrong`` is checked against the upstream node before ``replace`` is applied, so an
    override whose defect was fixed upstream fails instead of lingering.
    """

    name: str
    file: str
    pointer: str
    why: str
    still_wrong: Callable[[Any], bool]
    replace: Callable[[Any], Any]


def _remote_output_alternative(original: dict[str, Any]) -> dict[str, Any]:
    # Everything the spec says about the tensor fields stays; only the requirement changes from
    # "has `data`" to "has `data`, or is a remote model's named `dataAsMap` output".
    patched = copy.deepcopy(original)
    patched["properties"]["dataAsMap"] = {"type": "object"}
    required = patched.pop("required")
    patched["anyOf"] = [{"required": required}, {"required": ["name", "dataAsMap"]}]
    return patched


SPEC_OVERRIDES: tuple[SpecOverride, ...] = (
    SpecOverride(
        name="remote-predict-output-has-dataAsMap-not-data",
        file=ML_COMMON,
        pointer="/components/schemas/PredictModelOutput",
        why=("PredictModelOutput requires `data` (a numeric tensor), but a remote model's output is "
             '{"name": "response", "dataAsMap": {...}} with no `data` (ml-commons-rest.md 6.9, the '
             "seed page's predict response)."),
        still_wrong=lambda node: "data" in node.get("required", []) and "dataAsMap" not in node.get("properties", {}),
        replace=_remote_output_alternative,
    ),
    SpecOverride(
        name="model-group-description-is-optional",
        file=ML_COMMON,
        pointer="/components/schemas/ModelGroup/required",
        why=("ModelGroup requires `description`; the plugin stores and returns it only when the "
             "register request set it (ml-commons-rest.md 5.1/5.5)."),
        still_wrong=lambda node: "description" in node,
        replace=lambda node: [name for name in node if name != "description"],
    ),
    SpecOverride(
        name="stored-connector-parameters-are-strings",
        file=ML_COMMON,
        pointer="/components/schemas/GetConnectorResponse/properties/parameters",
        why=("GetConnectorResponse reuses the predict-input `Parameters` schema, which types "
             "`messages` as an array of objects; a stored connector's parameters are a "
             "Map<String, String>: non-string values are stored and returned as their JSON text "
             "(ml-commons-rest.md 4.1/4.2: 'Parameter values always come back as strings'). "
             "The replacement is what the plugin guarantees: every value a string."),
        still_wrong=lambda node: node == {"$ref": "#/components/schemas/Parameters"},
        replace=lambda node: {"type": "object", "additionalProperties": {"type": "string"}},
    ),
    SpecOverride(
        name="controller-create-status-is-the-index-result",
        file="namespaces/ml.yaml",
        pointer="/components/responses/ml.create_controller@200/content/application~1json/schema/properties/status",
        why=("The create-controller response's `status` is the index response's result name "
             "(CreateControllerTransportAction: `indexResponse.getResult().name()`): CREATED the first "
             "time, UPDATED when a controller for the model already existed; the spec reuses the task "
             "`Status` enum, which has no UPDATED."),
        still_wrong=lambda node: node == {"$ref": "../schemas/ml._common.yaml#/components/schemas/Status"},
        replace=lambda node: {"type": "string", "enum": ["CREATED", "UPDATED"]},
    ),
    SpecOverride(
        name="load-response-task-type-is-optional",
        file="namespaces/ml.yaml",
        pointer="/components/responses/ml.load_model@200/content/application~1json/schema/required",
        why=("`_load` is the replaced path of `_deploy` (one handler, RestMLDeployModelAction), whose "
             "response has no `task_type` in 2.9-2.10 (`{\"task_id\", \"status\": \"CREATED\"}`); the "
             "spec's deploy_model@200 does not require it, its load_model@200 does."),
        still_wrong=lambda node: "task_type" in node,
        replace=lambda node: [name for name in node if name != "task_type"],
    ),
)


# --------------------------------------------------------------------------- the spec
@dataclass(frozen=True)
class Operation:
    file: str
    template: str
    method: str  # upper case
    pointer: str  # JSON pointer of the operation object inside ``file``
    node: dict[str, Any] = field(repr=False, compare=False)

    @property
    def operation_id(self) -> str:
        return self.node.get("operationId", "?")

    @property
    def declared_statuses(self) -> tuple[str, ...]:
        return tuple(self.node.get("responses", {}))


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _at(document: Any, pointer: str) -> Any:
    node = document
    for token in pointer.lstrip("/").split("/") if pointer not in ("", "/") else []:
        node = node[_unescape(token)]
    return node


def _literal_weight(template: str) -> int:
    return sum(1 for part in template.split("/") if part and not part.startswith("{"))


def _template_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}/]+\})", template)
    return re.compile("^" + "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts) + "$")


def _walk_refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _walk_refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk_refs(value)


class SchemaLookupError(AssertionError):
    pass


class Spec:
    def __init__(self, root: Path = SPEC_ROOT, overrides: tuple[SpecOverride, ...] = SPEC_OVERRIDES) -> None:
        self.root = root
        self.overrides = overrides
        self.documents: dict[str, Any] = {}
        for path in sorted(root.rglob("*.yaml")):
            text = path.read_text(encoding="utf-8")
            self.documents[path.relative_to(root).as_posix()] = yaml.load(text, Loader=_LOADER)
        self.pristine = copy.deepcopy(self.documents)
        for override in overrides:
            self._apply(override)
        resources = [(self.uri(name), Resource(contents=doc, specification=DRAFT202012))
                     for name, doc in self.documents.items()]
        self.registry: Registry = Registry(retrieve=self._retrieve).with_resources(resources)
        self._validators: dict[str, jsonschema.Draft202012Validator] = {}

    # files and URIs
    def uri(self, name: str, pointer: str = "") -> str:
        base = (self.root / name).as_uri()
        return f"{base}#{pointer}" if pointer else base

    def name_of(self, uri: str) -> str:
        path = Path(urlsplit(uri).path)
        return path.relative_to(self.root).as_posix()

    def _retrieve(self, uri: str) -> Resource:
        # Only vendored files exist; anything else means the vendored closure is incomplete.
        raise NoSuchResource(ref=uri)

    def _apply(self, override: SpecOverride) -> None:
        parent_pointer, _, last = override.pointer.rpartition("/")
        parent = _at(self.documents[override.file], parent_pointer)
        key: Any = int(last) if isinstance(parent, list) else _unescape(last)
        if not override.still_wrong(copy.deepcopy(parent[key])):
            raise AssertionError(f"spec override {override.name!r} is stale: upstream "
                                 f"{override.file}#{override.pointer} no longer has the defect it works around")
        parent[key] = override.replace(copy.deepcopy(parent[key]))

    # operations
    @cached_property
    def operations(self) -> tuple[Operation, ...]:
        found = []
        for name, doc in self.documents.items():
            if not name.startswith("namespaces/"):
                continue
            for template, item in (doc.get("paths") or {}).items():
                for method in HTTP_METHODS:
                    if method in item:
                        found.append(Operation(name, template, method.upper(),
                                               f"/paths/{_escape(template)}/{method}", item[method]))
        return tuple(found)

    def operation(self, method: str, path: str) -> Operation:
        """The operation a concrete request path (query string ignored) and method resolve to."""
        path = urlsplit(path).path
        candidates = [op for op in self.operations
                      if op.method == method.upper() and _template_regex(op.template).match(path)]
        if not candidates:
            raise SchemaLookupError(f"the vendored spec has no operation for {method} {path}")
        best = max(_literal_weight(op.template) for op in candidates)
        chosen = [op for op in candidates if _literal_weight(op.template) == best]
        if len(chosen) > 1:
            raise SchemaLookupError(f"{method} {path} is ambiguous in the spec: {[op.template for op in chosen]}")
        return chosen[0]

    def _follow(self, file: str, pointer: str) -> tuple[str, str, Any]:
        """Follows OpenAPI Reference Objects ({"$ref": ...} standing for a whole object)."""
        node = _at(self.documents[file], pointer)
        seen = set()
        while isinstance(node, dict) and "$ref" in node:
            if (file, pointer) in seen:
                raise SchemaLookupError(f"reference loop at {file}#{pointer}")
            seen.add((file, pointer))
            ref_file, _, ref_pointer = node["$ref"].partition("#")
            if ref_file:
                file = self.name_of(urljoin(self.uri(file), ref_file))
            pointer = ref_pointer
            if file not in self.documents:
                raise SchemaLookupError(f"{node['$ref']} points at {file}, which is not vendored")
            node = _at(self.documents[file], pointer)
        return file, pointer, node

    def response_schema_uri(self, operation: Operation, status: int) -> str | None:
        """The URI of the JSON response schema the operation declares for ``status``, if any.

        OpenAPI precedence: the exact code, then its range (``4XX``), then ``default``.
        """
        responses = operation.node.get("responses", {})
        for key in (str(status), f"{str(status)[0]}XX", "default"):
            if key in responses:
                break
        else:
            return None
        file, pointer, response = self._follow(operation.file, f"{operation.pointer}/responses/{_escape(key)}")
        media = (response.get("content") or {}).get("application/json")
        if not media or "schema" not in media:
            return None
        return self.uri(file, f"{pointer}/content/{_escape('application/json')}/schema")

    def component_schema_uri(self, file: str, name: str) -> str:
        if name not in self.documents[file]["components"]["schemas"]:
            raise SchemaLookupError(f"{file} has no schema {name!r}")
        return self.uri(file, f"/components/schemas/{_escape(name)}")

    # validation
    def validator(self, uri: str) -> jsonschema.Draft202012Validator:
        validator = self._validators.get(uri)
        if validator is None:
            validator = self._validators[uri] = jsonschema.Draft202012Validator({"$ref": uri}, registry=self.registry)
        return validator

    def errors(self, uri: str, instance: Any) -> list[str]:
        found = sorted(self.validator(uri).iter_errors(instance), key=lambda e: [str(p) for p in e.absolute_path])
        return [f"at {'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
                f" (schema {'/'.join(map(str, e.absolute_schema_path))})" for e in found]

    def check(self, uri: str, instance: Any, what: str) -> None:
        problems = self.errors(uri, instance)
        if problems:
            raise AssertionError(f"{what} does not validate against {self._short(uri)}:\n  "
                                 + "\n  ".join(problems) + f"\nbody: {instance!r}")

    def _short(self, uri: str) -> str:
        base, _, fragment = uri.partition("#")
        return f"{self.name_of(base)}#{fragment}"

    def validate_response(self, method: str, path: str, response: Any) -> Operation:
        """Validates a response body against the schema its operation declares for its status.

        Fails when the spec declares no schema for that status: callers must decide, visibly,
        what to do with such a response (see ``validate_error``).
        """
        op = self.operation(method, path)
        uri = self.response_schema_uri(op, response.status)
        if uri is None:
            raise SchemaLookupError(f"{op.operation_id} ({method} {op.template}) declares no JSON schema "
                                    f"for status {response.status}; declared: {op.declared_statuses}")
        self.check(uri, response.body, f"{method} {path} -> {response.status}")
        return op

    @property
    def error_envelope_uri(self) -> str:
        """``_common.yaml#/components/schemas/ErrorResponseBase``: the spec's error envelope.

        The spec attaches it to the 4xx responses of core operations (``get_source@404``,
        ``search@400`` in ``_core.yaml``), i.e. to the body OpenSearch core renders for any
        exception a REST handler fails with -- which is also how ML Commons' errors are rendered.
        """
        return self.component_schema_uri(COMMON, "ErrorResponseBase")

    def validate_error(self, method: str, path: str, response: Any) -> str:
        """Validates a 4xx/5xx body. Returns ``"declared"`` when the operation declares a schema for
        the status, ``"envelope"`` when it does not and the shared error envelope was used."""
        assert response.status >= 400, response
        op = self.operation(method, path)
        uri = self.response_schema_uri(op, response.status)
        if uri is not None:
            self.check(uri, response.body, f"{method} {path} -> {response.status}")
            return "declared"
        self.check(self.error_envelope_uri, response.body, f"{method} {path} -> {response.status} (error envelope)")
        return "envelope"

    # closure of the vendored set
    def ref_closure(self, starts: list[tuple[str, str]]) -> tuple[set[tuple[str, str]], list[str]]:
        """Follows every ``$ref`` from ``starts`` through the upstream (un-overridden) documents.

        Returns the (file, pointer) nodes reached and the references that do not resolve inside
        the vendored files.
        """
        missing: list[str] = []
        reached: set[tuple[str, str]] = set()
        stack = list(starts)
        while stack:
            file, pointer = stack.pop()
            if (file, pointer) in reached:
                continue
            try:
                node = _at(self.pristine[file], pointer)
            except (KeyError, IndexError, TypeError):
                missing.append(f"{file}#{pointer}")
                continue
            reached.add((file, pointer))
            for ref in _walk_refs(node):
                ref_file, _, ref_pointer = ref.partition("#")
                target = self.name_of(urljoin(self.uri(file), ref_file)) if ref_file else file
                if target not in self.pristine:
                    missing.append(f"{file}: {ref}")
                    continue
                stack.append((target, ref_pointer))
        return reached, missing


#: OpenSearch core's router answers an unknown path (400), a wrong method (405) and an unsupported
#: Content-Type (406) itself, before any plugin handler runs, with ``error`` as a plain string
#: (BytesRestResponse with a message, not an exception). The spec's ErrorResponseBase types
#: ``error`` as an ErrorCause object, and no operation declares these responses (a path the router
#: does not know has no operation at all), so such bodies are checked against this schema of what
#: the real cluster sends -- and only bodies the test knows come from the router.
ROUTER_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"error": {"type": "string", "minLength": 1}, "status": {"type": "integer"}},
    "required": ["error", "status"],
    "additionalProperties": False,
}


def router_error_problems(response: Any) -> list[str]:
    schema = {**ROUTER_ERROR_SCHEMA,
              "properties": {**ROUTER_ERROR_SCHEMA["properties"], "status": {"const": response.status}}}
    validator = jsonschema.Draft202012Validator(schema)
    return [f"at {'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
            for e in validator.iter_errors(response.body)]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@lru_cache(maxsize=1)
def spec() -> Spec:
    return Spec()
