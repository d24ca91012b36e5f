"""Deterministic in-process fake of the Google Gemini API (generativelanguage.googleapis.com).

* ``POST /v1beta/models/{model}:generateContent`` (and ``/v1``), ``:streamGenerateContent``
  (a JSON array, or server-sent events with ``?alt=sse``) and ``:countTokens``
* ``POST /v1beta/models/{model}:embedContent`` and ``:batchEmbedContents``

The key comes in the ``x-goog-api-key`` header (what ML Commons' Gemini blueprints send) or
the ``?key=`` query parameter.  Bodies are parsed the way Google's JSON front end maps them
onto the request protos (camelCase or snake_case names; unknown names, wrong types and
repeated/singular mix-ups are 400 ``Invalid JSON payload received. ...`` / ``Invalid value
at '...'``), then checked by the service (``* GenerateContentRequest.contents: contents is
not specified``).  Errors use Google's ``{"error": {"code", "message", "status"[,
"details"]}}`` envelope.

The generateContent machinery here is shared with the Vertex AI fake (vertexai.py), which
serves the same Content / GenerationConfig shapes with its own validation texts.

Error texts marked ``# verbatim`` were observed from the real service; ``# UNSURE`` ones keep
the envelope and status but their wording is a best guess.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote

from .base import (
    ListedHosts,
    ProviderRequest,
    ProviderResponse,
    Recorder,
    Script,
    count_tokens,
    delayed,
    fault,
    hash_fraction,
    hash_unit_vector,
    received,
    rejects_key,
)

__all__ = ["FakeGemini", "GoogleAPIError", "GenerateFlavour"]

# --------------------------------------------------------------------------- messages
INVALID_KEY_MESSAGE = "API key not valid. Please pass a valid API key."  # verbatim (400 INVALID_ARGUMENT)
NO_KEY_MESSAGE = (  # verbatim (403 PERMISSION_DENIED)
    "Method doesn't allow unregistered callers (callers without established identity). Please use API Key "
    "or other form of API consumer identity to call this API."
)
MODEL_NOT_FOUND_MESSAGE = (  # verbatim (404 NOT_FOUND)
    "models/{model} is not found for API version {version}, or is not supported for {method}. Call ListModels "
    "to see the list of available models and their supported methods."
)
ROLE_MESSAGE = "Please use a valid role: user, model."  # verbatim
CONTENTS_MISSING = "* GenerateContentRequest.contents: contents is not specified\n"  # verbatim
PARTS_EMPTY = "* GenerateContentRequest.{path}.parts: contents.parts must not be empty.\n"  # verbatim
PART_DATA = (  # verbatim
    "* GenerateContentRequest.{path}.data: required oneof field 'data' must have one initialized field\n"
)
MIME_TYPE_MESSAGE = (  # verbatim
    "* GenerateContentRequest.generation_config.response_mime_type: allowed mimetypes are `text/plain`, "
    "`application/json`, `application/xml`, `application/yaml` and `text/x.enum`.\n"
)
CANDIDATE_COUNT_MESSAGE = (  # UNSURE
    "* GenerateContentRequest.generation_config.candidate_count: candidate_count must be between 1 and 8.\n"
)
TEMPERATURE_MESSAGE = (  # UNSURE
    "* GenerateContentRequest.generation_config.temperature: temperature must be between 0 and 2.\n"
)
EMBED_CONTENT_MISSING = "* EmbedContentRequest.content: contents is not specified\n"  # UNSURE
EMBED_PARTS_EMPTY = "* {request}.content.parts: contents.parts must not be empty.\n"  # UNSURE
EMBED_TITLE_MESSAGE = (  # UNSURE
    "* {request}.title: title is only supported for task_type RETRIEVAL_DOCUMENT.\n"
)
EMBED_DIMENSION_MESSAGE = (  # UNSURE
    "* {request}.output_dimensionality: output_dimensionality must be between 1 and {limit}.\n"
)
EMBED_DIMENSION_UNSUPPORTED = (  # UNSURE
    "* {request}.output_dimensionality: output_dimensionality is not supported for models/{model}.\n"
)
BATCH_MODEL_FORMAT = "* BatchEmbedContentsRequest.requests[{i}].model: unexpected model name format\n"  # verbatim
BATCH_MODEL_MISMATCH = (  # UNSURE
    "* BatchEmbedContentsRequest.requests[{i}].model: model must match the model in the URL: models/{model}.\n"
)
BATCH_LIMIT_MESSAGE = "* BatchEmbedContentsRequest.requests: at most 100 requests can be in one batch\n"  # verbatim
RATE_LIMIT_MESSAGE = (  # verbatim opening; the quota details vary
    "You exceeded your current quota, please check your plan and billing details. For more information on "
    "this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits."
)
OVERLOADED_MESSAGE = "The model is overloaded. Please try again later."  # verbatim
INTERNAL_MESSAGE = (  # verbatim
    "An internal error has occurred. Please retry or report in "
    "https://developers.generativeai.google/guide/troubleshooting"
)

_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
           409: "ABORTED", 429: "RESOURCE_EXHAUSTED", 499: "CANCELLED", 500: "INTERNAL", 501: "UNIMPLEMENTED",
           503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}

# UNSURE: the exact HTML of Google's front end 404 page (trimmed here)
NOT_FOUND_HTML = (
    "<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n  <title>Error 404 (Not Found)!!1</title>\n"
    "  <p><b>404.</b> <ins>That\u2019s an error.</ins>\n  <p>The requested URL <code>{path}</code> was not found on "
    "this server.  <ins>That\u2019s all we know.</ins>\n"
)


class GoogleAPIError(Exception):
    """An error in Google's ``{"error": {"code", "message", "status", "details"}}`` envelope."""

    def __init__(self, code: int, message: str, *, status: str | None = None,
                 details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status or _STATUS.get(code, "UNKNOWN")
        self.details = details

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message, "status": self.status}
        if self.details:
            error["details"] = self.details
        return {"error": error}


class _NotFoundPage(Exception):
    pass


def google_headers(request: ProviderRequest, content_type: str = "application/json; charset=UTF-8") -> dict[str, str]:
    """The headers Google's front end answers with (Server-Timing fixed by the request)."""
    dur = 150 + int(hash_fraction("google-timing", request.url, request.body.hex()) * 2000)
    return {"Content-Type": content_type, "Vary": "Origin, X-Origin, Referer",
            "Server": "scaffolding on HTTPServer2", "Server-Timing": f"gfet4t7; dur={dur}"}


def google_json(status: int, obj: Any, request: ProviderRequest) -> ProviderResponse:
    # Google's front end pretty-prints with two-space indents
    return ProviderResponse(status, google_headers(request), json.dumps(obj, ensure_ascii=False, indent=2).encode())


# ------------------------------------------------------------------ proto-JSON parsing


@dataclass(frozen=True)
class Msg:
    """A proto message: field name (camelCase) -> spec; ``full`` names it in errors."""

    full: str
    fields: Mapping[str, Any]


@dataclass(frozen=True)
class Enum:
    full: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Rep:
    item: Any


# scalar specs: the proto type names Google's errors print
STRING, INT32, INT64, FLOAT, DOUBLE, BOOL, BYTES = (
    "TYPE_STRING", "TYPE_INT32", "TYPE_INT64", "TYPE_FLOAT", "TYPE_DOUBLE", "TYPE_BOOL", "TYPE_BYTES")
ANY = "ANY"  # google.protobuf.Struct / Value: any JSON


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def _render(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class ProtoJson:
    """Checks a decoded JSON body against a message spec the way Google's JSON front end does."""

    def __init__(self) -> None:
        self.violations: list[dict[str, str]] = []

    def _fail(self, path: str, description: str) -> None:
        item = {"field": path, "description": description} if path else {"description": description}
        self.violations.append(item)

    def check(self, value: Any, spec: Any, path: str) -> Any:
        """Returns the value normalised to camelCase keys (None for rejected parts)."""
        if value is None:
            return None
        if isinstance(spec, Msg):
            if not isinstance(value, dict):
                if not path:
                    self._fail("", 'Invalid JSON payload received. Unknown name "": Root element must be a message.')
                else:
                    self._fail(path, f"Invalid value at '{path}' (type.googleapis.com/{spec.full}), {_render(value)}")
                return None
            out: dict[str, Any] = {}
            for key, item in value.items():
                name = key if key in spec.fields else _camel(key)
                if name not in spec.fields:
                    at = f" at '{path}'" if path else ""
                    self._fail(path, f'Invalid JSON payload received. Unknown name "{key}"{at}: Cannot find field.')
                    continue
                field = spec.fields[name]
                child = f"{path}.{_snake(name)}" if path else _snake(name)
                if isinstance(field, Rep):
                    # UNSURE: a single value where a list is expected is taken as a one-item list
                    items = item if isinstance(item, list) else ([] if item is None else [item])
                    out[name] = [self.check(x, field.item, f"{child}[{i}]") for i, x in enumerate(items)]
                elif isinstance(item, list) and field is not ANY:
                    at = f" at '{path}'" if path else ""
                    self._fail(path, f'Invalid JSON payload received. Unknown name "{key}"{at}: '
                                     "Proto field is not repeating, cannot start list.")
                else:
                    out[name] = self.check(item, field, child)
            return out
        if isinstance(spec, Enum):
            if isinstance(value, str) and value in spec.values:
                return value
            if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(spec.values):
                return spec.values[value]
            self._fail(path, f"Invalid value at '{path}' (type.googleapis.com/{spec.full}), {_render(value)}")
            return None
        if spec is ANY:
            return value
        ok = True
        if spec == STRING:
            ok = isinstance(value, str)
        elif spec == BOOL:
            ok = isinstance(value, bool)
        elif spec in (INT32, INT64):
            if isinstance(value, str) and re.fullmatch(r"-?\d+", value):
                value = int(value)
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif spec in (FLOAT, DOUBLE):
            if isinstance(value, str):
                try:
                    value = float(value)
                except ValueError:
                    ok = False
            ok = ok and isinstance(value, (int, float)) and not isinstance(value, bool)
        elif spec == BYTES:
            ok = isinstance(value, str)
            if ok:
                try:
                    base64.b64decode(value + "=" * (-len(value) % 4), altchars=b"-_" if "-" in value or "_" in value
                                     else None, validate=True)
                except ValueError:
                    ok = False
        if not ok:
            self._fail(path, f"Invalid value at '{path}' ({spec}), {_render(value)}")
            return None
        return value

    def raise_if_any(self) -> None:
        if self.violations:
            raise GoogleAPIError(400, "\n".join(v["description"] for v in self.violations), details=[
                {"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": self.violations}])


def parse_body(raw: bytes) -> Any:
    """Decode a JSON body; malformed JSON is Google's 400 ``Invalid JSON payload received.``."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise GoogleAPIError(400, "Invalid JSON payload received. Invalid UTF-8 text.") from None  # UNSURE
    if not text.strip():
        return {}
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        line = text.splitlines()[exc.lineno - 1] if text.splitlines() else ""
        # UNSURE: Google quotes the offending line with a caret; the token wording varies
        raise GoogleAPIError(400, f"Invalid JSON payload received. Unexpected token.\n{line}\n"
                                  f"{' ' * (exc.colno - 1)}^") from None


def content_specs(package: str) -> dict[str, Any]:
    """The GenerateContentRequest message specs of one API package."""
    blob = Msg(f"{package}.Blob", {"mimeType": STRING, "data": BYTES})
    file_data = Msg(f"{package}.FileData", {"mimeType": STRING, "fileUri": STRING, "displayName": STRING})
    function_call = Msg(f"{package}.FunctionCall", {"id": STRING, "name": STRING, "args": ANY})
    function_response = Msg(f"{package}.FunctionResponse",
                            {"id": STRING, "name": STRING, "response": ANY, "willContinue": BOOL,
                             "scheduling": STRING, "parts": ANY})
    part = Msg(f"{package}.Part", {
        "text": STRING, "inlineData": blob, "fileData": file_data, "functionCall": function_call,
        "functionResponse": function_response, "executableCode": ANY, "codeExecutionResult": ANY,
        "videoMetadata": ANY, "thought": BOOL, "thoughtSignature": BYTES, "partMetadata": ANY,
        "mediaResolution": ANY,
    })
    content = Msg(f"{package}.Content", {"role": STRING, "parts": Rep(part)})
    harm_category = Enum(f"{package}.HarmCategory", (
        "HARM_CATEGORY_UNSPECIFIED", "HARM_CATEGORY_DEROGATORY", "HARM_CATEGORY_TOXICITY", "HARM_CATEGORY_VIOLENCE",
        "HARM_CATEGORY_SEXUAL", "HARM_CATEGORY_MEDICAL", "HARM_CATEGORY_DANGEROUS", "HARM_CATEGORY_HARASSMENT",
        "HARM_CATEGORY_HATE_SPEECH", "HARM_CATEGORY_SEXUALLY_EXPLICIT", "HARM_CATEGORY_DANGEROUS_CONTENT",
        "HARM_CATEGORY_CIVIC_INTEGRITY"))
    threshold = Enum(f"{package}.SafetySetting.HarmBlockThreshold", (
        "HARM_BLOCK_THRESHOLD_UNSPECIFIED", "BLOCK_LOW_AND_ABOVE", "BLOCK_MEDIUM_AND_ABOVE", "BLOCK_ONLY_HIGH",
        "BLOCK_NONE", "OFF"))
    safety = Msg(f"{package}.SafetySetting", {"category": harm_category, "threshold": threshold, "method": ANY})
    thinking = Msg(f"{package}.ThinkingConfig", {"includeThoughts": BOOL, "thinkingBudget": INT32,
                                                  "thinkingLevel": STRING})
    generation = Msg(f"{package}.GenerationConfig", {
        "stopSequences": Rep(STRING), "responseMimeType": STRING, "responseSchema": ANY, "responseJsonSchema": ANY,
        "responseModalities": Rep(STRING), "candidateCount": INT32, "maxOutputTokens": INT32, "temperature": FLOAT,
        "topP": FLOAT, "topK": INT32, "seed": INT32, "presencePenalty": FLOAT, "frequencyPenalty": FLOAT,
        "responseLogprobs": BOOL, "logprobs": INT32, "enableEnhancedCivicAnswers": BOOL, "speechConfig": ANY,
        "thinkingConfig": thinking, "mediaResolution": STRING, "audioTimestamp": BOOL, "routingConfig": ANY,
        "imageConfig": ANY,
    })
    tool = Msg(f"{package}.Tool", {"functionDeclarations": Rep(ANY), "googleSearchRetrieval": ANY,
                                   "codeExecution": ANY, "googleSearch": ANY, "urlContext": ANY, "retrieval": ANY,
                                   "computerUse": ANY, "fileSearch": ANY, "googleMaps": ANY,
                                   "enterpriseWebSearch": ANY})
    request = Msg(f"{package}.GenerateContentRequest", {
        "model": STRING, "contents": Rep(content), "tools": Rep(tool), "toolConfig": ANY,
        "safetySettings": Rep(safety), "systemInstruction": content, "generationConfig": generation,
        "cachedContent": STRING, "labels": ANY,
    })
    return {"content": content, "generate": request}


# ------------------------------------------------------------------ generation


@dataclass(frozen=True)
class GenerateFlavour:
    """What differs between the Gemini API's and Vertex AI's generateContent."""

    name: str  # "Gemini" / "Vertex AI" (in reply texts)
    contents_missing: str
    parts_empty: Callable[[str], str]  # path ("contents[0]") -> message
    part_data: Callable[[str], str]  # path ("contents[0].parts[0]") -> message
    join: Callable[[list[str]], str]
    vertex: bool = False


GEMINI_FLAVOUR = GenerateFlavour(
    name="Gemini",
    contents_missing=CONTENTS_MISSING,
    parts_empty=lambda path: PARTS_EMPTY.format(path=path),
    part_data=lambda path: PART_DATA.format(path=path),
    join="".join,
)

_WORD_RE = re.compile(r"\S+")
_ALLOWED_MIME = ("text/plain", "application/json", "application/xml", "application/yaml", "text/x.enum")


def _excerpt(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3].rstrip() + "..."


def _part_text(parts: list[Any] | None) -> str:
    return " ".join(p["text"] for p in parts or [] if isinstance(p, dict) and isinstance(p.get("text"), str))


def _part_tokens(parts: list[Any] | None) -> tuple[int, int]:
    """(text tokens, image tokens) of a parts list (258 tokens an image, as Gemini bills them)."""
    text = count_tokens(_part_text(parts))
    images = sum(258 for p in parts or [] if isinstance(p, dict) and (p.get("inlineData") or p.get("fileData")))
    return text, images


def schema_instance(schema: Any, seed: str, name: str = "value", root: Any = None, depth: int = 0) -> Any:
    """A deterministic value conforming to an OpenAPI-subset / JSON schema (structured output)."""
    root = schema if root is None else root
    if not isinstance(schema, dict) or depth > 8:
        return seed
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        return schema_instance(target, seed, name, root, depth + 1)
    for key in ("anyOf", "oneOf", "allOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            return schema_instance(options[0], seed, name, root, depth + 1)
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        options = schema["enum"]
        return options[int(hash_fraction("enum", seed, name) * len(options))]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if str(k).lower() != "null"), "string")
    kind = str(kind or ("object" if "properties" in schema else "string")).lower()
    if kind == "object":
        props = schema.get("properties") or {}
        order = schema.get("propertyOrdering") or list(props)
        return {k: schema_instance(props[k], seed, k, root, depth + 1) for k in order if k in props}
    if kind == "array":
        count = max(1, int(schema.get("minItems") or 1))
        return [schema_instance(schema.get("items") or {}, seed, name, root, depth + 1) for _ in range(count)]
    if kind == "integer":
        low = int(schema.get("minimum", 0))
        return low + int(hash_fraction("int", seed, name) * 10)
    if kind == "number":
        low = float(schema.get("minimum", 0.0))
        high = float(schema.get("maximum", low + 1.0))
        return round(low + (high - low) * hash_fraction("num", seed, name), 2)
    if kind == "boolean":
        return hash_fraction("bool", seed, name) < 0.5
    if schema.get("format") == "date-time":
        return "2024-01-01T00:00:00Z"
    if schema.get("format") == "date":
        return "2024-01-01"
    return f"{name}: {_excerpt(seed, 80)}"


def _reply_text(flavour: GenerateFlavour, prompt: str) -> str:
    excerpt = _excerpt(prompt) or "your message"
    return f'This is a deterministic response from the fake {flavour.name} service to: "{excerpt}"'


def _truncate_tokens(text: str, limit: int | None) -> tuple[str, bool]:
    if limit is None:
        return text, False
    words = list(_WORD_RE.finditer(text))
    if count_tokens(text) <= limit:
        return text, False
    out = ""
    for m in words:
        candidate = text[: m.end()]
        if count_tokens(candidate) > limit:
            break
        out = candidate
    return out, True


def check_generate_request(body: Any, specs: Mapping[str, Any], flavour: GenerateFlavour) -> dict[str, Any]:
    """Parse and check a GenerateContentRequest body: proto JSON first, then the service's rules."""
    proto = ProtoJson()
    parsed = proto.check(body, specs["generate"], "")
    proto.raise_if_any()
    assert parsed is not None
    problems: list[str] = []
    contents = [c for c in parsed.get("contents") or [] if c is not None]
    if not contents:
        problems.append(flavour.contents_missing)
    roles_ok = True
    for i, content in enumerate(contents):
        role = content.get("role") or ""
        if role not in ("", "user", "model") and not (flavour.vertex and role == "function"):
            roles_ok = False
        _check_parts(content, f"contents[{i}]", flavour, problems)
    system = parsed.get("systemInstruction")
    if system is not None:
        _check_parts(system, "system_instruction", flavour, problems)
    generation = parsed.get("generationConfig") or {}
    mime = generation.get("responseMimeType")
    if mime is not None and mime not in _ALLOWED_MIME and not flavour.vertex:
        problems.append(MIME_TYPE_MESSAGE)
    count = generation.get("candidateCount")
    if count is not None and not 1 <= count <= 8 and not flavour.vertex:
        problems.append(CANDIDATE_COUNT_MESSAGE)
    temperature = generation.get("temperature")
    if temperature is not None and not 0 <= temperature <= 2 and not flavour.vertex:
        problems.append(TEMPERATURE_MESSAGE)
    if problems:
        raise GoogleAPIError(400, flavour.join(problems))
    if not roles_ok:
        raise GoogleAPIError(400, ROLE_MESSAGE)
    return parsed


def _check_parts(content: dict[str, Any], path: str, flavour: GenerateFlavour, problems: list[str]) -> None:
    parts = [p for p in content.get("parts") or [] if p is not None]
    if not parts:
        problems.append(flavour.parts_empty(path))
        return
    for j, part in enumerate(parts):
        data = [k for k, v in part.items() if k not in ("thought", "thoughtSignature", "videoMetadata",
                                                         "partMetadata", "mediaResolution")
                and v not in (None, "")]
        if not data:
            problems.append(flavour.part_data(f"{path}.parts[{j}]"))


def generate(model: str, parsed: dict[str, Any], flavour: GenerateFlavour, *, thinking: bool,
             model_version: str) -> dict[str, Any]:
    """A GenerateContentResponse for a checked request: deterministic text from the last user turn."""
    contents = parsed.get("contents") or []
    users = [c for c in contents if (c.get("role") or "user") == "user"]
    prompt = _part_text((users or contents)[-1].get("parts"))
    generation = parsed.get("generationConfig") or {}
    n = generation.get("candidateCount") or 1
    max_tokens = generation.get("maxOutputTokens")
    stops = [s for s in generation.get("stopSequences") or [] if s]
    mime = generation.get("responseMimeType") or "text/plain"
    schema = generation.get("responseJsonSchema") or generation.get("responseSchema")

    function_call = _forced_function_call(parsed, prompt)
    candidates = []
    output_tokens = 0
    for index in range(n):
        seed = prompt if index == 0 else f"{prompt}\0{index}"
        finish = "STOP"
        if function_call is not None:
            parts: list[dict[str, Any]] = [{"functionCall": function_call}]
            output_tokens += count_tokens(json.dumps(function_call))
        else:
            if mime == "application/json":
                value = schema_instance(schema, seed) if schema else {"response": _reply_text(flavour, prompt)}
                text = json.dumps(value, ensure_ascii=False)
            elif mime == "text/x.enum" and isinstance(schema, dict) and schema.get("enum"):
                text = str(schema_instance(schema, seed))
            else:
                text = _reply_text(flavour, prompt) if index == 0 else \
                    _reply_text(flavour, prompt) + f" (candidate {index + 1})"
                hits = [text.find(s) for s in stops if s in text]
                if hits:
                    text = text[: min(hits)]
                text, truncated = _truncate_tokens(text, max_tokens)
                if truncated:
                    finish = "MAX_TOKENS"
            parts = [{"text": text}]
            output_tokens += count_tokens(text)
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "finishReason": finish}
        if thinking:
            candidate["index"] = index
        else:
            candidate["avgLogprobs"] = -round(0.02 + 0.5 * hash_fraction("logprobs", seed), 6)
        candidates.append(candidate)

    text_tokens = image_tokens = 0
    for content in contents + ([parsed["systemInstruction"]] if parsed.get("systemInstruction") else []):
        t, im = _part_tokens(content.get("parts"))
        text_tokens += t
        image_tokens += im
    prompt_tokens = text_tokens + image_tokens
    usage: dict[str, Any] = {"promptTokenCount": prompt_tokens, "candidatesTokenCount": output_tokens}
    thoughts = 0
    if thinking:
        thoughts = 16 + int(hash_fraction("thoughts", prompt) * 200)
    usage["totalTokenCount"] = prompt_tokens + output_tokens + thoughts
    details = [{"modality": "TEXT", "tokenCount": text_tokens}]
    if image_tokens:
        details.append({"modality": "IMAGE", "tokenCount": image_tokens})
    usage["promptTokensDetails"] = details
    if flavour.vertex:
        usage["candidatesTokensDetails"] = [{"modality": "TEXT", "tokenCount": output_tokens}]
    if thoughts:
        usage["thoughtsTokenCount"] = thoughts
    if flavour.vertex:
        usage["trafficType"] = "ON_DEMAND"
    digest = hashlib.sha256(json.dumps([model, parsed], sort_keys=True).encode()).digest()
    response_id = base64.urlsafe_b64encode(digest[:18]).decode().rstrip("=")
    payload: dict[str, Any] = {"candidates": candidates, "usageMetadata": usage, "modelVersion": model_version}
    if flavour.vertex:
        seconds = int.from_bytes(digest[:4], "big") % (365 * 86400)
        payload["createTime"] = _timestamp(1_735_689_600 + seconds, digest)
    payload["responseId"] = response_id
    return payload


def _timestamp(epoch: int, digest: bytes) -> str:
    import datetime as _dt

    ts = _dt.datetime.fromtimestamp(epoch, tz=_dt.UTC)
    micros = int.from_bytes(digest[4:7], "big") % 1_000_000
    return ts.strftime("%Y-%m-%dT%H:%M:%S") + f".{micros:06d}Z"


def _forced_function_call(parsed: dict[str, Any], prompt: str) -> dict[str, Any] | None:
    """With toolConfig mode ANY the model must call one of the declared functions."""
    config = parsed.get("toolConfig")
    fcc = config.get("functionCallingConfig") if isinstance(config, dict) else None
    if not isinstance(fcc, dict) or str(fcc.get("mode", "")).upper() != "ANY":
        return None
    allowed = fcc.get("allowedFunctionNames") or None
    for tool in parsed.get("tools") or []:
        for decl in (tool or {}).get("functionDeclarations") or []:
            if isinstance(decl, dict) and isinstance(decl.get("name"), str) and (
                    allowed is None or decl["name"] in allowed):
                schema = decl.get("parameters") or decl.get("parametersJsonSchema") or {"type": "object"}
                args = schema_instance(schema, prompt, decl["name"])
                return {"name": decl["name"], "args": args if isinstance(args, dict) else {}}
    return None


def stream_chunks(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """A generateContent response cut into streamGenerateContent chunks (usage on the last one)."""
    candidate = payload["candidates"][0]
    parts = candidate["content"]["parts"]
    text = parts[0].get("text") if len(parts) == 1 else None
    pieces = re.findall(r"\S+\s*", text) if text else []
    groups = [pieces[i:i + 4] for i in range(0, len(pieces), 4)] or [[]]
    chunks = []
    for i, group in enumerate(groups):
        last = i == len(groups) - 1
        chunk_candidate: dict[str, Any] = {"content": {"role": "model",
                                                       "parts": [{"text": "".join(group)}] if text else parts}}
        if last:
            chunk_candidate["finishReason"] = candidate["finishReason"]
        chunk: dict[str, Any] = {"candidates": [chunk_candidate]}
        usage = dict(payload["usageMetadata"])
        if not last:
            usage = {"promptTokenCount": usage["promptTokenCount"], "totalTokenCount": usage["promptTokenCount"]}
        chunk["usageMetadata"] = usage
        chunk["modelVersion"] = payload["modelVersion"]
        chunk["responseId"] = payload["responseId"]
        chunks.append(chunk)
    return chunks


def stream_response(payload: dict[str, Any], request: ProviderRequest, sse: bool) -> ProviderResponse:
    chunks = stream_chunks(payload)
    if sse:
        data = b"".join(b"data: " + json.dumps(c, ensure_ascii=False).encode() + b"\r\n\r\n" for c in chunks)
        return ProviderResponse(200, google_headers(request, "text/event-stream"), data)
    return google_json(200, chunks, request)


# ------------------------------------------------------------------ embeddings


def embed_vector(namespace: str, model: str, text: str, task_type: str | None, native: int,
                 dims: int, *, renormalise: bool) -> list[float]:
    """The native unit vector of (model, text), nudged by the task type, then shortened.

    A shortened vector is a prefix of the full one (Matryoshka): renormalised when the model
    does so, left as is otherwise (gemini-embedding-001 normalises only its full 3072-d output).
    """
    vals = hash_unit_vector(f"{namespace}-embedding\0{model}", text, native)
    if task_type:
        extra = hash_unit_vector(f"{namespace}-task\0{model}\0{task_type}", text, native)
        vals = [v + 0.1 * e for v, e in zip(vals, extra)]
        norm = sum(v * v for v in vals) ** 0.5 or 1.0
        vals = [v / norm for v in vals]
    if dims < native:
        vals = vals[:dims]
        if renormalise:
            norm = sum(v * v for v in vals) ** 0.5 or 1.0
            vals = [v / norm for v in vals]
    return [round(v, 9) for v in vals]


# ------------------------------------------------------------------------- the fake

# chat models: name -> thinking model (usage carries thoughtsTokenCount)
_CHAT_MODELS: dict[str, bool] = {
    "gemini-2.0-flash": False, "gemini-2.0-flash-001": False, "gemini-2.0-flash-lite": False,
    "gemini-2.0-flash-lite-001": False, "gemini-2.5-pro": True, "gemini-2.5-flash": True,
    "gemini-2.5-flash-lite": True, "gemini-flash-latest": True, "gemini-flash-lite-latest": True,
    "gemini-pro-latest": True, "gemini-3-pro-preview": True, "gemini-3-flash-preview": True,
    "gemma-3-27b-it": False, "gemma-3-12b-it": False, "gemma-3-4b-it": False,
}
# embedding models: name -> (native dimension, output_dimensionality allowed, renormalised when shortened)
_EMBED_MODELS: dict[str, tuple[int, bool, bool]] = {
    "embedding-001": (768, False, True),
    "text-embedding-004": (768, True, True),
    "gemini-embedding-001": (3072, True, False),
    "gemini-embedding-exp-03-07": (3072, True, False),
}
_TASK_TYPES = Enum("google.ai.generativelanguage.v1beta.TaskType", (
    "TASK_TYPE_UNSPECIFIED", "RETRIEVAL_QUERY", "RETRIEVAL_DOCUMENT", "SEMANTIC_SIMILARITY", "CLASSIFICATION",
    "CLUSTERING", "QUESTION_ANSWERING", "FACT_VERIFICATION", "CODE_RETRIEVAL_QUERY"))
_PATH_RE = re.compile(r"^/(?P<version>v1|v1beta)/models/(?P<model>[^/:]+):(?P<method>[A-Za-z]+)$")
_BATCH_LIMIT = 100


class FakeGemini(ListedHosts):
    """Strict, deterministic stand-in for https://generativelanguage.googleapis.com.

    api_keys: when given, only these keys are accepted (others: 400 API_KEY_INVALID); by
    default any non-empty key passes but an unresolved ``${credential.*}`` placeholder.
    chat_models / embed_models (name -> dimension) extend the catalogue.
    """

    name = "gemini"
    hosts: tuple[str, ...] = ("generativelanguage.googleapis.com",)

    def __init__(self, *, api_keys: Iterable[str] | None = None, chat_models: Iterable[str] = (),
                 embed_models: Mapping[str, int] | None = None, recorder_size: int = 1000) -> None:
        self.recorder = Recorder(recorder_size)
        self.script = Script()
        self.api_keys = frozenset(api_keys) if api_keys is not None else None
        self._chat = dict(_CHAT_MODELS)
        self._chat.update({m: False for m in chat_models})
        self._embed = dict(_EMBED_MODELS)
        self._embed.update({m: (int(d), True, True) for m, d in (embed_models or {}).items()})
        package = "google.ai.generativelanguage.v1beta"
        self._specs = content_specs(package)
        embed_request = Msg(f"{package}.EmbedContentRequest", {
            "model": STRING, "content": self._specs["content"], "taskType": _TASK_TYPES, "title": STRING,
            "outputDimensionality": INT32})
        self._embed_spec = embed_request
        self._batch_spec = Msg(f"{package}.BatchEmbedContentsRequest", {"requests": Rep(embed_request)})
        self._count_spec = Msg(f"{package}.CountTokensRequest", {
            "contents": Rep(self._specs["content"]), "generateContentRequest": self._specs["generate"]})

    async def handle(self, request: ProviderRequest) -> ProviderResponse:
        request, scripted = await received(self, request)
        if scripted is not None:
            return scripted
        try:
            return self._dispatch(request)
        except GoogleAPIError as err:
            return google_json(err.code, err.body(), request)
        except _NotFoundPage:
            return ProviderResponse(404, {"Content-Type": "text/html; charset=UTF-8"},
                                    NOT_FOUND_HTML.format(path=request.path).encode())

    def _dispatch(self, request: ProviderRequest) -> ProviderResponse:
        m = _PATH_RE.match(request.path)
        if m is None or request.method != "POST":
            raise _NotFoundPage()
        query = parse_qs(request.query)
        self._authenticate(request, query)
        version, model, method = m.group("version"), unquote(m.group("model")), m.group("method")
        body = parse_body(request.body)
        if method in ("generateContent", "streamGenerateContent"):
            thinking = self._resolve(model, version, method, self._chat)
            parsed = check_generate_request(body, self._specs, GEMINI_FLAVOUR)
            payload = generate(model, parsed, GEMINI_FLAVOUR, thinking=thinking, model_version=model)
            if method == "streamGenerateContent":
                return stream_response(payload, request, sse=query.get("alt", [""])[0] == "sse")
            return google_json(200, payload, request)
        if method == "countTokens":
            self._resolve(model, version, method, {**self._chat, **self._embed})
            return google_json(200, self._count_tokens(body), request)
        if method == "embedContent":
            self._resolve(model, version, method, self._embed)
            return google_json(200, {"embedding": self._embed_one(model, body, "EmbedContentRequest", None)},
                               request)
        if method == "batchEmbedContents":
            self._resolve(model, version, method, self._embed)
            return google_json(200, {"embeddings": self._embed_batch(model, body)}, request)
        raise _NotFoundPage()

    def _authenticate(self, request: ProviderRequest, query: Mapping[str, list[str]]) -> None:
        key = request.headers.get("x-goog-api-key")
        if key is None:
            key = (query.get("key") or [None])[0]
        if key is None or not key.strip():
            raise GoogleAPIError(403, NO_KEY_MESSAGE)
        if rejects_key(key.strip(), self.api_keys):
            raise GoogleAPIError(400, INVALID_KEY_MESSAGE, details=[
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                 "domain": "googleapis.com", "metadata": {"service": "generativelanguage.googleapis.com"}},
                {"@type": "type.googleapis.com/google.rpc.LocalizedMessage", "locale": "en-US",
                 "message": INVALID_KEY_MESSAGE}])

    @staticmethod
    def _resolve(model: str, version: str, method: str, catalogue: Mapping[str, Any]) -> Any:
        name = model[len("models/"):] if model.startswith("models/") else model
        if name not in catalogue:
            raise GoogleAPIError(404, MODEL_NOT_FOUND_MESSAGE.format(model=name, version=version, method=method))
        return catalogue[name]

    # ------------------------------------------------------------ embeddings

    def _embed_one(self, model: str, body: Any, request_name: str, index: int | None) -> dict[str, Any]:
        if index is None:
            proto = ProtoJson()
            body = proto.check(body, self._embed_spec, "")
            proto.raise_if_any()
        where = request_name if index is None else f"BatchEmbedContentsRequest.requests[{index}]"
        content = body.get("content")
        if content is None:
            raise GoogleAPIError(400, EMBED_CONTENT_MISSING if index is None else
                                 f"* {where}.content: contents is not specified\n")
        parts = [p for p in content.get("parts") or [] if p is not None]
        if not parts:
            raise GoogleAPIError(400, EMBED_PARTS_EMPTY.format(request=where))
        for j, part in enumerate(parts):
            if not any(v not in (None, "") for k, v in part.items() if k not in ("thought", "thoughtSignature")):
                raise GoogleAPIError(400, f"* {where}.content.parts[{j}].data: required oneof field 'data' must "
                                          "have one initialized field\n")
        task = body.get("taskType")
        if body.get("title") and task != "RETRIEVAL_DOCUMENT":
            raise GoogleAPIError(400, EMBED_TITLE_MESSAGE.format(request=where))
        native, shortens, renormalise = self._embed[model]
        dims = native
        wanted = body.get("outputDimensionality")
        if wanted is not None:
            if not shortens:
                raise GoogleAPIError(400, EMBED_DIMENSION_UNSUPPORTED.format(request=where, model=model))
            if not 1 <= wanted <= native:
                raise GoogleAPIError(400, EMBED_DIMENSION_MESSAGE.format(request=where, limit=native))
            dims = wanted
        text = _part_text(parts)
        if body.get("title"):
            text = f"title: {body['title']} | text: {text}"
        values = embed_vector("gemini", model, text, task if task != "TASK_TYPE_UNSPECIFIED" else None, native,
                              dims, renormalise=renormalise)
        return {"values": values}

    def _embed_batch(self, model: str, body: Any) -> list[dict[str, Any]]:
        proto = ProtoJson()
        parsed = proto.check(body, self._batch_spec, "")
        proto.raise_if_any()
        assert parsed is not None
        requests = [r for r in parsed.get("requests") or []]
        if len(requests) > _BATCH_LIMIT:
            raise GoogleAPIError(400, BATCH_LIMIT_MESSAGE)
        out = []
        for i, item in enumerate(requests):
            item = item or {}
            name = item.get("model")
            if not name or not name.startswith("models/"):
                raise GoogleAPIError(400, BATCH_MODEL_FORMAT.format(i=i))
            if name[len("models/"):] != model:
                raise GoogleAPIError(400, BATCH_MODEL_MISMATCH.format(i=i, model=model))
            out.append(self._embed_one(model, item, "", i))
        return out

    def _count_tokens(self, body: Any) -> dict[str, Any]:
        proto = ProtoJson()
        parsed = proto.check(body, self._count_spec, "")
        proto.raise_if_any()
        assert parsed is not None
        contents = parsed.get("contents") or []
        inner = parsed.get("generateContentRequest")
        if inner:
            contents = (inner.get("contents") or []) + ([inner["systemInstruction"]]
                                                        if inner.get("systemInstruction") else [])
        text = sum(_part_tokens((c or {}).get("parts"))[0] for c in contents)
        images = sum(_part_tokens((c or {}).get("parts"))[1] for c in contents)
        details = [{"modality": "TEXT", "tokenCount": text}]
        if images:
            details.append({"modality": "IMAGE", "tokenCount": images})
        return {"totalTokens": text + images, "promptTokensDetails": details}

    # ------------------------------------------------------- canned replies for Script

    @staticmethod
    def error_response(code: int, message: str, *, status: str | None = None,
                       details: list[dict[str, Any]] | None = None,
                       headers: Mapping[str, str] | None = None) -> ProviderResponse:
        """Any error in Google's envelope."""
        body = GoogleAPIError(code, message, status=status, details=details).body()
        hdrs = {"Content-Type": "application/json; charset=UTF-8", **dict(headers or {})}
        return ProviderResponse(code, hdrs, json.dumps(body, indent=2).encode())

    @classmethod
    def rate_limit_response(cls, *, retry_after_seconds: int = 30) -> ProviderResponse:
        """429 RESOURCE_EXHAUSTED with the RetryInfo detail Gemini sends."""
        return cls.error_response(429, RATE_LIMIT_MESSAGE, details=[
            {"@type": "type.googleapis.com/google.rpc.Help",
             "links": [{"description": "Learn more about Gemini API quotas",
                        "url": "https://ai.google.dev/gemini-api/docs/rate-limits"}]},
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{retry_after_seconds}s"}])

    @classmethod
    def overloaded_response(cls) -> ProviderResponse:
        return cls.error_response(503, OVERLOADED_MESSAGE)

    @classmethod
    def server_error_response(cls) -> ProviderResponse:
        return cls.error_response(500, INTERNAL_MESSAGE)

    @classmethod
    def invalid_key_response(cls) -> ProviderResponse:
        return cls.error_response(400, INVALID_KEY_MESSAGE)

    fault = staticmethod(fault)

    delayed = staticmethod(delayed)
