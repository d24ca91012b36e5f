"""Nodes joining and leaving at run time, the sync-up job, and task progression control.

References: fidelity-notes.md ("Tasks and states", "Deploy plans and nodes"),
ml-commons-rest.md §10 (10.1 lifecycle, 10.2 sync-up job), and the plugin source behind
mlcommons_emu.services.membership, .syncup, .deployment and mlcommons_emu.cluster.progression.
Every test builds its own emulator on the test's store (SQLite, and PostgreSQL when set).
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from typing import Any, AsyncIterator

import pytest

from mlcommons_emu import Emulator
from tests.conftest import fresh_store, store_options
from tests.seed import body

ML = "/_plugins/_ml"
#: a dedicated cluster manager (the coordinating node) and two ML workers: eligible for
#: remote models in every release (2.9: ml nodes; 2.10+: the data and ml roles)
WORKERS = "manager:cluster_manager,w1:ml,w2:ml"
NODE_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")
BOTH = pytest.mark.parametrize("version", ["2.9.0", "3.8.0"])


@contextlib.asynccontextmanager
async def cluster(database_url: str, version: str = "3.8.0", nodes: str = WORKERS,
                  **options: Any) -> AsyncIterator[Emulator]:
    async with Emulator(database=database_url, **store_options(database_url), nodes=nodes,
                        opensearch_version=version, seed=5, **options) as emu:
        yield emu


async def call(emu: Emulator, method: str, path: str, payload: Any = None) -> Any:
    r = await emu.request(method, path, payload)
    assert r.status == 200, r.body
    return r.body


async def put_setting(emu: Emulator, key: str, value: Any) -> None:
    await call(emu, "PUT", "/_cluster/settings", {"persistent": {f"plugins.ml_commons.{key}": value}})


async def register(emu: Emulator) -> str:
    """A remote model's id; 2.9 answers before the model exists, so its task is read."""
    connector = await call(emu, "POST", f"{ML}/connectors/_create", body("openai_chat_connector"))
    name = f"chat-{connector['connector_id']}"  # 2.9-2.10 refuse a second group of one name
    answer = await call(emu, "POST", f"{ML}/models/_register",
                        {"name": name, "function_name": "remote", "connector_id": connector["connector_id"]})
    if "model_id" in answer:
        return answer["model_id"]
    await emu.tasks.settle()
    return (await task_doc(emu, answer["task_id"]))["model_id"]


async def deploy(emu: Emulator, model_id: str, payload: Any = None) -> str:
    return (await call(emu, "POST", f"{ML}/models/{model_id}/_deploy", payload))["task_id"]


async def model_doc(emu: Emulator, model_id: str) -> dict:
    return await call(emu, "GET", f"{ML}/models/{model_id}")


async def task_doc(emu: Emulator, task_id: str) -> dict:
    return await call(emu, "GET", f"{ML}/tasks/{task_id}")


def plan(model: dict) -> tuple:
    return (model["model_state"], sorted(model.get("planning_worker_nodes", [])),
            model.get("planning_worker_node_count"), model.get("current_worker_node_count"))


def serving(emu: Emulator, model_id: str) -> set[str]:
    return {r.node.name for r in emu.context.cluster.serving(model_id)}


async def predict(emu: Emulator, model_id: str) -> Any:
    return await emu.request("POST", f"{ML}/models/{model_id}/_predict", body("predict_messages"))


def error(r: Any) -> tuple:
    return r.status, r.body["error"]["type"], r.body["error"]["reason"]


# ------------------------------------------------------------------ nodes leaving and the sync-up

@BOTH
async def test_a_default_deploy_stays_deployed_when_a_node_stops(database_url, version):
    async with cluster(database_url, version) as emu:
        model_id = await register(emu)
        task_id = await deploy(emu, model_id)
        before = await model_doc(emu, model_id)
        task_before = await task_doc(emu, task_id)
        w1, w2 = emu.node_id("w1"), emu.node_id("w2")
        assert plan(before) == ("DEPLOYED", sorted([w1, w2]), 2, 2)
        await emu.stop_node("w2")
        after = await model_doc(emu, model_id)
        # the planned set shrinks with the cluster (deploy_to_all_nodes), the state stays
        assert plan(after) == ("DEPLOYED", [w1], 1, 1)
        assert after["deploy_to_all_nodes"] is True
        assert after["last_updated_time"] >= before["last_updated_time"]
        assert await task_doc(emu, task_id) == task_before  # the sync-up never rewrites tasks
        assert serving(emu, model_id) == {"w1"}
        assert (await predict(emu, model_id)).status == 200
        assert emu.last_served_by(model_id) == w1


@BOTH
async def test_a_custom_plan_becomes_partially_deployed_when_a_node_stops(database_url, version):
    async with cluster(database_url, version) as emu:
        model_id = await register(emu)
        await put_setting(emu, "allow_custom_deployment_plan", True)
        w1, w2 = emu.node_id("w1"), emu.node_id("w2")
        task_id = await deploy(emu, model_id, {"node_ids": [w1, w2]})
        task_before = await task_doc(emu, task_id)
        await emu.stop_node(w2)  # by id or by name
        model = await model_doc(emu, model_id)
        assert plan(model) == ("PARTIALLY_DEPLOYED", sorted([w1, w2]), 2, 1)
        assert "deploy_to_all_nodes" not in model
        assert await task_doc(emu, task_id) == task_before
        assert (await predict(emu, model_id)).status == 200


@BOTH
async def test_the_model_is_deploy_failed_when_every_worker_leaves(database_url, version):
    async with cluster(database_url, version) as emu:
        model_id = await register(emu)
        task_id = await deploy(emu, model_id)
        task_before = await task_doc(emu, task_id)
        await emu.stop_node("w1")
        assert (await model_doc(emu, model_id))["model_state"] == "DEPLOYED"
        await emu.stop_node("w2")
        model = await model_doc(emu, model_id)
        assert plan(model) == ("DEPLOY_FAILED", [], 0, 0)
        assert await task_doc(emu, task_id) == task_before
        assert serving(emu, model_id) == set()


async def test_sync_up_never_rewrites_task_documents(database_url):
    async with cluster(database_url) as emu:
        first, second = await register(emu), await register(emu)
        await deploy(emu, first)
        await deploy(emu, second)
        search = {"query": {"match_all": {}}, "size": 100}
        tasks = (await call(emu, "POST", f"{ML}/tasks/_search", search))["hits"]["hits"]
        assert len(tasks) == 4
        await emu.stop_node("w1")
        await emu.start_node("w1")
        for _ in range(2):
            report = await emu.sync_up()
            assert report.timed_out == ()
        again = (await call(emu, "POST", f"{ML}/tasks/_search", search))["hits"]["hits"]
        # auto-redeploy (3.8) added tasks of its own; the four first ones are as they were
        old = {t["_id"]: t["_source"] for t in tasks}
        assert {t["_id"]: t["_source"] for t in again if t["_id"] in old} == old


async def test_the_sync_up_job_disabled_leaves_the_model_until_run_by_hand(database_url):
    async with cluster(database_url) as emu:
        model_id = await register(emu)
        await deploy(emu, model_id)
        await put_setting(emu, "sync_up_job_interval_in_seconds", 0)
        await emu.stop_node("w2")
        model = await model_doc(emu, model_id)
        assert plan(model)[2:] == (2, 2)  # nothing reconciled yet
        report = await emu.sync_up()
        assert report.models == (model_id,)
        assert plan(await model_doc(emu, model_id)) == ("DEPLOYED", [emu.node_id("w1")], 1, 1)


async def test_the_last_cluster_manager_cannot_stop(database_url):
    async with cluster(database_url) as emu:
        with pytest.raises(ValueError, match="last cluster-manager node"):
            await emu.stop_node("manager")
        with pytest.raises(KeyError):
            await emu.stop_node("nope")
        await emu.stop_node("w1")
        with pytest.raises(ValueError, match="already stopped"):
            await emu.stop_node("w1")


# ------------------------------------------------------------------ a node leaving mid-deploy

async def test_3_8_a_node_leaving_mid_deploy_is_dropped_from_the_task(database_url):
    # TransportForwardAction (2.18+): the last report drops expected nodes no longer in the
    # cluster; nothing is recorded for them in the task error
    async with cluster(database_url, progression="manual") as emu:
        emu.tasks.unhold("register")
        model_id = await register(emu)
        answer = await call(emu, "POST", f"{ML}/models/{model_id}/_deploy")
        assert answer["status"] == "COMPLETED"  # 2.11+: answered once the nodes acknowledged
        (held,) = emu.tasks.pending()
        assert (held.task_id, held.kind, held.state) == (answer["task_id"], "deploy", "RUNNING")
        assert (await task_doc(emu, held.task_id))["state"] == "RUNNING"
        assert (await model_doc(emu, model_id))["model_state"] == "DEPLOYING"
        w1 = emu.node_id("w1")
        await emu.stop_node("w2")
        # the sync-up keeps the model DEPLOYING (w1 reports the deploy running) and shrinks the plan
        assert plan(await model_doc(emu, model_id)) == ("DEPLOYING", [w1], 1, 0)
        assert await emu.tasks.release() == [held.task_id]
        task = await task_doc(emu, held.task_id)
        assert task["state"] == "COMPLETED" and "error" not in task
        assert plan(await model_doc(emu, model_id)) == ("DEPLOYED", [w1], 1, 1)
        assert serving(emu, model_id) == {"w1"}
        assert (await call(emu, "GET", f"{ML}/profile/tasks")) == {}


async def test_3_8_a_custom_plan_losing_a_node_mid_deploy_ends_partially_deployed(database_url):
    async with cluster(database_url, progression="manual") as emu:
        emu.tasks.unhold("register")
        model_id = await register(emu)
        await put_setting(emu, "allow_custom_deployment_plan", True)
        w1, w2 = emu.node_id("w1"), emu.node_id("w2")
        task_id = await deploy(emu, model_id, {"node_ids": [w1, w2]})
        await emu.tasks.wait_pending()
        await emu.stop_node("w2")
        await emu.tasks.release(task_id)
        assert (await task_doc(emu, task_id))["state"] == "COMPLETED"
        assert plan(await model_doc(emu, model_id)) == ("DEPLOYED", sorted([w1, w2]), 2, 1)
        await emu.sync_up()  # the next run compares with the plan
        assert plan(await model_doc(emu, model_id)) == ("PARTIALLY_DEPLOYED", sorted([w1, w2]), 2, 1)


async def test_2_9_a_node_leaving_mid_deploy_leaves_the_task_running_until_it_times_out(database_url, monkeypatch):
    # before 2.18 the coordinating node waits for the report of the node that left for ever;
    # the sync-up settles the model and, after ml_task_timeout_in_seconds, fails the task
    async with cluster(database_url, "2.9.0", progression="manual") as emu:
        emu.tasks.unhold("register")
        model_id = await register(emu)
        answer = await call(emu, "POST", f"{ML}/models/{model_id}/_deploy")
        assert answer == {"task_id": answer["task_id"], "status": "CREATED"}  # answered at once
        (held,) = await emu.tasks.wait_pending()
        task_id = held.task_id
        await emu.stop_node("w2")
        await emu.tasks.release()
        assert (await task_doc(emu, task_id))["state"] == "RUNNING"
        assert (await model_doc(emu, model_id))["model_state"] == "DEPLOYING"
        report = await emu.sync_up()
        assert report == type(report)(models=(model_id,), timed_out=())
        assert plan(await model_doc(emu, model_id)) == ("DEPLOYED", [emu.node_id("w1")], 1, 1)
        assert (await task_doc(emu, task_id))["state"] == "RUNNING"
        # the coordinating node still holds the task
        profile = await call(emu, "GET", f"{ML}/profile/tasks")
        assert task_id in profile["nodes"][emu.node_id("manager")]["tasks"]
        await put_setting(emu, "ml_task_timeout_in_seconds", 1)
        real = emu.context.clock
        monkeypatch.setattr(emu.context, "clock", lambda: real() + 1_500)
        report = await emu.sync_up()
        assert report.timed_out == (task_id,)
        task = await task_doc(emu, task_id)
        assert (task["state"], task["error"]) == ("FAILED", "timeout after 1 seconds")
        assert (await model_doc(emu, model_id))["model_state"] == "DEPLOYED"
        assert (await call(emu, "GET", f"{ML}/profile/tasks")) == {}


async def test_a_task_held_past_ml_task_timeout_is_failed_by_the_sync_up(database_url, monkeypatch):
    async with cluster(database_url, progression="manual") as emu:
        emu.tasks.unhold("register")
        model_id = await register(emu)
        task_id = await deploy(emu, model_id)
        await put_setting(emu, "ml_task_timeout_in_seconds", 1)
        assert (await emu.sync_up()).timed_out == ()  # not yet
        real = emu.context.clock
        monkeypatch.setattr(emu.context, "clock", lambda: real() + 1_500)
        report = await emu.sync_up()
        assert report.timed_out == (task_id,)
        task = await task_doc(emu, task_id)
        assert (task["state"], task["error"]) == ("FAILED", "timeout after 1 seconds")
        await emu.tasks.settle(timeout=5)
        assert emu.tasks.pending() == []  # the held work stopped with it
        assert serving(emu, model_id) == set()


# ------------------------------------------------------------------ holding, releasing, failing

@BOTH
async def test_a_held_deploy_released_and_another_failed(database_url, version):
    async with cluster(database_url, version, progression="manual") as emu:
        emu.tasks.unhold("register")
        released, failed = await register(emu), await register(emu)
        w1, w2 = emu.node_id("w1"), emu.node_id("w2")
        first = await deploy(emu, released)
        second = await deploy(emu, failed)
        held = await emu.tasks.wait_pending(2)
        assert [(p.task_id, p.state, p.model_id, set(p.nodes)) for p in held] == [
            (first, "RUNNING", released, {w1, w2}), (second, "RUNNING", failed, {w1, w2})]
        # the nodes have the task in memory, RUNNING, and the model DEPLOYING
        profile = (await call(emu, "GET", f"{ML}/profile"))["nodes"]
        assert profile[w1]["tasks"][first]["state"] == "RUNNING"
        assert profile[w1]["models"][released]["model_state"] == "DEPLOYING"
        await emu.tasks.release(first)
        assert (await task_doc(emu, first))["state"] == "COMPLETED"
        assert (await model_doc(emu, released))["model_state"] == "DEPLOYED"
        await emu.tasks.fail(second, "Failed to decrypt credentials")
        task = await task_doc(emu, second)
        assert task["state"] == "FAILED"
        assert json.loads(task["error"]) == {w1: "Failed to decrypt credentials", w2: "Failed to decrypt credentials"}
        model = await model_doc(emu, failed)
        assert (model["model_state"], model["current_worker_node_count"]) == ("DEPLOY_FAILED", 0)
        assert emu.tasks.pending() == []
        with pytest.raises(KeyError):
            await emu.tasks.release(second)


async def test_failing_one_node_of_a_held_deploy(database_url):
    async with cluster(database_url, progression="manual") as emu:
        emu.tasks.unhold("register")
        model_id = await register(emu)
        task_id = await deploy(emu, model_id)
        w2 = emu.node_id("w2")
        await emu.tasks.fail(task_id, "Connection refused", nodes=[w2])
        task = await task_doc(emu, task_id)
        assert (task["state"], json.loads(task["error"])) == ("COMPLETED_WITH_ERROR", {w2: "Connection refused"})
        assert plan(await model_doc(emu, model_id))[0::3] == ("PARTIALLY_DEPLOYED", 1)
        assert serving(emu, model_id) == {"w1"}
        # the failed share is counted where it ran
        stats = (await call(emu, "GET", f"{ML}/stats"))["nodes"]
        assert stats[w2]["models"][model_id]["deploy"]["ml_action_request_count"] == 1
        assert stats[w2]["ml_deployed_model_count"] == 0


async def test_3_8_a_deploy_held_created_keeps_its_caller_waiting_and_fails_with_the_fan_out(database_url):
    async with cluster(database_url, progression="manual") as emu:
        emu.tasks.unhold("register")
        emu.tasks.hold("deploy", at="CREATED")
        model_id = await register(emu)
        call_ = asyncio.create_task(emu.request("POST", f"{ML}/models/{model_id}/_deploy"))
        (held,) = await emu.tasks.wait_pending()
        assert held.state == "CREATED" and not call_.done()
        assert (await task_doc(emu, held.task_id))["state"] == "CREATED"
        assert (await model_doc(emu, model_id))["model_state"] == "DEPLOYING"
        await emu.tasks.fail(held.task_id, "Node not connected")
        assert error(await call_) == (500, "m_l_exception", "Node not connected")
        task = await task_doc(emu, held.task_id)
        assert (task["state"], task["error"]) == ("FAILED", "Node not connected")
        assert (await model_doc(emu, model_id))["model_state"] == "DEPLOY_FAILED"


async def test_2_9_a_deploy_held_created_was_answered_already(database_url):
    async with cluster(database_url, "2.9.0", progression="manual") as emu:
        emu.tasks.unhold("register")
        emu.tasks.hold("deploy", at=("CREATED", "RUNNING"))
        model_id = await register(emu)
        task_id = await deploy(emu, model_id)
        (held,) = await emu.tasks.wait_pending()
        assert (held.task_id, held.state) == (task_id, "CREATED")
        await emu.tasks.release()
        assert [(p.task_id, p.state) for p in emu.tasks.pending()] == [(task_id, "RUNNING")]
        await emu.tasks.release()
        assert (await task_doc(emu, task_id))["state"] == "COMPLETED"


async def test_3_8_a_held_register_answers_only_once_released(database_url):
    async with cluster(database_url, progression="manual") as emu:
        emu.tasks.unhold("register")
        await register(emu)  # the profile answers {} while the model index does not exist (2.14+)
        emu.tasks.hold("register")
        connector = await call(emu, "POST", f"{ML}/connectors/_create", body("openai_chat_connector"))
        payload = {"name": "chat", "function_name": "remote", "connector_id": connector["connector_id"]}
        pending = asyncio.create_task(emu.request("POST", f"{ML}/models/_register", payload))
        (held,) = await emu.tasks.wait_pending(kind="register")
        assert (held.kind, held.state, held.model_id) == ("register", "CREATED", None)
        task = await task_doc(emu, held.task_id)
        assert task["state"] == "CREATED" and "model_id" not in task and task["is_async"] is False
        # the coordinating node's memory has it RUNNING (checkAndAddRunningTask)
        profile = await call(emu, "GET", f"{ML}/profile/tasks")
        assert profile["nodes"][emu.node_id("manager")]["tasks"][held.task_id]["state"] == "RUNNING"
        assert not pending.done()
        await emu.tasks.release()
        answer = (await pending).body
        assert answer == {"task_id": held.task_id, "status": "CREATED", "model_id": answer["model_id"]}
        assert (await task_doc(emu, held.task_id))["state"] == "COMPLETED"
        # failed on demand: the call answers the error, the task keeps it
        pending = asyncio.create_task(emu.request("POST", f"{ML}/models/_register", payload))
        (held,) = await emu.tasks.wait_pending()
        await emu.tasks.fail(held.task_id, "Failed to update model group")
        assert error(await pending) == (500, "m_l_exception", "Failed to update model group")
        task = await task_doc(emu, held.task_id)
        assert (task["state"], task["error"]) == ("FAILED", "Failed to update model group")
        assert "model_id" not in task


async def test_2_9_a_held_register_was_answered_already(database_url):
    async with cluster(database_url, "2.9.0", progression="manual") as emu:
        connector = await call(emu, "POST", f"{ML}/connectors/_create", body("openai_chat_connector"))
        answer = await call(emu, "POST", f"{ML}/models/_register",
                            {"name": "chat", "function_name": "remote", "connector_id": connector["connector_id"]})
        assert answer == {"task_id": answer["task_id"], "status": "CREATED"}
        (held,) = await emu.tasks.wait_pending()
        assert held.task_id == answer["task_id"]
        assert (await task_doc(emu, held.task_id))["state"] == "CREATED"
        await emu.tasks.release()
        task = await task_doc(emu, held.task_id)
        assert task["state"] == "COMPLETED" and "model_id" in task
        model = await model_doc(emu, task["model_id"])
        assert model["model_state"] == "REGISTERED"


async def test_hold_arguments_are_checked(database_url):
    async with cluster(database_url) as emu:
        with pytest.raises(ValueError, match="never RUNNING"):
            emu.tasks.hold("register", at="RUNNING")
        with pytest.raises(ValueError):
            emu.tasks.hold("predict")
        with pytest.raises(ValueError):
            emu.tasks.hold(at="COMPLETED")
        emu.tasks.hold()  # both: deploys RUNNING, registers CREATED
        assert (emu.tasks.holds("deploy"), emu.tasks.holds("register")) == (("RUNNING",), ("CREATED",))


async def test_releasing_is_deterministic(database_url):
    async def run() -> list[tuple[str, str]]:
        await fresh_store(database_url)
        async with cluster(database_url, "2.9.0", progression="manual") as emu:
            connector = await call(emu, "POST", f"{ML}/connectors/_create", body("openai_chat_connector"))
            task_ids = []
            for name in ("a", "b", "c"):
                payload = {"name": name, "function_name": "remote", "connector_id": connector["connector_id"]}
                task_ids.append((await call(emu, "POST", f"{ML}/models/_register", payload))["task_id"])
            await emu.tasks.wait_pending(3)
            assert [p.task_id for p in emu.tasks.pending()] == task_ids  # oldest first
            await emu.tasks.release()
            return [(t, (await task_doc(emu, t))["model_id"]) for t in task_ids]

    assert await run() == await run()


# ------------------------------------------------------------------ latency mode

async def test_3_8_latency_mode_takes_time(database_url):
    async with cluster(database_url, progression="latency", task_latency_ms=300) as emu:
        started = time.perf_counter()
        model_id = await register(emu)  # 2.11+: answered once the model exists
        assert time.perf_counter() - started >= 0.2
        answer = await call(emu, "POST", f"{ML}/models/{model_id}/_deploy")
        assert answer["status"] == "COMPLETED"
        # answered once the nodes acknowledged: the task is still running
        assert (await task_doc(emu, answer["task_id"]))["state"] in ("CREATED", "RUNNING")
        assert (await model_doc(emu, model_id))["model_state"] == "DEPLOYING"
        await emu.tasks.settle(timeout=5)
        assert (await task_doc(emu, answer["task_id"]))["state"] == "COMPLETED"
        assert (await model_doc(emu, model_id))["model_state"] == "DEPLOYED"
        assert time.perf_counter() - started >= 0.4


async def test_2_9_latency_mode_answers_before_the_work(database_url):
    async with cluster(database_url, "2.9.0", progression="latency", task_latency_ms=200) as emu:
        connector = await call(emu, "POST", f"{ML}/connectors/_create", body("openai_chat_connector"))
        answer = await call(emu, "POST", f"{ML}/models/_register",
                            {"name": "chat", "function_name": "remote", "connector_id": connector["connector_id"]})
        assert (await task_doc(emu, answer["task_id"]))["state"] == "CREATED"
        await asyncio.sleep(0.4)
        task = await task_doc(emu, answer["task_id"])
        assert task["state"] == "COMPLETED"
        deployed = await deploy(emu, task["model_id"])
        assert (await task_doc(emu, deployed))["state"] == "CREATED"
        await emu.tasks.settle(timeout=5)
        assert (await task_doc(emu, deployed))["state"] == "COMPLETED"


# ------------------------------------------------------------------ predict routing

async def test_predict_round_robins_over_the_workers_and_says_where(database_url):
    async with cluster(database_url) as emu:
        model_id = await register(emu)
        await deploy(emu, model_id)
        assert emu.last_served_by(model_id) is None
        w1, w2 = emu.node_id("w1"), emu.node_id("w2")
        served = []
        for _ in range(4):
            assert (await predict(emu, model_id)).status == 200
            served.append(emu.last_served_by(model_id))
        assert set(served) == {w1, w2} and all(a != b for a, b in zip(served, served[1:]))
        stats = (await call(emu, "GET", f"{ML}/stats"))["nodes"]
        assert [stats[n]["models"][model_id]["predict"]["ml_action_request_count"] for n in (w1, w2)] == [2, 2]
        await emu.stop_node("w1")
        for _ in range(2):
            assert (await predict(emu, model_id)).status == 200
            assert emu.last_served_by(model_id) == w2
        stats = (await call(emu, "GET", f"{ML}/stats"))["nodes"]
        assert w1 not in stats  # a stopped node answers nothing
        assert stats[w2]["models"][model_id]["predict"]["ml_action_request_count"] == 4


# ------------------------------------------------------------------ nodes coming back, nodes added

async def test_2_9_a_restarted_node_comes_back_empty_and_a_redeploy_fills_it(database_url):
    async with cluster(database_url, "2.9.0") as emu:
        model_id = await register(emu)
        await deploy(emu, model_id)
        w1, w2 = emu.node_id("w1"), emu.node_id("w2")
        await emu.stop_node("w2")
        await emu.start_node("w2")
        assert emu.node_id("w2") == w2  # same id
        assert serving(emu, model_id) == {"w1"}
        # no auto-redeploy before 2.12: the plan grows back, one node holds it
        assert plan(await model_doc(emu, model_id)) == ("PARTIALLY_DEPLOYED", sorted([w1, w2]), 2, 1)
        stats = (await call(emu, "GET", f"{ML}/stats"))["nodes"]
        assert stats[w2]["ml_node_total_model_count"] == 0 and stats[w1]["ml_node_total_model_count"] == 1
        task_id = await deploy(emu, model_id)
        assert (await task_doc(emu, task_id))["state"] == "COMPLETED"
        assert plan(await model_doc(emu, model_id)) == ("DEPLOYED", sorted([w1, w2]), 2, 2)
        assert serving(emu, model_id) == {"w1", "w2"}


async def test_3_8_a_restarted_node_gets_the_model_back_by_auto_redeploy(database_url):
    async with cluster(database_url) as emu:
        model_id = await register(emu)
        first = await deploy(emu, model_id)
        w1, w2 = emu.node_id("w1"), emu.node_id("w2")
        await emu.stop_node("w2")
        await emu.start_node("w2")
        assert serving(emu, model_id) == {"w1", "w2"}
        model = await model_doc(emu, model_id)
        assert plan(model) == ("DEPLOYED", sorted([w1, w2]), 2, 2)
        assert model["auto_redeploy_retry_times"] == 0  # reset by the successful redeploy
        search = {"query": {"bool": {"filter": [{"term": {"model_id": model_id}},
                                                 {"term": {"task_type": "DEPLOY_MODEL"}}]}}, "size": 10}
        tasks = (await call(emu, "POST", f"{ML}/tasks/_search", search))["hits"]["hits"]
        assert len(tasks) == 2 and all(t["_source"]["state"] == "COMPLETED" for t in tasks)
        assert first in {t["_id"] for t in tasks}


async def test_nodes_added_at_run_time_keep_their_id_and_take_models(database_url):
    async with cluster(database_url) as emu:
        model_id = await register(emu)
        await deploy(emu, model_id)
        w3 = await emu.add_node("w3", roles=("ml",))
        assert NODE_ID.match(w3) and w3 == emu.node_id("w3")
        # 3.8 auto-redeploys a model deployed to all nodes onto the new node
        assert serving(emu, model_id) == {"w1", "w2", "w3"}
        assert plan(await model_doc(emu, model_id))[2:] == (3, 3)
        ingest = await emu.add_node("i1", roles=["ingest"])  # not eligible: nothing changes
        assert serving(emu, model_id) == {"w1", "w2", "w3"}
        await emu.remove_node("w3")
        assert plan(await model_doc(emu, model_id))[0::3] == ("DEPLOYED", 2)
        assert w3 not in {r.node_id for r in emu.context.cluster.nodes}
        assert await emu.add_node("w3", roles=("ml",)) == w3  # the store kept its id
        with pytest.raises(ValueError, match="already in the cluster"):
            await emu.add_node("i1")
        with pytest.raises(ValueError, match="unknown role"):
            await emu.add_node("x", roles=("gpu",))
        await emu.remove_node("i1")
        assert ingest not in {r.node_id for r in emu.context.cluster.nodes}


async def test_2_9_an_ml_node_added_to_a_data_cluster_becomes_the_only_eligible_node(database_url):
    # 2.9 deploys remote models to ml nodes; data nodes only while only_run_on_ml_node is false
    async with cluster(database_url, "2.9.0", nodes="manager:cluster_manager,d1:data") as emu:
        model_id = await register(emu)
        r = await emu.request("POST", f"{ML}/models/{model_id}/_deploy")
        assert error(r) == (400, "illegal_argument_exception", "no eligible node found")
        m1 = await emu.add_node("m1", roles=["ml"])
        task_id = await deploy(emu, model_id)
        assert (await task_doc(emu, task_id))["worker_node"] == [m1]
        assert serving(emu, model_id) == {"m1"}
