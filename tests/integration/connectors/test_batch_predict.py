"""Offline batch inference end to end: _batch_predict through the connector's batch_predict action
to the fake OpenAI Batch API, the BATCH_PREDICTION task and its status refresh, and cancel."""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from mlcommons_emu import Emulator
from mlcommons_emu.providers.openai import SAMPLE_BATCH_FILE_ID
from tests.conformance.test_errors import assert_error
from tests.conftest import store_options

ML = "/_plugins/_ml"
BLUEPRINT = json.loads((Path(__file__).resolve().parents[3] / "fixtures" / "blueprints"
                        / "openai_batch.json").read_text())
DISABLED = ("Offline Batch Inference is currently disabled. To enable it, update the setting "
            '"plugins.ml_commons.offline_batch_inference_enabled" to true.')


def connector_body(**changes: Any) -> dict[str, Any]:
    payload = copy.deepcopy(BLUEPRINT["connector"])
    payload.update(changes)
    return payload


async def model_with(emu: Emulator, connector: dict[str, Any], *, deploy: bool = True) -> str:
    r = await emu.request("POST", f"{ML}/connectors/_create", connector)
    assert r.status == 200, r.body
    r = await emu.request("POST", f"{ML}/models/_register", {
        "name": "openai batch", "function_name": "remote", "connector_id": r.body["connector_id"]})
    assert r.status == 200, r.body
    model_id = r.body["model_id"]
    if deploy:
        r = await emu.request("POST", f"{ML}/models/{model_id}/_deploy")
        assert r.status == 200, r.body
    return model_id


async def batch_predict(emu: Emulator, model_id: str, body: Any = None) -> Any:
    payload = BLUEPRINT["predict"]["body"] if body is None else body
    return await emu.request("POST", f"{ML}/models/{model_id}/_batch_predict", payload)


async def get_task(emu: Emulator, task_id: str) -> Any:
    return await emu.request("GET", f"{ML}/tasks/{task_id}")


async def put_setting(emu: Emulator, key: str, value: Any) -> None:
    r = await emu.request("PUT", "/_cluster/settings", {"persistent": {f"plugins.ml_commons.{key}": value}})
    assert r.status == 200, r.body


@pytest.fixture
async def emulator_at(database_url: str):
    """Emulators of other releases on the test's store backend."""
    opened: list[Emulator] = []

    async def start(version: str) -> Emulator:
        emu = await Emulator(database=database_url, seed=7, opensearch_version=version,
                             **store_options(database_url)).start()
        opened.append(emu)
        return emu

    yield start
    for emu in opened:
        await emu.stop()


# ------------------------------------------------------------------------- newest release
async def test_batch_predict_creates_a_task_whose_remote_job_is_the_providers_batch(emulator):
    fake = emulator.providers["openai"]
    model_id = await model_with(emulator, connector_body())
    fake.recorder.clear()

    r = await batch_predict(emulator, model_id)

    assert r.status == 200, r.body
    assert list(r.body) == ["task_id", "status", "remote_job"]
    assert r.body["status"] == "CREATED"
    [call] = fake.recorder.requests
    assert (call.method, call.path) == ("POST", "/v1/batches")
    assert call.headers["Authorization"] == "Bearer sk-test-key"
    assert call.json() == {"input_file_id": SAMPLE_BATCH_FILE_ID, "endpoint": "/v1/embeddings",
                           "completion_window": "24h"}
    [batch_id] = fake.batch_ids
    remote_job = r.body["remote_job"]
    assert remote_job == {**fake.batch(batch_id), "dlq": None}
    assert remote_job["status"] == "validating"

    task = await get_task(emulator, r.body["task_id"])
    assert task.status == 200, task.body
    assert list(task.body) == ["model_id", "task_type", "function_name", "state", "input_type", "worker_node",
                               "create_time", "last_update_time", "is_async", "remote_job"]
    assert task.body["model_id"] == model_id
    assert (task.body["task_type"], task.body["function_name"], task.body["input_type"]) == (
        "BATCH_PREDICTION", "REMOTE", "REMOTE")
    assert task.body["state"] == "RUNNING"  # the runner marks its task running before indexing it
    assert task.body["is_async"] is False
    assert task.body["worker_node"] == [emulator.context.cluster.nodes[0].node_id]
    assert task.body["remote_job"]["id"] == batch_id


async def test_reading_the_task_polls_the_batch_until_it_completes(emulator):
    fake = emulator.providers["openai"]
    model_id = await model_with(emulator, connector_body())
    task_id = (await batch_predict(emulator, model_id)).body["task_id"]
    fake.recorder.clear()

    seen = []
    for _ in range(3):
        task = await get_task(emulator, task_id)
        assert task.status == 200, task.body
        seen.append((task.body["state"], task.body["remote_job"]["status"]))
    assert seen == [("RUNNING", "in_progress"), ("RUNNING", "finalizing"), ("COMPLETED", "completed")]
    batch_id = task.body["remote_job"]["id"]
    # the default status action: GET <batch_predict url>/${parameters.id}, with the predict headers
    assert [(c.method, c.path) for c in fake.recorder.requests] == [("GET", f"/v1/batches/{batch_id}")] * 3
    assert fake.recorder.last.headers["Authorization"] == "Bearer sk-test-key"
    assert task.body["remote_job"]["request_counts"] == {"total": 2, "completed": 2, "failed": 0}

    output = fake.file_content(task.body["remote_job"]["output_file_id"]).decode().splitlines()
    records = [json.loads(line) for line in output]
    assert [r["custom_id"] for r in records] == ["request-1", "request-2"]
    for record in records:
        assert record["response"]["status_code"] == 200
        [item] = record["response"]["body"]["data"]
        assert len(item["embedding"]) == 1536
    # a finished task can be deleted; while the job ran (state RUNNING) it could not
    r = await emulator.request("DELETE", f"{ML}/tasks/{task_id}")
    assert r.status == 200 and r.body["result"] == "deleted"


async def test_the_task_document_keeps_the_refreshed_job(emulator):
    model_id = await model_with(emulator, connector_body())
    task_id = (await batch_predict(emulator, model_id)).body["task_id"]
    first = await get_task(emulator, task_id)
    async with emulator.context.transaction() as repos:
        stored = (await repos.tasks.get_document(task_id)).source
    assert stored["remote_job"] == first.body["remote_job"]
    assert stored["state"] == "RUNNING"
    assert stored["last_update_time"] >= first.body["last_update_time"]


async def test_a_running_batch_task_cannot_be_deleted(emulator):
    model_id = await model_with(emulator, connector_body())
    task_id = (await batch_predict(emulator, model_id)).body["task_id"]
    r = await emulator.request("DELETE", f"{ML}/tasks/{task_id}")
    assert_error(r, 500, "exception", "Task cannot be deleted in running state. Try after some time.")


async def test_cancel_calls_the_provider_and_the_next_read_shows_cancelled(emulator):
    fake = emulator.providers["openai"]
    model_id = await model_with(emulator, connector_body())
    task_id = (await batch_predict(emulator, model_id)).body["task_id"]
    fake.recorder.clear()

    r = await emulator.request("POST", f"{ML}/tasks/{task_id}/_cancel")

    assert (r.status, r.body) == (200, {"status": "OK"})
    [call] = fake.recorder.requests
    batch_id = fake.batch_ids[0]
    assert (call.method, call.path, call.body) == ("POST", f"/v1/batches/{batch_id}/cancel", b"")
    assert fake.batch(batch_id)["status"] == "cancelling"
    task = await get_task(emulator, task_id)
    assert (task.body["state"], task.body["remote_job"]["status"]) == ("CANCELLED", "cancelled")
    # a second cancel: the provider refuses a finished batch, and its error reaches the caller
    r = await emulator.request("POST", f"{ML}/tasks/{task_id}/_cancel")
    assert_error(r, 409, "status_exception",
                 'Error from remote service: {"error": {"message": "Cannot cancel a batch with status '
                 "'cancelled'.\", \"type\": \"invalid_request_error\", \"param\": null, \"code\": null}}")


async def test_expired_and_failed_jobs_end_the_task(emulator):
    fake = emulator.providers["openai"]
    model_id = await model_with(emulator, connector_body())
    expiring = (await batch_predict(emulator, model_id)).body
    fake.expire_batch(expiring["remote_job"]["id"])
    assert (await get_task(emulator, expiring["task_id"])).body["state"] == "EXPIRED"

    broken = fake.upload_file('{"custom_id": "a", "method": "POST", "url": "/v1/chat/completions"}\nnot json\n')
    failing = (await batch_predict(emulator, model_id, {"parameters": {"input_file_id": broken["id"]}})).body
    task = await get_task(emulator, failing["task_id"])
    assert task.body["state"] == "FAILED"
    codes = [e["code"] for e in task.body["remote_job"]["errors"]["data"]]
    assert codes == ["url_mismatch", "invalid_json_line"]


async def test_cancelling_a_task_without_a_batch_job(emulator):
    r = await emulator.request("POST", f"{ML}/connectors/_create", connector_body())
    r = await emulator.request("POST", f"{ML}/models/_register", {
        "name": "m", "function_name": "remote", "connector_id": r.body["connector_id"]})
    r = await emulator.request("POST", f"{ML}/tasks/{r.body['task_id']}/_cancel")
    assert_error(r, 400, "illegal_argument_exception",
                 "The task ID you provided does not have any associated batch job")
    r = await emulator.request("POST", f"{ML}/tasks/AAAAAAAAAAAAAAAAAAAA/_cancel")
    assert_error(r, 404, "status_exception", "Fail to find task")


async def test_status_and_cancel_use_the_headers_the_plugin_decrypts(emulator):
    """The deployed model and the status call send the predict action's headers (3.x decrypts
    PREDICT); the cancel call sends the cancel action's, which the default copies from
    batch_predict."""
    fake = emulator.providers["openai"]
    connector = connector_body(credential={"predict_key": "sk-predict", "batch_key": "sk-batch"})
    connector["actions"][0]["headers"] = {"Authorization": "Bearer ${credential.predict_key}"}
    connector["actions"][1]["headers"] = {"Authorization": "Bearer ${credential.batch_key}"}
    model_id = await model_with(emulator, connector)
    fake.recorder.clear()
    task_id = (await batch_predict(emulator, model_id)).body["task_id"]
    await get_task(emulator, task_id)
    await emulator.request("POST", f"{ML}/tasks/{task_id}/_cancel")
    sent = [(c.method, c.path.rsplit("/", 1)[-1], c.headers["Authorization"]) for c in fake.recorder.requests]
    batch_id = fake.batch_ids[0]
    assert sent == [("POST", "batches", "Bearer sk-predict"), ("GET", batch_id, "Bearer sk-predict"),
                    ("POST", "cancel", "Bearer sk-batch")]


async def test_dead_letter_queue_is_kept_in_the_remote_job(emulator):
    model_id = await model_with(emulator, connector_body())
    dlq = {"bucket": "failed-jobs", "region": "us-east-1"}
    r = await batch_predict(emulator, model_id, {"parameters": {}, "dlq": dlq})
    assert r.status == 200, r.body
    assert r.body["remote_job"]["dlq"] == dlq
    r = await batch_predict(emulator, model_id, {"parameters": {}, "dlq": {"bucket": "failed-jobs"}})
    assert_error(r, 400, "illegal_argument_exception", "DLQ bucketName or region cannot be null")


# --------------------------------------------------------------------------------- errors
async def test_connector_without_a_batch_predict_action(emulator):
    connector = connector_body()
    connector["actions"] = connector["actions"][:1]
    model_id = await model_with(emulator, connector)
    r = await batch_predict(emulator, model_id)
    assert_error(r, 400, "illegal_argument_exception", "no BATCH_PREDICT action found")


async def test_model_not_deployed_and_auto_deploy_off(emulator):
    model_id = await model_with(emulator, connector_body(), deploy=False)
    await put_setting(emulator, "model_auto_deploy.enable", False)
    r = await batch_predict(emulator, model_id)
    assert_error(r, 400, "illegal_argument_exception", "Model not ready yet. Please deploy the model first.")
    await put_setting(emulator, "model_auto_deploy.enable", True)
    r = await batch_predict(emulator, model_id)  # auto-deployed, as predict is
    assert r.status == 200, r.body


async def test_unknown_model_and_wrong_action_type(emulator):
    model_id = await model_with(emulator, connector_body())
    r = await batch_predict(emulator, "AAAAAAAAAAAAAAAAAAAA")
    assert_error(r, 404, "status_exception", "Failed to find model")
    r = await batch_predict(emulator, model_id, {"parameters": {}, "action_type": "train"})
    assert_error(r, 400, "illegal_argument_exception", "Wrong Action Type of train")


async def test_offline_batch_inference_disabled(emulator):
    model_id = await model_with(emulator, connector_body())
    task_id = (await batch_predict(emulator, model_id)).body["task_id"]
    await put_setting(emulator, "offline_batch_inference_enabled", False)
    assert_error(await batch_predict(emulator, model_id), 500, "illegal_state_exception", DISABLED)
    assert_error(await get_task(emulator, task_id), 500, "illegal_state_exception", DISABLED)
    r = await emulator.request("POST", f"{ML}/tasks/{task_id}/_cancel")
    assert_error(r, 500, "illegal_state_exception", DISABLED)
    # a model not cached on the node is read first, and that lookup's listener answers 404
    await emulator.request("POST", f"{ML}/models/{model_id}/_undeploy")
    assert_error(await batch_predict(emulator, model_id), 404, "illegal_state_exception", DISABLED)


async def test_limit_on_running_batch_tasks(emulator):
    model_id = await model_with(emulator, connector_body())
    await put_setting(emulator, "max_batch_inference_tasks", 1)
    assert (await batch_predict(emulator, model_id)).status == 200
    r = await batch_predict(emulator, model_id)
    assert_error(r, 429, "status_exception",
                 "Exceeded maximum limit for BATCH_PREDICTION tasks. To increase the limit, update the "
                 "plugins.ml_commons.max_batch_inference_tasks setting.")


async def test_provider_refusal_creates_no_task(emulator):
    model_id = await model_with(emulator, connector_body())
    r = await batch_predict(emulator, model_id, {"parameters": {"input_file_id": "file-missing"}})
    assert_error(r, 404, "status_exception",
                 'Error from remote service: {"error": {"message": "No such File object: file-missing", '
                 '"type": "invalid_request_error", "param": "input_file_id", "code": null}}')
    async with emulator.context.transaction() as repos:
        tasks = [d.source["task_type"] for d in await repos.tx.all(".plugins-ml-task")]
    assert "BATCH_PREDICTION" not in tasks


# ------------------------------------------------------------------------ older releases
async def test_2_15_has_no_batch_predict_route(emulator_at):
    emu = await emulator_at("2.15.0")
    r = await emu.request("POST", f"{ML}/models/abc/_batch_predict", {"parameters": {}})
    assert r.status == 400
    assert r.body["error"].startswith("no handler found for uri")


async def test_2_16_answers_the_providers_batch_like_a_predict(emulator_at):
    emu = await emulator_at("2.16.0")
    model_id = await model_with(emu, connector_body())
    r = await batch_predict(emu, model_id)
    assert r.status == 200, r.body
    [element] = r.body["inference_results"]
    assert element["status_code"] == 200
    [tensor] = element["output"]
    assert tensor["name"] == "response"
    assert tensor["dataAsMap"]["object"] == "batch"
    assert tensor["dataAsMap"]["status"] == "validating"
    assert isinstance(tensor["dataAsMap"]["created_at"], float)  # Gson read numbers as doubles
    async with emu.context.transaction() as repos:
        tasks = [d.source["task_type"] for d in await repos.tx.all(".plugins-ml-task")]
    assert "BATCH_PREDICTION" not in tasks


async def test_2_17_needs_status_and_cancel_actions_and_maps_exact_statuses(emulator_at):
    emu = await emulator_at("2.17.0")
    model_id = await model_with(emu, connector_body())
    r = await batch_predict(emu, model_id)
    assert r.status == 200, r.body
    assert list(r.body) == ["task_id", "status"]
    assert_error(await get_task(emu, r.body["task_id"]), 400, "illegal_argument_exception",
                 "no BATCH_PREDICT_STATUS action found")
    r = await emu.request("POST", f"{ML}/tasks/{r.body['task_id']}/_cancel")
    assert_error(r, 400, "illegal_argument_exception", "no CANCEL_BATCH_PREDICT action found")

    connector = connector_body()
    connector["actions"].append({
        "action_type": "batch_predict_status", "method": "GET",
        "url": "https://api.openai.com/v1/batches/${parameters.id}",
        "headers": {"Authorization": "Bearer ${credential.openAI_key}"}})
    model_id = await model_with(emu, connector)
    task_id = (await batch_predict(emu, model_id)).body["task_id"]
    states = [(await get_task(emu, task_id)).body["state"] for _ in range(3)]
    assert states == ["RUNNING", "RUNNING", "COMPLETED"]
