"""The exported hypothesis strategies produce what they promise, judged by the emulator."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from mlcommons_emu.testing import EmulatorThread
from mlcommons_emu.testing import strategies as mls

ML = "/_plugins/_ml"
FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def server():
    with EmulatorThread(serve_http=False, seed=2) as thread:
        yield thread


def test_valid_connectors_are_accepted_and_answer_predict(server):
    @FAST
    @given(body=mls.connector_bodies(), payload=mls.predict_payloads("chat"), docs=mls.predict_payloads("text_docs"))
    def check(body, payload, docs):
        server.reset()
        r = server.request_sync("POST", f"{ML}/connectors/_create", body)
        assert r.status == 200, r.body
        r = server.request_sync("POST", f"{ML}/models/_register?deploy=true", {
            "name": "m", "function_name": "remote", "connector_id": r.body["connector_id"]})
        assert r.status == 200, r.body
        model_id = r.body["model_id"]
        provider = next(k for k, v in mls._TEMPLATES.items() if v["url"] == body["actions"][0]["url"])
        if mls.PAYLOAD_KIND[provider] == "chat":
            r = server.request_sync("POST", f"{ML}/models/{model_id}/_predict", payload)
        else:
            r = server.request_sync("POST", f"{ML}/_predict/text_embedding/{model_id}", docs)
        assert r.status == 200, r.body
    check()


def test_invalid_connectors_are_refused_with_a_4xx_and_nothing_is_stored(server):
    @FAST
    @given(case=mls.invalid_connector_bodies())
    def check(case):
        reason, body = case
        server.reset()
        r = server.request_sync("POST", f"{ML}/connectors/_create", body)
        assert 400 <= r.status < 500, (reason, r.status, r.body)
        assert r.body["error"]["reason"], reason
        stored = server.call(lambda: _connector_count(server))
        assert stored == 0
    check()


async def _connector_count(server) -> int:
    async with server.emulator.context.transaction() as repos:
        return await repos.connectors.count() if await repos.connectors.exists() else 0


def test_model_groups_with_access_fields_need_access_control(server):
    @FAST
    @given(body=mls.model_group_bodies(access_control=False))
    def without(body):
        server.reset()
        r = server.request_sync("POST", f"{ML}/model_groups/_register", body)
        assert r.status == 200, r.body
    without()


def test_settings_updates_are_acknowledged(server):
    @FAST
    @given(body=mls.settings_updates())
    def check(body):
        r = server.request_sync("PUT", "/_cluster/settings", body)
        assert r.status == 200 and r.body["acknowledged"] is True, r.body
    check()
