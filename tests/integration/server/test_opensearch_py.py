"""The real opensearch-py client against the aiohttp server, over loopback."""
from __future__ import annotations

import asyncio
import threading

import pytest
from opensearchpy import OpenSearch
from opensearchpy.exceptions import NotFoundError, RequestError, TransportError

from tests.seed import body
from tests.conftest import store_options


class ServerThread:
    """Runs the aiohttp app of an emulator on a free loopback port in its own loop."""

    def __init__(self, database: str, **options) -> None:
        self.database = database
        self.options = options
        self.port = 0
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.emulator = None

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._start())
        self._ready.set()
        self._loop.run_forever()

    async def _start(self) -> None:
        from aiohttp import web

        from mlcommons_emu import Emulator
        from mlcommons_emu.api.app import create_app

        self.emulator = await Emulator(database=self.database, **self.options).start()
        self._runner = web.AppRunner(create_app(self.emulator), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        await self._runner.cleanup()
        await self.emulator.stop()

    def __enter__(self) -> "ServerThread":
        self._thread.start()
        assert self._ready.wait(30)
        return self

    def __exit__(self, *exc) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)
        self._loop.close()


@pytest.fixture
def client(database_url):
    with ServerThread(database_url, seed=11, **store_options(database_url)) as server:
        yield OpenSearch(hosts=[{"host": "127.0.0.1", "port": server.port}], use_ssl=False, timeout=30)


def test_info_looks_like_opensearch(client):
    info = client.info()
    assert info["version"]["distribution"] == "opensearch"
    assert info["version"]["number"] == "3.8.0"
    assert client.ping() is True


def test_seed_flow_through_the_ml_namespace(client):
    client.cluster.put_settings(body=body("trusted_endpoints"))
    settings = client.cluster.get_settings(flat_settings=True)
    assert "plugins.ml_commons.trusted_connector_endpoints_regex" in settings["persistent"]

    connector_id = client.plugins.ml.create_connector(body=body("openai_chat_connector"))["connector_id"]
    group_id = client.plugins.ml.register_model_group(body=body("model_group"))["model_group_id"]
    registered = client.plugins.ml.register_model(
        body=body("register_model", model_group_id=group_id, connector_id=connector_id))
    task = client.plugins.ml.get_task(task_id=registered["task_id"])
    assert task["state"] == "COMPLETED"
    model_id = task["model_id"]

    deployed = client.plugins.ml.deploy_model(model_id=model_id)
    assert client.plugins.ml.get_task(task_id=deployed["task_id"])["state"] == "COMPLETED"

    result = client.transport.perform_request(
        "POST", f"/_plugins/_ml/models/{model_id}/_predict", body=body("predict_messages"))
    data = result["inference_results"][0]["output"][0]["dataAsMap"]
    assert data["choices"][0]["message"]["content"]

    model = client.plugins.ml.get_model(model_id=model_id)
    assert model["model_state"] == "DEPLOYED"
    connector = client.plugins.ml.get_connector(connector_id=connector_id)
    assert "credential" not in connector

    undeployed = client.plugins.ml.undeploy_model(model_id=model_id)
    assert list(undeployed.values())[0]["stats"][model_id] == "undeployed"
    assert client.plugins.ml.delete_model(model_id=model_id)["result"] == "deleted"
    assert client.plugins.ml.delete_connector(connector_id=connector_id)["result"] == "deleted"


def test_errors_reach_the_client_with_status_and_type(client):
    with pytest.raises(NotFoundError) as info:
        client.plugins.ml.get_model(model_id="AAAAAAAAAAAAAAAAAAAA")
    assert info.value.status_code == 404
    with pytest.raises(RequestError) as info:
        client.plugins.ml.create_connector(body={"version": 1})
    assert info.value.error == "illegal_argument_exception"
    assert info.value.info["error"]["reason"] == "Connector name is null"
    with pytest.raises(TransportError) as info:
        client.transport.perform_request("PATCH", "/_plugins/_ml/tasks/x")
    assert info.value.status_code == 405


def test_trailing_slash_and_body_on_get(client):
    connector_id = client.plugins.ml.create_connector(body=body("openai_chat_connector"))["connector_id"]
    model_id = client.plugins.ml.register_model(
        body={"name": "m", "function_name": "remote", "connector_id": connector_id})["model_id"]
    result = client.transport.perform_request(
        "POST", f"/_plugins/_ml/models/{model_id}/_predict/", body=body("predict_messages"))
    assert result["inference_results"][0]["status_code"] == 200
    got = client.transport.perform_request("GET", f"/_plugins/_ml/models/{model_id}", body={})
    assert got["name"] == "m"


def test_search_through_the_ml_namespace(client):
    client.cluster.put_settings(body={"persistent": {"plugins.ml_commons.only_run_on_ml_node": False}})
    connector_id = client.plugins.ml.create_connector(body=body("openai_chat_connector"))["connector_id"]
    for name in ("alpha chat", "beta chat"):
        client.plugins.ml.register_model(body={"name": name, "function_name": "remote", "connector_id": connector_id})
    found = client.plugins.ml.search_models(body={"query": {"match": {"name": "beta"}}})
    assert [hit["_source"]["name"] for hit in found["hits"]["hits"]] == ["beta chat"]
    connectors = client.plugins.ml.search_connectors(body={"query": {"match_all": {}}})
    assert connectors["hits"]["total"]["value"] == 1
    assert "credential" not in connectors["hits"]["hits"][0]["_source"]
    groups = client.plugins.ml.search_model_group(body={"query": {"term": {"name.keyword": "alpha chat"}}})
    assert groups["hits"]["total"]["value"] == 1
    tasks = client.plugins.ml.search_tasks(body={"query": {"term": {"task_type": "REGISTER_MODEL"}}, "size": 1})
    assert tasks["hits"]["total"]["value"] == 2 and len(tasks["hits"]["hits"]) == 1
    # GET with a body, as curl users send it
    got = client.transport.perform_request("GET", "/_plugins/_ml/models/_search",
                                           body={"query": {"term": {"name.keyword": "alpha chat"}}})
    assert got["hits"]["hits"][0]["_source"]["name"] == "alpha chat"
    with pytest.raises(RequestError) as info:
        client.plugins.ml.search_models(body={"query": {"no_such_query": {}}})
    assert info.value.error == "parsing_exception"


def test_response_parameters(client):
    import json
    import urllib.request

    port = client.transport.hosts[0]["port"]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/?pretty") as r:
        text = r.read().decode()
    assert text.startswith('{\n  "name"') and text.endswith("}\n")
    assert client.transport.perform_request("GET", "/", params={"filter_path": "version.number"}) == {
        "version": {"number": "3.8.0"}}
    client.plugins.ml.create_connector(body=body("openai_chat_connector"))
    found = client.plugins.ml.search_connectors(body={}, params={"filter_path": "hits.total,-hits.hits"})
    assert found == {"hits": {"total": {"value": 1, "relation": "eq"}}}
    with pytest.raises(NotFoundError) as info:
        client.plugins.ml.get_model(model_id="AAAAAAAAAAAAAAAAAAAA", params={"error_trace": "true"})
    assert info.value.info["error"]["stack_trace"].startswith("OpenSearchStatusException[")
    with pytest.raises(NotFoundError) as info:
        client.plugins.ml.get_model(model_id="AAAAAAAAAAAAAAAAAAAA")
    assert "stack_trace" not in json.dumps(info.value.info)
    # HEAD: the root answers 200 without a body; ML routes have no HEAD handler (405)
    assert client.transport.perform_request("HEAD", "/") is True
    request = urllib.request.Request(f"http://127.0.0.1:{port}/_plugins/_ml/models/x", method="HEAD")
    with pytest.raises(urllib.error.HTTPError) as failed:
        urllib.request.urlopen(request)
    assert failed.value.code == 405 and failed.value.read() == b""
