"""Deterministic in-process fake of Google Vertex AI publisher models.

``POST https://{region}-aiplatform.googleapis.com/v1/projects/{project}/locations/{region}/
publishers/google/models/{model}:predict`` (text embeddings, what ML Commons' Vertex AI
embedding blueprint sends: ``{"instances": [{"content": "..."}]}``) and ``...:generateContent``
/ ``:streamGenerateContent`` (Gemini on Vertex).  ``v1beta1`` and the global endpoint
``aiplatform.googleapis.com`` (location ``global``) are served too.

Authentication is an OAuth 2 access token (``Authorization: Bearer ya29...``): missing or
rejected tokens are Google's 401 UNAUTHENTICATED; a malformed project id is the 403 an
unknown project gets.  Errors use Google's ``{"error": {"code", "message", "status"}}``
envelope; the generateContent machinery is shared with the Gemini API fake (gemini.py).

Error texts marked ``# verbatim`` were observed from the real service; ``# UNSURE`` ones keep
the envelope and status but their wording is a best guess.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
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
    rejects_key,
    received,
)
from .gemini import (
    ANY,
    BOOL,
    INT32,
    NOT_FOUND_HTML,
    STRING,
    GenerateFlavour,
    GoogleAPIError,
    Msg,
    ProtoJson,
    Rep,
    _NotFoundPage,
    check_generate_request,
    content_specs,
    embed_vector,
    generate,
    google_json,
    parse_body,
    stream_response,
)

__all__ = ["FakeVertexAI"]

MISSING_CREDENTIALS_MESSAGE = (  # verbatim (401, reason CREDENTIALS_MISSING)
    "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or "
    "other valid authentication credential. See https://developers.google.com/identity/sign-in/web/"
    "devconsole-project."
)
INVALID_CREDENTIALS_MESSAGE = (  # verbatim (401, reason ACCESS_TOKEN_TYPE_UNSUPPORTED)
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other "
    "valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
)
PERMISSION_MESSAGE = (  # verbatim
    "Permission '{permission}' denied on resource '//aiplatform.googleapis.com/{resource}' (or it may not exist)."
)
MODEL_NOT_FOUND_MESSAGE = (  # verbatim
    "Publisher Model `{resource}` was not found or your project does not have access to it. Please ensure you "
    "are using a valid model version. For more information, see: "
    "https://cloud.google.com/vertex-ai/generative-ai/docs/learn/model-versions"
)
GEMINI_VIA_PREDICT_MESSAGE = (  # verbatim (400 FAILED_PRECONDITION)
    "Gemini cannot be accessed through Vertex Predict/RawPredict API. Please follow "
    "https://cloud.google.com/vertex-ai/docs/generative-ai/start/quickstarts/quickstart-multimodal for Gemini "
    "usage."
)
EMBEDDING_VIA_GENERATE_MESSAGE = (  # UNSURE
    "Model {model} does not support generateContent. Use the predict method for embedding models."
)
LOCATION_MISMATCH_MESSAGE = (  # UNSURE
    "The location '{location}' in the request does not match the location '{endpoint}' of the endpoint."
)
CONTENTS_MISSING = (  # UNSURE
    "Unable to submit request because it must have at least one contents field. Learn more: "
    "https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/gemini"
)
PARTS_EMPTY = (  # verbatim
    "Unable to submit request because it must include at least one parts field, which describes the prompt "
    "input. Learn more: https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/gemini"
)
EMPTY_TEXT = (  # verbatim
    "Unable to submit request because it has an empty text parameter. Add a value to the parameter and try "
    "again. Learn more: https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/gemini"
)
INSTANCES_MISSING = "Unable to submit request because it must have at least one instance."  # UNSURE
TOO_MANY_INSTANCES = (  # UNSURE
    "Unable to submit request because the model {model} supports up to {limit} instances per request, but "
    "{count} were provided."
)
CONTENT_REQUIRED = "Unable to submit request because instance {index} has no content field."  # UNSURE
TOKEN_LIMIT = (  # UNSURE
    "Unable to submit request because the input token count is {count} but model {model} only supports up to "
    "{limit}. Reduce the input token count and try again."
)
TASK_TYPE_MESSAGE = "Unable to submit request because task_type '{value}' is not supported."  # UNSURE
DIMENSION_MESSAGE = (  # UNSURE
    "Unable to submit request because outputDimensionality must be between 1 and {limit}."
)
RATE_LIMIT_MESSAGE = (  # verbatim
    "Resource exhausted. Please try again later. Please refer to "
    "https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more details."
)
INTERNAL_MESSAGE = "Internal error encountered."  # verbatim
OVERLOADED_MESSAGE = "The service is currently unavailable."  # verbatim

REGIONS = (
    "us-central1", "us-east1", "us-east4", "us-east5", "us-south1", "us-west1", "us-west2", "us-west3", "us-west4",
    "northamerica-northeast1", "northamerica-northeast2", "southamerica-east1", "southamerica-west1",
    "europe-central2", "europe-north1", "europe-southwest1", "europe-west1", "europe-west2", "europe-west3",
    "europe-west4", "europe-west6", "europe-west8", "europe-west9", "europe-west12", "asia-east1", "asia-east2",
    "asia-northeast1", "asia-northeast2", "asia-northeast3", "asia-south1", "asia-southeast1", "asia-southeast2",
    "australia-southeast1", "australia-southeast2", "me-central1", "me-central2", "me-west1", "africa-south1",
)
_PROJECT_RE = re.compile(r"^(?:[a-z][a-z0-9-]{4,28}[a-z0-9]|\d{6,20})$")
_PATH_RE = re.compile(
    r"^/(?P<version>v1|v1beta1)/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/publishers/google/"
    r"models/(?P<model>[^/:]+):(?P<method>[A-Za-z]+)$"
)

# embedding models: name -> (dimension, max instances per request, renormalised when shortened)
_EMBED_MODELS: dict[str, tuple[int, int, bool]] = {
    "textembedding-gecko@001": (768, 5, True),
    "textembedding-gecko@003": (768, 250, True),
    "textembedding-gecko-multilingual@001": (768, 5, True),
    "text-embedding-004": (768, 250, True),
    "text-embedding-005": (768, 250, True),
    "text-multilingual-embedding-002": (768, 250, True),
    "gemini-embedding-001": (3072, 1, False),
    "text-embedding-large-exp-03-07": (3072, 1, False),
}
_TOKEN_LIMIT = 2048
_TASK_TYPES = ("RETRIEVAL_QUERY", "RETRIEVAL_DOCUMENT", "SEMANTIC_SIMILARITY", "CLASSIFICATION", "CLUSTERING",
               "QUESTION_ANSWERING", "FACT_VERIFICATION", "CODE_RETRIEVAL_QUERY")
# chat models: name -> (thinking, model version reported)
_CHAT_MODELS: dict[str, tuple[bool, str]] = {
    "gemini-2.0-flash": (False, "gemini-2.0-flash-001"),
    "gemini-2.0-flash-001": (False, "gemini-2.0-flash-001"),
    "gemini-2.0-flash-lite": (False, "gemini-2.0-flash-lite-001"),
    "gemini-2.0-flash-lite-001": (False, "gemini-2.0-flash-lite-001"),
    "gemini-2.5-pro": (True, "gemini-2.5-pro"),
    "gemini-2.5-flash": (True, "gemini-2.5-flash"),
    "gemini-2.5-flash-lite": (True, "gemini-2.5-flash-lite"),
    "gemini-3-pro-preview": (True, "gemini-3-pro-preview"),
}

VERTEX_FLAVOUR = GenerateFlavour(
    name="Vertex AI",
    contents_missing=CONTENTS_MISSING,
    parts_empty=lambda path: PARTS_EMPTY,
    part_data=lambda path: EMPTY_TEXT,
    join=lambda problems: problems[0],
    vertex=True,
)


class FakeVertexAI(ListedHosts):
    """Strict, deterministic stand-in for ``{region}-aiplatform.googleapis.com`` publisher models.

    tokens: when given, only these bearer tokens are accepted; by default any non-empty token
    passes but an unresolved ``${credential.*}`` placeholder.  projects: when given, only these
    project ids (others: 403 PERMISSION_DENIED); by default any well-formed id.
    embed_models (name -> dimension) / chat_models extend the catalogue.
    """

    name = "vertexai"
    hosts: tuple[str, ...] = ("aiplatform.googleapis.com",) + tuple(f"{r}-aiplatform.googleapis.com" for r in REGIONS)

    def __init__(self, *, tokens: Iterable[str] | None = None, projects: Iterable[str] | None = None,
                 embed_models: Mapping[str, int] | None = None, chat_models: Iterable[str] = (),
                 recorder_size: int = 1000) -> None:
        self.recorder = Recorder(recorder_size)
        self.script = Script()
        self.tokens = frozenset(tokens) if tokens is not None else None
        self.projects = frozenset(projects) if projects is not None else None
        self._embed = dict(_EMBED_MODELS)
        self._embed.update({m: (int(d), 250, True) for m, d in (embed_models or {}).items()})
        self._chat = dict(_CHAT_MODELS)
        self._chat.update({m: (False, m) for m in chat_models})
        package = "google.cloud.aiplatform.v1"
        self._specs = content_specs(package)
        self._predict_spec = Msg(f"{package}.PredictRequest", {
            "endpoint": STRING, "instances": Rep(ANY), "parameters": ANY, "labels": ANY})
        self._embed_params = Msg(f"{package}.schema.predict.params.TextEmbeddingPredictionParams", {
            "autoTruncate": BOOL, "outputDimensionality": INT32})
        self._embed_instance = Msg(f"{package}.schema.predict.instance.TextEmbeddingPredictionInstance", {
            "content": STRING, "taskType": STRING, "title": STRING})

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
        host = request.host
        endpoint_location = host[: -len("-aiplatform.googleapis.com")] if host.endswith(
            "-aiplatform.googleapis.com") else None
        project, location = unquote(m.group("project")), unquote(m.group("location"))
        model, method = unquote(m.group("model")), m.group("method")
        self._authenticate(request, method)
        resource = f"projects/{project}/locations/{location}/publishers/google/models/{model}"
        if method not in ("predict", "generateContent", "streamGenerateContent"):
            raise _NotFoundPage()
        permission = "aiplatform.endpoints.predict"
        if not _PROJECT_RE.match(project) or (self.projects is not None and project not in self.projects):
            raise GoogleAPIError(403, PERMISSION_MESSAGE.format(permission=permission, resource=resource), details=[
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "IAM_PERMISSION_DENIED",
                 "domain": "aiplatform.googleapis.com",
                 "metadata": {"permission": permission, "resource": resource}}])
        if location not in REGIONS and location != "global":
            raise GoogleAPIError(404, MODEL_NOT_FOUND_MESSAGE.format(resource=resource))
        if endpoint_location is not None and endpoint_location != location:
            raise GoogleAPIError(400, LOCATION_MISMATCH_MESSAGE.format(location=location, endpoint=endpoint_location))
        body = parse_body(request.body)
        if method == "predict":
            if model in self._chat:
                raise GoogleAPIError(400, GEMINI_VIA_PREDICT_MESSAGE, status="FAILED_PRECONDITION")
            if model not in self._embed:
                raise GoogleAPIError(404, MODEL_NOT_FOUND_MESSAGE.format(resource=resource))
            return google_json(200, self._predict(model, body), request)
        if model in self._embed:
            raise GoogleAPIError(400, EMBEDDING_VIA_GENERATE_MESSAGE.format(model=model))
        if model not in self._chat:
            raise GoogleAPIError(404, MODEL_NOT_FOUND_MESSAGE.format(resource=resource))
        thinking, version = self._chat[model]
        parsed = check_generate_request(body, self._specs, VERTEX_FLAVOUR)
        payload = generate(model, parsed, VERTEX_FLAVOUR, thinking=thinking, model_version=version)
        if method == "streamGenerateContent":
            return stream_response(payload, request, sse=parse_qs(request.query).get("alt", [""])[0] == "sse")
        return google_json(200, payload, request)

    def _authenticate(self, request: ProviderRequest, method: str) -> None:
        auth = request.headers.get("Authorization", "").strip()
        scheme, _, token = auth.partition(" ")
        token = token.strip()
        if not auth:
            reason, message = "CREDENTIALS_MISSING", MISSING_CREDENTIALS_MESSAGE
        elif scheme.lower() != "bearer" or not token or rejects_key(token, self.tokens):
            reason, message = "ACCESS_TOKEN_TYPE_UNSUPPORTED", INVALID_CREDENTIALS_MESSAGE
        else:
            return
        rpc = "google.cloud.aiplatform.v1.PredictionService." + method[:1].upper() + method[1:]
        raise GoogleAPIError(401, message, details=[
            {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason, "domain": "googleapis.com",
             "metadata": {"service": "aiplatform.googleapis.com", "method": rpc}}])

    # ------------------------------------------------------------ embeddings

    def _predict(self, model: str, body: Any) -> dict[str, Any]:
        proto = ProtoJson()
        parsed = proto.check(body, self._predict_spec, "")
        proto.raise_if_any()
        assert parsed is not None
        instances = parsed.get("instances") or []
        params = proto.check(parsed.get("parameters") or {}, self._embed_params, "parameters")
        # UNSURE: instances are google.protobuf.Value on the wire; their fields are checked here
        # against the text-embedding instance schema with the JSON front end's wording
        checked = [proto.check(instance, self._embed_instance, f"instances[{i}]")
                   for i, instance in enumerate(instances)]
        proto.raise_if_any()
        native, limit, renormalise = self._embed[model]
        if not instances:
            raise GoogleAPIError(400, INSTANCES_MISSING)
        if len(instances) > limit:
            raise GoogleAPIError(400, TOO_MANY_INSTANCES.format(model=model, limit=limit, count=len(instances)))
        params = params or {}
        auto_truncate = params.get("autoTruncate")
        auto_truncate = True if auto_truncate is None else auto_truncate
        dims = params.get("outputDimensionality") or native
        if not 1 <= dims <= native:
            raise GoogleAPIError(400, DIMENSION_MESSAGE.format(limit=native))
        predictions = []
        billable = 0
        for i, instance in enumerate(checked):
            instance = instance or {}
            content = instance.get("content")
            if content is None:
                raise GoogleAPIError(400, CONTENT_REQUIRED.format(index=i))
            task = instance.get("taskType")
            if task is not None and task not in _TASK_TYPES:
                raise GoogleAPIError(400, TASK_TYPE_MESSAGE.format(value=task))
            text = content if not instance.get("title") else f"title: {instance['title']} | text: {content}"
            tokens = count_tokens(text)
            truncated = tokens > _TOKEN_LIMIT
            if truncated and not auto_truncate:
                raise GoogleAPIError(400, TOKEN_LIMIT.format(count=tokens, model=model, limit=_TOKEN_LIMIT))
            if truncated:
                tokens = _TOKEN_LIMIT
            billable += sum(1 for ch in content if not ch.isspace())
            values = embed_vector("vertexai", model, text, task, native, dims, renormalise=renormalise)
            predictions.append({"embeddings": {"statistics": {"truncated": truncated, "token_count": tokens},
                                               "values": values}})
        return {"predictions": predictions, "metadata": {"billableCharacterCount": billable}}

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
    def rate_limit_response(cls) -> ProviderResponse:
        return cls.error_response(429, RATE_LIMIT_MESSAGE)

    @classmethod
    def server_error_response(cls) -> ProviderResponse:
        return cls.error_response(500, INTERNAL_MESSAGE)

    @classmethod
    def overloaded_response(cls) -> ProviderResponse:
        return cls.error_response(503, OVERLOADED_MESSAGE)

    @classmethod
    def expired_token_response(cls) -> ProviderResponse:
        """What an expired access token gets (the Vertex blueprint's tokens live an hour to 12)."""
        return cls.error_response(401, INVALID_CREDENTIALS_MESSAGE)

    delayed = staticmethod(delayed)
