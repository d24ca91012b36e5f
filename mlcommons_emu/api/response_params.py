"""OpenSearch's response parameters: ``filter_path`` and ``error_trace``.

``filter_path`` (XContent's FilterPath): comma-separated dotted paths, ``*`` inside a name,
``**`` for any depth, a leading ``-`` to exclude; objects inside arrays are filtered in
place; when nothing is kept the body is ``{}``.  Error bodies are never filtered
(AbstractRestChannel.newErrorBuilder turns filtering off).

``error_trace=true`` adds a ``stack_trace`` to the error and to each of its causes, as
OpenSearchException.innerToXContent does when REST_EXCEPTION_SKIP_STACK_TRACE is false.
The emulator has no Java stack: the trace is the exception's Java ``toString`` line, the
form ``ExceptionsHelper.stackTrace`` starts with, without frames.
"""
from __future__ import annotations

import re
from typing import Any

_MISSING = object()

#: wire type -> Java class (OpenSearchException subclasses print ``Name[reason]``)
_OPENSEARCH_CLASSES = {
    "status_exception": "OpenSearchStatusException", "parsing_exception": "ParsingException",
    "parse_exception": "OpenSearchParseException", "index_not_found_exception": "IndexNotFoundException",
    "resource_not_found_exception": "ResourceNotFoundException",
    "version_conflict_engine_exception": "VersionConflictEngineException",
    "action_request_validation_exception": "ActionRequestValidationException",
    "search_phase_execution_exception": "SearchPhaseExecutionException",
    "query_shard_exception": "QueryShardException", "script_exception": "ScriptException",
    "security_exception": "OpenSearchSecurityException",
    "remote_connector_throttling_exception": "RemoteConnectorThrottlingException",
}
_JAVA_CLASSES = {
    "illegal_argument_exception": "java.lang.IllegalArgumentException",
    "illegal_state_exception": "java.lang.IllegalStateException",
    "null_pointer_exception": "java.lang.NullPointerException",
    "i_o_exception": "java.io.IOException",
    "string_index_out_of_bounds_exception": "java.lang.StringIndexOutOfBoundsException",
    "json_parse_exception": "com.fasterxml.jackson.core.JsonParseException",
    "m_l_exception": "org.opensearch.ml.common.exception.MLException",
    "m_l_validation_exception": "org.opensearch.ml.common.exception.MLValidationException",
    "m_l_resource_not_found_exception": "org.opensearch.ml.common.exception.MLResourceNotFoundException",
    "m_l_limit_exceeded_exception": "org.opensearch.ml.common.exception.MLLimitExceededException",
    "exception": "java.lang.Exception",
}


def _flag(query: dict[str, str], name: str) -> bool:
    value = query.get(name)
    return value is not None and value.lower() in ("", "true")


def apply(body: Any, status: int, query: dict[str, str]) -> Any:
    """The body as the response parameters of the request shape it."""
    if status >= 400:
        if _flag(query, "error_trace") and isinstance(body, dict) and isinstance(body.get("error"), dict):
            return {**body, "error": _with_traces(body["error"])}
        return body
    spec = query.get("filter_path")
    if spec and isinstance(body, (dict, list)):
        return filter_body(body, spec)
    return body


def _with_traces(error: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in error.items():
        if key == "root_cause" and isinstance(value, list):
            value = [_with_traces(v) if isinstance(v, dict) else v for v in value]
        elif key == "caused_by" and isinstance(value, dict):
            value = _with_traces(value)
        out[key] = value
    if "type" in out:
        kind, reason = str(out["type"]), str(out.get("reason"))
        if kind in _OPENSEARCH_CLASSES:
            line = f"{_OPENSEARCH_CLASSES[kind]}[{reason}]"
        else:
            line = f"{_JAVA_CLASSES.get(kind, 'java.lang.Exception')}: {reason}"
        # written after the metadata and before caused_by, as innerToXContent does
        caused = out.pop("caused_by", None)
        out["stack_trace"] = line
        if caused is not None:
            out["caused_by"] = caused
    return out


def _segments(path: str) -> list[re.Pattern[str] | str]:
    out: list[re.Pattern[str] | str] = []
    for part in path.split("."):
        if part == "**":
            out.append("**")
        else:
            out.append(re.compile(".*".join(re.escape(p) for p in part.split("*")), re.DOTALL))
    return out


def filter_body(body: Any, spec: str) -> Any:
    includes, excludes = [], []
    for raw in spec.split(","):
        path = raw.strip()
        if not path:
            continue
        if path.startswith("-"):
            excludes.append(_segments(path[1:]))
        else:
            includes.append(_segments(path))
    result = body
    if includes:
        kept = _include(body, includes)
        result = {} if kept is _MISSING else kept
    if excludes:
        kept = _exclude(result, excludes)
        result = {} if kept is _MISSING else kept
    return result


def _advance(patterns: list[list[Any]], key: str) -> tuple[bool, list[list[Any]]]:
    """(whether some pattern ends at ``key``, the patterns left for what is below it)."""
    done = False
    rest: list[list[Any]] = []
    stack = list(patterns)
    while stack:
        pattern = stack.pop()
        if not pattern:
            continue
        head = pattern[0]
        if head == "**":
            rest.append(pattern)  # ** may swallow this key too
            stack.append(pattern[1:])  # ... or nothing
            continue
        if head.fullmatch(key):
            if len(pattern) == 1:
                done = True
            else:
                rest.append(pattern[1:])
    return done, rest


def _include(value: Any, patterns: list[list[Any]]) -> Any:
    if isinstance(value, list):
        items = [_include(v, patterns) for v in value if isinstance(v, (dict, list))]
        items = [v for v in items if v is not _MISSING]
        return items if items else _MISSING
    if not isinstance(value, dict):
        return _MISSING
    out: dict[str, Any] = {}
    for key, sub in value.items():
        done, rest = _advance(patterns, key)
        if done:
            out[key] = sub
        elif rest:
            kept = _include(sub, rest)
            if kept is not _MISSING:
                out[key] = kept
    return out if out else _MISSING


def _exclude(value: Any, patterns: list[list[Any]]) -> Any:
    if isinstance(value, list):
        return [_exclude(v, patterns) if isinstance(v, (dict, list)) else v for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, sub in value.items():
        done, rest = _advance(patterns, key)
        if done:
            continue
        out[key] = _exclude(sub, rest) if rest else sub
    return out
