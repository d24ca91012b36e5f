"""Deploy, undeploy and predict over multi-node clusters, through the REST surface.

References: ml-commons-rest.md §6.7 (deploy, eligible nodes by release), §6.8 (undeploy),
§10.1 (lifecycle), §15.8; ml-commons-semantics.md §7.1, §7.3, §7.5, §7.6; fidelity-notes.md
("Tasks and states", "Deploy plans and nodes").  Every test builds one emulator, so each runs
against a fresh store on SQLite and on PostgreSQL.
"""
from __future__ import annotations

import contextlib
import re
from typing import AsyncIterator

from mlcommons_emu import Emulator
from tests.seed import body
from tests.conftest import store_options

DATA_ONLY = "manager:cluster_manager,d1:data,d2:data"
NODE_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")
ML = "/_plugins/_ml"


@contextlib.asynccontextmanager
async def cluster(database_url: str, nodes: str = DATA_ONLY, version: str = "3.8.0") -> AsyncIterator[Emulator]:
    async with Emulator(database=database_url, **store_options(database_url), nodes=nodes, opensearch_version=version, seed=11) as emu:
        yield emu


def ids(emu: Emulator) -> dict[str, str]:
    """Node name -> node id."""
    return {r.node.name: r.node_id for r in emu.context.cluster.nodes}


def serving(emu: Emulator, model_id: str) -> set[str]:
    return {r.node.name for r in emu.context.cluster.serving(model_id)}


def assert_error(r, status: int, type_: str, reason: str) -> None:
    assert r.status == status, r.body
    assert r.body["status"] == status
    assert r.body["error"]["type"] == type_
    assert r.body["error"]["reason"] == reason
    assert r.body["error"]["root_cause"][0] == {"type": type_, "reason": reason}


async def put_setting(emu: Emulator, key: str, value) -> None:
    r = await emu.request("PUT", "/_cluster/settings", {"persistent": {f"plugins.ml_commons.{key}": value}})
    assert r.status == 200, r.body


async def remote_model(emu: Emulator) -> str:
    r = await emu.request("POST", f"{ML}/connectors/_create", body("openai_chat_connector"))
    assert r.status == 200, r.body
    r = await emu.request("POST", f"{ML}/models/_register",
                          {"name": "chat", "function_name": "remote", "connector_id": r.body["connector_id"]})
    assert r.status == 200, r.body
    if "model_id" in r.body:
        return r.body["model_id"]
    task = await emu.request("GET", f"{ML}/tasks/{r.body['task_id']}")  # 2.9-2.10 answer before the model
    return task.body["model_id"]


async def get_model(emu: Emulator, model_id: str) -> dict:
    r = await emu.request("GET", f"{ML}/models/{model_id}")
    assert r.status == 200, r.body
    return r.body


async def get_task(emu: Emulator, task_id: str) -> dict:
    r = await emu.request("GET", f"{ML}/tasks/{task_id}")
    assert r.status == 200, r.body
    return r.body


async def deploy(emu: Emulator, model_id: str, payload=None) -> dict:
    r = await emu.request("POST", f"{ML}/models/{model_id}/_deploy", payload)
    assert r.status == 200, r.body
    return r.body


async def predict(emu: Emulator, model_id: str):
    return await emu.request("POST", f"{ML}/models/{model_id}/_predict", body("predict_messages"))


# -- 2.9: only_run_on_ml_node decides on a cluster without ml nodes ------------------------------

async def test_2_9_data_only_cluster_refuses_deploy_while_only_run_on_ml_node_is_true(database_url):
    async with cluster(database_url, version="2.9.0") as emu:
        model_id = await remote_model(emu)
        r = await emu.request("POST", f"{ML}/models/{model_id}/_deploy")
        assert_error(r, 400, "illegal_argument_exception", "no eligible node found")
        assert (await get_model(emu, model_id))["model_state"] == "REGISTERED"
        assert serving(emu, model_id) == set()


async def test_2_9_data_only_cluster_deploys_to_data_nodes_once_only_run_on_ml_node_is_false(database_url):
    async with cluster(database_url, version="2.9.0") as emu:
        model_id = await remote_model(emu)
        await put_setting(emu, "only_run_on_ml_node", False)
        answer = await deploy(emu, model_id)
        assert set(answer) == {"task_id", "status"} and answer["status"] == "CREATED"
        node = ids(emu)
        task = await get_task(emu, answer["task_id"])
        assert task["state"] == "COMPLETED"
        assert sorted(task["worker_node"]) == sorted([node["d1"], node["d2"]])
        model = await get_model(emu, model_id)
        assert model["model_state"] == "DEPLOYED"
        assert sorted(model["planning_worker_nodes"]) == sorted([node["d1"], node["d2"]])
        assert model["current_worker_node_count"] == 2
        assert serving(emu, model_id) == {"d1", "d2"}
        assert (await predict(emu, model_id)).status == 200


async def test_2_9_prefers_ml_nodes_over_data_nodes(database_url):
    async with cluster(database_url, nodes="manager:cluster_manager,d1:data,m1:ml", version="2.9.0") as emu:
        model_id = await remote_model(emu)
        await put_setting(emu, "only_run_on_ml_node", False)
        task = await get_task(emu, (await deploy(emu, model_id))["task_id"])
        assert task["worker_node"] == [ids(emu)["m1"]]
        assert serving(emu, model_id) == {"m1"}


async def test_2_9_global_undeploy_without_model_ids_undeploys_everything_deployed(database_url):
    # 2.9 sends no model ids to the nodes: each reports only what it held; nodes with nothing
    # to report are left out of the answer (ml-commons-rest.md §6.8)
    async with cluster(database_url, version="2.9.0") as emu:
        model_id = await remote_model(emu)
        await put_setting(emu, "only_run_on_ml_node", False)
        await deploy(emu, model_id)
        node = ids(emu)
        r = await emu.request("POST", f"{ML}/models/_undeploy")
        assert r.status == 200, r.body
        assert r.body == {node["d1"]: {"stats": {model_id: "undeployed"}},
                          node["d2"]: {"stats": {model_id: "undeployed"}}}
        assert (await get_model(emu, model_id))["model_state"] == "UNDEPLOYED"
        assert serving(emu, model_id) == set()


# -- 3.8: node roles decide; only_run_on_ml_node does not apply to remote models ----------------

async def test_3_8_data_only_cluster_deploys_to_both_data_nodes(database_url):
    async with cluster(database_url) as emu:
        model_id = await remote_model(emu)
        answer = await deploy(emu, model_id)  # only_run_on_ml_node is still its default, true
        assert answer == {"task_id": answer["task_id"], "task_type": "DEPLOY_MODEL", "status": "COMPLETED"}
        node = ids(emu)
        data_nodes = sorted([node["d1"], node["d2"]])
        task = await get_task(emu, answer["task_id"])
        assert task["state"] == "COMPLETED" and task["task_type"] == "DEPLOY_MODEL"
        assert task["is_async"] is True and task["model_id"] == model_id
        assert all(NODE_ID.match(n) for n in task["worker_node"])
        assert sorted(task["worker_node"]) == data_nodes
        model = await get_model(emu, model_id)
        assert model["model_state"] == "DEPLOYED"
        assert sorted(model["planning_worker_nodes"]) == data_nodes
        assert model["planning_worker_node_count"] == 2
        assert model["current_worker_node_count"] == 2
        assert model["deploy_to_all_nodes"] is True
        assert serving(emu, model_id) == {"d1", "d2"}


async def test_dedicated_cluster_manager_is_never_a_worker(database_url):
    async with cluster(database_url) as emu:
        model_id = await remote_model(emu)
        manager = ids(emu)["manager"]
        task = await get_task(emu, (await deploy(emu, model_id))["task_id"])
        assert manager not in task["worker_node"]
        assert manager not in (await get_model(emu, model_id))["planning_worker_nodes"]
        assert "manager" not in serving(emu, model_id)


async def test_cluster_of_only_a_cluster_manager_has_no_eligible_node(database_url):
    async with cluster(database_url, nodes="manager:cluster_manager") as emu:
        model_id = await remote_model(emu)
        r = await emu.request("POST", f"{ML}/models/{model_id}/_deploy")
        assert_error(r, 400, "illegal_argument_exception", "no eligible node found")
        assert (await get_model(emu, model_id))["model_state"] == "REGISTERED"


async def test_predict_alternates_between_the_data_nodes_round_robin(database_url, monkeypatch):
    async with cluster(database_url) as emu:
        model_id = await remote_model(emu)
        await deploy(emu, model_id)
        chosen: list[str] = []
        pick = emu.context.cluster.pick

        def spy(candidates):
            runtime = pick(candidates)
            chosen.append(runtime.node.name)
            return runtime

        monkeypatch.setattr(emu.context.cluster, "pick", spy)
        for _ in range(6):
            r = await predict(emu, model_id)
            assert r.status == 200, r.body
        assert set(chosen) == {"d1", "d2"}
        assert all(a != b for a, b in zip(chosen, chosen[1:]))  # never the same node twice in a row


async def test_3_8_ml_and_data_nodes_are_both_eligible(database_url):
    async with cluster(database_url, nodes="manager:cluster_manager,d1:data,m1:ml") as emu:
        model_id = await remote_model(emu)
        node = ids(emu)
        task = await get_task(emu, (await deploy(emu, model_id))["task_id"])
        assert sorted(task["worker_node"]) == sorted([node["d1"], node["m1"]])
        assert serving(emu, model_id) == {"d1", "m1"}


async def test_3_8_eligible_node_role_setting_limits_remote_models_to_ml_nodes(database_url):
    async with cluster(database_url, nodes="manager:cluster_manager,d1:data,m1:ml") as emu:
        model_id = await remote_model(emu)
        await put_setting(emu, "task_dispatcher.eligible_node_role.remote_model", ["ml"])
        task = await get_task(emu, (await deploy(emu, model_id))["task_id"])
        assert task["worker_node"] == [ids(emu)["m1"]]
        assert serving(emu, model_id) == {"m1"}


async def test_excluded_node_names_get_no_deployment(database_url):
    async with cluster(database_url) as emu:
        model_id = await remote_model(emu)
        await put_setting(emu, "exclude_nodes._name", "d2")
        task = await get_task(emu, (await deploy(emu, model_id))["task_id"])
        assert task["worker_node"] == [ids(emu)["d1"]]
        assert serving(emu, model_id) == {"d1"}


# -- custom deployment plans ---------------------------------------------------------------------

async def test_node_ids_in_deploy_are_refused_without_allow_custom_deployment_plan(database_url):
    async with cluster(database_url) as emu:
        model_id = await remote_model(emu)
        r = await emu.request("POST", f"{ML}/models/{model_id}/_deploy", {"node_ids": [ids(emu)["d1"]]})
        assert_error(r, 400, "illegal_argument_exception", "Don't allow custom deployment plan")
        assert (await get_model(emu, model_id))["model_state"] == "REGISTERED"
        assert serving(emu, model_id) == set()


async def test_custom_plan_deploys_only_to_the_named_node(database_url):
    async with cluster(database_url) as emu:
        model_id = await remote_model(emu)
        await put_setting(emu, "allow_custom_deployment_plan", True)
        d1 = ids(emu)["d1"]
        answer = await deploy(emu, model_id, {"node_ids": [d1]})
        task = await get_task(emu, answer["task_id"])
        assert task["state"] == "COMPLETED" and task["worker_node"] == [d1]
        model = await get_model(emu, model_id)
        assert model["model_state"] == "DEPLOYED"
        assert model["planning_worker_nodes"] == [d1]
        assert model["planning_worker_node_count"] == 1
        assert model["current_worker_node_count"] == 1
        assert "deploy_to_all_nodes" not in model
        assert serving(emu, model_id) == {"d1"}


async def test_node_ids_in_undeploy_are_refused_without_allow_custom_deployment_plan(database_url):
    async with cluster(database_url) as emu:
        model_id = await remote_model(emu)
        await deploy(emu, model_id)
        r = await emu.request("POST", f"{ML}/models/{model_id}/_undeploy", {"node_ids": [ids(emu)["d1"]]})
        assert_error(r, 400, "illegal_argument_exception", "Don't allow custom deployment plan")
        assert serving(emu, model_id) == {"d1", "d2"}


# -- undeploy ------------------------------------------------------------------------------------

async def test_undeploy_answers_per_node_and_empties_the_plan(database_url):
    async with cluster(database_url) as emu:
        model_id = await remote_model(emu)
        await deploy(emu, model_id)
        before = await get_model(emu, model_id)
        node = ids(emu)
        r = await emu.request("POST", f"{ML}/models/{model_id}/_undeploy")
        assert r.status == 200, r.body
        # every node of the cluster is asked; the ones that held the model say so
        assert r.body == {node["d1"]: {"stats": {model_id: "undeployed"}},
                          node["d2"]: {"stats": {model_id: "undeployed"}},
                          node["manager"]: {"stats": {model_id: "not_found"}}}
        model = await get_model(emu, model_id)
        assert model["model_state"] == "UNDEPLOYED"
        assert "planning_worker_nodes" not in model  # an empty list is not rendered
        assert model["planning_worker_node_count"] == 0
        assert model["current_worker_node_count"] == 0
        assert model["deploy_to_all_nodes"] is True  # keeps its previous value
        assert model["last_updated_time"] == before["last_updated_time"]  # not touched
        assert serving(emu, model_id) == set()


async def test_undeploy_twice_answers_not_found_everywhere(database_url):
    async with cluster(database_url) as emu:
        model_id = await remote_model(emu)
        await deploy(emu, model_id)
        await emu.request("POST", f"{ML}/models/{model_id}/_undeploy")
        r = await emu.request("POST", f"{ML}/models/{model_id}/_undeploy")
        assert r.status == 200, r.body
        assert r.body == {node_id: {"stats": {model_id: "not_found"}} for node_id in ids(emu).values()}
        assert (await get_model(emu, model_id))["model_state"] == "UNDEPLOYED"


async def test_redeploy_after_undeploy_works(database_url):
    async with cluster(database_url) as emu:
        model_id = await remote_model(emu)
        first = await deploy(emu, model_id)
        await emu.request("POST", f"{ML}/models/{model_id}/_undeploy")
        second = await deploy(emu, model_id)
        assert second["task_id"] != first["task_id"]
        assert (await get_task(emu, second["task_id"]))["state"] == "COMPLETED"
        model = await get_model(emu, model_id)
        assert model["model_state"] == "DEPLOYED" and model["current_worker_node_count"] == 2
        assert serving(emu, model_id) == {"d1", "d2"}
        assert (await predict(emu, model_id)).status == 200


async def test_deploying_an_already_deployed_model_gives_a_new_completed_task(database_url):
    async with cluster(database_url) as emu:
        model_id = await remote_model(emu)
        first = await deploy(emu, model_id)
        again = await deploy(emu, model_id)
        assert again["task_id"] != first["task_id"]
        assert again["status"] == "COMPLETED"
        task = await get_task(emu, again["task_id"])
        assert task["state"] == "COMPLETED" and task["task_type"] == "DEPLOY_MODEL"
        assert (await get_task(emu, first["task_id"]))["state"] == "COMPLETED"
        model = await get_model(emu, model_id)
        assert model["model_state"] == "DEPLOYED" and model["current_worker_node_count"] == 2
        assert (await predict(emu, model_id)).status == 200


async def test_global_undeploy_with_model_ids(database_url):
    async with cluster(database_url) as emu:
        first, second = await remote_model(emu), await remote_model(emu)
        await deploy(emu, first)
        await deploy(emu, second)
        node = ids(emu)
        r = await emu.request("POST", f"{ML}/models/_undeploy", {"model_ids": [first, second]})
        assert r.status == 200, r.body
        both = {first: "undeployed", second: "undeployed"}
        assert r.body[node["d1"]] == {"stats": both}
        assert r.body[node["d2"]] == {"stats": both}
        for model_id in (first, second):
            assert (await get_model(emu, model_id))["model_state"] == "UNDEPLOYED"
            assert serving(emu, model_id) == set()


async def test_global_undeploy_with_some_model_ids_leaves_the_others_deployed(database_url):
    async with cluster(database_url) as emu:
        first, second = await remote_model(emu), await remote_model(emu)
        await deploy(emu, first)
        await deploy(emu, second)
        r = await emu.request("POST", f"{ML}/models/_undeploy", {"model_ids": [first]})
        assert r.status == 200, r.body
        assert all(set(answer["stats"]) == {first} for answer in r.body.values())
        assert (await get_model(emu, second))["model_state"] == "DEPLOYED"
        assert serving(emu, second) == {"d1", "d2"}


async def test_global_undeploy_without_model_ids_is_refused_in_3_8(database_url):
    async with cluster(database_url) as emu:
        model_id = await remote_model(emu)
        await deploy(emu, model_id)
        for payload in (None, {}, {"model_ids": []}):
            r = await emu.request("POST", f"{ML}/models/_undeploy", payload)
            assert_error(r, 400, "illegal_argument_exception", "Must set specific model ids to undeploy")
        assert (await get_model(emu, model_id))["model_state"] == "DEPLOYED"
        assert serving(emu, model_id) == {"d1", "d2"}


# -- switching only_run_on_ml_node on -------------------------------------------------------------

async def test_switching_only_run_on_ml_node_on_undeploys_from_data_nodes(database_url):
    async with cluster(database_url) as emu:
        model_id = await remote_model(emu)
        await put_setting(emu, "only_run_on_ml_node", False)
        await deploy(emu, model_id)
        await put_setting(emu, "only_run_on_ml_node", True)
        model = await get_model(emu, model_id)
        assert model["model_state"] == "UNDEPLOYED"
        assert model["planning_worker_node_count"] == 0
        assert model["current_worker_node_count"] == 0
        assert serving(emu, model_id) == set()


async def test_switching_only_run_on_ml_node_on_also_clears_data_plus_ml_nodes(database_url):
    async with cluster(database_url, nodes="manager:cluster_manager,dm:data+ml,m1:ml") as emu:
        model_id = await remote_model(emu)
        await put_setting(emu, "only_run_on_ml_node", False)
        await deploy(emu, model_id)
        assert serving(emu, model_id) == {"dm", "m1"}
        await put_setting(emu, "only_run_on_ml_node", True)
        assert serving(emu, model_id) == {"m1"}
        model = await get_model(emu, model_id)
        assert model["model_state"] == "DEPLOYED"  # undeployed from some nodes: state unchanged
        assert model["planning_worker_nodes"] == [ids(emu)["m1"]]
        assert model["planning_worker_node_count"] == 1
        assert model["current_worker_node_count"] == 1
        assert "deploy_to_all_nodes" not in model  # becomes false


async def test_setting_only_run_on_ml_node_to_true_again_changes_nothing(database_url):
    async with cluster(database_url) as emu:
        model_id = await remote_model(emu)
        await deploy(emu, model_id)  # deployed on the data nodes while the setting is true
        await put_setting(emu, "only_run_on_ml_node", True)
        assert (await get_model(emu, model_id))["model_state"] == "DEPLOYED"
        assert serving(emu, model_id) == {"d1", "d2"}


async def test_a_settings_update_with_no_settings_is_refused(emulator):
    for body in ({}, {"persistent": {}}, {"persistent": {}, "transient": {}}):
        r = await emulator.request("PUT", "/_cluster/settings", body)
        assert r.status == 400
        assert r.body["error"]["type"] == "action_request_validation_exception"
        assert r.body["error"]["reason"] == "Validation Failed: 1: no settings to update;"
