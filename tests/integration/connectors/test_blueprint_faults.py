"""Blueprint mistakes and provider faults fail as they fail against the real plugin and services."""
from __future__ import annotations

import json

from mlcommons_emu import Emulator
from tests.conformance.test_blueprints import BLUEPRINTS
from tests.conformance.test_errors import assert_error
from tests.conftest import store_options


def blueprint(name: str) -> dict:
    return json.loads((BLUEPRINTS / f"{name}.json").read_text())


async def model_for(emu, connector: dict) -> str:
    r = await emu.request("POST", "/_plugins/_ml/connectors/_create", connector)
    assert r.status == 200, r.body
    r = await emu.request("POST", "/_plugins/_ml/models/_register?deploy=true",
                          {"name": "m", "function_name": "remote", "connector_id": r.body["connector_id"]})
    return r.body["model_id"]


async def test_unquoted_placeholder_typo_fails_the_json_check_first(emulator):
    bp = blueprint("openai_embedding")
    bp["connector"]["actions"][0]["request_body"] = '{ "input": ${parameters.inputs}, "model": "${parameters.model}" }'
    model_id = await model_for(emulator, bp["connector"])
    r = await emulator.request("POST", f"/_plugins/_ml/_predict/text_embedding/{model_id}", {"text_docs": ["a"]})
    assert_error(r, 400, "illegal_argument_exception",
                 'Invalid payload: { "input": ${parameters.inputs}, "model": "text-embedding-ada-002" }')


async def test_quoted_placeholder_typo_names_the_parameter(emulator):
    bp = blueprint("bedrock_titan_embedding")
    bp["connector"]["actions"][0]["request_body"] = '{ "inputText": "${parameters.inputTxt}" }'
    model_id = await model_for(emulator, bp["connector"])
    r = await emulator.request("POST", f"/_plugins/_ml/_predict/text_embedding/{model_id}", {"text_docs": ["a"]})
    assert_error(r, 400, "illegal_argument_exception", "Some parameter placeholder not filled in payload: inputTxt")


async def test_misspelled_post_process_is_run_as_a_script(emulator):
    bp = blueprint("openai_embedding")
    bp["connector"]["actions"][0]["post_process_function"] = "connector.post_process.openai.embeddings"
    model_id = await model_for(emulator, bp["connector"])
    r = await emulator.request("POST", f"/_plugins/_ml/_predict/text_embedding/{model_id}", {"text_docs": ["a"]})
    assert r.status == 400
    error = r.body["error"]
    assert error["type"] == "script_exception"
    assert error["script"] == "connector.post_process.openai.embeddings"
    assert error["lang"] == "painless"
    assert error["reason"] == "compile error"
    assert error["position"] == {"offset": 0, "start": 0, "end": 25}
    assert error["script_stack"] == ["connector.post_process.op ...", "^---- HERE"]
    assert error["caused_by"] == {"type": "illegal_argument_exception",
                                  "reason": "cannot resolve symbol [connector.post_process.openai.embeddings]"}


async def test_misspelled_pre_process_with_parameters_input_is_ignored(emulator):
    bp = blueprint("openai_embedding")
    bp["connector"]["actions"][0]["pre_process_function"] = "connector.pre_process.openai.embeddings"
    model_id = await model_for(emulator, bp["connector"])
    r = await emulator.request("POST", f"/_plugins/_ml/models/{model_id}/_predict",
                               {"parameters": {"input": ["hello"]}})
    assert r.status == 200, r.body
    [tensor] = r.body["inference_results"][0]["output"]
    assert tensor["name"] == "sentence_embedding" and tensor["shape"] == [1536]


async def test_misspelled_pre_process_with_text_docs_fails_as_a_script(emulator):
    bp = blueprint("openai_embedding")
    bp["connector"]["actions"][0]["pre_process_function"] = "connector.pre_process.openai.embeddings"
    model_id = await model_for(emulator, bp["connector"])
    r = await emulator.request("POST", f"/_plugins/_ml/_predict/text_embedding/{model_id}", {"text_docs": ["a"]})
    assert r.status == 400 and r.body["error"]["type"] == "script_exception"
    assert r.body["error"]["reason"] == "compile error"
    assert r.body["error"]["caused_by"]["reason"] == (
        "cannot resolve symbol [connector.pre_process.openai.embeddings]")


async def test_wrong_model_name_gets_the_providers_error(emulator):
    bp = blueprint("openai_embedding")
    bp["connector"]["parameters"]["model"] = "text-embedding-does-not-exist"
    model_id = await model_for(emulator, bp["connector"])
    r = await emulator.request("POST", f"/_plugins/_ml/_predict/text_embedding/{model_id}", {"text_docs": ["a"]})
    assert r.status == 404
    assert r.body["error"]["type"] == "status_exception"
    assert r.body["error"]["reason"].startswith("Error from remote service: ")
    assert "text-embedding-does-not-exist" in r.body["error"]["reason"]


async def test_malformed_provider_body(emulator):
    model_id = await model_for(emulator, blueprint("openai_chat")["connector"])
    emulator.providers["openai"].script.fail(200, b"<html>oops</html>", {"content-type": "text/html"})
    r = await emulator.request("POST", f"/_plugins/_ml/models/{model_id}/_predict",
                               blueprint("openai_chat")["predict"]["body"])
    assert_error(r, 400, "illegal_argument_exception", startswith="Invalid JSON format: ")


async def test_slow_reply_within_the_timeout_succeeds(emulator):
    model_id = await model_for(emulator, blueprint("openai_chat")["connector"])
    emulator.providers["openai"].script.delay(0.2)
    r = await emulator.request("POST", f"/_plugins/_ml/models/{model_id}/_predict",
                               blueprint("openai_chat")["predict"]["body"])
    assert r.status == 200


async def test_sagemaker_throttle_is_the_plugins_throttling_error(emulator):
    bp = blueprint("sagemaker_embedding")
    model_id = await model_for(emulator, bp["connector"])
    emulator.providers["sagemaker"].script.enqueue(emulator.providers["sagemaker"].throttling_response())
    r = await emulator.request("POST", f"/_plugins/_ml/_predict/text_embedding/{model_id}", {"text_docs": ["a"]})
    assert r.status == 400
    assert r.body["error"]["type"] == "remote_connector_throttling_exception"


async def test_openai_rate_limit_with_retry_after(emulator):
    model_id = await model_for(emulator, blueprint("openai_chat")["connector"])
    fake = emulator.providers["openai"]
    fake.script.enqueue(fake.rate_limit_response("gpt-4o-mini", limit=3, retry_after=20))
    r = await emulator.request("POST", f"/_plugins/_ml/models/{model_id}/_predict",
                               blueprint("openai_chat")["predict"]["body"])
    assert r.status == 429
    assert r.body["error"]["reason"].startswith('Error from remote service: {"error": {"message": "Rate limit reached')


async def test_sigv4_wrong_secret_is_refused_and_the_right_one_passes(database_url):
    bp = blueprint("bedrock_titan_embedding")
    keys = {bp["connector"]["credential"]["access_key"]: ("a-different-secret", "example-session-token")}
    async with Emulator(database=database_url, aws_credentials=keys, **store_options(database_url)) as emu:
        model_id = await model_for(emu, bp["connector"])
        r = await emu.request("POST", f"/_plugins/_ml/_predict/text_embedding/{model_id}", {"text_docs": ["a"]})
        assert r.status == 403
        assert r.body["error"]["type"] == "status_exception"
        assert "The request signature we calculated does not match" in r.body["error"]["reason"]
    right = {bp["connector"]["credential"]["access_key"]: (bp["connector"]["credential"]["secret_key"],
                                                          "example-session-token")}
    async with Emulator(database=database_url, aws_credentials=right, **store_options(database_url)) as emu:
        model_id = await model_for(emu, bp["connector"])
        r = await emu.request("POST", f"/_plugins/_ml/_predict/text_embedding/{model_id}", {"text_docs": ["a"]})
        assert r.status == 200, r.body
