"""The seed page's whole flow, in-process, answered as the newest release answers it."""
from __future__ import annotations

import json
import re


from tests.seed import body

ID = re.compile(r"^[A-Za-z0-9_-]{20}$")
NODE_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")


async def test_settings_from_the_seed_are_acknowledged(emulator):
    r = await emulator.request("PUT", "/_cluster/settings", body("trusted_endpoints"))
    assert r.status == 200
    assert r.body["acknowledged"] is True
    regexes = r.body["persistent"]["plugins"]["ml_commons"]["trusted_connector_endpoints_regex"]
    assert "^https://api\\.openai\\.com/.*$" in regexes
    assert r.body["transient"] == {}

    r = await emulator.request("PUT", "/_cluster/settings", body("connector_access_control"))
    assert r.body == {
        "acknowledged": True,
        "persistent": {"plugins": {"ml_commons": {"connector_access_control_enabled": "true"}}},
        "transient": {},
    }
    r = await emulator.request("PUT", "/_cluster/settings", body("only_run_on_ml_node"))
    assert r.body["persistent"] == {"plugins": {"ml_commons": {"only_run_on_ml_node": "true"}}}


async def test_standalone_openai_chat_connector_end_to_end(emulator):
    await emulator.request("PUT", "/_cluster/settings", body("trusted_endpoints"))
    r = await emulator.request("POST", "/_plugins/_ml/connectors/_create", body("openai_chat_connector"))
    assert r.status == 200, r.body
    connector_id = r.body["connector_id"]
    assert ID.match(connector_id)
    assert set(r.body) == {"connector_id"}

    r = await emulator.request("POST", "/_plugins/_ml/model_groups/_register", body("model_group"))
    assert r.status == 200
    assert r.body["status"] == "CREATED"
    group_id = r.body["model_group_id"]

    r = await emulator.request("POST", "/_plugins/_ml/models/_register",
                               body("register_model", model_group_id=group_id, connector_id=connector_id))
    assert r.status == 200, r.body
    assert r.body["status"] == "CREATED"
    task_id, model_id = r.body["task_id"], r.body["model_id"]
    assert ID.match(task_id) and ID.match(model_id)

    r = await emulator.request("GET", f"/_plugins/_ml/tasks/{task_id}")
    assert r.status == 200
    task = r.body
    assert task["model_id"] == model_id
    assert task["task_type"] == "REGISTER_MODEL"
    assert task["function_name"] == "REMOTE"
    assert task["state"] == "COMPLETED"
    assert task["is_async"] is False
    coordinator = emulator.context.cluster.coordinator.node_id
    assert task["worker_node"] == [coordinator]
    assert NODE_ID.match(coordinator)
    assert isinstance(task["create_time"], int) and task["create_time"] > 1_600_000_000_000
    assert task["last_update_time"] >= task["create_time"]
    assert "task_id" not in task

    r = await emulator.request("POST", f"/_plugins/_ml/models/{model_id}/_deploy")
    assert r.status == 200
    assert r.body["status"] == "COMPLETED" and r.body["task_type"] == "DEPLOY_MODEL"
    deploy_task_id = r.body["task_id"]

    r = await emulator.request("GET", f"/_plugins/_ml/tasks/{deploy_task_id}")
    assert r.body["task_type"] == "DEPLOY_MODEL"
    assert r.body["state"] == "COMPLETED"
    assert r.body["is_async"] is True
    assert r.body["worker_node"] == [coordinator]
    assert r.body["model_id"] == model_id

    r = await emulator.request("GET", f"/_plugins/_ml/models/{model_id}")
    model = r.body
    assert model["model_state"] == "DEPLOYED"
    assert model["algorithm"] == "REMOTE"
    assert model["model_version"] == "1"
    assert model["connector_id"] == connector_id
    assert model["planning_worker_nodes"] == [coordinator]
    assert model["current_worker_node_count"] == 1
    assert "model_id" not in model

    r = await emulator.request("POST", f"/_plugins/_ml/models/{model_id}/_predict", body("predict_messages"))
    assert r.status == 200, r.body
    [result] = r.body["inference_results"]
    assert result["status_code"] == 200
    [tensor] = result["output"]
    assert tensor["name"] == "response"
    data = tensor["dataAsMap"]
    assert data["object"] == "chat.completion"
    assert data["choices"][0]["message"]["role"] == "assistant"
    assert data["choices"][0]["finish_reason"] == "stop"
    assert data["usage"]["total_tokens"] == data["usage"]["prompt_tokens"] + data["usage"]["completion_tokens"]

    # the fake saw the request the connector rendered, with the decrypted key
    sent = emulator.providers["openai"].recorder.last
    assert sent.headers["Authorization"] == "Bearer sk-seed-example-key"
    assert json.loads(sent.body)["messages"][1] == {"role": "user", "content": "Hello!"}

    r = await emulator.request("POST", f"/_plugins/_ml/models/{model_id}/_undeploy")
    assert r.status == 200
    assert r.body == {coordinator: {"stats": {model_id: "undeployed"}}}
    r = await emulator.request("GET", f"/_plugins/_ml/models/{model_id}")
    assert r.body["model_state"] == "UNDEPLOYED"

    r = await emulator.request("DELETE", f"/_plugins/_ml/models/{model_id}")
    assert r.status == 200
    assert r.body["result"] == "deleted" and r.body["_index"] == ".plugins-ml-model"
    r = await emulator.request("DELETE", f"/_plugins/_ml/connectors/{connector_id}")
    assert r.status == 200 and r.body["result"] == "deleted"


async def test_predict_is_deterministic(emulator):
    r = await emulator.request("POST", "/_plugins/_ml/connectors/_create", body("openai_chat_connector"))
    connector_id = r.body["connector_id"]
    r = await emulator.request("POST", "/_plugins/_ml/models/_register", {
        "name": "chat", "function_name": "remote", "connector_id": connector_id})
    model_id = r.body["model_id"]
    first = await emulator.request("POST", f"/_plugins/_ml/models/{model_id}/_predict", body("predict_messages"))
    second = await emulator.request("POST", f"/_plugins/_ml/models/{model_id}/_predict", body("predict_messages"))
    assert first.body == second.body


async def test_internal_connector_keeps_its_credential_secret(emulator):
    r = await emulator.request("POST", "/_plugins/_ml/model_groups/_register", body("model_group"))
    group_id = r.body["model_group_id"]
    r = await emulator.request("POST", "/_plugins/_ml/models/_register",
                               body("register_internal_connector", model_group_id=group_id))
    assert r.status == 200, r.body
    model_id = r.body["model_id"]
    r = await emulator.request("GET", f"/_plugins/_ml/models/{model_id}")
    connector = r.body["connector"]
    assert "credential" not in connector
    assert connector["parameters"] == {
        "endpoint": "api.openai.com", "max_tokens": "7", "temperature": "0", "model": "text-davinci-003"}
    assert connector["actions"][0]["action_type"] == "PREDICT"
    assert "sk-seed-example-key" not in json.dumps(r.body)

    r = await emulator.request("POST", f"/_plugins/_ml/models/{model_id}/_predict",
                               {"parameters": {"prompt": "Say \"hi\""}})
    assert r.status == 200, r.body
    data = r.body["inference_results"][0]["output"][0]["dataAsMap"]
    assert data["object"] == "text_completion"
    sent = json.loads(emulator.providers["openai"].recorder.last.body)
    assert sent == {"model": "text-davinci-003", "prompt": "Say \"hi\"", "max_tokens": 7, "temperature": 0}


async def test_sagemaker_sigv4_connector_is_created(emulator):
    await emulator.request("PUT", "/_cluster/settings", body("trusted_endpoints"))
    r = await emulator.request("POST", "/_plugins/_ml/connectors/_create", body("sagemaker_connector"))
    assert r.status == 200, r.body
    r = await emulator.request("GET", f"/_plugins/_ml/connectors/{r.body['connector_id']}")
    assert r.body["protocol"] == "aws_sigv4"
    assert "credential" not in r.body
    assert r.body["version"] == "1"
    assert r.body["parameters"] == {"region": "us-west-2", "service_name": "sagemaker"}


async def test_model_versions_count_up_inside_a_group(emulator):
    r = await emulator.request("POST", "/_plugins/_ml/connectors/_create", body("openai_chat_connector"))
    connector_id = r.body["connector_id"]
    r = await emulator.request("POST", "/_plugins/_ml/model_groups/_register", body("model_group"))
    group_id = r.body["model_group_id"]
    versions = []
    for _ in range(3):
        r = await emulator.request("POST", "/_plugins/_ml/models/_register",
                                   body("register_model", model_group_id=group_id, connector_id=connector_id))
        versions.append((await emulator.request("GET", f"/_plugins/_ml/models/{r.body['model_id']}")).body["model_version"])
    assert versions == ["1", "2", "3"]
    r = await emulator.request("GET", f"/_plugins/_ml/model_groups/{group_id}")
    assert r.body["latest_version"] == 3
    assert r.body["access"] == "public"
    assert "model_group_id" not in r.body


async def test_register_without_group_creates_one_then_reuses_it(emulator):
    r = await emulator.request("POST", "/_plugins/_ml/connectors/_create", body("openai_chat_connector"))
    connector_id = r.body["connector_id"]
    registered = {"name": "my-model", "function_name": "remote", "connector_id": connector_id}
    first = await emulator.request("POST", "/_plugins/_ml/models/_register", registered)
    second = await emulator.request("POST", "/_plugins/_ml/models/_register", registered)
    m1 = (await emulator.request("GET", f"/_plugins/_ml/models/{first.body['model_id']}")).body
    m2 = (await emulator.request("GET", f"/_plugins/_ml/models/{second.body['model_id']}")).body
    assert m1["model_group_id"] == m2["model_group_id"]
    assert (m1["model_version"], m2["model_version"]) == ("1", "2")
