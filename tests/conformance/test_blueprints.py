"""Every connector blueprint in fixtures/blueprints runs create -> register -> deploy -> predict offline."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

BLUEPRINTS = Path(__file__).resolve().parents[2] / "fixtures" / "blueprints"
NAMES = sorted(p.stem for p in BLUEPRINTS.glob("*.json"))

#: what the plugin returns for each blueprint: (number of inference_results, tensors per result,
#: tensor name, data_type, shape[, Python type of the data values: float unless given]) for
#: processed outputs, or the dataAsMap keys for raw ones
EXPECTED = {
    "openai_chat": {"raw": ["choices", "usage", "object"]},
    "openai_completions": {"raw": ["choices", "usage"]},
    "cohere_chat": {"raw": ["text", "generation_id"]},
    "bedrock_claude_messages": {"raw": ["content", "stop_reason", "usage"]},
    "deepseek_chat": {"raw": ["choices", "usage"]},
    "azure_openai_chat": {"raw": ["choices", "prompt_filter_results"]},
    "openai_embedding": {"results": 1, "tensors": 2, "name": "sentence_embedding", "data_type": "FLOAT32", "shape": [1536]},
    "azure_openai_embedding": {"results": 1, "tensors": 1, "name": "sentence_embedding", "data_type": "FLOAT32", "shape": [1536]},
    "cohere_embedding": {"results": 1, "tensors": 2, "name": "sentence_embedding", "data_type": "FLOAT32", "shape": [1024]},
    "bedrock_cohere_embedding": {"results": 1, "tensors": 2, "name": "sentence_embedding", "data_type": "FLOAT32", "shape": [1024]},
    "bedrock_titan_embedding": {"results": 2, "tensors": 1, "name": "sentence_embedding", "data_type": "FLOAT32", "shape": [1536]},
    # the published Painless pre/post-process scripts give the same shape as the built-ins
    "bedrock_titan_embedding_scripted": {"results": 2, "tensors": 1, "name": "sentence_embedding", "data_type": "FLOAT32", "shape": [1536]},
    "bedrock_titan_multimodal_embedding_scripted": {"results": 1, "tensors": 1, "name": "sentence_embedding", "data_type": "FLOAT32", "shape": [1024]},
    "bedrock_titan_v2_embedding": {"results": 1, "tensors": 1, "name": "sentence_embedding", "data_type": "FLOAT32", "shape": [512]},
    "sagemaker_embedding": {"results": 1, "tensors": 2, "name": "sentence_embedding", "data_type": "FLOAT32", "shape": [384]},
    "cohere_rerank": {"results": 1, "tensors": 2, "name": "similarity", "data_type": "FLOAT32", "shape": [1]},
    "cohere_v2_chat": {"raw": ["id", "message", "finish_reason", "usage"]},
    # the published blueprint filters the reply text out with response_filter
    "bedrock_converse": {"raw": ["response"]},
    "cohere_v2_embedding": {"results": 1, "tensors": 2, "name": "sentence_embedding", "data_type": "FLOAT32", "shape": [1024]},
    "cohere_multimodal_embedding": {"results": 1, "tensors": 1, "name": "sentence_embedding", "data_type": "FLOAT32", "shape": [1024]},
    # input_docs_processed_step_size 2: text and image go in one call
    "bedrock_titan_multimodal_embedding": {"results": 1, "tensors": 1, "name": "sentence_embedding", "data_type": "FLOAT32", "shape": [1024]},
    # the data type comes from the JsonPath (".binary"); the 0/1 values stay integers
    "bedrock_titan_v2_binary_embedding": {"results": 1, "tensors": 1, "name": "sentence_embedding", "data_type": "BINARY", "shape": [1024], "number": int},
    "bedrock_cohere_rerank": {"results": 1, "tensors": 3, "name": "similarity", "data_type": "FLOAT32", "shape": [1]},
    "bedrock_rerank": {"results": 1, "tensors": 3, "name": "similarity", "data_type": "FLOAT32", "shape": [1]},
    "cohere_v2_rerank": {"results": 1, "tensors": 3, "name": "similarity", "data_type": "FLOAT32", "shape": [1]},
    # 2.17+: _batch_predict answers a task, with the provider's batch object in remote_job (2.18+)
    "openai_batch": {"batch": ["id", "object", "endpoint", "input_file_id", "completion_window", "status"]},
    "gemini_chat": {"raw": ["candidates", "usageMetadata", "modelVersion", "responseId"]},
    # one document a call (bedrock pre-process); gemini-embedding-001 shortened to 768
    "gemini_embedding": {"results": 2, "tensors": 1, "name": "sentence_embedding", "data_type": "FLOAT32", "shape": [768]},
    "vertexai_embedding": {"raw": ["predictions", "metadata"]},
    "vertexai_chat": {"raw": ["candidates", "usageMetadata", "modelVersion", "createTime", "responseId"]},
    # response_filter "$" selects the whole object, which becomes dataAsMap as is
    "comprehend_dominant_language": {"raw": ["Languages"]},
    "comprehend_entities": {"raw": ["Entities"]},
    "textract_detect_document_text": {"raw": ["DocumentMetadata", "Blocks", "DetectDocumentTextModelVersion"]},
    "aleph_alpha_embedding": {"results": 1, "tensors": 1, "name": "sentence_embedding", "data_type": "FLOAT32", "shape": [5120]},
    "aleph_alpha_completion": {"raw": ["model_version", "completions", "num_tokens_prompt_total", "num_tokens_generated"]},
    "yandex_embedding": {"results": 1, "tensors": 1, "name": "sentence_embedding", "data_type": "FLOAT32", "shape": [256]},
    "yandex_openai_embedding": {"raw": ["object", "data", "model", "usage"]},
    "yandex_completion": {"raw": ["result"]},
}


def test_every_blueprint_has_an_expectation():
    assert NAMES and sorted(EXPECTED) == NAMES


async def run_blueprint(emu, name: str) -> dict:
    blueprint = json.loads((BLUEPRINTS / f"{name}.json").read_text())
    if blueprint.get("trusted_endpoints"):
        current = (await emu.request("GET", "/_cluster/settings", query={"include_defaults": "true",
                                                                         "flat_settings": "true"})).body
        key = "plugins.ml_commons.trusted_connector_endpoints_regex"
        regexes = current["defaults"][key] + blueprint["trusted_endpoints"]
        r = await emu.request("PUT", "/_cluster/settings", {"persistent": {key: regexes}})
        assert r.status == 200, r.body
    r = await emu.request("POST", "/_plugins/_ml/connectors/_create", blueprint["connector"])
    assert r.status == 200, r.body
    connector_id = r.body["connector_id"]
    r = await emu.request("POST", "/_plugins/_ml/models/_register?deploy=true", {
        "name": f"{name} model", "function_name": "remote", "connector_id": connector_id})
    assert r.status == 200, r.body
    model_id = r.body["model_id"]
    model = (await emu.request("GET", f"/_plugins/_ml/models/{model_id}")).body
    assert model["model_state"] == "DEPLOYED"
    path = blueprint["predict"]["path"].format(model_id=model_id)
    r = await emu.request("POST", path, blueprint["predict"]["body"])
    assert r.status == 200, r.body
    return r.body


@pytest.mark.parametrize("name", NAMES)
async def test_blueprint_runs_offline(emulator, name):
    result = await run_blueprint(emulator, name)
    expected = EXPECTED[name]
    if "batch" in expected:
        assert list(result) == ["task_id", "status", "remote_job"] and result["status"] == "CREATED"
        assert set(expected["batch"]) <= set(result["remote_job"]), result["remote_job"]
        return
    results = result["inference_results"]
    assert all(element["status_code"] == 200 for element in results)
    if "raw" in expected:
        [element] = results
        [tensor] = element["output"]
        assert tensor["name"] == "response"
        assert set(expected["raw"]) <= set(tensor["dataAsMap"]), tensor["dataAsMap"]
        return
    assert len(results) == expected["results"]
    for element in results:
        assert len(element["output"]) == expected["tensors"]
        for tensor in element["output"]:
            assert list(tensor)[:4] == ["name", "data_type", "shape", "data"]
            assert tensor["name"] == expected["name"]
            assert tensor["data_type"] == expected["data_type"]
            assert tensor["shape"] == expected["shape"]
            assert len(tensor["data"]) == expected["shape"][0]
            number = expected.get("number", float)
            assert all(isinstance(v, number) and not isinstance(v, bool) for v in tensor["data"])


async def test_supports_structured_output_is_kept_from_3_7(database_url):
    from mlcommons_emu import Emulator
    from tests.conftest import store_options

    blueprint = json.loads((BLUEPRINTS / "cohere_v2_chat.json").read_text())
    for version, expected in (("3.8.0", True), ("3.6.0", None)):
        async with Emulator(database=database_url, opensearch_version=version, **store_options(database_url)) as emu:
            await emu.request("PUT", "/_cluster/settings", {"persistent": {
                "plugins.ml_commons.trusted_connector_endpoints_regex": blueprint["trusted_endpoints"]}})
            r = await emu.request("POST", "/_plugins/_ml/connectors/_create", blueprint["connector"])
            assert r.status == 200, r.body
            stored = (await emu.request("GET", f"/_plugins/_ml/connectors/{r.body['connector_id']}")).body
            assert stored["actions"][0].get("supports_structured_output") is expected
            await emu.request("DELETE", f"/_plugins/_ml/connectors/{r.body['connector_id']}")


async def test_algorithm_query_parameter_selects_text_docs_input(emulator):
    blueprint = json.loads((BLUEPRINTS / "bedrock_titan_embedding.json").read_text())
    r = await emulator.request("POST", "/_plugins/_ml/connectors/_create", blueprint["connector"])
    r = await emulator.request("POST", "/_plugins/_ml/models/_register?deploy=true", {
        "name": "titan", "function_name": "remote", "connector_id": r.body["connector_id"]})
    model_id = r.body["model_id"]
    r = await emulator.request("POST", f"/_plugins/_ml/models/{model_id}/_predict?algorithm=text_embedding",
                               {"text_docs": ["hello", "world"]})
    assert r.status == 200, r.body
    assert [t["name"] for e in r.body["inference_results"] for t in e["output"]] == ["sentence_embedding"] * 2
    r = await emulator.request("POST", f"/_plugins/_ml/models/{model_id}/_predict?algorithm=nonsense",
                               {"text_docs": ["hello"]})
    assert (r.status, r.body["error"]["reason"]) == (400, "Wrong function name")


async def test_new_provider_blueprints_answer_like_the_published_samples(emulator):
    """Beyond the shapes: what the published Comprehend, Textract and Vertex samples show."""
    result = await run_blueprint(emulator, "comprehend_dominant_language")
    [tensor] = result["inference_results"][0]["output"]
    assert tensor["dataAsMap"]["Languages"][0]["LanguageCode"] == "fr"
    result = await run_blueprint(emulator, "textract_detect_document_text")
    blocks = result["inference_results"][0]["output"][0]["dataAsMap"]["Blocks"]
    assert [b["Text"] for b in blocks if b["BlockType"] == "LINE"] == ["Hello World!!"]
    result = await run_blueprint(emulator, "vertexai_embedding")
    data = result["inference_results"][0]["output"][0]["dataAsMap"]
    assert len(data["predictions"][0]["embeddings"]["values"]) == 768
    assert data["metadata"] == {"billableCharacterCount": 23}
    sent = emulator.providers["vertexai"].recorder.last
    assert sent.headers["Authorization"] == "Bearer ya29.test-access-token"
    assert json.loads(sent.body) == {"instances": [{"content": "Hello World form vertex AI!"}]}
