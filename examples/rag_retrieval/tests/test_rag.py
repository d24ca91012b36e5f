"""The application's tests: only the mlcommons_emu plugin's fixtures, no network."""
from __future__ import annotations

import pytest
from opensearchpy.exceptions import TransportError

import rag

EMBEDDING = {
    "name": "OpenAI embeddings", "version": "1", "protocol": "http",
    "parameters": {"model": "text-embedding-ada-002"}, "credential": {"openAI_key": "sk-example"},
    "actions": [{"action_type": "predict", "method": "POST", "url": "https://api.openai.com/v1/embeddings",
                 "headers": {"Authorization": "Bearer ${credential.openAI_key}"},
                 "request_body": '{ "input": ${parameters.input}, "model": "${parameters.model}" }',
                 "pre_process_function": "connector.pre_process.openai.embedding",
                 "post_process_function": "connector.post_process.openai.embedding"}],
}
CHAT = {
    "name": "OpenAI chat", "version": "1", "protocol": "http",
    "parameters": {"model": "gpt-3.5-turbo"}, "credential": {"openAI_key": "sk-example"},
    "actions": [{"action_type": "predict", "method": "POST", "url": "https://api.openai.com/v1/chat/completions",
                 "headers": {"Authorization": "Bearer ${credential.openAI_key}"},
                 "request_body": '{ "model": "${parameters.model}", "messages": ${parameters.messages} }'}],
}
PASSAGES = ["OpenSearch is a search engine.", "Bananas are yellow.", "ML Commons runs models in OpenSearch."]


def test_retrieval_returns_k_passages_of_the_corpus(mlcommons_client):
    model_id = rag.create_remote_model(mlcommons_client, EMBEDDING, "embedder")
    top = rag.retrieve(mlcommons_client, model_id, "What runs models?", PASSAGES, k=2)
    assert len(top) == 2 and set(top) <= set(PASSAGES)


def test_embeddings_are_deterministic_unit_vectors(mlcommons_inprocess_client):
    model_id = rag.create_remote_model(mlcommons_inprocess_client, EMBEDDING, "embedder")
    first = rag.embed(mlcommons_inprocess_client, model_id, ["same text"])
    again = rag.embed(mlcommons_inprocess_client, model_id, ["same text"])
    assert first == again
    assert abs(sum(x * x for x in first[0]) - 1.0) < 1e-3


def test_answer_sends_the_context_to_the_chat_model(mlcommons_client, mlcommons_emulator):
    chat_id = rag.create_remote_model(mlcommons_client, CHAT, "chat")
    reply = rag.answer(mlcommons_client, chat_id, "What is OpenSearch?", PASSAGES[:1])
    assert isinstance(reply, str) and reply
    sent = mlcommons_emulator.providers["openai"].recorder.last.json()
    assert sent["messages"][0]["content"].endswith(PASSAGES[0])


@pytest.mark.mlcommons(faults={"openai": [{"status": 401, "body": {"error": {"message": "Incorrect API key"}}}]})
def test_a_bad_key_reaches_the_caller_as_the_plugins_error(mlcommons_client):
    chat_id = rag.create_remote_model(mlcommons_client, CHAT, "chat")
    with pytest.raises(TransportError) as failure:
        rag.answer(mlcommons_client, chat_id, "hi", [])
    assert failure.value.status_code == 401
    assert "Incorrect API key" in str(failure.value.info)


@pytest.mark.mlcommons(opensearch_version="2.9.0")
def test_on_2_9_the_model_needs_its_own_deploy(mlcommons_client):
    connector_id = mlcommons_client.plugins.ml.create_connector(body=CHAT)["connector_id"]
    registered = mlcommons_client.transport.perform_request(
        "POST", "/_plugins/_ml/models/_register",
        body={"name": "chat", "function_name": "remote", "connector_id": connector_id})
    assert "model_id" not in registered  # 2.9 answers with the task only
