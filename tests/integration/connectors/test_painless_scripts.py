"""Connectors whose pre-/post-process functions are Painless scripts run end to end offline."""
from __future__ import annotations

import json

from mlcommons_emu import Emulator
from tests.conformance.test_blueprints import BLUEPRINTS
from tests.conftest import store_options

DOCS = ["hello world", 'He said "hi"\nand left \\ twice']


def blueprint(name: str) -> dict:
    return json.loads((BLUEPRINTS / f"{name}.json").read_text())


async def model_for(emu, connector: dict) -> str:
    r = await emu.request("POST", "/_plugins/_ml/connectors/_create", connector)
    assert r.status == 200, r.body
    r = await emu.request("POST", "/_plugins/_ml/models/_register?deploy=true",
                          {"name": "m", "function_name": "remote", "connector_id": r.body["connector_id"]})
    assert r.status == 200, r.body
    if "model_id" in r.body:
        return r.body["model_id"]
    model_id = (await emu.request("GET", f"/_plugins/_ml/tasks/{r.body['task_id']}")).body["model_id"]
    r = await emu.request("POST", f"/_plugins/_ml/models/{model_id}/_deploy")
    assert r.status == 200, r.body
    return model_id


async def embed(emu, name: str, docs: list, *, connector: dict | None = None):
    model_id = await model_for(emu, connector or blueprint(name)["connector"])
    return await emu.request("POST", f"/_plugins/_ml/_predict/text_embedding/{model_id}", {"text_docs": docs})


async def test_scripted_titan_gives_what_the_builtin_functions_give(emulator):
    builtin = await embed(emulator, "bedrock_titan_embedding", DOCS)
    scripted = await embed(emulator, "bedrock_titan_embedding_scripted", DOCS)
    assert builtin.status == scripted.status == 200, scripted.body
    assert scripted.body == builtin.body
    [first, second] = scripted.body["inference_results"]
    tensor = first["output"][0]
    assert list(tensor) == ["name", "data_type", "shape", "data"]
    assert tensor["name"] == "sentence_embedding" and tensor["data_type"] == "FLOAT32"
    assert tensor["shape"] == [len(tensor["data"])] and all(isinstance(v, float) for v in tensor["data"])


async def test_scripted_titan_multimodal_gives_what_the_builtin_functions_give(emulator):
    docs = blueprint("bedrock_titan_multimodal_embedding")["predict"]["body"]["text_docs"]
    builtin = await embed(emulator, "bedrock_titan_multimodal_embedding", docs)
    scripted = await embed(emulator, "bedrock_titan_multimodal_embedding_scripted", docs)
    assert builtin.status == scripted.status == 200, scripted.body
    assert scripted.body == builtin.body


def _titan_with(pre: str | None = None, post: str | None = None) -> dict:
    connector = blueprint("bedrock_titan_embedding_scripted")["connector"]
    if pre is not None:
        connector["actions"][0]["pre_process_function"] = pre
    if post is not None:
        connector["actions"][0]["post_process_function"] = post
    return connector


async def test_pre_process_script_returning_null(emulator):
    r = await embed(emulator, "", ["a"], connector=_titan_with(pre="return null;"))
    assert r.status == 400
    assert r.body["error"]["type"] == "illegal_argument_exception"
    assert r.body["error"]["reason"] == "Preprocess function output is null"


async def test_pre_process_script_sees_the_typed_input(emulator):
    pre = ('return "{\\"parameters\\":{\\"inputText\\":\\"" + params.algorithm + params.text_docs.size() '
           '+ params.return_number + "\\"}}";')
    post = 'return "docs"'
    r = await embed(emulator, "", ["a", "b"], connector=_titan_with(pre=pre, post=post))
    assert r.status == 200, r.body
    # one call per document
    assert len(r.body["inference_results"]) == 2
    assert r.body["inference_results"][0]["output"] == [{"name": "response", "dataAsMap": {"response": "docs"}}]


async def test_post_process_script_result_that_is_not_a_tensor(emulator):
    r = await embed(emulator, "", ["a"], connector=_titan_with(post='return "{\\"foo\\": 1}"'))
    assert r.status == 200, r.body
    assert r.body["inference_results"][0]["output"] == [{}]


async def test_post_process_script_sees_the_body_keys(emulator):
    post = "return params.keySet().toString() + params.inputTextTokenCount"
    r = await embed(emulator, "", ["a b c"], connector=_titan_with(post=post))
    assert r.status == 200, r.body
    [tensor] = r.body["inference_results"][0]["output"]
    assert tensor["name"] == "response"
    assert tensor["dataAsMap"]["response"].startswith("[embedding, inputTextTokenCount]")


async def test_post_process_script_list_of_tensors(emulator):
    post = ('def t = "{\\"name\\":\\"x\\",\\"data_type\\":\\"INT32\\",\\"shape\\":[1],\\"data\\":[7]}";'
            ' return "[" + t + "," + t + "]";')
    r = await embed(emulator, "", ["a"], connector=_titan_with(post=post))
    assert r.status == 200, r.body
    assert r.body["inference_results"][0]["output"] == [
        {"name": "x", "data_type": "INT32", "shape": [1], "data": [7]}] * 2


async def test_runtime_error_is_a_script_exception(emulator):
    post = "def e = params.missing;\nreturn e.length();"
    r = await embed(emulator, "", ["a"], connector=_titan_with(post=post))
    assert r.status == 400
    error = r.body["error"]
    assert error["type"] == "script_exception" and error["reason"] == "runtime error"
    assert error["script"] == post and error["lang"] == "painless"
    offset = post.index("length")
    start = post.index("return")
    assert error["position"] == {"offset": offset, "start": start, "end": len(post)}
    assert error["script_stack"] == [post[start:], " " * (offset - start) + "^---- HERE"]
    assert error["caused_by"] == {"type": "null_pointer_exception", "reason": None}


async def test_compile_error_is_a_script_exception(emulator):
    r = await embed(emulator, "", ["a"], connector=_titan_with(pre="return 1 +;"))
    assert r.status == 400
    error = r.body["error"]
    assert error["type"] == "script_exception" and error["reason"] == "compile error"
    assert error["position"] == {"offset": 10, "start": 0, "end": 11}
    assert error["caused_by"]["type"] == "illegal_argument_exception"


async def test_endless_post_process_script_fails(emulator):
    r = await embed(emulator, "", ["a"], connector=_titan_with(post="while (true) {}"))
    assert r.status == 400
    assert r.body["error"]["caused_by"]["type"] == "painless_error"


async def test_parameters_input_script_runs_only_when_asked(emulator):
    connector = blueprint("bedrock_titan_embedding")["connector"]
    action = connector["actions"][0]
    action["pre_process_function"] = ('return "{\\"parameters\\":{\\"inputText\\":\\"" + '
                                      'params.words.toUpperCase() + "\\"}}";')
    action["post_process_function"] = "connector.post_process.bedrock.embedding"
    model_id = await model_for(emulator, connector)
    # without the flag the script is ignored: inputText is missing
    r = await emulator.request("POST", f"/_plugins/_ml/models/{model_id}/_predict",
                               {"parameters": {"words": "abc"}})
    assert r.status == 400 and "inputText" in r.body["error"]["reason"]
    r = await emulator.request("POST", f"/_plugins/_ml/models/{model_id}/_predict", {"parameters": {
        "words": "abc", "pre_process_function.process_remote_inference_input": "true"}})
    assert r.status == 200, r.body
    scripted = r.body["inference_results"][0]["output"][0]["data"]
    r = await emulator.request("POST", f"/_plugins/_ml/models/{model_id}/_predict",
                               {"parameters": {"inputText": "ABC"}})
    assert r.status == 200 and r.body["inference_results"][0]["output"][0]["data"] == scripted


async def test_release_2_9_sends_all_documents_in_one_call_unescaped(database_url):
    pre = ('return "{\\"parameters\\":{\\"inputText\\":\\"" + params.text_docs.size() + '
           'params.containsKey("algorithm") + "\\"}}";')
    async with Emulator(database=database_url, opensearch_version="2.9.0", **store_options(database_url)) as emu:
        r = await emu.request("PUT", "/_cluster/settings", {"persistent": {
            "plugins.ml_commons.trusted_connector_endpoints_regex": ["^https://bedrock-runtime\\..*\\.amazonaws\\.com/.*$"]}})
        assert r.status == 200, r.body
        r = await embed(emu, "", ["a", "b"], connector=_titan_with(pre=pre, post='return "x"'))
        assert r.status == 200, r.body
        assert len(r.body["inference_results"]) == 1
