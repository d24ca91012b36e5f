"""Every failure of the core flow answers OpenSearch's envelope with the release's status, type and reason."""
from __future__ import annotations

import pytest

from mlcommons_emu import Emulator
from tests.seed import body
from tests.conftest import store_options


def assert_error(response, status: int, type_: str, reason: str | None = None, *, startswith: str | None = None):
    assert response.status == status, response.body
    error = response.body["error"]
    assert response.body["status"] == status
    assert error["type"] == type_
    assert error["root_cause"][0]["type"] == type_
    if reason is not None:
        assert error["reason"] == reason
        assert error["root_cause"][0]["reason"] == reason
    if startswith is not None:
        assert error["reason"].startswith(startswith), error["reason"]


async def create_connector(emulator, **changes):
    payload = body("openai_chat_connector")
    payload.update(changes)
    return await emulator.request("POST", "/_plugins/_ml/connectors/_create", payload)


async def registered_model(emulator):
    r = await create_connector(emulator)
    connector_id = r.body["connector_id"]
    r = await emulator.request("POST", "/_plugins/_ml/models/_register",
                               {"name": "m", "function_name": "remote", "connector_id": connector_id})
    if "model_id" in r.body:
        return connector_id, r.body["model_id"]
    # 2.9-2.10 answer before the model exists: its id is read from the task
    task = await emulator.request("GET", f"/_plugins/_ml/tasks/{r.body['task_id']}")
    return connector_id, task.body["model_id"]


class TestParsing:
    async def test_trailing_comma_of_the_seed_is_a_json_parse_error(self, emulator):
        raw = '{\n"persistent": {\n"plugins.ml_commons.only_run_on_ml_node": true,\n}\n}'
        r = await emulator.request("PUT", "/_cluster/settings", raw)
        assert_error(r, 400, "json_parse_exception",
                     startswith="Unexpected character ('}' (code 125)): was expecting double-quote to start field name")

    async def test_invalid_json_on_connector_create(self, emulator):
        r = await emulator.request("POST", "/_plugins/_ml/connectors/_create", '{"name": ')
        assert_error(r, 400, "json_parse_exception")

    async def test_array_body_is_a_parsing_error(self, emulator):
        r = await emulator.request("POST", "/_plugins/_ml/model_groups/_register", "[1]")
        assert_error(r, 400, "parsing_exception",
                     "Failed to parse object: expecting token of type [START_OBJECT] but found [START_ARRAY]")

    async def test_form_content_type_is_refused_like_opensearch(self, emulator):
        r = await emulator.request("POST", "/_plugins/_ml/model_groups/_register", '{"name":"x"}',
                                   headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status == 406
        assert r.body == {"error": "Content-Type header [application/x-www-form-urlencoded] is not supported",
                          "status": 406}


class TestRouter:
    async def test_unknown_path(self, emulator):
        r = await emulator.request("GET", "/_plugins/_ml/nothing_here")
        assert r.status == 400
        assert r.body == {"error": "no handler found for uri [/_plugins/_ml/nothing_here] and method [GET]",
                          "status": 400}

    async def test_wrong_method(self, emulator):
        r = await emulator.request("GET", "/_plugins/_ml/connectors/_create")
        # GET matches the {connector_id} route in OpenSearch too: an unknown connector
        assert r.status == 404
        r = await emulator.request("PATCH", "/_plugins/_ml/tasks/abc")
        assert r.status == 405
        assert r.body == {"error": "Incorrect HTTP method for uri [/_plugins/_ml/tasks/abc] and method [PATCH], "
                                   "allowed: [GET, DELETE]", "status": 405}


class TestConnectors:
    @pytest.mark.parametrize("field,reason", [
        ("name", "Connector name is null"),
        ("version", "Connector version is null"),
        ("protocol", "Connector protocol is null"),
        ("credential", "Connector credential is null or empty list"),
    ])
    async def test_missing_required_field(self, emulator, field, reason):
        payload = body("openai_chat_connector")
        del payload[field]
        r = await emulator.request("POST", "/_plugins/_ml/connectors/_create", payload)
        assert_error(r, 400, "illegal_argument_exception", reason)

    async def test_missing_actions(self, emulator):
        payload = body("openai_chat_connector")
        del payload["actions"]
        r = await emulator.request("POST", "/_plugins/_ml/connectors/_create", payload)
        assert_error(r, 400, "illegal_argument_exception", "No actions configured for this connector")

    async def test_untrusted_url(self, emulator):
        payload = body("openai_chat_connector")
        payload["parameters"]["endpoint"] = "api.example.com"
        r = await emulator.request("POST", "/_plugins/_ml/connectors/_create", payload)
        assert_error(r, 400, "illegal_argument_exception",
                     "Connector URL is not matching the trusted connector endpoint regex")

    async def test_untrusted_url_names_the_url_in_2_9(self, database_url):
        from mlcommons_emu import Emulator

        async with Emulator(database=database_url, **store_options(database_url), opensearch_version="2.9.0") as emu:
            payload = body("openai_chat_connector")
            payload["parameters"]["endpoint"] = "api.example.com"
            r = await emu.request("POST", "/_plugins/_ml/connectors/_create", payload)
            assert_error(r, 400, "illegal_argument_exception",
                         "Connector URL is not matching the trusted connector endpoint regex, "
                         "URL is: https://api.example.com/v1/chat/completions")

    async def test_trusted_list_replaced_by_setting(self, emulator):
        await emulator.request("PUT", "/_cluster/settings", {
            "persistent": {"plugins.ml_commons.trusted_connector_endpoints_regex": ["^https://api\\.example\\.com/.*$"]}})
        r = await create_connector(emulator)
        assert_error(r, 400, "illegal_argument_exception",
                     "Connector URL is not matching the trusted connector endpoint regex")
        payload = body("openai_chat_connector")
        payload["parameters"]["endpoint"] = "api.example.com"
        r = await emulator.request("POST", "/_plugins/_ml/connectors/_create", payload)
        assert r.status == 200

    async def test_access_fields_without_security(self, emulator):
        r = await create_connector(emulator, access_mode="public")
        assert_error(r, 400, "illegal_argument_exception",
                     "You cannot specify connector access control parameters because the Security plugin or "
                     "connector access control is disabled on your cluster.")

    async def test_sigv4_without_keys(self, emulator):
        await emulator.request("PUT", "/_cluster/settings", body("trusted_endpoints"))
        payload = body("sagemaker_connector")
        payload["credential"] = {"session_token": "x"}
        r = await emulator.request("POST", "/_plugins/_ml/connectors/_create", payload)
        assert_error(r, 400, "illegal_argument_exception", "Missing credential")

    async def test_unknown_connector(self, emulator):
        await create_connector(emulator)
        r = await emulator.request("GET", "/_plugins/_ml/connectors/AAAAAAAAAAAAAAAAAAAA")
        assert_error(r, 404, "status_exception",
                     "Failed to find connector with the provided connector id: AAAAAAAAAAAAAAAAAAAA")

    async def test_connector_index_missing(self, emulator):
        r = await emulator.request("GET", "/_plugins/_ml/connectors/AAAAAAAAAAAAAAAAAAAA")
        assert_error(r, 404, "status_exception", "Failed to find connector")

    async def test_connector_in_use_cannot_be_deleted(self, emulator):
        connector_id, model_id = await registered_model(emulator)
        r = await emulator.request("DELETE", f"/_plugins/_ml/connectors/{connector_id}")
        assert_error(r, 409, "status_exception",
                     f"1 models are still using this connector, please delete or update the models first: [{model_id}]")
        r = await emulator.request("GET", f"/_plugins/_ml/connectors/{connector_id}")
        assert r.status == 200

    async def test_delete_unknown_connector_answers_not_found_with_200(self, emulator):
        await create_connector(emulator)
        r = await emulator.request("DELETE", "/_plugins/_ml/connectors/AAAAAAAAAAAAAAAAAAAA")
        # RestToXContentListener: 200 whatever the result
        assert r.status == 200
        assert r.body["result"] == "not_found"
        assert r.body["forced_refresh"] is True
        assert r.body["_index"] == ".plugins-ml-connector"


class TestModels:
    async def test_register_without_name(self, emulator):
        r = await emulator.request("POST", "/_plugins/_ml/models/_register", {"function_name": "remote"})
        assert_error(r, 400, "illegal_argument_exception", "model name is null")

    async def test_register_without_function_name(self, emulator):
        r = await emulator.request("POST", "/_plugins/_ml/models/_register", {"name": "x", "connector_id": "y"})
        assert_error(r, 400, "illegal_argument_exception", "model format is null")

    async def test_register_with_unknown_function_name(self, emulator):
        r = await emulator.request("POST", "/_plugins/_ml/models/_register", {"name": "x", "function_name": "nope"})
        assert_error(r, 400, "illegal_argument_exception", "Wrong function name")

    async def test_predict_path_knows_only_the_release_function_names(self, database_url):
        # TEXT_SIMILARITY arrived in 2.12: in 2.9 the path's name is as wrong as an unknown one
        async with Emulator(database=database_url, **store_options(database_url), opensearch_version="2.9.0") as emu:
            r = await emu.request("POST", "/_plugins/_ml/_predict/text_similarity/x", {"text_docs": ["a"]})
            assert_error(r, 400, "illegal_argument_exception", "Wrong function name")
        async with Emulator(database=database_url, **store_options(database_url)) as emu:
            r = await emu.request("POST", "/_plugins/_ml/_predict/text_similarity/x", {"text_docs": ["a"]})
            assert r.status == 404, r.body

    async def test_register_without_body(self, emulator):
        r = await emulator.request("POST", "/_plugins/_ml/models/_register")
        assert_error(r, 400, "parse_exception", "request body is required")

    async def test_register_remote_without_connector(self, emulator):
        r = await emulator.request("POST", "/_plugins/_ml/models/_register", {"name": "x", "function_name": "remote"})
        assert_error(r, 400, "illegal_argument_exception",
                     "You must provide connector content when creating a remote model without connector id!")

    async def test_register_with_unknown_connector(self, emulator):
        await create_connector(emulator)
        r = await emulator.request("POST", "/_plugins/_ml/models/_register",
                                   {"name": "x", "function_name": "remote", "connector_id": "AAAAAAAAAAAAAAAAAAAA"})
        assert_error(r, 404, "status_exception", "Failed to find connector:AAAAAAAAAAAAAAAAAAAA")

    async def test_inline_connector_with_untrusted_url(self, emulator):
        payload = body("register_internal_connector", model_group_id="x")
        del payload["model_group_id"]
        payload["connector"]["parameters"]["endpoint"] = "evil.example.com"
        r = await emulator.request("POST", "/_plugins/_ml/models/_register", payload)
        assert_error(r, 400, "illegal_argument_exception",
                     "Connector URL is not matching the trusted connector endpoint regex")

    async def test_unknown_model(self, emulator):
        await registered_model(emulator)
        r = await emulator.request("GET", "/_plugins/_ml/models/AAAAAAAAAAAAAAAAAAAA")
        assert_error(r, 404, "status_exception", "Failed to find model with the provided model id: AAAAAAAAAAAAAAAAAAAA")

    async def test_deployed_model_cannot_be_deleted(self, emulator):
        _, model_id = await registered_model(emulator)
        await emulator.request("POST", f"/_plugins/_ml/models/{model_id}/_deploy")
        r = await emulator.request("DELETE", f"/_plugins/_ml/models/{model_id}")
        assert_error(r, 400, "status_exception",
                     "Model cannot be deleted in deploying or deployed state. Try undeploy model first then delete")
        r = await emulator.request("GET", f"/_plugins/_ml/models/{model_id}")
        assert r.body["model_state"] == "DEPLOYED"

    async def test_predict_on_undeployed_model_with_auto_deploy_off(self, emulator):
        _, model_id = await registered_model(emulator)
        await emulator.request("PUT", "/_cluster/settings",
                               {"persistent": {"plugins.ml_commons.model_auto_deploy.enable": False}})
        r = await emulator.request("POST", f"/_plugins/_ml/models/{model_id}/_predict", body("predict_messages"))
        assert_error(r, 400, "illegal_argument_exception", "Model not ready yet. Please deploy the model first.")

    async def test_predict_auto_deploys_by_default(self, emulator):
        _, model_id = await registered_model(emulator)
        r = await emulator.request("POST", f"/_plugins/_ml/models/{model_id}/_predict", body("predict_messages"))
        assert r.status == 200, r.body
        r = await emulator.request("GET", f"/_plugins/_ml/models/{model_id}")
        assert r.body["model_state"] == "DEPLOYED"

    async def test_predict_not_deployed_in_2_9(self, database_url):
        from mlcommons_emu import Emulator

        async with Emulator(database=database_url, **store_options(database_url), opensearch_version="2.9.0") as emu:
            r = await create_connector(emu)
            r = await emu.request("POST", "/_plugins/_ml/models/_register",
                                  {"name": "m", "function_name": "remote", "connector_id": r.body["connector_id"]})
            assert set(r.body) == {"task_id", "status"}
            task = (await emu.request("GET", f"/_plugins/_ml/tasks/{r.body['task_id']}")).body
            model_id = task["model_id"]
            r = await emu.request("POST", f"/_plugins/_ml/models/{model_id}/_predict", body("predict_messages"))
            assert_error(r, 400, "illegal_argument_exception",
                         f"Model not ready yet. Please run this first: POST /_plugins/_ml/models/{model_id}/_deploy")

    async def test_predict_without_parameters_renders_connector_defaults_only(self, emulator):
        _, model_id = await registered_model(emulator)
        r = await emulator.request("POST", f"/_plugins/_ml/models/{model_id}/_predict", {"foo": 1})
        assert_error(r, 400, "illegal_argument_exception",
                     'Invalid payload: { "model": "gpt-3.5-turbo", "messages": ${parameters.messages} }')

    async def test_predict_without_parameters_in_2_9(self, database_url):
        from mlcommons_emu import Emulator

        async with Emulator(database=database_url, **store_options(database_url), opensearch_version="2.9.0") as emu:
            _, model_id = await registered_model(emu)
            r = await emu.request("POST", f"/_plugins/_ml/models/{model_id}/_predict", {"foo": 1})
            assert_error(r, 400, "action_request_validation_exception",
                         "Validation Failed: 1: input data can't be null;")

    async def test_quoted_missing_placeholder(self, emulator):
        r = await create_connector(emulator)
        payload = body("openai_chat_connector")
        payload["actions"][0]["request_body"] = '{"model": "${parameters.model}", "user": "${parameters.user}"}'
        r = await emulator.request("POST", "/_plugins/_ml/connectors/_create", payload)
        r = await emulator.request("POST", "/_plugins/_ml/models/_register",
                                   {"name": "q", "function_name": "remote", "connector_id": r.body["connector_id"]})
        r = await emulator.request("POST", f"/_plugins/_ml/models/{r.body['model_id']}/_predict", {"parameters": {}})
        assert_error(r, 400, "illegal_argument_exception", "Some parameter placeholder not filled in payload: user")

    async def test_unknown_model_on_predict(self, emulator):
        await registered_model(emulator)
        r = await emulator.request("POST", "/_plugins/_ml/models/AAAAAAAAAAAAAAAAAAAA/_predict", body("predict_messages"))
        assert_error(r, 404, "status_exception", "Failed to find model")

    async def test_missing_placeholder_quoted_and_unquoted(self, emulator):
        _, model_id = await registered_model(emulator)
        r = await emulator.request("POST", f"/_plugins/_ml/models/{model_id}/_predict", {"parameters": {}})
        assert_error(r, 400, "illegal_argument_exception",
                     startswith="Invalid payload: { \"model\": \"gpt-3.5-turbo\", \"messages\": ${parameters.messages} }")


class TestTasks:
    async def test_unknown_task(self, emulator):
        await registered_model(emulator)
        r = await emulator.request("GET", "/_plugins/_ml/tasks/AAAAAAAAAAAAAAAAAAAA")
        assert_error(r, 404, "status_exception", "Failed to find task")

    async def test_unknown_task_in_2_9(self, database_url):
        from mlcommons_emu import Emulator

        async with Emulator(database=database_url, **store_options(database_url), opensearch_version="2.9.0") as emu:
            r = await emu.request("GET", "/_plugins/_ml/tasks/AAAAAAAAAAAAAAAAAAAA")
            assert_error(r, 500, "m_l_resource_not_found_exception", "Fail to find task")
            await registered_model(emu)
            r = await emu.request("GET", "/_plugins/_ml/tasks/AAAAAAAAAAAAAAAAAAAA")
            assert_error(r, 404, "status_exception", "Fail to find task")


class TestSettings:
    async def test_unknown_setting(self, emulator):
        r = await emulator.request("PUT", "/_cluster/settings", {"persistent": {"plugins.ml_commons.nope": 1}})
        assert_error(r, 400, "illegal_argument_exception", "persistent setting [plugins.ml_commons.nope], not recognized")

    async def test_wrong_boolean_keeps_the_old_value(self, emulator):
        r = await emulator.request("PUT", "/_cluster/settings", {
            "persistent": {"plugins.ml_commons.only_run_on_ml_node": "maybe",
                           "plugins.ml_commons.allow_custom_deployment_plan": True}})
        assert r.status == 400
        assert r.body["error"]["type"] == "illegal_argument_exception"
        assert r.body["error"]["caused_by"]["reason"] == \
            "Failed to parse value [maybe] as only [true] or [false] are allowed."
        r = await emulator.request("GET", "/_cluster/settings", query={"include_defaults": "true", "flat_settings": "true"})
        assert r.body["persistent"] == {}
        assert r.body["defaults"]["plugins.ml_commons.allow_custom_deployment_plan"] == "false"


async def test_bodies_may_carry_comments_as_opensearch_allows(emulator):
    body = ('{\n  "name": "commented", // a line comment\n  "description": "a // in a string stays",\n'
            '  /* a block\n comment */ "access_mode": null\n}')
    r = await emulator.request("POST", "/_plugins/_ml/model_groups/_register", body)
    assert r.status == 200, r.body
    group = (await emulator.request("GET", f"/_plugins/_ml/model_groups/{r.body['model_group_id']}")).body
    assert group["name"] == "commented"
    assert group["description"] == "a // in a string stays"
