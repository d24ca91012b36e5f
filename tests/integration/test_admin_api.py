"""The ``/_emu`` admin namespace and ``emu.admin``: reset by kind, reseed, journals,
snapshots, configuration; kept apart from the real API and closed to non-admins."""
from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest

from mlcommons_emu import Emulator
from tests.conftest import fresh_store, store_options
from tests.seed import body

ML = "/_plugins/_ml"
USERS_FILE = Path(__file__).resolve().parents[2] / "fixtures" / "security" / "users.json"
SECRET = "sk-admin-api-secret"


async def world(emu: Any) -> dict[str, str]:
    r = await emu.request("PUT", "/_cluster/settings", {"persistent": {"plugins.ml_commons.only_run_on_ml_node": False}})
    assert r.status == 200, r.body
    payload = body("openai_chat_connector")
    payload["credential"] = {"openAI_key": SECRET}
    connector_id = (await emu.request("POST", f"{ML}/connectors/_create", payload)).body["connector_id"]
    r = await emu.request("POST", f"{ML}/models/_register?deploy=true",
                          {"name": "m", "function_name": "remote", "connector_id": connector_id})
    assert r.status == 200, r.body
    model_id = r.body["model_id"]
    r = await emu.request("POST", f"{ML}/models/{model_id}/_predict", body("predict_messages"))
    assert r.status == 200, r.body
    return {"connector_id": connector_id, "model_id": model_id, "group_id": r.body and
            (await emu.request("GET", f"{ML}/models/{model_id}")).body["model_group_id"]}


async def test_reset_one_kind_keeps_the_others(emulator):
    ids = await world(emulator)
    r = await emulator.request("POST", "/_emu/_reset", {"kinds": ["models"]})
    assert r.status == 200 and r.body == {"acknowledged": True, "reset": ["models"]}
    # the model index is gone as if deleted (3.8: 404 "Fail to find model"), nothing is served
    r = await emulator.request("GET", f"{ML}/models/{ids['model_id']}")
    assert r.status == 404
    assert not any(ids["model_id"] in n.models for n in emulator.context.cluster.nodes)
    assert (await emulator.request("GET", f"{ML}/connectors/{ids['connector_id']}")).status == 200
    assert (await emulator.request("GET", f"{ML}/model_groups/{ids['group_id']}")).status == 200
    settings = (await emulator.request("GET", "/_cluster/settings")).body
    assert settings["persistent"]["plugins"]["ml_commons"]["only_run_on_ml_node"] == "false"
    r = await emulator.request("POST", "/_emu/_reset", {"kinds": ["settings", "connectors"]})
    assert r.body["reset"] == ["settings", "connectors"]
    assert (await emulator.request("GET", "/_cluster/settings")).body["persistent"] == {}
    assert (await emulator.request("GET", f"{ML}/connectors/{ids['connector_id']}")).status == 404
    r = await emulator.request("POST", "/_emu/_reset", {"kinds": ["agents"]})
    assert (r.status, r.body["error"]["type"]) == (400, "illegal_argument_exception")
    assert "unknown kind" in r.body["error"]["reason"]


async def test_reset_everything(emulator):
    ids = await world(emulator)
    r = await emulator.request("POST", "/_emu/_reset")
    assert r.status == 200 and "models" in r.body["reset"]
    assert (await emulator.request("GET", f"{ML}/connectors/{ids['connector_id']}")).status == 404


async def test_seed_makes_ids_repeat(database_url):
    async with Emulator(database=database_url, **store_options(database_url)) as emu:
        await emu.request("POST", "/_emu/_seed", {"seed": 42})
        first = (await emu.request("POST", f"{ML}/model_groups/_register", {"name": "a"})).body["model_group_id"]
        await emu.request("POST", "/_emu/_reset")
        await emu.request("POST", "/_emu/_seed", {"seed": 42})
        again = (await emu.request("POST", f"{ML}/model_groups/_register", {"name": "a"})).body["model_group_id"]
        assert first == again
        r = await emu.request("POST", "/_emu/_seed", {"seed": "x"})
        assert r.status == 400


async def test_journal_shows_requests_with_secrets_masked(emulator):
    await world(emulator)
    r = await emulator.request("GET", "/_emu/journal/openai")
    assert r.status == 200
    (call,) = r.body["openai"]
    assert call["method"] == "POST" and call["url"].endswith("/v1/chat/completions")
    assert call["headers"]["Authorization"] == "***"
    assert call["body"]["model"] == "gpt-3.5-turbo"
    assert SECRET not in json.dumps(r.body)
    r = await emulator.request("GET", "/_emu/journal?limit=0")
    assert set(r.body) >= {"openai", "cohere"}
    r = await emulator.request("GET", "/_emu/journal/nope")
    assert r.status == 400


async def test_snapshot_and_restore_the_whole_state(database_url, tmp_path):
    path = tmp_path / "state" / "snapshot.json"
    async with Emulator(database=database_url, **store_options(database_url), seed=3) as emu:
        ids = await world(emu)
        r = await emu.request("POST", "/_emu/_snapshot", {"path": str(path)})
        assert r.status == 200 and r.body["documents"] >= 5
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        before = (await emu.request("GET", f"{ML}/models/{ids['model_id']}")).body
        # change everything after the snapshot, then go back to it
        await emu.request("DELETE", f"{ML}/connectors/{ids['connector_id']}")
        await emu.request("POST", f"{ML}/model_groups/_register", {"name": "later"})
        await emu.request("PUT", "/_cluster/settings", {"persistent": {"plugins.ml_commons.max_model_on_node": 7}})
        r = await emu.request("POST", "/_emu/_restore", {"path": str(path)})
        assert r.status == 200, r.body
        after = (await emu.request("GET", f"{ML}/models/{ids['model_id']}")).body
        assert after["model_state"] == "DEPLOYED" and after["name"] == before["name"]
        assert after["model_version"] == before["model_version"]
        r = await emu.request("POST", f"{ML}/model_groups/_search", {"query": {"term": {"name.keyword": "later"}}})
        assert r.body["hits"]["total"]["value"] == 0
        settings = (await emu.request("GET", "/_cluster/settings")).body["persistent"]["plugins"]["ml_commons"]
        assert "max_model_on_node" not in settings
        # credentials still decrypt: the restored model predicts
        r = await emu.request("POST", f"{ML}/models/{ids['model_id']}/_predict", body("predict_messages"))
        assert r.status == 200, r.body
        # the next write takes the next sequence number, as it would have
        r = await emu.request("POST", f"{ML}/model_groups/_register", {"name": "next"})
        assert r.status == 200
    # into another emulator (another store): the same answers
    await fresh_store(database_url)
    async with Emulator(database=database_url, **store_options(database_url)) as other:
        r = await other.request("POST", "/_emu/_restore", {"path": str(path)})
        assert r.status == 200, r.body
        r = await other.request("POST", f"{ML}/models/{ids['model_id']}/_predict", body("predict_messages"))
        assert r.status == 200, r.body


async def test_bad_snapshots_are_refused_and_change_nothing(emulator, tmp_path):
    ids = await world(emulator)
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something else"}')
    for payload in ({"path": str(bad)}, {"path": str(tmp_path / "missing.json")}, {}):
        r = await emulator.request("POST", "/_emu/_restore", payload)
        assert (r.status, r.body["error"]["type"]) == (400, "illegal_argument_exception"), r.body
    assert (await emulator.request("GET", f"{ML}/models/{ids['model_id']}")).body["model_state"] == "DEPLOYED"


async def test_config_shows_no_secret(database_url):
    key = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVowMTIzNDU="
    async with Emulator(database=database_url, **store_options(database_url), master_key=key,
                        aws_credentials={"AKIAEXAMPLE": "aws-secret-value"}) as emu:
        r = await emu.request("GET", "/_emu/config")
        assert r.status == 200
        assert r.body["opensearch_version"] == "3.8.0"
        assert r.body["aws_access_keys"] == ["AKIAEXAMPLE"] and r.body["master_key"] == "configured"
        assert key not in json.dumps(r.body) and "aws-secret-value" not in json.dumps(r.body)


async def test_admin_namespace_is_apart_from_the_real_api(emulator):
    r = await emulator.request("GET", "/_emu/nothing")
    assert r.status == 400 and r.body["error"].startswith("no handler found for uri [/_emu/nothing]")
    r = await emulator.request("DELETE", "/_emu/config")
    assert r.status == 405
    r = await emulator.request("GET", "/_plugins/_ml/_emu/config")
    assert r.status == 400  # not an ML route either


async def test_only_admins_when_security_is_on():
    async with Emulator(security=USERS_FILE) as emu:
        assert (await emu.request("GET", "/_emu/config")).status == 401
        r = await emu.as_user("alice").request("GET", "/_emu/config")
        assert (r.status, r.body["error"]["type"]) == (403, "security_exception")
        assert (await emu.as_user("admin").request("GET", "/_emu/config")).status == 200


@pytest.mark.parametrize("version", ["2.9.0", "3.8.0"])
async def test_in_process_admin_matches_the_rest_namespace(database_url, version):
    async with Emulator(database=database_url, **store_options(database_url), opensearch_version=version) as emu:
        assert emu.admin.config()["opensearch_version"] == version
        state = await emu.admin.snapshot()
        assert state["format"] == "mlcommons-emu-snapshot"
        assert await emu.admin.restore(state) == len(state["documents"])


async def test_seeded_ids_repeat_on_fresh_stores_and_never_collide_on_reused_ones(sqlite_file_url):
    async def first_ids(database: str, run: int) -> list[str]:
        async with Emulator(database=database, seed=9) as emu:
            out = []
            for name in ("a", "b"):
                r = await emu.request("POST", f"{ML}/model_groups/_register", {"name": f"{name}-{run}"})
                assert r.status == 200, r.body
                out.append(r.body["model_group_id"])
            return out

    fresh = [await first_ids("sqlite://", run) for run in range(2)]
    assert fresh[0] == fresh[1]  # a fresh store: the same ids on every run
    reused = [await first_ids(sqlite_file_url, run) for run in range(2)]
    assert reused[0] == fresh[0]
    assert not set(reused[0]) & set(reused[1])  # a restart on the same store: new ids, no clash


async def test_nodes_and_sync_up_over_rest(database_url):
    async with Emulator(database=database_url, **store_options(database_url),
                        nodes="manager:cluster_manager+data,ml1:ml,ml2:ml") as emu:
        r = await emu.request("GET", "/_emu/nodes")
        assert [n["name"] for n in r.body["nodes"]] == ["manager", "ml1", "ml2"]
        r = await emu.request("POST", "/_emu/nodes", {"name": "ml3", "roles": ["ml"]})
        assert r.status == 200 and len(r.body["node_id"]) == 22
        ids = await world_on_ml_nodes(emu)
        served = {n["name"] for n in (await emu.request("GET", "/_emu/nodes")).body["nodes"]
                  if ids["model_id"] in n["models"]}
        # remote models go to the data and ml nodes (eligible_node_role.remote_model)
        assert served == {"manager", "ml1", "ml2", "ml3"}
        assert (await emu.request("POST", "/_emu/nodes/ml2/_stop")).status == 200
        nodes = {n["name"]: n for n in (await emu.request("GET", "/_emu/nodes")).body["nodes"]}
        assert nodes["ml2"]["up"] is False and nodes["ml2"]["models"] == []
        model = (await emu.request("GET", f"{ML}/models/{ids['model_id']}")).body
        assert model["current_worker_node_count"] == 3  # the sync-up ran when the node left
        assert (await emu.request("POST", "/_emu/nodes/ml2/_start")).status == 200
        assert (await emu.request("POST", "/_emu/_sync_up")).status == 200
        assert (await emu.request("DELETE", "/_emu/nodes/ml3")).status == 200
        r = await emu.request("POST", "/_emu/nodes/nope/_stop")
        assert (r.status, r.body["error"]["type"]) == (404, "status_exception")
        r = await emu.request("POST", "/_emu/nodes", {"name": "ml1"})
        assert r.status == 400  # already in the cluster


async def world_on_ml_nodes(emu: Any) -> dict[str, str]:
    connector_id = (await emu.request("POST", f"{ML}/connectors/_create", body("openai_chat_connector"))).body["connector_id"]
    r = await emu.request("POST", f"{ML}/models/_register?deploy=true",
                          {"name": "m", "function_name": "remote", "connector_id": connector_id})
    assert r.status == 200, r.body
    return {"model_id": r.body["model_id"]}


async def test_held_tasks_over_rest(database_url):
    async with Emulator(database=database_url, **store_options(database_url), progression="manual") as emu:
        await emu.request("PUT", "/_cluster/settings", {"persistent": {"plugins.ml_commons.only_run_on_ml_node": False}})
        connector_id = (await emu.request("POST", f"{ML}/connectors/_create", body("openai_chat_connector"))).body["connector_id"]
        r = await emu.request("POST", "/_emu/tasks/_unhold", {"kind": "register"})
        assert r.body["holds"]["register"] == [] and r.body["holds"]["deploy"] == ["RUNNING"]
        model_id = (await emu.request("POST", f"{ML}/models/_register", {
            "name": "m", "function_name": "remote", "connector_id": connector_id})).body["model_id"]
        r = await emu.request("POST", f"{ML}/models/{model_id}/_deploy")
        task_id = r.body["task_id"]
        pending = (await emu.request("GET", "/_emu/tasks")).body["pending"]
        assert [(p["task_id"], p["kind"], p["state"]) for p in pending] == [(task_id, "deploy", "RUNNING")]
        assert (await emu.request("GET", f"{ML}/models/{model_id}")).body["model_state"] == "DEPLOYING"
        r = await emu.request("POST", f"/_emu/tasks/{task_id}/_fail", {"error": "node on fire"})
        assert r.status == 200, r.body
        task = (await emu.request("GET", f"{ML}/tasks/{task_id}")).body
        assert task["state"] == "FAILED" and "node on fire" in task["error"]
        r = await emu.request("POST", f"{ML}/models/{model_id}/_deploy")
        r = await emu.request("POST", "/_emu/tasks/_release")
        assert len(r.body["released"]) == 1
        assert (await emu.request("GET", f"{ML}/models/{model_id}")).body["model_state"] == "DEPLOYED"
        r = await emu.request("POST", "/_emu/tasks/AAAAAAAAAAAAAAAAAAAA/_release")
        assert r.status == 404
        r = await emu.request("POST", "/_emu/tasks/_hold", {"kind": "register", "at": "RUNNING"})
        assert r.status == 400
