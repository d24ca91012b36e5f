"""Hypothesis strategies for ML Commons request bodies, for downstream property-based tests.

    from hypothesis import given
    from mlcommons_emu.testing import strategies as mls

    @given(mls.connector_bodies(provider="openai"))
    def test_my_setup_code_accepts_any_valid_connector(body): ...

Valid strategies produce bodies the real plugin (and the emulator, offline) accepts as they
are; the ``invalid_*`` strategies produce bodies it refuses with a 4xx, each paired with the
reason so a test can say what it expected.
"""
from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

#: provider -> (url, request_body, pre_process, post_process, parameters, credential, protocol)
_TEMPLATES: dict[str, dict[str, Any]] = {
    "openai": {
        "protocol": "http", "url": "https://api.openai.com/v1/chat/completions",
        "request_body": '{ "model": "${parameters.model}", "messages": ${parameters.messages} }',
        "parameters": {"model": "gpt-3.5-turbo"}, "credential_key": "openAI_key",
        "headers": {"Authorization": "Bearer ${credential.openAI_key}"},
    },
    "openai_embedding": {
        "protocol": "http", "url": "https://api.openai.com/v1/embeddings",
        "request_body": '{ "input": ${parameters.input}, "model": "${parameters.model}" }',
        "parameters": {"model": "text-embedding-ada-002"}, "credential_key": "openAI_key",
        "headers": {"Authorization": "Bearer ${credential.openAI_key}"},
        "pre_process_function": "connector.pre_process.openai.embedding",
        "post_process_function": "connector.post_process.openai.embedding",
    },
    "cohere_embedding": {
        "protocol": "http", "url": "https://api.cohere.ai/v1/embed",
        "request_body": ('{ "texts": ${parameters.texts}, "truncate": "END", "model": "${parameters.model}", '
                         '"input_type": "search_document" }'),
        "parameters": {"model": "embed-english-v3.0"}, "credential_key": "cohere_key",
        "headers": {"Authorization": "Bearer ${credential.cohere_key}"},
        "pre_process_function": "connector.pre_process.cohere.embedding",
        "post_process_function": "connector.post_process.cohere.embedding",
    },
    "bedrock_titan_embedding": {
        "protocol": "aws_sigv4",
        "url": "https://bedrock-runtime.${parameters.region}.amazonaws.com/model/amazon.titan-embed-text-v1/invoke",
        "request_body": '{ "inputText": "${parameters.inputText}" }',
        "parameters": {"region": "us-east-1", "service_name": "bedrock"},
        "headers": {"content-type": "application/json", "x-amz-content-sha256": "required"},
        "pre_process_function": "connector.pre_process.bedrock.embedding",
        "post_process_function": "connector.post_process.bedrock.embedding",
    },
    "sagemaker_embedding": {
        "protocol": "aws_sigv4",
        "url": "https://runtime.sagemaker.${parameters.region}.amazonaws.com/endpoints/my-embedding/invocations",
        "request_body": "${parameters.input}",
        "parameters": {"region": "us-east-1", "service_name": "sagemaker"},
        "headers": {"content-type": "application/json"},
        "pre_process_function": "connector.pre_process.default.embedding",
        "post_process_function": "connector.post_process.default.embedding",
    },
}
PROVIDERS = tuple(_TEMPLATES)
#: which predict payload each template expects
PAYLOAD_KIND = {"openai": "chat", "openai_embedding": "text_docs", "cohere_embedding": "text_docs",
                "bedrock_titan_embedding": "text_docs", "sagemaker_embedding": "text_docs"}

names = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1,
                max_size=40).filter(lambda s: s.strip() != "")
descriptions = st.none() | st.text(max_size=80)
secrets = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", min_size=8,
                  max_size=48)


@st.composite
def connector_bodies(draw: st.DrawFn, provider: str | None = None) -> dict[str, Any]:
    """A connector ``_create`` body the plugin accepts, for one of :data:`PROVIDERS`."""
    key = provider or draw(st.sampled_from(PROVIDERS))
    t = _TEMPLATES[key]
    action: dict[str, Any] = {"action_type": "predict", "method": "POST", "url": t["url"],
                              "headers": dict(t["headers"]), "request_body": t["request_body"]}
    for field in ("pre_process_function", "post_process_function"):
        if field in t:
            action[field] = t[field]
    if t["protocol"] == "aws_sigv4":
        credential = {"access_key": "AKIA" + draw(secrets.filter(lambda s: len(s) >= 16))[:16].upper(),
                      "secret_key": draw(secrets)}
        if draw(st.booleans()):
            credential["session_token"] = draw(secrets)
    else:
        credential = {t["credential_key"]: draw(secrets)}
    body: dict[str, Any] = {"name": draw(names), "version": draw(st.sampled_from(["1", "1.0", "2"])),
                            "protocol": t["protocol"], "parameters": dict(t["parameters"]),
                            "credential": credential, "actions": [action]}
    description = draw(descriptions)
    if description is not None:
        body["description"] = description
    return body


_BREAKAGES = (
    ("no actions", lambda b: {k: v for k, v in b.items() if k != "actions"}),
    ("unknown protocol", lambda b: {**b, "protocol": "ftp"}),
    ("untrusted endpoint", lambda b: {**b, "actions": [{**b["actions"][0], "url": "https://example.com/v1"}]}),
    ("action without url", lambda b: {**b, "actions": [{k: v for k, v in b["actions"][0].items() if k != "url"}]}),
    ("actions not a list", lambda b: {**b, "actions": "predict"}),
    ("parameters not an object", lambda b: {**b, "parameters": ["model"]}),
    ("wrong action type", lambda b: {**b, "actions": [{**b["actions"][0], "action_type": "explode"}]}),
)


@st.composite
def invalid_connector_bodies(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """(what is wrong, body): a connector body the plugin refuses with a 4xx."""
    body = draw(connector_bodies())
    reason, breakage = draw(st.sampled_from(_BREAKAGES))
    return reason, breakage(body)


@st.composite
def model_group_bodies(draw: st.DrawFn, access_control: bool = False,
                       backend_roles: tuple[str, ...] = ("IT",)) -> dict[str, Any]:
    """A model group ``_register`` body; with ``access_control`` it carries valid access fields
    for a caller holding ``backend_roles`` (without it, access fields would be refused)."""
    body: dict[str, Any] = {"name": draw(names)}
    description = draw(descriptions)
    if description is not None:
        body["description"] = description
    if access_control:
        mode = draw(st.sampled_from(["public", "private", "restricted", None]))
        if mode is not None:
            body["access_mode"] = mode
        if mode in ("restricted", None) and backend_roles and draw(st.booleans()):
            body["backend_roles"] = draw(st.lists(st.sampled_from(backend_roles), min_size=1, unique=True))
        elif mode == "restricted":
            body["add_all_backend_roles"] = True
    return body


def register_bodies(connector_id: str, model_group_id: str | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """A remote model ``_register`` body using an existing connector."""
    def build(name: str, description: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {"name": name, "function_name": "remote", "connector_id": connector_id}
        if model_group_id is not None:
            body["model_group_id"] = model_group_id
        if description is not None:
            body["description"] = description
        return body
    return st.builds(build, names, descriptions)


def chat_messages() -> st.SearchStrategy[list[dict[str, str]]]:
    roles = st.sampled_from(["system", "user", "assistant"])
    text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=200)
    return st.lists(st.fixed_dictionaries({"role": roles, "content": text}), min_size=1, max_size=5).map(
        lambda ms: ms[:-1] + [{**ms[-1], "role": "user"}])


def predict_payloads(kind: str = "chat") -> st.SearchStrategy[dict[str, Any]]:
    """A ``_predict`` body: ``chat`` (``parameters.messages``) or ``text_docs`` (for the
    ``/_predict/text_embedding/{id}`` route)."""
    text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=300)
    if kind == "text_docs":
        return st.lists(text, min_size=1, max_size=8).map(lambda docs: {"text_docs": docs})
    if kind == "chat":
        return chat_messages().map(lambda ms: {"parameters": {"messages": ms}})
    raise ValueError(f"unknown payload kind {kind!r}")


def settings_updates() -> st.SearchStrategy[dict[str, Any]]:
    """A ``PUT _cluster/settings`` body toggling the ML settings that matter for remote models."""
    prefix = "plugins.ml_commons."
    keys = st.sampled_from([prefix + name for name in (
        "only_run_on_ml_node", "connector_access_control_enabled", "model_access_control_enabled",
        "allow_custom_deployment_plan")])
    # at least one setting: an update with none is refused ("no settings to update")
    toggles = st.dictionaries(keys, st.booleans(), min_size=1)
    return st.tuples(st.sampled_from(["persistent", "transient"]), toggles).map(lambda p: {p[0]: p[1]})


def json_text(value: Any) -> str:
    """The body as a client sends it (handy for raw-bytes tests)."""
    return json.dumps(value, ensure_ascii=False)
