"""Deterministic in-process fake of Yandex Cloud AI Studio (llm.api.cloud.yandex.net).

* ``POST /foundationModels/v1/textEmbedding``: ``{"modelUri": "emb://<folder>/text-search-doc/latest",
  "text": "..."}`` -> ``{"embedding": [...], "numTokens": "7", "modelVersion": "..."}`` -- what the
  legacy ML Commons blueprint sends (and reads with the bedrock embedding post-process).
* ``POST /foundationModels/v1/completion``: ``{"modelUri": "gpt://<folder>/yandexgpt/latest",
  "completionOptions": {...}, "messages": [{"role", "text"}]}`` -> ``{"result": {"alternatives",
  "usage", "modelVersion"}}``.
* ``POST /v1/embeddings``: the OpenAI-compatible embeddings API of the standard blueprint.

``Authorization: Api-Key <key>`` or ``Bearer <IAM token>``.  Proto3 JSON conventions hold:
int64 counts are strings, camelCase or snake_case field names.  Text embeddings have 256
dimensions.  Errors use the API gateway's ``{"error": {"grpcCode", "httpCode", "message",
"httpStatus", "details"}}`` envelope; their texts are best guesses (``# UNSURE``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from .aws import deterministic_uuid
from .base import (
    ListedHosts,
    ProviderRequest,
    ProviderResponse,
    Recorder,
    Script,
    count_tokens,
    delayed,
    hash_unit_vector,
    received,
    rejects_key,
)

__all__ = ["FakeYandex", "YandexError"]

# UNSURE: the texts below keep the gateway's envelope and codes; the wording is a guess
MISSING_AUTH_MESSAGE = "The request is missing an Authorization header with an API key or IAM token"
UNKNOWN_KEY_MESSAGE = "Unknown api key '{key}'"
INVALID_TOKEN_MESSAGE = "The token is invalid"
NOT_FOUND_MESSAGE = "Not Found"
JSON_MESSAGE = "proto: syntax error: {detail}"
UNKNOWN_FIELD_MESSAGE = 'proto: unknown field "{field}"'
FIELD_TYPE_MESSAGE = 'proto: invalid value for {kind} type: {value}'
MODEL_URI_REQUIRED_MESSAGE = "modelUri is required"
MODEL_URI_MESSAGE = "Invalid model uri: {uri}"
FOLDER_MESSAGE = "Invalid folder id: {folder}"
MODEL_NOT_FOUND_MESSAGE = "Model {uri} not found"
TEXT_REQUIRED_MESSAGE = "text must not be empty"
MESSAGES_REQUIRED_MESSAGE = "messages must not be empty"
ROLE_MESSAGE = "Invalid message role: {role}. Allowed roles: system, user, assistant"
TOKEN_LIMIT_MESSAGE = "Number of input tokens must be no more than {limit}, got {count}"
MAX_TOKENS_MESSAGE = "maxTokens must be positive"
RATE_LIMIT_MESSAGE = "ai.textEmbedding.count gauge quota limit exceed: allowed 10 requests"
INTERNAL_MESSAGE = "Internal server error"

_GRPC = {400: (3, "Bad Request"), 401: (16, "Unauthorized"), 403: (7, "Forbidden"), 404: (5, "Not Found"),
         429: (8, "Too Many Requests"), 500: (13, "Internal Server Error"), 503: (14, "Service Unavailable")}
_URI_RE = re.compile(r"^(?P<scheme>emb|gpt)://(?P<folder>[^/]+)/(?P<model>[^/]+?)(?:/(?P<version>[^/]+))?$")
_FOLDER_RE = re.compile(r"^[a-z][a-z0-9]{19}$")
_VERSION_RE = re.compile(r"^(latest|rc|deprecated|\d{8})$")
_EMBED_MODELS: dict[str, int] = {"text-search-doc": 256, "text-search-query": 256}
_CHAT_MODELS = frozenset({
    "yandexgpt", "yandexgpt-lite", "yandexgpt-32k", "llama", "llama-lite", "qwen3-235b-a22b-fp8",
    "gpt-oss-120b", "gpt-oss-20b", "gemma-3-27b-it",
})
_EMBED_VERSION = "06.12.2023"
_CHAT_VERSION = "23.10.2024"
_TOKEN_LIMIT = 2048
_ROLES = ("system", "user", "assistant")


class YandexError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def body(self) -> dict[str, Any]:
        grpc, http_status = _GRPC.get(self.status, (2, "Unknown"))
        return {"error": {"grpcCode": grpc, "httpCode": self.status, "message": self.message,
                          "httpStatus": http_status, "details": []}}


def _bad(message: str) -> YandexError:
    return YandexError(400, message)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def _fields(body: Mapping[str, Any], allowed: Iterable[str]) -> dict[str, Any]:
    """camelCase the keys (proto3 JSON takes both spellings) and refuse unknown ones."""
    allowed = set(allowed)
    out = {}
    for key, value in body.items():
        name = key if key in allowed else _camel(key)
        if name not in allowed:
            raise _bad(UNKNOWN_FIELD_MESSAGE.format(field=key))
        out[name] = value
    return out


def _int64(value: Any, field: str) -> int | None:
    """An int64 in proto3 JSON: a number or a decimal string."""
    if value is None:
        return None
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value):
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise _bad(FIELD_TYPE_MESSAGE.format(kind="int64", value=json.dumps(value)))


class FakeYandex(ListedHosts):
    """Strict, deterministic stand-in for https://llm.api.cloud.yandex.net.

    api_keys: when given, only these API keys / IAM tokens are accepted; by default any
    non-empty one passes but an unresolved ``${credential.*}`` placeholder.  folders: when
    given, only these folder ids (others: 403).
    """

    name = "yandex"
    hosts: tuple[str, ...] = ("llm.api.cloud.yandex.net",)

    def __init__(self, *, api_keys: Iterable[str] | None = None, folders: Iterable[str] | None = None,
                 recorder_size: int = 1000) -> None:
        self.recorder = Recorder(recorder_size)
        self.script = Script()
        self.api_keys = frozenset(api_keys) if api_keys is not None else None
        self.folders = frozenset(folders) if folders is not None else None
        self._routes = {
            "/foundationModels/v1/textEmbedding": self._text_embedding,
            "/foundationModels/v1/completion": self._completion,
            "/v1/embeddings": self._openai_embeddings,
        }

    async def handle(self, request: ProviderRequest) -> ProviderResponse:
        request, scripted = await received(self, request)
        if scripted is not None:
            return scripted
        try:
            payload = self._dispatch(request)
        except YandexError as err:
            return ProviderResponse.json(err.status, err.body(), self._headers(request))
        return ProviderResponse.json(200, payload, self._headers(request))

    @staticmethod
    def _headers(request: ProviderRequest) -> dict[str, str]:
        return {"x-request-id": deterministic_uuid("yandex", request.url, request.body.hex()),
                "x-server-trace-id": deterministic_uuid("yandex-trace", request.url, request.body.hex())
                .replace("-", "")[:16]}

    def _dispatch(self, request: ProviderRequest) -> Any:
        handler = self._routes.get(request.path.rstrip("/"))
        if handler is None or request.method != "POST":
            raise YandexError(404, NOT_FOUND_MESSAGE)
        auth = request.headers.get("Authorization", "").strip()
        scheme, _, key = auth.partition(" ")
        key = key.strip()
        if not auth or scheme.lower() not in ("api-key", "bearer") or not key:
            raise YandexError(401, MISSING_AUTH_MESSAGE)
        if rejects_key(key, self.api_keys):
            raise YandexError(401, UNKNOWN_KEY_MESSAGE.format(key=key) if scheme.lower() == "api-key"
                              else INVALID_TOKEN_MESSAGE)
        try:
            body = json.loads(request.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise _bad(JSON_MESSAGE.format(detail=exc)) from None
        if not isinstance(body, dict):
            raise _bad(JSON_MESSAGE.format(detail="expected a JSON object"))
        return handler(body)

    # ------------------------------------------------------------ models

    def _model(self, uri: Any, scheme: str, catalogue: Iterable[str]) -> str:
        if uri is None or uri == "":
            raise _bad(MODEL_URI_REQUIRED_MESSAGE)
        if not isinstance(uri, str):
            raise _bad(FIELD_TYPE_MESSAGE.format(kind="string", value=json.dumps(uri)))
        m = _URI_RE.match(uri)
        if m is None or m.group("scheme") != scheme or (m.group("version") and not _VERSION_RE.match(
                m.group("version"))):
            raise _bad(MODEL_URI_MESSAGE.format(uri=uri))
        folder = m.group("folder")
        if not _FOLDER_RE.match(folder):
            raise _bad(FOLDER_MESSAGE.format(folder=folder))
        if self.folders is not None and folder not in self.folders:
            raise YandexError(403, f"Permission denied to folder {folder}")  # UNSURE
        if m.group("model") not in catalogue:
            raise YandexError(404, MODEL_NOT_FOUND_MESSAGE.format(uri=uri))
        return m.group("model")

    @staticmethod
    def _embed(model: str, text: str) -> tuple[list[float], int]:
        tokens = count_tokens(text)
        if tokens > _TOKEN_LIMIT:
            raise _bad(TOKEN_LIMIT_MESSAGE.format(limit=_TOKEN_LIMIT, count=tokens))
        vec = hash_unit_vector(f"yandex-embedding\0{model}", text, _EMBED_MODELS[model])
        return [round(v, 9) for v in vec], tokens

    # ------------------------------------------------------------ operations

    def _text_embedding(self, body: dict[str, Any]) -> Any:
        body = _fields(body, ("modelUri", "text"))
        model = self._model(body.get("modelUri"), "emb", _EMBED_MODELS)
        text = body.get("text")
        if text is not None and not isinstance(text, str):
            raise _bad(FIELD_TYPE_MESSAGE.format(kind="string", value=json.dumps(text)))
        if not text:
            raise _bad(TEXT_REQUIRED_MESSAGE)
        vector, tokens = self._embed(model, text)
        return {"embedding": vector, "numTokens": str(tokens), "modelVersion": _EMBED_VERSION}

    def _openai_embeddings(self, body: dict[str, Any]) -> Any:
        unknown = set(body) - {"input", "model", "encoding_format", "dimensions", "user"}
        if unknown:
            raise _bad(UNKNOWN_FIELD_MESSAGE.format(field=sorted(unknown)[0]))
        uri = body.get("model")
        model = self._model(uri, "emb", _EMBED_MODELS)
        raw = body.get("input")
        texts = [raw] if isinstance(raw, str) else raw
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) and t for t in texts):
            raise _bad(TEXT_REQUIRED_MESSAGE)
        if body.get("encoding_format") not in (None, "float"):
            raise _bad(FIELD_TYPE_MESSAGE.format(kind="encoding_format", value=json.dumps(body["encoding_format"])))
        data, total = [], 0
        for index, text in enumerate(texts):
            vector, tokens = self._embed(model, text)
            data.append({"object": "embedding", "index": index, "embedding": vector})
            total += tokens
        return {"object": "list", "data": data, "model": uri, "usage": {"prompt_tokens": total,
                                                                         "total_tokens": total}}

    def _completion(self, body: dict[str, Any]) -> Any:
        body = _fields(body, ("modelUri", "completionOptions", "messages", "tools", "jsonObject", "jsonSchema",
                              "parallelToolCalls", "toolChoice"))
        model = self._model(body.get("modelUri"), "gpt", _CHAT_MODELS)
        options = body.get("completionOptions") or {}
        if not isinstance(options, dict):
            raise _bad(FIELD_TYPE_MESSAGE.format(kind="CompletionOptions", value=json.dumps(options)))
        options = _fields(options, ("stream", "temperature", "maxTokens", "reasoningOptions"))
        max_tokens = _int64(options.get("maxTokens"), "maxTokens")
        if max_tokens is not None and max_tokens < 1:
            raise _bad(MAX_TOKENS_MESSAGE)
        temperature = options.get("temperature")
        if temperature is not None and (not isinstance(temperature, (int, float)) or isinstance(temperature, bool)):
            raise _bad(FIELD_TYPE_MESSAGE.format(kind="double", value=json.dumps(temperature)))
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise _bad(MESSAGES_REQUIRED_MESSAGE)
        prompt_tokens = 0
        last_user = ""
        for message in messages:
            if not isinstance(message, dict):
                raise _bad(FIELD_TYPE_MESSAGE.format(kind="Message", value=json.dumps(message)))
            message = _fields(message, ("role", "text", "toolCallList", "toolResultList"))
            role = message.get("role")
            if role not in _ROLES:
                raise _bad(ROLE_MESSAGE.format(role=role))
            text = message.get("text")
            if text is not None and not isinstance(text, str):
                raise _bad(FIELD_TYPE_MESSAGE.format(kind="string", value=json.dumps(text)))
            prompt_tokens += count_tokens(text or "")
            if role == "user":
                last_user = text or ""
        context = 32_000 if model == "yandexgpt-32k" else 8_000
        if prompt_tokens > context:
            raise _bad(TOKEN_LIMIT_MESSAGE.format(limit=context, count=prompt_tokens))
        flat = " ".join(last_user.split())
        excerpt = flat if len(flat) <= 200 else flat[:197].rstrip() + "..."
        text = f'This is a deterministic response from the fake YandexGPT service to: "{excerpt}"'
        status = "ALTERNATIVE_STATUS_FINAL"
        if max_tokens is not None and count_tokens(text) > max_tokens:
            words = text.split(" ")
            while words and count_tokens(" ".join(words)) > max_tokens:
                words.pop()
            text, status = " ".join(words), "ALTERNATIVE_STATUS_TRUNCATED_FINAL"
        completion_tokens = count_tokens(text)
        return {"result": {
            "alternatives": [{"message": {"role": "assistant", "text": text}, "status": status}],
            "usage": {"inputTextTokens": str(prompt_tokens), "completionTokens": str(completion_tokens),
                      "totalTokens": str(prompt_tokens + completion_tokens),
                      "completionTokensDetails": {"reasoningTokens": "0"}},
            "modelVersion": _CHAT_VERSION,
        }}

    # ------------------------------------------------------- canned replies for Script

    @staticmethod
    def error_response(status: int, message: str) -> ProviderResponse:
        return ProviderResponse.json(status, YandexError(status, message).body())

    @classmethod
    def rate_limit_response(cls) -> ProviderResponse:
        return cls.error_response(429, RATE_LIMIT_MESSAGE)

    @classmethod
    def server_error_response(cls) -> ProviderResponse:
        return cls.error_response(500, INTERNAL_MESSAGE)

    delayed = staticmethod(delayed)
