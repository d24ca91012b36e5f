"""Unit tests for the fake DeepSeek provider, through handle() and over loopback HTTP."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from mlcommons_emu.providers import base as provider_base
from mlcommons_emu.providers.base import (
    FakeProvider,
    ProviderRequest,
    Recorder,
    Script,
    make_app,
)
from mlcommons_emu.providers.deepseek import FakeDeepSeek

BASE = "https://api.deepseek.com"
AUTH = {"Authorization": "Bearer sk-test-1234abcd"}
CHAT = "/chat/completions"


def err(message: str, type: str = "invalid_request_error") -> dict[str, Any]:
    return {"error": {"message": message, "type": type, "param": None, "code": "invalid_request_error"}}


def serde(message: str) -> dict[str, Any]:
    return err("Failed to deserialize the JSON body into the target type: " + message)


def req(path: str, body: Any = None, *, headers: dict[str, str] | None = None, method: str = "POST",
        raw: bytes | None = None) -> ProviderRequest:
    data = raw if raw is not None else json.dumps(body).encode()
    return ProviderRequest(method, BASE + path, AUTH if headers is None else headers, data)


def chat_body(content: Any = "Hello!", model: str = "deepseek-chat", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": content}], **extra}


@pytest.fixture
def fake() -> FakeDeepSeek:
    return FakeDeepSeek()


async def call(fake: FakeDeepSeek, path: str = CHAT, body: Any = None, **kw: Any) -> tuple[int, Any]:
    resp = await fake.handle(req(path, body, **kw))
    return resp.status, resp.json_body()


# ----------------------------------------------------------------- identity


def test_identity(fake: FakeDeepSeek) -> None:
    assert fake.name == "deepseek" and fake.hosts == ("api.deepseek.com",)
    assert isinstance(fake, FakeProvider)
    assert isinstance(fake.recorder, Recorder) and isinstance(fake.script, Script)
    assert fake.matches("api.deepseek.com") and fake.matches("API.DeepSeek.com")
    assert not fake.matches("deepseek.com") and not fake.matches("api.deepseek.com.example.org")


# -------------------------------------------------------------------- chat


@pytest.mark.parametrize("path", ["/chat/completions", "/v1/chat/completions"])
async def test_chat_shape(fake: FakeDeepSeek, path: str) -> None:
    body = {"model": "deepseek-chat", "messages": [{"role": "system", "content": "You are a helpful assistant"},
                                                   {"role": "user", "content": "Hello!"}]}
    resp = await fake.handle(req(path, body))
    assert resp.status == 200 and resp.headers["content-type"] == "application/json"
    out = resp.json_body()
    assert list(out) == ["id", "object", "created", "model", "choices", "usage", "system_fingerprint"]
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", out["id"])
    assert out["object"] == "chat.completion" and out["model"] == "deepseek-chat"
    assert out["system_fingerprint"].startswith("fp_")
    assert out["choices"] == [{"index": 0, "message": {"role": "assistant",
                                                       "content": "Hello! How can I assist you today? 😊"},
                               "logprobs": None, "finish_reason": "stop"}]
    usage = out["usage"]
    assert list(usage) == ["prompt_tokens", "completion_tokens", "total_tokens", "prompt_tokens_details",
                           "prompt_cache_hit_tokens", "prompt_cache_miss_tokens"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["prompt_cache_hit_tokens"] == 0
    assert usage["prompt_cache_miss_tokens"] == usage["prompt_tokens"]
    assert usage["prompt_tokens_details"] == {"cached_tokens": 0}


async def test_reasoner(fake: FakeDeepSeek) -> None:
    status, out = await call(fake, body=chat_body("What is 2+2?", model="deepseek-reasoner"))
    assert status == 200
    msg = out["choices"][0]["message"]
    assert list(msg) == ["role", "content", "reasoning_content"]
    assert "What is 2+2?" in msg["reasoning_content"] and "What is 2+2?" in msg["content"]
    details = out["usage"]["completion_tokens_details"]
    assert 0 < details["reasoning_tokens"] < out["usage"]["completion_tokens"]
    _, chat = await call(fake, body=chat_body("What is 2+2?"))
    assert "reasoning_content" not in chat["choices"][0]["message"]
    assert "completion_tokens_details" not in chat["usage"]


async def test_deterministic(fake: FakeDeepSeek) -> None:
    body = chat_body("Tell me about OpenSearch", temperature=0.7)
    r1 = await fake.handle(req(CHAT, body))
    r2 = await FakeDeepSeek().handle(req("/v1/chat/completions", body))
    assert r1.body == r2.body
    r3 = await fake.handle(req(CHAT, raw=json.dumps(body, indent=3).encode()))
    assert r3.body == r1.body
    r4 = await fake.handle(req(CHAT, chat_body("Tell me about OpenSearch", temperature=0.8)))
    assert r4.json_body()["id"] != r1.json_body()["id"]


async def test_max_tokens_and_stop(fake: FakeDeepSeek) -> None:
    _, out = await call(fake, body=chat_body("Explain BM25 please", max_tokens=4))
    assert out["choices"][0]["message"]["content"] == "This is a deterministic"
    assert out["choices"][0]["finish_reason"] == "length"
    assert out["usage"]["completion_tokens"] == 4
    _, out = await call(fake, body=chat_body("Hello", stop=[" How"]))
    assert out["choices"][0]["message"]["content"] == "Hello!"
    assert out["choices"][0]["finish_reason"] == "stop"
    _, out = await call(fake, body=chat_body("Hello", model="deepseek-reasoner", max_tokens=3))
    assert out["choices"][0]["message"]["content"] == "" and out["choices"][0]["finish_reason"] == "length"
    assert out["usage"]["completion_tokens"] == 3


async def test_json_mode_and_content_parts(fake: FakeDeepSeek) -> None:
    _, out = await call(fake, body=chat_body("Give json", response_format={"type": "json_object"}))
    assert json.loads(out["choices"][0]["message"]["content"])["response"].endswith('"Give json"')
    _, out = await call(fake, body=chat_body([{"type": "text", "text": "Hello!"}]))
    assert out["choices"][0]["message"]["content"] == "Hello! How can I assist you today? 😊"


async def test_stream(fake: FakeDeepSeek) -> None:
    body = chat_body("Explain vector search", model="deepseek-reasoner", stream=True,
                     stream_options={"include_usage": True})
    resp = await fake.handle(req(CHAT, body))
    assert resp.status == 200 and resp.headers["content-type"].startswith("text/event-stream")
    blocks = [b for b in resp.text.split("\n\n") if b]
    assert blocks[-1] == "data: [DONE]"
    chunks = [json.loads(b[len("data: "):]) for b in blocks[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    reasoning = "".join(c["choices"][0]["delta"].get("reasoning_content") or "" for c in chunks)
    content = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    _, full = await call(fake, body={**body, "stream": False})
    assert content == full["choices"][0]["message"]["content"]
    assert reasoning == full["choices"][0]["message"]["reasoning_content"]
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"] == full["usage"]
    assert all(c["usage"] is None for c in chunks[:-1])


# -------------------------------------------------------------------- auth


@pytest.mark.parametrize("headers", [{}, {"Authorization": "sk-test"}, {"Authorization": "Bearer "},
                                     {"Authorization": "Basic abc"}])
async def test_auth_format(fake: FakeDeepSeek, headers: dict[str, str]) -> None:
    assert await call(fake, body=chat_body(), headers=headers) == (
        401, err("Authentication Fails (auth header format should be Bearer sk-...)", "authentication_error"))


async def test_invalid_key() -> None:
    fake = FakeDeepSeek(api_keys=["sk-good"])
    assert await call(fake, body=chat_body(), headers={"Authorization": "Bearer sk-wrongcd15"}) == (
        401, err("Authentication Fails, Your api key: ****cd15 is invalid", "authentication_error"))
    status, _ = await call(fake, body=chat_body(), headers={"authorization": "bearer sk-good"})
    assert status == 200


async def test_auth_checked_before_body(fake: FakeDeepSeek) -> None:
    status, body = await call(fake, raw=b"{", headers={})
    assert status == 401 and body["error"]["type"] == "authentication_error"


async def test_unknown_path(fake: FakeDeepSeek) -> None:
    assert await call(fake, "/v1/embeddings", {}) == (404, err("Not Found"))
    assert await call(fake, CHAT, method="GET", raw=b"") == (404, err("Not Found"))


# -------------------------------------------------------------- validation


async def test_model_not_exist(fake: FakeDeepSeek) -> None:
    for model in ("deepseek-r1", "deepseek-v3", "gpt-4o"):
        assert await call(fake, body=chat_body(model=model)) == (400, err("Model Not Exist"))


async def test_missing_fields_report_serde_positions(fake: FakeDeepSeek) -> None:
    raw = json.dumps({"model": "deepseek-chat", "temperature": 0.2}).encode()
    assert await call(fake, raw=raw) == (400, serde(f"missing field `messages` at line 1 column {len(raw)}"))
    pretty = b'{\n  "messages": [\n    {"role": "user", "content": "hi"}\n  ]\n}'
    assert await call(fake, raw=pretty) == (400, serde("missing field `model` at line 5 column 1"))
    nested = (b'{\n  "model": "deepseek-chat",\n  "messages": [\n    {\n      "role": "system",\n'
              b'      "name": "x"\n    }\n  ]\n}')
    assert await call(fake, raw=nested) == (
        400, serde("messages[0]: missing field `content` at line 7 column 5"))


@pytest.mark.parametrize(
    "body, message",
    [
        ('{"model": 5, "messages": []}', "model: invalid type: integer `5`, expected a string at line 1 column 11"),
        ('{"model": null, "messages": []}', "model: invalid type: null, expected a string at line 1 column 14"),
        ('{"model": "deepseek-chat", "messages": "hi"}',
         'messages: invalid type: string "hi", expected a sequence at line 1 column 43'),
        ('{"model": "deepseek-chat", "messages": [], "max_tokens": 1.5}',
         "max_tokens: invalid type: floating point `1.5`, expected u32 at line 1 column 60"),
        ('{"model": "deepseek-chat", "messages": [], "max_tokens": -1}',
         "max_tokens: invalid value: integer `-1`, expected u32 at line 1 column 59"),
        ('{"model": "deepseek-chat", "messages": [], "stream": "yes"}',
         'stream: invalid type: string "yes", expected a boolean at line 1 column 58'),
        ('{"model": "deepseek-chat", "messages": [], "temperature": "0.5"}',
         'temperature: invalid type: string "0.5", expected f32 at line 1 column 63'),
        ('{"model": "deepseek-chat", "messages": [], "response_format": {"type": "xml"}}',
         "response_format.type: unknown variant `xml`, expected `text` or `json_object` at line 1 column 76"),
        ('{"messages": [{"role": "bot", "content": "x"}], "model": "deepseek-chat"}',
         ("messages[0]: unknown variant `bot`, expected one of `system`, `user`, `assistant`, `tool` "
          "at line 1 column 45")),
        ('{"model": "deepseek-chat", "messages": [{"content": "x"}]}',
         "messages[0]: missing field `role` at line 1 column 56"),
        ('{"model": "deepseek-chat", "messages": ["hi"]}',
         'messages[0]: invalid type: string "hi", expected internally tagged enum Message at line 1 column 44'),
        (('{"model": "deepseek-chat", "messages": [{"role": "user", "content": [{"type": "image_url", '
          '"image_url": {"url": "https://x/y.png"}}]}]}'),
         ("messages[0]: data did not match any variant of untagged enum ChatCompletionRequestContent "
          "at line 1 column 133")),
        (('{"model": "deepseek-chat", "messages": [{"role": "user", "content": "a"}, {"role": "assistant", '
          '"content": [{"type": "text", "text": "b"}]}]}'),
         "messages[1]: invalid type: sequence, expected a string at line 1 column 139"),
        ('{"model": "deepseek-chat", "messages": [{"role": "tool", "content": "42"}]}',
         "messages[0]: missing field `tool_call_id` at line 1 column 73"),
    ],
)
async def test_serde_errors(fake: FakeDeepSeek, body: str, message: str) -> None:
    assert await call(fake, raw=body.encode()) == (400, serde(message))


async def test_first_bad_field_in_document_order_wins(fake: FakeDeepSeek) -> None:
    raw = b'{"stream": 1, "model": 2}'
    assert await call(fake, raw=raw) == (
        400, serde("stream: invalid type: integer `1`, expected a boolean at line 1 column 12"))


async def test_assistant_tool_calls_without_content(fake: FakeDeepSeek) -> None:
    messages = [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": None,
         "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "w", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
    ]
    status, out = await call(fake, body={"model": "deepseek-chat", "messages": messages})
    assert status == 200 and '"weather?"' in out["choices"][0]["message"]["content"]


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"", "EOF while parsing a value at line 1 column 0"),
        (b"{", "EOF while parsing an object at line 1 column 1"),
        (b"nope", "expected value at line 1 column 1"),
        (b'{"model": "x",}', "trailing comma at line 1 column 15"),
        (b'{"model" "x"}', "expected `:` at line 1 column 10"),
        (b'{"model": "x"} x', "trailing characters at line 1 column 16"),
    ],
)
async def test_unparseable_body(fake: FakeDeepSeek, raw: bytes, message: str) -> None:
    assert await call(fake, raw=raw) == (400, err("Failed to parse the request body as JSON: " + message))


async def test_top_level_must_be_an_object(fake: FakeDeepSeek) -> None:
    assert await call(fake, raw=b"[1]") == (
        400, serde("invalid type: sequence, expected struct ChatCompletionRequest at line 1 column 3"))


async def test_ranges(fake: FakeDeepSeek) -> None:
    for model, limit in (("deepseek-chat", 8192), ("deepseek-reasoner", 65536)):
        expected = (400, err(f"Invalid max_tokens value, the valid range of max_tokens is [1, {limit}]"))
        assert await call(fake, body=chat_body(model=model, max_tokens=limit + 1)) == expected
        assert await call(fake, body=chat_body(model=model, max_tokens=0)) == expected
        status, _ = await call(fake, body=chat_body(model=model, max_tokens=limit))
        assert status == 200
    assert await call(fake, body=chat_body(temperature=2.5)) == (
        400, err("Invalid temperature value, the valid range of temperature is [0, 2]"))
    assert await call(fake, body={"model": "deepseek-chat", "messages": []}) == (400, err("Empty input messages"))
    assert await call(fake, body=chat_body(model="deepseek-reasoner", logprobs=True)) == (
        400, err("deepseek-reasoner does not support the parameter `logprobs`"))


# ------------------------------------------------------- script and recorder


async def test_canned_replies(fake: FakeDeepSeek, monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(provider_base.asyncio, "sleep", fake_sleep)  # the shared delayed() sleeps there
    fake.script.enqueue(
        FakeDeepSeek.insufficient_balance_response(),
        FakeDeepSeek.rate_limit_response(retry_after=4),
        FakeDeepSeek.delayed(2, FakeDeepSeek.overloaded_response()),
        FakeDeepSeek.fault(200, b"", {"Content-Type": "application/json"}),
    )
    r = await fake.handle(req(CHAT, chat_body()))
    assert (r.status, r.json_body()) == (402, err("Insufficient Balance", "unknown_error"))
    r = await fake.handle(req(CHAT, chat_body()))
    assert r.status == 429 and r.headers["Retry-After"] == "4"
    r = await fake.handle(req(CHAT, chat_body()))
    assert r.status == 503 and slept == [2]
    r = await fake.handle(req(CHAT, chat_body()))
    assert (r.status, r.body) == (200, b"")
    r = await fake.handle(req(CHAT, chat_body()))
    assert r.status == 200 and r.json_body()["object"] == "chat.completion"
    assert len(fake.recorder) == 5
    assert FakeDeepSeek.server_error_response().status == 500


# ------------------------------------------------------------ over HTTP


async def test_http_round_trip(fake: FakeDeepSeek) -> None:
    async with TestClient(TestServer(make_app(fake))) as http:
        payload = json.dumps(chat_body()).encode()
        resp = await http.post("/v1/chat/completions", data=payload,
                               headers={**AUTH, "Content-Type": "application/json"})
        assert resp.status == 200
        assert await resp.read() == (await FakeDeepSeek().handle(req(CHAT, raw=payload))).body
        resp = await http.post(CHAT, data=payload)
        assert resp.status == 401
        assert fake.recorder.last is not None and fake.recorder.last.body == payload
