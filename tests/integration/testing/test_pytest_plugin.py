"""The pytest plugin's fixtures, used exactly as a downstream suite uses them."""
from __future__ import annotations

import pytest
from opensearchpy.exceptions import NotFoundError

ML = "/_plugins/_ml"
CONNECTOR = {
    "name": "embed", "version": "1", "protocol": "http", "parameters": {"model": "text-embedding-ada-002"},
    "credential": {"openAI_key": "sk-plugin"},
    "actions": [{"action_type": "predict", "method": "POST", "url": "https://api.openai.com/v1/embeddings",
                 "headers": {"Authorization": "Bearer ${credential.openAI_key}"},
                 "request_body": '{ "input": ${parameters.input}, "model": "${parameters.model}" }',
                 "pre_process_function": "connector.pre_process.openai.embedding",
                 "post_process_function": "connector.post_process.openai.embedding"}],
}


def embed_model(client) -> str:
    connector_id = client.plugins.ml.create_connector(body=CONNECTOR)["connector_id"]
    registered = client.transport.perform_request("POST", f"{ML}/models/_register", params={"deploy": "true"},
                                                  body={"name": "embed", "function_name": "remote",
                                                        "connector_id": connector_id})
    return registered["model_id"]


@pytest.mark.parametrize("round_", [1, 2])
def test_every_test_starts_from_a_fresh_cluster(mlcommons_client, round_):
    hits = mlcommons_client.transport.perform_request("GET", "/_cluster/settings")
    assert hits == {"persistent": {}, "transient": {}}
    mlcommons_client.cluster.put_settings(body={"persistent": {"plugins.ml_commons.only_run_on_ml_node": False}})
    model_id = embed_model(mlcommons_client)
    with pytest.raises(NotFoundError):
        mlcommons_client.plugins.ml.get_model(model_id="created-by-another-test")
    result = mlcommons_client.transport.perform_request(
        "POST", f"{ML}/_predict/text_embedding/{model_id}", body={"text_docs": ["a", "b"]})
    assert [len(r["output"]) for r in result["inference_results"]] == [2]


def test_inprocess_client_needs_no_socket(mlcommons_inprocess_client, mlcommons_emulator, monkeypatch):
    import socket

    def refuse(*args, **kwargs):
        raise AssertionError("no socket may be opened")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    model_id = embed_model(mlcommons_inprocess_client)
    model = mlcommons_inprocess_client.plugins.ml.get_model(model_id=model_id)
    assert model["model_state"] == "DEPLOYED"
    assert mlcommons_emulator.providers["openai"].recorder.requests == []  # nothing predicted yet


async def test_async_client_and_in_process_requests(mlcommons_async_client, mlcommons_emulator):
    info = await mlcommons_async_client.info()
    assert info["version"]["distribution"] == "opensearch"
    r = await mlcommons_emulator.request("POST", f"{ML}/connectors/_create", CONNECTOR)
    assert r.status == 200
    connector = await mlcommons_async_client.transport.perform_request(
        "GET", f"{ML}/connectors/{r.body['connector_id']}")
    assert connector["name"] == "embed"


@pytest.mark.mlcommons(opensearch_version="2.9.0")
def test_marker_chooses_the_release(mlcommons_client):
    assert mlcommons_client.info()["version"]["number"] == "2.9.0"


@pytest.mark.mlcommons(nodes="manager:cluster_manager,data-1:data")
def test_marker_chooses_the_cluster_shape(mlcommons_client, mlcommons_emulator):
    connector_id = mlcommons_client.plugins.ml.create_connector(body=CONNECTOR)["connector_id"]
    registered = mlcommons_client.transport.perform_request(
        "POST", f"{ML}/models/_register", body={"name": "m", "function_name": "remote", "connector_id": connector_id})
    r = mlcommons_client.transport.perform_request(
        "POST", f"{ML}/models/{registered['model_id']}/_deploy")
    task = mlcommons_client.transport.perform_request("GET", f"{ML}/tasks/{r['task_id']}")
    assert task["state"] == "COMPLETED"
    data_node = [r.node_id for r in mlcommons_emulator.emulator.context.cluster.nodes if r.node.name == "data-1"]
    assert task["worker_node"] == data_node  # the cluster-manager-only node runs no model


@pytest.mark.mlcommons(faults={"openai": [{"status": 429, "body": {"error": {"message": "Rate limit reached"}}}]})
def test_marker_injects_provider_faults(mlcommons_client):
    model_id = embed_model(mlcommons_client)
    from opensearchpy.exceptions import TransportError

    with pytest.raises(TransportError) as failure:
        mlcommons_client.transport.perform_request(
            "POST", f"{ML}/_predict/text_embedding/{model_id}", body={"text_docs": ["a"]})
    assert failure.value.status_code == 429
    assert "Rate limit reached" in str(failure.value.info)


@pytest.mark.mlcommons(security="fixtures/security/users.json", user="carol")
def test_marker_turns_security_on_and_picks_the_user(mlcommons_client, mlcommons_emulator):
    from opensearchpy.exceptions import AuthorizationException

    with pytest.raises(AuthorizationException):
        mlcommons_client.cluster.put_settings(body={"persistent": {"plugins.ml_commons.only_run_on_ml_node": False}})
    anonymous = mlcommons_emulator.request_sync("GET", "/")
    assert anonymous.status == 401
