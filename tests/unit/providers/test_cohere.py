"""Unit tests for the fake Cohere provider, through handle() and over loopback HTTP."""

from __future__ import annotations

import asyncio
import base64
import json
import math
import re
import struct
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
from mlcommons_emu.providers.cohere import FakeCohere

BASE = "https://api.cohere.ai"
AUTH = {"Authorization": "Bearer co-test-key"}
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")

INPUT_TYPE_ERROR = {"message": "invalid request: valid input_type must be provided with the provided model"}


def req(path: str, body: Any = None, *, headers: dict[str, str] | None = None,
        method: str = "POST", raw: bytes | None = None, base: str = BASE) -> ProviderRequest:
    data = raw if raw is not None else json.dumps(body).encode()
    return ProviderRequest(method, base + path, AUTH if headers is None else headers, data)


@pytest.fixture
def fake() -> FakeCohere:
    return FakeCohere()


async def call(fake: FakeCohere, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
    resp = await fake.handle(req(path, body, **kw))
    return resp.status, resp.json_body()


def embed_v1(texts: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    return {"texts": ["hello world"] if texts is None else texts, "model": "embed-english-v3.0",
            "input_type": "search_document", **extra}


def embed_v2(texts: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    return {**embed_v1(texts), "embedding_types": ["float"], **extra}


def norm(v: list[float]) -> float:
    return math.sqrt(sum(x * x for x in v))


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b)) / (norm(a) * norm(b))


# ----------------------------------------------------------------- identity


def test_identity_and_protocol(fake: FakeCohere) -> None:
    assert fake.name == "cohere"
    assert fake.hosts == ("api.cohere.ai", "api.cohere.com")
    assert isinstance(fake, FakeProvider)
    assert isinstance(fake.recorder, Recorder) and isinstance(fake.script, Script)
    assert fake.matches("api.cohere.com") and fake.matches("API.COHERE.AI")
    assert not fake.matches("api.cohere.ai.example.com") and not fake.matches("cohere.ai")


async def test_both_hosts_answer(fake: FakeCohere) -> None:
    r1 = await fake.handle(req("/v1/embed", embed_v1(), base="https://api.cohere.ai"))
    r2 = await fake.handle(req("/v1/embed", embed_v1(), base="https://api.cohere.com"))
    assert r1.status == r2.status == 200
    assert r1.body == r2.body


# -------------------------------------------------------------------- auth


@pytest.mark.parametrize(
    "headers, message",
    [
        ({}, "no api key supplied"),
        ({"Authorization": ""}, "no api key supplied"),
        ({"Authorization": "Bearer "}, "no api key supplied"),
        ({"Authorization": "Basic Zm9vOmJhcg=="}, "invalid api token"),
        ({"Authorization": "co-test-key"}, "invalid api token"),
    ],
)
async def test_auth_failures(fake: FakeCohere, headers: dict[str, str], message: str) -> None:
    resp = await fake.handle(req("/v1/embed", embed_v1(), headers=headers))
    assert resp.status == 401
    assert resp.json_body() == {"message": message}


async def test_configured_keys() -> None:
    fake = FakeCohere(api_keys=["good"])
    assert (await call(fake, "/v1/embed", embed_v1(), headers={"Authorization": "Bearer bad"})) == (
        401, {"message": "invalid api token"})
    status, _ = await call(fake, "/v1/embed", embed_v1(), headers={"authorization": "bearer good"})
    assert status == 200


async def test_auth_checked_before_body(fake: FakeCohere) -> None:
    assert await call(fake, "/v2/chat", raw=b"{not json", headers={}) == (401, {"message": "no api key supplied"})


async def test_unknown_path_and_method(fake: FakeCohere) -> None:
    assert await call(fake, "/v1/embeddings", {}) == (404, {"message": "404 page not found"})
    assert await call(fake, "/v1/embed", method="GET", raw=b"") == (405, {"message": "405 method not allowed"})


@pytest.mark.parametrize("raw", [b"{", b"[1, 2]", b'"texts"', b"\xff\xfe", b'{"x": NaN}'])
async def test_body_must_be_a_json_object(fake: FakeCohere, raw: bytes) -> None:
    assert await call(fake, "/v1/embed", raw=raw) == (
        400, {"message": "invalid request: could not parse request body as JSON"})


# ---------------------------------------------------------------- v1 embed


async def test_v1_embed_float_shape(fake: FakeCohere) -> None:
    resp = await fake.handle(req("/v1/embed", embed_v1(["hello world", "second text"])))
    assert resp.status == 200
    assert resp.headers["content-type"] == "application/json"
    out = resp.json_body()
    assert list(out) == ["id", "texts", "embeddings", "meta", "response_type"]
    assert UUID_RE.fullmatch(out["id"])
    assert out["texts"] == ["hello world", "second text"]
    assert out["response_type"] == "embeddings_floats"
    assert out["meta"] == {"api_version": {"version": "1"}, "billed_units": {"input_tokens": 4}}
    assert len(out["embeddings"]) == 2
    for vec in out["embeddings"]:
        assert len(vec) == 1024
        assert all(isinstance(x, float) for x in vec)
        assert norm(vec) == pytest.approx(1.0, abs=1e-6)
    assert out["embeddings"][0] != out["embeddings"][1]


@pytest.mark.parametrize(
    "model, dims",
    [
        ("embed-english-v3.0", 1024),
        ("embed-multilingual-v3.0", 1024),
        ("embed-english-light-v3.0", 384),
        ("embed-multilingual-light-v3.0", 384),
        ("embed-english-v2.0", 4096),
        ("embed-english-light-v2.0", 1024),
        ("embed-multilingual-v2.0", 768),
        ("embed-v4.0", 1536),
    ],
)
async def test_dimensions_per_model(fake: FakeCohere, model: str, dims: int) -> None:
    status, out = await call(fake, "/v1/embed", embed_v1(model=model))
    assert status == 200 and len(out["embeddings"][0]) == dims
    status, out = await call(fake, "/v2/embed", embed_v2(model=model))
    assert status == 200 and len(out["embeddings"]["float"][0]) == dims


async def test_v1_default_model_and_v2_models_need_no_input_type(fake: FakeCohere) -> None:
    status, out = await call(fake, "/v1/embed", {"texts": ["x"]})
    assert status == 200 and len(out["embeddings"][0]) == 4096  # embed-english-v2.0
    status, out = await call(fake, "/v1/embed", {"texts": ["x"], "model": "embed-multilingual-v2.0"})
    assert status == 200 and len(out["embeddings"][0]) == 768


@pytest.mark.parametrize("input_type", [None, "", "search", "SEARCH_DOCUMENT", 3])
async def test_input_type_required_for_v3_models(fake: FakeCohere, input_type: Any) -> None:
    body = {"texts": ["x"], "model": "embed-english-v3.0"}
    if input_type is not None:
        body["input_type"] = input_type
    assert await call(fake, "/v1/embed", body) == (400, INPUT_TYPE_ERROR)
    assert await call(fake, "/v2/embed", {**body, "embedding_types": ["float"]}) == (400, INPUT_TYPE_ERROR)


async def test_input_type_nudges_the_vector(fake: FakeCohere) -> None:
    _, doc = await call(fake, "/v1/embed", embed_v1(["vector search"]))
    _, query = await call(fake, "/v1/embed", embed_v1(["vector search"], input_type="search_query"))
    _, other = await call(fake, "/v1/embed", embed_v1(["something else"]))
    similar = cosine(doc["embeddings"][0], query["embeddings"][0])
    assert 0.95 < similar < 0.9999
    assert abs(cosine(doc["embeddings"][0], other["embeddings"][0])) < 0.2


async def test_embed_is_deterministic(fake: FakeCohere) -> None:
    body = embed_v1(["a", "b", "c"])
    r1 = await fake.handle(req("/v1/embed", body))
    r2 = await FakeCohere().handle(req("/v1/embed", body))
    assert r1.body == r2.body
    reordered = json.dumps(dict(reversed(list(body.items()))), indent=2).encode()
    r3 = await fake.handle(req("/v1/embed", raw=reordered))
    assert r3.json_body() == r1.json_body()
    # One text's vector does not depend on the rest of the batch.
    _, single = await call(fake, "/v1/embed", embed_v1(["b"]))
    assert single["embeddings"][0] == r1.json_body()["embeddings"][1]
    # The id changes with the request.
    _, other = await call(fake, "/v1/embed", embed_v1(["a", "b"]))
    assert other["id"] != r1.json_body()["id"]


async def test_too_many_texts(fake: FakeCohere) -> None:
    status, _ = await call(fake, "/v1/embed", embed_v1([f"t{i}" for i in range(96)]))
    assert status == 200
    assert await call(fake, "/v1/embed", embed_v1([f"t{i}" for i in range(131)])) == (
        400, {"message": "invalid request: total number of texts must be at most 96 - received 131"})


async def test_embed_input_validation(fake: FakeCohere) -> None:
    assert await call(fake, "/v1/embed", {"model": "embed-english-v3.0", "input_type": "search_query"}) == (
        400, {"message": "invalid request: one of texts, images or inputs must be provided"})
    assert await call(fake, "/v1/embed", embed_v1([])) == (
        400, {"message": "invalid request: texts must contain at least one element"})
    assert await call(fake, "/v1/embed", {**embed_v1(), "texts": "hello"}) == (
        400,
        {"message": "invalid type: parameter 'texts' is of type string but should be of type []string. "
                    "For proper usage, please refer to https://docs.cohere.com/reference/embed"},
    )
    assert await call(fake, "/v1/embed", embed_v1(truncate="MIDDLE")) == (
        400, {"message": "invalid request: truncate must be one of NONE, START, END - received 'MIDDLE'"})
    status, _ = await call(fake, "/v1/embed", embed_v1(truncate="END"))
    assert status == 200


async def test_unknown_model_is_404(fake: FakeCohere) -> None:
    expected = {"message": "model 'embed-english-v9.0' not found, make sure the correct model ID was used "
                           "and that you have access to the model."}
    assert await call(fake, "/v1/embed", embed_v1(model="embed-english-v9.0")) == (404, expected)
    # A model of another family is not an embedding model.
    status, body = await call(fake, "/v1/embed", embed_v1(model="command-r"))
    assert status == 404 and body["message"].startswith("model 'command-r' not found")


async def test_extra_embed_models() -> None:
    fake = FakeCohere(embed_models={"my-embed": 64})
    status, out = await call(fake, "/v1/embed", embed_v1(model="my-embed"))
    assert status == 200 and len(out["embeddings"][0]) == 64


# ---------------------------------------------------------- embedding types


async def test_v1_embeddings_by_type_shape(fake: FakeCohere) -> None:
    status, out = await call(fake, "/v1/embed", embed_v1(["x"], embedding_types=["int8"]))
    assert status == 200
    assert list(out) == ["id", "embeddings", "texts", "meta", "response_type"]
    assert out["response_type"] == "embeddings_by_type"
    assert list(out["embeddings"]) == ["int8"]
    assert out["texts"] == ["x"]


async def test_embedding_types_are_derived_from_the_float_vector(fake: FakeCohere) -> None:
    types = ["float", "int8", "uint8", "binary", "ubinary"]
    status, out = await call(fake, "/v1/embed", embed_v1(["alpha", "beta"], embedding_types=types))
    assert status == 200
    emb = out["embeddings"]
    assert list(emb) == types
    _, plain = await call(fake, "/v1/embed", embed_v1(["alpha", "beta"]))
    assert emb["float"] == plain["embeddings"]
    for i in range(2):
        f, i8, u8, b, ub = (emb[t][i] for t in types)
        assert len(i8) == len(u8) == 1024
        assert len(b) == len(ub) == 1024 // 8
        assert all(-128 <= x <= 127 and isinstance(x, int) for x in i8)
        assert all(0 <= x <= 255 for x in u8)
        assert u8 == [x + 128 for x in i8]
        assert b == [x - 128 for x in ub]
        # int8 keeps the sign and the order of magnitude of each component.
        assert all((q > 0) == (v > 0) for q, v in zip(i8, f) if q != 0)
        assert cosine(i8, f) > 0.99
        # ubinary: one bit per dimension (1 = positive), 8 per byte, most significant first.
        bits = [(byte >> (7 - j)) & 1 for byte in ub for j in range(8)]
        assert bits == [1 if v > 0 else 0 for v in f]
        assert max(abs(x) for x in i8) > 64  # the int8 range is actually used


async def test_v2_base64_type(fake: FakeCohere) -> None:
    status, out = await call(fake, "/v2/embed", embed_v2(["x"], embedding_types=["float", "base64"]))
    assert status == 200
    decoded = struct.unpack("<1024f", base64.b64decode(out["embeddings"]["base64"][0]))
    assert decoded == pytest.approx(out["embeddings"]["float"][0], abs=1e-6)
    # v1 has no base64 type.
    status, body = await call(fake, "/v1/embed", embed_v1(embedding_types=["base64"]))
    assert status == 400
    assert body == {"message": "invalid request: embedding_types must be one of float, int8, uint8, binary, "
                               "ubinary - received 'base64'"}


async def test_embedding_types_validation(fake: FakeCohere) -> None:
    assert await call(fake, "/v2/embed", embed_v2(embedding_types="float")) == (
        400,
        {"message": "invalid type: parameter 'embedding_types' is of type string but should be of type "
                    "[]Object. For proper usage, please refer to https://docs.cohere.com/v2/reference/embed"},
    )
    assert await call(fake, "/v1/embed", embed_v1(model="embed-english-v2.0", embedding_types=["int8"])) == (
        400, {"message": "invalid request: embedding type 'int8' is only supported with v3.0 models and newer"})
    status, _ = await call(fake, "/v1/embed", embed_v1(model="embed-english-v2.0", embedding_types=["float"]))
    assert status == 200


async def test_binary_types_have_dimension_over_8_values(fake: FakeCohere) -> None:
    for model, dims in [("embed-english-light-v3.0", 384), ("embed-v4.0", 1536)]:
        _, out = await call(fake, "/v2/embed", embed_v2(model=model, embedding_types=["binary", "ubinary"]))
        assert len(out["embeddings"]["binary"][0]) == len(out["embeddings"]["ubinary"][0]) == dims // 8


# ---------------------------------------------------------------- v2 embed


async def test_v2_embed_shape(fake: FakeCohere) -> None:
    resp = await fake.handle(req("/v2/embed", embed_v2(["one", "two"])))
    assert resp.status == 200
    out = resp.json_body()
    assert list(out) == ["id", "embeddings", "texts", "meta", "response_type"]
    assert list(out["embeddings"]) == ["float"]
    assert len(out["embeddings"]["float"]) == 2
    assert out["texts"] == ["one", "two"]
    assert out["meta"] == {"api_version": {"version": "2", "is_experimental": False},
                           "billed_units": {"input_tokens": 2}}
    assert out["response_type"] == "embeddings_by_type"
    # Same model, text and input_type -> the same vector as v1.
    _, v1 = await call(fake, "/v1/embed", embed_v1(["one", "two"]))
    assert out["embeddings"]["float"] == v1["embeddings"]


async def test_v2_embed_requirements(fake: FakeCohere) -> None:
    body = embed_v2()
    no_types = {k: v for k, v in body.items() if k != "embedding_types"}
    assert await call(fake, "/v2/embed", no_types) == (
        400, {"message": "invalid request: embedding_types must be specified"})
    assert await call(fake, "/v2/embed", {**body, "embedding_types": []}) == (
        400, {"message": "invalid request: embedding_types must be specified"})
    no_model = {k: v for k, v in body.items() if k != "model"}
    assert await call(fake, "/v2/embed", no_model) == (400, {"message": "invalid request: model must be specified"})
    # v2 wants input_type for every model, v2-generation ones included.
    assert await call(fake, "/v2/embed", {"texts": ["x"], "model": "embed-english-v2.0",
                                          "embedding_types": ["float"]}) == (400, INPUT_TYPE_ERROR)


async def test_v2_embed_inputs(fake: FakeCohere) -> None:
    inputs = [{"content": [{"type": "text", "text": "hello"}]}]
    status, out = await call(fake, "/v2/embed", {**embed_v2(), "texts": None, "inputs": inputs})
    assert status == 200
    assert "texts" not in out
    _, by_text = await call(fake, "/v2/embed", embed_v2(["hello"]))
    assert out["embeddings"]["float"] == by_text["embeddings"]["float"]
    two_parts = [{"content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}]
    assert await call(fake, "/v2/embed", {**embed_v2(), "texts": None, "inputs": two_parts}) == (
        400, {"message": "invalid request: inputs with more than one content item are only supported with "
                         "embed-v4.0"})
    status, out = await call(fake, "/v2/embed", {**embed_v2(model="embed-v4.0"), "texts": None, "inputs": two_parts})
    assert status == 200 and len(out["embeddings"]["float"]) == 1
    assert await call(fake, "/v2/embed", {**embed_v2(), "inputs": inputs}) == (
        400, {"message": "invalid request: only one of texts, images or inputs can be provided"})


async def test_images(fake: FakeCohere) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + struct.pack(">II", 3, 2) + b"\x08\x02\x00\x00\x00"
    uri = "data:image/png;base64," + base64.b64encode(png).decode()
    body = {"model": "embed-english-v3.0", "input_type": "image", "images": [uri]}
    status, out = await call(fake, "/v1/embed", body)
    assert status == 200
    assert out["texts"] == [] and len(out["embeddings"]) == 1 and len(out["embeddings"][0]) == 1024
    assert out["images"] == [{"width": 3, "height": 2, "format": "png", "bit_depth": 8}]
    assert out["meta"]["billed_units"] == {"input_tokens": 0, "images": 1}
    assert await call(fake, "/v1/embed", {**body, "images": [uri, uri]}) == (
        400, {"message": "invalid request: total number of images must be at most 1 - received 2"})
    assert await call(fake, "/v1/embed", {**body, "images": ["https://example.com/cat.png"]}) == (
        400, {"message": "invalid request: images must be valid data URIs of type image/jpeg, image/png, "
                         "image/webp or image/gif"})
    assert await call(fake, "/v1/embed", {**body, "model": "embed-english-v2.0"}) == (
        400, {"message": "invalid request: model 'embed-english-v2.0' does not support image inputs"})


async def test_output_dimension(fake: FakeCohere) -> None:
    _, full = await call(fake, "/v2/embed", embed_v2(["matryoshka"], model="embed-v4.0"))
    full_vec = full["embeddings"]["float"][0]
    assert len(full_vec) == 1536
    for dims in (256, 512, 1024, 1536):
        status, out = await call(fake, "/v2/embed", embed_v2(["matryoshka"], model="embed-v4.0", output_dimension=dims))
        assert status == 200
        vec = out["embeddings"]["float"][0]
        assert len(vec) == dims and norm(vec) == pytest.approx(1.0, abs=1e-6)
        # A shortened embedding is a re-normalised prefix of the full one.
        assert cosine(vec, full_vec[:dims]) == pytest.approx(1.0, abs=1e-6)
    status, out = await call(fake, "/v1/embed", embed_v1(model="embed-v4.0", output_dimension=512,
                                                         embedding_types=["ubinary"]))
    assert status == 200 and len(out["embeddings"]["ubinary"][0]) == 64
    assert await call(fake, "/v2/embed", embed_v2(model="embed-v4.0", output_dimension=300)) == (
        400, {"message": "invalid request: output_dimension must be one of 256, 512, 1024, 1536 - received 300"})
    assert await call(fake, "/v2/embed", embed_v2(output_dimension=256)) == (
        400, {"message": "invalid request: output_dimension is only supported with embed-v4.0 and newer models"})


# -------------------------------------------------------------------- chat


async def test_v1_chat_shape(fake: FakeCohere) -> None:
    resp = await fake.handle(req("/v1/chat", {"message": "Hello!", "model": "command-r"}))
    assert resp.status == 200
    out = resp.json_body()
    assert list(out) == ["response_id", "text", "generation_id", "chat_history", "finish_reason", "meta"]
    assert UUID_RE.fullmatch(out["response_id"]) and UUID_RE.fullmatch(out["generation_id"])
    assert out["text"] == "Hello! How can I help you today?"
    assert out["finish_reason"] == "COMPLETE"
    assert out["chat_history"] == [
        {"role": "USER", "message": "Hello!"},
        {"role": "CHATBOT", "message": "Hello! How can I help you today?"},
    ]
    assert out["meta"]["api_version"] == {"version": "1"}
    assert out["meta"]["billed_units"] == {"input_tokens": 2, "output_tokens": 9}


async def test_v1_chat_history_and_limits(fake: FakeCohere) -> None:
    history = [{"role": "User", "message": "hi"}, {"role": "CHATBOT", "message": "hello"}]
    status, out = await call(fake, "/v1/chat", {"message": "What is k-NN search?", "chat_history": history,
                                                "preamble": "Be brief.", "max_tokens": 4})
    assert status == 200
    assert out["text"] == "This is a deterministic"
    assert out["finish_reason"] == "MAX_TOKENS"
    assert [h["role"] for h in out["chat_history"]] == ["USER", "CHATBOT", "USER", "CHATBOT"]
    _, full = await call(fake, "/v1/chat", {"message": "What is k-NN search?"})
    assert "What is k-NN search?" in full["text"]


async def test_v1_chat_validation(fake: FakeCohere) -> None:
    empty = (400, {"message": "invalid request: message must be at least 1 token long or tool results must be "
                              "specified."})
    assert await call(fake, "/v1/chat", {"model": "command-r"}) == empty
    assert await call(fake, "/v1/chat", {"message": "   "}) == empty
    assert await call(fake, "/v1/chat", {"message": "hi", "chat_history": [{"role": "USER"}]}) == (
        400, {"message": "invalid request: all elements in history must have a message."})
    assert await call(fake, "/v1/chat", {"message": "hi", "chat_history": [{"role": "bot", "message": "x"}]}) == (
        400, {"message": "invalid request: role must be one of USER, CHATBOT, SYSTEM, TOOL - received 'bot'"})
    assert await call(fake, "/v1/chat", {"message": 42}) == (
        400, {"message": "invalid type: parameter 'message' is of type number but should be of type string. "
                         "For proper usage, please refer to https://docs.cohere.com/reference/chat"})
    status, body = await call(fake, "/v1/chat", {"message": "hi", "model": "embed-english-v3.0"})
    assert status == 404 and "not found" in body["message"]


async def test_v1_chat_stream(fake: FakeCohere) -> None:
    resp = await fake.handle(req("/v1/chat", {"message": "Tell me about OpenSearch", "stream": True}))
    assert resp.status == 200 and resp.headers["content-type"] == "application/stream+json"
    events = [json.loads(line) for line in resp.text.splitlines()]
    assert events[0]["event_type"] == "stream-start"
    assert events[-1]["event_type"] == "stream-end" and events[-1]["is_finished"] is True
    text = "".join(e["text"] for e in events if e["event_type"] == "text-generation")
    _, full = await call(fake, "/v1/chat", {"message": "Tell me about OpenSearch"})
    assert text == full["text"] == events[-1]["response"]["text"]


async def test_v2_chat_shape(fake: FakeCohere) -> None:
    body = {"model": "command-r-plus", "messages": [{"role": "system", "content": "Be nice."},
                                                    {"role": "user", "content": "Hello"}]}
    status, out = await call(fake, "/v2/chat", body)
    assert status == 200
    assert list(out) == ["id", "message", "finish_reason", "usage"]
    assert UUID_RE.fullmatch(out["id"])
    assert out["finish_reason"] == "COMPLETE"
    assert out["message"] == {"role": "assistant",
                              "content": [{"type": "text", "text": "Hello! How can I help you today?"}]}
    assert out["usage"]["billed_units"] == {"input_tokens": 4, "output_tokens": 9}
    assert set(out["usage"]["tokens"]) == {"input_tokens", "output_tokens"}
    parts = {**body, "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello"}]}]}
    _, out2 = await call(fake, "/v2/chat", parts)
    assert out2["message"] == out["message"]
    _, stopped = await call(fake, "/v2/chat", {**body, "stop_sequences": [" can"]})
    assert stopped["message"]["content"][0]["text"] == "Hello! How"
    assert stopped["finish_reason"] == "STOP_SEQUENCE"


async def test_v2_chat_validation(fake: FakeCohere) -> None:
    msgs = [{"role": "user", "content": "hi"}]
    assert await call(fake, "/v2/chat", {"messages": msgs}) == (
        400, {"message": "invalid request: model must be specified"})
    assert await call(fake, "/v2/chat", {"model": "command-r", "messages": []}) == (
        400, {"message": "invalid request: messages must contain at least one message"})
    assert await call(fake, "/v2/chat", {"model": "command-r", "message": "hi"}) == (
        400, {"message": "invalid request: messages must contain at least one message"})
    assert await call(fake, "/v2/chat", {"model": "command-r", "messages": [{"role": "USER", "content": "x"}]}) == (
        400, {"message": "invalid request: role must be one of user, assistant, system, tool - received 'USER'"})
    assert await call(fake, "/v2/chat", {"model": "command-r", "messages": [{"role": "user"}]}) == (
        400, {"message": "invalid request: message at index 0 must have content"})
    assert await call(fake, "/v2/chat", {"model": "command-r", "messages": msgs, "max_tokens": 0}) == (
        400, {"message": "invalid request: max_tokens must be a positive integer"})


async def test_v2_chat_stream(fake: FakeCohere) -> None:
    body = {"model": "command-r", "messages": [{"role": "user", "content": "Explain BM25"}], "stream": True}
    resp = await fake.handle(req("/v2/chat", body))
    assert resp.status == 200 and resp.headers["content-type"] == "text/event-stream"
    blocks = [b for b in resp.text.split("\n\n") if b]
    events = []
    for block in blocks:
        name_line, data_line = block.split("\n")
        event = json.loads(data_line[len("data: "):])
        assert name_line == f"event: {event['type']}"
        events.append(event)
    assert [e["type"] for e in events][:2] == ["message-start", "content-start"]
    assert events[-1]["type"] == "message-end"
    text = "".join(e["delta"]["message"]["content"]["text"] for e in events if e["type"] == "content-delta")
    _, full = await call(fake, "/v2/chat", {**body, "stream": False})
    assert text == full["message"]["content"][0]["text"]
    assert events[-1]["delta"] == {"finish_reason": "COMPLETE", "usage": full["usage"]}


# ------------------------------------------------------------------ rerank


async def test_v1_rerank(fake: FakeCohere) -> None:
    docs = ["Berlin is in Germany", "Paris is the capital of France", {"text": "France has wine"}, "Rome"]
    body = {"model": "rerank-english-v3.0", "query": "What is the capital of France?",
            "documents": docs, "top_n": 4}
    resp = await fake.handle(req("/v1/rerank", body))
    assert resp.status == 200
    out = resp.json_body()
    assert list(out) == ["id", "results", "meta"]
    assert out["meta"] == {"api_version": {"version": "1"}, "billed_units": {"search_units": 1}}
    results = out["results"]
    assert sorted(r["index"] for r in results) == [0, 1, 2, 3]
    assert results[0]["index"] == 1  # the document sharing the query's words wins
    scores = [r["relevance_score"] for r in results]
    assert scores == sorted(scores, reverse=True)
    assert all(isinstance(s, float) and 0 < s < 1 for s in scores)
    assert all(list(r) == ["index", "relevance_score"] for r in results)
    assert (await FakeCohere().handle(req("/v1/rerank", body))).body == resp.body


async def test_rerank_top_n_and_documents(fake: FakeCohere) -> None:
    body = {"model": "rerank-english-v3.0", "query": "cats", "documents": ["dogs", "cats", {"text": "birds"}]}
    _, out = await call(fake, "/v1/rerank", {**body, "top_n": 2, "return_documents": True})
    assert len(out["results"]) == 2
    assert out["results"][0] == {"document": {"text": "cats"}, "index": 1,
                                 "relevance_score": out["results"][0]["relevance_score"]}
    _, out = await call(fake, "/v1/rerank", {**body, "top_n": 10})
    assert len(out["results"]) == 3
    _, out = await call(fake, "/v1/rerank", {"query": "cats", "documents": ["dogs", "cats"]})
    assert len(out["results"]) == 2  # model defaults on v1


async def test_rerank_validation(fake: FakeCohere) -> None:
    body = {"model": "rerank-v3.5", "query": "q", "documents": ["a"]}
    assert await call(fake, "/v1/rerank", {**body, "query": ""}) == (
        400, {"message": "invalid request: query must not be empty"})
    assert await call(fake, "/v1/rerank", {**body, "documents": []}) == (
        400, {"message": "invalid request: documents must not be empty"})
    assert await call(fake, "/v1/rerank", {**body, "top_n": 0}) == (
        400, {"message": "invalid request: top_n must be greater than 0"})
    assert await call(fake, "/v1/rerank", {**body, "documents": [{"title": "a"}]}) == (
        400, {"message": "invalid request: document at index 0 must have a 'text' field or rank_fields must be "
                         "specified"})
    status, _ = await call(fake, "/v1/rerank", {**body, "documents": [{"title": "a"}], "rank_fields": ["title"]})
    assert status == 200
    assert await call(fake, "/v1/rerank", {**body, "top_n": "2"}) == (
        400, {"message": "invalid type: parameter 'top_n' is of type string but should be of type integer. "
                         "For proper usage, please refer to https://docs.cohere.com/reference/rerank"})
    status, msg = await call(fake, "/v1/rerank", {**body, "model": "embed-english-v3.0"})
    assert status == 404 and msg["message"].startswith("model 'embed-english-v3.0' not found")


async def test_v2_rerank(fake: FakeCohere) -> None:
    body = {"model": "rerank-v3.5", "query": "capital of France",
            "documents": [f"doc {i}" for i in range(150)] + ["Paris is the capital of France"]}
    status, out = await call(fake, "/v2/rerank", body)
    assert status == 200
    assert out["results"][0]["index"] == 150
    assert out["meta"] == {"api_version": {"version": "2", "is_experimental": False},
                           "billed_units": {"search_units": 2}}
    assert await call(fake, "/v2/rerank", {k: v for k, v in body.items() if k != "model"}) == (
        400, {"message": "invalid request: model must be specified"})


# ---------------------------------------------------------------- generate


async def test_generate(fake: FakeCohere) -> None:
    status, out = await call(fake, "/v1/generate", {"prompt": "Write a haiku", "num_generations": 2})
    assert status == 200
    assert list(out) == ["id", "generations", "prompt", "meta"]
    assert out["prompt"] == "Write a haiku"
    assert len(out["generations"]) == 2
    assert out["generations"][0]["id"] != out["generations"][1]["id"]
    assert out["generations"][0]["finish_reason"] == "COMPLETE"
    assert "Write a haiku" in out["generations"][0]["text"]
    _, short = await call(fake, "/v1/generate", {"prompt": "Write a haiku", "max_tokens": 3})
    assert short["generations"][0] == {"id": short["generations"][0]["id"], "text": " This is a",
                                       "finish_reason": "MAX_TOKENS"}
    assert await call(fake, "/v1/generate", {"prompt": ""}) == (
        400, {"message": "invalid request: prompt must be at least 1 token long."})
    assert await call(fake, "/v1/generate", {"prompt": "x", "num_generations": 6}) == (
        400, {"message": "invalid request: num_generations must be between 1 and 5"})
    status, _ = await call(fake, "/v1/generate", {"prompt": "x", "model": "command-r-plus"})
    assert status == 404


# ------------------------------------------------------- script and recorder


async def test_script_faults_fifo(fake: FakeCohere) -> None:
    fake.script.enqueue(
        FakeCohere.rate_limit_response(retry_after=7),
        FakeCohere.server_error_response(),
        FakeCohere.fault(502, b"<html>Bad Gateway</html>", {"Content-Type": "text/html"}),
    )
    r1 = await fake.handle(req("/v1/embed", embed_v1()))
    assert r1.status == 429 and r1.headers["Retry-After"] == "7"
    assert r1.json_body()["message"].startswith("You are using a Trial key, which is limited to 40 API calls")
    r2 = await fake.handle(req("/v1/embed", embed_v1()))
    assert r2.status == 500 and "message" in r2.json_body()
    r3 = await fake.handle(req("/v1/embed", embed_v1()))
    assert (r3.status, r3.body, r3.headers["content-type"]) == (502, b"<html>Bad Gateway</html>", "text/html")
    r4 = await fake.handle(req("/v1/embed", embed_v1()))
    assert r4.status == 200
    assert len(fake.recorder) == 4 and len(fake.script) == 0
    assert FakeCohere.rate_limit_response().headers.get("Retry-After") is None
    assert FakeCohere.fault(418, {"message": "teapot"}).json_body() == {"message": "teapot"}


async def test_delayed_script_item(fake: FakeCohere, monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(provider_base.asyncio, "sleep", fake_sleep)  # the shared delayed() sleeps there
    fake.script.enqueue(FakeCohere.delayed(2.5), FakeCohere.delayed(1, FakeCohere.overloaded_response()))
    r1 = await fake.handle(req("/v1/embed", embed_v1()))
    assert r1.status == 200  # fell through after the delay
    r2 = await fake.handle(req("/v1/embed", embed_v1()))
    assert r2.status == 503
    assert slept == [2.5, 1]


async def test_delay_can_time_out_a_caller(fake: FakeCohere) -> None:
    fake.script.enqueue(FakeCohere.delayed(30))
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(fake.handle(req("/v1/embed", embed_v1())), timeout=0.01)


async def test_recorder(fake: FakeCohere) -> None:
    await fake.handle(req("/v1/embed", embed_v1(["x"])))
    await fake.handle(req("/v1/rerank", {"query": "q", "documents": ["d"]}, headers={}))
    assert [r.path for r in fake.recorder.requests] == ["/v1/embed", "/v1/rerank"]
    assert fake.recorder.last is not None and fake.recorder.last.headers.get("authorization") is None
    assert json.loads(fake.recorder.requests[0].body)["texts"] == ["x"]


# ------------------------------------------------------------ over HTTP


@pytest.fixture
async def http(fake: FakeCohere):
    async with TestClient(TestServer(make_app(fake))) as client:
        yield client


async def test_http_embed_matches_handle(fake: FakeCohere, http: TestClient) -> None:
    payload = json.dumps(embed_v1(["over the wire"])).encode()
    resp = await http.post("/v1/embed", data=payload, headers={**AUTH, "Content-Type": "application/json"})
    assert resp.status == 200
    body = await resp.read()
    assert body == (await FakeCohere().handle(req("/v1/embed", raw=payload))).body
    assert fake.recorder.last is not None and fake.recorder.last.body == payload
    resp = await http.post("/v1/embed", data=payload)
    assert resp.status == 401 and await resp.json() == {"message": "no api key supplied"}
