"""aws_sigv4 connectors sign every call with the decrypted keys, as the AWS SDK signer does."""
from __future__ import annotations

import hashlib
import hmac
import json
import re

import attrs

from tests.seed import body

AUTH = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request, "
    r"SignedHeaders=(?P<signed>[^,]+), Signature=(?P<signature>[0-9a-f]{64})$")


@attrs.define
class Reply:
    status: int
    headers: dict
    body: bytes


class SageMakerStub:
    """Answers the seed's SageMaker endpoint and checks the signature independently."""

    hosts = ("runtime.sagemaker.us-west-2.amazonaws.com",)

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.seen = []

    async def handle(self, request):
        self.seen.append(request)
        headers = {k.lower(): v for k, v in request.headers.items()}
        match = AUTH.match(headers.get("authorization", ""))
        if not match or not self._valid(request, headers, match):
            return Reply(403, {"x-amzn-ErrorType": "InvalidSignatureException"},
                         b'{"message":"The request signature we calculated does not match the signature you provided."}')
        return Reply(200, {"content-type": "application/json"}, json.dumps([[0.1, 0.2, 0.3]]).encode())

    def _valid(self, request, headers, match) -> bool:
        from urllib.parse import urlsplit

        url = urlsplit(request.url)
        signed = match["signed"].split(";")
        canonical_headers = "".join(
            f"{name}:{' '.join(headers[name].split()) if name != 'host' else url.hostname}\n" for name in signed)
        canonical = "\n".join([request.method, url.path, url.query, canonical_headers, match["signed"],
                               hashlib.sha256(request.body).hexdigest()])
        scope = f"{match['date']}/{match['region']}/{match['service']}/aws4_request"
        to_sign = "\n".join(["AWS4-HMAC-SHA256", headers["x-amz-date"], scope,
                             hashlib.sha256(canonical.encode()).hexdigest()])
        key = ("AWS4" + self.secret).encode()
        for part in (match["date"], match["region"], match["service"], "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, match["signature"])


async def test_sagemaker_predict_is_signed_with_the_connector_keys(emulator):
    stub = SageMakerStub("example-secret-key")
    emulator.context.transport.add(stub)
    await emulator.request("PUT", "/_cluster/settings", body("trusted_endpoints"))
    connector_id = (await emulator.request("POST", "/_plugins/_ml/connectors/_create",
                                           body("sagemaker_connector"))).body["connector_id"]
    model_id = (await emulator.request("POST", "/_plugins/_ml/models/_register", {
        "name": "sm", "function_name": "remote", "connector_id": connector_id})).body["model_id"]
    r = await emulator.request("POST", f"/_plugins/_ml/models/{model_id}/_predict",
                               {"parameters": {"inputs": "hello world"}})
    assert r.status == 200, r.body
    assert r.body["inference_results"][0]["output"][0]["dataAsMap"] == {"response": [[0.1, 0.2, 0.3]]}
    [sent] = stub.seen
    headers = {k.lower(): v for k, v in sent.headers.items()}
    match = AUTH.match(headers["authorization"])
    assert match["key"] == "AKIAEXAMPLEACCESSKEY"
    assert (match["region"], match["service"]) == ("us-west-2", "sagemaker")
    assert headers["x-amz-security-token"] == "example-session-token"
    assert "x-amz-content-sha256" not in headers
    assert sent.body == b'["hello world"]'


async def test_wrong_secret_surfaces_the_providers_error(emulator):
    stub = SageMakerStub("a-different-secret")
    emulator.context.transport.add(stub)
    await emulator.request("PUT", "/_cluster/settings", body("trusted_endpoints"))
    connector_id = (await emulator.request("POST", "/_plugins/_ml/connectors/_create",
                                           body("sagemaker_connector"))).body["connector_id"]
    model_id = (await emulator.request("POST", "/_plugins/_ml/models/_register", {
        "name": "sm", "function_name": "remote", "connector_id": connector_id})).body["model_id"]
    r = await emulator.request("POST", f"/_plugins/_ml/models/{model_id}/_predict",
                               {"parameters": {"inputs": "x"}})
    assert r.status == 403
    assert r.body["error"]["type"] == "status_exception"
    assert r.body["error"]["reason"].startswith("Error from remote service: {\"message\":\"The request signature")


async def test_host_without_a_fake_fails_offline(emulator):
    await emulator.request("PUT", "/_cluster/settings", {"persistent": {
        "plugins.ml_commons.trusted_connector_endpoints_regex": ["^https://runtime\\.example\\.com/.*$"]}})
    payload = body("sagemaker_connector")
    payload["actions"][0]["url"] = "https://runtime.example.com/endpoints/e/invocations"
    connector_id = (await emulator.request("POST", "/_plugins/_ml/connectors/_create", payload)).body["connector_id"]
    model_id = (await emulator.request("POST", "/_plugins/_ml/models/_register", {
        "name": "sm", "function_name": "remote", "connector_id": connector_id})).body["model_id"]
    r = await emulator.request("POST", f"/_plugins/_ml/models/{model_id}/_predict", {"parameters": {"inputs": "x"}})
    assert r.status == 500
    assert r.body["error"]["type"] == "status_exception"
    assert r.body["error"]["reason"].startswith("Error communicating with remote model: runtime.example.com")
