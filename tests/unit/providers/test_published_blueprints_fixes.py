"""What the published ml-commons blueprints (docs/remote_inference_blueprints) send, answered by the fakes.

Each fix has a test that the request a blueprint makes is accepted with the provider's real
response shape, and one that a malformed variant still gets the provider's error.
"""

from __future__ import annotations

import base64
import json
import math
import re
import struct
import zlib
from typing import Any

import pytest

from mlcommons_emu.providers.aws import sign_request
from mlcommons_emu.providers.azure_openai import FakeAzureOpenAI
from mlcommons_emu.providers.base import ProviderRequest, ProviderResponse, rejects_key
from mlcommons_emu.providers.bedrock import FakeBedrockRuntime
from mlcommons_emu.providers.cohere import FakeCohere
from mlcommons_emu.providers.deepseek import FakeDeepSeek
from mlcommons_emu.providers.openai import FakeOpenAI
from mlcommons_emu.providers.sagemaker import FakeSageMakerRuntime

KEY, SECRET = "AKIAEXAMPLEACCESSKEY", "example-secret-key"
REGION = "us-east-1"
NOVA = "amazon.nova-2-multimodal-embeddings-v1:0"
GPT_OSS = "openai.gpt-oss-120b-1:0"
UNRESOLVED = "${credential.openAI_key}"
# 1x1 transparent PNG
PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)).decode()
MP4 = base64.b64encode(b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41").decode()


def png(width: int, height: int) -> str:
    """A valid PNG of the given size (one gray pixel row repeated)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    raw = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
    return base64.b64encode(raw).decode()


def signed(service: str, url: str, body: Any, **headers: str) -> ProviderRequest:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return sign_request("POST", url, data, access_key=KEY, secret_key=SECRET, region=REGION, service=service,
                        headers={"content-type": "application/json", **headers})


def norm(v: list[float]) -> float:
    return math.sqrt(sum(x * x for x in v))


@pytest.fixture
def bedrock() -> FakeBedrockRuntime:
    return FakeBedrockRuntime(credentials={KEY: SECRET})


@pytest.fixture
def sagemaker() -> FakeSageMakerRuntime:
    return FakeSageMakerRuntime(credentials={KEY: SECRET}, accept_any_endpoint=True)


async def invoke(fake: FakeBedrockRuntime, model: str, body: Any) -> ProviderResponse:
    return await fake.handle(signed("bedrock", f"https://bedrock-runtime.{REGION}.amazonaws.com/model/{model}/invoke",
                                    body, **{"x-amz-content-sha256": "required"}))


def malformed(detail: str) -> dict[str, str]:
    return {"message": f"Malformed input request: {detail}, please reformat your input and try again."}


# ------------------------------------------------ (a) Titan multimodal: null means absent


@pytest.mark.parametrize("body,twin", [
    ({"inputText": "a red square", "inputImage": None}, {"inputText": "a red square"}),
    ({"inputText": None, "inputImage": PNG}, {"inputImage": PNG}),
])
async def test_titan_multimodal_takes_null_for_the_missing_input(bedrock: FakeBedrockRuntime, body: dict,
                                                                 twin: dict) -> None:
    # ``${parameters.inputImage:-null}`` in the blueprint's request_body reaches Bedrock as JSON null
    resp = await invoke(bedrock, "amazon.titan-embed-image-v1", body)
    assert resp.status == 200, resp.text
    payload = resp.json_body()
    assert list(payload) == ["embedding", "inputTextTokenCount"]
    assert len(payload["embedding"]) == 1024 and abs(norm(payload["embedding"]) - 1) < 1e-6
    assert payload == (await invoke(bedrock, "amazon.titan-embed-image-v1", twin)).json_body()


@pytest.mark.parametrize("body,detail", [
    ({"inputText": None, "inputImage": None},
     "#: required key [inputText] not found#: required key [inputImage] not found"),
    ({"inputText": "x", "inputImage": 5}, "#/inputImage: expected type is one of String, Null, found: Integer"),
    ({"inputText": "", "inputImage": None}, "#/inputText: expected minLength: 1, actual: 0"),
])
async def test_titan_multimodal_still_refuses_malformed_inputs(bedrock: FakeBedrockRuntime, body: dict,
                                                               detail: str) -> None:
    resp = await invoke(bedrock, "amazon.titan-embed-image-v1", body)
    assert (resp.status, resp.json_body()) == (400, malformed(detail))


# ------------------------------------------------ (b) + (c) Azure: "//openai/..." and input_type


def azure_request(path: str, body: Any, headers: dict[str, str] | None = None) -> ProviderRequest:
    return ProviderRequest("POST", "https://my-resource.openai.azure.com" + path,
                           {"api-key": "azure-key"} if headers is None else headers, json.dumps(body).encode())


async def test_azure_serves_the_double_slash_of_an_endpoint_ending_in_a_slash() -> None:
    # "endpoint": "<YOUR RESOURCE NAME>.openai.azure.com/" + "https://${parameters.endpoint}/openai/..."
    fake = FakeAzureOpenAI()
    path = "//openai/deployments/text-embedding-ada-002/embeddings?api-version=2024-02-01"
    resp = await fake.handle(azure_request(path, {"input": ["What is the meaning of life?"]}))
    assert resp.status == 200, resp.text
    payload = resp.json_body()
    assert [d["index"] for d in payload["data"]] == [0] and len(payload["data"][0]["embedding"]) == 1536
    resp = await fake.handle(azure_request("//openai/deployments/gpt-4/chat/completions?api-version=2024-02-01",
                                           {"messages": [{"role": "user", "content": "Hello!"}]}))
    assert resp.status == 200 and "prompt_filter_results" in resp.json_body()


@pytest.mark.parametrize("path", [
    "//openai/deployments/text-embedding-ada-002/embeddings",  # no api-version
    "//openai/deployments/text-embedding-ada-002/rerank?api-version=2024-02-01",
    "//v1/deployments/text-embedding-ada-002/embeddings?api-version=2024-02-01",
])
async def test_azure_double_slash_does_not_widen_the_routes(path: str) -> None:
    resp = await FakeAzureOpenAI().handle(azure_request(path, {"input": ["x"]}))
    assert (resp.status, resp.json_body()) == (404, {"error": {"code": "404", "message": "Resource not found"}})


async def test_azure_embeddings_take_input_type() -> None:
    # the standard blueprint's request_body: { "input": ${parameters.input}, "input_type": "array" }
    path = "/openai/deployments/text-embedding-ada-002/embeddings?api-version=2024-02-01"
    resp = await FakeAzureOpenAI().handle(azure_request(path, {"input": ["a", "42"], "input_type": "array"}))
    assert resp.status == 200, resp.text
    payload = resp.json_body()
    assert list(payload) == ["data", "model", "object", "usage"]
    assert [d["index"] for d in payload["data"]] == [0, 1]


@pytest.mark.parametrize("path,body,param", [
    ("/openai/deployments/text-embedding-ada-002/embeddings", {"input": ["a"], "input_type": 5}, "input_type"),
    ("/openai/deployments/gpt-4/chat/completions",
     {"messages": [{"role": "user", "content": "hi"}], "input_type": "query"}, "input_type"),
])
async def test_azure_input_type_must_be_a_string_on_embeddings_only(path: str, body: dict, param: str) -> None:
    resp = await FakeAzureOpenAI().handle(azure_request(path + "?api-version=2024-02-01", body))
    assert resp.status == 400
    assert resp.json_body()["error"]["message"] == f"Unrecognized request argument supplied: {param}"


# ------------------------------------------------ (d) unresolved ${credential...} is refused


INCORRECT_OPENAI_KEY = {"error": {
    "message": "Incorrect API key provided: ${creden************key}. You can find your API key at "
               "https://platform.openai.com/account/api-keys.",
    "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}}
AZURE_INVALID_KEY = {"error": {"code": "401", "message": (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key "
    "for an active subscription and use a correct regional API endpoint for your resource.")}}
AZURE_INVALID_TOKEN = {"error": {"code": "401", "message": (
    "Unauthorized. Access token is missing, invalid, audience is incorrect "
    "(https://cognitiveservices.azure.com), or have expired.")}}
AUTH_CASES = {
    "openai": (FakeOpenAI, "https://api.openai.com/v1/chat/completions", "Authorization", "Bearer ",
               {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hello!"}]}, INCORRECT_OPENAI_KEY),
    "cohere": (FakeCohere, "https://api.cohere.ai/v1/embed", "Authorization", "Bearer ",
               {"texts": ["hello"], "model": "embed-english-v3.0", "input_type": "search_document"},
               {"message": "invalid api token"}),
    "deepseek": (FakeDeepSeek, "https://api.deepseek.com/chat/completions", "Authorization", "Bearer ",
                 {"model": "deepseek-chat", "messages": [{"role": "user", "content": "Hello!"}]},
                 {"error": {"message": "Authentication Fails, Your api key: ****key} is invalid",
                            "type": "authentication_error", "param": None, "code": "invalid_request_error"}}),
    "azure-api-key": (FakeAzureOpenAI,
                      "https://my-resource.openai.azure.com/openai/deployments/gpt-4o/chat/completions"
                      "?api-version=2024-02-01", "api-key", "",
                      {"messages": [{"role": "user", "content": "Hello!"}]}, AZURE_INVALID_KEY),
    "azure-bearer": (FakeAzureOpenAI,
                     "https://my-resource.openai.azure.com/openai/deployments/gpt-4o/chat/completions"
                     "?api-version=2024-02-01", "Authorization", "Bearer ",
                     {"messages": [{"role": "user", "content": "Hello!"}]}, AZURE_INVALID_TOKEN),
}


@pytest.mark.parametrize("case", sorted(AUTH_CASES))
async def test_an_unresolved_credential_placeholder_is_the_providers_401(case: str) -> None:
    factory, url, header, scheme, body, error = AUTH_CASES[case]
    fake = factory()
    ok = await fake.handle(ProviderRequest("POST", url, {header: scheme + "sk-resolved-key-1234"}, json.dumps(body)))
    assert ok.status == 200, ok.text
    # what ML Commons sends when the connector's credential has no such key
    resp = await fake.handle(ProviderRequest("POST", url, {header: scheme + UNRESOLVED}, json.dumps(body)))
    assert resp.status == 401
    body_out = resp.json_body()
    if case == "cohere":
        assert body_out["message"] == error["message"]
    else:
        assert body_out == error


def test_rejects_key() -> None:
    assert rejects_key(UNRESOLVED, None) and rejects_key("Bearer " + UNRESOLVED, None)
    assert not rejects_key("sk-anything", None) and not rejects_key("sk-a", ["sk-a"])
    assert rejects_key("sk-b", ["sk-a"]) and rejects_key(UNRESOLVED, [UNRESOLVED])
    # other placeholders are ordinary (if odd) keys: only the credential namespace is detected
    assert not rejects_key("${parameters.key}", None)


async def test_emulated_connector_with_a_missing_credential_key_gets_the_401(emulator: Any) -> None:
    connector = {
        "name": "chat", "version": "1", "protocol": "http", "parameters": {"model": "gpt-4o"},
        "credential": {"openAI_key": "sk-present"},
        "actions": [{"action_type": "predict", "method": "POST", "url": "https://api.openai.com/v1/chat/completions",
                     "headers": {"Authorization": "Bearer ${credential.api_key}"},
                     "request_body": '{"model": "${parameters.model}", "messages": ${parameters.messages}}'}],
    }
    r = await emulator.request("POST", "/_plugins/_ml/connectors/_create", connector)
    r = await emulator.request("POST", "/_plugins/_ml/models/_register?deploy=true",
                               {"name": "chat", "function_name": "remote", "connector_id": r.body["connector_id"]})
    r = await emulator.request("POST", f"/_plugins/_ml/models/{r.body['model_id']}/_predict",
                               {"parameters": {"messages": [{"role": "user", "content": "hi"}]}})
    assert r.status == 401
    assert "Incorrect API key provided: ${creden" in r.body["error"]["reason"]
    assert emulator.providers["openai"].recorder.last.headers["Authorization"] == "Bearer ${credential.api_key}"


# ------------------------------------------------ (e) Bedrock: Nova 2 multimodal embeddings


def nova(**single: Any) -> dict[str, Any]:
    return {"taskType": "SINGLE_EMBEDDING",
            "singleEmbeddingParams": {"embeddingPurpose": "GENERIC_INDEX", "embeddingDimension": 1024, **single}}


@pytest.mark.parametrize("section,types", [
    ({"text": {"truncationMode": "START", "value": "hello world"}}, ["TEXT"]),
    ({"image": {"detailLevel": "STANDARD_IMAGE", "format": "png", "source": {"bytes": PNG}}}, ["IMAGE"]),
    ({"video": {"format": "mp4", "embeddingMode": "AUDIO_VIDEO_COMBINED", "source": {"bytes": MP4}}},
     ["AUDIO_VIDEO_COMBINED"]),
    ({"video": {"format": "mp4", "embeddingMode": "AUDIO_VIDEO_SEPARATE", "source": {"bytes": MP4}}},
     ["VIDEO", "AUDIO"]),
    ({"audio": {"format": "mp3", "source": {"bytes": MP4}}}, ["AUDIO"]),
    ({"audio": {"format": "wav", "source": {"s3Location": {"uri": "s3://bucket/a.wav"}}}}, ["AUDIO"]),
])
async def test_nova_embeds_one_modality(bedrock: FakeBedrockRuntime, section: dict, types: list[str]) -> None:
    resp = await invoke(bedrock, NOVA, nova(**section))
    assert resp.status == 200, resp.text
    payload = resp.json_body()
    assert list(payload) == ["embeddings"]
    assert [e["embeddingType"] for e in payload["embeddings"]] == types
    for e in payload["embeddings"]:
        assert list(e) == ["embeddingType", "embedding"]
        assert len(e["embedding"]) == 1024 and abs(norm(e["embedding"]) - 1) < 1e-6
    assert resp.json_body() == (await invoke(bedrock, NOVA, nova(**section))).json_body()


async def test_nova_defaults_to_3072_dimensions_and_counts_text_tokens(bedrock: FakeBedrockRuntime) -> None:
    body = nova(text={"truncationMode": "END", "value": "hello world"})
    del body["singleEmbeddingParams"]["embeddingDimension"]
    resp = await invoke(bedrock, NOVA, body)
    assert len(resp.json_body()["embeddings"][0]["embedding"]) == 3072
    assert resp.headers["X-Amzn-Bedrock-Input-Token-Count"] == "2"


async def test_nova_truncates_long_text_as_asked(bedrock: FakeBedrockRuntime) -> None:
    text = " ".join(f"w{i}" for i in range(9000))
    start, end = [(await invoke(bedrock, NOVA, nova(text={"truncationMode": mode, "value": text}))).json_body()
                  ["embeddings"][0] for mode in ("START", "END")]
    assert start["embedding"] != end["embedding"]
    assert start["truncatedCharLength"] == len(" ".join(f"w{i}" for i in range(808, 9000)))
    assert end["truncatedCharLength"] == len(" ".join(f"w{i}" for i in range(8192)))
    resp = await invoke(bedrock, NOVA, nova(text={"truncationMode": "NONE", "value": text}))
    assert resp.status == 400 and "exceeds the maximum of 8192 tokens (9000 given)" in resp.json_body()["message"]


async def test_nova_takes_the_payload_ml_commons_cleans(bedrock: FakeBedrockRuntime) -> None:
    # the unified connector's request_body once ConnectorUtils dropped the null sections (3.5+)
    body = {"taskType": "SINGLE_EMBEDDING", "singleEmbeddingParams": {
        "embeddingPurpose": "GENERIC_INDEX", "embeddingDimension": 1024,
        "text": {"truncationMode": "START", "value": "hello world"}}}
    assert (await invoke(bedrock, NOVA, body)).status == 200


@pytest.mark.parametrize("body,status,message", [
    (nova(text={"truncationMode": "START", "value": "x"}, image={"format": "png", "source": {"bytes": PNG}}),
     400, {"message": "Exactly one of text, image, video or audio must be provided in singleEmbeddingParams."}),
    (nova(), 400,
     {"message": "Exactly one of text, image, video or audio must be provided in singleEmbeddingParams."}),
    (dict(nova(text={"truncationMode": "START", "value": "x"}), taskType="SEGMENTED_EMBEDDING"), 400,
     {"message": "SEGMENTED_EMBEDDING is only supported by the asynchronous API (StartAsyncInvoke)."}),
    (nova(text={"value": "x"}), 400,
     malformed("#/singleEmbeddingParams/text: required key [truncationMode] not found")),
    (nova(text={"truncationMode": "MIDDLE", "value": "x"}), 400,
     malformed("#/singleEmbeddingParams/text/truncationMode: MIDDLE is not a valid enum value")),
    ({**nova(text={"truncationMode": "START", "value": "x"}), "singleEmbeddingParams": {
        "embeddingPurpose": "GENERIC_INDEX", "embeddingDimension": 512,
        "text": {"truncationMode": "START", "value": "x"}}}, 400,
     malformed("#/singleEmbeddingParams/embeddingDimension: 512 is not a valid enum value")),
    (nova(image={"format": "png", "source": {"bytes": "not base64!"}}), 400,
     {"message": "Unable to decode the provided image: it is not valid base64."}),
    (nova(image={"format": "png", "source": {}}), 400,
     {"message": "Exactly one of bytes or s3Location must be provided for image.source."}),
    (nova(video={"format": "mp4", "source": {"bytes": MP4}}), 400,
     malformed("#/singleEmbeddingParams/video: required key [embeddingMode] not found")),
    ({"singleEmbeddingParams": {"embeddingPurpose": "GENERIC_INDEX"}}, 400,
     malformed("#: required key [taskType] not found")),
])
async def test_nova_refuses_malformed_requests(bedrock: FakeBedrockRuntime, body: dict, status: int,
                                               message: dict) -> None:
    resp = await invoke(bedrock, NOVA, body)
    assert (resp.status, resp.json_body()) == (status, message)
    assert resp.headers["x-amzn-ErrorType"].startswith("ValidationException:")


# ------------------------------------------------ (e) Bedrock: OpenAI Chat Completions (gpt-oss)


def chat_request(body: Any, *, path: str = "/openai/v1/chat/completions", region: str = "us-west-2",
                 **kw: Any) -> ProviderRequest:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return sign_request("POST", f"https://bedrock-runtime.{region}.amazonaws.com{path}", data, access_key=KEY,
                        secret_key=SECRET, region=region, service="bedrock",
                        headers={"content-type": "application/json", "x-amz-content-sha256": "required"}, **kw)


GPT_OSS_BODY = {"model": GPT_OSS, "messages": [{"role": "user", "content": "Explain how bees can fly"}],
                "stream": False}


async def test_gpt_oss_chat_completions_answer_bedrocks_shape(bedrock: FakeBedrockRuntime) -> None:
    resp = await bedrock.handle(chat_request(GPT_OSS_BODY))
    assert resp.status == 200, resp.text
    payload = resp.json_body()
    assert sorted(payload) == ["choices", "created", "id", "model", "object", "service_tier",
                               "system_fingerprint", "usage"]
    assert re.fullmatch(r"chatcmpl-[0-9a-f]{8}", payload["id"])
    assert (payload["object"], payload["model"], payload["service_tier"]) == ("chat.completion", GPT_OSS, "standard")
    [choice] = payload["choices"]
    assert sorted(choice) == ["finish_reason", "index", "message"] and choice["finish_reason"] == "stop"
    assert sorted(choice["message"]) == ["content", "role"]
    assert re.match(r'<reasoning>The user asks: "Explain how bees can fly"\. .*</reasoning>\S',
                    choice["message"]["content"])
    usage = payload["usage"]
    assert list(usage) == ["completion_tokens", "prompt_tokens", "total_tokens"]
    assert usage["total_tokens"] == usage["completion_tokens"] + usage["prompt_tokens"]
    assert resp.headers["x-amzn-RequestId"]
    assert (await bedrock.handle(chat_request(GPT_OSS_BODY))).json_body() == payload


async def test_gpt_oss_also_answers_invoke_model(bedrock: FakeBedrockRuntime) -> None:
    resp = await bedrock.handle(chat_request(GPT_OSS_BODY, path=f"/model/{GPT_OSS}/invoke"))
    assert resp.status == 200 and resp.json_body()["choices"][0]["message"]["content"].startswith("<reasoning>")


async def test_gpt_oss_route_is_signed_and_strict(bedrock: FakeBedrockRuntime) -> None:
    unsigned = ProviderRequest("POST", "https://bedrock-runtime.us-west-2.amazonaws.com/openai/v1/chat/completions",
                               {"content-type": "application/json"}, json.dumps(GPT_OSS_BODY))
    resp = await bedrock.handle(unsigned)
    assert (resp.status, resp.json_body()) == (403, {"message": "Missing Authentication Token"})

    resp = await bedrock.handle(chat_request({"model": GPT_OSS}))
    assert resp.status == 400
    assert resp.json_body()["error"]["message"] == "Missing required parameter: 'messages'."

    resp = await bedrock.handle(chat_request(b"{not json"))
    assert resp.status == 400 and "could not parse the JSON body" in resp.json_body()["error"]["message"]

    resp = await bedrock.handle(chat_request(dict(GPT_OSS_BODY, model="openai.gpt-oss-999b-1:0")))
    assert (resp.status, resp.json_body()) == (400, {"message": "The provided model identifier is invalid."})

    resp = await bedrock.handle(chat_request(dict(GPT_OSS_BODY, model="anthropic.claude-3-haiku-20240307-v1:0")))
    assert resp.status == 400 and resp.json_body()["message"].startswith("This action doesn't support the model")

    resp = await bedrock.handle(chat_request(dict(GPT_OSS_BODY, stream=True)))
    assert resp.status == 400

    resp = await bedrock.handle(chat_request(GPT_OSS_BODY, path="/openai/v1/completions"))
    assert resp.status == 404


# ------------------------------------------------ (f) SageMaker default endpoint: blueprint containers


async def invocation(fake: FakeSageMakerRuntime, body: Any, endpoint: str = "my-endpoint") -> ProviderResponse:
    url = f"https://runtime.sagemaker.{REGION}.amazonaws.com/endpoints/{endpoint}/invocations"
    return await fake.handle(signed("sagemaker", url, body))


def container_message(resp: ProviderResponse) -> str:
    assert resp.status == 424, resp.text
    assert resp.headers["x-amzn-ErrorType"].startswith("ModelError:")
    return json.loads(resp.json_body()["OriginalMessage"])["message"]


@pytest.mark.parametrize("body", [{"queries": ["hello world"]}, {"inputs": {"queries": ["hello world"]}}])
async def test_colpali_query_embeddings(sagemaker: FakeSageMakerRuntime, body: dict) -> None:
    # the copali blueprint's request_body is "${parameters.inputs}": the object itself goes out
    resp = await invocation(sagemaker, body)
    assert resp.status == 200, resp.text
    payload = resp.json_body()
    assert list(payload) == ["query_embeddings", "query_tokens"]
    assert payload["query_tokens"] == [{"raw": "<bos>Query: hello world",
                                        "tokens": ["<bos>", "Query", ":", "\u2581hello", "\u2581world"]}]
    [vectors] = payload["query_embeddings"]
    assert len(vectors) == 5 and all(len(v) == 128 and abs(norm(v) - 1) < 1e-6 for v in vectors)


async def test_colpali_image_embeddings_and_scores(sagemaker: FakeSageMakerRuntime) -> None:
    image = png(87, 29)
    resp = await invocation(sagemaker, {"images": [image]})
    payload = resp.json_body()
    assert list(payload) == ["image_embeddings", "image_mask", "patch_shape"]
    assert payload["patch_shape"] == {"height": 32, "width": 32, "total": 1024, "image_size": [87, 29],
                                      "patch_size": 14}
    assert len(payload["image_embeddings"][0]) == 1024 and len(payload["image_embeddings"][0][0]) == 128
    assert payload["image_mask"] == [[1.0] * 1024]

    both = (await invocation(sagemaker, {"queries": ["hello world", "x"], "images": [image]})).json_body()
    assert sorted(both) == ["image_embeddings", "image_mask", "patch_shape", "query_embeddings", "query_tokens",
                            "scores"]
    assert [len(row) for row in both["scores"]] == [1, 1] and all(s > 0 for row in both["scores"] for s in row)
    assert both["image_embeddings"] == payload["image_embeddings"]


@pytest.mark.parametrize("body,message", [
    ({"queries": []}, "'queries' must be a non-empty list of strings"),
    ({"inputs": {"queries": "hello"}}, "'queries' must be a non-empty list of strings"),
    ({"inputs": {}}, "'inputs' must contain 'queries' and/or 'images'"),
    ({"images": ["not base64!"]}, "Incorrect padding: images must be base64-encoded strings"),
    ({"images": [base64.b64encode(b"GIF89a....").decode()]}, "cannot identify image file <_io.BytesIO object>"),
])
async def test_colpali_refuses_malformed_input(sagemaker: FakeSageMakerRuntime, body: dict, message: str) -> None:
    assert container_message(await invocation(sagemaker, body)) == message


CONTEXT = ("Hypertensive heart disease is the No. 1 cause of death associated with high blood pressure. "
           "Symptoms of heart failure include: Shortness of breath. Fatigue and weakness are common.")


async def test_semantic_highlighter_single_and_batch(sagemaker: FakeSageMakerRuntime) -> None:
    # the standard blueprint's request_body with the single-document parameters (inputs defaults to [])
    resp = await invocation(sagemaker, {"question": "What are the symptoms of heart failure?",
                                        "context": CONTEXT, "inputs": []})
    assert resp.status == 200, resp.text
    payload = resp.json_body()
    assert list(payload) == ["highlights", "processing_time_ms", "device"]
    [span] = payload["highlights"]
    assert CONTEXT[span["start"]:span["end"]] == "Symptoms of heart failure include: Shortness of breath."

    batch = (await invocation(sagemaker, {"question": "", "context": "", "inputs": [
        {"question": "What causes high blood pressure?", "context": "Genetics matter. Sodium raises blood pressure."},
        {"question": "zebra", "context": "Nothing relevant here."},
    ]})).json_body()
    assert batch["highlights"] == [[{"start": 17, "end": 46}], []]


@pytest.mark.parametrize("body,message", [
    ({"question": "", "context": "", "inputs": []},
     "Invalid input format. Expected one of:\n1. {'inputs': [{'question': '...', 'context': '...'}, ...]}\n"
     "2. {'question': '...', 'context': '...'}"),
    ({"inputs": [{"question": "q"}]}, "'inputs' must be a list of objects with string 'question' and 'context'"),
])
async def test_semantic_highlighter_refuses_malformed_input(sagemaker: FakeSageMakerRuntime, body: dict,
                                                            message: str) -> None:
    assert container_message(await invocation(sagemaker, body)) == message


async def test_embedding_requests_still_embed(sagemaker: FakeSageMakerRuntime) -> None:
    resp = await invocation(sagemaker, ["hello world", "how are you"])
    assert [len(v) for v in resp.json_body()] == [384, 384]
    assert container_message(await invocation(sagemaker, {"text": "x"})) == (
        "Request body must be a list of strings or contain 'inputs' or 'text_inputs'")


# ------------------------------------------------ SageMaker batch transform (api.sagemaker)


TRANSFORM = {
    "BatchStrategy": "SingleRecord", "ModelName": "DJL-Text-Embedding-Model-imageforjsonlines",
    "DataProcessing": {"InputFilter": "$.content", "JoinSource": "Input", "OutputFilter": "$"},
    "TransformInput": {"ContentType": "application/json", "SplitType": "Line", "DataSource": {
        "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://offlinebatch/sagemaker_djl_batch_input.json"}}},
    "TransformJobName": "SM-offline-batch-transform-07-12-13-30",
    "TransformOutput": {"AssembleWith": "Line", "Accept": "application/json",
                        "S3OutputPath": "s3://offlinebatch/output"},
    "TransformResources": {"InstanceCount": 1, "InstanceType": "ml.c5.xlarge"},
}


async def api(fake: FakeSageMakerRuntime, operation: str, body: Any, *, target: bool = False) -> ProviderResponse:
    url = f"https://api.sagemaker.{REGION}.amazonaws.com/" + ("" if target else operation)
    headers = {"X-Amz-Target": f"SageMaker.{operation}"} if target else {}
    return await fake.handle(signed("sagemaker", url, body, **headers))


async def test_transform_job_lifecycle(sagemaker: FakeSageMakerRuntime) -> None:
    assert sagemaker.matches("api.sagemaker.us-east-1.amazonaws.com")
    resp = await api(sagemaker, "CreateTransformJob", TRANSFORM)
    arn = f"arn:aws:sagemaker:{REGION}:123456789012:transform-job/sm-offline-batch-transform-07-12-13-30"
    assert (resp.status, resp.json_body()) == (200, {"TransformJobArn": arn})
    # the plugin describes by the name it reads back from the ARN (lower case)
    name = {"TransformJobName": arn.rsplit("/", 1)[1]}
    first = (await api(sagemaker, "DescribeTransformJob", name)).json_body()
    assert (first["TransformJobStatus"], first["TransformJobArn"]) == ("InProgress", arn)
    assert first["TransformJobName"] == TRANSFORM["TransformJobName"] and first["ModelName"] == TRANSFORM["ModelName"]
    second = (await api(sagemaker, "DescribeTransformJob", name, target=True)).json_body()
    assert second["TransformJobStatus"] == "Completed" and "TransformEndTime" in second

    await api(sagemaker, "CreateTransformJob", dict(TRANSFORM, TransformJobName="job-2"))
    assert (await api(sagemaker, "StopTransformJob", {"TransformJobName": "job-2"})).json_body() == {}
    states = [(await api(sagemaker, "DescribeTransformJob", {"TransformJobName": "job-2"})).json_body()
              ["TransformJobStatus"] for _ in range(2)]
    assert states == ["Stopping", "Stopped"]


async def test_transform_job_requests_are_checked(sagemaker: FakeSageMakerRuntime) -> None:
    await api(sagemaker, "CreateTransformJob", TRANSFORM)
    resp = await api(sagemaker, "CreateTransformJob", TRANSFORM)
    assert resp.status == 400 and resp.json_body()["message"].startswith("Transform job names must be unique")
    assert resp.headers["x-amzn-ErrorType"].startswith("ValidationException:")

    body = {k: v for k, v in TRANSFORM.items() if k not in ("ModelName", "TransformResources")}
    resp = await api(sagemaker, "CreateTransformJob", dict(body, TransformJobName="job-3"))
    assert resp.json_body()["message"] == (
        "2 validation errors detected: Value null at 'modelName' failed to satisfy constraint: Member must not be "
        "null; Value null at 'transformResources' failed to satisfy constraint: Member must not be null")
    resp = await api(sagemaker, "CreateTransformJob", dict(TRANSFORM, TransformJobName="bad_name"))
    assert resp.status == 400 and "regular expression pattern" in resp.json_body()["message"]
    resp = await api(sagemaker, "DescribeTransformJob", {"TransformJobName": "nope"})
    assert (resp.status, resp.json_body()["message"]) == (400, "Could not find requested job with name nope")
    resp = await api(sagemaker, "ListTransformJobs", {})
    assert resp.status == 400 and resp.headers["x-amzn-ErrorType"].startswith("UnknownOperationException")
    # the runtime host does not serve the service API
    resp = await sagemaker.handle(signed("sagemaker", f"https://runtime.sagemaker.{REGION}.amazonaws.com/"
                                                      "CreateTransformJob", TRANSFORM))
    assert resp.status == 404
