"""Deterministic in-process fake of the Aleph Alpha API (api.aleph-alpha.com).

* ``POST /semantic_embed``: ``{"model": "luminous-base", "prompt": ..., "representation":
  "symmetric" | "document" | "query", "compress_to_size": 128?, "normalize": bool?}`` ->
  ``{"model_version", "embedding", "num_tokens_prompt_total"}`` -- what ML Commons' Aleph
  Alpha blueprint sends; luminous-base embeds to 5120 dimensions (128 compressed).
* ``POST /batch_semantic_embed``: ``{"prompts": [...], ...}`` -> ``{"model_version",
  "embeddings", "num_tokens_prompt_total"}``.
* ``POST /complete``: ``{"model", "prompt", "maximum_tokens", ...}`` -> ``{"model_version",
  "completions": [{"completion", "finish_reason"}], "num_tokens_prompt_total",
  "num_tokens_generated"}``.

Bearer-token authentication.  Errors are ``{"error": "<text>", "code": "<CODE>"}`` (the
client libraries read the capitalised ``code``); the texts are best guesses (``# UNSURE``).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from .base import (
    ListedHosts,
    ProviderRequest,
    ProviderResponse,
    Recorder,
    Script,
    count_tokens,
    delayed,
    hash_fraction,
    hash_unit_vector,
    received,
    rejects_key,
)

__all__ = ["AlephAlphaError", "FakeAlephAlpha"]

# UNSURE: every text below keeps the API's {"error", "code"} envelope and status; the wording is a guess
MISSING_TOKEN_MESSAGE = "Authorization header is missing or malformed. Expected 'Bearer <token>'."
INVALID_TOKEN_MESSAGE = "The provided token is invalid or expired."
NOT_FOUND_MESSAGE = "Not Found"
METHOD_MESSAGE = "Method Not Allowed"
JSON_MESSAGE = "Failed to parse the request body as JSON: {detail}"
FIELD_MISSING_MESSAGE = "Failed to deserialize the JSON body into the target type: missing field `{field}`"
FIELD_TYPE_MESSAGE = "Failed to deserialize the JSON body into the target type: invalid type for field `{field}`"
REPRESENTATION_MESSAGE = (
    "Failed to deserialize the JSON body into the target type: representation: unknown variant `{value}`, "
    "expected one of `symmetric`, `document`, `query`"
)
MODEL_NOT_FOUND_MESSAGE = "Model '{model}' is not available."
SEMANTIC_UNSUPPORTED_MESSAGE = "Model '{model}' does not support semantic embeddings."
COMPRESS_MESSAGE = "compress_to_size must be 128 if set, got {value}."
PROMPT_EMPTY_MESSAGE = "The prompt must not be empty."
PROMPT_TOO_LONG_MESSAGE = (
    "The prompt has {count} tokens, which exceeds the maximum of {limit} tokens supported by model '{model}'."
)
MAXIMUM_TOKENS_MESSAGE = "maximum_tokens must be a positive integer."
TOO_MANY_REQUESTS_MESSAGE = "Too many requests. Please slow down."
BUSY_MESSAGE = "The model is busy. Please try again later."
INTERNAL_MESSAGE = "Internal server error."

_SEMANTIC_MODELS: dict[str, int] = {"luminous-base": 5120}
_COMPLETE_MODELS = frozenset({
    "luminous-base", "luminous-extended", "luminous-supreme", "luminous-base-control",
    "luminous-extended-control", "luminous-supreme-control", "pharia-1-llm-7b-control",
    "pharia-1-llm-7b-control-aligned", "llama-3.1-8b-instruct", "llama-3.3-70b-instruct",
})
_MODEL_VERSION = "2022-04"
_REPRESENTATIONS = ("symmetric", "document", "query")
_PROMPT_LIMIT = 2048
_COMPRESSED = 128


class AlephAlphaError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, Any]:
        return {"error": self.message, "code": self.code}


def _bad(message: str) -> AlephAlphaError:
    return AlephAlphaError(400, "BAD_REQUEST", message)


def _prompt_text(prompt: Any, field: str) -> str:
    """A prompt is a string or a list of ``{"type": "text" | "image" | "token_ids", "data": ...}``."""
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, list):
        parts = []
        for item in prompt:
            if not isinstance(item, dict) or item.get("type") not in ("text", "image", "token_ids"):
                raise _bad(FIELD_TYPE_MESSAGE.format(field=field))
            data = item.get("data")
            if item["type"] == "token_ids":
                if not isinstance(data, list) or not all(isinstance(t, int) for t in data):
                    raise _bad(FIELD_TYPE_MESSAGE.format(field=field))
                parts.append(" ".join(f"<{t}>" for t in data))
            elif not isinstance(data, str):
                raise _bad(FIELD_TYPE_MESSAGE.format(field=field))
            else:
                parts.append(data if item["type"] == "text" else "<image:" + hashlib.sha256(
                    data.encode()).hexdigest()[:16] + ">")
        return " ".join(parts)
    raise _bad(FIELD_TYPE_MESSAGE.format(field=field))


class FakeAlephAlpha(ListedHosts):
    """Strict, deterministic stand-in for https://api.aleph-alpha.com.

    api_keys: when given, only these bearer tokens are accepted; by default any non-empty token
    passes but an unresolved ``${credential.*}`` placeholder.
    """

    name = "aleph_alpha"
    hosts: tuple[str, ...] = ("api.aleph-alpha.com",)

    def __init__(self, *, api_keys: Iterable[str] | None = None, recorder_size: int = 1000) -> None:
        self.recorder = Recorder(recorder_size)
        self.script = Script()
        self.api_keys = frozenset(api_keys) if api_keys is not None else None
        self._routes = {"/semantic_embed": self._semantic_embed, "/batch_semantic_embed": self._batch,
                        "/complete": self._complete}

    async def handle(self, request: ProviderRequest) -> ProviderResponse:
        request, scripted = await received(self, request)
        if scripted is not None:
            return scripted
        try:
            return ProviderResponse.json(200, self._dispatch(request))
        except AlephAlphaError as err:
            return ProviderResponse.json(err.status, err.body())

    def _dispatch(self, request: ProviderRequest) -> Any:
        handler = self._routes.get(request.path.rstrip("/") or "/")
        if handler is None:
            raise AlephAlphaError(404, "NOT_FOUND", NOT_FOUND_MESSAGE)
        if request.method != "POST":
            raise AlephAlphaError(405, "METHOD_NOT_ALLOWED", METHOD_MESSAGE)
        auth = request.headers.get("Authorization", "").strip()
        scheme, _, token = auth.partition(" ")
        if not auth or scheme.lower() != "bearer" or not token.strip():
            raise AlephAlphaError(401, "UNAUTHENTICATED", MISSING_TOKEN_MESSAGE)
        if rejects_key(token.strip(), self.api_keys):
            raise AlephAlphaError(401, "UNAUTHENTICATED", INVALID_TOKEN_MESSAGE)
        try:
            body = json.loads(request.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise _bad(JSON_MESSAGE.format(detail=exc)) from None
        if not isinstance(body, dict):
            raise _bad(JSON_MESSAGE.format(detail="expected a JSON object"))
        return handler(body)

    # ------------------------------------------------------------ validation

    @staticmethod
    def _required(body: Mapping[str, Any], field: str, kind: type | tuple[type, ...]) -> Any:
        value = body.get(field)
        if value is None:
            raise _bad(FIELD_MISSING_MESSAGE.format(field=field))
        if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
            raise _bad(FIELD_TYPE_MESSAGE.format(field=field))
        return value

    @staticmethod
    def _optional(body: Mapping[str, Any], field: str, kind: type | tuple[type, ...]) -> Any:
        value = body.get(field)
        if value is not None and (not isinstance(value, kind) or (isinstance(value, bool) and bool not in (
                kind if isinstance(kind, tuple) else (kind,)))):
            raise _bad(FIELD_TYPE_MESSAGE.format(field=field))
        return value

    def _embedding_options(self, body: Mapping[str, Any]) -> tuple[str, str, int, bool]:
        model = self._required(body, "model", str)
        representation = self._required(body, "representation", str)
        if representation not in _REPRESENTATIONS:
            raise _bad(REPRESENTATION_MESSAGE.format(value=representation))
        compress = self._optional(body, "compress_to_size", int)
        normalize = self._optional(body, "normalize", bool)
        self._optional(body, "contextual_control_threshold", (int, float))
        self._optional(body, "control_log_additive", bool)
        if model not in _SEMANTIC_MODELS:
            if model in _COMPLETE_MODELS:
                raise _bad(SEMANTIC_UNSUPPORTED_MESSAGE.format(model=model))
            raise AlephAlphaError(400, "MODEL_NOT_FOUND", MODEL_NOT_FOUND_MESSAGE.format(model=model))
        if compress is not None and compress != _COMPRESSED:
            raise _bad(COMPRESS_MESSAGE.format(value=compress))
        return model, representation, compress or _SEMANTIC_MODELS[model], bool(normalize)

    def _prompt(self, prompt: Any, field: str, model: str) -> tuple[str, int]:
        text = _prompt_text(prompt, field)
        if not text.strip():
            raise _bad(PROMPT_EMPTY_MESSAGE)
        tokens = count_tokens(text)
        if tokens > _PROMPT_LIMIT:
            raise _bad(PROMPT_TOO_LONG_MESSAGE.format(count=tokens, limit=_PROMPT_LIMIT, model=model))
        return text, tokens

    @staticmethod
    def _vector(model: str, representation: str, text: str, dims: int, normalize: bool) -> list[float]:
        vec = hash_unit_vector(f"aleph-alpha-embedding\0{model}\0{dims}", text, dims)
        if representation != "symmetric":
            # documents and queries of the same text are close, not identical
            extra = hash_unit_vector(f"aleph-alpha-representation\0{representation}", text, dims)
            vec = [v + 0.1 * e for v, e in zip(vec, extra)]
            norm = math.sqrt(sum(v * v for v in vec)) or 1.0
            vec = [v / norm for v in vec]
        if not normalize:
            # unnormalised embeddings have a text-dependent length
            scale = 20.0 + 20.0 * hash_fraction("aleph-alpha-norm", model, text)
            vec = [v * scale for v in vec]
        return [round(v, 9) for v in vec]

    # ------------------------------------------------------------ operations

    def _semantic_embed(self, body: dict[str, Any]) -> Any:
        model, representation, dims, normalize = self._embedding_options(body)
        text, tokens = self._prompt(self._required(body, "prompt", (str, list)), "prompt", model)
        return {"model_version": _MODEL_VERSION,
                "embedding": self._vector(model, representation, text, dims, normalize),
                "num_tokens_prompt_total": tokens}

    def _batch(self, body: dict[str, Any]) -> Any:
        model, representation, dims, normalize = self._embedding_options(body)
        prompts = self._required(body, "prompts", list)
        embeddings, total = [], 0
        for prompt in prompts:
            text, tokens = self._prompt(prompt, "prompts", model)
            embeddings.append(self._vector(model, representation, text, dims, normalize))
            total += tokens
        return {"model_version": _MODEL_VERSION, "embeddings": embeddings, "num_tokens_prompt_total": total}

    def _complete(self, body: dict[str, Any]) -> Any:
        model = self._required(body, "model", str)
        if model not in _COMPLETE_MODELS:
            raise AlephAlphaError(400, "MODEL_NOT_FOUND", MODEL_NOT_FOUND_MESSAGE.format(model=model))
        prompt, prompt_tokens = self._prompt(self._required(body, "prompt", (str, list)), "prompt", model)
        maximum = self._optional(body, "maximum_tokens", int)
        if maximum is not None and maximum < 1:
            raise _bad(MAXIMUM_TOKENS_MESSAGE)
        n = self._optional(body, "n", int) or 1
        stops = self._optional(body, "stop_sequences", list) or []
        if not all(isinstance(s, str) for s in stops):
            raise _bad(FIELD_TYPE_MESSAGE.format(field="stop_sequences"))
        for field in ("temperature", "top_p", "presence_penalty", "frequency_penalty"):
            self._optional(body, field, (int, float))
        for field in ("top_k", "minimum_tokens", "best_of", "log_probs"):
            self._optional(body, field, int)
        for field in ("echo", "tokens", "raw_completion"):
            self._optional(body, field, bool)
        flat = " ".join(prompt.split())
        excerpt = flat if len(flat) <= 200 else flat[:197].rstrip() + "..."
        completions, generated = [], 0
        for i in range(n):
            text = f' This is a deterministic completion from the fake Aleph Alpha service for: "{excerpt}"'
            if i:
                text += f" ({i + 1})"
            finish = "end_of_text"
            hits = [text.find(s) for s in stops if s and s in text]
            if hits:
                text, finish = text[: min(hits)], "stop_sequence_reached"
            if maximum is not None and count_tokens(text) > maximum:
                words = text.split(" ")
                while words and count_tokens(" ".join(words)) > maximum:
                    words.pop()
                text, finish = " ".join(words), "maximum_tokens"
            item: dict[str, Any] = {"completion": (prompt + text) if body.get("echo") else text,
                                    "finish_reason": finish}
            if body.get("raw_completion"):
                item["raw_completion"] = text
            completions.append(item)
            generated += count_tokens(text)
        return {"model_version": _MODEL_VERSION, "completions": completions,
                "num_tokens_prompt_total": prompt_tokens, "num_tokens_generated": generated}

    # ------------------------------------------------------- canned replies for Script

    @staticmethod
    def error_response(status: int, code: str, message: str) -> ProviderResponse:
        return ProviderResponse.json(status, {"error": message, "code": code})

    @classmethod
    def rate_limit_response(cls) -> ProviderResponse:
        return cls.error_response(429, "TOO_MANY_REQUESTS", TOO_MANY_REQUESTS_MESSAGE)

    @classmethod
    def busy_response(cls) -> ProviderResponse:
        return cls.error_response(503, "BUSY", BUSY_MESSAGE)

    @classmethod
    def server_error_response(cls) -> ProviderResponse:
        return cls.error_response(500, "INTERNAL_SERVER_ERROR", INTERNAL_MESSAGE)

    delayed = staticmethod(delayed)
