"""Deterministic in-process fake of the OpenAI REST API (chat, legacy completions, embeddings,
and the Files and Batch APIs that offline batch inference uses)."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import struct
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from email import policy as _email_policy
from email.parser import BytesParser
from typing import Any
from urllib.parse import parse_qs

from .base import ProviderRequest, ProviderResponse, Recorder, Script, rejects_key, received

__all__ = ["FakeOpenAI", "OpenAIAPIError", "SAMPLE_BATCH_FILE_ID"]

# --------------------------------------------------------------------------
# Real OpenAI error texts.  Kept verbatim because connector post-processing
# and retry logic in the code under test may key on them.
# --------------------------------------------------------------------------
NO_API_KEY_MESSAGE = (
    "You didn't provide an API key. You need to provide your API key in an Authorization "
    "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field "
    "(with blank username) if you're accessing the API from your browser and are prompted for "
    "a username and password. You can obtain an API key from "
    "https://platform.openai.com/account/api-keys."
)
INCORRECT_API_KEY_MESSAGE = (
    "Incorrect API key provided: {key}. You can find your API key at "
    "https://platform.openai.com/account/api-keys."
)
JSON_PARSE_MESSAGE = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
    "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was "
    "sent was not valid JSON. If you have trouble figuring out how to fix this, please contact "
    "us through our help center at help.openai.com.)"
)
NO_MODEL_MESSAGE = "you must provide a model parameter"
MODEL_NOT_FOUND_MESSAGE = "The model `{model}` does not exist or you do not have access to it."
NOT_CHAT_MODEL_MESSAGE = (
    "This is not a chat model and thus not supported in the v1/chat/completions endpoint. "
    "Did you mean to use v1/completions?"
)
CHAT_MODEL_ON_COMPLETIONS_MESSAGE = (
    "This is a chat model and not supported in the v1/completions endpoint. "
    "Did you mean to use v1/chat/completions?"
)
INVALID_INPUT_MESSAGE = (
    "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference."
)
NO_DIMENSIONS_MESSAGE = "This model does not support specifying dimensions."
TOOL_WITHOUT_TOOL_CALLS_MESSAGE = (
    "Invalid parameter: messages with role 'tool' must be a response to a preceeding message "
    "with 'tool_calls'."
)
JSON_WORD_MESSAGE = (
    "'messages' must contain the word 'json' in some form, to use 'response_format' of type "
    "'json_object'."
)
RATE_LIMIT_MESSAGE = (
    "Rate limit reached for {model} in organization {org} on requests per min (RPM): "
    "Limit {limit}, Used {limit}, Requested 1. Please try again in {retry}s. "
    "Visit https://platform.openai.com/account/rate-limits to learn more."
)
QUOTA_MESSAGE = (
    "You exceeded your current quota, please check your plan and billing details. For more "
    "information on this error, read the docs: "
    "https://platform.openai.com/docs/guides/error-codes/api-errors."
)
SERVER_ERROR_MESSAGE = "The server had an error while processing your request. Sorry about that!"
OVERLOADED_MESSAGE = "The engine is currently overloaded, please try again later"

GREETING_REPLY = "Hello! How can I assist you today?"

# --------------------------------------------------------------------------
# Model catalogue.  Strict on purpose: a blueprint naming a model that does
# not exist, or a chat model on the legacy endpoint, must fail here as it
# would against the real service.
# --------------------------------------------------------------------------
_CHAT_ALIASES: dict[str, str] = {
    "gpt-3.5-turbo": "gpt-3.5-turbo-0125",
    "gpt-3.5-turbo-16k": "gpt-3.5-turbo-16k-0613",
    "gpt-4": "gpt-4-0613",
    "gpt-4-32k": "gpt-4-32k-0613",
    "gpt-4-turbo": "gpt-4-turbo-2024-04-09",
    "gpt-4-turbo-preview": "gpt-4-0125-preview",
    "gpt-4o": "gpt-4o-2024-08-06",
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "gpt-4.1": "gpt-4.1-2025-04-14",
    "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14",
    "gpt-4.1-nano": "gpt-4.1-nano-2025-04-14",
    "chatgpt-4o-latest": "chatgpt-4o-latest",
    "o1": "o1-2024-12-17",
    "o1-mini": "o1-mini-2024-09-12",
    "o3": "o3-2025-04-16",
    "o3-mini": "o3-mini-2025-01-31",
    "o4-mini": "o4-mini-2025-04-16",
    "gpt-5": "gpt-5-2025-08-07",
    "gpt-5-mini": "gpt-5-mini-2025-08-07",
    "gpt-5-nano": "gpt-5-nano-2025-08-07",
}
_CHAT_SNAPSHOTS = frozenset(
    set(_CHAT_ALIASES.values())
    | {
        "gpt-3.5-turbo-0301",
        "gpt-3.5-turbo-0613",
        "gpt-3.5-turbo-1106",
        "gpt-4-0314",
        "gpt-4-1106-preview",
        "gpt-4o-2024-05-13",
        "gpt-4o-2024-11-20",
    }
)
# Reasoning models reject max_tokens and non-default temperature.
_REASONING_PREFIXES = ("o1", "o3", "o4", "gpt-5")

# The text-davinci/ada family is retired upstream but still appears in
# ML Commons blueprints, so the fake keeps answering it on /v1/completions.
_COMPLETION_MODELS = frozenset(
    {
        "gpt-3.5-turbo-instruct",
        "gpt-3.5-turbo-instruct-0914",
        "davinci-002",
        "babbage-002",
        "text-davinci-003",
        "text-davinci-002",
        "text-davinci-001",
        "text-curie-001",
        "text-babbage-001",
        "text-ada-001",
        "davinci",
        "curie",
        "babbage",
        "ada",
    }
)
_EMBEDDING_MODELS: dict[str, int] = {
    "text-embedding-ada-002": 1536,
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
}
# Only the v3 embedding models were trained Matryoshka-style.
_DIMENSIONS_MODELS = frozenset({"text-embedding-3-small", "text-embedding-3-large"})

# --------------------------------------------------------------------------
# Accepted request arguments per endpoint; anything else is rejected with
# "Unrecognized request argument supplied", exactly like the real API.
# --------------------------------------------------------------------------
_CHAT_ARGS = frozenset(
    {
        "model", "messages", "audio", "frequency_penalty", "function_call", "functions",
        "logit_bias", "logprobs", "max_completion_tokens", "max_tokens", "metadata",
        "modalities", "n", "parallel_tool_calls", "prediction", "presence_penalty",
        "prompt_cache_key", "reasoning_effort", "response_format", "safety_identifier", "seed",
        "service_tier", "stop", "store", "stream", "stream_options", "temperature",
        "tool_choice", "tools", "top_logprobs", "top_p", "user", "verbosity",
        "web_search_options",
    }
)
_COMPLETION_ARGS = frozenset(
    {
        "model", "prompt", "best_of", "echo", "frequency_penalty", "logit_bias", "logprobs",
        "max_tokens", "n", "presence_penalty", "seed", "stop", "stream", "stream_options",
        "suffix", "temperature", "top_p", "user",
    }
)
_EMBEDDING_ARGS = frozenset({"model", "input", "encoding_format", "dimensions", "user"})

_ROLES = ("system", "assistant", "user", "function", "tool", "developer")
_PART_TYPES_BY_ROLE: dict[str, tuple[str, ...]] = {
    "user": ("text", "image_url", "input_audio", "file"),
    "system": ("text",),
    "developer": ("text",),
    "tool": ("text",),
    "function": ("text",),
    "assistant": ("text", "refusal"),
}
_GREETINGS = frozenset(
    {
        "hello", "hi", "hey", "hello there", "hi there", "hey there", "greetings",
        "good morning", "good afternoon", "good evening",
    }
)

# A cheap stand-in for BPE: words and individual punctuation marks.  It is
# deterministic and lands close enough to tiktoken for short English text
# ("Hello!" -> 2, the docs' two-message example -> 19 prompt tokens).
_TOKEN_RE = re.compile(r"\w+|[^\w\s]")
_IMAGE_PART_TOKENS = 85  # OpenAI's fixed cost for a low-detail image
_LEGACY_DEFAULT_MAX_TOKENS = 16  # /v1/completions default, a classic truncation trap
_EMBEDDING_MAX_INPUT_TOKENS = 8191
_EMBEDDING_MAX_INPUTS = 2048
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

# --------------------------------------------------------------------------
# Files and Batch API.  A batch reads a JSONL file uploaded with purpose
# "batch" (one request per line: custom_id, method, url, body), runs every
# line against one endpoint and writes the results to a "batch_output" file.
# --------------------------------------------------------------------------
BATCH_ENDPOINTS = ("/v1/responses", "/v1/chat/completions", "/v1/embeddings", "/v1/completions")
FILE_PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
#: The statuses of a batch that runs to the end; the fake moves one step per retrieve.
BATCH_PROGRESSION = ("validating", "in_progress", "finalizing", "completed")
BATCH_TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})
#: The input file id in ML Commons' published OpenAI batch blueprint; the fake starts with
#: a file of that id (two /v1/embeddings requests) so the blueprint runs unchanged.
SAMPLE_BATCH_FILE_ID = "file-YbowBByiyVJN89oSZo2Enu9W"
SAMPLE_BATCH_INPUT = b"".join(
    json.dumps({"custom_id": f"request-{i}", "method": "POST", "url": "/v1/embeddings",
                "body": {"model": "text-embedding-ada-002", "input": text}}).encode() + b"\n"
    for i, text in enumerate(("What is the meaning of life?", "Hello world"), start=1)
)
_BATCH_ARGS = frozenset({"input_file_id", "endpoint", "completion_window", "metadata",
                         "output_expires_after"})
_BATCH_MAX_REQUESTS = 50_000
_BATCH_WINDOW_SECONDS = 24 * 3600
_FILE_EXPIRY_SECONDS = 30 * 24 * 3600  # files uploaded for batches expire after 30 days
#: The fake's own clock starts at the created_at of the plugin blueprint's sample batch.
_BATCH_EPOCH = 1_722_037_257
_MULTIPART_MESSAGE = (
    "Invalid Content-Type header ({ctype}), expected multipart/form-data. (HINT: If you're "
    "using curl, you can pass -H 'Content-Type: multipart/form-data')"
)
NOT_JSONL_MESSAGE = "Invalid file format for Batch API. Must be .jsonl"
BATCH_EXPIRED_LINE_MESSAGE = "This request could not be executed before the completion window expired."


class OpenAIAPIError(Exception):
    """An error the fake answers with OpenAI's {"error": {...}} envelope."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


# ------------------------------------------------------------------ helpers


def count_tokens(text: str) -> int:
    """Approximate token count used for every usage figure the fake reports."""
    return len(_TOKEN_RE.findall(text))


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _type_phrase(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, int):
        return "an integer"
    if isinstance(v, float):
        return "a decimal"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list):
        return "an array"
    if isinstance(v, dict):
        return "an object"
    return "an unknown type"


def _fmt(v: Any) -> str:
    return json.dumps(v)


def _quote_list(values: Iterable[str]) -> str:
    quoted = [f"'{v}'" for v in values]
    if len(quoted) == 1:
        return quoted[0]
    if len(quoted) == 2:
        return f"{quoted[0]} and {quoted[1]}"
    return ", ".join(quoted[:-1]) + f", and {quoted[-1]}"


def _invalid_type(param: str, expected: str, got: Any) -> OpenAIAPIError:
    return OpenAIAPIError(
        400,
        f"Invalid type for '{param}': expected {expected}, but got {_type_phrase(got)} instead.",
        param=param,
        code="invalid_type",
    )


def _missing(param: str) -> OpenAIAPIError:
    return OpenAIAPIError(
        400,
        f"Missing required parameter: '{param}'.",
        param=param,
        code="missing_required_parameter",
    )


def _invalid_value(param: str, value: Any, supported: Iterable[str]) -> OpenAIAPIError:
    return OpenAIAPIError(
        400,
        f"Invalid value: '{value}'. Supported values are: {_quote_list(supported)}.",
        param=param,
        code="invalid_value",
    )


def _empty_array(param: str) -> OpenAIAPIError:
    return OpenAIAPIError(
        400,
        f"Invalid '{param}': empty array. Expected an array with minimum length 1, "
        "but got an empty array instead.",
        param=param,
        code="empty_array",
    )


def _check_range(
    body: Mapping[str, Any],
    key: str,
    lo: float | None,
    hi: float | None,
    *,
    integer: bool,
) -> Any:
    """Type- and range-check an optional numeric argument; null means "use the default"."""
    v = body.get(key)
    if v is None:
        return None
    if integer and not _is_int(v):
        raise _invalid_type(key, "an integer", v)
    if not integer and not _is_number(v):
        raise _invalid_type(key, "a decimal", v)
    kind = "integer" if integer else "decimal"
    if lo is not None and v < lo:
        raise OpenAIAPIError(
            400,
            f"Invalid '{key}': {kind} below minimum value. Expected a value >= {_fmt(lo)}, "
            f"but got {_fmt(v)} instead.",
            param=key,
            code=f"{kind}_below_min_value",
        )
    if hi is not None and v > hi:
        raise OpenAIAPIError(
            400,
            f"Invalid '{key}': {kind} above maximum value. Expected a value <= {_fmt(hi)}, "
            f"but got {_fmt(v)} instead.",
            param=key,
            code=f"{kind}_above_max_value",
        )
    return v


def _check_bool(body: Mapping[str, Any], key: str) -> bool | None:
    v = body.get(key)
    if v is not None and not isinstance(v, bool):
        raise _invalid_type(key, "a boolean", v)
    return v


def _check_str(body: Mapping[str, Any], key: str) -> str | None:
    v = body.get(key)
    if v is not None and not isinstance(v, str):
        raise _invalid_type(key, "a string", v)
    return v


def _check_stop(body: Mapping[str, Any]) -> list[str]:
    v = body.get("stop")
    if v is None:
        return []
    if isinstance(v, str):
        return [v]
    if not isinstance(v, list) or not all(isinstance(s, str) for s in v):
        raise _invalid_type("stop", "one of a string or array of strings", v)
    if len(v) > 4:
        raise OpenAIAPIError(
            400,
            "Invalid 'stop': array too long. Expected an array with maximum length 4, "
            f"but got an array with length {len(v)} instead.",
            param="stop",
            code="array_above_max_length",
        )
    return list(v)


def _check_unknown_args(body: Mapping[str, Any], allowed: frozenset[str]) -> None:
    unknown = sorted(k for k in body if k not in allowed)
    if len(unknown) == 1:
        raise OpenAIAPIError(400, f"Unrecognized request argument supplied: {unknown[0]}")
    if unknown:
        raise OpenAIAPIError(
            400, f"Unrecognized request arguments supplied: {', '.join(unknown)}"
        )


def _base62(data: bytes, length: int) -> str:
    n = int.from_bytes(data, "big")
    out = []
    while len(out) < length:
        n, r = divmod(n, 62)
        out.append(_BASE62[r])
    return "".join(out)


def _mask_key(key: str) -> str:
    # OpenAI echoes the first 8 and last 4 characters with stars in between.
    if len(key) <= 12:
        return key
    return key[:8] + "*" * (len(key) - 12) + key[-4:]


def _excerpt(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3].rstrip() + "..."


def _truncate_tokens(text: str, limit: int | None) -> tuple[str, bool]:
    """Cut text after its limit-th token; returns (text, truncated)."""
    if limit is None:
        return text, False
    for i, m in enumerate(_TOKEN_RE.finditer(text), start=1):
        if i == limit:
            cut = text[: m.end()]
            return cut, len(cut.rstrip()) < len(text.rstrip())
    return text, False


def _apply_stop(text: str, stops: list[str]) -> tuple[str, bool]:
    hits = [text.find(s) for s in stops if s and s in text]
    if not hits:
        return text, False
    return text[: min(hits)], True


def _schema_instance(schema: Any, text: str, depth: int = 0) -> Any:
    """A minimal deterministic value that conforms to a (simple) JSON schema."""
    if not isinstance(schema, dict) or depth > 8:
        return text
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            return _schema_instance(options[0], text, depth + 1)
    t = schema.get("type")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), "null")
    if t == "object" or (t is None and isinstance(schema.get("properties"), dict)):
        props = schema.get("properties") or {}
        return {name: _schema_instance(sub, text, depth + 1) for name, sub in props.items()}
    if t == "array":
        items = schema.get("items")
        return [_schema_instance(items, text, depth + 1)] if isinstance(items, dict) else []
    if t == "integer":
        return 0
    if t == "number":
        return 0
    if t == "boolean":
        return True
    if t == "null":
        return None
    return text


def _sse(chunks: list[dict[str, Any]]) -> bytes:
    parts = [
        b"data: " + json.dumps(c, ensure_ascii=False).encode("utf-8") + b"\n\n" for c in chunks
    ]
    parts.append(b"data: [DONE]\n\n")
    return b"".join(parts)


def _stream_pieces(text: str) -> list[str]:
    # Word-sized deltas whose concatenation is exactly the full text.
    return re.findall(r"\s*\S+\s*$|\s*\S+", text) or [""]


@dataclass
class _StoredFile:
    """An uploaded (or batch-written) file and the metadata the Files API reports."""

    id: str
    purpose: str
    filename: str
    content: bytes
    created_at: int
    expires_at: int | None

    def as_object(self) -> dict[str, Any]:
        return {
            "object": "file",
            "id": self.id,
            "purpose": self.purpose,
            "filename": self.filename,
            "bytes": len(self.content),
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "status": "processed",
            "status_details": None,
        }


@dataclass
class _BatchLine:
    """One validated request line of a batch input file."""

    custom_id: str
    body: dict[str, Any]


@dataclass
class _StoredBatch:
    """A batch object (in the shape the API returns it) plus the fake's working state."""

    fields: dict[str, Any]
    lines: list[_BatchLine] = field(default_factory=list)
    outputs: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.fields["id"]

    @property
    def status(self) -> str:
        return self.fields["status"]

    def as_object(self) -> dict[str, Any]:
        return json.loads(json.dumps(self.fields))


def _jsonl(records: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(r, ensure_ascii=False).encode("utf-8") + b"\n" for r in records)


def _decode_body(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except ValueError:
        return raw.decode("utf-8", "replace")


def _line_error(code: str, message: str, line: int | None, param: str | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "param": param, "line": line}


def _multipart_fields(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """Parse a multipart/form-data body: field name -> (filename, bytes)."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = BytesParser(policy=_email_policy.HTTP).parsebytes(head + body)
    fields: dict[str, tuple[str | None, bytes]] = {}
    if not message.is_multipart():
        return fields
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        fields.setdefault(name, (part.get_filename(), payload if isinstance(payload, bytes) else b""))
    return fields


# ------------------------------------------------------------------ provider


class FakeOpenAI:
    """Strict, deterministic stand-in for https://api.openai.com.

    api_keys: when given, only these bearer keys are accepted (others get
    OpenAI's invalid_api_key 401); by default any non-empty key passes but an
    unresolved ``${credential.*}`` placeholder.
    chat_models / completion_models / embedding_models extend the built-in
    catalogue (embedding_models maps name -> vector dimension).

    Files and batches: POST /v1/files (multipart upload), GET /v1/files/{id} and
    /v1/files/{id}/content, POST /v1/batches, GET /v1/batches/{id}, POST
    /v1/batches/{id}/cancel and GET /v1/batches.  A new batch answers
    "validating", as the real service does; each retrieve then moves it one step:
    in_progress (input validated, or "failed" with line errors), finalizing (every
    line run through this fake's own endpoint), completed (output_file_id and, if a
    line failed, error_file_id set).  A cancel answers "cancelling" and the next
    retrieve "cancelled".  advance_batch() and expire_batch() move a batch without
    polling.  Ids and timestamps come from counters, so a run is reproducible.
    sample_batch_file: start with SAMPLE_BATCH_FILE_ID uploaded (the file id of
    ML Commons' OpenAI batch blueprint).
    """

    name = "openai"
    hosts: tuple[str, ...] = ("api.openai.com",)

    def __init__(
        self,
        *,
        api_keys: Iterable[str] | None = None,
        chat_models: Iterable[str] = (),
        completion_models: Iterable[str] = (),
        embedding_models: Mapping[str, int] | None = None,
        recorder_size: int = 1000,
        organization: str = "org-fakeopenai",
        sample_batch_file: bool = True,
    ) -> None:
        self.recorder = Recorder(recorder_size)
        self.script = Script()
        self.api_keys: frozenset[str] | None = (
            frozenset(api_keys) if api_keys is not None else None
        )
        self.organization = organization
        self._chat_models = set(_CHAT_ALIASES) | set(_CHAT_SNAPSHOTS) | set(chat_models)
        self._completion_models = set(_COMPLETION_MODELS) | set(completion_models)
        self._embedding_models = dict(_EMBEDDING_MODELS)
        self._embedding_models.update(embedding_models or {})
        self._routes: dict[str, dict[str, Callable[[dict[str, Any], bytes], ProviderResponse]]] = {
            "/v1/chat/completions": {"POST": self._chat_completions},
            "/v1/completions": {"POST": self._completions},
            "/v1/embeddings": {"POST": self._embeddings},
        }
        self._resource_routes: list[
            tuple[re.Pattern[str], dict[str, Callable[[ProviderRequest, str, dict[str, str]], ProviderResponse]]]
        ] = [
            (re.compile(r"/v1/files"), {"POST": self._upload_file}),
            (re.compile(r"/v1/files/(?P<file_id>[^/]+)"), {"GET": self._retrieve_file}),
            (re.compile(r"/v1/files/(?P<file_id>[^/]+)/content"), {"GET": self._file_content}),
            (re.compile(r"/v1/batches"), {"POST": self._create_batch, "GET": self._list_batches}),
            (re.compile(r"/v1/batches/(?P<batch_id>[^/]+)"), {"GET": self._retrieve_batch}),
            (re.compile(r"/v1/batches/(?P<batch_id>[^/]+)/cancel"), {"POST": self._cancel_batch}),
        ]
        self._state_lock = threading.RLock()
        self._clock = _BATCH_EPOCH
        self._sequence = 0
        self._files: dict[str, _StoredFile] = {}
        self._batches: dict[str, _StoredBatch] = {}
        if sample_batch_file:
            self._files[SAMPLE_BATCH_FILE_ID] = _StoredFile(
                SAMPLE_BATCH_FILE_ID, "batch", "batch_input.jsonl", SAMPLE_BATCH_INPUT,
                _BATCH_EPOCH - 60, _BATCH_EPOCH - 60 + _FILE_EXPIRY_SECONDS)

    # -------------------------------------------------------------- entry

    async def handle(self, request: ProviderRequest) -> ProviderResponse:
        # The in-process transport passes its own request type; normalising it
        # gives case-insensitive headers whatever dict the runtime built.
        request, scripted = await received(self, request)
        if scripted is not None:
            return scripted
        try:
            return self._dispatch(request)
        except OpenAIAPIError as err:
            return self._error(err, request)

    def _dispatch(self, request: ProviderRequest) -> ProviderResponse:
        path = request.path
        methods = self._routes.get(path)
        if methods is None:
            return self._dispatch_resource(request)
        handler = methods.get(request.method)
        if handler is None:
            raise OpenAIAPIError(405, f"Invalid method for URL ({request.method} {path})")
        self._authenticate(request)
        body = self._parse_body(request.body)
        return handler(body, self._request_id(request))

    def _dispatch_resource(self, request: ProviderRequest) -> ProviderResponse:
        """The Files and Batch routes: path parameters, raw (multipart) bodies, shared state."""
        path = request.path
        for pattern, methods in self._resource_routes:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            handler = methods.get(request.method)
            if handler is None:
                raise OpenAIAPIError(405, f"Invalid method for URL ({request.method} {path})")
            self._authenticate(request)
            with self._state_lock:
                return handler(request, self._request_id(request), match.groupdict())
        raise OpenAIAPIError(404, f"Invalid URL ({request.method} {path})")

    def _allowed_methods(self, path: str) -> list[str]:
        methods = self._routes.get(path)
        if methods is not None:
            return sorted(methods)
        for pattern, resource_methods in self._resource_routes:
            if pattern.fullmatch(path):
                return sorted(resource_methods)
        return []

    def _authenticate(self, request: ProviderRequest) -> None:
        auth = request.headers.get("Authorization", "")
        scheme, _, key = auth.strip().partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            raise OpenAIAPIError(401, NO_API_KEY_MESSAGE)
        if rejects_key(key, self.api_keys):
            raise OpenAIAPIError(
                401, INCORRECT_API_KEY_MESSAGE.format(key=_mask_key(key)), code="invalid_api_key"
            )

    @staticmethod
    def _parse_body(raw: bytes) -> dict[str, Any]:
        def _reject_constant(token: str) -> Any:
            # Python's json accepts NaN/Infinity; OpenAI's parser does not.
            raise ValueError(token)

        try:
            body = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
        except (UnicodeDecodeError, ValueError):
            raise OpenAIAPIError(400, JSON_PARSE_MESSAGE) from None
        if not isinstance(body, dict):
            raise OpenAIAPIError(400, JSON_PARSE_MESSAGE)
        return body

    # -------------------------------------------------------- determinism

    @staticmethod
    def _digest(kind: str, body: Mapping[str, Any]) -> bytes:
        # Canonical JSON so key order / whitespace in the request don't matter.
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(f"{kind}\n{canonical}".encode()).digest()

    @staticmethod
    def _created(digest: bytes) -> int:
        # Somewhere in 2023-2025, like a real timestamp, but fixed per request.
        return 1_700_000_000 + int.from_bytes(digest[:4], "big") % 60_000_000

    @staticmethod
    def _fingerprint(model: str) -> str:
        return "fp_" + hashlib.sha256(f"fingerprint:{model}".encode()).hexdigest()[:10]

    @staticmethod
    def _request_id(request: ProviderRequest) -> str:
        h = hashlib.sha256()
        h.update(f"{request.method} {request.path}\n".encode())
        h.update(request.body)
        return "req_" + h.hexdigest()[:32]

    def _headers(self, request_id: str, *, content_type: str = "application/json") -> dict[str, str]:
        processing = 50 + int(request_id[4:8], 16) % 900
        return {
            "Content-Type": content_type,
            "x-request-id": request_id,
            "openai-version": "2020-10-01",
            "openai-organization": self.organization,
            "openai-processing-ms": str(processing),
        }

    def _error(self, err: OpenAIAPIError, request: ProviderRequest) -> ProviderResponse:
        headers = self._headers(self._request_id(request))
        if err.status == 405:
            headers["Allow"] = ", ".join(self._allowed_methods(request.path))
        return ProviderResponse.json(err.status, err.body(), headers)

    # ------------------------------------------------------------- models

    def _require_model(self, body: Mapping[str, Any]) -> str:
        model = body.get("model")
        if model is None or model == "":
            raise OpenAIAPIError(400, NO_MODEL_MESSAGE)
        if not isinstance(model, str):
            raise _invalid_type("model", "a string", model)
        return model

    def _model_kind(self, model: str) -> str | None:
        if model in self._chat_models:
            return "chat"
        if model in self._completion_models:
            return "completion"
        if model in self._embedding_models:
            return "embedding"
        if model.startswith("ft:"):
            # ft:<base>:<org>:<suffix>:<id> behaves like its base model.
            base = model.split(":")[1] if model.count(":") >= 1 else ""
            if base and not base.startswith("ft:"):
                return self._model_kind(base)
        return None

    def _not_found(self, model: str) -> OpenAIAPIError:
        return OpenAIAPIError(
            404, MODEL_NOT_FOUND_MESSAGE.format(model=model), code="model_not_found"
        )

    @staticmethod
    def _is_reasoning(model: str) -> bool:
        base = model.split(":")[1] if model.startswith("ft:") else model
        return base.startswith(_REASONING_PREFIXES)

    @staticmethod
    def _response_model(model: str) -> str:
        return _CHAT_ALIASES.get(model, model)

    # --------------------------------------------------------------- chat

    def _validate_messages(self, messages: Any) -> list[dict[str, Any]]:
        if messages is None:
            raise _missing("messages")
        if not isinstance(messages, list):
            raise _invalid_type("messages", "an array", messages)
        if not messages:
            raise _empty_array("messages")
        awaiting_tool_results = False
        for i, msg in enumerate(messages):
            p = f"messages[{i}]"
            if not isinstance(msg, dict):
                raise _invalid_type(p, "an object", msg)
            if "role" not in msg:
                raise _missing(f"{p}.role")
            role = msg["role"]
            if not isinstance(role, str):
                raise _invalid_type(f"{p}.role", "a string", role)
            if role not in _ROLES:
                raise _invalid_value(f"{p}.role", role, _ROLES)
            has_calls = bool(msg.get("tool_calls")) or msg.get("function_call") is not None
            content = msg.get("content")
            if content is None and not (role == "assistant" and has_calls):
                # OpenAI only lets an assistant turn that carries tool calls omit content.
                raise _missing(f"{p}.content")
            if content is not None:
                self._validate_content(f"{p}.content", content, role)
            if role == "tool":
                if not awaiting_tool_results:
                    raise OpenAIAPIError(
                        400, TOOL_WITHOUT_TOOL_CALLS_MESSAGE, param=f"messages.[{i}].role"
                    )
                if "tool_call_id" not in msg:
                    raise _missing(f"{p}.tool_call_id")
                if not isinstance(msg["tool_call_id"], str):
                    raise _invalid_type(f"{p}.tool_call_id", "a string", msg["tool_call_id"])
            elif role == "function" and "name" not in msg:
                raise _missing(f"{p}.name")
            if "name" in msg and not isinstance(msg["name"], str):
                raise _invalid_type(f"{p}.name", "a string", msg["name"])
            if role == "assistant":
                awaiting_tool_results = bool(msg.get("tool_calls"))
            elif role != "tool":
                awaiting_tool_results = False
        return messages

    @staticmethod
    def _validate_content(param: str, content: Any, role: str) -> None:
        if isinstance(content, str):
            return
        if not isinstance(content, list):
            raise _invalid_type(param, "one of a string or array of objects", content)
        if not content:
            raise _empty_array(param)
        allowed = _PART_TYPES_BY_ROLE[role]
        for j, part in enumerate(content):
            pp = f"{param}[{j}]"
            if not isinstance(part, dict):
                raise _invalid_type(pp, "an object", part)
            if "type" not in part:
                raise _missing(f"{pp}.type")
            ptype = part["type"]
            if ptype not in allowed:
                raise _invalid_value(f"{pp}.type", ptype, allowed)
            if ptype in ("text", "refusal"):
                if ptype not in part:
                    raise _missing(f"{pp}.{ptype}")
                if not isinstance(part[ptype], str):
                    raise _invalid_type(f"{pp}.{ptype}", "a string", part[ptype])
            elif ptype not in part:
                raise _missing(f"{pp}.{ptype}")

    @staticmethod
    def _content_text(content: Any) -> str:
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return " ".join(
                p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"
            )
        return ""

    def _prompt_tokens(self, messages: list[dict[str, Any]]) -> int:
        # Mirrors OpenAI's cookbook accounting: 3 per message + role + content
        # (+1 + name), and 3 to prime the reply.
        total = 3
        for msg in messages:
            total += 3 + count_tokens(msg["role"])
            content = msg.get("content")
            total += count_tokens(self._content_text(content))
            if isinstance(content, list):
                total += _IMAGE_PART_TOKENS * sum(
                    1 for p in content if isinstance(p, dict) and p.get("type") == "image_url"
                )
            if isinstance(msg.get("name"), str):
                total += 1 + count_tokens(msg["name"])
            if msg.get("tool_calls"):
                total += count_tokens(json.dumps(msg["tool_calls"], sort_keys=True))
        return total

    def _reply_text(self, messages: list[dict[str, Any]]) -> str:
        users = [m for m in messages if m["role"] == "user"]
        source = users[-1] if users else messages[-1]
        prompt = self._content_text(source.get("content"))
        if prompt.strip().lower().rstrip("!.?, ") in _GREETINGS:
            return GREETING_REPLY
        excerpt = _excerpt(prompt) or "your message"
        return f'This is a deterministic response from the fake OpenAI service to: "{excerpt}"'

    def _chat_completions(self, body: dict[str, Any], request_id: str) -> ProviderResponse:
        _check_unknown_args(body, _CHAT_ARGS)
        model = self._require_model(body)
        kind = self._model_kind(model)
        if kind is None:
            raise self._not_found(model)
        if kind != "chat":
            raise OpenAIAPIError(404, NOT_CHAT_MODEL_MESSAGE, param="model")
        messages = self._validate_messages(body.get("messages"))

        reasoning = self._is_reasoning(model)
        temperature = _check_range(body, "temperature", 0, 2, integer=False)
        if reasoning and body.get("max_tokens") is not None:
            raise OpenAIAPIError(
                400,
                "Unsupported parameter: 'max_tokens' is not supported with this model. "
                "Use 'max_completion_tokens' instead.",
                param="max_tokens",
                code="unsupported_parameter",
            )
        if reasoning and temperature is not None and temperature != 1:
            raise OpenAIAPIError(
                400,
                f"Unsupported value: 'temperature' does not support {_fmt(temperature)} with "
                "this model. Only the default (1) value is supported.",
                param="temperature",
                code="unsupported_value",
            )
        _check_range(body, "top_p", 0, 1, integer=False)
        _check_range(body, "presence_penalty", -2, 2, integer=False)
        _check_range(body, "frequency_penalty", -2, 2, integer=False)
        max_tokens = _check_range(body, "max_tokens", 1, None, integer=True)
        max_completion = _check_range(body, "max_completion_tokens", 1, None, integer=True)
        limit = max_completion if max_completion is not None else max_tokens
        n = _check_range(body, "n", 1, 128, integer=True) or 1
        _check_range(body, "seed", None, None, integer=True)
        _check_range(body, "top_logprobs", 0, 20, integer=True)
        _check_bool(body, "logprobs")
        stream = bool(_check_bool(body, "stream"))
        _check_str(body, "user")
        stops = _check_stop(body)
        response_format = self._check_response_format(body, messages)
        tool_call = self._check_tools(body)

        digest = self._digest("chat", body)
        completion_id = "chatcmpl-" + _base62(digest, 29)
        created = self._created(digest)
        out_model = self._response_model(model)
        fingerprint = self._fingerprint(out_model)

        reply = self._reply_text(messages)
        choices = []
        completion_tokens = 0
        for index in range(n):
            if tool_call is not None:
                name, params_schema = tool_call
                arguments = json.dumps(_schema_instance(params_schema, reply), ensure_ascii=False)
                call_id = "call_" + _base62(hashlib.sha256(digest + bytes([index])).digest(), 24)
                message: dict[str, Any] = {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": call_id,
                            "type": "function",
                            "function": {"name": name, "arguments": arguments},
                        }
                    ],
                    "refusal": None,
                }
                finish = "tool_calls"
                completion_tokens += count_tokens(name) + count_tokens(arguments)
            else:
                text = self._format_reply(reply, response_format)
                text, stopped = _apply_stop(text, stops)
                text, truncated = _truncate_tokens(text, limit)
                finish = "length" if truncated else "stop"
                message = {"role": "assistant", "content": text, "refusal": None}
                completion_tokens += count_tokens(text)
            choices.append(
                {"index": index, "message": message, "logprobs": None, "finish_reason": finish}
            )

        prompt_tokens = self._prompt_tokens(messages)
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }
        if stream:
            include_usage = isinstance(body.get("stream_options"), dict) and bool(
                body["stream_options"].get("include_usage")
            )
            return self._chat_stream(
                completion_id, created, out_model, fingerprint, choices,
                usage if include_usage else None, request_id,
            )
        payload = {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": out_model,
            "choices": choices,
            "usage": usage,
            "service_tier": "default",
            "system_fingerprint": fingerprint,
        }
        return ProviderResponse.json(200, payload, self._headers(request_id))

    @staticmethod
    def _check_response_format(body: Mapping[str, Any], messages: list[dict[str, Any]]) -> Any:
        rf = body.get("response_format")
        if rf is None:
            return None
        if not isinstance(rf, dict):
            raise _invalid_type("response_format", "an object", rf)
        if "type" not in rf:
            raise _missing("response_format.type")
        supported = ("json_object", "json_schema", "text")
        if rf["type"] not in supported:
            raise _invalid_value("response_format.type", rf["type"], supported)
        if rf["type"] == "json_object":
            blob = " ".join(FakeOpenAI._content_text(m.get("content")) for m in messages)
            if "json" not in blob.lower():
                raise OpenAIAPIError(400, JSON_WORD_MESSAGE, param="messages")
        if rf["type"] == "json_schema":
            spec = rf.get("json_schema")
            if not isinstance(spec, dict):
                raise _missing("response_format.json_schema")
            if not isinstance(spec.get("name"), str):
                raise _missing("response_format.json_schema.name")
        return rf

    @staticmethod
    def _check_tools(body: Mapping[str, Any]) -> tuple[str, Any] | None:
        """Validate tools; return (name, parameters) when tool_choice forces a call."""
        tools = body.get("tools")
        if tools is None:
            if body.get("tool_choice") not in (None, "none", "auto"):
                raise OpenAIAPIError(
                    400,
                    "Invalid value for 'tool_choice': 'tool_choice' is only allowed when "
                    "'tools' are specified.",
                    param="tool_choice",
                )
            return None
        if not isinstance(tools, list):
            raise _invalid_type("tools", "an array", tools)
        if not tools:
            raise _empty_array("tools")
        by_name: dict[str, Any] = {}
        for i, tool in enumerate(tools):
            p = f"tools[{i}]"
            if not isinstance(tool, dict):
                raise _invalid_type(p, "an object", tool)
            if "type" not in tool:
                raise _missing(f"{p}.type")
            if tool["type"] != "function":
                raise _invalid_value(f"{p}.type", tool["type"], ("function",))
            fn = tool.get("function")
            if not isinstance(fn, dict):
                raise _missing(f"{p}.function")
            if not isinstance(fn.get("name"), str):
                raise _missing(f"{p}.function.name")
            by_name[fn["name"]] = fn.get("parameters") or {"type": "object", "properties": {}}
        choice = body.get("tool_choice")
        if choice is None or choice in ("auto", "none"):
            # The fake never volunteers a call; deterministic text is the "auto" outcome.
            return None
        if choice == "required":
            name = next(iter(by_name))
            return name, by_name[name]
        if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
            name = choice["function"].get("name")
            if name not in by_name:
                raise OpenAIAPIError(
                    400,
                    f"Invalid value for 'tool_choice': function '{name}' not found in 'tools'.",
                    param="tool_choice",
                )
            return name, by_name[name]
        raise _invalid_value("tool_choice", choice, ("none", "auto", "required"))

    @staticmethod
    def _format_reply(reply: str, response_format: Any) -> str:
        if not response_format or response_format.get("type") == "text":
            return reply
        if response_format["type"] == "json_object":
            return json.dumps({"response": reply}, ensure_ascii=False)
        schema = response_format["json_schema"].get("schema")
        return json.dumps(_schema_instance(schema, reply), ensure_ascii=False)

    def _chat_stream(
        self,
        completion_id: str,
        created: int,
        model: str,
        fingerprint: str,
        choices: list[dict[str, Any]],
        usage: dict[str, Any] | None,
        request_id: str,
    ) -> ProviderResponse:
        def chunk(choice_list: list[dict[str, Any]], extra: dict[str, Any] | None = None) -> dict:
            c = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "service_tier": "default",
                "system_fingerprint": fingerprint,
                "choices": choice_list,
            }
            if extra:
                c.update(extra)
            return c

        chunks: list[dict[str, Any]] = []
        for ch in choices:
            i, msg = ch["index"], ch["message"]
            first_delta: dict[str, Any] = {"role": "assistant", "content": "", "refusal": None}
            chunks.append(chunk([{"index": i, "delta": first_delta, "logprobs": None, "finish_reason": None}]))
            if msg.get("tool_calls"):
                delta = {"tool_calls": [dict(msg["tool_calls"][0], index=0)]}
                chunks.append(chunk([{"index": i, "delta": delta, "logprobs": None, "finish_reason": None}]))
            else:
                for piece in _stream_pieces(msg["content"]):
                    if piece:
                        chunks.append(
                            chunk([{"index": i, "delta": {"content": piece}, "logprobs": None, "finish_reason": None}])
                        )
            chunks.append(
                chunk([{"index": i, "delta": {}, "logprobs": None, "finish_reason": ch["finish_reason"]}])
            )
        if usage is not None:
            for c in chunks:
                c["usage"] = None
            chunks.append(chunk([], {"usage": usage}))
        return ProviderResponse(
            200, self._headers(request_id, content_type="text/event-stream; charset=utf-8"), _sse(chunks)
        )

    # ---------------------------------------------------- legacy completions

    def _completions(self, body: dict[str, Any], request_id: str) -> ProviderResponse:
        _check_unknown_args(body, _COMPLETION_ARGS)
        model = self._require_model(body)
        kind = self._model_kind(model)
        if kind is None:
            raise self._not_found(model)
        if kind == "chat":
            raise OpenAIAPIError(404, CHAT_MODEL_ON_COMPLETIONS_MESSAGE, param="model")
        if kind != "completion":
            raise self._not_found(model)
        if "prompt" not in body or body["prompt"] is None:
            raise _missing("prompt")
        prompts = self._normalise_prompt(body["prompt"])

        _check_range(body, "temperature", 0, 2, integer=False)
        _check_range(body, "top_p", 0, 1, integer=False)
        _check_range(body, "presence_penalty", -2, 2, integer=False)
        _check_range(body, "frequency_penalty", -2, 2, integer=False)
        max_tokens = _check_range(body, "max_tokens", 0, None, integer=True)
        if max_tokens is None:
            max_tokens = _LEGACY_DEFAULT_MAX_TOKENS
        n = _check_range(body, "n", 1, 128, integer=True) or 1
        best_of = _check_range(body, "best_of", 1, 20, integer=True)
        if best_of is not None and best_of < n:
            raise OpenAIAPIError(
                400, "best_of must be greater than or equal to n", param="best_of"
            )
        _check_range(body, "logprobs", 0, 5, integer=True)
        _check_range(body, "seed", None, None, integer=True)
        echo = bool(_check_bool(body, "echo"))
        stream = bool(_check_bool(body, "stream"))
        _check_str(body, "suffix")
        _check_str(body, "user")
        stops = _check_stop(body)

        digest = self._digest("completion", body)
        completion_id = "cmpl-" + _base62(digest, 29)
        created = self._created(digest)

        choices = []
        prompt_tokens = completion_tokens = 0
        for p_index, (prompt_text, p_tokens, label) in enumerate(prompts):
            prompt_tokens += p_tokens
            excerpt = _excerpt(label) or "an empty prompt"
            generated = f'\n\nThis is a deterministic completion for: "{excerpt}"'
            generated, _ = _apply_stop(generated, stops)
            # max_tokens=0 is legal on the legacy endpoint (used with echo to score prompts).
            if max_tokens == 0:
                generated, truncated = "", True
            else:
                generated, truncated = _truncate_tokens(generated, max_tokens)
            for j in range(n):
                completion_tokens += count_tokens(generated)
                choices.append(
                    {
                        "text": (prompt_text + generated) if echo else generated,
                        "index": p_index * n + j,
                        "logprobs": None,
                        "finish_reason": "length" if truncated else "stop",
                    }
                )
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        if stream:
            chunks = []
            for ch in choices:
                for piece in _stream_pieces(ch["text"]):
                    chunks.append(
                        {
                            "id": completion_id, "object": "text_completion", "created": created,
                            "model": model,
                            "choices": [{"text": piece, "index": ch["index"], "logprobs": None, "finish_reason": None}],
                        }
                    )
                chunks.append(
                    {
                        "id": completion_id, "object": "text_completion", "created": created,
                        "model": model,
                        "choices": [{"text": "", "index": ch["index"], "logprobs": None, "finish_reason": ch["finish_reason"]}],
                    }
                )
            return ProviderResponse(
                200, self._headers(request_id, content_type="text/event-stream; charset=utf-8"), _sse(chunks)
            )
        payload = {
            "id": completion_id,
            "object": "text_completion",
            "created": created,
            "model": model,
            "choices": choices,
            "usage": usage,
        }
        return ProviderResponse.json(200, payload, self._headers(request_id))

    @staticmethod
    def _normalise_prompt(prompt: Any) -> list[tuple[str, int, str]]:
        """-> [(text to echo, prompt token count, label for the reply)] per prompt."""
        expected = "one of a string, array of strings, array of integers, or array of arrays of integers"
        if isinstance(prompt, str):
            return [(prompt, count_tokens(prompt), prompt)]
        if not isinstance(prompt, list):
            raise _invalid_type("prompt", expected, prompt)
        if not prompt:
            raise _empty_array("prompt")
        if all(isinstance(p, str) for p in prompt):
            return [(p, count_tokens(p), p) for p in prompt]
        if all(_is_int(t) for t in prompt):
            return [("", len(prompt), f"{len(prompt)} prompt tokens")]
        if all(isinstance(p, list) and p and all(_is_int(t) for t in p) for p in prompt):
            return [("", len(p), f"{len(p)} prompt tokens") for p in prompt]
        raise _invalid_type("prompt", expected, prompt)

    # ---------------------------------------------------------- embeddings

    def _embeddings(self, body: dict[str, Any], request_id: str) -> ProviderResponse:
        _check_unknown_args(body, _EMBEDDING_ARGS)
        model = self._require_model(body)
        kind = self._model_kind(model)
        if kind is None:
            raise self._not_found(model)
        if kind != "embedding":
            # OpenAI's exact wording for this case is not pinned down; shape and status are.
            raise OpenAIAPIError(
                400, f"The model `{model}` does not support embeddings.", param="model"
            )
        if "input" not in body or body["input"] is None:
            raise _missing("input")
        inputs = self._normalise_input(body["input"])

        encoding = body.get("encoding_format")
        if encoding is not None and encoding not in ("float", "base64"):
            raise _invalid_value("encoding_format", encoding, ("float", "base64"))
        _check_str(body, "user")

        native = self._embedding_models[model]
        base_model = model.split(":")[1] if model.startswith("ft:") else model
        dims = native
        if "dimensions" in body:
            if base_model not in _DIMENSIONS_MODELS:
                raise OpenAIAPIError(400, NO_DIMENSIONS_MESSAGE)
            requested = _check_range(body, "dimensions", 1, native, integer=True)
            if requested is not None:
                dims = requested

        data = []
        total_tokens = 0
        for index, (key, tokens) in enumerate(inputs):
            if tokens > _EMBEDDING_MAX_INPUT_TOKENS:
                raise OpenAIAPIError(
                    400,
                    f"This model's maximum context length is {_EMBEDDING_MAX_INPUT_TOKENS + 1} "
                    f"tokens, however you requested {tokens} tokens ({tokens} in your prompt; "
                    "0 for the completion). Please reduce your prompt; or completion length.",
                )
            total_tokens += tokens
            vector = self._vector(model, key, native, dims)
            if encoding == "base64":
                embedding: Any = base64.b64encode(struct.pack(f"<{dims}f", *vector)).decode("ascii")
            else:
                embedding = vector
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        payload = {
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": total_tokens, "total_tokens": total_tokens},
        }
        return ProviderResponse.json(200, payload, self._headers(request_id))

    @staticmethod
    def _normalise_input(value: Any) -> list[tuple[bytes, int]]:
        """-> [(hash key, token count)] per input; OpenAI rejects empties as '$.input' invalid."""
        if isinstance(value, str):
            if not value:
                raise OpenAIAPIError(400, INVALID_INPUT_MESSAGE)
            return [(b"text:" + value.encode("utf-8"), count_tokens(value))]
        if not isinstance(value, list) or not value:
            raise OpenAIAPIError(400, INVALID_INPUT_MESSAGE)
        if len(value) > _EMBEDDING_MAX_INPUTS:
            raise OpenAIAPIError(
                400,
                f"Invalid 'input': array too long. Expected an array with maximum length "
                f"{_EMBEDDING_MAX_INPUTS}, but got an array with length {len(value)} instead.",
                param="input",
                code="array_above_max_length",
            )
        if all(isinstance(v, str) for v in value):
            if any(not v for v in value):
                raise OpenAIAPIError(400, INVALID_INPUT_MESSAGE)
            return [(b"text:" + v.encode("utf-8"), count_tokens(v)) for v in value]
        if all(_is_int(t) for t in value):
            return [(b"tokens:" + json.dumps(value).encode(), len(value))]
        if all(isinstance(v, list) and v and all(_is_int(t) for t in v) for v in value):
            return [(b"tokens:" + json.dumps(v).encode(), len(v)) for v in value]
        raise OpenAIAPIError(400, INVALID_INPUT_MESSAGE)

    @staticmethod
    def _vector(model: str, key: bytes, native: int, dims: int) -> list[float]:
        # The full native vector is derived first and then shortened and
        # re-normalised, which is how v3 `dimensions` behaves upstream: a
        # shortened embedding is a prefix of the full one, up to scale.
        raw = hashlib.shake_256(b"openai-embedding\0" + model.encode() + b"\0" + key).digest(4 * native)
        ints = struct.unpack(f"<{native}I", raw)[:dims]
        vals = [(u / 4294967295.0) * 2.0 - 1.0 for u in ints]
        norm = math.sqrt(sum(v * v for v in vals)) or 1.0
        return [round(v / norm, 8) for v in vals]

    # ---------------------------------------------------------------- files

    def _tick(self, seconds: int = 1) -> int:
        """The fake's clock: every event is stamped a fixed step after the previous one."""
        self._clock += seconds
        return self._clock

    def _new_id(self, prefix: str, *parts: str) -> str:
        self._sequence += 1
        digest = hashlib.sha256("\0".join((prefix, str(self._sequence), *parts)).encode()).digest()
        return prefix + _base62(digest, 24)

    def _add_file(self, purpose: str, filename: str, content: bytes) -> _StoredFile:
        """Store an upload after the checks POST /v1/files makes on purpose and format."""
        if purpose not in FILE_PURPOSES:
            raise _invalid_value("purpose", purpose, FILE_PURPOSES)
        if purpose == "batch" and not filename.lower().endswith(".jsonl"):
            raise OpenAIAPIError(400, NOT_JSONL_MESSAGE)
        return self._store_file(purpose, filename, content)

    def _store_file(self, purpose: str, filename: str, content: bytes) -> _StoredFile:
        created = self._tick()
        expires = created + _FILE_EXPIRY_SECONDS if purpose == "batch" else None
        stored = _StoredFile(self._new_id("file-", filename), purpose, filename, content, created, expires)
        self._files[stored.id] = stored
        return stored

    def _file_or_404(self, file_id: str) -> _StoredFile:
        stored = self._files.get(file_id)
        if stored is None:
            raise OpenAIAPIError(404, f"No such File object: {file_id}", param="id")
        return stored

    def _upload_file(self, request: ProviderRequest, request_id: str, _: dict[str, str]) -> ProviderResponse:
        """POST /v1/files: multipart form with ``purpose`` and ``file``; answers the file object."""
        content_type = request.headers.get("Content-Type", "")
        if not content_type.lower().startswith("multipart/form-data"):
            raise OpenAIAPIError(400, _MULTIPART_MESSAGE.format(ctype=content_type or "None"))
        fields = _multipart_fields(content_type, request.body)
        if "purpose" not in fields:
            raise _missing("purpose")
        upload = fields.get("file")
        if upload is None or upload[0] is None:
            raise _missing("file")
        purpose = fields["purpose"][1].decode("utf-8", "replace").strip()
        stored = self._add_file(purpose, upload[0], upload[1])
        return ProviderResponse.json(200, stored.as_object(), self._headers(request_id))

    def _retrieve_file(self, request: ProviderRequest, request_id: str, params: dict[str, str]) -> ProviderResponse:
        stored = self._file_or_404(params["file_id"])
        return ProviderResponse.json(200, stored.as_object(), self._headers(request_id))

    def _file_content(self, request: ProviderRequest, request_id: str, params: dict[str, str]) -> ProviderResponse:
        stored = self._file_or_404(params["file_id"])
        headers = self._headers(request_id, content_type="application/octet-stream")
        return ProviderResponse(200, headers, stored.content)

    # -------------------------------------------------------------- batches

    def _batch_or_404(self, batch_id: str) -> _StoredBatch:
        batch = self._batches.get(batch_id)
        if batch is None:
            # The status is what the service answers; its exact wording is not pinned down.
            raise OpenAIAPIError(404, f"No batch found with id '{batch_id}'.")
        return batch

    @staticmethod
    def _required_str(body: Mapping[str, Any], key: str) -> str:
        value = body.get(key)
        if value is None:
            raise _missing(key)
        if not isinstance(value, str):
            raise _invalid_type(key, "a string", value)
        return value

    @staticmethod
    def _batch_metadata(value: Any) -> dict[str, str] | None:
        if value is None:
            return None
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise _invalid_type("metadata", "an object with string values", value)
        if len(value) > 16:
            raise OpenAIAPIError(
                400,
                "Invalid 'metadata': too many properties. Expected an object with at most 16 "
                f"properties, but got an object with {len(value)} properties instead.",
                param="metadata",
                code="object_above_max_properties",
            )
        return dict(value)

    def _create_batch(self, request: ProviderRequest, request_id: str, _: dict[str, str]) -> ProviderResponse:
        """POST /v1/batches: validate the arguments, answer the new batch ("validating")."""
        body = self._parse_body(request.body)
        _check_unknown_args(body, _BATCH_ARGS)
        file_id = self._required_str(body, "input_file_id")
        endpoint = self._required_str(body, "endpoint")
        if endpoint not in BATCH_ENDPOINTS:
            raise _invalid_value("endpoint", endpoint, BATCH_ENDPOINTS)
        window = self._required_str(body, "completion_window")
        if window != "24h":
            raise _invalid_value("completion_window", window, ("24h",))
        metadata = self._batch_metadata(body.get("metadata"))
        source = self._files.get(file_id)
        if source is None:
            raise OpenAIAPIError(404, f"No such File object: {file_id}", param="input_file_id")
        if source.purpose != "batch":
            raise OpenAIAPIError(
                400, f"Invalid 'input_file_id': file {file_id} was not uploaded with purpose 'batch'.",
                param="input_file_id")
        batch = self._new_batch(file_id, endpoint, metadata)
        return ProviderResponse.json(200, batch.as_object(), self._headers(request_id))

    def _new_batch(self, file_id: str, endpoint: str, metadata: dict[str, str] | None) -> _StoredBatch:
        created = self._tick()
        fields: dict[str, Any] = {
            "id": self._new_id("batch_", file_id, endpoint),
            "object": "batch",
            "endpoint": endpoint,
            "errors": None,
            "input_file_id": file_id,
            "completion_window": "24h",
            "status": "validating",
            "output_file_id": None,
            "error_file_id": None,
            "created_at": created,
            "in_progress_at": None,
            "expires_at": created + _BATCH_WINDOW_SECONDS,
            "finalizing_at": None,
            "completed_at": None,
            "failed_at": None,
            "expired_at": None,
            "cancelling_at": None,
            "cancelled_at": None,
            "request_counts": {"total": 0, "completed": 0, "failed": 0},
            "metadata": metadata,
        }
        batch = _StoredBatch(fields)
        self._batches[batch.id] = batch
        return batch

    def _retrieve_batch(self, request: ProviderRequest, request_id: str, params: dict[str, str]) -> ProviderResponse:
        """GET /v1/batches/{id}: every retrieve moves the batch one step of its lifecycle."""
        batch = self._batch_or_404(params["batch_id"])
        self._advance(batch)
        return ProviderResponse.json(200, batch.as_object(), self._headers(request_id))

    def _cancel_batch(self, request: ProviderRequest, request_id: str, params: dict[str, str]) -> ProviderResponse:
        """POST /v1/batches/{id}/cancel: "cancelling" now, "cancelled" on the next retrieve."""
        batch = self._batch_or_404(params["batch_id"])
        if batch.status in BATCH_TERMINAL:
            raise OpenAIAPIError(409, f"Cannot cancel a batch with status '{batch.status}'.")
        if batch.status != "cancelling":
            batch.fields["status"] = "cancelling"
            batch.fields["cancelling_at"] = self._tick()
        return ProviderResponse.json(200, batch.as_object(), self._headers(request_id))

    def _list_batches(self, request: ProviderRequest, request_id: str, _: dict[str, str]) -> ProviderResponse:
        """GET /v1/batches: newest first, ``limit`` (1-100, default 20) and ``after`` cursor."""
        query = parse_qs(request.query)
        raw_limit = (query.get("limit") or ["20"])[-1]
        if not re.fullmatch(r"-?\d+", raw_limit):
            raise _invalid_type("limit", "an integer", raw_limit)
        limit = _check_range({"limit": int(raw_limit)}, "limit", 1, 100, integer=True)
        ordered = list(reversed(self._batches.values()))
        after = (query.get("after") or [None])[-1]
        ids = [b.id for b in ordered]
        if after in ids:
            ordered = ordered[ids.index(after) + 1:]
        page = [b.as_object() for b in ordered[:limit]]
        payload = {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": len(ordered) > limit,
        }
        return ProviderResponse.json(200, payload, self._headers(request_id))

    # ---------------------------------------------------- batch lifecycle

    def _advance(self, batch: _StoredBatch) -> None:
        step = {
            "validating": self._start_batch,
            "in_progress": self._run_batch,
            "finalizing": self._complete_batch,
            "cancelling": self._finish_cancel,
        }.get(batch.status)
        if step is not None:
            step(batch)

    def _start_batch(self, batch: _StoredBatch) -> None:
        """validating -> in_progress, or -> failed with the input file's line errors."""
        lines, errors = self._validate_input(batch)
        if errors:
            batch.fields.update(status="failed", failed_at=self._tick(),
                                errors={"object": "list", "data": errors})
            return
        batch.lines = lines
        batch.fields.update(status="in_progress", in_progress_at=self._tick())
        batch.fields["request_counts"] = {"total": len(lines), "completed": 0, "failed": 0}

    def _run_batch(self, batch: _StoredBatch) -> None:
        """in_progress -> finalizing: every line answered by this fake's own endpoint."""
        for line in batch.lines:
            ok, record = self._run_line(batch, line)
            (batch.outputs if ok else batch.failures).append(record)
        batch.fields.update(status="finalizing", finalizing_at=self._tick())
        batch.fields["request_counts"] = {
            "total": len(batch.lines), "completed": len(batch.outputs), "failed": len(batch.failures)}

    def _complete_batch(self, batch: _StoredBatch) -> None:
        """finalizing -> completed: the output (and error) files are written."""
        self._write_results(batch)
        batch.fields.update(status="completed", completed_at=self._tick())

    def _finish_cancel(self, batch: _StoredBatch) -> None:
        """cancelling -> cancelled: whatever had already run is kept in the output files."""
        self._write_results(batch)
        batch.fields.update(status="cancelled", cancelled_at=self._tick())

    def _write_results(self, batch: _StoredBatch) -> None:
        if batch.outputs:
            output = self._store_file("batch_output", f"{batch.id}_output.jsonl", _jsonl(batch.outputs))
            batch.fields["output_file_id"] = output.id
        if batch.failures:
            failed = self._store_file("batch_output", f"{batch.id}_error.jsonl", _jsonl(batch.failures))
            batch.fields["error_file_id"] = failed.id

    def _validate_input(self, batch: _StoredBatch) -> tuple[list[_BatchLine], list[dict[str, Any]]]:
        """Check every line of the input file as the validating phase does."""
        source = self._files.get(batch.fields["input_file_id"])
        text = source.content.decode("utf-8", "replace") if source is not None else ""
        numbered = [(n, raw) for n, raw in enumerate(text.splitlines(), start=1) if raw.strip()]
        if not numbered:
            return [], [_line_error("empty_file", "The batch input file is empty.", None)]
        if len(numbered) > _BATCH_MAX_REQUESTS:
            return [], [_line_error(
                "too_many_tasks",
                f"The batch input file contains more than the maximum of {_BATCH_MAX_REQUESTS} requests.",
                None)]
        lines: list[_BatchLine] = []
        errors: list[dict[str, Any]] = []
        seen: set[str] = set()
        model: Any = None
        for number, raw in numbered:
            outcome = self._parse_line(number, raw, batch.fields["endpoint"])
            if isinstance(outcome, dict):
                errors.append(outcome)
                continue
            if outcome.custom_id in seen:
                errors.append(_line_error(
                    "duplicate_custom_id",
                    "The custom_id for this request is a duplicate of another request. The custom_id "
                    "parameter must be unique for each request in a batch.", number, "custom_id"))
                continue
            seen.add(outcome.custom_id)
            if lines and outcome.body.get("model") != model:
                errors.append(_line_error(
                    "model_mismatch",
                    "The provided model does not match the model of the other requests in this batch. "
                    "A batch can only use one model.", number, "body.model"))
                continue
            model = outcome.body.get("model")
            lines.append(outcome)
        return lines, errors

    @staticmethod
    def _parse_line(number: int, raw: str, endpoint: str) -> _BatchLine | dict[str, Any]:
        """One input line -> the request, or its line error."""
        try:
            item = json.loads(raw)
        except ValueError:
            item = None
        if not isinstance(item, dict):
            return _line_error("invalid_json_line", "This line is not parseable as valid JSON.", number)
        custom_id = item.get("custom_id")
        if not isinstance(custom_id, str) or not custom_id:
            return _line_error("missing_required_parameter", "Missing required parameter: 'custom_id'.",
                               number, "custom_id")
        if item.get("method") != "POST":
            return _line_error("invalid_value", f"Invalid value: '{item.get('method')}'. "
                               "Supported values are: 'POST'.", number, "method")
        if item.get("url") != endpoint:
            return _line_error("url_mismatch", "The URL provided for this request does not match the "
                               f"batch endpoint '{endpoint}'.", number, "url")
        body = item.get("body")
        if not isinstance(body, dict):
            return _line_error("missing_required_parameter", "Missing required parameter: 'body'.",
                               number, "body")
        return _BatchLine(custom_id, body)

    def _run_line(self, batch: _StoredBatch, line: _BatchLine) -> tuple[bool, dict[str, Any]]:
        """(succeeded, output record): the line's body sent to the batch's endpoint."""
        endpoint = batch.fields["endpoint"]
        request_id = "req_" + hashlib.sha256(f"{batch.id}\0{line.custom_id}".encode()).hexdigest()[:32]
        handlers: dict[str, Callable[[dict[str, Any], str], ProviderResponse]] = {
            "/v1/chat/completions": self._chat_completions,
            "/v1/completions": self._completions,
            "/v1/embeddings": self._embeddings,
        }
        try:
            handler = handlers.get(endpoint)
            if handler is None:
                raise OpenAIAPIError(404, f"Invalid URL (POST {endpoint})")
            reply = handler(dict(line.body), request_id)
            status, body = reply.status, _decode_body(reply.body)
        except OpenAIAPIError as err:
            status, body = err.status, err.body()
        record = {
            "id": self._new_id("batch_req_", batch.id, line.custom_id),
            "custom_id": line.custom_id,
            "response": {"status_code": status, "request_id": request_id, "body": body},
            "error": None,
        }
        return 200 <= status < 300, record

    def _expire(self, batch: _StoredBatch) -> None:
        """The completion window closed: lines not yet run go to the error file."""
        done = {r["custom_id"] for r in batch.outputs + batch.failures}
        for line in batch.lines:
            if line.custom_id not in done:
                batch.failures.append({
                    "id": self._new_id("batch_req_", batch.id, line.custom_id),
                    "custom_id": line.custom_id,
                    "response": None,
                    "error": {"code": "batch_expired", "message": BATCH_EXPIRED_LINE_MESSAGE},
                })
        self._write_results(batch)
        batch.fields.update(status="expired", expired_at=self._tick())

    # ------------------------------------------------ direct access for tests

    def upload_file(self, content: bytes | str, *, filename: str = "batch_input.jsonl",
                    purpose: str = "batch") -> dict[str, Any]:
        """Store a file as POST /v1/files would (same purpose and format checks), no HTTP."""
        data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
        with self._state_lock:
            return self._add_file(purpose, filename, data).as_object()

    def file_content(self, file_id: str) -> bytes:
        """The bytes of an uploaded or batch-written file (KeyError when unknown)."""
        with self._state_lock:
            return self._files[file_id].content

    def batch(self, batch_id: str) -> dict[str, Any]:
        """The batch object as it stands, without the step a retrieve would make."""
        with self._state_lock:
            return self._batches[batch_id].as_object()

    @property
    def batch_ids(self) -> list[str]:
        """Every batch created so far, oldest first."""
        with self._state_lock:
            return list(self._batches)

    def advance_batch(self, batch_id: str, to: str = "completed") -> dict[str, Any]:
        """Move a batch forward (as successive retrieves would) until it reaches ``to`` or ends."""
        with self._state_lock:
            batch = self._batches[batch_id]
            while batch.status != to and batch.status not in BATCH_TERMINAL:
                self._advance(batch)
            return batch.as_object()

    def expire_batch(self, batch_id: str) -> dict[str, Any]:
        """End a running batch as "expired" (its 24h completion window closed)."""
        with self._state_lock:
            batch = self._batches[batch_id]
            if batch.status in BATCH_TERMINAL:
                raise ValueError(f"batch {batch_id} already ended as {batch.status}")
            self._expire(batch)
            return batch.as_object()

    # ----------------------------------------------- canned replies for Script

    @staticmethod
    def error_response(
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> ProviderResponse:
        """Any error in OpenAI's envelope, for script.enqueue()."""
        err = OpenAIAPIError(status, message, type=type, param=param, code=code)
        hdrs = {"x-request-id": "req_" + hashlib.sha256(message.encode()).hexdigest()[:32]}
        hdrs.update(headers or {})
        return ProviderResponse.json(status, err.body(), hdrs)

    @classmethod
    def rate_limit_response(
        cls, model: str = "gpt-3.5-turbo", *, limit: int = 3, retry_after: int = 20,
        organization: str = "org-fakeopenai",
    ) -> ProviderResponse:
        """429 rate_limit_exceeded, as sent when RPM is exhausted."""
        return cls.error_response(
            429,
            RATE_LIMIT_MESSAGE.format(model=model, org=organization, limit=limit, retry=retry_after),
            type="requests",
            code="rate_limit_exceeded",
            headers={
                "x-ratelimit-limit-requests": str(limit),
                "x-ratelimit-remaining-requests": "0",
                "x-ratelimit-reset-requests": f"{retry_after}s",
                "retry-after": str(retry_after),
            },
        )

    @classmethod
    def quota_exceeded_response(cls) -> ProviderResponse:
        """429 insufficient_quota (not retryable, unlike a rate limit)."""
        return cls.error_response(429, QUOTA_MESSAGE, type="insufficient_quota", code="insufficient_quota")

    @classmethod
    def server_error_response(cls) -> ProviderResponse:
        return cls.error_response(500, SERVER_ERROR_MESSAGE, type="server_error")

    @classmethod
    def overloaded_response(cls) -> ProviderResponse:
        return cls.error_response(503, OVERLOADED_MESSAGE, type="server_error")
