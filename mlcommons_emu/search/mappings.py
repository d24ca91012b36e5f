"""The field mappings of the ML system indices and how OpenSearch indexes each field type.

The explicit mappings are those of ``common/src/main/resources/index-mappings/*.json`` in
ML Commons 3.x (``ml_connector.json``, ``ml_model.json`` with the connector placeholder,
``ml_model_group.json``, ``ml_task.json``, ``placeholders/user.json``).  Everything else in
a document is mapped dynamically, as OpenSearch does for an index without ``dynamic:
false``: a string becomes ``text`` with a ``keyword`` sub-field (``ignore_above`` 256), an
integral number ``long``, a fractional one ``float``, a boolean ``boolean``.

``owner`` (connectors, groups) and ``user`` (tasks) are ``nested``: a query outside a
``nested`` query never sees their fields, exactly as in Lucene's block-joined documents.
``parameters``, ``actions``, ``credential`` ... are ``flat_object``: every leaf is indexed
as a keyword, reachable by its dotted path or by the root field.
"""
from __future__ import annotations

import re
from typing import Any, Iterable, Iterator

import attrs

TEXT, KEYWORD, LONG, INTEGER, FLOAT, DOUBLE, BOOLEAN, DATE, BINARY, FLAT, OBJECT, NESTED = (
    "text", "keyword", "long", "integer", "float", "double", "boolean", "date", "binary",
    "flat_object", "object", "nested")
NUMERIC = (LONG, INTEGER, FLOAT, DOUBLE)
DATE_FORMAT = "strict_date_time||epoch_millis"
IGNORE_ABOVE = 256


def _text_kw(ignore_above: int | None = IGNORE_ABOVE) -> dict[str, Any]:
    return {"type": TEXT, "keyword": ignore_above}


_OWNER = {"name": _text_kw(), "backend_roles": _text_kw(None), "roles": _text_kw(None),
          "custom_attribute_names": _text_kw(None)}
_DATE = {"type": DATE}


def _leaf(kind: str) -> dict[str, Any]:
    return {"type": kind}


CONNECTOR_FIELDS: dict[str, dict[str, Any]] = {
    "name": _text_kw(), "version": _leaf(KEYWORD), "description": _leaf(TEXT), "protocol": _leaf(KEYWORD),
    "parameters": _leaf(FLAT), "credential": _leaf(FLAT), "client_config": _leaf(FLAT),
    "tenant_id": _leaf(KEYWORD), "provisioned_by": _leaf(KEYWORD), "actions": _leaf(FLAT),
    "backend_roles": _text_kw(), "access": _leaf(KEYWORD), "created_time": _DATE, "last_updated_time": _DATE,
}
_INLINE_CONNECTOR = {k: CONNECTOR_FIELDS[k] for k in
                     ("name", "version", "description", "protocol", "parameters", "credential",
                      "client_config", "actions")}

#: index -> (explicit leaf fields by dotted path, nested object paths)
MAPPINGS: dict[str, tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]] = {
    ".plugins-ml-connector": (CONNECTOR_FIELDS, {"owner": _OWNER}),
    ".plugins-ml-model-group": ({
        "name": _text_kw(), "description": _leaf(TEXT), "latest_version": _leaf(INTEGER),
        "model_group_id": _leaf(KEYWORD), "tenant_id": _leaf(KEYWORD), "backend_roles": _text_kw(),
        "access": _leaf(KEYWORD), "created_time": _DATE, "last_updated_time": _DATE,
        "all_shared_principals": _leaf(KEYWORD),
    }, {"owner": _OWNER}),
    ".plugins-ml-model": ({
        "algorithm": _leaf(KEYWORD), "name": _text_kw(), "version": _leaf(LONG), "model_version": _leaf(KEYWORD),
        "model_group_id": _leaf(KEYWORD), "model_content": _leaf(BINARY), "chunk_number": _leaf(LONG),
        "total_chunks": _leaf(LONG), "model_id": _leaf(KEYWORD), "description": _leaf(TEXT),
        "model_format": _leaf(KEYWORD), "model_state": _leaf(KEYWORD),
        "model_content_size_in_bytes": _leaf(LONG), "planning_worker_node_count": _leaf(INTEGER),
        "current_worker_node_count": _leaf(INTEGER), "planning_worker_nodes": _leaf(KEYWORD),
        "deploy_to_all_nodes": _leaf(BOOLEAN), "is_hidden": _leaf(BOOLEAN), "tenant_id": _leaf(KEYWORD),
        "provisioned_by": _leaf(KEYWORD), "model_config.model_type": _leaf(KEYWORD),
        "model_config.embedding_dimension": _leaf(INTEGER), "model_config.framework_type": _leaf(KEYWORD),
        "model_config.pooling_mode": _leaf(KEYWORD), "model_config.normalize_result": _leaf(BOOLEAN),
        "model_config.model_max_length": _leaf(INTEGER), "model_config.all_config": _leaf(TEXT),
        "model_config.additional_config": _leaf(FLAT), "deploy_setting": _leaf(FLAT),
        "is_enabled": _leaf(BOOLEAN), "is_controller_enabled": _leaf(BOOLEAN), "rate_limiter": _leaf(FLAT),
        "model_content_hash_value": _leaf(KEYWORD), "auto_redeploy_retry_times": _leaf(INTEGER),
        "created_time": _DATE, "last_updated_time": _DATE, "last_registered_time": _DATE,
        "last_deployed_time": _DATE, "last_undeployed_time": _DATE, "interface": _leaf(FLAT),
        **{f"connector.{k}": v for k, v in _INLINE_CONNECTOR.items()},
    }, {"user": _OWNER}),
    ".plugins-ml-task": ({
        "model_id": _leaf(KEYWORD), "task_type": _leaf(KEYWORD), "function_name": _leaf(KEYWORD),
        "state": _leaf(KEYWORD), "input_type": _leaf(KEYWORD), "progress": _leaf(FLOAT),
        "output_index": _leaf(KEYWORD), "worker_node": _leaf(KEYWORD), "create_time": _DATE,
        "last_update_time": _DATE, "error": _leaf(TEXT), "tenant_id": _leaf(KEYWORD),
        "is_async": _leaf(BOOLEAN), "remote_job": _leaf(FLAT), "response": _leaf(FLAT),
    }, {"user": _OWNER}),
}


@attrs.frozen
class Field:
    """How one queried field name is indexed."""

    name: str  # the name as queried
    kind: str
    path: tuple[str, ...]  # where its values live in _source
    nested: str | None = None  # the nested object path it lives under
    ignore_above: int | None = None  # keyword sub-fields skip longer values
    flat_path: tuple[str, ...] = ()  # inside a flat_object: the leaf path below the root

    @property
    def mapped(self) -> bool:
        return self.kind != ""

    @property
    def sortable(self) -> bool:
        return self.kind in (KEYWORD, BOOLEAN, DATE, *NUMERIC, FLAT)


UNMAPPED = ""


class IndexMapping:
    """Resolves field names for one index, the explicit mapping first, then dynamic ones."""

    def __init__(self, index: str, sources: Iterable[dict[str, Any]]) -> None:
        explicit, nested = MAPPINGS.get(index, ({}, {}))
        self.index = index
        self._explicit = explicit
        self._nested = nested
        self._sources = sources
        self._cache: dict[str, Field] = {}
        self._dynamic: dict[str, str] | None = None

    def resolve(self, name: str) -> Field:
        found = self._cache.get(name)
        if found is None:
            found = self._cache[name] = self._resolve(name)
        return found

    def _resolve(self, name: str) -> Field:
        parts = tuple(name.split("."))
        for nested_path, fields in self._nested.items():
            if parts[0] == nested_path:
                sub = ".".join(parts[1:])
                return _with(self._leaf_field(name, fields, sub, parts), nested=nested_path)
        return self._leaf_field(name, self._explicit, name, parts)

    def _leaf_field(self, name: str, fields: dict[str, dict[str, Any]], sub: str,
                    parts: tuple[str, ...]) -> Field:
        spec = fields.get(sub)
        if spec is not None:
            return Field(name, spec["type"], parts)
        if sub.endswith(".keyword"):
            base = fields.get(sub[: -len(".keyword")])
            if base is not None and "keyword" in base:
                return Field(name, KEYWORD, parts[:-1], ignore_above=base["keyword"])
        for root, spec in fields.items():
            if spec["type"] == FLAT and sub.startswith(root + "."):
                depth = len(root.split("."))
                offset = len(parts) - len(sub.split("."))
                return Field(name, FLAT, parts[: offset + depth], flat_path=parts[offset + depth:])
        return self._dynamic_field(name, parts)

    def _dynamic_field(self, name: str, parts: tuple[str, ...]) -> Field:
        kinds = self._dynamic_kinds()
        kind = kinds.get(name)
        if kind is not None:
            return Field(name, kind, parts)
        if name.endswith(".keyword") and kinds.get(name[: -len(".keyword")]) == TEXT:
            return Field(name, KEYWORD, parts[:-1], ignore_above=IGNORE_ABOVE)
        if any(k.startswith(name + ".") for k in kinds) or name in self._object_paths():
            return Field(name, OBJECT, parts)
        return Field(name, UNMAPPED, parts)

    def _object_paths(self) -> set[str]:
        explicit = {".".join(k.split(".")[:i]) for k in self._explicit for i in range(1, len(k.split(".")))}
        return explicit | set(self._nested)

    def _dynamic_kinds(self) -> dict[str, str]:
        """Dynamic leaf types: the first value seen for a path decides, as the first
        document indexed with a new field fixes its mapping."""
        if self._dynamic is None:
            kinds: dict[str, str] = {}
            for source in self._sources:
                for path, value in _leaves(source, ()):
                    key = ".".join(path)
                    if key in kinds or self._covered(path):
                        continue
                    kinds[key] = _dynamic_kind(value)
            self._dynamic = kinds
        return self._dynamic

    def _covered(self, path: tuple[str, ...]) -> bool:
        """Whether a source path falls under the explicit mapping (or a flat_object)."""
        for i in range(1, len(path) + 1):
            prefix = ".".join(path[:i])
            spec = self._explicit.get(prefix)
            if spec is not None and (spec["type"] == FLAT or i == len(path)):
                return True
            if prefix in self._nested:
                return True
        return False


def _with(field: Field, **changes: Any) -> Field:
    return attrs.evolve(field, **changes)


def _dynamic_kind(value: Any) -> str:
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int):
        return LONG
    if isinstance(value, float):
        return FLOAT
    return TEXT


def _leaves(value: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
    if isinstance(value, dict):
        for key, sub in value.items():
            yield from _leaves(sub, path + (str(key),))
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item, path)
    elif value is not None and path:
        yield path, value


def source_values(source: Any, path: tuple[str, ...]) -> list[Any]:
    """Every value at ``path`` (arrays flattened), objects included."""
    current: list[Any] = [source]
    for part in path:
        following: list[Any] = []
        for item in current:
            if isinstance(item, dict) and part in item:
                value = item[part]
                following.extend(value if isinstance(value, list) else [value])
            elif isinstance(item, list):
                for element in item:
                    if isinstance(element, dict) and part in element:
                        value = element[part]
                        following.extend(value if isinstance(value, list) else [value])
        current = following
    out: list[Any] = []
    for item in current:
        if isinstance(item, list):
            out.extend(item)
        elif item is not None:
            out.append(item)
    return out


def flat_leaf_strings(value: Any, flat_path: tuple[str, ...]) -> list[str]:
    """A flat_object's indexed keywords: the leaf values at ``flat_path`` (all leaves for
    the root), as strings."""
    targets = source_values(value, flat_path) if flat_path else [value]
    out: list[str] = []
    for target in targets:
        for _, leaf in _leaves(target, ("",)):
            out.append(keyword_string(leaf))
    return out


def keyword_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return repr(value)
    return str(value)


# analysis ---------------------------------------------------------------------------------
# The standard analyzer: UAX#29 word boundaries, lower-cased.  Letters joined by ``.``,
# ``'`` or ``:`` stay one token (``api.openai.com``), as do digits joined by ``.`` or ``,``
# (``3.5``); ``_`` joins anything (ExtendNumLet); other punctuation splits.
_WORD = re.compile(r"[^\W_]+|_+", re.UNICODE)


def analyze(text: str) -> list[str]:
    tokens: list[str] = []
    pieces = [(m.start(), m.end()) for m in _WORD.finditer(text)]
    current = ""
    last_end = -1
    for start, end in pieces:
        piece = text[start:end]
        if current and start == last_end and (piece.startswith("_") or current.endswith("_")):
            current += piece
        elif current and start == last_end + 1 and _joins(text[last_end], current[-1], piece[0]):
            current += text[last_end] + piece
        else:
            if current:
                tokens.append(current)
            current = piece
        last_end = end
    if current:
        tokens.append(current)
    return [t.lower() for t in tokens if t.strip("_")]


def _joins(mid: str, before: str, after: str) -> bool:
    if mid in ".'’:" and before.isalpha() and after.isalpha():
        return True
    if mid in ".," and before.isdigit() and after.isdigit():
        return True
    return False
