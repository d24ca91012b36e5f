"""``/profile``, ``/stats`` and ``/controllers`` (2.12+), and rate limiting on predict, in process.

What is pinned here comes from the plugin source at the release tags (RestMLProfileAction,
MLProfileTransportAction, MLModelCacheHelper, RestMLStatsAction, MLStatsNodesTransportAction,
MLStatsNodeResponse, MLModelManager, MLPredictTaskRunner, the controller REST and transport
actions, MLController, MLRateLimiter, RemoteConnectorExecutor); the module docstrings of
``mlcommons_emu.services.profile``, ``.stats`` and ``.controllers`` say which class each
behaviour comes from.  Every 2xx body is validated against the vendored OpenAPI spec, every
error body against its error envelope.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any, AsyncIterator

import pytest

from mlcommons_emu import Emulator
from mlcommons_emu.services import deployment
from tests.conformance.spec_support import spec
from tests.conftest import fresh_store, store_options
from tests.seed import body

ML = "/_plugins/_ml"
UNKNOWN = "AAAAAAAAAAAAAAAAAAAA"
USERS_FILE = Path(__file__).resolve().parents[2] / "fixtures" / "security" / "users.json"
PROMPT = body("predict_messages")
THROTTLED_MODEL = "Request is throttled at model level."
THROTTLED_USER = ("Request is throttled at user level. If you think there's an issue, please contact your "
                  "cluster admin.")


@contextlib.asynccontextmanager
async def release(database_url: str, version: str, **config: Any) -> AsyncIterator[Emulator]:
    """A fresh cluster of ``version`` (a new, empty store each time)."""
    await fresh_store(database_url)
    async with Emulator(database=database_url, **store_options(database_url), opensearch_version=version,
                        seed=11, **config) as emu:
        yield emu


async def call(emu: Any, method: str, path: str, payload: Any = None, *, status: int = 200) -> Any:
    """One call, its status checked and its body validated against the spec."""
    r = await emu.request(method, path, payload)
    assert r.status == status, f"{method} {path}: {r.status} {r.body}"
    if r.status < 400:
        spec().validate_response(method, path, r)
    else:
        spec().validate_error(method, path, r)
    return r


def error(r: Any) -> tuple[int, str, str]:
    return r.status, r.body["error"]["type"], r.body["error"]["reason"]


async def model(emu: Any, **fields: Any) -> str:
    r = await emu.request("POST", f"{ML}/connectors/_create", body("openai_chat_connector"))
    assert r.status == 200, r.body
    payload = {"name": fields.pop("name", "m"), "function_name": "remote", "connector_id": r.body["connector_id"],
               **fields}
    r = await emu.request("POST", f"{ML}/models/_register", payload)
    assert r.status == 200, r.body
    if "model_id" in r.body:
        return r.body["model_id"]
    task = await emu.request("GET", f"{ML}/tasks/{r.body['task_id']}")
    return task.body["model_id"]


async def deploy(emu: Any, model_id: str, payload: Any = None) -> None:
    r = await emu.request("POST", f"{ML}/models/{model_id}/_deploy", payload)
    assert r.status == 200, r.body
    state = (await emu.request("GET", f"{ML}/models/{model_id}")).body["model_state"]
    assert state == "DEPLOYED", state


async def predict(emu: Any, model_id: str) -> Any:
    return await emu.request("POST", f"{ML}/models/{model_id}/_predict", PROMPT)


def node_id(emu: Any, index: int = 0) -> str:
    return emu.context.cluster.nodes[index].node_id


# ========================================================================= GET /stats
class TestStats:
    async def test_fresh_cluster_3_8(self, database_url):
        async with release(database_url, "3.8.0") as emu:
            r = await call(emu, "GET", f"{ML}/stats")
            nid = node_id(emu)
            # the config index holds the master key from the start (MLSyncUpCron.initMLConfig)
            assert r.body == {
                "ml_model_index_status": "non-existent", "ml_connector_index_status": "non-existent",
                "ml_config_index_status": "green", "ml_task_index_status": "non-existent",
                "ml_controller_index_status": "non-existent", "ml_model_count": 0, "ml_connector_count": 0,
                "nodes": {nid: {"ml_jvm_heap_usage": 25, "ml_executing_task_count": 0, "ml_request_count": 0,
                                "ml_failure_count": 0, "ml_deployed_model_count": 0,
                                "ml_circuit_breaker_trigger_count": 0, "algorithms": {}, "models": {}}}}

    async def test_fresh_cluster_2_9_has_the_old_names_and_no_models(self, database_url):
        async with release(database_url, "2.9.0") as emu:
            r = await call(emu, "GET", f"{ML}/stats")
            assert list(r.body) == ["ml_model_index_status", "ml_task_index_status", "ml_model_count", "nodes"]
            assert r.body["nodes"][node_id(emu)] == {
                "ml_node_jvm_heap_usage": 25, "ml_node_executing_task_count": 0, "ml_node_total_request_count": 0,
                "ml_node_total_failure_count": 0, "ml_node_total_model_count": 0,
                "ml_node_total_circuit_breaker_trigger_count": 0, "algorithms": {}}

    @pytest.mark.parametrize("version, cluster", [
        ("2.10.0", ["ml_model_index_status", "ml_connector_index_status", "ml_config_index_status",
                    "ml_task_index_status", "ml_model_count", "ml_connector_count"]),
        ("2.12.0", ["ml_model_index_status", "ml_connector_index_status", "ml_config_index_status",
                    "ml_task_index_status", "ml_controller_index_status", "ml_model_count", "ml_connector_count"]),
    ])
    async def test_cluster_stat_names_by_release(self, database_url, version, cluster):
        async with release(database_url, version) as emu:
            r = await call(emu, "GET", f"{ML}/stats")
            assert [k for k in r.body if k != "nodes"] == cluster
            entry = r.body["nodes"][node_id(emu)]
            assert "ml_request_count" in entry and "ml_node_total_request_count" not in entry
            assert ("models" in entry) is (version != "2.10.0")

    async def test_the_whole_lifecycle_is_counted_3_8(self, database_url):
        async with release(database_url, "3.8.0") as emu:
            mid = await model(emu)
            await deploy(emu, mid)
            for _ in range(3):
                assert (await predict(emu, mid)).status == 200
            r = await call(emu, "POST", f"{ML}/models/{mid}/_undeploy")
            stats = (await call(emu, "GET", f"{ML}/stats")).body
            assert (stats["ml_model_index_status"], stats["ml_model_count"], stats["ml_connector_count"]) == (
                "green", 1, 1)
            node = stats["nodes"][node_id(emu)]
            # register 1 + deploy 1 + predict 3 + undeploy 1
            assert (node["ml_request_count"], node["ml_failure_count"], node["ml_deployed_model_count"],
                    node["ml_executing_task_count"]) == (6, 0, 0, 0)
            assert node["algorithms"] == {"remote": {
                "register": {"ml_action_request_count": 1}, "deploy": {"ml_action_request_count": 1},
                "predict": {"ml_action_request_count": 3}, "undeploy": {"ml_action_request_count": 1}}}
            assert node["models"] == {mid: {
                "deploy": {"ml_action_request_count": 1}, "predict": {"ml_action_request_count": 3},
                "undeploy": {"ml_action_request_count": 1}}}

    async def test_2_9_counts_a_remote_register_twice_and_never_lowers_the_executing_count(self, database_url):
        async with release(database_url, "2.9.0") as emu:
            mid = await model(emu)
            await deploy(emu, mid)
            assert (await predict(emu, mid)).status == 200
            node = (await call(emu, "GET", f"{ML}/stats")).body["nodes"][node_id(emu)]
            # registerMLModel + indexRemoteModel both count, and both "finally" blocks increment
            assert node["ml_node_executing_task_count"] == 4
            assert node["ml_node_total_request_count"] == 3  # 2 for the register, 1 predict; deploy none
            assert node["ml_node_total_model_count"] == 1
            assert node["algorithms"]["remote"] == {"register": {"ml_action_request_count": 2},
                                                    "deploy": {"ml_action_request_count": 1},
                                                    "predict": {"ml_action_request_count": 1}}

    async def test_failed_registers(self, database_url):
        """A missing group document is counted (handleException gets an MLValidationException);
        a missing group index is not (MLResourceNotFoundException).  2.9 counts both, with
        no node failure count, and only the successful register reaches indexRemoteModel."""
        unknown_group = {"name": "x", "function_name": "remote", "model_group_id": UNKNOWN}
        async with release(database_url, "3.8.0") as emu:
            r = await emu.request("POST", f"{ML}/connectors/_create", body("openai_chat_connector"))
            payload = {**unknown_group, "connector_id": r.body["connector_id"]}
            assert (await emu.request("POST", f"{ML}/models/_register", payload)).status == 404  # no group index
            await model(emu)
            r = await emu.request("POST", f"{ML}/models/_register", payload)
            assert error(r)[:2] == (500, "m_l_resource_not_found_exception")
            node = (await call(emu, "GET", f"{ML}/stats")).body["nodes"][node_id(emu)]
            assert (node["ml_request_count"], node["ml_failure_count"]) == (3, 1)
            assert node["algorithms"]["remote"]["register"] == {"ml_action_request_count": 3,
                                                                "ml_action_failure_count": 1}
        async with release(database_url, "2.9.0") as emu:
            await model(emu)
            r = await emu.request("POST", f"{ML}/connectors/_create", body("openai_chat_connector"))
            payload = {**unknown_group, "connector_id": r.body["connector_id"]}
            assert (await emu.request("POST", f"{ML}/models/_register", payload)).status == 200  # the task fails
            node = (await call(emu, "GET", f"{ML}/stats")).body["nodes"][node_id(emu)]
            assert (node["ml_node_total_request_count"], node["ml_node_executing_task_count"],
                    node["ml_node_total_failure_count"]) == (3, 6, 0)
            assert node["algorithms"]["remote"]["register"] == {"ml_action_request_count": 3,
                                                                "ml_action_failure_count": 1}

    async def test_deploying_a_deployed_model_counts_the_request_not_the_model(self, database_url):
        async with release(database_url, "3.8.0") as emu:
            mid = await model(emu)
            await deploy(emu, mid)
            await deploy(emu, mid)
            node = (await call(emu, "GET", f"{ML}/stats")).body["nodes"][node_id(emu)]
            assert node["ml_deployed_model_count"] == 1
            assert node["algorithms"]["remote"]["deploy"] == {"ml_action_request_count": 2}
            assert node["models"][mid]["deploy"] == {"ml_action_request_count": 2}

    async def test_one_stat_by_name(self, database_url):
        async with release(database_url, "3.8.0") as emu:
            mid = await model(emu)
            # a node-level stat: only it, plus the always-written algorithms and (2.14+) models
            r = await call(emu, "GET", f"{ML}/stats/ML_Request_Count")
            assert r.body == {"nodes": {node_id(emu): {"ml_request_count": 1, "algorithms": {},
                                                       "models": {}}}}
            # ml_model_count also brings the connector count (both are counted together)
            r = await call(emu, "GET", f"{ML}/stats/ml_model_count")
            assert r.body == {"ml_model_count": 1, "ml_connector_count": 1}
            # asked alone, the connector count is the registered counter, which nothing increments
            r = await call(emu, "GET", f"{ML}/stats/ml_connector_count")
            assert r.body == {"ml_connector_count": 0}
            r = await call(emu, "GET", f"{ML}/stats/ml_task_index_status,ml_deployed_model_count")
            assert r.body == {"ml_task_index_status": "green",
                              "nodes": {node_id(emu): {"ml_deployed_model_count": 0, "algorithms": {},
                                                       "models": {}}}}
            await deploy(emu, mid)
            r = await call(emu, "GET", f"{ML}/stats/ml_deployed_model_count")
            assert r.body["nodes"][node_id(emu)]["models"] == {mid: {"deploy": {"ml_action_request_count": 1}}}

    async def test_2_12_writes_model_stats_only_for_the_model_and_action_levels(self, database_url):
        async with release(database_url, "2.12.0") as emu:
            mid = await model(emu)
            await deploy(emu, mid)
            r = await call(emu, "GET", f"{ML}/stats/ml_request_count")
            assert r.body["nodes"][node_id(emu)] == {"ml_request_count": 2, "algorithms": {}, "models": {}}
            r = await call(emu, "GET", f"{ML}/stats", {"target_stat_levels": ["model"]})
            assert r.body == {"nodes": {node_id(emu): {
                "algorithms": {}, "models": {mid: {"deploy": {"ml_action_request_count": 1}}}}}}

    async def test_unknown_stat_names(self, database_url):
        async with release(database_url, "3.8.0") as emu:
            r = await call(emu, "GET", f"{ML}/stats/ml_nope", status=400)
            assert error(r) == (400, "illegal_argument_exception", "Wrong ML cluster level stat")
            # the 2.9 names are cluster-level names nobody knows any more
            r = await call(emu, "GET", f"{ML}/stats/ml_node_total_request_count", status=400)
            assert error(r) == (400, "illegal_argument_exception", "Wrong ML cluster level stat")
        async with release(database_url, "2.9.0") as emu:
            r = await call(emu, "GET", f"{ML}/stats/ml_node_total_request_count")
            assert r.body == {"nodes": {node_id(emu): {"ml_node_total_request_count": 0, "algorithms": {}}}}
            r = await call(emu, "GET", f"{ML}/stats/ml_node_nope", status=400)
            assert error(r) == (400, "illegal_argument_exception", "Wrong ML node level stat")
            r = await call(emu, "GET", f"{ML}/stats/ml_connector_count", status=400)
            assert error(r) == (400, "illegal_argument_exception", "Wrong ML cluster level stat")

    async def test_node_in_the_path(self, database_url):
        async with release(database_url, "3.8.0", nodes=("n1", "n2:data")) as emu:
            first, second = node_id(emu, 0), node_id(emu, 1)
            r = await call(emu, "GET", f"{ML}/{second}/stats/ml_request_count")
            assert list(r.body["nodes"]) == [second]
            r = await call(emu, "GET", f"{ML}/{first},{second}/stats")
            assert list(r.body["nodes"]) == [first, second]
            r = await call(emu, "GET", f"{ML}/_local/stats")
            assert list(r.body["nodes"]) == [first]  # the coordinating node
            r = await call(emu, "GET", f"{ML}/n*/stats/ml_failure_count")
            assert list(r.body["nodes"]) == [first, second]
            # an id matching no node: no node answers, the cluster-level stats remain
            r = await call(emu, "GET", f"{ML}/{UNKNOWN}/stats")
            assert "nodes" not in r.body and r.body["ml_model_count"] == 0

    async def test_body_input(self, database_url):
        async with release(database_url, "3.8.0") as emu:
            mid = await model(emu)
            await deploy(emu, mid)
            r = await call(emu, "GET", f"{ML}/stats", {"target_stat_levels": ["node"],
                                                       "node_level_stats": ["ml_deployed_model_count"]})
            assert r.body == {"nodes": {node_id(emu): {"ml_deployed_model_count": 1, "algorithms": {},
                                                       "models": {mid: {"deploy": {"ml_action_request_count": 1}}}}}}
            r = await call(emu, "GET", f"{ML}/stats", {"target_stat_levels": ["algorithm"], "actions": ["register"]})
            entry = r.body["nodes"][node_id(emu)]
            assert entry["algorithms"] == {"remote": {"register": {"ml_action_request_count": 1}}}
            assert entry["models"] == {mid: {}}  # filtered to no action, still listed
            r = await call(emu, "GET", f"{ML}/stats", {"target_stat_levels": ["cluster"],
                                                       "cluster_level_stats": ["ml_model_index_status"]})
            assert r.body == {"ml_model_index_status": "green"}
            # the body wins over the path
            r = await call(emu, "GET", f"{ML}/stats/ml_model_count", {"target_stat_levels": ["cluster"],
                                                                      "cluster_level_stats": ["ml_task_index_status"]})
            assert r.body == {"ml_task_index_status": "green"}
            r = await call(emu, "GET", f"{ML}/stats", {"target_stat_levels": ["everything"]}, status=400)
            assert error(r) == (400, "illegal_argument_exception", "Wrong ML stat level")
            r = await call(emu, "GET", f"{ML}/stats", {"algorithms": ["nope"]}, status=400)
            assert error(r) == (400, "illegal_argument_exception", "Wrong function name")
            r = await call(emu, "GET", f"{ML}/stats", {"node_ids": "all"}, status=400)
            assert error(r) == (400, "parsing_exception",
                                "Failed to parse object: expecting token of type [START_ARRAY] but found [VALUE_STRING]")
            r = await call(emu, "GET", f"{ML}/stats", [1], status=400)
            assert error(r)[:2] == (400, "parsing_exception")

    async def test_counts_are_skipped_without_a_model_index_from_2_14(self, database_url):
        """The hidden-model search fails on a missing model index and the counting is
        skipped: the registered zero is answered even with connectors stored."""
        async with release(database_url, "2.13.0") as emu:
            r = await emu.request("POST", f"{ML}/connectors/_create", body("openai_chat_connector"))
            assert r.status == 200
            r = await call(emu, "GET", f"{ML}/stats/ml_model_count")
            assert r.body == {"ml_model_count": 0, "ml_connector_count": 1}
        async with release(database_url, "3.8.0") as emu:
            r = await emu.request("POST", f"{ML}/connectors/_create", body("openai_chat_connector"))
            assert r.status == 200
            r = await call(emu, "GET", f"{ML}/stats/ml_model_count")
            assert r.body == {"ml_model_count": 0}
            r = await call(emu, "GET", f"{ML}/stats")
            assert (r.body["ml_connector_index_status"], r.body["ml_connector_count"]) == ("green", 0)
            await model(emu)  # the model index now exists: both are counted
            r = await call(emu, "GET", f"{ML}/stats/ml_model_count")
            assert r.body == {"ml_model_count": 1, "ml_connector_count": 2}

    @pytest.mark.parametrize("version, yellow", [("2.9.0", True), ("2.12.0", True), ("2.13.0", False)])
    async def test_index_health_follows_the_replica_count(self, database_url, version, yellow):
        async with release(database_url, version) as emu:
            await model(emu)
            r = await call(emu, "GET", f"{ML}/stats/ml_model_index_status")
            assert r.body == {"ml_model_index_status": "yellow" if yellow else "green"}
        async with release(database_url, version, nodes=("a", "b")) as emu:
            await model(emu)
            r = await call(emu, "GET", f"{ML}/stats/ml_model_index_status")
            assert r.body == {"ml_model_index_status": "green"}


    async def test_a_reset_or_a_restart_starts_the_counters_over(self, sqlite_file_url):
        async with Emulator(database=sqlite_file_url, seed=5) as emu:
            mid = await model(emu)
            await deploy(emu, mid)
            assert (await predict(emu, mid)).status == 200
        async with Emulator(database=sqlite_file_url, seed=5) as emu:
            # restarted: the model was redeployed (2.12+ auto redeploy), nothing else happened
            node = (await call(emu, "GET", f"{ML}/stats")).body["nodes"][node_id(emu)]
            assert (node["ml_request_count"], node["ml_deployed_model_count"]) == (1, 1)
            assert node["algorithms"] == {"remote": {"deploy": {"ml_action_request_count": 1}}}
            profile = (await call(emu, "GET", f"{ML}/profile")).body["nodes"][node_id(emu)]["models"][mid]
            assert "predict_request_stats" not in profile
            await emu.reset()
            node = (await call(emu, "GET", f"{ML}/stats")).body["nodes"][node_id(emu)]
            assert (node["ml_request_count"], node["algorithms"], node["models"]) == (0, {}, {})


class TestPredictCounting:
    async def test_failures_are_tracked_from_3_5_except_4xx(self, database_url):
        for version, tracked in (("3.4.0", False), ("3.8.0", True)):
            async with release(database_url, version) as emu:
                mid = await model(emu)
                await deploy(emu, mid)
                emu.providers["openai"].script.fail(500, {"error": {"message": "boom"}})
                assert (await predict(emu, mid)).status == 500
                emu.providers["openai"].script.fail(401, {"error": {"message": "no key"}})
                assert (await predict(emu, mid)).status == 401
                node = (await call(emu, "GET", f"{ML}/stats")).body["nodes"][node_id(emu)]
                assert node["ml_failure_count"] == (1 if tracked else 0), version
                assert node["algorithms"]["remote"]["predict"] == (
                    {"ml_action_request_count": 2, "ml_action_failure_count": 1} if tracked
                    else {"ml_action_request_count": 2}), version
                # the model's failure counter is created, never incremented
                assert node["models"][mid]["predict"] == (
                    {"ml_action_request_count": 2, "ml_action_failure_count": 0} if tracked
                    else {"ml_action_request_count": 2}), version

    async def test_text_embedding_route_counts_under_its_algorithm_before_2_11(self, database_url):
        docs = {"text_docs": ["a"]}
        for version, key in (("2.10.0", "text_embedding"), ("2.11.0", "remote")):
            async with release(database_url, version) as emu:
                mid = await model(emu)
                await deploy(emu, mid)
                r = await emu.request("POST", f"{ML}/_predict/text_embedding/{mid}", docs)
                node = (await call(emu, "GET", f"{ML}/stats")).body["nodes"][node_id(emu)]
                assert node["algorithms"][key]["predict"]["ml_action_request_count"] == 1, (version, r.body)


# ======================================================================= GET /profile
class TestProfile:
    async def test_nothing_to_report_is_an_empty_object(self, database_url):
        async with release(database_url, "3.8.0") as emu:
            assert (await call(emu, "GET", f"{ML}/profile")).body == {}
            mid = await model(emu)  # registered, not deployed: no node caches it
            assert (await call(emu, "GET", f"{ML}/profile")).body == {}
            assert (await call(emu, "GET", f"{ML}/profile/models/{mid}")).body == {}
        async with release(database_url, "2.9.0") as emu:
            assert (await call(emu, "GET", f"{ML}/profile/tasks")).body == {}

    async def test_a_deployed_model_on_its_node(self, database_url):
        async with release(database_url, "3.8.0") as emu:
            await emu.request("PUT", "/_cluster/settings",
                              {"persistent": {"plugins.ml_commons.monitoring_request_count": 2}})
            mid = await model(emu)
            await deploy(emu, mid)
            for _ in range(3):
                assert (await predict(emu, mid)).status == 200
            nid = node_id(emu)
            r = await call(emu, "GET", f"{ML}/profile")
            profile = r.body["nodes"][nid]["models"][mid]
            assert list(profile) == ["model_state", "predictor", "target_worker_nodes", "worker_nodes",
                                     "model_inference_stats", "predict_request_stats"]
            assert profile["model_state"] == "DEPLOYED"
            assert profile["predictor"].startswith("org.opensearch.ml.engine.algorithms.remote.RemoteModel@")
            assert profile["target_worker_nodes"] == profile["worker_nodes"] == [nid]
            for window in ("model_inference_stats", "predict_request_stats"):
                stats = profile[window]
                assert list(stats) == ["count", "max", "min", "average", "p50", "p90", "p99"]
                assert stats["count"] == 2  # monitoring_request_count keeps the last 2
                assert stats["min"] <= stats["p50"] <= stats["p90"] <= stats["p99"] <= stats["max"]
            # a request's duration includes the model's
            assert profile["predict_request_stats"]["max"] >= profile["model_inference_stats"]["min"]
            # the predictor object is the same until the node rebuilds it
            again = (await call(emu, "GET", f"{ML}/profile/models")).body["nodes"][nid]["models"][mid]
            assert again["predictor"] == profile["predictor"]
            assert (await call(emu, "GET", f"{ML}/profile/models/{mid},{UNKNOWN}")).body["nodes"][nid][
                "models"].keys() == {mid}
            assert (await call(emu, "GET", f"{ML}/profile/models/{UNKNOWN}")).body == {}
            assert (await call(emu, "GET", f"{ML}/profile/tasks")).body == {}  # nothing is running
            assert (await call(emu, "GET", f"{ML}/profile/tasks/{UNKNOWN}")).body == {}

    async def test_monitoring_request_count_zero_keeps_no_window(self, database_url):
        async with release(database_url, "3.8.0") as emu:
            await emu.request("PUT", "/_cluster/settings",
                              {"persistent": {"plugins.ml_commons.monitoring_request_count": 0}})
            mid = await model(emu)
            await deploy(emu, mid)
            assert (await predict(emu, mid)).status == 200
            profile = (await call(emu, "GET", f"{ML}/profile")).body["nodes"][node_id(emu)]["models"][mid]
            assert "model_inference_stats" not in profile and "predict_request_stats" not in profile

    async def test_undeploy_drops_the_cache(self, database_url):
        async with release(database_url, "3.8.0") as emu:
            mid = await model(emu)
            await deploy(emu, mid)
            assert (await predict(emu, mid)).status == 200
            await call(emu, "POST", f"{ML}/models/{mid}/_undeploy")
            assert (await call(emu, "GET", f"{ML}/profile")).body == {}
            await deploy(emu, mid)
            profile = (await call(emu, "GET", f"{ML}/profile")).body["nodes"][node_id(emu)]["models"][mid]
            assert "predict_request_stats" not in profile and "model_inference_stats" not in profile

    async def test_views_and_body(self, database_url):
        async with release(database_url, "3.8.0") as emu:
            mid = await model(emu)
            await deploy(emu, mid)
            nid = node_id(emu)
            r = await call(emu, "GET", f"{ML}/profile?view=model")
            assert list(r.body) == ["models"]
            entry = r.body["models"][mid]
            assert entry["target_worker_nodes"] == entry["worker_nodes"] == [nid]
            assert list(entry["nodes"][nid]) == ["model_state", "predictor"]
            assert (await call(emu, "GET", f"{ML}/profile?view=whatever")).body == {}
            # a body is the whole input: the path's model id is ignored
            assert (await call(emu, "GET", f"{ML}/profile/models/{mid}", {})).body == {}
            r = await call(emu, "GET", f"{ML}/profile", {"model_ids": [mid]})
            assert list(r.body["nodes"][nid]["models"]) == [mid]
            r = await call(emu, "GET", f"{ML}/profile", {"return_all_models": True, "node_ids": [nid]})
            assert list(r.body["nodes"]) == [nid]
            assert (await call(emu, "GET", f"{ML}/profile", {"return_all_models": True,
                                                             "node_ids": [UNKNOWN]})).body == {}
            r = await call(emu, "GET", f"{ML}/profile", {"model_ids": mid}, status=400)
            assert error(r) == (400, "parsing_exception",
                                "Failed to parse object: expecting token of type [START_ARRAY] but found [VALUE_STRING]")
            r = await call(emu, "GET", f"{ML}/profile", "[]", status=400)
            assert error(r)[:2] == (400, "parsing_exception")

    async def test_2_14_answers_nothing_without_a_model_index(self, database_url):
        """From 2.14 the hidden-model search runs first; it fails on a missing index."""
        async with release(database_url, "2.13.0") as emu:
            mid = await model(emu)
            await deploy(emu, mid)
            async with emu.context.transaction() as repos:
                await repos.tx.wipe(keep=(".plugins-ml-config",))
            assert (await call(emu, "GET", f"{ML}/profile")).body["nodes"][node_id(emu)]["models"].keys() == {mid}
        async with release(database_url, "2.14.0") as emu:
            mid = await model(emu)
            await deploy(emu, mid)
            async with emu.context.transaction() as repos:
                await repos.tx.wipe(keep=(".plugins-ml-config",))
            assert (await call(emu, "GET", f"{ML}/profile")).body == {}

    async def test_two_nodes_and_a_custom_plan(self, database_url):
        async with release(database_url, "3.8.0", nodes=("a", "b")) as emu:
            await emu.request("PUT", "/_cluster/settings",
                              {"persistent": {"plugins.ml_commons.allow_custom_deployment_plan": True}})
            a, b = node_id(emu, 0), node_id(emu, 1)
            mid = await model(emu)
            await deploy(emu, mid, {"node_ids": [b]})
            assert (await predict(emu, mid)).status == 200  # received by a, run by b
            r = await call(emu, "GET", f"{ML}/profile")
            on_a, on_b = r.body["nodes"][a]["models"][mid], r.body["nodes"][b]["models"][mid]
            # a knows the routing table (sync-up) and the duration of the call it received
            assert list(on_a) == ["worker_nodes", "predict_request_stats"]
            assert on_a["worker_nodes"] == [b]
            assert list(on_b) == ["model_state", "predictor", "target_worker_nodes", "worker_nodes",
                                  "model_inference_stats"]
            assert on_b["target_worker_nodes"] == [b]
            r = await call(emu, "GET", f"{ML}/profile?view=model")
            assert r.body["models"][mid]["worker_nodes"] == [b]
            assert r.body["models"][mid]["nodes"].keys() == {a, b}
            # each request was counted where it ran: the register on a, the deploy and the predict on b
            stats = (await call(emu, "GET", f"{ML}/stats/ml_request_count")).body["nodes"]
            assert (stats[a]["ml_request_count"], stats[b]["ml_request_count"]) == (1, 2)

    async def test_a_running_deploy_task_and_model(self, database_url, monkeypatch):
        async with release(database_url, "3.8.0") as emu:
            mid = await model(emu)
            reached, release_gate = asyncio.Event(), asyncio.Event()
            real = deployment.deploy_on_node

            async def slow(ctx: Any, runtime: Any, model_id: str) -> None:
                reached.set()
                await release_gate.wait()
                await real(ctx, runtime, model_id)

            monkeypatch.setattr(deployment, "deploy_on_node", slow)
            pending = asyncio.create_task(emu.request("POST", f"{ML}/models/{mid}/_deploy"))
            await asyncio.wait_for(reached.wait(), 5)
            try:
                nid = node_id(emu)
                r = await call(emu, "GET", f"{ML}/profile")
                node = r.body["nodes"][nid]
                assert list(node) == ["tasks", "models"]
                (task_id, task), = node["tasks"].items()
                assert {k: task[k] for k in ("task_id", "model_id", "task_type", "function_name", "state",
                                             "worker_node", "is_async")} == {
                    "task_id": task_id, "model_id": mid, "task_type": "DEPLOY_MODEL", "function_name": "REMOTE",
                    "state": "RUNNING", "worker_node": [nid], "is_async": True}
                assert node["models"][mid] == {"model_state": "DEPLOYING", "target_worker_nodes": [nid]}
                r = await call(emu, "GET", f"{ML}/profile/tasks/{task_id}")
                assert list(r.body["nodes"][nid]) == ["tasks"]
                r = await call(emu, "GET", f"{ML}/profile?view=model")
                assert r.body["models"][mid]["tasks"].keys() == {task_id}
            finally:
                release_gate.set()
                done = await pending
            assert done.status == 200
            assert (await call(emu, "GET", f"{ML}/profile/tasks")).body == {}


# ========================================================================= rate limits
class TestModelRateLimiter:
    async def test_the_bucket_throttles_predict(self, database_url):
        async with release(database_url, "3.8.0") as emu:
            mid = await model(emu, rate_limiter={"limit": "2", "unit": "MINUTES"})
            await deploy(emu, mid)
            assert [(await predict(emu, mid)).status for _ in range(2)] == [200, 200]
            r = await predict(emu, mid)
            assert error(r) == (429, "status_exception", THROTTLED_MODEL)
            spec().validate_error("POST", f"{ML}/models/{mid}/_predict", r)
            # a throttled call never reached the provider
            assert len(emu.providers["openai"].recorder) == 2
            # it was a predict the runner counted; a 4xx is not a tracked failure
            node = (await call(emu, "GET", f"{ML}/stats")).body["nodes"][node_id(emu)]
            assert (node["ml_request_count"], node["ml_failure_count"]) == (5, 0)
            # updating the limiter rebuilds the bucket on the node (updateModelCache)
            r = await emu.request("PUT", f"{ML}/models/{mid}", {"rate_limiter": {"limit": "5"}})
            assert r.status == 200, r.body
            assert (await predict(emu, mid)).status == 200

    async def test_the_share_of_each_node(self, database_url):
        """N target nodes split the limit: 4 per minute over 2 nodes is a burst of 2 each."""
        async with release(database_url, "3.8.0", nodes=("a", "b")) as emu:
            mid = await model(emu, rate_limiter={"limit": "4", "unit": "MINUTES"})
            await deploy(emu, mid)
            statuses = [(await predict(emu, mid)).status for _ in range(5)]
            assert statuses == [200, 200, 200, 200, 429]

    async def test_a_zero_limit_fails_the_deploy(self, database_url):
        async with release(database_url, "3.8.0") as emu:
            mid = await model(emu, rate_limiter={"limit": "0", "unit": "SECONDS"})
            r = await emu.request("POST", f"{ML}/models/{mid}/_deploy")
            task = (await emu.request("GET", f"{ML}/tasks/{r.body['task_id']}")).body
            assert task["state"] == "FAILED"
            assert json.loads(task["error"]) == {node_id(emu): "rate must be greater than zero"}
            assert (await emu.request("GET", f"{ML}/models/{mid}")).body["model_state"] == "DEPLOY_FAILED"

    async def test_2_9_has_no_rate_limiter(self, database_url):
        async with release(database_url, "2.9.0") as emu:
            mid = await model(emu, rate_limiter={"limit": "1", "unit": "MINUTES"})
            await deploy(emu, mid)
            assert [(await predict(emu, mid)).status for _ in range(3)] == [200, 200, 200]


# ====================================================================== /controllers
LIMIT = {"user_rate_limiter": {"alice": {"limit": "1", "unit": "MINUTES"}}}


class TestControllers:
    async def test_lifecycle_3_8(self, database_url):
        async with release(database_url, "3.8.0") as emu:
            mid = await model(emu)
            path = f"{ML}/controllers/{mid}"
            r = await call(emu, "POST", path, LIMIT)
            assert r.body == {"model_id": mid, "status": "CREATED"}
            assert (await emu.request("GET", f"{ML}/models/{mid}")).body["is_controller_enabled"] is True
            r = await call(emu, "GET", path)
            assert r.body == {"model_id": mid, "user_rate_limiter": {"alice": {"limit": "1", "unit": "MINUTES"}}}
            r = await call(emu, "PUT", path, {"user_rate_limiter": {"alice": {"limit": "3"},
                                                                    "bob": {"limit": "2", "unit": "SECONDS"}}})
            assert list(r.body) == ["_index", "_id", "_version", "result", "forced_refresh", "_shards", "_seq_no",
                                    "_primary_term"]
            assert (r.body["_index"], r.body["_id"], r.body["_version"], r.body["result"]) == (
                ".plugins-ml-controller", mid, 2, "updated")
            r = await call(emu, "GET", path)
            assert r.body["user_rate_limiter"] == {"alice": {"limit": "3", "unit": "MINUTES"},
                                                   "bob": {"limit": "2", "unit": "SECONDS"}}
            # the same content again writes nothing
            r = await call(emu, "PUT", path, {"user_rate_limiter": {"bob": {"unit": "SECONDS"}}})
            assert (r.body["result"], r.body["_version"], r.body["_shards"]["total"]) == ("noop", 2, 0)
            assert "forced_refresh" not in r.body
            r = await call(emu, "DELETE", path)
            assert (r.body["result"], r.body["forced_refresh"], r.body["_version"]) == ("deleted", True, 3)
            assert (await emu.request("GET", f"{ML}/models/{mid}")).body["is_controller_enabled"] is False
            r = await call(emu, "GET", path, status=404)
            assert error(r) == (404, "status_exception", "Failed to find model controller with the provided model ID")

    async def test_creating_again_overwrites(self, database_url):
        async with release(database_url, "3.8.0") as emu:
            mid = await model(emu)
            await call(emu, "POST", f"{ML}/controllers/{mid}", LIMIT)
            r = await call(emu, "POST", f"{ML}/controllers/{mid}", {"user_rate_limiter": {}})
            # IndexResponse.getResult().name() (spec override controller-create-status-is-the-index-result)
            assert r.body == {"model_id": mid, "status": "UPDATED"}
            assert (await call(emu, "GET", f"{ML}/controllers/{mid}")).body["user_rate_limiter"] == {}

    async def test_errors_3_8(self, database_url):
        async with release(database_url, "3.8.0") as emu:
            path = f"{ML}/controllers/{UNKNOWN}"
            r = await call(emu, "GET", path, status=404)
            assert error(r) == (404, "status_exception", "Failed to find model controller")
            r = await call(emu, "POST", path, LIMIT, status=404)
            assert error(r) == (404, "status_exception",
                                "Failed to find model to create the corresponding model controller with the "
                                "provided model ID")
            r = await call(emu, "PUT", path, LIMIT, status=404)
            assert error(r) == (404, "status_exception",
                                "Failed to find model to create the corresponding model controller with the "
                                "provided model ID")
            r = await call(emu, "DELETE", path, status=404)
            assert error(r) == (404, "index_not_found_exception", "no such index [.plugins-ml-controller]")
            r = await call(emu, "POST", path, status=400)
            assert error(r) == (400, "parse_exception", "Create model controller request has empty body")
            r = await call(emu, "PUT", path, status=400)
            assert error(r) == (400, "parse_exception", "Update model controller request has empty body")
            mid = await model(emu)
            path = f"{ML}/controllers/{mid}"
            r = await call(emu, "PUT", path, LIMIT, status=409)
            assert error(r) == (409, "status_exception",
                                "Model controller haven't been created for the model. Consider calling create "
                                f"model controller api instead. Model ID: {mid}")
            r = await call(emu, "POST", path, {"user_rate_limiter": {"alice": {"limit": "-1", "unit": "SECONDS"}}},
                           status=400)
            assert error(r) == (400, "parse_exception", "Limit field must be a positive number.")
            r = await call(emu, "POST", path, {"user_rate_limiter": {"alice": {"limit": "1", "unit": "WEEKS"}}},
                           status=400)
            assert error(r) == (400, "illegal_argument_exception",
                                "No enum constant java.util.concurrent.TimeUnit.WEEKS")
            r = await call(emu, "POST", path, {"user_rate_limiter": {"alice": 5}}, status=400)
            assert error(r) == (400, "parsing_exception",
                                "Failed to parse object: expecting token of type [START_OBJECT] but found [VALUE_NUMBER]")
            # a limiter given as JSON text is parsed as one; an empty limiter is dropped
            r = await call(emu, "POST", path, {"user_rate_limiter": {
                "alice": '{"limit": "2", "unit": "HOURS"}', "bob": {}}})
            assert (await call(emu, "GET", path)).body["user_rate_limiter"] == {
                "alice": {"limit": "2", "unit": "HOURS"}}
            # deleting the model deletes its controller
            r = await emu.request("DELETE", f"{ML}/models/{mid}")
            assert r.status == 200, r.body
            r = await call(emu, "GET", path, status=404)
            assert error(r) == (404, "status_exception", "Failed to find model controller with the provided model ID")

    async def test_a_deploying_model_refuses_a_controller(self, database_url):
        async with release(database_url, "3.8.0") as emu:
            mid = await model(emu)
            async with emu.context.transaction() as repos:
                stored = await repos.models.get(mid)
                import attrs

                from mlcommons_emu.domain.states import ModelState

                await repos.models.put(attrs.evolve(stored, model_state=ModelState.DEPLOYING))
            r = await call(emu, "POST", f"{ML}/controllers/{mid}", LIMIT, status=409)
            assert error(r) == (409, "status_exception",
                                "Creating a model controller during its corresponding model in DEPLOYING state is "
                                "not allowed, please either create the model controller after it is deployed or "
                                f"before deploying it. Model ID: {mid}")

    async def test_2_12_wording_and_lenient_limit(self, database_url):
        async with release(database_url, "2.12.0") as emu:
            r = await call(emu, "POST", f"{ML}/controllers/{UNKNOWN}", LIMIT, status=404)
            assert error(r) == (404, "status_exception",
                                "Failed to find model to create the corresponding model controller with the "
                                f"provided model ID: {UNKNOWN}")
            mid = await model(emu)
            # the limit check arrived in 2.13
            r = await call(emu, "POST", f"{ML}/controllers/{mid}",
                           {"user_rate_limiter": {"alice": {"limit": "-1", "unit": "SECONDS"}}})
            assert r.body["status"] == "CREATED"
            await call(emu, "DELETE", f"{ML}/controllers/{mid}")
            r = await call(emu, "GET", f"{ML}/controllers/{mid}", status=404)
            assert error(r) == (404, "status_exception",
                                f"Failed to find model controller with the provided model ID: {mid}")

    async def test_routes_appear_in_2_12(self, database_url):
        async with release(database_url, "2.11.0") as emu:
            r = await emu.request("GET", f"{ML}/controllers/{UNKNOWN}")
            assert (r.status, r.body["error"]) == (
                400, f"no handler found for uri [{ML}/controllers/{UNKNOWN}] and method [GET]")

    async def test_disabled_by_setting_from_2_19(self, database_url):
        async with release(database_url, "3.8.0") as emu:
            r = await emu.request("PUT", "/_cluster/settings",
                                  {"persistent": {"plugins.ml_commons.controller_enabled": False}})
            assert r.status == 200, r.body
            r = await call(emu, "GET", f"{ML}/controllers/{UNKNOWN}", status=500)
            assert error(r) == (500, "illegal_state_exception",
                                'Controller is currently disabled. To enable it, update the setting '
                                '"plugins.ml_commons.controller_enabled" to true.')


class TestUserRateLimiter:
    async def test_per_user_buckets_follow_the_controller(self, database_url):
        async with release(database_url, "3.8.0", security=USERS_FILE) as emu:
            admin, alice, bob = emu.as_user("admin"), emu.as_user("alice"), emu.as_user("bob")
            mid = await model(admin)
            await deploy(admin, mid)
            r = await admin.request("POST", f"{ML}/controllers/{mid}", LIMIT)
            assert r.body == {"model_id": mid, "status": "CREATED"}
            # deployed: the serving node installed the buckets at once
            assert (await predict(alice, mid)).status == 200
            r = await predict(alice, mid)
            assert error(r) == (429, "status_exception", THROTTLED_USER)
            assert [(await predict(bob, mid)).status for _ in range(3)] == [200, 200, 200]
            # a new limit that builds a bucket is deployed to the nodes: a fresh, full bucket
            r = await admin.request("PUT", f"{ML}/controllers/{mid}", {"user_rate_limiter": {"alice": {"limit": "2"}}})
            assert r.body["result"] == "updated"
            assert [(await predict(alice, mid)).status for _ in range(3)] == [200, 200, 429]
            # redeploying after an undeploy reads the controller again
            await admin.request("POST", f"{ML}/models/{mid}/_undeploy")
            await deploy(admin, mid)
            assert [(await predict(alice, mid)).status for _ in range(3)] == [200, 200, 429]
            # deleting the controller removes the buckets from the nodes
            r = await admin.request("DELETE", f"{ML}/controllers/{mid}")
            assert r.status == 200, r.body
            assert [(await predict(alice, mid)).status for _ in range(3)] == [200, 200, 200]

    async def test_the_model_bucket_is_checked_first(self, database_url):
        async with release(database_url, "3.8.0", security=USERS_FILE) as emu:
            admin, alice = emu.as_user("admin"), emu.as_user("alice")
            mid = await model(admin, rate_limiter={"limit": "1", "unit": "MINUTES"})
            await admin.request("POST", f"{ML}/controllers/{mid}", LIMIT)
            await deploy(admin, mid)
            assert (await predict(alice, mid)).status == 200
            assert error(await predict(alice, mid)) == (429, "status_exception", THROTTLED_MODEL)

    async def test_no_user_no_user_level_limit(self, database_url):
        """Without the security plugin there is no user name to look a bucket up by."""
        async with release(database_url, "3.8.0") as emu:
            mid = await model(emu)
            await deploy(emu, mid)
            await call(emu, "POST", f"{ML}/controllers/{mid}", LIMIT)
            assert [(await predict(emu, mid)).status for _ in range(3)] == [200, 200, 200]


async def test_literal_paths_win_over_the_node_id_of_stats(database_url):
    async with release(database_url, "3.8.0") as emu:
        r = await emu.request("GET", f"{ML}/models/stats")
        assert r.status == 404 and "model" in r.body["error"]["reason"]
        r = await emu.request("GET", f"{ML}/tasks/stats")
        assert r.status == 404 and "task" in r.body["error"]["reason"]
        r = await emu.request("GET", f"{ML}/stats/")  # RestMLStatsAction registers "/stats/"
        assert r.status == 200 and "nodes" in r.body


async def test_the_security_plugin_checks_each_action(database_url):
    """profile/nodes, stats/nodes and controllers/* are ML actions: ml_full_access grants
    them, ml_read_access only controllers/get, a custom role only what it lists."""
    async with release(database_url, "3.8.0", security=USERS_FILE) as emu:
        alice, reader, predictor = emu.as_user("alice"), emu.as_user("reader"), emu.as_user("predictor")
        for path in (f"{ML}/stats", f"{ML}/profile", f"{ML}/profile/models"):
            assert (await alice.request("GET", path)).status == 200
            r = await reader.request("GET", path)
            assert r.status == 403 and r.body["error"]["type"] == "security_exception"
            assert r.body["error"]["reason"].startswith("no permissions for [cluster:admin/opensearch/ml/")
        r = await reader.request("GET", f"{ML}/controllers/AAAAAAAAAAAAAAAAAAAA")
        assert r.status == 404, r.body  # permitted: the plugin's own answer
        r = await reader.request("POST", f"{ML}/controllers/AAAAAAAAAAAAAAAAAAAA", {"user_rate_limiter": {}})
        assert r.body["error"]["reason"].startswith("no permissions for [cluster:admin/opensearch/ml/controllers/create]")
        r = await predictor.request("GET", f"{ML}/controllers/AAAAAAAAAAAAAAAAAAAA")
        assert r.status == 403
