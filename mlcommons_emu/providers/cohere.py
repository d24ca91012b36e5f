"""Deterministic in-process fake of the Cohere REST API (embed, chat, rerank, generate; v1 and v2).

What ML Commons sends to Cohere and reads back (see the semantics reference, 2.2/2.6/2.9):

* ``connector.pre_process.cohere.embedding`` puts the docs in ``texts``; the v1 post-process
  reads ``$.embeddings`` (a list of float lists), the ``cohere_v2.embedding.<type>``
  post-processes read ``$.embeddings.<type>``.
* ``connector.pre_process.cohere.rerank`` sends ``query``, ``documents`` and ``top_n`` (= number
  of docs); the post-process reads ``$.results[*].index`` / ``relevance_score``.

Error texts marked ``# verbatim`` were observed from the real service; the ones marked
``# UNSURE`` keep Cohere's envelope (``{"message": ...}``) and status but their wording is a
best guess.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
import struct
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .base import (
    ListedHosts,
    ProviderRequest,
    ProviderResponse,
    Recorder,
    Script,
    delayed,
    fault,
    received,
    rejects_key,
)

__all__ = ["CohereAPIError", "FakeCohere"]

# --------------------------------------------------------------------------- messages
NO_API_KEY_MESSAGE = "no api key supplied"  # verbatim
INVALID_API_TOKEN_MESSAGE = "invalid api token"  # verbatim
MODEL_NOT_FOUND_MESSAGE = (  # verbatim (404)
    "model '{model}' not found, make sure the correct model ID was used and that you have "
    "access to the model."
)
INPUT_TYPE_MESSAGE = "invalid request: valid input_type must be provided with the provided model"  # verbatim
TOO_MANY_TEXTS_MESSAGE = "invalid request: total number of texts must be at most 96 - received {n}"  # verbatim
CHAT_EMPTY_MESSAGE = (  # verbatim
    "invalid request: message must be at least 1 token long or tool results must be specified."
)
HISTORY_MESSAGE_MESSAGE = "invalid request: all elements in history must have a message."  # verbatim
TYPE_ERROR_MESSAGE = (  # verbatim template (observed for embedding_types on /v2/embed)
    "invalid type: parameter '{param}' is of type {got} but should be of type {expected}. "
    "For proper usage, please refer to {ref}"
)
TRIAL_RATE_LIMIT_MESSAGE = (  # verbatim (trial keys)
    "You are using a Trial key, which is limited to {limit} API calls / minute. You can continue "
    "to use the Trial key for free or upgrade to a Production key with higher rate limits at "
    "'https://dashboard.cohere.com/api-keys'. Contact us on 'https://discord.gg/XW44jPfYJu' or "
    "email us at support@cohere.com with any questions"
)
# UNSURE: the remaining texts keep Cohere's "invalid request: ..." style but are not observed.
JSON_PARSE_MESSAGE = "invalid request: could not parse request body as JSON"  # UNSURE
NOT_FOUND_PATH_MESSAGE = "404 page not found"  # UNSURE (Go mux default text)
METHOD_MESSAGE = "405 method not allowed"  # UNSURE
MODEL_REQUIRED_MESSAGE = "invalid request: model must be specified"  # UNSURE (v2 requires model)
EMBEDDING_TYPES_REQUIRED_MESSAGE = "invalid request: embedding_types must be specified"  # UNSURE
EMBEDDING_TYPES_INVALID_MESSAGE = (  # UNSURE
    "invalid request: embedding_types must be one of {allowed} - received '{value}'"
)
EMBEDDING_TYPES_V2_MODEL_MESSAGE = (  # UNSURE
    "invalid request: embedding type '{value}' is only supported with v3.0 models and newer"
)
NO_INPUTS_MESSAGE = "invalid request: one of texts, images or inputs must be provided"  # UNSURE
MIXED_INPUTS_MESSAGE = "invalid request: only one of texts, images or inputs can be provided"  # UNSURE
EMPTY_TEXTS_MESSAGE = "invalid request: texts must contain at least one element"  # UNSURE
TOO_MANY_IMAGES_MESSAGE = "invalid request: total number of images must be at most 1 - received {n}"  # UNSURE
BAD_IMAGE_MESSAGE = (  # UNSURE
    "invalid request: images must be valid data URIs of type image/jpeg, image/png, "
    "image/webp or image/gif"
)
IMAGES_UNSUPPORTED_MESSAGE = "invalid request: model '{model}' does not support image inputs"  # UNSURE
MULTI_PART_INPUT_MESSAGE = (  # UNSURE
    "invalid request: inputs with more than one content item are only supported with embed-v4.0"
)
TRUNCATE_MESSAGE = "invalid request: truncate must be one of NONE, START, END - received '{value}'"  # UNSURE
OUTPUT_DIMENSION_MESSAGE = (  # UNSURE
    "invalid request: output_dimension must be one of 256, 512, 1024, 1536 - received {value}"
)
OUTPUT_DIMENSION_MODEL_MESSAGE = (  # UNSURE
    "invalid request: output_dimension is only supported with embed-v4.0 and newer models"
)
CHAT_ROLE_V1_MESSAGE = (  # UNSURE
    "invalid request: role must be one of USER, CHATBOT, SYSTEM, TOOL - received '{role}'"
)
MESSAGES_REQUIRED_MESSAGE = "invalid request: messages must contain at least one message"  # UNSURE
CHAT_ROLE_V2_MESSAGE = (  # UNSURE
    "invalid request: role must be one of user, assistant, system, tool - received '{role}'"
)
CONTENT_REQUIRED_MESSAGE = "invalid request: message at index {index} must have content"  # UNSURE
TOOL_CALL_ID_MESSAGE = "invalid request: tool message at index {index} must have a tool_call_id"  # UNSURE
CONTENT_TYPE_MESSAGE = (  # UNSURE
    "invalid request: content item type must be one of {allowed} - received '{value}'"
)
MAX_TOKENS_MESSAGE = "invalid request: max_tokens must be a positive integer"  # UNSURE
QUERY_REQUIRED_MESSAGE = "invalid request: query must not be empty"  # UNSURE
DOCUMENTS_REQUIRED_MESSAGE = "invalid request: documents must not be empty"  # UNSURE
TOO_MANY_DOCUMENTS_MESSAGE = (  # UNSURE
    "invalid request: number of documents must be at most 10000 - received {n}"
)
DOCUMENT_TEXT_MESSAGE = (  # UNSURE
    "invalid request: document at index {index} must have a 'text' field or rank_fields must be "
    "specified"
)
TOP_N_MESSAGE = "invalid request: top_n must be greater than 0"  # UNSURE
PROMPT_REQUIRED_MESSAGE = "invalid request: prompt must be at least 1 token long."  # UNSURE
NUM_GENERATIONS_MESSAGE = "invalid request: num_generations must be between 1 and 5"  # UNSURE
SERVER_ERROR_MESSAGE = "internal server error, this has been reported to our developers"  # UNSURE
OVERLOADED_MESSAGE = "service unavailable, please try again later"  # UNSURE

GREETING_REPLY = "Hello! How can I help you today?"

# ----------------------------------------------------------------------- catalogue
# name -> (native dimension, generation). Generation decides input_type rules,
# which embedding types exist and whether images / output_dimension are allowed.
_EMBED_MODELS: dict[str, tuple[int, int]] = {
    "embed-english-v2.0": (4096, 2),
    "embed-english-light-v2.0": (1024, 2),
    "embed-multilingual-v2.0": (768, 2),
    "embed-english-v3.0": (1024, 3),
    "embed-multilingual-v3.0": (1024, 3),
    "embed-english-light-v3.0": (384, 3),
    "embed-multilingual-light-v3.0": (384, 3),
    "embed-v4.0": (1536, 4),
}
_OUTPUT_DIMENSIONS = (256, 512, 1024, 1536)
_CHAT_MODELS = frozenset(
    {
        "command", "command-light", "command-nightly", "command-light-nightly",
        "command-r", "command-r-plus", "command-r-03-2024", "command-r-plus-04-2024",
        "command-r-08-2024", "command-r-plus-08-2024", "command-r7b-12-2024",
        "command-r7b-arabic-02-2025", "command-a-03-2025", "command-a-reasoning-08-2025",
        "command-a-vision-07-2025", "command-a-translate-08-2025",
        "c4ai-aya-expanse-8b", "c4ai-aya-expanse-32b", "c4ai-aya-vision-8b",
        "c4ai-aya-vision-32b",
    }
)
_GENERATE_MODELS = frozenset(
    {"command", "command-light", "command-nightly", "command-light-nightly"}
)
_RERANK_MODELS = frozenset(
    {
        "rerank-english-v2.0", "rerank-multilingual-v2.0", "rerank-english-v3.0",
        "rerank-multilingual-v3.0", "rerank-v3.5", "rerank-v4.0-pro", "rerank-v4.0-fast",
    }
)
_V1_DEFAULTS = {
    "embed": "embed-english-v2.0",
    "chat": "command-r-plus",
    "rerank": "rerank-english-v2.0",
    "generate": "command",
}
_INPUT_TYPES = ("search_document", "search_query", "classification", "clustering", "image")
_EMBEDDING_TYPES_V1 = ("float", "int8", "uint8", "binary", "ubinary")
_EMBEDDING_TYPES_V2 = ("float", "int8", "uint8", "binary", "ubinary", "base64")
_TRUNCATE_VALUES = ("NONE", "START", "END")
_IMAGE_URI_RE = re.compile(r"^data:image/(jpeg|jpg|png|webp|gif);base64,(.+)$", re.DOTALL)
_MAX_TEXTS = 96
_MAX_DOCUMENTS = 10_000
_V1_ROLES = ("USER", "CHATBOT", "SYSTEM", "TOOL")
_V2_ROLES = ("user", "assistant", "system", "tool")
_V2_PART_TYPES: dict[str, tuple[str, ...]] = {
    "user": ("text", "image_url", "document"),
    "system": ("text",),
    "assistant": ("text", "thinking"),
    "tool": ("text", "document"),
}
_GREETINGS = frozenset(
    {
        "hello", "hi", "hey", "hello there", "hi there", "hey there", "greetings",
        "good morning", "good afternoon", "good evening",
    }
)
_TOKEN_RE = re.compile(r"\w+|[^\w\s]")
_WORD_RE = re.compile(r"\w+")
# Cohere bills one search unit per query with up to 100 documents.
_DOCS_PER_SEARCH_UNIT = 100
# Cohere prepends its own system preamble; the "tokens" block counts it, "billed_units" doesn't.
_PREAMBLE_OVERHEAD_TOKENS = 6


class CohereAPIError(Exception):
    """An error answered in Cohere's ``{"message": ...}`` envelope."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def body(self) -> dict[str, Any]:
        return {"message": self.message}


# --------------------------------------------------------------------------- helpers


def count_tokens(text: str) -> int:
    return len(_TOKEN_RE.findall(text))


def _excerpt(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3].rstrip() + "..."


def _truncate_tokens(text: str, limit: int | None) -> tuple[str, bool]:
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


def _uuid(digest: bytes) -> str:
    """A v4-shaped UUID string derived from a digest (Cohere ids are UUIDs)."""
    b = bytearray(digest[:16])
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _digest(*parts: Any) -> bytes:
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).digest()


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _go_type(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def _image_meta(uri: str) -> dict[str, Any]:
    """Width/height/format/bit depth the way Cohere reports them for an embedded image."""
    m = _IMAGE_URI_RE.match(uri)
    fmt = m.group(1) if m else "unknown"
    fmt = "jpeg" if fmt == "jpg" else fmt
    width = height = 0
    depth = 8
    try:
        data = base64.b64decode(m.group(2), validate=False) if m else b""
    except (binascii.Error, ValueError):
        data = b""
    if fmt == "png" and data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 25:
        width, height = struct.unpack(">II", data[16:24])
        depth = data[24]
    elif fmt == "gif" and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
    elif fmt == "jpeg":
        i = 2
        while i + 9 < len(data) and data[i] == 0xFF:
            marker, seg = data[i + 1], struct.unpack(">H", data[i + 2 : i + 4])[0]
            if marker in (0xC0, 0xC1, 0xC2):
                depth = data[i + 4]
                height, width = struct.unpack(">HH", data[i + 5 : i + 9])
                break
            i += 2 + seg
    return {"width": width, "height": height, "format": fmt, "bit_depth": depth}


def _quantize(vec: list[float], kind: str) -> Any:
    """Derive one embedding type from the full-precision unit vector.

    int8 is a fixed scalar quantisation: the fake's unit vectors have components
    of at most ~sqrt(3/d), so scaling by 64*sqrt(d) spreads them over about
    -110..110, using the int8 range much as Cohere's calibrated ranges do (values
    beyond are clamped); uint8 is int8 shifted by 128.  ubinary sets one bit
    per dimension (1 for a positive value), packed 8 per byte most significant
    bit first; binary is the same byte minus 128 (signed).  Both binary types
    therefore have dimension/8 values.
    """
    if kind == "float":
        return [round(v, 8) for v in vec]
    scale = 64.0 * math.sqrt(len(vec))
    if kind in ("int8", "uint8"):
        q = [max(-128, min(127, round(v * scale))) for v in vec]
        return q if kind == "int8" else [x + 128 for x in q]
    if kind in ("binary", "ubinary"):
        packed = []
        for i in range(0, len(vec) - len(vec) % 8, 8):
            byte = 0
            for j in range(8):
                if vec[i + j] > 0:
                    byte |= 1 << (7 - j)
            packed.append(byte)
        return packed if kind == "ubinary" else [b - 128 for b in packed]
    if kind == "base64":
        return base64.b64encode(struct.pack(f"<{len(vec)}f", *vec)).decode("ascii")
    raise ValueError(kind)


# ---------------------------------------------------------------------------- provider


class FakeCohere(ListedHosts):
    """Strict, deterministic stand-in for https://api.cohere.ai and https://api.cohere.com.

    api_keys: when given, only these bearer keys are accepted (others get 401 "invalid api
    token"); by default any non-empty key passes but an unresolved ``${credential.*}``
    placeholder.  embed_models maps extra model names to their dimension (treated as
    v3-generation models); chat_models / rerank_models / generate_models extend the other
    catalogues.
    """

    name = "cohere"
    hosts: tuple[str, ...] = ("api.cohere.ai", "api.cohere.com")

    def __init__(
        self,
        *,
        api_keys: Iterable[str] | None = None,
        embed_models: Mapping[str, int] | None = None,
        chat_models: Iterable[str] = (),
        rerank_models: Iterable[str] = (),
        generate_models: Iterable[str] = (),
        recorder_size: int = 1000,
    ) -> None:
        self.recorder = Recorder(recorder_size)
        self.script = Script()
        self.api_keys: frozenset[str] | None = frozenset(api_keys) if api_keys is not None else None
        self._embed_models = dict(_EMBED_MODELS)
        for model, dims in (embed_models or {}).items():
            self._embed_models[model] = (int(dims), 3)
        self._chat_models = set(_CHAT_MODELS) | set(chat_models)
        self._rerank_models = set(_RERANK_MODELS) | set(rerank_models)
        self._generate_models = set(_GENERATE_MODELS) | set(generate_models)
        self._routes: dict[str, Callable[[dict[str, Any], ProviderRequest], ProviderResponse]] = {
            "/v1/embed": lambda b, r: self._embed(b, r, version=1),
            "/v2/embed": lambda b, r: self._embed(b, r, version=2),
            "/v1/chat": self._chat_v1,
            "/v2/chat": self._chat_v2,
            "/v1/rerank": lambda b, r: self._rerank(b, r, version=1),
            "/v2/rerank": lambda b, r: self._rerank(b, r, version=2),
            "/v1/generate": self._generate,
        }

    # ------------------------------------------------------------------ entry

    async def handle(self, request: ProviderRequest) -> ProviderResponse:
        request, scripted = await received(self, request)
        if scripted is not None:
            return scripted
        try:
            return self._dispatch(request)
        except CohereAPIError as err:
            return ProviderResponse.json(err.status, err.body(), self._headers(request))

    def _dispatch(self, request: ProviderRequest) -> ProviderResponse:
        path = request.path.rstrip("/") or "/"
        handler = self._routes.get(path)
        if handler is None:
            raise CohereAPIError(404, NOT_FOUND_PATH_MESSAGE)
        if request.method != "POST":
            raise CohereAPIError(405, METHOD_MESSAGE)
        self._authenticate(request)
        return handler(self._parse_body(request.body), request)

    def _authenticate(self, request: ProviderRequest) -> None:
        auth = request.headers.get("Authorization", "").strip()
        if not auth:
            raise CohereAPIError(401, NO_API_KEY_MESSAGE)
        scheme, _, key = auth.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer":
            raise CohereAPIError(401, INVALID_API_TOKEN_MESSAGE)
        if not key:
            raise CohereAPIError(401, NO_API_KEY_MESSAGE)
        if rejects_key(key, self.api_keys):
            raise CohereAPIError(401, INVALID_API_TOKEN_MESSAGE)

    @staticmethod
    def _parse_body(raw: bytes) -> dict[str, Any]:
        def _reject(token: str) -> Any:
            raise ValueError(token)

        try:
            body = json.loads(raw.decode("utf-8"), parse_constant=_reject)
        except (UnicodeDecodeError, ValueError):
            raise CohereAPIError(400, JSON_PARSE_MESSAGE) from None
        if not isinstance(body, dict):
            raise CohereAPIError(400, JSON_PARSE_MESSAGE)
        return body

    @staticmethod
    def _headers(request: ProviderRequest, content_type: str = "application/json") -> dict[str, str]:
        h = hashlib.sha256(request.method.encode() + b" " + request.path.encode() + b"\n" + request.body)
        return {"Content-Type": content_type, "x-debug-trace-id": h.hexdigest()[:32]}

    # --------------------------------------------------------------- validation

    @staticmethod
    def _ref(endpoint: str, version: int) -> str:
        return f"https://docs.cohere.com/{'v2/' if version == 2 else ''}reference/{endpoint}"

    def _type_error(self, param: str, got: Any, expected: str, endpoint: str, version: int) -> CohereAPIError:
        return CohereAPIError(
            400,
            TYPE_ERROR_MESSAGE.format(
                param=param, got=_go_type(got), expected=expected, ref=self._ref(endpoint, version)
            ),
        )

    def _opt(self, body: Mapping[str, Any], key: str, kind: str, endpoint: str, version: int) -> Any:
        """An optional parameter of a simple type; null means absent."""
        v = body.get(key)
        if v is None:
            return None
        ok = {
            "string": isinstance(v, str),
            "integer": _is_int(v),
            "number": isinstance(v, (int, float)) and not isinstance(v, bool),
            "boolean": isinstance(v, bool),
            "[]string": isinstance(v, list) and all(isinstance(x, str) for x in v),
            "[]Object": isinstance(v, list),
        }[kind]
        if not ok:
            raise self._type_error(key, v, kind, endpoint, version)
        return v

    def _model(self, body: Mapping[str, Any], endpoint: str, version: int, catalogue: Any) -> str:
        model = self._opt(body, "model", "string", endpoint, version)
        if not model:
            if version == 2:
                raise CohereAPIError(400, MODEL_REQUIRED_MESSAGE)
            model = _V1_DEFAULTS[endpoint]
        if model not in catalogue:
            # UNSURE whether a model of the wrong family (e.g. a command model on /embed)
            # gets this 404 or a 400; Cohere resolves models per endpoint, so 404 it is.
            raise CohereAPIError(404, MODEL_NOT_FOUND_MESSAGE.format(model=model))
        return model

    @staticmethod
    def _meta(version: int, billed: dict[str, Any], tokens: dict[str, Any] | None = None) -> dict[str, Any]:
        api_version: dict[str, Any] = {"version": str(version)}
        if version == 2:
            api_version["is_experimental"] = False
        meta: dict[str, Any] = {"api_version": api_version, "billed_units": billed}
        if tokens is not None:
            meta["tokens"] = tokens
        return meta

    # -------------------------------------------------------------------- embed

    def _embed(self, body: dict[str, Any], request: ProviderRequest, *, version: int) -> ProviderResponse:
        model = self._model(body, "embed", version, self._embed_models)
        native, gen = self._embed_models[model]

        texts = self._opt(body, "texts", "[]string", "embed", version)
        images = self._opt(body, "images", "[]string", "embed", version)
        inputs = self._opt(body, "inputs", "[]Object", "embed", version) if version == 2 else None
        given = [x for x in (texts, images, inputs) if x is not None]
        if not given:
            raise CohereAPIError(400, NO_INPUTS_MESSAGE)
        if len(given) > 1:
            raise CohereAPIError(400, MIXED_INPUTS_MESSAGE)

        input_type = body.get("input_type")
        if gen >= 3 or version == 2:
            if input_type not in _INPUT_TYPES:
                raise CohereAPIError(400, INPUT_TYPE_MESSAGE)
        elif input_type is not None and not isinstance(input_type, str):
            raise self._type_error("input_type", input_type, "string", "embed", version)

        # (hash key, billed token count, image meta or None) per input
        items: list[tuple[bytes, int, dict[str, Any] | None]] = []
        if texts is not None:
            if not texts:
                raise CohereAPIError(400, EMPTY_TEXTS_MESSAGE)
            if len(texts) > _MAX_TEXTS:
                raise CohereAPIError(400, TOO_MANY_TEXTS_MESSAGE.format(n=len(texts)))
            items = [(b"text\0" + t.encode("utf-8"), count_tokens(t), None) for t in texts]
        elif images is not None:
            if gen < 3:
                raise CohereAPIError(400, IMAGES_UNSUPPORTED_MESSAGE.format(model=model))
            if not images:
                raise CohereAPIError(400, NO_INPUTS_MESSAGE)
            if len(images) > 1 and version == 1:
                raise CohereAPIError(400, TOO_MANY_IMAGES_MESSAGE.format(n=len(images)))
            for uri in images:
                if not _IMAGE_URI_RE.match(uri):
                    raise CohereAPIError(400, BAD_IMAGE_MESSAGE)
            items = [(b"text\0" + uri.encode("utf-8"), 0, _image_meta(uri)) for uri in images]
        else:
            assert inputs is not None
            items = self._embed_inputs(inputs, model, gen)

        embedding_types = body.get("embedding_types")
        allowed = _EMBEDDING_TYPES_V2 if version == 2 else _EMBEDDING_TYPES_V1
        if embedding_types is None:
            if version == 2:
                raise CohereAPIError(400, EMBEDDING_TYPES_REQUIRED_MESSAGE)
        else:
            if not isinstance(embedding_types, list):
                raise self._type_error("embedding_types", embedding_types, "[]Object", "embed", version)
            for et in embedding_types:
                if et not in allowed:
                    raise CohereAPIError(
                        400, EMBEDDING_TYPES_INVALID_MESSAGE.format(allowed=", ".join(allowed), value=et)
                    )
                if gen < 3 and et != "float":
                    raise CohereAPIError(400, EMBEDDING_TYPES_V2_MODEL_MESSAGE.format(value=et))
            if not embedding_types:
                if version == 2:
                    raise CohereAPIError(400, EMBEDDING_TYPES_REQUIRED_MESSAGE)
                embedding_types = None

        truncate = body.get("truncate")
        if truncate is not None:
            if not isinstance(truncate, str):
                raise self._type_error("truncate", truncate, "string", "embed", version)
            if truncate.upper() not in _TRUNCATE_VALUES:
                raise CohereAPIError(400, TRUNCATE_MESSAGE.format(value=truncate))
        self._opt(body, "max_tokens", "integer", "embed", version)

        dims = native
        out_dim = self._opt(body, "output_dimension", "integer", "embed", version)
        if out_dim is not None:
            if gen < 4:
                raise CohereAPIError(400, OUTPUT_DIMENSION_MODEL_MESSAGE)
            if out_dim not in _OUTPUT_DIMENSIONS or out_dim > native:
                raise CohereAPIError(400, OUTPUT_DIMENSION_MESSAGE.format(value=out_dim))
            dims = out_dim

        itype = input_type if isinstance(input_type, str) and gen >= 3 else None
        vectors = [self._vector(model, key, itype, native, dims) for key, _, _ in items]
        billed: dict[str, Any] = {"input_tokens": sum(t for _, t, _ in items)}
        image_meta = [m for _, _, m in items if m is not None]
        if image_meta:
            billed["images"] = len(image_meta)
        response_id = _uuid(_digest("embed", version, body))

        if embedding_types is None:
            payload: dict[str, Any] = {
                "id": response_id,
                "texts": list(texts or []),
                "embeddings": [_quantize(v, "float") for v in vectors],
            }
            if image_meta:
                payload["images"] = image_meta
            payload["meta"] = self._meta(version, billed)
            payload["response_type"] = "embeddings_floats"
            return ProviderResponse.json(200, payload, self._headers(request))

        by_type: dict[str, Any] = {}
        for et in embedding_types:
            if et not in by_type:
                by_type[et] = [_quantize(v, et) for v in vectors]
        payload = {"id": response_id, "embeddings": by_type}
        if texts is not None or version == 1:
            payload["texts"] = list(texts or [])
        if image_meta:
            payload["images"] = image_meta
        payload["meta"] = self._meta(version, billed)
        payload["response_type"] = "embeddings_by_type"
        return ProviderResponse.json(200, payload, self._headers(request))

    def _embed_inputs(self, inputs: list[Any], model: str, gen: int) -> list[tuple[bytes, int, dict[str, Any] | None]]:
        if not inputs:
            raise CohereAPIError(400, NO_INPUTS_MESSAGE)
        if len(inputs) > _MAX_TEXTS:
            raise CohereAPIError(400, TOO_MANY_TEXTS_MESSAGE.format(n=len(inputs)))
        items: list[tuple[bytes, int, dict[str, Any] | None]] = []
        for i, item in enumerate(inputs):
            content = item.get("content") if isinstance(item, dict) else None
            if not isinstance(content, list) or not content:
                raise self._type_error(f"inputs[{i}].content", content, "[]Object", "embed", 2)
            if len(content) > 1 and gen < 4:
                raise CohereAPIError(400, MULTI_PART_INPUT_MESSAGE)
            keys: list[bytes] = []
            tokens = 0
            meta = None
            for part in content:
                ptype = part.get("type") if isinstance(part, dict) else None
                if ptype == "text" and isinstance(part.get("text"), str):
                    keys.append(b"text\0" + part["text"].encode("utf-8"))
                    tokens += count_tokens(part["text"])
                elif ptype == "image_url":
                    url = part.get("image_url")
                    url = url.get("url") if isinstance(url, dict) else url
                    if gen < 3:
                        raise CohereAPIError(400, IMAGES_UNSUPPORTED_MESSAGE.format(model=model))
                    if not isinstance(url, str) or not _IMAGE_URI_RE.match(url):
                        raise CohereAPIError(400, BAD_IMAGE_MESSAGE)
                    keys.append(b"text\0" + url.encode("utf-8"))
                    meta = _image_meta(url)
                else:
                    raise CohereAPIError(
                        400, CONTENT_TYPE_MESSAGE.format(allowed="text, image_url", value=ptype)
                    )
            # A single-part input embeds exactly like the same entry of texts/images.
            key = keys[0] if len(keys) == 1 else b"multi\0" + b"\0\0".join(keys)
            items.append((key, tokens, meta))
        return items

    @staticmethod
    def _raw(model: str, key: bytes, n: int) -> list[float]:
        raw = hashlib.shake_256(b"cohere-embedding\0" + model.encode() + b"\0" + key).digest(4 * n)
        return [(u / 4294967295.0) * 2.0 - 1.0 for u in struct.unpack(f"<{n}I", raw)]

    def _vector(self, model: str, key: bytes, input_type: str | None, native: int, dims: int) -> list[float]:
        # The native vector is derived first and shortened afterwards, so an
        # output_dimension vector is a (re-normalised) prefix of the full one,
        # as with Matryoshka embeddings.  The input_type adds a small
        # perturbation: a query and a document with the same text are close
        # (cosine ~0.99) but not identical, like the real prefix-token effect.
        vals = self._raw(model, key, native)
        if input_type is not None:
            extra = self._raw(model, b"input_type\0" + input_type.encode() + b"\0" + key, native)
            vals = [v + 0.1 * e for v, e in zip(vals, extra)]
        vals = vals[:dims]
        norm = math.sqrt(sum(v * v for v in vals)) or 1.0
        return [v / norm for v in vals]

    # --------------------------------------------------------------------- chat

    @staticmethod
    def _reply_text(prompt: str) -> str:
        if prompt.strip().lower().rstrip("!.?, ") in _GREETINGS:
            return GREETING_REPLY
        excerpt = _excerpt(prompt) or "your message"
        return f'This is a deterministic response from the fake Cohere service to: "{excerpt}"'

    def _generation_limits(self, body: Mapping[str, Any], endpoint: str, version: int) -> tuple[int | None, list[str]]:
        max_tokens = self._opt(body, "max_tokens", "integer", endpoint, version)
        if max_tokens is not None and max_tokens < 1:
            raise CohereAPIError(400, MAX_TOKENS_MESSAGE)
        stops = self._opt(body, "stop_sequences", "[]string", endpoint, version) or []
        for key in ("temperature", "p", "frequency_penalty", "presence_penalty"):
            self._opt(body, key, "number", endpoint, version)
        for key in ("k", "seed"):
            self._opt(body, key, "integer", endpoint, version)
        return max_tokens, stops

    def _chat_v1(self, body: dict[str, Any], request: ProviderRequest) -> ProviderResponse:
        model = self._model(body, "chat", 1, self._chat_models)
        message = body.get("message")
        if message is not None and not isinstance(message, str):
            raise self._type_error("message", message, "string", "chat", 1)
        tool_results = body.get("tool_results")
        if not (message or "").strip() and not tool_results:
            raise CohereAPIError(400, CHAT_EMPTY_MESSAGE)
        preamble = self._opt(body, "preamble", "string", "chat", 1)
        history = body.get("chat_history")
        if history is None:
            history = []
        if not isinstance(history, list):
            raise self._type_error("chat_history", history, "[]Object", "chat", 1)
        for entry in history:
            if not isinstance(entry, dict):
                raise self._type_error("chat_history", entry, "[]Object", "chat", 1)
            role = entry.get("role")
            if not isinstance(role, str) or role.upper() not in _V1_ROLES:
                raise CohereAPIError(400, CHAT_ROLE_V1_MESSAGE.format(role=role))
            if role.upper() != "TOOL" and not isinstance(entry.get("message"), str):
                raise CohereAPIError(400, HISTORY_MESSAGE_MESSAGE)
        max_tokens, stops = self._generation_limits(body, "chat", 1)
        stream = bool(self._opt(body, "stream", "boolean", "chat", 1))

        prompt = message or ""
        text = self._reply_text(prompt)
        text, _ = _apply_stop(text, stops)
        text, truncated = _truncate_tokens(text, max_tokens)
        finish = "MAX_TOKENS" if truncated else "COMPLETE"

        input_tokens = count_tokens(prompt) + count_tokens(preamble or "") + sum(
            count_tokens(e.get("message") or "") for e in history
        )
        output_tokens = count_tokens(text)
        digest = _digest("chat", 1, model, body)
        response_id = _uuid(digest)
        generation_id = _uuid(hashlib.sha256(digest).digest())
        out_history = [
            {"role": e["role"].upper(), "message": e["message"]} if "message" in e else {"role": e["role"].upper()}
            for e in history
        ]
        out_history += [{"role": "USER", "message": prompt}, {"role": "CHATBOT", "message": text}]
        payload = {
            "response_id": response_id,
            "text": text,
            "generation_id": generation_id,
            "chat_history": out_history,
            "finish_reason": finish,
            "meta": self._meta(
                1,
                {"input_tokens": input_tokens, "output_tokens": output_tokens},
                {"input_tokens": input_tokens + _PREAMBLE_OVERHEAD_TOKENS, "output_tokens": output_tokens},
            ),
        }
        if not stream:
            return ProviderResponse.json(200, payload, self._headers(request))
        # v1 streams newline-delimited JSON events.
        events: list[dict[str, Any]] = [
            {"is_finished": False, "event_type": "stream-start", "generation_id": generation_id}
        ]
        for piece in _stream_pieces(text):
            events.append({"is_finished": False, "event_type": "text-generation", "text": piece})
        events.append(
            {"is_finished": True, "event_type": "stream-end", "response": payload, "finish_reason": finish}
        )
        data = b"".join(json.dumps(e, ensure_ascii=False).encode("utf-8") + b"\n" for e in events)
        return ProviderResponse(200, self._headers(request, "application/stream+json"), data)

    def _chat_v2(self, body: dict[str, Any], request: ProviderRequest) -> ProviderResponse:
        self._model(body, "chat", 2, self._chat_models)
        messages = body.get("messages")
        if messages is None:
            raise CohereAPIError(400, MESSAGES_REQUIRED_MESSAGE)
        if not isinstance(messages, list):
            raise self._type_error("messages", messages, "[]Object", "chat", 2)
        if not messages:
            raise CohereAPIError(400, MESSAGES_REQUIRED_MESSAGE)
        for i, msg in enumerate(messages):
            if not isinstance(msg, dict):
                raise self._type_error("messages", msg, "[]Object", "chat", 2)
            role = msg.get("role")
            if role not in _V2_ROLES:
                raise CohereAPIError(400, CHAT_ROLE_V2_MESSAGE.format(role=role))
            content = msg.get("content")
            if content is None:
                if role == "assistant" and (msg.get("tool_calls") or msg.get("tool_plan")):
                    continue
                raise CohereAPIError(400, CONTENT_REQUIRED_MESSAGE.format(index=i))
            if role == "tool" and not isinstance(msg.get("tool_call_id"), str):
                raise CohereAPIError(400, TOOL_CALL_ID_MESSAGE.format(index=i))
            if isinstance(content, str):
                continue
            if not isinstance(content, list):
                raise self._type_error(f"messages[{i}].content", content, "string", "chat", 2)
            allowed = _V2_PART_TYPES[role]
            for part in content:
                ptype = part.get("type") if isinstance(part, dict) else None
                if ptype not in allowed:
                    raise CohereAPIError(
                        400, CONTENT_TYPE_MESSAGE.format(allowed=", ".join(allowed), value=ptype)
                    )
                if ptype == "text" and not isinstance(part.get("text"), str):
                    raise self._type_error(f"messages[{i}].content.text", part.get("text"), "string", "chat", 2)
        max_tokens, stops = self._generation_limits(body, "chat", 2)
        stream = bool(self._opt(body, "stream", "boolean", "chat", 2))

        users = [m for m in messages if m["role"] == "user"]
        source = users[-1] if users else messages[-1]
        prompt = _content_text(source.get("content"))
        text = self._reply_text(prompt)
        text, stopped = _apply_stop(text, stops)
        text, truncated = _truncate_tokens(text, max_tokens)
        finish = "MAX_TOKENS" if truncated else ("STOP_SEQUENCE" if stopped else "COMPLETE")
        input_tokens = sum(count_tokens(_content_text(m.get("content"))) for m in messages)
        output_tokens = count_tokens(text)
        usage = {
            "billed_units": {"input_tokens": input_tokens, "output_tokens": output_tokens},
            "tokens": {
                "input_tokens": input_tokens + _PREAMBLE_OVERHEAD_TOKENS + 2 * len(messages),
                "output_tokens": output_tokens + 1,
            },
        }
        response_id = _uuid(_digest("chat", 2, body))
        if not stream:
            payload = {
                "id": response_id,
                "message": {"role": "assistant", "content": [{"type": "text", "text": text}]},
                "finish_reason": finish,
                "usage": usage,
            }
            return ProviderResponse.json(200, payload, self._headers(request))
        # v2 streams server-sent events with typed payloads.  UNSURE: no "[DONE]" terminator.
        events: list[dict[str, Any]] = [
            {
                "id": response_id,
                "type": "message-start",
                "delta": {"message": {"role": "assistant", "content": [], "tool_plan": "", "tool_calls": [], "citations": []}},
            },
            {"type": "content-start", "index": 0, "delta": {"message": {"content": {"type": "text", "text": ""}}}},
        ]
        for piece in _stream_pieces(text):
            events.append({"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": piece}}}})
        events.append({"type": "content-end", "index": 0})
        events.append({"type": "message-end", "delta": {"finish_reason": finish, "usage": usage}})
        data = b"".join(
            f"event: {e['type']}\ndata: ".encode() + json.dumps(e, ensure_ascii=False).encode("utf-8") + b"\n\n"
            for e in events
        )
        return ProviderResponse(200, self._headers(request, "text/event-stream"), data)

    # ------------------------------------------------------------------- rerank

    def _rerank(self, body: dict[str, Any], request: ProviderRequest, *, version: int) -> ProviderResponse:
        model = self._model(body, "rerank", version, self._rerank_models)
        query = body.get("query")
        if query is not None and not isinstance(query, str):
            raise self._type_error("query", query, "string", "rerank", version)
        if not query or not query.strip():
            raise CohereAPIError(400, QUERY_REQUIRED_MESSAGE)
        documents = body.get("documents")
        if documents is not None and not isinstance(documents, list):
            raise self._type_error("documents", documents, "[]Object", "rerank", version)
        if not documents:
            raise CohereAPIError(400, DOCUMENTS_REQUIRED_MESSAGE)
        if len(documents) > _MAX_DOCUMENTS:
            raise CohereAPIError(400, TOO_MANY_DOCUMENTS_MESSAGE.format(n=len(documents)))
        rank_fields = self._opt(body, "rank_fields", "[]string", "rerank", version) if version == 1 else None
        texts: list[str] = []
        for i, doc in enumerate(documents):
            if isinstance(doc, str):
                texts.append(doc)
            elif isinstance(doc, dict):
                if rank_fields:
                    texts.append("\n".join(f"{f}: {doc.get(f, '')}" for f in rank_fields))
                elif isinstance(doc.get("text"), str):
                    texts.append(doc["text"])
                else:
                    raise CohereAPIError(400, DOCUMENT_TEXT_MESSAGE.format(index=i))
            else:
                raise self._type_error("documents", doc, "[]Object", "rerank", version)
        top_n = self._opt(body, "top_n", "integer", "rerank", version)
        if top_n is not None and top_n < 1:
            raise CohereAPIError(400, TOP_N_MESSAGE)
        return_documents = bool(self._opt(body, "return_documents", "boolean", "rerank", version)) if version == 1 else False
        self._opt(body, "max_chunks_per_doc", "integer", "rerank", version)
        self._opt(body, "max_tokens_per_doc", "integer", "rerank", version)

        scored = [(self._relevance(model, query, t), i) for i, t in enumerate(texts)]
        scored.sort(key=lambda s: (-s[0], s[1]))
        if top_n is not None:
            scored = scored[:top_n]
        results = []
        for score, i in scored:
            item: dict[str, Any] = {}
            if return_documents:
                doc = documents[i]
                item["document"] = {"text": doc} if isinstance(doc, str) else doc
            item["index"] = i
            item["relevance_score"] = score
            results.append(item)
        payload = {
            "id": _uuid(_digest("rerank", version, body)),
            "results": results,
            "meta": self._meta(
                version, {"search_units": math.ceil(len(documents) / _DOCS_PER_SEARCH_UNIT)}
            ),
        }
        return ProviderResponse.json(200, payload, self._headers(request))

    @staticmethod
    def _relevance(model: str, query: str, text: str) -> float:
        # Word overlap with the query dominates, a hash-derived jitter breaks
        # ties: documents that share the query's words rank first, and the
        # score is a float strictly inside (0, 1) like Cohere's.
        q = {w.lower() for w in _WORD_RE.findall(query)}
        d = {w.lower() for w in _WORD_RE.findall(text)}
        overlap = len(q & d) / len(q) if q else 0.0
        h = hashlib.sha256(f"cohere-rerank\0{model}\0{query}\0{text}".encode()).digest()
        jitter = int.from_bytes(h[:8], "big") / 2.0**64
        return round(0.001 + 0.9 * overlap + 0.098 * jitter, 8)

    # ----------------------------------------------------------------- generate

    def _generate(self, body: dict[str, Any], request: ProviderRequest) -> ProviderResponse:
        model = self._model(body, "generate", 1, self._generate_models)
        prompt = body.get("prompt")
        if prompt is not None and not isinstance(prompt, str):
            raise self._type_error("prompt", prompt, "string", "generate", 1)
        if not prompt or not prompt.strip():
            raise CohereAPIError(400, PROMPT_REQUIRED_MESSAGE)
        max_tokens, stops = self._generation_limits(body, "generate", 1)
        n = self._opt(body, "num_generations", "integer", "generate", 1)
        if n is not None and not 1 <= n <= 5:
            raise CohereAPIError(400, NUM_GENERATIONS_MESSAGE)
        n = n or 1
        stream = bool(self._opt(body, "stream", "boolean", "generate", 1))
        excerpt = _excerpt(prompt)
        text = f' This is a deterministic completion from the fake Cohere service for: "{excerpt}"'
        text, _ = _apply_stop(text, stops)
        text, truncated = _truncate_tokens(text, max_tokens)
        finish = "MAX_TOKENS" if truncated else "COMPLETE"
        digest = _digest("generate", model, body)
        generations = [
            {"id": _uuid(hashlib.sha256(digest + bytes([i])).digest()), "text": text, "finish_reason": finish}
            for i in range(n)
        ]
        payload = {
            "id": _uuid(digest),
            "generations": generations,
            "prompt": prompt,
            "meta": self._meta(1, {"input_tokens": count_tokens(prompt), "output_tokens": n * count_tokens(text)}),
        }
        if not stream:
            return ProviderResponse.json(200, payload, self._headers(request))
        lines = [{"text": p, "is_finished": False} for p in _stream_pieces(text)]
        lines.append({"is_finished": True, "finish_reason": finish, "response": payload})
        data = b"".join(json.dumps(x, ensure_ascii=False).encode("utf-8") + b"\n" for x in lines)
        return ProviderResponse(200, self._headers(request, "application/stream+json"), data)

    # ------------------------------------------------------- canned replies for Script

    @staticmethod
    def error_response(status: int, message: str, *, headers: Mapping[str, str] | None = None) -> ProviderResponse:
        """Any error in Cohere's ``{"message": ...}`` envelope."""
        return ProviderResponse.json(status, {"message": message}, dict(headers or {}))

    @classmethod
    def rate_limit_response(
        cls, *, limit: int = 40, retry_after: int | None = None, message: str | None = None
    ) -> ProviderResponse:
        """429 as sent to a trial key over its per-minute limit (Retry-After only if given)."""
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        return cls.error_response(429, message or TRIAL_RATE_LIMIT_MESSAGE.format(limit=limit), headers=headers)

    @classmethod
    def invalid_token_response(cls) -> ProviderResponse:
        return cls.error_response(401, INVALID_API_TOKEN_MESSAGE)

    @classmethod
    def server_error_response(cls) -> ProviderResponse:
        return cls.error_response(500, SERVER_ERROR_MESSAGE)

    @classmethod
    def overloaded_response(cls) -> ProviderResponse:
        return cls.error_response(503, OVERLOADED_MESSAGE)

    fault = staticmethod(fault)

    delayed = staticmethod(delayed)


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""


def _stream_pieces(text: str) -> list[str]:
    return re.findall(r"\s*\S+\s*$|\s*\S+", text) or [""]
