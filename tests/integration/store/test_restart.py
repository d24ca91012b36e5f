"""A restart on the same database keeps everything, and models come back as the plugin brings them back."""
from __future__ import annotations

import pytest

from mlcommons_emu import Emulator
from tests.conftest import BACKENDS, _fresh_postgres
from tests.seed import body
from tests.conftest import store_options


@pytest.fixture(params=BACKENDS)
def durable_url(request, sqlite_file_url):
    return sqlite_file_url if request.param == "sqlite" else _fresh_postgres()


async def deploy_one(emu: Emulator) -> tuple[str, str, str]:
    r = await emu.request("POST", "/_plugins/_ml/connectors/_create", body("openai_chat_connector"))
    connector_id = r.body["connector_id"]
    r = await emu.request("POST", "/_plugins/_ml/models/_register",
                          {"name": "persisted", "function_name": "remote", "connector_id": connector_id})
    task_id = r.body["task_id"]
    model_id = r.body.get("model_id") or (await emu.request("GET", f"/_plugins/_ml/tasks/{task_id}")).body["model_id"]
    r = await emu.request("POST", f"/_plugins/_ml/models/{model_id}/_deploy")
    assert r.status == 200, r.body
    return connector_id, model_id, task_id


async def test_newest_release_redeploys_after_restart(durable_url):
    async with Emulator(database=durable_url, **store_options(durable_url)) as emu:
        connector_id, model_id, task_id = await deploy_one(emu)
        node_id = emu.context.cluster.coordinator.node_id
        tasks_before = (await emu.request("GET", f"/_plugins/_ml/tasks/{task_id}")).body
    async with Emulator(database=durable_url, **store_options(durable_url)) as emu:
        assert emu.context.cluster.coordinator.node_id == node_id
        assert (await emu.request("GET", f"/_plugins/_ml/connectors/{connector_id}")).status == 200
        assert (await emu.request("GET", f"/_plugins/_ml/tasks/{task_id}")).body == tasks_before
        model = (await emu.request("GET", f"/_plugins/_ml/models/{model_id}")).body
        assert model["model_state"] == "DEPLOYED"
        assert model["auto_redeploy_retry_times"] == 0
        r = await emu.request("POST", f"/_plugins/_ml/models/{model_id}/_predict", body("predict_messages"))
        assert r.status == 200, r.body


async def test_2_9_models_drift_to_deploy_failed_after_restart(durable_url):
    async with Emulator(database=durable_url, **store_options(durable_url), opensearch_version="2.9.0") as emu:
        _, model_id, _ = await deploy_one(emu)
        assert (await emu.request("GET", f"/_plugins/_ml/models/{model_id}")).body["model_state"] == "DEPLOYED"
    async with Emulator(database=durable_url, **store_options(durable_url), opensearch_version="2.9.0") as emu:
        model = (await emu.request("GET", f"/_plugins/_ml/models/{model_id}")).body
        assert model["model_state"] == "DEPLOY_FAILED"
        assert model["current_worker_node_count"] == 0


async def test_master_key_is_created_once_and_kept(durable_url):
    async with Emulator(database=durable_url, **store_options(durable_url)) as emu:
        async with emu.context.store.transaction() as tx:
            first = (await tx.get(".plugins-ml-config", "master_key")).source
    async with Emulator(database=durable_url, **store_options(durable_url)) as emu:
        async with emu.context.store.transaction() as tx:
            second = (await tx.get(".plugins-ml-config", "master_key")).source
    assert first == second
    import base64

    assert len(base64.b64decode(first["master_key"])) == 32
    assert isinstance(first["create_time"], int)


async def test_credentials_are_ciphertext_at_rest(durable_url):
    async with Emulator(database=durable_url, **store_options(durable_url)) as emu:
        r = await emu.request("POST", "/_plugins/_ml/connectors/_create", body("openai_chat_connector"))
        connector_id = r.body["connector_id"]
        async with emu.context.store.transaction() as tx:
            stored = (await tx.get(".plugins-ml-connector", connector_id)).source
    assert stored["credential"]["openAI_key"].startswith("AgV4")
    assert "sk-seed-example-key" not in str(stored)
