"""Deterministic in-process fake of Amazon Bedrock Runtime and the Bedrock Agent Runtime Rerank API.

Operations (all SigV4-authenticated with signing service ``bedrock``):

* ``POST https://bedrock-runtime.<region>.amazonaws.com/model/{modelId}/invoke`` (InvokeModel)
* ``POST https://bedrock-runtime.<region>.amazonaws.com/model/{modelId}/converse`` (Converse)
* ``POST https://bedrock-runtime.<region>.amazonaws.com/openai/v1/chat/completions`` (the
  OpenAI-compatible Chat Completions API of the OpenAI open-weight models, gpt-oss)
* ``POST https://bedrock-agent-runtime.<region>.amazonaws.com/rerank`` (Rerank)

InvokeModel bodies are checked the way Bedrock checks them: a JSON schema per
model family whose violations come back as 400 ``ValidationException``
``Malformed input request: #/<path>: <everit-style message>, please reformat your
input and try again.`` (several violations are concatenated), then the model's
own rules (Anthropic's ``messages: ...`` texts, Titan's token limits, ...).
Converse and Rerank are ordinary REST-JSON operations, so their member
constraints fail with Coral's ``N validation error(s) detected: Value ... at
'...' failed to satisfy constraint: ...`` texts.

Every output is a pure function of the request: embeddings are unit vectors
derived from a hash of (model, input), replies and ids from a hash of the body.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import inspect
import itertools
import json
import math
import re
import struct
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from .aws import (
    AWS_REGIONS,
    AwsError,
    Clock,
    Credentials,
    SigV4Verifier,
    aws_json_response,
    deterministic_uuid,
    parse_aws_host,
    request_id_for,
)
from .base import ProviderRequest, ProviderResponse, Recorder, Script, ScriptCallable, delayed, received
from .openai import FakeOpenAI

__all__ = ["BedrockModel", "FakeBedrockRuntime", "bedrock_error"]

BEDROCK_NAMESPACE = "http://internal.amazon.com/coral/com.amazon.bedrock/"

# --------------------------------------------------------------------------
# Bedrock's texts, verbatim where known.
# --------------------------------------------------------------------------
INVALID_MODEL_ID_MESSAGE = "The provided model identifier is invalid."
ACCESS_DENIED_MESSAGE = "You don't have access to the model with the specified model ID."
END_OF_LIFE_MESSAGE = (
    "This model version has reached the end of its life. Please refer to the AWS documentation for more details."
)
ON_DEMAND_NOT_SUPPORTED_MESSAGE = (
    "Invocation of model ID {model} with on-demand throughput isn\u2019t supported. Retry your "
    "request with the ID or ARN of an inference profile that contains this model."
)
MALFORMED_MESSAGE = "Malformed input request: {detail}, please reformat your input and try again."
THROTTLING_MESSAGE = "Too many requests, please wait before trying again."
TOO_MANY_TOKENS_MESSAGE = "Too many tokens, please wait before trying again."
SERVICE_UNAVAILABLE_MESSAGE = "Bedrock is unable to process your request."
INTERNAL_SERVER_MESSAGE = (
    "The system encountered an unexpected error during processing. Try your request again."
)
MODEL_TIMEOUT_MESSAGE = "Model has timed out in processing the request. Try your request again."
MODEL_NOT_READY_MESSAGE = (
    "Model is not ready to serve inference requests. The AWS SDK will automatically retry the "
    "operation up to 5 times. For information about configuring automatic retries, see Retry "
    "behavior in the AWS SDKs and Tools reference guide."
)
TOO_MANY_INPUT_TOKENS_MESSAGE = (
    "400 Bad Request: Too many input tokens. Max input tokens: {limit}, request input token count: {count} "
)
CONVERSE_UNSUPPORTED_MESSAGE = (
    "This action doesn't support the model that you provided. Try again with a supported text or "
    "chat model."
)
CONVERSE_FIRST_USER_MESSAGE = (
    "A conversation must start with a user message. Try again with a conversation that starts "
    "with a user message."
)
CONVERSE_ALTERNATE_MESSAGE = (
    "A conversation must alternate between user and assistant roles. Make sure the conversation "
    "alternates between user and assistant roles and try again."
)
CONVERSE_EMPTY_CONTENT_MESSAGE = (
    "The content field in the Message object at messages.{i} is empty. Add a ContentBlock object "
    "to the content field and try again."
)
CONVERSE_BLANK_TEXT_MESSAGE = (
    "The text field in the ContentBlock object at messages.{i}.content.{j} is blank. Add text to "
    "the text field, and try again."
)
CONVERSE_MAX_TOKENS_MESSAGE = (
    "The maximum tokens you requested exceeds the model limit of {limit}. Try again with a "
    "maximum tokens value that is lower than {limit}."
)
CLAUDE_TEXT_API_MESSAGE = '"{model}" is not supported on this API. Please use the Messages API instead.'
PROMPT_START_MESSAGE = 'Invalid prompt: prompt must start with "\n\nHuman:" turn after an optional system prompt'
PROMPT_END_MESSAGE = 'Invalid prompt: prompt must end with "\n\nAssistant:" turn'

_TOKEN_RE = re.compile(r"\w+|[^\w\s]", re.UNICODE)
_WORD_RE = re.compile(r"\w+", re.UNICODE)
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_PATH_RE = re.compile(
    r"^/model/(?P<model>[^/]+)/(?P<op>invoke|converse|invoke-with-response-stream|converse-stream)$"
)
_OPENAI_CHAT_PATH = "/openai/v1/chat/completions"
_FOUNDATION_ARN_RE = re.compile(
    r"^arn:aws(?:-[a-z-]+)?:bedrock:(?P<region>[a-z0-9-]{1,20})::foundation-model/(?P<id>.+)$"
)
_PROFILE_ARN_RE = re.compile(
    r"^arn:aws(?:-[a-z-]+)?:bedrock:(?P<region>[a-z0-9-]{1,20}):\d{12}:inference-profile/(?P<id>.+)$"
)
# Cross-region inference profile prefixes -> which source regions may use them.
_PROFILE_GEOS: dict[str, Callable[[str], bool]] = {
    "us": lambda r: r.startswith("us-") and not r.startswith("us-gov-"),
    "us-gov": lambda r: r.startswith("us-gov-"),
    "eu": lambda r: r.startswith("eu-") or r == "il-central-1",
    "apac": lambda r: r.startswith("ap-"),
    "jp": lambda r: r in ("ap-northeast-1", "ap-northeast-3"),
    "au": lambda r: r in ("ap-southeast-2", "ap-southeast-4"),
    "ca": lambda r: r.startswith("ca-"),
    "global": lambda r: True,
}


# --------------------------------------------------------------------------
# Model catalogue
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class BedrockModel:
    """One base model the fake serves.

    kind: titan-embed-text-v1 | titan-embed-text-v2 | titan-embed-image-v1 | nova-embed |
    cohere-embed-v3 | cohere-embed-v4 | claude | cohere-rerank | amazon-rerank | openai-chat.
    """

    model_id: str
    kind: str
    dimension: int = 0
    anthropic_name: str = ""
    max_output_tokens: int = 4096
    text_completions: bool = False  # legacy Claude v2 / instant: also "prompt" bodies
    inference_profile_only: bool = False
    cache_usage_fields: bool = False  # newer Claude usage carries cache_* counters


def _claude(model_id: str, name: str, max_out: int, *, legacy: bool = False, profile: bool = False,
            cache: bool = False) -> BedrockModel:
    return BedrockModel(model_id, "claude", anthropic_name=name, max_output_tokens=max_out,
                        text_completions=legacy, inference_profile_only=profile, cache_usage_fields=cache)


_CATALOGUE: tuple[BedrockModel, ...] = (
    BedrockModel("amazon.titan-embed-text-v1", "titan-embed-text-v1", 1536),
    BedrockModel("amazon.titan-embed-g1-text-02", "titan-embed-text-v1", 1536),
    BedrockModel("amazon.titan-embed-text-v2:0", "titan-embed-text-v2", 1024),
    BedrockModel("amazon.titan-embed-image-v1", "titan-embed-image-v1", 1024),
    BedrockModel("amazon.nova-2-multimodal-embeddings-v1:0", "nova-embed", 3072),
    BedrockModel("cohere.embed-english-v3", "cohere-embed-v3", 1024),
    BedrockModel("cohere.embed-multilingual-v3", "cohere-embed-v3", 1024),
    BedrockModel("cohere.embed-v4:0", "cohere-embed-v4", 1536),
    BedrockModel("cohere.rerank-v3-5:0", "cohere-rerank"),
    BedrockModel("amazon.rerank-v1:0", "amazon-rerank"),
    _claude("anthropic.claude-instant-v1", "claude-instant-1.2", 4096, legacy=True),
    _claude("anthropic.claude-v2", "claude-2.0", 4096, legacy=True),
    _claude("anthropic.claude-v2:1", "claude-2.1", 4096, legacy=True),
    _claude("anthropic.claude-3-haiku-20240307-v1:0", "claude-3-haiku-20240307", 4096),
    _claude("anthropic.claude-3-sonnet-20240229-v1:0", "claude-3-sonnet-20240229", 4096),
    _claude("anthropic.claude-3-opus-20240229-v1:0", "claude-3-opus-20240229", 4096),
    _claude("anthropic.claude-3-5-sonnet-20240620-v1:0", "claude-3-5-sonnet-20240620", 8192),
    _claude("anthropic.claude-3-5-sonnet-20241022-v2:0", "claude-3-5-sonnet-20241022", 8192, profile=True),
    _claude("anthropic.claude-3-5-haiku-20241022-v1:0", "claude-3-5-haiku-20241022", 8192, profile=True),
    _claude("anthropic.claude-3-7-sonnet-20250219-v1:0", "claude-3-7-sonnet-20250219", 64000,
            profile=True, cache=True),
    _claude("anthropic.claude-sonnet-4-20250514-v1:0", "claude-sonnet-4-20250514", 64000,
            profile=True, cache=True),
    _claude("anthropic.claude-opus-4-20250514-v1:0", "claude-opus-4-20250514", 32000,
            profile=True, cache=True),
    _claude("anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5-20250929", 64000,
            profile=True, cache=True),
    _claude("anthropic.claude-haiku-4-5-20251001-v1:0", "claude-haiku-4-5-20251001", 64000,
            profile=True, cache=True),
    BedrockModel("openai.gpt-oss-120b-1:0", "openai-chat"),
    BedrockModel("openai.gpt-oss-20b-1:0", "openai-chat"),
)
_EMBED_KINDS = frozenset(
    {"titan-embed-text-v1", "titan-embed-text-v2", "titan-embed-image-v1", "nova-embed", "cohere-embed-v3",
     "cohere-embed-v4"}
)
_RERANK_KINDS = frozenset({"cohere-rerank", "amazon-rerank"})

# A registered custom model: handler(body, request) -> JSON-able | ProviderResponse (or awaitable).
ModelHandler = Callable[[Any, ProviderRequest], Any | Awaitable[Any]]


def bedrock_error(status: int, code: str, message: str | None) -> AwsError:
    """A Bedrock error: {"message": ...} with x-amzn-ErrorType <code>:<bedrock namespace>."""
    return AwsError(status, code, message, namespace=BEDROCK_NAMESPACE)


def _validation(message: str) -> AwsError:
    return bedrock_error(400, "ValidationException", message)


def _malformed(details: Iterable[str]) -> AwsError:
    return _validation(MALFORMED_MESSAGE.format(detail="".join(details)))


# --------------------------------------------------------------------------
# Everit-style JSON schema checks (what Bedrock runs on InvokeModel bodies)
# --------------------------------------------------------------------------

_TYPE_NAMES = {
    "string": "String", "integer": "Integer", "number": "Number", "boolean": "Boolean",
    "array": "JSONArray", "object": "JSONObject", "null": "Null",
}


def _found(v: Any) -> str:
    if v is None:
        return "Null"
    if isinstance(v, bool):
        return "Boolean"
    if isinstance(v, int):
        return "Integer"
    if isinstance(v, float):
        return "BigDecimal"
    if isinstance(v, str):
        return "String"
    if isinstance(v, list):
        return "JSONArray"
    return "JSONObject"


def _is_type(v: Any, t: str) -> bool:
    if t == "string":
        return isinstance(v, str)
    if t == "integer":
        return isinstance(v, int) and not isinstance(v, bool)
    if t == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if t == "boolean":
        return isinstance(v, bool)
    if t == "array":
        return isinstance(v, list)
    if t == "object":
        return isinstance(v, dict)
    return v is None


def _java(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (dict, list)):
        return json.dumps(v, separators=(",", ":"), ensure_ascii=False)
    return str(v)


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def _check(value: Any, schema: Mapping[str, Any], ptr: str, errors: list[str]) -> None:
    types = schema.get("type")
    if types:
        tl = [types] if isinstance(types, str) else list(types)
        if not any(_is_type(value, t) for t in tl):
            if len(tl) == 1:
                errors.append(f"{ptr}: expected type: {_TYPE_NAMES[tl[0]]}, found: {_found(value)}")
            else:
                names = ", ".join(_TYPE_NAMES[t] for t in tl)
                errors.append(f"{ptr}: expected type is one of {names}, found: {_found(value)}")
            return
    if "enum" in schema and not any(_same(value, e) for e in schema["enum"]):
        errors.append(f"{ptr}: {_java(value)} is not a valid enum value")
        return
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            errors.append(f"{ptr}: expected minLength: {schema['minLength']}, actual: {len(value)}")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append(f"{ptr}: expected maxLength: {schema['maxLength']}, actual: {len(value)}")
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{ptr}: {_java(value)} is not greater or equal to {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{ptr}: {_java(value)} is not less or equal to {schema['maximum']}")
    elif isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            errors.append(f"{ptr}: expected minimum item count: {schema['minItems']}, found: {len(value)}")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append(f"{ptr}: expected maximum item count: {schema['maxItems']}, found: {len(value)}")
        if "items" in schema:
            for i, item in enumerate(value):
                _check(item, schema["items"], f"{ptr}/{i}", errors)
    elif isinstance(value, dict):
        props = schema.get("properties", {})
        for key in schema.get("required", ()):
            if key not in value:
                errors.append(f"{ptr}: required key [{key}] not found")
        if schema.get("additionalProperties", True) is False:
            for key in value:
                if key not in props:
                    errors.append(f"{ptr}: extraneous key [{key}] is not permitted")
        for key, sub in props.items():
            if key in value:
                _check(value[key], sub, f"{ptr}/{key}", errors)


def _validate(body: Any, schema: Mapping[str, Any]) -> None:
    errors: list[str] = []
    _check(body, schema, "#", errors)
    if errors:
        raise _malformed(errors)


def _obj(props: Mapping[str, Any], required: Iterable[str] = (), *, closed: bool = True) -> dict[str, Any]:
    return {"type": "object", "properties": dict(props), "required": list(required),
            "additionalProperties": not closed}


_STR = {"type": "string"}
_INT = {"type": "integer"}
_NUM = {"type": "number"}
_BOOL = {"type": "boolean"}

_TITAN_V1_SCHEMA = _obj({"inputText": {"type": "string", "minLength": 1}}, ["inputText"])
_TITAN_V2_SCHEMA = _obj(
    {
        "inputText": {"type": "string", "minLength": 1, "maxLength": 50000},
        "dimensions": {"type": "integer", "enum": [256, 512, 1024]},
        "normalize": _BOOL,
        "embeddingTypes": {"type": "array", "minItems": 1, "maxItems": 2,
                           "items": {"type": "string", "enum": ["float", "binary"]}},
    },
    ["inputText"],
)
# null stands for "absent": ML Commons' multimodal blueprint sends ``${parameters.inputImage:-null}``
_TITAN_IMAGE_SCHEMA = _obj(
    {
        "inputText": {"type": ["string", "null"], "minLength": 1},
        "inputImage": {"type": ["string", "null"], "minLength": 1},
        "embeddingConfig": _obj({"outputEmbeddingLength": {"type": "integer", "enum": [256, 384, 1024]}},
                                ["outputEmbeddingLength"]),
    }
)
_NOVA_SOURCE = _obj({
    "bytes": {"type": "string", "minLength": 1},
    "s3Location": _obj({"uri": {"type": "string", "minLength": 1}, "bucketOwner": _STR}, ["uri"]),
})
_NOVA_PURPOSES = ["GENERIC_INDEX", "GENERIC_RETRIEVAL", "TEXT_RETRIEVAL", "IMAGE_RETRIEVAL", "VIDEO_RETRIEVAL",
                  "DOCUMENT_RETRIEVAL", "AUDIO_RETRIEVAL", "CLASSIFICATION", "CLUSTERING"]
_NOVA_SCHEMA = _obj(
    {
        "schemaVersion": {"type": "string", "enum": ["nova-multimodal-embed-v1"]},
        "taskType": {"type": "string", "enum": ["SINGLE_EMBEDDING", "SEGMENTED_EMBEDDING"]},
        "singleEmbeddingParams": _obj(
            {
                "embeddingPurpose": {"type": "string", "enum": _NOVA_PURPOSES},
                "embeddingDimension": {"type": "integer", "enum": [256, 384, 1024, 3072]},
                "text": _obj({"truncationMode": {"type": "string", "enum": ["START", "END", "NONE"]},
                              "value": _STR, "source": _NOVA_SOURCE}, ["truncationMode"]),
                "image": _obj({"detailLevel": {"type": "string", "enum": ["STANDARD_IMAGE", "DOCUMENT_IMAGE"]},
                               "format": {"type": "string", "enum": ["png", "jpeg", "gif", "webp"]},
                               "source": _NOVA_SOURCE}, ["format", "source"]),
                "audio": _obj({"format": {"type": "string", "enum": ["mp3", "wav", "ogg"]},
                               "source": _NOVA_SOURCE}, ["format", "source"]),
                "video": _obj({"format": {"type": "string", "enum": ["mp4", "mov", "mkv", "webm", "flv", "mpeg",
                                                                     "mpg", "wmv", "3gp"]},
                               "embeddingMode": {"type": "string",
                                                 "enum": ["AUDIO_VIDEO_COMBINED", "AUDIO_VIDEO_SEPARATE"]},
                               "source": _NOVA_SOURCE}, ["format", "source", "embeddingMode"]),
            },
            ["embeddingPurpose"],
        ),
    },
    ["taskType"],
)
_NOVA_MODALITIES = ("text", "image", "video", "audio")
_NOVA_MAX_TEXT_TOKENS = 8192
# UNSURE: wording of Nova's own (post-schema) validation texts
NOVA_ONE_MODALITY_MESSAGE = "Exactly one of text, image, video or audio must be provided in singleEmbeddingParams."
NOVA_ONE_SOURCE_MESSAGE = "Exactly one of {choices} must be provided for {field}."
NOVA_ASYNC_ONLY_MESSAGE = "SEGMENTED_EMBEDDING is only supported by the asynchronous API (StartAsyncInvoke)."
NOVA_TEXT_TOO_LONG_MESSAGE = (
    "Input text exceeds the maximum of {limit} tokens ({count} given) and truncationMode is NONE."
)
_COHERE_INPUT_TYPES = ["search_document", "search_query", "classification", "clustering", "image"]
_COHERE_EMBEDDING_TYPES = ["float", "int8", "uint8", "binary", "ubinary"]
_COHERE_V3_PROPS = {
    "texts": {"type": "array", "maxItems": 96, "items": {"type": "string", "maxLength": 2048}},
    "images": {"type": "array", "maxItems": 1, "items": _STR},
    "input_type": {"type": "string", "enum": _COHERE_INPUT_TYPES},
    "truncate": {"type": "string", "enum": ["NONE", "START", "END"]},
    "embedding_types": {"type": "array", "minItems": 1,
                        "items": {"type": "string", "enum": _COHERE_EMBEDDING_TYPES}},
}
_COHERE_V3_SCHEMA = _obj(_COHERE_V3_PROPS, ["input_type"])
_COHERE_V4_SCHEMA = _obj(
    dict(_COHERE_V3_PROPS,
         output_dimension={"type": "integer", "enum": [256, 512, 1024, 1536]},
         max_tokens={"type": "integer", "minimum": 1}),
    ["input_type"],
)
_CLAUDE_MESSAGES_SCHEMA = _obj(
    {
        "anthropic_version": {"type": "string", "enum": ["bedrock-2023-05-31"]},
        "anthropic_beta": {"type": "array", "items": _STR},
        "max_tokens": _INT,
        "messages": {"type": "array", "items": {"type": "object", "required": ["role", "content"]}},
        "system": {"type": ["string", "array"]},
        "temperature": _NUM,
        "top_p": _NUM,
        "top_k": _INT,
        "stop_sequences": {"type": "array", "items": _STR},
        "tools": {"type": "array", "items": {"type": "object"}},
        "tool_choice": {"type": "object"},
        "thinking": {"type": "object"},
        "metadata": {"type": "object"},
    },
    ["anthropic_version", "max_tokens", "messages"],
)
_CLAUDE_TEXT_SCHEMA = _obj(
    {
        "prompt": _STR,
        "max_tokens_to_sample": _INT,
        "temperature": _NUM,
        "top_p": _NUM,
        "top_k": _INT,
        "stop_sequences": {"type": "array", "items": _STR},
        "anthropic_version": _STR,
    },
    ["prompt", "max_tokens_to_sample"],
)
_RERANK_DOCS = {"type": "array", "minItems": 1, "maxItems": 1000, "items": {"type": ["string", "object"]}}
_COHERE_RERANK_SCHEMA = _obj(
    {
        "query": {"type": "string", "minLength": 1},
        "documents": _RERANK_DOCS,
        "top_n": {"type": "integer", "minimum": 1},
        "api_version": {"type": "integer", "minimum": 2, "maximum": 2},
        "max_tokens_per_doc": {"type": "integer", "minimum": 1},
    },
    ["query", "documents", "api_version"],
)
_AMAZON_RERANK_SCHEMA = _obj(
    {"query": {"type": "string", "minLength": 1}, "documents": _RERANK_DOCS,
     "top_n": {"type": "integer", "minimum": 1}},
    ["query", "documents"],
)


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def count_tokens(text: str) -> int:
    """Approximate token count used for every usage figure the fake reports."""
    return len(_TOKEN_RE.findall(text))


def _truncate_tokens(text: str, limit: int) -> tuple[str, bool]:
    matches = list(_TOKEN_RE.finditer(text))
    if len(matches) <= limit:
        return text, False
    if limit <= 0:
        return "", True
    return text[: matches[limit - 1].end()], True


def _excerpt(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _base62(data: bytes, length: int) -> str:
    n = int.from_bytes(data, "big")
    out = []
    for _ in range(length):
        n, r = divmod(n, 62)
        out.append(_BASE62[r])
    return "".join(out)


def _digest(*parts: Any) -> bytes:
    h = hashlib.sha256()
    for p in parts:
        if isinstance(p, bytes):
            h.update(p)
        elif isinstance(p, str):
            h.update(p.encode("utf-8"))
        else:
            h.update(json.dumps(p, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
        h.update(b"\x00")
    return h.digest()


def _raw_vector(model: str, key: bytes, dims: int) -> list[float]:
    raw = hashlib.shake_256(b"bedrock-embedding\0" + model.encode() + b"\0" + key).digest(4 * dims)
    return [(u / 4294967295.0) * 2.0 - 1.0 for u in struct.unpack(f"<{dims}I", raw)]


def _normalise(vals: list[float], scale: float = 1.0) -> list[float]:
    norm = math.sqrt(sum(v * v for v in vals)) or 1.0
    return [round(v / norm * scale, 8) for v in vals]


def _int8(vec: list[float]) -> list[int]:
    peak = max((abs(v) for v in vec), default=1.0) or 1.0
    return [max(-128, min(127, round(v / peak * 127))) for v in vec]


def _packed_bits(vec: list[float], signed: bool) -> list[int]:
    out = []
    for i in range(0, len(vec), 8):
        byte = 0
        for v in vec[i:i + 8]:
            byte = (byte << 1) | (1 if v > 0 else 0)
        out.append(byte - 256 if signed and byte > 127 else byte)
    return out


def _relevance(model: str, query: str, document: str) -> float:
    """Cross-encoder-ish score in (0, 1): word overlap plus a hash jitter."""
    q = {w.lower() for w in _WORD_RE.findall(query)}
    d = {w.lower() for w in _WORD_RE.findall(document)}
    overlap = len(q & d) / len(q) if q else 0.0
    jitter = int.from_bytes(_digest("rerank", model, query, document)[:8], "big") / 2.0**64
    logit = 7.0 * overlap - 4.0 + (jitter - 0.5)
    return round(1.0 / (1.0 + math.exp(-logit)), 8)


def _document_text(doc: Any) -> str:
    return doc if isinstance(doc, str) else json.dumps(doc, sort_keys=True, ensure_ascii=False)


def _orgjson_error(text: str) -> str:
    """Bedrock parses bodies with org.json; imitate the shape of its parse errors."""
    stripped = text.lstrip()
    if not stripped:
        return "A JSONObject text must begin with '{' at 0 [character 1 line 1]"
    if not stripped.startswith("{"):
        return "A JSONObject text must begin with '{' at 1 [character 2 line 1]"
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        pos = exc.pos + 1
        where = f"at {pos} [character {exc.colno + 1} line {exc.lineno}]"
        msg = exc.msg
        if msg.startswith(("Unterminated string", "Invalid control character")):
            return f"Unterminated string {where}"
        if msg.startswith("Expecting ',' delimiter"):
            return f"Expected a ',' or '}}' {where}"
        if msg.startswith("Expecting ':' delimiter"):
            return f"Expected a ':' after a key {where}"
        if msg.startswith("Expecting property name"):
            return f"A JSONObject text must end with '}}' {where}"
        if msg.startswith("Extra data"):
            return f"A JSONObject text must end with '}}' {where}"
        return f"Missing value {where}"
    return f"Missing value at {len(text)} [character {len(text) + 1} line 1]"


def _parse_invoke_body(raw: bytes) -> dict[str, Any]:
    def _reject_constant(token: str) -> Any:
        raise ValueError(token)

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _malformed(["A JSONObject text must begin with '{' at 1 [character 2 line 1]"]) from None
    try:
        body = json.loads(text, parse_constant=_reject_constant)
    except ValueError:
        raise _malformed([_orgjson_error(text)]) from None
    if not isinstance(body, dict):
        raise _malformed(["A JSONObject text must begin with '{' at 1 [character 2 line 1]"])
    return body


class _Coral:
    """Collects Coral-style member constraint violations (REST-JSON operations)."""

    def __init__(self) -> None:
        self.items: list[str] = []

    @staticmethod
    def _value(v: Any) -> str:
        if v is None:
            return "null"
        return f"'{_java(v)}'"

    def add(self, value: Any, path: str, constraint: str) -> None:
        self.items.append(f"Value {self._value(value)} at '{path}' failed to satisfy constraint: {constraint}")

    def raise_if_any(self) -> None:
        if not self.items:
            return
        n = len(self.items)
        noun = "error" if n == 1 else "errors"
        raise _validation(f"{n} validation {noun} detected: " + "; ".join(self.items))


def _serialization_error() -> AwsError:
    # REST-JSON bodies that don't deserialise into the operation's shapes.
    return bedrock_error(400, "SerializationException", None)


# --------------------------------------------------------------------------
# The fake
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Resolved:
    model: BedrockModel | None
    custom: str | None
    via_profile: bool


class FakeBedrockRuntime:
    """Strict, deterministic stand-in for bedrock-runtime / bedrock-agent-runtime in every region.

    credentials: None accepts any well-formed SigV4 signature; a mapping
    access_key -> secret (or -> (secret, session_token)) verifies signatures.
    clock: time source for the X-Amz-Date window (default: real UTC now).
    denied_models: model ids answered with 403 AccessDeniedException (no model access granted).
    retired_models: model ids answered with 404 ResourceNotFoundException (model end of life).
    models: extra model ids -> handler(body, request), answered by InvokeModel.
    regions: extra regions beyond aws.AWS_REGIONS.
    """

    name = "bedrock"
    service = "bedrock"
    hosts: tuple[str, ...] = tuple(
        f"{prefix}.{region}.amazonaws.com"
        for region in AWS_REGIONS
        for prefix in ("bedrock-runtime", "bedrock-agent-runtime")
    )

    def __init__(
        self,
        *,
        credentials: Credentials | None = None,
        clock: Clock | None = None,
        denied_models: Iterable[str] = (),
        retired_models: Iterable[str] = (),
        models: Mapping[str, ModelHandler] | None = None,
        regions: Iterable[str] = (),
        recorder_size: int = 1000,
    ) -> None:
        self.recorder = Recorder(recorder_size)
        self.script = Script()
        self.verifier = SigV4Verifier(self.service, credentials=credentials, clock=clock)
        self.denied_models = set(denied_models)
        self.retired_models = set(retired_models)
        self._catalogue: dict[str, BedrockModel] = {m.model_id: m for m in _CATALOGUE}
        # The Chat Completions API validates and answers like OpenAI's: delegated (composition).
        self._openai = FakeOpenAI(
            chat_models=[m.model_id for m in _CATALOGUE if m.kind == "openai-chat"], recorder_size=1)
        self._custom: dict[str, ModelHandler] = dict(models or {})
        extra = tuple(r for r in regions if r not in AWS_REGIONS)
        self.regions = frozenset(AWS_REGIONS) | frozenset(extra)
        if extra:
            self.hosts = type(self).hosts + tuple(
                f"{p}.{r}.amazonaws.com" for r in extra for p in ("bedrock-runtime", "bedrock-agent-runtime")
            )

    # ---------------------------------------------------------- routing

    def matches(self, host: str) -> bool:
        parsed = parse_aws_host(host)
        return (
            parsed is not None
            and parsed[0] in ("bedrock-runtime", "bedrock-agent-runtime")
            and parsed[1] in self.regions
        )

    def register_model(self, model_id: str, handler: ModelHandler) -> None:
        """Serve model_id from handler(body, request) (JSON-able result -> 200, or a ProviderResponse)."""
        self._custom[model_id] = handler

    @property
    def model_ids(self) -> tuple[str, ...]:
        return tuple(self._catalogue) + tuple(self._custom)

    async def handle(self, request: ProviderRequest) -> ProviderResponse:
        request, scripted = await received(self, request)
        if scripted is not None:
            return scripted
        request_id = request_id_for(request)
        try:
            return await self._dispatch(request, request_id)
        except AwsError as err:
            return err.response(request_id)

    async def _dispatch(self, request: ProviderRequest, request_id: str) -> ProviderResponse:
        parsed = parse_aws_host(request.host)
        if parsed is not None:
            endpoint, region = parsed
        else:
            # Served over loopback (make_app): route by path, accept any scope region.
            endpoint = "bedrock-agent-runtime" if request.path == "/rerank" else "bedrock-runtime"
            region = None
        self.verifier.verify(request, region=region)

        if endpoint == "bedrock-agent-runtime":
            if request.method == "POST" and request.path == "/rerank":
                return self._rerank(request, request_id, region)
            raise self._unknown_operation()
        if request.method == "POST" and request.path == _OPENAI_CHAT_PATH:
            return await self._chat_completions(request, request_id, region)
        m = _PATH_RE.match(request.path)
        if m is None or request.method != "POST":
            raise self._unknown_operation()
        op = m.group("op")
        if op in ("invoke-with-response-stream", "converse-stream"):
            raise _validation("The fake Bedrock runtime does not implement streaming operations.")
        resolved = self._resolve(unquote(m.group("model")), region)
        if op == "converse":
            return self._converse(request, request_id, resolved)
        return await self._invoke(request, request_id, resolved)

    @staticmethod
    def _unknown_operation() -> AwsError:
        return AwsError(404, "UnknownOperationException", None)

    def _resolve(self, model_id: str, region: str | None) -> _Resolved:
        if model_id in self._custom:
            return _Resolved(None, model_id, False)
        via_profile = False
        m = _FOUNDATION_ARN_RE.match(model_id)
        if m:
            if region is not None and m.group("region") != region:
                raise _validation(INVALID_MODEL_ID_MESSAGE)
            model_id = m.group("id")
        else:
            m = _PROFILE_ARN_RE.match(model_id)
            if m:
                if region is not None and m.group("region") != region:
                    raise _validation(INVALID_MODEL_ID_MESSAGE)
                model_id = m.group("id")
        geo, dot, rest = model_id.partition(".")
        if dot and geo in _PROFILE_GEOS and rest in self._catalogue:
            base = self._catalogue[rest]
            if base.kind != "claude" or base.text_completions:
                raise _validation(INVALID_MODEL_ID_MESSAGE)
            if region is not None and not _PROFILE_GEOS[geo](region):
                raise _validation(INVALID_MODEL_ID_MESSAGE)
            model_id, via_profile = rest, True
        if model_id in self._custom:
            return _Resolved(None, model_id, via_profile)
        model = self._catalogue.get(model_id)
        if model_id in self.retired_models:
            raise bedrock_error(404, "ResourceNotFoundException", END_OF_LIFE_MESSAGE)
        if model is None:
            raise _validation(INVALID_MODEL_ID_MESSAGE)
        if model_id in self.denied_models:
            raise bedrock_error(403, "AccessDeniedException", ACCESS_DENIED_MESSAGE)
        if model.inference_profile_only and not via_profile:
            raise _validation(ON_DEMAND_NOT_SUPPORTED_MESSAGE.format(model=model_id))
        return _Resolved(model, None, via_profile)

    @staticmethod
    def _headers(request_id: str, *, input_tokens: int | None = None,
                  output_tokens: int | None = None) -> dict[str, str]:
        latency = 80 + int(request_id.replace("-", "")[:6], 16) % 900
        h = {"X-Amzn-Bedrock-Invocation-Latency": str(latency)}
        if input_tokens is not None:
            h["X-Amzn-Bedrock-Input-Token-Count"] = str(input_tokens)
        if output_tokens is not None:
            h["X-Amzn-Bedrock-Output-Token-Count"] = str(output_tokens)
        return h

    # ------------------------------------------------------------ invoke

    async def _invoke(self, request: ProviderRequest, request_id: str, resolved: _Resolved) -> ProviderResponse:
        body = _parse_invoke_body(request.body)
        if resolved.custom is not None:
            return await self._call_custom(self._custom[resolved.custom], body, request, request_id)
        model = resolved.model
        assert model is not None
        kind = model.kind
        if kind == "titan-embed-text-v1":
            return self._titan_v1(model, body, request_id)
        if kind == "titan-embed-text-v2":
            return self._titan_v2(model, body, request_id)
        if kind == "titan-embed-image-v1":
            return self._titan_image(model, body, request_id)
        if kind == "nova-embed":
            return self._nova_embed(model, body, request_id)
        if kind == "openai-chat":
            return await self._openai_chat(model, body, request_id)
        if kind in ("cohere-embed-v3", "cohere-embed-v4"):
            return self._cohere_embed(model, body, request_id)
        if kind in _RERANK_KINDS:
            return self._invoke_rerank(model, body, request_id)
        return self._claude_invoke(model, body, request_id)

    @staticmethod
    async def _call_custom(handler: ModelHandler, body: Any, request: ProviderRequest,
                           request_id: str) -> ProviderResponse:
        result = handler(body, request)
        if inspect.isawaitable(result):
            result = await result
        if isinstance(result, ProviderResponse):
            return result
        return aws_json_response(200, result, request_id=request_id)

    # -- Titan embeddings

    def _titan_tokens(self, text: str, limit: int) -> int:
        tokens = count_tokens(text)
        if tokens > limit:
            raise _validation(TOO_MANY_INPUT_TOKENS_MESSAGE.format(limit=limit, count=tokens))
        return tokens

    def _titan_v1(self, model: BedrockModel, body: dict[str, Any], request_id: str) -> ProviderResponse:
        _validate(body, _TITAN_V1_SCHEMA)
        text = body["inputText"]
        tokens = self._titan_tokens(text, 8192)
        vector = _normalise(_raw_vector(model.model_id, text.encode("utf-8"), model.dimension))
        payload = {"embedding": vector, "inputTextTokenCount": tokens}
        return aws_json_response(200, payload, request_id=request_id,
                                 headers=self._headers(request_id, input_tokens=tokens))

    def _titan_v2(self, model: BedrockModel, body: dict[str, Any], request_id: str) -> ProviderResponse:
        _validate(body, _TITAN_V2_SCHEMA)
        text = body["inputText"]
        tokens = self._titan_tokens(text, 8192)
        dims = body.get("dimensions", model.dimension)
        normalize = body.get("normalize", True)
        types = body.get("embeddingTypes", ["float"])
        if len(set(types)) != len(types):
            raise _malformed(["#/embeddingTypes: array items are not unique"])
        native = _raw_vector(model.model_id, text.encode("utf-8"), model.dimension)
        scale = 1.0
        if not normalize:
            # Un-normalised Titan vectors are not unit length; fix a norm per input.
            scale = 0.5 + int.from_bytes(_digest("titan-norm", text)[:4], "big") / 2.0**32
        vector = _normalise(native[:dims], scale)
        by_type: dict[str, Any] = {}
        for t in types:
            by_type[t] = vector if t == "float" else [1 if v > 0 else 0 for v in vector]
        payload = {"embedding": vector, "embeddingsByType": by_type, "inputTextTokenCount": tokens}
        return aws_json_response(200, payload, request_id=request_id,
                                 headers=self._headers(request_id, input_tokens=tokens))

    def _titan_image(self, model: BedrockModel, body: dict[str, Any], request_id: str) -> ProviderResponse:
        _validate(body, _TITAN_IMAGE_SCHEMA)
        text, image_data = body.get("inputText"), body.get("inputImage")
        if text is None and image_data is None:
            raise _malformed(["#: required key [inputText] not found#: required key [inputImage] not found"])
        dims = body.get("embeddingConfig", {}).get("outputEmbeddingLength", model.dimension)
        key = b""
        tokens = 0
        if text is not None:
            tokens = self._titan_tokens(text, 256)
            key += b"text:" + text.encode("utf-8")
        if image_data is not None:
            image = self._decode_image(image_data)
            key += b"\0image:" + hashlib.sha256(image).digest()
        native = _raw_vector(model.model_id, key, model.dimension)
        vector = _normalise(native[:dims])
        payload = {"embedding": vector, "inputTextTokenCount": tokens}
        return aws_json_response(200, payload, request_id=request_id,
                                 headers=self._headers(request_id, input_tokens=tokens))

    @staticmethod
    def _decode_base64(data: str, what: str) -> bytes:
        try:
            return base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise _validation(f"Unable to decode the provided {what}: it is not valid base64.") from None

    @classmethod
    def _decode_image(cls, data: str) -> bytes:
        image = cls._decode_base64(data, "image")
        if len(image) > 25 * 1024 * 1024:
            raise _validation("The provided image exceeds the maximum allowed size of 25 MB.")
        if not image.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")):
            raise _validation("The provided image format is not supported. Supported formats: png, jpeg.")
        return image

    # -- Nova multimodal embeddings

    def _nova_embed(self, model: BedrockModel, body: dict[str, Any], request_id: str) -> ProviderResponse:
        """Nova 2 multimodal embeddings, synchronous: one modality in, ``{"embeddings": [...]}`` out."""
        _validate(body, _NOVA_SCHEMA)
        if body["taskType"] != "SINGLE_EMBEDDING":
            raise _validation(NOVA_ASYNC_ONLY_MESSAGE)
        params = body.get("singleEmbeddingParams")
        if params is None:
            raise _malformed(["#: required key [singleEmbeddingParams] not found"])
        present = [m for m in _NOVA_MODALITIES if m in params]
        if len(present) != 1:
            raise _validation(NOVA_ONE_MODALITY_MESSAGE)
        modality = present[0]
        section = params[modality]
        dims = params.get("embeddingDimension", model.dimension)
        extra: dict[str, Any] = {}
        tokens = 0
        if modality == "text":
            if ("value" in section) == ("source" in section):
                raise _validation(NOVA_ONE_SOURCE_MESSAGE.format(choices="value or source", field="text"))
            if "value" in section:
                text = section["value"]
                tokens = count_tokens(text)
                if tokens > _NOVA_MAX_TEXT_TOKENS:
                    mode = section["truncationMode"]
                    if mode == "NONE":
                        raise _validation(NOVA_TEXT_TOO_LONG_MESSAGE.format(limit=_NOVA_MAX_TEXT_TOKENS,
                                                                            count=tokens))
                    if mode == "END":
                        text, _ = _truncate_tokens(text, _NOVA_MAX_TEXT_TOKENS)
                    else:  # START: the beginning goes
                        text = text[list(_TOKEN_RE.finditer(text))[-_NOVA_MAX_TEXT_TOKENS].start():]
                    tokens = _NOVA_MAX_TEXT_TOKENS
                    extra["truncatedCharLength"] = len(text)  # UNSURE: what the length counts
                key = b"text:" + text.encode("utf-8")
            else:
                key = b"text:" + self._nova_source(section["source"], "text")
        else:
            key = modality.encode() + b":" + self._nova_source(section["source"], modality)
        if modality == "video" and section["embeddingMode"] == "AUDIO_VIDEO_SEPARATE":
            types = ["VIDEO", "AUDIO"]
        elif modality == "video":
            types = ["AUDIO_VIDEO_COMBINED"]
        else:
            types = [modality.upper()]
        embeddings = []
        for etype in types:
            vector = _normalise(_raw_vector(model.model_id, key + b"\0" + etype.encode(), model.dimension)[:dims])
            embeddings.append({"embeddingType": etype, "embedding": vector, **extra})
        return aws_json_response(200, {"embeddings": embeddings}, request_id=request_id,
                                 headers=self._headers(request_id, input_tokens=tokens))

    def _nova_source(self, source: dict[str, Any], field: str) -> bytes:
        """The content a Nova ``source`` names: inline base64 bytes, or an S3 object (by URI)."""
        if ("bytes" in source) == ("s3Location" in source):
            raise _validation(NOVA_ONE_SOURCE_MESSAGE.format(choices="bytes or s3Location",
                                                             field=f"{field}.source"))
        if "bytes" in source:
            return hashlib.sha256(self._decode_base64(source["bytes"], field)).digest()
        return b"s3:" + source["s3Location"]["uri"].encode("utf-8")

    # -- OpenAI open-weight models (gpt-oss): OpenAI's Chat Completions API

    async def _chat_completions(self, request: ProviderRequest, request_id: str,
                                region: str | None) -> ProviderResponse:
        """``POST /openai/v1/chat/completions``: the body's ``model`` picks the Bedrock model."""
        try:
            body = json.loads(request.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            body = None
        model_id = body.get("model") if isinstance(body, dict) else None
        if not isinstance(model_id, str) or not model_id:
            # Unparseable body or no usable model: OpenAI's own errors, as the API answers them.
            return await self._forward_openai(request.body, request_id)
        resolved = self._resolve(model_id, region)
        if resolved.model is None or resolved.model.kind != "openai-chat":
            raise _validation(CONVERSE_UNSUPPORTED_MESSAGE)
        return await self._openai_chat(resolved.model, body, request_id)

    async def _openai_chat(self, model: BedrockModel, body: dict[str, Any], request_id: str) -> ProviderResponse:
        """A gpt-oss chat completion, in the shape Bedrock answers it (reasoning in the content)."""
        if body.get("stream") is True:
            raise _validation("The fake Bedrock runtime does not implement streaming operations.")
        reply = await self._forward_openai(json.dumps(dict(body, model=model.model_id)).encode("utf-8"), request_id)
        if reply.status != 200:
            return reply
        payload = reply.json_body()
        # gpt-oss on Bedrock puts its chain of thought in the content, as a <reasoning> prefix
        prompt = next((m["content"] for m in reversed(body["messages"]) if m["role"] == "user"), "")
        if not isinstance(prompt, str):
            prompt = " ".join(p.get("text", "") for p in prompt if isinstance(p, dict))
        reasoning = f'The user asks: "{_excerpt(prompt)}". Answer it directly.'
        reasoning_tokens = 0
        for choice in payload["choices"]:
            choice.pop("logprobs", None)
            message = choice["message"]
            message.pop("refusal", None)
            if isinstance(message.get("content"), str):
                message["content"] = f"<reasoning>{reasoning}</reasoning>{message['content']}"
                reasoning_tokens += count_tokens(reasoning)
        usage = payload["usage"]
        completion = usage["completion_tokens"] + reasoning_tokens
        payload.update(
            id="chatcmpl-" + request_id.replace("-", "")[:8],
            service_tier="standard",
            usage={"completion_tokens": completion, "prompt_tokens": usage["prompt_tokens"],
                   "total_tokens": usage["prompt_tokens"] + completion},
        )
        return aws_json_response(200, payload, request_id=request_id)

    async def _forward_openai(self, raw: bytes, request_id: str) -> ProviderResponse:
        inner = ProviderRequest("POST", "https://api.openai.com/v1/chat/completions",
                                {"Authorization": "Bearer bedrock", "Content-Type": "application/json"}, raw)
        reply = await self._openai.handle(inner)
        if reply.status == 200:
            return reply
        # UNSURE: Bedrock's OpenAI-compatible endpoint is taken to answer schema errors in
        # OpenAI's {"error": {...}} envelope, as the OpenAI SDKs it serves expect.
        return ProviderResponse(reply.status, {"Content-Type": "application/json", "x-amzn-RequestId": request_id},
                                reply.body)

    # -- Cohere embed

    def _cohere_embed(self, model: BedrockModel, body: dict[str, Any], request_id: str) -> ProviderResponse:
        schema = _COHERE_V4_SCHEMA if model.kind == "cohere-embed-v4" else _COHERE_V3_SCHEMA
        _validate(body, schema)
        texts = body.get("texts")
        images = body.get("images")
        if not texts and not images:
            raise _malformed(["#: required key [texts] not found"])
        if texts and images:
            raise _validation("Only one of texts or images may be provided.")
        dims = body.get("output_dimension", model.dimension)
        inputs: list[bytes] = []
        if texts:
            inputs = [b"text:" + t.encode("utf-8") for t in texts]
        else:
            for uri in images or []:
                m = re.match(r"^data:image/(png|jpeg|jpg|webp|gif);base64,(.*)$", uri, re.DOTALL)
                if not m:
                    raise _validation("images must be data URIs of the form data:image/<type>;base64,<data>")
                inputs.append(b"image:" + hashlib.sha256(m.group(2).encode()).digest())
        floats = [_normalise(_raw_vector(model.model_id, k, model.dimension)[:dims]) for k in inputs]
        types = body.get("embedding_types")
        if types is None:
            embeddings: Any = floats
            response_type = "embeddings_floats"
        else:
            embeddings = {}
            for t in types:
                if t == "float":
                    embeddings[t] = floats
                elif t == "int8":
                    embeddings[t] = [_int8(v) for v in floats]
                elif t == "uint8":
                    embeddings[t] = [[x + 128 for x in _int8(v)] for v in floats]
                elif t == "binary":
                    embeddings[t] = [_packed_bits(v, signed=True) for v in floats]
                else:
                    embeddings[t] = [_packed_bits(v, signed=False) for v in floats]
            response_type = "embeddings_by_type"
        payload: dict[str, Any] = {
            "embeddings": embeddings,
            "id": deterministic_uuid("cohere-embed", model.model_id, json.dumps(body, sort_keys=True)),
            "response_type": response_type,
            "texts": list(texts) if texts else [],
        }
        if images:
            payload["images"] = [{"width": 1, "height": 1, "format": "png", "bit_depth": 8} for _ in images]
        tokens = sum(count_tokens(t) for t in texts or [])
        return aws_json_response(200, payload, request_id=request_id,
                                 headers=self._headers(request_id, input_tokens=tokens))

    # -- Rerank via InvokeModel

    def _invoke_rerank(self, model: BedrockModel, body: dict[str, Any], request_id: str) -> ProviderResponse:
        schema = _COHERE_RERANK_SCHEMA if model.kind == "cohere-rerank" else _AMAZON_RERANK_SCHEMA
        _validate(body, schema)
        query, docs = body["query"], body["documents"]
        scored = [
            {"index": i, "relevance_score": _relevance(model.model_id, query, _document_text(d))}
            for i, d in enumerate(docs)
        ]
        scored.sort(key=lambda r: (-r["relevance_score"], r["index"]))
        if "top_n" in body:
            scored = scored[: body["top_n"]]
        payload: dict[str, Any] = {}
        if model.kind == "cohere-rerank":
            payload["id"] = deterministic_uuid("cohere-rerank", json.dumps(body, sort_keys=True))
        payload["results"] = scored
        return aws_json_response(200, payload, request_id=request_id, headers=self._headers(request_id))

    # -- Anthropic Claude

    def _claude_invoke(self, model: BedrockModel, body: dict[str, Any], request_id: str) -> ProviderResponse:
        if "prompt" in body and "messages" not in body:
            if not model.text_completions:
                raise _validation(CLAUDE_TEXT_API_MESSAGE.format(model=model.anthropic_name))
            return self._claude_text(model, body, request_id)
        _validate(body, _CLAUDE_MESSAGES_SCHEMA)
        return self._claude_messages(model, body, request_id)

    def _claude_text(self, model: BedrockModel, body: dict[str, Any], request_id: str) -> ProviderResponse:
        _validate(body, _CLAUDE_TEXT_SCHEMA)
        prompt: str = body["prompt"]
        max_tokens = body["max_tokens_to_sample"]
        if max_tokens < 1:
            raise _validation("max_tokens_to_sample: Input should be greater than or equal to 1")
        self._check_sampling(body)
        human = prompt.find("\n\nHuman:")
        if human < 0 or (human > 0 and "\n\nAssistant:" in prompt[:human]):
            raise _validation(PROMPT_START_MESSAGE)
        if not prompt.rstrip(" ").endswith("\n\nAssistant:"):
            raise _validation(PROMPT_END_MESSAGE)
        turns = prompt.split("\n\nHuman:")
        last_human = turns[-1].rsplit("\n\nAssistant:", 1)[0].strip()
        reply = " " + self._reply_text(last_human)
        completion, stop_reason, stop = self._finish(reply, max_tokens, body.get("stop_sequences") or [],
                                                     default_stop="\n\nHuman:")
        payload = {"completion": completion, "stop_reason": stop_reason, "stop": stop}
        return aws_json_response(
            200, payload, request_id=request_id,
            headers=self._headers(request_id, input_tokens=count_tokens(prompt),
                                  output_tokens=count_tokens(completion)),
        )

    @staticmethod
    def _finish(reply: str, max_tokens: int, stops: list[str], *,
                default_stop: str | None = None) -> tuple[str, str, str | None]:
        for s in stops:
            if s and s in reply:
                return reply[: reply.index(s)], "stop_sequence", s
        text, truncated = _truncate_tokens(reply, max_tokens)
        if truncated:
            return text, "max_tokens", None
        if default_stop is not None:
            return text, "stop_sequence", default_stop
        return text, "end_turn", None

    @staticmethod
    def _check_sampling(body: Mapping[str, Any]) -> None:
        for key in ("temperature", "top_p"):
            v = body.get(key)
            if v is not None and not (0 <= v <= 1):
                raise _validation(f"{key}: range: 0..1")
        top_k = body.get("top_k")
        if top_k is not None and top_k < 0:
            raise _validation("top_k: Input should be greater than or equal to 0")

    @staticmethod
    def _reply_text(prompt_text: str) -> str:
        excerpt = _excerpt(prompt_text)
        if not excerpt:
            return "Hello! How can I help you today?"
        return f'This is a deterministic reply to: "{excerpt}"'

    def _claude_messages(self, model: BedrockModel, body: dict[str, Any], request_id: str) -> ProviderResponse:
        max_tokens = body["max_tokens"]
        if max_tokens < 1:
            raise _validation("max_tokens: Input should be greater than or equal to 1")
        if max_tokens > model.max_output_tokens:
            raise _validation(
                f"max_tokens: {max_tokens} > {model.max_output_tokens}, which is the maximum allowed "
                f"number of output tokens for {model.anthropic_name}"
            )
        self._check_sampling(body)
        messages = body["messages"]
        if not messages:
            raise _validation("messages: at least one message is required")
        texts = self._check_anthropic_messages(messages)
        system = body.get("system")
        system_text = system if isinstance(system, str) else " ".join(
            b.get("text", "") for b in (system or []) if isinstance(b, dict)
        )
        tool = self._forced_tool(body)

        last_user = next((t for role, t in reversed(texts) if role == "user"), "")
        input_tokens = count_tokens(system_text) + sum(count_tokens(t) + 3 for _, t in texts) + 1
        digest = _digest("claude", model.model_id, body)
        if tool is not None:
            content: list[dict[str, Any]] = [{
                "type": "tool_use",
                "id": "toolu_bdrk_01" + _base62(_digest("tool", digest), 22),
                "name": tool["name"],
                "input": self._tool_input(tool.get("input_schema") or {}, last_user),
            }]
            stop_reason, stop_sequence = "tool_use", None
            output_tokens = count_tokens(json.dumps(content[0]["input"])) + 10
        else:
            # A trailing assistant message is a prefill: the reply continues it.
            reply = self._reply_text(last_user)
            text, stop_reason, stop_sequence = self._finish(reply, max_tokens, body.get("stop_sequences") or [])
            content = [{"type": "text", "text": text}]
            output_tokens = count_tokens(text)
        usage: dict[str, Any] = {"input_tokens": input_tokens}
        if model.cache_usage_fields:
            usage["cache_creation_input_tokens"] = 0
            usage["cache_read_input_tokens"] = 0
        usage["output_tokens"] = output_tokens
        payload = {
            "id": "msg_bdrk_01" + _base62(digest, 22),
            "type": "message",
            "role": "assistant",
            "model": model.anthropic_name,
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": stop_sequence,
            "usage": usage,
        }
        return aws_json_response(
            200, payload, request_id=request_id,
            headers=self._headers(request_id, input_tokens=input_tokens, output_tokens=output_tokens),
        )

    @staticmethod
    def _check_anthropic_messages(messages: list[Any]) -> list[tuple[str, str]]:
        """Anthropic's own message rules; returns (role, text) per message."""
        out: list[tuple[str, str]] = []
        allowed_blocks = ("text", "image", "document", "tool_use", "tool_result", "thinking",
                          "redacted_thinking")
        for i, msg in enumerate(messages):
            role = msg.get("role")
            if role not in ("user", "assistant"):
                raise _validation(f"messages.{i}.role: Input should be 'user' or 'assistant'")
            extra = [k for k in msg if k not in ("role", "content")]
            if extra:
                raise _validation(f"messages.{i}.{extra[0]}: Extra inputs are not permitted")
            content = msg.get("content")
            is_last = i == len(messages) - 1
            if isinstance(content, str):
                if not content and not (is_last and role == "assistant"):
                    raise _validation(
                        f"messages.{i}: all messages must have non-empty content except for the "
                        "optional final assistant message"
                    )
                out.append((role, content))
                continue
            if not isinstance(content, list):
                raise _validation(f"messages.{i}.content: Input should be a valid list")
            if not content and not (is_last and role == "assistant"):
                raise _validation(
                    f"messages.{i}: all messages must have non-empty content except for the "
                    "optional final assistant message"
                )
            parts: list[str] = []
            for j, block in enumerate(content):
                if not isinstance(block, dict):
                    raise _validation(f"messages.{i}.content.{j}: Input should be a valid dictionary or object")
                btype = block.get("type")
                if btype not in allowed_blocks:
                    raise _validation(
                        f"messages.{i}.content.{j}: Input tag '{btype}' found using 'type' does not match "
                        "any of the expected tags: " + ", ".join(f"'{t}'" for t in allowed_blocks)
                    )
                if btype == "text":
                    text = block.get("text")
                    if not isinstance(text, str):
                        raise _validation(f"messages.{i}.content.{j}.text.text: Field required")
                    if not text.strip():
                        raise _validation("messages: text content blocks must contain non-whitespace text")
                    parts.append(text)
                elif btype == "image":
                    source = block.get("source") or {}
                    media = source.get("media_type")
                    if media not in ("image/jpeg", "image/png", "image/gif", "image/webp"):
                        raise _validation(
                            f"messages.{i}.content.{j}.image.source.base64.media_type: Input should be "
                            "'image/jpeg', 'image/png', 'image/gif' or 'image/webp'"
                        )
                    try:
                        base64.b64decode(source.get("data") or "", validate=True)
                    except (binascii.Error, ValueError):
                        raise _validation(f"messages.{i}.content.{j}.image.source.base64: invalid base64 data") from None
                elif btype == "tool_result":
                    inner = block.get("content")
                    parts.append(inner if isinstance(inner, str) else json.dumps(inner, ensure_ascii=False))
            out.append((role, " ".join(parts)))
        if out and out[0][0] != "user":
            raise _validation('messages: first message must use the "user" role')
        return out

    @staticmethod
    def _forced_tool(body: Mapping[str, Any]) -> dict[str, Any] | None:
        tools = body.get("tools") or []
        choice = body.get("tool_choice")
        by_name: dict[str, dict[str, Any]] = {}
        for k, tool in enumerate(tools):
            name = tool.get("name")
            if not isinstance(name, str) or not name:
                raise _validation(f"tools.{k}.custom.name: Field required")
            by_name[name] = tool
        if choice is None:
            return None
        ctype = choice.get("type")
        if ctype not in ("auto", "any", "tool", "none"):
            raise _validation(
                f"tool_choice: Input tag '{ctype}' found using 'type' does not match any of the expected "
                "tags: 'auto', 'any', 'tool', 'none'"
            )
        if ctype in ("auto", "none"):
            return None
        if not tools:
            raise _validation("tool_choice may only be specified while providing tools.")
        if ctype == "any":
            return tools[0]
        name = choice.get("name")
        if name not in by_name:
            raise _validation(f"Tool '{name}' not found in provided tools")
        return by_name[name]

    @staticmethod
    def _tool_input(schema: Mapping[str, Any], text: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        props = schema.get("properties") or {}
        for key in schema.get("required") or list(props)[:1]:
            ptype = (props.get(key) or {}).get("type", "string")
            out[key] = {"string": _excerpt(text) or key, "integer": 0, "number": 0, "boolean": False,
                        "array": [], "object": {}}.get(ptype, _excerpt(text))
        return out

    # ---------------------------------------------------------- converse

    def _converse(self, request: ProviderRequest, request_id: str, resolved: _Resolved) -> ProviderResponse:
        model = resolved.model
        if resolved.custom is not None or model is None or model.kind != "claude":
            raise _validation(CONVERSE_UNSUPPORTED_MESSAGE)
        try:
            body = json.loads(request.body.decode("utf-8")) if request.body else {}
        except (UnicodeDecodeError, ValueError):
            raise _serialization_error() from None
        if not isinstance(body, dict):
            raise _serialization_error()
        messages = body.get("messages")
        system = body.get("system")
        inference = body.get("inferenceConfig")
        if (messages is not None and not isinstance(messages, list)) or (
            system is not None and not isinstance(system, list)) or (
            inference is not None and not isinstance(inference, dict)):
            raise _serialization_error()

        coral = _Coral()
        roles: list[str] = []
        for i, msg in enumerate(messages or []):
            if not isinstance(msg, dict):
                raise _serialization_error()
            role = msg.get("role")
            if role is None:
                coral.add(None, f"messages.{i + 1}.member.role", "Member must not be null")
            elif role not in ("user", "assistant"):
                coral.add(role, f"messages.{i + 1}.member.role",
                          "Member must satisfy enum value set: [user, assistant]")
            if msg.get("content") is None:
                coral.add(None, f"messages.{i + 1}.member.content", "Member must not be null")
            elif not isinstance(msg["content"], list):
                raise _serialization_error()
            roles.append(role)
        cfg = inference or {}
        max_tokens = cfg.get("maxTokens")
        if max_tokens is not None:
            if not isinstance(max_tokens, int) or isinstance(max_tokens, bool):
                raise _serialization_error()
            if max_tokens < 1:
                coral.add(max_tokens, "inferenceConfig.maxTokens",
                          "Member must have value greater than or equal to 1")
        for key in ("temperature", "topP"):
            v = cfg.get(key)
            if v is None:
                continue
            if not isinstance(v, (int, float)) or isinstance(v, bool):
                raise _serialization_error()
            if v < 0:
                coral.add(v, f"inferenceConfig.{key}", "Member must have value greater than or equal to 0")
            elif v > 1:
                coral.add(v, f"inferenceConfig.{key}", "Member must have value less than or equal to 1")
        stops = cfg.get("stopSequences") or []
        if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
            raise _serialization_error()
        for k, s in enumerate(stops):
            if not s:
                coral.add(s, f"inferenceConfig.stopSequences.{k + 1}.member",
                          "Member must have length greater than or equal to 1")
        coral.raise_if_any()

        if not messages or roles[0] != "user":
            raise _validation(CONVERSE_FIRST_USER_MESSAGE)
        for a, b in itertools.pairwise(roles):
            if a == b:
                raise _validation(CONVERSE_ALTERNATE_MESSAGE)
        texts: list[str] = []
        for i, msg in enumerate(messages):
            content = msg["content"]
            if not content:
                raise _validation(CONVERSE_EMPTY_CONTENT_MESSAGE.format(i=i))
            parts = []
            for j, block in enumerate(content):
                if not isinstance(block, dict) or not block:
                    raise _serialization_error()
                if "text" in block:
                    if not isinstance(block["text"], str):
                        raise _serialization_error()
                    if not block["text"].strip():
                        raise _validation(CONVERSE_BLANK_TEXT_MESSAGE.format(i=i, j=j))
                    parts.append(block["text"])
            texts.append(" ".join(parts))
        limit = model.max_output_tokens
        if max_tokens is not None and max_tokens > limit:
            raise _validation(CONVERSE_MAX_TOKENS_MESSAGE.format(limit=limit))
        system_text = " ".join(b.get("text", "") for b in system or [] if isinstance(b, dict))

        last_user = next((t for r, t in zip(reversed(roles), reversed(texts)) if r == "user"), "")
        reply = self._reply_text(last_user)
        text, stop_reason, _ = self._finish(reply, max_tokens or limit, stops)
        input_tokens = count_tokens(system_text) + sum(count_tokens(t) + 3 for t in texts) + 1
        output_tokens = count_tokens(text)
        latency = 80 + int(request_id.replace("-", "")[:6], 16) % 900
        payload = {
            "metrics": {"latencyMs": latency},
            "output": {"message": {"content": [{"text": text}], "role": "assistant"}},
            "stopReason": stop_reason,
            "usage": {"inputTokens": input_tokens, "outputTokens": output_tokens,
                      "totalTokens": input_tokens + output_tokens},
        }
        return aws_json_response(200, payload, request_id=request_id)

    # ------------------------------------------------------------ rerank

    def _rerank(self, request: ProviderRequest, request_id: str, region: str | None) -> ProviderResponse:
        try:
            body = json.loads(request.body.decode("utf-8")) if request.body else {}
        except (UnicodeDecodeError, ValueError):
            raise _serialization_error() from None
        if not isinstance(body, dict):
            raise _serialization_error()
        coral = _Coral()
        queries = body.get("queries")
        sources = body.get("sources")
        config = body.get("rerankingConfiguration")
        for name, value, kind in (("queries", queries, list), ("sources", sources, list),
                                  ("rerankingConfiguration", config, dict)):
            if value is None:
                coral.add(None, name, "Member must not be null")
            elif not isinstance(value, kind):
                raise _serialization_error()
        if queries is not None:
            if len(queries) < 1:
                coral.add(queries, "queries", "Member must have length greater than or equal to 1")
            if len(queries) > 1:
                coral.add(queries, "queries", "Member must have length less than or equal to 1")
        if sources is not None:
            if len(sources) < 1:
                coral.add(sources, "sources", "Member must have length greater than or equal to 1")
            if len(sources) > 1000:
                coral.add(sources, "sources", "Member must have length less than or equal to 1000")
        queries, sources, config = queries or [], sources or [], config or {}
        query_text = ""
        for i, q in enumerate(queries):
            if not isinstance(q, dict):
                raise _serialization_error()
            if q.get("type") is None:
                coral.add(None, f"queries.{i + 1}.member.type", "Member must not be null")
            elif q["type"] != "TEXT":
                coral.add(q["type"], f"queries.{i + 1}.member.type", "Member must satisfy enum value set: [TEXT]")
            tq = q.get("textQuery")
            if tq is None:
                coral.add(None, f"queries.{i + 1}.member.textQuery", "Member must not be null")
            else:
                text = tq.get("text") if isinstance(tq, dict) else None
                if not isinstance(text, str) or not text:
                    coral.add(text, f"queries.{i + 1}.member.textQuery.text",
                              "Member must have length greater than or equal to 1")
                else:
                    query_text = text
        doc_texts: list[str] = []
        for i, src in enumerate(sources):
            if not isinstance(src, dict):
                raise _serialization_error()
            path = f"sources.{i + 1}.member"
            if src.get("type") is None:
                coral.add(None, f"{path}.type", "Member must not be null")
            elif src["type"] != "INLINE":
                coral.add(src["type"], f"{path}.type", "Member must satisfy enum value set: [INLINE]")
            doc = src.get("inlineDocumentSource")
            if doc is None:
                coral.add(None, f"{path}.inlineDocumentSource", "Member must not be null")
                doc_texts.append("")
                continue
            if not isinstance(doc, dict):
                raise _serialization_error()
            dtype = doc.get("type")
            if dtype is None:
                coral.add(None, f"{path}.inlineDocumentSource.type", "Member must not be null")
            elif dtype not in ("TEXT", "JSON"):
                coral.add(dtype, f"{path}.inlineDocumentSource.type",
                          "Member must satisfy enum value set: [JSON, TEXT]")
            if dtype == "JSON":
                doc_texts.append(_document_text(doc.get("jsonDocument")))
            else:
                td = doc.get("textDocument")
                text = td.get("text") if isinstance(td, dict) else None
                if not isinstance(text, str) or not text:
                    coral.add(text, f"{path}.inlineDocumentSource.textDocument.text",
                              "Member must have length greater than or equal to 1")
                    doc_texts.append("")
                else:
                    if len(text) > 32000:
                        coral.add(text, f"{path}.inlineDocumentSource.textDocument.text",
                                  "Member must have length less than or equal to 32000")
                    doc_texts.append(text)
        ctype = config.get("type")
        if not config:
            pass  # already reported as null
        elif ctype is None:
            coral.add(None, "rerankingConfiguration.type", "Member must not be null")
        elif ctype != "BEDROCK_RERANKING_MODEL":
            coral.add(ctype, "rerankingConfiguration.type",
                      "Member must satisfy enum value set: [BEDROCK_RERANKING_MODEL]")
        brc = config.get("bedrockRerankingConfiguration")
        model_arn = None
        number = None
        if brc is None:
            if config:
                coral.add(None, "rerankingConfiguration.bedrockRerankingConfiguration", "Member must not be null")
        elif not isinstance(brc, dict):
            raise _serialization_error()
        else:
            mc = brc.get("modelConfiguration")
            if mc is None:
                coral.add(None, "rerankingConfiguration.bedrockRerankingConfiguration.modelConfiguration",
                          "Member must not be null")
            elif not isinstance(mc, dict):
                raise _serialization_error()
            else:
                model_arn = mc.get("modelArn")
                if model_arn is None:
                    coral.add(None, "rerankingConfiguration.bedrockRerankingConfiguration.modelConfiguration"
                                    ".modelArn", "Member must not be null")
            number = brc.get("numberOfResults")
            if number is not None:
                if not isinstance(number, int) or isinstance(number, bool):
                    raise _serialization_error()
                if number < 1:
                    coral.add(number, "rerankingConfiguration.bedrockRerankingConfiguration.numberOfResults",
                              "Member must have value greater than or equal to 1")
                elif number > 1000:
                    coral.add(number, "rerankingConfiguration.bedrockRerankingConfiguration.numberOfResults",
                              "Member must have value less than or equal to 1000")
        coral.raise_if_any()

        model_id = str(model_arn)
        m = _FOUNDATION_ARN_RE.match(model_id)
        if m:
            if region is not None and m.group("region") != region:
                raise _validation(INVALID_MODEL_ID_MESSAGE)
            model_id = m.group("id")
        model = self._catalogue.get(model_id)
        if model is None or model.kind not in _RERANK_KINDS:
            raise _validation(INVALID_MODEL_ID_MESSAGE)
        if model_id in self.denied_models:
            raise bedrock_error(403, "AccessDeniedException", ACCESS_DENIED_MESSAGE)
        scored = [
            {"index": i, "relevanceScore": _relevance(model.model_id, query_text, d)}
            for i, d in enumerate(doc_texts)
        ]
        scored.sort(key=lambda r: (-r["relevanceScore"], r["index"]))
        if number is not None:
            scored = scored[:number]
        return aws_json_response(200, {"results": scored}, request_id=request_id)

    # ----------------------------------------------- canned replies for Script

    @staticmethod
    def error_response(status: int, code: str, message: str | None,
                       headers: Mapping[str, str] | None = None) -> ProviderResponse:
        """Any Bedrock error, for script.enqueue()."""
        err = AwsError(status, code, message, namespace=BEDROCK_NAMESPACE, headers=headers)
        return err.response(deterministic_uuid("bedrock-error", status, code, message))

    @classmethod
    def throttling_response(cls, message: str = THROTTLING_MESSAGE) -> ProviderResponse:
        """429 ThrottlingException (ML Commons maps it to remote_connector_throttling_exception)."""
        return cls.error_response(429, "ThrottlingException", message)

    @classmethod
    def too_many_tokens_response(cls) -> ProviderResponse:
        return cls.throttling_response(TOO_MANY_TOKENS_MESSAGE)

    @classmethod
    def validation_error_response(cls, message: str) -> ProviderResponse:
        return cls.error_response(400, "ValidationException", message)

    @classmethod
    def access_denied_response(cls, message: str = ACCESS_DENIED_MESSAGE) -> ProviderResponse:
        return cls.error_response(403, "AccessDeniedException", message)

    @classmethod
    def service_unavailable_response(cls) -> ProviderResponse:
        return cls.error_response(503, "ServiceUnavailableException", SERVICE_UNAVAILABLE_MESSAGE)

    @classmethod
    def internal_server_response(cls) -> ProviderResponse:
        return cls.error_response(500, "InternalServerException", INTERNAL_SERVER_MESSAGE)

    @classmethod
    def model_timeout_response(cls) -> ProviderResponse:
        return cls.error_response(408, "ModelTimeoutException", MODEL_TIMEOUT_MESSAGE)

    @classmethod
    def model_not_ready_response(cls) -> ProviderResponse:
        return cls.error_response(429, "ModelNotReadyException", MODEL_NOT_READY_MESSAGE)

    @staticmethod
    def delay(seconds: float, response: ProviderResponse | None = None) -> ScriptCallable:
        """Script item: sleep, then answer `response` or fall through to normal handling."""
        return delayed(seconds, response)
