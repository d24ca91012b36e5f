"""Provider faults reach the caller as the plugin reports them; client_config timeouts and retries."""
from __future__ import annotations

import pytest

from mlcommons_emu import Emulator
from tests.conformance.test_errors import assert_error
from tests.seed import body

THROTTLED = ("Error from remote service: The request was denied due to remote server throttling. "
             "To change the retry policy and behavior, please update the connector client_config.")


async def chat_model(emu, **client_config) -> str:
    payload = body("openai_chat_connector")
    if client_config:
        payload["client_config"] = client_config
    r = await emu.request("POST", "/_plugins/_ml/connectors/_create", payload)
    assert r.status == 200, r.body
    r = await emu.request("POST", "/_plugins/_ml/models/_register",
                          {"name": "m", "function_name": "remote", "connector_id": r.body["connector_id"]})
    return r.body.get("model_id") or (await emu.request("GET", f"/_plugins/_ml/tasks/{r.body['task_id']}")).body["model_id"]


async def predict(emu, model_id):
    return await emu.request("POST", f"/_plugins/_ml/models/{model_id}/_predict", body("predict_messages"))


async def test_provider_error_becomes_the_plugins_error(emulator):
    model_id = await chat_model(emulator)
    emulator.providers["openai"].script.fail(401, b'{"error":{"message":"Incorrect API key"}}')
    r = await predict(emulator, model_id)
    assert_error(r, 401, "status_exception", 'Error from remote service: {"error":{"message":"Incorrect API key"}}')
    assert (await predict(emulator, model_id)).status == 200  # nothing else was corrupted


async def test_error_status_with_empty_body(emulator):
    model_id = await chat_model(emulator)
    emulator.providers["openai"].script.fail(503)
    r = await predict(emulator, model_id)
    assert_error(r, 503, "status_exception", "Remote service returned error status 503 with empty body")


async def test_success_with_empty_body(emulator):
    model_id = await chat_model(emulator)
    emulator.providers["openai"].script.fail(200)
    r = await predict(emulator, model_id)
    assert_error(r, 502, "status_exception", "Remote service returned empty response body")


async def test_aws_throttling_header_is_recognised(emulator):
    model_id = await chat_model(emulator)
    emulator.providers["openai"].script.fail(
        400, {"message": None}, {"x-amzn-ErrorType": "ThrottlingException:http://internal.amazon.com/"})
    r = await predict(emulator, model_id)
    assert_error(r, 400, "remote_connector_throttling_exception", THROTTLED)


async def test_read_timeout_fails_the_predict(emulator):
    model_id = await chat_model(emulator, read_timeout=1)
    emulator.providers["openai"].script.delay(5)
    r = await predict(emulator, model_id)
    assert_error(r, 500, "status_exception", startswith="Error communicating with remote model: ")


async def test_3_8_retries_429_and_5xx(emulator):
    model_id = await chat_model(emulator, max_retry_times=3, retry_backoff_millis=1)
    fake = emulator.providers["openai"]
    fake.script.fail(429, {"error": {"message": "Rate limit reached"}}).fail(500, {"error": {"message": "boom"}})
    fake.recorder.clear()
    r = await predict(emulator, model_id)
    assert r.status == 200, r.body
    assert len(fake.recorder) == 3


async def test_retries_stop_after_max_retry_times(emulator):
    model_id = await chat_model(emulator, max_retry_times=1, retry_backoff_millis=1)
    fake = emulator.providers["openai"]
    fake.script.fail(429, b'{"error":{"message":"slow down"}}', times=3)
    fake.recorder.clear()
    r = await predict(emulator, model_id)
    assert_error(r, 429, "status_exception", 'Error from remote service: {"error":{"message":"slow down"}}')
    assert len(fake.recorder) == 2


async def test_client_errors_are_not_retried(emulator):
    model_id = await chat_model(emulator, max_retry_times=5, retry_backoff_millis=1)
    fake = emulator.providers["openai"]
    fake.script.fail(400, {"error": {"message": "bad"}}, times=2)
    fake.recorder.clear()
    assert (await predict(emulator, model_id)).status == 400
    assert len(fake.recorder) == 1


async def test_before_3_8_only_throttling_is_retried(database_url):
    from tests.conftest import store_options

    async with Emulator(database=database_url, opensearch_version="3.7.0", **store_options(database_url)) as emu:
        model_id = await chat_model(emu, max_retry_times=3, retry_backoff_millis=1)
        fake = emu.providers["openai"]
        fake.script.fail(429, {"error": {"message": "x"}})
        assert (await predict(emu, model_id)).status == 429
        fake.script.fail(400, b"{}", {"x-amzn-ErrorType": "ThrottlingException"})
        assert (await predict(emu, model_id)).status == 200


async def test_client_config_defaults_are_stored(emulator):
    payload = body("openai_chat_connector")
    payload["client_config"] = {"max_retry_times": 2}
    r = await emulator.request("POST", "/_plugins/_ml/connectors/_create", payload)
    r = await emulator.request("GET", f"/_plugins/_ml/connectors/{r.body['connector_id']}")
    assert r.body["client_config"] == {
        "max_connection": 30, "connection_timeout": 30, "read_timeout": 30, "retry_backoff_millis": 200,
        "retry_timeout_seconds": 30, "max_retry_times": 2, "retry_backoff_policy": "constant",
        "skip_ssl_verification": False}


@pytest.mark.parametrize("version", ["2.9.0", "2.10.0"])
async def test_provider_errors_come_back_as_200_before_2_11(database_url, version):
    from tests.conftest import store_options

    async with Emulator(database=database_url, opensearch_version=version, **store_options(database_url)) as emu:
        model_id = await chat_model(emu)
        emu.providers["openai"].script.fail(401, {"error": {"message": "Incorrect API key"}})
        await emu.request("POST", f"/_plugins/_ml/models/{model_id}/_deploy")
        r = await predict(emu, model_id)
        assert r.status == 200
        assert r.body["inference_results"][0]["output"][0]["dataAsMap"] == {"error": {"message": "Incorrect API key"}}
        assert "status_code" not in r.body["inference_results"][0]
