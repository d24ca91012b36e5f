"""Tasks a crash left in flight: kept as they are by default (the plugin never repairs task
documents after a full restart), FAILED with a clear error under
``fail_inflight_tasks_on_restart`` (``serve --fail-inflight-tasks``); models are reconciled
as usual either way."""
from __future__ import annotations

import attrs
import pytest

from mlcommons_emu import Emulator
from mlcommons_emu.cli import build_parser
from mlcommons_emu.domain.states import ModelState, TaskState, TaskType
from mlcommons_emu.domain.task import Task
from mlcommons_emu.emulator import INFLIGHT_TASK_ERROR
from mlcommons_emu.store import rows
from tests.conftest import BACKENDS, _fresh_postgres, store_options
from tests.integration.server_process import read_documents
from tests.seed import body

ML = "/_plugins/_ml"


@pytest.fixture(params=BACKENDS)
def durable_url(request, sqlite_file_url):
    return sqlite_file_url if request.param == "sqlite" else _fresh_postgres()


async def crash_mid_flight(url: str) -> dict[str, str]:
    """The store as a kill leaves it: a register task CREATED, a deploy task RUNNING with its
    model DEPLOYING, a batch task RUNNING (its job lives at the provider), a settled task."""
    async with Emulator(database=url, **store_options(url)) as emu:
        r = await emu.request("POST", f"{ML}/connectors/_create", body("openai_chat_connector"))
        connector_id = r.body["connector_id"]
        r = await emu.request("POST", f"{ML}/models/_register",
                              {"name": "m", "function_name": "remote", "connector_id": connector_id})
        model_id, settled = r.body["model_id"], r.body["task_id"]
        ctx = emu.context
        now = ctx.now()
        node = ctx.cluster.coordinator.node_id
        registering = Task(task_id="register-in-flight", task_type=TaskType.REGISTER_MODEL, function_name="REMOTE",
                           state=TaskState.CREATED, worker_node=(node,), create_time=now, last_update_time=now,
                           is_async=False)
        deploying = Task(task_id="deploy-in-flight", task_type=TaskType.DEPLOY_MODEL, function_name="REMOTE",
                         state=TaskState.RUNNING, worker_node=(node,), create_time=now, last_update_time=now,
                         is_async=True, model_id=model_id)
        batch = Task(task_id="batch-running", task_type=TaskType.BATCH_PREDICTION, function_name="REMOTE",
                     state=TaskState.RUNNING, worker_node=(node,), create_time=now, last_update_time=now,
                     is_async=True, model_id=model_id)
        async with ctx.transaction() as repos:
            for task in (registering, deploying, batch):
                await repos.tasks.put(task)
            model = await repos.models.get(model_id)
            await repos.models.put(attrs.evolve(model, model_state=ModelState.DEPLOYING,
                                                planning_worker_node_count=1, planning_worker_nodes=(node,)))
    return {"model": model_id, "settled": settled}


async def task_sources(url: str) -> dict[str, dict]:
    """The task documents as stored, read without starting an emulator."""
    docs = await read_documents(url, store_options(url).get("database_schema"))
    return {d.doc_id: d.source for d in docs if d.index == rows.TASK_INDEX}


async def test_by_default_tasks_in_flight_are_left_as_they_were(durable_url):
    ids = await crash_mid_flight(durable_url)
    before = await task_sources(durable_url)
    async with Emulator(database=durable_url, **store_options(durable_url)) as emu:
        after = await task_sources(durable_url)
        assert {k: v for k, v in after.items() if k in before} == before
        r = await emu.request("GET", f"{ML}/tasks/register-in-flight")
        assert r.status == 200 and r.body["state"] == "CREATED"
        assert (await emu.request("GET", f"{ML}/tasks/deploy-in-flight")).body["state"] == "RUNNING"
        # the model is reconciled as after any full restart: 3.8 redeploys it
        assert (await emu.request("GET", f"{ML}/models/{ids['model']}")).body["model_state"] == "DEPLOYED"


async def test_the_option_fails_register_and_deploy_tasks_in_flight(durable_url):
    ids = await crash_mid_flight(durable_url)
    before = await task_sources(durable_url)
    async with Emulator(database=durable_url, fail_inflight_tasks_on_restart=True, **store_options(durable_url)) as emu:
        after = await task_sources(durable_url)
        for task_id in ("register-in-flight", "deploy-in-flight"):
            r = await emu.request("GET", f"{ML}/tasks/{task_id}")
            assert r.status == 200
            assert r.body["state"] == "FAILED" and r.body["error"] == INFLIGHT_TASK_ERROR
            assert r.body["last_update_time"] >= before[task_id]["last_update_time"]
            unchanged = {k: v for k, v in before[task_id].items() if k not in ("state", "last_update_time")}
            assert {k: after[task_id][k] for k in unchanged} == unchanged
        assert INFLIGHT_TASK_ERROR.startswith("mlcommons-emu restarted while this task was running")
        # the batch task follows a job at the provider, the settled one is settled: untouched
        assert after["batch-running"] == before["batch-running"]
        assert after[ids["settled"]] == before[ids["settled"]]
        # models are left to the usual reconciliation (3.8: redeployed, with a new task)
        assert (await emu.request("GET", f"{ML}/models/{ids['model']}")).body["model_state"] == "DEPLOYED"
        redeploys = [t for k, t in after.items() if k not in before]
        assert [t["state"] for t in redeploys] == ["COMPLETED"]
    # a second restart with the option finds nothing more to fail
    async with Emulator(database=durable_url, fail_inflight_tasks_on_restart=True, **store_options(durable_url)):
        again = await task_sources(durable_url)
        assert {k: again[k] for k in after} == after


async def test_2_9_in_flight_deploy_leaves_the_model_deploy_failed_with_the_option(durable_url):
    async with Emulator(database=durable_url, opensearch_version="2.9.0", **store_options(durable_url)) as emu:
        r = await emu.request("POST", f"{ML}/connectors/_create", body("openai_chat_connector"))
        r = await emu.request("POST", f"{ML}/models/_register",
                              {"name": "m", "function_name": "remote", "connector_id": r.body["connector_id"]})
        task_id = r.body["task_id"]
        model_id = (await emu.request("GET", f"{ML}/tasks/{task_id}")).body["model_id"]
        r = await emu.request("POST", f"{ML}/models/{model_id}/_deploy")
        deploy_task = r.body["task_id"]
        async with emu.context.transaction() as repos:
            task = await repos.tasks.get(deploy_task)
            await repos.tasks.put(attrs.evolve(task, state=TaskState.RUNNING, error=None))
            model = await repos.models.get(model_id)
            await repos.models.put(attrs.evolve(model, model_state=ModelState.DEPLOYING))
    async with Emulator(database=durable_url, opensearch_version="2.9.0", fail_inflight_tasks_on_restart=True,
                        **store_options(durable_url)) as emu:
        task = (await emu.request("GET", f"{ML}/tasks/{deploy_task}")).body
        assert task["state"] == "FAILED" and task["error"] == INFLIGHT_TASK_ERROR
        assert (await emu.request("GET", f"{ML}/models/{model_id}")).body["model_state"] == "DEPLOY_FAILED"


def test_serve_flag():
    assert build_parser().parse_args(["serve"]).fail_inflight_tasks is False
    assert build_parser().parse_args(["serve", "--fail-inflight-tasks"]).fail_inflight_tasks is True
