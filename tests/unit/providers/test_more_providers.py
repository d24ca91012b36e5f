"""Unit tests for the Gemini, Vertex AI, Comprehend, Textract, Aleph Alpha and Yandex fakes:
routing, authentication, strict validation with each provider's error envelope, response shapes,
determinism, scripted faults and the request journal."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import math
import time
import zlib
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from mlcommons_emu.providers.aleph_alpha import FakeAlephAlpha
from mlcommons_emu.providers.aws import sign_request
from mlcommons_emu.providers.base import FakeProvider, ProviderRequest, ProviderResponse, Recorder, Script, make_app
from mlcommons_emu.providers.comprehend import FakeComprehend
from mlcommons_emu.providers.gemini import FakeGemini
from mlcommons_emu.providers.registry import default_providers, provider_for
from mlcommons_emu.providers.textract import FakeTextract
from mlcommons_emu.providers.vertexai import FakeVertexAI
from mlcommons_emu.providers.yandex import FakeYandex

KEY, SECRET = "AKIAEXAMPLEACCESSKEY", "example-secret-key"
TEMP_KEY, TEMP_SECRET, TOKEN = "ASIAEXAMPLEACCESSKEY", "example-temp-secret", "example-session-token"
REGION = "us-east-1"
JSON11 = "application/x-amz-json-1.1"
# the 110x30 PNG of ML Commons' Textract blueprint (it reads "Hello World!!")
BLUEPRINT_PNG_SHA = "6c712f7e26a17a87188eb3ec02f97842700b64d3ec85fff00d44d6f7ce5421e5"
PNG_1x1 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEElEQVR4nGM4IScHRAwQCgAfJgQRoo8irwAAAABJRU5ErkJggg==")


def norm(v: list[float]) -> float:
    return math.sqrt(sum(x * x for x in v))


def body_of(resp: ProviderResponse) -> Any:
    return resp.json_body()


# ======================================================================== registry


@pytest.mark.parametrize("host, name", [
    ("generativelanguage.googleapis.com", "gemini"),
    ("us-central1-aiplatform.googleapis.com", "vertexai"),
    ("europe-west4-aiplatform.googleapis.com", "vertexai"),
    ("aiplatform.googleapis.com", "vertexai"),
    ("comprehend.us-east-1.amazonaws.com", "comprehend"),
    ("comprehend-fips.us-east-1.amazonaws.com", "comprehend"),
    ("textract.eu-west-1.amazonaws.com", "textract"),
    ("api.aleph-alpha.com", "aleph_alpha"),
    ("llm.api.cloud.yandex.net", "yandex"),
])
def test_default_registry_routes_the_new_hosts(host: str, name: str) -> None:
    provider = provider_for(default_providers(), host)
    assert provider is not None and provider.name == name


@pytest.mark.parametrize("host", ["comprehend.mars-east-1.amazonaws.com", "textract.amazonaws.com",
                                  "moon1-aiplatform.googleapis.com", "aleph-alpha.com", "api.cloud.yandex.net"])
def test_lookalike_hosts_are_not_routed(host: str) -> None:
    assert provider_for(default_providers(), host) is None


@pytest.mark.parametrize("cls", [FakeGemini, FakeVertexAI, FakeComprehend, FakeTextract, FakeAlephAlpha, FakeYandex])
def test_fakes_follow_the_provider_protocol(cls: type) -> None:
    fake = cls()
    assert isinstance(fake, FakeProvider)
    assert isinstance(fake.recorder, Recorder) and isinstance(fake.script, Script)
    assert fake.hosts and all(fake.matches(h) for h in fake.hosts[:3])


def test_default_trusted_endpoints_cover_gemini_comprehend_and_textract_only() -> None:
    """The defaults are the plugin's: tests and users add Vertex, Aleph Alpha and Yandex themselves."""
    import re

    from mlcommons_emu.domain.release import Release
    from mlcommons_emu.domain.settings import trusted_endpoints_default

    regexes = trusted_endpoints_default(Release.of("3.8.0"))

    def trusted(url: str) -> bool:
        return any(re.match(r, url) for r in regexes)

    assert trusted("https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:generateContent")
    assert trusted("https://comprehend.us-east-1.amazonaws.com")
    assert trusted("https://textract.us-west-2.amazonaws.com")
    assert not trusted("https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/l/x")
    assert not trusted("https://api.aleph-alpha.com/semantic_embed")
    assert not trusted("https://llm.api.cloud.yandex.net/foundationModels/v1/textEmbedding")
    old = trusted_endpoints_default(Release.of("3.4.0"))
    assert not any(re.match(r, "https://generativelanguage.googleapis.com/v1beta/x") for r in old)


# ========================================================================== Gemini

GEMINI = "https://generativelanguage.googleapis.com/v1beta/models/"
GKEY = {"x-goog-api-key": "AIza-test", "Content-Type": "application/json"}


def chat_body(text: str = "What is OpenSearch?", **extra: Any) -> dict[str, Any]:
    return {"contents": [{"role": "user", "parts": [{"text": text}]}], **extra}


async def gemini(fake: FakeGemini, path: str, body: Any, headers: dict[str, str] | None = None,
                 raw: bytes | None = None) -> tuple[int, Any]:
    resp = await fake.handle(ProviderRequest("POST", GEMINI + path, GKEY if headers is None else headers,
                                             raw if raw is not None else json.dumps(body)))
    return resp.status, body_of(resp)


async def test_gemini_generate_content_shape() -> None:
    fake = FakeGemini()
    status, body = await gemini(fake, "gemini-2.0-flash:generateContent", chat_body())
    assert status == 200
    [candidate] = body["candidates"]
    assert candidate["content"]["role"] == "model" and candidate["finishReason"] == "STOP"
    assert "What is OpenSearch?" in candidate["content"]["parts"][0]["text"]
    usage = body["usageMetadata"]
    assert usage["totalTokenCount"] == usage["promptTokenCount"] + usage["candidatesTokenCount"]
    assert usage["promptTokensDetails"] == [{"modality": "TEXT", "tokenCount": usage["promptTokenCount"]}]
    assert body["modelVersion"] == "gemini-2.0-flash" and body["responseId"]
    assert (await gemini(fake, "gemini-2.0-flash:generateContent", chat_body()))[1] == body


async def test_gemini_thinking_models_report_thoughts_and_the_key_may_come_in_the_query() -> None:
    fake = FakeGemini()
    resp = await fake.handle(ProviderRequest("POST", GEMINI + "gemini-2.5-flash:generateContent?key=AIza-q",
                                             {"Content-Type": "application/json"}, json.dumps(chat_body())))
    usage = body_of(resp)["usageMetadata"]
    assert resp.status == 200 and usage["thoughtsTokenCount"] > 0
    assert usage["totalTokenCount"] == usage["promptTokenCount"] + usage["candidatesTokenCount"] + usage[
        "thoughtsTokenCount"]


async def test_gemini_generation_config_limits_and_structured_output() -> None:
    fake = FakeGemini()
    _, body = await gemini(fake, "gemini-2.0-flash:generateContent",
                           chat_body(generationConfig={"maxOutputTokens": 3, "candidateCount": 2}))
    assert [c["finishReason"] for c in body["candidates"]] == ["MAX_TOKENS", "MAX_TOKENS"]
    schema = {"type": "OBJECT", "properties": {"facts": {"type": "ARRAY", "items": {"type": "STRING"}}},
              "required": ["facts"]}
    _, body = await gemini(fake, "gemini-2.0-flash:generateContent", chat_body(
        "I live in Seattle", system_instruction={"parts": [{"text": "extract facts"}]},
        generation_config={"response_mime_type": "application/json", "response_schema": schema}))
    facts = json.loads(body["candidates"][0]["content"]["parts"][0]["text"])
    assert isinstance(facts["facts"], list) and all(isinstance(f, str) for f in facts["facts"])


async def test_gemini_forced_function_call() -> None:
    tools = [{"functionDeclarations": [{"name": "get_weather", "parameters": {
        "type": "OBJECT", "properties": {"city": {"type": "STRING"}}}}]}]
    _, body = await gemini(FakeGemini(), "gemini-2.0-flash:generateContent", chat_body(
        "Weather in Paris?", tools=tools, toolConfig={"functionCallingConfig": {"mode": "ANY"}}))
    call = body["candidates"][0]["content"]["parts"][0]["functionCall"]
    assert call["name"] == "get_weather" and set(call["args"]) == {"city"}


@pytest.mark.parametrize("headers, status, reason", [
    ({}, 403, None),
    ({"x-goog-api-key": "wrong"}, 400, "API_KEY_INVALID"),
    ({"x-goog-api-key": "${credential.gemini_key}"}, 400, "API_KEY_INVALID"),
])
async def test_gemini_authentication(headers: dict[str, str], status: int, reason: str | None) -> None:
    fake = FakeGemini(api_keys=["AIza-good"])
    code, body = await gemini(fake, "gemini-2.0-flash:generateContent", chat_body(), headers=headers)
    assert code == status and body["error"]["code"] == status
    if reason:
        assert body["error"] == {
            "code": 400, "message": "API key not valid. Please pass a valid API key.", "status": "INVALID_ARGUMENT",
            "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason,
                         "domain": "googleapis.com", "metadata": {"service": "generativelanguage.googleapis.com"}},
                        {"@type": "type.googleapis.com/google.rpc.LocalizedMessage", "locale": "en-US",
                         "message": "API key not valid. Please pass a valid API key."}]}
    else:
        assert body["error"]["status"] == "PERMISSION_DENIED"
        assert body["error"]["message"].startswith("Method doesn't allow unregistered callers")
    assert (await gemini(fake, "gemini-2.0-flash:generateContent", chat_body(),
                         headers={"x-goog-api-key": "AIza-good"}))[0] == 200


@pytest.mark.parametrize("body, message", [
    ({}, "* GenerateContentRequest.contents: contents is not specified\n"),
    ({"contents": [{"role": "user", "parts": []}]},
     "* GenerateContentRequest.contents[0].parts: contents.parts must not be empty.\n"),
    ({"contents": [{"role": "user", "parts": [{}]}]},
     "* GenerateContentRequest.contents[0].parts[0].data: required oneof field 'data' must have one initialized "
     "field\n"),
    ({"contents": [{"role": "assistant", "parts": [{"text": "hi"}]}]}, "Please use a valid role: user, model."),
    ({"contents": [{"parts": [{"text": "hi"}]}], "messages": []},
     'Invalid JSON payload received. Unknown name "messages": Cannot find field.'),
    ({"contents": [{"parts": [{"txt": "hi"}]}]},
     "Invalid JSON payload received. Unknown name \"txt\" at 'contents[0].parts[0]': Cannot find field."),
    ({"contents": "hello"},
     "Invalid value at 'contents[0]' (type.googleapis.com/google.ai.generativelanguage.v1beta.Content), \"hello\""),
    ({"contents": [{"parts": [{"text": "hi"}]}], "generationConfig": {"temperature": "hot"}},
     "Invalid value at 'generation_config.temperature' (TYPE_FLOAT), \"hot\""),
    ({"contents": [{"parts": [{"text": "hi"}]}], "systemInstruction": [{"parts": [{"text": "x"}]}]},
     'Invalid JSON payload received. Unknown name "systemInstruction": Proto field is not repeating, cannot start '
     "list."),
    ({"contents": [{"parts": [{"text": "hi"}]}], "generationConfig": {"responseMimeType": "text/html"}},
     "* GenerateContentRequest.generation_config.response_mime_type: allowed mimetypes are `text/plain`, "
     "`application/json`, `application/xml`, `application/yaml` and `text/x.enum`.\n"),
    ([1, 2], 'Invalid JSON payload received. Unknown name "": Root element must be a message.'),
])
async def test_gemini_rejects_malformed_requests(body: Any, message: str) -> None:
    status, reply = await gemini(FakeGemini(), "gemini-2.0-flash:generateContent", body)
    assert status == 400 and reply["error"]["status"] == "INVALID_ARGUMENT"
    assert reply["error"]["message"] == message


async def test_gemini_unknown_model_and_path() -> None:
    fake = FakeGemini()
    status, body = await gemini(fake, "gemini-1.5-flash:generateContent", chat_body())
    assert status == 404 and body["error"]["message"] == (
        "models/gemini-1.5-flash is not found for API version v1beta, or is not supported for generateContent. "
        "Call ListModels to see the list of available models and their supported methods.")
    status, _ = await gemini(fake, "text-embedding-004:generateContent", chat_body())
    assert status == 404
    resp = await fake.handle(ProviderRequest("POST", "https://generativelanguage.googleapis.com/v9/nothing", GKEY))
    assert resp.status == 404 and resp.headers["Content-Type"].startswith("text/html")


async def test_gemini_embed_content_is_deterministic_unit_length() -> None:
    fake = FakeGemini()
    body = {"content": {"parts": [{"text": "hello world"}]}}
    status, a = await gemini(fake, "text-embedding-004:embedContent", body)
    _, b = await gemini(fake, "text-embedding-004:embedContent", body)
    _, other = await gemini(fake, "text-embedding-004:embedContent", {"content": {"parts": [{"text": "bye"}]}})
    _, query = await gemini(fake, "text-embedding-004:embedContent", {**body, "taskType": "RETRIEVAL_QUERY"})
    values = a["embedding"]["values"]
    assert status == 200 and a == b and len(values) == 768 and abs(norm(values) - 1) < 1e-6
    assert values != other["embedding"]["values"] and values != query["embedding"]["values"]
    _, full = await gemini(fake, "gemini-embedding-001:embedContent", body)
    _, short = await gemini(fake, "gemini-embedding-001:embedContent", {**body, "outputDimensionality": 768})
    assert len(full["embedding"]["values"]) == 3072 and abs(norm(full["embedding"]["values"]) - 1) < 1e-6
    # gemini-embedding-001 normalises only its full-size output: a shorter one is its plain prefix
    assert short["embedding"]["values"] == full["embedding"]["values"][:768]


async def test_gemini_batch_embed_contents() -> None:
    fake = FakeGemini()
    request = {"requests": [{"model": "models/text-embedding-004", "content": {"parts": [{"text": t}]}}
                            for t in ("a", "b")]}
    status, body = await gemini(fake, "text-embedding-004:batchEmbedContents", request)
    _, single = await gemini(fake, "text-embedding-004:embedContent", {"content": {"parts": [{"text": "b"}]}})
    assert status == 200 and len(body["embeddings"]) == 2
    assert body["embeddings"][1]["values"] == single["embedding"]["values"]
    status, body = await gemini(fake, "text-embedding-004:batchEmbedContents",
                                {"requests": [{"content": {"parts": [{"text": "a"}]}}]})
    assert (status, body["error"]["message"]) == (
        400, "* BatchEmbedContentsRequest.requests[0].model: unexpected model name format\n")
    status, body = await gemini(fake, "text-embedding-004:batchEmbedContents",
                                {"requests": [request["requests"][0]] * 101})
    assert (status, body["error"]["message"]) == (
        400, "* BatchEmbedContentsRequest.requests: at most 100 requests can be in one batch\n")
    status, _ = await gemini(fake, "embedding-001:embedContent",
                             {"content": {"parts": [{"text": "a"}]}, "outputDimensionality": 8})
    assert status == 400


async def test_gemini_stream_and_count_tokens() -> None:
    fake = FakeGemini()
    _, whole = await gemini(fake, "gemini-2.0-flash:generateContent", chat_body("tell me a story about search"))
    status, chunks = await gemini(fake, "gemini-2.0-flash:streamGenerateContent",
                                  chat_body("tell me a story about search"))
    text = "".join(c["candidates"][0]["content"]["parts"][0]["text"] for c in chunks)
    assert status == 200 and text == whole["candidates"][0]["content"]["parts"][0]["text"]
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    resp = await fake.handle(ProviderRequest("POST", GEMINI + "gemini-2.0-flash:streamGenerateContent?alt=sse", GKEY,
                                             json.dumps(chat_body())))
    assert resp.headers["Content-Type"] == "text/event-stream" and resp.text.startswith("data: {")
    status, counted = await gemini(fake, "gemini-2.0-flash:countTokens",
                                   {"contents": chat_body("tell me a story about search")["contents"]})
    assert status == 200 and counted["totalTokens"] == whole["usageMetadata"]["promptTokenCount"]


async def test_gemini_scripted_faults_and_journal() -> None:
    fake = FakeGemini()
    fake.script.enqueue(FakeGemini.rate_limit_response(), FakeGemini.overloaded_response())
    status, body = await gemini(fake, "gemini-2.0-flash:generateContent", chat_body())
    assert status == 429 and body["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "30s"} in body["error"]["details"]
    assert (await gemini(fake, "gemini-2.0-flash:generateContent", chat_body()))[1]["error"]["status"] == "UNAVAILABLE"
    assert (await gemini(fake, "gemini-2.0-flash:generateContent", chat_body()))[0] == 200
    assert len(fake.recorder) == 3 and fake.recorder.last.headers["x-goog-api-key"] == "AIza-test"
    fake.script.enqueue(FakeGemini.delayed(0.05, FakeGemini.server_error_response()))
    started = time.monotonic()
    assert (await gemini(fake, "gemini-2.0-flash:generateContent", chat_body()))[0] == 500
    assert time.monotonic() - started >= 0.05


async def test_gemini_over_loopback_http() -> None:
    fake = FakeGemini()
    async with TestClient(TestServer(make_app(fake))) as client:
        r = await client.post("/v1beta/models/gemini-2.0-flash:generateContent", json=chat_body(),
                              headers={"x-goog-api-key": "k"})
        assert r.status == 200 and (await r.json())["candidates"]


# ======================================================================== Vertex AI

VERTEX = ("https://us-central1-aiplatform.googleapis.com/v1/projects/my-project/locations/us-central1/publishers/"
          "google/models/")
BEARER = {"Authorization": "Bearer ya29.test-token", "Content-Type": "application/json"}


async def vertex(fake: FakeVertexAI, path: str, body: Any, headers: dict[str, str] | None = None,
                 base: str = VERTEX) -> tuple[int, Any]:
    resp = await fake.handle(ProviderRequest("POST", base + path, BEARER if headers is None else headers,
                                             json.dumps(body)))
    return resp.status, body_of(resp)


async def test_vertex_text_embedding_predict_shape() -> None:
    fake = FakeVertexAI()
    status, body = await vertex(fake, "text-embedding-004:predict",
                                {"instances": [{"content": "Hello World form vertex AI!"}, {"content": "b"}]})
    assert status == 200 and len(body["predictions"]) == 2
    embeddings = body["predictions"][0]["embeddings"]
    assert embeddings["statistics"] == {"truncated": False, "token_count": 6}
    assert len(embeddings["values"]) == 768 and abs(norm(embeddings["values"]) - 1) < 1e-6
    assert body["metadata"] == {"billableCharacterCount": 24}  # whitespace is not billed
    _, again = await vertex(fake, "text-embedding-004:predict",
                            {"instances": [{"content": "Hello World form vertex AI!"}]})
    assert again["predictions"][0] == body["predictions"][0]
    _, short = await vertex(fake, "text-embedding-004:predict",
                            {"instances": [{"content": "x", "task_type": "RETRIEVAL_QUERY"}],
                             "parameters": {"outputDimensionality": 256}})
    assert len(short["predictions"][0]["embeddings"]["values"]) == 256


async def test_vertex_embedding_limits() -> None:
    fake = FakeVertexAI()
    status, _ = await vertex(fake, "gemini-embedding-001:predict", {"instances": [{"content": "a"}, {"content": "b"}]})
    assert status == 400
    long = " ".join(["word"] * 3000)
    status, body = await vertex(fake, "text-embedding-005:predict", {"instances": [{"content": long}]})
    assert status == 200 and body["predictions"][0]["embeddings"]["statistics"] == {
        "truncated": True, "token_count": 2048}
    status, _ = await vertex(fake, "text-embedding-005:predict",
                             {"instances": [{"content": long}], "parameters": {"autoTruncate": False}})
    assert status == 400
    status, body = await vertex(fake, "text-embedding-005:predict", {"instances": [{"text": "a"}]})
    assert status == 400 and "Unknown name \"text\" at 'instances[0]'" in body["error"]["message"]
    assert (await vertex(fake, "text-embedding-005:predict", {"instances": []}))[0] == 400


async def test_vertex_generate_content() -> None:
    fake = FakeVertexAI()
    status, body = await vertex(fake, "gemini-2.0-flash-001:generateContent", chat_body("Hello Vertex"))
    assert status == 200 and "Hello Vertex" in body["candidates"][0]["content"]["parts"][0]["text"]
    assert body["usageMetadata"]["trafficType"] == "ON_DEMAND" and body["createTime"].endswith("Z")
    assert body["modelVersion"] == "gemini-2.0-flash-001"
    status, body = await vertex(fake, "gemini-2.0-flash-001:generateContent",
                                {"contents": [{"role": "user", "parts": [{"text": ""}]}]})
    assert status == 400 and body["error"]["message"].startswith(
        "Unable to submit request because it has an empty text parameter.")
    status, body = await vertex(fake, "gemini-2.0-flash-001:predict", {"instances": [{"content": "x"}]})
    assert (status, body["error"]["status"]) == (400, "FAILED_PRECONDITION")


@pytest.mark.parametrize("headers, reason", [
    ({}, "CREDENTIALS_MISSING"),
    ({"Authorization": "Bearer ${credential.vertexAI_token}"}, "ACCESS_TOKEN_TYPE_UNSUPPORTED"),
    ({"Authorization": "Basic abc"}, "ACCESS_TOKEN_TYPE_UNSUPPORTED"),
    ({"Authorization": "Bearer other"}, "ACCESS_TOKEN_TYPE_UNSUPPORTED"),
])
async def test_vertex_authentication(headers: dict[str, str], reason: str) -> None:
    status, body = await vertex(FakeVertexAI(tokens=["ya29.test-token"]), "text-embedding-004:predict",
                                {"instances": [{"content": "x"}]}, headers=headers)
    assert status == 401 and body["error"]["status"] == "UNAUTHENTICATED"
    assert body["error"]["details"][0]["reason"] == reason


async def test_vertex_project_location_and_model_checks() -> None:
    fake = FakeVertexAI()
    status, body = await vertex(fake, "text-embedding-004:predict", {"instances": [{"content": "x"}]},
                                base=VERTEX.replace("my-project", "<YOUR PROJECT_ID>"))
    assert status == 403 and body["error"]["status"] == "PERMISSION_DENIED"
    status, body = await vertex(fake, "text-embedding-004:predict", {"instances": [{"content": "x"}]},
                                base=VERTEX.replace("locations/us-central1", "locations/europe-west4"))
    assert status == 400
    status, body = await vertex(fake, "textembedding-nope:predict", {"instances": [{"content": "x"}]})
    assert status == 404 and body["error"]["message"].startswith(
        "Publisher Model `projects/my-project/locations/us-central1/publishers/google/models/textembedding-nope` "
        "was not found")
    fake.script.enqueue(FakeVertexAI.rate_limit_response())
    assert (await vertex(fake, "text-embedding-004:predict", {"instances": [{"content": "x"}]}))[0] == 429
    assert fake.recorder.last.headers["Authorization"] == "Bearer ya29.test-token"


# ============================================================= AWS JSON 1.1 helpers


def aws_call(service: str, target: str, body: Any, *, region: str = REGION, key: str = KEY, secret: str = SECRET,
             token: str | None = None, content_type: str = JSON11, raw: bytes | None = None,
             timestamp: dt.datetime | None = None) -> ProviderRequest:
    data = raw if raw is not None else json.dumps(body).encode()
    return sign_request("POST", f"https://{service}.{region}.amazonaws.com", data, access_key=key, secret_key=secret,
                        region=region, service=service, session_token=token, timestamp=timestamp,
                        headers={"X-Amz-Target": target, "Content-Type": content_type})


async def comprehend(fake: FakeComprehend, operation: str, body: Any, **kw: Any) -> tuple[int, Any, ProviderResponse]:
    resp = await fake.handle(aws_call("comprehend", f"Comprehend_20171127.{operation}", body, **kw))
    return resp.status, body_of(resp), resp


@pytest.fixture
def comprehend_fake() -> FakeComprehend:
    return FakeComprehend(credentials={KEY: SECRET, TEMP_KEY: (TEMP_SECRET, TOKEN)})


# ======================================================================= Comprehend


@pytest.mark.parametrize("text, language", [
    ("Bonjour", "fr"), ("Hello, how are you?", "en"), ("\u4f60\u597d", "zh"), ("\uc548\ub155\ud558\uc138\uc694", "ko"),
    ("\u3053\u3093\u306b\u3061\u306f", "ja"), ("Guten Tag, wie geht es dir?", "de"),
    ("\u00bfD\u00f3nde est\u00e1?", "es"),
])
async def test_comprehend_detects_the_dominant_language(comprehend_fake: FakeComprehend, text: str,
                                                        language: str) -> None:
    status, body, resp = await comprehend(comprehend_fake, "DetectDominantLanguage", {"Text": text})
    assert status == 200 and resp.headers["Content-Type"] == JSON11 and resp.headers["x-amzn-RequestId"]
    assert body["Languages"][0]["LanguageCode"] == language
    assert all(0 < lang["Score"] < 1 for lang in body["Languages"])


async def test_comprehend_entities_match_the_blueprint_sample(comprehend_fake: FakeComprehend) -> None:
    text = "Bob ordered two sandwiches and three ice cream cones today from a store in Seattle."
    status, body, _ = await comprehend(comprehend_fake, "DetectEntities", {"Text": text, "LanguageCode": "en"})
    assert status == 200
    assert [(e["Text"], e["Type"], e["BeginOffset"], e["EndOffset"]) for e in body["Entities"]] == [
        ("Bob", "PERSON", 0, 3), ("two sandwiches", "QUANTITY", 12, 26), ("three ice cream cones", "QUANTITY", 31, 52),
        ("today", "DATE", 53, 58), ("Seattle", "LOCATION", 75, 82)]
    assert all(text[e["BeginOffset"]:e["EndOffset"]] == e["Text"] for e in body["Entities"])
    again = (await comprehend(comprehend_fake, "DetectEntities", {"Text": text, "LanguageCode": "en"}))[1]
    assert again == body


async def test_comprehend_other_analyses(comprehend_fake: FakeComprehend) -> None:
    text = "I love this great phone but the battery is terrible. Call John Smith at 555-123-4567."
    _, phrases, _ = await comprehend(comprehend_fake, "DetectKeyPhrases", {"Text": text, "LanguageCode": "en"})
    assert {"this great phone", "the battery"} <= {p["Text"] for p in phrases["KeyPhrases"]}
    _, sentiment, _ = await comprehend(comprehend_fake, "DetectSentiment", {"Text": text, "LanguageCode": "en"})
    assert sentiment["Sentiment"] == "MIXED"
    assert set(sentiment["SentimentScore"]) == {"Positive", "Negative", "Neutral", "Mixed"}
    assert abs(sum(sentiment["SentimentScore"].values()) - 1) < 1e-5
    _, syntax, _ = await comprehend(comprehend_fake, "DetectSyntax", {"Text": "The cat sat.", "LanguageCode": "en"})
    assert [(t["TokenId"], t["Text"], t["PartOfSpeech"]["Tag"]) for t in syntax["SyntaxTokens"]] == [
        (1, "The", "DET"), (2, "cat", "NOUN"), (3, "sat", "VERB"), (4, ".", "PUNCT")]
    _, pii, _ = await comprehend(comprehend_fake, "DetectPiiEntities", {"Text": text, "LanguageCode": "en"})
    assert {"NAME", "PHONE"} <= {e["Type"] for e in pii["Entities"]}
    _, labels, _ = await comprehend(comprehend_fake, "ContainsPiiEntities", {"Text": text, "LanguageCode": "en"})
    assert {"NAME", "PHONE"} <= {label["Name"] for label in labels["Labels"]}
    _, toxic, _ = await comprehend(comprehend_fake, "DetectToxicContent",
                                   {"TextSegments": [{"Text": "you idiot"}, {"Text": "nice day"}],
                                    "LanguageCode": "en"})
    assert toxic["ResultList"][0]["Toxicity"] > toxic["ResultList"][1]["Toxicity"]
    _, batch, _ = await comprehend(comprehend_fake, "BatchDetectDominantLanguage", {"TextList": ["Bonjour", "Hello"]})
    assert [r["Languages"][0]["LanguageCode"] for r in batch["ResultList"]] == ["fr", "en"]
    assert batch["ErrorList"] == []


@pytest.mark.parametrize("operation, body, error_type, member, message", [
    ("DetectDominantLanguage", {}, "ValidationException", "message",
     "1 validation error detected: Value null at 'text' failed to satisfy constraint: Member must not be null"),
    ("DetectDominantLanguage", {"Text": ""}, "ValidationException", "message",
     "1 validation error detected: Value at 'text' failed to satisfy constraint: Member must have length greater "
     "than or equal to 1"),
    ("DetectSentiment", {"Text": "hi"}, "ValidationException", "message",
     "1 validation error detected: Value null at 'languageCode' failed to satisfy constraint: Member must not be "
     "null"),
    ("DetectSentiment", {"Text": "hi", "LanguageCode": "xx"}, "ValidationException", "message",
     "1 validation error detected: Value 'xx' at 'languageCode' failed to satisfy constraint: Member must satisfy "
     "enum value set: [en, es, fr, de, it, pt, ar, hi, ja, ko, zh, zh-TW]"),
    ("DetectSentiment", {"Text": "a" * 5001, "LanguageCode": "en"}, "TextSizeLimitExceededException", "Message",
     "Input text size exceeds limit. Max length of request text allowed is 5000 bytes while in this request the "
     "text size is 5001 bytes"),
    ("DetectPiiEntities", {"Text": "hi", "LanguageCode": "fr"}, "ValidationException", "message",
     "1 validation error detected: Value 'fr' at 'languageCode' failed to satisfy constraint: Member must satisfy "
     "enum value set: [en, es]"),
    ("DetectEntities", {"Text": "hi"}, "InvalidRequestException", "Message", None),
    ("BatchDetectDominantLanguage", {"TextList": ["a"] * 26}, "BatchSizeLimitExceededException", "Message", None),
])
async def test_comprehend_validation_errors(comprehend_fake: FakeComprehend, operation: str, body: dict,
                                            error_type: str, member: str, message: str | None) -> None:
    status, reply, resp = await comprehend(comprehend_fake, operation, body)
    assert status == 400 and reply["__type"] == error_type and set(reply) == {"__type", member}
    assert resp.headers["Content-Type"] == JSON11 and "x-amzn-ErrorType" not in resp.headers
    if message is not None:
        assert reply[member] == message


async def test_comprehend_protocol_errors(comprehend_fake: FakeComprehend) -> None:
    status, body, _ = await comprehend(comprehend_fake, "DetectNothing", {"Text": "x"})
    assert (status, body) == (400, {"__type": "UnknownOperationException"})
    status, body, _ = await comprehend(comprehend_fake, "DetectDominantLanguage", None, raw=b"[1]")
    assert (status, body) == (400, {"__type": "SerializationException"})
    status, body, _ = await comprehend(comprehend_fake, "StartEntitiesDetectionJob", {})
    assert status == 400 and body["__type"] == "ValidationException" and "implements only" in body["message"]
    resp = await comprehend_fake.handle(aws_call("textract", "Comprehend_20171127.DetectDominantLanguage",
                                                 {"Text": "x"}))
    assert resp.status == 400 and body_of(resp)["__type"] == "InvalidSignatureException"


@pytest.mark.parametrize("kw, error_type", [
    ({"secret": "wrong"}, "InvalidSignatureException"),
    ({"key": "AKIAUNKNOWN"}, "UnrecognizedClientException"),
    ({"key": TEMP_KEY, "secret": TEMP_SECRET}, "UnrecognizedClientException"),  # the session token is missing
    ({"timestamp": dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)}, "InvalidSignatureException"),
])
async def test_comprehend_sigv4_failures_are_json_protocol_400s(comprehend_fake: FakeComprehend, kw: dict,
                                                                error_type: str) -> None:
    status, body, resp = await comprehend(comprehend_fake, "DetectDominantLanguage", {"Text": "x"}, **kw)
    assert status == 400 and body["__type"] == error_type and "message" in body
    assert resp.headers["Content-Type"] == JSON11
    status, body, _ = await comprehend(comprehend_fake, "DetectDominantLanguage", {"Text": "x"}, key=TEMP_KEY,
                                       secret=TEMP_SECRET, token=TOKEN)
    assert status == 200


async def test_comprehend_missing_signature() -> None:
    fake = FakeComprehend()
    resp = await fake.handle(ProviderRequest("POST", "https://comprehend.us-east-1.amazonaws.com/", {
        "X-Amz-Target": "Comprehend_20171127.DetectDominantLanguage", "Content-Type": JSON11}, b'{"Text": "x"}'))
    assert resp.status == 400 and body_of(resp) == {"__type": "MissingAuthenticationTokenException",
                                                    "message": "Missing Authentication Token"}


async def test_comprehend_faults_and_journal(comprehend_fake: FakeComprehend) -> None:
    comprehend_fake.script.enqueue(FakeComprehend.throttling_response(), FakeComprehend.internal_server_response())
    status, body, _ = await comprehend(comprehend_fake, "DetectDominantLanguage", {"Text": "x"})
    assert (status, body["__type"]) == (400, "TooManyRequestsException")
    status, body, _ = await comprehend(comprehend_fake, "DetectDominantLanguage", {"Text": "x"})
    assert (status, body["__type"]) == (500, "InternalServerException")
    comprehend_fake.script.enqueue(FakeComprehend.delay(0.01))
    assert (await comprehend(comprehend_fake, "DetectDominantLanguage", {"Text": "x"}))[0] == 200
    assert len(comprehend_fake.recorder) == 3
    assert comprehend_fake.recorder.last.headers["X-Amz-Target"] == "Comprehend_20171127.DetectDominantLanguage"


# ========================================================================= Textract


async def textract(fake: FakeTextract, operation: str, body: Any, **kw: Any) -> tuple[int, Any]:
    resp = await fake.handle(aws_call("textract", f"Textract.{operation}", body, **kw))
    return resp.status, body_of(resp)


def simple_pdf(*lines: str, compress: bool = False) -> bytes:
    stream = b"BT /F1 12 Tf 72 720 Td " + b" ".join(
        b"(" + line.replace("(", "\\(").replace(")", "\\)").encode("latin-1") + b") Tj 0 -14 Td" for line in lines
    ) + b" ET"
    if compress:
        stream = zlib.compress(stream)
    return (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
            b"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
            b"3 0 obj << /Type /Page /Parent 2 0 R /Contents 4 0 R >> endobj\n"
            b"4 0 obj << /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream\nendobj\n"
            b"%%EOF\n")


def document(data: bytes) -> dict[str, Any]:
    return {"Document": {"Bytes": base64.b64encode(data).decode()}}


async def test_textract_reads_the_blueprint_image() -> None:
    from pathlib import Path

    fixture = json.loads((Path(__file__).resolve().parents[3] / "fixtures" / "blueprints" /
                          "textract_detect_document_text.json").read_text())
    png = base64.b64decode(fixture["predict"]["body"]["parameters"]["bytes"])
    import hashlib

    assert hashlib.sha256(png).hexdigest() == BLUEPRINT_PNG_SHA
    status, body = await textract(FakeTextract(), "DetectDocumentText", document(png))
    assert status == 200 and body["DocumentMetadata"] == {"Pages": 1}
    assert body["DetectDocumentTextModelVersion"] == "1.0"
    blocks = body["Blocks"]
    assert [b["BlockType"] for b in blocks] == ["PAGE", "LINE", "WORD", "WORD"]
    assert [b["Text"] for b in blocks if b["BlockType"] == "LINE"] == ["Hello World!!"]
    assert [b["Text"] for b in blocks if b["BlockType"] == "WORD"] == ["Hello", "World!!"]
    page, line = blocks[0], blocks[1]
    assert page["Relationships"] == [{"Type": "CHILD", "Ids": [line["Id"]]}]
    assert line["Relationships"] == [{"Type": "CHILD", "Ids": [blocks[2]["Id"], blocks[3]["Id"]]}]
    assert set(line["Geometry"]) == {"BoundingBox", "Polygon"} and len(line["Geometry"]["Polygon"]) == 4
    assert 90 <= line["Confidence"] < 100


async def test_textract_text_sources() -> None:
    fake = FakeTextract(documents={PNG_1x1: "Invoice 42\nTotal: 10 EUR"})
    _, body = await textract(fake, "DetectDocumentText", document(PNG_1x1))
    assert [b["Text"] for b in body["Blocks"] if b["BlockType"] == "LINE"] == ["Invoice 42", "Total: 10 EUR"]
    for compress in (False, True):
        _, body = await textract(fake, "DetectDocumentText", document(simple_pdf("Hello (PDF)", "Line two",
                                                                                 compress=compress)))
        assert [b["Text"] for b in body["Blocks"] if b["BlockType"] == "LINE"] == ["Hello (PDF)", "Line two"]
    jpeg = b"\xff\xd8\xff\xe0" + b"\x00" * 32
    _, body = await textract(FakeTextract(), "DetectDocumentText", document(jpeg))
    [line] = [b["Text"] for b in body["Blocks"] if b["BlockType"] == "LINE"]
    assert line.startswith("Document ") and body == (await textract(FakeTextract(), "DetectDocumentText",
                                                                    document(jpeg)))[1]
    fake.put_s3_object("my-bucket", "scan.png", PNG_1x1)
    status, body = await textract(fake, "DetectDocumentText",
                                  {"Document": {"S3Object": {"Bucket": "my-bucket", "Name": "scan.png"}}})
    assert status == 200 and body["Blocks"][1]["Text"] == "Invoice 42"


@pytest.mark.parametrize("body, error_type, member, message", [
    ({}, "ValidationException", "message",
     "1 validation error detected: Value null at 'document' failed to satisfy constraint: Member must not be null"),
    ({"Document": {}}, "InvalidParameterException", "Message", "Request has invalid parameters"),
    ({"Document": {"Bytes": base64.b64encode(PNG_1x1).decode(), "S3Object": {"Bucket": "b", "Name": "n"}}},
     "InvalidParameterException", "Message", "Request has invalid parameters"),
    (document(b"plain text is not a document"), "UnsupportedDocumentException", "Message",
     "Request has unsupported document format"),
    (document(simple_pdf("one").replace(b"/Count 1", b"/Count 2") + b"<< /Type /Page >>"),
     "UnsupportedDocumentException", "Message", "Request has unsupported document format"),
    ({"Document": {"S3Object": {"Bucket": "b", "Name": "missing.png"}}}, "InvalidS3ObjectException", "Message",
     "Unable to get object metadata from S3. Check object key, region and/or access permissions."),
    ({"Document": {"Bytes": "not base64!"}}, "SerializationException", None, None),
])
async def test_textract_rejects_bad_documents(body: dict, error_type: str, member: str | None,
                                              message: str | None) -> None:
    status, reply = await textract(FakeTextract(), "DetectDocumentText", body)
    assert status == 400 and reply["__type"] == error_type
    if member is not None:
        assert reply == {"__type": error_type, member: message}


async def test_textract_analyze_document() -> None:
    fake = FakeTextract(documents={PNG_1x1: "Name: Jane"})
    status, body = await textract(fake, "AnalyzeDocument", {
        **document(PNG_1x1), "FeatureTypes": ["LAYOUT", "QUERIES"],
        "QueriesConfig": {"Queries": [{"Text": "What is the name?"}]}})
    assert status == 200 and body["AnalyzeDocumentModelVersion"] == "1.0"
    kinds = [b["BlockType"] for b in body["Blocks"]]
    assert {"PAGE", "LINE", "WORD", "LAYOUT_TEXT", "QUERY"} <= set(kinds)
    status, reply = await textract(fake, "AnalyzeDocument", document(PNG_1x1))
    assert status == 400 and reply["__type"] == "ValidationException"
    status, reply = await textract(fake, "AnalyzeDocument", {**document(PNG_1x1), "FeatureTypes": ["QUERIES"]})
    assert (status, reply["__type"]) == (400, "InvalidParameterException")


async def test_textract_faults_and_signature() -> None:
    fake = FakeTextract(credentials={KEY: SECRET})
    fake.script.enqueue(FakeTextract.provisioned_throughput_response())
    assert (await textract(fake, "DetectDocumentText", document(PNG_1x1)))[1]["__type"] == \
        "ProvisionedThroughputExceededException"
    status, body = await textract(fake, "DetectDocumentText", document(PNG_1x1), secret="wrong")
    assert (status, body["__type"]) == (400, "InvalidSignatureException")
    status, body = await textract(fake, "DetectDocumentText", document(PNG_1x1), region="eu-west-1")
    assert status == 200
    assert len(fake.recorder) == 3


# ===================================================================== Aleph Alpha

ALEPH = "https://api.aleph-alpha.com"
AA_AUTH = {"Authorization": "Bearer aa-token", "Content-Type": "application/json"}


async def aleph(fake: FakeAlephAlpha, path: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    resp = await fake.handle(ProviderRequest("POST", ALEPH + path, AA_AUTH if headers is None else headers,
                                             json.dumps(body)))
    return resp.status, body_of(resp)


def embed_body(prompt: Any = "Moët Hennessy", **extra: Any) -> dict[str, Any]:
    return {"model": "luminous-base", "prompt": prompt, "representation": "document", "normalize": True, **extra}


async def test_aleph_alpha_semantic_embed() -> None:
    fake = FakeAlephAlpha()
    status, body = await aleph(fake, "/semantic_embed", embed_body())
    assert status == 200 and set(body) == {"model_version", "embedding", "num_tokens_prompt_total"}
    assert len(body["embedding"]) == 5120 and abs(norm(body["embedding"]) - 1) < 1e-6
    assert (await aleph(fake, "/semantic_embed", embed_body()))[1] == body
    _, query = await aleph(fake, "/semantic_embed", embed_body(representation="query"))
    assert query["embedding"] != body["embedding"]
    _, small = await aleph(fake, "/semantic_embed", embed_body(compress_to_size=128))
    assert len(small["embedding"]) == 128
    _, raw = await aleph(fake, "/semantic_embed", embed_body(normalize=False))
    assert norm(raw["embedding"]) > 2
    _, multimodal = await aleph(fake, "/semantic_embed", embed_body([{"type": "text", "data": "Moët Hennessy"}]))
    assert multimodal["embedding"] == body["embedding"]
    options = {k: v for k, v in embed_body().items() if k != "prompt"}
    status, batch = await aleph(fake, "/batch_semantic_embed", {**options, "prompts": ["Moët Hennessy", "b"]})
    assert status == 200 and batch["embeddings"][0] == body["embedding"]


async def test_aleph_alpha_complete() -> None:
    status, body = await aleph(FakeAlephAlpha(), "/complete",
                               {"model": "luminous-base", "prompt": "An apple a day", "maximum_tokens": 5})
    assert status == 200 and body["model_version"]
    [completion] = body["completions"]
    assert completion["finish_reason"] == "maximum_tokens" and body["num_tokens_generated"] <= 5
    assert body["num_tokens_prompt_total"] == 4


@pytest.mark.parametrize("path, body, headers, status, code", [
    ("/semantic_embed", embed_body(), {}, 401, "UNAUTHENTICATED"),
    ("/semantic_embed", embed_body(), {"Authorization": "Bearer ${credential.AlephAlpha_API_Token}"}, 401,
     "UNAUTHENTICATED"),
    ("/semantic_embed", embed_body(representation="both"), None, 400, "BAD_REQUEST"),
    ("/semantic_embed", {"model": "luminous-base", "prompt": "x"}, None, 400, "BAD_REQUEST"),
    ("/semantic_embed", embed_body(compress_to_size=256), None, 400, "BAD_REQUEST"),
    ("/semantic_embed", embed_body(model="luminous-supreme"), None, 400, "BAD_REQUEST"),
    ("/semantic_embed", embed_body(model="gpt-4"), None, 400, "MODEL_NOT_FOUND"),
    ("/semantic_embed", embed_body(""), None, 400, "BAD_REQUEST"),
    ("/complete", {"model": "luminous-base", "prompt": "x", "maximum_tokens": 0}, None, 400, "BAD_REQUEST"),
    ("/nothing", {}, None, 404, "NOT_FOUND"),
])
async def test_aleph_alpha_errors(path: str, body: Any, headers: dict | None, status: int, code: str) -> None:
    got, reply = await aleph(FakeAlephAlpha(), path, body, headers)
    assert (got, reply["code"]) == (status, code) and isinstance(reply["error"], str)


async def test_aleph_alpha_faults() -> None:
    fake = FakeAlephAlpha()
    fake.script.enqueue(FakeAlephAlpha.busy_response())
    assert (await aleph(fake, "/semantic_embed", embed_body()))[0] == 503
    fake.script.fail(429, {"error": "slow down", "code": "TOO_MANY_REQUESTS"}, path="/complete")
    assert (await aleph(fake, "/semantic_embed", embed_body()))[0] == 200
    assert (await aleph(fake, "/complete", {"model": "luminous-base", "prompt": "x"}))[0] == 429
    assert [r.path for r in fake.recorder.requests] == ["/semantic_embed", "/semantic_embed", "/complete"]


# ========================================================================== Yandex

YANDEX = "https://llm.api.cloud.yandex.net"
FOLDER = "b1gexamplefolder0001"
Y_AUTH = {"Authorization": "Api-Key AQVN-key", "x-folder-id": FOLDER}


async def yandex(fake: FakeYandex, path: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    resp = await fake.handle(ProviderRequest("POST", YANDEX + path, Y_AUTH if headers is None else headers,
                                             json.dumps(body)))
    return resp.status, body_of(resp)


async def test_yandex_text_embedding() -> None:
    fake = FakeYandex()
    body = {"modelUri": f"emb://{FOLDER}/text-search-doc/latest", "text": "What is the meaning of life?"}
    status, reply = await yandex(fake, "/foundationModels/v1/textEmbedding", body)
    assert status == 200 and set(reply) == {"embedding", "numTokens", "modelVersion"}
    assert len(reply["embedding"]) == 256 and abs(norm(reply["embedding"]) - 1) < 1e-6
    assert reply["numTokens"] == "7"  # int64 as a string (proto3 JSON)
    _, query = await yandex(fake, "/foundationModels/v1/textEmbedding",
                            {"model_uri": f"emb://{FOLDER}/text-search-query/latest", "text": body["text"]})
    assert query["embedding"] != reply["embedding"]
    status, openai = await yandex(fake, "/v1/embeddings", {"input": [body["text"], "b"],
                                                          "model": f"emb://{FOLDER}/text-search-doc/latest"})
    assert status == 200 and openai["data"][0]["embedding"] == reply["embedding"]
    assert openai["usage"] == {"prompt_tokens": 8, "total_tokens": 8} and openai["object"] == "list"


async def test_yandex_completion() -> None:
    status, reply = await yandex(FakeYandex(), "/foundationModels/v1/completion", {
        "modelUri": f"gpt://{FOLDER}/yandexgpt-lite/latest", "completionOptions": {"maxTokens": "5"},
        "messages": [{"role": "system", "text": "be brief"}, {"role": "user", "text": "What is OpenSearch?"}]})
    assert status == 200
    [alternative] = reply["result"]["alternatives"]
    assert alternative["status"] == "ALTERNATIVE_STATUS_TRUNCATED_FINAL"
    assert alternative["message"]["role"] == "assistant"
    usage = reply["result"]["usage"]
    assert int(usage["totalTokens"]) == int(usage["inputTextTokens"]) + int(usage["completionTokens"])


@pytest.mark.parametrize("path, body, headers, status", [
    ("/foundationModels/v1/textEmbedding", {"modelUri": f"emb://{FOLDER}/text-search-doc/latest", "text": "x"}, {},
     401),
    ("/foundationModels/v1/textEmbedding", {"modelUri": f"emb://{FOLDER}/text-search-doc/latest", "text": "x"},
     {"Authorization": "Api-Key ${credential.api_key}"}, 401),
    ("/foundationModels/v1/textEmbedding", {"modelUri": "emb://<folder_ID>/text-search-doc/latest", "text": "x"}, None,
     400),
    ("/foundationModels/v1/textEmbedding", {"modelUri": f"gpt://{FOLDER}/text-search-doc/latest", "text": "x"}, None,
     400),
    ("/foundationModels/v1/textEmbedding", {"modelUri": f"emb://{FOLDER}/nope/latest", "text": "x"}, None, 404),
    ("/foundationModels/v1/textEmbedding", {"modelUri": f"emb://{FOLDER}/text-search-doc/latest", "text": ""}, None,
     400),
    ("/foundationModels/v1/textEmbedding", {"modelUri": f"emb://{FOLDER}/text-search-doc/latest", "txt": "x"}, None,
     400),
    ("/foundationModels/v1/completion", {"modelUri": f"gpt://{FOLDER}/yandexgpt/latest",
                                          "messages": [{"role": "bot", "text": "x"}]}, None, 400),
    ("/foundationModels/v1/completion", {"modelUri": f"gpt://{FOLDER}/yandexgpt/latest", "messages": []}, None, 400),
    ("/foundationModels/v2/nothing", {}, None, 404),
])
async def test_yandex_errors(path: str, body: Any, headers: dict | None, status: int) -> None:
    got, reply = await yandex(FakeYandex(), path, body, headers)
    error = reply["error"]
    assert got == status and error["httpCode"] == status and isinstance(error["grpcCode"], int)
    assert set(error) == {"grpcCode", "httpCode", "message", "httpStatus", "details"}


async def test_yandex_accepts_iam_tokens_and_scripts_faults() -> None:
    fake = FakeYandex(api_keys=["t1.iam-token"])
    body = {"modelUri": f"emb://{FOLDER}/text-search-doc/latest", "text": "x"}
    assert (await yandex(fake, "/foundationModels/v1/textEmbedding", body,
                         {"Authorization": "Bearer t1.iam-token"}))[0] == 200
    fake.script.enqueue(FakeYandex.rate_limit_response())
    assert (await yandex(fake, "/foundationModels/v1/textEmbedding", body,
                         {"Authorization": "Bearer t1.iam-token"}))[0] == 429
    fake.script.delay(0.01)
    assert (await yandex(fake, "/foundationModels/v1/textEmbedding", body,
                         {"Authorization": "Bearer t1.iam-token"}))[0] == 200
    assert len(fake.recorder) == 3


async def test_new_fakes_answer_concurrently() -> None:
    fake = FakeGemini()
    results = await asyncio.gather(*(gemini(fake, "text-embedding-004:embedContent",
                                            {"content": {"parts": [{"text": f"t{i}"}]}}) for i in range(20)))
    assert all(status == 200 for status, _ in results) and len(fake.recorder) == 20
