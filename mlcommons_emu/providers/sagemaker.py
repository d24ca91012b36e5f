"""Deterministic in-process fake of Amazon SageMaker Runtime (InvokeEndpoint) and batch transform.

``POST https://runtime.sagemaker.<region>.amazonaws.com/endpoints/{EndpointName}/invocations``,
SigV4-signed for service ``sagemaker``.  Endpoints must exist: they are
registered on the fake (or, with ``accept_any_endpoint=True``, created on first
use); an unknown name is SageMaker's 400 ``ValidationError`` ``Endpoint <name> of
account <account> not found.``

A registered endpoint answers either like the containers ML Commons' SageMaker
blueprints deploy (the default: a text-embedding model, a ColPali visual
document retrieval model or the OpenSearch semantic highlighter, chosen by the
request's shape; see ``_default_handler``) or through a custom handler.
Whatever the container answers with a non-2xx status becomes SageMaker's 424
``ModelError`` envelope, as in the real service.

``https://api.sagemaker.<region>.amazonaws.com`` serves the batch transform jobs ML Commons'
batch_predict drives: CreateTransformJob, DescribeTransformJob and StopTransformJob, named by
``X-Amz-Target: SageMaker.<Operation>`` or by the path ``/<Operation>`` (what the blueprint's
URL and the plugin's derived status/cancel actions call).  A job answers ``InProgress`` to its
first describe and ``Completed`` afterwards (``Stopping`` then ``Stopped`` once stopped).
"""

from __future__ import annotations

import base64
import binascii
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
    deterministic_uuid,
    parse_aws_host,
    request_id_for,
)
from .base import ProviderRequest, ProviderResponse, Recorder, Script, ScriptCallable, delayed, received

__all__ = ["FakeSageMakerRuntime", "Invocation", "SageMakerModelError"]

SAGEMAKER_NAMESPACE = "http://internal.amazon.com/coral/com.amazon.sagemaker.runtime/"
SAGEMAKER_API_NAMESPACE = "http://internal.amazon.com/coral/com.amazon.sagemaker/"  # UNSURE
ENDPOINT_NOT_FOUND_MESSAGE = "Endpoint {name} of account {account} not found."
SERVICE_UNAVAILABLE_MESSAGE = "Service is unavailable. Try your call again."
INTERNAL_FAILURE_MESSAGE = "An internal error occurred. Try your call again."
MODEL_NOT_READY_MESSAGE = "Model is not ready to serve inference requests. Try your call again."
_ENDPOINT_NAME_PATTERN = "^[a-zA-Z0-9](-*[a-zA-Z0-9])*"
_ENDPOINT_NAME_RE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$")
_PATH_RE = re.compile(r"^/endpoints/(?P<name>[^/]+)/(?P<op>invocations|async-invocations|invocations-response-stream)$")
_MAX_PAYLOAD = 6 * 1024 * 1024
_HOST_PREFIXES = ("runtime.sagemaker", "api.sagemaker")
_API_OPERATIONS = ("CreateTransformJob", "DescribeTransformJob", "StopTransformJob")
_TRANSFORM_REQUIRED = ("TransformJobName", "ModelName", "TransformInput", "TransformOutput", "TransformResources")
# UNSURE: the service API's texts for a duplicate / unknown job (the runtime's are verbatim)
JOB_EXISTS_MESSAGE = (
    "Transform job names must be unique within an AWS account and region, and a transform job with this name "
    "already exists ({arn})"
)
JOB_NOT_FOUND_MESSAGE = "Could not find requested job with name {name}"
_JOB_EPOCH = 1_722_037_257
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


def _api_validation(message: str) -> AwsError:
    # The service API (api.sagemaker, AWS JSON 1.1) names it ValidationException, unlike the runtime.
    return AwsError(400, "ValidationException", message, namespace=SAGEMAKER_API_NAMESPACE,
                    body={"__type": "ValidationException", "message": message})


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


# -- ColPali (vidore/colpali, HF task visual-document-retrieval): 128-d multi-vectors, images
# resized to 448x448 and cut into 14-pixel patches (a 32x32 grid)
_COLPALI_DIM = 128
_COLPALI_PATCH = 14
_COLPALI_GRID = 32
_QUERY_TOKEN_RE = re.compile(r"\s*(\w+|[^\w\s])")


def _image_size(data: str) -> list[int]:
    """(width, height) of a base64 PNG or JPEG, as PIL reads it; anything else is a 400."""
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise _container_error("Incorrect padding: images must be base64-encoded strings") from None
    if raw.startswith(b"\x89PNG\r\n\x1a\n") and len(raw) >= 24:
        return list(struct.unpack(">II", raw[16:24]))
    if raw.startswith(b"\xff\xd8"):
        i = 2
        while i + 9 < len(raw) and raw[i] == 0xFF:
            marker, length = raw[i + 1], struct.unpack(">H", raw[i + 2:i + 4])[0]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height, width = struct.unpack(">HH", raw[i + 5:i + 9])
                return [width, height]
            i += 2 + length
    raise _container_error("cannot identify image file <_io.BytesIO object>")


def _colpali(endpoint: str, inputs: dict[str, Any]) -> dict[str, Any]:
    queries, images = inputs.get("queries"), inputs.get("images")
    for field, value in (("queries", queries), ("images", images)):
        if value is not None and not (isinstance(value, list) and value and all(isinstance(v, str) for v in value)):
            raise _container_error(f"'{field}' must be a non-empty list of strings")
    if queries is None and images is None:
        raise _container_error("'inputs' must contain 'queries' and/or 'images'")
    out: dict[str, Any] = {}
    if queries is not None:
        tokens = []
        for query in queries:
            # sentencepiece marks a word that follows a space ("Query: hello" -> "\u2581hello")
            words = [("\u2581" if m.group(0)[0].isspace() else "") + m.group(1)
                     for m in _QUERY_TOKEN_RE.finditer(" " + query)]
            tokens.append({"raw": f"<bos>Query: {query}", "tokens": ["<bos>", "Query", ":"] + words})
        out["query_embeddings"] = [
            [_unit_vector(endpoint, f"query:{query}:{position}:{token}", _COLPALI_DIM)
             for position, token in enumerate(t["tokens"])]
            for query, t in zip(queries, tokens)]
        out["query_tokens"] = tokens
    if images is not None:
        sizes = [_image_size(image) for image in images]
        patches = _COLPALI_GRID * _COLPALI_GRID
        out["image_embeddings"] = [
            [_unit_vector(endpoint, f"image:{hashlib.sha256(image.encode()).hexdigest()}:{p}", _COLPALI_DIM)
             for p in range(patches)]
            for image in images]
        out["image_mask"] = [[1.0] * patches for _ in images]
        out["patch_shape"] = {"height": _COLPALI_GRID, "width": _COLPALI_GRID, "total": patches,
                              "image_size": sizes[0], "patch_size": _COLPALI_PATCH}
    if queries is not None and images is not None:
        # late-interaction (MaxSim) scores are sums over query tokens: a few units each
        out["scores"] = [[round(len(t["tokens"]) * (1.0 + _fraction(endpoint, "score", q, i)), 6)
                          for i in images] for q, t in zip(queries, out["query_tokens"])]
    return out


# -- the OpenSearch semantic highlighter (opensearch-py-ml semantic_highlighting/inference.py)
_SENTENCE_RE = re.compile(r"[^.!?]*[.!?]+|[^.!?]+$")
_WORD_RE = re.compile(r"\w+")
_STOP_WORDS = frozenset("a an and are as at be by for from how in is it of on or the to what when where which "
                        "who why with".split())
HIGHLIGHT_INPUT_MESSAGE = (  # the container's ValueError text
    "Invalid input format. Expected one of:\n"
    "1. {'inputs': [{'question': '...', 'context': '...'}, ...]}\n"
    "2. {'question': '...', 'context': '...'}"
)


def _spans(question: str, context: str) -> list[dict[str, int]]:
    """The sentences of ``context`` sharing the most content words with ``question``."""
    wanted = {w for w in _WORD_RE.findall(question.lower()) if w not in _STOP_WORDS}
    scored = []
    for m in _SENTENCE_RE.finditer(context):
        text = m.group(0)
        start = m.start() + len(text) - len(text.lstrip())
        end = m.start() + len(text.rstrip())
        if end > start:
            scored.append((len(wanted & set(_WORD_RE.findall(text.lower()))), start, end))
    best = max((score for score, _, _ in scored), default=0)
    return [{"start": start, "end": end} for score, start, end in scored if best and score == best]


def _highlight(endpoint: str, payload: dict[str, Any]) -> dict[str, Any]:
    inputs = payload.get("inputs")
    if inputs:
        if not isinstance(inputs, list) or not all(
                isinstance(i, dict) and isinstance(i.get("question"), str) and isinstance(i.get("context"), str)
                for i in inputs):
            raise _container_error("'inputs' must be a list of objects with string 'question' and 'context'")
        highlights: Any = [_spans(i["question"], i["context"]) for i in inputs]
    elif (isinstance(payload.get("question"), str) and payload["question"]
          and isinstance(payload.get("context"), str) and payload["context"] and "contexts" not in payload):
        highlights = _spans(payload["question"], payload["context"])
    else:
        raise _container_error(HIGHLIGHT_INPUT_MESSAGE)
    millis = round(5.0 + 45.0 * _fraction(endpoint, "highlight", json.dumps(payload, sort_keys=True)), 3)
    return {"highlights": highlights, "processing_time_ms": millis, "device": "cpu"}


def _fraction(*parts: Any) -> float:
    """A number in [0, 1) fixed by the parts."""
    digest = hashlib.sha256("\0".join(str(p) for p in parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


@dataclass
class _TransformJob:
    request: dict[str, Any]  # the CreateTransformJob body
    arn: str
    created: float
    status: str = "InProgress"
    described: bool = False


class FakeSageMakerRuntime:
    """Strict, deterministic stand-in for runtime.sagemaker.<region>.amazonaws.com (and the
    transform jobs of api.sagemaker.<region>.amazonaws.com).

    endpoints: names to create up front: an iterable of names (default embedding
    endpoints), or a mapping name -> dimension (int) | handler | None.
    credentials / clock: see aws.SigV4Verifier.
    account_id: appears in "Endpoint ... of account ... not found." and ModelError texts.
    default_dimension: vector size of built-in embedding endpoints (384).
    accept_any_endpoint: unknown names become default embedding endpoints instead of 400.
    """

    name = "sagemaker"
    service = "sagemaker"
    hosts: tuple[str, ...] = tuple(f"{p}.{r}.amazonaws.com" for r in AWS_REGIONS for p in _HOST_PREFIXES)

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
            self.hosts = type(self).hosts + tuple(f"{p}.{r}.amazonaws.com" for r in extra for p in _HOST_PREFIXES)
        self._endpoints: dict[tuple[str, str | None], _Endpoint] = {}
        self._jobs: dict[tuple[str | None, str], _TransformJob] = {}  # (region, lower-case name) -> job
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
        return parsed is not None and parsed[0] in _HOST_PREFIXES and parsed[1] in self.regions

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
        region = parsed[1] if parsed is not None else None
        self.verifier.verify(request, region=region)
        target = request.headers.get("X-Amz-Target", "")
        operation = target[len("SageMaker."):] if target.startswith("SageMaker.") else request.path.strip("/")
        if (parsed is None or parsed[0] == "api.sagemaker") and operation in _API_OPERATIONS:
            return self._transform_job(operation, request, request_id, region)
        if parsed is not None and parsed[0] == "api.sagemaker":
            raise AwsError(400, "UnknownOperationException", None)
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
                result: Any = self._default_handler(invocation, endpoint.dimension)
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

    # ------------------------------------------------------ batch transform jobs

    def _transform_job(self, operation: str, request: ProviderRequest, request_id: str,
                       region: str | None) -> ProviderResponse:
        try:
            body = json.loads(request.body.decode("utf-8")) if request.body else {}
        except (UnicodeDecodeError, ValueError):
            body = None
        if not isinstance(body, dict):
            raise AwsError(400, "SerializationException", None)
        required = _TRANSFORM_REQUIRED if operation == "CreateTransformJob" else _TRANSFORM_REQUIRED[:1]
        problems = [f"Value null at '{f[0].lower() + f[1:]}' failed to satisfy constraint: Member must not be null"
                    for f in required if body.get(f) is None]
        name = body.get("TransformJobName")
        if name is not None and not isinstance(name, str):
            raise AwsError(400, "SerializationException", None)
        if name is not None and not (_ENDPOINT_NAME_RE.match(name) and len(name) <= 63):
            problems.append(f"Value '{name}' at 'transformJobName' failed to satisfy constraint: Member must "
                            f"satisfy regular expression pattern: {_ENDPOINT_NAME_PATTERN}")
        if problems:
            noun = "error" if len(problems) == 1 else "errors"
            raise _api_validation(f"{len(problems)} validation {noun} detected: " + "; ".join(problems))
        # names are case-insensitive (ARNs carry them in lower case, and the plugin reads them back from there)
        key = (region, name.lower())
        job = self._jobs.get(key)
        if operation == "CreateTransformJob":
            arn = f"arn:aws:sagemaker:{region or _DEFAULT_REGION}:{self.account_id}:transform-job/{name.lower()}"
            if job is not None:
                raise _api_validation(JOB_EXISTS_MESSAGE.format(arn=arn))
            self._jobs[key] = _TransformJob(body, arn, float(_JOB_EPOCH + len(self._jobs)))
            return self._api_response({"TransformJobArn": arn}, request_id)
        if job is None:
            raise _api_validation(JOB_NOT_FOUND_MESSAGE.format(name=name))
        if operation == "StopTransformJob":
            if job.status == "InProgress":
                job.status = "Stopping"
            return self._api_response({}, request_id)
        # DescribeTransformJob: a running job finishes between two describes
        if job.described and job.status in ("InProgress", "Stopping"):
            job.status = "Completed" if job.status == "InProgress" else "Stopped"
        job.described = True
        described = dict(job.request, TransformJobArn=job.arn, TransformJobStatus=job.status,
                         CreationTime=job.created, TransformStartTime=job.created + 60.0)
        if job.status in ("Completed", "Stopped"):
            described["TransformEndTime"] = job.created + 300.0
        return self._api_response(dict(sorted(described.items())), request_id)

    @staticmethod
    def _api_response(obj: Any, request_id: str) -> ProviderResponse:
        return ProviderResponse(200, {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": request_id},
                                aws_json(obj))

    def _model_error(self, endpoint: str, region: str | None, status: int, original: str) -> AwsError:
        return self.model_error(endpoint, status, original, region=region or _DEFAULT_REGION,
                                account_id=self.account_id)

    # ------------------------------------------------------- built-in models

    @classmethod
    def _default_handler(cls, invocation: Invocation, dimension: int) -> Any:
        """The default endpoint, by the JSON body's shape (Content-Type absent or JSON):

        * a sentence-embedding container (``dimension``-sized vectors):
            ["a", "b"]                          -> [[...], [...]]          (DJL / custom containers)
            {"inputs": "a" | ["a", "b"]}        -> [[...], ...]            (HF TEI / feature-extraction)
            {"text_inputs": "a" | ["a", ...]}   -> {"embedding": [[...], ...]}  (JumpStart text embedding)
        * ColPali (HF ``visual-document-retrieval``), ``{"queries": [...], "images": [...]}`` (or that
          object under ``inputs``) -> multi-vector query / image embeddings (and their scores when both
          are given);
        * the OpenSearch semantic highlighter, ``{"question", "context"}`` or
          ``{"inputs": [{"question", "context"}, ...]}`` -> ``{"highlights": ...}``.
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
        if isinstance(payload, dict):
            # the Hugging Face toolkit takes ``inputs`` if present, else the whole body
            inputs = payload.get("inputs", payload)
            if isinstance(inputs, dict) and (inputs is not payload or {"queries", "images"} & payload.keys()):
                return _colpali(invocation.endpoint, inputs)
            if "question" in payload or "context" in payload or (
                    isinstance(inputs, list) and inputs and all(isinstance(i, dict) for i in inputs)):
                return _highlight(invocation.endpoint, payload)
        return cls._embed(invocation.endpoint, payload, dimension)

    @staticmethod
    def _embed(endpoint: str, payload: Any, dimension: int) -> Any:
        def texts_of(value: Any, field: str) -> list[str]:
            if isinstance(value, str):
                return [value]
            if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
                return value
            raise _container_error(f"'{field}' must be a string or a non-empty list of strings")

        def embed(texts: list[str]) -> list[list[float]]:
            return [_unit_vector(endpoint, t, dimension) for t in texts]

        if isinstance(payload, list):
            return embed(texts_of(payload, "body"))
        if isinstance(payload, dict):
            if "inputs" in payload:
                return embed(texts_of(payload["inputs"], "inputs"))
            if "text_inputs" in payload:
                return {"embedding": embed(texts_of(payload["text_inputs"], "text_inputs"))}
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
