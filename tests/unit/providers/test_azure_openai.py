"""Unit tests for the fake Azure OpenAI provider, through handle() and over loopback HTTP."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from mlcommons_emu.providers import base as provider_base
from mlcommons_emu.providers.azure_openai import FakeAzureOpenAI
from mlcommons_emu.providers.base import (
    FakeProvider,
    ProviderRequest,
    Recorder,
    Script,
    make_app,
)
from mlcommons_emu.providers.openai import FakeOpenAI

BASE = "https://my-resource.openai.azure.com"
KEY = {"api-key": "azure-key-1"}
V = "?api-version=2024-02-01"
CHAT = "/openai/deployments/gpt-4o/chat/completions" + V
EMB = "/openai/deployments/text-embedding-ada-002/embeddings" + V

INVALID_KEY = {"error": {"code": "401", "message": (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key "
    "for an active subscription and use a correct regional API endpoint for your resource.")}}
INVALID_TOKEN = {"error": {"code": "401", "message": (
    "Unauthorized. Access token is missing, invalid, audience is incorrect "
    "(https://cognitiveservices.azure.com), or have expired.")}}
NOT_FOUND = {"error": {"code": "404", "message": "Resource not found"}}
BAD_VERSION = {"error": {"code": "BadRequest", "message": "API version not supported"}}
NO_DEPLOYMENT = {"error": {"code": "DeploymentNotFound", "message": (
    "The API deployment for this resource does not exist. If you created the deployment within the last 5 "
    "minutes, please wait a moment and try again.")}}
SAFE = {"filtered": False, "severity": "safe"}
PROMPT_FILTER = [{"prompt_index": 0, "content_filter_results": {
    "hate": SAFE, "jailbreak": {"filtered": False, "detected": False}, "self_harm": SAFE, "sexual": SAFE,
    "violence": SAFE}}]
CHOICE_FILTER = {"hate": SAFE, "protected_material_code": {"filtered": False, "detected": False},
                 "protected_material_text": {"filtered": False, "detected": False}, "self_harm": SAFE,
                 "sexual": SAFE, "violence": SAFE}


def op_not_supported(operation: str, model: str) -> dict[str, Any]:
    return {"error": {"code": "OperationNotSupported", "message": (
        f"The {operation} operation does not work with the specified model, {model}. Please choose different "
        "model and try again. You can learn more about which models can be used with each operation here: "
        "https://go.microsoft.com/fwlink/?linkid=2197993.")}}


def req(path: str, body: Any = None, *, headers: dict[str, str] | None = None, method: str = "POST",
        raw: bytes | None = None, base: str = BASE) -> ProviderRequest:
    data = raw if raw is not None else json.dumps(body).encode()
    return ProviderRequest(method, base + path, KEY if headers is None else headers, data)


def chat_body(content: Any = "Hello!", **extra: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": content}], **extra}


@pytest.fixture
def fake() -> FakeAzureOpenAI:
    return FakeAzureOpenAI()


async def call(fake: FakeAzureOpenAI, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
    resp = await fake.handle(req(path, body, **kw))
    return resp.status, resp.json_body()


async def openai_call(path: str, body: dict[str, Any]) -> Any:
    r = await FakeOpenAI().handle(ProviderRequest("POST", "https://api.openai.com" + path,
                                                  {"Authorization": "Bearer k"}, json.dumps(body)))
    return r.json_body()


# ----------------------------------------------------------------- identity


def test_identity_and_host_matching(fake: FakeAzureOpenAI) -> None:
    assert fake.name == "azure_openai"
    assert fake.hosts == ("*.openai.azure.com", "*.cognitiveservices.azure.com")
    assert isinstance(fake, FakeProvider)
    assert isinstance(fake.recorder, Recorder) and isinstance(fake.script, Script)
    assert fake.matches("my-resource.openai.azure.com")
    assert fake.matches("EastUS-Prod1.OpenAI.Azure.com")
    assert fake.matches("my-foundry.cognitiveservices.azure.com")
    for host in ("openai.azure.com", ".openai.azure.com", "a.b.openai.azure.com", "-x.openai.azure.com",
                 "my-resource.openai.azure.com.evil.example", "api.openai.com"):
        assert not fake.matches(host), host


# --------------------------------------------------------------- chat


async def test_chat_shape(fake: FakeAzureOpenAI) -> None:
    resp = await fake.handle(req(CHAT, chat_body()))
    assert resp.status == 200
    assert resp.headers["content-type"] == "application/json"
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}", resp.headers["apim-request-id"])
    assert resp.headers["x-ms-region"] == "East US"
    out = resp.json_body()
    # Azure serialises keys alphabetically.
    assert list(out) == sorted(out) == ["choices", "created", "id", "model", "object", "prompt_filter_results",
                                        "system_fingerprint", "usage"]
    assert out["object"] == "chat.completion" and out["model"] == "gpt-4o-2024-08-06"
    assert out["prompt_filter_results"] == PROMPT_FILTER
    choice = out["choices"][0]
    assert choice["content_filter_results"] == CHOICE_FILTER
    assert choice["message"]["content"] == "Hello! How can I assist you today?"
    assert choice["finish_reason"] == "stop"
    # Generation is FakeOpenAI's, for the deployment's model.
    direct = await openai_call("/v1/chat/completions", {**chat_body(), "model": "gpt-4o"})
    assert choice["message"] == direct["choices"][0]["message"]
    assert out["usage"] == direct["usage"] and out["id"] == direct["id"]


async def test_chat_is_deterministic(fake: FakeAzureOpenAI) -> None:
    r1 = await fake.handle(req(CHAT, chat_body("Tell me about OpenSearch")))
    r2 = await FakeAzureOpenAI().handle(req(CHAT, chat_body("Tell me about OpenSearch")))
    assert r1.body == r2.body and r1.headers["apim-request-id"] == r2.headers["apim-request-id"]
    r3 = await fake.handle(req(CHAT, chat_body("Tell me about OpenSearch", temperature=0.5)))
    assert r3.json_body()["id"] != r1.json_body()["id"]


async def test_body_model_is_ignored_and_gpt35_spelling(fake: FakeAzureOpenAI) -> None:
    status, out = await call(fake, "/openai/deployments/gpt-35-turbo/chat/completions" + V,
                             chat_body(model="gpt-4o"))
    assert status == 200
    assert out["model"] == "gpt-35-turbo-0125"


async def test_configured_deployments() -> None:
    fake = FakeAzureOpenAI(deployments={"chat-prod": "gpt-4o-mini", "embedder": "text-embedding-3-small"})
    status, out = await call(fake, "/openai/deployments/chat-prod/chat/completions" + V, chat_body())
    assert status == 200 and out["model"] == "gpt-4o-mini-2024-07-18"
    status, out = await call(fake, "/openai/deployments/embedder/embeddings" + V, {"input": "x", "dimensions": 8})
    assert status == 200 and len(out["data"][0]["embedding"]) == 8
    # Only configured deployments exist, even when the name is a model.
    assert await call(fake, CHAT, chat_body()) == (404, NO_DEPLOYMENT)


async def test_unknown_deployment(fake: FakeAzureOpenAI) -> None:
    assert await call(fake, "/openai/deployments/my-gpt/chat/completions" + V, chat_body()) == (404, NO_DEPLOYMENT)


async def test_operation_not_supported(fake: FakeAzureOpenAI) -> None:
    assert await call(fake, "/openai/deployments/gpt-4o/embeddings" + V, {"input": "x"}) == (
        400, op_not_supported("embeddings", "gpt-4o"))
    assert await call(fake, "/openai/deployments/text-embedding-ada-002/chat/completions" + V, chat_body()) == (
        400, op_not_supported("chatCompletion", "text-embedding-ada-002"))
    assert await call(fake, "/openai/deployments/gpt-35-turbo/completions" + V, {"prompt": "x"}) == (
        400, op_not_supported("completion", "gpt-35-turbo"))


async def test_reasoning_models_need_a_recent_api_version(fake: FakeAzureOpenAI) -> None:
    path = "/openai/deployments/o3-mini/chat/completions"
    assert await call(fake, path + "?api-version=2024-10-21", chat_body()) == (
        400, {"error": {"code": "BadRequest",
                        "message": "Model {modelName} is enabled only for api versions 2024-12-01-preview and later"}})
    status, _ = await call(fake, path + "?api-version=2024-12-01-preview", chat_body())
    assert status == 200


async def test_openai_schema_errors_pass_through(fake: FakeAzureOpenAI) -> None:
    status, body = await call(fake, CHAT, {"messages": []})
    assert status == 400
    assert body["error"]["message"].startswith("Invalid 'messages': empty array.")
    assert body == await openai_call("/v1/chat/completions", {"messages": [], "model": "gpt-4o"})
    status, body = await call(fake, CHAT, raw=b"{nope")
    assert status == 400 and body["error"]["message"].startswith("We could not parse the JSON body")


async def test_chat_stream(fake: FakeAzureOpenAI) -> None:
    resp = await fake.handle(req(CHAT, chat_body("Explain vector search", stream=True)))
    assert resp.status == 200 and resp.headers["content-type"].startswith("text/event-stream")
    blocks = [b for b in resp.text.split("\n\n") if b]
    assert blocks[-1] == "data: [DONE]"
    chunks = [json.loads(b[len("data: "):]) for b in blocks[:-1]]
    assert chunks[0]["choices"] == [] and chunks[0]["prompt_filter_results"] == PROMPT_FILTER
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks[1:] if c["choices"])
    _, full = await call(fake, CHAT, chat_body("Explain vector search"))
    assert text == full["choices"][0]["message"]["content"]
    assert all(c["model"] == "gpt-4o-2024-08-06" for c in chunks[1:])


# ------------------------------------------------------- embeddings / completions


async def test_embeddings(fake: FakeAzureOpenAI) -> None:
    status, out = await call(fake, EMB, {"input": ["a", "b"]})
    assert status == 200
    assert list(out) == ["data", "model", "object", "usage"]
    assert "prompt_filter_results" not in out
    assert out["model"] == "text-embedding-ada-002"
    assert [len(d["embedding"]) for d in out["data"]] == [1536, 1536]
    direct = await openai_call("/v1/embeddings", {"input": ["a", "b"], "model": "text-embedding-ada-002"})
    assert out["data"] == direct["data"]


async def test_completions(fake: FakeAzureOpenAI) -> None:
    path = "/openai/deployments/gpt-35-turbo-instruct/completions" + V
    status, out = await call(fake, path, {"prompt": ["one", "two"], "max_tokens": 5})
    assert status == 200
    assert out["model"] == "gpt-35-turbo-instruct"
    assert [p["prompt_index"] for p in out["prompt_filter_results"]] == [0, 1]
    assert all(c["content_filter_results"] == CHOICE_FILTER for c in out["choices"])


# ------------------------------------------------------ api-version and paths


async def test_api_version_rules(fake: FakeAzureOpenAI) -> None:
    bare = "/openai/deployments/gpt-4o/chat/completions"
    assert await call(fake, bare, chat_body()) == (404, NOT_FOUND)
    assert await call(fake, bare + "?api-version=", chat_body()) == (400, BAD_VERSION)
    assert await call(fake, bare + "?api-version=2099-01-01", chat_body()) == (400, BAD_VERSION)
    for version in ("2023-05-15", "2024-06-01", "2024-10-21", "2025-01-01-preview"):
        status, _ = await call(fake, f"{bare}?api-version={version}", chat_body())
        assert status == 200, version
    narrow = FakeAzureOpenAI(api_versions=["2024-06-01"])
    assert await call(narrow, CHAT, chat_body()) == (400, BAD_VERSION)


async def test_unknown_paths_and_methods(fake: FakeAzureOpenAI) -> None:
    assert await call(fake, "/openai/deployments/gpt-4o/responses" + V, {}) == (404, NOT_FOUND)
    assert await call(fake, "/v1/chat/completions", chat_body()) == (404, NOT_FOUND)
    assert await call(fake, CHAT, method="GET", raw=b"") == (404, NOT_FOUND)


async def test_v1_surface(fake: FakeAzureOpenAI) -> None:
    status, out = await call(fake, "/openai/v1/chat/completions", {**chat_body(), "model": "gpt-4o"})
    assert status == 200 and out["model"] == "gpt-4o-2024-08-06"
    status, _ = await call(fake, "/openai/v1/embeddings?api-version=preview",
                           {"input": "x", "model": "text-embedding-3-small"})
    assert status == 200
    assert await call(fake, "/openai/v1/chat/completions?api-version=2025-01-01-preview",
                      {**chat_body(), "model": "gpt-4o"}) == (400, BAD_VERSION)
    assert await call(fake, "/openai/v1/chat/completions", chat_body()) == (404, NO_DEPLOYMENT)


# -------------------------------------------------------------------- auth


async def test_auth_failures(fake: FakeAzureOpenAI) -> None:
    assert await call(fake, CHAT, chat_body(), headers={}) == (401, INVALID_KEY)
    assert await call(fake, CHAT, chat_body(), headers={"api-key": ""}) == (401, INVALID_KEY)
    assert await call(fake, CHAT, chat_body(), headers={"Authorization": "Bearer "}) == (401, INVALID_TOKEN)
    # OpenAI-style auth is not Azure auth: a bearer is taken as an Entra token.
    keyed = FakeAzureOpenAI(api_keys=["good"], bearer_tokens=["eyJ.good"])
    assert await call(keyed, CHAT, chat_body(), headers={"api-key": "bad"}) == (401, INVALID_KEY)
    assert await call(keyed, CHAT, chat_body(), headers={"Authorization": "Bearer sk-openai"}) == (401, INVALID_TOKEN)
    for headers in ({"API-KEY": "good"}, {"authorization": "bearer eyJ.good"}):
        status, _ = await call(keyed, CHAT, chat_body(), headers=headers)
        assert status == 200, headers


async def test_auth_checked_before_deployment_and_body(fake: FakeAzureOpenAI) -> None:
    assert await call(fake, "/openai/deployments/nope/chat/completions" + V, raw=b"{", headers={}) == (
        401, INVALID_KEY)


# ------------------------------------------------------- script and recorder


async def test_rate_limit_helper(fake: FakeAzureOpenAI) -> None:
    fake.script.enqueue(FakeAzureOpenAI.rate_limit_response(retry_after=9, api_version="2024-06-01"))
    resp = await fake.handle(req(CHAT, chat_body()))
    assert resp.status == 429
    assert resp.headers["Retry-After"] == "9" and resp.headers["retry-after-ms"] == "9000"
    assert resp.json_body() == {"error": {"code": "429", "message": (
        "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-06-01 have "
        "exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after 9 seconds. "
        "Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase the default "
        "rate limit.")}}
    assert (await fake.handle(req(CHAT, chat_body()))).status == 200


async def test_other_canned_replies(fake: FakeAzureOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(provider_base.asyncio, "sleep", fake_sleep)  # the shared delayed() sleeps there
    fake.script.enqueue(
        FakeAzureOpenAI.content_filter_response("hate", "high"),
        FakeAzureOpenAI.delayed(3, FakeAzureOpenAI.overloaded_response()),
        FakeAzureOpenAI.fault(500, {"error": {"code": "InternalServerError", "message": "boom"}}),
        FakeAzureOpenAI.delayed(0.5),
    )
    r = await fake.handle(req(CHAT, chat_body()))
    err = r.json_body()["error"]
    assert r.status == 400 and err["code"] == "content_filter" and err["param"] == "prompt"
    assert err["innererror"]["code"] == "ResponsibleAIPolicyViolation"
    assert err["innererror"]["content_filter_result"]["hate"] == {"filtered": True, "severity": "high"}
    assert err["innererror"]["content_filter_result"]["violence"] == SAFE
    r = await fake.handle(req(CHAT, chat_body()))
    assert r.status == 503 and r.headers["Retry-After"] == "1"
    r = await fake.handle(req(CHAT, chat_body()))
    assert (r.status, r.json_body()["error"]["message"]) == (500, "boom")
    r = await fake.handle(req(CHAT, chat_body()))
    assert r.status == 200
    assert slept == [3, 0.5]
    assert len(fake.recorder) == 4
    assert fake.recorder.last is not None and fake.recorder.last.host == "my-resource.openai.azure.com"


async def test_server_error_helper() -> None:
    r = FakeAzureOpenAI.server_error_response()
    assert r.status == 500 and r.json_body()["error"]["code"] == "InternalServerError"


# ------------------------------------------------------------ over HTTP


async def test_http_round_trip(fake: FakeAzureOpenAI) -> None:
    async with TestClient(TestServer(make_app(fake))) as http:
        payload = json.dumps(chat_body()).encode()
        resp = await http.post(CHAT, data=payload, headers={**KEY, "Content-Type": "application/json"})
        assert resp.status == 200
        assert "apim-request-id" in resp.headers
        out = await resp.json()
        assert out["prompt_filter_results"] == PROMPT_FILTER
        resp = await http.post("/openai/deployments/gpt-4o/chat/completions", data=payload, headers=KEY)
        assert resp.status == 404 and await resp.json() == NOT_FOUND
        seen = fake.recorder.last
        assert seen is not None and seen.query == "" and seen.headers["api-key"] == "azure-key-1"


# ------------------------------------------------- through the in-process transport


async def test_in_process_transport_routes_all_three_fakes() -> None:
    from mlcommons_emu.connectors.transports.base import OutboundRequest
    from mlcommons_emu.connectors.transports.inprocess import InProcessTransport
    from mlcommons_emu.providers.cohere import FakeCohere
    from mlcommons_emu.providers.deepseek import FakeDeepSeek

    azure, cohere, deepseek = FakeAzureOpenAI(), FakeCohere(), FakeDeepSeek()
    transport = InProcessTransport([azure, cohere, deepseek])
    assert transport.provider_for("prod-east.openai.azure.com") is azure
    assert transport.provider_for("my-foundry.cognitiveservices.azure.com") is azure
    assert transport.provider_for("api.cohere.com") is cohere and transport.provider_for("api.cohere.ai") is cohere
    assert transport.provider_for("api.deepseek.com") is deepseek
    assert transport.provider_for("openai.azure.com") is None

    resp = await transport.send(OutboundRequest("POST", "https://prod-east.openai.azure.com" + EMB, KEY,
                                                json.dumps({"input": ["x"]}).encode()), timeout=5)
    assert resp.status == 200 and len(json.loads(resp.body)["data"][0]["embedding"]) == 1536
    body = {"texts": ["x"], "model": "embed-english-v3.0", "input_type": "search_document"}
    resp = await transport.send(OutboundRequest("POST", "https://api.cohere.ai/v1/embed",
                                                {"Authorization": "Bearer k"}, json.dumps(body).encode()), timeout=5)
    assert resp.status == 200 and len(json.loads(resp.body)["embeddings"][0]) == 1024
    resp = await transport.send(OutboundRequest("POST", "https://api.deepseek.com/chat/completions",
                                                {"Authorization": "Bearer sk-x"},
                                                json.dumps({"model": "deepseek-chat", "messages": [
                                                    {"role": "user", "content": "hi"}]}).encode()), timeout=5)
    assert resp.status == 200 and json.loads(resp.body)["model"] == "deepseek-chat"
    assert cohere.recorder.last is not None and cohere.recorder.last.path == "/v1/embed"
