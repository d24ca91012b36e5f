"""Unit tests for the fake Amazon SageMaker runtime (InvokeEndpoint)."""

from __future__ import annotations

import json
import math
import re
import time
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from mlcommons_emu.providers.aws import sign_request
from mlcommons_emu.providers.base import (
    FakeProvider,
    ProviderRequest,
    ProviderResponse,
    Recorder,
    Script,
    make_app,
)
from mlcommons_emu.providers.sagemaker import (
    FakeSageMakerRuntime,
    Invocation,
    SageMakerModelError,
)

KEY, SECRET, TOKEN = "AKIAEXAMPLEACCESSKEY", "example-secret-key", "example-session-token"
REGION = "us-west-2"
SM_NS = "http://internal.amazon.com/coral/com.amazon.sagemaker.runtime/"
EP = "lmi-model-2023-06-24-01-35-32-275"


def request(endpoint: str, body: Any, *, raw: bytes | None = None, region: str = REGION,
            secret: str = SECRET, token: str | None = TOKEN, service: str = "sagemaker",
            content_type: str | None = "application/json", accept: str | None = None) -> ProviderRequest:
    url = f"https://runtime.sagemaker.{region}.amazonaws.com/endpoints/{endpoint}/invocations"
    data = raw if raw is not None else json.dumps(body).encode()
    headers = {}
    if content_type:
        headers["content-type"] = content_type
    if accept:
        headers["accept"] = accept
    return sign_request("POST", url, data, access_key=KEY, secret_key=secret, region=region, service=service,
                        session_token=token, headers=headers)


@pytest.fixture
def fake() -> FakeSageMakerRuntime:
    return FakeSageMakerRuntime([EP], credentials={KEY: (SECRET, TOKEN)}, account_id="111122223333")


async def call(fake: FakeSageMakerRuntime, endpoint: str, body: Any, **kw: Any) -> tuple[int, Any]:
    resp = await fake.handle(request(endpoint, body, **kw))
    return resp.status, resp.json_body()


def norm(v: list[float]) -> float:
    return math.sqrt(sum(x * x for x in v))


def model_error(endpoint: str, status: int, original: str, *, region: str = REGION,
                account: str = "111122223333") -> dict[str, Any]:
    kind = "client" if status < 500 else "server"
    group = f"/aws/sagemaker/Endpoints/{endpoint}"
    return {
        "ErrorCode": "CLIENT_ERROR_FROM_MODEL" if kind == "client" else "SERVER_ERROR_FROM_MODEL",
        "LogStreamArn": f"arn:aws:logs:{region}:{account}:log-group:{group}",
        "Message": (f'Received {kind} error ({status}) from primary with message "{original}". See '
                    f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
                    f"#logEventViewer:group={group} in account {account} for more information."),
        "OriginalMessage": original,
        "OriginalStatusCode": status,
    }


# ----------------------------------------------------------------- identity


def test_identity_hosts_and_matching(fake: FakeSageMakerRuntime) -> None:
    assert fake.name == "sagemaker"
    assert isinstance(fake, FakeProvider)
    assert isinstance(fake.recorder, Recorder) and isinstance(fake.script, Script)
    assert "runtime.sagemaker.us-west-2.amazonaws.com" in fake.hosts
    assert all("*" not in h for h in fake.hosts)
    assert fake.matches("runtime.sagemaker.eu-central-1.amazonaws.com")
    assert not fake.matches("runtime.sagemaker.zz-nowhere-1.amazonaws.com")
    assert not fake.matches("sagemaker.us-west-2.amazonaws.com")
    assert not fake.matches("bedrock-runtime.us-west-2.amazonaws.com")
    assert fake.endpoint_names == (EP,)


# ------------------------------------------------------- default endpoint


async def test_seed_connector_request_is_answered(fake: FakeSageMakerRuntime) -> None:
    # What the seed's sagemaker connector sends: '["hello world"]', signed with a session token.
    resp = await fake.handle(request(EP, None, raw=b'["hello world"]'))
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "application/json"
    assert resp.headers["x-Amzn-Invoked-Production-Variant"] == "AllTraffic"
    assert re.fullmatch(r"[0-9a-f-]{36}", resp.headers["x-amzn-RequestId"])
    [vector] = resp.json_body()
    assert len(vector) == 384 and abs(norm(vector) - 1) < 1e-6
    assert resp.body.startswith(b"[[")


async def test_embedding_is_deterministic_and_batched(fake: FakeSageMakerRuntime) -> None:
    status, out = await call(fake, EP, ["a", "b", "a"])
    assert status == 200 and len(out) == 3
    assert out[0] == out[2] != out[1]
    again = FakeSageMakerRuntime([EP])
    _, same = await call(again, EP, ["a"])
    assert same[0] == out[0]


async def test_endpoint_dimensions_and_input_shapes() -> None:
    fake = FakeSageMakerRuntime({"small": 8, "tei": None, "js": 16})
    assert fake.endpoint_names == ("js", "small", "tei")
    status, out = await call(fake, "small", ["x"], token=None)
    assert status == 200 and len(out[0]) == 8
    _, tei = await call(fake, "tei", {"inputs": "x"}, token=None)
    assert len(tei) == 1 and len(tei[0]) == 384
    _, tei_batch = await call(fake, "tei", {"inputs": ["x", "y"]}, token=None)
    assert len(tei_batch) == 2 and tei_batch[0] == tei[0]
    _, js = await call(fake, "js", {"text_inputs": ["x", "y"], "mode": "embedding"}, token=None)
    assert list(js) == ["embedding"] and [len(v) for v in js["embedding"]] == [16, 16]


@pytest.mark.parametrize(
    "raw,content_type,status,message",
    [
        (b"not json", "application/json", 400,
         '{"code":400,"type":"BadRequest","message":"Invalid JSON input: Expecting value: line 1 column 1 (char 0)"}'),
        (b"[]", "application/json", 400,
         '{"code":400,"type":"BadRequest","message":"\'body\' must be a string or a non-empty list of strings"}'),
        (b"[1, 2]", "application/json", 400,
         '{"code":400,"type":"BadRequest","message":"\'body\' must be a string or a non-empty list of strings"}'),
        (b'{"text": "x"}', "application/json", 400,
         ('{"code":400,"type":"BadRequest","message":"Request body must be a list of strings or contain '
         '\'inputs\' or \'text_inputs\'"}')),
        (b"hello", "text/plain", 415,
         ('{"code":415,"type":"UnsupportedMediaType","message":"Content type text/plain is not supported by '
         'this endpoint"}')),
    ],
)
async def test_unusable_input_is_a_model_error(fake: FakeSageMakerRuntime, raw: bytes, content_type: str,
                                               status: int, message: str) -> None:
    resp = await fake.handle(request(EP, None, raw=raw, content_type=content_type))
    assert resp.status == 424
    assert resp.headers["x-amzn-ErrorType"] == "ModelError:" + SM_NS
    assert resp.json_body() == model_error(EP, status, message)
    assert list(resp.json_body()) == ["ErrorCode", "LogStreamArn", "Message", "OriginalMessage", "OriginalStatusCode"]


# ---------------------------------------------------------- unknown endpoint


async def test_unknown_endpoint_is_validation_error(fake: FakeSageMakerRuntime) -> None:
    resp = await fake.handle(request("no-such-endpoint", ["x"]))
    assert resp.status == 400
    assert resp.headers["x-amzn-ErrorType"] == "ValidationError:" + SM_NS
    assert resp.body == b'{"Message":"Endpoint no-such-endpoint of account 111122223333 not found."}'


async def test_endpoint_name_constraints(fake: FakeSageMakerRuntime) -> None:
    status, body = await call(fake, "bad_name", ["x"])
    assert (status, body) == (400, {"Message": (
        "1 validation error detected: Value 'bad_name' at 'endpointName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9])*")})
    status, body = await call(fake, "a" * 64, ["x"])
    assert status == 400 and body["Message"].endswith("Member must have length less than or equal to 63")
    with pytest.raises(ValueError):
        fake.register_endpoint("bad_name")


async def test_accept_any_endpoint_and_regional_endpoints() -> None:
    fake = FakeSageMakerRuntime(accept_any_endpoint=True)
    status, out = await call(fake, "anything", ["x"], token=None)
    assert status == 200 and len(out[0]) == 384
    regional = FakeSageMakerRuntime()
    regional.register_endpoint("ep", region="eu-west-1")
    assert (await call(regional, "ep", ["x"], region="eu-west-1", token=None))[0] == 200
    status, body = await call(regional, "ep", ["x"], region="us-east-1", token=None)
    assert (status, body) == (400, {"Message": "Endpoint ep of account 123456789012 not found."})
    regional.remove_endpoint("ep", region="eu-west-1")
    assert (await call(regional, "ep", ["x"], region="eu-west-1", token=None))[0] == 400


async def test_unknown_operations(fake: FakeSageMakerRuntime) -> None:
    url = f"https://runtime.sagemaker.{REGION}.amazonaws.com/endpoints/{EP}"
    signed = sign_request("POST", url, b"[]", access_key=KEY, secret_key=SECRET, region=REGION,
                          service="sagemaker", session_token=TOKEN)
    resp = await fake.handle(signed)
    assert resp.status == 404 and resp.headers["x-amzn-ErrorType"].startswith("UnknownOperationException")


# ------------------------------------------------------------- custom handlers


async def test_custom_handlers() -> None:
    seen: list[Invocation] = []

    def rerank(inv: Invocation) -> Any:
        seen.append(inv)
        docs = inv.json()["texts"]
        return [{"index": i, "score": 1.0 / (i + 1)} for i in range(len(docs))]

    async def text(inv: Invocation) -> Any:
        return "plain answer"

    def failing(inv: Invocation) -> Any:
        return ProviderResponse(500, {"Content-Type": "text/plain"}, b"CUDA out of memory")

    def raising(inv: Invocation) -> Any:
        raise SageMakerModelError(422, "bad input")

    fake = FakeSageMakerRuntime({"rerank": rerank, "text": text, "failing": failing, "raising": raising},
                                account_id="111122223333")
    status, out = await call(fake, "rerank", {"query": "q", "texts": ["a", "b"]}, token=None)
    assert (status, out) == (200, [{"index": 0, "score": 1.0}, {"index": 1, "score": 0.5}])
    [inv] = seen
    assert (inv.endpoint, inv.region, inv.content_type) == ("rerank", REGION, "application/json")

    resp = await fake.handle(request("text", {}, token=None, accept="text/plain"))
    assert (resp.status, resp.body, resp.headers["Content-Type"]) == (200, b"plain answer", "text/plain")

    resp = await fake.handle(request("failing", {}, token=None))
    assert resp.status == 424
    assert resp.json_body() == model_error("failing", 500, "CUDA out of memory")

    resp = await fake.handle(request("raising", {}, token=None))
    assert resp.json_body() == model_error("raising", 422, "bad input")


# ----------------------------------------------------------------------- auth


async def test_wrong_secret_is_403_with_message_body(fake: FakeSageMakerRuntime) -> None:
    resp = await fake.handle(request(EP, ["x"], secret="a-different-secret"))
    assert resp.status == 403
    assert resp.headers["x-amzn-ErrorType"] == (
        "InvalidSignatureException:http://internal.amazon.com/coral/com.amazon.coral.service/")
    # ML Commons reports it as: Error from remote service: {"message":"The request signature ...
    assert resp.body.startswith(b'{"message":"The request signature we calculated does not match')


async def test_session_token_and_service_scope(fake: FakeSageMakerRuntime) -> None:
    status, body = await call(fake, EP, ["x"], token=None)
    assert (status, body) == (403, {"message": "The security token included in the request is invalid."})
    status, body = await call(fake, EP, ["x"], service="bedrock")
    assert (status, body) == (403, {"message": "Credential should be scoped to correct service: 'sagemaker'. "})


# ----------------------------------------------------------- faults / script


async def test_throttling_helper_matches_what_ml_commons_sees(fake: FakeSageMakerRuntime) -> None:
    throttle = FakeSageMakerRuntime.throttling_response()
    assert throttle.status == 400
    assert throttle.headers["x-amzn-ErrorType"].startswith("ThrottlingException")
    assert throttle.headers["x-amzn-ErrorType"] == (
        "ThrottlingException:http://internal.amazon.com/coral/com.amazon.coral.availability/")
    assert throttle.body == b'{"message":null}'
    fake.script.enqueue(throttle)
    resp = await fake.handle(request(EP, ["x"]))
    assert resp is throttle
    assert (await fake.handle(request(EP, ["x"]))).status == 200
    assert len(fake.recorder) == 2 and fake.recorder.last.path == f"/endpoints/{EP}/invocations"


async def test_canned_errors() -> None:
    resp = FakeSageMakerRuntime.model_error_response("ep", 500, "boom", region="eu-west-1", account_id="999")
    assert resp.status == 424
    assert resp.json_body() == model_error("ep", 500, "boom", region="eu-west-1", account="999")
    resp = FakeSageMakerRuntime.endpoint_not_found_response("ep", "999")
    assert (resp.status, resp.body) == (400, b'{"Message":"Endpoint ep of account 999 not found."}')
    assert FakeSageMakerRuntime.service_unavailable_response().status == 503
    assert FakeSageMakerRuntime.internal_failure_response().headers["x-amzn-ErrorType"].startswith("InternalFailure")
    assert FakeSageMakerRuntime.model_not_ready_response().status == 429


async def test_delay(fake: FakeSageMakerRuntime) -> None:
    fake.script.enqueue(FakeSageMakerRuntime.delay(0.05))
    start = time.monotonic()
    resp = await fake.handle(request(EP, ["x"]))
    assert resp.status == 200 and time.monotonic() - start >= 0.045


# ------------------------------------------------------------------ HTTP


async def test_over_loopback_http(fake: FakeSageMakerRuntime) -> None:
    async with TestClient(TestServer(make_app(fake))) as client:
        path = f"/endpoints/{EP}/invocations"
        signed = sign_request("POST", str(client.make_url(path)), b'["hi"]', access_key=KEY, secret_key=SECRET,
                              region=REGION, service="sagemaker", session_token=TOKEN,
                              headers={"content-type": "application/json"})
        resp = await client.post(path, data=signed.body, headers=dict(signed.headers))
        assert resp.status == 200
        assert len((await resp.json())[0]) == 384


# ---------------------------------------------- through the connector runtime


async def test_emulator_predict_through_the_fake(emulator) -> None:
    from tests.seed import body

    fake = FakeSageMakerRuntime([EP], credentials={KEY: (SECRET, TOKEN)})
    emulator.context.transport.add(fake)
    await emulator.request("PUT", "/_cluster/settings", body("trusted_endpoints"))
    connector_id = (await emulator.request("POST", "/_plugins/_ml/connectors/_create",
                                           body("sagemaker_connector"))).body["connector_id"]
    model_id = (await emulator.request("POST", "/_plugins/_ml/models/_register", {
        "name": "sm", "function_name": "remote", "connector_id": connector_id})).body["model_id"]
    r = await emulator.request("POST", f"/_plugins/_ml/models/{model_id}/_predict",
                               {"parameters": {"inputs": "hello world"}})
    assert r.status == 200, r.body
    [vector] = r.body["inference_results"][0]["output"][0]["dataAsMap"]["response"]
    assert len(vector) == 384
    assert fake.recorder.last.body == b'["hello world"]'

    fake.script.enqueue(FakeSageMakerRuntime.throttling_response())
    r = await emulator.request("POST", f"/_plugins/_ml/models/{model_id}/_predict",
                               {"parameters": {"inputs": "hello world"}})
    assert r.status == 400
    assert r.body["error"]["type"] == "remote_connector_throttling_exception"
