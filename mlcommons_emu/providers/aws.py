"""Shared plumbing for the fake AWS providers: SigV4 verification, AWS error envelopes, hosts.

The fakes authenticate requests the way an AWS front end does: the Authorization
header is parsed, the credential scope is checked against the host, X-Amz-Date
must be within 15 minutes of the (injectable) clock, and - when secrets are
configured - the signature is recomputed with botocore's SigV4 signer over the
request as received and compared with the one sent.

Error responses carry AWS's real headers (``x-amzn-RequestId``,
``x-amzn-ErrorType: <Code>:<namespace>``) and compact JSON bodies, byte for byte
what ML Commons echoes back in ``Error from remote service: <body>``.

botocore is imported lazily (first verification / signing), as it is heavy.
"""

from __future__ import annotations

import base64
import calendar
import datetime as _dt
import email.utils
import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .base import ProviderRequest, ProviderResponse, Recorder, Script, ScriptCallable, delayed, received

__all__ = [
    "AWS_JSON_11",
    "AWS_REGIONS",
    "CORAL_AVAILABILITY_NAMESPACE",
    "CORAL_SERVICE_NAMESPACE",
    "INVALID_SIGNATURE_MESSAGE",
    "MISSING_AUTHENTICATION_TOKEN_MESSAGE",
    "UNRECOGNIZED_CLIENT_MESSAGE",
    "AwsError",
    "AwsJsonService",
    "SigV4Identity",
    "SigV4Verifier",
    "aws_json",
    "aws_json_response",
    "deterministic_uuid",
    "json_protocol_error",
    "parse_aws_host",
    "request_id_for",
    "sign_request",
]

# --------------------------------------------------------------------------
# Verbatim AWS texts.
# --------------------------------------------------------------------------
MISSING_AUTHENTICATION_TOKEN_MESSAGE = "Missing Authentication Token"
UNRECOGNIZED_CLIENT_MESSAGE = "The security token included in the request is invalid."
EXPIRED_TOKEN_MESSAGE = "The security token included in the request is expired"
INVALID_SIGNATURE_MESSAGE = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation "
    "for details."
)
HOST_NOT_SIGNED_MESSAGE = "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."

# Coral (the AWS service framework) namespaces that follow the error code in
# x-amzn-ErrorType.  Authentication failures come from the shared front end,
# throttling of the request rate from the availability layer.
CORAL_SERVICE_NAMESPACE = "http://internal.amazon.com/coral/com.amazon.coral.service/"
CORAL_AVAILABILITY_NAMESPACE = "http://internal.amazon.com/coral/com.amazon.coral.availability/"

_ALGORITHM = "AWS4-HMAC-SHA256"
_AMZ_DATE_RE = re.compile(r"^\d{8}T\d{6}Z$")
_AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"

# Commercial + GovCloud regions.  Exact host lists are generated from these;
# `matches()` on the fakes accepts exactly these regions (plus any extra ones
# passed to the fake), since a typo'd region does not resolve in DNS either.
AWS_REGIONS: tuple[str, ...] = (
    "us-east-1", "us-east-2", "us-west-1", "us-west-2",
    "ca-central-1", "ca-west-1", "mx-central-1", "sa-east-1",
    "eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-central-2",
    "eu-north-1", "eu-south-1", "eu-south-2",
    "ap-south-1", "ap-south-2", "ap-east-1", "ap-east-2",
    "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
    "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4",
    "ap-southeast-5", "ap-southeast-7",
    "me-south-1", "me-central-1", "il-central-1", "af-south-1",
    "us-gov-west-1", "us-gov-east-1",
)

_AWS_HOST_RE = re.compile(r"^(?P<prefix>[a-z0-9.-]+?)\.(?P<region>[a-z]{2}(?:-gov)?-[a-z]+-\d+)\.amazonaws\.com$")


def parse_aws_host(host: str) -> tuple[str, str] | None:
    """'bedrock-runtime.us-east-1.amazonaws.com' -> ('bedrock-runtime', 'us-east-1'); None if not AWS-shaped."""
    m = _AWS_HOST_RE.match((host or "").lower())
    if not m:
        return None
    return m.group("prefix"), m.group("region")


# --------------------------------------------------------------------------
# JSON bodies and ids
# --------------------------------------------------------------------------


def aws_json(obj: Any) -> bytes:
    """AWS services answer compact UTF-8 JSON (no spaces), which ML Commons echoes verbatim."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def deterministic_uuid(*parts: Any) -> str:
    """A version-4-shaped UUID derived from a hash of the parts."""
    h = hashlib.sha256("\x00".join(str(p) for p in parts).encode("utf-8")).digest()
    b = bytearray(h[:16])
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    return str(uuid.UUID(bytes=bytes(b)))


def request_id_for(request: ProviderRequest) -> str:
    """x-amzn-RequestId: a UUID fixed by the request's method, URL and body."""
    return deterministic_uuid("aws-request", request.method, request.url, request.body.hex())


def aws_json_response(
    status: int,
    obj: Any,
    *,
    request_id: str,
    headers: Mapping[str, str] | None = None,
    content_type: str = "application/json",
) -> ProviderResponse:
    hdrs = {"Content-Type": content_type, "x-amzn-RequestId": request_id}
    hdrs.update(headers or {})
    return ProviderResponse(status, hdrs, aws_json(obj))


class AwsError(Exception):
    """An AWS error answered as ``x-amzn-ErrorType: <code>:<namespace>`` plus a JSON body.

    body: the exact JSON object to send; defaults to {"message": message}.
    error_type_header: False for the AWS JSON 1.0/1.1 protocol, whose services name the
    error in the body's ``__type`` instead (see json_protocol_error).
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str | None,
        *,
        namespace: str = CORAL_SERVICE_NAMESPACE,
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        content_type: str = "application/json",
        error_type_header: bool = True,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.namespace = namespace
        self.body = dict(body) if body is not None else {"message": message}
        self.headers = dict(headers or {})
        self.content_type = content_type
        self.error_type_header = error_type_header

    @property
    def error_type(self) -> str:
        return f"{self.code}:{self.namespace}" if self.namespace else self.code

    def response(self, request_id: str) -> ProviderResponse:
        hdrs = {"x-amzn-ErrorType": self.error_type} if self.error_type_header else {}
        hdrs.update(self.headers)
        return aws_json_response(self.status, self.body, request_id=request_id, headers=hdrs,
                                 content_type=self.content_type)


#: the Content-Type of AWS JSON 1.1 requests and responses (Comprehend, Textract, ...)
AWS_JSON_11 = "application/x-amz-json-1.1"


def json_protocol_error(status: int, code: str, message: str | None = None, *,
                        member: str = "Message") -> AwsError:
    """An error of an AWS JSON 1.0/1.1 service: ``{"__type": code, <member>: message}``.

    Modelled exceptions carry the model's member (``Message`` for Textract's and Comprehend's,
    as observed: ``{"__type":"InvalidParameterException","Message":"Request has invalid
    parameters"}`` with only x-amzn-RequestId beside Content-Type); the framework's own
    (validation, serialization, authentication) use ``message``.  A ``None`` message is left
    out.
    UNSURE: whether these services also send x-amzn-ErrorType; the observed Textract error
    did not, so none is sent.
    """
    body: dict[str, Any] = {"__type": code}
    if message is not None:
        body[member] = message
    return AwsError(status, code, message, namespace="", body=body, content_type=AWS_JSON_11,
                    error_type_header=False)


def _as_json_protocol(err: AwsError) -> AwsError:
    """A SigV4 front-end failure as a JSON-protocol service answers it.

    REST-JSON front ends answer authentication failures with 403; JSON-protocol (Coral
    X-Amz-Target) services answer them with 400, as in ``UnrecognizedClientException: The
    security token included in the request is invalid. status code: 400``.
    """
    return json_protocol_error(400, err.code, err.message, member="message")


# --------------------------------------------------------------------------
# SigV4
# --------------------------------------------------------------------------

SecretSpec = str | tuple[str, str | None]
Credentials = Mapping[str, SecretSpec]
Clock = Callable[[], _dt.datetime | float | int]


@dataclass(frozen=True)
class SigV4Identity:
    """What a verified (or, without secrets, well-formed) request was signed as."""

    access_key: str
    region: str
    service: str
    timestamp: str  # X-Amz-Date, basic ISO-8601
    signed_headers: tuple[str, ...]
    session_token: str | None
    signature_checked: bool


def _incomplete(message: str) -> AwsError:
    # The AWS common-errors table says 400, but REST-JSON front ends (API
    # Gateway, Lambda, Bedrock) answer every authentication failure with 403.
    return AwsError(403, "IncompleteSignatureException", message)


def _invalid_signature(message: str) -> AwsError:
    return AwsError(403, "InvalidSignatureException", message)


def _unrecognized() -> AwsError:
    return AwsError(403, "UnrecognizedClientException", UNRECOGNIZED_CLIENT_MESSAGE)


def _as_utc(value: _dt.datetime | float) -> _dt.datetime:
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=_dt.UTC)
        return value.astimezone(_dt.UTC)
    return _dt.datetime.fromtimestamp(float(value), tz=_dt.UTC)


def _fmt(ts: _dt.datetime) -> str:
    return ts.strftime(_AMZ_DATE_FORMAT)


class SigV4Verifier:
    """Checks AWS Signature Version 4 (header form) on requests to one signing service.

    credentials: None accepts any access key (the header must still be well
    formed, carry a sane credential scope and a fresh X-Amz-Date; keys starting
    ASIA must come with X-Amz-Security-Token).  A mapping access key -> secret,
    or access key -> (secret, session_token), makes the verifier strict: unknown
    keys and mismatched session tokens are UnrecognizedClientException, and the
    signature is recomputed with botocore and compared.
    clock: returns the current time (aware/naive-UTC datetime or epoch seconds).
    """

    def __init__(
        self,
        service: str,
        *,
        credentials: Credentials | None = None,
        clock: Clock | None = None,
        max_skew: _dt.timedelta = _dt.timedelta(minutes=15),
    ) -> None:
        self.service = service
        self.credentials: dict[str, tuple[str, str | None]] | None = None
        self.set_credentials(credentials)
        self.clock = clock
        self.max_skew = max_skew

    def set_credentials(self, credentials: Credentials | None) -> None:
        """The test keys whose signatures are checked; None accepts any well-formed one."""
        if credentials is None:
            self.credentials = None
            return
        self.credentials = {}
        for key, spec in credentials.items():
            if isinstance(spec, str):
                self.credentials[key] = (spec, None)
            else:
                secret, token = spec
                self.credentials[key] = (secret, token)

    def now(self) -> _dt.datetime:
        if self.clock is None:
            return _dt.datetime.now(_dt.UTC)
        return _as_utc(self.clock())

    # ---------------------------------------------------------------- parse

    @staticmethod
    def _parse_authorization(auth: str, has_date: bool) -> dict[str, str]:
        algorithm, _, rest = auth.strip().partition(" ")
        params: dict[str, str] = {}
        for part in rest.split(","):
            part = part.strip()
            if not part:
                continue
            if "=" not in part:
                digest = base64.b64encode(hashlib.sha256(auth.encode("utf-8")).digest()).decode()
                raise _incomplete(
                    "Invalid key=value pair (missing equal-sign) in Authorization header "
                    f"(hashed with SHA-256 and encoded with Base64): '{digest}'."
                )
            key, _, value = part.partition("=")
            params[key.strip()] = value.strip()
        missing = ""
        for name in ("Credential", "Signature", "SignedHeaders"):
            if not params.get(name):
                missing += f"Authorization header requires '{name}' parameter. "
        if not has_date:
            missing += "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
        if missing:
            raise _incomplete(missing + "Authorization=" + auth)
        if algorithm != _ALGORITHM:
            raise _incomplete(f"Unsupported AWS 'algorithm': '{algorithm}'")
        return params

    def _timestamp(self, request: ProviderRequest) -> str | None:
        amz = request.headers.get("X-Amz-Date")
        if amz is not None:
            amz = amz.strip()
            if not _AMZ_DATE_RE.match(amz):
                raise _incomplete(
                    f"Date must be in ISO-8601 'basic format'. Got '{amz}'. "
                    "See http://en.wikipedia.org/wiki/ISO_8601"
                )
            try:
                _dt.datetime.strptime(amz, _AMZ_DATE_FORMAT)
            except ValueError:
                raise _incomplete(
                    f"Date must be in ISO-8601 'basic format'. Got '{amz}'. "
                    "See http://en.wikipedia.org/wiki/ISO_8601"
                ) from None
            return amz
        date = request.headers.get("Date")
        if date is not None:
            parsed = email.utils.parsedate_tz(date)
            if parsed is None:
                raise _incomplete(f"Date must be in RFC 1123 format. Got '{date}'.")
            epoch = calendar.timegm(parsed[:9]) - (parsed[9] or 0)
            return _fmt(_dt.datetime.fromtimestamp(epoch, tz=_dt.UTC))
        return None

    # --------------------------------------------------------------- verify

    def verify(self, request: ProviderRequest, *, region: str | None) -> SigV4Identity:
        """Raise AwsError unless the request is acceptably signed for `region` (None: any)."""
        auth = request.headers.get("Authorization")
        if auth is None or not auth.strip():
            raise AwsError(403, "MissingAuthenticationTokenException", MISSING_AUTHENTICATION_TOKEN_MESSAGE)
        timestamp = self._timestamp(request)
        params = self._parse_authorization(auth, has_date=timestamp is not None)
        assert timestamp is not None

        credential = params["Credential"]
        parts = credential.split("/")
        if len(parts) != 5:
            raise _incomplete(
                "Credential must have exactly 5 slash-delimited elements, e.g. "
                f"keyid/date/region/service/term, got '{credential}'"
            )
        access_key, scope_date, scope_region, scope_service, terminator = parts
        if terminator != "aws4_request":
            raise _invalid_signature(
                f"Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'. "
            )
        if scope_date != timestamp[:8]:
            raise _invalid_signature(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
                f"from HTTP: '{scope_date}' != '{timestamp[:8]}', from '{timestamp}'."
            )
        if scope_service != self.service:
            raise _invalid_signature(f"Credential should be scoped to correct service: '{self.service}'. ")
        if region is not None and scope_region != region:
            raise _invalid_signature(f"Credential should be scoped to a valid region, not '{scope_region}'. ")

        signed = tuple(h.strip().lower() for h in params["SignedHeaders"].split(";") if h.strip())
        if "host" not in signed and ":authority" not in signed:
            raise _invalid_signature(HOST_NOT_SIGNED_MESSAGE)

        now = self.now().replace(microsecond=0)
        signed_at = _dt.datetime.strptime(timestamp, _AMZ_DATE_FORMAT).replace(tzinfo=_dt.UTC)
        minutes = int(self.max_skew.total_seconds() // 60)
        if signed_at < now - self.max_skew:
            raise _invalid_signature(
                f"Signature expired: {timestamp} is now earlier than {_fmt(now - self.max_skew)} "
                f"({_fmt(now)} - {minutes} min.)"
            )
        if signed_at > now + self.max_skew:
            raise _invalid_signature(
                f"Signature not yet current: {timestamp} is still later than {_fmt(now + self.max_skew)} "
                f"({_fmt(now)} + {minutes} min.)"
            )

        token = request.headers.get("X-Amz-Security-Token")
        if self.credentials is None:
            if access_key.startswith("ASIA") and not token:
                raise _unrecognized()
            return SigV4Identity(access_key, scope_region, scope_service, timestamp, signed, token, False)

        entry = self.credentials.get(access_key)
        if entry is None:
            raise _unrecognized()
        secret, expected_token = entry
        if (expected_token or None) != (token or None):
            raise _unrecognized()

        expected = self.compute_signature(
            request, secret=secret, access_key=access_key, timestamp=timestamp,
            region=scope_region, service=scope_service, signed_headers=signed,
        )
        if not hmac.compare_digest(expected, params["Signature"]):
            raise _invalid_signature(INVALID_SIGNATURE_MESSAGE)
        return SigV4Identity(access_key, scope_region, scope_service, timestamp, signed, token, True)

    @staticmethod
    def compute_signature(
        request: ProviderRequest,
        *,
        secret: str,
        access_key: str,
        timestamp: str,
        region: str,
        service: str,
        signed_headers: Iterable[str],
    ) -> str:
        """The signature botocore's SigV4 signer produces for this request as received.

        Only the headers named in SignedHeaders are canonicalised (a missing
        Host header is taken from the URL, as the signer did); the payload hash
        is X-Amz-Content-SHA256 when sent, else SHA-256 of the body.
        """
        from botocore.auth import SigV4Auth, _host_from_url
        from botocore.awsrequest import AWSRequest
        from botocore.compat import HTTPHeaders
        from botocore.credentials import Credentials as BotoCredentials

        names = tuple(signed_headers)
        received = request.headers

        class _AsReceived(SigV4Auth):
            def headers_to_sign(self, req: Any) -> Any:
                header_map = HTTPHeaders()
                for name in names:
                    values = received.getall(name, []) if hasattr(received, "getall") else (
                        [received[name]] if name in received else []
                    )
                    if not values and name == "host":
                        values = [_host_from_url(req.url)]
                    for value in values:
                        header_map[name] = value
                    if not values:
                        # A signed header the request lacks can only mismatch.
                        header_map[name] = ""
                return header_map

        aws_request = AWSRequest(method=request.method, url=request.url, data=request.body)
        for key, value in received.items():
            aws_request.headers[key] = value
        aws_request.context["timestamp"] = timestamp
        signer = _AsReceived(BotoCredentials(access_key, secret), service, region)
        canonical = signer.canonical_request(aws_request)
        string_to_sign = signer.string_to_sign(aws_request, canonical)
        return signer.signature(string_to_sign, aws_request)


def sign_request(
    method: str,
    url: str,
    body: bytes | str | None = b"",
    *,
    access_key: str,
    secret_key: str,
    region: str,
    service: str,
    session_token: str | None = None,
    headers: Mapping[str, str] | None = None,
    timestamp: _dt.datetime | None = None,
) -> ProviderRequest:
    """Client-side helper: sign like a connector does (botocore SigV4Auth over an AWSRequest).

    timestamp pins X-Amz-Date (default: now).  Returns the signed ProviderRequest.
    """
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials as BotoCredentials

    data = body.encode("utf-8") if isinstance(body, str) else (body or b"")
    aws_request = AWSRequest(method=method, url=url, data=data, headers=dict(headers or {}))
    signer = SigV4Auth(BotoCredentials(access_key, secret_key, session_token), service, region)
    if timestamp is None:
        signer.add_auth(aws_request)
    else:
        aws_request.context["timestamp"] = _fmt(_as_utc(timestamp))
        signer._modify_request_before_signing(aws_request)
        canonical = signer.canonical_request(aws_request)
        string_to_sign = signer.string_to_sign(aws_request, canonical)
        signer._inject_signature_to_request(aws_request, signer.signature(string_to_sign, aws_request))
    return ProviderRequest(method, url, list(aws_request.headers.items()), data)


# --------------------------------------------------------------------------
# AWS JSON 1.1 services (X-Amz-Target)
# --------------------------------------------------------------------------

_JSON_HANDLER = Callable[[dict[str, Any], "str | None"], Any]


class AwsJsonService:
    """The shared front end of the fake AWS JSON 1.1 services (Comprehend, Textract).

    ``POST https://<service>.<region>.amazonaws.com/`` with ``X-Amz-Target:
    <target_prefix><Operation>`` and a JSON object body, SigV4-signed for ``service``.
    Subclasses set name, service, target_prefix, operations (every operation the real
    service has) and fill ``self._handlers`` (operation -> handler(body, region) returning
    the JSON-able result, or raising AwsError).  Authentication failures are the JSON
    protocol's 400s, unknown targets UnknownOperationException, bodies that are not a JSON
    object SerializationException; an operation the service has but the fake does not
    implement is a 400 ValidationException saying so.

    credentials / clock: see SigV4Verifier.  regions: extra regions beyond AWS_REGIONS.
    """

    name = ""
    service = ""
    target_prefix = ""
    operations: frozenset[str] = frozenset()

    def __init__(self, *, credentials: Credentials | None = None, clock: Clock | None = None,
                 regions: Iterable[str] = (), recorder_size: int = 1000) -> None:
        self.recorder = Recorder(recorder_size)
        self.script = Script()
        self.verifier = SigV4Verifier(self.service, credentials=credentials, clock=clock)
        self.regions = frozenset(AWS_REGIONS) | frozenset(regions)
        self.hosts: tuple[str, ...] = tuple(
            f"{self.service}.{region}.amazonaws.com" for region in sorted(self.regions))
        self._handlers: dict[str, _JSON_HANDLER] = {}

    def matches(self, host: str) -> bool:
        parsed = parse_aws_host(host)
        return (parsed is not None and parsed[0] in (self.service, f"{self.service}-fips")
                and parsed[1] in self.regions)

    async def handle(self, request: ProviderRequest) -> ProviderResponse:
        request, scripted = await received(self, request)
        if scripted is not None:
            return scripted
        request_id = request_id_for(request)
        try:
            result = self._dispatch(request)
        except AwsError as err:
            return err.response(request_id)
        return aws_json_response(200, result, request_id=request_id, content_type=AWS_JSON_11)

    def _dispatch(self, request: ProviderRequest) -> Any:
        parsed = parse_aws_host(request.host)
        region = parsed[1] if parsed is not None else None
        try:
            self.verifier.verify(request, region=region)
        except AwsError as err:
            raise _as_json_protocol(err) from None
        target = request.headers.get("X-Amz-Target", "").strip()
        operation = target[len(self.target_prefix):] if target.startswith(self.target_prefix) else None
        # UNSURE: Coral's answer to a non-POST or a path other than "/" (taken as an unknown operation)
        if request.method != "POST" or request.path != "/" or operation not in self.operations:
            raise json_protocol_error(400, "UnknownOperationException", None, member="message")
        try:
            body = json.loads(request.body.decode("utf-8")) if request.body.strip() else None
        except (UnicodeDecodeError, ValueError):
            body = None
        if not isinstance(body, dict):
            raise json_protocol_error(400, "SerializationException", None, member="message")
        handler = self._handlers.get(operation)
        if handler is None:
            raise json_protocol_error(
                400, "ValidationException",
                f"The fake {self.name} implements only {', '.join(sorted(self._handlers))}.", member="message")
        return handler(body, region)

    # ----------------------------------------------- canned replies for Script

    @staticmethod
    def error_response(status: int, code: str, message: str | None, *, member: str = "Message",
                       headers: Mapping[str, str] | None = None) -> ProviderResponse:
        """Any error of the service, ``{"__type": code, member: message}``, for script.enqueue()."""
        err = json_protocol_error(status, code, message, member=member)
        err.headers.update(headers or {})
        return err.response(deterministic_uuid("aws-json-error", status, code, message))

    @staticmethod
    def delay(seconds: float, response: ProviderResponse | None = None) -> ScriptCallable:
        """Script item: sleep, then answer `response` or fall through to normal handling."""
        return delayed(seconds, response)
