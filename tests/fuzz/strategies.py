"""Hypothesis strategies for hostile REST requests against every route of the emulator.

A request is drawn as a :class:`Case` whose path parameters are either references to
documents that exist in the fuzz world (resolved when the case is sent, so cases stay
reproducible while ids change between worlds) or arbitrary strings.
"""
from __future__ import annotations

import json
import re
from typing import Any, Callable
from urllib.parse import quote

import attrs
from hypothesis import strategies as st

from mlcommons_emu.api.routes import ROUTES, Route

ML = "/_plugins/_ml"
METHODS = ("GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH")

#: template and expression syntaxes a hostile caller may try in any string
INJECTIONS = (
    "${parameters.x}", "${parameters.messages}", "${parameters.prompt}", "${credential.openAI_key}",
    "${credential.k}", "${parameters", "${parameters.}", "$${parameters.x}", "${parameters.x:-null}",
    "\"${parameters.x:-null}\"", "${parameters.messages.toString()}", "${parameters.${parameters.x}}",
    "${parameters.x}${parameters.x}", "${env:HOME}", "${sys:user.home}", "${jndi:ldap://127.0.0.1/a}",
    "#{7*7}", "{{7*7}}", "<%= 7*7 %>", "%s%n%x", "\\", "\"", "\"}", "'", "\u0000", "\n\r\t",
    "'; DROP TABLE mlc_documents; --", "../../etc/passwd", "\u202e\u2066", "\ufeff", "\U0001f600",
)
#: strings with a lone surrogate: legal in a JSON escape, no UTF-8 form of their own
SURROGATES = ("\ud800", "\udfff", "a\udc00b", "\ud83d", "x\ud800\ud800y")

_text = st.text(max_size=24)
unicode_text = st.one_of(
    _text,
    st.sampled_from(INJECTIONS),
    st.sampled_from(SURROGATES),
    st.text(st.characters(categories=["Cs", "Co", "Cc", "Zs", "So"]), max_size=8),
)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2 ** 70), max_value=2 ** 70),
    st.floats(allow_nan=False, allow_infinity=False), unicode_text,
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(unicode_text, children, max_size=4),
    ),
    max_leaves=10,
)


@attrs.frozen
class Ref:
    """The ``index``-th known id of a kind (connector_id, model_id ...) in the world."""

    kind: str
    index: int


@attrs.frozen
class Case:
    """One request, before the world's ids are filled in."""

    method: str
    segments: tuple[str | Ref, ...]
    query: tuple[tuple[str, str], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | Callable[[dict[str, list[str]]], bytes] = b""
    label: str = ""

    def describe(self) -> str:
        body = self.body if isinstance(self.body, bytes) else "<built from world ids>"
        shown = body[:300] if isinstance(body, bytes) else body
        return f"{self.method} {self.segments} query={self.query} headers={self.headers} body={shown!r}"


# --- paths -------------------------------------------------------------------------------

_PARAM_KIND = {"connector_id": "connector_id", "model_group_id": "model_group_id",
               "model_id": "model_id", "task_id": "task_id", "version": "version", "algorithm": "algorithm"}


def _random_segment() -> st.SearchStrategy[str]:
    return st.one_of(
        unicode_text.map(lambda s: quote(s.encode("utf-8", "surrogatepass"), safe="")),
        st.sampled_from(("_search", "_deploy", "_register", "..", ".", "%", "%ZZ", "%00", "%C0%80", "%FF",
                         "%2F", "a%2Fb", "_all", "*", "x" * 300)),
        st.integers(min_value=1, max_value=6000).map(lambda n: "a" * n),
    ).filter(lambda s: s != "")


def path_param(name: str) -> st.SearchStrategy[str | Ref]:
    kind = _PARAM_KIND.get(name, name)
    return st.one_of(st.integers(min_value=0, max_value=5).map(lambda i: Ref(kind, i)), _random_segment())


def route_segments(route: Route) -> st.SearchStrategy[tuple[str | Ref, ...]]:
    parts = [p for p in route.pattern.split("/") if p]
    drawn = [path_param(p[1:-1]) if p.startswith("{") else st.just(p) for p in parts]
    return st.tuples(*drawn) if drawn else st.just(())


# --- bodies ------------------------------------------------------------------------------

def connector_body(ids: dict[str, list[str]]) -> dict[str, Any]:
    return {
        "name": "fuzz connector", "description": "d", "version": 1, "protocol": "http",
        "parameters": {"endpoint": "api.openai.com", "model": "gpt-4o-mini", "temperature": 0.2},
        "credential": {"openAI_key": "sk-fuzz"},
        "actions": [{
            "action_type": "predict", "method": "POST",
            "url": "https://${parameters.endpoint}/v1/chat/completions",
            "headers": {"Authorization": "Bearer ${credential.openAI_key}"},
            "request_body": "{ \"model\": \"${parameters.model}\", \"messages\": ${parameters.messages} }",
        }],
        "client_config": {"max_connection": 10, "max_retry_times": 0},
    }


def register_body(ids: dict[str, list[str]]) -> dict[str, Any]:
    body: dict[str, Any] = {"name": "fuzz model", "function_name": "remote", "description": "m",
                            "connector_id": _first(ids, "connector_id")}
    if ids.get("model_group_id"):
        body["model_group_id"] = ids["model_group_id"][0]
    return body


def inline_register_body(ids: dict[str, list[str]]) -> dict[str, Any]:
    return {"name": "fuzz inline", "function_name": "remote", "connector": connector_body(ids),
            "rate_limiter": {"limit": "4", "unit": "SECONDS"}, "is_enabled": True,
            "deploy_setting": {"is_auto_deploy_enabled": True},
            "interface": {"input": "{}", "output": "{}"}, "model_node_ids": []}


def group_body(ids: dict[str, list[str]]) -> dict[str, Any]:
    return {"name": "fuzz group", "description": "g"}


def predict_body(ids: dict[str, list[str]]) -> dict[str, Any]:
    return {"parameters": {"messages": [{"role": "user", "content": "hi"}], "model": "gpt-4o-mini"}}


def text_docs_body(ids: dict[str, list[str]]) -> dict[str, Any]:
    return {"text_docs": ["a", "b"], "query_text": "q", "parameters": {"input": "x"}}


def settings_body(ids: dict[str, list[str]]) -> dict[str, Any]:
    return {"persistent": {"plugins.ml_commons.only_run_on_ml_node": False,
                           "plugins": {"ml_commons": {"max_model_on_node": 10}}},
            "transient": {"plugins.ml_commons.allow_custom_deployment_plan": False}}


def deploy_body(ids: dict[str, list[str]]) -> dict[str, Any]:
    return {"node_ids": ["node-x"]}


def undeploy_body(ids: dict[str, list[str]]) -> dict[str, Any]:
    return {"model_ids": [_first(ids, "model_id")], "node_ids": ["node-x"]}


def _first(ids: dict[str, list[str]], kind: str) -> str:
    known = ids.get(kind) or ["missing"]
    return known[0]


#: the body family of each handler: what a well-formed request to it looks like
FAMILIES: dict[str, tuple[Callable[[dict[str, list[str]]], dict[str, Any]], ...]] = {
    "create_connector": (connector_body,),
    "register_group": (group_body,),
    "update_group": (group_body,),
    "register_model": (register_body, inline_register_body),
    "predict_model": (predict_body,),
    "predict_algorithm": (predict_body, text_docs_body),
    "put_settings": (settings_body,),
    "deploy_model": (deploy_body,),
    "undeploy_model": (undeploy_body,),
}


def _key_paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to an object or array inside ``value`` (the root included)."""
    found: list[tuple[Any, ...]] = []
    if isinstance(value, dict):
        found.append(prefix)
        for key, item in value.items():
            found.extend(_key_paths(item, prefix + (key,)))
    elif isinstance(value, list):
        found.append(prefix)
        for i, item in enumerate(value):
            found.extend(_key_paths(item, prefix + (i,)))
    return found


def _at(value: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


@attrs.frozen
class Mutation:
    """Change one member of a container inside the body: replace, drop or add (unknown) it."""

    where: int  # which container (modulo how many there are)
    action: str
    key: str | int
    value: Any

    def apply(self, body: Any) -> None:
        paths = _key_paths(body)
        if not paths:
            return
        target = _at(body, paths[self.where % len(paths)])
        if isinstance(target, dict):
            keys = list(target)
            key = keys[self.key % len(keys)] if isinstance(self.key, int) and keys else self.key
            if self.action == "drop":
                target.pop(key, None)
            elif self.action == "add":
                target[f"{key}" if isinstance(key, str) else f"unknown_{key}"] = self.value
            else:
                target[key] = self.value
        elif isinstance(target, list):
            if self.action == "drop" and target:
                target.pop(int(self.key) % len(target) if isinstance(self.key, int) else 0)
            elif self.action == "add" or not target:
                target.append(self.value)
            else:
                target[(self.key if isinstance(self.key, int) else 0) % len(target)] = self.value


mutations = st.builds(
    Mutation,
    where=st.integers(min_value=0, max_value=12),
    action=st.sampled_from(("replace", "replace", "drop", "add")),
    key=st.one_of(st.integers(min_value=0, max_value=10), unicode_text),
    value=json_values,
)


def _encode_json(value: Any, ascii_only: bool) -> bytes:
    text = json.dumps(value, ensure_ascii=ascii_only, allow_nan=False)
    return text.encode("utf-8", "surrogatepass")


@st.composite
def family_bodies(draw: st.DrawFn, handler: str) -> Callable[[dict[str, list[str]]], bytes]:
    """A well-formed body of the handler's family with a few members broken or added."""
    factory = draw(st.sampled_from(FAMILIES.get(handler, (predict_body,))))
    changes = draw(st.lists(mutations, min_size=0, max_size=3))
    ascii_only = draw(st.booleans())

    def build(ids: dict[str, list[str]]) -> bytes:
        body = factory(ids)
        for change in changes:
            change.apply(body)
        return _encode_json(body, ascii_only)

    build.__qualname__ = f"{factory.__name__}+{changes!r}"
    return build


# malformed and extreme bodies -----------------------------------------------------------

MALFORMED = (
    b"{", b"}", b"[", b"]", b"{\"name\":", b"{\"name\": \"x\",}", b"{\"name\" \"x\"}", b"{'name': 'x'}",
    b"{\"name\": NaN}", b"{\"name\": Infinity}", b"{\"name\": -Infinity}", b"{\"a\":1}{\"b\":2}",
    b"{\"a\":1} x", b"{\"a\":1,\"a\":2}", b"nul", b"tru", b"-", b"01", b"1.", b".5", b"+1", b"0x10",
    b"\"unterminated", b"{\"a\":\"\\x41\"}", b"{\"a\":\"\\u12\"}", b"{\"a\":\"\\ud800\"}",
    b"{\"a\":\"\t\"}", b"// c\n{}", b"/* c */{}", b"\xef\xbb\xbf{}", b"\xff\xfe{\x00}\x00", b"\x00",
    b"\xff", b"{\"name\":\"\xff\"}", b"{\"name\":\"\xed\xa0\x80\"}", b"{\"name\":\"\xc0\x80\"}",
    b"   ", b"\n", b"null", b"true", b"123", b"\"s\"", b"[]", b"[1,2]", b"{}", b"{\"\":\"\"}",
    b"{\"a\":1e999}", b"{\"a\":-1e999}", b"{\"a\":1e-999}", b"{\"a\":" + b"9" * 5000 + b"}",
    b"{\"a\":" + b"1" * 1001 + b"}", b"{\"a\":0." + b"1" * 1200 + b"}",
    b"{\"name\":\"" + b"\\ud800" * 3 + b"\"}", b"<xml/>", b"a=1&b=2",
)


def deep(depth: int, kind: str) -> bytes:
    if kind == "array":
        return b"[" * depth + b"]" * depth
    return b"{\"a\":" * depth + b"1" + b"}" * depth


def deep_inside(depth: int, kind: str, field: str) -> bytes:
    """A deep value inside an otherwise plausible body."""
    return b"{\"name\":\"n\",\"" + field.encode() + b"\":" + deep(depth, kind) + b"}"


def truncated(value: Any, cut: int) -> bytes:
    data = json.dumps(value).encode()
    return data[: cut % max(len(data), 1)]


DEPTHS = (998, 999, 1000, 1001, 1002, 5000, 10_000)

extreme_bodies = st.one_of(
    st.sampled_from(MALFORMED),
    st.binary(max_size=64),
    st.builds(deep, st.sampled_from(DEPTHS), st.sampled_from(("array", "object"))),
    st.builds(deep_inside, st.sampled_from(DEPTHS), st.sampled_from(("array", "object")),
              st.sampled_from(("parameters", "description", "connector", "persistent", "node_ids"))),
    st.builds(truncated, json_values, st.integers(min_value=0, max_value=400)),
    st.builds(lambda n, field: json.dumps({"name": "x", field: "y" * n}).encode(),
              st.sampled_from((10_000, 300_000, 2_000_000)),
              st.sampled_from(("name", "description", "x", "parameters"))),
    json_values.map(lambda v: json.dumps(v).encode()),
)


# headers and query ----------------------------------------------------------------------

CONTENT_TYPES = (
    "application/json", "application/json", "application/json", "application/json; charset=UTF-8",
    "APPLICATION/JSON", "application/x-ndjson", "application/vnd.opensearch+json;compatible-with=7",
    "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
    "application/yaml", "application/smile", "application/cbor", "application/json; charset=latin1",
    "json", "", ";", "application/", "*/*", "application/json\u00e9",
)
_header_names = st.sampled_from(("X-Opaque-Id", "Accept", "Accept-Encoding", "User-Agent", "Authorization",
                                 "Content-Encoding", "X-Forwarded-For", "Cookie", "x-amz-date", "Expect"))
_header_values = st.one_of(unicode_text.map(lambda s: s.encode("utf-8", "replace").decode("latin-1")),
                           st.sampled_from(("gzip", "deflate", "identity", "100-continue", "Basic ###")))


@st.composite
def header_sets(draw: st.DrawFn) -> tuple[tuple[str, str], ...]:
    headers: list[tuple[str, str]] = []
    content_type = draw(st.one_of(st.none(), st.sampled_from(CONTENT_TYPES)))
    if content_type is not None:
        headers.append(("Content-Type", content_type))
    headers.extend(draw(st.lists(st.tuples(_header_names, _header_values), max_size=2)))
    if draw(st.integers(min_value=0, max_value=24)) == 0:
        headers.append(("X-Huge", "h" * draw(st.sampled_from((8000, 8200, 20_000)))))
    return tuple(headers)


QUERY_KEYS = ("deploy", "flat_settings", "include_defaults", "pretty", "error_trace", "return_content",
              "filter_path", "human")
query_sets = st.lists(
    st.tuples(st.sampled_from(QUERY_KEYS),
              st.one_of(st.sampled_from(("", "true", "false", "TRUE", "1", "yes")), unicode_text)),
    max_size=2,
).map(tuple)


# whole requests -------------------------------------------------------------------------

def _handler_name(route: Route) -> str:
    return route.handler.__name__


@st.composite
def route_cases(draw: st.DrawFn, routes: tuple[Route, ...] = ROUTES, *, body_kinds: tuple[str, ...] = (
        "family", "family", "family", "extreme", "none")) -> Case:
    """Any route, usually with its own method and a family body, sometimes anything at all."""
    route = draw(st.sampled_from(routes))
    method = route.methods[0] if draw(st.integers(min_value=0, max_value=7)) else draw(st.sampled_from(METHODS))
    segments = draw(route_segments(route))
    kind = draw(st.sampled_from(body_kinds))
    body: bytes | Callable[[dict[str, list[str]]], bytes]
    if kind == "family":
        body = draw(family_bodies(_handler_name(route)))
    elif kind == "extreme":
        body = draw(extreme_bodies)
    else:
        body = b""
    headers = draw(header_sets())
    if kind != "none" and not any(k == "Content-Type" for k, _ in headers) and draw(st.booleans()):
        headers = (("Content-Type", "application/json"),) + headers
    return Case(method, segments, draw(query_sets), headers, body, label=_handler_name(route))


def routes_of(*handlers: str) -> tuple[Route, ...]:
    return tuple(r for r in ROUTES if _handler_name(r) in handlers)


_SAFE_NAME = re.compile(r"[^A-Za-z0-9_]")


def family_cases(*handlers: str) -> st.SearchStrategy[Case]:
    """Requests with the route's own method and JSON content type: the body is what varies."""
    @st.composite
    def build(draw: st.DrawFn) -> Case:
        route = draw(st.sampled_from(routes_of(*handlers)))
        segments = draw(route_segments(route))
        body = draw(family_bodies(_handler_name(route)))
        query = draw(query_sets) if draw(st.booleans()) else ()
        return Case(route.methods[0], segments, query, (("Content-Type", "application/json"),), body,
                    label=_handler_name(route))
    return build()


@st.composite
def injection_cases(draw: st.DrawFn) -> Case:
    """Template syntax in predict parameters and in the connector fields that are templates."""
    payload = draw(st.lists(st.sampled_from(INJECTIONS), min_size=1, max_size=3).map("".join))
    target = draw(st.sampled_from(("predict", "predict_text_docs", "connector_url", "connector_header",
                                   "connector_body", "connector_params")))
    if target.startswith("predict"):
        names = draw(st.lists(st.sampled_from(("messages", "model", "x", "prompt", "endpoint", "input",
                                               "http_body", "charset", payload)), min_size=1, max_size=3))
        if target == "predict":
            segments = (("_plugins", "_ml", "models", Ref("model_id", draw(st.integers(0, 3))), "_predict"))
            body: Any = {"parameters": {name: payload for name in names}}
        else:
            algorithm = draw(st.sampled_from(("text_embedding", "text_similarity", "remote")))
            segments = ("_plugins", "_ml", "_predict", algorithm, Ref("model_id", draw(st.integers(0, 3))))
            body = {"text_docs": [payload, "b"], "query_text": payload, "parameters": {n: payload for n in names}}
        return Case("POST", segments, (), (("Content-Type", "application/json"),),
                    _encode_json(body, True), label=target)
    connector = connector_body({})
    action = connector["actions"][0]
    if target == "connector_url":
        action["url"] = "https://api.openai.com/" + payload
    elif target == "connector_header":
        action["headers"] = {"Authorization": payload, payload[:20] or "h": "v"}
    elif target == "connector_body":
        action["request_body"] = payload
    else:
        connector["parameters"] = {"endpoint": payload, "messages": payload}
    if draw(st.booleans()):
        segments = ("_plugins", "_ml", "connectors", "_create")
        body = connector
    else:
        segments = ("_plugins", "_ml", "models", "_register")
        body = {"name": "inj", "function_name": "remote", "connector": connector}
    query = (("deploy", "true"),) if draw(st.booleans()) else ()
    return Case("POST", segments, query, (("Content-Type", "application/json"),), _encode_json(body, True),
                label=target)


# chains: a fuzzed connector, registered and predicted ------------------------------------

_URLS = ("https://api.openai.com/v1/chat/completions", "https://${parameters.endpoint}/v1/chat/completions",
         "https://api.openai.com:99999/v1", "https://[::1]/v1", "http://127.0.0.1/v1", "file:///etc/passwd",
         "ftp://api.openai.com/", "https://user:pw@api.openai.com/v1", "https://api.openai.com/v1#f?x",
         "https://api.openai.com/${parameters.path}", "https://api.openai.com/%ZZ", "api.openai.com/v1",
         "https://api.cohere.ai/v1/embed", "https://runtime.sagemaker.us-east-1.amazonaws.com/endpoints/e/invocations",
         "https://bedrock-runtime.us-east-1.amazonaws.com/model/m/invoke", "")
_PROCESS = ("connector.pre_process.openai.embedding", "connector.pre_process.cohere.embedding",
            "connector.post_process.openai.embedding", "connector.post_process.cohere.embedding",
            "connector.pre_process.default.embedding", "connector.post_process.default.embedding",
            "connector.pre_process.bedrock.embedding", "connector.post_process.bedrock.embedding",
            "connector.pre_process.nope", "return params;", "def x = ;", "params.text_docs[0]", "",
            "\n    StringBuilder b = new StringBuilder(); return b.toString();\n")
_BODIES = ("{ \"model\": \"${parameters.model}\", \"messages\": ${parameters.messages} }",
           "{\"input\": ${parameters.input}}", "{\"input\": \"${parameters.input}\"}", "not json ${parameters.x}",
           "${parameters.http_body}", "{\"a\": \"${parameters.missing:-null}\"}", "[1, 2", "",
           "{\"texts\": ${parameters.texts}}", "{\"a\":1}\n{\"b\":2}", "{\"p\": \"${parameters.prompt.toString()}\"}")
_FILTERS = ("$.choices[0].message", "$[", "$..*", "$.a[?(@.b)]", "$.data[*].embedding", "$", "", "x")


@st.composite
def odd_connectors(draw: st.DrawFn) -> dict[str, Any]:
    connector = connector_body({})
    action = connector["actions"][0]
    if draw(st.integers(min_value=0, max_value=2)) == 0:
        action["url"] = draw(st.sampled_from(_URLS))
    if draw(st.integers(min_value=0, max_value=2)) == 0:
        action["method"] = draw(st.sampled_from(("POST", "GET", "PUT", "DELETE", "PATCH", "post", " POST")))
    if draw(st.integers(min_value=0, max_value=2)) == 0:
        action["request_body"] = draw(st.one_of(st.sampled_from(_BODIES), unicode_text))
    if draw(st.booleans()):
        action["pre_process_function"] = draw(st.sampled_from(_PROCESS))
    if draw(st.booleans()):
        action["post_process_function"] = draw(st.sampled_from(_PROCESS))
    if draw(st.booleans()):
        action["headers"] = draw(st.dictionaries(unicode_text, unicode_text, max_size=2))
    connector["parameters"].update(draw(st.dictionaries(
        st.sampled_from(("response_filter", "input", "texts", "path", "charset", "endpoint", "prompt")),
        st.one_of(st.sampled_from(_FILTERS), json_values), max_size=3)))
    if draw(st.booleans()):
        connector["client_config"] = draw(st.dictionaries(
            st.sampled_from(("max_connection", "connection_timeout", "read_timeout", "max_retry_times",
                             "retry_backoff_policy", "skip_ssl_verification")),
            st.one_of(st.integers(min_value=-5, max_value=5), unicode_text, st.booleans()), max_size=3))
    for change in draw(st.lists(mutations, max_size=1)):
        change.apply(connector)
    return connector


@st.composite
def chains(draw: st.DrawFn) -> tuple[Case, ...]:
    """Create an odd connector, register a model on it (maybe deploying), then predict with it."""
    json_type = (("Content-Type", "application/json"),)
    connector = draw(odd_connectors())
    inline = draw(st.booleans())
    steps: list[Case] = []
    if inline:
        register: dict[str, Any] = {"name": "chain", "function_name": "remote", "connector": connector}
    else:
        steps.append(Case("POST", ("_plugins", "_ml", "connectors", "_create"), (), json_type,
                          _encode_json(connector, True), label="create_connector"))
        register = {"name": "chain", "function_name": "remote", "connector_id": "${latest_connector}"}
    query = (("deploy", "true"),) if draw(st.booleans()) else ()
    steps.append(Case("POST", ("_plugins", "_ml", "models", "_register"), query, json_type,
                      _encode_json(register, True), label="register_model"))
    predict = draw(st.one_of(
        st.builds(lambda p: {"parameters": {"messages": [{"role": "user", "content": "hi"}], **p}}, st.dictionaries(
            st.sampled_from(("input", "texts", "prompt", "response_filter", "charset")), json_values, max_size=2)),
        st.builds(lambda p: {"parameters": p}, st.dictionaries(
            st.sampled_from(("messages", "model", "input", "texts", "prompt", "endpoint", "path", "http_body")),
            json_values, max_size=3)),
        st.just({"text_docs": ["a", "b"]}),
        json_values))
    route = draw(st.sampled_from((("models", Ref("model_id", -1), "_predict"),
                                  ("_predict", "text_embedding", Ref("model_id", -1)),
                                  ("_predict", "text_similarity", Ref("model_id", -1)))))
    steps.append(Case("POST", ("_plugins", "_ml") + route, (), json_type, _encode_json(predict, True),
                      label="predict"))
    return tuple(steps)


def _basic(text: str) -> str:
    import base64

    return "Basic " + base64.b64encode(text.encode("utf-8", "surrogatepass")).decode()


authorizations = st.one_of(
    st.just(_basic("admin:admin")),
    st.builds(_basic, unicode_text),
    st.builds(lambda user, password: _basic(f"{user}:{password}"), st.sampled_from(("admin", "", "x")),
              unicode_text),
    unicode_text.map(lambda s: "Basic " + s.encode("utf-8", "replace").decode("latin-1")),
    st.sampled_from(("", "Basic", "basic YWRtaW46YWRtaW4=", "Bearer abc", "Basic ====", "Basic YWRtaW4=")),
)


@st.composite
def authorized_cases(draw: st.DrawFn) -> Case:
    case = draw(route_cases())
    return attrs.evolve(case, headers=case.headers + (("Authorization", draw(authorizations)),))


_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def wire_safe(case: Case) -> Case:
    """Headers an HTTP/1.1 parser accepts (control characters replaced, no repeats): malformed
    framing is refused by the HTTP codec before any handler, which the HTTP tests cover apart."""
    seen: set[str] = set()
    headers = []
    for name, value in case.headers:
        if name.lower() in seen:
            continue  # a repeated header: the HTTP codec's business too
        seen.add(name.lower())
        headers.append((name, _CONTROL.sub("?", value.encode("latin-1", "replace").decode("latin-1"))))
    return attrs.evolve(case, headers=tuple(headers))


# a hostile string in place of each string the body carries ------------------------------

HOSTILE_STRINGS = SURROGATES + INJECTIONS + ("", " ", "\x00", "a\x00b", "\u0085\u2028", "x" * 100_000,
                                             "null", "true", "-1", "1e999", "[]", "{}", "\"x\"")


def _string_leaves(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, str):
        return [prefix]
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in _string_leaves(item, prefix + (key,))]
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in _string_leaves(item, prefix + (i,))]
    return []


@st.composite
def hostile_leaf_cases(draw: st.DrawFn, *handlers: str) -> Case:
    """A well-formed body of the route with one of its strings (an id, a name, a template,
    a parameter ...) replaced by a hostile one."""
    route = draw(st.sampled_from(routes_of(*handlers)))
    factory = draw(st.sampled_from(FAMILIES.get(_handler_name(route), (predict_body,))))
    which = draw(st.integers(min_value=0, max_value=40))
    hostile = draw(st.one_of(st.sampled_from(HOSTILE_STRINGS), unicode_text))

    def build(ids: dict[str, list[str]]) -> bytes:
        body = factory(ids)
        leaves = _string_leaves(body)
        if leaves:
            path = leaves[which % len(leaves)]
            _at(body, path[:-1])[path[-1]] = hostile
        return _encode_json(body, True)

    build.__qualname__ = f"{factory.__name__}[string {which}]={hostile[:40]!r}"
    return Case(route.methods[0], draw(route_segments(route)), (), (("Content-Type", "application/json"),),
                build, label=_handler_name(route))


# --- search bodies --------------------------------------------------------------------------
SEARCH_FIELDS = ("name", "name.keyword", "model_state", "algorithm", "created_time", "version", "latest_version",
                 "parameters", "parameters.endpoint", "owner.name.keyword", "description", "is_hidden", "nope",
                 "connector.credential", "credential", "_id", "state", "task_type")
QUERY_NAMES = ("match_all", "match_none", "term", "terms", "match", "match_phrase", "multi_match", "ids", "range",
               "exists", "prefix", "wildcard", "bool", "constant_score", "nested", "query_string", "fuzzy", "")


@st.composite
def search_queries(draw: st.DrawFn, depth: int = 0) -> Any:
    """A query-DSL-shaped value: mostly well formed, with wrong types and names mixed in."""
    name = draw(st.sampled_from(QUERY_NAMES))
    field = draw(st.sampled_from(SEARCH_FIELDS))
    value = draw(st.one_of(json_values, unicode_text, st.integers(), st.sampled_from(("now-1d", "DEPLOYED", "*a?")),
                           st.dictionaries(st.sampled_from(("value", "query", "gte", "lt", "boost", "operator",
                                                            "minimum_should_match", "case_insensitive", "x")),
                                           json_values, max_size=3)))
    if name == "bool" and depth < 3:
        clauses = st.lists(search_queries(depth + 1), max_size=3)
        body = {k: draw(clauses) for k in draw(st.lists(st.sampled_from(("must", "filter", "should", "must_not")),
                                                         max_size=3, unique=True))}
        if draw(st.booleans()):
            body["minimum_should_match"] = draw(st.one_of(st.integers(-3, 3), st.sampled_from(("50%", "x"))))
        return {"bool": body}
    if name in ("constant_score", "nested") and depth < 3:
        inner = draw(search_queries(depth + 1))
        return {name: {"filter" if name == "constant_score" else "query": inner, "path": "owner"}}
    if name == "exists":
        return {name: {"field": draw(st.one_of(st.sampled_from(SEARCH_FIELDS), json_values))}}
    if name == "ids":
        return {name: {"values": draw(st.one_of(st.lists(unicode_text, max_size=3), json_values))}}
    if name == "multi_match":
        return {name: {"query": value, "fields": draw(st.lists(st.sampled_from(SEARCH_FIELDS), max_size=3))}}
    if name == "terms":
        return {name: {field: draw(st.one_of(st.lists(json_values, max_size=3), json_values))}}
    return {name: {field: value}} if draw(st.integers(0, 9)) else draw(json_values)


@st.composite
def search_cases(draw: st.DrawFn) -> Case:
    kind = draw(st.sampled_from(("connectors", "model_groups", "models", "tasks")))
    body: dict[str, Any] = {}
    if draw(st.integers(0, 5)):
        body["query"] = draw(search_queries())
    for key, values in (("from", st.integers(-2, 10_005)), ("size", st.integers(-2, 10_005)),
                        ("sort", st.lists(st.one_of(st.sampled_from(SEARCH_FIELDS + ("_score", "_doc")),
                                                    st.dictionaries(st.sampled_from(SEARCH_FIELDS),
                                                                    st.sampled_from(("asc", "desc", "up")),
                                                                    max_size=1)), max_size=2)),
                        ("_source", st.one_of(st.booleans(), st.lists(st.sampled_from(SEARCH_FIELDS + ("*",)),
                                                                      max_size=2))),
                        ("track_total_hits", st.one_of(st.booleans(), st.integers(-2, 5))),
                        ("aggs", json_values), ("bogus", json_values)):
        if draw(st.integers(0, 4)) == 0:
            body[key] = draw(values)
    method = draw(st.sampled_from(("GET", "POST")))
    return Case(method, ("_plugins", "_ml", kind, "_search"), (), (("Content-Type", "application/json"),),
                _encode_json(body, draw(st.booleans())), label=f"search_{kind}")
