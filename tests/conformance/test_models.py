"""Remote model lifecycle details beyond the seed: register options, deploy, undeploy, delete, tasks."""
from __future__ import annotations

from tests.conformance.test_errors import assert_error
from tests.seed import body


async def connector(emu) -> str:
    r = await emu.request("POST", "/_plugins/_ml/connectors/_create", body("openai_chat_connector"))
    return r.body["connector_id"]


async def register(emu, query: str = "", **extra) -> dict:
    r = await emu.request("POST", f"/_plugins/_ml/models/_register{query}",
                          {"name": "m", "function_name": "remote", "connector_id": await connector(emu), **extra})
    assert r.status == 200, r.body
    return r.body


async def test_register_with_deploy_true_deploys(emulator):
    registered = await register(emulator, "?deploy=true")
    r = await emulator.request("GET", f"/_plugins/_ml/models/{registered['model_id']}")
    assert r.body["model_state"] == "DEPLOYED"
    assert emulator.context.cluster.serving(registered["model_id"])


async def test_registered_model_document(emulator):
    registered = await register(emulator, description="about")
    r = await emulator.request("GET", f"/_plugins/_ml/models/{registered['model_id']}")
    model = r.body
    assert model["model_state"] == "REGISTERED"
    assert model["created_time"] == model["last_updated_time"]
    assert model["is_hidden"] is False
    for absent in ("last_deployed_time", "planning_worker_nodes", "deploy_to_all_nodes", "model_id", "interface"):
        assert absent not in model


async def test_model_level_auto_deploy_switched_off(emulator):
    registered = await register(emulator, deploy_setting={"is_auto_deploy_enabled": False})
    model_id = registered["model_id"]
    r = await emulator.request("POST", f"/_plugins/_ml/models/{model_id}/_predict", body("predict_messages"))
    assert_error(r, 400, "illegal_argument_exception",
                 f"Auto deployment disabled for this model, please deploy model first Model ID: {model_id}")
    await emulator.request("POST", f"/_plugins/_ml/models/{model_id}/_deploy")
    r = await emulator.request("POST", f"/_plugins/_ml/models/{model_id}/_predict", body("predict_messages"))
    assert r.status == 200


async def test_disabled_model_refuses_predict(emulator):
    registered = await register(emulator, is_enabled=False)
    r = await emulator.request("POST", f"/_plugins/_ml/models/{registered['model_id']}/_predict",
                               body("predict_messages"))
    assert_error(r, 403, "status_exception", "Model is disabled.")


async def test_deploy_unknown_model(emulator):
    await register(emulator)
    r = await emulator.request("POST", "/_plugins/_ml/models/AAAAAAAAAAAAAAAAAAAA/_deploy")
    assert_error(r, 404, "status_exception", "Failed to find model")


async def test_undeploy_unknown_model(emulator):
    await register(emulator)
    r = await emulator.request("POST", "/_plugins/_ml/models/AAAAAAAAAAAAAAAAAAAA/_undeploy")
    assert_error(r, 404, "status_exception", "Failed to find model")


async def test_undeploy_of_a_registered_model_marks_it_undeployed(emulator):
    model_id = (await register(emulator))["model_id"]
    r = await emulator.request("POST", f"/_plugins/_ml/models/{model_id}/_undeploy")
    node = emulator.context.cluster.coordinator.node_id
    assert r.body == {node: {"stats": {model_id: "not_found"}}}
    r = await emulator.request("GET", f"/_plugins/_ml/models/{model_id}")
    assert r.body["model_state"] == "UNDEPLOYED"


async def test_delete_unknown_model(emulator):
    await register(emulator)
    r = await emulator.request("DELETE", "/_plugins/_ml/models/AAAAAAAAAAAAAAAAAAAA")
    assert_error(r, 404, "status_exception", "Failed to find model")


async def test_deleting_a_model_keeps_the_group_and_its_version(emulator):
    registered = await register(emulator)
    model = (await emulator.request("GET", f"/_plugins/_ml/models/{registered['model_id']}")).body
    r = await emulator.request("DELETE", f"/_plugins/_ml/models/{registered['model_id']}")
    assert r.status == 200 and r.body["result"] == "deleted"
    group = (await emulator.request("GET", f"/_plugins/_ml/model_groups/{model['model_group_id']}")).body
    assert group["latest_version"] == 1


async def test_register_into_unknown_group_fails_the_task(emulator):
    await emulator.request("POST", "/_plugins/_ml/model_groups/_register", {"name": "exists"})
    r = await emulator.request("POST", "/_plugins/_ml/models/_register", {
        "name": "m", "function_name": "remote", "model_group_id": "AAAAAAAAAAAAAAAAAAAA",
        "connector_id": await connector(emulator)})
    assert_error(r, 500, "m_l_resource_not_found_exception",
                 "Model Group Response is empty for AAAAAAAAAAAAAAAAAAAA")
    async with emulator.context.transaction() as repos:
        tasks = await repos.tasks.find()
        models = await repos.models.find()
    assert [t.state.value for t in tasks] == ["FAILED"]
    assert tasks[0].error == "Model Group Response is empty for AAAAAAAAAAAAAAAAAAAA"
    assert models == []


async def test_tasks_can_be_deleted(emulator):
    registered = await register(emulator)
    r = await emulator.request("DELETE", f"/_plugins/_ml/tasks/{registered['task_id']}")
    assert r.status == 200 and r.body["result"] == "deleted" and r.body["_index"] == ".plugins-ml-task"
    r = await emulator.request("GET", f"/_plugins/_ml/tasks/{registered['task_id']}")
    assert_error(r, 404, "status_exception", "Failed to find task")
    r = await emulator.request("DELETE", f"/_plugins/_ml/tasks/{registered['task_id']}")
    assert_error(r, 404, "status_exception", "Failed to find task")


async def test_deprecated_aliases_warn(emulator):
    model_id = (await register(emulator))["model_id"]
    r = await emulator.request("POST", f"/_plugins/_ml/models/{model_id}/_load")
    assert r.status == 200
    assert r.headers["Warning"] == (
        '299 OpenSearch-3.8.0-mlcommons-emu "[POST /_plugins/_ml/models/{model_id}/_load] is deprecated! '
        'Use [POST /_plugins/_ml/models/{model_id}/_deploy] instead."')
    r = await emulator.request("POST", f"/_plugins/_ml/models/{model_id}/_unload")
    assert r.status == 200
    assert "[POST /_plugins/_ml/models/{model_id}/_undeploy] instead." in r.headers["Warning"]
    # the warning is given before the handler runs: an error carries it too
    r = await emulator.request("POST", "/_plugins/_ml/models/AAAAAAAAAAAAAAAAAAAA/_load")
    assert r.status == 404 and "is deprecated!" in r.headers["Warning"]
    r = await emulator.request("POST", "/_plugins/_ml/models/meta", {"name": "local"})
    assert (r.status, r.body["error"]["reason"]) == (400, (
        "To upload custom model from local file, user needs to enable allow_registering_model_via_local_file "
        "settings. Otherwise please use opensearch pre-trained models"))
    assert "Use [POST /_plugins/_ml/models/_register_meta] instead." in r.headers["Warning"]


async def test_remote_inference_switched_off(emulator):
    model_id = (await register(emulator))["model_id"]
    await emulator.request("PUT", "/_cluster/settings",
                           {"transient": {"plugins.ml_commons.remote_inference.enabled": False}})
    reason = ('Remote Inference is currently disabled. To enable it, update the setting '
              '"plugins.ml_commons.remote_inference_enabled" to true.')
    r = await emulator.request("POST", "/_plugins/_ml/connectors/_create", body("openai_chat_connector"))
    assert_error(r, 400, "status_exception", reason)
    r = await emulator.request("POST", f"/_plugins/_ml/models/{model_id}/_predict", body("predict_messages"))
    assert_error(r, 400, "status_exception", reason)


async def test_2_9_deploy_with_auto_redeploy_on(database_url):
    """2.9 defines model_auto_redeploy_success_ratio without registering it: the deploy
    still settles, with the setting's default deciding the retry reset."""
    from mlcommons_emu import Emulator
    from tests.conftest import store_options

    async with Emulator(database=database_url, **store_options(database_url), opensearch_version="2.9.0") as emu:
        r = await emu.request("PUT", "/_cluster/settings", {"persistent": {
            "plugins.ml_commons.model_auto_redeploy.enable": True, "plugins.ml_commons.only_run_on_ml_node": False}})
        assert r.status == 200, r.body
        connector_id = await connector(emu)
        r = await emu.request("POST", "/_plugins/_ml/model_groups/_register", {"name": "g"})
        r = await emu.request("POST", "/_plugins/_ml/models/_register", {
            "name": "m", "function_name": "remote", "connector_id": connector_id,
            "model_group_id": r.body["model_group_id"]})
        model_id = (await emu.request("GET", f"/_plugins/_ml/tasks/{r.body['task_id']}")).body["model_id"]
        r = await emu.request("POST", f"/_plugins/_ml/models/{model_id}/_deploy")
        task = (await emu.request("GET", f"/_plugins/_ml/tasks/{r.body['task_id']}")).body
        assert task["state"] == "COMPLETED", task
        model = (await emu.request("GET", f"/_plugins/_ml/models/{model_id}")).body
        assert (model["model_state"], model["auto_redeploy_retry_times"]) == ("DEPLOYED", 0)
