"""Deterministic in-process fake of Azure OpenAI (``<resource>.openai.azure.com``).

Generation is delegated to :class:`FakeOpenAI` (composition): this class owns what is
Azure-specific -- host and URL shape, ``api-version``, ``api-key`` / Entra bearer auth,
deployment -> model resolution, operation/model compatibility, Azure's error envelope
(``{"error": {"code", "message"}}``) and the content-filter annotations that Azure adds to
OpenAI's response shape.

Error texts marked ``# verbatim`` were observed from the real service; ``# UNSURE`` ones keep
Azure's envelope and status but their wording is a best guess.  Request-validation errors of
the OpenAI request schema are answered by the inner FakeOpenAI in OpenAI's envelope, which is
what Azure passes through for them.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qs

from .base import (
    ProviderRequest,
    ProviderResponse,
    Recorder,
    Script,
    delayed,
    fault,
    received,
    rejects_key,
)
from .openai import FakeOpenAI

__all__ = ["AzureAPIError", "FakeAzureOpenAI"]

INVALID_KEY_MESSAGE = (  # verbatim (also used when no key at all is sent: UNSURE for that case)
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a "
    "valid key for an active subscription and use a correct regional API endpoint for your "
    "resource."
)
INVALID_TOKEN_MESSAGE = (  # verbatim (Entra ID bearer token rejected)
    "Unauthorized. Access token is missing, invalid, audience is incorrect "
    "(https://cognitiveservices.azure.com), or have expired."
)
RESOURCE_NOT_FOUND_MESSAGE = "Resource not found"  # verbatim (missing api-version, unknown path)
API_VERSION_NOT_SUPPORTED_MESSAGE = "API version not supported"  # verbatim (code BadRequest)
DEPLOYMENT_NOT_FOUND_MESSAGE = (  # verbatim (code DeploymentNotFound)
    "The API deployment for this resource does not exist. If you created the deployment within "
    "the last 5 minutes, please wait a moment and try again."
)
OPERATION_NOT_SUPPORTED_MESSAGE = (  # verbatim (code OperationNotSupported)
    "The {operation} operation does not work with the specified model, {model}. Please choose "
    "different model and try again. You can learn more about which models can be used with each "
    "operation here: https://go.microsoft.com/fwlink/?linkid=2197993."
)
# verbatim, including the unformatted "{modelName}" that Azure really sends.
MODEL_API_VERSION_MESSAGE = "Model {modelName} is enabled only for api versions 2024-12-01-preview and later"
RATE_LIMIT_MESSAGE = (  # verbatim shape; the limit kind and tier vary with the deployment
    "Requests to the {operation} Operation under Azure OpenAI API version {api_version} have "
    "exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after "
    "{retry} seconds. Please go here: https://aka.ms/oai/quotaincrease if you would like to "
    "further increase the default rate limit."
)
CONTENT_FILTER_MESSAGE = (  # verbatim
    "The response was filtered due to the prompt triggering Azure OpenAI's content management "
    "policy. Please modify your prompt and retry. To learn more about our content filtering "
    "policies please read our documentation: https://go.microsoft.com/fwlink/?linkid=2198766"
)
SERVER_ERROR_MESSAGE = "The server had an error while processing your request. Sorry about that!"  # UNSURE
OVERLOADED_MESSAGE = (  # UNSURE
    "The service is temporarily unable to process your request. Please try again later."
)

# Data-plane inference api-versions (GA and preview).
API_VERSIONS = frozenset(
    {
        "2022-12-01", "2023-03-15-preview", "2023-05-15", "2023-06-01-preview",
        "2023-07-01-preview", "2023-08-01-preview", "2023-09-01-preview", "2023-10-01-preview",
        "2023-12-01-preview", "2024-02-01", "2024-02-15-preview", "2024-03-01-preview",
        "2024-04-01-preview", "2024-05-01-preview", "2024-06-01", "2024-07-01-preview",
        "2024-08-01-preview", "2024-09-01-preview", "2024-10-01-preview", "2024-10-21",
        "2024-12-01-preview", "2025-01-01-preview", "2025-02-01-preview", "2025-03-01-preview",
        "2025-04-01-preview",
    }
)
# The /openai/v1/ surface takes no dated version.
_V1_API_VERSIONS = frozenset({"preview", "latest"})
_REASONING_MIN_VERSION = "2024-12-01"
_REASONING_PREFIXES = ("o1", "o3", "o4", "gpt-5")

_HOST_SUFFIXES = (".openai.azure.com", ".cognitiveservices.azure.com")
_RESOURCE_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$")
_DEPLOYMENT_PATH_RE = re.compile(r"^/openai/deployments/([^/]+)/(chat/completions|completions|embeddings)$")
_V1_PATH_RE = re.compile(r"^/openai/v1/(chat/completions|completions|embeddings)$")
_SLASHES_RE = re.compile(r"/{2,}")

# suffix -> (model kind, operation name in errors, operation id in rate-limit texts)
_OPERATIONS = {
    "chat/completions": ("chat", "chatCompletion", "ChatCompletions_Create"),
    "completions": ("completion", "completion", "Completions_Create"),
    "embeddings": ("embedding", "embeddings", "Embeddings_Create"),
}
_SAFE = {"filtered": False, "severity": "safe"}


def _safe_categories() -> dict[str, Any]:
    return {k: dict(_SAFE) for k in ("hate", "self_harm", "sexual", "violence")}


def _prompt_filter(index: int) -> dict[str, Any]:
    results = _safe_categories()
    results["jailbreak"] = {"filtered": False, "detected": False}
    return {"prompt_index": index, "content_filter_results": dict(sorted(results.items()))}


def _choice_filter() -> dict[str, Any]:
    results = _safe_categories()
    results["protected_material_code"] = {"filtered": False, "detected": False}
    results["protected_material_text"] = {"filtered": False, "detected": False}
    return dict(sorted(results.items()))


def to_openai_model(model: str) -> str:
    """Azure spells the GPT-3.5 family ``gpt-35-*``; OpenAI spells it ``gpt-3.5-*``."""
    return model.replace("gpt-35", "gpt-3.5")


def to_azure_model(model: str) -> str:
    return model.replace("gpt-3.5", "gpt-35")


class AzureAPIError(Exception):
    """An error in Azure's ``{"error": {"code", "message"}}`` envelope."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}


class FakeAzureOpenAI:
    """Strict, deterministic stand-in for Azure OpenAI resources.

    deployments: deployment name -> model (Azure or OpenAI spelling, e.g. ``gpt-35-turbo`` or
    ``gpt-4o``).  When omitted, any deployment whose name is itself a known model exists
    (``gpt-4o``, ``text-embedding-ada-002``, ...); when given, only those deployments exist.
    api_keys / bearer_tokens: when given, only these ``api-key`` values / Entra bearer tokens
    are accepted; by default any non-empty one passes but an unresolved ``${credential.*}``
    placeholder.  api_versions replaces the accepted dated api-versions.  chat_models /
    completion_models / embedding_models extend the model catalogue of the inner FakeOpenAI.
    """

    name = "azure_openai"
    hosts: tuple[str, ...] = ("*.openai.azure.com", "*.cognitiveservices.azure.com")

    def __init__(
        self,
        *,
        deployments: Mapping[str, str] | None = None,
        api_keys: Iterable[str] | None = None,
        bearer_tokens: Iterable[str] | None = None,
        api_versions: Iterable[str] | None = None,
        chat_models: Iterable[str] = (),
        completion_models: Iterable[str] = (),
        embedding_models: Mapping[str, int] | None = None,
        region: str = "East US",
        recorder_size: int = 1000,
    ) -> None:
        self.recorder = Recorder(recorder_size)
        self.script = Script()
        self.deployments: dict[str, str] | None = dict(deployments) if deployments is not None else None
        self.api_keys = frozenset(api_keys) if api_keys is not None else None
        self.bearer_tokens = frozenset(bearer_tokens) if bearer_tokens is not None else None
        self.api_versions = frozenset(api_versions) if api_versions is not None else API_VERSIONS
        self.region = region
        # The inner fake only ever sees requests this class built; keep its log tiny.
        self._openai = FakeOpenAI(
            chat_models=chat_models,
            completion_models=completion_models,
            embedding_models=embedding_models,
            recorder_size=1,
        )

    # ------------------------------------------------------------------ entry

    def matches(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        for suffix in _HOST_SUFFIXES:
            if host.endswith(suffix):
                return bool(_RESOURCE_RE.match(host[: -len(suffix)]))
        return False

    async def handle(self, request: ProviderRequest) -> ProviderResponse:
        request, scripted = await received(self, request)
        if scripted is not None:
            return scripted
        try:
            return await self._dispatch(request)
        except AzureAPIError as err:
            return ProviderResponse.json(err.status, err.body(), self._headers(request))

    async def _dispatch(self, request: ProviderRequest) -> ProviderResponse:
        # The front end folds repeated slashes: an endpoint configured with a trailing "/"
        # (``https://${parameters.endpoint}/openai/...``) still reaches the deployment.
        path = _SLASHES_RE.sub("/", request.path)
        query = parse_qs(request.query, keep_blank_values=True)
        api_version = (query.get("api-version") or [None])[0]
        m = _DEPLOYMENT_PATH_RE.match(path)
        v1 = _V1_PATH_RE.match(path)
        if (m is None and v1 is None) or request.method != "POST":
            raise AzureAPIError(404, "404", RESOURCE_NOT_FOUND_MESSAGE)
        # UNSURE: the order of the api-version and auth checks (api-version is part of
        # Azure's routing, so it is checked first here).
        if m is not None:
            if api_version is None:
                raise AzureAPIError(404, "404", RESOURCE_NOT_FOUND_MESSAGE)
            if api_version not in self.api_versions:
                raise AzureAPIError(400, "BadRequest", API_VERSION_NOT_SUPPORTED_MESSAGE)
            deployment: str | None = m.group(1)
            suffix = m.group(2)
        else:
            assert v1 is not None
            if api_version is not None and api_version not in _V1_API_VERSIONS:
                raise AzureAPIError(400, "BadRequest", API_VERSION_NOT_SUPPORTED_MESSAGE)
            deployment = None
            suffix = v1.group(1)
        self._authenticate(request)

        raw_body = request.body
        try:
            body = json.loads(raw_body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            body = None
        if not isinstance(body, dict):
            # Let the inner fake answer the parse error in the OpenAI envelope.
            return await self._forward(request, suffix, raw_body, None, api_version)
        if deployment is None:
            # /openai/v1/ names the deployment in the body's "model".
            deployment = body.get("model") if isinstance(body.get("model"), str) else ""
        model = self._resolve(deployment)
        kind, operation, _ = _OPERATIONS[suffix]
        openai_model = to_openai_model(model)
        if self._openai._model_kind(openai_model) != kind:
            raise AzureAPIError(
                400, "OperationNotSupported", OPERATION_NOT_SUPPORTED_MESSAGE.format(operation=operation, model=model)
            )
        if (
            m is not None
            and openai_model.startswith(_REASONING_PREFIXES)
            and api_version is not None
            and api_version[:10] < _REASONING_MIN_VERSION
        ):
            raise AzureAPIError(400, "BadRequest", MODEL_API_VERSION_MESSAGE)
        body = dict(body)
        body["model"] = openai_model  # the deployment decides; a body "model" is ignored
        if kind == "embedding" and isinstance(body.get("input_type"), str):
            # Azure's embeddings schema adds ``input_type`` (a free-form string) to OpenAI's;
            # any other type stays in and is refused like an unknown argument.
            del body["input_type"]
        return await self._forward(request, suffix, json.dumps(body).encode("utf-8"), body, api_version)

    def _authenticate(self, request: ProviderRequest) -> None:
        key = request.headers.get("api-key")
        if key is not None:
            key = key.strip()
            if not key or rejects_key(key, self.api_keys):
                raise AzureAPIError(401, "401", INVALID_KEY_MESSAGE)
            return
        auth = request.headers.get("Authorization", "").strip()
        scheme, _, token = auth.partition(" ")
        if scheme.lower() == "bearer":
            token = token.strip()
            if not token or rejects_key(token, self.bearer_tokens):
                raise AzureAPIError(401, "401", INVALID_TOKEN_MESSAGE)
            return
        raise AzureAPIError(401, "401", INVALID_KEY_MESSAGE)

    def _resolve(self, deployment: str) -> str:
        if self.deployments is not None:
            model = self.deployments.get(deployment)
        else:
            model = deployment if self._openai._model_kind(to_openai_model(deployment)) else None
        if not model:
            raise AzureAPIError(404, "DeploymentNotFound", DEPLOYMENT_NOT_FOUND_MESSAGE)
        return model

    # ------------------------------------------------------------ forwarding

    async def _forward(
        self, request: ProviderRequest, suffix: str, raw: bytes, body: dict[str, Any] | None, api_version: str | None
    ) -> ProviderResponse:
        inner = ProviderRequest(
            "POST",
            f"https://api.openai.com/v1/{suffix}",
            {"Authorization": "Bearer azure-deployment", "Content-Type": "application/json"},
            raw,
        )
        resp = await self._openai.handle(inner)
        headers = self._headers(request, resp.headers.get("Content-Type", "application/json"))
        if resp.status != 200:
            # OpenAI-schema validation errors: Azure passes OpenAI's envelope through.
            return ProviderResponse(resp.status, headers, resp.body)
        kind = _OPERATIONS[suffix][0]
        prompts = self._prompt_count(body, kind)
        if headers["Content-Type"].startswith("text/event-stream"):
            return ProviderResponse(200, headers, self._annotate_stream(resp.body, kind, prompts))
        payload = self._annotate(resp.json_body(), kind, prompts)
        body_bytes = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode("utf-8")
        return ProviderResponse(200, headers, body_bytes)

    @staticmethod
    def _prompt_count(body: Mapping[str, Any] | None, kind: str) -> int:
        if kind == "completion" and body is not None:
            prompt = body.get("prompt")
            if isinstance(prompt, list) and prompt and all(isinstance(p, (str, list)) for p in prompt):
                return len(prompt)
        return 1

    @staticmethod
    def _annotate(payload: dict[str, Any], kind: str, prompts: int) -> dict[str, Any]:
        payload.pop("service_tier", None)
        if isinstance(payload.get("model"), str):
            payload["model"] = to_azure_model(payload["model"])
        if kind == "embedding":
            return payload
        payload["prompt_filter_results"] = [_prompt_filter(i) for i in range(prompts)]
        for choice in payload.get("choices", []):
            choice["content_filter_results"] = _choice_filter()
        return payload

    @staticmethod
    def _annotate_stream(data: bytes, kind: str, prompts: int) -> bytes:
        out = [
            # Azure opens a stream with an empty-choices chunk carrying the prompt annotations.
            {"choices": [], "created": 0, "id": "", "model": "", "object": "",
             "prompt_filter_results": [_prompt_filter(i) for i in range(prompts)]}
        ]
        done = False
        for line in data.decode("utf-8").split("\n\n"):
            if not line.startswith("data: "):
                continue
            chunk = line[len("data: "):]
            if chunk == "[DONE]":
                done = True
                continue
            obj = json.loads(chunk)
            obj.pop("service_tier", None)
            if isinstance(obj.get("model"), str):
                obj["model"] = to_azure_model(obj["model"])
            for choice in obj.get("choices", []):
                delta = choice.get("delta") or {}
                has_text = bool(delta.get("content")) or bool(choice.get("text"))
                choice["content_filter_results"] = _choice_filter() if has_text else {}
            out.append(obj)
        parts = [b"data: " + json.dumps(o, ensure_ascii=False, sort_keys=True).encode("utf-8") + b"\n\n" for o in out]
        if done:
            parts.append(b"data: [DONE]\n\n")
        return b"".join(parts)

    def _headers(self, request: ProviderRequest, content_type: str = "application/json") -> dict[str, str]:
        h = hashlib.sha256(f"{request.method} {request.url}\n".encode() + request.body).hexdigest()
        request_id = f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"
        return {
            "Content-Type": content_type,
            "apim-request-id": request_id,
            "x-request-id": request_id,
            "x-ms-region": self.region,
            "x-ratelimit-remaining-requests": "99",
            "x-ratelimit-remaining-tokens": "99000",
        }

    # ------------------------------------------------------- canned replies for Script

    @staticmethod
    def error_response(
        status: int, code: str, message: str, *, headers: Mapping[str, str] | None = None
    ) -> ProviderResponse:
        """Any error in Azure's ``{"error": {"code", "message"}}`` envelope."""
        return ProviderResponse.json(status, AzureAPIError(status, code, message).body(), dict(headers or {}))

    @classmethod
    def rate_limit_response(
        cls, *, retry_after: int = 6, operation: str = "ChatCompletions_Create", api_version: str = "2024-02-01"
    ) -> ProviderResponse:
        """429 as sent when a deployment's TPM/RPM quota is exhausted, with Retry-After."""
        message = RATE_LIMIT_MESSAGE.format(operation=operation, api_version=api_version, retry=retry_after)
        return cls.error_response(
            429, "429", message,
            headers={"Retry-After": str(retry_after), "retry-after-ms": str(retry_after * 1000),
                     "x-ratelimit-remaining-requests": "0"},
        )

    @staticmethod
    def content_filter_response(category: str = "violence", severity: str = "medium") -> ProviderResponse:
        """400 content_filter: the prompt tripped Azure's content management policy."""
        results: dict[str, Any] = _safe_categories()
        results["jailbreak"] = {"filtered": False, "detected": False}
        results[category] = {"filtered": True, "severity": severity}
        body = {
            "error": {
                "message": CONTENT_FILTER_MESSAGE,
                "type": None,
                "param": "prompt",
                "code": "content_filter",
                "status": 400,
                "innererror": {
                    "code": "ResponsibleAIPolicyViolation",
                    "content_filter_result": dict(sorted(results.items())),
                },
            }
        }
        return ProviderResponse.json(400, body)

    @classmethod
    def server_error_response(cls) -> ProviderResponse:
        return cls.error_response(500, "InternalServerError", SERVER_ERROR_MESSAGE)

    @classmethod
    def overloaded_response(cls, *, retry_after: int = 1) -> ProviderResponse:
        return cls.error_response(
            503, "ServiceUnavailable", OVERLOADED_MESSAGE, headers={"Retry-After": str(retry_after)}
        )

    fault = staticmethod(fault)

    delayed = staticmethod(delayed)
