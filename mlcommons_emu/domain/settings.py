"""Cluster settings: the plugins.ml_commons.* definitions, their types, defaults and parsing."""
from __future__ import annotations

import functools
import re
from typing import Any, Iterable, Mapping

import attrs

from mlcommons_emu.domain.release import Release
from mlcommons_emu.errors import IllegalArgumentError

PREFIX = "plugins.ml_commons."

ONLY_RUN_ON_ML_NODE = PREFIX + "only_run_on_ml_node"
TRUSTED_CONNECTOR_ENDPOINTS_REGEX = PREFIX + "trusted_connector_endpoints_regex"
CONNECTOR_ACCESS_CONTROL_ENABLED = PREFIX + "connector_access_control_enabled"
MODEL_ACCESS_CONTROL_ENABLED = PREFIX + "model_access_control_enabled"
ALLOW_CUSTOM_DEPLOYMENT_PLAN = PREFIX + "allow_custom_deployment_plan"
REMOTE_INFERENCE_ENABLED = PREFIX + "remote_inference.enabled"
ELIGIBLE_NODE_ROLE_REMOTE = PREFIX + "task_dispatcher.eligible_node_role.remote_model"
ELIGIBLE_NODE_ROLE_LOCAL = PREFIX + "task_dispatcher.eligible_node_role.local_model"
EXCLUDE_NODES = PREFIX + "exclude_nodes._name"
MODEL_AUTO_DEPLOY = PREFIX + "model_auto_deploy.enable"
MODEL_AUTO_REDEPLOY = PREFIX + "model_auto_redeploy.enable"
PRIVATE_IP_ENABLED = PREFIX + "connector.private_ip_enabled"
TASK_DISPATCH_POLICY = PREFIX + "task_dispatch_policy"

_SAGEMAKER = r"^https://runtime\.sagemaker\..*[a-z0-9-]\.amazonaws\.com/.*$"
_OPENAI = r"^https://api\.openai\.com/.*$"
_COHERE = r"^https://api\.cohere\.ai/.*$"


def trusted_endpoints_default(release: Release) -> list[str]:
    """Default of trusted_connector_endpoints_regex by release, in MLCommonsSettings' order
    (users copy it from ``include_defaults`` and append to it, so the order shows)."""
    api_sagemaker = r"^https://api\.sagemaker\..*[a-z0-9-]\.amazonaws\.com/.*$"
    bedrock_runtime = r"^https://bedrock-runtime\..*[a-z0-9-]\.amazonaws\.com/.*$"
    agent_runtime = r"^https://bedrock-agent-runtime\..*[a-z0-9-]\.amazonaws\.com/.*$"
    if release < (2, 11):
        return [_SAGEMAKER, _OPENAI, _COHERE]
    if release < (2, 16):
        return [_SAGEMAKER, _OPENAI, _COHERE, bedrock_runtime]
    if release < (2, 18):
        return [_SAGEMAKER, api_sagemaker, _OPENAI, _COHERE, bedrock_runtime, agent_runtime]
    regexes = [_SAGEMAKER, api_sagemaker, _OPENAI, _COHERE]
    if release >= (2, 19):
        regexes.append(r"^https://api\.deepseek\.com/.*$")
    if release >= (3, 5):
        regexes.append(r"^https://generativelanguage\.googleapis\.com/.*$")
    regexes += [bedrock_runtime, agent_runtime, r"^https://bedrock\..*[a-z0-9-]\.amazonaws\.com/.*$",
                r"^https://textract\..*[a-z0-9-]\.amazonaws\.com$",
                r"^https://comprehend\..*[a-z0-9-]\.amazonaws\.com$"]
    if release >= (2, 19):
        regexes.append(r"^https://rekognition(-fips)?\..*[a-z0-9-]\.amazonaws\.com$")
    return regexes


@attrs.frozen
class SettingDef:
    key: str
    kind: str  # bool | int | long | float | string | list | time | bytes
    default: Any  # a value, or a callable(release) -> value
    minimum: float | None = None
    maximum: float | None = None
    since: tuple[int, int] = (2, 9)
    until: tuple[int, int] | None = None  # last release that has it
    dynamic: bool = True

    def default_for(self, release: Release) -> Any:
        return self.default(release) if callable(self.default) else self.default

    def exists_in(self, release: Release) -> bool:
        if release < self.since:
            return False
        return self.until is None or release <= self.until


def _d(key: str, kind: str, default: Any, **kw: Any) -> SettingDef:
    return SettingDef(PREFIX + key, kind, default, **kw)


def _auto_redeploy_default(release: Release) -> bool:
    return release >= (2, 12)


def _rag_default(release: Release) -> bool:
    return release >= (2, 12)


ML_SETTINGS: tuple[SettingDef, ...] = (
    _d("task_dispatch_policy", "string", "round_robin"),
    _d("max_model_on_node", "int", 10, minimum=0, maximum=10000),
    _d("sync_up_job_interval_in_seconds", "int", 10, minimum=0, maximum=86400),
    _d("monitoring_request_count", "long", 100, minimum=0, maximum=10_000_000),
    _d("max_register_model_tasks_per_node", "int", 10, minimum=0, maximum=10),
    _d("max_deploy_model_tasks_per_node", "int", 10, minimum=0, maximum=10),
    _d("max_ml_task_per_node", "int", 10, minimum=0, maximum=10000),
    _d("only_run_on_ml_node", "bool", True),
    _d("allow_registering_model_via_url", "bool", False),
    _d("allow_registering_model_via_local_file", "bool", False),
    _d("trusted_url_regex", "string",
       r"^(https?|ftp|file)://[-a-zA-Z0-9+&@#/%?=~_|!:,.;]*[-a-zA-Z0-9+&@#/%=~_|]"),
    _d("ml_task_timeout_in_seconds", "int", 600, minimum=1, maximum=86400),
    _d("native_memory_threshold", "int", 90, minimum=0, maximum=100),
    _d("jvm_heap_memory_threshold", "int", 85, minimum=0, maximum=100),
    _d("exclude_nodes._name", "string", ""),
    _d("allow_custom_deployment_plan", "bool", False),
    _d("model_auto_redeploy.enable", "bool", _auto_redeploy_default),
    _d("model_auto_redeploy.lifetime_retry_times", "int", 3),
    # defined but not registered in 2.9, so PUT answers "not recognized" there
    _d("model_auto_redeploy_success_ratio", "float", 0.8, minimum=0, maximum=1, since=(2, 10)),
    _d("enable_inhouse_python_model", "bool", False),
    _d("connector_access_control_enabled", "bool", False),
    _d("model_access_control_enabled", "bool", False),
    _d("trusted_connector_endpoints_regex", "list", trusted_endpoints_default),
    _d("remote_inference.enabled", "bool", True, since=(2, 10)),
    _d("task_dispatcher.eligible_node_role.remote_model", "list", ["data", "ml"], since=(2, 10)),
    _d("task_dispatcher.eligible_node_role.local_model", "list", ["data", "ml"], since=(2, 10)),
    _d("memory_feature_enabled", "bool", True, since=(2, 10)),
    _d("rag_pipeline_feature_enabled", "bool", _rag_default, since=(2, 10)),
    _d("update_connector.enabled", "bool", False, since=(2, 11), until=(2, 11)),
    _d("agent_framework_enabled", "bool", True, since=(2, 12)),
    _d("connector.private_ip_enabled", "bool", False, since=(2, 15)),
    _d("model_auto_deploy.enable", "bool", True, since=(2, 13)),
    _d("local_model.enabled", "bool", True, since=(2, 13)),
    _d("disk_free_space_threshold", "bytes", "5gb", since=(2, 16)),
    _d("controller_enabled", "bool", True, since=(2, 18)),
    _d("offline_batch_inference_enabled", "bool", True, since=(2, 17)),
    _d("offline_batch_ingestion_enabled", "bool", True, since=(2, 17)),
    _d("max_batch_inference_tasks", "int", 100, minimum=0, maximum=10000, since=(2, 17)),
    _d("max_batch_ingestion_tasks", "int", 100, minimum=0, maximum=10000, since=(2, 17)),
    _d("batch_ingestion_bulk_size", "int", 500, minimum=100, maximum=100000, since=(2, 17)),
    _d("safe_delete_model", "bool", False, since=(2, 19)),
    _d("multi_tenancy_enabled", "bool", False, since=(2, 19), dynamic=False),
    _d("mcp_connector_enabled", "bool", False, since=(3, 0)),
    _d("mcp_server_enabled", "bool", False, since=(3, 0)),
    _d("master_key_cache_ttl_minutes", "int", 5, minimum=1, maximum=1440, since=(2, 19), dynamic=False),
    _d("max_json_size", "int", 100_000_000, minimum=-1, since=(3, 5)),
    _d("trusted_connector_private_endpoints_regex", "list", [], since=(3, 7)),
    _d("connector.restricted_ip_patterns", "list", [], since=(3, 7), dynamic=False),
    _d("index_insight_feature_enabled", "bool", False, since=(3, 3)),
    _d("unified_agent_api_enabled", "bool", False, since=(3, 6)),
    _d("execute_tools_enabled", "bool", True, since=(3, 3)),
    _d("agentic_memory_enabled", "bool", True, since=(3, 3)),
    _d("remote_agentic_memory_enabled", "bool", False, since=(3, 5)),
    _d("stream_enabled", "bool", False, since=(3, 3)),
    _d("metrics_static_collection_enabled", "bool", False, since=(3, 1)),
    _d("mcp_header_passthrough_enabled", "bool", False, since=(3, 6)),
    _d("ag_ui_enabled", "bool", False, since=(3, 6)),
)

#: Settings whose list entries MLCommonsSettings checks with validateRegexSafety (3.7+).
REGEX_LIST_SETTINGS = {
    PREFIX + "trusted_connector_endpoints_regex",
    PREFIX + "trusted_connector_private_endpoints_regex",
    PREFIX + "connector.restricted_ip_patterns",
}


def validate_regex_safety(regex: str) -> None:
    """Refuse patterns that could backtrack catastrophically, as the plugin does."""
    import re

    if len(regex) > 256:
        raise IllegalArgumentError(f"Regex pattern too long (max 256 chars): {regex}")
    if re.search(r"\\[1-9]", regex) or re.search(r"\([^()]*[+*}]\)[+*{]", regex):
        raise IllegalArgumentError(
            f"Regex pattern contains nested quantifiers or backreferences that may cause ReDoS: {regex}")
    try:
        re.compile(regex)
    except re.error:
        raise IllegalArgumentError(f"Invalid regex pattern: {regex}") from None

#: A few core settings users commonly send alongside ML ones; accepted and echoed.
CORE_SETTINGS: tuple[SettingDef, ...] = (
    SettingDef("action.auto_create_index", "string", "true"),
    SettingDef("cluster.routing.allocation.disk.threshold_enabled", "bool", True),
    SettingDef("cluster.routing.allocation.enable", "string", "all"),
    SettingDef("cluster.max_shards_per_node", "int", 1000, minimum=1),
    SettingDef("search.max_buckets", "int", 65535, minimum=0),
    SettingDef("indices.recovery.max_bytes_per_sec", "bytes", "40mb"),
)


@functools.lru_cache(maxsize=64)
def definitions(release: Release) -> dict[str, SettingDef]:
    """The settings the release registers (cached: read on every request; do not mutate)."""
    return {d.key: d for d in ML_SETTINGS + CORE_SETTINGS if d.exists_in(release)}


def _bool(key: str, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw)
    if text == "true":
        return True
    if text == "false":
        return False
    raise IllegalArgumentError(f"Failed to parse value [{text}] as only [true] or [false] are allowed.")


_INT_RANGES = {"int": (-(2 ** 31), 2 ** 31 - 1), "long": (-(2 ** 63), 2 ** 63 - 1)}
_JAVA_INTEGER = re.compile(r"^[+-]?[0-9]+$")


def _number(d: SettingDef, raw: Any, kind: str) -> Any:
    if isinstance(raw, bool) or isinstance(raw, (list, dict)):
        text = "true" if raw is True else "false" if raw is False else str(raw)
        raise IllegalArgumentError(f"Failed to parse value [{text}] for setting [{d.key}]")
    text = str(raw)
    if kind in _INT_RANGES:
        low, high = _INT_RANGES[kind]
        # Integer.parseInt / Long.parseLong: digits only, within the Java type's range
        if not _JAVA_INTEGER.match(text) or not low <= int(text) <= high:
            raise IllegalArgumentError(f'For input string: "{text}"')
        value: Any = int(text)
    else:
        try:
            value = float(text)
        except ValueError:
            raise IllegalArgumentError(f"Failed to parse value [{text}] for setting [{d.key}]") from None
    if d.minimum is not None and value < d.minimum:
        raise IllegalArgumentError(
            f"Failed to parse value [{text}] for setting [{d.key}] must be >= {_fmt(d.minimum, kind)}")
    if d.maximum is not None and value > d.maximum:
        raise IllegalArgumentError(
            f"Failed to parse value [{text}] for setting [{d.key}] must be <= {_fmt(d.maximum, kind)}")
    return value


def _fmt(bound: float, kind: str) -> str:
    if kind == "float":
        return repr(float(bound))  # Java prints float bounds as 1.0, 0.0
    return str(int(bound))


def parse_value(d: SettingDef, raw: Any) -> Any:
    """Parse a value as the Java Setting would; IllegalArgumentError with its message."""
    if d.kind == "bool":
        return _bool(d.key, raw)
    if d.kind in ("int", "long", "float"):
        return _number(d, raw, d.kind)
    if d.kind == "list":
        if isinstance(raw, list):
            return [_scalar_text(v) for v in raw]
        # Setting.listSetting reads a plain string as comma-separated values
        return [part.strip() for part in _scalar_text(raw).split(",") if part.strip()]
    return _scalar_text(raw)


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        raise IllegalArgumentError(f"Failed to parse value [{value}]")
    return str(value)


def render_value(value: Any) -> Any:
    """Settings come back as strings (lists as lists of strings)."""
    if isinstance(value, list):
        return [render_value(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def flatten(body: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested ``{"plugins": {"ml_commons": {...}}}`` and flat keys both become flat keys."""
    flat: dict[str, Any] = {}
    for key, value in body.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, full + "."))
        else:
            flat[full] = value
    return flat


def nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for key in sorted(flat):
        node = nested
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[parts[-1]] = flat[key]
    return nested


@attrs.define
class ClusterSettings:
    """Persistent and transient values over the release's defaults."""

    release: Release
    persistent: dict[str, Any] = attrs.field(factory=dict)
    transient: dict[str, Any] = attrs.field(factory=dict)

    def get(self, key: str) -> Any:
        if key in self.transient:
            return self.transient[key]
        if key in self.persistent:
            return self.persistent[key]
        d = definitions(self.release).get(key)
        if d is None:
            raise KeyError(key)
        return d.default_for(self.release)

    def defaults(self) -> dict[str, Any]:
        return {k: d.default_for(self.release) for k, d in definitions(self.release).items()}

    def validate(self, scope: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Parse every change or raise before anything is applied (all or nothing)."""
        defs = definitions(self.release)
        parsed: dict[str, Any] = {}
        for key, raw in changes.items():
            d = defs.get(key)
            if d is None:
                raise IllegalArgumentError(f"{scope} setting [{key}], not recognized")
            if not d.dynamic:
                raise IllegalArgumentError(f"{scope} setting [{key}], not dynamically updateable")
            if raw is None:
                parsed[key] = None
                continue
            try:
                parsed[key] = parse_value(d, raw)
                if key in REGEX_LIST_SETTINGS and self.release >= (3, 7):
                    for regex in parsed[key]:
                        validate_regex_safety(regex)
            except IllegalArgumentError as exc:
                current = self.get(key)
                raise SettingUpdateError(
                    f"illegal value can't update [{key}] from [{_plain(current)}] to [{_plain(raw)}]",
                    cause=exc,
                ) from exc
        return parsed

    def apply(self, scope: str, parsed: Mapping[str, Any]) -> dict[str, Any]:
        target = self.persistent if scope == "persistent" else self.transient
        applied: dict[str, Any] = {}
        for key, value in parsed.items():
            if value is None:
                target.pop(key, None)
            else:
                target[key] = value
                applied[key] = value
        return applied


def _plain(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return render_value(value) if not isinstance(value, str) else value


class SettingUpdateError(IllegalArgumentError):
    """An invalid value: OpenSearch answers it with a ``caused_by`` holding the parse error."""

    def __init__(self, reason: str, *, cause: IllegalArgumentError) -> None:
        super().__init__(reason)
        self.cause = cause


def changed_keys(before: Mapping[str, Any], after: Mapping[str, Any]) -> Iterable[str]:
    return [k for k in set(before) | set(after) if before.get(k) != after.get(k)]
