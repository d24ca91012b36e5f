"""Deterministic in-process fake of Amazon SageMaker Runtime (InvokeEndpoint).

``POST https://runtime.sagemaker.<region>.amazonaws.com/endpoints/{EndpointName}/invocations``,
SigV4-signed for service ``sagemaker``.  Endpoints must exist: they are
registered on the fake (or, with ``accept_any_endpoint=True``, created on first
use); an unknown name is SageMaker's 400 ``ValidationError`` ``Endpoint <name> of
account <account> not found.``

A registered endpoint answers either like a text-embedding container (the
default; see ``_embedding_handler`` for the accepted request/response shapes)
or through a custom handler.  Whatever the container answers with a non-2xx
status becomes SageMaker's 424 ``ModelError`` envelope, as in the real service.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import re
import struct
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from multidict import CIMultiDict

from .aws import (
    AWS_REGIONS,
    CORAL_AVAILABILITY_NAMESPACE,
    AwsError,
    Clock,
    Credentials,
    SigV4Verifier,
    aws_json,
    delayed,
    deterministic_uuid,
    parse_aws_host,
    request_id_for,
)
from .base import ProviderRequest, ProviderResponse, Recorder, Script, ScriptCallable

__all__ = ["FakeSageMakerRuntime", "Invocation", "SageMakerModelError"]

SAGEMAKER_NAMESPACE = "http://internal.amazon.com/coral/com.amazon.sagemaker.runtime/"
ENDPOINT_NOT_FOUND_MESSAGE = "Endpoint {name} of account {account} not found."
SERVICE_UNAVAILABLE_MESSAGE = "Service is unavailable. Try your call again."
INTERNAL_FAILURE_MESSAGE = "An internal error occurred. Try your call again."
MODEL_NOT_READY_MESSAGE = "Model is not ready to serve inference requests. Try your call again."
_ENDPOINT_NAME_PATTERN = "^[a-zA-Z0-9](-*[a-zA-Z0-9])*"
_ENDPOINT_NAME_RE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$")
_PATH_RE = re.compile(r"^/endpoints/(?P<name>[^/]+)/(?P<op>invocations|async-invocations|invocations-response-stream)$")
_MAX_PAYLOAD = 6 * 1024 * 1024
_VARIANT = "AllTraffic"
_DEFAULT_REGION = "us-east-1"


class SageMakerModelError(Exception):
    """Raise from an endpoint handler: the container answered `status` with `message` (-> 424 ModelError)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Invocation:
    """What an endpoint handler receives: the call as the model container sees it."""

    endpoint: str
    region: str | None
    body: bytes
    content_type: str | None
    accept: str | None
    request: ProviderRequest

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


# handler(invocation) -> ProviderResponse | bytes | str | JSON-able (or an awaitable of one)
EndpointHandler = Callable[[Invocation], Any | Awaitable[Any]]


@dataclass(frozen=True)
class _Endpoint:
    name: str
    handler: EndpointHandler | None  # None = built-in embedding model
    dimension: int
    region: str | None  # None = exists in every region


def _sagemaker_error(status: int, code: str, message: str | None, **extra: Any) -> AwsError:
    body: dict[str, Any] = dict(extra)
    body["Message"] = message
    return AwsError(status, code, message, namespace=SAGEMAKER_NAMESPACE, body=dict(sorted(body.items())))


def _validation_error(message: str) -> AwsError:
    return _sagemaker_error(400, "ValidationError", message)


def _unit_vector(endpoint: str, text: str, dims: int) -> list[float]:
    raw = hashlib.shake_256(
        b"sagemaker-embedding\0" + endpoint.encode() + b"\0" + text.encode("utf-8")
    ).digest(4 * dims)
    vals = [(u / 4294967295.0) * 2.0 - 1.0 for u in struct.unpack(f"<{dims}I", raw)]
    norm = math.sqrt(sum(v * v for v in vals)) or 1.0
    return [round(v / norm, 8) for v in vals]


def _container_error(message: str, status: int = 400) -> SageMakerModelError:
    # Shaped like the JSON error a Hugging Face / MMS serving container returns.
    return SageMakerModelError(
        status, json.dumps({"code": status, "type": "BadRequest", "message": message}, separators=(",", ":"))
    )


class FakeSageMakerRuntime:
    """Strict, deterministic stand-in for runtime.sagemaker.<region>.amazonaws.com.

    endpoints: names to create up front: an iterable of names (default embedding
    endpoints), or a mapping name -> dimension (int) | handler | None.
    credentials / clock: see aws.SigV4Verifier.
    account_id: appears in "Endpoint ... of account ... not found." and ModelError texts.
    default_dimension: vector size of built-in embedding endpoints (384).
    accept_any_endpoint: unknown names become default embedding endpoints instead of 400.
    """

    name = "sagemaker"
    service = "sagemaker"
    hosts: tuple[str, ...] = tuple(f"runtime.sagemaker.{r}.amazonaws.com" for r in AWS_REGIONS)

    def __init__(
        self,
        endpoints: Mapping[str, int | EndpointHandler | None] | Iterable[str] | None = None,
        *,
        credentials: Credentials | None = None,
        clock: Clock | None = None,
        account_id: str = "123456789012",
        default_dimension: int = 384,
        accept_any_endpoint: bool = False,
        regions: Iterable[str] = (),
        recorder_size: int = 1000,
    ) -> None:
        if default_dimension < 1:
            raise ValueError("default_dimension must be >= 1")
        self.recorder = Recorder(recorder_size)
        self.script = Script()
        self.verifier = SigV4Verifier(self.service, credentials=credentials, clock=clock)
        self.account_id = account_id
        self.default_dimension = default_dimension
        self.accept_any_endpoint = accept_any_endpoint
        extra = tuple(r for r in regions if r not in AWS_REGIONS)
        self.regions = frozenset(AWS_REGIONS) | frozenset(extra)
        if extra:
            self.hosts = type(self).hosts + tuple(f"runtime.sagemaker.{r}.amazonaws.com" for r in extra)
        self._endpoints: dict[tuple[str, str | None], _Endpoint] = {}
        if endpoints is not None:
            if isinstance(endpoints, Mapping):
                for ep_name, spec in endpoints.items():
                    if spec is None or isinstance(spec, int):
                        self.register_endpoint(ep_name, dimension=spec)
                    else:
                        self.register_endpoint(ep_name, spec)
            else:
                for ep_name in endpoints:
                    self.register_endpoint(ep_name)

    # ------------------------------------------------------------ endpoints

    def register_endpoint(
        self,
        name: str,
        handler: EndpointHandler | None = None,
        *,
        dimension: int | None = None,
        region: str | None = None,
    ) -> None:
        """Create endpoint `name` (in `region`, or every region).

        Without a handler it is a text-embedding endpoint of `dimension` (default
        default_dimension).  handler(Invocation) may return a ProviderResponse
        (non-2xx -> ModelError), bytes/str (200, the Accept type or JSON), or any
        JSON-able value (200 JSON); raising SageMakerModelError -> ModelError.
        """
        if not _ENDPOINT_NAME_RE.match(name) or len(name) > 63:
            raise ValueError(f"invalid SageMaker endpoint name: {name!r}")
        dims = self.default_dimension if dimension is None else dimension
        if dims < 1:
            raise ValueError("dimension must be >= 1")
        self._endpoints[(name, region)] = _Endpoint(name, handler, dims, region)

    def remove_endpoint(self, name: str, *, region: str | None = None) -> None:
        self._endpoints.pop((name, region), None)

    @property
    def endpoint_names(self) -> tuple[str, ...]:
        return tuple(sorted({name for name, _ in self._endpoints}))

    def _find(self, name: str, region: str | None) -> _Endpoint | None:
        found = self._endpoints.get((name, region)) or self._endpoints.get((name, None))
        if found is None and region is None:
            found = next((ep for (n, _), ep in self._endpoints.items() if n == name), None)
        if found is None and self.accept_any_endpoint:
            found = _Endpoint(name, None, self.default_dimension, None)
        return found

    # -------------------------------------------------------------- routing

    def matches(self, host: str) -> bool:
        parsed = parse_aws_host(host)
        return parsed is not None and parsed[0] == "runtime.sagemaker" and parsed[1] in self.regions

    async def handle(self, request: ProviderRequest) -> ProviderResponse:
        request = ProviderRequest.coerce(request)
        self.recorder.record(request)
        scripted = await self.script.reply(request)
        if scripted is not None:
            return scripted
        request_id = request_id_for(request)
        try:
            return await self._dispatch(request, request_id)
        except AwsError as err:
            return err.response(request_id)

    async def _dispatch(self, request: ProviderRequest, request_id: str) -> ProviderResponse:
        parsed = parse_aws_host(request.host)
        region = parsed[1] if parsed is not None else None
        self.verifier.verify(request, region=region)
        m = _PATH_RE.match(request.path)
        if m is None or request.method != "POST":
            raise AwsError(404, "UnknownOperationException", None)
        if m.group("op") != "invocations":
            raise _validation_error("The fake SageMaker runtime implements only InvokeEndpoint.")
        name = unquote(m.group("name"))
        if len(name) > 63:
            raise _validation_error(
                f"1 validation error detected: Value '{name}' at 'endpointName' failed to satisfy "
                "constraint: Member must have length less than or equal to 63"
            )
        if not _ENDPOINT_NAME_RE.match(name):
            raise _validation_error(
                f"1 validation error detected: Value '{name}' at 'endpointName' failed to satisfy "
                f"constraint: Member must satisfy regular expression pattern: {_ENDPOINT_NAME_PATTERN}"
            )
        if len(request.body) > _MAX_PAYLOAD:
            raise _validation_error(
                f"1 validation error detected: Value at 'body' failed to satisfy constraint: Member "
                f"must have length less than or equal to {_MAX_PAYLOAD}"
            )
        endpoint = self._find(name, region)
        if endpoint is None:
            raise _validation_error(ENDPOINT_NOT_FOUND_MESSAGE.format(name=name, account=self.account_id))

        invocation = Invocation(
            endpoint=name,
            region=region,
            body=request.body,
            content_type=request.headers.get("Content-Type"),
            accept=request.headers.get("Accept"),
            request=request,
        )
        try:
            if endpoint.handler is None:
                result: Any = self._embedding_handler(invocation, endpoint.dimension)
            else:
                result = endpoint.handler(invocation)
                if inspect.isawaitable(result):
                    result = await result
        except SageMakerModelError as exc:
            raise self._model_error(name, region, exc.status, exc.message) from None
        return self._to_response(result, invocation, request_id)

    def _to_response(self, result: Any, invocation: Invocation, request_id: str) -> ProviderResponse:
        base = {"x-amzn-RequestId": request_id, "x-Amzn-Invoked-Production-Variant": _VARIANT}
        if isinstance(result, ProviderResponse):
            if not 200 <= result.status < 300:
                raise self._model_error(invocation.endpoint, invocation.region, result.status,
                                        result.body.decode("utf-8", "replace"))
            hdrs: CIMultiDict[str] = CIMultiDict(result.headers)
            for k, v in base.items():
                hdrs.setdefault(k, v)
            hdrs.setdefault("Content-Type", "application/json")
            return ProviderResponse(result.status, hdrs, result.body)
        accept = invocation.accept if invocation.accept and invocation.accept != "*/*" else None
        if isinstance(result, (bytes, bytearray, str)):
            body = result.encode("utf-8") if isinstance(result, str) else bytes(result)
            return ProviderResponse(200, dict(base, **{"Content-Type": accept or "application/json"}), body)
        return ProviderResponse(200, dict(base, **{"Content-Type": "application/json"}), aws_json(result))

    def _model_error(self, endpoint: str, region: str | None, status: int, original: str) -> AwsError:
        return self.model_error(endpoint, status, original, region=region or _DEFAULT_REGION,
                                account_id=self.account_id)

    # ------------------------------------------------ built-in embedding model

    @staticmethod
    def _embedding_handler(invocation: Invocation, dimension: int) -> Any:
        """The default endpoint: a sentence-embedding container.

        Accepted bodies (Content-Type absent or JSON) and answers:
          ["a", "b"]                          -> [[...], [...]]          (DJL / custom containers)
          {"inputs": "a" | ["a", "b"]}        -> [[...], ...]            (HF TEI / feature-extraction)
          {"text_inputs": "a" | ["a", ...]}   -> {"embedding": [[...], ...]}  (JumpStart text embedding)
        Anything else is a 400 from the container, i.e. a 424 ModelError.
        """
        ctype = (invocation.content_type or "application/json").split(";")[0].strip().lower()
        if "json" not in ctype:
            raise SageMakerModelError(
                415,
                json.dumps({"code": 415, "type": "UnsupportedMediaType",
                            "message": f"Content type {ctype} is not supported by this endpoint"},
                           separators=(",", ":")),
            )
        try:
            payload = invocation.json()
        except (UnicodeDecodeError, ValueError) as exc:
            raise _container_error(f"Invalid JSON input: {exc}") from None

        def texts_of(value: Any, field: str) -> list[str]:
            if isinstance(value, str):
                return [value]
            if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
                return value
            raise _container_error(f"'{field}' must be a string or a non-empty list of strings")

        def embed(texts: list[str]) -> list[list[float]]:
            return [_unit_vector(invocation.endpoint, t, dimension) for t in texts]

        if isinstance(payload, list):
            return embed(texts_of(payload, "body"))
        if isinstance(payload, dict):
            if "inputs" in payload:
                return embed(texts_of(payload["inputs"], "inputs"))
            if "text_inputs" in payload:
                return {"embedding": embed(texts_of(payload["text_inputs"], "text_inputs"))}
            raise _container_error("Request body must be a list of strings or contain 'inputs' or 'text_inputs'")
        raise _container_error("Request body must be a list of strings or contain 'inputs' or 'text_inputs'")

    # ----------------------------------------------- canned replies for Script

    @staticmethod
    def model_error(
        endpoint: str,
        original_status: int = 500,
        original_message: str = "",
        *,
        region: str = _DEFAULT_REGION,
        account_id: str = "123456789012",
    ) -> AwsError:
        """SageMaker's 424 ModelError for a container that answered original_status."""
        kind = "client" if 400 <= original_status < 500 else "server"
        group = f"/aws/sagemaker/Endpoints/{endpoint}"
        message = (
            f'Received {kind} error ({original_status}) from primary with message "{original_message}". '
            f"See https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
            f"#logEventViewer:group={group} in account {account_id} for more information."
        )
        return _sagemaker_error(
            424, "ModelError", message,
            ErrorCode="CLIENT_ERROR_FROM_MODEL" if kind == "client" else "SERVER_ERROR_FROM_MODEL",
            LogStreamArn=f"arn:aws:logs:{region}:{account_id}:log-group:{group}",
            OriginalMessage=original_message,
            OriginalStatusCode=original_status,
        )

    @classmethod
    def model_error_response(
        cls,
        endpoint: str,
        original_status: int = 500,
        original_message: str = "",
        *,
        region: str = _DEFAULT_REGION,
        account_id: str = "123456789012",
    ) -> ProviderResponse:
        err = cls.model_error(endpoint, original_status, original_message, region=region, account_id=account_id)
        return err.response(deterministic_uuid("sagemaker-error", endpoint, original_status, original_message))

    @staticmethod
    def error_response(status: int, code: str, message: str | None, *,
                       headers: Mapping[str, str] | None = None) -> ProviderResponse:
        """Any SageMaker-modelled error ({"Message": ...}), for script.enqueue()."""
        err = _sagemaker_error(status, code, message)
        err.headers.update(headers or {})
        return err.response(deterministic_uuid("sagemaker-error", status, code, message))

    @staticmethod
    def throttling_response() -> ProviderResponse:
        """What SageMaker sends past an endpoint's concurrency limit: 400, ThrottlingException, {"message":null}."""
        err = AwsError(400, "ThrottlingException", None, namespace=CORAL_AVAILABILITY_NAMESPACE)
        return err.response(deterministic_uuid("sagemaker-throttle"))

    @classmethod
    def validation_error_response(cls, message: str) -> ProviderResponse:
        return cls.error_response(400, "ValidationError", message)

    @classmethod
    def endpoint_not_found_response(cls, endpoint: str, account_id: str = "123456789012") -> ProviderResponse:
        return cls.validation_error_response(ENDPOINT_NOT_FOUND_MESSAGE.format(name=endpoint, account=account_id))

    @classmethod
    def service_unavailable_response(cls) -> ProviderResponse:
        return cls.error_response(503, "ServiceUnavailable", SERVICE_UNAVAILABLE_MESSAGE)

    @classmethod
    def internal_failure_response(cls) -> ProviderResponse:
        return cls.error_response(500, "InternalFailure", INTERNAL_FAILURE_MESSAGE)

    @classmethod
    def model_not_ready_response(cls) -> ProviderResponse:
        return cls.error_response(429, "ModelNotReadyException", MODEL_NOT_READY_MESSAGE)

    @staticmethod
    def delay(seconds: float, response: ProviderResponse | None = None) -> ScriptCallable:
        """Script item: sleep, then answer `response` or fall through to normal handling."""
        return delayed(seconds, response)
