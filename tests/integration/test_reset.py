"""Emulator.reset(): a fresh cluster without a restart."""
from __future__ import annotations

from mlcommons_emu import Emulator
from tests.conftest import store_options

ML = "/_plugins/_ml"
CONNECTOR = {
    "name": "chat", "version": "1", "protocol": "http", "parameters": {"model": "gpt-3.5-turbo"},
    "credential": {"openAI_key": "sk-reset"},
    "actions": [{"action_type": "predict", "method": "POST", "url": "https://api.openai.com/v1/chat/completions",
                 "headers": {"Authorization": "Bearer ${credential.openAI_key}"},
                 "request_body": '{ "model": "${parameters.model}", "messages": ${parameters.messages} }'}],
}
PREDICT = {"parameters": {"messages": [{"role": "user", "content": "hi"}]}}


async def test_reset_forgets_everything_but_node_ids_and_the_master_key(database_url):
    async with Emulator(database=database_url, seed=5, **store_options(database_url)) as emu:
        node_ids = [r.node_id for r in emu.context.cluster.nodes]
        r = await emu.request("PUT", "/_cluster/settings", {"persistent": {
            "plugins.ml_commons.trusted_connector_endpoints_regex": ["^https://example\\.com/.*$"]}})
        assert r.status == 200
        await emu.request("PUT", "/_cluster/settings", {"persistent": {
            "plugins.ml_commons.trusted_connector_endpoints_regex": None}})
        connector_id = (await emu.request("POST", f"{ML}/connectors/_create", CONNECTOR)).body["connector_id"]
        r = await emu.request("POST", f"{ML}/models/_register?deploy=true", {
            "name": "m", "function_name": "remote", "connector_id": connector_id})
        model_id = r.body["model_id"]
        assert (await emu.request("POST", f"{ML}/models/{model_id}/_predict", PREDICT)).status == 200
        await emu.request("PUT", "/_cluster/settings", {"transient": {"plugins.ml_commons.only_run_on_ml_node": False}})
        emu.providers["openai"].script.fail(500, {"error": {"message": "scripted"}})

        await emu.reset()

        assert [r.node_id for r in emu.context.cluster.nodes] == node_ids
        assert not any(r.models for r in emu.context.cluster.nodes)
        assert (await emu.request("GET", f"{ML}/connectors/{connector_id}")).status == 404
        assert (await emu.request("GET", f"{ML}/models/{model_id}")).status == 404
        settings = (await emu.request("GET", "/_cluster/settings")).body
        assert settings == {"persistent": {}, "transient": {}}
        assert len(emu.providers["openai"].recorder) == 0
        # the whole flow works again, with the scripted fault gone and ids as from a fresh start
        connector_id = (await emu.request("POST", f"{ML}/connectors/_create", CONNECTOR)).body["connector_id"]
        r = await emu.request("POST", f"{ML}/models/_register?deploy=true", {
            "name": "m", "function_name": "remote", "connector_id": connector_id})
        assert r.status == 200, r.body
        r = await emu.request("POST", f"{ML}/models/{r.body['model_id']}/_predict", PREDICT)
        assert r.status == 200, r.body
        assert len(emu.providers["openai"].recorder) == 1


async def test_a_reset_after_a_test_that_wrote_nothing_still_forgets_what_it_changed(database_url):
    """A reset with no committed write since the last one skips the wipe, but nothing a test
    changed in memory survives it: settings, scripts, fake attributes, state set through a
    fake's methods, a provider added to the transport, its routes."""
    async with Emulator(database=database_url, **store_options(database_url)) as emu:
        await emu.reset()
        fake = emu.providers["openai"]
        # nothing written to the store; only memory changes
        r = await emu.request("PUT", "/_cluster/settings", {"transient": {"plugins.ml_commons.only_run_on_ml_node": False}})
        assert r.status == 200
        emu.providers["cohere"].script.fail(500, {"message": "scripted"})
        emu.providers["openai"].api_keys = frozenset({"sk-only-this"})
        emu.providers["sagemaker"].register_endpoint("kept-by-mistake", dimension=3)
        extra = _Stub()
        emu.context.transport.add(extra)
        emu.context.transport.routes["api.cohere.com"] = "network"

        await emu.reset()

        assert (await emu.request("GET", "/_cluster/settings")).body == {"persistent": {}, "transient": {}}
        assert len(emu.providers["cohere"].script) == 0
        assert emu.providers["openai"] is not fake
        assert emu.providers["openai"].api_keys != frozenset({"sk-only-this"})
        assert ("kept-by-mistake", None) not in emu.providers["sagemaker"]._endpoints
        assert emu.context.transport.provider_for(_Stub.hosts[0]) is None
        assert emu.context.transport.routes == {}

        # a connector created now is gone after the next reset
        connector_id = (await emu.request("POST", f"{ML}/connectors/_create", CONNECTOR)).body["connector_id"]
        await emu.reset()
        assert (await emu.request("GET", f"{ML}/connectors/{connector_id}")).status == 404


async def test_a_reset_after_a_restart_wipes_what_the_new_store_holds(sqlite_file_url):
    """The store's write count starts over with each start: a reset after a restart still
    wipes when the new store's count has come back to the one the last reset saw."""
    emu = Emulator(database=sqlite_file_url)
    await emu.start()
    for _ in range(2):
        await emu.request("POST", f"{ML}/connectors/_create", CONNECTOR)
        await emu.reset()
    seen = emu._store.writes
    await emu.stop()
    await emu.start()
    try:
        created = []
        while emu._store.writes < seen:  # one transaction, one write, per connector
            created.append((await emu.request("POST", f"{ML}/connectors/_create", CONNECTOR)).body["connector_id"])
        assert created and emu._store.writes == seen
        await emu.reset()
        for connector_id in created:
            assert (await emu.request("GET", f"{ML}/connectors/{connector_id}")).status == 404
    finally:
        await emu.stop()


class _Stub:
    """A provider a test adds to the transport."""

    name = "stub"
    hosts = ("stub.example.com",)

    async def handle(self, request):  # pragma: no cover - never called
        raise AssertionError("not called")
