"""Unit tests for the fake Amazon Bedrock runtime (InvokeModel, Converse, agent-runtime Rerank)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import re
import time
from typing import Any
from urllib.parse import quote

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
from mlcommons_emu.providers.bedrock import FakeBedrockRuntime

KEY, SECRET = "AKIAEXAMPLEACCESSKEY", "example-secret-key"
REGION = "us-east-1"
HOST = f"https://bedrock-runtime.{REGION}.amazonaws.com"
BEDROCK_NS = "http://internal.amazon.com/coral/com.amazon.bedrock/"
CORAL_NS = "http://internal.amazon.com/coral/com.amazon.coral.service/"
TITAN_V1 = "amazon.titan-embed-text-v1"
TITAN_V2 = "amazon.titan-embed-text-v2:0"
TITAN_MM = "amazon.titan-embed-image-v1"
COHERE = "cohere.embed-english-v3"
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
CLAUDE_V2 = "anthropic.claude-v2"
SONNET4 = "anthropic.claude-sonnet-4-20250514-v1:0"
# 1x1 transparent PNG
PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)).decode()


def malformed(detail: str) -> dict[str, str]:
    return {"message": f"Malformed input request: {detail}, please reformat your input and try again."}


def request(path: str, body: Any, *, secret: str = SECRET, region: str = REGION, host: str | None = None,
            raw: bytes | None = None, method: str = "POST", key: str = KEY) -> ProviderRequest:
    url = (host or f"https://bedrock-runtime.{region}.amazonaws.com") + path
    data = raw if raw is not None else json.dumps(body).encode()
    return sign_request(method, url, data, access_key=key, secret_key=secret, region=region,
                        service="bedrock",
                        headers={"content-type": "application/json", "x-amz-content-sha256": "required"})


@pytest.fixture
def fake() -> FakeBedrockRuntime:
    return FakeBedrockRuntime(credentials={KEY: SECRET})


async def invoke(fake: FakeBedrockRuntime, model: str, body: Any, **kw: Any) -> tuple[int, Any]:
    resp = await fake.handle(request(f"/model/{model}/invoke", body, **kw))
    return resp.status, resp.json_body()


async def converse(fake: FakeBedrockRuntime, model: str, body: Any, **kw: Any) -> tuple[int, Any]:
    resp = await fake.handle(request(f"/model/{model}/converse", body, **kw))
    return resp.status, resp.json_body()


def norm(v: list[float]) -> float:
    return math.sqrt(sum(x * x for x in v))


def claude_body(content: Any = "Hello Claude", **extra: Any) -> dict[str, Any]:
    return {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 200,
            "messages": [{"role": "user", "content": content}], **extra}


# ----------------------------------------------------------------- identity


def test_identity_hosts_and_matching(fake: FakeBedrockRuntime) -> None:
    assert fake.name == "bedrock"
    assert isinstance(fake, FakeProvider)
    assert isinstance(fake.recorder, Recorder) and isinstance(fake.script, Script)
    assert "bedrock-runtime.us-east-1.amazonaws.com" in fake.hosts
    assert "bedrock-agent-runtime.eu-central-1.amazonaws.com" in fake.hosts
    assert all("*" not in h for h in fake.hosts)
    assert fake.matches("bedrock-runtime.ap-northeast-1.amazonaws.com")
    assert fake.matches("BEDROCK-AGENT-RUNTIME.us-west-2.amazonaws.com")
    assert not fake.matches("bedrock-runtime.xx-nowhere-9.amazonaws.com")
    assert not fake.matches("bedrock.us-east-1.amazonaws.com")
    assert not fake.matches("runtime.sagemaker.us-east-1.amazonaws.com")
    extra = FakeBedrockRuntime(regions=["xx-test-1"])
    assert extra.matches("bedrock-runtime.xx-test-1.amazonaws.com")
    assert "bedrock-runtime.xx-test-1.amazonaws.com" in extra.hosts


# --------------------------------------------------------------- auth


async def test_wrong_secret_is_403_invalid_signature(fake: FakeBedrockRuntime) -> None:
    resp = await fake.handle(request(f"/model/{TITAN_V2}/invoke", {"inputText": "x"}, secret="wrong"))
    assert resp.status == 403
    assert resp.headers["x-amzn-ErrorType"] == "InvalidSignatureException:" + CORAL_NS
    assert re.fullmatch(r"[0-9a-f-]{36}", resp.headers["x-amzn-RequestId"])
    assert resp.json_body() == {"message": (
        "The request signature we calculated does not match the signature you provided. Check your AWS "
        "Secret Access Key and signing method. Consult the service documentation for details.")}


async def test_unknown_key_unsigned_and_wrong_region(fake: FakeBedrockRuntime) -> None:
    resp = await fake.handle(request(f"/model/{TITAN_V2}/invoke", {"inputText": "x"}, key="AKIAUNKNOWN"))
    assert resp.status == 403
    assert resp.headers["x-amzn-ErrorType"].startswith("UnrecognizedClientException:")
    assert resp.json_body() == {"message": "The security token included in the request is invalid."}

    unsigned = ProviderRequest("POST", HOST + f"/model/{TITAN_V2}/invoke", {"content-type": "application/json"},
                               b'{"inputText":"x"}')
    resp = await fake.handle(unsigned)
    assert resp.status == 403
    assert resp.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException:" + CORAL_NS
    assert resp.body == b'{"message":"Missing Authentication Token"}'

    # Signed for us-west-2 but sent to the us-east-1 endpoint.
    signed = request(f"/model/{TITAN_V2}/invoke", {"inputText": "x"}, region="us-west-2")
    moved = ProviderRequest("POST", signed.url.replace("us-west-2", REGION), signed.headers, signed.body)
    resp = await fake.handle(moved)
    assert resp.status == 403
    assert resp.json_body() == {"message": "Credential should be scoped to a valid region, not 'us-west-2'. "}


async def test_default_fake_accepts_any_key_but_checks_the_clock() -> None:
    fake = FakeBedrockRuntime(clock=lambda: dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
    resp = await fake.handle(request(f"/model/{TITAN_V2}/invoke", {"inputText": "x"}, key="AKIAANY"))
    assert resp.status == 403
    assert resp.json_body()["message"].startswith("Signature expired: ")
    assert (await FakeBedrockRuntime().handle(
        request(f"/model/{TITAN_V2}/invoke", {"inputText": "x"}, key="AKIAANY", secret="s"))).status == 200


# -------------------------------------------------------- Titan text v1/v2


async def test_titan_v1_shape(fake: FakeBedrockRuntime) -> None:
    resp = await fake.handle(request(f"/model/{TITAN_V1}/invoke", {"inputText": "hello world"}))
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "application/json"
    assert resp.headers["X-Amzn-Bedrock-Input-Token-Count"] == "2"
    assert int(resp.headers["X-Amzn-Bedrock-Invocation-Latency"]) > 0
    body = resp.json_body()
    assert list(body) == ["embedding", "inputTextTokenCount"]
    assert len(body["embedding"]) == 1536
    assert abs(norm(body["embedding"]) - 1) < 1e-6
    assert body["inputTextTokenCount"] == 2
    assert resp.body.startswith(b'{"embedding":[')  # compact JSON like AWS


async def test_titan_is_deterministic_and_input_sensitive(fake: FakeBedrockRuntime) -> None:
    a = await fake.handle(request(f"/model/{TITAN_V2}/invoke", {"inputText": "hello"}))
    b = await FakeBedrockRuntime().handle(request(f"/model/{TITAN_V2}/invoke", {"inputText": "hello"}))
    c = await fake.handle(request(f"/model/{TITAN_V2}/invoke", {"inputText": "hello!"}))
    assert a.body == b.body
    assert a.headers["x-amzn-RequestId"] == b.headers["x-amzn-RequestId"]
    assert a.json_body()["embedding"] != c.json_body()["embedding"]
    v1 = (await invoke(fake, TITAN_V1, {"inputText": "hello"}))[1]["embedding"]
    assert v1[:5] != a.json_body()["embedding"][:5]


async def test_titan_v1_rejects_v2_parameters(fake: FakeBedrockRuntime) -> None:
    status, body = await invoke(fake, TITAN_V1, {"inputText": "x", "dimensions": 256})
    assert status == 400
    assert body == malformed("#: extraneous key [dimensions] is not permitted")


async def test_titan_v2_defaults_dimensions_normalize_and_types(fake: FakeBedrockRuntime) -> None:
    status, body = await invoke(fake, TITAN_V2, {"inputText": "the quick brown fox"})
    assert status == 200
    assert list(body) == ["embedding", "embeddingsByType", "inputTextTokenCount"]
    assert len(body["embedding"]) == 1024 and body["embeddingsByType"] == {"float": body["embedding"]}
    assert body["inputTextTokenCount"] == 4
    full = body["embedding"]

    _, small = await invoke(fake, TITAN_V2, {"inputText": "the quick brown fox", "dimensions": 256})
    assert len(small["embedding"]) == 256 and abs(norm(small["embedding"]) - 1) < 1e-6
    # Shortened vectors are the renormalised prefix of the full one.
    scale = small["embedding"][0] / full[0]
    assert all(abs(s - f * scale) < 1e-6 for s, f in zip(small["embedding"], full))

    _, raw = await invoke(fake, TITAN_V2, {"inputText": "the quick brown fox", "normalize": False})
    assert abs(norm(raw["embedding"]) - 1) > 1e-3

    _, both = await invoke(fake, TITAN_V2, {"inputText": "x", "dimensions": 512,
                                            "embeddingTypes": ["float", "binary"]})
    floats, bits = both["embeddingsByType"]["float"], both["embeddingsByType"]["binary"]
    assert len(floats) == len(bits) == 512
    assert bits == [1 if f > 0 else 0 for f in floats]
    _, only_binary = await invoke(fake, TITAN_V2, {"inputText": "x", "embeddingTypes": ["binary"]})
    assert list(only_binary["embeddingsByType"]) == ["binary"]


@pytest.mark.parametrize(
    "body,detail",
    [
        ({}, "#: required key [inputText] not found"),
        ({"inputText": 5}, "#/inputText: expected type: String, found: Integer"),
        ({"inputText": ""}, "#/inputText: expected minLength: 1, actual: 0"),
        ({"inputText": "x", "dimensions": 300}, "#/dimensions: 300 is not a valid enum value"),
        ({"inputText": "x", "dimensions": "256"}, "#/dimensions: expected type: Integer, found: String"),
        ({"inputText": "x", "normalize": "yes"}, "#/normalize: expected type: Boolean, found: String"),
        ({"inputText": "x", "embeddingTypes": ["int8"]}, "#/embeddingTypes/0: int8 is not a valid enum value"),
        ({"inputText": "x", "embeddingTypes": []}, "#/embeddingTypes: expected minimum item count: 1, found: 0"),
        ({"input": "x"}, "#: required key [inputText] not found#: extraneous key [input] is not permitted"),
    ],
)
async def test_titan_v2_validation(fake: FakeBedrockRuntime, body: dict, detail: str) -> None:
    resp = await fake.handle(request(f"/model/{TITAN_V2}/invoke", body))
    assert resp.status == 400
    assert resp.headers["x-amzn-ErrorType"] == "ValidationException:" + BEDROCK_NS
    assert resp.json_body() == malformed(detail)


async def test_titan_token_limit(fake: FakeBedrockRuntime) -> None:
    status, body = await invoke(fake, TITAN_V1, {"inputText": "word " * 8193})
    assert status == 400
    assert body == {"message": "400 Bad Request: Too many input tokens. Max input tokens: 8192, "
                               "request input token count: 8193 "}


async def test_unparsable_bodies(fake: FakeBedrockRuntime) -> None:
    status, body = await invoke(fake, TITAN_V2, None, raw=b'{"inputText": "a "b"}')
    assert status == 400
    assert body["message"].startswith("Malformed input request: ")
    assert body["message"].endswith(", please reformat your input and try again.")
    status, body = await invoke(fake, TITAN_V2, None, raw=b'["x"]')
    assert body == malformed("A JSONObject text must begin with '{' at 1 [character 2 line 1]")
    status, body = await invoke(fake, TITAN_V2, None, raw=b"")
    assert body == malformed("A JSONObject text must begin with '{' at 0 [character 1 line 1]")
    status, body = await invoke(fake, TITAN_V2, None, raw=b'{"inputText": NaN}')
    assert status == 400 and body["message"].startswith("Malformed input request: ")


# --------------------------------------------------- model ids and access


async def test_unknown_model_and_model_access(fake: FakeBedrockRuntime) -> None:
    status, body = await invoke(fake, "amazon.titan-embed-text-v9:0", {"inputText": "x"})
    assert (status, body) == (400, {"message": "The provided model identifier is invalid."})
    denied = FakeBedrockRuntime(denied_models=[TITAN_V2])
    resp = await denied.handle(request(f"/model/{TITAN_V2}/invoke", {"inputText": "x"}))
    assert resp.status == 403
    assert resp.headers["x-amzn-ErrorType"] == "AccessDeniedException:" + BEDROCK_NS
    assert resp.json_body() == {"message": "You don't have access to the model with the specified model ID."}
    retired = FakeBedrockRuntime(retired_models=[CLAUDE_V2])
    resp = await retired.handle(request(f"/model/{CLAUDE_V2}/invoke", claude_body()))
    assert resp.status == 404
    assert resp.headers["x-amzn-ErrorType"] == "ResourceNotFoundException:" + BEDROCK_NS
    assert resp.json_body() == {"message": "This model version has reached the end of its life. Please refer to "
                                           "the AWS documentation for more details."}


async def test_model_arn_and_url_encoded_ids(fake: FakeBedrockRuntime) -> None:
    arn = f"arn:aws:bedrock:{REGION}::foundation-model/{TITAN_V2}"
    status, body = await invoke(fake, quote(arn, safe=""), {"inputText": "x"})
    assert status == 200 and len(body["embedding"]) == 1024
    status, _ = await invoke(fake, quote(TITAN_V2, safe=""), {"inputText": "x"})
    assert status == 200
    wrong_region = f"arn:aws:bedrock:us-west-2::foundation-model/{TITAN_V2}"
    status, body = await invoke(fake, quote(wrong_region, safe=""), {"inputText": "x"})
    assert (status, body["message"]) == (400, "The provided model identifier is invalid.")


async def test_inference_profiles(fake: FakeBedrockRuntime) -> None:
    status, body = await invoke(fake, SONNET4, claude_body())
    assert status == 400
    assert body == {"message": (
        f"Invocation of model ID {SONNET4} with on-demand throughput isn\u2019t supported. Retry your "
        "request with the ID or ARN of an inference profile that contains this model.")}
    status, body = await invoke(fake, "us." + SONNET4, claude_body())
    assert status == 200
    assert body["model"] == "claude-sonnet-4-20250514"
    assert body["usage"] == {"input_tokens": body["usage"]["input_tokens"], "cache_creation_input_tokens": 0,
                             "cache_read_input_tokens": 0, "output_tokens": body["usage"]["output_tokens"]}
    status, body = await invoke(fake, "eu." + SONNET4, claude_body())
    assert (status, body["message"]) == (400, "The provided model identifier is invalid.")
    status, _ = await invoke(fake, "eu." + SONNET4, claude_body(), region="eu-west-1")
    assert status == 200
    status, _ = await invoke(fake, "us." + TITAN_V2, {"inputText": "x"})
    assert status == 400


async def test_unknown_operations(fake: FakeBedrockRuntime) -> None:
    resp = await fake.handle(request("/models", {}))
    assert resp.status == 404
    assert resp.headers["x-amzn-ErrorType"].startswith("UnknownOperationException")
    resp = await fake.handle(request(f"/model/{TITAN_V2}/invoke", None, raw=b"", method="GET"))
    assert resp.status == 404


# ------------------------------------------------------- Titan multimodal


async def test_titan_multimodal(fake: FakeBedrockRuntime) -> None:
    status, text = await invoke(fake, TITAN_MM, {"inputText": "a cat"})
    assert status == 200 and list(text) == ["embedding", "inputTextTokenCount"]
    assert len(text["embedding"]) == 1024 and text["inputTextTokenCount"] == 2
    status, image = await invoke(fake, TITAN_MM, {"inputImage": PNG, "embeddingConfig": {"outputEmbeddingLength": 384}})
    assert status == 200 and len(image["embedding"]) == 384 and image["inputTextTokenCount"] == 0
    _, both = await invoke(fake, TITAN_MM, {"inputText": "a cat", "inputImage": PNG})
    assert both["embedding"] != text["embedding"]
    assert abs(norm(both["embedding"]) - 1) < 1e-6

    status, body = await invoke(fake, TITAN_MM, {})
    assert status == 400 and body == malformed(
        "#: required key [inputText] not found#: required key [inputImage] not found")
    status, body = await invoke(fake, TITAN_MM, {"inputImage": "not base64!"})
    assert status == 400 and "base64" in body["message"]
    status, body = await invoke(fake, TITAN_MM, {"inputText": "x", "embeddingConfig": {"outputEmbeddingLength": 512}})
    assert body == malformed("#/embeddingConfig/outputEmbeddingLength: 512 is not a valid enum value")


# ----------------------------------------------------------- Cohere embed


async def test_cohere_embed_floats(fake: FakeBedrockRuntime) -> None:
    status, body = await invoke(fake, COHERE, {"texts": ["a", "b"], "input_type": "search_document"})
    assert status == 200
    assert list(body) == ["embeddings", "id", "response_type", "texts"]
    assert body["response_type"] == "embeddings_floats"
    assert body["texts"] == ["a", "b"]
    assert [len(v) for v in body["embeddings"]] == [1024, 1024]
    assert re.fullmatch(r"[0-9a-f-]{36}", body["id"])


async def test_cohere_embed_by_type(fake: FakeBedrockRuntime) -> None:
    status, body = await invoke(fake, COHERE, {"texts": ["a"], "input_type": "search_query",
                                               "embedding_types": ["float", "int8", "uint8", "binary", "ubinary"]})
    assert status == 200 and body["response_type"] == "embeddings_by_type"
    e = body["embeddings"]
    assert list(e) == ["float", "int8", "uint8", "binary", "ubinary"]
    assert len(e["float"][0]) == len(e["int8"][0]) == len(e["uint8"][0]) == 1024
    assert len(e["binary"][0]) == len(e["ubinary"][0]) == 128
    assert all(-128 <= x <= 127 for x in e["int8"][0] + e["binary"][0])
    assert all(0 <= x <= 255 for x in e["uint8"][0] + e["ubinary"][0])


@pytest.mark.parametrize(
    "body,detail",
    [
        ({"texts": ["a"]}, "#: required key [input_type] not found"),
        ({"texts": ["a"], "input_type": "query"}, "#/input_type: query is not a valid enum value"),
        ({"texts": ["a"] * 97, "input_type": "clustering"},
         "#/texts: expected maximum item count: 96, found: 97"),
        ({"texts": "a", "input_type": "clustering"}, "#/texts: expected type: JSONArray, found: String"),
        ({"input_type": "clustering"}, "#: required key [texts] not found"),
        ({"texts": ["a"], "input_type": "clustering", "output_dimension": 256},
         "#: extraneous key [output_dimension] is not permitted"),
    ],
)
async def test_cohere_embed_validation(fake: FakeBedrockRuntime, body: dict, detail: str) -> None:
    status, out = await invoke(fake, COHERE, body)
    assert (status, out) == (400, malformed(detail))


async def test_cohere_v4_output_dimension(fake: FakeBedrockRuntime) -> None:
    status, body = await invoke(fake, "cohere.embed-v4:0", {"texts": ["a"], "input_type": "search_document"})
    assert status == 200 and len(body["embeddings"][0]) == 1536
    status, body = await invoke(fake, "cohere.embed-v4:0", {"texts": ["a"], "input_type": "search_document",
                                                            "output_dimension": 256})
    assert len(body["embeddings"][0]) == 256


# ------------------------------------------------------ Anthropic messages


async def test_claude_messages_shape(fake: FakeBedrockRuntime) -> None:
    resp = await fake.handle(request(f"/model/{HAIKU}/invoke", claude_body("What is OpenSearch?")))
    assert resp.status == 200
    body = resp.json_body()
    assert list(body) == ["id", "type", "role", "model", "content", "stop_reason", "stop_sequence", "usage"]
    assert re.fullmatch(r"msg_bdrk_01[0-9A-Za-z]{22}", body["id"])
    assert (body["type"], body["role"], body["model"]) == ("message", "assistant", "claude-3-haiku-20240307")
    assert body["content"] == [{"type": "text", "text": 'This is a deterministic reply to: "What is OpenSearch?"'}]
    assert (body["stop_reason"], body["stop_sequence"]) == ("end_turn", None)
    assert list(body["usage"]) == ["input_tokens", "output_tokens"]
    assert resp.headers["X-Amzn-Bedrock-Output-Token-Count"] == str(body["usage"]["output_tokens"])
    again = await fake.handle(request(f"/model/{HAIKU}/invoke", claude_body("What is OpenSearch?")))
    assert again.body == resp.body


async def test_claude_messages_content_blocks_system_and_stops(fake: FakeBedrockRuntime) -> None:
    blocks = [{"type": "text", "text": "Describe this"},
              {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}]
    status, body = await invoke(fake, HAIKU, claude_body(blocks, system="Be brief", temperature=0.2))
    assert status == 200 and "Describe this" in body["content"][0]["text"]
    status, body = await invoke(fake, HAIKU, claude_body("hello", stop_sequences=["reply"]))
    assert (body["stop_reason"], body["stop_sequence"]) == ("stop_sequence", "reply")
    assert body["content"][0]["text"] == "This is a deterministic "
    status, body = await invoke(fake, HAIKU, claude_body("hello", max_tokens=3))
    assert body["stop_reason"] == "max_tokens" and body["usage"]["output_tokens"] == 3


async def test_claude_tool_choice(fake: FakeBedrockRuntime) -> None:
    tools = [{"name": "search", "description": "d",
              "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}}]
    status, body = await invoke(fake, HAIKU, claude_body("find cats", tools=tools,
                                                         tool_choice={"type": "tool", "name": "search"}))
    assert status == 200 and body["stop_reason"] == "tool_use"
    [block] = body["content"]
    assert block["type"] == "tool_use" and block["name"] == "search" and block["input"] == {"query": "find cats"}
    assert block["id"].startswith("toolu_bdrk_01")


@pytest.mark.parametrize(
    "body,message",
    [
        ({"max_tokens": 10, "messages": [{"role": "user", "content": "x"}]},
         malformed("#: required key [anthropic_version] not found")["message"]),
        ({"anthropic_version": "bedrock-2023-05-31", "messages": [{"role": "user", "content": "x"}]},
         malformed("#: required key [max_tokens] not found")["message"]),
        (claude_body(model="claude-3-haiku"), malformed("#: extraneous key [model] is not permitted")["message"]),
        (claude_body(stream=True), malformed("#: extraneous key [stream] is not permitted")["message"]),
        (claude_body(anthropic_version="2023-06-01"),
         malformed("#/anthropic_version: 2023-06-01 is not a valid enum value")["message"]),
        (claude_body(max_tokens="100"), malformed("#/max_tokens: expected type: Integer, found: String")["message"]),
        (claude_body(max_tokens=5000),
         "max_tokens: 5000 > 4096, which is the maximum allowed number of output tokens for claude-3-haiku-20240307"),
        (claude_body(temperature=1.5), "temperature: range: 0..1"),
        ({**claude_body(), "messages": []}, "messages: at least one message is required"),
        ({**claude_body(), "messages": [{"role": "assistant", "content": "hi"}]},
         'messages: first message must use the "user" role'),
        ({**claude_body(), "messages": [{"role": "system", "content": "hi"}]},
         "messages.0.role: Input should be 'user' or 'assistant'"),
        (claude_body(""), ("messages.0: all messages must have non-empty content except for the optional final "
                          "assistant message")),
        (claude_body([{"type": "text", "text": " "}]), "messages: text content blocks must contain non-whitespace text"),
    ],
)
async def test_claude_messages_validation(fake: FakeBedrockRuntime, body: dict, message: str) -> None:
    resp = await fake.handle(request(f"/model/{HAIKU}/invoke", body))
    assert resp.status == 400
    assert resp.headers["x-amzn-ErrorType"] == "ValidationException:" + BEDROCK_NS
    assert resp.json_body() == {"message": message}


async def test_claude_3_refuses_text_completions(fake: FakeBedrockRuntime) -> None:
    status, body = await invoke(fake, HAIKU, {"prompt": "\n\nHuman: hi\n\nAssistant:", "max_tokens_to_sample": 10})
    assert (status, body) == (400, {"message": '"claude-3-haiku-20240307" is not supported on this API. '
                                               "Please use the Messages API instead."})


# ------------------------------------------------------- Claude v2 legacy


async def test_claude_v2_text_completion(fake: FakeBedrockRuntime) -> None:
    prompt = "\n\nHuman: Tell me about OpenSearch\n\nAssistant:"
    status, body = await invoke(fake, CLAUDE_V2, {"prompt": prompt, "max_tokens_to_sample": 300,
                                                  "temperature": 0.5, "anthropic_version": "bedrock-2023-05-31"})
    assert status == 200
    assert body == {"completion": ' This is a deterministic reply to: "Tell me about OpenSearch"',
                    "stop_reason": "stop_sequence", "stop": "\n\nHuman:"}
    _, cut = await invoke(fake, CLAUDE_V2, {"prompt": prompt, "max_tokens_to_sample": 2})
    assert cut == {"completion": " This is", "stop_reason": "max_tokens", "stop": None}
    # v2 also speaks the Messages API.
    status, msg = await invoke(fake, CLAUDE_V2, claude_body())
    assert status == 200 and msg["model"] == "claude-2.0"


@pytest.mark.parametrize(
    "body,message",
    [
        ({"prompt": "Tell me a joke", "max_tokens_to_sample": 10},
         'Invalid prompt: prompt must start with "\n\nHuman:" turn after an optional system prompt'),
        ({"prompt": "\n\nHuman: Tell me a joke", "max_tokens_to_sample": 10},
         'Invalid prompt: prompt must end with "\n\nAssistant:" turn'),
        ({"prompt": "\n\nHuman: x\n\nAssistant:"}, malformed("#: required key [max_tokens_to_sample] not found")["message"]),
        ({"prompt": "\n\nHuman: x\n\nAssistant:", "max_tokens": 10},
         malformed("#: required key [max_tokens_to_sample] not found#: extraneous key [max_tokens] is not permitted")["message"]),
    ],
)
async def test_claude_v2_validation(fake: FakeBedrockRuntime, body: dict, message: str) -> None:
    status, out = await invoke(fake, CLAUDE_V2, body)
    assert (status, out) == (400, {"message": message})


# ----------------------------------------------------------------- Converse


async def test_converse_shape(fake: FakeBedrockRuntime) -> None:
    body = {"messages": [{"role": "user", "content": [{"text": "Hello there"}]}],
            "system": [{"text": "be nice"}], "inferenceConfig": {"maxTokens": 100, "temperature": 0.3}}
    status, out = await converse(fake, HAIKU, body)
    assert status == 200
    assert list(out) == ["metrics", "output", "stopReason", "usage"]
    assert out["output"] == {"message": {"content": [{"text": 'This is a deterministic reply to: "Hello there"'}],
                                         "role": "assistant"}}
    assert out["stopReason"] == "end_turn"
    u = out["usage"]
    assert list(u) == ["inputTokens", "outputTokens", "totalTokens"]
    assert u["totalTokens"] == u["inputTokens"] + u["outputTokens"]
    assert isinstance(out["metrics"]["latencyMs"], int)
    _, cut = await converse(fake, HAIKU, {**body, "inferenceConfig": {"maxTokens": 2}})
    assert cut["stopReason"] == "max_tokens"


@pytest.mark.parametrize(
    "model,body,message",
    [
        (TITAN_V2, {"messages": [{"role": "user", "content": [{"text": "x"}]}]},
         "This action doesn't support the model that you provided. Try again with a supported text or chat model."),
        (HAIKU, {"messages": [{"role": "assistant", "content": [{"text": "x"}]}]},
         ("A conversation must start with a user message. Try again with a conversation that starts with a "
         "user message.")),
        (HAIKU, {"messages": [{"role": "user", "content": [{"text": "x"}]},
                              {"role": "user", "content": [{"text": "y"}]}]},
         ("A conversation must alternate between user and assistant roles. Make sure the conversation "
         "alternates between user and assistant roles and try again.")),
        (HAIKU, {"messages": [{"role": "user", "content": []}]},
         ("The content field in the Message object at messages.0 is empty. Add a ContentBlock object to the "
         "content field and try again.")),
        (HAIKU, {"messages": [{"role": "user", "content": [{"text": ""}]}]},
         ("The text field in the ContentBlock object at messages.0.content.0 is blank. Add text to the text "
         "field, and try again.")),
        (HAIKU, {"messages": [{"role": "bot", "content": [{"text": "x"}]}], "inferenceConfig": {"maxTokens": 0}},
         ("2 validation errors detected: Value 'bot' at 'messages.1.member.role' failed to satisfy constraint: "
         "Member must satisfy enum value set: [user, assistant]; Value '0' at 'inferenceConfig.maxTokens' "
         "failed to satisfy constraint: Member must have value greater than or equal to 1")),
        (HAIKU, {"messages": [{"role": "user", "content": [{"text": "x"}]}], "inferenceConfig": {"maxTokens": 9999}},
         ("The maximum tokens you requested exceeds the model limit of 4096. Try again with a maximum tokens "
         "value that is lower than 4096.")),
    ],
)
async def test_converse_validation(fake: FakeBedrockRuntime, model: str, body: dict, message: str) -> None:
    resp = await fake.handle(request(f"/model/{model}/converse", body))
    assert resp.status == 400
    assert resp.headers["x-amzn-ErrorType"] == "ValidationException:" + BEDROCK_NS
    assert resp.json_body() == {"message": message}


# ------------------------------------------------------------------ rerank


async def test_cohere_rerank_invoke(fake: FakeBedrockRuntime) -> None:
    docs = ["Carson City is the capital city of Nevada.", "Washington, D.C. is the capital of the United States.",
            "Capital punishment exists in 30 states.", "Cats sleep a lot."]
    body = {"query": "What is the capital of the United States?", "documents": docs, "api_version": 2}
    status, out = await invoke(fake, "cohere.rerank-v3-5:0", body)
    assert status == 200 and list(out) == ["id", "results"]
    scores = [r["relevance_score"] for r in out["results"]]
    assert scores == sorted(scores, reverse=True)
    assert sorted(r["index"] for r in out["results"]) == [0, 1, 2, 3]
    assert out["results"][0]["index"] == 1
    assert all(0 < s < 1 and isinstance(s, float) for s in scores)
    _, top = await invoke(fake, "cohere.rerank-v3-5:0", {**body, "top_n": 2})
    assert top["results"] == out["results"][:2]
    status, err = await invoke(fake, "cohere.rerank-v3-5:0", {"query": "q", "documents": ["d"]})
    assert (status, err) == (400, malformed("#: required key [api_version] not found"))


async def test_amazon_rerank_invoke(fake: FakeBedrockRuntime) -> None:
    status, out = await invoke(fake, "amazon.rerank-v1:0", {"query": "q", "documents": ["q", "z"]})
    assert status == 200 and list(out) == ["results"]
    assert [r["index"] for r in out["results"]] == [0, 1]
    assert set(out["results"][0]) == {"index", "relevance_score"}


def rerank_body(*docs: str, model: str = "amazon.rerank-v1:0", region: str = "us-west-2", **cfg: Any) -> dict:
    return {
        "queries": [{"textQuery": {"text": "What is the capital city of America?"}, "type": "TEXT"}],
        "rerankingConfiguration": {
            "bedrockRerankingConfiguration": {
                "modelConfiguration": {"modelArn": f"arn:aws:bedrock:{region}::foundation-model/{model}"}, **cfg},
            "type": "BEDROCK_RERANKING_MODEL"},
        "sources": [{"inlineDocumentSource": {"textDocument": {"text": d}, "type": "TEXT"}, "type": "INLINE"}
                    for d in docs],
    }


async def agent(fake: FakeBedrockRuntime, body: Any, region: str = "us-west-2") -> ProviderResponse:
    return await fake.handle(request("/rerank", body, region=region,
                                     host=f"https://bedrock-agent-runtime.{region}.amazonaws.com"))


async def test_agent_runtime_rerank(fake: FakeBedrockRuntime) -> None:
    docs = ("Carson City is the capital city of the American state of Nevada.",
            "Washington, D.C. is the capital of the United States of America.",
            "Capital punishment has existed in the United States.")
    resp = await agent(fake, rerank_body(*docs))
    assert resp.status == 200
    out = resp.json_body()
    assert list(out) == ["results"]
    assert all(set(r) == {"index", "relevanceScore"} for r in out["results"])
    scores = [r["relevanceScore"] for r in out["results"]]
    assert scores == sorted(scores, reverse=True) and len(scores) == 3
    limited = (await agent(fake, rerank_body(*docs, numberOfResults=1))).json_body()
    assert limited["results"] == out["results"][:1]
    cohere = await agent(fake, rerank_body(*docs, model="cohere.rerank-v3-5:0"))
    assert cohere.status == 200


async def test_agent_runtime_rerank_validation(fake: FakeBedrockRuntime) -> None:
    body = rerank_body("a")
    del body["queries"]
    body["rerankingConfiguration"]["type"] = "OTHER"
    resp = await agent(fake, body)
    assert resp.status == 400
    assert resp.json_body() == {"message": (
        "2 validation errors detected: Value null at 'queries' failed to satisfy constraint: Member must not be "
        "null; Value 'OTHER' at 'rerankingConfiguration.type' failed to satisfy constraint: Member must satisfy "
        "enum value set: [BEDROCK_RERANKING_MODEL]")}
    resp = await agent(fake, {})
    assert resp.json_body()["message"].startswith("3 validation errors detected: Value null at 'queries'")
    resp = await agent(fake, rerank_body("a", model=TITAN_V2))
    assert resp.json_body() == {"message": "The provided model identifier is invalid."}
    resp = await agent(fake, rerank_body())
    assert resp.json_body() == {"message": (
        "1 validation error detected: Value '[]' at 'sources' failed to satisfy constraint: Member must have "
        "length greater than or equal to 1")}
    # The agent-runtime host only serves /rerank.
    resp = await fake.handle(request(f"/model/{TITAN_V2}/invoke", {"inputText": "x"}, region="us-west-2",
                                     host="https://bedrock-agent-runtime.us-west-2.amazonaws.com"))
    assert resp.status == 404


# -------------------------------------------------------- custom models


async def test_registered_custom_model(fake: FakeBedrockRuntime) -> None:
    seen: list[Any] = []

    async def nova(body: Any, req: ProviderRequest) -> Any:
        seen.append(body)
        return {"embeddings": [{"embeddingType": "TEXT", "embedding": [0.5, 0.5]}]}

    fake.register_model("amazon.nova-2-multimodal-embeddings-v1:0", nova)
    status, out = await invoke(fake, "amazon.nova-2-multimodal-embeddings-v1:0", {"taskType": "SINGLE_EMBEDDING"})
    assert status == 200 and out["embeddings"][0]["embedding"] == [0.5, 0.5]
    assert seen == [{"taskType": "SINGLE_EMBEDDING"}]
    fake.register_model("x.custom", lambda body, req: ProviderResponse(418, {}, b"teapot"))
    resp = await fake.handle(request("/model/x.custom/invoke", {}))
    assert (resp.status, resp.body) == (418, b"teapot")


# --------------------------------------------------------- faults / script


async def test_throttling_and_other_canned_errors(fake: FakeBedrockRuntime) -> None:
    fake.script.enqueue(FakeBedrockRuntime.throttling_response(), FakeBedrockRuntime.service_unavailable_response())
    resp = await fake.handle(request(f"/model/{TITAN_V2}/invoke", {"inputText": "x"}))
    assert resp.status == 429
    assert resp.headers["x-amzn-ErrorType"] == "ThrottlingException:" + BEDROCK_NS
    assert resp.headers["x-amzn-ErrorType"].startswith("ThrottlingException")
    assert resp.body == b'{"message":"Too many requests, please wait before trying again."}'
    resp = await fake.handle(request(f"/model/{TITAN_V2}/invoke", {"inputText": "x"}))
    assert (resp.status, resp.json_body()) == (503, {"message": "Bedrock is unable to process your request."})
    resp = await fake.handle(request(f"/model/{TITAN_V2}/invoke", {"inputText": "x"}))
    assert resp.status == 200
    assert len(fake.recorder) == 3
    assert FakeBedrockRuntime.too_many_tokens_response().json_body() == {
        "message": "Too many tokens, please wait before trying again."}
    assert FakeBedrockRuntime.model_timeout_response().status == 408
    assert FakeBedrockRuntime.internal_server_response().status == 500
    assert FakeBedrockRuntime.access_denied_response().status == 403
    assert FakeBedrockRuntime.model_not_ready_response().status == 429
    v = FakeBedrockRuntime.validation_error_response("bad")
    assert (v.status, v.body, v.headers["x-amzn-ErrorType"]) == (400, b'{"message":"bad"}',
                                                                 "ValidationException:" + BEDROCK_NS)


async def test_script_delay_then_normal_or_canned(fake: FakeBedrockRuntime) -> None:
    fake.script.enqueue(FakeBedrockRuntime.delay(0.05),
                        FakeBedrockRuntime.delay(0.01, FakeBedrockRuntime.throttling_response()))
    start = time.monotonic()
    first = await fake.handle(request(f"/model/{TITAN_V2}/invoke", {"inputText": "x"}))
    assert time.monotonic() - start >= 0.045 and first.status == 200
    second = await fake.handle(request(f"/model/{TITAN_V2}/invoke", {"inputText": "x"}))
    assert second.status == 429
    start = time.monotonic()
    for _ in range(20):
        await fake.handle(request(f"/model/{TITAN_V2}/invoke", {"inputText": "x"}))
    assert time.monotonic() - start < 2


# -------------------------------------------------------------- over HTTP


async def test_over_loopback_http() -> None:
    fake = FakeBedrockRuntime(credentials={KEY: SECRET})
    async with TestClient(TestServer(make_app(fake))) as client:
        url = str(client.make_url(f"/model/{TITAN_V2}/invoke"))
        signed = sign_request("POST", url, b'{"inputText":"hello"}', access_key=KEY, secret_key=SECRET,
                              region=REGION, service="bedrock", headers={"content-type": "application/json"})
        resp = await client.post(f"/model/{TITAN_V2}/invoke", data=signed.body,
                                 headers={k: v for k, v in signed.headers.items()})
        assert resp.status == 200
        assert len((await resp.json())["embedding"]) == 1024
        bad = dict(signed.headers)
        bad["Authorization"] = bad["Authorization"][:-4] + "0000"
        resp = await client.post(f"/model/{TITAN_V2}/invoke", data=signed.body, headers=bad)
        assert resp.status == 403
        assert resp.headers["x-amzn-ErrorType"].startswith("InvalidSignatureException:")


# ---------------------------------------------- through the connector runtime


async def test_emulator_titan_blueprint_through_the_fake(emulator) -> None:
    fake = FakeBedrockRuntime(credentials={KEY: (SECRET, "tok")})
    emulator.context.transport.add(fake)
    await emulator.request("PUT", "/_cluster/settings", {"persistent": {
        "plugins.ml_commons.trusted_connector_endpoints_regex": [
            "^https://bedrock-runtime\\..*[a-z0-9-]\\.amazonaws\\.com/.*$"]}})
    connector = {
        "name": "titan", "version": "1", "protocol": "aws_sigv4",
        "parameters": {"region": REGION, "service_name": "bedrock", "model": TITAN_V2},
        "credential": {"access_key": KEY, "secret_key": SECRET, "session_token": "tok"},
        "actions": [{
            "action_type": "predict", "method": "POST",
            "url": "https://bedrock-runtime.${parameters.region}.amazonaws.com/model/${parameters.model}/invoke",
            "headers": {"content-type": "application/json", "x-amz-content-sha256": "required"},
            "request_body": "{ \"inputText\": \"${parameters.inputText}\" }",
            "pre_process_function": "connector.pre_process.bedrock.embedding",
            "post_process_function": "connector.post_process.bedrock.embedding"}],
    }
    r = await emulator.request("POST", "/_plugins/_ml/connectors/_create", connector)
    assert r.status == 200, r.body
    model_id = (await emulator.request("POST", "/_plugins/_ml/models/_register", {
        "name": "titan", "function_name": "remote", "connector_id": r.body["connector_id"]})).body["model_id"]
    r = await emulator.request("POST", f"/_plugins/_ml/models/{model_id}/_predict",
                               {"parameters": {"inputText": "hello world"}})
    assert r.status == 200, r.body
    [tensor] = r.body["inference_results"][0]["output"]
    # With the built-in post-process: one sentence_embedding tensor; raw: the Titan body itself.
    vector = tensor["data"] if tensor["name"] == "sentence_embedding" else tensor["dataAsMap"]["embedding"]
    assert len(vector) == 1024
    assert fake.recorder.last.json() == {"inputText": "hello world"}

    # Bedrock throttling surfaces as ML Commons' throttling exception.
    fake.script.enqueue(FakeBedrockRuntime.throttling_response())
    r = await emulator.request("POST", f"/_plugins/_ml/models/{model_id}/_predict",
                               {"parameters": {"inputText": "hello world"}})
    assert r.status == 429
    assert r.body["error"]["type"] == "remote_connector_throttling_exception"

    # A blueprint whose body Titan does not accept fails as it would against Bedrock.
    connector["actions"][0]["request_body"] = '{ "text": "${parameters.inputText}" }'
    connector_id = (await emulator.request("POST", "/_plugins/_ml/connectors/_create", connector)).body["connector_id"]
    model_id = (await emulator.request("POST", "/_plugins/_ml/models/_register", {
        "name": "titan-bad", "function_name": "remote", "connector_id": connector_id})).body["model_id"]
    r = await emulator.request("POST", f"/_plugins/_ml/models/{model_id}/_predict",
                               {"parameters": {"inputText": "hello world"}})
    assert r.status == 400
    assert r.body["error"]["reason"] == (
        'Error from remote service: {"message":"Malformed input request: #: required key [inputText] not '
        'found#: extraneous key [text] is not permitted, please reformat your input and try again."}')
