"""Unit tests for the fake OpenAI provider, through handle() and over real loopback HTTP."""

from __future__ import annotations

import base64
import json
import math
import re
import struct
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from mlcommons_emu.providers.base import (
    FakeProvider,
    ProviderRequest,
    ProviderResponse,
    Recorder,
    Script,
    make_app,
)
from mlcommons_emu.providers.openai import FakeOpenAI

BASE = "https://api.openai.com"
AUTH = {"Authorization": "Bearer sk-test-123"}
CHAT = "/v1/chat/completions"
LEGACY = "/v1/completions"
EMB = "/v1/embeddings"

NO_KEY = (
    "You didn't provide an API key. You need to provide your API key in an Authorization "
    "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field "
    "(with blank username) if you're accessing the API from your browser and are prompted for "
    "a username and password. You can obtain an API key from "
    "https://platform.openai.com/account/api-keys."
)
PARSE_ERROR = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
    "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was "
    "sent was not valid JSON. If you have trouble figuring out how to fix this, please contact "
    "us through our help center at help.openai.com.)"
)


def err(message: str, param: str | None = None, code: str | None = None,
        type: str = "invalid_request_error") -> dict[str, Any]:
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def req(path: str, body: Any = None, *, headers: dict[str, str] | None = None,
        method: str = "POST", raw: bytes | None = None) -> ProviderRequest:
    data = raw if raw is not None else json.dumps(body).encode()
    return ProviderRequest(method, BASE + path, AUTH if headers is None else headers, data)


def chat_body(content: Any = "Hello!", **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-3.5-turbo", "messages": [{"role": "user", "content": content}], **extra}


@pytest.fixture
def fake() -> FakeOpenAI:
    return FakeOpenAI()


async def call(fake: FakeOpenAI, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
    resp = await fake.handle(req(path, body, **kw))
    return resp.status, resp.json_body()


# ----------------------------------------------------------------- identity


def test_identity_and_protocol(fake: FakeOpenAI) -> None:
    assert fake.name == "openai"
    assert fake.hosts == ("api.openai.com",)
    assert isinstance(fake, FakeProvider)
    assert isinstance(fake.recorder, Recorder)
    assert isinstance(fake.script, Script)


# --------------------------------------------------------------------- chat


async def test_chat_greeting_has_openai_shape(fake: FakeOpenAI) -> None:
    body = {
        "model": "gpt-3.5-turbo",
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Hello!"},
        ],
    }
    resp = await fake.handle(req(CHAT, body))
    assert resp.status == 200
    assert resp.headers["content-type"] == "application/json"
    assert re.fullmatch(r"req_[0-9a-f]{32}", resp.headers["X-Request-Id"])
    out = resp.json_body()
    assert re.fullmatch(r"chatcmpl-[A-Za-z0-9]{29}", out["id"])
    assert out["object"] == "chat.completion"
    assert isinstance(out["created"], int) and 1_600_000_000 < out["created"] < 1_800_000_000
    assert out["model"] == "gpt-3.5-turbo-0125"
    assert re.fullmatch(r"fp_[0-9a-f]{10}", out["system_fingerprint"])
    assert out["choices"] == [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Hello! How can I assist you today?",
                "refusal": None,
            },
            "logprobs": None,
            "finish_reason": "stop",
        }
    ]
    # Same numbers as OpenAI's own documentation example for this conversation.
    usage = out["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (19, 9, 28)


async def test_chat_reply_references_prompt(fake: FakeOpenAI) -> None:
    _, out = await call(fake, CHAT, chat_body("What is k-NN search?"))
    assert "What is k-NN search?" in out["choices"][0]["message"]["content"]


async def test_chat_model_echo(fake: FakeOpenAI) -> None:
    for model, expected in [
        ("gpt-4o-mini", "gpt-4o-mini-2024-07-18"),
        ("gpt-4", "gpt-4-0613"),
        ("gpt-4-0613", "gpt-4-0613"),
    ]:
        _, out = await call(fake, CHAT, {**chat_body(), "model": model})
        assert out["model"] == expected


async def test_chat_is_deterministic(fake: FakeOpenAI) -> None:
    body = chat_body("Tell me about OpenSearch", temperature=0.7)
    r1 = await fake.handle(req(CHAT, body))
    r2 = await FakeOpenAI().handle(req(CHAT, body))
    assert r1.body == r2.body
    assert r1.headers["x-request-id"] == r2.headers["x-request-id"]
    # Key order and whitespace don't change the canonical request.
    reordered = json.dumps(dict(reversed(list(body.items()))), indent=4).encode()
    r3 = await fake.handle(req(CHAT, raw=reordered))
    assert r3.body == r1.body
    r4 = await fake.handle(req(CHAT, chat_body("Tell me about OpenSearch", temperature=0.8)))
    assert r4.json_body()["id"] != r1.json_body()["id"]


async def test_chat_max_tokens_truncates(fake: FakeOpenAI) -> None:
    _, full = await call(fake, CHAT, chat_body("Explain vector databases please"))
    full_text = full["choices"][0]["message"]["content"]
    status, out = await call(fake, CHAT, chat_body("Explain vector databases please", max_tokens=4))
    assert status == 200
    choice = out["choices"][0]
    assert choice["finish_reason"] == "length"
    assert choice["message"]["content"] == "This is a deterministic"
    assert full_text.startswith(choice["message"]["content"])
    assert out["usage"]["completion_tokens"] == 4
    # A limit at or above the reply length leaves it untouched.
    _, roomy = await call(fake, CHAT, chat_body("Hello!", max_tokens=9))
    assert roomy["choices"][0]["finish_reason"] == "stop"
    assert roomy["choices"][0]["message"]["content"] == "Hello! How can I assist you today?"


async def test_chat_max_completion_tokens_and_stop(fake: FakeOpenAI) -> None:
    _, out = await call(fake, CHAT, chat_body("Hello!", max_completion_tokens=2))
    assert out["choices"][0]["message"]["content"] == "Hello!"
    assert out["choices"][0]["finish_reason"] == "length"
    _, out = await call(fake, CHAT, chat_body("Hello!", stop=[" How"]))
    assert out["choices"][0]["message"]["content"] == "Hello!"
    assert out["choices"][0]["finish_reason"] == "stop"


async def test_chat_n_choices(fake: FakeOpenAI) -> None:
    _, out = await call(fake, CHAT, chat_body("Hello!", n=3))
    assert [c["index"] for c in out["choices"]] == [0, 1, 2]
    assert out["usage"]["completion_tokens"] == 27


async def test_chat_content_parts_and_images(fake: FakeOpenAI) -> None:
    parts = [
        {"type": "text", "text": "Hello!"},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
    ]
    status, out = await call(fake, CHAT, chat_body(parts, model="gpt-4o"))
    assert status == 200
    assert out["choices"][0]["message"]["content"] == "Hello! How can I assist you today?"
    assert out["usage"]["prompt_tokens"] == 3 + 3 + 1 + 2 + 85


async def test_chat_json_object_mode(fake: FakeOpenAI) -> None:
    status, body = await call(
        fake, CHAT, chat_body("Hello!", response_format={"type": "json_object"})
    )
    assert (status, body) == (
        400,
        err("'messages' must contain the word 'json' in some form, to use 'response_format' "
            "of type 'json_object'.", "messages"),
    )
    _, out = await call(
        fake, CHAT, chat_body("Reply in JSON", response_format={"type": "json_object"})
    )
    assert isinstance(json.loads(out["choices"][0]["message"]["content"]), dict)


async def test_chat_json_schema_mode(fake: FakeOpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "string"}, "score": {"type": "number"},
                       "tags": {"type": "array", "items": {"type": "string"}},
                       "kind": {"enum": ["a", "b"]}},
        "required": ["answer", "score", "tags", "kind"],
    }
    rf = {"type": "json_schema", "json_schema": {"name": "r", "schema": schema, "strict": True}}
    _, out = await call(fake, CHAT, chat_body("Q?", model="gpt-4o", response_format=rf))
    parsed = json.loads(out["choices"][0]["message"]["content"])
    assert set(parsed) == {"answer", "score", "tags", "kind"}
    assert parsed["kind"] == "a" and isinstance(parsed["tags"], list)


async def test_chat_forced_tool_call(fake: FakeOpenAI) -> None:
    tools = [{"type": "function", "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"days": {"type": "integer"}}}}}]
    _, out = await call(fake, CHAT, chat_body("Weather?", model="gpt-4o", tools=tools,
                                              tool_choice="required"))
    choice = out["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    call_ = choice["message"]["tool_calls"][0]
    assert re.fullmatch(r"call_[A-Za-z0-9]{24}", call_["id"])
    assert call_["function"] == {"name": "get_weather", "arguments": '{"days": 0}'}
    assert choice["message"]["content"] is None
    # With tool_choice auto the fake answers in text.
    _, out = await call(fake, CHAT, chat_body("Weather?", model="gpt-4o", tools=tools))
    assert out["choices"][0]["finish_reason"] == "stop"


async def test_chat_tool_round_trip_is_accepted(fake: FakeOpenAI) -> None:
    messages = [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]
    status, _ = await call(fake, CHAT, {"model": "gpt-4o", "messages": messages})
    assert status == 200


async def test_chat_stream_matches_non_stream(fake: FakeOpenAI) -> None:
    resp = await fake.handle(req(CHAT, chat_body("Hello!", stream=True,
                                                 stream_options={"include_usage": True})))
    assert resp.status == 200
    assert resp.headers["content-type"].startswith("text/event-stream")
    events = [line[len("data: "):] for line in resp.text.split("\n\n") if line]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert len({c["id"] for c in chunks}) == 1
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == "Hello! How can I assist you today?"
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 9


# ---------------------------------------------------------------- auth


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": ""}, {"Authorization": "Bearer "}, {"Authorization": "Basic abc"},
     {"Authorization": "sk-test-123"}, {"X-Api-Key": "sk-test-123"}],
)
async def test_auth_missing_or_malformed(fake: FakeOpenAI, headers: dict[str, str]) -> None:
    status, body = await call(fake, CHAT, chat_body(), headers=headers)
    assert (status, body) == (401, err(NO_KEY))


async def test_auth_header_is_case_insensitive(fake: FakeOpenAI) -> None:
    status, _ = await call(fake, CHAT, chat_body(), headers={"authorization": "bearer sk-x"})
    assert status == 200


async def test_auth_checked_before_body(fake: FakeOpenAI) -> None:
    status, body = await call(fake, CHAT, headers={}, raw=b"not json")
    assert (status, body) == (401, err(NO_KEY))


async def test_auth_with_configured_keys() -> None:
    fake = FakeOpenAI(api_keys=["sk-good-key-0001"])
    status, _ = await call(fake, CHAT, chat_body(),
                           headers={"Authorization": "Bearer sk-good-key-0001"})
    assert status == 200
    status, body = await call(fake, CHAT, chat_body(),
                              headers={"Authorization": "Bearer sk-wrong-key-abcdefgh"})
    assert status == 401
    assert body == err(
        "Incorrect API key provided: sk-wrong*********efgh. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        code="invalid_api_key",
    )


# ----------------------------------------------------------- validation


@pytest.mark.parametrize("raw", [b"", b"{not json", b"[1, 2]", b'"str"', b"null",
                                 b'{"model": NaN}', b"\xff\xfe"])
async def test_body_must_be_a_json_object(fake: FakeOpenAI, raw: bytes) -> None:
    status, body = await call(fake, CHAT, raw=raw)
    assert (status, body) == (400, err(PARSE_ERROR))


@pytest.mark.parametrize(("path", "body"), [
    (CHAT, {"messages": [{"role": "user", "content": "x"}]}),
    (LEGACY, {"prompt": "x"}),
    (EMB, {"input": "x"}),
    (EMB, {"input": "x", "model": None}),
])
async def test_model_is_required(fake: FakeOpenAI, path: str, body: dict[str, Any]) -> None:
    status, out = await call(fake, path, body)
    assert (status, out) == (400, err("you must provide a model parameter"))


async def test_unknown_model(fake: FakeOpenAI) -> None:
    status, body = await call(fake, CHAT, chat_body(model="gpt-17-ultra"))
    assert (status, body) == (
        404,
        err("The model `gpt-17-ultra` does not exist or you do not have access to it.",
            code="model_not_found"),
    )


async def test_wrong_model_family_for_endpoint(fake: FakeOpenAI) -> None:
    status, body = await call(fake, CHAT, chat_body(model="text-embedding-ada-002"))
    assert (status, body) == (
        404,
        err("This is not a chat model and thus not supported in the v1/chat/completions "
            "endpoint. Did you mean to use v1/completions?", "model"),
    )
    status, body = await call(fake, LEGACY, {"model": "gpt-4o", "prompt": "x"})
    assert (status, body) == (
        404,
        err("This is a chat model and not supported in the v1/completions endpoint. "
            "Did you mean to use v1/chat/completions?", "model"),
    )
    status, body = await call(fake, EMB, {"model": "gpt-4o", "input": "x"})
    assert status == 400 and body["error"]["param"] == "model"


async def test_extra_models_can_be_registered() -> None:
    fake = FakeOpenAI(chat_models=["my-chat"], embedding_models={"my-emb": 8})
    status, _ = await call(fake, CHAT, chat_body(model="my-chat"))
    assert status == 200
    _, out = await call(fake, EMB, {"model": "my-emb", "input": "x"})
    assert len(out["data"][0]["embedding"]) == 8


async def test_unrecognized_arguments(fake: FakeOpenAI) -> None:
    status, body = await call(fake, CHAT, chat_body(top_k=5))
    assert (status, body) == (400, err("Unrecognized request argument supplied: top_k"))
    status, body = await call(fake, CHAT, chat_body(top_k=5, input="x"))
    assert (status, body) == (400, err("Unrecognized request arguments supplied: input, top_k"))


MESSAGE_CASES = [
    (None, "Missing required parameter: 'messages'.", "messages", "missing_required_parameter"),
    ("hi", "Invalid type for 'messages': expected an array, but got a string instead.",
     "messages", "invalid_type"),
    ([], "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an "
         "empty array instead.", "messages", "empty_array"),
    (["hi"], "Invalid type for 'messages[0]': expected an object, but got a string instead.",
     "messages[0]", "invalid_type"),
    ([{"content": "hi"}], "Missing required parameter: 'messages[0].role'.",
     "messages[0].role", "missing_required_parameter"),
    ([{"role": "bot", "content": "hi"}],
     "Invalid value: 'bot'. Supported values are: 'system', 'assistant', 'user', 'function', "
     "'tool', and 'developer'.", "messages[0].role", "invalid_value"),
    ([{"role": "user", "content": "hi"}, {"role": "user"}],
     "Missing required parameter: 'messages[1].content'.", "messages[1].content",
     "missing_required_parameter"),
    ([{"role": "user", "content": 42}],
     "Invalid type for 'messages[0].content': expected one of a string or array of objects, "
     "but got an integer instead.", "messages[0].content", "invalid_type"),
    ([{"role": "user", "content": [{"text": "hi"}]}],
     "Missing required parameter: 'messages[0].content[0].type'.", "messages[0].content[0].type",
     "missing_required_parameter"),
    ([{"role": "system", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}],
     "Invalid value: 'image_url'. Supported values are: 'text'.",
     "messages[0].content[0].type", "invalid_value"),
    ([{"role": "user", "content": "hi"}, {"role": "tool", "tool_call_id": "c", "content": "x"}],
     "Invalid parameter: messages with role 'tool' must be a response to a preceeding message "
     "with 'tool_calls'.", "messages.[1].role", None),
]


@pytest.mark.parametrize(("messages", "message", "param", "code"), MESSAGE_CASES)
async def test_messages_validation(fake: FakeOpenAI, messages: Any, message: str,
                                   param: str, code: str | None) -> None:
    body: dict[str, Any] = {"model": "gpt-4o"}
    if messages is not None:
        body["messages"] = messages
    status, out = await call(fake, CHAT, body)
    assert (status, out) == (400, err(message, param, code))


PARAM_CASES = [
    ({"temperature": 3}, "Invalid 'temperature': decimal above maximum value. Expected a value "
     "<= 2, but got 3 instead.", "temperature", "decimal_above_max_value"),
    ({"temperature": -0.5}, "Invalid 'temperature': decimal below minimum value. Expected a "
     "value >= 0, but got -0.5 instead.", "temperature", "decimal_below_min_value"),
    ({"temperature": "hot"}, "Invalid type for 'temperature': expected a decimal, but got a "
     "string instead.", "temperature", "invalid_type"),
    ({"max_tokens": 0}, "Invalid 'max_tokens': integer below minimum value. Expected a value "
     ">= 1, but got 0 instead.", "max_tokens", "integer_below_min_value"),
    ({"max_tokens": "10"}, "Invalid type for 'max_tokens': expected an integer, but got a "
     "string instead.", "max_tokens", "invalid_type"),
    ({"max_tokens": 10.0}, "Invalid type for 'max_tokens': expected an integer, but got a "
     "decimal instead.", "max_tokens", "invalid_type"),
    ({"n": True}, "Invalid type for 'n': expected an integer, but got a boolean instead.",
     "n", "invalid_type"),
    ({"n": 0}, "Invalid 'n': integer below minimum value. Expected a value >= 1, but got 0 "
     "instead.", "n", "integer_below_min_value"),
    ({"stream": "yes"}, "Invalid type for 'stream': expected a boolean, but got a string "
     "instead.", "stream", "invalid_type"),
    ({"stop": ["a", "b", "c", "d", "e"]}, "Invalid 'stop': array too long. Expected an array "
     "with maximum length 4, but got an array with length 5 instead.", "stop",
     "array_above_max_length"),
]


@pytest.mark.parametrize(("extra", "message", "param", "code"), PARAM_CASES)
async def test_parameter_validation(fake: FakeOpenAI, extra: dict[str, Any], message: str,
                                    param: str, code: str) -> None:
    status, out = await call(fake, CHAT, chat_body(**extra))
    assert (status, out) == (400, err(message, param, code))


async def test_null_optional_parameters_mean_default(fake: FakeOpenAI) -> None:
    status, _ = await call(fake, CHAT, chat_body(temperature=None, max_tokens=None, n=None,
                                                 stop=None, stream=None))
    assert status == 200


async def test_reasoning_models_reject_max_tokens(fake: FakeOpenAI) -> None:
    status, out = await call(fake, CHAT, chat_body(model="o1", max_tokens=10))
    assert (status, out) == (
        400,
        err("Unsupported parameter: 'max_tokens' is not supported with this model. "
            "Use 'max_completion_tokens' instead.", "max_tokens", "unsupported_parameter"),
    )
    status, _ = await call(fake, CHAT, chat_body(model="o1", max_completion_tokens=10))
    assert status == 200


# ------------------------------------------------------- legacy completions


async def test_legacy_completion_shape(fake: FakeOpenAI) -> None:
    status, out = await call(fake, LEGACY, {"model": "text-davinci-003",
                                            "prompt": "Say this is a test", "max_tokens": 50})
    assert status == 200
    assert re.fullmatch(r"cmpl-[A-Za-z0-9]{29}", out["id"])
    assert out["object"] == "text_completion"
    assert out["model"] == "text-davinci-003"
    (choice,) = out["choices"]
    assert set(choice) == {"text", "index", "logprobs", "finish_reason"}
    assert choice["text"] == '\n\nThis is a deterministic completion for: "Say this is a test"'
    assert (choice["index"], choice["logprobs"], choice["finish_reason"]) == (0, None, "stop")
    assert out["usage"] == {"prompt_tokens": 5, "completion_tokens": 14, "total_tokens": 19}


async def test_legacy_default_max_tokens_is_16(fake: FakeOpenAI) -> None:
    long_prompt = "one two three four five six seven eight nine ten eleven twelve"
    _, out = await call(fake, LEGACY, {"model": "gpt-3.5-turbo-instruct", "prompt": long_prompt})
    assert out["choices"][0]["finish_reason"] == "length"
    assert out["usage"]["completion_tokens"] == 16


async def test_legacy_prompt_forms(fake: FakeOpenAI) -> None:
    _, out = await call(fake, LEGACY, {"model": "davinci-002", "prompt": ["a", "b"], "n": 2})
    assert [c["index"] for c in out["choices"]] == [0, 1, 2, 3]
    _, out = await call(fake, LEGACY, {"model": "davinci-002", "prompt": [1, 2, 3]})
    assert out["usage"]["prompt_tokens"] == 3
    _, out = await call(fake, LEGACY, {"model": "davinci-002", "prompt": "Hi", "echo": True})
    assert out["choices"][0]["text"].startswith("Hi\n\n")


async def test_legacy_prompt_validation(fake: FakeOpenAI) -> None:
    status, out = await call(fake, LEGACY, {"model": "text-davinci-003"})
    assert (status, out) == (400, err("Missing required parameter: 'prompt'.", "prompt",
                                      "missing_required_parameter"))
    status, out = await call(fake, LEGACY, {"model": "text-davinci-003", "prompt": {"a": 1}})
    assert status == 400 and out["error"]["code"] == "invalid_type"
    status, out = await call(fake, LEGACY, {"model": "text-davinci-003", "prompt": "x",
                                            "messages": []})
    assert (status, out) == (400, err("Unrecognized request argument supplied: messages"))


# ------------------------------------------------------------- embeddings


@pytest.mark.parametrize(("model", "dims"), [("text-embedding-ada-002", 1536),
                                             ("text-embedding-3-small", 1536),
                                             ("text-embedding-3-large", 3072)])
async def test_embedding_dimensions_by_model(fake: FakeOpenAI, model: str, dims: int) -> None:
    status, out = await call(fake, EMB, {"model": model, "input": "The food was delicious"})
    assert status == 200
    assert out["object"] == "list" and out["model"] == model
    (item,) = out["data"]
    assert (item["object"], item["index"]) == ("embedding", 0)
    vec = item["embedding"]
    assert len(vec) == dims
    assert all(isinstance(v, float) and round(v, 8) == v for v in vec)
    assert math.isclose(math.sqrt(sum(v * v for v in vec)), 1.0, abs_tol=1e-6)
    assert out["usage"] == {"prompt_tokens": 4, "total_tokens": 4}


async def test_embedding_batch_is_deterministic_per_text(fake: FakeOpenAI) -> None:
    _, batch = await call(fake, EMB, {"model": "text-embedding-3-small",
                                      "input": ["alpha", "beta", "alpha"]})
    _, single = await call(fake, EMB, {"model": "text-embedding-3-small", "input": "beta"})
    vecs = [d["embedding"] for d in batch["data"]]
    assert [d["index"] for d in batch["data"]] == [0, 1, 2]
    assert vecs[0] == vecs[2] != vecs[1]
    assert single["data"][0]["embedding"] == vecs[1]
    _, other_model = await call(fake, EMB, {"model": "text-embedding-ada-002", "input": "beta"})
    assert other_model["data"][0]["embedding"] != vecs[1]


async def test_embedding_dimensions_parameter(fake: FakeOpenAI) -> None:
    _, full = await call(fake, EMB, {"model": "text-embedding-3-large", "input": "x"})
    _, short = await call(fake, EMB, {"model": "text-embedding-3-large", "input": "x",
                                      "dimensions": 256})
    f, s = full["data"][0]["embedding"], short["data"][0]["embedding"]
    assert len(s) == 256
    assert math.isclose(math.sqrt(sum(v * v for v in s)), 1.0, abs_tol=1e-6)
    # Shortening keeps direction: the short vector is the renormalised prefix.
    ratio = s[0] / f[0]
    assert all(math.isclose(a, b * ratio, rel_tol=1e-4, abs_tol=1e-7) for a, b in zip(s, f[:256]))


async def test_embedding_dimensions_errors(fake: FakeOpenAI) -> None:
    status, out = await call(fake, EMB, {"model": "text-embedding-ada-002", "input": "x",
                                         "dimensions": 512})
    assert (status, out) == (400, err("This model does not support specifying dimensions."))
    status, out = await call(fake, EMB, {"model": "text-embedding-3-small", "input": "x",
                                         "dimensions": 2000})
    assert (status, out) == (400, err(
        "Invalid 'dimensions': integer above maximum value. Expected a value <= 1536, but got "
        "2000 instead.", "dimensions", "integer_above_max_value"))


@pytest.mark.parametrize("bad", ["", [], [""], ["ok", ""], [[]], [1, "a"], {"text": "x"}, 5])
async def test_embedding_invalid_input(fake: FakeOpenAI, bad: Any) -> None:
    status, out = await call(fake, EMB, {"model": "text-embedding-3-small", "input": bad})
    assert (status, out) == (400, err(
        "'$.input' is invalid. Please check the API reference: "
        "https://platform.openai.com/docs/api-reference."))


async def test_embedding_missing_input(fake: FakeOpenAI) -> None:
    status, out = await call(fake, EMB, {"model": "text-embedding-3-small"})
    assert (status, out) == (400, err("Missing required parameter: 'input'.", "input",
                                      "missing_required_parameter"))


async def test_embedding_token_arrays_and_base64(fake: FakeOpenAI) -> None:
    _, out = await call(fake, EMB, {"model": "text-embedding-ada-002",
                                    "input": [[1, 2, 3], [4, 5]]})
    assert len(out["data"]) == 2
    assert out["usage"]["prompt_tokens"] == 5
    _, as_float = await call(fake, EMB, {"model": "text-embedding-3-small", "input": "x"})
    _, as_b64 = await call(fake, EMB, {"model": "text-embedding-3-small", "input": "x",
                                       "encoding_format": "base64"})
    raw = base64.b64decode(as_b64["data"][0]["embedding"])
    decoded = struct.unpack(f"<{len(raw) // 4}f", raw)
    assert len(decoded) == 1536
    assert all(math.isclose(a, b, abs_tol=1e-6)
               for a, b in zip(decoded, as_float["data"][0]["embedding"]))
    status, out = await call(fake, EMB, {"model": "text-embedding-3-small", "input": "x",
                                         "encoding_format": "int8"})
    assert (status, out) == (400, err("Invalid value: 'int8'. Supported values are: 'float' "
                                      "and 'base64'.", "encoding_format", "invalid_value"))


# ------------------------------------------------------------ routing


async def test_unknown_path_is_404(fake: FakeOpenAI) -> None:
    resp = await fake.handle(req("/v1/xyz", {}))
    assert resp.status == 404
    assert resp.json_body() == err("Invalid URL (POST /v1/xyz)")
    assert resp.headers["Content-Type"] == "application/json"
    assert "x-request-id" in resp.headers


async def test_unknown_path_ignores_query_and_auth(fake: FakeOpenAI) -> None:
    resp = await fake.handle(req("/v2/chat/completions?x=1", {}, headers={}))
    assert resp.json_body() == err("Invalid URL (POST /v2/chat/completions)")


async def test_wrong_method_is_405(fake: FakeOpenAI) -> None:
    resp = await fake.handle(req(CHAT, method="GET", raw=b""))
    assert resp.status == 405
    assert resp.json_body() == err("Invalid method for URL (GET /v1/chat/completions)")
    assert resp.headers["Allow"] == "POST"


async def test_handle_accepts_foreign_request_objects(fake: FakeOpenAI) -> None:
    # The connector runtime's transport hands over its own request type.
    @dataclass(frozen=True)
    class Outbound:
        method: str
        url: str
        headers: dict[str, str] = field(default_factory=dict)
        body: bytes = b""

    resp = await fake.handle(Outbound("post", BASE + CHAT, {"authorization": "Bearer k"},
                                      json.dumps(chat_body()).encode()))
    assert resp.status == 200
    assert isinstance(fake.recorder.last, ProviderRequest)
    assert fake.recorder.last.headers["AUTHORIZATION"] == "Bearer k"


# ---------------------------------------------------- script and recorder


async def test_script_injects_replies_fifo(fake: FakeOpenAI) -> None:
    fake.script.enqueue(FakeOpenAI.rate_limit_response(), FakeOpenAI.server_error_response())
    r1 = await fake.handle(req(CHAT, chat_body()))
    assert r1.status == 429
    assert r1.json_body()["error"]["code"] == "rate_limit_exceeded"
    assert r1.json_body()["error"]["type"] == "requests"
    assert r1.headers["x-ratelimit-remaining-requests"] == "0"
    r2 = await fake.handle(req(CHAT, chat_body()))
    assert (r2.status, r2.json_body()) == (500, err(
        "The server had an error while processing your request. Sorry about that!",
        type="server_error"))
    r3 = await fake.handle(req(CHAT, chat_body()))
    assert r3.status == 200
    assert len(fake.script) == 0


async def test_script_replies_bypass_validation(fake: FakeOpenAI) -> None:
    fake.script.enqueue(FakeOpenAI.quota_exceeded_response())
    resp = await fake.handle(req("/v1/nowhere", headers={}, raw=b"junk"))
    assert resp.status == 429
    assert resp.json_body()["error"]["code"] == "insufficient_quota"


async def test_script_callables(fake: FakeOpenAI) -> None:
    seen: list[str] = []

    def observe(request: ProviderRequest) -> None:
        seen.append(request.path)
        return None  # fall through to normal handling

    async def echo_model(request: ProviderRequest) -> ProviderResponse:
        return ProviderResponse.json(418, {"model": request.json()["model"]})

    fake.script.enqueue(observe)
    fake.script.enqueue(echo_model)
    r1 = await fake.handle(req(CHAT, chat_body()))
    assert r1.status == 200 and seen == [CHAT]
    r2 = await fake.handle(req(CHAT, chat_body()))
    assert (r2.status, r2.json_body()) == (418, {"model": "gpt-3.5-turbo"})
    with pytest.raises(TypeError):
        fake.script.enqueue("not a response")  # type: ignore[arg-type]
    fake.script.enqueue(FakeOpenAI.overloaded_response())
    fake.script.clear()
    assert (await fake.handle(req(CHAT, chat_body()))).status == 200


async def test_recorder_keeps_every_answered_request(fake: FakeOpenAI) -> None:
    assert fake.recorder.last is None and fake.recorder.requests == []
    fake.script.enqueue(FakeOpenAI.rate_limit_response())
    await fake.handle(req(CHAT, chat_body("one")))
    await fake.handle(req(CHAT, chat_body("two")))
    await fake.handle(req("/v1/xyz", {}))
    reqs = fake.recorder.requests
    assert [r.path for r in reqs] == [CHAT, CHAT, "/v1/xyz"]
    assert reqs[1].json()["messages"][0]["content"] == "two"
    assert fake.recorder.last is reqs[-1]
    reqs.clear()  # a snapshot, not the recorder's own storage
    assert len(fake.recorder) == 3
    fake.recorder.clear()
    assert fake.recorder.requests == [] and fake.recorder.last is None


async def test_recorder_is_bounded() -> None:
    fake = FakeOpenAI(recorder_size=3)
    for i in range(5):
        await fake.handle(req(CHAT, chat_body(f"msg {i}")))
    assert [r.json()["messages"][0]["content"] for r in fake.recorder.requests] == [
        "msg 2", "msg 3", "msg 4"]
    assert Recorder().maxlen == 1000


def test_provider_types_normalise() -> None:
    r = ProviderRequest("post", BASE + CHAT + "?a=1", [("X-A", "1"), ("x-a", "2")], "body")
    assert (r.method, r.host, r.path, r.query, r.body) == ("POST", "api.openai.com", CHAT, "a=1", b"body")
    assert r.headers.getall("X-a") == ["1", "2"]
    resp = ProviderResponse.json(201, {"é": 1}, {"X-Thing": "y"})
    assert resp.headers["content-type"] == "application/json"
    assert resp.body == '{"é": 1}'.encode()
    assert resp.json_body() == {"é": 1}


# ------------------------------------------------------------ over HTTP


@pytest.fixture
async def http(fake: FakeOpenAI):
    async with TestClient(TestServer(make_app(fake))) as client:
        yield client


async def test_http_chat_matches_handle(fake: FakeOpenAI, http: TestClient) -> None:
    payload = json.dumps(chat_body()).encode()
    resp = await http.post(CHAT, data=payload, headers={**AUTH, "Content-Type": "application/json"})
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "application/json"
    assert resp.headers["x-request-id"].startswith("req_")
    body = await resp.read()
    direct = await FakeOpenAI().handle(req(CHAT, raw=payload))
    assert body == direct.body
    seen = fake.recorder.last
    assert seen is not None and seen.method == "POST" and seen.path == CHAT
    assert seen.headers["authorization"] == AUTH["Authorization"]
    assert seen.body == payload


async def test_http_errors(http: TestClient) -> None:
    resp = await http.post(CHAT, json=chat_body())
    assert resp.status == 401
    assert await resp.json() == err(NO_KEY)
    resp = await http.post("/v1/xyz", json={}, headers=AUTH)
    assert resp.status == 404
    assert await resp.json() == err("Invalid URL (POST /v1/xyz)")
    resp = await http.get(EMB, headers=AUTH)
    assert resp.status == 405
    assert await resp.json() == err("Invalid method for URL (GET /v1/embeddings)")
    resp = await http.post(CHAT, data=b"{", headers=AUTH)
    assert resp.status == 400
    assert await resp.json() == err(PARSE_ERROR)


async def test_http_script_injection(fake: FakeOpenAI, http: TestClient) -> None:
    fake.script.enqueue(FakeOpenAI.rate_limit_response("gpt-4o", retry_after=7))
    resp = await http.post(CHAT, json=chat_body(), headers=AUTH)
    assert resp.status == 429
    assert resp.headers["x-ratelimit-reset-requests"] == "7s"
    assert "Please try again in 7s" in (await resp.json())["error"]["message"]
    resp = await http.post(CHAT, json=chat_body(), headers=AUTH)
    assert resp.status == 200


async def test_http_accepts_large_embedding_batches(http: TestClient) -> None:
    # Larger than aiohttp's default 1 MiB request body limit.
    inputs = [f"document {i} " + "lorem ipsum " * 80 for i in range(1200)]
    resp = await http.post(EMB, json={"model": "text-embedding-3-small", "input": inputs,
                                      "dimensions": 2}, headers=AUTH)
    assert resp.status == 200
    out = await resp.json()
    assert len(out["data"]) == 1200 and len(out["data"][0]["embedding"]) == 2
