"""SigV4 verification and shared AWS helpers used by the fake Bedrock / SageMaker providers."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import json
import re
import time
import uuid
from urllib.parse import urlsplit

import pytest

from mlcommons_emu.providers.aws import (
    AWS_REGIONS,
    INVALID_SIGNATURE_MESSAGE,
    AwsError,
    SigV4Verifier,
    aws_json,
    aws_json_response,
    delayed,
    deterministic_uuid,
    parse_aws_host,
    request_id_for,
    sign_request,
)
from mlcommons_emu.providers.base import ProviderRequest

URL = "https://bedrock-runtime.us-east-1.amazonaws.com/model/amazon.titan-embed-text-v2:0/invoke"
BODY = b'{"inputText":"hello world"}'
KEY, SECRET = "AKIAEXAMPLEACCESSKEY", "example-secret-key"
NOW = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)
CORAL = "http://internal.amazon.com/coral/com.amazon.coral.service/"


def signed(url: str = URL, body: bytes = BODY, *, key: str = KEY, secret: str = SECRET,
           region: str = "us-east-1", service: str = "bedrock", token: str | None = None,
           headers: dict[str, str] | None = None, at: dt.datetime = NOW) -> ProviderRequest:
    return sign_request("POST", url, body, access_key=key, secret_key=secret, region=region,
                        service=service, session_token=token,
                        headers={"content-type": "application/json", **(headers or {})}, timestamp=at)


def verifier(credentials=None, now: dt.datetime = NOW) -> SigV4Verifier:
    return SigV4Verifier("bedrock", credentials=credentials, clock=lambda: now)


def rejects(v: SigV4Verifier, request: ProviderRequest, region: str | None = "us-east-1") -> AwsError:
    with pytest.raises(AwsError) as info:
        v.verify(request, region=region)
    return info.value


def with_headers(request: ProviderRequest, **changes: str | None) -> ProviderRequest:
    headers = {k: v for k, v in request.headers.items()}
    for name, value in changes.items():
        name = name.replace("_", "-")
        for existing in [k for k in headers if k.lower() == name.lower()]:
            del headers[existing]
        if value is not None:
            headers[name] = value
    return ProviderRequest(request.method, request.url, headers, request.body)


# ---------------------------------------------------------------- signing


def test_botocore_signed_request_verifies_against_the_configured_secret() -> None:
    ident = verifier({KEY: SECRET}).verify(signed(), region="us-east-1")
    assert ident.access_key == KEY
    assert (ident.region, ident.service, ident.timestamp) == ("us-east-1", "bedrock", "20240501T120000Z")
    assert ident.signature_checked is True
    assert "host" in ident.signed_headers and "x-amz-date" in ident.signed_headers


def test_request_signed_exactly_like_the_connector_runtime_verifies() -> None:
    # mlcommons_emu.connectors.sigv4 signs with SigV4Auth.add_auth over an AWSRequest
    # and sends the headers it returns (no Host header: the transport derives it).
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    aws = AWSRequest(method="POST", url=URL, data=BODY,
                     headers={"content-type": "application/json", "x-amz-content-sha256": "required"})
    SigV4Auth(Credentials(KEY, SECRET, "tok"), "bedrock", "us-east-1").add_auth(aws)
    request = ProviderRequest("POST", URL, dict(aws.headers.items()), BODY)
    assert "host" not in {k.lower() for k in request.headers}
    ident = SigV4Verifier("bedrock", credentials={KEY: (SECRET, "tok")}).verify(request, region="us-east-1")
    assert ident.session_token == "tok" and ident.signature_checked


def test_signature_matches_an_independent_sigv4_implementation() -> None:
    # Guard against botocore agreeing with itself: recompute by hand from the spec.
    request = signed(headers={"X-Custom": "  a   b  "})
    auth = request.headers["Authorization"]
    m = re.match(r"AWS4-HMAC-SHA256 Credential=([^,]+), SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$", auth)
    assert m
    scope = m.group(1).split("/", 1)[1]
    names = m.group(2).split(";")
    url = urlsplit(request.url)
    lower = {k.lower(): v for k, v in request.headers.items()}
    canon_headers = "".join(
        f"{n}:{url.hostname if n == 'host' else ' '.join(lower[n].split())}\n" for n in names
    )
    path = url.path.replace(":", "%3A")
    canonical = "\n".join(["POST", path, "", canon_headers, m.group(2), hashlib.sha256(BODY).hexdigest()])
    to_sign = "\n".join(["AWS4-HMAC-SHA256", lower["x-amz-date"], scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    k = ("AWS4" + SECRET).encode()
    for part in scope.split("/"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    assert hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest() == m.group(3)
    assert SigV4Verifier.compute_signature(
        request, secret=SECRET, access_key=KEY, timestamp=lower["x-amz-date"], region="us-east-1",
        service="bedrock", signed_headers=names,
    ) == m.group(3)


def test_unsigned_extra_headers_are_ignored_but_signed_ones_are_checked() -> None:
    v = verifier({KEY: SECRET})
    request = signed(headers={"x-trace": "1"})
    v.verify(with_headers(request, User_Agent="aiohttp"), region="us-east-1")
    err = rejects(v, with_headers(request, x_trace="2"))
    assert (err.status, err.code, err.message) == (403, "InvalidSignatureException", INVALID_SIGNATURE_MESSAGE)


def test_tampered_body_fails() -> None:
    request = signed()
    tampered = ProviderRequest("POST", URL, request.headers, b'{"inputText":"hello there"}')
    err = rejects(verifier({KEY: SECRET}), tampered)
    assert err.code == "InvalidSignatureException"


def test_x_amz_content_sha256_required_header_is_signed_like_any_other() -> None:
    request = signed(headers={"x-amz-content-sha256": "required"})
    assert request.headers["x-amz-content-sha256"] == "required"
    verifier({KEY: SECRET}).verify(request, region="us-east-1")


# ------------------------------------------------------------ rejections


def test_wrong_secret_is_invalid_signature_with_aws_header_and_body() -> None:
    err = rejects(verifier({KEY: SECRET}), signed(secret="not-the-secret"))
    assert err.status == 403
    assert err.error_type == "InvalidSignatureException:" + CORAL
    resp = err.response("rid-1")
    assert resp.status == 403
    assert resp.headers["x-amzn-ErrorType"] == "InvalidSignatureException:" + CORAL
    assert resp.headers["x-amzn-RequestId"] == "rid-1"
    assert resp.headers["Content-Type"] == "application/json"
    assert resp.body == (
        b'{"message":"The request signature we calculated does not match the signature you provided. '
        b'Check your AWS Secret Access Key and signing method. Consult the service documentation for details."}'
    )


def test_unknown_access_key_is_unrecognized_client() -> None:
    err = rejects(verifier({KEY: SECRET}), signed(key="AKIAOTHERKEY"))
    assert (err.status, err.code) == (403, "UnrecognizedClientException")
    assert err.response("r").body == b'{"message":"The security token included in the request is invalid."}'


def test_session_tokens() -> None:
    strict = verifier({KEY: (SECRET, "tok")})
    strict.verify(signed(token="tok"), region="us-east-1")
    assert rejects(strict, signed()).code == "UnrecognizedClientException"
    assert rejects(strict, signed(token="other")).code == "UnrecognizedClientException"
    # A plain key configured without a token does not accept one either.
    assert rejects(verifier({KEY: SECRET}), signed(token="tok")).code == "UnrecognizedClientException"
    # Permissive mode: temporary (ASIA) keys still need their token.
    permissive = verifier()
    assert rejects(permissive, signed(key="ASIATEMPKEY")).code == "UnrecognizedClientException"
    permissive.verify(signed(key="ASIATEMPKEY", token="t"), region="us-east-1")


def test_permissive_mode_accepts_any_key_and_secret() -> None:
    ident = verifier().verify(signed(key="AKIAANY", secret="whatever"), region="us-east-1")
    assert ident.access_key == "AKIAANY" and ident.signature_checked is False


def test_missing_authorization_is_missing_authentication_token() -> None:
    request = ProviderRequest("POST", URL, {"content-type": "application/json"}, BODY)
    err = rejects(verifier(), request)
    assert (err.status, err.code) == (403, "MissingAuthenticationTokenException")
    resp = err.response("r")
    assert resp.body == b'{"message":"Missing Authentication Token"}'
    assert resp.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException:" + CORAL


def test_malformed_authorization_headers_are_incomplete_signature() -> None:
    v = verifier()
    bearer = with_headers(signed(), Authorization="Bearer sk-123")
    err = rejects(v, bearer)
    digest = base64.b64encode(hashlib.sha256(b"Bearer sk-123").digest()).decode()
    assert (err.status, err.code) == (403, "IncompleteSignatureException")
    assert err.message == (
        "Invalid key=value pair (missing equal-sign) in Authorization header (hashed with SHA-256 "
        f"and encoded with Base64): '{digest}'."
    )
    good = signed()
    no_sig = good.headers["Authorization"].rsplit(", Signature=", 1)[0]
    err = rejects(v, with_headers(good, Authorization=no_sig))
    assert err.message == "Authorization header requires 'Signature' parameter. Authorization=" + no_sig
    err = rejects(v, with_headers(good, X_Amz_Date=None))
    assert err.message == (
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
        "Authorization=" + good.headers["Authorization"]
    )
    err = rejects(v, with_headers(good, X_Amz_Date="2024-05-01T12:00:00Z"))
    assert err.message == (
        "Date must be in ISO-8601 'basic format'. Got '2024-05-01T12:00:00Z'. "
        "See http://en.wikipedia.org/wiki/ISO_8601"
    )
    short = good.headers["Authorization"].replace("/us-east-1/bedrock/", "/us-east-1/")
    err = rejects(v, with_headers(good, Authorization=short))
    assert err.code == "IncompleteSignatureException"
    assert err.message.startswith("Credential must have exactly 5 slash-delimited elements")


def test_credential_scope_must_match_host_region_service_and_date() -> None:
    v = verifier({KEY: SECRET})
    err = rejects(v, signed(region="us-west-2"))
    assert (err.code, err.message) == (
        "InvalidSignatureException", "Credential should be scoped to a valid region, not 'us-west-2'. ")
    err = rejects(v, signed(service="sagemaker"))
    assert err.message == "Credential should be scoped to correct service: 'bedrock'. "
    good = signed()
    err = rejects(v, with_headers(good, X_Amz_Date="20240502T120000Z"), region="us-east-1")
    assert err.message.startswith("Date in Credential scope does not match YYYYMMDD")
    bad_term = good.headers["Authorization"].replace("aws4_request", "aws5_request")
    err = rejects(v, with_headers(good, Authorization=bad_term))
    assert err.message == "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'. "
    # region=None (e.g. served over loopback) skips only the region check.
    v.verify(signed(region="eu-west-1"), region=None)


def test_host_must_be_signed() -> None:
    good = signed()
    auth = re.sub(r"SignedHeaders=[^,]+", "SignedHeaders=content-type;x-amz-date", good.headers["Authorization"])
    err = rejects(verifier(), with_headers(good, Authorization=auth))
    assert err.message == "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."


def test_clock_window_is_fifteen_minutes_each_way() -> None:
    request = signed(at=NOW)
    verifier({KEY: SECRET}, now=NOW + dt.timedelta(minutes=14, seconds=59)).verify(request, region="us-east-1")
    verifier({KEY: SECRET}, now=NOW - dt.timedelta(minutes=15)).verify(request, region="us-east-1")
    err = rejects(verifier({KEY: SECRET}, now=NOW + dt.timedelta(minutes=20)), request)
    assert (err.status, err.code) == (403, "InvalidSignatureException")
    assert err.message == (
        "Signature expired: 20240501T120000Z is now earlier than 20240501T120500Z (20240501T122000Z - 15 min.)"
    )
    err = rejects(verifier(now=NOW - dt.timedelta(minutes=16)), request)
    assert err.message == (
        "Signature not yet current: 20240501T120000Z is still later than 20240501T115900Z "
        "(20240501T114400Z + 15 min.)"
    )


def test_clock_may_return_epoch_seconds_or_naive_utc() -> None:
    request = signed(at=NOW)
    SigV4Verifier("bedrock", clock=lambda: NOW.timestamp()).verify(request, region="us-east-1")
    SigV4Verifier("bedrock", clock=lambda: NOW.replace(tzinfo=None)).verify(request, region="us-east-1")


def test_default_clock_is_real_time() -> None:
    # Signed "now" by botocore itself (no pinned timestamp) passes with the default clock.
    request = sign_request("POST", URL, BODY, access_key=KEY, secret_key=SECRET, region="us-east-1",
                           service="bedrock")
    SigV4Verifier("bedrock", credentials={KEY: SECRET}).verify(request, region="us-east-1")
    old = signed(at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
    assert rejects(SigV4Verifier("bedrock"), old).message.startswith("Signature expired: ")


def test_date_header_is_accepted_instead_of_x_amz_date() -> None:
    good = signed()
    names = ["content-type", "date", "host"]
    base = with_headers(good, X_Amz_Date=None, Date="Wed, 01 May 2024 12:00:00 GMT")
    sig = SigV4Verifier.compute_signature(base, secret=SECRET, access_key=KEY, timestamp="20240501T120000Z",
                                          region="us-east-1", service="bedrock", signed_headers=names)
    auth = (f"AWS4-HMAC-SHA256 Credential={KEY}/20240501/us-east-1/bedrock/aws4_request, "
            f"SignedHeaders={';'.join(names)}, Signature={sig}")
    ident = verifier({KEY: SECRET}).verify(with_headers(base, Authorization=auth), region="us-east-1")
    assert ident.timestamp == "20240501T120000Z"


# --------------------------------------------------------------- helpers


def test_parse_aws_host_and_regions() -> None:
    assert parse_aws_host("bedrock-runtime.us-east-1.amazonaws.com") == ("bedrock-runtime", "us-east-1")
    assert parse_aws_host("runtime.sagemaker.eu-west-1.amazonaws.com") == ("runtime.sagemaker", "eu-west-1")
    assert parse_aws_host("RUNTIME.SAGEMAKER.US-GOV-WEST-1.AMAZONAWS.COM") == ("runtime.sagemaker", "us-gov-west-1")
    assert parse_aws_host("api.openai.com") is None
    assert parse_aws_host("127.0.0.1") is None
    assert "us-east-1" in AWS_REGIONS and "eu-central-1" in AWS_REGIONS


def test_aws_json_is_compact_utf8() -> None:
    assert aws_json({"message": None}) == b'{"message":null}'
    assert aws_json({"a": "é", "b": [1, 2]}) == '{"a":"é","b":[1,2]}'.encode()
    resp = aws_json_response(200, {"x": 1}, request_id="rid")
    assert (resp.status, resp.headers["x-amzn-RequestId"], resp.body) == (200, "rid", b'{"x":1}')


def test_ids_are_deterministic_uuids() -> None:
    a = deterministic_uuid("x", 1)
    assert a == deterministic_uuid("x", 1) != deterministic_uuid("x", 2)
    assert uuid.UUID(a).version == 4
    r1 = ProviderRequest("POST", URL, {}, BODY)
    r2 = ProviderRequest("POST", URL, {"X-Other": "1"}, BODY)
    assert request_id_for(r1) == request_id_for(r2)
    assert request_id_for(r1) != request_id_for(ProviderRequest("POST", URL, {}, b"{}"))


def test_aws_error_with_custom_body() -> None:
    err = AwsError(400, "ThrottlingException", None, namespace="")
    resp = err.response("r")
    assert resp.headers["x-amzn-ErrorType"] == "ThrottlingException"
    assert resp.body == b'{"message":null}'
    err = AwsError(424, "ModelError", "m", body={"Message": "m", "OriginalStatusCode": 500})
    assert json.loads(err.response("r").body) == {"Message": "m", "OriginalStatusCode": 500}


async def test_delayed_script_item() -> None:
    item = delayed(0.05)
    start = time.monotonic()
    assert await item(ProviderRequest("POST", URL, {}, b"")) is None
    assert time.monotonic() - start >= 0.045
    with pytest.raises(ValueError):
        delayed(-1)
    # Nothing else in the module sleeps.
    assert asyncio.iscoroutinefunction(item)
