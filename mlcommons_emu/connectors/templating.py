"""Parameter conversion, JSON escaping and ${parameters.*}/${credential.*} connector templates."""
from __future__ import annotations

import re
from typing import Any, Callable, Mapping

from mlcommons_emu.connectors.javajson import (  # noqa: F401 - re-exported
    escape_json, gson_string_body, java_hashmap_order, java_length, java_split, java_trim, json_or_ndjson, looks_like_json, to_parameter_string,
)
from mlcommons_emu.errors import IllegalArgumentError, IllegalStateError, StringIndexOutOfBoundsError

__all__ = [
    "to_parameter_string",
    "escape_json",
    "looks_like_json",
    "predict_parameters",
    "merge_parameters",
    "add_to_string_keys",
    "render_template",
    "render_payload",
    "render_url",
    "resolve_credential_headers",
    "render_headers",
    "validate_header_templates",
    "BLOCKED_DYNAMIC_HEADERS",
]

# Release switches are keyword flags whose defaults are release 3.8.  Where each one
# comes from (tags of opensearch-project/ml-commons):
#   legacy_gson=True             2.9-3.2: StringUtils.gson was `new Gson()` (HTML-safe escaping
#                                of < > & = ' as \u003c..., null members of objects dropped);
#                                3.3 switched to disableHtmlEscaping().serializeNulls().
#   org_json_only=True           2.9-2.11: StringUtils.isJson was org.json (20230227) alone;
#                                2.12 added the Gson pass (and org.json 20231013).
#   invalid_payload_style="old"  2.9-2.11: HttpConnector threw "Invalid JSON in payload"; 2.12
#                                changed it to "Invalid payload: <payload>" in the release that
#                                added the Gson pass, so "old" also means the org.json-only check.
#   allow_ndjson=False           before 3.5 (createPayload used isJson, not isJsonOrNdjson).
#   null_default_rewrite=False   2.9 (HttpConnector.fillNullParameters arrived in 2.10).
#   to_string_keys=False         before 2.17 (StringUtils.parseParameters arrived in 2.17).
#   honour_skip_parameter=False  before 2.17 (skip_validating_missing_parameters, 2.17).
#   honour_no_escape_params=False before 3.0 (ConnectorUtils reads no_escape_params from 3.0).
#   predict_wins=False           2.9-2.11 (RemoteConnectorExecutor's second putAll of the input
#                                parameters after pre-processing arrived in 2.12).
#   escape=False                 2.9 (ConnectorUtils.escapeRemoteInferenceInputData, 2.10).
#   predict_time_params=False    2.9-3.6 (AbstractConnector header substitution at deploy only).

_PARAMETERS_PREFIX = "${parameters."
_CREDENTIAL_PREFIX = "${credential."
_TO_STRING = ".toString()"

# ---------------------------------------------------------------------------------------------
# Parameter maps
# ---------------------------------------------------------------------------------------------


def _no_escape_keys(value: str | None) -> frozenset[str]:
    # ConnectorUtils.escapeRemoteInferenceInputData: split(","), each trim()med.
    if not value:
        return frozenset()
    return frozenset(java_trim(part) for part in java_split(value, ","))


def predict_parameters(raw: Mapping[str, Any], *, escape: bool = True, legacy_gson: bool = False,
                       org_json_only: bool = False,
                       honour_no_escape_params: bool = True) -> dict[str, str | None]:
    """The predict request's ``parameters`` as they enter ``P`` (semantics 1.2, 1.3).

    Conversion is ``StringUtils.getParameterMap`` (``RemoteInferenceMLInput`` parses the body
    with XContent ``parser.map()``, so integers stay integers: ``5`` -> ``"5"``); a JSON
    ``null`` becomes the string ``"null"`` there (``gson.toJson(null)``), not a Java null.
    Escaping is ``ConnectorUtils.escapeRemoteInferenceInputData``: a null stays null; a value
    that ``looks_like_json`` is kept; a key named in ``no_escape_params`` (comma-separated,
    trimmed; read from the converted map) is kept; anything else goes through
    ``escape_json``.  ``escape=False`` is 2.9 (raw values).  The same rule applies to the
    output of a pre-process function, so it can be passed through this function too.
    Connector ``parameters`` are converted the same way (use ``escape=False``).
    """
    converted: dict[str, str | None] = {}
    # an object or array is written by Gson as strict JSON: it looks like JSON in every
    # release, with no need to parse it again to tell
    containers: set[str] = set()
    for key, value in raw.items():
        text = to_parameter_string(value, legacy_gson=legacy_gson)
        converted[str(key)] = "null" if text is None else text
        if isinstance(value, (dict, list)):
            containers.add(str(key))
    if not escape:
        return converted
    exempt = _no_escape_keys(converted.get("no_escape_params")) if honour_no_escape_params \
        else frozenset()
    escaped: dict[str, str | None] = {}
    for key, value in converted.items():
        if value is None:
            escaped[key] = None
        elif key in containers or looks_like_json(value, org_json_only=org_json_only):
            escaped[key] = value  # "no need to escape if it's already valid json"
        elif key in exempt:
            escaped[key] = value
        else:
            escaped[key] = escape_json(value)
    return escaped


def merge_parameters(connector_params: Mapping[str, str], predict_params: Mapping[str, str | None],
                     preprocess_params: Mapping[str, str | None] | None = None, *,
                     predict_wins: bool = True) -> dict[str, str | None]:
    """``P`` as RemoteConnectorExecutor.preparePayloadAndInvoke builds it (semantics 1.1).

    Layers: connector parameters, predict parameters, pre-process output, then (from 2.12) the
    predict parameters again, so predict-time values win over both.  ``predict_wins=False`` is
    2.9-2.11, where the pre-process output was written last.
    """
    merged: dict[str, str | None] = dict(connector_params or {})
    merged.update(predict_params or {})
    if preprocess_params:
        merged.update(preprocess_params)
    if predict_wins:
        merged.update(predict_params or {})
    return merged


_TO_STRING_PATTERN = re.compile(
    # Java's "." excludes all line terminators, so the lazy group cannot cross them.
    r"\$\{parameters\.([^\n\r\u0085\u2028\u2029]+?)\.toString\(\)\}")


def add_to_string_keys(params: Mapping[str, str | None], *,
                       legacy_gson: bool = False) -> dict[str, str | None]:
    """``StringUtils.parseParameters``: a copy of ``P`` with the ``X.toString()`` helper keys.

    For every ``${parameters.X.toString()}`` found in a *value* of ``P``, key ``X.toString()``
    gets ``P[X]`` encoded as a Gson string without the quotes.  The pattern is Java's lazy
    ``\\$\\{parameters\\.(.+?)\\.toString\\(\\)\\}``: when another ``${parameters.Y}`` precedes
    it on the same line the captured name swallows it (``Y} ... ${parameters.X``), no key is
    added, and the placeholder later counts as missing.  The plugin mutates ``P`` in
    ``HttpConnector.createPayload`` (only for actions with a ``request_body``), so the URL and
    headers rendered after it see these keys as well.
    """
    prefixes = []
    for value in params.values():
        if value is not None and ".toString()}" in value:
            prefixes.extend(match.group(1) for match in _TO_STRING_PATTERN.finditer(value))
    result = dict(params)
    for prefix in prefixes:
        value = result.get(prefix)
        if value is not None:
            result[prefix + _TO_STRING] = gson_string_body(value, legacy_gson=legacy_gson)
    return result


# ---------------------------------------------------------------------------------------------
# The substitution engine: org.apache.commons.text.StringSubstitutor (1.10-1.14), configured
# with a map lookup, the given prefix, suffix "}", escape '$' and value delimiter ":-".
# Variable-in-variable substitution is off; substitution in values (recursion) is on.
# ---------------------------------------------------------------------------------------------


class _StringSubstitutor:
    def __init__(self, lookup: Callable[[str], str | None], prefix: str, suffix: str = "}",
                 escape: str = "$", value_delimiter: str = ":-") -> None:
        self.lookup = lookup
        self.prefix = prefix
        self.suffix = suffix
        self.escape = escape
        self.delimiter = value_delimiter
        # the text of the buffer being scanned, rebuilt only after it changed (see _find)
        self._text = ""
        self._text_of: list[str] | None = None
        self._text_len = 0
        self._dirty = False

    def _find(self, token: str, buf: list[str], pos: int, buf_end: int) -> int:
        """The first position >= pos where ``token`` lies wholly before buf_end, or -1.

        The scan StringSubstitutor makes one character at a time (StringMatcher.isMatch at
        each position) is a ``str.find`` on the buffer's text, rebuilt only after the buffer
        changed."""
        if self._text_of is not buf or self._text_len != len(buf) or self._dirty:
            self._text = "".join(buf)
            self._text_of, self._text_len, self._dirty = buf, len(buf), False
        return self._text.find(token, pos, buf_end)

    def replace(self, source: str | None) -> str | None:
        if source is None:
            return None
        if self.prefix not in source:
            return source  # no variable to substitute (escapes only act before one)
        if self.escape + self.prefix not in source:
            simple = self._replace_simple(source)
            if simple is not None:
                return simple
        buf = list(source)
        self._text_of, self._text_len, self._dirty, self._text = buf, len(buf), False, source
        altered, _ = self._substitute(buf, 0, len(source), None)
        return "".join(buf) if altered else source

    def _replace_simple(self, source: str) -> str | None:
        """The common case in one pass over the text, or None to take the full algorithm.

        With no escaped variable in the text and no value that holds a variable (or ends in
        the escape character, which would escape a variable right after it), no value is
        re-scanned and no cycle can form: each ``${...}`` is replaced by its value, its
        ``:-`` default or itself, left to right, exactly as the full algorithm does."""
        prefix, suffix, lookup = self.prefix, self.suffix, self.lookup
        out: list[str] = []
        pos = 0
        while True:
            start = source.find(prefix, pos)
            if start < 0:
                break
            end = source.find(suffix, start + len(prefix))
            if end < 0:
                break
            var_name, default = self._split_default(source[start + len(prefix):end])
            value = lookup(var_name)
            if value is None:
                value = default
            end += len(suffix)
            if value is None:
                out.append(source[pos:end])
            elif prefix in value or value.endswith(self.escape):
                return None
            else:
                out.append(source[pos:start])
                out.append(value)
            pos = end
        out.append(source[pos:])
        return "".join(out)

    def _split_default(self, var_expr: str) -> tuple[str, str | None]:
        """``name:-default`` into its parts; a nested prefix stops the search for ``:-``."""
        at = var_expr.find(self.delimiter)
        nested = var_expr.find(self.prefix)
        if at < 0 or 0 <= nested <= at:
            return var_expr, None
        return var_expr[:at], var_expr[at + len(self.delimiter):]

    def _substitute(self, buf: list[str], offset: int, length: int,
                    prior: list[str] | None) -> tuple[bool, int]:
        altered = False
        length_change = 0
        buf_end = offset + length
        pos = offset
        esc_pos = -1
        start_len = len(self.prefix)
        end_len = len(self.suffix)
        while pos < buf_end:
            found = self._find(self.prefix, buf, pos, buf_end)
            if found < 0:
                break
            pos = found
            if pos > offset and buf[pos - 1] == self.escape:
                # escape detected; the '$' is deleted only if a complete variable follows
                esc_pos = pos - 1
            start_pos = pos
            pos += start_len
            restart = False
            while pos < buf_end:
                found = self._find(self.suffix, buf, pos, buf_end)
                if found < 0:
                    pos = buf_end
                    break
                pos = found
                if esc_pos >= 0:
                    del buf[esc_pos]
                    self._dirty = True
                    esc_pos = -1
                    length_change -= 1
                    altered = True
                    buf_end -= 1
                    pos = start_pos + 1
                    start_pos -= 1
                    restart = True
                    break
                var_expr = "".join(buf[start_pos + start_len : pos])
                pos += end_len
                end_pos = pos
                var_name, default = self._split_default(var_expr)
                if prior is None:
                    prior = ["".join(buf[offset : offset + length])]  # midString(offset, length)
                if var_name in prior:
                    # StringSubstitutor.checkCyclicSubstitution
                    chain = "->".join(prior[1:])
                    raise IllegalStateError(
                        f"Infinite loop in property interpolation of {prior[0]}: {chain}")
                prior.append(var_name)
                value = self.lookup(var_name)
                if value is None:
                    value = default
                if value is not None:
                    value_len = len(value)
                    buf[start_pos:end_pos] = list(value)
                    self._dirty = True
                    altered = True
                    _, change = self._substitute(buf, start_pos, value_len, prior)
                    change += value_len - (end_pos - start_pos)
                    pos += change
                    buf_end += change
                    length_change += change
                prior.pop()
                break
            if restart:
                continue
        return altered, length_change


def _map_lookup(values: Mapping[str, str | None] | None) -> Callable[[str], str | None]:
    # StringLookupFactory.mapStringLookup: absent key or null value -> null.
    def lookup(name: str) -> str | None:
        if not values:
            return None
        value = values.get(name)
        return None if value is None else str(value)
    return lookup


def _substitute_parameters(template: str, params: Mapping[str, str | None] | None) -> str:
    return _StringSubstitutor(_map_lookup(params), _PARAMETERS_PREFIX).replace(template)


_NULL_DEFAULT_PATTERN = re.compile(r'"\$\{parameters\.([A-Za-z0-9_]+):-null}"')  # Java \w is ASCII


def _fill_null_parameters(params: Mapping[str, str | None], payload: str) -> str:
    # HttpConnector.fillNullParameters: the quoted text "${parameters.NAME:-null}" becomes a
    # bare null when NAME is absent or Java-null.
    for name in _NULL_DEFAULT_PATTERN.findall(payload):
        if params.get(name) is None:
            payload = payload.replace('"${parameters.' + name + ':-null}"', "null")
    return payload


def render_template(template: str, params: Mapping[str, str | None], *,
                    null_default_rewrite: bool = True, to_string_keys: bool = True,
                    legacy_gson: bool = False) -> str:
    """Render a ``request_body`` template: steps 1-3 of semantics 1.6.

    1. ``"${parameters.X:-null}"`` *with* its quotes -> bare ``null`` when X is absent/null
       (HttpConnector.fillNullParameters, 2.10+);
    2. ``X.toString()`` helper keys from placeholders inside values of ``P`` (2.17+);
    3. StringSubstitutor: ``${parameters.NAME}`` looked up literally (dots are part of the
       name), unknown names left verbatim, ``:-default``, values re-scanned recursively, a
       cycle raises IllegalStateError("Infinite loop in property interpolation of <template>:
       a->b"), ``$${parameters.x}`` yields the literal ``${parameters.x}``.

    URLs and headers get step 3 only (``render_url``/``render_headers``); to use this for them
    pass ``null_default_rewrite=False, to_string_keys=False``.
    """
    if template is None:
        return None  # type: ignore[return-value]
    if null_default_rewrite:
        template = _fill_null_parameters(params, template)
    if to_string_keys:
        params = add_to_string_keys(params, legacy_gson=legacy_gson)
    return _substitute_parameters(template, params)


# Connector.validatePayload builds the name list with substring(0, length - 2); if the
# payload contains "${parameters" but no complete "${parameters.NAME}" the list is empty
# and Java throws StringIndexOutOfBoundsException, which OpenSearch renders as a 500 named
# after the class.  The reason is the JDK 21+ wording of StringBuilder.substring (the JDK 17
# of OpenSearch 2.x says "start 0, end -2, length 0").  Not checked against a running cluster.


_MISSING_PATTERN = re.compile(r"\$\{parameters\.([^}]+)}")


def _validate_payload(payload: str | None) -> None:
    # Connector.validatePayload (run by RemoteConnectorExecutor after createPayload, also on
    # an http_body payload).
    if payload is None or "${parameters" not in payload:
        return
    names = _MISSING_PATTERN.findall(payload)
    if not names:
        raise StringIndexOutOfBoundsError("Range [0, -2) out of bounds for length 0")
    raise IllegalArgumentError(
        "Some parameter placeholder not filled in payload: " + ", ".join(names))


def render_payload(request_body: str | None, params: Mapping[str, str | None], *,
                   invalid_payload_style: str = "new", allow_ndjson: bool = True,
                   validate_missing: bool = True, null_default_rewrite: bool = True,
                   to_string_keys: bool = True, legacy_gson: bool = False,
                   honour_skip_parameter: bool = True) -> str | None:
    """The body of one call (semantics 1.6; HttpConnector.createPayload + validatePayload).

    With a ``request_body``: ``render_template``, then the JSON check, which comes before the
    missing-placeholder check in every release (hence a quoted missing placeholder reports the
    name while an unquoted one makes the payload invalid JSON):

    * ``invalid_payload_style="new"`` (2.12+): ``IllegalArgumentError("Invalid payload:
      <payload>")``; the check is ``looks_like_json``, or from 3.5 (``allow_ndjson``) JSON or
      NDJSON (every non-empty line JSON);
    * ``"old"`` (2.9-2.11): ``IllegalArgumentError("Invalid JSON in payload")`` and the check
      is org.json alone (``looks_like_json(..., org_json_only=True)``).

    Without a ``request_body`` the payload is ``params["http_body"]`` (possibly ``None``).
    Then, unless ``validate_missing`` is false or (2.17+)
    ``P["skip_validating_missing_parameters"]`` parses as true, any remaining ``${parameters``
    text fails with ``IllegalArgumentError("Some parameter placeholder not filled in payload:
    a, b")`` listing every ``${parameters.NAME}`` in order, duplicates included (a bare
    ``${parameters`` with no name fails as Java's StringIndexOutOfBoundsException).  Streaming
    (``stream``), ``supports_structured_output`` and ``input_processors`` rewrites are not part
    of this.
    """
    if invalid_payload_style not in ("new", "old"):
        raise ValueError("invalid_payload_style must be 'new' or 'old', "
                         f"not {invalid_payload_style!r}")
    if request_body is not None:
        payload = render_template(request_body, params, null_default_rewrite=null_default_rewrite,
                                  to_string_keys=to_string_keys, legacy_gson=legacy_gson)
        if invalid_payload_style == "old":
            if not looks_like_json(payload, org_json_only=True):
                raise IllegalArgumentError("Invalid JSON in payload")
        else:
            valid = json_or_ndjson(payload) if allow_ndjson else looks_like_json(payload)
            if not valid:
                raise IllegalArgumentError("Invalid payload: " + payload)
    else:
        payload = params.get("http_body")
    if validate_missing:
        skip = params.get("skip_validating_missing_parameters") if honour_skip_parameter else None
        if not (skip is not None and skip.lower() == "true"):  # Boolean.parseBoolean
            _validate_payload(payload)
    return payload


def render_url(url: str, params: Mapping[str, str | None]) -> str:
    """``AbstractConnector.getActionEndpoint``: StringSubstitutor over ``P``, no URL-encoding.

    With an empty ``P`` the URL is returned untouched (not even ``$$`` is unescaped).
    """
    if not params:
        return url
    return _substitute_parameters(url, params)


# ---------------------------------------------------------------------------------------------
# Headers
# ---------------------------------------------------------------------------------------------

#: AbstractConnector.BLOCKED_DYNAMIC_HEADERS (3.7+), compared lower-cased.
BLOCKED_DYNAMIC_HEADERS = frozenset({
    "authorization", "proxy-authorization", "cookie", "x-api-key", "x-auth-token",
    "x-auth-header", "x-forwarded-for", "x-real-ip", "x-client-ip", "cf-connecting-ip",
    "true-client-ip", "x-originating-ip", "host", "x-forwarded-host", "x-forwarded-server",
    "forwarded",
})
_MCP_PROTOCOLS = frozenset({"mcp_sse", "mcp_streamable_http"})
_HEADER_PLACEHOLDER = re.compile(r"\$\{parameters\.[^}]+\}")


def resolve_credential_headers(headers: Mapping[str, str | None],
                               credentials: Mapping[str, str] | None) -> dict[str, str | None]:
    """``AbstractConnector.createDecryptedHeaders`` (deploy time): ``${credential.X}`` in values.

    Same StringSubstitutor rules with prefix ``${credential.``; an unknown credential
    placeholder is left literally and later sent as is.  Header names are not substituted.
    """
    substitutor = _StringSubstitutor(_map_lookup(credentials), _CREDENTIAL_PREFIX)
    return {name: substitutor.replace(value) for name, value in (headers or {}).items()}


def validate_header_templates(headers: Mapping[str, str | None], *, protocol: str = "http") -> None:
    """``AbstractConnector.validateConnectorHeaders`` (3.7+; create, update, register, predict).

    A value containing ``${parameters.<something>}`` is refused in a blocked header (name
    compared lower-cased) and, for the MCP protocols, in every header.  Headers are visited in
    Java HashMap order, which decides the reported header when several are wrong.
    """
    if not headers:
        return
    is_mcp = protocol is not None and protocol.lower() in _MCP_PROTOCOLS
    for name in java_hashmap_order(list(headers)):
        value = headers[name]
        if value is None or not _HEADER_PLACEHOLDER.search(value):
            continue
        if is_mcp:
            raise IllegalArgumentError(
                f"Header '{name}' cannot use ${{parameters.*}} placeholders in MCP connectors.")
        if name.lower() in BLOCKED_DYNAMIC_HEADERS:
            raise IllegalArgumentError(
                f"Header '{name}' cannot use ${{parameters.*}} placeholders for security reasons. "
                "Use ${credential.*} instead.")


_HEADER_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f]")  # control characters but tab, and DEL


def _validate_substituted_headers(headers: Mapping[str, str | None]) -> None:
    # ConnectorUtils.validateSubstitutedHeaders (3.7+); sizes are Java String lengths.
    total = 0
    for name in java_hashmap_order(list(headers)):
        value = headers[name]
        if value is None:
            continue
        if _HEADER_CONTROL.search(value):
            raise IllegalArgumentError("Header value contains invalid control character")
        size = java_length(name) + java_length(value)
        if size > 8192:
            raise IllegalArgumentError("Header size (key + value) exceeds 8KB limit")
        total += size
    if total > 65536:
        raise IllegalArgumentError("Total headers size (key + value) exceeds 64KB limit")


def render_headers(headers: Mapping[str, str | None], params: Mapping[str, str | None], *,
                   predict_time_params: bool = True,
                   protocol: str = "http") -> dict[str, str | None]:
    """Headers of one call from the credential-resolved predict-action headers.

    3.7+ (``predict_time_params=True``; AbstractConnector.getHeadersWithRuntimeParameters then
    ConnectorUtils.validateSubstitutedHeaders): the blocked-name rule of
    ``validate_header_templates``; each value containing ``${parameters.`` is rendered with
    ``P`` and must not still contain ``${parameters.`` afterwards ("Header '<name>' contains
    unresolved placeholder. Required parameter is missing."); then no control character
    other than tab (DEL included), name+value <= 8192 and all headers <= 65536 UTF-16 units.

    2.9-3.6 (``predict_time_params=False``; AbstractConnector.createDecryptedHeaders): ``params``
    (the caller passes the connector's own parameters) are substituted, only when non-empty,
    and nothing is checked.  The result keeps the input order.
    """
    headers = dict(headers or {})
    if not predict_time_params:
        if not params:
            return headers
        return {name: _substitute_parameters(value, params) if value is not None else None
                for name, value in headers.items()}
    if not headers:
        return headers
    validate_header_templates(headers, protocol=protocol)
    rendered: dict[str, str | None] = dict(headers)
    for name in java_hashmap_order(list(headers)):
        value = headers[name]
        if value is not None and _PARAMETERS_PREFIX in value:
            substituted = _substitute_parameters(value, params)
            if _PARAMETERS_PREFIX in substituted:
                raise IllegalArgumentError(
                    f"Header '{name}' contains unresolved placeholder. "
                    "Required parameter is missing.")
            rendered[name] = substituted
    _validate_substituted_headers(rendered)
    return rendered
