"""``PUT /connectors/{id}`` (2.11+) and ``PUT /models/{id}`` (2.12+), in process.

What is pinned here comes from UpdateConnectorTransportAction, UpdateModelTransportAction,
RestMLUpdateConnectorAction, RestMLUpdateModelAction, HttpConnector.update and
MLUpdateModelInput across the release tags, and from OpenSearch's partial document update
(``UpdateRequest.doc``), which both actions use to write.
"""
from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any, AsyncIterator

import attrs
import pytest

from mlcommons_emu import Emulator
from mlcommons_emu.domain.states import ModelState
from tests.conftest import fresh_store, store_options
from tests.seed import body

ML = "/_plugins/_ml"
UNKNOWN = "AAAAAAAAAAAAAAAAAAAA"
USERS_FILE = Path(__file__).resolve().parents[2] / "fixtures" / "security" / "users.json"
SETTINGS_ON = {"persistent": {"plugins.ml_commons.model_access_control_enabled": True,
                              "plugins.ml_commons.connector_access_control_enabled": True}}
INLINE_CONNECTOR = {
    "name": "completions", "version": "1", "protocol": "http",
    "parameters": {"endpoint": "api.openai.com", "model": "gpt-3.5-turbo-instruct", "max_tokens": "7"},
    "credential": {"openAI_key": "sk-inline-first"},
    "actions": [{
        "action_type": "predict", "method": "POST", "url": "https://${parameters.endpoint}/v1/completions",
        "headers": {"Authorization": "Bearer ${credential.openAI_key}"},
        "request_body": '{ "model": "${parameters.model}", "prompt": "${parameters.prompt}", '
                        '"max_tokens": ${parameters.max_tokens} }',
    }],
}
PROMPT = {"parameters": {"prompt": "Say hi"}}


@contextlib.asynccontextmanager
async def release(database_url: str, version: str, **config: Any) -> AsyncIterator[Emulator]:
    await fresh_store(database_url)
    async with Emulator(database=database_url, **store_options(database_url), opensearch_version=version,
                        seed=7, **config) as emu:
        yield emu


def error(r: Any) -> tuple[int, str, str]:
    return r.status, r.body["error"]["type"], r.body["error"]["reason"]


async def connector(emu: Any, **changes: Any) -> str:
    payload = body("openai_chat_connector")
    payload.update(changes)
    r = await emu.request("POST", f"{ML}/connectors/_create", payload)
    assert r.status == 200, r.body
    return r.body["connector_id"]


async def model(emu: Any, connector_id: str | None = None, **fields: Any) -> str:
    payload: dict[str, Any] = {"name": fields.pop("name", "m"), "function_name": "remote", **fields}
    if "connector" not in payload:
        payload["connector_id"] = connector_id or await connector(emu)
    r = await emu.request("POST", f"{ML}/models/_register", payload)
    assert r.status == 200, r.body
    return r.body["model_id"]


async def deploy(emu: Any, model_id: str) -> None:
    r = await emu.request("POST", f"{ML}/models/{model_id}/_deploy")
    assert r.status == 200, r.body
    r = await emu.request("GET", f"{ML}/models/{model_id}")
    assert r.body["model_state"] == "DEPLOYED", r.body


async def stored(emu: Any, index: str, doc_id: str) -> dict[str, Any]:
    """The raw indexed document (what GET hides, such as ciphertexts)."""
    async with emu.context.transaction() as repos:
        doc = await repos.tx.get(index, doc_id)
    assert doc is not None
    return doc.source


def decrypt(emu: Any, ciphertext: str) -> str:
    return emu.context.cipher().decrypt(ciphertext)


# ===================================================================== PUT /connectors/{id}
class TestConnectorUpdate:
    async def test_success_is_an_update_response(self, emulator):
        connector_id = await connector(emulator)
        before = (await emulator.request("GET", f"{ML}/connectors/{connector_id}")).body
        await asyncio.sleep(0.005)
        r = await emulator.request("PUT", f"{ML}/connectors/{connector_id}",
                                   {"name": "renamed", "description": "new words", "version": 2})
        assert r.status == 200, r.body
        # 3.8: the remote-metadata SDK's update asks for an immediate refresh
        assert list(r.body) == ["_index", "_id", "_version", "result", "forced_refresh", "_shards",
                                "_seq_no", "_primary_term"]
        assert r.body["_index"] == ".plugins-ml-connector" and r.body["_id"] == connector_id
        assert (r.body["_version"], r.body["result"], r.body["forced_refresh"]) == (2, "updated", True)
        after = (await emulator.request("GET", f"{ML}/connectors/{connector_id}")).body
        assert (after["name"], after["description"], after["version"]) == ("renamed", "new words", "2")
        assert after["created_time"] == before["created_time"]
        assert after["last_updated_time"] > before["last_updated_time"]
        assert "credential" not in after

    async def test_actions_replace_the_list_and_are_checked_against_trusted_endpoints(self, emulator):
        connector_id = await connector(emulator)
        action = {"action_type": "predict", "method": "POST", "url": "https://api.openai.com/v1/completions",
                  "request_body": '{"prompt": "${parameters.prompt}"}'}
        r = await emulator.request("PUT", f"{ML}/connectors/{connector_id}", {"actions": [action]})
        assert r.status == 200, r.body
        doc = (await emulator.request("GET", f"{ML}/connectors/{connector_id}")).body
        assert doc["actions"] == [{**action, "action_type": "PREDICT"}]
        r = await emulator.request("PUT", f"{ML}/connectors/{connector_id}",
                                   {"actions": [{**action, "url": "https://api.example.com/v1"}]})
        assert error(r) == (400, "illegal_argument_exception",
                            "Connector URL is not matching the trusted connector endpoint regex")
        doc = (await emulator.request("GET", f"{ML}/connectors/{connector_id}")).body
        assert doc["actions"][0]["url"] == "https://api.openai.com/v1/completions"

    async def test_credential_is_re_encrypted_and_never_returned(self, emulator):
        connector_id = await connector(emulator)
        old = (await stored(emulator, ".plugins-ml-connector", connector_id))["credential"]["openAI_key"]
        r = await emulator.request("PUT", f"{ML}/connectors/{connector_id}",
                                   {"credential": {"openAI_key": "sk-rotated", "org": "org-1"}})
        assert r.status == 200, r.body
        credential = (await stored(emulator, ".plugins-ml-connector", connector_id))["credential"]
        assert credential["openAI_key"] != old and "sk-rotated" not in str(credential)
        assert decrypt(emulator, credential["openAI_key"]) == "sk-rotated"
        assert decrypt(emulator, credential["org"]) == "org-1"
        assert "credential" not in (await emulator.request("GET", f"{ML}/connectors/{connector_id}")).body
        # an empty credential map changes nothing
        r = await emulator.request("PUT", f"{ML}/connectors/{connector_id}", {"credential": {}})
        assert r.status == 200
        assert (await stored(emulator, ".plugins-ml-connector", connector_id))["credential"] == credential

    async def test_stored_credential_keys_the_update_does_not_name_stay(self, emulator):
        # the document update merges objects: the old key keeps its ciphertext
        connector_id = await connector(emulator)
        old = (await stored(emulator, ".plugins-ml-connector", connector_id))["credential"]["openAI_key"]
        await emulator.request("PUT", f"{ML}/connectors/{connector_id}", {"credential": {"other": "x"}})
        credential = (await stored(emulator, ".plugins-ml-connector", connector_id))["credential"]
        assert credential["openAI_key"] == old and decrypt(emulator, credential["other"]) == "x"

    async def test_predict_after_redeploy_uses_the_new_credential(self, emulator):
        connector_id = await connector(emulator)
        model_id = await model(emulator, connector_id)
        r = await emulator.request("PUT", f"{ML}/connectors/{connector_id}",
                                   {"credential": {"openAI_key": "sk-after-update"}, "parameters": {"model": "gpt-4o"}})
        assert r.status == 200, r.body
        await deploy(emulator, model_id)
        r = await emulator.request("POST", f"{ML}/models/{model_id}/_predict", body("predict_messages"))
        assert r.status == 200, r.body
        sent = emulator.providers["openai"].recorder.last
        assert sent.headers["Authorization"] == "Bearer sk-after-update"

    async def test_refused_while_a_deployed_model_uses_it(self, emulator):
        connector_id = await connector(emulator)
        model_id = await model(emulator, connector_id)
        idle = await model(emulator, connector_id, name="idle")  # registered, not deployed
        await deploy(emulator, model_id)
        r = await emulator.request("PUT", f"{ML}/connectors/{connector_id}", {"description": "x"})
        assert error(r) == (400, "status_exception",
                            f"1 models are still using this connector, please undeploy the models first: [{model_id}]")
        assert idle not in r.body["error"]["reason"]
        await emulator.request("POST", f"{ML}/models/{model_id}/_undeploy")
        r = await emulator.request("PUT", f"{ML}/connectors/{connector_id}", {"description": "x"})
        assert r.status == 200, r.body

    async def test_access_fields_are_stored_as_given_without_access_control(self, emulator):
        # HttpConnector.update copies backend_roles and access; no "disabled" refusal, no check
        connector_id = await connector(emulator)
        r = await emulator.request("PUT", f"{ML}/connectors/{connector_id}",
                                   {"access_mode": "public", "backend_roles": ["IT"], "add_all_backend_roles": True})
        assert r.status == 200, r.body
        doc = (await emulator.request("GET", f"{ML}/connectors/{connector_id}")).body
        assert (doc["access"], doc["backend_roles"]) == ("public", ["IT"])
        assert "owner" not in doc

    async def test_empty_body_unknown_id_and_missing_index(self, emulator):
        r = await emulator.request("PUT", f"{ML}/connectors/{UNKNOWN}", {"name": "x"})
        assert error(r) == (404, "status_exception", "Failed to find connector")
        await connector(emulator)
        r = await emulator.request("PUT", f"{ML}/connectors/{UNKNOWN}", {"name": "x"})
        assert error(r) == (404, "status_exception",
                            f"Failed to find connector with the provided connector id: {UNKNOWN}")
        r = await emulator.request("PUT", f"{ML}/connectors/{UNKNOWN}")
        assert error(r) == (400, "parse_exception", "Failed to update connector: Request body is empty")

    async def test_remote_inference_disabled(self, emulator):
        connector_id = await connector(emulator)
        await emulator.request("PUT", "/_cluster/settings",
                               {"persistent": {"plugins.ml_commons.remote_inference.enabled": False}})
        r = await emulator.request("PUT", f"{ML}/connectors/{connector_id}", {"name": "x"})
        assert r.status == 400
        assert r.body["error"]["reason"].startswith("Remote Inference is currently disabled.")


class TestConnectorUpdateByRelease:
    @pytest.mark.parametrize("version", ["2.9.0", "2.10.0"])
    async def test_no_route_before_2_11(self, database_url, version):
        async with release(database_url, version) as emu:
            connector_id = await connector(emu)
            r = await emu.request("PUT", f"{ML}/connectors/{connector_id}", {"name": "x"})
            assert r.status == 405
            assert r.body["error"] == (f"Incorrect HTTP method for uri [{ML}/connectors/{connector_id}] and method "
                                       "[PUT], allowed: [GET, DELETE]")

    async def test_2_11_gate_and_errors(self, database_url):
        async with release(database_url, "2.11.0") as emu:
            connector_id = await connector(emu)
            r = await emu.request("PUT", f"{ML}/connectors/{connector_id}", {"name": "x"})
            assert error(r) == (500, "illegal_state_exception",
                                'Update connector API is currently disabled. To enable it, update the setting '
                                '"plugins.ml_commons.update_connector.enabled" to true.')
            # the gate is checked before the body
            r = await emu.request("PUT", f"{ML}/connectors/{connector_id}")
            assert r.body["error"]["type"] == "illegal_state_exception"
            r = await emu.request("PUT", "/_cluster/settings",
                                  {"persistent": {"plugins.ml_commons.update_connector.enabled": True}})
            assert r.status == 200, r.body
            r = await emu.request("PUT", f"{ML}/connectors/{connector_id}")
            assert error(r) == (500, "i_o_exception", "Failed to update connector: Request body is empty")
            r = await emu.request("PUT", f"{ML}/connectors/{UNKNOWN}", {"name": "x"})
            assert error(r) == (500, "m_l_resource_not_found_exception", f"Fail to find connector:{UNKNOWN}")
            r = await emu.request("PUT", f"{ML}/connectors/{connector_id}", {"name": "x"})
            assert r.status == 200, r.body
            assert "forced_refresh" not in r.body
            model_id = await model(emu, connector_id)
            await deploy(emu, model_id)
            r = await emu.request("PUT", f"{ML}/connectors/{connector_id}", {"name": "y"})
            assert error(r) == (500, "m_l_validation_exception",
                                f"1 models are still using this connector, please undeploy the models first: "
                                f"[{model_id}]")

    async def test_2_12_drops_the_gate(self, database_url):
        async with release(database_url, "2.12.0") as emu:
            connector_id = await connector(emu)
            r = await emu.request("PUT", "/_cluster/settings",
                                  {"persistent": {"plugins.ml_commons.update_connector.enabled": True}})
            assert r.status == 400  # no longer a setting
            r = await emu.request("PUT", f"{ML}/connectors/{connector_id}", {"name": "x"})
            assert r.status == 200, r.body
            assert r.body["_shards"]["total"] == 2 and "forced_refresh" not in r.body
            r = await emu.request("PUT", f"{ML}/connectors/{UNKNOWN}", {"name": "x"})
            assert error(r) == (404, "status_exception", f"Failed to find connector:{UNKNOWN}")

    async def test_nothing_changed_is_a_noop_before_2_18(self, database_url):
        async with release(database_url, "2.12.0") as emu:
            connector_id = await connector(emu)
            r = await emu.request("PUT", f"{ML}/connectors/{connector_id}", {"name": "OpenAI Chat Connector"})
            assert r.status == 200, r.body
            assert (r.body["result"], r.body["_version"]) == ("noop", 1)
            assert r.body["_shards"] == {"total": 0, "successful": 0, "failed": 0}
            r = await emu.request("PUT", f"{ML}/connectors/{connector_id}", {})
            assert r.body["result"] == "noop"

    async def test_parameters_replace_for_the_url_check_until_2_15(self, database_url):
        # HttpConnector.update replaced the map in memory before 2.16, so the URL's
        # ${parameters.endpoint} is left unfilled (ml-commons issue 2502)
        for version, expected in (("2.15.0", 400), ("2.16.0", 200)):
            async with release(database_url, version) as emu:
                connector_id = await connector(emu)
                r = await emu.request("PUT", f"{ML}/connectors/{connector_id}", {"parameters": {"model": "gpt-4o"}})
                assert r.status == expected, (version, r.body)
                if expected == 400:
                    assert r.body["error"]["reason"] == (
                        "Connector URL is not matching the trusted connector endpoint regex, URL is: "
                        "https://${parameters.endpoint}/v1/chat/completions")
                else:
                    doc = (await emu.request("GET", f"{ML}/connectors/{connector_id}")).body
                    assert doc["parameters"] == {"endpoint": "api.openai.com", "model": "gpt-4o"}

    async def test_stored_parameters_merge_in_every_release(self, database_url):
        # the write is a partial document update: keys the update does not name stay stored
        async with release(database_url, "2.15.0") as emu:
            payload = body("openai_chat_connector")
            payload["parameters"]["temperature"] = 0
            connector_id = await connector(emu, parameters=payload["parameters"])
            r = await emu.request("PUT", f"{ML}/connectors/{connector_id}",
                                  {"parameters": {"endpoint": "api.openai.com", "model": "gpt-4o"}})
            assert r.status == 200, r.body
            doc = (await emu.request("GET", f"{ML}/connectors/{connector_id}")).body
            assert doc["parameters"] == {"endpoint": "api.openai.com", "model": "gpt-4o", "temperature": "0"}
            assert "last_updated_time" not in doc  # connectors carry times from 2.18

    async def test_response_refresh_by_release(self, database_url):
        for version, refreshed in (("2.19.0", False), ("3.2.0", False), ("3.3.0", True)):
            async with release(database_url, version) as emu:
                connector_id = await connector(emu)
                r = await emu.request("PUT", f"{ML}/connectors/{connector_id}", {"description": "x"})
                assert r.status == 200, r.body
                assert ("forced_refresh" in r.body) is refreshed, version


# ===================================================================== PUT /models/{id}
class TestModelUpdate:
    async def test_success_is_an_update_response_and_the_document_changes(self, emulator):
        model_id = await model(emulator)
        before = (await emulator.request("GET", f"{ML}/models/{model_id}")).body
        await asyncio.sleep(0.005)
        r = await emulator.request("PUT", f"{ML}/models/{model_id}", {
            "name": "renamed", "description": "d", "rate_limiter": {"limit": 4, "unit": "SECONDS"},
            "model_config": {"model_type": "llm"}, "deploy_setting": {"is_auto_deploy_enabled": False},
            "guardrails": {"type": "local_regex"}, "interface": {"input": "{}"}, "unknown": 1})
        assert r.status == 200, r.body
        assert list(r.body) == ["_index", "_id", "_version", "result", "forced_refresh", "_shards",
                                "_seq_no", "_primary_term"]
        assert (r.body["_index"], r.body["_id"], r.body["result"]) == (".plugins-ml-model", model_id, "updated")
        after = (await emulator.request("GET", f"{ML}/models/{model_id}")).body
        assert (after["name"], after["description"]) == ("renamed", "d")
        assert after["rate_limiter"] == {"limit": "4", "unit": "SECONDS"}
        assert after["model_config"] == {"model_type": "llm"}
        assert after["deploy_setting"] == {"is_auto_deploy_enabled": False}
        assert after["guardrails"] == {"type": "local_regex"} and after["interface"] == {"input": "{}"}
        assert after["last_updated_time"] > before["last_updated_time"]
        assert after["model_id"] == model_id  # MLUpdateModelInput writes it into the document
        assert "unknown" not in after

    async def test_errors(self, emulator):
        r = await emulator.request("PUT", f"{ML}/models/{UNKNOWN}", {"name": "x"})
        assert error(r) == (404, "status_exception",
                            f"Failed to find model to update with the provided model id: {UNKNOWN}")
        model_id = await model(emulator)
        r = await emulator.request("PUT", f"{ML}/models/{UNKNOWN}", {"name": "x"})
        assert r.status == 404
        r = await emulator.request("PUT", f"{ML}/models/{model_id}")
        assert error(r) == (400, "parse_exception", "Update model request has empty body")
        r = await emulator.request("PUT", f"{ML}/models/{model_id}",
                                   {"connector_id": "x", "connector": {"description": "y"}})
        assert error(r) == (400, "status_exception",
                            "Model cannot have both stand-alone connector and internal connector. Please check "
                            "your update input body.")
        r = await emulator.request("PUT", f"{ML}/models/{model_id}", {"connector": {"description": "y"}})
        assert error(r) == (400, "status_exception",
                            "Cannot update connector settings for this model. The model was created with a "
                            "connector_id and does not have an inline connector.")
        inline = await model(emulator, name="inline", connector=INLINE_CONNECTOR)
        r = await emulator.request("PUT", f"{ML}/models/{inline}", {"connector_id": "abc"})
        assert error(r) == (400, "status_exception",
                            "This remote does not have a connector_id field, maybe it uses an internal connector.")
        r = await emulator.request("PUT", f"{ML}/models/{inline}",
                                   {"connector": {"parameters": {"endpoint": "api.example.com"}}})
        assert error(r) == (400, "illegal_argument_exception",
                            "Connector URL is not matching the trusted connector endpoint regex")

    async def test_deploying_is_refused_but_deployed_is_updated(self, emulator):
        model_id = await model(emulator)
        async with emulator.context.transaction() as repos:
            current = await repos.models.get(model_id)
            await repos.models.put(attrs.evolve(current, model_state=ModelState.DEPLOYING))
        r = await emulator.request("PUT", f"{ML}/models/{model_id}", {"description": "x"})
        assert error(r) == (409, "status_exception",
                            f"Model is deploying. Please wait for the model to complete deployment. model ID {model_id}")
        async with emulator.context.transaction() as repos:
            await repos.models.put(current)
        await deploy(emulator, model_id)
        r = await emulator.request("PUT", f"{ML}/models/{model_id}", {"description": "x"})
        assert r.status == 200, r.body
        assert (await emulator.request("GET", f"{ML}/models/{model_id}")).body["model_state"] == "DEPLOYED"

    async def test_deployed_copy_is_refreshed_for_is_enabled_and_connector_id(self, emulator):
        first = await connector(emulator)
        second = await connector(emulator, credential={"openAI_key": "sk-second"})
        model_id = await model(emulator, first)
        await deploy(emulator, model_id)
        r = await emulator.request("PUT", f"{ML}/models/{model_id}", {"is_enabled": False})
        assert r.status == 200, r.body
        r = await emulator.request("POST", f"{ML}/models/{model_id}/_predict", body("predict_messages"))
        assert error(r) == (403, "status_exception", "Model is disabled.")
        r = await emulator.request("PUT", f"{ML}/models/{model_id}", {"is_enabled": True, "connector_id": second})
        assert r.status == 200, r.body
        r = await emulator.request("POST", f"{ML}/models/{model_id}/_predict", body("predict_messages"))
        assert r.status == 200, r.body
        assert emulator.providers["openai"].recorder.last.headers["Authorization"] == "Bearer sk-second"
        assert (await emulator.request("GET", f"{ML}/models/{model_id}")).body["connector_id"] == second

    async def test_inline_connector_partial_update_with_a_new_credential(self, emulator):
        model_id = await model(emulator, name="inline", connector=INLINE_CONNECTOR)
        await deploy(emulator, model_id)
        old = (await stored(emulator, ".plugins-ml-model", model_id))["connector"]["credential"]["openAI_key"]
        r = await emulator.request("PUT", f"{ML}/models/{model_id}", {"connector": {
            "parameters": {"max_tokens": 3}, "credential": {"openAI_key": "sk-inline-second"}}})
        assert r.status == 200, r.body
        inline = (await stored(emulator, ".plugins-ml-model", model_id))["connector"]
        assert inline["parameters"] == {"endpoint": "api.openai.com", "model": "gpt-3.5-turbo-instruct",
                                        "max_tokens": "3"}
        assert inline["credential"]["openAI_key"] != old
        assert decrypt(emulator, inline["credential"]["openAI_key"]) == "sk-inline-second"
        doc = (await emulator.request("GET", f"{ML}/models/{model_id}")).body
        assert "credential" not in doc["connector"]
        # the deployed copy was rebuilt: the next predict sends the new key and parameters
        r = await emulator.request("POST", f"{ML}/models/{model_id}/_predict", PROMPT)
        assert r.status == 200, r.body
        sent = emulator.providers["openai"].recorder.last
        assert sent.headers["Authorization"] == "Bearer sk-inline-second"
        assert sent.json()["max_tokens"] == 3

    async def test_inline_update_without_credential_encrypts_the_stored_one_again(self, emulator):
        # 3.6+: Connector.encrypt runs over the credential read with the model (ciphertext)
        model_id = await model(emulator, name="inline", connector=INLINE_CONNECTOR)
        old = (await stored(emulator, ".plugins-ml-model", model_id))["connector"]["credential"]["openAI_key"]
        r = await emulator.request("PUT", f"{ML}/models/{model_id}", {"connector": {"description": "d"}})
        assert r.status == 200, r.body
        new = (await stored(emulator, ".plugins-ml-model", model_id))["connector"]["credential"]["openAI_key"]
        assert decrypt(emulator, new) == old

    async def test_moving_to_another_group_takes_its_next_version(self, emulator):
        model_id = await model(emulator)
        r = await emulator.request("POST", f"{ML}/model_groups/_register", {"name": "target"})
        target = r.body["model_group_id"]
        await model(emulator, model_group_id=target, name="x")  # target's latest_version becomes 1
        r = await emulator.request("PUT", f"{ML}/models/{model_id}", {"model_group_id": target})
        assert r.status == 200, r.body
        doc = (await emulator.request("GET", f"{ML}/models/{model_id}")).body
        assert (doc["model_group_id"], doc["model_version"]) == (target, "2")
        group = (await emulator.request("GET", f"{ML}/model_groups/{target}")).body
        assert group["latest_version"] == 2
        r = await emulator.request("PUT", f"{ML}/models/{model_id}", {"model_group_id": UNKNOWN})
        assert error(r) == (404, "status_exception",
                            "Failed to find the model group with the provided model group id in the update model "
                            f"input, MODEL_GROUP_ID: {UNKNOWN}")

    async def test_remote_text_embedding_model_config_rules(self, emulator):
        model_id = await model(emulator)
        config = {"model_type": "text_embedding", "embedding_dimension": 8, "framework_type": "sentence_transformers",
                  "additional_config": {"space_type": "l2"}}
        for missing, reason in (("embedding_dimension", "Embedding dimension must be provided for remote text "
                                                        "embedding model"),
                                ("framework_type", "Framework type must be provided for remote text embedding model"),
                                ("additional_config", "Space type must be provided in additional_config for remote "
                                                      "text embedding model")):
            partial = {k: v for k, v in config.items() if k != missing}
            r = await emulator.request("PUT", f"{ML}/models/{model_id}", {"model_config": partial})
            assert error(r) == (400, "status_exception", reason)
        r = await emulator.request("PUT", f"{ML}/models/{model_id}", {"model_config": config})
        assert r.status == 200, r.body
        # the stored configuration completes a later partial one
        r = await emulator.request("PUT", f"{ML}/models/{model_id}",
                                   {"model_config": {"model_type": "text_embedding", "embedding_dimension": 16}})
        assert r.status == 200, r.body
        doc = (await emulator.request("GET", f"{ML}/models/{model_id}")).body
        assert doc["model_config"]["embedding_dimension"] == 16
        assert doc["model_config"]["additional_config"] == {"space_type": "l2"}


class TestModelUpdateByRelease:
    @pytest.mark.parametrize("version", ["2.10.0", "2.11.0"])
    async def test_no_route_before_2_12(self, database_url, version):
        async with release(database_url, version) as emu:
            r = await emu.request("PUT", f"{ML}/models/{UNKNOWN}", {"name": "x"})
            assert r.status == 405
            assert r.body["error"].endswith("allowed: [GET, DELETE]")

    async def test_2_12_response_and_unknown_fields_of_later_releases(self, database_url):
        async with release(database_url, "2.12.0") as emu:
            model_id = await model(emu)
            r = await emu.request("PUT", f"{ML}/models/{model_id}",
                                  {"description": "d", "guardrails": {"type": "local_regex"},
                                   "interface": {"input": "{}"}, "deploy_setting": {"is_auto_deploy_enabled": True}})
            assert r.status == 200, r.body
            assert r.body["forced_refresh"] is True and r.body["_shards"]["total"] == 2
            doc = (await emu.request("GET", f"{ML}/models/{model_id}")).body
            assert doc["description"] == "d"
            assert not {"guardrails", "interface", "deploy_setting"} & set(doc)
            # no model_config rules before 3.2
            r = await emu.request("PUT", f"{ML}/models/{model_id}", {"model_config": {"model_type": "text_embedding"}})
            assert r.status == 200, r.body

    async def test_2_19_writes_without_refresh_and_fails_on_a_missing_inline_connector(self, database_url):
        async with release(database_url, "2.19.0") as emu:
            model_id = await model(emu)
            r = await emu.request("PUT", f"{ML}/models/{model_id}", {"description": "d"})
            assert r.status == 200 and "forced_refresh" not in r.body
            r = await emu.request("PUT", f"{ML}/models/{model_id}", {"connector": {"description": "d"}})
            assert error(r) == (500, "null_pointer_exception",
                                'Cannot invoke "org.opensearch.ml.common.connector.Connector.update('
                                'org.opensearch.ml.common.transport.connector.MLCreateConnectorInput, '
                                'java.util.function.BiFunction)" because "connector" is null')

    async def test_inline_update_keeps_the_stored_credential_before_3_6(self, database_url):
        async with release(database_url, "3.5.0") as emu:
            model_id = await model(emu, name="inline", connector=INLINE_CONNECTOR)
            old = (await stored(emu, ".plugins-ml-model", model_id))["connector"]["credential"]
            r = await emu.request("PUT", f"{ML}/models/{model_id}", {"connector": {"description": "d"}})
            assert r.status == 200, r.body
            assert (await stored(emu, ".plugins-ml-model", model_id))["connector"]["credential"] == old


# ===================================================================== with the security plugin
@pytest.fixture
async def secured():
    async with Emulator(security=USERS_FILE, seed=3) as emu:
        r = await emu.as_user("admin").request("PUT", "/_cluster/settings", SETTINGS_ON)
        assert r.status == 200, r.body
        yield emu


class TestWithAccessControl:
    async def test_connector_update_needs_access(self, secured):
        alice, bob, carol = secured.as_user("alice"), secured.as_user("bob"), secured.as_user("carol")
        private = await connector(alice, access_mode="private")
        r = await carol.request("PUT", f"{ML}/connectors/{private}", {"description": "mine now"})
        assert error(r) == (400, "illegal_argument_exception",
                            f"You don't have permission to update the connector, connector id: {private}")
        r = await secured.as_user("admin").request("PUT", f"{ML}/connectors/{private}", {"description": "admin"})
        assert r.status == 200, r.body
        shared = await connector(alice, backend_roles=["IT"])
        r = await bob.request("PUT", f"{ML}/connectors/{shared}", {"description": "bob"})
        assert r.status == 200, r.body

    async def test_access_fields_are_copied_for_anyone_who_may_update(self, secured):
        # no owner-or-admin rule on connector updates (unlike model groups)
        shared = await connector(secured.as_user("alice"), backend_roles=["IT"])
        r = await secured.as_user("bob").request("PUT", f"{ML}/connectors/{shared}", {"access_mode": "public"})
        assert r.status == 200, r.body
        doc = (await secured.as_user("carol").request("GET", f"{ML}/connectors/{shared}")).body
        assert doc["access"] == "public" and doc["owner"]["name"] == "alice"

    async def test_model_update_needs_access_to_its_group(self, secured):
        alice, carol = secured.as_user("alice"), secured.as_user("carol")
        connector_id = await connector(alice, access_mode="public")
        r = await alice.request("POST", f"{ML}/model_groups/_register", {"name": "g", "access_mode": "private"})
        model_id = await model(alice, connector_id, model_group_id=r.body["model_group_id"])
        r = await carol.request("PUT", f"{ML}/models/{model_id}", {"description": "x"})
        assert error(r) == (403, "status_exception",
                            f"User doesn't have privilege to perform this operation on this model, model ID {model_id}")
        r = await alice.request("PUT", f"{ML}/models/{model_id}", {"description": "x"})
        assert r.status == 200, r.body

    async def test_moving_needs_access_to_the_target_group(self, secured):
        alice, carol = secured.as_user("alice"), secured.as_user("carol")
        connector_id = await connector(alice, access_mode="public")
        model_id = await model(alice, connector_id)
        r = await carol.request("POST", f"{ML}/model_groups/_register", {"name": "carols", "access_mode": "private"})
        target = r.body["model_group_id"]
        r = await alice.request("PUT", f"{ML}/models/{model_id}", {"model_group_id": target})
        assert error(r) == (403, "status_exception",
                            "User Doesn't have privilege to re-link this model to the target model group due to no "
                            f"access to the target model group with model group ID {target}")
        group = (await carol.request("GET", f"{ML}/model_groups/{target}")).body
        assert group["latest_version"] == 0

    async def test_new_connector_id_needs_use_access(self, secured):
        alice, carol = secured.as_user("alice"), secured.as_user("carol")
        public = await connector(alice, access_mode="public")
        model_id = await model(alice, public)
        carols = await connector(carol, access_mode="private")
        r = await alice.request("PUT", f"{ML}/models/{model_id}", {"connector_id": carols})
        assert error(r) == (403, "status_exception",
                            f"You don't have permission to update the connector, connector id: {carols}")
        r = await alice.request("PUT", f"{ML}/models/{model_id}", {"connector_id": UNKNOWN})
        assert error(r) == (404, "status_exception",
                            f"Failed to find connector with the provided connector id: {UNKNOWN}")
